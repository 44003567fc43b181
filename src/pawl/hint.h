/*
 * hint.h - what to do next, for the failures a user can fix: the programs
 * add these sentences to the library's error messages, keyed on its error
 * codes and messages. The library itself stays silent.
 */
#ifndef PAWL_HINT_H
#define PAWL_HINT_H

#include <stddef.h>

/*
 * A sentence saying how to fix a failure with code and message (from
 * pawl_error_last()), written into buf (n bytes); NULL when there is
 * nothing useful to say:
 *  - a TLS certificate that does not verify: a private CA needs --ca-file
 *    FILE (or ca_file in pawl.conf);
 *  - expired metadata: check this machine's clock, or ask the publisher to
 *    run pawl-repo timestamp (or to renew the role with pawl-repo expire).
 */
const char *hint_for(int code, const char *message, char *buf, size_t n);

#endif

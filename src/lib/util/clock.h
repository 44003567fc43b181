/*
 * clock.h - the one place libpawl reads the time, and RFC 3339 parsing.
 *
 * Expiry is always judged against pawl_now(). Unit tests may fix the
 * reference time through tests/unit/testing.h; that seam is a hidden
 * symbol, not part of the public API, and neither program calls it, so no
 * command line, config file or environment variable can move the clock.
 */
#ifndef PAWL_CLOCK_H
#define PAWL_CLOCK_H

#include <stdint.h>

#include "util/guard.h"

/* Seconds since the epoch, UTC. */
int64_t pawl_now(void);

/* Parse exactly "YYYY-MM-DDTHH:MM:SSZ" (the TUF expiry format). */
PAWL_MUST_USE int pawl_time_parse(const char *s, int64_t *ret);
/* Format as "YYYY-MM-DDTHH:MM:SSZ"; out must hold 21 bytes. */
void pawl_time_format(int64_t t, char out[21]);

/* Test seam: fix the clock (t >= 0) or return to the real clock (t < 0). */
void pawl__test_set_now(int64_t t);

#endif

/*
 * base.h - the base tier: the one internal header the programs (pawl,
 * pawl-repo, pawl-repod, src/common) may include besides include/pawl/.
 *
 * include/pawl/ is the door into libpawl's behaviour: trust, release
 * choice, installation, the audit log. Below that, the programs need the
 * same plumbing the library is built from, and must not grow second
 * copies of it (issue 17: "one write_all/pread_full/fsync family"):
 *
 *   util/guard.h  GUARD/ENSURE and the _cleanup_ attributes (macros), the
 *                 checked allocators (xmalloc, xstrdup, ...)
 *   util/buf.h    the growable, bounded byte buffer
 *   util/io.h     the one write_all / pread_full / fsync family
 *   store/store.h directories by descriptor and the hostile-directory
 *                 primitives (dir_open_owned_at, file_open_owned_at, ...:
 *                 openat with O_NOFOLLOW, then fstat on the descriptor),
 *                 atomic file replacement
 *
 * Nothing here makes a trust decision or knows TUF: a program that needs
 * one goes through include/pawl/ (or, for the publishers, the publisher
 * tier, src/lib/publisher/publisher.h, which includes this header).
 * scripts/include-graph enforces the rule: a program that includes any
 * other internal header fails `make check`. Not installed; no ABI.
 */
#ifndef PAWL_BASE_H
#define PAWL_BASE_H

#include "pawl/common.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/guard.h"
#include "util/io.h"

#endif

/*
 * io.h - the one family of read, write and fsync loops that libpawl (and
 * the programs) run on file descriptors. There is no other copy: a new
 * caller uses these.
 *
 * Each of them
 *  - retries EINTR,
 *  - carries on after a short transfer until every byte has moved,
 *  - never spins: a transfer that makes no progress (write returning 0,
 *    pread hitting the end of the file) is an error,
 *  - moves at most IO_CHUNK bytes per system call, far below SSIZE_MAX,
 *  - reports every failure as PAWL_E_IO, with a message that names the
 *    file: "cannot write NAME: <strerror>", "cannot read NAME: ...",
 *    "cannot fsync NAME: ...". name may be NULL when the caller puts its
 *    own context in front with pawl_error_prefix(): "cannot write: ...".
 *
 * On failure some bytes may have been written or read: the caller owns
 * the clean-up (removing a temporary file, for example).
 */
#ifndef PAWL_IO_H
#define PAWL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/guard.h"

/* The most bytes one read(2)/write(2) call is asked to move. Larger calls
 * gain nothing; Linux caps a transfer at about 2 GiB anyway. */
#define IO_CHUNK ((size_t)1 << 20)

/* write(2) until all n bytes are written at the file position (the end,
 * for O_APPEND). */
PAWL_MUST_USE int io_write_all(int fd, const void *p, size_t n, const char *name);

/* The same through pwritev2() with flags (RWF_*) on every write. When the
 * first write fails because the kernel or the file system lacks the flags
 * (EOPNOTSUPP, EINVAL) and unsupported is given, nothing has been written,
 * *unsupported is set and 0 returned: the caller writes another way.
 * Without unsupported, that is an error like any other. */
PAWL_MUST_USE int io_write_all_rwf(int fd, const void *p, size_t n, const char *name, int rwf,
				   bool *unsupported);

/* pread(2) exactly n bytes at offset off. A file that ends before
 * off + n is an error ("unexpected end of file"), as is an offset past
 * what off_t holds. */
PAWL_MUST_USE int io_pread_full(int fd, void *p, size_t n, uint64_t off, const char *name);

/* fsync(2). */
PAWL_MUST_USE int io_fsync(int fd, const char *name);

/* fsync(2) a directory after a rename or create in it, so that the name
 * is durable: "cannot fsync the directory of NAME: ...". */
PAWL_MUST_USE int io_fsync_dir(int dirfd, const char *name);

#endif

/*
 * io.c - read, write and fsync loops on file descriptors (see io.h).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/io.h"

static int io_fail(int errnum, const char *verb, const char *name)
{
	if (name)
		return pawl_error_set_errno(PAWL_E_IO, errnum, "cannot %s %s", verb, name);
	return pawl_error_set_errno(PAWL_E_IO, errnum, "cannot %s", verb);
}

static int io_stuck(const char *verb, const char *name, const char *why)
{
	if (name)
		return pawl_error_set(PAWL_E_IO, "cannot %s %s: %s", verb, name, why);
	return pawl_error_set(PAWL_E_IO, "cannot %s: %s", verb, why);
}

int io_write_all_rwf(int fd, const void *p, size_t n, const char *name, int rwf,
		     bool *unsupported)
{
	const char *c = p;

	if (unsupported)
		*unsupported = false;
	while (n > 0) {
		size_t k = n < IO_CHUNK ? n : IO_CHUNK;
		struct iovec iov = { .iov_base = (void *)(uintptr_t)c, .iov_len = k };
		/* Offset -1: the file position (the end, for O_APPEND). */
		ssize_t w = rwf ? pwritev2(fd, &iov, 1, -1, rwf) : write(fd, c, k);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (rwf && unsupported && c == p && (errno == EOPNOTSUPP || errno == EINVAL)) {
				/* An older kernel, or a file system without the
				 * flags: nothing was written. */
				*unsupported = true;
				return 0;
			}
			return io_fail(errno, "write", name);
		}
		if (w == 0) /* not expected from a regular file; do not spin */
			return io_stuck("write", name, "no progress");
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int io_write_all(int fd, const void *p, size_t n, const char *name)
{
	return io_write_all_rwf(fd, p, n, name, 0, NULL);
}

int io_pread_full(int fd, void *p, size_t n, uint64_t off, const char *name)
{
	char *c = p;
	uint64_t end;

	if (__builtin_add_overflow(off, (uint64_t)n, &end) || end > (uint64_t)INT64_MAX)
		return io_fail(EOVERFLOW, "read", name);
	while (n > 0) {
		size_t k = n < IO_CHUNK ? n : IO_CHUNK;
		ssize_t r = pread(fd, c, k, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return io_fail(errno, "read", name);
		}
		if (r == 0)
			return io_stuck("read", name, "unexpected end of file");
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int io_fsync(int fd, const char *name)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return io_fail(errno, "fsync", name);
	}
	return 0;
}

int io_fsync_dir(int dirfd, const char *name)
{
	while (fsync(dirfd) < 0) {
		if (errno != EINTR) {
			if (name)
				return pawl_error_set_errno(PAWL_E_IO, errno,
							    "cannot fsync the directory of %s",
							    name);
			return io_fail(errno, "fsync the directory", NULL);
		}
	}
	return 0;
}

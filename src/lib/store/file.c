/*
 * file.c - bounded whole-file reads, durable atomic writes and removal.
 * See store.h for the guarantees.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "store/store.h"

/* How many O_EXCL names to try before giving up on a temporary file. */
#define TMP_TRIES 64

int store_open_error(int errnum, const char *what, const char *name)
{
	if (errnum == ENOENT)
		return pawl_error_set_errno(PAWL_E_NOT_FOUND, errnum, "%s %s", what, name);
	if (errnum == ELOOP)
		return pawl_error_set_errno(PAWL_E_IO, errnum,
					    "%s %s: refusing to follow a symbolic link", what, name);
	if (errnum == ENOMEM)
		return pawl_error_set_errno(PAWL_E_NOMEM, errnum, "%s %s", what, name);
	return pawl_error_set_errno(PAWL_E_IO, errnum, "%s %s", what, name);
}

int store_clear_nonblock(int fd, const char *name)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot set flags on %s", name);
	return 0;
}

int store_open_parent(int dirfd, const char *name, int *ret_pfd, const char **ret_base)
{
	_cleanup_free_ char *parent = NULL;
	const char *slash, *base, *dir = ".";
	int fd;

	ENSURE(name && *name, PAWL_E_INVALID, "empty file name");
	slash = strrchr(name, '/');
	base = slash ? slash + 1 : name;
	ENSURE(*base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0, PAWL_E_INVALID,
	       "%s does not name a file", name);
	if (slash == name) {
		dir = "/";
	} else if (slash) {
		parent = xstrndup(name, (size_t)(slash - name));
		if (!parent)
			return PAWL_E_NOMEM;
		dir = parent;
	}
	do
		fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return store_open_error(errno, "cannot open the directory of", name);
	*ret_pfd = fd;
	*ret_base = base;
	return 0;
}

/* ---------------- reading ---------------- */

static int read_fd(int fd, const char *name, size_t max, size_t hint, char **ret, size_t *ret_len)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(max);

	GUARD(buf_reserve(&b, hint < max ? hint : max));
	/* buf_reserve does not terminate; an empty file must still be "". */
	b.data[0] = '\0';
	for (;;) {
		size_t room;
		ssize_t r;

		if (b.len == max) {
			/* Full: one more byte means the file is over the limit. */
			char probe;

			r = read(fd, &probe, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", name);
			if (r > 0)
				return pawl_error_set(PAWL_E_LIMIT, "%s is larger than %zu bytes",
						      name, max);
			break;
		}
		if (b.len + 1 == b.cap) {
			size_t want = max - b.len;

			GUARD(buf_reserve(&b, want < IO_CHUNK ? want : IO_CHUNK));
		}
		/* buf keeps cap <= max + 1, so room never passes max. */
		room = b.cap - 1 - b.len;
		if (room > IO_CHUNK)
			room = IO_CHUNK;
		r = read(fd, b.data + b.len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", name);
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		b.data[b.len] = '\0';
	}
	return buf_steal(&b, ret, ret_len);
}

int file_read_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t hint;

	ENSURE(name && *name, PAWL_E_INVALID, "empty file name");
	ENSURE(ret, PAWL_E_INVALID, "no output for %s", name);
	/* pawl_buf needs room for max bytes and a NUL. */
	if (max > SIZE_MAX - 1)
		max = SIZE_MAX - 1;
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer. It is cleared once fstat says this is a regular file. */
	do
		fd = openat(dirfd, name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return store_open_error(errno, "cannot open", name);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", name);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", name);
	GUARD(store_clear_nonblock(fd, name));
	/* st_size only sizes the first allocation; the loop reads to EOF. */
	hint = st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX ? (size_t)st.st_size : 0;
	return read_fd(fd, name, max, hint, ret, ret_len);
}

int file_read_fd(int fd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	ENSURE(fd >= 0 && name && ret, PAWL_E_INVALID, "file_read_fd: missing argument");
	if (max > SIZE_MAX - 1)
		max = SIZE_MAX - 1;
	return read_fd(fd, name, max, 0, ret, ret_len);
}

int file_create_at(int dirfd, const char *name, const void *p, size_t n, mode_t mode)
{
	_cleanup_close_ int fd = -1;
	int r;

	ENSURE(name && *name, PAWL_E_INVALID, "empty file name");
	do
		fd = openat(dirfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return store_open_error(errno, "cannot create", name);
	r = io_write_all(fd, p, n, name);
	if (r == 0 && close(TAKE_FD(fd)) < 0)
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot write %s", name);
	if (r < 0)
		(void)unlinkat(dirfd, name, 0);
	return r;
}

int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return file_read_at(AT_FDCWD, path, max, ret, ret_len);
}

/* ---------------- atomic replace ---------------- */

/* Create a new temporary file in pfd with O_EXCL; its name goes to tmp. */
static int create_temp(int pfd, const char *name, mode_t mode, char *tmp, size_t tmpsz,
		       int *ret_fd)
{
	static unsigned counter;

	for (int i = 0; i < TMP_TRIES; i++) {
		struct timespec ts = { 0, 0 };
		unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
		int fd, n;

		/* Uniqueness comes from O_EXCL; pid, counter and clock only
		 * make a clash (and a retry) unlikely. */
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(tmp, tmpsz, STORE_TMP_PREFIX "%lx-%x-%lx", (unsigned long)getpid(),
			     c, (unsigned long)ts.tv_nsec);
		if (n < 0 || (size_t)n >= tmpsz)
			return pawl_error_set(PAWL_E_GENERIC, "temporary name too long");
		fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
			    mode);
		if (fd >= 0) {
			*ret_fd = fd;
			return 0;
		}
		if (errno != EEXIST && errno != EINTR)
			return store_open_error(errno, "cannot create a temporary file for", name);
	}
	return pawl_error_set(PAWL_E_IO, "cannot create a temporary file for %s: too many clashes",
			      name);
}

/* Put tmp in place as base only if base does not exist: RENAME_NOREPLACE,
 * or where the file system lacks it a hard link (which cannot replace
 * either) and the temporary name removed. -1 with errno EEXIST when base
 * exists. */
static int place_noreplace(int pfd, const char *tmp, const char *base)
{
	if (renameat2(pfd, tmp, pfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(pfd, tmp, pfd, base, 0) < 0)
		return -1;
	(void)unlinkat(pfd, tmp, 0);
	return 0;
}

/* existed: NULL to replace whatever is at base; else only create it, and
 * set *existed (removing the temporary file) when something is there. */
static int write_atomic_in(int pfd, const char *base, const char *name, const void *p, size_t n,
			   mode_t mode, bool *existed)
{
	char tmp[64];
	int fd = -1, r;

	GUARD(create_temp(pfd, name, mode, tmp, sizeof(tmp), &fd));
	GUARD_GOTO(r, io_write_all(fd, p, n, name), fail);
	GUARD_GOTO(r, io_fsync(fd, name), fail);
	/* After fsync a close error cannot lose data on a local file system;
	 * it is still reported (NFS reports write-back errors here). */
	if (close(TAKE_FD(fd)) < 0 && errno != EINTR) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot close %s", name);
		goto fail;
	}
	if (existed) {
		*existed = false;
		if (place_noreplace(pfd, tmp, base) < 0) {
			if (errno == EEXIST) {
				*existed = true;
				(void)unlinkat(pfd, tmp, 0);
				return 0;
			}
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s", name);
			goto fail;
		}
	} else if (renameat(pfd, tmp, pfd, base) < 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot replace %s", name);
		goto fail;
	}
	/* The new content is in place; only its durability is at stake. */
	return io_fsync_dir(pfd, name);

fail:
	closep(&fd);
	(void)unlinkat(pfd, tmp, 0);
	return r;
}

int file_write_atomic_at(int dirfd, const char *name, const void *p, size_t n, mode_t mode)
{
	_cleanup_close_ int pfd = -1;
	const char *base;

	ENSURE(p || n == 0, PAWL_E_INVALID, "no data for %s", name ? name : "(null)");
	GUARD(store_open_parent(dirfd, name, &pfd, &base));
	return write_atomic_in(pfd, base, name, p, n, mode, NULL);
}

int file_create_atomic_at(int dirfd, const char *name, const void *p, size_t n, mode_t mode,
			  bool *ret_existed)
{
	_cleanup_close_ int pfd = -1;
	const char *base;
	bool existed;

	ENSURE(p || n == 0, PAWL_E_INVALID, "no data for %s", name ? name : "(null)");
	ENSURE(ret_existed, PAWL_E_INVALID, "file_create_atomic_at: no output");
	GUARD(store_open_parent(dirfd, name, &pfd, &base));
	GUARD(write_atomic_in(pfd, base, name, p, n, mode, &existed));
	*ret_existed = existed;
	return 0;
}

int file_write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	return file_write_atomic_at(AT_FDCWD, path, p, n, mode);
}

int file_remove_at(int dirfd, const char *name)
{
	ENSURE(name && *name, PAWL_E_INVALID, "empty file name");
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s", name);
	return 0;
}

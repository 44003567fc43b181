/*
 * staged.c - the streaming staging file behind downloads. See store.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "store/store.h"

#define PART_SUFFIX ".part"

struct pawl_staged {
	int dirfd;        /* the directory the .part lives in (ours) */
	int fd;           /* the .part, O_RDWR|O_APPEND */
	char *label;      /* the caller's name + ".part", for messages */
	const char *part; /* the .part's own name in dirfd; points into label */
	uint64_t size;
	uint64_t wb_next; /* the next window to hand to writeback */
	bool failed;      /* a write failed: contents unknown */
	bool dontcache;   /* RWF_DONTCACHE works here (until shown otherwise) */
};

static void staged_free(pawl_staged *s)
{
	if (!s)
		return;
	closep(&s->fd);
	closep(&s->dirfd);
	free(s->label);
	free(s);
}

static int create_part(pawl_staged *s)
{
	int fd;

	do
		fd = openat(s->dirfd, s->part,
			    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
			    0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return store_open_error(errno, "cannot create", s->label);
	s->fd = fd;
	s->size = 0;
	return 0;
}

/* Open an existing .part to append to it; 1 if there is none. */
static int open_part(pawl_staged *s)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO planted here must not block the open. */
	do
		fd = openat(s->dirfd, s->part,
			    O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0)
		return store_open_error(errno, "cannot open", s->label);
	s->fd = fd;
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", s->label);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", s->label);
	/* A second link means the inode is also reachable elsewhere: do not
	 * append to a file someone linked here. */
	ENSURE(st.st_nlink == 1, PAWL_E_IO, "%s has %ju links; refusing to resume it", s->label,
	       (uintmax_t)st.st_nlink);
	GUARD(store_clear_nonblock(fd, s->label));
	s->size = (uint64_t)st.st_size;
	return 0;
}

int staged_open(pawl_staged **ret, int dirfd, const char *name, bool resume,
		uint64_t *ret_existing_len)
{
	pawl_staged *s;
	const char *base;
	size_t nlen, sz;
	int r;

	ENSURE(ret, PAWL_E_INVALID, "no output for staging");
	ENSURE(name && *name, PAWL_E_INVALID, "empty staging name");
	s = xcalloc(1, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	s->fd = -1;
	s->dirfd = -1;
	s->dontcache = true;

	GUARD_GOTO(r, store_open_parent(dirfd, name, &s->dirfd, &base), fail);
	nlen = strlen(name);
	GUARD_GOTO(r, size_add(&sz, nlen, sizeof(PART_SUFFIX)), fail);
	s->label = xmalloc(sz);
	if (!s->label) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	memcpy(s->label, name, nlen);
	memcpy(s->label + nlen, PART_SUFFIX, sizeof(PART_SUFFIX));
	s->part = s->label + (base - name);

	if (resume) {
		GUARD_GOTO(r, open_part(s), fail);
		if (r == 1)
			GUARD_GOTO(r, create_part(s), fail);
	} else {
		/* Unlink whatever is there (a link is removed, not followed)
		 * and start from a new inode: never truncate in place. */
		if (unlinkat(s->dirfd, s->part, 0) < 0 && errno != ENOENT) {
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove old %s", s->label);
			goto fail;
		}
		GUARD_GOTO(r, create_part(s), fail);
	}
	if (ret_existing_len)
		*ret_existing_len = s->size;
	*ret = s;
	return 0;

fail:
	staged_free(s);
	return r;
}

/*
 * A large download must neither fill memory with dirty pages nor push
 * other files out of the page cache, and the final fsync in
 * staged_commit should find little left to write.
 *
 * Where the kernel offers uncached buffered writes (RWF_DONTCACHE, Linux
 * 6.14, on ext4, xfs, btrfs and others), each write starts its own
 * writeback and its pages are dropped once on disk. Elsewhere pawl does
 * the same by hand: it starts writeback of each completed 8 MiB window
 * while the next one arrives, waits for the window two steps back and
 * drops it from the page cache, so the download cycles through the same
 * few dozen MiB. All of these are hints: their failure changes nothing,
 * as commit still fsyncs the whole file.
 */
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
#define WB_WINDOW ((uint64_t)8 << 20)

static void staged_writeback(pawl_staged *s)
{
	while (s->size >= s->wb_next + WB_WINDOW) {
		off_t off = (off_t)s->wb_next;

		(void)sync_file_range(s->fd, off, (off_t)WB_WINDOW, SYNC_FILE_RANGE_WRITE);
		if (s->wb_next >= 2 * WB_WINDOW) {
			off_t old = off - (off_t)(2 * WB_WINDOW);

			(void)sync_file_range(s->fd, old, (off_t)WB_WINDOW,
					      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
						      SYNC_FILE_RANGE_WAIT_AFTER);
			(void)posix_fadvise(s->fd, old, (off_t)WB_WINDOW, POSIX_FADV_DONTNEED);
		}
		s->wb_next += WB_WINDOW;
	}
}

int staged_reserve(pawl_staged *s, uint64_t total)
{
	ENSURE(s, PAWL_E_INVALID, "staged_reserve: nothing staged");
	ENSURE(total <= INT64_MAX, PAWL_E_LIMIT, "%s: %llu bytes is too large", s->label,
	       (unsigned long long)total);
	if (total <= s->size)
		return 0;
	while (fallocate(s->fd, FALLOC_FL_KEEP_SIZE, (off_t)s->size, (off_t)(total - s->size)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "no room for %s: it needs %llu more bytes",
						    s->label, (unsigned long long)(total - s->size));
		/* EOPNOTSUPP and the like: nothing reserved, nothing lost. */
		break;
	}
	return 0;
}

int staged_write(pawl_staged *s, const void *p, size_t n)
{
	uint64_t sz;
	int r = 0;

	ENSURE(s && (p || n == 0), PAWL_E_INVALID, "staged_write: bad arguments");
	ENSURE(!s->failed, PAWL_E_IO, "%s: an earlier write failed", s->label);
	if (__builtin_add_overflow(s->size, (uint64_t)n, &sz))
		return pawl_error_set(PAWL_E_LIMIT, "%s: size overflow", s->label);
	if (s->dontcache) {
		bool unsupported;

		r = io_write_all_rwf(s->fd, p, n, s->label, RWF_DONTCACHE, &unsupported);
		if (unsupported)
			s->dontcache = false; /* for good: the windows below instead */
	}
	if (!s->dontcache)
		r = io_write_all(s->fd, p, n, s->label);
	if (r < 0) {
		s->failed = true;
		return r;
	}
	s->size = sz;
	if (!s->dontcache)
		staged_writeback(s);
	return 0;
}

static bool same_dir(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false; /* fsync both: harmless */
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int staged_commit(pawl_staged *s, int dst_dirfd, const char *dst_name)
{
	_cleanup_close_ int dfd = -1;
	const char *dbase;
	int r;

	ENSURE(s, PAWL_E_INVALID, "staged_commit: nothing staged");
	ENSURE_GOTO(r, !s->failed, PAWL_E_IO, fail, "%s: an earlier write failed", s->label);
	GUARD_GOTO(r, io_fsync(s->fd, s->label), fail);
	GUARD_GOTO(r, store_open_parent(dst_dirfd, dst_name, &dfd, &dbase), fail);
	if (renameat(s->dirfd, s->part, dfd, dbase) < 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot rename %s to %s", s->label,
					 dst_name);
		goto fail;
	}
	/* In place; what is left is making the rename durable. */
	r = io_fsync_dir(dfd, dst_name);
	if (r == 0 && !same_dir(s->dirfd, dfd))
		r = io_fsync(s->dirfd, s->label);
	staged_free(s);
	return r;

fail:
	staged_discard(s);
	return r;
}

void staged_discard(pawl_staged *s)
{
	if (!s)
		return;
	(void)unlinkat(s->dirfd, s->part, 0);
	staged_free(s);
}

void staged_release(pawl_staged *s)
{
	if (!s)
		return;
	/* A failed write leaves contents we cannot vouch for; then the
	 * .part goes, as with discard. */
	if (s->failed || fdatasync(s->fd) != 0)
		(void)unlinkat(s->dirfd, s->part, 0);
	staged_free(s);
}

int staged_fd(const pawl_staged *s)
{
	return s ? s->fd : -1;
}

uint64_t staged_size(const pawl_staged *s)
{
	return s ? s->size : 0;
}

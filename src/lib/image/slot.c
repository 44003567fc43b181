/*
 * slot.c - writing verified pieces into the inactive slot.
 *
 * The slot is opened here, by the privileged side, from its configured
 * path, never handed in as a descriptor:
 *  - O_NOFOLLOW: a symbolic link in the last component is refused (a link
 *    could be re-pointed at the booted slot between checks);
 *  - O_NONBLOCK: a FIFO planted at the path fails at once instead of
 *    blocking, and is then refused as not a regular file;
 *  - O_EXCL: for a block device, Linux refuses the open with EBUSY while
 *    the device is mounted or held (e.g. by the device mapper), a second
 *    guard behind the booted-slot check (ignored for regular files);
 *  - no O_CREAT and no O_TRUNC: a file-backed slot must already exist and
 *    keeps its size; a block device is never truncated.
 * Then, before any byte is written: the type (regular file or block
 * device), the size (st_size or BLKGETSIZE64) against the image's length,
 * and the booted slot. A regular file slot has its blocks reserved with
 * fallocate(), so that a full file system shows now and not halfway.
 * Pieces are written with pwrite() at their offsets, and their writeback
 * started at once (sync_file_range, not waited for); finish() checks that
 * every piece was written and fsyncs. A small write (a single 4 KiB piece
 * copied from a seed) is not started alone, which would cost the device
 * one request per page: small writes start together, every KICK_BATCH
 * bytes, so that the kernel can merge neighbours.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"

#define KICK_MIN ((size_t)64 << 10)     /* a write this large starts at once */
#define KICK_BATCH ((uint64_t)4 << 20)  /* small writes start after this much */

struct image_slot {
	int fd;
	char *path;
	const image_index *idx;
	uint64_t size;
	uint8_t *written; /* one bit per piece */
	uint32_t nwritten;
	uint32_t next;    /* the first piece not written: the prefix ends there */
	void (*follow)(void *ctx, uint64_t prefix);
	void *follow_ctx;
	bool finished;
	uint64_t unkicked; /* bytes of small writes whose writeback is not started */
};

/* Is the slot (st) the booted slot, or the device that holds it? */
static int check_booted(const struct stat *st, const char *path, const char *booted)
{
	struct stat bt;

	if (!booted)
		return 0;
	if (stat(booted, &bt) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno,
					    "cannot check the booted slot %s before writing slot %s",
					    booted, path);
	if (S_ISBLK(st->st_mode)) {
		ENSURE(!(S_ISBLK(bt.st_mode) && bt.st_rdev == st->st_rdev), PAWL_E_POLICY,
		       "slot %s is the booted slot %s: refusing to write it", path, booted);
		ENSURE(S_ISBLK(bt.st_mode) || bt.st_dev != st->st_rdev, PAWL_E_POLICY,
		       "slot %s holds the booted slot %s: refusing to write it", path, booted);
	} else {
		ENSURE(!(bt.st_dev == st->st_dev && bt.st_ino == st->st_ino), PAWL_E_POLICY,
		       "slot %s is the booted slot %s: refusing to write it", path, booted);
	}
	return 0;
}

int image_slot_open(image_slot **ret, const char *path, const image_index *idx,
		    const char *booted)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t size;
	image_slot *s;
	int flags;

	ENSURE(path && *path && idx, PAWL_E_INVALID, "image slot: no path or no index");
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_EXCL);
	if (fd < 0) {
		int e = errno;

		if (e == ELOOP)
			return pawl_error_set(PAWL_E_POLICY,
					      "slot %s is a symbolic link; configure the device or "
					      "file it points to",
					      path);
		if (e == ENOENT)
			return pawl_error_set(PAWL_E_NOT_FOUND,
					      "slot %s does not exist (a file-backed slot must be "
					      "created first, at least as large as the image)",
					      path);
		if (e == EBUSY)
			return pawl_error_set(PAWL_E_POLICY,
					      "slot %s is in use (mounted or held by another "
					      "program): refusing to write it",
					      path);
		if (e == ENXIO || e == EISDIR)
			return pawl_error_set(PAWL_E_POLICY,
					      "slot %s is not a regular file or a block device", path);
		return pawl_error_set_errno(PAWL_E_IO, e, "cannot open slot %s for writing", path);
	}
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat slot %s", path);
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) != 0)
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "cannot read the size of slot %s", path);
	} else {
		return pawl_error_set(PAWL_E_POLICY,
				      "slot %s is not a regular file or a block device", path);
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot set up slot %s", path);
	GUARD(check_booted(&st, path, booted));
	ENSURE(size >= idx->length, PAWL_E_LIMIT,
	       "slot %s has %" PRIu64 " bytes; the image needs %" PRIu64, path, size, idx->length);
	if (S_ISREG(st.st_mode) && fallocate(fd, 0, 0, (off_t)idx->length) != 0 &&
	    errno != EOPNOTSUPP && errno != ENOSYS) {
		int e = errno;

		if (e == ENOSPC)
			return pawl_error_set(PAWL_E_IO,
					      "no space left on the file system of slot %s for the "
					      "image's %" PRIu64 " bytes",
					      path, idx->length);
		return pawl_error_set_errno(PAWL_E_IO, e, "cannot reserve %" PRIu64 " bytes in slot %s",
					    idx->length, path);
	}

	s = xcalloc(1, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	s->path = xstrdup(path);
	s->written = xcalloc(idx->npieces / 8 + 1, 1);
	if (!s->path || !s->written) {
		free(s->path);
		free(s->written);
		free(s);
		return PAWL_E_NOMEM;
	}
	s->idx = idx;
	s->size = size;
	s->fd = TAKE_FD(fd);
	*ret = s;
	return 0;
}

/* Start the writeback of n bytes just written at offset, without waiting
 * for it: the device works while the next bytes are decoded, and
 * finish()'s fsync (which still decides) has little left to do. */
static void kick(image_slot *s, uint64_t offset, size_t n)
{
	if (n >= KICK_MIN) {
		(void)sync_file_range(s->fd, (off_t)offset, (off_t)n, SYNC_FILE_RANGE_WRITE);
		return;
	}
	s->unkicked += n;
	if (s->unkicked >= KICK_BATCH) {
		(void)sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* the whole slot */
		s->unkicked = 0;
	}
}

int image_slot_write_piece(void *slot, uint32_t piece, uint64_t offset, const uint8_t *p,
			   size_t n)
{
	image_slot *s = slot;
	const image_piece *pc;
	uint64_t at = offset;

	ENSURE(s && s->fd >= 0 && !s->finished, PAWL_E_INVALID, "image slot: not open for writing");
	ENSURE(piece < s->idx->npieces, PAWL_E_INVALID, "slot %s: no piece %" PRIu32, s->path,
	       piece);
	pc = &s->idx->pieces[piece];
	ENSURE(offset == pc->offset && n == pc->ulen, PAWL_E_INVALID,
	       "slot %s: piece %" PRIu32 " is %" PRIu32 " bytes at %" PRIu64 ", not %zu at %" PRIu64,
	       s->path, piece, pc->ulen, pc->offset, n, offset);
	while (n > 0) {
		ssize_t k = pwrite(s->fd, p, n, (off_t)at);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == ENOSPC)
			return pawl_error_set(PAWL_E_IO,
					      "no space left on the device of slot %s writing piece "
					      "%" PRIu32 " at offset %" PRIu64,
					      s->path, piece, at);
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "cannot write slot %s (piece %" PRIu32
						    " at offset %" PRIu64 ")",
						    s->path, piece, at);
		if (k == 0)
			return pawl_error_set(PAWL_E_IO,
					      "slot %s took no bytes at offset %" PRIu64 " (piece "
					      "%" PRIu32 ")",
					      s->path, at, piece);
		p += k;
		n -= (size_t)k;
		at += (uint64_t)k;
	}
	kick(s, offset, pc->ulen);
	if (!(s->written[piece / 8] & (1u << (piece % 8)))) {
		s->written[piece / 8] |= (uint8_t)(1u << (piece % 8));
		s->nwritten++;
	}
	if (piece == s->next) {
		while (s->next < s->idx->npieces &&
		       (s->written[s->next / 8] & (1u << (s->next % 8))))
			s->next++;
		if (s->follow)
			s->follow(s->follow_ctx, s->next < s->idx->npieces ?
						       s->idx->pieces[s->next].offset :
						       s->idx->length);
	}
	return 0;
}

int image_slot_write_at(image_slot *s, uint64_t offset, const uint8_t *p, size_t n)
{
	uint64_t at = offset;

	ENSURE(s && s->fd >= 0 && !s->finished, PAWL_E_INVALID, "image slot: not open for writing");
	ENSURE(offset <= s->idx->length && n <= s->idx->length - offset, PAWL_E_INVALID,
	       "slot %s: %zu bytes at %" PRIu64 " lie outside the image's %" PRIu64, s->path, n,
	       offset, s->idx->length);
	while (n > 0) {
		ssize_t k = pwrite(s->fd, p, n, (off_t)at);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == ENOSPC)
			return pawl_error_set(PAWL_E_IO,
					      "no space left on the device of slot %s writing at "
					      "offset %" PRIu64, s->path, at);
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "cannot write slot %s at offset %" PRIu64,
						    s->path, at);
		if (k == 0)
			return pawl_error_set(PAWL_E_IO, "slot %s took no bytes at offset %" PRIu64,
					      s->path, at);
		p += k;
		n -= (size_t)k;
		at += (uint64_t)k;
	}
	kick(s, offset, (size_t)(at - offset));
	return 0;
}

void image_slot_final_upto(image_slot *s, uint64_t prefix)
{
	if (s->follow)
		s->follow(s->follow_ctx, prefix);
}

void image_slot_follow(image_slot *s, void (*fn)(void *ctx, uint64_t prefix), void *ctx)
{
	s->follow = fn;
	s->follow_ctx = ctx;
}

image_sink image_slot_sink(image_slot *s)
{
	image_sink k = { image_slot_write_piece, s };

	return k;
}

int image_slot_finish(image_slot *s)
{
	ENSURE(s && s->fd >= 0 && !s->finished, PAWL_E_INVALID, "image slot: not open for writing");
	if (s->nwritten != s->idx->npieces) {
		uint32_t first = 0;

		while (first < s->idx->npieces && (s->written[first / 8] & (1u << (first % 8))))
			first++;
		return pawl_error_set(PAWL_E_LENGTH,
				      "slot %s: %" PRIu32 " of %" PRIu32 " pieces written (piece "
				      "%" PRIu32 " at offset %" PRIu64 " is missing)",
				      s->path, s->nwritten, s->idx->npieces, first,
				      s->idx->pieces[first].offset);
	}
	if (fsync(s->fd) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot flush slot %s to its device",
					    s->path);
	s->finished = true;
	return 0;
}

uint64_t image_slot_size(const image_slot *s)
{
	return s->size;
}

void image_slot_free(image_slot *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s->written);
	free(s);
}

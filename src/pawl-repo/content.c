/*
 * content.c - the workspace's content store (REPO/targets/XX/<sha256>)
 * and the target copies that `publish` writes.
 *
 * The hot path of a large batch: each source file is opened once
 * (O_NOFOLLOW, must be a regular file), read once, hashed while it is
 * read, and written to a temporary file in the store that is renamed to
 * its hash. A file the store already holds is not written again. There is
 * no fsync per file: the caller makes the whole batch durable with one
 * syncfs() (content_sync) before it writes the metadata that names the
 * files, so a crash can lose new content files only together with the
 * metadata that would have referred to them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"

#define CHUNK (1u << 20)

static unsigned long tmp_counter;

static uint8_t *chunk_buf(void)
{
	static uint8_t *buf;

	if (!buf)
		buf = xmalloc(CHUNK);
	return buf;
}

static int open_tmp(int dirfd, char *name, size_t n)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd;

		snprintf(name, n, STORE_TMP_PREFIX "%ld-%lu", (long)getpid(), tmp_counter++);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create a temporary file");
	}
	return pawl_error_set(PAWL_E_IO, "cannot create a temporary file");
}

static int mkdir_at(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0755) == 0 || errno == EEXIST)
		return 0;
	return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create directory %s", name);
}

/* Read fd to its end through SHA-256 (and SHA-512 when dg->has512),
 * copying the bytes to out when out >= 0 (tmp names it in messages). */
static int hash_stream(int fd, int out, const char *tmp, const char *shown, uint8_t *buf,
		       uint64_t *total, digests *dg)
{
	hash_ctx *h256 = NULL, *h512 = NULL;
	uint8_t d[HASH_MAX_LEN];
	int r;

	GUARD_GOTO(r, hash_new(&h256, HASH_SHA256), out);
	if (dg->has512)
		GUARD_GOTO(r, hash_new(&h512, HASH_SHA512), out);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", shown);
			goto out;
		}
		if (n == 0)
			break;
		*total += (uint64_t)n;
		GUARD_GOTO(r, hash_update(h256, buf, (size_t)n), out);
		if (h512)
			GUARD_GOTO(r, hash_update(h512, buf, (size_t)n), out);
		if (out >= 0)
			GUARD_GOTO(r, io_write_all(out, buf, (size_t)n, tmp), out);
	}
	GUARD_GOTO(r, hash_final(h256, d), out);
	hex_encode(dg->sha256, d, 32);
	if (h512) {
		GUARD_GOTO(r, hash_final(h512, d), out);
		hex_encode(dg->sha512, d, 64);
	}
out:
	hash_free(h256);
	hash_free(h512);
	return r;
}

int content_hash_at(ws *w, int dfd, const char *name, const char *shown, uint64_t *ret_len,
		    digests *ret)
{
	_cleanup_close_ int fd = -1;
	uint8_t *buf = chunk_buf();
	uint64_t total = 0;
	struct stat st;
	digests dg = { .has512 = w->hash_sha512 };

	if (!buf)
		return PAWL_E_NOMEM;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return pawl_error_set(PAWL_E_IO, "%s is a symbolic link; give the file it "
					      "points to", shown);
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "cannot open %s", shown);
	}
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", shown);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", shown);
	GUARD(hash_stream(fd, -1, NULL, shown, buf, &total, &dg));
	*ret_len = total;
	*ret = dg;
	return 0;
}

int content_add_at(ws *w, int dfd, const char *name, const char *shown, uint64_t *ret_len,
		   digests *ret)
{
	_cleanup_close_ int fd = -1, out = -1;
	uint8_t *buf = chunk_buf();
	char tmp[64], dest[96];
	uint64_t total = 0;
	struct stat st;
	digests dg = { .has512 = w->hash_sha512 };
	int r = 0;

	if (!buf)
		return PAWL_E_NOMEM;
	ENSURE(w->store_fd >= 0, PAWL_E_NOT_FOUND,
	       "workspace %s has no content store (targets/); add targets where the full "
	       "workspace is", w->path);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return pawl_error_set(PAWL_E_IO, "%s is a symbolic link; give the file it "
					      "points to", shown);
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "cannot open %s", shown);
	}
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", shown);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", shown);
	out = open_tmp(w->store_fd, tmp, sizeof(tmp));
	if (out < 0) {
		r = out;
		out = -1;
		goto out;
	}
	GUARD_GOTO(r, hash_stream(fd, out, tmp, shown, buf, &total, &dg), out);
	if (close(out) != 0) {
		out = -1;
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot write the copy of %s", shown);
		goto out;
	}
	out = -1;
	snprintf(dest, sizeof(dest), "%.2s", dg.sha256);
	GUARD_GOTO(r, mkdir_at(w->store_fd, dest), out);
	snprintf(dest, sizeof(dest), "%.2s/%s", dg.sha256, dg.sha256);
	if (fstatat(w->store_fd, dest, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == total) {
		unlinkat(w->store_fd, tmp, 0); /* already stored */
	} else if (renameat(w->store_fd, tmp, w->store_fd, dest) != 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot store %s", shown);
		goto out;
	}
	tmp[0] = '\0';
	*ret_len = total;
	*ret = dg;
out:
	if (r < 0 && tmp[0] && out < 0)
		unlinkat(w->store_fd, tmp, 0);
	else if (r < 0 && out >= 0)
		unlinkat(w->store_fd, tmp, 0);
	return r;
}

/* --link: hash the file in place and hard-link it into the store (no new
 * inode, no copy). The link is checked to be the very file that was
 * hashed, unchanged; a later change of the source would change the stored
 * content too, which publish detects (it re-hashes every file it copies)
 * and refuses. Other file systems, or a refused link, fall back to a
 * copy. */
int content_link_at(ws *w, int dfd, const char *name, const char *shown, uint64_t *ret_len,
		    digests *ret)
{
	_cleanup_close_ int fd = -1;
	uint8_t *buf = chunk_buf();
	char dest[96];
	uint64_t total = 0;
	struct stat st, st2, lst;
	digests dg = { .has512 = w->hash_sha512 };
	int r = 0;

	if (!buf)
		return PAWL_E_NOMEM;
	ENSURE(w->store_fd >= 0, PAWL_E_NOT_FOUND,
	       "workspace %s has no content store (targets/); add targets where the full "
	       "workspace is", w->path);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "cannot open %s", shown);
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", shown);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", shown);
	GUARD_GOTO(r, hash_stream(fd, -1, NULL, shown, buf, &total, &dg), out);
	snprintf(dest, sizeof(dest), "%.2s", dg.sha256);
	GUARD_GOTO(r, mkdir_at(w->store_fd, dest), out);
	snprintf(dest, sizeof(dest), "%.2s/%s", dg.sha256, dg.sha256);
	if (fstatat(w->store_fd, dest, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(lst.st_mode) &&
	    (uint64_t)lst.st_size == total)
		goto done; /* already stored */
	if (linkat(dfd, name, w->store_fd, dest, 0) != 0)
		return content_add_at(w, dfd, name, shown, ret_len, ret);
	/* The name may have been replaced since it was opened. */
	if (fstatat(w->store_fd, dest, &lst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(lst.st_mode) ||
	    lst.st_ino != st.st_ino || lst.st_dev != st.st_dev || fstat(fd, &st2) != 0 ||
	    st2.st_size != st.st_size || st2.st_mtim.tv_sec != st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec || (uint64_t)st2.st_size != total) {
		unlinkat(w->store_fd, dest, 0);
		r = pawl_error_set(PAWL_E_IO, "%s changed while it was added; add it again", shown);
		goto out;
	}
done:
	*ret_len = total;
	*ret = dg;
out:
	return r;
}

int content_tmp_create(ws *w, char *tmp, size_t n, int *ret_fd)
{
	int fd;

	ENSURE(w->store_fd >= 0, PAWL_E_NOT_FOUND,
	       "workspace %s has no content store (targets/); add targets where the full "
	       "workspace is", w->path);
	fd = open_tmp(w->store_fd, tmp, n);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

int content_tmp_commit(ws *w, const char *tmp, uint64_t len, const digests *dg)
{
	char dest[96];
	struct stat st;

	snprintf(dest, sizeof(dest), "%.2s", dg->sha256);
	GUARD(mkdir_at(w->store_fd, dest));
	snprintf(dest, sizeof(dest), "%.2s/%s", dg->sha256, dg->sha256);
	if (fstatat(w->store_fd, dest, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == len) {
		unlinkat(w->store_fd, tmp, 0); /* already stored */
		return 0;
	}
	if (renameat(w->store_fd, tmp, w->store_fd, dest) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot store %s in %s/targets", dest,
					    w->path);
	return 0;
}

void content_tmp_discard(ws *w, const char *tmp)
{
	if (w->store_fd >= 0 && tmp[0])
		unlinkat(w->store_fd, tmp, 0);
}

int content_sync(ws *w)
{
	if (w->store_fd < 0)
		return 0;
	if (syncfs(w->store_fd) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot sync %s/targets", w->path);
	return 0;
}

/* ---------------- publishing copies ---------------- */

/* Copy the stored content for a target to outdir/name (relative, may have
 * directories that exist already), checking its length and hashes as it
 * is copied; temp file + rename, no fsync (the caller syncs once). */
int content_publish(ws *w, int outfd, const char *name, const md_target *t, const char *path)
{
	_cleanup_close_ int in = -1, out = -1;
	md_hashset hs;
	const pj_value *h256 = pj_get(t->hashes, "sha256");
	uint8_t *buf = chunk_buf();
	char src[96], tmp[64], dir[TARGET_PATH_MAX + 1];
	const char *slash = strrchr(name, '/');
	int dfd = outfd, r;
	_cleanup_close_ int subfd = -1;
	uint64_t total = 0;
	const char *base = slash ? slash + 1 : name;

	if (!buf)
		return PAWL_E_NOMEM;
	ENSURE(pj_str(h256) && h256->len == 64, PAWL_E_FORMAT,
	       "target %s has no sha256 hash; pawl-repo stores content by sha256", path);
	ENSURE(w->store_fd >= 0, PAWL_E_NOT_FOUND,
	       "workspace %s has no content store (targets/); publish from the full workspace",
	       w->path);
	snprintf(src, sizeof(src), "%.2s/%s", h256->u.s, h256->u.s);
	in = openat(w->store_fd, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "target %s: content %s is missing from the workspace's "
					    "store (%s/targets); add the file again",
					    path, src, w->path);
	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - name), name);
		r = dir_open_at(outfd, dir, &subfd);
		if (r < 0)
			return r;
		dfd = subfd;
	}
	GUARD(md_hashset_init(&hs, t->hashes, path));
	out = open_tmp(dfd, tmp, sizeof(tmp));
	if (out < 0) {
		md_hashset_free(&hs);
		return out;
	}
	for (;;) {
		ssize_t n = read(in, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/targets/%s",
						 w->path, src);
			goto fail;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > t->length)
			break;
		r = md_hashset_update(&hs, buf, (size_t)n);
		if (r == 0)
			r = io_write_all(out, buf, (size_t)n, tmp);
		if (r < 0)
			goto fail;
	}
	if (total != t->length) {
		r = pawl_error_set(PAWL_E_LENGTH, "target %s: stored content %s/targets/%s has the "
				   "wrong length; the store is damaged: add the file again",
				   path, w->path, src);
		goto fail;
	}
	r = md_hashset_final(&hs, path);
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return pawl_error_prefix(r, "stored content %s/targets/%s is damaged: ", w->path,
					 src);
	}
	if (close(TAKE_FD(out)) != 0) {
		unlinkat(dfd, tmp, 0);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot write %s", name);
	}
	if (renameat(dfd, tmp, dfd, base) != 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot write %s", name);
		unlinkat(dfd, tmp, 0);
		return r;
	}
	return 0;
fail:
	md_hashset_free(&hs);
	unlinkat(dfd, tmp, 0);
	return r;
}

int content_check(int dirfd, const char *name, const md_target *t, const char *what)
{
	_cleanup_close_ int fd = -1;
	md_hashset hs;
	uint8_t *buf = chunk_buf();
	uint64_t total = 0;
	struct stat st;
	int r;

	if (!buf)
		return PAWL_E_NOMEM;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "%s", what);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return pawl_error_set(PAWL_E_IO, "%s is not a regular file", what);
	if ((uint64_t)st.st_size != t->length)
		return pawl_error_set(PAWL_E_LENGTH, "%s is %" PRIu64 " bytes, signed as %" PRIu64,
				      what, (uint64_t)st.st_size, t->length);
	GUARD(md_hashset_init(&hs, t->hashes, what));
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			md_hashset_free(&hs);
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", what);
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		r = md_hashset_update(&hs, buf, (size_t)n);
		if (r < 0) {
			md_hashset_free(&hs);
			return r;
		}
	}
	if (total != t->length) {
		md_hashset_free(&hs);
		return pawl_error_set(PAWL_E_LENGTH, "%s changed while it was read", what);
	}
	return md_hashset_final(&hs, what);
}

/*
 * keyfile.c - reading and creating key files the way signify does.
 *
 *  - A key file is opened with O_NOFOLLOW and must be a regular file, so a
 *    planted symlink cannot redirect a read or a write.
 *  - Reads are capped (KEYFILE_MAX): a key file is a few KiB at most.
 *  - New files are created with O_EXCL (never overwrite a key) and the
 *    given mode, written fully, fsync'd, and the directory is fsync'd so
 *    that the new name is durable too.
 *  - A private key's PEM text is parsed here too, so that both key.c (a
 *    public key from a private key file) and signer.c depend on this file
 *    and not on each other. OpenSSL never prompts for a passphrase.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "crypto/crypto_impl.h"
#include "util/io.h"

int keyfile_read(pawl_buf *out, const char *path)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r = 0;

	ENSURE(path, PAWL_E_INVALID, "no key file path");
	ENSURE(out->len == 0 && out->max >= KEYFILE_MAX, PAWL_E_INVALID,
	       "key file buffer must be empty and hold %u bytes", KEYFILE_MAX);
	/* O_NONBLOCK: opening a FIFO planted at the path must not hang; it
	 * changes nothing for a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return pawl_error_set_errno(PAWL_E_NOT_FOUND, errno, "key file %s", path);
		if (errno == ELOOP)
			return pawl_error_set(PAWL_E_IO, "key file %s is a symbolic link; refused",
					      path);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open key file %s", path);
	}
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat key file %s", path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "key file %s is not a regular file", path);
	ENSURE(st.st_size >= 0 && (uint64_t)st.st_size <= KEYFILE_MAX, PAWL_E_LIMIT,
	       "key file %s is larger than %u bytes", path, KEYFILE_MAX);

	/* Room for the largest file up front: the buffer never moves, so no
	 * stale copy of a private key is left behind in freed memory. */
	GUARD(buf_reserve(out, KEYFILE_MAX));
	for (;;) {
		char extra;
		size_t room = KEYFILE_MAX - out->len;
		ssize_t n;

		/* With the buffer full, one more byte means the file grew
		 * past the cap after fstat(). */
		n = room ? read(fd, out->data + out->len, room) : read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read key file %s", path);
			break;
		}
		if (n == 0)
			break;
		if (room == 0) {
			r = pawl_error_set(PAWL_E_LIMIT, "key file %s is larger than %u bytes",
					   path, KEYFILE_MAX);
			break;
		}
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
	if (r < 0)
		buf_wipe(out);
	return r;
}

struct pass_ctx {
	const char *pass;
	bool asked;
};

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pass_ctx *p = u;
	size_t n;

	(void)rwflag;
	p->asked = true;
	if (!p->pass)
		return -1;
	n = strlen(p->pass);
	if (size < 0 || n > (size_t)size)
		return -1;
	memcpy(buf, p->pass, n);
	return (int)n;
}

int keyfile_parse_private(EVP_PKEY **ret, const char *data, size_t len,
			  const char *passphrase, const char *what)
{
	_cleanup_bio_ BIO *bio = NULL;
	struct pass_ctx pc = { passphrase, false };
	EVP_PKEY *pkey;

	ENSURE(len <= INT_MAX, PAWL_E_LIMIT, "%.256s: key file too large", what);
	ENSURE(!passphrase || strlen(passphrase) <= KEYFILE_PASSPHRASE_MAX, PAWL_E_INVALID,
	       "passphrase longer than %d bytes", KEYFILE_PASSPHRASE_MAX);
	bio = BIO_new_mem_buf(data, (int)len);
	if (!bio)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a BIO");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pc);
	if (!pkey) {
		if (pc.asked && !passphrase) {
			ERR_clear_error();
			return pawl_error_set(PAWL_E_KEY, "%.256s: key is encrypted; give a passphrase",
					      what);
		}
		if (pc.asked) {
			ERR_clear_error();
			return pawl_error_set(PAWL_E_KEY,
					      "%.256s: wrong passphrase or damaged key file", what);
		}
		return pawl_error_ossl(PAWL_E_KEY, "%.256s: not a PEM private key", what);
	}
	*ret = pkey;
	return 0;
}

static int fsync_parent(const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	_cleanup_close_ int dfd = -1;

	if (!copy)
		return PAWL_E_NOMEM;
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open the directory of %s",
					    path);
	return io_fsync_dir(dfd, path);
}

int keyfile_create(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd, r;

	ENSURE(path, PAWL_E_INVALID, "no key file path");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return pawl_error_set(PAWL_E_IO, "%s exists; refusing to overwrite it",
					      path);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s", path);
	}
	r = io_write_all(fd, data, len, path);
	if (r == 0)
		r = io_fsync(fd, path);
	if (close(fd) != 0 && r == 0)
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot write %s", path);
	if (r < 0) {
		/* Do not leave a truncated key behind. The name is ours: we
		 * created it with O_EXCL a moment ago. */
		unlink(path);
		return r;
	}
	return fsync_parent(path);
}

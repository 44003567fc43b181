/*
 * keys.c - private and public keys named on the command line, and the one
 * passphrase a run may use.
 *
 * Passphrases never come from the command line (where ps and shell history
 * see them): only from a file (--passphrase-file, its first line) or the
 * PAWL_PASSPHRASE environment variable, whose value is copied, wiped in
 * place and unset so that no child process inherits it. The copy lives in
 * one buffer that pass_wipe() clears with OPENSSL_cleanse; main() calls it
 * on every exit path.
 *
 * A KEY argument that starts with "pkcs11:" is a token URI and goes to the
 * PKCS#11 hook; anything else is a file read by the crypto module
 * (O_NOFOLLOW, regular file, size-capped).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "repo.h"

#define PASS_MAX 1023

static char pass_buf[PASS_MAX + 1];
static bool pass_set;

const char *pass_get(void)
{
	return pass_set ? pass_buf : NULL;
}

void pass_wipe(void)
{
	OPENSSL_cleanse(pass_buf, sizeof(pass_buf));
	pass_set = false;
}

static int pass_take(const char *p, size_t n, const char *what)
{
	/* One line: stop at the first newline (a trailing "\n" or "\r\n" is
	 * how editors and `echo` leave it). */
	const char *nl = memchr(p, '\n', n);

	if (nl)
		n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	ENSURE(n > 0, PAWL_E_INVALID, "%s: the passphrase is empty", what);
	ENSURE(n <= PASS_MAX, PAWL_E_LIMIT, "%s: the passphrase is longer than %d bytes", what,
	       PASS_MAX);
	ENSURE(memchr(p, '\0', n) == NULL, PAWL_E_INVALID, "%s: the passphrase contains a NUL byte",
	       what);
	pass_wipe();
	memcpy(pass_buf, p, n);
	pass_buf[n] = '\0';
	pass_set = true;
	return 0;
}

int pass_from_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	r = file_read_all(path, 64 * 1024, &data, &len);
	if (r < 0)
		return pawl_error_prefix(r, "--passphrase-file: ");
	r = pass_take(data, len, path);
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

int pass_from_env(void)
{
	char *v = getenv("PAWL_PASSPHRASE");
	size_t n;
	int r;

	if (!v)
		return 0;
	n = strlen(v);
	r = pass_take(v, n, "PAWL_PASSPHRASE");
	OPENSSL_cleanse(v, n);
	unsetenv("PAWL_PASSPHRASE");
	return r;
}

static bool is_pkcs11(const char *arg)
{
	return pkcs11_is_uri(arg);
}

/* Copy attributes of one URI part (sep ';' or '&') except the PIN ones. */
static size_t copy_attrs(char *out, size_t n, size_t k, const char *p, size_t len, char sep)
{
	bool first = true;

	while (len > 0) {
		const char *e = memchr(p, sep, len);
		size_t al = e ? (size_t)(e - p) : len;

		if (!(al >= 10 && strncmp(p, "pin-value=", 10) == 0) &&
		    !(al >= 11 && strncmp(p, "pin-source=", 11) == 0) && al > 0) {
			int w = snprintf(out + k, n - k, "%s%.*s", first ? "" : (sep == ';' ? ";" : "&"),
					 (int)al, p);

			if (w < 0 || (size_t)w >= n - k)
				return n - 1;
			k += (size_t)w;
			first = false;
		}
		p += al;
		len -= al;
		if (len > 0) {
			p++;
			len--;
		}
	}
	return k;
}

const char *key_arg_display(const char *arg, char *out, size_t n)
{
	const char *q;
	size_t k;

	if (!is_pkcs11(arg)) {
		snprintf(out, n, "%s", arg);
		return out;
	}
	/* "pkcs11:" PATH [ "?" QUERY ]: the PIN attributes may be in either. */
	q = strchr(arg + 7, '?');
	k = (size_t)snprintf(out, n, "pkcs11:");
	k = copy_attrs(out, n, k, arg + 7, q ? (size_t)(q - arg - 7) : strlen(arg + 7), ';');
	if (q && k < n - 1) {
		size_t before = k;

		k = copy_attrs(out, n, k + 1, q + 1, strlen(q + 1), '&');
		if (k == before + 1)
			k = before; /* nothing but PINs after '?' */
		else
			out[before] = '?';
	}
	out[k < n ? k : n - 1] = '\0';
	return out;
}

/* Add what to do to "key is encrypted" errors. */
static int hint_passphrase(int code)
{
	char m[768];

	snprintf(m, sizeof(m), "%s", pawl_error_last()->message);
	if (!strstr(m, "encrypted"))
		return code;
	return pawl_error_set(code, "%s (with --passphrase-file FILE or the PAWL_PASSPHRASE "
			      "environment variable)", m);
}

/* Make sure the message names the key file. */
static int name_arg(int code, const char *arg)
{
	if (strstr(pawl_error_last()->message, arg))
		return code;
	return pawl_error_prefix(code, "key %s: ", arg);
}

/*
 * As ssh does: an unencrypted private key file that others can read (or
 * change) lets them sign as this key. Signing goes on (the key may be on
 * a single-user build machine), but with a warning that names the file
 * and the chmod that fixes it, once per file and run.
 */
static void warn_exposed_key(const char *path)
{
	static struct {
		dev_t dev;
		ino_t ino;
	} warned[32];
	static size_t n_warned;
	char head[4096];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 077)) {
		close(fd);
		return;
	}
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n <= 0)
		return;
	head[n] = '\0';
	/* PKCS#8 "BEGIN ENCRYPTED PRIVATE KEY", or a legacy "Proc-Type:
	 * 4,ENCRYPTED" header: needs the passphrase too. */
	if (strstr(head, "ENCRYPTED"))
		return;
	for (size_t i = 0; i < n_warned; i++)
		if (warned[i].dev == st.st_dev && warned[i].ino == st.st_ino)
			return;
	if (n_warned < ARRAY_SIZE(warned)) {
		warned[n_warned].dev = st.st_dev;
		warned[n_warned].ino = st.st_ino;
		n_warned++;
	}
	warning("UNPROTECTED PRIVATE KEY FILE: %s is not encrypted and is %s by %s (mode "
		"%04o): whoever can read it can sign as this key. Fix: chmod 600 %s (or keep "
		"the key encrypted: pawl-repo keygen with a passphrase)",
		path, st.st_mode & 044 ? "readable" : "writable",
		st.st_mode & 006 ? "every user" : "its group", (unsigned)(st.st_mode & 07777),
		path);
}

int key_arg_signer(pawl_signer **ret, const char *arg)
{
	int r;

	if (is_pkcs11(arg))
		return pkcs11_signer_open(ret, arg);
	r = signer_load_file(ret, arg, pass_get());
	if (r == PAWL_E_KEY && !pass_get())
		return hint_passphrase(name_arg(r, arg));
	if (r == 0)
		warn_exposed_key(arg);
	return r < 0 ? name_arg(r, arg) : 0;
}

int key_arg_public(pawl_key **ret, pawl_signer **ret_signer, const char *arg)
{
	_cleanup_key_ pawl_key *k = NULL;
	pawl_signer *s = NULL;
	int r;

	if (is_pkcs11(arg)) {
		GUARD(pkcs11_signer_open(&s, arg));
	} else {
		/* A private key file gives a signer; a public one only a key.
		 * Try the public form first so that a .pub never asks for a
		 * passphrase. */
		r = key_load_public_file(&k, arg, pass_get());
		if (r == PAWL_E_KEY && !pass_get())
			return hint_passphrase(name_arg(r, arg));
		if (r < 0)
			return name_arg(r, arg);
		if (ret_signer && signer_load_file(&s, arg, pass_get()) < 0) {
			pawl_error_clear();
			s = NULL;
		}
		if (s)
			warn_exposed_key(arg);
	}
	if (s && !k) {
		r = signer_public(s, &k);
		if (r < 0) {
			signer_free(s);
			return r;
		}
	}
	if (ret_signer)
		*ret_signer = s;
	else
		signer_free(s);
	*ret = TAKE_PTR(k);
	return 0;
}

int signers_load(signers *s, char **args, size_t n)
{
	memset(s, 0, sizeof(*s));
	if (n == 0)
		return 0;
	s->v = xcalloc(n, sizeof(*s->v));
	s->arg = xcalloc(n, sizeof(*s->arg));
	if (!s->v || !s->arg)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		GUARD(key_arg_signer(&s->v[i], args[i]));
		s->arg[i] = args[i];
		s->n++;
	}
	return 0;
}

void signers_free(signers *s)
{
	for (size_t i = 0; i < s->n; i++)
		signer_free(s->v[i]);
	free(s->v);
	free(s->arg);
	memset(s, 0, sizeof(*s));
}

/*
 * pkcs11_hook.c - where "pkcs11:" key arguments go (docs/hsm.md), and the
 * one token PIN a run may use.
 *
 * The PIN is handled like the key passphrase (keys.c): never from the
 * command line, only from a file (--pin-file, its first line) or the
 * PAWL_PKCS11_PIN environment variable, which is copied, wiped in place
 * and unset as the program starts, so that no child process inherits it.
 * The copy lives in one static buffer that pin_wipe() clears with
 * OPENSSL_cleanse; main() calls it on every exit path. A PIN in the URI
 * itself (pin-value, pin-source) wins over this one: it is the more
 * specific of the two (signer_load_pkcs11).
 *
 * Everything else (which module, which token and key, the login and its
 * sharing between keys of one token, wiping the PIN the module got) is the
 * crypto module's (src/lib/crypto/pkcs11.h); since everything in pawl-repo
 * signs through pawl_signer, a token key works wherever a key file does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "repo.h"

/* Tokens allow far less; this only bounds the copy. */
#define PIN_MAX 255

static char pin_buf[PIN_MAX + 1];
static bool pin_set;

static const char *pin_get(void)
{
	return pin_set ? pin_buf : NULL;
}

void pin_wipe(void)
{
	OPENSSL_cleanse(pin_buf, sizeof(pin_buf));
	pin_set = false;
}

static int pin_take(const char *p, size_t n, const char *what)
{
	/* One line: stop at the first line end, as for passphrases. */
	const char *nl = memchr(p, '\n', n);

	if (nl)
		n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	ENSURE(n > 0, PAWL_E_INVALID, "%s: the PIN is empty", what);
	ENSURE(n <= PIN_MAX, PAWL_E_LIMIT, "%s: the PIN is longer than %d bytes", what, PIN_MAX);
	ENSURE(memchr(p, '\0', n) == NULL, PAWL_E_INVALID, "%s: the PIN contains a NUL byte",
	       what);
	pin_wipe();
	memcpy(pin_buf, p, n);
	pin_buf[n] = '\0';
	pin_set = true;
	return 0;
}

int pin_from_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	/* O_NOFOLLOW, regular files only, size-capped (store.h). */
	r = file_read_all(path, 4096, &data, &len);
	if (r < 0)
		return pawl_error_prefix(r, "--pin-file: ");
	r = pin_take(data, len, path);
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

int pin_from_env(void)
{
	char *v = getenv("PAWL_PKCS11_PIN");
	size_t n;
	int r;

	if (!v)
		return 0;
	n = strlen(v);
	r = pin_take(v, n, "PAWL_PKCS11_PIN");
	OPENSSL_cleanse(v, n);
	unsetenv("PAWL_PKCS11_PIN");
	return r;
}

int pkcs11_signer_open(pawl_signer **ret, const char *uri)
{
	int r = signer_load_pkcs11(ret, uri, pin_get());
	char m[768];

	if (r != PAWL_E_KEY || pin_get() || !strstr(pawl_error_last()->message, "needs a PIN"))
		return r;
	/* The message is copied first: it is the buffer being rewritten. */
	snprintf(m, sizeof(m), "%s", pawl_error_last()->message);
	return pawl_error_set(r, "%s (give it with --pin-file FILE or the PAWL_PKCS11_PIN "
			      "environment variable)", m);
}

/*
 * pkcs11_pin.c - the PIN that unlocks a token: from the URI's pin-value,
 * a pin-source file (read like a key file), or the caller. It lives in
 * OpenSSL's secure heap and is wiped when released; it is never part of a
 * message. See pkcs11_impl.h.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/pkcs11_impl.h"

void p11_pin_wipe(struct p11_pin *pin)
{
	if (pin->p)
		OPENSSL_secure_clear_free(pin->p, pin->len + 1);
	pin->p = NULL;
	pin->len = 0;
}

static int p11_pin_set(struct p11_pin *pin, const char *s, size_t len, const char *from)
{
	ENSURE(len > 0, PAWL_E_INVALID, "empty PIN (%s)", from);
	ENSURE(len <= P11_PIN_MAX, PAWL_E_INVALID, "PIN longer than %u bytes (%s)", P11_PIN_MAX,
	       from);
	ENSURE(memchr(s, '\0', len) == NULL, PAWL_E_INVALID, "PIN holds a NUL byte (%s)", from);
	pin->p = OPENSSL_secure_malloc(len + 1);
	if (!pin->p)
		return pawl_error_set(PAWL_E_NOMEM, "cannot allocate the PIN");
	memcpy(pin->p, s, len);
	pin->p[len] = '\0';
	pin->len = len;
	return 0;
}

/* pin-source: "file:/path", "file:///path" or "/path". The file holds the
 * PIN, optionally followed by one line end. Read like a key file:
 * O_NOFOLLOW, regular files only, size-capped, wiped. */
static int p11_pin_from_source(struct p11_pin *pin, const char *source)
{
	_cleanup_(buf_wipep) pawl_buf data = PAWL_BUF_INIT(KEYFILE_MAX);
	const char *path = source;
	size_t len;

	if (strncmp(source, "file://", 7) == 0)
		path = source + 7;
	else if (strncmp(source, "file:", 5) == 0)
		path = source + 5;
	ENSURE(path[0] == '/', PAWL_E_INVALID,
	       "PKCS#11 URI: pin-source must be file:/absolute/path (or file:///absolute/path)");
	if (keyfile_read(&data, path) < 0)
		return pawl_error_prefix(pawl_error_last()->code, "PIN file: ");
	len = data.len;
	if (len > 0 && data.data[len - 1] == '\n')
		len--;
	if (len > 0 && data.data[len - 1] == '\r')
		len--;
	ENSURE(len == 0 || (!memchr(data.data, '\n', len) && !memchr(data.data, '\r', len)),
	       PAWL_E_INVALID, "PIN file %.256s has more than one line", path);
	return p11_pin_set(pin, data.data, len, path);
}

/* The URI's PIN wins over the caller's: it is the more specific of the
 * two (the caller's usually comes from one environment variable for all
 * keys). */
int p11_pin_get(struct p11_pin *pin, const struct p11_uri *u, const char *arg)
{
	if (u->val[U_PIN_VALUE])
		return p11_pin_set(pin, u->val[U_PIN_VALUE], u->len[U_PIN_VALUE], "pin-value");
	if (u->val[U_PIN_SOURCE])
		return p11_pin_from_source(pin, u->val[U_PIN_SOURCE]);
	if (arg)
		return p11_pin_set(pin, arg, strnlen(arg, P11_PIN_MAX + 1), "PIN argument");
	return 0;
}

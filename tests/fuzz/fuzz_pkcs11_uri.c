/*
 * fuzz_pkcs11_uri.c - the RFC 7512 PKCS#11 URI parser (pkcs11_uri.c)
 * against a reference written here, and the PIN it hands on.
 *
 *  - Refusal: anything that does not start with "pkcs11:" (any case) is
 *    PAWL_E_INVALID, anything longer than P11_URI_MAX bytes
 *    PAWL_E_LIMIT; every refusal is PAWL_E_INVALID, PAWL_E_LIMIT or
 *    PAWL_E_UNSUPPORTED.
 *  - Acceptance: the reference splits an accepted URI at its first '?'
 *    into path (';'-separated) and query ('&'-separated), each attribute
 *    at its first '='. Every attribute must be one RFC 7512 names, given
 *    once, with a non-empty value, and the parser's decoded value is the
 *    reference's percent-decoding of it, byte for byte. type is
 *    "private", module-name is absent, module-path is absolute, and
 *    pin-value and pin-source are not both given.
 *  - The name used in messages starts with "pkcs11:" and parses back to
 *    the same shown attributes and no PIN, module or pin-source.
 *  - The PIN taken from pin-value is exactly its value, refused only
 *    when longer than P11_PIN_MAX.
 * Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/pkcs11_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In the order of the U_* attributes. */
static const char *const names[U_COUNT] = {
	"token", "manufacturer", "model", "serial", "slot-id", "slot-description",
	"slot-manufacturer", "library-manufacturer", "library-description", "library-version",
	"object", "id", "type", "pin-value", "pin-source", "module-path", "module-name",
};

static bool shown(size_t a)
{
	return a < U_PIN_VALUE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode [p, p + n) into out (room for n bytes); false when a '%'
 * is not followed by two hex digits. */
static bool ref_decode(const char *p, size_t n, char *out, size_t *ret_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '%') {
			out[o++] = p[i];
			continue;
		}
		if (n - i < 3 || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
			return false;
		out[o++] = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
		i += 2;
	}
	*ret_len = o;
	return true;
}

/* Check one part (path or query) of an accepted URI against u; seen
 * collects the attributes found. */
static void check_part(const struct p11_uri *u, const char *p, size_t n, char sep, bool seen[])
{
	char *val = malloc(n + 1);

	if (!val)
		abort();
	while (n > 0) {
		const char *end = memchr(p, sep, n);
		size_t len = end ? (size_t)(end - p) : n;
		const char *eq = memchr(p, '=', len);
		size_t a, namelen, vlen;

		if (!eq || len == 0)
			abort();
		namelen = (size_t)(eq - p);
		for (a = 0; a < U_COUNT; a++)
			if (strlen(names[a]) == namelen && memcmp(names[a], p, namelen) == 0)
				break;
		if (a == U_COUNT || seen[a] || !u->val[a])
			abort();
		seen[a] = true;
		if (!ref_decode(eq + 1, len - namelen - 1, val, &vlen) || vlen == 0 ||
		    vlen != u->len[a] || memcmp(val, u->val[a], vlen) != 0 ||
		    u->val[a][vlen] != '\0')
			abort();
		if (!end)
			break;
		p += len + 1;
		n -= len + 1;
		if (n == 0) /* a trailing separator is an empty attribute */
			abort();
	}
	free(val);
}

static void check_accepted(const struct p11_uri *u, const char *s)
{
	bool seen[U_COUNT] = { false };
	const char *body = s + 7, *q = strchr(body, '?');
	size_t pathlen = q ? (size_t)(q - body) : strlen(body);

	check_part(u, body, pathlen, ';', seen);
	if (q) {
		if (!q[1])
			abort(); /* an empty query is refused */
		check_part(u, q + 1, strlen(q + 1), '&', seen);
	}
	for (size_t a = 0; a < U_COUNT; a++)
		if (!seen[a] && u->val[a])
			abort();
	if ((u->val[U_TYPE] && strcmp(u->val[U_TYPE], "private") != 0) || u->val[U_MODULE_NAME] ||
	    (u->val[U_MODULE_PATH] && u->val[U_MODULE_PATH][0] != '/') ||
	    (u->val[U_PIN_VALUE] && u->val[U_PIN_SOURCE]))
		abort();
}

static void check_display(const struct p11_uri *u)
{
	struct p11_uri again = { 0 };
	char *name = NULL;

	if (p11_uri_display(u, &name) != 0)
		return; /* out of memory */
	if (strncmp(name, "pkcs11:", 7) != 0)
		abort();
	if (strlen(name) <= P11_URI_MAX) {
		if (p11_uri_parse(&again, name) != 0)
			abort();
		for (size_t a = 0; a < U_COUNT; a++) {
			if (!shown(a)) {
				if (again.val[a])
					abort();
				continue;
			}
			if (!u->val[a] != !again.val[a] ||
			    (u->val[a] && (u->len[a] != again.len[a] ||
					   memcmp(u->val[a], again.val[a], u->len[a]) != 0)))
				abort();
		}
	}
	p11_uri_clear(&again);
	free(name);
}

static void check_pin(const struct p11_uri *u)
{
	struct p11_pin pin = { NULL, 0 };
	int r;

	if (!u->val[U_PIN_VALUE])
		return;
	r = p11_pin_get(&pin, u, "ignored: the URI's PIN wins");
	if (u->len[U_PIN_VALUE] > P11_PIN_MAX) {
		if (r != PAWL_E_INVALID || pin.p)
			abort();
	} else if (r == 0) {
		if (pin.len != u->len[U_PIN_VALUE] || memcmp(pin.p, u->val[U_PIN_VALUE], pin.len) != 0)
			abort();
	} else if (r != PAWL_E_NOMEM) {
		abort();
	}
	p11_pin_wipe(&pin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p11_uri u = { 0 };
	char *s;
	int r;

	if (size > 2 * P11_URI_MAX)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	r = p11_uri_parse(&u, s);
	if (strlen(s) > P11_URI_MAX) {
		if (r != PAWL_E_LIMIT)
			abort();
	} else if (strncasecmp(s, "pkcs11:", 7) != 0) {
		if (r != PAWL_E_INVALID)
			abort();
	} else if (r == 0) {
		check_accepted(&u, s);
		check_display(&u);
		check_pin(&u);
	} else if (r != PAWL_E_INVALID && r != PAWL_E_UNSUPPORTED) {
		abort();
	}
	p11_uri_clear(&u);
	pawl_error_clear();
	free(s);
	return 0;
}

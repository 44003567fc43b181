/*
 * pkcs11_uri.c - RFC 7512 PKCS#11 URIs, strictly: every attribute the RFC
 * defines is known, unknown ones are refused (a typo must not widen the
 * match), values are percent-decoded with their length bounded, and no
 * message ever quotes a PIN. See pkcs11_impl.h.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "crypto/pkcs11_impl.h"

#define IN_PATH 1u
#define IN_QUERY 2u

/* Every attribute RFC 7512 defines, where it may appear, and whether it
 * may hold arbitrary bytes (only id) or is text without NUL. The table
 * order is the order in which the display name lists them. */
static const struct {
	const char *name;
	unsigned where;
	bool binary;
	bool shown; /* part of the name used in messages */
} uri_attrs[U_COUNT] = {
	[U_TOKEN] = { "token", IN_PATH, false, true },
	[U_MANUFACTURER] = { "manufacturer", IN_PATH, false, true },
	[U_MODEL] = { "model", IN_PATH, false, true },
	[U_SERIAL] = { "serial", IN_PATH, false, true },
	[U_SLOT_ID] = { "slot-id", IN_PATH, false, true },
	[U_SLOT_DESCRIPTION] = { "slot-description", IN_PATH, false, true },
	[U_SLOT_MANUFACTURER] = { "slot-manufacturer", IN_PATH, false, true },
	[U_LIBRARY_MANUFACTURER] = { "library-manufacturer", IN_PATH, false, true },
	[U_LIBRARY_DESCRIPTION] = { "library-description", IN_PATH, false, true },
	[U_LIBRARY_VERSION] = { "library-version", IN_PATH, false, true },
	[U_OBJECT] = { "object", IN_PATH, false, true },
	[U_ID] = { "id", IN_PATH, true, true },
	[U_TYPE] = { "type", IN_PATH, false, true },
	/* RFC 7512 puts the PIN attributes in the query; p11-kit and older
	 * drafts also wrote them in the path. Never shown. */
	[U_PIN_VALUE] = { "pin-value", IN_PATH | IN_QUERY, false, false },
	[U_PIN_SOURCE] = { "pin-source", IN_PATH | IN_QUERY, false, false },
	[U_MODULE_PATH] = { "module-path", IN_QUERY, false, false },
	[U_MODULE_NAME] = { "module-name", IN_QUERY, false, false },
};

void p11_uri_clear(struct p11_uri *u)
{
	for (size_t i = 0; i < U_COUNT; i++) {
		if (u->val[i]) {
			OPENSSL_cleanse(u->val[i], u->len[i]);
			free(u->val[i]);
		}
		u->val[i] = NULL;
		u->len[i] = 0;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Characters a value may carry without percent-encoding (RFC 7512
 * pk11-pchar and pk11-qchar; '/' is also taken in the path, where
 * p11-kit writes it, since it cannot be confused with anything). */
static bool uri_char_ok(char c, unsigned where)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c != '\0' && strchr("-._~:[]@!$'()*+,=/", c))
		return true;
	if (where == IN_PATH)
		return c == '&';
	return c == ';' || c == '?' || c == '|';
}

static int uri_decode(struct p11_uri *u, size_t a, const char *p, size_t n, unsigned where)
{
	const char *name = uri_attrs[a].name;
	char *out;
	size_t o = 0;
	int r = 0;

	ENSURE(n > 0, PAWL_E_INVALID, "PKCS#11 URI: attribute \"%s\" is empty", name);
	out = xmalloc(n + 1);
	if (!out)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '%') {
			if (n - i < 3 || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0) {
				r = pawl_error_set(PAWL_E_INVALID,
						   "PKCS#11 URI: attribute \"%s\": '%%' must be followed by "
						   "two hex digits",
						   name);
				goto out;
			}
			c = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
			i += 2;
			if (c == '\0' && !uri_attrs[a].binary) {
				r = pawl_error_set(PAWL_E_INVALID,
						   "PKCS#11 URI: attribute \"%s\" holds a NUL byte", name);
				goto out;
			}
		} else if (!uri_char_ok(c, where)) {
			if (a == U_PIN_VALUE) /* not even one character of a PIN */
				r = pawl_error_set(PAWL_E_INVALID,
						   "PKCS#11 URI: pin-value holds a character that must "
						   "be percent-encoded");
			else if (c == ' ')
				r = pawl_error_set(PAWL_E_INVALID,
						   "PKCS#11 URI: attribute \"%s\": write a space as %%20",
						   name);
			else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
				r = pawl_error_set(PAWL_E_INVALID,
						   "PKCS#11 URI: attribute \"%s\": byte 0x%02x must be "
						   "percent-encoded",
						   name, (unsigned char)c);
			else
				r = pawl_error_set(PAWL_E_INVALID,
						   "PKCS#11 URI: attribute \"%s\": '%c' must be "
						   "percent-encoded (%%%02X)",
						   name, c, (unsigned char)c);
			goto out;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	u->val[a] = out;
	u->len[a] = o;
	out = NULL;
out:
	if (out) {
		OPENSSL_cleanse(out, n + 1);
		free(out);
	}
	return r;
}

/* One "name=value" of the path (where = IN_PATH) or the query. */
static int uri_attr(struct p11_uri *u, const char *p, size_t n, unsigned where, size_t index)
{
	const char *part = where == IN_PATH ? "path" : "query";
	const char *eq = memchr(p, '=', n);
	size_t namelen;

	ENSURE(n > 0, PAWL_E_INVALID, "PKCS#11 URI: empty attribute %zu in the %s (stray '%c')",
	       index + 1, part, where == IN_PATH ? ';' : '&');
	/* Without '=' the whole part might be a mistyped PIN: not echoed. */
	ENSURE(eq, PAWL_E_INVALID, "PKCS#11 URI: %s attribute %zu has no '='", part, index + 1);
	namelen = (size_t)(eq - p);
	for (size_t a = 0; a < U_COUNT; a++) {
		if (strlen(uri_attrs[a].name) != namelen ||
		    memcmp(uri_attrs[a].name, p, namelen) != 0)
			continue;
		ENSURE(uri_attrs[a].where & where, PAWL_E_INVALID,
		       "PKCS#11 URI: \"%s\" belongs in the %s", uri_attrs[a].name,
		       where == IN_PATH ? "query (after '?')" : "path (before '?')");
		ENSURE(!u->val[a], PAWL_E_INVALID, "PKCS#11 URI: \"%s\" given twice",
		       uri_attrs[a].name);
		return uri_decode(u, a, eq + 1, n - namelen - 1, where);
	}
	/* Refused rather than ignored: an ignored, mistyped "objet=" would
	 * quietly widen the match. Names are echoed only when they look like
	 * names. */
	for (size_t i = 0; i < namelen; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return pawl_error_set(PAWL_E_INVALID,
					      "PKCS#11 URI: %s attribute %zu has an invalid name",
					      part, index + 1);
	return pawl_error_set(PAWL_E_INVALID, "PKCS#11 URI: unknown attribute \"%.*s\"",
			      (int)(namelen < 64 ? namelen : 64), p);
}

static int uri_part(struct p11_uri *u, const char *p, size_t n, unsigned where)
{
	char sep = where == IN_PATH ? ';' : '&';
	size_t index = 0;

	if (n == 0) {
		/* "pkcs11:" alone is valid (it matches everything), a bare
		 * '?' is not. */
		ENSURE(where == IN_PATH, PAWL_E_INVALID, "PKCS#11 URI: empty query after '?'");
		return 0;
	}
	for (;;) {
		const char *end = memchr(p, sep, n);
		size_t len = end ? (size_t)(end - p) : n;

		GUARD(uri_attr(u, p, len, where, index++));
		if (!end)
			return 0;
		p += len + 1;
		n -= len + 1;
		if (n == 0)
			return uri_attr(u, p, 0, where, index);
	}
}

/* Decimal without sign, leading '+' or overflow. */
static bool parse_ulong(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (__builtin_mul_overflow(v, 10ul, &v) ||
		    __builtin_add_overflow(v, (unsigned long)(*s - '0'), &v))
			return false;
	}
	if (v > max)
		return false;
	*ret = v;
	return true;
}

int p11_uri_parse(struct p11_uri *u, const char *uri)
{
	size_t n, pathlen;
	const char *q;

	ENSURE(uri, PAWL_E_INVALID, "no PKCS#11 URI");
	n = strnlen(uri, P11_URI_MAX + 1);
	ENSURE(n <= P11_URI_MAX, PAWL_E_LIMIT, "PKCS#11 URI longer than %u bytes", P11_URI_MAX);
	ENSURE(pkcs11_is_uri(uri), PAWL_E_INVALID,
	       "not a PKCS#11 URI: it must start with \"pkcs11:\"");
	uri += 7;
	n -= 7;
	q = memchr(uri, '?', n);
	pathlen = q ? (size_t)(q - uri) : n;
	GUARD(uri_part(u, uri, pathlen, IN_PATH));
	if (q)
		GUARD(uri_part(u, q + 1, n - pathlen - 1, IN_QUERY));

	if (u->val[U_TYPE])
		ENSURE(strcmp(u->val[U_TYPE], "private") == 0, PAWL_E_INVALID,
		       "PKCS#11 URI: type=%.32s does not name a private key (use type=private "
		       "or leave it out)",
		       u->val[U_TYPE]);
	if (u->val[U_SLOT_ID]) {
		unsigned long v;

		ENSURE(parse_ulong(u->val[U_SLOT_ID], (CK_SLOT_ID)-1, &v), PAWL_E_INVALID,
		       "PKCS#11 URI: slot-id must be a decimal number");
		u->slot_num = v;
	}
	if (u->val[U_LIBRARY_VERSION]) {
		char *dot = strchr(u->val[U_LIBRARY_VERSION], '.');
		unsigned long major, minor = 0;
		bool ok;

		if (dot)
			*dot = '\0';
		ok = parse_ulong(u->val[U_LIBRARY_VERSION], 255, &major) &&
		     (!dot || parse_ulong(dot + 1, 255, &minor));
		if (dot)
			*dot = '.';
		ENSURE(ok, PAWL_E_INVALID,
		       "PKCS#11 URI: library-version must be MAJOR or MAJOR.MINOR (0-255 each)");
		u->lib_ver.major = (CK_BYTE)major;
		u->lib_ver.minor = (CK_BYTE)minor;
	}
	ENSURE(!u->val[U_MODULE_NAME], PAWL_E_UNSUPPORTED,
	       "PKCS#11 URI: module-name is not supported; give module-path=/path/to/module.so");
	ENSURE(!u->val[U_MODULE_PATH] || u->val[U_MODULE_PATH][0] == '/', PAWL_E_INVALID,
	       "PKCS#11 URI: module-path must be an absolute file name");
	ENSURE(!(u->val[U_PIN_VALUE] && u->val[U_PIN_SOURCE]), PAWL_E_INVALID,
	       "PKCS#11 URI: give pin-value or pin-source, not both");
	return 0;
}

/* The URI again, without the PIN attributes and the module: what every
 * message uses to name the key. */
int p11_uri_display(const struct p11_uri *u, char **ret)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(3 * P11_URI_MAX + 16);
	bool first = true;
	size_t len;

	GUARD(buf_puts(&b, "pkcs11:"));
	for (size_t a = 0; a < U_COUNT; a++) {
		if (!u->val[a] || !uri_attrs[a].shown)
			continue;
		if (!first)
			GUARD(buf_putc(&b, ';'));
		first = false;
		GUARD(buf_printf(&b, "%s=", uri_attrs[a].name));
		for (size_t i = 0; i < u->len[a]; i++) {
			unsigned char c = (unsigned char)u->val[a][i];

			if (!uri_attrs[a].binary && c != '&' && c != '/' && uri_char_ok((char)c, IN_PATH))
				GUARD(buf_putc(&b, (char)c));
			else
				GUARD(buf_printf(&b, "%%%02X", c));
		}
	}
	return buf_steal(&b, ret, &len);
}

bool pkcs11_is_uri(const char *s)
{
	return s && strncasecmp(s, "pkcs11:", 7) == 0;
}

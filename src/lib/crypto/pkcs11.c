/*
 * pkcs11.c - the "pkcs11" signer kind: private keys that stay in a token.
 * The guarantees are listed in pkcs11.h; this file is, in order:
 *   1. the RFC 7512 URI parser (strict, bounded, never echoes a PIN),
 *   2. PINs (secure heap, wiped),
 *   3. the module registry: one dlopen()/C_Initialize() per module per
 *      process, reference counted, and per-token login reference counts
 *      so that one signer's C_Logout() cannot log out another's session,
 *   4. finding the token and the key, importing the public half,
 *   5. signing.
 *
 * Everything a token returns is untrusted in size: attribute lengths are
 * capped before anything is allocated, DER is read through a bounded
 * cursor, and a signature must have exactly the length its key implies.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "crypto/crypto_impl.h"
#include "crypto/pkcs11.h"

/* p11-kit's copy of the OASIS header (plain PKCS#11 names, no p11-kit
 * library needed). Included last: in its compatibility mode it #defines
 * lower-case names such as "value" and "count" that must not rename
 * fields of the headers above. The build normally puts its directory on
 * the include path (pkg-config p11-kit-1); failing that, the Debian and
 * Fedora location under /usr/include is used. */
#if __has_include(<p11-kit/pkcs11.h>)
#include <p11-kit/pkcs11.h>
#else
#include <p11-kit-1/p11-kit/pkcs11.h>
#endif

#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS 0x40UL
#endif
#ifndef CKM_EDDSA
#define CKM_EDDSA 0x1057UL
#endif

/* ---------------- limits ---------------- */

#define URI_MAX 4096u       /* a whole URI */
#define PIN_MAX 256u        /* tokens allow far less; 256 covers passphrases */
#define ATTR_MAX 4096u      /* labels, ids, EC parameters and points */
#define SIG_MAX (RSA_MAX_BITS / 8) /* the largest signature we accept */
#define SLOTS_MAX 1024u     /* slots a module may report */
#define TOKENS_LISTED 8     /* token labels named in a "not found" message */
#define NAME_MAX_LEN 512    /* key names in messages */

/* Lengths cross the API as CK_ULONG. */
_Static_assert(sizeof(CK_ULONG) >= sizeof(size_t), "CK_ULONG narrower than size_t");

static const char *const proxy_modules[] = {
	"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib64/p11-kit-proxy.so",
	"/usr/lib/p11-kit-proxy.so",
};

/* ---------------- 1. the URI (RFC 7512) ---------------- */

enum {
	U_TOKEN,
	U_MANUFACTURER,
	U_MODEL,
	U_SERIAL,
	U_SLOT_ID,
	U_SLOT_DESCRIPTION,
	U_SLOT_MANUFACTURER,
	U_LIBRARY_MANUFACTURER,
	U_LIBRARY_DESCRIPTION,
	U_LIBRARY_VERSION,
	U_OBJECT,
	U_ID,
	U_TYPE,
	U_PIN_VALUE,
	U_PIN_SOURCE,
	U_MODULE_PATH,
	U_MODULE_NAME,
	U_COUNT
};

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

struct p11_uri {
	char *val[U_COUNT]; /* decoded, NUL-terminated; NULL when absent */
	size_t len[U_COUNT];
	CK_SLOT_ID slot_num;     /* when val[U_SLOT_ID] */
	CK_VERSION lib_ver;      /* when val[U_LIBRARY_VERSION] */
};

static void uri_clear(struct p11_uri *u)
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
static void uri_clearp(struct p11_uri *u) { uri_clear(u); }

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

static int uri_parse(struct p11_uri *u, const char *uri)
{
	size_t n, pathlen;
	const char *q;

	ENSURE(uri, PAWL_E_INVALID, "no PKCS#11 URI");
	n = strnlen(uri, URI_MAX + 1);
	ENSURE(n <= URI_MAX, PAWL_E_LIMIT, "PKCS#11 URI longer than %u bytes", URI_MAX);
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
static int uri_display(const struct p11_uri *u, char **ret)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(3 * URI_MAX + 16);
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

/* ---------------- 2. PINs ---------------- */

/* A PIN in OpenSSL's secure heap (plain heap when none is set up), wiped
 * when released. */
struct pin {
	char *p; /* NUL-terminated; NULL when there is none */
	size_t len;
};

static void pin_wipe(struct pin *pin)
{
	if (pin->p)
		OPENSSL_secure_clear_free(pin->p, pin->len + 1);
	pin->p = NULL;
	pin->len = 0;
}
static void pin_wipep(struct pin *pin) { pin_wipe(pin); }

static int pin_set(struct pin *pin, const char *s, size_t len, const char *from)
{
	ENSURE(len > 0, PAWL_E_INVALID, "empty PIN (%s)", from);
	ENSURE(len <= PIN_MAX, PAWL_E_INVALID, "PIN longer than %u bytes (%s)", PIN_MAX, from);
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
static int pin_from_file(struct pin *pin, const char *source)
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
	return pin_set(pin, data.data, len, path);
}

/* The URI's PIN wins over the caller's: it is the more specific of the
 * two (the caller's usually comes from one environment variable for all
 * keys). */
static int pin_get(struct pin *pin, const struct p11_uri *u, const char *arg)
{
	if (u->val[U_PIN_VALUE])
		return pin_set(pin, u->val[U_PIN_VALUE], u->len[U_PIN_VALUE], "pin-value");
	if (u->val[U_PIN_SOURCE])
		return pin_from_file(pin, u->val[U_PIN_SOURCE]);
	if (arg)
		return pin_set(pin, arg, strnlen(arg, PIN_MAX + 1), "PIN argument");
	return 0;
}

/* ---------------- PKCS#11 return values ---------------- */

static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_CANT_LOCK, "CKR_CANT_LOCK" },
	{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
	{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
	{ CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
	{ CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
};

/* Set the error "<message>: CKR_NAME" with code (PAWL_E_NOMEM when the
 * module ran out of memory); returns the code. */
static int PAWL_PRINTF(3, 4) rv_fail(int code, CK_RV rv, const char *fmt, ...)
{
	char msg[768];
	const char *name = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < ARRAY_SIZE(rv_names); i++)
		if (rv_names[i].rv == rv)
			name = rv_names[i].name;
	if (rv == CKR_HOST_MEMORY)
		code = PAWL_E_NOMEM;
	if (name)
		return pawl_error_set(code, "%s: %s", msg, name);
	return pawl_error_set(code, "%s: CKR 0x%lx", msg, (unsigned long)rv);
}

/* A module may use OpenSSL itself, in this process, and leave errors on
 * this thread's queue (SoftHSM2 leaves "no such engine" behind on every
 * C_Initialize). pawl's messages report the earliest queued error, so
 * calls into a module are bracketed with ERR_set_mark() and
 * ERR_pop_to_mark(), and what the module left is dropped before pawl's own
 * OpenSSL calls. */
static void drop_module_errors(void)
{
	ERR_pop_to_mark();
	ERR_set_mark();
}

/* ---------------- 3. modules and logins ---------------- */

struct p11_login {
	struct p11_login *next;
	CK_SLOT_ID slot;
	unsigned refs;
	bool ours; /* pawl called C_Login, so pawl calls C_Logout */
};

struct p11_module {
	struct p11_module *next;
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	char *path;
	unsigned refs;
	bool finalize; /* pawl's C_Initialize succeeded, so pawl finalises */
	struct p11_login *logins;
};

/* Guards the registry and every login/logout; loads hold it throughout
 * (they are rare), signing does not take it. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *registry;
static pid_t registry_pid;

static void module_put(struct p11_module *m)
{
	struct p11_module **pp;

	if (!m || --m->refs > 0)
		return;
	for (pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	if (m->finalize)
		(void)m->fl->C_Finalize(NULL);
	dlclose(m->dl);
	free(m->path);
	free(m);
}

static int module_get(struct p11_module **ret, const char *path)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST_PTR fl = NULL;
	struct p11_module *m;
	struct stat st;
	const char *err;
	void *dl;
	CK_RV rv;

	/* In a forked child the parent's modules are not initialised: forget
	 * them (without touching them) and start again. */
	if (registry_pid != getpid()) {
		registry = NULL;
		registry_pid = getpid();
	}
	if (stat(path, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "PKCS#11 module %.256s", path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "PKCS#11 module %.256s is not a regular file",
	       path);
	(void)dlerror();
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		err = dlerror();
		return pawl_error_set(PAWL_E_KEY, "cannot load PKCS#11 module %.256s: %.256s", path,
				      err ? err : "unknown error");
	}
	/* The same module under another name (a symlink) is the same
	 * handle: share its state, or a second C_Initialize would find it
	 * initialised and the first C_Finalize would pull it from under the
	 * second user. */
	for (m = registry; m; m = m->next) {
		if (m->dl == dl) {
			dlclose(dl);
			m->refs++;
			*ret = m;
			return 0;
		}
	}
	*(void **)&get_list = dlsym(dl, "C_GetFunctionList");
	if (!get_list) {
		dlclose(dl);
		return pawl_error_set(PAWL_E_KEY,
				      "%.256s is not a PKCS#11 module (no C_GetFunctionList)", path);
	}
	rv = get_list(&fl);
	if (rv != CKR_OK || !fl) {
		dlclose(dl);
		return rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetFunctionList failed",
			       path);
	}
	if (fl->version.major < 2) {
		dlclose(dl);
		return pawl_error_set(PAWL_E_UNSUPPORTED,
				      "PKCS#11 module %.256s implements Cryptoki %u.%u; 2.x or "
				      "later needed",
				      path, fl->version.major, fl->version.minor);
	}
	rv = fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		dlclose(dl);
		return rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_Initialize failed", path);
	}
	m = xcalloc(1, sizeof(*m));
	if (m)
		m->path = xstrdup(path);
	if (!m || !m->path) {
		if (rv == CKR_OK)
			(void)fl->C_Finalize(NULL);
		dlclose(dl);
		free(m);
		return PAWL_E_NOMEM;
	}
	m->dl = dl;
	m->fl = fl;
	m->refs = 1;
	/* Already initialised by someone else in this process: theirs to
	 * finalise. */
	m->finalize = rv == CKR_OK;
	m->next = registry;
	registry = m;
	*ret = m;
	return 0;
}

static struct p11_login *login_find(struct p11_module *m, CK_SLOT_ID slot)
{
	for (struct p11_login *l = m->logins; l; l = l->next)
		if (l->slot == slot)
			return l;
	return NULL;
}

static int login_add(struct p11_module *m, CK_SLOT_ID slot, bool ours, struct p11_login **ret)
{
	struct p11_login *l = xcalloc(1, sizeof(*l));

	if (!l)
		return PAWL_E_NOMEM;
	l->slot = slot;
	l->refs = 1;
	l->ours = ours;
	l->next = m->logins;
	m->logins = l;
	*ret = l;
	return 0;
}

/* Drop one reference; the last one logs the token out through session
 * (if pawl logged it in). */
static void login_put(struct p11_module *m, struct p11_login *l, CK_SESSION_HANDLE session)
{
	struct p11_login **pp;

	if (--l->refs > 0)
		return;
	if (l->ours && session != CK_INVALID_HANDLE)
		(void)m->fl->C_Logout(session);
	for (pp = &m->logins; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	free(l);
}

/* ---------------- the signer ---------------- */

struct p11_signer {
	struct p11_module *mod;
	struct p11_login *login;   /* NULL when no login was needed */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session; /* CK_INVALID_HANDLE until opened */
	CK_OBJECT_HANDLE key;
	CK_MECHANISM_TYPE mech;
	key_kind kind;
	size_t siglen;             /* what the token must return */
	bool always_auth;          /* CKA_ALWAYS_AUTHENTICATE */
	struct pin pin;            /* only when always_auth */
	pid_t pid;
	bool lock_ok;
	pthread_mutex_t lock;      /* one operation at a time per session */
	char *name;                /* the URI without PIN or module */
};

/* ---------------- 4. token, key, public half ---------------- */

/* Fixed-size PKCS#11 text fields are padded with blanks (some modules use
 * NULs). */
static size_t padded_len(const CK_UTF8CHAR *f, size_t n)
{
	while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\0'))
		n--;
	return n;
}

static bool padded_eq(const CK_UTF8CHAR *f, size_t n, const struct p11_uri *u, size_t a)
{
	if (!u->val[a])
		return true;
	n = padded_len(f, n);
	return n == u->len[a] && memcmp(f, u->val[a], n) == 0;
}

static int check_library(const struct p11_signer *t, const struct p11_uri *u)
{
	CK_INFO info;
	CK_RV rv;

	if (!u->val[U_LIBRARY_MANUFACTURER] && !u->val[U_LIBRARY_DESCRIPTION] &&
	    !u->val[U_LIBRARY_VERSION])
		return 0;
	rv = t->mod->fl->C_GetInfo(&info);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetInfo failed",
			       t->mod->path);
	ENSURE(padded_eq(info.manufacturerID, sizeof(info.manufacturerID), u,
			 U_LIBRARY_MANUFACTURER) &&
		       padded_eq(info.libraryDescription, sizeof(info.libraryDescription), u,
				 U_LIBRARY_DESCRIPTION) &&
		       (!u->val[U_LIBRARY_VERSION] ||
			(info.libraryVersion.major == u->lib_ver.major &&
			 info.libraryVersion.minor == u->lib_ver.minor)),
	       PAWL_E_NOT_FOUND, "%.512s: module %.256s does not match the library-* attributes",
	       t->name, t->mod->path);
	return 0;
}

static int find_token(struct p11_signer *t, const struct p11_uri *u, CK_TOKEN_INFO *ret_info)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	_cleanup_free_ CK_SLOT_ID *slots = NULL;
	_cleanup_buf_ pawl_buf seen = PAWL_BUF_INIT(TOKENS_LISTED * 40 + 16);
	CK_ULONG nslots = 0;
	size_t matches = 0, listed = 0;
	CK_RV rv;

	GUARD(check_library(t, u));
	rv = fl->C_GetSlotList(CK_TRUE, NULL, &nslots);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetSlotList failed",
			       t->mod->path);
	ENSURE(nslots <= SLOTS_MAX, PAWL_E_LIMIT, "PKCS#11 module %.256s reports %lu slots",
	       t->mod->path, (unsigned long)nslots);
	ENSURE(nslots > 0, PAWL_E_NOT_FOUND, "%.512s: module %.256s has no token", t->name,
	       t->mod->path);
	slots = xcalloc(nslots, sizeof(*slots));
	if (!slots)
		return PAWL_E_NOMEM;
	rv = fl->C_GetSlotList(CK_TRUE, slots, &nslots);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetSlotList failed",
			       t->mod->path);

	for (CK_ULONG i = 0; i < nslots; i++) {
		CK_TOKEN_INFO ti;
		CK_SLOT_INFO si;

		if (u->val[U_SLOT_ID] && slots[i] != u->slot_num)
			continue;
		if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue; /* removed meanwhile */
		/* A blank token (SoftHSM's spare slot) holds no keys and
		 * would make every label-less URI ambiguous. */
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (listed < TOKENS_LISTED) {
			int len = (int)padded_len(ti.label, sizeof(ti.label));

			if (buf_printf(&seen, "%s\"%.*s\"", listed ? ", " : "", len,
				       (const char *)ti.label) < 0)
				return PAWL_E_NOMEM;
			listed++;
		}
		if (!padded_eq(ti.label, sizeof(ti.label), u, U_TOKEN) ||
		    !padded_eq(ti.manufacturerID, sizeof(ti.manufacturerID), u, U_MANUFACTURER) ||
		    !padded_eq(ti.model, sizeof(ti.model), u, U_MODEL) ||
		    !padded_eq(ti.serialNumber, sizeof(ti.serialNumber), u, U_SERIAL))
			continue;
		if (u->val[U_SLOT_DESCRIPTION] || u->val[U_SLOT_MANUFACTURER]) {
			if (fl->C_GetSlotInfo(slots[i], &si) != CKR_OK)
				continue;
			if (!padded_eq(si.slotDescription, sizeof(si.slotDescription), u,
				       U_SLOT_DESCRIPTION) ||
			    !padded_eq(si.manufacturerID, sizeof(si.manufacturerID), u,
				       U_SLOT_MANUFACTURER))
				continue;
		}
		if (matches++ == 0) {
			t->slot = slots[i];
			*ret_info = ti;
		}
	}
	ENSURE(matches > 0, PAWL_E_NOT_FOUND, "%.512s: no such token in %.256s (tokens: %s)",
	       t->name, t->mod->path, listed ? seen.data : "none initialised");
	ENSURE(matches == 1, PAWL_E_INVALID,
	       "%.512s: %zu tokens match; name one with token=, serial= or slot-id=", t->name,
	       matches);
	return 0;
}

/* Open the session and make sure it may use private objects. */
static int open_session(struct p11_signer *t, const CK_TOKEN_INFO *ti, const struct pin *pin)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_SESSION_INFO si;
	struct p11_login *l;
	int label_len = (int)padded_len(ti->label, sizeof(ti->label));
	const char *label = (const char *)ti->label;
	CK_RV rv;

	/* Read-only: signing needs nothing more, and a read-only session
	 * cannot create or destroy objects by mistake. */
	rv = fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &t->session);
	if (rv != CKR_OK) {
		t->session = CK_INVALID_HANDLE;
		return rv_fail(PAWL_E_KEY, rv, "token \"%.*s\": C_OpenSession failed", label_len,
			       label);
	}
	l = login_find(t->mod, t->slot);
	if (l) {
		/* Logged in for another pawl signer: the login is shared. */
		l->refs++;
		t->login = l;
		return 0;
	}
	rv = fl->C_GetSessionInfo(t->session, &si);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "token \"%.*s\": C_GetSessionInfo failed", label_len,
			       label);
	if (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)
		/* Someone else in this process logged in: theirs to undo. */
		return login_add(t->mod, t->slot, false, &t->login);

	if (pin->p)
		rv = fl->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)pin->p,
				 (CK_ULONG)pin->len);
	else if (ti->flags & CKF_PROTECTED_AUTHENTICATION_PATH)
		rv = fl->C_Login(t->session, CKU_USER, NULL, 0); /* the PIN pad asks */
	else if (ti->flags & CKF_LOGIN_REQUIRED)
		return pawl_error_set(PAWL_E_KEY, "%.512s: token \"%.*s\" needs a PIN and none was given",
				      t->name, label_len, label);
	else
		return 0; /* no login: only public objects are visible */

	switch (rv) {
	case CKR_OK:
		return login_add(t->mod, t->slot, true, &t->login);
	case CKR_USER_ALREADY_LOGGED_IN:
		return login_add(t->mod, t->slot, false, &t->login);
	case CKR_PIN_INCORRECT:
		return pawl_error_set(PAWL_E_KEY, "%.512s: wrong PIN for token \"%.*s\"", t->name,
				      label_len, label);
	case CKR_PIN_LOCKED:
		return pawl_error_set(PAWL_E_KEY,
				      "%.512s: the PIN of token \"%.*s\" is locked (too many wrong "
				      "PINs); the security officer must unlock it",
				      t->name, label_len, label);
	case CKR_PIN_EXPIRED:
		return pawl_error_set(PAWL_E_KEY, "%.512s: the PIN of token \"%.*s\" has expired",
				      t->name, label_len, label);
	case CKR_PIN_LEN_RANGE:
		return pawl_error_set(PAWL_E_KEY,
				      "%.512s: wrong PIN for token \"%.*s\" (the token allows %lu "
				      "to %lu characters)",
				      t->name, label_len, label, (unsigned long)ti->ulMinPinLen,
				      (unsigned long)ti->ulMaxPinLen);
	default:
		return rv_fail(PAWL_E_KEY, rv, "%.512s: cannot log in to token \"%.*s\"", t->name,
			       label_len, label);
	}
}

/* Up to two objects matching tmpl: enough to tell none, one and too many
 * apart. */
static int find_objects(struct p11_signer *t, CK_ATTRIBUTE *tmpl, CK_ULONG n,
			CK_OBJECT_HANDLE found[2], size_t *ret_n)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_ULONG got = 0, total = 0;
	bool overrun = false;
	CK_RV rv;

	rv = fl->C_FindObjectsInit(t->session, tmpl, n);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "%.512s: C_FindObjectsInit failed", t->name);
	/* A module may return fewer handles per call than it has. */
	do {
		got = 0;
		rv = fl->C_FindObjects(t->session, found + total, 2 - total, &got);
		if (rv != CKR_OK)
			break;
		overrun = got > 2 - total;
		if (overrun)
			break;
		total += got;
	} while (got > 0 && total < 2);
	(void)fl->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "%.512s: C_FindObjects failed", t->name);
	ENSURE(!overrun, PAWL_E_KEY, "%.512s: C_FindObjects returned more handles than asked for",
	       t->name);
	*ret_n = total;
	return 0;
}

/* Read one attribute of at most max bytes into a malloc'd buffer.
 * *ret is NULL (and *ret_len 0) when the object does not have it or
 * will not reveal it. */
static int get_attr(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		    size_t max, uint8_t **ret, size_t *ret_len)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_ATTRIBUTE a = { type, NULL, 0 };
	_cleanup_free_ uint8_t *v = NULL;
	CK_ULONG want;
	CK_RV rv;

	*ret = NULL;
	*ret_len = 0;
	rv = fl->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		return 0;
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
			       (unsigned long)type);
	ENSURE(a.ulValueLen <= max, PAWL_E_LIMIT,
	       "%.512s: attribute 0x%lx of %lu bytes exceeds %zu", t->name, (unsigned long)type,
	       (unsigned long)a.ulValueLen, max);
	want = a.ulValueLen;
	v = xmalloc(want ? want : 1);
	if (!v)
		return PAWL_E_NOMEM;
	a.pValue = v;
	rv = fl->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
			       (unsigned long)type);
	ENSURE(a.ulValueLen <= want, PAWL_E_KEY, "%.512s: attribute 0x%lx changed size",
	       t->name, (unsigned long)type);
	*ret = TAKE_PTR(v);
	*ret_len = a.ulValueLen;
	return 0;
}

/* A CK_ULONG or CK_BBOOL attribute; *ret_present false when absent. */
static int get_ulong(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		     CK_ULONG *ret, bool *ret_present)
{
	CK_ATTRIBUTE a = { type, ret, sizeof(*ret) };
	CK_RV rv;

	rv = t->mod->fl->C_GetAttributeValue(t->session, obj, &a, 1);
	*ret_present = rv == CKR_OK && a.ulValueLen == sizeof(*ret);
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
		return 0;
	return rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
		       (unsigned long)type);
}

static int get_bool(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		    bool dflt, bool *ret)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = { type, &b, sizeof(b) };
	CK_RV rv;

	rv = t->mod->fl->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == sizeof(b)) {
		*ret = b != CK_FALSE;
		return 0;
	}
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) {
		*ret = dflt;
		return 0;
	}
	return rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
		       (unsigned long)type);
}

static int find_private_key(struct p11_signer *t, const struct p11_uri *u)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ULONG n = 1;
	CK_OBJECT_HANDLE found[2];
	size_t nfound = 0;

	if (u->val[U_OBJECT])
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, u->val[U_OBJECT], u->len[U_OBJECT] };
	if (u->val[U_ID])
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, u->val[U_ID], u->len[U_ID] };
	GUARD(find_objects(t, tmpl, n, found, &nfound));
	ENSURE(nfound > 0, PAWL_E_NOT_FOUND, "%.512s: no such private key on the token%s", t->name,
	       t->login ? "" : " (not logged in: private keys are hidden without a PIN)");
	ENSURE(nfound == 1, PAWL_E_INVALID,
	       "%.512s: several private keys match; name one with object= and/or id=", t->name);
	t->key = found[0];
	return 0;
}

/* DER: one TLV with tag that fills c exactly (definite, minimal length of
 * at most two bytes: nothing here is larger). */
static bool der_whole(pawl_cursor c, uint8_t tag, const uint8_t **ret, size_t *ret_len)
{
	uint8_t t, b, b2;
	size_t len;

	if (!cursor_peek(&c, &t) || t != tag || !cursor_skip(&c, 1))
		return false;
	if (!cursor_peek(&c, &b) || !cursor_skip(&c, 1))
		return false;
	if (b < 0x80) {
		len = b;
	} else if (b == 0x81) {
		if (!cursor_peek(&c, &b) || !cursor_skip(&c, 1) || b < 0x80)
			return false;
		len = b;
	} else if (b == 0x82) {
		if (!cursor_peek(&c, &b) || !cursor_skip(&c, 1) || !cursor_peek(&c, &b2) ||
		    !cursor_skip(&c, 1))
			return false;
		len = (size_t)b << 8 | b2;
		if (len < 0x100)
			return false;
	} else {
		return false;
	}
	if (len != c.left)
		return false;
	*ret = c.p;
	*ret_len = len;
	return true;
}

enum curve { CURVE_P256, CURVE_P384, CURVE_ED25519, CURVE_OTHER };

/* CKA_EC_PARAMS: the curve's OID, or for Edwards curves (PKCS#11 3.0)
 * also the PrintableString "edwards25519" that OpenSC's pkcs11-tool
 * writes. */
static enum curve ec_curve(const uint8_t *p, size_t n)
{
	static const uint8_t p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const uint8_t p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const uint8_t ed25519[] = { 0x2b, 0x65, 0x70 }; /* RFC 8410 */
	static const uint8_t ed25519_gnu[] = { 0x2b, 0x06, 0x01, 0x04, 0x01,
					       0xda, 0x47, 0x0f, 0x01 };
	const uint8_t *v;
	size_t len;

	if (der_whole(cursor_init(p, n), 0x06, &v, &len)) {
		if (len == sizeof(p256) && memcmp(v, p256, len) == 0)
			return CURVE_P256;
		if (len == sizeof(p384) && memcmp(v, p384, len) == 0)
			return CURVE_P384;
		if ((len == sizeof(ed25519) && memcmp(v, ed25519, len) == 0) ||
		    (len == sizeof(ed25519_gnu) && memcmp(v, ed25519_gnu, len) == 0))
			return CURVE_ED25519;
	} else if (der_whole(cursor_init(p, n), 0x13, &v, &len)) {
		if (len == 12 && memcmp(v, "edwards25519", 12) == 0)
			return CURVE_ED25519;
	}
	return CURVE_OTHER;
}

/* CKA_EC_POINT is a DER OCTET STRING holding the point; some modules
 * return the bare point. The two cannot be confused: the wrapped form is
 * taken only when it fills the attribute exactly and what it wraps has a
 * length the curve allows. */
static bool ec_point(const uint8_t *p, size_t n, size_t a, size_t b, const uint8_t **ret,
		     size_t *ret_len)
{
	const uint8_t *v;
	size_t len;

	if (der_whole(cursor_init(p, n), 0x04, &v, &len) && (len == a || len == b)) {
		*ret = v;
		*ret_len = len;
		return true;
	}
	if (n == a || n == b) {
		*ret = p;
		*ret_len = n;
		return true;
	}
	return false;
}

static void ossl_param_bld_freep(OSSL_PARAM_BLD **p) { OSSL_PARAM_BLD_free(*p); }
static void ossl_param_freep(OSSL_PARAM **p) { OSSL_PARAM_free(*p); }
static void bn_freep(BIGNUM **p) { BN_free(*p); }

static int pkey_from_params(EVP_PKEY **ret, const char *type, OSSL_PARAM_BLD *bld,
			    const char *name)
{
	_cleanup_(ossl_param_freep) OSSL_PARAM *p = NULL;
	_cleanup_pkey_ctx_ EVP_PKEY_CTX *ctx = NULL;
	_cleanup_pkey_ctx_ EVP_PKEY_CTX *check = NULL;
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;

	drop_module_errors();
	p = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!p || !ctx)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s: cannot build the public key", name);
	GUARD_OSSL(EVP_PKEY_fromdata_init(ctx), "%.512s: cannot build the public key", name);
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, p) != 1)
		return pawl_error_ossl(PAWL_E_KEY, "%.512s: the token's public key is invalid",
				       name);
	/* For EC: the point is on the curve and not the identity. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s", name);
	if (EVP_PKEY_public_check(check) != 1)
		return pawl_error_ossl(PAWL_E_KEY, "%.512s: the token's public key is invalid",
				       name);
	*ret = TAKE_PTR(pkey);
	return 0;
}

static int pub_ec(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_KEY_TYPE kt, EVP_PKEY **ret)
{
	_cleanup_free_ uint8_t *ecparams = NULL, *point = NULL;
	_cleanup_(ossl_param_bld_freep) OSSL_PARAM_BLD *bld = NULL;
	size_t ecparams_len, point_len, len;
	const uint8_t *raw;
	enum curve curve;
	char hex[2 * 32 + 1];

	GUARD(get_attr(t, obj, CKA_EC_PARAMS, ATTR_MAX, &ecparams, &ecparams_len));
	GUARD(get_attr(t, obj, CKA_EC_POINT, ATTR_MAX, &point, &point_len));
	ENSURE(ecparams && point, PAWL_E_KEY,
	       "%.512s: the public key has no CKA_EC_PARAMS or CKA_EC_POINT", t->name);
	curve = ec_curve(ecparams, ecparams_len);
	if (curve == CURVE_OTHER) {
		hex_encode(hex, ecparams, ecparams_len < 32 ? ecparams_len : 32);
		return pawl_error_set(PAWL_E_UNSUPPORTED,
				      "%.512s: unsupported curve (CKA_EC_PARAMS %s%s); pawl signs "
				      "with Ed25519, P-256 and P-384",
				      t->name, hex, ecparams_len > 32 ? "..." : "");
	}
	if (kt == CKK_EC_EDWARDS) {
		ENSURE(curve == CURVE_ED25519, PAWL_E_KEY,
		       "%.512s: an Edwards key with a Weierstrass curve", t->name);
		ENSURE(ec_point(point, point_len, 32, 32, &raw, &len), PAWL_E_KEY,
		       "%.512s: malformed Ed25519 CKA_EC_POINT (%zu bytes)", t->name, point_len);
		drop_module_errors();
		*ret = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
		if (!*ret)
			return pawl_error_ossl(PAWL_E_KEY, "%.512s: invalid Ed25519 public key",
					       t->name);
		t->kind = KEY_ED25519;
		t->mech = CKM_EDDSA;
		t->siglen = 64;
		return 0;
	}
	/* Ed25519 under CKK_EC is how some pre-3.0 modules spell it; they
	 * would want a mechanism we cannot guess. */
	ENSURE(curve != CURVE_ED25519, PAWL_E_UNSUPPORTED,
	       "%.512s: Ed25519 key of type CKK_EC; pawl needs CKK_EC_EDWARDS", t->name);
	/* Uncompressed (04 || X || Y) or compressed (02/03 || X). */
	if (curve == CURVE_P256) {
		ENSURE(ec_point(point, point_len, 65, 33, &raw, &len), PAWL_E_KEY,
		       "%.512s: malformed P-256 CKA_EC_POINT (%zu bytes)", t->name, point_len);
		t->kind = KEY_ECDSA_P256;
		t->siglen = 64;
	} else {
		ENSURE(ec_point(point, point_len, 97, 49, &raw, &len), PAWL_E_KEY,
		       "%.512s: malformed P-384 CKA_EC_POINT (%zu bytes)", t->name, point_len);
		t->kind = KEY_ECDSA_P384;
		t->siglen = 96;
	}
	t->mech = CKM_ECDSA;
	drop_module_errors();
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    curve == CURVE_P256 ? "P-256" : "P-384", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw, len) != 1)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s: cannot build the public key", t->name);
	return pkey_from_params(ret, "EC", bld, t->name);
}

static int pub_rsa(struct p11_signer *t, CK_OBJECT_HANDLE obj, EVP_PKEY **ret)
{
	_cleanup_free_ uint8_t *mod = NULL, *exp = NULL;
	_cleanup_(ossl_param_bld_freep) OSSL_PARAM_BLD *bld = NULL;
	_cleanup_(bn_freep) BIGNUM *n = NULL;
	_cleanup_(bn_freep) BIGNUM *e = NULL;
	size_t mod_len, exp_len;

	GUARD(get_attr(t, obj, CKA_MODULUS, SIG_MAX + 1, &mod, &mod_len));
	GUARD(get_attr(t, obj, CKA_PUBLIC_EXPONENT, 64, &exp, &exp_len));
	ENSURE(mod && exp && mod_len > 0 && exp_len > 0, PAWL_E_KEY,
	       "%.512s: the RSA key has no readable CKA_MODULUS or CKA_PUBLIC_EXPONENT", t->name);
	drop_module_errors();
	n = BN_bin2bn(mod, (int)mod_len, NULL);
	e = BN_bin2bn(exp, (int)exp_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!n || !e || !bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s: cannot build the public key", t->name);
	GUARD(pkey_from_params(ret, "RSA", bld, t->name));
	t->kind = KEY_RSA_PSS_SHA256;
	t->mech = CKM_RSA_PKCS_PSS;
	/* Exactly the modulus size, as key_verify() insists. */
	t->siglen = (size_t)BN_num_bytes(n);
	return 0;
}

/* The public key object that belongs to the private key: same CKA_ID
 * (narrowed by label if the id is shared), else same label. */
static int find_public_key(struct p11_signer *t, CK_KEY_TYPE kt, CK_OBJECT_HANDLE *ret,
			   bool *ret_found)
{
	_cleanup_free_ uint8_t *id = NULL, *label = NULL;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[4] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) } };
	CK_OBJECT_HANDLE found[2];
	size_t id_len, label_len, nfound = 0;

	*ret_found = false;
	GUARD(get_attr(t, t->key, CKA_ID, ATTR_MAX, &id, &id_len));
	GUARD(get_attr(t, t->key, CKA_LABEL, ATTR_MAX, &label, &label_len));
	if (id && id_len > 0) {
		tmpl[2] = (CK_ATTRIBUTE){ CKA_ID, id, id_len };
		GUARD(find_objects(t, tmpl, 3, found, &nfound));
		if (nfound > 1 && label && label_len > 0) {
			tmpl[3] = (CK_ATTRIBUTE){ CKA_LABEL, label, label_len };
			GUARD(find_objects(t, tmpl, 4, found, &nfound));
		}
	} else if (label && label_len > 0) {
		tmpl[2] = (CK_ATTRIBUTE){ CKA_LABEL, label, label_len };
		GUARD(find_objects(t, tmpl, 3, found, &nfound));
	}
	ENSURE(nfound <= 1, PAWL_E_INVALID,
	       "%.512s: several public keys share the private key's id and label", t->name);
	if (nfound == 1) {
		*ret = found[0];
		*ret_found = true;
	}
	return 0;
}

static int load_public(struct p11_signer *t, EVP_PKEY **ret)
{
	CK_ULONG kt = 0;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
	bool present, found;

	GUARD(get_ulong(t, t->key, CKA_KEY_TYPE, &kt, &present));
	ENSURE(present, PAWL_E_KEY, "%.512s: the private key has no CKA_KEY_TYPE", t->name);
	ENSURE(kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_RSA, PAWL_E_UNSUPPORTED,
	       "%.512s: unsupported key type 0x%lx (pawl signs with Ed25519, ECDSA and RSA)",
	       t->name, (unsigned long)kt);
	GUARD(find_public_key(t, kt, &pub, &found));
	if (kt == CKK_RSA)
		/* The private key object carries the public values too. */
		return pub_rsa(t, found ? pub : t->key, ret);
	ENSURE(found, PAWL_E_NOT_FOUND,
	       "%.512s: no public key object with the private key's id or label; import the "
	       "public key into the token",
	       t->name);
	return pub_ec(t, pub, kt, ret);
}

static int check_mechanism(struct p11_signer *t)
{
	CK_MECHANISM_INFO mi;
	const char *name = t->mech == CKM_EDDSA ? "CKM_EDDSA"
			   : t->mech == CKM_ECDSA ? "CKM_ECDSA"
						  : "CKM_RSA_PKCS_PSS";
	CK_RV rv;

	rv = t->mod->fl->C_GetMechanismInfo(t->slot, t->mech, &mi);
	if (rv == CKR_MECHANISM_INVALID)
		return pawl_error_set(PAWL_E_UNSUPPORTED, "%.512s: the token does not offer %s",
				      t->name, name);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "%.512s: C_GetMechanismInfo(%s) failed", t->name,
			       name);
	ENSURE(mi.flags & CKF_SIGN, PAWL_E_UNSUPPORTED, "%.512s: the token cannot sign with %s",
	       t->name, name);
	return 0;
}

static const char *module_default(void)
{
	const char *env = secure_getenv("PAWL_PKCS11_MODULE");

	if (env && *env)
		return env;
	for (size_t i = 0; i < ARRAY_SIZE(proxy_modules); i++)
		if (access(proxy_modules[i], F_OK) == 0)
			return proxy_modules[i];
	return NULL;
}

/* Everything that touches the module, under registry_lock. pin is wiped
 * by the caller, or moved into t. */
static int open_key(struct p11_signer *t, const struct p11_uri *u, struct pin *pin,
		    EVP_PKEY **ret)
{
	CK_TOKEN_INFO ti;
	const char *path = u->val[U_MODULE_PATH];
	bool can_sign;

	if (!path) {
		path = module_default();
		ENSURE(path, PAWL_E_KEY,
		       "%.512s: no PKCS#11 module: add ?module-path=/path/to/module.so to the URI "
		       "or set PAWL_PKCS11_MODULE",
		       t->name);
		ENSURE(path[0] == '/', PAWL_E_INVALID,
		       "PAWL_PKCS11_MODULE must be an absolute file name");
	}
	GUARD(module_get(&t->mod, path));
	GUARD(find_token(t, u, &ti));
	GUARD(open_session(t, &ti, pin));
	GUARD(find_private_key(t, u));
	GUARD(get_bool(t, t->key, CKA_SIGN, true, &can_sign));
	ENSURE(can_sign, PAWL_E_KEY, "%.512s: the key may not sign (CKA_SIGN is false)", t->name);
	GUARD(get_bool(t, t->key, CKA_ALWAYS_AUTHENTICATE, false, &t->always_auth));
	if (t->always_auth) {
		/* The token asks for the PIN again before every signature. */
		ENSURE(pin->p || (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH), PAWL_E_KEY,
		       "%.512s: the key needs the PIN for every signature "
		       "(CKA_ALWAYS_AUTHENTICATE) and none was given",
		       t->name);
		t->pin = *pin;
		*pin = (struct pin){ NULL, 0 };
	}
	GUARD(load_public(t, ret));
	return check_mechanism(t);
}

/* ---------------- 5. signing ---------------- */

static int token_sign(struct p11_signer *t, CK_MECHANISM *mech, const uint8_t *data,
		      size_t len, uint8_t *sig, CK_ULONG *siglen)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_RV rv;

	rv = fl->C_SignInit(t->session, mech, t->key);
	if (rv != CKR_OK)
		return rv_fail(rv == CKR_MECHANISM_INVALID ? PAWL_E_UNSUPPORTED : PAWL_E_KEY, rv,
			       "%.512s: C_SignInit failed", t->name);
	if (t->always_auth) {
		rv = fl->C_Login(t->session, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)t->pin.p,
				 (CK_ULONG)t->pin.len);
		if (rv != CKR_OK) {
			/* C_Sign ends the operation even when it fails. */
			CK_ULONG junk = *siglen;

			(void)fl->C_Sign(t->session, (CK_BYTE_PTR)data, (CK_ULONG)len, sig, &junk);
			OPENSSL_cleanse(sig, *siglen);
			return rv_fail(PAWL_E_KEY, rv, "%.512s: the per-signature login failed",
				       t->name);
		}
	}
	rv = fl->C_Sign(t->session, (CK_BYTE_PTR)data, (CK_ULONG)len, sig, siglen);
	if (rv != CKR_OK)
		return rv_fail(PAWL_E_KEY, rv, "%.512s: C_Sign failed", t->name);
	return 0;
}

/* r || s, each half the signature, as a DER ECDSA-Sig-Value (what TUF's
 * ecdsa-sha2-nistp* signatures are). */
static int ecdsa_der(const uint8_t *raw, size_t len, uint8_t **ret, size_t *ret_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	uint8_t *der = NULL, *p;
	int n;

	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot encode the ECDSA signature");
	}
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n > 0)
		der = xmalloc((size_t)n);
	if (n <= 0 || !der) {
		ECDSA_SIG_free(sig);
		return n <= 0 ? pawl_error_ossl(PAWL_E_CRYPTO, "cannot encode the ECDSA signature")
			      : PAWL_E_NOMEM;
	}
	p = der;
	n = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	if (n <= 0) {
		free(der);
		return pawl_error_ossl(PAWL_E_CRYPTO, "cannot encode the ECDSA signature");
	}
	*ret = der;
	*ret_len = (size_t)n;
	return 0;
}

static int p11_sign(const pawl_signer *s, const void *msg, size_t len, uint8_t **ret,
		    size_t *ret_len)
{
	static const uint8_t empty[1];
	struct p11_signer *t = s->impl;
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM mech = { t->mech, NULL, 0 };
	uint8_t digest[EVP_MAX_MD_SIZE], raw[SIG_MAX];
	CK_ULONG rawlen = sizeof(raw);
	const uint8_t *data = len ? msg : empty;
	size_t datalen = len;
	uint8_t *out;
	int r;

	ENSURE(t->pid == getpid(), PAWL_E_KEY,
	       "%.512s: a PKCS#11 signer cannot be used after fork(); load it again", t->name);
	if (t->kind != KEY_ED25519) {
		/* The token signs a digest we compute: CKM_ECDSA and
		 * CKM_RSA_PKCS_PSS take the hash, not the message. */
		const char *md = t->kind == KEY_ECDSA_P384 ? "SHA2-384" : "SHA2-256";

		GUARD_OSSL(EVP_Q_digest(NULL, md, NULL, data, len, digest, &datalen),
			   "%.512s: cannot hash the message", t->name);
		data = digest;
	}
	if (t->kind == KEY_RSA_PSS_SHA256) {
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
	}

	pthread_mutex_lock(&t->lock);
	ERR_set_mark();
	r = token_sign(t, &mech, data, datalen, raw, &rawlen);
	ERR_pop_to_mark();
	pthread_mutex_unlock(&t->lock);
	GUARD(r);
	ENSURE(rawlen == t->siglen, PAWL_E_KEY,
	       "%.512s: the token returned a %lu-byte signature, not %zu", t->name,
	       (unsigned long)rawlen, t->siglen);
	if (t->kind == KEY_ECDSA_P256 || t->kind == KEY_ECDSA_P384)
		return ecdsa_der(raw, rawlen, ret, ret_len);
	out = xmalloc(rawlen);
	if (!out)
		return PAWL_E_NOMEM;
	memcpy(out, raw, rawlen);
	*ret = out;
	*ret_len = rawlen;
	return 0;
}

static void p11_free(pawl_signer *s)
{
	struct p11_signer *t = s->impl;

	if (!t)
		return;
	/* After a fork the module is not ours to call in this process. */
	if (t->mod && t->pid == getpid()) {
		pthread_mutex_lock(&registry_lock);
		ERR_set_mark();
		if (t->login)
			login_put(t->mod, t->login, t->session);
		if (t->session != CK_INVALID_HANDLE)
			(void)t->mod->fl->C_CloseSession(t->session);
		module_put(t->mod);
		ERR_pop_to_mark();
		pthread_mutex_unlock(&registry_lock);
	}
	pin_wipe(&t->pin);
	if (t->lock_ok)
		pthread_mutex_destroy(&t->lock);
	free(t->name);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
	s->impl = NULL;
}

static const signer_ops pkcs11_ops = {
	.kind = "pkcs11",
	.sign = p11_sign,
	.free = p11_free,
};

int signer_load_pkcs11(pawl_signer **ret, const char *uri, const char *pin_arg)
{
	_cleanup_(uri_clearp) struct p11_uri u = { 0 };
	_cleanup_(pin_wipep) struct pin pin = { NULL, 0 };
	_cleanup_signer_ pawl_signer *s = NULL;
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;
	struct p11_signer *t;
	int r;

	ENSURE(ret, PAWL_E_INVALID, "no output");
	GUARD(uri_parse(&u, uri));
	s = xcalloc(1, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	t = xcalloc(1, sizeof(*t));
	if (!t)
		return PAWL_E_NOMEM;
	s->ops = &pkcs11_ops;
	s->impl = t;
	t->session = CK_INVALID_HANDLE;
	t->pid = getpid();
	ENSURE(pthread_mutex_init(&t->lock, NULL) == 0, PAWL_E_GENERIC, "cannot create a mutex");
	t->lock_ok = true;
	GUARD(uri_display(&u, &t->name));
	GUARD(pin_get(&pin, &u, pin_arg));

	pthread_mutex_lock(&registry_lock);
	ERR_set_mark();
	r = open_key(t, &u, &pin, &pkey);
	ERR_pop_to_mark();
	pthread_mutex_unlock(&registry_lock);
	GUARD(r);
	pin_wipe(&pin); /* logged in: not needed any more */
	if (key_from_pkey(&s->pub, pkey, t->kind) < 0)
		return pawl_error_prefix(pawl_error_last()->code, "%.512s: ", t->name);
	*ret = TAKE_PTR(s);
	return 0;
}

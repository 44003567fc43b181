/*
 * error.c - the per-thread error object behind pawl_error_last().
 *
 * Messages are bounded (ERR_MAX) and truncated, never overflowed.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "util/guard.h"

#define ERR_MAX 1024

static _Thread_local char err_msg[ERR_MAX];
static _Thread_local pawl_error err_last = { 0, "" };

PAWL_API const pawl_error *pawl_error_last(void)
{
	err_last.message = err_msg;
	return &err_last;
}

PAWL_API void pawl_error_clear(void)
{
	err_last.code = 0;
	err_msg[0] = '\0';
}

PAWL_API int pawl_error_setv(int code, const char *fmt, va_list ap)
{
	err_last.code = code;
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	return code;
}

PAWL_API int pawl_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pawl_error_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

PAWL_API int pawl_error_set_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	pawl_error_setv(code, fmt, ap);
	va_end(ap);
	n = strlen(err_msg);
	if (n < sizeof(err_msg))
		snprintf(err_msg + n, sizeof(err_msg) - n, ": %s", strerror(errnum));
	return code;
}

PAWL_API int pawl_error_prefix(int code, const char *fmt, ...)
{
	char old[ERR_MAX];
	size_t n, oldlen;
	va_list ap;

	oldlen = strlen(err_msg);
	memcpy(old, err_msg, oldlen + 1);
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	/* Append the old message, truncating what does not fit. */
	n = strlen(err_msg);
	if (oldlen > sizeof(err_msg) - 1 - n)
		oldlen = sizeof(err_msg) - 1 - n;
	memcpy(err_msg + n, old, oldlen);
	err_msg[n + oldlen] = '\0';
	err_last.code = code;
	return code;
}

int pawl_error_ossl(int code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	size_t n;

	if (code == 0)
		code = PAWL_E_CRYPTO;
	va_start(ap, fmt);
	pawl_error_setv(code, fmt, ap);
	va_end(ap);
	/* Report the earliest error (the root cause) and drain the rest so
	 * that it does not leak into a later, unrelated report. */
	e = ERR_get_error();
	if (e != 0) {
		n = strlen(err_msg);
		if (n + 3 < sizeof(err_msg)) {
			memcpy(err_msg + n, " (", 2);
			ERR_error_string_n(e, err_msg + n + 2, sizeof(err_msg) - n - 3);
			n = strlen(err_msg);
			if (n + 1 < sizeof(err_msg)) {
				err_msg[n] = ')';
				err_msg[n + 1] = '\0';
			}
		}
	}
	ERR_clear_error();
	return code;
}

PAWL_API const char *pawl_strerror(int code)
{
	switch (code) {
	case PAWL_OK: return "ok";
	case PAWL_E_GENERIC: return "error";
	case PAWL_E_NOMEM: return "out of memory";
	case PAWL_E_INVALID: return "invalid argument";
	case PAWL_E_FORMAT: return "malformed input";
	case PAWL_E_SIGNATURE: return "signature verification failed";
	case PAWL_E_EXPIRED: return "expired";
	case PAWL_E_ROLLBACK: return "rollback";
	case PAWL_E_LENGTH: return "length mismatch";
	case PAWL_E_HASH: return "hash mismatch";
	case PAWL_E_NOT_FOUND: return "not found";
	case PAWL_E_IO: return "i/o error";
	case PAWL_E_NETWORK: return "network error";
	case PAWL_E_LIMIT: return "limit exceeded";
	case PAWL_E_UNSUPPORTED: return "unsupported";
	case PAWL_E_CRYPTO: return "crypto library error";
	case PAWL_E_POLICY: return "refused by policy";
	case PAWL_E_LOCKED: return "locked";
	case PAWL_E_KEY: return "key error";
	}
	return "unknown error";
}

PAWL_API const char *pawl_version(void)
{
	return PAWL_VERSION_STRING;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		pawl_error_set(PAWL_E_NOMEM, "out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		pawl_error_set(PAWL_E_NOMEM, "out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *xreallocarray(void *old, size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total)) {
		pawl_error_set(PAWL_E_NOMEM, "allocation size overflow");
		return NULL;
	}
	p = realloc(old, total ? total : 1);
	if (!p)
		pawl_error_set(PAWL_E_NOMEM, "out of memory (%zu bytes)", total);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

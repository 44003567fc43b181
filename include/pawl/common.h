/*
 * pawl/common.h - the error model and export macros shared by every libpawl
 * module.
 *
 * Every public function that can fail returns 0 on success or a negative
 * pawl_err. The codes are few and stable; the human-readable detail (which
 * role, file, key id or URL) is kept in a per-thread error object that
 * pawl_error_last() returns. A code is never replaced by a vaguer one on its
 * way up: callers may add context to the message, never change the code.
 *
 * Outputs are written only on success. Unless a function says otherwise,
 * strings it returns are owned by the object they came from and stay valid
 * until that object is freed.
 */
#ifndef PAWL_COMMON_H
#define PAWL_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PAWL_BUILDING) && defined(__GNUC__)
#define PAWL_API __attribute__((visibility("default")))
#else
#define PAWL_API
#endif

#if defined(__GNUC__)
#define PAWL_MUST_USE __attribute__((warn_unused_result))
#define PAWL_FORMAT(a, b) __attribute__((format(printf, a, b)))
#else
#define PAWL_MUST_USE
#define PAWL_FORMAT(a, b)
#endif

#define PAWL_VERSION_MAJOR 0
#define PAWL_VERSION_MINOR 2
#define PAWL_VERSION_PATCH 0
#define PAWL_VERSION_STRING "0.2.0"

/* The TUF specification version pawl implements and writes. */
#define PAWL_SPEC_VERSION "1.0.31"

typedef enum pawl_err {
	PAWL_OK = 0,
	PAWL_E_GENERIC = -1,     /* anything not covered below */
	PAWL_E_NOMEM = -2,       /* allocation failed */
	PAWL_E_INVALID = -3,     /* the caller passed an invalid argument */
	PAWL_E_FORMAT = -4,      /* malformed or non-conforming input */
	PAWL_E_SIGNATURE = -5,   /* signatures missing, invalid or below threshold */
	PAWL_E_EXPIRED = -6,     /* metadata past its expiry time */
	PAWL_E_ROLLBACK = -7,    /* a version went backwards */
	PAWL_E_LENGTH = -8,      /* content longer or shorter than signed */
	PAWL_E_HASH = -9,        /* content digest differs from the signed one */
	PAWL_E_NOT_FOUND = -10,  /* no such file, target, role or key */
	PAWL_E_IO = -11,         /* local file system error */
	PAWL_E_NETWORK = -12,    /* transport failure */
	PAWL_E_LIMIT = -13,      /* a size, count or depth limit was reached */
	PAWL_E_UNSUPPORTED = -14,/* unknown algorithm, scheme or spec version */
	PAWL_E_CRYPTO = -15,     /* the crypto library failed internally */
	PAWL_E_POLICY = -16,     /* refused by policy: weak key, scheme, URL */
	PAWL_E_LOCKED = -17,     /* another process holds the lock */
	PAWL_E_KEY = -18,        /* a key could not be loaded or used */
} pawl_err;

typedef struct pawl_error {
	int code;            /* a pawl_err */
	const char *message; /* never NULL; "" when there is no detail */
} pawl_error;

/* The last error set on this thread. Valid until the next libpawl call. */
PAWL_API const pawl_error *pawl_error_last(void);

/* Forget the last error on this thread. */
PAWL_API void pawl_error_clear(void);

/*
 * Set this thread's error: code (a pawl_err) and a printf-style message;
 * returns code, so that `return pawl_error_set(PAWL_E_INVALID, "...")`
 * works. For a program's own steps and for callbacks that fail, so that
 * one error object carries every failure up to where it is reported.
 */
PAWL_API int pawl_error_set(int code, const char *fmt, ...) PAWL_FORMAT(2, 3);
PAWL_API int pawl_error_setv(int code, const char *fmt, va_list ap) PAWL_FORMAT(2, 0);
/* The same, with ": " and strerror(errnum) appended. */
PAWL_API int pawl_error_set_errno(int code, int errnum, const char *fmt, ...) PAWL_FORMAT(3, 4);
/* Put context in front of the current message ("trusted root: " +
 * message); returns code unchanged (the code is never replaced). */
PAWL_API int pawl_error_prefix(int code, const char *fmt, ...) PAWL_FORMAT(2, 3);

/* A short, stable name for a code: "signature", "expired", ... */
PAWL_API const char *pawl_strerror(int code);

/* The library version, as "MAJOR.MINOR.PATCH". */
PAWL_API const char *pawl_version(void);

#ifdef __cplusplus
}
#endif
#endif

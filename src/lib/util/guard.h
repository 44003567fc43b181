/*
 * guard.h - the few checking macros libpawl uses everywhere, and the
 * internal half of the error model.
 *
 * A function that can fail returns int: 0 or a negative pawl_err. It carries
 * PAWL_MUST_USE so that a dropped result does not compile under -Werror.
 *
 *   GUARD(expr)              return expr's code if it is negative.
 *   GUARD_GOTO(r, expr, out) store expr's code in r; goto out if negative.
 *   ENSURE(cond, code, ...)  if cond is false, set the error message
 *                            (printf-style) and return code.
 *   ENSURE_GOTO(r, cond, code, out, ...)   the same, jumping to out.
 *   GUARD_OSSL(expr, ...)    OpenSSL calls: only a return of exactly 1 is
 *                            success; anything else becomes PAWL_E_CRYPTO
 *                            with the OpenSSL error queue in the message.
 *
 * Only pawl_error_set() and friends write the thread's error object; the
 * detail always names the role, file, key id or URL involved.
 */
#ifndef PAWL_GUARD_H
#define PAWL_GUARD_H

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "pawl/common.h"

#define PAWL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PAWL_UNUSED __attribute__((unused))
#define PAWL_INTERNAL __attribute__((visibility("hidden")))

/* pawl_error_set(), pawl_error_setv(), pawl_error_set_errno() and
 * pawl_error_prefix() are public: pawl/common.h. */
/* Drain OpenSSL's error queue into the message; returns PAWL_E_CRYPTO
 * or code when code is not 0. */
int pawl_error_ossl(int code, const char *fmt, ...) PAWL_PRINTF(2, 3);

#define GUARD(expr)                                                            \
	do {                                                                   \
		int guard_r_ = (expr);                                         \
		if (guard_r_ < 0)                                              \
			return guard_r_;                                       \
	} while (0)

#define GUARD_GOTO(r, expr, label)                                             \
	do {                                                                   \
		(r) = (expr);                                                  \
		if ((r) < 0)                                                   \
			goto label;                                            \
	} while (0)

#define ENSURE(cond, code, ...)                                                \
	do {                                                                   \
		if (!(cond))                                                   \
			return pawl_error_set((code), __VA_ARGS__);            \
	} while (0)

#define ENSURE_GOTO(r, cond, code, label, ...)                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			(r) = pawl_error_set((code), __VA_ARGS__);             \
			goto label;                                            \
		}                                                              \
	} while (0)

#define GUARD_OSSL(expr, ...)                                                  \
	do {                                                                   \
		if ((expr) != 1)                                               \
			return pawl_error_ossl(PAWL_E_CRYPTO, __VA_ARGS__);    \
	} while (0)

/* Automatic cleanup, systemd style. Each free function accepts NULL. */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) take_ptr_tmp_ = (p);                             \
		(p) = NULL;                                                    \
		take_ptr_tmp_;                                                 \
	})
#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int take_fd_tmp_ = (fd);                                       \
		(fd) = -1;                                                     \
		take_fd_tmp_;                                                  \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Checked size arithmetic. Return 0, or PAWL_E_LIMIT on overflow. */
static inline PAWL_MUST_USE int size_add(size_t *out, size_t a, size_t b)
{
	if (__builtin_add_overflow(a, b, out))
		return pawl_error_set(PAWL_E_LIMIT, "size overflow");
	return 0;
}
static inline PAWL_MUST_USE int size_mul(size_t *out, size_t a, size_t b)
{
	if (__builtin_mul_overflow(a, b, out))
		return pawl_error_set(PAWL_E_LIMIT, "size overflow");
	return 0;
}

/* Allocation helpers that set PAWL_E_NOMEM detail. They return NULL on
 * failure; callers return PAWL_E_NOMEM. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif

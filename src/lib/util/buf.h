/*
 * buf.h - a growing byte buffer with a hard maximum, and a bounded reader.
 *
 * Every buffer that holds bytes a peer controls is created with a maximum
 * size (curl's dynbuf habit): appending past it fails with PAWL_E_LIMIT
 * instead of growing without bound. The contents are always followed by a
 * NUL byte that is not counted in len, so text can be used as a C string.
 */
#ifndef PAWL_BUF_H
#define PAWL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/guard.h"

typedef struct pawl_buf {
	char *data;  /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;  /* the most bytes this buffer may ever hold */
} pawl_buf;

#define PAWL_BUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes) }

PAWL_MUST_USE int buf_reserve(pawl_buf *b, size_t extra);
PAWL_MUST_USE int buf_append(pawl_buf *b, const void *p, size_t n);
PAWL_MUST_USE int buf_putc(pawl_buf *b, char c);
PAWL_MUST_USE int buf_puts(pawl_buf *b, const char *s);
PAWL_MUST_USE int buf_printf(pawl_buf *b, const char *fmt, ...) PAWL_PRINTF(2, 3);
/* Forget the contents, keep the allocation. */
void buf_reset(pawl_buf *b);
/* Wipe (OPENSSL_cleanse) and free; for buffers that held secrets. */
void buf_wipe(pawl_buf *b);
void buf_free(pawl_buf *b);
/* Hand the allocation to the caller (NUL-terminated; never NULL on
 * success: an empty buffer yields ""). The buffer is left empty. */
PAWL_MUST_USE int buf_steal(pawl_buf *b, char **ret, size_t *ret_len);

static inline void buf_freep(pawl_buf *b)
{
	buf_free(b);
}
#define _cleanup_buf_ _cleanup_(buf_freep)

/* A bounded reader over untrusted bytes: every read checks what is left. */
typedef struct pawl_cursor {
	const uint8_t *p;
	size_t left;
} pawl_cursor;

static inline pawl_cursor cursor_init(const void *p, size_t n)
{
	pawl_cursor c = { (const uint8_t *)p, n };
	return c;
}

static inline bool cursor_peek(const pawl_cursor *c, uint8_t *ret)
{
	if (c->left == 0)
		return false;
	*ret = c->p[0];
	return true;
}

static inline bool cursor_skip(pawl_cursor *c, size_t n)
{
	if (n > c->left)
		return false;
	c->p += n;
	c->left -= n;
	return true;
}

#endif

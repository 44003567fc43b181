/*
 * buf.c - see buf.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/buf.h"

int buf_reserve(pawl_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	GUARD(size_add(&need, b->len, extra));
	GUARD(size_add(&need, need, 1)); /* the trailing NUL */
	if (need - 1 > b->max)
		return pawl_error_set(PAWL_E_LIMIT, "buffer limit of %zu bytes reached", b->max);
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	/* Never allocate past the maximum (plus the NUL); max + 1 must not
	 * wrap when max is SIZE_MAX. */
	if (b->max < SIZE_MAX && cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(pawl_buf *b, const void *p, size_t n)
{
	GUARD(buf_reserve(b, n));
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_putc(pawl_buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_puts(pawl_buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(pawl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pawl_error_set(PAWL_E_GENERIC, "formatting failed");
	GUARD(buf_reserve(b, (size_t)n));
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_reset(pawl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_wipe(pawl_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

void buf_free(pawl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int buf_steal(pawl_buf *b, char **ret, size_t *ret_len)
{
	if (!b->data) {
		GUARD(buf_reserve(b, 0));
		b->data[0] = '\0';
	}
	*ret = b->data;
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return 0;
}

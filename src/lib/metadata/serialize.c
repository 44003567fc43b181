/*
 * serialize.c - writing metadata files.
 *
 * Signatures are made over the canonical form of "signed", but files are
 * written as ordinary JSON: canonical JSON writes control characters raw
 * (the newlines of a PEM key, for one), which no JSON parser accepts. So,
 * like python-tuf, pawl writes standard JSON with sorted keys (escaping
 * control characters) and canonicalises again when verifying.
 */
#include <stdio.h>
#include <string.h>

#include "metadata/metadata.h"

static int write_string(pawl_buf *b, const char *s, size_t len)
{
	size_t run = 0;

	GUARD(buf_putc(b, '"'));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		GUARD(buf_append(b, s + i - run, run));
		run = 0;
		switch (c) {
		case '"': GUARD(buf_puts(b, "\\\"")); break;
		case '\\': GUARD(buf_puts(b, "\\\\")); break;
		case '\n': GUARD(buf_puts(b, "\\n")); break;
		case '\r': GUARD(buf_puts(b, "\\r")); break;
		case '\t': GUARD(buf_puts(b, "\\t")); break;
		case '\b': GUARD(buf_puts(b, "\\b")); break;
		case '\f': GUARD(buf_puts(b, "\\f")); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			GUARD(buf_puts(b, esc));
		}
	}
	GUARD(buf_append(b, s + len - run, run));
	return buf_putc(b, '"');
}

static int write_value(pawl_buf *b, const pj_value *v, unsigned depth)
{
	ENSURE(depth < 128, PAWL_E_LIMIT, "JSON nesting too deep to write");
	switch (pj_typeof(v)) {
	case PJ_NULL: return buf_puts(b, "null");
	case PJ_TRUE: return buf_puts(b, "true");
	case PJ_FALSE: return buf_puts(b, "false");
	case PJ_INT: return buf_printf(b, "%lld", (long long)v->u.i);
	case PJ_STRING: return write_string(b, v->u.s, v->len);
	case PJ_ARRAY:
		GUARD(buf_putc(b, '['));
		for (uint32_t i = 0; i < v->len; i++) {
			if (i)
				GUARD(buf_putc(b, ','));
			GUARD(write_value(b, &v->u.items[i], depth + 1));
		}
		return buf_putc(b, ']');
	case PJ_OBJECT:
		GUARD(buf_putc(b, '{'));
		for (uint32_t i = 0; i < v->len; i++) {
			if (i)
				GUARD(buf_putc(b, ','));
			GUARD(write_string(b, v->u.members[i].key, v->u.members[i].klen));
			GUARD(buf_putc(b, ':'));
			GUARD(write_value(b, &v->u.members[i].value, depth + 1));
		}
		return buf_putc(b, '}');
	}
	return pawl_error_set(PAWL_E_INVALID, "bad JSON value");
}

int md_json_write(const pj_value *v, char **ret, size_t *ret_len)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	int r = write_value(&b, v, 0);

	if (r == 0)
		r = buf_putc(&b, '\n');
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	return buf_steal(&b, ret, ret_len);
}

int md_serialize(pawl_md *md, char **ret, size_t *ret_len)
{
	return md_json_write(pj_root(md->doc), ret, ret_len);
}

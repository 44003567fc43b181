/*
 * canonical.c - OLPC canonical JSON as securesystemslib writes it (the
 * bytes TUF signatures cover), and deep equality.
 *
 * Objects are kept sorted by every way of making them, so encoding is one
 * walk with no sorting. Strings are written as their bytes with only '"'
 * and '\\' escaped. Both walks use an explicit stack: a document built by
 * hand has no depth limit, and the C stack must not be what bounds it.
 */
#include <stdlib.h>
#include <string.h>

#include "json/json_impl.h"

typedef struct walk_frame {
	const pj_value *v;
	uint32_t i;
} walk_frame;

/* A stack that starts in the caller's frame and moves to the heap when it
 * grows past it. */
typedef struct walk_stack {
	walk_frame *st;
	size_t depth, cap;
	walk_frame local[48];
} walk_stack;

static void stack_init(walk_stack *s)
{
	s->st = s->local;
	s->depth = 0;
	s->cap = ARRAY_SIZE(s->local);
}

static void stack_free(walk_stack *s)
{
	if (s->st != s->local)
		free(s->st);
}

static int stack_push(walk_stack *s, const pj_value *v)
{
	if (s->depth == s->cap) {
		walk_frame *n = xreallocarray(s->st == s->local ? NULL : s->st, s->cap * 2,
					      sizeof(*n));

		if (!n)
			return PAWL_E_NOMEM;
		if (s->st == s->local)
			memcpy(n, s->local, sizeof(s->local));
		s->st = n;
		s->cap *= 2;
	}
	s->st[s->depth].v = v;
	s->st[s->depth].i = 0;
	s->depth++;
	return 0;
}

/* ---------------- canonical encoding ---------------- */

/* The encoder runs twice: first counting the bytes it would write, then
 * writing them into a buffer reserved once. Growing the buffer by
 * doubling instead costs copies and, for a 14 MB form, leaves megabytes
 * of freed smaller buffers resident in the heap. */
typedef struct encoder {
	pawl_buf *b;
	bool json;     /* RFC 8259: control characters escaped */
	bool pretty;   /* python-tuf's layout: indent 1, ": " after keys */
	bool counting; /* only add up the length, in count */
	size_t count;
	/* Streaming: b is a chunk handed to sink whenever the next write
	 * would not fit; the output never exists in one piece. */
	int (*sink)(void *ctx, const void *p, size_t n);
	void *sink_ctx;
} encoder;

#define SINK_CHUNK ((size_t)64 << 10)

static int flush(encoder *e)
{
	int r = 0;

	if (e->b->len > 0)
		r = e->sink(e->sink_ctx, e->b->data, e->b->len);
	e->b->len = 0;
	return r;
}

/* Room for n more bytes (and the NUL pawl_buf keeps after them). Every
 * write goes through here first, so in streaming mode this is where the
 * chunk is flushed: all of b is complete output by then. */
static inline int need(encoder *e, size_t n)
{
	pawl_buf *b = e->b;

	if (b->data && b->cap - b->len > n)
		return 0;
	if (e->sink && b->len > 0) {
		GUARD(flush(e));
		if (b->cap > n)
			return 0;
	}
	return buf_reserve(b, n);
}

/* The counting pass: checked, since an output several times the size of
 * a document (escapes) can exceed size_t where it has 32 bits. */
static inline int count(encoder *e, size_t n)
{
	if (__builtin_add_overflow(e->count, n, &e->count))
		return pawl_error_set(PAWL_E_LIMIT, "JSON: encoded form too large");
	return 0;
}

static inline int put(encoder *e, const char *s, size_t n)
{
	pawl_buf *b = e->b;

	if (e->counting)
		return count(e, n);
	GUARD(need(e, n));
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

/* The first byte of [p, end) that must be escaped: '"' or '\\', and in
 * JSON mode also a control character; 8 bytes at a time. */
static inline const char *scan_escape(const char *p, const char *end, bool ctl)
{
	while (end - p >= 8) {
		uint64_t x, t;

		memcpy(&x, p, 8);
		t = pj_swar_eq(x, '"') | pj_swar_eq(x, '\\');
		if (ctl)
			t |= pj_swar_lt(x, 0x20);
		if (t) {
#if PJ_SWAR_LE
			return p + pj_swar_first(t);
#else
			break;
#endif
		}
		p += 8;
	}
	while (p < end && *p != '"' && *p != '\\' && !(ctl && (unsigned char)*p < 0x20))
		p++;
	return p;
}

static const char short_esc[0x20] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

/* Bytes the escape of c takes beyond c itself. */
static size_t escape_extra(unsigned char c)
{
	return c >= 0x20 || short_esc[c] ? 1 : 5;
}

static int put_string(encoder *e, const char *s, size_t len)
{
	pawl_buf *b = e->b;
	const char *end = s + len;
	char *o;

	if (e->counting) {
		GUARD(count(e, len));
		GUARD(count(e, 2));
		while ((s = scan_escape(s, end, e->json)) != end)
			GUARD(count(e, escape_extra((unsigned char)*s++)));
		return 0;
	}
	GUARD(need(e, len + 2));
	o = b->data + b->len;
	*o++ = '"';
	for (;;) {
		const char *q = scan_escape(s, end, e->json);
		unsigned char c;

		memcpy(o, s, (size_t)(q - s));
		o += q - s;
		s = q;
		if (s == end)
			break;
		/* Up to 5 bytes more than reserved: "\u001f" for one byte. */
		b->len = (size_t)(o - b->data);
		GUARD(need(e, (size_t)(end - s) + 6));
		o = b->data + b->len;
		c = (unsigned char)*s++;
		*o++ = '\\';
		if (c >= 0x20) {
			*o++ = (char)c;
		} else if (short_esc[c]) {
			*o++ = short_esc[c];
		} else {
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = "0123456789abcdef"[c >> 4];
			*o++ = "0123456789abcdef"[c & 15];
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	return 0;
}

/* A string with nothing to escape. */
static int put_plain(encoder *e, const char *s, size_t len)
{
	pawl_buf *b = e->b;
	char *o;

	if (e->counting) {
		GUARD(count(e, len));
		return count(e, 2);
	}
	GUARD(need(e, len + 2));
	o = b->data + b->len;
	o[0] = '"';
	memcpy(o + 1, s, len);
	o[len + 1] = '"';
	b->len += len + 2;
	return 0;
}

bool pj_is_plain(const char *s, size_t len)
{
	return scan_escape(s, s + len, true) == s + len;
}

static int put_int(encoder *e, int64_t i)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		*--p = '-';
	return put(e, p, (size_t)(tmp + sizeof(tmp) - p));
}

static int put_newline(encoder *e, size_t indent)
{
	char *o;

	if (!e->pretty)
		return 0;
	if (e->counting) {
		GUARD(count(e, indent));
		return count(e, 1);
	}
	GUARD(need(e, indent + 1));
	o = e->b->data + e->b->len;
	*o = '\n';
	memset(o + 1, ' ', indent);
	e->b->len += indent + 1;
	return 0;
}

/* Write v; a non-empty container is opened and pushed for the walk. */
static int put_value(encoder *e, walk_stack *s, const pj_value *v)
{
	switch (pj_typeof(v)) {
	case PJ_NULL: return put(e, "null", 4);
	case PJ_FALSE: return put(e, "false", 5);
	case PJ_TRUE: return put(e, "true", 4);
	case PJ_INT: return put_int(e, v->u.i);
	case PJ_STRING:
		if (v->type & PJF_PLAIN)
			return put_plain(e, v->u.s, v->len);
		return put_string(e, v->u.s, v->len);
	case PJ_ARRAY:
		if (v->len == 0)
			return put(e, "[]", 2);
		GUARD(put(e, "[", 1));
		return stack_push(s, v);
	case PJ_OBJECT:
		if (v->type & PJF_UNSORTED)
			return pawl_error_set(PAWL_E_INVALID, "JSON: cannot encode an unfinished object");
		if (v->len == 0)
			return put(e, "{}", 2);
		GUARD(put(e, "{", 1));
		return stack_push(s, v);
	}
	return pawl_error_set(PAWL_E_INVALID, "JSON: invalid value type %u", v->type);
}

static int encode(encoder *e, walk_stack *s, const pj_value *v)
{
	s->depth = 0;
	GUARD(put_value(e, s, v));
	while (s->depth > 0) {
		walk_frame *f = &s->st[s->depth - 1];
		const pj_value *c = f->v;

		if (f->i == c->len) {
			GUARD(put_newline(e, s->depth - 1));
			GUARD(put(e, pj_typeof(c) == PJ_OBJECT ? "}" : "]", 1));
			s->depth--;
			continue;
		}
		if (f->i > 0)
			GUARD(put(e, ",", 1));
		GUARD(put_newline(e, s->depth));
		if (pj_typeof(c) == PJ_OBJECT) {
			const pj_member *m = &c->u.members[f->i++];

			GUARD(put_string(e, m->key, m->klen));
			GUARD(put(e, ": ", e->pretty ? 2 : 1));
			GUARD(put_value(e, s, &m->value));
		} else {
			GUARD(put_value(e, s, &c->u.items[f->i++]));
		}
	}
	return 0;
}

static int encode_to(pawl_buf *out, const pj_value *v, bool json, bool pretty)
{
	encoder e = { out, json, pretty, true, 0, NULL, NULL };
	size_t start = out->len;
	walk_stack s;
	int r;

	if (!v)
		return pawl_error_set(PAWL_E_INVALID, "JSON: cannot encode NULL");
	stack_init(&s);
	r = encode(&e, &s, v);
	if (r == 0)
		r = need(&e, e.count);
	if (r == 0) {
		e.counting = false;
		r = encode(&e, &s, v);
	}
	stack_free(&s);
	if (r < 0) {
		/* Outputs are written only on success. */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return r;
	}
	out->data[out->len] = '\0';
	return 0;
}

int pj_canonical(pawl_buf *out, const pj_value *v)
{
	return encode_to(out, v, false, false);
}

int pj_canonical_stream(const pj_value *v, int (*sink)(void *ctx, const void *p, size_t n),
			void *ctx)
{
	pawl_buf chunk = PAWL_BUF_INIT(SIZE_MAX / 2);
	encoder e = { &chunk, false, false, false, 0, sink, ctx };
	walk_stack s;
	int r;

	if (!v || !sink)
		return pawl_error_set(PAWL_E_INVALID, "JSON: nothing to encode");
	r = buf_reserve(&chunk, SINK_CHUNK);
	if (r == 0) {
		stack_init(&s);
		r = encode(&e, &s, v);
		stack_free(&s);
	}
	if (r == 0)
		r = flush(&e);
	buf_free(&chunk);
	return r;
}

int pj_write(pawl_buf *out, const pj_value *v, bool pretty)
{
	return encode_to(out, v, true, pretty);
}

int pj_write_cstr(pawl_buf *out, const char *s)
{
	pj_value v;
	size_t n = strlen(s);

	ENSURE(n <= UINT32_MAX, PAWL_E_LIMIT, "string too long for JSON");
	memset(&v, 0, sizeof(v));
	v.type = PJ_STRING;
	v.len = (uint32_t)n;
	v.u.s = s;
	return pj_write(out, &v, false);
}

int pj_dump(const pj_value *v, char **ret, size_t *ret_len)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	int r = pj_canonical(&b, v);

	if (r < 0) {
		buf_free(&b);
		return r;
	}
	return buf_steal(&b, ret, ret_len);
}

/* ---------------- equality ---------------- */

static bool node_equal(const pj_value *a, const pj_value *b)
{
	if (pj_typeof(a) != pj_typeof(b))
		return false;
	switch (pj_typeof(a)) {
	case PJ_NULL:
	case PJ_FALSE:
	case PJ_TRUE: return true;
	case PJ_INT: return a->u.i == b->u.i;
	case PJ_STRING: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
	case PJ_ARRAY:
	case PJ_OBJECT: return a->len == b->len; /* the walk compares the contents */
	}
	return false;
}

bool pj_equal(const pj_value *a, const pj_value *b)
{
	/* Two stacks walked in step: frame k of sa and sb hold containers of
	 * the same type and length. */
	walk_stack sa, sb;
	bool eq = false;

	if (!a || !b)
		return a == b;
	if (!node_equal(a, b))
		return false;
	stack_init(&sa);
	stack_init(&sb);
	if ((pj_typeof(a) == PJ_ARRAY || pj_typeof(a) == PJ_OBJECT) && a->len > 0) {
		if (stack_push(&sa, a) < 0 || stack_push(&sb, b) < 0)
			goto out;
	}
	while (sa.depth > 0) {
		walk_frame *fa = &sa.st[sa.depth - 1], *fb = &sb.st[sb.depth - 1];
		const pj_value *ca, *cb;

		if (fa->i == fa->v->len) {
			sa.depth--;
			sb.depth--;
			continue;
		}
		if (pj_typeof(fa->v) == PJ_OBJECT) {
			const pj_member *ma = &fa->v->u.members[fa->i];
			const pj_member *mb = &fb->v->u.members[fb->i];

			if (ma->klen != mb->klen || memcmp(ma->key, mb->key, ma->klen) != 0)
				goto out;
			ca = &ma->value;
			cb = &mb->value;
		} else {
			ca = &fa->v->u.items[fa->i];
			cb = &fb->v->u.items[fb->i];
		}
		fa->i++;
		fb->i++;
		if (!node_equal(ca, cb))
			goto out;
		if ((pj_typeof(ca) == PJ_ARRAY || pj_typeof(ca) == PJ_OBJECT) && ca->len > 0) {
			/* Out of memory for a very deep walk: say "not equal",
			 * the answer that cannot let anything through. */
			if (stack_push(&sa, ca) < 0 || stack_push(&sb, cb) < 0)
				goto out;
		}
	}
	eq = true;
out:
	stack_free(&sa);
	stack_free(&sb);
	return eq;
}

/*
 * parse.c - pj_parse(): the strict reader, in place and in one pass.
 *
 * No recursion: an explicit frame stack, bounded by max_depth, says which
 * containers are open. Members and items of open containers collect on two
 * scratch stacks that are reused for the whole document; when a container
 * closes, its part of the stack is sorted (objects), checked for duplicate
 * keys and copied into the arena in one piece. So the tree costs 16 bytes
 * per value, 32 per member and no allocation per node.
 *
 * Strings stay in the input buffer, compacted towards its start: each one
 * is decoded (escapes are never shorter than what they decode to) and
 * moved down to the write cursor, followed by a NUL. The cursor never
 * passes the reader, since every string loses at least its two quotes.
 * When the parse is done, the pages behind the last string hold nothing
 * live and are given back to the kernel. For a pretty-printed targets
 * file that is a third of the input: whitespace, quotes, punctuation and
 * numbers.
 *
 * The parser writes a NUL at buf[len]. NUL is neither whitespace, nor the
 * start of a token, nor allowed raw in a string, so every scanning loop
 * stops there without a bounds check; "p == end" then tells truncation
 * from a bad byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "json/json_impl.h"

typedef struct frame {
	size_t start; /* index of the container's first member or item */
	bool obj;
} frame;

typedef struct parser {
	char *buf, *end;
	char *w; /* where the next decoded string goes (see compaction) */
	pj_doc *doc;
	pj_limits lim;
	frame *fr;
	size_t depth, fcap;
	pj_member *ms; /* members of the open objects */
	size_t mlen, mcap;
	pj_value *is; /* items of the open arrays */
	size_t ilen, icap;
	pj_member *tmp; /* merge sort buffer */
	size_t tcap;
	/* The innermost object's last member is not the place to name in a
	 * message: its key is still being read, or the object is closing. */
	bool skip_top;
} parser;

/* ---------------- errors ---------------- */

/* The member whose value is being parsed, for "(in "key")". */
static const pj_member *context_member(const parser *ps)
{
	size_t e = ps->mlen; /* end of the members of the frame looked at */
	bool skip = ps->skip_top;

	for (size_t i = ps->depth; i-- > 0;) {
		const frame *f = &ps->fr[i];

		if (!f->obj)
			continue;
		if (!skip && e > f->start)
			return &ps->ms[e - 1];
		skip = false;
		e = f->start;
	}
	return NULL;
}

/* A key made fit for a message: at most 64 bytes, cut at a character
 * boundary, no control characters, quotes or backslashes. */
static void key_for_message(char *out, size_t outsz, const char *key, size_t klen)
{
	size_t n = klen, i;

	if (n > 64) {
		n = 64;
		while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
			n--;
	}
	if (n > outsz - 4)
		n = outsz - 4;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];

		out[i] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	if (n < klen) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static int PAWL_PRINTF(4, 5) perr(const parser *ps, const char *at, int code, const char *fmt, ...)
{
	const pj_member *m = context_member(ps);
	char msg[256], key[80];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!m)
		return pawl_error_set(code, "JSON: byte %zu: %s", (size_t)(at - ps->buf), msg);
	key_for_message(key, sizeof(key), m->key, m->klen);
	return pawl_error_set(code, "JSON: byte %zu (in \"%s\"): %s", (size_t)(at - ps->buf), key, msg);
}

static int unexpected(const parser *ps, const char *p, const char *expected)
{
	unsigned char c = (unsigned char)*p;

	if (p >= ps->end)
		return perr(ps, p, PAWL_E_FORMAT, "unexpected end of input (expected %s)", expected);
	if (p == ps->buf && ps->end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		return perr(ps, p, PAWL_E_FORMAT, "a byte order mark is not allowed");
	if (c > 0x20 && c < 0x7f)
		return perr(ps, p, PAWL_E_FORMAT, "unexpected '%c' (expected %s)", c, expected);
	return perr(ps, p, PAWL_E_FORMAT, "unexpected byte 0x%02x (expected %s)", c, expected);
}

/* ---------------- scratch stacks ---------------- */

static int grow(void *pp, size_t *cap, size_t elem)
{
	void **p = pp;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *np;

	if (ncap < *cap)
		return pawl_error_set(PAWL_E_LIMIT, "JSON: document too large");
	np = xreallocarray(*p, ncap, elem);
	if (!np)
		return PAWL_E_NOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int push_frame(parser *ps, const char *at, bool obj)
{
	if (ps->depth >= ps->lim.max_depth)
		return perr(ps, at, PAWL_E_LIMIT, "nested deeper than %u levels",
			    ps->lim.max_depth);
	if (ps->depth == ps->fcap)
		GUARD(grow(&ps->fr, &ps->fcap, sizeof(*ps->fr)));
	ps->fr[ps->depth].start = obj ? ps->mlen : ps->ilen;
	ps->fr[ps->depth].obj = obj;
	ps->depth++;
	return 0;
}

static int push_member(parser *ps, const char *at, const char *key, uint32_t klen)
{
	pj_member *m;

	if (ps->mlen - ps->fr[ps->depth - 1].start >= ps->lim.max_container)
		return perr(ps, at, PAWL_E_LIMIT, "object has more than %u members",
			    ps->lim.max_container);
	if (ps->mlen == ps->mcap)
		GUARD(grow(&ps->ms, &ps->mcap, sizeof(*ps->ms)));
	m = &ps->ms[ps->mlen++];
	m->key = key;
	m->klen = klen;
	m->value.type = PJ_NULL;
	m->value.len = 0;
	m->value.u.i = 0;
	return 0;
}

static int push_item(parser *ps, const char *at)
{
	pj_value *v;

	if (ps->ilen - ps->fr[ps->depth - 1].start >= ps->lim.max_container)
		return perr(ps, at, PAWL_E_LIMIT, "array has more than %u items",
			    ps->lim.max_container);
	if (ps->ilen == ps->icap)
		GUARD(grow(&ps->is, &ps->icap, sizeof(*ps->is)));
	v = &ps->is[ps->ilen++];
	v->type = PJ_NULL;
	v->len = 0;
	v->u.i = 0;
	return 0;
}

/* Where the value being parsed goes: the last member or item pushed by
 * the innermost container, or the root. */
static inline pj_value *slot(parser *ps, pj_value *root)
{
	if (ps->depth == 0)
		return root;
	if (ps->fr[ps->depth - 1].obj)
		return &ps->ms[ps->mlen - 1].value;
	return &ps->is[ps->ilen - 1];
}

/* at: the closing brace, the place named when a key is duplicated
 * (strings have been moved, so keys no longer tell where they were). */
static int close_object(parser *ps, const char *at, pj_value *root)
{
	const frame *f = &ps->fr[ps->depth - 1];
	size_t n = ps->mlen - f->start, i;
	pj_member *m = n ? ps->ms + f->start : NULL, *dst = NULL;
	pj_value *v;

	/* TUF metadata is nearly always written sorted: check first, sort
	 * only when needed. */
	for (i = 1; i < n; i++)
		if (pj_member_cmp(&m[i - 1], &m[i]) >= 0)
			break;
	if (i < n) {
		while (ps->tcap < n / 2 + 1)
			GUARD(grow(&ps->tmp, &ps->tcap, sizeof(*ps->tmp)));
		pj_members_sort(m, n, ps->tmp);
		for (i = 1; i < n; i++) {
			if (pj_member_cmp(&m[i - 1], &m[i]) == 0) {
				char key[80];
				int r;

				key_for_message(key, sizeof(key), m[i].key, m[i].klen);
				ps->skip_top = true;
				r = perr(ps, at, PAWL_E_FORMAT, "duplicate key \"%s\"", key);
				ps->skip_top = false;
				return r;
			}
		}
	}
	if (n > 0) {
		dst = pj_arena_alloc(ps->doc, n * sizeof(*m));
		if (!dst)
			return PAWL_E_NOMEM;
		memcpy(dst, m, n * sizeof(*m));
	}
	ps->mlen = f->start;
	ps->depth--;
	v = slot(ps, root);
	v->type = PJ_OBJECT;
	v->len = (uint32_t)n;
	v->u.members = dst;
	return 0;
}

static int close_array(parser *ps, pj_value *root)
{
	const frame *f = &ps->fr[ps->depth - 1];
	size_t n = ps->ilen - f->start;
	pj_value *dst = NULL, *v;

	if (n > 0) {
		dst = pj_arena_alloc(ps->doc, n * sizeof(*dst));
		if (!dst)
			return PAWL_E_NOMEM;
		memcpy(dst, ps->is + f->start, n * sizeof(*dst));
	}
	ps->ilen = f->start;
	ps->depth--;
	v = slot(ps, root);
	v->type = PJ_ARRAY;
	v->len = (uint32_t)n;
	v->u.items = dst;
	return 0;
}

/* ---------------- tokens ---------------- */

static const unsigned char ws_table[256] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
};

static inline char *skip_ws(char *p)
{
	while (ws_table[(unsigned char)*p])
		p++;
	return p;
}

/* Bytes a string scan must stop at: controls (and the NUL at the end),
 * the quote, the backslash and everything that is not ASCII. */
static const unsigned char str_stop[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* The first byte of p that str_stop[] marks; 8 bytes at a time. */
static inline char *scan_plain(char *p, const char *end)
{
	while (end - p >= 8) {
		uint64_t x, t;

		memcpy(&x, p, 8);
		t = pj_swar_eq(x, '"') | pj_swar_eq(x, '\\') | pj_swar_lt(x, 0x20) |
		    (x & PJ_HIGHS);
		if (t) {
#if PJ_SWAR_LE
			return p + pj_swar_first(t);
#else
			break;
#endif
		}
		p += 8;
	}
	while (!str_stop[(unsigned char)*p])
		p++;
	return p;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The four hex digits at p (read one by one, so the end NUL stops it),
 * or -1. */
static long hex4(const char *p)
{
	long cp = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);

		if (h < 0)
			return -1;
		cp = cp << 4 | h;
	}
	return cp;
}

static char *put_utf8(char *w, unsigned long cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xc0 | cp >> 6);
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xe0 | cp >> 12);
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*w++ = (char)(0xf0 | cp >> 18);
		*w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	}
	return w;
}

/* The escape at *pp (a backslash), decoded to *wp. */
static int decode_escape(const parser *ps, char **pp, char **wp)
{
	char *p = *pp;
	long cp, lo;

	switch (p[1]) {
	case '"': cp = '"'; break;
	case '\\': cp = '\\'; break;
	case '/': cp = '/'; break;
	case 'b': cp = '\b'; break;
	case 'f': cp = '\f'; break;
	case 'n': cp = '\n'; break;
	case 'r': cp = '\r'; break;
	case 't': cp = '\t'; break;
	case 'u':
		cp = hex4(p + 2);
		if (cp < 0)
			return perr(ps, p, PAWL_E_FORMAT, "invalid \\u escape");
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return perr(ps, p, PAWL_E_FORMAT, "lone surrogate \\u%04lx", cp);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (p[6] != '\\' || p[7] != 'u')
				return perr(ps, p, PAWL_E_FORMAT, "lone surrogate \\u%04lx", cp);
			lo = hex4(p + 8);
			if (lo < 0)
				return perr(ps, p + 6, PAWL_E_FORMAT, "invalid \\u escape");
			if (lo < 0xdc00 || lo > 0xdfff)
				return perr(ps, p, PAWL_E_FORMAT, "lone surrogate \\u%04lx", cp);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		*wp = put_utf8(*wp, (unsigned long)cp);
		*pp = p + 6;
		return 0;
	default:
		if (p + 1 >= ps->end)
			return perr(ps, p, PAWL_E_FORMAT, "unterminated string");
		return perr(ps, p, PAWL_E_FORMAT, "invalid escape");
	}
	*(*wp)++ = (char)cp;
	*pp = p + 2;
	return 0;
}

static int bad_string_byte(const parser *ps, const char *p)
{
	if (p >= ps->end)
		return perr(ps, p, PAWL_E_FORMAT, "unterminated string");
	if ((unsigned char)*p < 0x20)
		return perr(ps, p, PAWL_E_FORMAT, "raw control character 0x%02x in string",
			    (unsigned char)*p);
	return perr(ps, p, PAWL_E_FORMAT, "invalid UTF-8 in string");
}

/* *pp is just past the opening quote; on success it is just past the
 * closing one, *ret is the decoded, NUL-terminated string (moved down to
 * ps->w) and *ret_len its length. *ret_plain tells that it had no
 * escapes, so that it holds no '"', '\\' or control character. */
static int parse_string(parser *ps, char **pp, char **ret, uint32_t *ret_len, bool *ret_plain)
{
	char *s = *pp, *p = s, *w = ps->w;
	bool plain = true;
	size_t n;

	/* Fast path: nothing to decode, one move. */
	for (;;) {
		p = scan_plain(p, ps->end);
		if (*p == '"') {
			n = (size_t)(p - s);
			if (w != s)
				memmove(w, s, n);
			w += n;
			goto done;
		}
		if (*p == '\\')
			break;
		if ((unsigned char)*p < 0x80)
			return bad_string_byte(ps, p);
		n = pj_utf8_seq((unsigned char *)p, (unsigned char *)ps->end);
		if (n == 0)
			return bad_string_byte(ps, p);
		p += n;
	}
	/* Decoding: what was scanned so far moves first, then w follows p. */
	plain = false;
	if (w != s)
		memmove(w, s, (size_t)(p - s));
	w += p - s;
	for (;;) {
		char *q;

		if (*p == '"')
			break;
		if (*p == '\\') {
			GUARD(decode_escape(ps, &p, &w));
		} else {
			if ((unsigned char)*p < 0x80)
				return bad_string_byte(ps, p);
			n = pj_utf8_seq((unsigned char *)p, (unsigned char *)ps->end);
			if (n == 0)
				return bad_string_byte(ps, p);
			memmove(w, p, n);
			w += n;
			p += n;
		}
		q = scan_plain(p, ps->end);
		memmove(w, p, (size_t)(q - p));
		w += q - p;
		p = q;
	}
done:
	if ((size_t)(w - ps->w) > ps->lim.max_string)
		return perr(ps, s - 1, PAWL_E_LIMIT, "string longer than %u bytes",
			    ps->lim.max_string);
	*w = '\0';
	*ret = ps->w;
	*ret_len = (uint32_t)(w - ps->w);
	*ret_plain = plain;
	ps->w = w + 1;
	*pp = p + 1;
	return 0;
}

static int parse_number(const parser *ps, char **pp, int64_t *ret)
{
	char *start = *pp, *p = start, *d;
	bool neg = false;
	uint64_t acc = 0, lim;

	if (*p == '-') {
		neg = true;
		p++;
	}
	d = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == d)
		return perr(ps, start, PAWL_E_FORMAT, "invalid number");
	if (*p == '.' || *p == 'e' || *p == 'E')
		return perr(ps, start, PAWL_E_FORMAT, "floats are not allowed in canonical JSON");
	if (*d == '0' && p - d > 1)
		return perr(ps, start, PAWL_E_FORMAT, "leading zeros are not allowed");
	/* 19 digits always fit in uint64_t; more never fit in int64_t. */
	if (p - d > 19)
		return perr(ps, start, PAWL_E_FORMAT, "integer out of the int64 range");
	for (; d < p; d++)
		acc = acc * 10 + (uint64_t)(*d - '0');
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (acc > lim)
		return perr(ps, start, PAWL_E_FORMAT, "integer out of the int64 range");
	if (!neg)
		*ret = (int64_t)acc;
	else if (acc == (uint64_t)INT64_MAX + 1)
		*ret = INT64_MIN;
	else
		*ret = -(int64_t)acc;
	*pp = p;
	return 0;
}

static int parse_literal(const parser *ps, char **pp, pj_value *v)
{
	static const struct {
		char text[6];
		uint8_t len;
		uint8_t type;
	} lits[] = { { "true", 4, PJ_TRUE }, { "false", 5, PJ_FALSE }, { "null", 4, PJ_NULL } };
	char *p = *pp;

	for (size_t i = 0; i < ARRAY_SIZE(lits); i++) {
		if (*p == lits[i].text[0] && (size_t)(ps->end - p) >= lits[i].len &&
		    memcmp(p, lits[i].text, lits[i].len) == 0) {
			v->type = lits[i].type;
			v->len = 0;
			v->u.i = 0;
			*pp = p + lits[i].len;
			return 0;
		}
	}
	return unexpected(ps, p, "a value");
}

/* ---------------- the grammar ---------------- */

static int parse_doc(parser *ps, pj_value *root)
{
	char *p = skip_ws(ps->buf);
	pj_value *v;

	if (p == ps->end)
		return perr(ps, p, PAWL_E_FORMAT, "empty input");
value:
	/* p is at the first byte of a value; its slot has been pushed. */
	switch (*p) {
	case '{':
		GUARD(push_frame(ps, p, true));
		p = skip_ws(p + 1);
		if (*p == '}') {
			GUARD(close_object(ps, p, root));
			p++;
			goto next;
		}
		goto key;
	case '[':
		GUARD(push_frame(ps, p, false));
		p = skip_ws(p + 1);
		if (*p == ']') {
			p++;
			GUARD(close_array(ps, root));
			goto next;
		}
		GUARD(push_item(ps, p));
		goto value;
	case '"': {
		char *s;
		uint32_t len;
		bool plain;

		p++;
		GUARD(parse_string(ps, &p, &s, &len, &plain));
		v = slot(ps, root);
		v->type = (uint8_t)(PJ_STRING | (plain ? PJF_PLAIN : 0));
		v->len = len;
		v->u.s = s;
		goto next;
	}
	case '-':
	case '0' ... '9':
		v = slot(ps, root);
		GUARD(parse_number(ps, &p, &v->u.i));
		v->type = PJ_INT;
		v->len = 0;
		goto next;
	default:
		GUARD(parse_literal(ps, &p, slot(ps, root)));
		goto next;
	}

key:
	/* p is where a member must start, inside an open object. */
	ps->skip_top = true;
	if (*p != '"') {
		if (*p == '}')
			return perr(ps, p, PAWL_E_FORMAT, "trailing comma");
		return unexpected(ps, p, "a string key");
	}
	{
		char *at = p, *k;
		uint32_t klen;
		bool plain;

		p++;
		GUARD(parse_string(ps, &p, &k, &klen, &plain));
		ps->skip_top = false;
		GUARD(push_member(ps, at, k, klen));
	}
	p = skip_ws(p);
	if (*p != ':')
		return unexpected(ps, p, "':'");
	p = skip_ws(p + 1);
	goto value;

next:
	/* A value has ended; what may follow depends on the container. */
	p = skip_ws(p);
	if (ps->depth == 0) {
		if (p != ps->end)
			return perr(ps, p, PAWL_E_FORMAT, "trailing garbage after the JSON value");
		return 0;
	}
	if (ps->fr[ps->depth - 1].obj) {
		if (*p == ',') {
			p = skip_ws(p + 1);
			goto key;
		}
		if (*p == '}') {
			GUARD(close_object(ps, p, root));
			p++;
			goto next;
		}
		return unexpected(ps, p, "',' or '}'");
	}
	if (*p == ',') {
		p = skip_ws(p + 1);
		if (*p == ']')
			return perr(ps, p, PAWL_E_FORMAT, "trailing comma");
		GUARD(push_item(ps, p));
		goto value;
	}
	if (*p == ']') {
		p++;
		GUARD(close_array(ps, root));
		goto next;
	}
	return unexpected(ps, p, "',' or ']'");
}

/* Hand the whole pages of [from, to) back to the kernel. They belong to
 * our own allocation and hold nothing live any more; MADV_DONTNEED only
 * makes them read as zeros if touched again, which the allocator does not
 * mind. Small inputs are not worth the system call. */
static void release_pages(char *from, char *to)
{
#ifdef MADV_DONTNEED
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a, b;

	if (pg <= 0 || to - from < 16 * pg)
		return;
	a = ((uintptr_t)from + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	b = (uintptr_t)to & ~((uintptr_t)pg - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_DONTNEED);
#else
	(void)from;
	(void)to;
#endif
}

int pj_parse(pj_doc **ret, char *buf, size_t len, const pj_limits *lim)
{
	static const pj_limits defaults = PJ_LIMITS_DEFAULT;
	parser ps = { 0 };
	pj_doc *doc;
	int r;

	if (!buf)
		return pawl_error_set(PAWL_E_INVALID, "JSON: no input buffer");
	doc = pj_doc_for_input(buf);
	if (!doc)
		return PAWL_E_NOMEM;
	buf[len] = '\0';
	ps.buf = ps.w = buf;
	ps.end = buf + len;
	ps.doc = doc;
	ps.lim = lim ? *lim : defaults;
	r = parse_doc(&ps, &doc->root);
	free(ps.fr);
	free(ps.ms);
	free(ps.is);
	free(ps.tmp);
	if (r < 0) {
		pj_doc_free(doc);
		return r;
	}
	release_pages(ps.w, ps.end + 1);
	*ret = doc;
	return 0;
}

int pj_parse_copy(pj_doc **ret, const void *data, size_t len, const pj_limits *lim)
{
	char *buf;
	size_t n;

	if (!data && len)
		return pawl_error_set(PAWL_E_INVALID, "JSON: no input");
	GUARD(size_add(&n, len, 1));
	buf = xmalloc(n);
	if (!buf)
		return PAWL_E_NOMEM;
	if (len)
		memcpy(buf, data, len);
	return pj_parse(ret, buf, len, lim);
}

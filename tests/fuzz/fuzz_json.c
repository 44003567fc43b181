/*
 * fuzz_json.c - pj_parse() on arbitrary bytes, under the default limits
 * and under small ones. Whatever parses must keep its canonical form
 * through every way of writing it back:
 *   canonical(parse(x)) == canonical(parse(pj_write(parse(x))))
 * for compact and pretty output, and canonical(parse(c)) == c for a
 * canonical form c that is valid JSON (no raw control characters). A
 * deep copy must be equal and encode the same. The streamed canonical form
 * is the same bytes. pj_raw_member() never points outside the input, and
 * when the input parses, the span it finds for "signed" parses to that
 * member's value. Any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

static char *encode(const pj_value *v, int mode, size_t *len)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	char *out = NULL;
	int r = mode == 0 ? pj_canonical(&b, v) : pj_write(&b, v, mode == 2);

	if (r != 0 || buf_steal(&b, &out, len) != 0)
		abort();
	return out;
}

static void same_canonical(const char *text, size_t len, const char *want, size_t wantlen,
			   const pj_limits *lim)
{
	pj_doc *doc = NULL;
	char *c;
	size_t clen;

	if (pj_parse_copy(&doc, text, len, lim) != 0)
		abort();
	c = encode(pj_root(doc), 0, &clen);
	if (clen != wantlen || memcmp(c, want, clen) != 0)
		abort();
	free(c);
	pj_doc_free(doc);
}

static int collect(void *ctx, const void *p, size_t n)
{
	return buf_append(ctx, p, n);
}

/* The raw-text lookup against the parsed document (NULL: did not parse). */
static void check_raw_member(const uint8_t *data, size_t size, const pj_doc *doc)
{
	size_t s, e;
	pj_doc *span = NULL;
	const pj_value *want;

	if (pj_raw_member((const char *)data, size, "signed", &s, &e) != 0)
		return;
	if (!(s < e && e <= size))
		abort();
	if (!doc)
		return;
	want = pj_get(pj_root((pj_doc *)doc), "signed");
	if (!want || pj_parse_copy(&span, data + s, e - s, NULL) != 0 ||
	    !pj_equal(pj_root(span), want))
		abort();
	pj_doc_free(span);
}

static void check(const uint8_t *data, size_t size, const pj_limits *lim)
{
	pj_doc *doc = NULL, *copy = NULL;
	size_t clen, wlen;
	char *c, *w;
	bool ctl = false;

	if (pj_parse_copy(&doc, data, size, lim) != 0) {
		pawl_error_clear();
		if (!lim)
			check_raw_member(data, size, NULL);
		return;
	}
	c = encode(pj_root(doc), 0, &clen);
	if (!lim) {
		pawl_buf st = PAWL_BUF_INIT(SIZE_MAX / 2);

		check_raw_member(data, size, doc);
		if (pj_canonical_stream(pj_root(doc), collect, &st) != 0 || st.len != clen ||
		    (clen && memcmp(st.data, c, clen) != 0))
			abort();
		buf_free(&st);
	}
	for (int mode = 1; mode <= 2; mode++) {
		w = encode(pj_root(doc), mode, &wlen);
		same_canonical(w, wlen, c, clen, lim);
		free(w);
	}
	for (size_t i = 0; i < clen; i++)
		ctl |= (unsigned char)c[i] < 0x20;
	if (!ctl)
		same_canonical(c, clen, c, clen, lim);

	if (pj_doc_new(&copy) != 0 || pj_copy(copy, pj_root(copy), pj_root(doc)) != 0)
		abort();
	if (!pj_equal(pj_root(doc), pj_root(copy)))
		abort();
	w = encode(pj_root(copy), 0, &wlen);
	if (wlen != clen || memcmp(w, c, clen) != 0)
		abort();
	free(w);
	free(c);
	pj_doc_free(copy);
	pj_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const pj_limits small = { 4, 16, 8 };

	check(data, size, NULL);
	check(data, size, &small);
	return 0;
}

/*
 * fuzz_canonical.c - the builder driven by the input bytes: a small
 * program of puts, removes, appends, finishes, pushes, copies and string
 * settings on a cursor that walks the tree. After every program:
 *  - every object is sorted with strictly increasing keys (once the
 *    unfinished ones are finished),
 *  - the canonical form survives pj_write() + pj_parse(), and equals
 *    that of a deep copy, which pj_equal() accepts.
 * A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

typedef struct prog {
	const uint8_t *p;
	size_t n;
} prog;

static int next(prog *g)
{
	if (g->n == 0)
		return -1;
	g->n--;
	return *g->p++;
}

/* Up to 8 bytes of text (any bytes: the builder must reject bad UTF-8). */
static size_t text(prog *g, char *out)
{
	int c = next(g);
	size_t len = c < 0 ? 0 : (size_t)c % 9;

	for (size_t i = 0; i < len; i++) {
		c = next(g);
		/* Mostly letters, so that keys collide often. */
		out[i] = c < 0 ? 'x' : (c & 0x80) ? (char)c : (char)('a' + c % 4);
	}
	out[len] = '\0';
	return len;
}

#define MAXPATH 16

static pj_value *resolve(pj_value *v, const uint8_t *path, size_t depth)
{
	for (size_t i = 0; i < depth; i++) {
		if ((pj_typeof(v) != PJ_ARRAY && pj_typeof(v) != PJ_OBJECT) || v->len == 0)
			break;
		if (pj_typeof(v) == PJ_ARRAY)
			v = &v->u.items[path[i] % v->len];
		else
			v = &v->u.members[path[i] % v->len].value;
	}
	return v;
}

static void set_value(pj_doc *doc, pj_value *v, prog *g)
{
	char s[9];
	size_t len;
	int c = next(g);

	switch (c < 0 ? 0 : c % 6) {
	case 0: pj_set_null(v); break;
	case 1: pj_set_bool(v, c & 8); break;
	case 2: pj_set_int(v, (int64_t)(((uint64_t)c << 56) - (uint64_t)c * 977)); break;
	case 3: {
		pj_value before = *v;

		/* Invalid UTF-8 is refused and leaves v as it was. */
		len = text(g, s);
		if (pj_set_string(doc, v, s, len) != 0 &&
		    (before.type != v->type || before.len != v->len || before.u.i != v->u.i))
			abort();
		break;
	}
	case 4:
		if (pj_set_object(doc, v) != 0)
			abort();
		break;
	case 5:
		if (pj_set_array(doc, v) != 0)
			abort();
		break;
	}
}

/* Finish what is unfinished, then check the order of every object. */
static void finish_and_check(pj_value *v)
{
	if (pj_typeof(v) == PJ_OBJECT) {
		if (pj_obj_finish(v, true) != 0)
			abort();
		for (uint32_t i = 0; i < v->len; i++) {
			const pj_member *a = &v->u.members[i];

			if (i > 0) {
				const pj_member *b = &v->u.members[i - 1];
				size_t n = a->klen < b->klen ? a->klen : b->klen;
				int c = memcmp(b->key, a->key, n);

				if (c > 0 || (c == 0 && b->klen >= a->klen))
					abort();
			}
			finish_and_check(&v->u.members[i].value);
		}
	} else if (pj_typeof(v) == PJ_ARRAY) {
		for (uint32_t i = 0; i < v->len; i++)
			finish_and_check(&v->u.items[i]);
	}
}

static char *encode(const pj_value *v, bool canonical, size_t *len)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	char *out = NULL;
	int r = canonical ? pj_canonical(&b, v) : pj_write(&b, v, false);

	if (r != 0 || buf_steal(&b, &out, len) != 0)
		abort();
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const pj_limits lim = { 100000, 1u << 20, 1u << 22 };
	prog g = { data, size };
	uint8_t path[MAXPATH];
	size_t depth = 0, clen, wlen, copies = 0;
	pj_doc *doc, *back = NULL, *copy = NULL;
	pj_value *cur, *slot;
	char key[9], *c, *w;
	int op;

	if (size > 4096 || pj_doc_new(&doc) != 0)
		return 0;
	if (pj_set_object(doc, pj_root(doc)) != 0)
		abort();
	while ((op = next(&g)) >= 0) {
		size_t klen;
		int r;

		cur = resolve(pj_root(doc), path, depth);
		switch (op % 12) {
		case 0: /* put */
			klen = text(&g, key);
			r = pj_obj_put(doc, cur, key, klen, &slot);
			if (r == 0)
				set_value(doc, slot, &g);
			else if (pj_typeof(cur) == PJ_OBJECT && r != PAWL_E_INVALID && r != PAWL_E_FORMAT)
				abort();
			break;
		case 1: /* remove */
			text(&g, key);
			r = pj_obj_remove(cur, key);
			if (r == 0 && pj_get(cur, key) != NULL)
				abort();
			break;
		case 2: /* append */
			klen = text(&g, key);
			if (pj_obj_append(doc, cur, key, klen, &slot) == 0)
				set_value(doc, slot, &g);
			break;
		case 3: /* finish */
			r = pj_obj_finish(cur, next(&g) & 1);
			if (r != 0 && r != PAWL_E_FORMAT && pj_typeof(cur) == PJ_OBJECT)
				abort();
			break;
		case 4: /* push */
			if (pj_arr_push(doc, cur, &slot) == 0)
				set_value(doc, slot, &g);
			break;
		case 5: /* descend */
			if (depth < MAXPATH)
				path[depth++] = (uint8_t)next(&g);
			break;
		case 6: /* ascend */
			if (depth > 0)
				depth--;
			break;
		case 7: { /* copy another node (maybe an ancestor) here */
			uint8_t other[2] = { (uint8_t)next(&g), (uint8_t)next(&g) };

			if (copies++ < 4 &&
			    pj_copy(doc, cur, resolve(pj_root(doc), other, next(&g) & 1 ? 2 : 1)) != 0)
				abort();
			break;
		}
		default:
			set_value(doc, cur, &g);
			break;
		}
	}

	finish_and_check(pj_root(doc));
	c = encode(pj_root(doc), true, &clen);
	w = encode(pj_root(doc), false, &wlen);
	if (pj_parse(&back, w, wlen, &lim) != 0)
		abort();
	w = encode(pj_root(back), true, &wlen);
	if (wlen != clen || memcmp(w, c, clen) != 0 || !pj_equal(pj_root(doc), pj_root(back)))
		abort();
	free(w);
	if (pj_doc_new(&copy) != 0 || pj_copy(copy, pj_root(copy), pj_root(doc)) != 0)
		abort();
	w = encode(pj_root(copy), true, &wlen);
	if (wlen != clen || memcmp(w, c, clen) != 0 || !pj_equal(pj_root(doc), pj_root(copy)))
		abort();
	free(w);
	free(c);
	pj_doc_free(copy);
	pj_doc_free(back);
	pj_doc_free(doc);
	return 0;
}

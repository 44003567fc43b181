/*
 * json.c - documents, their memory, lookups and the UTF-8 and key-order
 * rules every other file of the module relies on. See json.h and
 * json_impl.h.
 */
#include <stdlib.h>
#include <string.h>

#include "json/json_impl.h"

/* ---------------- the arena ---------------- */

struct pj_chunk {
	pj_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define CHUNK_MIN ((size_t)64 << 10)
#define CHUNK_MAX ((size_t)8 << 20)

static pj_chunk *chunk_new(size_t cap)
{
	size_t total;
	pj_chunk *c;

	if (__builtin_add_overflow(cap, sizeof(pj_chunk), &total)) {
		pawl_error_set(PAWL_E_LIMIT, "JSON: allocation of %zu bytes too large", cap);
		return NULL;
	}
	c = xmalloc(total);
	if (!c)
		return NULL;
	c->next = NULL;
	c->used = 0;
	c->cap = cap;
	return c;
}

void *pj_arena_alloc(pj_doc *doc, size_t n)
{
	pj_chunk *c = doc->chunks;
	void *p;

	if (n > SIZE_MAX - 7) {
		pawl_error_set(PAWL_E_LIMIT, "JSON: allocation of %zu bytes too large", n);
		return NULL;
	}
	n = (n + 7) & ~(size_t)7;
	if (c && c->cap - c->used >= n) {
		p = c->data + c->used;
		c->used += n;
		return p;
	}
	if (n > doc->next_chunk / 4) {
		/* Big: a chunk of its own, put behind the current one so that
		 * the space left there is still used. */
		pj_chunk *big = chunk_new(n);

		if (!big)
			return NULL;
		big->used = n;
		if (c) {
			big->next = c->next;
			c->next = big;
		} else {
			doc->chunks = big;
		}
		return big->data;
	}
	c = chunk_new(doc->next_chunk);
	if (!c)
		return NULL;
	if (doc->next_chunk < CHUNK_MAX)
		doc->next_chunk *= 2;
	c->next = doc->chunks;
	doc->chunks = c;
	c->used = n;
	return c->data;
}

char *pj_arena_strdup(pj_doc *doc, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX) {
		pawl_error_set(PAWL_E_LIMIT, "JSON: string too large");
		return NULL;
	}
	p = pj_arena_alloc(doc, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* ---------------- heap blocks ---------------- */

static void hb_link(pj_doc *doc, pj_hblock *h)
{
	h->prev = &doc->heap;
	h->next = doc->heap.next;
	doc->heap.next->prev = h;
	doc->heap.next = h;
}

void *pj_heap_alloc(pj_doc *doc, size_t n)
{
	pj_hblock *h;
	size_t total;

	if (__builtin_add_overflow(n, sizeof(*h), &total)) {
		pawl_error_set(PAWL_E_LIMIT, "JSON: allocation of %zu bytes too large", n);
		return NULL;
	}
	h = xmalloc(total);
	if (!h)
		return NULL;
	hb_link(doc, h);
	return h + 1;
}

void *pj_heap_realloc(pj_doc *doc, void *p, size_t n)
{
	pj_hblock *h = (pj_hblock *)p - 1, *nh;
	size_t total;

	if (__builtin_add_overflow(n, sizeof(*h), &total)) {
		pawl_error_set(PAWL_E_LIMIT, "JSON: allocation of %zu bytes too large", n);
		return NULL;
	}
	/* Unlink first: realloc may move the block and its neighbours would
	 * then point at freed memory. */
	h->prev->next = h->next;
	h->next->prev = h->prev;
	nh = realloc(h, total);
	if (!nh) {
		hb_link(doc, h);
		pawl_error_set(PAWL_E_NOMEM, "out of memory (%zu bytes)", total);
		return NULL;
	}
	hb_link(doc, nh);
	return nh + 1;
}

/* ---------------- documents ---------------- */

static pj_doc *doc_alloc(void)
{
	pj_doc *doc = xcalloc(1, sizeof(*doc));

	if (!doc)
		return NULL;
	doc->root.type = PJ_NULL;
	doc->next_chunk = CHUNK_MIN;
	doc->heap.prev = doc->heap.next = &doc->heap;
	return doc;
}

int pj_doc_new(pj_doc **ret)
{
	pj_doc *doc = doc_alloc();

	if (!doc)
		return PAWL_E_NOMEM;
	*ret = doc;
	return 0;
}

pj_doc *pj_doc_for_input(char *buf)
{
	pj_doc *doc = doc_alloc();

	if (!doc) {
		free(buf);
		return NULL;
	}
	doc->input = buf;
	return doc;
}

void pj_doc_free(pj_doc *doc)
{
	pj_chunk *c, *next;
	pj_hblock *h, *hnext;

	if (!doc)
		return;
	for (c = doc->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	for (h = doc->heap.next; h != &doc->heap; h = hnext) {
		hnext = h->next;
		free(h);
	}
	free(doc->input);
	free(doc);
}

pj_value *pj_root(pj_doc *doc)
{
	return doc ? &doc->root : NULL;
}

/* ---------------- reading ---------------- */

size_t pj_find(const pj_value *obj, const char *key, size_t klen, bool *found)
{
	const pj_member *m = obj->u.members;
	size_t lo = 0, hi = obj->len;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = pj_key_cmp(m[mid].key, m[mid].klen, key, klen);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const pj_value *pj_getn(const pj_value *obj, const char *key, size_t klen)
{
	const pj_member *m;
	size_t i;
	bool found;

	if (!pj_is_object(obj) || !key)
		return NULL;
	m = obj->u.members;
	if (obj->type & PJF_UNSORTED) {
		/* Not finished yet: the last one wins, as pj_obj_finish(true)
		 * would decide. */
		for (i = obj->len; i-- > 0;)
			if (pj_key_cmp(m[i].key, m[i].klen, key, klen) == 0)
				return &m[i].value;
		return NULL;
	}
	i = pj_find(obj, key, klen, &found);
	return found ? &m[i].value : NULL;
}

const pj_value *pj_getn_finished(const pj_value *obj, size_t n, const char *key, size_t klen)
{
	pj_value part;
	size_t i;
	bool found;

	if (!pj_is_object(obj) || !key)
		return NULL;
	part = *obj;
	part.len = n < obj->len ? n : obj->len;
	i = pj_find(&part, key, klen, &found);
	return found ? &obj->u.members[i].value : NULL;
}

const pj_value *pj_get(const pj_value *obj, const char *key)
{
	return key ? pj_getn(obj, key, strlen(key)) : NULL;
}

pj_value *pj_get_mut(pj_value *obj, const char *key)
{
	/* The doc owns the value and obj is mutable, so handing the member
	 * back without const is sound. */
	return (pj_value *)pj_get(obj, key);
}

const char *pj_type_name(const pj_value *v)
{
	if (!v)
		return "missing";
	switch (pj_typeof(v)) {
	case PJ_NULL: return "null";
	case PJ_FALSE:
	case PJ_TRUE: return "boolean";
	case PJ_INT: return "integer";
	case PJ_STRING: return "string";
	case PJ_ARRAY: return "array";
	case PJ_OBJECT: return "object";
	}
	return "invalid";
}

/* ---------------- key order ---------------- */

static void insertion_sort(pj_member *m, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		pj_member x;
		size_t j = i;

		if (pj_member_cmp(&m[i - 1], &m[i]) <= 0)
			continue;
		x = m[i];
		do {
			m[j] = m[j - 1];
			j--;
		} while (j > 0 && pj_member_cmp(&m[j - 1], &x) > 0);
		m[j] = x;
	}
}

/* Top-down merge sort: stable, so that pj_obj_finish(last_wins) can keep
 * the last of equal keys, and O(n) on input that is already sorted, which
 * is what TUF metadata written by python-tuf or by us always is. */
void pj_members_sort(pj_member *m, size_t n, pj_member *tmp)
{
	size_t h, i, j, k;

	if (n <= 16) {
		insertion_sort(m, n);
		return;
	}
	h = n / 2;
	pj_members_sort(m, h, tmp);
	pj_members_sort(m + h, n - h, tmp);
	if (pj_member_cmp(&m[h - 1], &m[h]) <= 0)
		return;
	memcpy(tmp, m, h * sizeof(*m));
	i = 0;
	j = h;
	k = 0;
	while (i < h && j < n) {
		if (pj_member_cmp(&m[j], &tmp[i]) < 0)
			m[k++] = m[j++];
		else
			m[k++] = tmp[i++];
	}
	while (i < h)
		m[k++] = tmp[i++];
}

/* ---------------- UTF-8 ---------------- */

size_t pj_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0xc2) /* continuation byte, or overlong 2-byte form */
		return 0;
	if (c < 0xe0) {
		n = 2;
	} else if (c < 0xf0) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* U+D800..U+DFFF, surrogates */
	} else if (c < 0xf5) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool pj_utf8_valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		size_t n;

		if (*p < 0x80) {
			p++;
			continue;
		}
		n = pj_utf8_seq(p, end);
		if (n == 0) {
			if (bad)
				*bad = (size_t)(p - (const unsigned char *)s);
			return false;
		}
		p += n;
	}
	return true;
}

/* ---------------- a quick look at raw text ---------------- */

static bool raw_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t raw_skip_ws(const char *b, size_t len, size_t i)
{
	while (i < len && raw_ws(b[i]))
		i++;
	return i;
}

/* b[i] is '"': the index just past the closing quote, or len. */
static size_t raw_skip_string(const char *b, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (b[i] == '\\')
			i++;
		else if (b[i] == '"')
			return i + 1;
	}
	return len;
}

/* The index just past the value starting at b[i], or len when it does
 * not end (or nesting does not match) within the text. */
static size_t raw_skip_value(const char *b, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return len;
	if (b[i] != '{' && b[i] != '[') {
		if (b[i] == '"')
			return raw_skip_string(b, len, i);
		while (i < len && !raw_ws(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']')
			i++;
		return i;
	}
	while (i < len) {
		char c = b[i];

		if (c == '"') {
			i = raw_skip_string(b, len, i);
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return len;
			if (--depth == 0)
				return i + 1;
		}
		i++;
	}
	return len;
}

int pj_raw_member(const char *buf, size_t len, const char *key, size_t *start, size_t *end)
{
	size_t klen = strlen(key);
	size_t i = raw_skip_ws(buf, len, 0);

	if (i >= len || buf[i] != '{')
		return 1;
	i++;
	for (;;) {
		size_t k, v, e;

		i = raw_skip_ws(buf, len, i);
		if (i >= len || buf[i] != '"')
			return 1;
		k = i + 1;
		i = raw_skip_string(buf, len, i);
		if (i >= len)
			return 1;
		i = raw_skip_ws(buf, len, i);
		if (i >= len || buf[i] != ':')
			return 1;
		v = raw_skip_ws(buf, len, i + 1);
		e = raw_skip_value(buf, len, v);
		if (e >= len || e == v)
			return 1;
		if (i - k >= klen + 1 && memcmp(buf + k, key, klen) == 0 && buf[k + klen] == '"' &&
		    raw_skip_ws(buf, len, k + klen + 1) == i) {
			*start = v;
			*end = e;
			return 0;
		}
		i = raw_skip_ws(buf, len, e);
		if (i >= len || buf[i] != ',')
			return 1;
		i++;
	}
}

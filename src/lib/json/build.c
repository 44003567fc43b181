/*
 * build.c - building and changing documents.
 *
 * Containers that grow get their array from a heap block (PJF_HEAP) with
 * room for pj_cap_for(len) elements, so pushing is amortised O(1). A
 * parsed container keeps its arena array until it is first grown; then the
 * array is copied into a heap block. Nothing is freed before the document:
 * a value that is overwritten or removed leaves its memory to the doc.
 */
#include <stdlib.h>
#include <string.h>

#include "json/json_impl.h"

void pj_set_null(pj_value *dst)
{
	dst->type = PJ_NULL;
	dst->len = 0;
	dst->u.i = 0;
}

void pj_set_bool(pj_value *dst, bool b)
{
	dst->type = b ? PJ_TRUE : PJ_FALSE;
	dst->len = 0;
	dst->u.i = 0;
}

void pj_set_int(pj_value *dst, int64_t i)
{
	dst->type = PJ_INT;
	dst->len = 0;
	dst->u.i = i;
}

/* A checked, arena-held copy of a string or key. */
static int copy_text(pj_doc *doc, const char *s, size_t len, const char *what, char **ret)
{
	size_t bad;
	char *p;

	if (!s && len)
		return pawl_error_set(PAWL_E_INVALID, "JSON: %s is NULL", what);
	if (len > UINT32_MAX)
		return pawl_error_set(PAWL_E_LIMIT, "JSON: %s of %zu bytes is too long", what, len);
	if (!pj_utf8_valid(s, len, &bad))
		return pawl_error_set(PAWL_E_FORMAT, "JSON: %s is not valid UTF-8 (byte %zu)",
				      what, bad);
	p = pj_arena_strdup(doc, s, len);
	if (!p)
		return PAWL_E_NOMEM;
	*ret = p;
	return 0;
}

int pj_set_string(pj_doc *doc, pj_value *dst, const char *s, size_t len)
{
	char *p;

	GUARD(copy_text(doc, s, len, "string", &p));
	dst->type = (uint8_t)(PJ_STRING | (pj_is_plain(p, len) ? PJF_PLAIN : 0));
	dst->len = (uint32_t)len;
	dst->u.s = p;
	return 0;
}

int pj_set_cstr(pj_doc *doc, pj_value *dst, const char *s)
{
	if (!s)
		return pawl_error_set(PAWL_E_INVALID, "JSON: string is NULL");
	return pj_set_string(doc, dst, s, strlen(s));
}

int pj_set_object(pj_doc *doc, pj_value *dst)
{
	(void)doc;
	dst->type = PJ_OBJECT;
	dst->len = 0;
	dst->u.members = NULL;
	return 0;
}

int pj_set_array(pj_doc *doc, pj_value *dst)
{
	(void)doc;
	dst->type = PJ_ARRAY;
	dst->len = 0;
	dst->u.items = NULL;
	return 0;
}

/* Make room for one more element in v's array (elements of size elem):
 * the first growth moves the array into a heap block. */
static int make_room(pj_doc *doc, pj_value *v, size_t elem)
{
	size_t len = v->len, cap;
	void *p;

	/* Keeps pj_cap_for() and the byte count far from overflow, also
	 * where size_t has 32 bits. */
	if (len >= UINT32_MAX / 2 || len + 1 > SIZE_MAX / 2 / elem)
		return pawl_error_set(PAWL_E_LIMIT, "JSON: container of %zu elements is too large", len);
	if (v->type & PJF_HEAP) {
		if (len + 1 <= pj_cap_for(len))
			return 0;
		cap = pj_cap_for(len + 1);
		p = pj_heap_realloc(doc, v->u.items, cap * elem);
		if (!p)
			return PAWL_E_NOMEM;
	} else {
		cap = pj_cap_for(len + 1);
		p = pj_heap_alloc(doc, cap * elem);
		if (!p)
			return PAWL_E_NOMEM;
		if (len)
			memcpy(p, v->u.items, len * elem);
		v->type |= PJF_HEAP;
	}
	v->u.items = p;
	return 0;
}

static int need_object(const pj_value *obj, const char *fn)
{
	if (!pj_is_object(obj))
		return pawl_error_set(PAWL_E_INVALID, "JSON: %s on %s, not an object", fn,
				      pj_type_name(obj));
	return 0;
}

int pj_obj_put(pj_doc *doc, pj_value *obj, const char *key, size_t klen, pj_value **ret)
{
	pj_member *m;
	bool found;
	size_t i;
	char *k;

	GUARD(need_object(obj, "pj_obj_put"));
	if (obj->type & PJF_UNSORTED)
		return pawl_error_set(PAWL_E_INVALID, "JSON: pj_obj_put on an unfinished object");
	if (!key && klen)
		return pawl_error_set(PAWL_E_INVALID, "JSON: key is NULL");
	i = pj_find(obj, key ? key : "", klen, &found);
	if (found) {
		*ret = &obj->u.members[i].value;
		return 0;
	}
	/* Copy the key before growing: it may point into this very array. */
	GUARD(copy_text(doc, key, klen, "key", &k));
	GUARD(make_room(doc, obj, sizeof(pj_member)));
	m = obj->u.members;
	memmove(&m[i + 1], &m[i], (obj->len - i) * sizeof(*m));
	m[i].key = k;
	m[i].klen = (uint32_t)klen;
	pj_set_null(&m[i].value);
	obj->len++;
	*ret = &m[i].value;
	return 0;
}

int pj_obj_remove(pj_value *obj, const char *key)
{
	pj_member *m;
	bool found;
	size_t i, klen;

	GUARD(need_object(obj, "pj_obj_remove"));
	if (obj->type & PJF_UNSORTED)
		return pawl_error_set(PAWL_E_INVALID, "JSON: pj_obj_remove on an unfinished object");
	if (!key)
		return pawl_error_set(PAWL_E_INVALID, "JSON: key is NULL");
	klen = strlen(key);
	i = pj_find(obj, key, klen, &found);
	if (!found)
		return pawl_error_set(PAWL_E_NOT_FOUND, "JSON: no member \"%s\" to remove", key);
	m = obj->u.members;
	memmove(&m[i], &m[i + 1], (obj->len - i - 1) * sizeof(*m));
	obj->len--;
	return 0;
}

int pj_obj_append(pj_doc *doc, pj_value *obj, const char *key, size_t klen, pj_value **ret)
{
	pj_member *m;
	char *k;

	GUARD(need_object(obj, "pj_obj_append"));
	GUARD(copy_text(doc, key, klen, "key", &k));
	GUARD(make_room(doc, obj, sizeof(pj_member)));
	m = &obj->u.members[obj->len++];
	m->key = k;
	m->klen = (uint32_t)klen;
	pj_set_null(&m->value);
	obj->type |= PJF_UNSORTED;
	*ret = &m->value;
	return 0;
}

int pj_obj_finish(pj_value *obj, bool last_wins)
{
	pj_member *m, *tmp;
	size_t n, i, k;

	GUARD(need_object(obj, "pj_obj_finish"));
	if (!(obj->type & PJF_UNSORTED))
		return 0;
	m = obj->u.members;
	n = obj->len;
	tmp = xreallocarray(NULL, n / 2 + 1, sizeof(*tmp));
	if (!tmp)
		return PAWL_E_NOMEM;
	/* Stable: of equal keys, the one appended last stays last. */
	pj_members_sort(m, n, tmp);
	free(tmp);
	for (i = 1, k = n ? 1 : 0; i < n; i++) {
		if (pj_member_cmp(&m[k - 1], &m[i]) == 0) {
			if (!last_wins)
				return pawl_error_set(PAWL_E_FORMAT, "JSON: duplicate key \"%.*s\"",
						      (int)(m[i].klen > 64 ? 64 : m[i].klen),
						      m[i].key);
			m[k - 1] = m[i];
		} else {
			m[k++] = m[i];
		}
	}
	obj->len = (uint32_t)k;
	obj->type &= (uint8_t)~PJF_UNSORTED;
	return 0;
}

int pj_arr_push(pj_doc *doc, pj_value *arr, pj_value **ret)
{
	pj_value *v;

	if (!pj_is_array(arr))
		return pawl_error_set(PAWL_E_INVALID, "JSON: pj_arr_push on %s, not an array",
				      pj_type_name(arr));
	GUARD(make_room(doc, arr, sizeof(pj_value)));
	v = &arr->u.items[arr->len++];
	pj_set_null(v);
	*ret = v;
	return 0;
}

int pj_obj_put_str(pj_doc *doc, pj_value *obj, const char *key, const char *s)
{
	size_t len;
	pj_value *v;
	char *p;

	if (!key || !s)
		return pawl_error_set(PAWL_E_INVALID, "JSON: key or string is NULL");
	/* Copy first, so that a failure leaves obj as it was. */
	len = strlen(s);
	GUARD(copy_text(doc, s, len, "string", &p));
	GUARD(pj_obj_put(doc, obj, key, strlen(key), &v));
	v->type = (uint8_t)(PJ_STRING | (pj_is_plain(p, len) ? PJF_PLAIN : 0));
	v->len = (uint32_t)len;
	v->u.s = p;
	return 0;
}

int pj_obj_put_int(pj_doc *doc, pj_value *obj, const char *key, int64_t i)
{
	pj_value *v;

	if (!key)
		return pawl_error_set(PAWL_E_INVALID, "JSON: key is NULL");
	GUARD(pj_obj_put(doc, obj, key, strlen(key), &v));
	pj_set_int(v, i);
	return 0;
}

/* ---------------- deep copy ---------------- */

/* Copy a scalar or string; containers get an empty array of the right
 * size that copy_tree() fills. */
static int copy_node(pj_doc *doc, pj_value *dst, const pj_value *src)
{
	size_t n;
	void *p;

	switch (pj_typeof(src)) {
	case PJ_STRING:
		p = pj_arena_strdup(doc, src->u.s, src->len);
		if (!p)
			return PAWL_E_NOMEM;
		dst->type = (uint8_t)(src->type & (PJF_TYPE | PJF_PLAIN));
		dst->len = src->len;
		dst->u.s = p;
		return 0;
	case PJ_ARRAY:
	case PJ_OBJECT:
		dst->type = (uint8_t)(src->type & (PJF_TYPE | PJF_UNSORTED));
		dst->len = src->len;
		dst->u.items = NULL;
		if (src->len == 0)
			return 0;
		GUARD(size_mul(&n, src->len, pj_typeof(src) == PJ_ARRAY ? sizeof(pj_value)
									: sizeof(pj_member)));
		p = pj_arena_alloc(doc, n);
		if (!p)
			return PAWL_E_NOMEM;
		dst->u.items = p;
		return 0;
	case PJ_NULL:
	case PJ_FALSE:
	case PJ_TRUE:
	case PJ_INT:
		dst->type = (uint8_t)pj_typeof(src);
		dst->len = 0;
		dst->u.i = src->u.i;
		return 0;
	}
	return pawl_error_set(PAWL_E_INVALID, "JSON: invalid value type %u", src->type);
}

typedef struct copy_frame {
	const pj_value *src;
	pj_value *dst;
	uint32_t i;
} copy_frame;

int pj_copy(pj_doc *doc, pj_value *dst, const pj_value *src)
{
	copy_frame local[32], *st = local;
	size_t depth = 0, cap = ARRAY_SIZE(local);
	pj_value tmp;
	int r;

	if (!src)
		return pawl_error_set(PAWL_E_INVALID, "JSON: pj_copy from NULL");
	/* Build aside and assign at the end: src may lie inside dst. */
	GUARD(copy_node(doc, &tmp, src));
	if (pj_typeof(src) == PJ_ARRAY || pj_typeof(src) == PJ_OBJECT)
		st[depth++] = (copy_frame){ src, &tmp, 0 };
	while (depth > 0) {
		copy_frame *f = &st[depth - 1];
		const pj_value *s;
		pj_value *d;

		if (f->i == f->src->len) {
			depth--;
			continue;
		}
		if (pj_typeof(f->src) == PJ_OBJECT) {
			const pj_member *sm = &f->src->u.members[f->i];
			pj_member *dm = &f->dst->u.members[f->i];

			dm->key = pj_arena_strdup(doc, sm->key, sm->klen);
			if (!dm->key) {
				r = PAWL_E_NOMEM;
				goto out;
			}
			dm->klen = sm->klen;
			s = &sm->value;
			d = &dm->value;
		} else {
			s = &f->src->u.items[f->i];
			d = &f->dst->u.items[f->i];
		}
		f->i++;
		GUARD_GOTO(r, copy_node(doc, d, s), out);
		if ((pj_typeof(s) == PJ_ARRAY || pj_typeof(s) == PJ_OBJECT) && s->len > 0) {
			if (depth == cap) {
				copy_frame *ns;

				ns = xreallocarray(st == local ? NULL : st, cap * 2, sizeof(*st));
				if (!ns) {
					r = PAWL_E_NOMEM;
					goto out;
				}
				if (st == local)
					memcpy(ns, local, sizeof(local));
				st = ns;
				cap *= 2;
			}
			st[depth++] = (copy_frame){ s, d, 0 };
		}
	}
	*dst = tmp;
	r = 0;
out:
	if (st != local)
		free(st);
	return r;
}

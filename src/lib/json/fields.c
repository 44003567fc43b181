/*
 * fields.c - the strict reader of one JSON object of a state file
 * (json.h, "Reading a state file"): every key the caller asks for must be
 * there with its type, and no other key may be; and the few writers the
 * same files use.
 */
#include <string.h>

#include "json/json.h"
#include "util/semver.h"

int pj_fields_bad(const pj_fields *r, const char *key, const char *why)
{
	return pawl_error_set(PAWL_E_FORMAT, "%s is corrupt: %s%s%s %s; %s (operator attention needed)",
			      r->what, r->where, r->where[0] ? "." : "", key, why, r->consequence);
}

int pj_fields_get(pj_fields *r, const char *key, const pj_value **ret)
{
	const pj_value *v = pj_get(r->obj, key);

	if (!v)
		return pj_fields_bad(r, key, "is missing");
	r->used++;
	*ret = v;
	return 0;
}

int pj_fields_done(const pj_fields *r)
{
	if (r->used != r->obj->len)
		return pawl_error_set(PAWL_E_FORMAT, "%s is corrupt: unknown keys in %s; %s "
				      "(operator attention needed)", r->what,
				      r->where[0] ? r->where : "the top level", r->consequence);
	return 0;
}

int pj_fields_bool(pj_fields *r, const char *key, bool *out)
{
	const pj_value *v = NULL;

	GUARD(pj_fields_get(r, key, &v));
	if (!pj_is_bool(v))
		return pj_fields_bad(r, key, "is not a boolean");
	*out = pj_typeof(v) == PJ_TRUE;
	return 0;
}

int pj_fields_object(pj_fields *r, const char *key, bool nullable, const pj_value **out)
{
	const pj_value *v = NULL;

	GUARD(pj_fields_get(r, key, &v));
	if (pj_typeof(v) == PJ_NULL && nullable) {
		*out = NULL;
		return 0;
	}
	if (!pj_is_object(v))
		return pj_fields_bad(r, key, nullable ? "is not an object or null" :
						      "is not an object");
	*out = v;
	return 0;
}

int pj_fields_version(pj_fields *r, const char *key, bool nullable,
		      char out[PAWL_SEMVER_MAX_LEN + 1])
{
	const pj_value *v = NULL;
	semver sv;

	GUARD(pj_fields_get(r, key, &v));
	if (pj_typeof(v) == PJ_NULL && nullable) {
		out[0] = '\0';
		return 0;
	}
	if (!pj_is_string(v) || strlen(v->u.s) != v->len || v->len > PAWL_SEMVER_MAX_LEN ||
	    semver_parse(v->u.s, &sv) < 0) {
		pawl_error_clear();
		return pj_fields_bad(r, key, "is not a version");
	}
	memcpy(out, v->u.s, v->len + 1);
	return 0;
}

int pj_put_version(pj_doc *doc, pj_value *obj, const char *key, const char *v)
{
	pj_value *slot;

	GUARD(pj_obj_put(doc, obj, key, strlen(key), &slot));
	if (v && v[0])
		return pj_set_cstr(doc, slot, v);
	pj_set_null(slot);
	return 0;
}

int pj_put_bool(pj_doc *doc, pj_value *obj, const char *key, bool b)
{
	pj_value *slot;

	GUARD(pj_obj_put(doc, obj, key, strlen(key), &slot));
	pj_set_bool(slot, b);
	return 0;
}

int pj_put_object(pj_doc *doc, pj_value *obj, const char *key, pj_value **ret)
{
	GUARD(pj_obj_put(doc, obj, key, strlen(key), ret));
	return pj_set_object(doc, *ret);
}

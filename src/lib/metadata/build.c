/*
 * build.c - creating and changing metadata (the publisher side, and tests
 * that need repositories). Every change goes through the JSON document and
 * ends with md_reload(), so what is written is validated by the same code
 * that reads it.
 */
#include <stdio.h>
#include <string.h>

#include "metadata/metadata.h"
#include "util/clock.h"

static int reload(pawl_md *md)
{
	return md_reload(md, NULL);
}

static int put_obj(pj_doc *doc, pj_value *obj, const char *key, pj_value **ret)
{
	GUARD(pj_obj_put(doc, obj, key, strlen(key), ret));
	return pj_set_object(doc, *ret);
}

int md_new(pawl_md **ret, md_type type, uint64_t version, int64_t expires)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_value *root, *sig, *s, *v;
	char exp[21];

	ENSURE((unsigned)type < MD_NTOP, PAWL_E_INVALID, "bad metadata type");
	ENSURE(version >= 1 && version <= INT64_MAX, PAWL_E_INVALID, "bad version");
	GUARD(pj_doc_new(&doc));
	root = pj_root(doc);
	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put(doc, root, "signatures", 10, &sig));
	GUARD(pj_set_array(doc, sig));
	GUARD(put_obj(doc, root, "signed", &s));
	GUARD(pj_obj_put_str(doc, s, "_type", md_type_name(type)));
	GUARD(pj_obj_put_str(doc, s, "spec_version", PAWL_SPEC_VERSION));
	GUARD(pj_obj_put_int(doc, s, "version", (int64_t)version));
	pawl_time_format(expires, exp);
	GUARD(pj_obj_put_str(doc, s, "expires", exp));
	switch (type) {
	case MD_ROOT: {
		pj_value *roles;

		GUARD(pj_obj_put(doc, s, "consistent_snapshot", 19, &v));
		pj_set_bool(v, true);
		GUARD(put_obj(doc, s, "keys", &v));
		GUARD(put_obj(doc, s, "roles", &roles));
		for (int i = 0; i < MD_NTOP; i++) {
			pj_value *r, *ids;

			GUARD(put_obj(doc, roles, md_type_name((md_type)i), &r));
			GUARD(pj_obj_put(doc, r, "keyids", 6, &ids));
			GUARD(pj_set_array(doc, ids));
			GUARD(pj_obj_put_int(doc, r, "threshold", 1));
		}
		break;
	}
	case MD_TIMESTAMP: {
		pj_value *meta, *snap;

		GUARD(put_obj(doc, s, "meta", &meta));
		GUARD(put_obj(doc, meta, "snapshot.json", &snap));
		GUARD(pj_obj_put_int(doc, snap, "version", 1));
		break;
	}
	case MD_SNAPSHOT: {
		pj_value *meta, *t;

		GUARD(put_obj(doc, s, "meta", &meta));
		GUARD(put_obj(doc, meta, "targets.json", &t));
		GUARD(pj_obj_put_int(doc, t, "version", 1));
		break;
	}
	case MD_TARGETS:
		GUARD(put_obj(doc, s, "targets", &v));
		break;
	}
	return md_from_doc(ret, TAKE_PTR(doc), type, NULL);
}

int md_set_version(pawl_md *md, uint64_t version)
{
	ENSURE(version >= 1 && version <= INT64_MAX, PAWL_E_INVALID, "bad version");
	GUARD(pj_obj_put_int(md->doc, md->signed_v, "version", (int64_t)version));
	return reload(md);
}

int md_set_expires(pawl_md *md, int64_t expires)
{
	char exp[21];

	pawl_time_format(expires, exp);
	GUARD(pj_obj_put_str(md->doc, md->signed_v, "expires", exp));
	return reload(md);
}

static int add_key_to(pj_doc *doc, pj_value *keys, const pawl_key *k)
{
	pj_value *slot;
	char id[65];

	GUARD(key_compute_id(k, id));
	if (pj_get(keys, id))
		return 0;
	GUARD(pj_obj_put(doc, keys, id, strlen(id), &slot));
	return key_to_json(k, doc, slot);
}

int md_root_add_key(pawl_md *md, const pawl_key *k)
{
	ENSURE(md->type == MD_ROOT, PAWL_E_INVALID, "not root metadata");
	GUARD(add_key_to(md->doc, pj_get_mut(md->signed_v, "keys"), k));
	return reload(md);
}

static int set_keyids(pj_doc *doc, pj_value *obj, const char *const *keyids, size_t n,
		      uint32_t threshold)
{
	pj_value *ids, *slot;

	GUARD(pj_obj_put(doc, obj, "keyids", 6, &ids));
	GUARD(pj_set_array(doc, ids));
	for (size_t i = 0; i < n; i++) {
		GUARD(pj_arr_push(doc, ids, &slot));
		GUARD(pj_set_cstr(doc, slot, keyids[i]));
	}
	return pj_obj_put_int(doc, obj, "threshold", threshold);
}

int md_root_set_role(pawl_md *md, md_type role, const char *const *keyids, size_t n,
		     uint32_t threshold)
{
	pj_value *roles, *r;

	ENSURE(md->type == MD_ROOT, PAWL_E_INVALID, "not root metadata");
	ENSURE((unsigned)role < MD_NTOP, PAWL_E_INVALID, "bad role");
	roles = pj_get_mut(md->signed_v, "roles");
	r = pj_get_mut(roles, md_type_name(role));
	GUARD(set_keyids(md->doc, r, keyids, n, threshold));
	return reload(md);
}

int md_root_set_consistent(pawl_md *md, bool on)
{
	pj_value *v;

	GUARD(pj_obj_put(md->doc, md->signed_v, "consistent_snapshot", 19, &v));
	pj_set_bool(v, on);
	return reload(md);
}

int md_meta_put(pawl_md *md, const char *filename, uint64_t version, bool with_length,
		uint64_t length, const pj_value *hashes)
{
	pj_value *meta, *e, *h;

	ENSURE(md->type == MD_TIMESTAMP || md->type == MD_SNAPSHOT, PAWL_E_INVALID,
	       "not timestamp or snapshot metadata");
	meta = pj_get_mut(md->signed_v, "meta");
	GUARD(put_obj(md->doc, meta, filename, &e));
	GUARD(pj_obj_put_int(md->doc, e, "version", (int64_t)version));
	if (with_length)
		GUARD(pj_obj_put_int(md->doc, e, "length", (int64_t)length));
	if (hashes) {
		GUARD(pj_obj_put(md->doc, e, "hashes", 6, &h));
		GUARD(pj_copy(md->doc, h, hashes));
	}
	return reload(md);
}

int md_target_put(pawl_md *md, const char *path, uint64_t length, const pj_value *hashes,
		  const pj_value *custom)
{
	pj_value *targets, *e, *v;

	ENSURE(md->type == MD_TARGETS, PAWL_E_INVALID, "not targets metadata");
	targets = pj_get_mut(md->signed_v, "targets");
	GUARD(put_obj(md->doc, targets, path, &e));
	GUARD(pj_obj_put_int(md->doc, e, "length", (int64_t)length));
	GUARD(pj_obj_put(md->doc, e, "hashes", 6, &v));
	GUARD(pj_copy(md->doc, v, hashes));
	if (custom) {
		GUARD(pj_obj_put(md->doc, e, "custom", 6, &v));
		GUARD(pj_copy(md->doc, v, custom));
	}
	return reload(md);
}

int md_target_remove(pawl_md *md, const char *path)
{
	ENSURE(md->type == MD_TARGETS, PAWL_E_INVALID, "not targets metadata");
	GUARD(pj_obj_remove(pj_get_mut(md->signed_v, "targets"), path));
	return reload(md);
}

static int deleg_obj(pawl_md *md, pj_value **ret)
{
	pj_value *d = pj_get_mut(md->signed_v, "delegations"), *v;

	if (!d) {
		GUARD(put_obj(md->doc, md->signed_v, "delegations", &d));
		GUARD(put_obj(md->doc, d, "keys", &v));
	}
	*ret = d;
	return 0;
}

static int string_list(pj_doc *doc, pj_value *obj, const char *key, const char *const *v, size_t n)
{
	pj_value *arr, *slot;

	GUARD(pj_obj_put(doc, obj, key, strlen(key), &arr));
	GUARD(pj_set_array(doc, arr));
	for (size_t i = 0; i < n; i++) {
		GUARD(pj_arr_push(doc, arr, &slot));
		GUARD(pj_set_cstr(doc, slot, v[i]));
	}
	return 0;
}

/* Add keys to delegations.keys and write their ids into obj.keyids. */
static int deleg_keys(pawl_md *md, pj_value *d, pj_value *obj, pawl_key *const *keys,
		      size_t nkeys, uint32_t threshold)
{
	pj_value *ids, *slot;
	char id[65];

	GUARD(pj_obj_put(md->doc, obj, "keyids", 6, &ids));
	GUARD(pj_set_array(md->doc, ids));
	for (size_t i = 0; i < nkeys; i++) {
		GUARD(key_compute_id(keys[i], id));
		GUARD(pj_arr_push(md->doc, ids, &slot));
		GUARD(pj_set_cstr(md->doc, slot, id));
	}
	GUARD(pj_obj_put_int(md->doc, obj, "threshold", threshold));
	for (size_t i = 0; i < nkeys; i++)
		GUARD(add_key_to(md->doc, pj_get_mut(d, "keys"), keys[i]));
	return 0;
}

int md_deleg_add_role(pawl_md *md, const char *name, pawl_key *const *keys, size_t nkeys,
		      uint32_t threshold, bool terminating, const char *const *paths,
		      size_t npaths, const char *const *prefixes, size_t nprefixes)
{
	pj_value *d, *roles, *r, *v;

	ENSURE(md->type == MD_TARGETS, PAWL_E_INVALID, "not targets metadata");
	GUARD(deleg_obj(md, &d));
	ENSURE(!pj_get(d, "succinct_roles"), PAWL_E_INVALID,
	       "targets already delegates with succinct hash bins");
	roles = pj_get_mut(d, "roles");
	if (!roles) {
		GUARD(pj_obj_put(md->doc, d, "roles", 5, &roles));
		GUARD(pj_set_array(md->doc, roles));
	}
	/* Replace a role of the same name in place, keeping the order. */
	r = NULL;
	for (uint32_t i = 0; i < roles->len; i++)
		if (strcmp(pj_str(pj_get(&roles->u.items[i], "name")) ?: "", name) == 0)
			r = &roles->u.items[i];
	if (!r)
		GUARD(pj_arr_push(md->doc, roles, &r));
	GUARD(pj_set_object(md->doc, r));
	GUARD(pj_obj_put_str(md->doc, r, "name", name));
	GUARD(deleg_keys(md, d, r, keys, nkeys, threshold));
	GUARD(pj_obj_put(md->doc, r, "terminating", 11, &v));
	pj_set_bool(v, terminating);
	if (prefixes)
		GUARD(string_list(md->doc, r, "path_hash_prefixes", prefixes, nprefixes));
	else
		GUARD(string_list(md->doc, r, "paths", paths, npaths));
	return reload(md);
}

int md_deleg_set_succinct(pawl_md *md, pawl_key *const *keys, size_t nkeys, uint32_t threshold,
			  uint32_t bit_length, const char *name_prefix)
{
	pj_value *d, *s, *v;

	ENSURE(md->type == MD_TARGETS, PAWL_E_INVALID, "not targets metadata");
	GUARD(deleg_obj(md, &d));
	ENSURE(!pj_get(d, "roles"), PAWL_E_INVALID, "targets already delegates to named roles");
	GUARD(put_obj(md->doc, d, "succinct_roles", &s));
	GUARD(deleg_keys(md, d, s, keys, nkeys, threshold));
	GUARD(pj_obj_put_int(md->doc, s, "bit_length", bit_length));
	GUARD(pj_obj_put(md->doc, s, "name_prefix", 11, &v));
	GUARD(pj_set_cstr(md->doc, v, name_prefix));
	return reload(md);
}

int md_deleg_remove_role(pawl_md *md, const char *name)
{
	pj_value *d = pj_get_mut(md->signed_v, "delegations");
	pj_value *roles = d ? pj_get_mut(d, "roles") : NULL;

	ENSURE(roles, PAWL_E_NOT_FOUND, "no delegated role \"%s\"", name);
	for (uint32_t i = 0; i < roles->len; i++) {
		if (strcmp(pj_str(pj_get(&roles->u.items[i], "name")) ?: "", name) == 0) {
			memmove(&roles->u.items[i], &roles->u.items[i + 1],
				(roles->len - i - 1) * sizeof(*roles->u.items));
			roles->len--;
			return reload(md);
		}
	}
	return pawl_error_set(PAWL_E_NOT_FOUND, "no delegated role \"%s\"", name);
}

int md_clear_signatures(pawl_md *md)
{
	pj_value *root = pj_root(md->doc), *sigs;

	GUARD(pj_obj_put(md->doc, root, "signatures", 10, &sigs));
	GUARD(pj_set_array(md->doc, sigs));
	return reload(md);
}

int md_sign(pawl_md *md, const pawl_signer *signer)
{
	pj_value *root = pj_root(md->doc), *sigs, *slot = NULL;
	const char *msg, *keyid = signer_keyid(signer);
	_cleanup_free_ uint8_t *sig = NULL;
	_cleanup_free_ char *hex = NULL;
	size_t msglen, siglen;

	GUARD(md_signed_bytes(md, &msg, &msglen));
	GUARD(signer_sign(signer, msg, msglen, &sig, &siglen));
	hex = xmalloc(2 * siglen + 1);
	if (!hex)
		return PAWL_E_NOMEM;
	hex_encode(hex, sig, siglen);
	sigs = pj_get_mut(root, "signatures");
	for (uint32_t i = 0; i < sigs->len; i++)
		if (strcmp(pj_str(pj_get(&sigs->u.items[i], "keyid")) ?: "", keyid) == 0)
			slot = &sigs->u.items[i];
	if (!slot)
		GUARD(pj_arr_push(md->doc, sigs, &slot));
	GUARD(pj_set_object(md->doc, slot));
	GUARD(pj_obj_put_str(md->doc, slot, "keyid", keyid));
	GUARD(pj_obj_put_str(md->doc, slot, "sig", hex));
	return reload(md);
}

/*
 * bulk.c - appending many targets or meta entries with one sort and one
 * validation at the end (see bulk.h for why).
 */
#include <string.h>

#include "metadata/bulk.h"

static int put_hashes(pj_doc *doc, pj_value *entry, const md_hash_hex *hashes, size_t n)
{
	pj_value *h, *slot;

	GUARD(pj_obj_put(doc, entry, "hashes", 6, &h));
	GUARD(pj_set_object(doc, h));
	for (size_t i = 0; i < n; i++) {
		GUARD(pj_obj_put(doc, h, hashes[i].alg, strlen(hashes[i].alg), &slot));
		GUARD(pj_set_cstr(doc, slot, hashes[i].hex));
	}
	return 0;
}

int md_bulk_target(pawl_md *md, const char *path, size_t pathlen, uint64_t length,
		   const md_hash_hex *hashes, size_t nhashes, const pj_value *custom)
{
	pj_value *targets, *e, *v;

	ENSURE(md->type == MD_TARGETS, PAWL_E_INVALID, "not targets metadata");
	ENSURE(nhashes > 0, PAWL_E_INVALID, "target %.*s: no hashes", (int)pathlen, path);
	ENSURE(length <= INT64_MAX, PAWL_E_LIMIT, "target %.*s: length too large", (int)pathlen,
	       path);
	ENSURE(memchr(path, '\0', pathlen) == NULL, PAWL_E_INVALID, "target path with NUL");
	targets = pj_get_mut(md->signed_v, "targets");
	ENSURE(targets, PAWL_E_FORMAT, "targets metadata without \"targets\"");
	GUARD(pj_obj_append(md->doc, targets, path, pathlen, &e));
	/* The members array may have moved; e is valid until the next append. */
	GUARD(pj_set_object(md->doc, e));
	GUARD(pj_obj_put_int(md->doc, e, "length", (int64_t)length));
	GUARD(put_hashes(md->doc, e, hashes, nhashes));
	if (custom) {
		GUARD(pj_obj_put(md->doc, e, "custom", 6, &v));
		GUARD(pj_copy(md->doc, v, custom));
	}
	return 0;
}

int md_bulk_meta(pawl_md *md, const char *filename, uint64_t version, bool with_length,
		 uint64_t length, const md_hash_hex *hashes, size_t nhashes)
{
	pj_value *meta, *e;

	ENSURE(md->type == MD_TIMESTAMP || md->type == MD_SNAPSHOT, PAWL_E_INVALID,
	       "not timestamp or snapshot metadata");
	ENSURE(version >= 1 && version <= INT64_MAX && length <= INT64_MAX, PAWL_E_INVALID,
	       "meta %s: bad version or length", filename);
	meta = pj_get_mut(md->signed_v, "meta");
	ENSURE(meta, PAWL_E_FORMAT, "metadata without \"meta\"");
	GUARD(pj_obj_append(md->doc, meta, filename, strlen(filename), &e));
	GUARD(pj_set_object(md->doc, e));
	GUARD(pj_obj_put_int(md->doc, e, "version", (int64_t)version));
	if (with_length)
		GUARD(pj_obj_put_int(md->doc, e, "length", (int64_t)length));
	if (nhashes)
		GUARD(put_hashes(md->doc, e, hashes, nhashes));
	return 0;
}

int md_bulk_finish(pawl_md *md)
{
	pj_value *obj = pj_get_mut(md->signed_v, md->type == MD_TARGETS ? "targets" : "meta");

	ENSURE(obj, PAWL_E_FORMAT, "%s metadata without its collection", md_type_name(md->type));
	GUARD(pj_obj_finish(obj, true));
	return md_reload(md, NULL);
}

int md_root_remove_key(pawl_md *md, const char *keyid)
{
	ENSURE(md->type == MD_ROOT, PAWL_E_INVALID, "not root metadata");
	for (int i = 0; i < MD_NTOP; i++)
		for (uint32_t k = 0; k < md->roles[i].nkeyids; k++)
			ENSURE(strcmp(md->roles[i].keyids[k], keyid) != 0, PAWL_E_INVALID,
			       "key %.64s is still a %s key", keyid, md_type_name((md_type)i));
	GUARD(pj_obj_remove(pj_get_mut(md->signed_v, "keys"), keyid));
	return md_reload(md, NULL);
}

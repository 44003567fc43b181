/*
 * parse.c - strict validation of TUF metadata documents (TUF 1.0.x,
 * section 4). Each check names the role and the field it failed on.
 */
#include <stdio.h>
#include <string.h>

#include "metadata/metadata.h"
#include "util/clock.h"

static const char *const type_names[MD_NTOP] = { "root", "timestamp", "snapshot", "targets" };

const char *md_type_name(md_type t)
{
	return (unsigned)t < MD_NTOP ? type_names[t] : "?";
}

/* Fetch obj[key] and check its type; absent is PAWL_E_FORMAT unless
 * optional, then *ret is NULL. */
static int field(const pj_value *obj, const char *key, pj_type want, bool optional,
		 const pj_value **ret, const char *role, const char *where)
{
	const pj_value *v = pj_get(obj, key);

	if (!v) {
		if (optional) {
			*ret = NULL;
			return 0;
		}
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s%s\"%s\" is missing", role, where,
				      *where ? "." : "", key);
	}
	if (pj_typeof(v) != want && !(want == PJ_TRUE && pj_is_bool(v)))
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s%s\"%s\" must be %s, not %s", role,
				      where, *where ? "." : "", key,
				      want == PJ_TRUE ? "a boolean" :
				      want == PJ_INT ? "an integer" :
				      want == PJ_STRING ? "a string" :
				      want == PJ_ARRAY ? "an array" : "an object",
				      pj_type_name(v));
	*ret = v;
	return 0;
}

/* A string that is also a safe C string (no embedded NUL). */
static bool clean_string(const pj_value *v)
{
	return pj_is_string(v) && strlen(v->u.s) == v->len;
}

static int positive_int(const pj_value *v, uint64_t min, uint64_t *ret, const char *role,
			const char *what)
{
	if (!pj_is_int(v) || v->u.i < 0 || (uint64_t)v->u.i < min)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s must be an integer >= %llu", role,
				      what, (unsigned long long)min);
	*ret = (uint64_t)v->u.i;
	return 0;
}

/* spec_version "MAJOR.MINOR[.PATCH]": digits only, major must be 1
 * (TUF 1.0.x, section 4.2: a client must refuse other major versions). */
static int check_spec_version(const char *s, const char *role)
{
	int parts = 0;
	const char *p = s;

	while (*p) {
		const char *start = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start || p - start > 9)
			goto bad;
		parts++;
		if (*p == '.')
			p++;
		else if (*p)
			goto bad;
		else
			break;
		if (!*p)
			goto bad;
	}
	if (parts < 2 || parts > 3)
		goto bad;
	if (!(s[0] == '1' && s[1] == '.'))
		return pawl_error_set(PAWL_E_UNSUPPORTED,
				      "%s: spec_version %s is not supported (pawl implements 1.x)",
				      role, s);
	return 0;
bad:
	return pawl_error_set(PAWL_E_FORMAT, "%s: spec_version \"%.40s\" is malformed", role, s);
}

static int keyids_parse(const pj_value *arr, const char ***ret, uint32_t *ret_n, const char *role,
			const char *where)
{
	const char **ids;

	if (arr->len > MD_MAX_KEYIDS_PER_ROLE)
		return pawl_error_set(PAWL_E_LIMIT, "%s: %s.keyids lists %u keys (limit %d)", role,
				      where, arr->len, MD_MAX_KEYIDS_PER_ROLE);
	ids = xcalloc(arr->len, sizeof(*ids));
	if (!ids)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < arr->len; i++) {
		const pj_value *k = &arr->u.items[i];

		if (!clean_string(k) || k->len == 0) {
			free(ids);
			return pawl_error_set(PAWL_E_FORMAT, "%s: %s.keyids[%u] must be a string",
					      role, where, i);
		}
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(ids[j], k->u.s) == 0) {
				free(ids);
				return pawl_error_set(PAWL_E_FORMAT,
						      "%s: %s.keyids lists %s twice", role,
						      where, k->u.s);
			}
		}
		ids[i] = k->u.s;
	}
	*ret = ids;
	*ret_n = arr->len;
	return 0;
}

/* {"keyids": [...], "threshold": N} */
static int role_keys_parse(const pj_value *obj, md_role *r, const char *role, const char *where)
{
	const pj_value *ids, *th;
	uint64_t t = 0;

	GUARD(field(obj, "keyids", PJ_ARRAY, false, &ids, role, where));
	GUARD(field(obj, "threshold", PJ_INT, false, &th, role, where));
	{
		char what[256];

		snprintf(what, sizeof(what), "%s.threshold", where);
		GUARD(positive_int(th, 1, &t, role, what));
	}
	if (t > UINT32_MAX)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s.threshold is too large", role, where);
	r->threshold = (uint32_t)t;
	return keyids_parse(ids, &r->keyids, &r->nkeyids, role, where);
}

static void keys_free(md_keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		key_free(ks->v[i].key);
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

/* "keys": {KEYID: KEY, ...}. A key of a kind pawl cannot use (unknown
 * scheme, weak RSA) is kept with key == NULL: it can never count toward a
 * threshold, but it does not make the whole document unreadable, just as
 * other TUF clients treat it. A structurally malformed key object is a
 * format error. */
static int keys_parse(const pj_value *obj, md_keys *ret, const char *role, const char *where)
{
	md_keys ks = { NULL, 0 };

	if (obj->len > MD_MAX_KEYS)
		return pawl_error_set(PAWL_E_LIMIT, "%s: %s.keys has %u keys (limit %d)", role,
				      where, obj->len, MD_MAX_KEYS);
	ks.v = xcalloc(obj->len, sizeof(*ks.v));
	if (!ks.v)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < obj->len; i++) {
		const pj_member *m = &obj->u.members[i];
		const pj_value *kv, *pub, *kt, *sc;
		int r;

		if (strlen(m->key) != m->klen || m->klen == 0 || !pj_is_object(&m->value)) {
			keys_free(&ks);
			return pawl_error_set(PAWL_E_FORMAT, "%s: %s.keys entry %u is malformed",
					      role, where, i);
		}
		if ((r = field(&m->value, "keytype", PJ_STRING, false, &kt, role, m->key)) < 0 ||
		    (r = field(&m->value, "scheme", PJ_STRING, false, &sc, role, m->key)) < 0 ||
		    (r = field(&m->value, "keyval", PJ_OBJECT, false, &kv, role, m->key)) < 0 ||
		    (r = field(kv, "public", PJ_STRING, false, &pub, role, m->key)) < 0) {
			keys_free(&ks);
			return pawl_error_prefix(r, "key %s: ", m->key);
		}
		ks.v[i].keyid = m->key;
		ks.n = i + 1;
		r = key_from_json(&ks.v[i].key, &m->value, m->key);
		if (r == PAWL_E_NOMEM) {
			keys_free(&ks);
			return r;
		}
		if (r < 0)
			ks.v[i].key = NULL; /* unusable: never counts */
	}
	/* Members of a parsed object are sorted by key, so ks is sorted. */
	*ret = ks;
	return 0;
}

const md_keyentry *md_keys_find(const md_keys *keys, const char *keyid)
{
	size_t lo = 0, hi = keys->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(keys->v[mid].keyid, keyid);

		if (c == 0)
			return &keys->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int md_metafile_parse(const pj_value *v, md_metafile *ret, const char *what)
{
	const pj_value *ver, *len, *hashes;
	md_metafile mf = { 0, false, 0, NULL };

	if (!pj_is_object(v))
		return pawl_error_set(PAWL_E_FORMAT, "%s must be an object", what);
	GUARD(field(v, "version", PJ_INT, false, &ver, what, ""));
	GUARD(positive_int(ver, 1, &mf.version, what, "version"));
	GUARD(field(v, "length", PJ_INT, true, &len, what, ""));
	if (len) {
		GUARD(positive_int(len, 0, &mf.length, what, "length"));
		mf.has_length = true;
	}
	GUARD(field(v, "hashes", PJ_OBJECT, true, &hashes, what, ""));
	if (hashes) {
		if (hashes->len == 0)
			return pawl_error_set(PAWL_E_FORMAT, "%s: hashes is empty", what);
		for (uint32_t i = 0; i < hashes->len; i++)
			if (!clean_string(&hashes->u.members[i].value))
				return pawl_error_set(PAWL_E_FORMAT,
						      "%s: hashes.%s must be a string", what,
						      hashes->u.members[i].key);
		mf.hashes = hashes;
	}
	*ret = mf;
	return 0;
}

int md_target_parse(const pj_value *v, md_target *ret, const char *what)
{
	const pj_value *len, *hashes, *custom;
	md_target t = { 0, NULL, NULL };

	if (!pj_is_object(v))
		return pawl_error_set(PAWL_E_FORMAT, "target %s must be an object", what);
	GUARD(field(v, "length", PJ_INT, false, &len, "target", what));
	GUARD(positive_int(len, 0, &t.length, "target", what));
	GUARD(field(v, "hashes", PJ_OBJECT, false, &hashes, "target", what));
	if (hashes->len == 0 || hashes->len > MD_MAX_HASHES)
		return pawl_error_set(PAWL_E_FORMAT, "target %s: hashes must list 1 to %d digests",
				      what, MD_MAX_HASHES);
	for (uint32_t i = 0; i < hashes->len; i++)
		if (!clean_string(&hashes->u.members[i].value))
			return pawl_error_set(PAWL_E_FORMAT, "target %s: hashes.%s must be a string",
					      what, hashes->u.members[i].key);
	t.hashes = hashes;
	custom = pj_get(v, "custom");
	if (custom && !pj_is_object(custom))
		return pawl_error_set(PAWL_E_FORMAT, "target %s: custom must be an object", what);
	t.custom = custom;
	*ret = t;
	return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_top_level_name(const char *n)
{
	for (int i = 0; i < MD_NTOP; i++)
		if (strcmp(n, type_names[i]) == 0)
			return true;
	return false;
}

static void deleg_free(md_delegations *d)
{
	keys_free(&d->keys);
	for (size_t i = 0; i < d->nroles; i++)
		free(d->roles[i].keyids);
	free(d->roles);
	free(d->succinct.role.keyids);
	memset(d, 0, sizeof(*d));
}

static int string_array(const pj_value *arr, size_t max, const char *role, const char *what)
{
	if (arr->len > max)
		return pawl_error_set(PAWL_E_LIMIT, "%s: %s has %u entries (limit %zu)", role, what,
				      arr->len, max);
	for (uint32_t i = 0; i < arr->len; i++)
		if (!clean_string(&arr->u.items[i]))
			return pawl_error_set(PAWL_E_FORMAT, "%s: %s[%u] must be a string", role,
					      what, i);
	return 0;
}

static int deleg_role_parse(const pj_value *v, md_role *r, const char *role, uint32_t idx)
{
	const pj_value *name, *term, *paths, *prefixes;
	char where[64];

	snprintf(where, sizeof(where), "delegations.roles[%u]", idx);
	if (!pj_is_object(v))
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s must be an object", role, where);
	GUARD(field(v, "name", PJ_STRING, false, &name, role, where));
	if (!clean_string(name) || name->len == 0)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s.name is empty or has NUL", role, where);
	if (is_top_level_name(name->u.s))
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s: delegated role may not be named \"%s\" (a top-level role)",
				      role, name->u.s);
	GUARD(field(v, "terminating", PJ_TRUE, false, &term, role, where));
	GUARD(field(v, "paths", PJ_ARRAY, true, &paths, role, where));
	GUARD(field(v, "path_hash_prefixes", PJ_ARRAY, true, &prefixes, role, where));
	if ((paths == NULL) == (prefixes == NULL))
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s: delegated role \"%s\" must have exactly one of paths and "
				      "path_hash_prefixes", role, name->u.s);
	if (paths)
		GUARD(string_array(paths, MD_MAX_PATHS_PER_ROLE, role, "paths"));
	if (prefixes)
		GUARD(string_array(prefixes, MD_MAX_PATHS_PER_ROLE, role, "path_hash_prefixes"));
	r->name = name->u.s;
	r->terminating = pj_typeof(term) == PJ_TRUE;
	r->paths = paths;
	r->path_hash_prefixes = prefixes;
	return role_keys_parse(v, r, role, name->u.s);
}

static int delegations_parse(const pj_value *v, md_delegations *d, const char *role)
{
	const pj_value *keys, *roles, *succ;
	int r;

	GUARD(field(v, "keys", PJ_OBJECT, false, &keys, role, "delegations"));
	GUARD(field(v, "roles", PJ_ARRAY, true, &roles, role, "delegations"));
	GUARD(field(v, "succinct_roles", PJ_OBJECT, true, &succ, role, "delegations"));
	if ((roles == NULL) == (succ == NULL))
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s: delegations must have exactly one of roles and "
				      "succinct_roles", role);
	GUARD(keys_parse(keys, &d->keys, role, "delegations"));
	if (roles) {
		if (roles->len > MD_MAX_DELEGATED_ROLES) {
			r = pawl_error_set(PAWL_E_LIMIT, "%s: %u delegated roles (limit %d)", role,
					   roles->len, MD_MAX_DELEGATED_ROLES);
			goto fail;
		}
		d->roles = xcalloc(roles->len, sizeof(*d->roles));
		if (!d->roles) {
			r = PAWL_E_NOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < roles->len; i++) {
			GUARD_GOTO(r, deleg_role_parse(&roles->u.items[i], &d->roles[i], role, i),
				   fail);
			d->nroles = i + 1;
		}
		/* Role names must be unique: a name is what clients fetch. */
		if (d->nroles > 1) {
			const char **names = xcalloc(d->nroles, sizeof(*names));

			if (!names) {
				r = PAWL_E_NOMEM;
				goto fail;
			}
			for (size_t i = 0; i < d->nroles; i++)
				names[i] = d->roles[i].name;
			qsort(names, d->nroles, sizeof(*names), cmp_str_ptr);
			for (size_t i = 1; i < d->nroles; i++) {
				if (strcmp(names[i - 1], names[i]) == 0) {
					r = pawl_error_set(PAWL_E_FORMAT,
							   "%s: delegated role \"%s\" is listed twice",
							   role, names[i]);
					free(names);
					goto fail;
				}
			}
			free(names);
		}
	} else {
		const pj_value *bl, *prefix;
		uint64_t bits = 0;

		GUARD_GOTO(r, field(succ, "bit_length", PJ_INT, false, &bl, role, "succinct_roles"),
			   fail);
		GUARD_GOTO(r, positive_int(bl, 1, &bits, role, "succinct_roles.bit_length"), fail);
		ENSURE_GOTO(r, bits <= 32, PAWL_E_FORMAT, fail,
			    "%s: succinct_roles.bit_length must be 1 to 32", role);
		GUARD_GOTO(r, field(succ, "name_prefix", PJ_STRING, false, &prefix, role,
				    "succinct_roles"), fail);
		ENSURE_GOTO(r, clean_string(prefix), PAWL_E_FORMAT, fail,
			    "%s: succinct_roles.name_prefix has NUL", role);
		GUARD_GOTO(r, role_keys_parse(succ, &d->succinct.role, role, "succinct_roles"),
			   fail);
		d->succinct_present = true;
		d->succinct.bit_length = (uint32_t)bits;
		d->succinct.name_prefix = prefix->u.s;
		d->succinct.role.name = prefix->u.s;
		d->succinct.role.terminating = true;
	}
	return 0;
fail:
	deleg_free(d);
	return r;
}

/* One signature per key id: a second one from the same key could only be
 * a replay or a mistake, and the reference client refuses it too. */
static int check_unique_sig_keyids(const pj_value *sigs, const char *name)
{
	const char **ids;
	int r = 0;

	if (sigs->len < 2)
		return 0;
	ids = xcalloc(sigs->len, sizeof(*ids));
	if (!ids)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < sigs->len; i++)
		ids[i] = pj_get(&sigs->u.items[i], "keyid")->u.s;
	qsort(ids, sigs->len, sizeof(*ids), cmp_str_ptr);
	for (uint32_t i = 1; i < sigs->len && r == 0; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			r = pawl_error_set(PAWL_E_FORMAT, "%s: signatures lists key %.64s twice", name,
					   ids[i]);
	free(ids);
	return r;
}

static void md_clear(pawl_md *md)
{
	keys_free(&md->keys);
	for (int i = 0; i < MD_NTOP; i++) {
		free(md->roles[i].keyids);
		md->roles[i].keyids = NULL;
	}
	deleg_free(&md->deleg);
	free(md->canon);
	md->canon = NULL;
	md->canon_len = 0;
	md->has_delegations = false;
	md->meta = md->targets = NULL;
}

static int root_parse(pawl_md *md, const char *name)
{
	const pj_value *s = md->signed_v, *keys, *roles, *cs;

	GUARD(field(s, "consistent_snapshot", PJ_TRUE, true, &cs, name, "signed"));
	md->consistent_snapshot = cs && pj_typeof(cs) == PJ_TRUE;
	GUARD(field(s, "keys", PJ_OBJECT, false, &keys, name, "signed"));
	GUARD(field(s, "roles", PJ_OBJECT, false, &roles, name, "signed"));
	GUARD(keys_parse(keys, &md->keys, name, "signed"));
	if (roles->len != MD_NTOP)
		goto roles_bad;
	for (int i = 0; i < MD_NTOP; i++) {
		const pj_value *r = pj_get(roles, type_names[i]);
		char where[64];

		if (!pj_is_object(r))
			goto roles_bad;
		snprintf(where, sizeof(where), "roles.%s", type_names[i]);
		md->roles[i].name = type_names[i];
		GUARD(role_keys_parse(r, &md->roles[i], name, where));
	}
	return 0;
roles_bad:
	return pawl_error_set(PAWL_E_FORMAT,
			      "%s: roles must be exactly root, timestamp, snapshot and targets",
			      name);
}

static int meta_parse(pawl_md *md, const char *name)
{
	const pj_value *meta;

	GUARD(field(md->signed_v, "meta", PJ_OBJECT, false, &meta, name, "signed"));
	for (uint32_t i = 0; i < meta->len; i++) {
		const pj_member *m = &meta->u.members[i];
		md_metafile mf;
		char what[300];

		if (strlen(m->key) != m->klen)
			return pawl_error_set(PAWL_E_FORMAT, "%s: meta key has NUL", name);
		snprintf(what, sizeof(what), "%s: meta \"%.200s\"", name, m->key);
		GUARD(md_metafile_parse(&m->value, &mf, what));
	}
	md->meta = meta;
	if (md->type == MD_TIMESTAMP) {
		const pj_value *snap = pj_get(meta, "snapshot.json");

		if (!snap)
			return pawl_error_set(PAWL_E_FORMAT,
					      "%s: meta has no \"snapshot.json\" entry", name);
		GUARD(md_metafile_parse(snap, &md->snapshot_meta, "timestamp: meta.snapshot.json"));
	} else if (!pj_get(meta, "targets.json")) {
		return pawl_error_set(PAWL_E_FORMAT, "%s: meta has no \"targets.json\" entry",
				      name);
	}
	return 0;
}

static int targets_parse(pawl_md *md, const char *name)
{
	const pj_value *targets, *deleg;

	GUARD(field(md->signed_v, "targets", PJ_OBJECT, false, &targets, name, "signed"));
	for (uint32_t i = 0; i < targets->len; i++) {
		const pj_member *m = &targets->u.members[i];
		md_target t;

		if (strlen(m->key) != m->klen)
			return pawl_error_set(PAWL_E_FORMAT, "%s: a target path has NUL", name);
		GUARD(md_target_parse(&m->value, &t, m->key));
	}
	md->targets = targets;
	GUARD(field(md->signed_v, "delegations", PJ_OBJECT, true, &deleg, name, "signed"));
	if (deleg) {
		GUARD(delegations_parse(deleg, &md->deleg, name));
		md->has_delegations = true;
	}
	return 0;
}

int md_reload(pawl_md *md, const char *name)
{
	pj_value *root = pj_root(md->doc);
	const pj_value *sigs, *type, *spec, *ver, *exp;
	md_type want = md->type;
	int r;

	md_clear(md);
	if (!name)
		name = md_type_name(want);
	if (!pj_is_object(root))
		return pawl_error_set(PAWL_E_FORMAT, "%s: metadata must be a JSON object", name);
	GUARD(field(root, "signatures", PJ_ARRAY, false, &sigs, name, ""));
	if (sigs->len > MD_MAX_SIGNATURES)
		return pawl_error_set(PAWL_E_LIMIT, "%s: %u signatures (limit %d)", name, sigs->len,
				      MD_MAX_SIGNATURES);
	for (uint32_t i = 0; i < sigs->len; i++) {
		const pj_value *s = &sigs->u.items[i], *kid, *sig;

		if (!pj_is_object(s))
			return pawl_error_set(PAWL_E_FORMAT, "%s: signatures[%u] must be an object",
					      name, i);
		GUARD(field(s, "keyid", PJ_STRING, false, &kid, name, "signatures"));
		GUARD(field(s, "sig", PJ_STRING, false, &sig, name, "signatures"));
	}
	GUARD(check_unique_sig_keyids(sigs, name));
	md->signatures = sigs;
	md->signed_v = pj_get_mut(root, "signed");
	if (!pj_is_object(md->signed_v))
		return pawl_error_set(PAWL_E_FORMAT, "%s: \"signed\" is missing or not an object",
				      name);
	GUARD(field(md->signed_v, "_type", PJ_STRING, false, &type, name, "signed"));
	if (strcmp(type->u.s, type_names[want]) != 0)
		return pawl_error_set(PAWL_E_FORMAT, "%s: expected _type \"%s\", found \"%.40s\"",
				      name, type_names[want], type->u.s);
	GUARD(field(md->signed_v, "spec_version", PJ_STRING, false, &spec, name, "signed"));
	GUARD(check_spec_version(spec->u.s, name));
	md->spec_version = spec->u.s;
	GUARD(field(md->signed_v, "version", PJ_INT, false, &ver, name, "signed"));
	GUARD(positive_int(ver, 1, &md->version, name, "signed.version"));
	GUARD(field(md->signed_v, "expires", PJ_STRING, false, &exp, name, "signed"));
	if ((r = pawl_time_parse(exp->u.s, &md->expires)) < 0)
		return pawl_error_prefix(r, "%s: signed.expires: ", name);
	md->expires_str = exp->u.s;

	switch (want) {
	case MD_ROOT:
		r = root_parse(md, name);
		break;
	case MD_TIMESTAMP:
	case MD_SNAPSHOT:
		r = meta_parse(md, name);
		break;
	case MD_TARGETS:
		r = targets_parse(md, name);
		break;
	default:
		r = pawl_error_set(PAWL_E_INVALID, "bad metadata type");
	}
	if (r < 0)
		md_clear(md);
	return r;
}

int md_from_doc(pawl_md **ret, pj_doc *doc, md_type expect, const char *name)
{
	pawl_md *md = xcalloc(1, sizeof(*md));
	int r;

	if (!md) {
		pj_doc_free(doc);
		return PAWL_E_NOMEM;
	}
	md->doc = doc;
	md->type = expect;
	r = md_reload(md, name);
	if (r < 0) {
		md_free(md);
		return r;
	}
	*ret = md;
	return 0;
}

int md_parse(pawl_md **ret, char *buf, size_t len, md_type expect, const char *name)
{
	pj_doc *doc;
	int r;

	r = pj_parse(&doc, buf, len, NULL);
	if (r < 0)
		return pawl_error_prefix(r, "%s: ", name ? name : md_type_name(expect));
	return md_from_doc(ret, doc, expect, name);
}

void md_free(pawl_md *md)
{
	if (!md)
		return;
	md_clear(md);
	pj_doc_free(md->doc);
	free(md);
}

const md_role *md_root_role(const pawl_md *root, md_type which)
{
	if (root->type != MD_ROOT || (unsigned)which >= MD_NTOP)
		return NULL;
	return &root->roles[which];
}

int md_meta_get(const pawl_md *md, const char *filename, md_metafile *ret)
{
	const pj_value *v = md->meta ? pj_get(md->meta, filename) : NULL;

	if (!v)
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s v%llu has no meta entry for %s",
				      md_type_name(md->type), (unsigned long long)md->version,
				      filename);
	return md_metafile_parse(v, ret, filename);
}

int md_target_get(const pawl_md *md, const char *path, md_target *ret)
{
	const pj_value *v = md->targets ? pj_get(md->targets, path) : NULL;

	if (!v)
		return pawl_error_set(PAWL_E_NOT_FOUND, "no target \"%s\"", path);
	return md_target_parse(v, ret, path);
}

int md_check_expiry(const pawl_md *md, int64_t now, const char *name)
{
	if (now >= md->expires)
		return pawl_error_set(PAWL_E_EXPIRED, "%s v%llu expired at %s",
				      name ? name : md_type_name(md->type),
				      (unsigned long long)md->version, md->expires_str);
	return 0;
}

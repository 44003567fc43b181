/*
 * workspace.c - the publisher's staged repository (layout in repo.h and
 * docs/pawl-repo.md): loading roles, the delegation tree, version and
 * expiry bookkeeping, signature counting and signing, saving.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"

/* Our own metadata files: large targets roles are tens of MB. */
#define WS_FILE_MAX (512u * 1024u * 1024u)

static const int64_t default_period[MD_NTOP] = {
	[MD_ROOT] = 365 * DAY,
	[MD_TIMESTAMP] = 1 * DAY,
	[MD_SNAPSHOT] = 7 * DAY,
	[MD_TARGETS] = 90 * DAY,
};

/* ---------------- names ---------------- */

static bool is_top_name(const char *n)
{
	for (int i = 0; i < MD_NTOP; i++)
		if (strcmp(n, md_type_name((md_type)i)) == 0)
			return true;
	return false;
}

int check_role_name(const char *name)
{
	size_t n = strlen(name);

	ENSURE(n > 0 && n <= ROLE_NAME_MAX, PAWL_E_INVALID,
	       "role name \"%.64s\" must have 1 to %d characters", name, ROLE_NAME_MAX);
	ENSURE(name[0] != '.', PAWL_E_INVALID, "role name \"%.64s\" must not start with '.'",
	       name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		ENSURE(ok, PAWL_E_INVALID,
		       "role name \"%.64s\": only letters, digits, '.', '_' and '-' are allowed "
		       "(it becomes a file name)",
		       name);
	}
	return 0;
}

int check_target_path(const char *path)
{
	size_t n = strlen(path), seg = 0;

	ENSURE(n > 0 && n <= TARGET_PATH_MAX, PAWL_E_INVALID,
	       "target path must have 1 to %d bytes", TARGET_PATH_MAX);
	ENSURE(path[0] != '/', PAWL_E_INVALID,
	       "target path \"%.200s\" must be relative (no leading '/')", path);
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '/' || c == '\0') {
			size_t len = i - seg;
			const char *s = path + seg;

			ENSURE(len > 0, PAWL_E_INVALID,
			       "target path \"%.200s\" has an empty component", path);
			ENSURE(!(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.'),
			       PAWL_E_INVALID, "target path \"%.200s\" has a '.' or '..' component",
			       path);
			ENSURE(len <= (c ? 255u : (size_t)TARGET_NAME_MAX), PAWL_E_LIMIT,
			       "target path \"%.200s\": a component is too long (file names "
			       "must leave room for a hash prefix: at most %d bytes)",
			       path, TARGET_NAME_MAX);
			seg = i + 1;
			continue;
		}
		ENSURE(c >= 0x20 && c != 0x7f, PAWL_E_INVALID,
		       "target path \"%.200s\" contains a control character", path);
	}
	return 0;
}

int digest_buf(const void *p, size_t n, bool sha512, digests *ret)
{
	uint8_t d[HASH_MAX_LEN];

	GUARD(hash_once(HASH_SHA256, p, n, d));
	hex_encode(ret->sha256, d, 32);
	ret->has512 = sha512;
	if (sha512) {
		GUARD(hash_once(HASH_SHA512, p, n, d));
		hex_encode(ret->sha512, d, 64);
	}
	return 0;
}

/* ---------------- the name table ---------------- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static ws_role *table_get(ws *w, const char *name)
{
	if (!w->tablecap)
		return NULL;
	for (size_t i = name_hash(name) & (w->tablecap - 1);; i = (i + 1) & (w->tablecap - 1)) {
		if (!w->table[i])
			return NULL;
		if (strcmp(w->table[i]->name, name) == 0)
			return w->table[i];
	}
}

static void table_put_raw(ws_role **t, size_t cap, ws_role *r)
{
	size_t i = name_hash(r->name) & (cap - 1);

	while (t[i])
		i = (i + 1) & (cap - 1);
	t[i] = r;
}

static int register_role(ws *w, ws_role *r)
{
	if (w->nroles == w->caproles) {
		size_t cap = w->caproles ? w->caproles * 2 : 16;
		ws_role **v = xreallocarray(w->roles, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		w->roles = v;
		w->caproles = cap;
	}
	if ((w->nroles + 1) * 2 > w->tablecap) {
		size_t cap = w->tablecap ? w->tablecap * 2 : 64;
		ws_role **t = xcalloc(cap, sizeof(*t));

		if (!t)
			return PAWL_E_NOMEM;
		for (size_t i = 0; i < w->nroles; i++)
			table_put_raw(t, cap, w->roles[i]);
		free(w->table);
		w->table = t;
		w->tablecap = cap;
	}
	w->roles[w->nroles++] = r;
	table_put_raw(w->table, w->tablecap, r);
	return 0;
}

static void role_free(ws_role *r)
{
	if (!r)
		return;
	md_free(r->md);
	free(r->name);
	free(r);
}

/* ---------------- loading ---------------- */

static int role_path(char *out, size_t n, const char *name)
{
	int k = snprintf(out, n, "metadata/%s.json", name);

	ENSURE(k > 0 && (size_t)k < n, PAWL_E_LIMIT, "role name too long");
	return 0;
}

static int load_md(ws *w, const char *file, md_type t, const char *name, pawl_md **ret)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	r = file_read_at(w->dirfd, file, WS_FILE_MAX, &data, &len);
	if (r < 0)
		return pawl_error_prefix(r, "workspace %s: ", w->path);
	r = md_parse(ret, data, len, t, name);
	if (r < 0)
		return pawl_error_prefix(r, "workspace %s/%s: ", w->path, file);
	return 0;
}

static int load_role(ws *w, const char *name, md_type t, ws_role *parent, ws_role **ret)
{
	ws_role *r;
	char file[ROLE_NAME_MAX + 32];
	int rc;

	GUARD(role_path(file, sizeof(file), name));
	r = xcalloc(1, sizeof(*r));
	if (!r)
		return PAWL_E_NOMEM;
	r->name = xstrdup(name);
	r->type = t;
	r->parent = parent;
	if (!r->name) {
		free(r);
		return PAWL_E_NOMEM;
	}
	rc = load_md(w, file, t, name, &r->md);
	if (rc == 0)
		rc = register_role(w, r);
	if (rc < 0) {
		role_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

static int read_json(ws *w, const char *file, pj_doc **ret)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	r = file_read_at(w->dirfd, file, 64u * 1024u * 1024u, &data, &len);
	if (r < 0)
		return pawl_error_prefix(r, "workspace %s: ", w->path);
	r = pj_parse(ret, data, len, NULL);
	if (r < 0)
		return pawl_error_prefix(r, "workspace %s/%s: ", w->path, file);
	ENSURE(pj_is_object(pj_root(*ret)), PAWL_E_FORMAT, "workspace %s/%s: not a JSON object",
	       w->path, file);
	return 0;
}

static int load_prev_root(ws *w)
{
	pawl_md *root = w->roles[MD_ROOT]->md;
	char file[96];
	int r;

	md_free(w->prev_root);
	w->prev_root = NULL;
	if (root->version <= 1)
		return 0;
	snprintf(file, sizeof(file), "metadata/root-history/%" PRIu64 ".root.json",
		 root->version - 1);
	r = load_md(w, file, MD_ROOT, "root", &w->prev_root);
	if (r == PAWL_E_NOT_FOUND)
		return pawl_error_prefix(r, "root v%" PRIu64 " needs the root before it: ",
					 root->version);
	return r;
}

static ws *ws_alloc(const char *path)
{
	ws *w = xcalloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->dirfd = -1;
	w->store_fd = -1;
	w->path = xstrdup(path);
	if (!w->path) {
		free(w);
		return NULL;
	}
	return w;
}

int ws_open(ws **ret, const char *path, bool write)
{
	_cleanup_ws_ ws *w = ws_alloc(path);
	const pj_value *hs;
	int r;

	if (!w)
		return PAWL_E_NOMEM;
	r = dir_open(path, &w->dirfd);
	if (r < 0)
		return pawl_error_prefix(r, "workspace: ");
	if (write) {
		r = lock_acquire(&w->lock, w->dirfd, STORE_LOCK_NAME, 30);
		if (r == PAWL_E_LOCKED)
			return pawl_error_set(r, "workspace %s is locked by another pawl-repo "
					      "(waited 30 s); try again when it has finished",
					      path);
		GUARD(r);
	}
	r = read_json(w, "config.json", &w->config);
	if (r == PAWL_E_NOT_FOUND)
		return pawl_error_set(r, "%s is not a pawl-repo workspace (no config.json); "
				      "create one with `pawl-repo init`", path);
	GUARD(r);
	GUARD(read_json(w, "state.json", &w->state));
	/* An offline signing machine may get only metadata/ and the JSON
	 * files: signing needs no content. */
	r = dir_open_at(w->dirfd, "targets", &w->store_fd);
	if (r == PAWL_E_NOT_FOUND) {
		pawl_error_clear();
		w->store_fd = -1;
	} else if (r < 0) {
		return pawl_error_prefix(r, "workspace %s: ", path);
	}
	hs = pj_get(pj_root(w->config), "hashes");
	for (uint32_t i = 0; pj_is_array(hs) && i < hs->len; i++)
		if (pj_str(&hs->u.items[i]) && strcmp(pj_str(&hs->u.items[i]), "sha512") == 0)
			w->hash_sha512 = true;
	for (int t = 0; t < MD_NTOP; t++) {
		ws_role *ro;

		GUARD(load_role(w, md_type_name((md_type)t), (md_type)t, NULL, &ro));
	}
	GUARD(load_prev_root(w));
	if (write)
		GUARD(journal_open(w));
	*ret = TAKE_PTR(w);
	return 0;
}

int ws_create(ws **ret, const char *path, bool sha512)
{
	_cleanup_ws_ ws *w = ws_alloc(path);
	struct stat st;
	pj_value *root, *v, *slot;
	int r;

	if (!w)
		return PAWL_E_NOMEM;
	if (lstat(path, &st) == 0) {
		DIR *d;
		struct dirent *e;
		bool empty = true;

		ENSURE(S_ISDIR(st.st_mode), PAWL_E_IO, "%s exists and is not a directory", path);
		d = opendir(path);
		if (!d)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", path);
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				empty = false;
		closedir(d);
		ENSURE(empty, PAWL_E_IO, "%s exists and is not empty; `init` needs a new or empty "
		       "directory", path);
	}
	GUARD(dir_create(path, 0755));
	GUARD(dir_open(path, &w->dirfd));
	GUARD(lock_acquire(&w->lock, w->dirfd, STORE_LOCK_NAME, 0));
	{
		char sub[256];

		snprintf(sub, sizeof(sub), "%s/metadata/root-history", path);
		GUARD(dir_create(sub, 0755));
		snprintf(sub, sizeof(sub), "%s/targets", path);
		GUARD(dir_create(sub, 0755));
	}
	GUARD(dir_open_at(w->dirfd, "targets", &w->store_fd));
	GUARD(pj_doc_new(&w->config));
	root = pj_root(w->config);
	GUARD(pj_set_object(w->config, root));
	GUARD(pj_obj_put(w->config, root, "expires", 7, &v));
	GUARD(pj_set_object(w->config, v));
	for (int t = 0; t < MD_NTOP; t++)
		GUARD(pj_obj_put_int(w->config, v, md_type_name((md_type)t), default_period[t]));
	GUARD(pj_obj_put(w->config, root, "hashes", 6, &v));
	GUARD(pj_set_array(w->config, v));
	GUARD(pj_arr_push(w->config, v, &slot));
	GUARD(pj_set_cstr(w->config, slot, "sha256"));
	if (sha512) {
		GUARD(pj_arr_push(w->config, v, &slot));
		GUARD(pj_set_cstr(w->config, slot, "sha512"));
	}
	w->hash_sha512 = sha512;
	GUARD(pj_doc_new(&w->state));
	root = pj_root(w->state);
	GUARD(pj_set_object(w->state, root));
	GUARD(pj_obj_put(w->state, root, "published", 9, &v));
	GUARD(pj_set_object(w->state, v));
	w->config_dirty = w->state_dirty = true;
	for (int t = 0; t < MD_NTOP; t++) {
		ws_role *ro = xcalloc(1, sizeof(*ro));

		if (!ro)
			return PAWL_E_NOMEM;
		ro->name = xstrdup(md_type_name((md_type)t));
		ro->type = (md_type)t;
		ro->dirty = true;
		if (!ro->name) {
			free(ro);
			return PAWL_E_NOMEM;
		}
		r = md_new(&ro->md, (md_type)t, 1, pawl_now() + default_period[t]);
		if (r == 0)
			r = register_role(w, ro);
		if (r < 0) {
			role_free(ro);
			return r;
		}
	}
	w->walked = true;
	GUARD(journal_open(w));
	*ret = TAKE_PTR(w);
	return 0;
}

void ws_free(ws *w)
{
	if (!w)
		return;
	/* Before the lock goes: the anchor in state.json must not race
	 * another writer. */
	journal_close(w);
	for (size_t i = 0; i < w->nroles; i++)
		role_free(w->roles[i]);
	free(w->roles);
	free(w->table);
	md_free(w->prev_root);
	pj_doc_free(w->config);
	pj_doc_free(w->state);
	lock_release(w->lock);
	if (w->dirfd >= 0)
		close(w->dirfd);
	if (w->store_fd >= 0)
		close(w->store_fd);
	free(w->path);
	free(w);
}

/* ---------------- the delegation tree ---------------- */

static int walk_child(ws *w, ws_role *parent, const char *name)
{
	ws_role *r = table_get(w, name);

	if (r) {
		if (r->parent == parent)
			return 0;
		return pawl_error_set(PAWL_E_FORMAT,
				      "role %s is delegated by both %s and %s; pawl-repo keeps one "
				      "delegating role per role",
				      name, r->parent ? r->parent->name : "(top level)", parent->name);
	}
	GUARD(check_role_name(name));
	ENSURE(!is_top_name(name), PAWL_E_FORMAT, "%s delegates to a role named %s", parent->name,
	       name);
	GUARD(load_role(w, name, MD_TARGETS, parent, &r));
	return 0;
}

/* Pre-order, depth first: the order in which clients visit roles. */
static int walk_from(ws *w, ws_role *r, unsigned depth)
{
	const md_delegations *d;

	ENSURE(depth < 64, PAWL_E_LIMIT, "delegations nested more than 64 deep below %s", r->name);
	r->loaded_walk = true;
	if (!r->md->has_delegations)
		return 0;
	d = &r->md->deleg;
	if (d->succinct_present) {
		uint32_t n = md_succinct_count(&d->succinct);
		char name[ROLE_NAME_MAX + 16];

		ENSURE(n <= BINS_MAX, PAWL_E_LIMIT, "%s delegates to %" PRIu32 " hash bins; "
		       "pawl-repo handles at most %d", r->name, n, BINS_MAX);
		for (uint32_t i = 0; i < n; i++) {
			ws_role *c;

			GUARD(md_succinct_name(&d->succinct, i, name, sizeof(name)));
			GUARD(walk_child(w, r, name));
			c = table_get(w, name);
			GUARD(walk_from(w, c, depth + 1));
		}
	}
	for (size_t i = 0; i < d->nroles; i++) {
		ws_role *c;

		/* Names are copied before loading: loading may not move
		 * r's document, but keep it simple. */
		char name[ROLE_NAME_MAX + 1];

		ENSURE(strlen(d->roles[i].name) <= ROLE_NAME_MAX, PAWL_E_LIMIT,
		       "%s: delegated role name too long", r->name);
		snprintf(name, sizeof(name), "%s", d->roles[i].name);
		GUARD(walk_child(w, r, name));
		c = table_get(w, name);
		if (!c->loaded_walk)
			GUARD(walk_from(w, c, depth + 1));
	}
	return 0;
}

int ws_walk(ws *w)
{
	if (w->walked)
		return 0;
	GUARD(walk_from(w, w->roles[MD_TARGETS], 0));
	w->walked = true;
	return 0;
}

int ws_find(ws *w, const char *name, ws_role **ret)
{
	ws_role *r;

	GUARD(ws_walk(w));
	r = table_get(w, name);
	if (!r)
		return pawl_error_set(PAWL_E_NOT_FOUND,
				      "no role %s in workspace %s (top-level roles: root, timestamp, "
				      "snapshot, targets; others must be delegated first)",
				      name, w->path);
	*ret = r;
	return 0;
}

int ws_add_role(ws *w, const char *name, ws_role *parent, ws_role **ret)
{
	ws_role *r;
	uint64_t v = ws_published(w, name) + 1;
	int rc;

	GUARD(check_role_name(name));
	ENSURE(!is_top_name(name), PAWL_E_INVALID, "%s is a top-level role and cannot be delegated",
	       name);
	ENSURE(!table_get(w, name), PAWL_E_INVALID, "role %s already exists", name);
	r = xcalloc(1, sizeof(*r));
	if (!r)
		return PAWL_E_NOMEM;
	r->name = xstrdup(name);
	r->type = MD_TARGETS;
	r->parent = parent;
	r->dirty = true;
	r->loaded_walk = true;
	if (!r->name) {
		free(r);
		return PAWL_E_NOMEM;
	}
	rc = md_new(&r->md, MD_TARGETS, v, pawl_now() + ws_period(w, name));
	if (rc == 0)
		rc = register_role(w, r);
	if (rc < 0) {
		role_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

/* ---------------- keys and signatures ---------------- */

bool role_has_keyid(const md_role *mr, const char *keyid)
{
	for (uint32_t i = 0; i < mr->nkeyids; i++)
		if (strcmp(mr->keyids[i], keyid) == 0)
			return true;
	return false;
}

int ws_role_keys(ws *w, ws_role *r, const md_keys **ret_keys, const md_role **ret_role)
{
	pawl_md *root = w->roles[MD_ROOT]->md;
	const md_delegations *d;

	if (!r->parent) {
		*ret_keys = &root->keys;
		*ret_role = md_root_role(root, r->type);
		return 0;
	}
	ENSURE(r->parent->md->has_delegations, PAWL_E_NOT_FOUND,
	       "%s no longer delegates to %s", r->parent->name, r->name);
	d = &r->parent->md->deleg;
	*ret_keys = &d->keys;
	for (size_t i = 0; i < d->nroles; i++) {
		if (strcmp(d->roles[i].name, r->name) == 0) {
			*ret_role = &d->roles[i];
			return 0;
		}
	}
	if (d->succinct_present && md_succinct_has(&d->succinct, r->name)) {
		*ret_role = &d->succinct.role;
		return 0;
	}
	return pawl_error_set(PAWL_E_NOT_FOUND, "%s no longer delegates to %s", r->parent->name,
			      r->name);
}

/* Valid signatures of distinct keys that mr lists: the client's rule. */
static int count_valid(pawl_md *md, const md_keys *keys, const md_role *mr, uint32_t *ret)
{
	md_sigcount c;

	GUARD(md_count_valid(md, keys, mr, 0, &c));
	*ret = c.valid;
	return 0;
}

int ws_count(ws *w, ws_role *r, sigcount *ret)
{
	const md_keys *keys;
	const md_role *mr;
	sigcount c = { 0 };

	GUARD(ws_role_keys(w, r, &keys, &mr));
	GUARD(count_valid(r->md, keys, mr, &c.valid));
	c.threshold = mr->threshold;
	if (r->type == MD_ROOT && w->prev_root) {
		const md_role *pr = md_root_role(w->prev_root, MD_ROOT);

		c.has_prev = true;
		GUARD(count_valid(r->md, &w->prev_root->keys, pr, &c.prev_valid));
		c.prev_threshold = pr->threshold;
	}
	*ret = c;
	return 0;
}

bool sigcount_ok(const sigcount *c)
{
	return c->valid >= c->threshold && c->threshold > 0 &&
	       (!c->has_prev || c->prev_valid >= c->prev_threshold);
}

int ws_sign(ws *w, ws_role *r, const pawl_signer *s, const char *arg, bool *ret_used)
{
	const char *kid = signer_keyid(s);
	const md_keys *keys;
	const md_role *mr;
	bool ok;
	char sid[20];

	GUARD(ws_role_keys(w, r, &keys, &mr));
	ok = role_has_keyid(mr, kid);
	if (!ok && r->type == MD_ROOT && w->prev_root)
		ok = role_has_keyid(md_root_role(w->prev_root, MD_ROOT), kid);
	*ret_used = false;
	if (!ok)
		return 0;
	ENSURE(r->md->version > ws_published(w, r->name), PAWL_E_INVALID,
	       "%s v%" PRIu64 " is already published; adding a signature would change a "
	       "published file. Change the role first (for example `pawl-repo expire`), then sign "
	       "the new version",
	       r->name, r->md->version);
	GUARD(md_sign(r->md, s));
	r->dirty = true;
	*ret_used = true;
	/* Recorded before the signature can be saved (ws_save). */
	GUARD(journal_signed(w, r, s, arg));
	info("signed %s v%" PRIu64 " with key %s (%s)", r->name, r->md->version,
	     short_id(kid, sid), signer_kind(s));
	return 0;
}

int ws_sign_all(ws *w, ws_role **rs, size_t nrs, const signers *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		bool any = false;

		for (size_t k = 0; k < nrs; k++) {
			bool used;

			GUARD(ws_sign(w, rs[k], ss->v[i], ss->arg[i], &used));
			any |= used;
		}
		if (!any) {
			char sid[20], names[256] = "";
			size_t len = 0;

			for (size_t k = 0; k < nrs && len < sizeof(names) - 1; k++) {
				int n = snprintf(names + len, sizeof(names) - len, "%s%s",
						 k ? ", " : "", rs[k]->name);

				if (n < 0)
					break;
				len += (size_t)n;
			}
			return pawl_error_set(PAWL_E_KEY,
					      "key %s (%s) is not a key of %s; nothing was signed "
					      "with it (`pawl-repo status` lists each role's keys)",
					      short_id(signer_keyid(ss->v[i]), sid), ss->arg[i],
					      nrs ? names : "any changed role");
		}
	}
	return 0;
}

/* ---------------- versions and expiry ---------------- */

uint64_t ws_published(ws *w, const char *name)
{
	const pj_value *v = pj_get(pj_get(pj_root(w->state), "published"), name);

	return pj_is_int(v) && v->u.i > 0 ? (uint64_t)v->u.i : 0;
}

int64_t ws_period(ws *w, const char *name)
{
	const pj_value *e = pj_get(pj_root(w->config), "expires");
	const pj_value *v = pj_get(e, name);

	if (pj_is_int(v) && v->u.i > 0)
		return v->u.i;
	if (!is_top_name(name)) {
		v = pj_get(e, "targets");
		if (pj_is_int(v) && v->u.i > 0)
			return v->u.i;
	}
	for (int t = 0; t < MD_NTOP; t++)
		if (strcmp(name, md_type_name((md_type)t)) == 0)
			return default_period[t];
	return default_period[MD_TARGETS];
}

int ws_set_period(ws *w, const char *name, int64_t seconds)
{
	pj_value *e = pj_get_mut(pj_root(w->config), "expires");

	ENSURE(e, PAWL_E_FORMAT, "workspace %s/config.json has no \"expires\"", w->path);
	GUARD(pj_obj_put_int(w->config, e, name, seconds));
	w->config_dirty = true;
	return 0;
}

static bool root_in_history(ws *w, uint64_t v)
{
	char file[96];

	snprintf(file, sizeof(file), "metadata/root-history/%" PRIu64 ".root.json", v);
	return faccessat(w->dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int ws_touch(ws *w, ws_role *r)
{
	uint64_t pub = ws_published(w, r->name), v = r->md->version;

	/* Root: a version that was ever complete may have been handed to
	 * clients as REPO/root.json, so it never changes again either. */
	if (v <= pub || (r->type == MD_ROOT && root_in_history(w, v))) {
		uint64_t nv = (v > pub ? v : pub) + 1;

		GUARD(md_set_version(r->md, nv));
		if (r->type == MD_ROOT)
			GUARD(load_prev_root(w));
	}
	GUARD(md_set_expires(r->md, pawl_now() + ws_period(w, r->name)));
	GUARD(md_clear_signatures(r->md));
	r->dirty = true;
	return 0;
}

/* ---------------- saving ---------------- */

int ws_role_bytes(ws *w, ws_role *r, char **ret, size_t *ret_len)
{
	(void)w;
	return md_serialize(r->md, ret, ret_len);
}

int ws_role_digest(ws *w, ws_role *r, size_t *ret_len, digests *ret)
{
	_cleanup_free_ char *data = NULL;
	size_t len;

	GUARD(ws_role_bytes(w, r, &data, &len));
	GUARD(digest_buf(data, len, false, ret));
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int write_json(ws *w, const char *file, pj_doc *doc)
{
	_cleanup_free_ char *data = NULL;
	size_t len;

	GUARD(md_json_write(pj_root(doc), &data, &len));
	return file_write_atomic_at(w->dirfd, file, data, len, 0644);
}

int ws_save(ws *w)
{
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];
		_cleanup_free_ char *data = NULL;
		char file[ROLE_NAME_MAX + 32];
		size_t len;

		if (!r->dirty)
			continue;
		GUARD(role_path(file, sizeof(file), r->name));
		GUARD(ws_role_bytes(w, r, &data, &len));
		GUARD(file_write_atomic_at(w->dirfd, file, data, len, 0644));
		if (r->type == MD_ROOT) {
			sigcount c;

			GUARD(ws_count(w, r, &c));
			if (sigcount_ok(&c)) {
				char hist[96];

				snprintf(hist, sizeof(hist),
					 "metadata/root-history/%" PRIu64 ".root.json",
					 r->md->version);
				GUARD(file_write_atomic_at(w->dirfd, hist, data, len, 0644));
				GUARD(file_write_atomic_at(w->dirfd, "root.json", data, len, 0644));
				digests dg;

				GUARD(digest_buf(data, len, false, &dg));
				GUARD(journal_root_ready(w, r, len, dg.sha256, &c));
				info("root v%" PRIu64 " is fully signed: %s/root.json is the root "
				     "to give clients",
				     r->md->version, w->path);
			}
		}
		r->dirty = false;
	}
	if (w->config_dirty)
		GUARD(write_json(w, "config.json", w->config));
	if (w->state_dirty)
		GUARD(write_json(w, "state.json", w->state));
	w->config_dirty = w->state_dirty = false;
	return 0;
}

int ws_set_published(ws *w, const char *name, uint64_t v)
{
	pj_value *p = pj_get_mut(pj_root(w->state), "published");

	ENSURE(p, PAWL_E_FORMAT, "workspace %s/state.json has no \"published\"", w->path);
	GUARD(pj_obj_put_int(w->state, p, name, (int64_t)v));
	w->state_dirty = true;
	return 0;
}

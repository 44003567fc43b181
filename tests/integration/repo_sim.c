/*
 * repo_sim.c - see repo_sim.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "repo_sim.h"

#define DEFAULT_LIFETIME (7 * 24 * 3600)
#define ROOT_LIFETIME (365 * 24 * 3600)

int64_t rs_now(void)
{
	return (int64_t)time(NULL);
}

static char *xstrdup_t(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

pawl_signer *rs_keygen(rs_repo *r)
{
	pawl_signer *s = NULL;

	assert_true(r->npool < RS_MAX_POOL);
	t_ok(signer_generate(&s, "ed25519"));
	r->pool[r->npool++] = s;
	return s;
}

pawl_key *rs_pub(const pawl_signer *s)
{
	pawl_key *k = NULL;

	t_ok(signer_public(s, &k));
	return k;
}

void rs_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[HASH_MAX_LEN];

	t_ok(hash_once(HASH_SHA256, data, len, md));
	hex_encode(out, md, 32);
}

const pj_value *rs_hashes(const void *data, size_t len)
{
	static pj_doc *doc;
	char hex[65];

	pj_doc_free(doc);
	doc = NULL;
	rs_sha256_hex(data, len, hex);
	t_ok(pj_doc_new(&doc));
	t_ok(pj_set_object(doc, pj_root(doc)));
	t_ok(pj_obj_put_str(doc, pj_root(doc), "sha256", hex));
	return pj_root(doc);
}

/* ---- files ---- */

static const char *repo_path(const rs_repo *r, const char *relpath)
{
	return e2e_path(r->dir, relpath);
}

void rs_write(rs_repo *r, const char *relpath, const void *data, size_t len)
{
	char full[4096], parent[4096];
	char *slash;

	snprintf(full, sizeof(full), "%s/%s", r->dir, relpath);
	snprintf(parent, sizeof(parent), "%s", full);
	slash = strrchr(parent, '/');
	assert_non_null(slash);
	*slash = '\0';
	e2e_mkdir_p(parent);
	t_write_file(full, data, len);
}

char *rs_read(const rs_repo *r, const char *relpath, size_t *len)
{
	return t_read_file(repo_path(r, relpath), len);
}

void rs_remove(rs_repo *r, const char *relpath)
{
	if (unlink(repo_path(r, relpath)) != 0)
		fail_msg("unlink %s: %s", relpath, strerror(errno));
}

void rs_mirror(const rs_repo *r, const char *docroot, const char *newname)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s' && cp -a '%s' '%s/%s'", docroot, newname,
		 r->dir, docroot, newname);
	if (system(cmd) != 0)
		fail_msg("mirroring failed: %s", cmd);
}

const char *rs_meta_relpath(const rs_repo *r, const char *role, uint64_t version)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];

	if (strcmp(role, "timestamp") == 0)
		snprintf(b, sizeof(bufs[0]), "metadata/timestamp.json");
	else if (strcmp(role, "root") == 0 || r->consistent)
		snprintf(b, sizeof(bufs[0]), "metadata/%llu.%s.json", (unsigned long long)version,
			 role);
	else
		snprintf(b, sizeof(bufs[0]), "metadata/%s.json", role);
	return b;
}

const char *rs_target_relpath(const rs_repo *r, const char *path, const void *data, size_t len)
{
	static char bufs[4][8192];
	static int next;
	char *b = bufs[next++ % 4];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) + 1 : 0;
	char hex[65];

	if (!r->consistent) {
		snprintf(b, sizeof(bufs[0]), "targets/%s", path);
		return b;
	}
	rs_sha256_hex(data, len, hex);
	snprintf(b, sizeof(bufs[0]), "targets/%.*s%s.%s", dirlen, path, hex, path + dirlen);
	return b;
}

/* ---- metadata ---- */

void rs_resign(pawl_md *md, pawl_signer *const *signers, size_t n)
{
	t_ok(md_clear_signatures(md));
	for (size_t i = 0; i < n; i++)
		t_ok(md_sign(md, signers[i]));
}

void rs_resign_unchecked(pawl_md *md, pawl_signer *const *signers, size_t n)
{
	pawl_buf canon = PAWL_BUF_INIT(64u << 20);
	pj_value *sigs, *slot;

	t_ok(pj_canonical(&canon, md->signed_v));
	t_ok(pj_obj_put(md->doc, pj_root(md->doc), "signatures", 10, &sigs));
	t_ok(pj_set_array(md->doc, sigs));
	for (size_t i = 0; i < n; i++) {
		uint8_t *sig = NULL;
		size_t siglen;
		char *hex;

		t_ok(signer_sign(signers[i], canon.data, canon.len, &sig, &siglen));
		hex = malloc(2 * siglen + 1);
		assert_non_null(hex);
		hex_encode(hex, sig, siglen);
		sigs = pj_get_mut(pj_root(md->doc), "signatures");
		t_ok(pj_arr_push(md->doc, sigs, &slot));
		t_ok(pj_set_object(md->doc, slot));
		t_ok(pj_obj_put_str(md->doc, slot, "keyid", signer_keyid(signers[i])));
		t_ok(pj_obj_put_str(md->doc, slot, "sig", hex));
		free(hex);
		free(sig);
	}
	buf_free(&canon);
}

char *rs_md_bytes(pawl_md *md, size_t *len)
{
	char *buf = NULL;

	t_ok(md_serialize(md, &buf, len));
	return buf;
}

void rs_md_write(rs_repo *r, pawl_md *md, const char *relpath)
{
	size_t len;
	char *buf = rs_md_bytes(md, &len);

	rs_write(r, relpath, buf, len);
	free(buf);
}

pawl_md *rs_md_copy(pawl_md *md)
{
	size_t len;
	char *buf = rs_md_bytes(md, &len);
	char *copy = malloc(len + 1);
	pawl_md *out = NULL;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	free(buf);
	t_ok(md_parse(&out, copy, len, md->type, md_type_name(md->type)));
	return out;
}

rs_role *rs_role_get(rs_repo *r, const char *name)
{
	for (size_t i = 0; i < r->nroles; i++)
		if (strcmp(r->roles[i].name, name) == 0)
			return &r->roles[i];
	fail_msg("repo %s has no role \"%s\"", r->name, name);
	return NULL;
}

static rs_role *role_find(rs_repo *r, const char *name)
{
	for (size_t i = 0; i < r->nroles; i++)
		if (strcmp(r->roles[i].name, name) == 0)
			return &r->roles[i];
	return NULL;
}

static rs_role *role_add(rs_repo *r, const char *name, md_type type)
{
	rs_role *ro;

	assert_true(r->nroles < RS_MAX_ROLES);
	ro = &r->roles[r->nroles++];
	memset(ro, 0, sizeof(*ro));
	ro->name = xstrdup_t(name);
	t_ok(md_new(&ro->md, type, 1, r->expires));
	ro->dirty = true;
	return ro;
}

static void role_set_signers(rs_role *ro, pawl_signer *const *keys, size_t n)
{
	assert_true(n <= RS_MAX_SIGNERS);
	for (size_t i = 0; i < n; i++)
		ro->signers[i] = keys[i];
	ro->nsigners = n;
}

void rs_root_set_role(rs_repo *r, md_type role, pawl_signer *const *keys, size_t n,
		      uint32_t threshold)
{
	const char *ids[RS_MAX_SIGNERS];

	assert_true(n <= RS_MAX_SIGNERS);
	for (size_t i = 0; i < n; i++) {
		pawl_key *k = rs_pub(keys[i]);

		t_ok(md_root_add_key(r->root, k));
		key_free(k);
		ids[i] = signer_keyid(keys[i]);
	}
	t_ok(md_root_set_role(r->root, role, ids, n, threshold));
	if (role != MD_ROOT) {
		rs_role *ro = rs_role_get(r, md_type_name(role));

		role_set_signers(ro, keys, n);
		ro->dirty = true;
	}
}

void rs_root_publish(rs_repo *r, pawl_signer *const *signers, size_t n)
{
	const md_role *rr;
	size_t m = 0;

	if (r->root_published)
		t_ok(md_set_version(r->root, r->root->version + 1));
	rs_resign(r->root, signers, n);
	rs_md_write(r, r->root, rs_meta_relpath(r, "root", r->root->version));
	r->root_published = true;
	rr = md_root_role(r->root, MD_ROOT);
	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < rr->nkeyids; j++)
			if (strcmp(rr->keyids[j], signer_keyid(signers[i])) == 0 &&
			    m < RS_MAX_SIGNERS)
				r->root_signers[m++] = signers[i];
	r->n_root_signers = m;
}

const char *rs_initial_root(const rs_repo *r)
{
	return repo_path(r, "metadata/1.root.json");
}

void rs_touch(rs_repo *r, const char *role)
{
	rs_role_get(r, role)->dirty = true;
}

void rs_set_version(rs_repo *r, const char *role, uint64_t v)
{
	rs_role *ro = rs_role_get(r, role);

	t_ok(md_set_version(ro->md, v));
	ro->version_set = true;
	ro->dirty = true;
}

void rs_set_expires(rs_repo *r, const char *role, int64_t expires)
{
	rs_role *ro = rs_role_get(r, role);

	ro->expires = expires;
	ro->dirty = true;
}

void rs_add_target(rs_repo *r, const char *role, const char *path, const void *data,
		   size_t len)
{
	rs_role *ro = rs_role_get(r, role);

	t_ok(md_target_put(ro->md, path, len, rs_hashes(data, len), NULL));
	rs_write(r, rs_target_relpath(r, path, data, len), data, len);
	ro->dirty = true;
}

void rs_delegate(rs_repo *r, const char *parent, const char *child, pawl_signer *const *keys,
		 size_t n, uint32_t threshold, bool terminating, const char *const *paths,
		 size_t npaths, const char *const *prefixes, size_t nprefixes)
{
	rs_role *p = rs_role_get(r, parent), *c;
	pawl_key *pub[RS_MAX_SIGNERS];

	assert_true(n <= RS_MAX_SIGNERS);
	for (size_t i = 0; i < n; i++)
		pub[i] = rs_pub(keys[i]);
	t_ok(md_deleg_add_role(p->md, child, pub, n, threshold, terminating, paths, npaths,
			       prefixes, nprefixes));
	for (size_t i = 0; i < n; i++)
		key_free(pub[i]);
	p->dirty = true;
	c = role_find(r, child);
	if (!c)
		c = role_add(r, child, MD_TARGETS);
	role_set_signers(c, keys, n);
	c->dirty = true;
}

void rs_delegate_succinct(rs_repo *r, const char *parent, pawl_signer *const *keys, size_t n,
			  uint32_t threshold, uint32_t bit_length, const char *prefix)
{
	rs_role *p = rs_role_get(r, parent);
	pawl_key *pub[RS_MAX_SIGNERS];
	uint32_t count;

	assert_true(n <= RS_MAX_SIGNERS);
	for (size_t i = 0; i < n; i++)
		pub[i] = rs_pub(keys[i]);
	t_ok(md_deleg_set_succinct(p->md, pub, n, threshold, bit_length, prefix));
	for (size_t i = 0; i < n; i++)
		key_free(pub[i]);
	p->dirty = true;
	count = md_succinct_count(&p->md->deleg.succinct);
	for (uint32_t i = 0; i < count; i++) {
		char name[512];
		rs_role *c;

		t_ok(md_succinct_name(&p->md->deleg.succinct, i, name, sizeof(name)));
		c = role_find(r, name);
		if (!c)
			c = role_add(r, name, MD_TARGETS);
		role_set_signers(c, keys, n);
	}
}

static void publish_role(rs_repo *r, rs_role *ro)
{
	if (ro->published && !ro->version_set)
		t_ok(md_set_version(ro->md, ro->md->version + 1));
	t_ok(md_set_expires(ro->md, ro->expires ? ro->expires : r->expires));
	rs_resign(ro->md, ro->signers, ro->nsigners);
	free(ro->bytes);
	ro->bytes = rs_md_bytes(ro->md, &ro->len);
	rs_write(r, rs_meta_relpath(r, ro->name, ro->md->version), ro->bytes, ro->len);
	ro->published = true;
	ro->dirty = false;
	ro->version_set = false;
}

void rs_commit(rs_repo *r)
{
	rs_role *ts = &r->roles[0], *sn = &r->roles[1];
	char fn[1024];

	/* Children before parents is not needed: snapshot pins versions. */
	for (size_t i = 2; i < r->nroles; i++)
		if (r->roles[i].dirty || !r->roles[i].published)
			publish_role(r, &r->roles[i]);
	for (size_t i = 2; i < r->nroles; i++) {
		rs_role *ro = &r->roles[i];

		snprintf(fn, sizeof(fn), "%s.json", ro->name);
		t_ok(md_meta_put(sn->md, fn, ro->md->version, r->sn_length_hashes, ro->len,
				 r->sn_length_hashes ? rs_hashes(ro->bytes, ro->len) : NULL));
	}
	publish_role(r, sn);
	t_ok(md_meta_put(ts->md, "snapshot.json", sn->md->version, r->ts_length_hashes, sn->len,
			 r->ts_length_hashes ? rs_hashes(sn->bytes, sn->len) : NULL));
	publish_role(r, ts);
}

rs_repo *rs_new(const char *docroot, const char *name, bool consistent)
{
	rs_repo *r = calloc(1, sizeof(*r));
	pawl_signer *k;
	char dir[4096];

	assert_non_null(r);
	r->name = xstrdup_t(name);
	snprintf(dir, sizeof(dir), "%s/%s", docroot, name);
	r->dir = xstrdup_t(dir);
	e2e_mkdir_p(e2e_path(dir, "metadata"));
	e2e_mkdir_p(e2e_path(dir, "targets"));
	r->consistent = consistent;
	r->expires = rs_now() + DEFAULT_LIFETIME;

	role_add(r, "timestamp", MD_TIMESTAMP);
	role_add(r, "snapshot", MD_SNAPSHOT);
	role_add(r, "targets", MD_TARGETS);

	t_ok(md_new(&r->root, MD_ROOT, 1, rs_now() + ROOT_LIFETIME));
	t_ok(md_root_set_consistent(r->root, consistent));
	k = rs_keygen(r);
	rs_root_set_role(r, MD_ROOT, &k, 1, 1);
	k = rs_keygen(r);
	rs_root_set_role(r, MD_TIMESTAMP, &k, 1, 1);
	k = rs_keygen(r);
	rs_root_set_role(r, MD_SNAPSHOT, &k, 1, 1);
	k = rs_keygen(r);
	rs_root_set_role(r, MD_TARGETS, &k, 1, 1);
	k = r->pool[0];
	rs_root_publish(r, &k, 1);
	return r;
}

void rs_free(rs_repo *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nroles; i++) {
		free(r->roles[i].name);
		md_free(r->roles[i].md);
		free(r->roles[i].bytes);
	}
	md_free(r->root);
	for (size_t i = 0; i < r->npool; i++)
		signer_free(r->pool[i]);
	free(r->name);
	free(r->dir);
	free(r);
}

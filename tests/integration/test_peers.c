/*
 * test_peers.c - regression tests for the failures of our peers.
 *
 * Each test replays, against build/pawl and a repository served by nginx,
 * an attack that once worked on another update system (a TUF client or a
 * firmware/image updater), and is named after the family and the CVE or
 * advisory. The attack must fail here, for the reason the peer missed,
 * and leave the client's trusted metadata and target directory as they
 * were. docs/threat-model.md lists them ("Regression tests for our
 * peers' failures"); the unit-level halves are in tests/unit
 * (test_metadata.c, test_install.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "scenario.h"

static const char *const ANY[] = { "*" };

/* ---- helpers ---- */

/* A signed document (any signatures, valid or not) becomes the next
 * version of role on the server, without a commit: snapshot still names
 * the old version until rs_commit(), which then names this one. */
static void put_raw(rs_repo *r, const char *role, pawl_md *md, uint64_t version)
{
	rs_role *ro = rs_role_get(r, role);

	free(ro->bytes);
	ro->bytes = rs_md_bytes(md, &ro->len);
	rs_write(r, rs_meta_relpath(r, role, version), ro->bytes, ro->len);
	t_ok(md_set_version(ro->md, version));
	ro->dirty = false;
	ro->published = true;
	ro->version_set = false;
}

/* A copy of role's current metadata at the given version, for editing. */
static pawl_md *edit_copy(rs_repo *r, const char *role, uint64_t version)
{
	pawl_md *md = rs_md_copy(rs_role_get(r, role)->md);

	t_ok(pj_obj_put_int(md->doc, md->signed_v, "version", (int64_t)version));
	return md;
}

/* Push one more {"keyid": keyid, "sig": sig} onto md's signatures. */
static void add_signature(pawl_md *md, const char *keyid, const char *sig)
{
	pj_value *sigs = pj_get_mut(pj_root(md->doc), "signatures"), *slot;

	t_ok(pj_arr_push(md->doc, sigs, &slot));
	t_ok(pj_set_object(md->doc, slot));
	t_ok(pj_obj_put_str(md->doc, slot, "keyid", keyid));
	t_ok(pj_obj_put_str(md->doc, slot, "sig", sig));
}

/* The "sig" of md's first signature (owned by md). */
static const char *first_sig(pawl_md *md)
{
	const pj_value *sigs = pj_get(pj_root(md->doc), "signatures");

	assert_true(pj_is_array(sigs) && sigs->len > 0);
	return pj_str(pj_get(&sigs->u.items[0], "sig"));
}

/* Publish a new snapshot that names role with exactly this meta entry,
 * and a timestamp naming it (rs_commit writes its own entries). */
static void republish_snapshot(rs_repo *r, const char *role, uint64_t version, bool with_length,
			       uint64_t length, const pj_value *hashes)
{
	rs_role *sn = rs_role_get(r, "snapshot"), *ts = rs_role_get(r, "timestamp");
	char fn[512];
	size_t len;
	char *bytes;

	snprintf(fn, sizeof(fn), "%s.json", role);
	t_ok(md_meta_put(sn->md, fn, version, with_length, length, hashes));
	t_ok(md_set_version(sn->md, sn->md->version + 1));
	rs_resign(sn->md, sn->signers, sn->nsigners);
	bytes = rs_md_bytes(sn->md, &len);
	rs_write(r, rs_meta_relpath(r, "snapshot", sn->md->version), bytes, len);
	t_ok(md_meta_put(ts->md, "snapshot.json", sn->md->version, false, 0, NULL));
	t_ok(md_set_version(ts->md, ts->md->version + 1));
	rs_resign(ts->md, ts->signers, ts->nsigners);
	rs_md_write(r, ts->md, "metadata/timestamp.json");
	free(bytes);
}

static void download_ok(const e2e_client *c, const char *path)
{
	e2e_run run;
	char want[4096];

	snprintf(want, sizeof(want), "downloaded %s", path);
	e2e_download(&run, c, NULL, TARGETS(path), NULL);
	E2E_EXPECT(&run, 0, want);
	e2e_run_free(&run);
}

/* Every file under the client's directory is inside its metadata or its
 * target directory. */
static void assert_nothing_escaped(const e2e_client *c)
{
	char *all = e2e_dir_digest(c->tmp);

	for (char *line = all; *line; line = strchr(line, '\n') + 1)
		if (strncmp(line, "/metadata/", 10) != 0 && strncmp(line, "/targets/", 9) != 0)
			fail_msg("a file outside the client's directories: %s", line);
	free(all);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* dir holds exactly one regular file whose name decodes to
 * "<role>.json". */
static void assert_one_role_file(const char *dir, const char *role)
{
	char want[2048], dec[2048];
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	snprintf(want, sizeof(want), "%s.json", role);
	while ((e = readdir(d)) != NULL) {
		size_t o = 0;

		for (size_t i = 0; e->d_name[i] && o + 1 < sizeof(dec); i++) {
			int hi = e->d_name[i] == '%' ? hexval(e->d_name[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(e->d_name[i + 2]) : -1;

			if (hi >= 0 && lo >= 0) {
				dec[o++] = (char)(hi * 16 + lo);
				i += 2;
			} else {
				dec[o++] = e->d_name[i];
			}
		}
		dec[o] = '\0';
		if (strcmp(dec, want) == 0) {
			struct stat st;

			assert_int_equal(lstat(e2e_path(dir, e->d_name), &st), 0);
			assert_true(S_ISREG(st.st_mode));
			assert_null(strchr(e->d_name, '/'));
			n++;
		}
	}
	closedir(d);
	if (n != 1)
		fail_msg("want one file for role \"%s\" in %s, found %zu", role, dir, n);
}

/* ---- go-tuf CVE-2022-29173: rollback checked against a default of 0 ----
 *
 * go-tuf compared newly downloaded timestamp and snapshot versions with
 * zero instead of with the metadata it trusted from an earlier run, so
 * any older, still validly signed file passed (TUF 5.4.3, 5.5.5). Every
 * pawl invocation is a fresh process: the reference can only come from
 * the trusted files on disk. */
static void test_cve_2022_29173_rollback_default_zero(void **state)
{
	rs_repo *r = repo_with_hello("gotuf-rollback", true);
	rs_role *ts = rs_role_get(r, "timestamp"), *sn = rs_role_get(r, "snapshot");
	e2e_client c;
	size_t l1;
	char *ts1;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	ts1 = rs_read(r, "metadata/timestamp.json", &l1);
	rs_touch(r, "targets");
	rs_commit(r);
	rs_touch(r, "targets");
	rs_commit(r); /* timestamp v3 -> snapshot v3 -> targets v3 */
	refresh_ok(&c);
	assert_trusted(&c, "snapshot.json", r, "metadata/3.snapshot.json");

	/* Timestamp v1 again: signed, unexpired, older than the trusted v3. */
	rs_write(r, "metadata/timestamp.json", ts1, l1);
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS("rollback", "timestamp: version 1 from", "older than trusted version 3"));

	/* A new timestamp v4 that names snapshot v1. */
	t_ok(md_meta_put(ts->md, "snapshot.json", 1, false, 0, NULL));
	t_ok(md_set_version(ts->md, 4));
	rs_resign(ts->md, ts->signers, ts->nsigners);
	rs_md_write(r, ts->md, "metadata/timestamp.json");
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS("rollback", "timestamp v4 names snapshot v1",
			    "older than trusted snapshot v3"));

	/* Timestamp v5 names snapshot v5, which lists targets v1. */
	t_ok(md_meta_put(sn->md, "targets.json", 1, false, 0, NULL));
	t_ok(md_set_version(sn->md, 5));
	rs_resign(sn->md, sn->signers, sn->nsigners);
	rs_md_write(r, sn->md, "metadata/5.snapshot.json");
	t_ok(md_meta_put(ts->md, "snapshot.json", 5, false, 0, NULL));
	t_ok(md_set_version(ts->md, 5));
	rs_resign(ts->md, ts->signers, ts->nsigners);
	rs_md_write(r, ts->md, "metadata/timestamp.json");
	expect_refusal(&c, NULL, NULL, NULL, false,
		       ARGS("rollback", "snapshot v5 lists targets.json v1, older than v3"));
	assert_trusted(&c, "snapshot.json", r, "metadata/3.snapshot.json");
	assert_trusted(&c, "targets.json", r, "metadata/3.targets.json");
	free(ts1);
	e2e_client_free(&c);
	rs_free(r);
}

/* The second half of the same advisory: go-tuf saved timestamp and
 * snapshot as trusted before checking that the files they name have the
 * version they name (5.5.4, 5.6.4). A snapshot or targets file that fails
 * that check must never reach the metadata directory. */
static void test_cve_2022_29173_unverified_version_not_persisted(void **state)
{
	rs_repo *r = repo_with_hello("gotuf-persist", true);
	rs_role *ts = rs_role_get(r, "timestamp"), *sn = rs_role_get(r, "snapshot");
	e2e_client c;
	pawl_md *md;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);

	/* 2.snapshot.json holds a validly signed snapshot v3. */
	md = edit_copy(r, "snapshot", 3);
	rs_resign_unchecked(md, sn->signers, sn->nsigners);
	rs_md_write(r, md, "metadata/2.snapshot.json");
	md_free(md);
	t_ok(md_meta_put(ts->md, "snapshot.json", 2, false, 0, NULL));
	t_ok(md_set_version(ts->md, 2));
	rs_resign(ts->md, ts->signers, ts->nsigners);
	rs_md_write(r, ts->md, "metadata/timestamp.json");
	expect_refusal(&c, NULL, NULL, NULL, false,
		       ARGS("rollback", "snapshot: timestamp v2 names version 2, got 3"));
	assert_trusted(&c, "snapshot.json", r, "metadata/1.snapshot.json");
	assert_trusted(&c, "timestamp.json", r, "metadata/timestamp.json");

	/* Snapshot v4 names targets v2; 2.targets.json is a signed v5. */
	md = edit_copy(r, "targets", 5);
	rs_resign_unchecked(md, rs_role_get(r, "targets")->signers, 1);
	rs_md_write(r, md, "metadata/2.targets.json");
	md_free(md);
	t_ok(md_meta_put(sn->md, "targets.json", 2, false, 0, NULL));
	t_ok(md_set_version(sn->md, 4));
	rs_resign(sn->md, sn->signers, sn->nsigners);
	rs_md_write(r, sn->md, "metadata/4.snapshot.json");
	t_ok(md_meta_put(ts->md, "snapshot.json", 4, false, 0, NULL));
	t_ok(md_set_version(ts->md, 3));
	rs_resign(ts->md, ts->signers, ts->nsigners);
	rs_md_write(r, ts->md, "metadata/timestamp.json");
	expect_refusal(&c, NULL, TARGETS("hello.txt"), NULL, false,
		       ARGS("rollback", "targets: snapshot v4 names version 2, got 5"));
	assert_trusted(&c, "targets.json", r, "metadata/1.targets.json");
	assert_trusted(&c, "snapshot.json", r, "metadata/4.snapshot.json");
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- go-tuf CVE-2026-23992: a threshold of 0 or below ----
 *
 * go-tuf's VerifyDelegate accepted a delegation whose threshold was 0: no
 * signature needed at all. Here a targets role delegates "A" with
 * threshold 0 (then -1), and A lists a target nobody signed. The same for
 * a top-level role in a new root. */
static void test_cve_2026_23992_threshold_zero(void **state)
{
	static const int64_t bad[] = { 0, -1 };
	rs_repo *r = rs_new(DOCROOT, "gotuf-threshold", true);
	pawl_signer *k = rs_keygen(r), *tk;
	rs_role *tg = rs_role_get(r, "targets");
	e2e_client c;
	uint64_t v = 2;

	(void)state;
	rs_delegate(r, "targets", "A", &k, 1, 1, false, ANY, 1, NULL, 0);
	rs_add_target(r, "A", "x", "x", 1);
	rs_commit(r);
	tk = tg->signers[0];
	client_of(&c, r);
	download_ok(&c, "x");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++, v++) {
		pawl_md *t = edit_copy(r, "targets", v), *a = edit_copy(r, "A", v);
		pj_value *roles = pj_get_mut(pj_get_mut(t->signed_v, "delegations"), "roles");
		char msg[128];

		t_ok(pj_obj_put_int(t->doc, &roles->u.items[0], "threshold", bad[i]));
		rs_resign_unchecked(t, &tk, 1);
		put_raw(r, "targets", t, v);
		/* A: the evil target, and no signature at all. */
		t_ok(md_target_put(a, "evil", 4, rs_hashes("evil", 4), NULL));
		rs_resign_unchecked(a, NULL, 0);
		put_raw(r, "A", a, v);
		rs_write(r, rs_target_relpath(r, "evil", "evil", 4), "evil", 4);
		rs_commit(r);
		snprintf(msg, sizeof(msg), "targets: A.threshold must be an integer >= 1");
		expect_refusal(&c, NULL, TARGETS("evil"), NULL, false, ARGS("malformed", msg));
		assert_trusted(&c, "targets.json", r, "metadata/1.targets.json");
		assert_trusted(&c, "A.json", r, "metadata/1.A.json");
		md_free(t);
		md_free(a);
	}

	/* Root v2 says timestamp needs 0 signatures (signed by root v1's
	 * key and its own): refused, root v1 stays. */
	{
		pawl_md *root2 = rs_md_copy(r->root);
		pj_value *tsr = pj_get_mut(pj_get_mut(root2->signed_v, "roles"), "timestamp");

		t_ok(pj_obj_put_int(root2->doc, root2->signed_v, "version", 2));
		t_ok(pj_obj_put_int(root2->doc, tsr, "threshold", 0));
		rs_resign_unchecked(root2, &r->pool[0], 1);
		rs_md_write(r, root2, "metadata/2.root.json");
		md_free(root2);
		expect_refusal(&c, NULL, NULL, NULL, false,
			       ARGS("malformed", "roles.timestamp.threshold must be an integer >= 1"));
		assert_trusted(&c, "root.json", r, "metadata/1.root.json");
	}
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- go-tuf CVE-2026-24686, python-tuf CVE-2021-41131: names as paths ----
 *
 * python-tuf stored a delegated role's metadata under its name, so a role
 * named "../../x" wrote outside the metadata directory; go-tuf did the
 * same with the TAP 4 map file's repository names. pawl has no TAP 4
 * multi-repository client; every untrusted name it stores is a role
 * name, and each must become exactly one file inside the metadata
 * directory, distinct for distinct names. */
static void test_cve_2026_24686_role_name_traversal(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "gotuf-rolenames", true);
	e2e_client c;
	char abs[1024];
	const char *names[6];
	char paths[6][16], body[6][16];

	(void)state;
	client_of(&c, r);
	snprintf(abs, sizeof(abs), "%s/abs-role", c.tmp);
	names[0] = "../escaped";
	names[1] = abs;
	names[2] = "a/b";
	names[3] = "a%2Fb"; /* must not collide with "a/b" */
	names[4] = "..";
	names[5] = ".";
	for (size_t i = 0; i < 6; i++) {
		pawl_signer *k = rs_keygen(r);
		const char *p[1];

		snprintf(paths[i], sizeof(paths[i]), "t%zu", i);
		snprintf(body[i], sizeof(body[i]), "from role %zu", i);
		p[0] = paths[i];
		rs_delegate(r, "targets", names[i], &k, 1, 1, false, p, 1, NULL, 0);
		rs_add_target(r, names[i], paths[i], body[i], strlen(body[i]));
	}
	rs_commit(r);
	for (size_t i = 0; i < 6; i++) {
		download_ok(&c, paths[i]);
		e2e_assert_file(e2e_target_file(&c, paths[i]), body[i], strlen(body[i]));
		assert_one_role_file(c.mdir, names[i]);
	}
	assert_false(e2e_exists(e2e_path(c.tmp, "escaped.json")));
	assert_false(e2e_exists(e2e_path(c.tmp, "abs-role.json")));
	assert_nothing_escaped(&c);
	e2e_client_free(&c);
	rs_free(r);
}

/* The same names over a file:// repository. Over HTTP the server decides
 * what a name means (nginx resolves "..", and never above its docroot).
 * Over file:// (offline media; the agent's root side reading its
 * fetcher's mirror) a name is a path on this machine, and libcurl
 * decodes "%2F" and resolves "..": a role named "../../secret" or a
 * target "../../secret.txt" would be read from outside the repository,
 * wherever the signer of the name points it. Refused, before any read. */
static void test_cve_2021_41131_names_over_file_url(void **state)
{
	static const char *const ONLY_S[] = { "s" };
	rs_repo *r = rs_new(DOCROOT, "fileurl/repo", false);
	pawl_signer *k = rs_keygen(r);
	char murl[2048], turl[2048], outside[1024];
	e2e_client c;

	(void)state;
	rs_delegate(r, "targets", "../../secret", &k, 1, 1, false, ONLY_S, 1, NULL, 0);
	rs_add_target(r, "../../secret", "s", "from the role", 13);
	rs_add_target(r, "targets", "../../secret.txt", "outside", 7);
	rs_add_target(r, "targets", "inside.txt", "inside", 6);
	rs_commit(r);
	/* What the names stand for, as paths, lies outside the repository. */
	snprintf(outside, sizeof(outside), "%s/fileurl", DOCROOT);
	assert_true(e2e_exists(e2e_path(outside, "secret.json")));
	assert_true(e2e_exists(e2e_path(outside, "secret.txt")));

	client_of(&c, r);
	snprintf(murl, sizeof(murl), "file://%s/metadata/", r->dir);
	snprintf(turl, sizeof(turl), "file://%s/targets/", r->dir);
	c.murls[0] = murl;
	c.turls[0] = turl;
	download_ok(&c, "inside.txt");
	expect_refusal(&c, NULL, TARGETS("s"), NULL, false,
		       ARGS("refused by policy", "\"..\"", "secret.json"));
	assert_false(e2e_exists(e2e_path(c.mdir, "..%2F..%2Fsecret.json")));
	expect_refusal(&c, NULL, TARGETS("../../secret.txt"), NULL, false,
		       ARGS("refused by policy", "\"..\"", "secret.txt"));
	assert_nothing_escaped(&c);
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- tough CVE-2026-6966, python-tuf GMS-2022-4197: one key, two votes ----
 *
 * A signature repeated, or one key listed under two key ids (or two
 * spellings of the same public key), counted twice toward a threshold.
 * Here the delegated role A needs 2 of its keys; the attacker holds one. */
static void test_cve_2026_6966_duplicate_signatures(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "tough-dupsig", true);
	pawl_signer *k[2] = { rs_keygen(r), rs_keygen(r) };
	rs_role *tg = rs_role_get(r, "targets");
	const char *kid = signer_keyid(k[0]);
	e2e_client c;
	uint64_t v = 2;

	(void)state;
	rs_delegate(r, "targets", "A", k, 2, 2, false, ANY, 1, NULL, 0);
	rs_add_target(r, "A", "x", "x", 1);
	rs_commit(r);
	client_of(&c, r);
	download_ok(&c, "x");
	rs_write(r, rs_target_relpath(r, "evil", "evil", 4), "evil", 4);

	/* 1: k[0]'s key listed again, byte for byte, as "alias"; 2: listed
	 * as "upper", its public key in upper-case hex (other bytes, the same
	 * key). Either way A's keyids become [k0, alias] with threshold 2,
	 * and k0's one signature is offered under both ids. */
	for (int variant = 0; variant < 2; variant++, v++) {
		const char *alias = variant == 0 ? "alias" : "upper";
		pawl_md *t = edit_copy(r, "targets", v), *a = edit_copy(r, "A", v);
		pj_value *deleg = pj_get_mut(t->signed_v, "delegations");
		pj_value *keys = pj_get_mut(deleg, "keys"), *slot, *ids;
		char *sig;

		t_ok(pj_obj_put(t->doc, keys, alias, strlen(alias), &slot));
		t_ok(pj_copy(t->doc, slot, pj_get(keys, kid)));
		if (variant == 1) {
			pj_value *pub = pj_get_mut(pj_get_mut(slot, "keyval"), "public");
			char *up = strdup(pub->u.s);

			assert_non_null(up);
			for (char *p = up; *p; p++)
				if (*p >= 'a' && *p <= 'f')
					*p = (char)(*p - 'a' + 'A');
			assert_string_not_equal(up, pub->u.s);
			t_ok(pj_set_cstr(t->doc, pub, up));
			free(up);
		}
		deleg = pj_get_mut(t->signed_v, "delegations");
		ids = pj_get_mut(&pj_get_mut(deleg, "roles")->u.items[0], "keyids");
		assert_int_equal(ids->len, 2);
		for (uint32_t i = 0; i < ids->len; i++)
			if (strcmp(ids->u.items[i].u.s, signer_keyid(k[1])) == 0)
				t_ok(pj_set_cstr(t->doc, &ids->u.items[i], alias));
		rs_resign_unchecked(t, &tg->signers[0], 1);
		put_raw(r, "targets", t, v);

		t_ok(md_target_put(a, "evil", 4, rs_hashes("evil", 4), NULL));
		rs_resign_unchecked(a, &k[0], 1);
		sig = strdup(first_sig(a));
		assert_non_null(sig);
		add_signature(a, alias, sig);
		free(sig);
		put_raw(r, "A", a, v);
		rs_commit(r);
		expect_refusal(&c, NULL, TARGETS("evil"), NULL, false,
			       ARGS("signature verification failed",
				    "1 of 2 required signatures are valid"));
		assert_trusted(&c, "A.json", r, "metadata/1.A.json");
		md_free(t);
		md_free(a);
	}

	/* 3: the same signature twice under k[0]'s own key id. */
	{
		/* back to the honest delegation (keyids [k0, k1]) */
		pawl_md *t = rs_md_copy(rs_role_get(r, "targets")->md), *a = edit_copy(r, "A", v);
		char *sig;

		t_ok(md_set_version(t, v));
		rs_resign(t, &tg->signers[0], 1);
		put_raw(r, "targets", t, v);
		t_ok(md_target_put(a, "evil", 4, rs_hashes("evil", 4), NULL));
		rs_resign_unchecked(a, &k[0], 1);
		sig = strdup(first_sig(a));
		assert_non_null(sig);
		add_signature(a, kid, sig);
		free(sig);
		put_raw(r, "A", a, v);
		rs_commit(r);
		expect_refusal(&c, NULL, TARGETS("evil"), NULL, false,
			       ARGS("malformed", "signatures lists key", "twice"));
		assert_trusted(&c, "A.json", r, "metadata/1.A.json");
		md_free(t);
		md_free(a);
	}
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- go-tuf GHSA-3633-5h82-39pq (and tough CVE-2020-15093, python-tuf
 * GHSA-pwqf-9h7j-7mv8, rust-tuf #283): the same for root ----
 *
 * A new root whose root role needs 2 keys, listed as one key under two
 * key ids, signed by the old root key and that one key twice: its own
 * threshold is not met, and the client stays on the old root. */
static void test_ghsa_3633_5h82_39pq_root_key_two_ids(void **state)
{
	rs_repo *r = repo_with_hello("gotuf-rootids", true);
	pawl_signer *old = r->pool[0], *k = rs_keygen(r);
	const char *kid = signer_keyid(k);
	pawl_md *root2;
	pj_value *keys, *slot, *ids;
	e2e_client c;
	char *sig;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	rs_root_set_role(r, MD_ROOT, &k, 1, 1);
	root2 = rs_md_copy(r->root);
	t_ok(pj_obj_put_int(root2->doc, root2->signed_v, "version", 2));
	keys = pj_get_mut(root2->signed_v, "keys");
	t_ok(pj_obj_put(root2->doc, keys, "alias", 5, &slot));
	t_ok(pj_copy(root2->doc, slot, pj_get(keys, kid)));
	ids = pj_get_mut(pj_get_mut(pj_get_mut(root2->signed_v, "roles"), "root"), "keyids");
	t_ok(pj_arr_push(root2->doc, ids, &slot));
	t_ok(pj_set_cstr(root2->doc, slot, "alias"));
	t_ok(pj_obj_put_int(root2->doc,
			    pj_get_mut(pj_get_mut(root2->signed_v, "roles"), "root"), "threshold",
			    2));
	rs_resign_unchecked(root2, (pawl_signer *[]){ k, old }, 2);
	sig = strdup(first_sig(root2));
	assert_non_null(sig);
	add_signature(root2, "alias", sig);
	free(sig);
	rs_md_write(r, root2, "metadata/2.root.json");
	md_free(root2);
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS("signature verification failed", "is not signed by its own keys",
			    "1 of 2 required signatures are valid"));
	assert_trusted(&c, "root.json", r, "metadata/1.root.json");
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- tough CVE-2026-6967: a delegated role's expiry, hash, length ----
 *
 * tough trusted a delegated targets role without checking its expiry or
 * that its bytes are those the snapshot names. Each check alone, on a
 * role whose signature stays valid; and a role trusted from disk that
 * has expired since. */
static void test_cve_2026_6967_delegated_role_checks(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "tough-deleg", true);
	pawl_signer *k = rs_keygen(r);
	rs_role *a;
	e2e_client c;
	char *bytes, msg[256];

	(void)state;
	r->sn_length_hashes = true;
	rs_delegate(r, "targets", "A", &k, 1, 1, false, ANY, 1, NULL, 0);
	rs_add_target(r, "A", "x", "x", 1);
	rs_commit(r);
	a = rs_role_get(r, "A");
	client_of(&c, r);
	download_ok(&c, "x");

	/* Expired (v2, validly signed, listed correctly by snapshot). */
	rs_add_target(r, "A", "y", "y", 1);
	rs_set_expires(r, "A", rs_now() - 60);
	rs_commit(r);
	expect_refusal(&c, NULL, TARGETS("y"), NULL, false, ARGS("expired", "A v2 expired at"));
	assert_trusted(&c, "A.json", r, "metadata/1.A.json");

	/* Length: snapshot gives only the length; the served A v3 has one
	 * (whitespace) byte more, or its final newline less: the signature
	 * still holds either way. */
	rs_set_expires(r, "A", 0);
	rs_commit(r);
	republish_snapshot(r, "A", 3, true, a->len, NULL);
	bytes = malloc(a->len + 1);
	assert_non_null(bytes);
	memcpy(bytes, a->bytes, a->len);
	bytes[a->len] = ' ';
	rs_write(r, "metadata/3.A.json", bytes, a->len + 1);
	snprintf(msg, sizeof(msg), "is larger than the %zu bytes allowed", a->len);
	expect_refusal(&c, NULL, TARGETS("y"), NULL, false,
		       ARGS(P(r, "metadata/3.A.json"), msg));
	assert_trusted(&c, "A.json", r, "metadata/1.A.json");
	rs_write(r, "metadata/3.A.json", bytes, a->len - 1);
	snprintf(msg, sizeof(msg), "length is %zu bytes, signed as %zu", a->len - 1, a->len);
	expect_refusal(&c, NULL, TARGETS("y"), NULL, false,
		       ARGS(P(r, "metadata/3.A.json"), msg));
	assert_trusted(&c, "A.json", r, "metadata/1.A.json");

	/* Hashes: snapshot gives only the hashes; the served A v3 has the
	 * same length, one whitespace byte changed. */
	republish_snapshot(r, "A", 3, false, 0, rs_hashes(a->bytes, a->len));
	memcpy(bytes, a->bytes, a->len);
	assert_int_equal(bytes[a->len - 1], '\n');
	bytes[a->len - 1] = ' ';
	rs_write(r, "metadata/3.A.json", bytes, a->len);
	expect_refusal(&c, NULL, TARGETS("y"), NULL, false,
		       ARGS(P(r, "metadata/3.A.json"), "sha256 digest does not match"));
	assert_trusted(&c, "A.json", r, "metadata/1.A.json");
	free(bytes);

	/* The honest v3 is taken. */
	rs_write(r, "metadata/3.A.json", a->bytes, a->len);
	download_ok(&c, "y");
	assert_trusted(&c, "A.json", r, "metadata/3.A.json");

	/* Trusted from disk, expired since: A v4 lives one day; two days on
	 * the cached copy no longer counts (the others live a week). */
	rs_add_target(r, "A", "z", "z", 1);
	rs_set_expires(r, "A", rs_now() + 24 * 3600);
	rs_commit(r);
	download_ok(&c, "z");
	expect_refusal(&c, "+2d", TARGETS("x"), NULL, true, ARGS("expired", "A v4 expired at"));
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- tough CVE-2026-6968: target names that leave the target directory ----
 *
 * tough joined target names to the output directory: an absolute name, a
 * "../" name or a parent directory that is a symbolic link wrote
 * elsewhere. pawl stores each target under one file name in the target
 * directory; links planted there are never followed. */
static void test_cve_2026_6968_target_names_escape(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "tough-targets", true);
	char outside[1024], victim[1200], absname[1200];
	const char *names[4];
	struct stat st;
	e2e_client c;
	e2e_run run;

	(void)state;
	client_of(&c, r);
	snprintf(outside, sizeof(outside), "%s/outside", c.tmp);
	snprintf(victim, sizeof(victim), "%s/victim", outside);
	snprintf(absname, sizeof(absname), "%s/abs-pwned", outside);
	names[0] = absname;                /* absolute */
	names[1] = "../outside/dots-pwned"; /* tdir/.. is c.tmp */
	names[2] = "sub/pwned";           /* tdir/sub -> outside */
	names[3] = "linked";              /* tdir/linked -> victim */
	for (size_t i = 0; i < 4; i++)
		rs_add_target(r, "targets", names[i], names[i], strlen(names[i]));
	rs_commit(r);
	e2e_mkdir_p(outside);
	e2e_mkdir_p(c.tdir);
	t_write_file(victim, "precious", 8);
	assert_int_equal(symlink(outside, e2e_path(c.tdir, "sub")), 0);
	assert_int_equal(symlink(victim, e2e_target_file(&c, "linked")), 0);

	e2e_download(&run, &c, NULL, TARGETS(names[0], names[1], names[2], names[3]), NULL);
	E2E_EXPECT(&run, 0, "downloaded linked");
	e2e_run_free(&run);
	/* outside/ holds the victim only, unchanged. */
	assert_int_equal(e2e_dir_count(outside), 1);
	e2e_assert_file(victim, "precious", 8);
	for (size_t i = 0; i < 4; i++) {
		const char *f = e2e_target_file(&c, names[i]);

		assert_int_equal(lstat(f, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_string_equal(strrchr(f, '/'), f + strlen(c.tdir));
		e2e_assert_file(f, names[i], strlen(names[i]));
	}
	/* the planted directory link is still just a link */
	assert_int_equal(lstat(e2e_path(c.tdir, "sub"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- python-tuf CVE-2020-15163: a root chain with one bad link ----
 *
 * python-tuf trusted a new root without checking that it met its own
 * threshold. Root v2 here is signed by v1's key only (its own key did
 * not sign); v3 is perfectly signed by v2's key. The client must stop at
 * v2, stay on v1 and not even ask for v3. Then v2 signed by its own key
 * only (not v1's): the same. Only an honest v2 lets the chain go on. */
static void test_cve_2020_15163_root_chain_bad_link(void **state)
{
	rs_repo *r = repo_with_hello("pytuf-rootchain", true);
	pawl_signer *old = r->pool[0], *k = rs_keygen(r);
	e2e_client c;
	e2e_run run;
	pawl_md *v2;
	size_t mark;
	char want[2048];

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	rs_root_set_role(r, MD_ROOT, &k, 1, 1);
	rs_root_publish(r, &old, 1);  /* v2: v1's key only */
	v2 = rs_md_copy(r->root);
	rs_root_publish(r, &k, 1);    /* v3: good under v2 */
	snprintf(want, sizeof(want), "200 %s\n", P(r, "metadata/2.root.json"));

	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS(P(r, "metadata/2.root.json"), "is not signed by its own keys",
			    "0 of 1 required signatures are valid"));
	assert_requests(mark, want);
	assert_trusted(&c, "root.json", r, "metadata/1.root.json");

	rs_resign(v2, &k, 1);         /* v2: its own key only */
	rs_md_write(r, v2, "metadata/2.root.json");
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS(P(r, "metadata/2.root.json"), "is not signed by trusted root v1",
			    "0 of 1 required signatures are valid"));
	assert_requests(mark, want);
	assert_trusted(&c, "root.json", r, "metadata/1.root.json");

	rs_resign(v2, (pawl_signer *[]){ old, k }, 2);
	rs_md_write(r, v2, "metadata/2.root.json");
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "root rotated v1 -> v2", "root rotated v2 -> v3");
	e2e_run_free(&run);
	assert_trusted(&c, "root.json", r, "metadata/3.root.json");
	md_free(v2);
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- fwupd CVE-2020-10759 (and Mender #1481): zero valid signatures ----
 *
 * fwupd counted the signatures that failed and accepted a file when
 * there were none at all; Mender installed an unsigned artifact although
 * keys were configured. A role is trusted only when a threshold of its
 * keys' signatures verify: none, empty ones, or ones by keys the role
 * does not list count for nothing. */
static void test_cve_2020_10759_zero_valid_signatures(void **state)
{
	rs_repo *r = repo_with_hello("fwupd-nosig", true);
	pawl_signer *stranger = rs_keygen(r);
	const char *tkid = signer_keyid(rs_role_get(r, "targets")->signers[0]);
	e2e_client c;
	uint64_t v = 2;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	rs_write(r, rs_target_relpath(r, "evil", "evil", 4), "evil", 4);
	for (int variant = 0; variant < 3; variant++, v++) {
		pawl_md *t = edit_copy(r, "targets", v);
		char msg[128];

		t_ok(md_target_put(t, "evil", 4, rs_hashes("evil", 4), NULL));
		if (variant == 0) {
			rs_resign_unchecked(t, NULL, 0);          /* "signatures": [] */
		} else if (variant == 1) {
			rs_resign_unchecked(t, NULL, 0);          /* the key's slot, empty */
			add_signature(t, tkid, "");
		} else {
			rs_resign_unchecked(t, &stranger, 1);     /* a key not in the role */
		}
		put_raw(r, "targets", t, v);
		rs_commit(r);
		snprintf(msg, sizeof(msg), "targets v%llu: 0 of 1 required signatures are valid",
			 (unsigned long long)v);
		expect_refusal(&c, NULL, TARGETS("evil"), NULL, false,
			       ARGS("signature verification failed", msg));
		assert_trusted(&c, "targets.json", r, "metadata/1.targets.json");
		md_free(t);
	}

	/* The same mistake one level down: a check over an empty set of
	 * hashes passes vacuously. A validly signed target entry with
	 * "hashes": {} is refused, not taken as matching anything. */
	{
		pawl_md *t = edit_copy(r, "targets", v);
		pj_value *h;

		t_ok(md_target_put(t, "evil", 4, rs_hashes("evil", 4), NULL));
		h = pj_get_mut(pj_get_mut(pj_get_mut(t->signed_v, "targets"), "evil"), "hashes");
		t_ok(pj_set_object(t->doc, h));
		rs_resign_unchecked(t, rs_role_get(r, "targets")->signers, 1);
		put_raw(r, "targets", t, v);
		rs_commit(r);
		expect_refusal(&c, NULL, TARGETS("evil"), NULL, false,
			       ARGS("malformed", "target evil: hashes must list 1 to"));
		assert_trusted(&c, "targets.json", r, "metadata/1.targets.json");
		md_free(t);
		v++;
	}

	/* The same for a new root and for a timestamp. */
	{
		pawl_md *root2 = rs_md_copy(r->root), *ts;

		t_ok(md_set_version(root2, 2));
		rs_resign_unchecked(root2, NULL, 0);
		rs_md_write(r, root2, "metadata/2.root.json");
		md_free(root2);
		expect_refusal(&c, NULL, NULL, NULL, true,
			       ARGS("is not signed by trusted root v1",
				    "0 of 1 required signatures are valid"));
		rs_remove(r, "metadata/2.root.json");
		ts = edit_copy(r, "timestamp", rs_role_get(r, "timestamp")->md->version + 1);
		rs_resign_unchecked(ts, NULL, 0);
		rs_md_write(r, ts, "metadata/timestamp.json");
		md_free(ts);
		expect_refusal(&c, NULL, NULL, NULL, true,
			       ARGS("signature verification failed", "timestamp v",
				    "0 of 1 required signatures are valid"));
	}
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- go-tuf CVE-2024-47534: the order delegations are searched in ----
 *
 * go-tuf could visit targets -> B -> C before targets -> A, and so take a
 * target from C that A, listed first, also lists. The specification's
 * order is pre-order depth-first, children in the order listed. */
static void test_cve_2024_47534_delegation_order(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "gotuf-order", true);
	pawl_signer *k[4] = { rs_keygen(r), rs_keygen(r), rs_keygen(r), rs_keygen(r) };
	e2e_client c;
	size_t mark;
	char want[4096];

	(void)state;
	rs_delegate(r, "targets", "A", &k[0], 1, 1, false, ANY, 1, NULL, 0);
	rs_delegate(r, "targets", "B", &k[1], 1, 1, false, ANY, 1, NULL, 0);
	rs_delegate(r, "B", "C", &k[2], 1, 1, false, ANY, 1, NULL, 0);
	rs_delegate(r, "A", "D", &k[3], 1, 1, false, ANY, 1, NULL, 0);
	rs_add_target(r, "A", "x", "from A", 6);
	rs_add_target(r, "C", "x", "from C", 6);
	rs_add_target(r, "D", "y", "from D", 6);
	rs_add_target(r, "C", "y", "from C", 6);
	rs_commit(r);
	client_of(&c, r);

	mark = e2e_log_mark(&S);
	download_ok(&c, "x");
	e2e_assert_file(e2e_target_file(&c, "x"), "from A", 6);
	download_ok(&c, "y");
	e2e_assert_file(e2e_target_file(&c, "y"), "from D", 6);
	{
		size_t o;

		o = (size_t)snprintf(want, sizeof(want), "404 %s\n200 %s\n200 %s\n200 %s\n",
				     P(r, "metadata/2.root.json"), P(r, "metadata/timestamp.json"),
				     P(r, "metadata/1.snapshot.json"),
				     P(r, "metadata/1.targets.json"));
		o += (size_t)snprintf(want + o, sizeof(want) - o, "200 %s\n200 %s\n",
				      P(r, "metadata/1.A.json"),
				      P(r, rs_target_relpath(r, "x", "from A", 6)));
		snprintf(want + o, sizeof(want) - o, "404 %s\n200 %s\n200 %s\n200 %s\n",
			 P(r, "metadata/2.root.json"), P(r, "metadata/timestamp.json"),
			 P(r, "metadata/1.D.json"), P(r, rs_target_relpath(r, "y", "from D", 6)));
	}
	assert_requests(mark, want);
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- Notary v1 delegation fallback (connaisseur #2151) ----
 *
 * A verifier that could not get the delegated role it needed fell back to
 * what another role said about the image. TUF 5.6.7: when metadata on the
 * search path cannot be downloaded or verified, the search ends with
 * "not found"; it never skips to the next delegation. */
static void test_notary_no_fallback_past_failed_delegation(void **state)
{
	static const char *const ONLY_X[] = { "x" };
	rs_repo *r = rs_new(DOCROOT, "notary-fallback", true);
	pawl_signer *ka = rs_keygen(r), *kb = rs_keygen(r), *intruder = rs_keygen(r);
	e2e_client c;
	e2e_reqs q;
	size_t mark, len;
	char *abytes;

	(void)state;
	rs_delegate(r, "targets", "A", &ka, 1, 1, false, ONLY_X, 1, NULL, 0);
	rs_delegate(r, "targets", "B", &kb, 1, 1, false, ANY, 1, NULL, 0);
	rs_add_target(r, "A", "x", "from A", 6);
	rs_add_target(r, "B", "x", "from B", 6);
	rs_commit(r);
	abytes = rs_read(r, "metadata/1.A.json", &len);

	/* A is missing on the mirror. */
	rs_remove(r, "metadata/1.A.json");
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("x"), NULL, false, ARGS(P(r, "metadata/1.A.json")));
	e2e_log_since(&S, mark, &q);
	assert_int_equal(e2e_reqs_count(&q, P(r, "metadata/1.B.json"), false), 0);
	e2e_reqs_free(&q);
	e2e_client_free(&c);

	/* A is signed by a key the delegation does not name. */
	{
		pawl_md *a = rs_md_copy(rs_role_get(r, "A")->md);

		rs_resign_unchecked(a, &intruder, 1);
		rs_md_write(r, a, "metadata/1.A.json");
		md_free(a);
	}
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("x"), NULL, false,
		       ARGS("signature verification failed", "A v1"));
	e2e_log_since(&S, mark, &q);
	assert_int_equal(e2e_reqs_count(&q, P(r, "metadata/1.B.json"), false), 0);
	e2e_reqs_free(&q);

	/* With A restored, x comes from A. */
	rs_write(r, "metadata/1.A.json", abytes, len);
	download_ok(&c, "x");
	e2e_assert_file(e2e_target_file(&c, "x"), "from A", 6);
	free(abytes);
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- RAUC CVE-2026-34155: a target over 2 GiB tampered at its end ----
 *
 * RAUC signed and checked plain bundles over 2 GiB only up to 2 GiB, so
 * bytes past that could be changed at will. A 2 GiB + 1 MiB + 1 target
 * (a sparse file on the server) whose last byte is flipped must be
 * refused after the whole transfer, and nothing may remain: no target,
 * no partial download. The same file unchanged is accepted (so the
 * refusal is the last byte's doing), and one byte more is refused too. */
#define BIG_LEN (((uint64_t)2 << 30) + ((uint64_t)1 << 20) + 1)

/* The client's directory, removed by the teardown even when the test
 * fails half-way: it may hold 2 GiB. */
static e2e_client big_client;

static int big_teardown(void **state)
{
	(void)state;
	e2e_client_free(&big_client);
	return 0;
}

static void big_file(const char *path, uint64_t len, char last)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	assert_int_equal(pwrite(fd, &last, 1, (off_t)(len - 1)), 1);
	assert_int_equal(close(fd), 0);
}

static void test_cve_2026_34155_large_target_tampered_at_end(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "rauc-large", true);
	static uint8_t zeros[1 << 20];
	uint8_t d[HASH_MAX_LEN];
	char hex[65], rel[256], staging[700];
	const pj_value *hashes;
	struct statvfs fs;
	hash_ctx *h;
	e2e_run run;
	pj_doc *doc;

	(void)state;
	/* The client writes the whole target: it needs 2 GiB on its disk. */
	client_of(&big_client, r);
	if (statvfs(big_client.tmp, &fs) != 0 ||
	    (uint64_t)fs.f_bavail * fs.f_frsize < BIG_LEN * 2) {
		rs_free(r);
		print_message("[ INFO     ] less than %llu bytes free for the client\n",
			      (unsigned long long)(BIG_LEN * 2));
		skip();
	}
	/* SHA-256 of BIG_LEN - 1 zero bytes and 'A'. */
	t_ok(hash_new(&h, HASH_SHA256));
	for (uint64_t left = BIG_LEN - 1; left > 0;) {
		size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);

		t_ok(hash_update(h, zeros, n));
		left -= n;
	}
	t_ok(hash_update(h, "A", 1));
	t_ok(hash_final(h, d));
	hash_free(h);
	hex_encode(hex, d, 32);
	t_ok(pj_doc_new(&doc));
	t_ok(pj_set_object(doc, pj_root(doc)));
	t_ok(pj_obj_put_str(doc, pj_root(doc), "sha256", hex));
	hashes = pj_root(doc);
	t_ok(md_target_put(rs_role_get(r, "targets")->md, "big.img", BIG_LEN, hashes, NULL));
	rs_touch(r, "targets");
	rs_commit(r);
	snprintf(rel, sizeof(rel), "targets/%s.big.img", hex);
	snprintf(staging, sizeof(staging), "%s/staging", big_client.mdir);

	/* Tampered at its very end. */
	big_file(e2e_path(r->dir, rel), BIG_LEN, 'B');
	expect_refusal(&big_client, NULL, TARGETS("big.img"), NULL, false,
		       ARGS("big.img", "sha256 digest does not match"));
	assert_int_equal(e2e_dir_count(staging), 0);
	assert_int_equal(e2e_dir_count(big_client.tdir), 0);

	/* One byte longer. */
	big_file(e2e_path(r->dir, rel), BIG_LEN + 1, 'A');
	expect_refusal(&big_client, NULL, TARGETS("big.img"), NULL, false,
		       ARGS("big.img", "longer"));
	assert_int_equal(e2e_dir_count(staging), 0);
	assert_int_equal(e2e_dir_count(big_client.tdir), 0);

	/* As signed. */
	big_file(e2e_path(r->dir, rel), BIG_LEN, 'A');
	e2e_download(&run, &big_client, NULL, TARGETS("big.img"), NULL);
	E2E_EXPECT(&run, 0, "downloaded big.img");
	e2e_run_free(&run);
	{
		struct stat st;
		char last = 0;
		int fd = open(e2e_target_file(&big_client, "big.img"), O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal((uint64_t)st.st_size, BIG_LEN);
		assert_int_equal(pread(fd, &last, 1, (off_t)(BIG_LEN - 1)), 1);
		assert_int_equal(last, 'A');
		close(fd);
	}
	rs_remove(r, rel);
	pj_doc_free(doc);
	e2e_client_free(&big_client);
	rs_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cve_2022_29173_rollback_default_zero),
		cmocka_unit_test(test_cve_2022_29173_unverified_version_not_persisted),
		cmocka_unit_test(test_cve_2026_23992_threshold_zero),
		cmocka_unit_test(test_cve_2026_24686_role_name_traversal),
		cmocka_unit_test(test_cve_2021_41131_names_over_file_url),
		cmocka_unit_test(test_cve_2026_6966_duplicate_signatures),
		cmocka_unit_test(test_ghsa_3633_5h82_39pq_root_key_two_ids),
		cmocka_unit_test(test_cve_2026_6967_delegated_role_checks),
		cmocka_unit_test(test_cve_2026_6968_target_names_escape),
		cmocka_unit_test(test_cve_2020_15163_root_chain_bad_link),
		cmocka_unit_test(test_cve_2020_10759_zero_valid_signatures),
		cmocka_unit_test(test_cve_2024_47534_delegation_order),
		cmocka_unit_test(test_notary_no_fallback_past_failed_delegation),
		cmocka_unit_test_teardown(test_cve_2026_34155_large_target_tampered_at_end,
					  big_teardown),
	};

	return cmocka_run_group_tests(tests, sc_group_setup, sc_group_teardown);
}

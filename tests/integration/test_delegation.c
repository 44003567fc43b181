/*
 * test_delegation.c - delegated targets end to end (TUF 1.0.x 5.6.7 and
 * 4.5): the search order (pre-order depth-first, children in listed
 * order, terminating delegations cutting off the rest), cycles, diamonds,
 * path patterns, path_hash_prefixes, TAP 15 succinct hash bins, the bound
 * on roles visited, roles signing outside their paths (extraneous
 * dependencies, wrong software), and names as data: target paths and role
 * names with spaces, '%', '?', '#', non-ASCII, a leading '/', '..'.
 *
 * The order is checked on the wire: the exact requests nginx logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "scenario.h"

static const char *const ANY[] = { "*" };
/* '*' never crosses '/': one directory level more. */
static const char *const ANY2[] = { "*", "*/*" };

/* Delegate parent -> child for paths with a fresh key (threshold 1). */
static void deleg(rs_repo *r, const char *parent, const char *child, bool terminating,
		  const char *const *paths, size_t npaths)
{
	pawl_signer *k = rs_keygen(r);

	rs_delegate(r, parent, child, &k, 1, 1, terminating, paths, npaths, NULL, 0);
}

/* Assert a cold download's requests: root N+1 (404), timestamp, snapshot
 * and targets v1, then exactly the roles listed (v1 each), then the
 * target file when target is not NULL. */
static void expect_walk(const rs_repo *r, size_t mark, const char *const *roles,
			const char *target_rel)
{
	char want[16384];
	size_t o;

	o = (size_t)snprintf(want, sizeof(want), "404 %s\n200 %s\n200 %s\n200 %s\n",
			     P(r, "metadata/2.root.json"), P(r, "metadata/timestamp.json"),
			     P(r, "metadata/1.snapshot.json"), P(r, "metadata/1.targets.json"));
	for (size_t i = 0; roles[i]; i++) {
		char rel[1024];

		snprintf(rel, sizeof(rel), "metadata/1.%s.json", roles[i]);
		o += (size_t)snprintf(want + o, sizeof(want) - o, "200 %s\n", P(r, rel));
	}
	if (target_rel)
		snprintf(want + o, sizeof(want) - o, "200 %s\n", P(r, target_rel));
	assert_requests(mark, want);
}

static void download_ok(const e2e_client *c, const char *path)
{
	e2e_run run;
	char want[1024];

	snprintf(want, sizeof(want), "downloaded %s", path);
	e2e_download(&run, c, NULL, TARGETS(path), NULL);
	E2E_EXPECT(&run, 0, want);
	e2e_run_free(&run);
}

/* ---- search order ---- */

static void test_preorder_depth_first(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "dfs", true);
	e2e_client c;
	size_t mark;

	(void)state;
	deleg(r, "targets", "A", false, ANY, 1);
	deleg(r, "targets", "B", false, ANY, 1);
	deleg(r, "A", "C", false, ANY, 1);
	deleg(r, "A", "D", false, ANY, 1);
	rs_add_target(r, "B", "t.txt", "from B", 6);
	rs_add_target(r, "D", "d.txt", "from D", 6);
	rs_commit(r);

	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, "t.txt");
	expect_walk(r, mark, ARGS("A", "C", "D", "B"),
		    rs_target_relpath(r, "t.txt", "from B", 6));
	e2e_assert_file(e2e_target_file(&c, "t.txt"), "from B", 6);
	assert_trusted(&c, "A.json", r, "metadata/1.A.json");
	assert_trusted(&c, "B.json", r, "metadata/1.B.json");
	/* Warm: the delegated metadata is trusted from disk, the target is
	 * already there: root N+1 and timestamp only. */
	mark = e2e_log_mark(&S);
	{
		e2e_run run;
		char want[2048];

		e2e_download(&run, &c, NULL, TARGETS("t.txt"), NULL);
		E2E_EXPECT(&run, 0, "have t.txt");
		e2e_run_free(&run);
		snprintf(want, sizeof(want), "404 %s\n200 %s\n", P(r, "metadata/2.root.json"),
			 P(r, "metadata/timestamp.json"));
		assert_requests(mark, want);
	}

	/* Only as far as needed: d.txt is in D, B is never visited. */
	e2e_client_free(&c);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, "d.txt");
	expect_walk(r, mark, ARGS("A", "C", "D"), rs_target_relpath(r, "d.txt", "from D", 6));
	assert_false(e2e_exists(e2e_path(c.mdir, "B.json")));
	e2e_client_free(&c);
	rs_free(r);
}

static void test_terminating(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "term", true);
	static const char *const ONLY_X[] = { "x/*" };
	e2e_client c;
	size_t mark;

	(void)state;
	deleg(r, "targets", "A", true, ANY, 1);   /* terminating, matches all */
	deleg(r, "targets", "B", false, ANY, 1);
	deleg(r, "A", "C", false, ANY, 1);
	rs_add_target(r, "B", "b.txt", "from B", 6);
	/* E: terminating but its paths do not match b.txt */
	deleg(r, "targets", "E", true, ONLY_X, 1);
	rs_commit(r);

	client_of(&c, r);
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("b.txt"), NULL, false,
		       ARGS("not found", "target \"b.txt\" is not listed by any trusted role"));
	expect_walk(r, mark, ARGS("A", "C"), NULL);
	e2e_client_free(&c);

	/* A terminating delegation that does not match cuts nothing off. */
	{
		rs_repo *r2 = rs_new(DOCROOT, "term2", true);

		deleg(r2, "targets", "E", true, ONLY_X, 1);
		deleg(r2, "targets", "B", false, ANY, 1);
		rs_add_target(r2, "B", "b.txt", "from B", 6);
		rs_commit(r2);
		client_of(&c, r2);
		mark = e2e_log_mark(&S);
		download_ok(&c, "b.txt");
		expect_walk(r2, mark, ARGS("B"), rs_target_relpath(r2, "b.txt", "from B", 6));
		e2e_client_free(&c);
		rs_free(r2);
	}
	rs_free(r);
}

/* A terminating delegation deeper down ends the whole search, not just
 * its parent's (python-tuf's behaviour). */
static void test_terminating_deep(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "term-deep", true);
	e2e_client c;
	size_t mark;

	(void)state;
	deleg(r, "targets", "A", false, ANY, 1);
	deleg(r, "targets", "B", false, ANY, 1);
	deleg(r, "A", "C", true, ANY, 1);
	deleg(r, "A", "D", false, ANY, 1);
	rs_add_target(r, "B", "b.txt", "from B", 6);
	rs_add_target(r, "D", "b.txt", "from D", 6);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("b.txt"), NULL, false,
		       ARGS("not listed by any trusted role"));
	expect_walk(r, mark, ARGS("A", "C"), NULL);
	e2e_client_free(&c);
	rs_free(r);
}

static void test_cycle(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "cycle", true);
	pawl_signer *ka = rs_keygen(r), *kb = rs_keygen(r);
	e2e_client c;
	size_t mark;

	(void)state;
	rs_delegate(r, "targets", "A", &ka, 1, 1, false, ANY, 1, NULL, 0);
	rs_delegate(r, "A", "B", &kb, 1, 1, false, ANY, 1, NULL, 0);
	rs_delegate(r, "B", "A", &ka, 1, 1, false, ANY, 1, NULL, 0);
	rs_add_target(r, "B", "in-b.txt", "bbb", 3);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("nowhere.txt"), NULL, false,
		       ARGS("not listed by any trusted role"));
	expect_walk(r, mark, ARGS("A", "B"), NULL);
	/* Found through the cycle's second role, from the cached metadata. */
	mark = e2e_log_mark(&S);
	download_ok(&c, "in-b.txt");
	{
		char want[2048];

		snprintf(want, sizeof(want), "404 %s\n200 %s\n200 %s\n",
			 P(r, "metadata/2.root.json"), P(r, "metadata/timestamp.json"),
			 P(r, rs_target_relpath(r, "in-b.txt", "bbb", 3)));
		assert_requests(mark, want);
	}
	e2e_client_free(&c);
	rs_free(r);
}

static void test_diamond(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "diamond", true);
	pawl_signer *kc = rs_keygen(r);
	e2e_client c;
	size_t mark;

	(void)state;
	deleg(r, "targets", "A", false, ANY, 1);
	deleg(r, "targets", "B", false, ANY, 1);
	rs_delegate(r, "A", "C", &kc, 1, 1, false, ANY, 1, NULL, 0);
	rs_delegate(r, "B", "C", &kc, 1, 1, false, ANY, 1, NULL, 0);
	rs_add_target(r, "C", "c.txt", "from C", 6);
	rs_add_target(r, "B", "b.txt", "from B", 6);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, "b.txt");
	/* C once, through A; B's edge to it is not followed again. */
	expect_walk(r, mark, ARGS("A", "C", "B"), rs_target_relpath(r, "b.txt", "from B", 6));
	download_ok(&c, "c.txt");
	e2e_assert_file(e2e_target_file(&c, "c.txt"), "from C", 6);
	e2e_client_free(&c);
	rs_free(r);
}

/* Two parents delegate to the same role with different keys: each
 * parent's delegation is checked on its own, also when the role is
 * already loaded through the other parent. */
static void test_diamond_different_keys(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "diamond-keys", true);
	pawl_signer *k1 = rs_keygen(r), *k2 = rs_keygen(r);
	static const char *const A_ONLY[] = { "a/*" };
	static const char *const B_ONLY[] = { "b/*" };
	e2e_client c;
	e2e_run run;

	(void)state;
	deleg(r, "targets", "A", false, ANY2, 2);
	deleg(r, "targets", "B", false, ANY2, 2);
	rs_delegate(r, "A", "C", &k1, 1, 1, false, A_ONLY, 1, NULL, 0);
	rs_delegate(r, "B", "C", &k2, 1, 1, false, B_ONLY, 1, NULL, 0);
	rs_role_get(r, "C")->signers[0] = k1; /* C is signed by A's key only */
	rs_add_target(r, "C", "a/x", "ax", 2);
	rs_add_target(r, "C", "b/y", "by", 2);
	rs_commit(r);
	client_of(&c, r);
	/* Reached through B only: B's key for C never signed it. */
	expect_refusal(&c, NULL, TARGETS("b/y"), NULL, false,
		       ARGS("signature verification failed", "C v1",
			    "0 of 1 required signatures are valid"));
	/* In one run: first through A (fine), then through B (refused). */
	e2e_download(&run, &c, NULL, TARGETS("a/x", "b/y"), NULL);
	E2E_EXPECT(&run, 1, "downloaded a/x", "C (delegated by B)",
		   "0 of 1 required signatures are valid");
	e2e_run_free(&run);
	assert_false(e2e_exists(e2e_target_file(&c, "b/y")));
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- which role may sign which path ---- */

static void test_path_patterns(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "patterns", true);
	static const char *const PATS[] = { "dir/*.txt", "file-?.bin", "lib/[ab]*" };
	e2e_client c;
	size_t mark;

	(void)state;
	deleg(r, "targets", "A", false, PATS, 3);
	rs_add_target(r, "A", "dir/a.txt", "a", 1);
	rs_add_target(r, "A", "dir/sub/a.txt", "deep", 4); /* '*' must not cross '/' */
	rs_add_target(r, "A", "file-1.bin", "1", 1);
	rs_add_target(r, "A", "file-10.bin", "10", 2);     /* '?' is one character */
	rs_add_target(r, "A", "lib/alpha", "al", 2);
	rs_add_target(r, "A", "lib/cat", "ca", 2);
	rs_add_target(r, "A", "dir/a.txt.sig", "sig", 3);  /* pattern anchored at end */
	rs_commit(r);
	client_of(&c, r);
	download_ok(&c, "dir/a.txt");
	download_ok(&c, "file-1.bin");
	download_ok(&c, "lib/alpha");
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("dir/sub/a.txt"), NULL, true,
		       ARGS("target \"dir/sub/a.txt\" is not listed by any trusted role"));
	expect_refusal(&c, NULL, TARGETS("file-10.bin"), NULL, true,
		       ARGS("not listed by any trusted role"));
	expect_refusal(&c, NULL, TARGETS("lib/cat"), NULL, true,
		       ARGS("not listed by any trusted role"));
	expect_refusal(&c, NULL, TARGETS("dir/a.txt.sig"), NULL, true,
		       ARGS("not listed by any trusted role"));
	{
		e2e_reqs q;

		e2e_log_since(&S, mark, &q);
		assert_int_equal(e2e_reqs_count(&q, "/targets/", true), 0);
		assert_int_equal(q.n, 8); /* 2.root.json and timestamp, four times */
		e2e_reqs_free(&q);
	}
	e2e_client_free(&c);
	rs_free(r);
}

static void hash_prefix(const char *path, size_t n, char *out)
{
	char hex[65];

	rs_sha256_hex(path, strlen(path), hex);
	memcpy(out, hex, n);
	out[n] = '\0';
}

static void test_path_hash_prefixes(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "prefixes", true);
	pawl_signer *ka = rs_keygen(r), *kb = rs_keygen(r);
	char pa[8], pb[8];
	const char *one = "p/one", *two = "p/two";
	e2e_client c;
	size_t mark;

	(void)state;
	hash_prefix(one, 4, pa);
	hash_prefix(two, 4, pb);
	assert_string_not_equal(pa, pb);
	rs_delegate(r, "targets", "A", &ka, 1, 1, false, NULL, 0, (const char *const[]){ pa }, 1);
	rs_delegate(r, "targets", "B", &kb, 1, 1, false, NULL, 0, (const char *const[]){ pb }, 1);
	rs_add_target(r, "A", one, "one", 3);
	rs_add_target(r, "A", two, "evil two", 8); /* outside A's prefixes */
	rs_add_target(r, "B", two, "two", 3);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, two);
	expect_walk(r, mark, ARGS("B"), rs_target_relpath(r, two, "two", 3));
	e2e_assert_file(e2e_target_file(&c, two), "two", 3);
	download_ok(&c, one);
	e2e_assert_file(e2e_target_file(&c, one), "one", 3);
	e2e_client_free(&c);
	rs_free(r);
}

static void test_succinct_hash_bins(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "bins", true);
	pawl_signer *kb = rs_keygen(r);
	const md_succinct *sc;
	char bin[256], zbin[256], other[256], rel[512];
	static const char *const PATHS[] = { "pkg/a", "pkg/b", "pkg/c", "pkg/d", "pkg/e" };
	e2e_client c;
	e2e_run run;
	e2e_reqs q;
	size_t mark;

	(void)state;
	rs_delegate_succinct(r, "targets", &kb, 1, 1, 3, "bin");
	sc = &rs_role_get(r, "targets")->md->deleg.succinct;
	assert_int_equal(md_succinct_count(sc), 8);
	t_ok(md_succinct_name(sc, 0, other, sizeof(other)));
	assert_string_equal(other, "bin-0"); /* TAP 15: prefix-HEX */
	t_ok(md_succinct_name(sc, 7, other, sizeof(other)));
	assert_string_equal(other, "bin-7");
	for (size_t i = 0; i < 5; i++) {
		t_ok(md_succinct_role_for(sc, PATHS[i], bin, sizeof(bin)));
		rs_add_target(r, bin, PATHS[i], PATHS[i], 5);
	}
	/* A bin listing a path that hashes into another bin. */
	t_ok(md_succinct_role_for(sc, "pkg/a", bin, sizeof(bin)));
	t_ok(md_succinct_role_for(sc, "pkg/z-misplaced", zbin, sizeof(zbin)));
	for (uint32_t i = 0; i < 8; i++) {
		t_ok(md_succinct_name(sc, i, other, sizeof(other)));
		if (strcmp(other, bin) != 0 && strcmp(other, zbin) != 0)
			break;
	}
	rs_add_target(r, other, "pkg/z-misplaced", "zz", 2);
	rs_commit(r);

	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, "pkg/a");
	/* Exactly the one bin the path hashes to. */
	expect_walk(r, mark, ARGS(bin), rs_target_relpath(r, "pkg/a", "pkg/a", 5));

	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("pkg/z-misplaced"), NULL, false,
		       ARGS("not listed by any trusted role"));
	e2e_log_since(&S, mark, &q);
	snprintf(rel, sizeof(rel), "/metadata/1.%s.json", other);
	assert_int_equal(e2e_reqs_count(&q, rel, true), 0);
	e2e_reqs_free(&q);

	e2e_download(&run, &c, NULL, TARGETS("pkg/a", "pkg/b", "pkg/c", "pkg/d", "pkg/e"), NULL);
	E2E_EXPECT(&run, 0, "have pkg/a", "downloaded pkg/e");
	e2e_run_free(&run);
	for (size_t i = 0; i < 5; i++)
		e2e_assert_file(e2e_target_file(&c, PATHS[i]), PATHS[i], 5);
	e2e_client_free(&c);
	rs_free(r);
}

static void test_max_delegations(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "maxdeleg", true);
	char name[32], parent[32];
	e2e_client c;
	e2e_reqs q;
	size_t mark;

	(void)state;
	snprintf(parent, sizeof(parent), "targets");
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "r%02d", i);
		deleg(r, parent, name, false, ANY, 1);
		snprintf(parent, sizeof(parent), "%s", name);
	}
	rs_add_target(r, "r31", "at-31", "31", 2);
	rs_add_target(r, "r32", "at-32", "32", 2);
	rs_add_target(r, "r39", "at-39", "39", 2);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, "at-31"); /* the 32nd delegated role: within the bound */
	expect_refusal(&c, NULL, TARGETS("at-32"), NULL, true,
		       ARGS("not listed by any trusted role", "delegation search limit reached"));
	expect_refusal(&c, NULL, TARGETS("at-39"), NULL, true,
		       ARGS("delegation search limit reached"));
	e2e_log_since(&S, mark, &q);
	assert_int_equal(e2e_reqs_count(&q, ".r31.json", true), 1);
	assert_int_equal(e2e_reqs_count(&q, ".r32.json", true), 0);
	assert_int_equal(e2e_reqs_count(&q, ".r39.json", true), 0);
	e2e_reqs_free(&q);
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- extraneous dependencies and wrong software ---- */

static void test_extraneous_dependencies(void **state)
{
	static const char *const A_PATHS[] = { "a/*" };
	rs_repo *r = rs_new(DOCROOT, "extraneous", true);
	e2e_client c;
	size_t mark;

	(void)state;
	deleg(r, "targets", "A", false, A_PATHS, 1);
	rs_add_target(r, "A", "a/good", "good", 4);
	rs_add_target(r, "A", "b/evil", "evil", 4); /* outside A's paths */
	deleg(r, "A", "C", false, (const char *const[]){ "*/*" }, 1); /* broader than A */
	rs_add_target(r, "C", "b/evil2", "evil", 4);
	rs_add_target(r, "C", "a/deep", "deep", 4);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	expect_refusal(&c, NULL, TARGETS("b/evil"), NULL, false,
		       ARGS("target \"b/evil\" is not listed by any trusted role"));
	/* A does not cover b/evil, so it is not even fetched. */
	expect_walk(r, mark, (const char *const[]){ NULL }, NULL);
	expect_refusal(&c, NULL, TARGETS("b/evil2"), NULL, true,
		       ARGS("not listed by any trusted role"));
	download_ok(&c, "a/good");
	download_ok(&c, "a/deep"); /* through A, then C */
	assert_false(e2e_exists(e2e_target_file(&c, "b/evil")));
	e2e_client_free(&c);
	rs_free(r);
}

static void test_wrong_software_from_other_role(void **state)
{
	static const char *const A_PATHS[] = { "a/*" };
	static const char *const B_PATHS[] = { "b/*" };
	rs_repo *r = rs_new(DOCROOT, "other-role", true);
	e2e_client c;
	size_t mark;

	(void)state;
	/* B is listed first and also lists a/app: it must not be asked. */
	deleg(r, "targets", "B", false, B_PATHS, 1);
	deleg(r, "targets", "A", false, A_PATHS, 1);
	rs_add_target(r, "B", "a/app", "not the app", 11);
	rs_add_target(r, "A", "a/app", "the app", 7);
	rs_commit(r);
	client_of(&c, r);
	mark = e2e_log_mark(&S);
	download_ok(&c, "a/app");
	expect_walk(r, mark, ARGS("A"), rs_target_relpath(r, "a/app", "the app", 7));
	e2e_assert_file(e2e_target_file(&c, "a/app"), "the app", 7);
	e2e_client_free(&c);
	rs_free(r);
}

static void test_delegated_below_threshold(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "deleg-threshold", true);
	pawl_signer *k[2] = { rs_keygen(r), rs_keygen(r) };
	e2e_client c;

	(void)state;
	rs_delegate(r, "targets", "A", k, 2, 2, false, ANY, 1, NULL, 0);
	rs_role_get(r, "A")->nsigners = 1;
	rs_add_target(r, "A", "x", "x", 1);
	rs_commit(r);
	client_of(&c, r);
	expect_refusal(&c, NULL, TARGETS("x"), NULL, false,
		       ARGS("signature verification failed", "A v1",
			    "1 of 2 required signatures are valid"));
	e2e_client_free(&c);
	rs_free(r);
}

static void test_delegated_role_missing_from_snapshot(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "deleg-unlisted", true);
	rs_role *sn = rs_role_get(r, "snapshot"), *ts = rs_role_get(r, "timestamp");
	e2e_client c;

	(void)state;
	deleg(r, "targets", "A", false, ANY, 1);
	rs_add_target(r, "A", "x", "x", 1);
	rs_commit(r);
	/* Snapshot v2 without A.json (a repository bug or an attack). */
	t_ok(pj_obj_remove(pj_get_mut(sn->md->signed_v, "meta"), "A.json"));
	t_ok(md_reload(sn->md, "snapshot"));
	t_ok(md_set_version(sn->md, 2));
	rs_resign(sn->md, sn->signers, sn->nsigners);
	rs_md_write(r, sn->md, "metadata/2.snapshot.json");
	t_ok(md_meta_put(ts->md, "snapshot.json", 2, false, 0, NULL));
	t_ok(md_set_version(ts->md, 2));
	rs_resign(ts->md, ts->signers, ts->nsigners);
	rs_md_write(r, ts->md, "metadata/timestamp.json");
	client_of(&c, r);
	expect_refusal(&c, NULL, TARGETS("x"), NULL, false,
		       ARGS("role A is delegated by targets but snapshot v2 does not list it"));
	e2e_client_free(&c);

	/* A client that trusted snapshot v1 (listing A.json) refuses v2
	 * outright: roles never disappear from snapshot (5.5.5). */
	{
		size_t len;
		char *ts2 = rs_read(r, "metadata/timestamp.json", &len);
		pawl_md *ts1 = rs_md_copy(ts->md);

		t_ok(md_meta_put(ts1, "snapshot.json", 1, false, 0, NULL));
		t_ok(md_set_version(ts1, 1));
		rs_resign(ts1, ts->signers, ts->nsigners);
		rs_md_write(r, ts1, "metadata/timestamp.json");
		md_free(ts1);
		client_of(&c, r);
		refresh_ok(&c);
		rs_write(r, "metadata/timestamp.json", ts2, len);
		free(ts2);
	}
	expect_refusal(&c, NULL, NULL, NULL, false,
		       ARGS("rollback", "snapshot v2 drops A.json, which trusted snapshot v1 lists"));
	assert_trusted(&c, "snapshot.json", r, "metadata/1.snapshot.json");
	e2e_client_free(&c);
	rs_free(r);
}

/* ---- names are data ---- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Percent-decode a request path; false when it holds a byte that may not
 * stand raw in a URL path (space, '?', '#', non-ASCII, controls) or a
 * '%' that does not start an escape. */
static bool decode_clean(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; in[i]; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (o + 1 >= outlen || ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#')
			return false;
		if (ch == '%') {
			int hi = hexval(in[i + 1]), lo = hi < 0 ? -1 : hexval(in[i + 2]);

			if (hi < 0 || lo < 0)
				return false;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return true;
}

/* Exactly one logged request decodes to path, and it is cleanly encoded. */
static void expect_requested(const e2e_reqs *q, const char *path)
{
	size_t n = 0;
	char dec[8192];

	for (size_t i = 0; i < q->n; i++) {
		if (!decode_clean(q->v[i].path, dec, sizeof(dec))) {
			if (strstr(q->v[i].path, "metadata") || strstr(q->v[i].path, "targets"))
				assert_true(strchr(q->v[i].path, '?') == NULL);
			continue;
		}
		if (strcmp(dec, path) == 0) {
			assert_int_equal(q->v[i].status, 200);
			n++;
		}
	}
	if (n != 1) {
		char *all = e2e_reqs_str(q);

		fail_msg("want one request for \"%s\", got %zu in:\n%s", path, n, all);
	}
}

/* dir holds exactly one entry that decodes to "<role>.json", a regular
 * file (however the client chose to quote the name). */
static void expect_one_file(const char *dir, const char *role)
{
	char want[1024], dec[1024];
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
			n++;
		}
	}
	closedir(d);
	if (n != 1)
		fail_msg("want one file for role \"%s\" in %s, found %zu", role, dir, n);
}

static void names_as_data(bool consistent)
{
	static const char ODD[] = "dir x/a b%c?d#e \xc3\xbc+&=.txt";
	static const char ROLE[] = "my role %?#\xc3\xbc";
	static const char LEAD[] = "/lead.txt";
	static const char DOTS[] = "../../escape.txt";
	static const char EVIL[] = "../../evil";
	static const char *const ROLE_PATHS[] = { "*", "*/*" };
	static const char *const EVIL_PATHS[] = { "evil/*" };
	rs_repo *r = rs_new(DOCROOT, consistent ? "names-c" : "names-p", consistent);
	char hex[65], want[4096];
	e2e_client c;
	e2e_run run;
	e2e_reqs q;
	size_t mark;
	char *all;

	deleg(r, "targets", ROLE, false, ROLE_PATHS, 2);
	deleg(r, "targets", EVIL, false, EVIL_PATHS, 1);
	rs_add_target(r, ROLE, ODD, "odd", 3);
	rs_add_target(r, "targets", LEAD, "lead", 4);
	rs_add_target(r, "targets", DOTS, "dots", 4);
	rs_add_target(r, EVIL, "evil/x", "ex", 2);
	rs_commit(r);

	client_of(&c, r);
	mark = e2e_log_mark(&S);
	e2e_download(&run, &c, NULL, TARGETS(ODD, LEAD, DOTS, "evil/x"), NULL);
	E2E_EXPECT(&run, 0, "downloaded evil/x");
	e2e_run_free(&run);
	e2e_log_since(&S, mark, &q);

	/* Names are percent-encoded where they must be ('%', '?', '#',
	 * space, non-ASCII; '/' too inside a role name) and nginx finds the
	 * file the name stands for. */
	snprintf(want, sizeof(want), "/%s/metadata/%s%s.json", r->name, consistent ? "1." : "",
		 ROLE);
	expect_requested(&q, want);
	snprintf(want, sizeof(want), "/%s/metadata/%s%s.json", r->name, consistent ? "1." : "",
		 EVIL);
	expect_requested(&q, want);
	assert_int_equal(e2e_reqs_count(&q, consistent ? "/1...%2F..%2Fevil.json"
							: "/..%2F..%2Fevil.json", true), 1);
	rs_sha256_hex("odd", 3, hex);
	snprintf(want, sizeof(want), "/%s/targets/dir x/%s%sa b%%c?d#e \xc3\xbc+&=.txt", r->name,
		 consistent ? hex : "", consistent ? "." : "");
	expect_requested(&q, want);
	rs_sha256_hex("lead", 4, hex);
	snprintf(want, sizeof(want), "/%s/targets/%s%slead.txt", r->name, consistent ? hex : "",
		 consistent ? "." : "");
	assert_int_equal(e2e_reqs_count(&q, want, false), 1);
	/* "../../" in a target path: libcurl removes the dot segments, so the
	 * request leaves the target base URL (only the signed hash makes the
	 * content safe). Recorded, not required. */
	for (size_t i = 0; i < q.n; i++)
		if (strstr(q.v[i].path, "escape.txt"))
			print_message("[ INFO     ] target \"%s\" was requested as %s\n", DOTS,
				      q.v[i].path);
	e2e_reqs_free(&q);

	/* Locally, every name is one file name inside its directory. */
	e2e_assert_file(e2e_target_file(&c, ODD), "odd", 3);
	e2e_assert_file(e2e_target_file(&c, LEAD), "lead", 4);
	e2e_assert_file(e2e_target_file(&c, DOTS), "dots", 4);
	assert_string_equal(e2e_target_file(&c, DOTS) + strlen(c.tdir), "/%2E.%2F..%2Fescape.txt");
	assert_string_equal(e2e_target_file(&c, LEAD) + strlen(c.tdir), "/%2Flead.txt");
	assert_int_equal(e2e_dir_count(c.tdir), 4);
	expect_one_file(c.mdir, ROLE);
	expect_one_file(c.mdir, EVIL);
	all = e2e_dir_digest(c.tmp);
	for (char *line = all; *line; line = strchr(line, '\n') + 1)
		if (strncmp(line, "/metadata/", 10) != 0 && strncmp(line, "/targets/", 9) != 0)
			fail_msg("file outside the client's directories: %s", line);
	free(all);
	e2e_client_free(&c);
	rs_free(r);
}

static void test_names_as_data_consistent(void **state)
{
	(void)state;
	names_as_data(true);
}

static void test_names_as_data_plain(void **state)
{
	(void)state;
	names_as_data(false);
}

/* A delegated role may not take a top-level role's name: its trusted
 * copy would be stored as root.json or timestamp.json and replace the
 * real one (python-tuf refuses such metadata too). */
static void test_delegated_role_named_like_top_level(void **state)
{
	static const char *const names[] = { "root", "timestamp", "snapshot", "targets" };
	rs_repo *r = repo_with_hello("deleg-toplevel", true);
	rs_role *tg = rs_role_get(r, "targets");
	e2e_client c;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	for (size_t i = 0; i < 4; i++) {
		pawl_md *md = rs_md_copy(tg->md);
		pawl_key *k = rs_pub(r->pool[3]);
		pj_value *roles, *role;
		char msg[128];

		t_ok(md_deleg_add_role(md, "placeholder", &k, 1, 1, false, ANY, 1, NULL, 0));
		key_free(k);
		roles = pj_get_mut(pj_get_mut(md->signed_v, "delegations"), "roles");
		role = &roles->u.items[0];
		t_ok(pj_obj_put_str(md->doc, role, "name", names[i]));
		t_ok(pj_obj_put_int(md->doc, md->signed_v, "version", 2));
		rs_resign_unchecked(md, &r->pool[3], 1);
		rs_md_write(r, md, "metadata/2.targets.json");
		md_free(md);
		rs_set_version(r, "targets", 2);
		/* commit would re-sign targets: publish snapshot/timestamp only */
		tg->dirty = false;
		tg->published = true;
		{
			rs_role *sn = rs_role_get(r, "snapshot");

			t_ok(md_meta_put(sn->md, "targets.json", 2, false, 0, NULL));
		}
		rs_commit(r);
		snprintf(msg, sizeof(msg), "delegated role may not be named \"%s\"", names[i]);
		expect_refusal(&c, NULL, TARGETS("hello.txt"), NULL, false,
			       ARGS("malformed input", msg));
		assert_trusted(&c, "root.json", r, "metadata/1.root.json");
		assert_trusted(&c, "targets.json", r, "metadata/1.targets.json");
		assert_true(e2e_exists(e2e_path(c.mdir, "timestamp.json")));
		t_ok(md_set_version(tg->md, 1));
	}
	e2e_client_free(&c);
	rs_free(r);
}

static void test_expired_delegated_role(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "deleg-expired", true);
	e2e_client c;

	(void)state;
	deleg(r, "targets", "A", false, ANY, 1);
	rs_add_target(r, "A", "x", "x", 1);
	rs_set_expires(r, "A", rs_now() - 60);
	rs_commit(r);
	client_of(&c, r);
	expect_refusal(&c, NULL, TARGETS("x"), NULL, false, ARGS("expired", "A v1 expired at"));
	assert_false(e2e_exists(e2e_path(c.mdir, "A.json")));
	e2e_client_free(&c);
	rs_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preorder_depth_first),
		cmocka_unit_test(test_terminating),
		cmocka_unit_test(test_terminating_deep),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_diamond),
		cmocka_unit_test(test_diamond_different_keys),
		cmocka_unit_test(test_path_patterns),
		cmocka_unit_test(test_path_hash_prefixes),
		cmocka_unit_test(test_succinct_hash_bins),
		cmocka_unit_test(test_max_delegations),
		cmocka_unit_test(test_extraneous_dependencies),
		cmocka_unit_test(test_wrong_software_from_other_role),
		cmocka_unit_test(test_delegated_below_threshold),
		cmocka_unit_test(test_delegated_role_missing_from_snapshot),
		cmocka_unit_test(test_delegated_role_named_like_top_level),
		cmocka_unit_test(test_expired_delegated_role),
		cmocka_unit_test(test_names_as_data_consistent),
		cmocka_unit_test(test_names_as_data_plain),
	};

	return cmocka_run_group_tests(tests, sc_group_setup, sc_group_teardown);
}

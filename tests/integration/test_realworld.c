/*
 * test_realworld.c - repositories published by other TUF implementations
 * (tests/vectors: Sigstore's root-signing repository and one made
 * by tuf-on-ci 0.11) served by nginx and fetched with `pawl download`,
 * evaluated at each vector's recorded instant: the production binary has
 * no way to move its clock, so the harness moves the clock of the whole
 * process from outside, with the test-only preload library fakeclock.c.
 *
 * Also: the same repositories refused once expired (today), once a
 * signed byte changes, and once a target's content changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

#define SIGSTORE "sigstore-root-signing"
#define TOC "tuf-on-ci-0.11"

/* The vector's instant as an e2e clock specification ("@YYYY-MM-DD hh:mm:ss"). */
static const char *vector_time(const char *name)
{
	static char out[2][64];
	static int next;
	char *b = out[next++ % 2];
	char rel[256];
	char *s;

	snprintf(rel, sizeof(rel), "%s/faketime", name);
	s = t_read_file(t_vector(rel), NULL);
	/* "2025-02-09 12:02:08+00:00" */
	assert_true(strlen(s) >= 19);
	snprintf(b, sizeof(out[0]), "@%.19s", s);
	free(s);
	return b;
}

static char *vector_targetpath(const char *name)
{
	char rel[256];
	char *s;

	snprintf(rel, sizeof(rel), "%s/targetpath", name);
	s = t_read_file(t_vector(rel), NULL);
	s[strcspn(s, "\r\n")] = '\0';
	return s;
}

/* Serve a vector as DOCROOT/name (a symlink: nginx follows it). */
static void serve_vector(const char *name)
{
	char link[4096];

	snprintf(link, sizeof(link), "%s/%s", DOCROOT, name);
	if (!e2e_exists(link) && symlink(t_vector(name), link) != 0)
		fail_msg("symlink %s", link);
}

/* A writable copy of a vector as DOCROOT/copy. */
static void copy_vector(const char *name, const char *copy)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s' && cp -r '%s' '%s/%s' && chmod -R u+w '%s/%s'",
		 DOCROOT, copy, t_vector(name), DOCROOT, copy, DOCROOT, copy);
	if (system(cmd) != 0)
		fail_msg("%s", cmd);
}

static void client_of_vector(e2e_client *c, const char *served_as, const char *name,
			     const char *root_rel)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/%s", name, root_rel);
	e2e_client_init(c, &S, served_as, t_vector(rel));
}

/* The target as published: targets/DIR/HASH.NAME with the one file there. */
static char *published_target(const char *name, size_t *len)
{
	char cmd[4096], path[4096];
	FILE *p;
	char *tp = vector_targetpath(name), *slash = strrchr(tp, '/');

	snprintf(cmd, sizeof(cmd), "ls '%s/targets/%.*s'*.%s", t_vector(name),
		 slash ? (int)(slash - tp) + 1 : 0, tp, slash ? slash + 1 : tp);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(path, sizeof(path), p))
		fail_msg("no published file for %s", tp);
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	free(tp);
	return t_read_file(path, len);
}

static void test_sigstore_download(void **state)
{
	char *tp = vector_targetpath(SIGSTORE);
	size_t len, mark;
	char *want_content = published_target(SIGSTORE, &len);
	char want[4096];
	e2e_client c;
	e2e_run run;

	(void)state;
	serve_vector(SIGSTORE);
	client_of_vector(&c, SIGSTORE, SIGSTORE, "initial_root.json");
	mark = e2e_log_mark(&S);
	e2e_download(&run, &c, vector_time(SIGSTORE), TARGETS(tp), NULL);
	E2E_EXPECT(&run, 0, "downloaded trusted_root.json");
	e2e_run_free(&run);
	e2e_assert_file(e2e_target_file(&c, tp), want_content, len);
	snprintf(want, sizeof(want),
		 "404 /" SIGSTORE "/metadata/13.root.json\n"
		 "200 /" SIGSTORE "/metadata/timestamp.json\n"
		 "200 /" SIGSTORE "/metadata/159.snapshot.json\n"
		 "200 /" SIGSTORE "/metadata/11.targets.json\n"
		 "200 /" SIGSTORE "/targets/f44a1b88128e55ebfb62189becbc0fa48d4ec9915c65ac54ba0e46a0"
		 "08b12d5b.trusted_root.json\n");
	assert_requests(mark, want);
	{
		size_t a, b;
		char *x = mdir_file(&c, "timestamp.json", &a);
		char *y = t_read_file(t_vector(SIGSTORE "/metadata/timestamp.json"), &b);

		assert_true(a == b && memcmp(x, y, a) == 0);
		free(x);
		free(y);
	}

	/* Warm: nothing but root N+1 and timestamp. */
	mark = e2e_log_mark(&S);
	e2e_download(&run, &c, vector_time(SIGSTORE), TARGETS(tp), NULL);
	E2E_EXPECT(&run, 0, "have trusted_root.json");
	e2e_run_free(&run);
	snprintf(want, sizeof(want),
		 "404 /" SIGSTORE "/metadata/13.root.json\n"
		 "200 /" SIGSTORE "/metadata/timestamp.json\n");
	assert_requests(mark, want);

	/* The delegation to registry.npmjs.org is followed (its target file
	 * is not part of the vector, so the download itself is a 404). */
	mark = e2e_log_mark(&S);
	expect_refusal(&c, vector_time(SIGSTORE), TARGETS("registry.npmjs.org/keys.json"), NULL,
		       false, ARGS("not found", "404", "registry.npmjs.org/"));
	{
		e2e_reqs q;

		e2e_log_since(&S, mark, &q);
		assert_int_equal(e2e_reqs_count(&q, "/" SIGSTORE "/metadata/5.registry.npmjs.org.json",
						 false), 1);
		e2e_reqs_free(&q);
	}
	assert_true(e2e_exists(e2e_path(c.mdir, "registry.npmjs.org.json")));

	/* A week later the same repository is a frozen one. */
	expect_refusal(&c, "@2025-02-16 00:00:00", TARGETS(tp), NULL, true,
		       ARGS("expired", "timestamp v272 expired at 2025-02-15T19:20:37Z"));
	/* And today everything has long expired. */
	expect_refusal(&c, NULL, TARGETS(tp), NULL, true, ARGS("expired"));
	free(want_content);
	free(tp);
	e2e_client_free(&c);
}

/* Trust v5 and walk the real rotation chain up to v12 (3-of-5 ECDSA,
 * empty signatures from absent keyholders, intermediate roots long
 * expired at the vector's instant: only the last must be current). */
static void test_sigstore_root_chain(void **state)
{
	char want[8192];
	size_t mark, o = 0;
	e2e_client c;
	e2e_run run;

	(void)state;
	serve_vector(SIGSTORE);
	client_of_vector(&c, SIGSTORE, SIGSTORE, "metadata/5.root.json");
	mark = e2e_log_mark(&S);
	e2e_refresh(&run, &c, vector_time(SIGSTORE), NULL);
	E2E_EXPECT(&run, 0, "root rotated v5 -> v6", "root rotated v11 -> v12",
		   "root v12, timestamp v272, snapshot v159, targets v11");
	e2e_run_free(&run);
	for (int v = 6; v <= 12; v++)
		o += (size_t)snprintf(want + o, sizeof(want) - o,
				      "200 /" SIGSTORE "/metadata/%d.root.json\n", v);
	snprintf(want + o, sizeof(want) - o,
		 "404 /" SIGSTORE "/metadata/13.root.json\n"
		 "200 /" SIGSTORE "/metadata/timestamp.json\n"
		 "200 /" SIGSTORE "/metadata/159.snapshot.json\n"
		 "200 /" SIGSTORE "/metadata/11.targets.json\n");
	assert_requests(mark, want);
	{
		size_t a, b;
		char *x = mdir_file(&c, "root.json", &a);
		char *y = t_read_file(t_vector(SIGSTORE "/metadata/12.root.json"), &b);

		assert_true(a == b && memcmp(x, y, a) == 0);
		free(x);
		free(y);
	}
	e2e_client_free(&c);
}

/* Sigstore's roots v1 to v4 predate the current rules (fractional
 * seconds in "expires", keys in forms TUF 1.0 does not define): the
 * reference implementation refuses them and so does `pawl init`. */
static void test_sigstore_old_roots_refused(void **state)
{
	static const struct {
		int v;
		const char *why;
	} cases[] = {
		{ 1, "is not of the form YYYY-MM-DDTHH:MM:SSZ" },
		{ 3, "is not of the form YYYY-MM-DDTHH:MM:SSZ" },
		{ 4, "is not signed by its own keys" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tmp = t_mkdtemp();
		char mdir[600], rel[256];
		e2e_run run;
		const char *argv[] = { "--metadata-dir", mdir, "init", rel, NULL };

		snprintf(mdir, sizeof(mdir), "%s/md", tmp);
		snprintf(rel, sizeof(rel), "%s", t_vector(SIGSTORE "/metadata/"));
		snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel), "%d.root.json", cases[i].v);
		e2e_pawl(&run, NULL, argv);
		E2E_EXPECT(&run, 1, "init failed", cases[i].why);
		e2e_run_free(&run);
		assert_false(e2e_exists(e2e_path(mdir, "root.json")));
		t_rm_rf(tmp);
		free(tmp);
	}
}

static void test_tuf_on_ci_download(void **state)
{
	char *tp = vector_targetpath(TOC);
	size_t len, mark;
	char *want_content = published_target(TOC, &len);
	e2e_client c;
	e2e_run run;

	(void)state;
	serve_vector(TOC);
	client_of_vector(&c, TOC, TOC, "initial_root.json");
	mark = e2e_log_mark(&S);
	e2e_download(&run, &c, vector_time(TOC), TARGETS(tp), NULL);
	E2E_EXPECT(&run, 0, "downloaded delegatedrole/artifact");
	e2e_run_free(&run);
	e2e_assert_file(e2e_target_file(&c, tp), want_content, len);
	assert_requests(mark, "404 /" TOC "/metadata/2.root.json\n"
			      "200 /" TOC "/metadata/timestamp.json\n"
			      "200 /" TOC "/metadata/2.snapshot.json\n"
			      "200 /" TOC "/metadata/1.targets.json\n"
			      "200 /" TOC "/metadata/2.delegatedrole.json\n"
			      "200 /" TOC "/targets/delegatedrole/45f337ee451b4c098d121d09cc224bacc77"
			      "94503ac58a47a78cfe7ebefb7fab3.artifact\n");
	assert_true(e2e_exists(e2e_path(c.mdir, "delegatedrole.json")));
	/* Terminating delegation: a path outside it is not searched. */
	mark = e2e_log_mark(&S);
	expect_refusal(&c, vector_time(TOC), TARGETS("elsewhere/artifact"), NULL, true,
		       ARGS("not listed by any trusted role"));
	free(want_content);
	free(tp);
	e2e_client_free(&c);
}

static void test_tuf_on_ci_tampered(void **state)
{
	char *tp = vector_targetpath(TOC);
	size_t len;
	char *ts, *p;
	e2e_client c;
	char path[4096];

	(void)state;
	/* One signed byte of timestamp.json changes: "version": 2 -> 3. */
	copy_vector(TOC, "toc-ts");
	snprintf(path, sizeof(path), "%s/toc-ts/metadata/timestamp.json", DOCROOT);
	ts = t_read_file(path, &len);
	p = strstr(ts, "\"version\":");
	assert_non_null(p);
	p = strstr(p + 10, "\"version\":") ? strstr(p + 10, "\"version\":") : p;
	while (*p && (*p < '0' || *p > '9'))
		p++;
	*p = *p == '9' ? '8' : (char)(*p + 1);
	t_write_file(path, ts, len);
	free(ts);
	client_of_vector(&c, "toc-ts", TOC, "initial_root.json");
	expect_refusal(&c, vector_time(TOC), TARGETS(tp), NULL, true,
		       ARGS("signature verification failed", "timestamp"));
	e2e_client_free(&c);

	/* The artifact's content changes: length and signature of the
	 * metadata still hold, the hash does not. */
	copy_vector(TOC, "toc-target");
	snprintf(path, sizeof(path),
		 "%s/toc-target/targets/delegatedrole/"
		 "45f337ee451b4c098d121d09cc224bacc7794503ac58a47a78cfe7ebefb7fab3.artifact",
		 DOCROOT);
	ts = t_read_file(path, &len);
	assert_true(len > 0);
	ts[0] ^= 0x20;
	t_write_file(path, ts, len);
	free(ts);
	client_of_vector(&c, "toc-target", TOC, "initial_root.json");
	expect_refusal(&c, vector_time(TOC), TARGETS(tp), NULL, false,
		       ARGS("hash mismatch", "delegatedrole/artifact"));
	e2e_client_free(&c);
	free(tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigstore_download),
		cmocka_unit_test(test_sigstore_root_chain),
		cmocka_unit_test(test_sigstore_old_roots_refused),
		cmocka_unit_test(test_tuf_on_ci_download),
		cmocka_unit_test(test_tuf_on_ci_tampered),
	};

	return cmocka_run_group_tests(tests, sc_group_setup, sc_group_teardown);
}

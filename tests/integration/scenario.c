/*
 * scenario.c - see scenario.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

e2e_server S;
char *DOCROOT;

int sc_group_setup(void **state)
{
	(void)state;
	DOCROOT = t_mkdtemp();
	return e2e_nginx_start(&S, DOCROOT);
}

int sc_group_teardown(void **state)
{
	(void)state;
	e2e_nginx_stop(&S);
	t_rm_rf(DOCROOT);
	free(DOCROOT);
	return 0;
}

/* ---- helpers ---- */

const char HELLO[] = "hello, pawl\n";
_Static_assert(sizeof(HELLO) - 1 == HELLO_LEN, "HELLO_LEN");

rs_repo *repo_with_hello(const char *name, bool consistent)
{
	rs_repo *r = rs_new(DOCROOT, name, consistent);

	rs_add_target(r, "targets", "hello.txt", HELLO, HELLO_LEN);
	rs_commit(r);
	return r;
}

void client_of(e2e_client *c, const rs_repo *r)
{
	e2e_client_init(c, &S, r->name, rs_initial_root(r));
}

void client_of_root(e2e_client *c, const rs_repo *r, uint64_t v)
{
	e2e_client_init(c, &S, r->name, e2e_path(r->dir, rs_meta_relpath(r, "root", v)));
}

/* "/NAME/rel" as nginx logs it. */
const char *P(const rs_repo *r, const char *rel)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "/%s/%s", r->name, rel);
	return b;
}

/* Assert the requests nginx logged since mark, as "STATUS PATH" lines. */
void assert_requests(size_t mark, const char *want)
{
	e2e_reqs q;
	char *got;

	e2e_log_since(&S, mark, &q);
	got = e2e_reqs_str(&q);
	assert_string_equal(got, want);
	free(got);
	e2e_reqs_free(&q);
}

/* A successful refresh (asserted). */
void refresh_ok(const e2e_client *c)
{
	e2e_run r;

	e2e_refresh(&r, c, NULL, NULL);
	E2E_EXPECT(&r, 0, "metadata is current");
	e2e_run_free(&r);
}

void expect_refusal(const e2e_client *c, const char *clockspec, const char *const *targets,
			   const char *const *extra, bool unchanged, const char *const *msgs)
{
	char *before = e2e_dir_digest(c->mdir);
	char *tbefore = e2e_dir_digest(c->tdir);
	size_t tcount = e2e_dir_count(c->tdir);
	char *after, *tafter;
	e2e_run r;
	bool ok = true;

	if (targets)
		e2e_download(&r, c, clockspec, targets, extra);
	else
		e2e_refresh(&r, c, clockspec, extra);
	for (size_t i = 0; msgs[i]; i++)
		if (!strstr(r.err, msgs[i])) {
			print_error("stderr lacks \"%s\"\n", msgs[i]);
			ok = false;
		}
	if (r.status != 1 || !ok) {
		print_error("exit %d (want 1); stderr:\n%s\n", r.status, r.err);
		fail();
	}
	after = e2e_dir_digest(c->mdir);
	if (unchanged)
		assert_string_equal(before, after);
	/* No target written, not even a partial (hidden) file. */
	tafter = e2e_dir_digest(c->tdir);
	assert_string_equal(tbefore, tafter);
	assert_int_equal(e2e_dir_count(c->tdir), tcount);
	free(before);
	free(after);
	free(tbefore);
	free(tafter);
	e2e_run_free(&r);
}

char *mdir_file(const e2e_client *c, const char *name, size_t *len)
{
	return t_read_file(e2e_path(c->mdir, name), len);
}

/* The metadata dir holds exactly the bytes the repository published. */
void assert_trusted(const e2e_client *c, const char *name, const rs_repo *r,
			   const char *relpath)
{
	size_t a, b;
	char *x = mdir_file(c, name, &a), *y = rs_read(r, relpath, &b);

	if (a != b || memcmp(x, y, a) != 0)
		fail_msg("%s in the metadata dir is not %s", name, relpath);
	free(x);
	free(y);
}


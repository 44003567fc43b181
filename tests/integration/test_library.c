/*
 * test_library.c - the client library (include/pawl/updater.h) in
 * process against nginx, for what the CLI does not expose:
 *  - slow retrieval: the pawl CLI keeps libpawl's defaults (abort below
 *    1024 bytes/s for 30 s), so the test sets low_speed_* itself and uses
 *    nginx.sh's /slow/ location (256 bytes/s);
 *  - the transfer deadline against nginx.sh's /drip/ (1,200 bytes/s, just
 *    above the default low-speed limit), with a small deadline through
 *    min_rate_bytes and deadline_base_s, for targets and metadata, and the
 *    next mirror tried after it;
 *  - a version 1 options struct (shorter) still accepted;
 *  - a resumed download whose earlier bytes came from a bad mirror must
 *    still be verified as a whole;
 *  - the bounds max_root_rotations and max_delegations;
 *  - the event stream naming each rejected URL;
 *  - several pawl processes sharing one metadata directory at once.
 */
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pawl/updater.h"
#include "scenario.h"

extern char **environ;

/* ---- events ---- */

static struct {
	char lines[256][512];
	size_t n;
} EV;

static void on_event(const pawl_event *ev, void *ctx)
{
	(void)ctx;
	if (EV.n == 256)
		return;
	switch (ev->kind) {
	case PAWL_EVENT_FETCH:
		snprintf(EV.lines[EV.n++], 512, "fetch %s", ev->url);
		break;
	case PAWL_EVENT_REJECTED:
		snprintf(EV.lines[EV.n++], 512, "rejected %d %s %s", ev->code,
			 ev->url ? ev->url : "-", ev->message ? ev->message : "");
		break;
	default:
		break;
	}
}

static size_t events_matching(const char *prefix, const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < EV.n; i++)
		if (strncmp(EV.lines[i], prefix, strlen(prefix)) == 0 &&
		    strstr(EV.lines[i], needle))
			n++;
	return n;
}

/* ---- a client in process ---- */

struct lib_client {
	char *tmp;
	char mdir[600], tdir[600];
	char murls[2][1024], turls[2][1024];
	const char *mp[2], *tp[2];
	pawl_updater_opts o;
};

static void lib_init(struct lib_client *c, const rs_repo *r)
{
	size_t len;
	char *root = rs_read(r, "metadata/1.root.json", &len);

	memset(c, 0, sizeof(*c));
	c->tmp = t_mkdtemp();
	snprintf(c->mdir, sizeof(c->mdir), "%s/metadata", c->tmp);
	snprintf(c->tdir, sizeof(c->tdir), "%s/targets", c->tmp);
	t_ok(pawl_metadata_dir_init(c->mdir, root, len));
	free(root);
	c->o = (pawl_updater_opts)PAWL_UPDATER_OPTS_INIT;
	c->o.metadata_dir = c->mdir;
	c->o.metadata_urls = c->mp;
	c->o.target_urls = c->tp;
	c->o.on_event = on_event;
	EV.n = 0;
}

static void lib_murls(struct lib_client *c, const char *a, const char *b)
{
	snprintf(c->murls[0], sizeof(c->murls[0]), "%s", e2e_url(&S, a));
	c->mp[0] = c->murls[0];
	c->o.n_metadata_urls = 1;
	if (b) {
		snprintf(c->murls[1], sizeof(c->murls[1]), "%s", e2e_url(&S, b));
		c->mp[1] = c->murls[1];
		c->o.n_metadata_urls = 2;
	}
}

static void lib_turls(struct lib_client *c, const char *a, const char *b)
{
	snprintf(c->turls[0], sizeof(c->turls[0]), "%s", e2e_url(&S, a));
	c->tp[0] = c->turls[0];
	c->o.n_target_urls = 1;
	if (b) {
		snprintf(c->turls[1], sizeof(c->turls[1]), "%s", e2e_url(&S, b));
		c->tp[1] = c->turls[1];
		c->o.n_target_urls = 2;
	}
}

static void lib_free(struct lib_client *c)
{
	t_rm_rf(c->tmp);
	free(c->tmp);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void expect_msg(const char *needle)
{
	if (!strstr(pawl_error_last()->message, needle))
		fail_msg("error \"%s\" lacks \"%s\"", pawl_error_last()->message, needle);
}

/* ---- slow retrieval ---- */

#define BIG_LEN (64 * 1024)

static void test_slow_target(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "slowtarget", true);
	unsigned char *good = malloc(BIG_LEN), *evil = malloc(BIG_LEN);
	const char *rel;
	char evilrel[4096], slowpath[4096];
	struct lib_client c;
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	struct timespec t0;
	char *out = NULL;
	int rc;

	(void)state;
	assert_non_null(good);
	assert_non_null(evil);
	for (size_t i = 0; i < BIG_LEN; i++) {
		good[i] = (unsigned char)(i * 7);
		evil[i] = (unsigned char)(i * 7 + 1);
	}
	rs_add_target(r, "targets", "big.bin", good, BIG_LEN);
	rs_commit(r);
	/* A mirror that dribbles bytes of a wrong file of the right length. */
	rel = rs_target_relpath(r, "big.bin", good, BIG_LEN);
	snprintf(evilrel, sizeof(evilrel), "slow-evil/%s", rel);
	e2e_mkdir_p(e2e_path(DOCROOT, "slow-evil/targets"));
	t_write_file(e2e_path(DOCROOT, evilrel), evil, BIG_LEN);

	lib_init(&c, r);
	lib_murls(&c, "slowtarget/metadata/", NULL);
	lib_turls(&c, "slow/slow-evil/targets/", NULL);
	c.o.low_speed_bytes = 2000; /* nginx's /slow/ sends 256 bytes/s */
	/* Two seconds, so that body bytes arrive before each abort (nginx
	 * counts the headers against the rate too) and the partial file is
	 * kept for a resume. */
	c.o.low_speed_time_s = 2;
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "big.bin"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pawl_updater_download(u, t, c.tdir, &out);
	t_fails(rc, PAWL_E_NETWORK);
	snprintf(slowpath, sizeof(slowpath), "/slow/slow-evil/%s", rel);
	expect_msg(slowpath);
	/* Given up within a few low-speed periods, not after 256 s. */
	assert_true(seconds_since(&t0) < 15.0);
	assert_null(out);
	assert_false(e2e_exists(e2e_path(c.tdir, "big.bin")));
	assert_int_equal(events_matching("rejected -12", slowpath), 1);
	/* It kept delivering bytes, so it was resumed at least once. */
	assert_true(events_matching("fetch", slowpath) >= 2);
	pawl_updater_free(u);
	u = NULL;

	/* The next attempt, from a good and fast mirror, resumes from the
	 * bytes the slow mirror delivered: the whole file fails its hash,
	 * the partial is dropped and the download starts over. */
	lib_turls(&c, e2e_path(r->name, "targets/"), NULL);
	c.o.low_speed_bytes = 0;
	c.o.low_speed_time_s = 0;
	EV.n = 0;
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_download(u, t, c.tdir, &out));
	assert_non_null(out);
	e2e_assert_file(out, good, BIG_LEN);
	/* One resumed attempt that failed as a whole, one from scratch. */
	assert_int_equal(events_matching("fetch", rel), 2);
	free(out);
	pawl_target_free(t);
	pawl_updater_free(u);
	lib_free(&c);
	free(good);
	free(evil);
	rs_free(r);
}

static void test_slow_metadata_mirror(void **state)
{
	rs_repo *r = repo_with_hello("slow-md", true);
	rs_role *ts = rs_role_get(r, "timestamp");
	struct lib_client c;
	pawl_updater *u = NULL;
	struct timespec t0;
	char *big = malloc(8192 + 1);
	int rc;

	(void)state;
	/* An 8 KiB timestamp (validly signed) takes 32 s at 256 bytes/s. */
	assert_non_null(big);
	memset(big, 'p', 8192);
	big[8192] = '\0';
	t_ok(pj_obj_put_str(ts->md->doc, ts->md->signed_v, "x-padding", big));
	t_ok(md_reload(ts->md, "timestamp"));
	free(big);
	rs_commit(r);

	lib_init(&c, r);
	c.o.low_speed_bytes = 2000;
	c.o.low_speed_time_s = 1;

	/* Only the slow mirror: the refresh fails in bounded time, naming it. */
	lib_murls(&c, "slow/slow-md/metadata/", NULL);
	t_ok(pawl_updater_new(&u, &c.o));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_fails(pawl_updater_refresh(u), PAWL_E_NETWORK);
	assert_true(seconds_since(&t0) < 10.0);
	expect_msg("/slow/slow-md/metadata/");
	expect_msg("too slow");
	assert_int_equal(pawl_updater_role_version(u, "timestamp"), 0);
	pawl_updater_free(u);
	assert_false(e2e_exists(e2e_path(c.mdir, "timestamp.json")));

	/* A slow mirror first, a good one second: the update must succeed
	 * from the second (TUF 1.5.2: mirrors must not be able to prevent
	 * updates from good mirrors). */
	lib_murls(&c, "slow/slow-md/metadata/", "slow-md/metadata/");
	t_ok(pawl_updater_new(&u, &c.o));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pawl_updater_refresh(u);
	if (rc == PAWL_E_NETWORK && strstr(pawl_error_last()->message, "2.root.json")) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", pawl_error_last()->message);
		pawl_updater_free(u);
		lib_free(&c);
		rs_free(r);
		KNOWN_BUG("a failed mirror's 2.root.json plus another mirror's 404 aborts the "
			  "refresh (fetch_metadata() reports NOT_FOUND only when every mirror "
			  "said 404): %s", msg);
	}
	t_ok(rc);
	assert_true(seconds_since(&t0) < 10.0);
	assert_int_equal(pawl_updater_role_version(u, "timestamp"), 2);
	/* Each file the slow mirror failed to deliver is reported (every
	 * metadata file is tried there first, so more than one). */
	assert_true(events_matching("rejected -12", "/slow/slow-md/metadata/") >= 1);
	assert_int_equal(events_matching("rejected", "/slow-md/metadata/timestamp.json") -
			 events_matching("rejected", "/slow/slow-md/metadata/timestamp.json"), 0);
	pawl_updater_free(u);
	lib_free(&c);
	rs_free(r);
}

/* ---- the transfer deadline ---- */

/* A mirror that drips a target at 1,200 bytes/s: above the default
 * low-speed limit (1,024 bytes/s), so without a deadline the 64 KiB would
 * take 55 s, and a large target days. With 1 s + LENGTH at 64 KiB/s each
 * attempt gets 2 s (what is left, when it resumes), and after the resume
 * attempts the next mirror is tried. */
static void test_drip_target(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "drip-target", true);
	unsigned char *good = malloc(BIG_LEN);
	char drippath[4096];
	const char *rel;
	struct lib_client c;
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	struct timespec t0;
	char *out = NULL;

	(void)state;
	assert_non_null(good);
	for (size_t i = 0; i < BIG_LEN; i++)
		good[i] = (unsigned char)(i * 5);
	rs_add_target(r, "targets", "big.bin", good, BIG_LEN);
	rs_commit(r);
	rel = rs_target_relpath(r, "big.bin", good, BIG_LEN);
	snprintf(drippath, sizeof(drippath), "/drip/drip-target/%s", rel);

	lib_init(&c, r);
	lib_murls(&c, "drip-target/metadata/", NULL);
	lib_turls(&c, "drip/drip-target/targets/", NULL);
	assert_int_equal(c.o.low_speed_bytes, 0); /* libpawl's default, 1024 */
	c.o.min_rate_bytes = 65536;
	c.o.deadline_base_s = 1;
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "big.bin"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_fails(pawl_updater_download(u, t, c.tdir, &out), PAWL_E_NETWORK);
	expect_msg(drippath);
	expect_msg("too slow: not complete within its deadline of");
	/* Three attempts of at most 2 s each, not 55 s. */
	assert_true(seconds_since(&t0) < 15.0);
	assert_null(out);
	assert_false(e2e_exists(e2e_path(c.tdir, "big.bin")));
	assert_int_equal(events_matching("rejected -12", drippath), 1);
	assert_int_equal(events_matching("rejected -12", "deadline of"), 1);
	pawl_updater_free(u);
	u = NULL;

	/* The drip first, a good mirror second: the download completes from
	 * the second, as after any other network failure. */
	lib_turls(&c, "drip/drip-target/targets/", "drip-target/targets/");
	EV.n = 0;
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_ok(pawl_updater_download(u, t, c.tdir, &out));
	assert_true(seconds_since(&t0) < 15.0);
	assert_non_null(out);
	e2e_assert_file(out, good, BIG_LEN);
	assert_int_equal(events_matching("rejected -12", drippath), 1);
	assert_true(events_matching("fetch", "/drip-target/targets/") >= 1);
	free(out);
	pawl_target_free(t);
	pawl_updater_free(u);
	lib_free(&c);
	free(good);
	rs_free(r);
}

/* Metadata of unknown length gets its role's limit as LENGTH: the 16 KiB
 * timestamp limit at 64 KiB/s plus 1 s is 1.25 s, and an 8 KiB timestamp
 * dripped at 1,200 bytes/s needs about 7. */
static void test_drip_metadata(void **state)
{
	rs_repo *r = repo_with_hello("drip-md", true);
	rs_role *ts = rs_role_get(r, "timestamp");
	struct lib_client c;
	pawl_updater *u = NULL;
	struct timespec t0;
	char *big = malloc(8192 + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'p', 8192);
	big[8192] = '\0';
	t_ok(pj_obj_put_str(ts->md->doc, ts->md->signed_v, "x-padding", big));
	t_ok(md_reload(ts->md, "timestamp"));
	free(big);
	rs_commit(r);

	lib_init(&c, r);
	c.o.min_rate_bytes = 65536;
	c.o.deadline_base_s = 1;
	lib_murls(&c, "drip/drip-md/metadata/", NULL);
	t_ok(pawl_updater_new(&u, &c.o));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_fails(pawl_updater_refresh(u), PAWL_E_NETWORK);
	assert_true(seconds_since(&t0) < 10.0);
	expect_msg("/drip/drip-md/metadata/timestamp.json");
	expect_msg("deadline of 1.2 s (1 s + 16384 bytes at 65536 bytes/s)");
	assert_int_equal(pawl_updater_role_version(u, "timestamp"), 0);
	pawl_updater_free(u);
	assert_false(e2e_exists(e2e_path(c.mdir, "timestamp.json")));

	/* The next mirror is tried (TUF 1.5.2). */
	lib_murls(&c, "drip/drip-md/metadata/", "drip-md/metadata/");
	EV.n = 0;
	t_ok(pawl_updater_new(&u, &c.o));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_ok(pawl_updater_refresh(u));
	assert_true(seconds_since(&t0) < 10.0);
	assert_true(pawl_updater_role_version(u, "timestamp") > 0);
	assert_int_equal(events_matching("rejected -12", "/drip/drip-md/metadata/timestamp.json"),
			 1);
	pawl_updater_free(u);
	lib_free(&c);
	rs_free(r);
}

/* ---- options from a program built against older headers ---- */

/* Version 1 of pawl_updater_opts ends at mirror_dir. Placed right before
 * an inaccessible page, a library that read a version 2 struct from it
 * would crash. */
static void test_opts_version1(void **state)
{
	rs_repo *r = repo_with_hello("opts-v1", true);
	const size_t v1 = offsetof(pawl_updater_opts, mirror_dir) + sizeof(const char *);
	long pg = sysconf(_SC_PAGESIZE);
	struct lib_client c;
	pawl_updater *u = NULL;
	unsigned char *map;
	pawl_updater_opts *o1;

	(void)state;
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	assert_true(v1 < sizeof(pawl_updater_opts) && v1 % sizeof(void *) == 0);
	lib_init(&c, r);
	lib_murls(&c, "opts-v1/metadata/", NULL);
	c.o.version = 1;
	o1 = (pawl_updater_opts *)(void *)(map + pg - v1);
	memcpy(o1, &c.o, v1);
	t_ok(pawl_updater_new(&u, o1));
	t_ok(pawl_updater_refresh(u));
	pawl_updater_free(u);
	u = NULL;
	/* A version this library does not know is refused, not half read. */
	c.o.version = PAWL_UPDATER_OPTS_VERSION + 1;
	t_fails(pawl_updater_new(&u, &c.o), PAWL_E_INVALID);
	assert_null(u);
	munmap(map, (size_t)pg * 2);
	lib_free(&c);
	rs_free(r);
}

/* ---- resumed downloads ---- */

/* What an interrupted earlier run leaves behind: the first n bytes of
 * data as METADATA_DIR/staging/SHA256-LENGTH.part (target.c's naming). */
static void plant_partial(const struct lib_client *c, const char *sha256, size_t total,
			  const void *data, size_t n)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "staging/%s-%zu.part", sha256, total);
	e2e_mkdir_p(e2e_path(c->mdir, "staging"));
	t_write_file(e2e_path(c->mdir, rel), data, n);
}

static void test_resume_partial(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "resume", true);
	unsigned char *good = malloc(BIG_LEN), *evil = malloc(BIG_LEN);
	char hex[65], turl[256];
	const char *rel;
	struct lib_client c;
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	char *out = NULL;
	e2e_reqs q;
	size_t mark;
	int rc;

	(void)state;
	assert_non_null(good);
	assert_non_null(evil);
	for (size_t i = 0; i < BIG_LEN; i++) {
		good[i] = (unsigned char)(i * 13);
		evil[i] = (unsigned char)~good[i];
	}
	rs_sha256_hex(good, BIG_LEN, hex);
	rs_add_target(r, "targets", "big.bin", good, BIG_LEN);
	rs_commit(r);
	rel = rs_target_relpath(r, "big.bin", good, BIG_LEN);
	lib_init(&c, r);
	lib_murls(&c, "resume/metadata/", NULL);
	lib_turls(&c, "resume/targets/", NULL);
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "big.bin"));

	/* 1. A good partial: only the rest is asked for. */
	plant_partial(&c, hex, BIG_LEN, good, 1000);
	mark = e2e_log_mark(&S);
	t_ok(pawl_updater_download(u, t, c.tdir, &out));
	e2e_assert_file(out, good, BIG_LEN);
	free(out);
	out = NULL;
	e2e_log_since(&S, mark, &q);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.v[0].status, 206);
	assert_string_equal(q.v[0].range, "bytes=1000-");
	e2e_reqs_free(&q);
	t_rm_rf(c.tdir);

	/* 2. A partial with bad bytes (from a bad mirror, or a bad disk): the
	 * whole file fails its hash, is dropped, and fetched again. */
	plant_partial(&c, hex, BIG_LEN, evil, 1000);
	mark = e2e_log_mark(&S);
	t_ok(pawl_updater_download(u, t, c.tdir, &out));
	e2e_assert_file(out, good, BIG_LEN);
	free(out);
	out = NULL;
	e2e_log_since(&S, mark, &q);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.v[0].status, 206);
	assert_int_equal(q.v[1].status, 200);
	assert_string_equal(q.v[1].range, "");
	e2e_reqs_free(&q);
	t_rm_rf(c.tdir);

	/* 3. A partial longer than the signed length is not trusted either. */
	{
		unsigned char *longer = malloc(BIG_LEN + 10);

		assert_non_null(longer);
		memcpy(longer, good, BIG_LEN);
		memset(longer + BIG_LEN, 'X', 10);
		plant_partial(&c, hex, BIG_LEN, longer, BIG_LEN + 10);
		free(longer);
	}
	t_ok(pawl_updater_download(u, t, c.tdir, &out));
	e2e_assert_file(out, good, BIG_LEN);
	free(out);
	out = NULL;
	t_rm_rf(c.tdir);

	/* 4. A mirror that ignores Range (nginx.sh's /norange/) answers the
	 * resume with the whole file and status 200: the client must start
	 * over rather than give up on a mirror that works. */
	pawl_updater_free(u);
	snprintf(turl, sizeof(turl), "norange/%s", "resume/targets/");
	lib_turls(&c, turl, NULL);
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	plant_partial(&c, hex, BIG_LEN, good, 1000);
	rc = pawl_updater_download(u, t, c.tdir, &out);
	if (rc == PAWL_E_NETWORK && strstr(pawl_error_last()->message, "ignored the range")) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", pawl_error_last()->message);
		pawl_target_free(t);
		pawl_updater_free(u);
		lib_free(&c);
		free(good);
		free(evil);
		rs_free(r);
		KNOWN_BUG("a partial download plus a mirror without Range support fails the "
			  "download instead of starting over: %s", msg);
	}
	t_ok(rc);
	e2e_assert_file(out, good, BIG_LEN);
	(void)rel;
	free(out);
	pawl_target_free(t);
	pawl_updater_free(u);
	lib_free(&c);
	free(good);
	free(evil);
	rs_free(r);
}

/* ---- bounds ---- */

static void test_max_root_rotations(void **state)
{
	rs_repo *r = repo_with_hello("max-rot", true);
	struct lib_client c;
	pawl_updater *u = NULL;

	(void)state;
	for (int i = 0; i < 5; i++)
		rs_root_publish(r, &r->pool[0], 1); /* v2..v6 */
	lib_init(&c, r);
	lib_murls(&c, "max-rot/metadata/", NULL);
	c.o.max_root_rotations = 3;
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_refresh(u));
	/* Three steps per refresh, then carry on with the newest root. */
	assert_int_equal(pawl_updater_role_version(u, "root"), 4);
	assert_int_equal(events_matching("fetch", "/6.root.json"), 0);
	EV.n = 0;
	t_ok(pawl_updater_refresh(u));
	assert_int_equal(pawl_updater_role_version(u, "root"), 6);
	pawl_updater_free(u);
	lib_free(&c);
	rs_free(r);
}

static void test_max_delegations_option(void **state)
{
	rs_repo *r = rs_new(DOCROOT, "max-deleg-lib", true);
	static const char *const ANY[] = { "*" };
	struct lib_client c;
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	const char *parent = "targets";
	static const char *const names[] = { "r0", "r1", "r2", "r3" };

	(void)state;
	for (int i = 0; i < 4; i++) {
		pawl_signer *k = rs_keygen(r);

		rs_delegate(r, parent, names[i], &k, 1, 1, false, ANY, 1, NULL, 0);
		parent = names[i];
	}
	rs_add_target(r, "r1", "in-r1", "1", 1);
	rs_add_target(r, "r2", "in-r2", "2", 1);
	rs_commit(r);
	lib_init(&c, r);
	lib_murls(&c, "max-deleg-lib/metadata/", NULL);
	c.o.max_delegations = 2;
	t_ok(pawl_updater_new(&u, &c.o));
	t_ok(pawl_updater_get_target(&t, u, "in-r1"));
	assert_string_equal(pawl_target_role(t), "r1");
	pawl_target_free(t);
	t = NULL;
	t_fails(pawl_updater_get_target(&t, u, "in-r2"), PAWL_E_NOT_FOUND);
	expect_msg("delegation search limit reached");
	assert_null(t);
	assert_int_equal(events_matching("fetch", "/1.r2.json"), 0);
	pawl_updater_free(u);
	lib_free(&c);
	rs_free(r);
}

/* ---- many clients, one metadata directory ---- */

static void test_concurrent_clients(void **state)
{
	rs_repo *r = repo_with_hello("concurrent", true);
	e2e_client c;
	pid_t pids[6];
	char pawl[4096], murl[1024], turl[1024];
	const char *bdir = getenv("PAWL_BUILDDIR");

	(void)state;
	client_of(&c, r);
	snprintf(pawl, sizeof(pawl), "%s/pawl", bdir);
	snprintf(murl, sizeof(murl), "%s", c.murls[0]);
	snprintf(turl, sizeof(turl), "%s", c.turls[0]);
	for (int i = 0; i < 6; i++) {
		const char *argv[] = { pawl, "-q", "--metadata-dir", c.mdir, "--metadata-url", murl,
				       "--target-name", "hello.txt", "--target-base-url", turl,
				       "--target-dir", c.tdir, "download", NULL };

		assert_int_equal(posix_spawn(&pids[i], pawl, NULL, NULL, (char *const *)argv,
					     environ), 0);
	}
	for (int i = 0; i < 6; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	e2e_assert_file(e2e_target_file(&c, "hello.txt"), HELLO, HELLO_LEN);
	assert_trusted(&c, "timestamp.json", r, "metadata/timestamp.json");
	assert_trusted(&c, "targets.json", r, "metadata/1.targets.json");
	e2e_client_free(&c);
	rs_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_target),
		cmocka_unit_test(test_slow_metadata_mirror),
		cmocka_unit_test(test_drip_target),
		cmocka_unit_test(test_drip_metadata),
		cmocka_unit_test(test_opts_version1),
		cmocka_unit_test(test_resume_partial),
		cmocka_unit_test(test_max_root_rotations),
		cmocka_unit_test(test_max_delegations_option),
		cmocka_unit_test(test_concurrent_clients),
	};

	return cmocka_run_group_tests(tests, sc_group_setup, sc_group_teardown);
}

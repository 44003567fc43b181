/*
 * test_client.c - library-level tests of the updater that need no server:
 * a small repository on disk, read through file:// URLs. (The attack
 * scenarios against nginx live in tests/integration/.)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client.h"
#include "metadata/metadata.h"
#include "pawl/updater.h"
#include "store/store.h"
#include "testing.h"

#define CONTENT "0123456789abcdefghijklmnopqrstuvwxyz-the-target-bytes\n"

struct repo {
	const char *content; /* NULL: CONTENT */
	size_t len;
	char *dir;
	char mdir[512], tdir[512], url_meta[600], url_targets[600];
	char hash[65];
	int events[16];
};

static void write_md(struct repo *r, pawl_md *md, const char *name)
{
	char path[700];
	char *buf;
	size_t len;

	t_ok(md_serialize(md, &buf, &len));
	snprintf(path, sizeof(path), "%s/repo/metadata/%s", r->dir, name);
	t_write_file(path, buf, len);
	free(buf);
}

/* root v1, targets v1 with "dir/file.txt" (and "dir/huge.bin", signed as
 * 2^62 bytes and never served), snapshot v1, timestamp v1. */
static void make_repo(struct repo *r)
{
	pawl_signer *k[4];
	pawl_key *pub[4];
	char ids[4][65], path[700];
	pawl_md *root, *targets, *snap, *ts;
	pj_doc *h;
	char hj[128];
	uint8_t d[HASH_MAX_LEN];

	r->dir = t_mkdtemp();
	snprintf(path, sizeof(path), "%s/repo/metadata", r->dir);
	t_ok(dir_create(path, 0755));
	snprintf(path, sizeof(path), "%s/repo/targets/dir", r->dir);
	t_ok(dir_create(path, 0755));
	snprintf(r->mdir, sizeof(r->mdir), "%s/md", r->dir);
	snprintf(r->tdir, sizeof(r->tdir), "%s/t", r->dir);
	snprintf(r->url_meta, sizeof(r->url_meta), "file://%s/repo/metadata/", r->dir);
	snprintf(r->url_targets, sizeof(r->url_targets), "file://%s/repo/targets/", r->dir);

	for (int i = 0; i < 4; i++) {
		t_ok(signer_generate(&k[i], "ed25519"));
		t_ok(signer_public(k[i], &pub[i]));
		t_ok(key_compute_id(pub[i], ids[i]));
	}
	t_ok(md_new(&root, MD_ROOT, 1, 4102444800));
	for (int i = 0; i < 4; i++) {
		const char *one[1] = { ids[i] };

		t_ok(md_root_add_key(root, pub[i]));
		t_ok(md_root_set_role(root, (md_type)i, one, 1, 1));
	}
	t_ok(md_sign(root, k[MD_ROOT]));
	write_md(r, root, "1.root.json");
	{
		char *buf;
		size_t len;

		t_ok(md_serialize(root, &buf, &len));
		t_ok(pawl_metadata_dir_init(r->mdir, buf, len));
		free(buf);
	}

	if (!r->content) {
		r->content = CONTENT;
		r->len = strlen(CONTENT);
	}
	t_ok(hash_once(HASH_SHA256, r->content, r->len, d));
	hex_encode(r->hash, d, 32);
	snprintf(hj, sizeof(hj), "{\"sha256\":\"%s\"}", r->hash);
	t_ok(pj_parse_copy(&h, hj, strlen(hj), NULL));
	t_ok(md_new(&targets, MD_TARGETS, 1, 4102444800));
	t_ok(md_target_put(targets, "dir/file.txt", r->len, pj_root(h), NULL));
	t_ok(md_target_put(targets, "dir/huge.bin", (uint64_t)1 << 62, pj_root(h), NULL));
	t_ok(md_sign(targets, k[MD_TARGETS]));
	write_md(r, targets, "1.targets.json");
	t_ok(md_new(&snap, MD_SNAPSHOT, 1, 4102444800));
	t_ok(md_sign(snap, k[MD_SNAPSHOT]));
	write_md(r, snap, "1.snapshot.json");
	t_ok(md_new(&ts, MD_TIMESTAMP, 1, 4102444800));
	t_ok(md_sign(ts, k[MD_TIMESTAMP]));
	write_md(r, ts, "timestamp.json");
	snprintf(path, sizeof(path), "%s/repo/targets/dir/%s.file.txt", r->dir, r->hash);
	t_write_file(path, r->content, r->len);

	pj_doc_free(h);
	md_free(root);
	md_free(targets);
	md_free(snap);
	md_free(ts);
	for (int i = 0; i < 4; i++) {
		signer_free(k[i]);
		key_free(pub[i]);
	}
}

static void on_event(const pawl_event *ev, void *ctx)
{
	struct repo *r = ctx;

	if ((unsigned)ev->kind < 16)
		r->events[ev->kind]++;
}

static pawl_updater *updater(struct repo *r)
{
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	const char *m[1] = { r->url_meta };
	const char *t[1] = { r->url_targets };
	pawl_updater *u;

	o.metadata_dir = r->mdir;
	o.metadata_urls = m;
	o.n_metadata_urls = 1;
	o.target_urls = t;
	o.n_target_urls = 1;
	o.on_event = on_event;
	o.event_ctx = r;
	t_ok(pawl_updater_new(&u, &o));
	return u;
}

static char *partial_path(struct repo *r)
{
	static char p[1024];

	snprintf(p, sizeof(p), "%s/staging/%s-%zu.part", r->mdir, r->hash, strlen(CONTENT));
	return p;
}

static void check_target_file(struct repo *r)
{
	char p[700];
	size_t len;
	char *got;

	snprintf(p, sizeof(p), "%s/dir%%2Ffile.txt", r->tdir);
	got = t_read_file(p, &len);
	assert_int_equal(len, strlen(CONTENT));
	assert_memory_equal(got, CONTENT, len);
	free(got);
}

static void test_download_and_cache(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u;
	pawl_target *t;
	char *path = NULL;

	(void)state;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	assert_int_equal(pawl_updater_role_version(u, "timestamp"), 1);
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	assert_int_equal(pawl_target_length(t), strlen(CONTENT));
	assert_string_equal(pawl_target_hash(t, "sha256"), r.hash);
	assert_null(pawl_target_hash(t, "sha512"));
	assert_string_equal(pawl_target_role(t), "targets");
	t_fails(pawl_updater_find_cached(u, t, r.tdir, &path), PAWL_E_NOT_FOUND);
	t_ok(pawl_updater_download(u, t, r.tdir, &path));
	check_target_file(&r);
	assert_int_equal(r.events[PAWL_EVENT_DOWNLOADED], 1);
	free(path);
	t_ok(pawl_updater_find_cached(u, t, r.tdir, &path));
	free(path);
	pawl_target_free(t);
	{
		pawl_target *none;

		t_fails(pawl_updater_get_target(&none, u, "dir/other.txt"), PAWL_E_NOT_FOUND);
	}
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
}

/* A partial download left in staging is resumed: only the rest is read,
 * and the whole file is verified. */
static void test_resume_good_partial(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u;
	pawl_target *t;
	char sdir[700];
	struct stat st;

	(void)state;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	snprintf(sdir, sizeof(sdir), "%s/staging", r.mdir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	t_write_file(partial_path(&r), CONTENT, 20);
	/* Spoil the first 20 bytes of the served copy: only a download that
	 * really resumes at byte 20 can still produce the signed file. */
	{
		char p[700];
		char spoilt[sizeof(CONTENT)];

		memcpy(spoilt, CONTENT, sizeof(CONTENT));
		memset(spoilt, '#', 20);
		snprintf(p, sizeof(p), "%s/repo/targets/dir/%s.file.txt", r.dir, r.hash);
		t_write_file(p, spoilt, strlen(CONTENT));
	}
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	check_target_file(&r);
	/* The partial file became the target: nothing is left behind. */
	assert_int_not_equal(stat(partial_path(&r), &st), 0);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
}

/* A partial download whose bytes were altered fails the hash check over
 * the whole file; it is discarded and the download starts over. */
static void test_resume_bad_partial(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u;
	pawl_target *t;
	char sdir[700];
	struct stat st;

	(void)state;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	snprintf(sdir, sizeof(sdir), "%s/staging", r.mdir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	t_write_file(partial_path(&r), "XXXXXXXXXXXXXXXXXXXX", 20);
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	check_target_file(&r);
	assert_int_equal(r.events[PAWL_EVENT_REJECTED], 0);
	assert_int_not_equal(stat(partial_path(&r), &st), 0);
	/* A partial longer than the signed length is thrown away too. */
	t_write_file(partial_path(&r), CONTENT CONTENT, 2 * strlen(CONTENT));
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	check_target_file(&r);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
}

/* The served file changed after signing: refused, nothing written. */
static void test_tampered_target(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u;
	pawl_target *t;
	char p[700];
	struct stat st;

	(void)state;
	make_repo(&r);
	snprintf(p, sizeof(p), "%s/repo/targets/dir/%s.file.txt", r.dir, r.hash);
	t_write_file(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-the-target-bytes\n", strlen(CONTENT));
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	t_fails(pawl_updater_download(u, t, r.tdir, NULL), PAWL_E_HASH);
	assert_non_null(strstr(pawl_error_last()->message, "sha256"));
	snprintf(p, sizeof(p), "%s/dir%%2Ffile.txt", r.tdir);
	assert_int_not_equal(stat(p, &st), 0);
	/* Nothing is kept for a resume after a hash failure. */
	assert_int_not_equal(stat(partial_path(&r), &st), 0);
	/* Longer than signed: the transfer stops at the signed length. */
	snprintf(p, sizeof(p), "%s/repo/targets/dir/%s.file.txt", r.dir, r.hash);
	t_write_file(p, CONTENT "more", strlen(CONTENT) + 4);
	t_fails(pawl_updater_download(u, t, r.tdir, NULL), PAWL_E_LENGTH);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
}

struct collect {
	char buf[256];
	size_t len;
	size_t stop_after; /* 0: never; else fail once this many bytes came */
};

static int collect_sink(void *ctx, const void *p, size_t n)
{
	struct collect *c = ctx;

	if (c->len + n > sizeof(c->buf))
		return pawl_error_set(PAWL_E_LIMIT, "test sink full");
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	if (c->stop_after && c->len >= c->stop_after)
		return pawl_error_set(PAWL_E_POLICY, "test sink refuses");
	return 0;
}

/* pawl_updater_download_stream: the bytes arrive in order with no copy on
 * disk; the verdict over all of them is the return value; a sink's
 * refusal stops the transfer with the sink's code. */
static void test_download_stream(void **state)
{
	struct repo r = { 0 };
	struct collect c = { .len = 0 };
	pawl_updater *u;
	pawl_target *t;
	char p[700];
	struct stat st;

	(void)state;
	make_repo(&r);
	u = updater(&r);
	t_fails(pawl_updater_download_stream(u, NULL, collect_sink, &c), PAWL_E_INVALID);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	t_fails(pawl_updater_download_stream(u, t, NULL, &c), PAWL_E_INVALID);
	t_ok(pawl_updater_download_stream(u, t, collect_sink, &c));
	assert_int_equal(c.len, strlen(CONTENT));
	assert_memory_equal(c.buf, CONTENT, c.len);
	assert_int_equal(r.events[PAWL_EVENT_DOWNLOADED], 1);
	/* Nothing was staged: a stream leaves no copy. */
	assert_int_not_equal(stat(partial_path(&r), &st), 0);

	/* The sink says stop: its code comes back. */
	memset(&c, 0, sizeof(c));
	c.stop_after = 5;
	t_fails(pawl_updater_download_stream(u, t, collect_sink, &c), PAWL_E_POLICY);

	/* Other bytes of the signed length: delivered, then refused as a
	 * whole; the caller must not use them. */
	snprintf(p, sizeof(p), "%s/repo/targets/dir/%s.file.txt", r.dir, r.hash);
	t_write_file(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-the-target-bytes\n", strlen(CONTENT));
	memset(&c, 0, sizeof(c));
	t_fails(pawl_updater_download_stream(u, t, collect_sink, &c), PAWL_E_HASH);
	/* Longer than signed: cut at the signed length. */
	t_write_file(p, CONTENT "more", strlen(CONTENT) + 4);
	memset(&c, 0, sizeof(c));
	t_fails(pawl_updater_download_stream(u, t, collect_sink, &c), PAWL_E_LENGTH);
	assert_true(c.len <= strlen(CONTENT));
	/* Shorter than signed. */
	t_write_file(p, CONTENT, strlen(CONTENT) - 3);
	memset(&c, 0, sizeof(c));
	t_fails(pawl_updater_download_stream(u, t, collect_sink, &c), PAWL_E_LENGTH);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
}

/* Two updaters on one metadata directory: the second waits for the lock
 * and, with no wait allowed, fails cleanly. */
static void test_lock(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u, *v = NULL;
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	const char *m[1];

	(void)state;
	make_repo(&r);
	u = updater(&r);
	m[0] = r.url_meta;
	o.metadata_dir = r.mdir;
	o.metadata_urls = m;
	o.n_metadata_urls = 1;
	o.lock_timeout_s = 0;
	t_fails(pawl_updater_new(&v, &o), PAWL_E_LOCKED);
	assert_non_null(strstr(pawl_error_last()->message, r.mdir));
	pawl_updater_free(u);
	t_ok(pawl_updater_new(&v, &o));
	pawl_updater_free(v);
	t_rm_rf(r.dir);
	free(r.dir);
}

/* A corrupted local file is treated as absent and fetched again. */
static void test_corrupt_local_metadata(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u;
	char p[700];

	(void)state;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	pawl_updater_free(u);
	snprintf(p, sizeof(p), "%s/targets.json", r.mdir);
	t_write_file(p, "{garbage", 8);
	memset(r.events, 0, sizeof(r.events));
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	/* root 2 (404), timestamp, targets again; snapshot was still good. */
	assert_int_equal(r.events[PAWL_EVENT_FETCH], 3);
	pawl_updater_free(u);
	{
		size_t len;
		char *back = t_read_file(p, &len);

		assert_true(len > 8 && back[0] == '{' && back[1] == '"');
		free(back);
	}
	t_rm_rf(r.dir);
	free(r.dir);
}

/* A large target goes through the hashing and writing threads: the bytes on disk are
 * exactly the signed ones; and a write that fails (here: the file size
 * limit) fails the download, leaving nothing behind. */
static void test_large_target(void **state)
{
	struct repo r = { 0 };
	size_t n = (size_t)12 << 20;
	char *big = malloc(n);
	pawl_updater *u;
	pawl_target *t;
	char p[700];
	size_t len;
	char *got;
	pid_t pid;
	int status;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7 + (i >> 13));
	r.content = big;
	r.len = n;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	snprintf(p, sizeof(p), "%s/dir%%2Ffile.txt", r.tdir);
	got = t_read_file(p, &len);
	assert_int_equal(len, n);
	assert_memory_equal(got, big, n);
	free(got);
	unlink(p);
	pawl_updater_free(u);

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 4u << 20, 4u << 20 };
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		u = updater(&r);
		rc = pawl_updater_refresh(u) == 0 &&
				     pawl_updater_download(u, t, r.tdir, NULL) == PAWL_E_IO ?
			     0 : 1;
		if (rc)
			fprintf(stderr, "child: %s\n", pawl_error_last()->message);
		pawl_updater_free(u);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		struct stat st;

		assert_int_not_equal(stat(p, &st), 0);
	}
	pawl_target_free(t);
	t_rm_rf(r.dir);
	free(r.dir);
	free(big);
}

/* A large target: 12 MiB and a bit, so that the last pipeline buffer is
 * partly filled. */
#define LARGE_LEN (((size_t)12 << 20) + 12345)

static char *large_content(void)
{
	char *big = malloc(LARGE_LEN);

	assert_non_null(big);
	for (size_t i = 0; i < LARGE_LEN; i++)
		big[i] = (char)(i * 31 + (i >> 11));
	return big;
}

static void serve(struct repo *r, const char *data, size_t len)
{
	char p[700];

	snprintf(p, sizeof(p), "%s/repo/targets/dir/%s.file.txt", r->dir, r->hash);
	t_write_file(p, data, len);
}

/* Large targets are hashed on their own thread: a single changed byte,
 * in the middle or the very last one, still fails the download, and
 * neither the target nor a partial file is left behind. */
static void test_large_tampered(void **state)
{
	struct repo r = { 0 };
	char *big = large_content();
	char *bad = malloc(LARGE_LEN);
	const size_t flip[2] = { LARGE_LEN / 2, LARGE_LEN - 1 };
	pawl_updater *u;
	pawl_target *t;
	char p[700];
	struct stat st;

	(void)state;
	assert_non_null(bad);
	r.content = big;
	r.len = LARGE_LEN;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	snprintf(p, sizeof(p), "%s/dir%%2Ffile.txt", r.tdir);
	for (int i = 0; i < 2; i++) {
		memcpy(bad, big, LARGE_LEN);
		bad[flip[i]] ^= 0x01;
		serve(&r, bad, LARGE_LEN);
		t_fails(pawl_updater_download(u, t, r.tdir, NULL), PAWL_E_HASH);
		assert_non_null(strstr(pawl_error_last()->message, "sha256"));
		assert_int_not_equal(stat(p, &st), 0);
		assert_int_not_equal(stat(partial_path(&r), &st), 0);
	}
	/* The same download from the signed bytes succeeds. */
	serve(&r, big, LARGE_LEN);
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, LARGE_LEN);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
	free(bad);
	free(big);
}

/* A large partial download resumes into the pipeline: the bytes already
 * staged are hashed first, the rest on the hashing thread, and the whole
 * must match. A partial with the wrong bytes is thrown away and the
 * download starts over. */
static void test_large_resume(void **state)
{
	struct repo r = { 0 };
	char *big = large_content();
	char *spoilt;
	const size_t have = ((size_t)5 << 20) + 3;
	pawl_updater *u;
	pawl_target *t;
	char p[700], sdir[700], pp[1024];
	size_t len;
	char *got;

	(void)state;
	r.content = big;
	r.len = LARGE_LEN;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/file.txt"));
	snprintf(sdir, sizeof(sdir), "%s/staging", r.mdir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	snprintf(pp, sizeof(pp), "%s/%s-%zu.part", sdir, r.hash, (size_t)LARGE_LEN);
	snprintf(p, sizeof(p), "%s/dir%%2Ffile.txt", r.tdir);

	/* Only a download that resumes at byte `have` can produce the signed
	 * file from this served copy. */
	t_write_file(pp, big, have);
	spoilt = malloc(LARGE_LEN);
	assert_non_null(spoilt);
	memcpy(spoilt, big, LARGE_LEN);
	memset(spoilt, '#', have);
	serve(&r, spoilt, LARGE_LEN);
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	got = t_read_file(p, &len);
	assert_int_equal(len, LARGE_LEN);
	assert_memory_equal(got, big, len);
	free(got);
	unlink(p);

	/* A partial of wrong bytes: the whole-file check fails, the partial
	 * goes, and a fresh download from the signed copy succeeds. */
	serve(&r, big, LARGE_LEN);
	t_write_file(pp, spoilt, have);
	t_ok(pawl_updater_download(u, t, r.tdir, NULL));
	got = t_read_file(p, &len);
	assert_int_equal(len, LARGE_LEN);
	assert_memory_equal(got, big, len);
	free(got);
	assert_int_equal(r.events[PAWL_EVENT_REJECTED], 0);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
	free(spoilt);
	free(big);
}

/* Room for the whole target is reserved before the first byte is fetched:
 * a target the disk cannot hold (here: signed as 2^62 bytes, beyond any
 * file system's file size) fails at once with an I/O error that says so,
 * and no mirror is blamed or even asked (the file is not served at all;
 * asking would fail with "not found"). */
static void test_no_room(void **state)
{
	struct repo r = { 0 };
	pawl_updater *u;
	pawl_target *t;
	char sdir[700];
	DIR *dp;
	struct dirent *e;

	(void)state;
	make_repo(&r);
	u = updater(&r);
	t_ok(pawl_updater_refresh(u));
	t_ok(pawl_updater_get_target(&t, u, "dir/huge.bin"));
	t_fails(pawl_updater_download(u, t, r.tdir, NULL), PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "no room for"));
	assert_int_equal(r.events[PAWL_EVENT_REJECTED], 0);
	/* Nothing is left in staging. */
	snprintf(sdir, sizeof(sdir), "%s/staging", r.mdir);
	dp = opendir(sdir);
	assert_non_null(dp);
	while ((e = readdir(dp)))
		assert_true(e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")));
	closedir(dp);
	pawl_target_free(t);
	pawl_updater_free(u);
	t_rm_rf(r.dir);
	free(r.dir);
}

/* Options are versioned, and the URL policy applies before anything. */
static void test_options(void **state)
{
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	const char *bad[1] = { "http://example.com/metadata/" };
	const char *ftp[1] = { "ftp://127.0.0.1/metadata/" };
	pawl_updater *u = NULL;

	(void)state;
	o.metadata_dir = "/nonexistent";
	o.metadata_urls = bad;
	o.n_metadata_urls = 1;
	t_fails(pawl_updater_new(&u, &o), PAWL_E_POLICY);
	o.metadata_urls = ftp;
	t_fails(pawl_updater_new(&u, &o), PAWL_E_POLICY);
	o.version = 99;
	t_fails(pawl_updater_new(&u, &o), PAWL_E_INVALID);
	assert_null(u);
}

static void msg_has(const char *needle)
{
	if (!strstr(pawl_error_last()->message, needle))
		fail_msg("error \"%s\" lacks \"%s\"", pawl_error_last()->message, needle);
}

static void assert_file_is(const char *path, const char *data, size_t len)
{
	size_t got_len;
	char *got = t_read_file(path, &got_len);

	assert_int_equal(got_len, len);
	assert_memory_equal(got, data, len);
	free(got);
}

/*
 * Trust is never replaced silently (issue 15, 3): init over an existing
 * root.json succeeds only when it is byte-identical, and then writes
 * nothing; another root (here: another repository's) is refused naming
 * both, and so is anything at that name that cannot be read as a root (a
 * symbolic link). Only the explicit replacement the programs offer
 * replaces it.
 */
static void test_init_never_replaces_trust(void **state)
{
	struct repo a = { 0 }, b = { 0 };
	char ra[700], rb[700], trusted[700], target[700];
	char *root_a, *root_b;
	size_t len_a, len_b;
	struct stat st1, st2;
	root_install_info info;

	(void)state;
	make_repo(&a); /* a.mdir trusts a's root */
	make_repo(&b);
	snprintf(ra, sizeof(ra), "%s/repo/metadata/1.root.json", a.dir);
	snprintf(rb, sizeof(rb), "%s/repo/metadata/1.root.json", b.dir);
	snprintf(trusted, sizeof(trusted), "%s/root.json", a.mdir);
	root_a = t_read_file(ra, &len_a);
	root_b = t_read_file(rb, &len_b);

	/* The same bytes again: success, nothing written. */
	assert_int_equal(stat(trusted, &st1), 0);
	t_ok(pawl_metadata_dir_init(a.mdir, root_a, len_a));
	t_ok(metadata_dir_install_root(a.mdir, root_a, len_a, false, &info));
	assert_true(info.had_root && info.identical);
	assert_int_equal(stat(trusted, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);

	/* Another root: refused, naming the file and both versions. */
	t_fails(pawl_metadata_dir_init(a.mdir, root_b, len_b), PAWL_E_POLICY);
	msg_has(trusted);
	msg_has("already holds a trusted root (version 1, sha256 ");
	msg_has("the root given differs (version 1, sha256 ");
	msg_has("never replaced silently");
	assert_file_is(trusted, root_a, len_a);
	t_fails(metadata_dir_install_root(a.mdir, root_b, len_b, false, &info), PAWL_E_POLICY);
	assert_file_is(trusted, root_a, len_a);

	/* The explicit replacement, and what it reports for the log. */
	memset(&info, 0, sizeof(info));
	t_ok(metadata_dir_install_root(a.mdir, root_b, len_b, true, &info));
	assert_true(info.had_root && !info.identical);
	assert_int_equal(info.old_version, 1);
	assert_int_equal(info.new_version, 1);
	assert_string_not_equal(info.old_sha256, info.new_sha256);
	assert_int_equal(strlen(info.old_sha256), 64);
	assert_file_is(trusted, root_b, len_b);

	/* A symbolic link at root.json counts as present (it is never
	 * followed), even when it points at the very root given. */
	snprintf(target, sizeof(target), "%s/elsewhere.json", a.dir);
	t_write_file(target, root_a, len_a);
	assert_int_equal(unlink(trusted), 0);
	assert_int_equal(symlink(target, trusted), 0);
	t_fails(pawl_metadata_dir_init(a.mdir, root_a, len_a), PAWL_E_POLICY);
	assert_int_equal(lstat(trusted, &st1), 0);
	assert_true(S_ISLNK(st1.st_mode));

	/* A missing root.json is the only free slot. */
	assert_int_equal(unlink(trusted), 0);
	t_ok(metadata_dir_install_root(a.mdir, root_a, len_a, false, &info));
	assert_true(!info.had_root && !info.identical);
	assert_file_is(trusted, root_a, len_a);

	free(root_a);
	free(root_b);
	t_rm_rf(a.dir);
	free(a.dir);
	t_rm_rf(b.dir);
	free(b.dir);
}

/* A forced replacement waits for whoever holds the metadata directory
 * (a refresh that is about to write a rotated root, here a child process
 * that writes one before it lets go), so it is not overwritten a moment
 * later by a refresh that started before it. */
static void test_forced_replacement_takes_the_lock(void **state)
{
	struct repo a = { 0 }, b = { 0 };
	char ra[700], rb[700], trusted[700];
	char *root_a, *root_b;
	size_t len_a, len_b;
	root_install_info info;
	int fds[2], st;
	char c;
	pid_t pid;

	(void)state;
	make_repo(&a);
	make_repo(&b);
	snprintf(ra, sizeof(ra), "%s/repo/metadata/1.root.json", a.dir);
	snprintf(rb, sizeof(rb), "%s/repo/metadata/1.root.json", b.dir);
	snprintf(trusted, sizeof(trusted), "%s/root.json", a.mdir);
	root_a = t_read_file(ra, &len_a);
	root_b = t_read_file(rb, &len_b);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pawl_lock *l = NULL;
		int dfd = open(a.mdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fds[0]);
		if (dfd < 0 || lock_acquire(&l, dfd, STORE_LOCK_NAME, 10) < 0 ||
		    write(fds[1], "L", 1) != 1)
			_exit(1);
		sleep(1);
		/* What a refresh holding the lock writes: a root of its own. */
		if (file_write_atomic_at(dfd, "root.json", root_a, len_a, 0644) < 0)
			_exit(1);
		lock_release(l);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	t_ok(metadata_dir_install_root(a.mdir, root_b, len_b, true, &info));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The replacement came after the holder's write, not before it. */
	assert_file_is(trusted, root_b, len_b);
	free(root_a);
	free(root_b);
	t_rm_rf(a.dir);
	free(a.dir);
	t_rm_rf(b.dir);
	free(b.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_download_and_cache),
		cmocka_unit_test(test_resume_good_partial),
		cmocka_unit_test(test_resume_bad_partial),
		cmocka_unit_test(test_tampered_target),
		cmocka_unit_test(test_download_stream),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_corrupt_local_metadata),
		cmocka_unit_test(test_large_target),
		cmocka_unit_test(test_large_tampered),
		cmocka_unit_test(test_large_resume),
		cmocka_unit_test(test_no_room),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_init_never_replaces_trust),
		cmocka_unit_test(test_forced_replacement_takes_the_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_api.c - the public API a program uses (pawl/release.h,
 * pawl/install.h, pawl/audit.h, pawl/semver.h), through those headers
 * only, the way src/pawl/agent.c uses it: a small signed repository on
 * disk (built with the internal publisher functions, read through
 * file:// URLs) whose targets are releases of "app", then choosing,
 * installing and logging. Every rejection the API adds has a test where
 * it fails: a bad version chosen, an image release in folder mode, a
 * release that is not the target, bytes that are not the signed ones,
 * invalid arguments.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "metadata/metadata.h"
#include "pawl/audit.h"
#include "pawl/install.h"
#include "pawl/release.h"
#include "pawl/semver.h"
#include "pawl/updater.h"
#include "store/store.h"
#include "testing.h"

/* ---------------- a repository of releases ---------------- */

struct repo {
	char *dir;
	char mdir[512], url_meta[600], url_targets[600];
};

/* One target: its path, the bytes served, and its custom data. */
struct rel {
	const char *path;
	const char *content;
	const char *custom; /* JSON or NULL */
};

static const struct rel RELS[] = {
	{ "app/1.0.0/app.bin", "one\n", "{\"version\":\"1.0.0\"}" },
	{ "app/2.0.0/app.bin", "two\n", "{\"version\":\"2.0.0\"}" },
	/* marked bad by the tests that pass bad versions */
	{ "app/3.0.0/app.bin", "three\n", "{\"version\":\"3.0.0\"}" },
	{ "app/1.5.0/app.bin", "one and a half\n", "{\"recovery\":true,\"version\":\"1.5.0\"}" },
	/* a slot image: chosen only when images are asked for */
	{ "app/9.0.0/app.img", "image\n",
	  "{\"image\":{\"index\":\"app/9.0.0/app.img\",\"length\":6,\"pack\":\"app/9.0.0/"
	  "app.pack\",\"sha256\":\"00\"},\"version\":\"9.0.0\"}" },
	/* its pack: no custom data, so not a release */
	{ "app/9.0.0/app.pack", "pack\n", NULL },
	/* an image naming another pack */
	{ "app/8.9.0/app.img", "image\n",
	  "{\"image\":{\"index\":\"app/8.9.0/app.img\",\"length\":6,\"pack\":\"elsewhere\","
	  "\"sha256\":\"00\"},\"version\":\"8.9.0\"}" },
	/* format 2 (delta updates): sums, and no pack when nothing is new */
	{ "app/8.8.0/app.idx", "image\n",
	  "{\"image\":{\"format\":2,\"index\":\"app/8.8.0/app.idx\",\"length\":6,"
	  "\"sha256\":\"00\",\"sums\":\"app/8.8.0/app.sums\"},\"version\":\"8.8.0\"}" },
	/* a format this pawl does not know: listed, format 0 */
	{ "app/8.7.0/app.idx", "image\n",
	  "{\"image\":{\"format\":9,\"index\":\"app/8.7.0/app.idx\",\"length\":6,"
	  "\"pack\":\"p\",\"sha256\":\"00\",\"sums\":\"s\"},\"version\":\"8.7.0\"}" },
	/* not releases of app: each one skipped */
	{ "app/bogus/app.bin", "b\n", "{\"version\":\"bogus\"}" },
	{ "app/4.0.0/app.bin", "4\n", "{\"version\":\"4.0.1\"}" },
	{ "app/5.0.0/app.bin", "5\n", NULL },
	{ "app/6.0.0/deeper/app.bin", "6\n", "{\"version\":\"6.0.0\"}" },
	{ "other/7.0.0/app.bin", "7\n", "{\"version\":\"7.0.0\"}" },
};
#define NRELS (sizeof(RELS) / sizeof(RELS[0]))

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

static void make_repo(struct repo *r)
{
	pawl_signer *k[4];
	pawl_key *pub[4];
	char ids[4][65], path[1024];
	pawl_md *root, *targets, *snap, *ts;

	r->dir = t_mkdtemp();
	snprintf(path, sizeof(path), "%s/repo/metadata", r->dir);
	t_ok(dir_create(path, 0755));
	snprintf(r->mdir, sizeof(r->mdir), "%s/md", r->dir);
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
	t_ok(md_new(&targets, MD_TARGETS, 1, 4102444800));
	for (size_t i = 0; i < NRELS; i++) {
		const struct rel *e = &RELS[i];
		uint8_t d[HASH_MAX_LEN];
		char hex[65], hj[128], *slash;
		pj_doc *h = NULL, *c = NULL;

		t_ok(hash_once(HASH_SHA256, e->content, strlen(e->content), d));
		hex_encode(hex, d, 32);
		snprintf(hj, sizeof(hj), "{\"sha256\":\"%s\"}", hex);
		t_ok(pj_parse_copy(&h, hj, strlen(hj), NULL));
		if (e->custom)
			t_ok(pj_parse_copy(&c, e->custom, strlen(e->custom), NULL));
		t_ok(md_target_put(targets, e->path, strlen(e->content), pj_root(h),
				   c ? pj_root(c) : NULL));
		/* consistent snapshots: DIR/HASH.NAME */
		slash = strrchr(e->path, '/');
		snprintf(path, sizeof(path), "%s/repo/targets/%.*s", r->dir,
			 (int)(slash - e->path), e->path);
		t_ok(dir_create(path, 0755));
		snprintf(path, sizeof(path), "%s/repo/targets/%.*s/%s.%s", r->dir,
			 (int)(slash - e->path), e->path, hex, slash + 1);
		t_write_file(path, e->content, strlen(e->content));
		pj_doc_free(h);
		pj_doc_free(c);
	}
	t_ok(md_sign(targets, k[MD_TARGETS]));
	write_md(r, targets, "1.targets.json");
	t_ok(md_new(&snap, MD_SNAPSHOT, 1, 4102444800));
	t_ok(md_sign(snap, k[MD_SNAPSHOT]));
	write_md(r, snap, "1.snapshot.json");
	t_ok(md_new(&ts, MD_TIMESTAMP, 1, 4102444800));
	t_ok(md_sign(ts, k[MD_TIMESTAMP]));
	write_md(r, ts, "timestamp.json");
	md_free(root);
	md_free(targets);
	md_free(snap);
	md_free(ts);
	for (int i = 0; i < 4; i++) {
		signer_free(k[i]);
		key_free(pub[i]);
	}
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
	t_ok(pawl_updater_new(&u, &o));
	t_ok(pawl_updater_refresh(u));
	return u;
}

static int setup(void **state)
{
	struct repo *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	make_repo(r);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct repo *r = *state;

	t_rm_rf(r->dir);
	free(r->dir);
	free(r);
	return 0;
}

static const pawl_release *find(const pawl_release_list *l, const char *version)
{
	for (size_t i = 0; i < pawl_release_list_count(l); i++)
		if (strcmp(pawl_release_version(pawl_release_list_get(l, i)), version) == 0)
			return pawl_release_list_get(l, i);
	return NULL;
}

/* ---------------- releases ---------------- */

static void test_release_choice(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	pawl_release_opts o = PAWL_RELEASE_OPTS_INIT;
	pawl_release_list *l = NULL;
	const char *bad[] = { "3.0.0", "1.0.0", "8.8.8" };
	const pawl_release *best;

	/* Folder releases only: the image, the non-releases and other apps
	 * are not listed. */
	o.app = "app";
	t_ok(pawl_release_list_new(&l, u, &o));
	assert_int_equal(pawl_release_list_count(l), 4);
	assert_null(find(l, "9.0.0"));
	assert_null(find(l, "4.0.1"));
	assert_null(find(l, "6.0.0"));
	assert_null(find(l, "7.0.0"));
	best = pawl_release_list_best(l);
	assert_string_equal(pawl_release_version(best), "3.0.0");
	assert_string_equal(pawl_release_path(best), "app/3.0.0/app.bin");
	assert_int_equal(pawl_release_kind_of(best), PAWL_RELEASE_FOLDER);
	assert_false(pawl_release_recovery(best));
	assert_true(pawl_release_recovery(find(l, "1.5.0")));
	assert_int_equal(pawl_release_list_skipped_count(l), 0);
	assert_null(pawl_release_list_get(l, 4));
	pawl_release_list_free(l);

	/* A version marked bad is never chosen; the newer bad one is
	 * reported as skipped, the older one and the unlisted one are not. */
	o.bad = bad;
	o.n_bad = 3;
	t_ok(pawl_release_list_new(&l, u, &o));
	best = pawl_release_list_best(l);
	assert_string_equal(pawl_release_version(best), "2.0.0");
	assert_true(pawl_release_is_bad(find(l, "3.0.0")));
	assert_true(pawl_release_is_bad(find(l, "1.0.0")));
	assert_false(pawl_release_is_bad(best));
	assert_int_equal(pawl_release_list_skipped_count(l), 1);
	assert_string_equal(pawl_release_list_skipped(l, 0), "3.0.0");
	assert_null(pawl_release_list_skipped(l, 1));
	pawl_release_list_free(l);

	/* Images too, when asked for: the image is the newest. */
	o.bad = NULL;
	o.n_bad = 0;
	o.kinds = PAWL_RELEASE_KIND_BIT(PAWL_RELEASE_FOLDER) |
		  PAWL_RELEASE_KIND_BIT(PAWL_RELEASE_IMAGE);
	t_ok(pawl_release_list_new(&l, u, &o));
	best = pawl_release_list_best(l);
	assert_string_equal(pawl_release_version(best), "9.0.0");
	assert_int_equal(pawl_release_kind_of(best), PAWL_RELEASE_IMAGE);
	pawl_release_list_free(l);

	/* One version only. */
	o.kinds = 0;
	o.only_version = "1.5.0";
	t_ok(pawl_release_list_new(&l, u, &o));
	assert_int_equal(pawl_release_list_count(l), 1);
	assert_true(pawl_release_recovery(pawl_release_list_best(l)));
	pawl_release_list_free(l);

	/* Every bad one: nothing chosen, all newer bad ones skipped. */
	{
		const char *all[] = { "1.0.0", "2.0.0", "3.0.0", "1.5.0" };

		o.only_version = NULL;
		o.bad = all;
		o.n_bad = 4;
		t_ok(pawl_release_list_new(&l, u, &o));
		assert_null(pawl_release_list_best(l));
		assert_int_equal(pawl_release_list_skipped_count(l), 4);
		pawl_release_list_free(l);
	}
	pawl_updater_free(u);
}

static void test_release_invalid(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	pawl_release_opts o = PAWL_RELEASE_OPTS_INIT;
	pawl_release_list *l = NULL;

	o.app = "app";
	t_fails(pawl_release_list_new(NULL, u, &o), PAWL_E_INVALID);
	t_fails(pawl_release_list_new(&l, NULL, &o), PAWL_E_INVALID);
	t_fails(pawl_release_list_new(&l, u, NULL), PAWL_E_INVALID);
	o.app = "app/1.0.0";
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	o.app = "";
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	o.app = "app";
	o.version = PAWL_RELEASE_OPTS_VERSION + 1;
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	o.version = 0;
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	o.version = PAWL_RELEASE_OPTS_VERSION;
	o.kinds = PAWL_RELEASE_KIND_BIT(7);
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	o.kinds = 0;
	o.n_bad = 1;
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	o.n_bad = 0;
	o.only_version = "1.0.0/app.bin";
	t_fails(pawl_release_list_new(&l, u, &o), PAWL_E_INVALID);
	assert_null(l);
	/* Accessors accept NULL. */
	assert_int_equal(pawl_release_list_count(NULL), 0);
	assert_null(pawl_release_list_best(NULL));
	assert_null(pawl_release_version(NULL));
	assert_false(pawl_release_recovery(NULL));
	pawl_release_list_free(NULL);
	pawl_release_free(NULL);
	pawl_updater_free(u);
}

static void test_release_from_target(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	pawl_release *rel = NULL;
	pawl_target *t;

	t_ok(pawl_updater_get_target(&t, u, "app/1.5.0/app.bin"));
	t_ok(pawl_release_from_target(&rel, "app", t));
	assert_string_equal(pawl_release_version(rel), "1.5.0");
	assert_string_equal(pawl_release_path(rel), "app/1.5.0/app.bin");
	assert_true(pawl_release_recovery(rel));
	assert_false(pawl_release_is_bad(rel));
	pawl_release_free(rel);
	rel = NULL;
	/* Of another application */
	t_fails(pawl_release_from_target(&rel, "other", t), PAWL_E_FORMAT);
	t_fails(pawl_release_from_target(&rel, "a/b", t), PAWL_E_INVALID);
	t_fails(pawl_release_from_target(NULL, "app", t), PAWL_E_INVALID);
	t_fails(pawl_release_from_target(&rel, "app", NULL), PAWL_E_INVALID);
	pawl_target_free(t);
	/* The custom version is not the path's */
	t_ok(pawl_updater_get_target(&t, u, "app/4.0.0/app.bin"));
	t_fails(pawl_release_from_target(&rel, "app", t), PAWL_E_FORMAT);
	pawl_target_free(t);
	/* No custom data */
	t_ok(pawl_updater_get_target(&t, u, "app/5.0.0/app.bin"));
	t_fails(pawl_release_from_target(&rel, "app", t), PAWL_E_FORMAT);
	pawl_target_free(t);
	/* Not a version */
	t_ok(pawl_updater_get_target(&t, u, "app/bogus/app.bin"));
	t_fails(pawl_release_from_target(&rel, "app", t), PAWL_E_FORMAT);
	pawl_target_free(t);
	/* An image says so */
	t_ok(pawl_updater_get_target(&t, u, "app/9.0.0/app.img"));
	t_ok(pawl_release_from_target(&rel, "app", t));
	assert_int_equal(pawl_release_kind_of(rel), PAWL_RELEASE_IMAGE);
	assert_string_equal(pawl_release_image_pack(rel), "app/9.0.0/app.pack");
	assert_int_equal(pawl_release_image_format(rel), 1);
	assert_null(pawl_release_image_sums(rel));
	pawl_release_free(rel);
	rel = NULL;
	pawl_target_free(t);
	/* Format 2: its sums, no pack */
	t_ok(pawl_updater_get_target(&t, u, "app/8.8.0/app.idx"));
	t_ok(pawl_release_from_target(&rel, "app", t));
	assert_int_equal(pawl_release_kind_of(rel), PAWL_RELEASE_IMAGE);
	assert_int_equal(pawl_release_image_format(rel), 2);
	assert_string_equal(pawl_release_image_sums(rel), "app/8.8.0/app.sums");
	assert_null(pawl_release_image_pack(rel));
	pawl_release_free(rel);
	rel = NULL;
	pawl_target_free(t);
	/* An unknown format is 0 (the installer refuses it), its sums unread */
	t_ok(pawl_updater_get_target(&t, u, "app/8.7.0/app.idx"));
	t_ok(pawl_release_from_target(&rel, "app", t));
	assert_int_equal(pawl_release_image_format(rel), 0);
	assert_null(pawl_release_image_sums(rel));
	pawl_release_free(rel);
	rel = NULL;
	pawl_target_free(t);
	t_ok(pawl_updater_get_target(&t, u, "app/1.5.0/app.bin"));
	t_ok(pawl_release_from_target(&rel, "app", t));
	assert_null(pawl_release_image_pack(rel));
	assert_null(pawl_release_image_pack(NULL));
	assert_int_equal(pawl_release_image_format(rel), 0);
	assert_int_equal(pawl_release_image_format(NULL), 0);
	assert_null(pawl_release_image_sums(NULL));
	pawl_release_free(rel);
	pawl_target_free(t);
	assert_null(NULL);
	pawl_updater_free(u);
}

static void test_updater_additions(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	pawl_target *t;
	char *p = NULL, root[1024];
	size_t len;
	char *data;
	pawl_root_info info;

	t_ok(pawl_updater_get_target(&t, u, "app/2.0.0/app.bin"));
	t_ok(pawl_updater_target_url_path(u, t, &p));
	/* consistent snapshots: DIR/HASH.NAME */
	assert_int_equal(strncmp(p, "app/2.0.0/", 10), 0);
	assert_int_equal(strlen(p), 10 + 64 + strlen(".app.bin"));
	assert_string_equal(p + 10 + 64, ".app.bin");
	free(p);
	t_fails(pawl_updater_target_url_path(u, NULL, &p), PAWL_E_INVALID);
	t_fails(pawl_updater_target_url_path(NULL, t, &p), PAWL_E_INVALID);
	pawl_target_free(t);
	pawl_updater_free(u);

	snprintf(root, sizeof(root), "%s/root.json", r->mdir);
	data = t_read_file(root, &len);
	t_ok(pawl_metadata_dir_install_root(r->mdir, data, len, 0, &info));
	assert_true(info.had_root);
	assert_true(info.identical);
	assert_int_equal(info.new_version, 1);
	t_fails(pawl_metadata_dir_install_root(r->mdir, data, len, 2, &info), PAWL_E_INVALID);
	t_fails(pawl_metadata_dir_install_root(NULL, data, len, 0, &info), PAWL_E_INVALID);
	free(data);
}

/* ---------------- install ---------------- */

struct inst {
	char dir[700], state[700];
	pawl_install_opts o;
};

static void inst_init(struct repo *r, struct inst *in)
{
	snprintf(in->dir, sizeof(in->dir), "%s/inst", r->dir);
	snprintf(in->state, sizeof(in->state), "%s/state", r->dir);
	in->o = (pawl_install_opts)PAWL_INSTALL_OPTS_INIT;
	in->o.install_dir = in->dir;
	in->o.state_dir = in->state;
}

/* Download path's bytes and install them as a release of app. */
static int install_path(pawl_install *pi, pawl_updater *u, const char *path,
			pawl_install_result *res)
{
	char tmp[] = "/tmp/pawl-api-XXXXXX";
	pawl_release *rel = NULL;
	pawl_target *t = NULL;
	int fd = mkstemp(tmp), rc;

	assert_true(fd >= 0);
	t_ok(pawl_updater_get_target(&t, u, path));
	t_ok(pawl_release_from_target(&rel, "app", t));
	t_ok(pawl_updater_download_to(u, t, tmp));
	rc = pawl_install_release(pi, rel, t, -1, tmp, res);
	close(fd);
	unlink(tmp);
	pawl_release_free(rel);
	pawl_target_free(t);
	return rc;
}

static void test_install_flow(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	struct inst in;
	pawl_install *pi = NULL;
	pawl_install_result res;
	pawl_install_state st;
	pawl_install_place pl[PAWL_INSTALL_MAX_PLACES];
	size_t n = 0;
	char link[1024], buf[256];
	ssize_t k;

	inst_init(r, &in);
	t_ok(pawl_install_open(&pi, &in.o));
	t_ok(pawl_install_recover(pi, &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_NONE);
	t_ok(pawl_install_get_state(pi, &st));
	assert_string_equal(st.installed, "");
	t_ok(pawl_install_places(pi, pl, &n));
	assert_int_equal(n, 1);
	assert_int_equal(pl[0].state, PAWL_INSTALL_PLACE_EMPTY);

	t_ok(install_path(pi, u, "app/1.0.0/app.bin", &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_INSTALLED);
	assert_string_equal(pawl_install_outcome_name(res.outcome), "installed");
	t_ok(install_path(pi, u, "app/2.0.0/app.bin", &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_INSTALLED);
	assert_string_equal(res.current, "2.0.0");
	snprintf(link, sizeof(link), "%s/current", in.dir);
	k = readlink(link, buf, sizeof(buf) - 1);
	assert_true(k > 0);
	buf[k] = '\0';
	assert_string_equal(buf, "releases/2.0.0");

	t_ok(pawl_install_places(pi, pl, &n));
	assert_int_equal(n, 2);
	assert_string_equal(pl[0].name, "current");
	assert_string_equal(pl[0].version, "2.0.0");
	assert_int_equal(pl[0].state, PAWL_INSTALL_PLACE_ACTIVE);
	assert_string_equal(pl[1].name, "previous");
	assert_string_equal(pl[1].version, "1.0.0");
	assert_int_equal(pl[1].state, PAWL_INSTALL_PLACE_INACTIVE);

	/* Again: current. Lower and not recovery: refused. Lower and
	 * recovery: installed. */
	t_ok(install_path(pi, u, "app/2.0.0/app.bin", &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_ALREADY_CURRENT);
	t_ok(install_path(pi, u, "app/1.0.0/app.bin", &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_REFUSED_DOWNGRADE);
	assert_string_equal(pawl_install_outcome_name(res.outcome), "refused_downgrade");

	/* The folder backend confirms as it installs: nothing to confirm
	 * later, nothing to mark by hand. */
	t_ok(pawl_install_confirm(pi, &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_NONE);
	t_fails(pawl_install_mark(pi, true, &res), PAWL_E_UNSUPPORTED);
	t_fails(pawl_install_mark(NULL, true, &res), PAWL_E_INVALID);

	/* Rollback to 1.0.0, not signed as recovery: refused. */
	t_ok(pawl_install_rollback(pi, false, &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_REFUSED_DOWNGRADE);

	t_ok(install_path(pi, u, "app/1.5.0/app.bin", &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_INSTALLED);
	t_ok(pawl_install_get_state(pi, &st));
	assert_string_equal(st.installed, "1.5.0");
	assert_true(st.installed_recovery);
	assert_string_equal(st.highest, "2.0.0");
	assert_string_equal(st.previous, "2.0.0");
	assert_int_equal(st.last_outcome, PAWL_INSTALL_INSTALLED);
	assert_false(st.unfinished);

	t_fails(pawl_install_clear_bad(pi, "2.0.0"), PAWL_E_NOT_FOUND);
	pawl_install_free(pi);

	/* Read without the lock: the same state. */
	memset(&st, 0, sizeof(st));
	t_ok(pawl_install_state_read(&in.o, &st));
	assert_string_equal(st.installed, "1.5.0");
	assert_string_equal(st.highest, "2.0.0");
	pawl_updater_free(u);
}

static void test_install_refuses(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	struct inst in;
	pawl_install *pi = NULL, *second = NULL;
	pawl_install_result res;
	pawl_release *rel = NULL;
	pawl_target *t = NULL, *other = NULL;
	pawl_install_state st;
	char tmp[1024];

	inst_init(r, &in);
	t_ok(pawl_install_open(&pi, &in.o));
	/* One at a time. */
	t_fails(pawl_install_open(&second, &in.o), PAWL_E_LOCKED);
	assert_null(second);

	t_ok(pawl_updater_get_target(&t, u, "app/2.0.0/app.bin"));
	t_ok(pawl_updater_get_target(&other, u, "app/1.0.0/app.bin"));
	t_ok(pawl_release_from_target(&rel, "app", t));
	snprintf(tmp, sizeof(tmp), "%s/staged", r->dir);

	/* Bytes that are not the signed ones: same length, other hash. */
	t_write_file(tmp, "owt\n", 4);
	t_fails(pawl_install_release(pi, rel, t, -1, tmp, &res), PAWL_E_HASH);
	/* Another length */
	t_write_file(tmp, "two and more\n", 13);
	t_fails(pawl_install_release(pi, rel, t, -1, tmp, &res), PAWL_E_LENGTH);
	/* The right bytes through a descriptor, for the wrong target entry */
	t_write_file(tmp, "two\n", 4);
	t_fails(pawl_install_release(pi, rel, other, -1, tmp, &res), PAWL_E_INVALID);
	{
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		t_ok(pawl_install_release(pi, rel, t, fd, NULL, &res));
		assert_int_equal(res.outcome, PAWL_INSTALL_INSTALLED);
		close(fd);
	}
	t_ok(pawl_install_get_state(pi, &st));
	assert_string_equal(st.installed, "2.0.0");

	/* Arguments */
	t_fails(pawl_install_release(NULL, rel, t, -1, tmp, &res), PAWL_E_INVALID);
	t_fails(pawl_install_release(pi, NULL, t, -1, tmp, &res), PAWL_E_INVALID);
	t_fails(pawl_install_release(pi, rel, NULL, -1, tmp, &res), PAWL_E_INVALID);
	t_fails(pawl_install_release(pi, rel, t, -1, NULL, &res), PAWL_E_INVALID);
	t_fails(pawl_install_release(pi, rel, t, -1, tmp, NULL), PAWL_E_INVALID);
	t_fails(pawl_install_rollback(NULL, false, &res), PAWL_E_INVALID);
	t_fails(pawl_install_clear_bad(pi, NULL), PAWL_E_INVALID);
	t_fails(pawl_install_get_state(pi, NULL), PAWL_E_INVALID);
	t_fails(pawl_install_places(NULL, NULL, NULL), PAWL_E_INVALID);
	t_fails(pawl_install_recover(NULL, NULL), PAWL_E_INVALID);
	pawl_install_free(pi);
	pawl_install_free(NULL);
	pawl_release_free(rel);
	pawl_target_free(t);
	pawl_target_free(other);
	pawl_updater_free(u);
	assert_string_equal(pawl_install_outcome_name(99), "unknown");
	assert_string_equal(pawl_install_outcome_name(PAWL_INSTALL_PENDING_REBOOT),
			    "pending_reboot");
}

static void test_install_options(void **state)
{
	struct repo *r = *state;
	struct inst in;
	pawl_install *pi = NULL;
	pawl_install_state st;

	inst_init(r, &in);
	t_fails(pawl_install_open(NULL, &in.o), PAWL_E_INVALID);
	t_fails(pawl_install_open(&pi, NULL), PAWL_E_INVALID);
	in.o.version = PAWL_INSTALL_OPTS_VERSION + 1;
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	in.o.version = PAWL_INSTALL_OPTS_VERSION;
	in.o.backend = "nosuch";
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_UNSUPPORTED);
	t_fails(pawl_install_state_read(&in.o, &st), PAWL_E_UNSUPPORTED);
	/* The slot backend: options version 2, with both slots and a
	 * bootloader; a version 1 caller's struct has no such fields. */
	in.o.backend = "slot";
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	in.o.slot_a = "/nonexistent/a";
	in.o.slot_b = "/nonexistent/b";
	in.o.bootloader = "grub:/nonexistent/grubenv";
	in.o.version = 1;
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	in.o.version = 2;
	in.o.booted = "c";
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	in.o.booted = NULL;
	in.o.slot_b = NULL;
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	assert_null(pi);
	/* A version 1 caller of the folder backend still works. */
	inst_init(r, &in);
	snprintf(in.dir, sizeof(in.dir), "%s/inst-v1", r->dir);
	snprintf(in.state, sizeof(in.state), "%s/state-v1", r->dir);
	in.o.version = 1;
	t_ok(pawl_install_open(&pi, &in.o));
	{
		pawl_install_slot sl[2];

		/* ... and it has no slots */
		t_fails(pawl_install_slots_read(&in.o, sl, NULL, 0), PAWL_E_UNSUPPORTED);
	}
	pawl_install_free(pi);
	pi = NULL;
	inst_init(r, &in);
	in.o.backend = "folder";
	in.o.install_dir = NULL;
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	in.o.install_dir = "";
	t_fails(pawl_install_open(&pi, &in.o), PAWL_E_INVALID);
	assert_null(pi);
	/* Nothing ran yet: an empty state, and nothing was created. */
	inst_init(r, &in);
	t_ok(pawl_install_state_read(&in.o, &st));
	assert_string_equal(st.installed, "");
	assert_int_equal(st.last_outcome, PAWL_INSTALL_NONE);
	assert_int_equal(access(in.dir, F_OK), -1);
}

/* A stream of fixed bytes, for pawl_install_release_stream. */
struct bytes_src {
	const char *p;
	size_t n, off;
	unsigned calls;
};

static int bytes_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct bytes_src *b = ctx;
	size_t k = b->n - b->off < cap ? b->n - b->off : cap;

	b->calls++;
	memcpy(buf, b->p + b->off, k);
	b->off += k;
	*ret_n = k;
	return 0;
}

/* A pawl_install_source over the same fixed bytes, counting its calls. */
struct api_src {
	struct bytes_src b;
	unsigned opens, closes;
};

static int as_len(void *ctx, const char *path, uint64_t *ret)
{
	(void)ctx;
	(void)path;
	*ret = 7;
	return 0;
}

static int as_open(void *ctx, const pawl_install_range *r, size_t n)
{
	struct api_src *s = ctx;

	(void)r;
	(void)n;
	s->opens++;
	s->b.off = 0;
	return 0;
}

static int as_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	return bytes_read(&((struct api_src *)ctx)->b, buf, cap, ret_n);
}

static int as_close(void *ctx)
{
	((struct api_src *)ctx)->closes++;
	return 0;
}

/* A custom bootloader script (boot.h's verbs) keeping its state in files
 * next to it: the slot backend through the public API, without GRUB. */
static const char BOOT_SCRIPT[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")\n"
	"case $1 in\n"
	"get-primary) cat \"$d/primary\" ;;\n"
	"set-primary) echo $2 >\"$d/primary\"; echo good >\"$d/state-$2\" ;;\n"
	"get-state) cat \"$d/state-$2\" ;;\n"
	"set-state) echo $3 >\"$d/state-$2\" ;;\n"
	"get-current) echo a ;;\n"
	"*) exit 1 ;;\n"
	"esac\n";

static void test_install_stream(void **state)
{
	struct repo *r = *state;
	pawl_updater *u = updater(r);
	struct inst in;
	pawl_install *pi = NULL;
	pawl_install_result res;
	pawl_release *img = NULL, *other = NULL, *folder = NULL;
	pawl_target *idx, *pack, *oidx, *ft;
	struct bytes_src src = { "garbage", 7, 0, 0 };

	t_ok(pawl_updater_get_target(&idx, u, "app/9.0.0/app.img"));
	t_ok(pawl_updater_get_target(&pack, u, "app/9.0.0/app.pack"));
	t_ok(pawl_updater_get_target(&oidx, u, "app/8.9.0/app.img"));
	t_ok(pawl_updater_get_target(&ft, u, "app/2.0.0/app.bin"));
	t_ok(pawl_release_from_target(&img, "app", idx));
	t_ok(pawl_release_from_target(&other, "app", oidx));
	t_ok(pawl_release_from_target(&folder, "app", ft));

	/* The folder backend: no pre-download decision, no image streams. */
	inst_init(r, &in);
	t_ok(pawl_install_open(&pi, &in.o));
	t_ok(pawl_install_check(pi, img, &res));
	assert_int_equal(res.outcome, PAWL_INSTALL_NONE);
	t_fails(pawl_install_release_stream(pi, img, idx, pack, bytes_read, &src, &res),
		PAWL_E_UNSUPPORTED);
	/* Arguments, checked before anything is read */
	t_fails(pawl_install_release_stream(pi, img, idx, pack, NULL, &src, &res), PAWL_E_INVALID);
	t_fails(pawl_install_release_stream(pi, img, oidx, pack, bytes_read, &src, &res),
		PAWL_E_INVALID); /* the release is not that target */
	t_fails(pawl_install_release_stream(pi, folder, ft, pack, bytes_read, &src, &res),
		PAWL_E_INVALID); /* not an image */
	t_fails(pawl_install_release_stream(pi, other, oidx, pack, bytes_read, &src, &res),
		PAWL_E_FORMAT); /* its signed image names another pack */
	t_fails(pawl_install_check(pi, NULL, &res), PAWL_E_INVALID);
	assert_int_equal(src.calls, 0);
	/* The same for an image from a source (delta updates, #19) */
	{
		struct api_src as = { { "garbage", 7, 0, 0 }, 0, 0 };
		pawl_install_source ps = { PAWL_INSTALL_SOURCE_VERSION, &as, as_len, as_open,
					   as_read, as_close };
		pawl_install_transfer xf;

		t_fails(pawl_install_release_source(pi, img, idx, &ps, &res), PAWL_E_UNSUPPORTED);
		t_fails(pawl_install_release_source(pi, img, idx, NULL, &res), PAWL_E_INVALID);
		t_fails(pawl_install_release_source(pi, folder, ft, &ps, &res), PAWL_E_INVALID);
		t_fails(pawl_install_release_source(pi, img, oidx, &ps, &res), PAWL_E_INVALID);
		ps.version = PAWL_INSTALL_SOURCE_VERSION + 1;
		t_fails(pawl_install_release_source(pi, img, idx, &ps, &res), PAWL_E_INVALID);
		assert_int_equal(as.opens, 0);
		t_ok(pawl_install_transfer_get(pi, &xf));
		assert_int_equal(xf.streams, 0);
		t_fails(pawl_install_transfer_get(NULL, &xf), PAWL_E_INVALID);
	}
	pawl_install_free(pi);
	pi = NULL;

	/* The slot backend, through the same interface (slots and the
	 * script must be root's: only as root). */
	if (geteuid() == 0) {
		char a[720], b[720], script[760], sdir[700], boot[780], path[760];
		pawl_install_place pl[PAWL_INSTALL_MAX_PLACES];
		pawl_install_slot sl[2];
		pawl_install_state st;
		char note[256], *zero = calloc(1, 1 << 20);
		size_t n = 0;
		int fd;

		assert_non_null(zero);
		snprintf(sdir, sizeof(sdir), "%s/boot", r->dir);
		assert_int_equal(mkdir(sdir, 0755), 0);
		snprintf(script, sizeof(script), "%s/script", sdir);
		t_write_file(script, BOOT_SCRIPT, strlen(BOOT_SCRIPT));
		assert_int_equal(chmod(script, 0755), 0);
		snprintf(path, sizeof(path), "%s/primary", sdir);
		t_write_file(path, "a\n", 2);
		snprintf(path, sizeof(path), "%s/state-a", sdir);
		t_write_file(path, "good\n", 5);
		snprintf(path, sizeof(path), "%s/state-b", sdir);
		t_write_file(path, "bad\n", 4);
		snprintf(a, sizeof(a), "%s/slot-a", r->dir);
		snprintf(b, sizeof(b), "%s/slot-b", r->dir);
		t_write_file(a, zero, 1 << 20);
		t_write_file(b, zero, 1 << 20);
		free(zero);
		assert_int_equal(chmod(a, 0600), 0);
		assert_int_equal(chmod(b, 0600), 0);
		snprintf(boot, sizeof(boot), "custom:%s", script);
		inst_init(r, &in);
		in.o.backend = "slot";
		in.o.install_dir = NULL;
		in.o.slot_a = a;
		in.o.slot_b = b;
		in.o.bootloader = boot;
		in.o.booted = "a";
		t_ok(pawl_install_open(&pi, &in.o));
		t_ok(pawl_install_places(pi, pl, &n));
		assert_int_equal(n, 2);
		assert_string_equal(pl[0].name, "a");
		assert_int_equal(pl[0].state, PAWL_INSTALL_PLACE_ACTIVE);
		assert_string_equal(pl[1].name, "b");
		assert_int_equal(pl[1].state, PAWL_INSTALL_PLACE_BAD);
		/* No staged copy of an image, no rollback command */
		fd = open(a, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		t_fails(pawl_install_release(pi, folder, ft, fd, NULL, &res), PAWL_E_UNSUPPORTED);
		close(fd);
		t_fails(pawl_install_rollback(pi, true, &res), PAWL_E_UNSUPPORTED);
		t_fails(pawl_install_clear_bad(pi, "1.0.0"), PAWL_E_UNSUPPORTED);
		/* The booted slot is marked good; then the decision alone */
		t_ok(pawl_install_mark(pi, true, &res));
		assert_int_equal(res.outcome, PAWL_INSTALL_MARKED_GOOD);
		t_ok(pawl_install_check(pi, img, &res));
		assert_int_equal(res.outcome, PAWL_INSTALL_NONE);
		/* A stream that is not the signed index: refused, b never
		 * becomes primary, and the failure is the installer's. */
		src.off = src.calls = 0;
		assert_true(pawl_install_release_stream(pi, img, idx, pack, bytes_read, &src,
							&res) < 0);
		assert_true(src.calls > 0);
		/* ... and from a source: its index is not the signed one either;
		 * the source was opened once, for the index, and closed. */
		{
			struct api_src as = { { "garbage", 7, 0, 0 }, 0, 0 };
			pawl_install_source ps = { PAWL_INSTALL_SOURCE_VERSION, &as, as_len,
						   as_open, as_read, as_close };
			pawl_install_transfer xf;

			assert_true(pawl_install_release_source(pi, img, idx, &ps, &res) < 0);
			assert_int_equal(as.opens, 1);
			assert_int_equal(as.closes, 1);
			t_ok(pawl_install_transfer_get(pi, &xf));
			assert_int_equal(xf.streams, 1);
			assert_int_equal(xf.bytes_index, pawl_target_length(idx));
		}
		pawl_install_free(pi);
		pi = NULL;
		snprintf(path, sizeof(path), "%s/primary", sdir);
		{
			char got[8] = "";
			FILE *f = fopen(path, "r");

			assert_non_null(f);
			assert_non_null(fgets(got, sizeof(got), f));
			fclose(f);
			assert_string_equal(got, "a\n");
		}
		/* The status view, read-only */
		t_ok(pawl_install_slots_read(&in.o, sl, note, sizeof(note)));
		assert_string_equal(sl[0].name, "a");
		assert_true(sl[0].booted && sl[0].primary && !sl[0].pending);
		assert_int_equal(sl[0].state, PAWL_INSTALL_SLOT_GOOD);
		assert_string_equal(sl[1].path, b);
		assert_int_equal(sl[1].state, PAWL_INSTALL_SLOT_BAD);
		assert_false(sl[1].booted || sl[1].primary);
		t_ok(pawl_install_state_read(&in.o, &st));
		assert_false(st.unfinished);
		/* mark-bad on the booted slot: reboot */
		t_ok(pawl_install_open(&pi, &in.o));
		t_ok(pawl_install_mark(pi, false, &res));
		assert_int_equal(res.outcome, PAWL_INSTALL_MARKED_BAD);
		pawl_install_free(pi);
		pi = NULL;
	}
	pawl_release_free(img);
	pawl_release_free(other);
	pawl_release_free(folder);
	pawl_target_free(idx);
	pawl_target_free(pack);
	pawl_target_free(oidx);
	pawl_target_free(ft);
	pawl_updater_free(u);
}

/* ---------------- audit ---------------- */

static void test_audit_write_read_verify(void **state)
{
	struct repo *r = *state;
	pawl_audit_opts o = PAWL_AUDIT_OPTS_INIT;
	pawl_audit *log = NULL;
	pawl_audit_head h, ah;
	pawl_audit_anchor *an = NULL;
	pawl_audit_iter *it = NULL;
	const pawl_audit_entry *e;
	const char *text;
	pawl_audit_report rep;
	char path[1024], apath[1024];
	int64_t v;
	int n = 0;

	o.syslog = false;
	o.create_dir_mode = 0700;
	snprintf(path, sizeof(path), "%s/new/dir/audit.log", r->dir);
	snprintf(apath, sizeof(apath), "%s/new/dir/agent.json", r->dir);
	t_ok(pawl_audit_open(&log, path, &o));
	t_ok(pawl_audit_appendf(log, "update.start", PAWL_AUDIT_STR("app", "a b"),
				PAWL_AUDIT_INT("n", 7), PAWL_AUDIT_BOOL("ok", 1)));
	t_ok(pawl_audit_failuref(log, "agent.failure", "it\nbroke", PAWL_AUDIT_STR("step", "x")));
	/* The program's names must be valid. */
	t_fails(pawl_audit_appendf(log, "Bad Type", PAWL_AUDIT_INT("n", 1)), PAWL_E_INVALID);
	t_fails(pawl_audit_appendf(log, "audit.start", PAWL_AUDIT_INT("n", 1)), PAWL_E_INVALID);
	t_fails(pawl_audit_appendf(log, "ok", PAWL_AUDIT_INT("1n", 1)), PAWL_E_INVALID);
	t_fails(pawl_audit_append(NULL, "ok", NULL, 0), PAWL_E_INVALID);

	t_ok(pawl_audit_anchor_save(log, apath, (const pawl_audit_field[]){
			PAWL_AUDIT_INT("last_check", 1700000000),
			PAWL_AUDIT_STR("last_outcome", "installed"),
			PAWL_AUDIT_BOOL("flag", 0), PAWL_AUDIT_STR("none", NULL) }, 4));
	t_fails(pawl_audit_anchor_save(log, apath, (const pawl_audit_field[]){
			PAWL_AUDIT_INT("audit", 1) }, 1), PAWL_E_INVALID);
	t_fails(pawl_audit_anchor_save(log, apath, (const pawl_audit_field[]){
			PAWL_AUDIT_INT("k", 1), PAWL_AUDIT_INT("k", 2) }, 2), PAWL_E_INVALID);
	t_ok(pawl_audit_last(log, &h));
	assert_int_equal(h.seq, 2);
	t_ok(pawl_audit_close(log));

	/* The anchor file: canonical JSON, sorted keys. */
	{
		size_t len;
		char *got = t_read_file(apath, &len);
		char want[512];

		snprintf(want, sizeof(want), "{\"audit\":{\"hash\":\"%s\",\"log\":\"%s\","
			 "\"seq\":2},\"flag\":false,\"last_check\":1700000000,"
			 "\"last_outcome\":\"installed\",\"none\":null}", h.hash, h.log);
		assert_string_equal(got, want);
		free(got);
	}
	t_ok(pawl_audit_anchor_load(&an, apath));
	t_ok(pawl_audit_anchor_head(an, &ah));
	assert_int_equal(ah.seq, h.seq);
	assert_string_equal(ah.hash, h.hash);
	t_ok(pawl_audit_anchor_int(an, "last_check", &v));
	assert_int_equal(v, 1700000000);
	t_fails(pawl_audit_anchor_int(an, "last_outcome", &v), PAWL_E_NOT_FOUND);
	assert_string_equal(pawl_audit_anchor_str(an, "last_outcome"), "installed");
	assert_null(pawl_audit_anchor_str(an, "missing"));
	pawl_audit_anchor_free(an);

	t_ok(pawl_audit_iter_new(&it, path, PAWL_AUDIT_SINCE_ALL));
	for (;;) {
		t_ok(pawl_audit_iter_next(it, &e));
		if (!e)
			break;
		assert_int_equal(e->seq, (uint64_t)n);
		t_ok(pawl_audit_iter_fields_text(it, &text));
		if (n == 1) {
			assert_string_equal(e->type, "update.start");
			assert_string_equal(text, " app=\"a b\" n=7 ok=true");
		}
		if (n == 2) {
			assert_string_equal(e->type, "agent.failure");
			/* the newline became a space */
			assert_non_null(strstr(text, "reason=\"it broke\""));
		}
		n++;
	}
	assert_int_equal(n, 3);
	pawl_audit_iter_free(it);

	t_ok(pawl_audit_verify(path, NULL, &ah, &rep));
	assert_int_equal(rep.problem, PAWL_AUDIT_OK);
	assert_int_equal(rep.entries, 3);

	/* An anchor the log does not hold: caught. */
	ah.seq = 7;
	t_fails(pawl_audit_verify(path, NULL, &ah, &rep), PAWL_E_HASH);
	assert_string_equal(pawl_audit_problem_name(rep.problem), "truncated");

	/* An edited entry: caught. */
	{
		size_t len;
		char *data = t_read_file(path, &len);
		char *p = strstr(data, "a b");

		assert_non_null(p);
		p[0] = 'A';
		t_write_file(path, data, len);
		free(data);
	}
	t_fails(pawl_audit_verify(path, NULL, NULL, &rep), PAWL_E_HASH);
	assert_string_equal(pawl_audit_problem_name(rep.problem), "edited");
	assert_string_equal(pawl_audit_problem_name(-1), "unknown");
}

static void test_audit_invalid(void **state)
{
	struct repo *r = *state;
	pawl_audit_opts o = PAWL_AUDIT_OPTS_INIT;
	pawl_audit *log = NULL;
	pawl_audit_anchor *an = NULL;
	pawl_audit_iter *it = NULL;
	pawl_audit_report rep;
	char path[1024];
	int64_t t;
	int f;

	snprintf(path, sizeof(path), "%s/missing/audit.log", r->dir);
	o.syslog = false;
	/* Without create_dir_mode the directory must exist. */
	t_fails(pawl_audit_open(&log, path, &o), PAWL_E_NOT_FOUND);
	o.version = 2;
	t_fails(pawl_audit_open(&log, path, &o), PAWL_E_INVALID);
	t_fails(pawl_audit_open(NULL, path, NULL), PAWL_E_INVALID);
	t_fails(pawl_audit_open(&log, "", NULL), PAWL_E_INVALID);
	assert_null(log);
	t_fails(pawl_audit_iter_new(&it, path, PAWL_AUDIT_SINCE_ALL), PAWL_E_NOT_FOUND);
	t_fails(pawl_audit_verify(path, NULL, NULL, &rep), PAWL_E_NOT_FOUND);
	t_fails(pawl_audit_anchor_load(&an, path), PAWL_E_NOT_FOUND);
	snprintf(path, sizeof(path), "%s/notjson", r->dir);
	t_write_file(path, "{nope", 5);
	t_fails(pawl_audit_anchor_load(&an, path), PAWL_E_FORMAT);
	t_write_file(path, "{\"audit\":{\"seq\":1}}", 19);
	t_ok(pawl_audit_anchor_load(&an, path));
	{
		pawl_audit_head h;

		t_fails(pawl_audit_anchor_head(an, &h), PAWL_E_FORMAT);
	}
	pawl_audit_anchor_free(an);
	t_fails(pawl_audit_facility_from_name("nosuch", &f), PAWL_E_INVALID);
	t_ok(pawl_audit_facility_from_name("local3", &f));
	assert_int_equal(f, 19 << 3);
	t_fails(pawl_audit_since_parse("yesterday", &t), PAWL_E_INVALID);
	t_ok(pawl_audit_since_parse("2025-01-01", &t));
	assert_int_equal(t, 1735689600);
	t_fails(pawl_audit_flush(NULL), PAWL_E_INVALID);
	t_fails(pawl_audit_close(NULL), PAWL_E_INVALID);
	pawl_audit_free(NULL);
	pawl_audit_iter_free(NULL);
	pawl_audit_anchor_free(NULL);
}

/* ---------------- versions and errors ---------------- */

static void test_semver(void **state)
{
	int c = 99;

	(void)state;
	t_ok(pawl_semver_check("1.2.3-rc.1+build"));
	t_fails(pawl_semver_check("v1.2.3"), PAWL_E_FORMAT);
	t_fails(pawl_semver_check("01.2.3"), PAWL_E_FORMAT);
	t_fails(pawl_semver_check("99999999999999999999.0.0"), PAWL_E_LIMIT);
	t_fails(pawl_semver_check(NULL), PAWL_E_INVALID);
	t_ok(pawl_semver_compare(&c, "1.0.0-rc.1", "1.0.0"));
	assert_true(c < 0);
	t_ok(pawl_semver_compare(&c, "1.0.0+a", "1.0.0+b"));
	assert_int_equal(c, 0);
	t_ok(pawl_semver_compare(&c, "1.10.0", "1.9.0"));
	assert_true(c > 0);
	c = 99;
	t_fails(pawl_semver_compare(&c, "1.0", "1.0.0"), PAWL_E_FORMAT);
	assert_int_equal(c, 99);
	t_fails(pawl_semver_compare(NULL, "1.0.0", "1.0.0"), PAWL_E_INVALID);
}

static void test_error_setters(void **state)
{
	(void)state;
	assert_int_equal(pawl_error_set(PAWL_E_INVALID, "bad %s", "thing"), PAWL_E_INVALID);
	assert_string_equal(pawl_error_last()->message, "bad thing");
	assert_int_equal(pawl_error_prefix(PAWL_E_INVALID, "step: "), PAWL_E_INVALID);
	assert_string_equal(pawl_error_last()->message, "step: bad thing");
	assert_int_equal(pawl_error_last()->code, PAWL_E_INVALID);
	assert_int_equal(pawl_error_set_errno(PAWL_E_IO, 2, "open %s", "x"), PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "open x"));
	pawl_error_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_release_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_from_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_updater_additions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_write_read_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_invalid, setup, teardown),
		cmocka_unit_test(test_semver),
		cmocka_unit_test(test_error_setters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

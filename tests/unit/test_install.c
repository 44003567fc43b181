/*
 * test_install.c - the install state machine and the archive extractor.
 *
 * Every refusal has a test where it fires: hostile archives built here
 * with libarchive's writer (absolute paths, "..", links out of the
 * release, the link-then-file-through-it trick, hard links out, devices,
 * FIFOs, setuid bits, size and entry bombs, lying headers), staged bytes
 * that no longer match the signed length and hashes, older or equal
 * releases, bad versions, corrupt state. Health checks pass, fail and time
 * out; and an installer killed with SIGKILL at random instants always
 * leaves `current` on a complete release that install_recover() accepts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "crypto/crypto.h"
#include "install/install.h"
#include "install/install_impl.h"
#include "json/json.h"
#include "pawl/common.h"
#include "testing.h"

/* ---------------- fixture ---------------- */

struct fx {
	char *root;
	char inst[PATH_MAX], state[PATH_MAX], stage[PATH_MAX], outside[PATH_MAX];
	install_ctx *c;
	install_opts o;
	char health[PATH_MAX * 2];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->root = t_mkdtemp();
	snprintf(f->inst, sizeof(f->inst), "%s/inst", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->stage, sizeof(f->stage), "%s/stage", f->root);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->root);
	assert_int_equal(mkdir(f->stage, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	f->o.version = INSTALL_OPTS_VERSION;
	f->o.install_dir = f->inst;
	f->o.state_dir = f->state;
	f->o.health_timeout_ms = 10000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	install_close(f->c);
	t_rm_rf(f->root);
	free(f->root);
	free(f);
	return 0;
}

static void fx_open(struct fx *f)
{
	install_close(f->c);
	f->c = NULL;
	t_ok(install_open(&f->c, &f->o));
}

static void fx_health(struct fx *f, const char *cmd)
{
	if (cmd) {
		snprintf(f->health, sizeof(f->health), "%s", cmd);
		f->o.health_cmd = f->health;
	} else {
		f->o.health_cmd = NULL;
	}
	fx_open(f);
}

static const char *P(const char *dir, const char *name)
{
	static char buf[8][PATH_MAX * 2];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---------------- building archives ---------------- */

enum { E_FILE, E_DIR, E_LINK, E_HARD, E_CHR, E_FIFO };

struct ent {
	int type;
	const char *path;
	const char *data; /* file contents, or the link target */
	mode_t mode;      /* 0: 0644 / 0755 */
};

static void write_archive(const char *path, install_kind kind, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	switch (kind) {
	case INSTALL_KIND_TAR_GZ:
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
		break;
	case INSTALL_KIND_TAR_XZ:
		assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
		break;
	case INSTALL_KIND_TAR_ZST:
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
		break;
	default:
		break;
	}
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = 0;

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_mtime(ae, 1700000000, 0);
		switch (e[i].type) {
		case E_FILE:
			len = strlen(e[i].data);
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
			archive_entry_set_size(ae, (la_int64_t)len);
			break;
		case E_DIR:
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0755);
			break;
		case E_LINK:
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case E_HARD:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, 0644);
			archive_entry_set_hardlink(ae, e[i].data);
			archive_entry_set_size(ae, 0);
			break;
		case E_CHR:
			archive_entry_set_filetype(ae, AE_IFCHR);
			archive_entry_set_perm(ae, 0666);
			archive_entry_set_rdev(ae, makedev(1, 3));
			break;
		case E_FIFO:
			archive_entry_set_filetype(ae, AE_IFIFO);
			archive_entry_set_perm(ae, 0644);
			break;
		}
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* A release: a marker holding the version, a tree of data files, a link
 * and a hard link inside the release. */
static void write_release(const char *path, install_kind kind, const char *version)
{
	char files[10][64], app[128];
	struct ent e[20];
	size_t n = 0;

	snprintf(app, sizeof(app), "#!/bin/sh\necho %s\n", version);
	e[n++] = (struct ent){ E_DIR, "./", NULL, 0 };
	e[n++] = (struct ent){ E_DIR, "bin", NULL, 0 };
	e[n++] = (struct ent){ E_FILE, "bin/app", app, 0755 };
	e[n++] = (struct ent){ E_FILE, "marker", version, 0 };
	for (int i = 0; i < 10; i++) {
		snprintf(files[i], sizeof(files[i]), "%s:%d", version, i);
		e[n++] = (struct ent){ E_FILE, NULL, files[i], 0 };
	}
	/* paths for the data files (implicit parent directory) */
	{
		static char names[10][32];

		for (int i = 0; i < 10; i++) {
			snprintf(names[i], sizeof(names[i]), "share/data/%d.txt", i);
			e[4 + i].path = names[i];
		}
	}
	e[n++] = (struct ent){ E_LINK, "lib", "bin", 0 };
	e[n++] = (struct ent){ E_LINK, "share/app", "../bin/app", 0 };
	e[n++] = (struct ent){ E_HARD, "marker.hard", "marker", 0 };
	write_archive(path, kind, e, n);
}

/* ---------------- hashes and artifacts ---------------- */

struct staged {
	char path[PATH_MAX * 2];
	char name[128];
	pj_doc *hashes;
	uint64_t length;
};

static void hash_file(struct staged *s)
{
	size_t len;
	char *data = t_read_file(s->path, &len);
	uint8_t d256[HASH_MAX_LEN], d512[HASH_MAX_LEN];
	char h256[129], h512[129], json[400];

	t_ok(hash_once(HASH_SHA256, data, len, d256));
	t_ok(hash_once(HASH_SHA512, data, len, d512));
	hex_encode(h256, d256, 32);
	hex_encode(h512, d512, 64);
	snprintf(json, sizeof(json), "{\"sha256\":\"%s\",\"sha512\":\"%s\"}", h256, h512);
	pj_doc_free(s->hashes);
	s->hashes = NULL;
	t_ok(pj_parse_copy(&s->hashes, json, strlen(json), NULL));
	s->length = len;
	free(data);
}

static void unstage(struct staged *s)
{
	pj_doc_free(s->hashes);
	s->hashes = NULL;
}

static void stage_file(struct fx *f, struct staged *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->path, sizeof(s->path), "%s/%s", f->stage, name);
}

static install_artifact art_of(const struct staged *s, const char *version, bool recovery)
{
	install_artifact a;

	memset(&a, 0, sizeof(a));
	a.version = version;
	a.fd = -1;
	a.path = s->path;
	a.name = s->name;
	a.length = s->length;
	a.hashes = pj_root(s->hashes);
	a.kind = INSTALL_KIND_AUTO;
	a.recovery = recovery;
	return a;
}

static const char *suffix_of(install_kind k)
{
	switch (k) {
	case INSTALL_KIND_TAR:
		return ".tar";
	case INSTALL_KIND_TAR_GZ:
		return ".tar.gz";
	case INSTALL_KIND_TAR_XZ:
		return ".tar.xz";
	case INSTALL_KIND_TAR_ZST:
		return ".tar.zst";
	default:
		return "";
	}
}

/* Build and install a standard release of the given kind. */
static int install_kind_version(struct fx *f, const char *version, install_kind kind,
				bool recovery, install_result *res)
{
	struct staged s;
	install_artifact a;
	char name[128];
	int r;

	snprintf(name, sizeof(name), "app-%s%s", version, suffix_of(kind));
	stage_file(f, &s, name);
	if (kind == INSTALL_KIND_FILE)
		t_write_file(s.path, version, strlen(version));
	else
		write_release(s.path, kind, version);
	hash_file(&s);
	a = art_of(&s, version, recovery);
	memset(res, 0, sizeof(*res));
	r = install_release(f->c, &a, res);
	unstage(&s);
	return r;
}

static int install_version(struct fx *f, const char *version, bool recovery, install_result *res)
{
	return install_kind_version(f, version, INSTALL_KIND_TAR_GZ, recovery, res);
}

static void installed_ok(struct fx *f, const char *version)
{
	install_result res;

	t_ok(install_version(f, version, false, &res));
	if (res.outcome != INSTALL_INSTALLED)
		fail_msg("installing %s: %s (%s)", version, install_outcome_name(res.outcome),
			 res.message);
}

/* Install an archive of hostile entries: expect code, and no trace. */
static void hostile(struct fx *f, const struct ent *e, size_t n, int code, const char *why)
{
	struct staged s;
	install_artifact a;
	install_result res;
	DIR *d;
	struct dirent *de;
	int r;

	stage_file(f, &s, "evil.tar");
	write_archive(s.path, INSTALL_KIND_TAR, e, n);
	hash_file(&s);
	a = art_of(&s, "9.0.0", false);
	r = install_release(f->c, &a, &res);
	if (r != code)
		fail_msg("hostile archive: got %d, want %d (%s)", r, code,
			 pawl_error_last()->message);
	if (getenv("PAWL_TEST_VERBOSE"))
		print_message("refused: %s\n", pawl_error_last()->message);
	/* refused by the check meant, not by another one on the way */
	if (!strstr(pawl_error_last()->message, why))
		fail_msg("hostile archive: \"%s\" does not say \"%s\"", pawl_error_last()->message,
			 why);
	unstage(&s);
	/* nothing left behind in releases/, nothing journalled */
	d = opendir(P(f->inst, "releases"));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "1.0.0"))
			fail_msg("left behind: releases/%s", de->d_name);
	}
	closedir(d);
	assert_int_equal(install_get_state(f->c)->journal.op, INSTALL_OP_NONE);
	assert_int_equal(install_get_state(f->c)->last_outcome, INSTALL_ERROR);
	assert_string_equal(install_get_state(f->c)->installed, "1.0.0");
}

/* current -> releases/VERSION, with a marker file saying VERSION */
static void assert_current(struct fx *f, const char *version, const char *marker)
{
	char link[PATH_MAX], want[PATH_MAX];
	ssize_t n = readlink(P(f->inst, "current"), link, sizeof(link) - 1);

	if (!version) {
		assert_true(n < 0 && errno == ENOENT);
		return;
	}
	assert_true(n > 0);
	link[n] = '\0';
	snprintf(want, sizeof(want), "releases/%s", version);
	assert_string_equal(link, want);
	if (marker) {
		char mp[PATH_MAX * 2];
		char *m;

		snprintf(mp, sizeof(mp), "%s/current/%s", f->inst, marker);
		m = t_read_file(mp, NULL);

		assert_string_equal(m, version);
		free(m);
	}
}

/* The names in releases/, sorted and joined by ' '. */
static void list_releases(struct fx *f, char *out, size_t outsz)
{
	struct dirent **ents;
	int n = scandir(P(f->inst, "releases"), &ents, NULL, alphasort);
	size_t len = 0;

	assert_true(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			int w = snprintf(out + len, outsz - len, "%s%s", len ? " " : "",
					 ents[i]->d_name);

			assert_true(w > 0 && (size_t)w < outsz - len);
			len += (size_t)w;
		}
		free(ents[i]);
	}
	free(ents);
}

/* ---------------- kinds ---------------- */

static void test_kinds(void **state)
{
	static const install_kind kinds[] = { INSTALL_KIND_TAR, INSTALL_KIND_TAR_GZ,
					      INSTALL_KIND_TAR_XZ, INSTALL_KIND_TAR_ZST };
	struct fx *f = *state;
	install_result res;
	char version[32];
	struct stat st;

	fx_open(f);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(version, sizeof(version), "1.%zu.0", i);
		t_ok(install_kind_version(f, version, kinds[i], false, &res));
		assert_int_equal(res.outcome, INSTALL_INSTALLED);
		assert_string_equal(res.current, version);
		assert_current(f, version, "marker");
		assert_current(f, version, "marker.hard");
		/* links inside the release work; modes are normalised */
		{
			char *d = t_read_file(P(f->inst, "current/lib/app"), NULL);

			assert_non_null(strstr(d, version));
			free(d);
			d = t_read_file(P(f->inst, "current/share/app"), NULL);
			assert_non_null(strstr(d, version));
			free(d);
		}
		assert_int_equal(stat(P(f->inst, "current/bin/app"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		assert_int_equal(stat(P(f->inst, "current/marker"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
		assert_int_equal(stat(P(f->inst, "current/share/data"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		assert_int_equal(stat(P(f->inst, "current/share/data/9.txt"), &st), 0);
	}
	assert_string_equal(install_get_state(f->c)->installed, "1.3.0");
	assert_string_equal(install_get_state(f->c)->previous, "1.2.0");
	assert_string_equal(install_get_state(f->c)->highest, "1.3.0");
}

static void test_single_file(void **state)
{
	struct fx *f = *state;
	install_result res;
	struct stat st;

	fx_open(f);
	t_ok(install_kind_version(f, "0.1.0", INSTALL_KIND_FILE, false, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_current(f, "0.1.0", "app-0.1.0");
	assert_int_equal(stat(P(f->inst, "current/app-0.1.0"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(install_kind_from_name("x.tgz"), INSTALL_KIND_TAR_GZ);
	assert_int_equal(install_kind_from_name("x.tzst"), INSTALL_KIND_TAR_ZST);
	assert_int_equal(install_kind_from_name("x.txz"), INSTALL_KIND_TAR_XZ);
	assert_int_equal(install_kind_from_name("x.gz"), INSTALL_KIND_FILE);
	assert_int_equal(install_kind_from_name(".tar"), INSTALL_KIND_FILE);
}

/* The name says gzip, the bytes are xz: refused before libarchive bids. */
static void test_kind_mismatch(void **state)
{
	struct fx *f = *state;
	struct staged s;
	install_artifact a;
	install_result res;

	fx_open(f);
	stage_file(f, &s, "app.tar.gz");
	write_release(s.path, INSTALL_KIND_TAR_XZ, "1.0.0");
	hash_file(&s);
	a = art_of(&s, "1.0.0", false);
	t_fails(install_release(f->c, &a, &res), PAWL_E_FORMAT);
	a.kind = INSTALL_KIND_TAR;
	t_fails(install_release(f->c, &a, &res), PAWL_E_FORMAT);
	a.kind = INSTALL_KIND_TAR_ZST;
	t_fails(install_release(f->c, &a, &res), PAWL_E_FORMAT);
	a.kind = INSTALL_KIND_TAR_XZ;
	t_ok(install_release(f->c, &a, &res));
	assert_current(f, "1.0.0", "marker");
	unstage(&s);
}

/* ---------------- re-verification ---------------- */

static void test_reverify(void **state)
{
	struct fx *f = *state;
	struct staged s;
	install_artifact a;
	install_result res;
	pj_doc *weak = NULL;
	size_t len;
	char *data;
	int fd;

	fx_open(f);
	installed_ok(f, "1.0.0");
	stage_file(f, &s, "app-2.0.0.tar.gz");
	write_release(s.path, INSTALL_KIND_TAR_GZ, "2.0.0");
	hash_file(&s);
	a = art_of(&s, "2.0.0", false);

	/* signed length one byte short / long of the file */
	a.length = s.length - 1;
	t_fails(install_release(f->c, &a, &res), PAWL_E_LENGTH);
	a.length = s.length + 1;
	t_fails(install_release(f->c, &a, &res), PAWL_E_LENGTH);
	a.length = s.length;

	/* the staged bytes changed after download: one byte flipped. The
	 * check comes before anything is created in install_dir: releases/
	 * is not even modified. */
	data = t_read_file(s.path, &len);
	data[len / 2] ^= 1;
	t_write_file(s.path, data, len);
	{
		struct stat before, after;

		assert_int_equal(stat(P(f->inst, "releases"), &before), 0);
		usleep(20000);
		t_fails(install_release(f->c, &a, &res), PAWL_E_HASH);
		assert_int_equal(stat(P(f->inst, "releases"), &after), 0);
		assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
			    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
		assert_int_equal(install_get_state(f->c)->last_outcome, INSTALL_ERROR);
		assert_string_equal(install_get_state(f->c)->last_version, "2.0.0");
	}
	/* ... or grew (appended garbage) */
	data[len / 2] ^= 1;
	fd = open(s.path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	t_fails(install_release(f->c, &a, &res), PAWL_E_LENGTH);
	t_write_file(s.path, data, len);
	free(data);

	/* an algorithm pawl cannot check is not skipped */
	{
		const char *md5 = "{\"md5\":\"00112233445566778899aabbccddeeff\"}";

		t_ok(pj_parse_copy(&weak, md5, strlen(md5), NULL));
	}
	a.hashes = pj_root(weak);
	assert_true(install_release(f->c, &a, &res) < 0);
	a.hashes = pj_root(s.hashes);

	/* a symbolic link as the staged file is refused */
	assert_int_equal(symlink(s.path, P(f->stage, "link.tar.gz")), 0);
	a.path = P(f->stage, "link.tar.gz");
	t_fails(install_release(f->c, &a, &res), PAWL_E_IO);
	a.path = s.path;

	/* nothing of the failures is visible */
	assert_current(f, "1.0.0", "marker");
	assert_false(exists(P(f->inst, "releases/2.0.0")));
	assert_string_equal(install_get_state(f->c)->highest, "1.0.0");

	/* through a descriptor, restored bytes: accepted */
	fd = open(s.path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	a.fd = fd;
	a.path = NULL;
	t_ok(install_release(f->c, &a, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	close(fd);
	assert_current(f, "2.0.0", "marker");
	unstage(&s);
	pj_doc_free(weak);
}

/* ---------------- RAUC CVE-2020-25860: changed after verification ----------------
 *
 * RAUC checked a bundle's signature, then mounted the bundle file again by
 * its path: whoever could write the file in between installed what they
 * liked. Here the staged file is changed at the two moments that matter:
 * after the first check, before the private copy is made and checked
 * (the journal's "begin" is written then), and after that, just before the
 * archive is unpacked. The test binary is linked with
 * -Wl,--wrap=state_write -Wl,--wrap=archive_extract (tests/unit/meson.build),
 * so the wrappers below run at those moments; with no attack armed they
 * only pass the call on. Nothing in the library changes for the test.
 */
int __real_state_write(int dirfd, const install_state *st);
int __wrap_state_write(int dirfd, const install_state *st);
int __real_archive_extract(int src_fd, install_kind kind, int dst_dirfd,
			   const archive_limits *lim, const char *what);
int __wrap_archive_extract(int src_fd, install_kind kind, int dst_dirfd,
			   const archive_limits *lim, const char *what);

enum toctou_when { AT_NONE, AT_BEGIN, AT_EXTRACT };
enum toctou_how { REWRITE, REPLACE };

static struct {
	enum toctou_when when;
	enum toctou_how how;
	const char *staged; /* the path install_release() was given */
	const char *evil;   /* what takes its place */
	int fired;
} toctou;

static void toctou_fire(enum toctou_when now)
{
	if (toctou.when != now || toctou.fired)
		return;
	toctou.fired++;
	if (toctou.how == REPLACE) {
		/* another file renamed over the name */
		assert_int_equal(rename(toctou.evil, toctou.staged), 0);
	} else {
		/* the same file (inode) rewritten in place */
		size_t len;
		char *data = t_read_file(toctou.evil, &len);
		int fd = open(toctou.staged, O_WRONLY | O_TRUNC | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, data, len), (ssize_t)len);
		assert_int_equal(close(fd), 0);
		free(data);
	}
}

int __wrap_state_write(int dirfd, const install_state *st)
{
	if (st->journal.op == INSTALL_OP_INSTALL && st->journal.phase == INSTALL_PHASE_BEGIN)
		toctou_fire(AT_BEGIN);
	return __real_state_write(dirfd, st);
}

int __wrap_archive_extract(int src_fd, install_kind kind, int dst_dirfd,
			   const archive_limits *lim, const char *what)
{
	toctou_fire(AT_EXTRACT);
	return __real_archive_extract(src_fd, kind, dst_dirfd, lim, what);
}

/* Install VERSION (a plain tar) while the attack swaps in a tar of
 * "6.6.6": the same length, other bytes. */
static int install_under_attack(struct fx *f, const char *version, enum toctou_when when,
				enum toctou_how how, install_result *res)
{
	struct staged s;
	install_artifact a;
	char evil[PATH_MAX * 2], name[64];
	struct stat good, bad;
	int r;

	assert_int_equal(strlen(version), strlen("6.6.6"));
	snprintf(name, sizeof(name), "app-%s.tar", version);
	stage_file(f, &s, name);
	write_release(s.path, INSTALL_KIND_TAR, version);
	hash_file(&s);
	snprintf(evil, sizeof(evil), "%s/evil.tar", f->stage);
	write_release(evil, INSTALL_KIND_TAR, "6.6.6");
	assert_int_equal(stat(s.path, &good), 0);
	assert_int_equal(stat(evil, &bad), 0);
	assert_int_equal(good.st_size, bad.st_size);
	a = art_of(&s, version, false);
	toctou.when = when;
	toctou.how = how;
	toctou.staged = s.path;
	toctou.evil = evil;
	toctou.fired = 0;
	memset(res, 0, sizeof(*res));
	r = install_release(f->c, &a, res);
	toctou.when = AT_NONE;
	assert_int_equal(toctou.fired, 1);
	/* the attack happened: the staged name now holds 6.6.6 */
	{
		size_t n1, n2;
		char *x = t_read_file(s.path, &n1);
		char *y = NULL;

		write_release(evil, INSTALL_KIND_TAR, "6.6.6");
		y = t_read_file(evil, &n2);
		assert_true(n1 == n2 && memcmp(x, y, n1) == 0);
		free(x);
		free(y);
	}
	unlink(evil);
	unlink(s.path);
	unstage(&s);
	return r;
}

static void test_cve_2020_25860_changed_after_verification(void **state)
{
	struct fx *f = *state;
	install_result res;
	char list[1024];

	fx_open(f);
	installed_ok(f, "1.0.0");

	/* Rewritten between the first check and the private copy: the copy
	 * is checked again as it is made, and refused. */
	t_fails(install_under_attack(f, "2.0.0", AT_BEGIN, REWRITE, &res), PAWL_E_HASH);
	assert_current(f, "1.0.0", "marker");
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.0.0");
	assert_int_equal(install_get_state(f->c)->journal.op, INSTALL_OP_NONE);
	assert_string_equal(install_get_state(f->c)->highest, "1.0.0");

	/* Rewritten after the private copy was checked, before unpacking:
	 * only the verified private copy is unpacked. */
	t_ok(install_under_attack(f, "3.0.0", AT_EXTRACT, REWRITE, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_current(f, "3.0.0", "marker");

	/* Another file renamed over the staged name after the first check:
	 * the descriptor that was checked is the one that is read. */
	t_ok(install_under_attack(f, "4.0.0", AT_BEGIN, REPLACE, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_current(f, "4.0.0", "marker");
	t_ok(install_under_attack(f, "5.0.0", AT_EXTRACT, REPLACE, &res));
	assert_current(f, "5.0.0", "marker");
	list_releases(f, list, sizeof(list));
	assert_null(strstr(list, "6.6.6"));
	assert_null(strstr(list, ".tmp"));
}

/* ---------------- RAUC CVE-2026-34155: over 2 GiB, changed at the end ----------------
 *
 * RAUC's plain bundles over 2 GiB were signed and checked only up to
 * 2 GiB. A single-file release of 2 GiB + 1 MiB + 1 bytes (sparse) whose
 * last byte is not the signed one is refused by the first check, which
 * reads it to the end, and nothing is written. */
#define BIG_LEN (((uint64_t)2 << 30) + ((uint64_t)1 << 20) + 1)

static void test_cve_2026_34155_large_changed_at_end(void **state)
{
	static uint8_t zeros[1 << 20];
	struct fx *f = *state;
	struct staged s;
	install_artifact a;
	install_result res;
	uint8_t d[HASH_MAX_LEN];
	char hex[65], json[128], list[1024];
	hash_ctx *h;
	int fd;

	fx_open(f);
	installed_ok(f, "1.0.0");
	stage_file(f, &s, "image.img");
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
	snprintf(json, sizeof(json), "{\"sha256\":\"%s\"}", hex);
	t_ok(pj_parse_copy(&s.hashes, json, strlen(json), NULL));
	s.length = BIG_LEN;
	fd = open(s.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)BIG_LEN), 0);
	assert_int_equal(pwrite(fd, "B", 1, (off_t)(BIG_LEN - 1)), 1);
	assert_int_equal(close(fd), 0);
	a = art_of(&s, "2.0.0", false);
	assert_int_equal(install_kind_from_name(a.name), INSTALL_KIND_FILE);
	t_fails(install_release(f->c, &a, &res), PAWL_E_HASH);
	assert_non_null(strstr(pawl_error_last()->message, "sha256 digest does not match"));
	assert_current(f, "1.0.0", "marker");
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.0.0");
	unlink(s.path);
	unstage(&s);
}

/* ---------------- hostile archives ---------------- */

static void test_hostile_paths(void **state)
{
	struct fx *f = *state;
	char abs[PATH_MAX * 2];

	fx_open(f);
	installed_ok(f, "1.0.0");
	snprintf(abs, sizeof(abs), "%s/abs", f->outside);
	{
		struct ent e[] = { { E_FILE, "ok", "x", 0 }, { E_FILE, abs, "pwned", 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"is an absolute path");
	}
	{
		struct ent e[] = { { E_FILE, "../outside/dotdot", "pwned", 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"\"..\" component");
	}
	{
		struct ent e[] = { { E_DIR, "a", NULL, 0 },
				   { E_FILE, "a/../../outside/dotdot2", "pwned", 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"\"..\" component");
	}
	{
		struct ent e[] = { { E_DIR, "..", NULL, 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"\"..\" component");
	}
	/* a file where the release directory itself should be */
	{
		struct ent e[] = { { E_FILE, ".", "x", 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"names the release directory");
	}
	assert_false(exists(abs));
	assert_false(exists(P(f->outside, "dotdot")));
	assert_false(exists(P(f->outside, "dotdot2")));
}

static void test_hostile_links(void **state)
{
	struct fx *f = *state;
	char abs[PATH_MAX * 2];

	fx_open(f);
	installed_ok(f, "1.0.0");
	/* a link to /etc, then a file through it */
	{
		struct ent e[] = { { E_LINK, "etc", "/etc", 0 },
				   { E_FILE, "etc/pawl-pwned", "pwned", 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"absolute target");
	}
	/* a relative link climbing out */
	{
		struct ent e[] = { { E_DIR, "d", NULL, 0 },
				   { E_LINK, "d/up", "../../outside", 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"points outside the release");
	}
	/* the classic: a link that is fine by itself (inside the release),
	 * then a file written through it. Never followed. */
	{
		struct ent e[] = { { E_DIR, "sub", NULL, 0 },
				   { E_LINK, "l", "sub", 0 },
				   { E_FILE, "l/through", "pwned", 0 } };

		hostile(f, e, 3, PAWL_E_POLICY,
			"goes through l, which is not a directory");
	}
	/* the same with the link to the outside created first and a
	 * directory entry through it */
	{
		struct ent e[] = { { E_LINK, "out", "../outside", 0 },
				   { E_DIR, "out/sub", NULL, 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"points outside the release");
	}
	/* chains: each link is lexically inside, together they escape;
	 * only the walk over the finished tree sees it */
	{
		struct ent e[] = { { E_DIR, "d", NULL, 0 },
				   { E_LINK, "d/here", ".", 0 },
				   { E_LINK, "x", "d/here/../..", 0 } };

		hostile(f, e, 3, PAWL_E_POLICY,
			"resolves outside the release");
	}
	{
		/* x is created before the link that makes it escape */
		struct ent e[] = { { E_DIR, "d", NULL, 0 },
				   { E_LINK, "x", "d/up/..", 0 },
				   { E_LINK, "d/up", "..", 0 } };

		hostile(f, e, 3, PAWL_E_POLICY,
			"resolves outside the release");
	}
	{
		struct ent e[] = { { E_LINK, "loop1", "loop2", 0 },
				   { E_LINK, "loop2", "loop1", 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"too many levels of links");
	}
	/* a file replacing a link (O_EXCL: never written through) */
	snprintf(abs, sizeof(abs), "%s/target", f->outside);
	t_write_file(abs, "orig", 4);
	{
		struct ent e[] = { { E_LINK, "f", "g", 0 }, { E_FILE, "f", "pwned", 0 } };

		hostile(f, e, 2, PAWL_E_FORMAT,
			"duplicate entry f");
	}
	{
		char *d = t_read_file(abs, NULL);

		assert_string_equal(d, "orig");
		free(d);
	}
	/* hard links: absolute, climbing, to a link, to nothing */
	{
		struct ent e[] = { { E_HARD, "h", abs, 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"is an absolute path");
	}
	{
		struct ent e[] = { { E_HARD, "h", "../outside/target", 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"\"..\" component");
	}
	{
		struct ent e[] = { { E_DIR, "d", NULL, 0 },
				   { E_LINK, "d/l", "../x", 0 },
				   { E_HARD, "h", "d/l", 0 } };

		hostile(f, e, 3, PAWL_E_POLICY,
			"not a regular file");
	}
	{
		struct ent e[] = { { E_LINK, "l", "/etc", 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"absolute target");
	}
	{
		struct ent e[] = { { E_HARD, "h", "missing", 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"no such file in the archive");
	}
	{
		struct ent e[] = { { E_DIR, "d", NULL, 0 },
				   { E_LINK, "l", "d", 0 },
				   { E_FILE, "d/f", "x", 0 },
				   { E_HARD, "h", "l/f", 0 } };

		hostile(f, e, 4, PAWL_E_POLICY,
			"goes through l, which is not a directory");
	}
	assert_false(exists(P(f->outside, "sub")));
	assert_false(exists("/etc/pawl-pwned"));
}

static void test_hostile_types(void **state)
{
	struct fx *f = *state;

	fx_open(f);
	installed_ok(f, "1.0.0");
	{
		struct ent e[] = { { E_CHR, "null", NULL, 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"character device");
	}
	{
		struct ent e[] = { { E_FIFO, "fifo", NULL, 0 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"FIFO");
	}
	{
		struct ent e[] = { { E_FILE, "suid", "x", 04755 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"setuid, setgid or sticky");
	}
	{
		struct ent e[] = { { E_DIR, "sgid", NULL, 02755 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"setuid, setgid or sticky");
	}
	{
		struct ent e[] = { { E_DIR, "sticky", NULL, 01777 } };

		hostile(f, e, 1, PAWL_E_POLICY,
			"setuid, setgid or sticky");
	}
	{
		struct ent e[] = { { E_FILE, "dup", "a", 0 }, { E_FILE, "dup", "b", 0 } };

		hostile(f, e, 2, PAWL_E_FORMAT,
			"duplicate entry dup");
	}
	{
		struct ent e[] = { { E_FILE, "f", "a", 0 }, { E_DIR, "f", NULL, 0 } };

		hostile(f, e, 2, PAWL_E_FORMAT,
			"duplicate entry f");
	}
	{
		/* a file where a directory is needed */
		struct ent e[] = { { E_FILE, "f", "a", 0 }, { E_FILE, "f/g", "b", 0 } };

		hostile(f, e, 2, PAWL_E_POLICY,
			"goes through f, which is not a directory");
	}
}

/* Size limits: the configured maximum, the ratio default, the declared
 * size in a header, and the number of entries. */
static void test_hostile_sizes(void **state)
{
	struct fx *f = *state;
	struct staged s;
	install_artifact a;
	install_result res;
	char *zeros;
	size_t big = (size_t)8 << 20, len;
	char *tar;
	unsigned sum = 0;

	fx_open(f);
	installed_ok(f, "1.0.0");

	/* 8 MiB of zeros gzip to a few KB: 64 x that is far below 8 MiB */
	zeros = calloc(1, big + 1);
	assert_non_null(zeros);
	memset(zeros, '0', big);
	stage_file(f, &s, "bomb.tar.gz");
	{
		struct ent e[] = { { E_FILE, "bomb", zeros, 0 } };

		write_archive(s.path, INSTALL_KIND_TAR_GZ, e, 1);
	}
	hash_file(&s);
	assert_true(s.length * 64 < big);
	a = art_of(&s, "2.0.0", false);
	t_fails(install_release(f->c, &a, &res), PAWL_E_LIMIT);
	assert_false(exists(P(f->inst, "releases/2.0.0")));
	/* a generous ratio lets it through, a configured maximum does not */
	f->o.max_ratio = 100000;
	fx_open(f);
	t_ok(install_release(f->c, &a, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	f->o.max_unpacked = big - 1;
	fx_open(f);
	a.version = "3.0.0";
	t_fails(install_release(f->c, &a, &res), PAWL_E_LIMIT);
	f->o.max_unpacked = 0;
	f->o.max_ratio = 0;
	unstage(&s);
	free(zeros);

	/* a header declaring 8 GiB for a one-byte file: refused on the
	 * header, before any data is read */
	fx_open(f);
	stage_file(f, &s, "liar.tar");
	{
		struct ent e[] = { { E_FILE, "liar", "x", 0 } };

		write_archive(s.path, INSTALL_KIND_TAR, e, 1);
	}
	tar = t_read_file(s.path, &len);
	assert_true(len >= 512);
	memcpy(tar + 124, "77777777777", 11);
	memset(tar + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)tar[i];
	snprintf(tar + 148, 8, "%06o", sum);
	tar[155] = ' ';
	t_write_file(s.path, tar, len);
	free(tar);
	hash_file(&s);
	a = art_of(&s, "4.0.0", false);
	t_fails(install_release(f->c, &a, &res), PAWL_E_LIMIT);
	unstage(&s);

	/* too many entries */
	f->o.max_entries = 5;
	fx_open(f);
	{
		struct ent e[] = { { E_FILE, "1", "x", 0 }, { E_FILE, "2", "x", 0 },
				   { E_FILE, "3", "x", 0 }, { E_FILE, "4", "x", 0 },
				   { E_FILE, "5", "x", 0 }, { E_FILE, "6", "x", 0 } };

		stage_file(f, &s, "many.tar");
		write_archive(s.path, INSTALL_KIND_TAR, e, 6);
		hash_file(&s);
		a = art_of(&s, "4.0.0", false);
		t_fails(install_release(f->c, &a, &res), PAWL_E_LIMIT);
		unstage(&s);
		/* five are fine */
		write_archive(s.path, INSTALL_KIND_TAR, e, 5);
		hash_file(&s);
		a = art_of(&s, "4.0.0", false);
		t_ok(install_release(f->c, &a, &res));
		unstage(&s);
	}
	f->o.max_entries = 0;

	/* truncated: the signed bytes are a cut-off archive */
	fx_open(f);
	stage_file(f, &s, "cut.tar.gz");
	write_release(s.path, INSTALL_KIND_TAR_GZ, "5.0.0");
	tar = t_read_file(s.path, &len);
	t_write_file(s.path, tar, len / 2);
	free(tar);
	hash_file(&s);
	a = art_of(&s, "5.0.0", false);
	t_fails(install_release(f->c, &a, &res), PAWL_E_FORMAT);
	unstage(&s);
	assert_current(f, "4.0.0", NULL);
}

/* Deep nesting is bounded. */
static void test_hostile_depth(void **state)
{
	struct fx *f = *state;
	char deep[PATH_MAX];
	size_t len = 0;

	fx_open(f);
	installed_ok(f, "1.0.0");
	for (int i = 0; i <= ARCHIVE_MAX_DEPTH; i++)
		len += (size_t)snprintf(deep + len, sizeof(deep) - len, "d/");
	snprintf(deep + len, sizeof(deep) - len, "f");
	{
		struct ent e[] = { { E_FILE, deep, "x", 0 } };

		hostile(f, e, 1, PAWL_E_LIMIT,
			"nested too deeply");
	}
}

/* ---------------- anti-downgrade ---------------- */

static void test_downgrade(void **state)
{
	struct fx *f = *state;
	install_result res;
	install_state st;

	fx_open(f);
	installed_ok(f, "1.0.0");
	installed_ok(f, "2.0.0");

	t_ok(install_version(f, "1.5.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	assert_non_null(strstr(res.message, "2.0.0"));
	t_ok(install_version(f, "2.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_ALREADY_CURRENT);
	/* equal precedence, different build metadata: not higher */
	t_ok(install_version(f, "2.0.0+rebuild", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	/* a pre-release of the installed version is lower */
	t_ok(install_version(f, "2.0.0-rc.1", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	/* the previous release, not signed as recovery */
	t_ok(install_version(f, "1.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	assert_current(f, "2.0.0", "marker");
	assert_string_equal(install_get_state(f->c)->last_version, "1.0.0");
	assert_int_equal(install_get_state(f->c)->last_outcome, INSTALL_REFUSED_DOWNGRADE);

	/* the state survives: a new agent refuses too */
	fx_open(f);
	t_ok(install_version(f, "1.9.9", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);

	/* a recovery release may go down; highest stays */
	t_ok(install_version(f, "1.5.0", true, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_current(f, "1.5.0", "marker");
	t_ok(install_state_read(f->state, &st));
	assert_string_equal(st.installed, "1.5.0");
	assert_true(st.installed_recovery);
	assert_string_equal(st.previous, "2.0.0");
	assert_string_equal(st.highest, "2.0.0");
	/* and after it, only what is above the highest ever installed */
	t_ok(install_version(f, "1.6.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	t_ok(install_version(f, "2.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	installed_ok(f, "2.0.1");
	assert_false(install_get_state(f->c)->installed_recovery);

	/* a recovery release with the previous release's own version: its
	 * directory is replaced, not reused */
	t_ok(install_version(f, "1.5.0", true, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_current(f, "1.5.0", "marker");
	assert_string_equal(install_get_state(f->c)->highest, "2.0.1");
}

/* ---------------- state file ---------------- */

static void write_state(struct fx *f, const char *text)
{
	t_write_file(P(f->state, "state.json"), text, strlen(text));
}

static void test_state_corrupt(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"",
		"garbage",
		"{}",
		"[]",
		/* installed above highest */
		"{\"bad\":[],\"format\":1,\"highest\":\"1.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}",
		/* highest missing while installed */
		"{\"bad\":[],\"format\":1,\"highest\":null,\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}",
		/* unknown key */
		"{\"bad\":[],\"extra\":1,\"format\":1,\"highest\":\"2.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}",
		/* wrong format */
		"{\"bad\":[],\"format\":2,\"highest\":\"2.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}",
		/* not a version */
		"{\"bad\":[],\"format\":1,\"highest\":\"v2\",\"installed\":null,\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}",
		/* a journal that did not start from the installed version */
		"{\"bad\":[],\"format\":1,\"highest\":\"2.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":{\"from\":\"1.0.0\",\"op\":\"install\",\"phase\":\"begin\",\"recovery\":false,\"version\":\"3.0.0\"},\"last\":null,\"previous\":null}",
		/* an unknown phase */
		"{\"bad\":[],\"format\":1,\"highest\":\"2.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":{\"from\":\"2.0.0\",\"op\":\"install\",\"phase\":\"done\",\"recovery\":false,\"version\":\"3.0.0\"},\"last\":null,\"previous\":null}",
		/* bad list holding a non-version */
		"{\"bad\":[1],\"format\":1,\"highest\":\"2.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}",
		/* trailing garbage */
		"{\"bad\":[],\"format\":1,\"highest\":\"2.0.0\",\"installed\":\"2.0.0\",\"installed_recovery\":false,\"interrupted\":null,\"journal\":null,\"last\":null,\"previous\":null}x",
	};
	install_ctx *c = NULL;
	install_state st;

	fx_open(f);
	installed_ok(f, "2.0.0");
	install_close(f->c);
	f->c = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		write_state(f, bad[i]);
		r = install_open(&c, &f->o);
		if (r != PAWL_E_FORMAT)
			fail_msg("state %zu: got %d, want PAWL_E_FORMAT", i, r);
		assert_non_null(strstr(pawl_error_last()->message, "state.json"));
		t_fails(install_state_read(f->state, &st), PAWL_E_FORMAT);
	}
	/* a symbolic link as the state file is not followed */
	unlink(P(f->state, "state.json"));
	assert_int_equal(symlink("/etc/hostname", P(f->state, "state.json")), 0);
	t_fails(install_open(&c, &f->o), PAWL_E_IO);
	unlink(P(f->state, "state.json"));
}

/* A lost state file does not reset the highest version: it is rebuilt
 * from the releases on disk. */
static void test_state_missing(void **state)
{
	struct fx *f = *state;
	install_result res;
	const install_state *st;

	fx_open(f);
	installed_ok(f, "1.0.0");
	installed_ok(f, "3.0.0");
	install_close(f->c);
	f->c = NULL;
	assert_int_equal(unlink(P(f->state, "state.json")), 0);
	fx_open(f);
	st = install_get_state(f->c);
	assert_string_equal(st->installed, "3.0.0");
	assert_string_equal(st->previous, "1.0.0");
	assert_string_equal(st->highest, "3.0.0");
	assert_true(exists(P(f->state, "state.json")));
	t_ok(install_version(f, "2.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
}

static void test_state_roundtrip(void **state)
{
	struct fx *f = *state;
	install_state st, back;
	char *text;
	size_t len;

	(void)f;
	memset(&st, 0, sizeof(st));
	state_set(st.installed, "1.2.0");
	state_set(st.previous, "1.1.0");
	state_set(st.highest, "1.3.0-rc.1+b");
	state_add_bad(&st, "1.3.0");
	state_add_bad(&st, "1.3.0+other"); /* same precedence: not added */
	assert_int_equal(st.nbad, 1);
	state_set(st.interrupted, "1.4.0");
	st.interrupted_count = 2;
	st.last_time = 1735689600;
	st.last_outcome = INSTALL_HEALTH_FAILED;
	state_set(st.last_version, "1.3.0");
	st.journal.op = INSTALL_OP_INSTALL;
	st.journal.phase = INSTALL_PHASE_SWITCHED;
	state_set(st.journal.version, "1.4.0");
	state_set(st.journal.from, "1.2.0");
	t_ok(state_serialize(&st, &text, &len));
	t_ok(state_parse(&back, text, len, "test"));
	assert_memory_equal(&st, &back, sizeof(st));

	/* a full bad list drops its lowest version */
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < INSTALL_MAX_BAD; i++) {
		char v[32];

		snprintf(v, sizeof(v), "1.0.%d", i + 10);
		state_add_bad(&st, v);
	}
	state_add_bad(&st, "0.5.0");
	assert_int_equal(st.nbad, INSTALL_MAX_BAD);
	for (uint32_t i = 0; i < st.nbad; i++)
		assert_string_not_equal(st.bad[i], "1.0.10");
}

/* ---------------- health ---------------- */

static void test_health_pass(void **state)
{
	struct fx *f = *state;
	install_result res;

	/* cwd is the new release, and the version is in the environment */
	fx_health(f, "test \"$(cat marker)\" = \"$PAWL_VERSION\" && test -L \"$PAWL_INSTALL_DIR/current\" && test -d \"$PAWL_RELEASE_DIR\"");
	t_ok(install_version(f, "1.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_true(res.health_ran);
	assert_false(res.health_timed_out);
	t_ok(install_version(f, "1.1.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_INSTALLED);
	assert_current(f, "1.1.0", "marker");
}

static void test_health_fail(void **state)
{
	struct fx *f = *state;
	install_result res;
	install_state st;
	char list[256];

	fx_health(f, "test \"$PAWL_VERSION\" != 2.0.0");
	installed_ok(f, "1.0.0");
	t_ok(install_version(f, "2.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);
	assert_true(res.health_ran);
	assert_true(WIFEXITED(res.health_status) && WEXITSTATUS(res.health_status) == 1);
	assert_string_equal(res.current, "1.0.0");
	assert_current(f, "1.0.0", "marker");
	t_ok(install_state_read(f->state, &st));
	assert_int_equal(st.nbad, 1);
	assert_string_equal(st.bad[0], "2.0.0");
	assert_string_equal(st.installed, "1.0.0");
	assert_string_equal(st.highest, "1.0.0");
	assert_int_equal(st.last_outcome, INSTALL_HEALTH_FAILED);
	assert_int_equal(st.journal.op, INSTALL_OP_NONE);
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.0.0");

	/* not retried, even by a new agent, even with a healthy check */
	fx_health(f, NULL);
	t_ok(install_version(f, "2.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_BAD);
	t_ok(install_version(f, "2.0.0+rebuild", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_BAD);
	assert_current(f, "1.0.0", "marker");
	installed_ok(f, "2.0.1");

	/* the very first install failing leaves no current at all */
	t_rm_rf(f->inst);
	t_rm_rf(f->state);
	fx_health(f, "false");
	t_ok(install_version(f, "1.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);
	assert_current(f, NULL, NULL);
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "");
}

/* clear-bad: the mark goes (durably, for the next agent), only from the
 * version named, and the release installs again with every check. */
static void test_clear_bad(void **state)
{
	struct fx *f = *state;
	install_result res;
	install_state st;

	fx_health(f, "test \"$PAWL_VERSION\" != 2.0.0 && test \"$PAWL_VERSION\" != 3.0.0");
	installed_ok(f, "1.0.0");
	t_ok(install_version(f, "2.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);
	t_ok(install_version(f, "3.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);

	/* not marked: PAWL_E_NOT_FOUND, nothing changes */
	t_fails(install_clear_bad(f->c, "2.5.0"), PAWL_E_NOT_FOUND);
	t_fails(install_clear_bad(f->c, "2.0.0+rebuild"), PAWL_E_NOT_FOUND);
	t_ok(install_state_read(f->state, &st));
	assert_int_equal(st.nbad, 2);

	t_ok(install_clear_bad(f->c, "2.0.0"));
	t_ok(install_state_read(f->state, &st));
	assert_int_equal(st.nbad, 1);
	assert_string_equal(st.bad[0], "3.0.0");
	assert_string_equal(st.installed, "1.0.0");
	t_fails(install_clear_bad(f->c, "2.0.0"), PAWL_E_NOT_FOUND);

	/* a new agent, a healthy 2.0.0 now: installed; 3.0.0 stays refused */
	fx_health(f, NULL);
	assert_int_equal(install_get_state(f->c)->nbad, 1);
	installed_ok(f, "2.0.0");
	t_ok(install_version(f, "3.0.0", false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_BAD);
}

/* Is pid gone (or a zombie)? */
static bool dead(pid_t pid)
{
	char path[64], buf[256];
	FILE *fp;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return true;
	if (!fgets(buf, sizeof(buf), fp)) {
		fclose(fp);
		return true;
	}
	fclose(fp);
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void test_health_timeout(void **state)
{
	struct fx *f = *state;
	install_result res;
	struct timespec t0, t1;
	char cmd[PATH_MAX * 2], *pidtext;
	pid_t bg;
	double secs;

	/* The check starts a background sleeper in its group, then hangs:
	 * both must die at the timeout. */
	snprintf(cmd, sizeof(cmd),
		 "if [ \"$PAWL_VERSION\" = 2.0.0 ]; then sleep 60 & echo $! > %s/bg.pid; sleep 60; fi",
		 f->root);
	f->o.health_timeout_ms = 300;
	fx_health(f, cmd);
	installed_ok(f, "1.0.0");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_ok(install_version(f, "2.0.0", false, &res));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);
	assert_true(res.health_timed_out);
	assert_true(WIFSIGNALED(res.health_status) && WTERMSIG(res.health_status) == SIGKILL);
	assert_true(secs < 10.0);
	assert_current(f, "1.0.0", "marker");
	assert_string_equal(install_get_state(f->c)->bad[0], "2.0.0");
	pidtext = t_read_file(P(f->root, "bg.pid"), NULL);
	bg = (pid_t)strtol(pidtext, NULL, 10);
	free(pidtext);
	assert_true(bg > 0);
	for (int i = 0; i < 200 && !dead(bg); i++)
		usleep(10000);
	assert_true(dead(bg));
}

/* ---------------- rollback ---------------- */

static void test_rollback(void **state)
{
	struct fx *f = *state;
	install_result res;
	const install_state *st;

	fx_open(f);
	t_fails(install_rollback(f->c, true, &res), PAWL_E_NOT_FOUND);
	installed_ok(f, "1.0.0");
	t_fails(install_rollback(f->c, true, &res), PAWL_E_NOT_FOUND);
	installed_ok(f, "2.0.0");

	/* not signed as recovery: refused, nothing moves */
	t_ok(install_rollback(f->c, false, &res));
	assert_int_equal(res.outcome, INSTALL_REFUSED_DOWNGRADE);
	assert_current(f, "2.0.0", "marker");

	t_ok(install_rollback(f->c, true, &res));
	assert_int_equal(res.outcome, INSTALL_ROLLED_BACK);
	assert_current(f, "1.0.0", "marker");
	st = install_get_state(f->c);
	assert_string_equal(st->installed, "1.0.0");
	assert_string_equal(st->previous, "2.0.0");
	assert_string_equal(st->highest, "2.0.0");
	assert_true(st->installed_recovery);
	assert_true(exists(P(f->inst, "releases/2.0.0/marker")));

	/* a rollback whose health check fails goes back where it was */
	fx_health(f, "test \"$PAWL_VERSION\" != 2.0.0");
	t_ok(install_rollback(f->c, true, &res));
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);
	assert_current(f, "1.0.0", "marker");
	st = install_get_state(f->c);
	assert_string_equal(st->bad[0], "2.0.0");
	assert_string_equal(st->previous, "");
	t_fails(install_rollback(f->c, true, &res), PAWL_E_NOT_FOUND);
}

/* ---------------- pruning ---------------- */

static void test_prune(void **state)
{
	struct fx *f = *state;
	char list[512];

	fx_open(f);
	installed_ok(f, "1.0.0");
	installed_ok(f, "1.1.0");
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.0.0 1.1.0");
	installed_ok(f, "1.2.0");
	installed_ok(f, "1.3.0");
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.2.0 1.3.0");
	/* an unknown name in releases/ is left for the operator; our own
	 * leftovers are swept */
	assert_int_equal(mkdir(P(f->inst, "releases/notes"), 0755), 0);
	assert_int_equal(mkdir(P(f->inst, "releases/.1.4.0.tmp-dead"), 0755), 0);
	t_write_file(P(f->inst, "releases/.1.4.0.tmp-dead/x"), "x", 1);
	assert_int_equal(mkdir(P(f->inst, "releases/0.9.0"), 0755), 0);
	t_ok(install_recover(f->c, NULL));
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.2.0 1.3.0 notes");
}

/* ---------------- recovery from a journal ---------------- */

/* Fake an interrupted install of "to": releases/to exists, current may
 * point at it, and the journal is at phase. */
static void fake_interrupted(struct fx *f, const char *to, const char *phase, bool switched)
{
	install_state st;
	char *text, link[PATH_MAX];
	size_t len;
	char src[PATH_MAX * 2], cmd[PATH_MAX * 5];

	t_ok(install_state_read(f->state, &st));
	snprintf(src, sizeof(src), "%s/releases/%s", f->inst, st.installed);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s/releases/%s' && echo -n %s > '%s/releases/%s/marker'",
		 src, f->inst, to, to, f->inst, to);
	assert_int_equal(system(cmd), 0);
	if (switched) {
		snprintf(link, sizeof(link), "releases/%s", to);
		unlink(P(f->inst, "current"));
		assert_int_equal(symlink(link, P(f->inst, "current")), 0);
	}
	st.journal.op = INSTALL_OP_INSTALL;
	if (strcmp(phase, "begin") == 0)
		st.journal.phase = INSTALL_PHASE_BEGIN;
	else if (strcmp(phase, "unpacked") == 0)
		st.journal.phase = INSTALL_PHASE_UNPACKED;
	else if (strcmp(phase, "switched") == 0)
		st.journal.phase = INSTALL_PHASE_SWITCHED;
	else
		st.journal.phase = INSTALL_PHASE_FAILED;
	state_set(st.journal.version, to);
	state_set(st.journal.from, st.installed);
	t_ok(state_serialize(&st, &text, &len));
	t_write_file(P(f->state, "state.json"), text, len);
	free(text);
}

static void test_recover_journal(void **state)
{
	struct fx *f = *state;
	install_result res;
	install_state st;
	char list[256];

	fx_open(f);
	installed_ok(f, "1.0.0");
	install_close(f->c);
	f->c = NULL;

	/* switched, health unknown: back to 1.0.0, not (yet) bad */
	for (int i = 1; i <= INSTALL_MAX_INTERRUPTED; i++) {
		fake_interrupted(f, "2.0.0", i == 2 ? "unpacked" : "switched", true);
		fx_open(f);
		t_ok(install_recover(f->c, &res));
		assert_int_equal(res.outcome, INSTALL_INTERRUPTED);
		assert_current(f, "1.0.0", "marker");
		t_ok(install_state_read(f->state, &st));
		assert_int_equal(st.journal.op, INSTALL_OP_NONE);
		list_releases(f, list, sizeof(list));
		assert_string_equal(list, "1.0.0");
		if (i < INSTALL_MAX_INTERRUPTED) {
			assert_int_equal(st.nbad, 0);
			assert_int_equal(st.interrupted_count, i);
		} else {
			/* the third time it is given up on */
			assert_int_equal(st.nbad, 1);
			assert_string_equal(st.bad[0], "2.0.0");
		}
		install_close(f->c);
		f->c = NULL;
	}

	/* never switched: dropped, nothing counted */
	fake_interrupted(f, "3.0.0", "unpacked", false);
	fx_open(f);
	t_ok(install_recover(f->c, &res));
	assert_int_equal(res.outcome, INSTALL_INTERRUPTED);
	assert_current(f, "1.0.0", "marker");
	assert_int_equal(install_get_state(f->c)->interrupted_count, 0);
	install_close(f->c);
	f->c = NULL;

	/* failed health, crashed before switching back: finished */
	fake_interrupted(f, "4.0.0", "failed", true);
	fx_open(f);
	t_ok(install_recover(f->c, &res));
	assert_int_equal(res.outcome, INSTALL_HEALTH_FAILED);
	assert_current(f, "1.0.0", "marker");
	assert_string_equal(install_get_state(f->c)->bad[1], "4.0.0");

	/* install_release recovers by itself before it starts */
	install_close(f->c);
	f->c = NULL;
	fake_interrupted(f, "5.0.0", "switched", true);
	fx_open(f);
	installed_ok(f, "6.0.0");
	assert_current(f, "6.0.0", "marker");
	list_releases(f, list, sizeof(list));
	assert_string_equal(list, "1.0.0 6.0.0");

	/* current pointing somewhere the state does not explain */
	unlink(P(f->inst, "current"));
	assert_int_equal(symlink("releases/1.0.0", P(f->inst, "current")), 0);
	t_fails(install_recover(f->c, &res), PAWL_E_FORMAT);
	t_fails(install_version(f, "7.0.0", false, &res), PAWL_E_FORMAT);
	unlink(P(f->inst, "current"));
	assert_int_equal(symlink("/etc", P(f->inst, "current")), 0);
	t_fails(install_recover(f->c, &res), PAWL_E_FORMAT);
	unlink(P(f->inst, "current"));
	assert_int_equal(mkdir(P(f->inst, "current"), 0755), 0);
	t_fails(install_recover(f->c, &res), PAWL_E_IO);
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	install_ctx *other = NULL;

	fx_open(f);
	t_fails(install_open(&other, &f->o), PAWL_E_LOCKED);
	install_close(f->c);
	f->c = NULL;
	t_ok(install_open(&other, &f->o));
	install_close(other);
}

/* ---------------- crash injection ---------------- */

#define CRASH_ITERATIONS 100

/* Every release file present with the contents of one version. */
static void assert_complete(struct fx *f, const char *version)
{
	char name[64], want[64];

	assert_current(f, version, "marker");
	assert_current(f, version, "marker.hard");
	for (int i = 0; i < 10; i++) {
		char *d;

		snprintf(name, sizeof(name), "current/share/data/%d.txt", i);
		snprintf(want, sizeof(want), "%s:%d", version, i);
		d = t_read_file(P(f->inst, name), NULL);
		assert_string_equal(d, want);
		free(d);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In a child: install one prepared release, then exit. */
__attribute__((noreturn)) static void child_install(struct fx *f, const struct staged *s,
						   const char *version)
{
	install_ctx *c = NULL;
	install_result res;
	install_artifact a = art_of(s, version, false);
	int r = install_open(&c, &f->o);

	if (r == 0)
		r = install_release(c, &a, &res);
	install_close(c);
	_exit(r == 0 ? 0 : 1);
}

static void test_crash(void **state)
{
	struct fx *f = *state;
	struct staged s;
	char cur[SEMVER_MAX_LEN + 1], next[32], list[256];
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	double span;
	int killed = 0, finished = 0, moved = 0;
	/* where the kills landed: no journal (before begin or after the
	 * commit), then each journal phase */
	int at[5] = { 0, 0, 0, 0, 0 };

	print_message("crash seed %u\n", seed);
	srand(seed);
	/* versions ending in 3 or 7 fail their check: the rollback path is
	 * killed too */
	fx_health(f, "case \"$PAWL_VERSION\" in *3|*7) exit 1;; esac; test -f marker");
	installed_ok(f, "1.0.0");
	install_close(f->c);
	f->c = NULL;
	snprintf(cur, sizeof(cur), "1.0.0");

	/* How long an uninterrupted install takes, to spread the kills. */
	{
		double t0 = now_s();
		pid_t pid;
		int status;

		stage_file(f, &s, "app-1.0.1.tar.gz");
		write_release(s.path, INSTALL_KIND_TAR_GZ, "1.0.1");
		hash_file(&s);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_install(f, &s, "1.0.1");
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		span = now_s() - t0;
		unstage(&s);
		snprintf(cur, sizeof(cur), "1.0.1");
	}
	f->o.lock_timeout_s = 10;

	for (int i = 0; i < CRASH_ITERATIONS; i++) {
		install_result res;
		const install_state *st;
		struct timespec delay;
		double d;
		pid_t pid;
		int status;
		char link[PATH_MAX];
		ssize_t n;

		snprintf(next, sizeof(next), "1.1.%d", i);
		stage_file(f, &s, "app.tar.gz");
		write_release(s.path, INSTALL_KIND_TAR_GZ, next);
		hash_file(&s);
		d = span * 1.2 * (double)rand() / (double)RAND_MAX;
		delay.tv_sec = (time_t)d;
		delay.tv_nsec = (long)((d - (double)delay.tv_sec) * 1e9);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_install(f, &s, next);
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			killed++;
		else
			finished++;
		unstage(&s);

		{
			install_state seen;

			t_ok(install_state_read(f->state, &seen));
			at[seen.journal.op == INSTALL_OP_NONE ? 0 : 1 + (int)seen.journal.phase]++;
		}

		/* current is on a complete release, before any recovery */
		n = readlink(P(f->inst, "current"), link, sizeof(link) - 1);
		assert_true(n > 0);
		link[n] = '\0';
		if (strcmp(link + strlen("releases/"), cur) != 0 &&
		    strcmp(link + strlen("releases/"), next) != 0)
			fail_msg("iteration %d: current -> %s, want %s or %s", i, link, cur, next);
		assert_complete(f, link + strlen("releases/"));

		/* recovery brings the state in line */
		fx_open(f);
		t_ok(install_recover(f->c, &res));
		st = install_get_state(f->c);
		assert_int_equal(st->journal.op, INSTALL_OP_NONE);
		assert_true(strcmp(st->installed, cur) == 0 || strcmp(st->installed, next) == 0);
		assert_complete(f, st->installed);
		assert_string_equal(st->highest, st->installed);
		if (strcmp(st->installed, next) == 0) {
			assert_string_equal(st->previous, cur);
			moved++;
		}
		snprintf(cur, sizeof(cur), "%s", st->installed);
		/* only installed and previous remain; no temporary entries */
		list_releases(f, list, sizeof(list));
		assert_true(list[0] != '.');
		assert_null(strstr(list, " ."));
		{
			char *tok = list, *save = NULL;
			int count = 0;

			while ((tok = strtok_r(tok, " ", &save)) != NULL) {
				assert_true(strcmp(tok, st->installed) == 0 ||
					    strcmp(tok, st->previous) == 0);
				count++;
				tok = NULL;
			}
			assert_true(count >= 1 && count <= 2);
		}
		assert_false(exists(P(f->inst, "current.tmp")));
		install_close(f->c);
		f->c = NULL;
	}
	print_message("crash: %d killed, %d finished, %d moved forward; journal at kill: "
		      "none %d, begin %d, unpacked %d, switched %d, failed %d\n",
		      killed, finished, moved, at[0], at[1], at[2], at[3], at[4]);
	assert_true(killed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kind_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reverify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cve_2020_25860_changed_after_verification,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cve_2026_34155_large_changed_at_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * cmd_verify.c - `pawl-repo verify OUTDIR --root ROOT.json`: check a
 * published tree the way a client would, before (or after) it goes live.
 *
 *  1. The pawl client library refreshes from file://OUTDIR/metadata into a
 *     temporary metadata directory that trusts only ROOT.json: root
 *     rotations, signatures and thresholds, versions, lengths, hashes and
 *     expiry of timestamp, snapshot and targets, exactly as on a device.
 *  2. Starting from that trusted targets metadata, every delegated role is
 *     loaded, checked against the snapshot (version, length, hashes) and
 *     verified with its delegating role's keys and threshold, and checked
 *     for expiry.
 *  3. Every target of every role must be in OUTDIR/targets under each
 *     name a client may ask for (HASH.NAME for each hash with consistent
 *     snapshots, NAME without), with the signed length and hashes.
 *  4. Each target path is looked up through the client (delegation order,
 *     path patterns), and up to --downloads of them (default 1000; 0: all)
 *     are downloaded and verified through it over file://.
 *  5. Stale metadata: a published N.ROLE.json newer than the version the
 *     snapshot names (a snapshot that was not regenerated after a role
 *     changed), or an N.snapshot.json newer than the timestamp names.
 * Every problem found is printed; the exit status is 1 if there was any.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content.h"
#include "pawl/updater.h"
#include "repo.h"

static const char usage_verify[] =
	"usage: pawl-repo verify OUTDIR --root ROOT.json [--downloads N]\n"
	"\n"
	"Check the published tree OUTDIR as a client that trusts ROOT.json would: the\n"
	"pawl client refreshes from file://OUTDIR (signatures, thresholds, root\n"
	"rotation, versions, hashes, expiry); every delegated role is verified; every\n"
	"target of every role must be present with its signed length and hashes; up to\n"
	"N targets (default 1000, 0 for all) are downloaded through the client; and\n"
	"metadata newer than what the snapshot or timestamp names is reported as stale.\n"
	"Exit status 0 when the tree is good, 2 with a list of problems when a client\n"
	"would refuse it (or it is not safe to serve), 1 when it cannot be checked.\n";

#define MAX_PROBLEMS 50

struct vctx {
	const char *outdir;
	int mfd, tfd;
	bool consistent;
	pawl_md *snapshot;
	pawl_md *timestamp;
	pawl_updater *u;
	char tmp[PATH_MAX];
	size_t problems, roles, targets, downloads, max_downloads;
	int64_t now;
};

static void problem(struct vctx *v, const char *fmt, ...) PAWL_PRINTF(2, 3);
static void problem(struct vctx *v, const char *fmt, ...)
{
	va_list ap;

	v->problems++;
	if (v->problems > MAX_PROBLEMS)
		return;
	fputs("pawl-repo verify: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void problem_err(struct vctx *v, const char *what)
{
	const pawl_error *e = pawl_error_last();

	problem(v, "%s: %s: %s", what, pawl_strerror(e->code), e->message);
	pawl_error_clear();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static int read_trusted(struct vctx *v, const char *name, md_type t, pawl_md **ret)
{
	char path[PATH_MAX + 64];
	char *data;
	size_t len;

	snprintf(path, sizeof(path), "%s/metadata/%s", v->tmp, name);
	GUARD(file_read_all(path, 512u << 20, &data, &len));
	return md_parse(ret, data, len, t, name);
}

/* Check each file a client may fetch for the targets of one role. */
static void check_targets(struct vctx *v, const char *rname, pawl_md *md)
{
	const pj_value *targets = md->targets;

	for (uint32_t i = 0; targets && i < targets->len; i++) {
		const pj_member *m = &targets->u.members[i];
		const char *slash = strrchr(m->key, '/');
		size_t dl = slash ? (size_t)(slash - m->key) + 1 : 0;
		md_target t;
		pawl_target *ct = NULL;
		char what[TARGET_PATH_MAX + 512];

		v->targets++;
		if (md_target_parse(&m->value, &t, m->key) < 0) {
			problem_err(v, rname);
			continue;
		}
		if (check_target_path(m->key) < 0) {
			problem_err(v, rname);
			continue;
		}
		if (v->consistent) {
			for (uint32_t h = 0; h < t.hashes->len; h++) {
				const pj_member *hm = &t.hashes->u.members[h];
				char name[TARGET_PATH_MAX + 256];

				if (strcmp(hm->key, "sha256") != 0 && strcmp(hm->key, "sha512") != 0)
					continue;
				snprintf(name, sizeof(name), "%.*s%s.%s", (int)dl, m->key,
					 hm->value.u.s, m->key + dl);
				snprintf(what, sizeof(what), "target %s (%s): %s/targets/%s", m->key,
					 rname, v->outdir, name);
				if (content_check(v->tfd, name, &t, what) < 0)
					problem_err(v, "bad target");
			}
		} else {
			snprintf(what, sizeof(what), "target %s (%s): %s/targets/%s", m->key, rname,
				 v->outdir, m->key);
			if (content_check(v->tfd, m->key, &t, what) < 0)
				problem_err(v, "bad target");
		}
		/* What a client finds for this path. */
		if (pawl_updater_get_target(&ct, v->u, m->key) < 0) {
			snprintf(what, sizeof(what), "client lookup of %s (listed by %s)", m->key, rname);
			problem_err(v, what);
			continue;
		}
		if (strcmp(pawl_target_role(ct), rname) != 0)
			info("note: clients take %s from %s, which shadows the entry in %s", m->key,
			     pawl_target_role(ct), rname);
		if (v->max_downloads == 0 || v->downloads < v->max_downloads) {
			char dest[PATH_MAX + 64];

			snprintf(dest, sizeof(dest), "%s/download", v->tmp);
			if (pawl_updater_download_to(v->u, ct, dest) < 0) {
				snprintf(what, sizeof(what), "client download of %s", m->key);
				problem_err(v, what);
			}
			unlink(dest);
			v->downloads++;
		}
		pawl_target_free(ct);
	}
}

/* Load, check and verify a delegated role; then its own delegations. */
static void walk(struct vctx *v, const char *rname, pawl_md *md, unsigned depth)
{
	const md_delegations *d;

	v->roles++;
	check_targets(v, rname, md);
	if (!md->has_delegations)
		return;
	if (depth > 32) {
		problem(v, "delegations below %s are nested more than 32 deep", rname);
		return;
	}
	d = &md->deleg;
	for (size_t i = 0, n = d->succinct_present ? md_succinct_count(&d->succinct) : d->nroles;
	     i < n; i++) {
		char name[ROLE_NAME_MAX + 16], file[ROLE_NAME_MAX + 48];
		const md_role *mr;
		md_metafile mf;
		pawl_md *child = NULL;
		char *data;
		size_t len;
		int r;

		if (d->succinct_present) {
			if (md_succinct_name(&d->succinct, (uint32_t)i, name, sizeof(name)) < 0) {
				problem_err(v, rname);
				return;
			}
			mr = &d->succinct.role;
		} else {
			snprintf(name, sizeof(name), "%s", d->roles[i].name);
			mr = &d->roles[i];
		}
		snprintf(file, sizeof(file), "%s.json", name);
		if (md_meta_get(v->snapshot, file, &mf) < 0) {
			problem(v, "snapshot v%" PRIu64 " does not list %s, which %s delegates to; run "
				"`pawl-repo timestamp`", v->snapshot->version, name, rname);
			pawl_error_clear();
			continue;
		}
		if (v->consistent)
			snprintf(file, sizeof(file), "%" PRIu64 ".%s.json", mf.version, name);
		r = file_read_at(v->mfd, file, 512u << 20, &data, &len);
		if (r < 0) {
			problem(v, "%s v%" PRIu64 " (named by snapshot v%" PRIu64 ") is not published: "
				"%s/metadata/%s is missing", name, mf.version, v->snapshot->version,
				v->outdir, file);
			pawl_error_clear();
			continue;
		}
		r = md_check_content(data, len, mf.has_length, mf.length, mf.hashes, file);
		if (r == 0)
			r = md_parse(&child, data, len, MD_TARGETS, name);
		else
			free(data);
		if (r == 0)
			r = md_verify(child, &d->keys, mr, name);
		if (r == 0 && child->version != mf.version)
			r = pawl_error_set(PAWL_E_ROLLBACK, "%s is version %" PRIu64 ", snapshot names %"
					   PRIu64, name, child->version, mf.version);
		if (r == 0)
			r = md_check_expiry(child, v->now, name);
		if (r < 0) {
			char what[ROLE_NAME_MAX + 64];

			snprintf(what, sizeof(what), "delegated role %s", name);
			problem_err(v, what);
			md_free(child);
			continue;
		}
		walk(v, name, child, depth + 1);
		md_free(child);
	}
}

/* Metadata newer than what the snapshot and timestamp name. */
static void check_stale(struct vctx *v)
{
	DIR *d;
	struct dirent *e;
	int fd = dup(v->mfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		problem(v, "cannot list %s/metadata", v->outdir);
		return;
	}
	while ((e = readdir(d))) {
		char *end, role[ROLE_NAME_MAX + 8];
		unsigned long long n;
		md_metafile mf;
		size_t len = strlen(e->d_name);

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || len < 7 ||
		    strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		errno = 0;
		n = strtoull(e->d_name, &end, 10);
		if (errno || *end != '.' || (size_t)(end + 1 - e->d_name) >= len - 5)
			continue;
		snprintf(role, sizeof(role), "%s", end + 1); /* "ROLE.json" */
		if (strcmp(role, "root.json") == 0 || strcmp(role, "timestamp.json") == 0)
			continue;
		if (strcmp(role, "snapshot.json") == 0) {
			if (n > v->timestamp->snapshot_meta.version)
				problem(v, "stale timestamp: %s/metadata/%s is published, but timestamp v%"
					PRIu64 " names snapshot v%" PRIu64 "; run `pawl-repo timestamp`",
					v->outdir, e->d_name, v->timestamp->version,
					v->timestamp->snapshot_meta.version);
			continue;
		}
		if (md_meta_get(v->snapshot, role, &mf) < 0) {
			pawl_error_clear();
			continue; /* a role no longer delegated */
		}
		if (n > mf.version) {
			role[strlen(role) - 5] = '\0';
			problem(v, "stale snapshot: %s v%llu is published (%s), but snapshot v%" PRIu64
				" names %s v%" PRIu64 "; run `pawl-repo timestamp`, then publish",
				role, n, e->d_name, v->snapshot->version, role, mf.version);
		}
	}
	closedir(d);
}

static void check_unversioned(struct vctx *v)
{
	const pj_value *meta = v->snapshot->meta;

	/* Without consistent snapshots clients fetch ROLE.json: it must be
	 * the version the snapshot names. */
	for (uint32_t i = 0; meta && i < meta->len; i++) {
		const char *file = meta->u.members[i].key;
		md_metafile mf;
		pawl_md *md = NULL;
		char *data;
		size_t len;

		if (md_metafile_parse(&meta->u.members[i].value, &mf, file) < 0 ||
		    file_read_at(v->mfd, file, 512u << 20, &data, &len) < 0) {
			pawl_error_clear();
			continue;
		}
		if (md_parse(&md, data, len, MD_TARGETS, file) < 0) {
			pawl_error_clear();
			continue;
		}
		if (md->version != mf.version)
			problem(v, "stale snapshot: %s/metadata/%s is version %" PRIu64 ", snapshot v%"
				PRIu64 " names version %" PRIu64, v->outdir, file, md->version,
				v->snapshot->version, mf.version);
		md_free(md);
	}
}

int cmd_verify(int argc, char **argv)
{
	enum { O_ROOT = OPT_FIRST, O_DL };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "root", required_argument, NULL, O_ROOT },
		{ "downloads", required_argument, NULL, O_DL },
		{ NULL, 0, NULL, 0 },
	};
	const char *rootfile = NULL;
	struct vctx v = { .mfd = -1, .tfd = -1, .max_downloads = 1000 };
	char abs[PATH_MAX], murl[PATH_MAX + 32], turl[PATH_MAX + 32], mdir[PATH_MAX + 16];
	const char *murls[1] = { murl }, *turls[1] = { turl };
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	_cleanup_free_ char *rootdata = NULL;
	pawl_md *targets = NULL, *root = NULL;
	size_t rootlen;
	uint32_t dl;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_ROOT: rootfile = optarg; break;
		case O_DL:
			if (cli_parse_u32(optarg, &dl) < 0)
				usage_error("verify", "--downloads takes a number");
			v.max_downloads = dl;
			break;
		default: common_opt("verify", usage_verify, ch, optarg);
		}
	}
	if (argc - optind != 1)
		usage_error("verify", "give the published directory OUTDIR");
	if (!rootfile)
		usage_error("verify", "give the root clients trust with --root ROOT.json");
	v.outdir = argv[optind];
	v.now = pawl_now();
	if (!realpath(v.outdir, abs)) {
		fprintf(stderr, "pawl-repo verify: %s: %s\n", v.outdir, strerror(errno));
		return 1;
	}
	if (file_read_all(rootfile, 512u * 1024u, &rootdata, &rootlen) < 0)
		return fail("verify");
	{
		int fd;

		if (dir_open(v.outdir, &fd) < 0)
			return fail("verify");
		close(fd);
	}
	snprintf(v.tmp, sizeof(v.tmp), "%s/pawl-repo-verify-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(v.tmp)) {
		fprintf(stderr, "pawl-repo verify: cannot create a temporary directory: %s\n",
			strerror(errno));
		return 1;
	}
	snprintf(mdir, sizeof(mdir), "%s/metadata", v.tmp);
	snprintf(murl, sizeof(murl), "file://%s/metadata", abs);
	snprintf(turl, sizeof(turl), "file://%s/targets", abs);
	if (pawl_metadata_dir_init(mdir, rootdata, rootlen) < 0) {
		fail("verify");
		goto out;
	}
	o.metadata_dir = mdir;
	o.metadata_urls = murls;
	o.n_metadata_urls = 1;
	o.target_urls = turls;
	o.n_target_urls = 1;
	if (pawl_updater_new(&v.u, &o) < 0) {
		fail("verify");
		goto out;
	}
	if (pawl_updater_refresh(v.u) < 0) {
		const pawl_error *e = pawl_error_last();

		fprintf(stderr, "pawl-repo verify: a client trusting %s refuses %s: %s: %s\n",
			rootfile, v.outdir, pawl_strerror(e->code), e->message);
		rc = EXIT_VERIFY;
		goto out;
	}
	{
		_cleanup_close_ int ofd = -1;

		if (dir_open(abs, &ofd) < 0 || dir_open_at(ofd, "metadata", &v.mfd) < 0 ||
		    dir_open_at(ofd, "targets", &v.tfd) < 0) {
			fail("verify");
			goto out;
		}
	}
	if (read_trusted(&v, "root.json", MD_ROOT, &root) < 0 ||
	    read_trusted(&v, "timestamp.json", MD_TIMESTAMP, &v.timestamp) < 0 ||
	    read_trusted(&v, "snapshot.json", MD_SNAPSHOT, &v.snapshot) < 0 ||
	    read_trusted(&v, "targets.json", MD_TARGETS, &targets) < 0) {
		fail("verify");
		goto out;
	}
	v.consistent = root->consistent_snapshot;
	walk(&v, "targets", targets, 0);
	check_stale(&v);
	if (!v.consistent)
		check_unversioned(&v);
	if (v.problems) {
		if (v.problems > MAX_PROBLEMS)
			fprintf(stderr, "pawl-repo verify: ... %zu problems in all\n", v.problems);
		fprintf(stderr, "pawl-repo verify: %s is NOT safe to serve (%zu problem%s)\n",
			v.outdir, v.problems, v.problems == 1 ? "" : "s");
		rc = EXIT_VERIFY;
		goto out;
	}
	printf("%s verifies: root v%" PRIu64 ", timestamp v%" PRIu64 " (expires %s), snapshot v%"
	       PRIu64 ", targets v%" PRIu64 "; %zu targets roles, %zu targets present with the "
	       "signed length and hashes, %zu downloaded through the client\n",
	       v.outdir, pawl_updater_role_version(v.u, "root"), v.timestamp->version,
	       v.timestamp->expires_str, v.snapshot->version, targets->version, v.roles, v.targets,
	       v.downloads);
	rc = 0;
out:
	md_free(root);
	md_free(targets);
	md_free(v.snapshot);
	md_free(v.timestamp);
	pawl_updater_free(v.u);
	if (v.mfd >= 0)
		close(v.mfd);
	if (v.tfd >= 0)
		close(v.tfd);
	nftw(v.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}

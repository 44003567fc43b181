/*
 * cmd_publish.c - `pawl-repo timestamp` (new snapshot and timestamp with
 * the online keys) and `pawl-repo publish` (write the tree a web server
 * serves).
 *
 * publish refuses anything a client would refuse: a role below its
 * signature threshold (root also below the previous root's threshold), an
 * expired role, a snapshot that does not name the current version and
 * bytes of every targets role, a timestamp that does not name the current
 * snapshot. It also refuses to change a file that is already published
 * under a versioned name, or to put an older timestamp over a newer one:
 * published versions are immutable, and a workspace that is behind the
 * published tree must not roll it back.
 *
 * Order: target files first, made durable with one syncfs; then metadata,
 * each file atomically and durably (temp, fsync, rename, fsync dir): root
 * history, delegated roles, targets, snapshot, and timestamp.json last. A
 * client reading the tree at any moment sees either the old timestamp,
 * whose files all still exist (nothing is deleted), or the new one, whose
 * files are all in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "repo.h"

/* ---------------- timestamp ---------------- */

static const char usage_timestamp[] =
	"usage: pawl-repo timestamp REPO --key SNAPSHOT_KEY --key TIMESTAMP_KEY [--force]\n"
	"\n"
	"Make a new timestamp (always) and a new snapshot (when a targets role changed,\n"
	"when the snapshot is past half its validity period, or with --force), and sign\n"
	"them. Only the online snapshot and timestamp keys are needed, so this can run\n"
	"from cron, followed by `pawl-repo publish`. Every targets role must be fully\n"
	"signed and unexpired.\n";

struct snap_entry {
	char file[ROLE_NAME_MAX + 8];
	uint64_t version, length;
	char sha256[65];
};

static int snapshot_entries(ws *w, struct snap_entry **ret, size_t *ret_n)
{
	struct snap_entry *e;
	size_t n = 0;
	int64_t now = pawl_now();

	GUARD(ws_walk(w));
	e = xcalloc(w->nroles, sizeof(*e));
	if (!e)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];
		_cleanup_free_ char *data = NULL;
		size_t len;
		digests dg;
		sigcount c;
		int rc;

		if (r->type != MD_TARGETS)
			continue;
		rc = ws_count(w, r, &c);
		if (rc == 0 && !sigcount_ok(&c))
			rc = pawl_error_set(PAWL_E_SIGNATURE,
					    "%s v%" PRIu64 " has %" PRIu32 " of %" PRIu32 " signatures "
					    "it needs; sign it (`pawl-repo sign %s %s --key KEY`) before "
					    "a snapshot can include it",
					    r->name, r->md->version, c.valid, c.threshold, w->path,
					    r->name);
		if (rc == 0 && r->md->expires <= now)
			rc = pawl_error_set(PAWL_E_EXPIRED,
					    "%s v%" PRIu64 " expired at %s; renew it with `pawl-repo "
					    "expire %s %s DAYS --key KEY`",
					    r->name, r->md->version, r->md->expires_str, w->path,
					    r->name);
		if (rc == 0)
			rc = ws_role_bytes(w, r, &data, &len);
		if (rc == 0)
			rc = digest_buf(data, len, false, &dg);
		if (rc < 0) {
			free(e);
			return rc;
		}
		snprintf(e[n].file, sizeof(e[n].file), "%s.json", r->name);
		e[n].version = r->md->version;
		e[n].length = len;
		memcpy(e[n].sha256, dg.sha256, sizeof(dg.sha256));
		n++;
	}
	*ret = e;
	*ret_n = n;
	return 0;
}

static bool snapshot_matches(pawl_md *snap, const struct snap_entry *e, size_t n)
{
	if (!snap->meta || snap->meta->len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		md_metafile mf;
		const char *h;

		if (md_meta_get(snap, e[i].file, &mf) < 0) {
			pawl_error_clear();
			return false;
		}
		h = pj_str(pj_get(mf.hashes, "sha256"));
		if (mf.version != e[i].version || !mf.has_length || mf.length != e[i].length ||
		    !h || strcmp(h, e[i].sha256) != 0)
			return false;
	}
	return true;
}

static bool signer_of(ws *w, ws_role *r, const pawl_signer *s)
{
	const md_keys *keys;
	const md_role *mr;

	if (ws_role_keys(w, r, &keys, &mr) < 0) {
		pawl_error_clear();
		return false;
	}
	return role_has_keyid(mr, signer_keyid(s));
}

static int sign_and_check(ws *w, ws_role *r, const signers *ss)
{
	sigcount c;

	for (size_t i = 0; i < ss->n; i++) {
		bool used;

		if (signer_of(w, r, ss->v[i]))
			GUARD(ws_sign(w, r, ss->v[i], ss->arg[i], &used));
	}
	GUARD(ws_count(w, r, &c));
	if (!sigcount_ok(&c))
		return pawl_error_set(PAWL_E_SIGNATURE,
				      "%s v%" PRIu64 " needs %" PRIu32 " signatures of its keys and "
				      "has %" PRIu32 "; pass the %s key with --key",
				      r->name, r->md->version, c.threshold, c.valid, r->name);
	return 0;
}

int do_timestamp(ws *w, const signers *ss, bool force, bool strict)
{
	_cleanup_free_ struct snap_entry *e = NULL;
	ws_role *snap = ws_top(w, MD_SNAPSHOT), *ts = ws_top(w, MD_TIMESTAMP);
	int64_t now = pawl_now();
	size_t n;
	sigcount c;
	bool fresh, new_snapshot = false;

	for (size_t i = 0; strict && i < ss->n; i++) {
		char sid[20];

		if (!signer_of(w, snap, ss->v[i]) && !signer_of(w, ts, ss->v[i]))
			return pawl_error_set(PAWL_E_KEY,
					      "key %s (%s) is neither a snapshot nor a timestamp key",
					      short_id(signer_keyid(ss->v[i]), sid), ss->arg[i]);
	}
	GUARD(snapshot_entries(w, &e, &n));
	GUARD(ws_count(w, snap, &c));
	/* Renewed in the second half of its life, and at once when the
	 * period was shortened below what is left of it. */
	fresh = snap->md->expires - now > ws_period(w, "snapshot") / 2 &&
		snap->md->expires - now <= ws_period(w, "snapshot");
	if (force || !sigcount_ok(&c) || !fresh || !snapshot_matches(snap->md, e, n)) {
		pawl_md *md = NULL;
		int r;

		GUARD(ws_touch(w, snap));
		/* A fresh document: entries for roles no longer delegated go. */
		GUARD(md_new(&md, MD_SNAPSHOT, snap->md->version, snap->md->expires));
		for (size_t i = 0; i < n; i++) {
			md_hash_hex h = { "sha256", e[i].sha256 };

			r = md_bulk_meta(md, e[i].file, e[i].version, true, e[i].length, &h, 1);
			if (r < 0) {
				md_free(md);
				return r;
			}
		}
		r = md_bulk_finish(md);
		if (r < 0) {
			md_free(md);
			return r;
		}
		md_free(snap->md);
		snap->md = md;
		new_snapshot = true;
		GUARD(journal_snapshot(w, snap, n));
		GUARD(sign_and_check(w, snap, ss));
		info("snapshot v%" PRIu64 " names %zu targets role%s", snap->md->version, n,
		     n == 1 ? "" : "s");
	} else {
		info("snapshot v%" PRIu64 " is current (expires %s)", snap->md->version,
		     snap->md->expires_str);
	}
	{
		_cleanup_free_ char *data = NULL;
		size_t len;
		digests dg;
		md_hash_hex h;

		GUARD(ws_role_bytes(w, snap, &data, &len));
		GUARD(digest_buf(data, len, false, &dg));
		h = (md_hash_hex){ "sha256", dg.sha256 };
		GUARD(ws_touch(w, ts));
		GUARD(md_bulk_meta(ts->md, "snapshot.json", snap->md->version, true, len, &h, 1));
		GUARD(md_bulk_finish(ts->md));
		GUARD(journal_timestamp(w, ts, snap, len, dg.sha256, new_snapshot));
		GUARD(sign_and_check(w, ts, ss));
	}
	info("timestamp v%" PRIu64 " names snapshot v%" PRIu64 ", expires %s", ts->md->version,
	     snap->md->version, ts->md->expires_str);
	/* Early warning for the roles whose keys are offline. */
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];

		if ((r->type == MD_ROOT || r->type == MD_TARGETS) && r->md->expires - now < 14 * DAY)
			info("warning: %s v%" PRIu64 " expires at %s; renew it soon with "
			     "`pawl-repo expire`",
			     r->name, r->md->version, r->md->expires_str);
	}
	return 0;
}

int cmd_timestamp(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST, O_FORCE };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "key", required_argument, NULL, O_KEY },
		{ "force", no_argument, NULL, O_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	strv keys = { 0 };
	bool force = false;
	_cleanup_ws_ ws *w = NULL;
	signers ss = { 0 };
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_KEY: strv_push(&keys, optarg); break;
		case O_FORCE: force = true; break;
		default: common_opt("timestamp", usage_timestamp, ch, optarg);
		}
	}
	if (argc - optind != 1)
		usage_error("timestamp", "give the workspace directory REPO");
	if (keys.n == 0)
		usage_error("timestamp", "give the snapshot and timestamp keys with --key");
	if (ws_open(&w, argv[optind], true) < 0 || signers_load(&ss, keys.v, keys.n) < 0 ||
	    do_timestamp(w, &ss, force, true) < 0 || ws_save(w) < 0)
		goto out;
	rc = 0;
out:
	signers_free(&ss);
	free(keys.v);
	return rc ? fail("timestamp") : 0;
}

/* ---------------- publish ---------------- */

static const char usage_publish[] =
	"usage: pawl-repo publish REPO OUTDIR\n"
	"\n"
	"Write the repository for the web server into OUTDIR:\n"
	"  OUTDIR/metadata/N.root.json (every root version), N.targets.json,\n"
	"  N.<role>.json, N.snapshot.json and timestamp.json (and unversioned names\n"
	"  when consistent snapshots are off);\n"
	"  OUTDIR/targets/DIR/HASH.NAME for every target and hash.\n"
	"Target files go first and timestamp.json last; every file is written\n"
	"atomically, so the tree is consistent at every moment. Old versions stay.\n"
	"Refuses a role below its signature threshold, expired metadata, a snapshot or\n"
	"timestamp that does not match the workspace, and any change to a file that is\n"
	"already published.\n";

struct out {
	const char *dir;
	int fd, mfd, tfd;
	size_t new_targets, new_meta;
};

static int read_opt(int dirfd, const char *name, char **ret, size_t *ret_len)
{
	int r = file_read_at(dirfd, name, 512u * 1024u * 1024u, ret, ret_len);

	if (r == PAWL_E_NOT_FOUND) {
		pawl_error_clear();
		*ret = NULL;
		return 0;
	}
	return r;
}

/* A versioned file is immutable once published: same bytes or refuse. */
static int check_immutable(struct out *o, const char *name, const char *data, size_t len)
{
	_cleanup_free_ char *old = NULL;
	size_t oldlen = 0;

	GUARD(read_opt(o->mfd, name, &old, &oldlen));
	if (old && (oldlen != len || memcmp(old, data, len) != 0))
		return pawl_error_set(PAWL_E_ROLLBACK,
				      "%s/metadata/%s is already published with other content; a "
				      "published version never changes. Is this workspace older "
				      "than the one that published it? Continue from that one "
				      "(copy its state.json and metadata/ here)",
				      o->dir, name);
	return 0;
}

/* An unversioned file must not go back to an older version. */
static int check_forward(struct out *o, const char *name, md_type t, uint64_t version,
			 const char *data, size_t len)
{
	char *old = NULL;
	size_t oldlen = 0;
	pawl_md *md = NULL;
	bool same;

	GUARD(read_opt(o->mfd, name, &old, &oldlen));
	if (!old)
		return 0;
	same = oldlen == len && memcmp(old, data, len) == 0;
	if (md_parse(&md, old, oldlen, t, name) < 0) {
		pawl_error_clear();
		return 0; /* unreadable: it is replaced */
	}
	if (md->version > version || (md->version == version && !same)) {
		uint64_t v = md->version;

		md_free(md);
		if (v == version)
			return pawl_error_set(PAWL_E_ROLLBACK,
					      "%s/metadata/%s is already published at version %" PRIu64
					      " with other content; refusing to change it. Publish from "
					      "the workspace that is current",
					      o->dir, name, v);
		return pawl_error_set(PAWL_E_ROLLBACK,
				      "%s/metadata/%s is at version %" PRIu64 ", and this workspace "
				      "would publish version %" PRIu64 "%s; refusing to roll the "
				      "repository back. Publish from the workspace that is current, "
				      "or run `pawl-repo timestamp` there",
				      o->dir, name, v, version, "");
	}
	md_free(md);
	return 0;
}

struct mfile {
	char name[ROLE_NAME_MAX + 32];
	char *data;
	size_t len;
	bool versioned;
	md_type type;
	uint64_t version;
};

static int add_mfile(struct mfile **v, size_t *n, size_t *cap, const char *name, const char *data,
		     size_t len, bool versioned, md_type t, uint64_t version)
{
	struct mfile *m;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct mfile *nv = xreallocarray(*v, nc, sizeof(*nv));

		if (!nv)
			return PAWL_E_NOMEM;
		*v = nv;
		*cap = nc;
	}
	m = &(*v)[*n];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->data = xmalloc(len + 1);
	if (!m->data)
		return PAWL_E_NOMEM;
	memcpy(m->data, data, len);
	m->len = len;
	m->versioned = versioned;
	m->type = t;
	m->version = version;
	(*n)++;
	return 0;
}

static int mfile_prio(const struct mfile *m)
{
	switch (m->type) {
	case MD_ROOT: return 0;
	case MD_TARGETS:
		return strstr(m->name, "targets.json") &&
		       (strcmp(m->name, "targets.json") == 0 ||
			strcmp(strchr(m->name, '.') + 1, "targets.json") == 0) ? 2 : 1;
	case MD_SNAPSHOT: return 3;
	case MD_TIMESTAMP: return 4;
	}
	return 4;
}

static int check_role_ready(ws *w, ws_role *r, int64_t now)
{
	sigcount c;

	GUARD(ws_count(w, r, &c));
	if (!sigcount_ok(&c)) {
		if (c.has_prev && c.prev_valid < c.prev_threshold)
			return pawl_error_set(PAWL_E_SIGNATURE,
					      "refusing to publish: root v%" PRIu64 " has %" PRIu32
					      " of the %" PRIu32 " signatures the new root needs and %"
					      PRIu32 " of the %" PRIu32 " that root v%" PRIu64
					      " requires for a rotation; sign it with `pawl-repo sign %s "
					      "root --key KEY`",
					      r->md->version, c.valid, c.threshold, c.prev_valid,
					      c.prev_threshold, r->md->version - 1, w->path);
		return pawl_error_set(PAWL_E_SIGNATURE,
				      "refusing to publish: %s v%" PRIu64 " has %" PRIu32 " of the %"
				      PRIu32 " signatures it needs; sign it with `pawl-repo %s`",
				      r->name, r->md->version, c.valid, c.threshold,
				      r->type == MD_SNAPSHOT || r->type == MD_TIMESTAMP
					      ? "timestamp REPO --key ..."
					      : "sign REPO ROLE --key KEY");
	}
	if (r->md->expires <= now)
		return pawl_error_set(PAWL_E_EXPIRED,
				      "refusing to publish: %s v%" PRIu64 " expired at %s; renew it "
				      "(`pawl-repo %s`)",
				      r->name, r->md->version, r->md->expires_str,
				      r->type == MD_SNAPSHOT || r->type == MD_TIMESTAMP
					      ? "timestamp"
					      : "expire REPO ROLE DAYS --key KEY");
	return 0;
}

/* The snapshot must name exactly the workspace's bytes of every role. */
static int check_snapshot(ws *w, ws_role *r, const char *data, size_t len)
{
	pawl_md *snap = ws_top(w, MD_SNAPSHOT)->md;
	char file[ROLE_NAME_MAX + 8];
	md_metafile mf;

	snprintf(file, sizeof(file), "%s.json", r->name);
	if (md_meta_get(snap, file, &mf) < 0 || mf.version != r->md->version)
		return pawl_error_set(PAWL_E_INVALID,
				      "refusing to publish: snapshot v%" PRIu64 " does not name %s v%"
				      PRIu64 " (the workspace's version); run `pawl-repo timestamp "
				      "%s --key SNAPSHOT_KEY --key TIMESTAMP_KEY` first",
				      snap->version, r->name, r->md->version, w->path);
	if ((mf.has_length && mf.length != len) ||
	    (mf.hashes && md_check_content(data, len, false, 0, mf.hashes, file) < 0))
		return pawl_error_set(PAWL_E_HASH,
				      "refusing to publish: snapshot v%" PRIu64 " names other bytes "
				      "for %s v%" PRIu64 "; run `pawl-repo timestamp` first",
				      snap->version, r->name, r->md->version);
	return 0;
}

/*
 * The published tree may live in a directory others can write (a web root
 * shared with the server's account): a link planted at any component of
 * a target's directory would otherwise send the publisher's writes (and
 * hard links) wherever it points. So each target's directory is opened
 * (created) one component at a time without following anything
 * (dir_walk_at), and everything else is done relative to it with single
 * names.
 */
static int target_dir(struct out *o, const char *name, int *ret_fd)
{
	const char *slash = strrchr(name, '/');
	char dir[TARGET_PATH_MAX + 1];
	int r;

	if (!slash) {
		*ret_fd = fcntl(o->tfd, F_DUPFD_CLOEXEC, 3);
		if (*ret_fd < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s/targets", o->dir);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - name), name);
	r = dir_walk_at(o->tfd, dir, true, 0755, ret_fd);
	return r < 0 ? pawl_error_prefix(r, "%s/targets/: ", o->dir) : 0;
}

static int publish_targets(ws *w, struct out *o, ws_role *r, bool consistent)
{
	const pj_value *targets = r->md->targets;

	for (uint32_t i = 0; i < targets->len; i++) {
		const pj_member *m = &targets->u.members[i];
		const char *slash = strrchr(m->key, '/');
		const char *base = slash ? slash + 1 : m->key;
		char first[TARGET_PATH_MAX + 256];
		bool have_first = false;
		_cleanup_close_ int dfd = -1;
		md_target t;

		GUARD(md_target_parse(&m->value, &t, m->key));
		GUARD(check_target_path(m->key));
		GUARD(target_dir(o, m->key, &dfd));
		for (uint32_t h = 0; h < t.hashes->len; h++) {
			const pj_member *hm = &t.hashes->u.members[h];
			char name[TARGET_PATH_MAX + 256];
			struct stat st;

			if (strcmp(hm->key, "sha256") != 0 && strcmp(hm->key, "sha512") != 0)
				continue;
			snprintf(name, sizeof(name), "%s.%s", hm->value.u.s, base);
			/* The name holds the hash: a file of the right size is it. */
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode) && (uint64_t)st.st_size == t.length)
				goto next;
			if (have_first) {
				if (linkat(dfd, first, dfd, name, 0) == 0 || errno == EEXIST)
					goto next;
			}
			GUARD(content_publish(w, dfd, name, &t, m->key));
			o->new_targets++;
next:
			if (!have_first) {
				snprintf(first, sizeof(first), "%s", name);
				have_first = true;
			}
		}
		if (!consistent) {
			int rc = content_check(dfd, base, &t, m->key);

			if (rc < 0) {
				pawl_error_clear();
				GUARD(content_publish(w, dfd, base, &t, m->key));
				o->new_targets++;
			}
		}
	}
	return 0;
}

int cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_ws_ ws *w = NULL;
	struct mfile *mf = NULL;
	size_t nmf = 0, capmf = 0;
	struct out o = { .fd = -1, .mfd = -1, .tfd = -1 };
	digests tsdg;
	int64_t now = pawl_now();
	bool consistent;
	int ch, rc = 1;
	char path[4096];

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
		common_opt("publish", usage_publish, ch, optarg);
	if (argc - optind != 2)
		usage_error("publish", "give the workspace REPO and the output directory OUTDIR");
	o.dir = argv[optind + 1];
	if (ws_open(&w, argv[optind], true) < 0 || ws_walk(w) < 0)
		goto out;
	consistent = ws_top(w, MD_ROOT)->md->consistent_snapshot;

	/* 1. Everything a client checks, before a byte is written. */
	for (size_t i = 0; i < w->nroles; i++)
		if (check_role_ready(w, w->roles[i], now) < 0)
			goto out;
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];
		_cleanup_free_ char *data = NULL;
		char name[ROLE_NAME_MAX + 32];
		size_t len;

		if (ws_role_bytes(w, r, &data, &len) < 0)
			goto out;
		if (r->type == MD_TARGETS && check_snapshot(w, r, data, len) < 0)
			goto out;
		if (r->type == MD_TIMESTAMP) {
			_cleanup_free_ char *sdata = NULL;
			size_t slen;
			const md_metafile *sm = &r->md->snapshot_meta;

			if (ws_role_bytes(w, ws_top(w, MD_SNAPSHOT), &sdata, &slen) < 0)
				goto out;
			if (sm->version != ws_top(w, MD_SNAPSHOT)->md->version ||
			    (sm->has_length && sm->length != slen) ||
			    (sm->hashes &&
			     md_check_content(sdata, slen, false, 0, sm->hashes, "snapshot") < 0)) {
				pawl_error_set(PAWL_E_INVALID,
					       "refusing to publish: timestamp v%" PRIu64 " does not name "
					       "snapshot v%" PRIu64 " as it is; run `pawl-repo timestamp`",
					       r->md->version, ws_top(w, MD_SNAPSHOT)->md->version);
				goto out;
			}
			if (add_mfile(&mf, &nmf, &capmf, "timestamp.json", data, len, false,
				      MD_TIMESTAMP, r->md->version) < 0)
				goto out;
			continue;
		}
		if (r->type == MD_ROOT)
			continue; /* below, with the history */
		snprintf(name, sizeof(name), "%" PRIu64 ".%s.json", r->md->version, r->name);
		if (add_mfile(&mf, &nmf, &capmf, name, data, len, true, r->type, r->md->version) < 0)
			goto out;
		if (!consistent) {
			snprintf(name, sizeof(name), "%s.json", r->name);
			if (add_mfile(&mf, &nmf, &capmf, name, data, len, false, r->type,
				      r->md->version) < 0)
				goto out;
		}
	}
	/* Every root version, oldest first: clients walk the chain. */
	{
		ws_role *root = ws_top(w, MD_ROOT);
		_cleanup_free_ char *data = NULL;
		size_t len;
		char name[64];

		for (uint64_t v = 1; v < root->md->version; v++) {
			_cleanup_free_ char *h = NULL;
			size_t hl;
			char hist[96];

			snprintf(hist, sizeof(hist), "metadata/root-history/%" PRIu64 ".root.json", v);
			if (file_read_at(w->dirfd, hist, 64u << 20, &h, &hl) < 0) {
				pawl_error_prefix(pawl_error_last()->code,
						  "root v%" PRIu64 " is missing from the workspace's "
						  "history, and clients need every version: ",
						  v);
				goto out;
			}
			snprintf(name, sizeof(name), "%" PRIu64 ".root.json", v);
			if (add_mfile(&mf, &nmf, &capmf, name, h, hl, true, MD_ROOT, v) < 0)
				goto out;
		}
		if (ws_role_bytes(w, root, &data, &len) < 0)
			goto out;
		snprintf(name, sizeof(name), "%" PRIu64 ".root.json", root->md->version);
		if (add_mfile(&mf, &nmf, &capmf, name, data, len, true, MD_ROOT,
			      root->md->version) < 0)
			goto out;
		if (!consistent &&
		    add_mfile(&mf, &nmf, &capmf, "root.json", data, len, false, MD_ROOT,
			      root->md->version) < 0)
			goto out;
	}

	/* 2. The published tree must only move forward. */
	snprintf(path, sizeof(path), "%s/metadata", o.dir);
	if (dir_create(path, 0755) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/targets", o.dir);
	if (dir_create(path, 0755) < 0)
		goto out;
	if (dir_open(o.dir, &o.fd) < 0 || dir_open_at(o.fd, "metadata", &o.mfd) < 0 ||
	    dir_open_at(o.fd, "targets", &o.tfd) < 0)
		goto out;
	for (size_t i = 0; i < nmf; i++) {
		if (mf[i].versioned ? check_immutable(&o, mf[i].name, mf[i].data, mf[i].len) < 0
				    : check_forward(&o, mf[i].name, mf[i].type, mf[i].version,
						    mf[i].data, mf[i].len) < 0)
			goto out;
	}

	/* 3. Targets, then one sync. */
	for (size_t i = 0; i < w->nroles; i++)
		if (w->roles[i]->type == MD_TARGETS &&
		    publish_targets(w, &o, w->roles[i], consistent) < 0)
			goto out;
	if (syncfs(o.tfd) != 0) {
		pawl_error_set_errno(PAWL_E_IO, errno, "cannot sync %s/targets", o.dir);
		goto out;
	}

	/* 4. Metadata: every root, delegated roles, targets, snapshot, and
	 * timestamp.json last. */
	for (int prio = 0; prio < 5; prio++) {
		for (size_t i = 0; i < nmf; i++) {
			if (mfile_prio(&mf[i]) != prio)
				continue;
			if (file_write_atomic_at(o.mfd, mf[i].name, mf[i].data, mf[i].len, 0644) < 0)
				goto out;
			o.new_meta++;
		}
	}

	/* 5. Remember what is out there: changes from now on get new
	 * versions. */
	for (size_t i = 0; i < w->nroles; i++)
		if (ws_set_published(w, w->roles[i]->name, w->roles[i]->md->version) < 0)
			goto out;
	if (ws_save(w) < 0 || ws_role_digest(w, ws_top(w, MD_TIMESTAMP), NULL, &tsdg) < 0 ||
	    journal_publish(w, o.dir, tsdg.sha256, o.new_targets, o.new_meta) < 0)
		goto out;
	info("published root v%" PRIu64 ", targets v%" PRIu64 ", snapshot v%" PRIu64
	     ", timestamp v%" PRIu64 " (%zu roles, %zu new target files) to %s",
	     ws_top(w, MD_ROOT)->md->version, ws_top(w, MD_TARGETS)->md->version,
	     ws_top(w, MD_SNAPSHOT)->md->version, ws_top(w, MD_TIMESTAMP)->md->version,
	     w->nroles, o.new_targets, o.dir);
	rc = 0;
out:
	for (size_t i = 0; i < nmf; i++)
		free(mf[i].data);
	free(mf);
	if (o.fd >= 0)
		close(o.fd);
	if (o.mfd >= 0)
		close(o.mfd);
	if (o.tfd >= 0)
		close(o.tfd);
	return rc ? fail("publish") : 0;
}

/* ---------------- handed ---------------- */

static const char usage_handed[] =
	"usage: pawl-repo handed REPO [ROLE ...]\n"
	"\n"
	"Record that the current versions of the ROLEs (default: root and targets)\n"
	"reached clients by another way than `publish`: imported into the repository\n"
	"service (`pawl-repod import REPO`), which signs snapshot, timestamp and the\n"
	"hash bins itself. As after `publish`, the next change to such a role makes a\n"
	"new version, since a version handed out never changes. Refuses a role below\n"
	"its signature threshold or expired.\n";

int cmd_handed(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const char *const defaults[] = { "root", "targets" };
	_cleanup_ws_ ws *w = NULL;
	int64_t now = pawl_now();
	int ch, rc = 1, nroles;
	const char *const *roles;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1)
		common_opt("handed", usage_handed, ch, optarg);
	if (argc - optind < 1)
		usage_error("handed", "give the workspace REPO");
	roles = argc - optind > 1 ? (const char *const *)argv + optind + 1 : defaults;
	nroles = argc - optind > 1 ? argc - optind - 1 : (int)ARRAY_SIZE(defaults);
	if (ws_open(&w, argv[optind], true) < 0)
		goto out;
	for (int i = 0; i < nroles; i++) {
		ws_role *r;
		digests dg;

		if (ws_find(w, roles[i], &r) < 0 || check_role_ready(w, r, now) < 0 ||
		    ws_set_published(w, r->name, r->md->version) < 0 ||
		    ws_role_digest(w, r, NULL, &dg) < 0 || journal_handed(w, r, dg.sha256) < 0)
			goto out;
		info("%s v%" PRIu64 " is handed out: the next change makes v%" PRIu64, r->name,
		     r->md->version, r->md->version + 1);
	}
	if (ws_save(w) < 0)
		goto out;
	rc = 0;
out:
	return rc ? fail("handed") : 0;
}

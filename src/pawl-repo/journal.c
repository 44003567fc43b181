/*
 * journal.c - the publisher's audit log: REPO/audit.log (PRODUCT.md,
 * practice 7; docs/audit.md, "The publisher's log").
 *
 * pawl-repo owns the log; libpawl never writes it. Every command that
 * changes the workspace opens it with the workspace (ws_open for writing,
 * ws_create) and records what it does as it does it:
 *  - a "command" entry first (which command, which user), then
 *  - each signature as it is made (ws_sign), before the signed metadata
 *    is saved, so that no saved signature lacks its entry;
 *  - each change (targets, delegations, keys, expiry), snapshot, timestamp
 *    and publication, with the versions and hashes involved;
 *  - each failure (fail() in cli.c), with flood control (audit_failure).
 * The workspace lock serialises writers, so one command's entries are
 * contiguous. A change entry is written before the change is saved; if the
 * command then fails, its failure entry follows and the change did not
 * take effect.
 *
 * The anchor: when the workspace is released (ws_free, still holding the
 * workspace lock) the position of the last entry (audit_last) goes into
 * REPO/state.json as "audit", re-reading that file so that nothing else a
 * failed command changed in memory is saved with it. `log verify` checks
 * the log against it, so entries cut off the end with audit.head rewritten
 * to match are still caught. At open the log is checked against the anchor
 * once more (for free when the log ends at the anchor, the usual case;
 * otherwise with a full audit_verify). A log that does not hold the
 * anchor's entry is recorded as a "log.damaged" failure before the anchor
 * moves on, so the evidence survives the next command, and `log verify`
 * reports such records with exit 2, as the library does for its own
 * incidents. An anchor of another log (state.json copied from another copy
 * of the workspace, as the offline signing ceremony does; or this log
 * removed or replaced, which cannot be told apart from here) is recorded
 * as "anchor.other-log", not counted: copying state.json is routine, and
 * a false alarm at every ceremony would teach people to ignore the real
 * ones.
 */
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repo.h"

bool journal_syslog = true;
const char *journal_cmd = "?";

/* The workspace whose log fail() writes to: the one open for writing. */
static ws *journal_ws;

/* At most this many targets are listed one by one in a batch entry; the
 * list hash covers every one (see journal_targets). */
#define LIST_TARGETS_MAX 16
#define LIST_ROLES_MAX 16
#define LIST_BYTES_MAX (16u * 1024u)

/* ---------------- entries with nested fields ---------------- */

/* An entry being built. The first error sticks and is returned by
 * je_write, so that building reads as a list of fields. */
typedef struct jent {
	pj_doc *doc;
	pj_value *f;
	int err;
} jent;

static void je_init(jent *e)
{
	e->f = NULL;
	e->err = pj_doc_new(&e->doc);
	if (e->err == 0) {
		e->f = pj_root(e->doc);
		e->err = pj_set_object(e->doc, e->f);
	}
}

static pj_value *je_slot(jent *e, pj_value *obj, const char *k)
{
	pj_value *v = NULL;

	if (e->err == 0)
		e->err = pj_obj_put(e->doc, obj, k, strlen(k), &v);
	return e->err ? NULL : v;
}

static void je_str(jent *e, pj_value *obj, const char *k, const char *s)
{
	pj_value *v = je_slot(e, obj, k);

	if (v)
		e->err = s ? pj_set_cstr(e->doc, v, s) : 0;
}

static void je_int(jent *e, pj_value *obj, const char *k, int64_t i)
{
	pj_value *v = je_slot(e, obj, k);

	if (v)
		pj_set_int(v, i);
}

static void je_bool(jent *e, pj_value *obj, const char *k, bool b)
{
	pj_value *v = je_slot(e, obj, k);

	if (v)
		pj_set_bool(v, b);
}

static pj_value *je_obj(jent *e, pj_value *obj, const char *k)
{
	pj_value *v = je_slot(e, obj, k);

	if (v)
		e->err = pj_set_object(e->doc, v);
	return e->err ? NULL : v;
}

static pj_value *je_arr(jent *e, pj_value *obj, const char *k)
{
	pj_value *v = je_slot(e, obj, k);

	if (v)
		e->err = pj_set_array(e->doc, v);
	return e->err ? NULL : v;
}

static void je_push(jent *e, pj_value *arr, const char *s)
{
	pj_value *v = NULL;

	if (e->err == 0)
		e->err = pj_arr_push(e->doc, arr, &v);
	if (e->err == 0)
		e->err = pj_set_cstr(e->doc, v, s);
}

static pj_value *je_push_obj(jent *e, pj_value *arr)
{
	pj_value *v = NULL;

	if (e->err == 0)
		e->err = pj_arr_push(e->doc, arr, &v);
	if (e->err == 0)
		e->err = pj_set_object(e->doc, v);
	return e->err ? NULL : v;
}

static void je_keyids(jent *e, pj_value *obj, const char *k, const md_role *mr)
{
	pj_value *a = je_arr(e, obj, k);

	for (uint32_t i = 0; a && i < mr->nkeyids; i++)
		je_push(e, a, mr->keyids[i]);
}

/* A list of strings from the command line (delegation paths): the first
 * ones up to LIST_BYTES_MAX, and "<k>_total" when not all of them fit, so
 * that the entry stays below AUDIT_LINE_MAX however many there are. */
static void je_strings(jent *e, pj_value *obj, const char *k, const pj_value *arr)
{
	pj_value *a = je_arr(e, obj, k);
	uint32_t n = pj_is_array(arr) ? arr->len : 0, i;
	size_t bytes = 0;
	char total[AUDIT_NAME_MAX + 1];

	for (i = 0; a && i < n; i++) {
		const char *v = pj_str(&arr->u.items[i]);

		if (!v)
			continue;
		bytes += strlen(v);
		if (bytes > LIST_BYTES_MAX)
			break;
		je_push(e, a, v);
	}
	if (i < n) {
		snprintf(total, sizeof(total), "%s_total", k);
		je_int(e, obj, total, n);
	}
}

static int je_write(ws *w, const char *type, jent *e)
{
	int r = e->err;

	if (r == 0)
		r = audit_append_json(w->audit, type, e->f);
	pj_doc_free(e->doc);
	e->doc = NULL;
	if (r < 0)
		return pawl_error_prefix(r, "audit log %s/audit.log: ", w->path);
	return 0;
}

static int flat_result(ws *w, int r)
{
	if (r < 0)
		return pawl_error_prefix(r, "audit log %s/audit.log: ", w->path);
	return 0;
}

/* ---------------- opening, the anchor, closing ---------------- */

static bool head_eq(const audit_head *a, const audit_head *b)
{
	return a->seq == b->seq && strcmp(a->hash, b->hash) == 0 && strcmp(a->log, b->log) == 0;
}

/* Does the log hold the entry state.json names? Records what it finds when
 * not (see the top of the file). */
static int check_anchor(ws *w, const audit_head *at_open)
{
	audit_head anchor, found = *at_open;
	audit_report rep;
	char path[4200];
	int r;

	if (audit_head_from_json(&anchor, pj_get(pj_root(w->state), "audit")) < 0) {
		/* No anchor yet: a workspace from before the log, or a first
		 * command. */
		pawl_error_clear();
		return 0;
	}
	if (head_eq(&anchor, &found))
		return 0;
	if (strcmp(found.log, anchor.log) != 0) {
		/* Another log's anchor: state.json came from another copy of
		 * the workspace (the offline signing machine's, or back from
		 * it), or this log was removed or replaced. Nothing here tells
		 * these apart, so it is recorded, not counted as damage; the
		 * entry keeps the other log's position in the chain and in
		 * syslog. */
		info("note: state.json names entry %" PRIu64 " of audit log %s, and %s/audit.log is "
		     "log %s%s: expected when state.json was copied from another copy of the "
		     "workspace (offline signing); otherwise that log was removed or replaced",
		     anchor.seq, anchor.log, w->path, found.log,
		     found.seq == 0 ? ", started just now" : "");
		return flat_result(w, audit_failuref(w->audit, "anchor.other-log",
			"state.json names an entry of another audit log",
			AUDIT_INT("anchor_seq", anchor.seq), AUDIT_STR("anchor_hash", anchor.hash),
			AUDIT_STR("anchor_log", anchor.log), AUDIT_STR("log", found.log),
			AUDIT_BOOL("started", found.seq == 0)));
	}
	snprintf(path, sizeof(path), "%s/audit.log", w->path);
	r = audit_verify(path, NULL, &anchor, &rep);
	if (r == 0)
		return 0; /* appended to since (a run that could not save it) */
	if (r != PAWL_E_FORMAT && r != PAWL_E_HASH)
		return pawl_error_prefix(r, "audit log %s: ", path);
	fprintf(stderr, "pawl-repo: warning: %s/audit.log does not hold the entry state.json "
		"names (seq %" PRIu64 "): %s; recorded as log.damaged\n",
		w->path, anchor.seq, rep.detail);
	return flat_result(w, audit_failuref(w->audit, "log.damaged", rep.detail,
		AUDIT_STR("problem", audit_problem_name(rep.problem)),
		AUDIT_INT("anchor_seq", anchor.seq), AUDIT_STR("anchor_hash", anchor.hash),
		AUDIT_STR("anchor_log", anchor.log), AUDIT_INT("log_seq", found.seq),
		AUDIT_STR("log_hash", found.hash), AUDIT_STR("log", found.log)));
}

int journal_open(ws *w)
{
	audit_opts o = AUDIT_OPTS_INIT;
	const char *sock = getenv("PAWL_SYSLOG_SOCKET");
	const struct passwd *pw = getpwuid(getuid());
	audit_head at_open;
	char uid[24];
	int r;

	o.ident = "pawl-repo";
	o.syslog = journal_syslog;
	if (sock && *sock)
		o.syslog_path = sock;
	r = audit_open(&w->audit, w->dirfd, "audit.log", &o);
	if (r < 0)
		return pawl_error_prefix(r, "audit log %s/audit.log: ", w->path);
	journal_ws = w;
	GUARD(audit_last(w->audit, &at_open));
	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	GUARD(flat_result(w, audit_appendf(w->audit, "command", AUDIT_STR("name", journal_cmd),
					    AUDIT_STR("user", pw ? pw->pw_name : uid),
					    AUDIT_INT("uid", getuid()), AUDIT_INT("pid", getpid()),
					    AUDIT_STR("pawl", pawl_version()))));
	if (w->state)
		GUARD(check_anchor(w, &at_open));
	return 0;
}

/* state.json as it is on disk, with "audit" set to h. */
static int save_anchor(ws *w, const audit_head *h)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_free_ char *out = NULL;
	char *data = NULL;
	size_t len;
	pj_value *slot;
	int r;

	r = file_read_at(w->dirfd, "state.json", 64u * 1024u * 1024u, &data, &len);
	if (r == PAWL_E_NOT_FOUND) {
		/* An init that failed before its first save: no workspace. */
		pawl_error_clear();
		return 0;
	}
	GUARD(r);
	GUARD(pj_parse(&doc, data, len, NULL));
	ENSURE(pj_is_object(pj_root(doc)), PAWL_E_FORMAT, "state.json is not a JSON object");
	GUARD(pj_obj_put(doc, pj_root(doc), "audit", 5, &slot));
	GUARD(audit_head_to_json(doc, slot, h));
	GUARD(md_json_write(pj_root(doc), &out, &len));
	return file_write_atomic_at(w->dirfd, "state.json", out, len, 0644);
}

void journal_close(ws *w)
{
	audit_head h;
	int r;

	if (!w->audit)
		return;
	r = audit_flush(w->audit);
	if (r == 0)
		r = audit_last(w->audit, &h);
	if (r == 0)
		r = save_anchor(w, &h);
	if (r < 0) {
		fprintf(stderr, "pawl-repo: warning: cannot keep the audit log's last entry in "
			"%s/state.json: %s (the next command checks the whole log instead)\n",
			w->path, pawl_error_last()->message);
		pawl_error_clear();
	}
	if (audit_close(w->audit) < 0) {
		fprintf(stderr, "pawl-repo: warning: audit log %s/audit.log: %s\n", w->path,
			pawl_error_last()->message);
		pawl_error_clear();
	}
	w->audit = NULL;
	if (journal_ws == w)
		journal_ws = NULL;
}

void journal_failure(const char *cmd)
{
	const pawl_error *e = pawl_error_last();
	char reason[1024];
	int code = e->code ? e->code : PAWL_E_GENERIC;

	if (!journal_ws || !journal_ws->audit)
		return;
	snprintf(reason, sizeof(reason), "%s", e->message[0] ? e->message : pawl_strerror(code));
	if (audit_failuref(journal_ws->audit, "failure", reason, AUDIT_STR("command", cmd),
			   AUDIT_STR("error", pawl_strerror(code))) < 0) {
		fprintf(stderr, "pawl-repo: warning: cannot record the failure in %s/audit.log: %s\n",
			journal_ws->path, pawl_error_last()->message);
		pawl_error_clear();
	}
}

/* ---------------- events ---------------- */

int journal_init(ws *w)
{
	pawl_md *root = ws_top(w, MD_ROOT)->md;
	jent e;
	pj_value *roles;

	je_init(&e);
	je_bool(&e, e.f, "consistent_snapshot", root->consistent_snapshot);
	je_bool(&e, e.f, "sha512", w->hash_sha512);
	roles = je_obj(&e, e.f, "roles");
	for (int t = 0; roles && t < MD_NTOP; t++) {
		const md_role *mr = md_root_role(root, (md_type)t);
		pj_value *o = je_obj(&e, roles, md_type_name((md_type)t));

		if (!o || !mr)
			continue;
		je_keyids(&e, o, "keyids", mr);
		je_int(&e, o, "threshold", mr->threshold);
		je_int(&e, o, "version", ws_top(w, (md_type)t)->md->version);
	}
	return je_write(w, "init", &e);
}

int journal_signed(ws *w, ws_role *r, const pawl_signer *s, const char *arg)
{
	char shown[1024];

	return flat_result(w, audit_appendf(w->audit, "sign", AUDIT_STR("role", r->name),
		AUDIT_INT("version", r->md->version), AUDIT_STR("keyid", signer_keyid(s)),
		AUDIT_STR("signer", signer_kind(s)),
		AUDIT_STR("key", arg ? key_arg_display(arg, shown, sizeof(shown)) : NULL)));
}

int journal_root_ready(ws *w, ws_role *r, size_t len, const char *sha256, const sigcount *c)
{
	return flat_result(w, audit_appendf(w->audit, "root.ready",
		AUDIT_INT("version", r->md->version), AUDIT_INT("length", len),
		AUDIT_STR("sha256", sha256), AUDIT_INT("signatures", c->valid),
		AUDIT_INT("threshold", c->threshold)));
}

static int jt_cmp(const void *a, const void *b)
{
	const jtarget *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * One entry per batch (docs/audit.md has the measurements behind this):
 * the count, the bytes, the roles changed with their new versions, and
 * list_sha256, the SHA-256 of the lines "PATH<TAB>SHA256<LF>" of every
 * target of the batch in byte order of PATH (for a path given twice, the
 * one that took effect: the last). Target paths hold no control
 * characters, so that is also `LC_ALL=C sort` order, and anyone can
 * recompute it from the metadata or the input files. Batches of up to
 * LIST_TARGETS_MAX targets also list each one.
 */
int journal_targets(ws *w, const char *type, jtarget *v, size_t n, ws_role **roles,
		    size_t nroles, uint64_t bytes)
{
	hash_ctx *h = NULL;
	uint8_t d[HASH_MAX_LEN];
	char hex[65];
	size_t k = 0;
	jent e;
	pj_value *ro, *list = NULL;
	int r = 0;

	qsort(v, n, sizeof(*v), jt_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(v[i].path, v[i + 1].path) == 0)
			continue; /* a later entry for the path replaced it */
		v[k++] = v[i];
	}
	GUARD(hash_new(&h, HASH_SHA256));
	for (size_t i = 0; r == 0 && i < k; i++) {
		r = hash_update(h, v[i].path, strlen(v[i].path));
		if (r == 0)
			r = hash_update(h, "\t", 1);
		if (r == 0)
			r = hash_update(h, v[i].sha256, strlen(v[i].sha256));
		if (r == 0)
			r = hash_update(h, "\n", 1);
	}
	if (r == 0)
		r = hash_final(h, d);
	hash_free(h);
	GUARD(r);
	hex_encode(hex, d, 32);

	je_init(&e);
	je_int(&e, e.f, "count", k);
	if (bytes)
		je_int(&e, e.f, "bytes", bytes);
	je_str(&e, e.f, "list_sha256", hex);
	je_int(&e, e.f, "nroles", nroles);
	ro = je_obj(&e, e.f, "roles");
	for (size_t i = 0; ro && i < nroles && i < LIST_ROLES_MAX; i++)
		je_int(&e, ro, roles[i]->name, roles[i]->md->version);
	if (k <= LIST_TARGETS_MAX)
		list = je_arr(&e, e.f, "targets");
	for (size_t i = 0; list && i < k; i++) {
		pj_value *t = je_push_obj(&e, list);

		if (!t)
			break;
		je_str(&e, t, "path", v[i].path);
		je_int(&e, t, "length", v[i].length);
		je_str(&e, t, "sha256", v[i].sha256);
		je_str(&e, t, "role", v[i].role->name);
	}
	return je_write(w, type, &e);
}

int journal_delegate(ws *w, ws_role *parent, ws_role *child, const md_role *mr, bool replaced)
{
	jent e;

	je_init(&e);
	je_str(&e, e.f, "from", parent->name);
	je_int(&e, e.f, "from_version", parent->md->version);
	je_str(&e, e.f, "role", child->name);
	je_int(&e, e.f, "version", child->md->version);
	je_keyids(&e, e.f, "keyids", mr);
	je_int(&e, e.f, "threshold", mr->threshold);
	je_bool(&e, e.f, "terminating", mr->terminating);
	if (mr->paths)
		je_strings(&e, e.f, "paths", mr->paths);
	if (mr->path_hash_prefixes)
		je_strings(&e, e.f, "path_hash_prefixes", mr->path_hash_prefixes);
	je_bool(&e, e.f, "replaced", replaced);
	return je_write(w, "delegate", &e);
}

int journal_replaced(ws *w, const char *path, ws_role *r, uint64_t old_length,
		     const char *old_sha256, uint64_t length, const char *sha256, bool release)
{
	jent e;

	je_init(&e);
	je_str(&e, e.f, "path", path);
	je_str(&e, e.f, "role", r->name);
	je_int(&e, e.f, "old_length", old_length);
	je_str(&e, e.f, "old_sha256", old_sha256);
	je_int(&e, e.f, "length", length);
	je_str(&e, e.f, "sha256", sha256);
	je_bool(&e, e.f, "release", release);
	return je_write(w, "target.replaced", &e);
}

int journal_bins(ws *w, ws_role *parent, uint32_t count)
{
	const md_succinct *sc = &parent->md->deleg.succinct;
	jent e;

	je_init(&e);
	je_str(&e, e.f, "from", parent->name);
	je_int(&e, e.f, "from_version", parent->md->version);
	je_int(&e, e.f, "count", count);
	je_int(&e, e.f, "bit_length", sc->bit_length);
	je_str(&e, e.f, "prefix", sc->name_prefix);
	je_keyids(&e, e.f, "keyids", &sc->role);
	je_int(&e, e.f, "threshold", sc->role.threshold);
	return je_write(w, "bins", &e);
}

int journal_rotate(ws *w, ws_role *r, ws_role *holder, const md_role *mr, char **removed,
		   size_t nremoved, pawl_key **added, size_t nadded)
{
	pj_value *a;
	jent e;

	je_init(&e);
	je_str(&e, e.f, "role", r->name);
	je_str(&e, e.f, "in", holder->name);
	je_int(&e, e.f, "in_version", holder->md->version);
	a = je_arr(&e, e.f, "removed");
	for (size_t i = 0; a && i < nremoved; i++)
		je_push(&e, a, removed[i]);
	a = je_arr(&e, e.f, "added");
	for (size_t i = 0; a && i < nadded; i++)
		je_push(&e, a, key_id(added[i]));
	je_keyids(&e, e.f, "keyids", mr);
	je_int(&e, e.f, "threshold", mr->threshold);
	return je_write(w, "rotate", &e);
}

int journal_expire(ws *w, ws_role *r, int64_t secs, bool renewed)
{
	if (!renewed)
		return flat_result(w, audit_appendf(w->audit, "expire", AUDIT_STR("role", r->name),
			AUDIT_INT("period_s", secs), AUDIT_BOOL("renewed", false)));
	return flat_result(w, audit_appendf(w->audit, "expire", AUDIT_STR("role", r->name),
		AUDIT_INT("period_s", secs), AUDIT_BOOL("renewed", true),
		AUDIT_INT("version", r->md->version), AUDIT_STR("expires", r->md->expires_str)));
}

int journal_snapshot(ws *w, ws_role *snap, size_t nroles)
{
	return flat_result(w, audit_appendf(w->audit, "snapshot",
		AUDIT_INT("version", snap->md->version), AUDIT_INT("roles", nroles),
		AUDIT_STR("expires", snap->md->expires_str)));
}

int journal_timestamp(ws *w, ws_role *ts, ws_role *snap, size_t snap_len,
		      const char *snap_sha256, bool new_snapshot)
{
	return flat_result(w, audit_appendf(w->audit, "timestamp",
		AUDIT_INT("version", ts->md->version), AUDIT_STR("expires", ts->md->expires_str),
		AUDIT_INT("snapshot_version", snap->md->version),
		AUDIT_INT("snapshot_length", snap_len), AUDIT_STR("snapshot_sha256", snap_sha256),
		AUDIT_BOOL("new_snapshot", new_snapshot)));
}

int journal_publish(ws *w, const char *outdir, const char *timestamp_sha256, size_t new_targets,
		    size_t meta_files)
{
	_cleanup_free_ char *abs = realpath(outdir, NULL);

	return flat_result(w, audit_appendf(w->audit, "publish",
		AUDIT_STR("outdir", abs ? abs : outdir),
		AUDIT_INT("root", ws_top(w, MD_ROOT)->md->version),
		AUDIT_INT("targets", ws_top(w, MD_TARGETS)->md->version),
		AUDIT_INT("snapshot", ws_top(w, MD_SNAPSHOT)->md->version),
		AUDIT_INT("timestamp", ws_top(w, MD_TIMESTAMP)->md->version),
		AUDIT_STR("timestamp_sha256", timestamp_sha256), AUDIT_INT("roles", w->nroles),
		AUDIT_INT("new_target_files", new_targets),
		AUDIT_INT("metadata_files", meta_files),
		AUDIT_BOOL("consistent_snapshot", ws_top(w, MD_ROOT)->md->consistent_snapshot)));
}

int journal_handed(ws *w, ws_role *r, const char *sha256)
{
	return flat_result(w, audit_appendf(w->audit, "handed",
		AUDIT_STR("role", r->name), AUDIT_INT("version", r->md->version),
		AUDIT_STR("sha256", sha256)));
}

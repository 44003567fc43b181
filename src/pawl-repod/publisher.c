/*
 * publisher.c - the one instance that publishes.
 *
 * Every instance runs this thread; the one whose dedicated session holds
 * the advisory lock (pg_try_advisory_lock) is the leader. PostgreSQL
 * releases the lock by itself when that session ends, so when the leader
 * dies (kill -9, a lost machine) its session closes and another instance
 * takes the lock at its next try, within about a second.
 *
 * Each cycle of the leader is one transaction on that same session:
 *  1. claim accepted tasks in order (SELECT ... FOR UPDATE SKIP LOCKED);
 *  2. apply them to the artifacts and note the bins they touch;
 *  3. when anything is to be published (a task asked for it, a bin or
 *     the snapshot or timestamp nears its expiry, a new root or targets
 *     was imported), sign a new version of every touched bin (only
 *     those: the cost follows the change, not the repository), then a new
 *     snapshot naming every bin and the targets, then a new timestamp;
 *  4. record the tasks' results and the audit entries; COMMIT.
 * Because the bins, snapshot and timestamp become visible in one commit,
 * and older versions stay for keep_versions after they are superseded, a
 * client that reads timestamp.json at any moment finds every file it
 * names: it never sees a state that fails verification. A cycle that
 * fails is rolled back whole and tried again; the tasks stay PENDING.
 *
 * The online keys are loaded once from the config; the leader checks
 * them against the imported root (snapshot, timestamp) and targets
 * (bins) before it signs anything, and again after every import.
 */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "metadata/bulk.h"
#include "repod.h"
#include "request.h"

#define CLAIM_MAX "200"
#define CLAIM_MAX_N 200
#define BINS_PER_QUERY 512
#define RENEW_MAX 4096

struct publisher {
	const repod_config *c;
	pthread_t th;
	bool started;
	volatile int stop;
	db *d;
	bool leader;
	pawl_signer *bins_s, *snap_s, *ts_s;

	/* Loaded when the lock is taken; valid while leader. */
	bool loaded;
	pawl_md *root, *targets;
	uint32_t bits, nbins;
	char prefix[64];
	uint64_t *bin_ver;
	int64_t *bin_exp;
	uint64_t snap_ver, ts_ver;
	int64_t snap_exp, ts_exp;
	uint64_t snap_targets_ver, snap_root_ver;
	time_t last_gc;
};

static void unload(publisher *p)
{
	md_free(p->root);
	md_free(p->targets);
	p->root = p->targets = NULL;
	free(p->bin_ver);
	free(p->bin_exp);
	p->bin_ver = NULL;
	p->bin_exp = NULL;
	p->loaded = false;
}

static bool has_keyid(const md_role *r, const char *id)
{
	for (uint32_t i = 0; i < r->nkeyids; i++)
		if (strcmp(r->keyids[i], id) == 0)
			return true;
	return false;
}

static int check_key(const md_role *r, const pawl_signer *s, const char *role, const char *in)
{
	ENSURE(has_keyid(r, signer_keyid(s)), PAWL_E_KEY,
	       "the configured %s key %.16s... is not one of the %s keys in %s: configure the "
	       "key the ceremony named, or import the %s that names this one",
	       role, signer_keyid(s), role, in, in);
	ENSURE(r->threshold == 1, PAWL_E_UNSUPPORTED,
	       "%s in %s has threshold %u; the service signs online roles with one key", role,
	       in, r->threshold);
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 10);
	ENSURE(errno == 0 && *end == '\0' && *s, PAWL_E_FORMAT, "bad number from the database");
	return 0;
}

static int load(publisher *p)
{
	_cleanup_pq_ PGresult *res = NULL;
	const md_succinct *s;
	_cleanup_free_ char *st = NULL, *sr = NULL;
	size_t pl;

	unload(p);
	GUARD(load_latest(p->d, "root", &p->root, MD_ROOT));
	GUARD(load_latest(p->d, "targets", &p->targets, MD_TARGETS));
	GUARD(check_key(md_root_role(p->root, MD_SNAPSHOT), p->snap_s, "snapshot", "root"));
	GUARD(check_key(md_root_role(p->root, MD_TIMESTAMP), p->ts_s, "timestamp", "root"));
	ENSURE(p->targets->deleg.succinct_present, PAWL_E_UNSUPPORTED,
	       "targets does not delegate to hash bins");
	s = &p->targets->deleg.succinct;
	GUARD(check_key(&s->role, p->bins_s, "bins", "targets"));
	ENSURE(s->bit_length >= 1 && s->bit_length <= 16, PAWL_E_UNSUPPORTED, "bad bin count");
	p->bits = s->bit_length;
	p->nbins = 1u << s->bit_length;
	snprintf(p->prefix, sizeof(p->prefix), "%s", s->name_prefix);
	p->bin_ver = xcalloc(p->nbins, sizeof(*p->bin_ver));
	p->bin_exp = xcalloc(p->nbins, sizeof(*p->bin_exp));
	if (!p->bin_ver || !p->bin_exp)
		return PAWL_E_NOMEM;
	p->snap_ver = p->ts_ver = 0;
	p->snap_exp = p->ts_exp = 0;
	GUARD(db_run0(p->d, "meta_current", &res));
	pl = strlen(p->prefix);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *role = PQgetvalue(res, i, 0);
		uint64_t v, e;

		GUARD(parse_u64(PQgetvalue(res, i, 1), &v));
		GUARD(parse_u64(PQgetvalue(res, i, 2), &e));
		if (strcmp(role, "snapshot") == 0) {
			p->snap_ver = v;
			p->snap_exp = (int64_t)e;
		} else if (strcmp(role, "timestamp") == 0) {
			p->ts_ver = v;
			p->ts_exp = (int64_t)e;
		} else if (strncmp(role, p->prefix, pl) == 0 && role[pl] == '-' &&
			   md_succinct_has(s, role)) {
			unsigned long bin = strtoul(role + pl + 1, NULL, 16);

			if (bin < p->nbins) {
				p->bin_ver[bin] = v;
				p->bin_exp[bin] = (int64_t)e;
			}
		}
	}
	GUARD(db_setting_get(p->d, "snapshot.targets_version", &st));
	GUARD(db_setting_get(p->d, "snapshot.root_version", &sr));
	p->snap_targets_ver = 0;
	p->snap_root_ver = 0;
	if (st)
		GUARD(parse_u64(st, &p->snap_targets_ver));
	if (sr)
		GUARD(parse_u64(sr, &p->snap_root_ver));
	p->loaded = true;
	return 0;
}

/* ---- one cycle ---- */

typedef struct bitset {
	uint64_t *w;
	uint32_t n;
	uint32_t count;
} bitset;

static bool bs_get(const bitset *b, uint32_t i)
{
	return b->w[i / 64] >> (i % 64) & 1;
}

static void bs_set(bitset *b, uint32_t i)
{
	if (!bs_get(b, i)) {
		b->w[i / 64] |= (uint64_t)1 << (i % 64);
		b->count++;
	}
}

typedef struct cycle {
	int64_t now;
	char now_str[40];
	bitset touched; /* bins changed by this cycle's tasks */
	bitset sign;    /* bins to sign now */
	bool publish;   /* some task asked for publication */
	pj_doc *audit;  /* entries to append, an array of [type, fields] */
	size_t ntasks;
} cycle;

static int audit_later(cycle *cy, const char *type, pj_value **ret_fields)
{
	pj_value *arr = pj_root(cy->audit), *e, *slot;

	GUARD(pj_arr_push(cy->audit, arr, &e));
	GUARD(pj_set_array(cy->audit, e));
	GUARD(pj_arr_push(cy->audit, e, &slot));
	GUARD(pj_set_cstr(cy->audit, slot, type));
	GUARD(pj_arr_push(cy->audit, e, &slot));
	GUARD(pj_set_object(cy->audit, slot));
	*ret_fields = slot;
	return 0;
}

static int bin_name(const publisher *p, uint32_t bin, char *out, size_t n)
{
	return md_succinct_name(&p->targets->deleg.succinct, bin, out, n);
}

/* Apply one task; its result JSON goes to *result. */
static int apply_task(publisher *p, cycle *cy, const char *task_id, const char *action,
		      const char *payload, bool publish, pawl_buf *result)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	const pj_value *arr;
	pawl_buf done = PAWL_BUF_INIT(SIZE_MAX / 2), missing = PAWL_BUF_INIT(SIZE_MAX / 2);
	pawl_buf roles = PAWL_BUF_INIT(SIZE_MAX / 2);
	bitset mine = { 0 };
	pj_value *f;
	bool add = strcmp(action, "add_artifacts") == 0;
	bool pub = strcmp(action, "publish_artifacts") == 0;
	size_t ndone = 0, nmissing = 0;
	char name[128], num[24];
	int r = 0;

	if (publish || pub)
		cy->publish = true;
	mine.w = xcalloc((p->nbins + 63) / 64, sizeof(uint64_t));
	if (!mine.w)
		return PAWL_E_NOMEM;
	GUARD_GOTO(r, pj_parse_copy(&doc, payload, strlen(payload), NULL), out);
	arr = pj_get(pj_root(doc), "artifacts");
	ENSURE_GOTO(r, pj_is_array(arr), PAWL_E_FORMAT, out, "task %s: bad payload", task_id);
	GUARD_GOTO(r, buf_putc(&done, '['), out);
	GUARD_GOTO(r, buf_putc(&missing, '['), out);
	for (uint32_t i = 0; !pub && i < arr->len; i++) {
		const pj_value *it = &arr->u.items[i];
		const pj_value *pv = add ? pj_get(it, "path") : it;
		_cleanup_pq_ PGresult *res = NULL;
		uint32_t bin;

		ENSURE_GOTO(r, pj_is_string(pv), PAWL_E_FORMAT, out, "task %s: bad payload",
			    task_id);
		GUARD_GOTO(r, rq_bin_of(pv->u.s, pv->len, p->bits, &bin), out);
		if (add) {
			pawl_buf e = PAWL_BUF_INIT(1 << 20);
			char b[16];

			snprintf(b, sizeof(b), "%" PRIu32, bin);
			r = pj_write(&e, pj_get(it, "info"), false);
			if (r == 0)
				r = DB_RUN(p->d, "art_put", NULL, pv->u.s, b, e.data, task_id);
			buf_free(&e);
			GUARD_GOTO(r, r, out);
		} else {
			GUARD_GOTO(r, DB_RUN(p->d, "art_del", &res, pv->u.s), out);
			if (PQntuples(res) == 0) {
				GUARD_GOTO(r, buf_puts(&missing, nmissing++ ? "," : ""), out);
				GUARD_GOTO(r, pj_write_cstr(&missing, pv->u.s), out);
				continue;
			}
		}
		GUARD_GOTO(r, buf_puts(&done, ndone++ ? "," : ""), out);
		GUARD_GOTO(r, pj_write_cstr(&done, pv->u.s), out);
		bs_set(&cy->touched, bin);
		if (!bs_get(&mine, bin)) {
			bs_set(&mine, bin);
			GUARD_GOTO(r, bin_name(p, bin, name, sizeof(name)), out);
			GUARD_GOTO(r, buf_printf(&roles, "%s\"%s\"", mine.count > 1 ? "," : "",
						 name), out);
		}
	}
	GUARD_GOTO(r, buf_putc(&done, ']'), out);
	GUARD_GOTO(r, buf_putc(&missing, ']'), out);
	if (add)
		r = buf_printf(result,
			       "{\"details\":{\"added_artifacts\":%s,\"invalid_paths\":[],"
			       "\"target_roles\":[%s]},\"last_update\":\"%s\","
			       "\"message\":\"Artifact(s) Added\",\"status\":true,"
			       "\"task\":\"add_artifacts\"}",
			       done.data, roles.data ? roles.data : "", cy->now_str);
	else if (pub)
		r = buf_printf(result,
			       "{\"details\":{\"target_roles\":[]},\"last_update\":\"%s\","
			       "\"message\":\"Publish Artifacts Processed\",\"status\":true,"
			       "\"task\":\"publish_artifacts\"}",
			       cy->now_str);
	else
		r = buf_printf(result,
			       "{\"details\":{\"deleted_artifacts\":%s,\"not_found_artifacts\":%s,"
			       "\"target_roles\":[%s]},\"last_update\":\"%s\","
			       "\"message\":\"Artifact(s) Deleted\",\"status\":true,"
			       "\"task\":\"remove_artifacts\"}",
			       done.data, missing.data, roles.data ? roles.data : "", cy->now_str);
	GUARD_GOTO(r, r, out);
	GUARD_GOTO(r, audit_later(cy, "task.applied", &f), out);
	GUARD_GOTO(r, pj_obj_put_str(cy->audit, f, "task_id", task_id), out);
	GUARD_GOTO(r, pj_obj_put_str(cy->audit, f, "action", action), out);
	snprintf(num, sizeof(num), "%zu", ndone);
	GUARD_GOTO(r, pj_obj_put_str(cy->audit, f, "changed", num), out);
	snprintf(num, sizeof(num), "%" PRIu32, mine.count);
	GUARD_GOTO(r, pj_obj_put_str(cy->audit, f, "bins", num), out);
out:
	free(mine.w);
	buf_free(&done);
	buf_free(&missing);
	buf_free(&roles);
	return r;
}

static int sign_and_store(publisher *p, cycle *cy, pawl_md *md, const char *role,
			  const pawl_signer *s, size_t *ret_len, char sha[65])
{
	_cleanup_free_ char *data = NULL;
	uint8_t dg[HASH_MAX_LEN];
	size_t len;
	char v[24], e[24];
	pj_value *f;

	GUARD(md_sign(md, s));
	GUARD(md_serialize(md, &data, &len));
	GUARD(hash_once(HASH_SHA256, data, len, dg));
	hex_encode(sha, dg, 32);
	snprintf(v, sizeof(v), "%" PRIu64, md->version);
	snprintf(e, sizeof(e), "%" PRId64, md->expires);
	GUARD(DB_RUN(p->d, "meta_put", NULL, role, v, e, data));
	GUARD(DB_RUN(p->d, "meta_supersede", NULL, role, v));
	GUARD(audit_later(cy, "sign", &f));
	GUARD(pj_obj_put_str(cy->audit, f, "role", role));
	GUARD(pj_obj_put_str(cy->audit, f, "version", v));
	GUARD(pj_obj_put_str(cy->audit, f, "keyid", signer_keyid(s)));
	GUARD(pj_obj_put_str(cy->audit, f, "sha256", sha));
	GUARD(pj_obj_put_str(cy->audit, f, "expires", md->expires_str));
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* Sign bins [list] whose artifacts are in res (ordered by bin, path). */
static int sign_bins(publisher *p, cycle *cy, const uint32_t *list, size_t n)
{
	pawl_buf arg = PAWL_BUF_INIT(SIZE_MAX / 2);
	_cleanup_pq_ PGresult *res = NULL;
	int r, row = 0, rows;

	r = buf_putc(&arg, '{');
	for (size_t i = 0; r == 0 && i < n; i++)
		r = buf_printf(&arg, "%s%" PRIu32, i ? "," : "", list[i]);
	if (r == 0)
		r = buf_putc(&arg, '}');
	if (r == 0)
		r = DB_RUN(p->d, "art_bins", &res, arg.data);
	buf_free(&arg);
	GUARD(r);
	rows = PQntuples(res);
	for (size_t i = 0; i < n; i++) {
		_cleanup_md_ pawl_md *md = NULL;
		uint32_t bin = list[i];
		char name[128], sha[65];
		int64_t exp = cy->now + p->c->expires_bins;

		GUARD(bin_name(p, bin, name, sizeof(name)));
		GUARD(md_new(&md, MD_TARGETS, p->bin_ver[bin] + 1, exp));
		for (; row < rows; row++) {
			uint64_t b;
			_cleanup_pj_doc_ pj_doc *e = NULL;
			const pj_value *ev, *h, *len;
			md_hash_hex hh[2];
			size_t nh = 0;
			const char *path = PQgetvalue(res, row, 1);
			const char *entry = PQgetvalue(res, row, 2);

			GUARD(parse_u64(PQgetvalue(res, row, 0), &b));
			if (b != bin)
				break;
			GUARD(pj_parse_copy(&e, entry, (size_t)PQgetlength(res, row, 2), NULL));
			ev = pj_root(e);
			h = pj_get(ev, "hashes");
			len = pj_get(ev, "length");
			ENSURE(pj_is_object(h) && pj_is_int(len) && h->len >= 1 && h->len <= 2,
			       PAWL_E_FORMAT, "artifact %s: bad stored entry", path);
			for (uint32_t k = 0; k < h->len; k++) {
				hh[nh].alg = h->u.members[k].key;
				hh[nh].hex = pj_str(&h->u.members[k].value);
				ENSURE(hh[nh].hex, PAWL_E_FORMAT, "artifact %s: bad stored hash", path);
				nh++;
			}
			r = md_bulk_target(md, path, (size_t)PQgetlength(res, row, 1),
					   (uint64_t)len->u.i, hh, nh, pj_get(ev, "custom"));
			if (r < 0) {
				int r2 = md_bulk_finish(md);

				(void)r2;
				return r;
			}
		}
		GUARD(md_bulk_finish(md));
		GUARD(sign_and_store(p, cy, md, name, p->bins_s, NULL, sha));
		p->bin_ver[bin] = md->version;
		p->bin_exp[bin] = exp;
	}
	return 0;
}

static int publish(publisher *p, cycle *cy, uint64_t *ret_snap, uint64_t *ret_ts)
{
	_cleanup_md_ pawl_md *snap = NULL, *ts = NULL;
	uint32_t *list = NULL;
	size_t n = 0, slen;
	char sha[65], name[160], v[24];
	md_hash_hex h = { "sha256", sha };
	int r = 0;

	list = xreallocarray(NULL, p->nbins, sizeof(*list));
	if (!list)
		return PAWL_E_NOMEM;
	for (uint32_t b = 0; b < p->nbins; b++)
		if (bs_get(&cy->sign, b) || p->bin_ver[b] == 0)
			list[n++] = b;
	for (size_t i = 0; r == 0 && i < n; i += BINS_PER_QUERY)
		r = sign_bins(p, cy, list + i, n - i < BINS_PER_QUERY ? n - i : BINS_PER_QUERY);
	free(list);
	GUARD(r);

	GUARD(md_new(&snap, MD_SNAPSHOT, p->snap_ver + 1, cy->now + p->c->expires_snapshot));
	GUARD(md_bulk_meta(snap, "targets.json", p->targets->version, false, 0, NULL, 0));
	for (uint32_t b = 0; b < p->nbins; b++) {
		char bn[128];

		GUARD(bin_name(p, b, bn, sizeof(bn)));
		snprintf(name, sizeof(name), "%s.json", bn);
		GUARD(md_bulk_meta(snap, name, p->bin_ver[b], false, 0, NULL, 0));
	}
	GUARD(md_bulk_finish(snap));
	GUARD(sign_and_store(p, cy, snap, "snapshot", p->snap_s, &slen, sha));

	GUARD(md_new(&ts, MD_TIMESTAMP, p->ts_ver + 1, cy->now + p->c->expires_timestamp));
	GUARD(md_bulk_meta(ts, "snapshot.json", snap->version, true, slen, &h, 1));
	GUARD(md_bulk_finish(ts));
	GUARD(sign_and_store(p, cy, ts, "timestamp", p->ts_s, NULL, sha));

	snprintf(v, sizeof(v), "%" PRIu64, p->targets->version);
	GUARD(db_setting_put(p->d, "snapshot.targets_version", v));
	snprintf(v, sizeof(v), "%" PRIu64, p->root->version);
	GUARD(db_setting_put(p->d, "snapshot.root_version", v));
	p->snap_ver = snap->version;
	p->snap_exp = snap->expires;
	p->ts_ver = ts->version;
	p->ts_exp = ts->expires;
	p->snap_targets_ver = p->targets->version;
	p->snap_root_ver = p->root->version;
	*ret_snap = snap->version;
	*ret_ts = ts->version;
	return 0;
}

static int newest_version(db *d, const char *role, uint64_t *ret)
{
	_cleanup_pq_ PGresult *res = NULL;

	GUARD(DB_RUN(d, "meta_newest_version", &res, role));
	if (PQgetisnull(res, 0, 0)) {
		*ret = 0;
		return 0;
	}
	return parse_u64(PQgetvalue(res, 0, 0), ret);
}

/* Returns 1 when tasks were left for another cycle, 0 otherwise. */
static int run_cycle(publisher *p)
{
	cycle cy = { 0 };
	_cleanup_pq_ PGresult *tasks = NULL, *dirty = NULL;
	_cleanup_free_ char *resign = NULL;
	uint64_t rv, tv, snapv = 0, tsv = 0;
	pawl_buf *results = NULL;
	int ntasks = 0, r;
	bool need_snap, need_ts;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	GUARD(db_begin(p->d));
	GUARD_GOTO(r, db_now(p->d, &cy.now, cy.now_str), fail);
	GUARD_GOTO(r, newest_version(p->d, "root", &rv), fail);
	GUARD_GOTO(r, newest_version(p->d, "targets", &tv), fail);
	if (rv == 0 || tv == 0) {
		db_rollback(p->d);
		return pawl_error_set(PAWL_E_NOT_FOUND, "waiting for `pawl-repod import`");
	}
	if (!p->loaded || rv != p->root->version || tv != p->targets->version)
		GUARD_GOTO(r, load(p), fail);

	cy.touched.w = xcalloc((p->nbins + 63) / 64, sizeof(uint64_t));
	cy.sign.w = xcalloc((p->nbins + 63) / 64, sizeof(uint64_t));
	ENSURE_GOTO(r, cy.touched.w && cy.sign.w, PAWL_E_NOMEM, fail, "out of memory");
	GUARD_GOTO(r, pj_doc_new(&cy.audit), fail);
	GUARD_GOTO(r, pj_set_array(cy.audit, pj_root(cy.audit)), fail);

	GUARD_GOTO(r, DB_RUN(p->d, "task_claim", &tasks, CLAIM_MAX), fail);
	ntasks = PQntuples(tasks);
	results = xcalloc((size_t)ntasks + 1, sizeof(*results));
	ENSURE_GOTO(r, results, PAWL_E_NOMEM, fail, "out of memory");
	for (int i = 0; i < ntasks; i++) {
		results[i] = (pawl_buf)PAWL_BUF_INIT(SIZE_MAX / 2);
		GUARD_GOTO(r, apply_task(p, &cy, PQgetvalue(tasks, i, 0), PQgetvalue(tasks, i, 1),
					 PQgetvalue(tasks, i, 2),
					 strcmp(PQgetvalue(tasks, i, 3), "t") == 0, &results[i]),
			   fail);
	}
	/* Bins touched by tasks that did not ask for publication wait in
	 * dirty_bins for the next publication. */
	if (cy.touched.count && !cy.publish) {
		pawl_buf arg = PAWL_BUF_INIT(SIZE_MAX / 2);
		bool first = true;

		r = buf_putc(&arg, '{');
		for (uint32_t b = 0; r == 0 && b < p->nbins; b++)
			if (bs_get(&cy.touched, b)) {
				r = buf_printf(&arg, "%s%" PRIu32, first ? "" : ",", b);
				first = false;
			}
		if (r == 0)
			r = buf_putc(&arg, '}');
		if (r == 0)
			r = DB_RUN(p->d, "dirty_add", NULL, arg.data);
		buf_free(&arg);
		GUARD_GOTO(r, r, fail);
	}

	GUARD_GOTO(r, db_setting_get(p->d, "bins.resign", &resign), fail);
	if (resign && strcmp(resign, "all") != 0) {
		free(resign);
		resign = NULL;
	}
	need_snap = cy.publish || p->snap_ver == 0 || p->snap_targets_ver != p->targets->version ||
		    p->snap_root_ver != p->root->version ||
		    p->snap_exp - cy.now < p->c->expires_snapshot / 2 || resign != NULL;
	{
		uint32_t renew = 0;

		for (uint32_t b = 0; b < p->nbins && renew < RENEW_MAX; b++)
			if (p->bin_ver[b] && p->bin_exp[b] - cy.now < p->c->expires_bins / 2) {
				bs_set(&cy.sign, b);
				renew++;
				need_snap = true;
			}
	}
	need_ts = need_snap || p->ts_exp - cy.now < p->c->expires_timestamp / 2;
	if (need_snap) {
		GUARD_GOTO(r, db_run0(p->d, "dirty_take", &dirty), fail);
		for (int i = 0; i < PQntuples(dirty); i++) {
			uint64_t b;

			GUARD_GOTO(r, parse_u64(PQgetvalue(dirty, i, 0), &b), fail);
			if (b < p->nbins)
				bs_set(&cy.sign, (uint32_t)b);
		}
		for (uint32_t b = 0; b < p->nbins; b++)
			if (bs_get(&cy.touched, b) || resign)
				bs_set(&cy.sign, b);
		if (resign)
			GUARD_GOTO(r, DB_RUN(p->d, "setting_put", NULL, "bins.resign", ""), fail);
	}
	if (need_ts) {
		pj_value *f;
		char num[24];
		uint32_t nsigned = cy.sign.count;

		for (uint32_t b = 0; b < p->nbins; b++)
			if (p->bin_ver[b] == 0 && !bs_get(&cy.sign, b))
				nsigned++;
		if (need_snap) {
			GUARD_GOTO(r, publish(p, &cy, &snapv, &tsv), fail);
		} else {
			/* Only the timestamp is renewed: the same snapshot. */
			_cleanup_md_ pawl_md *ts = NULL;
			_cleanup_pq_ PGresult *sres = NULL;
			char sha[65], v[24];
			uint8_t dg[HASH_MAX_LEN];
			md_hash_hex h = { "sha256", sha };

			snprintf(v, sizeof(v), "%" PRIu64, p->snap_ver);
			GUARD_GOTO(r, DB_RUN(p->d, "meta_get", &sres, "snapshot", v), fail);
			ENSURE_GOTO(r, PQntuples(sres) == 1, PAWL_E_NOT_FOUND, fail,
				    "snapshot %s is missing", v);
			GUARD_GOTO(r, hash_once(HASH_SHA256, PQgetvalue(sres, 0, 0),
						(size_t)PQgetlength(sres, 0, 0), dg), fail);
			hex_encode(sha, dg, 32);
			GUARD_GOTO(r, md_new(&ts, MD_TIMESTAMP, p->ts_ver + 1,
					     cy.now + p->c->expires_timestamp), fail);
			GUARD_GOTO(r, md_bulk_meta(ts, "snapshot.json", p->snap_ver, true,
						   (uint64_t)PQgetlength(sres, 0, 0), &h, 1), fail);
			GUARD_GOTO(r, md_bulk_finish(ts), fail);
			GUARD_GOTO(r, sign_and_store(p, &cy, ts, "timestamp", p->ts_s, NULL, sha),
				   fail);
			p->ts_ver = ts->version;
			p->ts_exp = ts->expires;
			snapv = p->snap_ver;
			tsv = ts->version;
			nsigned = 0;
		}
		GUARD_GOTO(r, audit_later(&cy, "publish", &f), fail);
		snprintf(num, sizeof(num), "%" PRIu64, snapv);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "snapshot", num), fail);
		snprintf(num, sizeof(num), "%" PRIu64, tsv);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "timestamp", num), fail);
		snprintf(num, sizeof(num), "%" PRIu32, nsigned);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "bins_signed", num), fail);
		snprintf(num, sizeof(num), "%d", ntasks);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "tasks", num), fail);
	}
	for (int i = 0; i < ntasks; i++)
		GUARD_GOTO(r, DB_RUN(p->d, "task_done", NULL, PQgetvalue(tasks, i, 0), "SUCCESS",
				     results[i].data), fail);
	{
		pj_value *arr = pj_root(cy.audit);
		audit_batch ab;

		if (arr->len) {
			GUARD_GOTO(r, audit_db_open(p->d, &ab), fail);
			for (uint32_t i = 0; i < arr->len; i++)
				GUARD_GOTO(r, audit_db_add(p->d, &ab,
							   pj_str(&arr->u.items[i].u.items[0]),
							   &arr->u.items[i].u.items[1]), fail);
			GUARD_GOTO(r, audit_db_close(p->d, &ab), fail);
		}
	}
	GUARD_GOTO(r, db_commit(p->d), fail);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (need_ts)
		logmsg("info", "published snapshot %" PRIu64 ", timestamp %" PRIu64
			       ": %d tasks, %u bins signed, %.0f ms",
		       snapv, tsv, ntasks, cy.sign.count,
		       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	r = ntasks == CLAIM_MAX_N ? 1 : 0;
	goto out;
fail:
	db_rollback(p->d);
	/* What was loaded may be ahead of the database now. */
	p->loaded = false;
out:
	for (int i = 0; results && i < ntasks; i++)
		buf_free(&results[i]);
	free(results);
	free(cy.touched.w);
	free(cy.sign.w);
	pj_doc_free(cy.audit);
	return r;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *run(void *arg)
{
	publisher *p = arg;
	bool waiting_logged = false;

	while (!p->stop) {
		if (!db_ok(p->d)) {
			db_close(p->d);
			p->d = NULL;
			if (p->leader)
				logmsg("warning", "lost the database session: no longer leader");
			p->leader = false;
			unload(p);
			if (db_open(&p->d, p->c->database) < 0) {
				logmsg("error", "%s", pawl_error_last()->message);
				p->d = NULL;
				nap_ms(1000);
				continue;
			}
		}
		if (!p->leader) {
			_cleanup_pq_ PGresult *res = NULL;

			if (db_run0(p->d, "lock_try", &res) < 0) {
				logmsg("error", "%s", pawl_error_last()->message);
				nap_ms(1000);
				continue;
			}
			if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
				nap_ms(1000);
				continue;
			}
			p->leader = true;
			p->loaded = false;
			logmsg("info", "leader: this instance publishes");
		}
		{
			int r = run_cycle(p);

			if (r < 0) {
				if (r == PAWL_E_NOT_FOUND) {
					if (!waiting_logged)
						logmsg("info", "%s", pawl_error_last()->message);
					waiting_logged = true;
				} else {
					logmsg("error", "publishing: %s", pawl_error_last()->message);
				}
				nap_ms(1000);
				continue;
			}
			waiting_logged = false;
			if (time(NULL) - p->last_gc > 60) {
				char keep[24];

				snprintf(keep, sizeof(keep), "%" PRId64, p->c->keep_versions_s);
				if (DB_RUN(p->d, "meta_gc", NULL, keep) < 0)
					logmsg("warning", "%s", pawl_error_last()->message);
				p->last_gc = time(NULL);
			}
			if (r == 0)
				nap_ms(p->c->publish_interval_ms);
		}
	}
	return NULL;
}

int publisher_start(publisher **ret, const repod_config *c)
{
	publisher *p = xcalloc(1, sizeof(*p));
	int r;

	if (!p)
		return PAWL_E_NOMEM;
	p->c = c;
	r = online_signer(c, c->key_bins, &p->bins_s);
	if (r < 0)
		r = pawl_error_prefix(r, "key.bins: ");
	if (r == 0 && (r = online_signer(c, c->key_snapshot, &p->snap_s)) < 0)
		r = pawl_error_prefix(r, "key.snapshot: ");
	if (r == 0 && (r = online_signer(c, c->key_timestamp, &p->ts_s)) < 0)
		r = pawl_error_prefix(r, "key.timestamp: ");
	if (r == 0 && pthread_create(&p->th, NULL, run, p) != 0)
		r = pawl_error_set(PAWL_E_GENERIC, "cannot start the publisher thread");
	if (r < 0) {
		publisher_stop(p);
		return r;
	}
	p->started = true;
	*ret = p;
	return 0;
}

void publisher_stop(publisher *p)
{
	if (!p)
		return;
	p->stop = 1;
	if (p->started)
		pthread_join(p->th, NULL);
	unload(p);
	db_close(p->d);
	signer_free(p->bins_s);
	signer_free(p->snap_s);
	signer_free(p->ts_s);
	free(p);
}

/*
 * publisher.c - the one instance that publishes.
 *
 * Every instance runs this thread; the one whose dedicated session holds
 * the advisory lock (pg_try_advisory_lock) is the leader. PostgreSQL
 * releases the lock by itself when that session ends, so when the leader
 * dies (kill -9, a lost machine) its session closes and another instance
 * takes the lock at its next try, within about a second.
 *
 * A cycle of the leader:
 *  0. picks the oldest open tasks, as many as the cycle is predicted to
 *     handle in the time it is allowed (below), and marks them RUNNING
 *     (a short transaction of its own, so that GET /api/v1/task shows
 *     it); then, in one transaction on the same session:
 *  1. locks those tasks and parses their payloads;
 *  2. applies them in order to the artifacts (one batched INSERT and one
 *     DELETE for the whole cycle; a later change to a path wins) and
 *     notes the bins they change;
 *  3. when anything is to be published (a task asked for it, a bin or
 *     the snapshot or timestamp nears its expiry, a new root or targets
 *     was imported), signs a new version of every changed bin, and only
 *     those: each is its previous signed version with this cycle's
 *     changes merged in (one read of one row per bin, not of every
 *     artifact in it), built and signed by `sign_threads` threads; then
 *     a new snapshot naming every bin and the targets, then a new
 *     timestamp;
 *  4. stores every new file with one INSERT, the tasks' results with one
 *     UPDATE and the audit entries with one INSERT; COMMIT.
 * So a cycle is a fixed number of round trips to PostgreSQL whatever its
 * size, and its cost follows the bins it changes, not the repository.
 *
 * Bins whose artifacts changed without being published (publish_artifacts
 * false) wait in dirty_bins; their previous signed version is then out of
 * date, so the next publication rebuilds them from the artifacts table.
 *
 * Because the bins, snapshot and timestamp become visible in one commit,
 * and older versions stay for keep_versions after they are superseded, a
 * client that reads timestamp.json at any moment finds every file it
 * names: it never sees a state that fails verification. A cycle that
 * fails is rolled back whole and tried again; its tasks stay open. A task
 * whose stored payload cannot be read is ERRORED with the reason.
 *
 * How much a cycle takes. A cycle's cost is about a constant per bin
 * it signs (signing and the self-check of each signature are most of
 * it), and n artifacts spread over B bins change B(1 - (1 - 1/B)^n) of
 * them: fewer per artifact the larger the cycle (0.93 at 2,500 over
 * 16,384 bins, 0.57 at 20,000), and the snapshot and timestamp are
 * made once per cycle whatever its size. So a cycle is allowed
 * publish_cycle_ms, or as long as the oldest open task has already
 * waited if that is longer, and takes every open task that the cost
 * per bin measured on recent cycles predicts to fit, up to
 * publish_batch artifacts. While the service keeps up, the oldest task
 * is younger than a cycle and cycles stay within publish_cycle_ms (at
 * least one publication a second under load). When it falls behind (a
 * burst, a slow spell of the machine), the next cycle takes the whole
 * backlog at once instead of a second's worth: it is published in one
 * go at a lower cost per artifact, instead of in one-second slices
 * that each leave the rest waiting and that, at an offered rate near
 * the one-second capacity, never drain it.
 *
 * The online keys are loaded once from the config; the leader checks
 * them against the imported root (snapshot, timestamp) and targets
 * (bins) before it signs anything, and again after every import.
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/parse.h"
#include "repod.h"
#include "request.h"

/* Open tasks looked at per cycle (their artifact counts pick the prefix
 * that fits the budget). */
#define OPEN_MAX 1024
/* Bins renewed per cycle when many near their expiry at once. */
#define RENEW_MAX 4096
#define NONE UINT32_MAX

struct publisher {
	const repod_config *c;
	pthread_t th;
	bool started;
	volatile int stop;
	db *d;
	bool leader;
	bool listening;
	/* The configured online keys, and the ones in use: those the
	 * imported root and targets name (chosen by load()). */
	pawl_signer *bins_k[ONLINE_KEYS_MAX], *snap_k[ONLINE_KEYS_MAX], *ts_k[ONLINE_KEYS_MAX];
	unsigned nbins_k, nsnap_k, nts_k;
	const pawl_signer *bins_s, *snap_s, *ts_s;

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
	/* The measured cost of a cycle per bin signed, ms (0: none yet),
	 * which sizes the next cycles (see the top). */
	double ms_per_bin;
	/* What the last pick saw: open artifacts, the oldest task's wait
	 * (ms), what the cycle was allowed (ms) and could take. */
	uint64_t open_artifacts;
	int64_t oldest_ms;
	double allowed_ms;
	uint32_t take;
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

/* The configured key that the role r (in "in") lists. */
static int pick_key(const md_role *r, pawl_signer *const *keys, unsigned n, const char *role,
		    const char *in, const pawl_signer **ret)
{
	ENSURE(r->threshold == 1, PAWL_E_UNSUPPORTED,
	       "%s in %s has threshold %u; the service signs online roles with one key", role,
	       in, r->threshold);
	for (unsigned i = 0; i < n; i++)
		if (has_keyid(r, signer_keyid(keys[i]))) {
			*ret = keys[i];
			return 0;
		}
	return pawl_error_set(PAWL_E_KEY,
			      "none of the %u configured %s keys (the first is %.16s...) is a %s key "
			      "in the imported %s: add the key the ceremony named to the config "
			      "(key.%s may be given up to %d times), or import the %s that names "
			      "one of them",
			      n, role, n ? signer_keyid(keys[0]) : "?", role, in,
			      role[0] == 'b' ? "bins" : role, ONLINE_KEYS_MAX, in);
}

/* Numbers the database hands back as text: the one strict parser. */
static int parse_u64(const char *s, uint64_t *ret)
{
	if (cli_parse_u64(s, 0, UINT64_MAX, ret) < 0)
		return pawl_error_set(PAWL_E_FORMAT, "bad number from the database: %s",
				      pawl_error_last()->message);
	return 0;
}

static int parse_i64(const char *s, int64_t *ret)
{
	if (cli_parse_i64(s, INT64_MIN, INT64_MAX, ret) < 0)
		return pawl_error_set(PAWL_E_FORMAT, "bad number from the database: %s",
				      pawl_error_last()->message);
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
	GUARD(pick_key(md_root_role(p->root, MD_SNAPSHOT), p->snap_k, p->nsnap_k, "snapshot", "root",
		       &p->snap_s));
	GUARD(pick_key(md_root_role(p->root, MD_TIMESTAMP), p->ts_k, p->nts_k, "timestamp", "root",
		       &p->ts_s));
	ENSURE(p->targets->deleg.succinct_present, PAWL_E_UNSUPPORTED,
	       "targets does not delegate to hash bins");
	s = &p->targets->deleg.succinct;
	GUARD(pick_key(&s->role, p->bins_k, p->nbins_k, "bins", "targets", &p->bins_s));
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

/* ---- the cycle's data ---- */

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

enum { T_ADD, T_DEL, T_PUB };

/* A claimed task. */
typedef struct ctask {
	int64_t seq;
	const char *id, *action; /* in the claim's PGresult */
	int kind;
	bool publish;
	pj_doc *doc;     /* its payload */
	uint32_t first;  /* its changes: changes[first .. first + n) */
	uint32_t n;
	const char *bad; /* the payload could not be read: why (ERRORED) */
	pawl_buf result;
} ctask;

/* One artifact added or removed by a task. */
typedef struct change {
	const char *path; /* in the task's payload doc */
	uint32_t pathlen;
	uint32_t bin;
	uint32_t slot;        /* its path in the cycle's path table */
	uint32_t task;        /* the task it belongs to */
	const pj_value *info; /* the target entry; NULL for a removal */
	bool effective;       /* a removal that found the artifact */
} change;

/* One distinct path of the cycle. */
typedef struct pslot {
	uint32_t h;
	uint32_t change; /* its first change (path, bin) */
	uint32_t last;   /* the last change that took effect, or NONE */
	bool used;
	bool exists; /* while applying in order: is the artifact there? */
} pslot;

/* A bin's change, for the merge: the path and its new entry (NULL:
 * removed). */
typedef struct ovl {
	const char *path;
	uint32_t pathlen;
	uint32_t bin;
	const pj_value *info;
} ovl;

/* A bin to sign. */
typedef struct bjob {
	uint32_t bin;
	char name[64];
	uint64_t version;
	bool rebuild;     /* from the artifacts table (dirty_bins) */
	int prev_row;     /* row of its previous version in the prev result, or -1 */
	uint32_t ov, nov; /* its changes in the overlay */
	int row0, nrows;  /* rebuild: its rows in the rows result */
	char *data;       /* out: the signed file */
	size_t len;
	char sha[65];
} bjob;

typedef struct cycle {
	int64_t now;
	char now_str[40];
	PGresult *claim;
	ctask *tasks;
	uint32_t ntasks;
	change *changes;
	uint32_t nchanges, capchanges;
	pslot *slots;
	uint32_t mask;
	bitset changed; /* bins changed by this cycle's tasks */
	bitset sign;    /* bins to sign now */
	bitset dirty;   /* of those, the ones to rebuild from the artifacts table */
	bool publish;   /* some task asked for publication */
	pj_doc *audit;  /* entries to append, an array of [type, fields] */
	ovl *ov;
	uint32_t nov;
	bjob *jobs;
	uint32_t njobs;
	PGresult *prev, *rows;
	/* timings, ms */
	double t_claim, t_fetch, t_sign, t_store, t_commit;
} cycle;

static void cycle_free(cycle *cy)
{
	for (uint32_t i = 0; i < cy->ntasks; i++) {
		pj_doc_free(cy->tasks[i].doc);
		buf_free(&cy->tasks[i].result);
	}
	free(cy->tasks);
	for (uint32_t i = 0; i < cy->njobs; i++)
		free(cy->jobs[i].data);
	free(cy->jobs);
	free(cy->changes);
	free(cy->slots);
	free(cy->changed.w);
	free(cy->sign.w);
	free(cy->dirty.w);
	free(cy->ov);
	PQclear(cy->claim);
	PQclear(cy->prev);
	PQclear(cy->rows);
	pj_doc_free(cy->audit);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

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

/* Run a statement whose parameters are all binary arrays. */
static int run_arrays(db *d, const char *name, db_array *a, int n, PGresult **ret)
{
	const char *vals[4];
	int lens[4], fmt[4];

	ENSURE(n <= 4, PAWL_E_INVALID, "too many arrays");
	for (int i = 0; i < n; i++) {
		GUARD(dba_finish(&a[i], &vals[i], &lens[i]));
		fmt[i] = 1;
	}
	return db_runv(d, name, n, vals, lens, fmt, ret);
}

static void arrays_free(db_array *a, int n)
{
	for (int i = 0; i < n; i++)
		dba_free(&a[i]);
}

/* ---- 1. claim ---- */

/* The bins that n artifacts change on average, of nb: nb(1 - (1 - 1/nb)^n)
 * (the power by squaring: no libm). */
static double bins_changed(double nb, uint32_t n)
{
	double q = 1.0 - 1.0 / nb, r = 1.0;

	for (; n; n >>= 1, q *= q)
		if (n & 1)
			r *= q;
	return nb * (1.0 - r);
}

/* Artifacts that a cycle of ms milliseconds is predicted to handle: the
 * most that change no more than ms / ms_per_bin bins on average, at
 * least 100 and at most publish_batch. Before any cycle was measured,
 * 2,000. */
static uint32_t cycle_fits(const publisher *p, double ms)
{
	uint32_t lo = 100, hi = p->c->publish_batch;
	double bins;

	if (hi < lo)
		return hi;
	if (p->ms_per_bin <= 0 || !p->loaded || p->nbins < 2)
		return hi < 2000 ? hi : 2000;
	bins = ms / p->ms_per_bin;
	if (bins_changed(p->nbins, hi) <= bins)
		return hi;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (bins_changed(p->nbins, mid) <= bins)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Pick the oldest open tasks that the cycle can take (see the top) and
 * mark them RUNNING in a transaction of their own (losing that mark in
 * a crash changes nothing: RUNNING tasks are open work, as PENDING ones
 * are). */
static int pick(publisher *p, db_array *seqs)
{
	_cleanup_pq_ PGresult *res = NULL;
	uint64_t sum = 0;
	char lim[16];
	bool full = false;
	int r;

	snprintf(lim, sizeof(lim), "%d", OPEN_MAX);
	GUARD(DB_RUN(p->d, "task_open", &res, lim));
	p->open_artifacts = 0;
	p->oldest_ms = 0;
	p->allowed_ms = p->c->publish_cycle_ms;
	if (PQntuples(res) > 0) {
		GUARD(parse_i64(PQgetvalue(res, 0, 2), &p->oldest_ms));
		if (p->oldest_ms > p->allowed_ms)
			p->allowed_ms = (double)p->oldest_ms;
	}
	p->take = cycle_fits(p, p->allowed_ms);
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t seq, n;

		GUARD(parse_i64(PQgetvalue(res, i, 0), &seq));
		GUARD(parse_i64(PQgetvalue(res, i, 1), &n));
		sum += (uint64_t)(n > 0 ? n : 1);
		if (i > 0 && sum > p->take)
			full = true;
		if (full)
			continue;
		GUARD(dba_int8(seqs, seq));
	}
	p->open_artifacts = sum;
	if (seqs->n == 0)
		return 0;
	GUARD(db_begin(p->d));
	r = db_run0(p->d, "sync_off", NULL);
	if (r == 0)
		r = run_arrays(p->d, "task_running", seqs, 1, NULL);
	if (r == 0)
		r = db_commit(p->d);
	if (r < 0)
		db_rollback(p->d);
	return r;
}

/* ---- 2. apply ---- */

static uint64_t path_hash(const uint8_t d[32])
{
	uint64_t h = 0;

	for (int i = 8; i < 16; i++)
		h = h << 8 | d[i];
	return h;
}

static int add_change(publisher *p, cycle *cy, const char *path, size_t len,
		      const pj_value *info)
{
	uint8_t d[HASH_MAX_LEN];
	change *c;
	uint32_t bin;

	ENSURE(len > 0 && len <= RQ_PATH_MAX && !memchr(path, '\0', len), PAWL_E_FORMAT,
	       "bad path in the payload");
	if (cy->nchanges == cy->capchanges) {
		uint32_t cap = cy->capchanges ? cy->capchanges * 2 : 1024;
		change *n = xreallocarray(cy->changes, cap, sizeof(*n));

		if (!n)
			return PAWL_E_NOMEM;
		cy->changes = n;
		cy->capchanges = cap;
	}
	GUARD(hash_once(HASH_SHA256, path, len, d));
	bin = ((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]) >>
	      (32 - p->bits);
	c = &cy->changes[cy->nchanges++];
	c->path = path;
	c->pathlen = (uint32_t)len;
	c->bin = bin;
	c->info = info;
	c->effective = false;
	/* The slot is found once every change is known (the table's size
	 * depends on their number); keep the hash in the meantime. */
	c->slot = (uint32_t)(path_hash(d) & 0xffffffffu);
	c->task = cy->ntasks - 1;
	return 0;
}

/* The task's payload, as http.c stored it: {"artifacts": [{"info": E,
 * "path": P}, ...]} for additions, {"artifacts": [P, ...]} for removals. */
static int parse_task(publisher *p, cycle *cy, ctask *t, const char *payload, size_t len)
{
	const pj_value *arr;

	GUARD(pj_parse_copy(&t->doc, payload, len, NULL));
	if (t->kind == T_PUB)
		return 0;
	arr = pj_get(pj_root(t->doc), "artifacts");
	ENSURE(pj_is_array(arr), PAWL_E_FORMAT, "no artifacts in the payload");
	for (uint32_t i = 0; i < arr->len; i++) {
		const pj_value *it = &arr->u.items[i];
		const pj_value *pv = t->kind == T_ADD ? pj_get(it, "path") : it;
		const pj_value *info = t->kind == T_ADD ? pj_get(it, "info") : NULL;

		ENSURE(pj_is_string(pv), PAWL_E_FORMAT, "artifact %u: no path", i);
		if (t->kind == T_ADD) {
			const pj_value *h = pj_get(info, "hashes"), *l = pj_get(info, "length");
			const pj_value *cu = pj_get(info, "custom");

			ENSURE(pj_is_object(h) && h->len >= 1 && h->len <= 2 && pj_is_int(l) &&
				       l->u.i >= 0 && (!cu || pj_is_object(cu)),
			       PAWL_E_FORMAT, "artifact %u: bad entry", i);
			for (uint32_t k = 0; k < h->len; k++)
				ENSURE(pj_is_string(&h->u.members[k].value), PAWL_E_FORMAT,
				       "artifact %u: bad hash", i);
		}
		GUARD(add_change(p, cy, pv->u.s, pv->len, info));
	}
	return 0;
}

static bool same_path(const change *a, const change *b)
{
	return a->pathlen == b->pathlen && memcmp(a->path, b->path, a->pathlen) == 0;
}

/* The path table: one slot per distinct path, open addressing. */
static int index_paths(cycle *cy)
{
	uint32_t cap = 16;

	while (cap < 2 * cy->nchanges + 2)
		cap *= 2;
	cy->slots = xcalloc(cap, sizeof(*cy->slots));
	if (!cy->slots)
		return PAWL_E_NOMEM;
	cy->mask = cap - 1;
	for (uint32_t i = 0; i < cy->nchanges; i++) {
		change *c = &cy->changes[i];
		uint32_t h = c->slot, s = h & cy->mask;

		while (cy->slots[s].used &&
		       !(cy->slots[s].h == h && same_path(&cy->changes[cy->slots[s].change], c)))
			s = (s + 1) & cy->mask;
		if (!cy->slots[s].used) {
			cy->slots[s].used = true;
			cy->slots[s].h = h;
			cy->slots[s].change = i;
			cy->slots[s].last = NONE;
		}
		c->slot = s;
	}
	return 0;
}

/* Which of the removed paths exist now (before this cycle). */
static int removals_exist(publisher *p, cycle *cy)
{
	_cleanup_pq_ PGresult *res = NULL;
	db_array a;
	int r;

	dba_init(&a, DB_OID_TEXT);
	for (uint32_t i = 0; i < cy->nchanges; i++) {
		change *c = &cy->changes[i];

		if (c->info == NULL && cy->slots[c->slot].change == i) {
			/* The first change of this path is a removal: only then
			 * does the table decide whether it exists. */
			r = dba_text(&a, c->path, c->pathlen);
			if (r < 0) {
				dba_free(&a);
				return r;
			}
		}
	}
	if (a.n == 0) {
		dba_free(&a);
		return 0;
	}
	r = run_arrays(p->d, "art_exist", &a, 1, &res);
	dba_free(&a);
	GUARD(r);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *path = PQgetvalue(res, i, 0);
		change probe = { .path = path, .pathlen = (uint32_t)PQgetlength(res, i, 0) };
		uint8_t d[HASH_MAX_LEN];
		uint32_t h, s;

		GUARD(hash_once(HASH_SHA256, path, probe.pathlen, d));
		h = (uint32_t)(path_hash(d) & 0xffffffffu);
		for (s = h & cy->mask; cy->slots[s].used; s = (s + 1) & cy->mask)
			if (cy->slots[s].h == h && same_path(&cy->changes[cy->slots[s].change], &probe)) {
				cy->slots[s].exists = true;
				break;
			}
	}
	return 0;
}

static int task_result(const cycle *cy, const publisher *p, ctask *t)
{
	pawl_buf done = PAWL_BUF_INIT(SIZE_MAX / 2), missing = PAWL_BUF_INIT(SIZE_MAX / 2);
	pawl_buf roles = PAWL_BUF_INIT(SIZE_MAX / 2);
	uint32_t *bins = NULL, nb = 0;
	size_t ndone = 0, nmissing = 0;
	char name[64];
	int r = 0;

	t->result = (pawl_buf)PAWL_BUF_INIT(SIZE_MAX / 2);
	if (t->bad)
		return buf_printf(&t->result, "{\"error\":\"%s\",\"last_update\":\"%s\","
					      "\"message\":\"The task could not be read; nothing "
					      "was changed\",\"status\":false,\"task\":\"%s\"}",
				  t->bad, cy->now_str, t->action);
	if (t->kind == T_PUB)
		return buf_printf(&t->result,
				  "{\"details\":{\"target_roles\":[]},\"last_update\":\"%s\","
				  "\"message\":\"Publish Artifacts Processed\",\"status\":true,"
				  "\"task\":\"publish_artifacts\"}",
				  cy->now_str);
	bins = xreallocarray(NULL, t->n + 1, sizeof(*bins));
	if (!bins)
		return PAWL_E_NOMEM;
	r = buf_putc(&done, '[');
	if (r == 0)
		r = buf_putc(&missing, '[');
	for (uint32_t i = 0; r == 0 && i < t->n; i++) {
		const change *c = &cy->changes[t->first + i];
		pawl_buf *b = &done;

		if (t->kind == T_DEL && !c->effective) {
			b = &missing;
			r = buf_puts(b, nmissing++ ? "," : "");
		} else {
			r = buf_puts(b, ndone++ ? "," : "");
			bins[nb++] = c->bin;
		}
		if (r == 0)
			r = pj_write_cstr(b, c->path);
	}
	if (r == 0)
		r = buf_putc(&done, ']');
	if (r == 0)
		r = buf_putc(&missing, ']');
	/* The distinct bins, in order. */
	for (uint32_t i = 1; i < nb; i++)
		for (uint32_t j = i; j > 0 && bins[j - 1] > bins[j]; j--) {
			uint32_t x = bins[j];

			bins[j] = bins[j - 1];
			bins[j - 1] = x;
		}
	for (uint32_t i = 0; r == 0 && i < nb; i++) {
		if (i && bins[i] == bins[i - 1])
			continue;
		r = bin_name(p, bins[i], name, sizeof(name));
		if (r == 0)
			r = buf_printf(&roles, "%s\"%s\"", roles.len ? "," : "", name);
	}
	if (r == 0 && t->kind == T_ADD)
		r = buf_printf(&t->result,
			       "{\"details\":{\"added_artifacts\":%s,\"invalid_paths\":[],"
			       "\"target_roles\":[%s]},\"last_update\":\"%s\","
			       "\"message\":\"Artifact(s) Added\",\"status\":true,"
			       "\"task\":\"add_artifacts\"}",
			       done.data, roles.data ? roles.data : "", cy->now_str);
	else if (r == 0)
		r = buf_printf(&t->result,
			       "{\"details\":{\"deleted_artifacts\":%s,\"not_found_artifacts\":%s,"
			       "\"target_roles\":[%s]},\"last_update\":\"%s\","
			       "\"message\":\"Artifact(s) Deleted\",\"status\":true,"
			       "\"task\":\"remove_artifacts\"}",
			       done.data, missing.data, roles.data ? roles.data : "", cy->now_str);
	free(bins);
	buf_free(&done);
	buf_free(&missing);
	buf_free(&roles);
	return r;
}

/* Apply the changes in task order: what each task did, the final state
 * of each path, the bins that changed. */
static int apply(publisher *p, cycle *cy)
{
	for (uint32_t i = 0; i < cy->nchanges; i++) {
		change *c = &cy->changes[i];
		pslot *s = &cy->slots[c->slot];

		if (c->info) {
			s->exists = true;
			s->last = i;
			bs_set(&cy->changed, c->bin);
		} else if (s->exists) {
			s->exists = false;
			s->last = i;
			c->effective = true;
			bs_set(&cy->changed, c->bin);
		}
	}
	for (uint32_t i = 0; i < cy->ntasks; i++) {
		ctask *t = &cy->tasks[i];
		pj_value *f;
		char num[24];

		if (t->publish || t->kind == T_PUB)
			cy->publish = true;
		GUARD(task_result(cy, p, t));
		GUARD(audit_later(cy, t->bad ? "task.errored" : "task.applied", &f));
		GUARD(pj_obj_put_str(cy->audit, f, "task_id", t->id));
		GUARD(pj_obj_put_str(cy->audit, f, "action", t->action));
		if (t->bad) {
			GUARD(pj_obj_put_str(cy->audit, f, "error", t->bad));
		} else {
			uint32_t n = 0;

			for (uint32_t k = 0; k < t->n; k++)
				n += cy->changes[t->first + k].info || cy->changes[t->first + k].effective;
			snprintf(num, sizeof(num), "%" PRIu32, n);
			GUARD(pj_obj_put_str(cy->audit, f, "changed", num));
		}
	}
	return 0;
}

/* The artifacts table follows: one upsert and one delete for the cycle. */
static int store_artifacts(publisher *p, cycle *cy)
{
	db_array up[4], del;
	int r = 0;

	dba_init(&up[0], DB_OID_TEXT);
	dba_init(&up[1], DB_OID_INT4);
	dba_init(&up[2], DB_OID_TEXT);
	dba_init(&up[3], DB_OID_TEXT);
	dba_init(&del, DB_OID_TEXT);
	for (uint32_t s = 0; r == 0 && s <= cy->mask; s++) {
		const pslot *sl = &cy->slots[s];
		const change *c;

		if (!sl->used || sl->last == NONE)
			continue;
		c = &cy->changes[sl->last];
		if (c->info) {
			pawl_buf e = PAWL_BUF_INIT(1 << 20);
			const ctask *t = &cy->tasks[c->task];

			r = pj_write(&e, c->info, false);
			if (r == 0)
				r = dba_text(&up[0], c->path, c->pathlen);
			if (r == 0)
				r = dba_int4(&up[1], (int32_t)c->bin);
			if (r == 0)
				r = dba_text(&up[2], e.data, e.len);
			if (r == 0)
				r = dba_text(&up[3], t->id, strlen(t->id));
			buf_free(&e);
		} else {
			r = dba_text(&del, c->path, c->pathlen);
		}
	}
	if (r == 0 && up[0].n)
		r = run_arrays(p->d, "art_put", up, 4, NULL);
	if (r == 0 && del.n)
		r = run_arrays(p->d, "art_del", &del, 1, NULL);
	arrays_free(up, 4);
	dba_free(&del);
	return r;
}

/* ---- 3. sign ---- */

static int cmp_ovl(const void *a, const void *b)
{
	const ovl *x = a, *y = b;
	size_t n = x->pathlen < y->pathlen ? x->pathlen : y->pathlen;
	int c;

	if (x->bin != y->bin)
		return x->bin < y->bin ? -1 : 1;
	c = memcmp(x->path, y->path, n);
	if (c)
		return c;
	return (x->pathlen > y->pathlen) - (x->pathlen < y->pathlen);
}

/* The final change of every path, sorted by bin and path. */
static int make_overlay(cycle *cy)
{
	uint32_t n = 0;

	cy->ov = xreallocarray(NULL, cy->nchanges + 1, sizeof(*cy->ov));
	if (!cy->ov)
		return PAWL_E_NOMEM;
	for (uint32_t s = 0; cy->slots && s <= cy->mask; s++) {
		const pslot *sl = &cy->slots[s];
		const change *c;

		if (!sl->used || sl->last == NONE)
			continue;
		c = &cy->changes[sl->last];
		cy->ov[n++] = (ovl){ c->path, c->pathlen, c->bin, c->info };
	}
	qsort(cy->ov, n, sizeof(*cy->ov), cmp_ovl);
	cy->nov = n;
	return 0;
}

/* Put one target entry {"custom"?, "hashes", "length"} into md. */
static int put_entry(pawl_md *md, const char *path, size_t pathlen, const pj_value *ev)
{
	const pj_value *h = pj_get(ev, "hashes"), *len = pj_get(ev, "length");
	md_hash_hex hh[2];

	ENSURE(pj_is_object(h) && pj_is_int(len) && len->u.i >= 0 && h->len >= 1 && h->len <= 2,
	       PAWL_E_FORMAT, "artifact %.*s: bad entry", (int)(pathlen > 200 ? 200 : pathlen),
	       path);
	for (uint32_t k = 0; k < h->len; k++) {
		hh[k].alg = h->u.members[k].key;
		hh[k].hex = pj_str(&h->u.members[k].value);
		ENSURE(hh[k].hex, PAWL_E_FORMAT, "artifact %.*s: bad hash",
		       (int)(pathlen > 200 ? 200 : pathlen), path);
	}
	return md_bulk_target(md, path, pathlen, (uint64_t)len->u.i, hh, h->len,
			      pj_get(ev, "custom"));
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return (an > bn) - (an < bn);
}

typedef struct signwork {
	const publisher *p;
	cycle *cy;
	int64_t expires;
	atomic_uint next;
	atomic_int err;
	pthread_mutex_t lock;
	char msg[1024];
} signwork;

/* A new version of one bin: its previous version with the cycle's
 * changes merged in (both sorted by path), or its rows. */
static int fill_bin(const signwork *w, const bjob *j, pawl_md *md)
{
	const cycle *cy = w->cy;
	_cleanup_pj_doc_ pj_doc *prev = NULL;
	const pj_value *t = NULL;
	const ovl *ov = cy->ov + j->ov;
	uint32_t i = 0, k = 0, tn = 0;
	int r = 0;

	if (j->rebuild) {
		for (int row = j->row0; row < j->row0 + j->nrows; row++) {
			_cleanup_pj_doc_ pj_doc *e = NULL;
			const char *path = PQgetvalue(cy->rows, row, 1);

			GUARD(pj_parse_copy(&e, PQgetvalue(cy->rows, row, 2),
					    (size_t)PQgetlength(cy->rows, row, 2), NULL));
			GUARD(put_entry(md, path, (size_t)PQgetlength(cy->rows, row, 1), pj_root(e)));
		}
		return 0;
	}
	if (j->prev_row >= 0) {
		GUARD(pj_parse_copy(&prev, PQgetvalue(cy->prev, j->prev_row, 1),
				    (size_t)PQgetlength(cy->prev, j->prev_row, 1), NULL));
		t = pj_get(pj_get(pj_root(prev), "signed"), "targets");
		ENSURE(pj_is_object(t), PAWL_E_FORMAT, "%s version %" PRIu64 ": no targets",
		       j->name, j->version - 1);
		tn = t->len;
	}
	while (r == 0 && (i < tn || k < j->nov)) {
		int c = i == tn ? 1 : k == j->nov ? -1
			: key_cmp(t->u.members[i].key, t->u.members[i].klen, ov[k].path,
				  ov[k].pathlen);

		if (c < 0) {
			r = put_entry(md, t->u.members[i].key, t->u.members[i].klen,
				      &t->u.members[i].value);
			i++;
			continue;
		}
		if (c == 0)
			i++;
		if (ov[k].info)
			r = put_entry(md, ov[k].path, ov[k].pathlen, ov[k].info);
		k++;
	}
	return r;
}

static int sign_bin(signwork *w, bjob *j)
{
	_cleanup_md_ pawl_md *md = NULL;
	uint8_t dg[HASH_MAX_LEN];
	int r;

	GUARD(md_new(&md, MD_TARGETS, j->version, w->expires));
	r = fill_bin(w, j, md);
	/* md_bulk_finish even after a failed append (bulk.h). */
	if (r < 0) {
		int r2 = md_bulk_finish(md);

		(void)r2;
		return r;
	}
	GUARD(md_bulk_finish(md));
	GUARD(md_sign(md, w->p->bins_s));
	GUARD(md_serialize(md, &j->data, &j->len));
	GUARD(hash_once(HASH_SHA256, j->data, j->len, dg));
	hex_encode(j->sha, dg, 32);
	return 0;
}

static void *sign_worker(void *arg)
{
	signwork *w = arg;

	for (;;) {
		unsigned i = atomic_fetch_add(&w->next, 1);
		int r;

		if (i >= w->cy->njobs || atomic_load(&w->err))
			break;
		r = sign_bin(w, &w->cy->jobs[i]);
		if (r < 0) {
			pthread_mutex_lock(&w->lock);
			if (!atomic_load(&w->err)) {
				snprintf(w->msg, sizeof(w->msg), "%s: %s", w->cy->jobs[i].name,
					 pawl_error_last()->message);
				atomic_store(&w->err, r);
			}
			pthread_mutex_unlock(&w->lock);
			break;
		}
	}
	return NULL;
}

/* Sign every job with sign_threads threads (this one included). */
static int sign_jobs(publisher *p, cycle *cy)
{
	signwork w = { .p = p, .cy = cy, .expires = cy->now + p->c->expires_bins };
	pthread_t th[16];
	unsigned extra = 0, want;
	int r;

	atomic_init(&w.next, 0);
	atomic_init(&w.err, 0);
	pthread_mutex_init(&w.lock, NULL);
	want = p->c->sign_threads;
	if (want > 1 + ARRAY_SIZE(th))
		want = 1 + ARRAY_SIZE(th);
	/* Threads pay off only with enough bins to share. */
	for (; extra + 1 < want && (extra + 1) * 16 < cy->njobs; extra++)
		if (pthread_create(&th[extra], NULL, sign_worker, &w) != 0)
			break;
	sign_worker(&w);
	for (unsigned i = 0; i < extra; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&w.lock);
	r = atomic_load(&w.err);
	if (r < 0)
		return pawl_error_set(r, "%s", w.msg);
	return 0;
}

/* The previous versions of the bins merged this cycle, and the rows of
 * the bins rebuilt from the artifacts table. */
static int fetch_bins(publisher *p, cycle *cy)
{
	db_array a[2], b;
	uint32_t nprev = 0;
	int r = 0;

	dba_init(&a[0], DB_OID_TEXT);
	dba_init(&a[1], DB_OID_INT8);
	dba_init(&b, DB_OID_INT4);
	for (uint32_t i = 0; r == 0 && i < cy->njobs; i++) {
		bjob *j = &cy->jobs[i];

		j->prev_row = -1;
		if (j->rebuild) {
			r = dba_int4(&b, (int32_t)j->bin);
		} else if (j->version > 1) {
			r = dba_text(&a[0], j->name, strlen(j->name));
			if (r == 0)
				r = dba_int8(&a[1], (int64_t)(j->version - 1));
			nprev++;
		}
	}
	if (r == 0 && nprev)
		r = run_arrays(p->d, "meta_get_many", a, 2, &cy->prev);
	if (r == 0 && b.n)
		r = run_arrays(p->d, "art_bins", &b, 1, &cy->rows);
	arrays_free(a, 2);
	dba_free(&b);
	GUARD(r);
	if (nprev) {
		/* Row i of the query is the i-th job with a previous version;
		 * map them back by the ordinality column. */
		uint32_t *slot = xreallocarray(NULL, nprev, sizeof(*slot));
		uint32_t n = 0;

		if (!slot)
			return PAWL_E_NOMEM;
		for (uint32_t i = 0; i < cy->njobs; i++)
			if (!cy->jobs[i].rebuild && cy->jobs[i].version > 1)
				slot[n++] = i;
		for (int row = 0; r == 0 && row < PQntuples(cy->prev); row++) {
			uint64_t ord;

			r = parse_u64(PQgetvalue(cy->prev, row, 0), &ord);
			if (r == 0 && (ord < 1 || ord > nprev))
				r = pawl_error_set(PAWL_E_FORMAT, "bad row from the database");
			if (r == 0)
				cy->jobs[slot[ord - 1]].prev_row = row;
		}
		for (uint32_t i = 0; r == 0 && i < nprev; i++)
			if (cy->jobs[slot[i]].prev_row < 0)
				r = pawl_error_set(PAWL_E_NOT_FOUND,
						   "%s version %" PRIu64 " is missing from the "
						   "database",
						   cy->jobs[slot[i]].name, cy->jobs[slot[i]].version - 1);
		free(slot);
		GUARD(r);
	}
	if (cy->rows) {
		/* Rows come ordered by bin; jobs are in bin order too. */
		int row = 0, nrows = PQntuples(cy->rows);

		for (uint32_t i = 0; i < cy->njobs; i++) {
			bjob *j = &cy->jobs[i];

			if (!j->rebuild)
				continue;
			while (row < nrows && strtoul(PQgetvalue(cy->rows, row, 0), NULL, 10) < j->bin)
				row++;
			j->row0 = row;
			while (row < nrows && strtoul(PQgetvalue(cy->rows, row, 0), NULL, 10) == j->bin)
				row++;
			j->nrows = row - j->row0;
		}
	}
	return 0;
}

/* The jobs: every bin in cy->sign, and every bin never signed. */
static int make_jobs(publisher *p, cycle *cy)
{
	uint32_t k = 0;

	cy->jobs = xcalloc(p->nbins, sizeof(*cy->jobs));
	if (!cy->jobs)
		return PAWL_E_NOMEM;
	for (uint32_t b = 0; b < p->nbins; b++) {
		bjob *j;

		if (!bs_get(&cy->sign, b) && p->bin_ver[b] != 0)
			continue;
		j = &cy->jobs[cy->njobs++];
		j->bin = b;
		j->version = p->bin_ver[b] + 1;
		j->rebuild = bs_get(&cy->dirty, b);
		GUARD(bin_name(p, b, j->name, sizeof(j->name)));
		while (k < cy->nov && cy->ov[k].bin < b)
			k++;
		j->ov = k;
		while (k < cy->nov && cy->ov[k].bin == b)
			k++;
		j->nov = k - j->ov;
	}
	return 0;
}

/* New files go in with one COPY, and become the versions in force with
 * one upsert of heads. */
typedef struct newfiles {
	db_rows rows;
	db_array a[3]; /* role, version, expires */
} newfiles;

static void newfiles_init(newfiles *f)
{
	db_rows_init(&f->rows);
	dba_init(&f->a[0], DB_OID_TEXT);
	dba_init(&f->a[1], DB_OID_INT8);
	dba_init(&f->a[2], DB_OID_INT8);
}

static void newfiles_free(newfiles *f)
{
	db_rows_free(&f->rows);
	arrays_free(f->a, 3);
}

static int newfiles_add(newfiles *f, const char *role, uint64_t version, int64_t expires,
			const char *data, size_t len)
{
	GUARD(db_rows_meta(&f->rows, role, version, expires, data, len));
	GUARD(dba_text(&f->a[0], role, strlen(role)));
	GUARD(dba_int8(&f->a[1], (int64_t)version));
	return dba_int8(&f->a[2], expires);
}

static int newfiles_store(db *d, newfiles *f)
{
	if (f->a[0].n == 0)
		return 0;
	GUARD(db_copy_meta(d, &f->rows));
	return run_arrays(d, "heads_put", f->a, 3, NULL);
}

static int sign_one(publisher *p, cycle *cy, newfiles *nf, pawl_md *md, const char *role,
		    const pawl_signer *s, size_t *ret_len, char sha[65])
{
	_cleanup_free_ char *data = NULL;
	uint8_t dg[HASH_MAX_LEN];
	size_t len;
	char v[24];
	pj_value *f;

	GUARD(md_sign(md, s));
	GUARD(md_serialize(md, &data, &len));
	GUARD(hash_once(HASH_SHA256, data, len, dg));
	hex_encode(sha, dg, 32);
	GUARD(newfiles_add(nf, role, md->version, md->expires, data, len));
	snprintf(v, sizeof(v), "%" PRIu64, md->version);
	GUARD(audit_later(cy, "sign", &f));
	GUARD(pj_obj_put_str(cy->audit, f, "role", role));
	GUARD(pj_obj_put_str(cy->audit, f, "version", v));
	GUARD(pj_obj_put_str(cy->audit, f, "keyid", signer_keyid(s)));
	GUARD(pj_obj_put_str(cy->audit, f, "sha256", sha));
	GUARD(pj_obj_put_str(cy->audit, f, "expires", md->expires_str));
	if (ret_len)
		*ret_len = len;
	(void)p;
	return 0;
}

/* The bins signed this cycle in one audit entry: [name, version,
 * sha256] for each, with the key and the expiry they share. */
static int audit_bins(publisher *p, cycle *cy)
{
	pj_value *f, *arr, *e, *v;
	char num[24], exp[21];

	if (cy->njobs == 0)
		return 0;
	GUARD(audit_later(cy, "sign.bins", &f));
	GUARD(pj_obj_put_str(cy->audit, f, "keyid", signer_keyid(p->bins_s)));
	pawl_time_format(cy->now + p->c->expires_bins, exp);
	GUARD(pj_obj_put_str(cy->audit, f, "expires", exp));
	GUARD(pj_obj_put(cy->audit, f, "signed", 6, &arr));
	GUARD(pj_set_array(cy->audit, arr));
	for (uint32_t i = 0; i < cy->njobs; i++) {
		const bjob *j = &cy->jobs[i];

		GUARD(pj_arr_push(cy->audit, arr, &e));
		GUARD(pj_set_array(cy->audit, e));
		GUARD(pj_arr_push(cy->audit, e, &v));
		GUARD(pj_set_cstr(cy->audit, v, j->name));
		GUARD(pj_arr_push(cy->audit, e, &v));
		snprintf(num, sizeof(num), "%" PRIu64, j->version);
		GUARD(pj_set_cstr(cy->audit, v, num));
		GUARD(pj_arr_push(cy->audit, e, &v));
		GUARD(pj_set_cstr(cy->audit, v, j->sha));
	}
	return 0;
}

static int publish(publisher *p, cycle *cy, newfiles *nf, uint64_t *ret_snap, uint64_t *ret_ts)
{
	_cleanup_md_ pawl_md *snap = NULL, *ts = NULL;
	size_t slen;
	char sha[65], name[160], v[24];
	md_hash_hex h = { "sha256", sha };
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	GUARD(make_overlay(cy));
	GUARD(make_jobs(p, cy));
	GUARD(fetch_bins(p, cy));
	cy->t_fetch = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	GUARD(sign_jobs(p, cy));
	for (uint32_t i = 0; i < cy->njobs; i++) {
		bjob *j = &cy->jobs[i];

		GUARD(newfiles_add(nf, j->name, j->version, cy->now + p->c->expires_bins, j->data,
				   j->len));
	}
	GUARD(audit_bins(p, cy));

	GUARD(md_new(&snap, MD_SNAPSHOT, p->snap_ver + 1, cy->now + p->c->expires_snapshot));
	GUARD(md_bulk_meta(snap, "targets.json", p->targets->version, false, 0, NULL, 0));
	for (uint32_t b = 0, k = 0; b < p->nbins; b++) {
		char bn[128];
		uint64_t ver = p->bin_ver[b];

		if (k < cy->njobs && cy->jobs[k].bin == b)
			ver = cy->jobs[k++].version;
		GUARD(bin_name(p, b, bn, sizeof(bn)));
		snprintf(name, sizeof(name), "%s.json", bn);
		GUARD(md_bulk_meta(snap, name, ver, false, 0, NULL, 0));
	}
	GUARD(md_bulk_finish(snap));
	GUARD(sign_one(p, cy, nf, snap, "snapshot", p->snap_s, &slen, sha));

	GUARD(md_new(&ts, MD_TIMESTAMP, p->ts_ver + 1, cy->now + p->c->expires_timestamp));
	GUARD(md_bulk_meta(ts, "snapshot.json", snap->version, true, slen, &h, 1));
	GUARD(md_bulk_finish(ts));
	GUARD(sign_one(p, cy, nf, ts, "timestamp", p->ts_s, NULL, sha));
	cy->t_sign = ms_since(&t0);

	if (p->snap_targets_ver != p->targets->version) {
		snprintf(v, sizeof(v), "%" PRIu64, p->targets->version);
		GUARD(db_setting_put(p->d, "snapshot.targets_version", v));
	}
	if (p->snap_root_ver != p->root->version) {
		snprintf(v, sizeof(v), "%" PRIu64, p->root->version);
		GUARD(db_setting_put(p->d, "snapshot.root_version", v));
	}
	*ret_snap = snap->version;
	*ret_ts = ts->version;
	/* What the leader keeps in memory follows only after COMMIT
	 * (commit_versions). */
	return 0;
}

/* After COMMIT: the new versions are the current ones. */
static void commit_versions(publisher *p, cycle *cy, uint64_t snapv, int64_t snapexp,
			    uint64_t tsv, int64_t tsexp)
{
	for (uint32_t i = 0; i < cy->njobs; i++) {
		p->bin_ver[cy->jobs[i].bin] = cy->jobs[i].version;
		p->bin_exp[cy->jobs[i].bin] = cy->now + p->c->expires_bins;
	}
	if (snapv) {
		p->snap_ver = snapv;
		p->snap_exp = snapexp;
		p->snap_targets_ver = p->targets->version;
		p->snap_root_ver = p->root->version;
	}
	if (tsv) {
		p->ts_ver = tsv;
		p->ts_exp = tsexp;
	}
}

/* Only the timestamp is renewed: the same snapshot. */
static int renew_timestamp(publisher *p, cycle *cy, newfiles *nf, uint64_t *ret_ts)
{
	_cleanup_md_ pawl_md *ts = NULL;
	_cleanup_pq_ PGresult *sres = NULL;
	char sha[65], v[24];
	uint8_t dg[HASH_MAX_LEN];
	md_hash_hex h = { "sha256", sha };

	snprintf(v, sizeof(v), "%" PRIu64, p->snap_ver);
	GUARD(DB_RUN(p->d, "meta_get", &sres, "snapshot", v));
	ENSURE(PQntuples(sres) == 1, PAWL_E_NOT_FOUND, "snapshot %s is missing", v);
	GUARD(hash_once(HASH_SHA256, PQgetvalue(sres, 0, 0), (size_t)PQgetlength(sres, 0, 0), dg));
	hex_encode(sha, dg, 32);
	GUARD(md_new(&ts, MD_TIMESTAMP, p->ts_ver + 1, cy->now + p->c->expires_timestamp));
	GUARD(md_bulk_meta(ts, "snapshot.json", p->snap_ver, true, (uint64_t)PQgetlength(sres, 0, 0),
			   &h, 1));
	GUARD(md_bulk_finish(ts));
	GUARD(sign_one(p, cy, nf, ts, "timestamp", p->ts_s, NULL, sha));
	*ret_ts = ts->version;
	return 0;
}

/* Claim the picked tasks and parse them. */
static int claim(publisher *p, cycle *cy, db_array *seqs)
{
	const char *v;
	int len, fmt = 1, n;

	GUARD(dba_finish(seqs, &v, &len));
	GUARD(db_runv(p->d, "task_claim", 1, &v, &len, &fmt, &cy->claim));
	n = PQntuples(cy->claim);
	cy->tasks = xcalloc((size_t)n + 1, sizeof(*cy->tasks));
	if (!cy->tasks)
		return PAWL_E_NOMEM;
	for (int i = 0; i < n; i++) {
		ctask *t = &cy->tasks[cy->ntasks++];
		const char *payload = PQgetvalue(cy->claim, i, 3);
		int r;

		GUARD(parse_i64(PQgetvalue(cy->claim, i, 0), &t->seq));
		t->id = PQgetvalue(cy->claim, i, 1);
		t->action = PQgetvalue(cy->claim, i, 2);
		t->publish = strcmp(PQgetvalue(cy->claim, i, 4), "t") == 0;
		t->kind = strcmp(t->action, "add_artifacts") == 0	 ? T_ADD
			  : strcmp(t->action, "remove_artifacts") == 0 ? T_DEL
								       : T_PUB;
		t->first = cy->nchanges;
		r = parse_task(p, cy, t, payload, (size_t)PQgetlength(cy->claim, i, 3));
		if (r < 0) {
			if (r == PAWL_E_NOMEM)
				return r;
			/* Only this task is at fault: it ends ERRORED with the
			 * reason, the others go on. */
			logmsg("error", "task %s: %s", t->id, pawl_error_last()->message);
			t->bad = "its stored payload is not valid";
			cy->nchanges = t->first;
			pj_doc_free(t->doc);
			t->doc = NULL;
		}
		t->n = cy->nchanges - t->first;
	}
	return 0;
}

static int finish_tasks(publisher *p, cycle *cy)
{
	db_array a[3];
	int r = 0;

	if (cy->ntasks == 0)
		return 0;
	dba_init(&a[0], DB_OID_INT8);
	dba_init(&a[1], DB_OID_TEXT);
	dba_init(&a[2], DB_OID_TEXT);
	for (uint32_t i = 0; r == 0 && i < cy->ntasks; i++) {
		const ctask *t = &cy->tasks[i];
		const char *st = t->bad ? "ERRORED" : "SUCCESS";

		r = dba_int8(&a[0], t->seq);
		if (r == 0)
			r = dba_text(&a[1], st, strlen(st));
		if (r == 0)
			r = dba_text(&a[2], t->result.data, t->result.len);
	}
	if (r == 0)
		r = run_arrays(p->d, "task_finish", a, 3, NULL);
	arrays_free(a, 3);
	return r;
}

static int store_audit(publisher *p, cycle *cy)
{
	pj_value *arr = pj_root(cy->audit);
	audit_batch ab;
	int r = 0;

	if (!arr->len)
		return 0;
	GUARD(audit_db_open(p->d, &ab));
	for (uint32_t i = 0; r == 0 && i < arr->len; i++)
		r = audit_db_add(&ab, pj_str(&arr->u.items[i].u.items[0]),
				 &arr->u.items[i].u.items[1]);
	if (r < 0) {
		audit_db_abandon(&ab);
		return r;
	}
	return audit_db_close(p->d, &ab);
}

static int bits_new(bitset *b, uint32_t n)
{
	b->w = xcalloc((n + 63) / 64, sizeof(uint64_t));
	b->n = n;
	b->count = 0;
	return b->w ? 0 : PAWL_E_NOMEM;
}

static int cycle_begin(publisher *p, cycle *cy)
{
	_cleanup_pq_ PGresult *res = NULL;
	uint64_t rv = 0, tv = 0;

	GUARD(db_run0(p->d, "cycle_start", &res));
	GUARD(parse_i64(PQgetvalue(res, 0, 0), &cy->now));
	snprintf(cy->now_str, sizeof(cy->now_str), "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 2))
		GUARD(parse_u64(PQgetvalue(res, 0, 2), &rv));
	if (!PQgetisnull(res, 0, 3))
		GUARD(parse_u64(PQgetvalue(res, 0, 3), &tv));
	if (rv == 0 || tv == 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "waiting for `pawl-repod import`");
	if (!p->loaded || rv != p->root->version || tv != p->targets->version)
		GUARD(load(p));
	GUARD(bits_new(&cy->changed, p->nbins));
	GUARD(bits_new(&cy->sign, p->nbins));
	GUARD(bits_new(&cy->dirty, p->nbins));
	GUARD(pj_doc_new(&cy->audit));
	return pj_set_array(cy->audit, pj_root(cy->audit));
}

/* Returns 1 when open tasks were left for another cycle, 0 otherwise;
 * *ret_worked tells whether the cycle did anything. */
static int run_cycle(publisher *p, bool *ret_worked)
{
	cycle cy = { 0 };
	newfiles nf;
	_cleanup_free_ char *resign = NULL;
	db_array seqs;
	uint64_t snapv = 0, tsv = 0;
	int64_t snapexp = 0, tsexp = 0;
	int r;
	bool need_snap, need_ts, more;
	struct timespec t0, t1;

	*ret_worked = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	newfiles_init(&nf);
	dba_init(&seqs, DB_OID_INT8);
	GUARD_GOTO(r, pick(p, &seqs), out);
	more = seqs.n > 0;
	GUARD_GOTO(r, db_begin(p->d), out);
	GUARD_GOTO(r, cycle_begin(p, &cy), fail);
	if (seqs.n) {
		GUARD_GOTO(r, claim(p, &cy, &seqs), fail);
		GUARD_GOTO(r, index_paths(&cy), fail);
		GUARD_GOTO(r, removals_exist(p, &cy), fail);
		GUARD_GOTO(r, apply(p, &cy), fail);
		GUARD_GOTO(r, store_artifacts(p, &cy), fail);
	}
	cy.t_claim = ms_since(&t0);
	/* Bins changed by tasks that did not ask for publication wait in
	 * dirty_bins for the next publication. */
	if (cy.changed.count && !cy.publish) {
		db_array a;

		dba_init(&a, DB_OID_INT4);
		r = 0;
		for (uint32_t b = 0; r == 0 && b < p->nbins; b++)
			if (bs_get(&cy.changed, b))
				r = dba_int4(&a, (int32_t)b);
		if (r == 0)
			r = run_arrays(p->d, "dirty_add", &a, 1, NULL);
		dba_free(&a);
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
		_cleanup_pq_ PGresult *dirty = NULL;

		GUARD_GOTO(r, db_run0(p->d, "dirty_take", &dirty), fail);
		for (int i = 0; i < PQntuples(dirty); i++) {
			uint64_t b;

			GUARD_GOTO(r, parse_u64(PQgetvalue(dirty, i, 0), &b), fail);
			if (b < p->nbins) {
				bs_set(&cy.sign, (uint32_t)b);
				bs_set(&cy.dirty, (uint32_t)b);
			}
		}
		for (uint32_t b = 0; b < p->nbins; b++)
			if (bs_get(&cy.changed, b) || resign)
				bs_set(&cy.sign, b);
		if (resign)
			GUARD_GOTO(r, DB_RUN(p->d, "setting_put", NULL, "bins.resign", ""), fail);
	}
	if (need_ts) {
		pj_value *f;
		char num[24];

		if (need_snap) {
			GUARD_GOTO(r, publish(p, &cy, &nf, &snapv, &tsv), fail);
			snapexp = cy.now + p->c->expires_snapshot;
		} else {
			GUARD_GOTO(r, renew_timestamp(p, &cy, &nf, &tsv), fail);
		}
		tsexp = cy.now + p->c->expires_timestamp;
		GUARD_GOTO(r, audit_later(&cy, "publish", &f), fail);
		snprintf(num, sizeof(num), "%" PRIu64, snapv ? snapv : p->snap_ver);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "snapshot", num), fail);
		snprintf(num, sizeof(num), "%" PRIu64, tsv);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "timestamp", num), fail);
		snprintf(num, sizeof(num), "%" PRIu32, cy.njobs);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "bins_signed", num), fail);
		snprintf(num, sizeof(num), "%" PRIu32, cy.ntasks);
		GUARD_GOTO(r, pj_obj_put_str(cy.audit, f, "tasks", num), fail);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	GUARD_GOTO(r, newfiles_store(p->d, &nf), fail);
	GUARD_GOTO(r, finish_tasks(p, &cy), fail);
	GUARD_GOTO(r, store_audit(p, &cy), fail);
	cy.t_store = ms_since(&t1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	GUARD_GOTO(r, db_commit(p->d), fail);
	cy.t_commit = ms_since(&t1);
	commit_versions(p, &cy, snapv, snapexp, tsv, tsexp);
	*ret_worked = cy.ntasks > 0 || need_ts;
	if (need_ts)
		logmsg("info",
		       "published snapshot %" PRIu64 ", timestamp %" PRIu64
		       ": %" PRIu32 " tasks, %" PRIu32 " artifacts, %" PRIu32 " bins signed, %.0f ms "
		       "(tasks %.0f, read bins %.0f, sign %.0f, store %.0f, commit %.0f; "
		       "open %" PRIu64 " artifacts, oldest waited %" PRId64 " ms, allowed %.0f ms "
		       "for up to %" PRIu32 ")",
		       snapv ? snapv : p->snap_ver, tsv, cy.ntasks, cy.nchanges, cy.njobs,
		       ms_since(&t0), cy.t_claim, cy.t_fetch, cy.t_sign, cy.t_store, cy.t_commit,
		       p->open_artifacts, p->oldest_ms, p->allowed_ms, p->take);
	else if (cy.ntasks)
		logmsg("info", "applied %" PRIu32 " tasks (%" PRIu32 " artifacts) without publishing",
		       cy.ntasks, cy.nchanges);
	if (cy.njobs >= 256) {
		/* The cost per bin signed, from every cycle that signed
		 * enough bins to tell, half way there (a cycle is noisy). */
		double k = ms_since(&t0) / cy.njobs;

		p->ms_per_bin = p->ms_per_bin > 0 ? (p->ms_per_bin + k) / 2 : k;
	}
	r = more ? 1 : 0;
	goto out;
fail:
	db_rollback(p->d);
	/* What was loaded may be ahead of the database now. */
	p->loaded = false;
out:
	dba_free(&seqs);
	newfiles_free(&nf);
	cycle_free(&cy);
	return r;
}

/* ---- the thread ---- */

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Drop notifications already delivered: the cycle about to run sees
 * their tasks anyway. */
static void drain(publisher *p)
{
	PGnotify *n;

	if (!p->listening || PQconsumeInput(p->d->c) == 0)
		return;
	while ((n = PQnotifies(p->d->c)) != NULL)
		PQfreemem(n);
}

/* Wait up to ms for a new task (NOTIFY pawl_repod_tasks) or stop. */
static void wait_for_work(publisher *p, unsigned ms)
{
	struct timespec t0;

	if (!p->listening) {
		nap_ms(ms);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!p->stop) {
		double left = ms - ms_since(&t0);
		struct pollfd pfd = { PQsocket(p->d->c), POLLIN, 0 };
		PGnotify *n;
		bool got = false;

		if (left <= 0)
			return;
		if (poll(&pfd, 1, left > 200 ? 200 : (int)left + 1) < 0 && errno != EINTR)
			return;
		if (PQconsumeInput(p->d->c) == 0)
			return; /* the connection broke: the loop reconnects */
		while ((n = PQnotifies(p->d->c)) != NULL) {
			PQfreemem(n);
			got = true;
		}
		if (got)
			return;
	}
}

static void *run(void *arg)
{
	publisher *p = arg;
	bool waiting_logged = false;
	struct timespec last;

	clock_gettime(CLOCK_MONOTONIC, &last);
	while (!p->stop) {
		if (!db_ok(p->d)) {
			db_close(p->d);
			p->d = NULL;
			if (p->leader)
				logmsg("warning", "lost the database session: no longer leader");
			p->leader = false;
			p->listening = false;
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
		if (!p->listening) {
			PGresult *res = PQexec(p->d->c, "LISTEN pawl_repod_tasks");

			p->listening = PQresultStatus(res) == PGRES_COMMAND_OK;
			PQclear(res);
		}
		{
			bool worked;
			int r;
			double since;

			/* At most one publication per publish_interval_ms. */
			since = ms_since(&last);
			if (since < p->c->publish_interval_ms)
				nap_ms((unsigned)(p->c->publish_interval_ms - since));
			clock_gettime(CLOCK_MONOTONIC, &last);
			drain(p);
			r = run_cycle(p, &worked);
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
			/* Idle: sleep until a task arrives, and look at the
			 * expiry dates every second. */
			if (r == 0 && !worked)
				wait_for_work(p, 1000);
		}
	}
	return NULL;
}

static int load_keys(const repod_config *c, char *const *args, unsigned n, const char *what,
		     pawl_signer **keys, unsigned *ret_n)
{
	ENSURE(n > 0, PAWL_E_INVALID, "%s: a key is not configured", what);
	for (unsigned i = 0; i < n; i++) {
		int r = online_signer(c, args[i], &keys[i]);

		if (r < 0)
			return pawl_error_prefix(r, "%s: ", what);
		*ret_n = i + 1;
	}
	return 0;
}

int publisher_start(publisher **ret, const repod_config *c)
{
	publisher *p = xcalloc(1, sizeof(*p));
	int r;

	if (!p)
		return PAWL_E_NOMEM;
	p->c = c;
	r = load_keys(c, c->key_bins, c->nkey_bins, "key.bins", p->bins_k, &p->nbins_k);
	if (r == 0)
		r = load_keys(c, c->key_snapshot, c->nkey_snapshot, "key.snapshot", p->snap_k,
			      &p->nsnap_k);
	if (r == 0)
		r = load_keys(c, c->key_timestamp, c->nkey_timestamp, "key.timestamp", p->ts_k,
			      &p->nts_k);
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
	for (unsigned i = 0; i < ONLINE_KEYS_MAX; i++) {
		signer_free(p->bins_k[i]);
		signer_free(p->snap_k[i]);
		signer_free(p->ts_k[i]);
	}
	free(p);
}

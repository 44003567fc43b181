/*
 * auditdb.c - the service's hash-chained audit log, kept in PostgreSQL
 * (the instances share nothing else, so the log cannot be a local file).
 *
 * Each entry is one line of JSON with sorted keys and no whitespace, the
 * same shape as the file logs of pawl and pawl-repo (docs/audit.md):
 *   {"fields":{...},"prev":"<sha256 of the previous line>","seq":N,
 *    "time":"YYYY-MM-DDTHH:MM:SSZ","type":"..."}
 * stored with its own SHA-256. Entry 0 is "audit.start" with prev = 64
 * zeros. The single audit_head row names the last entry; appending locks
 * it (SELECT ... FOR UPDATE) until the transaction ends, so the chain
 * follows commit order, and an entry exists exactly when the change it
 * records was committed with it.
 *
 * `log verify` recomputes every hash and link and checks the head. Like
 * any hash chain that is not signed, it proves integrity against edits,
 * deletions, insertions and reordering by anyone who cannot rewrite the
 * whole chain and the head together; an operator who can is caught only
 * by a copy of the head kept elsewhere (docs/service.md).
 */
#include <inttypes.h>
#include <string.h>

#include "common/parse.h"
#include "repod.h"

static const char zero_hash[65] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static int line_for(uint64_t seq, const char *prev, const char *time, const char *type,
		    const pj_value *fields, pawl_buf *out)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_value *root, *f;

	GUARD(pj_doc_new(&doc));
	root = pj_root(doc);
	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put(doc, root, "fields", 6, &f));
	if (fields)
		GUARD(pj_copy(doc, f, fields));
	else
		GUARD(pj_set_object(doc, f));
	GUARD(pj_obj_put_str(doc, root, "prev", prev));
	GUARD(pj_obj_put_int(doc, root, "seq", (int64_t)seq));
	GUARD(pj_obj_put_str(doc, root, "time", time));
	GUARD(pj_obj_put_str(doc, root, "type", type));
	return pj_write(out, root, false);
}

static int sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t d[HASH_MAX_LEN];

	GUARD(hash_once(HASH_SHA256, p, n, d));
	hex_encode(out, d, 32);
	return 0;
}

/* Chain one entry after b's head, in memory; audit_db_close() stores
 * the batch. */
static int append_locked(audit_batch *b, const char *type, const pj_value *fields)
{
	pawl_buf line = PAWL_BUF_INIT(AUDITDB_LINE_MAX);
	char newhash[65];
	int r;

	r = line_for((uint64_t)(b->seq + 1), b->hash, b->time, type, fields, &line);
	if (r == 0)
		r = sha256_hex(line.data, line.len, newhash);
	if (r == 0)
		r = dba_int8(&b->seqs, b->seq + 1);
	if (r == 0)
		r = dba_text(&b->hashes, newhash, 64);
	if (r == 0)
		r = dba_text(&b->lines, line.data, line.len);
	buf_free(&line);
	GUARD(r);
	b->seq++;
	memcpy(b->hash, newhash, 65);
	return 0;
}

void audit_db_abandon(audit_batch *b)
{
	dba_free(&b->seqs);
	dba_free(&b->hashes);
	dba_free(&b->lines);
}

static int open_head(db *d, audit_batch *b)
{
	_cleanup_pq_ PGresult *res = NULL;
	int64_t seq;

	GUARD(DB_RUN(d, "audit_start", NULL, zero_hash));
	GUARD(db_run0(d, "audit_head", &res));
	ENSURE(PQntuples(res) == 1, PAWL_E_FORMAT, "the audit head is missing");
	ENSURE(cli_parse_i64(PQgetvalue(res, 0, 0), -1, INT64_MAX, &seq) == 0, PAWL_E_FORMAT,
	       "bad audit head");
	b->seq = seq;
	snprintf(b->hash, sizeof(b->hash), "%s", PQgetvalue(res, 0, 1));
	/* Seconds are enough for the log, as in the file logs. */
	snprintf(b->time, sizeof(b->time), "%.19sZ", PQgetvalue(res, 0, 2));
	if (b->seq < 0) {
		_cleanup_pj_doc_ pj_doc *doc = NULL;
		pj_value *f;

		GUARD(pj_doc_new(&doc));
		f = pj_root(doc);
		GUARD(pj_set_object(doc, f));
		GUARD(pj_obj_put_str(doc, f, "program", "pawl-repod"));
		GUARD(append_locked(b, "audit.start", f));
	}
	return 0;
}

int audit_db_open(db *d, audit_batch *b)
{
	int r;

	dba_init(&b->seqs, DB_OID_INT8);
	dba_init(&b->hashes, DB_OID_TEXT);
	dba_init(&b->lines, DB_OID_TEXT);
	r = open_head(d, b);
	if (r < 0)
		audit_db_abandon(b);
	return r;
}

int audit_db_add(audit_batch *b, const char *type, const pj_value *fields)
{
	return append_locked(b, type, fields);
}

int audit_db_close(db *d, audit_batch *b)
{
	const char *vals[3];
	int lens[3], r = 0;
	static const int fmt[3] = { 1, 1, 1 };
	char num[24];

	if (b->seqs.n) {
		r = dba_finish(&b->seqs, &vals[0], &lens[0]);
		if (r == 0)
			r = dba_finish(&b->hashes, &vals[1], &lens[1]);
		if (r == 0)
			r = dba_finish(&b->lines, &vals[2], &lens[2]);
		if (r == 0)
			r = db_runv(d, "audit_add", 3, vals, lens, fmt, NULL);
		if (r == 0) {
			snprintf(num, sizeof(num), "%" PRId64, b->seq);
			r = DB_RUN(d, "audit_set", NULL, num, b->hash);
		}
	}
	audit_db_abandon(b);
	return r;
}

int audit_db_append(db *d, const char *type, const pj_value *fields)
{
	audit_batch b;

	int r;

	GUARD(audit_db_open(d, &b));
	r = audit_db_add(&b, type, fields);
	if (r < 0) {
		audit_db_abandon(&b);
		return r;
	}
	return audit_db_close(d, &b);
}

int audit_db_kv(db *d, const char *type, size_t n, const char *const *kv)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_value *f;

	GUARD(pj_doc_new(&doc));
	f = pj_root(doc);
	GUARD(pj_set_object(doc, f));
	for (size_t i = 0; i + 1 < n; i += 2)
		if (kv[i + 1])
			GUARD(pj_obj_put_str(doc, f, kv[i], kv[i + 1]));
	return audit_db_append(d, type, f);
}

typedef struct verifier {
	FILE *out;
	char prev[65];
	int64_t n;
} verifier;

/* One entry, in order; PAWL_E_SIGNATURE (after saying why) when the chain
 * is broken. */
static int verify_row(void *ctx, PGresult *res)
{
	verifier *v = ctx;
	const char *seqs = PQgetvalue(res, 0, 0);
	const char *hash = PQgetvalue(res, 0, 1);
	const char *line = PQgetvalue(res, 0, 2);
	size_t len = (size_t)PQgetlength(res, 0, 2);
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	const pj_value *root, *p, *s;
	char h[65];
	int64_t seq;

	if (cli_parse_i64(seqs, 0, INT64_MAX, &seq) < 0 || seq != v->n) {
		fprintf(v->out, "log verify: entry %lld is missing (found %s): entries were "
				"deleted or reordered\n", (long long)v->n, seqs);
		return PAWL_E_SIGNATURE;
	}
	if (sha256_hex(line, len, h) < 0 || strcmp(h, hash) != 0) {
		fprintf(v->out, "log verify: entry %lld was edited (its hash does not match)\n", (long long)seq);
		return PAWL_E_SIGNATURE;
	}
	if (pj_parse_copy(&doc, line, len, NULL) < 0) {
		fprintf(v->out, "log verify: entry %lld is malformed\n", (long long)seq);
		return PAWL_E_SIGNATURE;
	}
	root = pj_root(doc);
	p = pj_get(root, "prev");
	s = pj_get(root, "seq");
	if (!pj_is_string(p) || strcmp(p->u.s, v->prev) != 0 || !pj_is_int(s) || s->u.i != seq) {
		fprintf(v->out, "log verify: entry %lld does not follow entry %lld: the chain is "
				"broken\n", (long long)seq, (long long)seq - 1);
		return PAWL_E_SIGNATURE;
	}
	memcpy(v->prev, h, 65);
	v->n++;
	return 0;
}

int audit_db_verify(db *d, FILE *out)
{
	_cleanup_pq_ PGresult *head = NULL;
	verifier v = { .out = out };
	int64_t n;
	int r;

	memcpy(v.prev, zero_hash, 65);
	/* The head and the entries as one committed state (appends go on
	 * meanwhile), the entries streamed: the log grows for years. */
	if (db_begin_snapshot(d) < 0 || db_run0(d, "audit_get_head", &head) < 0) {
		fprintf(out, "log verify: %s\n", pawl_error_last()->message);
		db_rollback(d);
		return 1;
	}
	r = db_stream(d, "audit_all", 0, NULL, verify_row, &v);
	db_rollback(d);
	if (r == PAWL_E_SIGNATURE)
		return 1;
	if (r < 0) {
		fprintf(out, "log verify: %s\n", pawl_error_last()->message);
		return 1;
	}
	n = v.n;
	if (PQntuples(head) != 1) {
		if (n == 0) {
			fprintf(out, "log verify: the log is empty\n");
			return 0;
		}
		fprintf(out, "log verify: the head is missing\n");
		return 1;
	}
	{
		int64_t hs;

		if (cli_parse_i64(PQgetvalue(head, 0, 0), -1, INT64_MAX, &hs) < 0 || hs != n - 1 || strcmp(PQgetvalue(head, 0, 1), n ? v.prev : zero_hash)) {
			fprintf(out, "log verify: the head names entry %s but the log ends at "
				     "entry %lld: entries at the end were removed or changed\n",
				PQgetvalue(head, 0, 0), (long long)n - 1);
			return 1;
		}
	}
	fprintf(out, "log verify: %lld entries, intact; head %s\n", (long long)n, v.prev);
	return 0;
}

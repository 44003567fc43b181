/*
 * db.c - the PostgreSQL side: the schema and its migrations, the fixed
 * set of prepared statements, and thin checked wrappers over libpq.
 *
 * Every statement the program runs is listed in `statements` below and
 * prepared on each new connection; callers name it and pass parameters
 * as separate values (PQexecPrepared), so no SQL is ever assembled from
 * data. The migrations are the only SQL run as plain text, and they are
 * constants of the program.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"
#include "repod.h"

/* Numbered migrations: migrations[i] takes the schema from version i to
 * i + 1. Never edit one that has shipped; add the next. */
static const char *const migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE schema_version (version integer PRIMARY KEY,"
	"  applied_at timestamptz NOT NULL DEFAULT now());"
	/* Small settings: the bins layout, the keys in use, ... */
	"CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);"
	/* One row per artifact: its target entry as JSON text. */
	"CREATE TABLE artifacts (path text PRIMARY KEY,"
	"  bin integer NOT NULL CHECK (bin >= 0),"
	"  entry text NOT NULL,"
	"  task_id text NOT NULL,"
	"  updated_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX artifacts_bin ON artifacts (bin);"
	/* The durable queue. A 202 means a row here was committed. */
	"CREATE TABLE tasks (seq bigserial UNIQUE,"
	"  task_id text PRIMARY KEY,"
	"  action text NOT NULL CHECK (action IN"
	"    ('add_artifacts', 'remove_artifacts', 'publish_artifacts')),"
	"  state text NOT NULL DEFAULT 'PENDING' CHECK (state IN"
	"    ('PENDING', 'RUNNING', 'SUCCESS', 'ERRORED', 'FAILURE')),"
	"  payload text NOT NULL,"
	"  publish boolean NOT NULL,"
	"  token_id bigint,"
	"  result text,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  updated_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX tasks_pending ON tasks (seq) WHERE state = 'PENDING';"
	/* Published metadata, served under /metadata/ by every instance. */
	"CREATE TABLE metadata (role text NOT NULL,"
	"  version bigint NOT NULL CHECK (version >= 1),"
	"  expires timestamptz NOT NULL,"
	"  data text NOT NULL,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  superseded_at timestamptz,"
	"  PRIMARY KEY (role, version));"
	"CREATE INDEX metadata_superseded ON metadata (superseded_at)"
	"  WHERE superseded_at IS NOT NULL;"
	/* Bearer tokens: only the SHA-256 of the secret is kept. */
	"CREATE TABLE tokens (id bigserial PRIMARY KEY,"
	"  hash bytea NOT NULL CHECK (length(hash) = 32),"
	"  scopes text NOT NULL,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  revoked_at timestamptz);"
	/* Bins changed but not yet published (publish_artifacts false). */
	"CREATE TABLE dirty_bins (bin integer PRIMARY KEY);"
	/* The hash-chained audit log and its head. */
	"CREATE TABLE audit_log (seq bigint PRIMARY KEY CHECK (seq >= 0),"
	"  hash text NOT NULL, line text NOT NULL);"
	"CREATE TABLE audit_head (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	"  seq bigint NOT NULL, hash text NOT NULL);"
	"INSERT INTO schema_version (version) VALUES (1);",
	/* 2: what the batched publisher needs. The artifact count of a
	 * task, so that a cycle claims a bounded amount of work without
	 * reading payloads; RUNNING tasks are open work too (a leader that
	 * died left them so). The version in force of each role in a small
	 * table (heads) instead of marking every superseded row, which cost
	 * an UPDATE of the big table per file signed; a version is
	 * superseded when the next one was made, which created_at tells the
	 * garbage collector. lz4 for the big text columns where the server
	 * has it (cheaper than pglz to write). */
	"ALTER TABLE tasks ADD COLUMN artifacts integer NOT NULL DEFAULT 0"
	"  CHECK (artifacts >= 0);"
	"DROP INDEX tasks_pending;"
	"CREATE INDEX tasks_open ON tasks (seq) WHERE state IN ('PENDING', 'RUNNING');"
	"CREATE TABLE heads (role text PRIMARY KEY,"
	"  version bigint NOT NULL CHECK (version >= 1),"
	"  expires timestamptz NOT NULL);"
	"INSERT INTO heads (role, version, expires)"
	"  SELECT DISTINCT ON (role) role, version, expires FROM metadata"
	"  ORDER BY role, version DESC;"
	"DROP INDEX metadata_superseded;"
	"ALTER TABLE metadata DROP COLUMN superseded_at;"
	"CREATE INDEX metadata_created ON metadata (created_at);"
	"DO $$ BEGIN"
	"  ALTER TABLE metadata ALTER COLUMN data SET COMPRESSION lz4;"
	"  ALTER TABLE tasks ALTER COLUMN payload SET COMPRESSION lz4;"
	"  ALTER TABLE audit_log ALTER COLUMN line SET COMPRESSION lz4;"
	"EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL;"
	"END $$;"
	"INSERT INTO schema_version (version) VALUES (2);",
};

#define TS_FMT "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', " TS_FMT ")"
/* The root version the published snapshot and timestamp were made under. */
#define PUBLISHED_ROOT                                                          \
	"coalesce((SELECT value::bigint FROM settings"                          \
	" WHERE key = 'snapshot.root_version'), 1)"

static const struct {
	const char *name;
	const char *sql;
} statements[] = {
	{ "now", "SELECT extract(epoch FROM now())::bigint, " TS("now()") },
	/* The start of a publishing cycle: the time and the newest root and
	 * targets, in one round trip. */
	{ "cycle_start", "SELECT extract(epoch FROM now())::bigint, " TS("now()") ","
			 " (SELECT max(version) FROM metadata WHERE role = 'root'),"
			 " (SELECT max(version) FROM metadata WHERE role = 'targets')" },
	/* For this transaction only: marking tasks RUNNING need not wait
	 * for the disk (a lost mark changes nothing). */
	{ "sync_off", "SELECT set_config('synchronous_commit', 'off', true)" },
	{ "setting_get", "SELECT value FROM settings WHERE key = $1" },
	{ "setting_put", "INSERT INTO settings (key, value) VALUES ($1, $2)"
			 " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value" },
	{ "token_add", "INSERT INTO tokens (hash, scopes) VALUES ($1::bytea, $2) RETURNING id" },
	{ "token_get", "SELECT encode(hash, 'hex'), scopes FROM tokens"
		       " WHERE id = $1::bigint AND revoked_at IS NULL" },
	{ "token_set_hash", "UPDATE tokens SET hash = $2::bytea WHERE id = $1::bigint" },
	{ "token_revoke", "UPDATE tokens SET revoked_at = now() WHERE id = $1::bigint"
			  " AND revoked_at IS NULL" },
	{ "task_add", "INSERT INTO tasks (task_id, action, payload, publish, token_id, artifacts)"
		      " VALUES ($1, $2, $3, $4::boolean, $5::bigint, $6::integer)"
		      " RETURNING " TS("created_at") },
	/* Wakes the leader (LISTEN pawl_repod_tasks) when the task commits. */
	{ "task_notify", "SELECT pg_notify('pawl_repod_tasks', '')" },
	{ "task_get", "SELECT state, result FROM tasks WHERE task_id = $1" },
	/* The open tasks, oldest first, with how long each has waited (ms,
	 * the database's clock): the leader takes a prefix of them that fits
	 * the time it allows the cycle. */
	{ "task_open", "SELECT seq, artifacts,"
		       " (extract(epoch FROM clock_timestamp() - created_at) * 1000)::bigint"
		       " FROM tasks WHERE state IN ('PENDING', 'RUNNING')"
		       " ORDER BY seq LIMIT $1::integer" },
	{ "task_running", "UPDATE tasks SET state = 'RUNNING', updated_at = now()"
			  " WHERE seq = ANY ($1::bigint[]) AND state = 'PENDING'" },
	{ "task_claim", "SELECT seq, task_id, action, payload, publish FROM tasks"
			" WHERE seq = ANY ($1::bigint[]) AND state IN ('PENDING', 'RUNNING')"
			" ORDER BY seq FOR UPDATE" },
	{ "task_finish", "UPDATE tasks SET state = u.state, result = u.result, updated_at = now()"
			 " FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(seq, state, result)"
			 " WHERE tasks.seq = u.seq" },
	{ "task_counts", "SELECT state, count(*) FROM tasks GROUP BY state" },
	{ "art_exist", "SELECT path FROM artifacts WHERE path = ANY ($1::text[])" },
	{ "art_put", "INSERT INTO artifacts (path, bin, entry, task_id)"
		     " SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[])"
		     " ON CONFLICT (path) DO UPDATE"
		     " SET bin = EXCLUDED.bin, entry = EXCLUDED.entry,"
		     " task_id = EXCLUDED.task_id, updated_at = now()" },
	{ "art_del", "DELETE FROM artifacts WHERE path = ANY ($1::text[])" },
	{ "art_bins", "SELECT bin, path, entry FROM artifacts WHERE bin = ANY ($1::integer[])"
		      " ORDER BY bin" },
	{ "dirty_add", "INSERT INTO dirty_bins (bin) SELECT unnest($1::integer[])"
		       " ON CONFLICT DO NOTHING" },
	{ "dirty_take", "DELETE FROM dirty_bins RETURNING bin" },
	{ "meta_newest_version", "SELECT max(version) FROM metadata WHERE role = $1" },
	{ "art_count", "SELECT count(*) FROM artifacts" },
	{ "meta_get", "SELECT data FROM metadata WHERE role = $1 AND version = $2::bigint" },
	/* A root version is served once a timestamp was published under it:
	 * a client that took a newer root earlier would find the timestamp
	 * signed by keys that root no longer names (a rotation of the online
	 * keys) and fail until the leader caught up. */
	{ "meta_get_root", "SELECT data FROM metadata WHERE role = 'root' AND version = $1::bigint"
			   " AND version <= " PUBLISHED_ROOT },
	{ "meta_newest", "SELECT version, data FROM metadata WHERE role = $1"
			 " ORDER BY version DESC LIMIT 1" },
	/* The signed files of the given roles and versions, with the index
	 * (from 1) of each in the arrays. */
	{ "meta_get_many", "SELECT u.i, m.data FROM unnest($1::text[], $2::bigint[])"
			   " WITH ORDINALITY AS u(role, version, i)"
			   " JOIN metadata m ON m.role = u.role AND m.version = u.version" },
	{ "meta_put", "INSERT INTO metadata (role, version, expires, data)"
		      " VALUES ($1, $2::bigint, to_timestamp($3::bigint), $4)" },
	/* The new versions in force; never backwards. */
	{ "heads_put", "INSERT INTO heads (role, version, expires)"
		       " SELECT r, v, to_timestamp(e) FROM"
		       " unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(r, v, e)"
		       " ON CONFLICT (role) DO UPDATE SET version = EXCLUDED.version,"
		       " expires = EXCLUDED.expires WHERE heads.version < EXCLUDED.version" },
	{ "meta_current", "SELECT role, version, extract(epoch FROM expires)::bigint FROM heads" },
	/* A bin, snapshot or timestamp version is dropped once its successor
	 * has been published for keep_versions, so that a client that read
	 * an older timestamp still finds what it names (docs/service.md,
	 * "Keeping old versions"); root and targets versions are kept. */
	{ "meta_gc", "DELETE FROM metadata m WHERE m.role NOT IN ('root', 'targets')"
		     " AND m.created_at < now() - make_interval(secs => $1::bigint)"
		     " AND EXISTS (SELECT 1 FROM metadata n WHERE n.role = m.role"
		     " AND n.version = m.version + 1"
		     " AND n.created_at < now() - make_interval(secs => $1::bigint))" },
	/* export: every version a client may fetch but the timestamps, or
	 * only every root and the versions in force. */
	{ "export_all", "SELECT role, version, data FROM metadata WHERE role <> 'timestamp'"
			" AND (role <> 'root' OR version <= " PUBLISHED_ROOT ")"
			" ORDER BY role, version" },
	{ "export_current", "SELECT m.role, m.version, m.data FROM metadata m"
			    " LEFT JOIN heads h ON h.role = m.role WHERE m.role <> 'timestamp'"
			    " AND ((m.role = 'root' AND m.version <= " PUBLISHED_ROOT ")"
			    " OR (m.role <> 'root' AND m.version = h.version))"
			    " ORDER BY m.role, m.version" },
	{ "lock_try", "SELECT pg_try_advisory_lock(1885435756, 1)" },
	{ "audit_head", "SELECT seq, hash, " TS("now()") " FROM audit_head FOR UPDATE" },
	{ "audit_start", "INSERT INTO audit_head (seq, hash) VALUES (-1, $1)"
			 " ON CONFLICT DO NOTHING" },
	{ "audit_add", "INSERT INTO audit_log (seq, hash, line)"
		       " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])" },
	{ "audit_set", "UPDATE audit_head SET seq = $1::bigint, hash = $2" },
	{ "audit_all", "SELECT seq, hash, line FROM audit_log ORDER BY seq" },
	{ "audit_get_head", "SELECT seq, hash FROM audit_head" },
};

bool db_ok(db *d)
{
	return d && d->c && PQstatus(d->c) == CONNECTION_OK;
}

void db_close(db *d)
{
	if (!d)
		return;
	if (d->c)
		PQfinish(d->c);
	free(d);
}

static int conn_error(PGconn *c, const char *what)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	size_t n = strlen(m);

	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return pawl_error_set(PAWL_E_IO, "PostgreSQL: %s: %.*s", what, (int)n, m);
}

int db_open_raw(db **ret, const char *conninfo)
{
	db *d = xcalloc(1, sizeof(*d));

	if (!d)
		return PAWL_E_NOMEM;
	d->c = PQconnectdb(conninfo);
	if (!d->c || PQstatus(d->c) != CONNECTION_OK) {
		int r = conn_error(d->c, "cannot connect");

		db_close(d);
		return r;
	}
	/* Statements never wait forever for a lock held by a dead client. */
	PGresult *res = PQexec(d->c, "SET lock_timeout = '30s'; SET TIME ZONE 'UTC'");
	PQclear(res);
	*ret = d;
	return 0;
}

static int schema_version(db *d, int *ret)
{
	_cleanup_pq_ PGresult *r = PQexec(d->c, "SELECT to_regclass('schema_version') IS NOT NULL");

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return conn_error(d->c, "reading the schema version");
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		*ret = 0;
		return 0;
	}
	PQclear(r);
	r = PQexec(d->c, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return conn_error(d->c, "reading the schema version");
	{
		int64_t v;

		if (cli_parse_i64(PQgetvalue(r, 0, 0), 0, 999999, &v) < 0)
			return pawl_error_set(PAWL_E_FORMAT, "bad schema version from the "
					      "database: %s", pawl_error_last()->message);
		*ret = (int)v;
	}
	return 0;
}

int db_open(db **ret, const char *conninfo)
{
	_cleanup_db_ db *d = NULL;
	int v;

	GUARD(db_open_raw(&d, conninfo));
	GUARD(schema_version(d, &v));
	ENSURE(v == DB_SCHEMA_VERSION, PAWL_E_UNSUPPORTED,
	       "the database schema is at version %d, this program needs %d: run "
	       "`pawl-repod migrate`%s",
	       v, DB_SCHEMA_VERSION, v > DB_SCHEMA_VERSION ? " from a newer pawl-repod" : "");
	for (size_t i = 0; i < ARRAY_SIZE(statements); i++) {
		_cleanup_pq_ PGresult *r = PQprepare(d->c, statements[i].name, statements[i].sql,
						     0, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return conn_error(d->c, statements[i].name);
	}
	*ret = TAKE_PTR(d);
	return 0;
}

int db_run(db *d, const char *name, int n, const char *const *vals, const int *lens,
	   PGresult **ret)
{
	return db_runv(d, name, n, vals, lens, NULL, ret);
}

int db_runv(db *d, const char *name, int n, const char *const *vals, const int *lens,
	    const int *formats, PGresult **ret)
{
	PGresult *r = PQexecPrepared(d->c, name, n, vals, lens, formats, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(d->c);
		size_t len = strlen(m);

		while (len > 0 && m[len - 1] == '\n')
			len--;
		pawl_error_set(PAWL_E_IO, "PostgreSQL: %s: %.*s", name, (int)len, m);
		PQclear(r);
		return PAWL_E_IO;
	}
	if (ret)
		*ret = r;
	else
		PQclear(r);
	return 0;
}

int db_stream(db *d, const char *name, int n, const char *const *vals,
	      int (*row)(void *ctx, PGresult *res), void *ctx)
{
	PGresult *res;
	int r = 0;
	bool failed = false;

	if (PQsendQueryPrepared(d->c, name, n, vals, NULL, NULL, 0) != 1)
		return conn_error(d->c, name);
	if (PQsetSingleRowMode(d->c) != 1) {
		r = conn_error(d->c, name);
		failed = true;
	}
	/* Every result is read, even after a failure, so that the
	 * connection is ready for the next statement. */
	while ((res = PQgetResult(d->c)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (!failed && st == PGRES_SINGLE_TUPLE) {
			r = row(ctx, res);
			failed = r < 0;
		} else if (!failed && st != PGRES_TUPLES_OK) {
			const char *m = PQresultErrorMessage(res);
			size_t len = strlen(m);

			while (len > 0 && m[len - 1] == '\n')
				len--;
			r = pawl_error_set(PAWL_E_IO, "PostgreSQL: %s: %.*s", name, (int)len, m);
			failed = true;
		}
		PQclear(res);
	}
	return r;
}

int db_run0(db *d, const char *name, PGresult **ret)
{
	return db_run(d, name, 0, NULL, NULL, ret);
}

static int simple(db *d, const char *sql)
{
	_cleanup_pq_ PGresult *r = PQexec(d->c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return conn_error(d->c, sql);
	return 0;
}

/* A statement whose rows do not matter. */
static int simple1(db *d, const char *sql)
{
	_cleanup_pq_ PGresult *r = PQexec(d->c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		return conn_error(d->c, sql);
	return 0;
}

int db_begin(db *d)
{
	return simple(d, "BEGIN");
}

int db_begin_snapshot(db *d)
{
	return simple(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

int db_commit(db *d)
{
	return simple(d, "COMMIT");
}

void db_rollback(db *d)
{
	if (d && d->c && PQtransactionStatus(d->c) != PQTRANS_IDLE) {
		PGresult *r = PQexec(d->c, "ROLLBACK");
		PQclear(r);
	}
}

int db_migrate(db *d, int *ret_from, int *ret_to)
{
	int v, r;

	GUARD(db_begin(d));
	/* One migrating instance at a time. */
	GUARD_GOTO(r, simple1(d, "SELECT pg_advisory_xact_lock(1885435756, 0)"), fail);
	GUARD_GOTO(r, schema_version(d, &v), fail);
	*ret_from = v;
	ENSURE_GOTO(r, v <= (int)ARRAY_SIZE(migrations), PAWL_E_UNSUPPORTED, fail,
		    "the database schema is at version %d, newer than this program knows (%zu)",
		    v, ARRAY_SIZE(migrations));
	for (; v < (int)ARRAY_SIZE(migrations); v++) {
		/* Each migration records its own version. */
		GUARD_GOTO(r, simple(d, migrations[v]), fail);
	}
	GUARD_GOTO(r, db_commit(d), fail);
	*ret_to = v;
	return 0;
fail:
	db_rollback(d);
	return r < 0 ? r : PAWL_E_IO;
}

int db_now(db *d, int64_t *ret, char out[40])
{
	_cleanup_pq_ PGresult *r = NULL;
	int64_t t;

	GUARD(db_run0(d, "now", &r));
	if (cli_parse_i64(PQgetvalue(r, 0, 0), INT64_MIN, INT64_MAX, &t) < 0)
		return pawl_error_set(PAWL_E_FORMAT, "bad time from the database: %s",
				      pawl_error_last()->message);
	*ret = t;
	if (out)
		snprintf(out, 40, "%s", PQgetvalue(r, 0, 1));
	return 0;
}

int db_setting_get(db *d, const char *key, char **ret)
{
	_cleanup_pq_ PGresult *r = NULL;

	GUARD(DB_RUN(d, "setting_get", &r, key));
	if (PQntuples(r) == 0) {
		*ret = NULL;
		return 0;
	}
	*ret = xstrdup(PQgetvalue(r, 0, 0));
	return *ret ? 0 : PAWL_E_NOMEM;
}

int db_setting_put(db *d, const char *key, const char *value)
{
	return DB_RUN(d, "setting_put", NULL, key, value);
}

/* ---------------- array parameters ----------------
 *
 * PostgreSQL's binary array format (array_send/array_recv): a header of
 * big-endian int32s (dimensions, has-nulls flag, element type, then the
 * length and lower bound of the one dimension) and each element as an
 * int32 length and its bytes. Text goes through as it is, with no
 * quoting or escaping to get wrong; array_recv checks the element type
 * against the statement's cast. */

#define DBA_HEADER 20

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void dba_init(db_array *a, uint32_t oid)
{
	a->b = (pawl_buf)PAWL_BUF_INIT((size_t)1 << 30);
	a->n = 0;
	a->oid = oid;
}

void dba_free(db_array *a)
{
	buf_free(&a->b);
}

static int dba_elem(db_array *a, const void *p, size_t len)
{
	uint8_t hdr[4];

	ENSURE(len <= INT32_MAX && a->n < INT32_MAX, PAWL_E_LIMIT, "array element too large");
	if (a->b.len == 0) {
		static const uint8_t zero[DBA_HEADER];

		GUARD(buf_append(&a->b, zero, sizeof(zero)));
	}
	put_be32(hdr, (uint32_t)len);
	GUARD(buf_append(&a->b, hdr, 4));
	GUARD(buf_append(&a->b, p, len));
	a->n++;
	return 0;
}

int dba_text(db_array *a, const char *s, size_t len)
{
	ENSURE(a->oid == DB_OID_TEXT, PAWL_E_INVALID, "not a text array");
	ENSURE(!memchr(s, '\0', len), PAWL_E_INVALID, "text with a NUL byte");
	return dba_elem(a, s, len);
}

int dba_int4(db_array *a, int32_t v)
{
	uint8_t b[4];

	ENSURE(a->oid == DB_OID_INT4, PAWL_E_INVALID, "not an integer array");
	put_be32(b, (uint32_t)v);
	return dba_elem(a, b, 4);
}

int dba_int8(db_array *a, int64_t v)
{
	uint8_t b[8];

	ENSURE(a->oid == DB_OID_INT8, PAWL_E_INVALID, "not a bigint array");
	put_be32(b, (uint32_t)((uint64_t)v >> 32));
	put_be32(b + 4, (uint32_t)v);
	return dba_elem(a, b, 8);
}

int dba_finish(db_array *a, const char **ret, int *ret_len)
{
	uint8_t *h;

	if (a->n == 0) {
		/* No dimensions at all: '{}'. */
		buf_reset(&a->b);
		GUARD(buf_reserve(&a->b, 12));
		memset(a->b.data, 0, 12);
		a->b.len = 12;
		put_be32((uint8_t *)a->b.data + 8, a->oid);
	} else {
		h = (uint8_t *)a->b.data;
		put_be32(h, 1);
		put_be32(h + 4, 0);
		put_be32(h + 8, a->oid);
		put_be32(h + 12, a->n);
		put_be32(h + 16, 1);
	}
	ENSURE(a->b.len <= INT32_MAX, PAWL_E_LIMIT, "array parameter too large");
	*ret = a->b.data;
	*ret_len = (int)a->b.len;
	return 0;
}

/* ---------------- COPY ----------------
 *
 * New metadata files go in with COPY ... FROM STDIN in the binary format:
 * half the server's time of an INSERT from arrays for a few thousand
 * files of kilobytes. The statement is a constant; the rows are data. */

static const char copy_sig[11] = "PGCOPY\n\377\r\n";

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void db_rows_init(db_rows *r)
{
	r->b = (pawl_buf)PAWL_BUF_INIT((size_t)1 << 31);
	r->n = 0;
}

void db_rows_free(db_rows *r)
{
	buf_free(&r->b);
}

static int field(pawl_buf *b, const void *p, size_t len)
{
	uint8_t h[4];

	ENSURE(len <= INT32_MAX, PAWL_E_LIMIT, "field too large");
	put_be32(h, (uint32_t)len);
	GUARD(buf_append(b, h, 4));
	return buf_append(b, p, len);
}

int db_rows_meta(db_rows *r, const char *role, uint64_t version, int64_t expires,
		 const char *data, size_t len)
{
	uint8_t v[8], e[8], n[2];
	/* timestamptz: microseconds since 2000-01-01 UTC. */
	int64_t us = (expires - 946684800) * 1000000;

	ENSURE(!memchr(data, '\0', len) && !memchr(role, '\0', strlen(role)), PAWL_E_INVALID,
	       "text with a NUL byte");
	if (r->b.len == 0) {
		static const uint8_t zero[8];

		GUARD(buf_append(&r->b, copy_sig, sizeof(copy_sig)));
		GUARD(buf_append(&r->b, zero, 8)); /* flags, header extension */
	}
	put_be16(n, 4);
	put_be32(v, (uint32_t)(version >> 32));
	put_be32(v + 4, (uint32_t)version);
	put_be32(e, (uint32_t)((uint64_t)us >> 32));
	put_be32(e + 4, (uint32_t)us);
	GUARD(buf_append(&r->b, n, 2));
	GUARD(field(&r->b, role, strlen(role)));
	GUARD(field(&r->b, v, 8));
	GUARD(field(&r->b, e, 8));
	GUARD(field(&r->b, data, len));
	r->n++;
	return 0;
}

int db_copy_meta(db *d, db_rows *r)
{
	static const uint8_t trailer[2] = { 0xff, 0xff };
	PGresult *res;
	int ok;

	if (r->n == 0)
		return 0;
	GUARD(buf_append(&r->b, trailer, 2));
	res = PQexec(d->c, "COPY metadata (role, version, expires, data) FROM STDIN"
			   " (FORMAT binary)");
	ok = PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	if (!ok)
		return conn_error(d->c, "COPY metadata");
	for (size_t off = 0; off < r->b.len;) {
		size_t n = r->b.len - off > (1u << 20) ? (1u << 20) : r->b.len - off;

		if (PQputCopyData(d->c, r->b.data + off, (int)n) != 1) {
			int e = conn_error(d->c, "COPY metadata");

			(void)PQputCopyEnd(d->c, "aborted");
			while ((res = PQgetResult(d->c)) != NULL)
				PQclear(res);
			return e;
		}
		off += n;
	}
	if (PQputCopyEnd(d->c, NULL) != 1)
		return conn_error(d->c, "COPY metadata");
	ok = 1;
	while ((res = PQgetResult(d->c)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && ok) {
			const char *m = PQresultErrorMessage(res);
			size_t len = strlen(m);

			while (len > 0 && m[len - 1] == '\n')
				len--;
			pawl_error_set(PAWL_E_IO, "PostgreSQL: COPY metadata: %.*s", (int)len, m);
			ok = 0;
		}
		PQclear(res);
	}
	return ok ? 0 : PAWL_E_IO;
}

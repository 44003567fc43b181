/*
 * repod.h - what the files of pawl-repod share (docs/service.md has the
 * whole picture).
 *
 * pawl-repod is a stateless service: PostgreSQL is its only state. Any
 * number of instances answer RSTUF's REST API and serve the metadata;
 * one of them at a time (the holder of a PostgreSQL advisory lock)
 * publishes: it claims accepted tasks, changes the artifacts, re-signs
 * the hash bins that changed, then snapshot and timestamp, and stores
 * the new files and the tasks' results in one transaction.
 *
 * Rules every file keeps:
 *  - SQL is only the fixed statements of db.c, prepared once per
 *    connection and run with PQexecPrepared: no SQL is ever built from
 *    data.
 *  - A request is one transaction; a 202 is sent only after COMMIT.
 *  - Time comes from the database (now()), never from the instance.
 *  - The online keys are read from the files or PKCS#11 URIs the config
 *    names and never written anywhere; tokens are stored as SHA-256 only
 *    and compared with CRYPTO_memcmp.
 *  - Everything returns 0 or a negative pawl_err with the detail in
 *    pawl_error_last(); only main.c and the server's log lines print.
 */
#ifndef PAWL_REPOD_H
#define PAWL_REPOD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "publisher/publisher.h"

#define EXIT_USAGE 2

/* ---------------- config.c ---------------- */

typedef struct repod_config {
	char *database;       /* libpq connection string */
	char *listen_addr;    /* IPv4 address, default 127.0.0.1 */
	uint16_t port;        /* default 8080 */
	unsigned threads;     /* HTTP worker threads, default 4 */
	size_t max_body;      /* bytes, default 4 MiB */
	unsigned max_connections;
	unsigned timeout_s;   /* idle timeout, default 10 */
	unsigned deadline_s;  /* whole request, default 30 */
	/* Online keys, files or pkcs11: URIs: up to ONLINE_KEYS_MAX each
	 * (the setting repeated), so that a rotation can be prepared before
	 * its root is imported; the leader signs with the one the imported
	 * root (snapshot, timestamp) or targets (bins) names. */
#define ONLINE_KEYS_MAX 4
	char *key_bins[ONLINE_KEYS_MAX], *key_snapshot[ONLINE_KEYS_MAX],
		*key_timestamp[ONLINE_KEYS_MAX];
	unsigned nkey_bins, nkey_snapshot, nkey_timestamp;
	char *pin_file, *passphrase_file;
	int64_t expires_bins, expires_snapshot, expires_timestamp; /* seconds */
	unsigned publish_interval_ms; /* shortest time between publications */
	unsigned publish_batch; /* artifacts taken per publication, at most */
	unsigned publish_cycle_ms; /* what a cycle may take, at least (publisher.c) */
	unsigned sign_threads;  /* threads that build and sign bins */
	int64_t keep_versions_s; /* superseded metadata kept this long */
	char *log_level;
} repod_config;

PAWL_MUST_USE int config_load(repod_config *c, const char *path);
void config_free(repod_config *c);

/* ---------------- log (main.c) ---------------- */

/* One line to stderr with the time and the level; never a token or a key. */
void logmsg(const char *level, const char *fmt, ...) PAWL_PRINTF(2, 3);

/* ---------------- db.c ---------------- */

typedef struct db {
	PGconn *c;
} db;

/* Connect, check the schema version is the one this program knows,
 * prepare every statement. */
PAWL_MUST_USE int db_open(db **ret, const char *conninfo);
/* Connect only (for migrate). */
PAWL_MUST_USE int db_open_raw(db **ret, const char *conninfo);
void db_close(db *d);
static inline void db_closep(db **d)
{
	db_close(*d);
}
#define _cleanup_db_ _cleanup_(db_closep)
/* Is the connection still usable? */
bool db_ok(db *d);

/* Run prepared statement name with n text parameters (lens may be NULL
 * for C strings; a NULL value is SQL NULL). *ret (may be NULL) gets the
 * result; PAWL_E_IO with the server's message on failure. */
PAWL_MUST_USE int db_run(db *d, const char *name, int n, const char *const *vals,
			 const int *lens, PGresult **ret);
#define DB_RUN(d, name, res, ...)                                              \
	db_run((d), (name), (int)(sizeof((const char *[]){ __VA_ARGS__ }) /     \
			       sizeof(const char *)),                          \
	       (const char *const[]){ __VA_ARGS__ }, NULL, (res))
PAWL_MUST_USE int db_run0(db *d, const char *name, PGresult **ret);
/* Run a statement whose rows are too many to hold at once: row() gets
 * each (a one-row result it must not free) until it fails. */
PAWL_MUST_USE int db_stream(db *d, const char *name, int n, const char *const *vals,
			    int (*row)(void *ctx, PGresult *res), void *ctx);
/* The same with formats (1 = binary) for each parameter. */
PAWL_MUST_USE int db_runv(db *d, const char *name, int n, const char *const *vals,
			  const int *lens, const int *formats, PGresult **ret);

/* A one-dimensional array parameter in PostgreSQL's binary format, so
 * that a batch of values is one statement: dba_init, one dba_* per
 * element, dba_finish for the value and length to pass with format 1. */
#define DB_OID_INT8 20
#define DB_OID_INT4 23
#define DB_OID_TEXT 25
typedef struct db_array {
	pawl_buf b;
	uint32_t n;
	uint32_t oid;
} db_array;
void dba_init(db_array *a, uint32_t oid);
PAWL_MUST_USE int dba_text(db_array *a, const char *s, size_t len);
PAWL_MUST_USE int dba_int4(db_array *a, int32_t v);
PAWL_MUST_USE int dba_int8(db_array *a, int64_t v);
PAWL_MUST_USE int dba_finish(db_array *a, const char **ret, int *ret_len);
void dba_free(db_array *a);

/* Rows of metadata for db_copy_meta() (COPY in the binary format). */
typedef struct db_rows {
	pawl_buf b;
	size_t n;
} db_rows;
void db_rows_init(db_rows *r);
PAWL_MUST_USE int db_rows_meta(db_rows *r, const char *role, uint64_t version, int64_t expires,
			       const char *data, size_t len);
PAWL_MUST_USE int db_copy_meta(db *d, db_rows *r);
void db_rows_free(db_rows *r);
static inline void dba_freep(db_array *a)
{
	dba_free(a);
}
#define _cleanup_dba_ _cleanup_(dba_freep)
PAWL_MUST_USE int db_begin(db *d);
PAWL_MUST_USE int db_commit(db *d);
/* A read-only transaction that sees one committed state throughout. */
PAWL_MUST_USE int db_begin_snapshot(db *d);
void db_rollback(db *d);
static inline void pqclearp(PGresult **r)
{
	PQclear(*r);
}
#define _cleanup_pq_ _cleanup_(pqclearp)

/* Apply every migration not applied yet (under an advisory lock). */
PAWL_MUST_USE int db_migrate(db *d, int *ret_from, int *ret_to);
#define DB_SCHEMA_VERSION 2

/* The database's clock: seconds since the epoch, and RFC 3339 with
 * microseconds ("2024-01-01T00:00:00.123456Z"). */
PAWL_MUST_USE int db_now(db *d, int64_t *ret, char out[40]);

/* settings: small key/value pairs (bins layout, ...). */
PAWL_MUST_USE int db_setting_get(db *d, const char *key, char **ret);
PAWL_MUST_USE int db_setting_put(db *d, const char *key, const char *value);

/* ---------------- auditdb.c ---------------- */

/* Append one entry to the hash-chained audit log in the database, inside
 * the caller's transaction (it locks the head until COMMIT, so entries
 * are chained in commit order). fields: a JSON object (may be NULL). */
PAWL_MUST_USE int audit_db_append(db *d, const char *type, const pj_value *fields);
/* Many entries in one transaction: open (locks the head), add (chains
 * each entry in memory), close (stores them all with one statement and
 * moves the head); abandon frees a batch that will not be closed. */
/* The longest entry line of the database log (the file log's own limit,
 * AUDIT_LINE_MAX in audit/audit.h, is another and smaller one). */
#define AUDITDB_LINE_MAX ((size_t)64 << 20)
typedef struct audit_batch {
	int64_t seq;
	char hash[65];
	char time[24];
	db_array seqs, hashes, lines;
} audit_batch;
PAWL_MUST_USE int audit_db_open(db *d, audit_batch *b);
PAWL_MUST_USE int audit_db_add(audit_batch *b, const char *type, const pj_value *fields);
PAWL_MUST_USE int audit_db_close(db *d, audit_batch *b);
void audit_db_abandon(audit_batch *b);
/* audit_db_appendf(d, "type", "key", "value", ...) with string values. */
PAWL_MUST_USE int audit_db_kv(db *d, const char *type, size_t n, const char *const *kv);
/* `log verify`: 0 intact, 1 broken (message printed to out). */
int audit_db_verify(db *d, FILE *out);

/* ---------------- token.c ---------------- */

#define TOKEN_SCOPES_MAX 64
typedef struct token_info {
	int64_t id;
	pj_doc *scopes; /* array of prefixes; "*" is every path */
} token_info;
void token_info_free(token_info *t);
/* Check "Bearer ..." value: 0 and *ret, or PAWL_E_SIGNATURE when unknown. */
PAWL_MUST_USE int token_check(db *d, const char *bearer, token_info *ret);
bool token_allows(const token_info *t, const char *path, size_t n);
int cmd_token(const repod_config *c, int argc, char **argv);

/* ---------------- export.c ---------------- */

int cmd_export(const repod_config *c, int argc, char **argv);

/* ---------------- import.c ---------------- */

int cmd_import(const repod_config *c, int argc, char **argv);
/* The newest root and targets in the database, parsed (not re-verified:
 * import verified them). */
PAWL_MUST_USE int load_latest(db *d, const char *role, pawl_md **ret, md_type type);

/* ---------------- publisher.c ---------------- */

typedef struct publisher publisher;
PAWL_MUST_USE int publisher_start(publisher **ret, const repod_config *c);
void publisher_stop(publisher *p);

/* ---------------- http.c ---------------- */

PAWL_MUST_USE int http_serve(const repod_config *c, volatile int *stop);

/* ---------------- keys (main.c) ---------------- */

PAWL_MUST_USE int online_signer(const repod_config *c, const char *arg, pawl_signer **ret);

#endif

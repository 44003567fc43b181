/*
 * http.c - RSTUF's REST API and the /metadata/ tree over libmicrohttpd.
 *
 *   POST /api/v1/artifacts[/]          add artifacts       202 + task
 *   POST /api/v1/artifacts/delete[/]   remove artifacts    202 + task
 *   POST /api/v1/artifacts/publish[/]  publish now         202 + task
 *   GET  /api/v1/task[/]?task_id=T     a task's state      200
 *   GET  /api/v1/bootstrap[/]          is the repository set up        200
 *   GET  /api/v1/config[/]             the settings in RSTUF's names   200
 *   GET  /api/v1/metadata/sign[/]      roles pending signatures (none) 200
 *   GET  /metadata/timestamp.json, /metadata/N.ROLE.json   the TUF files
 *   GET  /healthz                      200 when the database answers
 *
 * RSTUF's other endpoints (its bootstrap, settings updates, metadata
 * rotation and signing, delegations) answer 501 with what to do instead:
 * on this design those are offline ceremonies with pawl-repo, or the
 * instances' config (unsupported[] below, docs/service.md). The three
 * read-only ones above need no token, as in RSTUF: they show only what
 * the published root and targets already say.
 *
 * Limits on everything a peer controls: the body (max_body, 413; a
 * Content-Length over it is refused before a byte is read), the number
 * of request headers (64, 431) and their total size (MHD's connection
 * memory), connections in total, the idle time (MHD's connection
 * timeout) and the whole request (deadline: a body dribbled slowly is
 * cut off with 408 even when each piece arrives in time).
 *
 * Each handler thread has its own PostgreSQL connection; a request that
 * changes anything is one transaction and is answered 202 only after its
 * COMMIT returned. Errors all have one shape, from respond_error():
 *   {"detail": {"message": "<what failed>", "error": "<why>"}}
 * Tokens are checked before the body is read, so an unauthenticated
 * peer cannot make the server buffer anything.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "common/parse.h"
#include "repod.h"
#include "request.h"

#define MAX_HEADERS 64
#define TASK_ID_MAX 64

typedef enum route {
	R_NONE = 0,
	R_ADD,
	R_DELETE,
	R_PUBLISH,
	R_TASK,
	R_METADATA,
	R_HEALTH,
	R_BOOTSTRAP,
	R_CONFIG,
	R_SIGN_PENDING,
	R_UNSUPPORTED,
} route;

/* RSTUF endpoints this service does not have, and why. */
static const struct unsupported {
	const char *method, *path, *why;
} unsupported[] = {
	{ "POST", "/api/v1/bootstrap",
	  "the repository is set up offline: pawl-repo init and bins sign root and targets, "
	  "then `pawl-repod import` loads them (docs/service.md, \"Running it in production\")" },
	{ "PUT", "/api/v1/config",
	  "settings live in each instance's config file (expires.bins, expires.snapshot, "
	  "expires.timestamp) and take effect when the instance restarts" },
	{ "POST", "/api/v1/metadata",
	  "root and targets are rotated offline with pawl-repo and picked up with "
	  "`pawl-repod import` (docs/service.md, \"Rotating keys\")" },
	{ "POST", "/api/v1/metadata/online",
	  "the leader renews bins, snapshot and timestamp before they expire; to publish "
	  "pending changes now, POST /api/v1/artifacts/publish" },
	{ "POST", "/api/v1/metadata/sign",
	  "no role ever waits for signatures here: root and targets are signed offline with "
	  "pawl-repo before they are imported" },
	{ "POST", "/api/v1/metadata/sign/delete",
	  "no role ever waits for signatures here: root and targets are signed offline with "
	  "pawl-repo before they are imported" },
	{ "POST", "/api/v1/delegations",
	  "artifacts are delegated to succinct hash bins fixed at the ceremony (pawl-repo "
	  "bins); custom delegations are not served" },
	{ "PUT", "/api/v1/delegations",
	  "artifacts are delegated to succinct hash bins fixed at the ceremony (pawl-repo "
	  "bins); custom delegations are not served" },
	{ "POST", "/api/v1/delegations/delete",
	  "artifacts are delegated to succinct hash bins fixed at the ceremony (pawl-repo "
	  "bins); custom delegations are not served" },
};

typedef struct reqctx {
	route route;
	struct timespec start;
	pawl_buf body;
	token_info tok;
	const char *why; /* R_UNSUPPORTED: the reason */
	bool authed;
	bool done; /* a response was queued */
} reqctx;

typedef struct server {
	const repod_config *c;
} server;

static __thread db *tl_db;

static db *thread_db(const repod_config *c)
{
	if (tl_db && !db_ok(tl_db)) {
		db_close(tl_db);
		tl_db = NULL;
	}
	if (!tl_db && db_open(&tl_db, c->database) < 0) {
		logmsg("error", "%s", pawl_error_last()->message);
		tl_db = NULL;
	}
	return tl_db;
}

/* After a failed statement the connection may be broken (a restarted
 * server): drop it, the next request reconnects. */
static void thread_db_failed(void)
{
	if (tl_db) {
		db_rollback(tl_db);
		if (!db_ok(tl_db)) {
			db_close(tl_db);
			tl_db = NULL;
		}
	}
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, char *data,
				size_t len, const char *cache)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result r;

	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (cache)
		MHD_add_response_header(resp, "Cache-Control", cache);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result send_pawl_buf(struct MHD_Connection *conn, unsigned status, pawl_buf *b)
{
	char *data;
	size_t len;

	if (buf_steal(b, &data, &len) < 0)
		return MHD_NO;
	return send_buf(conn, status, data, len, "no-store");
}

/* The one error shape. */
static enum MHD_Result respond_error(struct MHD_Connection *conn, reqctx *ctx, unsigned status,
				     const char *message, const char *error)
{
	pawl_buf b = PAWL_BUF_INIT(8192);

	if (ctx)
		ctx->done = true;
	if (buf_puts(&b, "{\"detail\":{\"error\":") < 0 || pj_write_cstr(&b, error) < 0 ||
	    buf_puts(&b, ",\"message\":") < 0 || pj_write_cstr(&b, message) < 0 ||
	    buf_puts(&b, "}}") < 0) {
		buf_free(&b);
		return MHD_NO;
	}
	return send_pawl_buf(conn, status, &b);
}

static enum MHD_Result respond_internal(struct MHD_Connection *conn, reqctx *ctx)
{
	logmsg("error", "%s", pawl_error_last()->message);
	thread_db_failed();
	return respond_error(conn, ctx, 503, "Service unavailable.",
			     "the database is not available; the request was not stored, "
			     "try again");
}

/* url is path, or path with one "/" after it (RSTUF's routes end in "/",
 * its clients send both). */
static bool path_is(const char *url, const char *path)
{
	size_t n = strlen(path);

	return strncmp(url, path, n) == 0 && (url[n] == '\0' || (url[n] == '/' && !url[n + 1]));
}

static bool method_is(const char *method, const char *want)
{
	return strcmp(method, want) == 0 ||
	       (strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

static route route_of(const char *url, const char *method, bool *method_ok, const char **why)
{
	static const struct {
		const char *path;
		route r;
		const char *method;
	} routes[] = {
		{ "/api/v1/artifacts", R_ADD, "POST" },
		{ "/api/v1/artifacts/delete", R_DELETE, "POST" },
		{ "/api/v1/artifacts/publish", R_PUBLISH, "POST" },
		{ "/api/v1/task", R_TASK, "GET" },
		{ "/api/v1/bootstrap", R_BOOTSTRAP, "GET" },
		{ "/api/v1/config", R_CONFIG, "GET" },
		{ "/api/v1/metadata/sign", R_SIGN_PENDING, "GET" },
		{ "/healthz", R_HEALTH, "GET" },
	};
	route found = R_NONE;

	*method_ok = true;
	*why = NULL;
	if (strncmp(url, "/metadata/", 10) == 0) {
		*method_ok = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
		return R_METADATA;
	}
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!path_is(url, routes[i].path))
			continue;
		if (method_is(method, routes[i].method))
			return routes[i].r;
		found = routes[i].r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
		if (!path_is(url, unsupported[i].path))
			continue;
		if (strcmp(method, unsupported[i].method) == 0) {
			*why = unsupported[i].why;
			return R_UNSUPPORTED;
		}
		found = R_UNSUPPORTED;
	}
	/* The path is known, the method is not one it takes. */
	*method_ok = found == R_NONE;
	return found;
}

static enum MHD_Result handle_metadata(struct MHD_Connection *conn, reqctx *ctx,
				       const repod_config *c, const char *url)
{
	const char *name = url + 10;
	_cleanup_pq_ PGresult *res = NULL;
	char role[256], ver[24];
	db *d;
	int r;

	if (strcmp(name, "timestamp.json") == 0) {
		snprintf(role, sizeof(role), "timestamp");
		ver[0] = '\0';
	} else {
		size_t nd = strspn(name, "0123456789");
		size_t len = strlen(name);
		size_t rl;

		if (nd == 0 || nd > 18 || name[nd] != '.' || len < nd + 7 ||
		    strcmp(name + len - 5, ".json") != 0 || name[0] == '0')
			return respond_error(conn, ctx, 404, "Not found.",
					     "metadata is /metadata/timestamp.json or "
					     "/metadata/VERSION.ROLE.json");
		rl = len - 5 - nd - 1;
		if (rl == 0 || rl >= sizeof(role) ||
		    strspn(name + nd + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789-_.") < rl)
			return respond_error(conn, ctx, 404, "Not found.", "no such role");
		memcpy(ver, name, nd);
		ver[nd] = '\0';
		memcpy(role, name + nd + 1, rl);
		role[rl] = '\0';
		if (strcmp(role, "timestamp") == 0)
			return respond_error(conn, ctx, 404, "Not found.",
					     "the timestamp is only /metadata/timestamp.json");
	}
	d = thread_db(c);
	if (!d)
		return respond_internal(conn, ctx);
	if (ver[0] && strcmp(role, "root") == 0)
		r = DB_RUN(d, "meta_get_root", &res, ver);
	else if (ver[0])
		r = DB_RUN(d, "meta_get", &res, role, ver);
	else
		r = DB_RUN(d, "meta_newest", &res, role);
	if (r < 0)
		return respond_internal(conn, ctx);
	if (PQntuples(res) == 0)
		return respond_error(conn, ctx, 404, "Not found.", "no such metadata file");
	{
		int col = ver[0] ? 0 : 1;
		size_t len = (size_t)PQgetlength(res, 0, col);
		char *data = xmalloc(len + 1);

		if (!data)
			return MHD_NO;
		memcpy(data, PQgetvalue(res, 0, col), len);
		ctx->done = true;
		/* Versioned files never change; the timestamp does. */
		return send_buf(conn, 200, data, len,
				ver[0] ? "public, max-age=31536000, immutable" : "no-cache");
	}
}

static int new_task_id(char out[33])
{
	uint8_t b[16];

	ENSURE(RAND_bytes(b, sizeof(b)) == 1, PAWL_E_CRYPTO, "no random bytes");
	hex_encode(out, b, sizeof(b));
	return 0;
}

/* Insert the task and its audit entry, commit. */
static int store_task(db *d, const char *task_id, const char *action, const pawl_buf *payload,
		      bool publish, const token_info *tok, size_t count, char when[40])
{
	_cleanup_pq_ PGresult *res = NULL;
	char tokid[24], n[24], sha[65];
	uint8_t dg[HASH_MAX_LEN];
	int r;

	snprintf(tokid, sizeof(tokid), "%" PRId64, tok->id);
	snprintf(n, sizeof(n), "%zu", count);
	GUARD(hash_once(HASH_SHA256, payload->data, payload->len, dg));
	hex_encode(sha, dg, 32);
	GUARD(db_begin(d));
	GUARD_GOTO(r, DB_RUN(d, "task_add", &res, task_id, action, payload->data,
			     publish ? "true" : "false", tokid, n), fail);
	snprintf(when, 40, "%s", PQgetvalue(res, 0, 0));
	GUARD_GOTO(r, audit_db_kv(d, "task.accepted", 10,
				  (const char *const[]){ "task_id", task_id, "action", action,
							 "artifacts", n, "token", tokid,
							 "payload_sha256", sha }),
		   fail);
	/* Delivered at COMMIT: the leader starts a cycle at once. */
	GUARD_GOTO(r, db_run0(d, "task_notify", NULL), fail);
	GUARD_GOTO(r, db_commit(d), fail);
	return 0;
fail:
	db_rollback(d);
	return r;
}

static enum MHD_Result accepted(struct MHD_Connection *conn, reqctx *ctx, const rq_request *rq,
				const char *task_id, const char *when, const char *message)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	int r;

	r = buf_puts(&b, "{\"data\":{\"artifacts\":[");
	for (size_t i = 0; r == 0 && rq && i < rq->n; i++) {
		if (i)
			r = buf_putc(&b, ',');
		if (r == 0)
			r = pj_write_cstr(&b, rq->v[i].path);
	}
	if (r == 0)
		r = buf_printf(&b, "],\"last_update\":\"%s\",\"task_id\":\"%s\"},\"message\":",
			       when, task_id);
	if (r == 0)
		r = pj_write_cstr(&b, message);
	if (r == 0)
		r = buf_putc(&b, '}');
	if (r < 0) {
		buf_free(&b);
		return MHD_NO;
	}
	ctx->done = true;
	return send_pawl_buf(conn, 202, &b);
}

static enum MHD_Result handle_change(struct MHD_Connection *conn, reqctx *ctx,
				     const repod_config *c)
{
	rq_request rq = { 0 };
	pawl_buf payload = PAWL_BUF_INIT((size_t)64 << 20);
	char task_id[33], when[40], *body;
	const char *action, *message;
	enum MHD_Result ret;
	size_t len = ctx->body.len;
	db *d;
	int r = 0;

	if (ctx->route == R_PUBLISH) {
		action = "publish_artifacts";
		message = "Publish artifacts successfully submitted.";
	} else {
		body = xmalloc(len + 1);
		if (!body)
			return MHD_NO;
		memcpy(body, ctx->body.data ? ctx->body.data : "", len);
		body[len] = '\0';
		if (ctx->route == R_ADD)
			r = rq_parse_add(&rq, body, len);
		else
			r = rq_parse_delete(&rq, body, len);
		if (r < 0)
			return respond_error(conn, ctx, r == PAWL_E_FORMAT ? 400 : 422,
					     "Invalid request.", pawl_error_last()->message);
		for (size_t i = 0; i < rq.n; i++) {
			if (!token_allows(&ctx->tok, rq.v[i].path, rq.v[i].pathlen)) {
				char msg[RQ_PATH_MAX + 128];

				snprintf(msg, sizeof(msg),
					 "the token may not change \"%s\": it is outside the "
					 "token's scopes; nothing was stored",
					 rq.v[i].path);
				rq_free(&rq);
				return respond_error(conn, ctx, 403, "Forbidden.", msg);
			}
		}
		if (ctx->route == R_ADD) {
			action = "add_artifacts";
			message = rq.publish ? "New Artifact(s) successfully submitted."
					     : "New Artifact(s) successfully submitted. "
					       "Publishing will be skipped.";
		} else {
			action = "remove_artifacts";
			message = rq.publish ? "Remove Artifact(s) successfully submitted."
					     : "Remove Artifact(s) successfully submitted. "
					       "Publishing will be skipped.";
		}
	}
	if (new_task_id(task_id) < 0) {
		rq_free(&rq);
		return respond_internal(conn, ctx);
	}
	/* The payload the publisher applies: {"artifacts":[{"info":ENTRY,
	 * "path":P}...]} for adds, {"artifacts":[P...]} for removals. */
	r = buf_puts(&payload, "{\"artifacts\":[");
	for (size_t i = 0; r == 0 && i < rq.n; i++) {
		if (i)
			r = buf_putc(&payload, ',');
		if (r == 0 && ctx->route == R_ADD) {
			_cleanup_free_ char *entry = NULL;
			size_t elen;

			r = rq_entry_json(&rq.v[i], rq.add_task_id_to_custom ? task_id : NULL,
					  &entry, &elen);
			if (r == 0)
				r = buf_printf(&payload, "{\"info\":%s,\"path\":", entry);
			if (r == 0)
				r = pj_write_cstr(&payload, rq.v[i].path);
			if (r == 0)
				r = buf_putc(&payload, '}');
		} else if (r == 0) {
			r = pj_write_cstr(&payload, rq.v[i].path);
		}
	}
	if (r == 0)
		r = buf_puts(&payload, "]}");
	d = r == 0 ? thread_db(c) : NULL;
	if (!d || store_task(d, task_id, action, &payload,
			     ctx->route == R_PUBLISH ? true : rq.publish, &ctx->tok, rq.n,
			     when) < 0) {
		buf_free(&payload);
		rq_free(&rq);
		return respond_internal(conn, ctx);
	}
	buf_free(&payload);
	ret = accepted(conn, ctx, ctx->route == R_PUBLISH ? NULL : &rq, task_id, when, message);
	rq_free(&rq);
	return ret;
}

static enum MHD_Result handle_task(struct MHD_Connection *conn, reqctx *ctx,
				   const repod_config *c)
{
	const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "task_id");
	_cleanup_pq_ PGresult *res = NULL;
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	db *d;
	int r;

	if (!id || !*id || strlen(id) > TASK_ID_MAX ||
	    strspn(id, "0123456789abcdefABCDEF-") != strlen(id))
		return respond_error(conn, ctx, 422, "Invalid request.",
				     "task_id: a task id is required");
	d = thread_db(c);
	if (!d || DB_RUN(d, "task_get", &res, id) < 0)
		return respond_internal(conn, ctx);
	/* As RSTUF (Celery's AsyncResult): an id it has no result for is
	 * PENDING, known or not, and a field without a value is left out. */
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 1))
		r = buf_printf(&b, "{\"data\":{\"state\":\"%s\",\"task_id\":\"%s\"},"
				   "\"message\":\"Task state.\"}",
			       PQntuples(res) ? PQgetvalue(res, 0, 0) : "PENDING", id);
	else
		r = buf_printf(&b, "{\"data\":{\"result\":%s,\"state\":\"%s\",\"task_id\":\"%s\"},"
				   "\"message\":\"Task state.\"}",
			       PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), id);
	if (r < 0) {
		buf_free(&b);
		return MHD_NO;
	}
	ctx->done = true;
	return send_pawl_buf(conn, 200, &b);
}

/* Does the database hold an imported root (and has a timestamp been
 * published under it)? RSTUF's bootstrap states: none, "pre" (under way:
 * imported, first publication not out yet), "finished". */
static int bootstrap_state(db *d, pj_doc **root, pj_doc **targets, const char **state)
{
	_cleanup_pq_ PGresult *r = NULL, *t = NULL, *ts = NULL;

	*root = *targets = NULL;
	*state = NULL;
	GUARD(DB_RUN(d, "meta_newest", &r, "root"));
	if (PQntuples(r) == 0)
		return 0;
	GUARD(DB_RUN(d, "meta_newest", &t, "targets"));
	GUARD(DB_RUN(d, "meta_newest", &ts, "timestamp"));
	*state = PQntuples(t) && PQntuples(ts) ? "finished" : "pre";
	GUARD(pj_parse_copy(root, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), NULL));
	if (PQntuples(t) &&
	    pj_parse_copy(targets, PQgetvalue(t, 0, 1), (size_t)PQgetlength(t, 0, 1), NULL) < 0) {
		pj_doc_free(*root);
		*root = NULL;
		return pawl_error_last()->code;
	}
	return 0;
}

/* "ROLE_threshold":N,"ROLE_num_keys":N, from a role entry with keyids
 * and threshold (root's roles, targets' succinct_roles). */
static int put_role(pawl_buf *b, const char *role, const pj_value *entry)
{
	const pj_value *thr = pj_get(entry, "threshold"), *ids = pj_get(entry, "keyids");

	if (!pj_is_int(thr) || !pj_is_array(ids))
		return 0;
	return buf_printf(b, ",\"%s_num_keys\":%u,\"%s_threshold\":%" PRId64, role, ids->len,
			  role, thr->u.i);
}

/* RSTUF counts expirations in days; a period that is not whole days is
 * given as a fraction. */
static int put_expiration(pawl_buf *b, const char *role, int64_t seconds)
{
	if (seconds % 86400 == 0)
		return buf_printf(b, ",\"%s_expiration\":%" PRId64, role, seconds / 86400);
	return buf_printf(b, ",\"%s_expiration\":%.6g", role, (double)seconds / 86400.0);
}

/* GET /api/v1/bootstrap, /api/v1/config, /api/v1/metadata/sign: RSTUF's
 * read-only endpoints, with RSTUF's shapes and messages. */
static enum MHD_Result handle_rstuf_read(struct MHD_Connection *conn, reqctx *ctx,
					 const repod_config *c)
{
	_cleanup_pj_doc_ pj_doc *root = NULL;
	_cleanup_pj_doc_ pj_doc *targets = NULL;
	pawl_buf b = PAWL_BUF_INIT(1 << 20);
	const char *state;
	db *d = thread_db(c);
	int r = 0;

	if (!d || bootstrap_state(d, &root, &targets, &state) < 0)
		return respond_internal(conn, ctx);
	if (ctx->route == R_BOOTSTRAP) {
		bool done = state && strcmp(state, "finished") == 0;

		r = buf_puts(&b, done ? "{\"data\":{\"bootstrap\":true" : "{\"data\":{\"bootstrap\":false");
		if (r == 0 && state)
			r = buf_printf(&b, ",\"state\":\"%s\"", state);
		if (r == 0)
			r = buf_printf(&b, "},\"message\":\"%s\"}",
				       state ? "System LOCKED for bootstrap."
					     : "System available for bootstrap.");
	} else if (!state || strcmp(state, "finished") != 0) {
		char err[128];

		buf_free(&b);
		snprintf(err, sizeof(err), "It requires bootstrap. State: %s", state ? state : "None");
		return respond_error(conn, ctx, 404,
				     ctx->route == R_CONFIG ? "No Repository Settings/Config found."
							    : "No metadata pending signing available",
				     err);
	} else if (ctx->route == R_SIGN_PENDING) {
		/* Nothing is ever pending: RSTUF leaves "data" out then. */
		r = buf_puts(&b, "{\"message\":\"No metadata pending signing available\"}");
	} else {
		const pj_value *roles = pj_get(pj_get(pj_root(root), "signed"), "roles");
		const pj_value *sr = pj_get(
			pj_get(pj_get(pj_root(targets), "signed"), "delegations"), "succinct_roles");
		const pj_value *bits = pj_get(sr, "bit_length");
		static const char *const top[] = { "root", "snapshot", "targets", "timestamp" };

		size_t at;

		/* Each item is written with a comma before it; the first one's
		 * goes afterwards. */
		r = buf_puts(&b, "{\"data\":{");
		at = b.len;
		if (r == 0)
			r = put_expiration(&b, "bins", c->expires_bins);
		if (r == 0)
			r = put_role(&b, "bins", sr);
		if (r == 0 && pj_is_int(bits) && bits->u.i >= 1 && bits->u.i <= 32)
			r = buf_printf(&b, ",\"number_of_delegated_bins\":%" PRIu64,
				       (uint64_t)1 << bits->u.i);
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(top); i++)
			r = put_role(&b, top[i], pj_get(roles, top[i]));
		if (r == 0)
			r = put_expiration(&b, "snapshot", c->expires_snapshot);
		if (r == 0)
			r = put_expiration(&b, "timestamp", c->expires_timestamp);
		if (r == 0)
			r = buf_puts(&b, ",\"targets_online_key\":false");
		if (r == 0) {
			memmove(b.data + at, b.data + at + 1, b.len - at - 1);
			b.len--;
		}
		if (r == 0)
			r = buf_puts(&b, "},\"message\":\"Current Settings\"}");
	}
	if (r < 0) {
		buf_free(&b);
		return MHD_NO;
	}
	ctx->done = true;
	return send_pawl_buf(conn, 200, &b);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	const server *s = cls;
	const repod_config *c = s->c;
	reqctx *ctx = *con_cls;

	if (!ctx) {
		bool method_ok;
		const char *cl;

		ctx = xcalloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		clock_gettime(CLOCK_MONOTONIC, &ctx->start);
		ctx->body = (pawl_buf)PAWL_BUF_INIT(c->max_body);
		if (MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL) > MAX_HEADERS)
			return respond_error(conn, ctx, 431, "Too many headers.",
					     "a request may have at most 64 headers");
		ctx->route = route_of(url, method, &method_ok, &ctx->why);
		if (ctx->route == R_NONE)
			return respond_error(conn, ctx, 404, "Not found.", "no such endpoint");
		if (!method_ok)
			return respond_error(conn, ctx, 405, "Method not allowed.",
					     "this endpoint does not take that method");
		/* Nothing is read or stored: say so at once. */
		if (ctx->route == R_UNSUPPORTED)
			return respond_error(conn, ctx, 501, "Not implemented by pawl-repod.",
					     ctx->why);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl) {
			uint64_t v = 0;

			/* A malformed length is libmicrohttpd's to refuse. */
			if (cli_parse_u64(cl, 0, UINT64_MAX, &v) < 0)
				pawl_error_clear();
			else if (v > c->max_body)
				return respond_error(conn, ctx, 413, "Payload too large.",
						     "the body is larger than the service "
						     "accepts (max_body)");
		}
		if (ctx->route != R_METADATA && ctx->route != R_HEALTH &&
		    ctx->route != R_BOOTSTRAP && ctx->route != R_CONFIG &&
		    ctx->route != R_SIGN_PENDING) {
			const char *auth =
				MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
			db *d;
			int r;

			if (!auth)
				return respond_error(conn, ctx, 401, "Unauthorized.",
						     "an Authorization: Bearer token is required");
			d = thread_db(c);
			if (!d)
				return respond_internal(conn, ctx);
			r = token_check(d, auth, &ctx->tok);
			if (r == PAWL_E_SIGNATURE)
				return respond_error(conn, ctx, 401, "Unauthorized.",
						     "the token is not valid");
			if (r < 0)
				return respond_internal(conn, ctx);
			ctx->authed = true;
		}
		return MHD_YES;
	}
	if (ctx->done) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (elapsed(&ctx->start) > c->deadline_s) {
		*upload_data_size = 0;
		return respond_error(conn, ctx, 408, "Request timeout.",
				     "the request took longer than the service allows");
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (ctx->route != R_ADD && ctx->route != R_DELETE && ctx->route != R_PUBLISH)
			return MHD_YES; /* a body on GET is ignored */
		if (buf_append(&ctx->body, upload_data, n) < 0)
			return respond_error(conn, ctx, 413, "Payload too large.",
					     "the body is larger than the service accepts "
					     "(max_body)");
		return MHD_YES;
	}
	switch (ctx->route) {
	case R_ADD:
	case R_DELETE:
	case R_PUBLISH:
		return handle_change(conn, ctx, c);
	case R_TASK:
		return handle_task(conn, ctx, c);
	case R_METADATA:
		return handle_metadata(conn, ctx, c, url);
	case R_BOOTSTRAP:
	case R_CONFIG:
	case R_SIGN_PENDING:
		return handle_rstuf_read(conn, ctx, c);
	case R_UNSUPPORTED:
		return respond_error(conn, ctx, 501, "Not implemented by pawl-repod.", ctx->why);
	case R_HEALTH: {
		db *d = thread_db(c);
		char when[40];
		int64_t now;
		pawl_buf b = PAWL_BUF_INIT(256);

		if (!d || db_now(d, &now, when) < 0)
			return respond_internal(conn, ctx);
		if (buf_printf(&b, "{\"status\":\"ok\",\"time\":\"%s\"}", when) < 0) {
			buf_free(&b);
			return MHD_NO;
		}
		ctx->done = true;
		return send_pawl_buf(conn, 200, &b);
	}
	case R_NONE:
		break;
	}
	return respond_error(conn, ctx, 404, "Not found.", "no such endpoint");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	reqctx *ctx = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!ctx)
		return;
	buf_free(&ctx->body);
	token_info_free(&ctx->tok);
	free(ctx);
	*con_cls = NULL;
}

int http_serve(const repod_config *c, volatile int *stop)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *daemon;
	server s = { c };

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(c->port);
	ENSURE(inet_pton(AF_INET, c->listen_addr, &sa.sin_addr) == 1, PAWL_E_INVALID,
	       "listen: \"%s\" is not an IPv4 address", c->listen_addr);
	daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, c->port, NULL, NULL, on_request,
		&s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned int)c->threads, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)c->timeout_s, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)c->max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_END);
	ENSURE(daemon, PAWL_E_IO, "cannot listen on %s:%u", c->listen_addr, (unsigned)c->port);
	logmsg("info", "listening on http://%s:%u/", c->listen_addr, (unsigned)c->port);
	while (!*stop) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(daemon);
	return 0;
}

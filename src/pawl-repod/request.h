/*
 * request.h - the bodies of RSTUF's artifact requests, parsed and
 * validated before anything touches the database.
 *
 * This is the one place where a peer's bytes become artifacts. It uses
 * only libpawl (no libpq, no libmicrohttpd), so the fuzzer links it
 * alone (tests/fuzz/fuzz_rstuf_request.c).
 *
 * Guarantees of rq_parse_add() / rq_parse_delete():
 *  - the body is parsed by pj_parse with tight limits (depth, string and
 *    container sizes), so malformed or hostile JSON never gets further;
 *  - every artifact has a path that is 1..RQ_PATH_MAX bytes of UTF-8
 *    with no NUL or other control character, no leading '/', no empty,
 *    "." or ".." segment and no trailing '/';
 *  - "info.length" is an integer 0..RQ_LENGTH_MAX;
 *  - "info.hashes" holds only sha256 and/or sha512, each exactly 64/128
 *    hex digits (stored lower case), at least one of them;
 *  - "info.custom", when present and not null, is an object whose
 *    written form is at most RQ_CUSTOM_MAX bytes;
 *  - no path appears twice in one request;
 *  - 1..RQ_ARTIFACTS_MAX artifacts.
 * On failure nothing is returned and the code says which HTTP status
 * applies: PAWL_E_FORMAT (the body is not JSON: 400) or PAWL_E_INVALID
 * (it is JSON but not a valid request: 422), with the detail in
 * pawl_error_last() naming the artifact index and field.
 */
#ifndef PAWL_REPOD_REQUEST_H
#define PAWL_REPOD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "publisher/publisher.h"

#define RQ_PATH_MAX 1024
#define RQ_ARTIFACTS_MAX 10000
/* 16 TiB: larger "lengths" are mistakes or attacks, not artifacts. */
#define RQ_LENGTH_MAX ((int64_t)1 << 44)
#define RQ_CUSTOM_MAX 16384

typedef struct rq_artifact {
	const char *path; /* NUL-terminated, validated; points into the doc */
	size_t pathlen;
	uint64_t length;
	char sha256[65]; /* "" when absent */
	char sha512[129];
	const pj_value *custom; /* an object, or NULL */
} rq_artifact;

typedef struct rq_request {
	pj_doc *doc;
	rq_artifact *v;
	size_t n;
	bool publish;               /* "publish_artifacts", default true */
	bool add_task_id_to_custom; /* add requests only */
} rq_request;

/* POST /api/v1/artifacts body. Takes ownership of body (malloc'd, room
 * for len + 1 bytes), like pj_parse. */
PAWL_MUST_USE int rq_parse_add(rq_request *ret, char *body, size_t len);
/* POST /api/v1/artifacts/delete body: {"artifacts": [PATH, ...]}. */
PAWL_MUST_USE int rq_parse_delete(rq_request *ret, char *body, size_t len);
void rq_free(rq_request *r);

/* The path rules above; PAWL_E_INVALID with the reason. */
PAWL_MUST_USE int rq_check_path(const char *p, size_t n);

/* The succinct hash bin (TAP 15) of path: the first bits of
 * sha256(path), bits 1..32. */
PAWL_MUST_USE int rq_bin_of(const char *path, size_t n, uint32_t bits, uint32_t *ret);

/* The target entry stored for an artifact and put into its bin:
 * {"custom"?, "hashes", "length"} as JSON text (control characters
 * escaped, sorted keys), malloc'd. task_id, when not NULL, is added to
 * custom as "added_by_task_id" (RSTUF's add_task_id_to_custom). */
PAWL_MUST_USE int rq_entry_json(const rq_artifact *a, const char *task_id, char **ret,
				size_t *ret_len);

#endif

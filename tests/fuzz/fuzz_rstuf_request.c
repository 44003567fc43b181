/*
 * fuzz_rstuf_request.c - the parser and validator of RSTUF request bodies
 * (src/pawl-repod/request.c), which reads every byte a publisher's CI
 * sends before anything reaches the database.
 *
 * The first byte picks the parser (add or delete); the rest is the body.
 * Properties checked on every input:
 *  - failure is PAWL_E_FORMAT (not JSON) or PAWL_E_INVALID (not a valid
 *    request), nothing else but PAWL_E_NOMEM;
 *  - on success every path passes rq_check_path() on its own, no two are
 *    equal, lengths are in range, hashes are lower-case hex of the right
 *    size with at least one present, custom is an object, and the entry
 *    written for each artifact parses back with the same length;
 *  - a path check agrees with an independent restatement of the rules.
 * Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/pawl-repod/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_hex_lower(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The path rules, said again segment by segment. */
static bool path_ok(const char *p, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > RQ_PATH_MAX || p[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == 0xc2 && i + 1 < n && (unsigned char)p[i + 1] >= 0x80 &&
		    (unsigned char)p[i + 1] <= 0x9f)
			return false;
	}
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			size_t len = i - start;

			if (len == 0 || (len == 1 && p[start] == '.') ||
			    (len == 2 && p[start] == '.' && p[start + 1] == '.'))
				return false;
			start = i + 1;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rq_request rq;
	char *body;
	bool del;
	int r;

	if (size == 0)
		return 0;
	del = data[0] & 1;
	if ((bool)(rq_check_path((const char *)data + 1, size - 1) == 0) !=
	    path_ok((const char *)data + 1, size - 1))
		abort();
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	r = del ? rq_parse_delete(&rq, body, size - 1) : rq_parse_add(&rq, body, size - 1);
	if (r < 0) {
		if (r != PAWL_E_FORMAT && r != PAWL_E_INVALID && r != PAWL_E_NOMEM)
			abort();
		return 0;
	}
	if (rq.n == 0 || rq.n > RQ_ARTIFACTS_MAX)
		abort();
	for (size_t i = 0; i < rq.n; i++) {
		const rq_artifact *a = &rq.v[i];

		if (rq_check_path(a->path, a->pathlen) != 0 || !path_ok(a->path, a->pathlen))
			abort();
		for (size_t j = 0; j < i; j++)
			if (rq.v[j].pathlen == a->pathlen &&
			    memcmp(rq.v[j].path, a->path, a->pathlen) == 0)
				abort();
		if (del)
			continue;
		if ((int64_t)a->length < 0 || (int64_t)a->length > RQ_LENGTH_MAX)
			abort();
		if (!a->sha256[0] && !a->sha512[0])
			abort();
		if ((a->sha256[0] && !is_hex_lower(a->sha256, 64)) ||
		    (a->sha512[0] && !is_hex_lower(a->sha512, 128)))
			abort();
		if (a->custom && !pj_is_object(a->custom))
			abort();
		{
			char *entry = NULL;
			size_t elen;
			pj_doc *doc = NULL;

			if (rq_entry_json(a, i % 2 ? "0123456789abcdef0123456789abcdef" : NULL,
					  &entry, &elen) == 0) {
				const pj_value *len;

				if (pj_parse_copy(&doc, entry, elen, NULL) != 0)
					abort();
				len = pj_get(pj_root(doc), "length");
				if (!pj_is_int(len) || (uint64_t)len->u.i != a->length)
					abort();
				pj_doc_free(doc);
			}
			free(entry);
		}
	}
	rq_free(&rq);
	return 0;
}

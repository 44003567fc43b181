/*
 * request.c - parsing and validating RSTUF artifact request bodies (see
 * request.h for the rules). Nothing here allocates more than the limits
 * allow, and a request is either returned whole and valid or not at all.
 */
#include <stdio.h>
#include <string.h>

#include "request.h"

/* Tight limits: a request is a list of small objects. The container
 * limit leaves room for RQ_ARTIFACTS_MAX so that the count check below
 * gives the clearer message. */
static const pj_limits rq_limits = { 16, 64 * 1024, RQ_ARTIFACTS_MAX + 1 };

void rq_free(rq_request *r)
{
	if (!r)
		return;
	pj_doc_free(r->doc);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int rq_check_path(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t seg = 0;

	ENSURE(n > 0, PAWL_E_INVALID, "the path is empty");
	ENSURE(n <= RQ_PATH_MAX, PAWL_E_INVALID, "the path is longer than %d bytes", RQ_PATH_MAX);
	ENSURE(p[0] != '/', PAWL_E_INVALID, "the path starts with '/'");
	ENSURE(p[n - 1] != '/', PAWL_E_INVALID, "the path ends with '/'");
	for (size_t i = 0; i < n; i++) {
		ENSURE(u[i] != 0, PAWL_E_INVALID, "the path contains a NUL byte");
		ENSURE(u[i] >= 0x20 && u[i] != 0x7f, PAWL_E_INVALID,
		       "the path contains a control character");
		/* C1 controls (U+0080..U+009F) are C2 80..C2 9F in UTF-8. */
		ENSURE(!(u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f),
		       PAWL_E_INVALID, "the path contains a control character");
		if (u[i] == '/' || i + 1 == n) {
			size_t end = u[i] == '/' ? i : i + 1;
			size_t len = end - seg;

			ENSURE(len > 0, PAWL_E_INVALID, "the path has an empty segment (\"//\")");
			ENSURE(!(len == 1 && p[seg] == '.'), PAWL_E_INVALID,
			       "the path has a \".\" segment");
			ENSURE(!(len == 2 && p[seg] == '.' && p[seg + 1] == '.'), PAWL_E_INVALID,
			       "the path has a \"..\" segment");
			seg = i + 1;
		}
	}
	return 0;
}

int rq_bin_of(const char *path, size_t n, uint32_t bits, uint32_t *ret)
{
	uint8_t d[HASH_MAX_LEN];
	uint32_t v;

	ENSURE(bits >= 1 && bits <= 32, PAWL_E_INVALID, "bad bin bit length %u", bits);
	GUARD(hash_once(HASH_SHA256, path, n, d));
	v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	*ret = bits == 32 ? v : v >> (32 - bits);
	return 0;
}

static int check_hex(const pj_value *v, size_t want, char *out, size_t idx, const char *alg)
{
	ENSURE(pj_is_string(v), PAWL_E_INVALID, "artifacts[%zu].info.hashes.%s: not a string",
	       idx, alg);
	ENSURE(v->len == want, PAWL_E_INVALID,
	       "artifacts[%zu].info.hashes.%s: %zu hex digits expected, got %u", idx, alg, want,
	       v->len);
	for (size_t i = 0; i < want; i++) {
		char c = v->u.s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		ENSURE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), PAWL_E_INVALID,
		       "artifacts[%zu].info.hashes.%s: not hex", idx, alg);
		out[i] = c;
	}
	out[want] = '\0';
	return 0;
}

static int parse_info(rq_artifact *a, const pj_value *info, size_t idx)
{
	const pj_value *len, *hashes, *custom;

	ENSURE(pj_is_object(info), PAWL_E_INVALID, "artifacts[%zu].info: an object is required",
	       idx);
	len = pj_get(info, "length");
	ENSURE(pj_is_int(len), PAWL_E_INVALID, "artifacts[%zu].info.length: an integer is required",
	       idx);
	ENSURE(len->u.i >= 0, PAWL_E_INVALID, "artifacts[%zu].info.length: negative", idx);
	ENSURE(len->u.i <= RQ_LENGTH_MAX, PAWL_E_INVALID,
	       "artifacts[%zu].info.length: more than %lld bytes", idx,
	       (long long)RQ_LENGTH_MAX);
	a->length = (uint64_t)len->u.i;

	hashes = pj_get(info, "hashes");
	ENSURE(pj_is_object(hashes) && hashes->len > 0, PAWL_E_INVALID,
	       "artifacts[%zu].info.hashes: a non-empty object is required", idx);
	for (uint32_t i = 0; i < hashes->len; i++) {
		const pj_member *m = &hashes->u.members[i];

		if (strcmp(m->key, "sha256") == 0 && m->klen == 6)
			GUARD(check_hex(&m->value, 64, a->sha256, idx, "sha256"));
		else if (strcmp(m->key, "sha512") == 0 && m->klen == 6)
			GUARD(check_hex(&m->value, 128, a->sha512, idx, "sha512"));
		else
			return pawl_error_set(PAWL_E_INVALID,
					      "artifacts[%zu].info.hashes: unsupported hash "
					      "algorithm (sha256 and sha512 are accepted)",
					      idx);
	}

	custom = pj_get(info, "custom");
	if (custom && pj_typeof(custom) != PJ_NULL) {
		pawl_buf b = PAWL_BUF_INIT(RQ_CUSTOM_MAX);
		int r;

		ENSURE(pj_is_object(custom), PAWL_E_INVALID,
		       "artifacts[%zu].info.custom: an object is required", idx);
		r = pj_write(&b, custom, false);
		buf_free(&b);
		ENSURE(r == 0, PAWL_E_INVALID, "artifacts[%zu].info.custom: more than %d bytes",
		       idx, RQ_CUSTOM_MAX);
		a->custom = custom;
	}
	return 0;
}

static int cmp_path(const void *x, const void *y)
{
	const rq_artifact *a = *(rq_artifact *const *)x, *b = *(rq_artifact *const *)y;
	size_t n = a->pathlen < b->pathlen ? a->pathlen : b->pathlen;
	int c = memcmp(a->path, b->path, n);

	return c ? c : (a->pathlen > b->pathlen) - (a->pathlen < b->pathlen);
}

static int check_dupes(const rq_request *r)
{
	_cleanup_free_ rq_artifact **s = NULL;

	if (r->n < 2)
		return 0;
	s = xreallocarray(NULL, r->n, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < r->n; i++)
		s[i] = &r->v[i];
	qsort(s, r->n, sizeof(*s), cmp_path);
	for (size_t i = 1; i < r->n; i++)
		ENSURE(cmp_path(&s[i - 1], &s[i]) != 0, PAWL_E_INVALID,
		       "the path \"%.200s\" appears more than once", s[i]->path);
	return 0;
}

static int get_bool(const pj_value *root, const char *key, bool dflt, bool *out)
{
	const pj_value *v = pj_get(root, key);

	*out = dflt;
	if (!v || pj_typeof(v) == PJ_NULL)
		return 0;
	ENSURE(pj_is_bool(v), PAWL_E_INVALID, "%s: true or false is required", key);
	*out = pj_typeof(v) == PJ_TRUE;
	return 0;
}

static int parse_common(rq_request *r, char *body, size_t len, const pj_value **ret_arr)
{
	const pj_value *root, *arr;
	int rc;

	rc = pj_parse(&r->doc, body, len, &rq_limits);
	if (rc < 0) {
		r->doc = NULL;
		/* Every parse failure is "not valid JSON" for the peer (400),
		 * limits included: the detail says which. */
		return pawl_error_prefix(PAWL_E_FORMAT, "malformed JSON: ");
	}
	root = pj_root(r->doc);
	ENSURE(pj_is_object(root), PAWL_E_INVALID, "the body must be a JSON object");
	arr = pj_get(root, "artifacts");
	ENSURE(pj_is_array(arr), PAWL_E_INVALID, "artifacts: a list is required");
	ENSURE(arr->len > 0, PAWL_E_INVALID, "artifacts: the list is empty");
	ENSURE(arr->len <= RQ_ARTIFACTS_MAX, PAWL_E_INVALID,
	       "artifacts: more than %d in one request", RQ_ARTIFACTS_MAX);
	GUARD(get_bool(root, "publish_artifacts", true, &r->publish));
	r->v = xcalloc(arr->len, sizeof(*r->v));
	if (!r->v)
		return PAWL_E_NOMEM;
	r->n = arr->len;
	*ret_arr = arr;
	return 0;
}

static int path_of(rq_artifact *a, const pj_value *v, size_t idx, const char *what)
{
	int r;

	ENSURE(pj_is_string(v), PAWL_E_INVALID, "%s: a string is required", what);
	r = rq_check_path(v->u.s, v->len);
	if (r < 0)
		return pawl_error_prefix(r, "artifacts[%zu]: ", idx);
	a->path = v->u.s;
	a->pathlen = v->len;
	return 0;
}

static int finish(rq_request *ret, rq_request *r, int rc)
{
	if (rc == 0)
		rc = check_dupes(r);
	if (rc < 0) {
		rq_free(r);
		return rc;
	}
	*ret = *r;
	return 0;
}

int rq_parse_add(rq_request *ret, char *body, size_t len)
{
	rq_request r = { 0 };
	const pj_value *arr = NULL;
	int rc;
	char what[64];

	rc = parse_common(&r, body, len, &arr);
	if (rc == 0)
		rc = get_bool(pj_root(r.doc), "add_task_id_to_custom", false,
			      &r.add_task_id_to_custom);
	for (size_t i = 0; rc == 0 && i < r.n; i++) {
		const pj_value *item = &arr->u.items[i];

		if (!pj_is_object(item)) {
			rc = pawl_error_set(PAWL_E_INVALID, "artifacts[%zu]: an object is required",
					    i);
			break;
		}
		snprintf(what, sizeof(what), "artifacts[%zu].path", i);
		rc = path_of(&r.v[i], pj_get(item, "path"), i, what);
		if (rc == 0)
			rc = parse_info(&r.v[i], pj_get(item, "info"), i);
	}
	return finish(ret, &r, rc);
}

int rq_parse_delete(rq_request *ret, char *body, size_t len)
{
	rq_request r = { 0 };
	const pj_value *arr = NULL;
	int rc;
	char what[64];

	rc = parse_common(&r, body, len, &arr);
	for (size_t i = 0; rc == 0 && i < r.n; i++) {
		snprintf(what, sizeof(what), "artifacts[%zu]", i);
		rc = path_of(&r.v[i], &arr->u.items[i], i, what);
	}
	return finish(ret, &r, rc);
}

int rq_entry_json(const rq_artifact *a, const char *task_id, char **ret, size_t *ret_len)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_value *root, *h, *c;
	pawl_buf b = PAWL_BUF_INIT(4 * RQ_CUSTOM_MAX);
	int r;

	GUARD(pj_doc_new(&doc));
	root = pj_root(doc);
	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put_int(doc, root, "length", (int64_t)a->length));
	GUARD(pj_obj_put(doc, root, "hashes", 6, &h));
	GUARD(pj_set_object(doc, h));
	if (a->sha256[0])
		GUARD(pj_obj_put_str(doc, h, "sha256", a->sha256));
	if (a->sha512[0])
		GUARD(pj_obj_put_str(doc, h, "sha512", a->sha512));
	if (a->custom || task_id) {
		GUARD(pj_obj_put(doc, root, "custom", 6, &c));
		if (a->custom)
			GUARD(pj_copy(doc, c, a->custom));
		else
			GUARD(pj_set_object(doc, c));
		if (task_id)
			GUARD(pj_obj_put_str(doc, c, "added_by_task_id", task_id));
	}
	r = pj_write(&b, root, false);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	return buf_steal(&b, ret, ret_len);
}

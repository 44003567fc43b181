/*
 * entry.c - the audit log's line format: names, sanitising of values,
 * strict parsing of an entry line and of the head, logfmt rendering.
 * See audit.h.
 */
#include <string.h>

#include "audit/audit_impl.h"
#include "crypto/crypto.h"
#include "util/clock.h"

/* ---------------- names ---------------- */

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}
static bool is_alpha(char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool audit_type_valid(const char *s)
{
	size_t n;

	if (!s || !is_lower(s[0]))
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= AUDIT_NAME_MAX)
			return false;
		if (!is_lower(c) && !is_digit(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

bool audit_key_valid(const char *s)
{
	size_t n;

	if (!s || !is_alpha(s[0]))
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= AUDIT_NAME_MAX)
			return false;
		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

bool audit_hex_valid(const char *s, size_t len)
{
	if (!s || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

int audit_sibling_name(const char *name, const char *suffix, char **ret)
{
	size_t n = strlen(name), keep = n, slen = strlen(suffix), total;
	const char *base = strrchr(name, '/');
	char *p;

	base = base ? base + 1 : name;
	/* "x/.log" keeps its name: stripping would leave an empty one. */
	if (n >= 4 && memcmp(name + n - 4, ".log", 4) == 0 && (size_t)(name + n - base) > 4)
		keep = n - 4;
	GUARD(size_add(&total, keep, slen + 1));
	p = xmalloc(total);
	if (!p)
		return PAWL_E_NOMEM;
	memcpy(p, name, keep);
	memcpy(p + keep, suffix, slen + 1);
	*ret = p;
	return 0;
}

int audit_head_path(const char *log_path, char **ret)
{
	ENSURE(log_path && *log_path, PAWL_E_INVALID, "audit: empty log path");
	return audit_sibling_name(log_path, ".head", ret);
}

/* ---------------- sanitising ---------------- */

/*
 * Decode one UTF-8 sequence at p (strict: no overlongs, no surrogates,
 * nothing above U+10FFFF). Returns its length and the code point, or 0
 * when p does not start a valid sequence.
 */
static size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Characters that are replaced: see audit_append in audit.h. */
static bool is_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define ELLIPSIS "\xe2\x80\xa6"    /* U+2026 */

int audit_sanitize(pawl_buf *out, const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, used = 0, mark = out->len;
	int r;

	while (i < len) {
		uint32_t c = 0;
		size_t n = utf8_decode(p + i, len - i, &c);
		const char *w = (const char *)p + i;
		size_t wn = n, cost;

		if (n == 0) {
			w = REPLACEMENT;
			wn = 3;
			n = 1;
		} else if (c == '\t' || c == '\n' || c == '\r') {
			w = " ";
			wn = 1;
		} else if (is_unsafe(c)) {
			w = REPLACEMENT;
			wn = 3;
		}
		cost = wn + (c == '"' || c == '\\');
		/* Keep room for the ellipsis when more is to come. */
		if (used + cost > max || (i + n < len && used + cost + 3 > max)) {
			if (used + 3 <= max) {
				r = buf_append(out, ELLIPSIS, 3);
				if (r < 0)
					goto fail;
			}
			return 0;
		}
		r = buf_append(out, w, wn);
		if (r < 0)
			goto fail;
		used += cost;
		i += n;
	}
	return 0;
fail:
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	return r;
}

int audit_set_string(pj_doc *doc, pj_value *dst, const char *s, size_t len)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(AUDIT_VALUE_MAX + 8);

	GUARD(audit_sanitize(&b, s, len, AUDIT_VALUE_MAX));
	return pj_set_string(doc, dst, b.data ? b.data : "", b.len);
}

int audit_copy_sanitized(pj_doc *doc, pj_value *dst, const pj_value *src, unsigned depth)
{
	switch (pj_typeof(src)) {
	case PJ_NULL:
		pj_set_null(dst);
		return 0;
	case PJ_FALSE:
	case PJ_TRUE:
		pj_set_bool(dst, pj_typeof(src) == PJ_TRUE);
		return 0;
	case PJ_INT:
		pj_set_int(dst, src->u.i);
		return 0;
	case PJ_STRING:
		return audit_set_string(doc, dst, src->u.s, src->len);
	case PJ_ARRAY:
		ENSURE(depth > 0, PAWL_E_LIMIT, "audit: fields nested too deeply");
		GUARD(pj_set_array(doc, dst));
		for (uint32_t i = 0; i < src->len; i++) {
			pj_value *slot;

			GUARD(pj_arr_push(doc, dst, &slot));
			GUARD(audit_copy_sanitized(doc, slot, &src->u.items[i], depth - 1));
		}
		return 0;
	case PJ_OBJECT:
		ENSURE(depth > 0, PAWL_E_LIMIT, "audit: fields nested too deeply");
		GUARD(pj_set_object(doc, dst));
		for (uint32_t i = 0; i < src->len; i++) {
			_cleanup_buf_ pawl_buf k = PAWL_BUF_INIT(AUDIT_VALUE_MAX + 8);
			pj_value *slot;

			GUARD(audit_sanitize(&k, src->u.members[i].key, src->u.members[i].klen,
					     AUDIT_NAME_MAX));
			/* Sanitising can merge two keys; the later one wins. */
			GUARD(pj_obj_put(doc, dst, k.data ? k.data : "", k.len, &slot));
			GUARD(audit_copy_sanitized(doc, slot, &src->u.members[i].value, depth - 1));
		}
		return 0;
	}
	return pawl_error_set(PAWL_E_INVALID, "audit: unknown JSON value type");
}

/* ---------------- lines ---------------- */

int audit_hash_hex(const void *p, size_t len, char out[65])
{
	uint8_t d[HASH_MAX_LEN];

	GUARD(hash_once(HASH_SHA256, p, len, d));
	hex_encode(out, d, 32);
	return 0;
}

/* Exactly the members an entry has, in canonical (sorted) order. */
static const char *const entry_keys[] = { "fields", "prev", "seq", "time", "type" };

int audit_entry_parse(pj_doc **ret_doc, audit_entry *ret, const char *line, size_t len,
		      pawl_buf *scratch)
{
	static const pj_limits lim = { 16, AUDIT_LINE_MAX, 4096 };
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	const pj_value *root, *fields, *prev, *seq, *tm, *type;
	audit_entry e;
	int r;

	ENSURE(len <= AUDIT_LINE_MAX, PAWL_E_FORMAT, "line longer than %zu bytes",
	       AUDIT_LINE_MAX);
	r = pj_parse_copy(&doc, line, len, &lim);
	if (r < 0)
		return r == PAWL_E_NOMEM ? r : pawl_error_prefix(PAWL_E_FORMAT, "not an entry: ");
	root = pj_root(doc);
	ENSURE(pj_is_object(root) && root->len == ARRAY_SIZE(entry_keys), PAWL_E_FORMAT,
	       "not an entry: want an object with exactly fields, prev, seq, time, type");
	for (size_t i = 0; i < ARRAY_SIZE(entry_keys); i++)
		ENSURE(strcmp(root->u.members[i].key, entry_keys[i]) == 0, PAWL_E_FORMAT,
		       "not an entry: unexpected member \"%.40s\"", root->u.members[i].key);
	fields = pj_get(root, "fields");
	prev = pj_get(root, "prev");
	seq = pj_get(root, "seq");
	tm = pj_get(root, "time");
	type = pj_get(root, "type");
	ENSURE(pj_is_object(fields), PAWL_E_FORMAT, "\"fields\" is not an object");
	ENSURE(pj_is_string(prev) && audit_hex_valid(prev->u.s, 64), PAWL_E_FORMAT,
	       "\"prev\" is not 64 lower-case hex digits");
	ENSURE(pj_is_int(seq) && seq->u.i >= 0, PAWL_E_FORMAT,
	       "\"seq\" is not a non-negative integer");
	ENSURE(pj_is_string(type) && audit_type_valid(type->u.s), PAWL_E_FORMAT,
	       "\"type\" is not a valid event type");
	ENSURE(pj_is_string(tm), PAWL_E_FORMAT, "\"time\" is not a string");
	memset(&e, 0, sizeof(e));
	r = pawl_time_parse(tm->u.s, &e.time);
	if (r < 0)
		return pawl_error_prefix(PAWL_E_FORMAT, "\"time\": ");

	/* One representation only: the line must be its own canonical form,
	 * or the same entry could be written in many ways. */
	buf_reset(scratch);
	GUARD(pj_canonical(scratch, root));
	ENSURE(scratch->len == len && memcmp(scratch->data, line, len) == 0, PAWL_E_FORMAT,
	       "the line is not in canonical form");

	/* Entry 0 and only entry 0 opens the log, with its id. */
	if (seq->u.i == 0 || strcmp(type->u.s, AUDIT_TYPE_START) == 0) {
		const pj_value *id = pj_get(fields, "log");

		ENSURE(seq->u.i == 0 && strcmp(type->u.s, AUDIT_TYPE_START) == 0, PAWL_E_FORMAT,
		       "entry %lld: only entry 0 is, and must be, of type " AUDIT_TYPE_START,
		       (long long)seq->u.i);
		ENSURE(strcmp(prev->u.s, AUDIT_ZERO_HASH) == 0, PAWL_E_FORMAT,
		       "entry 0: \"prev\" is not 64 zeros");
		ENSURE(pj_is_string(id) && audit_hex_valid(id->u.s, 32), PAWL_E_FORMAT,
		       "entry 0: fields.log is not a 32-digit hex log id");
	}

	GUARD(audit_hash_hex(line, len, e.hash));
	e.seq = (uint64_t)seq->u.i;
	e.time_str = tm->u.s;
	e.type = type->u.s;
	e.fields = fields;
	e.prev = prev->u.s;
	e.line = line;
	e.len = len;
	*ret = e;
	*ret_doc = TAKE_PTR(doc);
	return 0;
}

/* ---------------- head ---------------- */

int audit_head_from_json(audit_head *ret, const pj_value *v)
{
	const pj_value *hash = pj_get(v, "hash"), *log = pj_get(v, "log"), *seq = pj_get(v, "seq");
	audit_head h;

	ENSURE(pj_is_object(v) && v->len == 3 && hash && log && seq, PAWL_E_FORMAT,
	       "head: want an object with exactly hash, log, seq");
	ENSURE(pj_is_string(hash) && audit_hex_valid(hash->u.s, 64), PAWL_E_FORMAT,
	       "head: \"hash\" is not 64 lower-case hex digits");
	ENSURE(pj_is_string(log) && audit_hex_valid(log->u.s, 32), PAWL_E_FORMAT,
	       "head: \"log\" is not 32 lower-case hex digits");
	ENSURE(pj_is_int(seq) && seq->u.i >= 0, PAWL_E_FORMAT,
	       "head: \"seq\" is not a non-negative integer");
	memset(&h, 0, sizeof(h));
	h.seq = (uint64_t)seq->u.i;
	memcpy(h.hash, hash->u.s, 65);
	memcpy(h.log, log->u.s, 33);
	*ret = h;
	return 0;
}

int audit_head_to_json(pj_doc *doc, pj_value *dst, const audit_head *h)
{
	ENSURE(h && audit_hex_valid(h->hash, 64) && audit_hex_valid(h->log, 32) &&
		       h->seq <= INT64_MAX,
	       PAWL_E_INVALID, "audit: invalid head");
	GUARD(pj_set_object(doc, dst));
	GUARD(pj_obj_put_str(doc, dst, "hash", h->hash));
	GUARD(pj_obj_put_str(doc, dst, "log", h->log));
	GUARD(pj_obj_put_int(doc, dst, "seq", (int64_t)h->seq));
	return 0;
}

int audit_head_encode(pawl_buf *out, const audit_head *h)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;

	GUARD(pj_doc_new(&doc));
	GUARD(audit_head_to_json(doc, pj_root(doc), h));
	GUARD(pj_canonical(out, pj_root(doc)));
	return buf_putc(out, '\n');
}

int audit_head_parse(audit_head *ret, const char *text, size_t len)
{
	static const pj_limits lim = { 2, 128, 8 };
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_buf_ pawl_buf c = PAWL_BUF_INIT(4096);
	size_t body = len;

	if (body > 0 && text[body - 1] == '\n')
		body--;
	GUARD(pj_parse_copy(&doc, text, body, &lim));
	GUARD(audit_head_from_json(ret, pj_root(doc)));
	GUARD(pj_canonical(&c, pj_root(doc)));
	ENSURE(c.len == body && memcmp(c.data, text, body) == 0, PAWL_E_FORMAT,
	       "head: not in canonical form");
	return 0;
}

/* ---------------- logfmt ---------------- */

static bool bare_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!is_alpha(c) && !is_digit(c) && !strchr("._:/@+,-", c))
			return false;
	}
	return true;
}

static int put_string(pawl_buf *out, const char *s, size_t n)
{
	_cleanup_buf_ pawl_buf clean = PAWL_BUF_INIT(AUDIT_LINE_MAX * 3 + 16);

	GUARD(audit_sanitize(&clean, s, n, AUDIT_LINE_MAX * 3));
	if (bare_ok(clean.data, clean.len))
		return buf_append(out, clean.data, clean.len);
	GUARD(buf_putc(out, '"'));
	for (size_t i = 0; i < clean.len; i++) {
		char c = clean.data[i];

		if (c == '"' || c == '\\')
			GUARD(buf_putc(out, '\\'));
		GUARD(buf_putc(out, c));
	}
	return buf_putc(out, '"');
}

int audit_format_fields(pawl_buf *out, const pj_value *fields)
{
	if (!pj_is_object(fields))
		return 0;
	for (uint32_t i = 0; i < fields->len; i++) {
		const pj_member *m = &fields->u.members[i];
		const pj_value *v = &m->value;

		GUARD(buf_putc(out, ' '));
		GUARD(put_string(out, m->key, m->klen));
		GUARD(buf_putc(out, '='));
		switch (pj_typeof(v)) {
		case PJ_NULL:
			GUARD(buf_puts(out, "null"));
			break;
		case PJ_FALSE:
			GUARD(buf_puts(out, "false"));
			break;
		case PJ_TRUE:
			GUARD(buf_puts(out, "true"));
			break;
		case PJ_INT:
			GUARD(buf_printf(out, "%lld", (long long)v->u.i));
			break;
		case PJ_STRING:
			GUARD(put_string(out, v->u.s, v->len));
			break;
		case PJ_ARRAY:
		case PJ_OBJECT: {
			_cleanup_buf_ pawl_buf j = PAWL_BUF_INIT(AUDIT_LINE_MAX + 16);

			GUARD(pj_canonical(&j, v));
			GUARD(put_string(out, j.data, j.len));
			break;
		}
		}
	}
	return 0;
}

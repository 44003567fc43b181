/*
 * api.c - pawl/audit.h: the public audit API. The handle, the head, the
 * field and the report are the module's own types (audit.h aliases
 * them), so most functions only check their arguments; the anchor file
 * and the public iterator are built here.
 */
#include <stdlib.h>
#include <string.h>

#include "audit/audit_impl.h"
#include "pawl/audit.h"
#include "store/store.h"

_Static_assert((int)PAWL_AUDIT_OK == (int)AUDIT_OK &&
		       (int)PAWL_AUDIT_MALFORMED == (int)AUDIT_MALFORMED &&
		       (int)PAWL_AUDIT_TORN == (int)AUDIT_TORN &&
		       (int)PAWL_AUDIT_EDITED == (int)AUDIT_EDITED &&
		       (int)PAWL_AUDIT_DELETED == (int)AUDIT_DELETED &&
		       (int)PAWL_AUDIT_INSERTED == (int)AUDIT_INSERTED &&
		       (int)PAWL_AUDIT_REORDERED == (int)AUDIT_REORDERED &&
		       (int)PAWL_AUDIT_TRUNCATED == (int)AUDIT_TRUNCATED &&
		       (int)PAWL_AUDIT_HEAD_BEHIND == (int)AUDIT_HEAD_BEHIND &&
		       (int)PAWL_AUDIT_HEAD_MISSING == (int)AUDIT_HEAD_MISSING &&
		       (int)PAWL_AUDIT_HEAD_MALFORMED == (int)AUDIT_HEAD_MALFORMED &&
		       (int)PAWL_AUDIT_REPLACED == (int)AUDIT_REPLACED,
	       "public and internal audit problems differ");
_Static_assert((int)PAWL_AUDIT_K_STR == (int)AUDIT_K_STR &&
		       (int)PAWL_AUDIT_K_INT == (int)AUDIT_K_INT &&
		       (int)PAWL_AUDIT_K_BOOL == (int)AUDIT_K_BOOL,
	       "public and internal field kinds differ");

/* The most an anchor file may hold (it is the program's own state). */
#define ANCHOR_MAX 65536

PAWL_API int pawl_audit_open(pawl_audit **out, const char *path, const pawl_audit_opts *opts)
{
	audit_opts o = AUDIT_OPTS_INIT;

	ENSURE(out && path && *path, PAWL_E_INVALID, "audit: NULL argument");
	if (opts) {
		ENSURE(opts->version >= 1 && opts->version <= PAWL_AUDIT_OPTS_VERSION,
		       PAWL_E_INVALID, "audit: options version %u is not supported",
		       opts->version);
		if (opts->ident)
			o.ident = opts->ident;
		o.syslog = opts->syslog;
		o.facility = opts->facility;
		if (opts->syslog_path)
			o.syslog_path = opts->syslog_path;
		o.coalesce_window_s = opts->coalesce_window_s;
		o.lock_timeout_s = opts->lock_timeout_s;
		o.mode = (mode_t)opts->mode;
		if (opts->create_dir_mode) {
			const char *slash = strrchr(path, '/');

			if (slash && slash != path) {
				_cleanup_free_ char *dir = xstrndup(path, (size_t)(slash - path));

				if (!dir)
					return PAWL_E_NOMEM;
				GUARD(dir_create(dir, (mode_t)opts->create_dir_mode));
			}
		}
	}
	return audit_open_path(out, path, &o);
}

PAWL_API int pawl_audit_append(pawl_audit *log, const char *type, const pawl_audit_field *fields,
			       size_t n)
{
	ENSURE(log && type && (fields || n == 0), PAWL_E_INVALID, "audit: NULL argument");
	return audit_append(log, type, fields, n);
}

PAWL_API int pawl_audit_failure(pawl_audit *log, const char *type, const char *reason,
				const pawl_audit_field *fields, size_t n)
{
	ENSURE(log && type && reason && (fields || n == 0), PAWL_E_INVALID,
	       "audit: NULL argument");
	return audit_failure(log, type, reason, fields, n);
}

PAWL_API int pawl_audit_record_event(pawl_audit *log, const pawl_event *ev)
{
	ENSURE(log && ev, PAWL_E_INVALID, "audit: NULL argument");
	return audit_record_event(log, ev);
}

PAWL_API int pawl_audit_flush(pawl_audit *log)
{
	ENSURE(log, PAWL_E_INVALID, "audit: NULL argument");
	return audit_flush(log);
}

PAWL_API int pawl_audit_close(pawl_audit *log)
{
	ENSURE(log, PAWL_E_INVALID, "audit: NULL argument");
	return audit_close(log);
}

PAWL_API void pawl_audit_free(pawl_audit *log)
{
	audit_free(log);
}

PAWL_API int pawl_audit_last(const pawl_audit *log, pawl_audit_head *out)
{
	return audit_last(log, out);
}

PAWL_API int pawl_audit_facility_from_name(const char *name, int *out)
{
	ENSURE(name && out, PAWL_E_INVALID, "audit: NULL argument");
	return audit_facility_from_name(name, out);
}

/* ---------------- the anchor ---------------- */

PAWL_API int pawl_audit_anchor_save(pawl_audit *log, const char *path,
				    const pawl_audit_field *extra, size_t n)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_free_ char *buf = NULL;
	audit_head h;
	pj_value *root, *slot;
	size_t len;

	ENSURE(log && path && (extra || n == 0), PAWL_E_INVALID, "audit: NULL argument");
	for (size_t i = 0; i < n; i++) {
		ENSURE(extra[i].key && audit_key_valid(extra[i].key) &&
			       strcmp(extra[i].key, "audit") != 0,
		       PAWL_E_INVALID, "audit anchor: invalid key \"%s\"",
		       extra[i].key ? extra[i].key : "(null)");
		for (size_t j = 0; j < i; j++)
			ENSURE(strcmp(extra[i].key, extra[j].key) != 0, PAWL_E_INVALID,
			       "audit anchor: key \"%s\" twice", extra[i].key);
		ENSURE(extra[i].kind >= AUDIT_K_STR && extra[i].kind <= AUDIT_K_BOOL,
		       PAWL_E_INVALID, "audit anchor: unknown kind %d for \"%s\"", extra[i].kind,
		       extra[i].key);
	}
	GUARD(audit_flush(log));
	GUARD(audit_last(log, &h));
	GUARD(pj_doc_new(&doc));
	root = pj_root(doc);
	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put(doc, root, "audit", 5, &slot));
	GUARD(audit_head_to_json(doc, slot, &h));
	for (size_t i = 0; i < n; i++) {
		const pawl_audit_field *f = &extra[i];

		if (f->kind == AUDIT_K_INT) {
			GUARD(pj_obj_put_int(doc, root, f->key, f->i));
		} else if (f->kind == AUDIT_K_STR && f->s) {
			GUARD(pj_obj_put_str(doc, root, f->key, f->s));
		} else {
			GUARD(pj_obj_put(doc, root, f->key, strlen(f->key), &slot));
			if (f->kind == AUDIT_K_BOOL)
				pj_set_bool(slot, f->i != 0);
			else
				pj_set_null(slot);
		}
	}
	GUARD(pj_dump(root, &buf, &len));
	return file_write_atomic(path, buf, len, 0644);
}

struct pawl_audit_anchor {
	pj_doc *doc;
};

PAWL_API int pawl_audit_anchor_load(pawl_audit_anchor **out, const char *path)
{
	_cleanup_free_ char *data = NULL;
	pawl_audit_anchor *a;
	size_t len;
	int r;

	ENSURE(out && path, PAWL_E_INVALID, "audit: NULL argument");
	GUARD(file_read_all(path, ANCHOR_MAX, &data, &len));
	a = xcalloc(1, sizeof(*a));
	if (!a)
		return PAWL_E_NOMEM;
	r = pj_parse(&a->doc, TAKE_PTR(data), len, NULL);
	if (r < 0) {
		free(a);
		return pawl_error_prefix(r, "%s: ", path);
	}
	*out = a;
	return 0;
}

PAWL_API void pawl_audit_anchor_free(pawl_audit_anchor *a)
{
	if (!a)
		return;
	pj_doc_free(a->doc);
	free(a);
}

PAWL_API int pawl_audit_anchor_head(const pawl_audit_anchor *a, pawl_audit_head *out)
{
	ENSURE(a && out, PAWL_E_INVALID, "audit: NULL argument");
	return audit_head_from_json(out, pj_get(pj_root(a->doc), "audit"));
}

PAWL_API int pawl_audit_anchor_int(const pawl_audit_anchor *a, const char *key, int64_t *out)
{
	const pj_value *v;

	ENSURE(a && key && out, PAWL_E_INVALID, "audit: NULL argument");
	v = pj_get(pj_root(a->doc), key);
	ENSURE(pj_is_int(v), PAWL_E_NOT_FOUND, "anchor: no integer \"%s\"", key);
	*out = v->u.i;
	return 0;
}

PAWL_API const char *pawl_audit_anchor_str(const pawl_audit_anchor *a, const char *key)
{
	if (!a || !key)
		return NULL;
	return pj_str(pj_get(pj_root(a->doc), key));
}

/* ---------------- reading ---------------- */

struct pawl_audit_iter {
	audit_iter *it;
	const audit_entry *cur;
	pawl_audit_entry pub;
	pawl_buf text;
};

PAWL_API int pawl_audit_iter_new(pawl_audit_iter **out, const char *path, int64_t since)
{
	pawl_audit_iter *pi;
	int r;

	ENSURE(out && path, PAWL_E_INVALID, "audit: NULL argument");
	pi = xcalloc(1, sizeof(*pi));
	if (!pi)
		return PAWL_E_NOMEM;
	pi->text = (pawl_buf)PAWL_BUF_INIT(AUDIT_LINE_MAX * 4);
	r = audit_iter_open(&pi->it, path, since);
	if (r < 0) {
		free(pi);
		return r;
	}
	*out = pi;
	return 0;
}

PAWL_API int pawl_audit_iter_next(pawl_audit_iter *it, const pawl_audit_entry **out)
{
	const audit_entry *e;

	ENSURE(it && out, PAWL_E_INVALID, "audit: NULL argument");
	GUARD(audit_iter_next(it->it, &e));
	it->cur = e;
	if (!e) {
		*out = NULL;
		return 0;
	}
	it->pub = (pawl_audit_entry){
		.seq = e->seq,
		.time = e->time,
		.time_str = e->time_str,
		.type = e->type,
		.prev = e->prev,
		.hash = e->hash,
		.line = e->line,
		.len = e->len,
		.lineno = e->lineno,
	};
	*out = &it->pub;
	return 0;
}

PAWL_API int pawl_audit_iter_fields_text(pawl_audit_iter *it, const char **out)
{
	ENSURE(it && out, PAWL_E_INVALID, "audit: NULL argument");
	ENSURE(it->cur, PAWL_E_INVALID, "audit: no current entry");
	buf_reset(&it->text);
	GUARD(audit_format_fields(&it->text, it->cur->fields));
	GUARD(buf_putc(&it->text, '\0'));
	it->text.len--;
	*out = it->text.data;
	return 0;
}

PAWL_API void pawl_audit_iter_free(pawl_audit_iter *it)
{
	if (!it)
		return;
	audit_iter_free(it->it);
	buf_free(&it->text);
	free(it);
}

PAWL_API int pawl_audit_since_parse(const char *s, int64_t *out)
{
	ENSURE(s && out, PAWL_E_INVALID, "audit: NULL argument");
	return audit_since_parse(s, out);
}

/* ---------------- verifying ---------------- */

PAWL_API const char *pawl_audit_problem_name(int problem)
{
	if (problem < PAWL_AUDIT_OK || problem > PAWL_AUDIT_REPLACED)
		return "unknown";
	return audit_problem_name((audit_problem)problem);
}

PAWL_API int pawl_audit_verify(const char *log_path, const char *head_path,
			       const pawl_audit_head *anchor, pawl_audit_report *out)
{
	ENSURE(log_path && out, PAWL_E_INVALID, "audit: NULL argument");
	return audit_verify(log_path, head_path, anchor, out);
}

/*
 * state.c - the slot installer's durable state, state_dir/slots.json
 * (format in slot.h).
 *
 * Strict on purpose, as folder mode's state.json: this file is what stops
 * a downgrade, so a damaged or hand-edited file is an error for an
 * operator, never read as "nothing installed yet". Every key is required,
 * no other key is allowed, every version must be valid SemVer, and the
 * fields must agree: the pending slot has a known version, the slot being
 * written has none, and nothing is pending while a write is journalled.
 */
#include <limits.h>
#include <string.h>

#include "slot/slot.h"
#include "store/store.h"

#define SLOT_FORMAT 1
#define SLOT_STATE_MAX ((size_t)1 << 20)

static const char *const outcome_names[] = {
	[SLOT_NONE] = "none",
	[SLOT_SWITCHED] = "switched",
	[SLOT_ALREADY_CURRENT] = "already_current",
	[SLOT_ALREADY_PENDING] = "already_pending",
	[SLOT_REFUSED_DOWNGRADE] = "refused_downgrade",
	[SLOT_REFUSED_BAD] = "refused_bad",
	[SLOT_CONFIRMED] = "confirmed",
	[SLOT_HEALTH_FAILED] = "health_failed",
	[SLOT_MARKED_GOOD] = "marked_good",
	[SLOT_MARKED_BAD] = "marked_bad",
	[SLOT_INTERRUPTED] = "interrupted",
	[SLOT_ERROR] = "error",
};

const char *slot_outcome_name(slot_outcome o)
{
	return (unsigned)o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

/* ---------------- reading ---------------- */


static void set_str(char dst[SEMVER_MAX_LEN + 1], const char *src)
{
	size_t n = src ? strnlen(src, SEMVER_MAX_LEN) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static int get_slot(pj_fields *r, const char *key, bool nullable, boot_slot *out)
{
	const pj_value *v = NULL;

	GUARD(pj_fields_get(r, key, &v));
	if (pj_typeof(v) == PJ_NULL && nullable) {
		*out = BOOT_SLOT_NONE;
		return 0;
	}
	if (pj_is_string(v) && v->len == 1 && (v->u.s[0] == 'a' || v->u.s[0] == 'b')) {
		*out = v->u.s[0] == 'a' ? BOOT_SLOT_A : BOOT_SLOT_B;
		return 0;
	}
	return pj_fields_bad(r, key, "is not \"a\" or \"b\"");
}

static int get_name(pj_fields *r, const char *key, const char *const *names, size_t n,
		    size_t from, size_t *ret)
{
	const pj_value *v = NULL;

	GUARD(pj_fields_get(r, key, &v));
	for (size_t i = from; pj_is_string(v) && i < n; i++)
		if (v->len == strlen(names[i]) && memcmp(v->u.s, names[i], v->len) == 0) {
			*ret = i;
			return 0;
		}
	return pj_fields_bad(r, key, "is not a known value");
}

static int parse_root(slot_state *st, const pj_value *root, const char *what)
{
	static const char *const ops[] = { "write" };
	static const char *const phases[] = { "writing" };
	pj_fields r = { root, what, "", "refusing to guess what the slots hold", 0 };
	const pj_value *v = NULL, *o = NULL;
	size_t idx;

	if (!pj_is_object(root))
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s is corrupt: not a JSON object (operator attention needed)",
				      what);
	GUARD(pj_fields_get(&r, "format", &v));
	if (!pj_is_int(v) || v->u.i != SLOT_FORMAT)
		return pj_fields_bad(&r, "format", "is not 1");
	for (int i = 0; i < 2; i++) {
		const char *key = i == 0 ? "a" : "b";
		pj_fields s = { NULL, what, key, "refusing to guess what the slots hold", 0 };

		GUARD(pj_fields_object(&r, key, false, &o));
		s.obj = o;
		GUARD(pj_fields_version(&s, "version", true, st->slot[i].version));
		GUARD(pj_fields_bool(&s, "recovery", &st->slot[i].recovery));
		GUARD(pj_fields_done(&s));
	}
	GUARD(pj_fields_version(&r, "highest", true, st->highest));
	GUARD(pj_fields_get(&r, "bad", &v));
	if (!pj_is_array(v) || v->len > SLOT_MAX_BAD)
		return pj_fields_bad(&r, "bad", "is not an array of at most 64 versions");
	for (uint32_t i = 0; i < v->len; i++) {
		const pj_value *b = &v->u.items[i];
		semver sv;

		if (!pj_is_string(b) || strlen(b->u.s) != b->len || semver_parse(b->u.s, &sv) < 0) {
			pawl_error_clear();
			return pj_fields_bad(&r, "bad", "holds something that is not a version");
		}
		set_str(st->bad[st->nbad++], b->u.s);
	}
	GUARD(get_slot(&r, "pending", true, &st->pending));

	GUARD(pj_fields_object(&r, "last", true, &o));
	st->last_slot = BOOT_SLOT_NONE;
	if (o) {
		pj_fields s = { o, what, "last", "refusing to guess what the slots hold", 0 };

		GUARD(pj_fields_get(&s, "time", &v));
		if (!pj_is_int(v) || v->u.i < 0)
			return pj_fields_bad(&s, "time", "is not a time");
		st->last_time = v->u.i;
		GUARD(get_name(&s, "outcome", outcome_names, ARRAY_SIZE(outcome_names), 1, &idx));
		st->last_outcome = (slot_outcome)idx;
		GUARD(pj_fields_version(&s, "version", true, st->last_version));
		GUARD(get_slot(&s, "slot", true, &st->last_slot));
		GUARD(pj_fields_done(&s));
	}

	GUARD(pj_fields_object(&r, "journal", true, &o));
	st->journal = BOOT_SLOT_NONE;
	if (o) {
		pj_fields s = { o, what, "journal", "refusing to guess what the slots hold", 0 };

		GUARD(get_name(&s, "op", ops, ARRAY_SIZE(ops), 0, &idx));
		GUARD(get_name(&s, "phase", phases, ARRAY_SIZE(phases), 0, &idx));
		GUARD(get_slot(&s, "slot", false, &st->journal));
		GUARD(pj_fields_version(&s, "version", false, st->journal_version));
		GUARD(pj_fields_bool(&s, "recovery", &st->journal_recovery));
		GUARD(pj_fields_done(&s));
	}
	GUARD(pj_fields_done(&r));

	if (st->pending != BOOT_SLOT_NONE && !st->slot[st->pending].version[0])
		return pj_fields_bad(&r, "pending", "names a slot whose version is unknown");
	if (st->journal != BOOT_SLOT_NONE && st->slot[st->journal].version[0])
		return pj_fields_bad(&r, "journal", "names a slot whose version is recorded");
	if (st->journal != BOOT_SLOT_NONE && st->pending != BOOT_SLOT_NONE)
		return pj_fields_bad(&r, "pending", "is set while a write is journalled");
	return 0;
}

int slot_state_parse(slot_state *ret, char *buf, size_t len, const char *what)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_limits lim = { 8, 4096, 256 };
	slot_state *st;
	int r;

	ENSURE(ret && buf, PAWL_E_INVALID, "slot state: nothing to parse");
	r = pj_parse(&doc, buf, len, &lim);
	if (r < 0)
		return pawl_error_prefix(r, "%s is corrupt (operator attention needed): ", what);
	st = xcalloc(1, sizeof(*st));
	if (!st)
		return PAWL_E_NOMEM;
	r = parse_root(st, pj_root(doc), what);
	if (r == 0)
		*ret = *st;
	free(st);
	return r;
}

/* ---------------- writing ---------------- */

static int put_slot(pj_doc *doc, pj_value *obj, const char *key, boot_slot s)
{
	pj_value *slot;

	GUARD(pj_obj_put(doc, obj, key, strlen(key), &slot));
	if (s == BOOT_SLOT_A || s == BOOT_SLOT_B)
		return pj_set_cstr(doc, slot, boot_slot_name(s));
	pj_set_null(slot);
	return 0;
}

static int put_null(pj_doc *doc, pj_value *obj, const char *key)
{
	pj_value *slot;

	GUARD(pj_obj_put(doc, obj, key, strlen(key), &slot));
	pj_set_null(slot);
	return 0;
}

static int build(pj_doc *doc, const slot_state *st)
{
	pj_value *root = pj_root(doc), *arr, *o, *item;

	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put_int(doc, root, "format", SLOT_FORMAT));
	for (int i = 0; i < 2; i++) {
		GUARD(pj_put_object(doc, root, i == 0 ? "a" : "b", &o));
		GUARD(pj_put_version(doc, o, "version", st->slot[i].version));
		GUARD(pj_put_bool(doc, o, "recovery", st->slot[i].recovery));
	}
	GUARD(pj_put_version(doc, root, "highest", st->highest));
	GUARD(pj_obj_put(doc, root, "bad", 3, &arr));
	GUARD(pj_set_array(doc, arr));
	for (uint32_t i = 0; i < st->nbad; i++) {
		GUARD(pj_arr_push(doc, arr, &item));
		GUARD(pj_set_cstr(doc, item, st->bad[i]));
	}
	GUARD(put_slot(doc, root, "pending", st->pending));
	if (st->last_outcome != SLOT_NONE) {
		GUARD(pj_put_object(doc, root, "last", &o));
		GUARD(pj_obj_put_int(doc, o, "time", st->last_time));
		GUARD(pj_obj_put_str(doc, o, "outcome", slot_outcome_name(st->last_outcome)));
		GUARD(pj_put_version(doc, o, "version", st->last_version));
		GUARD(put_slot(doc, o, "slot", st->last_slot));
	} else {
		GUARD(put_null(doc, root, "last"));
	}
	if (st->journal != BOOT_SLOT_NONE) {
		GUARD(pj_put_object(doc, root, "journal", &o));
		GUARD(pj_obj_put_str(doc, o, "op", "write"));
		GUARD(pj_obj_put_str(doc, o, "phase", "writing"));
		GUARD(put_slot(doc, o, "slot", st->journal));
		GUARD(pj_put_version(doc, o, "version", st->journal_version));
		GUARD(pj_put_bool(doc, o, "recovery", st->journal_recovery));
	} else {
		GUARD(put_null(doc, root, "journal"));
	}
	return 0;
}

int slot_state_serialize(const slot_state *st, char **ret, size_t *ret_len)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(SLOT_STATE_MAX);

	ENSURE(st && ret, PAWL_E_INVALID, "slot state: nothing to write");
	GUARD(pj_doc_new(&doc));
	GUARD(build(doc, st));
	GUARD(pj_write(&b, pj_root(doc), true));
	GUARD(buf_putc(&b, '\n'));
	return buf_steal(&b, ret, ret_len);
}

int slot_state_read(const char *state_dir, slot_state *ret)
{
	_cleanup_buf_ pawl_buf path = PAWL_BUF_INIT(PATH_MAX);
	char *buf = NULL;
	size_t len;
	int r;

	ENSURE(state_dir && ret, PAWL_E_INVALID, "no state directory");
	GUARD(buf_printf(&path, "%s/%s", state_dir, SLOT_STATE_FILE));
	r = file_read_all(path.data, SLOT_STATE_MAX, &buf, &len);
	if (r == PAWL_E_NOT_FOUND) {
		memset(ret, 0, sizeof(*ret));
		ret->pending = ret->last_slot = ret->journal = BOOT_SLOT_NONE;
		pawl_error_clear();
		return 0;
	}
	GUARD(r);
	return slot_state_parse(ret, buf, len, path.data);
}

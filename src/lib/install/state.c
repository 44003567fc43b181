/*
 * state.c - the agent's durable state file, state_dir/state.json.
 *
 * The format is in install.h. Reading is strict on purpose: this file is
 * what stops a downgrade, so a file that is damaged, hand-edited into an
 * unknown shape or self-contradictory is an error for an operator, never
 * read as "nothing installed yet". Every key is required and no other key
 * is allowed; every version must be valid SemVer; "installed" and
 * "previous" may not exceed "highest"; an open journal must have started
 * from the installed version.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "install/install_impl.h"
#include "store/store.h"

#define STATE_FORMAT 1

static const char *const outcome_names[] = {
	[INSTALL_NONE] = "none",
	[INSTALL_INSTALLED] = "installed",
	[INSTALL_ALREADY_CURRENT] = "already_current",
	[INSTALL_REFUSED_DOWNGRADE] = "refused_downgrade",
	[INSTALL_REFUSED_BAD] = "refused_bad",
	[INSTALL_HEALTH_FAILED] = "health_failed",
	[INSTALL_ROLLED_BACK] = "rolled_back",
	[INSTALL_INTERRUPTED] = "interrupted",
	[INSTALL_ERROR] = "error",
	[INSTALL_PENDING_REBOOT] = "pending_reboot",
	[INSTALL_ALREADY_PENDING] = "already_pending",
	[INSTALL_CONFIRMED] = "confirmed",
	[INSTALL_MARKED_GOOD] = "marked_good",
	[INSTALL_MARKED_BAD] = "marked_bad",
};

static const char *const phase_names[] = {
	[INSTALL_PHASE_BEGIN] = "begin",
	[INSTALL_PHASE_UNPACKED] = "unpacked",
	[INSTALL_PHASE_SWITCHED] = "switched",
	[INSTALL_PHASE_FAILED] = "failed",
};

static const char *const op_names[] = {
	[INSTALL_OP_NONE] = "none",
	[INSTALL_OP_INSTALL] = "install",
	[INSTALL_OP_ROLLBACK] = "rollback",
};

const char *install_outcome_name(install_outcome o)
{
	return (unsigned)o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

const char *install_phase_name(install_phase p)
{
	return (unsigned)p < ARRAY_SIZE(phase_names) ? phase_names[p] : "unknown";
}

static int name_index(const char *const *names, size_t n, const pj_value *v, size_t from,
		      size_t *ret)
{
	if (!pj_is_string(v))
		return -1;
	for (size_t i = from; i < n; i++)
		if (v->len == strlen(names[i]) && memcmp(v->u.s, names[i], v->len) == 0) {
			*ret = i;
			return 0;
		}
	return -1;
}

void state_set(char dst[SEMVER_MAX_LEN + 1], const char *src)
{
	size_t n = src ? strnlen(src, SEMVER_MAX_LEN) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

bool state_is_bad(const install_state *st, const semver *v)
{
	for (uint32_t i = 0; i < st->nbad; i++) {
		semver b;

		if (semver_parse(st->bad[i], &b) == 0 && semver_cmp(&b, v) == 0)
			return true;
	}
	return false;
}

void state_add_bad(install_state *st, const char *version)
{
	semver v;

	if (semver_parse(version, &v) < 0) {
		pawl_error_clear();
		return;
	}
	if (state_is_bad(st, &v))
		return;
	if (st->nbad == INSTALL_MAX_BAD) {
		/* Drop the lowest: the one least likely to be offered again. */
		uint32_t low = 0;
		semver lv, cv;

		for (uint32_t i = 1; i < st->nbad; i++) {
			if (semver_parse(st->bad[low], &lv) == 0 &&
			    semver_parse(st->bad[i], &cv) == 0 && semver_cmp(&cv, &lv) < 0)
				low = i;
		}
		memmove(st->bad[low], st->bad[low + 1],
			(size_t)(st->nbad - low - 1) * sizeof(st->bad[0]));
		st->nbad--;
	}
	state_set(st->bad[st->nbad++], version);
}

/* ---------------- reading ---------------- */


static int cmp_versions(const char *a, const char *b)
{
	semver va, vb;

	/* Both were validated when read. */
	if (semver_parse(a, &va) < 0 || semver_parse(b, &vb) < 0) {
		pawl_error_clear();
		return 0;
	}
	return semver_cmp(&va, &vb);
}

static int parse_root(install_state *st, const pj_value *root, const char *what)
{
	pj_fields r = { root, what, "", "refusing to guess the installed version", 0 };
	const pj_value *v = NULL, *o = NULL;
	size_t idx;

	if (!pj_is_object(root))
		return pawl_error_set(PAWL_E_FORMAT, "%s is corrupt: not a JSON object (operator attention needed)",
				      what);
	GUARD(pj_fields_get(&r, "format", &v));
	if (!pj_is_int(v) || v->u.i != STATE_FORMAT)
		return pj_fields_bad(&r, "format", "is not 1");
	GUARD(pj_fields_version(&r, "installed", true, st->installed));
	GUARD(pj_fields_bool(&r, "installed_recovery", &st->installed_recovery));
	GUARD(pj_fields_version(&r, "previous", true, st->previous));
	GUARD(pj_fields_version(&r, "highest", true, st->highest));

	GUARD(pj_fields_get(&r, "bad", &v));
	if (!pj_is_array(v) || v->len > INSTALL_MAX_BAD)
		return pj_fields_bad(&r, "bad", "is not an array of at most 64 versions");
	for (uint32_t i = 0; i < v->len; i++) {
		const pj_value *b = &v->u.items[i];
		semver sv;

		if (!pj_is_string(b) || strlen(b->u.s) != b->len || semver_parse(b->u.s, &sv) < 0)
			return pj_fields_bad(&r, "bad", "holds something that is not a version");
		state_set(st->bad[st->nbad++], b->u.s);
	}

	GUARD(pj_fields_object(&r, "interrupted", true, &o));
	if (o) {
		pj_fields s = { o, what, "interrupted", "refusing to guess the installed version", 0 };

		GUARD(pj_fields_version(&s, "version", false, st->interrupted));
		GUARD(pj_fields_get(&s, "count", &v));
		if (!pj_is_int(v) || v->u.i < 1 || v->u.i > INSTALL_MAX_INTERRUPTED)
			return pj_fields_bad(&s, "count", "is out of range");
		st->interrupted_count = (uint32_t)v->u.i;
		GUARD(pj_fields_done(&s));
	}

	GUARD(pj_fields_object(&r, "last", true, &o));
	if (o) {
		pj_fields s = { o, what, "last", "refusing to guess the installed version", 0 };

		GUARD(pj_fields_get(&s, "time", &v));
		if (!pj_is_int(v) || v->u.i < 0)
			return pj_fields_bad(&s, "time", "is not a time");
		st->last_time = v->u.i;
		GUARD(pj_fields_get(&s, "outcome", &v));
		if (name_index(outcome_names, ARRAY_SIZE(outcome_names), v, 1, &idx) < 0)
			return pj_fields_bad(&s, "outcome", "is not an outcome");
		st->last_outcome = (install_outcome)idx;
		GUARD(pj_fields_version(&s, "version", true, st->last_version));
		GUARD(pj_fields_done(&s));
	}

	GUARD(pj_fields_object(&r, "journal", true, &o));
	if (o) {
		pj_fields s = { o, what, "journal", "refusing to guess the installed version", 0 };
		install_journal *j = &st->journal;

		GUARD(pj_fields_get(&s, "op", &v));
		if (name_index(op_names, ARRAY_SIZE(op_names), v, 1, &idx) < 0)
			return pj_fields_bad(&s, "op", "is not an operation");
		j->op = (install_op)idx;
		GUARD(pj_fields_get(&s, "phase", &v));
		if (name_index(phase_names, ARRAY_SIZE(phase_names), v, 0, &idx) < 0)
			return pj_fields_bad(&s, "phase", "is not a phase");
		j->phase = (install_phase)idx;
		GUARD(pj_fields_version(&s, "version", false, j->version));
		GUARD(pj_fields_version(&s, "from", true, j->from));
		GUARD(pj_fields_bool(&s, "recovery", &j->recovery));
		GUARD(pj_fields_done(&s));
		if (strcmp(j->from, st->installed) != 0)
			return pj_fields_bad(&r, "journal", "did not start from the installed version");
		if (strcmp(j->version, j->from) == 0)
			return pj_fields_bad(&r, "journal", "moves to the version it started from");
	}
	GUARD(pj_fields_done(&r));

	/* "highest" only ever grows and is set by every install. */
	if ((st->installed[0] || st->previous[0]) && !st->highest[0])
		return pj_fields_bad(&r, "highest", "is null while releases are installed");
	if (st->installed[0] && cmp_versions(st->installed, st->highest) > 0)
		return pj_fields_bad(&r, "installed", "is higher than highest");
	if (st->previous[0] && cmp_versions(st->previous, st->highest) > 0)
		return pj_fields_bad(&r, "previous", "is higher than highest");
	return 0;
}

int state_parse(install_state *ret, char *buf, size_t len, const char *what)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_limits lim = { 8, 4096, 256 };
	install_state *st;
	int r;

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

static int build(pj_doc *doc, const install_state *st)
{
	pj_value *root = pj_root(doc), *arr, *o, *slot;

	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put_int(doc, root, "format", STATE_FORMAT));
	GUARD(pj_put_version(doc, root, "installed", st->installed));
	GUARD(pj_put_bool(doc, root, "installed_recovery", st->installed_recovery));
	GUARD(pj_put_version(doc, root, "previous", st->previous));
	GUARD(pj_put_version(doc, root, "highest", st->highest));
	GUARD(pj_obj_put(doc, root, "bad", 3, &arr));
	GUARD(pj_set_array(doc, arr));
	for (uint32_t i = 0; i < st->nbad; i++) {
		GUARD(pj_arr_push(doc, arr, &slot));
		GUARD(pj_set_cstr(doc, slot, st->bad[i]));
	}
	if (st->interrupted[0] && st->interrupted_count > 0) {
		GUARD(pj_put_object(doc, root, "interrupted", &o));
		GUARD(pj_put_version(doc, o, "version", st->interrupted));
		GUARD(pj_obj_put_int(doc, o, "count", st->interrupted_count));
	} else {
		GUARD(pj_obj_put(doc, root, "interrupted", 11, &slot));
		pj_set_null(slot);
	}
	if (st->last_outcome != INSTALL_NONE) {
		GUARD(pj_put_object(doc, root, "last", &o));
		GUARD(pj_obj_put_int(doc, o, "time", st->last_time));
		GUARD(pj_obj_put_str(doc, o, "outcome", install_outcome_name(st->last_outcome)));
		GUARD(pj_put_version(doc, o, "version", st->last_version));
	} else {
		GUARD(pj_obj_put(doc, root, "last", 4, &slot));
		pj_set_null(slot);
	}
	if (st->journal.op != INSTALL_OP_NONE) {
		const install_journal *j = &st->journal;

		GUARD(pj_put_object(doc, root, "journal", &o));
		GUARD(pj_obj_put_str(doc, o, "op", op_names[j->op]));
		GUARD(pj_obj_put_str(doc, o, "phase", install_phase_name(j->phase)));
		GUARD(pj_put_version(doc, o, "version", j->version));
		GUARD(pj_put_version(doc, o, "from", j->from));
		GUARD(pj_put_bool(doc, o, "recovery", j->recovery));
	} else {
		GUARD(pj_obj_put(doc, root, "journal", 7, &slot));
		pj_set_null(slot);
	}
	return 0;
}

int state_serialize(const install_state *st, char **ret, size_t *ret_len)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(STATE_MAX_BYTES);

	GUARD(pj_doc_new(&doc));
	GUARD(build(doc, st));
	GUARD(pj_write(&b, pj_root(doc), true));
	GUARD(buf_putc(&b, '\n'));
	return buf_steal(&b, ret, ret_len);
}

int state_write(int dirfd, const install_state *st)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	GUARD(state_serialize(st, &text, &len));
	r = file_write_atomic_at(dirfd, STATE_FILE, text, len, 0644);
	if (r < 0)
		return pawl_error_prefix(r, "cannot record the install state: ");
	return 0;
}

int install_state_read(const char *state_dir, install_state *ret)
{
	_cleanup_buf_ pawl_buf path = PAWL_BUF_INIT(PATH_MAX);
	char *buf = NULL;
	size_t len;
	int r;

	ENSURE(state_dir && ret, PAWL_E_INVALID, "no state directory");
	GUARD(buf_printf(&path, "%s/%s", state_dir, STATE_FILE));
	r = file_read_all(path.data, STATE_MAX_BYTES, &buf, &len);
	if (r == PAWL_E_NOT_FOUND) {
		memset(ret, 0, sizeof(*ret));
		pawl_error_clear();
		return 0;
	}
	GUARD(r);
	return state_parse(ret, buf, len, path.data);
}

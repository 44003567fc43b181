/*
 * release.c - the releases of an application among the trusted targets,
 * and the choice of the one to install (pawl/release.h).
 *
 * This was the update agent's own code; it lives here so that every
 * program that installs releases chooses them by the same rule, and so
 * that the slot installer can list image releases by the same walk.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "util/semver.h"
#include "pawl/release.h"

struct pawl_release {
	char *path;
	char version[SEMVER_MAX_LEN + 1];
	semver ver;
	pawl_release_kind kind;
	bool recovery;
	bool bad;
	char *pack;      /* an image release's pack target path, or NULL */
	char *sums;      /* a format 2 image's sums target path, or NULL */
	int format;      /* an image's index format: 1, 2, or 0 when unknown */
};

static void release_parts_free(pawl_release *rel)
{
	free(rel->pack);
	free(rel->sums);
	rel->pack = rel->sums = NULL;
}

struct pawl_release_list {
	pawl_release *v;
	size_t n, cap;
	const pawl_release *best;
	const char **skipped;
	size_t nskipped;
};

/* The release described by a trusted entry of path with custom data, or
 * PAWL_E_FORMAT (naming why) when it is not a release of app. rel->path
 * is left to the caller. */
static int release_read(const char *app, const char *path, const pj_value *custom,
			pawl_release *rel)
{
	size_t alen = strlen(app), vlen;
	const char *vs, *comp, *slash;
	const pj_value *rec;

	if (strncmp(path, app, alen) != 0 || path[alen] != '/')
		return pawl_error_set(PAWL_E_FORMAT, "%s is not under %s/", path, app);
	if (!custom)
		return pawl_error_set(PAWL_E_FORMAT, "%s has no custom data", path);
	vs = pj_str(pj_get(custom, "version"));
	if (!vs)
		return pawl_error_set(PAWL_E_FORMAT, "%s has no custom version", path);
	comp = path + alen + 1;
	slash = strchr(comp, '/');
	vlen = strlen(vs);
	if (!slash || strchr(slash + 1, '/') || !slash[1])
		return pawl_error_set(PAWL_E_FORMAT, "%s is not %s/VERSION/NAME", path, app);
	if (vlen != (size_t)(slash - comp) || strncmp(vs, comp, vlen) != 0)
		return pawl_error_set(PAWL_E_FORMAT, "the custom version of %s is not its "
				      "VERSION component", path);
	if (vlen > SEMVER_MAX_LEN)
		return pawl_error_set(PAWL_E_FORMAT, "the version of %s is too long", path);
	GUARD(semver_parse(vs, &rel->ver));
	memcpy(rel->version, vs, vlen + 1);
	rel->kind = pj_get(custom, "image") ? PAWL_RELEASE_IMAGE : PAWL_RELEASE_FOLDER;
	rec = pj_get(custom, "recovery");
	rel->recovery = rec && pj_typeof(rec) == PJ_TRUE;
	rel->bad = false;
	rel->pack = NULL;
	rel->sums = NULL;
	rel->format = 0;
	if (rel->kind == PAWL_RELEASE_IMAGE) {
		/* Still a release without them (listed, chosen): installing it
		 * is what fails (the installer checks the whole "image"
		 * member). No "format" is format 1; format 2 names its sums and
		 * may name no pack (docs/image-format.md). */
		const pj_value *img = pj_get(custom, "image");
		const pj_value *fmt = pj_get(img, "format");
		const char *pack = pj_str(pj_get(img, "pack"));
		const char *sums = pj_str(pj_get(img, "sums"));

		if (!fmt)
			rel->format = 1;
		else if (pj_is_int(fmt) && (fmt->u.i == 1 || fmt->u.i == 2))
			rel->format = (int)fmt->u.i;
		if ((pack && *pack && !(rel->pack = xstrdup(pack))) ||
		    (rel->format == 2 && sums && *sums && !(rel->sums = xstrdup(sums)))) {
			release_parts_free(rel);
			return PAWL_E_NOMEM;
		}
	}
	return 0;
}

static bool app_ok(const char *app)
{
	return app && *app && !strchr(app, '/');
}

struct collect {
	pawl_release_list *l;
	const pawl_release_opts *o;
	unsigned kinds;
};

static int collect_one(void *vctx, const char *path, const md_target *t, const char *role)
{
	struct collect *c = vctx;
	pawl_release rel = { 0 };

	(void)role;
	if (release_read(c->o->app, path, t->custom, &rel) < 0) {
		/* Not a release: skipped, as documented. */
		pawl_error_clear();
		return 0;
	}
	if (!(c->kinds & PAWL_RELEASE_KIND_BIT(rel.kind)) ||
	    (c->o->only_version && strcmp(rel.version, c->o->only_version) != 0)) {
		release_parts_free(&rel);
		return 0;
	}
	for (size_t i = 0; i < c->o->n_bad; i++)
		if (c->o->bad[i] && strcmp(c->o->bad[i], rel.version) == 0)
			rel.bad = true;
	if (c->l->n == c->l->cap) {
		size_t cap = c->l->cap ? c->l->cap * 2 : 16;
		pawl_release *v = xreallocarray(c->l->v, cap, sizeof(*v));

		if (!v) {
			release_parts_free(&rel);
			return PAWL_E_NOMEM;
		}
		c->l->v = v;
		c->l->cap = cap;
	}
	rel.path = xstrdup(path);
	if (!rel.path) {
		release_parts_free(&rel);
		return PAWL_E_NOMEM;
	}
	c->l->v[c->l->n++] = rel;
	return 0;
}

/* The choice and the skipped bad versions (see pawl/release.h). */
static int decide(pawl_release_list *l, const pawl_release_opts *o)
{
	const pawl_release *best = NULL;

	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].bad && (!best || semver_cmp(&l->v[i].ver, &best->ver) > 0))
			best = &l->v[i];
	l->best = best;
	if (!o->n_bad)
		return 0;
	l->skipped = xcalloc(o->n_bad, sizeof(*l->skipped));
	if (!l->skipped)
		return PAWL_E_NOMEM;
	for (size_t b = 0; b < o->n_bad; b++) {
		const pawl_release *seen = NULL;

		for (size_t i = 0; i < l->n && !seen && o->bad[b]; i++)
			if (l->v[i].bad && strcmp(l->v[i].version, o->bad[b]) == 0)
				seen = &l->v[i];
		if (!seen || (best && semver_cmp(&seen->ver, &best->ver) <= 0))
			continue;
		l->skipped[l->nskipped++] = seen->version;
	}
	return 0;
}

PAWL_API int pawl_release_list_new(pawl_release_list **out, pawl_updater *u,
				   const pawl_release_opts *opts)
{
	_cleanup_buf_ pawl_buf prefix = PAWL_BUF_INIT(1024);
	struct collect c;
	pawl_release_list *l;
	int r;

	ENSURE(out && u && opts, PAWL_E_INVALID, "releases: NULL argument");
	ENSURE(opts->version >= 1 && opts->version <= PAWL_RELEASE_OPTS_VERSION, PAWL_E_INVALID,
	       "releases: options version %u is not supported", opts->version);
	ENSURE(app_ok(opts->app), PAWL_E_INVALID,
	       "releases: the application must be one non-empty path component");
	ENSURE(!opts->only_version || (*opts->only_version && !strchr(opts->only_version, '/')),
	       PAWL_E_INVALID, "releases: only_version must be one path component");
	ENSURE(opts->n_bad == 0 || opts->bad, PAWL_E_INVALID, "releases: n_bad without bad");
	c.kinds = opts->kinds ? opts->kinds : PAWL_RELEASE_KIND_BIT(PAWL_RELEASE_FOLDER);
	ENSURE(c.kinds & (PAWL_RELEASE_KIND_BIT(PAWL_RELEASE_FOLDER) |
			  PAWL_RELEASE_KIND_BIT(PAWL_RELEASE_IMAGE)),
	       PAWL_E_INVALID, "releases: no known kind asked for (0x%x)", opts->kinds);
	if (opts->only_version)
		GUARD(buf_printf(&prefix, "%s/%s/", opts->app, opts->only_version));
	else
		GUARD(buf_printf(&prefix, "%s/", opts->app));
	if (!u->refreshed)
		GUARD(pawl_updater_refresh(u));
	l = xcalloc(1, sizeof(*l));
	if (!l)
		return PAWL_E_NOMEM;
	c.l = l;
	c.o = opts;
	r = updater_collect_targets(u, prefix.data, collect_one, &c);
	if (r == 0)
		r = decide(l, opts);
	if (r < 0) {
		pawl_release_list_free(l);
		return r;
	}
	*out = l;
	return 0;
}

PAWL_API void pawl_release_list_free(pawl_release_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		release_parts_free(&l->v[i]);
	}
	free(l->v);
	free((void *)l->skipped);
	free(l);
}

PAWL_API size_t pawl_release_list_count(const pawl_release_list *l)
{
	return l ? l->n : 0;
}

PAWL_API const pawl_release *pawl_release_list_get(const pawl_release_list *l, size_t i)
{
	return l && i < l->n ? &l->v[i] : NULL;
}

PAWL_API const pawl_release *pawl_release_list_best(const pawl_release_list *l)
{
	return l ? l->best : NULL;
}

PAWL_API size_t pawl_release_list_skipped_count(const pawl_release_list *l)
{
	return l ? l->nskipped : 0;
}

PAWL_API const char *pawl_release_list_skipped(const pawl_release_list *l, size_t i)
{
	return l && i < l->nskipped ? l->skipped[i] : NULL;
}

PAWL_API int pawl_release_from_target(pawl_release **out, const char *app, const pawl_target *t)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pawl_release *rel;
	int r;

	ENSURE(out && t, PAWL_E_INVALID, "release: NULL argument");
	ENSURE(app_ok(app), PAWL_E_INVALID,
	       "release: the application must be one non-empty path component");
	if (t->custom_json)
		GUARD(pj_parse_copy(&doc, t->custom_json, strlen(t->custom_json), NULL));
	rel = xcalloc(1, sizeof(*rel));
	if (!rel)
		return PAWL_E_NOMEM;
	r = release_read(app, t->path, doc ? pj_root(doc) : NULL, rel);
	if (r == 0) {
		rel->path = xstrdup(t->path);
		if (!rel->path)
			r = PAWL_E_NOMEM;
	}
	if (r < 0) {
		pawl_release_free(rel);
		return r;
	}
	*out = rel;
	return 0;
}

PAWL_API void pawl_release_free(pawl_release *r)
{
	if (!r)
		return;
	free(r->path);
	release_parts_free(r);
	free(r);
}

PAWL_API const char *pawl_release_image_pack(const pawl_release *r)
{
	return r ? r->pack : NULL;
}

PAWL_API int pawl_release_image_format(const pawl_release *r)
{
	return r && r->kind == PAWL_RELEASE_IMAGE ? r->format : 0;
}

PAWL_API const char *pawl_release_image_sums(const pawl_release *r)
{
	return r ? r->sums : NULL;
}

PAWL_API const char *pawl_release_path(const pawl_release *r)
{
	return r ? r->path : NULL;
}

PAWL_API const char *pawl_release_version(const pawl_release *r)
{
	return r ? r->version : NULL;
}

PAWL_API pawl_release_kind pawl_release_kind_of(const pawl_release *r)
{
	return r ? r->kind : PAWL_RELEASE_FOLDER;
}

PAWL_API bool pawl_release_recovery(const pawl_release *r)
{
	return r && r->recovery;
}

PAWL_API bool pawl_release_is_bad(const pawl_release *r)
{
	return r && r->bad;
}

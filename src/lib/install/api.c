/*
 * api.c - pawl/install.h: the public install API over the backend table
 * (backend.h). It checks arguments, picks the backend, and translates
 * between the public structs and the module's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "install/backend.h"
#include "pawl/install.h"

_Static_assert((int)PAWL_INSTALL_NONE == (int)INSTALL_NONE &&
		       (int)PAWL_INSTALL_INSTALLED == (int)INSTALL_INSTALLED &&
		       (int)PAWL_INSTALL_ALREADY_CURRENT == (int)INSTALL_ALREADY_CURRENT &&
		       (int)PAWL_INSTALL_REFUSED_DOWNGRADE == (int)INSTALL_REFUSED_DOWNGRADE &&
		       (int)PAWL_INSTALL_REFUSED_BAD == (int)INSTALL_REFUSED_BAD &&
		       (int)PAWL_INSTALL_HEALTH_FAILED == (int)INSTALL_HEALTH_FAILED &&
		       (int)PAWL_INSTALL_ROLLED_BACK == (int)INSTALL_ROLLED_BACK &&
		       (int)PAWL_INSTALL_INTERRUPTED == (int)INSTALL_INTERRUPTED &&
		       (int)PAWL_INSTALL_ERROR == (int)INSTALL_ERROR &&
		       (int)PAWL_INSTALL_PENDING_REBOOT == (int)INSTALL_PENDING_REBOOT &&
		       (int)PAWL_INSTALL_ALREADY_PENDING == (int)INSTALL_ALREADY_PENDING &&
		       (int)PAWL_INSTALL_CONFIRMED == (int)INSTALL_CONFIRMED &&
		       (int)PAWL_INSTALL_MARKED_GOOD == (int)INSTALL_MARKED_GOOD &&
		       (int)PAWL_INSTALL_MARKED_BAD == (int)INSTALL_MARKED_BAD,
	       "public and internal install outcomes differ");
_Static_assert(PAWL_INSTALL_MAX_BAD == INSTALL_MAX_BAD, "bad marks");
_Static_assert(PAWL_SEMVER_MAX_LEN == SEMVER_MAX_LEN, "version length");

struct pawl_install {
	const install_backend *b;
	void *be;
	pawl_install_transfer xfer; /* of the last pawl_install_release_source */
};

PAWL_API const char *pawl_install_outcome_name(int outcome)
{
	return install_outcome_name((install_outcome)outcome);
}

static int opts_from(const pawl_install_opts *p, const install_backend **ret_b, install_opts *ret)
{
	const install_backend *b;

	ENSURE(p, PAWL_E_INVALID, "install: no options");
	ENSURE(p->version >= 1 && p->version <= PAWL_INSTALL_OPTS_VERSION, PAWL_E_INVALID,
	       "install: options version %u is not supported", p->version);
	b = install_backend_find(p->backend);
	ENSURE(b, PAWL_E_UNSUPPORTED, "install: no backend \"%s\" (this build has: folder, "
	       "slot)", p->backend);
	memset(ret, 0, sizeof(*ret));
	/* A version 1 caller's struct ends at max_entries: the slot fields
	 * are read only from a version 2 one. */
	if (b == &install_backend_slot) {
		ENSURE(p->version >= 2, PAWL_E_INVALID,
		       "install: the slot backend needs options version 2");
		ENSURE(p->state_dir && *p->state_dir && p->slot_a && p->slot_b && p->bootloader,
		       PAWL_E_INVALID, "install: the slot backend needs state_dir, slot_a, "
		       "slot_b and bootloader");
		ENSURE(!p->booted || strcmp(p->booted, "a") == 0 || strcmp(p->booted, "b") == 0,
		       PAWL_E_INVALID, "install: the booted slot is \"a\" or \"b\", not \"%.16s\"",
		       p->booted);
		ret->slot_a = p->slot_a;
		ret->slot_b = p->slot_b;
		ret->bootloader = p->bootloader;
		ret->booted = p->booted;
	} else {
		ENSURE(p->install_dir && *p->install_dir && p->state_dir && *p->state_dir,
		       PAWL_E_INVALID, "install: install_dir and state_dir are required");
	}
	ret->version = INSTALL_OPTS_VERSION;
	ret->install_dir = p->install_dir;
	ret->state_dir = p->state_dir;
	ret->health_cmd = p->health_cmd;
	ret->health_timeout_ms = p->health_timeout_ms;
	ret->lock_timeout_s = p->lock_timeout_s;
	ret->max_unpacked = p->max_unpacked;
	ret->max_ratio = p->max_ratio;
	ret->max_entries = p->max_entries;
	*ret_b = b;
	return 0;
}

static void result_out(pawl_install_result *out, const install_result *r)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->outcome = (int)r->outcome;
	memcpy(out->version, r->version, sizeof(out->version));
	memcpy(out->current, r->current, sizeof(out->current));
	out->health_ran = r->health_ran;
	out->health_timed_out = r->health_timed_out;
	out->health_status = r->health_status;
	_Static_assert(sizeof(out->message) == sizeof(r->message), "message");
	memcpy(out->message, r->message, sizeof(out->message));
}

static void state_out(pawl_install_state *out, const install_state *s)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->installed, s->installed, sizeof(out->installed));
	out->installed_recovery = s->installed_recovery;
	memcpy(out->previous, s->previous, sizeof(out->previous));
	memcpy(out->highest, s->highest, sizeof(out->highest));
	memcpy(out->bad, s->bad, sizeof(out->bad));
	out->nbad = s->nbad;
	out->last_time = s->last_time;
	out->last_outcome = (int)s->last_outcome;
	memcpy(out->last_version, s->last_version, sizeof(out->last_version));
	out->unfinished = s->journal.op != INSTALL_OP_NONE;
}

PAWL_API int pawl_install_open(pawl_install **out, const pawl_install_opts *opts)
{
	install_opts o;
	const install_backend *b;
	pawl_install *pi;
	int r;

	ENSURE(out, PAWL_E_INVALID, "install: NULL argument");
	GUARD(opts_from(opts, &b, &o));
	pi = xcalloc(1, sizeof(*pi));
	if (!pi)
		return PAWL_E_NOMEM;
	pi->b = b;
	r = b->open(&pi->be, &o);
	if (r < 0) {
		free(pi);
		return r;
	}
	*out = pi;
	return 0;
}

PAWL_API void pawl_install_free(pawl_install *pi)
{
	if (!pi)
		return;
	pi->b->close(pi->be);
	free(pi);
}

PAWL_API int pawl_install_get_state(const pawl_install *pi, pawl_install_state *out)
{
	ENSURE(pi && out, PAWL_E_INVALID, "install: NULL argument");
	state_out(out, pi->b->state(pi->be));
	return 0;
}

PAWL_API int pawl_install_state_read(const pawl_install_opts *opts, pawl_install_state *out)
{
	const install_backend *b;
	install_opts o;
	install_state st;

	ENSURE(out, PAWL_E_INVALID, "install: NULL argument");
	GUARD(opts_from(opts, &b, &o));
	GUARD(b->state_read(&o, &st));
	state_out(out, &st);
	return 0;
}

PAWL_API int pawl_install_places(const pawl_install *pi,
				 pawl_install_place out[PAWL_INSTALL_MAX_PLACES], size_t *n)
{
	pawl_install_place tmp[PAWL_INSTALL_MAX_PLACES];
	size_t k = 0;

	ENSURE(pi && out && n, PAWL_E_INVALID, "install: NULL argument");
	memset(tmp, 0, sizeof(tmp));
	GUARD(pi->b->places(pi->be, tmp, PAWL_INSTALL_MAX_PLACES, &k));
	memcpy(out, tmp, k * sizeof(tmp[0]));
	*n = k;
	return 0;
}

PAWL_API int pawl_install_recover(pawl_install *pi, pawl_install_result *out)
{
	install_result r;

	ENSURE(pi, PAWL_E_INVALID, "install: NULL argument");
	memset(&r, 0, sizeof(r));
	GUARD(pi->b->recover(pi->be, &r));
	result_out(out, &r);
	return 0;
}

PAWL_API int pawl_install_release(pawl_install *pi, const pawl_release *rel,
				  const pawl_target *t, int fd, const char *path,
				  pawl_install_result *out)
{
	install_artifact a;
	install_result r;
	const char *name;

	ENSURE(pi && rel && t && out, PAWL_E_INVALID, "install: NULL argument");
	ENSURE(fd >= 0 || path, PAWL_E_INVALID, "install: neither a descriptor nor a path");
	ENSURE(pi->b != &install_backend_slot, PAWL_E_UNSUPPORTED,
	       "install: the slot backend installs an image from a stream "
	       "(pawl_install_release_stream), never from a staged copy");
	ENSURE(strcmp(pawl_release_path(rel), t->path) == 0, PAWL_E_INVALID,
	       "install: the release %s is not the target %s", pawl_release_path(rel), t->path);
	name = strrchr(t->path, '/');
	name = name ? name + 1 : t->path;
	memset(&a, 0, sizeof(a));
	a.version = pawl_release_version(rel);
	a.fd = fd;
	a.path = fd >= 0 ? NULL : path;
	a.name = name;
	a.length = t->length;
	a.hashes = t->hashes;
	a.kind = INSTALL_KIND_AUTO;
	a.recovery = pawl_release_recovery(rel);
	memset(&r, 0, sizeof(r));
	GUARD(pi->b->install(pi->be, &a, &r));
	result_out(out, &r);
	return 0;
}

PAWL_API int pawl_install_check(pawl_install *pi, const pawl_release *rel,
				pawl_install_result *out)
{
	install_result r;

	ENSURE(pi && rel && out, PAWL_E_INVALID, "install: NULL argument");
	memset(&r, 0, sizeof(r));
	if (pi->b->check)
		GUARD(pi->b->check(pi->be, pawl_release_version(rel), pawl_release_recovery(rel),
				   &r));
	result_out(out, &r);
	return 0;
}

/* The signed custom "image" of the index target: it must name index_t
 * and pack_t, and gives the image's length and sha256. */
static int image_custom(const pawl_target *index_t, const pawl_target *pack_t, pj_doc **ret_doc,
			uint64_t *ret_len, const char **ret_sha)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	const pj_value *img, *len;
	const char *idx, *pack, *sha;

	ENSURE(index_t->custom_json, PAWL_E_FORMAT, "install: %s has no custom data",
	       index_t->path);
	GUARD(pj_parse_copy(&doc, index_t->custom_json, strlen(index_t->custom_json), NULL));
	img = pj_get(pj_root(doc), "image");
	len = pj_get(img, "length");
	idx = pj_str(pj_get(img, "index"));
	pack = pj_str(pj_get(img, "pack"));
	sha = pj_str(pj_get(img, "sha256"));
	ENSURE(pj_is_object(img) && pj_is_int(len) && len->u.i > 0 && idx && pack && sha,
	       PAWL_E_FORMAT, "install: %s is not an image release (its custom \"image\" needs "
	       "index, pack, length and sha256)", index_t->path);
	ENSURE(strcmp(idx, index_t->path) == 0, PAWL_E_FORMAT,
	       "install: the image of %s names another index, %.200s", index_t->path, idx);
	ENSURE(strcmp(pack, pack_t->path) == 0, PAWL_E_FORMAT,
	       "install: the image of %s names the pack %.200s, not %s", index_t->path, pack,
	       pack_t->path);
	*ret_len = (uint64_t)len->u.i;
	*ret_sha = sha;
	*ret_doc = TAKE_PTR(doc);
	return 0;
}

PAWL_API int pawl_install_release_stream(pawl_install *pi, const pawl_release *rel,
					 const pawl_target *index_t, const pawl_target *pack_t,
					 pawl_install_read_fn read, void *ctx,
					 pawl_install_result *out)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	install_artifact a;
	install_result r;

	ENSURE(pi && rel && index_t && pack_t && read && out, PAWL_E_INVALID,
	       "install: NULL argument");
	ENSURE(strcmp(pawl_release_path(rel), index_t->path) == 0, PAWL_E_INVALID,
	       "install: the release %s is not the target %s", pawl_release_path(rel),
	       index_t->path);
	ENSURE(pawl_release_kind_of(rel) == PAWL_RELEASE_IMAGE, PAWL_E_INVALID,
	       "install: %s is not an image release", index_t->path);
	memset(&a, 0, sizeof(a));
	GUARD(image_custom(index_t, pack_t, &doc, &a.image_length, &a.image_sha256));
	ENSURE(pi->b == &install_backend_slot, PAWL_E_UNSUPPORTED,
	       "install: the %s backend does not install image streams", pi->b->name);
	a.version = pawl_release_version(rel);
	a.recovery = pawl_release_recovery(rel);
	a.fd = -1;
	a.name = index_t->path;
	a.length = index_t->length;
	a.hashes = index_t->hashes;
	a.kind = INSTALL_KIND_AUTO;
	a.read = read;
	a.read_ctx = ctx;
	a.pack_name = pack_t->path;
	a.pack_length = pack_t->length;
	a.pack_hashes = pack_t->hashes;
	memset(&r, 0, sizeof(r));
	GUARD(pi->b->install(pi->be, &a, &r));
	result_out(out, &r);
	return 0;
}

/* The signed custom "image" of an image release installed from a source:
 * it must name index_t; "pack" (format 2: absent when the version adds no
 * frame), "sums" (format 2) and "format" are checked against the index
 * once it is verified. */
static int image_custom_source(const pawl_target *index_t, pj_doc **ret_doc,
			       install_image_source *a)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	const pj_value *img, *len, *fmt, *pack, *sums;
	const char *idx, *sha;

	ENSURE(index_t->custom_json, PAWL_E_FORMAT, "install: %s has no custom data",
	       index_t->path);
	GUARD(pj_parse_copy(&doc, index_t->custom_json, strlen(index_t->custom_json), NULL));
	img = pj_get(pj_root(doc), "image");
	len = pj_get(img, "length");
	idx = pj_str(pj_get(img, "index"));
	sha = pj_str(pj_get(img, "sha256"));
	fmt = pj_get(img, "format");
	pack = pj_get(img, "pack");
	sums = pj_get(img, "sums");
	ENSURE(pj_is_object(img) && pj_is_int(len) && len->u.i > 0 && idx && sha,
	       PAWL_E_FORMAT, "install: %s is not an image release (its custom \"image\" needs "
	       "index, length and sha256)", index_t->path);
	ENSURE(!fmt || (pj_is_int(fmt) && (fmt->u.i == 1 || fmt->u.i == 2)), PAWL_E_FORMAT,
	       "install: the image of %s has a format other than 1 or 2", index_t->path);
	ENSURE((!pack || pj_str(pack)) && (!sums || pj_str(sums)), PAWL_E_FORMAT,
	       "install: the image of %s names its pack or sums by something not a string",
	       index_t->path);
	ENSURE(strcmp(idx, index_t->path) == 0, PAWL_E_FORMAT,
	       "install: the image of %s names another index, %.200s", index_t->path, idx);
	a->image_length = (uint64_t)len->u.i;
	a->image_sha256 = sha;
	a->format = fmt ? (uint32_t)fmt->u.i : 0;
	a->pack_name = pack ? pj_str(pack) : NULL;
	a->sums_name = sums ? pj_str(sums) : NULL;
	*ret_doc = TAKE_PTR(doc);
	return 0;
}

PAWL_API int pawl_install_release_source(pawl_install *pi, const pawl_release *rel,
					 const pawl_target *index_t,
					 const pawl_install_source *src, pawl_install_result *out)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	install_image_source a;
	install_result r;
	int rc;

	ENSURE(pi && rel && index_t && src && out, PAWL_E_INVALID, "install: NULL argument");
	ENSURE(src->version == PAWL_INSTALL_SOURCE_VERSION && src->target_length && src->open &&
		       src->read && src->close,
	       PAWL_E_INVALID, "install: an image source of version %u, or incomplete",
	       src->version);
	ENSURE(strcmp(pawl_release_path(rel), index_t->path) == 0, PAWL_E_INVALID,
	       "install: the release %s is not the target %s", pawl_release_path(rel),
	       index_t->path);
	ENSURE(pawl_release_kind_of(rel) == PAWL_RELEASE_IMAGE, PAWL_E_INVALID,
	       "install: %s is not an image release", index_t->path);
	memset(&a, 0, sizeof(a));
	GUARD(image_custom_source(index_t, &doc, &a));
	ENSURE(pi->b->install_source, PAWL_E_UNSUPPORTED,
	       "install: the %s backend does not install images", pi->b->name);
	a.version = pawl_release_version(rel);
	a.recovery = pawl_release_recovery(rel);
	a.index_name = index_t->path;
	a.index_length = index_t->length;
	a.index_hashes = index_t->hashes;
	memset(&r, 0, sizeof(r));
	rc = pi->b->install_source(pi->be, &a, src, &pi->xfer, &r);
	GUARD(rc);
	result_out(out, &r);
	return 0;
}

PAWL_API int pawl_install_transfer_get(pawl_install *pi, pawl_install_transfer *out)
{
	ENSURE(pi && out, PAWL_E_INVALID, "install: NULL argument");
	*out = pi->xfer;
	return 0;
}

PAWL_API int pawl_install_slots_read(const pawl_install_opts *opts, pawl_install_slot out[2],
				     char *note, size_t note_size)
{
	const install_backend *b;
	install_opts o;

	ENSURE(out, PAWL_E_INVALID, "install: NULL argument");
	if (note && note_size)
		note[0] = '\0';
	GUARD(opts_from(opts, &b, &o));
	ENSURE(b->slots_read, PAWL_E_UNSUPPORTED, "install: the %s backend has no slots",
	       b->name);
	memset(out, 0, 2 * sizeof(out[0]));
	return b->slots_read(&o, out, note, note && note_size ? note_size : 0);
}

PAWL_API int pawl_install_confirm(pawl_install *pi, pawl_install_result *out)
{
	install_result r;

	ENSURE(pi, PAWL_E_INVALID, "install: NULL argument");
	memset(&r, 0, sizeof(r));
	if (pi->b->confirm)
		GUARD(pi->b->confirm(pi->be, &r));
	result_out(out, &r);
	return 0;
}

PAWL_API int pawl_install_mark(pawl_install *pi, bool good, pawl_install_result *out)
{
	install_result r;

	ENSURE(pi && out, PAWL_E_INVALID, "install: NULL argument");
	ENSURE(pi->b->mark, PAWL_E_UNSUPPORTED, "install: the %s backend marks releases as it "
	       "installs them (after their health check); there is nothing to mark by hand",
	       pi->b->name);
	memset(&r, 0, sizeof(r));
	GUARD(pi->b->mark(pi->be, good, &r));
	result_out(out, &r);
	return 0;
}

PAWL_API int pawl_install_rollback(pawl_install *pi, bool previous_is_recovery,
				   pawl_install_result *out)
{
	install_result r;

	ENSURE(pi && out, PAWL_E_INVALID, "install: NULL argument");
	memset(&r, 0, sizeof(r));
	GUARD(pi->b->rollback(pi->be, previous_is_recovery, &r));
	result_out(out, &r);
	return 0;
}

PAWL_API int pawl_install_clear_bad(pawl_install *pi, const char *version)
{
	ENSURE(pi && version, PAWL_E_INVALID, "install: NULL argument");
	return pi->b->clear_bad(pi->be, version);
}

/*
 * backend.c - the slot backend of the install interface (install/backend.h,
 * pawl/install.h backend "slot"): the table of operations over the slot
 * installer (slot.h). It lives in the slot module because that module
 * already depends on the install one (the version rules); install/ only
 * names install_backend_slot.
 *
 * What it maps:
 *   install   slot_install: the artifact is a stream (index then pack),
 *             never a staged file; SLOT_SWITCHED is PENDING_REBOOT
 *   check     slot_check: the forward-only decision before a download
 *   confirm   slot_confirm (CONFIRMED, or HEALTH_FAILED: reboot)
 *   mark      slot_mark_good / slot_mark_bad (MARKED_GOOD / MARKED_BAD)
 *   recover   slot_recover
 *   state     slots.json as an install_state: "installed" is what the
 *             booted slot holds, "previous" what the other one holds
 *   places    "a" and "b"
 *   rollback, clear_bad: PAWL_E_UNSUPPORTED (mark-bad and a reboot go
 *             back; the slot installer keeps bad versions for good)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "install/backend.h"
#include "slot/delta.h"
#include "slot/slot.h"

struct slot_be {
	boot_backend *boot;
	slot_ctx *s;
	install_state st; /* slot_get_state(s), as an install_state */
};

static install_outcome outcome_of(slot_outcome o)
{
	switch (o) {
	case SLOT_NONE: return INSTALL_NONE;
	case SLOT_SWITCHED: return INSTALL_PENDING_REBOOT;
	case SLOT_ALREADY_CURRENT: return INSTALL_ALREADY_CURRENT;
	case SLOT_ALREADY_PENDING: return INSTALL_ALREADY_PENDING;
	case SLOT_REFUSED_DOWNGRADE: return INSTALL_REFUSED_DOWNGRADE;
	case SLOT_REFUSED_BAD: return INSTALL_REFUSED_BAD;
	case SLOT_CONFIRMED: return INSTALL_CONFIRMED;
	case SLOT_HEALTH_FAILED: return INSTALL_HEALTH_FAILED;
	case SLOT_MARKED_GOOD: return INSTALL_MARKED_GOOD;
	case SLOT_MARKED_BAD: return INSTALL_MARKED_BAD;
	case SLOT_INTERRUPTED: return INSTALL_INTERRUPTED;
	case SLOT_ERROR: return INSTALL_ERROR;
	}
	return INSTALL_ERROR;
}

static void state_of(install_state *out, const slot_state *st, boot_slot booted)
{
	boot_slot other = booted == BOOT_SLOT_B ? BOOT_SLOT_A : BOOT_SLOT_B;

	memset(out, 0, sizeof(*out));
	if (booted == BOOT_SLOT_A || booted == BOOT_SLOT_B) {
		memcpy(out->installed, st->slot[booted].version, sizeof(out->installed));
		out->installed_recovery = st->slot[booted].recovery;
		memcpy(out->previous, st->slot[other].version, sizeof(out->previous));
	}
	memcpy(out->highest, st->highest, sizeof(out->highest));
	_Static_assert(SLOT_MAX_BAD == INSTALL_MAX_BAD, "bad lists");
	memcpy(out->bad, st->bad, sizeof(out->bad));
	out->nbad = st->nbad;
	out->last_time = st->last_time;
	out->last_outcome = outcome_of(st->last_outcome);
	memcpy(out->last_version, st->last_version, sizeof(out->last_version));
	/* Only "journalled or not" crosses the interface (unfinished). */
	out->journal.op = st->journal != BOOT_SLOT_NONE ? INSTALL_OP_INSTALL : INSTALL_OP_NONE;
}

static void refresh_state(struct slot_be *be)
{
	state_of(&be->st, slot_get_state(be->s), slot_booted(be->s));
}

static void result_of(struct slot_be *be, install_result *out, const slot_result *r)
{
	_Static_assert(sizeof(out->message) == sizeof(r->message), "message");
	const slot_state *st = slot_get_state(be->s);
	boot_slot booted = slot_booted(be->s);

	memset(out, 0, sizeof(*out));
	out->outcome = outcome_of(r->outcome);
	memcpy(out->version, r->version, sizeof(out->version));
	if (booted == BOOT_SLOT_A || booted == BOOT_SLOT_B)
		memcpy(out->current, st->slot[booted].version, sizeof(out->current));
	out->health_ran = r->health_ran;
	out->health_timed_out = r->health_timed_out;
	out->health_status = r->health_status;
	if (r->fell_back[0]) {
		char m[sizeof(r->message) + sizeof(r->fell_back) + 64];

		snprintf(m, sizeof(m), "the bootloader fell back from %s, now marked bad%s%s",
			 r->fell_back, r->message[0] ? "; " : "", r->message);
		memcpy(out->message, m, sizeof(out->message) - 1);
	} else {
		memcpy(out->message, r->message, sizeof(out->message));
	}
	refresh_state(be);
}

static int opts_of(const install_opts *o, boot_backend *boot, bool readonly, slot_opts *ret)
{
	boot_slot booted = BOOT_SLOT_NONE;

	if (o->booted)
		GUARD(boot_slot_parse(o->booted, &booted));
	*ret = (slot_opts)SLOT_OPTS_INIT;
	ret->state_dir = o->state_dir;
	ret->slot_a = o->slot_a;
	ret->slot_b = o->slot_b;
	ret->boot = boot;
	ret->booted = booted;
	ret->health_cmd = o->health_cmd;
	ret->health_timeout_ms = o->health_timeout_ms;
	ret->lock_timeout_s = o->lock_timeout_s;
	ret->readonly = readonly;
	return 0;
}

static int open_ro(const install_opts *o, bool readonly, struct slot_be *be)
{
	slot_opts so;
	int r;

	ENSURE(o->slot_a && o->slot_b && o->bootloader, PAWL_E_INVALID,
	       "slot backend: slot_a, slot_b and bootloader are required");
	GUARD(boot_open(o->bootloader, NULL, &be->boot));
	r = opts_of(o, be->boot, readonly, &so);
	if (r == 0)
		r = slot_open(&be->s, &so);
	if (r < 0) {
		boot_free(be->boot);
		be->boot = NULL;
		return r;
	}
	refresh_state(be);
	return 0;
}

static void close_be(struct slot_be *be)
{
	slot_close(be->s);
	boot_free(be->boot);
	be->s = NULL;
	be->boot = NULL;
}

static int sb_open(void **ret, const install_opts *o)
{
	struct slot_be *be = calloc(1, sizeof(*be));
	int r;

	if (!be)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	r = open_ro(o, false, be);
	if (r < 0) {
		free(be);
		return r;
	}
	*ret = be;
	return 0;
}

static void sb_close(void *p)
{
	if (!p)
		return;
	close_be(p);
	free(p);
}

static int sb_state_read(const install_opts *o, install_state *ret)
{
	struct slot_be be = { 0 };

	GUARD(open_ro(o, true, &be));
	*ret = be.st;
	close_be(&be);
	return 0;
}

static const install_state *sb_state(const void *p)
{
	return &((const struct slot_be *)p)->st;
}

static int sb_recover(void *p, install_result *ret)
{
	struct slot_be *be = p;
	slot_result r;

	memset(&r, 0, sizeof(r));
	GUARD(slot_recover(be->s, &r));
	result_of(be, ret, &r);
	return 0;
}

static int sb_check(void *p, const char *version, bool recovery, install_result *ret)
{
	struct slot_be *be = p;
	slot_result r;

	memset(&r, 0, sizeof(r));
	GUARD(slot_check(be->s, version, recovery, &r));
	result_of(be, ret, &r);
	return 0;
}

static int sb_install(void *p, const install_artifact *a, install_result *ret)
{
	struct slot_be *be = p;
	slot_release rel;
	slot_result r;
	int rc;

	ENSURE(a->read && a->pack_name && a->image_sha256, PAWL_E_UNSUPPORTED,
	       "slot backend: an image is installed from a stream of its index and pack, "
	       "never from a staged file");
	memset(&rel, 0, sizeof(rel));
	rel.version = a->version;
	rel.recovery = a->recovery;
	rel.index_length = a->length;
	rel.index_hashes = a->hashes;
	rel.pack_name = a->pack_name;
	rel.pack_length = a->pack_length;
	rel.pack_hashes = a->pack_hashes;
	rel.image_length = a->image_length;
	rel.image_sha256 = a->image_sha256;
	rel.fd = -1;
	rel.read = a->read;
	rel.read_ctx = a->read_ctx;
	memset(&r, 0, sizeof(r));
	rc = slot_install(be->s, &rel, &r);
	refresh_state(be);
	if (rc < 0)
		return rc;
	result_of(be, ret, &r);
	return 0;
}

static int sb_install_source(void *p, const install_image_source *a,
			     const pawl_install_source *src, pawl_install_transfer *xfer,
			     install_result *ret)
{
	struct slot_be *be = p;
	slot_source_release rel;
	slot_result r;
	int rc;

	memset(&rel, 0, sizeof(rel));
	rel.version = a->version;
	rel.recovery = a->recovery;
	rel.index_name = a->index_name;
	rel.index_length = a->index_length;
	rel.index_hashes = a->index_hashes;
	rel.image_length = a->image_length;
	rel.image_sha256 = a->image_sha256;
	rel.pack_name = a->pack_name;
	rel.sums_name = a->sums_name;
	rel.format = a->format;
	memset(&r, 0, sizeof(r));
	rc = slot_install_source(be->s, &rel, src, xfer, &r);
	refresh_state(be);
	if (rc < 0)
		return rc;
	result_of(be, ret, &r);
	return 0;
}

static int sb_confirm(void *p, install_result *ret)
{
	struct slot_be *be = p;
	slot_result r;

	memset(&r, 0, sizeof(r));
	GUARD(slot_confirm(be->s, &r));
	result_of(be, ret, &r);
	return 0;
}

static int sb_mark(void *p, bool good, install_result *ret)
{
	struct slot_be *be = p;
	slot_result r;

	memset(&r, 0, sizeof(r));
	GUARD(good ? slot_mark_good(be->s, &r) : slot_mark_bad(be->s, &r));
	result_of(be, ret, &r);
	return 0;
}

static int sb_rollback(void *p, bool previous_is_recovery, install_result *ret)
{
	(void)p;
	(void)previous_is_recovery;
	(void)ret;
	return pawl_error_set(PAWL_E_UNSUPPORTED, "slot backend: there is no rollback command; "
			      "mark-bad the booted slot and reboot into the other one");
}

static int sb_clear_bad(void *p, const char *version)
{
	(void)p;
	return pawl_error_set(PAWL_E_UNSUPPORTED, "slot backend: a version marked bad (%.64s) "
			      "stays bad; publish a higher one", version);
}

/* The booted slot is ACTIVE ("what runs now") even while it is pending
 * its confirm: the first boot of a new slot whose bootloader already calls
 * it good (U-Boot with tries left, a custom script) is still the one
 * running, and confirm names it by this. */
static int place_state(const slot_info *in)
{
	if (in->booted)
		return PAWL_INSTALL_PLACE_ACTIVE;
	if (in->pending && in->state_known && in->state == BOOT_GOOD)
		return PAWL_INSTALL_PLACE_PENDING;
	if (in->state_known && in->state == BOOT_BAD)
		return PAWL_INSTALL_PLACE_BAD;
	if (!in->record.version[0])
		return PAWL_INSTALL_PLACE_EMPTY;
	return PAWL_INSTALL_PLACE_INACTIVE;
}

static int sb_places(const void *p, pawl_install_place *out, size_t max, size_t *ret_n)
{
	const struct slot_be *be = p;
	slot_status *st;
	int r;

	ENSURE(max >= 2, PAWL_E_INVALID, "install: room for 2 places needed");
	st = calloc(1, sizeof(*st));
	if (!st)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	r = slot_status_get(be->s, st);
	if (r == 0) {
		for (int i = 0; i < 2; i++) {
			snprintf(out[i].name, sizeof(out[i].name), "%s", i ? "b" : "a");
			memcpy(out[i].version, st->slot[i].record.version, sizeof(out[i].version));
			out[i].state = place_state(&st->slot[i]);
		}
		*ret_n = 2;
	}
	free(st);
	return r;
}

static int sb_slots_read(const install_opts *o, pawl_install_slot out[2], char *note,
			 size_t note_size)
{
	struct slot_be be = { 0 };
	slot_status *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	r = open_ro(o, true, &be);
	if (r == 0)
		r = slot_status_get(be.s, st);
	if (r == 0) {
		for (int i = 0; i < 2; i++) {
			const slot_info *in = &st->slot[i];

			snprintf(out[i].name, sizeof(out[i].name), "%s", i ? "b" : "a");
			snprintf(out[i].path, sizeof(out[i].path), "%s", in->path);
			memcpy(out[i].version, in->record.version, sizeof(out[i].version));
			out[i].recovery = in->record.recovery;
			out[i].state = !in->state_known ? PAWL_INSTALL_SLOT_UNKNOWN :
				       in->state == BOOT_GOOD ? PAWL_INSTALL_SLOT_GOOD :
								PAWL_INSTALL_SLOT_BAD;
			out[i].primary = in->primary;
			out[i].booted = in->booted;
			out[i].pending = in->pending;
		}
		if (note_size)
			snprintf(note, note_size, "%s", st->error);
	}
	if (be.s)
		close_be(&be);
	free(st);
	return r;
}

const install_backend install_backend_slot = {
	.name = "slot",
	.open = sb_open,
	.close = sb_close,
	.state_read = sb_state_read,
	.state = sb_state,
	.recover = sb_recover,
	.install = sb_install,
	.confirm = sb_confirm,
	.mark = sb_mark,
	.rollback = sb_rollback,
	.clear_bad = sb_clear_bad,
	.places = sb_places,
	.check = sb_check,
	.install_source = sb_install_source,
	.slots_read = sb_slots_read,
};

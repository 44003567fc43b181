/*
 * backend.h - where and how a verified release is installed: the table of
 * operations behind pawl/install.h (api.c), one backend per file.
 *
 *   folder.c  releases/VERSION folders and the `current` link: install.c
 *             (the transaction), archive.c, health.c, state.c (install.h)
 *   slot      A/B image slots: src/lib/slot/backend.c over slot.h (issue
 *             18); it lives in the slot module, which depends on this one
 *
 * The operations follow one transaction, which a backend may spread over
 * several runs of the program with a reboot between them:
 *
 *   recover    start of every run: undo what a crash left unfinished
 *   install    copy the artifact in while checking it against the signed
 *              length and hashes, refuse downgrades and bad versions, put
 *              it in place and switch to it. The folder backend then runs
 *              the health check and commits or switches back, all in this
 *              call; a slot backend writes the inactive slot, makes the
 *              bootloader try it once, and ends with INSTALL_PENDING_REBOOT.
 *   confirm    the run after that reboot: health check, then mark good, or
 *              mark bad and switch back (NULL: nothing is ever pending,
 *              outcome INSTALL_NONE)
 *   mark       mark what runs good or bad by hand (the slot backend's
 *              mark-good / mark-bad on the booted slot; NULL: the
 *              backend marks as it installs, PAWL_E_UNSUPPORTED)
 *   rollback   back to the previous release (signed as recovery)
 *   clear_bad  forget a bad mark
 *   state      the durable state (installed, previous, highest, bad, last)
 *   places     where releases live, for a status: two for each backend
 *              today ("current"/"previous", or the slots)
 *
 * What the slot backend adds when it plugs in (issue 18): its own fields
 * in install_opts and pawl_install_opts under the next options version
 * (the two slot devices, the bootloader, the booted-slot override), and
 * an artifact read as a stream of verified pieces rather than a staged
 * file (a source member of install_artifact), so that no copy of the
 * image is kept anywhere. The state (installed, previous, highest, bad,
 * last) and its anti-downgrade rule are the same for every backend.
 *
 * Every operation follows the library's rules: 0 or a negative pawl_err
 * with the detail in pawl_error_last(), outcomes in install_result,
 * nothing printed.
 */
#ifndef PAWL_INSTALL_BACKEND_H
#define PAWL_INSTALL_BACKEND_H

#include "install/install.h"
#include "pawl/install.h"

/* An image release to install from a source: everything from the index
 * target's verified entry and its signed custom "image". */
typedef struct install_image_source {
	const char *version;
	bool recovery;
	const char *index_name;       /* the index target's path */
	uint64_t index_length;        /* ... its signed length */
	const pj_value *index_hashes; /* ... and hashes */
	uint64_t image_length;        /* custom "image": "length" */
	const char *image_sha256;     /* ... "sha256" */
	const char *pack_name;        /* ... "pack", or NULL */
	const char *sums_name;        /* ... "sums", or NULL */
	uint32_t format;              /* ... "format", 0 when absent */
} install_image_source;

typedef struct install_backend {
	const char *name;
	PAWL_MUST_USE int (*open)(void **ret, const install_opts *o);
	void (*close)(void *be);
	/* Without the lock, changing nothing; no state yet: an empty one. */
	PAWL_MUST_USE int (*state_read)(const install_opts *o, install_state *ret);
	const install_state *(*state)(const void *be);
	PAWL_MUST_USE int (*recover)(void *be, install_result *ret);
	PAWL_MUST_USE int (*install)(void *be, const install_artifact *a, install_result *ret);
	PAWL_MUST_USE int (*confirm)(void *be, install_result *ret); /* may be NULL */
	PAWL_MUST_USE int (*mark)(void *be, bool good, install_result *ret); /* may be NULL */
	PAWL_MUST_USE int (*rollback)(void *be, bool previous_is_recovery, install_result *ret);
	PAWL_MUST_USE int (*clear_bad)(void *be, const char *version);
	PAWL_MUST_USE int (*places)(const void *be, pawl_install_place *out, size_t max,
				    size_t *ret_n);
	/* The forward-only decision before any download (NULL: the backend
	 * decides as it installs, INSTALL_NONE). */
	PAWL_MUST_USE int (*check)(void *be, const char *version, bool recovery,
				   install_result *ret);
	/* An image release from a pawl_install_source (pawl/install.h;
	 * NULL: the backend installs no images). xfer receives what was
	 * reused and fetched, also after a failure. */
	PAWL_MUST_USE int (*install_source)(void *be, const install_image_source *a,
					    const pawl_install_source *src,
					    pawl_install_transfer *xfer, install_result *ret);
	/* Both slots, read-only (NULL: not a slot backend). */
	PAWL_MUST_USE int (*slots_read)(const install_opts *o, pawl_install_slot out[2],
					char *note, size_t note_size);
} install_backend;

extern const install_backend install_backend_folder;
extern const install_backend install_backend_slot;

/* The backend called name (NULL: "folder"), or NULL. */
const install_backend *install_backend_find(const char *name);

#endif

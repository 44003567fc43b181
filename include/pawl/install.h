/*
 * pawl/install.h - the install state machine: put a verified release in
 * place, switch to it, confirm it is healthy or roll back, and never move
 * to an older release unless the publisher signed a recovery release.
 *
 * The work is done by a backend, chosen by pawl_install_opts.backend:
 *
 *   "folder"  (the default) each release is unpacked into
 *             INSTALL_DIR/releases/VERSION and INSTALL_DIR/current, a
 *             symbolic link, is switched to it by one rename; the health
 *             command runs at once, and a failure switches back. Install,
 *             switch, confirm or roll back all happen in one call.
 *   "slot"    A/B image slots (options version 2: slot_a, slot_b,
 *             bootloader, booted). pawl_install_release_stream() writes
 *             the inactive slot from a stream of pieces, each verified
 *             against the release's signed index before it is
 *             decompressed or written, and makes the bootloader try it on
 *             the next boot: the call ends with PAWL_INSTALL_PENDING_REBOOT,
 *             and pawl_install_confirm() in the run after the reboot marks
 *             it good (PAWL_INSTALL_CONFIRMED) or bad
 *             (PAWL_INSTALL_HEALTH_FAILED: reboot into the other slot).
 *             The booted slot is never written. Its places are "a" and
 *             "b"; pawl_install_slots_read() shows the bootloader's view.
 *             install_dir is not used. pawl_install_release() (a staged
 *             file) is PAWL_E_UNSUPPORTED: no copy of an image is kept.
 *
 * Guarantees, whatever the backend:
 *  - Re-verification: the artifact is read once, into the backend's own
 *    private copy (the slot backend: into the inactive slot, piece by
 *    verified piece), and checked against the signed length and every signed
 *    hash of the trusted target entry before anything uses it.
 *  - Anti-downgrade: the highest version ever installed is kept durably;
 *    a release of lower or equal precedence is refused (not an error: the
 *    outcome says so) unless it is signed as a recovery release.
 *  - A version that failed its health check is marked bad and refused
 *    until pawl_install_clear_bad().
 *  - Crash safety: every transaction is journalled before each step;
 *    pawl_install_recover() undoes whatever was not committed.
 *  - One process at a time: pawl_install_open() takes STATE_DIR/.lock and
 *    holds it until pawl_install_free().
 *  - A state file that does not parse strictly is PAWL_E_FORMAT: guessing
 *    the highest installed version could allow a downgrade.
 *
 * Results are 0 with an outcome for every decision (installed, current,
 * refused, health failed, ...) and a negative pawl_err when the step could
 * not be done (PAWL_E_LENGTH/PAWL_E_HASH: the artifact's bytes do not
 * match what is signed; PAWL_E_POLICY/PAWL_E_FORMAT/PAWL_E_LIMIT: an
 * archive refused; PAWL_E_LOCKED; PAWL_E_IO ...).
 *
 * The result and state structs are caller-allocated and their layout is
 * part of the ABI (docs/abi.md).
 */
#ifndef PAWL_INSTALL_API_H
#define PAWL_INSTALL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/release.h"
#include "pawl/semver.h"
#include "pawl/updater.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pawl_install_outcome {
	PAWL_INSTALL_NONE = 0,          /* nothing to do */
	PAWL_INSTALL_INSTALLED,         /* the new release is the current one */
	PAWL_INSTALL_ALREADY_CURRENT,   /* that exact version is installed */
	PAWL_INSTALL_REFUSED_DOWNGRADE, /* not higher than the highest ever
					 * installed, and not signed as recovery */
	PAWL_INSTALL_REFUSED_BAD,       /* failed a health check before */
	PAWL_INSTALL_HEALTH_FAILED,     /* switched back; the version is marked bad */
	PAWL_INSTALL_ROLLED_BACK,       /* moved to the previous release */
	PAWL_INSTALL_INTERRUPTED,       /* recover undid an unfinished transaction */
	PAWL_INSTALL_ERROR,             /* only as the state's last outcome */
	PAWL_INSTALL_PENDING_REBOOT,    /* written and switched; confirmed after
					 * the next boot (slot backend) */
	PAWL_INSTALL_ALREADY_PENDING,   /* (slot) that version was written and
					 * switched to already: reboot to run it */
	PAWL_INSTALL_CONFIRMED,         /* (slot) health passed, marked good */
	PAWL_INSTALL_MARKED_GOOD,       /* (slot) marked good by hand */
	PAWL_INSTALL_MARKED_BAD,        /* (slot) marked bad by hand: reboot */
} pawl_install_outcome;

/* "installed", "refused_downgrade", ... (the names the state file and the
 * audit log use); "unknown" for anything else. */
PAWL_API const char *pawl_install_outcome_name(int outcome);

/* 1: up to max_entries; 2: the slot backend's fields appended. A caller
 * built against version 1 keeps working: its version says where its
 * struct ends. */
#define PAWL_INSTALL_OPTS_VERSION 2

typedef struct pawl_install_opts {
	unsigned version;           /* PAWL_INSTALL_OPTS_VERSION */
	const char *backend;        /* "folder"; NULL: "folder" */
	const char *install_dir;    /* required; created (0755) when missing */
	const char *state_dir;      /* required; created (0755) when missing */
	const char *health_cmd;     /* run as /bin/sh -c CMD; NULL: always healthy */
	unsigned health_timeout_ms; /* 0: 60000 */
	unsigned lock_timeout_s;    /* 0: try the lock once (PAWL_E_LOCKED) */
	/* Unpacked bytes may not exceed min(max_unpacked, max(max_ratio x the
	 * archive's length, 1 MiB)). 0: 4 GiB, 64. */
	uint64_t max_unpacked;
	uint32_t max_ratio;
	uint32_t max_entries;       /* 0: 100000 */
	/* version 2: the slot backend ("slot"), which needs all three of
	 * slot_a, slot_b and bootloader (install_dir is then not used) */
	const char *slot_a;         /* absolute path: a block device or a */
	const char *slot_b;         /* regular file owned by root */
	const char *bootloader;     /* "grub:ENVFILE", "uboot:FW_ENV_CONFIG" or
				     * "custom:SCRIPT" */
	const char *booted;         /* "a" or "b": the booted slot, overriding
				     * the kernel command line (pawl.slot=);
				     * NULL: read it from there */
} pawl_install_opts;

#define PAWL_INSTALL_OPTS_INIT { .version = PAWL_INSTALL_OPTS_VERSION }

/* Versions marked bad that a state keeps (the lowest go first). */
#define PAWL_INSTALL_MAX_BAD 64

typedef struct pawl_install_result {
	int outcome;                            /* a pawl_install_outcome */
	char version[PAWL_SEMVER_MAX_LEN + 1];  /* the version acted on */
	char current[PAWL_SEMVER_MAX_LEN + 1];  /* what runs now ("" none) */
	bool health_ran;
	bool health_timed_out;
	int health_status;                      /* wait status of the command */
	char message[256];                      /* why, for refusals and failures */
} pawl_install_result;

/* The durable state; "" stands for none. */
typedef struct pawl_install_state {
	char installed[PAWL_SEMVER_MAX_LEN + 1];
	bool installed_recovery;                /* it came as a recovery release */
	char previous[PAWL_SEMVER_MAX_LEN + 1]; /* kept for rollback */
	char highest[PAWL_SEMVER_MAX_LEN + 1];  /* highest ever installed */
	char bad[PAWL_INSTALL_MAX_BAD][PAWL_SEMVER_MAX_LEN + 1];
	uint32_t nbad;
	int64_t last_time;                      /* of the last outcome; 0 none */
	int last_outcome;                       /* PAWL_INSTALL_NONE: none yet */
	char last_version[PAWL_SEMVER_MAX_LEN + 1];
	bool unfinished;                        /* a transaction is journalled */
} pawl_install_state;

/* Where releases live, as a status shows them: the folder backend has
 * "current" (and "previous" when one is kept); the slot backend has its
 * two slots, "a" and "b" (ACTIVE: booted; PENDING: switched to, not yet
 * confirmed; BAD: the bootloader will not boot it; INACTIVE: the other
 * one, good; EMPTY: never written by pawl or its write interrupted). */
typedef enum pawl_install_place_state {
	PAWL_INSTALL_PLACE_EMPTY = 0,
	PAWL_INSTALL_PLACE_ACTIVE,   /* what runs now */
	PAWL_INSTALL_PLACE_INACTIVE, /* kept, for rollback */
	PAWL_INSTALL_PLACE_PENDING,  /* switched to, not yet confirmed */
	PAWL_INSTALL_PLACE_BAD,      /* holds a version marked bad */
} pawl_install_place_state;

typedef struct pawl_install_place {
	char name[32];                          /* "current", "previous", "A" ... */
	char version[PAWL_SEMVER_MAX_LEN + 1];  /* "" when empty */
	int state;                              /* a pawl_install_place_state */
} pawl_install_place;

#define PAWL_INSTALL_MAX_PLACES 8

typedef struct pawl_install pawl_install;

/* Create the directories when needed, take STATE_DIR/.lock and load the
 * state. PAWL_E_INVALID: a NULL argument, a missing directory option or
 * an unknown options version; PAWL_E_UNSUPPORTED: an unknown backend. */
PAWL_API PAWL_MUST_USE int pawl_install_open(pawl_install **out, const pawl_install_opts *opts);
/* Release the lock and free; accepts NULL. */
PAWL_API void pawl_install_free(pawl_install *pi);

/* The state as last written (or loaded). */
PAWL_API PAWL_MUST_USE int pawl_install_get_state(const pawl_install *pi,
						  pawl_install_state *out);

/* Read the state of opts's backend without locking or changing anything
 * (for a status command). No state yet gives an empty one. */
PAWL_API PAWL_MUST_USE int pawl_install_state_read(const pawl_install_opts *opts,
						   pawl_install_state *out);

/* The places releases live in (at most PAWL_INSTALL_MAX_PLACES), as the
 * state holds them: out[0..*n). */
PAWL_API PAWL_MUST_USE int pawl_install_places(const pawl_install *pi,
					       pawl_install_place out[PAWL_INSTALL_MAX_PLACES],
					       size_t *n);

/* Bring the installation back to a committed state after a crash: run it
 * first in every update. out may be NULL; outcome NONE when there was
 * nothing to undo. */
PAWL_API PAWL_MUST_USE int pawl_install_recover(pawl_install *pi, pawl_install_result *out);

/*
 * Install rel, whose trusted entry is t (pawl_release_path(rel) must be
 * t's path): the artifact is read from fd (from offset 0, not closed) or,
 * when fd < 0, opened from path without following a link, and checked
 * against t's signed length and hashes as it is copied. The release's
 * version and recovery flag are rel's. The outcome is in *out.
 */
PAWL_API PAWL_MUST_USE int pawl_install_release(pawl_install *pi, const pawl_release *rel,
						const pawl_target *t, int fd, const char *path,
						pawl_install_result *out);

/* Reads the stream of an image release: up to cap bytes into buf, *ret_n
 * = 0 at its end; a negative pawl_err (with the error set) stops the
 * install with that code. */
typedef int (*pawl_install_read_fn)(void *ctx, void *buf, size_t cap, size_t *ret_n);

/*
 * The forward-only decision alone, before anything is downloaded: outcome
 * PAWL_INSTALL_NONE when rel may be installed, or the refusal
 * (PAWL_INSTALL_REFUSED_DOWNGRADE, _REFUSED_BAD, _ALREADY_CURRENT,
 * _ALREADY_PENDING) with its reason in out->message; nothing is recorded.
 * The folder backend decides as it installs: always NONE.
 */
PAWL_API PAWL_MUST_USE int pawl_install_check(pawl_install *pi, const pawl_release *rel,
					      pawl_install_result *out);

/*
 * Install the image release rel (pawl-repo release --image) from a stream:
 * the bytes of its index target (index_t, the release's own entry:
 * pawl_release_path(rel) must be its path) followed by those of its pack
 * target (pack_t, the path pawl_release_image_pack(rel) names), as read
 * returns them; nothing is staged. The index is checked against
 * index_t's signed length and hashes before it is parsed and against the
 * release's signed custom data; every piece against the index before it
 * is decompressed and after; the pack against pack_t, the image against
 * the index; only then, after a flush, does the bootloader switch. The
 * slot backend only (others: PAWL_E_UNSUPPORTED). Outcomes:
 * PAWL_INSTALL_PENDING_REBOOT, or a decision as pawl_install_check's.
 * Errors: PAWL_E_HASH / PAWL_E_LENGTH (the stream is not what is signed),
 * PAWL_E_FORMAT, PAWL_E_POLICY (a wrong slot device, an unconfirmed
 * booted slot), PAWL_E_LIMIT (a slot too small), PAWL_E_IO, or read's own
 * code; after any of them the bootloader still boots the old slot.
 */
PAWL_API PAWL_MUST_USE int pawl_install_release_stream(pawl_install *pi, const pawl_release *rel,
						       const pawl_target *index_t,
						       const pawl_target *pack_t,
						       pawl_install_read_fn read, void *ctx,
						       pawl_install_result *out);

/* One byte range of a signed target, as an image install asks for it. */
typedef struct pawl_install_range {
	const char *target; /* the target's path (as in the signed metadata) */
	uint64_t offset;
	uint64_t length;    /* >= 1 */
} pawl_install_range;

#define PAWL_INSTALL_SOURCE_VERSION 1

/*
 * Where an image install gets its bytes (the program: an unprivileged
 * fetcher; a test: files). Nothing it returns is trusted: every byte is
 * checked against the release's signed index before it is used.
 */
typedef struct pawl_install_source {
	unsigned version; /* PAWL_INSTALL_SOURCE_VERSION */
	void *ctx;
	/* The signed length of target `path` from the caller's trusted
	 * metadata; PAWL_E_NOT_FOUND (error set) when it is not a target. */
	int (*target_length)(void *ctx, const char *path, uint64_t *ret_length);
	/* Start one stream that carries exactly the bytes of r[0..n), in that
	 * order and nothing else. The ranges of one target come sorted and do
	 * not overlap; each lies inside the target's signed length. */
	int (*open)(void *ctx, const pawl_install_range *r, size_t n);
	/* Read the open stream; *ret_n = 0 at its end. */
	pawl_install_read_fn read;
	/* End the open stream, whether or not it was read to its end: 0 when
	 * the transfer itself went well, else its error (a network failure
	 * explains a short stream better than the short stream does). */
	int (*close)(void *ctx);
} pawl_install_source;

/*
 * Install the image release rel from src (the slot backend only):
 *  - format 1 (docs/image-format.md): the index target whole, then the
 *    pack whole, as pawl_install_release_stream();
 *  - format 2: the index whole, checked against index_t's signed length
 *    and hashes and rel's custom data; then the pieces the device already
 *    holds (the booted slot, the target slot, pieces written in this
 *    update) are reused, each checked against the signed sums before it
 *    is written, and only the frames that hold the others are fetched,
 *    as byte ranges of the packs the index names. The same order and
 *    guarantees as pawl_install_release_stream() otherwise: the target
 *    is marked bad before its first byte, read back whole against the
 *    image's sha256, and only then switched to.
 * Outcomes and errors as pawl_install_release_stream(); a source that
 * fails (open, read or close) stops the install with its code.
 */
PAWL_API PAWL_MUST_USE int pawl_install_release_source(pawl_install *pi, const pawl_release *rel,
						       const pawl_target *index_t,
						       const pawl_install_source *src,
						       pawl_install_result *out);

/* What the last pawl_install_release_source() on pi reused and fetched
 * (zero before one ran; kept after a failure, for the log). */
typedef struct pawl_install_transfer {
	uint32_t format;        /* of the index: 1 or 2 */
	uint64_t pieces;        /* the image's pieces (format 1: its pieces) */
	uint64_t in_place;      /* already right in the target slot */
	uint64_t from_booted;   /* copied from the booted slot */
	uint64_t from_target;   /* copied within the target slot, or repeated
				 * from a piece written in this update */
	uint64_t fetched;       /* written from fetched frames */
	uint64_t seed_rejected; /* seed pieces that failed their check: fetched */
	uint64_t bytes_index;   /* bytes asked for: the index */
	uint64_t bytes_sums;    /* ... sums of groups the seeds did not explain */
	uint64_t bytes_frames;  /* ... frames (format 1: the whole pack) */
	uint64_t ranges;        /* byte ranges asked for, after merging */
	uint32_t streams;       /* src->open calls */
} pawl_install_transfer;

PAWL_API PAWL_MUST_USE int pawl_install_transfer_get(pawl_install *pi,
						     pawl_install_transfer *out);

/* One slot as the slot backend's status shows it. */
typedef enum pawl_install_slot_state {
	PAWL_INSTALL_SLOT_UNKNOWN = -1, /* the bootloader could not be read */
	PAWL_INSTALL_SLOT_BAD = 0,      /* the bootloader will not boot it */
	PAWL_INSTALL_SLOT_GOOD = 1,
} pawl_install_slot_state;

typedef struct pawl_install_slot {
	char name[4];                          /* "a", "b" */
	char path[4096];                       /* its device or file */
	char version[PAWL_SEMVER_MAX_LEN + 1]; /* "" unknown */
	bool recovery;                         /* written from a recovery release */
	int state;                             /* a pawl_install_slot_state */
	bool primary;                          /* the bootloader tries it first */
	bool booted;                           /* running now */
	bool pending;                          /* switched to, not yet confirmed */
} pawl_install_slot;

/* Both slots of opts's slot backend (options version 2), without locking
 * or changing anything: for a status command. A bootloader that cannot be
 * read leaves state UNKNOWN and primary false (the reason in note, when
 * note_size > 0); the state file that cannot be read fails it.
 * PAWL_E_UNSUPPORTED for any other backend. */
PAWL_API PAWL_MUST_USE int pawl_install_slots_read(const pawl_install_opts *opts,
						   pawl_install_slot out[2], char *note,
						   size_t note_size);

/* After the reboot into a release installed with outcome
 * PAWL_INSTALL_PENDING_REBOOT: check it and mark it good, or mark it bad
 * and go back. The folder backend confirms as it installs: outcome NONE. */
PAWL_API PAWL_MUST_USE int pawl_install_confirm(pawl_install *pi, pawl_install_result *out);

/* Mark what runs now good, or bad (and go back to the other place at the
 * next boot): the slot backend's mark-good and mark-bad. The folder
 * backend marks as it installs: PAWL_E_UNSUPPORTED. */
PAWL_API PAWL_MUST_USE int pawl_install_mark(pawl_install *pi, bool good,
					     pawl_install_result *out);

/* Go back to the previous release, which the caller has established from
 * trusted metadata is (previous_is_recovery) or is not signed as a
 * recovery release; not: PAWL_INSTALL_REFUSED_DOWNGRADE, nothing changed.
 * No previous release: PAWL_E_NOT_FOUND. The health check runs as for an
 * install. */
PAWL_API PAWL_MUST_USE int pawl_install_rollback(pawl_install *pi, bool previous_is_recovery,
						 pawl_install_result *out);

/* Remove the bad mark of version (the exact string the state holds), in
 * one durable write. PAWL_E_NOT_FOUND when it is not marked bad. */
PAWL_API PAWL_MUST_USE int pawl_install_clear_bad(pawl_install *pi, const char *version);

#ifdef __cplusplus
}
#endif
#endif

/*
 * slot.h - the slot installer: the A/B half of the update agent (issue
 * 18). It writes a signed file system image into the slot that is not
 * running, points the bootloader at it only once every byte is verified
 * and on the device, and confirms or rejects it after the reboot. It ties
 * together the image module (image.h: index, streaming decoder, slot
 * writer) and the bootloader layer (boot.h).
 *
 * The operations map one to one onto the install backend interface and
 * onto the agent's commands in slot mode:
 *   slot_open        check the configuration, lock, load the state
 *   slot_install     `update`: write the inactive slot, then switch
 *   slot_confirm     `confirm`: health check, then mark good or bad
 *   slot_mark_good   `mark-good` on the booted slot
 *   slot_mark_bad    `mark-bad` on the booted slot (the caller reboots)
 *   slot_status      `status` / `status --json`
 *   slot_close
 *
 * Guarantees:
 *  - The booted slot is never opened for writing. The booted slot comes
 *    from the override or boot_get_booted (pawl.slot= on /proc/cmdline,
 *    or the custom script's get-current); the target is always the other
 *    one. slot_open refuses, before anything else happens: a slot path
 *    that is a symbolic link, a directory or anything but a regular file
 *    or a block device; a path that anyone but root could change or swap
 *    (the file and every directory above it: boot_check_device); a
 *    regular file not owned by root; the two slots being the same file or
 *    device. image_slot_open then refuses the booted slot once more by
 *    identity (hard links included), a mounted block device (O_EXCL), and
 *    a slot smaller than the image, all before a byte is written.
 *  - Verify before use. The stream the caller hands in (a pipe from the
 *    unprivileged fetcher) is never trusted: the index is checked against
 *    its signed length and hashes before it is parsed, then matched
 *    against the release's signed custom data and the pack target; every
 *    piece is checked against the index before it is decompressed and
 *    after (image.h); the whole pack against its signed length and hashes
 *    and the whole image against the index's sha256, all before the
 *    switch. Nothing is staged on disk; memory is one piece.
 *  - Fail safe at every instant. The order of one update is:
 *      1. forward-only decision (below); the booted slot must be good
 *         (confirmed), or the update would overwrite the only slot known
 *         to boot;
 *      2. the index is read and checked, the target slot opened and checked;
 *      3. the target is marked bad in the bootloader: from here on a
 *         crash or power cut leaves a slot the bootloader will not try;
 *      4. the journal ("writing", the slot's version unknown) is written
 *         durably;
 *      5. pieces are verified and written as they arrive; then the whole
 *         image and pack are checked and the slot is fsynced;
 *      6. read-back: the image is read again from the device (O_DIRECT,
 *         or through a dropped page cache), following the writer as far
 *         as every piece below is final and the rest after the fsync, and
 *         its sha256 compared with the index (format 2: always);
 *      7. boot_set_primary(target): the switch, one atomic write of the
 *         bootloader environment;
 *      8. the state is committed: the slot's version, "pending", the
 *         journal cleared.
 *    A kill at any point before 7 lands leaves the bootloader booting the
 *    old slot; after it, the new slot is complete and verified. A journal
 *    found later (slot_recover, run by every changing operation) is
 *    resolved by asking the bootloader whether step 7 landed: target
 *    primary and good means it did (the commit is finished); otherwise
 *    the target is marked bad again and its version is recorded as
 *    unknown, and the next update writes it from scratch.
 *  - Forward only, as in folder mode (install.h): a version lower than or
 *    equal to the highest ever confirmed is refused unless the release is
 *    signed as recovery; a version in the bad list is refused; the version
 *    the booted slot runs is "already current". "highest" grows only when
 *    a version is confirmed good on the slot it was written to; until
 *    then, an update waiting for its reboot is not replaced by a lower
 *    version unless that one is signed as recovery.
 *  - Confirm. slot_confirm after a boot: when the booted slot is the one
 *    last switched to ("pending"), its health decides; when it is not and
 *    the pending slot was tried (it is no longer primary and good), the
 *    bootloader fell back: the pending version goes into the bad list,
 *    its slot is marked bad (so GRUB does not give it another try later),
 *    and it is never recorded as installed. Then the health check runs
 *    on the booted slot: pass marks it good, fail marks it bad and the
 *    result asks the caller to reboot.
 *  - Durable state: state_dir/slots.json, strict JSON, replaced atomically
 *    (temporary file, fsync, rename, fsync of the directory). A file that
 *    does not parse strictly or contradicts itself is PAWL_E_FORMAT for an
 *    operator. state_dir must be owned by root and not writable by group
 *    or others. One agent at a time: state_dir/.lock (the same lock as
 *    folder mode) is held from slot_open to slot_close.
 *  - Library rules: nothing printed, nothing exits, every descriptor
 *    O_CLOEXEC, errors a negative pawl_err with the slot, path or version
 *    in pawl_error_last(). Decisions (refusals, health results) are 0 with
 *    an outcome in slot_result, as in install.h, so that the program logs
 *    the same audit entries in both modes.
 *
 * Error codes of slot_install (the program maps them to exit codes):
 *   PAWL_E_POLICY     a wrong slot device (link, directory, not root's,
 *                     the booted slot, the same as the other, mounted), a
 *                     booted slot that is not confirmed, an unsafe state_dir
 *   PAWL_E_LIMIT      a slot smaller than the image; an index over the limit
 *   PAWL_E_HASH       a tampered index, piece, pack or image; a read-back
 *                     that differs from what was written
 *   PAWL_E_LENGTH     a stream shorter or longer than signed
 *   PAWL_E_FORMAT     a malformed index, an index that disagrees with the
 *                     release; a corrupt slots.json
 *   PAWL_E_IO         a full disk, a write, fsync or bootloader failure
 *   PAWL_E_LOCKED     another agent holds the lock
 *   (and the source's own code when slot_read_fn fails)
 * After any of them the bootloader still boots the old slot.
 *
 * The state file, state_dir/slots.json (every key required, no other):
 *   {
 *    "format": 1,
 *    "a": {"version": "1.2.0" | null, "recovery": false},  written there
 *    "b": {"version": null, "recovery": false},            null: unknown
 *    "highest": "1.2.0" | null,           highest version ever confirmed
 *    "bad": ["1.3.0"],                    failed, never installed again
 *    "pending": "a" | "b" | null,         switched to, not yet confirmed
 *    "last": {"time": 1735689600, "outcome": "switched",
 *             "version": "1.3.0" | null, "slot": "b" | null} | null,
 *    "journal": {"op": "write", "phase": "writing", "slot": "b",
 *                "version": "1.3.0", "recovery": false} | null
 *   }
 */
#ifndef PAWL_SLOT_H
#define PAWL_SLOT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "boot/boot.h"
#include "image/image.h"
#include "install/semver.h"
#include "json/json.h"
#include "util/guard.h"

#define SLOT_STATE_FILE "slots.json"
#define SLOT_MAX_BAD 64
/* The index is read whole into memory: 262,144 pieces of 82 bytes fit. */
#define SLOT_INDEX_MAX ((uint64_t)32 << 20)
#define SLOT_DEFAULT_HEALTH_TIMEOUT_MS 60000

typedef enum slot_outcome {
	SLOT_NONE = 0,          /* nothing to do (slot_recover without a journal) */
	SLOT_SWITCHED,          /* written, verified, flushed; the bootloader tries
				 * it next: reboot to run it */
	SLOT_ALREADY_CURRENT,   /* the booted slot runs that version */
	SLOT_ALREADY_PENDING,   /* written to the other slot and switched to
				 * already: reboot to run it */
	SLOT_REFUSED_DOWNGRADE, /* not higher than the highest, not recovery */
	SLOT_REFUSED_BAD,       /* in the bad list */
	SLOT_CONFIRMED,         /* health passed, booted slot marked good */
	SLOT_HEALTH_FAILED,     /* booted slot marked bad: reboot */
	SLOT_MARKED_GOOD,
	SLOT_MARKED_BAD,        /* booted slot marked bad: reboot */
	SLOT_INTERRUPTED,       /* slot_recover undid an unfinished write */
	SLOT_ERROR,             /* only in slots.json's "last": a call failed */
} slot_outcome;

/* "switched", "refused_downgrade", ... (the names slots.json uses). */
const char *slot_outcome_name(slot_outcome o);

#define SLOT_OPTS_VERSION 1

typedef struct slot_opts {
	unsigned version;           /* SLOT_OPTS_VERSION */
	const char *state_dir;      /* required; created 0755 when missing */
	const char *slot_a;         /* absolute paths: block devices or */
	const char *slot_b;         /* existing regular files owned by root */
	boot_backend *boot;         /* required; borrowed, not freed */
	boot_slot booted;           /* --booted-slot; BOOT_SLOT_NONE: ask the
				     * bootloader layer (pawl.slot=) */
	const char *health_cmd;     /* /bin/sh -c CMD after boot; NULL: healthy */
	unsigned health_timeout_ms; /* 0: SLOT_DEFAULT_HEALTH_TIMEOUT_MS */
	unsigned lock_timeout_s;    /* 0: try the lock once (PAWL_E_LOCKED) */
	bool readonly;              /* status only: no lock, no recovery,
				     * nothing written */
	bool skip_readback;         /* do not read the slot back before the
				     * switch (every piece was still verified
				     * before it was written) */
} slot_opts;

#define SLOT_OPTS_INIT { SLOT_OPTS_VERSION, NULL, NULL, NULL, NULL, BOOT_SLOT_NONE, NULL, 0, 0, false, false }

/*
 * Where the image comes from: read(ctx, buf, cap, &n) gives up to cap
 * bytes of the stream (n = 0 at its end); negative stops the install with
 * that code. The stream is the index's bytes followed by the pack's:
 * one pipe from the fetcher.
 */
typedef int (*slot_read_fn)(void *ctx, void *buf, size_t cap, size_t *ret_n);

/* A release to install. Everything but the stream comes from verified
 * TUF metadata; nothing here is kept after the call. */
typedef struct slot_release {
	const char *version;          /* SemVer, from the signed custom data */
	bool recovery;                /* signed --recovery */
	uint64_t index_length;        /* the index target's signed length */
	const pj_value *index_hashes; /* ... and its signed "hashes" */
	const char *pack_name;        /* the pack target's path */
	uint64_t pack_length;         /* ... its signed length */
	const pj_value *pack_hashes;  /* ... and its signed "hashes" */
	uint64_t image_length;        /* custom "image": "length" */
	const char *image_sha256;     /* custom "image": "sha256" (hex) */
	int fd;                       /* the stream, read to its end; or -1: */
	slot_read_fn read;            /* the stream through a callback */
	void *read_ctx;
} slot_release;

typedef struct slot_result {
	slot_outcome outcome;
	boot_slot slot;                   /* the slot acted on */
	char version[SEMVER_MAX_LEN + 1]; /* the version acted on ("" unknown) */
	bool reboot;                      /* the caller should reboot now */
	bool health_ran;
	bool health_timed_out;
	int health_status;                /* wait status of the health command */
	char fell_back[SEMVER_MAX_LEN + 1]; /* confirm: the version the bootloader
					   * gave up on, now in the bad list */
	uint64_t stream_bytes;            /* index and pack bytes read */
	uint64_t image_bytes;             /* image bytes written */
	char message[256];                /* why, for refusals and failures */
} slot_result;

/* One slot as slots.json records it. */
typedef struct slot_record {
	char version[SEMVER_MAX_LEN + 1]; /* "" unknown (never written by pawl,
					   * or a write was interrupted) */
	bool recovery;
} slot_record;

/* The durable state (slots.json); "" stands for null. */
typedef struct slot_state {
	slot_record slot[2];
	char highest[SEMVER_MAX_LEN + 1];
	char bad[SLOT_MAX_BAD][SEMVER_MAX_LEN + 1];
	uint32_t nbad;
	boot_slot pending;                /* BOOT_SLOT_NONE: none */
	int64_t last_time;
	slot_outcome last_outcome;        /* SLOT_NONE: no "last" yet */
	char last_version[SEMVER_MAX_LEN + 1];
	boot_slot last_slot;
	boot_slot journal;                /* the slot being written; NONE: none */
	char journal_version[SEMVER_MAX_LEN + 1];
	bool journal_recovery;
} slot_state;

/* What `status` shows. Bootloader answers that could not be read have
 * *_known false (and the reason is in error). */
typedef struct slot_info {
	char path[PATH_MAX];
	slot_record record;
	bool state_known;
	boot_state state;
	bool primary, booted, pending;
} slot_info;

typedef struct slot_status {
	slot_info slot[2];
	boot_slot booted;
	boot_slot primary;                /* BOOT_SLOT_NONE: none (GRUB while
					   * the running slot is unconfirmed) */
	slot_state state;
	char error[256];                  /* the first bootloader read that failed */
} slot_status;

typedef struct slot_ctx slot_ctx;

/* Check both slots (above), create state_dir if needed, take its lock
 * (unless readonly), load slots.json, and find the booted slot. */
PAWL_MUST_USE int slot_open(slot_ctx **ret, const slot_opts *opts);
/* Release the lock and free; accepts NULL. The boot backend is the
 * caller's. */
void slot_close(slot_ctx *s);
/* The state as last written or loaded. Owned by s. */
const slot_state *slot_get_state(const slot_ctx *s);
/* The booted slot (found at open). */
boot_slot slot_booted(const slot_ctx *s);

/* Finish or undo an interrupted write (see above); every operation below
 * that changes anything runs it first. ret may be NULL. */
PAWL_MUST_USE int slot_recover(slot_ctx *s, slot_result *ret);

/* The forward-only decision alone, without reading any stream: 0 with
 * ret->outcome SLOT_NONE when version may be installed, or the refusal
 * (nothing recorded). For the agent, before it starts the fetcher. */
PAWL_MUST_USE int slot_check(slot_ctx *s, const char *version, bool recovery, slot_result *ret);

/* Write rel into the inactive slot and switch to it (the steps above).
 * 0 with ret->outcome for every decision; negative when the image could
 * not be installed (the table above); the bootloader then still boots
 * the old slot. */
PAWL_MUST_USE int slot_install(slot_ctx *s, const slot_release *rel, slot_result *ret);

/*
 * The same install from any image source: slot_install above is the
 * stream of an index and one pack; delta.c's slot_install_source fetches
 * format 2 frames as byte ranges and reuses what the device holds. The
 * order of slot.h's steps is slot_install_image's; a source fills in:
 *   index    read the index, check it against its signed length and
 *            hashes before parsing, parse, match the release (step 2);
 *   prepare  (may be NULL) read-only work once the target is open and
 *            checked, before the bootloader is touched: nothing written;
 *   write    with the target marked bad and the journal written: put
 *            every piece of the image into t->w that is not there
 *            already, each verified before it is written (step 5); then
 *            slot_install_image fsyncs, reads back, switches, commits.
 * always_readback: the source never proved the whole image itself, so the
 * read-back runs even when the options turn it off.
 */
typedef struct slot_target {
	const image_index *idx;
	image_slot *w;                  /* the target, open for writing */
	boot_slot target, booted;
	const char *target_path, *booted_path;
	struct stat target_id, booted_id; /* as checked at slot_open */
	bool readback;                  /* the image is read back before the switch */
} slot_target;

typedef struct slot_image_ops {
	PAWL_MUST_USE int (*index)(void *ctx, image_index **ret);
	PAWL_MUST_USE int (*prepare)(void *ctx, const slot_target *t);
	PAWL_MUST_USE int (*write)(void *ctx, const slot_target *t, slot_result *res);
	bool always_readback;
} slot_image_ops;

PAWL_MUST_USE int slot_install_image(slot_ctx *s, const char *version, bool recovery,
				     const slot_image_ops *ops, void *ctx, slot_result *ret);

/* Format 1: the pack as a stream from read, through the decoder into
 * t->w: every piece checked against the index before and after it is
 * decompressed, the pack's signed length, and its signed hashes when
 * pack_hashes is not NULL (a sequential index pins every pack byte by its
 * pieces' sha256s anyway). */
PAWL_MUST_USE int slot_write_pack(const slot_target *t, slot_read_fn read, void *ctx,
				  const char *pack_name, uint64_t pack_length,
				  const pj_value *pack_hashes, slot_result *res);

/* After boot: health check, then mark the booted slot good (SLOT_CONFIRMED)
 * or bad (SLOT_HEALTH_FAILED, ret->reboot). A fallback found on the way is
 * recorded (ret->fell_back). */
PAWL_MUST_USE int slot_confirm(slot_ctx *s, slot_result *ret);
/* Mark the booted slot good without a health check (SLOT_MARKED_GOOD), or
 * bad (SLOT_MARKED_BAD, ret->reboot: its version goes into the bad list). */
PAWL_MUST_USE int slot_mark_good(slot_ctx *s, slot_result *ret);
PAWL_MUST_USE int slot_mark_bad(slot_ctx *s, slot_result *ret);

/* Both slots, the bootloader's view and the state. Bootloader errors do
 * not fail it (they show as unknown); a state it cannot read does. */
PAWL_MUST_USE int slot_status_get(slot_ctx *s, slot_status *ret);

/* Read state_dir/slots.json without locking (a missing file: empty). */
PAWL_MUST_USE int slot_state_read(const char *state_dir, slot_state *ret);

/* The state file's codec (exposed for the tests and the fuzzer): strict
 * parse of len bytes (buf malloc'd, len + 1 bytes, taken over) and
 * serialisation into a malloc'd string. what names the file. */
PAWL_MUST_USE int slot_state_parse(slot_state *ret, char *buf, size_t len, const char *what);
PAWL_MUST_USE int slot_state_serialize(const slot_state *st, char **ret, size_t *ret_len);

/* Reading a whole slot (the read-back, the seed scan of delta.c) with
 * O_DIRECT where the file system allows it: want bytes at off into buf,
 * which is SLOT_IO_ALIGN-aligned with room for want rounded up to it. With
 * O_DIRECT (*direct; read and cleared atomically, threads may share it)
 * the request is rounded up and a short read past want is fine. Where the
 * file system refuses it, *direct is cleared, the descriptor gets flags
 * back, and the read goes through the page cache; drop: its clean pages
 * of the range are dropped first, so that what comes back is the
 * device's. Errors name what. */
#define SLOT_IO_ALIGN ((size_t)4096) /* O_DIRECT: a multiple of any logical block */
PAWL_MUST_USE int slot_pread_direct(int fd, int flags, bool *direct, bool drop, uint8_t *buf,
				    size_t want, uint64_t off, const char *what);

#endif

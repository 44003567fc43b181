/*
 * install.h - the install half of the update agent: put a verified release
 * in place atomically, check it is healthy, roll back when it is not, and
 * never move to an older release unless the publisher signed a recovery.
 *
 * Layout (install_dir, owned by the agent):
 *   releases/VERSION/      one directory per kept release (VERSION is the
 *                          release's SemVer string, see semver.h)
 *   current -> releases/VERSION
 *                          a relative symbolic link, only ever replaced by
 *                          rename(2) of a freshly made link
 *   releases/.*            the agent's temporary and trash entries
 * and in state_dir: state.json (the durable agent state, below) and .lock.
 *
 * Guarantees:
 *  - Re-verification. install_release() copies the staged file into a
 *    private, unnamed file inside install_dir while hashing it, and checks
 *    its length and every hash against the trusted values the caller
 *    passes (md_hashset_*) before anything is unpacked. Only the private
 *    copy is unpacked, so bytes changed in the staging area after the check
 *    (by a compromised unprivileged downloader) are never used.
 *  - Archive safety (archive.h): only tar (plain, gzip, xz or zstd, the
 *    compression the file name announces and its magic confirms) is read,
 *    with openat-relative, never-following extraction; absolute paths,
 *    "..", links that resolve outside the release, devices, FIFOs,
 *    sockets, setuid/setgid/sticky bits, sparse entries, duplicates and
 *    archives over the size or entry limits are refused, not repaired.
 *  - Atomic switch. A release is unpacked under a temporary name, every
 *    file and directory in it is fsynced, and only then is it renamed to
 *    releases/VERSION. current is switched by renaming a new link over it
 *    and fsyncing install_dir. So `current` only ever names a complete,
 *    verified, durable release directory, whatever instant the process is
 *    killed or the power fails.
 *  - Anti-downgrade (PRODUCT.md practice 5). The highest version ever
 *    installed is kept in state.json, written durably (temporary file,
 *    fsync, rename, fsync of the directory). A release whose precedence is
 *    lower than or equal to it is refused even though it is correctly
 *    signed, unless the caller says the publisher signed it as a recovery
 *    release. A recovery install does not lower the recorded highest.
 *  - Health and rollback. After the switch the health command runs with a
 *    timeout (killed with its whole process group when it overruns). On
 *    failure current is switched back, the version is marked bad and
 *    refused from then on, and the outcome is recorded in state.json.
 *  - Crash recovery. Every transaction is journalled in state.json before
 *    each step that changes install_dir (phases below). install_recover()
 *    (run by install_release() itself when it finds a journal) reads the
 *    journal and what `current` actually points at, and undoes whatever
 *    was not committed: see install_recover().
 *  - Corrupt state. A state.json that does not parse strictly, or whose
 *    fields contradict each other, is PAWL_E_FORMAT from install_open():
 *    the agent stops and needs an operator, because guessing the highest
 *    installed version could allow a downgrade. A missing state.json is a
 *    fresh install only when install_dir holds no release; otherwise the
 *    state is rebuilt from install_dir with "highest" set to the highest
 *    version found among releases/ (never lower than what ran there).
 *  - One agent at a time: install_open() takes state_dir/.lock and holds it
 *    until install_close().
 *  - Library rules: nothing is printed, nothing exits, every descriptor is
 *    O_CLOEXEC, sizes use checked arithmetic, errors are a negative
 *    pawl_err with the path or version in pawl_error_last().
 *
 * The state file, state_dir/state.json (strict JSON, every key required,
 * no other key allowed; versions are strings or null):
 *   {
 *    "format": 1,
 *    "installed": "1.2.0",             what current points at
 *    "installed_recovery": false,      it came in as a recovery release
 *    "previous": "1.1.0",              kept for rollback
 *    "highest": "1.2.0",               highest ever installed
 *    "bad": ["1.3.0"],                 failed their health check
 *    "interrupted": {"version": "1.3.0", "count": 1} | null,
 *    "last": {"time": 1735689600, "outcome": "installed",
 *             "version": "1.2.0"} | null,
 *    "journal": {"op": "install" | "rollback", "phase": "begin" |
 *                "unpacked" | "switched" | "failed", "version": "1.3.0",
 *                "from": "1.2.0" | null, "recovery": false} | null
 *   }
 */
#ifndef PAWL_INSTALL_H
#define PAWL_INSTALL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/semver.h"
#include "json/json.h"
#include "util/guard.h"

typedef enum install_kind {
	INSTALL_KIND_AUTO = 0, /* from the name: .tar, .tar.gz/.tgz, .tar.xz/.txz,
				* .tar.zst/.tzst; anything else is a single file */
	INSTALL_KIND_FILE,     /* one file, installed as releases/VERSION/NAME, 0755 */
	INSTALL_KIND_TAR,
	INSTALL_KIND_TAR_GZ,
	INSTALL_KIND_TAR_XZ,
	INSTALL_KIND_TAR_ZST,
} install_kind;

typedef enum install_outcome {
	INSTALL_NONE = 0,          /* nothing to do (install_recover, no journal) */
	INSTALL_INSTALLED,         /* current now points at the new release */
	INSTALL_ALREADY_CURRENT,   /* that exact version is the one installed */
	INSTALL_REFUSED_DOWNGRADE, /* not higher than the highest ever installed,
				    * and not signed as recovery */
	INSTALL_REFUSED_BAD,       /* failed a health check before */
	INSTALL_HEALTH_FAILED,     /* switched back; the version is marked bad */
	INSTALL_ROLLED_BACK,       /* install_rollback moved to the previous release */
	INSTALL_INTERRUPTED,       /* install_recover undid an unfinished transaction */
	INSTALL_ERROR,             /* only in state.json's "last": a call failed */
	INSTALL_PENDING_REBOOT,    /* a backend that switches at the next boot
				    * (slots): confirmed by a later run */
	INSTALL_ALREADY_PENDING,   /* (slots) written and switched to already:
				    * reboot to run it */
	INSTALL_CONFIRMED,         /* (slots) health passed: marked good */
	INSTALL_MARKED_GOOD,       /* (slots) marked good by hand */
	INSTALL_MARKED_BAD,        /* (slots) marked bad by hand: reboot */
} install_outcome;

/* "installed", "refused_downgrade", ... (the names state.json uses). */
const char *install_outcome_name(install_outcome o);

/* Resolve INSTALL_KIND_AUTO from a file name. */
install_kind install_kind_from_name(const char *name);

#define INSTALL_OPTS_VERSION 1
#define INSTALL_DEFAULT_MAX_UNPACKED ((uint64_t)4 << 30) /* 4 GiB */
#define INSTALL_DEFAULT_MAX_RATIO 64
#define INSTALL_MIN_UNPACKED ((uint64_t)1 << 20) /* ratio floor: 1 MiB */
#define INSTALL_DEFAULT_MAX_ENTRIES 100000
#define INSTALL_DEFAULT_HEALTH_TIMEOUT_MS 60000
#define INSTALL_MAX_BAD 64        /* oldest (lowest) bad versions are dropped */
#define INSTALL_MAX_INTERRUPTED 3 /* interrupted after the switch this often: bad */

typedef struct install_opts {
	unsigned version;            /* INSTALL_OPTS_VERSION */
	const char *install_dir;     /* required; created (0755) when missing */
	const char *state_dir;       /* required; created (0755) when missing */
	const char *health_cmd;      /* run as /bin/sh -c CMD; NULL: always healthy */
	unsigned health_timeout_ms;  /* 0: INSTALL_DEFAULT_HEALTH_TIMEOUT_MS */
	unsigned lock_timeout_s;     /* 0: try the lock once (PAWL_E_LOCKED) */
	/* Unpacked bytes may not exceed min(max_unpacked, max(max_ratio x the
	 * archive's length, INSTALL_MIN_UNPACKED)). 0: the defaults above. */
	uint64_t max_unpacked;
	uint32_t max_ratio;
	uint32_t max_entries;        /* 0: INSTALL_DEFAULT_MAX_ENTRIES */
	/* The slot backend (src/lib/slot/backend.c); NULL for the folder one. */
	const char *slot_a;          /* absolute paths: block devices or files */
	const char *slot_b;
	const char *bootloader;      /* "grub:PATH", "uboot:PATH", "custom:PATH" */
	const char *booted;          /* "a", "b", or NULL: pawl.slot= */
} install_opts;

/* A release to install: the staged, already verified download, and the
 * trusted values it is checked against again. Nothing here is kept. */
typedef struct install_artifact {
	const char *version;     /* SemVer from the target's signed custom data */
	int fd;                  /* the staged file, read from offset 0 with
				  * pread; or -1 to open path */
	const char *path;        /* opened O_NOFOLLOW, must be a regular file */
	const char *name;        /* file name (last component of the target
				  * path): picks the kind, and names the file of
				  * a single-file release; one safe component */
	uint64_t length;         /* signed length */
	const pj_value *hashes;  /* signed "hashes" object */
	install_kind kind;
	bool recovery;           /* the publisher signed it as a recovery release */
	/* A slot image, read as a stream (the slot backend only; read NULL for
	 * the folder backend): the index's bytes followed by the pack's, from
	 * read(read_ctx, ...), each checked against what follows, which comes
	 * from the release's verified metadata (length/hashes above are the
	 * index target's). */
	int (*read)(void *ctx, void *buf, size_t cap, size_t *ret_n);
	void *read_ctx;
	const char *pack_name;        /* the pack target's path */
	uint64_t pack_length;         /* ... its signed length */
	const pj_value *pack_hashes;  /* ... and its signed "hashes" */
	uint64_t image_length;        /* custom "image": "length" */
	const char *image_sha256;     /* custom "image": "sha256" */
} install_artifact;

typedef struct install_result {
	install_outcome outcome;
	char version[SEMVER_MAX_LEN + 1]; /* the version acted on */
	char current[SEMVER_MAX_LEN + 1]; /* what current points at now ("" none) */
	bool health_ran;
	bool health_timed_out;
	int health_status;                /* wait status of the health command */
	char message[256];                /* why, for refusals and failures */
} install_result;

typedef enum install_op {
	INSTALL_OP_NONE = 0,
	INSTALL_OP_INSTALL,
	INSTALL_OP_ROLLBACK,
} install_op;

/* Journal phases. A phase is written (durably) before the step that
 * follows it, so the phase on disk is always at or behind reality:
 *   begin     the temporary directory may exist; nothing else changed
 *   unpacked  releases/VERSION is complete; current may have been switched
 *   switched  current points at VERSION; health not yet known
 *   failed    the health check failed; current may still point at VERSION */
typedef enum install_phase {
	INSTALL_PHASE_BEGIN = 0,
	INSTALL_PHASE_UNPACKED,
	INSTALL_PHASE_SWITCHED,
	INSTALL_PHASE_FAILED,
} install_phase;

typedef struct install_journal {
	install_op op;
	install_phase phase;
	char version[SEMVER_MAX_LEN + 1];
	char from[SEMVER_MAX_LEN + 1]; /* installed when it began ("" none) */
	bool recovery;
} install_journal;

/* The durable agent state; "" stands for null. */
typedef struct install_state {
	char installed[SEMVER_MAX_LEN + 1];
	bool installed_recovery;
	char previous[SEMVER_MAX_LEN + 1];
	char highest[SEMVER_MAX_LEN + 1];
	char bad[INSTALL_MAX_BAD][SEMVER_MAX_LEN + 1];
	uint32_t nbad;
	char interrupted[SEMVER_MAX_LEN + 1];
	uint32_t interrupted_count;
	int64_t last_time;
	install_outcome last_outcome; /* INSTALL_NONE: no "last" yet */
	char last_version[SEMVER_MAX_LEN + 1];
	install_journal journal;
} install_state;

typedef struct install_ctx install_ctx;

/* Create the directories if needed, take state_dir/.lock and load the
 * state (see "Corrupt state" above). Does not touch install_dir beyond
 * creating install_dir/releases. */
PAWL_MUST_USE int install_open(install_ctx **ret, const install_opts *opts);
/* Release the lock and free; accepts NULL. */
void install_close(install_ctx *c);
/* The state as last written (or loaded). Owned by c. */
const install_state *install_get_state(const install_ctx *c);

/*
 * Bring install_dir and the state back to a committed state. Call it at
 * the start of every update (install_release does so itself when it finds
 * a journal). With a journal for VERSION, started from FROM:
 *  - current still at FROM: nothing was switched; the transaction is
 *    dropped (outcome INSTALL_INTERRUPTED).
 *  - current at VERSION, phase unpacked or switched: the health of VERSION
 *    was never established, so current is switched back to FROM (removed
 *    when FROM is none) rather than trusting an unchecked release; the
 *    next update tries again from scratch, with full verification. After
 *    INSTALL_MAX_INTERRUPTED such interruptions of the same version it is
 *    marked bad, so a release that kills the machine during its health
 *    check cannot loop forever (INSTALL_INTERRUPTED).
 *  - phase failed: current is switched back to FROM if needed and VERSION
 *    is marked bad (INSTALL_HEALTH_FAILED).
 *  - current anywhere else, or not a link to releases/VERSION: PAWL_E_FORMAT,
 *    for an operator; nothing is changed.
 * Then the journal is cleared in one durable write, temporary and trash
 * entries are removed, and releases other than installed and previous are
 * pruned. Without a journal, only the clean-up runs (outcome
 * INSTALL_NONE), after checking current matches "installed".
 * ret may be NULL.
 */
PAWL_MUST_USE int install_recover(install_ctx *c, install_result *ret);

/*
 * Install one release (the steps and phases above). Returns 0 with
 * ret->outcome for every decision (installed, already current, refused,
 * health failed and rolled back), a negative pawl_err when the release
 * could not be installed (PAWL_E_LENGTH/PAWL_E_HASH: the staged bytes do
 * not match; PAWL_E_POLICY/PAWL_E_FORMAT/PAWL_E_LIMIT: the archive was
 * refused; PAWL_E_IO ...). After an error, install_dir is as it was; the
 * outcome "error" is recorded in state.json when that is still possible.
 */
PAWL_MUST_USE int install_release(install_ctx *c, const install_artifact *a,
				  install_result *ret);

/*
 * Switch current back to the previous release, which the caller has
 * established (from trusted metadata) is signed as a recovery release.
 * previous_is_recovery false: refused (INSTALL_REFUSED_DOWNGRADE, nothing
 * changed), because moving back is a downgrade. No previous release:
 * PAWL_E_NOT_FOUND. The health check runs as for an install; on failure
 * current returns to where it was and the previous version is marked bad.
 * On success installed and previous swap; highest is unchanged.
 */
PAWL_MUST_USE int install_rollback(install_ctx *c, bool previous_is_recovery,
				   install_result *ret);

/*
 * Remove the "bad" mark from version (compared as the exact string the
 * state holds), in one durable write, so that a later install_release may
 * install it again (with every check). An interruption count kept for it
 * is reset too. PAWL_E_NOT_FOUND when it is not marked bad; nothing else
 * in the state changes.
 */
PAWL_MUST_USE int install_clear_bad(install_ctx *c, const char *version);

/* Read state_dir/state.json without locking or changing anything (for a
 * status command). A missing file gives an empty state. */
PAWL_MUST_USE int install_state_read(const char *state_dir, install_state *ret);

#endif

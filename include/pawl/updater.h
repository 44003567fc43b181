/*
 * pawl/updater.h - the TUF client: refresh trusted metadata and download
 * verified targets (TUF 1.0.x, section 5 "Detailed client workflow").
 *
 * Guarantees:
 *  - Metadata is trusted only after its signatures (threshold of distinct
 *    keys), version, length, hashes and expiry checks pass, in the order
 *    the specification gives. Only verified metadata is written to the
 *    metadata directory, atomically (temp file, fsync, rename, fsync dir).
 *  - A target is written to its final name only after its length and every
 *    supported hash matched the trusted metadata; it is hashed while it
 *    streams, and never held whole in memory.
 *  - Every download is bounded: metadata by per-role limits (or the length
 *    the parent metadata signs), targets by their signed length.
 *  - There is no way to turn any of this off.
 *
 * All functions return 0 or a negative pawl_err; pawl_error_last() names
 * the role, version, key id, file or URL that failed.
 */
#ifndef PAWL_UPDATER_H
#define PAWL_UPDATER_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "pawl/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pawl_event_kind {
	PAWL_EVENT_FETCH = 1,     /* a request is about to be made: url */
	PAWL_EVENT_PROGRESS,      /* target bytes done of total */
	PAWL_EVENT_VERIFIED,      /* role at version is now trusted */
	PAWL_EVENT_REJECTED,      /* role (or target) failed: code, message, url */
	PAWL_EVENT_ROOT_ROTATED,  /* trusted root old_version -> version */
	PAWL_EVENT_DOWNLOADED,    /* target verified: target, total, sha256 */
	PAWL_EVENT_CACHED,        /* target already present and verified */
} pawl_event_kind;

typedef struct pawl_event {
	pawl_event_kind kind;
	const char *role;     /* or NULL */
	const char *target;   /* or NULL */
	const char *url;      /* or NULL */
	uint64_t version;
	uint64_t old_version;
	uint64_t done;
	uint64_t total;
	int code;             /* for REJECTED */
	const char *message;  /* for REJECTED */
	const char *sha256;   /* for DOWNLOADED, hex */
} pawl_event;

typedef void (*pawl_event_cb)(const pawl_event *ev, void *ctx);

enum pawl_role_limit {
	PAWL_LIMIT_ROOT = 0,
	PAWL_LIMIT_TIMESTAMP = 1,
	PAWL_LIMIT_SNAPSHOT = 2,
	PAWL_LIMIT_TARGETS = 3, /* also every delegated targets role */
};

/* 1: up to mirror_dir; 2: min_rate_bytes and deadline_base_s. */
#define PAWL_UPDATER_OPTS_VERSION 2

typedef struct pawl_updater_opts {
	unsigned version;                 /* PAWL_UPDATER_OPTS_VERSION */
	const char *metadata_dir;         /* required: trusted metadata */
	const char *const *metadata_urls; /* mirrors in order; at least one */
	size_t n_metadata_urls;
	const char *const *target_urls;   /* mirrors in order; may be empty */
	size_t n_target_urls;
	const char *user_agent;           /* NULL: "pawl/VERSION" */
	uint64_t max_bytes[4];            /* per role; 0: the default below */
	uint32_t max_root_rotations;      /* 0: 256 */
	uint32_t max_delegations;         /* roles visited per search; 0: 32 */
	const char *ca_file;              /* trust only this CA bundle */
	const char *pin;                  /* "sha256//BASE64" public key pin */
	long connect_timeout_s;           /* 0: 30 */
	long low_speed_time_s;            /* 0: 30 (slow-retrieval guard) */
	long low_speed_bytes;             /* 0: 1024 bytes/s */
	long total_timeout_s;             /* 0: none (the deadline still applies) */
	unsigned lock_timeout_s;          /* wait for the directory lock */
	pawl_event_cb on_event;
	void *event_ctx;
	/* When set, every metadata file trusted in a session is also written
	 * to MIRROR_DIR/metadata/ under its repository name (N.root.json for
	 * each root accepted, timestamp.json, N.snapshot.json, ...), so that
	 * MIRROR_DIR can serve as a file:// mirror for another client (the
	 * agent's privileged side re-verifies from it). */
	const char *mirror_dir;
	/* Version 2. Slow retrieval (TUF "slow retrieval attacks"): every
	 * transfer must be complete within
	 *     deadline_base_s + LENGTH / min_rate_bytes
	 * seconds, LENGTH being the most it may bring: a target's signed
	 * length (what is left of it when resuming), a metadata file's signed
	 * length or else its role's max_bytes. A server that drips bytes just
	 * fast enough for the low-speed limit is cut off there, with
	 * PAWL_E_NETWORK and a message naming the URL and the deadline, and
	 * the next mirror is tried. Neither can be turned off. */
	long min_rate_bytes;              /* 0: PAWL_DEFAULT_MIN_RATE bytes/s */
	long deadline_base_s;             /* 0: PAWL_DEFAULT_DEADLINE_BASE s */
} pawl_updater_opts;

#define PAWL_DEFAULT_MAX_ROOT (512 * 1024)
#define PAWL_DEFAULT_MAX_TIMESTAMP (16 * 1024)
#define PAWL_DEFAULT_MAX_SNAPSHOT (2 * 1000 * 1000)
#define PAWL_DEFAULT_MAX_TARGETS (5 * 1000 * 1000)
#define PAWL_DEFAULT_MIN_RATE 16384     /* bytes/s: 128 kbit/s */
#define PAWL_DEFAULT_DEADLINE_BASE 30   /* seconds */

#define PAWL_UPDATER_OPTS_INIT { .version = PAWL_UPDATER_OPTS_VERSION, .lock_timeout_s = 60 }

typedef struct pawl_updater pawl_updater;
typedef struct pawl_target pawl_target;

/* Install root_json (len bytes) as the initial trusted root of
 * metadata_dir, creating the directory. The root must parse and be signed
 * by its own root role; its expiry is checked at refresh, not here. Makes
 * no request. Trust is never replaced silently: when metadata_dir already
 * holds a root.json this succeeds only if it is byte-identical (and then
 * writes nothing); any other root.json, older or newer or from another
 * repository, is PAWL_E_POLICY, with a message naming both versions. A
 * deliberate replacement removes METADATA_DIR/root.json first (the pawl
 * program offers --force-replace-trusted-root, which logs it). */
PAWL_API PAWL_MUST_USE int pawl_metadata_dir_init(const char *metadata_dir,
						  const void *root_json, size_t len);

/* What pawl_metadata_dir_install_root found and did. */
typedef struct pawl_root_info {
	bool had_root;        /* METADATA_DIR/root.json was there */
	bool identical;       /* byte for byte the root given: nothing written */
	uint64_t old_version; /* of the root that was there (0: not a valid root) */
	char old_sha256[65];  /* hex, or "unreadable" */
	uint64_t new_version;
	char new_sha256[65];
} pawl_root_info;

/* Replace a root.json that differs (pawl_metadata_dir_install_root). */
#define PAWL_ROOT_REPLACE 1u

/*
 * pawl_metadata_dir_init() with what a program needs to record it: *out
 * (may be NULL) says what was there and what was written. With flags
 * PAWL_ROOT_REPLACE a different root.json is replaced instead of refused
 * (a deliberate operator action, such as pawl's
 * --force-replace-trusted-root; the caller records it): the directory
 * lock is taken first (PAWL_E_LOCKED after 60 s). Any other flag is
 * PAWL_E_INVALID.
 */
PAWL_API PAWL_MUST_USE int pawl_metadata_dir_install_root(const char *metadata_dir,
							  const void *root_json, size_t len,
							  unsigned flags, pawl_root_info *out);

PAWL_API PAWL_MUST_USE int pawl_updater_new(pawl_updater **out, const pawl_updater_opts *opts);
PAWL_API void pawl_updater_free(pawl_updater *u);

/* Update root, timestamp, snapshot and top-level targets (TUF 5.3-5.6). */
PAWL_API PAWL_MUST_USE int pawl_updater_refresh(pawl_updater *u);

/* Find the trusted entry for a target path, walking delegations in the
 * specification's order (refreshes first if that has not happened).
 * PAWL_E_NOT_FOUND when no trusted role lists it. Caller frees *out. */
PAWL_API PAWL_MUST_USE int pawl_updater_get_target(pawl_target **out, pawl_updater *u,
						   const char *path);

/* If target_dir already holds the target with matching length and hashes,
 * set *out_path (malloc'd) and return 0; PAWL_E_NOT_FOUND otherwise. */
PAWL_API PAWL_MUST_USE int pawl_updater_find_cached(pawl_updater *u, const pawl_target *t,
						    const char *target_dir, char **out_path);

/* Download the target into target_dir (the file name is the target path
 * with every byte outside [A-Za-z0-9._-] percent-encoded), verifying it
 * as it streams. *out_path (malloc'd) may be NULL. */
PAWL_API PAWL_MUST_USE int pawl_updater_download(pawl_updater *u, const pawl_target *t,
						 const char *target_dir, char **out_path);

/* Download to an explicit file path (created or replaced atomically). */
PAWL_API PAWL_MUST_USE int pawl_updater_download_to(pawl_updater *u, const pawl_target *t,
						    const char *path);

/* Receives a target's bytes in order, in pieces of any size; return 0 to
 * go on, or a negative pawl_err (with the error set) to stop. */
typedef int (*pawl_target_sink)(void *ctx, const void *p, size_t n);

/* Stream the target to sink, with no copy on disk, for a consumer that
 * verifies what it uses piece by piece (an image decoder checking each
 * piece against a signed index). The bytes handed to sink are NOT
 * verified as a whole until this returns 0: the signed length bounds the
 * transfer and the signed hashes are checked over every byte at the end
 * (PAWL_E_HASH / PAWL_E_LENGTH otherwise), so the caller must not commit
 * to anything it wrote before then. A mirror that fails mid-transfer is
 * resumed with a Range request (the same mirror or the next); none ever
 * starts the stream again from its first byte. */
PAWL_API PAWL_MUST_USE int pawl_updater_download_stream(pawl_updater *u, const pawl_target *t,
							pawl_target_sink sink, void *ctx);

/* One byte range of a target. */
typedef struct pawl_range {
	uint64_t offset;
	uint64_t length; /* >= 1 */
} pawl_range;

/*
 * Stream exactly the bytes of ranges r[0..n) of target t to sink, in that
 * order, as if they were one file, with no copy on disk. The ranges must
 * be sorted, must not overlap, and must lie inside t's signed length
 * (PAWL_E_INVALID otherwise). Ranges that touch are asked for together;
 * each request is an HTTP Range request whose 206 answer must name exactly
 * the bytes asked for (Content-Range). A server or proxy that answers 200
 * with the whole target instead (no Range support) is read once, up to
 * the end of the last range, and only the requested bytes reach sink;
 * when that read covers the whole target, its signed hashes are checked
 * too. A mirror that fails mid-transfer is resumed from the next byte
 * needed, on the same mirror or the next; no byte reaches sink twice.
 * The bytes are NOT verified here: the caller checks every piece it uses
 * against signed metadata (an image's chunk index).
 */
PAWL_API PAWL_MUST_USE int pawl_updater_download_ranges(pawl_updater *u, const pawl_target *t,
							const pawl_range *r, size_t n,
							pawl_target_sink sink, void *ctx);


/* Where t is found below a target base URL: its path, or
 * "DIR/HASH.NAME" when the repository uses consistent snapshots, escaped
 * as it is requested (*out malloc'd). After a refresh. For a program that
 * lays out a file:// mirror for another client. */
PAWL_API PAWL_MUST_USE int pawl_updater_target_url_path(pawl_updater *u, const pawl_target *t,
							char **out);

/* The trusted version of a role after refresh; 0 when not loaded. */
PAWL_API uint64_t pawl_updater_role_version(const pawl_updater *u, const char *role);

PAWL_API const char *pawl_target_path(const pawl_target *t);
PAWL_API uint64_t pawl_target_length(const pawl_target *t);
/* Hex digest for alg ("sha256", "sha512"), or NULL. */
PAWL_API const char *pawl_target_hash(const pawl_target *t, const char *alg);
/* The target's "custom" object as canonical JSON (owned by t), or NULL. */
PAWL_API const char *pawl_target_custom(const pawl_target *t);
/* The role that signed this entry. */
PAWL_API const char *pawl_target_role(const pawl_target *t);
PAWL_API void pawl_target_free(pawl_target *t);

#ifdef __cplusplus
}
#endif
#endif

/*
 * repo_sim.h - a small TUF repository simulator for the end-to-end tests,
 * built on libpawl's metadata builders (metadata/metadata.h).
 *
 * A repository lives in DOCROOT/NAME and is served by nginx as
 * /NAME/metadata/ and /NAME/targets/, in the layout the TUF specification
 * gives (5.x "consistent snapshots"):
 *   metadata/N.root.json            every root version
 *   metadata/timestamp.json
 *   metadata/N.snapshot.json        (snapshot.json when not consistent)
 *   metadata/N.ROLE.json            (ROLE.json when not consistent)
 *   targets/DIR/SHA256.NAME         (targets/DIR/NAME when not consistent)
 * File names on disk hold role names and target paths raw: nginx decodes
 * the client's percent-encoding before it looks for the file.
 *
 * Each role has a set of signers that rs_commit() signs it with. Versions
 * move forward one step per commit for every role that changed, and
 * snapshot and timestamp move on every commit, as a real repository does.
 * Tests that want to misbehave take the pawl_md of a role and change,
 * re-sign and write it themselves (rs_md_write(), rs_write()).
 *
 * Every failure fails the running cmocka test. Keys are Ed25519 (fast).
 */
#ifndef PAWL_REPO_SIM_H
#define PAWL_REPO_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "metadata/metadata.h"
#include "testing.h"

#define RS_MAX_SIGNERS 8
#define RS_MAX_ROLES 96
#define RS_MAX_POOL 256

typedef struct rs_role {
	char *name;               /* "timestamp", "snapshot", "targets", or delegated */
	pawl_md *md;
	pawl_signer *signers[RS_MAX_SIGNERS];
	size_t nsigners;
	bool dirty;               /* changed since it was last published */
	bool version_set;         /* the test chose the next version itself */
	bool published;
	int64_t expires;          /* 0: the repository's default */
	char *bytes;              /* what was last written */
	size_t len;
} rs_role;

typedef struct rs_repo {
	char *name;        /* URL path component under the docroot */
	char *dir;         /* DOCROOT/NAME */
	bool consistent;
	/* Options for what commit writes into snapshot/timestamp "meta". */
	bool ts_length_hashes;  /* timestamp lists snapshot length + hashes */
	bool sn_length_hashes;  /* snapshot lists each role's length + hashes */
	int64_t expires;        /* default expiry of new versions */

	pawl_md *root;
	pawl_signer *root_signers[RS_MAX_SIGNERS]; /* hold the root role now */
	size_t n_root_signers;
	bool root_published;

	rs_role roles[RS_MAX_ROLES]; /* [0] timestamp, [1] snapshot, [2] targets */
	size_t nroles;

	pawl_signer *pool[RS_MAX_POOL]; /* every signer made for this repo */
	size_t npool;
} rs_repo;

/* A repository with one Ed25519 key per top-level role (threshold 1),
 * root v1 written (it lives a year, the other roles a week). Nothing else
 * is written until the first rs_commit(), which publishes v1 of
 * timestamp, snapshot, targets and any delegated role. The signers are
 * pool[0] root, pool[1] timestamp, pool[2] snapshot, pool[3] targets
 * (the md_type values). */
rs_repo *rs_new(const char *docroot, const char *name, bool consistent);
void rs_free(rs_repo *r);

/* A new Ed25519 signer owned by the repository. */
pawl_signer *rs_keygen(rs_repo *r);
/* Its public half (caller frees with key_free()). */
pawl_key *rs_pub(const pawl_signer *s);

/* The role by name (fails the test when absent). */
rs_role *rs_role_get(rs_repo *r, const char *name);

/* ---- root ---- */

/* Set a top-level role's keys and threshold in root (the keys are added to
 * root.keys). For timestamp, snapshot and targets the role's signers become
 * keys[0..n). For root the signers stay: pass them to rs_root_publish(). */
void rs_root_set_role(rs_repo *r, md_type role, pawl_signer *const *keys, size_t n,
		      uint32_t threshold);
/* Bump root's version (except for v1), sign it with exactly signers and
 * write metadata/N.root.json. Afterwards the root signers are the keys
 * root's root role lists that are among signers. */
void rs_root_publish(rs_repo *r, pawl_signer *const *signers, size_t n);
/* The path of metadata/1.root.json, for `pawl init`. */
const char *rs_initial_root(const rs_repo *r);

/* ---- targets and delegations ---- */

/* Add (or replace) a target in role with content data; writes the file. */
void rs_add_target(rs_repo *r, const char *role, const char *path, const void *data,
		   size_t len);
/* The file a target is published under, relative to the repo dir, given
 * its content ("targets/dir/HASH.name" or "targets/dir/name"). */
const char *rs_target_relpath(const rs_repo *r, const char *path, const void *data,
			      size_t len);
/* Delegate from parent to a (possibly new) role child. Pass prefixes (not
 * NULL) for path_hash_prefixes, else paths. The child's signers become
 * keys[0..n). */
void rs_delegate(rs_repo *r, const char *parent, const char *child, pawl_signer *const *keys,
		 size_t n, uint32_t threshold, bool terminating, const char *const *paths,
		 size_t npaths, const char *const *prefixes, size_t nprefixes);
/* TAP 15 succinct hash bins from parent: creates the 2^bit_length bin
 * roles, all signed by keys. */
void rs_delegate_succinct(rs_repo *r, const char *parent, pawl_signer *const *keys, size_t n,
			  uint32_t threshold, uint32_t bit_length, const char *prefix);

/* Mark a role changed so the next commit re-signs it with a new version. */
void rs_touch(rs_repo *r, const char *role);
/* Have the next commit publish role at exactly version v. */
void rs_set_version(rs_repo *r, const char *role, uint64_t v);
/* Have the next commit publish role with this expiry (0: default). */
void rs_set_expires(rs_repo *r, const char *role, int64_t expires);

/* Sign every changed targets role, then snapshot and timestamp with the
 * next versions, and write them (timestamp last). */
void rs_commit(rs_repo *r);

/* ---- low level, for attacks ---- */

/* Clear md's signatures and sign it with signers. */
void rs_resign(pawl_md *md, pawl_signer *const *signers, size_t n);
/* Sign md's document as it is, without validating it first: for documents
 * the builders refuse (md_sign() reloads and so validates). Replaces all
 * signatures. Use rs_md_bytes()/rs_md_write() afterwards; md itself must
 * not be used for anything else. */
void rs_resign_unchecked(pawl_md *md, pawl_signer *const *signers, size_t n);
/* Serialise md (malloc'd). */
char *rs_md_bytes(pawl_md *md, size_t *len);
/* Write md to REPO/relpath. */
void rs_md_write(rs_repo *r, pawl_md *md, const char *relpath);
/* A fresh, independent copy of a role's current metadata. */
pawl_md *rs_md_copy(pawl_md *md);
/* The published file name of a role at a version, relative to the repo
 * dir: "metadata/V.NAME.json" (or without V. when not consistent;
 * timestamp is always "metadata/timestamp.json"). Rotating static buffer. */
const char *rs_meta_relpath(const rs_repo *r, const char *role, uint64_t version);
/* Write or read REPO/relpath. */
void rs_write(rs_repo *r, const char *relpath, const void *data, size_t len);
char *rs_read(const rs_repo *r, const char *relpath, size_t *len);
void rs_remove(rs_repo *r, const char *relpath);
/* Copy the whole repo tree to DOCROOT/newname (a mirror). */
void rs_mirror(const rs_repo *r, const char *docroot, const char *newname);

/* A hashes object {"sha256": hex} for data, owned by a static doc that
 * lives until the next call. */
const pj_value *rs_hashes(const void *data, size_t len);
/* Lower-case hex SHA-256 of data into out[65]. */
void rs_sha256_hex(const void *data, size_t len, char out[65]);

/* Seconds since the epoch, real time. */
int64_t rs_now(void);

#endif

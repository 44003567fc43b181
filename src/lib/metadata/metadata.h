/*
 * metadata.h - the TUF metadata model: root, timestamp, snapshot, targets
 * and delegated targets (TUF 1.0.x, section 4 "Document formats").
 *
 * A pawl_md is a validated view over a parsed JSON document. Parsing is
 * strict: every field the specification requires must be there with the
 * right type and range, and errors name the role and the field. Fields the
 * specification does not know are kept in the document untouched, so that
 * canonical re-serialisation of "signed" reproduces exactly the bytes the
 * publisher signed, custom fields included.
 *
 * Verification (md_verify) counts each distinct key once: a signature is
 * counted only if its keyid is one the role lists, the key is known and
 * usable, the signature is non-empty hex and verifies over the canonical
 * bytes of "signed"; two keyids that hold the same key material count as
 * one key. Below threshold is PAWL_E_SIGNATURE.
 *
 * Pointers into a pawl_md (role names, keyids, JSON values) stay valid
 * until md_free() or the next md_reload().
 */
#ifndef PAWL_METADATA_H
#define PAWL_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "json/json.h"
#include "util/guard.h"

typedef enum md_type {
	MD_ROOT = 0,
	MD_TIMESTAMP = 1,
	MD_SNAPSHOT = 2,
	MD_TARGETS = 3,
} md_type;

#define MD_NTOP 4

/* Bounds on what one metadata file may make us allocate. */
#define MD_MAX_KEYS 4096
#define MD_MAX_SIGNATURES 4096
#define MD_MAX_KEYIDS_PER_ROLE 1024
#define MD_MAX_DELEGATED_ROLES 65536
#define MD_MAX_PATHS_PER_ROLE 65536
#define MD_MAX_HASHES 8

const char *md_type_name(md_type t); /* "root", "timestamp", ... */

typedef struct md_keyentry {
	const char *keyid;
	pawl_key *key; /* NULL when the key is of an unsupported or weak kind */
} md_keyentry;

typedef struct md_keys {
	md_keyentry *v; /* sorted by keyid */
	size_t n;
} md_keys;

typedef struct md_role {
	const char *name;
	const char **keyids;
	uint32_t nkeyids;
	uint32_t threshold;
	/* Delegated roles only: */
	bool terminating;
	const pj_value *paths;              /* array of strings, or NULL */
	const pj_value *path_hash_prefixes; /* array of strings, or NULL */
} md_role;

/* TAP 15 succinct hash-bin delegation. */
typedef struct md_succinct {
	md_role role;          /* keyids, threshold; name unused */
	uint32_t bit_length;   /* 1..32 */
	const char *name_prefix;
} md_succinct;

typedef struct md_delegations {
	md_keys keys;
	md_role *roles; /* in document order: the search order */
	size_t nroles;
	bool succinct_present;
	md_succinct succinct;
} md_delegations;

typedef struct md_metafile {
	uint64_t version;
	bool has_length;
	uint64_t length;
	const pj_value *hashes; /* object alg -> hex, or NULL */
} md_metafile;

typedef struct md_target {
	uint64_t length;
	const pj_value *hashes;  /* object alg -> hex, never empty */
	const pj_value *custom;  /* or NULL */
} md_target;

typedef struct pawl_md {
	pj_doc *doc;
	md_type type;
	pj_value *signed_v;
	const pj_value *signatures;
	uint64_t version;
	int64_t expires;
	const char *expires_str;
	const char *spec_version;

	/* root */
	bool consistent_snapshot;
	md_keys keys;
	md_role roles[MD_NTOP];

	/* timestamp: the snapshot.json entry */
	md_metafile snapshot_meta;

	/* timestamp and snapshot: "meta" */
	const pj_value *meta;

	/* targets */
	const pj_value *targets;
	bool has_delegations;
	md_delegations deleg;

	/* canonical bytes of "signed", computed on demand */
	char *canon;
	size_t canon_len;
} pawl_md;

/* Parse and validate len bytes at buf as metadata of type expect. Takes
 * ownership of buf (malloc'd, with room for len + 1 bytes). name is the
 * role name used in messages (e.g. a delegated role's name). */
PAWL_MUST_USE int md_parse(pawl_md **ret, char *buf, size_t len, md_type expect,
			   const char *name);
/* Validate a document already parsed (takes ownership of doc). */
PAWL_MUST_USE int md_from_doc(pawl_md **ret, pj_doc *doc, md_type expect, const char *name);
/* Re-validate after the document was changed (builders). */
PAWL_MUST_USE int md_reload(pawl_md *md, const char *name);
void md_free(pawl_md *md);
static inline void md_freep(pawl_md **m)
{
	md_free(*m);
}
#define _cleanup_md_ _cleanup_(md_freep)

/* The canonical bytes of "signed" (cached). */
PAWL_MUST_USE int md_signed_bytes(pawl_md *md, const char **ret, size_t *ret_len);

/* What md_count_sigs() found. */
typedef struct md_sigcount {
	uint32_t valid; /* distinct keys of the role whose signature verifies */
	/* Why the first signature that a listed key id carries did not
	 * count ("key ... is unknown or unusable", "signature by ... is not
	 * hex", "... is invalid"); "" when there was none. */
	char why[160];
} md_sigcount;

/*
 * The threshold rule, the one place it is written (TUF 1.0.x 5.3.4,
 * 5.4.2, 5.5.3, 5.6.3 and for delegations 5.7): count the distinct keys
 * of role whose signature in sigs (a "signatures" array) verifies over
 * msg. The client (md_verify) and the publisher (pawl-repo status, sign,
 * publish) both count with it, so they never disagree.
 *
 *  - A signature counts only under a key id that role lists; others are
 *    ignored (they may be another role's).
 *  - An entry without a key id, or with an empty "sig" (an absent key
 *    holder leaves ""), is skipped.
 *  - A listed key id missing from keys, or whose key pawl cannot use, is
 *    ignored: it can never count.
 *  - One key counts once: the same key id twice, or two key ids holding
 *    the same key material (key_same_material), is one key.
 *  - A "sig" that is not hex, or that does not verify (PAWL_E_SIGNATURE
 *    from key_verify), does not count.
 *  - Any other failure (no memory, an OpenSSL failure) is returned as it
 *    is, and nothing is counted: a count is never lowered by a fault.
 *
 * stop: stop counting once this many keys are valid (0: count them all).
 * On success *ret holds the count; PAWL_E_FORMAT when sigs is not an
 * array. Meeting a threshold is the caller's comparison.
 */
PAWL_MUST_USE int md_count_sigs(const char *msg, size_t msglen, const pj_value *sigs,
				const md_keys *keys, const md_role *role, uint32_t stop,
				md_sigcount *ret);

/* md_count_sigs() over md's own signatures and the canonical bytes of its
 * "signed". */
PAWL_MUST_USE int md_count_valid(pawl_md *md, const md_keys *keys, const md_role *role,
				 uint32_t stop, md_sigcount *ret);

/* Check md is signed by at least role->threshold distinct keys of role,
 * with keys looked up in keys (md_count_sigs); a threshold below 1 is
 * refused. name is for messages. */
PAWL_MUST_USE int md_verify(pawl_md *md, const md_keys *keys, const md_role *role,
			    const char *name);

/* md_parse() then md_verify() against one role, in one step (it takes buf
 * like md_parse). For a large document whose "signed" is already in
 * canonical form, the signatures are checked over the raw bytes before
 * parsing and bound to the parsed document by SHA-256 of its canonical
 * form, so the canonical copy is never made (see verify.c); otherwise it
 * is exactly md_parse() + md_verify(). *fast (may be NULL) says which way
 * was taken. On failure nothing is returned. */
PAWL_MUST_USE int md_parse_verify(pawl_md **ret, char *buf, size_t len, md_type expect,
				  const char *name, const md_keys *keys, const md_role *role,
				  bool *fast);

/* PAWL_E_EXPIRED when now >= expires. */
PAWL_MUST_USE int md_check_expiry(const pawl_md *md, int64_t now, const char *name);

/* Look up a key by id; NULL when absent. */
const md_keyentry *md_keys_find(const md_keys *keys, const char *keyid);

/* Root: the role entry for a top-level role. */
const md_role *md_root_role(const pawl_md *root, md_type which);

/* Timestamp/snapshot: the meta entry for "NAME.json". PAWL_E_NOT_FOUND
 * when absent. */
PAWL_MUST_USE int md_meta_get(const pawl_md *md, const char *filename, md_metafile *ret);
PAWL_MUST_USE int md_metafile_parse(const pj_value *v, md_metafile *ret, const char *what);

/* Targets: the entry for path. PAWL_E_NOT_FOUND when absent. */
PAWL_MUST_USE int md_target_get(const pawl_md *md, const char *path, md_target *ret);
PAWL_MUST_USE int md_target_parse(const pj_value *v, md_target *ret, const char *what);

/* Does delegated role r cover target path? (paths: per-segment fnmatch, a
 * '*' never crosses '/'; path_hash_prefixes: prefix of hex SHA-256 of the
 * path.) */
bool md_role_matches(const md_role *r, const char *path);
/* Shell-style match of one pattern against one path, segment by segment. */
bool md_path_match(const char *pattern, const char *path);
/* The succinct bin role name for path into out. */
PAWL_MUST_USE int md_succinct_role_for(const md_succinct *s, const char *path, char *out,
				       size_t outlen);
/* Number of bins and the name of bin i. */
uint32_t md_succinct_count(const md_succinct *s);
PAWL_MUST_USE int md_succinct_name(const md_succinct *s, uint32_t bin, char *out, size_t outlen);
/* Is name one of the succinct roles? */
bool md_succinct_has(const md_succinct *s, const char *name);

/* Streaming verification of content against a "hashes" object: every
 * listed algorithm is checked; one pawl does not support (anything but
 * sha256 and sha512: sha1 and md5 are refused as weak) is
 * PAWL_E_UNSUPPORTED, since the content cannot be shown to match. */
typedef struct md_hashset {
	size_t n;
	hash_alg alg[MD_MAX_HASHES];
	uint8_t want[MD_MAX_HASHES][HASH_MAX_LEN];
	hash_ctx *ctx[MD_MAX_HASHES];
} md_hashset;
PAWL_MUST_USE int md_hashset_init(md_hashset *hs, const pj_value *hashes, const char *what);
PAWL_MUST_USE int md_hashset_update(md_hashset *hs, const void *p, size_t n);
/* PAWL_E_HASH naming what and the algorithm on mismatch. Frees the
 * contexts either way. */
PAWL_MUST_USE int md_hashset_final(md_hashset *hs, const char *what);
void md_hashset_free(md_hashset *hs);
/* One-shot: len and hashes of data. */
PAWL_MUST_USE int md_check_content(const void *data, size_t len, bool has_length,
				   uint64_t length, const pj_value *hashes, const char *what);

/* ---------------- building (publisher side, tests) ---------------- */

/* A new metadata document of the given type with empty collections. */
PAWL_MUST_USE int md_new(pawl_md **ret, md_type type, uint64_t version, int64_t expires);
PAWL_MUST_USE int md_set_version(pawl_md *md, uint64_t version);
PAWL_MUST_USE int md_set_expires(pawl_md *md, int64_t expires);
/* Root: add a key (no-op when present); set a role's keyids/threshold. */
PAWL_MUST_USE int md_root_add_key(pawl_md *md, const pawl_key *k);
PAWL_MUST_USE int md_root_set_role(pawl_md *md, md_type role, const char *const *keyids,
				   size_t n, uint32_t threshold);
PAWL_MUST_USE int md_root_set_consistent(pawl_md *md, bool on);
/* Timestamp/snapshot: set meta[filename]. hashes may be NULL. */
PAWL_MUST_USE int md_meta_put(pawl_md *md, const char *filename, uint64_t version,
			      bool with_length, uint64_t length, const pj_value *hashes);
/* Targets: set targets[path] = {length, hashes, custom?}. hashes and custom
 * are copied. */
PAWL_MUST_USE int md_target_put(pawl_md *md, const char *path, uint64_t length,
				const pj_value *hashes, const pj_value *custom);
PAWL_MUST_USE int md_target_remove(pawl_md *md, const char *path);
/* Targets: delegate to a named role (replacing one of the same name in
 * place), signed by threshold of keys, for paths or (when prefixes is not
 * NULL) path hash prefixes. The keys are added to delegations.keys. */
PAWL_MUST_USE int md_deleg_add_role(pawl_md *md, const char *name, pawl_key *const *keys,
				    size_t nkeys, uint32_t threshold, bool terminating,
				    const char *const *paths, size_t npaths,
				    const char *const *prefixes, size_t nprefixes);
/* Targets: TAP 15 succinct hash bins. */
PAWL_MUST_USE int md_deleg_set_succinct(pawl_md *md, pawl_key *const *keys, size_t nkeys,
					uint32_t threshold, uint32_t bit_length,
					const char *name_prefix);
/* Remove a named delegated role (its keys stay if others use them). */
PAWL_MUST_USE int md_deleg_remove_role(pawl_md *md, const char *name);
/* Drop all signatures (after changing "signed"). */
PAWL_MUST_USE int md_clear_signatures(pawl_md *md);
/* Add (or replace) the signature of signer over the canonical "signed". */
PAWL_MUST_USE int md_sign(pawl_md *md, const pawl_signer *signer);
/* The whole document as standard JSON (sorted keys, control characters
 * escaped; not canonical JSON, which may hold raw newlines), malloc'd,
 * ending in a newline. */
PAWL_MUST_USE int md_serialize(pawl_md *md, char **ret, size_t *ret_len);
PAWL_MUST_USE int md_json_write(const pj_value *v, char **ret, size_t *ret_len);

#endif

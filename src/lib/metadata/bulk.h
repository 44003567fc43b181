/*
 * bulk.h - inserting many entries into targets or snapshot metadata at
 * once (the publisher's hot path).
 *
 * md_target_put() and md_meta_put() keep the object sorted and re-validate
 * the whole document on every call, so adding n entries one by one costs
 * O(n^2). Here entries are appended unsorted (amortised O(1) each) and a
 * single md_bulk_finish() sorts the object once (a later entry for the
 * same name replaces an earlier one, and an appended entry replaces an
 * existing one) and re-validates the document once.
 *
 * Between the first append and md_bulk_finish() the pawl_md must not be
 * used for anything else: lookups, signing and serialising are undefined
 * until the object is finished. If an append fails, call md_bulk_finish()
 * anyway (or free the pawl_md); the entries appended so far stay.
 */
#ifndef PAWL_METADATA_BULK_H
#define PAWL_METADATA_BULK_H

#include <stddef.h>
#include <stdint.h>

#include "metadata/metadata.h"

typedef struct md_hash_hex {
	const char *alg; /* "sha256", "sha512" */
	const char *hex; /* lower-case hex digest */
} md_hash_hex;

/* Targets: append targets[path] = {length, hashes, custom?}. custom is
 * copied (may be NULL). */
PAWL_MUST_USE int md_bulk_target(pawl_md *md, const char *path, size_t pathlen,
				 uint64_t length, const md_hash_hex *hashes, size_t nhashes,
				 const pj_value *custom);
/* Snapshot/timestamp: append meta[filename] = {version, length?, hashes?}. */
PAWL_MUST_USE int md_bulk_meta(pawl_md *md, const char *filename, uint64_t version,
			       bool with_length, uint64_t length, const md_hash_hex *hashes,
			       size_t nhashes);
/* Sort what was appended (last entry for a name wins) and re-validate. */
PAWL_MUST_USE int md_bulk_finish(pawl_md *md);

/* Root: drop a key from "keys" (key rotation). PAWL_E_INVALID while a
 * role still lists it; PAWL_E_NOT_FOUND when absent. */
PAWL_MUST_USE int md_root_remove_key(pawl_md *md, const char *keyid);

#endif

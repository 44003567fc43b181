/*
 * delta.h - installing an image release from a pawl_install_source (issue
 * 19): the slot backend's pawl_install_release_source().
 *
 * The index comes whole through the source and is checked against its
 * signed length and hashes before it is parsed, then against the
 * release's signed custom data. Then:
 *  - format 1: the pack whole, through the stream installer's decoder
 *    (slot_write_pack), exactly as pawl_install_release_stream();
 *  - format 2 (docs/image-format.md, /work/notes/delta-design.md "Device"):
 *    the booted slot and the target slot are scanned for pieces the new
 *    image holds (two threads, an 8-byte key per piece and a sha256 per
 *    group); the sums of the groups the seeds do not explain are fetched
 *    (a sample first: unrelated seeds stop there), each group checked
 *    against its signed hash; every piece the device holds is copied
 *    after its bytes, read, matched the signed sum (or, for a group
 *    explained as a whole, the signed group hash recomputed over what was
 *    read); everything else comes from the frames that hold it, fetched
 *    as merged byte ranges in one stream and verified by the decoder
 *    before a byte is written.
 * The order of slot.h holds unchanged (slot_install_image): seeds are
 * scanned and sums fetched before the bootloader is touched; the target
 * is marked bad and journalled before the first write; the whole image is
 * read back before the switch, always (format 2: each group against its
 * signed hash in the index).
 *
 * A seed is never trusted: a piece whose bytes do not match is fetched
 * instead (seed_rejected), so a corrupted booted slot costs bytes, never
 * the install, and never lands in the target.
 */
#ifndef PAWL_SLOT_DELTA_H
#define PAWL_SLOT_DELTA_H

#include <stdbool.h>
#include <stdint.h>

#include "json/json.h"
#include "pawl/install.h"
#include "slot/slot.h"

/* The release, from verified TUF metadata (the index target and its
 * custom "image"). Nothing here is kept after the call. */
typedef struct slot_source_release {
	const char *version;          /* SemVer, from the signed custom data */
	bool recovery;
	const char *index_name;       /* the index target's path */
	uint64_t index_length;        /* ... its signed length */
	const pj_value *index_hashes; /* ... and its signed "hashes" */
	uint64_t image_length;        /* custom "image": "length" */
	const char *image_sha256;     /* custom "image": "sha256" (hex) */
	const char *pack_name;        /* custom "image": "pack", or NULL */
	const char *sums_name;        /* custom "image": "sums", or NULL */
	uint32_t format;              /* custom "image": "format", 0 when absent */
} slot_source_release;

/* Install rel from src into the inactive slot (slot_install's outcomes and
 * errors). xfer (may be NULL) receives the counts, also after a failure. */
PAWL_MUST_USE int slot_install_source(slot_ctx *s, const slot_source_release *rel,
				      const pawl_install_source *src,
				      pawl_install_transfer *xfer, slot_result *ret);

/* Bytes the format 2 tables took at their peak in the last
 * slot_install_source() on this thread (seed keys, group hashes, plan,
 * sums kept; not the decoder's buffers): for the tests and the bench. */
uint64_t slot_delta_peak_table_bytes(void);

#endif

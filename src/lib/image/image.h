/*
 * image.h - slot images: the chunk index, the streaming piece decoder and
 * the slot writer (docs/image-format.md has the byte layout).
 *
 * A release of a file system image is two TUF targets: a pack (the image
 * cut into pieces, each compressed on its own as one zstd frame, the
 * frames concatenated) and an index that lists, for every piece, where it
 * lies in the image and in the pack, its two lengths, and the sha256 of its
 * compressed and of its uncompressed bytes. The index is fetched whole and
 * checked against its signed length and hashes before it is parsed; the
 * pack streams.
 *
 * Guarantees:
 *  - image_index_parse() reads untrusted bytes only through a bounded
 *    cursor, puts a limit on every count and size, and accepts an index
 *    only when its pieces cover the image exactly, each piece fits its
 *    pack, no two pieces share pack bytes, and every length adds up.
 *    image_index_write() emits only what the parser accepts, and
 *    parse(write(x)) gives back x byte for byte.
 *  - The decoder hashes each piece's compressed bytes and compares them
 *    with the index before it decompresses a byte, decompresses into a
 *    buffer of exactly the piece's length, compares the result's sha256,
 *    and only then hands it to the sink. Memory is one piece, compressed
 *    and uncompressed, whatever the image's size.
 *  - The slot writer opens the slot itself and refuses a symbolic link,
 *    anything but a regular file or a block device, a slot smaller than
 *    the image and the booted slot, all before it writes a byte.
 *
 * Everything returns 0 or a negative pawl_err with the detail in the
 * thread's error object; nothing here prints.
 */
#ifndef PAWL_IMAGE_H
#define PAWL_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/guard.h"

#define IMAGE_INDEX_MAGIC "PAWLIDX"
#define IMAGE_INDEX_VERSION 1
/* The fixed header, a pack table entry without its name, a piece record. */
#define IMAGE_HEADER_LEN 64
#define IMAGE_PACK_ENTRY_LEN 10
#define IMAGE_PIECE_LEN 82

/* compression */
#define IMAGE_COMPRESS_ZSTD 1
/* chunking: every piece piece_size bytes but the last (1..piece_size), or
 * (for content-defined chunking later) any piece 1..piece_size bytes. */
#define IMAGE_CHUNK_FIXED 1
#define IMAGE_CHUNK_BOUNDED 2

/* Hard bounds of format version 1; image_limits may only lower them. */
#define IMAGE_PIECE_MIN 4096u
#define IMAGE_PIECE_MAX (4u << 20)
#define IMAGE_PACKS_MAX 1024u
#define IMAGE_PACK_NAME_MAX 1024u
#define IMAGE_PACK_LENGTH_MAX (UINT64_C(1) << 42)
#define IMAGE_PIECES_MAX (1u << 20)
#define IMAGE_LENGTH_MAX (UINT64_C(1) << 42)

/*
 * Format 2 (delta updates, #19; docs/image-format.md "Format 2"): the image
 * is cut into small fixed pieces (4 KiB by default, the file system's
 * block), which devices match against what they already hold by sha256.
 * The pieces' sha256s are a separate target, the sums (32 bytes a piece,
 * in image order); the index carries one sha256 per group of
 * group_pieces consecutive pieces (the sha256 of those pieces' 32-byte
 * sums, concatenated), so that a device fetches the sums only of the
 * groups its seeds do not already explain. Compressed units are frames:
 * one zstd frame holds a run of pieces; frames lie in packs, and a
 * version's index may name the packs of earlier versions (deduplicated
 * storage). Extents map runs of the image's pieces onto runs of pieces
 * inside frames.
 */
#define IMAGE_INDEX_VERSION2 2
#define IMAGE2_HEADER_LEN 80
#define IMAGE2_FRAME_LEN 82  /* the same layout as a format 1 piece record */
#define IMAGE2_EXTENT_LEN 16
#define IMAGE2_GROUP_LEN 32
#define IMAGE2_PIECE_DEFAULT 4096u
#define IMAGE2_PIECE_MAX (64u << 10)
#define IMAGE2_GROUP_DEFAULT 64u
#define IMAGE2_GROUP_MAX 4096u
#define IMAGE2_FRAME_DEFAULT (2u << 20)
#define IMAGE2_FRAME_MAX (4u << 20)  /* uncompressed bytes of one frame */
#define IMAGE2_FRAMES_MAX (1u << 22)
#define IMAGE2_PIECES_MAX (1u << 26) /* 256 GiB at 4 KiB */

typedef struct image_limits {
	uint32_t max_pieces;  /* format 1: default 262144; format 2: image
			       * pieces, default 2^22 (16 GiB at 4 KiB) */
	uint32_t max_piece;   /* uncompressed bytes of one piece (format 1)
			       * or frame (format 2), default 4 MiB */
	uint32_t max_packs;   /* default 1024 */
	uint64_t max_length;  /* the image, default 1 TiB */
	uint32_t max_frames;  /* format 2, default 2^20 */
} image_limits;

#define IMAGE_LIMITS_DEFAULT                                                              \
	{ 1u << 18, IMAGE_PIECE_MAX, IMAGE_PACKS_MAX, UINT64_C(1) << 40, 1u << 20 }

typedef struct image_pack {
	char *name;       /* the pack's TUF target path */
	uint64_t length;  /* its signed length */
} image_pack;

typedef struct image_piece {
	uint64_t offset;       /* in the image (implicit in the file: the sum
				* of the lengths before it) */
	uint64_t pack_offset;  /* in its pack */
	uint32_t ulen, clen;   /* uncompressed and compressed lengths */
	uint16_t pack;         /* index into the pack table */
	uint8_t csha[32];      /* sha256 of the compressed bytes */
	uint8_t usha[32];      /* sha256 of the uncompressed bytes */
} image_piece;

/* Format 2: image pieces first..first+count-1 are the pieces
 * fpiece..fpiece+count-1 of frame `frame` (its uncompressed bytes cut at
 * piece_size). */
typedef struct image_extent {
	uint32_t first;  /* first image piece */
	uint32_t count;  /* >= 1 */
	uint32_t frame;  /* into frames[] */
	uint32_t fpiece; /* first piece inside the frame */
} image_extent;

typedef struct image_index {
	uint8_t version;     /* IMAGE_INDEX_VERSION or IMAGE_INDEX_VERSION2 */
	uint8_t compression; /* IMAGE_COMPRESS_ZSTD */
	uint8_t chunking;    /* IMAGE_CHUNK_* */
	uint32_t piece_size; /* fixed: every piece but the last; bounded: the most */
	uint64_t length;     /* the image */
	uint8_t sha256[32];  /* of the whole image */
	image_pack *packs;
	uint32_t npacks;
	image_piece *pieces;
	uint32_t npieces;
	uint32_t cappieces;
	uint32_t max_clen;   /* the largest compressed piece (format 2: frame) */

	/* Format 2 only (format 1: all zero/NULL; format 2: pieces is NULL
	 * and npieces 0, so format 1 code never walks a format 2 index). */
	uint32_t image_pieces;    /* ceil(length / piece_size) */
	uint32_t group_pieces;    /* pieces a group (the last may have fewer) */
	image_piece *frames;      /* .offset unused (0); ulen a multiple of
				   * piece_size, except a frame whose last
				   * piece is the image's short last piece */
	uint32_t nframes, capframes;
	uint32_t max_fulen;       /* the largest uncompressed frame */
	image_extent *extents;    /* sorted, covering 0..image_pieces-1 once */
	uint32_t nextents, capextents;
	uint8_t (*groups)[32];    /* ceil(image_pieces / group_pieces) */
	uint32_t ngroups;
	char *sums_name;          /* the sums target: 32 * image_pieces bytes */
} image_index;

/* ---------------- index.c ---------------- */

/* Parse and validate an index of format 1 or 2 (idx->version says which).
 * lim may be NULL for the defaults (format 2 with NULL: 2^22 image pieces;
 * an explicit IMAGE_LIMITS_DEFAULT keeps format 1's 2^18, 1 GiB at 4 KiB).
 * The result is owned by the caller (image_index_free). */
PAWL_MUST_USE int image_index_parse(image_index **ret, const void *p, size_t n,
				    const image_limits *lim);
/* Serialise idx into out (appended), after image_index_check() with the
 * defaults: the writer emits nothing the parser would refuse. */
PAWL_MUST_USE int image_index_write(const image_index *idx, pawl_buf *out);
/* Everything the parser checks beyond the byte layout. */
PAWL_MUST_USE int image_index_check(const image_index *idx, const image_limits *lim);

/* Building an index (the publisher): a new empty index, then packs, then
 * pieces in image order; then set length, sha256 and the packs' lengths
 * directly. */
PAWL_MUST_USE int image_index_new(image_index **ret, uint8_t chunking, uint32_t piece_size);
PAWL_MUST_USE int image_index_add_pack(image_index *idx, const char *name, uint16_t *ret_id);
PAWL_MUST_USE int image_index_add_piece(image_index *idx, uint16_t pack, uint64_t pack_offset,
					uint32_t ulen, uint32_t clen, const uint8_t csha[32],
					const uint8_t usha[32]);
void image_index_free(image_index *idx);
static inline void image_index_freep(image_index **p)
{
	image_index_free(*p);
}
#define _cleanup_image_index_ _cleanup_(image_index_freep)

/* Is idx (format 1) one pack that holds every piece, in image order, back
 * to back from its first byte to its last? That is what a pack stream
 * decodes. Always false for format 2. */
bool image_index_sequential(const image_index *idx);

/* The release's signed custom data names the image's length and sha256
 * (lower-case hex): refuse an index that says otherwise. */
PAWL_MUST_USE int image_index_match(const image_index *idx, uint64_t length,
				    const char *sha256_hex);

/* Pack i of the index must be the TUF target `name` with its signed
 * length: PAWL_E_FORMAT for another name, PAWL_E_LENGTH for another
 * length. */
PAWL_MUST_USE int image_index_check_pack(const image_index *idx, uint32_t i, const char *name,
					 uint64_t signed_length);

/* Check one piece's bytes against the index: PAWL_E_LENGTH or
 * PAWL_E_HASH naming the piece and its image offset. */
PAWL_MUST_USE int image_piece_check_compressed(const image_index *idx, uint32_t i,
					       const uint8_t *p, size_t n);
PAWL_MUST_USE int image_piece_check_plain(const image_index *idx, uint32_t i,
					  const uint8_t *p, size_t n);

/* ---------------- index2.c: format 2 ---------------- */

/* Building a format 2 index (the publisher): new, then packs
 * (image_index_add_pack), frames and extents in image order, then
 * image_index2_set_sums() with every piece's sha256; set sha256 and the
 * packs' lengths directly, then image_index_check(). */
PAWL_MUST_USE int image_index2_new(image_index **ret, uint32_t piece_size, uint32_t group_pieces,
				   uint64_t length);
PAWL_MUST_USE int image_index2_add_frame(image_index *idx, uint16_t pack, uint64_t pack_offset,
					 uint32_t ulen, uint32_t clen, const uint8_t csha[32],
					 const uint8_t usha[32], uint32_t *ret_frame);
/* Appends, or grows the last extent when this one continues it. */
PAWL_MUST_USE int image_index2_add_extent(image_index *idx, uint32_t first, uint32_t count,
					  uint32_t frame, uint32_t fpiece);
/* Names the sums target and computes every group's hash from sums, the
 * image_pieces sha256s in image order. */
PAWL_MUST_USE int image_index2_set_sums(image_index *idx, const char *sums_name,
					const uint8_t (*sums)[32]);

/* Lengths: image piece i (piece_size but the last), a frame's pieces,
 * the pieces of group g. */
uint32_t image2_piece_len(const image_index *idx, uint32_t piece);
uint32_t image2_frame_pieces(const image_index *idx, uint32_t frame);
uint32_t image2_group_len(const image_index *idx, uint32_t group);
/* The extent holding image piece `piece` (binary search). */
PAWL_MUST_USE int image2_find_extent(const image_index *idx, uint32_t piece, uint32_t *ret_extent);
/* Are all n bytes zero? (A file system's free blocks and blank slots:
 * their sha256 is known, so they are compared rather than hashed.) */
bool image2_is_zero(const uint8_t *p, size_t n);
/* The sha256 of a whole piece of zeros. */
PAWL_MUST_USE int image2_zero_sum(const image_index *idx, uint8_t out[32]);
/* sha256 over n 32-byte sums: a group's hash. */
void image2_group_hash(const uint8_t (*sums)[32], size_t n, uint8_t out[32]);
/* Check the sums bytes of group g (32 * image2_group_len bytes) against
 * its signed hash: PAWL_E_LENGTH or PAWL_E_HASH naming the group. */
PAWL_MUST_USE int image2_check_group(const image_index *idx, uint32_t g, const uint8_t *p,
				     size_t n);
/* Check a frame's compressed or plain bytes: as image_piece_check_*. */
PAWL_MUST_USE int image2_frame_check_compressed(const image_index *idx, uint32_t frame,
						const uint8_t *p, size_t n);
PAWL_MUST_USE int image2_frame_check_plain(const image_index *idx, uint32_t frame,
					   const uint8_t *p, size_t n);

/* ---------------- encode.c ---------------- */

/* The publisher's side: one piece into one zstd frame that declares its
 * length and carries no checksum of its own (the index holds sha256s).
 * The output is deterministic for a given level and library version. One
 * compressor per thread. */
typedef struct image_compressor image_compressor;

#define IMAGE_LEVEL_DEFAULT 19

PAWL_MUST_USE int image_compressor_new(image_compressor **ret, int level);
/* The most bytes image_compress() can produce for n bytes. */
size_t image_compress_bound(size_t n);
PAWL_MUST_USE int image_compress(image_compressor *c, const uint8_t *src, size_t n, uint8_t *dst,
				 size_t cap, size_t *ret_len);
void image_compressor_free(image_compressor *c);

/* ---------------- decode.c ---------------- */

/* Where verified pieces go: the bytes of piece `piece`, which start at
 * image offset `offset`. A negative return stops the decoder with that
 * code. */
typedef struct image_sink {
	int (*write)(void *ctx, uint32_t piece, uint64_t offset, const uint8_t *p, size_t n);
	void *ctx;
} image_sink;

/* A push decoder of a pack stream: feed it the pack's bytes in any
 * chunks, as they arrive (a curl write callback, a pipe). idx must stay
 * valid and be sequential (image_index_sequential). The sink is called on
 * a writer thread of the decoder's own (one at a time, in piece order);
 * free the decoder before whatever the sink writes to. */
typedef struct image_decoder image_decoder;

PAWL_MUST_USE int image_decoder_new(image_decoder **ret, const image_index *idx, image_sink sink);
/* Take n more bytes of the pack. Every piece completed by them is
 * verified, decompressed and verified again before this returns, and
 * handed to the writer; a write error shows in a later push or in
 * finish. After a failure every later call returns the same code. */
PAWL_MUST_USE int image_decoder_push(image_decoder *d, const void *p, size_t n);
/* The pack has ended: waits for the writer; 0 only when every piece was
 * written and (unless deferred) the sha256 of the whole image matched the
 * index. */
PAWL_MUST_USE int image_decoder_finish(image_decoder *d);
/* Before the first push: leave the sha256 of the whole image to the
 * caller, who reads the image back from where the sink wrote it and
 * compares it with the index (the slot installer's read-back, which proves
 * more: what the device holds). Every piece is still verified, compressed
 * and plain, before the sink sees it; finish then checks that every piece
 * was written. PAWL_E_INVALID after the first push. */
PAWL_MUST_USE int image_decoder_defer_image_hash(image_decoder *d);
/* Pack bytes taken so far; image bytes handed to the sink so far. */
uint64_t image_decoder_pack_bytes(const image_decoder *d);
uint64_t image_decoder_image_bytes(image_decoder *d);
void image_decoder_free(image_decoder *d);
static inline void image_decoder_freep(image_decoder **p)
{
	image_decoder_free(*p);
}
#define _cleanup_image_decoder_ _cleanup_(image_decoder_freep)

/* ---------------- slot.c ---------------- */

/* A slot being written: a block device or an existing regular file. */
typedef struct image_slot image_slot;

/* Open path for writing idx's image. booted (may be NULL) names the
 * booted slot: a block device, a regular file, or any path on the
 * mounted booted file system; a slot that is it, or the device holding
 * it, is refused. Nothing is written here (a regular file slot gets its
 * blocks reserved, so a full disk shows now rather than halfway). */
PAWL_MUST_USE int image_slot_open(image_slot **ret, const char *path, const image_index *idx,
				  const char *booted);
/* Write piece `piece` (its whole uncompressed bytes, already verified)
 * at its offset. Matches image_sink.write. */
PAWL_MUST_USE int image_slot_write_piece(void *slot, uint32_t piece, uint64_t offset,
					 const uint8_t *p, size_t n);
/* Format 2 (the delta installer, which keeps its own account of which
 * pieces it wrote and reads the whole image back): write n already
 * verified bytes at offset, inside the image. image_slot_finish() then
 * only fsyncs (a format 2 index has no format 1 pieces to count). */
PAWL_MUST_USE int image_slot_write_at(image_slot *s, uint64_t offset, const uint8_t *p, size_t n);
/* The sink that writes into s. */
image_sink image_slot_sink(image_slot *s);
/* Every piece written: fsync. 0 only when every piece of the image was
 * written and the data reached the device. Call it after
 * image_decoder_finish() returned 0. */
PAWL_MUST_USE int image_slot_finish(image_slot *s);
/* Close (without syncing, when not finished) and free; accepts NULL.
 * This is also how a failed write is abandoned. */
void image_slot_free(image_slot *s);
static inline void image_slot_freep(image_slot **p)
{
	image_slot_free(*p);
}
#define _cleanup_image_slot_ _cleanup_(image_slot_freep)

/* The slot's size in bytes, as checked at open. */
uint64_t image_slot_size(const image_slot *s);
/* Have fn(ctx, prefix) called after each piece is written (on the thread
 * that wrote it), with the length of the image's prefix written so far:
 * every byte before prefix has been handed to the device (its writeback
 * started), not yet synced. Pieces written out of order count once the
 * gap before them is filled. Set it before the first write. */
void image_slot_follow(image_slot *s, void (*fn)(void *ctx, uint64_t prefix), void *ctx);
/* For writers that do not go through image_slot_write_piece (format 2,
 * image_slot_write_at): every byte below prefix is final (written, or
 * already right on the device and never to be written); prefix only grows.
 * Passed on to the follower, if one is set. */
void image_slot_final_upto(image_slot *s, uint64_t prefix);

#endif

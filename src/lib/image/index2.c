/*
 * index2.c - the image chunk index, format 2 (delta updates): parser,
 * checks, builder, writer, and the questions a device asks of it.
 *
 * The layout (docs/image-format.md "Format 2"), all integers big-endian:
 *
 *   header (80 bytes)
 *     0  7  magic "PAWLIDX"
 *     7  1  format version (2)
 *     8  4  length of the whole index in bytes
 *    12  1  compression (1: zstd)
 *    13  1  chunking (1: fixed)
 *    14  2  pack count (1..1024)
 *    16  4  piece size (4096..65536, a multiple of 4096)
 *    20  4  image piece count (ceil(image length / piece size))
 *    24  8  image length
 *    32 32  sha256 of the image
 *    64  4  frame count
 *    68  4  extent count
 *    72  4  group pieces (1..4096)
 *    76  2  sums name length (1..1024)
 *    78  2  reserved, 0
 *   pack table, pack count entries (as format 1)
 *     0  8  pack length
 *     8  2  name length
 *    10  -  name: the pack's TUF target path
 *   the sums target's name (sums name length bytes)
 *   frames, frame count records of 82 bytes (a format 1 piece record)
 *     0  2  pack
 *     2  4  uncompressed length
 *     6  4  compressed length
 *    10  8  offset in the pack
 *    18 32  sha256 of the compressed bytes
 *    50 32  sha256 of the uncompressed bytes
 *   extents, extent count records of 16 bytes, in image order
 *     0  4  first image piece
 *     4  4  piece count
 *     8  4  frame
 *    12  4  first piece inside the frame
 *   group hashes, ceil(image pieces / group pieces) of 32 bytes
 *
 * Nothing follows the group hashes. As in format 1, parsing reads the
 * byte layout through a bounded cursor, checking every count against the
 * bytes left before allocating, then applies image_index2_check(), the
 * rules the writer applies too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "crypto/crypto.h"
#include "image/image.h"
#include "image/index_priv.h"

/* With no limits given, format 2 allows images of up to 2^22 pieces
 * (16 GiB at 4 KiB); the other bounds are format 1's defaults. */
#define IMAGE2_PIECES_DEFAULT (1u << 22)
static const image_limits defaults2 = { IMAGE2_PIECES_DEFAULT, IMAGE2_FRAME_MAX, IMAGE_PACKS_MAX,
					UINT64_C(1) << 40, 1u << 20 };

struct bounds {
	uint64_t pieces, frame, packs, length, frames;
};

static struct bounds bounds_of(const image_limits *lim)
{
	struct bounds b;

	if (!lim)
		lim = &defaults2;
	b.pieces = min_u64(lim->max_pieces, IMAGE2_PIECES_MAX);
	b.frame = min_u64(lim->max_piece, IMAGE2_FRAME_MAX);
	b.packs = min_u64(lim->max_packs, IMAGE_PACKS_MAX);
	b.length = min_u64(lim->max_length, IMAGE_LENGTH_MAX);
	b.frames = min_u64(lim->max_frames, IMAGE2_FRAMES_MAX);
	return b;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* ---------------- lengths ---------------- */

uint32_t image2_piece_len(const image_index *idx, uint32_t piece)
{
	if (piece >= idx->image_pieces)
		return 0;
	if (piece + 1 < idx->image_pieces)
		return idx->piece_size;
	return (uint32_t)(idx->length - (uint64_t)piece * idx->piece_size);
}

uint32_t image2_frame_pieces(const image_index *idx, uint32_t frame)
{
	if (frame >= idx->nframes || idx->piece_size == 0)
		return 0;
	return (uint32_t)div_up(idx->frames[frame].ulen, idx->piece_size);
}

/* The length of piece k of a frame (0 past its end). */
static uint32_t frame_piece_len(const image_index *idx, uint32_t frame, uint32_t k)
{
	uint32_t n = image2_frame_pieces(idx, frame);

	if (k >= n)
		return 0;
	if (k + 1 < n)
		return idx->piece_size;
	return idx->frames[frame].ulen - k * idx->piece_size;
}

uint32_t image2_group_len(const image_index *idx, uint32_t group)
{
	uint64_t first;

	if (group >= idx->ngroups || idx->group_pieces == 0)
		return 0;
	first = (uint64_t)group * idx->group_pieces;
	if (first >= idx->image_pieces)
		return 0;
	return (uint32_t)min_u64(idx->group_pieces, idx->image_pieces - first);
}

int image2_find_extent(const image_index *idx, uint32_t piece, uint32_t *ret_extent)
{
	uint32_t lo = 0, hi = idx->nextents;

	ENSURE(piece < idx->image_pieces, PAWL_E_INVALID,
	       "image: no piece %" PRIu32 " (the image has %" PRIu32 ")", piece,
	       idx->image_pieces);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const image_extent *e = &idx->extents[mid];

		if (piece < e->first)
			hi = mid;
		else if (piece - e->first >= e->count)
			lo = mid + 1;
		else {
			*ret_extent = mid;
			return 0;
		}
	}
	return pawl_error_set(PAWL_E_INVALID, "image: no extent holds piece %" PRIu32, piece);
}

/* ---------------- hashes ---------------- */

static int group_hash(const uint8_t (*sums)[32], size_t n, uint8_t out[32])
{
	uint8_t d[HASH_MAX_LEN];

	GUARD(hash_once(HASH_SHA256, sums, n * 32, d));
	memcpy(out, d, 32);
	return 0;
}

void image2_group_hash(const uint8_t (*sums)[32], size_t n, uint8_t out[32])
{
	/* A failed digest (no memory in the crypto library) leaves zeros,
	 * which match no signed group hash: the group is refused, never
	 * taken on trust. */
	if (group_hash(sums, n, out) < 0) {
		memset(out, 0, 32);
		pawl_error_clear();
	}
}

bool image2_is_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int image2_zero_sum(const image_index *idx, uint8_t out[32])
{
	uint8_t *z = calloc(1, idx->piece_size), d[HASH_MAX_LEN];
	int r;

	if (!z)
		return pawl_error_set(PAWL_E_NOMEM, "no memory for a piece of %" PRIu32 " bytes",
				      idx->piece_size);
	r = hash_once(HASH_SHA256, z, idx->piece_size, d);
	free(z);
	GUARD(r);
	memcpy(out, d, 32);
	return 0;
}

int image2_check_group(const image_index *idx, uint32_t g, const uint8_t *p, size_t n)
{
	uint8_t d[32];
	uint32_t len;

	ENSURE(g < idx->ngroups, PAWL_E_INVALID, "image: no group %" PRIu32, g);
	len = image2_group_len(idx, g);
	ENSURE(n == (size_t)len * 32, PAWL_E_LENGTH,
	       "image sums, group %" PRIu32 " (pieces %" PRIu64 "..%" PRIu64 "): %zu bytes, the "
	       "index says %zu", g, (uint64_t)g * idx->group_pieces,
	       (uint64_t)g * idx->group_pieces + len - 1, n, (size_t)len * 32);
	GUARD(group_hash((const uint8_t(*)[32])p, len, d));
	ENSURE(digest_equal(d, idx->groups[g], 32), PAWL_E_HASH,
	       "image sums, group %" PRIu32 " (pieces %" PRIu64 "..%" PRIu64 "): the sums do not "
	       "match the group's sha256 in the signed index", g,
	       (uint64_t)g * idx->group_pieces, (uint64_t)g * idx->group_pieces + len - 1);
	return 0;
}

static int frame_check(const image_index *idx, uint32_t frame, const uint8_t *p, size_t n,
		       bool compressed)
{
	const image_piece *f;
	uint8_t d[HASH_MAX_LEN];
	uint32_t want;

	ENSURE(frame < idx->nframes, PAWL_E_INVALID, "image: no frame %" PRIu32, frame);
	f = &idx->frames[frame];
	want = compressed ? f->clen : f->ulen;
	ENSURE(n == want, PAWL_E_LENGTH,
	       "image frame %" PRIu32 " (pack %s, offset %" PRIu64 "): %zu %sbytes, the index "
	       "says %" PRIu32, frame, idx->packs[f->pack].name, f->pack_offset, n,
	       compressed ? "compressed " : "", want);
	GUARD(hash_once(HASH_SHA256, p, n, d));
	ENSURE(digest_equal(d, compressed ? f->csha : f->usha, 32), PAWL_E_HASH,
	       "image frame %" PRIu32 " (pack %s, offset %" PRIu64 "): the %sbytes do not match "
	       "the sha256 in the signed index", frame, idx->packs[f->pack].name, f->pack_offset,
	       compressed ? "compressed " : "");
	return 0;
}

int image2_frame_check_compressed(const image_index *idx, uint32_t frame, const uint8_t *p,
				  size_t n)
{
	return frame_check(idx, frame, p, n, true);
}

int image2_frame_check_plain(const image_index *idx, uint32_t frame, const uint8_t *p, size_t n)
{
	return frame_check(idx, frame, p, n, false);
}

/* ---------------- the checks ---------------- */


static int check_header(const image_index *idx, const struct bounds *b)
{
	uint64_t want;

	/* idx->version is 2: image_index_check() hands nothing else over. */
	ENSURE(idx->compression == IMAGE_COMPRESS_ZSTD, PAWL_E_UNSUPPORTED,
	       E_PREFIX "unknown compression %u (1 is zstd)", idx->compression);
	ENSURE(idx->chunking == IMAGE_CHUNK_FIXED, PAWL_E_UNSUPPORTED,
	       E_PREFIX "chunking %u; format 2 has only fixed pieces (1)", idx->chunking);
	ENSURE(idx->piece_size >= IMAGE_PIECE_MIN && idx->piece_size % IMAGE_PIECE_MIN == 0,
	       PAWL_E_FORMAT,
	       E_PREFIX "piece size %" PRIu32 " is not a multiple of %u bytes", idx->piece_size,
	       IMAGE_PIECE_MIN);
	ENSURE(idx->piece_size <= IMAGE2_PIECE_MAX && idx->piece_size <= b->frame, PAWL_E_LIMIT,
	       E_PREFIX "piece size %" PRIu32 " exceeds the limit of %" PRIu64 " bytes",
	       idx->piece_size, min_u64(IMAGE2_PIECE_MAX, b->frame));
	ENSURE(idx->length > 0, PAWL_E_FORMAT, E_PREFIX "the image is empty");
	ENSURE(idx->length <= b->length, PAWL_E_LIMIT,
	       E_PREFIX "image of %" PRIu64 " bytes exceeds the limit of %" PRIu64, idx->length,
	       b->length);
	ENSURE(idx->image_pieces <= b->pieces, PAWL_E_LIMIT,
	       E_PREFIX "%" PRIu32 " image pieces exceed the limit of %" PRIu64, idx->image_pieces,
	       b->pieces);
	want = div_up(idx->length, idx->piece_size);
	ENSURE(idx->image_pieces == want, PAWL_E_FORMAT,
	       E_PREFIX "%" PRIu32 " pieces of %" PRIu32 " bytes cannot hold an image of "
	       "%" PRIu64 " bytes (%" PRIu64 " pieces would)",
	       idx->image_pieces, idx->piece_size, idx->length, want);
	ENSURE(idx->group_pieces >= 1, PAWL_E_FORMAT, E_PREFIX "groups of 0 pieces");
	ENSURE(idx->group_pieces <= IMAGE2_GROUP_MAX, PAWL_E_LIMIT,
	       E_PREFIX "groups of %" PRIu32 " pieces exceed the limit of %u", idx->group_pieces,
	       IMAGE2_GROUP_MAX);
	want = div_up(idx->image_pieces, idx->group_pieces);
	ENSURE(idx->ngroups == want && idx->groups, PAWL_E_FORMAT,
	       E_PREFIX "%" PRIu32 " group hashes; %" PRIu32 " pieces in groups of %" PRIu32
	       " need %" PRIu64, idx->ngroups, idx->image_pieces, idx->group_pieces, want);
	return 0;
}

static int check_names(const image_index *idx, const struct bounds *b)
{
	ENSURE(idx->npacks > 0, PAWL_E_FORMAT, E_PREFIX "no packs");
	ENSURE(idx->npacks <= b->packs, PAWL_E_LIMIT,
	       E_PREFIX "%" PRIu32 " packs exceed the limit of %" PRIu64, idx->npacks, b->packs);
	for (uint32_t i = 0; i < idx->npacks; i++) {
		const image_pack *pk = &idx->packs[i];
		char what[32];

		snprintf(what, sizeof(what), "pack %" PRIu32, i);
		GUARD(image_check_name(pk->name, strlen(pk->name), what));
		ENSURE(pk->length > 0 && pk->length <= IMAGE_PACK_LENGTH_MAX, PAWL_E_LIMIT,
		       E_PREFIX "pack %s: length %" PRIu64 " (1 to %" PRIu64 " allowed)", pk->name,
		       pk->length, IMAGE_PACK_LENGTH_MAX);
		for (uint32_t j = 0; j < i; j++)
			ENSURE(strcmp(idx->packs[j].name, pk->name) != 0, PAWL_E_FORMAT,
			       E_PREFIX "pack %s is listed twice", pk->name);
	}
	ENSURE(idx->sums_name, PAWL_E_FORMAT, E_PREFIX "no sums target");
	GUARD(image_check_name(idx->sums_name, strlen(idx->sums_name), "the sums"));
	for (uint32_t j = 0; j < idx->npacks; j++)
		ENSURE(strcmp(idx->packs[j].name, idx->sums_name) != 0, PAWL_E_FORMAT,
		       E_PREFIX "the sums target %s is also pack %" PRIu32, idx->sums_name, j);
	return 0;
}

static int check_frames(const image_index *idx, const struct bounds *b)
{
	_cleanup_free_ bool *used = NULL;

	ENSURE(idx->nframes > 0, PAWL_E_FORMAT, E_PREFIX "no frames");
	ENSURE(idx->nframes <= b->frames, PAWL_E_LIMIT,
	       E_PREFIX "%" PRIu32 " frames exceed the limit of %" PRIu64, idx->nframes, b->frames);
	used = xcalloc(idx->npacks, sizeof(bool));
	if (!used)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < idx->nframes; i++) {
		const image_piece *f = &idx->frames[i];

		ENSURE(f->pack < idx->npacks, PAWL_E_FORMAT,
		       E_PREFIX "frame %" PRIu32 " names pack %u of %" PRIu32, i, f->pack,
		       idx->npacks);
		ENSURE(f->ulen > 0, PAWL_E_FORMAT, E_PREFIX "frame %" PRIu32 " is empty", i);
		ENSURE(f->ulen <= b->frame, PAWL_E_LIMIT,
		       E_PREFIX "frame %" PRIu32 " has %" PRIu32 " bytes, over the limit of %" PRIu64,
		       i, f->ulen, b->frame);
		ENSURE(f->clen > 0 && f->clen <= ZSTD_COMPRESSBOUND(f->ulen), PAWL_E_FORMAT,
		       E_PREFIX "frame %" PRIu32 ": %" PRIu32 " compressed bytes for %" PRIu32
		       " (zstd needs at most %zu)", i, f->clen, f->ulen,
		       (size_t)ZSTD_COMPRESSBOUND(f->ulen));
		ENSURE(f->pack_offset <= idx->packs[f->pack].length &&
			       f->clen <= idx->packs[f->pack].length - f->pack_offset,
		       PAWL_E_FORMAT,
		       E_PREFIX "frame %" PRIu32 " lies outside pack %s: bytes %" PRIu64 "+%" PRIu32
		       " of %" PRIu64, i, idx->packs[f->pack].name, f->pack_offset, f->clen,
		       idx->packs[f->pack].length);
		used[f->pack] = true;
	}
	for (uint32_t i = 0; i < idx->npacks; i++)
		ENSURE(used[i], PAWL_E_FORMAT, E_PREFIX "no frame is in pack %s", idx->packs[i].name);
	/* No two frames may share bytes of a pack. */
	return image_check_pack_overlap(idx, idx->frames, idx->nframes, "frames");
}

static int check_extents(const image_index *idx)
{
	_cleanup_free_ bool *used = NULL;
	uint64_t end = 0;

	ENSURE(idx->nextents > 0 && idx->nextents <= idx->image_pieces, PAWL_E_FORMAT,
	       E_PREFIX "%" PRIu32 " extents for %" PRIu32 " pieces (1 to one a piece allowed)",
	       idx->nextents, idx->image_pieces);
	used = xcalloc(idx->nframes, sizeof(bool));
	if (!used)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < idx->nextents; i++) {
		const image_extent *e = &idx->extents[i];
		uint32_t fp, last, flast;

		ENSURE(e->first == end, PAWL_E_FORMAT,
		       E_PREFIX "extent %" PRIu32 " starts at piece %" PRIu32 ", not at %" PRIu64
		       " where the one before it ends", i, e->first, end);
		ENSURE(e->count > 0, PAWL_E_FORMAT, E_PREFIX "extent %" PRIu32 " has no pieces", i);
		ENSURE(e->count <= idx->image_pieces - e->first, PAWL_E_FORMAT,
		       E_PREFIX "extent %" PRIu32 " (pieces %" PRIu32 "+%" PRIu32 ") runs past the "
		       "image's %" PRIu32 " pieces", i, e->first, e->count, idx->image_pieces);
		ENSURE(e->frame < idx->nframes, PAWL_E_FORMAT,
		       E_PREFIX "extent %" PRIu32 " (piece %" PRIu32 ") names frame %" PRIu32
		       " of %" PRIu32, i, e->first, e->frame, idx->nframes);
		fp = image2_frame_pieces(idx, e->frame);
		ENSURE(e->fpiece < fp && e->count <= fp - e->fpiece, PAWL_E_FORMAT,
		       E_PREFIX "extent %" PRIu32 " (piece %" PRIu32 ") takes pieces %" PRIu32
		       "+%" PRIu32 " of frame %" PRIu32 ", which has %" PRIu32,
		       i, e->first, e->fpiece, e->count, e->frame, fp);
		/* Inside an extent every piece is whole on both sides; only its
		 * last piece can be the image's short last piece or the frame's
		 * short last piece, and the two must agree. */
		last = e->first + e->count - 1;
		flast = e->fpiece + e->count - 1;
		ENSURE(image2_piece_len(idx, last) == frame_piece_len(idx, e->frame, flast),
		       PAWL_E_FORMAT,
		       E_PREFIX "extent %" PRIu32 ": image piece %" PRIu32 " has %" PRIu32 " bytes "
		       "but piece %" PRIu32 " of frame %" PRIu32 " has %" PRIu32,
		       i, last, image2_piece_len(idx, last), flast, e->frame,
		       frame_piece_len(idx, e->frame, flast));
		used[e->frame] = true;
		end = (uint64_t)e->first + e->count;
	}
	ENSURE(end == idx->image_pieces, PAWL_E_FORMAT,
	       E_PREFIX "the extents end at piece %" PRIu64 "; the image has %" PRIu32, end,
	       idx->image_pieces);
	for (uint32_t i = 0; i < idx->nframes; i++)
		ENSURE(used[i], PAWL_E_FORMAT, E_PREFIX "no extent uses frame %" PRIu32, i);
	return 0;
}

int image_index2_check(const image_index *idx, const image_limits *lim)
{
	struct bounds b = bounds_of(lim);

	GUARD(check_header(idx, &b));
	GUARD(check_names(idx, &b));
	GUARD(check_frames(idx, &b));
	return check_extents(idx);
}

/* ---------------- parsing ---------------- */

#define NEED(ok, what)                                                         \
	ENSURE_GOTO(r, (ok), PAWL_E_FORMAT, out, E_PREFIX "truncated in %s", (what))

int image_index2_parse(image_index **ret, const void *p, size_t n, const image_limits *lim)
{
	struct bounds b = bounds_of(lim);
	pawl_cursor c = cursor_init(p, n);
	image_index *idx = NULL;
	uint32_t total_len = 0;
	uint16_t npacks = 0, sums_len = 0, reserved = 0;
	uint64_t need, ngroups;
	int r = 0;

	ENSURE(n >= IMAGE2_HEADER_LEN, PAWL_E_FORMAT,
	       E_PREFIX "%zu bytes, shorter than its %u-byte header", n, IMAGE2_HEADER_LEN);
	(void)cursor_skip(&c, 8); /* magic and version, checked by the caller */
	(void)rd_u32(&c, &total_len);
	ENSURE(total_len == n, PAWL_E_FORMAT,
	       E_PREFIX "says it has %" PRIu32 " bytes but has %zu", total_len, n);

	idx = xcalloc(1, sizeof(*idx));
	if (!idx)
		return PAWL_E_NOMEM;
	idx->version = IMAGE_INDEX_VERSION2;
	/* The header is all there (n >= 80): these reads cannot fail. */
	(void)rd_u8(&c, &idx->compression);
	(void)rd_u8(&c, &idx->chunking);
	(void)rd_u16(&c, &npacks);
	(void)rd_u32(&c, &idx->piece_size);
	(void)rd_u32(&c, &idx->image_pieces);
	(void)rd_u64(&c, &idx->length);
	(void)rd_bytes(&c, idx->sha256, 32);
	(void)rd_u32(&c, &idx->nframes);
	(void)rd_u32(&c, &idx->nextents);
	(void)rd_u32(&c, &idx->group_pieces);
	(void)rd_u16(&c, &sums_len);
	(void)rd_u16(&c, &reserved);
	ENSURE_GOTO(r, reserved == 0, PAWL_E_FORMAT, out,
		    E_PREFIX "reserved header bytes 78..79 are %u, not 0", reserved);

	/* Counts before allocations: each against its limit, then all of
	 * them against the bytes that are left. */
	ENSURE_GOTO(r, npacks > 0, PAWL_E_FORMAT, out, E_PREFIX "no packs");
	ENSURE_GOTO(r, npacks <= b.packs, PAWL_E_LIMIT, out,
		    E_PREFIX "%u packs exceed the limit of %" PRIu64, npacks, b.packs);
	ENSURE_GOTO(r, idx->image_pieces > 0, PAWL_E_FORMAT, out, E_PREFIX "no pieces");
	ENSURE_GOTO(r, idx->image_pieces <= b.pieces, PAWL_E_LIMIT, out,
		    E_PREFIX "%" PRIu32 " image pieces exceed the limit of %" PRIu64,
		    idx->image_pieces, b.pieces);
	ENSURE_GOTO(r, idx->nframes > 0, PAWL_E_FORMAT, out, E_PREFIX "no frames");
	ENSURE_GOTO(r, idx->nframes <= b.frames, PAWL_E_LIMIT, out,
		    E_PREFIX "%" PRIu32 " frames exceed the limit of %" PRIu64, idx->nframes,
		    b.frames);
	ENSURE_GOTO(r, idx->nextents > 0 && idx->nextents <= idx->image_pieces, PAWL_E_FORMAT, out,
		    E_PREFIX "%" PRIu32 " extents for %" PRIu32 " pieces (1 to one a piece "
		    "allowed)", idx->nextents, idx->image_pieces);
	ENSURE_GOTO(r, idx->group_pieces >= 1, PAWL_E_FORMAT, out, E_PREFIX "groups of 0 pieces");
	ENSURE_GOTO(r, idx->group_pieces <= IMAGE2_GROUP_MAX, PAWL_E_LIMIT, out,
		    E_PREFIX "groups of %" PRIu32 " pieces exceed the limit of %u",
		    idx->group_pieces, IMAGE2_GROUP_MAX);
	ENSURE_GOTO(r, sums_len > 0 && sums_len <= IMAGE_PACK_NAME_MAX, PAWL_E_LIMIT, out,
		    E_PREFIX "the sums: name of %u bytes (1 to %u allowed)", sums_len,
		    IMAGE_PACK_NAME_MAX);
	ngroups = div_up(idx->image_pieces, idx->group_pieces);
	need = (uint64_t)npacks * (IMAGE_PACK_ENTRY_LEN + 1) + sums_len +
	       (uint64_t)idx->nframes * IMAGE2_FRAME_LEN +
	       (uint64_t)idx->nextents * IMAGE2_EXTENT_LEN + ngroups * IMAGE2_GROUP_LEN;
	ENSURE_GOTO(r, need <= c.left, PAWL_E_FORMAT, out,
		    E_PREFIX "%zu bytes cannot hold %u packs, %" PRIu32 " frames, %" PRIu32
		    " extents and %" PRIu64 " groups", n, npacks, idx->nframes, idx->nextents,
		    ngroups);

	idx->packs = xcalloc(npacks, sizeof(image_pack));
	idx->frames = xcalloc(idx->nframes, sizeof(image_piece));
	idx->extents = xcalloc(idx->nextents, sizeof(image_extent));
	idx->groups = xcalloc((size_t)ngroups, IMAGE2_GROUP_LEN);
	idx->capframes = idx->nframes;
	idx->capextents = idx->nextents;
	if (!idx->packs || !idx->frames || !idx->extents || !idx->groups) {
		r = PAWL_E_NOMEM;
		goto out;
	}
	GUARD_GOTO(r, image_read_pack_table(&c, idx, npacks), out);
	need = sums_len + (uint64_t)idx->nframes * IMAGE2_FRAME_LEN +
	       (uint64_t)idx->nextents * IMAGE2_EXTENT_LEN + ngroups * IMAGE2_GROUP_LEN;
	ENSURE_GOTO(r, c.left == need, PAWL_E_FORMAT, out,
		    E_PREFIX "%zu bytes follow the pack table; the sums name, %" PRIu32 " frames, "
		    "%" PRIu32 " extents and %" PRIu64 " groups take %" PRIu64,
		    c.left, idx->nframes, idx->nextents, ngroups, need);
	ENSURE_GOTO(r, memchr(c.p, '\0', sums_len) == NULL, PAWL_E_FORMAT, out,
		    E_PREFIX "the sums: name holds a NUL byte");
	idx->sums_name = xstrndup((const char *)c.p, sums_len);
	if (!idx->sums_name) {
		r = PAWL_E_NOMEM;
		goto out;
	}
	(void)cursor_skip(&c, sums_len);
	for (uint32_t i = 0; i < idx->nframes; i++) {
		image_piece *f = &idx->frames[i];

		NEED(rd_u16(&c, &f->pack) && rd_u32(&c, &f->ulen) && rd_u32(&c, &f->clen) &&
			     rd_u64(&c, &f->pack_offset) && rd_bytes(&c, f->csha, 32) &&
			     rd_bytes(&c, f->usha, 32),
		     "the frames");
		if (f->clen > idx->max_clen)
			idx->max_clen = f->clen;
		if (f->ulen > idx->max_fulen)
			idx->max_fulen = f->ulen;
	}
	for (uint32_t i = 0; i < idx->nextents; i++) {
		image_extent *e = &idx->extents[i];

		NEED(rd_u32(&c, &e->first) && rd_u32(&c, &e->count) && rd_u32(&c, &e->frame) &&
			     rd_u32(&c, &e->fpiece),
		     "the extents");
	}
	for (uint64_t g = 0; g < ngroups; g++)
		NEED(rd_bytes(&c, idx->groups[g], IMAGE2_GROUP_LEN), "the group hashes");
	idx->ngroups = (uint32_t)ngroups;
	GUARD_GOTO(r, image_index2_check(idx, lim), out);
	*ret = TAKE_PTR(idx);
out:
	image_index_free(idx);
	return r;
}

/* ---------------- building ---------------- */

int image_index2_new(image_index **ret, uint32_t piece_size, uint32_t group_pieces,
		     uint64_t length)
{
	image_index *idx;
	uint64_t pieces;

	ENSURE(piece_size > 0 && group_pieces > 0, PAWL_E_INVALID,
	       E_PREFIX "piece size %" PRIu32 ", groups of %" PRIu32 " pieces", piece_size,
	       group_pieces);
	pieces = div_up(length, piece_size);
	ENSURE(pieces <= UINT32_MAX, PAWL_E_LIMIT,
	       E_PREFIX "%" PRIu64 " pieces of %" PRIu32 " bytes do not fit the format", pieces,
	       piece_size);
	idx = xcalloc(1, sizeof(*idx));
	if (!idx)
		return PAWL_E_NOMEM;
	idx->version = IMAGE_INDEX_VERSION2;
	idx->compression = IMAGE_COMPRESS_ZSTD;
	idx->chunking = IMAGE_CHUNK_FIXED;
	idx->piece_size = piece_size;
	idx->group_pieces = group_pieces;
	idx->length = length;
	idx->image_pieces = (uint32_t)pieces;
	*ret = idx;
	return 0;
}

int image_index2_add_frame(image_index *idx, uint16_t pack, uint64_t pack_offset, uint32_t ulen,
			   uint32_t clen, const uint8_t csha[32], const uint8_t usha[32],
			   uint32_t *ret_frame)
{
	image_piece *f;

	ENSURE(idx->version == IMAGE_INDEX_VERSION2, PAWL_E_INVALID,
	       E_PREFIX "frames belong to format 2");
	ENSURE(pack < idx->npacks, PAWL_E_INVALID, E_PREFIX "no pack %u", pack);
	ENSURE(idx->nframes < IMAGE2_FRAMES_MAX, PAWL_E_LIMIT, E_PREFIX "more than %u frames",
	       IMAGE2_FRAMES_MAX);
	if (idx->nframes == idx->capframes) {
		uint32_t cap = idx->capframes ? idx->capframes * 2 : 64;
		image_piece *v = xreallocarray(idx->frames, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		idx->frames = v;
		idx->capframes = cap;
	}
	f = &idx->frames[idx->nframes];
	memset(f, 0, sizeof(*f));
	f->pack_offset = pack_offset;
	f->ulen = ulen;
	f->clen = clen;
	f->pack = pack;
	memcpy(f->csha, csha, 32);
	memcpy(f->usha, usha, 32);
	if (clen > idx->max_clen)
		idx->max_clen = clen;
	if (ulen > idx->max_fulen)
		idx->max_fulen = ulen;
	if (ret_frame)
		*ret_frame = idx->nframes;
	idx->nframes++;
	return 0;
}

int image_index2_add_extent(image_index *idx, uint32_t first, uint32_t count, uint32_t frame,
			    uint32_t fpiece)
{
	image_extent *e;

	ENSURE(idx->version == IMAGE_INDEX_VERSION2, PAWL_E_INVALID,
	       E_PREFIX "extents belong to format 2");
	if (idx->nextents > 0) {
		e = &idx->extents[idx->nextents - 1];
		if (e->frame == frame && (uint64_t)e->first + e->count == first &&
		    (uint64_t)e->fpiece + e->count == fpiece &&
		    (uint64_t)e->count + count <= UINT32_MAX) {
			e->count += count;
			return 0;
		}
	}
	/* Every extent holds a piece at least: no more extents than pieces
	 * (which also bounds the array). */
	ENSURE(idx->nextents < idx->image_pieces, PAWL_E_LIMIT,
	       E_PREFIX "more extents than the image's %" PRIu32 " pieces", idx->image_pieces);
	if (idx->nextents == idx->capextents) {
		uint32_t cap = (uint32_t)min_u64(idx->capextents ? (uint64_t)idx->capextents * 2 : 64,
						 idx->image_pieces);
		image_extent *v = xreallocarray(idx->extents, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		idx->extents = v;
		idx->capextents = cap;
	}
	e = &idx->extents[idx->nextents++];
	e->first = first;
	e->count = count;
	e->frame = frame;
	e->fpiece = fpiece;
	return 0;
}

int image_index2_set_sums(image_index *idx, const char *sums_name, const uint8_t (*sums)[32])
{
	uint32_t ngroups;
	uint8_t (*groups)[32];
	char *name;

	ENSURE(idx->version == IMAGE_INDEX_VERSION2 && idx->group_pieces > 0, PAWL_E_INVALID,
	       E_PREFIX "sums belong to format 2");
	GUARD(image_check_name(sums_name, strlen(sums_name), "the sums"));
	ngroups = (uint32_t)div_up(idx->image_pieces, idx->group_pieces);
	groups = xcalloc(ngroups ? ngroups : 1, IMAGE2_GROUP_LEN);
	name = xstrdup(sums_name);
	if (!groups || !name) {
		free(groups);
		free(name);
		return PAWL_E_NOMEM;
	}
	for (uint32_t g = 0; g < ngroups; g++) {
		uint64_t first = (uint64_t)g * idx->group_pieces;
		size_t n = (size_t)min_u64(idx->group_pieces, idx->image_pieces - first);
		int r = group_hash(sums + first, n, groups[g]);

		if (r < 0) {
			free(groups);
			free(name);
			return r;
		}
	}
	free(idx->groups);
	free(idx->sums_name);
	idx->groups = groups;
	idx->ngroups = ngroups;
	idx->sums_name = name;
	return 0;
}

/* ---------------- writing ---------------- */

/* The largest index the format's bounds allow (one group a piece, every
 * name at its longest): it fits the header's 32-bit length. */
#define IMAGE2_MAX_BYTES                                                                      \
	((uint64_t)IMAGE2_HEADER_LEN + (uint64_t)IMAGE_PACKS_MAX * (IMAGE_PACK_ENTRY_LEN +       \
								  IMAGE_PACK_NAME_MAX) +        \
	 IMAGE_PACK_NAME_MAX + (uint64_t)IMAGE2_FRAMES_MAX * IMAGE2_FRAME_LEN +                  \
	 (uint64_t)IMAGE2_PIECES_MAX * (IMAGE2_EXTENT_LEN + IMAGE2_GROUP_LEN))
_Static_assert(IMAGE2_MAX_BYTES <= UINT32_MAX, "a format 2 index must fit its length field");

int image_index2_write(const image_index *idx, pawl_buf *out)
{
	uint64_t size = IMAGE2_HEADER_LEN;
	size_t sums_len;
	uint8_t *p;

	GUARD(image_index2_check(idx, NULL));
	sums_len = strlen(idx->sums_name);
	for (uint32_t i = 0; i < idx->npacks; i++)
		size += IMAGE_PACK_ENTRY_LEN + strlen(idx->packs[i].name);
	size += sums_len + (uint64_t)idx->nframes * IMAGE2_FRAME_LEN +
		(uint64_t)idx->nextents * IMAGE2_EXTENT_LEN + (uint64_t)idx->ngroups * IMAGE2_GROUP_LEN;
	/* size fits the header's u32: the check above bounds every count
	 * (IMAGE2_MAX_BYTES). */
	GUARD(buf_reserve(out, (size_t)size));
	p = (uint8_t *)out->data + out->len;

	memcpy(p, IMAGE_INDEX_MAGIC, 7);
	p[7] = IMAGE_INDEX_VERSION2;
	put_u32(p + 8, (uint32_t)size);
	p[12] = idx->compression;
	p[13] = idx->chunking;
	put_u16(p + 14, (uint16_t)idx->npacks);
	put_u32(p + 16, idx->piece_size);
	put_u32(p + 20, idx->image_pieces);
	put_u64(p + 24, idx->length);
	memcpy(p + 32, idx->sha256, 32);
	put_u32(p + 64, idx->nframes);
	put_u32(p + 68, idx->nextents);
	put_u32(p + 72, idx->group_pieces);
	put_u16(p + 76, (uint16_t)sums_len);
	put_u16(p + 78, 0);
	p += IMAGE2_HEADER_LEN;
	for (uint32_t i = 0; i < idx->npacks; i++) {
		size_t nlen = strlen(idx->packs[i].name);

		put_u64(p, idx->packs[i].length);
		put_u16(p + 8, (uint16_t)nlen);
		memcpy(p + IMAGE_PACK_ENTRY_LEN, idx->packs[i].name, nlen);
		p += IMAGE_PACK_ENTRY_LEN + nlen;
	}
	memcpy(p, idx->sums_name, sums_len);
	p += sums_len;
	for (uint32_t i = 0; i < idx->nframes; i++) {
		const image_piece *f = &idx->frames[i];

		put_u16(p, f->pack);
		put_u32(p + 2, f->ulen);
		put_u32(p + 6, f->clen);
		put_u64(p + 10, f->pack_offset);
		memcpy(p + 18, f->csha, 32);
		memcpy(p + 50, f->usha, 32);
		p += IMAGE2_FRAME_LEN;
	}
	for (uint32_t i = 0; i < idx->nextents; i++) {
		const image_extent *e = &idx->extents[i];

		put_u32(p, e->first);
		put_u32(p + 4, e->count);
		put_u32(p + 8, e->frame);
		put_u32(p + 12, e->fpiece);
		p += IMAGE2_EXTENT_LEN;
	}
	for (uint32_t g = 0; g < idx->ngroups; g++) {
		memcpy(p, idx->groups[g], IMAGE2_GROUP_LEN);
		p += IMAGE2_GROUP_LEN;
	}
	out->len += (size_t)size;
	out->data[out->len] = '\0';
	return 0;
}

void image_index2_free_parts(image_index *idx)
{
	free(idx->frames);
	free(idx->extents);
	free(idx->groups);
	free(idx->sums_name);
}

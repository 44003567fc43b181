/*
 * index.c - the image chunk index: parser, checks, builder and writer.
 *
 * The layout (docs/image-format.md), all integers big-endian:
 *
 *   header (64 bytes)
 *     0  7  magic "PAWLIDX"
 *     7  1  format version (1)
 *     8  4  length of the whole index in bytes
 *    12  1  compression (1: zstd, one frame per piece)
 *    13  1  chunking (1: fixed, 2: bounded)
 *    14  2  pack count
 *    16  4  piece size
 *    20  4  piece count
 *    24  8  image length
 *    32 32  sha256 of the image
 *   pack table, pack count entries
 *     0  8  pack length
 *     8  2  name length
 *    10  -  name: the pack's TUF target path
 *   pieces, piece count records of 82 bytes, in image order
 *     0  2  pack (index into the pack table)
 *     2  4  uncompressed length
 *     6  4  compressed length
 *    10  8  offset in the pack
 *    18 32  sha256 of the compressed bytes
 *    50 32  sha256 of the uncompressed bytes
 *
 * A piece's image offset is not stored: it is the sum of the lengths
 * before it, so an index cannot describe a gap or an overlap in the image,
 * only lengths that fail to add up, which the checks refuse.
 *
 * Format 2 (delta updates) is in index2.c; image_index_parse(),
 * image_index_check() and image_index_write() hand it over on its version
 * byte.
 *
 * Parsing goes in two steps: the byte layout through a bounded cursor
 * (counts are checked against the bytes left before anything is
 * allocated), then image_index_check(), the rules the writer applies too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "crypto/crypto.h"
#include "image/image.h"
#include "image/index_priv.h"

/* ---------------- the checks ---------------- */

/* A pack name is a TUF target path as pawl-repo writes them: relative,
 * no empty, "." or ".." component, no control characters. */
int image_check_name(const char *name, size_t len, const char *what)
{
	size_t seg = 0;

	ENSURE(len > 0 && len <= IMAGE_PACK_NAME_MAX, PAWL_E_LIMIT,
	       E_PREFIX "%s: name of %zu bytes (1 to %u allowed)", what, len,
	       IMAGE_PACK_NAME_MAX);
	ENSURE(name[0] != '/', PAWL_E_FORMAT,
	       E_PREFIX "%s: name \"%.*s\" is not a relative target path", what, (int)len, name);
	for (size_t k = 0; k <= len; k++) {
		unsigned char ch = k < len ? (unsigned char)name[k] : '/';

		if (ch == '/') {
			size_t sl = k - seg;
			const char *s = name + seg;

			ENSURE(sl > 0 && !(sl == 1 && s[0] == '.') &&
				       !(sl == 2 && s[0] == '.' && s[1] == '.'),
			       PAWL_E_FORMAT,
			       E_PREFIX "%s: name \"%.*s\" has an empty, '.' or '..' component",
			       what, (int)len, name);
			seg = k + 1;
			continue;
		}
		ENSURE(ch >= 0x20 && ch != 0x7f, PAWL_E_FORMAT,
		       E_PREFIX "%s: name has a control character at byte %zu", what, k);
	}
	return 0;
}

static int check_pack_name(const char *name, size_t len, uint32_t i)
{
	char what[32];

	snprintf(what, sizeof(what), "pack %" PRIu32, i);
	return image_check_name(name, len, what);
}

static int cmp_pack_range(const void *a, const void *b, void *ctx)
{
	const image_piece *arr = ctx;
	const image_piece *x = &arr[*(const uint32_t *)a];
	const image_piece *y = &arr[*(const uint32_t *)b];

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->pack_offset != y->pack_offset)
		return x->pack_offset < y->pack_offset ? -1 : 1;
	return 0;
}

int image_check_pack_overlap(const image_index *idx, const image_piece *arr, uint32_t n,
			     const char *what)
{
	_cleanup_free_ uint32_t *order = xreallocarray(NULL, n, sizeof(uint32_t));

	if (!order)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(uint32_t), cmp_pack_range, (void *)arr);
	for (uint32_t k = 1; k < n; k++) {
		const image_piece *x = &arr[order[k - 1]], *y = &arr[order[k]];

		if (x->pack != y->pack)
			continue;
		ENSURE(x->pack_offset + x->clen <= y->pack_offset, PAWL_E_FORMAT,
		       E_PREFIX "%s %" PRIu32 " and %" PRIu32 " overlap in pack %s (bytes "
		       "%" PRIu64 "+%" PRIu32 " and %" PRIu64 "+%" PRIu32 ")",
		       what, order[k - 1], order[k], idx->packs[x->pack].name, x->pack_offset,
		       x->clen, y->pack_offset, y->clen);
	}
	return 0;
}

int image_index_check(const image_index *idx, const image_limits *lim)
{
	static const image_limits defaults = IMAGE_LIMITS_DEFAULT;
	_cleanup_free_ bool *used = NULL;
	uint64_t max_piece, max_length, max_pieces, max_packs, total = 0;

	if (idx->version == IMAGE_INDEX_VERSION2)
		return image_index2_check(idx, lim);
	if (!lim)
		lim = &defaults;
	max_piece = min_u64(lim->max_piece, IMAGE_PIECE_MAX);
	max_length = min_u64(lim->max_length, IMAGE_LENGTH_MAX);
	max_pieces = min_u64(lim->max_pieces, IMAGE_PIECES_MAX);
	max_packs = min_u64(lim->max_packs, IMAGE_PACKS_MAX);

	ENSURE(idx->version == IMAGE_INDEX_VERSION, PAWL_E_UNSUPPORTED,
	       E_PREFIX "format version %u; this pawl reads versions %u and %u", idx->version,
	       IMAGE_INDEX_VERSION, IMAGE_INDEX_VERSION2);
	ENSURE(idx->compression == IMAGE_COMPRESS_ZSTD, PAWL_E_UNSUPPORTED,
	       E_PREFIX "unknown compression %u (1 is zstd)", idx->compression);
	ENSURE(idx->chunking == IMAGE_CHUNK_FIXED || idx->chunking == IMAGE_CHUNK_BOUNDED,
	       PAWL_E_UNSUPPORTED, E_PREFIX "unknown chunking %u (1 fixed, 2 bounded)",
	       idx->chunking);
	ENSURE(idx->piece_size >= IMAGE_PIECE_MIN, PAWL_E_FORMAT,
	       E_PREFIX "piece size %" PRIu32 " is below the minimum of %u bytes", idx->piece_size,
	       IMAGE_PIECE_MIN);
	ENSURE(idx->piece_size <= max_piece, PAWL_E_LIMIT,
	       E_PREFIX "piece size %" PRIu32 " exceeds the limit of %" PRIu64 " bytes",
	       idx->piece_size, max_piece);
	ENSURE(idx->length > 0, PAWL_E_FORMAT, E_PREFIX "the image is empty");
	ENSURE(idx->length <= max_length, PAWL_E_LIMIT,
	       E_PREFIX "image of %" PRIu64 " bytes exceeds the limit of %" PRIu64, idx->length,
	       max_length);
	ENSURE(idx->npacks > 0, PAWL_E_FORMAT, E_PREFIX "no packs");
	ENSURE(idx->npacks <= max_packs, PAWL_E_LIMIT,
	       E_PREFIX "%" PRIu32 " packs exceed the limit of %" PRIu64, idx->npacks, max_packs);
	ENSURE(idx->npieces > 0, PAWL_E_FORMAT, E_PREFIX "no pieces");
	ENSURE(idx->npieces <= max_pieces, PAWL_E_LIMIT,
	       E_PREFIX "%" PRIu32 " pieces exceed the limit of %" PRIu64, idx->npieces,
	       max_pieces);
	if (idx->chunking == IMAGE_CHUNK_FIXED) {
		uint64_t want = idx->length / idx->piece_size + (idx->length % idx->piece_size != 0);

		ENSURE(idx->npieces == want, PAWL_E_FORMAT,
		       E_PREFIX "%" PRIu32 " pieces of %" PRIu32 " bytes cannot hold an image of "
		       "%" PRIu64 " bytes (%" PRIu64 " pieces would)",
		       idx->npieces, idx->piece_size, idx->length, want);
	}

	for (uint32_t i = 0; i < idx->npacks; i++) {
		const image_pack *pk = &idx->packs[i];

		GUARD(check_pack_name(pk->name, strlen(pk->name), i));
		ENSURE(pk->length > 0 && pk->length <= IMAGE_PACK_LENGTH_MAX, PAWL_E_LIMIT,
		       E_PREFIX "pack %s: length %" PRIu64 " (1 to %" PRIu64 " allowed)", pk->name,
		       pk->length, IMAGE_PACK_LENGTH_MAX);
		for (uint32_t j = 0; j < i; j++)
			ENSURE(strcmp(idx->packs[j].name, pk->name) != 0, PAWL_E_FORMAT,
			       E_PREFIX "pack %s is listed twice", pk->name);
	}

	used = xcalloc(idx->npacks, sizeof(bool));
	if (!used)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < idx->npieces; i++) {
		const image_piece *pc = &idx->pieces[i];
		bool last = i + 1 == idx->npieces;

		ENSURE(pc->offset == total, PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " starts at %" PRIu64 ", not at %" PRIu64
		       " where the one before it ends", i, pc->offset, total);
		ENSURE(pc->pack < idx->npacks, PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " (offset %" PRIu64 ") names pack %u of %" PRIu32,
		       i, total, pc->pack, idx->npacks);
		ENSURE(pc->ulen > 0 && pc->ulen <= idx->piece_size, PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " (offset %" PRIu64 ") has %" PRIu32 " bytes "
		       "(1 to %" PRIu32 " allowed)", i, total, pc->ulen, idx->piece_size);
		ENSURE(idx->chunking != IMAGE_CHUNK_FIXED || last || pc->ulen == idx->piece_size,
		       PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " (offset %" PRIu64 ") has %" PRIu32 " bytes; fixed "
		       "chunking needs %" PRIu32 " in every piece but the last",
		       i, total, pc->ulen, idx->piece_size);
		ENSURE(pc->clen > 0 && pc->clen <= ZSTD_COMPRESSBOUND(pc->ulen), PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " (offset %" PRIu64 "): %" PRIu32 " compressed "
		       "bytes for %" PRIu32 " (zstd needs at most %zu)",
		       i, total, pc->clen, pc->ulen, (size_t)ZSTD_COMPRESSBOUND(pc->ulen));
		ENSURE(pc->pack_offset <= idx->packs[pc->pack].length &&
			       pc->clen <= idx->packs[pc->pack].length - pc->pack_offset,
		       PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " (offset %" PRIu64 ") lies outside pack %s: bytes "
		       "%" PRIu64 "+%" PRIu32 " of %" PRIu64,
		       i, total, idx->packs[pc->pack].name, pc->pack_offset, pc->clen,
		       idx->packs[pc->pack].length);
		used[pc->pack] = true;
		total += pc->ulen; /* at most 2^20 pieces of 2^22 bytes: no overflow */
		ENSURE(total <= idx->length, PAWL_E_FORMAT,
		       E_PREFIX "piece %" PRIu32 " ends at %" PRIu64 ", past the image's %" PRIu64
		       " bytes", i, total, idx->length);
	}
	ENSURE(total == idx->length, PAWL_E_FORMAT,
	       E_PREFIX "the pieces hold %" PRIu64 " bytes, the image has %" PRIu64, total,
	       idx->length);
	for (uint32_t i = 0; i < idx->npacks; i++)
		ENSURE(used[i], PAWL_E_FORMAT, E_PREFIX "no piece is in pack %s",
		       idx->packs[i].name);
	return image_check_pack_overlap(idx, idx->pieces, idx->npieces, "pieces");
}

/* ---------------- parsing ---------------- */

int image_read_pack_table(pawl_cursor *c, image_index *idx, uint32_t npacks)
{
	for (uint32_t i = 0; i < npacks; i++) {
		image_pack *pk = &idx->packs[i];
		uint16_t nlen;

		ENSURE(rd_u64(c, &pk->length) && rd_u16(c, &nlen), PAWL_E_FORMAT,
		       E_PREFIX "truncated in the pack table");
		ENSURE(nlen > 0 && nlen <= IMAGE_PACK_NAME_MAX, PAWL_E_LIMIT,
		       E_PREFIX "pack %" PRIu32 ": name of %u bytes (1 to %u allowed)", i, nlen,
		       IMAGE_PACK_NAME_MAX);
		ENSURE(c->left >= nlen, PAWL_E_FORMAT, E_PREFIX "truncated in a pack name");
		ENSURE(memchr(c->p, '\0', nlen) == NULL, PAWL_E_FORMAT,
		       E_PREFIX "pack %" PRIu32 ": name holds a NUL byte", i);
		pk->name = xstrndup((const char *)c->p, nlen);
		if (!pk->name)
			return pawl_error_set(PAWL_E_NOMEM, "out of memory");
		(void)cursor_skip(c, nlen);
		idx->npacks = i + 1; /* the caller frees what was allocated on failure */
	}
	return 0;
}

#define NEED(ok, what)                                                         \
	ENSURE_GOTO(r, (ok), PAWL_E_FORMAT, out, E_PREFIX "truncated in %s", (what))

int image_index_parse(image_index **ret, const void *p, size_t n, const image_limits *lim)
{
	static const image_limits defaults = IMAGE_LIMITS_DEFAULT;
	pawl_cursor c = cursor_init(p, n);
	image_index *idx = NULL;
	uint8_t magic[7], version = 0;
	uint16_t npacks = 0;
	uint32_t total_len = 0, npieces = 0;
	uint64_t pos = 0, need;
	int r = 0;

	if (!lim)
		lim = &defaults;
	ENSURE(n >= 8 && rd_bytes(&c, magic, 7) && memcmp(magic, IMAGE_INDEX_MAGIC, 7) == 0,
	       PAWL_E_FORMAT, E_PREFIX "not a pawl image index (no \"" IMAGE_INDEX_MAGIC
	       "\" magic)");
	(void)rd_u8(&c, &version);
	if (version == IMAGE_INDEX_VERSION2)
		return image_index2_parse(ret, p, n, lim);
	ENSURE(version == IMAGE_INDEX_VERSION, PAWL_E_UNSUPPORTED,
	       E_PREFIX "format version %u; this pawl reads versions %u and %u", version,
	       IMAGE_INDEX_VERSION, IMAGE_INDEX_VERSION2);
	ENSURE(n >= IMAGE_HEADER_LEN, PAWL_E_FORMAT,
	       E_PREFIX "%zu bytes, shorter than its %u-byte header", n, IMAGE_HEADER_LEN);
	(void)rd_u32(&c, &total_len);
	ENSURE(total_len == n, PAWL_E_FORMAT,
	       E_PREFIX "says it has %" PRIu32 " bytes but has %zu", total_len, n);

	idx = xcalloc(1, sizeof(*idx));
	if (!idx)
		return PAWL_E_NOMEM;
	idx->version = version;
	/* The header is all there (n >= 64), so these reads cannot fail. */
	(void)rd_u8(&c, &idx->compression);
	(void)rd_u8(&c, &idx->chunking);
	(void)rd_u16(&c, &npacks);
	(void)rd_u32(&c, &idx->piece_size);
	(void)rd_u32(&c, &npieces);
	(void)rd_u64(&c, &idx->length);
	(void)rd_bytes(&c, idx->sha256, 32);

	/* Counts before allocations: every pack entry takes at least 11
	 * bytes and every piece 82, and both must fit in what is left. */
	ENSURE_GOTO(r, npacks > 0, PAWL_E_FORMAT, out, E_PREFIX "no packs");
	ENSURE_GOTO(r, npacks <= min_u64(lim->max_packs, IMAGE_PACKS_MAX), PAWL_E_LIMIT, out,
		    E_PREFIX "%u packs exceed the limit of %" PRIu64, npacks,
		    min_u64(lim->max_packs, IMAGE_PACKS_MAX));
	ENSURE_GOTO(r, npieces > 0, PAWL_E_FORMAT, out, E_PREFIX "no pieces");
	ENSURE_GOTO(r, npieces <= min_u64(lim->max_pieces, IMAGE_PIECES_MAX), PAWL_E_LIMIT, out,
		    E_PREFIX "%" PRIu32 " pieces exceed the limit of %" PRIu64, npieces,
		    min_u64(lim->max_pieces, IMAGE_PIECES_MAX));
	need = (uint64_t)npacks * (IMAGE_PACK_ENTRY_LEN + 1) + (uint64_t)npieces * IMAGE_PIECE_LEN;
	ENSURE_GOTO(r, need <= c.left, PAWL_E_FORMAT, out,
		    E_PREFIX "%zu bytes cannot hold %u packs and %" PRIu32 " pieces", n, npacks,
		    npieces);

	idx->packs = xcalloc(npacks, sizeof(image_pack));
	idx->pieces = xcalloc(npieces, sizeof(image_piece));
	if (!idx->packs || !idx->pieces) {
		r = PAWL_E_NOMEM;
		goto out;
	}
	GUARD_GOTO(r, image_read_pack_table(&c, idx, npacks), out);
	ENSURE_GOTO(r, c.left == (uint64_t)npieces * IMAGE_PIECE_LEN, PAWL_E_FORMAT, out,
		    E_PREFIX "%zu bytes follow the pack table; %" PRIu32 " pieces take %" PRIu64,
		    c.left, npieces, (uint64_t)npieces * IMAGE_PIECE_LEN);
	for (uint32_t i = 0; i < npieces; i++) {
		image_piece *pc = &idx->pieces[i];

		NEED(rd_u16(&c, &pc->pack) && rd_u32(&c, &pc->ulen) && rd_u32(&c, &pc->clen) &&
			     rd_u64(&c, &pc->pack_offset) && rd_bytes(&c, pc->csha, 32) &&
			     rd_bytes(&c, pc->usha, 32),
		     "the pieces");
		pc->offset = pos;
		pos += pc->ulen; /* < 2^20 * 2^32: no overflow */
		if (pc->clen > idx->max_clen)
			idx->max_clen = pc->clen;
	}
	idx->npieces = npieces;
	idx->cappieces = npieces;
	GUARD_GOTO(r, image_index_check(idx, lim), out);
	*ret = TAKE_PTR(idx);
out:
	image_index_free(idx);
	return r;
}

/* ---------------- building and writing ---------------- */

int image_index_new(image_index **ret, uint8_t chunking, uint32_t piece_size)
{
	image_index *idx = xcalloc(1, sizeof(*idx));

	if (!idx)
		return PAWL_E_NOMEM;
	idx->version = IMAGE_INDEX_VERSION;
	idx->compression = IMAGE_COMPRESS_ZSTD;
	idx->chunking = chunking;
	idx->piece_size = piece_size;
	*ret = idx;
	return 0;
}

int image_index_add_pack(image_index *idx, const char *name, uint16_t *ret_id)
{
	image_pack *v;

	ENSURE(idx->npacks < IMAGE_PACKS_MAX, PAWL_E_LIMIT, E_PREFIX "more than %u packs",
	       IMAGE_PACKS_MAX);
	GUARD(check_pack_name(name, strlen(name), idx->npacks));
	v = xreallocarray(idx->packs, idx->npacks + 1, sizeof(*v));
	if (!v)
		return PAWL_E_NOMEM;
	idx->packs = v;
	v[idx->npacks].name = xstrdup(name);
	if (!v[idx->npacks].name)
		return PAWL_E_NOMEM;
	v[idx->npacks].length = 0;
	*ret_id = (uint16_t)idx->npacks++;
	return 0;
}

int image_index_add_piece(image_index *idx, uint16_t pack, uint64_t pack_offset, uint32_t ulen,
			  uint32_t clen, const uint8_t csha[32], const uint8_t usha[32])
{
	image_piece *pc;
	uint64_t offset = 0;

	ENSURE(idx->version == IMAGE_INDEX_VERSION, PAWL_E_INVALID,
	       E_PREFIX "format 2 holds frames, not pieces");
	ENSURE(pack < idx->npacks, PAWL_E_INVALID, E_PREFIX "no pack %u", pack);
	ENSURE(idx->npieces < IMAGE_PIECES_MAX, PAWL_E_LIMIT, E_PREFIX "more than %u pieces",
	       IMAGE_PIECES_MAX);
	if (idx->npieces > 0) {
		pc = &idx->pieces[idx->npieces - 1];
		offset = pc->offset + pc->ulen;
	}
	if (idx->npieces == idx->cappieces) {
		uint32_t cap = idx->cappieces ? idx->cappieces * 2 : 64;
		image_piece *v = xreallocarray(idx->pieces, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		idx->pieces = v;
		idx->cappieces = cap;
	}
	pc = &idx->pieces[idx->npieces++];
	pc->offset = offset;
	pc->pack_offset = pack_offset;
	pc->ulen = ulen;
	pc->clen = clen;
	pc->pack = pack;
	memcpy(pc->csha, csha, 32);
	memcpy(pc->usha, usha, 32);
	if (clen > idx->max_clen)
		idx->max_clen = clen;
	return 0;
}

int image_index_write(const image_index *idx, pawl_buf *out)
{
	uint64_t size = IMAGE_HEADER_LEN;
	uint8_t *p;

	if (idx->version == IMAGE_INDEX_VERSION2)
		return image_index2_write(idx, out);
	GUARD(image_index_check(idx, NULL));
	for (uint32_t i = 0; i < idx->npacks; i++)
		size += IMAGE_PACK_ENTRY_LEN + strlen(idx->packs[i].name);
	size += (uint64_t)idx->npieces * IMAGE_PIECE_LEN;
	ENSURE(size <= UINT32_MAX, PAWL_E_LIMIT, E_PREFIX "%" PRIu64 " bytes do not fit the format",
	       size);
	GUARD(buf_reserve(out, (size_t)size));
	p = (uint8_t *)out->data + out->len;

	memcpy(p, IMAGE_INDEX_MAGIC, 7);
	p[7] = idx->version;
	put_u32(p + 8, (uint32_t)size);
	p[12] = idx->compression;
	p[13] = idx->chunking;
	put_u16(p + 14, (uint16_t)idx->npacks);
	put_u32(p + 16, idx->piece_size);
	put_u32(p + 20, idx->npieces);
	put_u64(p + 24, idx->length);
	memcpy(p + 32, idx->sha256, 32);
	p += IMAGE_HEADER_LEN;
	for (uint32_t i = 0; i < idx->npacks; i++) {
		size_t nlen = strlen(idx->packs[i].name);

		put_u64(p, idx->packs[i].length);
		put_u16(p + 8, (uint16_t)nlen);
		memcpy(p + IMAGE_PACK_ENTRY_LEN, idx->packs[i].name, nlen);
		p += IMAGE_PACK_ENTRY_LEN + nlen;
	}
	for (uint32_t i = 0; i < idx->npieces; i++) {
		const image_piece *pc = &idx->pieces[i];

		put_u16(p, pc->pack);
		put_u32(p + 2, pc->ulen);
		put_u32(p + 6, pc->clen);
		put_u64(p + 10, pc->pack_offset);
		memcpy(p + 18, pc->csha, 32);
		memcpy(p + 50, pc->usha, 32);
		p += IMAGE_PIECE_LEN;
	}
	out->len += (size_t)size;
	out->data[out->len] = '\0';
	return 0;
}

void image_index_free(image_index *idx)
{
	if (!idx)
		return;
	for (uint32_t i = 0; i < idx->npacks; i++)
		free(idx->packs[i].name);
	free(idx->packs);
	free(idx->pieces);
	image_index2_free_parts(idx);
	free(idx);
}

/* ---------------- questions about an index ---------------- */

bool image_index_sequential(const image_index *idx)
{
	uint64_t pos = 0;

	if (idx->version != IMAGE_INDEX_VERSION || idx->npacks != 1)
		return false;
	for (uint32_t i = 0; i < idx->npieces; i++) {
		if (idx->pieces[i].pack != 0 || idx->pieces[i].pack_offset != pos)
			return false;
		pos += idx->pieces[i].clen;
	}
	return pos == idx->packs[0].length;
}

int image_index_match(const image_index *idx, uint64_t length, const char *sha256_hex)
{
	uint8_t want[32];
	char hex[65];
	size_t n = 0;

	hex_encode(hex, idx->sha256, 32);
	ENSURE(idx->length == length, PAWL_E_LENGTH,
	       E_PREFIX "describes an image of %" PRIu64 " bytes; the release says %" PRIu64,
	       idx->length, length);
	ENSURE(sha256_hex && strlen(sha256_hex) == 64 &&
		       hex_decode(want, sizeof(want), &n, sha256_hex, 64) == 0 && n == 32,
	       PAWL_E_FORMAT, E_PREFIX "the release's image sha256 is not 64 hex digits");
	ENSURE(digest_equal(want, idx->sha256, 32), PAWL_E_HASH,
	       E_PREFIX "describes an image with sha256 %s; the release says %s", hex,
	       sha256_hex);
	return 0;
}

int image_index_check_pack(const image_index *idx, uint32_t i, const char *name,
			   uint64_t signed_length)
{
	ENSURE(i < idx->npacks, PAWL_E_FORMAT, E_PREFIX "has no pack %" PRIu32, i);
	ENSURE(name && strcmp(idx->packs[i].name, name) == 0, PAWL_E_FORMAT,
	       E_PREFIX "pack %" PRIu32 " is %s, not the release's %s", i, idx->packs[i].name,
	       name ? name : "(none)");
	ENSURE(idx->packs[i].length == signed_length, PAWL_E_LENGTH,
	       E_PREFIX "pack %s has %" PRIu64 " bytes, the signed target %" PRIu64,
	       idx->packs[i].name, idx->packs[i].length, signed_length);
	return 0;
}

int image_piece_check_compressed(const image_index *idx, uint32_t i, const uint8_t *p, size_t n)
{
	const image_piece *pc;
	uint8_t d[HASH_MAX_LEN];

	ENSURE(i < idx->npieces, PAWL_E_INVALID, "image: no piece %" PRIu32, i);
	pc = &idx->pieces[i];
	ENSURE(n == pc->clen, PAWL_E_LENGTH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): %zu compressed bytes, the index "
	       "says %" PRIu32, i, pc->offset, n, pc->clen);
	GUARD(hash_once(HASH_SHA256, p, n, d));
	ENSURE(digest_equal(d, pc->csha, 32), PAWL_E_HASH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): the compressed bytes do not match "
	       "the sha256 in the signed index", i, pc->offset);
	return 0;
}

int image_piece_check_plain(const image_index *idx, uint32_t i, const uint8_t *p, size_t n)
{
	const image_piece *pc;
	uint8_t d[HASH_MAX_LEN];

	ENSURE(i < idx->npieces, PAWL_E_INVALID, "image: no piece %" PRIu32, i);
	pc = &idx->pieces[i];
	ENSURE(n == pc->ulen, PAWL_E_LENGTH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): %zu bytes, the index says %" PRIu32,
	       i, pc->offset, n, pc->ulen);
	GUARD(hash_once(HASH_SHA256, p, n, d));
	ENSURE(digest_equal(d, pc->usha, 32), PAWL_E_HASH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): the bytes do not match the sha256 in "
	       "the signed index", i, pc->offset);
	return 0;
}

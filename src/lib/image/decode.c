/*
 * decode.c - the streaming piece verifier and decoder of a pack.
 *
 * Bytes are pushed in whatever chunks the transport delivers. They are
 * copied into one private buffer the size of the largest compressed
 * piece; when a piece is complete, in this order:
 *   1. its length and the sha256 of its compressed bytes are compared with
 *      the signed index (nothing has been decompressed yet);
 *   2. the zstd frame must declare exactly the piece's length and be
 *      exactly one frame;
 *   3. it is decompressed with ZSTD_decompressDCtx into a buffer of
 *      exactly the piece's length, so a frame that would grow larger
 *      fails instead of writing past it;
 *   4. the result's length and sha256 are compared with the index;
 *   5. it goes into the running sha256 of the whole image and then to the
 *      sink, which is the first thing that may write it anywhere.
 * The copy is deliberate even when a chunk holds a whole piece: the bytes
 * hashed in step 1 are then certainly the bytes decompressed in step 3,
 * whoever owns the caller's buffer. Memory is two piece buffers and a
 * zstd context, whatever the image's size.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "crypto/crypto.h"
#include "image/image.h"

struct image_decoder {
	const image_index *idx;
	image_sink sink;
	ZSTD_DCtx *dctx;
	uint8_t *cbuf;      /* the current piece's compressed bytes */
	size_t cfill;
	uint8_t *ubuf;      /* its uncompressed bytes */
	uint32_t piece;     /* the piece being filled */
	uint64_t pack_pos;  /* pack bytes taken */
	uint64_t image_pos; /* image bytes written to the sink */
	hash_ctx *image_hash;
	int failed;         /* the first error, kept */
	bool finished;
};

int image_decoder_new(image_decoder **ret, const image_index *idx, image_sink sink)
{
	image_decoder *d;

	ENSURE(idx && sink.write, PAWL_E_INVALID, "image decoder: no index or no sink");
	ENSURE(image_index_sequential(idx), PAWL_E_INVALID,
	       "image decoder: the index does not describe one pack holding every piece in "
	       "order");
	d = xcalloc(1, sizeof(*d));
	if (!d)
		return PAWL_E_NOMEM;
	d->idx = idx;
	d->sink = sink;
	d->cbuf = xmalloc(idx->max_clen);
	d->ubuf = xmalloc(idx->piece_size);
	if (!d->cbuf || !d->ubuf) {
		image_decoder_free(d);
		return PAWL_E_NOMEM;
	}
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		image_decoder_free(d);
		return pawl_error_set(PAWL_E_NOMEM, "image decoder: cannot create a zstd context");
	}
	if (hash_new(&d->image_hash, HASH_SHA256) < 0) {
		int r = pawl_error_last()->code;

		image_decoder_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void image_decoder_free(image_decoder *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	hash_free(d->image_hash);
	free(d->cbuf);
	free(d->ubuf);
	free(d);
}

static int fail(image_decoder *d, int code)
{
	d->failed = code;
	return code;
}

/* Steps 1 to 5 for the piece now complete in cbuf. */
static int decode_piece(image_decoder *d)
{
	const image_piece *pc = &d->idx->pieces[d->piece];
	unsigned long long fcs;
	size_t n;

	GUARD(image_piece_check_compressed(d->idx, d->piece, d->cbuf, d->cfill));
	fcs = ZSTD_getFrameContentSize(d->cbuf, pc->clen);
	ENSURE(fcs == pc->ulen, PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): the zstd frame does not declare "
	       "its length of %" PRIu32 " bytes", d->piece, pc->offset, pc->ulen);
	n = ZSTD_findFrameCompressedSize(d->cbuf, pc->clen);
	ENSURE(!ZSTD_isError(n) && n == pc->clen, PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): not exactly one zstd frame",
	       d->piece, pc->offset);
	n = ZSTD_decompressDCtx(d->dctx, d->ubuf, pc->ulen, d->cbuf, pc->clen);
	ENSURE(!ZSTD_isError(n), PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): cannot decompress: %s", d->piece,
	       pc->offset, ZSTD_getErrorName(n));
	GUARD(image_piece_check_plain(d->idx, d->piece, d->ubuf, n));
	GUARD(hash_update(d->image_hash, d->ubuf, n));
	GUARD(d->sink.write(d->sink.ctx, d->piece, pc->offset, d->ubuf, n));
	d->image_pos += n;
	return 0;
}

int image_decoder_push(image_decoder *d, const void *p, size_t n)
{
	const uint8_t *src = p;

	if (d->failed)
		return pawl_error_set(d->failed, "image decoder: stopped by an earlier error");
	ENSURE(!d->finished, PAWL_E_INVALID, "image decoder: already finished");
	while (n > 0) {
		const image_piece *pc;
		size_t take;
		int r;

		if (d->piece == d->idx->npieces)
			return fail(d, pawl_error_set(PAWL_E_LENGTH,
						      "image pack %s: longer than the %" PRIu64
						      " bytes the index lists",
						      d->idx->packs[0].name, d->idx->packs[0].length));
		pc = &d->idx->pieces[d->piece];
		take = pc->clen - d->cfill;
		if (take > n)
			take = n;
		memcpy(d->cbuf + d->cfill, src, take);
		d->cfill += take;
		d->pack_pos += take;
		src += take;
		n -= take;
		if (d->cfill < pc->clen)
			break;
		r = decode_piece(d);
		if (r < 0)
			return fail(d, r);
		d->cfill = 0;
		d->piece++;
	}
	return 0;
}

int image_decoder_finish(image_decoder *d)
{
	uint8_t got[HASH_MAX_LEN];
	char hex[65];
	int r;

	if (d->failed)
		return pawl_error_set(d->failed, "image decoder: stopped by an earlier error");
	ENSURE(!d->finished, PAWL_E_INVALID, "image decoder: already finished");
	if (d->piece < d->idx->npieces)
		return fail(d, pawl_error_set(PAWL_E_LENGTH,
					      "image pack %s: ended after %" PRIu64 " of %" PRIu64
					      " bytes, in piece %" PRIu32 " (image offset %" PRIu64
					      ")",
					      d->idx->packs[0].name, d->pack_pos,
					      d->idx->packs[0].length, d->piece,
					      d->idx->pieces[d->piece].offset));
	r = hash_final(d->image_hash, got);
	if (r < 0)
		return fail(d, r);
	if (!digest_equal(got, d->idx->sha256, 32)) {
		hex_encode(hex, got, 32);
		return fail(d, pawl_error_set(PAWL_E_HASH,
					      "image: the %" PRIu64 " bytes written have sha256 %s, "
					      "not the one in the signed index",
					      d->image_pos, hex));
	}
	d->finished = true;
	return 0;
}

uint64_t image_decoder_pack_bytes(const image_decoder *d)
{
	return d->pack_pos;
}

uint64_t image_decoder_image_bytes(const image_decoder *d)
{
	return d->image_pos;
}

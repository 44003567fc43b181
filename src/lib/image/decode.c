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
 * whoever owns the caller's buffer.
 *
 * Steps 1-3 run on the caller's thread, steps 4 and 5 on a writer thread
 * of the decoder's own, one piece after the other: the writer checks a
 * piece's sha256 and only then hands it to the sink, so decompressing
 * piece i+1 overlaps checking and writing piece i. Hashing is most of the
 * work, and this splits it between two cores: the caller hashes the
 * compressed bytes (and the pack), the writer the uncompressed ones. Two
 * uncompressed buffers alternate; the buffer a piece is in is reused only
 * after the writer is done with it, so memory is one compressed and two
 * uncompressed pieces and a zstd context, whatever the image's size. An
 * error on the writer (a piece that fails step 4, or the sink's) stops it
 * before it writes anything more, and is reported by the next push or by
 * finish, with the writer's message.
 * Where no thread can be had, steps 4 and 5 run on the caller's thread.
 *
 * The running hash of step 5 only proves that the verified pieces, in
 * order, are the image. A caller that reads the whole image back from
 * where the sink wrote it and checks that against the index (slot.c after
 * fsync) proves more, and can defer it (image_decoder_defer_image_hash):
 * then the writer only writes, one pass of sha256 over the image fewer.
 * Steps 1-4 never change.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
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
	uint8_t *ubuf[2];   /* uncompressed pieces, alternating */
	unsigned cur;       /* the one the next piece goes into */
	uint32_t piece;     /* the piece being filled */
	uint64_t pack_pos;  /* pack bytes taken */
	int failed;         /* the first error, kept */
	bool finished;

	/* The writer: hashes the image and calls the sink. Everything below
	 * is shared with it and guarded by mu. */
	pthread_t thread;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool job_full;      /* a verified piece waits for the writer */
	uint32_t job_piece;
	unsigned job_buf;
	bool busy[2];       /* ubuf[i] handed over, not written yet */
	bool stop;
	int werr;           /* the writer's first error */
	char wmsg[1024];
	uint64_t image_pos; /* image bytes handed to the sink */
	hash_ctx *image_hash; /* NULL: deferred to the caller */
};

/* Steps 4 and 5 for one piece: on the writer thread, or inline. Nothing
 * reaches the sink before its sha256 matched. */
static int write_piece(image_decoder *d, uint32_t piece, const uint8_t *p)
{
	const image_piece *pc = &d->idx->pieces[piece];

	GUARD(image_piece_check_plain(d->idx, piece, p, pc->ulen));
	if (d->image_hash)
		GUARD(hash_update(d->image_hash, p, pc->ulen));
	return d->sink.write(d->sink.ctx, piece, pc->offset, p, pc->ulen);
}

static void *writer_main(void *arg)
{
	image_decoder *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		uint32_t piece;
		unsigned b;
		int r = 0;

		while (!d->job_full && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->job_full)
			break; /* stopped, nothing left */
		piece = d->job_piece;
		b = d->job_buf;
		d->job_full = false;
		pthread_cond_broadcast(&d->cv);
		if (d->werr == 0) {
			pthread_mutex_unlock(&d->mu);
			r = write_piece(d, piece, d->ubuf[b]);
			pthread_mutex_lock(&d->mu);
			if (r < 0) {
				d->werr = r;
				snprintf(d->wmsg, sizeof(d->wmsg), "%s", pawl_error_last()->message);
			} else {
				d->image_pos += d->idx->pieces[piece].ulen;
			}
		}
		d->busy[b] = false;
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* The writer's error, raised on this thread. Call with mu held. */
static int writer_error(image_decoder *d)
{
	return pawl_error_set(d->werr, "%s", d->wmsg);
}

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
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->cbuf = xmalloc(idx->max_clen);
	d->ubuf[0] = xmalloc(idx->piece_size);
	d->ubuf[1] = xmalloc(idx->piece_size);
	if (!d->cbuf || !d->ubuf[0] || !d->ubuf[1]) {
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
	d->threaded = pthread_create(&d->thread, NULL, writer_main, d) == 0;
	*ret = d;
	return 0;
}

/* Wait until the writer has written everything handed to it. */
static void drain(image_decoder *d)
{
	if (!d->threaded)
		return;
	pthread_mutex_lock(&d->mu);
	while (d->job_full || d->busy[0] || d->busy[1])
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
}

void image_decoder_free(image_decoder *d)
{
	if (!d)
		return;
	if (d->threaded) {
		/* What was handed over was verified: let it be written, then
		 * stop. */
		pthread_mutex_lock(&d->mu);
		d->stop = true;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		pthread_join(d->thread, NULL);
	}
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	ZSTD_freeDCtx(d->dctx);
	hash_free(d->image_hash);
	free(d->cbuf);
	free(d->ubuf[0]);
	free(d->ubuf[1]);
	free(d);
}

static int fail(image_decoder *d, int code)
{
	d->failed = code;
	return code;
}

/* Steps 1 to 3 for the piece now complete in cbuf, then hand it over. */
static int decode_piece(image_decoder *d)
{
	const image_piece *pc = &d->idx->pieces[d->piece];
	unsigned long long fcs;
	uint8_t *out = d->ubuf[d->cur];
	size_t n;
	int r = 0;

	GUARD(image_piece_check_compressed(d->idx, d->piece, d->cbuf, d->cfill));
	fcs = ZSTD_getFrameContentSize(d->cbuf, pc->clen);
	ENSURE(fcs == pc->ulen, PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): the zstd frame does not declare "
	       "its length of %" PRIu32 " bytes", d->piece, pc->offset, pc->ulen);
	n = ZSTD_findFrameCompressedSize(d->cbuf, pc->clen);
	ENSURE(!ZSTD_isError(n) && n == pc->clen, PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): not exactly one zstd frame",
	       d->piece, pc->offset);
	if (d->threaded) { /* the writer may still be writing this buffer */
		pthread_mutex_lock(&d->mu);
		while (d->busy[d->cur])
			pthread_cond_wait(&d->cv, &d->mu);
		pthread_mutex_unlock(&d->mu);
	}
	n = ZSTD_decompressDCtx(d->dctx, out, pc->ulen, d->cbuf, pc->clen);
	ENSURE(!ZSTD_isError(n), PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): cannot decompress: %s", d->piece,
	       pc->offset, ZSTD_getErrorName(n));
	ENSURE(n == pc->ulen, PAWL_E_LENGTH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): %zu bytes, the index says %" PRIu32,
	       d->piece, pc->offset, n, pc->ulen);
	if (!d->threaded) {
		GUARD(write_piece(d, d->piece, out));
		d->image_pos += n;
		return 0;
	}
	pthread_mutex_lock(&d->mu);
	while (d->job_full && d->werr == 0)
		pthread_cond_wait(&d->cv, &d->mu);
	if (d->werr) {
		r = writer_error(d);
	} else {
		d->job_full = true;
		d->job_piece = d->piece;
		d->job_buf = d->cur;
		d->busy[d->cur] = true;
		d->cur ^= 1;
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return r;
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
	drain(d);
	if (d->werr) /* the writer is idle now */
		return fail(d, writer_error(d));
	if (d->piece < d->idx->npieces)
		return fail(d, pawl_error_set(PAWL_E_LENGTH,
					      "image pack %s: ended after %" PRIu64 " of %" PRIu64
					      " bytes, in piece %" PRIu32 " (image offset %" PRIu64
					      ")",
					      d->idx->packs[0].name, d->pack_pos,
					      d->idx->packs[0].length, d->piece,
					      d->idx->pieces[d->piece].offset));
	if (!d->image_hash) { /* the caller reads the whole image back */
		d->finished = true;
		return 0;
	}
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

int image_decoder_defer_image_hash(image_decoder *d)
{
	ENSURE(d->pack_pos == 0 && !d->finished && !d->failed, PAWL_E_INVALID,
	       "image decoder: the whole-image hash can only be deferred before the first byte");
	hash_free(d->image_hash);
	d->image_hash = NULL;
	return 0;
}

uint64_t image_decoder_pack_bytes(const image_decoder *d)
{
	return d->pack_pos;
}

uint64_t image_decoder_image_bytes(image_decoder *d)
{
	uint64_t n;

	if (!d->threaded)
		return d->image_pos;
	pthread_mutex_lock(&d->mu);
	n = d->image_pos;
	pthread_mutex_unlock(&d->mu);
	return n;
}

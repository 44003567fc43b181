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
 *   3. it is decompressed into a buffer of exactly the piece's length, so
 *      a frame that would grow larger fails instead of writing past it;
 *   4. the result's length and sha256 are compared with the index;
 *   5. it goes into the running sha256 of the whole image and then to the
 *      sink, which is the first thing that may write it anywhere.
 * The copy is deliberate even when a chunk holds a whole piece: the bytes
 * hashed in step 1 are then certainly the bytes decompressed in step 3,
 * whoever owns the caller's buffer.
 *
 * Memory is one compressed piece, ONE uncompressed piece and a zstd
 * context, whatever the image's size. Steps 1-3 run on the caller's
 * thread, steps 4 and 5 on a writer thread of the decoder's own, and the
 * two share the uncompressed buffer without waiting for each other's
 * whole piece: zstd writes straight into the buffer (ZSTD_d_stableOutBuffer,
 * fed the compressed piece a slice at a time) and says how far it got,
 * and the writer hashes each part as soon as it is there, while it is
 * still in the cache. Only when the whole piece is decompressed and its
 * sha256 matched does the writer hand it to the sink; then the buffer is
 * free for the next piece, whose step 1 the caller has done meanwhile.
 * Hashing and decompressing are most of the work, and this splits them
 * between two cores. A piece that fails to decompress is abandoned: the
 * writer drops it unwritten. An error on the writer (a piece that fails
 * step 4, or the sink's) stops it before it writes anything more, and is
 * reported by the next push or by finish, with the writer's message.
 * Where no thread can be had, or the zstd library will not decompress
 * into a stable buffer, each piece is decompressed whole and steps 4 and
 * 5 follow (on the writer thread when there is one, else here).
 *
 * The running hash of step 5 only proves that the verified pieces, in
 * order, are the image. A caller that reads the whole image back from
 * where the sink wrote it and checks that against the index (slot.c after
 * fsync) proves more, and can defer it (image_decoder_defer_image_hash):
 * then the writer only checks pieces and writes, one pass of sha256 over
 * the image fewer. Steps 1-4 never change.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_d_stableOutBuffer, checked at run time */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "crypto/crypto.h"
#include "image/image.h"

/* Compressed bytes given to zstd at a time: each step's output is hashed
 * by the writer while the next is decompressed. */
#define DECODE_STEP ((size_t)16 << 10)
#define ABANDONED 1 /* writer_piece: the piece was dropped unwritten */

struct image_decoder {
	const image_index *idx;
	image_sink sink;
	ZSTD_DCtx *dctx;
	bool stable;        /* zstd decompresses into ubuf in steps */
	uint8_t *cbuf;      /* the current piece's compressed bytes */
	size_t cfill;
	uint8_t *ubuf;      /* the uncompressed piece */
	uint32_t piece;     /* the piece being filled */
	uint64_t pack_pos;  /* pack bytes taken */
	int failed;         /* the first error, kept */
	bool finished;

	/* The writer: checks each piece and calls the sink. Everything below
	 * is shared with it and guarded by mu. */
	pthread_t thread;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool job;           /* ubuf belongs to the writer: job_piece */
	uint32_t job_piece;
	hash_ctx *job_hash; /* its sha256, made here for the writer */
	size_t produced;    /* bytes of it in ubuf so far */
	bool complete;      /* all of them, decompressed without error */
	bool abandoned;     /* decompression failed: write nothing */
	bool stop;
	int werr;           /* the writer's first error */
	char wmsg[1024];
	uint64_t image_pos; /* image bytes handed to the sink */
	hash_ctx *image_hash; /* NULL: deferred to the caller */
};

/* Step 4's verdict on a piece whose sha256 is in got. */
static int check_plain(const image_decoder *d, uint32_t piece, const uint8_t *got)
{
	const image_piece *pc = &d->idx->pieces[piece];

	ENSURE(digest_equal(got, pc->usha, 32), PAWL_E_HASH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): the bytes do not match the sha256 in "
	       "the signed index", piece, pc->offset);
	return 0;
}

/* Steps 4 and 5 for a piece whose bytes are all in ubuf, when nobody
 * hashed them on the way. Nothing reaches the sink before its sha256
 * matched. */
static int write_piece(image_decoder *d, uint32_t piece)
{
	const image_piece *pc = &d->idx->pieces[piece];

	GUARD(image_piece_check_plain(d->idx, piece, d->ubuf, pc->ulen));
	if (d->image_hash)
		GUARD(hash_update(d->image_hash, d->ubuf, pc->ulen));
	return d->sink.write(d->sink.ctx, piece, pc->offset, d->ubuf, pc->ulen);
}

/* The writer's share of one piece, hashed as it is produced (h set) or
 * whole at the end. Call and return with mu held; ABANDONED when the piece
 * was dropped, else the result. */
static int writer_piece(image_decoder *d, uint32_t piece, hash_ctx *h)
{
	const image_piece *pc = &d->idx->pieces[piece];
	uint8_t got[HASH_MAX_LEN];
	size_t hashed = 0;
	int r = 0;

	for (;;) {
		size_t upto;

		while (d->produced == hashed && !d->complete && !d->abandoned)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->abandoned)
			return ABANDONED;
		upto = d->produced;
		if (!h) {
			if (d->complete)
				break;
			continue;
		}
		if (upto > hashed) {
			pthread_mutex_unlock(&d->mu);
			r = hash_update(h, d->ubuf + hashed, upto - hashed);
			if (r == 0 && d->image_hash)
				r = hash_update(d->image_hash, d->ubuf + hashed, upto - hashed);
			pthread_mutex_lock(&d->mu);
			if (r < 0)
				return r;
			hashed = upto;
		}
		if (d->complete && hashed == d->produced)
			break;
	}
	pthread_mutex_unlock(&d->mu);
	if (h) {
		r = hash_final(h, got);
		if (r == 0 && hashed != pc->ulen) /* decompress_steps sees to it */
			r = pawl_error_set(PAWL_E_LENGTH,
					   "image piece %" PRIu32 " (offset %" PRIu64 "): %zu bytes, "
					   "the index says %" PRIu32, piece, pc->offset, hashed, pc->ulen);
		if (r == 0)
			r = check_plain(d, piece, got);
		if (r == 0)
			r = d->sink.write(d->sink.ctx, piece, pc->offset, d->ubuf, pc->ulen);
	} else {
		r = write_piece(d, piece);
	}
	pthread_mutex_lock(&d->mu);
	return r;
}

static void *writer_main(void *arg)
{
	image_decoder *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		hash_ctx *h;
		int r = ABANDONED;

		while (!d->job && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->job)
			break; /* stopped, nothing left */
		h = d->job_hash;
		d->job_hash = NULL;
		if (d->werr == 0)
			r = writer_piece(d, d->job_piece, h);
		if (r < 0 && d->werr == 0) {
			d->werr = r;
			snprintf(d->wmsg, sizeof(d->wmsg), "%s", pawl_error_last()->message);
		} else if (r == 0) {
			d->image_pos += d->idx->pieces[d->job_piece].ulen;
		}
		hash_free(h);
		d->job = false;
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
	d->threaded = pthread_create(&d->thread, NULL, writer_main, d) == 0;
	/* Without the writer there is nobody to hash the steps. */
	d->stable = d->threaded &&
		    !ZSTD_isError(ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_stableOutBuffer, 1));
	*ret = d;
	return 0;
}

/* Wait until the writer is done with ubuf. Call with mu held. */
static void wait_writer(image_decoder *d)
{
	while (d->job)
		pthread_cond_wait(&d->cv, &d->mu);
}

void image_decoder_free(image_decoder *d)
{
	if (!d)
		return;
	if (d->threaded) {
		/* What was handed over and verified may be written, then
		 * stop. A piece still being decompressed is dropped. */
		pthread_mutex_lock(&d->mu);
		if (d->job && !d->complete)
			d->abandoned = true;
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
	free(d->ubuf);
	free(d);
}

static int fail(image_decoder *d, int code)
{
	d->failed = code;
	return code;
}

/* Hand ubuf to the writer for the current piece (h: its sha256, to be
 * fed as parts arrive; NULL: the piece is already whole). */
static int hand_over(image_decoder *d, hash_ctx *h, bool complete)
{
	int r = 0;

	pthread_mutex_lock(&d->mu);
	if (d->werr) {
		r = writer_error(d);
		hash_free(h);
	} else {
		d->job = true;
		d->job_piece = d->piece;
		d->job_hash = h;
		d->produced = complete ? d->idx->pieces[d->piece].ulen : 0;
		d->complete = complete;
		d->abandoned = false;
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return r;
}

/* Tell the writer how far the piece is (done: all of it), or that it is
 * abandoned (abandon). */
static void progress(image_decoder *d, size_t produced, bool done, bool abandon)
{
	pthread_mutex_lock(&d->mu);
	d->produced = produced;
	d->complete = done;
	d->abandoned = abandon;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Step 3 in slices, the writer hashing behind. */
static int decompress_steps(image_decoder *d, const image_piece *pc)
{
	ZSTD_outBuffer out = { d->ubuf, pc->ulen, 0 };
	ZSTD_inBuffer in = { d->cbuf, 0, 0 };
	hash_ctx *h = NULL;
	size_t z, used = 0;

	GUARD(hash_new(&h, HASH_SHA256));
	GUARD(hand_over(d, h, false));
	z = ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
	if (!ZSTD_isError(z))
		z = 1; /* a frame to decompress */
	while (!ZSTD_isError(z) && z != 0) {
		size_t before = out.pos;

		if (in.pos == in.size) {
			if (in.size == pc->clen)
				break; /* the frame wants more than the piece holds */
			in.size = in.size + DECODE_STEP < pc->clen ? in.size + DECODE_STEP : pc->clen;
		}
		z = ZSTD_decompressStream(d->dctx, &out, &in);
		if (ZSTD_isError(z))
			break;
		if (out.pos > before)
			progress(d, out.pos, false, false);
		else if (z != 0 && in.pos < in.size && in.pos == used)
			break; /* no progress: a frame that wants more room */
		used = in.pos;
	}
	if (ZSTD_isError(z) || z != 0 || out.pos != pc->ulen || in.pos != pc->clen) {
		progress(d, out.pos, false, true);
		ENSURE(!ZSTD_isError(z), PAWL_E_FORMAT,
		       "image piece %" PRIu32 " (offset %" PRIu64 "): cannot decompress: %s", d->piece,
		       pc->offset, ZSTD_getErrorName(z));
		return pawl_error_set(PAWL_E_LENGTH,
				      "image piece %" PRIu32 " (offset %" PRIu64 "): %zu bytes, the "
				      "index says %" PRIu32, d->piece, pc->offset, out.pos, pc->ulen);
	}
	progress(d, out.pos, true, false);
	return 0;
}

/* Steps 1 to 3 for the piece now complete in cbuf, then hand it over. */
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
	if (d->threaded) { /* the writer may still be writing the buffer */
		pthread_mutex_lock(&d->mu);
		wait_writer(d);
		pthread_mutex_unlock(&d->mu);
	}
	if (d->stable)
		return decompress_steps(d, pc);
	n = ZSTD_decompressDCtx(d->dctx, d->ubuf, pc->ulen, d->cbuf, pc->clen);
	ENSURE(!ZSTD_isError(n), PAWL_E_FORMAT,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): cannot decompress: %s", d->piece,
	       pc->offset, ZSTD_getErrorName(n));
	ENSURE(n == pc->ulen, PAWL_E_LENGTH,
	       "image piece %" PRIu32 " (offset %" PRIu64 "): %zu bytes, the index says %" PRIu32,
	       d->piece, pc->offset, n, pc->ulen);
	if (d->threaded)
		return hand_over(d, NULL, true);
	GUARD(write_piece(d, d->piece));
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
	if (d->threaded) {
		pthread_mutex_lock(&d->mu);
		wait_writer(d);
		r = d->werr ? writer_error(d) : 0; /* the writer is idle now */
		pthread_mutex_unlock(&d->mu);
		if (r < 0)
			return fail(d, r);
	}
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

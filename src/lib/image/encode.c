/*
 * encode.c - compressing one image piece into one zstd frame.
 *
 * Each piece is its own frame so that a device can verify and decompress
 * it alone (and, for delta updates, fetch it alone). The frame declares
 * its content size, which the decoder checks against the index before it
 * decompresses, and has no checksum (the index's sha256s cover it). The
 * window is left to the level's default: it is capped by the piece size
 * anyway, so long-distance matching buys nothing inside a piece.
 */
#include <stdlib.h>

#include <zstd.h>

#include "image/image.h"

struct image_compressor {
	ZSTD_CCtx *cctx;
};

int image_compressor_new(image_compressor **ret, int level)
{
	image_compressor *c;

	ENSURE(level >= 1 && level <= ZSTD_maxCLevel(), PAWL_E_INVALID,
	       "zstd level %d is outside 1..%d", level, ZSTD_maxCLevel());
	c = xcalloc(1, sizeof(*c));
	if (!c)
		return PAWL_E_NOMEM;
	c->cctx = ZSTD_createCCtx();
	if (!c->cctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_dictIDFlag, 0))) {
		image_compressor_free(c);
		return pawl_error_set(PAWL_E_NOMEM, "cannot set up a zstd compression context");
	}
	*ret = c;
	return 0;
}

size_t image_compress_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

int image_compress(image_compressor *c, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
		   size_t *ret_len)
{
	size_t r;

	ENSURE(n > 0, PAWL_E_INVALID, "image: an empty piece");
	r = ZSTD_compress2(c->cctx, dst, cap, src, n);
	ENSURE(!ZSTD_isError(r), PAWL_E_GENERIC, "zstd compression failed: %s",
	       ZSTD_getErrorName(r));
	*ret_len = r;
	return 0;
}

void image_compressor_free(image_compressor *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	free(c);
}

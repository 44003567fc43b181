/*
 * index_priv.h - what index.c (format 1, the dispatch) and index2.c
 * (format 2) share: bounded big-endian reads, big-endian writes, the
 * target name rule, and format 2's parse, check and write.
 */
#ifndef PAWL_IMAGE_INDEX_PRIV_H
#define PAWL_IMAGE_INDEX_PRIV_H

#include <string.h>

#include "image/image.h"

#define E_PREFIX "image index: "

/* ---------------- bounded big-endian reads ---------------- */

static inline bool rd_u8(pawl_cursor *c, uint8_t *v)
{
	if (c->left < 1)
		return false;
	*v = c->p[0];
	return cursor_skip(c, 1);
}

static inline bool rd_u16(pawl_cursor *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)((unsigned)c->p[0] << 8 | c->p[1]);
	return cursor_skip(c, 2);
}

static inline bool rd_u32(pawl_cursor *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 |
	     (uint32_t)c->p[3];
	return cursor_skip(c, 4);
}

static inline bool rd_u64(pawl_cursor *c, uint64_t *v)
{
	uint32_t hi, lo;

	if (c->left < 8)
		return false;
	if (!rd_u32(c, &hi) || !rd_u32(c, &lo))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static inline bool rd_bytes(pawl_cursor *c, uint8_t *out, size_t n)
{
	if (c->left < n)
		return false;
	memcpy(out, c->p, n);
	return cursor_skip(c, n);
}

/* ---------------- writing ---------------- */

static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A pack or sums name is a TUF target path as pawl-repo writes them:
 * 1..IMAGE_PACK_NAME_MAX bytes, relative, no empty, "." or ".." component,
 * no control characters. what names it in the message ("pack 2"). */
PAWL_MUST_USE int image_check_name(const char *name, size_t len, const char *what);
/* Read npacks pack table entries (both formats: u64 length, u16 name
 * length, name) into idx->packs, counting them in idx->npacks as they are
 * read so that a failure frees what was allocated. Names are checked for
 * length and NUL here; the name rule (image_check_name) comes later. */
PAWL_MUST_USE int image_read_pack_table(pawl_cursor *c, image_index *idx, uint32_t npacks);
/* No two of arr[0..n) (pieces of format 1, frames of format 2; `what`
 * names them in the message) share bytes of a pack: sorted by pack and
 * offset, neighbours compared. */
PAWL_MUST_USE int image_check_pack_overlap(const image_index *idx, const image_piece *arr,
					   uint32_t n, const char *what);

/* Format 2 (index2.c): image_index_parse() hands over after the magic and
 * a version byte of 2; image_index_check() and image_index_write() for
 * an index whose version is 2. */
PAWL_MUST_USE int image_index2_parse(image_index **ret, const void *p, size_t n,
				     const image_limits *lim);
PAWL_MUST_USE int image_index2_check(const image_index *idx, const image_limits *lim);
PAWL_MUST_USE int image_index2_write(const image_index *idx, pawl_buf *out);
void image_index2_free_parts(image_index *idx);

#endif

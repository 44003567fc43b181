/*
 * test_image.c - the image module: the chunk index (round trip and every
 * refusal), the streaming decoder (random chunk sizes, tampered pieces,
 * tampered index, truncated and overlong packs), and the slot writer
 * (size, booted slot, symbolic links, FIFOs, a full file system).
 *
 * The refusal tests that concern writing prove two things: the code and
 * the message, and that nothing was written where it must not be (the
 * slot is pre-filled with a pattern and compared afterwards).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zstd.h>

#include "crypto/crypto.h"
#include "image/image.h"
#include "testing.h"

#define PACK_NAME "os/1.0.0/image.pack"
#define PATTERN 0xa5

/* ---------------- fixtures ---------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* An image with compressible text, zeros and noise, so that pieces
 * compress to different sizes. */
static uint8_t *make_image(size_t n, uint64_t seed)
{
	static const char words[] = "ext4 inode block bitmap journal superblock extent ";
	uint8_t *p = malloc(n);

	assert_non_null(p);
	rng_state = seed | 1;
	for (size_t i = 0; i < n; i++) {
		size_t region = (i / 5000) % 3;

		p[i] = region == 0 ? (uint8_t)words[(i * 7 + i / 300) % (sizeof(words) - 1)]
		       : region == 1 ? 0
				     : (uint8_t)rnd();
	}
	return p;
}

struct packed {
	uint8_t *image;
	size_t len;
	uint8_t *pack;
	size_t packlen;
	pawl_buf idxbytes;
	image_index *idx;
};

/* Cut, compress and index an image the way the publisher does. */
static void pack_image(struct packed *pk, size_t len, uint32_t piece_size, uint64_t seed)
{
	image_compressor *c = NULL;
	image_index *idx = NULL;
	size_t cap = 0;
	uint16_t id;

	memset(pk, 0, sizeof(*pk));
	pk->idxbytes = (pawl_buf)PAWL_BUF_INIT(64u << 20);
	pk->image = make_image(len, seed);
	pk->len = len;
	t_ok(image_compressor_new(&c, 3));
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, piece_size));
	t_ok(image_index_add_pack(idx, PACK_NAME, &id));
	for (size_t off = 0; off < len; off += piece_size) {
		size_t n = len - off < piece_size ? len - off : piece_size, clen;
		uint8_t cs[HASH_MAX_LEN], us[HASH_MAX_LEN];

		if (pk->packlen + image_compress_bound(n) > cap) {
			cap = (pk->packlen + image_compress_bound(n)) * 2;
			pk->pack = realloc(pk->pack, cap);
			assert_non_null(pk->pack);
		}
		t_ok(image_compress(c, pk->image + off, n, pk->pack + pk->packlen, cap - pk->packlen,
				    &clen));
		t_ok(hash_once(HASH_SHA256, pk->pack + pk->packlen, clen, cs));
		t_ok(hash_once(HASH_SHA256, pk->image + off, n, us));
		t_ok(image_index_add_piece(idx, id, pk->packlen, (uint32_t)n, (uint32_t)clen, cs, us));
		pk->packlen += clen;
	}
	idx->length = len;
	idx->packs[0].length = pk->packlen;
	{
		uint8_t d[HASH_MAX_LEN];

		t_ok(hash_once(HASH_SHA256, pk->image, len, d));
		memcpy(idx->sha256, d, 32);
	}
	t_ok(image_index_write(idx, &pk->idxbytes));
	image_index_free(idx);
	/* What a device has: the parsed index. */
	t_ok(image_index_parse(&pk->idx, pk->idxbytes.data, pk->idxbytes.len, NULL));
	image_compressor_free(c);
}

static void packed_free(struct packed *pk)
{
	free(pk->image);
	free(pk->pack);
	buf_free(&pk->idxbytes);
	image_index_free(pk->idx);
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* A regular file slot of n bytes, every byte PATTERN. */
static char *make_slot(const char *dir, const char *name, size_t n)
{
	char *p = path_in(dir, name);
	uint8_t *buf = malloc(n ? n : 1);

	assert_non_null(buf);
	memset(buf, PATTERN, n);
	t_write_file(p, buf, n);
	free(buf);
	return p;
}

/* Stream pk's pack (or `pack` when given) into slot in random chunk sizes
 * up to maxchunk. Returns the first error, or 0 once the decoder and the
 * slot have both finished. */
/* stream() leaves the whole image's hash to the caller. */
static bool defer_hash;

static int stream(const struct packed *pk, const image_index *idx, const uint8_t *pack,
		  size_t packlen, const char *slot, const char *booted, size_t maxchunk,
		  uint64_t seed)
{
	image_slot *s = NULL;
	image_decoder *d = NULL;
	size_t off = 0;
	int r;

	(void)pk;
	rng_state = seed | 1;
	r = image_slot_open(&s, slot, idx, booted);
	if (r < 0)
		return r;
	r = image_decoder_new(&d, idx, image_slot_sink(s));
	if (r == 0 && defer_hash)
		r = image_decoder_defer_image_hash(d);
	while (r == 0 && off < packlen) {
		size_t n = 1 + rnd() % maxchunk;

		if (n > packlen - off)
			n = packlen - off;
		r = image_decoder_push(d, pack + off, n);
		off += n;
	}
	if (r == 0)
		r = image_decoder_finish(d);
	if (r == 0)
		r = image_slot_finish(s);
	image_decoder_free(d);
	image_slot_free(s);
	return r;
}

static void assert_message(const char *needle)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", m, needle);
}

/* The slot holds the image in [0, upto) and the pattern in [upto, end). */
static void assert_slot(const char *slot, const struct packed *pk, size_t upto)
{
	size_t n;
	uint8_t *got = (uint8_t *)t_read_file(slot, &n);

	assert_true(n >= pk->len);
	assert_memory_equal(got, pk->image, upto);
	for (size_t i = upto; i < n; i++) {
		if (got[i] != PATTERN)
			fail_msg("slot byte %zu was written (0x%02x), but nothing from %zu on may be",
				 i, got[i], upto);
	}
	free(got);
}

/* ---------------- the index ---------------- */

static void test_index_roundtrip(void **state)
{
	image_index *idx = NULL, *back = NULL;
	pawl_buf out = PAWL_BUF_INIT(1 << 20), again = PAWL_BUF_INIT(1 << 20);
	uint8_t h1[32], h2[32];
	uint16_t a, b;

	(void)state;
	memset(h1, 1, 32);
	memset(h2, 2, 32);
	t_ok(image_index_new(&idx, IMAGE_CHUNK_BOUNDED, 8192));
	t_ok(image_index_add_pack(idx, "os/2.0.0/image.pack", &a));
	t_ok(image_index_add_pack(idx, "os/1.0.0/image.pack", &b));
	/* Version 2 reuses piece 1 from version 1's pack (#19's layout). */
	t_ok(image_index_add_piece(idx, a, 0, 8192, 300, h1, h2));
	t_ok(image_index_add_piece(idx, b, 1000, 100, 40, h2, h1));
	t_ok(image_index_add_piece(idx, a, 300, 5000, 200, h1, h1));
	idx->length = 8192 + 100 + 5000;
	idx->packs[0].length = 500;
	idx->packs[1].length = 2000;
	memset(idx->sha256, 0x5a, 32);
	t_ok(image_index_write(idx, &out));
	assert_int_equal(out.len, IMAGE_HEADER_LEN + 2 * (IMAGE_PACK_ENTRY_LEN + 19) +
					  3 * IMAGE_PIECE_LEN);
	t_ok(image_index_parse(&back, out.data, out.len, NULL));
	assert_int_equal(back->npieces, 3);
	assert_int_equal(back->npacks, 2);
	assert_int_equal(back->length, 13292);
	assert_int_equal(back->chunking, IMAGE_CHUNK_BOUNDED);
	assert_int_equal(back->piece_size, 8192);
	assert_string_equal(back->packs[1].name, "os/1.0.0/image.pack");
	assert_int_equal(back->pieces[1].pack, 1);
	assert_int_equal(back->pieces[1].offset, 8192);
	assert_int_equal(back->pieces[1].pack_offset, 1000);
	assert_int_equal(back->pieces[2].offset, 8292);
	assert_int_equal(back->max_clen, 300);
	assert_memory_equal(back->pieces[1].csha, h2, 32);
	assert_memory_equal(back->pieces[1].usha, h1, 32);
	assert_false(image_index_sequential(back));
	t_ok(image_index_write(back, &again));
	assert_int_equal(again.len, out.len);
	assert_memory_equal(again.data, out.data, out.len);
	image_index_free(idx);
	image_index_free(back);
	buf_free(&out);
	buf_free(&again);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* Offsets in the index of a one-pack image named PACK_NAME. */
#define O_TOTAL 8
#define O_COMP 12
#define O_CHUNK 13
#define O_NPACKS 14
#define O_PSIZE 16
#define O_NPIECES 20
#define O_LENGTH 24
#define O_PACKLEN 64
#define O_NAMELEN 72
#define O_NAME 74
#define O_PIECE(i) (O_NAME + sizeof(PACK_NAME) - 1 + (size_t)(i) * IMAGE_PIECE_LEN)
#define P_PACK 0
#define P_ULEN 2
#define P_CLEN 6
#define P_POFF 10

struct mutation {
	const char *what;
	int code;
	const char *needle;
	void (*apply)(uint8_t *p, size_t *n, const struct packed *pk);
	const image_limits *lim;
};

static void m_magic(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[0] = 'X'; }
static void m_version(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[7] = 3; }
static void m_truncated(uint8_t *p, size_t *n, const struct packed *pk) { (void)p; (void)pk; (*n)--; }
static void m_trailing(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)pk;
	p[(*n)++] = 0;
	put32(p + O_TOTAL, (uint32_t)*n);
}
static void m_short_header(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)pk;
	*n = 63;
	put32(p + O_TOTAL, 63);
}
static void m_total(uint8_t *p, size_t *n, const struct packed *pk) { (void)pk; put32(p + O_TOTAL, (uint32_t)*n + 1); }
static void m_comp(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_COMP] = 2; }
static void m_chunk(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_CHUNK] = 3; }
static void m_psize_small(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; put32(p + O_PSIZE, 1024); }
static void m_psize_big(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; put32(p + O_PSIZE, 8u << 20); }
static void m_npieces0(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; put32(p + O_NPIECES, 0); }
static void m_npieces_huge(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; put32(p + O_NPIECES, 0xffffffffu); }
static void m_npieces_more(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put32(p + O_NPIECES, pk->idx->npieces + 1);
}
static void m_npacks0(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NPACKS] = 0; p[O_NPACKS + 1] = 0; }
static void m_npacks_huge(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NPACKS] = 0x10; }
static void m_length_up(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; put64(p + O_LENGTH, pk->len + 1); }
static void m_length_down(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; put64(p + O_LENGTH, pk->len - 1); }
static void m_length_more_pieces(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put64(p + O_LENGTH, pk->len + pk->idx->piece_size);
}
static void m_ulen_short(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put32(p + O_PIECE(1) + P_ULEN, pk->idx->piece_size - 1);
}
static void m_ulen_zero(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put32(p + O_PIECE(pk->idx->npieces - 1) + P_ULEN, 0);
}
static void m_ulen_big(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put32(p + O_PIECE(pk->idx->npieces - 1) + P_ULEN, pk->idx->piece_size + 1);
}
static void m_clen_zero(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; put32(p + O_PIECE(2) + P_CLEN, 0); }
static void m_clen_bomb(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put32(p + O_PIECE(0) + P_CLEN, 2 * pk->idx->piece_size);
	put64(p + O_PACKLEN, UINT64_C(1) << 40);
}
static void m_pack_id(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_PIECE(2) + P_PACK + 1] = 1; }
static void m_out_of_pack(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put64(p + O_PIECE(2) + P_POFF, pk->packlen);
}
static void m_overlap(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put64(p + O_PIECE(2) + P_POFF, pk->idx->pieces[1].pack_offset + 1);
}
static void m_packlen0(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; put64(p + O_PACKLEN, 0); }
static void m_packlen_short(uint8_t *p, size_t *n, const struct packed *pk)
{
	(void)n;
	put64(p + O_PACKLEN, pk->packlen - 1);
}
static void m_name_dotdot(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; memcpy(p + O_NAME, "os/../", 6); }
static void m_name_abs(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NAME] = '/'; }
static void m_name_empty_comp(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NAME + 3] = '/'; }
static void m_name_ctrl(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NAME + 4] = '\n'; }
static void m_name_nul(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NAME + 4] = '\0'; }
static void m_name_len0(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NAMELEN] = 0; p[O_NAMELEN + 1] = 0; }
static void m_name_len_huge(uint8_t *p, size_t *n, const struct packed *pk) { (void)n; (void)pk; p[O_NAMELEN] = 0xff; }
static void m_none(uint8_t *p, size_t *n, const struct packed *pk) { (void)p; (void)n; (void)pk; }

static const image_limits lim_pieces = { 4, IMAGE_PIECE_MAX, 16, UINT64_C(1) << 40, 1u << 20 };
static const image_limits lim_piece = { 1u << 18, 8192, 16, UINT64_C(1) << 40, 1u << 20 };
static const image_limits lim_length = { 1u << 18, IMAGE_PIECE_MAX, 16, 50000, 1u << 20 };
static const image_limits lim_packs = { 1u << 18, IMAGE_PIECE_MAX, 0, UINT64_C(1) << 40, 1u << 20 };

static const struct mutation mutations[] = {
	{ "bad magic", PAWL_E_FORMAT, "not a pawl image index", m_magic, NULL },
	{ "format version 3", PAWL_E_UNSUPPORTED, "format version 3", m_version, NULL },
	{ "truncated by a byte", PAWL_E_FORMAT, "but has", m_truncated, NULL },
	{ "a trailing byte", PAWL_E_FORMAT, "follow the pack table", m_trailing, NULL },
	{ "shorter than the header", PAWL_E_FORMAT, "header", m_short_header, NULL },
	{ "length field off by one", PAWL_E_FORMAT, "says it has", m_total, NULL },
	{ "unknown compression", PAWL_E_UNSUPPORTED, "compression", m_comp, NULL },
	{ "unknown chunking", PAWL_E_UNSUPPORTED, "chunking", m_chunk, NULL },
	{ "piece size below 4 KiB", PAWL_E_FORMAT, "below the minimum", m_psize_small, NULL },
	{ "piece size over 4 MiB", PAWL_E_LIMIT, "exceeds the limit", m_psize_big, NULL },
	{ "no pieces", PAWL_E_FORMAT, "no pieces", m_npieces0, NULL },
	{ "2^32-1 pieces", PAWL_E_LIMIT, "pieces exceed the limit", m_npieces_huge, NULL },
	{ "one piece more than the bytes hold", PAWL_E_FORMAT, "cannot hold", m_npieces_more, NULL },
	{ "no packs", PAWL_E_FORMAT, "no packs", m_npacks0, NULL },
	{ "4096 packs", PAWL_E_LIMIT, "packs exceed the limit", m_npacks_huge, NULL },
	{ "image a byte longer than its pieces", PAWL_E_FORMAT, "the pieces hold", m_length_up, NULL },
	{ "image a byte shorter than its pieces", PAWL_E_FORMAT, "past the image", m_length_down, NULL },
	{ "image a piece longer", PAWL_E_FORMAT, "cannot hold an image", m_length_more_pieces, NULL },
	{ "a short piece in fixed chunking", PAWL_E_FORMAT, "fixed chunking", m_ulen_short, NULL },
	{ "an empty piece", PAWL_E_FORMAT, "(1 to", m_ulen_zero, NULL },
	{ "a piece over the piece size", PAWL_E_FORMAT, "(1 to", m_ulen_big, NULL },
	{ "no compressed bytes", PAWL_E_FORMAT, "compressed bytes", m_clen_zero, NULL },
	{ "more compressed bytes than zstd can need", PAWL_E_FORMAT, "zstd needs at most", m_clen_bomb, NULL },
	{ "a piece in a pack that is not listed", PAWL_E_FORMAT, "names pack 1 of 1", m_pack_id, NULL },
	{ "a piece past the end of its pack", PAWL_E_FORMAT, "lies outside pack", m_out_of_pack, NULL },
	{ "two pieces sharing pack bytes", PAWL_E_FORMAT, "overlap in pack", m_overlap, NULL },
	{ "an empty pack", PAWL_E_LIMIT, "length 0", m_packlen0, NULL },
	{ "a pack a byte too short", PAWL_E_FORMAT, "lies outside pack", m_packlen_short, NULL },
	{ "a pack name with ..", PAWL_E_FORMAT, "'..' component", m_name_dotdot, NULL },
	{ "an absolute pack name", PAWL_E_FORMAT, "not a relative", m_name_abs, NULL },
	{ "a pack name with an empty component", PAWL_E_FORMAT, "empty", m_name_empty_comp, NULL },
	{ "a pack name with a line break", PAWL_E_FORMAT, "control character", m_name_ctrl, NULL },
	{ "a pack name with a NUL", PAWL_E_FORMAT, "NUL", m_name_nul, NULL },
	{ "an empty pack name", PAWL_E_LIMIT, "name of 0 bytes", m_name_len0, NULL },
	{ "a pack name of 65280 bytes", PAWL_E_LIMIT, "name of 65", m_name_len_huge, NULL },
	{ "more pieces than the caller allows", PAWL_E_LIMIT, "pieces exceed the limit of 4", m_none, &lim_pieces },
	{ "larger pieces than the caller allows", PAWL_E_LIMIT, "exceeds the limit of 8192", m_none, &lim_piece },
	{ "a longer image than the caller allows", PAWL_E_LIMIT, "exceeds the limit of 50000", m_none, &lim_length },
	{ "more packs than the caller allows", PAWL_E_LIMIT, "packs exceed the limit of 0", m_none, &lim_packs },
};

static void test_index_refusals(void **state)
{
	struct packed pk;

	(void)state;
	pack_image(&pk, 5 * 16384 + 1000, 16384, 7);
	assert_int_equal(pk.idx->npieces, 6);
	for (size_t i = 0; i < ARRAY_SIZE(mutations); i++) {
		const struct mutation *m = &mutations[i];
		uint8_t *p = malloc(pk.idxbytes.len + 16);
		size_t n = pk.idxbytes.len;
		image_index *idx = NULL;
		int r;

		assert_non_null(p);
		memcpy(p, pk.idxbytes.data, n);
		m->apply(p, &n, &pk);
		pawl_error_clear();
		r = image_index_parse(&idx, p, n, m->lim);
		if (r != m->code || !strstr(pawl_error_last()->message, m->needle))
			fail_msg("%s: got %d \"%s\", wanted %d and \"%s\"", m->what, r,
				 pawl_error_last()->message, m->code, m->needle);
		assert_null(idx);
		free(p);
	}
	packed_free(&pk);
}

/* Two packs: refusing a pack no piece uses, and a pack listed twice. */
static void test_index_pack_table(void **state)
{
	image_index *idx = NULL, *back = NULL;
	pawl_buf out = PAWL_BUF_INIT(1 << 20);
	uint8_t h[32] = { 0 };
	uint16_t a, b;
	size_t at;

	(void)state;
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, 4096));
	t_ok(image_index_add_pack(idx, "os/2.0.0/image.pack", &a));
	t_ok(image_index_add_pack(idx, "os/1.0.0/image.pack", &b));
	t_ok(image_index_add_piece(idx, a, 0, 4096, 10, h, h));
	t_ok(image_index_add_piece(idx, b, 0, 4096, 10, h, h));
	idx->length = 8192;
	idx->packs[0].length = idx->packs[1].length = 10;
	t_ok(image_index_write(idx, &out));
	t_ok(image_index_parse(&back, out.data, out.len, NULL));
	image_index_free(back);
	back = NULL;
	/* the second piece moved to the first pack: pack 1 unused */
	at = IMAGE_HEADER_LEN + 2 * (IMAGE_PACK_ENTRY_LEN + 19) + IMAGE_PIECE_LEN;
	out.data[at + 1] = 0;
	t_fails(image_index_parse(&back, out.data, out.len, NULL), PAWL_E_FORMAT);
	assert_message("no piece is in pack os/1.0.0/image.pack");
	out.data[at + 1] = 1;
	/* both packs named the same */
	out.data[IMAGE_HEADER_LEN + IMAGE_PACK_ENTRY_LEN + 19 + IMAGE_PACK_ENTRY_LEN + 3] = '2';
	t_fails(image_index_parse(&back, out.data, out.len, NULL), PAWL_E_FORMAT);
	assert_message("listed twice");
	image_index_free(idx);
	buf_free(&out);

	/* an unused pack, built */
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, 4096));
	t_ok(image_index_add_pack(idx, "a", &a));
	t_ok(image_index_add_pack(idx, "b", &b));
	t_ok(image_index_add_piece(idx, a, 0, 4096, 10, h, h));
	idx->length = 4096;
	idx->packs[0].length = idx->packs[1].length = 10;
	out = (pawl_buf)PAWL_BUF_INIT(1 << 20);
	t_fails(image_index_write(idx, &out), PAWL_E_FORMAT);
	assert_message("no piece is in pack b");
	assert_int_equal(out.len, 0);
	image_index_free(idx);
	buf_free(&out);
}

/* The writer refuses what the parser would, and writes nothing. */
static void test_index_writer_refuses(void **state)
{
	image_index *idx = NULL;
	pawl_buf out = PAWL_BUF_INIT(1 << 20);
	uint8_t h[32] = { 0 };
	uint16_t a;

	(void)state;
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, 4096));
	t_fails(image_index_add_pack(idx, "../escape", &a), PAWL_E_FORMAT);
	t_ok(image_index_add_pack(idx, "os/1/image.pack", &a));
	t_fails(image_index_add_piece(idx, 1, 0, 4096, 10, h, h), PAWL_E_INVALID);
	t_ok(image_index_add_piece(idx, a, 0, 4000, 10, h, h));
	t_ok(image_index_add_piece(idx, a, 10, 4096, 10, h, h));
	idx->length = 8096;
	idx->packs[0].length = 20;
	t_fails(image_index_write(idx, &out), PAWL_E_FORMAT);
	assert_message("fixed chunking");
	assert_int_equal(out.len, 0);
	/* an empty image */
	image_index_free(idx);
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, 4096));
	t_ok(image_index_add_pack(idx, "p", &a));
	t_fails(image_index_write(idx, &out), PAWL_E_FORMAT);
	assert_message("the image is empty");
	image_index_free(idx);
	buf_free(&out);
}

static void test_index_match(void **state)
{
	struct packed pk;
	char hex[65];

	(void)state;
	pack_image(&pk, 20000, 4096, 3);
	hex_encode(hex, pk.idx->sha256, 32);
	t_ok(image_index_match(pk.idx, 20000, hex));
	t_fails(image_index_match(pk.idx, 20001, hex), PAWL_E_LENGTH);
	assert_message("the release says 20001");
	hex[10] = hex[10] == '0' ? '1' : '0';
	t_fails(image_index_match(pk.idx, 20000, hex), PAWL_E_HASH);
	t_fails(image_index_match(pk.idx, 20000, "abc"), PAWL_E_FORMAT);
	t_fails(image_index_match(pk.idx, 20000, NULL), PAWL_E_FORMAT);

	t_ok(image_index_check_pack(pk.idx, 0, PACK_NAME, pk.packlen));
	t_fails(image_index_check_pack(pk.idx, 0, "os/0.9.0/image.pack", pk.packlen), PAWL_E_FORMAT);
	assert_message("not the release's os/0.9.0/image.pack");
	t_fails(image_index_check_pack(pk.idx, 0, PACK_NAME, pk.packlen + 1), PAWL_E_LENGTH);
	t_fails(image_index_check_pack(pk.idx, 1, PACK_NAME, pk.packlen), PAWL_E_FORMAT);
	packed_free(&pk);
}

/* ---------------- the decoder and the slot ---------------- */

static void test_stream_random_chunks(void **state)
{
	static const size_t maxchunks[] = { 1, 7, 4096, 70000, 1 << 20 };
	struct packed pk;
	char *dir = t_mkdtemp();

	(void)state;
	pack_image(&pk, 37 * 16384 + 123, 16384, 11);
	assert_true(image_index_sequential(pk.idx));
	for (size_t i = 0; i < ARRAY_SIZE(maxchunks); i++) {
		char name[32];
		char *slot;

		snprintf(name, sizeof(name), "slot%zu", i);
		slot = make_slot(dir, name, pk.len + 5000);
		t_ok(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, maxchunks[i], 100 + i));
		assert_slot(slot, &pk, pk.len); /* the image, then the old bytes */
		free(slot);
	}
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

/* The sink sees every piece once, in order, at its offset. */
struct record {
	uint32_t calls;
	uint64_t next;
};

static int record_write(void *ctx, uint32_t piece, uint64_t offset, const uint8_t *p, size_t n)
{
	struct record *rec = ctx;

	(void)p;
	assert_int_equal(piece, rec->calls);
	assert_int_equal(offset, rec->next);
	rec->calls++;
	rec->next += n;
	return 0;
}

static int refuse_write(void *ctx, uint32_t piece, uint64_t offset, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return pawl_error_set(PAWL_E_IO, "sink refuses piece %u at %llu", piece,
			      (unsigned long long)offset);
}

static void test_decoder_sink(void **state)
{
	struct packed pk;
	struct record rec = { 0, 0 };
	image_decoder *d = NULL;
	image_sink sink = { record_write, &rec }, bad = { refuse_write, NULL };

	(void)state;
	pack_image(&pk, 9 * 4096 + 1, 4096, 5);
	t_ok(image_decoder_new(&d, pk.idx, sink));
	t_ok(image_decoder_push(d, pk.pack, pk.packlen));
	t_ok(image_decoder_finish(d));
	assert_int_equal(rec.calls, 10);
	assert_int_equal(rec.next, pk.len);
	assert_int_equal(image_decoder_pack_bytes(d), pk.packlen);
	assert_int_equal(image_decoder_image_bytes(d), pk.len);
	t_fails(image_decoder_push(d, pk.pack, 1), PAWL_E_INVALID);
	image_decoder_free(d);

	/* A sink's error stops the decoder with the sink's code, for good. */
	t_ok(image_decoder_new(&d, pk.idx, bad));
	t_fails(image_decoder_push(d, pk.pack, pk.packlen), PAWL_E_IO);
	assert_message("sink refuses piece 0");
	t_fails(image_decoder_push(d, pk.pack, 1), PAWL_E_IO);
	t_fails(image_decoder_finish(d), PAWL_E_IO);
	image_decoder_free(d);
	packed_free(&pk);

	/* One piece: its write fails on the writer thread after push has
	 * returned; finish reports it with the writer's message. */
	pack_image(&pk, 4096, 4096, 6);
	t_ok(image_decoder_new(&d, pk.idx, bad));
	t_ok(image_decoder_push(d, pk.pack, pk.packlen));
	t_fails(image_decoder_finish(d), PAWL_E_IO);
	assert_message("sink refuses piece 0 at 0");
	image_decoder_free(d);
	packed_free(&pk);
}

/* A flipped byte in piece k's compressed bytes: refused as a hash
 * mismatch naming piece k before any decompression (the flip is in the
 * zstd frame header, so decompressing first would fail differently), and
 * nothing of piece k or later reaches the slot. */
static void test_tampered_piece(void **state)
{
	static const uint32_t ks[] = { 0, 3, 9 };
	struct packed pk;
	char *dir = t_mkdtemp();

	(void)state;
	pack_image(&pk, 9 * 16384 + 500, 16384, 13);
	for (size_t i = 0; i < ARRAY_SIZE(ks); i++) {
		uint32_t k = ks[i];
		const image_piece *pc = &pk.idx->pieces[k];
		uint8_t *bad = malloc(pk.packlen);
		char want[64];
		char *slot = make_slot(dir, "slot", pk.len);

		memcpy(bad, pk.pack, pk.packlen);
		bad[pc->pack_offset] ^= 0x40; /* the zstd magic number */
		t_fails(stream(&pk, pk.idx, bad, pk.packlen, slot, NULL, 5000, k), PAWL_E_HASH);
		snprintf(want, sizeof(want), "image piece %u (offset %llu)", k,
			 (unsigned long long)pc->offset);
		assert_message(want);
		assert_message("compressed bytes do not match");
		assert_slot(slot, &pk, pc->offset);

		/* a byte in the middle of the piece */
		memcpy(bad, pk.pack, pk.packlen);
		bad[pc->pack_offset + pc->clen / 2] ^= 1;
		free(slot);
		slot = make_slot(dir, "slot", pk.len);
		t_fails(stream(&pk, pk.idx, bad, pk.packlen, slot, NULL, 1 << 20, k), PAWL_E_HASH);
		assert_message(want);
		assert_slot(slot, &pk, pc->offset);
		free(slot);
		free(bad);
	}
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

/* The index disagrees with the pack: the piece's compressed hash, its
 * uncompressed hash, or the whole image's hash. */
static void test_tampered_index(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *slot;

	(void)state;
	pack_image(&pk, 8 * 8192, 8192, 17);

	pk.idx->pieces[4].csha[7] ^= 1;
	slot = make_slot(dir, "slot", pk.len);
	t_fails(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, 3000, 1), PAWL_E_HASH);
	assert_message("image piece 4 (offset 32768)");
	assert_slot(slot, &pk, 4 * 8192);
	pk.idx->pieces[4].csha[7] ^= 1;
	free(slot);

	pk.idx->pieces[5].usha[31] ^= 0x80;
	slot = make_slot(dir, "slot", pk.len);
	t_fails(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, 3000, 2), PAWL_E_HASH);
	assert_message("image piece 5 (offset 40960): the bytes do not match");
	assert_slot(slot, &pk, 5 * 8192);
	pk.idx->pieces[5].usha[31] ^= 0x80;
	free(slot);

	/* Every piece matches but the image's own hash does not: the
	 * decoder refuses at the end, so the slot is never finished. */
	pk.idx->sha256[0] ^= 1;
	slot = make_slot(dir, "slot", pk.len);
	t_fails(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, 3000, 3), PAWL_E_HASH);
	assert_message("not the one in the signed index");
	pk.idx->sha256[0] ^= 1;
	free(slot);

	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

/* With the whole image's hash deferred to the caller (the slot
 * installer's read-back), every piece is still checked before it is
 * written: a piece whose uncompressed bytes do not match stops the writer
 * before it, and nothing after it is written. Only the running hash of the
 * whole image is left out, and deferring it is refused once bytes came. */
static void test_deferred_image_hash(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *slot;
	image_sink refuser = { refuse_write, NULL };
	image_decoder *d = NULL;

	(void)state;
	pack_image(&pk, 8 * 8192, 8192, 23);
	defer_hash = true;

	pk.idx->pieces[5].usha[31] ^= 0x80;
	slot = make_slot(dir, "slot", pk.len);
	t_fails(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, 3000, 2), PAWL_E_HASH);
	assert_message("image piece 5 (offset 40960): the bytes do not match");
	assert_slot(slot, &pk, 5 * 8192);
	pk.idx->pieces[5].usha[31] ^= 0x80;
	free(slot);

	pk.idx->pieces[2].csha[0] ^= 1;
	slot = make_slot(dir, "slot", pk.len);
	t_fails(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, 3000, 1), PAWL_E_HASH);
	assert_message("image piece 2 (offset 16384): the compressed bytes do not match");
	assert_slot(slot, &pk, 2 * 8192);
	pk.idx->pieces[2].csha[0] ^= 1;
	free(slot);

	/* The whole image's hash is the caller's now: the decoder does not
	 * compute it (the read-back compares what the device holds). */
	pk.idx->sha256[0] ^= 1;
	slot = make_slot(dir, "slot", pk.len);
	t_ok(stream(&pk, pk.idx, pk.pack, pk.packlen, slot, NULL, 3000, 3));
	assert_slot(slot, &pk, pk.len);
	pk.idx->sha256[0] ^= 1;
	free(slot);
	defer_hash = false;

	t_ok(image_decoder_new(&d, pk.idx, refuser));
	t_ok(image_decoder_push(d, pk.pack, 10));
	t_fails(image_decoder_defer_image_hash(d), PAWL_E_INVALID);
	image_decoder_free(d);

	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

static void test_truncated_and_long_pack(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *slot;
	uint8_t *longer;
	image_slot *s = NULL;

	(void)state;
	pack_image(&pk, 6 * 8192 + 17, 8192, 19);
	slot = make_slot(dir, "slot", pk.len);
	/* cut inside the last piece */
	t_fails(stream(&pk, pk.idx, pk.pack, pk.packlen - 3, slot, NULL, 2000, 4), PAWL_E_LENGTH);
	assert_message("ended after");
	assert_message("in piece 6 (image offset 49152)");
	assert_slot(slot, &pk, 6 * 8192);
	/* cut exactly between pieces */
	t_fails(stream(&pk, pk.idx, pk.pack, pk.idx->pieces[3].pack_offset, slot, NULL, 2000, 5),
		PAWL_E_LENGTH);
	assert_message("in piece 3 (image offset 24576)");

	longer = malloc(pk.packlen + 1);
	memcpy(longer, pk.pack, pk.packlen);
	longer[pk.packlen] = 0;
	t_fails(stream(&pk, pk.idx, longer, pk.packlen + 1, slot, NULL, 2000, 6), PAWL_E_LENGTH);
	assert_message("longer than the");
	free(longer);

	/* The slot alone refuses to finish with pieces missing. */
	t_ok(image_slot_open(&s, slot, pk.idx, NULL));
	t_ok(image_slot_write_piece(s, 0, 0, pk.image, 8192));
	t_fails(image_slot_write_piece(s, 1, 0, pk.image, 8192), PAWL_E_INVALID);
	t_fails(image_slot_finish(s), PAWL_E_LENGTH);
	assert_message("1 of 7 pieces written (piece 1 at offset 8192 is missing)");
	image_slot_free(s);
	free(slot);
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

/* Pieces whose hashes match but whose frames are not what the index says
 * (a publisher's broken output): refused before anything is written. */
static void test_bad_frames(void **state)
{
	uint8_t plain[4096], frame[8192], two[16384];
	uint8_t cs[HASH_MAX_LEN], us[HASH_MAX_LEN];
	size_t flen, f2;
	image_compressor *c = NULL;
	image_index *idx = NULL;
	image_decoder *d = NULL;
	struct record rec = { 0, 0 };
	image_sink sink = { record_write, &rec };
	uint16_t id;

	(void)state;
	memset(plain, 'x', sizeof(plain));
	t_ok(image_compressor_new(&c, 1));
	t_ok(image_compress(c, plain, sizeof(plain), frame, sizeof(frame), &flen));
	t_ok(hash_once(HASH_SHA256, plain, sizeof(plain), us));

	/* two frames in one piece */
	memcpy(two, frame, flen);
	t_ok(image_compress(c, plain, 100, two + flen, sizeof(two) - flen, &f2));
	t_ok(hash_once(HASH_SHA256, two, flen + f2, cs));
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, 4096));
	t_ok(image_index_add_pack(idx, "p", &id));
	t_ok(image_index_add_piece(idx, id, 0, 4096, (uint32_t)(flen + f2), cs, us));
	idx->length = 4096;
	idx->packs[0].length = flen + f2;
	memcpy(idx->sha256, us, 32);
	t_ok(image_index_check(idx, NULL));
	t_ok(image_decoder_new(&d, idx, sink));
	t_fails(image_decoder_push(d, two, flen + f2), PAWL_E_FORMAT);
	assert_message("not exactly one zstd frame");
	image_decoder_free(d);
	d = NULL;

	/* a frame that holds more than the index says (ulen 4000 of 4096):
	 * caught by the frame's declared size before decompressing */
	t_ok(hash_once(HASH_SHA256, frame, flen, cs));
	idx->pieces[0].clen = (uint32_t)flen;
	memcpy(idx->pieces[0].csha, cs, 32);
	idx->pieces[0].ulen = 4000;
	idx->length = 4000;
	idx->packs[0].length = flen;
	t_ok(image_index_check(idx, NULL));
	t_ok(image_decoder_new(&d, idx, sink));
	t_fails(image_decoder_push(d, frame, flen), PAWL_E_FORMAT);
	assert_message("does not declare its length of 4000 bytes");
	image_decoder_free(d);
	d = NULL;

	/* a frame that does not declare its size at all */
	{
		ZSTD_CCtx *z = ZSTD_createCCtx();

		assert_non_null(z);
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0)));
		flen = ZSTD_compress2(z, frame, sizeof(frame), plain, sizeof(plain));
		assert_false(ZSTD_isError(flen));
		ZSTD_freeCCtx(z);
	}
	assert_int_equal(ZSTD_getFrameContentSize(frame, flen), ZSTD_CONTENTSIZE_UNKNOWN);
	t_ok(hash_once(HASH_SHA256, frame, flen, cs));
	idx->pieces[0].clen = (uint32_t)flen;
	memcpy(idx->pieces[0].csha, cs, 32);
	idx->pieces[0].ulen = 4096;
	idx->length = 4096;
	idx->packs[0].length = flen;
	t_ok(image_index_check(idx, NULL));
	t_ok(image_decoder_new(&d, idx, sink));
	t_fails(image_decoder_push(d, frame, flen), PAWL_E_FORMAT);
	assert_message("does not declare its length of 4096 bytes");
	image_decoder_free(d);
	assert_int_equal(rec.calls, 0);
	image_index_free(idx);
	image_compressor_free(c);
}

/* A signed piece whose zstd frame breaks halfway through (its compressed
 * hash matches: the index was made from the broken frame), and one that
 * decompresses to other bytes than the index's plain sha256. zstd writes
 * the piece into the decoder's buffer a slice at a time while the writer
 * hashes behind it: neither piece, nor any part of it, reaches the sink. */
static void test_broken_frame_halfway(void **state)
{
	const size_t len = (size_t)512 << 10;
	uint8_t *plain = malloc(len), *frame = malloc(len), *broken = malloc(len);
	uint8_t cs[HASH_MAX_LEN], us[HASH_MAX_LEN];
	size_t flen, at;
	image_compressor *c = NULL;
	image_index *idx = NULL;
	image_decoder *d = NULL;
	struct record rec = { 0, 0 };
	image_sink sink = { record_write, &rec };
	uint16_t id;

	(void)state;
	assert_non_null(plain);
	assert_non_null(frame);
	assert_non_null(broken);
	rng_state = 77;
	for (size_t i = 0; i < len; i++) /* compressible, not trivially */
		plain[i] = (uint8_t)("abcdefgh"[rnd() % 8]);
	t_ok(image_compressor_new(&c, 3));
	t_ok(image_compress(c, plain, len, frame, len, &flen));
	assert_true(flen > 4 * ((size_t)16 << 10)); /* several decoder slices */
	t_ok(hash_once(HASH_SHA256, plain, len, us));
	/* A flip in the last quarter of the frame that zstd refuses. */
	for (at = flen - flen / 4; at < flen - 8; at++) {
		uint8_t *out = malloc(len);
		size_t m;

		assert_non_null(out);
		memcpy(broken, frame, flen);
		broken[at] ^= 0xff;
		m = ZSTD_decompress(out, len, broken, flen);
		free(out);
		if (ZSTD_findFrameCompressedSize(broken, flen) == flen && ZSTD_isError(m))
			break;
	}
	assert_true(at < flen - 8);
	t_ok(hash_once(HASH_SHA256, broken, flen, cs));
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, (uint32_t)len));
	t_ok(image_index_add_pack(idx, "p", &id));
	t_ok(image_index_add_piece(idx, id, 0, (uint32_t)len, (uint32_t)flen, cs, us));
	idx->length = len;
	idx->packs[0].length = flen;
	memcpy(idx->sha256, us, 32);
	t_ok(image_index_check(idx, NULL));
	t_ok(image_decoder_new(&d, idx, sink));
	t_fails(image_decoder_push(d, broken, flen), PAWL_E_FORMAT);
	assert_message("image piece 0 (offset 0): cannot decompress");
	image_decoder_free(d);
	assert_int_equal(rec.calls, 0);

	/* The frame is whole but holds other bytes than the signed ones. */
	plain[len - 1] ^= 1;
	t_ok(image_compress(c, plain, len, frame, len, &flen));
	t_ok(hash_once(HASH_SHA256, frame, flen, cs));
	idx->pieces[0].clen = (uint32_t)flen;
	memcpy(idx->pieces[0].csha, cs, 32);
	idx->packs[0].length = flen;
	t_ok(image_index_check(idx, NULL));
	t_ok(image_decoder_new(&d, idx, sink));
	t_ok(image_decoder_push(d, frame, flen));
	t_fails(image_decoder_finish(d), PAWL_E_HASH);
	assert_message("do not match the sha256 in the signed index");
	image_decoder_free(d);
	assert_int_equal(rec.calls, 0);
	image_index_free(idx);
	image_compressor_free(c);
	free(plain);
	free(frame);
	free(broken);
}

static void test_decoder_needs_sequential(void **state)
{
	struct packed pk;
	image_decoder *d = NULL;
	struct record rec = { 0, 0 };
	image_sink sink = { record_write, &rec };

	(void)state;
	pack_image(&pk, 3 * 4096, 4096, 23);
	pk.idx->packs[0].length++; /* a gap at the end of the pack */
	t_fails(image_decoder_new(&d, pk.idx, sink), PAWL_E_INVALID);
	assert_null(d);
	packed_free(&pk);
}

static void test_slot_too_small(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *slot;
	image_slot *s = NULL;
	struct stat st;

	(void)state;
	pack_image(&pk, 4 * 4096, 4096, 29);
	slot = make_slot(dir, "slot", pk.len - 1);
	t_fails(image_slot_open(&s, slot, pk.idx, NULL), PAWL_E_LIMIT);
	assert_message("has 16383 bytes; the image needs 16384");
	assert_null(s);
	assert_int_equal(stat(slot, &st), 0);
	assert_int_equal(st.st_size, pk.len - 1);
	{
		size_t n;
		uint8_t *got = (uint8_t *)t_read_file(slot, &n);

		for (size_t i = 0; i < n; i++)
			assert_int_equal(got[i], PATTERN);
		free(got);
	}
	free(slot);
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

static void test_slot_booted(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *a, *b, *hard, *sub;
	image_slot *s = NULL;

	(void)state;
	pack_image(&pk, 4 * 4096, 4096, 31);
	a = make_slot(dir, "a", pk.len);
	b = make_slot(dir, "b", pk.len);
	hard = path_in(dir, "a-again");
	assert_int_equal(link(a, hard), 0);

	t_fails(image_slot_open(&s, a, pk.idx, a), PAWL_E_POLICY);
	assert_message("is the booted slot");
	t_fails(image_slot_open(&s, hard, pk.idx, a), PAWL_E_POLICY); /* a hard link */
	assert_message("is the booted slot");
	assert_null(s);
	assert_slot(a, &pk, 0);

	/* the booted slot named through a symbolic link is still the booted
	 * slot; a missing one cannot be checked, so nothing is written */
	sub = path_in(dir, "booted-link");
	assert_int_equal(symlink(a, sub), 0);
	t_fails(image_slot_open(&s, a, pk.idx, sub), PAWL_E_POLICY);
	free(sub);
	sub = path_in(dir, "nothing-here");
	t_fails(image_slot_open(&s, b, pk.idx, sub), PAWL_E_IO);
	assert_message("cannot check the booted slot");
	free(sub);

	/* the other slot is fine */
	t_ok(stream(&pk, pk.idx, pk.pack, pk.packlen, b, a, 1000, 9));
	assert_slot(b, &pk, pk.len);
	assert_slot(a, &pk, 0);
	free(a);
	free(b);
	free(hard);
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

static void test_slot_not_a_file(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *slot, *sym, *fifo, *missing;
	image_slot *s = NULL;

	(void)state;
	pack_image(&pk, 4 * 4096, 4096, 37);
	slot = make_slot(dir, "slot", pk.len);
	sym = path_in(dir, "link");
	assert_int_equal(symlink(slot, sym), 0);
	t_fails(image_slot_open(&s, sym, pk.idx, NULL), PAWL_E_POLICY);
	assert_message("is a symbolic link");
	assert_slot(slot, &pk, 0);

	fifo = path_in(dir, "fifo");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	t_fails(image_slot_open(&s, fifo, pk.idx, NULL), PAWL_E_POLICY); /* does not block */
	assert_message("not a regular file or a block device");
	t_fails(image_slot_open(&s, dir, pk.idx, NULL), PAWL_E_POLICY);
	t_fails(image_slot_open(&s, "/dev/null", pk.idx, NULL), PAWL_E_POLICY);
	missing = path_in(dir, "missing");
	t_fails(image_slot_open(&s, missing, pk.idx, NULL), PAWL_E_NOT_FOUND);
	assert_message("must be created first");
	assert_int_equal(access(missing, F_OK), -1); /* not created */
	assert_null(s);
	free(slot);
	free(sym);
	free(fifo);
	free(missing);
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

/* A file-backed slot on a full file system: a 1 MiB tmpfs in a private
 * mount namespace (a child process; skipped where namespaces are not
 * allowed). The sparse slot looks big enough, but its blocks cannot be
 * reserved: refused at open, before any write. */
/* Not root: a user namespace of our own, where we may mount a tmpfs. */
static bool write_proc(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool userns(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
		return false;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (!write_proc("/proc/self/uid_map", map) || !write_proc("/proc/self/setgroups", "deny"))
		return false;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	return write_proc("/proc/self/gid_map", map);
}

static int enospc_child(const char *dir, const struct packed *pk)
{
	char *slot = path_in(dir, "slot");
	image_slot *s = NULL;
	int fd, r;

	if (unshare(CLONE_NEWNS) != 0 && !userns())
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0)
		return 77;
	fd = open(slot, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)pk->len) != 0 || close(fd) != 0)
		return 3;
	r = image_slot_open(&s, slot, pk->idx, NULL);
	image_slot_free(s);
	free(slot);
	if (r != PAWL_E_IO || !strstr(pawl_error_last()->message, "no space left")) {
		fprintf(stderr, "slot open on a full file system: %d %s\n", r,
			pawl_error_last()->message);
		return 4;
	}
	return 0;
}

static void test_slot_full_disk(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp();
	pid_t pid;
	int status = 0;

	(void)state;
	pack_image(&pk, 2u << 20, 65536, 41);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(enospc_child(dir, &pk));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	packed_free(&pk);
	t_rm_rf(dir);
	free(dir);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no mount namespace here */
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A block device slot: a loop device over a file, set up with ioctls
 * (autoclear: it goes away when the last descriptor closes, even if the
 * test dies). Skipped where loop devices cannot be had (not root, a
 * container without them). */
static int loop_attach(const char *backing, char *dev, size_t n)
{
	struct loop_info64 info;
	int ctl, num, lfd, bfd;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -1;
	num = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (num < 0)
		return -1;
	snprintf(dev, n, "/dev/loop%d", num);
	lfd = open(dev, O_RDWR | O_CLOEXEC);
	bfd = open(backing, O_RDWR | O_CLOEXEC);
	if (lfd < 0 || bfd < 0 || ioctl(lfd, LOOP_SET_FD, bfd) != 0) {
		if (lfd >= 0)
			close(lfd);
		if (bfd >= 0)
			close(bfd);
		return -1;
	}
	close(bfd);
	memset(&info, 0, sizeof(info));
	info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(lfd, LOOP_SET_STATUS64, &info) != 0) {
		ioctl(lfd, LOOP_CLR_FD, 0);
		close(lfd);
		return -1;
	}
	return lfd; /* the loop device lives while this is open */
}

static void test_slot_block_device(void **state)
{
	struct packed pk;
	char *dir = t_mkdtemp(), *backing, *small, *link;
	char dev[64], dev2[64];
	image_slot *s = NULL;
	int lfd, lfd2, excl;

	(void)state;
	pack_image(&pk, 6 * 65536 + 4096, 65536, 43);
	backing = make_slot(dir, "backing", pk.len + 65536);
	small = make_slot(dir, "small", pk.len - 512);
	lfd = loop_attach(backing, dev, sizeof(dev));
	if (lfd < 0) {
		packed_free(&pk);
		t_rm_rf(dir);
		free(dir);
		free(backing);
		free(small);
		skip();
	}
	lfd2 = loop_attach(small, dev2, sizeof(dev2));
	assert_true(lfd2 >= 0);

	/* the booted slot, by its device name and through a link to it */
	t_fails(image_slot_open(&s, dev, pk.idx, dev), PAWL_E_POLICY);
	assert_message("is the booted slot");
	link = path_in(dir, "booted");
	assert_int_equal(symlink(dev, link), 0);
	t_fails(image_slot_open(&s, dev, pk.idx, link), PAWL_E_POLICY);
	/* a device held exclusively (as a mounted one is): EBUSY */
	excl = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	assert_true(excl >= 0);
	t_fails(image_slot_open(&s, dev, pk.idx, NULL), PAWL_E_POLICY);
	assert_message("is in use");
	close(excl);
	/* BLKGETSIZE64: a device 512 bytes short of the image */
	t_fails(image_slot_open(&s, dev2, pk.idx, dev), PAWL_E_LIMIT);
	assert_message("the image needs");
	assert_null(s);
	assert_slot(backing, &pk, 0);

	/* the other slot: written, flushed, the bytes past it untouched */
	t_ok(stream(&pk, pk.idx, pk.pack, pk.packlen, dev, dev2, 30000, 12));
	close(lfd);
	close(lfd2);
	assert_slot(backing, &pk, pk.len);
	free(link);
	free(backing);
	free(small);
	t_rm_rf(dir);
	free(dir);
	packed_free(&pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_roundtrip),
		cmocka_unit_test(test_index_refusals),
		cmocka_unit_test(test_index_pack_table),
		cmocka_unit_test(test_index_writer_refuses),
		cmocka_unit_test(test_index_match),
		cmocka_unit_test(test_stream_random_chunks),
		cmocka_unit_test(test_decoder_sink),
		cmocka_unit_test(test_tampered_piece),
		cmocka_unit_test(test_tampered_index),
		cmocka_unit_test(test_deferred_image_hash),
		cmocka_unit_test(test_truncated_and_long_pack),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_broken_frame_halfway),
		cmocka_unit_test(test_decoder_needs_sequential),
		cmocka_unit_test(test_slot_too_small),
		cmocka_unit_test(test_slot_booted),
		cmocka_unit_test(test_slot_not_a_file),
		cmocka_unit_test(test_slot_full_disk),
		cmocka_unit_test(test_slot_block_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

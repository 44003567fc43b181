/*
 * test_image2.c - the chunk index, format 2 (delta updates, #19): the
 * builder, parse(write(x)) == x, one refusal for every rule the parser
 * and the checks apply (each with the code and a message that names the
 * frame, extent, group or piece), the limits a caller sets, and the
 * questions a device asks (piece, frame and group lengths, the extent of
 * a piece, a group's sums and a frame's bytes against the index).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "image/image.h"
#include "testing.h"

#define PACK2 "os/2.0.0/image.pack"
#define PACK1 "os/1.0.0/image.pack"
#define SUMS "os/2.0.0/image.sums"
#define PS 4096u
#define NPIECES 11u
#define LENGTH (10u * PS + 100u) /* the last piece has 100 bytes */
#define GROUP 4u

/* ---------------- the fixture ---------------- */

static uint8_t sums[NPIECES][32];

/*
 * Version 2 of an image of 11 pieces (the last 100 bytes), over two packs:
 *   frame 0: pack 1 (version 1's), 4 whole pieces
 *   frame 1: pack 0, 3 whole pieces
 *   frame 2: pack 0, 2 whole pieces and one of 100 bytes
 *   extents: pieces 0..1 = frame 0 pieces 1..2; 2..4 = frame 1 0..2;
 *            5 = frame 0 piece 1 again (repeated content);
 *            6..7 = frame 1 1..2; 8..10 = frame 2 0..2
 */
static image_index *build(void)
{
	image_index *idx = NULL;
	uint8_t h[32];
	uint16_t p2, p1;
	uint32_t f;

	for (uint32_t i = 0; i < NPIECES; i++)
		memset(sums[i], (int)(0x10 + i), 32);
	t_ok(image_index2_new(&idx, PS, GROUP, LENGTH));
	assert_int_equal(idx->image_pieces, NPIECES);
	t_ok(image_index_add_pack(idx, PACK2, &p2));
	t_ok(image_index_add_pack(idx, PACK1, &p1));
	memset(h, 0xc0, 32);
	t_ok(image_index2_add_frame(idx, p1, 0, 4 * PS, 500, h, h, &f));
	assert_int_equal(f, 0);
	memset(h, 0xc1, 32);
	t_ok(image_index2_add_frame(idx, p2, 0, 3 * PS, 300, h, h, &f));
	assert_int_equal(f, 1);
	memset(h, 0xc2, 32);
	t_ok(image_index2_add_frame(idx, p2, 300, 2 * PS + 100, 200, h, h, &f));
	assert_int_equal(f, 2);
	/* Pieces 0 and 1 in two calls: the builder grows the extent. */
	t_ok(image_index2_add_extent(idx, 0, 1, 0, 1));
	t_ok(image_index2_add_extent(idx, 1, 1, 0, 2));
	t_ok(image_index2_add_extent(idx, 2, 3, 1, 0));
	t_ok(image_index2_add_extent(idx, 5, 1, 0, 1));
	t_ok(image_index2_add_extent(idx, 6, 2, 1, 1));
	t_ok(image_index2_add_extent(idx, 8, 3, 2, 0));
	assert_int_equal(idx->nextents, 5);
	t_ok(image_index2_set_sums(idx, SUMS, (const uint8_t(*)[32])sums));
	idx->packs[0].length = 500;
	idx->packs[1].length = 500;
	memset(idx->sha256, 0x5a, 32);
	return idx;
}

static void write_fixture(pawl_buf *out)
{
	image_index *idx = build();

	t_ok(image_index_write(idx, out));
	image_index_free(idx);
}

/* Offsets in the fixture's bytes. */
#define H_TOTAL 8
#define H_COMP 12
#define H_CHUNK 13
#define H_NPACKS 14
#define H_PSIZE 16
#define H_NPIECES 20
#define H_LENGTH 24
#define H_NFRAMES 64
#define H_NEXTENTS 68
#define H_GROUP 72
#define H_SUMSLEN 76
#define H_RESERVED 78
#define O_PACK(i) (IMAGE2_HEADER_LEN + (size_t)(i) * (IMAGE_PACK_ENTRY_LEN + sizeof(PACK2) - 1))
#define O_SUMS O_PACK(2)
#define O_FRAME(i) (O_SUMS + sizeof(SUMS) - 1 + (size_t)(i) * IMAGE2_FRAME_LEN)
#define O_EXTENT(i) (O_FRAME(3) + (size_t)(i) * IMAGE2_EXTENT_LEN)
#define O_GROUP(i) (O_EXTENT(5) + (size_t)(i) * IMAGE2_GROUP_LEN)
#define O_END O_GROUP(3)
/* fields of a frame and of an extent */
#define F_PACK 0
#define F_ULEN 2
#define F_CLEN 6
#define F_POFF 10
#define X_FIRST 0
#define X_COUNT 4
#define X_FRAME 8
#define X_FPIECE 12

static void put(uint8_t *p, int width, uint64_t v)
{
	for (int i = width - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* ---------------- round trip ---------------- */

static void test_roundtrip(void **state)
{
	pawl_buf out = PAWL_BUF_INIT(1 << 20), again = PAWL_BUF_INIT(1 << 20);
	image_index *back = NULL;

	(void)state;
	write_fixture(&out);
	assert_int_equal(out.len, O_END);
	assert_memory_equal(out.data, "PAWLIDX\2", 8);
	t_ok(image_index_parse(&back, out.data, out.len, NULL));
	assert_int_equal(back->version, IMAGE_INDEX_VERSION2);
	assert_int_equal(back->piece_size, PS);
	assert_int_equal(back->length, LENGTH);
	assert_int_equal(back->image_pieces, NPIECES);
	assert_int_equal(back->group_pieces, GROUP);
	assert_int_equal(back->ngroups, 3);
	assert_int_equal(back->npieces, 0);
	assert_null(back->pieces);
	assert_int_equal(back->npacks, 2);
	assert_string_equal(back->packs[1].name, PACK1);
	assert_int_equal(back->packs[1].length, 500);
	assert_string_equal(back->sums_name, SUMS);
	assert_int_equal(back->nframes, 3);
	assert_int_equal(back->frames[2].pack, 0);
	assert_int_equal(back->frames[2].pack_offset, 300);
	assert_int_equal(back->frames[2].ulen, 2 * PS + 100);
	assert_int_equal(back->max_clen, 500);
	assert_int_equal(back->max_fulen, 4 * PS);
	assert_int_equal(back->nextents, 5);
	assert_int_equal(back->extents[0].count, 2);
	assert_int_equal(back->extents[2].first, 5);
	assert_int_equal(back->extents[2].fpiece, 1);
	assert_false(image_index_sequential(back));
	{
		uint8_t g[32];

		image2_group_hash((const uint8_t(*)[32])sums[8], 3, g);
		assert_memory_equal(back->groups[2], g, 32);
	}
	t_ok(image_index_write(back, &again));
	assert_int_equal(again.len, out.len);
	assert_memory_equal(again.data, out.data, out.len);
	image_index_free(back);
	buf_free(&out);
	buf_free(&again);
}

/* A one-piece image: one frame, one extent, one group. */
static void test_smallest(void **state)
{
	pawl_buf out = PAWL_BUF_INIT(1 << 20);
	image_index *idx = NULL, *back = NULL;
	uint8_t h[32] = { 0 }, s[1][32] = { { 1 } };
	uint16_t p;

	(void)state;
	t_ok(image_index2_new(&idx, 65536, 1, 1));
	t_ok(image_index_add_pack(idx, "a", &p));
	t_ok(image_index2_add_frame(idx, p, 0, 1, 10, h, h, NULL));
	t_ok(image_index2_add_extent(idx, 0, 1, 0, 0));
	t_ok(image_index2_set_sums(idx, "b", (const uint8_t(*)[32])s));
	idx->packs[0].length = 10;
	t_ok(image_index_write(idx, &out));
	t_ok(image_index_parse(&back, out.data, out.len, NULL));
	assert_int_equal(back->image_pieces, 1);
	assert_int_equal(image2_piece_len(back, 0), 1);
	image_index_free(idx);
	image_index_free(back);
	buf_free(&out);
}

/* ---------------- every refusal of the parser ---------------- */

enum op { POKE, CUT, GROW, SHORT_HEADER };

struct poke {
	size_t at;
	int width; /* 0: none */
	uint64_t v;
};

struct mutation {
	const char *what;
	int code;
	const char *needle;
	enum op op;
	const image_limits *lim;
	struct poke pokes[3];
};

static const image_limits lim_pieces = { 8, IMAGE2_FRAME_MAX, 16, UINT64_C(1) << 40, 1u << 20 };
static const image_limits lim_frame = { 1u << 22, 8192, 16, UINT64_C(1) << 40, 1u << 20 };
static const image_limits lim_frames = { 1u << 22, IMAGE2_FRAME_MAX, 16, UINT64_C(1) << 40, 2 };
static const image_limits lim_packs = { 1u << 22, IMAGE2_FRAME_MAX, 1, UINT64_C(1) << 40, 1u << 20 };
static const image_limits lim_length = { 1u << 22, IMAGE2_FRAME_MAX, 16, 40000, 1u << 20 };

#define M(what, code, needle, at, w, v) { what, code, needle, POKE, NULL, { { at, w, v } } }
#define M2(what, code, needle, at, w, v, at2, w2, v2)                                         \
	{ what, code, needle, POKE, NULL, { { at, w, v }, { at2, w2, v2 } } }
#define M3(what, code, needle, at, w, v, at2, w2, v2, at3, w3, v3)                            \
	{ what, code, needle, POKE, NULL, { { at, w, v }, { at2, w2, v2 }, { at3, w3, v3 } } }
#define ML(what, needle, lim) { what, PAWL_E_LIMIT, needle, POKE, lim, { { 0, 0, 0 } } }
#define MOP(what, needle, op) { what, PAWL_E_FORMAT, needle, op, NULL, { { 0, 0, 0 } } }

static const struct mutation mutations[] = {
	/* the byte layout */
	MOP("truncated by a byte", "but has", CUT),
	MOP("a trailing byte", "follow the pack table", GROW),
	MOP("shorter than the header", "79 bytes, shorter than its 80-byte header", SHORT_HEADER),
	M("length field off by one", PAWL_E_FORMAT, "says it has 580 bytes but has 579", H_TOTAL, 4, O_END + 1),
	M("reserved bytes set", PAWL_E_FORMAT, "reserved header bytes", H_RESERVED, 2, 1),
	M("unknown compression", PAWL_E_UNSUPPORTED, "compression 2", H_COMP, 1, 2),
	M("bounded chunking", PAWL_E_UNSUPPORTED, "chunking 2", H_CHUNK, 1, 2),
	M("piece size below 4 KiB", PAWL_E_FORMAT, "piece size 1024 is not a multiple", H_PSIZE, 4, 1024),
	M("piece size not a multiple of 4 KiB", PAWL_E_FORMAT, "piece size 6144 is not a multiple", H_PSIZE, 4, 6144),
	M("piece size over 64 KiB", PAWL_E_LIMIT, "piece size 131072 exceeds", H_PSIZE, 4, 131072),
	M("no packs", PAWL_E_FORMAT, "no packs", H_NPACKS, 2, 0),
	M("4096 packs", PAWL_E_LIMIT, "4096 packs exceed the limit", H_NPACKS, 2, 4096),
	M("no pieces", PAWL_E_FORMAT, "no pieces", H_NPIECES, 4, 0),
	M("2^32-1 pieces", PAWL_E_LIMIT, "image pieces exceed the limit", H_NPIECES, 4, 0xffffffffu),
	M("a piece more than the length needs", PAWL_E_FORMAT, "12 pieces of 4096 bytes cannot hold", H_NPIECES, 4, 12),
	M("an image a piece longer", PAWL_E_FORMAT, "cannot hold an image of 45156", H_LENGTH, 8, LENGTH + PS),
	M("an empty image", PAWL_E_FORMAT, "the image is empty", H_LENGTH, 8, 0),
	M("no frames", PAWL_E_FORMAT, "no frames", H_NFRAMES, 4, 0),
	M("2^32-1 frames", PAWL_E_LIMIT, "frames exceed the limit", H_NFRAMES, 4, 0xffffffffu),
	M("one frame more than the bytes hold", PAWL_E_FORMAT, "cannot hold 2 packs, 4 frames", H_NFRAMES, 4, 4),
	M("no extents", PAWL_E_FORMAT, "0 extents for 11 pieces", H_NEXTENTS, 4, 0),
	M("more extents than pieces", PAWL_E_FORMAT, "12 extents for 11 pieces", H_NEXTENTS, 4, 12),
	M("2^32-1 extents", PAWL_E_FORMAT, "4294967295 extents", H_NEXTENTS, 4, 0xffffffffu),
	M("groups of 0 pieces", PAWL_E_FORMAT, "groups of 0 pieces", H_GROUP, 4, 0),
	M("groups of 4097 pieces", PAWL_E_LIMIT, "groups of 4097 pieces exceed", H_GROUP, 4, 4097),
	M("group size that needs fewer hashes", PAWL_E_FORMAT, "and 2 groups take", H_GROUP, 4, 8),
	M("an empty sums name", PAWL_E_LIMIT, "the sums: name of 0 bytes", H_SUMSLEN, 2, 0),
	M("a sums name of 2000 bytes", PAWL_E_LIMIT, "the sums: name of 2000 bytes", H_SUMSLEN, 2, 2000),
	/* names */
	M("a NUL in the sums name", PAWL_E_FORMAT, "the sums: name holds a NUL", O_SUMS + 3, 1, 0),
	M("a .. sums name", PAWL_E_FORMAT, "the sums: name \"os/../", O_SUMS + 3, 3, 0x2e2e2f),
	M("an absolute sums name", PAWL_E_FORMAT, "the sums: name \"/s", O_SUMS, 1, '/'),
	M("a line break in the sums name", PAWL_E_FORMAT, "the sums: name has a control", O_SUMS + 5, 1, '\n'),
	M2("the sums named as pack 1", PAWL_E_FORMAT, "sums target os/2.0.0/image.sums is also pack 1",
	   O_PACK(1) + IMAGE_PACK_ENTRY_LEN + sizeof(PACK1) - 5, 4, 0x73756d73 /* "sums" */,
	   O_PACK(1) + IMAGE_PACK_ENTRY_LEN + 3, 1, '2'),
	M("a pack listed twice", PAWL_E_FORMAT, "pack os/2.0.0/image.pack is listed twice",
	  O_PACK(1) + IMAGE_PACK_ENTRY_LEN + 3, 1, '2'),
	M("a .. pack name", PAWL_E_FORMAT, "pack 1: name \"os/../", O_PACK(1) + IMAGE_PACK_ENTRY_LEN + 3, 3,
	  0x2e2e2f),
	M("a NUL in a pack name", PAWL_E_FORMAT, "pack 0: name holds a NUL", O_PACK(0) + IMAGE_PACK_ENTRY_LEN + 1,
	  1, 0),
	M("an empty pack name", PAWL_E_LIMIT, "pack 0: name of 0 bytes", O_PACK(0) + 8, 2, 0),
	M("a pack name of 65280 bytes", PAWL_E_LIMIT, "pack 1: name of 65299", O_PACK(1) + 8, 1, 0xff),
	M("an empty pack", PAWL_E_LIMIT, "length 0", O_PACK(1), 8, 0),
	/* frames */
	M("a frame in a pack that is not listed", PAWL_E_FORMAT, "frame 1 names pack 2 of 2", O_FRAME(1) + F_PACK, 2, 2),
	M("an empty frame", PAWL_E_FORMAT, "frame 1 is empty", O_FRAME(1) + F_ULEN, 4, 0),
	M("a frame of 4 MiB + 1", PAWL_E_LIMIT, "frame 0 has 4194305 bytes, over the limit", O_FRAME(0) + F_ULEN, 4,
	  (4u << 20) + 1),
	M("a frame without compressed bytes", PAWL_E_FORMAT, "frame 2: 0 compressed bytes", O_FRAME(2) + F_CLEN, 4, 0),
	M2("a frame with more compressed bytes than zstd can need", PAWL_E_FORMAT, "frame 1: 20000 compressed "
	   "bytes for 12288 (zstd needs at most", O_FRAME(1) + F_CLEN, 4, 20000, O_PACK(0), 8, 100000),
	M("a frame past the end of its pack", PAWL_E_FORMAT, "frame 2 lies outside pack os/2.0.0/image.pack: bytes 301+200",
	  O_FRAME(2) + F_POFF, 8, 301),
	M("a pack a byte too short", PAWL_E_FORMAT, "frame 0 lies outside pack os/1.0.0/image.pack", O_PACK(1), 8, 499),
	M("two frames sharing pack bytes", PAWL_E_FORMAT, "frames 1 and 2 overlap in pack os/2.0.0/image.pack",
	  O_FRAME(2) + F_POFF, 8, 299),
	M3("a pack that holds no frame", PAWL_E_FORMAT, "no frame is in pack os/1.0.0/image.pack",
	   O_FRAME(0) + F_PACK, 2, 0, O_FRAME(0) + F_POFF, 8, 500, O_PACK(0), 8, 1000),
	M2("a frame no extent uses", PAWL_E_FORMAT, "no extent uses frame 0",
	   O_EXTENT(0) + X_FRAME, 4, 1, O_EXTENT(2) + X_FRAME, 4, 1),
	/* extents */
	M("a gap between extents", PAWL_E_FORMAT, "extent 1 starts at piece 3, not at 2", O_EXTENT(1) + X_FIRST, 4, 3),
	M("overlapping extents", PAWL_E_FORMAT, "extent 1 starts at piece 1, not at 2", O_EXTENT(1) + X_FIRST, 4, 1),
	M("the first extent not at piece 0", PAWL_E_FORMAT, "extent 0 starts at piece 1, not at 0", O_EXTENT(0) + X_FIRST,
	  4, 1),
	M("an empty extent", PAWL_E_FORMAT, "extent 2 has no pieces", O_EXTENT(2) + X_COUNT, 4, 0),
	M("an extent past the image", PAWL_E_FORMAT, "extent 4 (pieces 8+4) runs past the image's 11 pieces",
	  O_EXTENT(4) + X_COUNT, 4, 4),
	M("an extent of 2^32-1 pieces", PAWL_E_FORMAT, "runs past the image", O_EXTENT(4) + X_COUNT, 4, 0xffffffffu),
	M("an extent naming a frame not listed", PAWL_E_FORMAT, "extent 1 (piece 2) names frame 3 of 3",
	  O_EXTENT(1) + X_FRAME, 4, 3),
	M("an extent past its frame's pieces", PAWL_E_FORMAT, "extent 1 (piece 2) takes pieces 1+3 of frame 1, which has 3",
	  O_EXTENT(1) + X_FPIECE, 4, 1),
	M("an extent starting past its frame", PAWL_E_FORMAT, "takes pieces 4294967295+2 of frame 0",
	  O_EXTENT(0) + X_FPIECE, 4, 0xffffffffu),
	M2("a whole image piece on a frame's short piece", PAWL_E_FORMAT,
	   "extent 3: image piece 7 has 4096 bytes but piece 2 of frame 2 has 100",
	   O_EXTENT(3) + X_FRAME, 4, 2, 0, 0, 0),
	M("the image's short piece on a whole frame piece", PAWL_E_FORMAT,
	  "extent 4: image piece 10 has 100 bytes but piece 2 of frame 0 has 4096", O_EXTENT(4) + X_FRAME, 4, 0),
	M("the image's last piece shorter than the frame's", PAWL_E_FORMAT,
	  "image piece 10 has 50 bytes but piece 2 of frame 2 has 100", H_LENGTH, 8, LENGTH - 50),
	M2("extents that stop before the image's end", PAWL_E_FORMAT, "the extents end at piece 10; the image has 11",
	   O_EXTENT(4) + X_COUNT, 4, 2, 0, 0, 0),
	/* what the caller allows */
	ML("more pieces than the caller allows", "11 image pieces exceed the limit of 8", &lim_pieces),
	ML("larger frames than the caller allows", "frame 0 has 16384 bytes, over the limit of 8192", &lim_frame),
	ML("more frames than the caller allows", "3 frames exceed the limit of 2", &lim_frames),
	ML("more packs than the caller allows", "2 packs exceed the limit of 1", &lim_packs),
	ML("a longer image than the caller allows", "exceeds the limit of 40000", &lim_length),
};

static void test_refusals(void **state)
{
	pawl_buf good = PAWL_BUF_INIT(1 << 20);

	(void)state;
	write_fixture(&good);
	for (size_t i = 0; i < ARRAY_SIZE(mutations); i++) {
		const struct mutation *m = &mutations[i];
		uint8_t *p = calloc(1, good.len + 16);
		size_t n = good.len;
		image_index *idx = NULL;
		int r;

		assert_non_null(p);
		memcpy(p, good.data, n);
		switch (m->op) {
		case POKE:
			for (size_t k = 0; k < ARRAY_SIZE(m->pokes); k++)
				if (m->pokes[k].width)
					put(p + m->pokes[k].at, m->pokes[k].width, m->pokes[k].v);
			break;
		case CUT:
			n--;
			break;
		case GROW:
			n++;
			put(p + H_TOTAL, 4, n);
			break;
		case SHORT_HEADER:
			n = IMAGE2_HEADER_LEN - 1;
			put(p + H_TOTAL, 4, n);
			break;
		}
		pawl_error_clear();
		r = image_index_parse(&idx, p, n, m->lim);
		if (r != m->code || !strstr(pawl_error_last()->message, m->needle))
			fail_msg("%s: got %d \"%s\", wanted %d and \"%s\"", m->what, r,
				 pawl_error_last()->message, m->code, m->needle);
		assert_null(idx);
		free(p);
	}
	/* And the fixture itself parses with each of those limits raised. */
	{
		image_index *idx = NULL;

		t_ok(image_index_parse(&idx, good.data, good.len, NULL));
		image_index_free(idx);
	}
	buf_free(&good);
}

/* ---------------- what the writer refuses ---------------- */

static void test_writer_refuses(void **state)
{
	pawl_buf out = PAWL_BUF_INIT(1 << 20);
	image_index *idx;

	(void)state;
	/* No sums named. */
	idx = build();
	free(idx->sums_name);
	idx->sums_name = NULL;
	t_fails(image_index_write(idx, &out), PAWL_E_FORMAT);
	assert_non_null(strstr(pawl_error_last()->message, "no sums target"));
	image_index_free(idx);
	/* Group hashes of another group size. */
	idx = build();
	idx->group_pieces = 2;
	t_fails(image_index_write(idx, &out), PAWL_E_FORMAT);
	assert_non_null(strstr(pawl_error_last()->message, "3 group hashes; 11 pieces in groups of 2 need 6"));
	image_index_free(idx);
	/* A format 1 piece in a format 2 index, a frame in format 1. */
	idx = build();
	{
		uint8_t h[32] = { 0 };
		image_index *one = NULL;
		uint16_t id;

		t_fails(image_index_add_piece(idx, 0, 0, 1, 1, h, h), PAWL_E_INVALID);
		t_ok(image_index_new(&one, IMAGE_CHUNK_FIXED, PS));
		t_ok(image_index_add_pack(one, "p", &id));
		t_fails(image_index2_add_frame(one, 0, 0, 1, 1, h, h, NULL), PAWL_E_INVALID);
		t_fails(image_index2_add_extent(one, 0, 1, 0, 0), PAWL_E_INVALID);
		image_index_free(one);
	}
	t_fails(image_index2_set_sums(idx, "../x", (const uint8_t(*)[32])sums), PAWL_E_FORMAT);
	{
		uint8_t h[32] = { 0 };
		image_index *one = NULL;
		uint32_t keep = idx->nframes;

		/* a frame in a pack not listed */
		t_fails(image_index2_add_frame(idx, 2, 0, 1, 1, h, h, NULL), PAWL_E_INVALID);
		/* the most frames the format holds (the count alone: the
		 * check comes before the array is touched) */
		idx->nframes = IMAGE2_FRAMES_MAX;
		t_fails(image_index2_add_frame(idx, 0, 0, 1, 1, h, h, NULL), PAWL_E_LIMIT);
		idx->nframes = keep;
		/* sums for a format 1 index */
		t_ok(image_index_new(&one, IMAGE_CHUNK_FIXED, PS));
		t_fails(image_index2_set_sums(one, "s", (const uint8_t(*)[32])sums), PAWL_E_INVALID);
		image_index_free(one);
	}
	image_index_free(idx);
	/* More extents than pieces. */
	{
		uint8_t h[32] = { 0 };

		t_ok(image_index2_new(&idx, PS, 1, 2 * PS));
		t_ok(image_index2_add_extent(idx, 0, 1, 0, 5));
		t_ok(image_index2_add_extent(idx, 1, 1, 0, 0));
		t_fails(image_index2_add_extent(idx, 2, 1, 0, 0), PAWL_E_LIMIT);
		assert_non_null(strstr(pawl_error_last()->message, "more extents than the image's 2"));
		(void)h;
		image_index_free(idx);
	}
	/* What image_index_check() refuses in memory (the parser refuses the
	 * same on bytes before it allocates, so only the writer and callers
	 * of image_index_check reach these). */
	{
		static const struct {
			const char *needle;
			int code;
			int field;
			uint32_t v;
		} bad[] = {
			{ "groups of 0 pieces", PAWL_E_FORMAT, 0, 0 },
			{ "groups of 5000 pieces exceed", PAWL_E_LIMIT, 0, 5000 },
			{ "no packs", PAWL_E_FORMAT, 1, 0 },
			{ "no frames", PAWL_E_FORMAT, 2, 0 },
			{ "0 extents for 11 pieces", PAWL_E_FORMAT, 3, 0 },
			{ "12 extents for 11 pieces", PAWL_E_FORMAT, 3, 12 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			idx = build();
			switch (bad[i].field) {
			case 0: idx->group_pieces = bad[i].v; break;
			case 1: idx->npacks = bad[i].v; break;
			case 2: idx->nframes = bad[i].v; break;
			default: idx->nextents = bad[i].v; break;
			}
			pawl_error_clear();
			if (image_index_write(idx, &out) != bad[i].code ||
			    !strstr(pawl_error_last()->message, bad[i].needle))
				fail_msg("in memory: got \"%s\", wanted \"%s\"",
					 pawl_error_last()->message, bad[i].needle);
			if (bad[i].field == 1)
				idx->npacks = 2; /* so that both names are freed */
			image_index_free(idx);
		}
		idx = build();
		t_fails(image_index_check(idx, &lim_pieces), PAWL_E_LIMIT);
		assert_non_null(strstr(pawl_error_last()->message, "11 image pieces exceed the limit of 8"));
		t_fails(image_index_check(idx, &lim_packs), PAWL_E_LIMIT);
		assert_non_null(strstr(pawl_error_last()->message, "2 packs exceed the limit of 1"));
		t_fails(image_index_check(idx, &lim_frames), PAWL_E_LIMIT);
		assert_non_null(strstr(pawl_error_last()->message, "3 frames exceed the limit of 2"));
		image_index_free(idx);
	}
	/* Nothing was written by any of the refusals. */
	assert_int_equal(out.len, 0);
	t_fails(image_index2_new(&idx, 0, 64, 1), PAWL_E_INVALID);
	t_fails(image_index2_new(&idx, 4096, 0, 1), PAWL_E_INVALID);
	t_fails(image_index2_new(&idx, 4096, 64, UINT64_C(1) << 50), PAWL_E_LIMIT);
	buf_free(&out);
}

/* ---------------- what a device asks ---------------- */

static void test_lengths_and_lookup(void **state)
{
	image_index *idx = build();
	uint32_t e = 99;

	(void)state;
	assert_int_equal(image2_piece_len(idx, 0), PS);
	assert_int_equal(image2_piece_len(idx, 9), PS);
	assert_int_equal(image2_piece_len(idx, 10), 100);
	assert_int_equal(image2_piece_len(idx, 11), 0);
	assert_int_equal(image2_frame_pieces(idx, 0), 4);
	assert_int_equal(image2_frame_pieces(idx, 2), 3);
	assert_int_equal(image2_frame_pieces(idx, 3), 0);
	assert_int_equal(image2_group_len(idx, 0), 4);
	assert_int_equal(image2_group_len(idx, 2), 3);
	assert_int_equal(image2_group_len(idx, 3), 0);
	for (uint32_t piece = 0; piece < NPIECES; piece++) {
		const image_extent *x;

		t_ok(image2_find_extent(idx, piece, &e));
		x = &idx->extents[e];
		assert_true(piece >= x->first && piece < x->first + x->count);
	}
	t_ok(image2_find_extent(idx, 5, &e));
	assert_int_equal(e, 2);
	t_ok(image2_find_extent(idx, 10, &e));
	assert_int_equal(e, 4);
	e = 99;
	t_fails(image2_find_extent(idx, NPIECES, &e), PAWL_E_INVALID);
	assert_non_null(strstr(pawl_error_last()->message, "no piece 11 (the image has 11)"));
	assert_int_equal(e, 99);
	image_index_free(idx);
}

static void test_check_group(void **state)
{
	image_index *idx = build();
	uint8_t bad[4][32];

	(void)state;
	t_ok(image2_check_group(idx, 0, sums[0], 4 * 32));
	t_ok(image2_check_group(idx, 2, sums[8], 3 * 32));
	t_fails(image2_check_group(idx, 2, sums[8], 4 * 32), PAWL_E_LENGTH);
	assert_non_null(strstr(pawl_error_last()->message, "group 2 (pieces 8..10): 128 bytes"));
	t_fails(image2_check_group(idx, 1, sums[0], 4 * 32), PAWL_E_HASH);
	assert_non_null(strstr(pawl_error_last()->message, "group 1 (pieces 4..7)"));
	memcpy(bad, sums[4], sizeof(bad));
	bad[3][31] ^= 1;
	t_fails(image2_check_group(idx, 1, bad[0], sizeof(bad)), PAWL_E_HASH);
	t_fails(image2_check_group(idx, 3, sums[0], 32), PAWL_E_INVALID);
	image_index_free(idx);
}

static void test_check_frame(void **state)
{
	image_index *idx = build();
	uint8_t plain[2 * PS + 100], comp[200], d[HASH_MAX_LEN];

	(void)state;
	memset(plain, 'x', sizeof(plain));
	memset(comp, 'z', sizeof(comp));
	t_ok(hash_once(HASH_SHA256, plain, sizeof(plain), d));
	memcpy(idx->frames[2].usha, d, 32);
	t_ok(hash_once(HASH_SHA256, comp, sizeof(comp), d));
	memcpy(idx->frames[2].csha, d, 32);
	t_ok(image2_frame_check_plain(idx, 2, plain, sizeof(plain)));
	t_ok(image2_frame_check_compressed(idx, 2, comp, sizeof(comp)));
	t_fails(image2_frame_check_plain(idx, 2, plain, sizeof(plain) - 1), PAWL_E_LENGTH);
	assert_non_null(strstr(pawl_error_last()->message, "frame 2 (pack os/2.0.0/image.pack, offset 300)"));
	t_fails(image2_frame_check_compressed(idx, 2, comp, sizeof(comp) - 1), PAWL_E_LENGTH);
	plain[5000] ^= 1;
	comp[7] ^= 1;
	t_fails(image2_frame_check_plain(idx, 2, plain, sizeof(plain)), PAWL_E_HASH);
	t_fails(image2_frame_check_compressed(idx, 2, comp, sizeof(comp)), PAWL_E_HASH);
	assert_non_null(strstr(pawl_error_last()->message, "frame 2"));
	t_fails(image2_frame_check_plain(idx, 3, plain, sizeof(plain)), PAWL_E_INVALID);
	image_index_free(idx);
}

/* The format 1 questions on a format 2 index. */
static void test_shared_calls(void **state)
{
	image_index *idx = build();
	char hex[65];

	(void)state;
	hex_encode(hex, idx->sha256, 32);
	t_ok(image_index_match(idx, LENGTH, hex));
	t_fails(image_index_match(idx, LENGTH + 1, hex), PAWL_E_LENGTH);
	t_ok(image_index_check_pack(idx, 1, PACK1, 500));
	t_fails(image_index_check_pack(idx, 1, PACK1, 501), PAWL_E_LENGTH);
	t_fails(image_index_check_pack(idx, 0, PACK1, 500), PAWL_E_FORMAT);
	t_fails(image_index_check_pack(idx, 2, PACK1, 500), PAWL_E_FORMAT);
	t_ok(image_index_check(idx, NULL));
	assert_false(image_index_sequential(idx));
	image_index_free(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_smallest),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_lengths_and_lookup),
		cmocka_unit_test(test_check_group),
		cmocka_unit_test(test_check_frame),
		cmocka_unit_test(test_shared_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

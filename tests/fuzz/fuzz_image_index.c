/*
 * fuzz_image_index.c - the image chunk index parser and writer.
 *
 * Two properties, each checked on every input:
 *  1. Parsing: image_index_parse() either refuses the bytes with
 *     PAWL_E_FORMAT, PAWL_E_LIMIT or PAWL_E_UNSUPPORTED and a message, or
 *     accepts an index whose invariants hold (pieces back to back, lengths
 *     adding up to the image, every piece inside its pack), and then
 *     image_index_write() reproduces the input byte for byte.
 *  2. Building: the input also drives the builder (chunking, piece size,
 *     packs, pieces with arbitrary lengths and offsets). image_index_write()
 *     either refuses the result or writes bytes that image_index_parse()
 *     accepts and that write the same again: parse(write(x)) == x.
 *  3. Format 2: the same for the frames-and-extents index of delta
 *     updates: parsing checks its invariants (extents back to back over
 *     every image piece, inside their frames, lengths matching, frames
 *     inside their packs), and a second builder drives
 *     image_index2_new/_add_frame/_add_extent/_set_sums with arbitrary
 *     values: write() refuses or parse(write(x)) == x.
 * Any disagreement aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refused_properly(int r)
{
	if (r != PAWL_E_FORMAT && r != PAWL_E_LIMIT && r != PAWL_E_UNSUPPORTED)
		abort();
	if (pawl_error_last()->message[0] == '\0')
		abort();
	pawl_error_clear();
}

static void invariants2(const image_index *idx)
{
	uint64_t end = 0;

	if (idx->npieces != 0 || idx->pieces || idx->nframes == 0 || idx->nextents == 0 ||
	    idx->image_pieces == 0 || idx->ngroups == 0 || !idx->sums_name ||
	    (uint64_t)idx->ngroups * idx->group_pieces < idx->image_pieces ||
	    (uint64_t)(idx->ngroups - 1) * idx->group_pieces >= idx->image_pieces ||
	    (uint64_t)idx->image_pieces * idx->piece_size < idx->length ||
	    (uint64_t)(idx->image_pieces - 1) * idx->piece_size >= idx->length)
		abort();
	for (uint32_t i = 0; i < idx->nframes; i++) {
		const image_piece *f = &idx->frames[i];

		if (f->ulen == 0 || f->ulen > idx->max_fulen || f->clen > idx->max_clen ||
		    f->pack >= idx->npacks || f->pack_offset + f->clen > idx->packs[f->pack].length)
			abort();
	}
	for (uint32_t i = 0; i < idx->nextents; i++) {
		const image_extent *e = &idx->extents[i];
		uint32_t x;

		if (e->first != end || e->count == 0 || e->frame >= idx->nframes ||
		    (uint64_t)e->fpiece + e->count > image2_frame_pieces(idx, e->frame))
			abort();
		for (uint32_t k = 0; k < e->count; k++)
			if (image2_piece_len(idx, e->first + k) == 0)
				abort();
		if (image2_find_extent(idx, e->first, &x) != 0 || x != i ||
		    image2_find_extent(idx, e->first + e->count - 1, &x) != 0 || x != i)
			abort();
		end += e->count;
	}
	if (end != idx->image_pieces)
		abort();
}

static void invariants(const image_index *idx)
{
	uint64_t pos = 0;

	if (idx->version == IMAGE_INDEX_VERSION2) {
		invariants2(idx);
		return;
	}

	if (idx->npieces == 0 || idx->npacks == 0 || idx->length == 0)
		abort();
	for (uint32_t i = 0; i < idx->npieces; i++) {
		const image_piece *pc = &idx->pieces[i];

		if (pc->offset != pos || pc->ulen == 0 || pc->ulen > idx->piece_size ||
		    pc->pack >= idx->npacks || pc->clen > idx->max_clen ||
		    pc->pack_offset + pc->clen > idx->packs[pc->pack].length)
			abort();
		pos += pc->ulen;
	}
	if (pos != idx->length)
		abort();
}

static void parse_and_rewrite(const uint8_t *data, size_t size)
{
	pawl_buf out = PAWL_BUF_INIT(SIZE_MAX);
	image_index *idx = NULL;
	int r = image_index_parse(&idx, data, size, NULL);

	if (r < 0) {
		refused_properly(r);
		return;
	}
	invariants(idx);
	if (image_index_write(idx, &out) != 0 || out.len != size || memcmp(out.data, data, size) != 0)
		abort();
	buf_free(&out);
	image_index_free(idx);
}

/* A little reader over the fuzz input for the builder. */
struct src {
	const uint8_t *p;
	size_t left;
};

static uint32_t take(struct src *s, int bytes)
{
	uint32_t v = 0;

	for (int i = 0; i < bytes; i++) {
		v <<= 8;
		if (s->left) {
			v |= *s->p++;
			s->left--;
		}
	}
	return v;
}

static void build_and_roundtrip(const uint8_t *data, size_t size)
{
	static const char *names[] = { "os/1.0.0/image.pack", "os/0.9.0/image.pack", "p",
				       "os//x", "../x", "/abs", "a/./b" };
	struct src s = { data, size };
	pawl_buf out = PAWL_BUF_INIT(SIZE_MAX), again = PAWL_BUF_INIT(SIZE_MAX);
	image_index *idx = NULL, *back = NULL;
	uint8_t chunking = (uint8_t)(take(&s, 1) % 3 + 1);
	uint32_t piece_size = take(&s, 1) % 2 ? IMAGE_PIECE_MIN : take(&s, 3);
	uint32_t npacks = take(&s, 1) % 3 + 1, npieces = take(&s, 1) % 40 + 1;
	uint64_t pack_pos[3] = { 0, 0, 0 };
	uint8_t h[32];
	int r;

	if (image_index_new(&idx, chunking, piece_size) != 0)
		abort();
	for (uint32_t i = 0; i < npacks; i++) {
		uint16_t id;

		r = image_index_add_pack(idx, names[take(&s, 1) % 7], &id);
		if (r < 0) {
			refused_properly(r);
			goto out;
		}
	}
	for (uint32_t i = 0; i < npieces && s.left > 0; i++) {
		uint8_t mode = (uint8_t)take(&s, 1);
		uint16_t pack = (uint16_t)(mode % npacks);
		uint32_t ulen = mode & 0x80 ? piece_size : take(&s, 3) % (piece_size + 2);
		uint32_t clen = take(&s, 2) % 5000;
		uint64_t at = mode & 0x40 ? take(&s, 2) : pack_pos[pack];

		memset(h, (int)i, sizeof(h));
		if (image_index_add_piece(idx, pack, at, ulen, clen, h, h) != 0)
			abort();
		pack_pos[pack] = at + clen;
		idx->length += ulen;
	}
	for (uint32_t i = 0; i < idx->npacks; i++)
		idx->packs[i].length = take(&s, 1) % 4 ? pack_pos[i] : take(&s, 2);
	memset(idx->sha256, 0xab, sizeof(idx->sha256));

	r = image_index_write(idx, &out);
	if (r < 0) {
		refused_properly(r);
		goto out;
	}
	if (image_index_parse(&back, out.data, out.len, NULL) != 0)
		abort();
	invariants(back);
	if (back->npieces != idx->npieces || back->length != idx->length ||
	    image_index_write(back, &again) != 0 || again.len != out.len ||
	    memcmp(again.data, out.data, out.len) != 0)
		abort();
out:
	buf_free(&out);
	buf_free(&again);
	image_index_free(idx);
	image_index_free(back);
}

static void build2_and_roundtrip(const uint8_t *data, size_t size)
{
	static const char *names[] = { "os/2.0.0/image.pack", "os/1.0.0/image.pack",
				       "os/2.0.0/image.sums", "p", "os//x", "../x", "a/./b" };
	struct src s = { data, size };
	pawl_buf out = PAWL_BUF_INIT(SIZE_MAX), again = PAWL_BUF_INIT(SIZE_MAX);
	image_index *idx = NULL, *back = NULL;
	uint32_t piece_size = take(&s, 1) % 2 ? IMAGE2_PIECE_DEFAULT : take(&s, 3);
	uint32_t group = take(&s, 1) % 2 ? 1 + take(&s, 1) % 8 : take(&s, 2);
	uint64_t length = take(&s, 1) % 2 ? take(&s, 3) : (uint64_t)take(&s, 1) * 4096;
	uint32_t npacks = take(&s, 1) % 3 + 1, nframes = take(&s, 1) % 8 + 1;
	uint32_t nextents = take(&s, 1) % 16 + 1, next = 0;
	uint64_t pack_pos[3] = { 0, 0, 0 };
	_cleanup_free_ uint8_t(*sums)[32] = NULL;
	uint8_t h[32];
	int r;

	if (image_index2_new(&idx, piece_size, group, length) != 0) {
		pawl_error_clear();
		return;
	}
	if (idx->image_pieces > 4096)
		goto out;
	for (uint32_t i = 0; i < npacks; i++) {
		uint16_t id;

		r = image_index_add_pack(idx, names[take(&s, 1) % 7], &id);
		if (r < 0) {
			refused_properly(r);
			goto out;
		}
	}
	for (uint32_t i = 0; i < nframes && s.left > 0; i++) {
		uint8_t mode = (uint8_t)take(&s, 1);
		uint16_t pack = (uint16_t)(mode % npacks);
		uint32_t ulen = mode & 0x80 ? (take(&s, 1) % 5) * piece_size + take(&s, 1) % 2 * 100
					    : take(&s, 3);
		uint32_t clen = take(&s, 2) % 5000;
		uint64_t at = mode & 0x40 ? take(&s, 2) : pack_pos[pack];

		memset(h, (int)i, sizeof(h));
		if (image_index2_add_frame(idx, pack, at, ulen, clen, h, h, NULL) != 0)
			abort();
		pack_pos[pack] = at + clen;
	}
	for (uint32_t i = 0; i < nextents && s.left > 0; i++) {
		uint8_t mode = (uint8_t)take(&s, 1);
		uint32_t first = mode & 0x80 ? take(&s, 2) : next;
		uint32_t count = mode & 0x40 ? take(&s, 2) : 1 + take(&s, 1) % 4;
		uint32_t frame = take(&s, 1) % (idx->nframes + 1);
		uint32_t fpiece = take(&s, 1) % 5;

		r = image_index2_add_extent(idx, first, count, frame, fpiece);
		if (r < 0) { /* more extents than pieces */
			refused_properly(r);
			goto out;
		}
		next = first + count;
	}
	for (uint32_t i = 0; i < idx->npacks; i++)
		idx->packs[i].length = take(&s, 1) % 4 ? pack_pos[i] : take(&s, 2);
	memset(idx->sha256, 0xab, sizeof(idx->sha256));
	sums = calloc(idx->image_pieces ? idx->image_pieces : 1, 32);
	if (!sums)
		abort();
	for (uint32_t i = 0; i < idx->image_pieces; i++)
		memset(sums[i], (int)(i * 7 + take(&s, 1)), 32);
	r = image_index2_set_sums(idx, names[take(&s, 1) % 7], (const uint8_t(*)[32])sums);
	if (r < 0) {
		refused_properly(r);
		goto out;
	}

	r = image_index_write(idx, &out);
	if (r < 0) {
		refused_properly(r);
		goto out;
	}
	if (image_index_parse(&back, out.data, out.len, NULL) != 0)
		abort();
	invariants(back);
	for (uint32_t g = 0; g < back->ngroups; g++)
		if (image2_check_group(back, g, sums[(size_t)g * back->group_pieces],
				       (size_t)image2_group_len(back, g) * 32) != 0)
			abort();
	if (back->nextents != idx->nextents || back->length != idx->length ||
	    image_index_write(back, &again) != 0 || again.len != out.len ||
	    memcmp(again.data, out.data, out.len) != 0)
		abort();
out:
	buf_free(&out);
	buf_free(&again);
	image_index_free(idx);
	image_index_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	parse_and_rewrite(data, size);
	build_and_roundtrip(data, size);
	build2_and_roundtrip(data, size);
	return 0;
}

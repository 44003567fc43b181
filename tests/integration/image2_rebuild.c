/*
 * image2_rebuild.c - test-only: rebuild a format 2 image from its
 * published index, sums and packs, checking everything on the way, so
 * that test_image2_repo.sh can prove what pawl-repo published describes
 * the image.
 *
 *   image2_rebuild INDEX OUT NAME=FILE...
 *
 * NAME=FILE gives the file of each target the index names (its packs and
 * its sums). The sums' length and every group hash are checked against
 * the index; every frame is read from its pack, checked (compressed),
 * decompressed, checked (plain); every image piece is cut from its frame
 * through its extent, its sha256 compared with the sums, and written to
 * OUT; OUT's sha256 is compared with the index. Prints one line per pack
 * (frames it holds for this image) and a summary. Exit 0 only when all
 * of it holds.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "crypto/crypto.h"
#include "image/image.h"

static int argc_g;
static char **argv_g;

__attribute__((noreturn)) static void die(const char *what)
{
	fprintf(stderr, "image2_rebuild: %s: %s\n", what, pawl_error_last()->message);
	exit(1);
}

__attribute__((noreturn)) static void die_msg(const char *what, const char *a)
{
	fprintf(stderr, "image2_rebuild: %s: %s\n", what, a);
	exit(1);
}

static uint8_t *slurp(const char *path, size_t *ret)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n = 0;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		die_msg("cannot read", path);
	p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		die_msg("cannot read", path);
	fclose(f);
	*ret = (size_t)n;
	return p;
}

static const char *file_of(const char *name)
{
	size_t n = strlen(name);

	for (int i = 3; i < argc_g; i++)
		if (strncmp(argv_g[i], name, n) == 0 && argv_g[i][n] == '=')
			return argv_g[i] + n + 1;
	die_msg("no file given for target", name);
	return NULL;
}

int main(int argc, char **argv)
{
	image_index *idx = NULL;
	uint8_t *bytes, *sums, **plain, d[HASH_MAX_LEN];
	size_t n, nsums;
	uint64_t fetched = 0;
	FILE *out;

	argc_g = argc;
	argv_g = argv;
	if (argc < 4) {
		fprintf(stderr, "usage: image2_rebuild INDEX OUT NAME=FILE...\n");
		return 2;
	}
	bytes = slurp(argv[1], &n);
	if (image_index_parse(&idx, bytes, n, NULL) != 0)
		die("the index");
	if (idx->version != IMAGE_INDEX_VERSION2)
		die_msg("not a format 2 index", argv[1]);
	sums = slurp(file_of(idx->sums_name), &nsums);
	if (nsums != (size_t)idx->image_pieces * 32)
		die_msg("the sums do not have 32 bytes a piece", idx->sums_name);
	for (uint32_t g = 0; g < idx->ngroups; g++)
		if (image2_check_group(idx, g, sums + (size_t)g * idx->group_pieces * 32,
				       (size_t)image2_group_len(idx, g) * 32) != 0)
			die("the sums");
	plain = calloc(idx->nframes, sizeof(*plain));
	for (uint32_t p = 0; p < idx->npacks; p++) {
		size_t plen;
		uint8_t *pack = slurp(file_of(idx->packs[p].name), &plen);
		uint32_t nf = 0;
		uint64_t used = 0;

		if (plen != idx->packs[p].length)
			die_msg("a pack does not have the index's length", idx->packs[p].name);
		for (uint32_t f = 0; f < idx->nframes; f++) {
			const image_piece *fr = &idx->frames[f];
			size_t got;

			if (fr->pack != p)
				continue;
			nf++;
			used += fr->clen;
			fetched += fr->clen;
			if (image2_frame_check_compressed(idx, f, pack + fr->pack_offset, fr->clen) != 0)
				die("a frame");
			plain[f] = malloc(fr->ulen);
			got = ZSTD_decompress(plain[f], fr->ulen, pack + fr->pack_offset, fr->clen);
			if (ZSTD_isError(got) || got != fr->ulen)
				die_msg("a frame does not decompress", idx->packs[p].name);
			if (image2_frame_check_plain(idx, f, plain[f], fr->ulen) != 0)
				die("a frame");
		}
		printf("pack %s: %" PRIu32 " frames, %" PRIu64 " of its %zu bytes\n",
		       idx->packs[p].name, nf, used, plen);
		free(pack);
	}
	out = fopen(argv[2], "wb");
	if (!out)
		die_msg("cannot write", argv[2]);
	for (uint32_t x = 0; x < idx->nextents; x++) {
		const image_extent *e = &idx->extents[x];

		for (uint32_t k = 0; k < e->count; k++) {
			uint32_t piece = e->first + k, len = image2_piece_len(idx, piece);
			const uint8_t *src = plain[e->frame] + (size_t)(e->fpiece + k) * idx->piece_size;

			if (hash_once(HASH_SHA256, src, len, d) != 0 ||
			    memcmp(d, sums + (size_t)piece * 32, 32) != 0)
				die_msg("a piece does not match its sum", "extent walk");
			if (fwrite(src, 1, len, out) != len)
				die_msg("cannot write", argv[2]);
		}
	}
	if (fclose(out) != 0)
		die_msg("cannot write", argv[2]);
	free(bytes);
	bytes = slurp(argv[2], &n);
	if (n != idx->length || hash_once(HASH_SHA256, bytes, n, d) != 0 ||
	    memcmp(d, idx->sha256, 32) != 0)
		die_msg("not the image the index describes", argv[2]);
	printf("image: %" PRIu64 " bytes, %" PRIu32 " pieces, %" PRIu32 " frames, %" PRIu32
	       " extents, %" PRIu64 " compressed bytes in frames\n",
	       idx->length, idx->image_pieces, idx->nframes, idx->nextents, fetched);
	for (uint32_t f = 0; f < idx->nframes; f++)
		free(plain[f]);
	free(plain);
	free(bytes);
	free(sums);
	image_index_free(idx);
	return 0;
}

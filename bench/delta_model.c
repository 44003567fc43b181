/*
 * bench/delta_model.c - what a delta update from image V1 to image V2 would
 * cost pawl under each way of cutting the image into pieces (#19). A model,
 * not an implementation: nothing here is shipped or linked into libpawl.
 *
 *   delta_model V1 V2 SPEC...
 *
 * SPEC is one of
 *   fixed:SIZE    pieces of SIZE bytes from offset 0 (SIZE a multiple of
 *                 4096: aligned to the file system's blocks), the last one
 *                 shorter: the index's chunking 1;
 *   cdc:AVG       content-defined pieces over bytes, as casync cuts them:
 *                 a gear rolling hash (64 bytes of context) and min/avg/max
 *                 of AVG/4, AVG, AVG*4; a cut where the hash hits one value
 *                 of AVG - min, so the pieces average about AVG;
 *   cdcblk:AVG    content-defined runs of whole 4 KiB blocks: a cut after a
 *                 block whose FNV-1a hash hits one value in AVG/4096 - min
 *                 (min/max AVG/4 and AVG*4 in blocks), so that every cut
 *                 stays aligned to the file system.
 *
 * For each SPEC it prints one line of key=value fields about V2 against V1:
 *   pieces, mean      V2's pieces and their mean length;
 *   missing           V2's pieces whose sha256 is neither in V1 nor earlier
 *                     in V2 (the seeds of #19: booted slot, inactive slot,
 *                     pieces already written), each counted once;
 *   miss_raw, miss_z  their bytes, raw and as one zstd -19 frame each
 *                     (what pawl-repo writes: no checksum, content size);
 *   idx               the version 1 index of V2 (64 + 10 + name + 82 per
 *                     piece, docs/image-format.md);
 *   idx_z             that index compressed with zstd -19;
 *   idx2              bytes a device holding V1's index fetches of a two-level
 *                     index: a top level (64 bytes + 36 per group: sha256
 *                     and record count) and every group of 82-byte records it
 *                     does not hold. Groups are content-defined over records
 *                     (a group ends after a record whose plain sha256 hits
 *                     1 in 64, at most 256 records), and V2's records for
 *                     unchanged pieces point into V1's pack, as a
 *                     deduplicated store publishes them, so they equal V1's;
 *   idx2c             the same two-level index with compact records of 40
 *                     bytes (plain sha256 and 8 bytes of place: frame and
 *                     offset; the length is implied by fixed pieces);
 *   miss_zrun, frames the missing pieces compressed in runs instead: pieces
 *                     that are neighbours in the image, up to 256 KiB, as one
 *                     zstd -19 frame (each piece still checked by its own
 *                     plain sha256 after decompression), and the frames;
 *   rq_G, rb_G        HTTP Range requests and bytes for the missing pieces out
 *                     of V2's full pack (every piece, image order), adjacent
 *                     pieces coalesced when at most G bytes of unneeded pack
 *                     lie between them (G = 0, 16384, 65536).
 *
 * Compressed lengths of pieces that are not missing (they only set pack
 * offsets, hence the gaps between missing pieces, and the index's fields)
 * are taken at zstd level 3 to keep the model fast; missing pieces, whose
 * bytes are the figure that matters, at level 19.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#define BLOCK 4096u
#define REC 82u
#define GROUP_AVG 64u
#define GROUP_MAX 256u
#define PACK_NAME "os/2.0.0/image.pack"
#define COMPACT 40u
#define RUN_MAX (256u * 1024)

struct piece {
	uint64_t off;
	uint32_t len;
	uint32_t clen;
	uint64_t coff; /* offset in its pack */
	uint8_t sha[32];
	uint8_t csha[32];
	int missing;
};

struct img {
	const uint8_t *p;
	size_t n;
};

struct spec {
	int kind; /* 0 fixed, 1 cdc over bytes, 2 cdc over blocks */
	size_t avg, min, max;
};

static uint64_t gear[256];

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
	fprintf(stderr, "delta_model: %s\n", what);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die("out of memory");
	return p;
}

static struct img map(const char *path)
{
	struct img m;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
		fprintf(stderr, "delta_model: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	m.n = (size_t)st.st_size;
	m.p = mmap(NULL, m.n, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m.p == MAP_FAILED)
		die("mmap failed");
	close(fd);
	return m;
}

static void sha256(uint8_t out[32], const void *p, size_t n)
{
	if (EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) != 1)
		die("sha256 failed");
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3u;
	}
	return h;
}

/* The length of the next piece of p[0..n). */
static size_t cut(const struct spec *s, const uint8_t *p, size_t n)
{
	if (s->kind == 0)
		return n < s->avg ? n : s->avg;
	if (n <= s->min)
		return n;
	size_t end = n < s->max ? n : s->max;
	if (s->kind == 1) {
		uint64_t d = s->avg - s->min, h = 0;
		size_t i = s->min >= 64 ? s->min - 64 : 0;

		for (; i < s->min; i++)
			h = (h << 1) + gear[p[i]];
		for (; i < end; i++) {
			h = (h << 1) + gear[p[i]];
			if ((h >> 16) % d == d - 1)
				return i + 1;
		}
		return end;
	}
	/* whole blocks; min, max and avg are multiples of BLOCK */
	uint64_t d = (s->avg - s->min) / BLOCK;
	for (size_t i = s->min; i < end; i += BLOCK) {
		size_t b = end - i < BLOCK ? end - i : BLOCK;

		if (i + b >= end)
			break;
		if (fnv1a(p + i, b) % d == d - 1)
			return i + b;
	}
	return end;
}

static struct piece *chunk(const struct spec *s, struct img m, size_t *count)
{
	size_t cap = 1024, n = 0;
	struct piece *v = xcalloc(cap, sizeof(*v));

	for (size_t off = 0; off < m.n;) {
		size_t len = cut(s, m.p + off, m.n - off);

		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				die("out of memory");
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].off = off;
		v[n].len = (uint32_t)len;
		sha256(v[n].sha, m.p + off, len);
		n++;
		off += len;
	}
	*count = n;
	return v;
}

/* V1's pieces by hash (the hash first, so cmp_sha orders them) */
struct shaidx {
	uint8_t sha[32];
	size_t i;
};

static int cmp_sha(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* a sorted set of 32-byte hashes */
struct set {
	uint8_t (*h)[32];
	size_t n, cap;
};

static void set_add(struct set *s, const uint8_t h[32])
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->h = realloc(s->h, s->cap * 32);
		if (!s->h)
			die("out of memory");
	}
	memcpy(s->h[s->n++], h, 32);
}

static void set_sort(struct set *s)
{
	qsort(s->h, s->n, 32, cmp_sha);
}

static int set_has(const struct set *s, const uint8_t h[32])
{
	return bsearch(h, s->h, s->n, 32, cmp_sha) != NULL;
}

static ZSTD_CCtx *cctx;
static uint8_t *zbuf;
static size_t zcap;

/* compress one piece as pawl-repo does; its length and the sha256 of it */
static void compress_piece(struct img m, struct piece *p, int level)
{
	size_t r = ZSTD_compressCCtx(cctx, zbuf, zcap, m.p + p->off, p->len, level);

	if (ZSTD_isError(r))
		die(ZSTD_getErrorName(r));
	p->clen = (uint32_t)r;
	sha256(p->csha, zbuf, r);
}

static void put_be(uint8_t *o, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		o[i] = (uint8_t)v;
}

static void record(uint8_t o[REC], unsigned pack, const struct piece *p)
{
	put_be(o, pack, 2);
	put_be(o + 2, p->len, 4);
	put_be(o + 6, p->clen, 4);
	put_be(o + 10, p->coff, 8);
	memcpy(o + 18, p->csha, 32);
	memcpy(o + 50, p->sha, 32);
}

/* content-defined groups of records: the ends (exclusive) of each group */
static size_t *groups(const struct piece *v, size_t n, size_t *count)
{
	size_t *e = xcalloc(n + 1, sizeof(*e)), k = 0, start = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t x = (uint32_t)v[i].sha[0] << 24 | (uint32_t)v[i].sha[1] << 16 |
			     (uint32_t)v[i].sha[2] << 8 | v[i].sha[3];

		if (x % GROUP_AVG == 0 || i + 1 - start == GROUP_MAX || i + 1 == n) {
			e[k++] = i + 1;
			start = i + 1;
		}
	}
	*count = k;
	return e;
}

static void group_hashes(struct set *out, const uint8_t *recs, const size_t *ends, size_t ng)
{
	size_t start = 0;

	for (size_t g = 0; g < ng; g++) {
		uint8_t h[32];

		sha256(h, recs + start * REC, (ends[g] - start) * REC);
		set_add(out, h);
		start = ends[g];
	}
}

static size_t find_off(const struct piece *v, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void model(const struct spec *s, const char *name, struct img a, struct img b)
{
	size_t na, nb;
	struct piece *va = chunk(s, a, &na);
	struct piece *vb = chunk(s, b, &nb);
	struct set have = { 0 };

	/* V1's pack: every piece, image order (level 3: offsets only) */
	uint64_t coff = 0;
	for (size_t i = 0; i < na; i++) {
		compress_piece(a, &va[i], 3);
		va[i].coff = coff;
		coff += va[i].clen;
		set_add(&have, va[i].sha);
	}
	set_sort(&have);

	/* V2: what is missing; its full pack */
	struct set seen = { 0 };
	size_t missing = 0;
	uint64_t miss_raw = 0, miss_z = 0, delta_off = 0;
	coff = 0;
	for (size_t i = 0; i < nb; i++) {
		struct piece *p = &vb[i];

		if (!set_has(&have, p->sha)) {
			/* a linear scan of this update's new pieces: few */
			int dup = 0;
			for (size_t k = 0; k < seen.n && !dup; k++)
				dup = memcmp(seen.h[k], p->sha, 32) == 0;
			if (!dup) {
				p->missing = 1;
				set_add(&seen, p->sha);
				missing++;
				miss_raw += p->len;
			}
		}
		compress_piece(b, p, p->missing ? 19 : 3);
		if (p->missing)
			miss_z += p->clen;
		p->coff = coff;
		coff += p->clen;
	}

	/* Range requests out of the full pack, gaps of up to G bytes merged */
	static const uint64_t gaps[] = { 0, 16384, 65536 };
	uint64_t rq[3] = { 0 }, rb[3] = { 0 };
	for (int g = 0; g < 3; g++) {
		int open = 0;
		uint64_t start = 0, end = 0;

		for (size_t i = 0; i < nb; i++) {
			if (!vb[i].missing)
				continue;
			if (open && vb[i].coff - end <= gaps[g]) {
				end = vb[i].coff + vb[i].clen;
				continue;
			}
			if (open)
				rb[g] += end - start;
			open = 1;
			rq[g]++;
			start = vb[i].coff;
			end = vb[i].coff + vb[i].clen;
		}
		if (open)
			rb[g] += end - start;
	}

	/* the flat version 1 index of V2 (deduplicated: pack 0 is V1's pack,
	 * pack 1 holds V2's new pieces) and its zstd -19 size */
	size_t hdr = 64 + 2 * (10 + sizeof(PACK_NAME) - 1);
	size_t idx = hdr + REC * nb;
	uint8_t *ib = xcalloc(idx, 1);
	uint8_t *rb2 = ib + hdr;
	struct shaidx *byhash = xcalloc(na, sizeof(*byhash));
	for (size_t i = 0; i < na; i++) {
		memcpy(byhash[i].sha, va[i].sha, 32);
		byhash[i].i = i;
	}
	qsort(byhash, na, sizeof(*byhash), cmp_sha);
	memcpy(ib, "PAWLIDX\1", 8);
	for (size_t i = 0; i < nb; i++) {
		struct piece *p = &vb[i];

		if (p->missing) {
			struct piece q = *p;

			q.coff = delta_off;
			delta_off += q.clen;
			record(rb2 + i * REC, 1, &q);
			continue;
		}
		/* V1's record: the piece at the same offset when it is the
		 * same, else the first piece of V1 with these bytes, else
		 * (a repeat of a new piece) its copy in the delta pack */
		size_t j = find_off(va, na, p->off);
		const struct piece *src = NULL;
		if (j < na && va[j].off == p->off && va[j].len == p->len &&
		    memcmp(va[j].sha, p->sha, 32) == 0)
			src = &va[j];
		if (!src) {
			const struct shaidx *f = bsearch(p->sha, byhash, na, sizeof(*byhash), cmp_sha);
			src = f ? &va[f->i] : NULL;
		}
		if (src) {
			record(rb2 + i * REC, 0, src);
		} else {
			struct piece q = *p;
			q.coff = 0;
			record(rb2 + i * REC, 1, &q);
		}
	}
	size_t icap = ZSTD_compressBound(idx);
	uint8_t *iz = xcalloc(icap, 1);
	size_t idx_z = ZSTD_compress(iz, icap, ib, idx, 19);
	if (ZSTD_isError(idx_z))
		die(ZSTD_getErrorName(idx_z));

	/* two-level: V1's own index, grouped the same way */
	uint8_t *ra = xcalloc(na, REC);
	for (size_t i = 0; i < na; i++)
		record(ra + i * REC, 0, &va[i]);
	size_t nga, ngb;
	size_t *ea = groups(va, na, &nga), *eb = groups(vb, nb, &ngb);
	struct set ga = { 0 };
	group_hashes(&ga, ra, ea, nga);
	set_sort(&ga);
	uint64_t idx2 = 64 + 36 * (uint64_t)ngb, changed_recs = 0;
	size_t start = 0;
	for (size_t g = 0; g < ngb; g++) {
		uint8_t h[32];

		sha256(h, rb2 + start * REC, (eb[g] - start) * REC);
		if (!set_has(&ga, h))
			changed_recs += eb[g] - start;
		start = eb[g];
	}
	idx2 += changed_recs * REC;
	/* the same with compact records: plain sha256 and 8 bytes of place */
	uint64_t idx2c = 64 + 36 * (uint64_t)ngb + changed_recs * COMPACT;

	/* runs of missing pieces that are neighbours in the image, each run
	 * (up to RUN_MAX bytes) one zstd -19 frame: pieces still verified
	 * one by one after decompression, but compressed together */
	uint64_t miss_zrun = 0, frames = 0;
	for (size_t i = 0; i < nb;) {
		if (!vb[i].missing) {
			i++;
			continue;
		}
		size_t j = i, len = 0;
		while (j < nb && vb[j].missing && vb[j].off == vb[i].off + len &&
		       len + vb[j].len <= RUN_MAX) {
			len += vb[j].len;
			j++;
		}
		if (j == i) { /* one piece longer than RUN_MAX */
			len = vb[i].len;
			j = i + 1;
		}
		size_t r = ZSTD_compressCCtx(cctx, zbuf, zcap, b.p + vb[i].off, len, 19);
		if (ZSTD_isError(r))
			die(ZSTD_getErrorName(r));
		miss_zrun += r;
		frames++;
		i = j;
	}

	printf("spec=%s pieces=%zu mean=%.0f missing=%zu miss_raw=%" PRIu64 " miss_z=%" PRIu64
	       " idx=%zu idx_z=%zu idx2=%" PRIu64 " groups=%zu idx2c=%" PRIu64 " miss_zrun=%" PRIu64
	       " frames=%" PRIu64,
	       name, nb, (double)b.n / (double)nb, missing, miss_raw, miss_z, idx, idx_z, idx2, ngb,
	       idx2c, miss_zrun, frames);
	for (int g = 0; g < 3; g++)
		printf(" rq_%" PRIu64 "=%" PRIu64 " rb_%" PRIu64 "=%" PRIu64, gaps[g], rq[g], gaps[g], rb[g]);
	printf("\n");
	fflush(stdout);

	free(va);
	free(vb);
	free(have.h);
	free(seen.h);
	free(ib);
	free(iz);
	free(ra);
	free(ea);
	free(eb);
	free(ga.h);
	free(byhash);
}

static size_t parse_size(const char *t)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(t, &end, 10);
	if (errno || end == t)
		die("bad size in spec");
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end || v < BLOCK || v > 64u * 1024 * 1024 || v % BLOCK)
		die("a size must be a multiple of 4096 from 4K to 64M");
	return (size_t)v;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: delta_model V1 V2 SPEC...\n"
				"  SPEC: fixed:SIZE | cdc:AVG | cdcblk:AVG (SIZE/AVG like 64K)\n");
		return 2;
	}
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 256; i++) { /* splitmix64: a fixed gear table */
		uint64_t z = (x += 0x9e3779b97f4a7c15u);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		gear[i] = z ^ (z >> 31);
	}
	struct img a = map(argv[1]), b = map(argv[2]);
	cctx = ZSTD_createCCtx();
	zcap = ZSTD_compressBound(256u * 1024 * 1024);
	zbuf = malloc(zcap);
	if (!cctx || !zbuf)
		die("out of memory");
	for (int i = 3; i < argc; i++) {
		struct spec s = { 0 };
		const char *t = argv[i];

		if (strncmp(t, "fixed:", 6) == 0) {
			s.kind = 0;
			s.avg = parse_size(t + 6);
		} else if (strncmp(t, "cdc:", 4) == 0) {
			s.kind = 1;
			s.avg = parse_size(t + 4);
		} else if (strncmp(t, "cdcblk:", 7) == 0) {
			s.kind = 2;
			s.avg = parse_size(t + 7);
			if (s.avg < 4 * BLOCK * 2)
				die("cdcblk needs an average of at least 32K");
		} else {
			die("unknown spec (fixed:SIZE, cdc:AVG, cdcblk:AVG)");
		}
		s.min = s.avg / 4;
		s.max = s.avg * 4;
		if (s.kind == 2) {
			s.min -= s.min % BLOCK;
			if (s.min < BLOCK)
				s.min = BLOCK;
		}
		model(&s, t, a, b);
	}
	ZSTD_freeCCtx(cctx);
	free(zbuf);
	return 0;
}

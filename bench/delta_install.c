/*
 * delta_install.c - the device side of a delta update (slot/delta.h) on a
 * large synthetic pair, for its memory: a format 2 release of MIB MiB
 * (4 KiB pieces, groups of 64, frames of 2 MiB) whose CHANGED pieces
 * (spread evenly) differ from v1, installed from files with slot a (booted)
 * and slot b both holding v1. The install runs in a child; printed: the
 * tables' peak (slot_delta_peak_table_bytes), the child's peak RSS, the
 * counts and bytes asked for, the wall time.
 *
 *   delta_install DIR [MIB [CHANGED [same|zero-b|shift]]]
 *
 * (defaults: 192 MiB, 429 pieces, same). same: both slots hold v1; zero-b:
 * slot b is zeros; shift: slot b is zeros and slot a holds v1 moved by one
 * piece, so that no group matches and every sum is fetched and kept (the
 * tables at their largest).
 *
 * DIR is created and filled (slots, repository); root only (slots must be
 * root's). The images are generated piece by piece, never held whole, so
 * that the builder stays small too. Not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "crypto/crypto.h"
#include "image/image.h"
#include "slot/delta.h"
#include "slot/slot.h"

#define PSZ 4096u
#define GP 64u
#define FRAME_PIECES 512u

static uint32_t npieces, nchanged;
static char dir[2048];

static void __attribute__((noreturn)) die(const char *what)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "delta_install: %s: %s: %s\n", what, pawl_strerror(e->code), e->message);
	exit(1);
}

static bool changed(uint32_t p)
{
	return nchanged && (uint64_t)p * nchanged / npieces !=
				   ((uint64_t)p + 1) * nchanged / npieces;
}

/* Piece p of version v (1 or 2): half text-like, half noise, so that it
 * compresses somewhat. */
static void piece(uint8_t *out, uint32_t p, int v)
{
	uint64_t x = ((uint64_t)p << 20) ^ (v == 2 && changed(p) ? 0x9e3779b97f4a7c15ull : 0) ^ 1;

	for (uint32_t i = 0; i < PSZ; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if ((i / 512) % 2)
			memcpy(out + i, &x, 8);
		else
			memcpy(out + i, "pawl os ", 8);
	}
}

static void path_of(char *out, size_t n, const char *name)
{
	int k = snprintf(out, n, "%s/repo/%s", dir, name);

	if (k < 0 || (size_t)k >= n)
		exit(1);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0) {
		perror(path);
		exit(1);
	}
}

/* One frame of pieces [first, first + n) of version v appended to pack. */
static void add_frame(image_index *idx, image_compressor *c, uint16_t pk, int fd, uint64_t *at,
		      uint32_t first, uint32_t n, int v, uint32_t *ret)
{
	size_t len = (size_t)n * PSZ, clen;
	uint8_t *u = malloc(len), *z = malloc(image_compress_bound(len));
	uint8_t cs[HASH_MAX_LEN], us[HASH_MAX_LEN];

	if (!u || !z)
		exit(1);
	for (uint32_t k = 0; k < n; k++)
		piece(u + (size_t)k * PSZ, first + k, v);
	if (image_compress(c, u, len, z, image_compress_bound(len), &clen) < 0)
		die("compress");
	if (write(fd, z, clen) != (ssize_t)clen)
		exit(1);
	if (hash_once(HASH_SHA256, z, clen, cs) < 0 || hash_once(HASH_SHA256, u, len, us) < 0)
		die("hash");
	if (image_index2_add_frame(idx, pk, *at, (uint32_t)len, (uint32_t)clen, cs, us, ret) < 0)
		die("frame");
	*at += clen;
	free(u);
	free(z);
}

struct fsrc {
	const pawl_install_range *r;
	pawl_install_range cur[4096];
	size_t n, i;
	uint64_t off;
	int fd;
};

static int f_len(void *ctx, const char *name, uint64_t *ret)
{
	char p[4096];
	struct stat st;

	(void)ctx;
	path_of(p, sizeof(p), name);
	if (stat(p, &st) != 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s", name);
	*ret = (uint64_t)st.st_size;
	return 0;
}

static int f_open(void *ctx, const pawl_install_range *r, size_t n)
{
	struct fsrc *s = ctx;

	if (n > 4096)
		return pawl_error_set(PAWL_E_LIMIT, "too many ranges");
	memcpy(s->cur, r, n * sizeof(*r));
	s->n = n;
	s->i = 0;
	s->off = 0;
	s->fd = -1;
	return 0;
}

static int f_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct fsrc *s = ctx;
	char p[4096];
	ssize_t k;
	uint64_t want;

	while (s->i < s->n && s->off == s->cur[s->i].length) {
		s->i++;
		s->off = 0;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
	}
	if (s->i == s->n) {
		*ret_n = 0;
		return 0;
	}
	if (s->fd < 0) {
		path_of(p, sizeof(p), s->cur[s->i].target);
		s->fd = open(p, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s", p);
	}
	want = s->cur[s->i].length - s->off;
	if (want > cap)
		want = cap;
	k = pread(s->fd, buf, (size_t)want, (off_t)(s->cur[s->i].offset + s->off));
	if (k <= 0)
		return pawl_error_set(PAWL_E_IO, "short read");
	s->off += (uint64_t)k;
	*ret_n = (size_t)k;
	return 0;
}

static int f_close(void *ctx)
{
	struct fsrc *s = ctx;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 192, len;
	char p[4096], hex[65], a[4096], b[4096], state[4096];
	uint8_t(*sums)[32];
	uint8_t *buf = malloc(PSZ), d[HASH_MAX_LEN];
	image_index *idx = NULL;
	image_compressor *c = NULL;
	pawl_buf ib = PAWL_BUF_INIT((size_t)64 << 20);
	uint32_t *v1frame;
	uint64_t at1 = 0, at2 = 0;
	uint16_t pk1, pk2;
	hash_ctx *h = NULL;
	int fd1, fd2, status;
	pid_t pid;
	struct rusage ru;
	struct timespec t0, t1;
	const char *mode;

	if (argc < 2 || mib == 0 || !buf)
		return fprintf(stderr, "usage: delta_install DIR [MIB [CHANGED]]\n"), 2;
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	len = mib << 20;
	npieces = (uint32_t)(len / PSZ);
	nchanged = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 429;
	mode = argc > 4 ? argv[4] : "same";
	if (snprintf(p, sizeof(p), "mkdir -p '%s/repo/os/1' '%s/repo/os/2' && rm -rf '%s/state'",
		     dir, dir, dir) >= (int)sizeof(p) || system(p) != 0)
		return 1;
	sums = calloc(npieces, 32);
	v1frame = calloc(npieces / FRAME_PIECES + 1, sizeof(uint32_t));
	if (!sums || !v1frame)
		return 1;

	/* the slots: v1 in both; the sums and the image hash of v2 */
	snprintf(a, sizeof(a), "%s/slot-a", dir);
	snprintf(b, sizeof(b), "%s/slot-b", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	fd1 = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fd2 = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd1 < 0 || fd2 < 0 || hash_new(&h, HASH_SHA256) < 0)
		return 1;
	for (uint32_t i = 0; i < npieces; i++) {
		piece(buf, strcmp(mode, "shift") == 0 ? i + 1 : i, 1);
		if (write(fd1, buf, PSZ) != PSZ)
			return 1;
		if (strcmp(mode, "same") != 0)
			memset(buf, 0, PSZ);
		else
			piece(buf, i, 1);
		if (write(fd2, buf, PSZ) != PSZ)
			return 1;
		piece(buf, i, 2);
		if (hash_once(HASH_SHA256, buf, PSZ, d) < 0 || hash_update(h, buf, PSZ) < 0)
			die("hash");
		memcpy(sums[i], d, 32);
	}
	close(fd1);
	close(fd2);
	if (hash_final(h, d) < 0)
		die("hash");
	hash_free(h);

	/* v2's index: v1's frames where v2 equals v1, new one-run frames else */
	if (image_index2_new(&idx, PSZ, GP, len) < 0 || image_compressor_new(&c, 1) < 0 ||
	    image_index_add_pack(idx, "os/1/image.pack", &pk1) < 0 ||
	    image_index_add_pack(idx, "os/2/image.pack", &pk2) < 0)
		die("index");
	path_of(p, sizeof(p), "os/1/image.pack");
	fd1 = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	path_of(p, sizeof(p), "os/2/image.pack");
	fd2 = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd1 < 0 || fd2 < 0)
		return 1;
	for (uint32_t f = 0; f * FRAME_PIECES < npieces; f++) {
		uint32_t n = npieces - f * FRAME_PIECES < FRAME_PIECES ? npieces - f * FRAME_PIECES
								       : FRAME_PIECES;

		add_frame(idx, c, pk1, fd1, &at1, f * FRAME_PIECES, n, 1, &v1frame[f]);
	}
	for (uint32_t i = 0; i < npieces; i++) {
		uint32_t fr;

		if (!changed(i)) {
			if (image_index2_add_extent(idx, i, 1, v1frame[i / FRAME_PIECES],
						    i % FRAME_PIECES) < 0)
				die("extent");
			continue;
		}
		add_frame(idx, c, pk2, fd2, &at2, i, 1, 2, &fr);
		if (image_index2_add_extent(idx, i, 1, fr, 0) < 0)
			die("extent");
	}
	close(fd1);
	close(fd2);
	idx->packs[pk1].length = at1;
	idx->packs[pk2].length = at2;
	memcpy(idx->sha256, d, 32);
	hex_encode(hex, d, 32);
	if (image_index2_set_sums(idx, "os/2/image.sums", (const uint8_t(*)[32])sums) < 0 ||
	    image_index_check(idx, NULL) < 0 || image_index_write(idx, &ib) < 0)
		die("index");
	path_of(p, sizeof(p), "os/2/image.sums");
	write_file(p, sums, (size_t)npieces * 32);
	path_of(p, sizeof(p), "os/2/image.idx");
	write_file(p, ib.data, ib.len);
	image_index_free(idx);
	image_compressor_free(c);
	free(sums);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		boot_backend *boot = NULL;
		slot_ctx *s = NULL;
		slot_opts o = SLOT_OPTS_INIT;
		slot_source_release rel;
		slot_result res;
		pawl_install_transfer xf;
		struct fsrc fs;
		pawl_install_source src = { PAWL_INSTALL_SOURCE_VERSION, &fs, f_len, f_open, f_read,
					    f_close };
		char *hjson = NULL;
		pj_doc *hd = NULL;
		char ihex[65];

		if (hash_once(HASH_SHA256, ib.data, ib.len, d) < 0)
			die("hash");
		hex_encode(ihex, d, 32);
		if (asprintf(&hjson, "{\"sha256\":\"%s\"}", ihex) < 0 ||
		    pj_parse_copy(&hd, hjson, strlen(hjson), NULL) < 0)
			die("hashes");
		buf_free(&ib);
		if (boot_fake_new(&boot) < 0)
			die("boot");
		o.state_dir = state;
		o.slot_a = a;
		o.slot_b = b;
		o.boot = boot;
		o.booted = BOOT_SLOT_A;
		if (slot_open(&s, &o) < 0)
			die("slot_open");
		memset(&rel, 0, sizeof(rel));
		rel.version = "2.0.0";
		rel.index_name = "os/2/image.idx";
		{
			struct stat st;

			path_of(p, sizeof(p), "os/2/image.idx");
			if (stat(p, &st) != 0)
				exit(1);
			rel.index_length = (uint64_t)st.st_size;
		}
		rel.index_hashes = pj_root(hd);
		rel.image_length = len;
		rel.image_sha256 = hex;
		rel.pack_name = "os/2/image.pack";
		rel.sums_name = "os/2/image.sums";
		rel.format = 2;
		if (slot_install_source(s, &rel, &src, &xf, &res) < 0)
			die("install");
		printf("pieces %" PRIu64 ": in place %" PRIu64 ", from booted %" PRIu64
		       ", from target %" PRIu64 ", fetched %" PRIu64 ", rejected %" PRIu64 "\n",
		       xf.pieces, xf.in_place, xf.from_booted, xf.from_target, xf.fetched,
		       xf.seed_rejected);
		printf("asked: index %" PRIu64 ", sums %" PRIu64 ", frames %" PRIu64 " bytes; %" PRIu64
		       " ranges in %" PRIu32 " streams\n",
		       xf.bytes_index, xf.bytes_sums, xf.bytes_frames, xf.ranges, xf.streams);
		printf("tables peak: %" PRIu64 " bytes (%.2f MiB)\n", slot_delta_peak_table_bytes(),
		       slot_delta_peak_table_bytes() / 1048576.0);
		slot_close(s);
		boot_free(boot);
		pj_doc_free(hd);
		free(hjson);
		exit(0);
	}
	buf_free(&ib);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("install: %.3f s, peak RSS %ld KiB\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss);
	free(buf);
	free(v1frame);
	return 0;
}

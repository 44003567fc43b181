/*
 * test_delta.c - installing an image release from a pawl_install_source
 * (slot/delta.h, issue 19): format 2 from seeds and fetched frames, and
 * format 1 through the same call.
 *
 * The releases are built here the way the publisher builds them (a base
 * version's pieces point at its frames, a piece repeated inside a version
 * at its first copy, runs of new pieces are new frames), written as files
 * of a little repository, and served by a source over those files that
 * records every range asked for. The slots are regular files: slot a
 * (booted) holds v1, slot b (the target) v0, as after two updates.
 *
 * The main scenario (4 KiB pieces, groups of 16, 1024 pieces):
 *   groups 16-31  v1 differs from v0 there: the booted group matches
 *                 (copied whole from the booted slot)
 *   group 40      pieces 643, 647 new (fetched), 645 := v1's piece 300 (a
 *                 piece only the booted slot holds), the rest in place
 *   group 43      piece 700 := v0's piece 900, which only the target slot
 *                 holds (v1 changed 900): moved within the target
 *   group 45      piece 720 := v0's piece 260, which the target held until
 *                 group 16 was written over it in this update: fetched,
 *                 not read from the overwritten place (no seed_rejected)
 *   group 50      pieces 800-807 zero (no seed has a zero piece): one
 *                 fetched, seven repeats of it
 *   group 56      v1 changed piece 900: copied whole from the booted slot
 *   the rest      the same in v0, v1 and v2: in place
 * The counts follow from that and are asserted exactly.
 *
 * Kill -9 points: image_slot_write_at is wrapped (-Wl,--wrap), so that a
 * forked installer dies at its n-th write, during the copies or while
 * frames are written; the old slot must boot after every one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot.h"
#include "crypto/crypto.h"
#include "image/image.h"
#include "json/json.h"
#include "slot/delta.h"
#include "slot/slot.h"
#include "testing.h"

#define GRUB_EDITENV "/usr/bin/grub-editenv"
#define PSZ 4096u
#define GP 16u
#define NPIECES 1024u
#define IMG_LEN ((size_t)NPIECES * PSZ)
#define SLOT_SIZE ((size_t)5 << 20)
#define FRAME_PIECES 16u
#define MAXF 4096

/* ---------------- the kill switch (the wrapped writer) ---------------- */

int __real_image_slot_write_at(image_slot *s, uint64_t offset, const uint8_t *p, size_t n);
int __wrap_image_slot_write_at(image_slot *s, uint64_t offset, const uint8_t *p, size_t n);

static unsigned writes, kill_at;       /* die at write number kill_at (1-based) */
static unsigned lose_at;               /* write number lose_at says done, writes nothing */
static boot_backend *watch_boot;       /* when set: the bootloader log at the first write */
static char log_at_first_write[512];

int __wrap_image_slot_write_at(image_slot *s, uint64_t offset, const uint8_t *p, size_t n)
{
	int r;

	if (writes == 0 && watch_boot)
		snprintf(log_at_first_write, sizeof(log_at_first_write), "%s",
			 boot_fake_log(watch_boot));
	writes++;
	if (lose_at && writes == lose_at)
		return 0; /* a write the device lost */
	r = __real_image_slot_write_at(s, offset, p, n);
	if (kill_at && writes == kill_at)
		raise(SIGKILL);
	return r;
}

/* ---------------- a little repository ---------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

struct frame_rec {
	char pack[64];
	uint64_t off;
	uint32_t ulen, clen;
	uint8_t csha[32], usha[32];
};

/* A format 2 release as the publisher makes it. */
struct rel2 {
	char version[16];
	uint8_t *image;
	size_t len;
	uint8_t (*sums)[32];
	uint32_t npieces;
	uint32_t *pframe, *pfp;   /* each piece's frame (into frames) and piece in it */
	struct frame_rec frames[MAXF];
	uint32_t nframes;
	char idx_name[64], sums_name[64], pack_name[64];
	bool has_pack;
	size_t idxlen;
	char image_hex[65];
	pj_doc *idx_hashes;
};

static char repo[PATH_MAX];

static void repo_path(char *out, size_t n, const char *name)
{
	int k = snprintf(out, n, "%s/%s", repo, name);

	assert_true(k > 0 && (size_t)k < n);
}

/* Write a target file (its directories made as needed). */
static void repo_put(const char *name, const void *p, size_t n)
{
	char path[PATH_MAX];

	repo_path(path, sizeof(path), name);
	for (char *s = path + strlen(repo) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		(void)mkdir(path, 0755);
		*s = '/';
	}
	t_write_file(path, p, n);
}

static uint64_t repo_len(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	repo_path(path, sizeof(path), name);
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static pj_doc *hashes_of(const void *p, size_t n)
{
	uint8_t d[HASH_MAX_LEN];
	char hex[65];
	pj_doc *doc = NULL;
	pj_value *slot;

	t_ok(hash_once(HASH_SHA256, p, n, d));
	hex_encode(hex, d, 32);
	t_ok(pj_doc_new(&doc));
	t_ok(pj_set_object(doc, pj_root(doc)));
	t_ok(pj_obj_put(doc, pj_root(doc), "sha256", 6, &slot));
	t_ok(pj_set_cstr(doc, slot, hex));
	return doc;
}

static uint32_t add_frame_rec(struct rel2 *r, const struct frame_rec *f)
{
	for (uint32_t i = 0; i < r->nframes; i++)
		if (strcmp(r->frames[i].pack, f->pack) == 0 && r->frames[i].off == f->off)
			return i;
	assert_true(r->nframes < MAXF);
	r->frames[r->nframes] = *f;
	return r->nframes++;
}

/* Build release `version` of image (taken over) against base (NULL: none). */
static void build(struct rel2 *r, const char *version, uint8_t *image, const struct rel2 *base)
{
	image_compressor *c = NULL;
	image_index *idx = NULL;
	pawl_buf pack = PAWL_BUF_INIT(64u << 20), ib = PAWL_BUF_INIT(64u << 20);
	uint8_t d[HASH_MAX_LEN];
	uint32_t open_frame = UINT32_MAX, open_count = 0, first_new = 0;
	/* new frames: their first piece and count, to compress after */
	uint32_t nf_first[MAXF], nf_count[MAXF], nf_rec[MAXF], nnew = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->version, sizeof(r->version), "%s", version);
	snprintf(r->idx_name, sizeof(r->idx_name), "os/%s/image.idx", version);
	snprintf(r->sums_name, sizeof(r->sums_name), "os/%s/image.sums", version);
	snprintf(r->pack_name, sizeof(r->pack_name), "os/%s/image.pack", version);
	r->image = image;
	r->len = IMG_LEN;
	r->npieces = NPIECES;
	r->sums = calloc(NPIECES, 32);
	r->pframe = calloc(NPIECES, sizeof(uint32_t));
	r->pfp = calloc(NPIECES, sizeof(uint32_t));
	assert_true(r->sums && r->pframe && r->pfp);
	for (uint32_t p = 0; p < NPIECES; p++) {
		t_ok(hash_once(HASH_SHA256, image + (size_t)p * PSZ, PSZ, d));
		memcpy(r->sums[p], d, 32);
	}
	(void)first_new;
	for (uint32_t p = 0; p < NPIECES; p++) {
		bool done = false;

		/* in the base: its frame piece */
		for (uint32_t i = 0; base && i < base->npieces && !done; i++) {
			if (memcmp(base->sums[i], r->sums[p], 32) != 0)
				continue;
			r->pframe[p] = add_frame_rec(r, &base->frames[base->pframe[i]]);
			r->pfp[p] = base->pfp[i];
			done = true;
		}
		/* a repeat inside this version: its first copy */
		for (uint32_t i = 0; i < p && !done; i++) {
			if (memcmp(r->sums[i], r->sums[p], 32) != 0)
				continue;
			r->pframe[p] = r->pframe[i];
			r->pfp[p] = r->pfp[i];
			done = true;
		}
		if (done) {
			open_frame = UINT32_MAX;
			continue;
		}
		/* new: into the open frame when it continues the run */
		if (open_frame == UINT32_MAX || open_count == FRAME_PIECES) {
			struct frame_rec f;

			memset(&f, 0, sizeof(f));
			snprintf(f.pack, sizeof(f.pack), "%s", r->pack_name);
			f.off = (uint64_t)nnew << 32; /* unique until compressed */
			open_frame = add_frame_rec(r, &f);
			open_count = 0;
			nf_first[nnew] = p;
			nf_count[nnew] = 0;
			nf_rec[nnew] = open_frame;
			nnew++;
		}
		r->pframe[p] = open_frame;
		r->pfp[p] = open_count++;
		nf_count[nnew - 1]++;
	}
	/* compress the new frames into this version's pack */
	t_ok(image_compressor_new(&c, 3));
	for (uint32_t k = 0; k < nnew; k++) {
		struct frame_rec *f = &r->frames[nf_rec[k]];
		const uint8_t *src = image + (size_t)nf_first[k] * PSZ;
		size_t n = (size_t)nf_count[k] * PSZ, at = pack.len, clen;

		t_ok(buf_reserve(&pack, image_compress_bound(n)));
		t_ok(image_compress(c, src, n, (uint8_t *)pack.data + at, pack.cap - at, &clen));
		pack.len += clen;
		f->off = at;
		f->ulen = (uint32_t)n;
		f->clen = (uint32_t)clen;
		t_ok(hash_once(HASH_SHA256, pack.data + at, clen, d));
		memcpy(f->csha, d, 32);
		t_ok(hash_once(HASH_SHA256, src, n, d));
		memcpy(f->usha, d, 32);
	}
	image_compressor_free(c);
	r->has_pack = nnew > 0;
	if (r->has_pack)
		repo_put(r->pack_name, pack.data, pack.len);
	repo_put(r->sums_name, r->sums, (size_t)NPIECES * 32);

	/* the index */
	t_ok(image_index2_new(&idx, PSZ, GP, IMG_LEN));
	{
		uint16_t ids[MAXF];

		for (uint32_t i = 0; i < r->nframes; i++) {
			uint32_t k;

			for (k = 0; k < idx->npacks; k++)
				if (strcmp(idx->packs[k].name, r->frames[i].pack) == 0)
					break;
			if (k == idx->npacks) {
				uint16_t id;

				t_ok(image_index_add_pack(idx, r->frames[i].pack, &id));
				idx->packs[id].length = repo_len(r->frames[i].pack);
				k = id;
			}
			ids[i] = (uint16_t)k;
		}
		for (uint32_t i = 0; i < r->nframes; i++)
			t_ok(image_index2_add_frame(idx, ids[i], r->frames[i].off, r->frames[i].ulen,
						    r->frames[i].clen, r->frames[i].csha,
						    r->frames[i].usha, NULL));
	}
	for (uint32_t p = 0; p < NPIECES; p++)
		t_ok(image_index2_add_extent(idx, p, 1, r->pframe[p], r->pfp[p]));
	t_ok(image_index2_set_sums(idx, r->sums_name, (const uint8_t(*)[32])r->sums));
	t_ok(hash_once(HASH_SHA256, image, IMG_LEN, d));
	memcpy(idx->sha256, d, 32);
	hex_encode(r->image_hex, d, 32);
	t_ok(image_index_check(idx, NULL));
	t_ok(image_index_write(idx, &ib));
	image_index_free(idx);
	repo_put(r->idx_name, ib.data, ib.len);
	r->idxlen = ib.len;
	r->idx_hashes = hashes_of(ib.data, ib.len);
	buf_free(&ib);
	buf_free(&pack);
}

static void free_rel2(struct rel2 *r)
{
	free(r->image);
	free(r->sums);
	free(r->pframe);
	free(r->pfp);
	pj_doc_free(r->idx_hashes);
	memset(r, 0, sizeof(*r));
}

static slot_source_release release_of(const struct rel2 *r)
{
	slot_source_release rel;

	memset(&rel, 0, sizeof(rel));
	rel.version = r->version;
	rel.index_name = r->idx_name;
	rel.index_length = r->idxlen;
	rel.index_hashes = pj_root(r->idx_hashes);
	rel.image_length = r->len;
	rel.image_sha256 = r->image_hex;
	rel.pack_name = r->has_pack ? r->pack_name : NULL;
	rel.sums_name = r->sums_name;
	rel.format = 2;
	return rel;
}

/* v0, v1, v2 of the main scenario (see the top). */
struct three {
	struct rel2 v0, v1, v2;
};

static void make_three(struct three *t)
{
	uint8_t *v0 = malloc(IMG_LEN), *v1, *v2;

	assert_non_null(v0);
	rng_state = 0x5eed1234;
	fill_random(v0, IMG_LEN);
	v1 = malloc(IMG_LEN);
	assert_non_null(v1);
	memcpy(v1, v0, IMG_LEN);
	fill_random(v1 + (size_t)16 * GP * PSZ, (size_t)16 * GP * PSZ); /* groups 16-31 */
	fill_random(v1 + (size_t)900 * PSZ, PSZ);
	v2 = malloc(IMG_LEN);
	assert_non_null(v2);
	memcpy(v2, v1, IMG_LEN);
	fill_random(v2 + (size_t)643 * PSZ, PSZ);
	fill_random(v2 + (size_t)647 * PSZ, PSZ);
	memcpy(v2 + (size_t)645 * PSZ, v1 + (size_t)300 * PSZ, PSZ);
	memcpy(v2 + (size_t)700 * PSZ, v0 + (size_t)900 * PSZ, PSZ);
	memcpy(v2 + (size_t)720 * PSZ, v0 + (size_t)260 * PSZ, PSZ);
	memset(v2 + (size_t)800 * PSZ, 0, (size_t)8 * PSZ);
	build(&t->v0, "0.9.0", v0, NULL);
	build(&t->v1, "1.0.0", v1, &t->v0);
	build(&t->v2, "2.0.0", v2, &t->v1);
}

static void free_three(struct three *t)
{
	free_rel2(&t->v0);
	free_rel2(&t->v1);
	free_rel2(&t->v2);
}

/* ---------------- the source over the repository ---------------- */

struct rec {
	char target[64];
	uint64_t off, len;
	unsigned stream; /* 1-based open number */
};

struct tsrc {
	struct rec log[256];
	unsigned nlog, opens;
	/* the open stream */
	pawl_install_range cur[256];
	char names[256][64];
	size_t ncur, ri;
	uint64_t roff;
	int fd;
	bool is_open;
	/* at open number corrupt_open: change one byte of corrupt_path */
	unsigned corrupt_open;
	const char *corrupt_path;
	uint64_t corrupt_off;
	/* signed length of this target told wrong */
	const char *lie_name;
	/* at open number swap_open: rename swap_from over swap_to */
	unsigned swap_open;
	const char *swap_from, *swap_to;
	/* open number extra_open carries one byte more than asked */
	unsigned extra_open;
	bool extra_sent;
};

static int ts_length(void *ctx, const char *path, uint64_t *ret)
{
	struct tsrc *s = ctx;
	char p[PATH_MAX];
	struct stat st;

	repo_path(p, sizeof(p), path);
	if (stat(p, &st) != 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s is not a target", path);
	*ret = (uint64_t)st.st_size + (s->lie_name && strcmp(s->lie_name, path) == 0 ? 1 : 0);
	return 0;
}

static int ts_open(void *ctx, const pawl_install_range *r, size_t n)
{
	struct tsrc *s = ctx;

	assert_false(s->is_open);
	assert_true(n > 0 && n <= 256);
	s->opens++;
	if (s->corrupt_open == s->opens) {
		int fd = open(s->corrupt_path, O_RDWR | O_CLOEXEC);
		uint8_t x;

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &x, 1, (off_t)s->corrupt_off), 1);
		x ^= 0x5a;
		assert_int_equal(pwrite(fd, &x, 1, (off_t)s->corrupt_off), 1);
		close(fd);
	}
	if (s->swap_open == s->opens)
		assert_int_equal(rename(s->swap_from, s->swap_to), 0);
	s->extra_sent = false;
	for (size_t i = 0; i < n; i++) {
		assert_true(s->nlog < 256);
		snprintf(s->log[s->nlog].target, sizeof(s->log[0].target), "%s", r[i].target);
		s->log[s->nlog].off = r[i].offset;
		s->log[s->nlog].len = r[i].length;
		s->log[s->nlog].stream = s->opens;
		s->nlog++;
		snprintf(s->names[i], sizeof(s->names[i]), "%s", r[i].target);
		s->cur[i] = r[i];
		s->cur[i].target = s->names[i];
		/* the contract: sorted, not overlapping, inside the target */
		if (i > 0 && strcmp(r[i - 1].target, r[i].target) == 0)
			assert_true(r[i - 1].offset + r[i - 1].length <= r[i].offset);
		assert_true(r[i].length >= 1 && r[i].offset + r[i].length <= repo_len(r[i].target));
	}
	s->ncur = n;
	s->ri = 0;
	s->roff = 0;
	s->fd = -1;
	s->is_open = true;
	return 0;
}

static int ts_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct tsrc *s = ctx;
	char p[PATH_MAX];
	ssize_t k;
	size_t want;

	assert_true(s->is_open);
	while (s->ri < s->ncur && s->roff == s->cur[s->ri].length) {
		s->ri++;
		s->roff = 0;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
	}
	if (s->ri == s->ncur) {
		*ret_n = 0;
		if (s->extra_open == s->opens && !s->extra_sent && cap > 0) {
			*(uint8_t *)buf = 0;
			*ret_n = 1;
			s->extra_sent = true;
		}
		return 0;
	}
	if (s->fd < 0) {
		repo_path(p, sizeof(p), s->cur[s->ri].target);
		s->fd = open(p, O_RDONLY | O_CLOEXEC);
		assert_true(s->fd >= 0);
	}
	want = s->cur[s->ri].length - s->roff;
	if (want > cap)
		want = cap;
	k = pread(s->fd, buf, want, (off_t)(s->cur[s->ri].offset + s->roff));
	assert_true(k > 0);
	s->roff += (uint64_t)k;
	*ret_n = (size_t)k;
	return 0;
}

static int ts_close(void *ctx)
{
	struct tsrc *s = ctx;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->is_open = false;
	return 0;
}

static pawl_install_source source_of(struct tsrc *s)
{
	pawl_install_source src = { PAWL_INSTALL_SOURCE_VERSION, s, ts_length, ts_open, ts_read,
				    ts_close };

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	return src;
}

/* ---------------- fixtures ---------------- */

struct fx {
	char *dir;
	char a[PATH_MAX], b[PATH_MAX], state[PATH_MAX], grubenv[PATH_MAX];
	boot_backend *boot;
};

static void put_slot(const char *path, const uint8_t *image, size_t len, uint8_t fill)
{
	uint8_t *p = malloc(SLOT_SIZE);

	assert_non_null(p);
	memset(p, fill, SLOT_SIZE);
	if (image)
		memcpy(p, image, len);
	t_write_file(path, p, SLOT_SIZE);
	assert_int_equal(chmod(path, 0600), 0);
	free(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = t_mkdtemp();
	snprintf(f->a, sizeof(f->a), "%s/slot-a", f->dir);
	snprintf(f->b, sizeof(f->b), "%s/slot-b", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->grubenv, sizeof(f->grubenv), "%s/grubenv", f->dir);
	snprintf(repo, sizeof(repo), "%s/repo", f->dir);
	assert_int_equal(mkdir(repo, 0755), 0);
	writes = kill_at = lose_at = 0;
	watch_boot = NULL;
	log_at_first_write[0] = '\0';
	pawl_error_clear();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	boot_free(f->boot);
	t_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int run(char *const argv[], char *out, size_t outsz)
{
	int p[2], status;
	size_t n = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t k = read(p[0], out + n, outsz - 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == outsz - 1)
			break;
	}
	out[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One power-on under GRUB (tests/integration/bootsim): 'a', 'b' or 'n'. */
static char boot_once(struct fx *f)
{
	const char *b = getenv("PAWL_BUILDDIR");
	char sim[PATH_MAX], out[64];
	char *argv[] = { sim, (char *)"grub", f->grubenv, NULL };
	int rc;

	if (!b || !*b)
		fail_msg("PAWL_BUILDDIR is not set (run the tests through meson test)");
	snprintf(sim, sizeof(sim), "%s/tests/integration/bootsim", b);
	rc = run(argv, out, sizeof(out));
	if (rc == 0 && (strcmp(out, "a\n") == 0 || strcmp(out, "b\n") == 0))
		return out[0];
	if (rc == 2 && strcmp(out, "none\n") == 0)
		return 'n';
	fail_msg("bootsim grub %s: exit %d, output \"%s\"", f->grubenv, rc, out);
	return '?';
}

/* A grubenv with slot a good and running, b an older good system. */
static void use_grub(struct fx *f)
{
	char out[256], spec[PATH_MAX + 8];
	char *create[] = { (char *)GRUB_EDITENV, f->grubenv, (char *)"create", NULL };
	char *set[] = { (char *)GRUB_EDITENV, f->grubenv, (char *)"set", (char *)"ORDER=A B",
			(char *)"A_OK=1", (char *)"A_TRY=0", (char *)"B_OK=1", (char *)"B_TRY=0",
			NULL };
	boot_opts o = BOOT_OPTS_INIT;

	assert_int_equal(run(create, out, sizeof(out)), 0);
	assert_int_equal(run(set, out, sizeof(out)), 0);
	snprintf(spec, sizeof(spec), "grub:%s", f->grubenv);
	boot_free(f->boot);
	f->boot = NULL;
	t_ok(boot_open(spec, &o, &f->boot));
}

static void use_fake(struct fx *f)
{
	boot_free(f->boot);
	f->boot = NULL;
	t_ok(boot_fake_new(&f->boot));
}

static slot_ctx *open_slots(struct fx *f)
{
	slot_opts o = SLOT_OPTS_INIT;
	slot_ctx *s = NULL;

	o.state_dir = f->state;
	o.slot_a = f->a;
	o.slot_b = f->b;
	o.boot = f->boot;
	o.booted = BOOT_SLOT_A;
	o.lock_timeout_s = 10;
	t_ok(slot_open(&s, &o));
	return s;
}

static void assert_slot_holds(const char *path, const uint8_t *image, size_t len)
{
	size_t n;
	char *p = t_read_file(path, &n);

	assert_true(n >= len);
	for (size_t i = 0; i < len; i += PSZ)
		if (memcmp(p + i, image + i, PSZ) != 0)
			fail_msg("%s: piece %zu differs", path, i / PSZ);
	free(p);
}

static void assert_msg_has(const char *needle)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, needle))
		fail_msg("message \"%s\" lacks \"%s\"", m, needle);
}

static int install_src(struct fx *f, const slot_source_release *rel, struct tsrc *ts,
		       pawl_install_transfer *xf, slot_result *res)
{
	pawl_install_source src = source_of(ts);
	slot_ctx *s = open_slots(f);
	int rc;

	memset(res, 0, sizeof(*res));
	rc = slot_install_source(s, rel, &src, xf, res);
	slot_close(s);
	return rc;
}

/* The slots as after v0 then v1: a (booted) v1, b v0. */
static void two_slots(struct fx *f, const struct three *t)
{
	put_slot(f->a, t->v1.image, IMG_LEN, 0x11);
	put_slot(f->b, t->v0.image, IMG_LEN, 0x22);
}

/* The compressed range of the frame holding image piece p of r. */
static void frame_of(const struct rel2 *r, uint32_t p, uint64_t *off, uint64_t *len)
{
	const struct frame_rec *fr = &r->frames[r->pframe[p]];

	assert_string_equal(fr->pack, r->pack_name);
	*off = fr->off;
	*len = fr->clen;
}

/* The tables' bound (delta.c's memory note): 66 bytes a piece at most, 110
 * a group, the scanners' and the copy buffer. */
static void assert_table_bound(uint32_t pieces, uint32_t groups)
{
	uint64_t peak = slot_delta_peak_table_bytes();
	uint64_t bound = 66ull * pieces + 110ull * groups + 2 * ((256u << 10) + GP * 32) +
			 (1u << 20) + (64u << 10);

	if (peak == 0 || peak > bound)
		fail_msg("table peak %llu bytes, bound %llu", (unsigned long long)peak,
			 (unsigned long long)bound);
}

/* ---------------- format 2 ---------------- */

static void test_delta_counts_and_ranges(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;
	uint64_t o643, l643, o647, l647, o700, l700, o720, l720, o800, l800;
	slot_state st;

	make_three(&t);
	two_slots(f, &t);
	use_fake(f);
	watch_boot = f->boot;
	rel = release_of(&t.v2);
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_slot_holds(f->b, t.v2.image, IMG_LEN);
	/* the booted slot is read, never written */
	assert_slot_holds(f->a, t.v1.image, IMG_LEN);
	/* the target was made bad before its first byte, switched last */
	assert_string_equal(log_at_first_write, "get-state a\nset-state b bad\n");
	assert_string_equal(boot_fake_log(f->boot), "get-state a\nset-state b bad\nset-primary b\n");
	st = (slot_state){ 0 };
	t_ok(slot_state_read(f->state, &st));
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "2.0.0");

	/* the counts (see the top) */
	assert_int_equal(xf.format, 2);
	assert_int_equal(xf.pieces, NPIECES);
	assert_int_equal(xf.in_place, 739);
	assert_int_equal(xf.from_booted, 273);
	assert_int_equal(xf.from_target, 8);
	assert_int_equal(xf.fetched, 4);
	assert_int_equal(xf.seed_rejected, 0);
	assert_int_equal(xf.in_place + xf.from_booted + xf.from_target + xf.fetched, NPIECES);
	assert_int_equal(xf.bytes_index, t.v2.idxlen);
	assert_int_equal(xf.bytes_sums, 4 * GP * 32);

	/* exactly: the index; the sums of groups 40, 43, 45, 50; the frames
	 * of 643 and 647 (touching: one range) and of 720 and 800 (one
	 * more), not 700's between them */
	frame_of(&t.v2, 643, &o643, &l643);
	frame_of(&t.v2, 647, &o647, &l647);
	frame_of(&t.v2, 700, &o700, &l700);
	frame_of(&t.v2, 720, &o720, &l720);
	frame_of(&t.v2, 800, &o800, &l800);
	assert_int_equal(o647, o643 + l643);
	assert_int_equal(o700, o647 + l647);
	assert_int_equal(o720, o700 + l700);
	assert_int_equal(o800, o720 + l720);
	assert_int_equal(ts.opens, 3);
	assert_int_equal(xf.streams, 3);
	assert_int_equal(ts.nlog, 7);
	assert_int_equal(xf.ranges, 7);
	assert_string_equal(ts.log[0].target, t.v2.idx_name);
	assert_int_equal(ts.log[0].off, 0);
	assert_int_equal(ts.log[0].len, t.v2.idxlen);
	for (unsigned i = 0; i < 4; i++) {
		static const uint32_t g[4] = { 40, 43, 45, 50 };

		assert_string_equal(ts.log[1 + i].target, t.v2.sums_name);
		assert_int_equal(ts.log[1 + i].stream, 2);
		assert_int_equal(ts.log[1 + i].off, (uint64_t)g[i] * GP * 32);
		assert_int_equal(ts.log[1 + i].len, GP * 32);
	}
	assert_string_equal(ts.log[5].target, t.v2.pack_name);
	assert_int_equal(ts.log[5].stream, 3);
	assert_int_equal(ts.log[5].off, o643);
	assert_int_equal(ts.log[5].len, l643 + l647);
	assert_string_equal(ts.log[6].target, t.v2.pack_name);
	assert_int_equal(ts.log[6].off, o720);
	assert_int_equal(ts.log[6].len, l720 + l800);
	assert_int_equal(xf.bytes_frames, l643 + l647 + l720 + l800);
	assert_int_equal(res.image_bytes, (uint64_t)(NPIECES - 739) * PSZ);
	assert_table_bound(NPIECES, NPIECES / GP);
	/* one write a whole group (16-31, 56) or copied piece (645, 700), then
	 * one a piece from the frames (643, 647, 720, 800-807):
	 * test_delta_kill's points */
	assert_int_equal(writes, 19 + 11);
	free_three(&t);
}

/* A byte of the booted slot changes after the scan (between the scan and
 * the copies): the pieces it touches are fetched, never copied. */
static void test_delta_corrupt_booted(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	pawl_install_source src;
	slot_result res;
	slot_ctx *s;

	make_three(&t);
	two_slots(f, &t);
	use_fake(f);
	rel = release_of(&t.v2);
	src = source_of(&ts);
	ts.corrupt_open = 2; /* the sums: after the scan */
	ts.corrupt_path = f->a;
	ts.corrupt_off = (uint64_t)300 * PSZ + 7;
	s = open_slots(f);
	t_ok(slot_install_source(s, &rel, &src, &xf, &res));
	slot_close(s);
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_slot_holds(f->b, t.v2.image, IMG_LEN);
	/* piece 645 (a copy of 300) and group 18 (which holds 300) */
	assert_int_equal(xf.seed_rejected, 17);
	assert_int_equal(xf.from_booted, 273 - 17);
	assert_int_equal(xf.in_place, 739);
	assert_int_equal(xf.fetched, 4 + 16);
	assert_int_equal(xf.from_target, 8 + 1);
	free_three(&t);
}

/* A booted slot corrupted before the update: its groups no longer match,
 * the sums say which pieces it still holds; the install succeeds. */
static void test_delta_corrupt_booted_before(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;
	int fd;
	uint8_t x = 0;

	make_three(&t);
	two_slots(f, &t);
	fd = open(f->a, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &x, 1, (off_t)((uint64_t)20 * GP * PSZ + 5 * PSZ + 9)), 1);
	close(fd);
	use_fake(f);
	rel = release_of(&t.v2);
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_slot_holds(f->b, t.v2.image, IMG_LEN);
	/* group 20 needs its sums now; 15 of its pieces come from the booted
	 * slot, the corrupted one from its frame */
	assert_int_equal(xf.bytes_sums, 5 * GP * 32);
	assert_int_equal(xf.from_booted, 273 - 16 + 15);
	assert_int_equal(xf.fetched, 5);
	free_three(&t);
}

/* A tampered frame: PAWL_E_HASH, and GRUB still boots the old slot. */
static void test_delta_tampered_frame(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;
	slot_state st;
	char path[PATH_MAX];
	uint64_t off, len;
	int fd;
	uint8_t x;

	make_three(&t);
	two_slots(f, &t);
	use_grub(f);
	frame_of(&t.v2, 800, &off, &len);
	repo_path(path, sizeof(path), t.v2.pack_name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &x, 1, (off_t)(off + len / 2)), 1);
	x ^= 1;
	assert_int_equal(pwrite(fd, &x, 1, (off_t)(off + len / 2)), 1);
	close(fd);
	rel = release_of(&t.v2);
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);
	assert_msg_has("compressed bytes do not match");
	/* the counts stay for the log: the copies were made, the frames asked */
	assert_int_equal(xf.streams, 3);
	assert_int_equal(xf.from_booted, 273);
	assert_true(xf.bytes_frames > 0);
	assert_int_equal(boot_once(f), 'a');
	t_ok(slot_state_read(f->state, &st));
	assert_int_equal(st.journal, BOOT_SLOT_NONE);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	free_three(&t);
}

/* A tampered sums group: PAWL_E_HASH before anything is written or the
 * bootloader touched. */
static void test_delta_tampered_sums(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;
	char path[PATH_MAX];
	int fd;
	uint8_t x;
	off_t at = (off_t)(43 * GP * 32 + 5);

	make_three(&t);
	two_slots(f, &t);
	use_fake(f);
	repo_path(path, sizeof(path), t.v2.sums_name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &x, 1, at), 1);
	x ^= 0x80;
	assert_int_equal(pwrite(fd, &x, 1, at), 1);
	close(fd);
	rel = release_of(&t.v2);
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);
	assert_msg_has("group 43");
	assert_int_equal(writes, 0);
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	assert_slot_holds(f->b, t.v0.image, IMG_LEN);
	free_three(&t);
}

/* Custom data, or the signed lengths, that disagree with the index:
 * refused after the index alone, before any write. */
static void test_delta_mismatch(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;
	char hex[65];

	make_three(&t);
	two_slots(f, &t);
	use_fake(f);

	rel = release_of(&t.v2);
	snprintf(hex, sizeof(hex), "%s", t.v2.image_hex);
	hex[0] = hex[0] == '0' ? '1' : '0';
	rel.image_sha256 = hex;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);
	assert_int_equal(ts.opens, 1);

	rel = release_of(&t.v2);
	rel.image_length = IMG_LEN - PSZ;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_LENGTH);
	assert_int_equal(ts.opens, 1);

	rel = release_of(&t.v2);
	rel.sums_name = t.v1.sums_name;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_FORMAT);
	assert_msg_has("its sums are");

	rel = release_of(&t.v2);
	rel.format = 1;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_FORMAT);

	rel = release_of(&t.v2);
	rel.pack_name = "os/9.9.9/image.pack"; /* not one of its packs */
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_FORMAT);

	/* a pack or the sums whose signed length is not the index's */
	rel = release_of(&t.v2);
	{
		pawl_install_source src = source_of(&ts);
		slot_ctx *s = open_slots(f);

		ts.lie_name = t.v1.pack_name;
		t_fails(slot_install_source(s, &rel, &src, &xf, &res), PAWL_E_LENGTH);
		src = source_of(&ts);
		ts.lie_name = t.v2.sums_name;
		t_fails(slot_install_source(s, &rel, &src, &xf, &res), PAWL_E_LENGTH);
		assert_int_equal(ts.opens, 1);
		slot_close(s);
	}
	/* the index itself, not its signed bytes */
	rel = release_of(&t.v2);
	rel.index_length = t.v2.idxlen - 1;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);
	rel = release_of(&t.v2);
	rel.index_hashes = pj_root(t.v1.idx_hashes);
	rel.index_length = t.v2.idxlen;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);

	assert_int_equal(writes, 0);
	assert_string_equal(boot_fake_log(f->boot), "get-state a\nget-state a\nget-state a\n"
				"get-state a\nget-state a\nget-state a\nget-state a\nget-state a\n"
				"get-state a\n");
	assert_slot_holds(f->b, t.v0.image, IMG_LEN);
	free_three(&t);
}

/* Release 3.0.0 of a random image (seed), with both slots holding
 * nothing of it (filled with 0x11 and 0x22). */
static void unrelated_release(struct fx *f, struct rel2 *r, uint32_t seed)
{
	uint8_t *img = malloc(IMG_LEN);

	assert_non_null(img);
	rng_state = seed;
	fill_random(img, IMG_LEN);
	build(r, "3.0.0", img, NULL); /* takes img */
	put_slot(f->a, NULL, 0, 0x11);
	put_slot(f->b, NULL, 0, 0x22);
}

/* A write the device lost, early in a full install (every piece from
 * frames, in image order, so that the read-back follows the writer and
 * reads that block while later ones still arrive): the read-back finds it,
 * and the bootloader never switches. */
static void test_delta_lost_write(void **state)
{
	struct fx *f = *state;
	struct rel2 r;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;

	unrelated_release(f, &r, 91);
	use_grub(f);
	rel = release_of(&r);
	lose_at = 3;
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);
	/* found by the read-back's check of one group, which it names */
	assert_msg_has("read back differs from the one written in bytes");
	assert_msg_has("(group ");
	assert_true(writes > 3);
	assert_int_equal(boot_once(f), 'a');
	free_rel2(&r); /* and img, which build() took */
}

/* Seeds unrelated to the image: the sample of sums finds nothing and no
 * more sums are fetched; every piece comes from frames. */
static void test_delta_unrelated(void **state)
{
	struct fx *f = *state;
	struct rel2 r;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;

	unrelated_release(f, &r, 77);
	use_fake(f);
	rel = release_of(&r);
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_slot_holds(f->b, r.image, IMG_LEN);
	/* the sample alone: an eighth of the 64 groups */
	assert_int_equal(xf.bytes_sums, 8 * GP * 32);
	assert_int_equal(xf.fetched, NPIECES);
	assert_int_equal(xf.in_place + xf.from_booted + xf.from_target, 0);
	assert_int_equal(xf.streams, 3);
	/* the whole pack, in one range */
	assert_int_equal(ts.nlog, 1 + 8 + 1);
	assert_int_equal(ts.log[9].off, 0);
	assert_int_equal(ts.log[9].len, repo_len(r.pack_name));
	assert_table_bound(NPIECES, NPIECES / GP);
	free_rel2(&r);
}

/* Installing the same image again: everything in place, nothing but the
 * index fetched. */
static void test_delta_all_in_place(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;

	make_three(&t);
	put_slot(f->a, t.v1.image, IMG_LEN, 0x11);
	put_slot(f->b, t.v2.image, IMG_LEN, 0x22);
	use_fake(f);
	rel = release_of(&t.v2);
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_int_equal(xf.in_place, NPIECES);
	assert_int_equal(ts.opens, 1);
	assert_int_equal(writes, 0);
	assert_slot_holds(f->b, t.v2.image, IMG_LEN);
	free_three(&t);
}

/* A piece of the target counted in place changes after the scan: it is
 * not written, so only the read-back can see it (which format 2 always
 * runs); the switch is refused. */
static void test_delta_inplace_changed(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	pawl_install_source src;
	slot_result res;
	slot_state st;
	slot_ctx *s;

	make_three(&t);
	two_slots(f, &t);
	use_grub(f);
	rel = release_of(&t.v2);
	src = source_of(&ts);
	ts.corrupt_open = 2; /* after the scan */
	ts.corrupt_path = f->b;
	ts.corrupt_off = (uint64_t)5 * GP * PSZ + 123; /* group 5: in place */
	{
		/* even with the read-back off in the options: nothing else
		 * proves the pieces in place */
		slot_opts o = SLOT_OPTS_INIT;

		o.state_dir = f->state;
		o.slot_a = f->a;
		o.slot_b = f->b;
		o.boot = f->boot;
		o.booted = BOOT_SLOT_A;
		o.skip_readback = true;
		t_ok(slot_open(&s, &o));
	}
	t_fails(slot_install_source(s, &rel, &src, &xf, &res), PAWL_E_HASH);
	assert_msg_has("read back");
	slot_close(s);
	assert_int_equal(boot_once(f), 'a');
	t_ok(slot_state_read(f->state, &st));
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	free_three(&t);
}

/* The booted slot's path names another file by the time it is read as a
 * seed (here one with the same bytes): it is no seed, everything it would
 * have given is fetched. */
static void test_delta_booted_swapped(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	pawl_install_source src;
	slot_result res;
	slot_ctx *s;
	char other[PATH_MAX + 8];

	make_three(&t);
	two_slots(f, &t);
	snprintf(other, sizeof(other), "%s.new", f->a);
	put_slot(other, t.v1.image, IMG_LEN, 0x11);
	use_fake(f);
	rel = release_of(&t.v2);
	src = source_of(&ts);
	ts.swap_open = 1;
	ts.swap_from = other;
	ts.swap_to = f->a;
	s = open_slots(f);
	t_ok(slot_install_source(s, &rel, &src, &xf, &res));
	slot_close(s);
	assert_slot_holds(f->b, t.v2.image, IMG_LEN);
	assert_int_equal(xf.from_booted, 0);
	assert_int_equal(xf.in_place + xf.from_target + xf.fetched, NPIECES);
	free_three(&t);
}

/* A stream longer than the ranges asked for is refused (here the index's,
 * before the parser or anything else). */
static void test_delta_stream_too_long(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	pawl_install_source src;
	slot_result res;
	slot_ctx *s;

	make_three(&t);
	two_slots(f, &t);
	use_fake(f);
	rel = release_of(&t.v2);
	for (unsigned k = 1; k <= 3; k++) {
		src = source_of(&ts);
		ts.extra_open = k; /* the index, the sums, the frames */
		s = open_slots(f);
		t_fails(slot_install_source(s, &rel, &src, &xf, &res), PAWL_E_LENGTH);
		assert_msg_has("more bytes than were asked for");
		slot_close(s);
		assert_int_equal(ts.opens, k);
	}
	/* nothing switched: b holds no version */
	{
		slot_state st;

		t_ok(slot_state_read(f->state, &st));
		assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	}
	free_three(&t);
}

/* The decisions come first, as in every install: an unconfirmed booted
 * slot, or a version already waiting, and the source is never opened. */
static void test_delta_decision_first(void **state)
{
	struct fx *f = *state;
	struct three t;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;

	make_three(&t);
	two_slots(f, &t);
	use_grub(f);
	rel = release_of(&t.v2);
	t_ok(boot_set_state(f->boot, BOOT_SLOT_A, BOOT_BAD));
	t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_POLICY);
	assert_msg_has("not confirmed");
	assert_int_equal(ts.opens, 0);
	t_ok(boot_set_state(f->boot, BOOT_SLOT_A, BOOT_GOOD));
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_int_equal(res.outcome, SLOT_ALREADY_PENDING);
	assert_int_equal(ts.opens, 0);
	assert_int_equal(xf.streams, 0);
	free_three(&t);
}

/* ---------------- kill -9 ---------------- */

static int install_killed(struct fx *f, const slot_source_release *rel, unsigned at)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct tsrc ts;
		pawl_install_source src = source_of(&ts);
		slot_result res;
		slot_ctx *s = NULL;
		slot_opts o = SLOT_OPTS_INIT;

		o.state_dir = f->state;
		o.slot_a = f->a;
		o.slot_b = f->b;
		o.boot = f->boot;
		o.booted = BOOT_SLOT_A;
		o.lock_timeout_s = 10;
		writes = 0;
		kill_at = at;
		if (slot_open(&s, &o) < 0)
			_exit(3);
		_exit(slot_install_source(s, rel, &src, NULL, &res) == 0 &&
			      res.outcome == SLOT_SWITCHED ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_delta_kill(void **state)
{
	struct fx *f = *state;
	struct three t;
	slot_source_release rel;
	slot_result res;
	slot_state st;
	slot_ctx *s;
	/* writes: copies first (groups 16-31 whole, 645, 700, group 56), then
	 * the frames' pieces (643, 647, 720, 800-807) */
	static const unsigned at[] = { 1, 8, 16, 17, 18, 19, 20, 21, 25, 30 };

	make_three(&t);
	two_slots(f, &t);
	use_grub(f);
	rel = release_of(&t.v2);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		int status;

		/* b as before the update, so that write at[i] is the same one
		 * every time (the last kill's leftovers are seeds too) */
		put_slot(f->b, t.v0.image, IMG_LEN, 0x22);
		status = install_killed(f, &rel, at[i]);
		if (!WIFSIGNALED(status))
			print_error("kill at %u: exit %d\n", at[i], WEXITSTATUS(status));

		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		assert_int_equal(boot_once(f), 'a');
		s = open_slots(f);
		t_ok(slot_mark_good(s, &res));
		slot_close(s);
		t_ok(slot_state_read(f->state, &st));
		assert_int_equal(st.journal, BOOT_SLOT_NONE);
		assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	}
	/* What the kills left in b is just another seed: the install completes. */
	assert_int_equal(install_killed(f, &rel, 0), 0);
	assert_slot_holds(f->b, t.v2.image, IMG_LEN);
	assert_int_equal(boot_once(f), 'b');
	free_three(&t);
}

/* ---------------- format 1 through the same call ---------------- */

static void test_format1(void **state)
{
	struct fx *f = *state;
	image_compressor *c = NULL;
	image_index *idx = NULL;
	pawl_buf pack = PAWL_BUF_INIT(64u << 20), ib = PAWL_BUF_INIT(64u << 20);
	uint8_t *img = malloc(IMG_LEN), d[HASH_MAX_LEN];
	char hex[65];
	pj_doc *h;
	uint16_t id;
	struct tsrc ts;
	pawl_install_transfer xf;
	slot_source_release rel;
	slot_result res;

	assert_non_null(img);
	rng_state = 5;
	fill_random(img, IMG_LEN);
	t_ok(image_compressor_new(&c, 3));
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, 65536));
	t_ok(image_index_add_pack(idx, "os/1.5.0/image.pack", &id));
	for (size_t off = 0; off < IMG_LEN; off += 65536) {
		size_t at = pack.len, clen;
		uint8_t cs[HASH_MAX_LEN], us[HASH_MAX_LEN];

		t_ok(buf_reserve(&pack, image_compress_bound(65536)));
		t_ok(image_compress(c, img + off, 65536, (uint8_t *)pack.data + at, pack.cap - at,
				    &clen));
		pack.len += clen;
		t_ok(hash_once(HASH_SHA256, pack.data + at, clen, cs));
		t_ok(hash_once(HASH_SHA256, img + off, 65536, us));
		t_ok(image_index_add_piece(idx, id, at, 65536, (uint32_t)clen, cs, us));
	}
	idx->length = IMG_LEN;
	idx->packs[0].length = pack.len;
	t_ok(hash_once(HASH_SHA256, img, IMG_LEN, d));
	memcpy(idx->sha256, d, 32);
	hex_encode(hex, d, 32);
	t_ok(image_index_write(idx, &ib));
	repo_put("os/1.5.0/image.idx", ib.data, ib.len);
	repo_put("os/1.5.0/image.pack", pack.data, pack.len);
	h = hashes_of(ib.data, ib.len);
	put_slot(f->a, NULL, 0, 0x11);
	put_slot(f->b, NULL, 0, 0x22);
	use_fake(f);
	memset(&rel, 0, sizeof(rel));
	rel.version = "1.5.0";
	rel.index_name = "os/1.5.0/image.idx";
	rel.index_length = ib.len;
	rel.index_hashes = pj_root(h);
	rel.image_length = IMG_LEN;
	rel.image_sha256 = hex;
	rel.pack_name = "os/1.5.0/image.pack";
	t_ok(install_src(f, &rel, &ts, &xf, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_slot_holds(f->b, img, IMG_LEN);
	assert_int_equal(xf.format, 1);
	assert_int_equal(xf.pieces, IMG_LEN / 65536);
	assert_int_equal(xf.fetched, IMG_LEN / 65536);
	assert_int_equal(xf.bytes_frames, pack.len);
	assert_int_equal(ts.opens, 2);
	assert_int_equal(ts.log[1].off, 0);
	assert_int_equal(ts.log[1].len, pack.len);
	assert_string_equal(boot_fake_log(f->boot), "get-state a\nset-state b bad\nset-primary b\n");

	/* a pack tampered: its piece fails, the old slot stays */
	{
		char path[PATH_MAX];
		int fd;
		uint8_t x = 0;

		repo_path(path, sizeof(path), "os/1.5.0/image.pack");
		fd = open(path, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, &x, 1, 100), 1);
		close(fd);
		rel.version = "1.6.0";
		put_slot(f->b, NULL, 0, 0x22);
		/* the same index, installed as another version */
		t_fails(install_src(f, &rel, &ts, &xf, &res), PAWL_E_HASH);
		{
			slot_state st;

			t_ok(slot_state_read(f->state, &st));
			assert_int_equal(st.journal, BOOT_SLOT_NONE);
			assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
		}
	}
	pj_doc_free(h);
	image_index_free(idx);
	image_compressor_free(c);
	buf_free(&ib);
	buf_free(&pack);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delta_counts_and_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_corrupt_booted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_corrupt_booted_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_tampered_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_tampered_sums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_unrelated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_lost_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_all_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_decision_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_inplace_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_booted_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_stream_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * delta.c - an image release from a pawl_install_source (delta.h): the
 * index whole, then format 1's pack whole, or format 2's reuse of the
 * seeds and the frames of the pieces they lack.
 *
 * Format 2, in the order of slot_install_image (slot.h):
 *   index    fetched whole, checked against its signed length and hashes
 *            before the parser sees it, matched with the release's custom
 *            data; the sums and every pack must be signed targets of the
 *            lengths the index says.
 *   prepare  (nothing written, the bootloader untouched)
 *            1. the seeds: the booted slot and the target slot, each read
 *               through a descriptor of its own (O_RDONLY|O_NOFOLLOW,
 *               identity checked against slot_open's), scanned on two
 *               threads: an 8-byte key (the sha256's first bytes) and the
 *               position of every piece up to the image's length, sorted
 *               by key; and the sha256 of every group, as the index
 *               computes it.
 *            2. groups: the target's group at the same position equal to
 *               the signed one: in place; a booted group anywhere equal
 *               to it: copied whole; the others need their sums.
 *            3. sums: a sample of an eighth of the needed groups (4 to 32)
 *               spread evenly, one stream; fewer than 10% of their pieces
 *               that are not all zeros found in the seeds: the seeds are
 *               unrelated, no more sums (every piece
 *               of a needed group comes from its frame); else the rest,
 *               one stream. Every group is checked against its signed
 *               hash before a sum of it is used; a group that fails stops
 *               the install (PAWL_E_HASH), before any write.
 *            4. the plan of every piece of a fetched group: in place (the
 *               target's key at its position), from the booted slot, from
 *               elsewhere in the target, or missing. Only the sums of the
 *               pieces to be copied are kept.
 *   write    (the target marked bad, the journal written)
 *            5. copies, in image order: read, sha256, compared with the
 *               signed sum (a whole group: the signed group hash over the
 *               sha256s of what was read) before the bytes are written; a
 *               mismatch, a short or failed read makes the piece missing
 *               (seed_rejected). A source inside the target is used only
 *               while its position has not been written in this update
 *               (a bitmap; writes go in image order, so any position past
 *               the current one is untouched).
 *            6. the missing pieces' frames, sorted by (pack, offset),
 *               touching ones merged into one range, all in one stream,
 *               through the image decoder over a sequential sub-index of
 *               just those frames (every frame's compressed sha256 checked
 *               before it is decompressed, its plain sha256 after); the
 *               sink writes each piece of a verified frame to every
 *               missing image piece that maps to it (a repeat).
 *   then slot_install_image fsyncs, reads the whole image back against the
 *   index's sha256 (always: nothing here hashed the whole image), switches.
 *
 * In-place pieces are not written: the read-back proves them.
 *
 * Memory: 12 bytes a piece a seed for the keys, 9 a piece for the plan, 32
 * for each piece to be copied whose sum was fetched, a bit a piece for the
 * written map; group hashes; buffers of 256 KiB a scanning thread and at
 * most 1 MiB for copies. The frames' buffers are the decoder's (image.h).
 * Measured with bench/delta_install on 192 MiB (49,152 pieces, 429 changed):
 * a peak of 2.1 MiB with both slots holding v1, 3.1 MiB when no group
 * matches and the sum of every piece is fetched and kept (the largest).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "image/image.h"
#include "metadata/metadata.h"
#include "slot/delta.h"
#include "util/buf.h"

#define IO_CHUNK ((size_t)1 << 16)
#define SCAN_BUF ((size_t)256 << 10)
#define COPY_GROUP_MAX ((size_t)1 << 20)
#define SAMPLE_GROUPS 32u
#define TARGET_PROBES 64u

static __thread uint64_t last_peak;

uint64_t slot_delta_peak_table_bytes(void)
{
	return last_peak;
}

/* ---------------- the job ---------------- */

struct key {
	uint64_t k;
	uint32_t pos;
} __attribute__((packed));

struct gkey {
	uint8_t h[32];
	uint32_t pos;
};

enum { SEED_BOOTED = 0, SEED_TARGET = 1 };

struct seed {
	const char *what;
	int fd;
	uint64_t limit;           /* bytes scanned: min(its size, the image) */
	uint32_t npieces;
	struct key *keys;         /* sorted by (k, pos) */
	uint8_t (*groups)[32];    /* by position */
	uint32_t ngroups;
	const image_index *idx;
	int err;                  /* the scan's, on its thread */
	bool live;                /* scanned and usable */
};

/* How one piece is planned. */
enum { P_MISSING = 0, P_INPLACE, P_BOOTED, P_TARGET };

struct plan {
	uint32_t src;  /* P_BOOTED: the booted position; P_TARGET: the run in keys */
	uint32_t sum;  /* into sums[] */
	uint8_t kind;
} __attribute__((packed));

/* How one group is planned. */
enum { G_NEED = 0, G_INPLACE, G_BOOTED, G_SUMS };

struct grp {
	uint32_t pos;  /* G_BOOTED: the booted group */
	uint8_t kind;
} __attribute__((packed));

struct job {
	const slot_source_release *rel;
	const pawl_install_source *src;
	pawl_install_transfer *xf;
	bool open;                  /* a stream of src is open */
	uint64_t pack_length;       /* format 1 */

	const image_index *idx;     /* format 2, from prepare on */
	struct seed seed[2];
	struct gkey *bgroups;       /* the booted slot's groups, sorted */
	uint32_t nbgroups;
	struct grp *grp;
	struct plan *plan;
	uint8_t (*sums)[32];
	uint32_t nsums, capsums;
	uint8_t *written;           /* a bit a piece: written in this update */
	uint8_t *buf;               /* copies */
	size_t bufcap;
	uint8_t (*gsum)[32];        /* one group's sums */
	uint8_t zero_sum[32];       /* the sha256 of a piece of zeros */
	uint64_t missing, filled;   /* pieces for the frames; written from them */
	uint32_t final_upto;        /* pieces below it are final: written or in place */
	uint64_t image_bytes;

	uint64_t cur, peak;         /* table bytes */
};

static void *tab_alloc(struct job *j, size_t n, size_t size)
{
	void *p = xcalloc(n ? n : 1, size);

	if (p) {
		j->cur += (uint64_t)(n ? n : 1) * size;
		if (j->cur > j->peak)
			j->peak = j->cur;
	}
	return p;
}

static void tab_free(struct job *j, void *p, size_t n, size_t size)
{
	if (!p)
		return;
	free(p);
	j->cur -= (uint64_t)(n ? n : 1) * size;
}

static uint64_t key_of(const uint8_t *d)
{
	uint64_t k;

	memcpy(&k, d, sizeof(k));
	return k;
}

/* ---------------- the source ---------------- */

struct saved {
	int code;
	char msg[1024];
};

static void save_err(struct saved *e, int code)
{
	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", pawl_error_last()->message);
}

static int restore_err(const struct saved *e)
{
	return pawl_error_set(e->code, "%s", e->msg);
}

static int target_len(struct job *j, const char *name, uint64_t *ret)
{
	uint64_t n = 0;

	GUARD(j->src->target_length(j->src->ctx, name, &n));
	*ret = n;
	return 0;
}

static int s_open(struct job *j, const pawl_install_range *r, size_t n)
{
	GUARD(j->src->open(j->src->ctx, r, n));
	j->open = true;
	j->xf->streams++;
	j->xf->ranges += n;
	return 0;
}

/* Exactly n bytes of the open stream. */
static int s_read(struct job *j, void *buf, size_t n, const char *what)
{
	uint8_t *p = buf;

	while (n > 0) {
		size_t got = 0;

		GUARD(j->src->read(j->src->ctx, p, n, &got));
		ENSURE(got <= n, PAWL_E_INVALID, "%s: the image source gave more than asked", what);
		ENSURE(got > 0, PAWL_E_LENGTH, "%s: the stream ended %zu bytes short", what, n);
		p += got;
		n -= got;
	}
	return 0;
}

static int src_read_fn(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct job *j = ctx;

	return j->src->read(j->src->ctx, buf, cap, ret_n);
}

/* End the open stream, which must end here when r is 0. A network failure
 * (close's error) explains a short stream better than the short stream. */
static int s_close(struct job *j, int r, const char *what)
{
	struct saved e;
	int c;

	if (!j->open)
		return r;
	if (r == 0) {
		uint8_t x;
		size_t got = 0;

		r = j->src->read(j->src->ctx, &x, 1, &got);
		if (r == 0 && got != 0)
			r = pawl_error_set(PAWL_E_LENGTH,
					   "%s: the stream carries more bytes than were asked for",
					   what);
	}
	if (r < 0)
		save_err(&e, r);
	j->open = false;
	c = j->src->close(j->src->ctx);
	if (r < 0 && !(c < 0 && r == PAWL_E_LENGTH))
		return restore_err(&e);
	return c < 0 ? c : 0;
}

/* ---------------- the index ---------------- */

static int fetch_index(struct job *j, image_index **ret)
{
	const slot_source_release *rel = j->rel;
	_cleanup_buf_ pawl_buf ib = PAWL_BUF_INIT((size_t)SLOT_INDEX_MAX);
	_cleanup_free_ uint8_t *chunk = NULL;
	pawl_install_range rg = { rel->index_name, 0, rel->index_length };
	md_hashset hs;
	int r = 0;

	ENSURE(rel->index_length > 0 && rel->index_length <= SLOT_INDEX_MAX, PAWL_E_LIMIT,
	       "image index of %s: signed length %" PRIu64 " is over the limit of %" PRIu64
	       " bytes",
	       rel->version, rel->index_length, SLOT_INDEX_MAX);
	chunk = xmalloc(IO_CHUNK);
	if (!chunk)
		return PAWL_E_NOMEM;
	GUARD(md_hashset_init(&hs, rel->index_hashes, "image index"));
	r = s_open(j, &rg, 1);
	if (r == 0)
		j->xf->bytes_index += rel->index_length;
	while (r == 0 && ib.len < rel->index_length) {
		size_t want = rel->index_length - ib.len;

		if (want > IO_CHUNK)
			want = IO_CHUNK;
		r = s_read(j, chunk, want, "image index");
		if (r == 0)
			r = md_hashset_update(&hs, chunk, want);
		if (r == 0)
			r = buf_append(&ib, chunk, want);
	}
	r = s_close(j, r, "image index");
	if (r < 0) {
		md_hashset_free(&hs);
		return r;
	}
	/* TUF 5.7.3: the signed length and hashes before the parser. */
	GUARD(md_hashset_final(&hs, "image index"));
	return image_index_parse(ret, ib.data, ib.len, NULL);
}

/* Format 2: the sums and every pack are signed targets of the lengths the
 * index says, and the sums are the ones the release names. */
static int check_v2(struct job *j, const image_index *idx)
{
	const slot_source_release *rel = j->rel;
	uint64_t n = 0;
	bool named = false;

	ENSURE(rel->sums_name && strcmp(rel->sums_name, idx->sums_name) == 0, PAWL_E_FORMAT,
	       "image index of %s: its sums are %s, the release's %s", rel->version,
	       idx->sums_name, rel->sums_name ? rel->sums_name : "(none)");
	GUARD(target_len(j, idx->sums_name, &n));
	ENSURE(n == (uint64_t)idx->image_pieces * 32, PAWL_E_LENGTH,
	       "image sums %s: the signed target has %" PRIu64 " bytes, the index's %" PRIu32
	       " pieces need %" PRIu64,
	       idx->sums_name, n, idx->image_pieces, (uint64_t)idx->image_pieces * 32);
	for (uint32_t i = 0; i < idx->npacks; i++) {
		GUARD(target_len(j, idx->packs[i].name, &n));
		ENSURE(n == idx->packs[i].length, PAWL_E_LENGTH,
		       "image pack %s: the signed target has %" PRIu64 " bytes, the index says %" PRIu64,
		       idx->packs[i].name, n, idx->packs[i].length);
		named = named || (rel->pack_name && strcmp(rel->pack_name, idx->packs[i].name) == 0);
	}
	ENSURE(!rel->pack_name || named, PAWL_E_FORMAT,
	       "image index of %s: the release's pack %s is not one of its packs", rel->version,
	       rel->pack_name);
	return 0;
}

static int src_index(void *ctx, image_index **ret)
{
	struct job *j = ctx;
	const slot_source_release *rel = j->rel;
	_cleanup_image_index_ image_index *idx = NULL;

	GUARD(fetch_index(j, &idx));
	GUARD(image_index_match(idx, rel->image_length, rel->image_sha256));
	ENSURE(rel->format == 0 || rel->format == idx->version, PAWL_E_FORMAT,
	       "image index of %s: format %u, the release says %" PRIu32, rel->version,
	       idx->version, rel->format);
	j->xf->format = idx->version;
	if (idx->version == IMAGE_INDEX_VERSION) {
		ENSURE(rel->pack_name, PAWL_E_FORMAT, "image release %s names no pack",
		       rel->version);
		GUARD(target_len(j, rel->pack_name, &j->pack_length));
		GUARD(image_index_check_pack(idx, 0, rel->pack_name, j->pack_length));
		j->xf->pieces = idx->npieces;
	} else {
		GUARD(check_v2(j, idx));
		j->xf->pieces = idx->image_pieces;
	}
	*ret = TAKE_PTR(idx);
	return 0;
}

/* ---------------- seeds ---------------- */

static int pread_full(int fd, uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pread(fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read at %" PRIu64, off);
		if (k == 0)
			return pawl_error_set(PAWL_E_IO, "ends at %" PRIu64, off);
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* A read descriptor of its own on a slot checked at slot_open: the same
 * file or device, and its size. */
static int seed_open(const char *path, const struct stat *id, int *ret_fd, uint64_t *ret_size)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t size;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s to read it", path);
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", path);
	ENSURE(st.st_dev == id->st_dev && st.st_ino == id->st_ino &&
		       (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)),
	       PAWL_E_POLICY, "%s changed since it was checked", path);
	if (S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (ioctl(fd, BLKGETSIZE64, &size) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read the size of %s", path);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot set up %s", path);
	*ret_fd = TAKE_FD(fd);
	*ret_size = size;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	uint64_t xk = x->k, yk = y->k;
	uint32_t xp = x->pos, yp = y->pos;

	if (xk != yk)
		return xk < yk ? -1 : 1;
	return xp < yp ? -1 : xp > yp;
}

static int gkey_cmp(const void *a, const void *b)
{
	const struct gkey *x = a, *y = b;
	int c = memcmp(x->h, y->h, 32);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Every piece's key and every group's hash; on the seed's own thread.
 * The seed is read with O_DIRECT where it can be (slot_pread_direct): a
 * whole slot passes through once, and through the page cache it would be
 * copied once more and then fill the cache (two slots: a device's memory,
 * twice over on small ones). A blank file-backed slot's holes come back
 * as zeros without filling pages either. */
static int scan(struct seed *sd)
{
	const image_index *idx = sd->idx;
	uint32_t psz = idx->piece_size, gp = idx->group_pieces, gi = 0, g = 0, piece = 0;
	size_t per = SCAN_BUF / psz ? SCAN_BUF / psz : 1, cap = per * psz;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ uint8_t(*gs)[32] = xcalloc(gp, 32);
	uint8_t zero_d[HASH_MAX_LEN];
	bool have_zero = false, direct;
	uint64_t off = 0;
	int flags = fcntl(sd->fd, F_GETFL), r = 0;

	/* cap is a multiple of psz, itself of SLOT_IO_ALIGN */
	if (posix_memalign((void **)&buf, SLOT_IO_ALIGN, cap) != 0)
		buf = NULL;
	if (!buf || !gs)
		return PAWL_E_NOMEM;
	direct = flags >= 0 && fcntl(sd->fd, F_SETFL, flags | O_DIRECT) == 0;
	while (off < sd->limit) {
		size_t want = sd->limit - off < cap ? (size_t)(sd->limit - off) : cap;

		r = slot_pread_direct(sd->fd, flags, &direct, false, buf, want, off, sd->what);
		if (r < 0)
			goto out;
		for (size_t at = 0; at < want; at += psz) {
			size_t n = want - at < psz ? want - at : psz;
			uint8_t d[HASH_MAX_LEN];

			if (n == psz && image2_is_zero(buf + at, n)) {
				if (!have_zero) {
					r = hash_once(HASH_SHA256, buf + at, n, zero_d);
					if (r < 0)
						goto out;
					have_zero = true;
				}
				memcpy(d, zero_d, 32);
			} else {
				r = hash_once(HASH_SHA256, buf + at, n, d);
				if (r < 0)
					goto out;
			}
			sd->keys[piece].k = key_of(d);
			sd->keys[piece].pos = piece;
			memcpy(gs[gi++], d, 32);
			piece++;
			if (gi == gp || piece == sd->npieces) {
				image2_group_hash((const uint8_t(*)[32])gs, gi, sd->groups[g++]);
				gi = 0;
			}
		}
		off += want;
	}
	qsort(sd->keys, sd->npieces, sizeof(struct key), key_cmp);
out:
	/* the copies read single pieces into unaligned buffers */
	if (direct)
		(void)fcntl(sd->fd, F_SETFL, flags);
	return r;
}

static void *scan_main(void *arg)
{
	struct seed *sd = arg;

	sd->err = scan(sd);
	return NULL;
}

/* The first entry with key k, or UINT32_MAX. */
static uint32_t find_key(const struct seed *sd, uint64_t k)
{
	uint32_t lo = 0, hi = sd->npieces;

	if (!sd->live)
		return UINT32_MAX;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (sd->keys[mid].k < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sd->npieces && sd->keys[lo].k == k ? lo : UINT32_MAX;
}

/* Is (k, pos) one of the seed's pieces? */
static bool has_key_at(const struct seed *sd, uint64_t k, uint32_t pos)
{
	uint32_t lo = 0, hi = sd->npieces;

	if (!sd->live)
		return false;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t mk = sd->keys[mid].k;
		uint32_t mp = sd->keys[mid].pos;

		if (mk < k || (mk == k && mp < pos))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sd->npieces && sd->keys[lo].k == k && sd->keys[lo].pos == pos;
}

static void seed_drop(struct job *j, struct seed *sd)
{
	tab_free(j, sd->keys, sd->npieces, sizeof(struct key));
	tab_free(j, sd->groups, sd->ngroups, 32);
	sd->keys = NULL;
	sd->groups = NULL;
	sd->live = false;
}

/* Open a seed and size its tables (on this thread, for the account); a
 * seed that cannot be opened is no seed. */
static int seed_setup(struct job *j, struct seed *sd, const char *what, const char *path,
		      const struct stat *id)
{
	const image_index *idx = j->idx;
	uint64_t size = 0;

	sd->what = what;
	sd->fd = -1;
	sd->idx = idx;
	if (seed_open(path, id, &sd->fd, &size) < 0) {
		pawl_error_clear();
		return 0;
	}
	sd->limit = size < idx->length ? size : idx->length;
	sd->npieces = (uint32_t)((sd->limit + idx->piece_size - 1) / idx->piece_size);
	sd->ngroups = (sd->npieces + idx->group_pieces - 1) / idx->group_pieces;
	if (sd->npieces == 0)
		return 0;
	sd->keys = tab_alloc(j, sd->npieces, sizeof(struct key));
	sd->groups = tab_alloc(j, sd->ngroups, 32);
	if (!sd->keys || !sd->groups) {
		seed_drop(j, sd);
		return PAWL_E_NOMEM;
	}
	sd->live = true;
	return 0;
}

static int scan_seeds(struct job *j, const slot_target *t)
{
	struct seed *b = &j->seed[SEED_BOOTED], *tg = &j->seed[SEED_TARGET];
	size_t per = SCAN_BUF / j->idx->piece_size ? SCAN_BUF / j->idx->piece_size : 1;
	uint64_t bufs = 2 * (per * j->idx->piece_size + (uint64_t)j->idx->group_pieces * 32);
	pthread_t th;
	bool threaded;

	GUARD(seed_setup(j, b, "booted slot", t->booted_path, &t->booted_id));
	GUARD(seed_setup(j, tg, "target slot", t->target_path, &t->target_id));
	/* the scanners' buffers, for the account */
	j->cur += bufs;
	if (j->cur > j->peak)
		j->peak = j->cur;
	threaded = b->live && pthread_create(&th, NULL, scan_main, b) == 0;
	if (tg->live)
		tg->err = scan(tg);
	if (threaded)
		pthread_join(th, NULL);
	else if (b->live)
		b->err = scan(b);
	j->cur -= bufs;
	/* A seed that cannot be read is no seed: everything it would have
	 * given is fetched. */
	for (int i = 0; i < 2; i++) {
		struct seed *sd = &j->seed[i];

		if (!sd->live || sd->err == 0)
			continue;
		if (sd->err == PAWL_E_NOMEM)
			return pawl_error_set(PAWL_E_NOMEM, "out of memory scanning the %s", sd->what);
		seed_drop(j, sd);
	}
	pawl_error_clear();
	if (b->live) {
		j->nbgroups = b->ngroups;
		j->bgroups = tab_alloc(j, j->nbgroups, sizeof(struct gkey));
		if (!j->bgroups)
			return PAWL_E_NOMEM;
		for (uint32_t g = 0; g < b->ngroups; g++) {
			memcpy(j->bgroups[g].h, b->groups[g], 32);
			j->bgroups[g].pos = g;
		}
		qsort(j->bgroups, j->nbgroups, sizeof(struct gkey), gkey_cmp);
	}
	return 0;
}

/* ---------------- groups, sums, plan ---------------- */

static uint64_t group_bytes(const image_index *idx, uint32_t g)
{
	uint64_t first = (uint64_t)g * idx->group_pieces * idx->piece_size;
	uint64_t n = (uint64_t)image2_group_len(idx, g) * idx->piece_size;

	return first + n > idx->length ? idx->length - first : n;
}

/* The lowest position of a booted group whose hash is h, or UINT32_MAX. */
static uint32_t find_bgroup(const struct job *j, const uint8_t h[32])
{
	uint32_t lo = 0, hi = j->nbgroups;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (memcmp(j->bgroups[mid].h, h, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < j->nbgroups && memcmp(j->bgroups[lo].h, h, 32) == 0 ? j->bgroups[lo].pos
									 : UINT32_MAX;
}

static int explain_groups(struct job *j)
{
	const image_index *idx = j->idx;
	const struct seed *tg = &j->seed[SEED_TARGET];

	j->grp = tab_alloc(j, idx->ngroups, sizeof(struct grp));
	if (!j->grp)
		return PAWL_E_NOMEM;
	for (uint32_t g = 0; g < idx->ngroups; g++) {
		uint32_t pos;

		if (tg->live && g < tg->ngroups && memcmp(tg->groups[g], idx->groups[g], 32) == 0) {
			j->grp[g].kind = G_INPLACE;
			continue;
		}
		/* a group copied whole must fit the copy buffer; larger ones
		 * need their sums */
		if (!j->bgroups || group_bytes(idx, g) > COPY_GROUP_MAX)
			continue;
		pos = find_bgroup(j, idx->groups[g]);
		if (pos != UINT32_MAX) {
			j->grp[g].kind = G_BOOTED;
			j->grp[g].pos = pos;
		}
	}
	return 0;
}

static int add_sum(struct job *j, const uint8_t sum[32], uint32_t *ret)
{
	if (j->nsums == j->capsums) {
		uint32_t cap = j->capsums ? j->capsums * 2 : 1024;
		uint8_t(*v)[32];

		if (cap > j->idx->image_pieces)
			cap = j->idx->image_pieces;
		v = xreallocarray(j->sums, cap, 32);
		if (!v)
			return PAWL_E_NOMEM;
		j->cur += (uint64_t)(cap - j->capsums) * 32;
		if (j->cur > j->peak)
			j->peak = j->cur;
		j->sums = v;
		j->capsums = cap;
	}
	memcpy(j->sums[j->nsums], sum, 32);
	*ret = j->nsums++;
	return 0;
}

/* The plan of group g's pieces from its verified sums; *found counts
 * those a seed holds and *evidence the pieces that are not all zeros
 * (any seed has zeros, and a frame of zeros costs almost nothing, so
 * they say nothing about whether the seeds are related). */
static int plan_group(struct job *j, uint32_t g, const uint8_t (*sums)[32], uint32_t n,
		      uint64_t *found, uint64_t *evidence)
{
	const struct seed *b = &j->seed[SEED_BOOTED], *tg = &j->seed[SEED_TARGET];
	uint32_t first = g * j->idx->group_pieces;

	j->grp[g].kind = G_SUMS;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = first + i, at;
		struct plan *pl = &j->plan[p];
		uint64_t k = key_of(sums[i]);

		if (has_key_at(tg, k, p)) {
			pl->kind = P_INPLACE;
		} else if ((at = find_key(b, k)) != UINT32_MAX) {
			pl->kind = P_BOOTED;
			pl->src = b->keys[at].pos;
		} else if ((at = find_key(tg, k)) != UINT32_MAX) {
			pl->kind = P_TARGET;
			pl->src = at;
		} else {
			pl->kind = P_MISSING;
			if (memcmp(sums[i], j->zero_sum, 32) != 0)
				(*evidence)++;
			continue;
		}
		if (memcmp(sums[i], j->zero_sum, 32) != 0) {
			(*found)++;
			(*evidence)++;
		}
		if (pl->kind != P_INPLACE) {
			uint32_t s = 0;

			GUARD(add_sum(j, sums[i], &s));
			pl->sum = s;
		}
	}
	return 0;
}

/* The sums of groups list[0..n) (ascending), one stream, each group
 * checked against its signed hash before its plan is made. */
static int fetch_groups(struct job *j, const uint32_t *list, uint32_t n, uint64_t *found,
			uint64_t *total)
{
	const image_index *idx = j->idx;
	_cleanup_free_ pawl_install_range *rg = NULL;
	size_t nr = 0;
	int r = 0;

	if (n == 0)
		return 0;
	rg = xcalloc(n, sizeof(*rg));
	if (!rg)
		return PAWL_E_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = (uint64_t)list[i] * idx->group_pieces * 32;
		uint64_t len = (uint64_t)image2_group_len(idx, list[i]) * 32;

		if (nr > 0 && rg[nr - 1].offset + rg[nr - 1].length == off) {
			rg[nr - 1].length += len;
			continue;
		}
		rg[nr].target = idx->sums_name;
		rg[nr].offset = off;
		rg[nr].length = len;
		nr++;
	}
	GUARD(s_open(j, rg, nr));
	for (uint32_t i = 0; i < n && r == 0; i++) {
		uint32_t cnt = image2_group_len(idx, list[i]);
		size_t len = (size_t)cnt * 32;

		r = s_read(j, j->gsum, len, idx->sums_name);
		if (r == 0) {
			j->xf->bytes_sums += len;
			r = image2_check_group(idx, list[i], (const uint8_t *)j->gsum, len);
		}
		if (r == 0)
			r = plan_group(j, list[i], (const uint8_t(*)[32])j->gsum, cnt, found, total);
	}
	return s_close(j, r, idx->sums_name);
}

static int fetch_sums(struct job *j)
{
	const image_index *idx = j->idx;
	_cleanup_free_ uint32_t *need = NULL, *sample = NULL, *rest = NULL;
	uint32_t nneed = 0, m, nrest = 0;
	uint64_t found = 0, total = 0;

	need = xcalloc(idx->ngroups, sizeof(uint32_t));
	if (!need)
		return PAWL_E_NOMEM;
	for (uint32_t g = 0; g < idx->ngroups; g++)
		if (j->grp[g].kind == G_NEED)
			need[nneed++] = g;
	if (nneed == 0)
		return 0;
	/* an eighth of the groups in need, 4 to SAMPLE_GROUPS of them */
	m = nneed / 8 < 4 ? 4 : nneed / 8 > SAMPLE_GROUPS ? SAMPLE_GROUPS : nneed / 8;
	if (m > nneed)
		m = nneed;
	sample = xcalloc(m, sizeof(uint32_t));
	rest = xcalloc(nneed, sizeof(uint32_t));
	if (!sample || !rest)
		return PAWL_E_NOMEM;
	/* spread evenly: distinct and ascending, since m <= nneed */
	for (uint32_t k = 0; k < m; k++)
		sample[k] = need[(uint32_t)(((uint64_t)k * nneed) / m)];
	for (uint32_t i = 0, k = 0; i < nneed; i++) {
		if (k < m && need[i] == sample[k]) {
			k++;
			continue;
		}
		rest[nrest++] = need[i];
	}
	GUARD(fetch_groups(j, sample, m, &found, &total));
	if (nrest == 0)
		return 0;
	/* Unrelated seeds: their sums would buy nothing. Fewer than one in
	 * ten of the sample's pieces that are not zeros found in a seed (and
	 * a sample of nothing but zeros) says so. */
	if (found * 10 < total || total == 0)
		return 0;
	return fetch_groups(j, rest, nrest, &found, &total);
}

static int src_prepare(void *ctx, const slot_target *t)
{
	struct job *j = ctx;
	const image_index *idx = t->idx;

	if (idx->version != IMAGE_INDEX_VERSION2)
		return 0;
	j->idx = idx;
	j->plan = tab_alloc(j, idx->image_pieces, sizeof(struct plan));
	j->gsum = tab_alloc(j, idx->group_pieces, 32);
	if (!j->plan || !j->gsum)
		return PAWL_E_NOMEM;
	GUARD(image2_zero_sum(idx, j->zero_sum));
	GUARD(scan_seeds(j, t));
	GUARD(explain_groups(j));
	GUARD(fetch_sums(j));
	/* The booted positions are in the plan now; its keys are done. */
	seed_drop(j, &j->seed[SEED_BOOTED]);
	tab_free(j, j->bgroups, j->nbgroups, sizeof(struct gkey));
	j->bgroups = NULL;
	return 0;
}

/* ---------------- copies ---------------- */

static bool is_written(const struct job *j, uint32_t p)
{
	return j->written[p / 8] & (1u << (p % 8));
}

static void set_written(struct job *j, uint32_t p)
{
	j->written[p / 8] |= (uint8_t)(1u << (p % 8));
}

/* Tell the read-back how far the image is final: every piece below is
 * written (each is written at most once) or in place (never written), so
 * the read-back may read it from the device while the rest still comes.
 * Called on the thread that writes. */
static void advance_final(struct job *j, const slot_target *t)
{
	const image_index *idx = j->idx;
	uint32_t p = j->final_upto;

	while (p < idx->image_pieces) {
		uint8_t gk = j->grp[p / idx->group_pieces].kind;

		if (!is_written(j, p) && gk != G_INPLACE &&
		    !(gk == G_SUMS && j->plan[p].kind == P_INPLACE))
			break;
		p++;
	}
	if (p != j->final_upto) {
		j->final_upto = p;
		image_slot_final_upto(t->w, (uint64_t)p >= idx->image_pieces ?
						    idx->length : (uint64_t)p * idx->piece_size);
	}
}

/* A target position holding the key of run `at` that this update has not
 * written yet (the writes so far are all at or before p), or UINT32_MAX. */
static uint32_t target_source(const struct job *j, uint32_t at, uint32_t p)
{
	const struct seed *tg = &j->seed[SEED_TARGET];
	uint64_t k = tg->keys[at].k;
	uint32_t end = at;

	while (end < tg->npieces && tg->keys[end].k == k)
		end++;
	for (uint32_t i = end, probes = 0; i > at && probes < TARGET_PROBES; i--, probes++) {
		uint32_t q = tg->keys[i - 1].pos;

		if (q != p && !is_written(j, q))
			return q;
	}
	return UINT32_MAX;
}

/* Copy one piece from sd at position q to image piece p if its bytes match
 * sum: 1 copied, 0 rejected (it is then fetched), negative: a write failed. */
static int copy_one(struct job *j, const slot_target *t, const struct seed *sd, uint32_t q,
		    uint32_t p, const uint8_t sum[32])
{
	const image_index *idx = j->idx;
	uint32_t len = image2_piece_len(idx, p);
	uint64_t from = (uint64_t)q * idx->piece_size;
	uint8_t d[HASH_MAX_LEN];

	if (from > sd->limit || len > sd->limit - from)
		return 0;
	if (pread_full(sd->fd, j->buf, len, from) < 0 ||
	    hash_once(HASH_SHA256, j->buf, len, d) < 0) {
		pawl_error_clear();
		return 0;
	}
	if (!digest_equal(d, sum, 32))
		return 0;
	GUARD(image_slot_write_at(t->w, (uint64_t)p * idx->piece_size, j->buf, len));
	set_written(j, p);
	j->image_bytes += len;
	return 1;
}

/* Copy group g whole from the booted slot's group at pos if the sha256s of
 * what was read hash to g's signed hash: 1, 0 rejected, negative. */
static int copy_group(struct job *j, const slot_target *t, uint32_t g, uint32_t pos)
{
	const image_index *idx = j->idx;
	const struct seed *b = &j->seed[SEED_BOOTED];
	uint32_t first = g * idx->group_pieces, n = image2_group_len(idx, g);
	uint64_t bytes = group_bytes(idx, g);
	uint64_t from = (uint64_t)pos * idx->group_pieces * idx->piece_size;
	uint8_t d[HASH_MAX_LEN], gh[32];

	if (from > b->limit || bytes > b->limit - from || bytes > j->bufcap)
		return 0;
	if (pread_full(b->fd, j->buf, (size_t)bytes, from) < 0) {
		pawl_error_clear();
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = image2_piece_len(idx, first + i);

		if (hash_once(HASH_SHA256, j->buf + (size_t)i * idx->piece_size, len, d) < 0) {
			pawl_error_clear();
			return 0;
		}
		memcpy(j->gsum[i], d, 32);
	}
	image2_group_hash((const uint8_t(*)[32])j->gsum, n, gh);
	if (!digest_equal(gh, idx->groups[g], 32))
		return 0;
	GUARD(image_slot_write_at(t->w, (uint64_t)first * idx->piece_size, j->buf,
				  (size_t)bytes));
	for (uint32_t i = 0; i < n; i++)
		set_written(j, first + i);
	j->image_bytes += bytes;
	return 1;
}

static int copy_pieces(struct job *j, const slot_target *t)
{
	const image_index *idx = j->idx;
	pawl_install_transfer *xf = j->xf;
	struct seed *b = &j->seed[SEED_BOOTED], *tg = &j->seed[SEED_TARGET];
	size_t cap = idx->piece_size;

	for (uint32_t g = 0; g < idx->ngroups; g++)
		if (j->grp[g].kind == G_BOOTED && group_bytes(idx, g) > cap)
			cap = (size_t)group_bytes(idx, g);
	j->written = tab_alloc(j, idx->image_pieces / 8 + 1, 1);
	j->buf = tab_alloc(j, cap, 1);
	j->bufcap = cap;
	if (!j->written || !j->buf)
		return PAWL_E_NOMEM;
	for (uint32_t g = 0; g < idx->ngroups; g++) {
		uint32_t first = g * idx->group_pieces, n = image2_group_len(idx, g);
		int r;

		if (g > 0)
			advance_final(j, t);
		if (j->grp[g].kind == G_INPLACE) {
			xf->in_place += n;
			continue;
		}
		if (j->grp[g].kind == G_BOOTED) {
			r = copy_group(j, t, g, j->grp[g].pos);
			GUARD(r);
			if (r == 1) {
				xf->from_booted += n;
			} else {
				/* which piece is bad is unknown: all come from frames */
				j->grp[g].kind = G_NEED;
				xf->seed_rejected += n;
				j->missing += n;
			}
			continue;
		}
		for (uint32_t p = first; p < first + n; p++) {
			struct plan *pl = &j->plan[p];
			uint32_t q;

			if (j->grp[g].kind == G_NEED || pl->kind == P_MISSING) {
				j->missing++;
				continue;
			}
			if (pl->kind == P_INPLACE) {
				xf->in_place++;
				continue;
			}
			if (pl->kind == P_BOOTED) {
				r = copy_one(j, t, b, pl->src, p, j->sums[pl->sum]);
				GUARD(r);
				if (r == 1) {
					xf->from_booted++;
					continue;
				}
				xf->seed_rejected++;
			} else {
				q = target_source(j, pl->src, p);
				r = q == UINT32_MAX ? 0 : copy_one(j, t, tg, q, p, j->sums[pl->sum]);
				GUARD(r);
				if (r == 1) {
					xf->from_target++;
					continue;
				}
				if (q != UINT32_MAX)
					xf->seed_rejected++;
			}
			pl->kind = P_MISSING;
			j->missing++;
		}
	}
	advance_final(j, t);
	return 0;
}

/* ---------------- frames ---------------- */

static bool is_missing(const struct job *j, uint32_t p)
{
	uint8_t gk = j->grp[p / j->idx->group_pieces].kind;

	return gk == G_NEED || (gk == G_SUMS && j->plan[p].kind == P_MISSING);
}

struct fx {
	uint32_t ord; /* the frame's place in the stream */
	uint32_t e;   /* an extent with a missing piece in it */
};

struct frames {
	struct job *j;
	const slot_target *t;
	const uint32_t *order; /* frames in stream order */
	uint32_t norder;
	struct fx *fx;
	uint32_t nfx, cur;
	uint8_t seen[IMAGE2_FRAME_MAX / IMAGE2_PIECE_DEFAULT / 8];
};

static int fx_cmp(const void *a, const void *b)
{
	const struct fx *x = a, *y = b;

	if (x->ord != y->ord)
		return x->ord < y->ord ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

static int frame_cmp(const void *a, const void *b, void *ctx)
{
	const image_index *idx = ctx;
	const image_piece *x = &idx->frames[*(const uint32_t *)a];
	const image_piece *y = &idx->frames[*(const uint32_t *)b];

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->pack_offset < y->pack_offset ? -1 : x->pack_offset > y->pack_offset;
}

/* The place of frame f in order (sorted by pack, offset). */
static uint32_t order_of(const image_index *idx, const uint32_t *order, uint32_t n, uint32_t f)
{
	const image_piece *want = &idx->frames[f];
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const image_piece *m = &idx->frames[order[mid]];

		if (m->pack < want->pack || (m->pack == want->pack && m->pack_offset < want->pack_offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Write the run of image pieces [first, first + count) from p (len bytes
 * in all) with one pwrite, then mark them written. A frame's extent maps
 * consecutive image pieces to consecutive frame pieces, so a full install
 * writes megabytes per call, not one 4 KiB piece (each write also starts
 * its writeback, and 4 KiB ones cost a device request each). */
static int write_run(struct frames *fr, uint32_t first, uint32_t count, const uint8_t *p,
		     size_t len)
{
	struct job *j = fr->j;

	if (count == 0)
		return 0;
	GUARD(image_slot_write_at(fr->t->w, (uint64_t)first * j->idx->piece_size, p, len));
	for (uint32_t i = 0; i < count; i++)
		set_written(j, first + i);
	j->image_bytes += len;
	j->filled += count;
	return 0;
}

/* The decoder's sink, on its writer thread: frame `piece` of the stream is
 * verified; its pieces go to every missing image piece mapping to them. */
static int frame_sink(void *ctx, uint32_t piece, uint64_t offset, const uint8_t *p, size_t n)
{
	struct frames *fr = ctx;
	struct job *j = fr->j;
	const image_index *idx = j->idx;

	(void)offset;
	memset(fr->seen, 0, sizeof(fr->seen));
	for (; fr->cur < fr->nfx && fr->fx[fr->cur].ord == piece; fr->cur++) {
		const image_extent *e = &idx->extents[fr->fx[fr->cur].e];
		uint32_t run = 0, rfirst = 0;
		uint64_t rat = 0, rlen = 0;

		for (uint32_t k = 0; k < e->count; k++) {
			uint32_t ip = e->first + k, fp = e->fpiece + k;
			uint64_t at = (uint64_t)fp * idx->piece_size;
			uint32_t len = image2_piece_len(idx, ip);

			if (!is_missing(j, ip)) {
				GUARD(write_run(fr, rfirst, run, p + rat, (size_t)rlen));
				run = 0;
				continue;
			}
			ENSURE(at <= n && len <= n - at, PAWL_E_FORMAT,
			       "image frame %" PRIu32 ": piece %" PRIu32 " lies outside its %zu bytes",
			       e->frame, fp, n);
			if (run == 0) {
				rfirst = ip;
				rat = at;
				rlen = 0;
			}
			run++;
			rlen += len;
			if (fp / 8 < sizeof(fr->seen) && !(fr->seen[fp / 8] & (1u << (fp % 8)))) {
				fr->seen[fp / 8] |= (uint8_t)(1u << (fp % 8));
				j->xf->fetched++;
			} else {
				j->xf->from_target++; /* a repeat of a piece just written */
			}
		}
		GUARD(write_run(fr, rfirst, run, p + rat, (size_t)rlen));
	}
	advance_final(j, fr->t);
	return 0;
}

static int fetch_frames(struct job *j, const slot_target *t)
{
	const image_index *idx = j->idx;
	_cleanup_free_ uint8_t *need = NULL;
	_cleanup_free_ uint32_t *order = NULL;
	_cleanup_free_ pawl_install_range *rg = NULL;
	_cleanup_free_ uint8_t *chunk = NULL;
	_cleanup_image_index_ image_index *sub = NULL;
	struct frames fr;
	image_decoder *d = NULL;
	uint32_t norder = 0, nfx = 0, maxu = IMAGE_PIECE_MIN;
	uint64_t cbytes = 0, ubytes = 0, got = 0;
	size_t nr = 0;
	uint16_t pk;
	int r;

	if (j->missing == 0)
		return 0;
	memset(&fr, 0, sizeof(fr));
	need = xcalloc(idx->nframes / 8 + 1, 1);
	if (!need)
		return PAWL_E_NOMEM;
	for (uint32_t e = 0; e < idx->nextents; e++) {
		const image_extent *x = &idx->extents[e];

		for (uint32_t k = 0; k < x->count; k++) {
			if (!is_missing(j, x->first + k))
				continue;
			if (!(need[x->frame / 8] & (1u << (x->frame % 8)))) {
				need[x->frame / 8] |= (uint8_t)(1u << (x->frame % 8));
				norder++;
			}
			nfx++;
			break;
		}
	}
	order = xcalloc(norder, sizeof(uint32_t));
	fr.fx = tab_alloc(j, nfx, sizeof(struct fx));
	rg = xcalloc(norder, sizeof(*rg));
	chunk = xmalloc(IO_CHUNK);
	if (!order || !fr.fx || !rg || !chunk)
		return PAWL_E_NOMEM;
	for (uint32_t f = 0, k = 0; f < idx->nframes; f++)
		if (need[f / 8] & (1u << (f % 8)))
			order[k++] = f;
	qsort_r(order, norder, sizeof(uint32_t), frame_cmp, (void *)idx);
	for (uint32_t e = 0, k = 0; e < idx->nextents; e++) {
		const image_extent *x = &idx->extents[e];

		for (uint32_t i = 0; i < x->count; i++) {
			if (is_missing(j, x->first + i)) {
				fr.fx[k].ord = order_of(idx, order, norder, x->frame);
				fr.fx[k].e = e;
				k++;
				break;
			}
		}
	}
	qsort(fr.fx, nfx, sizeof(struct fx), fx_cmp);

	/* The sub-index: the frames back to back, as the stream carries them. */
	for (uint32_t k = 0; k < norder; k++)
		if (idx->frames[order[k]].ulen > maxu)
			maxu = idx->frames[order[k]].ulen;
	GUARD(image_index_new(&sub, IMAGE_CHUNK_BOUNDED, maxu));
	GUARD(image_index_add_pack(sub, "frames", &pk));
	for (uint32_t k = 0; k < norder; k++) {
		const image_piece *f = &idx->frames[order[k]];

		GUARD(image_index_add_piece(sub, pk, cbytes, f->ulen, f->clen, f->csha, f->usha));
		cbytes += f->clen;
		ubytes += f->ulen;
		if (nr > 0 && rg[nr - 1].target == idx->packs[f->pack].name &&
		    rg[nr - 1].offset + rg[nr - 1].length == f->pack_offset) {
			rg[nr - 1].length += f->clen;
			continue;
		}
		rg[nr].target = idx->packs[f->pack].name;
		rg[nr].offset = f->pack_offset;
		rg[nr].length = f->clen;
		nr++;
	}
	sub->packs[0].length = cbytes;
	sub->length = ubytes;

	fr.j = j;
	fr.t = t;
	fr.order = order;
	fr.norder = norder;
	fr.nfx = nfx;
	/* The stream first: opening it may fork the fetcher, and a fork must
	 * not race the decoder's thread being created (a lock held by a
	 * starting thread stays held in the child forever). */
	r = s_open(j, rg, nr);
	if (r < 0) {
		tab_free(j, fr.fx, nfx, sizeof(struct fx));
		return r;
	}
	r = image_decoder_new(&d, sub, (image_sink){ frame_sink, &fr });
	if (r == 0)
		r = image_decoder_defer_image_hash(d);
	while (r == 0 && got < cbytes) {
		size_t want = cbytes - got < IO_CHUNK ? (size_t)(cbytes - got) : IO_CHUNK;

		r = s_read(j, chunk, want, "image frames");
		if (r == 0) {
			got += want;
			j->xf->bytes_frames += want;
			r = image_decoder_push(d, chunk, want);
		}
	}
	if (r == 0)
		r = image_decoder_finish(d);
	image_decoder_free(d); /* the sink is done when this returns */
	if (r < 0 && r != PAWL_E_NOMEM)
		/* the decoder numbers the frames as the stream carries them */
		r = pawl_error_prefix(r, "the %" PRIu32 " frames fetched (numbered by pack, then "
				      "offset): ", norder);
	r = s_close(j, r, "image frames");
	tab_free(j, fr.fx, nfx, sizeof(struct fx));
	GUARD(r);
	ENSURE(j->filled == j->missing, PAWL_E_LENGTH,
	       "image: %" PRIu64 " of the %" PRIu64 " pieces fetched were written", j->filled,
	       j->missing);
	return 0;
}

static int src_write(void *ctx, const slot_target *t, slot_result *res)
{
	struct job *j = ctx;
	int r;

	if (t->idx->version == IMAGE_INDEX_VERSION) {
		pawl_install_range rg = { j->rel->pack_name, 0, j->pack_length };

		GUARD(s_open(j, &rg, 1));
		j->xf->bytes_frames += j->pack_length;
		r = slot_write_pack(t, src_read_fn, j, j->rel->pack_name, j->pack_length, NULL, res);
		if (r == 0)
			j->xf->fetched = t->idx->npieces;
		r = s_close(j, r, "image pack");
	} else {
		r = copy_pieces(j, t);
		if (r == 0) {
			/* The copies are done: what only they needed goes before
			 * the frame decoder takes its buffers (peak memory). */
			seed_drop(j, &j->seed[SEED_TARGET]);
			tab_free(j, j->sums, j->capsums, 32);
			j->sums = NULL;
			j->nsums = j->capsums = 0;
			tab_free(j, j->buf, j->bufcap, 1);
			j->buf = NULL;
			j->bufcap = 0;
			r = fetch_frames(j, t);
		}
		res->image_bytes = j->image_bytes;
	}
	res->stream_bytes = j->xf->bytes_index + j->xf->bytes_sums + j->xf->bytes_frames;
	return r;
}

/* ---------------- the call ---------------- */

static void job_free(struct job *j)
{
	if (j->open) {
		struct saved e;

		save_err(&e, pawl_error_last()->code);
		(void)j->src->close(j->src->ctx);
		j->open = false;
		(void)restore_err(&e);
	}
	for (int i = 0; i < 2; i++) {
		seed_drop(j, &j->seed[i]);
		if (j->seed[i].fd >= 0)
			close(j->seed[i].fd);
	}
	free(j->bgroups);
	free(j->grp);
	free(j->plan);
	free(j->sums);
	free(j->written);
	free(j->buf);
	free(j->gsum);
}

int slot_install_source(slot_ctx *s, const slot_source_release *rel,
			const pawl_install_source *src, pawl_install_transfer *xfer,
			slot_result *ret)
{
	static const slot_image_ops ops = { src_index, src_prepare, src_write, true };
	pawl_install_transfer local;
	struct job j;
	int r;

	ENSURE(s && rel && src && ret, PAWL_E_INVALID, "slot_install_source: missing argument");
	ENSURE(rel->version && rel->index_name && rel->index_hashes && rel->image_sha256,
	       PAWL_E_INVALID, "slot_install_source: incomplete release");
	ENSURE(src->version == PAWL_INSTALL_SOURCE_VERSION && src->target_length && src->open &&
		       src->read && src->close,
	       PAWL_E_INVALID, "slot_install_source: an incomplete source (version %u)",
	       src->version);
	memset(&j, 0, sizeof(j));
	j.seed[0].fd = j.seed[1].fd = -1;
	j.rel = rel;
	j.src = src;
	j.xf = xfer ? xfer : &local;
	memset(j.xf, 0, sizeof(*j.xf));
	r = slot_install_image(s, rel->version, rel->recovery, &ops, &j, ret);
	last_peak = j.peak;
	job_free(&j);
	return r;
}

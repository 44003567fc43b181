/*
 * cmd_image2.c - `pawl-repo release ... --image --index-format 2`: publish
 * a file system image for delta updates (docs/image-format.md "Format 2",
 * /work design: delta-design.md "Publisher").
 *
 * The image is cut into pieces of --piece-size bytes (default 4 KiB, the
 * file system's block) and every piece is hashed (the sums). Each piece
 * then either points at a copy already published or is new:
 *
 *  1. it continues the extent of the piece before it (the next piece of
 *     the same frame holds the same bytes): the common case of an
 *     unchanged run of the base;
 *  2. its sha256 is that of a piece of the base (the highest earlier
 *     format 2 image release of APP, --base VERSION, or none with
 *     --no-base) or of an earlier piece of this version: it points at the
 *     first such copy. A block of zeros that is only repeated inside this
 *     version is the exception: pointing at its first copy would cost an
 *     extent (16 bytes) per block, inside a frame it costs next to
 *     nothing;
 *  3. otherwise it is new. New pieces, in image order, fill frames of
 *     at most --frame-size bytes (zstd level 19, one frame per thread at
 *     a time) in APP/VERSION/image.pack. A frame goes on across pieces
 *     that point elsewhere (delta-design.md said runs consecutive in the
 *     image; measured on the bench pairs, this makes the first version's
 *     pack 3% smaller (7.4% over zstd -19 of the whole image instead of
 *     10.7%) and pair 2's index 87 KB instead of 224 KB: 1619 small
 *     frames became 22).
 *
 * The image is read twice: once to hash and plan, once (only the new
 * pieces) to compress, when each piece is hashed again and compared with
 * the first reading, so an image that changes in between is refused.
 * Targets: image.pack (only when some frame is new), image.sums, and
 * image.idx with the release's custom data. The base's index and sums are
 * read from the workspace's store and checked against the workspace's own
 * targets metadata (length and every hash) before they are used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "repo.h"

#define THREADS_MAX 8
/* A release with a base holds only what changed, and a device decodes one
 * frame at a time: smaller frames keep its memory down (a 1 MiB frame and
 * its compressed bytes instead of 2 MiB: peak RSS on bench/delta_pairs.sh)
 * at little cost in bytes, since runs of new pieces are short anyway. A
 * first release keeps 2 MiB frames, for #18's bytes. */
#define DELTA_FRAME_DEFAULT (1u << 20)
#define NONE UINT32_MAX

/* ---------------- the base: a published format 2 release ---------------- */

/* The bytes of stored target path, checked against the workspace's own
 * targets metadata (the first role that lists it, in the order clients
 * walk). */
static int read_target(ws *w, const char *path, uint64_t max, uint8_t **ret, size_t *ret_len,
		       const pj_value **ret_custom)
{
	_cleanup_close_ int fd = -1;
	const pj_value *h256;
	md_target t = { 0 };
	bool found = false;
	char src[96];
	uint8_t *buf;
	size_t got = 0;
	int r;

	GUARD(ws_walk(w));
	for (size_t i = 0; i < w->nroles && !found; i++) {
		ws_role *role = w->roles[i];

		if (role->type != MD_TARGETS)
			continue;
		r = md_target_get(role->md, path, &t);
		if (r == 0)
			found = true;
		else if (r != PAWL_E_NOT_FOUND)
			return r;
		else
			pawl_error_clear();
	}
	ENSURE(found, PAWL_E_NOT_FOUND, "the base's %s is not a target of %s", path, w->path);
	ENSURE(t.length <= max, PAWL_E_LIMIT, "target %s has %" PRIu64 " bytes; at most %" PRIu64
	       " expected", path, t.length, max);
	h256 = pj_get(t.hashes, "sha256");
	ENSURE(pj_str(h256) && h256->len == 64, PAWL_E_FORMAT,
	       "target %s has no sha256 hash; pawl-repo stores content by sha256", path);
	snprintf(src, sizeof(src), "%.2s/%s", h256->u.s, h256->u.s);
	fd = openat(w->store_fd, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "target %s: content %s is missing from %s/targets",
					    path, src, w->path);
	buf = xmalloc((size_t)t.length + 1);
	if (!buf)
		return PAWL_E_NOMEM;
	while (got <= t.length) {
		ssize_t k = read(fd, buf + got, (size_t)t.length + 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k < 0) {
				free(buf);
				return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/targets/%s",
							    w->path, src);
			}
			break;
		}
		got += (size_t)k;
	}
	r = md_check_content(buf, got, true, t.length, t.hashes, path);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = got;
	if (ret_custom)
		*ret_custom = t.custom;
	return 0;
}

/* The "image" object of a target's signed custom data when it is a
 * format 2 release (the target is then its index), else NULL. */
static const pj_value *image2_of(const pj_member *m)
{
	const pj_value *custom = pj_get(&m->value, "custom");
	const pj_value *img = custom ? pj_get(custom, "image") : NULL;
	const pj_value *fmt = img ? pj_get(img, "format") : NULL;

	return pj_is_int(fmt) && fmt->u.i == 2 ? img : NULL;
}

static bool listed(const char *const *paths, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (path && strcmp(paths[i], path) == 0)
			return true;
	return false;
}

/* Why a removal would break a release that stays: the first pack another
 * release reads (needed), else the first part of a release (part). */
struct removal {
	bool needed, part;
	char msg[2][2 * TARGET_PATH_MAX + 256];
};

static void removal_needed(struct removal *rm, const char *pack, const char *idx)
{
	rm->needed = true;
	snprintf(rm->msg[0], sizeof(rm->msg[0]),
		 "%s is still needed: the image release %s reads pieces from it (a release "
		 "stores only the pieces no earlier one has); remove that release too, or keep "
		 "the pack", pack, idx);
}

static void removal_part(struct removal *rm, const char *target, const char *idx)
{
	if (rm->part)
		return;
	rm->part = true;
	snprintf(rm->msg[1], sizeof(rm->msg[1]),
		 "%s is part of the image release whose index is %s: remove them together, or "
		 "neither", target, idx);
}

int image2_check_removal(ws *w, const char *const *paths, size_t n)
{
	struct removal rm = { 0 };

	GUARD(ws_walk(w));
	for (size_t i = 0; i < w->nroles && !rm.needed; i++) {
		ws_role *role = w->roles[i];
		const pj_value *t = role->type == MD_TARGETS ? role->md->targets : NULL;

		for (size_t k = 0; t && k < t->len && !rm.needed; k++) {
			const pj_member *m = &t->u.members[k];
			const pj_value *img = image2_of(m);
			const char *sums = img ? pj_str(pj_get(img, "sums")) : NULL;
			const char *pack = img ? pj_str(pj_get(img, "pack")) : NULL;
			_cleanup_free_ uint8_t *bytes = NULL;
			image_index *idx = NULL;
			size_t len = 0;

			/* a format 2 release that stays: the target carrying it */
			if (!img || listed(paths, n, m->key))
				continue;
			if (listed(paths, n, sums))
				removal_part(&rm, sums, m->key);
			GUARD(read_target(w, m->key, UINT32_MAX, &bytes, &len, NULL));
			GUARD(image_index_parse(&idx, bytes, len, NULL));
			for (uint32_t p = 0; p < idx->npacks && !rm.needed; p++) {
				const char *name = idx->packs[p].name;

				if (!listed(paths, n, name))
					continue;
				if (pack && strcmp(name, pack) == 0)
					removal_part(&rm, name, m->key);
				else
					removal_needed(&rm, name, m->key);
			}
			image_index_free(idx);
		}
	}
	if (rm.needed || rm.part)
		return pawl_error_set(PAWL_E_POLICY, "%s", rm.msg[rm.needed ? 0 : 1]);
	return 0;
}

/* The highest format 2 image release of app below version (or exactly
 * want, when given) into ret (a VERSION); PAWL_E_NOT_FOUND when there is
 * none. */
static int find_base(ws *w, const char *app, const char *version, const char *want, char *ret,
		     size_t n)
{
	size_t alen = strlen(app);
	semver cur, best = { 0 };
	bool have = false;

	GUARD(semver_parse(version, &cur));
	GUARD(ws_walk(w));
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];
		const pj_value *t = r->type == MD_TARGETS ? r->md->targets : NULL;

		for (size_t k = 0; t && k < t->len; k++) {
			const pj_member *m = &t->u.members[k];
			const pj_value *img = image2_of(m);
			const char *v = img ? pj_str(pj_get(pj_get(&m->value, "custom"), "version")) :
					      NULL;
			char path[TARGET_PATH_MAX + 1];
			semver sv;

			if (!v || m->klen <= alen + 1 ||
			    memcmp(m->key, app, alen) != 0 || m->key[alen] != '/')
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s/image.idx", app, v) !=
				    m->klen ||
			    memcmp(path, m->key, m->klen) != 0 || semver_parse(v, &sv) < 0) {
				pawl_error_clear();
				continue;
			}
			if (want ? strcmp(v, want) != 0 : semver_cmp(&sv, &cur) >= 0)
				continue;
			if (!have || semver_cmp(&sv, &best) > 0) {
				best = sv;
				have = true;
				snprintf(ret, n, "%s", v);
			}
		}
	}
	if (!have && want)
		return pawl_error_set(PAWL_E_NOT_FOUND, "--base %s: %s/%s/image.idx is not a "
				      "format 2 image release in %s", want, app, want, w->path);
	if (!have)
		return PAWL_E_NOT_FOUND;
	return 0;
}

/* ---------------- the piece table ---------------- */

/* Frames of the plan: the base's (first) and this version's new ones. A
 * frame piece's content is known by the image piece it was seen at: in
 * the base (an index into base_sums) or in this image (into sums). */
struct gframe {
	bool is_new;
	uint32_t npieces;
	uint32_t *seen;       /* base frames: base image piece per frame piece, or NONE */
	uint32_t *pieces;     /* new frames: the image piece of each frame piece */
	uint32_t out;         /* its number in the new index, or NONE */
};

struct entry {
	uint8_t h[32];
	uint32_t frame, fpiece;
	bool used;
};

struct plan {
	uint32_t piece_size, frame_pieces;
	uint64_t length;
	uint32_t npieces;
	uint8_t (*sums)[32];
	struct { uint32_t frame, fpiece; } *map; /* per image piece */
	struct gframe *frames;
	uint32_t nframes, capframes, nbase, nnew;
	struct entry *table;
	size_t tablecap;
	/* the base */
	image_index *base;
	uint8_t *base_sums;
	size_t base_sums_len;
	uint8_t zero[32];
};

static void plan_free(struct plan *p)
{
	for (uint32_t i = 0; i < p->nframes; i++) {
		free(p->frames[i].seen);
		free(p->frames[i].pieces);
	}
	free(p->frames);
	free(p->sums);
	free(p->map);
	free(p->table);
	image_index_free(p->base);
	free(p->base_sums);
}

/* Image piece i's length. */
static uint32_t piece_len(const struct plan *p, uint32_t i)
{
	uint64_t at = (uint64_t)i * p->piece_size;

	return (uint32_t)(p->length - at < p->piece_size ? p->length - at : p->piece_size);
}

static const uint8_t *frame_piece_hash(const struct plan *p, uint32_t f, uint32_t k)
{
	const struct gframe *g = &p->frames[f];

	if (k >= g->npieces)
		return NULL;
	if (g->is_new)
		return p->sums[g->pieces[k]];
	if (g->seen[k] == NONE)
		return NULL;
	return p->base_sums + (size_t)g->seen[k] * 32;
}

static size_t slot_of(const struct plan *p, const uint8_t h[32])
{
	uint64_t v;

	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (p->tablecap - 1));
}

static struct entry *lookup(struct plan *p, const uint8_t h[32])
{
	for (size_t s = slot_of(p, h);; s = (s + 1) & (p->tablecap - 1)) {
		struct entry *e = &p->table[s];

		if (!e->used || memcmp(e->h, h, 32) == 0)
			return e;
	}
}

/* Remember the first copy of h. */
static void remember(struct plan *p, const uint8_t h[32], uint32_t f, uint32_t k)
{
	struct entry *e = lookup(p, h);

	if (e->used)
		return;
	memcpy(e->h, h, 32);
	e->frame = f;
	e->fpiece = k;
	e->used = true;
}

static int add_gframe(struct plan *p, struct gframe **ret)
{
	if (p->nframes == p->capframes) {
		uint32_t cap = p->capframes ? p->capframes * 2 : 64;
		struct gframe *v = xreallocarray(p->frames, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		p->frames = v;
		p->capframes = cap;
	}
	*ret = &p->frames[p->nframes++];
	memset(*ret, 0, sizeof(**ret));
	(*ret)->out = NONE;
	return 0;
}

/* The base's frames into the plan, every piece it shows into the table. */
static int plan_base(struct plan *p)
{
	const image_index *b = p->base;

	for (uint32_t f = 0; f < b->nframes; f++) {
		struct gframe *g;

		GUARD(add_gframe(p, &g));
		g->npieces = image2_frame_pieces(b, f);
		g->seen = xreallocarray(NULL, g->npieces, sizeof(uint32_t));
		if (!g->seen)
			return PAWL_E_NOMEM;
		for (uint32_t k = 0; k < g->npieces; k++)
			g->seen[k] = NONE;
	}
	p->nbase = p->nframes;
	for (uint32_t x = 0; x < b->nextents; x++) {
		const image_extent *e = &b->extents[x];

		for (uint32_t k = 0; k < e->count; k++) {
			uint32_t *s = &p->frames[e->frame].seen[e->fpiece + k];

			if (*s == NONE)
				*s = e->first + k;
			remember(p, p->base_sums + (size_t)(e->first + k) * 32, e->frame,
				 e->fpiece + k);
		}
	}
	/* Blocks of zeros are everywhere in a file system image: point them
	 * at the longest run of zeros inside one base frame, so that a long
	 * run in this image takes few extents (its first copy may be a lone
	 * block, and every piece after it a new extent). */
	{
		uint32_t best_f = NONE, best_k = 0, best_n = 0;

		for (uint32_t f = 0; f < p->nbase; f++) {
			uint32_t run = 0;

			for (uint32_t k = 0; k < p->frames[f].npieces; k++) {
				const uint8_t *h = frame_piece_hash(p, f, k);

				run = h && memcmp(h, p->zero, 32) == 0 ? run + 1 : 0;
				if (run > best_n) {
					best_n = run;
					best_f = f;
					best_k = k + 1 - run;
				}
			}
		}
		if (best_f != NONE) {
			struct entry *e = lookup(p, p->zero);

			e->frame = best_f;
			e->fpiece = best_k;
		}
	}
	return 0;
}

/* Where piece i goes (its hash already in sums[i]); open is the new frame
 * being filled, or NONE. */
static int plan_piece(struct plan *p, uint32_t i, uint32_t *open)
{
	const uint8_t *h = p->sums[i];
	struct entry *e;

	/* 1. the next piece of the frame the piece before came from (none
	 * yet when that is the new frame being filled) */
	if (i > 0) {
		uint32_t f = p->map[i - 1].frame, k = p->map[i - 1].fpiece + 1;
		const uint8_t *fh = frame_piece_hash(p, f, k);

		if (fh && memcmp(fh, h, 32) == 0) {
			p->map[i].frame = f;
			p->map[i].fpiece = k;
			return 0;
		}
	}
	/* 2. a copy published already or seen before in this image */
	e = lookup(p, h);
	if (e->used && !(p->frames[e->frame].is_new && memcmp(h, p->zero, 32) == 0)) {
		p->map[i].frame = e->frame;
		p->map[i].fpiece = e->fpiece;
		return 0;
	}
	/* 3. new: into the open frame while it has room. A frame takes the
	 * new pieces in image order, also across pieces that point
	 * elsewhere: a device that lacks one of them lacks the others too
	 * (they are this version's new bytes), and one frame of 2 MiB
	 * compresses better and costs one 82-byte record where the runs
	 * between unchanged pieces would cost one each. */
	if (*open == NONE || p->frames[*open].npieces >= p->frame_pieces) {
		struct gframe *g;

		GUARD(add_gframe(p, &g));
		g->is_new = true;
		g->pieces = xreallocarray(NULL, p->frame_pieces, sizeof(uint32_t));
		if (!g->pieces)
			return PAWL_E_NOMEM;
		*open = p->nframes - 1;
		p->nnew++;
	}
	p->frames[*open].pieces[p->frames[*open].npieces] = i;
	p->map[i].frame = *open;
	p->map[i].fpiece = p->frames[*open].npieces++;
	remember(p, h, *open, p->map[i].fpiece);
	return 0;
}

/* ---------------- compressing the new frames ---------------- */

struct job {
	image_compressor *c;
	uint8_t *in, *out;
	size_t n, cap, clen;
	uint8_t csha[HASH_MAX_LEN], usha[HASH_MAX_LEN];
	int rc;
	char err[512];
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	j->rc = image_compress(j->c, j->in, j->n, j->out, j->cap, &j->clen);
	if (j->rc == 0)
		j->rc = hash_once(HASH_SHA256, j->out, j->clen, j->csha);
	if (j->rc == 0)
		j->rc = hash_once(HASH_SHA256, j->in, j->n, j->usha);
	if (j->rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", pawl_error_last()->message);
	return NULL;
}

static int pread_full(int fd, uint8_t *p, size_t n, uint64_t off, const char *shown)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(fd, p + got, n - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", shown);
		if (k == 0)
			return pawl_error_set(PAWL_E_IO, "%s changed while it was read (it is "
					      "shorter now); release it again", shown);
		got += (size_t)k;
	}
	return 0;
}

struct newframe {
	uint64_t pack_offset;
	uint32_t ulen, clen;
	uint8_t csha[32], usha[32];
};

struct packer2 {
	ws *w;
	int in;
	const char *shown;
	int level;
	size_t nthreads;
	struct job *jobs;
	hash_ctx *h256, *h512;
	int pack_fd;
	char pack_tmp[64];
	uint64_t pack_len;
	digests pack_dg;
	struct newframe *nf; /* per new frame, in plan order */
};

static void packer2_free(struct packer2 *k)
{
	for (size_t i = 0; k->jobs && i < k->nthreads; i++) {
		image_compressor_free(k->jobs[i].c);
		free(k->jobs[i].in);
		free(k->jobs[i].out);
	}
	free(k->jobs);
	hash_free(k->h256);
	hash_free(k->h512);
	if (k->pack_fd >= 0)
		close(k->pack_fd);
	if (k->pack_tmp[0])
		content_tmp_discard(k->w, k->pack_tmp);
	free(k->nf);
}

/* Read, check against the sums, compress and append every new frame, a
 * batch of one frame per thread at a time. */
static int compress_frames(struct packer2 *k, struct plan *p)
{
	uint32_t *order = NULL, n = 0, done = 0;
	size_t fmax = (size_t)p->frame_pieces * p->piece_size;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int r = 0;

	k->nthreads = ncpu < 1 ? 1 : ncpu > THREADS_MAX ? THREADS_MAX : (size_t)ncpu;
	k->jobs = xcalloc(k->nthreads, sizeof(*k->jobs));
	k->nf = xcalloc(p->nnew ? p->nnew : 1, sizeof(*k->nf));
	order = xreallocarray(NULL, p->nnew ? p->nnew : 1, sizeof(uint32_t));
	if (!k->jobs || !k->nf || !order) {
		free(order);
		return PAWL_E_NOMEM;
	}
	for (uint32_t f = p->nbase; f < p->nframes; f++)
		order[n++] = f;
	for (size_t i = 0; i < k->nthreads; i++) {
		struct job *j = &k->jobs[i];

		GUARD_GOTO(r, image_compressor_new(&j->c, k->level), out);
		j->cap = image_compress_bound(fmax);
		j->in = xmalloc(fmax);
		j->out = xmalloc(j->cap);
		if (!j->in || !j->out) {
			r = PAWL_E_NOMEM;
			goto out;
		}
	}
	GUARD_GOTO(r, hash_new(&k->h256, HASH_SHA256), out);
	if (k->w->hash_sha512)
		GUARD_GOTO(r, hash_new(&k->h512, HASH_SHA512), out);
	GUARD_GOTO(r, content_tmp_create(k->w, k->pack_tmp, sizeof(k->pack_tmp), &k->pack_fd), out);
	while (done < n) {
		pthread_t tid[THREADS_MAX];
		bool started[THREADS_MAX] = { false };
		size_t nb = 0;

		for (; nb < k->nthreads && done + nb < n; nb++) {
			const struct gframe *g = &p->frames[order[done + nb]];
			struct job *j = &k->jobs[nb];
			j->n = 0;
			for (uint32_t q = 0; q < g->npieces; q++) {
				uint32_t piece = g->pieces[q], len = piece_len(p, piece);
				uint8_t d[HASH_MAX_LEN];

				GUARD_GOTO(r, pread_full(k->in, j->in + j->n, len,
							 (uint64_t)piece * p->piece_size, k->shown),
					   out);
				GUARD_GOTO(r, hash_once(HASH_SHA256, j->in + j->n, len, d), out);
				ENSURE_GOTO(r, memcmp(d, p->sums[piece], 32) == 0, PAWL_E_IO, out,
					    "%s changed while it was read (piece %" PRIu32 "); release "
					    "it again", k->shown, piece);
				j->n += len;
			}
		}
		for (size_t i = 0; i < nb; i++)
			started[i] = pthread_create(&tid[i], NULL, job_run, &k->jobs[i]) == 0;
		for (size_t i = 0; i < nb; i++) {
			if (started[i])
				pthread_join(tid[i], NULL);
			else
				job_run(&k->jobs[i]);
		}
		for (size_t i = 0; i < nb; i++) {
			struct job *j = &k->jobs[i];
			struct newframe *nf = &k->nf[done + i];

			if (j->rc < 0) {
				r = pawl_error_set(j->rc, "%s", j->err);
				goto out;
			}
			GUARD_GOTO(r, io_write_all(k->pack_fd, j->out, j->clen, "the image pack"), out);
			GUARD_GOTO(r, hash_update(k->h256, j->out, j->clen), out);
			if (k->h512)
				GUARD_GOTO(r, hash_update(k->h512, j->out, j->clen), out);
			nf->pack_offset = k->pack_len;
			nf->ulen = (uint32_t)j->n;
			nf->clen = (uint32_t)j->clen;
			memcpy(nf->csha, j->csha, 32);
			memcpy(nf->usha, j->usha, 32);
			k->pack_len += j->clen;
		}
		done += (uint32_t)nb;
	}
	{
		uint8_t d[HASH_MAX_LEN];

		GUARD_GOTO(r, hash_final(k->h256, d), out);
		hex_encode(k->pack_dg.sha256, d, 32);
		if (k->h512) {
			GUARD_GOTO(r, hash_final(k->h512, d), out);
			hex_encode(k->pack_dg.sha512, d, 64);
			k->pack_dg.has512 = true;
		}
	}
	if (close(k->pack_fd) != 0) {
		k->pack_fd = -1;
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot write the image pack");
		goto out;
	}
	k->pack_fd = -1;
out:
	free(order);
	return r;
}

/* ---------------- planning: one reading of the image ---------------- */

static int load_base(struct plan *p, ws *w, const char *app, const char *bver, bool explicit)
{
	char path[TARGET_PATH_MAX + 1];
	_cleanup_free_ uint8_t *bytes = NULL;
	size_t n = 0;
	image_index *b = NULL;

	snprintf(path, sizeof(path), "%s/%s/image.idx", app, bver);
	GUARD(read_target(w, path, UINT32_MAX, &bytes, &n, NULL));
	GUARD(image_index_parse(&b, bytes, n, NULL));
	p->base = b;
	if (b->version != IMAGE_INDEX_VERSION2)
		return pawl_error_set(PAWL_E_FORMAT, "base %s: %s is not a format 2 index", bver,
				      path);
	if (b->piece_size != p->piece_size) {
		if (explicit)
			return pawl_error_set(PAWL_E_INVALID, "--base %s has pieces of %" PRIu32
					      " bytes, this release %" PRIu32 "; give the same "
					      "--piece-size", bver, b->piece_size, p->piece_size);
		warning("%s %s has pieces of %" PRIu32 " bytes, this release %" PRIu32 ": "
			"published without a base", app, bver, b->piece_size, p->piece_size);
		image_index_free(p->base);
		p->base = NULL;
		return 0;
	}
	GUARD(read_target(w, b->sums_name, (uint64_t)b->image_pieces * 32, &p->base_sums,
			  &p->base_sums_len, NULL));
	ENSURE(p->base_sums_len == (size_t)b->image_pieces * 32, PAWL_E_LENGTH,
	       "base %s: %s has %zu bytes, its index needs %zu", bver, b->sums_name,
	       p->base_sums_len, (size_t)b->image_pieces * 32);
	for (uint32_t g = 0; g < b->ngroups; g++)
		GUARD(image2_check_group(b, g, p->base_sums + (size_t)g * b->group_pieces * 32,
					 (size_t)image2_group_len(b, g) * 32));
	return 0;
}

static int plan_image(struct plan *p, int in, const char *shown, uint8_t image_sha[32])
{
	size_t bufsz = ((size_t)(1u << 20) / p->piece_size) * p->piece_size;
	_cleanup_free_ uint8_t *buf = xmalloc(bufsz);
	hash_ctx *h = NULL;
	uint64_t pos = 0;
	uint32_t open = NONE, i = 0;
	uint8_t d[HASH_MAX_LEN];
	size_t cap = 2;
	int r;

	if (!buf)
		return PAWL_E_NOMEM;
	p->npieces = (uint32_t)((p->length + p->piece_size - 1) / p->piece_size);
	p->sums = xcalloc(p->npieces, 32);
	p->map = xcalloc(p->npieces, sizeof(*p->map));
	while (cap < 2 * ((size_t)p->npieces + (p->base ? p->base->image_pieces : 0)))
		cap *= 2;
	p->tablecap = cap;
	p->table = xcalloc(cap, sizeof(*p->table));
	if (!p->sums || !p->map || !p->table)
		return PAWL_E_NOMEM;
	{
		uint8_t *z = xcalloc(1, p->piece_size);

		if (!z)
			return PAWL_E_NOMEM;
		r = hash_once(HASH_SHA256, z, p->piece_size, d);
		free(z);
		GUARD(r);
		memcpy(p->zero, d, 32);
	}
	if (p->base)
		GUARD(plan_base(p));
	GUARD(hash_new(&h, HASH_SHA256));
	while (pos < p->length) {
		size_t want = p->length - pos < bufsz ? (size_t)(p->length - pos) : bufsz;

		r = pread_full(in, buf, want, pos, shown);
		if (r == 0)
			r = hash_update(h, buf, want);
		for (size_t at = 0; r == 0 && at < want; at += p->piece_size, i++) {
			r = hash_once(HASH_SHA256, buf + at, piece_len(p, i), d);
			if (r == 0) {
				memcpy(p->sums[i], d, 32);
				r = plan_piece(p, i, &open);
			}
		}
		if (r < 0) {
			hash_free(h);
			return r;
		}
		pos += want;
	}
	r = hash_final(h, d);
	hash_free(h);
	GUARD(r);
	memcpy(image_sha, d, 32);
	return 0;
}

/* ---------------- the index ---------------- */

static int build_index(image_index **ret, struct plan *p, const struct packer2 *k,
		       const char *pack_path, const char *sums_path, const uint8_t sha[32])
{
	_cleanup_image_index_ image_index *idx = NULL;
	uint16_t new_pack = 0, pack_of[IMAGE_PACKS_MAX] = { 0 };
	bool *pack_used = NULL;
	uint32_t newi = 0;

	GUARD(image_index2_new(&idx, p->piece_size, IMAGE2_GROUP_DEFAULT, p->length));
	if (p->nnew > 0)
		GUARD(image_index_add_pack(idx, pack_path, &new_pack));
	/* Which frames are used, and so which of the base's packs. */
	for (uint32_t i = 0; i < p->npieces; i++)
		p->frames[p->map[i].frame].out = 0;
	if (p->base) {
		pack_used = xcalloc(p->base->npacks, sizeof(bool));
		if (!pack_used)
			return PAWL_E_NOMEM;
		for (uint32_t f = 0; f < p->nbase; f++)
			if (p->frames[f].out != NONE)
				pack_used[p->base->frames[f].pack] = true;
		for (uint32_t q = 0; q < p->base->npacks; q++) {
			int r = 0;

			if (pack_used[q])
				r = image_index_add_pack(idx, p->base->packs[q].name, &pack_of[q]);
			if (r < 0) {
				free(pack_used);
				return r;
			}
			if (pack_used[q])
				idx->packs[pack_of[q]].length = p->base->packs[q].length;
		}
		free(pack_used);
	}
	for (uint32_t f = 0; f < p->nframes; f++) {
		struct gframe *g = &p->frames[f];

		if (g->is_new) {
			const struct newframe *x = &k->nf[newi++];

			GUARD(image_index2_add_frame(idx, new_pack, x->pack_offset, x->ulen, x->clen,
						     x->csha, x->usha, &g->out));
		} else if (g->out != NONE) {
			const image_piece *b = &p->base->frames[f];

			GUARD(image_index2_add_frame(idx, pack_of[b->pack], b->pack_offset, b->ulen,
						     b->clen, b->csha, b->usha, &g->out));
		}
	}
	for (uint32_t i = 0; i < p->npieces; i++)
		GUARD(image_index2_add_extent(idx, i, 1, p->frames[p->map[i].frame].out,
					      p->map[i].fpiece));
	GUARD(image_index2_set_sums(idx, sums_path, (const uint8_t(*)[32])p->sums));
	memcpy(idx->sha256, sha, 32);
	if (p->nnew > 0)
		idx->packs[new_pack].length = k->pack_len;
	GUARD(image_index_check(idx, NULL));
	*ret = TAKE_PTR(idx);
	return 0;
}

static int release_custom2(pj_doc **ret, const char *version, bool recovery, const char *idx_path,
			   const char *sums_path, const char *pack_path, const image_index *idx)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pj_value *root, *img, *v;
	char hex[65];

	GUARD(pj_doc_new(&doc));
	root = pj_root(doc);
	GUARD(pj_set_object(doc, root));
	GUARD(pj_obj_put_str(doc, root, "version", version));
	if (recovery) {
		GUARD(pj_obj_put(doc, root, "recovery", 8, &v));
		pj_set_bool(v, true);
	}
	GUARD(pj_obj_put(doc, root, "image", 5, &img));
	GUARD(pj_set_object(doc, img));
	GUARD(pj_obj_put_int(doc, img, "format", 2));
	GUARD(pj_obj_put_str(doc, img, "index", idx_path));
	GUARD(pj_obj_put_str(doc, img, "sums", sums_path));
	if (pack_path)
		GUARD(pj_obj_put_str(doc, img, "pack", pack_path));
	GUARD(pj_obj_put_int(doc, img, "length", (int64_t)idx->length));
	hex_encode(hex, idx->sha256, 32);
	GUARD(pj_obj_put_str(doc, img, "sha256", hex));
	*ret = TAKE_PTR(doc);
	return 0;
}

int release_image2(ws *w, int in, const struct stat *st, const char *shown, const char *app,
		   const char *version, bool recovery, const image2_opts *o, strv *keys)
{
	char pack_path[TARGET_PATH_MAX + 1], idx_path[TARGET_PATH_MAX + 1],
		sums_path[TARGET_PATH_MAX + 1], bver[SEMVER_MAX_LEN + 1] = "";
	struct plan p = { 0 };
	struct packer2 k = { .w = w, .in = in, .shown = shown, .level = o->level, .pack_fd = -1 };
	_cleanup_image_index_ image_index *idx = NULL;
	_cleanup_pj_doc_ pj_doc *custom = NULL;
	pawl_buf idxbytes = PAWL_BUF_INIT((size_t)1 << 30);
	uint8_t sha[32];
	stored_target t[3];
	size_t nt = 0;
	uint32_t reused = 0;
	struct stat after;
	bool same = false;
	int r;

	snprintf(pack_path, sizeof(pack_path), "%s/%s/image.pack", app, version);
	snprintf(idx_path, sizeof(idx_path), "%s/%s/image.idx", app, version);
	if ((size_t)snprintf(sums_path, sizeof(sums_path), "%s/%s/image.sums", app, version) >=
	    sizeof(sums_path))
		return pawl_error_set(PAWL_E_INVALID, "APP or VERSION is too long");
	p.piece_size = o->piece_size;
	p.frame_pieces = o->frame_size / o->piece_size;
	p.length = (uint64_t)st->st_size;
	if (!o->no_base) {
		r = find_base(w, app, version, o->base, bver, sizeof(bver));
		if (r == PAWL_E_NOT_FOUND && !o->base) {
			pawl_error_clear();
			bver[0] = '\0';
		} else if (r < 0) {
			return r;
		}
	}
	if (bver[0])
		GUARD_GOTO(r, load_base(&p, w, app, bver, o->base != NULL), out);
	if (bver[0] && !o->frame_given && o->frame_size > DELTA_FRAME_DEFAULT &&
	    DELTA_FRAME_DEFAULT % p.piece_size == 0)
		p.frame_pieces = DELTA_FRAME_DEFAULT / p.piece_size;
	GUARD_GOTO(r, plan_image(&p, in, shown, sha), out);
	GUARD_GOTO(r, compress_frames(&k, &p), out);
	ENSURE_GOTO(r, fstat(in, &after) == 0 && after.st_size == st->st_size &&
			       after.st_mtim.tv_sec == st->st_mtim.tv_sec &&
			       after.st_mtim.tv_nsec == st->st_mtim.tv_nsec,
		    PAWL_E_IO, out, "%s changed while it was read; release it again", shown);
	GUARD_GOTO(r, build_index(&idx, &p, &k, pack_path, sums_path, sha), out);
	GUARD_GOTO(r, image_check_immutable(w, app, version, idx, recovery, &same), out);
	if (same) {
		info("%s %s is already released with this very image: nothing changed", app,
		     version);
		goto out;
	}
	if (p.nnew > 0) {
		GUARD_GOTO(r, content_tmp_commit(w, k.pack_tmp, k.pack_len, &k.pack_dg), out);
		k.pack_tmp[0] = '\0';
		t[nt++] = (stored_target){ pack_path, k.pack_len, k.pack_dg, NULL };
	}
	t[nt].path = sums_path;
	t[nt].length = (uint64_t)p.npieces * 32;
	t[nt].custom = NULL;
	GUARD_GOTO(r, image_store_bytes(w, p.sums, (size_t)p.npieces * 32, &t[nt].dg), out);
	nt++;
	GUARD_GOTO(r, image_index_write(idx, &idxbytes), out);
	GUARD_GOTO(r, image_store_bytes(w, idxbytes.data, idxbytes.len, &t[nt].dg), out);
	GUARD_GOTO(r, release_custom2(&custom, version, recovery, idx_path, sums_path,
				      p.nnew > 0 ? pack_path : NULL, idx), out);
	t[nt].path = idx_path;
	t[nt].length = idxbytes.len;
	t[nt].custom = pj_root(custom);
	nt++;
	GUARD_GOTO(r, add_stored(w, t, nt, keys), out);
	for (uint32_t i = 0; i < p.npieces; i++)
		reused += !p.frames[p.map[i].frame].is_new;
	info("image %s: %" PRIu64 " bytes in %" PRIu32 " pieces of %" PRIu32 " KiB; base %s "
	     "(%" PRIu32 " pieces reused); %" PRIu32 " new frames, pack %" PRIu64 " bytes; "
	     "index %zu bytes (%" PRIu32 " frames, %" PRIu32 " extents); sums %zu bytes%s",
	     shown, p.length, p.npieces, p.piece_size / 1024, bver[0] ? bver : "none", reused,
	     p.nnew, k.pack_len, idxbytes.len, idx->nframes, idx->nextents,
	     (size_t)p.npieces * 32, recovery ? "; a recovery release" : "");
out:
	packer2_free(&k);
	plan_free(&p);
	buf_free(&idxbytes);
	return r;
}

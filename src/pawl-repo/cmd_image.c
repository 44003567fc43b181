/*
 * cmd_image.c - `pawl-repo release REPO APP VERSION IMAGE --image
 * [--recovery] [--key KEY ...] [--piece-size SIZE] [--level N]
 * [--index-format 1|2] [--frame-size SIZE] [--base VERSION | --no-base]`:
 * publish a file system image as a slot image release
 * (docs/image-format.md). This file is format 1 and the command line;
 * format 2 (delta updates) is cmd_image2.c.
 *
 * The image is read once, in pieces of SIZE bytes. Each piece is
 * compressed on its own into one zstd frame (on as many threads as there
 * are processors, a batch of one piece per thread at a time, so memory
 * stays at two piece buffers per thread), and the frames are appended in
 * order to a pack written straight into the workspace's store while it is
 * hashed. The index lists every piece's lengths, pack offset and the
 * sha256 of its compressed and uncompressed bytes. Both become targets:
 *
 *   APP/VERSION/image.pack   the pack (a valid .zst file: zstd -d gives
 *                            the image back)
 *   APP/VERSION/image.idx    the index, carrying the release's custom data
 *                            {"version": VERSION, ["recovery": true,]
 *                             "image": {"index": ..., "pack": ...,
 *                                       "length": N, "sha256": HEX}}
 *
 * The pack itself has no custom data, so an agent looking for releases
 * sees one release per version: the index.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "repo.h"

/* Chosen by measurement (docs/image-format.md, "Piece size"): on a
 * 256 MiB ext4 image of real files, 2 MiB pieces at level 19 come within
 * 8% of zstd -19 of the whole image, 1 MiB pieces 12% over. */
#define PIECE_DEFAULT (2u << 20)
#define THREADS_MAX 8
/* Format 2 (delta updates, #19) since the agent installs it; format 1 stays
 * for devices whose agent predates it. */
#define INDEX_FORMAT_DEFAULT 2

static const char usage_image[] =
	"usage: pawl-repo release REPO APP VERSION IMAGE --image [--recovery] [--key KEY ...]\n"
	"                 [--piece-size SIZE] [--frame-size SIZE] [--level N]\n"
	"                 [--base VERSION | --no-base] [--index-format 2|1]\n"
	"\n"
	"Publish IMAGE, a file system image (a regular file), as slot image release\n"
	"VERSION of APP, for full and delta updates. It is cut into pieces of SIZE bytes\n"
	"(default 4K, the file system's block; 4K to 64K, a multiple of 4K) and published\n"
	"as up to three targets: APP/VERSION/image.sums (the sha256 of every piece),\n"
	"APP/VERSION/image.idx (the index, with the release's custom data: version,\n"
	"recovery, image {format, index, sums, pack, length, sha256}) and\n"
	"APP/VERSION/image.pack, which holds only the pieces no earlier release has,\n"
	"compressed with zstd at level N (default 19) in frames of up to --frame-size\n"
	"bytes (default 2M, or 1M for a release with a base; 4K to 4M, a multiple of the\n"
	"piece size). Pieces already published point into the packs of the base: the\n"
	"highest earlier image release of APP, or --base VERSION, or none with --no-base.\n"
	"Keep the base's targets published while a release that points into them is.\n"
	"A device verifies every piece against the signed index and sums before it\n"
	"writes it into its inactive slot, and fetches only the pieces its slots do not\n"
	"hold. --recovery and --key mean what they mean for any release.\n"
	"\n"
	"--index-format 1 publishes the format that agents before delta updates read:\n"
	"pieces of SIZE bytes (default 2M; 4K to 4M) each compressed on its own, in one\n"
	"pack of the whole image.\n"
	"Then: pawl-repo timestamp, pawl-repo publish.\n";

/* ---------------- compressing a batch of pieces ---------------- */

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
	if (j->rc < 0) /* the error object is per thread */
		snprintf(j->err, sizeof(j->err), "%s", pawl_error_last()->message);
	return NULL;
}

static int read_full(int fd, uint8_t *p, size_t n, size_t *ret, const char *shown)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", shown);
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*ret = got;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *what)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot write %s", what);
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

struct packer {
	ws *w;
	int in;            /* the image */
	const char *shown; /* its name, for messages */
	uint32_t piece_size;
	int level;
	size_t nthreads;
	struct job *jobs;
	image_index *idx;
	uint16_t pack_id;
	hash_ctx *image_h, *pack_h256, *pack_h512;
	uint64_t image_len, pack_len;
	int pack_fd;
	char pack_tmp[64];
	digests pack_dg;
};

static void packer_free(struct packer *p)
{
	for (size_t i = 0; p->jobs && i < p->nthreads; i++) {
		image_compressor_free(p->jobs[i].c);
		free(p->jobs[i].in);
		free(p->jobs[i].out);
	}
	free(p->jobs);
	hash_free(p->image_h);
	hash_free(p->pack_h256);
	hash_free(p->pack_h512);
	if (p->pack_fd >= 0)
		close(p->pack_fd);
	if (p->pack_tmp[0])
		content_tmp_discard(p->w, p->pack_tmp);
	image_index_free(p->idx);
}

static int packer_init(struct packer *p, const char *pack_path)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	p->nthreads = ncpu < 1 ? 1 : ncpu > THREADS_MAX ? THREADS_MAX : (size_t)ncpu;
	p->jobs = xcalloc(p->nthreads, sizeof(*p->jobs));
	if (!p->jobs)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < p->nthreads; i++) {
		struct job *j = &p->jobs[i];

		GUARD(image_compressor_new(&j->c, p->level));
		j->cap = image_compress_bound(p->piece_size);
		j->in = xmalloc(p->piece_size);
		j->out = xmalloc(j->cap);
		if (!j->in || !j->out)
			return PAWL_E_NOMEM;
	}
	GUARD(hash_new(&p->image_h, HASH_SHA256));
	GUARD(hash_new(&p->pack_h256, HASH_SHA256));
	if (p->w->hash_sha512)
		GUARD(hash_new(&p->pack_h512, HASH_SHA512));
	GUARD(image_index_new(&p->idx, IMAGE_CHUNK_FIXED, p->piece_size));
	GUARD(image_index_add_pack(p->idx, pack_path, &p->pack_id));
	return content_tmp_create(p->w, p->pack_tmp, sizeof(p->pack_tmp), &p->pack_fd);
}

/* Read up to one piece per thread, compress them all at once (hashing the
 * image meanwhile), append them to the pack in order. *ret_more: not at
 * the end of the image yet. */
static int packer_batch(struct packer *p, bool *ret_more)
{
	pthread_t tid[THREADS_MAX];
	bool started[THREADS_MAX] = { false };
	size_t nb = 0;
	int r = 0;

	*ret_more = true;
	while (nb < p->nthreads) {
		struct job *j = &p->jobs[nb];

		GUARD(read_full(p->in, j->in, p->piece_size, &j->n, p->shown));
		if (j->n == 0) {
			*ret_more = false;
			break;
		}
		nb++;
		if (j->n < p->piece_size) {
			*ret_more = false;
			break;
		}
	}
	for (size_t i = 0; i < nb; i++)
		started[i] = pthread_create(&tid[i], NULL, job_run, &p->jobs[i]) == 0;
	for (size_t i = 0; i < nb; i++) {
		if (r == 0)
			r = hash_update(p->image_h, p->jobs[i].in, p->jobs[i].n);
	}
	for (size_t i = 0; i < nb; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			job_run(&p->jobs[i]); /* no thread to be had: do it here */
	}
	GUARD(r);
	for (size_t i = 0; i < nb; i++) {
		struct job *j = &p->jobs[i];

		if (j->rc < 0)
			return pawl_error_set(j->rc, "%s", j->err);
		GUARD(write_all(p->pack_fd, j->out, j->clen, "the image pack"));
		GUARD(hash_update(p->pack_h256, j->out, j->clen));
		if (p->pack_h512)
			GUARD(hash_update(p->pack_h512, j->out, j->clen));
		GUARD(image_index_add_piece(p->idx, p->pack_id, p->pack_len, (uint32_t)j->n,
					    (uint32_t)j->clen, j->csha, j->usha));
		p->pack_len += j->clen;
		p->image_len += j->n;
	}
	return 0;
}

/* The whole image into the pack; the index completed. */
static int pack_image(struct packer *p, const struct stat *before)
{
	uint8_t d[HASH_MAX_LEN];
	struct stat after;
	bool more = true;

	while (more)
		GUARD(packer_batch(p, &more));
	/* The image must not have changed under us: what was read is what
	 * was hashed, but it must also be the file that was named. */
	ENSURE(fstat(p->in, &after) == 0 && after.st_size == before->st_size &&
		       after.st_mtim.tv_sec == before->st_mtim.tv_sec &&
		       after.st_mtim.tv_nsec == before->st_mtim.tv_nsec &&
		       p->image_len == (uint64_t)before->st_size,
	       PAWL_E_IO, "%s changed while it was read; release it again", p->shown);
	GUARD(hash_final(p->image_h, d));
	memcpy(p->idx->sha256, d, 32);
	p->idx->length = p->image_len;
	p->idx->packs[p->pack_id].length = p->pack_len;
	GUARD(hash_final(p->pack_h256, d));
	hex_encode(p->pack_dg.sha256, d, 32);
	if (p->pack_h512) {
		GUARD(hash_final(p->pack_h512, d));
		hex_encode(p->pack_dg.sha512, d, 64);
		p->pack_dg.has512 = true;
	}
	if (close(p->pack_fd) != 0) {
		p->pack_fd = -1;
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot write the image pack");
	}
	p->pack_fd = -1;
	return 0;
}

/* The index bytes into the store. */
int image_store_bytes(ws *w, const void *data, size_t n, digests *ret)
{
	_cleanup_close_ int fd = -1;
	char tmp[64] = "";
	int r;

	GUARD(digest_buf(data, n, w->hash_sha512, ret));
	GUARD(content_tmp_create(w, tmp, sizeof(tmp), &fd));
	r = write_all(fd, data, n, "the image index");
	if (r == 0 && close(TAKE_FD(fd)) != 0)
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot write the image index");
	if (r == 0)
		r = content_tmp_commit(w, tmp, n, ret);
	if (r < 0)
		content_tmp_discard(w, tmp);
	return r;
}

static int release_custom(pj_doc **ret, const char *version, bool recovery, const char *idx_path,
			  const char *pack_path, const image_index *idx)
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
	GUARD(pj_obj_put_str(doc, img, "index", idx_path));
	GUARD(pj_obj_put_str(doc, img, "pack", pack_path));
	GUARD(pj_obj_put_int(doc, img, "length", (int64_t)idx->length));
	hex_encode(hex, idx->sha256, 32);
	GUARD(pj_obj_put_str(doc, img, "sha256", hex));
	*ret = TAKE_PTR(doc);
	return 0;
}

/*
 * Published releases are immutable (issue 15, 4), image releases too: when
 * any role already lists a release of APP/VERSION, only this very image
 * (the same length and sha256 in its signed "image" data) may stand, and
 * then nothing changes unless --recovery marks it now. Anything else is
 * refused before the pack reaches the store. *ret_same: the same image is
 * already released (and needs no recovery mark).
 */
int image_check_immutable(ws *w, const char *app, const char *version, const image_index *idx,
			  bool recovery, bool *ret_same)
{
	char prefix[TARGET_PATH_MAX + 2], hex[65];
	size_t plen;

	*ret_same = false;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/%s/", app, version);
	hex_encode(hex, idx->sha256, 32);
	GUARD(ws_walk(w));
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];
		const pj_value *t = r->type == MD_TARGETS ? r->md->targets : NULL;

		for (size_t k = 0; t && k < t->len; k++) {
			const pj_member *m = &t->u.members[k];
			const pj_value *custom = pj_get(&m->value, "custom");
			const pj_value *img = custom ? pj_get(custom, "image") : NULL;
			const char *v = custom ? pj_str(pj_get(custom, "version")) : NULL;
			const pj_value *len = img ? pj_get(img, "length") : NULL;
			const pj_value *rec = custom ? pj_get(custom, "recovery") : NULL;
			const char *sha = img ? pj_str(pj_get(img, "sha256")) : NULL;

			if (m->klen <= plen || memcmp(m->key, prefix, plen) != 0 || !v ||
			    strcmp(v, version) != 0)
				continue;
			if (sha && pj_is_int(len) && len->u.i >= 0 &&
			    (uint64_t)len->u.i == idx->length && strcmp(sha, hex) == 0) {
				*ret_same = !recovery || (rec && pj_typeof(rec) == PJ_TRUE);
				continue;
			}
			return pawl_error_set(PAWL_E_POLICY,
					      "%s %s is already released as %.*s with other content; a "
					      "published release is immutable: devices that installed it "
					      "keep those bytes, and new ones would get others. Release "
					      "this image as a new version",
					      app, version, (int)m->klen, m->key);
		}
	}
	return 0;
}

static int parse_size(const char *s, uint32_t *ret)
{
	char num[32];
	size_t n = strlen(s);
	uint32_t v, mul = 1;

	if (n == 0 || n >= sizeof(num))
		return PAWL_E_INVALID;
	memcpy(num, s, n + 1);
	if (num[n - 1] == 'K' || num[n - 1] == 'k')
		mul = 1024;
	else if (num[n - 1] == 'M' || num[n - 1] == 'm')
		mul = 1024 * 1024;
	if (mul > 1)
		num[n - 1] = '\0';
	if (cli_parse_u32(num, &v) < 0 || __builtin_mul_overflow(v, mul, &v))
		return PAWL_E_INVALID;
	*ret = v;
	return 0;
}

int cmd_release_image(int argc, char **argv)
{
	enum { O_IMAGE = OPT_FIRST, O_RECOVERY, O_KEY, O_PIECE, O_LEVEL, O_FORMAT, O_FRAME,
	       O_BASE, O_NO_BASE };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "image", no_argument, NULL, O_IMAGE },
		{ "recovery", no_argument, NULL, O_RECOVERY },
		{ "key", required_argument, NULL, O_KEY },
		{ "piece-size", required_argument, NULL, O_PIECE },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "index-format", required_argument, NULL, O_FORMAT },
		{ "frame-size", required_argument, NULL, O_FRAME },
		{ "base", required_argument, NULL, O_BASE },
		{ "no-base", no_argument, NULL, O_NO_BASE },
		{ NULL, 0, NULL, 0 },
	};
	char pack_path[TARGET_PATH_MAX + 1], idx_path[TARGET_PATH_MAX + 1];
	struct packer pk = { .pack_fd = -1, .in = -1, .piece_size = PIECE_DEFAULT,
			     .level = IMAGE_LEVEL_DEFAULT };
	pawl_buf idxbytes = PAWL_BUF_INIT((size_t)1 << 30);
	_cleanup_pj_doc_ pj_doc *custom = NULL;
	_cleanup_ws_ ws *w = NULL;
	_cleanup_close_ int in = -1;
	stored_target t[2];
	const char *app, *version, *file;
	bool recovery = false, same = false;
	strv keys = { 0 };
	struct stat st;
	image2_opts o2 = { .frame_size = IMAGE2_FRAME_DEFAULT };
	bool piece_given = false, frame_given = false;
	uint32_t level, format = INDEX_FORMAT_DEFAULT;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_IMAGE: break;
		case O_RECOVERY: recovery = true; break;
		case O_KEY: strv_push(&keys, optarg); break;
		case O_PIECE:
			if (parse_size(optarg, &pk.piece_size) < 0 ||
			    pk.piece_size < IMAGE_PIECE_MIN || pk.piece_size > IMAGE_PIECE_MAX ||
			    pk.piece_size % 4096 != 0)
				usage_error("release", "--piece-size must be 4K to 4M, a multiple "
						       "of 4K (e.g. 1M)");
			piece_given = true;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
				usage_error("release", "--index-format must be 1 or 2");
			format = optarg[0] == '1' ? 1 : 2;
			break;
		case O_FRAME:
			if (parse_size(optarg, &o2.frame_size) < 0 ||
			    o2.frame_size < IMAGE_PIECE_MIN || o2.frame_size > IMAGE2_FRAME_MAX)
				usage_error("release", "--frame-size must be 4K to 4M (e.g. 2M)");
			frame_given = true;
			o2.frame_given = true;
			break;
		case O_BASE: o2.base = optarg; break;
		case O_NO_BASE: o2.no_base = true; break;
		case O_LEVEL:
			if (cli_parse_u32(optarg, &level) < 0 || level < 1 || level > 22)
				usage_error("release", "--level must be a zstd level from 1 to 22");
			pk.level = (int)level;
			break;
		default: common_opt("release", usage_image, ch, optarg);
		}
	}
	release_operands(argc, argv, "IMAGE", &app, &version, &file);
	if (format == 1 && (frame_given || o2.base || o2.no_base))
		usage_error("release", "--frame-size, --base and --no-base need --index-format 2");
	if (o2.base && o2.no_base)
		usage_error("release", "give --base VERSION or --no-base, not both");
	if (format == 2) {
		o2.piece_size = piece_given ? pk.piece_size : IMAGE2_PIECE_DEFAULT;
		if (o2.piece_size > IMAGE2_PIECE_MAX)
			usage_error("release", "--piece-size must be 4K to 64K with "
					       "--index-format 2");
		if (o2.frame_size % o2.piece_size != 0)
			usage_error("release", "--frame-size must be a multiple of the piece size");
		o2.level = pk.level;
		pk.piece_size = o2.piece_size;
	}
	if ((size_t)snprintf(pack_path, sizeof(pack_path), "%s/%s/image.pack", app, version) >=
		    sizeof(pack_path) ||
	    (size_t)snprintf(idx_path, sizeof(idx_path), "%s/%s/image.idx", app, version) >=
		    sizeof(idx_path))
		usage_error("release", "APP or VERSION is too long");
	if (check_target_path(pack_path) < 0)
		return fail("release");

	in = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (in < 0) {
		if (errno == ELOOP)
			pawl_error_set(PAWL_E_IO, "%s is a symbolic link; give the image it points to",
				       file);
		else
			pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					     "cannot open %s", file);
		return fail("release");
	}
	if (fstat(in, &st) != 0) {
		pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", file);
		return fail("release");
	}
	if (!S_ISREG(st.st_mode)) {
		pawl_error_set(PAWL_E_IO, "%s is not a regular file (give a file system image; "
			       "to publish a block device, copy it into a file first)", file);
		return fail("release");
	}
	if (st.st_size == 0) {
		pawl_error_set(PAWL_E_INVALID, "%s is empty: an image release needs an image", file);
		return fail("release");
	}
	{
		/* What devices accept by default (image_limits; format 2: 2^22
		 * pieces, image_index_parse with no limits), checked before
		 * minutes of compression rather than after. */
		static const image_limits lim1 = IMAGE_LIMITS_DEFAULT;
		image_limits lim = lim1;
		uint64_t n = ((uint64_t)st.st_size + pk.piece_size - 1) / pk.piece_size;

		if (format == 2)
			lim.max_pieces = 1u << 22;
		if (n > lim.max_pieces || (uint64_t)st.st_size > lim.max_length) {
			pawl_error_set(PAWL_E_LIMIT,
				       "%s would be %" PRIu64 " pieces of %" PRIu32 " bytes; devices "
				       "accept at most %" PRIu32 " pieces and %" PRIu64 " bytes (give "
				       "a larger --piece-size)",
				       file, n, pk.piece_size, lim.max_pieces, lim.max_length);
			return fail("release");
		}
	}
	if (ws_open(&w, argv[optind], true) < 0)
		goto out;
	if (format == 2) {
		if (release_image2(w, in, &st, file, app, version, recovery, &o2, &keys) == 0)
			rc = 0;
		goto out;
	}

	pk.w = w;
	pk.in = in;
	pk.shown = file;
	if (packer_init(&pk, pack_path) < 0 || pack_image(&pk, &st) < 0 ||
	    image_check_immutable(w, app, version, pk.idx, recovery, &same) < 0)
		goto out;
	if (same) {
		info("%s %s is already released with this very image: nothing changed", app,
		     version);
		rc = 0;
		goto out;
	}
	if (content_tmp_commit(w, pk.pack_tmp, pk.pack_len, &pk.pack_dg) < 0)
		goto out;
	pk.pack_tmp[0] = '\0';
	t[0] = (stored_target){ pack_path, pk.pack_len, pk.pack_dg, NULL };
	if (image_index_write(pk.idx, &idxbytes) < 0 ||
	    image_store_bytes(w, idxbytes.data, idxbytes.len, &t[1].dg) < 0 ||
	    release_custom(&custom, version, recovery, idx_path, pack_path, pk.idx) < 0)
		goto out;
	t[1].path = idx_path;
	t[1].length = idxbytes.len;
	t[1].custom = pj_root(custom);
	if (add_stored(w, t, 2, &keys) < 0)
		goto out;
	info("image %s: %" PRIu64 " bytes in %" PRIu32 " pieces of %" PRIu32 " KiB; pack %" PRIu64
	     " bytes (%.1f%%), index %zu bytes%s",
	     file, pk.image_len, pk.idx->npieces, pk.piece_size / 1024, pk.pack_len,
	     100.0 * (double)pk.pack_len / (double)pk.image_len, idxbytes.len,
	     recovery ? "; a recovery release" : "");
	rc = 0;
out:
	if (rc)
		rc = fail("release");
	packer_free(&pk); /* `in` closes itself */
	buf_free(&idxbytes);
	free(keys.v);
	return rc;
}

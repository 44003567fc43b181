/*
 * delta_install.c - test-only: install an image release published by
 * pawl-repo into a file-backed slot through slot_install_source()
 * (slot/delta.h), reading what the TUF metadata signs (the index target's
 * length, hashes and custom "image"; every target's length) from a
 * published targets.json, and the bytes from the published files
 * (consistent snapshots: DIR/HASH.NAME), so that test_delta_repo.sh can
 * check the device side against the real publisher.
 *
 *   delta_install TARGETS_JSON TARGETS_DIR APP VERSION SLOTDIR
 *
 * SLOTDIR holds slot-a (booted) and slot-b (written); SLOTDIR/state is the
 * state directory; the bootloader is the fake one. Prints the transfer
 * counts as "name value" lines. Exit 0 when the slot was written, verified
 * and switched to; 1 with the error on stderr otherwise. The metadata's
 * signatures are not checked here (the TUF client's job, tested
 * elsewhere).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "boot/boot.h"
#include "json/json.h"
#include "slot/delta.h"
#include "slot/slot.h"

static const pj_value *targets;
static const char *tdir;

static void __attribute__((noreturn)) die(const char *what)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "delta_install: %s: %s: %s\n", what, pawl_strerror(e->code), e->message);
	exit(1);
}

static char *slurp(const char *path, size_t *ret)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n = -1;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		exit((fprintf(stderr, "delta_install: cannot read %s\n", path), 1));
	p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	fclose(f);
	*ret = (size_t)n;
	return p;
}

/* The published file of target name: TARGETS_DIR/DIR/SHA256.BASE. */
static int published(const char *name, char *out, size_t n)
{
	const pj_value *t = pj_get(targets, name);
	const char *h = pj_str(pj_get(pj_get(t, "hashes"), "sha256"));
	const char *slash = strrchr(name, '/');
	int k;

	if (!t || !h || !slash)
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s is not a target", name);
	k = snprintf(out, n, "%s/%.*s/%s.%s", tdir, (int)(slash - name), name, h, slash + 1);
	if (k < 0 || (size_t)k >= n)
		return pawl_error_set(PAWL_E_LIMIT, "path too long");
	return 0;
}

struct fsrc {
	pawl_install_range cur[65536];
	size_t n, i;
	uint64_t off;
	int fd;
};

static int f_len(void *ctx, const char *name, uint64_t *ret)
{
	const pj_value *len = pj_get(pj_get(targets, name), "length");

	(void)ctx;
	if (!pj_is_int(len) || len->u.i < 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s is not a target", name);
	*ret = (uint64_t)len->u.i;
	return 0;
}

static int f_open(void *ctx, const pawl_install_range *r, size_t n)
{
	struct fsrc *s = ctx;

	if (n > sizeof(s->cur) / sizeof(s->cur[0]))
		return pawl_error_set(PAWL_E_LIMIT, "too many ranges");
	memcpy(s->cur, r, n * sizeof(*r));
	s->n = n;
	s->i = 0;
	s->off = 0;
	s->fd = -1;
	printf("open %zu\n", n);
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
		GUARD(published(s->cur[s->i].target, p, sizeof(p)));
		s->fd = open(p, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s", p);
	}
	want = s->cur[s->i].length - s->off;
	if (want > cap)
		want = cap;
	k = pread(s->fd, buf, (size_t)want, (off_t)(s->cur[s->i].offset + s->off));
	if (k <= 0)
		return pawl_error_set(PAWL_E_IO, "%s: short read", s->cur[s->i].target);
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
	static struct fsrc fs;
	pawl_install_source src = { PAWL_INSTALL_SOURCE_VERSION, &fs, f_len, f_open, f_read,
				    f_close };
	char name[512], a[4096], b[4096], state[4096];
	const pj_value *t, *img, *len, *fmt;
	pj_doc *doc = NULL;
	boot_backend *boot = NULL;
	slot_ctx *s = NULL;
	slot_opts o = SLOT_OPTS_INIT;
	slot_source_release rel;
	slot_result res;
	pawl_install_transfer xf;
	size_t n;
	char *text;

	if (argc != 6)
		return fprintf(stderr, "usage: delta_install TARGETS_JSON TARGETS_DIR APP VERSION "
			       "SLOTDIR\n"), 2;
	text = slurp(argv[1], &n);
	if (pj_parse_copy(&doc, text, n, NULL) < 0)
		die("targets.json");
	targets = pj_get(pj_get(pj_root(doc), "signed"), "targets");
	tdir = argv[2];
	snprintf(name, sizeof(name), "%s/%s/image.idx", argv[3], argv[4]);
	t = pj_get(targets, name);
	img = pj_get(pj_get(t, "custom"), "image");
	len = pj_get(img, "length");
	fmt = pj_get(img, "format");
	if (!t || !pj_is_int(len) || !pj_is_int(pj_get(t, "length")))
		return fprintf(stderr, "delta_install: %s is not an image release\n", name), 1;
	memset(&rel, 0, sizeof(rel));
	rel.version = argv[4];
	rel.index_name = name;
	rel.index_length = (uint64_t)pj_get(t, "length")->u.i;
	rel.index_hashes = pj_get(t, "hashes");
	rel.image_length = (uint64_t)len->u.i;
	rel.image_sha256 = pj_str(pj_get(img, "sha256"));
	rel.pack_name = pj_str(pj_get(img, "pack"));
	rel.sums_name = pj_str(pj_get(img, "sums"));
	rel.format = pj_is_int(fmt) ? (uint32_t)fmt->u.i : 0;

	snprintf(a, sizeof(a), "%s/slot-a", argv[5]);
	snprintf(b, sizeof(b), "%s/slot-b", argv[5]);
	snprintf(state, sizeof(state), "%s/state", argv[5]);
	if (boot_fake_new(&boot) < 0)
		die("boot");
	o.state_dir = state;
	o.slot_a = a;
	o.slot_b = b;
	o.boot = boot;
	o.booted = BOOT_SLOT_A;
	if (slot_open(&s, &o) < 0)
		die("slot_open");
	if (slot_install_source(s, &rel, &src, &xf, &res) < 0)
		die("install");
	printf("outcome %s\n", slot_outcome_name(res.outcome));
	printf("format %" PRIu32 "\npieces %" PRIu64 "\nin_place %" PRIu64 "\nfrom_booted %" PRIu64
	       "\nfrom_target %" PRIu64 "\nfetched %" PRIu64 "\nseed_rejected %" PRIu64
	       "\nbytes_index %" PRIu64 "\nbytes_sums %" PRIu64 "\nbytes_frames %" PRIu64
	       "\nranges %" PRIu64 "\nstreams %" PRIu32 "\n",
	       xf.format, xf.pieces, xf.in_place, xf.from_booted, xf.from_target, xf.fetched,
	       xf.seed_rejected, xf.bytes_index, xf.bytes_sums, xf.bytes_frames, xf.ranges,
	       xf.streams);
	slot_close(s);
	boot_free(boot);
	pj_doc_free(doc);
	free(text);
	return res.outcome == SLOT_SWITCHED ? 0 : 1;
}

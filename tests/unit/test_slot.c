/*
 * test_slot.c - the slot installer: every refusal (and that nothing was
 * written, nor the bootloader touched, when it fires), the order of the
 * bootloader calls against the stream, forward-only, confirm, mark-good,
 * mark-bad and fallback end to end, and kill -9 at many instants of the
 * write and the switch.
 *
 * Slots are regular files. The call order is checked on the fake
 * backend; everything about what boots next is checked on a real GRUB
 * environment block written by grub-editenv and booted by
 * tests/integration/bootsim (a second implementation of deploy/boot/grub.cfg
 * that shares no code with the library).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot.h"
#include "crypto/crypto.h"
#include "image/image.h"
#include "json/json.h"
#include "slot/slot.h"
#include "testing.h"

#define GRUB_EDITENV "/usr/bin/grub-editenv"
#define OLD 0x11 /* every byte of slot a (the running system) */
#define STALE 0x22 /* every byte of slot b before an update */
#define SLOT_SIZE ((size_t)2 << 20)

/* ---------------- images ---------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* A release as the publisher makes it: image, pack, index, and the signed
 * values a device gets from TUF metadata. */
struct rel {
	char version[32];
	char pack_name[64];
	uint8_t *image;
	size_t len;
	pawl_buf stream; /* index bytes, then pack bytes */
	size_t idxlen, packlen;
	char image_hex[65];
	pj_doc *idx_hashes, *pack_hashes;
};

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

static void make_rel(struct rel *r, const char *version, size_t len, uint64_t seed)
{
	image_compressor *c = NULL;
	image_index *idx = NULL;
	pawl_buf pack = PAWL_BUF_INIT(64u << 20);
	pawl_buf ib = PAWL_BUF_INIT(64u << 20);
	uint8_t d[HASH_MAX_LEN];
	uint16_t id;
	const size_t piece = 4096;

	memset(r, 0, sizeof(*r));
	snprintf(r->version, sizeof(r->version), "%s", version);
	snprintf(r->pack_name, sizeof(r->pack_name), "os/%s/image.pack", version);
	r->len = len;
	r->image = malloc(len);
	assert_non_null(r->image);
	rng_state = seed | 1;
	for (size_t i = 0; i < len; i++)
		r->image[i] = (i / 3000) % 2 ? (uint8_t)rnd() : (uint8_t)("slot image "[i % 11]);
	t_ok(image_compressor_new(&c, 3));
	t_ok(image_index_new(&idx, IMAGE_CHUNK_FIXED, (uint32_t)piece));
	t_ok(image_index_add_pack(idx, r->pack_name, &id));
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece, clen;
		uint8_t cs[HASH_MAX_LEN], us[HASH_MAX_LEN];
		size_t at = pack.len;

		t_ok(buf_reserve(&pack, image_compress_bound(n)));
		t_ok(image_compress(c, r->image + off, n, (uint8_t *)pack.data + at,
				    pack.cap - at, &clen));
		pack.len += clen;
		t_ok(hash_once(HASH_SHA256, pack.data + at, clen, cs));
		t_ok(hash_once(HASH_SHA256, r->image + off, n, us));
		t_ok(image_index_add_piece(idx, id, at, (uint32_t)n, (uint32_t)clen, cs, us));
	}
	idx->length = len;
	idx->packs[0].length = pack.len;
	t_ok(hash_once(HASH_SHA256, r->image, len, d));
	memcpy(idx->sha256, d, 32);
	hex_encode(r->image_hex, d, 32);
	t_ok(image_index_write(idx, &ib));
	image_index_free(idx);
	image_compressor_free(c);
	r->idxlen = ib.len;
	r->packlen = pack.len;
	r->idx_hashes = hashes_of(ib.data, ib.len);
	r->pack_hashes = hashes_of(pack.data, pack.len);
	r->stream = (pawl_buf)PAWL_BUF_INIT(128u << 20);
	t_ok(buf_append(&r->stream, ib.data, ib.len));
	t_ok(buf_append(&r->stream, pack.data, pack.len));
	buf_free(&ib);
	buf_free(&pack);
}

static void free_rel(struct rel *r)
{
	free(r->image);
	buf_free(&r->stream);
	pj_doc_free(r->idx_hashes);
	pj_doc_free(r->pack_hashes);
}

/* The stream from memory, with a look at the bootloader's log at the two
 * moments that matter. */
struct src {
	const struct rel *r;
	size_t off;
	boot_backend *fake;    /* when set: the checks below */
	bool saw_pack;         /* the first pack byte was asked for */
	char log_at_pack[512]; /* the fake's log then */
	char log_at_end[512];  /* ... and when the stream ended */
	const char *corrupt;   /* when set: at the end of the stream, change the
				* first byte of this file, as a device that
				* loses a write would */
	int fail;              /* when set: the source fails with it at once */
	size_t corrupt_at;     /* corrupt: this byte instead of the first */
	size_t corrupt_after;  /* corrupt: once this many pack bytes are
				* delivered instead of at the end */
	bool corrupted;
};

static int src_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct src *s = ctx;
	size_t n = s->r->stream.len - s->off;

	if (s->fake && s->off >= s->r->idxlen && !s->saw_pack) {
		s->saw_pack = true;
		snprintf(s->log_at_pack, sizeof(s->log_at_pack), "%s", boot_fake_log(s->fake));
	}
	if (s->fail)
		return pawl_error_set(s->fail, "the fetcher gave up");
	if (n == 0 && s->fake)
		snprintf(s->log_at_end, sizeof(s->log_at_end), "%s", boot_fake_log(s->fake));
	if (s->corrupt && !s->corrupted &&
	    (s->corrupt_after ? s->off >= s->r->idxlen + s->corrupt_after : n == 0)) {
		/* The piece was written long ago (the decoder writes piece i
		 * before it decompresses piece i + 1). */
		int fd = open(s->corrupt, O_WRONLY | O_CLOEXEC);
		uint8_t x = (uint8_t)~s->r->image[s->corrupt_at];

		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, &x, 1, (off_t)s->corrupt_at), 1);
		close(fd);
		s->corrupted = true;
	}
	if (n > cap)
		n = cap;
	memcpy(buf, s->r->stream.data + s->off, n);
	s->off += n;
	*ret_n = n;
	return 0;
}

static slot_release release_of(const struct rel *r, struct src *src, int fd, bool recovery)
{
	slot_release rel;

	memset(&rel, 0, sizeof(rel));
	rel.version = r->version;
	rel.recovery = recovery;
	rel.index_length = r->idxlen;
	rel.index_hashes = pj_root(r->idx_hashes);
	rel.pack_name = r->pack_name;
	rel.pack_length = r->packlen;
	rel.pack_hashes = pj_root(r->pack_hashes);
	rel.image_length = r->len;
	rel.image_sha256 = r->image_hex;
	rel.fd = fd;
	rel.read = src_read;
	rel.read_ctx = src;
	return rel;
}

/* ---------------- fixtures ---------------- */

struct fx {
	char *dir;
	char a[PATH_MAX], b[PATH_MAX], state[PATH_MAX], grubenv[PATH_MAX], editenv[PATH_MAX];
	boot_backend *boot;
};

static void fill(const char *path, uint8_t byte, size_t n)
{
	uint8_t *p = malloc(n);

	assert_non_null(p);
	memset(p, byte, n);
	t_write_file(path, p, n);
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
	snprintf(f->editenv, sizeof(f->editenv), "%s/editenv", f->dir);
	fill(f->a, OLD, SLOT_SIZE);
	fill(f->b, STALE, SLOT_SIZE);
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

/* One power-on under GRUB: 'a', 'b' or 'n'. */
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

/* A grubenv with slot a good and running; the backend on it, through
 * grub-editenv itself or through the wrapper at f->editenv. */
static void use_grub(struct fx *f, bool wrapper)
{
	char out[256], spec[PATH_MAX + 8];
	char *create[] = { (char *)GRUB_EDITENV, f->grubenv, (char *)"create", NULL };
	char *set[] = { (char *)GRUB_EDITENV, f->grubenv, (char *)"set", (char *)"ORDER=A B",
			(char *)"A_OK=1", (char *)"A_TRY=0", (char *)"B_OK=1", (char *)"B_TRY=0",
			NULL };
	boot_opts o = BOOT_OPTS_INIT;

	assert_int_equal(run(create, out, sizeof(out)), 0);
	/* b holds an older good system: the fallback a half-written b must
	 * never become. */
	assert_int_equal(run(set, out, sizeof(out)), 0);
	snprintf(spec, sizeof(spec), "grub:%s", f->grubenv);
	if (wrapper)
		o.grub_editenv = f->editenv;
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

static slot_opts opts_of(struct fx *f, boot_slot booted)
{
	slot_opts o = SLOT_OPTS_INIT;

	o.state_dir = f->state;
	o.slot_a = f->a;
	o.slot_b = f->b;
	o.boot = f->boot;
	o.booted = booted;
	/* A process killed inside a bootloader call may leave its helper
	 * holding the lock for an instant (until its exec). */
	o.lock_timeout_s = 10;
	return o;
}

static slot_ctx *open_slots(struct fx *f, boot_slot booted)
{
	slot_opts o = opts_of(f, booted);
	slot_ctx *s = NULL;

	t_ok(slot_open(&s, &o));
	return s;
}

static void assert_msg_has(const char *needle)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, needle))
		fail_msg("message \"%s\" lacks \"%s\"", m, needle);
}

/* Every byte of path is byte (n bytes). */
static void assert_filled(const char *path, uint8_t byte, size_t n)
{
	size_t len;
	char *p = t_read_file(path, &len);

	assert_int_equal(len, n);
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)p[i] != byte)
			fail_msg("%s: byte %zu is 0x%02x, not 0x%02x", path, i, (uint8_t)p[i], byte);
	free(p);
}

static void assert_holds(const char *path, const struct rel *r)
{
	size_t len;
	char *p = t_read_file(path, &len);

	assert_true(len >= r->len);
	assert_memory_equal(p, r->image, r->len);
	free(p);
}

static slot_state read_state(struct fx *f)
{
	slot_state st;

	t_ok(slot_state_read(f->state, &st));
	return st;
}

static int install(struct fx *f, boot_slot booted, const struct rel *r, bool recovery,
		   slot_result *res)
{
	struct src src = { r, 0, NULL, false, "", "", NULL, 0, 0, 0, false };
	slot_release rel = release_of(r, &src, -1, recovery);
	slot_ctx *s = open_slots(f, booted);
	int rc;

	memset(res, 0, sizeof(*res));
	rc = slot_install(s, &rel, res);
	slot_close(s);
	return rc;
}

typedef int (*after_fn)(slot_ctx *, slot_result *);

static slot_result after(struct fx *f, boot_slot booted, after_fn fn)
{
	slot_ctx *s = open_slots(f, booted);
	slot_result res;

	t_ok(fn(s, &res));
	slot_close(s);
	return res;
}

/* ---------------- the order of an update ---------------- */

static void test_call_order(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;
	slot_state st;

	make_rel(&r, "1.0.0", 300000, 1);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_NONE); /* the fake's get-current: a */
	assert_int_equal(slot_booted(s), BOOT_SLOT_A);
	boot_fake_clear_log(f->boot);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	src.fake = f->boot;
	rel = release_of(&r, &src, -1, false);
	t_ok(slot_install(s, &rel, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_int_equal(res.slot, BOOT_SLOT_B);
	assert_true(res.reboot);
	assert_int_equal(res.image_bytes, r.len);
	assert_int_equal(res.stream_bytes, r.stream.len);
	/* Before the first pack byte: the booted slot's state was read and
	 * the target made unbootable; nothing else. */
	assert_string_equal(src.log_at_pack, "get-state a\nset-state b bad\n");
	/* When the stream ended, still no switch. */
	assert_string_equal(src.log_at_end, "get-state a\nset-state b bad\n");
	/* The switch is the last call, after the stream, the checks, the
	 * fsync and the read-back. */
	assert_string_equal(boot_fake_log(f->boot), "get-state a\nset-state b bad\nset-primary b\n");
	slot_close(s);
	assert_holds(f->b, &r);
	assert_filled(f->a, OLD, SLOT_SIZE);
	st = read_state(f);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "1.0.0");
	assert_string_equal(st.slot[BOOT_SLOT_A].version, "");
	assert_int_equal(st.pending, BOOT_SLOT_B);
	assert_int_equal(st.journal, BOOT_SLOT_NONE);
	assert_string_equal(st.highest, ""); /* not before it is confirmed */
	assert_int_equal(st.last_outcome, SLOT_SWITCHED);
	free_rel(&r);
}

/* The switch fails: the target stays bad, its version unknown. */
static void test_switch_fails(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;
	slot_state st;

	make_rel(&r, "1.0.0", 50000, 2);
	use_fake(f);
	boot_fake_fail_next(f->boot, "set-primary", PAWL_E_IO);
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_IO);
	st = read_state(f);
	assert_int_equal(st.journal, BOOT_SLOT_NONE);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	assert_int_equal(st.pending, BOOT_SLOT_NONE);
	assert_int_equal(st.last_outcome, SLOT_ERROR);
	assert_non_null(strstr(boot_fake_log(f->boot), "set-state b bad\nset-primary b\n"));
	free_rel(&r);
}

/* The device does not hold what was written: the read-back refuses to
 * switch. */
static void test_readback(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;

	make_rel(&r, "1.0.0", 300000, 20);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_A);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	src.corrupt = f->b;
	rel = release_of(&r, &src, -1, false);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_HASH);
	assert_msg_has("read back differs");
	assert_null(strstr(boot_fake_log(f->boot), "set-primary"));
	assert_string_equal(slot_get_state(s)->slot[BOOT_SLOT_B].version, "");
	assert_int_equal(slot_get_state(s)->journal, BOOT_SLOT_NONE);
	slot_close(s);
	free_rel(&r);
}

/* The same, with the lost write in a later read-back block (the read-back
 * reads 128 KiB blocks, two at a time): 1.5 MiB into a 1.9 MiB image, in a
 * piece written long before the stream ended. */
static void test_readback_later_block(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;

	make_rel(&r, "1.0.0", 1900000, 21);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_A);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	src.corrupt = f->b;
	src.corrupt_at = (size_t)3 << 19;
	rel = release_of(&r, &src, -1, false);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_HASH);
	assert_msg_has("read back differs");
	assert_null(strstr(boot_fake_log(f->boot), "set-primary"));
	slot_close(s);
	free_rel(&r);
}

/* The read-back follows the writer: a block is read from the device while
 * the stream still runs, once 1 MiB more has been written after it. A write
 * lost there (byte 0, changed a quarter into the stream, after its piece was
 * written and before it can have been read back) is caught all the same. */
static void test_readback_during_stream(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;

	make_rel(&r, "1.0.0", 1900000, 22);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_A);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	src.corrupt = f->b;
	src.corrupt_after = r.packlen / 4;
	rel = release_of(&r, &src, -1, false);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_HASH);
	assert_true(src.corrupted);
	assert_msg_has("read back differs");
	assert_null(strstr(boot_fake_log(f->boot), "set-primary"));
	slot_close(s);
	free_rel(&r);
}

/* The pack target's signed length and hashes are checked too: an index
 * naming another length is refused before anything is touched, and a pack
 * whose hash is not the signed one is refused before the switch. */
static void test_pack_signed(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;

	make_rel(&r, "1.0.0", 100000, 23);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_A);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	rel = release_of(&r, &src, -1, false);
	rel.pack_length++;
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_LENGTH);
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	rel.pack_length--;
	rel.pack_name = "os/1.0.0/other.pack";
	src.off = 0;
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_FORMAT);
	rel.pack_name = r.pack_name;
	boot_fake_clear_log(f->boot);
	src.off = 0;
	rel.pack_hashes = pj_root(r.idx_hashes);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_HASH);
	assert_msg_has("image pack");
	assert_null(strstr(boot_fake_log(f->boot), "set-primary"));
	assert_string_equal(slot_get_state(s)->slot[BOOT_SLOT_B].version, "");
	slot_close(s);
	free_rel(&r);
}

/* A stream with bytes past the signed pack: refused, never switched. */
static void test_stream_too_long(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;

	make_rel(&r, "1.0.0", 100000, 24);
	use_fake(f);
	t_ok(buf_putc(&r.stream, 'x'));
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_LENGTH);
	assert_msg_has("longer than its signed length");
	assert_null(strstr(boot_fake_log(f->boot), "set-primary"));
	free_rel(&r);
}

/* A second update into the pending slot fails halfway: that slot is not
 * taken for switched, although the fake leaves it primary (only its state
 * says it is bad now). */
static void test_rewrite_pending_fails(void **state)
{
	struct fx *f = *state;
	struct rel r1, r2;
	slot_result res;
	slot_state st;

	make_rel(&r1, "1.0.0", 100000, 25);
	make_rel(&r2, "1.1.0", 100000, 26);
	use_fake(f);
	t_ok(install(f, BOOT_SLOT_A, &r1, false, &res));
	assert_int_equal(read_state(f).pending, BOOT_SLOT_B);
	r2.stream.data[r2.idxlen + r2.packlen / 2] ^= 1;
	assert_int_equal(install(f, BOOT_SLOT_A, &r2, false, &res), PAWL_E_HASH);
	st = read_state(f);
	assert_int_equal(st.pending, BOOT_SLOT_NONE);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	assert_int_equal(st.last_outcome, SLOT_ERROR);
	free_rel(&r1);
	free_rel(&r2);
}

/* A new update into the slot that holds a pending one, and the journal
 * cannot be written once that slot was made bad: the pending mark was
 * dropped first, in its own write, so the next confirm on the booted slot
 * does not take the dropped update for a fallback (and does not put a
 * version that never failed into the bad list). The bootloader is a
 * custom script that breaks the state file at that very call. */
static void test_rewrite_pending_state_fails(void **state)
{
	struct fx *f = *state;
	struct rel r1, r2;
	slot_result res;
	char script[PATH_MAX + 16], spec[PATH_MAX + 32], cmd[5 * PATH_MAX];
	char body[3 * PATH_MAX];
	FILE *fp;

	make_rel(&r1, "1.0.0", 100000, 27);
	make_rel(&r2, "1.1.0", 100000, 28);
	snprintf(script, sizeof(script), "%s/boot-script", f->dir);
	snprintf(body, sizeof(body),
		 "#!/bin/sh\n"
		 "d='%s'; st='%s'\n"
		 "case \"$1\" in\n"
		 "get-primary) cat \"$d/primary\";;\n"
		 "set-primary) echo \"$2\" >\"$d/primary\"; echo good >\"$d/state_$2\";;\n"
		 "get-state) cat \"$d/state_$2\";;\n"
		 "set-state)\n"
		 "  if [ \"$2 $3\" = 'b bad' ] && [ -f \"$d/sabotage\" ]; then\n"
		 "    mv \"$st/slots.json\" \"$st/slots.keep\"; mkdir -p \"$st/slots.json/x\"; fi\n"
		 "  echo \"$3\" >\"$d/state_$2\";;\n"
		 "get-current) echo a;;\n"
		 "*) exit 1;;\n"
		 "esac\n",
		 f->dir, f->state);
	fp = fopen(script, "w");
	assert_non_null(fp);
	fputs(body, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(script, 0755), 0);
	snprintf(cmd, sizeof(cmd), "echo a >%s/primary; echo good >%s/state_a; echo bad >%s/state_b",
		 f->dir, f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(spec, sizeof(spec), "custom:%s", script);
	boot_free(f->boot);
	f->boot = NULL;
	t_ok(boot_open(spec, NULL, &f->boot));

	t_ok(install(f, BOOT_SLOT_A, &r1, false, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_int_equal(read_state(f).pending, BOOT_SLOT_B);
	snprintf(cmd, sizeof(cmd), "touch %s/sabotage", f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(install(f, BOOT_SLOT_A, &r2, false, &res), PAWL_E_IO);
	assert_msg_has("cannot record the slot state");
	snprintf(cmd, sizeof(cmd), "rm -rf %s/sabotage %s/slots.json && mv %s/slots.keep %s/slots.json",
		 f->dir, f->state, f->state, f->state);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(read_state(f).pending, BOOT_SLOT_NONE);
	res = after(f, BOOT_SLOT_A, slot_confirm);
	assert_int_equal(res.outcome, SLOT_CONFIRMED);
	assert_string_equal(res.fell_back, "");
	assert_int_equal(read_state(f).nbad, 0);
	free_rel(&r1);
	free_rel(&r2);
}

/* The source fails (the fetcher died): its code, nothing switched. */
static void test_source_fails(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;

	make_rel(&r, "1.0.0", 100000, 21);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_A);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	src.fail = PAWL_E_NETWORK;
	rel = release_of(&r, &src, -1, false);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_NETWORK);
	assert_msg_has("fetcher gave up");
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	slot_close(s);
	free_rel(&r);
}

/* The slot path is replaced after the checks at open: refused before the
 * bootloader is touched. */
static void test_slot_replaced(void **state)
{
	struct fx *f = *state;
	struct rel r;
	struct src src;
	slot_release rel;
	slot_result res;
	slot_ctx *s;
	char other[PATH_MAX + 8];

	make_rel(&r, "1.0.0", 100000, 22);
	use_fake(f);
	s = open_slots(f, BOOT_SLOT_A);
	snprintf(other, sizeof(other), "%s.new", f->b);
	fill(other, STALE, SLOT_SIZE);
	assert_int_equal(rename(other, f->b), 0);
	memset(&src, 0, sizeof(src));
	src.r = &r;
	rel = release_of(&r, &src, -1, false);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_POLICY);
	assert_msg_has("was replaced");
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	assert_filled(f->b, STALE, SLOT_SIZE);
	slot_close(s);
	free_rel(&r);
}

/* ---------------- refusals before anything is written ---------------- */

static void expect_open_refused(struct fx *f, slot_opts *o, int code, const char *msg)
{
	slot_ctx *s = NULL;

	assert_int_equal(slot_open(&s, o), code);
	assert_null(s);
	assert_msg_has(msg);
}

static void test_wrong_slot_device(void **state)
{
	struct fx *f = *state;
	char lnk[PATH_MAX], hard[PATH_MAX], sub[PATH_MAX], other[PATH_MAX];
	slot_opts o;

	use_fake(f);
	o = opts_of(f, BOOT_SLOT_A);

	/* a directory */
	snprintf(sub, sizeof(sub), "%s/dir", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	o.slot_b = sub;
	expect_open_refused(f, &o, PAWL_E_POLICY, "not a regular file or a block device");

	/* a symbolic link, even to the right file */
	snprintf(lnk, sizeof(lnk), "%s/link-b", f->dir);
	assert_int_equal(symlink(f->b, lnk), 0);
	o.slot_b = lnk;
	expect_open_refused(f, &o, PAWL_E_POLICY, "symbolic link");

	/* a symbolic link to the booted slot */
	snprintf(lnk, sizeof(lnk), "%s/link-a", f->dir);
	assert_int_equal(symlink(f->a, lnk), 0);
	o.slot_b = lnk;
	expect_open_refused(f, &o, PAWL_E_POLICY, "symbolic link");

	/* a file owned by another user */
	snprintf(other, sizeof(other), "%s/other", f->dir);
	fill(other, STALE, SLOT_SIZE);
	assert_int_equal(chown(other, 65534, 65534), 0);
	o.slot_b = other;
	expect_open_refused(f, &o, PAWL_E_POLICY, "owned by uid 65534");

	/* a file others may write */
	assert_int_equal(chown(other, 0, 0), 0);
	assert_int_equal(chmod(other, 0666), 0);
	expect_open_refused(f, &o, PAWL_E_POLICY, "writable by group or others");

	/* a file in a directory others may write (they could swap it) */
	snprintf(sub, sizeof(sub), "%s/open", f->dir);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	snprintf(other, sizeof(other), "%s/open/slot", f->dir);
	fill(other, STALE, SLOT_SIZE);
	o.slot_b = other;
	expect_open_refused(f, &o, PAWL_E_POLICY, "writable by group or others");

	/* both slots the same file, booted a: writing "b" would be a */
	o.slot_b = f->a;
	expect_open_refused(f, &o, PAWL_E_POLICY, "are the same file");
	/* ... or the same inode under another name */
	snprintf(hard, sizeof(hard), "%s/hard-a", f->dir);
	assert_int_equal(link(f->a, hard), 0);
	o.slot_b = hard;
	expect_open_refused(f, &o, PAWL_E_POLICY, "are the same file");
	o.booted = BOOT_SLOT_B;
	expect_open_refused(f, &o, PAWL_E_POLICY, "are the same file");

	/* missing; relative */
	snprintf(other, sizeof(other), "%s/missing", f->dir);
	o.slot_b = other;
	expect_open_refused(f, &o, PAWL_E_NOT_FOUND, "missing");
	o.slot_b = "slot-b";
	expect_open_refused(f, &o, PAWL_E_INVALID, "not an absolute path");

	/* Nothing was asked of the bootloader, nothing written. */
	assert_string_equal(boot_fake_log(f->boot), "");
	assert_filled(f->a, OLD, SLOT_SIZE);
	assert_filled(f->b, STALE, SLOT_SIZE);
}

static void test_state_dir_unsafe(void **state)
{
	struct fx *f = *state;
	slot_opts o;

	use_fake(f);
	o = opts_of(f, BOOT_SLOT_A);
	assert_int_equal(mkdir(f->state, 0700), 0);
	assert_int_equal(chmod(f->state, 0777), 0);
	expect_open_refused(f, &o, PAWL_E_POLICY, "writable by group or others");
	assert_int_equal(chmod(f->state, 0755), 0);
	assert_int_equal(chown(f->state, 65534, 0), 0);
	expect_open_refused(f, &o, PAWL_E_POLICY, "owned by uid 65534");
	assert_int_equal(chown(f->state, 0, 0), 0);
	slot_close(open_slots(f, BOOT_SLOT_A));
}

static void test_corrupt_state(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 16];
	slot_opts o;
	static const char *const bad[] = {
		"{}",
		"not json",
		"{\"format\":1,\"a\":{\"version\":null,\"recovery\":false},\"b\":{\"version\":null,"
		"\"recovery\":false},\"highest\":null,\"bad\":[],\"pending\":\"b\",\"last\":null,"
		"\"journal\":null}\n", /* pending a slot of unknown version */
		"{\"format\":1,\"a\":{\"version\":null,\"recovery\":false},\"b\":{\"version\":\"1.0\","
		"\"recovery\":false},\"highest\":null,\"bad\":[],\"pending\":null,\"last\":null,"
		"\"journal\":null}\n", /* not SemVer */
		"{\"format\":1,\"a\":{\"version\":null,\"recovery\":false},\"b\":{\"version\":null,"
		"\"recovery\":false},\"highest\":null,\"bad\":[],\"pending\":null,\"last\":null,"
		"\"journal\":null,\"extra\":1}\n",
	};

	use_fake(f);
	o = opts_of(f, BOOT_SLOT_A);
	assert_int_equal(mkdir(f->state, 0755), 0);
	snprintf(path, sizeof(path), "%s/slots.json", f->state);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_write_file(path, bad[i], strlen(bad[i]));
		expect_open_refused(f, &o, PAWL_E_FORMAT, "slots.json");
	}
}

/* Round trip of a full state through the codec. */
static void test_state_codec(void **state)
{
	slot_state st, back;
	char *text = NULL, *copy;
	size_t len;

	(void)state;
	memset(&st, 0, sizeof(st));
	snprintf(st.slot[0].version, sizeof(st.slot[0].version), "1.2.0");
	st.slot[0].recovery = true;
	snprintf(st.highest, sizeof(st.highest), "2.0.0");
	snprintf(st.bad[0], sizeof(st.bad[0]), "2.1.0");
	st.nbad = 1;
	st.pending = BOOT_SLOT_NONE;
	st.last_time = 1735689600;
	st.last_outcome = SLOT_INTERRUPTED;
	snprintf(st.last_version, sizeof(st.last_version), "2.2.0");
	st.last_slot = BOOT_SLOT_B;
	st.journal = BOOT_SLOT_B;
	snprintf(st.journal_version, sizeof(st.journal_version), "2.2.0");
	t_ok(slot_state_serialize(&st, &text, &len));
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, text, len + 1);
	t_ok(slot_state_parse(&back, copy, len, "test"));
	assert_memory_equal(&back, &st, sizeof(st));
	free(text);
}

static void test_short_slot(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;

	make_rel(&r, "1.0.0", 300000, 3);
	use_fake(f);
	fill(f->b, STALE, 200000);
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_LIMIT);
	assert_msg_has("the image needs 300000");
	/* Refused before the bootloader was touched or a byte written. */
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	assert_filled(f->b, STALE, 200000);
	assert_int_equal(read_state(f).journal, BOOT_SLOT_NONE);
	free_rel(&r);
}

static void test_tampered_index(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;

	make_rel(&r, "1.0.0", 100000, 4);
	use_fake(f);
	r.stream.data[10] ^= 1;
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_HASH);
	assert_msg_has("image index");
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	assert_filled(f->b, STALE, SLOT_SIZE);
	free_rel(&r);
}

/* The index names another image than the signed custom data. */
static void test_index_mismatch(void **state)
{
	struct fx *f = *state;
	struct rel r, other;
	slot_result res;

	make_rel(&r, "1.0.0", 100000, 5);
	make_rel(&other, "1.0.0", 100000, 6);
	use_fake(f);
	memcpy(r.image_hex, other.image_hex, sizeof(r.image_hex));
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_HASH);
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	assert_filled(f->b, STALE, SLOT_SIZE);
	free_rel(&r);
	free_rel(&other);
}

/* A byte flipped in the pack on the server: refused at that piece, the
 * old slot still boots, the target is bad and recorded as unknown. */
static void test_tampered_piece(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;
	slot_state st;

	make_rel(&r, "1.0.0", 300000, 7);
	use_grub(f, false);
	r.stream.data[r.idxlen + r.packlen / 2] ^= 0x40;
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_HASH);
	assert_msg_has("piece");
	st = read_state(f);
	assert_int_equal(st.journal, BOOT_SLOT_NONE);
	assert_int_equal(st.pending, BOOT_SLOT_NONE);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	assert_int_equal(st.last_outcome, SLOT_ERROR);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(boot_once(f), 'a');
		(void)after(f, BOOT_SLOT_A, slot_mark_good);
	}
	/* b was good before; a half-written b must not be the fallback. */
	t_ok(boot_set_state(f->boot, BOOT_SLOT_A, BOOT_BAD));
	assert_int_equal(boot_once(f), 'n');
	free_rel(&r);
}

/* The stream ends early: PAWL_E_LENGTH, the old slot boots. */
static void test_truncated_stream(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;

	make_rel(&r, "1.0.0", 300000, 8);
	use_grub(f, false);
	r.stream.len -= 100;
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_LENGTH);
	assert_int_equal(boot_once(f), 'a');
	free_rel(&r);
}

/* A write that fails halfway (here: the file size limit, as a full disk
 * would): an error, and the old slot boots. */
static void test_write_fails(void **state)
{
	struct fx *f = *state;
	struct rel r;
	int status;
	pid_t pid;

	make_rel(&r, "1.0.0", 300000, 9);
	use_grub(f, false);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 100000, 100000 };
		slot_result res;
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(99);
		rc = install(f, BOOT_SLOT_A, &r, false, &res);
		fprintf(stderr, "install in a 100000-byte file limit: %d %s\n", rc,
			pawl_error_last()->message);
		_exit(rc == PAWL_E_IO ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read_state(f).journal, BOOT_SLOT_NONE);
	assert_int_equal(boot_once(f), 'a');
	free_rel(&r);
}

/* The booted slot is not confirmed: an update would overwrite the only
 * slot known to boot. */
static void test_booted_unconfirmed(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;

	make_rel(&r, "1.0.0", 50000, 10);
	use_grub(f, false);
	assert_int_equal(boot_once(f), 'a'); /* A_TRY=1 until confirmed */
	assert_int_equal(install(f, BOOT_SLOT_A, &r, false, &res), PAWL_E_POLICY);
	assert_msg_has("not confirmed");
	assert_filled(f->b, STALE, SLOT_SIZE);
	(void)after(f, BOOT_SLOT_A, slot_confirm);
	t_ok(install(f, BOOT_SLOT_A, &r, false, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	free_rel(&r);
}

/* ---------------- forward only, confirm, fallback ---------------- */

static void test_update_confirm_forward_only(void **state)
{
	struct fx *f = *state;
	struct rel r1, r0, r2;
	slot_result res;
	slot_state st;

	make_rel(&r1, "1.0.0", 200000, 11);
	make_rel(&r0, "0.9.0", 200000, 12);
	make_rel(&r2, "2.0.0", 200000, 13);
	use_grub(f, false);

	t_ok(install(f, BOOT_SLOT_A, &r1, false, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	/* Again before the reboot: already waiting. */
	t_ok(install(f, BOOT_SLOT_A, &r1, false, &res));
	assert_int_equal(res.outcome, SLOT_ALREADY_PENDING);
	assert_true(res.reboot);
	/* A lower one does not replace it, although nothing is confirmed. */
	t_ok(install(f, BOOT_SLOT_A, &r0, false, &res));
	assert_int_equal(res.outcome, SLOT_REFUSED_DOWNGRADE);
	assert_non_null(strstr(res.message, "waits in slot b"));
	assert_int_equal(read_state(f).pending, BOOT_SLOT_B);

	assert_int_equal(boot_once(f), 'b');
	res = after(f, BOOT_SLOT_B, slot_confirm);
	assert_int_equal(res.outcome, SLOT_CONFIRMED);
	assert_string_equal(res.version, "1.0.0");
	st = read_state(f);
	assert_string_equal(st.highest, "1.0.0");
	assert_int_equal(st.pending, BOOT_SLOT_NONE);
	assert_int_equal(boot_once(f), 'b');
	(void)after(f, BOOT_SLOT_B, slot_confirm);

	/* Forward only. */
	t_ok(install(f, BOOT_SLOT_B, &r1, false, &res));
	assert_int_equal(res.outcome, SLOT_ALREADY_CURRENT);
	t_ok(install(f, BOOT_SLOT_B, &r0, false, &res));
	assert_int_equal(res.outcome, SLOT_REFUSED_DOWNGRADE);
	assert_non_null(strstr(res.message, "not higher than 1.0.0"));
	assert_filled(f->a, OLD, SLOT_SIZE);
	assert_int_equal(read_state(f).last_outcome, SLOT_REFUSED_DOWNGRADE);

	/* ... unless signed as recovery; that does not lower highest. */
	t_ok(install(f, BOOT_SLOT_B, &r0, true, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	assert_int_equal(res.slot, BOOT_SLOT_A);
	assert_holds(f->a, &r0);
	assert_int_equal(boot_once(f), 'a');
	(void)after(f, BOOT_SLOT_A, slot_confirm);
	st = read_state(f);
	assert_string_equal(st.highest, "1.0.0");
	assert_true(st.slot[BOOT_SLOT_A].recovery);

	/* A health check that fails marks the new slot bad: reboot, and
	 * the old one boots; that version is never installed again. */
	t_ok(install(f, BOOT_SLOT_A, &r2, false, &res));
	assert_int_equal(res.slot, BOOT_SLOT_B);
	assert_int_equal(boot_once(f), 'b');
	{
		slot_opts o = opts_of(f, BOOT_SLOT_B);
		slot_ctx *s = NULL;

		o.health_cmd = "test \"$PAWL_SLOT\" = b && test \"$PAWL_VERSION\" = 2.0.0 && exit 3";
		t_ok(slot_open(&s, &o));
		t_ok(slot_confirm(s, &res));
		slot_close(s);
	}
	assert_int_equal(res.outcome, SLOT_HEALTH_FAILED);
	assert_true(res.reboot);
	assert_true(res.health_ran);
	assert_int_equal(WEXITSTATUS(res.health_status), 3);
	assert_int_equal(boot_once(f), 'a');
	(void)after(f, BOOT_SLOT_A, slot_confirm);
	st = read_state(f);
	assert_string_equal(st.highest, "1.0.0");
	assert_int_equal(st.nbad, 1);
	assert_string_equal(st.bad[0], "2.0.0");
	t_ok(install(f, BOOT_SLOT_A, &r2, false, &res));
	assert_int_equal(res.outcome, SLOT_REFUSED_BAD);
	t_ok(install(f, BOOT_SLOT_A, &r2, true, &res));
	assert_int_equal(res.outcome, SLOT_REFUSED_BAD);
	free_rel(&r1);
	free_rel(&r0);
	free_rel(&r2);
}

/* A new slot that is never confirmed: GRUB falls back after its try; the
 * next confirm on the old slot records the failed version as bad, never
 * as installed. */
static void test_fallback(void **state)
{
	struct fx *f = *state;
	struct rel r1, r2;
	slot_result res;
	slot_state st;

	make_rel(&r1, "1.0.0", 100000, 14);
	make_rel(&r2, "1.1.0", 100000, 15);
	use_grub(f, false);
	t_ok(install(f, BOOT_SLOT_A, &r1, false, &res));
	assert_int_equal(boot_once(f), 'b');
	(void)after(f, BOOT_SLOT_B, slot_confirm);

	t_ok(install(f, BOOT_SLOT_B, &r2, false, &res));
	assert_int_equal(res.slot, BOOT_SLOT_A);
	/* A confirm before the reboot leaves the update pending. */
	res = after(f, BOOT_SLOT_B, slot_confirm);
	assert_string_equal(res.fell_back, "");
	assert_int_equal(read_state(f).pending, BOOT_SLOT_A);
	assert_int_equal(boot_once(f), 'a');
	/* ... a hangs before confirm; the watchdog resets ... */
	assert_int_equal(boot_once(f), 'b');
	res = after(f, BOOT_SLOT_B, slot_confirm);
	assert_int_equal(res.outcome, SLOT_CONFIRMED);
	assert_string_equal(res.fell_back, "1.1.0");
	st = read_state(f);
	assert_string_equal(st.highest, "1.0.0");
	assert_int_equal(st.pending, BOOT_SLOT_NONE);
	assert_int_equal(st.nbad, 1);
	assert_string_equal(st.bad[0], "1.1.0");
	/* a is marked bad: even when b once fails to confirm, a gets no new
	 * try. */
	assert_int_equal(boot_once(f), 'b');
	assert_int_equal(boot_once(f), 'b');
	t_ok(install(f, BOOT_SLOT_B, &r2, false, &res));
	assert_int_equal(res.outcome, SLOT_REFUSED_BAD);
	free_rel(&r1);
	free_rel(&r2);
}

/* mark-bad falls back at once; mark-good keeps the slot. */
static void test_mark_bad_good(void **state)
{
	struct fx *f = *state;
	struct rel r1;
	slot_result res;
	slot_status sts;
	slot_ctx *s;

	make_rel(&r1, "1.0.0", 100000, 16);
	use_grub(f, false);
	t_ok(install(f, BOOT_SLOT_A, &r1, false, &res));
	assert_int_equal(boot_once(f), 'b');
	res = after(f, BOOT_SLOT_B, slot_mark_bad);
	assert_int_equal(res.outcome, SLOT_MARKED_BAD);
	assert_true(res.reboot);
	assert_int_equal(boot_once(f), 'a');
	res = after(f, BOOT_SLOT_A, slot_mark_good);
	assert_int_equal(res.outcome, SLOT_MARKED_GOOD);
	assert_int_equal(boot_once(f), 'a');

	s = open_slots(f, BOOT_SLOT_A);
	t_ok(slot_status_get(s, &sts));
	slot_close(s);
	assert_string_equal(sts.slot[1].path, f->b);
	assert_string_equal(sts.slot[1].record.version, "1.0.0");
	assert_true(sts.slot[1].state_known);
	assert_int_equal(sts.slot[1].state, BOOT_BAD);
	assert_true(sts.slot[0].booted);
	/* a booted once more, not yet confirmed: GRUB has no primary */
	assert_int_equal(sts.primary, BOOT_SLOT_NONE);
	assert_int_equal(sts.state.nbad, 1);
	free_rel(&r1);
}

/* ---------------- kill -9 at any instant ---------------- */

/*
 * The child installs from a pipe; the parent writes `upto` bytes of the
 * stream into it (all of it when upto is the stream's length) and kills
 * the child with SIGKILL. With upto short of the stream, the kill lands
 * mid-write; a wrapper around grub-editenv kills it inside the bootloader
 * calls (see test_kill). Returns the child's status.
 */
static int install_killed(struct fx *f, const struct rel *r, size_t upto, bool kill_at_end)
{
	int p[2], status;
	size_t off = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		slot_release rel = release_of(r, NULL, p[0], false);
		slot_result res;
		slot_ctx *s = NULL;
		int rc;

		close(p[1]);
		rel.read = NULL;
		if (slot_open(&s, &(slot_opts){ SLOT_OPTS_VERSION, f->state, f->a, f->b, f->boot,
						BOOT_SLOT_A, NULL, 0, 10, false, false }) < 0)
			_exit(3);
		rc = slot_install(s, &rel, &res);
		_exit(rc == 0 && res.outcome == SLOT_SWITCHED ? 0 : 4);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	while (off < upto) {
		size_t n = upto - off > 8192 ? 8192 : upto - off;
		ssize_t k = write(p[1], r->stream.data + off, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break; /* the child is gone (a kill inside a boot call) */
		off += (size_t)k;
	}
	if (kill_at_end)
		kill(pid, SIGKILL);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void write_wrapper(struct fx *f, const char *match, const char *when)
{
	char body[2048];
	FILE *fp;

	/* Runs as grub-editenv: on the call whose arguments contain match,
	 * kills its parent (the installer) before or after doing the work. */
	snprintf(body, sizeof(body),
		 "#!/bin/sh\n"
		 "case \"$*\" in\n"
		 "*'%s'*)\n"
		 "  if [ '%s' = before ]; then kill -9 $PPID; exit 1; fi\n"
		 "  " GRUB_EDITENV " \"$@\"; rc=$?; kill -9 $PPID; exit $rc;;\n"
		 "esac\n"
		 "exec " GRUB_EDITENV " \"$@\"\n",
		 match, when);
	fp = fopen(f->editenv, "w");
	assert_non_null(fp);
	fputs(body, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(f->editenv, 0755), 0);
}

static void test_kill(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;
	slot_state st;
	int status, kills = 0;
	static const struct {
		const char *match, *when;
	} inside[] = {
		{ "B_OK=0", "before" },        /* marking b bad */
		{ "B_OK=0", "after" },         /* ... done in the copy, not renamed */
		{ "ORDER=B A", "before" },     /* the switch */
		{ "ORDER=B A", "after" },      /* ... done in the copy, not renamed */
	};

	make_rel(&r, "1.0.0", 1u << 20, 17);
	write_wrapper(f, "no call matches this", "before");
	use_grub(f, true);

	/* Killed after n bytes of the stream, n across the index and pack. */
	for (size_t i = 0; i <= 24; i++) {
		size_t upto = i == 0 ? r.idxlen / 2 : r.idxlen + (r.packlen * (i - 1)) / 24;

		if (upto >= r.stream.len)
			upto = r.stream.len - 1;
		status = install_killed(f, &r, upto, true);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		kills++;
		/* The old slot boots; confirming it also undoes the journal. */
		assert_int_equal(boot_once(f), 'a');
		res = after(f, BOOT_SLOT_A, slot_mark_good);
		st = read_state(f);
		assert_int_equal(st.journal, BOOT_SLOT_NONE);
		assert_int_equal(st.pending, BOOT_SLOT_NONE);
		assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	}

	/* Killed inside the bootloader writes. */
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		write_wrapper(f, inside[i].match, inside[i].when);
		status = install_killed(f, &r, r.stream.len, false);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		kills++;
		write_wrapper(f, "no call matches this", "before");
		assert_int_equal(boot_once(f), 'a');
		(void)after(f, BOOT_SLOT_A, slot_mark_good);
		st = read_state(f);
		assert_int_equal(st.journal, BOOT_SLOT_NONE);
		assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	}

	/* After all that, a run to the end completes, and the new slot boots. */
	write_wrapper(f, "no call matches this", "before");
	status = install_killed(f, &r, r.stream.len, false);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_holds(f->b, &r);
	assert_int_equal(boot_once(f), 'b');
	res = after(f, BOOT_SLOT_B, slot_confirm);
	assert_int_equal(res.outcome, SLOT_CONFIRMED);
	assert_string_equal(read_state(f).highest, "1.0.0");
	assert_true(kills >= 29);
	free_rel(&r);
}

/* The switch landed, the process died before recording it: recovery
 * finishes the commit from what the bootloader says. */
static void test_recover_after_switch(void **state)
{
	struct fx *f = *state;
	struct rel r;
	slot_result res;
	slot_state st;
	slot_ctx *s;
	char path[PATH_MAX + 16];
	char *text = NULL;
	size_t len;

	make_rel(&r, "1.0.0", 100000, 18);
	use_grub(f, false);
	t_ok(install(f, BOOT_SLOT_A, &r, false, &res));
	/* Put the journal back as it was just before the commit. */
	st = read_state(f);
	st.slot[BOOT_SLOT_B].version[0] = '\0';
	st.pending = BOOT_SLOT_NONE;
	st.journal = BOOT_SLOT_B;
	snprintf(st.journal_version, sizeof(st.journal_version), "1.0.0");
	t_ok(slot_state_serialize(&st, &text, &len));
	snprintf(path, sizeof(path), "%s/slots.json", f->state);
	t_write_file(path, text, len);
	free(text);
	s = open_slots(f, BOOT_SLOT_A);
	t_ok(slot_recover(s, &res));
	slot_close(s);
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	st = read_state(f);
	assert_int_equal(st.pending, BOOT_SLOT_B);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "1.0.0");
	assert_int_equal(boot_once(f), 'b');
	free_rel(&r);
}

/* A journal whose target the bootloader does not show as switched: undone,
 * and the target made bad again whatever state it was left in (here good
 * but not primary), since it may hold half an image. */
static void test_recover_undo(void **state)
{
	struct fx *f = *state;
	slot_state st;
	slot_result res;
	slot_ctx *s;
	boot_state bs;
	char path[PATH_MAX + 16];
	char *text = NULL;
	size_t len;

	use_fake(f);
	memset(&st, 0, sizeof(st));
	st.pending = st.last_slot = BOOT_SLOT_NONE;
	st.journal = BOOT_SLOT_B;
	snprintf(st.journal_version, sizeof(st.journal_version), "3.0.0");
	t_ok(slot_state_serialize(&st, &text, &len));
	assert_int_equal(mkdir(f->state, 0755), 0);
	snprintf(path, sizeof(path), "%s/slots.json", f->state);
	t_write_file(path, text, len);
	free(text);
	t_ok(boot_set_state(f->boot, BOOT_SLOT_B, BOOT_GOOD));
	s = open_slots(f, BOOT_SLOT_A);
	t_ok(slot_recover(s, &res));
	slot_close(s);
	assert_int_equal(res.outcome, SLOT_INTERRUPTED);
	assert_string_equal(res.version, "3.0.0");
	t_ok(boot_get_state(f->boot, BOOT_SLOT_B, &bs));
	assert_int_equal(bs, BOOT_BAD);
	st = read_state(f);
	assert_int_equal(st.journal, BOOT_SLOT_NONE);
	assert_int_equal(st.pending, BOOT_SLOT_NONE);
	assert_string_equal(st.slot[BOOT_SLOT_B].version, "");
	assert_int_equal(st.last_outcome, SLOT_INTERRUPTED);
}

/* Block device slots: loop devices over files (autoclear: they go when
 * the last descriptor closes, even if the test dies). Skipped where loop
 * devices cannot be had (not root, a container without them). */
static int loop_attach(const char *backing, char *dev, size_t n)
{
	struct loop_info64 info;
	int ctl, num, lfd, bfd;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -1;
	num = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (num < 0)
		return -1;
	snprintf(dev, n, "/dev/loop%d", num);
	lfd = open(dev, O_RDWR | O_CLOEXEC);
	bfd = open(backing, O_RDWR | O_CLOEXEC);
	if (lfd < 0 || bfd < 0 || ioctl(lfd, LOOP_SET_FD, bfd) != 0) {
		if (lfd >= 0)
			close(lfd);
		if (bfd >= 0)
			close(bfd);
		return -1;
	}
	close(bfd);
	memset(&info, 0, sizeof(info));
	info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(lfd, LOOP_SET_STATUS64, &info) != 0) {
		ioctl(lfd, LOOP_CLR_FD, 0);
		close(lfd);
		return -1;
	}
	return lfd;
}

static void test_block_devices(void **state)
{
	struct fx *f = *state;
	char deva[64], devb[64];
	struct rel r;
	slot_opts o;
	slot_result res;
	slot_ctx *s = NULL;
	struct src src;
	slot_release rel;
	int la, lb, excl;

	la = loop_attach(f->a, deva, sizeof(deva));
	if (la < 0)
		skip();
	lb = loop_attach(f->b, devb, sizeof(devb));
	assert_true(lb >= 0);
	make_rel(&r, "1.0.0", 300000, 29);
	use_fake(f);
	o = opts_of(f, BOOT_SLOT_A);
	o.slot_a = deva;
	o.slot_b = deva;
	expect_open_refused(f, &o, PAWL_E_POLICY, "are the same file or device");
	o.slot_b = devb;

	/* held exclusively (as a mounted device is): refused before the
	 * bootloader is touched */
	excl = open(devb, O_RDONLY | O_EXCL | O_CLOEXEC);
	assert_true(excl >= 0);
	t_ok(slot_open(&s, &o));
	memset(&src, 0, sizeof(src));
	src.r = &r;
	rel = release_of(&r, &src, -1, false);
	assert_int_equal(slot_install(s, &rel, &res), PAWL_E_POLICY);
	assert_msg_has("in use");
	assert_string_equal(boot_fake_log(f->boot), "get-state a\n");
	close(excl);

	/* written through the device, fsynced, read back from it */
	memset(&src, 0, sizeof(src));
	src.r = &r;
	rel = release_of(&r, &src, -1, false);
	t_ok(slot_install(s, &rel, &res));
	assert_int_equal(res.outcome, SLOT_SWITCHED);
	slot_close(s);
	close(la);
	close(lb);
	assert_holds(f->b, &r);
	assert_filled(f->a, OLD, SLOT_SIZE);
	free_rel(&r);
}

/* A file-backed slot that lives on the other slot's device would be
 * overwritten with it. The device that holds the test's slot file is
 * looked up in /dev (only opened read-only, and refused before anything
 * else); skipped where it has no node there (tmpfs, overlay). */
static void test_file_on_other_device(void **state)
{
	struct fx *f = *state;
	struct stat fst, st;
	char dev[PATH_MAX], found[PATH_MAX] = "";
	struct dirent *de;
	slot_opts o;
	DIR *d;

	assert_int_equal(stat(f->a, &fst), 0);
	d = opendir("/dev");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
		if (lstat(dev, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == fst.st_dev) {
			snprintf(found, sizeof(found), "%s", dev);
			break;
		}
	}
	closedir(d);
	if (!found[0]) {
		fprintf(stderr, "test_file_on_other_device: no node in /dev for the device of %s\n", f->a);
		skip();
	}
	{
		int fd = open(found, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0) {
			fprintf(stderr, "test_file_on_other_device: cannot open %s here: %s\n", found,
				strerror(errno));
			skip();
		}
		close(fd);
	}
	use_fake(f);
	o = opts_of(f, BOOT_SLOT_A);
	o.slot_b = found;
	expect_open_refused(f, &o, PAWL_E_POLICY, "are the same file or device");
	o.slot_a = found;
	o.slot_b = f->b;
	expect_open_refused(f, &o, PAWL_E_POLICY, "are the same file or device");
	assert_string_equal(boot_fake_log(f->boot), "");
}

/* Only one agent at a time. */
/* slot_pread_direct, the read of the read-back and the seed scan: with
 * O_DIRECT, then through the page cache where O_DIRECT is refused (here a
 * buffer it cannot take: pread says EINVAL, as a file system without
 * O_DIRECT would), and a file shorter than asked. */
static void test_pread_direct(void **state)
{
	struct fx *f = *state;
	size_t n = 3 * SLOT_IO_ALIGN + 100; /* not a multiple: the last request is rounded up */
	uint8_t *want = malloc(n), *buf = NULL;
	int fd, flags;
	bool direct;

	assert_non_null(want);
	for (size_t i = 0; i < n; i++)
		want[i] = (uint8_t)(i * 7 + 3);
	{
		FILE *fp = fopen(f->a, "w");

		assert_non_null(fp);
		assert_int_equal(fwrite(want, 1, n, fp), n);
		assert_int_equal(fclose(fp), 0);
	}
	assert_int_equal(posix_memalign((void **)&buf, SLOT_IO_ALIGN, 5 * SLOT_IO_ALIGN), 0);
	fd = open(f->a, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	direct = fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
	if (!direct) {
		print_message("# no O_DIRECT on %s: only the page cache path is tested\n", f->dir);
	} else {
		/* aligned: O_DIRECT stays, and the tail past the file is fine */
		memset(buf, 0, 5 * SLOT_IO_ALIGN);
		t_ok(slot_pread_direct(fd, flags, &direct, true, buf, n, 0, "slot a"));
		assert_true(direct);
		assert_memory_equal(buf, want, n);
		assert_true(fcntl(fd, F_GETFL) & O_DIRECT);
		/* a buffer O_DIRECT refuses: EINVAL, then the page cache */
		memset(buf, 0, 5 * SLOT_IO_ALIGN);
		t_ok(slot_pread_direct(fd, flags, &direct, true, buf + 1, n - SLOT_IO_ALIGN,
				       SLOT_IO_ALIGN, "slot a"));
		assert_false(direct);
		assert_false(fcntl(fd, F_GETFL) & O_DIRECT);
		assert_memory_equal(buf + 1, want + SLOT_IO_ALIGN, n - SLOT_IO_ALIGN);
	}
	/* through the page cache, at any offset */
	memset(buf, 0, 5 * SLOT_IO_ALIGN);
	t_ok(slot_pread_direct(fd, flags, &direct, false, buf, 1000, 17, "slot a"));
	assert_memory_equal(buf, want + 17, 1000);
	/* more than the file holds: an error that names it */
	assert_int_equal(slot_pread_direct(fd, flags, &direct, true, buf, n, SLOT_IO_ALIGN, "slot a"),
			 PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "slot a ends at"));
	close(fd);
	free(buf);
	free(want);
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	slot_opts o;
	slot_ctx *s, *t = NULL;

	use_fake(f);
	/* status on a device that never updated: no state directory yet,
	 * and none is created */
	o = opts_of(f, BOOT_SLOT_A);
	o.readonly = true;
	t_ok(slot_open(&t, &o));
	{
		slot_status sts;
		struct stat st;

		t_ok(slot_status_get(t, &sts));
		assert_string_equal(sts.slot[0].record.version, "");
		assert_int_equal(sts.state.pending, BOOT_SLOT_NONE);
		assert_int_equal(stat(f->state, &st), -1);
	}
	slot_close(t);
	t = NULL;
	s = open_slots(f, BOOT_SLOT_A);
	o = opts_of(f, BOOT_SLOT_A);
	o.lock_timeout_s = 0;
	assert_int_equal(slot_open(&t, &o), PAWL_E_LOCKED);
	/* status needs no lock */
	o.readonly = true;
	t_ok(slot_open(&t, &o));
	slot_close(t);
	slot_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switch_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readback_later_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readback_during_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_pending_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_pending_state_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_slot_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_unsafe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_codec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_piece, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_booted_unconfirmed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_confirm_forward_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_bad_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_after_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_on_other_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pread_direct, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * slot.c - the slot installer: configuration checks, the forward-only
 * decision, the streaming write into the inactive slot, the switch, crash
 * recovery, confirm, mark-good/bad and status. slot.h has the guarantees
 * and the order of one update; this file keeps to it.
 *
 * The crash-safety argument, in one place:
 *  1. Before the first byte of the target is written, the bootloader has
 *     been told the target is bad (boot_set_state, one atomic write of its
 *     environment), and only then is the journal written. So whenever the
 *     journal says "writing", the bootloader will not try the target.
 *  2. The only call that makes the target bootable again is
 *     boot_set_primary, made after the decoder proved every piece, the
 *     pack matched its signed hashes, the slot was fsynced and the whole
 *     image read back from it matched the index's sha256 (or, with the
 *     read-back off, the decoder's running hash of the whole image did).
 *     It is one atomic write: before it lands the old slot boots, after
 *     it the complete new one is tried.
 *  3. After a crash the journal alone cannot tell whether 2 landed; the
 *     bootloader can: the target primary and good means it did (the
 *     target was made bad in 1, and only 2 makes it good again). So
 *     recovery finishes the commit, or marks the target bad once more and
 *     forgets its version.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/boot_impl.h"
#include "crypto/crypto.h"
#include "image/image.h"
#include "install/install_impl.h"
#include "metadata/metadata.h"
#include "slot/slot.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/io.h"

#define STREAM_CHUNK ((size_t)1 << 16)
#define READBACK_CHUNK ((size_t)128 << 10)
#define READBACK_BLOCKS 4  /* buffers, in turn */
#define READBACK_READERS 2 /* reads in flight; divides READBACK_BLOCKS */
#define READBACK_LAG ((uint64_t)1 << 20) /* written ahead of a block before it is synced */
_Static_assert(READBACK_BLOCKS % READBACK_READERS == 0, "each reader reuses its own buffers");

struct slot_ctx {
	char *state_dir;
	char *path[2];
	struct stat id[2];  /* each slot as checked at open */
	int rfd[2];         /* read-only, for the read-back */
	boot_backend *boot;
	boot_slot booted;
	char *health_cmd;
	unsigned health_timeout_ms;
	bool readonly;
	bool skip_readback;
	int state_fd;
	pawl_lock *lock;
	slot_state st;
};

/* ---------------- small helpers ---------------- */

struct saved_err {
	char msg[1024];
};

static void err_save(struct saved_err *e)
{
	snprintf(e->msg, sizeof(e->msg), "%s", pawl_error_last()->message);
}

static int err_restore(const struct saved_err *e, int code)
{
	return pawl_error_set(code, "%s", e->msg);
}

static void result_msg(slot_result *res, const char *fmt, ...) PAWL_PRINTF(2, 3);
static void result_msg(slot_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

static void set_str(char dst[SEMVER_MAX_LEN + 1], const char *src)
{
	size_t n = src ? strnlen(src, SEMVER_MAX_LEN) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* Both versions were validated on the way in. */
static int vcmp(const char *a, const char *b)
{
	semver va, vb;

	if (semver_parse(a, &va) < 0 || semver_parse(b, &vb) < 0) {
		pawl_error_clear();
		return 0;
	}
	return semver_cmp(&va, &vb);
}

static bool is_bad(const slot_state *st, const char *version)
{
	for (uint32_t i = 0; i < st->nbad; i++)
		if (vcmp(st->bad[i], version) == 0)
			return true;
	return false;
}

static void add_bad(slot_state *st, const char *version)
{
	if (!version[0] || is_bad(st, version))
		return;
	if (st->nbad == SLOT_MAX_BAD) {
		/* Drop the lowest: the one least likely to be offered again. */
		uint32_t low = 0;

		for (uint32_t i = 1; i < st->nbad; i++)
			if (vcmp(st->bad[i], st->bad[low]) < 0)
				low = i;
		memmove(st->bad[low], st->bad[low + 1],
			(size_t)(st->nbad - low - 1) * sizeof(st->bad[0]));
		st->nbad--;
	}
	set_str(st->bad[st->nbad++], version);
}

static const char *or_unknown(const char *v)
{
	return v[0] ? v : "an unknown version";
}

/* ---------------- checking the configuration ---------------- */

static bool same_file(const struct stat *x, const struct stat *y)
{
	if (S_ISBLK(x->st_mode) && S_ISBLK(y->st_mode))
		return x->st_rdev == y->st_rdev;
	if (S_ISREG(x->st_mode) && S_ISREG(y->st_mode))
		return x->st_dev == y->st_dev && x->st_ino == y->st_ino;
	/* A file-backed slot on the file system of the other slot's device
	 * would be overwritten with it. */
	if (S_ISREG(x->st_mode))
		return x->st_dev == y->st_rdev;
	return y->st_dev == x->st_rdev;
}

/*
 * One slot path, before anything else: no symbolic link, a regular file
 * or a block device, nobody but root able to change or swap it (a regular
 * file owned by root and not writable by others). Opens it read-only (for the read-back) and
 * checks the descriptor is what was looked at.
 */
static int check_slot(const char *path, const char *name, struct stat *ret_st, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat lst, st;
	char kind[16];

	ENSURE(path && path[0] == '/', PAWL_E_INVALID, "%s: \"%s\" is not an absolute path", name,
	       path ? path : "");
	if (lstat(path, &lst) < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "%s %s", name, path);
	ENSURE(!S_ISLNK(lst.st_mode), PAWL_E_POLICY,
	       "%s %s is a symbolic link; configure the device or file it points to", name, path);
	ENSURE(S_ISREG(lst.st_mode) || S_ISBLK(lst.st_mode), PAWL_E_POLICY,
	       "%s %s is not a regular file or a block device", name, path);
	snprintf(kind, sizeof(kind), "%s", name);
	/* A regular file and every directory above it owned by root (or us,
	 * and we are root) and not writable by group or others. */
	GUARD(boot_check_device(path, kind));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s %s", name, path);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s %s", name, path);
	ENSURE(st.st_dev == lst.st_dev && st.st_ino == lst.st_ino, PAWL_E_POLICY,
	       "%s %s changed while it was checked", name, path);
	*ret_st = st;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* state_dir holds what stops a downgrade: root's alone. */
static int open_state_dir(const char *dir, bool create, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (create)
		GUARD(dir_create(dir, 0755));
	r = dir_open(dir, &fd);
	if (r == PAWL_E_NOT_FOUND && !create) {
		/* status before the first update: nothing recorded yet */
		pawl_error_clear();
		*ret_fd = -1;
		return 0;
	}
	GUARD(r);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat state directory %s", dir);
	ENSURE(st.st_uid == geteuid(), PAWL_E_POLICY,
	       "state directory %s is owned by uid %u, not by us (uid %u)", dir,
	       (unsigned)st.st_uid, (unsigned)geteuid());
	ENSURE(!(st.st_mode & (S_IWGRP | S_IWOTH)), PAWL_E_POLICY,
	       "state directory %s is writable by group or others (mode %04o)", dir,
	       (unsigned)(st.st_mode & 07777));
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void empty_state(slot_state *st)
{
	memset(st, 0, sizeof(*st));
	st->pending = st->last_slot = st->journal = BOOT_SLOT_NONE;
}

static int load_state(slot_ctx *s)
{
	char *buf = NULL;
	char what[PATH_MAX + 16];
	size_t len;
	int r;

	if (s->state_fd < 0) {
		empty_state(&s->st);
		return 0;
	}
	snprintf(what, sizeof(what), "%s/" SLOT_STATE_FILE, s->state_dir);
	r = file_read_at(s->state_fd, SLOT_STATE_FILE, (size_t)1 << 20, &buf, &len);
	if (r == PAWL_E_NOT_FOUND) {
		pawl_error_clear();
		empty_state(&s->st);
		return 0;
	}
	GUARD(r);
	return slot_state_parse(&s->st, buf, len, what);
}

int slot_open(slot_ctx **ret, const slot_opts *opts)
{
	slot_ctx *s;
	int r;

	ENSURE(ret && opts && opts->version == SLOT_OPTS_VERSION, PAWL_E_INVALID,
	       "slot installer: bad options");
	ENSURE(opts->state_dir && opts->boot, PAWL_E_INVALID,
	       "slot installer: no state directory or no bootloader");
	ENSURE(opts->booted == BOOT_SLOT_NONE || opts->booted == BOOT_SLOT_A ||
		       opts->booted == BOOT_SLOT_B,
	       PAWL_E_INVALID, "slot installer: bad booted slot");
	s = xcalloc(1, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	s->rfd[0] = s->rfd[1] = s->state_fd = -1;
	s->boot = opts->boot;
	s->readonly = opts->readonly;
	s->skip_readback = opts->skip_readback;
	s->health_timeout_ms = opts->health_timeout_ms ? opts->health_timeout_ms
						       : SLOT_DEFAULT_HEALTH_TIMEOUT_MS;
	s->state_dir = xstrdup(opts->state_dir);
	s->path[0] = xstrdup(opts->slot_a ? opts->slot_a : "");
	s->path[1] = xstrdup(opts->slot_b ? opts->slot_b : "");
	if (!s->state_dir || !s->path[0] || !s->path[1]) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	if (opts->health_cmd && !(s->health_cmd = xstrdup(opts->health_cmd))) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	GUARD_GOTO(r, check_slot(s->path[0], "slot a", &s->id[0], &s->rfd[0]), fail);
	GUARD_GOTO(r, check_slot(s->path[1], "slot b", &s->id[1], &s->rfd[1]), fail);
	ENSURE_GOTO(r, !same_file(&s->id[0], &s->id[1]), PAWL_E_POLICY, fail,
		    "slot a %s and slot b %s are the same file or device: refusing to use them",
		    s->path[0], s->path[1]);
	GUARD_GOTO(r, open_state_dir(s->state_dir, !s->readonly, &s->state_fd), fail);
	if (!s->readonly)
		GUARD_GOTO(r, lock_acquire(&s->lock, s->state_fd, STORE_LOCK_NAME,
					   opts->lock_timeout_s), fail);
	GUARD_GOTO(r, load_state(s), fail);
	GUARD_GOTO(r, boot_get_booted(s->boot, opts->booted, &s->booted), fail);
	*ret = s;
	return 0;

fail:
	slot_close(s);
	return r;
}

void slot_close(slot_ctx *s)
{
	if (!s)
		return;
	lock_release(s->lock);
	for (int i = 0; i < 2; i++) {
		if (s->rfd[i] >= 0)
			close(s->rfd[i]);
		free(s->path[i]);
	}
	if (s->state_fd >= 0)
		close(s->state_fd);
	free(s->state_dir);
	free(s->health_cmd);
	free(s);
}

const slot_state *slot_get_state(const slot_ctx *s)
{
	return &s->st;
}

boot_slot slot_booted(const slot_ctx *s)
{
	return s->booted;
}

/* ---------------- state ---------------- */

static int commit(slot_ctx *s, const slot_state *next)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	GUARD(slot_state_serialize(next, &text, &len));
	r = file_write_atomic_at(s->state_fd, SLOT_STATE_FILE, text, len, 0644);
	if (r < 0)
		return pawl_error_prefix(r, "cannot record the slot state: ");
	s->st = *next;
	return 0;
}

static void set_last(slot_state *st, slot_outcome o, const char *version, boot_slot slot)
{
	st->last_time = pawl_now();
	st->last_outcome = o;
	set_str(st->last_version, version);
	st->last_slot = slot;
}

/* Has the switch to slot t landed? The target was made bad before it was
 * written, and only boot_set_primary makes it primary and good again. */
static int switched(slot_ctx *s, boot_slot t, bool *ret)
{
	boot_slot p;
	boot_state st;
	int r;

	r = boot_get_primary(s->boot, &p);
	if (r == PAWL_E_NOT_FOUND) {
		pawl_error_clear();
		*ret = false;
		return 0;
	}
	GUARD(r);
	if (p != t) {
		*ret = false;
		return 0;
	}
	GUARD(boot_get_state(s->boot, t, &st));
	*ret = st == BOOT_GOOD;
	return 0;
}

/* as: the outcome recorded for an undone write (SLOT_ERROR when a failed
 * install is being cleaned up). */
static int recover_locked(slot_ctx *s, slot_result *res, slot_outcome as)
{
	boot_slot t = s->st.journal;
	slot_state next;
	bool yes = false;

	if (t == BOOT_SLOT_NONE) {
		if (res)
			res->outcome = SLOT_NONE;
		return 0;
	}
	GUARD(switched(s, t, &yes));
	next = s->st;
	if (yes) {
		/* Killed between the switch and its commit: finish it. */
		set_str(next.slot[t].version, s->st.journal_version);
		next.slot[t].recovery = s->st.journal_recovery;
		next.pending = t;
		set_last(&next, SLOT_SWITCHED, s->st.journal_version, t);
	} else {
		/* The slot may hold anything: keep the bootloader off it. */
		GUARD(boot_set_state(s->boot, t, BOOT_BAD));
		next.slot[t].version[0] = '\0';
		next.slot[t].recovery = false;
		set_last(&next, as, s->st.journal_version, t);
	}
	next.journal = BOOT_SLOT_NONE;
	next.journal_version[0] = '\0';
	next.journal_recovery = false;
	GUARD(commit(s, &next));
	if (res) {
		res->outcome = yes ? SLOT_SWITCHED : SLOT_INTERRUPTED;
		res->slot = t;
		res->reboot = yes;
		set_str(res->version, next.last_version);
		result_msg(res, yes ? "the interrupted update to %s had switched to slot %s: reboot to run it"
				    : "the interrupted write of %s into slot %s was undone; slot %s stays bad",
			   next.last_version, boot_slot_name(t), boot_slot_name(t));
	}
	return 0;
}

int slot_recover(slot_ctx *s, slot_result *ret)
{
	slot_result res;

	ENSURE(s && !s->readonly, PAWL_E_INVALID, "slot installer: not open for changes");
	memset(&res, 0, sizeof(res));
	res.slot = BOOT_SLOT_NONE;
	GUARD(recover_locked(s, &res, SLOT_INTERRUPTED));
	if (ret)
		*ret = res;
	return 0;
}

/* After an error mid-write: undo now when possible (the next operation
 * will otherwise), keeping the original error. */
static int abort_write(slot_ctx *s, int r)
{
	struct saved_err e;

	err_save(&e);
	if (recover_locked(s, NULL, SLOT_ERROR) < 0)
		pawl_error_clear();
	return err_restore(&e, r);
}

/* ---------------- the decision ---------------- */

static slot_outcome decide(slot_ctx *s, const char *v, bool recovery, slot_result *res)
{
	boot_slot target = boot_slot_other(s->booted);
	const slot_state *st = &s->st;
	bool yes = false;

	if (strcmp(v, st->slot[s->booted].version) == 0) {
		result_msg(res, "%s is already running in slot %s", v, boot_slot_name(s->booted));
		return SLOT_ALREADY_CURRENT;
	}
	if (st->pending == target && strcmp(v, st->slot[target].version) == 0) {
		if (switched(s, target, &yes) < 0)
			pawl_error_clear();
		if (yes) {
			result_msg(res, "%s is in slot %s already and boots next: reboot to run it", v,
				   boot_slot_name(target));
			return SLOT_ALREADY_PENDING;
		}
	}
	/* An update waiting for its reboot counts as installed for this
	 * rule: a lower version does not replace it unless it is recovery. */
	if (!recovery && st->pending == target && vcmp(v, st->slot[target].version) < 0) {
		result_msg(res,
			   "%s is lower than %s, which waits in slot %s for a reboot, and is not signed as a recovery release",
			   v, st->slot[target].version, boot_slot_name(target));
		return SLOT_REFUSED_DOWNGRADE;
	}
	if (!recovery && st->highest[0] && vcmp(v, st->highest) <= 0) {
		result_msg(res,
			   "%s is not higher than %s, the highest version installed, and is not signed as a recovery release",
			   v, st->highest);
		return SLOT_REFUSED_DOWNGRADE;
	}
	if (is_bad(st, v)) {
		result_msg(res, "%s failed before and is not installed again", v);
		return SLOT_REFUSED_BAD;
	}
	return SLOT_NONE;
}

int slot_check(slot_ctx *s, const char *version, bool recovery, slot_result *ret)
{
	slot_result res;
	semver v;

	ENSURE(s && version && ret, PAWL_E_INVALID, "slot_check: missing argument");
	GUARD(semver_parse(version, &v));
	memset(&res, 0, sizeof(res));
	res.slot = boot_slot_other(s->booted);
	set_str(res.version, v.str);
	res.outcome = decide(s, v.str, recovery, &res);
	*ret = res;
	return 0;
}

/* ---------------- the stream ---------------- */

struct stream {
	const slot_release *rel;
	uint64_t bytes;
};

static int stream_read(struct stream *in, void *buf, size_t cap, size_t *ret_n)
{
	const slot_release *rel = in->rel;

	if (rel->fd < 0) {
		size_t n = 0;

		GUARD(rel->read(rel->read_ctx, buf, cap, &n));
		ENSURE(n <= cap, PAWL_E_INVALID, "image stream: the source gave more than asked");
		in->bytes += n;
		*ret_n = n;
		return 0;
	}
	for (;;) {
		ssize_t k = read(rel->fd, buf, cap);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read the image stream");
		in->bytes += (uint64_t)k;
		*ret_n = (size_t)k;
		return 0;
	}
}

/* The index: exactly its signed length, checked against its signed
 * hashes before the parser sees a byte of it (TUF 5.7.3). */
static int read_index(struct stream *in, uint8_t *chunk, image_index **ret)
{
	const slot_release *rel = in->rel;
	_cleanup_buf_ pawl_buf ib = PAWL_BUF_INIT((size_t)SLOT_INDEX_MAX);
	md_hashset hs;
	int r = 0;

	ENSURE(rel->index_length > 0 && rel->index_length <= SLOT_INDEX_MAX, PAWL_E_LIMIT,
	       "image index of %s: signed length %" PRIu64 " is over the limit of %" PRIu64
	       " bytes",
	       rel->version, rel->index_length, SLOT_INDEX_MAX);
	GUARD(md_hashset_init(&hs, rel->index_hashes, "image index"));
	while (ib.len < rel->index_length) {
		size_t want = rel->index_length - ib.len, n = 0;

		if (want > STREAM_CHUNK)
			want = STREAM_CHUNK;
		GUARD_GOTO(r, stream_read(in, chunk, want, &n), out);
		ENSURE_GOTO(r, n > 0, PAWL_E_LENGTH, out,
			    "image index of %s: the stream ended after %zu of its %" PRIu64
			    " signed bytes",
			    rel->version, ib.len, rel->index_length);
		GUARD_GOTO(r, md_hashset_update(&hs, chunk, n), out);
		GUARD_GOTO(r, buf_append(&ib, chunk, n), out);
	}
	r = md_hashset_final(&hs, "image index");
	if (r < 0)
		return r;
	GUARD(image_index_parse(ret, ib.data, ib.len, NULL));
	return 0;
out:
	md_hashset_free(&hs);
	return r;
}

/* A format 1 index must describe the pack as one stream. */
static int match_pack(const image_index *idx, const char *pack_name, uint64_t pack_length)
{
	ENSURE(idx->version == IMAGE_INDEX_VERSION, PAWL_E_UNSUPPORTED,
	       "image index: format %u is installed from a source of byte ranges "
	       "(pawl_install_release_source), not from one stream", idx->version);
	ENSURE(idx->npacks == 1 && image_index_sequential(idx), PAWL_E_UNSUPPORTED,
	       "image index: not one pack in image order, which a stream needs");
	return image_index_check_pack(idx, 0, pack_name, pack_length);
}

/* The index must describe this release's image and pack, as one stream. */
static int match_index(const slot_release *rel, const image_index *idx)
{
	GUARD(image_index_match(idx, rel->image_length, rel->image_sha256));
	return match_pack(idx, rel->pack_name, rel->pack_length);
}

/* The pack, through the decoder into the slot writer, hashed whole on the
 * way against the pack target's signed length and hashes (when given: a
 * sequential index already pins every pack byte by its pieces' sha256). */
static int write_pack(slot_read_fn read, void *ctx, uint8_t *chunk, const char *pack_name,
		      uint64_t pack_length, const pj_value *pack_hashes, image_decoder *d)
{
	uint64_t total = 0;
	md_hashset hs;
	bool hashed = pack_hashes != NULL;
	int r = 0;

	if (hashed)
		GUARD(md_hashset_init(&hs, pack_hashes, "image pack"));
	for (;;) {
		size_t n = 0;

		GUARD_GOTO(r, read(ctx, chunk, STREAM_CHUNK, &n), out);
		ENSURE_GOTO(r, n <= STREAM_CHUNK, PAWL_E_INVALID, out,
			    "image stream: the source gave more than asked");
		if (n == 0)
			break;
		total += n;
		ENSURE_GOTO(r, total <= pack_length, PAWL_E_LENGTH, out,
			    "image pack %s: longer than its signed length of %" PRIu64 " bytes",
			    pack_name, pack_length);
		if (hashed)
			GUARD_GOTO(r, md_hashset_update(&hs, chunk, n), out);
		GUARD_GOTO(r, image_decoder_push(d, chunk, n), out);
	}
	GUARD_GOTO(r, image_decoder_finish(d), out);
	ENSURE_GOTO(r, total == pack_length, PAWL_E_LENGTH, out,
		    "image pack %s: %" PRIu64 " bytes, but the signed length is %" PRIu64,
		    pack_name, total, pack_length);
	return hashed ? md_hashset_final(&hs, "image pack") : 0;
out:
	if (hashed)
		md_hashset_free(&hs);
	return r;
}

int slot_write_pack(const slot_target *t, slot_read_fn read, void *ctx, const char *pack_name,
		    uint64_t pack_length, const pj_value *pack_hashes, slot_result *res)
{
	_cleanup_free_ uint8_t *chunk = xmalloc(STREAM_CHUNK);
	image_decoder *d = NULL;
	int r;

	if (!chunk)
		return PAWL_E_NOMEM;
	GUARD(match_pack(t->idx, pack_name, pack_length));
	GUARD(image_decoder_new(&d, t->idx, image_slot_sink(t->w)));
	/* The read-back hashes the whole image from the device against the
	 * index: the decoder need not hash it on the way as well. */
	r = t->readback ? image_decoder_defer_image_hash(d) : 0;
	if (r == 0)
		r = write_pack(read, ctx, chunk, pack_name, pack_length, pack_hashes, d);
	res->image_bytes = image_decoder_image_bytes(d);
	image_decoder_free(d);
	return r;
}

/* The read-back: the image read from the device, not from the page
 * cache, hashed whole and compared with the index's sha256 before the
 * switch. O_DIRECT, set on the read-only descriptor for the duration,
 * reads from the device into our own buffers, and nothing is copied
 * through (or left in) the page cache. Where the file system has no
 * O_DIRECT (tmpfs) or refuses its alignment, the clean pages of each
 * block are dropped before it is read through the cache instead.
 *
 * It follows the writer instead of waiting for it (rb_start before the
 * first piece, rb_finish after image_slot_finish's fsync):
 * image_slot_follow says how much of the image has been written, and a
 * block is read only after sync_file_range(WAIT_BEFORE | WRITE |
 * WAIT_AFTER) over it has returned, i.e. once its writeback to the device
 * has completed; the O_DIRECT read then gets what the device returns for
 * it. (fdatasync instead would add a journal commit and a cache flush per
 * call; measured, those stall the writer's pwrite for a file-backed slot
 * enough to lose most of the overlap.) A reader syncs only once
 * READBACK_LAG bytes more than its block are written, everything written
 * so far in one call; the last READBACK_LAG bytes are read after the final
 * fsync. The switch waits for that fsync (which also flushes the device's
 * cache and, for a file-backed slot, commits its block map) and for the
 * whole image's sha256 to match.
 *
 * Two reader threads fill READBACK_BLOCKS page-aligned blocks in turn
 * (two reads in flight, which the device needs to be quick without the
 * page cache's readahead) and a hasher thread hashes them in order, so the
 * device, the hashing and the stream overlap. Where no thread can be had,
 * rb_finish reads and hashes every block itself, after the final fsync.
 * The blocks are mapped for the read-back alone. */
struct readback;

struct rb_reader {
	struct readback *rb;
	unsigned first;
};

struct readback {
	int fd;
	int flags;          /* the descriptor's, to restore */
	bool direct;
	const char *path;
	uint64_t length;
	size_t chunk;       /* bytes a block: READBACK_CHUNK, or whole pieces */
	uint64_t nblocks;
	uint8_t *buf[READBACK_BLOCKS];
	hash_ctx *h;        /* format 1: the whole image's sha256 */
	/* Format 2: each group of pieces against its signed hash, on the
	 * hasher (see rb_hash_block). */
	const image_index *idx;
	uint8_t (*gs)[32];  /* the sums of the group being read */
	uint32_t gi, g;     /* pieces of group g seen; groups checked */
	uint8_t zero_sum[32];
	image_slot *w;      /* followed; NULL */

	struct rb_reader rd[READBACK_READERS];
	pthread_t reader[READBACK_READERS], hasher;
	unsigned nthreads;  /* started: readers, then the hasher */
	bool threaded;      /* all of them */
	unsigned running;   /* threads that reached their loop */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t written;   /* image prefix written (image_slot_follow) */
	uint64_t synced;    /* prefix whose writeback has completed */
	bool syncing;       /* a reader is in sync_file_range */
	bool full[READBACK_BLOCKS]; /* buf[i] holds its block, not hashed yet */
	uint64_t hashed;    /* blocks hashed, in order */
	bool stop;
	int err;            /* the first error of a thread, with its message */
	char msg[1024];
};

static size_t rb_len(const struct readback *rb, uint64_t k)
{
	uint64_t off = k * rb->chunk;

	return rb->length - off > rb->chunk ? rb->chunk : (size_t)(rb->length - off);
}

int slot_pread_direct(int fd, int flags, bool *direct, bool drop, uint8_t *buf, size_t want,
		      uint64_t off, const char *what)
{
	size_t got = 0;
	bool d = __atomic_load_n(direct, __ATOMIC_RELAXED);

	if (!d && drop)
		(void)posix_fadvise(fd, (off_t)off, (off_t)want, POSIX_FADV_DONTNEED);
	while (got < want) {
		size_t ask = d ? ((want + SLOT_IO_ALIGN - 1) & ~(SLOT_IO_ALIGN - 1)) - got :
				 want - got;
		ssize_t n = pread(fd, buf + got, ask, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && d) {
			d = false;
			__atomic_store_n(direct, false, __ATOMIC_RELAXED);
			(void)fcntl(fd, F_SETFL, flags);
			if (drop)
				(void)posix_fadvise(fd, (off_t)off, (off_t)want, POSIX_FADV_DONTNEED);
			continue;
		}
		if (n < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s at offset %" PRIu64,
						    what, off + got);
		if (n == 0)
			return pawl_error_set(PAWL_E_IO, "%s ends at %" PRIu64 " bytes, inside the %zu "
					      "bytes at %" PRIu64 " asked for",
					      what, off + got, want, off);
		got += (size_t)n;
	}
	return 0;
}

/* Block k into its buffer, from the device (the sync made the pages
 * clean, so a read through the cache may drop them first); a short read is
 * fine once the block is in (a slot larger than the image). */
static int rb_read(struct readback *rb, uint64_t k)
{
	return slot_pread_direct(rb->fd, rb->flags, &rb->direct, true,
				 rb->buf[k % READBACK_BLOCKS], rb_len(rb, k), k * rb->chunk, rb->path);
}

/* A thread's error, kept for rb_finish; stops the others. Call with mu
 * held. */
static void rb_fail(struct readback *rb, int r)
{
	if (rb->err == 0) {
		rb->err = r;
		snprintf(rb->msg, sizeof(rb->msg), "%s", pawl_error_last()->message);
	}
	pthread_cond_broadcast(&rb->cv);
}

/* The writer's progress (image_slot_follow). */
static void rb_written(void *ctx, uint64_t prefix)
{
	struct readback *rb = ctx;

	pthread_mutex_lock(&rb->mu);
	rb->written = prefix;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
}

/* Wait until block k may be read into its buffer: the buffer hashed and
 * the block's writeback done (started and waited for here when it is this
 * reader's turn). false: stop. Call with mu held. */
static bool rb_wait_block(struct readback *rb, uint64_t k)
{
	uint64_t end = k * rb->chunk + rb_len(rb, k);

	for (;;) {
		if (rb->stop || rb->err)
			return false;
		if (!rb->full[k % READBACK_BLOCKS] && rb->synced >= end)
			return true;
		if (!rb->syncing && rb->synced < end && rb->written >= end &&
		    rb->written - end >= READBACK_LAG) {
			uint64_t upto = rb->written, from = rb->synced;
			int r = 0;

			rb->syncing = true;
			pthread_mutex_unlock(&rb->mu);
			if (sync_file_range(rb->fd, (off_t)from, (off_t)(upto - from),
					    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
						    SYNC_FILE_RANGE_WAIT_AFTER) != 0)
				r = pawl_error_set_errno(PAWL_E_IO, errno,
							 "cannot flush slot %s to its device",
							 rb->path);
			pthread_mutex_lock(&rb->mu);
			rb->syncing = false;
			if (r < 0)
				rb_fail(rb, r);
			else if (upto > rb->synced)
				rb->synced = upto;
			pthread_cond_broadcast(&rb->cv);
			continue;
		}
		pthread_cond_wait(&rb->cv, &rb->mu);
	}
}

/* Reader i reads blocks i, i + READBACK_READERS, ... */
/* A thread has started: rb_start waits for all of them (see there). */
static void rb_running(struct readback *rb)
{
	pthread_mutex_lock(&rb->mu);
	rb->running++;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
}

static void *rb_reader_main(void *arg)
{
	struct rb_reader *me = arg;
	struct readback *rb = me->rb;

	rb_running(rb);
	for (uint64_t k = me->first; k < rb->nblocks; k += READBACK_READERS) {
		int r;

		pthread_mutex_lock(&rb->mu);
		if (!rb_wait_block(rb, k)) {
			pthread_mutex_unlock(&rb->mu);
			break;
		}
		pthread_mutex_unlock(&rb->mu);
		r = rb_read(rb, k);
		pthread_mutex_lock(&rb->mu);
		if (r < 0)
			rb_fail(rb, r);
		else
			rb->full[k % READBACK_BLOCKS] = true;
		pthread_cond_broadcast(&rb->cv);
		pthread_mutex_unlock(&rb->mu);
		if (r < 0)
			break;
	}
	return NULL;
}

/* Block k, read: format 1 hashes it into the whole image's sha256. Format
 * 2 takes the sha256 of each of its pieces and checks each group, once
 * complete, against its signed hash in the index; the groups cover the
 * image, so this proves as much as the whole sha256 would. A piece of
 * zeros (a file system's free blocks) needs no hashing: its sum is known.
 * Blocks come in order, and hold whole pieces (rb_start). */
static int rb_hash_block(struct readback *rb, uint64_t k)
{
	const image_index *idx = rb->idx;
	const uint8_t *buf = rb->buf[k % READBACK_BLOCKS];
	size_t len = rb_len(rb, k);

	if (!rb->gs)
		return hash_update(rb->h, buf, len);
	for (size_t at = 0; at < len; at += idx->piece_size) {
		size_t n = len - at < idx->piece_size ? len - at : idx->piece_size;
		uint8_t d[HASH_MAX_LEN], gh[32];

		if (n == idx->piece_size && image2_is_zero(buf + at, n)) {
			memcpy(rb->gs[rb->gi], rb->zero_sum, 32);
		} else {
			GUARD(hash_once(HASH_SHA256, buf + at, n, d));
			memcpy(rb->gs[rb->gi], d, 32);
		}
		if (++rb->gi < image2_group_len(idx, rb->g))
			continue;
		image2_group_hash((const uint8_t(*)[32])rb->gs, rb->gi, gh);
		if (!digest_equal(gh, idx->groups[rb->g], 32)) {
			uint64_t first = (uint64_t)rb->g * idx->group_pieces * idx->piece_size;
			uint64_t end = first + (uint64_t)rb->gi * idx->piece_size;

			return pawl_error_set(PAWL_E_HASH,
					      "slot %s: the image read back differs from the one "
					      "written in bytes %" PRIu64 "..%" PRIu64 " (group %" PRIu32
					      "): the device lost or changed bytes; not switching to it",
					      rb->path, first, (end < rb->length ? end : rb->length) - 1,
					      rb->g);
		}
		rb->g++;
		rb->gi = 0;
	}
	return 0;
}

/* Hashes the blocks in order as the readers fill them. */
static void *rb_hasher_main(void *arg)
{
	struct readback *rb = arg;

	rb_running(rb);
	for (uint64_t k = 0; k < rb->nblocks; k++) {
		unsigned b = (unsigned)(k % READBACK_BLOCKS);
		int r;

		pthread_mutex_lock(&rb->mu);
		while (!rb->full[b] && !rb->stop && !rb->err)
			pthread_cond_wait(&rb->cv, &rb->mu);
		if (!rb->full[b]) {
			pthread_mutex_unlock(&rb->mu);
			break;
		}
		pthread_mutex_unlock(&rb->mu);
		r = rb_hash_block(rb, k);
		pthread_mutex_lock(&rb->mu);
		if (r < 0) {
			rb_fail(rb, r);
		} else {
			rb->full[b] = false;
			rb->hashed = k + 1;
		}
		pthread_cond_broadcast(&rb->cv);
		pthread_mutex_unlock(&rb->mu);
		if (r < 0)
			break;
	}
	return NULL;
}

/* Stop and join the threads that run. */
static void rb_join(struct readback *rb)
{
	pthread_mutex_lock(&rb->mu);
	rb->stop = true;
	pthread_cond_broadcast(&rb->cv);
	pthread_mutex_unlock(&rb->mu);
	for (unsigned i = 0; i < rb->nthreads; i++)
		pthread_join(i < READBACK_READERS ? rb->reader[i] : rb->hasher, NULL);
	rb->nthreads = 0;
}

static void rb_free(struct readback *rb)
{
	if (rb->nthreads)
		rb_join(rb);
	if (rb->w)
		image_slot_follow(rb->w, NULL, NULL);
	pthread_mutex_destroy(&rb->mu);
	pthread_cond_destroy(&rb->cv);
	if (rb->direct)
		(void)fcntl(rb->fd, F_SETFL, rb->flags);
	hash_free(rb->h);
	free(rb->gs);
	if (rb->buf[0])
		munmap(rb->buf[0], READBACK_BLOCKS * READBACK_CHUNK);
}

/* Set up the read-back of slot t for idx's image and start following the
 * writer w (NULL: nothing is followed, everything is read in rb_finish).
 * On success rb_finish must be called. */
static int rb_start(struct readback *rb, slot_ctx *s, boot_slot t, const image_index *idx,
		    image_slot *w)
{
	void *map;

	memset(rb, 0, sizeof(*rb));
	rb->fd = s->rfd[t];
	rb->path = s->path[t];
	rb->length = idx->length;
	rb->idx = idx;
	/* Format 2: blocks of whole pieces (a multiple of 4096, for O_DIRECT) */
	rb->chunk = idx->version == IMAGE_INDEX_VERSION2 ? READBACK_CHUNK / idx->piece_size * idx->piece_size :
					READBACK_CHUNK;
	rb->nblocks = (idx->length + rb->chunk - 1) / rb->chunk;
	pthread_mutex_init(&rb->mu, NULL);
	pthread_cond_init(&rb->cv, NULL);
	rb->flags = fcntl(rb->fd, F_GETFL);
	if (rb->flags < 0) {
		int e = errno;

		rb_free(rb);
		return pawl_error_set_errno(PAWL_E_IO, e, "slot %s", rb->path);
	}
	map = mmap(NULL, READBACK_BLOCKS * READBACK_CHUNK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		rb_free(rb);
		return pawl_error_set(PAWL_E_NOMEM, "no memory to read slot %s back", rb->path);
	}
	for (unsigned i = 0; i < READBACK_BLOCKS; i++)
		rb->buf[i] = (uint8_t *)map + i * READBACK_CHUNK;
	if (idx->version == IMAGE_INDEX_VERSION2) {
		int r = image2_zero_sum(idx, rb->zero_sum);

		rb->gs = r < 0 ? NULL : calloc(idx->group_pieces, 32);
		if (r == 0 && !rb->gs)
			r = pawl_error_set(PAWL_E_NOMEM, "no memory to read slot %s back", rb->path);
		if (r < 0) {
			rb_free(rb);
			return r;
		}
	} else if (hash_new(&rb->h, HASH_SHA256) < 0) {
		int r = pawl_error_last()->code;

		rb_free(rb);
		return r;
	}
	rb->direct = fcntl(rb->fd, F_SETFL, rb->flags | O_DIRECT) == 0;
	rb->w = w;
	if (w)
		image_slot_follow(w, rb_written, rb);
	rb->threaded = true;
	for (unsigned i = 0; i < READBACK_READERS && rb->threaded; i++) {
		rb->rd[i].rb = rb;
		rb->rd[i].first = i;
		rb->threaded = pthread_create(&rb->reader[i], NULL, rb_reader_main, &rb->rd[i]) == 0;
		rb->nthreads += rb->threaded;
	}
	if (rb->threaded) {
		rb->threaded = pthread_create(&rb->hasher, NULL, rb_hasher_main, rb) == 0;
		rb->nthreads += rb->threaded;
	}
	/* Every thread running before the image source goes on: it may fork
	 * the fetcher next, and a fork that races a thread's creation can
	 * leave the child a lock held by no thread. */
	pthread_mutex_lock(&rb->mu);
	while (rb->running < rb->nthreads)
		pthread_cond_wait(&rb->cv, &rb->mu);
	pthread_mutex_unlock(&rb->mu);
	if (!rb->threaded && rb->nthreads) /* rb_finish reads it all itself */
		rb_join(rb);
	return 0;
}

/* After the write (r: its result) and image_slot_finish's fsync: read
 * what is left, stop the threads, compare. Returns r when it failed. */
static int rb_finish(struct readback *rb, slot_ctx *s, boot_slot t, const image_index *idx,
		     int r)
{
	uint8_t d[HASH_MAX_LEN];

	if (r < 0) {
		rb_free(rb);
		return r;
	}
	if (rb->threaded) {
		/* Everything is synced now: the readers take the rest. */
		pthread_mutex_lock(&rb->mu);
		rb->synced = rb->length;
		pthread_cond_broadcast(&rb->cv);
		while (rb->hashed < rb->nblocks && rb->err == 0)
			pthread_cond_wait(&rb->cv, &rb->mu);
		if (rb->err)
			r = pawl_error_set(rb->err, "%s", rb->msg);
		pthread_mutex_unlock(&rb->mu);
		rb_join(rb);
	} else {
		for (uint64_t k = 0; k < rb->nblocks && r == 0; k++) {
			r = rb_read(rb, k);
			if (r == 0)
				r = rb_hash_block(rb, k);
		}
	}
	if (r == 0 && rb->gs && rb->g != idx->ngroups)
		/* every group read matched, but not all were: the blocks did not
		 * cover the image (an internal error, never a pass) */
		r = pawl_error_set(PAWL_E_LENGTH, "slot %s: %" PRIu32 " of %" PRIu32 " groups read back",
				   s->path[t], rb->g, idx->ngroups);
	else if (r == 0 && !rb->gs)
		r = hash_final(rb->h, d);
	if (r == 0 && !rb->gs && memcmp(d, idx->sha256, 32) != 0)
		r = pawl_error_set(PAWL_E_HASH,
				   "slot %s (%s): the image read back differs from the one written "
				   "(the device lost or changed bytes); not switching to it",
				   boot_slot_name(t), s->path[t]);
	rb_free(rb);
	return r;
}

/* The identity checked at open must still be what the path names. */
static int still_same(slot_ctx *s, boot_slot t)
{
	struct stat st;

	if (lstat(s->path[t], &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "slot %s %s", boot_slot_name(t),
					    s->path[t]);
	ENSURE(!S_ISLNK(st.st_mode) && st.st_dev == s->id[t].st_dev &&
		       st.st_ino == s->id[t].st_ino,
	       PAWL_E_POLICY, "slot %s %s was replaced since it was checked: refusing to write it",
	       boot_slot_name(t), s->path[t]);
	return 0;
}

/* Steps 5 to 7 of slot.h, with the journal open. */
static int write_and_switch(slot_ctx *s, const slot_image_ops *ops, void *ctx,
			    const slot_target *t, slot_result *res)
{
	bool yes = false;
	int r;

	struct readback rb;

	/* The read-back follows the writer (a format 1 stream: its contiguous
	 * prefix; format 2 writes out of order, so most of it is read after
	 * the final fsync) and hashes the whole image from the device against
	 * the index. */
	if (t->readback)
		GUARD(rb_start(&rb, s, t->target, t->idx, t->w));
	r = ops->write(ctx, t, res);
	if (r == 0)
		r = image_slot_finish(t->w);
	if (t->readback)
		r = rb_finish(&rb, s, t->target, t->idx, r);
	GUARD(r);
	r = boot_set_primary(s->boot, t->target);
	if (r < 0) {
		/* The one write may have landed (boot.h): ask. */
		struct saved_err e;

		err_save(&e);
		if (switched(s, t->target, &yes) < 0 || !yes)
			return err_restore(&e, r);
		pawl_error_clear();
	}
	return 0;
}

int slot_install_image(slot_ctx *s, const char *version, bool recovery,
		       const slot_image_ops *ops, void *ctx, slot_result *ret)
{
	_cleanup_image_index_ image_index *idx = NULL;
	image_slot *w = NULL;
	boot_slot booted, target;
	slot_target t;
	slot_result res;
	slot_state next;
	boot_state bs;
	slot_outcome o;
	semver v;
	int r;

	ENSURE(s && version && ops && ops->index && ops->write && ret && !s->readonly,
	       PAWL_E_INVALID, "slot_install: missing argument or read-only");
	GUARD(semver_parse(version, &v));
	booted = s->booted;
	target = boot_slot_other(booted);
	memset(&res, 0, sizeof(res));
	res.slot = target;
	set_str(res.version, v.str);

	GUARD(recover_locked(s, NULL, SLOT_INTERRUPTED));
	o = decide(s, v.str, recovery, &res);
	if (o != SLOT_NONE) {
		next = s->st;
		set_last(&next, o, v.str, target);
		GUARD(commit(s, &next));
		res.outcome = o;
		res.reboot = o == SLOT_ALREADY_PENDING;
		*ret = res;
		return 0;
	}
	GUARD(boot_get_state(s->boot, booted, &bs));
	ENSURE(bs == BOOT_GOOD, PAWL_E_POLICY,
	       "the booted slot %s is not confirmed good: run confirm (or mark-good) first; an "
	       "update now would overwrite slot %s, the only one known to boot",
	       boot_slot_name(booted), boot_slot_name(target));

	/* Index, then the slot, then whatever the source reads before it
	 * writes: every refusal before the bootloader is touched. */
	GUARD(ops->index(ctx, &idx));
	GUARD(image_slot_open(&w, s->path[target], idx, s->path[booted]));
	GUARD_GOTO(r, still_same(s, target), close_slot);
	memset(&t, 0, sizeof(t));
	t.idx = idx;
	t.w = w;
	t.target = target;
	t.booted = booted;
	t.target_path = s->path[target];
	t.booted_path = s->path[booted];
	t.target_id = s->id[target];
	t.booted_id = s->id[booted];
	t.readback = !s->skip_readback || ops->always_readback;
	if (ops->prepare)
		GUARD_GOTO(r, ops->prepare(ctx, &t), close_slot);

	/* An update waiting in the target is dropped first, in its own
	 * write: once the target is made bad, a "pending" left behind (the
	 * journal write below failing) would read as a fallback at the next
	 * confirm and put a version that never failed into the bad list. */
	if (s->st.pending == target) {
		next = s->st;
		next.pending = BOOT_SLOT_NONE;
		GUARD_GOTO(r, commit(s, &next), close_slot);
	}
	/* From here the target is not bootable until the switch. */
	GUARD_GOTO(r, boot_set_state(s->boot, target, BOOT_BAD), close_slot);
	next = s->st;
	next.slot[target].version[0] = '\0';
	next.slot[target].recovery = false;
	if (next.pending == target)
		next.pending = BOOT_SLOT_NONE;
	next.journal = target;
	set_str(next.journal_version, v.str);
	next.journal_recovery = recovery;
	GUARD_GOTO(r, commit(s, &next), close_slot);

	r = write_and_switch(s, ops, ctx, &t, &res);
	image_slot_free(w);
	w = NULL;
	if (r < 0)
		return abort_write(s, r);

	next = s->st;
	set_str(next.slot[target].version, v.str);
	next.slot[target].recovery = recovery;
	next.pending = target;
	next.journal = BOOT_SLOT_NONE;
	next.journal_version[0] = '\0';
	next.journal_recovery = false;
	set_last(&next, SLOT_SWITCHED, v.str, target);
	/* Failing here, the switch has happened: the journal stays, and the
	 * next operation finishes the commit (recover_locked). */
	GUARD(commit(s, &next));
	res.outcome = SLOT_SWITCHED;
	res.reboot = true;
	result_msg(&res, "%s written to slot %s and verified; the bootloader tries it next: reboot",
		   v.str, boot_slot_name(target));
	*ret = res;
	return 0;

close_slot:
	image_slot_free(w);
	return r;
}

/* ---------------- the stream (index, then pack) ---------------- */

struct stream_job {
	struct stream in;
	uint8_t *chunk;
};

static int stream_index(void *ctx, image_index **ret)
{
	struct stream_job *j = ctx;
	_cleanup_image_index_ image_index *idx = NULL;

	GUARD(read_index(&j->in, j->chunk, &idx));
	GUARD(match_index(j->in.rel, idx));
	*ret = TAKE_PTR(idx);
	return 0;
}

static int stream_read_fn(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	return stream_read(ctx, buf, cap, ret_n);
}

static int stream_write(void *ctx, const slot_target *t, slot_result *res)
{
	struct stream_job *j = ctx;
	const slot_release *rel = j->in.rel;
	int r;

	r = slot_write_pack(t, stream_read_fn, &j->in, rel->pack_name, rel->pack_length,
			    rel->pack_hashes, res);
	res->stream_bytes = j->in.bytes;
	return r;
}

int slot_install(slot_ctx *s, const slot_release *rel, slot_result *ret)
{
	static const slot_image_ops ops = { stream_index, NULL, stream_write, false };
	_cleanup_free_ uint8_t *chunk = NULL;
	struct stream_job j;

	ENSURE(s && rel && ret && !s->readonly, PAWL_E_INVALID,
	       "slot_install: missing argument or read-only");
	ENSURE(rel->version && (rel->fd >= 0 || rel->read) && rel->index_hashes &&
		       rel->pack_hashes && rel->pack_name && rel->image_sha256,
	       PAWL_E_INVALID, "slot_install: incomplete release");
	chunk = xmalloc(STREAM_CHUNK);
	if (!chunk)
		return PAWL_E_NOMEM;
	j.in.rel = rel;
	j.in.bytes = 0;
	j.chunk = chunk;
	return slot_install_image(s, rel->version, rel->recovery, &ops, &j, ret);
}

/* ---------------- after boot ---------------- */

/* The health check of the running system: 1 healthy, 0 not (not being
 * able to run it counts as not healthy). */
static int check_health(slot_ctx *s, slot_result *res)
{
	_cleanup_close_ int cwd = -1;
	char e1[SEMVER_MAX_LEN + 32], e2[32];
	const char *env[3];
	health_outcome h;
	const char *v = s->st.slot[s->booted].version;

	res->health_ran = false;
	if (!s->health_cmd)
		return 1;
	snprintf(e1, sizeof(e1), "PAWL_VERSION=%s", v);
	snprintf(e2, sizeof(e2), "PAWL_SLOT=%s", boot_slot_name(s->booted));
	env[0] = e1;
	env[1] = e2;
	env[2] = NULL;
	cwd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || health_run(s->health_cmd, cwd, env, s->health_timeout_ms, &h) < 0) {
		result_msg(res, "health check not run: %s",
			   cwd < 0 ? strerror(errno) : pawl_error_last()->message);
		return 0;
	}
	res->health_ran = true;
	res->health_timed_out = h.timed_out;
	res->health_status = h.status;
	if (h.passed)
		return 1;
	if (h.timed_out)
		result_msg(res, "health check of slot %s timed out after %u ms and was killed",
			   boot_slot_name(s->booted), s->health_timeout_ms);
	else if (WIFEXITED(h.status))
		result_msg(res, "health check of slot %s exited with status %d",
			   boot_slot_name(s->booted), WEXITSTATUS(h.status));
	else if (WIFSIGNALED(h.status))
		result_msg(res, "health check of slot %s was killed by signal %d",
			   boot_slot_name(s->booted), WTERMSIG(h.status));
	else
		result_msg(res, "health check of slot %s failed", boot_slot_name(s->booted));
	return 0;
}

/*
 * A pending slot that is not the booted one, and no longer primary and
 * good, was tried and given up on by the bootloader: its version goes
 * into the bad list and the slot is marked bad, so that GRUB does not
 * give it a fresh try when the old slot once fails to confirm. A pending
 * slot still primary and good has not been tried yet (no reboot since the
 * update): it stays pending.
 */
static int settle_fallback(slot_ctx *s, slot_state *next, slot_result *res)
{
	boot_slot p = s->st.pending;
	bool yes = false;

	if (p == BOOT_SLOT_NONE || p == s->booted)
		return 0;
	GUARD(switched(s, p, &yes));
	if (yes)
		return 0;
	GUARD(boot_set_state(s->boot, p, BOOT_BAD));
	add_bad(next, s->st.slot[p].version);
	set_str(res->fell_back, s->st.slot[p].version);
	next->pending = BOOT_SLOT_NONE;
	return 0;
}

/* The booted slot is good: confirmed, or marked good. */
static int settle_good(slot_ctx *s, slot_state *next)
{
	const char *v = s->st.slot[s->booted].version;

	GUARD(boot_set_state(s->boot, s->booted, BOOT_GOOD));
	if (next->pending == s->booted)
		next->pending = BOOT_SLOT_NONE;
	/* max(): a confirmed recovery release does not lower it. */
	if (v[0] && (!next->highest[0] || vcmp(v, next->highest) > 0))
		set_str(next->highest, v);
	return 0;
}

static int settle_bad(slot_ctx *s, slot_state *next)
{
	GUARD(boot_set_state(s->boot, s->booted, BOOT_BAD));
	add_bad(next, s->st.slot[s->booted].version);
	if (next->pending == s->booted)
		next->pending = BOOT_SLOT_NONE;
	return 0;
}

enum after_boot { AFTER_CONFIRM, AFTER_GOOD, AFTER_BAD };

static int after_boot(slot_ctx *s, enum after_boot what, slot_result *ret)
{
	slot_result res;
	slot_state next;
	slot_outcome o;
	bool good;

	ENSURE(s && ret && !s->readonly, PAWL_E_INVALID,
	       "slot installer: missing argument or read-only");
	GUARD(recover_locked(s, NULL, SLOT_INTERRUPTED));
	memset(&res, 0, sizeof(res));
	res.slot = s->booted;
	set_str(res.version, s->st.slot[s->booted].version);
	next = s->st;
	if (what != AFTER_BAD)
		GUARD(settle_fallback(s, &next, &res));
	good = what == AFTER_GOOD || (what == AFTER_CONFIRM && check_health(s, &res));
	if (what == AFTER_BAD)
		good = false;
	if (good) {
		GUARD(settle_good(s, &next));
		o = what == AFTER_CONFIRM ? SLOT_CONFIRMED : SLOT_MARKED_GOOD;
		if (!res.message[0])
			result_msg(&res, "slot %s (%s) is good", boot_slot_name(s->booted),
				   or_unknown(res.version));
	} else {
		GUARD(settle_bad(s, &next));
		o = what == AFTER_CONFIRM ? SLOT_HEALTH_FAILED : SLOT_MARKED_BAD;
		res.reboot = true;
		if (what == AFTER_BAD)
			result_msg(&res, "slot %s (%s) marked bad: reboot", boot_slot_name(s->booted),
				   or_unknown(res.version));
	}
	set_last(&next, o, res.version, s->booted);
	GUARD(commit(s, &next));
	res.outcome = o;
	*ret = res;
	return 0;
}

int slot_confirm(slot_ctx *s, slot_result *ret)
{
	return after_boot(s, AFTER_CONFIRM, ret);
}

int slot_mark_good(slot_ctx *s, slot_result *ret)
{
	return after_boot(s, AFTER_GOOD, ret);
}

int slot_mark_bad(slot_ctx *s, slot_result *ret)
{
	return after_boot(s, AFTER_BAD, ret);
}

/* ---------------- status ---------------- */

static void note_error(slot_status *st)
{
	if (!st->error[0])
		snprintf(st->error, sizeof(st->error), "%s", pawl_error_last()->message);
	pawl_error_clear();
}

int slot_status_get(slot_ctx *s, slot_status *ret)
{
	slot_status *st;
	boot_slot p;
	int r;

	ENSURE(s && ret, PAWL_E_INVALID, "slot_status_get: missing argument");
	st = xcalloc(1, sizeof(*st));
	if (!st)
		return PAWL_E_NOMEM;
	if (s->readonly && (r = load_state(s)) < 0) {
		free(st);
		return r;
	}
	st->state = s->st;
	st->booted = s->booted;
	st->primary = BOOT_SLOT_NONE;
	r = boot_get_primary(s->boot, &p);
	if (r == 0)
		st->primary = p;
	else if (r == PAWL_E_NOT_FOUND)
		pawl_error_clear();
	else
		note_error(st);
	for (int i = 0; i < 2; i++) {
		slot_info *in = &st->slot[i];

		snprintf(in->path, sizeof(in->path), "%s", s->path[i]);
		in->record = s->st.slot[i];
		if (boot_get_state(s->boot, (boot_slot)i, &in->state) == 0)
			in->state_known = true;
		else
			note_error(st);
		in->primary = st->primary == (boot_slot)i;
		in->booted = s->booted == (boot_slot)i;
		in->pending = s->st.pending == (boot_slot)i;
	}
	*ret = *st;
	free(st);
	return 0;
}

/*
 * install.c - the install state machine: re-verify, unpack, switch, check,
 * commit or roll back, and recover from a crash at any point. See
 * install.h for the guarantees and the state file.
 *
 * The crash-safety argument, in one place:
 *  1. releases/VERSION only ever appears by rename(2) of a temporary
 *     directory whose every file and directory was fsynced first, followed
 *     by an fsync of releases/. A release directory under a version name
 *     is therefore complete and durable, or absent.
 *  2. Release directories leave the same way: renamed to a ".trash-" name
 *     (and releases/ fsynced) before their contents are removed, so a
 *     half-removed tree never carries a version name. A directory is only
 *     removed when current does not point at it.
 *  3. current is only replaced by rename(2) of a new link, then install_dir
 *     is fsynced: it names the old or the new release, never a missing or
 *     partial one (by 1 and 2).
 *  4. The journal phase is written durably before each step that changes
 *     what current points at, and the commit (installed, previous, highest
 *     and the journal cleared) is a single atomic write of state.json. So
 *     after a crash, the journal and readlink(current) together say which
 *     side of every step we are on; install_recover() finishes the failure
 *     path or undoes the attempt, and never needs to trust an unchecked
 *     release.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "install/install_impl.h"
#include "metadata/metadata.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/io.h"

#define RELEASES "releases"
#define CURRENT "current"
#define CURRENT_TMP "current.tmp"
#define COPY_CHUNK ((size_t)1 << 16)
#define TMP_TRIES 64
/* Entries prune and clean-up will look at in releases/ before giving up. */
#define MAX_SWEEP 4096

struct install_ctx {
	char *install_dir;
	char *state_dir;
	char *state_path;
	char *health_cmd;
	unsigned health_timeout_ms;
	uint64_t max_unpacked;
	uint32_t max_ratio;
	uint32_t max_entries;
	int install_fd;
	int releases_fd;
	int state_fd;
	pawl_lock *lock;
	install_state st;
};

/* ---------------- small helpers ---------------- */

struct saved_err {
	char msg[1024];
};

/* Keep the first error's message across best-effort clean-up. */
static void err_save(struct saved_err *s)
{
	snprintf(s->msg, sizeof(s->msg), "%s", pawl_error_last()->message);
}

static int err_restore(const struct saved_err *s, int code)
{
	return pawl_error_set(code, "%s", s->msg);
}

static void result_msg(install_result *res, const char *fmt, ...) PAWL_PRINTF(2, 3);
static void result_msg(install_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

static int vcmp(const char *a, const char *b)
{
	semver va, vb;

	/* Every version kept in the state was validated on the way in. */
	if (semver_parse(a, &va) < 0 || semver_parse(b, &vb) < 0) {
		pawl_error_clear();
		return 0;
	}
	return semver_cmp(&va, &vb);
}

static const char *or_none(const char *v)
{
	return v[0] ? v : "(none)";
}

install_kind install_kind_from_name(const char *name)
{
	static const struct {
		const char *suffix;
		install_kind kind;
	} map[] = {
		{ ".tar", INSTALL_KIND_TAR },        { ".tar.gz", INSTALL_KIND_TAR_GZ },
		{ ".tgz", INSTALL_KIND_TAR_GZ },     { ".tar.xz", INSTALL_KIND_TAR_XZ },
		{ ".txz", INSTALL_KIND_TAR_XZ },     { ".tar.zst", INSTALL_KIND_TAR_ZST },
		{ ".tzst", INSTALL_KIND_TAR_ZST },
	};
	size_t n = name ? strlen(name) : 0;

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		size_t sl = strlen(map[i].suffix);

		if (n > sl && strcmp(name + n - sl, map[i].suffix) == 0)
			return map[i].kind;
	}
	return INSTALL_KIND_FILE;
}

/* The artifact's file name: one visible component. */
static int check_name(const char *name)
{
	ENSURE(name && *name, PAWL_E_INVALID, "release file has no name");
	ENSURE(strlen(name) <= NAME_MAX && !strchr(name, '/') && name[0] != '.', PAWL_E_POLICY,
	       "release file name \"%.64s\" is not a plain file name", name);
	return 0;
}

/* A unique temporary name in releases/: ".<stem>-<pid>-<n>". */
static int unique_name(char *out, size_t outsz, const char *stem)
{
	static unsigned counter;
	struct timespec ts = { 0, 0 };
	unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	int n;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(out, outsz, ".%s-%lx-%x-%lx", stem, (unsigned long)getpid(), c,
		     (unsigned long)ts.tv_nsec);
	if (n < 0 || (size_t)n >= outsz)
		return pawl_error_set(PAWL_E_LIMIT, "temporary name for %s is too long", stem);
	return 0;
}

/* rename(2) that refuses to replace anything. RENAME_NOREPLACE where the
 * file system has it; elsewhere the names are unique temporary ones or
 * were just checked to be free, so a plain rename is the fallback. */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
	struct stat st;

	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(dirfd, from, dirfd, to);
}

/* ---------------- current ---------------- */

/* What current points at: "" when there is no current, else a version
 * whose directory exists. Anything else needs an operator. */
static int read_current(install_ctx *c, char out[SEMVER_MAX_LEN + 1])
{
	char target[PATH_MAX];
	const char *v;
	struct stat st;
	semver sv;
	ssize_t n;

	n = readlinkat(c->install_fd, CURRENT, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT) {
			out[0] = '\0';
			return 0;
		}
		if (errno == EINVAL)
			return pawl_error_set(PAWL_E_IO,
					      "%s/" CURRENT " is not a symbolic link (operator attention needed)",
					      c->install_dir);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/" CURRENT,
					    c->install_dir);
	}
	target[n] = '\0';
	v = target + strlen(RELEASES "/");
	if (strncmp(target, RELEASES "/", strlen(RELEASES "/")) != 0 || semver_parse(v, &sv) < 0 ||
	    fstatat(c->releases_fd, v, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s/" CURRENT " points at \"%.200s\", not at a release (operator attention needed)",
				      c->install_dir, target);
	state_set(out, v);
	return 0;
}

/* Point current at releases/version (or remove it for ""), atomically
 * and durably. */
static int switch_current(install_ctx *c, const char *version)
{
	char target[sizeof(RELEASES) + 1 + SEMVER_MAX_LEN + 1];

	if (!version[0]) {
		if (unlinkat(c->install_fd, CURRENT, 0) < 0 && errno != ENOENT)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s/" CURRENT,
						    c->install_dir);
		return fsync_dir(c->install_fd);
	}
	snprintf(target, sizeof(target), RELEASES "/%s", version);
	if (unlinkat(c->install_fd, CURRENT_TMP, 0) < 0 && errno != ENOENT)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s/" CURRENT_TMP,
					    c->install_dir);
	if (symlinkat(target, c->install_fd, CURRENT_TMP) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s/" CURRENT_TMP,
					    c->install_dir);
	if (renameat(c->install_fd, CURRENT_TMP, c->install_fd, CURRENT) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno,
					    "cannot switch %s/" CURRENT " to %s", c->install_dir,
					    version);
	return fsync_dir(c->install_fd);
}

/* ---------------- state ---------------- */

static int commit(install_ctx *c, const install_state *next)
{
	GUARD(state_write(c->state_fd, next));
	c->st = *next;
	return 0;
}

static void set_last(install_state *st, install_outcome o, const char *version)
{
	st->last_time = pawl_now();
	st->last_outcome = o;
	state_set(st->last_version, version);
}

/* Record a decision that changes nothing else. */
static int record(install_ctx *c, install_result *res, install_outcome o, const char *version)
{
	install_state next = c->st;

	set_last(&next, o, version);
	GUARD(commit(c, &next));
	res->outcome = o;
	state_set(res->version, version);
	state_set(res->current, c->st.installed);
	return 0;
}

int install_clear_bad(install_ctx *c, const char *version)
{
	install_state next;
	uint32_t k = 0;
	bool found = false;

	ENSURE(c && version, PAWL_E_INVALID, "install_clear_bad: missing argument");
	next = c->st;
	for (uint32_t i = 0; i < next.nbad; i++) {
		if (strcmp(next.bad[i], version) == 0) {
			found = true;
			continue;
		}
		if (k != i)
			memcpy(next.bad[k], next.bad[i], sizeof(next.bad[0]));
		k++;
	}
	ENSURE(found, PAWL_E_NOT_FOUND, "%.*s is not marked bad", SEMVER_MAX_LEN, version);
	next.nbad = k;
	/* A fresh start: the interruptions that counted towards the mark go
	 * too, or the next one would mark it bad again at once. */
	if (strcmp(next.interrupted, version) == 0) {
		next.interrupted[0] = '\0';
		next.interrupted_count = 0;
	}
	return commit(c, &next);
}

/* ---------------- releases/ housekeeping ---------------- */

/* Rename releases/name aside, make that durable, then remove it: a
 * half-removed tree never carries a version name. */
static int remove_release(install_ctx *c, const char *name)
{
	char trash[NAME_MAX + 1];
	struct stat st;
	int r = PAWL_E_IO;

	if (fstatat(c->releases_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s/" RELEASES "/%s",
					    c->install_dir, name);
	}
	for (int i = 0; i < TMP_TRIES; i++) {
		GUARD(unique_name(trash, sizeof(trash), "trash"));
		if (rename_noreplace(c->releases_fd, name, trash) == 0) {
			r = 0;
			break;
		}
		if (errno != EEXIST)
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "cannot move %s/" RELEASES "/%s aside",
						    c->install_dir, name);
	}
	if (r < 0)
		return pawl_error_set(PAWL_E_IO, "cannot move %s/" RELEASES "/%s aside",
				      c->install_dir, name);
	GUARD(fsync_dir(c->releases_fd));
	return tree_remove_at(c->releases_fd, trash);
}

/* The next entry of releases/ that sweep should remove, or "" for none. */
static int next_to_sweep(install_ctx *c, bool temps, char out[NAME_MAX + 1])
{
	int fd = openat(c->releases_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	int r = 0;

	out[0] = '\0';
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s/" RELEASES,
					    c->install_dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/" RELEASES,
					    c->install_dir);
	}
	for (;;) {
		struct dirent *de;
		semver v;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/" RELEASES,
							 c->install_dir);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (temps) {
			/* Everything hidden in releases/ is ours: temporary
			 * directories, private copies, trash. */
			if (de->d_name[0] != '.')
				continue;
		} else {
			/* Only what is named like a release; anything else in
			 * releases/ is left for the operator. */
			if (semver_parse(de->d_name, &v) < 0) {
				pawl_error_clear();
				continue;
			}
			if (strcmp(de->d_name, c->st.installed) == 0 ||
			    strcmp(de->d_name, c->st.previous) == 0)
				continue;
		}
		snprintf(out, NAME_MAX + 1, "%s", de->d_name);
		break;
	}
	closedir(d);
	return r;
}

/*
 * Remove leftovers (temps) or old releases (everything named like a
 * release except installed and previous). Only call with the journal
 * clear and current == installed, so that nothing in use is touched.
 */
static int sweep(install_ctx *c, bool temps)
{
	char name[NAME_MAX + 1];

	for (int i = 0; i < MAX_SWEEP; i++) {
		GUARD(next_to_sweep(c, temps, name));
		if (!name[0])
			return fsync_dir(c->releases_fd);
		if (temps)
			GUARD(tree_remove_at(c->releases_fd, name));
		else
			GUARD(remove_release(c, name));
	}
	return pawl_error_set(PAWL_E_LIMIT, "too many entries in %s/" RELEASES, c->install_dir);
}

static int cleanup(install_ctx *c)
{
	if (unlinkat(c->install_fd, CURRENT_TMP, 0) < 0 && errno != ENOENT)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s/" CURRENT_TMP,
					    c->install_dir);
	GUARD(sweep(c, true));
	return sweep(c, false);
}

/* ---------------- recovery ---------------- */

static int check_consistent(install_ctx *c, const char *cur)
{
	if (strcmp(cur, c->st.installed) != 0)
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s/" CURRENT " points at %s but %s says %s is installed (operator attention needed)",
				      c->install_dir, or_none(cur), c->state_path,
				      or_none(c->st.installed));
	return 0;
}

/* as: the outcome recorded for an interrupted transaction (INSTALL_ERROR
 * when an install is being aborted after an error). */
static int recover_locked(install_ctx *c, install_result *res, install_outcome as)
{
	const install_journal *j = &c->st.journal;
	char cur[SEMVER_MAX_LEN + 1];
	install_state next;
	install_outcome o;

	GUARD(read_current(c, cur));
	if (j->op == INSTALL_OP_NONE) {
		GUARD(check_consistent(c, cur));
		GUARD(cleanup(c));
		if (res) {
			res->outcome = INSTALL_NONE;
			state_set(res->current, cur);
		}
		return 0;
	}
	if (strcmp(cur, j->version) != 0 && strcmp(cur, j->from) != 0)
		return pawl_error_set(PAWL_E_FORMAT,
				      "%s/" CURRENT " points at %s, but the unfinished %s was from %s to %s (operator attention needed)",
				      c->install_dir, or_none(cur),
				      j->op == INSTALL_OP_ROLLBACK ? "rollback" : "install",
				      or_none(j->from), j->version);
	next = c->st;
	if (j->phase == INSTALL_PHASE_FAILED) {
		/* The health check failed; finish switching back. */
		if (strcmp(cur, j->version) == 0)
			GUARD(switch_current(c, j->from));
		state_add_bad(&next, j->version);
		if (j->op == INSTALL_OP_ROLLBACK)
			next.previous[0] = '\0';
		o = INSTALL_HEALTH_FAILED;
	} else if (strcmp(cur, j->version) == 0) {
		/* Switched, health never established: go back. */
		GUARD(switch_current(c, j->from));
		if (strcmp(next.interrupted, j->version) == 0)
			next.interrupted_count++;
		else {
			state_set(next.interrupted, j->version);
			next.interrupted_count = 1;
		}
		if (next.interrupted_count >= INSTALL_MAX_INTERRUPTED) {
			state_add_bad(&next, j->version);
			next.interrupted[0] = '\0';
			next.interrupted_count = 0;
		}
		o = INSTALL_INTERRUPTED;
	} else {
		/* Never switched: drop it. */
		o = INSTALL_INTERRUPTED;
	}
	memset(&next.journal, 0, sizeof(next.journal));
	set_last(&next, o == INSTALL_INTERRUPTED ? as : o, j->version);
	if (res) {
		res->outcome = o;
		state_set(res->version, j->version);
		result_msg(res, "unfinished %s of %s (phase %s) undone",
			   j->op == INSTALL_OP_ROLLBACK ? "rollback" : "install", j->version,
			   install_phase_name(j->phase));
	}
	GUARD(commit(c, &next));
	if (res)
		state_set(res->current, c->st.installed);
	return cleanup(c);
}

int install_recover(install_ctx *c, install_result *ret)
{
	install_result res;

	ENSURE(c, PAWL_E_INVALID, "no installer");
	memset(&res, 0, sizeof(res));
	GUARD(recover_locked(c, &res, INSTALL_INTERRUPTED));
	if (ret)
		*ret = res;
	return 0;
}

/* After an error mid-transaction: put things back now if possible (the
 * next install_recover will, otherwise), keeping the original error. */
static int abort_transaction(install_ctx *c, int r)
{
	struct saved_err s;

	err_save(&s);
	if (recover_locked(c, NULL, INSTALL_ERROR) < 0)
		pawl_error_clear();
	return err_restore(&s, r);
}

/* ---------------- staging ---------------- */

/*
 * Copy src (from offset 0) to dst while hashing, and check the copy
 * against the signed length and hashes: TUF 1.0.x 5.7.3 "verify the
 * target's length and hashes", done again on the privileged side. At most
 * length + 1 bytes are read, so a longer file is refused without reading
 * it whole. dst < 0: only verify.
 */
static int copy_verified(int src, int dst, uint64_t length, const pj_value *hashes,
			 const char *what)
{
	_cleanup_free_ uint8_t *buf = NULL;
	md_hashset hs;
	uint64_t off = 0;
	int r;

	GUARD(md_hashset_init(&hs, hashes, what));
	buf = xmalloc(COPY_CHUNK);
	if (!buf) {
		md_hashset_free(&hs);
		return PAWL_E_NOMEM;
	}
	for (;;) {
		/* Ask for one byte past the signed length at most. */
		uint64_t left = length - off;
		size_t want = left >= COPY_CHUNK ? COPY_CHUNK : (size_t)left + 1;
		ssize_t n = pread(src, buf, want, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			md_hashset_free(&hs);
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot read", what);
		}
		if (n == 0)
			break;
		if ((uint64_t)n > left) {
			md_hashset_free(&hs);
			return pawl_error_set(PAWL_E_LENGTH,
					      "%s: longer than the signed length of %llu bytes", what,
					      (unsigned long long)length);
		}
		off += (uint64_t)n;
		r = md_hashset_update(&hs, buf, (size_t)n);
		if (r == 0 && dst >= 0 && (r = io_write_all(dst, buf, (size_t)n, NULL)) < 0)
			r = pawl_error_prefix(r, "%s: ", what);
		if (r < 0) {
			md_hashset_free(&hs);
			return r;
		}
	}
	if (off != length) {
		md_hashset_free(&hs);
		return pawl_error_set(PAWL_E_LENGTH,
				      "%s: %llu bytes, but the signed length is %llu", what,
				      (unsigned long long)off, (unsigned long long)length);
	}
	return md_hashset_final(&hs, what);
}

static int open_source(const install_artifact *a, int *ret_owned, int *ret_fd, const char *what)
{
	struct stat st;
	int fd = a->fd;

	*ret_owned = -1;
	if (fd < 0) {
		ENSURE(a->path && *a->path, PAWL_E_INVALID, "%s: no staged file", what);
		fd = open(a->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO,
						    errno, "%s: cannot open %s", what, a->path);
		*ret_owned = fd;
	}
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat the staged file",
					    what);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s: the staged file is not a regular file", what);
	*ret_fd = fd;
	return 0;
}

/* An unnamed private file in releases/ (same file system, same owner),
 * or, where O_TMPFILE is unsupported, a hidden one unlinked at once (a
 * crash in between leaves it to the clean-up of hidden entries). */
static int open_private(install_ctx *c, int *ret_fd)
{
	char name[NAME_MAX + 1];
	int fd;

	fd = openat(c->releases_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		*ret_fd = fd;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create a private copy in %s/" RELEASES,
					    c->install_dir);
	for (int i = 0; i < TMP_TRIES; i++) {
		GUARD(unique_name(name, sizeof(name), "src"));
		fd = openat(c->releases_fd, name,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd >= 0) {
			(void)unlinkat(c->releases_fd, name, 0);
			*ret_fd = fd;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create a private copy in %s/" RELEASES,
				    c->install_dir);
}

static uint64_t unpack_limit(const install_ctx *c, uint64_t length)
{
	uint64_t by_ratio;

	if (__builtin_mul_overflow(length, (uint64_t)c->max_ratio, &by_ratio))
		by_ratio = UINT64_MAX;
	if (by_ratio < INSTALL_MIN_UNPACKED)
		by_ratio = INSTALL_MIN_UNPACKED;
	return by_ratio < c->max_unpacked ? by_ratio : c->max_unpacked;
}

/* Verify and unpack into the temporary directory tfd, then fsync it all. */
static int stage_into(install_ctx *c, const install_artifact *a, install_kind kind, int src,
		      int tfd, const char *what)
{
	_cleanup_close_ int priv = -1;

	if (kind == INSTALL_KIND_FILE) {
		/* The private copy is the release file itself. */
		priv = openat(tfd, a->name,
			      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (priv < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot create %s", what,
						    a->name);
		GUARD(copy_verified(src, priv, a->length, a->hashes, what));
		if (fchmod(priv, 0755) < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot set the mode of %s",
						    what, a->name);
	} else {
		archive_limits lim;

		GUARD(open_private(c, &priv));
		GUARD(copy_verified(src, priv, a->length, a->hashes, what));
		/* Only now, with the bytes proven to be the signed ones, does
		 * the archive parser see them. */
		lim.max_bytes = unpack_limit(c, a->length);
		lim.max_entries = c->max_entries;
		GUARD(archive_extract(priv, kind, tfd, &lim, what));
	}
	return tree_sync(tfd, what);
}

/* Unpack into releases/.VERSION.tmp-..., then rename to releases/VERSION. */
static int stage(install_ctx *c, const install_artifact *a, install_kind kind, int src,
		 const semver *v)
{
	char tmp[NAME_MAX + 1], stem[SEMVER_MAX_LEN + 8], what[SEMVER_MAX_LEN + NAME_MAX + 16];
	_cleanup_close_ int tfd = -1;
	struct saved_err s;
	int r = PAWL_E_IO;

	snprintf(what, sizeof(what), "release %s (%s)", v->str, a->name);
	snprintf(stem, sizeof(stem), "%s.tmp", v->str);
	for (int i = 0; i < TMP_TRIES; i++) {
		GUARD(unique_name(tmp, sizeof(tmp), stem));
		if (mkdirat(c->releases_fd, tmp, 0700) == 0) {
			r = 0;
			break;
		}
		if (errno != EEXIST)
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "cannot create a directory in %s/" RELEASES,
						    c->install_dir);
	}
	if (r < 0)
		return pawl_error_set(PAWL_E_IO, "cannot create a directory in %s/" RELEASES,
				      c->install_dir);
	tfd = openat(c->releases_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0 || fchmod(tfd, 0755) < 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s/" RELEASES "/%s",
					 c->install_dir, tmp);
		goto fail;
	}
	GUARD_GOTO(r, stage_into(c, a, kind, src, tfd, what), fail);
	/* A directory of that name is not current (that was checked), so it
	 * may go; a recovery release can reuse the name of the previous one. */
	GUARD_GOTO(r, remove_release(c, v->str), fail);
	if (rename_noreplace(c->releases_fd, tmp, v->str) < 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot rename %s into place in %s/" RELEASES,
					 v->str, c->install_dir);
		goto fail;
	}
	return fsync_dir(c->releases_fd);

fail:
	err_save(&s);
	if (tree_remove_at(c->releases_fd, tmp) < 0)
		pawl_error_clear();
	return err_restore(&s, r);
}

/* ---------------- health ---------------- */

/* 1: healthy, 0: not. Failing to run the check counts as not healthy. */
static int check_health(install_ctx *c, const char *version, install_result *res)
{
	_cleanup_close_ int cwd = -1;
	_cleanup_buf_ pawl_buf e1 = PAWL_BUF_INIT(PATH_MAX * 2);
	_cleanup_buf_ pawl_buf e2 = PAWL_BUF_INIT(PATH_MAX * 2);
	_cleanup_buf_ pawl_buf e3 = PAWL_BUF_INIT(PATH_MAX * 2);
	const char *env[4];
	health_outcome h;
	int r;

	res->health_ran = false;
	if (!c->health_cmd)
		return 1;
	if ((r = buf_printf(&e1, "PAWL_VERSION=%s", version)) < 0 ||
	    (r = buf_printf(&e2, "PAWL_RELEASE_DIR=%s/" RELEASES "/%s", c->install_dir, version)) < 0 ||
	    (r = buf_printf(&e3, "PAWL_INSTALL_DIR=%s", c->install_dir)) < 0) {
		result_msg(res, "health check not run: %s", pawl_error_last()->message);
		return 0;
	}
	env[0] = e1.data;
	env[1] = e2.data;
	env[2] = e3.data;
	env[3] = NULL;
	cwd = openat(c->releases_fd, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cwd < 0) {
		result_msg(res, "health check not run: cannot open release %s", version);
		return 0;
	}
	if (health_run(c->health_cmd, cwd, env, c->health_timeout_ms, &h) < 0) {
		result_msg(res, "health check not run: %s", pawl_error_last()->message);
		return 0;
	}
	res->health_ran = true;
	res->health_timed_out = h.timed_out;
	res->health_status = h.status;
	if (h.passed)
		return 1;
	if (h.timed_out)
		result_msg(res, "health check of %s timed out after %u ms and was killed", version,
			   c->health_timeout_ms);
	else if (WIFEXITED(h.status))
		result_msg(res, "health check of %s exited with status %d", version,
			   WEXITSTATUS(h.status));
	else if (WIFSIGNALED(h.status))
		result_msg(res, "health check of %s was killed by signal %d", version,
			   WTERMSIG(h.status));
	else
		result_msg(res, "health check of %s failed", version);
	return 0;
}

/* ---------------- the transaction ---------------- */

/*
 * From current == from (journal at phase begin or unpacked, releases/to
 * complete): switch, check, then commit or roll back. apply() fills in the
 * committed state on success.
 */
static int switch_and_check(install_ctx *c, install_state next, const char *to,
			    install_result *res,
			    void (*apply)(install_state *st, const char *to, const char *from,
					  bool recovery))
{
	const char *from = c->st.journal.from;
	bool recovery = c->st.journal.recovery;
	char from_copy[SEMVER_MAX_LEN + 1];
	install_state ok;
	int r;

	state_set(from_copy, from);
	GUARD_GOTO(r, switch_current(c, to), abort);
	next.journal.phase = INSTALL_PHASE_SWITCHED;
	GUARD_GOTO(r, commit(c, &next), abort);

	if (check_health(c, to, res)) {
		ok = c->st;
		apply(&ok, to, from_copy, recovery);
		memset(&ok.journal, 0, sizeof(ok.journal));
		GUARD_GOTO(r, commit(c, &ok), abort);
		state_set(res->version, to);
		state_set(res->current, to);
		res->outcome = c->st.last_outcome;
		/* Committed: a failure to prune loses nothing and is retried
		 * by the next recovery; say so, but do not fail. */
		if (cleanup(c) < 0) {
			if (!res->message[0])
				result_msg(res, "installed; pruning old releases failed: %s",
					   pawl_error_last()->message);
			pawl_error_clear();
		}
		return 0;
	}

	/* Unhealthy: journal it, switch back, mark the version bad. */
	next = c->st;
	next.journal.phase = INSTALL_PHASE_FAILED;
	GUARD_GOTO(r, commit(c, &next), abort);
	GUARD_GOTO(r, switch_current(c, from_copy), abort);
	next = c->st;
	state_add_bad(&next, to);
	if (next.journal.op == INSTALL_OP_ROLLBACK)
		next.previous[0] = '\0';
	memset(&next.journal, 0, sizeof(next.journal));
	set_last(&next, INSTALL_HEALTH_FAILED, to);
	GUARD_GOTO(r, commit(c, &next), abort);
	res->outcome = INSTALL_HEALTH_FAILED;
	state_set(res->version, to);
	state_set(res->current, c->st.installed);
	if (cleanup(c) < 0)
		pawl_error_clear();
	return 0;

abort:
	return abort_transaction(c, r);
}

static void apply_install(install_state *st, const char *to, const char *from, bool recovery)
{
	if (from[0])
		state_set(st->previous, from);
	state_set(st->installed, to);
	st->installed_recovery = recovery;
	/* A recovery release may be lower; highest never goes down. */
	if (!st->highest[0] || vcmp(to, st->highest) > 0)
		state_set(st->highest, to);
	if (strcmp(st->interrupted, to) == 0) {
		st->interrupted[0] = '\0';
		st->interrupted_count = 0;
	}
	set_last(st, INSTALL_INSTALLED, to);
}

static void apply_rollback(install_state *st, const char *to, const char *from, bool recovery)
{
	state_set(st->previous, from);
	state_set(st->installed, to);
	st->installed_recovery = recovery;
	set_last(st, INSTALL_ROLLED_BACK, to);
}

/* Run pending recovery and check current matches the state. */
static int prepare(install_ctx *c)
{
	char cur[SEMVER_MAX_LEN + 1];

	if (c->st.journal.op != INSTALL_OP_NONE)
		GUARD(recover_locked(c, NULL, INSTALL_INTERRUPTED));
	GUARD(read_current(c, cur));
	return check_consistent(c, cur);
}

int install_release(install_ctx *c, const install_artifact *a, install_result *ret)
{
	char what[SEMVER_MAX_LEN + NAME_MAX + 16];
	_cleanup_close_ int owned = -1;
	install_result res;
	install_state next;
	install_kind kind;
	struct saved_err s;
	int src = -1;
	semver v;
	int r;

	ENSURE(c && a && ret, PAWL_E_INVALID, "install_release: missing argument");
	memset(&res, 0, sizeof(res));
	GUARD(semver_parse(a->version, &v));
	GUARD(check_name(a->name));
	kind = a->kind == INSTALL_KIND_AUTO ? install_kind_from_name(a->name) : a->kind;
	ENSURE(kind >= INSTALL_KIND_FILE && kind <= INSTALL_KIND_TAR_ZST, PAWL_E_INVALID,
	       "release %s: unknown kind %d", v.str, (int)a->kind);
	GUARD(prepare(c));
	state_set(res.version, v.str);

	/* Decisions (TUF practice 5: the version only moves forward). */
	if (strcmp(v.str, c->st.installed) == 0) {
		GUARD(record(c, &res, INSTALL_ALREADY_CURRENT, v.str));
		result_msg(&res, "%s is already installed", v.str);
		*ret = res;
		return 0;
	}
	if (!a->recovery && c->st.highest[0] && vcmp(v.str, c->st.highest) <= 0) {
		GUARD(record(c, &res, INSTALL_REFUSED_DOWNGRADE, v.str));
		result_msg(&res,
			   "%s is not higher than %s, the highest version installed, and is not signed as a recovery release",
			   v.str, c->st.highest);
		*ret = res;
		return 0;
	}
	if (state_is_bad(&c->st, &v)) {
		GUARD(record(c, &res, INSTALL_REFUSED_BAD, v.str));
		result_msg(&res, "%s failed its health check before and is not retried", v.str);
		*ret = res;
		return 0;
	}

	/* A first check with nothing written anywhere: bytes that do not
	 * match the signed length and hashes never reach install_dir. The
	 * check that counts is the second one, over the private copy that is
	 * then unpacked (the staged file may change in between). */
	snprintf(what, sizeof(what), "release %s (%s)", v.str, a->name);
	GUARD_GOTO(r, open_source(a, &owned, &src, what), refused);
	GUARD_GOTO(r, copy_verified(src, -1, a->length, a->hashes, what), refused);

	next = c->st;
	next.journal.op = INSTALL_OP_INSTALL;
	next.journal.phase = INSTALL_PHASE_BEGIN;
	state_set(next.journal.version, v.str);
	state_set(next.journal.from, c->st.installed);
	next.journal.recovery = a->recovery;
	GUARD(commit(c, &next));
	GUARD_GOTO(r, stage(c, a, kind, src, &v), abort);
	next.journal.phase = INSTALL_PHASE_UNPACKED;
	GUARD_GOTO(r, commit(c, &next), abort);
	GUARD(switch_and_check(c, next, v.str, &res, apply_install));
	*ret = res;
	return 0;

refused:
	/* Record the failure; install_dir was not touched. */
	err_save(&s);
	next = c->st;
	set_last(&next, INSTALL_ERROR, v.str);
	if (commit(c, &next) < 0)
		pawl_error_clear();
	return err_restore(&s, r);

abort:
	return abort_transaction(c, r);
}

int install_rollback(install_ctx *c, bool previous_is_recovery, install_result *ret)
{
	install_result res;
	install_state next;
	struct stat st;
	char to[SEMVER_MAX_LEN + 1];

	ENSURE(c && ret, PAWL_E_INVALID, "install_rollback: missing argument");
	memset(&res, 0, sizeof(res));
	GUARD(prepare(c));
	ENSURE(c->st.previous[0], PAWL_E_NOT_FOUND, "no previous release to roll back to");
	state_set(to, c->st.previous);
	if (fstatat(c->releases_fd, to, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return pawl_error_set(PAWL_E_NOT_FOUND, "previous release %s is missing from %s/" RELEASES,
				      to, c->install_dir);
	if (!previous_is_recovery) {
		GUARD(record(c, &res, INSTALL_REFUSED_DOWNGRADE, to));
		result_msg(&res, "rolling back to %s is a downgrade, and %s is not signed as a recovery release",
			   to, to);
		*ret = res;
		return 0;
	}
	next = c->st;
	next.journal.op = INSTALL_OP_ROLLBACK;
	next.journal.phase = INSTALL_PHASE_UNPACKED; /* the release is already complete */
	state_set(next.journal.version, to);
	state_set(next.journal.from, c->st.installed);
	next.journal.recovery = true;
	GUARD(commit(c, &next));
	GUARD(switch_and_check(c, next, to, &res, apply_rollback));
	*ret = res;
	return 0;
}

/* ---------------- opening ---------------- */

/* No state file: rebuild from install_dir, never lower than what is there. */
static int reconstruct(install_ctx *c)
{
	install_state *st = &c->st;
	char cur[SEMVER_MAX_LEN + 1];
	int fd;
	DIR *d;
	int r = 0;

	memset(st, 0, sizeof(*st));
	GUARD(read_current(c, cur));
	state_set(st->installed, cur);
	fd = openat(c->releases_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s/" RELEASES,
					    c->install_dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/" RELEASES,
					    c->install_dir);
	}
	for (;;) {
		struct dirent *de;
		struct stat sb;
		semver v;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/" RELEASES,
							 c->install_dir);
			break;
		}
		if (semver_parse(de->d_name, &v) < 0) {
			pawl_error_clear();
			continue;
		}
		if (fstatat(c->releases_fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		if (!st->highest[0] || vcmp(v.str, st->highest) > 0)
			state_set(st->highest, v.str);
		/* previous: the highest release below the installed one. */
		if (cur[0] && strcmp(v.str, cur) != 0 && vcmp(v.str, cur) < 0 &&
		    (!st->previous[0] || vcmp(v.str, st->previous) > 0))
			state_set(st->previous, v.str);
	}
	closedir(d);
	GUARD(r);
	if (cur[0] && !st->highest[0])
		state_set(st->highest, cur);
	if (st->highest[0])
		return state_write(c->state_fd, st);
	return 0;
}

static int load_state(install_ctx *c)
{
	char *buf = NULL;
	size_t len;
	int r;

	r = file_read_at(c->state_fd, STATE_FILE, STATE_MAX_BYTES, &buf, &len);
	if (r == PAWL_E_NOT_FOUND) {
		pawl_error_clear();
		return reconstruct(c);
	}
	if (r < 0)
		return pawl_error_prefix(r, "%s: ", c->state_path);
	return state_parse(&c->st, buf, len, c->state_path);
}

static int open_releases(install_ctx *c)
{
	if (mkdirat(c->install_fd, RELEASES, 0755) == 0) {
		GUARD(fsync_dir(c->install_fd));
	} else if (errno != EEXIST) {
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s/" RELEASES,
					    c->install_dir);
	}
	return dir_open_at(c->install_fd, RELEASES, &c->releases_fd);
}

/* The health check runs in the release directory: the paths it is given
 * must not depend on the agent's working directory. */
static int absolute(const char *dir, char **ret)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(PATH_MAX);
	char cwd[PATH_MAX];

	if (dir[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return pawl_error_set_errno(PAWL_E_IO, errno,
						    "cannot resolve the install directory %s", dir);
		GUARD(buf_printf(&b, "%s/", cwd));
	}
	GUARD(buf_puts(&b, dir));
	/* No trailing '/': paths are built by appending "/releases/...". */
	while (b.len > 1 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	return buf_steal(&b, ret, NULL);
}

int install_open(install_ctx **ret, const install_opts *o)
{
	install_ctx *c;
	_cleanup_buf_ pawl_buf sp = PAWL_BUF_INIT(PATH_MAX);
	int r;

	ENSURE(ret && o, PAWL_E_INVALID, "install_open: missing argument");
	ENSURE(o->version == INSTALL_OPTS_VERSION, PAWL_E_INVALID,
	       "install_open: options version %u, expected %u", o->version, INSTALL_OPTS_VERSION);
	ENSURE(o->install_dir && *o->install_dir && o->state_dir && *o->state_dir, PAWL_E_INVALID,
	       "install_open: install_dir and state_dir are required");
	ENSURE(!o->health_cmd || *o->health_cmd, PAWL_E_INVALID, "empty health check command");
	c = xcalloc(1, sizeof(*c));
	if (!c)
		return PAWL_E_NOMEM;
	c->install_fd = c->releases_fd = c->state_fd = -1;
	c->health_timeout_ms = o->health_timeout_ms ? o->health_timeout_ms
						    : INSTALL_DEFAULT_HEALTH_TIMEOUT_MS;
	c->max_unpacked = o->max_unpacked ? o->max_unpacked : INSTALL_DEFAULT_MAX_UNPACKED;
	c->max_ratio = o->max_ratio ? o->max_ratio : INSTALL_DEFAULT_MAX_RATIO;
	c->max_entries = o->max_entries ? o->max_entries : INSTALL_DEFAULT_MAX_ENTRIES;
	r = PAWL_E_NOMEM;
	GUARD_GOTO(r, absolute(o->install_dir, &c->install_dir), fail);
	c->state_dir = xstrdup(o->state_dir);
	if (!c->state_dir)
		goto fail;
	if (o->health_cmd && !(c->health_cmd = xstrdup(o->health_cmd)))
		goto fail;
	GUARD_GOTO(r, buf_printf(&sp, "%s/%s", o->state_dir, STATE_FILE), fail);
	GUARD_GOTO(r, buf_steal(&sp, &c->state_path, NULL), fail);

	GUARD_GOTO(r, dir_create(c->install_dir, 0755), fail);
	GUARD_GOTO(r, dir_open(c->install_dir, &c->install_fd), fail);
	GUARD_GOTO(r, open_releases(c), fail);
	GUARD_GOTO(r, dir_create(c->state_dir, 0755), fail);
	GUARD_GOTO(r, dir_open(c->state_dir, &c->state_fd), fail);
	GUARD_GOTO(r, lock_acquire(&c->lock, c->state_fd, STORE_LOCK_NAME, o->lock_timeout_s), fail);
	GUARD_GOTO(r, load_state(c), fail);
	*ret = c;
	return 0;

fail:
	install_close(c);
	return r;
}

void install_close(install_ctx *c)
{
	if (!c)
		return;
	lock_release(c->lock);
	closep(&c->install_fd);
	closep(&c->releases_fd);
	closep(&c->state_fd);
	free(c->install_dir);
	free(c->state_dir);
	free(c->state_path);
	free(c->health_cmd);
	free(c);
}

const install_state *install_get_state(const install_ctx *c)
{
	return c ? &c->st : NULL;
}

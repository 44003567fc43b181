/*
 * archive.c - unpacking a release archive without trusting it, and the
 * tree walks the install module does over what it unpacked. See
 * install_impl.h for the refusals.
 *
 * libarchive only parses: it never writes to the file system here
 * (archive_read_extract and its "secure" flags are not used). Every entry
 * is checked as a whole before anything is created for it, and the
 * creation itself goes through descriptors: each directory is opened
 * relative to its parent with O_NOFOLLOW|O_DIRECTORY and each file created
 * O_EXCL|O_NOFOLLOW, so the classic "symbolic link, then a file through
 * it" archive finds a link where it needs a directory and is refused.
 *
 * Refusing instead of repairing: an archive with a setuid bit, a device
 * node or an escaping link is not what a careful publisher builds, so it
 * is rejected whole rather than installed with the bit stripped or the
 * entry skipped; the operator learns something is wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install/install_impl.h"
#include "util/io.h"

#if __has_include(<archive.h>)
#define HAVE_LIBARCHIVE 1
#include "install/libarchive.h"
#else
#define HAVE_LIBARCHIVE 0
#endif

/* Largest read/write chunk for file contents. */
#define COPY_CHUNK ((size_t)1 << 16)
/* Path components examined while checking all links of one tree: bounds
 * the work a tree of many long link chains can ask for. */
#define LINK_STEP_BUDGET ((uint64_t)1 << 22)

/* io_fsync() with the install's context in front: "WHAT: cannot fsync
 * NAME: ..." (the tree's top directory is "."). */
static int fsync_in(int fd, const char *what, const char *name)
{
	int r = io_fsync(fd, name[0] ? name : ".");

	return r < 0 ? pawl_error_prefix(r, "%s: ", what) : 0;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* A new DIR stream over dirfd (which stays open and owned by the caller). */
static int open_stream(int dirfd, DIR **ret, const char *what)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot open directory", what);
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return pawl_error_set_errno(PAWL_E_IO, e, "%s: cannot read directory", what);
	}
	*ret = d;
	return 0;
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* ---------------- link resolution ---------------- */

/* Read the link dirfd/name into out (NUL-terminated, at most PATH_MAX - 1
 * bytes). */
static int read_link(int dirfd, const char *name, char out[PATH_MAX], const char *what)
{
	ssize_t n = readlinkat(dirfd, name, out, PATH_MAX);

	if (n < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot read link %s", what,
					    name);
	if ((size_t)n >= PATH_MAX)
		return pawl_error_set(PAWL_E_LIMIT, "%s: link %s has a target longer than %d bytes",
				      what, name, PATH_MAX - 1);
	out[n] = '\0';
	return 0;
}

/*
 * Resolve the link at rootfd/relpath the way the kernel would, one
 * component at a time, following links inside the tree, and refuse it if
 * the resolution ever leaves rootfd: an absolute target anywhere in the
 * chain, or a ".." above the root. `done` holds the physical path reached
 * so far; every component in it is a real directory (links are expanded,
 * never pushed), so fstatat on it follows nothing. Once a component is
 * missing or is a file, the kernel would stop with ENOENT/ENOTDIR; the rest
 * is still checked lexically, which can only refuse more.
 */
static int check_link(int rootfd, const char *relpath, uint64_t *budget, const char *what)
{
	char done[PATH_MAX], todo[2 * PATH_MAX], tmp[2 * PATH_MAX], target[PATH_MAX];
	const char *slash = strrchr(relpath, '/');
	size_t dlen = slash ? (size_t)(slash - relpath) : 0;
	unsigned hops = 0;
	bool lexical = false;
	char *p;

	memcpy(done, relpath, dlen);
	done[dlen] = '\0';
	GUARD(read_link(rootfd, relpath, target, what));
	if (target[0] == '/')
		return pawl_error_set(PAWL_E_POLICY,
				      "%s: link %s has an absolute target (%s)", what, relpath,
				      target);
	memcpy(todo, target, strlen(target) + 1);
	p = todo;
	while (*p) {
		char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p), old = dlen;
		char *next = *e ? e + 1 : e;
		struct stat st;

		if (*budget == 0)
			return pawl_error_set(PAWL_E_LIMIT, "%s: too much link resolution work",
					      what);
		(*budget)--;
		if (cl == 0 || (cl == 1 && p[0] == '.')) {
			p = next;
			continue;
		}
		if (cl == 2 && p[0] == '.' && p[1] == '.') {
			char *s;

			if (dlen == 0)
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: link %s resolves outside the release",
						      what, relpath);
			s = memrchr(done, '/', dlen);
			dlen = s ? (size_t)(s - done) : 0;
			done[dlen] = '\0';
			p = next;
			continue;
		}
		if (dlen + 1 + cl >= sizeof(done))
			return pawl_error_set(PAWL_E_LIMIT, "%s: link %s resolves to too long a path",
					      what, relpath);
		if (dlen)
			done[dlen++] = '/';
		memcpy(done + dlen, p, cl);
		dlen += cl;
		done[dlen] = '\0';
		p = next;
		if (lexical)
			continue;
		if (fstatat(rootfd, done, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat %s",
							    what, done);
			lexical = true;
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			size_t tl, rl = strlen(p);

			if (++hops > ARCHIVE_MAX_LINK_HOPS)
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: link %s: too many levels of links", what,
						      relpath);
			GUARD(read_link(rootfd, done, target, what));
			if (target[0] == '/')
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: link %s leads to %s, whose target is absolute",
						      what, relpath, done);
			/* The link is replaced by its target, relative to the
			 * directory it sits in. */
			dlen = old;
			done[dlen] = '\0';
			tl = strlen(target);
			if (tl + 1 + rl + 1 > sizeof(tmp))
				return pawl_error_set(PAWL_E_LIMIT,
						      "%s: link %s resolves to too long a path", what,
						      relpath);
			memcpy(tmp, target, tl);
			tmp[tl] = '/';
			memcpy(tmp + tl + 1, p, rl + 1);
			memcpy(todo, tmp, tl + 1 + rl + 1);
			p = todo;
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			lexical = true;
	}
	return 0;
}

/* ---------------- walks ---------------- */

struct walk {
	int rootfd;
	const char *what;
	char path[PATH_MAX]; /* relative to rootfd; "" at the root */
	size_t len;
	uint64_t budget;
};

static int walk_dir(struct walk *w, int dfd, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	size_t base = w->len;

	GUARD(open_stream(dfd, &d, w->what));
	for (;;) {
		struct dirent *de;
		struct stat st;
		size_t nl;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				return pawl_error_set_errno(PAWL_E_IO, errno,
							    "%s: cannot read directory %s", w->what,
							    w->path[0] ? w->path : ".");
			break;
		}
		if (is_dot(de->d_name))
			continue;
		nl = strlen(de->d_name);
		if (base + 1 + nl >= sizeof(w->path))
			return pawl_error_set(PAWL_E_LIMIT, "%s: path too long under %s", w->what,
					      w->path);
		w->len = base;
		if (w->len)
			w->path[w->len++] = '/';
		memcpy(w->path + w->len, de->d_name, nl + 1);
		w->len += nl;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat %s", w->what,
						    w->path);
		if (S_ISLNK(st.st_mode)) {
			GUARD(check_link(w->rootfd, w->path, &w->budget, w->what));
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_close_ int fd = -1;

			if (st.st_mode & (S_ISUID | S_ISGID | S_ISVTX))
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: %s has a setuid, setgid or sticky bit",
						      w->what, w->path);
			fd = openat(dfd, de->d_name,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
			if (fd < 0)
				return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot open %s",
							    w->what, w->path);
			GUARD(fsync_in(fd, w->what, w->path));
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = -1;

			if (st.st_mode & (S_ISUID | S_ISGID | S_ISVTX))
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: %s has a setuid, setgid or sticky bit",
						      w->what, w->path);
			if (depth + 1 > ARCHIVE_MAX_DEPTH)
				return pawl_error_set(PAWL_E_LIMIT, "%s: %s is nested too deeply",
						      w->what, w->path);
			sub = openat(dfd, de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot open %s",
							    w->what, w->path);
			GUARD(walk_dir(w, sub, depth + 1));
		} else {
			return pawl_error_set(PAWL_E_POLICY, "%s: %s is not a file, directory or link",
					      w->what, w->path);
		}
	}
	w->len = base;
	w->path[base] = '\0';
	return fsync_in(dfd, w->what, w->path);
}

int tree_sync(int dirfd, const char *what)
{
	struct walk w;

	w.rootfd = dirfd;
	w.what = what;
	w.path[0] = '\0';
	w.len = 0;
	w.budget = LINK_STEP_BUDGET;
	return walk_dir(&w, dirfd, 0);
}

/* Empty the directory dfd (depth: its nesting, bounded). */
static int empty_dir(int dfd, const char *name, unsigned depth)
{
	/* Removing entries while reading the directory may make readdir skip
	 * some; go over it again until a pass finds nothing. */
	for (int pass = 0;; pass++) {
		_cleanup_closedir_ DIR *d = NULL;
		bool removed = false;

		GUARD(open_stream(dfd, &d, name));
		for (;;) {
			struct dirent *de;
			struct stat st;

			errno = 0;
			de = readdir(d);
			if (!de) {
				if (errno != 0)
					return pawl_error_set_errno(PAWL_E_IO, errno,
								    "cannot read directory %s", name);
				break;
			}
			if (is_dot(de->d_name))
				continue;
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s/%s",
							    name, de->d_name);
			}
			if (S_ISDIR(st.st_mode)) {
				_cleanup_close_ int sub = -1;

				if (depth + 1 > 2 * ARCHIVE_MAX_DEPTH)
					return pawl_error_set(PAWL_E_LIMIT,
							      "cannot remove %s: nested too deeply",
							      name);
				sub = openat(dfd, de->d_name,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub < 0)
					return pawl_error_set_errno(PAWL_E_IO, errno,
								    "cannot open %s/%s", name,
								    de->d_name);
				GUARD(empty_dir(sub, de->d_name, depth + 1));
				if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
					return pawl_error_set_errno(PAWL_E_IO, errno,
								    "cannot remove %s/%s", name,
								    de->d_name);
			} else if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT) {
				return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s/%s",
							    name, de->d_name);
			}
			removed = true;
		}
		if (!removed || pass > 8)
			return 0;
	}
}

int tree_remove_at(int dirfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	ENSURE(name && *name && !is_dot(name), PAWL_E_INVALID, "cannot remove \"%s\"",
	       name ? name : "");
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s", name);
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s", name);
	GUARD(empty_dir(fd, name, 0));
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s", name);
	return 0;
}

/* ---------------- extraction ---------------- */

#if HAVE_LIBARCHIVE

struct extract {
	struct archive *a;
	int rootfd;
	const char *what;
	uint64_t bytes_left;
	uint64_t entries_left;
	/* The last parent directory opened, reused for its siblings. A cached
	 * directory cannot be replaced later: an entry of the same name finds
	 * it in place and is refused as a duplicate. */
	char cache_path[PATH_MAX];
	int cache_fd;
	bool cache_valid;
};

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static int ar_error(struct extract *x, const char *doing)
{
	const char *m = archive_error_string(x->a);

	return pawl_error_set(PAWL_E_FORMAT, "%s: %s: %s", x->what, doing,
			      m ? m : "libarchive failed");
}

/*
 * Normalise an entry name: no leading '/', no ".." component, "." and
 * empty components dropped, bounded length and depth. out gets "a/b/c"
 * ("" for the root itself); *ret_depth the number of components.
 */
static int norm_path(const char *p, char out[PATH_MAX], size_t *ret_depth, const char *what,
		     const char *kind)
{
	const char *name = p;
	size_t len = 0, depth = 0;

	if (!p || !*p)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s without a name", what, kind);
	if (p[0] == '/')
		return pawl_error_set(PAWL_E_POLICY, "%s: %s %s is an absolute path", what, kind, p);
	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p);

		if (cl == 2 && p[0] == '.' && p[1] == '.')
			return pawl_error_set(PAWL_E_POLICY, "%s: %s %s has a \"..\" component", what,
					      kind, name);
		if (cl > 0 && !(cl == 1 && p[0] == '.')) {
			if (cl > NAME_MAX)
				return pawl_error_set(PAWL_E_LIMIT,
						      "%s: %s has a component longer than %d bytes",
						      what, kind, NAME_MAX);
			if (len + (len ? 1 : 0) + cl >= PATH_MAX)
				return pawl_error_set(PAWL_E_LIMIT, "%s: %s name is too long", what,
						      kind);
			if (++depth > ARCHIVE_MAX_DEPTH)
				return pawl_error_set(PAWL_E_LIMIT, "%s: %s is nested too deeply",
						      what, kind);
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, cl);
			len += cl;
		}
		p = *e ? e + 1 : e;
	}
	out[len] = '\0';
	*ret_depth = depth;
	return 0;
}

/* A link target, checked lexically against the link's own directory
 * (depth components below the root): not absolute, never above the root.
 * Chains through other links are checked over the finished tree. */
static int check_link_target(const char *name, size_t depth, const char *target,
			     const char *what)
{
	size_t level = depth - 1; /* the directory the link sits in */

	if (!target || !*target)
		return pawl_error_set(PAWL_E_FORMAT, "%s: link %s has no target", what, name);
	if (strlen(target) >= PATH_MAX)
		return pawl_error_set(PAWL_E_LIMIT, "%s: link %s has too long a target", what,
				      name);
	if (target[0] == '/')
		return pawl_error_set(PAWL_E_POLICY, "%s: link %s has an absolute target (%s)",
				      what, name, target);
	for (const char *p = target; *p;) {
		const char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p);

		if (cl == 2 && p[0] == '.' && p[1] == '.') {
			if (level == 0)
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: link %s -> %s points outside the release",
						      what, name, target);
			level--;
		} else if (cl > 0 && !(cl == 1 && p[0] == '.')) {
			level++;
		}
		p = *e ? e + 1 : e;
	}
	return 0;
}

/*
 * Open the directory that holds path's last component, walking from the
 * root one component at a time with O_NOFOLLOW|O_DIRECTORY (creating
 * missing directories, 0755, when create is set). Returns a descriptor the
 * extract context owns (do not close it) and the last component.
 */
static int open_parent(struct extract *x, const char *path, bool create, int *ret_fd,
		       const char **ret_base)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	char comp[NAME_MAX + 1];
	int cur;

	*ret_base = slash ? slash + 1 : path;
	if (plen == 0) {
		*ret_fd = x->rootfd;
		return 0;
	}
	if (x->cache_valid && strlen(x->cache_path) == plen &&
	    memcmp(x->cache_path, path, plen) == 0) {
		*ret_fd = x->cache_fd;
		return 0;
	}
	if (x->cache_valid) {
		close(x->cache_fd);
		x->cache_valid = false;
	}
	cur = -1;
	for (const char *p = path; p < path + plen;) {
		const char *e = memchr(p, '/', (size_t)(path + plen - p));
		size_t cl = e ? (size_t)(e - p) : (size_t)(path + plen - p);
		int from = cur >= 0 ? cur : x->rootfd, next;
		bool made = false;

		memcpy(comp, p, cl);
		comp[cl] = '\0';
		if (create) {
			if (mkdirat(from, comp, 0700) == 0)
				made = true;
			else if (errno != EEXIST) {
				int e2 = errno;

				if (cur >= 0)
					close(cur);
				return pawl_error_set_errno(PAWL_E_IO, e2,
							    "%s: cannot create directory %.*s",
							    x->what, (int)(p + cl - path), path);
			}
		}
		next = openat(from, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e2 = errno;

			if (cur >= 0)
				close(cur);
			if (e2 == ELOOP || e2 == ENOTDIR)
				return pawl_error_set(PAWL_E_POLICY,
						      "%s: %s goes through %.*s, which is not a directory",
						      x->what, path, (int)(p + cl - path), path);
			if (e2 == ENOENT)
				return pawl_error_set(PAWL_E_POLICY, "%s: %s: %.*s does not exist",
						      x->what, path, (int)(p + cl - path), path);
			return pawl_error_set_errno(PAWL_E_IO, e2, "%s: cannot open %.*s",
						    x->what, (int)(p + cl - path), path);
		}
		if (cur >= 0)
			close(cur);
		cur = next;
		if (made && fchmod(cur, 0755) < 0) {
			int e2 = errno;

			close(cur);
			return pawl_error_set_errno(PAWL_E_IO, e2, "%s: cannot set the mode of %.*s",
						    x->what, (int)(p + cl - path), path);
		}
		p += cl + 1;
	}
	memcpy(x->cache_path, path, plen);
	x->cache_path[plen] = '\0';
	x->cache_fd = cur;
	x->cache_valid = true;
	*ret_fd = cur;
	return 0;
}

static int exists_error(struct extract *x, int errnum, const char *path)
{
	if (errnum == EEXIST)
		return pawl_error_set(PAWL_E_FORMAT, "%s: duplicate entry %s", x->what, path);
	return pawl_error_set_errno(PAWL_E_IO, errnum, "%s: cannot create %s", x->what, path);
}

static int make_dir(struct extract *x, const char *path)
{
	_cleanup_close_ int fd = -1;
	const char *base;
	struct stat st;
	int pfd;

	GUARD(open_parent(x, path, true, &pfd, &base));
	if (mkdirat(pfd, base, 0700) < 0) {
		/* A directory listed again (or after its contents) is fine;
		 * anything else in its place is a duplicate. */
		if (errno == EEXIST && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			return 0;
		return exists_error(x, errno, path);
	}
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0755) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot set up directory %s",
					    x->what, path);
	return 0;
}

static int make_file(struct extract *x, struct archive_entry *e, const char *path,
		     mode_t mode)
{
	_cleanup_close_ int fd = -1;
	const char *base;
	uint64_t size, written = 0;
	int64_t declared;
	int pfd;

	if (!archive_entry_size_is_set(e) || (declared = archive_entry_size(e)) < 0)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s has no valid size", x->what, path);
	size = (uint64_t)declared;
	if (archive_entry_sparse_count(e) > 0)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s is a sparse file (not supported)",
				      x->what, path);
	/* Refused on the declared size, before a byte is written. */
	if (size > x->bytes_left)
		return pawl_error_set(PAWL_E_LIMIT,
				      "%s: %s (%llu bytes) exceeds the unpacked size limit", x->what,
				      path, (unsigned long long)size);
	x->bytes_left -= size;
	GUARD(open_parent(x, path, true, &pfd, &base));
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		    0600);
	if (fd < 0)
		return exists_error(x, errno, path);
	for (;;) {
		const void *p;
		size_t n;
		la_int64_t off;
		int r = archive_read_data_block(x->a, &p, &n, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return ar_error(x, path);
		if (off < 0 || (uint64_t)off != written || n > size - written)
			return pawl_error_set(PAWL_E_FORMAT, "%s: %s: data past its declared size",
					      x->what, path);
		r = io_write_all(fd, p, n, path);
		if (r < 0)
			return pawl_error_prefix(r, "%s: ", x->what);
		written += n;
	}
	if (written != size)
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s is truncated", x->what, path);
	if (fchmod(fd, (mode & 0111) ? 0755 : 0644) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot set the mode of %s",
					    x->what, path);
	if (close(TAKE_FD(fd)) < 0 && errno != EINTR)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot close %s", x->what, path);
	return 0;
}

static int make_symlink(struct extract *x, struct archive_entry *e, const char *path,
			size_t depth)
{
	const char *target = archive_entry_symlink(e), *base;
	int pfd;

	GUARD(check_link_target(path, depth, target, x->what));
	GUARD(open_parent(x, path, true, &pfd, &base));
	if (symlinkat(target, pfd, base) < 0)
		return exists_error(x, errno, path);
	return 0;
}

static int make_hardlink(struct extract *x, struct archive_entry *e, const char *path,
			 const char *link)
{
	char target[PATH_MAX];
	const char *tbase, *base;
	size_t tdepth;
	struct stat st;
	int tfd, pfd;
	_cleanup_close_ int tdup = -1;

	if (archive_entry_size_is_set(e) && archive_entry_size(e) != 0)
		return pawl_error_set(PAWL_E_FORMAT, "%s: hard link %s carries data", x->what, path);
	GUARD(norm_path(link, target, &tdepth, x->what, "hard link target"));
	if (tdepth == 0)
		return pawl_error_set(PAWL_E_POLICY, "%s: hard link %s to the release directory",
				      x->what, path);
	/* The target's directory must already exist; it is walked without
	 * following links, like any other path. */
	GUARD(open_parent(x, target, false, &tfd, &tbase));
	/* open_parent's cache is about to be reused for the link's own
	 * directory: keep the target's directory open on the side. */
	tdup = fcntl(tfd, F_DUPFD_CLOEXEC, 0);
	if (tdup < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot duplicate a descriptor",
					    x->what);
	if (fstatat(tdup, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return pawl_error_set(PAWL_E_POLICY,
					      "%s: hard link %s -> %s: no such file in the archive",
					      x->what, path, target);
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat %s", x->what, target);
	}
	if (!S_ISREG(st.st_mode))
		return pawl_error_set(PAWL_E_POLICY,
				      "%s: hard link %s -> %s: target is not a regular file", x->what,
				      path, target);
	GUARD(open_parent(x, path, true, &pfd, &base));
	/* flags 0: linkat does not follow a link at the old name. */
	if (linkat(tdup, tbase, pfd, base, 0) < 0)
		return exists_error(x, errno, path);
	return 0;
}

static const char *type_name(unsigned t)
{
	switch (t) {
	case AE_IFCHR:
		return "a character device";
	case AE_IFBLK:
		return "a block device";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

static int extract_entry(struct extract *x, struct archive_entry *e)
{
	char path[PATH_MAX];
	const char *link;
	unsigned type = archive_entry_filetype(e);
	mode_t mode = archive_entry_mode(e);
	size_t depth;

	if (x->entries_left == 0)
		return pawl_error_set(PAWL_E_LIMIT, "%s: too many entries", x->what);
	x->entries_left--;
	GUARD(norm_path(archive_entry_pathname(e), path, &depth, x->what, "entry"));
	if (mode & (S_ISUID | S_ISGID | S_ISVTX))
		return pawl_error_set(PAWL_E_POLICY, "%s: %s has a setuid, setgid or sticky bit",
				      x->what, path[0] ? path : ".");
	link = archive_entry_hardlink(e);
	if (depth == 0) {
		/* "." or "./": the release directory itself. */
		if (type == AE_IFDIR && !link)
			return 0;
		return pawl_error_set(PAWL_E_POLICY, "%s: an entry that is not a directory names the release directory",
				      x->what);
	}
	if (link)
		return make_hardlink(x, e, path, link);
	switch (type) {
	case AE_IFDIR:
		return make_dir(x, path);
	case AE_IFREG:
		return make_file(x, e, path, mode);
	case AE_IFLNK:
		return make_symlink(x, e, path, depth);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		return pawl_error_set(PAWL_E_POLICY, "%s: %s is %s", x->what, path, type_name(type));
	default:
		return pawl_error_set(PAWL_E_FORMAT, "%s: %s is %s", x->what, path, type_name(type));
	}
}

/* The first bytes must say what the name said. */
static int check_magic(int fd, install_kind kind, const char *what)
{
	static const uint8_t gz[] = { 0x1f, 0x8b };
	static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
	static const uint8_t zst[] = { 0x28, 0xb5, 0x2f, 0xfd };
	uint8_t head[264];
	ssize_t n;

	do
		n = pread(fd, head, sizeof(head), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot read", what);
	switch (kind) {
	case INSTALL_KIND_TAR_GZ:
		if ((size_t)n >= sizeof(gz) && memcmp(head, gz, sizeof(gz)) == 0)
			return 0;
		return pawl_error_set(PAWL_E_FORMAT, "%s: not gzip data", what);
	case INSTALL_KIND_TAR_XZ:
		if ((size_t)n >= sizeof(xz) && memcmp(head, xz, sizeof(xz)) == 0)
			return 0;
		return pawl_error_set(PAWL_E_FORMAT, "%s: not xz data", what);
	case INSTALL_KIND_TAR_ZST:
		if ((size_t)n >= sizeof(zst) && memcmp(head, zst, sizeof(zst)) == 0)
			return 0;
		return pawl_error_set(PAWL_E_FORMAT, "%s: not zstd data", what);
	case INSTALL_KIND_TAR:
		/* POSIX ustar and GNU tar both put "ustar" at offset 257. */
		if (n >= 262 && memcmp(head + 257, "ustar", 5) == 0)
			return 0;
		return pawl_error_set(PAWL_E_FORMAT, "%s: not a ustar/pax/GNU tar archive", what);
	case INSTALL_KIND_AUTO:
	case INSTALL_KIND_FILE:
		break;
	}
	return pawl_error_set(PAWL_E_INVALID, "%s: not an archive kind", what);
}

/* Only the one decompressor the kind names, built into libarchive: never
 * its fallback to an external program. */
static int set_filter(struct archive *a, install_kind kind, const char *what)
{
	int code;

	switch (kind) {
	case INSTALL_KIND_TAR:
		return 0;
	case INSTALL_KIND_TAR_GZ:
		if (!archive_zlib_version())
			return pawl_error_set(PAWL_E_UNSUPPORTED, "%s: libarchive lacks gzip", what);
		code = ARCHIVE_FILTER_GZIP;
		break;
	case INSTALL_KIND_TAR_XZ:
		if (!archive_liblzma_version())
			return pawl_error_set(PAWL_E_UNSUPPORTED, "%s: libarchive lacks xz", what);
		code = ARCHIVE_FILTER_XZ;
		break;
	case INSTALL_KIND_TAR_ZST:
		if (!archive_libzstd_version())
			return pawl_error_set(PAWL_E_UNSUPPORTED, "%s: libarchive lacks zstd", what);
		code = ARCHIVE_FILTER_ZSTD;
		break;
	case INSTALL_KIND_AUTO:
	case INSTALL_KIND_FILE:
	default:
		return pawl_error_set(PAWL_E_INVALID, "%s: not an archive kind", what);
	}
	if (archive_read_append_filter(a, code) != ARCHIVE_OK)
		return pawl_error_set(PAWL_E_UNSUPPORTED, "%s: %s", what,
				      archive_error_string(a) ? archive_error_string(a)
							      : "cannot set up the decompressor");
	return 0;
}

int archive_extract(int src_fd, install_kind kind, int dst_dirfd, const archive_limits *lim,
		    const char *what)
{
	__attribute__((cleanup(archive_freep))) struct archive *a = NULL;
	struct extract x;
	int r = 0;

	ENSURE(src_fd >= 0 && dst_dirfd >= 0 && lim, PAWL_E_INVALID, "%s: bad arguments", what);
	GUARD(la_load());
	GUARD(check_magic(src_fd, kind, what));
	if (lseek(src_fd, 0, SEEK_SET) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot seek", what);
	a = archive_read_new();
	if (!a)
		return pawl_error_set(PAWL_E_NOMEM, "%s: cannot set up libarchive", what);
	if (archive_read_support_format_tar(a) != ARCHIVE_OK)
		return pawl_error_set(PAWL_E_UNSUPPORTED, "%s: libarchive cannot read tar", what);
	GUARD(set_filter(a, kind, what));
	memset(&x, 0, sizeof(x));
	x.a = a;
	x.rootfd = dst_dirfd;
	x.what = what;
	x.bytes_left = lim->max_bytes;
	x.entries_left = lim->max_entries;
	x.cache_fd = -1;
	if (archive_read_open_fd(a, src_fd, COPY_CHUNK) != ARCHIVE_OK)
		return ar_error(&x, "cannot open");
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);

		if (ar == ARCHIVE_EOF)
			break;
		/* ARCHIVE_WARN too: a header libarchive had to guess at (a name
		 * it could not convert, a malformed pax field) is refused. */
		if (ar != ARCHIVE_OK) {
			r = ar_error(&x, "bad header");
			break;
		}
		if ((r = extract_entry(&x, e)) < 0)
			break;
	}
	if (x.cache_valid)
		close(x.cache_fd);
	return r;
}

#else /* !HAVE_LIBARCHIVE */

int archive_extract(int src_fd, install_kind kind, int dst_dirfd, const archive_limits *lim,
		    const char *what)
{
	(void)src_fd;
	(void)kind;
	(void)dst_dirfd;
	(void)lim;
	return pawl_error_set(PAWL_E_UNSUPPORTED, "%s: built without libarchive", what);
}

#endif

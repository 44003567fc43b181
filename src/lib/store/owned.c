/*
 * owned.c - opening what a less privileged user left in a directory that
 * user can write (a hostile directory). See store.h.
 *
 * Such a user can swap any entry there, at any instant, for a symbolic
 * link, a hard link, a FIFO or a directory, and back. So every component
 * is opened relative to the descriptor of the one before, never by a path
 * from the top; nothing is ever followed (O_NOFOLLOW); and what was opened
 * is judged on its descriptor (fstat), which no later swap can change.
 * Accepting only objects the user owns means the caller never reads what
 * that user could not read for itself, so even the caller's error
 * messages about the bytes cannot disclose anyone else's file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "store/store.h"

/* The messages name the path asked for and the rule broken, never the
 * size, owner or content of what was found there. */
static int refused(const char *path, const char *why)
{
	return pawl_error_set(PAWL_E_IO, "%s: refused: %s", path, why);
}

static int open_failed(int errnum, const char *path)
{
	if (errnum == ENOENT)
		return pawl_error_set_errno(PAWL_E_NOT_FOUND, errnum, "%s", path);
	if (errnum == ELOOP)
		return refused(path, "a symbolic link is on the way");
	if (errnum == ENOTDIR)
		return refused(path, "something other than a directory is on the way");
	if (errnum == ENOMEM)
		return pawl_error_set_errno(PAWL_E_NOMEM, errnum, "%s", path);
	return pawl_error_set_errno(PAWL_E_IO, errnum, "%s", path);
}

/* The next component of *p (advanced past it and its '/'), copied to
 * comp; "", "." and ".." are refused, and so is an absolute path. */
static int next_component(const char **p, char comp[NAME_MAX + 1], const char *path)
{
	const char *s = *p, *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return pawl_error_set(PAWL_E_INVALID,
				      "%s: not a relative path of plain names (empty, \".\" or "
				      "\"..\" component)", path);
	if (n > NAME_MAX)
		return pawl_error_set(PAWL_E_INVALID, "%s: a component is longer than %d bytes",
				      path, NAME_MAX);
	memcpy(comp, s, n);
	comp[n] = '\0';
	*p = slash ? slash + 1 : s + n;
	return 0;
}

/* Any owner will do (dir_walk_at). */
#define ANY_OWNER ((uid_t)-1)

/* dirfd/name, one component: a directory owned by uid; created first
 * (mkdirat, mode) when create is set. */
static int open_dir_one(int dirfd, const char *name, uid_t uid, bool create, mode_t mode,
			const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (create && mkdirat(dirfd, name, mode) != 0 && errno != EEXIST)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot create %s", path, name);
	do
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int e = errno;

		/* O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a link as well. */
		if (e == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			e = ELOOP;
		return open_failed(e, path);
	}
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat", path);
	if (!S_ISDIR(st.st_mode) || (uid != ANY_OWNER && st.st_uid != uid))
		return refused(path, "a directory on the way is not owned by the expected user");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Open every directory of path but the last component (all of them with
 * want_last), starting at dirfd; the last component goes to last. */
static int walk(int dirfd, const char *path, uid_t uid, bool want_last, bool create,
		mode_t mode, int *ret_fd, char last[NAME_MAX + 1])
{
	_cleanup_close_ int cur = -1;
	const char *p = path;
	char comp[NAME_MAX + 1];

	ENSURE(path && *path, PAWL_E_INVALID, "empty path");
	ENSURE(strlen(path) < PATH_MAX, PAWL_E_INVALID, "path too long");
	ENSURE(path[strlen(path) - 1] != '/', PAWL_E_INVALID,
	       "%s: not a relative path of plain names (trailing \"/\")", path);
	for (;;) {
		int next = -1;

		GUARD(next_component(&p, comp, path));
		if (!*p && !want_last)
			break;
		GUARD(open_dir_one(cur >= 0 ? cur : dirfd, comp, uid, create, mode, path, &next));
		if (cur >= 0)
			close(cur);
		cur = next;
		if (!*p)
			break;
	}
	if (cur < 0) {
		/* A single component: it lives in dirfd itself. */
		do
			cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		while (cur < 0 && errno == EINTR);
		if (cur < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot duplicate a descriptor",
						    path);
	}
	if (last)
		memcpy(last, comp, sizeof(comp));
	*ret_fd = TAKE_FD(cur);
	return 0;
}

int dir_open_owned_at(int dirfd, const char *path, uid_t uid, int *ret_fd)
{
	ENSURE(ret_fd, PAWL_E_INVALID, "dir_open_owned_at: no output");
	ENSURE(uid != ANY_OWNER, PAWL_E_INVALID, "dir_open_owned_at: no owner");
	return walk(dirfd, path, uid, true, false, 0, ret_fd, NULL);
}

int dir_walk_at(int dirfd, const char *path, bool create, mode_t mode, int *ret_fd)
{
	ENSURE(ret_fd, PAWL_E_INVALID, "dir_walk_at: no output");
	return walk(dirfd, path, ANY_OWNER, true, create, mode, ret_fd, NULL);
}

int file_open_owned_at(int dirfd, const char *path, uid_t uid, int *ret_fd)
{
	_cleanup_close_ int pfd = -1, fd = -1;
	char base[NAME_MAX + 1];
	struct stat pre, st;

	ENSURE(ret_fd, PAWL_E_INVALID, "file_open_owned_at: no output");
	ENSURE(uid != ANY_OWNER, PAWL_E_INVALID, "file_open_owned_at: no owner");
	GUARD(walk(dirfd, path, uid, false, false, 0, &pfd, base));
	/* Looked at first, so that nothing but the user's own regular file is
	 * ever opened: opening a device or a FIFO can have effects of its own. */
	if (fstatat(pfd, base, &pre, AT_SYMLINK_NOFOLLOW) < 0)
		return open_failed(errno, path);
	if (S_ISLNK(pre.st_mode))
		return refused(path, "a symbolic link");
	if (!S_ISREG(pre.st_mode) || pre.st_uid != uid || pre.st_nlink != 1)
		return refused(path, "not a regular file with one link, owned by the expected user");
	/* It may have been swapped since: O_NOFOLLOW and O_NONBLOCK (a FIFO
	 * must not block the open), then the descriptor decides. */
	do
		fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == ELOOP ? refused(path, "a symbolic link") : open_failed(errno, path);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != uid || st.st_nlink != 1 ||
	    st.st_dev != pre.st_dev || st.st_ino != pre.st_ino)
		return refused(path, "not a regular file with one link, owned by the expected user");
	GUARD(store_clear_nonblock(fd, path));
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/*
 * dir.c - creating, opening and syncing directories, and sweeping up the
 * temporary files a crashed writer leaves. See store.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "store/store.h"

int fsync_dir(int dirfd)
{
	return io_fsync(dirfd, "directory");
}

/* fsync the directory holding p (p has no trailing '/'). */
static int fsync_parent(char *p)
{
	_cleanup_close_ int fd = -1;
	char *slash = strrchr(p, '/');
	int r;

	if (!slash) {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (slash == p) {
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		*slash = '\0';
		fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
	}
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open the parent of %s", p);
	r = io_fsync(fd, p);
	return r < 0 ? pawl_error_prefix(r, "directory creation: ") : 0;
}

static int mkdir_one(char *p, mode_t mode)
{
	struct stat st;
	int e;

	if (mkdir(p, mode) == 0)
		return fsync_parent(p);
	e = errno;
	/* Whatever mkdir said (EEXIST, or EACCES/EROFS on a directory that
	 * exists), an existing directory is success. stat follows links,
	 * as mkdir -p does. */
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (e == EEXIST)
		return pawl_error_set(PAWL_E_IO, "cannot create directory %s: exists and is not a directory",
				      p);
	return pawl_error_set_errno(PAWL_E_IO, e, "cannot create directory %s", p);
}

int dir_create(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = NULL;
	size_t len;

	ENSURE(path && *path, PAWL_E_INVALID, "empty directory name");
	p = xstrdup(path);
	if (!p)
		return PAWL_E_NOMEM;
	len = strlen(p);
	/* Create each prefix that ends a component: "a", "a/b", "a/b/c". */
	for (size_t i = 1; i <= len; i++) {
		if ((p[i] == '/' || p[i] == '\0') && p[i - 1] != '/') {
			char c = p[i];

			p[i] = '\0';
			GUARD(mkdir_one(p, mode));
			p[i] = c;
		}
	}
	return 0;
}

static int dir_open_flags(int dirfd, const char *name, int *ret_fd)
{
	struct stat st;
	int fd;

	ENSURE(name && *name, PAWL_E_INVALID, "empty directory name");
	do
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int e = errno;

		/* Say which refusal it was: Linux reports a symbolic link
		 * under O_DIRECTORY|O_NOFOLLOW as ENOTDIR, not ELOOP. */
		if ((e == ENOTDIR || e == ELOOP) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return pawl_error_set(PAWL_E_IO,
					      "cannot open directory %s: refusing to follow a symbolic link",
					      name);
		return store_open_error(e, "cannot open directory", name);
	}
	*ret_fd = fd;
	return 0;
}

int dir_open(const char *path, int *ret_fd)
{
	return dir_open_flags(AT_FDCWD, path, ret_fd);
}

int dir_open_at(int dirfd, const char *name, int *ret_fd)
{
	return dir_open_flags(dirfd, name, ret_fd);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int dir_remove_temps(int dirfd)
{
	__attribute__((cleanup(closedirp))) DIR *d = NULL;
	size_t plen = strlen(STORE_TMP_PREFIX);
	bool removed = false;
	int fd;

	/* fdopendir takes the descriptor, so give it a fresh one. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open directory");
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return pawl_error_set_errno(PAWL_E_IO, e, "cannot read directory");
	}
	for (;;) {
		struct dirent *de;
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read directory");
			break;
		}
		if (strncmp(de->d_name, STORE_TMP_PREFIX, plen) != 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", de->d_name);
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s", de->d_name);
		removed = true;
	}
	return removed ? fsync_dir(dirfd) : 0;
}

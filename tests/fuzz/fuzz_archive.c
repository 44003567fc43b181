/*
 * fuzz_archive.c - hostile archives through the release extractor.
 *
 * The first byte picks the compression (tar, gzip, xz, zstd), the rest is
 * the archive. It is unpacked into a fresh directory under small limits,
 * then put through tree_sync (the link walk and fsync the installer runs)
 * and removed with tree_remove_at. Whatever is accepted is checked by an
 * independent oracle, and any violation aborts:
 *  - nothing was created outside the extraction directory (a sibling
 *    "outside" directory stays empty);
 *  - the tree holds only directories, regular files without
 *    setuid/setgid/sticky bits and modes 0644/0755, and links;
 *  - every link that resolves at all (realpath(3), i.e. the kernel's own
 *    resolution) resolves inside the extraction directory;
 *  - the removal leaves nothing behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install/install_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root_real[PATH_MAX];
static size_t root_len;
static bool bad;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char real[PATH_MAX];

	if (flag == FTW_SL) {
		if (realpath(path, real) &&
		    (strncmp(real, root_real, root_len) != 0 ||
		     (real[root_len] != '/' && real[root_len] != '\0'))) {
			fprintf(stderr, "link %s resolves to %s, outside %s\n", path, real,
				root_real);
			bad = true;
		}
		return 0;
	}
	if (flag == FTW_F) {
		if (!S_ISREG(st->st_mode) || ((st->st_mode & 07777) != 0644 &&
					      (st->st_mode & 07777) != 0755)) {
			fprintf(stderr, "%s: mode %o\n", path, (unsigned)st->st_mode);
			bad = true;
		}
		return 0;
	}
	if (flag == FTW_D || flag == FTW_DP) {
		if ((st->st_mode & 07777) != 0755 && ftw->level > 0) {
			fprintf(stderr, "%s: directory mode %o\n", path, (unsigned)st->st_mode);
			bad = true;
		}
		return 0;
	}
	fprintf(stderr, "%s: unexpected entry (flag %d)\n", path, flag);
	bad = true;
	return 0;
}

static bool empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const install_kind kinds[] = { INSTALL_KIND_TAR, INSTALL_KIND_TAR_GZ,
					      INSTALL_KIND_TAR_XZ, INSTALL_KIND_TAR_ZST };
	char base[] = "/dev/shm/pawl-fuzz-archive-XXXXXX";
	char root[sizeof(base) + 8], outside[sizeof(base) + 8];
	archive_limits lim = { (uint64_t)1 << 20, 1000 };
	int src = -1, dfd = -1, bfd = -1, r;
	struct stat st;

	if (size < 1 || size > ((size_t)1 << 20))
		return 0;
	if (!mkdtemp(base)) {
		/* no /dev/shm: fall back to /tmp */
		snprintf(base, sizeof(base), "/tmp/pawl-fuzz-archive-XXXXXX");
		if (!mkdtemp(base))
			abort();
	}
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/out", base);
	if (mkdir(root, 0755) < 0 || mkdir(outside, 0755) < 0)
		abort();
	src = memfd_create("archive", MFD_CLOEXEC);
	if (src < 0)
		abort();
	if (size > 1 && write(src, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || bfd < 0)
		abort();

	r = archive_extract(src, kinds[data[0] % 4], dfd, &lim, "fuzz");
	if (r == 0)
		r = tree_sync(dfd, "fuzz");
	if (r == 0) {
		if (!realpath(root, root_real))
			abort();
		root_len = strlen(root_real);
		bad = false;
		if (nftw(root, visit, 64, FTW_PHYS) != 0 || bad)
			abort();
	}
	if (getenv("PAWL_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", r == 0 ? "accepted" : pawl_error_last()->message);
	pawl_error_clear();
	/* Whatever happened, nothing may have landed next to the root. */
	if (!empty_dir(outside))
		abort();
	if (tree_remove_at(bfd, "root") < 0 || tree_remove_at(bfd, "out") < 0)
		abort();
	if (fstatat(bfd, "root", &st, AT_SYMLINK_NOFOLLOW) == 0)
		abort();
	close(dfd);
	close(bfd);
	close(src);
	if (rmdir(base) < 0) /* fails if anything was created beside root */
		abort();
	return 0;
}

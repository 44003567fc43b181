/*
 * fuzz_archive.c - hostile archives through the release extractor.
 *
 * The first byte picks the input's form. With its high bit clear, its low
 * two bits pick the compression (tar, gzip, xz, zstd) and the rest is the
 * archive, mutated blindly (libarchive itself is not instrumented, so
 * this mostly explores the decompressors' and tar reader's error paths as
 * the extractor sees them). With the high bit set, the rest is a small
 * program of entries (type, mode, names and link targets built from a few
 * components such as "a", "..", "." and "/") that libarchive's writer
 * turns into a tar: structure-aware, so link chains, duplicates and
 * through-link paths are explored directly. The archive is unpacked into a fresh directory under small limits,
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

#include <archive.h>
#include <archive_entry.h>

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

/* ---------------- entry programs ---------------- */

struct prog {
	const uint8_t *p;
	size_t n;
};

static int next_byte(struct prog *g)
{
	if (g->n == 0)
		return -1;
	g->n--;
	return *g->p++;
}

/* A path of up to 7 components from a small alphabet; absolute when the
 * length byte's high bit is set. */
static void path_of(struct prog *g, char *out, size_t outsz)
{
	static const char *const comp[] = { "a", "b", "c", "..", ".", "", "d/e", "x" };
	int len = next_byte(g);
	size_t o = 0;

	out[0] = '\0';
	if (len < 0)
		return;
	if (len & 0x80)
		out[o++] = '/';
	for (int i = 0; i < (len & 7); i++) {
		int c = next_byte(g);
		int w;

		if (c < 0)
			break;
		w = snprintf(out + o, outsz - o, "%s%s", i ? "/" : "", comp[c % 8]);
		if (w < 0 || (size_t)w >= outsz - o)
			break;
		o += (size_t)w;
	}
	out[o] = '\0';
}

/* Write the program's entries as a plain tar into fd. */
static void write_program(struct prog *g, int fd)
{
	struct archive *a = archive_write_new();

	if (!a)
		abort();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK)
		abort();
	for (int count = 0; count < 64; count++) {
		struct archive_entry *e;
		char name[128], target[128];
		int op = next_byte(g), mode;

		if (op < 0)
			break;
		mode = next_byte(g);
		path_of(g, name, sizeof(name));
		e = archive_entry_new();
		if (!e)
			abort();
		archive_entry_set_pathname(e, name);
		archive_entry_set_perm(e, (mode_t)(mode < 0 ? 0644 : (mode * 37) & 07777));
		switch (op % 6) {
		case 0:
		case 1: /* a file of a few bytes */
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, op % 5);
			break;
		case 2:
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 3:
			path_of(g, target, sizeof(target));
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, target);
			break;
		case 4:
			path_of(g, target, sizeof(target));
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, target);
			archive_entry_set_size(e, 0);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		}
		if (archive_write_header(a, e) == ARCHIVE_OK && archive_entry_filetype(e) == AE_IFREG &&
		    !archive_entry_hardlink(e) && op % 5 > 0)
			(void)archive_write_data(a, "xxxx", (size_t)(op % 5));
		archive_entry_free(e);
	}
	(void)archive_write_close(a);
	archive_write_free(a);
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
	if (data[0] & 0x80) {
		struct prog g = { data + 1, size - 1 };

		write_program(&g, src);
	} else if (size > 1 && write(src, data + 1, size - 1) != (ssize_t)(size - 1)) {
		abort();
	}
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || bfd < 0)
		abort();

	r = archive_extract(src, (data[0] & 0x80) ? INSTALL_KIND_TAR : kinds[data[0] % 4], dfd,
			    &lim, "fuzz");
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

/*
 * libarchive.c - see libarchive.h.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "install/libarchive.h"

struct la_api la;

static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static int la_status;
static char la_missing[64];

#define SYM(field, name) { offsetof(struct la_api, field), name }

static const struct {
	size_t off;
	const char *name;
} la_syms[] = {
	SYM(read_new, "archive_read_new"),
	SYM(read_free, "archive_read_free"),
	SYM(read_support_format_tar, "archive_read_support_format_tar"),
	SYM(read_append_filter, "archive_read_append_filter"),
	SYM(read_open_fd, "archive_read_open_fd"),
	SYM(read_next_header, "archive_read_next_header"),
	SYM(read_data_block, "archive_read_data_block"),
	SYM(error_string, "archive_error_string"),
	SYM(zlib_version, "archive_zlib_version"),
	SYM(liblzma_version, "archive_liblzma_version"),
	SYM(libzstd_version, "archive_libzstd_version"),
	SYM(entry_size_is_set, "archive_entry_size_is_set"),
	SYM(entry_size, "archive_entry_size"),
	SYM(entry_sparse_count, "archive_entry_sparse_count"),
	SYM(entry_symlink, "archive_entry_symlink"),
	SYM(entry_hardlink, "archive_entry_hardlink"),
	SYM(entry_pathname, "archive_entry_pathname"),
	SYM(entry_filetype, "archive_entry_filetype"),
	SYM(entry_mode, "archive_entry_mode"),
};

static void la_open(void)
{
	struct la_api t;
	/* The soname this was compiled against (libarchive 3.x). */
	void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		la_status = -1;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(la_syms); i++) {
		void *p = dlsym(h, la_syms[i].name);

		if (!p) {
			snprintf(la_missing, sizeof(la_missing), "%s", la_syms[i].name);
			la_status = -2;
			dlclose(h);
			return;
		}
		memcpy((char *)&t + la_syms[i].off, &p, sizeof(p));
	}
	/* The handle stays open for the life of the process. */
	la = t;
	la_status = 1;
}

int la_load(void)
{
	pthread_once(&la_once, la_open);
	if (la_status == 1)
		return 0;
	if (la_status == -2)
		return pawl_error_set(PAWL_E_UNSUPPORTED, "libarchive.so.13 lacks %s", la_missing);
	return pawl_error_set(PAWL_E_UNSUPPORTED,
			      "cannot load libarchive.so.13 to unpack releases (install the "
			      "libarchive13 package)");
}

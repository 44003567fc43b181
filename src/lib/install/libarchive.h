/*
 * libarchive.h - libarchive, loaded when the first release is unpacked.
 *
 * Only the agent's install step reads archives, but linking libarchive
 * (and what it pulls in: libxml2, nettle, lzma, zstd, bz2, lz4, acl) made
 * every pawl process map and relocate it at start: 3 MB of resident
 * memory for a client refresh that never unpacks anything (measured with
 * an empty program: 7.2 MB with libcurl, 10.3 MB with libcurl and
 * libarchive). So libpawl opens libarchive.so.13 with dlopen() on first
 * use and calls it through this table; the types and constants still come
 * from <archive.h>.
 *
 * la_load() is idempotent and thread-safe; PAWL_E_UNSUPPORTED when the
 * library or a symbol is missing (install the libarchive13 package).
 */
#ifndef PAWL_LIBARCHIVE_H
#define PAWL_LIBARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "util/guard.h"

struct la_api {
	struct archive *(*read_new)(void);
	int (*read_free)(struct archive *);
	int (*read_support_format_tar)(struct archive *);
	int (*read_append_filter)(struct archive *, int);
	int (*read_open_fd)(struct archive *, int, size_t);
	int (*read_next_header)(struct archive *, struct archive_entry **);
	int (*read_data_block)(struct archive *, const void **, size_t *, la_int64_t *);
	const char *(*error_string)(struct archive *);
	const char *(*zlib_version)(void);
	const char *(*liblzma_version)(void);
	const char *(*libzstd_version)(void);
	int (*entry_size_is_set)(struct archive_entry *);
	la_int64_t (*entry_size)(struct archive_entry *);
	int (*entry_sparse_count)(struct archive_entry *);
	const char *(*entry_symlink)(struct archive_entry *);
	const char *(*entry_hardlink)(struct archive_entry *);
	const char *(*entry_pathname)(struct archive_entry *);
	__LA_MODE_T (*entry_filetype)(struct archive_entry *);
	__LA_MODE_T (*entry_mode)(struct archive_entry *);
};

extern struct la_api la;

PAWL_MUST_USE int la_load(void);

/* The library's names, routed through the table. */
#define archive_read_new(...) la.read_new(__VA_ARGS__)
#define archive_read_free(...) la.read_free(__VA_ARGS__)
#define archive_read_support_format_tar(...) la.read_support_format_tar(__VA_ARGS__)
#define archive_read_append_filter(...) la.read_append_filter(__VA_ARGS__)
#define archive_read_open_fd(...) la.read_open_fd(__VA_ARGS__)
#define archive_read_next_header(...) la.read_next_header(__VA_ARGS__)
#define archive_read_data_block(...) la.read_data_block(__VA_ARGS__)
#define archive_error_string(...) la.error_string(__VA_ARGS__)
#define archive_zlib_version(...) la.zlib_version(__VA_ARGS__)
#define archive_liblzma_version(...) la.liblzma_version(__VA_ARGS__)
#define archive_libzstd_version(...) la.libzstd_version(__VA_ARGS__)
#define archive_entry_size_is_set(...) la.entry_size_is_set(__VA_ARGS__)
#define archive_entry_size(...) la.entry_size(__VA_ARGS__)
#define archive_entry_sparse_count(...) la.entry_sparse_count(__VA_ARGS__)
#define archive_entry_symlink(...) la.entry_symlink(__VA_ARGS__)
#define archive_entry_hardlink(...) la.entry_hardlink(__VA_ARGS__)
#define archive_entry_pathname(...) la.entry_pathname(__VA_ARGS__)
#define archive_entry_filetype(...) la.entry_filetype(__VA_ARGS__)
#define archive_entry_mode(...) la.entry_mode(__VA_ARGS__)

#endif

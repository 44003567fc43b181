/*
 * file.h - the local files the programs read and the directories they
 * make, with the library's bounds and messages (store.h): a configuration
 * names a file, and the program reads it whole, bounded, or fails with a
 * message that names it.
 */
#ifndef PAWL_COMMON_FILE_H
#define PAWL_COMMON_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "pawl/common.h"

/* Read the regular file at path (not following a final symbolic link) of
 * at most max bytes into *ret (malloc'd, NUL-terminated, freed by the
 * caller). PAWL_E_NOT_FOUND, PAWL_E_LIMIT, PAWL_E_IO with the path in
 * pawl_error_last(). */
PAWL_MUST_USE int cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* mkdir -p path with mode, refusing to pass through symbolic links. */
PAWL_MUST_USE int cli_mkdirs(const char *path, mode_t mode);

#endif

/*
 * store-internal.h - helpers shared by the store's source files only.
 */
#ifndef PAWL_STORE_INTERNAL_H
#define PAWL_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/guard.h"
#include "util/io.h"

/* Split name at its last '/' and open the directory it lives in, relative
 * to dirfd (a name without '/' lives in dirfd itself; a new descriptor is
 * opened either way, so that AT_FDCWD can be fsynced too). *ret_base
 * points into name. An empty, "." or ".." final component is
 * PAWL_E_INVALID. */
PAWL_MUST_USE int store_open_parent(int dirfd, const char *name, int *ret_pfd,
				    const char **ret_base);

/* An error for a failed open: ENOENT is PAWL_E_NOT_FOUND, a refused
 * symbolic link (ELOOP under O_NOFOLLOW) says so, the rest is PAWL_E_IO. */
int store_open_error(int errnum, const char *what, const char *name);

/* Clear O_NONBLOCK (set to open FIFOs without blocking) once the
 * descriptor is known to be a regular file. */
PAWL_MUST_USE int store_clear_nonblock(int fd, const char *name);

#endif

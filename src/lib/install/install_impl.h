/*
 * install_impl.h - internals shared by the install module's source files:
 * the archive extractor, safe tree walks, the health-check runner and the
 * state file codec.
 */
#ifndef PAWL_INSTALL_IMPL_H
#define PAWL_INSTALL_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "install/install.h"

/* ---------------- archive.c ---------------- */

/* Deepest directory nesting an archive may create (bounds the recursion
 * and the descriptors of every later walk of the tree). */
#define ARCHIVE_MAX_DEPTH 128
/* Symbolic links expanded while resolving one link (as the kernel's 40). */
#define ARCHIVE_MAX_LINK_HOPS 40

typedef struct archive_limits {
	uint64_t max_bytes;   /* regular-file bytes, summed over entries */
	uint64_t max_entries; /* headers read, of every type */
} archive_limits;

/*
 * Unpack the tar archive (compressed as kind says) read from src_fd,
 * starting at offset 0, into the empty directory dst_dirfd. Each entry is
 * checked before anything is written for it; every directory on the way
 * is opened O_NOFOLLOW|O_DIRECTORY relative to its parent, and every file
 * is created O_EXCL|O_NOFOLLOW, so no link (made by the archive or found
 * in place) is ever followed. Refusals:
 *  - PAWL_E_POLICY: absolute path, ".." component, path through a link or
 *    a file, absolute link target, a link resolving outside dst_dirfd
 *    (checked again over the finished tree, so chains of links cannot
 *    escape either), hard link to something other than a regular file of
 *    this archive, device/FIFO/socket, setuid/setgid/sticky bit.
 *  - PAWL_E_LIMIT: more than lim->max_bytes of contents or max_entries
 *    entries, deeper than ARCHIVE_MAX_DEPTH, a name longer than PATH_MAX
 *    or a component longer than NAME_MAX.
 *  - PAWL_E_FORMAT: anything libarchive rejects or warns about, the wrong
 *    magic for kind, a duplicate entry, a sparse entry, an unknown type.
 * Regular files get 0755 when the archive gives any execute bit, else
 * 0644; directories 0755. Ownership, times, ACLs and extended attributes
 * in the archive are ignored. Nothing is fsynced here (see tree_sync). On
 * failure, whatever was written stays in dst_dirfd for the caller to
 * remove. what names the archive in messages.
 */
PAWL_MUST_USE int archive_extract(int src_fd, install_kind kind, int dst_dirfd,
				  const archive_limits *lim, const char *what);

/*
 * Check the tree under dirfd the way archive_extract leaves it (only
 * directories, regular files without setuid/setgid/sticky bits, and links
 * that resolve inside dirfd) and fsync every file and directory in it,
 * dirfd included. what names the tree in messages.
 */
PAWL_MUST_USE int tree_sync(int dirfd, const char *what);

/* Remove dirfd/name and everything below it, never following a link.
 * Absent is success. */
PAWL_MUST_USE int tree_remove_at(int dirfd, const char *name);

/* ---------------- health.c ---------------- */

typedef struct health_outcome {
	bool passed;     /* exited with status 0 in time */
	bool timed_out;  /* killed (with its process group) at the timeout */
	int status;      /* wait status */
} health_outcome;

/*
 * Run /bin/sh -c cmd in a new process group, in directory cwd_fd, with
 * stdin from /dev/null, the caller's stdout/stderr, the caller's
 * environment plus env (NULL-terminated "NAME=value" strings, replacing
 * same-named variables), and signal dispositions and mask reset. Waits up
 * to timeout_ms; past it the whole group is killed with SIGKILL. The group
 * is also killed once the shell exits, so the check leaves no stray
 * processes. Fails (negative) only when the command could not be started.
 */
PAWL_MUST_USE int health_run(const char *cmd, int cwd_fd, const char *const *env,
			     unsigned timeout_ms, health_outcome *ret);

/* ---------------- state.c ---------------- */

#define STATE_FILE "state.json"
#define STATE_MAX_BYTES ((size_t)1 << 20)

/* Parse the state file's bytes strictly (see install.h); what names the
 * file. Takes ownership of buf (malloc'd, len + 1 bytes). */
PAWL_MUST_USE int state_parse(install_state *ret, char *buf, size_t len, const char *what);
/* Serialise (pretty, trailing newline) into a malloc'd string. */
PAWL_MUST_USE int state_serialize(const install_state *st, char **ret, size_t *ret_len);
/* Durably replace dirfd/STATE_FILE. */
PAWL_MUST_USE int state_write(int dirfd, const install_state *st);
/* Is v (precedence, build metadata ignored) in the bad list? */
bool state_is_bad(const install_state *st, const semver *v);
/* Add v to the bad list (no-op when present; a full list drops its lowest
 * version first). */
void state_add_bad(install_state *st, const char *version);
/* Copy a version string into a state slot ("" for NULL). */
void state_set(char dst[SEMVER_MAX_LEN + 1], const char *src);
const char *install_phase_name(install_phase p);

#endif

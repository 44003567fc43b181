/*
 * store.h - safe local file primitives: bounded reads, durable atomic
 * writes, directory handling, an advisory lock, a name encoder and a
 * streaming staging file. The client's trusted-metadata store, the download
 * staging area and the publisher tool are built on these.
 *
 * Guarantees (every function below):
 *  - Every descriptor is opened O_CLOEXEC; every system call is checked and
 *    retried on EINTR; reads and writes loop over short transfers; size
 *    arithmetic is checked.
 *  - Nothing is printed and nothing exits. Errors are 0 or a negative
 *    pawl_err, with the path (or the name relative to a directory fd) in
 *    the message. A missing file is PAWL_E_NOT_FOUND; every other local
 *    failure, refused symbolic links and non-regular files included, is
 *    PAWL_E_IO.
 *  - Outputs (ret*) are written only on success.
 *  - The final component of a name is never followed if it is a symbolic
 *    link (O_NOFOLLOW, or rename, which replaces the link itself). Earlier
 *    components of a path are resolved normally, so a directory passed in
 *    by the administrator may live behind a symbolic link; names built
 *    from untrusted input must be one component (see name_to_filename).
 *  - Files the store replaces are written durably: temporary file in the
 *    same directory, fsync, rename, fsync of the directory. A crash leaves
 *    either the old or the new complete content, never a mix; it may leave
 *    a temporary file behind (see dir_remove_temps).
 *
 * Created files get the mode the caller passes, less the process umask.
 *
 * "dirfd" arguments may be AT_FDCWD. A "name" relative to a dirfd may have
 * several components ("sub/file"); the file's own directory is then the
 * one that is fsynced.
 */
#ifndef PAWL_STORE_H
#define PAWL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/guard.h"

/* ---------------- whole files ---------------- */

/*
 * Read a regular file whole. Opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK (so that
 * a FIFO cannot block the open) and checked with fstat to be a regular file
 * before anything is read. The file is read until end of file, never
 * trusting st_size (the file may grow while it is read); more than max
 * bytes is PAWL_E_LIMIT, found by reading at most max + 1 bytes.
 *
 * On success *ret is a malloc'd buffer the caller frees, holding *ret_len
 * bytes followed by a NUL (so there is always one spare byte, which the
 * JSON parser needs to parse in place). ret_len may be NULL.
 *
 * Errors: PAWL_E_NOT_FOUND (missing), PAWL_E_IO (symbolic link, directory,
 * FIFO, device or read error), PAWL_E_LIMIT, PAWL_E_NOMEM.
 */
PAWL_MUST_USE int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len);
PAWL_MUST_USE int file_read_at(int dirfd, const char *name, size_t max, char **ret,
			       size_t *ret_len);

/*
 * Durable atomic replace. The n bytes at p are written to a new, uniquely
 * named temporary file in the target's directory (O_EXCL, given mode), then
 * fsynced, renamed over the target and the directory fsynced.
 *
 * On any failure before the rename the temporary file is removed and the
 * old file (if any) is untouched. If only the final directory fsync fails
 * the new content is already in place but may not survive a power loss;
 * the error is still returned.
 *
 * A symbolic link at the target is replaced, never followed. A directory
 * at the target makes the rename fail (PAWL_E_IO). A missing directory is
 * PAWL_E_NOT_FOUND. An empty final component ("dir/") is PAWL_E_INVALID.
 */
PAWL_MUST_USE int file_write_atomic(const char *path, const void *p, size_t n, mode_t mode);
PAWL_MUST_USE int file_write_atomic_at(int dirfd, const char *name, const void *p, size_t n,
				       mode_t mode);

/*
 * Durable atomic create: the same temporary file and fsyncs, but it takes
 * the name only if nothing is there yet (renameat2 RENAME_NOREPLACE, or a
 * hard link where the file system lacks that), so that two writers, or a
 * writer and a check made just before, cannot silently replace one
 * another. When anything exists at name (a file, a symbolic link, a
 * directory) nothing is changed, *ret_existed is set and 0 is returned.
 */
PAWL_MUST_USE int file_create_atomic_at(int dirfd, const char *name, const void *p, size_t n,
					mode_t mode, bool *ret_existed);

/* Remove a file; a file that is already absent is success. A directory
 * (or any other failure) is PAWL_E_IO. */
PAWL_MUST_USE int file_remove_at(int dirfd, const char *name);

/* Read what is left of an open file, from its current position to end of
 * file, with the same bound and result as file_read_all (name is only for
 * messages). The caller has checked what fd is. */
PAWL_MUST_USE int file_read_fd(int fd, const char *name, size_t max, char **ret,
			       size_t *ret_len);

/*
 * Create dirfd/name (one new file: O_CREAT|O_EXCL|O_NOFOLLOW, so an
 * existing name of any kind is PAWL_E_IO) holding the n bytes at p. Not
 * durable (no fsync): for scratch copies that a crash may lose. On failure
 * nothing is left under name.
 */
PAWL_MUST_USE int file_create_at(int dirfd, const char *name, const void *p, size_t n,
				 mode_t mode);

/* ---------------- hostile directories ---------------- */

/*
 * A directory that a less privileged user can write is hostile: the user
 * can swap any entry in it, at any instant, for a symbolic link, a hard
 * link, a FIFO or another directory. A more privileged process (the
 * agent's root side, with the unprivileged fetcher's state_dir/work) must
 * touch such a directory only through these, never by path.
 *
 * dir_open_owned_at / file_open_owned_at open dirfd/path, where path is
 * relative, one or more plain names joined by '/' (an empty, "." or ".."
 * component, a leading or trailing '/' is PAWL_E_INVALID):
 *  - every component is opened with openat(..., O_NOFOLLOW|O_CLOEXEC)
 *    relative to the descriptor of the one before, so no symbolic link is
 *    ever followed and no later swap can redirect the walk;
 *  - every directory on the way (and, for dir_open_owned_at, the last one)
 *    must be a directory owned by uid, checked with fstat on its
 *    descriptor;
 *  - file_open_owned_at's file must be a regular file owned by uid with a
 *    single link (a hard link to someone else's file is refused). It is
 *    looked at (fstatat, not following) before it is opened, so that
 *    nothing else is ever opened (opening a device or FIFO can act), then
 *    opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_NOCTTY and checked again on
 *    the descriptor (same inode, same rules). O_NONBLOCK is then cleared.
 * So the caller only ever reads what uid itself could read: it cannot be
 * tricked into reading, or into printing anything about, another user's
 * file. Owner checks use the descriptor; an owner cannot give a file away,
 * so the answer cannot change afterwards.
 *
 * Errors: PAWL_E_NOT_FOUND (a component missing), PAWL_E_IO (a symbolic
 * link, a wrong type, owner or link count: "PATH: refused: ..."; or a
 * system call failed), PAWL_E_INVALID (path). Messages name the path and
 * the rule broken, never the size, owner or content of what was found.
 * *ret_fd (O_CLOEXEC) is the caller's to close, written only on success.
 */
PAWL_MUST_USE int dir_open_owned_at(int dirfd, const char *path, uid_t uid, int *ret_fd);
PAWL_MUST_USE int file_open_owned_at(int dirfd, const char *path, uid_t uid, int *ret_fd);

/*
 * The same walk for a directory others may be able to write, where the
 * caller writes (pawl-repo publishing into a shared web root): open
 * dirfd/path one component at a time with openat(O_NOFOLLOW|O_DIRECTORY),
 * any owner, creating each missing component with mkdirat(mode) when
 * create is set (mkdir -p that never follows a link, not even one planted
 * between two calls). The caller then works relative to *ret_fd with
 * single names only. Errors, path rules and *ret_fd as above.
 */
PAWL_MUST_USE int dir_walk_at(int dirfd, const char *path, bool create, mode_t mode,
			      int *ret_fd);

/* ---------------- directories ---------------- */

/*
 * mkdir -p: create path and every missing parent with mode (less umask).
 * Directories that already exist are fine (symbolic links to directories
 * in the path are followed, as mkdir -p does); anything else in the way is
 * PAWL_E_IO. The parent of every directory created is fsynced, so that a
 * store created here survives a crash along with the files written in it.
 */
PAWL_MUST_USE int dir_create(const char *path, mode_t mode);

/* Open a directory O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC: a symbolic
 * link or a non-directory as the final component is PAWL_E_IO, a missing
 * one PAWL_E_NOT_FOUND. The caller closes *ret_fd. */
PAWL_MUST_USE int dir_open(const char *path, int *ret_fd);
PAWL_MUST_USE int dir_open_at(int dirfd, const char *name, int *ret_fd);

/* fsync a directory descriptor (makes renames and unlinks in it durable). */
PAWL_MUST_USE int fsync_dir(int dirfd);

/*
 * Remove the temporary files file_write_atomic leaves behind when a
 * process dies between creating and renaming them (regular files whose
 * names start with STORE_TMP_PREFIX). Staging ".part" files are kept: they
 * are resumed, not abandoned. Call it only while holding the directory's
 * lock, or a concurrent writer's temporary file may be removed under it
 * (its rename then fails; nothing is corrupted).
 */
#define STORE_TMP_PREFIX ".pawl-tmp-"
PAWL_MUST_USE int dir_remove_temps(int dirfd);

/* ---------------- locking ---------------- */

/*
 * An exclusive advisory lock: flock(LOCK_EX) on dirfd/name, opened
 * O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, created 0644, checked to be a
 * regular file. By convention name is STORE_LOCK_NAME.
 *
 * timeout_s is how long to wait for a holder to go away (0: try once).
 * Still held by someone else after that: PAWL_E_LOCKED. The lock belongs to
 * the open file description: another process (a forked child included)
 * that calls lock_acquire contends normally; a child that merely inherits
 * the descriptor across fork shares it. The lock file is never removed
 * (removing it would let two processes lock two different files).
 *
 * *ret is released (and freed) with lock_release, which accepts NULL.
 */
#define STORE_LOCK_NAME ".lock"
typedef struct pawl_lock pawl_lock;
PAWL_MUST_USE int lock_acquire(pawl_lock **ret, int dirfd, const char *name, unsigned timeout_s);
void lock_release(pawl_lock *l);

static inline void lock_releasep(pawl_lock **l)
{
	lock_release(*l);
}
#define _cleanup_lock_ _cleanup_(lock_releasep)

/* ---------------- untrusted names ---------------- */

/*
 * Map an untrusted name (a TUF role name or target path: arbitrary bytes,
 * usually UTF-8) to one safe file name component, appended to out.
 *
 * Every byte outside [A-Za-z0-9._-] is written as %XX (upper-case hex), and
 * so is a leading '.'. The result therefore never contains '/' or NUL,
 * never starts with '.' (so it is never "." or "..", and never collides
 * with STORE_TMP_PREFIX or STORE_LOCK_NAME), and is injective and
 * reversible (filename_to_name). "a/b" -> "a%2Fb", "../x" -> "%2E.%2Fx",
 * "ünï" -> "%C3%BCn%C3%AF". Non-ASCII bytes are always encoded, so file
 * system Unicode normalisation cannot merge two names.
 *
 * Not handled: case-insensitive file systems (FAT, default macOS) would
 * merge "Root" and "root"; keep stores on a case-sensitive file system.
 *
 * Errors: an empty name is PAWL_E_INVALID; an encoding longer than
 * NAME_ENC_MAX bytes is PAWL_E_LIMIT (a caller adding a prefix or suffix,
 * such as "3." or ".json", must leave room for it under NAME_MAX); out's
 * own maximum gives PAWL_E_LIMIT. out is unchanged on error.
 */
#define NAME_ENC_MAX 255
PAWL_MUST_USE int name_to_filename(pawl_buf *out, const char *name, size_t len);

/*
 * The inverse: decode a file name produced by name_to_filename, appending
 * the original bytes to out. Only the exact encoding is accepted (lower-case
 * hex, an escaped byte that needs no escape, an unescaped byte that needs
 * one, or a truncated escape is PAWL_E_FORMAT), so decoding is injective
 * too. out is unchanged on error.
 */
PAWL_MUST_USE int filename_to_name(pawl_buf *out, const char *fn, size_t len);

/* ---------------- staging ---------------- */

/*
 * A streaming staging file for downloads: dirfd/name.part is filled with
 * staged_write, re-read through staged_fd (for hashing), and either
 * renamed into place with staged_commit or removed with staged_discard.
 *
 * staged_open:
 *  - resume = false: whatever is at name.part is unlinked (never followed
 *    or truncated in place) and a fresh file is created with O_EXCL, 0644.
 *  - resume = true: an existing name.part is opened O_NOFOLLOW and must be
 *    a regular file with a single link (a planted symbolic link, FIFO,
 *    directory or hard link is PAWL_E_IO); its size is reported in
 *    *ret_existing_len and writes append to it. A missing name.part is
 *    created as above (size 0). The caller must verify the whole file,
 *    old bytes included, before committing.
 *  ret_existing_len may be NULL.
 *
 * One writer per name: two processes staging the same name would write
 * into or unlink each other's .part. Hold the directory's lock.
 *
 * The staged object keeps its own descriptor of the directory; the
 * caller's dirfd may be closed after staged_open returns.
 *
 * staged_commit: fsync the file, renameat onto dst_dirfd/dst_name (same
 * file system; a different directory is fine), fsync the destination
 * directory and, if different, the staging directory. It always frees s.
 * On failure before the rename the .part is removed; if a write failed
 * earlier, commit refuses (PAWL_E_IO) and removes the .part.
 *
 * With _cleanup_staged_, hand the object over: staged_commit(TAKE_PTR(s),
 * ...).
 *
 * staged_discard: remove the .part and free; accepts NULL. Best effort: it
 * cannot fail (an unlink error leaves a .part that the next non-resume
 * staged_open replaces).
 */
typedef struct pawl_staged pawl_staged;
PAWL_MUST_USE int staged_open(pawl_staged **ret, int dirfd, const char *name, bool resume,
			      uint64_t *ret_existing_len);
PAWL_MUST_USE int staged_write(pawl_staged *s, const void *p, size_t n);
/* Reserve disk blocks for the file to grow to total bytes, without
 * changing its size (fallocate FALLOC_FL_KEEP_SIZE): a target that cannot
 * fit fails here, before any byte is fetched, and the blocks come in one
 * allocation instead of one per page. PAWL_E_IO with a message on ENOSPC,
 * EDQUOT or EFBIG; 0 where the file system cannot reserve (the writes
 * then allocate as they go) or total is not above the current size. */
PAWL_MUST_USE int staged_reserve(pawl_staged *s, uint64_t total);
PAWL_MUST_USE int staged_commit(pawl_staged *s, int dst_dirfd, const char *dst_name);
void staged_discard(pawl_staged *s);
/* Close and free, leaving the .part in place for a later resume (unless a
 * write had failed: then it is removed). Accepts NULL. */
void staged_release(pawl_staged *s);
/* The descriptor (O_RDWR|O_APPEND: writes always go to the end, so the
 * caller may lseek/pread it to re-read). Owned by s; do not close it. */
int staged_fd(const pawl_staged *s);
/* Bytes in the file: the resumed length plus everything written since. */
uint64_t staged_size(const pawl_staged *s);

static inline void staged_discardp(pawl_staged **s)
{
	staged_discard(*s);
}
#define _cleanup_staged_ _cleanup_(staged_discardp)

#endif

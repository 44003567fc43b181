/*
 * boot_impl.h - what the backends of boot.h share: the operation table
 * each one fills in, the program runner, and the file checks.
 */
#ifndef PAWL_BOOT_IMPL_H
#define PAWL_BOOT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "util/buf.h"

/*
 * One backend. boot.c checks the arguments (a valid slot and state, a
 * non-NULL out pointer) and adds nothing to the messages: each operation
 * names its file or script and itself. Outputs are written only on
 * success. get_current may be NULL: the kernel command line decides.
 */
typedef struct boot_ops {
	const char *name;
	PAWL_MUST_USE int (*get_primary)(boot_backend *b, boot_slot *ret);
	PAWL_MUST_USE int (*set_primary)(boot_backend *b, boot_slot slot);
	PAWL_MUST_USE int (*get_state)(boot_backend *b, boot_slot slot, boot_state *ret);
	PAWL_MUST_USE int (*set_state)(boot_backend *b, boot_slot slot, boot_state st);
	PAWL_MUST_USE int (*get_current)(boot_backend *b, boot_slot *ret);
	void (*free)(boot_backend *b);
} boot_ops;

struct boot_backend {
	const boot_ops *ops;
	char *path;        /* the file after "name:" (NULL for the fake) */
	unsigned tries;
	unsigned timeout_ms;
	char *editenv;     /* grub-editenv's absolute path */
	void *priv;        /* the backend's own state */
};

/* Constructors: fill in b->ops and b->priv; b->path and the options are
 * already set. On failure b is freed by the caller with boot_free(). */
PAWL_MUST_USE int boot_grub_init(boot_backend *b);
PAWL_MUST_USE int boot_uboot_init(boot_backend *b);
PAWL_MUST_USE int boot_custom_init(boot_backend *b);

/* The RAUC bootname of a slot: "A" / "B". */
static inline const char *boot_slot_bootname(boot_slot s)
{
	return s == BOOT_SLOT_A ? "A" : "B";
}

/* ---------------- spawn.c ---------------- */

#define BOOT_STDERR_KEEP 512 /* bytes of a program's stderr kept for messages */

typedef struct boot_run {
	int status;          /* wait status, when it ran to its exit */
	pawl_buf out;        /* its stdout, at most out.max bytes */
	char err[BOOT_STDERR_KEEP + 1]; /* the start of its stderr, NUL-terminated,
				   * control bytes as spaces */
} boot_run;

/*
 * Run argv[0] (an absolute path) with argv through posix_spawn: no shell,
 * stdin from /dev/null, the environment PATH=/usr/sbin:/usr/bin:/sbin:/bin
 * and LC_ALL=C, every other descriptor closed, in a process group of its
 * own. Its stdout is collected into r->out (set max before: more is
 * PAWL_E_LIMIT), the start of its stderr into r->err. After timeout_ms the
 * whole group is killed and the call fails with PAWL_E_LIMIT; the group is
 * killed as well once the program exits, so that nothing it started
 * outlives the call. Returns 0 when it exited (r->status holds how) and
 * what (for example "custom boot script /x get-state a") heads every
 * message.
 */
PAWL_MUST_USE int boot_spawn(char *const argv[], unsigned timeout_ms, boot_run *r,
			     const char *what);
/* boot_spawn, then a non-zero exit or a signal is PAWL_E_IO with the
 * status and the start of stderr in the message. */
PAWL_MUST_USE int boot_spawn_ok(char *const argv[], unsigned timeout_ms, boot_run *r,
				const char *what);

/* ---------------- files (boot.c) ---------------- */

/*
 * A file root will run, or rewrite by name, must not be replaceable by
 * anyone else (OpenSSH's rule for AuthorizedKeysCommand): path, resolved
 * with realpath, must be a regular file, and it and every directory above
 * it must be owned by root or by us and not writable by group or others,
 * except that a sticky directory (/tmp) may be writable when the entry in
 * it is ours. kind names the file in the message ("custom boot script").
 * PAWL_E_POLICY, PAWL_E_NOT_FOUND or PAWL_E_IO.
 */
PAWL_MUST_USE int boot_check_owner(const char *path, const char *kind);
/* The same, except that path may also be a block or character device,
 * whose own owner and mode are then left to the system. */
PAWL_MUST_USE int boot_check_device(const char *path, const char *kind);

/*
 * libubootenv takes its lock by open(O_CREAT|O_TRUNC) of a fixed name in
 * /var/lock, a world-writable directory, following links. Before letting
 * it, make sure name in dirfd is a regular file we own (creating it,
 * O_NOFOLLOW, when missing): in a sticky directory nobody else can then
 * swap it for a link. Anything else there is PAWL_E_POLICY. (uboot.c)
 */
PAWL_MUST_USE int uboot_check_lock_at(int dirfd, const char *name, const char *dirname);

#endif

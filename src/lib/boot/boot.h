/*
 * boot.h - the bootloader integration layer: which slot the bootloader
 * tries next, which slots are good or bad, and which slot is running.
 *
 * A device has two slots, "a" and "b" (BOOT_SLOT_A/B). Each bootloader is
 * one backend behind one small table of operations (boot_impl.h), in one
 * file each:
 *   grub.c    GRUB's environment block, read and written with grub-editenv
 *   uboot.c   the U-Boot environment, through libubootenv
 *   custom.c  an integrator's script, called with one verb per operation
 *   fake.c    for tests: in memory, records every call in order
 * A backend is chosen by the device configuration's bootloader string:
 *   grub:/boot/grub/grubenv | uboot:/etc/fw_env.config | custom:/usr/lib/pawl/boot-script
 * (the fake backend is reachable only through boot_fake_new()).
 *
 * The variables follow RAUC's conventions, so that existing boot scripts
 * keep working (slot a is RAUC's bootname "A", slot b is "B"):
 *   GRUB    ORDER="A B", A_OK, A_TRY, B_OK, B_TRY (values "0" or "1")
 *     set-primary X   ORDER="X Y", X_OK=1, X_TRY=0
 *     set-state good  X_OK=1, X_TRY=0          bad: X_OK=0, X_TRY=0
 *     get-primary     the first slot in ORDER with X_OK=1 and X_TRY=0
 *     get-state       good when X is in ORDER, X_OK=1 and X_TRY=0
 *   U-Boot  BOOT_ORDER="A B", BOOT_A_LEFT, BOOT_B_LEFT (tries, hexadecimal
 *           digits without 0x, as setexpr writes them)
 *     set-primary X   BOOT_ORDER=X then the rest as it was ("X Y" when
 *                     unset), BOOT_X_LEFT=tries
 *     set-state good  BOOT_X_LEFT=tries; X back at the end of BOOT_ORDER
 *                     if a mark-bad took it out (RAUC leaves it out)
 *     set-state bad   BOOT_X_LEFT=0, X removed from BOOT_ORDER
 *     get-primary     the first slot in BOOT_ORDER with BOOT_X_LEFT > 0
 *     get-state       good when X is in BOOT_ORDER and BOOT_X_LEFT > 0
 *   custom  SCRIPT get-primary | set-primary SLOT | get-state SLOT |
 *           set-state SLOT good|bad | get-current (docs/images.md)
 * The boot side of the same conventions ships in deploy/boot/ (grub.cfg,
 * boot.scr.txt) and is simulated for the tests by tests/integration/bootsim.c.
 *
 * Guarantees:
 *  - Every change of one operation is one write of the environment: GRUB's
 *    is made in a copy next to the grubenv and renamed over it (fsynced),
 *    so a crash leaves the old or the new block, never a truncated one
 *    (grub-editenv itself truncates in place); U-Boot's goes to the
 *    redundant copy when fw_env.config names two (libubootenv's scheme).
 *  - A corrupt or missing environment is an error, never rewritten with
 *    defaults: a fresh U-Boot environment would drop bootcmd and friends.
 *  - Values are parsed strictly: anything but the forms above (an unknown
 *    slot name in ORDER, "01", a duplicate variable, a line without '=')
 *    is PAWL_E_FORMAT naming the file and the variable.
 *  - Programs (grub-editenv, the custom script) run with posix_spawn from a
 *    fixed argv and a fixed environment (PATH, LC_ALL=C), no shell, stdin
 *    from /dev/null, in a process group of their own that is killed
 *    whole after a timeout; their output is read through a capped buffer.
 *  - Files that root will write or run are refused (PAWL_E_POLICY) when a
 *    user other than root could change or swap them (boot_check_owner:
 *    the file and every directory above it): the custom script,
 *    grub-editenv, the grubenv, fw_env.config and the devices it names;
 *    and libubootenv's lock in /var/lock must be a file of ours, not a
 *    link.
 *  - The library never prints. Errors are 0 or a negative pawl_err whose
 *    message names the file or script and the operation:
 *      PAWL_E_INVALID    a malformed bootloader string or slot
 *      PAWL_E_NOT_FOUND  a missing file, variable, or bootable slot
 *      PAWL_E_FORMAT     a corrupt environment, a bad value, a script's
 *                        answer that is not exactly one expected line
 *      PAWL_E_IO         the tool or script failed (non-zero exit, signal),
 *                        or reading/writing the environment failed
 *      PAWL_E_LIMIT      a timeout, or more output than allowed
 *      PAWL_E_POLICY     an unsafe owner or mode (above)
 *
 * Interface for the slot installer (issue 18; not built here):
 *  - Open once per run: boot_open(conf "bootloader", &opts, &b).
 *  - booted = boot_get_booted(b, --booted-slot or BOOT_SLOT_NONE, &s);
 *    the installer writes only boot_slot_other(booted), never booted.
 *  - After every byte of the new image is verified, written and the slot
 *    device fsynced: boot_set_primary(b, other). That call is the switch:
 *    until its one write lands, the bootloader boots the old slot. When it
 *    fails after that write (a failed fsync of the directory), the switch
 *    may have happened: read boot_get_primary back.
 *  - mark-good / mark-bad: boot_set_state(b, booted, BOOT_GOOD/BAD).
 *    confirm: health check, then one of the two.
 *  - status: boot_get_primary, boot_get_state for both slots. Under GRUB,
 *    get-primary is PAWL_E_NOT_FOUND while the running slot is not yet
 *    confirmed (its X_TRY is 1), as in RAUC.
 *  - After a fallback (booted is not the slot last set primary, and that
 *    one is not good), marking that slot bad keeps GRUB from giving it
 *    another try when the old slot once fails to confirm.
 *  - Tests: boot_fake_new() gives a backend that records the calls
 *    ("set-primary b\nset-state b good\n") and fails on demand.
 */
#ifndef PAWL_BOOT_H
#define PAWL_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/guard.h"

typedef enum boot_slot {
	BOOT_SLOT_NONE = -1, /* "not given" (boot_get_booted's override) */
	BOOT_SLOT_A = 0,
	BOOT_SLOT_B = 1,
} boot_slot;

typedef enum boot_state {
	BOOT_BAD = 0,
	BOOT_GOOD = 1,
} boot_state;

typedef struct boot_backend boot_backend;

#define BOOT_OPTS_VERSION 1
#define BOOT_DEFAULT_TRIES 3               /* U-Boot: boots a slot gets */
#define BOOT_MAX_TRIES 255
#define BOOT_DEFAULT_SCRIPT_TIMEOUT_MS 30000
#define BOOT_DEFAULT_EDITENV_TIMEOUT_MS 10000
#define BOOT_DEFAULT_EDITENV "/usr/bin/grub-editenv"

typedef struct boot_opts {
	unsigned version;          /* BOOT_OPTS_VERSION */
	unsigned tries;            /* U-Boot BOOT_X_LEFT on set-primary and
				    * on good; 0: BOOT_DEFAULT_TRIES */
	unsigned timeout_ms;       /* custom script, per call; 0: default */
	const char *grub_editenv;  /* absolute path; NULL: BOOT_DEFAULT_EDITENV */
} boot_opts;

#define BOOT_OPTS_INIT { BOOT_OPTS_VERSION, 0, 0, NULL }

/* "a" / "b" (and "?" for anything else). */
const char *boot_slot_name(boot_slot s);
/* BOOT_SLOT_A for "a", BOOT_SLOT_B for "b"; anything else PAWL_E_INVALID. */
PAWL_MUST_USE int boot_slot_parse(const char *s, boot_slot *ret);
static inline boot_slot boot_slot_other(boot_slot s)
{
	return s == BOOT_SLOT_A ? BOOT_SLOT_B : BOOT_SLOT_A;
}
/* "good" / "bad". */
const char *boot_state_name(boot_state st);

/*
 * Open the backend a bootloader string names ("grub:PATH", "uboot:PATH",
 * "custom:PATH"; PATH absolute). Checks the files it can check now (the
 * custom script's owner and mode, the grubenv directory's); the
 * environment itself is read by each operation, so that a long-running
 * agent never works from a stale copy. opts may be NULL.
 */
PAWL_MUST_USE int boot_open(const char *spec, const boot_opts *opts, boot_backend **ret);
void boot_free(boot_backend *b);
static inline void boot_freep(boot_backend **b)
{
	boot_free(*b);
}
#define _cleanup_boot_ _cleanup_(boot_freep)

/* "grub", "uboot", "custom", "fake". */
const char *boot_backend_name(const boot_backend *b);

/* The slot the bootloader will try first (see the table above). */
PAWL_MUST_USE int boot_get_primary(boot_backend *b, boot_slot *ret);
/* Make slot the one tried next, with a fresh set of tries. */
PAWL_MUST_USE int boot_set_primary(boot_backend *b, boot_slot slot);
PAWL_MUST_USE int boot_get_state(boot_backend *b, boot_slot slot, boot_state *ret);
PAWL_MUST_USE int boot_set_state(boot_backend *b, boot_slot slot, boot_state st);

/*
 * The slot the running system was booted from: override when it is not
 * BOOT_SLOT_NONE (the CLI's --booted-slot), else the custom script's
 * get-current for the custom backend, else pawl.slot= on /proc/cmdline.
 */
PAWL_MUST_USE int boot_get_booted(boot_backend *b, boot_slot override, boot_slot *ret);

/*
 * The slot named on a kernel command line (the text of /proc/cmdline, len
 * bytes, not necessarily NUL-terminated): pawl.slot=a|b, or RAUC's
 * rauc.slot=A|B. Words are split as the kernel splits them (double quotes
 * group), and nothing after a lone "--" counts (the kernel hands it to
 * init). The same slot named more than once is fine; two different ones,
 * or any other value (pawl.slot=c, pawl.slot=, rauc.slot=R) is
 * PAWL_E_FORMAT; none at all is PAWL_E_NOT_FOUND. pawl.slotx=a is another
 * parameter and is ignored.
 */
PAWL_MUST_USE int boot_cmdline_slot(const char *text, size_t len, boot_slot *ret);
/* The same over a file: /proc/cmdline when path is NULL. */
PAWL_MUST_USE int boot_read_cmdline(const char *path, boot_slot *ret);

/* ---------------- the fake backend (tests) ---------------- */

/*
 * An in-memory backend that answers with what it was last told (set-primary
 * X makes get-primary answer X; set-state X S makes get-state X answer S)
 * and appends one line per call to its log, in order: "get-primary",
 * "set-primary b", "get-state a", "set-state a good", "get-current".
 * Starts as: primary a, a good, b bad, booted a.
 */
PAWL_MUST_USE int boot_fake_new(boot_backend **ret);
/* The calls so far, one per line, each ending in '\n'; "" before any.
 * Owned by b; valid until the next call on b. */
const char *boot_fake_log(const boot_backend *b);
void boot_fake_clear_log(boot_backend *b);
/* Make the next call of op ("set-primary", ...) fail with code (a negative
 * pawl_err); the failed call is logged too. */
void boot_fake_fail_next(boot_backend *b, const char *op, int code);
/* What get-current answers (boot_get_booted without override). */
void boot_fake_set_booted(boot_backend *b, boot_slot s);

/* ---------------- parsers (exposed for the tests and fuzzers) ---------------- */

/*
 * One variable out of grub-editenv's `list` output (NAME=VALUE lines).
 * The whole text is checked: every line must be NAME=VALUE with NAME of
 * [A-Za-z0-9_] and no NUL anywhere, and name may not be set twice, else
 * PAWL_E_FORMAT. (grub-editenv prints values raw: a value holding a
 * newline shows as a line without '=', which is refused.) *ret points into text (not NUL-terminated, *ret_len
 * bytes); a missing name is PAWL_E_NOT_FOUND. what names the file.
 */
PAWL_MUST_USE int grub_list_get(const char *text, size_t len, const char *name,
				const char **ret, size_t *ret_len, const char *what);

/* A slot-order value ("A B", "B", ""): names A and B separated by spaces,
 * each at most once. ret gets the slots in order, *ret_n how many. name
 * (ORDER, BOOT_ORDER) and what go into the message. */
PAWL_MUST_USE int boot_order_parse(const char *v, size_t len, boot_slot ret[2], size_t *ret_n,
				   const char *name, const char *what);

/*
 * A custom script's answer to a get verb: exactly one word and at most one
 * '\n' after it. For get-primary and get-current the word is "a" or "b"
 * (*ret a boot_slot), for get-state "good" or "bad" (*ret a boot_state).
 */
typedef enum boot_answer {
	BOOT_ANSWER_SLOT,
	BOOT_ANSWER_STATE,
} boot_answer;
PAWL_MUST_USE int custom_parse_answer(const char *out, size_t len, boot_answer kind, int *ret,
				      const char *what);

#endif

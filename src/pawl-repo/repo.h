/*
 * repo.h - what the files of pawl-repo share: the workspace (staged,
 * versioned TUF metadata plus a content store), key loading, and the
 * command entry points.
 *
 * The workspace (docs/pawl-repo.md has the full picture):
 *   REPO/root.json                     newest fully signed root: give it to clients
 *   REPO/config.json                   expiry periods and hash algorithms
 *   REPO/state.json                    the versions last published from here
 *   REPO/metadata/<role>.json          current staged version of every role
 *   REPO/metadata/root-history/N.root.json   every fully signed root version
 *   REPO/targets/XX/<sha256>           target content, stored by hash
 *   REPO/.lock                         serialises writers
 *
 * Invariants the commands keep:
 *  - A role changed after its current version was published gets a new
 *    version (published + 1) once; further changes before the next
 *    publication keep that version. Every change refreshes the expiry and
 *    drops the signatures, which then no longer cover the content.
 *  - Files in the workspace are exactly the bytes that will be published
 *    (md_serialize), so the hashes the snapshot and timestamp record are
 *    those of the published files.
 *  - Every file is replaced atomically (store module); writers hold the
 *    workspace lock.
 *
 * Everything here returns 0 or a negative pawl_err with the detail in the
 * thread's error object, like libpawl; only cli.c prints errors.
 */
#ifndef PAWL_REPO_H
#define PAWL_REPO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/exit_codes.h"
#include "common/parse.h"
#include "publisher/publisher.h"

/* docs/exit-codes.md (common/exit_codes.h) */
#define EXIT_VERIFY CLI_EXIT_VERIFY
#define EXIT_INCIDENTS CLI_EXIT_INCIDENTS
#define EXIT_USAGE CLI_EXIT_USAGE

/* Role names pawl-repo creates must be one safe file name component. */
#define ROLE_NAME_MAX 128
/* Largest target file name component: "<sha512 hex>.<name>" must fit. */
#define TARGET_NAME_MAX (255 - 128 - 1)
#define TARGET_PATH_MAX 4096
#define BINS_MAX 16384
#define DAY 86400
/* The longest expiry period a role may have (cli_parse_duration). */
#define PERIOD_MAX (100LL * 366 * DAY)

/* ---------------- output.c ---------------- */

extern int verbosity; /* -1 quiet, 0 normal, 1 verbose */
void info(const char *fmt, ...) PAWL_PRINTF(1, 2);
/* "pawl-repo: warning: ..." on stderr, even with -q. */
void warning(const char *fmt, ...) PAWL_PRINTF(1, 2);

/* A growing list of option values (exits when out of memory). */
typedef struct strv {
	char **v;
	size_t n, cap;
} strv;
void strv_push(strv *s, char *v);

/* A short form of a key id for messages: its first 16 hex digits. */
const char *short_id(const char *keyid, char buf[20]);

/* ---------------- cli.c ---------------- */

/* Set by main.c: the running command's argv, for naming a bad option
 * (getopt_long runs on it, with opterr 0), and whether --json is on the
 * command line (failures and usage errors are then one JSON object on
 * stdout too, docs/json.md). */
extern char **cmd_argv;
extern bool json_requested;

_Noreturn void usage_error(const char *cmd, const char *fmt, ...) PAWL_PRINTF(2, 3);
/* Options every command takes: --help, --passphrase-file, --pin-file,
 * --no-syslog, -q, -v. */
enum { OPT_PASSFILE = 1000, OPT_PINFILE, OPT_NOSYSLOG, OPT_FIRST = 1010 };
#define COMMON_LONGOPTS                                                        \
	{ "help", no_argument, NULL, 'h' },                                    \
	{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },          \
	{ "pin-file", required_argument, NULL, OPT_PINFILE },                  \
	{ "no-syslog", no_argument, NULL, OPT_NOSYSLOG },                      \
	{ "quiet", no_argument, NULL, 'q' },                                   \
	{ "verbose", no_argument, NULL, 'v' }
#define COMMON_SHORTOPTS "hqv"
/* Handle a common option (exits for --help and for errors). */
void common_opt(const char *cmd, const char *usage_text, int ch, const char *arg);

/* Report the thread's error for a failed command (and record it in the
 * audit log, journal_failure); returns 1. */
int fail(const char *cmd);
/* fail(), and with json the failure as one JSON object on stdout
 * ({"ok": false, "error", "code", "message", "exit"}). */
int fail_json(const char *cmd, bool json);

/* The operands of `release` and `release --image`, checked one way for
 * both. */
void release_operands(int argc, char **argv, const char *what, const char **ret_app,
		      const char **ret_version, const char **ret_file);

/* ---------------- keys.c ---------------- */

/* Passphrase from --passphrase-file (first line) or PAWL_PASSPHRASE; the
 * environment copy is wiped and unset at once. */
PAWL_MUST_USE int pass_from_file(const char *path);
PAWL_MUST_USE int pass_from_env(void);
const char *pass_get(void); /* NULL when none was given */
void pass_wipe(void);

/* The token PIN from --pin-file (first line) or PAWL_PKCS11_PIN, kept
 * and wiped like the passphrase (pkcs11_hook.c). */
PAWL_MUST_USE int pin_from_file(const char *path);
PAWL_MUST_USE int pin_from_env(void);
void pin_wipe(void);

/* A KEY argument as it may be shown and logged: a file name as given, a
 * PKCS#11 URI without its pin-value and pin-source attributes. */
const char *key_arg_display(const char *arg, char *out, size_t n);

/* A private key: a PKCS#8 PEM file, or a "pkcs11:" URI. */
PAWL_MUST_USE int key_arg_signer(pawl_signer **ret, const char *arg);
/* A public key: a PEM SPKI file, a private key file, or a "pkcs11:" URI.
 * *ret_private says whether the argument also holds the private half
 * (then *ret_signer is set when ret_signer is not NULL). */
PAWL_MUST_USE int key_arg_public(pawl_key **ret, pawl_signer **ret_signer, const char *arg);
/* The hook for PKCS#11 tokens (pkcs11_hook.c): signer_load_pkcs11 with
 * the run's PIN. */
PAWL_MUST_USE int pkcs11_signer_open(pawl_signer **ret, const char *uri);

/* A list of signers from repeated --key options. */
typedef struct signers {
	pawl_signer **v;
	const char **arg; /* the option value, for messages */
	size_t n;
} signers;
PAWL_MUST_USE int signers_load(signers *s, char **args, size_t n);
void signers_free(signers *s);

/* ---------------- workspace.c ---------------- */

typedef struct ws_role {
	char *name;
	md_type type;        /* MD_TARGETS for delegated roles */
	pawl_md *md;
	struct ws_role *parent; /* delegated roles: the delegating role */
	bool dirty;          /* to be written back */
	bool loaded_walk;    /* reached by the delegation walk */
	bool marked;         /* scratch flag for commands (changed in this run) */
	size_t batch_base;   /* add: targets listed before the batch's first append */
} ws_role;

typedef struct ws {
	char *path;
	int dirfd;
	int store_fd; /* REPO/targets */
	pawl_lock *lock;
	pj_doc *config;
	pj_doc *state;
	bool config_dirty, state_dirty;
	bool hash_sha512;
	ws_role **roles; /* top-level first, then delegated in walk order */
	size_t nroles, caproles;
	ws_role **table; /* open addressing by name */
	size_t tablecap;
	pawl_md *prev_root; /* the root version before the staged one, if any */
	bool walked;
	audit_log *audit;   /* REPO/audit.log, open while writing (journal.c) */
} ws;

/* Open an existing workspace. write: take the lock (waits up to 30 s). */
PAWL_MUST_USE int ws_open(ws **ret, const char *path, bool write);
/* Create a new workspace directory (must not exist, or be empty). */
PAWL_MUST_USE int ws_create(ws **ret, const char *path, bool sha512);
void ws_free(ws *w);
static inline void ws_freep(ws **w)
{
	ws_free(*w);
}
#define _cleanup_ws_ _cleanup_(ws_freep)

/* A top-level role (MD_ROOT .. MD_TIMESTAMP). */
static inline ws_role *ws_top(ws *w, md_type t)
{
	return w->roles[t];
}
/* A role by name; loads the delegation tree first. NULL when unknown. */
PAWL_MUST_USE int ws_find(ws *w, const char *name, ws_role **ret);
/* Load every role reachable from targets (pre-order, like clients). */
PAWL_MUST_USE int ws_walk(ws *w);
/* A new role file (delegated role) with version 1 and a fresh expiry. */
PAWL_MUST_USE int ws_add_role(ws *w, const char *name, ws_role *parent, ws_role **ret);

/* The keys and threshold that govern r: for root the staged root's own
 * root role (and see ws_root_prev); for other top-level roles the root;
 * for delegated roles the delegation in r->parent. */
PAWL_MUST_USE int ws_role_keys(ws *w, ws_role *r, const md_keys **ret_keys,
			       const md_role **ret_role);
bool role_has_keyid(const md_role *mr, const char *keyid);

/* The role changed: bump the version if the current one was published,
 * refresh the expiry, drop the signatures, mark it to be written. */
PAWL_MUST_USE int ws_touch(ws *w, ws_role *r);
/* Refresh the expiry from the configured period. */
int64_t ws_period(ws *w, const char *role);
PAWL_MUST_USE int ws_set_period(ws *w, const char *role, int64_t seconds);
uint64_t ws_published(ws *w, const char *role);
PAWL_MUST_USE int ws_set_published(ws *w, const char *role, uint64_t version);

/* Count valid signatures of distinct authorised keys. For root, *ret_prev
 * and *ret_prev_threshold give the previous root's view (0/0 for v1). */
typedef struct sigcount {
	uint32_t valid, threshold;
	uint32_t prev_valid, prev_threshold; /* root rotation only */
	bool has_prev;
} sigcount;
PAWL_MUST_USE int ws_count(ws *w, ws_role *r, sigcount *ret);
bool sigcount_ok(const sigcount *c);

/* Sign r with s when it is a key of r (for root: of the staged or the
 * previous root); *ret_used says whether it signed. Each signature is
 * recorded in the audit log (arg: the key argument, for the entry).
 * Refuses to re-sign a published version. */
PAWL_MUST_USE int ws_sign(ws *w, ws_role *r, const pawl_signer *s, const char *arg,
			  bool *ret_used);
/* Sign every role in rs with every signer that belongs to it; a signer
 * that belongs to none of them is an error naming the roles. */
PAWL_MUST_USE int ws_sign_all(ws *w, ws_role **rs, size_t nrs, const signers *ss);

/* Write every dirty role, the config and the state; keep the root
 * history and REPO/root.json up to date. */
PAWL_MUST_USE int ws_save(ws *w);
/* The exact bytes of a role as written (serialised). */
PAWL_MUST_USE int ws_role_bytes(ws *w, ws_role *r, char **ret, size_t *ret_len);

/* Validation of names coming from the command line. */
PAWL_MUST_USE int check_role_name(const char *name);
PAWL_MUST_USE int check_target_path(const char *path);

/* Hash a whole buffer and give the hex digests ("sha256" always, and
 * "sha512" when configured). */
typedef struct digests {
	char sha256[65];
	char sha512[129];
	bool has512;
} digests;
PAWL_MUST_USE int digest_buf(const void *p, size_t n, bool sha512, digests *ret);
/* The length and sha256 (ret->sha256 only) of a role's bytes as written
 * (ws_role_bytes), as a snapshot or a log entry names them. ret_len may be
 * NULL. */
PAWL_MUST_USE int ws_role_digest(ws *w, ws_role *r, size_t *ret_len, digests *ret);

/* ---------------- journal.c: the audit log ---------------- */

/* REPO/audit.log (docs/audit.md, "The publisher's log"): opened by ws_open
 * for writing and ws_create, closed by ws_free, which keeps the position
 * of its last entry in REPO/state.json ("audit") as the anchor that
 * `log verify` checks. Each journal_* appends one entry and fails the
 * command when it cannot. */
extern bool journal_syslog;     /* --no-syslog: no syslog copy (the file log stays) */
extern const char *journal_cmd; /* the command, for the "command" entry */
PAWL_MUST_USE int journal_open(ws *w);
void journal_close(ws *w);
/* Record the thread's error as the failure of cmd (when a log is open). */
void journal_failure(const char *cmd);

/* A target added or removed, for journal_targets. */
typedef struct jtarget {
	char *path;
	char sha256[65];
	uint64_t length;
	ws_role *role;
	size_t seq; /* the order given: the last of a path wins */
} jtarget;

PAWL_MUST_USE int journal_init(ws *w);
PAWL_MUST_USE int journal_signed(ws *w, ws_role *r, const pawl_signer *s, const char *arg);
/* Root r is fully signed: its bytes (len, sha256) and the count c. */
PAWL_MUST_USE int journal_root_ready(ws *w, ws_role *r, size_t len, const char *sha256,
				     const sigcount *c);
/* One entry for a whole batch (sorts v). */
PAWL_MUST_USE int journal_targets(ws *w, const char *type, jtarget *v, size_t n,
				  ws_role **roles, size_t nroles, uint64_t bytes);
/* mr: the delegation of child in parent, as ws_role_keys gives it. */
PAWL_MUST_USE int journal_delegate(ws *w, ws_role *parent, ws_role *child, const md_role *mr,
				   bool replaced);
/* A target replaced by different content (add --replace for a release). */
PAWL_MUST_USE int journal_replaced(ws *w, const char *path, ws_role *r, uint64_t old_length,
				   const char *old_sha256, uint64_t length, const char *sha256,
				   bool release);
PAWL_MUST_USE int journal_bins(ws *w, ws_role *parent, uint32_t count);
/* mr: r's keys and threshold after the rotation (ws_role_keys). */
PAWL_MUST_USE int journal_rotate(ws *w, ws_role *r, ws_role *holder, const md_role *mr,
				 char **removed, size_t nremoved, pawl_key **added, size_t nadded);
PAWL_MUST_USE int journal_expire(ws *w, ws_role *r, int64_t secs, bool renewed);
PAWL_MUST_USE int journal_snapshot(ws *w, ws_role *snap, size_t nroles);
PAWL_MUST_USE int journal_timestamp(ws *w, ws_role *ts, ws_role *snap, size_t snap_len,
				    const char *snap_sha256, bool new_snapshot);
/* sha256: of r's bytes (ws_role_digest). */
PAWL_MUST_USE int journal_handed(ws *w, ws_role *r, const char *sha256);
/* timestamp_sha256: of the published timestamp's bytes (ws_role_digest). */
PAWL_MUST_USE int journal_publish(ws *w, const char *outdir, const char *timestamp_sha256,
				  size_t new_targets, size_t meta_files);

/* ---------------- commands ---------------- */

int cmd_keygen(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_release(int argc, char **argv);
/* The work of `release` (cmd_targets.c): add FILE as TARGET with custom
 * data CUSTOM_JSON under the rules for releases (an existing APP/VERSION
 * with other content is refused, identical content is a no-op unless
 * recovery marks it). Returns the exit status. */
int release_add(const char *repo, const char *target, const char *file, const char *custom_json,
		bool recovery, strv *keys);
int cmd_remove(int argc, char **argv);
int cmd_delegate(int argc, char **argv);
int cmd_bins(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_timestamp(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_handed(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_expire(int argc, char **argv);
int cmd_log(int argc, char **argv);

/* Targets whose content a command has put into the store itself
 * (cmd_image.c): routed like `add` (the targets role or its hash bin),
 * then journaled, signed with keys and saved, as one batch. */
typedef struct stored_target {
	const char *path;
	uint64_t length;
	digests dg;
	const pj_value *custom; /* NULL for none */
} stored_target;
PAWL_MUST_USE int add_stored(ws *w, const stored_target *v, size_t n, strv *keys);

/* `pawl-repo release ... --image` (cmd_image.c). */
int cmd_release_image(int argc, char **argv);
/* Shared by both index formats (cmd_image.c): bytes the command wrote
 * into the store; the immutability rule of image releases (*ret_same:
 * this very image is released already). */
PAWL_MUST_USE int image_store_bytes(ws *w, const void *data, size_t n, digests *ret);
PAWL_MUST_USE int image_check_immutable(ws *w, const char *app, const char *version,
					const image_index *idx, bool recovery, bool *ret_same);
/* Format 2 (cmd_image2.c): the image in `in` (a regular file, st as
 * opened) as release VERSION of APP, deduplicated against a base. */
struct stat;
typedef struct image2_opts {
	uint32_t piece_size, frame_size;
	int level;
	const char *base; /* --base VERSION, or NULL for the highest earlier one */
	bool no_base;
	bool frame_given; /* --frame-size given: used with a base too */
} image2_opts;
PAWL_MUST_USE int release_image2(ws *w, int in, const struct stat *st, const char *shown,
				 const char *app, const char *version, bool recovery,
				 const image2_opts *o, strv *keys);
/* Before `pawl-repo remove` takes the n target paths out: refuse
 * (PAWL_E_POLICY, naming both) when a format 2 image release that stays
 * would lose one of its own targets, or a pack it reads pieces from. */
PAWL_MUST_USE int image2_check_removal(ws *w, const char *const *paths, size_t n);

/* The snapshot and timestamp step shared by init and timestamp. force:
 * always make a new snapshot. strict: every signer must be a snapshot or
 * timestamp key (init passes all its keys and uses those that fit). */
PAWL_MUST_USE int do_timestamp(ws *w, const signers *ss, bool force, bool strict);

#endif

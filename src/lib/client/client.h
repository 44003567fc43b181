/*
 * client.h - internals shared by the updater's source files.
 */
#ifndef PAWL_CLIENT_H
#define PAWL_CLIENT_H

#include "fetch/fetch.h"
#include "metadata/metadata.h"
#include "pawl/updater.h"
#include "store/store.h"
#include "util/buf.h"

struct loaded_role {
	char *name;
	char *delegator; /* the role whose delegation verified it */
	pawl_md *md;
};

struct pawl_updater {
	pawl_updater_opts o;
	char *mdir;
	int mdir_fd;
	char **meta_urls;
	size_t n_meta;
	char *mirror_dir;
	int mirror_fd; /* MIRROR_DIR/metadata, or -1 */
	char **target_urls;
	size_t n_targets;
	uint64_t max_bytes[4];
	uint32_t max_root_rotations;
	uint32_t max_delegations;
	pawl_fetcher *fetcher;
	pawl_lock *lock;
	int64_t now;

	pawl_md *root;
	pawl_md *timestamp;
	pawl_md *snapshot;
	struct loaded_role *loaded;
	size_t nloaded, capl;
	bool refreshed;
};

struct pawl_target {
	char *path;
	char *role;
	uint64_t length;
	pj_doc *doc;        /* holds a copy of hashes and custom */
	const pj_value *hashes;
	char *custom_json;  /* canonical, or NULL */
	char hex[2][129];   /* sha256, sha512 when present */
};

void emit_event(pawl_updater *u, const pawl_event *ev);

/* Across mirrors, the failure worth reporting: the first verification
 * failure (a mirror served bad data), else the first failure of any kind
 * (down, missing). mirror_failure_note() records one attempt's outcome
 * (the error and message just set); the caller reports f->code with
 * f->msg when every mirror failed. */
struct mirror_failure {
	int code;
	char msg[1024];
};
void mirror_failure_note(struct mirror_failure *f, int code);

/* Called for each target entry whose path starts with the prefix; return
 * < 0 to stop with that code. */
typedef int (*updater_target_cb)(void *ctx, const char *path, const md_target *t,
				 const char *role);
/* Visit the targets of every role reachable from "targets" (pre-order, at
 * most max_delegations + 1 roles, each verified as in a search) whose
 * paths start with prefix. For listing candidates; the authoritative entry
 * for one path is still pawl_updater_get_target()'s. */
PAWL_MUST_USE int updater_collect_targets(pawl_updater *u, const char *prefix,
					  updater_target_cb cb, void *ctx);
/* The URL path of a target below a target base URL ("dir/HASH.name" with
 * consistent snapshots), escaped. */
PAWL_MUST_USE int updater_target_remote_path(pawl_updater *u, const pawl_target *t,
					     pawl_buf *out);
PAWL_MUST_USE int updater_load_targets(pawl_updater *u, const char *role, const char *delegator,
				       const md_keys *keys, const md_role *deleg, pawl_md **ret);
PAWL_MUST_USE int updater_top_targets(pawl_updater *u, pawl_md **ret);

/* What metadata_dir_install_root found and did (the public type). */
typedef pawl_root_info root_install_info;

/* How long a forced root replacement waits for a refresh or download that
 * holds the metadata directory. */
#define REPLACE_LOCK_TIMEOUT_S 60

/*
 * pawl_metadata_dir_init() with the explicit replacement the programs
 * offer (pawl --force-replace-trusted-root). The root must parse and be
 * signed by its own root role. No root.json yet (taken with a create that
 * cannot replace one placed meanwhile), or one byte-identical to
 * root_json, is success (the second writes nothing); any other root.json
 * (another version, another repository, or a file that cannot be read as
 * one) is PAWL_E_POLICY naming both, unless replace is set. ret (may be
 * NULL) is written on success; the caller records a replacement
 * (had_root && !identical) where it keeps a log. With replace, the
 * directory lock is taken first (PAWL_E_LOCKED after 60 s).
 */
PAWL_MUST_USE int metadata_dir_install_root(const char *metadata_dir, const void *root_json,
					    size_t len, bool replace, root_install_info *ret);

#endif

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
PAWL_MUST_USE int updater_load_targets(pawl_updater *u, const char *role, const char *delegator,
				       const md_keys *keys, const md_role *deleg, pawl_md **ret);
PAWL_MUST_USE int updater_top_targets(pawl_updater *u, pawl_md **ret);

#endif

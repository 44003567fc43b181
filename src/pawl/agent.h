/*
 * agent.h - `pawl --config FILE update|status|rollback|log`: keep one
 * application up to date from a TUF repository.
 *
 * Exit codes (also in pawl --help and docs/agent.md):
 *   0  updated, or already current
 *   1  any other error (configuration, local I/O, lock, state)
 *   2  verification failure (signature, threshold, expiry, rollback,
 *      length, hash, malformed or unsupported metadata)
 *   3  network failure (every mirror unreachable or missing a file)
 *   4  health check failed; the previous release was restored
 *   5  refused: a downgrade not signed as a recovery release, a release
 *      marked bad, (rollback) a previous release that is not a recovery,
 *      or (init) a different trusted root already in place
 */
#ifndef PAWL_AGENT_H
#define PAWL_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum {
	AGENT_EXIT_OK = 0,
	AGENT_EXIT_ERROR = 1,
	AGENT_EXIT_VERIFY = 2,
	AGENT_EXIT_NETWORK = 3,
	AGENT_EXIT_HEALTH = 4,
	AGENT_EXIT_REFUSED = 5,
};

/* Print s to stdout as one JSON string (escaped as pj_write does). */
void json_print_string(const char *s);

/* `init [ROOT]`: seed STATE_DIR/metadata/root.json from ROOT (default: the
 * configuration's trusted_root). Identical: nothing changes (0). Another
 * root there: refused (5) unless force, which replaces it and records
 * "trust.replaced" in the audit log. */
int agent_init(const agent_config *c, const char *root_file, bool force, bool json, int verbose);
int agent_update(const agent_config *c, bool json, int verbose);
int agent_status(const agent_config *c, bool json);
int agent_rollback(const agent_config *c, bool json, int verbose);
int agent_log_show(const agent_config *c, bool json, const char *since);
int agent_log_verify(const agent_config *c);

#endif

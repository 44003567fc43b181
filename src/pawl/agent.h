/*
 * agent.h - `pawl --config FILE update|status|rollback|log`: keep one
 * application up to date from a TUF repository.
 *
 * Exit codes: the one table of docs/exit-codes.md (also in pawl --help,
 * pawl(1) and docs/agent.md):
 *   0  updated, or already current
 *   1  any other error (configuration, local I/O, lock, state)
 *   2  verification failure (signature, threshold, expiry, rollback,
 *      length, hash, malformed or unsupported metadata; log verify: the
 *      log was altered)
 *   3  network failure (every mirror unreachable or missing a file)
 *   4  health check failed; the previous release was restored
 *   5  refused: a downgrade not signed as a recovery release, a release
 *      marked bad, (rollback) a previous release that is not a recovery,
 *      or (init) a different trusted root already in place
 *   6  log verify: intact, but the log records incidents to review
 *  64  usage error (EX_USAGE)
 */
#ifndef PAWL_AGENT_H
#define PAWL_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/exit_codes.h"
#include "config.h"

enum {
	AGENT_EXIT_OK = CLI_EXIT_OK,
	AGENT_EXIT_ERROR = CLI_EXIT_FAILURE,
	AGENT_EXIT_VERIFY = CLI_EXIT_VERIFY,
	AGENT_EXIT_NETWORK = CLI_EXIT_NETWORK,
	AGENT_EXIT_HEALTH = CLI_EXIT_HEALTH,
	AGENT_EXIT_REFUSED = CLI_EXIT_REFUSED,
	AGENT_EXIT_INCIDENTS = CLI_EXIT_INCIDENTS,
	AGENT_EXIT_USAGE = CLI_EXIT_USAGE,
};

/* `init [ROOT]`: seed STATE_DIR/metadata/root.json from ROOT (default: the
 * configuration's trusted_root). Identical: nothing changes (0). Another
 * root there: refused (5) unless force, which replaces it and records
 * "trust.replaced" in the audit log. */
int agent_init(const agent_config *c, const char *root_file, bool force, bool json, int verbose);
int agent_update(const agent_config *c, bool json, int verbose);
int agent_status(const agent_config *c, bool json);
int agent_rollback(const agent_config *c, bool json, int verbose);
/* Slot mode (issue 18), on the booted slot: `confirm` runs the health
 * check, then marks it good (0) or bad (4: reboot into the other slot);
 * `mark-good`, `mark-bad` (then reboot). 1 outside slot mode. */
int agent_confirm(const agent_config *c, bool json, int verbose);
int agent_mark(const agent_config *c, bool good, bool json, int verbose);
/* since: PAWL_AUDIT_SINCE_ALL or seconds since the epoch. */
int agent_log_show(const agent_config *c, bool json, int64_t since);
int agent_log_verify(const agent_config *c, bool json);
/* `clear-bad VERSION`: let a release marked bad be installed again
 * (audit-logged as install.clear_bad). 1 when it is not marked bad. */
int agent_clear_bad(const agent_config *c, const char *version, bool json, int verbose);

#endif

/*
 * privsep.h - the agent's privilege separation: the network side runs in a
 * child process as an unprivileged account, and the root side hears it
 * only through the typed, bounded messages of privsep_msg.h.
 *
 * The child (the fetcher) enters the work directory root handed it, closes
 * every descriptor but its end of the pipe, gives up root for good
 * (setgroups, setgid, setuid, PR_SET_NO_NEW_PRIVS, and a check that root
 * cannot be regained), then refreshes, chooses and downloads into
 * WORK/metadata and WORK/mirror. The root side re-verifies all of that
 * from its own trust afterwards (agent.c); what the child says only
 * decides whether the run goes on and what the audit log records.
 *
 * The root side never believes what the child says about itself: who it
 * is (the account, uid, gid and pid) is what root set up and forked, and
 * only that goes into the audit log ("fetcher.exit"). The child's stream
 * and its exit status are both untrusted and must agree; see
 * privsep_run().
 */
#ifndef PAWL_PRIVSEP_H
#define PAWL_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pawl/audit.h"
#include "pawl/updater.h"

/* Who the fetcher is: what the root side set up. */
typedef struct privsep_fetcher {
	const char *name;      /* the account */
	uid_t uid;
	gid_t gid;
	int work_fd;           /* STATE_DIR/work, the account's own: the child's cwd */
	const char *state_dir; /* for messages */
} privsep_fetcher;

/* The fetcher's release search, in the child: 0 with *ret_path the
 * target path of the release to download (NULL: none), or a negative
 * pawl_err. *ret_path must stay valid until the child is done. */
typedef int (*privsep_choose_fn)(void *ctx, pawl_updater *u, const char **ret_path);

/* What the fetcher does. */
typedef struct privsep_job {
	/* The client's settings: mirrors, TLS, limits. The child sets its
	 * own metadata_dir, mirror_dir and event callback. */
	const pawl_updater_opts *opts;
	/* The trusted root the child starts from (read by root before the
	 * fork: root writes nothing in WORK). */
	const char *seed_root;
	size_t seed_len;
	privsep_choose_fn choose;
	void *choose_ctx;
	bool refresh_only; /* refresh and search (so that the mirror holds the
			    * roles a search visits), download nothing */
	bool progress;     /* the child draws the download's progress bar */
} privsep_job;

/* The most the fetcher may send in one run, and the most files its client
 * may report as rejected. */
#define PRIVSEP_MAX_STREAM ((uint64_t)1 << 20)
#define PRIVSEP_MAX_REJECTED 4096

/*
 * Run job in a child process as f. 0 only when the child's whole stream
 * was well-formed, held exactly one outcome, as its last message, that
 * outcome was "none" or "ok", and the child exited with status 0. Even
 * then the caller trusts nothing the child left in WORK without checking
 * it against its own trusted metadata.
 *
 * Otherwise a negative pawl_err, and the child is dead:
 *  - the child's own error outcome, with a non-zero exit: the code it
 *    reported (in range; it only says which failure this is) and its
 *    message, "the fetcher (as USER): ...";
 *  - a malformed stream, a message after the outcome, a DATA message,
 *    more than the limits above, no outcome, an outcome the exit status
 *    contradicts, death by a signal: PAWL_E_GENERIC, a failure of the
 *    fetcher as a local process (exit 1), naming what was wrong.
 *
 * log (root's, may be NULL) gets "fetcher.rejected" {side: unprivileged}
 * for each file the child's client rejected, only when the whole stream
 * was well-formed (a malformed stream is not believed in part), and
 * "fetcher.exit" with the account, uid and gid root gave the child and
 * its exit status.
 */
PAWL_MUST_USE int privsep_run(const privsep_fetcher *f, const privsep_job *job, pawl_audit *log);

#endif

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
#include "pawl/install.h"
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

/*
 * Streaming a slot image to the root side (issue 18). The slot installer
 * reads the image as one stream, the index's bytes then the pack's, and
 * checks every piece against signed metadata before it uses it; this
 * brings the bytes to it without a copy anywhere.
 *
 * With a fetcher (f not NULL): a second run of the unprivileged child,
 * which refreshes from its own metadata (WORK/metadata, the first run's),
 * and streams each target of paths with pawl_updater_download_stream as
 * DATA frames, then sends its outcome. It never holds a descriptor to a
 * slot: the root side opens the slot itself, after the fork. Without one
 * (f NULL, the agent runs as the only account): a thread of the agent
 * streams them from job->u, root's own refreshed client, through the same
 * frames, so that one reader serves both.
 *
 * The root side's reader (privsep_stream_read, a pawl_install_read_fn)
 * takes the frames through the bounded decoder: DATA bytes beyond
 * job->total, a malformed frame, any frame after the outcome, an outcome
 * other than "ok" at the end, an "ok" after fewer than job->total bytes,
 * or a stream that ends without an outcome stop it with an error, and the
 * child is killed on the spot. A fetcher
 * that sends nothing for the rest of job->deadline_s is killed too
 * (PAWL_E_NETWORK): a stalled fetcher cannot hold root. Only an "ok"
 * outcome makes the stream end (n = 0); even then the installer believes
 * nothing before it has checked it.
 */
typedef struct privsep_stream_job {
	const pawl_updater_opts *opts; /* the child's client settings (f set) */
	pawl_updater *u;               /* root's own refreshed client (f NULL) */
	const char *paths[2];          /* the targets streamed, in order */
	size_t npaths;
	/* Or, with npaths 0: exactly these byte ranges of targets, in this
	 * order (pawl_install_source.open; pawl_updater_download_ranges for
	 * each run of ranges of one target). Like paths, they must stay
	 * valid until privsep_stream_finish. */
	const pawl_install_range *ranges;
	size_t nranges;
	uint64_t total;                /* the sum of their signed lengths
					* (ranges: of the ranges' lengths) */
	unsigned deadline_s;           /* for the whole stream */
	bool progress;                 /* the child draws the progress bar */
} privsep_stream_job;

typedef struct privsep_stream privsep_stream;

PAWL_MUST_USE int privsep_stream_start(const privsep_fetcher *f, const privsep_stream_job *job,
				       privsep_stream **ret);
/* A pawl_install_read_fn over ctx, a privsep_stream. */
PAWL_MUST_USE int privsep_stream_read(void *ctx, void *buf, size_t cap, size_t *ret_n);
/* Stop the fetcher if it still runs, wait for it, log "fetcher.exit" and
 * the rejected files of a well-formed stream into log (may be NULL), and
 * free s. 0 when the fetcher's side ended well; otherwise its error
 * (which may explain a failed install better than the install's own: a
 * network failure rather than a short stream). */
PAWL_MUST_USE int privsep_stream_finish(privsep_stream *s, pawl_audit *log);

#endif

/*
 * agent_impl.h - what the agent's files share (agent.c: the commands that
 * change things; intake.c: the root side of fetching; slotmode.c: the
 * slot-mode commands; status.c: the read-only ones and the --json failure
 * form). Not for main.c, which uses agent.h.
 */
#ifndef PAWL_AGENT_IMPL_H
#define PAWL_AGENT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "pawl/audit.h"
#include "pawl/install.h"
#include "pawl/release.h"
#include "pawl/updater.h"

/* The fetcher's work directory in STATE_DIR. */
#define WORK "work"

/* STATE_DIR/NAME into buf (an array, sized 4200 by every caller). */
#define STATE_PATH(buf, a_c, name) snprintf((buf), sizeof(buf), "%s/" name, (a_c)->state_dir)

/* The agent's failure form on stdout (--json): exactly one object. */
void agent_json_failure(const char *step, int code, const char *msg, const char *hint, int ex);

/* The install options of a configuration (the folder backend). */
void agent_install_opts(const agent_config *c, pawl_install_opts *io);

/* The state of one command run (agent.c, intake.c, slotmode.c). */
struct agent {
	const agent_config *c;
	bool json;
	int verbose;
	bool progress;        /* a bar for the download (progress.h) */
	pawl_audit *log;
	char metadata_dir[4096];
	char staging_dir[4096];
	/* privilege separation (fetch_unprivileged); -1 / NULL otherwise */
	int state_fd;         /* STATE_DIR, root's */
	int work_fd;          /* STATE_DIR/work, the fetcher's: hostile */
	uid_t fetcher_uid;
	gid_t fetcher_gid;
	char *seed_root;      /* the trusted root, for the child to start from */
	size_t seed_len;
	char incoming_url[4200]; /* file://STATE_DIR/incoming/ */
	const char *incoming_urls[1];
	/* filled while choosing (choose()) */
	pawl_release_list *releases;
	const pawl_release *best; /* in releases, or NULL */
	char best_path[4096];
	char best_str[PAWL_SEMVER_MAX_LEN + 1];
	bool have_best;
	const pawl_install_state *state;
	bool refresh_only; /* the child only refreshes (rollback) */
};

/* agent.c: messages, the audit log, the outcome and exit code, choosing. */
void agent_say(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void agent_on_event(const pawl_event *ev, void *ctx);
int agent_open_audit(struct agent *a);
int agent_finish(struct agent *a, int code, const char *outcome);
int agent_fail_as(struct agent *a, const char *what, int ex);
int agent_fail(struct agent *a, const char *what);
int agent_fail_local(struct agent *a, const char *what);
int agent_choose(struct agent *a, pawl_updater *u);
int agent_refresh_choose(struct agent *a, pawl_updater_opts *o, bool refresh_only,
			 pawl_install *ic, pawl_updater **ret_u, int *ret_exit);
int agent_setup_paths(struct agent *a);
int agent_ensure_trust(struct agent *a);
void agent_report_skipped(struct agent *a);
void agent_json_skipped(const struct agent *a);
int agent_open_install(struct agent *a, pawl_install **ret);
int agent_check_release(struct agent *a, const pawl_target *t, pawl_release **ret);
int agent_report_none(struct agent *a);

/* intake.c: STATE_DIR, the fetcher's run and the root-only copy of its mirror. */
void agent_fill_opts(const struct agent *a, pawl_updater_opts *o);
int agent_open_state(struct agent *a);
int agent_fetch_unprivileged(struct agent *a, pawl_updater_opts *o);
int agent_open_fetched_artifact(struct agent *a, pawl_updater *u, const pawl_target *t,
				 int *ret_fd);
bool agent_privsep(const agent_config *c);

/* slotmode.c: update in slot mode (confirm and mark are in agent.h). */
int agent_update_slot(const agent_config *c, bool json, int verbose);

#endif

/*
 * agent.c - the update agent: refresh, pick the newest signed release of
 * one application, download, verify, install atomically, health-check,
 * commit or roll back; and keep an audit trail of all of it. These are
 * the commands that change things (init, update, rollback, clear-bad);
 * status.c has the read-only ones.
 *
 * The agent is a program on libpawl's public API like any other: the
 * release choice is pawl_release_* (pawl/release.h), the install state
 * machine pawl_install_* (pawl/install.h: the folder backend, or in slot
 * mode the slot backend, see "slot mode" below), the audit
 * log and its anchor in agent.json pawl_audit_* (pawl/audit.h). This file
 * keeps the command flow and what the user sees; intake.c has the root
 * side of fetching (STATE_DIR, the fetcher's work directory, the copy of
 * its mirror), slotmode.c the slot-mode commands, status.c the read-only
 * ones (agent_impl.h is what they share).
 *
 * Privilege separation (PRODUCT.md practice 1). Started as root with
 * `user` configured, the agent forks a child that gives up root for good
 * (setgroups, setgid, setuid, PR_SET_NO_NEW_PRIVS) and does all network
 * I/O: a full TUF refresh and the download, into STATE_DIR/work, which that
 * user owns. It also leaves a mirror there of every metadata file it
 * trusted and of the chosen artifact. The child and the root side of that
 * fork live in privsep.c (privsep_run); the child speaks only in the
 * typed, length-prefixed frames of privsep_msg.h (an outcome, the files
 * its client rejected), which the root side reads with a bounded decoder
 * and does not believe in part: a stream malformed anywhere, an outcome
 * that is missing, not last or contradicted by the exit status fails the
 * run (exit 1). Even "ok" only lets the run go on: the root side never
 * opens a network connection; it runs the same TUF client against a
 * root-only copy of the child's mirror (STATE_DIR/incoming), from its own
 * trusted metadata (STATE_DIR/metadata, which the child cannot write), and
 * installs the artifact only after pawl_install_release has checked it against
 * the length and hashes that metadata signs. So a compromised child can
 * withhold an update but cannot get anything installed that the publisher
 * did not sign. The limit: the root side still parses the metadata bytes
 * the child hands over (with the strict, fuzzed parser). See
 * docs/agent.md.
 *
 * STATE_DIR/work is a hostile directory (docs/threat-model.md): anything
 * running as `user` can swap any entry under it for a symbolic or hard
 * link at any instant. The root side creates and hands over only WORK
 * itself (mkdirat, openat O_NOFOLLOW, fstat, fchown on the descriptor, in
 * the root-owned STATE_DIR) and otherwise reads from it only through
 * dir_open_owned_at/file_open_owned_at: relative to that descriptor,
 * never following a link, and only regular files the user owns. It never
 * writes, chowns, chmods, renames or removes anything there; the child
 * seeds its own trusted root, from bytes the root side read before the
 * fork. Nothing the child says about itself is believed: its account,
 * uid and gid in the audit log are the ones root gave it (privsep.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_impl.h"
#include "base/base.h"
#include "common/file.h"
#include "common/json_out.h"
#include "common/log_cmd.h"
#include "hint.h"
#include "pawl/audit.h"
#include "pawl/install.h"
#include "pawl/release.h"
#include "pawl/semver.h"
#include "pawl/updater.h"
#include "privsep.h"
#include "progress.h"

void agent_say(const struct agent *a, const char *fmt, ...)
{
	va_list ap;

	if (a->json || a->verbose < 0)
		return;
	progress_clear();
	va_start(ap, fmt);
	fputs("pawl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* remote: the failure came from what the repository served (a file
 * missing on every mirror is then a network failure), not from a local
 * file. */
static int exit_code_for(int err, bool remote)
{
	switch (err) {
	case PAWL_E_SIGNATURE:
	case PAWL_E_EXPIRED:
	case PAWL_E_ROLLBACK:
	case PAWL_E_LENGTH:
	case PAWL_E_HASH:
	case PAWL_E_FORMAT:
	case PAWL_E_UNSUPPORTED:
	case PAWL_E_POLICY:
	case PAWL_E_LIMIT:
		return AGENT_EXIT_VERIFY;
	case PAWL_E_NETWORK:
		return AGENT_EXIT_NETWORK;
	case PAWL_E_NOT_FOUND:
		return remote ? AGENT_EXIT_NETWORK : AGENT_EXIT_ERROR;
	default:
		return AGENT_EXIT_ERROR;
	}
}

void agent_on_event(const pawl_event *ev, void *ctx)
{
	struct agent *a = ctx;

	if (a->log && pawl_audit_record_event(a->log, ev) < 0)
		pawl_error_clear();
	if (a->progress)
		progress_event(ev);
	if (a->verbose > 0 && !a->json) {
		if (ev->kind == PAWL_EVENT_FETCH)
			fprintf(stderr, "pawl: fetch %s\n", ev->url);
		else if (ev->kind == PAWL_EVENT_REJECTED && ev->url)
			fprintf(stderr, "pawl: rejected %s: %s\n", ev->url, ev->message);
	}
}

int agent_open_audit(struct agent *a)
{
	pawl_audit_opts o = PAWL_AUDIT_OPTS_INIT;
	char path[4200];
	int r;

	o.ident = "pawl";
	o.syslog = a->c->syslog;
	if (a->c->syslog_facility) {
		r = pawl_audit_facility_from_name(a->c->syslog_facility, &o.facility);
		if (r < 0)
			return r;
	}
	o.create_dir_mode = 0755;
	if ((size_t)STATE_PATH(path, a->c, "audit.log") >= sizeof(path))
		return pawl_error_set(PAWL_E_INVALID, "state_dir %s is too long", a->c->state_dir);
	return pawl_audit_open(&a->log, path, &o);
}

/* Keep the audit head in the agent's own durable state too, as the anchor
 * that `log verify` checks the log against (a truncated log with a
 * rewritten head file is then still caught). */
static void save_anchor(struct agent *a, const char *outcome, int code)
{
	struct timespec now;
	char path[4200];

	if (!a->log)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	STATE_PATH(path, a->c, "agent.json");
	if (pawl_audit_anchor_save(a->log, path, (const pawl_audit_field[]){
			PAWL_AUDIT_INT("last_check", (int64_t)now.tv_sec),
			PAWL_AUDIT_STR("last_outcome", outcome),
			PAWL_AUDIT_INT("last_exit", code) }, 3) < 0)
		pawl_error_clear();
}

static void release_privsep(struct agent *a)
{
	if (a->state_fd >= 0)
		close(TAKE_FD(a->state_fd));
	if (a->work_fd >= 0)
		close(TAKE_FD(a->work_fd));
	free(TAKE_PTR(a->seed_root));
}

int agent_finish(struct agent *a, int code, const char *outcome)
{
	release_privsep(a);
	pawl_release_list_free(a->releases);
	a->releases = NULL;
	a->best = NULL;
	if (a->log) {
		if (pawl_audit_appendf(a->log, "agent.exit", PAWL_AUDIT_STR("outcome", outcome),
				       PAWL_AUDIT_INT("exit", code)) < 0)
			pawl_error_clear();
		save_anchor(a, outcome, code);
		if (pawl_audit_close(a->log) < 0)
			pawl_error_clear();
		a->log = NULL;
	}
	return code;
}

/* Report a pawl error: audit it (even though the update aborts), tell the
 * user (with what to do about it, when that is known), exit with ex. */
int agent_fail_as(struct agent *a, const char *what, int ex)
{
	const pawl_error *e = pawl_error_last();
	int code = e->code ? e->code : PAWL_E_GENERIC;
	char msg[1024], hint[512];
	const char *h;

	snprintf(msg, sizeof(msg), "%s", e->message);
	h = hint_for(code, msg, hint, sizeof(hint));
	if (a->log && pawl_audit_failuref(a->log, "agent.failure", msg,
					  PAWL_AUDIT_STR("step", what),
					  PAWL_AUDIT_STR("error", pawl_strerror(code))) < 0)
		pawl_error_clear();
	progress_clear();
	if (a->json)
		agent_json_failure(what, code, msg, h, ex);
	fprintf(stderr, "pawl: %s failed: %s: %s\n", what, pawl_strerror(code), msg);
	if (h)
		fprintf(stderr, "pawl: hint: %s\n", h);
	return agent_finish(a, ex, "failed");
}

/* A failure of a step that talks to the repository: its exit code says
 * verification (2), network (3) or other (1). */
int agent_fail(struct agent *a, const char *what)
{
	return agent_fail_as(a, what, exit_code_for(pawl_error_last()->code, true));
}

/* A failure of a local step (configuration, state, lock, the trusted root
 * file, the audit log): exit 1 whatever the code, as docs/exit-codes.md
 * says; "not found" here is a local file, not a mirror. */
int agent_fail_local(struct agent *a, const char *what)
{
	return agent_fail_as(a, what, AGENT_EXIT_ERROR);
}

/* ---------------- choosing a release ---------------- */

/* The newest release of APP the trusted metadata signs that is not marked
 * bad (pawl/release.h has the rule); a->state's bad marks are passed
 * over, and the listing remembers which it saw. */
int agent_choose(struct agent *a, pawl_updater *u)
{
	pawl_release_opts o = PAWL_RELEASE_OPTS_INIT;
	const char *bad[PAWL_INSTALL_MAX_BAD];
	int r;

	pawl_release_list_free(a->releases);
	a->releases = NULL;
	a->best = NULL;
	a->have_best = false;
	for (uint32_t i = 0; i < a->state->nbad; i++)
		bad[i] = a->state->bad[i];
	o.app = a->c->app;
	o.bad = bad;
	o.n_bad = a->state->nbad;
	/* Slot mode installs images, folder mode folders: never the other. */
	o.kinds = PAWL_RELEASE_KIND_BIT(a->c->slot_mode ? PAWL_RELEASE_IMAGE : PAWL_RELEASE_FOLDER);
	r = pawl_release_list_new(&a->releases, u, &o);
	if (r < 0)
		return r;
	a->best = pawl_release_list_best(a->releases);
	if (!a->best)
		return 0;
	if ((size_t)snprintf(a->best_path, sizeof(a->best_path), "%s",
			     pawl_release_path(a->best)) >= sizeof(a->best_path))
		return pawl_error_set(PAWL_E_LIMIT, "release path %s is too long",
				      pawl_release_path(a->best));
	snprintf(a->best_str, sizeof(a->best_str), "%s", pawl_release_version(a->best));
	a->have_best = true;
	return 0;
}

/* ---------------- update ---------------- */

int agent_setup_paths(struct agent *a)
{
	const char *sd = a->c->state_dir;

	a->state_fd = a->work_fd = -1;
	if ((size_t)snprintf(a->metadata_dir, sizeof(a->metadata_dir), "%s/metadata", sd) >=
		    sizeof(a->metadata_dir) ||
	    (size_t)snprintf(a->staging_dir, sizeof(a->staging_dir), "%s/staging", sd) >=
		    sizeof(a->staging_dir))
		return pawl_error_set(PAWL_E_INVALID, "state_dir %s is too long", sd);
	return 0;
}

/*
 * The agent's trust is STATE_DIR/metadata/root.json, which every refresh
 * moves forward as the repository rotates its root. trusted_root in the
 * configuration is the initial root only: it seeds that file when there is
 * none, and once the state holds a root the configuration's file never
 * wins (an older root there would bring back trust in keys the publisher
 * rotated out). Anything at that name, even a file that cannot be read,
 * counts as present and is left for the updater to judge; the seeding
 * itself refuses to replace a root that appears meanwhile. A deliberate
 * replacement is `pawl --config FILE --force-replace-trusted-root init`.
 */
int agent_ensure_trust(struct agent *a)
{
	char path[4200];
	struct stat st;
	char *data = NULL;
	pawl_root_info info;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/root.json", a->metadata_dir);
	if (lstat(path, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return pawl_error_set_errno(PAWL_E_IO, errno, "trusted root %s", path);
	r = cli_read_file(a->c->trusted_root, PAWL_DEFAULT_MAX_ROOT, &data, &len);
	if (r == 0)
		r = pawl_metadata_dir_install_root(a->metadata_dir, data, len, 0, &info);
	free(data);
	if (r < 0)
		return pawl_error_prefix(r, "trusted_root in %s: ", a->c->path);
	if (!info.identical && a->log &&
	    pawl_audit_appendf(a->log, "trust.init", PAWL_AUDIT_STR("root", a->c->trusted_root),
			       PAWL_AUDIT_INT("version", info.new_version),
			       PAWL_AUDIT_STR("sha256", info.new_sha256)) < 0)
		pawl_error_clear();
	return 0;
}

static int init_with(struct agent *a, const char *file, const char *data, size_t len,
		     bool force, bool json);

int agent_init(const agent_config *c, const char *root_file, bool force, bool json, int verbose)
{
	struct agent a = { .c = c, .json = json, .verbose = verbose };
	const char *file = root_file ? root_file : c->trusted_root;
	char *data = NULL;
	size_t len;
	int r;

	if (agent_setup_paths(&a) < 0 || agent_open_audit(&a) < 0)
		return agent_fail_local(&a, "setup");
	if (cli_read_file(file, PAWL_DEFAULT_MAX_ROOT, &data, &len) < 0) {
		/* A local file: exit 1 even when it is missing (agent_fail() would
		 * say 3, a network failure, for "not found"). */
		int code = pawl_error_last()->code;
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", pawl_error_last()->message);
		if (pawl_audit_failuref(a.log, "agent.failure", msg, PAWL_AUDIT_STR("step", "init")) < 0)
			pawl_error_clear();
		if (json)
			agent_json_failure("init", code, msg, NULL, AGENT_EXIT_ERROR);
		fprintf(stderr, "pawl: init failed: %s\n", msg);
		return agent_finish(&a, AGENT_EXIT_ERROR, "failed");
	}
	r = init_with(&a, file, data, len, force, json);
	free(data);
	return r;
}

/* init, once the root file is read */
static int init_with(struct agent *a, const char *file, const char *data, size_t len,
		     bool force, bool json)
{
	pawl_root_info info;
	int r;

	r = pawl_metadata_dir_install_root(a->metadata_dir, data, len, 0, &info);
	if (r == PAWL_E_POLICY && force) {
		/* The intent goes into the log before anything changes: a log
		 * that cannot be written stops the replacement. */
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", pawl_error_last()->message);
		if (pawl_audit_appendf(a->log, "trust.replacing", PAWL_AUDIT_STR("root", file),
				       PAWL_AUDIT_STR("found", msg)) < 0)
			return agent_fail_local(a, "audit");
		r = pawl_metadata_dir_install_root(a->metadata_dir, data, len, PAWL_ROOT_REPLACE,
						   &info);
	}
	if (r == PAWL_E_POLICY) {
		const char *msg = pawl_error_last()->message;

		if (pawl_audit_failuref(a->log, "trust.refused", msg, PAWL_AUDIT_STR("root", file)) < 0)
			pawl_error_clear();
		if (json)
			agent_json_failure("init", PAWL_E_POLICY, msg, NULL, AGENT_EXIT_REFUSED);
		fprintf(stderr,
			"pawl: init refused: %s\n"
			"pawl: the agent keeps its trusted root. To replace it with %s on purpose "
			"(trust in the root there is lost, rotated-out keys included; recorded in "
			"the audit log), run:\n"
			"pawl: pawl --config FILE --force-replace-trusted-root init %s\n",
			msg, file, file);
		return agent_finish(a, AGENT_EXIT_REFUSED, "refused");
	}
	if (r < 0)
		return agent_fail_local(a, "init");
	if (info.had_root && !info.identical) {
		if (pawl_audit_appendf(a->log, "trust.replaced", PAWL_AUDIT_STR("root", file),
				       PAWL_AUDIT_INT("old_version", info.old_version),
				       PAWL_AUDIT_STR("old_sha256", info.old_sha256),
				       PAWL_AUDIT_INT("version", info.new_version),
				       PAWL_AUDIT_STR("sha256", info.new_sha256),
				       PAWL_AUDIT_STR("why", "--force-replace-trusted-root")) < 0)
			return agent_fail_local(a, "audit");
		fprintf(stderr,
			"pawl: WARNING: replaced the trusted root %s/root.json (version %" PRIu64
			", sha256 %s) with %s (version %" PRIu64 ", sha256 %s), as "
			"--force-replace-trusted-root asked; recorded in the audit log\n",
			a->metadata_dir, info.old_version, info.old_sha256, file, info.new_version,
			info.new_sha256);
	} else if (!info.identical) {
		if (pawl_audit_appendf(a->log, "trust.init", PAWL_AUDIT_STR("root", file),
				       PAWL_AUDIT_INT("version", info.new_version),
				       PAWL_AUDIT_STR("sha256", info.new_sha256)) < 0)
			return agent_fail_local(a, "audit");
		agent_say(a, "trusting %s (root version %" PRIu64 ")", file, info.new_version);
	} else {
		agent_say(a, "the agent already trusts %s (root version %" PRIu64 "); nothing changed",
		    file, info.new_version);
	}
	if (json)
		printf("{\"ok\":true,\"changed\":%s,\"version\":%" PRIu64 "}\n",
		       info.identical ? "false" : "true", info.new_version);
	return agent_finish(a, AGENT_EXIT_OK, info.identical ? "unchanged" : "trusted");
}

/* The releases marked bad that this run passed over and that it would
 * otherwise have taken: newer than the one it chose (all of them when it
 * found none); the listing knows them (pawl_release_list_skipped). Older
 * ones are not worth a word. */

/* Say (and log) which releases marked bad were skipped, and how to clear
 * the mark. */
void agent_report_skipped(struct agent *a)
{
	size_t n = pawl_release_list_skipped_count(a->releases);

	for (size_t i = 0; i < n; i++) {
		const char *v = pawl_release_list_skipped(a->releases, i);

		agent_say(a, "skipped %s %s: it is marked bad (it failed its health check here); "
		    "'pawl --config %s clear-bad %s' lets the next update try it again",
		    a->c->app, v, a->c->path, v);
		if (a->log && pawl_audit_appendf(a->log, "release.skipped",
						 PAWL_AUDIT_STR("version", v),
						 PAWL_AUDIT_STR("why", "marked bad")) < 0)
			pawl_error_clear();
	}
}

/* ,"skipped_bad":[...] for update's --json */
void agent_json_skipped(const struct agent *a)
{
	size_t n = pawl_release_list_skipped_count(a->releases);

	fputs(",\"skipped_bad\":[", stdout);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', stdout);
		cli_json_string(stdout, pawl_release_list_skipped(a->releases, i));
	}
	fputc(']', stdout);
}

static void result_json(const struct agent *a, const pawl_install_result *r, const char *path)
{
	printf("{\"ok\":true,\"outcome\":\"%s\",\"version\":\"%s\",\"current\":\"%s\"",
	       pawl_install_outcome_name(r->outcome), r->version, r->current);
	if (path) {
		printf(",\"target\":");
		cli_json_string(stdout, path);
	}
	if (a)
		agent_json_skipped(a);
	printf(",\"health_ran\":%s}\n", r->health_ran ? "true" : "false");
}

/* Open the install state machine and resolve what a crash left: a journal
 * left by a crash is resolved before anything else. */
int agent_open_install(struct agent *a, pawl_install **ret)
{
	pawl_install_opts io;

	agent_install_opts(a->c, &io);
	return pawl_install_open(ret, &io);
}

/* The download, for an agent without privilege separation: into
 * STATE_DIR/staging, which only the agent writes. */
static int download_staged(struct agent *a, pawl_updater *u, const pawl_target *t,
			   char *staged, size_t size)
{
	const char *name = strrchr(a->best_path, '/') + 1;
	int r;

	r = cli_mkdirs(a->staging_dir, 0700);
	if (r < 0)
		return r;
	if ((size_t)snprintf(staged, size, "%s/%s-%s", a->staging_dir, a->best_str, name) >= size)
		return pawl_error_set(PAWL_E_INVALID, "staging path for %s is too long", name);
	return pawl_updater_download_to(u, t, staged);
}

/* The entry the delegation search trusts for the chosen path decides, not
 * the one the listing saw first: it must describe a folder release of the
 * same version (its recovery flag is the one that counts). */
int agent_check_release(struct agent *a, const pawl_target *t, pawl_release **ret)
{
	pawl_release *rel = NULL;
	int cmp = 1;
	bool ok = pawl_release_from_target(&rel, a->c->app, t) == 0 &&
		  pawl_release_kind_of(rel) == (a->c->slot_mode ? PAWL_RELEASE_IMAGE :
								  PAWL_RELEASE_FOLDER) &&
		  pawl_semver_compare(&cmp, pawl_release_version(rel), a->best_str) == 0 &&
		  cmp == 0;

	pawl_error_clear();
	if (!ok) {
		pawl_release_free(rel);
		return pawl_error_set(PAWL_E_FORMAT, "the trusted entry for %s does not carry "
				      "custom version %s of a %s release", a->best_path, a->best_str,
				      a->c->slot_mode ? "slot image" : "folder");
	}
	*ret = rel;
	return 0;
}

/* What update says about an outcome, and its exit code. */
static int report_outcome(struct agent *a, const pawl_install_result *res)
{
	const agent_config *c = a->c;

	switch (res->outcome) {
	case PAWL_INSTALL_INSTALLED:
		agent_say(a, "installed %s %s", c->app, res->version);
		return AGENT_EXIT_OK;
	case PAWL_INSTALL_ALREADY_CURRENT:
		agent_say(a, "%s %s is current", c->app, res->version);
		return AGENT_EXIT_OK;
	case PAWL_INSTALL_HEALTH_FAILED:
		fprintf(stderr, "pawl: %s %s failed its health check; %s is back in place: %s\n",
			c->app, res->version, res->current[0] ? res->current : "nothing",
			res->message);
		return AGENT_EXIT_HEALTH;
	case PAWL_INSTALL_REFUSED_DOWNGRADE:
	case PAWL_INSTALL_REFUSED_BAD:
		fprintf(stderr, "pawl: refused %s %s: %s\n", c->app, res->version, res->message);
		if (res->outcome == PAWL_INSTALL_REFUSED_BAD)
			fprintf(stderr, "pawl: hint: 'pawl --config %s clear-bad VERSION' (the "
				"version 'status' lists as bad) lets it be tried again\n", c->path);
		return AGENT_EXIT_REFUSED;
	default:
		return AGENT_EXIT_ERROR;
	}
}

/* Equal precedence to what is installed: nothing to do. Build metadata
 * ("1.5.0+evil" after "1.5.0") never makes a release newer (SemVer 2.0,
 * 10); name what stays installed. */
static int report_current(struct agent *a)
{
	const agent_config *c = a->c;

	if (strcmp(a->best_str, a->state->installed) == 0)
		agent_say(a, "%s %s is current", c->app, a->best_str);
	else
		agent_say(a, "%s %s is installed; %s has the same version precedence and is not newer",
		    c->app, a->state->installed, a->best_str);
	if (a->json) {
		printf("{\"ok\":true,\"outcome\":\"already_current\",\"current\":");
		cli_json_string(stdout, a->state->installed);
		fputs(",\"offered\":", stdout);
		cli_json_string(stdout, a->best_str);
		agent_json_skipped(a);
		fputs("}\n", stdout);
	}
	return agent_finish(a, AGENT_EXIT_OK, "current");
}

int agent_report_none(struct agent *a)
{
	agent_say(a, "no release of %s is published%s", a->c->app,
	    pawl_release_list_skipped_count(a->releases) ? " that is not marked bad" : "");
	if (a->json) {
		printf("{\"ok\":true,\"outcome\":\"none\",\"current\":\"%s\"", a->state->installed);
		agent_json_skipped(a);
		fputs("}\n", stdout);
	}
	return agent_finish(a, AGENT_EXIT_OK, "no-release");
}

int agent_update_slot(const agent_config *c, bool json, int verbose);

/*
 * Refresh the trusted metadata (through the unprivileged fetcher when one
 * is configured: a refresh only, when refresh_only, so that nothing is
 * downloaded before the root side has decided) and choose the release:
 * 0 with *ret_u (a->have_best says whether there is one). On failure ic
 * is freed, the failure reported, and -1 returned with the exit code in
 * *ret_exit.
 */
int agent_refresh_choose(struct agent *a, pawl_updater_opts *o, bool refresh_only,
			 pawl_install *ic, pawl_updater **ret_u, int *ret_exit)
{
	const agent_config *c = a->c;
	pawl_updater *u = NULL;
	const char *step = NULL;

	agent_fill_opts(a, o);
	o->metadata_dir = a->metadata_dir;
	o->on_event = agent_on_event;
	o->event_ctx = a;
	if (agent_privsep(c)) {
		a->refresh_only = refresh_only;
		if (agent_fetch_unprivileged(a, o) < 0)
			step = "fetch";
	} else {
		o->metadata_urls = (const char *const *)c->metadata_urls;
		o->n_metadata_urls = (size_t)c->n_metadata_urls;
		o->target_urls = (const char *const *)c->target_urls;
		o->n_target_urls = (size_t)c->n_target_urls;
	}
	if (!step && (pawl_updater_new(&u, o) < 0 || pawl_updater_refresh(u) < 0))
		step = "refresh";
	if (!step && agent_choose(a, u) < 0)
		step = "release search";
	if (step) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		*ret_exit = agent_fail(a, step);
		return -1;
	}
	agent_report_skipped(a);
	*ret_u = u;
	return 0;
}

int agent_update(const agent_config *c, bool json, int verbose)
{
	struct agent a = { .c = c, .json = json, .verbose = verbose,
			   .progress = progress_wanted(json, verbose) };
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	pawl_install *ic = NULL;
	pawl_install_result res;
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	pawl_release *rel = NULL;
	pawl_install_state st;
	char staged[8300];
	int art_fd = -1;
	int code, r;

	if (c->slot_mode)
		return agent_update_slot(c, json, verbose);
	if (agent_setup_paths(&a) < 0 || agent_open_audit(&a) < 0 || (agent_privsep(c) && agent_open_state(&a) < 0))
		return agent_fail_local(&a, "setup");
	if (pawl_audit_appendf(a.log, "update.start", PAWL_AUDIT_STR("app", c->app)) < 0)
		pawl_error_clear();
	if (agent_open_install(&a, &ic) < 0)
		return agent_fail_local(&a, "install state");
	/* A journal left by a crash is resolved before anything else. */
	if (pawl_install_recover(ic, &res) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "crash recovery");
	}
	if (res.outcome != PAWL_INSTALL_NONE &&
	    pawl_audit_appendf(a.log, "install.recovered",
			       PAWL_AUDIT_STR("outcome", pawl_install_outcome_name(res.outcome)),
			       PAWL_AUDIT_STR("version", res.version),
			       PAWL_AUDIT_STR("current", res.current)) < 0)
		pawl_error_clear();
	/* A copy: it must outlive pawl_install_free() on every path below. */
	if (pawl_install_get_state(ic, &st) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "install state");
	}
	a.state = &st;
	if (agent_ensure_trust(&a) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "trusted root");
	}

	if (agent_refresh_choose(&a, &o, false, ic, &u, &code) < 0)
		return code;
	if (!a.have_best) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_report_none(&a);
	}
	/* Decide before downloading: equal is current; lower is a refused
	 * downgrade unless the publisher signed it as a recovery release. */
	if (a.state->installed[0]) {
		int cmp;

		if (pawl_semver_compare(&cmp, a.best_str, a.state->installed) == 0 && cmp == 0) {
			pawl_updater_free(u);
			pawl_install_free(ic);
			return report_current(&a);
		}
		pawl_error_clear();
	}
	if (pawl_updater_get_target(&t, u, a.best_path) < 0) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_fail(&a, "target lookup");
	}
	if (agent_check_release(&a, t, &rel) < 0) {
		pawl_target_free(t);
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_fail(&a, "release check");
	}
	staged[0] = '\0';
	/* Privilege separation: the fetcher's download itself, which
	 * pawl_install_release verifies as it copies it (no second copy). */
	r = a.work_fd >= 0 ? agent_open_fetched_artifact(&a, u, t, &art_fd) :
			     download_staged(&a, u, t, staged, sizeof(staged));
	if (r < 0) {
		pawl_release_free(rel);
		pawl_target_free(t);
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_fail(&a, "download");
	}
	agent_say(&a, "installing %s %s", c->app, a.best_str);
	r = pawl_install_release(ic, rel, t, art_fd, art_fd >= 0 ? NULL : staged, &res);
	if (art_fd >= 0) {
		close(art_fd);
		/* Installed (or health-checked) means its bytes matched. */
		if (r == 0 && (res.outcome == PAWL_INSTALL_INSTALLED ||
			       res.outcome == PAWL_INSTALL_HEALTH_FAILED) &&
		    pawl_audit_appendf(a.log, "download", PAWL_AUDIT_STR("target", a.best_path),
				       PAWL_AUDIT_INT("length", (int64_t)pawl_target_length(t)),
				       PAWL_AUDIT_STR("sha256", pawl_target_hash(t, "sha256")),
				       PAWL_AUDIT_STR("via", "fetcher")) < 0)
			pawl_error_clear();
	} else {
		unlink(staged);
	}
	pawl_target_free(t);
	pawl_updater_free(u);
	if (r < 0) {
		pawl_release_free(rel);
		pawl_install_free(ic);
		/* The copy's length and hashes, or an archive refused: the
		 * codes say which; a missing file here is a local one. */
		return agent_fail_as(&a, "install", exit_code_for(pawl_error_last()->code, false));
	}
	pawl_install_free(ic);
	if (pawl_audit_appendf(a.log, "install.outcome",
			       PAWL_AUDIT_STR("outcome", pawl_install_outcome_name(res.outcome)),
			       PAWL_AUDIT_STR("version", res.version),
			       PAWL_AUDIT_STR("current", res.current),
			       PAWL_AUDIT_BOOL("recovery", pawl_release_recovery(rel)),
			       PAWL_AUDIT_STR("why", res.message)) < 0)
		pawl_error_clear();
	pawl_release_free(rel);
	if (json)
		result_json(&a, &res, a.best_path);
	code = report_outcome(&a, &res);
	return agent_finish(&a, code, pawl_install_outcome_name(res.outcome));
}

/* ---------------- slot mode (issue 18) ---------------- */

/*
 * Slot mode: the release is a signed file system image (pawl-repo release
 * --image), installed through the same install interface by its slot
 * backend: written into the slot that is not running, piece by verified
 * piece, flushed, read back, and only then made the bootloader's next
 * try. The image is never staged: its index's and pack's bytes reach
 * pawl_install_release_stream() as one stream (privsep_stream_*), from
 * the unprivileged fetcher's second run (DATA frames) or, without `user`,
 * from a thread of this process running pawl_updater_download_stream.
 * The root side opens the slot itself; the fetcher never holds it.
 */

/* ---------------- status, rollback, log ---------------- */

/* Is a trusted APP/VERSION/NAME entry signed as a recovery release? (A
 * fact of the trusted metadata, so u is refreshed.) */
static int signed_as_recovery(struct agent *a, pawl_updater *u, const char *version,
			      bool *ret)
{
	pawl_release_opts o = PAWL_RELEASE_OPTS_INIT;
	pawl_release_list *l = NULL;
	bool rec = false;
	int r;

	o.app = a->c->app;
	o.only_version = version;
	r = pawl_release_list_new(&l, u, &o);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pawl_release_list_count(l); i++)
		rec = rec || pawl_release_recovery(pawl_release_list_get(l, i));
	pawl_release_list_free(l);
	*ret = rec;
	return 0;
}

static int report_rollback(struct agent *a, const pawl_install_result *res)
{
	const agent_config *c = a->c;

	switch (res->outcome) {
	case PAWL_INSTALL_ROLLED_BACK:
		agent_say(a, "rolled back to %s %s", c->app, res->current);
		return agent_finish(a, AGENT_EXIT_OK, "rolled_back");
	case PAWL_INSTALL_REFUSED_DOWNGRADE:
		fprintf(stderr, "pawl: rollback refused: %s %s is not signed as a recovery "
			"release\n", c->app, a->state->previous);
		return agent_finish(a, AGENT_EXIT_REFUSED, "refused_downgrade");
	case PAWL_INSTALL_HEALTH_FAILED:
		fprintf(stderr, "pawl: %s %s failed its health check; %s stays: %s\n", c->app,
			res->version, res->current, res->message);
		return agent_finish(a, AGENT_EXIT_HEALTH, "health_failed");
	default:
		return agent_finish(a, AGENT_EXIT_ERROR, pawl_install_outcome_name(res->outcome));
	}
}

/* rollback and clear-bad have no slot-mode meaning: say what does. */
static int not_in_slot_mode(const agent_config *c, const char *cmd, const char *instead,
			    bool json)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s is for folder mode; in slot mode (%s) %s", cmd, c->path,
		 instead);
	if (json)
		agent_json_failure(cmd, PAWL_E_UNSUPPORTED, msg, NULL, AGENT_EXIT_ERROR);
	fprintf(stderr, "pawl: %s\n", msg);
	return AGENT_EXIT_ERROR;
}

/* Roll back only to a release the publisher signed as a recovery release:
 * that is a fact of the trusted metadata, so refresh first. */
int agent_rollback(const agent_config *c, bool json, int verbose)
{
	struct agent a = { .c = c, .json = json, .verbose = verbose };
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	pawl_install *ic = NULL;
	pawl_install_result res;
	pawl_updater *u = NULL;
	pawl_install_state st;
	bool recovery = false;
	int r;

	if (c->slot_mode)
		return not_in_slot_mode(c, "rollback", "'pawl mark-bad' on the booted slot and a "
					"reboot go back to the other slot", json);
	if (agent_setup_paths(&a) < 0 || agent_open_audit(&a) < 0 || (agent_privsep(c) && agent_open_state(&a) < 0))
		return agent_fail_local(&a, "setup");
	if (agent_open_install(&a, &ic) < 0)
		return agent_fail_local(&a, "install state");
	if (pawl_install_get_state(ic, &st) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "install state");
	}
	a.state = &st;
	if (!a.state->previous[0]) {
		/* Nothing to go back to: a refusal (exit 5), not a network
		 * failure, which the not-found code would map to. */
		pawl_install_free(ic);
		if (json)
			agent_json_failure("rollback", PAWL_E_NOT_FOUND, "no previous release is kept",
				     NULL, AGENT_EXIT_REFUSED);
		fprintf(stderr, "pawl: rollback refused: no previous release of %s is kept\n",
			c->app);
		return agent_finish(&a, AGENT_EXIT_REFUSED, "no_previous");
	}
	if (agent_ensure_trust(&a) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "trusted root");
	}
	agent_fill_opts(&a, &o);
	o.metadata_dir = a.metadata_dir;
	o.metadata_urls = (const char *const *)c->metadata_urls;
	o.n_metadata_urls = (size_t)c->n_metadata_urls;
	o.on_event = agent_on_event;
	o.event_ctx = &a;
	if (agent_privsep(c)) {
		a.refresh_only = true;
		if (agent_fetch_unprivileged(&a, &o) < 0) {
			pawl_install_free(ic);
			return agent_fail(&a, "fetch");
		}
	}
	if (pawl_updater_new(&u, &o) < 0 || pawl_updater_refresh(u) < 0) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_fail(&a, "refresh");
	}
	if (signed_as_recovery(&a, u, a.state->previous, &recovery) < 0) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_fail(&a, "release search");
	}
	pawl_updater_free(u);
	r = pawl_install_rollback(ic, recovery, &res);
	pawl_install_free(ic);
	if (r < 0)
		return agent_fail_local(&a, "rollback");
	if (pawl_audit_appendf(a.log, "rollback.outcome",
			       PAWL_AUDIT_STR("outcome", pawl_install_outcome_name(res.outcome)),
			       PAWL_AUDIT_STR("version", res.version),
			       PAWL_AUDIT_STR("current", res.current),
			       PAWL_AUDIT_STR("why", res.message)) < 0)
		pawl_error_clear();
	if (json)
		result_json(NULL, &res, NULL);
	return report_rollback(&a, &res);
}

/*
 * clear-bad: the mark goes only after the audit log holds the intent, so a
 * log that cannot be written stops it (as for trust.replacing).
 */
int agent_clear_bad(const agent_config *c, const char *version, bool json, int verbose)
{
	struct agent a = { .c = c, .json = json, .verbose = verbose };
	pawl_install *ic = NULL;
	pawl_install_state st;
	bool marked = false;

	if (c->slot_mode)
		return not_in_slot_mode(c, "clear-bad", "a version marked bad stays bad; publish a "
					"higher one", json);
	if (agent_setup_paths(&a) < 0 || agent_open_audit(&a) < 0)
		return agent_fail_local(&a, "setup");
	if (agent_open_install(&a, &ic) < 0)
		return agent_fail_local(&a, "install state");
	if (pawl_install_get_state(ic, &st) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "install state");
	}
	for (uint32_t i = 0; i < st.nbad; i++)
		marked = marked || strcmp(st.bad[i], version) == 0;
	if (!marked) {
		char msg[1024];
		size_t k = (size_t)snprintf(msg, sizeof(msg), "%s %.64s is not marked bad (", c->app,
					    version);

		for (uint32_t i = 0; i < st.nbad && k < sizeof(msg); i++)
			k += (size_t)snprintf(msg + k, sizeof(msg) - k, "%s%s", i ? ", " : "marked bad: ",
					      st.bad[i]);
		if (k < sizeof(msg))
			snprintf(msg + k, sizeof(msg) - k, "%s)", st.nbad ? "" : "none is");
		pawl_install_free(ic);
		pawl_error_set(PAWL_E_NOT_FOUND, "%s", msg);
		return agent_fail_local(&a, "clear-bad");
	}
	if (pawl_audit_appendf(a.log, "install.clear_bad", PAWL_AUDIT_STR("version", version),
			       PAWL_AUDIT_INT("uid", (int64_t)getuid())) < 0 ||
	    pawl_audit_flush(a.log) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "audit");
	}
	if (pawl_install_clear_bad(ic, version) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "clear-bad");
	}
	pawl_install_free(ic);
	agent_say(&a, "%s %s is no longer marked bad: the next update may install it again", c->app,
	    version);
	if (json) {
		fputs("{\"ok\":true,\"cleared\":", stdout);
		cli_json_string(stdout, version);
		fputs("}\n", stdout);
	}
	return agent_finish(&a, AGENT_EXIT_OK, "cleared_bad");
}

/*
 * status.c - the agent's read-only commands: `status`, `log` and `log
 * verify`. They take no lock and change nothing: the install state is
 * read with pawl_install_state_read, the last check and the audit anchor
 * from STATE_DIR/agent.json (which the commands that change things write
 * through pawl_audit_anchor_save, agent.c), and the log through the
 * shared log commands (src/common/log_cmd.h). Also the agent's one
 * failure form for --json.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_impl.h"
#include "common/json_out.h"
#include "common/log_cmd.h"
#include "pawl/audit.h"
#include "pawl/install.h"

/* The agent's failure form on stdout (--json): exactly one object. */
void agent_json_failure(const char *step, int code, const char *msg, const char *hint, int ex)
{
	printf("{\"ok\":false,\"step\":\"%s\",\"error\":\"%s\",\"message\":", step,
	       pawl_strerror(code));
	cli_json_string(stdout, msg);
	if (hint) {
		fputs(",\"hint\":", stdout);
		cli_json_string(stdout, hint);
	}
	printf(",\"exit\":%d}\n", ex);
}

void agent_install_opts(const agent_config *c, pawl_install_opts *io)
{
	*io = (pawl_install_opts)PAWL_INSTALL_OPTS_INIT;
	io->backend = c->slot_mode ? "slot" : "folder";
	io->install_dir = c->install_dir;
	io->slot_a = c->slot_a;
	io->slot_b = c->slot_b;
	io->bootloader = c->bootloader;
	io->booted = c->booted_slot;
	io->state_dir = c->state_dir;
	io->health_cmd = c->health_check;
	io->health_timeout_ms = c->health_timeout_s * 1000;
	io->lock_timeout_s = c->lock_timeout_s;
}

/* Nothing has run with this configuration yet: no state, no record of a
 * check, no audit log. */
static bool never_ran(const agent_config *c, const pawl_install_state *st, bool have_anchor)
{
	char path[4200];
	struct stat sb;

	if (have_anchor || st->installed[0] || st->highest[0] || st->nbad ||
	    st->last_outcome != PAWL_INSTALL_NONE)
		return false;
	STATE_PATH(path, c, "audit.log");
	return lstat(path, &sb) != 0 && errno == ENOENT;
}

static void say_never_ran(FILE *f, const agent_config *c)
{
	fprintf(f, "Nothing has run yet with %s: no update of %s has been checked, and "
		"nothing is installed in %s.\nRun 'pawl --config %s update' (or enable the "
		"pawl-update timer) to check for the first time.\n", c->path, c->app,
		c->install_dir, c->path);
}

/* The last check the agent recorded in STATE_DIR/agent.json. */
struct last_check {
	bool have_anchor;   /* agent.json is there and parses */
	int64_t when;       /* 0: none recorded */
	char outcome[64];
	int exit;
};

static void read_last_check(const agent_config *c, struct last_check *ret)
{
	pawl_audit_anchor *an = NULL;
	char path[4200];
	int64_t v;

	*ret = (struct last_check){ .when = 0, .outcome = "never", .exit = -1 };
	STATE_PATH(path, c, "agent.json");
	if (pawl_audit_anchor_load(&an, path) == 0) {
		const char *s = pawl_audit_anchor_str(an, "last_outcome");

		ret->have_anchor = true;
		if (pawl_audit_anchor_int(an, "last_check", &v) == 0)
			ret->when = v;
		if (s)
			snprintf(ret->outcome, sizeof(ret->outcome), "%s", s);
		if (pawl_audit_anchor_int(an, "last_exit", &v) == 0)
			ret->exit = (int)v;
	}
	pawl_audit_anchor_free(an);
	pawl_error_clear();
}

/* RFC 3339, UTC, as the audit log writes times. */
static void format_time(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void status_json(const agent_config *c, const pawl_install_state *st,
			const struct last_check *lc)
{
	printf("{\"app\":");
	cli_json_string(stdout, c->app);
	printf(",\"installed\":\"%s\",\"previous\":\"%s\",\"highest\":\"%s\","
	       "\"installed_recovery\":%s,\"bad\":[",
	       st->installed, st->previous, st->highest,
	       st->installed_recovery ? "true" : "false");
	for (uint32_t i = 0; i < st->nbad; i++)
		printf("%s\"%s\"", i ? "," : "", st->bad[i]);
	printf("],\"last_check\":%" PRId64 ",\"last_outcome\":\"%s\",\"last_exit\":%d,"
	       "\"ran\":%s}\n", lc->when, lc->outcome, lc->exit,
	       never_ran(c, st, lc->have_anchor) ? "false" : "true");
}

static void status_text(const agent_config *c, const pawl_install_state *st,
			const struct last_check *lc)
{
	char when[21] = "";

	if (lc->when)
		format_time(lc->when, when);
	printf("app:        %s\n", c->app);
	printf("installed:  %s%s\n", st->installed[0] ? st->installed : "(none)",
	       st->installed_recovery ? " (recovery release)" : "");
	printf("previous:   %s\n", st->previous[0] ? st->previous : "(none)");
	printf("highest:    %s\n", st->highest[0] ? st->highest : "(none)");
	if (st->nbad) {
		printf("bad:       ");
		for (uint32_t i = 0; i < st->nbad; i++)
			printf(" %s", st->bad[i]);
		printf("\n            failed a health check here and are never installed "
		       "again");
		if (c->slot_mode)
			printf("\n");
		else
			printf(";\n            'pawl --config %s clear-bad VERSION' clears "
			       "the mark\n", c->path);
	}
	if (lc->when)
		printf("last check: %s, %s (exit %d)\n", when, lc->outcome, lc->exit);
	else
		printf("last check: none recorded yet\n");
}

static const char *slot_state_name(int st)
{
	return st == PAWL_INSTALL_SLOT_GOOD ? "good" : st == PAWL_INSTALL_SLOT_BAD ? "bad" :
									   "unknown";
}

/* The slot whose flag is set, as JSON ("a", "b" or null). */
static void json_slot_flag(const pawl_install_slot sl[2], size_t off)
{
	for (int i = 0; i < 2; i++)
		if (*(const bool *)((const char *)&sl[i] + off)) {
			printf("\"%s\"", sl[i].name);
			return;
		}
	fputs("null", stdout);
}

static void slots_json(const pawl_install_slot sl[2], const char *note)
{
	fputs(",\"mode\":\"slot\",\"booted\":", stdout);
	json_slot_flag(sl, offsetof(pawl_install_slot, booted));
	fputs(",\"primary\":", stdout);
	json_slot_flag(sl, offsetof(pawl_install_slot, primary));
	fputs(",\"pending\":", stdout);
	json_slot_flag(sl, offsetof(pawl_install_slot, pending));
	fputs(",\"slots\":[", stdout);
	for (int i = 0; i < 2; i++) {
		printf("%s{\"name\":\"%s\",\"path\":", i ? "," : "", sl[i].name);
		cli_json_string(stdout, sl[i].path);
		fputs(",\"version\":", stdout);
		if (sl[i].version[0])
			cli_json_string(stdout, sl[i].version);
		else
			fputs("null", stdout);
		printf(",\"recovery\":%s,\"state\":\"%s\",\"primary\":%s,\"booted\":%s,"
		       "\"pending\":%s}", sl[i].recovery ? "true" : "false",
		       slot_state_name(sl[i].state), sl[i].primary ? "true" : "false",
		       sl[i].booted ? "true" : "false", sl[i].pending ? "true" : "false");
	}
	fputs("]", stdout);
	if (note[0]) {
		fputs(",\"bootloader_error\":", stdout);
		cli_json_string(stdout, note);
	}
}

static void slots_text(const pawl_install_slot sl[2], const char *note)
{
	printf("slots:\n");
	for (int i = 0; i < 2; i++)
		printf("  %s  %-12s %-7s %s%s%s%s\n            %s\n", sl[i].name,
		       sl[i].version[0] ? sl[i].version : "(unknown)", slot_state_name(sl[i].state),
		       sl[i].booted ? " booted" : "", sl[i].primary ? " primary" : "",
		       sl[i].pending ? " pending (reboot, then confirm)" : "",
		       sl[i].recovery ? " recovery" : "", sl[i].path);
	if (note[0])
		printf("bootloader: %s\n", note);
}

/* Slot mode: the state, then both slots as the bootloader sees them. */
static int slot_status(const agent_config *c, bool json, const pawl_install_opts *io,
		       const pawl_install_state *st, const struct last_check *lc)
{
	pawl_install_slot sl[2];
	char note[256];

	if (pawl_install_slots_read(io, sl, note, sizeof(note)) < 0) {
		int code = pawl_error_last()->code;
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", pawl_error_last()->message);
		if (json)
			agent_json_failure("status", code, msg, NULL, AGENT_EXIT_ERROR);
		fprintf(stderr, "pawl: status failed: %s\n", msg);
		return AGENT_EXIT_ERROR;
	}
	if (json) {
		/* The folder form's object, with the slots added before its end. */
		printf("{\"app\":");
		cli_json_string(stdout, c->app);
		printf(",\"installed\":\"%s\",\"previous\":\"%s\",\"highest\":\"%s\","
		       "\"installed_recovery\":%s,\"bad\":[",
		       st->installed, st->previous, st->highest,
		       st->installed_recovery ? "true" : "false");
		for (uint32_t i = 0; i < st->nbad; i++)
			printf("%s\"%s\"", i ? "," : "", st->bad[i]);
		printf("],\"last_check\":%" PRId64 ",\"last_outcome\":\"%s\",\"last_exit\":%d,"
		       "\"ran\":%s", lc->when, lc->outcome, lc->exit,
		       never_ran(c, st, lc->have_anchor) ? "false" : "true");
		slots_json(sl, note);
		fputs("}\n", stdout);
		return AGENT_EXIT_OK;
	}
	status_text(c, st, lc);
	slots_text(sl, note);
	return AGENT_EXIT_OK;
}

int agent_status(const agent_config *c, bool json)
{
	pawl_install_opts io;
	pawl_install_state st;
	struct last_check lc;

	agent_install_opts(c, &io);
	if (pawl_install_state_read(&io, &st) < 0) {
		int code = pawl_error_last()->code;
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", pawl_error_last()->message);
		if (json)
			agent_json_failure("status", code, msg, NULL, AGENT_EXIT_ERROR);
		fprintf(stderr, "pawl: status failed: %s\n", msg);
		return AGENT_EXIT_ERROR;
	}
	read_last_check(c, &lc);
	if (c->slot_mode)
		return slot_status(c, json, &io, &st, &lc);
	if (json)
		status_json(c, &st, &lc);
	else if (never_ran(c, &st, lc.have_anchor))
		say_never_ran(stdout, c);
	else
		status_text(c, &st, &lc);
	return AGENT_EXIT_OK;
}

int agent_log_show(const agent_config *c, bool json, int64_t since)
{
	char path[4200];
	struct stat sb;
	int r;

	STATE_PATH(path, c, "audit.log");
	if (lstat(path, &sb) != 0 && errno == ENOENT) {
		/* No entries: with --json, none on stdout (JSON Lines). */
		fprintf(json ? stderr : stdout,
			"Nothing has run yet with %s: the audit log %s starts with the first "
			"'pawl --config %s update' (or init).\n", c->path, path, c->path);
		return AGENT_EXIT_OK;
	}
	r = cli_log_show(stdout, path, json, since);
	if (r != 0) {
		int code = pawl_error_last()->code;
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s",
			 pawl_error_last()->message[0] ? pawl_error_last()->message :
							 pawl_strerror(code));
		if (json)
			agent_json_failure("log", code, msg, NULL, AGENT_EXIT_ERROR);
		fprintf(stderr, "pawl: log failed: %s\n", msg);
		return AGENT_EXIT_ERROR;
	}
	return AGENT_EXIT_OK;
}

int agent_log_verify(const agent_config *c, bool json)
{
	char path[4200], apath[4200];
	pawl_audit_head anchor, *ap = NULL;
	pawl_audit_anchor *an = NULL;
	cli_log_result res;
	int r;

	STATE_PATH(path, c, "audit.log");
	STATE_PATH(apath, c, "agent.json");
	{
		pawl_install_opts io;
		pawl_install_state st;

		/* No log, no anchor, no state: nothing has run, so nothing can
		 * have been removed. A missing log with any of the others is
		 * left to the check, which fails. */
		agent_install_opts(c, &io);
		if (pawl_install_state_read(&io, &st) == 0 && never_ran(c, &st, false) &&
		    access(apath, F_OK) != 0) {
			fprintf(json ? stderr : stdout,
				"Nothing has run yet with %s: there is no audit log to verify "
				"(%s starts with the first 'pawl --config %s update').\n",
				c->path, path, c->path);
			if (json)
				printf("{\"ok\":true,\"entries\":0,\"ran\":false}\n");
			return AGENT_EXIT_OK;
		}
		pawl_error_clear();
	}
	if (pawl_audit_anchor_load(&an, apath) == 0 && pawl_audit_anchor_head(an, &anchor) == 0)
		ap = &anchor;
	pawl_audit_anchor_free(an);
	pawl_error_clear();
	cli_log_check(path, NULL, ap, "agent.json", &res);
	r = cli_log_report(stdout, path, &res, json);
	return r;
}


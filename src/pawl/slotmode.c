/*
 * slotmode.c - the agent's commands in slot mode (pawl.conf names slot.a,
 * slot.b and a bootloader; docs/images.md): update streams the newest
 * image release into the slot that is not booted through the slot
 * backend of pawl/install.h, and confirm, mark-good and mark-bad act on
 * the booted slot after a reboot. The download reaches root as a stream
 * of typed frames (privsep.c) whether or not a fetcher user is set; no
 * copy of the image is kept anywhere.
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

/* A slot error's exit code: the repository's bytes (2), the network (3),
 * everything else local (1: a wrong slot device, a slot too small, a full
 * disk, the bootloader). */
static int slot_exit_code(int err)
{
	switch (err) {
	case PAWL_E_SIGNATURE:
	case PAWL_E_EXPIRED:
	case PAWL_E_ROLLBACK:
	case PAWL_E_LENGTH:
	case PAWL_E_HASH:
	case PAWL_E_FORMAT:
		return AGENT_EXIT_VERIFY;
	case PAWL_E_NETWORK:
	case PAWL_E_NOT_FOUND:
		return AGENT_EXIT_NETWORK;
	default:
		return AGENT_EXIT_ERROR;
	}
}

/* The whole stream's deadline on the root side: the fetcher's refresh and
 * the transfer at the configured minimum rate, twice over. */
static unsigned stream_deadline(const agent_config *c, uint64_t total)
{
	uint64_t rate = c->min_rate ? c->min_rate : 16384;
	uint64_t base = c->deadline_base_s ? c->deadline_base_s : 30;
	uint64_t s = 2 * (base + total / rate);

	return s > 7 * 86400 ? 7 * 86400 : (unsigned)s;
}

/* The slot a place list names with state st ("" none). */
static const char *place_named(pawl_install *ic, int st)
{
	static pawl_install_place pl[PAWL_INSTALL_MAX_PLACES];
	size_t n = 0;

	if (pawl_install_places(ic, pl, &n) < 0) {
		pawl_error_clear();
		return "";
	}
	for (size_t i = 0; i < n; i++)
		if (pl[i].state == st)
			return pl[i].name;
	return "";
}

static void slot_result_json(const struct agent *a, const char *cmd,
			     const pawl_install_result *r, const char *slot, bool reboot)
{
	printf("{\"ok\":true,\"command\":\"%s\",\"outcome\":\"%s\",\"version\":", cmd,
	       pawl_install_outcome_name(r->outcome));
	cli_json_string(stdout, r->version);
	fputs(",\"current\":", stdout);
	cli_json_string(stdout, r->current);
	fputs(",\"slot\":", stdout);
	if (slot && *slot)
		cli_json_string(stdout, slot);
	else
		fputs("null", stdout);
	if (a && a->have_best) {
		fputs(",\"target\":", stdout);
		cli_json_string(stdout, a->best_path);
	}
	if (a && a->releases)
		agent_json_skipped(a);
	printf(",\"reboot\":%s,\"health_ran\":%s,\"message\":", reboot ? "true" : "false",
	       r->health_ran ? "true" : "false");
	cli_json_string(stdout, r->message);
	fputs("}\n", stdout);
}

static void log_outcome(struct agent *a, const char *event, const pawl_install_result *r,
			const char *slot)
{
	if (a->log && pawl_audit_appendf(a->log, event,
				   PAWL_AUDIT_STR("outcome", pawl_install_outcome_name(r->outcome)),
				   PAWL_AUDIT_STR("version", r->version),
				   PAWL_AUDIT_STR("current", r->current),
				   PAWL_AUDIT_STR("slot", slot),
				   PAWL_AUDIT_STR("why", r->message)) < 0)
		pawl_error_clear();
}

/* Open the slot backend and finish what a crash left. */
static int slot_open_install(struct agent *a, pawl_install **ret, pawl_install_state *st)
{
	pawl_install_result res;

	GUARD(agent_open_install(a, ret));
	if (pawl_install_recover(*ret, &res) < 0 || pawl_install_get_state(*ret, st) < 0) {
		pawl_install_free(*ret);
		*ret = NULL;
		return pawl_error_last()->code ? pawl_error_last()->code : PAWL_E_GENERIC;
	}
	if (res.outcome != PAWL_INSTALL_NONE &&
	    pawl_audit_appendf(a->log, "install.recovered",
			       PAWL_AUDIT_STR("outcome", pawl_install_outcome_name(res.outcome)),
			       PAWL_AUDIT_STR("version", res.version),
			       PAWL_AUDIT_STR("current", res.current)) < 0)
		pawl_error_clear();
	return 0;
}

/* What update says about a slot outcome, and its exit code. */
static int report_slot_outcome(struct agent *a, const pawl_install_result *res, const char *slot)
{
	const agent_config *c = a->c;

	switch (res->outcome) {
	case PAWL_INSTALL_PENDING_REBOOT:
		agent_say(a, "wrote %s %s to slot %s and made it the bootloader's next try; reboot, "
		    "then run 'pawl --config %s confirm'", c->app, res->version, slot, c->path);
		return AGENT_EXIT_OK;
	case PAWL_INSTALL_ALREADY_PENDING:
		agent_say(a, "%s %s is written to slot %s already and waits for a reboot", c->app,
		    res->version, slot);
		return AGENT_EXIT_OK;
	case PAWL_INSTALL_ALREADY_CURRENT:
		agent_say(a, "%s %s is current", c->app, res->version);
		return AGENT_EXIT_OK;
	case PAWL_INSTALL_REFUSED_DOWNGRADE:
	case PAWL_INSTALL_REFUSED_BAD:
		fprintf(stderr, "pawl: refused %s %s: %s\n", c->app, res->version, res->message);
		return AGENT_EXIT_REFUSED;
	default:
		return AGENT_EXIT_ERROR;
	}
}

/* The index target of the chosen image release and the release, as
 * root's own trusted metadata signs them. The packs and sums the index
 * names are looked up when the installer asks for them
 * (pawl_install_source.target_length). */
static int slot_targets(struct agent *a, pawl_updater *u, pawl_target **ret_idx,
			pawl_release **ret_rel)
{
	pawl_release *rel = NULL;
	pawl_target *t = NULL;
	int r;

	GUARD(pawl_updater_get_target(&t, u, a->best_path));
	r = agent_check_release(a, t, &rel);
	if (r == 0 && pawl_release_kind_of(rel) != PAWL_RELEASE_IMAGE)
		r = pawl_error_set(PAWL_E_FORMAT, "the signed custom data of %s names no image",
				   a->best_path);
	if (r < 0) {
		pawl_release_free(rel);
		pawl_target_free(t);
		return r;
	}
	*ret_idx = t;
	*ret_rel = rel;
	return 0;
}

/*
 * The installer's source: every open() is one run of the fetcher (or of
 * root's own client when no fetcher user is set) that streams exactly
 * the byte ranges asked for, as typed frames; root checks every byte
 * against the signed index itself. A range that is a whole target goes
 * as a whole-target stream.
 */
struct slot_source {
	struct agent *a;
	pawl_updater *u;  /* root's trusted client: signed lengths */
	pawl_updater_opts fo;
	privsep_stream *s;
	int err;          /* the fetcher's error, kept for the caller */
};

static int src_target_length(void *ctx, const char *path, uint64_t *ret)
{
	struct slot_source *ss = ctx;
	pawl_target *t = NULL;

	GUARD(pawl_updater_get_target(&t, ss->u, path));
	*ret = pawl_target_length(t);
	pawl_target_free(t);
	return 0;
}

static int src_open(void *ctx, const pawl_install_range *rg, size_t n)
{
	struct slot_source *ss = ctx;
	struct agent *a = ss->a;
	privsep_stream_job job = { 0 };
	uint64_t len = 0;

	ENSURE(ss->s == NULL && n >= 1, PAWL_E_INVALID, "one stream at a time, of at least one range");
	for (size_t i = 0; i < n; i++)
		len += rg[i].length;
	if (n == 1 && rg[0].offset == 0 && src_target_length(ctx, rg[0].target, &job.total) == 0 &&
	    job.total == rg[0].length) {
		job.paths[0] = rg[0].target;
		job.npaths = 1;
	} else {
		pawl_error_clear();
		job.ranges = rg;
		job.nranges = n;
		job.total = len;
	}
	job.deadline_s = stream_deadline(a->c, len);
	job.progress = a->progress;
	if (a->work_fd >= 0) {
		struct passwd *pw = getpwuid(a->fetcher_uid);
		privsep_fetcher f = { pw ? pw->pw_name : a->c->user, a->fetcher_uid,
				      a->fetcher_gid, a->work_fd, a->c->state_dir };

		job.opts = &ss->fo;
		return privsep_stream_start(&f, &job, &ss->s);
	}
	job.u = ss->u;
	return privsep_stream_start(NULL, &job, &ss->s);
}

static int src_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct slot_source *ss = ctx;

	ENSURE(ss->s != NULL, PAWL_E_INVALID, "no stream is open");
	return privsep_stream_read(ss->s, buf, cap, ret_n);
}

static int src_close(void *ctx)
{
	struct slot_source *ss = ctx;
	int r;

	if (!ss->s)
		return 0;
	r = privsep_stream_finish(ss->s, ss->a->log);
	ss->s = NULL;
	if (r < 0 && ss->err == 0)
		ss->err = r;
	return r;
}

/* Install the release through the slot backend from the fetcher. */
static int slot_source_install(struct agent *a, pawl_install *ic, pawl_updater *u,
			       const pawl_release *rel, const pawl_target *t,
			       pawl_install_result *res)
{
	struct slot_source ss = { .a = a, .u = u, .fo = PAWL_UPDATER_OPTS_INIT };
	pawl_install_source src = { PAWL_INSTALL_SOURCE_VERSION, &ss, src_target_length,
				    src_open, src_read, src_close };
	int r;

	if (a->work_fd >= 0) {
		struct passwd *pw = getpwuid(a->fetcher_uid);

		agent_fill_opts(a, &ss.fo);
		ss.fo.metadata_urls = (const char *const *)a->c->metadata_urls;
		ss.fo.n_metadata_urls = (size_t)a->c->n_metadata_urls;
		ss.fo.target_urls = (const char *const *)a->c->target_urls;
		ss.fo.n_target_urls = (size_t)a->c->n_target_urls;
		agent_say(a, "streaming %s %s as %s", a->c->app, a->best_str,
			  pw ? pw->pw_name : a->c->user);
	} else {
		agent_say(a, "streaming %s %s", a->c->app, a->best_str);
	}
	r = pawl_install_release_source(ic, rel, t, &src, res);
	if (r < 0) {
		char why[1024];
		int code = pawl_error_last()->code;

		snprintf(why, sizeof(why), "%s", pawl_error_last()->message);
		if (src_close(&ss) < 0 || ss.err < 0) {
			/* A fetcher that failed explains a short stream better
			 * than the short stream does; the installer's own reason
			 * stands when it stopped the fetcher (a tampered piece,
			 * the slot). */
			if (code != PAWL_E_HASH && code != PAWL_E_POLICY && code != PAWL_E_LIMIT &&
			    code != PAWL_E_IO)
				return ss.err;
		}
		return pawl_error_set(code, "%s", why);
	}
	return src_close(&ss) < 0 ? ss.err : 0;
}

/* What the install reused and fetched, for the operator and the log. */
static void slot_report_transfer(struct agent *a, pawl_install *ic)
{
	pawl_install_transfer x;

	if (pawl_install_transfer_get(ic, &x) < 0) {
		pawl_error_clear();
		return;
	}
	if (x.format >= 2)
		agent_say(a, "reused %" PRIu64 " of %" PRIu64 " pieces (%" PRIu64 " in place, %" PRIu64
			  " from the booted slot, %" PRIu64 " within the slot), fetched %" PRIu64
			  "; %" PRIu64 " bytes in %" PRIu64 " ranges", x.in_place + x.from_booted +
			  x.from_target, x.pieces, x.in_place, x.from_booted, x.from_target,
			  x.fetched, x.bytes_index + x.bytes_sums + x.bytes_frames, x.ranges);
	if (a->log && pawl_audit_appendf(a->log, "slot.transfer",
				   PAWL_AUDIT_INT("format", (int64_t)x.format),
				   PAWL_AUDIT_INT("pieces", (int64_t)x.pieces),
				   PAWL_AUDIT_INT("in_place", (int64_t)x.in_place),
				   PAWL_AUDIT_INT("from_booted", (int64_t)x.from_booted),
				   PAWL_AUDIT_INT("from_target", (int64_t)x.from_target),
				   PAWL_AUDIT_INT("fetched", (int64_t)x.fetched),
				   PAWL_AUDIT_INT("seed_rejected", (int64_t)x.seed_rejected),
				   PAWL_AUDIT_INT("bytes_index", (int64_t)x.bytes_index),
				   PAWL_AUDIT_INT("bytes_sums", (int64_t)x.bytes_sums),
				   PAWL_AUDIT_INT("bytes_frames", (int64_t)x.bytes_frames),
				   PAWL_AUDIT_INT("ranges", (int64_t)x.ranges),
				   PAWL_AUDIT_INT("streams", (int64_t)x.streams)) < 0)
		pawl_error_clear();
}

int agent_update_slot(const agent_config *c, bool json, int verbose)
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
	const char *slot;
	int code, r;

	if (agent_setup_paths(&a) < 0 || agent_open_audit(&a) < 0 || (agent_privsep(c) && agent_open_state(&a) < 0))
		return agent_fail_local(&a, "setup");
	if (pawl_audit_appendf(a.log, "update.start", PAWL_AUDIT_STR("app", c->app),
			       PAWL_AUDIT_STR("mode", "slot")) < 0)
		pawl_error_clear();
	if (slot_open_install(&a, &ic, &st) < 0)
		return agent_fail_local(&a, "install state");
	a.state = &st;
	if (agent_ensure_trust(&a) < 0) {
		pawl_install_free(ic);
		return agent_fail_local(&a, "trusted root");
	}
	/* With a fetcher, its first run only refreshes (and mirrors what a
	 * search visits): nothing is downloaded before root has decided. */
	if (agent_refresh_choose(&a, &o, true, ic, &u, &code) < 0)
		return code;
	if (!a.have_best) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_report_none(&a);
	}
	if (slot_targets(&a, u, &t, &rel) < 0) {
		pawl_updater_free(u);
		pawl_install_free(ic);
		return agent_fail(&a, "release check");
	}
	/* Forward only, decided before a byte of the image is fetched. */
	r = pawl_install_check(ic, rel, &res);
	if (r == 0 && res.outcome == PAWL_INSTALL_NONE) {
		agent_say(&a, "installing %s %s", c->app, a.best_str);
		if (pawl_audit_appendf(a.log, "slot.write", PAWL_AUDIT_STR("version", a.best_str),
				       PAWL_AUDIT_STR("index", pawl_target_path(t)),
				       PAWL_AUDIT_STR("pack", pawl_release_image_pack(rel) ?
							      pawl_release_image_pack(rel) : ""),
				       PAWL_AUDIT_STR("via", a.work_fd >= 0 ? "fetcher" : "agent")) < 0)
			pawl_error_clear();
		r = slot_source_install(&a, ic, u, rel, t, &res);
		slot_report_transfer(&a, ic);
	}
	pawl_target_free(t);
	pawl_updater_free(u);
	if (r < 0) {
		pawl_release_free(rel);
		pawl_install_free(ic);
		return agent_fail_as(&a, "install", slot_exit_code(pawl_error_last()->code));
	}
	slot = res.outcome == PAWL_INSTALL_PENDING_REBOOT ||
			       res.outcome == PAWL_INSTALL_ALREADY_PENDING ?
		       place_named(ic, PAWL_INSTALL_PLACE_PENDING) : "";
	pawl_install_free(ic);
	if (pawl_audit_appendf(a.log, "install.outcome",
			       PAWL_AUDIT_STR("outcome", pawl_install_outcome_name(res.outcome)),
			       PAWL_AUDIT_STR("version", res.version),
			       PAWL_AUDIT_STR("current", res.current),
			       PAWL_AUDIT_BOOL("recovery", pawl_release_recovery(rel)),
			       PAWL_AUDIT_STR("why", res.message)) < 0)
		pawl_error_clear();
	if (res.outcome == PAWL_INSTALL_PENDING_REBOOT &&
	    pawl_audit_appendf(a.log, "slot.switched", PAWL_AUDIT_STR("slot", slot),
			       PAWL_AUDIT_STR("version", res.version)) < 0)
		pawl_error_clear();
	pawl_release_free(rel);
	if (json)
		slot_result_json(&a, "update", &res, slot,
				 res.outcome == PAWL_INSTALL_PENDING_REBOOT ||
					 res.outcome == PAWL_INSTALL_ALREADY_PENDING);
	code = report_slot_outcome(&a, &res, slot);
	return agent_finish(&a, code, pawl_install_outcome_name(res.outcome));
}

/* The slot the agent runs from, for messages. */
static const char *booted_name(pawl_install *ic)
{
	return place_named(ic, PAWL_INSTALL_PLACE_ACTIVE);
}

/* A confirm or mark-good that found the bootloader had fallen back from an
 * unconfirmed slot (the library's message starts so) says which version
 * it marked bad, on stderr: otherwise only the audit log would know. */
static void slot_say_fallback(const struct agent *a, const pawl_install_result *r)
{
	static const char fb[] = "the bootloader fell back from ";

	if (!a->json && strncmp(r->message, fb, sizeof(fb) - 1) == 0)
		fprintf(stderr, "pawl: %s\n", r->message);
}

/*
 * confirm, mark-good, mark-bad: act on the booted slot. confirm runs the
 * health check: pass marks it good (0); fail marks it bad and asks for a
 * reboot into the other slot (4). mark-bad also asks for the reboot.
 */
static int agent_slot_act(const agent_config *c, const char *cmd, bool json, int verbose)
{
	struct agent a = { .c = c, .json = json, .verbose = verbose };
	pawl_install *ic = NULL;
	pawl_install_result res;
	pawl_install_state st;
	char booted[32];
	int r, code = AGENT_EXIT_OK;
	bool reboot;

	if (!c->slot_mode) {
		if (json)
			agent_json_failure(cmd, PAWL_E_UNSUPPORTED, "not in slot mode", NULL,
					   AGENT_EXIT_ERROR);
		fprintf(stderr, "pawl: %s is for slot mode (slot.a, slot.b and bootloader in %s); "
			"folder mode confirms and marks as it installs\n", cmd, c->path);
		return AGENT_EXIT_ERROR;
	}
	if (agent_setup_paths(&a) < 0 || agent_open_audit(&a) < 0)
		return agent_fail_local(&a, "setup");
	if (slot_open_install(&a, &ic, &st) < 0)
		return agent_fail_local(&a, "install state");
	snprintf(booted, sizeof(booted), "%s", booted_name(ic));
	if (strcmp(cmd, "confirm") == 0)
		r = pawl_install_confirm(ic, &res);
	else
		r = pawl_install_mark(ic, strcmp(cmd, "mark-good") == 0, &res);
	pawl_install_free(ic);
	if (r < 0)
		return agent_fail_local(&a, cmd);
	log_outcome(&a, strcmp(cmd, "confirm") == 0 ? "slot.confirm" : "slot.mark", &res, booted);
	reboot = res.outcome == PAWL_INSTALL_HEALTH_FAILED || res.outcome == PAWL_INSTALL_MARKED_BAD;
	switch (res.outcome) {
	case PAWL_INSTALL_CONFIRMED:
		agent_say(&a, "%s %s in slot %s passed its health check and is marked good", c->app,
		    res.version, booted);
		slot_say_fallback(&a, &res);
		break;
	case PAWL_INSTALL_MARKED_GOOD:
		agent_say(&a, "slot %s (%s %s) is marked good", booted, c->app,
		    res.version[0] ? res.version : "unknown version");
		slot_say_fallback(&a, &res);
		break;
	case PAWL_INSTALL_HEALTH_FAILED:
		fprintf(stderr, "pawl: %s %s in slot %s failed its health check and is marked bad: "
			"reboot now to go back to the other slot%s%s\n", c->app, res.version, booted,
			res.message[0] ? ": " : "", res.message);
		code = AGENT_EXIT_HEALTH;
		break;
	case PAWL_INSTALL_MARKED_BAD:
		fprintf(stderr, "pawl: slot %s (%s %s) is marked bad: reboot now to go back to the "
			"other slot\n", booted, c->app, res.version[0] ? res.version : "unknown version");
		break;
	default:
		code = AGENT_EXIT_ERROR;
		break;
	}
	if (json)
		slot_result_json(NULL, cmd, &res, booted, reboot);
	return agent_finish(&a, code, pawl_install_outcome_name(res.outcome));
}

int agent_confirm(const agent_config *c, bool json, int verbose)
{
	return agent_slot_act(c, "confirm", json, verbose);
}

int agent_mark(const agent_config *c, bool good, bool json, int verbose)
{
	return agent_slot_act(c, good ? "mark-good" : "mark-bad", json, verbose);
}

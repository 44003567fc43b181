/*
 * pawl - the device side: a TUF client speaking the client-under-test
 * protocol (init, refresh, download, with --metadata-dir) and the update
 * agent (with --config).
 *
 * The command line, as git and pawl-repo have it: options before or after
 * the command (GNU getopt permutation; "--" ends them), `pawl help
 * [COMMAND]` and `pawl COMMAND --help` for every command, one line naming a
 * bad option or word plus a "Try 'pawl ... --help'" hint, and a suggestion
 * for a mistyped command.
 *
 * Exit codes: one table for pawl and pawl-repo (docs/exit-codes.md). The
 * client-under-test commands keep the protocol's rule, 0 on success and 1
 * on any failure, usage errors included; every other usage error is 64
 * (EX_USAGE). Errors go to stderr as one line that names what failed
 * (role, version, key id, file or URL), with what to do next when the
 * program knows it (hint.h). With --json, stdout holds exactly one JSON
 * value, errors included (docs/json.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "common/exit_codes.h"
#include "common/json_out.h"
#include "common/nearest.h"
#include "common/parse.h"
#include "hint.h"
#include "pawl/audit.h"
#include "pawl/common.h"
#include "pawl/updater.h"
#include "progress.h"

#define MAX_LIST 64
#define MAX_ARGS 8

enum mode { M_CLIENT = 1, M_AGENT = 2 };

struct cli {
	const char *metadata_dir;
	const char *metadata_urls[MAX_LIST];
	size_t n_metadata_urls;
	const char *target_urls[MAX_LIST];
	size_t n_target_urls;
	const char *target_names[4096];
	size_t n_target_names;
	const char *target_dir;
	const char *ca_file;
	const char *pin;
	uint64_t max_bytes[4];
	uint32_t max_delegations;
	long connect_timeout, low_speed_time, low_speed_limit, timeout;
	long min_rate, deadline_base;
	bool json;
	const char *config;
	const char *since;
	const char *booted_slot; /* --booted-slot a|b */
	int verbose; /* -1 quiet, 0 normal, 1+ verbose */
	bool progress;
	bool force_replace_root;
	bool help, version;
	/* the command and its arguments, wherever they stood */
	const char *cmd;
	const char *args[MAX_ARGS];
	size_t nargs;
	/* the first client-only option given (for the agent's message) */
	const char *client_opt;
	/* the first usage error, reported once the command is known */
	char usage_err[512];
};

static const struct command {
	const char *name;
	unsigned modes;
} commands[] = {
	{ "init", M_CLIENT | M_AGENT },
	{ "refresh", M_CLIENT },
	{ "download", M_CLIENT },
	{ "update", M_AGENT },
	{ "status", M_AGENT },
	{ "rollback", M_AGENT },
	{ "log", M_AGENT },
	{ "clear-bad", M_AGENT },
	{ "confirm", M_AGENT },
	{ "mark-good", M_AGENT },
	{ "mark-bad", M_AGENT },
	{ "help", 0 },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* ---------------- help ---------------- */

static void usage(FILE *f)
{
	fputs("usage: pawl --metadata-dir DIR [OPTIONS] init|refresh|download [ARGS]\n"
	      "       pawl --config FILE [OPTIONS] init|update|status|rollback|log|clear-bad "
	      "[ARGS]\n"
	      "       pawl --config FILE [--booted-slot a|b] confirm|mark-good|mark-bad\n"
	      "       pawl help [COMMAND]\n"
	      "\n"
	      "Client commands (the TUF client, with --metadata-dir DIR):\n"
	      "  init ROOT.json     trust ROOT.json as the initial root (no network); a\n"
	      "                     different trusted root already there is kept (exit 1)\n"
	      "  refresh            update trusted metadata from the repository\n"
	      "  download           refresh, then fetch and verify each --target-name\n"
	      "\n"
	      "Agent commands (the update agent, with --config FILE, see pawl.conf(5)):\n"
	      "  init [ROOT.json]   seed the agent's trusted root (default: trusted_root)\n"
	      "  update             install the newest signed release of the app, health-\n"
	      "                     check it, roll back on failure\n"
	      "  status             installed, previous, highest and bad versions, last check\n"
	      "  rollback           go back to the previous release, only if it is signed\n"
	      "                     as a recovery release\n"
	      "  log [--since T]    show the audit log;  log verify: check its hash chain\n"
	      "  clear-bad VERSION  let a release marked bad be installed again\n"
	      "\n"
	      "Slot mode (slot.a, slot.b and bootloader in FILE: A/B image updates):\n"
	      "  update             write the newest signed image into the slot that is not\n"
	      "                     running and make the bootloader try it next\n"
	      "  confirm            after the boot: run the health check, then mark the\n"
	      "                     booted slot good, or bad and ask for a reboot (exit 4)\n"
	      "  mark-good          mark the booted slot good (no health check)\n"
	      "  mark-bad           mark the booted slot bad: reboot to go back\n"
	      "  status             both slots: version, good or bad, primary, booted,\n"
	      "                     pending\n"
	      "\n"
	      "Options go before or after the command; 'pawl help COMMAND' (or\n"
	      "'pawl COMMAND --help') describes one command.\n"
	      "\n"
	      "Client options:\n"
	      "  --metadata-dir DIR       trusted metadata directory\n"
	      "  --metadata-url URL       repository metadata base URL (repeat for mirrors)\n"
	      "  --target-base-url URL    repository targets base URL (repeat for mirrors)\n"
	      "  --target-name PATH       target to download (repeatable, in order)\n"
	      "  --target-dir DIR         where downloaded targets are stored\n"
	      "  --max-bytes ROLE=BYTES   download limit for root, timestamp, snapshot or\n"
	      "                           targets (covers delegated roles); repeatable\n"
	      "  --max-delegations N      roles visited per target search (32)\n"
	      "  --ca-file FILE           trust only this CA bundle for HTTPS\n"
	      "  --pin sha256//BASE64     require this server public key\n"
	      "  --connect-timeout SEC    give up connecting after SEC seconds (30)\n"
	      "  --low-speed-limit BPS    fail a transfer slower than BPS bytes/s ...\n"
	      "  --low-speed-time SEC     ... for SEC seconds (1024 bytes/s, 30 s)\n"
	      "  --timeout SEC            limit each request to SEC seconds (none)\n"
	      "  --min-rate BPS           each transfer must average BPS bytes/s: its\n"
	      "                           deadline is SEC + LENGTH / BPS (16384) ...\n"
	      "  --deadline-base SEC      ... with SEC from here (30); LENGTH is the most\n"
	      "                           it may bring (slow retrieval)\n"
	      "  (SEC: seconds, or a number with s, m, h or d, as pawl-repo takes\n"
	      "   periods; the agent reads these settings from pawl.conf(5))\n"
	      "\n"
	      "Agent options:\n"
	      "  --config FILE            the agent's configuration (pawl.conf(5))\n"
	      "  --booted-slot a|b        slot mode: the slot that runs now, instead of\n"
	      "                           pawl.slot= on the kernel command line\n"
	      "  --since TIME             log: entries from TIME: YYYY-MM-DDTHH:MM:SSZ,\n"
	      "                           YYYY-MM-DD, or a time back from now (90s, 30m,\n"
	      "                           24h, 7d, 2w)\n"
	      "\n"
	      "Both:\n"
	      "  --force-replace-trusted-root\n"
	      "                           init: replace a different trusted root (trust\n"
	      "                           in what it holds is lost; logged, warned)\n"
	      "  --json                   machine-readable output: exactly one JSON value\n"
	      "                           on stdout, errors included (docs/json.md)\n"
	      "  -v, --verbose            say what is fetched and verified\n"
	      "  -q, --quiet              print errors only\n"
	      "  -h, --help               this help\n"
	      "  -V, --version            print the version\n"
	      "\n",
	      f);
	cli_exit_table_print(f, CLI_PROG_PAWL);
	fputs("\nURLs: https:// anywhere, http:// only to loopback, file:// for local media.\n",
	      f);
}

static const char net_options[] =
	"Repository options: --metadata-url URL (repeat for mirrors), --ca-file FILE,\n"
	"--pin sha256//BASE64, --max-bytes ROLE=BYTES, --max-delegations N,\n"
	"--connect-timeout SEC, --low-speed-limit BPS, --low-speed-time SEC,\n"
	"--timeout SEC, --min-rate BPS, --deadline-base SEC (see 'pawl --help').\n";

static const char protocol_exit[] =
	"Exit status: 0 on success, 1 on any failure, usage errors included (the\n"
	"client-under-test protocol; docs/exit-codes.md).\n";

static const char agent_exit[] =
	"Exit status: see docs/exit-codes.md; usage errors exit 64.\n";

static void command_help(const char *name)
{
	if (strcmp(name, "init") == 0) {
		fputs("usage: pawl --metadata-dir DIR init ROOT.json [--force-replace-trusted-root]"
		      " [--json]\n"
		      "       pawl --config FILE init [ROOT.json] [--force-replace-trusted-root]"
		      " [--json]\n"
		      "\n"
		      "Trust ROOT.json as the initial root of trust; no request is made.\n"
		      "Client: copy it into DIR as root.json. Agent: seed STATE_DIR/metadata\n"
		      "from ROOT.json, or from trusted_root in FILE.\n"
		      "A byte-identical root already there is success with nothing written.\n"
		      "A different one is kept, and init fails (client: exit 1; agent: exit 5),\n"
		      "unless --force-replace-trusted-root, which replaces it: trust in what\n"
		      "it holds is lost (rotated-out keys included); warned and logged.\n"
		      "\n",
		      stdout);
		fputs(protocol_exit, stdout);
		fputs("Agent: 0 done, 1 failure, 5 refused, 64 usage error.\n", stdout);
	} else if (strcmp(name, "refresh") == 0) {
		fputs("usage: pawl --metadata-dir DIR --metadata-url URL [OPTIONS] refresh [--json]\n"
		      "\n"
		      "Update the trusted metadata in DIR from the repository (TUF 5.3-5.6): root\n"
		      "rotations, timestamp, snapshot and top-level targets. DIR must hold a\n"
		      "trusted root: run 'pawl --metadata-dir DIR init ROOT.json' first.\n"
		      "\n",
		      stdout);
		fputs(net_options, stdout);
		fputs(protocol_exit, stdout);
	} else if (strcmp(name, "download") == 0) {
		fputs("usage: pawl --metadata-dir DIR --metadata-url URL --target-base-url URL\n"
		      "            --target-dir DIR --target-name PATH [--target-name PATH ...]\n"
		      "            [OPTIONS] download [--json]\n"
		      "\n"
		      "Refresh, then find each --target-name in the trusted metadata (through\n"
		      "delegations), download it into --target-dir and verify its length and\n"
		      "hashes before it gets its name there. A target already there with the\n"
		      "signed length and hashes is not downloaded again. Targets are processed\n"
		      "in order; the first failure stops the command. A progress bar shows on a\n"
		      "terminal (not with --json or -q).\n"
		      "\n",
		      stdout);
		fputs(net_options, stdout);
		fputs(protocol_exit, stdout);
	} else if (strcmp(name, "update") == 0) {
		fputs("usage: pawl --config FILE update [--json] [-v|-q]\n"
		      "\n"
		      "Refresh the trusted metadata, pick the newest release of the app that is\n"
		      "not marked bad, download and verify it (a progress bar on a terminal),\n"
		      "install it atomically, run the health check and roll back if it fails.\n"
		      "Never moves to an older or equal version unless the publisher signed it as\n"
		      "a recovery release. Releases marked bad are named as skipped; 'pawl\n"
		      "--config FILE clear-bad VERSION' lets one be tried again.\n"
		      "\n"
		      "Slot mode (slot.a, slot.b, bootloader; --booted-slot a|b overrides\n"
		      "pawl.slot= on the kernel command line): the newest signed image is\n"
		      "streamed into the slot that does not run, every piece verified before it\n"
		      "is written, and the bootloader tries that slot at the next boot; then\n"
		      "reboot and run 'pawl --config FILE confirm'. The booted slot is never\n"
		      "written; any failure leaves the old slot booting.\n"
		      "\n",
		      stdout);
		cli_exit_table_print(stdout, CLI_PROG_PAWL);
	} else if (strcmp(name, "confirm") == 0) {
		fputs("usage: pawl --config FILE [--booted-slot a|b] confirm [--json] [-v|-q]\n"
		      "\n"
		      "Slot mode, after booting a new image: run the health check (health_check\n"
		      "in FILE). It passes: the booted slot is marked good (exit 0). It fails: the\n"
		      "booted slot is marked bad, its version is never installed again, and the\n"
		      "operator must reboot into the other slot (exit 4). When the bootloader\n"
		      "already fell back from an unconfirmed slot, that version is marked bad\n"
		      "too. Run it from pawl-confirm.service after every boot.\n"
		      "\n",
		      stdout);
		cli_exit_table_print(stdout, CLI_PROG_PAWL);
	} else if (strcmp(name, "mark-good") == 0 || strcmp(name, "mark-bad") == 0) {
		fputs("usage: pawl --config FILE [--booted-slot a|b] mark-good [--json]\n"
		      "       pawl --config FILE [--booted-slot a|b] mark-bad [--json]\n"
		      "\n"
		      "Slot mode: mark the booted slot good (without a health check), or bad:\n"
		      "its version goes into the bad list and the bootloader boots the other\n"
		      "slot at the next boot; reboot then.\n"
		      "\n",
		      stdout);
		fputs(agent_exit, stdout);
	} else if (strcmp(name, "status") == 0) {
		fputs("usage: pawl --config FILE status [--json]\n"
		      "\n"
		      "The installed, previous and highest versions, the releases marked bad\n"
		      "(and how to clear the mark), and the time and outcome of the last check.\n"
		      "Slot mode: both slots, each with its version, good or bad, and whether it\n"
		      "is the bootloader's primary, the booted one, or pending confirmation\n"
		      "(--booted-slot a|b: the slot that runs now, instead of pawl.slot=).\n"
		      "Reads the state only: no lock, no network.\n"
		      "\n",
		      stdout);
		fputs(agent_exit, stdout);
	} else if (strcmp(name, "rollback") == 0) {
		fputs("usage: pawl --config FILE rollback [--json] [-v|-q]\n"
		      "\n"
		      "Go back to the previous release, only if the trusted metadata signs it as a\n"
		      "recovery release (refreshed first). The health check runs as for update.\n"
		      "\n",
		      stdout);
		cli_exit_table_print(stdout, CLI_PROG_PAWL);
	} else if (strcmp(name, "log") == 0) {
		fputs("usage: pawl --config FILE log [--since TIME] [--json]\n"
		      "       pawl --config FILE log verify [--json]\n"
		      "\n"
		      "Show the agent's audit log (STATE_DIR/audit.log), one entry per line; with\n"
		      "--json the entries themselves (JSON Lines). --since: YYYY-MM-DDTHH:MM:SSZ,\n"
		      "YYYY-MM-DD, or a time back from now (90s, 30m, 24h, 7d, 2w).\n"
		      "'log verify' checks the hash chain, the head and the agent's anchor:\n"
		      "exit 0 intact, 2 altered, 6 intact but recording incidents, 1 unreadable.\n",
		      stdout);
	} else if (strcmp(name, "clear-bad") == 0) {
		fputs("usage: pawl --config FILE clear-bad VERSION [--json]\n"
		      "\n"
		      "A release that failed its health check is marked bad and never installed\n"
		      "again. clear-bad removes the mark from VERSION (as 'status' shows it), so\n"
		      "that the next update may install it again, with every check. Recorded in\n"
		      "the audit log (install.clear_bad). Exit 1 when VERSION is not marked bad.\n"
		      "\n",
		      stdout);
		fputs(agent_exit, stdout);
	} else {
		fputs("usage: pawl help [COMMAND]\n\nDescribe pawl, or one of its commands.\n",
		      stdout);
	}
}

/* ---------------- usage errors ---------------- */

static bool is_protocol_cmd(const char *cmd)
{
	return cmd && (strcmp(cmd, "init") == 0 || strcmp(cmd, "refresh") == 0 ||
		       strcmp(cmd, "download") == 0);
}

/* The exit code of a usage error: the protocol's 1 for the client
 * commands, EX_USAGE otherwise. */
static int usage_code(const struct cli *c)
{
	return !c->config && is_protocol_cmd(c->cmd) ? 1 : AGENT_EXIT_USAGE;
}

static int usage_fail(const struct cli *c, const char *fmt, ...) PAWL_FORMAT(2, 3);
static int usage_fail(const struct cli *c, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	int code = usage_code(c);
	bool known = c->cmd && find_command(c->cmd) && strcmp(c->cmd, "help") != 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->json) {
		fputs("{\"ok\":false,\"error\":\"usage error\",\"message\":", stdout);
		cli_json_string(stdout, msg);
		printf(",\"exit\":%d}\n", code);
	}
	fprintf(stderr, "pawl: %s\nTry 'pawl %s%s--help'.\n", msg, known ? c->cmd : "",
		known ? " " : "");
	return code;
}

/* Keep the first usage error for after the parse (when the command, and
 * so the exit code, is known). */
static void usage_later(struct cli *c, const char *fmt, ...) PAWL_FORMAT(2, 3);
static void usage_later(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	if (c->usage_err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->usage_err, sizeof(c->usage_err), fmt, ap);
	va_end(ap);
}

/* ---------------- numbers ---------------- */

/* Numbers and durations follow the one rule of both programs
 * (common/parse.h): digits only, range-checked; a duration may end in s,
 * m, h or d. A bad one is a usage error that quotes it. */

/* Seconds, "30" or "30s", "5m", "1h": from 1 s to a week. */
static long parse_seconds(struct cli *c, const char *opt, const char *arg)
{
	int64_t v;

	if (cli_parse_duration(opt, arg, 1, 7 * 86400, &v) < 0) {
		usage_later(c, "%s", pawl_error_last()->message);
		return 0;
	}
	return (long)v;
}

/* Bytes per second (--min-rate, --low-speed-limit): 1 B/s to 1 GiB/s. */
static long parse_rate(struct cli *c, const char *opt, const char *arg)
{
	uint64_t v;

	if (cli_parse_u64(arg, 1, (uint64_t)1 << 30, &v) < 0) {
		usage_later(c, "%s takes bytes per second: %s", opt, pawl_error_last()->message);
		return 0;
	}
	return (long)v;
}

static uint32_t parse_max_delegations(struct cli *c, const char *arg)
{
	uint64_t v;

	if (cli_parse_u64(arg, 1, 100000, &v) < 0) {
		usage_later(c, "--max-delegations: %s", pawl_error_last()->message);
		return 0;
	}
	return (uint32_t)v;
}

static void parse_max_bytes(struct cli *c, const char *arg)
{
	static const char *const roles[4] = { "root", "timestamp", "snapshot", "targets" };
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq) {
		usage_later(c, "--max-bytes takes ROLE=BYTES, e.g. --max-bytes snapshot=4000000");
		return;
	}
	if (cli_parse_u64(eq + 1, 1, (uint64_t)1 << 40, &v) < 0) {
		usage_later(c, "--max-bytes %.*s: %s", (int)(eq - arg), arg,
			    pawl_error_last()->message);
		return;
	}
	for (int i = 0; i < 4; i++) {
		if (strlen(roles[i]) == (size_t)(eq - arg) && strncmp(arg, roles[i], eq - arg) == 0) {
			c->max_bytes[i] = v;
			return;
		}
	}
	usage_later(c, "--max-bytes: ROLE is root, timestamp, snapshot or targets");
}

/* ---------------- the client commands ---------------- */

static void on_event(const pawl_event *ev, void *ctx)
{
	const struct cli *c = ctx;

	if (c->progress)
		progress_event(ev);
	switch (ev->kind) {
	case PAWL_EVENT_FETCH:
		if (c->verbose > 0)
			fprintf(stderr, "pawl: fetch %s\n", ev->url);
		break;
	case PAWL_EVENT_VERIFIED:
		if (c->verbose > 0)
			fprintf(stderr, "pawl: trusted %s v%" PRIu64 "\n", ev->role, ev->version);
		break;
	case PAWL_EVENT_ROOT_ROTATED:
		if (c->verbose >= 0 && !c->json)
			fprintf(stderr, "pawl: root rotated v%" PRIu64 " -> v%" PRIu64 "\n",
				ev->old_version, ev->version);
		break;
	case PAWL_EVENT_REJECTED:
		if (c->verbose > 0 && ev->url)
			fprintf(stderr, "pawl: rejected %s: %s\n", ev->url, ev->message);
		break;
	case PAWL_EVENT_PROGRESS:
	case PAWL_EVENT_DOWNLOADED:
	case PAWL_EVENT_CACHED:
		break;
	}
}

/* What to do next about the failure of a client command, if anything is
 * known: no trusted root in DIR yet, or what hint_for() says. */
static const char *client_hint(const struct cli *c, int code, const char *msg, char *buf,
			       size_t n)
{
	char path[4200];
	struct stat st;

	if (c->metadata_dir && strcmp(c->cmd, "init") != 0 &&
	    (size_t)snprintf(path, sizeof(path), "%s/root.json", c->metadata_dir) < sizeof(path) &&
	    lstat(path, &st) != 0 && errno == ENOENT) {
		snprintf(buf, n, "%s holds no trusted root: run 'pawl --metadata-dir %s init "
			 "ROOT.json' first", c->metadata_dir, c->metadata_dir);
		return buf;
	}
	return hint_for(code, msg, buf, n);
}

/* The failure form (--json: with the targets done so far, for download)
 * and the message on stderr; the error is pawl_error_last(). */
static void report_failure(const struct cli *c, const char *what,
			   void (*json_more)(const void *), const void *ctx)
{
	const pawl_error *e = pawl_error_last();
	int code = e->code;
	char msg[1024], hint[768];
	const char *h;

	snprintf(msg, sizeof(msg), "%s", e->message[0] ? e->message : "(no detail)");
	h = client_hint(c, code, msg, hint, sizeof(hint));
	progress_clear();
	if (c->json) {
		printf("{\"ok\":false,\"error\":\"%s\",\"code\":%d,\"message\":",
		       pawl_strerror(code), code);
		cli_json_string(stdout, msg);
		if (h) {
			fputs(",\"hint\":", stdout);
			cli_json_string(stdout, h);
		}
		if (json_more)
			json_more(ctx);
		fputs(",\"exit\":1}\n", stdout);
	}
	fprintf(stderr, "pawl: %s failed: %s: %s\n", what, pawl_strerror(code), msg);
	if (h)
		fprintf(stderr, "pawl: hint: %s\n", h);
}

static void report_error(const struct cli *c, const char *what)
{
	report_failure(c, what, NULL, NULL);
}

/* Read a root file given on the command line (at most twice the largest
 * root accepted, so that "too large" is the library's message). */
static int read_root_file(const struct cli *c, const char *path, char **ret, size_t *ret_len)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	int fd;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? errno : EINVAL;

		if (fd >= 0)
			close(fd);
		return pawl_error_set_errno(e == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, e,
					    "cannot read %s", path);
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > PAWL_DEFAULT_MAX_ROOT * 2) {
				close(fd);
				free(buf);
				return pawl_error_set(PAWL_E_LIMIT, "%s is too large", path);
			}
			nb = realloc(buf, cap);
			if (!nb) {
				close(fd);
				free(buf);
				return pawl_error_set(PAWL_E_NOMEM, "out of memory");
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			free(buf);
			return pawl_error_set_errno(PAWL_E_IO, e, "reading %s", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	(void)c;
	*ret = buf;
	*ret_len = len;
	return 0;
}

/*
 * init: the client-under-test protocol's "copy the trusted root" (exit 0
 * or 1, no request), which never replaces a different trusted root
 * silently. --force-replace-trusted-root does, loudly: this command has no
 * audit log of its own, so the replacement is a warning on stderr and a
 * syslog entry (authpriv.warning) naming both roots.
 */
static int cmd_init(struct cli *c)
{
	pawl_root_info info;
	const char *file;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (c->nargs != 1)
		return usage_fail(c, "init takes one argument: the trusted root.json");
	file = c->args[0];
	if (read_root_file(c, file, &buf, &len) < 0) {
		report_error(c, "init");
		return 1;
	}
	r = pawl_metadata_dir_install_root(c->metadata_dir, buf, len,
					   c->force_replace_root ? PAWL_ROOT_REPLACE : 0, &info);
	free(buf);
	if (r < 0) {
		report_error(c, "init");
		if (r == PAWL_E_POLICY)
			fprintf(stderr,
				"pawl: %s/root.json is kept. To replace it with %s on purpose (trust "
				"in the root there is lost, rotated-out keys included), run:\n"
				"pawl: pawl --metadata-dir %s --force-replace-trusted-root init %s\n",
				c->metadata_dir, file, c->metadata_dir, file);
		return 1;
	}
	if (info.had_root && !info.identical) {
		fprintf(stderr,
			"pawl: WARNING: replaced the trusted root %s/root.json (version %" PRIu64
			", sha256 %s) with %s (version %" PRIu64 ", sha256 %s), as "
			"--force-replace-trusted-root asked\n",
			c->metadata_dir, info.old_version, info.old_sha256, file, info.new_version,
			info.new_sha256);
		openlog("pawl", LOG_PID, LOG_AUTHPRIV);
		syslog(LOG_WARNING,
		       "trust.replaced: %s/root.json version %" PRIu64 " sha256 %s replaced by %s "
		       "version %" PRIu64 " sha256 %s (--force-replace-trusted-root, uid %u)",
		       c->metadata_dir, info.old_version, info.old_sha256, file, info.new_version,
		       info.new_sha256, (unsigned)getuid());
		closelog();
	}
	if (c->json)
		printf("{\"ok\":true,\"changed\":%s,\"version\":%" PRIu64 "}\n",
		       info.identical ? "false" : "true", info.new_version);
	else if (c->verbose >= 0 && info.identical)
		fprintf(stderr, "pawl: %s already trusts %s (root version %" PRIu64
			"); nothing changed\n", c->metadata_dir, file, info.new_version);
	else if (c->verbose >= 0 && !info.had_root)
		fprintf(stderr, "pawl: trusting %s in %s\n", file, c->metadata_dir);
	return 0;
}

static int make_updater(struct cli *c, pawl_updater **u)
{
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;

	o.metadata_dir = c->metadata_dir;
	o.metadata_urls = c->metadata_urls;
	o.n_metadata_urls = c->n_metadata_urls;
	o.target_urls = c->target_urls;
	o.n_target_urls = c->n_target_urls;
	o.ca_file = c->ca_file;
	o.pin = c->pin;
	o.connect_timeout_s = c->connect_timeout;
	o.low_speed_time_s = c->low_speed_time;
	o.low_speed_bytes = c->low_speed_limit;
	o.total_timeout_s = c->timeout;
	o.min_rate_bytes = c->min_rate;
	o.deadline_base_s = c->deadline_base;
	memcpy(o.max_bytes, c->max_bytes, sizeof(o.max_bytes));
	o.max_delegations = c->max_delegations;
	o.on_event = on_event;
	o.event_ctx = c;
	return pawl_updater_new(u, &o);
}

static void print_versions(pawl_updater *u)
{
	printf("{\"ok\":true,\"root\":%" PRIu64 ",\"timestamp\":%" PRIu64 ",\"snapshot\":%" PRIu64
	       ",\"targets\":%" PRIu64 "}\n",
	       pawl_updater_role_version(u, "root"), pawl_updater_role_version(u, "timestamp"),
	       pawl_updater_role_version(u, "snapshot"), pawl_updater_role_version(u, "targets"));
}

static int cmd_refresh(struct cli *c)
{
	pawl_updater *u = NULL;

	if (c->nargs)
		return usage_fail(c, "refresh takes no argument ('%.64s')", c->args[0]);
	if (c->n_metadata_urls == 0)
		return usage_fail(c, "refresh needs --metadata-url URL");
	if (make_updater(c, &u) < 0 || pawl_updater_refresh(u) < 0) {
		report_error(c, "refresh");
		pawl_updater_free(u);
		return 1;
	}
	if (c->json)
		print_versions(u);
	else if (c->verbose >= 0)
		fprintf(stderr, "pawl: metadata is current: root v%" PRIu64 ", timestamp v%" PRIu64
			", snapshot v%" PRIu64 ", targets v%" PRIu64 "\n",
			pawl_updater_role_version(u, "root"),
			pawl_updater_role_version(u, "timestamp"),
			pawl_updater_role_version(u, "snapshot"),
			pawl_updater_role_version(u, "targets"));
	pawl_updater_free(u);
	return 0;
}

/* What download has done so far. */
struct done_list {
	const struct cli *c;
	char **files;
	uint64_t *lengths;
	bool *cached;
	size_t n;     /* targets done */
};

/* ,"targets":[...] */
static void json_targets(const void *ctx)
{
	const struct done_list *d = ctx;

	fputs(",\"targets\":[", stdout);
	for (size_t i = 0; i < d->n; i++) {
		printf("%s{\"path\":", i ? "," : "");
		cli_json_string(stdout, d->c->target_names[i]);
		printf(",\"file\":");
		cli_json_string(stdout, d->files[i]);
		printf(",\"length\":%" PRIu64 ",\"cached\":%s}", d->lengths[i],
		       d->cached[i] ? "true" : "false");
	}
	fputc(']', stdout);
}

/* The failure of one target: the failure form, naming it. */
static void json_target_failure(const void *ctx)
{
	const struct done_list *d = ctx;

	fputs(",\"target\":", stdout);
	cli_json_string(stdout, d->c->target_names[d->n]);
	json_targets(ctx);
}

/*
 * --json: one object, {"ok": true, "targets": [...]}, or on a failure the
 * failure form with the targets done so far in "targets" (never two
 * values on stdout).
 */
static int cmd_download(struct cli *c)
{
	pawl_updater *u = NULL;
	struct done_list d = { .c = c };
	int rc = 0;

	if (c->nargs)
		return usage_fail(c, "download takes no argument ('%.64s'); name targets with "
				  "--target-name PATH", c->args[0]);
	if (c->n_metadata_urls == 0)
		return usage_fail(c, "download needs --metadata-url URL");
	if (c->n_target_names == 0)
		return usage_fail(c, "download needs at least one --target-name");
	if (!c->target_dir)
		return usage_fail(c, "download needs --target-dir");
	if (c->n_target_urls == 0)
		return usage_fail(c, "download needs --target-base-url");
	d.files = calloc(c->n_target_names, sizeof(*d.files));
	d.lengths = calloc(c->n_target_names, sizeof(*d.lengths));
	d.cached = calloc(c->n_target_names, sizeof(*d.cached));
	if (!d.files || !d.lengths || !d.cached) {
		pawl_error_set(PAWL_E_NOMEM, "out of memory");
		report_failure(c, "download", json_targets, &d);
		rc = 1;
		goto out;
	}
	if (make_updater(c, &u) < 0 || pawl_updater_refresh(u) < 0) {
		report_failure(c, "refresh", json_targets, &d);
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < c->n_target_names; i++) {
		pawl_target *t = NULL;
		char *path = NULL;

		if (pawl_updater_get_target(&t, u, c->target_names[i]) < 0) {
			rc = 1;
		} else if (pawl_updater_find_cached(u, t, c->target_dir, &path) == 0) {
			d.cached[i] = true;
		} else if (pawl_updater_download(u, t, c->target_dir, &path) < 0) {
			rc = 1;
		}
		if (rc) {
			report_failure(c, c->target_names[i], json_target_failure, &d);
			pawl_target_free(t);
			goto out;
		}
		d.files[i] = path;
		d.lengths[i] = pawl_target_length(t);
		d.n = i + 1;
		pawl_target_free(t);
		if (!c->json && c->verbose >= 0)
			fprintf(stderr, "pawl: %s %s -> %s\n", d.cached[i] ? "have" : "downloaded",
				c->target_names[i], path);
	}
	if (c->json) {
		fputs("{\"ok\":true", stdout);
		json_targets(&d);
		fputs("}\n", stdout);
	}
out:
	for (size_t i = 0; d.files && i < c->n_target_names; i++)
		free(d.files[i]);
	free(d.files);
	free(d.lengths);
	free(d.cached);
	pawl_updater_free(u);
	return rc;
}

/* ---------------- the agent ---------------- */

static int agent_main(struct cli *c)
{
	agent_config cfg;
	char err[1024];
	const char *cmd = c->cmd;
	int64_t since = PAWL_AUDIT_SINCE_ALL;
	int rc;

	if (c->metadata_dir)
		return usage_fail(c, "--config FILE (the agent) and --metadata-dir DIR (the "
				  "client) do not go together");
	if (c->client_opt)
		return usage_fail(c, "%s is an option of the client commands (with "
				  "--metadata-dir); the agent takes its settings from %s "
				  "(pawl.conf(5))", c->client_opt, c->config);
	if (c->force_replace_root && strcmp(cmd, "init") != 0)
		return usage_fail(c, "--force-replace-trusted-root goes with init only");
	if (c->since && (strcmp(cmd, "log") != 0 || c->nargs))
		return usage_fail(c, "--since goes with log only");
	{
		/* arguments: init [ROOT.json], log [verify], clear-bad VERSION */
		size_t max = strcmp(cmd, "init") == 0 || strcmp(cmd, "log") == 0 ||
				     strcmp(cmd, "clear-bad") == 0 ? 1 : 0;

		if (c->nargs > max)
			return usage_fail(c, "unexpected argument '%.64s' for %s", c->args[max],
					  cmd);
		if (strcmp(cmd, "clear-bad") == 0 && c->nargs == 0)
			return usage_fail(c, "clear-bad takes the VERSION to clear (as 'pawl "
					  "--config %s status' lists it)", c->config);
		if (strcmp(cmd, "log") == 0 && c->nargs && strcmp(c->args[0], "verify") != 0)
			return usage_fail(c, "log takes no argument but 'verify' (not '%.64s')",
					  c->args[0]);
	}
	if (c->since && pawl_audit_since_parse(c->since, &since) < 0)
		return usage_fail(c, "%s", pawl_error_last()->message);
	if (c->booted_slot && strcmp(c->booted_slot, "a") != 0 && strcmp(c->booted_slot, "b") != 0)
		return usage_fail(c, "--booted-slot takes a or b (not '%.16s')", c->booted_slot);
	if (config_load(&cfg, c->config, err, sizeof(err)) < 0) {
		if (c->json) {
			printf("{\"ok\":false,\"step\":\"config\",\"error\":\"%s\",\"message\":",
			       pawl_strerror(PAWL_E_INVALID));
			cli_json_string(stdout, err);
			printf(",\"exit\":%d}\n", AGENT_EXIT_ERROR);
		}
		fprintf(stderr, "pawl: %s\n", err);
		return AGENT_EXIT_ERROR;
	}
	cfg.booted_slot = c->booted_slot;
	if (strcmp(cmd, "init") == 0)
		rc = agent_init(&cfg, c->nargs ? c->args[0] : NULL, c->force_replace_root, c->json,
				c->verbose);
	else if (strcmp(cmd, "update") == 0)
		rc = agent_update(&cfg, c->json, c->verbose);
	else if (strcmp(cmd, "status") == 0)
		rc = agent_status(&cfg, c->json);
	else if (strcmp(cmd, "rollback") == 0)
		rc = agent_rollback(&cfg, c->json, c->verbose);
	else if (strcmp(cmd, "clear-bad") == 0)
		rc = agent_clear_bad(&cfg, c->args[0], c->json, c->verbose);
	else if (strcmp(cmd, "confirm") == 0)
		rc = agent_confirm(&cfg, c->json, c->verbose);
	else if (strcmp(cmd, "mark-good") == 0 || strcmp(cmd, "mark-bad") == 0)
		rc = agent_mark(&cfg, strcmp(cmd, "mark-good") == 0, c->json, c->verbose);
	else if (c->nargs)
		rc = agent_log_verify(&cfg, c->json);
	else
		rc = agent_log_show(&cfg, c->json, since);
	config_free(&cfg);
	return rc;
}

/* ---------------- the command line ---------------- */

enum { O_MDIR = 256, O_MURL, O_TNAME, O_TURL, O_TDIR, O_MAXB, O_MAXD, O_CA, O_PIN, O_JSON,
       O_CTO, O_LST, O_LSL, O_TO, O_CONFIG, O_SINCE, O_MINRATE, O_DLBASE, O_FORCEROOT,
       O_BOOTED };

static const struct option opts[] = {
	{ "metadata-dir", required_argument, NULL, O_MDIR },
	{ "metadata-url", required_argument, NULL, O_MURL },
	{ "target-name", required_argument, NULL, O_TNAME },
	{ "target-base-url", required_argument, NULL, O_TURL },
	{ "target-dir", required_argument, NULL, O_TDIR },
	{ "max-bytes", required_argument, NULL, O_MAXB },
	{ "max-delegations", required_argument, NULL, O_MAXD },
	{ "ca-file", required_argument, NULL, O_CA },
	{ "pin", required_argument, NULL, O_PIN },
	{ "json", no_argument, NULL, O_JSON },
	{ "connect-timeout", required_argument, NULL, O_CTO },
	{ "low-speed-time", required_argument, NULL, O_LST },
	{ "low-speed-limit", required_argument, NULL, O_LSL },
	{ "timeout", required_argument, NULL, O_TO },
	{ "min-rate", required_argument, NULL, O_MINRATE },
	{ "deadline-base", required_argument, NULL, O_DLBASE },
	{ "force-replace-trusted-root", no_argument, NULL, O_FORCEROOT },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "since", required_argument, NULL, O_SINCE },
	{ "booted-slot", required_argument, NULL, O_BOOTED },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *long_name(int val)
{
	for (const struct option *o = opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/* What getopt stopped at (arg: the argument it was looking at), as one
 * line naming the option. */
static void bad_option(struct cli *c, int ch, const char *arg)
{
	bool is_long = arg && arg[0] == '-' && arg[1] == '-';
	const char *eq = is_long ? strchr(arg, '=') : NULL;
	int len = eq ? (int)(eq - arg) : 64;

	if (ch == ':') {
		if (is_long)
			usage_later(c, "option '%.*s' needs an argument", len, arg);
		else
			usage_later(c, "option '-%c' needs an argument", optopt);
	} else if (is_long && optopt) {
		usage_later(c, "option '--%s' takes no argument", long_name(optopt));
	} else if (is_long) {
		usage_later(c, "unknown option '%.*s'", len, arg);
	} else {
		usage_later(c, "unknown option '-%c'", optopt);
	}
}

static void note_client_opt(struct cli *c, int val)
{
	static char buf[80];

	if (!c->client_opt) {
		snprintf(buf, sizeof(buf), "--%s", long_name(val));
		c->client_opt = buf;
	}
}

static void take_arg(struct cli *c, const char *arg)
{
	if (!c->cmd)
		c->cmd = arg;
	else if (c->nargs < MAX_ARGS)
		c->args[c->nargs++] = arg;
	else
		usage_later(c, "too many arguments ('%.64s')", arg);
}

static void parse_args(struct cli *c, int argc, char **argv)
{
	int ch;

	/* "-": every argument in order (options before or after the command,
	 * whatever POSIXLY_CORRECT says); ":": no getopt messages of its own. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-:vqhV", opts, NULL)) != -1) {
		switch (ch) {
		case 1:
			take_arg(c, optarg);
			break;
		case O_MDIR:
			c->metadata_dir = optarg;
			break;
		case O_MURL:
			note_client_opt(c, ch);
			if (c->n_metadata_urls == MAX_LIST)
				usage_later(c, "too many --metadata-url (at most %d)", MAX_LIST);
			else
				c->metadata_urls[c->n_metadata_urls++] = optarg;
			break;
		case O_TURL:
			note_client_opt(c, ch);
			if (c->n_target_urls == MAX_LIST)
				usage_later(c, "too many --target-base-url (at most %d)", MAX_LIST);
			else
				c->target_urls[c->n_target_urls++] = optarg;
			break;
		case O_TNAME:
			note_client_opt(c, ch);
			if (c->n_target_names == sizeof(c->target_names) / sizeof(c->target_names[0]))
				usage_later(c, "too many --target-name");
			else
				c->target_names[c->n_target_names++] = optarg;
			break;
		case O_TDIR:
			note_client_opt(c, ch);
			c->target_dir = optarg;
			break;
		case O_MAXB:
			note_client_opt(c, ch);
			parse_max_bytes(c, optarg);
			break;
		case O_MAXD:
			note_client_opt(c, ch);
			c->max_delegations = parse_max_delegations(c, optarg);
			break;
		case O_CA:
			note_client_opt(c, ch);
			c->ca_file = optarg;
			break;
		case O_PIN:
			note_client_opt(c, ch);
			c->pin = optarg;
			break;
		case O_JSON:
			c->json = true;
			break;
		case O_CTO:
			note_client_opt(c, ch);
			c->connect_timeout = parse_seconds(c, "--connect-timeout", optarg);
			break;
		case O_LST:
			note_client_opt(c, ch);
			c->low_speed_time = parse_seconds(c, "--low-speed-time", optarg);
			break;
		case O_LSL:
			note_client_opt(c, ch);
			c->low_speed_limit = parse_rate(c, "--low-speed-limit", optarg);
			break;
		case O_TO:
			note_client_opt(c, ch);
			c->timeout = parse_seconds(c, "--timeout", optarg);
			break;
		case O_MINRATE:
			note_client_opt(c, ch);
			c->min_rate = parse_rate(c, "--min-rate", optarg);
			break;
		case O_DLBASE:
			note_client_opt(c, ch);
			c->deadline_base = parse_seconds(c, "--deadline-base", optarg);
			break;
		case O_FORCEROOT:
			c->force_replace_root = true;
			break;
		case O_CONFIG:
			c->config = optarg;
			break;
		case O_SINCE:
			c->since = optarg;
			break;
		case O_BOOTED:
			c->booted_slot = optarg;
			break;
		case 'v':
			c->verbose++;
			break;
		case 'q':
			c->verbose = -1;
			break;
		case 'h':
			c->help = true;
			break;
		case 'V':
			c->version = true;
			break;
		default:
			bad_option(c, ch, argv[optind - 1]);
			break;
		}
	}
	/* after "--": arguments only */
	for (; optind < argc; optind++)
		take_arg(c, argv[optind]);
}

static int unknown_command(struct cli *c, const char *word)
{
	const char *names[N_COMMANDS];
	const char *near;

	for (size_t i = 0; i < N_COMMANDS; i++)
		names[i] = commands[i].name;
	near = cli_nearest_word(word, names, N_COMMANDS);
	c->cmd = NULL; /* no "Try 'pawl WORD --help'" */
	if (near)
		return usage_fail(c, "unknown command '%.64s' (did you mean '%s'?)", word, near);
	return usage_fail(c, "unknown command '%.64s'; the commands are init, refresh, "
			  "download, update, status, rollback, log, clear-bad, confirm, mark-good, "
			  "mark-bad and help", word);
}

int main(int argc, char **argv)
{
	struct cli c;
	const struct command *cmd;

	/* An image update's large buffers (seed tables, sums, frames, read-back
	 * blocks) come and go in phases. A fixed mmap threshold gives each back
	 * to the kernel when it is freed; glibc's sliding threshold would keep
	 * the later ones in the heap, in the peak RSS (measured: -0.4 to
	 * -0.5 MiB on bench/delta_pairs.sh). */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	memset(&c, 0, sizeof(c));
	parse_args(&c, argc, argv);
	if (c.version && !c.usage_err[0]) {
		printf("pawl %s (TUF %s)\n", pawl_version(), PAWL_SPEC_VERSION);
		return 0;
	}
	if (c.cmd && strcmp(c.cmd, "help") == 0) {
		if (c.nargs == 0) {
			usage(stdout);
			return 0;
		}
		c.cmd = c.args[0];
		if (c.nargs > 1)
			return usage_fail(&c, "help takes one COMMAND");
		if (!find_command(c.cmd))
			return unknown_command(&c, c.cmd);
		command_help(c.cmd);
		return 0;
	}
	if (c.cmd && !find_command(c.cmd))
		return unknown_command(&c, c.cmd);
	if (c.usage_err[0])
		return usage_fail(&c, "%s", c.usage_err);
	if (!c.cmd) {
		if (c.help) {
			usage(stdout);
			return 0;
		}
		return usage_fail(&c, "no command given");
	}
	if (c.help) {
		command_help(c.cmd);
		return 0;
	}
	cmd = find_command(c.cmd);
	if (c.config) {
		if (!(cmd->modes & M_AGENT))
			return usage_fail(&c, "%s is a client command: it takes --metadata-dir DIR "
					  "(not --config FILE)", c.cmd);
		return agent_main(&c);
	}
	if (!c.metadata_dir) {
		if (cmd->modes == M_AGENT)
			return usage_fail(&c, "%s is an agent command: it needs --config FILE, the "
					  "agent's configuration (pawl.conf(5)), e.g. pawl --config "
					  "/etc/pawl/pawl.conf %s", c.cmd, c.cmd);
		if (cmd->modes & M_AGENT)
			return usage_fail(&c, "init needs --metadata-dir DIR (the client: pawl "
					  "--metadata-dir DIR init ROOT.json) or --config FILE (the "
					  "agent)");
		return usage_fail(&c, "%s needs --metadata-dir DIR, the trusted metadata "
				  "directory; 'pawl --metadata-dir DIR init ROOT.json' comes first",
				  c.cmd);
	}
	if (!(cmd->modes & M_CLIENT))
		return usage_fail(&c, "%s is an agent command: it needs --config FILE, the "
				  "agent's configuration (pawl.conf(5)), not --metadata-dir", c.cmd);
	if (c.since)
		return usage_fail(&c, "--since goes with log (an agent command, with --config "
				  "FILE)");
	if (c.booted_slot)
		return usage_fail(&c, "--booted-slot goes with the agent in slot mode (with "
				  "--config FILE)");
	c.progress = progress_wanted(c.json, c.verbose);
	if (strcmp(c.cmd, "init") == 0)
		return cmd_init(&c);
	if (c.force_replace_root)
		return usage_fail(&c, "--force-replace-trusted-root goes with init only");
	if (strcmp(c.cmd, "refresh") == 0)
		return cmd_refresh(&c);
	return cmd_download(&c);
}

/*
 * pawl - the device side: a TUF client speaking the client-under-test
 * protocol (init, refresh, download) and, later, the update agent.
 *
 * Exit codes for init/refresh/download are those of the protocol: 0 on
 * success, 1 on any failure. Errors go to stderr as one line that names
 * what failed (role, version, key id, file or URL).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "client/client.h"
#include "config.h"
#include "pawl/common.h"
#include "pawl/updater.h"

#define MAX_LIST 64

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
	int verbose; /* -1 quiet, 0 normal, 1+ verbose */
	bool progress;
	bool force_replace_root;
};

static void usage(FILE *f)
{
	fputs("usage: pawl [OPTIONS] COMMAND [ARGS]\n"
	      "       pawl --config FILE init|update|status|rollback|log [verify] [--json]\n"
	      "\n"
	      "Client commands (with --metadata-dir):\n"
	      "  init ROOT.json   trust ROOT.json as the initial root (no network); a\n"
	      "                   different trusted root already there is kept (exit 1)\n"
	      "  refresh          update trusted metadata from the repository\n"
	      "  download         refresh, then fetch and verify each --target-name\n"
	      "\n"
	      "Agent commands (with --config FILE, see pawl.conf(5)):\n"
	      "  init [ROOT.json] seed the agent's trusted root (default: trusted_root)\n"
	      "  update           install the newest signed release of the app, health-\n"
	      "                   check it, roll back on failure\n"
	      "  status           installed, previous and highest versions, last check\n"
	      "  rollback         go back to the previous release, only if it is signed\n"
	      "                   as a recovery release\n"
	      "  log [--since T]  show the audit log;  log verify: check its hash chain\n"
	      "\n"
	      "Options:\n"
	      "  --metadata-dir DIR       trusted metadata directory (required)\n"
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
	      "  --force-replace-trusted-root\n"
	      "                           init: replace a different trusted root (trust\n"
	      "                           in what it holds is lost; logged, warned)\n"
	      "  --json                   machine-readable output on stdout\n"
	      "  -v, --verbose            say what is fetched and verified\n"
	      "  -q, --quiet              print errors only\n"
	      "  -h, --help               this help\n"
	      "  -V, --version            print the version\n"
	      "\n"
	      "  --config FILE            agent configuration\n"
	      "  --since TIME             log: entries from TIME (YYYY-MM-DDTHH:MM:SSZ)\n"
	      "\n"
	      "Exit status: client commands: 0 on success, 1 on any failure.\n"
	      "Agent: 0 updated or current, 1 error, 2 verification failure,\n"
	      "3 network failure, 4 health check failed (rolled back), 5 refused\n"
	      "(downgrade, bad release, rollback to a non-recovery release, init over\n"
	      "a different trusted root).\n"
	      "URLs: https:// anywhere, http:// only to loopback, file:// for local media.\n",
	      f);
}

static void __attribute__((noreturn)) die_usage(const char *msg)
{
	fprintf(stderr, "pawl: %s\nTry 'pawl --help'.\n", msg);
	exit(1);
}

static void report_error(const struct cli *c, const char *what)
{
	const pawl_error *e = pawl_error_last();

	if (c->json)
		printf("{\"ok\":false,\"error\":\"%s\",\"code\":%d}\n", pawl_strerror(e->code),
		       e->code);
	fprintf(stderr, "pawl: %s failed: %s: %s\n", what, pawl_strerror(e->code),
		e->message[0] ? e->message : "(no detail)");
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*ret = v;
	return 0;
}

/* A positive number of seconds (or bytes per second) up to a day's worth. */
static long parse_seconds(const char *opt, const char *arg)
{
	uint64_t v;
	char msg[128];

	if (parse_u64(arg, &v) < 0 || v == 0 || v > 86400 * 7) {
		snprintf(msg, sizeof(msg), "%s takes a positive whole number", opt);
		die_usage(msg);
	}
	return (long)v;
}

/* Bytes per second for --min-rate: 1 B/s to 1 GiB/s. */
static long parse_rate(const char *opt, const char *arg)
{
	uint64_t v;
	char msg[128];

	if (parse_u64(arg, &v) < 0 || v == 0 || v > (1u << 30)) {
		snprintf(msg, sizeof(msg), "%s takes bytes per second, from 1 to 1073741824", opt);
		die_usage(msg);
	}
	return (long)v;
}

static uint32_t parse_max_delegations(const char *arg)
{
	uint64_t v;

	if (parse_u64(arg, &v) < 0 || v == 0 || v > 100000)
		die_usage("--max-delegations takes a whole number from 1 to 100000");
	return (uint32_t)v;
}

static void parse_max_bytes(struct cli *c, const char *arg)
{
	static const char *const roles[4] = { "root", "timestamp", "snapshot", "targets" };
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq || parse_u64(eq + 1, &v) < 0 || v == 0)
		die_usage("--max-bytes takes ROLE=BYTES, e.g. --max-bytes snapshot=4000000");
	for (int i = 0; i < 4; i++) {
		if (strlen(roles[i]) == (size_t)(eq - arg) && strncmp(arg, roles[i], eq - arg) == 0) {
			c->max_bytes[i] = v;
			return;
		}
	}
	die_usage("--max-bytes: ROLE is root, timestamp, snapshot or targets");
}

/* The progress bar (only on a terminal): name, bar, percentage, bytes,
 * rate and time left, redrawn in place at most ten times a second. */
static bool progress_shown;

static void human_bytes(char *out, size_t n, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(const pawl_event *ev)
{
	static double start, last;
	static const char *target;
	double t = now_s(), rate, left;
	char done[32], total[32], speed[32], eta[32];
	char bar[21];
	unsigned pct = (unsigned)(ev->done * 100 / ev->total);

	if (target != ev->target || !progress_shown) {
		target = ev->target;
		start = t;
		last = 0;
	}
	if (t - last < 0.1 && ev->done < ev->total)
		return;
	last = t;
	rate = t > start ? (double)ev->done / (t - start) : 0;
	left = rate > 0 ? (double)(ev->total - ev->done) / rate : 0;
	for (unsigned i = 0; i < 20; i++)
		bar[i] = i < pct / 5 ? '#' : '-';
	bar[20] = '\0';
	human_bytes(done, sizeof(done), (double)ev->done);
	human_bytes(total, sizeof(total), (double)ev->total);
	human_bytes(speed, sizeof(speed), rate);
	if (rate > 0)
		snprintf(eta, sizeof(eta), "%um%02us left", (unsigned)left / 60,
			 (unsigned)left % 60);
	else
		snprintf(eta, sizeof(eta), "--");
	fprintf(stderr, "\r\033[K%-24.24s [%s] %3u%% %s/%s %s/s %s", ev->target, bar, pct, done,
		total, speed, eta);
	progress_shown = true;
}

static void on_event(const pawl_event *ev, void *ctx)
{
	const struct cli *c = ctx;

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
	case PAWL_EVENT_PROGRESS:
		if (c->progress && ev->total > 0)
			progress_draw(ev);
		break;
	case PAWL_EVENT_DOWNLOADED:
	case PAWL_EVENT_REJECTED:
		if (c->progress && progress_shown) {
			/* Clear the bar's line: what follows starts clean. */
			fputs("\r\033[K", stderr);
			progress_shown = false;
		}
		if (ev->kind == PAWL_EVENT_REJECTED && c->verbose > 0 && ev->url)
			fprintf(stderr, "pawl: rejected %s: %s\n", ev->url, ev->message);
		break;
	case PAWL_EVENT_CACHED:
		break;
	}
}

/* Read a root file given on the command line (at most twice the largest
 * root accepted, so that "too large" is the library's message). */
static int read_root_file(const char *path, char **ret, size_t *ret_len)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	int fd;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "pawl: init failed: cannot read %s: %s\n", path,
			strerror(errno ? errno : EINVAL));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > PAWL_DEFAULT_MAX_ROOT * 2) {
				fprintf(stderr, "pawl: init failed: %s is too large\n", path);
				close(fd);
				free(buf);
				return -1;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				close(fd);
				free(buf);
				return -1;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "pawl: init failed: reading %s: %s\n", path,
				strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
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
static int cmd_init(struct cli *c, int argc, char **argv)
{
	root_install_info info;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (argc != 1)
		die_usage("init takes one argument: the trusted root.json");
	if (read_root_file(argv[0], &buf, &len) < 0)
		return 1;
	r = metadata_dir_install_root(c->metadata_dir, buf, len, c->force_replace_root, &info);
	free(buf);
	if (r < 0) {
		report_error(c, "init");
		if (r == PAWL_E_POLICY)
			fprintf(stderr,
				"pawl: %s/root.json is kept. To replace it with %s on purpose (trust "
				"in the root there is lost, rotated-out keys included), run:\n"
				"pawl: pawl --metadata-dir %s --force-replace-trusted-root init %s\n",
				c->metadata_dir, argv[0], c->metadata_dir, argv[0]);
		return 1;
	}
	if (info.had_root && !info.identical) {
		fprintf(stderr,
			"pawl: WARNING: replaced the trusted root %s/root.json (version %" PRIu64
			", sha256 %s) with %s (version %" PRIu64 ", sha256 %s), as "
			"--force-replace-trusted-root asked\n",
			c->metadata_dir, info.old_version, info.old_sha256, argv[0], info.new_version,
			info.new_sha256);
		openlog("pawl", LOG_PID, LOG_AUTHPRIV);
		syslog(LOG_WARNING,
		       "trust.replaced: %s/root.json version %" PRIu64 " sha256 %s replaced by %s "
		       "version %" PRIu64 " sha256 %s (--force-replace-trusted-root, uid %u)",
		       c->metadata_dir, info.old_version, info.old_sha256, argv[0], info.new_version,
		       info.new_sha256, (unsigned)getuid());
		closelog();
	}
	if (c->json)
		printf("{\"ok\":true,\"changed\":%s,\"version\":%" PRIu64 "}\n",
		       info.identical ? "false" : "true", info.new_version);
	else if (c->verbose >= 0 && info.identical)
		fprintf(stderr, "pawl: %s already trusts %s (root version %" PRIu64
			"); nothing changed\n", c->metadata_dir, argv[0], info.new_version);
	else if (c->verbose >= 0 && !info.had_root)
		fprintf(stderr, "pawl: trusting %s in %s\n", argv[0], c->metadata_dir);
	return 0;
}

static int make_updater(struct cli *c, pawl_updater **u)
{
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;

	if (c->n_metadata_urls == 0)
		die_usage("--metadata-url is required");
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


static int cmd_download(struct cli *c)
{
	pawl_updater *u = NULL;
	int rc = 0;

	if (c->n_target_names == 0)
		die_usage("download needs at least one --target-name");
	if (!c->target_dir)
		die_usage("download needs --target-dir");
	if (c->n_target_urls == 0)
		die_usage("download needs --target-base-url");
	if (make_updater(c, &u) < 0 || pawl_updater_refresh(u) < 0) {
		report_error(c, "refresh");
		pawl_updater_free(u);
		return 1;
	}
	if (c->json)
		printf("{\"ok\":true,\"targets\":[");
	for (size_t i = 0; i < c->n_target_names; i++) {
		pawl_target *t = NULL;
		char *path = NULL;
		bool cached = false;

		if (pawl_updater_get_target(&t, u, c->target_names[i]) < 0) {
			rc = 1;
		} else if (pawl_updater_find_cached(u, t, c->target_dir, &path) == 0) {
			cached = true;
		} else if (pawl_updater_download(u, t, c->target_dir, &path) < 0) {
			rc = 1;
		}
		if (rc) {
			if (c->json)
				printf("]}\n");
			report_error(c, c->target_names[i]);
			pawl_target_free(t);
			pawl_updater_free(u);
			return 1;
		}
		if (c->json) {
			printf("%s{\"path\":", i ? "," : "");
			json_print_string(c->target_names[i]);
			printf(",\"file\":");
			json_print_string(path);
			printf(",\"length\":%" PRIu64 ",\"cached\":%s}", pawl_target_length(t),
			       cached ? "true" : "false");
		} else if (c->verbose >= 0) {
			fprintf(stderr, "pawl: %s %s -> %s\n", cached ? "have" : "downloaded",
				c->target_names[i], path);
		}
		free(path);
		pawl_target_free(t);
	}
	if (c->json)
		printf("]}\n");
	pawl_updater_free(u);
	return 0;
}

/* The agent: options may also follow the command ("update --json"). */
static int agent_main(struct cli *c, const char *cmd, int argc, char **argv)
{
	agent_config cfg;
	char err[1024];
	bool verify = false;
	const char *root_file = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force-replace-trusted-root") == 0)
			c->force_replace_root = true;
		else if (strcmp(cmd, "init") == 0 && argv[i][0] != '-' && !root_file)
			root_file = argv[i];
		else if (strcmp(argv[i], "--json") == 0)
			c->json = true;
		else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
			c->verbose++;
		else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			c->verbose = -1;
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			c->since = argv[++i];
		else if (strcmp(cmd, "log") == 0 && strcmp(argv[i], "verify") == 0)
			verify = true;
		else
			die_usage("unexpected argument");
	}
	if (config_load(&cfg, c->config, err, sizeof(err)) < 0) {
		fprintf(stderr, "pawl: %s\n", err);
		return AGENT_EXIT_ERROR;
	}
	if (c->force_replace_root && strcmp(cmd, "init") != 0) {
		config_free(&cfg);
		die_usage("--force-replace-trusted-root goes with init only");
	}
	if (strcmp(cmd, "init") == 0)
		rc = agent_init(&cfg, root_file, c->force_replace_root, c->json, c->verbose);
	else if (strcmp(cmd, "update") == 0)
		rc = agent_update(&cfg, c->json, c->verbose);
	else if (strcmp(cmd, "status") == 0)
		rc = agent_status(&cfg, c->json);
	else if (strcmp(cmd, "rollback") == 0)
		rc = agent_rollback(&cfg, c->json, c->verbose);
	else if (strcmp(cmd, "log") == 0)
		rc = verify ? agent_log_verify(&cfg) : agent_log_show(&cfg, c->json, c->since);
	else {
		config_free(&cfg);
		die_usage("with --config the commands are init, update, status, rollback and log");
	}
	config_free(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	enum { O_MDIR = 256, O_MURL, O_TNAME, O_TURL, O_TDIR, O_MAXB, O_MAXD, O_CA, O_PIN, O_JSON,
	       O_CTO, O_LST, O_LSL, O_TO, O_CONFIG, O_SINCE, O_MINRATE, O_DLBASE, O_FORCEROOT };
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c;
	const char *cmd;
	int ch;

	memset(&c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, "+vqhV", opts, NULL)) != -1) {
		switch (ch) {
		case O_MDIR:
			c.metadata_dir = optarg;
			break;
		case O_MURL:
			if (c.n_metadata_urls == MAX_LIST)
				die_usage("too many --metadata-url");
			c.metadata_urls[c.n_metadata_urls++] = optarg;
			break;
		case O_TURL:
			if (c.n_target_urls == MAX_LIST)
				die_usage("too many --target-base-url");
			c.target_urls[c.n_target_urls++] = optarg;
			break;
		case O_TNAME:
			if (c.n_target_names == sizeof(c.target_names) / sizeof(c.target_names[0]))
				die_usage("too many --target-name");
			c.target_names[c.n_target_names++] = optarg;
			break;
		case O_TDIR:
			c.target_dir = optarg;
			break;
		case O_MAXB:
			parse_max_bytes(&c, optarg);
			break;
		case O_MAXD:
			c.max_delegations = parse_max_delegations(optarg);
			break;
		case O_CA:
			c.ca_file = optarg;
			break;
		case O_PIN:
			c.pin = optarg;
			break;
		case O_JSON:
			c.json = true;
			break;
		case O_CTO:
			c.connect_timeout = parse_seconds("--connect-timeout", optarg);
			break;
		case O_LST:
			c.low_speed_time = parse_seconds("--low-speed-time", optarg);
			break;
		case O_LSL:
			c.low_speed_limit = parse_seconds("--low-speed-limit", optarg);
			break;
		case O_TO:
			c.timeout = parse_seconds("--timeout", optarg);
			break;
		case O_MINRATE:
			c.min_rate = parse_rate("--min-rate", optarg);
			break;
		case O_DLBASE:
			c.deadline_base = parse_seconds("--deadline-base", optarg);
			break;
		case O_FORCEROOT:
			c.force_replace_root = true;
			break;
		case O_CONFIG:
			c.config = optarg;
			break;
		case O_SINCE:
			c.since = optarg;
			break;
		case 'v':
			c.verbose++;
			break;
		case 'q':
			c.verbose = -1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pawl %s (TUF %s)\n", pawl_version(), PAWL_SPEC_VERSION);
			return 0;
		default:
			die_usage("unknown option");
		}
	}
	if (optind >= argc)
		die_usage("no command given");
	cmd = argv[optind++];
	if (c.config)
		return agent_main(&c, cmd, argc - optind, argv + optind);
	if (!c.metadata_dir)
		die_usage("--metadata-dir is required");
	c.progress = !c.json && c.verbose >= 0 && isatty(STDERR_FILENO);

	if (strcmp(cmd, "init") == 0)
		return cmd_init(&c, argc - optind, argv + optind);
	if (c.force_replace_root)
		die_usage("--force-replace-trusted-root goes with init only");
	if (optind != argc)
		die_usage("unexpected argument");
	if (strcmp(cmd, "refresh") == 0)
		return cmd_refresh(&c);
	if (strcmp(cmd, "download") == 0)
		return cmd_download(&c);
	die_usage("unknown command");
	return 1;
}

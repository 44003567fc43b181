/*
 * cmd_log.c - `pawl-repo log REPO [--json] [--since TIME]` and `pawl-repo
 * log REPO verify [--json]`: show and check the publisher's audit log,
 * REPO/audit.log, that journal.c writes (docs/audit.md, "The publisher's
 * log"). The report is the one pawl prints (src/common/log_cmd.c), plus
 * the anchor REPO/state.json keeps and the log.damaged records journal.c
 * writes.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/log_cmd.h"
#include "repo.h"

static const char usage_log[] =
	"usage: pawl-repo log REPO [--json] [--since TIME]\n"
	"       pawl-repo log REPO verify [--json]\n"
	"\n"
	"Show the publisher's audit log, REPO/audit.log: every signature (role,\n"
	"version, key id, key file or token), target change, delegation, key\n"
	"rotation, expiry change, snapshot, timestamp, publication and failure, one\n"
	"entry per line (#SEQ TIME TYPE key=value ...). --json prints the entries\n"
	"themselves (JSON Lines). --since: YYYY-MM-DD[THH:MM:SSZ], or a duration\n"
	"back from now (90s, 30m, 24h, 7d, 2w).\n"
	"\n"
	"verify checks that no entry was altered, removed, inserted or reordered:\n"
	"the hash chain, REPO/audit.head, and the last entry's position that\n"
	"REPO/state.json keeps (so cutting entries off the end is caught even with\n"
	"audit.head rewritten to match). Exit status: 0 intact, 2 not intact (or\n"
	"gone while state.json names it), 6 intact but recording incidents to\n"
	"review, 1 the log cannot be read. With --json: one JSON object.\n"
	"\n"
	"Every entry is also sent to syslog (facility authpriv) as it is written,\n"
	"unless the writing command had --no-syslog; the file log is always written.\n";

/* log.damaged records (check_anchor): incidents, like audit.incident. */
static int count_damaged(const char *path, uint64_t *ret_n, uint64_t *ret_first)
{
	_cleanup_audit_iter_ audit_iter *it = NULL;
	const audit_entry *e;

	*ret_n = 0;
	GUARD(audit_iter_open(&it, path, AUDIT_SINCE_ALL));
	for (;;) {
		GUARD(audit_iter_next(it, &e));
		if (!e)
			return 0;
		if (strcmp(e->type, "log.damaged") == 0 && (*ret_n)++ == 0)
			*ret_first = e->seq;
	}
}

static int log_verify(const char *repo, bool json)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	audit_head anchor, *ap = NULL;
	char path[4200], spath[4200];
	char *data = NULL;
	size_t len;
	uint64_t n = 0, first = 0;
	cli_log_result res;

	snprintf(path, sizeof(path), "%s/audit.log", repo);
	snprintf(spath, sizeof(spath), "%s/state.json", repo);
	/* The anchor is read before the log, and written after the entries
	 * it names, so it never names an entry the log cannot have yet. */
	if (file_read_all(spath, 64u * 1024u * 1024u, &data, &len) < 0)
		return fail_json("log", json);
	if (pj_parse(&doc, data, len, NULL) < 0) {
		pawl_error_prefix(pawl_error_last()->code, "%s: ", spath);
		return fail_json("log", json);
	}
	if (audit_head_from_json(&anchor, pj_get(pj_root(doc), "audit")) == 0) {
		ap = &anchor;
	} else {
		pawl_error_clear();
		fprintf(json ? stderr : stdout, "note: %s keeps no position of the log's last "
			"entry; checking the log against audit.head only\n", spath);
	}
	cli_log_check(path, NULL, ap, "state.json", &res);
	if (res.exit == CLI_EXIT_OK || res.exit == CLI_EXIT_INCIDENTS) {
		if (count_damaged(path, &n, &first) < 0)
			return fail_json("log", json);
		cli_log_add_incidents(&res, n, first,
				      "check(s) that found it not holding the entry state.json "
				      "named (log.damaged)");
	}
	return cli_log_report(stdout, path, &res, json);
}

int cmd_log(int argc, char **argv)
{
	enum { O_JSON = OPT_FIRST, O_SINCE };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "json", no_argument, NULL, O_JSON },
		{ "since", required_argument, NULL, O_SINCE },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	const char *since = NULL;
	int64_t t = AUDIT_SINCE_ALL;
	char path[4200];
	int ch, npos;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_JSON: json = true; break;
		case O_SINCE: since = optarg; break;
		default: common_opt("log", usage_log, ch, optarg);
		}
	}
	npos = argc - optind;
	if (npos < 1 || npos > 2)
		usage_error("log", "give REPO (and `verify` to check the log)");
	if (npos == 2) {
		if (strcmp(argv[optind + 1], "verify") != 0)
			usage_error("log", "unknown action \"%s\" (only `verify`)", argv[optind + 1]);
		if (since)
			usage_error("log", "verify takes no --since");
		return log_verify(argv[optind], json);
	}
	if (since && audit_since_parse(since, &t) < 0)
		usage_error("log", "%s", pawl_error_last()->message);
	snprintf(path, sizeof(path), "%s/audit.log", argv[optind]);
	if (cli_log_show(stdout, path, json, t) != 0)
		return fail_json("log", json);
	return 0;
}

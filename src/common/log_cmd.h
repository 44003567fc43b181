/*
 * log_cmd.h - the `log` and `log verify` commands, which `pawl` and
 * `pawl-repo` both offer over their audit logs (pawl/audit.h,
 * docs/audit.md). Program code: these print to the stream they are given
 * and return exit codes, which the library never does.
 */
#ifndef PAWL_COMMON_LOG_CMD_H
#define PAWL_COMMON_LOG_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pawl/audit.h"

/*
 * `log [--json] [--since TIME]`: print the entries of log_path to out,
 * one per line, as "#SEQ TIME TYPE key=value ..." or, with json, the
 * entry lines themselves (JSON Lines). since: PAWL_AUDIT_SINCE_ALL or a time.
 * Returns an exit code: 0, or 1 with pawl_error_last() set and nothing
 * about the error written to out (the program prints it to stderr).
 */
int cli_log_show(FILE *out, const char *log_path, bool json, int64_t since);

/*
 * `log verify`, in both programs: one check, one report, one set of exit
 * codes (docs/exit-codes.md):
 *   0  intact
 *   1  the log could not be read
 *   2  altered: edited, removed, inserted, reordered or cut short entries,
 *      a replaced log, or a log gone while the program's anchor names it
 *   6  intact, but the log records incidents to review
 * and, with --json, exactly one JSON object (docs/json.md).
 */
typedef struct cli_log_result {
	int exit;                 /* 0, 1, 2 or 6, as above */
	int code;                 /* pawl_audit_verify()'s return */
	pawl_audit_report rep;        /* when code is 0, PAWL_E_FORMAT or PAWL_E_HASH */
	bool missing;             /* no log, though the anchor names one */
	char error[512];          /* exit 1: why the log could not be read */
	/* Incidents the program finds beyond the library's (pawl-repo: its
	 * log.damaged entries), added with cli_log_add_incidents. */
	uint64_t more_incidents, more_first_seq;
	char more_what[256];
	/* The program's anchor, when it kept one and the log holds it. */
	const pawl_audit_head *anchor;
	const char *anchor_file;  /* where the anchor is kept ("state.json") */
} cli_log_result;

/* Check log_path (head_path NULL: the default) against anchor (NULL:
 * none; anchor_file names where it is kept) into *ret; never fails (a log
 * that cannot be read is exit 1 in the result). */
void cli_log_check(const char *log_path, const char *head_path, const pawl_audit_head *anchor,
		   const char *anchor_file, cli_log_result *ret);

/* The program found n more incidents (the first at seq first), described
 * by what: an intact log becomes exit 6. */
void cli_log_add_incidents(cli_log_result *r, uint64_t n, uint64_t first, const char *what);

/* The report: text lines to out, or (json) one JSON object. Returns
 * r->exit. */
int cli_log_report(FILE *out, const char *log_path, const cli_log_result *r, bool json);

/* Check and print the text report in one call (no anchor file name, no
 * incidents of the program's own). Returns the exit code above. */
int cli_log_verify(FILE *out, const char *log_path, const char *head_path,
		   const pawl_audit_head *anchor);

#endif

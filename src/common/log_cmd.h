/*
 * log_cmd.h - the `log` and `log verify` commands, which `pawl` and
 * `pawl-repo` both offer over their audit logs (src/lib/audit/audit.h,
 * docs/audit.md). Program code: these print to the stream they are given
 * and return exit codes, which the library never does.
 */
#ifndef PAWL_COMMON_LOG_CMD_H
#define PAWL_COMMON_LOG_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"

/*
 * `log [--json] [--since TIME]`: print the entries of log_path to out,
 * one per line, as "#SEQ TIME TYPE key=value ..." or, with json, the
 * entry lines themselves (JSON Lines). since: AUDIT_SINCE_ALL or a time.
 * Returns an exit code: 0, or 1 with pawl_error_last() set and nothing
 * about the error written to out (the program prints it to stderr).
 */
int cli_log_show(FILE *out, const char *log_path, bool json, int64_t since);

/*
 * `log verify`: verify and print a short report to out. head_path NULL:
 * the default; anchor: NULL or the program's kept head. Returns 0 (intact),
 * 1 (verification failed or the log could not be read) or 2 (intact, but
 * the log records incidents to review).
 */
int cli_log_verify(FILE *out, const char *log_path, const char *head_path,
		   const audit_head *anchor);

#endif

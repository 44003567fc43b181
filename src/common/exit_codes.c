/*
 * exit_codes.c - see exit_codes.h. The meanings are word for word those
 * of docs/exit-codes.md (test_exit_codes.sh compares them).
 */
#include <string.h>

#include "common/exit_codes.h"

static const struct {
	int code;
	unsigned progs;
	const char *meaning;
} rows[] = {
	{ CLI_EXIT_OK, CLI_PROG_PAWL | CLI_PROG_PAWL_REPO,
	  "success: done, updated, or already current" },
	{ CLI_EXIT_FAILURE, CLI_PROG_PAWL | CLI_PROG_PAWL_REPO,
	  "failure: configuration, local files, lock, state, a workspace not ready; and any "
	  "failure of init, refresh and download with --metadata-dir, usage errors included "
	  "(the client-under-test protocol)" },
	{ CLI_EXIT_VERIFY, CLI_PROG_PAWL | CLI_PROG_PAWL_REPO,
	  "verification failure: a signature, threshold, expiry, version, length or hash check "
	  "failed, or metadata is malformed; log verify: the log was altered" },
	{ CLI_EXIT_NETWORK, CLI_PROG_PAWL,
	  "network failure: no mirror reachable, or a file missing on all of them" },
	{ CLI_EXIT_HEALTH, CLI_PROG_PAWL,
	  "health check failed: the new release was rolled back, the previous one is in place" },
	{ CLI_EXIT_REFUSED, CLI_PROG_PAWL,
	  "refused: a downgrade not signed as a recovery release, a release marked bad, "
	  "rollback to a non-recovery release, init over a different trusted root" },
	{ CLI_EXIT_INCIDENTS, CLI_PROG_PAWL | CLI_PROG_PAWL_REPO,
	  "log verify: the log is intact but records incidents to review" },
	{ CLI_EXIT_USAGE, CLI_PROG_PAWL | CLI_PROG_PAWL_REPO,
	  "usage error: unknown command or option, a missing or bad argument (EX_USAGE)" },
};

#define WIDTH 78
#define INDENT 6

/* text, wrapped at word boundaries; the first line after the "  NN  " */
static void wrapped(FILE *out, const char *text)
{
	size_t col = INDENT;

	while (*text) {
		size_t w = strcspn(text, " ");

		if (col > INDENT && col + 1 + w > WIDTH) {
			fprintf(out, "\n%*s", INDENT, "");
			col = INDENT;
		} else if (col > INDENT) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, w, out);
		col += w;
		text += w;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

void cli_exit_table_print(FILE *out, unsigned prog)
{
	fputs("Exit status (docs/exit-codes.md: one table for pawl and pawl-repo):\n", out);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!(rows[i].progs & prog))
			continue;
		fprintf(out, "%4d  ", rows[i].code);
		wrapped(out, rows[i].meaning);
	}
}

/*
 * exit_codes.h - the one exit-code table of pawl and pawl-repo.
 *
 * docs/exit-codes.md documents it and says why these numbers; the man
 * pages and docs/agent.md carry the same rows, and --help prints them from
 * here. tests/integration/test_exit_codes.sh checks that every copy says
 * the same and drives each code in both programs.
 */
#ifndef PAWL_COMMON_EXIT_CODES_H
#define PAWL_COMMON_EXIT_CODES_H

#include <stdio.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,   /* and any failure of init/refresh/download (the protocol) */
	CLI_EXIT_VERIFY = 2,    /* verification failure; log verify: altered */
	CLI_EXIT_NETWORK = 3,   /* pawl's agent */
	CLI_EXIT_HEALTH = 4,    /* pawl's agent */
	CLI_EXIT_REFUSED = 5,   /* pawl's agent */
	CLI_EXIT_INCIDENTS = 6, /* log verify: intact, but recording incidents */
	CLI_EXIT_USAGE = 64,    /* EX_USAGE */
};

/* Which program asks (a row lists the programs that use its code). */
enum { CLI_PROG_PAWL = 1, CLI_PROG_PAWL_REPO = 2 };

/* The "Exit status" block of --help: a heading, then one row per code the
 * program uses ("  NN  meaning", wrapped with a six-column indent). */
void cli_exit_table_print(FILE *out, unsigned prog);

#endif

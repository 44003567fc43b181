/*
 * pawl-repo - the publisher's signing tool: keys, roles, targets,
 * delegations, hash bins, threshold and offline signing, rotation,
 * expiry, timestamping, publishing and verifying a published tree.
 *
 * Exit codes: the table pawl shares (docs/exit-codes.md): 0 success, 1
 * failure (the message names the role, key id or file and says what to
 * do), 2 verification failure (verify: a tree a client would refuse; log
 * verify: an altered log), 6 (log verify: intact, but recording
 * incidents), 64 usage error. Informational lines go to stderr (quiet
 * with -q); `status`, `keygen` and `log` print results on stdout. Private
 * keys, passphrases and PINs are never printed.
 *
 * Commands that change a workspace record what they do in its audit log
 * (journal.c), failures included: fail() (cli.c) records them.
 *
 * The files call each other one way only, from the top down:
 *   main.c                  the command table and the global options
 *   cmd_*.c                 one file per command (cmd_init.c may run the
 *                           timestamp step of cmd_publish.c; release uses
 *                           cmd_image.c and cmd_targets.c)
 *   cli.c                   usage errors, failures, the common options
 *   workspace.c, content.c  the workspace and its content store
 *   journal.c               the audit log of the workspace
 *   keys.c, pkcs11_hook.c   key arguments, passphrase and PIN
 *   output.c                info and warning lines, small helpers
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/nearest.h"
#include "repo.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "keygen", cmd_keygen, "create a key pair (KEY.pem, KEY.pub)" },
	{ "init", cmd_init, "create a workspace with root, targets, snapshot and timestamp" },
	{ "add", cmd_add, "add targets (one file, a directory or a manifest)" },
	{ "release", cmd_release, "add a release of an application for the update agent" },
	{ "remove", cmd_remove, "remove a target" },
	{ "delegate", cmd_delegate, "delegate target paths to a new role" },
	{ "bins", cmd_bins, "delegate to succinct hash bins (TAP 15)" },
	{ "sign", cmd_sign, "add a signature to a role (threshold, offline signing)" },
	{ "rotate", cmd_rotate, "replace a role's keys" },
	{ "expire", cmd_expire, "set a role's expiry period and renew it" },
	{ "timestamp", cmd_timestamp, "new snapshot and timestamp (online keys; for cron)" },
	{ "publish", cmd_publish, "write the repository tree for the web server" },
	{ "handed", cmd_handed, "record versions handed out otherwise (pawl-repod import)" },
	{ "verify", cmd_verify, "check a published tree as a client would" },
	{ "status", cmd_status, "versions, expiry and signatures of every role" },
	{ "log", cmd_log, "show the audit log (REPO/audit.log); `log REPO verify` checks it" },
};

static void usage(FILE *f)
{
	fputs("usage: pawl-repo [-q|-v] COMMAND [ARGS]\n\nCommands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'pawl-repo COMMAND --help' describes a command.\n"
	      "A KEY is a private key file or a pkcs11: URI (a key in a token, docs/hsm.md).\n"
	      "Passphrases for encrypted keys: --passphrase-file FILE or PAWL_PASSPHRASE.\n"
	      "Token PINs: --pin-file FILE or PAWL_PKCS11_PIN (or pin-source in the URI).\n"
	      "Every command that changes REPO records it in REPO/audit.log, mirrored to\n"
	      "syslog (authpriv); --no-syslog (before or after COMMAND) turns off the\n"
	      "syslog copy only.\n"
	      "Full guide: docs/pawl-repo.md\n"
	      "\n",
	      f);
	cli_exit_table_print(f, CLI_PROG_PAWL_REPO);
}

/* A mistyped command: named, with the nearest command when one is close. */
static _Noreturn void unknown_command(const char *word)
{
	const char *names[ARRAY_SIZE(commands) + 1];
	const char *near;

	for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
		names[k] = commands[k].name;
	names[ARRAY_SIZE(commands)] = "help";
	near = cli_nearest_word(word, names, ARRAY_SIZE(names));
	if (near)
		usage_error(NULL, "unknown command '%.64s' (did you mean '%s'?)", word, near);
	usage_error(NULL, "unknown command '%.64s'; 'pawl-repo --help' lists the commands", word);
}

/* An error before any command runs (no workspace, so no audit log). */
static int fail_start(void)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "pawl-repo: %s: %s\n", pawl_strerror(e->code),
		e->message[0] ? e->message : "(no detail)");
	return 1;
}

/* "--name FILE" or "--name=FILE" at argv[*i] (advancing *i past FILE), or
 * NULL. A missing FILE is a usage error. */
static const char *file_opt(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		usage_error(NULL, "%s needs a FILE", name);
	return argv[++*i];
}

int main(int argc, char **argv)
{
	int i = 1, rc;

	atexit(pass_wipe);
	atexit(pin_wipe);
	/* The environment's passphrase and PIN are taken (and wiped) before
	 * anything else runs; a --passphrase-file or --pin-file, before or
	 * after COMMAND, replaces them. */
	if (pass_from_env() < 0 || pin_from_env() < 0)
		return fail_start();
	/* Bad options are named by common_opt(), in one line. */
	opterr = 0;
	for (int k = 1; k < argc && strcmp(argv[k], "--") != 0; k++)
		if (strcmp(argv[k], "--json") == 0)
			json_requested = true;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *file;

		if ((file = file_opt(argc, argv, &i, "--passphrase-file"))) {
			if (pass_from_file(file) < 0)
				return fail_start();
			continue;
		}
		if ((file = file_opt(argc, argv, &i, "--pin-file"))) {
			if (pin_from_file(file) < 0)
				return fail_start();
			continue;
		}
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			verbosity = -1;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			verbosity = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--no-syslog") == 0) {
			journal_syslog = false;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("pawl-repo %s (TUF %s)\n", pawl_version(), PAWL_SPEC_VERSION);
			return 0;
		} else {
			usage_error(NULL, "unknown option %s", argv[i]);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		char *av[3] = { NULL, (char *)"--help", NULL };

		if (i + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		av[0] = argv[i + 1];
		cmd_argv = av;
		for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
			if (strcmp(commands[k].name, av[0]) == 0)
				return commands[k].fn(2, av);
		unknown_command(av[0]);
	}
	for (size_t k = 0; k < ARRAY_SIZE(commands); k++) {
		if (strcmp(commands[k].name, argv[i]) == 0) {
			journal_cmd = commands[k].name;
			cmd_argv = argv + i;
			rc = commands[k].fn(argc - i, argv + i);
			pass_wipe();
			pin_wipe();
			return rc;
		}
	}
	unknown_command(argv[i]);
}

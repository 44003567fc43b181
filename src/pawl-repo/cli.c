/*
 * cli.c - pawl-repo's command-line contract, shared by every command:
 * usage errors (exit 64), failures (exit 1, recorded in the audit log),
 * the options every command takes, and the operands of `release`
 * (docs/exit-codes.md, docs/json.md). main.c describes the order of the
 * files: this one sits below the commands and above the workspace, the
 * journal and the key arguments.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_out.h"
#include "repo.h"

char **cmd_argv;
bool json_requested;

void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pawl-repo%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	if (json_requested) {
		char msg[768];
		va_list aq;

		va_copy(aq, ap);
		vsnprintf(msg, sizeof(msg), fmt, aq);
		va_end(aq);
		fputs("{\"ok\":false,\"error\":\"usage error\",\"message\":", stdout);
		cli_json_string(stdout, msg);
		printf(",\"exit\":%d}\n", EXIT_USAGE);
		fflush(stdout);
	}
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pawl-repo %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	pass_wipe();
	pin_wipe();
	exit(EXIT_USAGE);
}

int fail(const char *cmd)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "pawl-repo %s: %s: %s\n", cmd, pawl_strerror(e->code),
		e->message[0] ? e->message : "(no detail)");
	journal_failure(cmd);
	return 1;
}

int fail_json(const char *cmd, bool json)
{
	int code = pawl_error_last()->code;
	char msg[768];
	int rc;

	snprintf(msg, sizeof(msg), "%s",
		 pawl_error_last()->message[0] ? pawl_error_last()->message : "(no detail)");
	rc = fail(cmd);
	if (json) {
		printf("{\"ok\":false,\"error\":\"%s\",\"code\":%d,\"message\":",
		       pawl_strerror(code), code);
		cli_json_string(stdout, msg);
		printf(",\"exit\":%d}\n", rc);
		fflush(stdout);
	}
	return rc;
}

void common_opt(const char *cmd, const char *usage_text, int ch, const char *arg)
{
	switch (ch) {
	case 'h':
		fputs(usage_text, stdout);
		exit(0);
	case 'q':
		verbosity = -1;
		return;
	case 'v':
		verbosity = 1;
		return;
	case OPT_PASSFILE:
		if (pass_from_file(arg) < 0)
			exit(fail(cmd));
		return;
	case OPT_PINFILE:
		if (pin_from_file(arg) < 0)
			exit(fail(cmd));
		return;
	case OPT_NOSYSLOG:
		journal_syslog = false;
		return;
	default: {
		/* What getopt stopped at: one line that names it. */
		const char *a = cmd_argv && optind > 0 ? cmd_argv[optind - 1] : NULL;

		if (a && a[0] == '-' && a[1] == '-') {
			const char *eq = strchr(a, '=');
			int len = eq ? (int)(eq - a) : 64;

			if (!optopt)
				usage_error(cmd, "unknown option '%.*s'", len, a);
			if (eq)
				usage_error(cmd, "option '%.*s' takes no argument", len, a);
			usage_error(cmd, "option '%.*s' needs an argument", len, a);
		}
		usage_error(cmd, "unknown option '-%c'", optopt ? optopt : '?');
	}
	}
}

/* REPO APP VERSION FILE after the options, for `release` and `release
 * --image` alike: APP one path component, VERSION SemVer 2.0; exits with a
 * usage error otherwise. what names the fourth operand in the message. */
void release_operands(int argc, char **argv, const char *what, const char **ret_app,
		      const char **ret_version, const char **ret_file)
{
	const char *app, *version;
	semver v;

	if (argc - optind != 4)
		usage_error("release", "give REPO APP VERSION %s", what);
	app = argv[optind + 1];
	version = argv[optind + 2];
	if (!*app || strchr(app, '/') || strcmp(app, ".") == 0 || strcmp(app, "..") == 0)
		usage_error("release", "APP must be one path component");
	if (semver_parse(version, &v) < 0)
		usage_error("release", "VERSION must be a Semantic Versioning 2.0 version, e.g. 1.4.0");
	*ret_app = app;
	*ret_version = version;
	*ret_file = argv[optind + 3];
}

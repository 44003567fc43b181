/*
 * main.c - pawl-repod's command line: serve, migrate, token, import,
 * log verify; the service's log lines; loading the online keys.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "repod.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void logmsg(const char *level, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s pawl-repod[%d] %s: ", when, (int)getpid(), level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

/* The first line of a small regular file (a PIN or a passphrase). */
static int first_line(const char *path, char **ret)
{
	char *data = NULL;
	size_t len, n;

	GUARD(file_read_all(path, 4096, &data, &len));
	n = strcspn(data, "\r\n");
	if (n < len)
		OPENSSL_cleanse(data + n, len - n);
	data[n] = '\0';
	*ret = data;
	return 0;
}

int online_signer(const repod_config *c, const char *arg, pawl_signer **ret)
{
	char *secret = NULL;
	int r;

	ENSURE(arg, PAWL_E_INVALID, "a key is not configured");
	if (pkcs11_is_uri(arg)) {
		if (c->pin_file)
			GUARD(first_line(c->pin_file, &secret));
		r = signer_load_pkcs11(ret, arg, secret);
	} else {
		if (c->passphrase_file)
			GUARD(first_line(c->passphrase_file, &secret));
		r = signer_load_file(ret, arg, secret);
	}
	if (secret) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	return r;
}

static const char usage[] =
	"usage: pawl-repod COMMAND --config FILE [ARGS]\n"
	"\n"
	"The pawl repository service: RSTUF's REST API on PostgreSQL (docs/service.md).\n"
	"\n"
	"  serve                 answer the API and /metadata/, publish when leader\n"
	"  migrate               create or upgrade the database schema\n"
	"  token create --scope PREFIX [--scope PREFIX ...]   print a new bearer token\n"
	"  token revoke ID       stop accepting a token\n"
	"  import REPO           import root and targets signed with pawl-repo\n"
	"  export [--current] DIR   write the published metadata to DIR (a static mirror)\n"
	"  log verify            check the hash-chained audit log\n"
	"\n"
	"--config FILE defaults to /etc/pawl/repod.conf.\n"
	"Exit status: 0 success, 1 failure, 2 usage error.\n";

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int cmd_serve(const repod_config *c)
{
	publisher *pub = NULL;
	struct sigaction sa;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = publisher_start(&pub, c);
	if (r < 0) {
		logmsg("error", "cannot start: %s", pawl_error_last()->message);
		return 1;
	}
	r = http_serve(c, &stop_flag);
	publisher_stop(pub);
	if (r < 0) {
		logmsg("error", "%s", pawl_error_last()->message);
		return 1;
	}
	logmsg("info", "stopped");
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = "/etc/pawl/repod.conf";
	repod_config c;
	char **rest;
	int nrest, rc;

	/* --config may come before or right after the command. */
	rest = xreallocarray(NULL, (size_t)argc + 1, sizeof(char *));
	if (!rest)
		return 1;
	nrest = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
		else
			rest[nrest++] = argv[i];
	}
	rest[nrest] = NULL;
	if (nrest == 0 || strcmp(rest[0], "--help") == 0 || strcmp(rest[0], "-h") == 0) {
		fputs(usage, nrest == 0 ? stderr : stdout);
		free(rest);
		return nrest == 0 ? EXIT_USAGE : 0;
	}
	if (strcmp(rest[0], "--version") == 0) {
		printf("pawl-repod %s\n", pawl_version());
		free(rest);
		return 0;
	}
	if (config_load(&c, config) < 0) {
		fprintf(stderr, "pawl-repod: %s\n", pawl_error_last()->message);
		free(rest);
		return 1;
	}
	if (strcmp(rest[0], "serve") == 0 && nrest == 1) {
		rc = cmd_serve(&c);
	} else if (strcmp(rest[0], "migrate") == 0 && nrest == 1) {
		_cleanup_db_ db *d = NULL;
		int from = 0, to = 0;

		if (db_open_raw(&d, c.database) < 0 || db_migrate(d, &from, &to) < 0) {
			fprintf(stderr, "pawl-repod migrate: %s\n", pawl_error_last()->message);
			rc = 1;
		} else {
			fprintf(stderr, "pawl-repod migrate: schema version %d%s%d\n", from,
				from == to ? ", current: " : " -> ", to);
			rc = 0;
		}
	} else if (strcmp(rest[0], "token") == 0) {
		rc = cmd_token(&c, nrest, rest);
	} else if (strcmp(rest[0], "import") == 0) {
		rc = cmd_import(&c, nrest, rest);
	} else if (strcmp(rest[0], "export") == 0) {
		rc = cmd_export(&c, nrest, rest);
	} else if (strcmp(rest[0], "log") == 0 && nrest == 2 && strcmp(rest[1], "verify") == 0) {
		_cleanup_db_ db *d = NULL;

		if (db_open(&d, c.database) < 0) {
			fprintf(stderr, "pawl-repod log verify: %s\n", pawl_error_last()->message);
			rc = 1;
		} else {
			rc = audit_db_verify(d, stdout);
		}
	} else {
		fputs(usage, stderr);
		rc = EXIT_USAGE;
	}
	config_free(&c);
	free(rest);
	return rc;
}

/*
 * test_repod_config.c - pawl-repod's repod.conf (src/pawl-repod/config.c)
 * on the shared reader: the shipped example, the rules it always had
 * (a repeated setting: the last one wins; online keys: up to 4 each;
 * sizes with K or M; periods N, Ns, Nm, Nh, Nd up to 10 years; an empty
 * value is a value) and the reader's refusals with the line named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repod.h"
#include "testing.h"

static char *dir;

static int load(repod_config *c, const char *text)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/repod.conf", dir);
	t_write_file(path, text, strlen(text));
	return config_load(c, path);
}

static void refused(const char *text, const char *want)
{
	repod_config c;
	const char *m;

	assert_true(load(&c, text) < 0);
	m = pawl_error_last()->message;
	if (!strstr(m, want))
		print_error("\"%s\" lacks \"%s\"\n", m, want);
	assert_non_null(strstr(m, want));
	config_free(&c);
}

static void test_example(void **state)
{
	char path[4096];
	repod_config c;

	(void)state;
	snprintf(path, sizeof(path), "%s/deploy/examples/repod.conf", getenv("PAWL_SRCDIR"));
	t_ok(config_load(&c, path));
	assert_string_equal(c.database, "host=/run/postgresql dbname=pawl user=pawl");
	assert_string_equal(c.listen_addr, "127.0.0.1");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.max_body, 4 * 1024 * 1024);
	assert_int_equal(c.timeout_s, 10);
	assert_int_equal(c.deadline_s, 30);
	assert_int_equal(c.nkey_bins, 1);
	assert_int_equal(c.nkey_timestamp, 1);
	assert_int_equal(c.expires_bins, 30 * 86400);
	assert_int_equal(c.keep_versions_s, 3600);
	assert_int_equal(c.sign_threads, 2);
	config_free(&c);
}

static void test_rules_kept(void **state)
{
	repod_config c;

	(void)state;
	/* scripts/service-up appends settings to tighten limits: the last
	 * one wins, as it always has */
	t_ok(load(&c, "database = a\nthreads = 4\nmax_body = 4M\nthreads = 8\nmax_body = 64K\n"
		      "database = b\n"));
	assert_string_equal(c.database, "b");
	assert_int_equal(c.threads, 8);
	assert_int_equal(c.max_body, 64 * 1024);
	config_free(&c);
	/* defaults, sizes with k, periods with units, '=' inside a value, an
	 * empty value */
	t_ok(load(&c, "database = host=/x dbname=y\nlisten = 0.0.0.0:9000\nmax_body = 2k\n"
		      "expires.bins = 3650d\ntimeout = 1h\ndeadline = 90\nkeep_versions = 5m\n"
		      "pin_file =\nkey.bins = a\nkey.bins = b\nkey.bins = c\nkey.bins = d\n"));
	assert_string_equal(c.database, "host=/x dbname=y");
	assert_string_equal(c.listen_addr, "0.0.0.0");
	assert_int_equal(c.port, 9000);
	assert_int_equal(c.max_body, 2048);
	assert_int_equal(c.expires_bins, 3650LL * 86400);
	assert_int_equal(c.timeout_s, 3600);
	assert_int_equal(c.deadline_s, 90);
	assert_int_equal(c.keep_versions_s, 300);
	assert_string_equal(c.pin_file, "");
	assert_int_equal(c.nkey_bins, 4);
	assert_int_equal(c.publish_batch, 20000); /* default */
	config_free(&c);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("threads = 4\n", "no \"database\" setting");
	refused("database = a\nbogus = 1\n", "repod.conf:2: unknown key \"bogus\"");
	refused("database = a\nthreds = 1\n", "(did you mean threads?)");
	refused("database = a\nthreads\n", "repod.conf:2: expected KEY = VALUE");
	refused("database = a\nkey.bins = 1\nkey.bins = 2\nkey.bins = 3\nkey.bins = 4\n"
		"key.bins = 5\n", "repod.conf:6: more than 4 key.bins lines");
	refused("database = a\nmax_body = 1023\n", "repod.conf:2: max_body: at least 1K");
	refused("database = a\nmax_body = 257M\n", "repod.conf:2: \"257M\" is not a number in range");
	refused("database = a\nmax_body = 1KK\n", "repod.conf:2:");
	refused("database = a\nmax_body = 1m\n", "repod.conf:2:");
	refused("database = a\nmax_body = +5K\n", "repod.conf:2:");
	refused("database = a\nmax_body = K\n", "repod.conf:2:");
	refused("database = a\nthreads = 0\n", "threads: at least 1");
	refused("database = a\nthreads = 257\n", "repod.conf:2:");
	refused("database = a\nexpires.bins = 3651d\n", "is not a period");
	refused("database = a\nexpires.bins = 0\n", "is not a period");
	refused("database = a\nexpires.bins = 5w\n", "is not a period");
	refused("database = a\ntimeout = 61m\n", "timeout: at most 1h");
	refused("database = a\nlisten = 8080\n", "listen: ADDRESS:PORT expected");
	refused("database = a\nlisten = x:65536\n", "repod.conf:2:");
}

static void test_file(void **state)
{
	static const char nul[] = "database = a\0b\n";
	char path[4096], link_path[4096];
	repod_config c;

	(void)state;
	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	t_write_file(path, nul, sizeof(nul) - 1);
	assert_true(config_load(&c, path) < 0);
	assert_non_null(strstr(pawl_error_last()->message, "nul.conf:1: contains a NUL byte"));
	config_free(&c);
	snprintf(path, sizeof(path), "%s/good.conf", dir);
	t_write_file(path, "database = a\n", 13);
	snprintf(link_path, sizeof(link_path), "%s/link.conf", dir);
	assert_int_equal(symlink(path, link_path), 0);
	assert_true(config_load(&c, link_path) < 0);
	assert_non_null(strstr(pawl_error_last()->message, "symbolic link"));
	config_free(&c);
}

static int setup(void **state)
{
	(void)state;
	dir = t_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	t_rm_rf(dir);
	free(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_rules_kept),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

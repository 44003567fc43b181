/*
 * test_common.c - what the two programs share (src/common): strict
 * numbers and durations, and JSON strings for --json output. The `log`
 * commands are tested with the audit log, in test_audit.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/exit_codes.h"
#include "common/json_out.h"
#include "audit/audit.h"
#include "common/log_cmd.h"
#include "common/nearest.h"
#include "common/parse.h"
#include "store/store.h"
#include "testing.h"

#define DAY 86400
#define CENTURY (100LL * 366 * DAY)

static void u64_is(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = 0;

	t_ok(cli_parse_u64(s, min, max, &v));
	assert_int_equal(v, want);
}

static void u64_refused(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 12345;

	t_fails(cli_parse_u64(s, min, max, &v), PAWL_E_INVALID);
	assert_int_equal(v, 12345); /* written only on success */
}

static void test_u64(void **state)
{
	/* What strtoull() lets through and a strict parser must not. */
	static const char *const bad[] = {
		"", " 5", "5 ", "\t5", "+5", "-5", "- 5", "0x10", "1e3", "5\n", "5.0", "1,000",
		"\xd9\xa1" /* ARABIC-INDIC DIGIT ONE */, "18446744073709551616", "99999999999999999999999",
	};

	(void)state;
	u64_is("0", 0, UINT64_MAX, 0);
	u64_is("42", 0, UINT64_MAX, 42);
	u64_is("007", 0, UINT64_MAX, 7);
	u64_is("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
	u64_is("10", 1, 10, 10);
	u64_is("1", 1, 10, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		u64_refused(bad[i], 0, UINT64_MAX);
	u64_refused(NULL, 0, UINT64_MAX);
	/* The caller's range. */
	u64_refused("0", 1, 10);
	u64_refused("11", 1, 10);
	assert_non_null(strstr(pawl_error_last()->message, "11 is out of range (1 to 10)"));
	u64_refused("abc", 0, 9);
	assert_non_null(strstr(pawl_error_last()->message, "\"abc\" is not a whole number"));
}

static void i64_is(const char *s, int64_t min, int64_t max, int64_t want)
{
	int64_t v = 0;

	t_ok(cli_parse_i64(s, min, max, &v));
	assert_int_equal(v, want);
}

static void i64_refused(const char *s, int64_t min, int64_t max)
{
	int64_t v = 12345;

	t_fails(cli_parse_i64(s, min, max, &v), PAWL_E_INVALID);
	assert_int_equal(v, 12345);
}

static void test_i64(void **state)
{
	static const char *const bad[] = {
		"", "-", "--5", "+5", " -5", "-5 ", "- 5", "0x10", "5.0", "-9223372036854775809",
		"9223372036854775808", "1e3",
	};

	(void)state;
	i64_is("0", INT64_MIN, INT64_MAX, 0);
	i64_is("-0", INT64_MIN, INT64_MAX, 0);
	i64_is("-1", -1, 5, -1);
	i64_is("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX);
	i64_is("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		i64_refused(bad[i], INT64_MIN, INT64_MAX);
	i64_refused(NULL, INT64_MIN, INT64_MAX);
	i64_refused("-2", -1, 5);
	i64_refused("6", -1, 5);
	assert_non_null(strstr(pawl_error_last()->message, "6 is out of range (-1 to 5)"));
}

static void test_u32(void **state)
{
	uint32_t v = 7;

	(void)state;
	t_ok(cli_parse_u32("4294967295", &v));
	assert_int_equal(v, UINT32_MAX);
	t_ok(cli_parse_u32("0", &v));
	assert_int_equal(v, 0);
	v = 7;
	t_fails(cli_parse_u32("4294967296", &v), PAWL_E_INVALID);
	/* pawl-repo's old strtoul() parser took these two. */
	t_fails(cli_parse_u32(" 3", &v), PAWL_E_INVALID);
	t_fails(cli_parse_u32("3 ", &v), PAWL_E_INVALID);
	t_fails(cli_parse_u32("-1", &v), PAWL_E_INVALID);
	assert_int_equal(v, 7);
}

static void duration_is(const char *s, int64_t unit, int64_t max, int64_t want)
{
	int64_t v = 0;

	t_ok(cli_parse_duration("period", s, unit, max, &v));
	assert_int_equal(v, want);
}

static void duration_refused(const char *s, int64_t unit, int64_t max, const char *msg)
{
	int64_t v = -7;

	t_fails(cli_parse_duration("period", s, unit, max, &v), PAWL_E_INVALID);
	assert_int_equal(v, -7);
	if (!strstr(pawl_error_last()->message, msg))
		print_error("\"%s\": \"%s\" lacks \"%s\"\n", s ? s : "(null)",
			    pawl_error_last()->message, msg);
	assert_non_null(strstr(pawl_error_last()->message, msg));
}

static void test_duration(void **state)
{
	(void)state;
	/* A bare number counts the default unit. */
	duration_is("7", DAY, CENTURY, 7 * DAY);
	duration_is("7", 1, CENTURY, 7);
	duration_is("7", 3600, CENTURY, 7 * 3600);
	duration_is("30d", DAY, CENTURY, 30 * DAY);
	duration_is("12h", DAY, CENTURY, 12 * 3600);
	duration_is("90m", DAY, CENTURY, 90 * 60);
	duration_is("6s", DAY, CENTURY, 6);
	duration_is("007d", DAY, CENTURY, 7 * DAY);
	/* The bounds, exactly. */
	duration_is("36600", DAY, CENTURY, CENTURY);
	duration_is("3162240000s", DAY, CENTURY, CENTURY);
	duration_is("1s", DAY, CENTURY, 1);
	duration_refused("36601", DAY, CENTURY, "period \"36601\" out of range");
	duration_refused("3162240001s", DAY, CENTURY, "out of range");
	duration_refused("0", DAY, CENTURY, "out of range");
	duration_refused("0s", DAY, CENTURY, "out of range");
	/* Overflow in the number or in the multiplication. */
	duration_refused("18446744073709551616", DAY, CENTURY, "bad period");
	duration_refused("18446744073709551615d", DAY, CENTURY, "out of range");
	duration_refused("9223372036854775808s", 1, INT64_MAX, "out of range");
	/* Malformed, with the hint naming the default unit. */
	duration_refused("1w", DAY, CENTURY,
			 "bad period \"1w\" (DAYS, or a number with d, h, m or s)");
	duration_refused("1w", 60, CENTURY, "(MINUTES, or");
	duration_refused("1dd", DAY, CENTURY, "bad period");
	duration_refused("1D", DAY, CENTURY, "bad period");
	duration_refused("d", DAY, CENTURY, "bad period");
	duration_refused("", DAY, CENTURY, "bad period");
	duration_refused(NULL, DAY, CENTURY, "bad period");
	duration_refused(" 1", DAY, CENTURY, "bad period");
	duration_refused("1 d", DAY, CENTURY, "bad period");
	duration_refused("+1", DAY, CENTURY, "bad period");
	duration_refused("-1", DAY, CENTURY, "bad period");
	duration_refused("1.5d", DAY, CENTURY, "bad period");
	/* A unit the caller cannot mean. */
	duration_refused("1", 7, CENTURY, "no such unit");
}

/* What cli_json_string prints for s. */
static char *json_of(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	cli_json_string(f, s);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void test_json_string(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "", "\"\"" },
		{ "a\"b\\c/d", "\"a\\\"b\\\\c/d\"" },
		{ "tab\tnl\ncr\r\x01\x1f", "\"tab\\tnl\\ncr\\r\\u0001\\u001f\"" },
		{ "\xc3\xbc \xe2\x82\xac", "\"\xc3\xbc \xe2\x82\xac\"" },
	};
	char *huge, *got;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = json_of(cases[i].in);
		assert_string_equal(got, cases[i].want);
		/* Nothing left behind for the program's error report. */
		assert_int_equal(pawl_error_last()->code, 0);
		free(got);
	}
	/* Too long to print: an empty string, and no error left behind. */
	huge = malloc((2u << 20) + 1);
	assert_non_null(huge);
	memset(huge, 'x', 2u << 20);
	huge[2u << 20] = '\0';
	got = json_of(huge);
	assert_string_equal(got, "\"\"");
	assert_int_equal(pawl_error_last()->code, 0);
	free(got);
	free(huge);
}

/* ---------------- did you mean ---------------- */

static void test_nearest(void **state)
{
	static const char *const cmds[] = { "init", "refresh", "download", "update", "status",
					    "rollback", "log", "clear-bad", "help" };
	size_t n = sizeof(cmds) / sizeof(cmds[0]);

	(void)state;
	assert_int_equal(cli_edit_distance("refresh", "refresh"), 0);
	assert_int_equal(cli_edit_distance("refesh", "refresh"), 1);   /* a letter left out */
	assert_int_equal(cli_edit_distance("stauts", "status"), 1);    /* two swapped */
	assert_int_equal(cli_edit_distance("updte", "update"), 1);
	assert_int_equal(cli_edit_distance("", "log"), 3);
	assert_string_equal(cli_nearest_word("refesh", cmds, n), "refresh");
	assert_string_equal(cli_nearest_word("stauts", cmds, n), "status");
	assert_string_equal(cli_nearest_word("lgo", cmds, n), "log");
	assert_string_equal(cli_nearest_word("clearbad", cmds, n), "clear-bad");
	/* too far, or too short to tell: no guess */
	assert_null(cli_nearest_word("frobnicate", cmds, n));
	assert_null(cli_nearest_word("x", cmds, n));
	/* longer than the table: no overflow, no guess */
	assert_null(cli_nearest_word("refreshrefreshrefreshrefreshrefreshrefresh", cmds, n));
}

/* ---------------- the exit-code table ---------------- */

static char *table_of(unsigned prog)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	cli_exit_table_print(f, prog);
	fclose(f);
	return text;
}

static void test_exit_table(void **state)
{
	char *p = table_of(CLI_PROG_PAWL), *r = table_of(CLI_PROG_PAWL_REPO);

	(void)state;
	assert_int_equal(CLI_EXIT_VERIFY, 2);
	assert_int_equal(CLI_EXIT_USAGE, 64);
	assert_non_null(strstr(p, "\n   0  success"));
	assert_non_null(strstr(p, "\n   3  network failure"));
	assert_non_null(strstr(p, "\n   5  refused"));
	assert_non_null(strstr(p, "\n  64  usage error"));
	/* pawl-repo prints only its own rows */
	assert_non_null(strstr(r, "\n   2  verification failure"));
	assert_non_null(strstr(r, "\n   6  log verify"));
	assert_null(strstr(r, "\n   3  "));
	assert_null(strstr(r, "\n   4  "));
	assert_null(strstr(r, "\n   5  "));
	/* wrapped within 78 columns */
	for (char *line = p; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		assert_true(strcspn(line, "\n") <= 78);
	free(p);
	free(r);
}

/* ---------------- log verify ---------------- */

struct logfx {
	char *dir;
	char path[4096];
	audit_head anchor;
};

static void make_log(struct logfx *x, int entries)
{
	audit_opts o = AUDIT_OPTS_INIT;
	audit_log *log = NULL;
	int fd;

	o.syslog = false;
	x->dir = t_mkdtemp();
	snprintf(x->path, sizeof(x->path), "%s/audit.log", x->dir);
	t_ok(dir_open(x->dir, &fd));
	t_ok(audit_open(&log, fd, "audit.log", &o));
	close(fd);
	for (int i = 0; i < entries; i++)
		t_ok(audit_appendf(log, "test.entry", AUDIT_INT("i", i)));
	t_ok(audit_flush(log));
	t_ok(audit_last(log, &x->anchor));
	t_ok(audit_close(log));
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *report_of(const char *path, const cli_log_result *r, bool json, int *ret_code)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	*ret_code = cli_log_report(f, path, r, json);
	fclose(f);
	return text;
}

static void test_log_check(void **state)
{
	struct logfx x;
	cli_log_result r;
	char *text;
	int code;

	(void)state;
	make_log(&x, 3);

	/* intact: 0, text and one JSON object */
	cli_log_check(x.path, NULL, &x.anchor, "state.json", &r);
	assert_int_equal(r.exit, CLI_EXIT_OK);
	text = report_of(x.path, &r, false, &code);
	assert_int_equal(code, 0);
	assert_true(starts(text, "ok "));
	assert_non_null(strstr(text, "anchor: state.json names entry"));
	free(text);
	text = report_of(x.path, &r, true, &code);
	assert_true(starts(text, "{\"ok\":true,\"entries\":"));
	assert_non_null(strstr(text, "\"incidents\":0"));
	assert_non_null(strstr(text, "\"exit\":0}\n"));
	/* one line: one object */
	assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
	free(text);

	/* the program's own incidents make an intact log 6 */
	cli_log_add_incidents(&r, 2, 1, "things (test.entry)");
	assert_int_equal(r.exit, CLI_EXIT_INCIDENTS);
	text = report_of(x.path, &r, false, &code);
	assert_int_equal(code, 6);
	assert_non_null(strstr(text, "records 2 things (test.entry), the first at seq 1"));
	free(text);

	/* altered: 2, with the problem's name */
	{
		FILE *f = fopen(x.path, "r+");
		char buf[65536];
		size_t n;
		char *p;

		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		p = strstr(buf, "\"i\":1");
		assert_non_null(p);
		p[4] = '7';
		rewind(f);
		assert_int_equal(fwrite(buf, 1, n, f), n);
		fclose(f);
	}
	cli_log_check(x.path, NULL, &x.anchor, "state.json", &r);
	assert_int_equal(r.exit, CLI_EXIT_VERIFY);
	text = report_of(x.path, &r, true, &code);
	assert_int_equal(code, 2);
	assert_true(starts(text, "{\"ok\":false,\"problem\":\"edited\""));
	free(text);

	/* gone, while the anchor names an entry of it: 2, "missing" */
	t_ok(unlink(x.path) == 0 ? 0 : -1);
	cli_log_check(x.path, NULL, &x.anchor, "agent.json", &r);
	assert_int_equal(r.exit, CLI_EXIT_VERIFY);
	assert_true(r.missing);
	text = report_of(x.path, &r, false, &code);
	assert_non_null(strstr(text, "FAILED missing:"));
	assert_non_null(strstr(text, "agent.json names its entry"));
	free(text);

	/* gone, and no anchor says it existed: it cannot be read, 1 */
	cli_log_check(x.path, NULL, NULL, NULL, &r);
	assert_int_equal(r.exit, CLI_EXIT_FAILURE);
	text = report_of(x.path, &r, true, &code);
	assert_int_equal(code, 1);
	assert_true(starts(text, "{\"ok\":false,\"error\":\"not found\""));
	free(text);
	assert_int_equal(pawl_error_last()->code, 0);

	t_rm_rf(x.dir);
	free(x.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_i64),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_nearest),
		cmocka_unit_test(test_exit_table),
		cmocka_unit_test(test_log_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

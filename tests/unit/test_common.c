/*
 * test_common.c - what the two programs share (src/common): strict
 * numbers and durations, and JSON strings for --json output. The `log`
 * commands are tested with the audit log, in test_audit.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_out.h"
#include "common/parse.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_json_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

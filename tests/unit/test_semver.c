/*
 * test_semver.c - Semantic Versioning 2.0.0 parsing and precedence: the
 * specification's own ordering examples, build metadata ignored, and every
 * malformed form the grammar excludes refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/semver.h"
#include "pawl/common.h"
#include "testing.h"

static int cmp(const char *a, const char *b)
{
	int c = 99;

	t_ok(semver_cmp_str(a, b, &c));
	return c;
}

/* Each list is in strictly increasing precedence: every pair is checked
 * both ways. */
static void ascending(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int c = cmp(v[i], v[j]);

			if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
				fail_msg("%s vs %s gave %d", v[i], v[j], c);
		}
	}
}

static void test_spec_examples(void **state)
{
	/* semver.org 11.4.4 */
	static const char *const pre[] = {
		"1.0.0-alpha",  "1.0.0-alpha.1",  "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
	};
	/* 11.2 */
	static const char *const core[] = { "1.0.0", "2.0.0", "2.1.0", "2.1.1" };

	(void)state;
	ascending(pre, sizeof(pre) / sizeof(pre[0]));
	ascending(core, sizeof(core) / sizeof(core[0]));
}

static void test_numeric_and_alpha(void **state)
{
	static const char *const v[] = {
		"0.0.0",
		"0.0.1",
		"0.9.0",
		"0.10.0",
		"1.0.0-0",
		"1.0.0-0.0",
		"1.0.0-1",
		"1.0.0-2",
		"1.0.0-10",
		/* numeric identifiers beyond 64 bits compare as digit strings */
		"1.0.0-99999999999999999999999",
		"1.0.0-100000000000000000000000",
		/* numeric < alphanumeric; then ASCII order: '-' < digits < 'A' < 'a' */
		"1.0.0--",
		"1.0.0-0a",
		"1.0.0-A",
		"1.0.0-a",
		"1.0.0-a.-",
		"1.0.0-aa",
		"1.0.0",
		"1.0.1",
		"18446744073709551615.0.0",
	};

	(void)state;
	ascending(v, sizeof(v) / sizeof(v[0]));
}

static void test_build_ignored(void **state)
{
	semver v;

	(void)state;
	assert_int_equal(cmp("1.0.0+a", "1.0.0+b"), 0);
	assert_int_equal(cmp("1.0.0+a", "1.0.0"), 0);
	assert_int_equal(cmp("1.0.0-rc.1+001", "1.0.0-rc.1"), 0);
	assert_true(cmp("1.0.0-rc.1+zzz", "1.0.0+aaa") < 0);
	t_ok(semver_parse("1.2.3-beta.4+exp.sha.5114f85", &v));
	assert_true(v.major == 1 && v.minor == 2 && v.patch == 3);
	assert_int_equal(v.pre_len, strlen("beta.4"));
	assert_memory_equal(v.str + v.pre_off, "beta.4", v.pre_len);
	assert_memory_equal(v.str + v.build_off, "exp.sha.5114f85", v.build_len);
	assert_string_equal(v.str, "1.2.3-beta.4+exp.sha.5114f85");
	/* build identifiers may have leading zeros */
	t_ok(semver_parse("1.0.0+001.0002", &v));
	t_ok(semver_parse("1.0.0-x-y-z.--", &v));
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"",          "1",          "1.2",        "1.2.3.4",     "v1.2.3",
		" 1.2.3",    "1.2.3 ",     "01.2.3",     "1.02.3",      "1.2.03",
		"1.2.3-",    "1.2.3+",     "1.2.3-01",   "1.2.3-a..b",  "1.2.3-a.",
		"1.2.3-.a",  "1.2.3+a..b", "1.2.3+a+b",  "1.2.3-a_b",   "1.2.3-ä",
		"-1.2.3",    "1.-2.3",     "1.2.-3",     "1..3",        "1.2.3\n",
		"1.2.3/x",   "1.2.3-../x", "a.b.c",      "1.2.3-a b",   "1.2.3+a/b",
		"1.2.3-00",
	};
	semver v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = semver_parse(bad[i], &v);

		if (r != PAWL_E_FORMAT)
			fail_msg("\"%s\" gave %d, want PAWL_E_FORMAT", bad[i], r);
	}
	t_fails(semver_parse(NULL, &v), PAWL_E_INVALID);
}

static void test_limits(void **state)
{
	char big[SEMVER_MAX_LEN + 8];
	semver v;

	(void)state;
	/* MAJOR/MINOR/PATCH must fit in 64 bits */
	t_fails(semver_parse("18446744073709551616.0.0", &v), PAWL_E_LIMIT);
	t_fails(semver_parse("0.99999999999999999999.0", &v), PAWL_E_LIMIT);
	t_ok(semver_parse("0.0.18446744073709551615", &v));
	assert_true(v.patch == UINT64_MAX);
	/* exactly SEMVER_MAX_LEN is fine, one more is not */
	memset(big, 'a', sizeof(big));
	memcpy(big, "1.0.0-", 6);
	big[SEMVER_MAX_LEN] = '\0';
	t_ok(semver_parse(big, &v));
	big[SEMVER_MAX_LEN] = 'a';
	big[SEMVER_MAX_LEN + 1] = '\0';
	t_fails(semver_parse(big, &v), PAWL_E_LIMIT);
}

static void test_output_untouched_on_error(void **state)
{
	semver v;

	(void)state;
	memset(&v, 0x5a, sizeof(v));
	assert_true(semver_parse("1.2", &v) < 0);
	for (size_t i = 0; i < sizeof(v); i++)
		assert_int_equal(((unsigned char *)&v)[i], 0x5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_numeric_and_alpha),
		cmocka_unit_test(test_build_ignored),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_output_untouched_on_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

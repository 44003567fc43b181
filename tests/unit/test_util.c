/*
 * test_util.c - the error model, bounded buffers and time parsing.
 */
#include <string.h>

#include "pawl/common.h"
#include "testing.h"
#include "util/buf.h"
#include "util/clock.h"

static void test_error_model(void **state)
{
	(void)state;
	pawl_error_clear();
	assert_int_equal(pawl_error_last()->code, 0);
	assert_int_equal(pawl_error_set(PAWL_E_HASH, "target %s", "a.txt"), PAWL_E_HASH);
	assert_int_equal(pawl_error_prefix(PAWL_E_HASH, "download: "), PAWL_E_HASH);
	assert_string_equal(pawl_error_last()->message, "download: target a.txt");
	assert_int_equal(pawl_error_last()->code, PAWL_E_HASH);
	assert_string_equal(pawl_strerror(PAWL_E_SIGNATURE), "signature verification failed");
}

static void test_buf_limit(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(8);

	(void)state;
	t_ok(buf_append(&b, "1234", 4));
	t_ok(buf_puts(&b, "5678"));
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	t_fails(buf_putc(&b, '9'), PAWL_E_LIMIT);
	assert_int_equal(b.len, 8);
	buf_reset(&b);
	t_ok(buf_printf(&b, "%d-%s", 42, "x"));
	assert_string_equal(b.data, "42-x");
	t_fails(buf_printf(&b, "%s", "toolong!"), PAWL_E_LIMIT);
	buf_free(&b);
}

static void test_buf_overflow(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX);

	(void)state;
	t_ok(buf_putc(&b, 'x'));
	t_fails(buf_reserve(&b, SIZE_MAX), PAWL_E_LIMIT);
	buf_free(&b);
}

static void test_time_parse(void **state)
{
	int64_t t;
	char out[21];

	(void)state;
	t_ok(pawl_time_parse("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	t_ok(pawl_time_parse("2030-01-01T00:00:00Z", &t));
	assert_int_equal(t, 1893456000);
	t_ok(pawl_time_parse("2024-02-29T23:59:59Z", &t));
	pawl_time_format(t, out);
	assert_string_equal(out, "2024-02-29T23:59:59Z");
	t_fails(pawl_time_parse("2023-02-29T00:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T00:00:00", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01 00:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T00:00:00.5Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-13-01T00:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T24:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T00:00:00+01:00", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("+030-01-01T00:00:00Z", &t), PAWL_E_FORMAT);
}

static void test_clock_seam(void **state)
{
	(void)state;
	t_set_time("2025-02-09T12:02:08Z");
	assert_int_equal(pawl_now(), 1739102528);
	pawl__test_set_now(-1);
	assert_true(pawl_now() > 1739102528);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_model),
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_buf_overflow),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_clock_seam),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

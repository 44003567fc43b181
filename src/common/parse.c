/*
 * parse.c - strict numbers and durations (parse.h).
 */
#include <inttypes.h>
#include <stdbool.h>

#include "common/parse.h"
#include "base/base.h"

#define DAY_S 86400

/* The leading digits of s into *ret, *ret_end after them; false when
 * there are none or they overflow. */
static bool leading_digits(const char *s, uint64_t *ret, const char **ret_end)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return false;
	}
	if (p == s)
		return false;
	*ret = v;
	*ret_end = p;
	return true;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	const char *end;
	uint64_t v;

	ENSURE(s, PAWL_E_INVALID, "no number given");
	ENSURE(leading_digits(s, &v, &end) && *end == '\0', PAWL_E_INVALID,
	       "\"%.64s\" is not a whole number from %" PRIu64 " to %" PRIu64, s, min, max);
	ENSURE(v >= min && v <= max, PAWL_E_INVALID,
	       "%.64s is out of range (%" PRIu64 " to %" PRIu64 ")", s, min, max);
	*ret = v;
	return 0;
}

int cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	const char *end;
	bool neg;
	uint64_t v;
	int64_t r;

	ENSURE(s, PAWL_E_INVALID, "no number given");
	neg = *s == '-';
	ENSURE(leading_digits(s + neg, &v, &end) && *end == '\0' &&
	       v <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX), PAWL_E_INVALID,
	       "\"%.64s\" is not a whole number from %" PRId64 " to %" PRId64, s, min, max);
	r = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	ENSURE(r >= min && r <= max, PAWL_E_INVALID,
	       "%.64s is out of range (%" PRId64 " to %" PRId64 ")", s, min, max);
	*ret = r;
	return 0;
}

int cli_parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v;

	GUARD(cli_parse_u64(s, 0, UINT32_MAX, &v));
	*ret = (uint32_t)v;
	return 0;
}

static const char *unit_name(int64_t unit_s)
{
	switch (unit_s) {
	case 1: return "SECONDS";
	case 60: return "MINUTES";
	case 3600: return "HOURS";
	default: return "DAYS";
	}
}

int cli_parse_duration(const char *what, const char *s, int64_t unit_s, int64_t max_s,
		       int64_t *ret)
{
	const char *end;
	uint64_t v, secs;
	int64_t unit = unit_s;

	ENSURE(unit_s == 1 || unit_s == 60 || unit_s == 3600 || unit_s == DAY_S,
	       PAWL_E_INVALID, "%s: no such unit of %" PRId64 " seconds", what, unit_s);
	ENSURE(s && leading_digits(s, &v, &end) && (end[0] == '\0' || end[1] == '\0'),
	       PAWL_E_INVALID, "bad %s \"%.64s\" (%s, or a number with d, h, m or s)", what,
	       s ? s : "", unit_name(unit_s));
	switch (*end) {
	case '\0': break;
	case 'd': unit = DAY_S; break;
	case 'h': unit = 3600; break;
	case 'm': unit = 60; break;
	case 's': unit = 1; break;
	default:
		return pawl_error_set(PAWL_E_INVALID,
				      "bad %s \"%.64s\" (%s, or a number with d, h, m or s)", what,
				      s, unit_name(unit_s));
	}
	ENSURE(v > 0 && !__builtin_mul_overflow(v, (uint64_t)unit, &secs) && max_s > 0 &&
		       secs <= (uint64_t)max_s,
	       PAWL_E_INVALID, "%s \"%.64s\" out of range", what, s);
	*ret = (int64_t)secs;
	return 0;
}

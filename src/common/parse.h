/*
 * parse.h - numbers and durations from the command line and the
 * configuration file, parsed strictly and the same way in both programs.
 *
 * Strict means: ASCII decimal digits and nothing else (no sign, no
 * leading or trailing space, no "0x", no empty string), checked for
 * overflow, and range-checked by the caller's bounds. strtoul() accepts
 * " 5", "+5" and, for unsigned types, "-5" as a huge number; these do
 * not. Each returns 0 or PAWL_E_INVALID with a message that quotes the
 * text (at most 64 bytes of it), and writes *ret only on success.
 */
#ifndef PAWL_COMMON_PARSE_H
#define PAWL_COMMON_PARSE_H

#include <stdint.h>

#include "pawl/common.h"

/* A decimal number from min to max. */
PAWL_MUST_USE int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* A decimal number from min to max, with an optional leading '-' (the
 * only sign allowed; "-0" is 0). For values read back from a database
 * as text as much as for options. */
PAWL_MUST_USE int cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* A decimal number that fits in 32 bits. */
PAWL_MUST_USE int cli_parse_u32(const char *s, uint32_t *ret);

/*
 * A duration in seconds: a decimal number followed by at most one unit,
 * s, m, h or d (seconds, minutes, hours, days), or by none, when it
 * counts unit_s seconds (1, 60, 3600 or 86400). It must be from 1 second
 * to max_s seconds. what names the value in messages ("period").
 */
PAWL_MUST_USE int cli_parse_duration(const char *what, const char *s, int64_t unit_s,
				     int64_t max_s, int64_t *ret);

#endif

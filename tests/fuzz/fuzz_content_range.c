/*
 * fuzz_content_range.c - the Content-Range parser and check (range.c), the
 * one header of a 206 response that pawl reads itself, against an oracle.
 *
 *  - Acceptance: content_range_parse() accepts exactly the inputs that
 *    match ^bytes D-D/(D|\*)$ (POSIX ERE over the input, which must hold
 *    no NUL) whose numbers fit in 64 bits and where FIRST <= LAST and
 *    LAST < TOTAL; the numbers it returns are those digits.
 *  - The check: content_range_check() passes an accepted header for a
 *    request from FIRST of a resource of TOTAL (or LAST + 1) bytes, and
 *    refuses it with PAWL_E_LIMIT for a resource a byte smaller and with
 *    PAWL_E_NETWORK from any other offset; a refused header is
 *    PAWL_E_NETWORK whatever was asked.
 * Any disagreement aborts.
 */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/fetch_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static regex_t re;
static bool re_ready;

/* The decimal digits [p, p + n) as a uint64_t; false when they overflow. */
static bool ref_number(const char *p, size_t n, uint64_t *ret)
{
	static const char max[] = "18446744073709551615";
	uint64_t v = 0;

	while (n > 1 && *p == '0')
		p++, n--;
	if (n > sizeof(max) - 1 || (n == sizeof(max) - 1 && memcmp(p, max, n) > 0))
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	*ret = v;
	return true;
}

/* The reference: the grammar as a regular expression, the rest by hand. */
static bool ref_parse(const char *s, size_t n, content_range *ret)
{
	regmatch_t m[5];
	content_range r = { 0 };

	if (memchr(s, '\0', n) || regexec(&re, s, 5, m, 0) != 0)
		return false;
	if (!ref_number(s + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so), &r.first) ||
	    !ref_number(s + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so), &r.last))
		return false;
	if (m[4].rm_so >= 0) {
		if (!ref_number(s + m[4].rm_so, (size_t)(m[4].rm_eo - m[4].rm_so), &r.total))
			return false;
		r.have_total = true;
	}
	if (r.last < r.first || (r.have_total && r.last >= r.total))
		return false;
	*ret = r;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	content_range got, want;
	bool ok, ref_ok;
	char *s;

	if (!re_ready) {
		if (regcomp(&re, "^bytes ([0-9]+)-([0-9]+)/(([0-9]+)|\\*)$", REG_EXTENDED) != 0)
			abort();
		re_ready = true;
	}
	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	ok = content_range_parse(s, size, &got);
	ref_ok = ref_parse(s, size, &want);
	if (ok != ref_ok)
		abort();
	if (ok) {
		if (got.first != want.first || got.last != want.last ||
		    got.have_total != want.have_total || (want.have_total && got.total != want.total))
			abort();
		/* No NUL inside, so the C string is the whole header. */
		if (!want.have_total && want.last == UINT64_MAX) {
			/* No resource of at most UINT64_MAX bytes has that byte. */
			if (content_range_check(s, want.first, UINT64_MAX, "u") != PAWL_E_LIMIT)
				abort();
		} else {
			uint64_t need = want.have_total ? want.total : want.last + 1;

			if (content_range_check(s, want.first, need, "u") != 0 ||
			    content_range_check(s, want.first, need - 1, "u") != PAWL_E_LIMIT)
				abort();
		}
		if (want.first < UINT64_MAX &&
		    content_range_check(s, want.first + 1, UINT64_MAX, "u") != PAWL_E_NETWORK)
			abort();
		if (want.first > 0 &&
		    content_range_check(s, want.first - 1, UINT64_MAX, "u") != PAWL_E_NETWORK)
			abort();
	} else if (!memchr(data, '\0', size) &&
		   content_range_check(s, 0, UINT64_MAX, "u") != PAWL_E_NETWORK) {
		abort();
	}
	pawl_error_clear();
	free(s);
	return 0;
}

/*
 * fuzz_semver.c - semver_parse() and semver_cmp() against two independent
 * oracles.
 *
 * The input is split at newlines into up to three strings.
 *  - Acceptance: a string parses exactly when it matches the regular
 *    expression semver.org publishes (as POSIX ERE), is at most
 *    SEMVER_MAX_LEN bytes and its MAJOR.MINOR.PATCH fit in 64 bits; a
 *    string the expression accepts but the limits do not is PAWL_E_LIMIT,
 *    anything else is refused.
 *  - Precedence: semver_cmp() agrees in sign with a straightforward
 *    re-implementation of section 11 written over the strings (split at
 *    '.', digits compared by length then bytes), and is antisymmetric and
 *    transitive over the three.
 *  - A parsed version re-parses from its own str to the same value.
 * Any disagreement aborts.
 */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NUM "(0|[1-9][0-9]*)"
#define PRE_ID "(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
#define BUILD_ID "[0-9a-zA-Z-]+"
static const char semver_re[] = "^" NUM "\\." NUM "\\." NUM "(-" PRE_ID "(\\." PRE_ID ")*)?"
				"(\\+" BUILD_ID "(\\." BUILD_ID ")*)?$";

static regex_t re;
static int re_ready;

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static bool core_fits(const char *s)
{
	/* Three numbers, each at most UINT64_MAX. */
	for (int i = 0; i < 3; i++) {
		uint64_t v = 0;

		while (*s >= '0' && *s <= '9') {
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
				return false;
			s++;
		}
		s++;
	}
	return true;
}

/* Section 11 over the strings. */
static int cmp_digits(const char *a, size_t al, const char *b, size_t bl)
{
	int c;

	while (al > 1 && *a == '0') /* only "0" itself; kept for safety */
		a++, al--;
	while (bl > 1 && *b == '0')
		b++, bl--;
	if (al != bl)
		return al < bl ? -1 : 1;
	c = memcmp(a, b, al);
	return sign(c);
}

static bool digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return n > 0;
}

static int ref_cmp(const char *a, const char *b)
{
	const char *ae = a + strcspn(a, "+"), *be = b + strcspn(b, "+");
	const char *ap = memchr(a, '-', (size_t)(ae - a)), *bp = memchr(b, '-', (size_t)(be - b));
	const char *ac = a, *bc = b;
	size_t an, bn;
	int c;

	/* core: three dot-separated digit strings before '-' or '+' */
	for (int i = 0; i < 3; i++) {
		an = strspn(ac, "0123456789");
		bn = strspn(bc, "0123456789");
		if ((c = cmp_digits(ac, an, bc, bn)) != 0)
			return c;
		ac += an + 1;
		bc += bn + 1;
	}
	if (!ap || !bp)
		return ap ? -1 : (bp ? 1 : 0);
	ap++;
	bp++;
	for (;;) {
		size_t al = strcspn(ap, ".+"), bl = strcspn(bp, ".+");
		bool ad = digits(ap, al), bd = digits(bp, bl);

		if (ad && bd)
			c = cmp_digits(ap, al, bp, bl);
		else if (ad != bd)
			c = ad ? -1 : 1;
		else {
			c = memcmp(ap, bp, al < bl ? al : bl);
			c = c ? sign(c) : (al < bl ? -1 : al > bl);
		}
		if (c)
			return c;
		ap += al;
		bp += bl;
		if (*ap != '.' || *bp != '.')
			return (*ap == '.') - (*bp == '.');
		ap++;
		bp++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[3][300];
	semver v[3];
	bool ok[3] = { false, false, false };
	size_t n = 0, start = 0;

	if (!re_ready) {
		if (regcomp(&re, semver_re, REG_EXTENDED | REG_NOSUB) != 0)
			abort();
		re_ready = 1;
	}
	if (size > 900)
		return 0;
	for (size_t i = 0; i <= size && n < 3; i++) {
		if (i == size || data[i] == '\n') {
			size_t len = i - start;

			if (len >= sizeof(buf[0]))
				len = sizeof(buf[0]) - 1;
			memcpy(buf[n], data + start, len);
			buf[n][len] = '\0';
			n++;
			start = i + 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool match = regexec(&re, buf[i], 0, NULL, 0) == 0;
		bool fits = strlen(buf[i]) <= SEMVER_MAX_LEN && (!match || core_fits(buf[i]));
		int r = semver_parse(buf[i], &v[i]);

		if (match && fits) {
			semver again;

			if (r != 0)
				abort();
			if (strcmp(v[i].str, buf[i]) != 0 || semver_parse(v[i].str, &again) != 0 ||
			    memcmp(&again, &v[i], sizeof(again)) != 0 || semver_cmp(&v[i], &v[i]) != 0)
				abort();
			ok[i] = true;
		} else if (match) {
			if (r != PAWL_E_LIMIT)
				abort();
		} else if (r != PAWL_E_FORMAT && r != PAWL_E_LIMIT) {
			/* not SemVer: refused (LIMIT when a bound is hit
			 * before the grammar fails) */
			abort();
		}
		pawl_error_clear();
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int c;

			if (!ok[i] || !ok[j])
				continue;
			c = sign(semver_cmp(&v[i], &v[j]));
			if (c != -sign(semver_cmp(&v[j], &v[i])) || c != ref_cmp(buf[i], buf[j]))
				abort();
			for (size_t k = 0; k < n; k++) {
				if (ok[k] && c <= 0 && semver_cmp(&v[j], &v[k]) <= 0 &&
				    semver_cmp(&v[i], &v[k]) > 0)
					abort();
			}
		}
	}
	return 0;
}

/*
 * semver.c - strict Semantic Versioning 2.0.0 parsing and precedence.
 * See semver.h for the guarantees.
 *
 * The parser follows the specification's BNF one production at a time:
 *
 *   <valid semver> ::= <version core>
 *                    | <version core> "-" <pre-release>
 *                    | <version core> "+" <build>
 *                    | <version core> "-" <pre-release> "+" <build>
 *   <version core> ::= <numeric identifier> "." <numeric identifier> "." <numeric identifier>
 *   <pre-release>  ::= <pre-release identifier> { "." <pre-release identifier> }
 *   <pre-release identifier> ::= <alphanumeric identifier> | <numeric identifier>
 *   <build>        ::= <build identifier> { "." <build identifier> }
 *   <build identifier> ::= <alphanumeric identifier> | <digits>
 *   <numeric identifier> ::= "0" | <positive digit> { <digit> }
 */
#include <stdbool.h>
#include <string.h>

#include "util/semver.h"
#include "pawl/semver.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A printable excerpt of untrusted input for messages. */
static const char *excerpt(const char *s, char out[48])
{
	size_t i;

	for (i = 0; i < 40 && s[i]; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] && i == 40) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* One numeric identifier of the version core at s[*pos]. */
static int parse_core_number(const char *s, size_t *pos, uint64_t *ret, const char *what)
{
	size_t i = *pos;
	uint64_t v = 0;
	char ex[48];

	if (!is_digit(s[i]))
		return pawl_error_set(PAWL_E_FORMAT, "version \"%s\": %s is not a number",
				      excerpt(s, ex), what);
	if (s[i] == '0' && is_digit(s[i + 1]))
		return pawl_error_set(PAWL_E_FORMAT, "version \"%s\": %s has a leading zero",
				      excerpt(s, ex), what);
	for (; is_digit(s[i]); i++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return pawl_error_set(PAWL_E_LIMIT, "version \"%s\": %s is too large",
					      excerpt(s, ex), what);
	}
	*pos = i;
	*ret = v;
	return 0;
}

/* A dot-separated list of identifiers at s[*pos], up to the end or stop
 * (a character that is not part of the list). Pre-release identifiers
 * that are all digits must not have leading zeros; build identifiers may. */
static int parse_idents(const char *s, size_t *pos, bool pre, const char *what)
{
	size_t i = *pos;
	char ex[48];

	for (;;) {
		size_t start = i;
		bool numeric = true;

		while (is_ident_char(s[i])) {
			numeric &= is_digit(s[i]);
			i++;
		}
		if (i == start)
			return pawl_error_set(PAWL_E_FORMAT, "version \"%s\": empty %s identifier",
					      excerpt(s, ex), what);
		if (pre && numeric && s[start] == '0' && i - start > 1)
			return pawl_error_set(PAWL_E_FORMAT,
					      "version \"%s\": numeric %s identifier has a leading zero",
					      excerpt(s, ex), what);
		if (s[i] != '.')
			break;
		i++;
	}
	*pos = i;
	return 0;
}

int semver_parse(const char *s, semver *ret)
{
	semver v;
	size_t len, i = 0;
	char ex[48];

	ENSURE(s && ret, PAWL_E_INVALID, "no version");
	len = strnlen(s, SEMVER_MAX_LEN + 1);
	ENSURE(len > 0, PAWL_E_FORMAT, "empty version");
	ENSURE(len <= SEMVER_MAX_LEN, PAWL_E_LIMIT, "version \"%s\" is longer than %d bytes",
	       excerpt(s, ex), SEMVER_MAX_LEN);
	memset(&v, 0, sizeof(v));

	GUARD(parse_core_number(s, &i, &v.major, "MAJOR"));
	ENSURE(s[i] == '.', PAWL_E_FORMAT, "version \"%s\": expected MAJOR.MINOR.PATCH",
	       excerpt(s, ex));
	i++;
	GUARD(parse_core_number(s, &i, &v.minor, "MINOR"));
	ENSURE(s[i] == '.', PAWL_E_FORMAT, "version \"%s\": expected MAJOR.MINOR.PATCH",
	       excerpt(s, ex));
	i++;
	GUARD(parse_core_number(s, &i, &v.patch, "PATCH"));
	if (s[i] == '-') {
		i++;
		v.pre_off = (uint8_t)i;
		GUARD(parse_idents(s, &i, true, "pre-release"));
		v.pre_len = (uint8_t)(i - v.pre_off);
	}
	if (s[i] == '+') {
		i++;
		v.build_off = (uint8_t)i;
		GUARD(parse_idents(s, &i, false, "build"));
		v.build_len = (uint8_t)(i - v.build_off);
	}
	ENSURE(s[i] == '\0', PAWL_E_FORMAT, "version \"%s\": unexpected character at offset %zu",
	       excerpt(s, ex), i);
	memcpy(v.str, s, len + 1);
	*ret = v;
	return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* One pre-release identifier: the bytes up to '.' or end. */
static size_t ident_len(const char *p, size_t left)
{
	size_t n = 0;

	while (n < left && p[n] != '.')
		n++;
	return n;
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

/* Section 11.4: identifiers compared left to right; numeric ones
 * numerically (without leading zeros, longer means larger), others in
 * ASCII order; numeric ones are lower than alphanumeric ones; a larger
 * set is higher when all before are equal. */
static int cmp_pre(const char *a, size_t alen, const char *b, size_t blen)
{
	for (;;) {
		size_t na, nb;
		bool da, db;
		int c;

		if (alen == 0 || blen == 0)
			return cmp_u64(alen, blen);
		na = ident_len(a, alen);
		nb = ident_len(b, blen);
		da = all_digits(a, na);
		db = all_digits(b, nb);
		if (da != db)
			return da ? -1 : 1;
		if (da && na != nb)
			return cmp_u64(na, nb);
		c = memcmp(a, b, na < nb ? na : nb);
		if (c != 0)
			return c < 0 ? -1 : 1;
		if (na != nb)
			return cmp_u64(na, nb);
		/* Equal identifiers: step over them and their dot. */
		a += na;
		alen -= na;
		b += nb;
		blen -= nb;
		if (alen > 0) {
			a++;
			alen--;
		}
		if (blen > 0) {
			b++;
			blen--;
		}
	}
}

int semver_cmp(const semver *a, const semver *b)
{
	int c;

	if ((c = cmp_u64(a->major, b->major)) != 0)
		return c;
	if ((c = cmp_u64(a->minor, b->minor)) != 0)
		return c;
	if ((c = cmp_u64(a->patch, b->patch)) != 0)
		return c;
	/* Section 11.3: a pre-release has lower precedence than the release. */
	if (a->pre_len == 0 || b->pre_len == 0)
		return a->pre_len == b->pre_len ? 0 : (a->pre_len == 0 ? 1 : -1);
	return cmp_pre(a->str + a->pre_off, a->pre_len, b->str + b->pre_off, b->pre_len);
}

int semver_cmp_str(const char *a, const char *b, int *ret)
{
	semver va, vb;

	GUARD(semver_parse(a, &va));
	GUARD(semver_parse(b, &vb));
	*ret = semver_cmp(&va, &vb);
	return 0;
}

/* ---------------- the public API (pawl/semver.h) ---------------- */

PAWL_API int pawl_semver_check(const char *s)
{
	semver v;

	ENSURE(s, PAWL_E_INVALID, "version: NULL");
	return semver_parse(s, &v);
}

PAWL_API int pawl_semver_compare(int *out, const char *a, const char *b)
{
	int c;

	ENSURE(out && a && b, PAWL_E_INVALID, "version comparison: NULL argument");
	GUARD(semver_cmp_str(a, b, &c));
	*out = c;
	return 0;
}

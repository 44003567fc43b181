/*
 * range.c - the Content-Range header of a resumed download (RFC 9110,
 * section 14.4), parsed from the untrusted response through a bounded
 * cursor and checked against what was asked for (fetch_impl.h). Only the
 * "bytes FIRST-LAST/TOTAL" and "bytes FIRST-LAST/ *" forms are accepted;
 * anything else in a 206 response is refused.
 */
#include <inttypes.h>
#include <string.h>

#include "fetch/fetch_impl.h"
#include "util/buf.h"

/* Digits up to a non-digit, into *ret; false on none or overflow. */
static bool range_number(pawl_cursor *c, uint64_t *ret)
{
	uint64_t v = 0;
	uint8_t ch;
	bool any = false;

	while (cursor_peek(c, &ch) && ch >= '0' && ch <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, ch - '0', &v))
			return false;
		any = true;
		cursor_skip(c, 1);
	}
	*ret = v;
	return any;
}

static bool expect(pawl_cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->left < n || memcmp(c->p, lit, n) != 0)
		return false;
	return cursor_skip(c, n);
}

bool content_range_parse(const char *s, size_t n, content_range *ret)
{
	pawl_cursor c = cursor_init(s, n);
	content_range r = { 0 };

	if (!expect(&c, "bytes ") || !range_number(&c, &r.first) || !expect(&c, "-") ||
	    !range_number(&c, &r.last) || !expect(&c, "/"))
		return false;
	if (expect(&c, "*"))
		r.have_total = false;
	else if (range_number(&c, &r.total))
		r.have_total = true;
	else
		return false;
	if (c.left != 0 || r.last < r.first || (r.have_total && r.last >= r.total))
		return false;
	*ret = r;
	return true;
}

int content_range_check(const char *value, uint64_t resume_from, uint64_t max_bytes,
			const char *url)
{
	content_range r;

	ENSURE(content_range_parse(value, strlen(value), &r), PAWL_E_NETWORK,
	       "malformed Content-Range '%s' from %s", value, url);
	ENSURE(r.first == resume_from, PAWL_E_NETWORK,
	       "asked %s for bytes from %" PRIu64 " on, got a range starting at %" PRIu64
	       "; restart the download",
	       url, resume_from, r.first);
	ENSURE(r.last < max_bytes && (!r.have_total || r.total <= max_bytes), PAWL_E_LIMIT,
	       "%s is larger than the %" PRIu64 " bytes allowed (Content-Range: %s)", url,
	       max_bytes, value);
	return 0;
}

int content_range_check_exact(const char *value, uint64_t first, uint64_t last, uint64_t total,
			      const char *url)
{
	content_range r;

	ENSURE(content_range_parse(value, strlen(value), &r), PAWL_E_NETWORK,
	       "malformed Content-Range '%s' from %s", value, url);
	ENSURE(r.first == first && r.last == last && r.have_total && r.total == total,
	       PAWL_E_NETWORK,
	       "asked %s for bytes %" PRIu64 "-%" PRIu64 " of %" PRIu64
	       ", got Content-Range '%s'",
	       url, first, last, total, value);
	return 0;
}

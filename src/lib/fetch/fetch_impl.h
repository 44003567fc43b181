/*
 * fetch_impl.h - what url.c and fetch.c share; not part of the module's
 * interface.
 */
#ifndef PAWL_FETCH_IMPL_H
#define PAWL_FETCH_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "util/guard.h"

/* URLs longer than this are refused (PAWL_E_LIMIT) before parsing. */
#define FETCH_MAX_URL 8192

static inline void curlu_freep(CURLU **u)
{
	curl_url_cleanup(*u); /* accepts NULL */
}
#define _cleanup_curlu_ _cleanup_(curlu_freep)

static inline void curl_strp(char **p)
{
	curl_free(*p); /* accepts NULL */
}
#define _cleanup_curl_str_ _cleanup_(curl_strp)

typedef enum url_kind {
	URL_HTTPS,
	URL_HTTP_LOOPBACK,
	URL_FILE,
} url_kind;

typedef struct url_parsed {
	CURLU *u;      /* curl's parse, handed to libcurl as CURLOPT_CURLU */
	url_kind kind;
	bool loopback; /* host is loopback (never sent through a proxy) */
} url_parsed;

/* Parse url with curl's URL API and apply the policy in fetch.h. On
 * success ret->u is owned by the caller (curl_url_cleanup). */
PAWL_MUST_USE int url_parse_allowed(url_parsed *ret, const char *url);

/* 1 when a and b have the same scheme, host (ignoring case) and port
 * (default ports made explicit), 0 when not, <0 on error. */
PAWL_MUST_USE int url_same_origin(CURLU *a, CURLU *b);

/* ---- Content-Range (range.c) ---- */

typedef struct content_range {
	uint64_t first, last; /* the bytes sent, inclusive: first <= last */
	uint64_t total;       /* the resource's size, when have_total; last < total */
	bool have_total;      /* false for "bytes FIRST-LAST/ *" */
} content_range;

/* Parse the n bytes at s as "bytes FIRST-LAST/TOTAL" or
 * "bytes FIRST-LAST/ *" (RFC 9110 14.4; decimal, no sign, no spaces
 * beyond the one after "bytes"). false for anything else, and for ranges
 * that contradict themselves (LAST < FIRST, LAST >= TOTAL). */
bool content_range_parse(const char *s, size_t n, content_range *ret);

/* Check a 206 response's Content-Range value (a C string) for a request
 * of the bytes from resume_from on, of a resource of at most max_bytes:
 * PAWL_E_NETWORK when malformed or starting elsewhere, PAWL_E_LIMIT when
 * the resource would be larger. url names the request in messages. */
PAWL_MUST_USE int content_range_check(const char *value, uint64_t resume_from,
				      uint64_t max_bytes, const char *url);

/* Check a 206 response's Content-Range value against a request of bytes
 * first to last (inclusive) of a resource of exactly total bytes: it must
 * name exactly "bytes first-last/total" (PAWL_E_NETWORK otherwise). */
PAWL_MUST_USE int content_range_check_exact(const char *value, uint64_t first, uint64_t last,
					    uint64_t total, const char *url);

#endif

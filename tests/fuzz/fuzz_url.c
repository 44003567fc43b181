/*
 * fuzz_url.c - the URL policy, origins, escaping and joining (url.c).
 *
 * The input is split at its first newline into A and B.
 *  - Policy: url_parse_allowed(A) either refuses with PAWL_E_INVALID,
 *    PAWL_E_POLICY, PAWL_E_LIMIT (or PAWL_E_NOMEM), or returns a handle
 *    whose scheme, read back from libcurl, is https, http or file, with no
 *    user name or password, whose http host is loopback by a check written
 *    here independently (127.0.0.0/8 as a dotted quad, [::1],
 *    "localhost"), whose file host is empty or "localhost", and whose kind
 *    matches the scheme, and whose file path is absolute. Whatever is
 *    accepted was at most FETCH_MAX_URL bytes. The URL libcurl prints for
 *    an accepted http(s) handle is accepted again, with the same kind.
 *  - Origins: every accepted URL has its own origin; same-origin is
 *    symmetric between A and B.
 *  - Escaping: url_escape(A) writes only unreserved characters and %XX
 *    (and '/' when kept), and percent-decoding it gives A back; a NUL
 *    byte is refused.
 *  - Joining: url_join(A, B) succeeds exactly when A has a scheme ("x://")
 *    and no '?' or '#', and B is printable ASCII without '?', '#' or a
 *    space; then the result is A without trailing slashes (beyond "://"),
 *    '/', and B without leading slashes.
 * Any disagreement aborts.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch/fetch.h"
#include "fetch/fetch_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "127.a.b.c" with each part a decimal byte without leading zeros (the
 * dotted quad libcurl normalises every IPv4 form to). */
static bool ref_ipv4_loopback(const char *h)
{
	unsigned parts = 0, v = 0, digits = 0;
	unsigned first = 0;

	for (const char *p = h;; p++) {
		if (*p >= '0' && *p <= '9') {
			if (digits > 0 && v == 0)
				return false;
			v = v * 10 + (unsigned)(*p - '0');
			if (++digits > 3 || v > 255)
				return false;
		} else if (*p == '.' || *p == '\0') {
			if (digits == 0)
				return false;
			if (parts == 0)
				first = v;
			parts++;
			v = digits = 0;
			if (*p == '\0')
				break;
		} else {
			return false;
		}
	}
	return parts == 4 && first == 127;
}

static bool ref_loopback(const char *h)
{
	struct in6_addr a6;
	char v6[64];
	size_t n = strlen(h);

	if (strcasecmp(h, "localhost") == 0 || ref_ipv4_loopback(h))
		return true;
	if (n < 3 || h[0] != '[' || h[n - 1] != ']' || n - 2 >= sizeof(v6))
		return false;
	memcpy(v6, h + 1, n - 2);
	v6[n - 2] = '\0';
	return inet_pton(AF_INET6, v6, &a6) == 1 && memcmp(&a6, &in6addr_loopback, 16) == 0;
}

static char *part(CURLU *u, CURLUPart what)
{
	char *s = NULL;

	return curl_url_get(u, what, &s, 0) == CURLUE_OK ? s : NULL;
}

static void check_policy(const char *url, url_parsed *p)
{
	char *scheme = part(p->u, CURLUPART_SCHEME), *host = part(p->u, CURLUPART_HOST);
	char *user = part(p->u, CURLUPART_USER), *pass = part(p->u, CURLUPART_PASSWORD);

	if (strlen(url) > FETCH_MAX_URL || !scheme || user || pass)
		abort();
	if (strcmp(scheme, "https") == 0) {
		if (p->kind != URL_HTTPS || !host || !host[0])
			abort();
	} else if (strcmp(scheme, "http") == 0) {
		if (p->kind != URL_HTTP_LOOPBACK || !p->loopback || !host || !ref_loopback(host))
			abort();
	} else if (strcmp(scheme, "file") == 0) {
		char *path = part(p->u, CURLUPART_PATH);

		if (p->kind != URL_FILE || (host && host[0] && strcasecmp(host, "localhost") != 0) ||
		    (path && path[0] != '/'))
			abort();
		curl_free(path);
	} else {
		abort();
	}
	if (p->kind == URL_HTTPS && p->loopback != ref_loopback(host))
		abort();
	if (url_same_origin(p->u, p->u) != 1)
		abort();
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
}

/* The URL as libcurl prints it is accepted again, the same way. Not for
 * file URLs: libcurl removes dot segments after it refuses Windows drive
 * letters, so it takes "file:///../c:/" (the local path "/c:/") but not
 * the "file:///c:/" it prints for it. Their paths are checked above. */
static void check_reparse(const url_parsed *p)
{
	char *again;
	url_parsed q;

	if (p->kind == URL_FILE)
		return;
	again = part(p->u, CURLUPART_URL);
	if (!again)
		return; /* out of memory */
	if (strlen(again) <= FETCH_MAX_URL) {
		if (url_parse_allowed(&q, again) != 0 || q.kind != p->kind ||
		    q.loopback != p->loopback)
			abort();
		curl_url_cleanup(q.u);
	}
	curl_free(again);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* url_escape writes upper case only */
}

static void check_escape(const char *s, size_t n, bool keep_slash)
{
	pawl_buf b = PAWL_BUF_INIT((size_t)1 << 20);
	size_t o = 0;
	int r = url_escape(&b, s, n, keep_slash);

	if (memchr(s, '\0', n)) {
		if (r != PAWL_E_INVALID || b.len != 0)
			abort();
		buf_free(&b);
		return;
	}
	if (r != 0)
		abort();
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		int hi, lo;

		if (unreserved(c) || (keep_slash && c == '/')) {
			if (o >= n || s[o] != (char)c)
				abort();
			o++;
			continue;
		}
		if (c != '%' || i + 2 >= b.len || (hi = hexval(b.data[i + 1])) < 0 ||
		    (lo = hexval(b.data[i + 2])) < 0)
			abort();
		/* An escaped byte must not be one that could have stayed. */
		c = (unsigned char)(hi << 4 | lo);
		if (unreserved(c) || (keep_slash && c == '/') || o >= n || s[o] != (char)c)
			abort();
		o++;
		i += 2;
	}
	if (o != n)
		abort();
	buf_free(&b);
}

static void check_join(const char *base, const char *rel)
{
	pawl_buf b = PAWL_BUF_INIT((size_t)1 << 20);
	const char *sep = strstr(base, "://");
	bool ok = sep && sep != base && !strpbrk(base, "?#");
	int r;

	for (const char *p = rel; *p && ok; p++)
		ok = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && *p != '?' && *p != '#';
	r = url_join(&b, base, rel);
	if (!ok) {
		if (r != PAWL_E_INVALID || b.len != 0)
			abort();
	} else {
		size_t min = (size_t)(sep - base) + 3, blen = strlen(base);

		while (blen > min && base[blen - 1] == '/')
			blen--;
		while (*rel == '/')
			rel++;
		if (r != 0 || b.len != blen + 1 + strlen(rel) || memcmp(b.data, base, blen) != 0 ||
		    b.data[blen] != '/' || strcmp(b.data + blen + 1, rel) != 0)
			abort();
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl;
	char *a, *b;
	size_t alen, blen;
	url_parsed pa = { 0 }, pb = { 0 };
	int ra, rb;

	if (size > 3 * FETCH_MAX_URL)
		return 0;
	nl = memchr(data, '\n', size);
	alen = nl ? (size_t)(nl - data) : size;
	blen = nl ? size - alen - 1 : 0;
	a = malloc(alen + 1);
	b = malloc(blen + 1);
	if (!a || !b) {
		free(a);
		free(b);
		return 0;
	}
	memcpy(a, data, alen);
	a[alen] = '\0';
	if (blen)
		memcpy(b, nl + 1, blen);
	b[blen] = '\0';

	check_escape(a, alen, true);
	check_escape(a, alen, false);

	/* The C strings end at the first NUL, as they would in a program. */
	ra = url_parse_allowed(&pa, a);
	rb = url_parse_allowed(&pb, b);
	if (ra == 0)
		check_policy(a, &pa), check_reparse(&pa);
	else if (ra != PAWL_E_INVALID && ra != PAWL_E_POLICY && ra != PAWL_E_LIMIT &&
		 ra != PAWL_E_NOMEM)
		abort();
	if (rb == 0)
		check_policy(b, &pb);
	if (ra == 0 && rb == 0 && url_same_origin(pa.u, pb.u) != url_same_origin(pb.u, pa.u))
		abort();
	check_join(a, b);

	curl_url_cleanup(pa.u);
	curl_url_cleanup(pb.u);
	pawl_error_clear();
	free(a);
	free(b);
	return 0;
}

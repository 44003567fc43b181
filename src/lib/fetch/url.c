/*
 * url.c - URL policy, origins, escaping and joining (see fetch.h).
 *
 * Parsing is libcurl's URL API, the same parser libcurl uses for the
 * request, and the parsed handle itself is what gets fetched
 * (CURLOPT_CURLU): the URL that was checked is the URL that is used.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fetch/fetch.h"
#include "fetch/fetch_impl.h"

/* http:// is allowed only to these: nothing sent there leaves the host.
 * libcurl already normalises numeric IPv4 forms ("127.1", "0x7f.0.0.1",
 * "2130706433") to dotted quads, which is what inet_pton accepts. */
static bool host_is_loopback(const char *host)
{
	char v6[INET6_ADDRSTRLEN];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	/* curl gives IPv6 hosts in brackets, without any zone id. */
	if (n > 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(v6)) {
		memcpy(v6, host + 1, n - 2);
		v6[n - 2] = '\0';
		return inet_pton(AF_INET6, v6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/* The URL without user name and password, for a message. */
static void url_redacted(CURLU *u, char *out, size_t outlen)
{
	_cleanup_curlu_ CURLU *c = curl_url_dup(u);
	_cleanup_curl_str_ char *s = NULL;

	out[0] = '\0';
	if (!c || curl_url_set(c, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(c, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_get(c, CURLUPART_URL, &s, 0) != CURLUE_OK)
		return;
	snprintf(out, outlen, "%s", s);
}

/*
 * A file:// path is taken literally: no segment may be "." or "..", as
 * written or percent-encoded (libcurl decodes "%2F" and "%2E" in a file
 * path and resolves the dot segments). Over HTTP the server decides what
 * a name means; over file:// the name is a path on this machine, and a
 * role name like "../../x" or a target path like "../../../etc/shadow"
 * (data, signed by whoever may name roles or targets) would be read from
 * outside the repository the base URL names. The URL is parsed again
 * as written (CURLU_PATH_AS_IS), since the normal parse has already
 * resolved the dot segments away.
 */
static int file_path_literal(const char *url)
{
	_cleanup_curlu_ CURLU *u = curl_url();
	_cleanup_curl_str_ char *path = NULL;
	CURLUcode uc;
	const char *seg;

	ENSURE(u, PAWL_E_NOMEM, "out of memory parsing URL %s", url);
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE);
	if (uc == CURLUE_OUT_OF_MEMORY)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory parsing URL %s", url);
	ENSURE(uc == CURLUE_OK, PAWL_E_INVALID, "malformed file:// URL %s: %s", url,
	       curl_url_strerror(uc));
	for (seg = path;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		ENSURE(!(n == 1 && seg[0] == '.') && !(n == 2 && seg[0] == '.' && seg[1] == '.'),
		       PAWL_E_POLICY,
		       "file:// URL with a \"%.*s\" path segment refused (a name may not leave "
		       "the directory it is looked up in): %s", (int)n, seg, url);
		if (!end)
			return 0;
		seg = end + 1;
	}
}

/* RFC 8089: a file URL's path is absolute. libcurl also takes
 * "file:dir/x" (no "//"), with the relative path "dir/x" that it would
 * open from the current directory, and prints it back as "file://dir/x",
 * which names a remote host: neither is a file on local media. The raw
 * path is checked, so "file:%2Fetc" does not pass either. */
static int check_file_path(CURLU *u, const char *url)
{
	_cleanup_curl_str_ char *path = NULL;
	CURLUcode uc = curl_url_get(u, CURLUPART_PATH, &path, 0);

	if (uc == CURLUE_OUT_OF_MEMORY)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory parsing URL %s", url);
	ENSURE(uc == CURLUE_OK && path[0] == '/', PAWL_E_POLICY,
	       "file: URL with a relative path refused (write file:///absolute/path): %s", url);
	return 0;
}

int url_parse_allowed(url_parsed *ret, const char *url)
{
	_cleanup_curlu_ CURLU *u = NULL;
	_cleanup_curl_str_ char *scheme = NULL;
	_cleanup_curl_str_ char *host = NULL;
	_cleanup_curl_str_ char *user = NULL;
	_cleanup_curl_str_ char *password = NULL;
	url_parsed p = { 0 };
	CURLUcode uc;

	ENSURE(url, PAWL_E_INVALID, "no URL given");
	ENSURE(strlen(url) <= FETCH_MAX_URL, PAWL_E_LIMIT,
	       "URL longer than %d bytes: %.64s...", FETCH_MAX_URL, url);
	u = curl_url();
	ENSURE(u, PAWL_E_NOMEM, "out of memory parsing URL %s", url);
	/* Parse any scheme, so that an unknown one is refused by policy
	 * below rather than reported as malformed. No scheme guessing. */
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc == CURLUE_OUT_OF_MEMORY)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory parsing URL %s", url);
	/* libcurl itself refuses file:// with a remote host: same policy. */
	ENSURE(uc != CURLUE_BAD_FILE_URL, PAWL_E_POLICY,
	       "file:// URL refused (only local files: no host or \"localhost\"): %s (%s)", url,
	       curl_url_strerror(uc));
	ENSURE(uc == CURLUE_OK, PAWL_E_INVALID, "malformed URL %s: %s", url,
	       curl_url_strerror(uc));
	uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	ENSURE(uc == CURLUE_OK, PAWL_E_INVALID, "URL without a scheme: %s", url);

	/* Credentials in a URL end up in logs and error messages. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
		char shown[FETCH_MAX_URL + 1];

		url_redacted(u, shown, sizeof(shown));
		return pawl_error_set(PAWL_E_POLICY,
				      "URL with a user name or password refused: %s", shown);
	}

	uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (uc == CURLUE_NO_HOST)
		host = NULL;
	else if (uc != CURLUE_OK)
		return pawl_error_set(uc == CURLUE_OUT_OF_MEMORY ? PAWL_E_NOMEM : PAWL_E_INVALID,
				      "cannot read the host of URL %s: %s", url,
				      curl_url_strerror(uc));

	/* curl lower-cases the scheme. */
	if (strcmp(scheme, "https") == 0) {
		ENSURE(host && host[0], PAWL_E_INVALID, "URL without a host: %s", url);
		p.kind = URL_HTTPS;
		p.loopback = host_is_loopback(host);
	} else if (strcmp(scheme, "http") == 0) {
		ENSURE(host && host[0], PAWL_E_INVALID, "URL without a host: %s", url);
		ENSURE(host_is_loopback(host), PAWL_E_POLICY,
		       "plain http:// is allowed only to a loopback address, refusing %s "
		       "(use https://)", url);
		p.kind = URL_HTTP_LOOPBACK;
		p.loopback = true;
	} else if (strcmp(scheme, "file") == 0) {
		ENSURE(!host || !host[0] || strcasecmp(host, "localhost") == 0, PAWL_E_POLICY,
		       "file:// URL with a remote host refused: %s", url);
		GUARD(file_path_literal(url));
		GUARD(check_file_path(u, url));
		p.kind = URL_FILE;
		p.loopback = true;
	} else {
		return pawl_error_set(PAWL_E_POLICY,
				      "URL scheme '%s' is not allowed (only https://, "
				      "loopback http:// and file://): %s",
				      scheme, url);
	}
	p.u = TAKE_PTR(u);
	*ret = p;
	return 0;
}

int fetch_url_allowed(const char *url)
{
	url_parsed p;

	GUARD(url_parse_allowed(&p, url));
	curl_url_cleanup(p.u);
	return 0;
}

static int origin_part(CURLU *u, CURLUPart what, char **ret)
{
	CURLUcode uc = curl_url_get(u, what, ret, CURLU_DEFAULT_PORT);

	if (uc == CURLUE_OK)
		return 0;
	*ret = NULL;
	if (uc == CURLUE_NO_HOST || uc == CURLUE_NO_PORT)
		return 0; /* file:// has neither; absent compares equal to absent */
	return pawl_error_set(uc == CURLUE_OUT_OF_MEMORY ? PAWL_E_NOMEM : PAWL_E_INVALID,
			      "cannot read URL origin: %s", curl_url_strerror(uc));
}

static bool same_str(const char *a, const char *b, bool icase)
{
	if (!a || !b)
		return a == b;
	return icase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

int url_same_origin(CURLU *a, CURLU *b)
{
	_cleanup_curl_str_ char *sa = NULL, *sb = NULL;
	_cleanup_curl_str_ char *ha = NULL, *hb = NULL;
	_cleanup_curl_str_ char *pa = NULL, *pb = NULL;

	GUARD(origin_part(a, CURLUPART_SCHEME, &sa));
	GUARD(origin_part(b, CURLUPART_SCHEME, &sb));
	GUARD(origin_part(a, CURLUPART_HOST, &ha));
	GUARD(origin_part(b, CURLUPART_HOST, &hb));
	GUARD(origin_part(a, CURLUPART_PORT, &pa));
	GUARD(origin_part(b, CURLUPART_PORT, &pb));
	return same_str(sa, sb, false) && same_str(ha, hb, true) && same_str(pa, pb, false);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int url_escape(pawl_buf *out, const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = 0, i;

	ENSURE(out && (s || len == 0), PAWL_E_INVALID, "url_escape: no input");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		ENSURE(c != '\0', PAWL_E_INVALID, "NUL byte in a URL path: %.*s", (int)i, s);
		GUARD(size_add(&need, need, unreserved(c) || (keep_slash && c == '/') ? 1 : 3));
	}
	/* Reserve everything first, so that a failure leaves out as it was. */
	GUARD(buf_reserve(out, need));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			out->data[out->len++] = (char)c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = hex[c >> 4];
			out->data[out->len++] = hex[c & 0xf];
		}
	}
	if (out->data)
		out->data[out->len] = '\0';
	return 0;
}

int url_join(pawl_buf *out, const char *base, const char *rel)
{
	const char *sep, *p;
	size_t min, blen, rlen, need;

	ENSURE(out && base && rel, PAWL_E_INVALID, "url_join: missing argument");
	sep = strstr(base, "://");
	ENSURE(sep && sep != base, PAWL_E_INVALID, "base URL without a scheme: %s", base);
	ENSURE(!strpbrk(base, "?#"), PAWL_E_INVALID,
	       "base URL with a query or fragment: %s", base);
	for (p = rel; *p; p++) {
		unsigned char c = (unsigned char)*p;

		ENSURE(c > 0x20 && c < 0x7f && c != '?' && c != '#', PAWL_E_INVALID,
		       "unescaped character 0x%02x in URL path %s (use url_escape)", c, rel);
	}
	min = (size_t)(sep - base) + 3;
	blen = strlen(base);
	while (blen > min && base[blen - 1] == '/')
		blen--;
	while (*rel == '/')
		rel++;
	rlen = strlen(rel);
	GUARD(size_add(&need, blen, rlen));
	GUARD(size_add(&need, need, 1));
	GUARD(buf_reserve(out, need));
	memcpy(out->data + out->len, base, blen);
	out->data[out->len + blen] = '/';
	memcpy(out->data + out->len + blen + 1, rel, rlen);
	out->len += need;
	out->data[out->len] = '\0';
	return 0;
}

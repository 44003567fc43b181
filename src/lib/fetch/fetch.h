/*
 * fetch.h - the transport: fetch a URL over HTTPS (or loopback HTTP, or a
 * local file://) into a caller's sink, with libcurl underneath.
 *
 * Transport is the second layer of defence (PRODUCT.md, practice 4): TUF
 * metadata signatures and target hashes must hold even over a hostile
 * connection, so this module's job is to make a hostile connection cheap
 * to survive. It guarantees, for every request and every redirect hop:
 *
 *  - URL policy, checked before any connection is made (fetch_url_allowed):
 *    https:// to any host; http:// only to a loopback host (127.0.0.0/8,
 *    [::1], "localhost"); file:// only with an empty host or "localhost",
 *    an absolute path, and no "." or ".." path segment, as written or
 *    percent-encoded (a name joined to a file:// base never leaves its
 *    directory); every other scheme, and any URL carrying user:password,
 *    is refused with PAWL_E_POLICY. libcurl's own protocol allow-list is
 *    set to match.
 *  - TLS: peer and host name are always verified (there is no option to
 *    turn that off), TLS 1.2 at least; an optional private CA bundle then
 *    is the only trust anchor, and an optional SPKI pin is checked *in
 *    addition to* (never instead of) certificate verification.
 *  - Redirects are followed (at most FETCH_MAX_REDIRECTS) only within the
 *    origin (scheme, host, port) of the URL asked for; a redirect elsewhere
 *    or from https to http fails with PAWL_E_POLICY before it is followed.
 *  - Size: max_bytes bounds the whole resource. A Content-Length above it
 *    fails before any body byte is delivered; a body that keeps coming is
 *    cut off as soon as it passes the bound ("endless data attacks",
 *    tuf-spec.md #goals-to-protect-against-specific-attacks). Response
 *    headers are bounded too (FETCH_MAX_HEADER_BYTES).
 *  - Time (slow retrieval, tuf-spec.md #goals-to-protect-against-specific-
 *    attacks): every call to fetcher_get() has a total deadline derived
 *    from the most it may transfer,
 *        deadline = deadline_base_s + (max_bytes - resume_from) / min_rate
 *    covering every redirect hop, so a server that sends just enough to
 *    stay above the low-speed limit cannot hold a metadata fetch for
 *    max_bytes / low_speed_bytes seconds or a large target for days. Under
 *    it: a connect timeout, a low-speed limit (a stalled connection fails
 *    long before its deadline) and an optional fixed total timeout. None of
 *    them can be turned off.
 *  - Bytes arrive exactly as sent: no content decoding (no gzip), no
 *    cookies, no .netrc, no signals.
 *  - Proxies come from the environment as libcurl reads it: http_proxy,
 *    https_proxy, all_proxy / ALL_PROXY, no_proxy / NO_PROXY (libcurl
 *    deliberately ignores upper-case HTTP_PROXY, which a CGI environment
 *    lets a client set). A proxy is never used for loopback http:// and
 *    file:// URLs, so plain-text traffic cannot leave the machine.
 *
 * Errors (the message always names the URL):
 *   PAWL_E_POLICY     refused URL or redirect
 *   PAWL_E_INVALID    malformed URL or bad argument
 *   PAWL_E_NOT_FOUND  HTTP 403, 404, 410; file:// file missing/unreadable
 *   PAWL_E_LIMIT      more than max_bytes, oversized headers, URL longer
 *                     than 8 KiB
 *   PAWL_E_NETWORK    any other HTTP status, connect/DNS/TLS failure,
 *                     timeout, too slow, broken range response; the text
 *                     is libcurl's ("SSL certificate problem: certificate
 *                     has expired", "Operation too slow..."), except for
 *                     the deadline, whose message names the deadline and
 *                     how it was derived ("too slow: ... deadline of ...")
 *   PAWL_E_IO         other file:// failures (not a regular file, ...)
 *   any code the sink returned, unchanged
 *
 * A fetcher owns one libcurl easy handle, reused across requests so that
 * connections are kept alive. It is not thread-safe; use one per thread.
 */
#ifndef PAWL_FETCH_H
#define PAWL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define FETCH_OPTS_VERSION 1
#define FETCH_MAX_REDIRECTS 5
#define FETCH_MAX_HEADER_BYTES (64 * 1024)

typedef struct fetch_opts {
	unsigned version;        /* FETCH_OPTS_VERSION */
	const char *user_agent;  /* NULL: "pawl/VERSION" */
	const char *ca_file;     /* PEM bundle; NULL: the system's trust store */
	const char *pin;         /* "sha256//BASE64[;sha256//BASE64...]" or NULL */
	long connect_timeout_s;  /* > 0 */
	long total_timeout_s;    /* 0: none (the deadline still applies) */
	long low_speed_bytes;    /* fail when slower than this many bytes/s ... */
	long low_speed_time_s;   /* ... for this many seconds; both > 0 */
	long min_rate_bytes;     /* deadline: the average rate owed, > 0 ... */
	long deadline_base_s;    /* ... plus this many seconds, > 0 */
} fetch_opts;

/* The deadline's defaults: 30 s plus the length at 16 KiB/s (128 kbit/s).
 * A 16 KB timestamp gets 31 s, a 512 KiB root 62 s, a 5 MB targets role
 * 5 min 35 s and a 1 GiB image 18 h; a drip just above the low-speed limit
 * alone could take 8.5 min, 81 min and 12 days for the last three. Slower
 * links lower the rate (pawl --min-rate, min_rate in pawl.conf). */
#define FETCH_DEFAULT_MIN_RATE 16384
#define FETCH_DEFAULT_DEADLINE_BASE 30

#define FETCH_OPTS_INIT                                                        \
	{ FETCH_OPTS_VERSION, NULL, NULL, NULL, 30, 0, 1024, 30,               \
	  FETCH_DEFAULT_MIN_RATE, FETCH_DEFAULT_DEADLINE_BASE }

typedef struct pawl_fetcher pawl_fetcher;

/* Counters over a fetcher's life, for tests and reports. */
typedef struct fetch_stats {
	uint64_t requests;    /* HTTP requests sent (redirect hops count) */
	uint64_t connections; /* new connections opened (not reused) */
	uint64_t bytes;       /* body bytes handed to sinks */
} fetch_stats;

/* Create a fetcher. o may be NULL for FETCH_OPTS_INIT. The strings in o
 * are copied. Fails with PAWL_E_INVALID on bad options (a pin that is not
 * "sha256//..." included: libcurl would read it as a file name),
 * PAWL_E_NOT_FOUND or PAWL_E_IO when ca_file is missing or not a readable
 * regular file. *ret is written only on success. */
PAWL_MUST_USE int fetcher_new(pawl_fetcher **ret, const fetch_opts *o);
/* Accepts NULL. */
void fetcher_free(pawl_fetcher *f);
static inline void fetcher_freep(pawl_fetcher **f)
{
	fetcher_free(*f);
}
#define _cleanup_fetcher_ _cleanup_(fetcher_freep)

void fetcher_stats(const pawl_fetcher *f, fetch_stats *ret);

/* Receives the body in order, in pieces of any size. Return 0 to go on or
 * a negative pawl_err (with the error set) to abort the transfer:
 * fetcher_get() then returns that code, its message prefixed with the
 * URL. FETCH_STOP: the caller has all it wants (this piece included); the
 * transfer ends there and the call returns 0. */
#define FETCH_STOP 1
typedef int (*fetch_sink)(void *ctx, const void *p, size_t n);

/*
 * Fetch url and hand its body to cb.
 *
 * max_bytes bounds the size of the whole resource, counting the
 * resume_from bytes the caller already has.
 *
 * resume_from > 0 asks for the bytes from that offset on (an HTTP Range
 * request). The server must answer 206 with a Content-Range starting
 * exactly there, or the call fails with PAWL_E_NETWORK and the caller
 * should start again from 0. It must be below max_bytes.
 *
 * On failure cb may already have received part of the body; the caller
 * owns whatever it kept (TUF clients must discard or re-verify it).
 */
PAWL_MUST_USE int fetcher_get(pawl_fetcher *f, const char *url, uint64_t max_bytes,
			      uint64_t resume_from, fetch_sink cb, void *ctx);

/*
 * Fetch bytes first to last (inclusive) of url, a resource of exactly
 * total bytes, with a closed Range request. Its deadline is derived from
 * the range's length. The answer must be a 206 whose Content-Range names
 * exactly "bytes first-last/total" (PAWL_E_NETWORK otherwise); a body
 * longer than the range fails with PAWL_E_LIMIT; a shorter one returns 0
 * (the caller counts what its sink got). A 200 (a server or a proxy
 * without Range support) fails with PAWL_E_NETWORK and *ret_ignored set,
 * before any body byte reaches cb; the caller may then fetch the whole
 * resource. file:// URLs are read at that range.
 */
PAWL_MUST_USE int fetcher_get_range(pawl_fetcher *f, const char *url, uint64_t first,
				    uint64_t last, uint64_t total, fetch_sink cb, void *ctx,
				    bool *ret_ignored);

/* Fetch url's whole body into out. On success out's previous contents are
 * freed and out holds the body (with out->max = max_bytes, clamped to
 * SIZE_MAX); on failure out is untouched. */
PAWL_MUST_USE int fetcher_get_buf(pawl_fetcher *f, const char *url, uint64_t max_bytes,
				  pawl_buf *out);

/* The URL policy above, without fetching: 0, PAWL_E_POLICY or
 * PAWL_E_INVALID. */
PAWL_MUST_USE int fetch_url_allowed(const char *url);

/*
 * Percent-encode s[0..len) and append it to out: RFC 3986 unreserved
 * bytes (ALPHA DIGIT - . _ ~) are kept, '/' too when keep_slash (a whole
 * TUF target path) and not otherwise (one segment, e.g. a role name);
 * every other byte becomes %XX (so UTF-8 text is encoded byte by byte).
 * Dot segments ("..") are kept as they are: they are unreserved text, and
 * curl resolves them inside the same origin. A NUL byte is refused with
 * PAWL_E_INVALID. On failure out is unchanged.
 */
PAWL_MUST_USE int url_escape(pawl_buf *out, const char *s, size_t len, bool keep_slash);

/*
 * Append base + "/" + rel to out, with exactly one '/' between them (the
 * slashes at the end of base's path and the start of rel are merged; the
 * "//" after "scheme:" is never touched, so "file:///" + "x" is
 * "file:///x"). rel must already be escaped: a '?' or '#' in either part
 * is refused with PAWL_E_INVALID. On failure out is unchanged.
 */
PAWL_MUST_USE int url_join(pawl_buf *out, const char *base, const char *rel);

#endif

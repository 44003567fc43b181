/*
 * fetch.c - the libcurl transport (see fetch.h for the guarantees).
 *
 * One easy handle per fetcher carries every setting that never changes
 * (TLS, protocols, timeouts, callbacks); each request only sets the URL,
 * the range and the proxy bypass, and clears them again afterwards.
 *
 * Redirects are not left to libcurl (no CURLOPT_FOLLOWLOCATION): each 3xx
 * comes back here, its Location is parsed and put through the same URL
 * policy plus the origin rule, and only then requested.
 *
 * A response is judged once, when its headers are complete (or at the
 * first body byte, for file:// which has no headers): status, Content-Length
 * against the limit, Content-Range against the resume offset. Bodies of
 * error and redirect responses never reach the sink.
 *
 * The deadline is one per fetcher_get() call, from its start, on the
 * monotonic clock: each hop gets what is left of it as its CURLOPT_TIMEOUT_MS
 * (or the fixed total timeout, when that is shorter). libcurl's low-speed
 * check alone is not enough: it averages over a few seconds, so a server
 * that sends 1,025 bytes every second passes it for ever.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fetch/fetch.h"
#include "fetch/fetch_impl.h"

/* Bodies of error and redirect responses are read (so that the connection
 * can be reused) only up to this much, then the connection is dropped. */
#define FETCH_MAX_DISCARD (64 * 1024)
#define FETCH_MAX_PINS 16

struct pawl_fetcher {
	CURL *curl;
	fetch_opts opts; /* its strings point to the copies below */
	char *user_agent;
	char *ca_file;
	char *pin;
	fetch_stats stats;
	char errbuf[CURL_ERROR_SIZE];
};

/* The deadline of one fetcher_get() call (see the top of the file). */
struct deadline {
	uint64_t start_ms; /* monotonic */
	uint64_t limit_ms; /* from start_ms */
	uint64_t len;      /* the bytes it was derived from */
};

/* The state of one request (one redirect hop). */
struct xfer {
	pawl_fetcher *f;
	const char *url;      /* this hop's URL, for messages */
	bool is_file;
	uint64_t max_bytes;
	uint64_t resume_from;
	/* A closed range request (fetcher_get_range): the bytes resume_from
	 * to range_last of a resource of range_total bytes; the answer must
	 * be a 206 naming exactly that (max_bytes is range_last + 1). */
	bool ranged;
	uint64_t range_last;
	uint64_t range_total;
	bool *range_ignored;  /* set when the server answered 200 instead */
	fetch_sink cb;
	void *ctx;

	size_t header_bytes;
	bool judged;          /* judge() has run for the final response */
	long status;          /* HTTP status, 0 for file:// */
	bool deliver;         /* the body goes to cb */
	bool discard_full;    /* we dropped an error body that was too long */
	size_t discarded;
	uint64_t received;    /* body bytes given to cb */
	int err;              /* a callback stopped the transfer with this */
	bool stopped;         /* cb returned FETCH_STOP: the caller has enough */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int setopt_failed(CURLcode c, const char *name)
{
	return pawl_error_set(c == CURLE_OUT_OF_MEMORY ? PAWL_E_NOMEM : PAWL_E_UNSUPPORTED,
			      "libcurl refused %s: %s", name, curl_easy_strerror(c));
}

/* Every option is checked: an option this libcurl does not know (say,
 * CURLOPT_PROTOCOLS_STR before 7.85) must fail closed, not be skipped. */
#define SETOPT(curl, opt, val)                                                 \
	do {                                                                   \
		CURLcode setopt_c_ = curl_easy_setopt((curl), (opt), (val));   \
		if (setopt_c_ != CURLE_OK)                                     \
			return setopt_failed(setopt_c_, #opt);                 \
	} while (0)

/* ---- options ------------------------------------------------------- */

static bool b64char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Only "sha256//" + base64 of 32 bytes, ';'-separated: libcurl would take
 * anything else as the name of a key file. */
static int check_pin(const char *pin)
{
	static const char prefix[] = "sha256//";
	const size_t plen = sizeof(prefix) - 1;
	const char *p = pin;
	unsigned n = 0;

	for (;;) {
		size_t i;

		ENSURE(++n <= FETCH_MAX_PINS, PAWL_E_LIMIT, "more than %d public key pins",
		       FETCH_MAX_PINS);
		ENSURE(strncmp(p, prefix, plen) == 0, PAWL_E_INVALID,
		       "public key pin must look like sha256//BASE64: %s", pin);
		p += plen;
		for (i = 0; i < 43; i++)
			ENSURE(b64char(p[i]), PAWL_E_INVALID,
			       "public key pin is not the base64 of a SHA-256 digest: %s", pin);
		ENSURE(p[43] == '=', PAWL_E_INVALID,
		       "public key pin is not the base64 of a SHA-256 digest: %s", pin);
		p += 44;
		if (*p == '\0')
			return 0;
		ENSURE(*p == ';', PAWL_E_INVALID, "bad public key pin list: %s", pin);
		p++;
	}
}

/* A missing bundle would otherwise surface only at the first connection,
 * as a vague TLS error. */
static int check_ca_file(const char *path)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "CA bundle %s", path);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "CA bundle %s", path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "CA bundle %s is not a regular file", path);
	return 0;
}

static int dup_opt(char **ret, const char *s)
{
	if (!s) {
		*ret = NULL;
		return 0;
	}
	*ret = xstrdup(s);
	return *ret ? 0 : PAWL_E_NOMEM;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud);
static size_t on_body(char *p, size_t size, size_t n, void *ud);

static int setup_handle(pawl_fetcher *f)
{
	CURL *c = f->curl;
	const fetch_opts *o = &f->opts;

	SETOPT(c, CURLOPT_ERRORBUFFER, f->errbuf);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);

	/* TLS, for the server and for an https:// proxy alike. There is
	 * deliberately no option to relax any of it. */
	SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(c, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	SETOPT(c, CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->ca_file) {
		/* This bundle and nothing else: no CA directory either. */
		SETOPT(c, CURLOPT_CAINFO, o->ca_file);
		SETOPT(c, CURLOPT_CAPATH, (char *)NULL);
	}
	if (o->pin)
		SETOPT(c, CURLOPT_PINNEDPUBLICKEY, o->pin);

	/* Bytes exactly as the server sent them; nothing from the user's
	 * environment that could add credentials or state. */
	SETOPT(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	/* A reply without a status line is not a body (libcurl's default
	 * since 7.66; stated here so that it stays so). No HSTS or Alt-Svc
	 * cache is set either: no state carried between runs. */
	SETOPT(c, CURLOPT_HTTP09_ALLOWED, 0L);
	SETOPT(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SETOPT(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Bigger reads, fewer callbacks: large targets stream through hashing
	 * and a write in 256 KiB pieces instead of 16 KiB ones. */
	SETOPT(c, CURLOPT_BUFFERSIZE, 256L * 1024);

	/* The total time allowed is set per request (set_request). */
	SETOPT(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
	SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
	SETOPT(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);

	SETOPT(c, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "pawl/" PAWL_VERSION_STRING);
	SETOPT(c, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(c, CURLOPT_WRITEFUNCTION, on_body);
	return 0;
}

int fetcher_new(pawl_fetcher **ret, const fetch_opts *o)
{
	static const fetch_opts defaults = FETCH_OPTS_INIT;
	_cleanup_fetcher_ pawl_fetcher *f = NULL;

	ENSURE(ret, PAWL_E_INVALID, "fetcher_new: no output");
	if (!o)
		o = &defaults;
	ENSURE(o->version == FETCH_OPTS_VERSION, PAWL_E_INVALID,
	       "fetch_opts version %u, expected %u", o->version, FETCH_OPTS_VERSION);
	ENSURE(o->connect_timeout_s > 0, PAWL_E_INVALID, "connect timeout must be positive");
	ENSURE(o->total_timeout_s >= 0, PAWL_E_INVALID, "total timeout must not be negative");
	ENSURE(o->low_speed_bytes > 0 && o->low_speed_time_s > 0, PAWL_E_INVALID,
	       "the low-speed limit cannot be turned off (slow retrieval attacks)");
	ENSURE(o->min_rate_bytes > 0 && o->deadline_base_s > 0, PAWL_E_INVALID,
	       "the transfer deadline cannot be turned off (slow retrieval attacks): the "
	       "minimum rate and the base time must be positive");
	if (o->pin)
		GUARD(check_pin(o->pin));
	if (o->ca_file)
		GUARD(check_ca_file(o->ca_file));

	pthread_once(&global_once, global_init);
	ENSURE(global_rc == CURLE_OK, PAWL_E_GENERIC, "libcurl initialisation failed: %s",
	       curl_easy_strerror(global_rc));

	f = xcalloc(1, sizeof(*f));
	if (!f)
		return PAWL_E_NOMEM;
	f->opts = *o;
	GUARD(dup_opt(&f->user_agent, o->user_agent));
	GUARD(dup_opt(&f->ca_file, o->ca_file));
	GUARD(dup_opt(&f->pin, o->pin));
	f->opts.user_agent = f->user_agent;
	f->opts.ca_file = f->ca_file;
	f->opts.pin = f->pin;

	f->curl = curl_easy_init();
	ENSURE(f->curl, PAWL_E_NOMEM, "libcurl: cannot create a handle");
	GUARD(setup_handle(f));
	*ret = TAKE_PTR(f);
	return 0;
}

void fetcher_free(pawl_fetcher *f)
{
	if (!f)
		return;
	curl_easy_cleanup(f->curl);
	free(f->user_agent);
	free(f->ca_file);
	free(f->pin);
	free(f);
}

void fetcher_stats(const pawl_fetcher *f, fetch_stats *ret)
{
	*ret = f->stats;
}

/* ---- one response ---------------------------------------------------- */

/* "bytes FIRST-LAST/TOTAL" or "bytes FIRST-LAST/ *" (RFC 9110 14.4). */
static int check_content_range(struct xfer *x)
{
	struct curl_header *h = NULL;
	CURLHcode hc;

	hc = curl_easy_header(x->f->curl, "Content-Range", 0, CURLH_HEADER, -1, &h);
	ENSURE(hc == CURLHE_OK, PAWL_E_NETWORK,
	       "206 without a Content-Range from %s; restart the download", x->url);
	ENSURE(h->amount == 1, PAWL_E_NETWORK, "several Content-Range headers from %s", x->url);
	if (x->ranged)
		return content_range_check_exact(h->value, x->resume_from, x->range_last,
						  x->range_total, x->url);
	return content_range_check(h->value, x->resume_from, x->max_bytes, x->url);
}

static bool status_ok(long s)
{
	return s == 200 || s == 206;
}

/* Judge the final response once its headers are in: decide whether its
 * body goes to the sink, and refuse what is already known to be wrong. */
static int judge(struct xfer *x)
{
	curl_off_t len = -1;
	long status = 0;

	x->judged = true;
	if (curl_easy_getinfo(x->f->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	x->status = status;
	if (x->is_file) {
		/* libcurl seeks to the range itself for file://. */
		x->deliver = true;
	} else if (!status_ok(status)) {
		/* Error or redirect: the caller maps the status afterwards. */
		x->deliver = false;
		return 0;
	} else if (x->ranged && status == 200) {
		/* No Range support here (or in a proxy on the way): the caller
		 * decides whether to read the whole resource instead. */
		*x->range_ignored = true;
		return pawl_error_set(PAWL_E_NETWORK,
				      "%s ignored the range request (status 200)", x->url);
	} else if (x->ranged || x->resume_from > 0) {
		ENSURE(status == 206, PAWL_E_NETWORK,
		       "%s ignored the range request (status %ld instead of 206); restart "
		       "the download from 0",
		       x->url, status);
		GUARD(check_content_range(x));
	} else {
		ENSURE(status == 200, PAWL_E_NETWORK, "unexpected status %ld from %s", status,
		       x->url);
	}
	if (curl_easy_getinfo(x->f->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) != CURLE_OK)
		len = -1;
	/* resume_from < max_bytes (or both 0), so this cannot wrap. */
	ENSURE(len < 0 || (uint64_t)len <= x->max_bytes - x->resume_from, PAWL_E_LIMIT,
	       "%s is larger than the %" PRIu64 " bytes allowed (%" PRIu64
	       " announced); refusing it before reading",
	       x->url, x->max_bytes, x->resume_from + (uint64_t)len);
	x->deliver = true;
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	long status = 0;

	(void)size; /* always 1 */
	if (x->err)
		return 0;
	if (n > FETCH_MAX_HEADER_BYTES - x->header_bytes) {
		x->err = pawl_error_set(PAWL_E_LIMIT,
					"response headers from %s exceed %d bytes", x->url,
					FETCH_MAX_HEADER_BYTES);
		return 0;
	}
	x->header_bytes += n;
	/* The empty line that ends a header block. 1xx blocks come before
	 * the final one; trailers after it (judged already). */
	if (!x->judged && (n == 2 || n == 1) && (p[0] == '\r' || p[0] == '\n')) {
		if (curl_easy_getinfo(x->f->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status >= 200) {
			int r = judge(x);

			if (r < 0) {
				x->err = r;
				return 0;
			}
		}
	}
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	int r;

	(void)size; /* always 1 */
	if (x->err)
		return 0;
	if (!x->judged) {
		r = judge(x);
		if (r < 0) {
			x->err = r;
			return 0;
		}
	}
	if (!x->deliver) {
		if (n > FETCH_MAX_DISCARD - x->discarded) {
			x->discard_full = true;
			return 0;
		}
		x->discarded += n;
		return n;
	}
	if (n > x->max_bytes - x->resume_from - x->received) {
		x->err = pawl_error_set(PAWL_E_LIMIT,
					"endless data: %s sent more than the %" PRIu64
					" bytes allowed",
					x->url, x->max_bytes);
		return 0;
	}
	r = x->cb(x->ctx, p, n);
	if (r == FETCH_STOP) {
		x->stopped = true;
		x->received += n;
		x->f->stats.bytes += n;
		return 0;
	}
	if (r < 0) {
		x->err = pawl_error_prefix(r, "%s: ", x->url);
		return 0;
	}
	x->received += n;
	x->f->stats.bytes += n;
	return n;
}

static int curl_failed(pawl_fetcher *f, struct xfer *x, CURLcode rc)
{
	const char *why = f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc);
	int code;

	switch (rc) {
	case CURLE_OUT_OF_MEMORY:
		code = PAWL_E_NOMEM;
		break;
	case CURLE_FILE_COULDNT_READ_FILE:
		code = PAWL_E_NOT_FOUND;
		break;
	default:
		code = x->is_file ? PAWL_E_IO : PAWL_E_NETWORK;
		break;
	}
	return pawl_error_set(code, "%s: %s", x->url, why);
}

static int status_failed(struct xfer *x)
{
	switch (x->status) {
	case 403:
		return pawl_error_set(PAWL_E_NOT_FOUND, "403 Forbidden: %s", x->url);
	case 404:
		return pawl_error_set(PAWL_E_NOT_FOUND, "404 Not Found: %s", x->url);
	case 410:
		return pawl_error_set(PAWL_E_NOT_FOUND, "410 Gone: %s", x->url);
	default:
		return pawl_error_set(PAWL_E_NETWORK, "HTTP status %ld from %s", x->status, x->url);
	}
}

static bool is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* The per-request options point at this hop's data; clear them so that
 * nothing dangles between requests. */
static void clear_request(CURL *c)
{
	(void)curl_easy_setopt(c, CURLOPT_CURLU, (CURLU *)NULL);
	(void)curl_easy_setopt(c, CURLOPT_RANGE, (char *)NULL);
	(void)curl_easy_setopt(c, CURLOPT_HEADERDATA, (void *)NULL);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)NULL);
}

static int set_request(pawl_fetcher *f, const url_parsed *u, struct xfer *x, const char *range,
		       long timeout_ms)
{
	CURL *c = f->curl;

	SETOPT(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(c, CURLOPT_CURLU, u->u);
	SETOPT(c, CURLOPT_RANGE, range);
	/* Loopback traffic (the only plain http:// allowed) never goes to a
	 * proxy, which would carry it off the machine. Otherwise NULL: the
	 * environment's no_proxy applies. */
	SETOPT(c, CURLOPT_NOPROXY, u->loopback ? "*" : (char *)NULL);
	SETOPT(c, CURLOPT_HEADERDATA, x);
	SETOPT(c, CURLOPT_WRITEDATA, x);
	return 0;
}

/* libcurl would read a directory as an empty body and a FIFO or a device
 * for as long as it gives bytes; only regular files are fetched. (Whatever
 * is read is verified by the caller, so a race with a rename is harmless.) */
static int check_local_file(CURLU *u, const char *url)
{
	_cleanup_curl_str_ char *path = NULL;
	struct stat st;
	CURLUcode uc;

	uc = curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE);
	ENSURE(uc == CURLUE_OK, PAWL_E_INVALID, "bad file:// path in %s: %s", url,
	       curl_url_strerror(uc));
	if (stat(path, &st) < 0)
		return pawl_error_set_errno(errno == ENOENT || errno == ENOTDIR ? PAWL_E_NOT_FOUND
										: PAWL_E_IO,
					    errno, "%s", url);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", url);
	return 0;
}

/* ---- the deadline ------------------------------------------------------ */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* deadline_base_s + len / min_rate_bytes, in milliseconds, rounded up and
 * saturating (a length near 2^64 means "practically none"). */
static void deadline_start(struct deadline *dl, const fetch_opts *o, uint64_t len)
{
	uint64_t rate = (uint64_t)o->min_rate_bytes, ms, frac;

	dl->start_ms = mono_ms();
	dl->len = len;
	/* rem * 1000 could overflow for absurd rates; a double is exact
	 * enough for a fraction of a second, and + 1 rounds up. */
	frac = (uint64_t)((double)(len % rate) * 1000.0 / (double)rate) + 1;
	if (__builtin_mul_overflow(len / rate, 1000, &ms) || __builtin_add_overflow(ms, frac, &ms) ||
	    __builtin_add_overflow(ms, (uint64_t)o->deadline_base_s * 1000, &ms))
		ms = UINT64_MAX;
	dl->limit_ms = ms;
}

static int deadline_failed(const pawl_fetcher *f, const struct deadline *dl, const char *url,
			   uint64_t received)
{
	return pawl_error_set(PAWL_E_NETWORK,
			      "%s: too slow: not complete within its deadline of %" PRIu64
			      ".%" PRIu64 " s (%ld s + %" PRIu64 " bytes at %ld bytes/s); %" PRIu64
			      " bytes received (slow retrieval)",
			      url, dl->limit_ms / 1000, dl->limit_ms % 1000 / 100,
			      f->opts.deadline_base_s, dl->len, f->opts.min_rate_bytes, received);
}

/* The time one hop may take: what is left of the deadline, or the fixed
 * total timeout when that is shorter (*by_deadline false). 0 when the
 * deadline has passed. */
static uint64_t hop_timeout(const pawl_fetcher *f, const struct deadline *dl, bool *by_deadline)
{
	uint64_t used = mono_ms() - dl->start_ms, left;

	*by_deadline = true;
	if (used >= dl->limit_ms)
		return 0;
	left = dl->limit_ms - used;
	if (f->opts.total_timeout_s > 0 && (uint64_t)f->opts.total_timeout_s * 1000 < left) {
		*by_deadline = false;
		left = (uint64_t)f->opts.total_timeout_s * 1000;
	}
	return left;
}

/* One request. Returns 0 when the body was delivered, 1 for a redirect
 * (x->status says which), or an error. */
static int perform(pawl_fetcher *f, const url_parsed *u, struct xfer *x,
		   const struct deadline *dl)
{
	char range[32];
	curl_off_t connects = 0;
	uint64_t timeout;
	bool by_deadline;
	CURLcode rc;
	int r;

	x->is_file = u->kind == URL_FILE;
	if (x->is_file)
		GUARD(check_local_file(u->u, x->url));
	if (x->ranged)
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, x->resume_from,
			 x->range_last);
	else if (x->resume_from > 0)
		snprintf(range, sizeof(range), "%" PRIu64 "-", x->resume_from);
	timeout = hop_timeout(f, dl, &by_deadline);
	if (timeout == 0)
		return deadline_failed(f, dl, x->url, 0);
	f->errbuf[0] = '\0';
	r = set_request(f, u, x, x->ranged || x->resume_from > 0 ? range : NULL,
			timeout < (uint64_t)LONG_MAX ? (long)timeout : LONG_MAX);
	if (r < 0) {
		clear_request(f->curl);
		return r;
	}
	rc = curl_easy_perform(f->curl);
	clear_request(f->curl);
	if (!x->is_file)
		f->stats.requests++;
	if (curl_easy_getinfo(f->curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
	    connects > 0)
		f->stats.connections += (uint64_t)connects;

	if (x->err)
		return x->err;
	if (x->stopped)
		return 0; /* the caller has what it wanted; the rest is dropped */
	/* libcurl says "timed out" for the connect timeout, the low-speed
	 * limit and the total time alike; the clock tells which. */
	if (rc == CURLE_OPERATION_TIMEDOUT && by_deadline &&
	    mono_ms() - dl->start_ms + 50 >= dl->limit_ms)
		return deadline_failed(f, dl, x->url, x->received);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->discard_full))
		return curl_failed(f, x, rc);
	if (!x->judged)
		GUARD(judge(x)); /* no body at all */
	if (x->is_file || status_ok(x->status))
		return 0;
	if (is_redirect(x->status))
		return 1;
	return status_failed(x);
}

/* Where a redirect may go: through the same policy as any URL, never from
 * https to anything else, and never off the origin of the URL asked for.
 * On success cur and cur_url are replaced by the next hop. */
static int follow(url_parsed *cur, char **cur_url, pawl_fetcher *f, long status,
		  const url_parsed *origin, const char *asked)
{
	char *loc = NULL;
	_cleanup_free_ char *next = NULL;
	url_parsed p;
	int r;

	if (curl_easy_getinfo(f->curl, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc)
		return pawl_error_set(PAWL_E_NETWORK, "%ld redirect without a usable Location from %s",
				      status, *cur_url);
	next = xstrdup(loc);
	if (!next)
		return PAWL_E_NOMEM;
	r = url_parse_allowed(&p, next);
	if (r < 0)
		return pawl_error_prefix(r, "redirect from %s refused: ", *cur_url);
	if (origin->kind == URL_HTTPS && p.kind != URL_HTTPS) {
		curl_url_cleanup(p.u);
		return pawl_error_set(PAWL_E_POLICY,
				      "redirect from https to plain http refused: %s -> %s", *cur_url,
				      next);
	}
	r = url_same_origin(origin->u, p.u);
	if (r <= 0) {
		curl_url_cleanup(p.u);
		if (r < 0)
			return r;
		return pawl_error_set(PAWL_E_POLICY,
				      "redirect to another origin refused: %s -> %s (asked for %s)",
				      *cur_url, next, asked);
	}
	curl_url_cleanup(cur->u);
	*cur = p;
	free(*cur_url);
	*cur_url = TAKE_PTR(next);
	return 0;
}

/* fetcher_get and fetcher_get_range: tmpl holds the request's limits and
 * range; each hop gets a copy of it. */
static int get(pawl_fetcher *f, const char *url, const struct xfer *tmpl)
{
	url_parsed origin = { 0 }, cur = { 0 };
	_cleanup_free_ char *cur_url = NULL;
	struct deadline dl;
	unsigned hops;
	int r;

	GUARD(url_parse_allowed(&origin, url));
	deadline_start(&dl, &f->opts, tmpl->max_bytes - tmpl->resume_from);
	cur = origin;
	cur.u = curl_url_dup(origin.u);
	cur_url = xstrdup(url);
	if (!cur.u || !cur_url) {
		r = pawl_error_set(PAWL_E_NOMEM, "out of memory fetching %s", url);
		goto out;
	}
	for (hops = 0;; hops++) {
		struct xfer x = *tmpl;

		x.f = f;
		x.url = cur_url;

		r = perform(f, &cur, &x, &dl);
		if (r <= 0)
			goto out;
		if (hops >= FETCH_MAX_REDIRECTS) {
			r = pawl_error_set(PAWL_E_NETWORK, "more than %d redirects from %s (last %s)",
					   FETCH_MAX_REDIRECTS, url, cur_url);
			goto out;
		}
		GUARD_GOTO(r, follow(&cur, &cur_url, f, x.status, &origin, url), out);
	}
out:
	curl_url_cleanup(origin.u);
	curl_url_cleanup(cur.u);
	return r;
}

int fetcher_get(pawl_fetcher *f, const char *url, uint64_t max_bytes, uint64_t resume_from,
		fetch_sink cb, void *ctx)
{
	struct xfer x = { .max_bytes = max_bytes, .resume_from = resume_from, .cb = cb,
			  .ctx = ctx };

	ENSURE(f && url && cb, PAWL_E_INVALID, "fetcher_get: missing argument");
	ENSURE(resume_from == 0 || resume_from < max_bytes, PAWL_E_INVALID,
	       "resume offset %" PRIu64 " is not below the size limit %" PRIu64 " for %s",
	       resume_from, max_bytes, url);
	return get(f, url, &x);
}

int fetcher_get_range(pawl_fetcher *f, const char *url, uint64_t first, uint64_t last,
		      uint64_t total, fetch_sink cb, void *ctx, bool *ret_ignored)
{
	struct xfer x = { .max_bytes = last + 1, .resume_from = first, .ranged = true,
			  .range_last = last, .range_total = total, .range_ignored = ret_ignored,
			  .cb = cb, .ctx = ctx };

	ENSURE(f && url && cb && ret_ignored, PAWL_E_INVALID,
	       "fetcher_get_range: missing argument");
	*ret_ignored = false;
	ENSURE(first <= last && last < total, PAWL_E_INVALID,
	       "bad range %" PRIu64 "-%" PRIu64 " of %" PRIu64 " bytes for %s", first, last,
	       total, url);
	return get(f, url, &x);
}

static int buf_sink(void *ctx, const void *p, size_t n)
{
	return buf_append(ctx, p, n);
}

int fetcher_get_buf(pawl_fetcher *f, const char *url, uint64_t max_bytes, pawl_buf *out)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(max_bytes < SIZE_MAX ? (size_t)max_bytes : SIZE_MAX - 1);

	ENSURE(out, PAWL_E_INVALID, "fetcher_get_buf: no output");
	GUARD(fetcher_get(f, url, max_bytes, 0, buf_sink, &b));
	if (!b.data)
		GUARD(buf_reserve(&b, 0)); /* an empty body is "", not NULL */
	buf_free(out);
	*out = b;
	b = (pawl_buf)PAWL_BUF_INIT(0);
	return 0;
}

/*
 * test_fetch.c - the transport against real servers: nginx instances
 * (tests/integration/nginx.sh) over http and over TLS with good and bad
 * certificates (tests/integration/certs.sh), plus a tiny in-process
 * "hostile" server for the misbehaviour nginx will not produce (endless
 * chunked bodies, endless headers, lying Content-Range, a proxy).
 *
 * nginx is required: if it cannot be started the group setup fails and so
 * does the test. The servers are stopped in the group teardown, and by the
 * harness's watchdog (--owner) should this process die first.
 *
 * Every rejection asserts the exact code and that the message names the
 * URL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fetch/fetch.h"
#include "fetch/fetch_impl.h"
#include "testing.h"

#define BIG_LEN (1024 * 1024)
/* Served through nginx.sh's /drip/ (1,200 bytes/s): about 5 s. */
#define DRIP_LEN (6 * 1024)
#define SMALL "hello, pawl\n"
#define ODD_DIR "dir x"
#define ODD_NAME "a b%c?d#e \xc3\xbc+&=.txt" /* space % ? # u-umlaut + & = */

enum {
	SRV_HTTP,
	SRV_TLS,
	SRV_EXPIRED,
	SRV_NOTYET,
	SRV_WRONGHOST,
	SRV_SELFSIGNED,
	SRV_TLS11,
	SRV_TLS12,
	SRV_TLS13,
	SRV_COUNT
};

struct server {
	int port;
	char state[512];
	bool tls;
};

static struct {
	char *docroot;
	char *certs;
	unsigned char *big;
	struct server srv[SRV_COUNT];
	char ca[600], other_ca[600];
	char *pin_server, *pin_self, *pin_other;
} G;

/* ---- helpers ---------------------------------------------------------- */

static const char *certpath(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", G.certs, name);
	return buf;
}

static char *url_of(int srv, const char *path)
{
	static char bufs[4][1024];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s://127.0.0.1:%d/%s", G.srv[srv].tls ? "https" : "http",
		 G.srv[srv].port, path);
	return b;
}

static char *read_pin(const char *name)
{
	char p[600];
	char *s = t_read_file(certpath(p, sizeof(p), name), NULL);

	s[strcspn(s, "\n")] = '\0';
	return s;
}

static int start_nginx(struct server *s, const char *tls_cert, const char *tls_key,
		       const char *protocols)
{
	const char *src = getenv("PAWL_SRCDIR");
	char cmd[4096], line[1024];
	char cert[600], key[600];
	FILE *p;
	char *sp, *end;
	long port;
	int st;

	if (!src) {
		print_error("PAWL_SRCDIR is not set\n");
		return -1;
	}
	if (tls_cert) {
		snprintf(cmd, sizeof(cmd),
			 "sh '%s/tests/integration/nginx.sh' start '%s' --owner %ld --tls '%s' '%s'%s%s%s",
			 src, G.docroot, (long)getpid(), certpath(cert, sizeof(cert), tls_cert),
			 certpath(key, sizeof(key), tls_key), protocols ? " --tls-protocols '" : "",
			 protocols ? protocols : "", protocols ? "'" : "");
	} else {
		snprintf(cmd, sizeof(cmd), "sh '%s/tests/integration/nginx.sh' start '%s' --owner %ld",
			 src, G.docroot, (long)getpid());
	}
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	st = pclose(p);
	if (st != 0 || !line[0]) {
		print_error("nginx could not be started (%s): status %d\n", cmd, st);
		return -1;
	}
	line[strcspn(line, "\n")] = '\0';
	errno = 0;
	port = strtol(line, &end, 10);
	if (errno || end == line || *end != ' ' || port <= 0 || port > 65535)
		return -1;
	sp = end + 1;
	snprintf(s->state, sizeof(s->state), "%s", sp);
	s->port = (int)port;
	s->tls = tls_cert != NULL;
	return 0;
}

static void stop_nginx(struct server *s)
{
	const char *src = getenv("PAWL_SRCDIR");
	char cmd[2048];

	if (!s->port || !src)
		return;
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/integration/nginx.sh' stop '%s'", src, s->state);
	if (system(cmd) != 0)
		print_error("stopping nginx in %s failed\n", s->state);
	s->port = 0;
}

/* The access log grows after the response has gone out; wait a little
 * for the lines a test expects. Returns what was added after mark. */
static size_t log_mark(int srv)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/access.log", G.srv[srv].state);
	return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Every access-log line after mark, whichever client caused it. */
static char *log_since_all(int srv, size_t mark)
{
	char p[600];
	size_t len;
	char *all, *tail;

	snprintf(p, sizeof(p), "%s/access.log", G.srv[srv].state);
	all = t_read_file(p, &len);
	tail = strdup(mark <= len ? all + mark : "");
	free(all);
	assert_non_null(tail);
	return tail;
}

/* The User-Agent of the newest fetcher from new_fetcher(): unique per
 * fetcher, so that log_since() sees only that fetcher's requests. */
static char cur_ua[32];

/* The access-log lines after mark that the newest new_fetcher() fetcher
 * caused, once there are want_lines of them (or after about 2 s). nginx
 * writes a line when it finalises a request, which can be after the client
 * has its response: a previous test's line can land after mark. */
static char *log_since(int srv, size_t mark, size_t want_lines)
{
	char tag[40];

	snprintf(tag, sizeof(tag), "\"%s\"", cur_ua);
	for (int i = 0;; i++) {
		char *tail = log_since_all(srv, mark), *line, *next, *o = tail;

		/* Keep whole lines with our tag, in place. */
		for (line = tail; *line; line = next) {
			char *nl = strchr(line, '\n');

			if (!nl)
				break; /* a line still being written */
			next = nl + 1;
			*nl = '\0';
			if (strstr(line, tag)) {
				size_t n = (size_t)(nl - line);

				memmove(o, line, n);
				o[n] = '\n';
				o += n + 1;
			}
		}
		*o = '\0';
		if (count_lines(tail) >= want_lines || i >= 100)
			return tail;
		free(tail);
		usleep(20000);
	}
}

/* Whether needle shows up in the log after mark within about 2 s (nginx
 * may log a request after the client has its response). */
static bool log_has_since(int srv, size_t mark, const char *needle)
{
	for (int i = 0; i < 100; i++) {
		char *tail = log_since_all(srv, mark);
		bool found = strstr(tail, needle) != NULL;

		free(tail);
		if (found)
			return true;
		usleep(20000);
	}
	return false;
}

struct sink {
	pawl_buf b;
	size_t calls;
	int fail_with;
};

static int collect(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail_with)
		return pawl_error_set(s->fail_with, "sink refuses");
	return buf_append(&s->b, p, n);
}

#define SINK_INIT { PAWL_BUF_INIT(64 * 1024 * 1024), 0, 0 }

static void msg_has(const char *needle)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, needle))
		fail_msg("error message \"%s\" does not contain \"%s\"", m, needle);
}

/* A call fails with code, and the message names url. */
#define fails_naming(expr, code, url)                                          \
	do {                                                                   \
		t_fails(expr, code);                                           \
		msg_has(url);                                                  \
	} while (0)

static pawl_fetcher *new_fetcher(const char *ca, const char *pin)
{
	static unsigned seq;
	fetch_opts o = FETCH_OPTS_INIT;
	pawl_fetcher *f = NULL;

	snprintf(cur_ua, sizeof(cur_ua), "pawl-unit/%u", ++seq);
	o.user_agent = cur_ua;
	o.ca_file = ca;
	o.pin = pin;
	o.connect_timeout_s = 10;
	t_ok(fetcher_new(&f, &o));
	return f;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the hostile server ------------------------------------------------- */

enum hostile_mode {
	H_CHUNKED_ENDLESS, /* 200, chunked, never ends */
	H_NOLEN_ENDLESS,   /* 200, no length, never ends */
	H_HEADERS_ENDLESS, /* header lines forever */
	H_WRONG_RANGE,     /* 206 for bytes 0-9 whatever was asked */
	H_UNASKED_206,     /* 206 to a request without Range */
	H_PROXY_403,       /* records the request, answers 403 */
	H_404_ENDLESS,     /* 404 with a chunked body that never ends */
	H_HTTP09,          /* bytes without a status line */
};

struct hostile {
	int fd;
	int port;
	enum hostile_mode mode;
	pthread_t th;
	char request[4096];
	size_t sent;
};

static bool send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

static void *hostile_main(void *arg)
{
	static char junk[16384];
	struct hostile *h = arg;
	struct pollfd pfd = { h->fd, POLLIN, 0 };
	struct timeval tv = { 10, 0 };
	size_t n = 0, i;
	char line[1100];
	int c;

	memset(junk, 'x', sizeof(junk));
	if (poll(&pfd, 1, 10000) <= 0)
		return NULL;
	c = accept(h->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (n < sizeof(h->request) - 1) {
		ssize_t k = recv(c, h->request + n, sizeof(h->request) - 1 - n, 0);

		if (k <= 0)
			break;
		n += (size_t)k;
		h->request[n] = '\0';
		if (strstr(h->request, "\r\n\r\n"))
			break;
	}
	/* Everything "endless" stops at 256 MiB, should the client not. */
	switch (h->mode) {
	case H_CHUNKED_ENDLESS: {
		static const char hdr[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
		if (!send_all(c, hdr, sizeof(hdr) - 1))
			break;
		for (i = 0; i < 16384; i++) {
			if (!send_all(c, "4000\r\n", 6) || !send_all(c, junk, sizeof(junk)) ||
			    !send_all(c, "\r\n", 2))
				break;
			h->sent += sizeof(junk);
		}
		break;
	}
	case H_404_ENDLESS: {
		static const char hdr[] = "HTTP/1.1 404 Not Found\r\n"
					  "Transfer-Encoding: chunked\r\n\r\n";
		if (!send_all(c, hdr, sizeof(hdr) - 1))
			break;
		for (i = 0; i < 16384; i++) {
			if (!send_all(c, "4000\r\n", 6) || !send_all(c, junk, sizeof(junk)) ||
			    !send_all(c, "\r\n", 2))
				break;
			h->sent += sizeof(junk);
		}
		break;
	}
	case H_NOLEN_ENDLESS: {
		static const char hdr[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
		if (!send_all(c, hdr, sizeof(hdr) - 1))
			break;
		for (i = 0; i < 16384 && send_all(c, junk, sizeof(junk)); i++)
			h->sent += sizeof(junk);
		break;
	}
	case H_HEADERS_ENDLESS: {
		static const char hdr[] = "HTTP/1.1 200 OK\r\n";
		if (!send_all(c, hdr, sizeof(hdr) - 1))
			break;
		memset(line, 'a', sizeof(line));
		memcpy(line, "X-Filler: ", 10);
		memcpy(line + sizeof(line) - 2, "\r\n", 2);
		for (i = 0; i < 262144 && send_all(c, line, sizeof(line)); i++)
			h->sent += sizeof(line);
		break;
	}
	case H_WRONG_RANGE: {
		static const char r[] = "HTTP/1.1 206 Partial Content\r\n"
					"Content-Range: bytes 0-9/100\r\n"
					"Content-Length: 10\r\n\r\n0123456789";
		send_all(c, r, sizeof(r) - 1);
		break;
	}
	case H_UNASKED_206: {
		static const char r[] = "HTTP/1.1 206 Partial Content\r\n"
					"Content-Range: bytes 10-19/100\r\n"
					"Content-Length: 10\r\n\r\n0123456789";
		send_all(c, r, sizeof(r) - 1);
		break;
	}
	case H_HTTP09: {
		static const char r[] = "{\"signed\": {}}\n";
		send_all(c, r, sizeof(r) - 1);
		break;
	}
	case H_PROXY_403: {
		static const char r[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
		send_all(c, r, sizeof(r) - 1);
		break;
	}
	}
	shutdown(c, SHUT_RDWR);
	close(c);
	return NULL;
}

static void hostile_start(struct hostile *h, enum hostile_mode mode)
{
	struct sockaddr_in a = { 0 };
	socklen_t alen = sizeof(a);

	memset(h, 0, sizeof(*h));
	h->mode = mode;
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(h->fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(h->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(h->fd, 4), 0);
	assert_int_equal(getsockname(h->fd, (struct sockaddr *)&a, &alen), 0);
	h->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&h->th, NULL, hostile_main, h), 0);
}

static void hostile_stop(struct hostile *h)
{
	pthread_join(h->th, NULL);
	close(h->fd);
}

/* ---- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	static const char *proxies[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
					 "ALL_PROXY", "no_proxy", "NO_PROXY" };
	const char *src = getenv("PAWL_SRCDIR");
	char cmd[2048], p[1024];
	uint32_t x = 2463534242u;
	size_t i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < ARRAY_SIZE(proxies); i++)
		unsetenv(proxies[i]);
	if (!src) {
		print_error("PAWL_SRCDIR is not set\n");
		return -1;
	}

	G.docroot = t_mkdtemp();
	G.certs = t_mkdtemp();
	snprintf(p, sizeof(p), "%s/small.txt", G.docroot);
	t_write_file(p, SMALL, strlen(SMALL));
	snprintf(p, sizeof(p), "%s/empty.bin", G.docroot);
	t_write_file(p, "", 0);
	G.big = malloc(BIG_LEN);
	assert_non_null(G.big);
	for (i = 0; i < BIG_LEN; i++) { /* xorshift32: random-looking, repeatable */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		G.big[i] = (unsigned char)x;
	}
	snprintf(p, sizeof(p), "%s/big.bin", G.docroot);
	t_write_file(p, G.big, BIG_LEN);
	snprintf(p, sizeof(p), "%s/drip.bin", G.docroot);
	t_write_file(p, G.big, DRIP_LEN);
	snprintf(p, sizeof(p), "%s/%s", G.docroot, ODD_DIR);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/%s", G.docroot, ODD_DIR, ODD_NAME);
	t_write_file(p, SMALL, strlen(SMALL));
	chmod(G.docroot, 0755);

	snprintf(cmd, sizeof(cmd), "sh '%s/tests/integration/certs.sh' '%s' >/dev/null", src,
		 G.certs);
	if (system(cmd) != 0) {
		print_error("certs.sh failed\n");
		goto fail;
	}
	certpath(G.ca, sizeof(G.ca), "ca.pem");
	certpath(G.other_ca, sizeof(G.other_ca), "other-ca.pem");
	G.pin_server = read_pin("server.pin");
	G.pin_self = read_pin("selfsigned.pin");
	G.pin_other = read_pin("other.pin");

	if (start_nginx(&G.srv[SRV_HTTP], NULL, NULL, NULL) < 0 ||
	    start_nginx(&G.srv[SRV_TLS], "server.pem", "server.key", NULL) < 0 ||
	    start_nginx(&G.srv[SRV_EXPIRED], "expired.pem", "expired.key", NULL) < 0 ||
	    start_nginx(&G.srv[SRV_NOTYET], "notyet.pem", "notyet.key", NULL) < 0 ||
	    start_nginx(&G.srv[SRV_WRONGHOST], "wronghost.pem", "wronghost.key", NULL) < 0 ||
	    start_nginx(&G.srv[SRV_SELFSIGNED], "selfsigned.pem", "selfsigned.key", NULL) < 0 ||
	    start_nginx(&G.srv[SRV_TLS11], "server.pem", "server.key", "TLSv1.1") < 0 ||
	    start_nginx(&G.srv[SRV_TLS12], "server.pem", "server.key", "TLSv1.2") < 0 ||
	    start_nginx(&G.srv[SRV_TLS13], "server.pem", "server.key", "TLSv1.3") < 0)
		goto fail;
	return 0;
fail:
	/* cmocka runs the group teardown even so. */
	return -1;
}

static int group_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < SRV_COUNT; i++)
		stop_nginx(&G.srv[i]);
	if (G.docroot)
		t_rm_rf(G.docroot);
	if (G.certs)
		t_rm_rf(G.certs);
	free(G.docroot);
	free(G.certs);
	free(G.big);
	free(G.pin_server);
	free(G.pin_self);
	free(G.pin_other);
	memset(&G, 0, sizeof(G));
	return 0;
}

/* ---- url_escape / url_join ------------------------------------------------ */

static void escape_is(const char *in, bool keep_slash, const char *want)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(4096);

	t_ok(url_escape(&b, in, strlen(in), keep_slash));
	assert_string_equal(b.data, want);
}

static void test_escape(void **state)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(4096);
	_cleanup_buf_ pawl_buf small = PAWL_BUF_INIT(8);

	(void)state;
	escape_is("", true, "");
	escape_is("AZaz09-._~", false, "AZaz09-._~");
	escape_is("a b", true, "a%20b");
	escape_is("100%", true, "100%25");
	escape_is("what?", true, "what%3F");
	escape_is("frag#1", true, "frag%231");
	escape_is("a+b&c=d;e,f", true, "a%2Bb%26c%3Dd%3Be%2Cf");
	escape_is("\xc3\xbc\xe2\x82\xac", true, "%C3%BC%E2%82%AC"); /* u-umlaut, euro */
	escape_is("\x01\x7f\xff", true, "%01%7F%FF");
	/* '/' is kept for a whole target path, encoded for one segment. */
	escape_is("dir/sub/file.tar.gz", true, "dir/sub/file.tar.gz");
	escape_is("role/with/slash", false, "role%2Fwith%2Fslash");
	/* Dot segments stay text: escaping is not path validation. */
	escape_is("../../etc/passwd", true, "../../etc/passwd");
	escape_is("..", false, "..");

	/* Appends; a NUL inside is refused and leaves the buffer alone. */
	t_ok(buf_puts(&b, "x/"));
	t_ok(url_escape(&b, "a b", 3, true));
	assert_string_equal(b.data, "x/a%20b");
	t_fails(url_escape(&b, "a\0b", 3, true), PAWL_E_INVALID);
	assert_string_equal(b.data, "x/a%20b");
	assert_int_equal(b.len, 7);

	/* Too long for the buffer: LIMIT, buffer untouched. */
	t_ok(url_escape(&small, "ab", 2, true));
	t_fails(url_escape(&small, "   ", 3, true), PAWL_E_LIMIT);
	assert_string_equal(small.data, "ab");
}

static void join_is(const char *base, const char *rel, const char *want)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(4096);

	t_ok(url_join(&b, base, rel));
	assert_string_equal(b.data, want);
}

static void test_join(void **state)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(4096);

	(void)state;
	join_is("https://h/repo", "targets/a", "https://h/repo/targets/a");
	join_is("https://h/repo/", "targets/a", "https://h/repo/targets/a");
	join_is("https://h/repo//", "/targets/a", "https://h/repo/targets/a");
	join_is("https://h", "1.root.json", "https://h/1.root.json");
	join_is("https://h/", "", "https://h/");
	join_is("https://h:8443/m/", "a%20b", "https://h:8443/m/a%20b");
	join_is("file:///", "x", "file:///x");
	join_is("file:///srv/repo/", "x", "file:///srv/repo/x");
	join_is("http://127.0.0.1:8080/metadata", "..", "http://127.0.0.1:8080/metadata/..");

	t_ok(buf_puts(&b, "keep:"));
	t_fails(url_join(&b, "https://h/?q=1", "a"), PAWL_E_INVALID);
	t_fails(url_join(&b, "https://h/#f", "a"), PAWL_E_INVALID);
	t_fails(url_join(&b, "https://h/", "a?b"), PAWL_E_INVALID);
	t_fails(url_join(&b, "https://h/", "a#b"), PAWL_E_INVALID);
	t_fails(url_join(&b, "https://h/", "a b"), PAWL_E_INVALID); /* not escaped */
	t_fails(url_join(&b, "https://h/", "\xc3\xbc"), PAWL_E_INVALID);
	t_fails(url_join(&b, "no-scheme/", "a"), PAWL_E_INVALID);
	assert_string_equal(b.data, "keep:");
}

/* ---- Content-Range (range.c), without a server ------------------------------ */

static void range_is(const char *s, uint64_t first, uint64_t last, bool have_total,
		     uint64_t total)
{
	content_range r;

	if (!content_range_parse(s, strlen(s), &r))
		print_error("\"%s\" refused\n", s);
	assert_true(content_range_parse(s, strlen(s), &r));
	assert_int_equal(r.first, first);
	assert_int_equal(r.last, last);
	assert_int_equal(r.have_total, have_total);
	if (have_total)
		assert_int_equal(r.total, total);
}

static void test_content_range(void **state)
{
	static const char *const bad[] = {
		"", "bytes", "bytes ", "bytes 1-2", "bytes 1-2/", "bytes -2/3", "bytes 1-/3",
		"bytes 2-1/3", "bytes 1-3/3", "bytes 0-0/0", "Bytes 1-2/3", "bytes  1-2/3",
		"bytes 1 -2/3", "bytes 1-2/3 ", "bytes 1-2/3x", "bytes +1-2/3", "bytes 1-2/*x",
		"bytes 1-2/-3", "bytes 0x1-2/3", "bytes */3", "items 1-2/3",
		"bytes 18446744073709551616-18446744073709551617/*",
	};
	content_range r;

	(void)state;
	range_is("bytes 0-0/1", 0, 0, true, 1);
	range_is("bytes 10-19/100", 10, 19, true, 100);
	range_is("bytes 10-19/*", 10, 19, false, 0);
	range_is("bytes 007-008/009", 7, 8, true, 9);
	range_is("bytes 18446744073709551614-18446744073709551614/18446744073709551615",
		 UINT64_MAX - 1, UINT64_MAX - 1, true, UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (content_range_parse(bad[i], strlen(bad[i]), &r))
			print_error("\"%s\" accepted\n", bad[i]);
		assert_false(content_range_parse(bad[i], strlen(bad[i]), &r));
	}
	/* A NUL inside is not the end of the header. */
	assert_false(content_range_parse("bytes 1-2/3\0", 12, &r));

	t_ok(content_range_check("bytes 10-19/100", 10, 100, "u"));
	t_ok(content_range_check("bytes 10-99/*", 10, 100, "u"));
	t_fails(content_range_check("bytes 10-19/100", 11, 100, "u"), PAWL_E_NETWORK);
	assert_non_null(strstr(pawl_error_last()->message, "starting at 10"));
	t_fails(content_range_check("bytes 10-19/101", 10, 100, "u"), PAWL_E_LIMIT);
	t_fails(content_range_check("bytes 10-100/*", 10, 100, "u"), PAWL_E_LIMIT);
	t_fails(content_range_check("bytes 10-9/100", 10, 100, "u"), PAWL_E_NETWORK);
	assert_non_null(strstr(pawl_error_last()->message, "malformed Content-Range"));
}

/* ---- policy ----------------------------------------------------------------- */

static void test_policy(void **state)
{
	static const struct {
		const char *url;
		int code;
	} cases[] = {
		{ "https://example.com/repo/1.root.json", 0 },
		{ "HTTPS://Example.COM:8443/x", 0 },
		{ "http://127.0.0.1/x", 0 },
		{ "http://127.255.1.2:8080/x", 0 },
		{ "http://localhost/x", 0 },
		{ "http://LOCALHOST:1234/x", 0 },
		{ "http://[::1]:8080/x", 0 },
		{ "http://127.1/x", 0 },      /* curl normalises to 127.0.0.1 */
		{ "http://2130706433/x", 0 }, /* ditto */
		{ "file:///var/lib/repo/x", 0 },
		{ "file://localhost/var/lib/repo/x", 0 },
		{ "http://example.com/x", PAWL_E_POLICY },
		{ "http://10.0.0.1/x", PAWL_E_POLICY },
		{ "http://128.0.0.1/x", PAWL_E_POLICY },
		{ "http://127.0.0.1.nip.io/x", PAWL_E_POLICY },
		{ "http://localhost.example.com/x", PAWL_E_POLICY },
		{ "http://[::2]/x", PAWL_E_POLICY },
		{ "http://[::ffff:127.0.0.1]/x", PAWL_E_POLICY },
		{ "http://[::]/x", PAWL_E_POLICY },
		{ "http://0.0.0.0/x", PAWL_E_POLICY },
		{ "ftp://127.0.0.1/x", PAWL_E_POLICY },
		{ "gopher://127.0.0.1/x", PAWL_E_POLICY },
		{ "dict://127.0.0.1/x", PAWL_E_POLICY },
		{ "ldap://127.0.0.1/x", PAWL_E_POLICY },
		{ "scp://127.0.0.1/x", PAWL_E_POLICY },
		{ "telnet://127.0.0.1/x", PAWL_E_POLICY },
		{ "tftp://127.0.0.1/x", PAWL_E_POLICY },
		{ "smb://127.0.0.1/x", PAWL_E_POLICY },
		{ "foo://127.0.0.1/x", PAWL_E_POLICY },
		{ "file://otherhost/etc/passwd", PAWL_E_POLICY },
		/* libcurl takes these with a relative path (found by fuzz_url). */
		{ "file:relative/x", PAWL_E_POLICY },
		{ "file:../etc/passwd", PAWL_E_POLICY },
		{ "file:%2Fetc/passwd", PAWL_E_POLICY },
		{ "file:/var/lib/repo/x", 0 },
		{ "https://user:secret@example.com/x", PAWL_E_POLICY },
		{ "http://user@127.0.0.1/x", PAWL_E_POLICY },
		{ "not a url", PAWL_E_INVALID },
		{ "example.com/x", PAWL_E_INVALID },
		{ "", PAWL_E_INVALID },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = fetch_url_allowed(cases[i].url);

		if (r != cases[i].code)
			fail_msg("%s: got %d (%s), want %d", cases[i].url, r,
				 pawl_error_last()->message, cases[i].code);
		if (r == PAWL_E_POLICY && !strchr(cases[i].url, '@'))
			msg_has(cases[i].url);
	}
	/* A refused URL with credentials is named without them. */
	t_fails(fetch_url_allowed("https://user:secret@example.com/x"), PAWL_E_POLICY);
	msg_has("https://example.com/x");
	assert_null(strstr(pawl_error_last()->message, "secret"));
}

/* The policy runs before any connection: nothing is resolved or sent, so
 * a black-holed address fails at once. */
static void test_policy_before_connect(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	fetch_stats st;
	const char *refused[] = {
		"http://192.0.2.1:9/x", "http://example.com/", "ftp://127.0.0.1/x",
		"gopher://127.0.0.1:70/x", "dict://127.0.0.1:2628/d:x", "file://remote/x",
	};
	double t0 = now_s();
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(refused); i++)
		fails_naming(fetcher_get(f, refused[i], 100, 0, collect, &s), PAWL_E_POLICY,
			     refused[i]);
	assert_true(now_s() - t0 < 1.0);
	fetcher_stats(f, &st);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.connections, 0);
	assert_int_equal(s.calls, 0);
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- plain fetching ---------------------------------------------------------- */

static void test_http_ok(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(1);
	fetch_stats st;

	(void)state;
	t_ok(fetcher_get(f, url_of(SRV_HTTP, "small.txt"), 100, 0, collect, &s));
	assert_int_equal(s.b.len, strlen(SMALL));
	assert_memory_equal(s.b.data, SMALL, strlen(SMALL));

	buf_reset(&s.b);
	t_ok(fetcher_get(f, url_of(SRV_HTTP, "big.bin"), BIG_LEN, 0, collect, &s));
	assert_int_equal(s.b.len, BIG_LEN);
	assert_memory_equal(s.b.data, G.big, BIG_LEN);

	/* fetcher_get_buf replaces the buffer's contents and limit. */
	t_ok(buf_puts(&b, "x"));
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "big.bin"), BIG_LEN, &b));
	assert_int_equal(b.len, BIG_LEN);
	assert_memory_equal(b.data, G.big, BIG_LEN);

	fetcher_stats(f, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.bytes, strlen(SMALL) + 2 * BIG_LEN);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_empty_body(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(10);
	struct sink s = SINK_INIT;

	(void)state;
	t_ok(fetcher_get(f, url_of(SRV_HTTP, "empty.bin"), 0, 0, collect, &s));
	assert_int_equal(s.calls, 0);
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "empty.bin"), 0, &b));
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_connection_reuse(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(BIG_LEN);
	size_t mark = log_mark(SRV_HTTP);
	char conn[3][32];
	fetch_stats st;
	char *log, *line;
	int i;

	(void)state;
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "small.txt"), 100, &b));
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "big.bin"), BIG_LEN, &b));
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "small.txt"), 100, &b));
	fetcher_stats(f, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.connections, 1);

	/* nginx agrees: one connection serial, request numbers 1, 2, 3. */
	log = log_since(SRV_HTTP, mark, 3);
	assert_int_equal(count_lines(log), 3);
	line = log;
	for (i = 0; i < 3; i++) {
		char addr[64], reqno[32];
		char *nl = strchr(line, '\n');
		char *a, *c, *r;

		*nl = '\0';
		a = strtok_r(line, " ", &c);
		assert_non_null(a);
		snprintf(addr, sizeof(addr), "%s", a);
		r = strtok_r(NULL, " ", &c);
		assert_non_null(r);
		snprintf(conn[i], sizeof(conn[i]), "%s", r);
		r = strtok_r(NULL, " ", &c);
		assert_non_null(r);
		snprintf(reqno, sizeof(reqno), "%s", r);
		assert_int_equal(strtol(reqno, NULL, 10), i + 1);
		line = nl + 1;
	}
	assert_string_equal(conn[0], conn[1]);
	assert_string_equal(conn[1], conn[2]);
	free(log);
	fetcher_free(f);
}

static void test_user_agent(void **state)
{
	fetch_opts o = FETCH_OPTS_INIT;
	pawl_fetcher *f = NULL;
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(100);
	size_t mark = log_mark(SRV_HTTP);

	(void)state;
	/* The default (new_fetcher() sets its own, see log_since()). */
	t_ok(fetcher_new(&f, &o));
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "small.txt"), 100, &b));
	fetcher_free(f);
	o.user_agent = "pawl-test/1 (unit)";
	t_ok(fetcher_new(&f, &o));
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "small.txt"), 100, &b));
	fetcher_free(f);
	assert_true(log_has_since(SRV_HTTP, mark, "\"pawl/" PAWL_VERSION_STRING "\""));
	assert_true(log_has_since(SRV_HTTP, mark, "\"pawl-test/1 (unit)\""));
}

/* ---- statuses ------------------------------------------------------------------ */

static void test_not_found(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	struct hostile h;
	char want[1100], hu[128];
	const char *u;

	(void)state;
	u = url_of(SRV_HTTP, "missing.json");
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NOT_FOUND, u);
	snprintf(want, sizeof(want), "404 Not Found: %s", u);
	msg_has(want);
	/* The error page is never delivered, and is not mistaken for an
	 * oversized body even when the limit is tiny. */
	fails_naming(fetcher_get(f, u, 1, 0, collect, &s), PAWL_E_NOT_FOUND, u);
	assert_int_equal(s.calls, 0);

	/* An error page that never ends is read only so far, then dropped. */
	hostile_start(&h, H_404_ENDLESS);
	snprintf(hu, sizeof(hu), "http://127.0.0.1:%d/x.json", h.port);
	fails_naming(fetcher_get(f, hu, BIG_LEN, 0, collect, &s), PAWL_E_NOT_FOUND, hu);
	fetcher_free(f);
	f = new_fetcher(NULL, NULL);
	hostile_stop(&h);
	assert_true(h.sent < 16 * 1024 * 1024);

	u = url_of(SRV_HTTP, "status/403");
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NOT_FOUND, u);
	msg_has("403");
	u = url_of(SRV_HTTP, "status/410");
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NOT_FOUND, u);
	msg_has("410");
	assert_int_equal(s.calls, 0);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_server_errors(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	struct hostile h;
	char hu[128];
	const char *u;

	(void)state;
	u = url_of(SRV_HTTP, "status/500");
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NETWORK, u);
	msg_has("500");
	u = url_of(SRV_HTTP, "status/503");
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NETWORK, u);
	msg_has("503");
	/* Nothing listens on port 1. */
	u = "http://127.0.0.1:1/x";
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NETWORK, u);
	/* A reply without a status line is not taken for a body. */
	hostile_start(&h, H_HTTP09);
	snprintf(hu, sizeof(hu), "http://127.0.0.1:%d/timestamp.json", h.port);
	fails_naming(fetcher_get(f, hu, 1000, 0, collect, &s), PAWL_E_NETWORK, hu);
	hostile_stop(&h);
	assert_int_equal(s.calls, 0);
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- limits ---------------------------------------------------------------------- */

static void test_limit_content_length(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(10);
	const char *u = url_of(SRV_HTTP, "big.bin");

	(void)state;
	/* Refused on the Content-Length, before a byte reaches the sink. */
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_LIMIT, u);
	msg_has("announced");
	fails_naming(fetcher_get(f, u, BIG_LEN - 1, 0, collect, &s), PAWL_E_LIMIT, u);
	msg_has("announced");
	assert_int_equal(s.calls, 0);
	/* Exactly the limit is fine. */
	t_ok(fetcher_get(f, u, BIG_LEN, 0, collect, &s));
	assert_int_equal(s.b.len, BIG_LEN);

	t_ok(buf_puts(&b, "old"));
	fails_naming(fetcher_get_buf(f, u, 100, &b), PAWL_E_LIMIT, u);
	assert_string_equal(b.data, "old");
	buf_free(&s.b);
	fetcher_free(f);
}

static void endless(enum hostile_mode mode, const char *what)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	struct hostile h;
	char u[128];

	hostile_start(&h, mode);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/%s", h.port, what);
	fails_naming(fetcher_get(f, u, 100000, 0, collect, &s), PAWL_E_LIMIT, u);
	if (mode != H_HEADERS_ENDLESS) {
		msg_has("endless data");
		assert_true(s.b.len <= 100000);
	} else {
		msg_has("headers");
		assert_int_equal(s.calls, 0);
	}
	fetcher_free(f); /* closes the connection, so the server stops */
	hostile_stop(&h);
	assert_true(h.sent < 16 * 1024 * 1024);
	buf_free(&s.b);
}

static void test_limit_endless_chunked(void **state)
{
	(void)state;
	endless(H_CHUNKED_ENDLESS, "chunked");
}

static void test_limit_endless_no_length(void **state)
{
	(void)state;
	endless(H_NOLEN_ENDLESS, "nolength");
}

static void test_limit_endless_headers(void **state)
{
	(void)state;
	endless(H_HEADERS_ENDLESS, "headers");
}

static void test_slow_retrieval(void **state)
{
	fetch_opts o = FETCH_OPTS_INIT;
	pawl_fetcher *f = NULL;
	struct sink s = SINK_INIT;
	const char *u = url_of(SRV_HTTP, "slow/big.bin");
	double t0;

	(void)state;
	o.low_speed_bytes = 2000; /* nginx drips 256 bytes/s */
	o.low_speed_time_s = 2;
	t_ok(fetcher_new(&f, &o));
	t0 = now_s();
	fails_naming(fetcher_get(f, u, BIG_LEN, 0, collect, &s), PAWL_E_NETWORK, u);
	msg_has("too slow");
	assert_true(now_s() - t0 < 15.0);
	assert_true(s.b.len < BIG_LEN);
	fetcher_free(f);

	/* The total timeout too. */
	o.low_speed_bytes = 1;
	o.low_speed_time_s = 60;
	o.total_timeout_s = 2;
	t_ok(fetcher_new(&f, &o));
	buf_reset(&s.b);
	fails_naming(fetcher_get(f, u, BIG_LEN, 0, collect, &s), PAWL_E_NETWORK, u);
	msg_has("timed out");
	buf_free(&s.b);
	fetcher_free(f);
}

/*
 * Slow retrieval just above the low-speed limit: nginx's /drip/ sends
 * 1,200 bytes/s, and the low-speed limit is libpawl's 1,024 bytes/s (over
 * a 3 s window here instead of 30 s, so that the drip outlasts it in a
 * quick test). The low-speed limit lets the drip through; only the
 * transfer deadline stops it, and its message names the URL and the
 * deadline.
 */
static void test_deadline_drip(void **state)
{
	fetch_opts o = FETCH_OPTS_INIT;
	pawl_fetcher *f = NULL;
	struct sink s = SINK_INIT;
	const char *u = url_of(SRV_HTTP, "drip/drip.bin");
	double t0, took;

	(void)state;
	assert_int_equal(o.low_speed_bytes, 1024);
	o.low_speed_time_s = 3;
	/* The drip outlasts the low-speed window and still arrives whole:
	 * the low-speed limit alone does not stop it (default deadline:
	 * 30 s + 6 KiB at 16 KiB/s). */
	t_ok(fetcher_new(&f, &o));
	t0 = now_s();
	t_ok(fetcher_get(f, u, DRIP_LEN, 0, collect, &s));
	took = now_s() - t0;
	assert_int_equal(s.b.len, DRIP_LEN);
	if (took < 3.5)
		fail_msg("the drip took %.1f s; it must outlast the 3 s low-speed window", took);
	fetcher_free(f);

	/* With a deadline of 1 s + 6144 bytes at 4096 bytes/s = 2.5 s. */
	o.min_rate_bytes = 4096;
	o.deadline_base_s = 1;
	t_ok(fetcher_new(&f, &o));
	buf_reset(&s.b);
	t0 = now_s();
	fails_naming(fetcher_get(f, u, DRIP_LEN, 0, collect, &s), PAWL_E_NETWORK, u);
	took = now_s() - t0;
	msg_has("deadline of 2.5 s (1 s + 6144 bytes at 4096 bytes/s)");
	assert_true(s.b.len > 0 && s.b.len < DRIP_LEN);
	if (took < 2.4 || took > 8.0)
		fail_msg("stopped after %.1f s, not at the 2.5 s deadline", took);

	/* Resuming, the deadline is for what is left: 1 s + 5120 bytes. */
	buf_reset(&s.b);
	fails_naming(fetcher_get(f, u, DRIP_LEN, 1024, collect, &s), PAWL_E_NETWORK, u);
	msg_has("deadline of 2.2 s (1 s + 5120 bytes at 4096 bytes/s)");
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- the sink -------------------------------------------------------------------- */

static void test_sink_abort(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	const char *u = url_of(SRV_HTTP, "big.bin");

	(void)state;
	s.fail_with = PAWL_E_HASH;
	fails_naming(fetcher_get(f, u, BIG_LEN, 0, collect, &s), PAWL_E_HASH, u);
	msg_has("sink refuses");
	assert_int_equal(s.calls, 1);
	/* The fetcher is fine afterwards. */
	s.fail_with = 0;
	t_ok(fetcher_get(f, u, BIG_LEN, 0, collect, &s));
	assert_memory_equal(s.b.data, G.big, BIG_LEN);
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- file:// ----------------------------------------------------------------------- */

static void test_file(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	char u[1200];

	(void)state;
	snprintf(u, sizeof(u), "file://%s/big.bin", G.docroot);
	t_ok(fetcher_get(f, u, BIG_LEN, 0, collect, &s));
	assert_int_equal(s.b.len, BIG_LEN);
	assert_memory_equal(s.b.data, G.big, BIG_LEN);

	buf_reset(&s.b);
	snprintf(u, sizeof(u), "file://localhost%s/small.txt", G.docroot);
	t_ok(fetcher_get(f, u, 100, 0, collect, &s));
	assert_string_equal(s.b.data, SMALL);

	/* Resumed from the middle. */
	buf_reset(&s.b);
	snprintf(u, sizeof(u), "file://%s/big.bin", G.docroot);
	t_ok(fetcher_get(f, u, BIG_LEN, BIG_LEN / 2, collect, &s));
	assert_int_equal(s.b.len, BIG_LEN / 2);
	assert_memory_equal(s.b.data, G.big + BIG_LEN / 2, BIG_LEN / 2);

	/* Larger than allowed: refused before the sink sees anything. */
	buf_reset(&s.b);
	s.calls = 0;
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_LIMIT, u);
	msg_has("announced");
	assert_int_equal(s.calls, 0);

	snprintf(u, sizeof(u), "file://%s/missing.json", G.docroot);
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NOT_FOUND, u);
	snprintf(u, sizeof(u), "file://%s/small.txt/below", G.docroot);
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_NOT_FOUND, u);

	/* Only regular files: a directory would read as an empty body, a
	 * device or FIFO without end. */
	snprintf(u, sizeof(u), "file://%s/%s", G.docroot, "dir%20x");
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_IO, u);
	fails_naming(fetcher_get(f, "file:///dev/zero", 1000, 0, collect, &s), PAWL_E_IO,
		     "file:///dev/zero");
	assert_int_equal(s.calls, 0);

	snprintf(u, sizeof(u), "file://elsewhere%s/small.txt", G.docroot);
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_POLICY, u);
	buf_free(&s.b);
	fetcher_free(f);
}

/* A file:// path is taken literally: a "." or ".." segment, as written
 * or percent-encoded (libcurl decodes "%2F" and "%2E" in file paths), is
 * refused before anything is opened. A role name or target path joined
 * to a file:// base so cannot leave that directory (the client side:
 * itest_peers test_cve_2021_41131_names_over_file_url). */
static void test_file_dot_segments(void **state)
{
	static const char *const refused[] = {
		"file:///var/lib/repo/metadata/../../../etc/shadow",
		"file:///var/lib/repo/./x",
		"file:///var/lib/repo/metadata/..%2F..%2Fsecret.json",
		"file:///var/lib/repo/metadata/%2E%2E/x",
		"file:///var/lib/repo/metadata/%2e%2E%2fx",
		"file:///var/lib/repo/targets/..",
		"file://localhost/var/lib/repo/../x",
	};
	static const char *const allowed[] = {
		"file:///var/lib/repo/metadata/a%2Fb.json", /* role "a/b": stays below */
		"file:///var/lib/repo/metadata/..x.json",
		"file:///var/lib/repo/metadata/x...json",
		"file:///var/lib/repo/targets/%2E%2E%2E",
		"https://example.com/repo/../x", /* the server decides */
	};
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	char u[1200];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		t_fails(fetch_url_allowed(refused[i]), PAWL_E_POLICY);
		msg_has(refused[i]);
		msg_has("path segment refused");
	}
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		t_ok(fetch_url_allowed(allowed[i]));
	/* small.txt exists: reached through a dot segment it is not read. */
	snprintf(u, sizeof(u), "file://%s/sub/..%%2Fsmall.txt", G.docroot);
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_POLICY, u);
	snprintf(u, sizeof(u), "file://%s/x/../small.txt", G.docroot);
	fails_naming(fetcher_get(f, u, 1000, 0, collect, &s), PAWL_E_POLICY, u);
	assert_int_equal(s.calls, 0);
	snprintf(u, sizeof(u), "file://%s/small.txt", G.docroot);
	t_ok(fetcher_get(f, u, 1000, 0, collect, &s));
	assert_string_equal(s.b.data, SMALL);
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- redirects ---------------------------------------------------------------------- */

static void test_redirect_same_origin(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(100);
	size_t mark = log_mark(SRV_HTTP);
	fetch_stats st;

	(void)state;
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "redirect-same/small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "redirect-abs/small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	fetcher_stats(f, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.connections, 1);
	assert_true(log_has_since(SRV_HTTP, mark, "\"GET /redirect-same/small.txt HTTP/1.1\" 302"));
	assert_true(log_has_since(SRV_HTTP, mark, "\"GET /small.txt HTTP/1.1\" 200"));

	/* Over TLS as well. */
	fetcher_free(f);
	f = new_fetcher(G.ca, NULL);
	t_ok(fetcher_get_buf(f, url_of(SRV_TLS, "redirect-abs/small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	fetcher_free(f);
}

static void test_redirect_cross_origin(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	size_t mark = log_mark(SRV_HTTP);
	char target[200];
	fetch_stats st;
	const char *u;
	char *log;

	(void)state;
	/* To the same server under another name: following would work, so
	 * only the origin rule stops it. */
	u = url_of(SRV_HTTP, "redirect-cross/small.txt");
	fails_naming(fetcher_get(f, u, 100, 0, collect, &s), PAWL_E_POLICY, u);
	snprintf(target, sizeof(target), "http://localhost:%d/small.txt", G.srv[SRV_HTTP].port);
	msg_has(target);
	msg_has("another origin");
	assert_int_equal(s.calls, 0);
	fetcher_stats(f, &st);
	assert_int_equal(st.requests, 1);
	log = log_since(SRV_HTTP, mark, 1);
	assert_int_equal(count_lines(log), 1);
	assert_null(strstr(log, "GET /small.txt"));
	free(log);
	fetcher_free(f);

	f = new_fetcher(G.ca, NULL);
	u = url_of(SRV_TLS, "redirect-cross/small.txt");
	fails_naming(fetcher_get(f, u, 100, 0, collect, &s), PAWL_E_POLICY, u);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_redirect_downgrade(void **state)
{
	pawl_fetcher *f = new_fetcher(G.ca, NULL);
	struct sink s = SINK_INIT;
	fetch_stats st;
	const char *u = url_of(SRV_TLS, "redirect-http/small.txt");

	(void)state;
	fails_naming(fetcher_get(f, u, 100, 0, collect, &s), PAWL_E_POLICY, u);
	msg_has("https to plain http");
	fetcher_stats(f, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(s.calls, 0);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_redirect_loop(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	fetch_stats st;
	const char *u = url_of(SRV_HTTP, "redirect-loop/");

	(void)state;
	fails_naming(fetcher_get(f, u, 100, 0, collect, &s), PAWL_E_NETWORK, u);
	msg_has("redirects");
	fetcher_stats(f, &st);
	assert_int_equal(st.requests, FETCH_MAX_REDIRECTS + 1);
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- resume ------------------------------------------------------------------------- */

static void test_resume(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	size_t mark = log_mark(SRV_HTTP);
	const char *u = url_of(SRV_HTTP, "big.bin");
	char want[64];

	(void)state;
	t_ok(fetcher_get(f, u, BIG_LEN, BIG_LEN / 2, collect, &s));
	assert_int_equal(s.b.len, BIG_LEN / 2);
	assert_memory_equal(s.b.data, G.big + BIG_LEN / 2, BIG_LEN / 2);
	snprintf(want, sizeof(want), "206 %d \"bytes=%d-\"", BIG_LEN / 2, BIG_LEN / 2);
	assert_true(log_has_since(SRV_HTTP, mark, want));

	/* The last byte only. */
	buf_reset(&s.b);
	t_ok(fetcher_get(f, u, BIG_LEN, BIG_LEN - 1, collect, &s));
	assert_int_equal(s.b.len, 1);
	assert_int_equal((unsigned char)s.b.data[0], G.big[BIG_LEN - 1]);

	/* Resumed through a redirect. */
	buf_reset(&s.b);
	t_ok(fetcher_get(f, url_of(SRV_HTTP, "redirect-same/big.bin"), BIG_LEN, 1000, collect,
			 &s));
	assert_memory_equal(s.b.data, G.big + 1000, BIG_LEN - 1000);

	/* The resource grew past the limit: refused on Content-Range. */
	buf_reset(&s.b);
	s.calls = 0;
	fails_naming(fetcher_get(f, u, BIG_LEN - 1, 10, collect, &s), PAWL_E_LIMIT, u);
	assert_int_equal(s.calls, 0);

	/* Nothing left to ask for. */
	fails_naming(fetcher_get(f, u, 100, 100, collect, &s), PAWL_E_INVALID, u);
	fails_naming(fetcher_get(f, u, 100, 200, collect, &s), PAWL_E_INVALID, u);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_resume_refused(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	struct sink s = SINK_INIT;
	struct hostile h;
	char u[128];
	const char *n = url_of(SRV_HTTP, "norange/big.bin");

	(void)state;
	/* A server that ignores Range answers 200 with the whole file. */
	fails_naming(fetcher_get(f, n, BIG_LEN, 1000, collect, &s), PAWL_E_NETWORK, n);
	msg_has("ignored the range request");
	assert_int_equal(s.calls, 0);

	/* One that answers another range than asked. */
	hostile_start(&h, H_WRONG_RANGE);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/file", h.port);
	fails_naming(fetcher_get(f, u, 100, 50, collect, &s), PAWL_E_NETWORK, u);
	msg_has("starting at 0");
	assert_int_equal(s.calls, 0);
	hostile_stop(&h);
	assert_non_null(strstr(h.request, "Range: bytes=50-\r\n"));

	/* A 206 nobody asked for. */
	hostile_start(&h, H_UNASKED_206);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/file", h.port);
	fails_naming(fetcher_get(f, u, 100, 0, collect, &s), PAWL_E_NETWORK, u);
	assert_int_equal(s.calls, 0);
	hostile_stop(&h);
	assert_null(strstr(h.request, "Range:"));
	buf_free(&s.b);
	fetcher_free(f);
}

/* ---- TLS ------------------------------------------------------------------------------ */

static void test_tls_ok(void **state)
{
	pawl_fetcher *f = new_fetcher(G.ca, NULL);
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(100);
	char u[128];

	(void)state;
	t_ok(fetcher_get_buf(f, url_of(SRV_TLS, "small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	/* By DNS name as well as by IP address. */
	snprintf(u, sizeof(u), "https://localhost:%d/small.txt", G.srv[SRV_TLS].port);
	t_ok(fetcher_get_buf(f, u, 100, &b));
	assert_string_equal(b.data, SMALL);
	/* TLS 1.2 only, and TLS 1.3 only. */
	t_ok(fetcher_get_buf(f, url_of(SRV_TLS12, "small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	t_ok(fetcher_get_buf(f, url_of(SRV_TLS13, "small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	fetcher_free(f);
}

static void tls_fails(int srv, const char *ca, const char *pin, const char *why)
{
	pawl_fetcher *f = new_fetcher(ca, pin);
	struct sink s = SINK_INIT;
	const char *u = url_of(srv, "small.txt");

	fails_naming(fetcher_get(f, u, 100, 0, collect, &s), PAWL_E_NETWORK, u);
	if (why)
		msg_has(why);
	assert_int_equal(s.calls, 0);
	buf_free(&s.b);
	fetcher_free(f);
}

static void test_tls_untrusted(void **state)
{
	(void)state;
	/* A private bundle replaces the system store, and vice versa. */
	tls_fails(SRV_TLS, G.other_ca, NULL, "SSL certificate problem");
	tls_fails(SRV_TLS, NULL, NULL, "SSL certificate problem");
}

static void test_tls_expired(void **state)
{
	(void)state;
	tls_fails(SRV_EXPIRED, G.ca, NULL, "certificate has expired");
}

static void test_tls_not_yet_valid(void **state)
{
	(void)state;
	tls_fails(SRV_NOTYET, G.ca, NULL, "certificate is not yet valid");
}

static void test_tls_wrong_host(void **state)
{
	(void)state;
	tls_fails(SRV_WRONGHOST, G.ca, NULL, "'127.0.0.1'");
}

static void test_tls_self_signed(void **state)
{
	(void)state;
	tls_fails(SRV_SELFSIGNED, G.ca, NULL, "self");
	/* A pin adds to certificate verification; it never replaces it. */
	tls_fails(SRV_SELFSIGNED, G.ca, G.pin_self, "self");
}

static void test_tls_pin(void **state)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(100);
	char list[256];
	pawl_fetcher *f;

	(void)state;
	f = new_fetcher(G.ca, G.pin_server);
	t_ok(fetcher_get_buf(f, url_of(SRV_TLS, "small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	fetcher_free(f);

	snprintf(list, sizeof(list), "%s;%s", G.pin_other, G.pin_server);
	f = new_fetcher(G.ca, list);
	t_ok(fetcher_get_buf(f, url_of(SRV_TLS, "small.txt"), 100, &b));
	fetcher_free(f);

	tls_fails(SRV_TLS, G.ca, G.pin_other, "public key does not match pinned public key");
}

static void test_tls_old_protocol(void **state)
{
	(void)state;
	/* The server offers only TLS 1.1 (really: nginx.sh lowers its
	 * security level so that OpenSSL 3 will speak it). */
	tls_fails(SRV_TLS11, G.ca, NULL, "protocol version");
}

/* ---- options, proxies, names ------------------------------------------------------------- */

static void test_bad_options(void **state)
{
	fetch_opts o = FETCH_OPTS_INIT;
	pawl_fetcher *f = NULL;
	char p[600];

	(void)state;
	o.version = 2;
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o = (fetch_opts)FETCH_OPTS_INIT;
	o.low_speed_bytes = 0;
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o = (fetch_opts)FETCH_OPTS_INIT;
	o.connect_timeout_s = 0;
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	/* The transfer deadline cannot be turned off either. */
	o = (fetch_opts)FETCH_OPTS_INIT;
	o.min_rate_bytes = 0;
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	msg_has("deadline cannot be turned off");
	o = (fetch_opts)FETCH_OPTS_INIT;
	o.deadline_base_s = 0;
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o.deadline_base_s = -1;
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o = (fetch_opts)FETCH_OPTS_INIT;
	o.pin = "/etc/ssl/certs/some.pem"; /* curl would read a file */
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o.pin = "sha256//tooshort=";
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o.pin = "sha256//xjMUlZZkaWG+MdvwiUGfc7dTCwu32bRcv4tHnApj7Rg=;";
	t_fails(fetcher_new(&f, &o), PAWL_E_INVALID);
	o = (fetch_opts)FETCH_OPTS_INIT;
	o.ca_file = certpath(p, sizeof(p), "no-such-ca.pem");
	t_fails(fetcher_new(&f, &o), PAWL_E_NOT_FOUND);
	msg_has(p);
	o.ca_file = G.certs; /* a directory */
	t_fails(fetcher_new(&f, &o), PAWL_E_IO);
	assert_null(f);
	/* NULL options are the defaults. */
	t_ok(fetcher_new(&f, NULL));
	fetcher_free(f);
	fetcher_free(NULL);
}

static void test_escaped_name(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	_cleanup_buf_ pawl_buf path = PAWL_BUF_INIT(1024);
	_cleanup_buf_ pawl_buf u = PAWL_BUF_INIT(2048);
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(100);
	const char *name = ODD_DIR "/" ODD_NAME;
	char base[1200];

	(void)state;
	t_ok(url_escape(&path, name, strlen(name), true));
	t_ok(url_join(&u, url_of(SRV_HTTP, ""), path.data));
	t_ok(fetcher_get_buf(f, u.data, 100, &b));
	assert_string_equal(b.data, SMALL);

	buf_reset(&u);
	snprintf(base, sizeof(base), "file://%s", G.docroot);
	t_ok(url_join(&u, base, path.data));
	t_ok(fetcher_get_buf(f, u.data, 100, &b));
	assert_string_equal(b.data, SMALL);
	fetcher_free(f);
}

static void test_proxy_env(void **state)
{
	pawl_fetcher *f = new_fetcher(NULL, NULL);
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(100);
	struct hostile h;
	char proxy[64];
	const char *u = "https://pawl.invalid/1.root.json";

	(void)state;
	hostile_start(&h, H_PROXY_403);
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", h.port);

	/* Loopback traffic never goes to a proxy. */
	setenv("http_proxy", proxy, 1);
	setenv("all_proxy", proxy, 1);
	t_ok(fetcher_get_buf(f, url_of(SRV_HTTP, "small.txt"), 100, &b));
	assert_string_equal(b.data, SMALL);
	unsetenv("http_proxy");
	unsetenv("all_proxy");

	/* Anything else honours https_proxy: the request becomes a CONNECT
	 * to the proxy, which refuses it here. */
	setenv("https_proxy", proxy, 1);
	fails_naming(fetcher_get_buf(f, u, 100, &b), PAWL_E_NETWORK, u);
	unsetenv("https_proxy");
	hostile_stop(&h);
	assert_non_null(strstr(h.request, "CONNECT pawl.invalid:443 HTTP/1.1\r\n"));
	fetcher_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_content_range),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_before_connect),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_http_ok),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_connection_reuse),
		cmocka_unit_test(test_user_agent),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_limit_content_length),
		cmocka_unit_test(test_limit_endless_chunked),
		cmocka_unit_test(test_limit_endless_no_length),
		cmocka_unit_test(test_limit_endless_headers),
		cmocka_unit_test(test_slow_retrieval),
		cmocka_unit_test(test_deadline_drip),
		cmocka_unit_test(test_sink_abort),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_dot_segments),
		cmocka_unit_test(test_redirect_same_origin),
		cmocka_unit_test(test_redirect_cross_origin),
		cmocka_unit_test(test_redirect_downgrade),
		cmocka_unit_test(test_redirect_loop),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_resume_refused),
		cmocka_unit_test(test_tls_ok),
		cmocka_unit_test(test_tls_untrusted),
		cmocka_unit_test(test_tls_expired),
		cmocka_unit_test(test_tls_not_yet_valid),
		cmocka_unit_test(test_tls_wrong_host),
		cmocka_unit_test(test_tls_self_signed),
		cmocka_unit_test(test_tls_pin),
		cmocka_unit_test(test_tls_old_protocol),
		cmocka_unit_test(test_escaped_name),
		cmocka_unit_test(test_proxy_env),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

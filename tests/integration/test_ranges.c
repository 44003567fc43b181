/*
 * test_ranges.c - byte ranges of a target (issue 19), in process against
 * nginx (tests/integration/nginx.sh) and a small hostile HTTP server:
 *  - pawl_updater_download_ranges: several ranges, touching ones merged
 *    into one request (nginx's access log counts them), the first and the
 *    last byte, a single byte; a server without Range support (nginx.sh's
 *    /norange/, max_ranges 0) yields the same bytes, and a read that
 *    covers the whole target is checked against the signed hashes; a 206
 *    naming other bytes, or longer than asked, is refused; a mirror that
 *    dies in the middle of a range is resumed on the next with no byte
 *    twice; ranges that are not sorted, overlap, leave the target or are
 *    empty are refused before any request;
 *  - the agent's streaming reader (src/pawl/privsep.c) over a ranges job,
 *    in its thread mode and, as root, through the forked unprivileged
 *    fetcher: exactly the bytes asked for; a fetcher that sends fewer or
 *    more than the ranges' total is refused. The lying fetcher is this
 *    program's own message writer, wrapped (-Wl,--wrap=psm_write).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pawl/updater.h"
#include "privsep.h"
#include "privsep_msg.h"
#include "scenario.h"

/* ---- the lying fetcher: psm_write wrapped ---- */

enum lie { LIE_NONE, LIE_SHORT, LIE_LONG };
static volatile enum lie LIE;

int __real_psm_write(int fd, const uint8_t *frame, size_t len);
int __wrap_psm_write(int fd, const uint8_t *frame, size_t len);

int __wrap_psm_write(int fd, const uint8_t *frame, size_t len)
{
	static uint8_t buf[PSM_FRAME_MAX];
	size_t n;

	if (LIE == LIE_SHORT && len > PSM_HEADER_LEN + 1 && frame[0] == PSM_DATA) {
		/* one byte less than it was given */
		if (psm_encode_data(buf, sizeof(buf), &n, frame + PSM_HEADER_LEN,
				    len - PSM_HEADER_LEN - 1) != 0)
			return -1;
		LIE = LIE_NONE; /* once */
		return __real_psm_write(fd, buf, n);
	}
	if (LIE == LIE_LONG && len >= 1 && frame[0] == PSM_OUTCOME) {
		/* one byte more, just before its "ok" */
		if (psm_encode_data(buf, sizeof(buf), &n, "x", 1) != 0 ||
		    __real_psm_write(fd, buf, n) != 0)
			return -1;
	}
	return __real_psm_write(fd, frame, len);
}

/* ---- the target ---- */

#define IMG_LEN 300000
#define SMALL_LEN 5000
static unsigned char *IMG, *SMALL;
static rs_repo *REPO;
static char IMG_REL[4096];

static void make_repo(void)
{
	if (REPO)
		return;
	IMG = malloc(IMG_LEN);
	SMALL = malloc(SMALL_LEN);
	assert_non_null(IMG);
	assert_non_null(SMALL);
	for (size_t i = 0; i < IMG_LEN; i++)
		IMG[i] = (unsigned char)((i * 131) ^ (i >> 8));
	for (size_t i = 0; i < SMALL_LEN; i++)
		SMALL[i] = (unsigned char)(i * 7 + 3);
	REPO = rs_new(DOCROOT, "rg", true);
	rs_add_target(REPO, "targets", "app/img.bin", IMG, IMG_LEN);
	rs_add_target(REPO, "targets", "app/small.bin", SMALL, SMALL_LEN);
	rs_commit(REPO);
	snprintf(IMG_REL, sizeof(IMG_REL), "%s",
		 rs_target_relpath(REPO, "app/img.bin", IMG, IMG_LEN));
}

struct got {
	unsigned char *p;
	size_t n, cap;
};

static int collect(void *ctx, const void *p, size_t n)
{
	struct got *g = ctx;

	if (g->n + n > g->cap) {
		size_t cap = (g->n + n) * 2;
		unsigned char *q = realloc(g->p, cap);

		if (!q)
			return PAWL_E_NOMEM;
		g->p = q;
		g->cap = cap;
	}
	memcpy(g->p + g->n, p, n);
	g->n += n;
	return 0;
}

/* g holds exactly the bytes of IMG that ranges r[0..n) name, in order. */
static void assert_bytes(const struct got *g, const pawl_range *r, size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		assert_true(off + r[i].length <= g->n);
		if (memcmp(g->p + off, IMG + r[i].offset, r[i].length) != 0)
			fail_msg("range %zu (%llu+%llu) differs", i, (unsigned long long)r[i].offset,
				 (unsigned long long)r[i].length);
		off += r[i].length;
	}
	assert_int_equal(off, g->n);
}

struct cl {
	char *tmp;
	char mdir[600];
	const char *murl[1];
	const char *turl[2];
	char ubuf[3][1024];
	pawl_updater_opts o;
	pawl_updater *u;
	pawl_target *t;
};

/* A refreshed client of REPO whose target mirrors are the URLs a and b
 * (b may be NULL), with app/img.bin looked up. */
static void cl_init(struct cl *c, const char *a, const char *b)
{
	size_t len;
	char *root = rs_read(REPO, "metadata/1.root.json", &len);

	memset(c, 0, sizeof(*c));
	c->tmp = t_mkdtemp();
	snprintf(c->mdir, sizeof(c->mdir), "%s/metadata", c->tmp);
	t_ok(pawl_metadata_dir_init(c->mdir, root, len));
	free(root);
	snprintf(c->ubuf[0], sizeof(c->ubuf[0]), "%s", e2e_url(&S, "rg/metadata/"));
	snprintf(c->ubuf[1], sizeof(c->ubuf[1]), "%s", a);
	c->murl[0] = c->ubuf[0];
	c->turl[0] = c->ubuf[1];
	if (b) {
		snprintf(c->ubuf[2], sizeof(c->ubuf[2]), "%s", b);
		c->turl[1] = c->ubuf[2];
	}
	c->o = (pawl_updater_opts)PAWL_UPDATER_OPTS_INIT;
	c->o.metadata_dir = c->mdir;
	c->o.metadata_urls = c->murl;
	c->o.n_metadata_urls = 1;
	c->o.target_urls = c->turl;
	c->o.n_target_urls = b ? 2 : 1;
	t_ok(pawl_updater_new(&c->u, &c->o));
	t_ok(pawl_updater_refresh(c->u));
	t_ok(pawl_updater_get_target(&c->t, c->u, "app/img.bin"));
}

static void cl_free(struct cl *c)
{
	pawl_target_free(c->t);
	pawl_updater_free(c->u);
	t_rm_rf(c->tmp);
	free(c->tmp);
}

static void expect_msg(const char *needle)
{
	if (!strstr(pawl_error_last()->message, needle))
		fail_msg("error \"%s\" lacks \"%s\"", pawl_error_last()->message, needle);
}

/* The requests for app/img.bin logged since mark, with their status and
 * Range header, as "STATUS RANGE\n" lines (malloc'd). */
static char *img_requests(size_t mark)
{
	pawl_buf b = PAWL_BUF_INIT(1 << 20);
	e2e_reqs q;
	char *s = NULL;

	e2e_log_since(&S, mark, &q);
	for (size_t i = 0; i < q.n; i++)
		if (strstr(q.v[i].path, IMG_REL))
			t_ok(buf_printf(&b, "%d %s\n", q.v[i].status, q.v[i].range));
	e2e_reqs_free(&q);
	t_ok(buf_steal(&b, &s, NULL));
	return s ? s : strdup("");
}

static void requests_are(size_t mark, const char *want)
{
	char *got = img_requests(mark);

	if (strcmp(got, want) != 0)
		fail_msg("requests:\n%swanted:\n%s", got, want);
	free(got);
}

/* ---- pawl_updater_download_ranges against nginx ---- */

static void test_ranges(void **state)
{
	/* the first byte and a touching neighbour; a run of two touching
	 * ranges; a single byte; the last ten bytes */
	const pawl_range r[] = { { 0, 1 },	{ 1, 99 },	{ 5000, 4096 },
				 { 9096, 10 }, { 100000, 1 }, { IMG_LEN - 10, 10 } };
	struct got g = { 0 };
	struct cl c;
	size_t mark;

	(void)state;
	make_repo();
	cl_init(&c, e2e_url(&S, "rg/targets/"), NULL);
	mark = e2e_log_mark(&S);
	t_ok(pawl_updater_download_ranges(c.u, c.t, r, 6, collect, &g));
	assert_bytes(&g, r, 6);
	/* Four requests: the touching ranges went together. */
	requests_are(mark, "206 bytes=0-99\n"
			   "206 bytes=5000-9105\n"
			   "206 bytes=100000-100000\n"
			   "206 bytes=299990-299999\n");
	cl_free(&c);

	/* The same from a file:// mirror (libcurl reads the range itself). */
	{
		char url[1200];

		snprintf(url, sizeof(url), "file://%s/rg/targets/", DOCROOT);
		cl_init(&c, url, NULL);
	}
	g.n = 0;
	t_ok(pawl_updater_download_ranges(c.u, c.t, r, 6, collect, &g));
	assert_bytes(&g, r, 6);
	free(g.p);
	cl_free(&c);
}

static void test_ranges_norange(void **state)
{
	const pawl_range mid[] = { { 10, 20 }, { 30, 5 }, { 1000, 5 } };
	const pawl_range end[] = { { 10, 20 }, { 150000, 3 }, { IMG_LEN - 10, 10 } };
	char bad[4200];
	unsigned char *evil;
	struct got g = { 0 };
	struct cl c;
	size_t mark;

	(void)state;
	make_repo();
	cl_init(&c, e2e_url(&S, "norange/rg/targets/"), NULL);
	/* Ranges short of the end: the Range request is answered 200, and
	 * that answer is read up to byte 1004 (nothing asked twice). */
	mark = e2e_log_mark(&S);
	t_ok(pawl_updater_download_ranges(c.u, c.t, mid, 3, collect, &g));
	assert_bytes(&g, mid, 3);
	requests_are(mark, "200 bytes=10-34\n"
			   "200 \n");
	g.n = 0;
	/* Up to the end: the same bytes, and the whole target is checked. */
	t_ok(pawl_updater_download_ranges(c.u, c.t, end, 3, collect, &g));
	assert_bytes(&g, end, 3);
	cl_free(&c);

	/* A mirror whose copy is wrong outside the ranges asked for: only
	 * the whole-target check can see it. */
	rs_mirror(REPO, DOCROOT, "rgbad");
	evil = malloc(IMG_LEN);
	assert_non_null(evil);
	memcpy(evil, IMG, IMG_LEN);
	evil[200000] ^= 1;
	snprintf(bad, sizeof(bad), "rgbad/%s", IMG_REL);
	t_write_file(e2e_path(DOCROOT, bad), evil, IMG_LEN);
	free(evil);
	cl_init(&c, e2e_url(&S, "norange/rgbad/targets/"), NULL);
	g.n = 0;
	t_fails(pawl_updater_download_ranges(c.u, c.t, end, 3, collect, &g), PAWL_E_HASH);
	/* Short of the end there is nothing to check the read against (the
	 * caller checks its pieces): it goes through. */
	g.n = 0;
	t_ok(pawl_updater_download_ranges(c.u, c.t, mid, 3, collect, &g));
	assert_bytes(&g, mid, 3);
	/* A copy one byte longer than signed, without Range support: its
	 * length is checked too. */
	evil = malloc(IMG_LEN + 1);
	assert_non_null(evil);
	memcpy(evil, IMG, IMG_LEN);
	evil[IMG_LEN] = 'x';
	t_write_file(e2e_path(DOCROOT, bad), evil, IMG_LEN + 1);
	g.n = 0;
	t_fails(pawl_updater_download_ranges(c.u, c.t, end, 3, collect, &g), PAWL_E_LENGTH);
	cl_free(&c);
	/* With Range support, the tampered copy's bytes asked for are the
	 * signed ones: they go through (the caller checks its pieces). */
	evil[200000] ^= 1;
	t_write_file(e2e_path(DOCROOT, bad), evil, IMG_LEN);
	free(evil);
	cl_init(&c, e2e_url(&S, "rgbad/targets/"), NULL);
	g.n = 0;
	t_ok(pawl_updater_download_ranges(c.u, c.t, end, 3, collect, &g));
	assert_bytes(&g, end, 3);
	free(g.p);
	cl_free(&c);
}

static void test_ranges_invalid(void **state)
{
	const pawl_range unsorted[] = { { 100, 10 }, { 50, 10 } };
	const pawl_range overlap[] = { { 100, 10 }, { 109, 10 } };
	const pawl_range past[] = { { IMG_LEN - 10, 11 } };
	const pawl_range outside[] = { { IMG_LEN, 1 } };
	const pawl_range empty[] = { { 0, 10 }, { 20, 0 } };
	const pawl_range wrap[] = { { UINT64_MAX - 1, 4 } };
	struct got g = { 0 };
	struct cl c;
	size_t mark;

	(void)state;
	make_repo();
	cl_init(&c, e2e_url(&S, "rg/targets/"), NULL);
	mark = e2e_log_mark(&S);
	t_fails(pawl_updater_download_ranges(c.u, c.t, unsorted, 2, collect, &g), PAWL_E_INVALID);
	expect_msg("not after");
	t_fails(pawl_updater_download_ranges(c.u, c.t, overlap, 2, collect, &g), PAWL_E_INVALID);
	expect_msg("not after");
	t_fails(pawl_updater_download_ranges(c.u, c.t, past, 1, collect, &g), PAWL_E_INVALID);
	expect_msg("not inside");
	t_fails(pawl_updater_download_ranges(c.u, c.t, outside, 1, collect, &g), PAWL_E_INVALID);
	expect_msg("not inside");
	t_fails(pawl_updater_download_ranges(c.u, c.t, empty, 2, collect, &g), PAWL_E_INVALID);
	expect_msg("empty");
	t_fails(pawl_updater_download_ranges(c.u, c.t, wrap, 1, collect, &g), PAWL_E_INVALID);
	expect_msg("not inside");
	t_fails(pawl_updater_download_ranges(c.u, c.t, empty, 0, collect, &g), PAWL_E_INVALID);
	t_fails(pawl_updater_download_ranges(c.u, c.t, NULL, 1, collect, &g), PAWL_E_INVALID);
	t_fails(pawl_updater_download_ranges(NULL, c.t, past, 1, collect, &g), PAWL_E_INVALID);
	t_fails(pawl_updater_download_ranges(c.u, NULL, past, 1, collect, &g), PAWL_E_INVALID);
	t_fails(pawl_updater_download_ranges(c.u, c.t, past, 1, NULL, &g), PAWL_E_INVALID);
	assert_int_equal(g.n, 0);
	requests_are(mark, "");
	cl_free(&c);
}

/* ---- a hostile server ---- */

enum hmode {
	H_OTHER_BYTES, /* 206 naming bytes 0-N of the file, whatever was asked */
	H_OTHER_TOTAL, /* 206 naming the bytes asked for, of another total */
	H_NO_TOTAL,    /* 206 "bytes A-B/ *" */
	H_OTHER_LAST,  /* 206 naming (and sending) one byte less than asked */
	H_LONGER,      /* 206, exact Content-Range, one byte more, no length */
	H_HALF,        /* 206, exact headers, half the bytes, then hang up */
};

struct hostile {
	int fd, port;
	enum hmode mode;
	pthread_t th;
	int served;
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

/* "Range: bytes=A-B" of a request, by hand. */
static bool parse_range(const char *req, unsigned long long *a, unsigned long long *b)
{
	const char *p = strstr(req, "Range: bytes=");
	char *end;

	if (!p)
		return false;
	*a = strtoull(p + 13, &end, 10);
	if (*end != '-')
		return false;
	*b = strtoull(end + 1, &end, 10);
	return *end == '\r' && *b >= *a && *b < IMG_LEN;
}

/* Serve requests (one per connection) until none comes for 3 s. */
static void *hostile_main(void *arg)
{
	struct hostile *h = arg;

	for (;;) {
		struct pollfd pfd = { h->fd, POLLIN, 0 };
		unsigned long long a = 0, b = 0, last;
		char req[4096], hdr[512];
		size_t n = 0;
		int c;

		if (poll(&pfd, 1, 3000) <= 0)
			return NULL;
		c = accept(h->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		while (n < sizeof(req) - 1) {
			ssize_t k = recv(c, req + n, sizeof(req) - 1 - n, 0);

			if (k <= 0)
				break;
			n += (size_t)k;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n] = '\0';
		if (!parse_range(req, &a, &b)) {
			close(c);
			continue;
		}
		h->served++;
		last = b;
		switch (h->mode) {
		case H_OTHER_BYTES:
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-%llu/%d\r\n"
				 "Content-Length: %llu\r\n\r\n",
				 b - a, IMG_LEN, b - a + 1);
			last = b - a;
			a = 0;
			break;
		case H_OTHER_TOTAL:
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%llu/%d\r\n"
				 "Content-Length: %llu\r\n\r\n",
				 a, b, IMG_LEN + 1, b - a + 1);
			break;
		case H_NO_TOTAL:
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%llu/*\r\n"
				 "Content-Length: %llu\r\n\r\n",
				 a, b, b - a + 1);
			break;
		case H_OTHER_LAST:
			last = b > a ? b - 1 : b;
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%llu/%d\r\n"
				 "Content-Length: %llu\r\n\r\n",
				 a, last, IMG_LEN, last - a + 1);
			break;
		case H_LONGER:
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%llu/%d\r\n"
				 "Connection: close\r\n\r\n",
				 a, b, IMG_LEN);
			last = b + 1 < IMG_LEN ? b + 1 : b;
			break;
		case H_HALF:
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%llu/%d\r\n"
				 "Content-Length: %llu\r\n\r\n",
				 a, b, IMG_LEN, b - a + 1);
			last = a + (b - a + 1) / 2 - 1;
			break;
		}
		if (send_all(c, hdr, strlen(hdr)) && last >= a)
			send_all(c, IMG + a, (size_t)(last - a + 1));
		shutdown(c, SHUT_RDWR);
		close(c);
	}
}

static void hostile_start(struct hostile *h, enum hmode mode)
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
	assert_int_equal(listen(h->fd, 8), 0);
	assert_int_equal(getsockname(h->fd, (struct sockaddr *)&a, &alen), 0);
	h->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&h->th, NULL, hostile_main, h), 0);
}

/* After the client is done: no more connections. */
static void hostile_stop(struct hostile *h)
{
	shutdown(h->fd, SHUT_RDWR); /* wakes the thread's poll */
	pthread_join(h->th, NULL);
	close(h->fd);
}

static const char *hostile_url(const struct hostile *h)
{
	static char b[256];

	snprintf(b, sizeof(b), "http://127.0.0.1:%d/", h->port);
	return b;
}

/* One range, asked of a hostile server in mode: refused with code and a
 * message holding needle; at most max_passed bytes reached the sink. */
static void refused(enum hmode mode, int code, const char *needle, size_t max_passed)
{
	const pawl_range r[] = { { 100, 10 } };
	struct hostile h;
	struct got g = { 0 };
	struct cl c;

	make_repo();
	hostile_start(&h, mode);
	cl_init(&c, hostile_url(&h), NULL);
	t_fails(pawl_updater_download_ranges(c.u, c.t, r, 1, collect, &g), code);
	expect_msg(needle);
	hostile_stop(&h);
	assert_true(h.served >= 1);
	assert_true(g.n <= max_passed);
	free(g.p);
	cl_free(&c);
}

static void test_wrong_content_range(void **state)
{
	(void)state;
	refused(H_OTHER_BYTES, PAWL_E_NETWORK, "got Content-Range 'bytes 0-9/300000'", 0);
	refused(H_OTHER_TOTAL, PAWL_E_NETWORK, "got Content-Range 'bytes 100-109/300001'", 0);
	refused(H_NO_TOTAL, PAWL_E_NETWORK, "got Content-Range 'bytes 100-109/*'", 0);
	refused(H_OTHER_LAST, PAWL_E_NETWORK, "got Content-Range 'bytes 100-108/300000'", 0);
}

static void test_longer_206(void **state)
{
	(void)state;
	/* (the ten bytes asked for may have passed, in a piece of their own) */
	refused(H_LONGER, PAWL_E_LENGTH, "more than the 10 bytes asked for", 10);
}

/* A mirror that sends half of every range and hangs up: resumed there
 * while it makes progress, then finished by the next, no byte twice. */
static void test_mirror_dies(void **state)
{
	const pawl_range r[] = { { 1000, 64000 }, { 65000, 1000 }, { 200000, 5 } };
	struct hostile h;
	struct got g = { 0 };
	struct cl c;
	size_t mark;

	(void)state;
	make_repo();
	hostile_start(&h, H_HALF);
	cl_init(&c, hostile_url(&h), e2e_url(&S, "rg/targets/"));
	mark = e2e_log_mark(&S);
	t_ok(pawl_updater_download_ranges(c.u, c.t, r, 3, collect, &g));
	hostile_stop(&h);
	assert_bytes(&g, r, 3);
	/* Three attempts at the dying mirror, each from where the last one
	 * stopped: 1000-65999 gave 32,500 bytes, 33500-65999 16,250 and
	 * 49750-65999 8,125; nginx was asked for the rest of that run, then
	 * for the last range. */
	assert_int_equal(h.served, 3);
	requests_are(mark, "206 bytes=57875-65999\n"
			   "206 bytes=200000-200004\n");
	free(g.p);
	cl_free(&c);
}

/* ---- the agent's streaming reader over a ranges job ---- */

static const pawl_install_range JOB[] = {
	{ "app/img.bin", 0, 4096 },	  { "app/img.bin", 4096, 100 },
	{ "app/img.bin", 250000, 50000 }, { "app/small.bin", 10, 1 },
	{ "app/img.bin", 7, 3 },
};
#define JOB_N (sizeof(JOB) / sizeof(JOB[0]))

static uint64_t job_total(void)
{
	uint64_t t = 0;

	for (size_t i = 0; i < JOB_N; i++)
		t += JOB[i].length;
	return t;
}

/* Read the whole stream; its result. */
static int read_all(privsep_stream *s, struct got *g)
{
	for (;;) {
		unsigned char buf[10000];
		size_t n = 0;
		int r = privsep_stream_read(s, buf, sizeof(buf), &n);

		if (r < 0)
			return r;
		if (n == 0)
			return 0;
		if (collect(g, buf, n) < 0)
			return PAWL_E_NOMEM;
	}
}

static void assert_job_bytes(const struct got *g)
{
	size_t off = 0;

	for (size_t i = 0; i < JOB_N; i++) {
		const unsigned char *src = strcmp(JOB[i].target, "app/img.bin") == 0 ? IMG : SMALL;

		assert_true(off + JOB[i].length <= g->n);
		assert_memory_equal(g->p + off, src + JOB[i].offset, JOB[i].length);
		off += JOB[i].length;
	}
	assert_int_equal(off, g->n);
}

/* One ranges job (f NULL: the agent's thread over c's client); the
 * reader's result, and privsep_stream_finish's in *ret_finish. */
static int run_job(const privsep_fetcher *f, struct cl *c, enum lie lie, struct got *g,
		   int *ret_finish)
{
	privsep_stream_job job = { 0 };
	privsep_stream *s = NULL;
	int r;

	job.opts = &c->o;
	job.u = c->u;
	job.ranges = JOB;
	job.nranges = JOB_N;
	job.total = job_total();
	job.deadline_s = 60;
	LIE = lie;
	t_ok(privsep_stream_start(f, &job, &s));
	r = read_all(s, g);
	*ret_finish = privsep_stream_finish(s, NULL);
	LIE = LIE_NONE;
	return r;
}

/* The same checks in both modes. */
static void job_cases(const privsep_fetcher *f, struct cl *c)
{
	struct got g = { 0 };
	int fin;

	t_ok(run_job(f, c, LIE_NONE, &g, &fin));
	t_ok(fin);
	assert_job_bytes(&g);
	/* one byte short, then "ok": refused */
	g.n = 0;
	t_fails(run_job(f, c, LIE_SHORT, &g, &fin), PAWL_E_LENGTH);
	expect_msg("said \"ok\" after 54199 of the 54200 bytes asked for");
	assert_true(fin < 0);
	/* one byte more before "ok": refused */
	g.n = 0;
	t_fails(run_job(f, c, LIE_LONG, &g, &fin), PAWL_E_GENERIC);
	expect_msg("more than the 54200 bytes asked for");
	assert_true(fin < 0);
	free(g.p);
}

static void test_privsep_thread(void **state)
{
	privsep_stream_job job = { 0 };
	privsep_stream *s = NULL;
	struct cl c;

	(void)state;
	make_repo();
	assert_int_equal(job_total(), 54200);
	cl_init(&c, e2e_url(&S, "rg/targets/"), NULL);
	job_cases(NULL, &c);
	/* a job whose total is not its ranges' is refused before it starts */
	job.u = c.u;
	job.ranges = JOB;
	job.nranges = JOB_N;
	job.total = job_total() + 1;
	t_fails(privsep_stream_start(NULL, &job, &s), PAWL_E_INVALID);
	cl_free(&c);
}

static int chown_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(p, 65534, 65534);
}

/* The same through the forked fetcher, as uid 65534 (root only). */
static void test_privsep_child(void **state)
{
	privsep_fetcher f = { 0 };
	struct cl c;
	char cmd[2048], *work;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	make_repo();
	cl_init(&c, e2e_url(&S, "rg/targets/"), NULL);
	/* WORK/metadata: the first run's, the account's own */
	work = t_mkdtemp();
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s/metadata'", c.mdir, work);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(nftw(work, chown_one, 16, FTW_PHYS), 0);
	f.name = "nobody";
	f.uid = 65534;
	f.gid = 65534;
	f.state_dir = work;
	f.work_fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f.work_fd >= 0);
	job_cases(&f, &c);
	close(f.work_fd);
	t_rm_rf(work);
	free(work);
	cl_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_ranges_norange),
		cmocka_unit_test(test_ranges_invalid),
		cmocka_unit_test(test_wrong_content_range),
		cmocka_unit_test(test_longer_206),
		cmocka_unit_test(test_mirror_dies),
		cmocka_unit_test(test_privsep_thread),
		cmocka_unit_test(test_privsep_child),
	};

	return cmocka_run_group_tests(tests, sc_group_setup, sc_group_teardown);
}

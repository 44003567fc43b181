/*
 * service_load.c - a loopback load generator for pawl-repod.
 *
 *   service_load [--rate N] [--prefix P] [--check K --metadata URL]
 *                TOKEN_FILE TOTAL PUBLISHERS BATCH URL [URL ...]
 *
 * PUBLISHERS threads each post batches of BATCH artifacts (unique paths
 * under P, default "bench", with the SHA-256 of the path as the digest)
 * to POST /api/v1/artifacts, spreading requests over the URLs (the
 * instances), until TOTAL artifacts were accepted. With --rate the
 * batches are offered at N artifacts per second in total (batch b is
 * due at b * BATCH / N seconds, whatever the service does: an open
 * loop, so that the latency is the service's, not a backlog the
 * generator made); without it they go as fast as the service accepts
 * them (a bulk import). With --rate a task's latency is counted from the
 * moment its batch was due, not from when a poster got round to it: a
 * service slow to accept delays the posters, and that delay is the
 * service's too (no coordinated omission). The rate offered is not
 * capped by the goal: ask for more than 2,000/s to see what is sustained.
 *
 * One poller thread asks GET /api/v1/task for the oldest tasks not yet
 * done. The service records a task's SUCCESS in the same commit as the
 * timestamp that publishes its artifacts, so submit-to-SUCCESS is the
 * submit-to-published latency (to within the poll, ~10 ms). With
 * --check K the poller proves that for every K-th task: when it sees
 * SUCCESS it walks the published chain under --metadata (timestamp.json
 * -> N.snapshot.json -> N.targets.json for the bins layout -> the bin
 * of the task's first artifact) and checks the artifact is there with
 * its digest. Signatures are not checked here: that is the job of the
 * `pawl refresh` loop in tests/service and of the interop clients.
 *
 * Prints one line of key=value figures: accepted artifacts, tasks ended,
 * seconds to accept them all, seconds until all were published, the rate
 * (published artifacts per second over the whole run, from the first
 * batch due to the last task seen SUCCESS, so the last batch's latency is
 * in it), the rate offered (--rate, else 0), the rate accepted
 * (artifacts over the seconds to accept them), p50/p99/max
 * latency, the chain checks, the POSTs tried again, and the tasks that
 * ended in a stated error (ERRORED, FAILURE) instead of SUCCESS. No figure is judged here; bench/run does that.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "json/json.h"
#include "store/store.h"

typedef struct task {
	char id[40];
	double submitted, done;
	unsigned batch; /* its batch number (paths) */
	bool failed;    /* ended ERRORED or FAILURE */
	unsigned polls; /* asked so often: the next ask goes to the next URL */
} task;

static char auth[256];
static char **urls;
static int nurls;
static const char *prefix = "bench";
static const char *meta_url;
static unsigned total, batch, check_every;
static double rate, t_start;
static atomic_uint next_batch;
static task *tasks;
static atomic_uint ntasks;
static atomic_uint nposted;
static atomic_int posters_left;
static atomic_uint post_errors;
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	double d = t - now_s();

	if (d > 0) {
		struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };

		nanosleep(&ts, NULL);
	}
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
	pawl_buf *b = ud;

	return buf_append(b, p, sz * n) == 0 ? sz * n : 0;
}

static int request(CURL *c, const char *url, const char *body, pawl_buf *out, long *status)
{
	struct curl_slist *h = NULL;
	CURLcode r;

	buf_reset(out);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	r = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (r != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

static void artifact_path(char *out, size_t n, unsigned b, unsigned i)
{
	snprintf(out, n, "%s/%u/%u/a-%u.tar.gz", prefix, b % 997, b, i);
}

static void *poster(void *arg)
{
	CURL *c = curl_easy_init();
	pawl_buf body = PAWL_BUF_INIT(64 << 20), out = PAWL_BUF_INIT(1 << 20);
	unsigned me = (unsigned)(uintptr_t)arg, k = 0;
	char url[512];

	for (;;) {
		unsigned b = atomic_fetch_add(&next_batch, 1);
		uint8_t d[HASH_MAX_LEN];
		char hex[65], path[256];
		long st = 0;
		double t0;
		pj_doc *doc = NULL;
		const pj_value *id;
		int tries = 0;

		if ((uint64_t)b * batch >= total)
			break;
		if (rate > 0)
			sleep_until(t_start + (double)b * batch / rate);
		buf_reset(&body);
		if (buf_puts(&body, "{\"artifacts\":[") < 0)
			abort();
		for (unsigned i = 0; i < batch; i++) {
			artifact_path(path, sizeof(path), b, i);
			if (hash_once(HASH_SHA256, path, strlen(path), d) < 0)
				abort();
			hex_encode(hex, d, 32);
			if (buf_printf(&body,
				       "%s{\"path\":\"%s\",\"info\":{\"length\":%u,\"hashes\":"
				       "{\"sha256\":\"%s\"},\"custom\":{\"b\":%u}}}",
				       i ? "," : "", path, 1000 + i, hex, b) < 0)
				abort();
		}
		if (buf_puts(&body, "],\"publish_artifacts\":true}") < 0)
			abort();
		/* Open loop: from when the batch was due (see the top). */
		t0 = rate > 0 ? t_start + (double)b * batch / rate : now_s();
		for (;;) {
			snprintf(url, sizeof(url), "%s/api/v1/artifacts",
				 urls[(me + k++) % (unsigned)nurls]);
			if (request(c, url, body.data, &out, &st) == 0 && st == 202 &&
			    pj_parse_copy(&doc, out.data, out.len, NULL) == 0)
				break;
			/* Not accepted (an instance restarting, the database
			 * away): resubmitting is harmless, so try again. */
			atomic_fetch_add(&post_errors, 1);
			if (++tries == 1 || tries % 100 == 0)
				fprintf(stderr, "service_load: POST failed (%ld): %.200s\n", st,
					out.data ? out.data : "");
			sleep_until(now_s() + 0.05);
		}
		id = pj_get(pj_get(pj_root(doc), "data"), "task_id");
		pthread_mutex_lock(&tlock);
		{
			unsigned n = atomic_load(&ntasks);

			snprintf(tasks[n].id, sizeof(tasks[n].id), "%s", pj_str(id) ?: "");
			tasks[n].submitted = t0;
			tasks[n].batch = b;
			atomic_store(&ntasks, n + 1);
		}
		pthread_mutex_unlock(&tlock);
		atomic_fetch_add(&nposted, batch);
		pj_doc_free(doc);
	}
	atomic_fetch_sub(&posters_left, 1);
	buf_free(&body);
	buf_free(&out);
	curl_easy_cleanup(c);
	return NULL;
}

/* GET url and parse it; NULL on any failure. */
static pj_doc *get_json(CURL *c, const char *url)
{
	pawl_buf out = PAWL_BUF_INIT(64 << 20);
	pj_doc *doc = NULL;
	long st = 0;

	if (request(c, url, NULL, &out, &st) < 0 || st != 200 ||
	    pj_parse_copy(&doc, out.data, out.len, NULL) < 0)
		doc = NULL;
	buf_free(&out);
	return doc;
}

static int64_t meta_version(const pj_value *md, const char *name)
{
	const pj_value *v = pj_get(pj_get(pj_get(pj_get(md, "signed"), "meta"), name), "version");

	return pj_is_int(v) ? v->u.i : -1;
}

/* Is the first artifact of batch b in the chain published now? */
static bool in_chain(CURL *c, unsigned b)
{
	char url[1024], path[256], hex[65], name[128];
	uint8_t d[HASH_MAX_LEN];
	pj_doc *ts = NULL, *snap = NULL, *tg = NULL, *bin = NULL;
	const pj_value *sr, *e;
	int64_t sv, tv, bv, bits;
	uint32_t first;
	bool ok = false;

	artifact_path(path, sizeof(path), b, 0);
	if (hash_once(HASH_SHA256, path, strlen(path), d) < 0)
		return false;
	hex_encode(hex, d, 32);
	snprintf(url, sizeof(url), "%s/timestamp.json", meta_url);
	if (!(ts = get_json(c, url)) || (sv = meta_version(pj_root(ts), "snapshot.json")) < 1)
		goto out;
	snprintf(url, sizeof(url), "%s/%" PRId64 ".snapshot.json", meta_url, sv);
	if (!(snap = get_json(c, url)) || (tv = meta_version(pj_root(snap), "targets.json")) < 1)
		goto out;
	snprintf(url, sizeof(url), "%s/%" PRId64 ".targets.json", meta_url, tv);
	if (!(tg = get_json(c, url)))
		goto out;
	sr = pj_get(pj_get(pj_get(pj_root(tg), "signed"), "delegations"), "succinct_roles");
	if (!pj_is_int(pj_get(sr, "bit_length")) || !pj_str(pj_get(sr, "name_prefix")))
		goto out;
	bits = pj_get(sr, "bit_length")->u.i;
	if (bits < 1 || bits > 32)
		goto out;
	first = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	snprintf(name, sizeof(name), "%s-%0*x.json", pj_str(pj_get(sr, "name_prefix")),
		 (int)((bits + 3) / 4), bits == 32 ? first : first >> (32 - bits));
	if ((bv = meta_version(pj_root(snap), name)) < 1)
		goto out;
	snprintf(url, sizeof(url), "%s/%" PRId64 ".%s", meta_url, bv, name);
	if (!(bin = get_json(c, url)))
		goto out;
	e = pj_get(pj_get(pj_get(pj_root(bin), "signed"), "targets"), path);
	ok = pj_str(pj_get(pj_get(e, "hashes"), "sha256")) &&
	     strcmp(pj_str(pj_get(pj_get(e, "hashes"), "sha256")), hex) == 0;
out:
	pj_doc_free(ts);
	pj_doc_free(snap);
	pj_doc_free(tg);
	pj_doc_free(bin);
	return ok;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: service_load [--rate N] [--prefix P] [--check K --metadata URL] "
			"TOKEN_FILE TOTAL PUBLISHERS BATCH URL...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned publishers, oldest = 0, done = 0, checked = 0, check_ok = 0, errored = 0;
	pthread_t *th;
	char *tok = NULL;
	size_t toklen;
	double t_accepted = 0, t_end;
	CURL *c;
	pawl_buf out = PAWL_BUF_INIT(1 << 20);
	double *lat;
	int a = 1;

	while (a < argc && strncmp(argv[a], "--", 2) == 0) {
		if (a + 1 >= argc)
			usage();
		if (strcmp(argv[a], "--rate") == 0)
			rate = strtod(argv[a + 1], NULL);
		else if (strcmp(argv[a], "--prefix") == 0)
			prefix = argv[a + 1];
		else if (strcmp(argv[a], "--check") == 0)
			check_every = (unsigned)strtoul(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--metadata") == 0)
			meta_url = argv[a + 1];
		else
			usage();
		a += 2;
	}
	if (argc - a < 5 || (check_every && !meta_url))
		usage();
	if (file_read_all(argv[a], 4096, &tok, &toklen) < 0)
		return 1;
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	free(tok);
	total = (unsigned)strtoul(argv[a + 1], NULL, 10);
	publishers = (unsigned)strtoul(argv[a + 2], NULL, 10);
	batch = (unsigned)strtoul(argv[a + 3], NULL, 10);
	urls = argv + a + 4;
	nurls = argc - a - 4;
	if (!total || !publishers || !batch)
		usage();
	tasks = calloc(total / batch + 2, sizeof(*tasks));
	th = calloc(publishers, sizeof(*th));
	if (!tasks || !th)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atomic_store(&posters_left, (int)publishers);
	t_start = now_s();
	for (unsigned i = 0; i < publishers; i++)
		pthread_create(&th[i], NULL, poster, (void *)(uintptr_t)i);
	c = curl_easy_init();
	while (atomic_load(&posters_left) > 0 || done < atomic_load(&ntasks)) {
		unsigned n = atomic_load(&ntasks);
		bool progress = false;

		if (t_accepted == 0 && atomic_load(&posters_left) == 0)
			t_accepted = now_s() - t_start;
		/* The oldest unfinished tasks, a window of 32. */
		for (unsigned i = oldest; i < n && i < oldest + 32; i++) {
			char url[512];
			long st = 0;

			if (tasks[i].done)
				continue;
			/* Another instance each time: one that died does not
			 * leave its tasks unanswered. */
			snprintf(url, sizeof(url), "%s/api/v1/task?task_id=%s",
				 urls[(i + tasks[i].polls++) % (unsigned)nurls], tasks[i].id);
			if (request(c, url, NULL, &out, &st) < 0 || st != 200 || !out.data)
				continue;
			if (strstr(out.data, "\"state\":\"ERRORED\"") ||
			    strstr(out.data, "\"state\":\"FAILURE\"")) {
				/* A stated error ends the task too; counted apart. */
				fprintf(stderr, "service_load: task %s: %.300s\n", tasks[i].id, out.data);
				tasks[i].done = now_s();
				tasks[i].failed = true;
				errored++;
				done++;
				progress = true;
			} else if (strstr(out.data, "\"state\":\"SUCCESS\"")) {
				tasks[i].done = now_s();
				done++;
				progress = true;
				if (check_every && i % check_every == 0) {
					checked++;
					check_ok += in_chain(c, tasks[i].batch);
				}
			}
		}
		while (oldest < n && tasks[oldest].done)
			oldest++;
		if (!progress)
			sleep_until(now_s() + 0.01);
	}
	t_end = now_s() - t_start;
	if (t_accepted == 0)
		t_accepted = t_end;
	for (unsigned i = 0; i < publishers; i++)
		pthread_join(th[i], NULL);
	lat = calloc(done + 1, sizeof(*lat));
	for (unsigned i = 0; i < done; i++)
		lat[i] = tasks[i].done - tasks[i].submitted;
	qsort(lat, done, sizeof(*lat), cmp_d);
	printf("artifacts=%u tasks=%u accepted_s=%.2f published_s=%.2f rate=%.0f offered=%.0f "
	       "accepted_rate=%.0f "
	       "p50_ms=%.0f p99_ms=%.0f max_ms=%.0f chain_checked=%u chain_ok=%u post_retries=%u "
	       "errored=%u\n",
	       atomic_load(&nposted), done, t_accepted, t_end, atomic_load(&nposted) / t_end, rate,
	       atomic_load(&nposted) / t_accepted,
	       done ? lat[done / 2] * 1e3 : 0, done ? lat[(size_t)(done * 0.99)] * 1e3 : 0,
	       done ? lat[done - 1] * 1e3 : 0, checked, check_ok, atomic_load(&post_errors), errored);
	curl_easy_cleanup(c);
	buf_free(&out);
	free(lat);
	free(tasks);
	free(th);
	return 0;
}

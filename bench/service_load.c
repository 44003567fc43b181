/*
 * service_load.c - a loopback load generator for pawl-repod.
 *
 *   service_load TOKEN_FILE TOTAL PUBLISHERS BATCH URL [URL ...]
 *
 * PUBLISHERS threads each post batches of BATCH artifacts (unique paths,
 * sha256 of the path as the digest) to POST /api/v1/artifacts, spreading
 * requests over the URLs (the instances), until TOTAL artifacts were
 * accepted. One poller thread asks GET /api/v1/task for the oldest tasks
 * not yet done; a task is SUCCESS exactly when its artifacts are in a
 * published timestamp, so submit-to-SUCCESS is the submit-to-published
 * latency (to within the poll interval, ~10 ms).
 *
 * Prints one line of key=value figures: accepted artifacts, seconds to
 * accept them all, seconds until all were published, ingest rate
 * (published artifacts per second over the whole run), p50/p99 latency.
 * No figure is judged here; bench/run puts them in BENCHMARKS.md.
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
	unsigned n;
} task;

static char auth[256];
static char **urls;
static int nurls;
static unsigned total, batch;
static atomic_uint next_batch;
static task *tasks;
static atomic_uint ntasks; /* published to the poller in order of index */
static atomic_uint nposted;
static atomic_int posters_left;
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
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
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	r = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (r != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return 0;
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
		char hex[65], path[96];
		long st = 0;
		double t0;
		pj_doc *doc = NULL;
		const pj_value *id;

		if ((uint64_t)b * batch >= total)
			break;
		buf_reset(&body);
		if (buf_puts(&body, "{\"artifacts\":[") < 0)
			break;
		for (unsigned i = 0; i < batch; i++) {
			snprintf(path, sizeof(path), "bench/%u/%u/a-%u.tar.gz", b % 997, b, i);
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
		snprintf(url, sizeof(url), "%s/api/v1/artifacts", urls[(me + k++) % (unsigned)nurls]);
		t0 = now_s();
		if (request(c, url, body.data, &out, &st) < 0 || st != 202 ||
		    pj_parse_copy(&doc, out.data, out.len, NULL) < 0) {
			fprintf(stderr, "service_load: POST failed (%ld): %.200s\n", st,
				out.data ? out.data : "");
			atomic_fetch_sub(&next_batch, 0);
			continue;
		}
		id = pj_get(pj_get(pj_root(doc), "data"), "task_id");
		pthread_mutex_lock(&tlock);
		{
			unsigned n = atomic_load(&ntasks);

			snprintf(tasks[n].id, sizeof(tasks[n].id), "%s", pj_str(id) ?: "");
			tasks[n].submitted = t0;
			tasks[n].n = batch;
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

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned publishers, oldest = 0, done = 0;
	pthread_t *th;
	char *tok = NULL;
	size_t toklen;
	double t0, t_accepted = 0, t_end;
	CURL *c;
	pawl_buf out = PAWL_BUF_INIT(1 << 20);
	double *lat;

	if (argc < 6) {
		fprintf(stderr, "usage: service_load TOKEN_FILE TOTAL PUBLISHERS BATCH URL...\n");
		return 2;
	}
	if (file_read_all(argv[1], 4096, &tok, &toklen) < 0)
		return 1;
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	free(tok);
	total = (unsigned)strtoul(argv[2], NULL, 10);
	publishers = (unsigned)strtoul(argv[3], NULL, 10);
	batch = (unsigned)strtoul(argv[4], NULL, 10);
	urls = argv + 5;
	nurls = argc - 5;
	if (!total || !publishers || !batch)
		return 2;
	tasks = calloc(total / batch + 2, sizeof(*tasks));
	th = calloc(publishers, sizeof(*th));
	if (!tasks || !th)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atomic_store(&posters_left, (int)publishers);
	t0 = now_s();
	for (unsigned i = 0; i < publishers; i++)
		pthread_create(&th[i], NULL, poster, (void *)(uintptr_t)i);
	c = curl_easy_init();
	while (atomic_load(&posters_left) > 0 || done < atomic_load(&ntasks)) {
		unsigned n = atomic_load(&ntasks);
		bool progress = false;

		if (t_accepted == 0 && atomic_load(&posters_left) == 0)
			t_accepted = now_s() - t0;
		/* The oldest unfinished tasks, a window of 32. */
		for (unsigned i = oldest; i < n && i < oldest + 32; i++) {
			char url[512];
			long st = 0;

			if (tasks[i].done)
				continue;
			snprintf(url, sizeof(url), "%s/api/v1/task?task_id=%s", urls[i % (unsigned)nurls],
				 tasks[i].id);
			if (request(c, url, NULL, &out, &st) == 0 && st == 200 && out.data &&
			    strstr(out.data, "\"state\":\"SUCCESS\"")) {
				tasks[i].done = now_s();
				done++;
				progress = true;
			}
		}
		while (oldest < n && tasks[oldest].done)
			oldest++;
		if (!progress) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	t_end = now_s() - t0;
	if (t_accepted == 0)
		t_accepted = t_end;
	for (unsigned i = 0; i < publishers; i++)
		pthread_join(th[i], NULL);
	lat = calloc(done + 1, sizeof(*lat));
	for (unsigned i = 0; i < done; i++)
		lat[i] = tasks[i].done - tasks[i].submitted;
	qsort(lat, done, sizeof(*lat), cmp_d);
	printf("artifacts=%u tasks=%u accepted_s=%.2f published_s=%.2f rate=%.0f "
	       "p50_ms=%.0f p99_ms=%.0f max_ms=%.0f\n",
	       atomic_load(&nposted), done, t_accepted, t_end, atomic_load(&nposted) / t_end,
	       done ? lat[done / 2] * 1e3 : 0, done ? lat[(size_t)(done * 0.99)] * 1e3 : 0,
	       done ? lat[done - 1] * 1e3 : 0);
	curl_easy_cleanup(c);
	buf_free(&out);
	free(lat);
	free(tasks);
	free(th);
	return 0;
}

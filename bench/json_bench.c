/*
 * json_bench.c - time pj_parse() and the canonical form of "signed" on a
 * metadata file, the way the client reads one: read the file, parse in
 * place, canonicalise "signed". Prints the best of ROUNDS in CPU time; run it under
 * /usr/bin/time -f "%e s %M KB" with ROUNDS = 1 for the peak RSS.
 *
 *   python3 bench/gen_targets.py bench/out/targets.json 100000
 *   cc -O2 -Iinclude -Isrc/lib -D_GNU_SOURCE bench/json_bench.c \
 *      src/lib/json/*.c src/lib/util/error.c src/lib/util/buf.c -lcrypto \
 *      -o bench/out/json_bench
 *   bench/out/json_bench bench/out/targets.json 10
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json/json.h"
#include "pawl/common.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	double best_parse = 1e9, best_canon = 1e9, best_read = 1e9;
	size_t canon_len = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: json_bench FILE [ROUNDS]\n");
		return 2;
	}
	for (int i = 0; i < rounds; i++) {
		pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
		double t0 = now(), t1, t2, t3;
		size_t len;
		char *buf = read_all(argv[1], &len);
		pj_doc *doc;

		if (!buf) {
			perror(argv[1]);
			return 1;
		}
		t1 = now();
		if (pj_parse(&doc, buf, len, NULL) != 0) {
			fprintf(stderr, "%s\n", pawl_error_last()->message);
			return 1;
		}
		t2 = now();
		if (pj_canonical(&b, pj_get(pj_root(doc), "signed")) != 0) {
			fprintf(stderr, "%s\n", pawl_error_last()->message);
			return 1;
		}
		t3 = now();
		canon_len = b.len;
		if (t1 - t0 < best_read)
			best_read = t1 - t0;
		if (t2 - t1 < best_parse)
			best_parse = t2 - t1;
		if (t3 - t2 < best_canon)
			best_canon = t3 - t2;
		buf_free(&b);
		pj_doc_free(doc);
	}
	printf("read %.1f ms, parse %.1f ms, canonical %.1f ms (%zu bytes), total %.1f ms\n",
	       best_read * 1e3, best_parse * 1e3, best_canon * 1e3, canon_len,
	       (best_read + best_parse + best_canon) * 1e3);
	return 0;
}

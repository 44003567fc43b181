/*
 * json_bench - metadata parse throughput, the way the client reads a
 * targets file: pj_parse() in place, the canonical form of "signed",
 * then the whole md_parse() (parse + validate every field) followed by
 * md_verify() (canonical bytes + SHA-512 + Ed25519, against the root's
 * targets key).
 *
 *   json_bench FILE [ROUNDS [ROOT.json]]
 *
 * Prints one line per round, times in seconds of process CPU time (user +
 * system: steadier than wall time on a shared machine):
 *   round PARSE CANONICAL MD_PARSE MD_VERIFY FILE_BYTES CANONICAL_BYTES
 * MD_PARSE and MD_VERIFY are 0 without ROOT.json. Each round starts from
 * a fresh copy of the file (the copy is not timed).
 *
 * bench/run builds it (bench/meson.build) and reports MB/s of the file.
 * For a python-tuf style file: python3 bench/gen_targets.py OUT 100000.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json/json.h"
#include "metadata/metadata.h"
#include "pawl/common.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "json_bench: %s: %s\n", what, pawl_error_last()->message);
	exit(1);
}

static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(path);
		exit(1);
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			perror(path);
			exit(1);
		}
		got += (size_t)n;
	}
	close(fd);
	if (!buf) {
		perror("malloc");
		exit(1);
	}
	*len = got;
	return buf;
}

static char *copy_of(const char *p, size_t len)
{
	char *c = malloc(len + 1);

	if (!c) {
		perror("malloc");
		exit(1);
	}
	memcpy(c, p, len);
	return c;
}

int main(int argc, char **argv)
{
	long rounds = 1;
	pawl_md *root = NULL;
	size_t len;
	char *file, *end;

	if (argc > 2) {
		rounds = strtol(argv[2], &end, 10);
		if (*end || end == argv[2])
			rounds = 0;
	}
	if (argc < 2 || rounds < 1 || rounds > 1000) {
		fprintf(stderr, "usage: json_bench FILE [ROUNDS [ROOT.json]]\n");
		return 2;
	}
	file = read_all(argv[1], &len);
	if (argc > 3) {
		size_t rlen;
		char *r = read_all(argv[3], &rlen);

		if (md_parse(&root, r, rlen, MD_ROOT, "root") < 0)
			die(argv[3]);
	}
	for (long i = 0; i < rounds; i++) {
		pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
		double t0, t1, t2, t3 = 0, t4 = 0, t5 = 0;
		size_t clen;
		pj_doc *doc;
		char *buf = copy_of(file, len);

		t0 = now();
		if (pj_parse(&doc, buf, len, NULL) != 0)
			die("pj_parse");
		t1 = now();
		if (pj_canonical(&b, pj_get(pj_root(doc), "signed")) != 0)
			die("pj_canonical");
		t2 = now();
		clen = b.len;
		buf_free(&b);
		pj_doc_free(doc);
		if (root) {
			pawl_md *md;

			buf = copy_of(file, len);
			t3 = now();
			if (md_parse(&md, buf, len, MD_TARGETS, "targets") < 0)
				die("md_parse");
			t4 = now();
			if (md_verify(md, &root->keys, md_root_role(root, MD_TARGETS), "targets") < 0)
				die("md_verify");
			t5 = now();
			md_free(md);
		}
		printf("%ld %.6f %.6f %.6f %.6f %zu %zu\n", i, t1 - t0, t2 - t1, t4 - t3, t5 - t4,
		       len, clen);
	}
	free(file);
	md_free(root);
	return 0;
}

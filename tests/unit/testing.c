/*
 * testing.c - see testing.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pawl/common.h"
#include "testing.h"

char *t_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	if (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n)
		fail_msg("short read on %s", path);
	p[n] = '\0';
	fclose(f);
	if (ret_len)
		*ret_len = (size_t)n;
	return p;
}

void t_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	if (len && fwrite(data, 1, len, f) != len)
		fail_msg("short write on %s", path);
	fclose(f);
}

const char *t_vector(const char *rel)
{
	static char path[4096];
	const char *base = getenv("PAWL_VECTORS");

	/* meson sets it to tests/vectors in the source tree; no guessing. */
	if (!base || !*base)
		fail_msg("PAWL_VECTORS is not set (run the tests through meson test)");
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return path;
}

char *t_mkdtemp(void)
{
	char tmpl[] = "/tmp/pawl-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void t_rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void t_set_time(const char *rfc3339)
{
	int64_t t;

	if (pawl_time_parse(rfc3339, &t) != 0)
		fail_msg("bad time %s", rfc3339);
	pawl__test_set_now(t);
}

void t_set_time_from_file(const char *path)
{
	/* The vectors write "2025-02-09 12:02:08+00:00". */
	char *s = t_read_file(path, NULL);
	char iso[21];

	if (strlen(s) < 19 || strncmp(s + 19, "+00:00", 6) != 0)
		fail_msg("unexpected faketime format in %s", path);
	memcpy(iso, s, 19);
	iso[10] = 'T';
	iso[19] = 'Z';
	iso[20] = '\0';
	t_set_time(iso);
	free(s);
}

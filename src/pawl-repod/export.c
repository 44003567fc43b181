/*
 * export.c - `pawl-repod export DIR`: the published metadata as files,
 * for a static mirror (nginx, a CDN origin, offline media).
 *
 * DIR gets the TUF layout the service serves under /metadata/: every
 * version as VERSION.ROLE.json and the newest timestamp as
 * timestamp.json. Everything is read in one REPEATABLE READ transaction,
 * so the files are one published state. The order is the one TUF needs:
 * every versioned file first, then the file system is synced, then
 * timestamp.json replaces the old one atomically and durably; a client
 * reading the mirror at any moment finds every file the timestamp it
 * reads names.
 *
 * Run it again (from cron, say) to bring the mirror up to date: a
 * versioned file already there is left alone when it has the same bytes,
 * and is an error when it differs, since a signed version never changes
 * (something other than the service wrote it). --current exports only
 * the versions in force and every root version (what a new client
 * needs); without it, every version the service still keeps.
 *
 * DIR is opened without following a symbolic link at its last component
 * and every file is written through its descriptor (openat with
 * O_NOFOLLOW, renameat2 with RENAME_NOREPLACE).
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repod.h"

#define META_MAX ((size_t)256 << 20)

typedef struct exporter {
	int dirfd;
	size_t written, kept;
} exporter;

static bool safe_role(const char *role)
{
	size_t n = strlen(role);

	return n > 0 && n <= 200 && role[0] != '.' &&
	       strspn(role, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* The same bytes are already there (true), nothing is (false), or
 * something else is (an error). */
static int already(int dirfd, const char *name, const char *data, size_t len, bool *ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *have = NULL;
	struct stat st;
	size_t hlen;

	*ret = false;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s", name);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s", name);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "%s is not a regular file", name);
	if ((size_t)st.st_size == len) {
		GUARD(file_read_fd(fd, name, META_MAX, &have, &hlen));
		if (hlen == len && memcmp(have, data, len) == 0) {
			*ret = true;
			return 0;
		}
	}
	return pawl_error_set(PAWL_E_IO,
			      "%s differs from the version the service published: a signed "
			      "version never changes, so something else wrote it; move it away "
			      "and export again",
			      name);
}

static int put_file(exporter *e, const char *name, const char *data, size_t len)
{
	char tmp[320];
	bool same;

	GUARD(already(e->dirfd, name, data, len, &same));
	if (same) {
		e->kept++;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), ".export.%s", name);
	(void)unlinkat(e->dirfd, tmp, 0); /* left by an interrupted export */
	GUARD(file_create_at(e->dirfd, tmp, data, len, 0644));
	if (renameat2(e->dirfd, tmp, e->dirfd, name, RENAME_NOREPLACE) < 0) {
		int err = errno;

		(void)unlinkat(e->dirfd, tmp, 0);
		return pawl_error_set_errno(PAWL_E_IO, err, "cannot rename %s to %s", tmp, name);
	}
	e->written++;
	return 0;
}

static int on_row(void *ctx, PGresult *res)
{
	exporter *e = ctx;
	const char *role = PQgetvalue(res, 0, 0), *ver = PQgetvalue(res, 0, 1);
	char name[300];

	ENSURE(safe_role(role) && strspn(ver, "0123456789") == strlen(ver) && *ver, PAWL_E_FORMAT,
	       "unexpected role name \"%.64s\" in the database", role);
	snprintf(name, sizeof(name), "%s.%s.json", ver, role);
	return put_file(e, name, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
}

static const char usage_export[] =
	"usage: pawl-repod export --config FILE [--current] DIR\n"
	"\n"
	"Write the published metadata to DIR for a static mirror: VERSION.ROLE.json\n"
	"for every version the service keeps (--current: every root and the versions\n"
	"in force), then timestamp.json, last and atomically. Run it again to update\n"
	"the mirror; files already there are kept when they have the same bytes.\n";

int cmd_export(const repod_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "current", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_db_ db *d = NULL;
	_cleanup_pq_ PGresult *ts = NULL;
	exporter e = { .dirfd = -1 };
	bool current = false;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			current = true;
			break;
		case 'h':
			fputs(usage_export, stdout);
			return 0;
		default:
			fputs(usage_export, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage_export, stderr);
		return EXIT_USAGE;
	}
	r = dir_create(argv[optind], 0755);
	if (r == 0)
		r = dir_open(argv[optind], &e.dirfd);
	if (r == 0)
		r = db_open(&d, c->database);
	if (r == 0)
		r = db_begin_snapshot(d);
	if (r == 0)
		r = DB_RUN(d, "meta_newest", &ts, "timestamp");
	if (r == 0 && PQntuples(ts) == 0)
		r = pawl_error_set(PAWL_E_NOT_FOUND, "nothing is published yet");
	if (r == 0)
		r = db_stream(d, current ? "export_current" : "export_all", 0, NULL, on_row, &e);
	/* Every versioned file is on disk before the timestamp names it. */
	if (r == 0 && syncfs(e.dirfd) < 0)
		r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot sync %s", argv[optind]);
	if (r == 0)
		r = file_write_atomic_at(e.dirfd, "timestamp.json", PQgetvalue(ts, 0, 1),
					 (size_t)PQgetlength(ts, 0, 1), 0644);
	if (d)
		db_rollback(d);
	if (e.dirfd >= 0)
		close(e.dirfd);
	if (r < 0) {
		fprintf(stderr, "pawl-repod export: %s\n", pawl_error_last()->message);
		return 1;
	}
	fprintf(stderr,
		"pawl-repod export: timestamp version %s; %zu files written, %zu already there\n",
		PQgetvalue(ts, 0, 0), e.written, e.kept);
	return 0;
}

/*
 * reader.c - reading a log line by line with one fixed buffer, and the
 * entry iterator. See audit.h.
 *
 * The buffer holds one whole line and its newline (AUDIT_LINE_MAX + 1)
 * plus the NUL written over the newline, so memory does not depend on the
 * file: a line that does not fit is refused, never grown into.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "util/clock.h"

int lr_init(line_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cap = AUDIT_LINE_MAX + 2;
	r->buf = xmalloc(r->cap);
	if (!r->buf)
		return PAWL_E_NOMEM;
	return 0;
}

void lr_free(line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

int lr_next(line_reader *r, const char **ret, size_t *ret_len)
{
	size_t scanned = 0;

	/* After an error the reader only reports the end: an overlong line
	 * cannot be stepped over without reading it whole. */
	if (r->dead) {
		*ret = NULL;
		*ret_len = 0;
		return 0;
	}
	for (;;) {
		char *nl = memchr(r->buf + r->start + scanned, '\n', r->end - r->start - scanned);
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - (r->buf + r->start));

			*nl = '\0';
			*ret = r->buf + r->start;
			*ret_len = len;
			r->start += len + 1;
			r->lineno++;
			return 0;
		}
		scanned = r->end - r->start;
		if (r->eof) {
			r->torn = scanned;
			*ret = NULL;
			*ret_len = 0;
			return 0;
		}
		/* The line so far to the front, then read behind it; one byte
		 * stays free for the NUL. */
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, scanned);
			r->end = scanned;
			r->start = 0;
		}
		if (r->end >= r->cap - 1) {
			r->dead = true;
			return pawl_error_set(PAWL_E_FORMAT, "line %llu is longer than %zu bytes",
					      (unsigned long long)r->lineno + 1, AUDIT_LINE_MAX);
		}
		do
			n = read(r->fd, r->buf + r->end, r->cap - 1 - r->end);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			r->dead = true;
			return pawl_error_set_errno(PAWL_E_IO, errno, "read error");
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

/* ---------------- iterator ---------------- */

struct audit_iter {
	int fd;
	char *name;
	line_reader r;
	int64_t since;
	pj_doc *doc;
	audit_entry cur;
	pawl_buf scratch;
	bool done;
};

void audit_iter_free(audit_iter *it)
{
	if (!it)
		return;
	closep(&it->fd);
	lr_free(&it->r);
	pj_doc_free(it->doc);
	buf_free(&it->scratch);
	free(it->name);
	free(it);
}

int audit_iter_from_fd(audit_iter **ret, int fd, const char *name, int64_t since)
{
	_cleanup_close_ int owned = fd;
	audit_iter *it;
	int r;

	it = xcalloc(1, sizeof(*it));
	if (!it)
		return PAWL_E_NOMEM;
	it->fd = TAKE_FD(owned);
	it->since = since;
	it->scratch = (pawl_buf)PAWL_BUF_INIT(AUDIT_LINE_MAX + 16);
	it->name = xstrdup(name ? name : "audit log");
	if (!it->name) {
		audit_iter_free(it);
		return PAWL_E_NOMEM;
	}
	r = lr_init(&it->r, it->fd);
	if (r < 0) {
		audit_iter_free(it);
		return r;
	}
	*ret = it;
	return 0;
}

/* Open a log for reading: O_NOFOLLOW, O_NONBLOCK so that a FIFO cannot
 * hang the open, then checked to be a regular file. */
static int open_log_ro(const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int fl;

	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == ENOENT)
			return pawl_error_set(PAWL_E_NOT_FOUND, "audit log %s does not exist", path);
		if (errno == ELOOP)
			return pawl_error_set(PAWL_E_IO,
					      "audit log %s: refusing to follow a symbolic link", path);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open audit log %s", path);
	}
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat audit log %s", path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "audit log %s is not a regular file", path);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot set flags on %s", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int audit_open_ro(const char *path, int *ret_fd)
{
	ENSURE(path && *path, PAWL_E_INVALID, "audit: empty log path");
	return open_log_ro(path, ret_fd);
}

int audit_iter_open(audit_iter **ret, const char *path, int64_t since)
{
	int fd = -1;

	ENSURE(ret, PAWL_E_INVALID, "audit: no output for the iterator");
	GUARD(audit_open_ro(path, &fd));
	return audit_iter_from_fd(ret, fd, path, since);
}

int audit_iter_next(audit_iter *it, const audit_entry **ret)
{
	ENSURE(it && ret, PAWL_E_INVALID, "audit: no iterator");
	while (!it->done) {
		const char *line;
		size_t len;
		int r;

		pj_doc_free(it->doc);
		it->doc = NULL;
		r = lr_next(&it->r, &line, &len);
		if (r < 0)
			return pawl_error_prefix(r, "%s: ", it->name);
		if (!line) {
			it->done = true;
			if (it->r.torn > 0)
				return pawl_error_set(PAWL_E_FORMAT,
						      "%s: torn last line: %llu bytes after line %llu "
						      "have no newline (an interrupted write)",
						      it->name, (unsigned long long)it->r.torn,
						      (unsigned long long)it->r.lineno);
			break;
		}
		r = audit_entry_parse(&it->doc, &it->cur, line, len, &it->scratch);
		if (r < 0)
			return pawl_error_prefix(r, "%s: line %llu: ", it->name,
						 (unsigned long long)it->r.lineno);
		it->cur.lineno = it->r.lineno;
		if (it->since != AUDIT_SINCE_ALL && it->cur.time < it->since)
			continue;
		*ret = &it->cur;
		return 0;
	}
	*ret = NULL;
	return 0;
}

int audit_since_parse(const char *s, int64_t *ret)
{
	static const struct {
		char unit;
		int64_t secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	size_t len;
	int64_t t, n = 0;

	ENSURE(s && ret, PAWL_E_INVALID, "audit: no time");
	len = strlen(s);
	if (len == 20)
		return pawl_time_parse(s, ret);
	if (len == 10) {
		char full[21];

		memcpy(full, s, 10);
		memcpy(full + 10, "T00:00:00Z", 11);
		GUARD(pawl_time_parse(full, &t));
		*ret = t;
		return 0;
	}
	/* A duration back from now: 90s, 30m, 24h, 7d, 2w. */
	if (len >= 2 && len <= 12) {
		for (size_t i = 0; i + 1 < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				goto bad;
			n = n * 10 + (s[i] - '0');
		}
		for (size_t u = 0; u < ARRAY_SIZE(units); u++) {
			if (s[len - 1] == units[u].unit) {
				if (__builtin_mul_overflow(n, units[u].secs, &t) ||
				    __builtin_sub_overflow(pawl_now(), t, &t))
					goto bad;
				*ret = t;
				return 0;
			}
		}
	}
bad:
	return pawl_error_set(PAWL_E_INVALID,
			      "--since '%.40s': want YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or a "
			      "duration such as 90s, 30m, 24h, 7d, 2w",
			      s);
}

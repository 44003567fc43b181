/*
 * test_audit.c - the tamper-evident audit log. Every kind of tampering
 * has its own test where verification fails and names it (edited,
 * deleted, inserted, reordered, truncated, torn, replaced, head behind or
 * missing), next to the one that cannot be seen without an anchor (tail
 * truncated and head rewritten to match). Writers are killed at random
 * moments and race each other; syslog lines are caught on a socket;
 * flood control, the since filter, sanitising and the CLI helpers are
 * checked.
 *
 * The logs live in /dev/shm when it exists: each append makes three
 * fsyncs, which on a disk would turn the 5000-entry test into minutes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/audit_impl.h"
#include "common/log_cmd.h"
#include "pawl/common.h"
#include "testing.h"

/* ---------------- fixture ---------------- */

struct fx {
	char *dir;
	int dfd;
	char log[4096], head[4096];
	audit_opts o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char tmpl[] = "/dev/shm/pawl-audit-XXXXXX";
	audit_opts o = AUDIT_OPTS_INIT;

	assert_non_null(f);
	if (access("/dev/shm", W_OK) == 0 && mkdtemp(tmpl))
		f->dir = strdup(tmpl);
	else
		f->dir = t_mkdtemp();
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	snprintf(f->log, sizeof(f->log), "%s/audit.log", f->dir);
	snprintf(f->head, sizeof(f->head), "%s/audit.head", f->dir);
	o.ident = "pawl-test";
	o.syslog = false; /* never into the real /dev/log from tests */
	f->o = o;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pawl__test_set_now(-1);
	close(f->dfd);
	t_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static audit_log *open_log(struct fx *f)
{
	audit_log *log = NULL;

	t_ok(audit_open(&log, f->dfd, "audit.log", &f->o));
	return log;
}

static void add(audit_log *log, int i)
{
	char target[64], sha[65];

	snprintf(target, sizeof(target), "pkg/app-%d.tar.gz", i);
	memset(sha, 'a' + i % 6, 64);
	sha[64] = '\0';
	t_ok(audit_appendf(log, "download", AUDIT_STR("target", target), AUDIT_INT("length", i),
			   AUDIT_STR("sha256", sha)));
}

/* A log of entry 0 plus n downloads (seq 1..n, length = seq). */
static void fill(struct fx *f, int n)
{
	audit_log *log = open_log(f);

	for (int i = 1; i <= n; i++)
		add(log, i);
	t_ok(audit_close(log));
}

/* The log's complete lines (without newlines), and what follows the last
 * newline in *torn. */
typedef struct lines {
	char **l;
	size_t n;
	char *torn;
} lines;

static lines read_lines(const char *path)
{
	size_t len;
	char *all = t_read_file(path, &len), *p = all, *nl;
	lines ls = { NULL, 0, NULL };

	while ((nl = memchr(p, '\n', len - (size_t)(p - all))) != NULL) {
		ls.l = realloc(ls.l, (ls.n + 1) * sizeof(char *));
		ls.l[ls.n++] = strndup(p, (size_t)(nl - p));
		p = nl + 1;
	}
	ls.torn = strndup(p, len - (size_t)(p - all));
	free(all);
	return ls;
}

static void write_lines(const char *path, const lines *ls, bool with_torn)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	for (size_t i = 0; i < ls->n; i++)
		fprintf(fp, "%s\n", ls->l[i]);
	if (with_torn)
		fputs(ls->torn, fp);
	fclose(fp);
}

static void free_lines(lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
	free(ls->l);
	free(ls->torn);
}

static void remove_line(lines *ls, size_t i)
{
	free(ls->l[i]);
	memmove(&ls->l[i], &ls->l[i + 1], (ls->n - i - 1) * sizeof(char *));
	ls->n--;
}

static void insert_line(lines *ls, size_t i, const char *s)
{
	ls->l = realloc(ls->l, (ls->n + 1) * sizeof(char *));
	memmove(&ls->l[i + 1], &ls->l[i], (ls->n - i) * sizeof(char *));
	ls->l[i] = strdup(s);
	ls->n++;
}

static void replace_in_line(lines *ls, size_t i, const char *from, const char *to)
{
	char *p = strstr(ls->l[i], from), *n;

	assert_non_null(p);
	n = malloc(strlen(ls->l[i]) - strlen(from) + strlen(to) + 1);
	memcpy(n, ls->l[i], (size_t)(p - ls->l[i]));
	strcpy(n + (p - ls->l[i]), to);
	strcat(n, p + strlen(from));
	free(ls->l[i]);
	ls->l[i] = n;
}

static char *line_hash(const char *line)
{
	static char h[65];

	t_ok(audit_hash_hex(line, strlen(line), h));
	return h;
}

static int verify(struct fx *f, audit_report *rep)
{
	memset(rep, 0xa5, sizeof(*rep));
	return audit_verify(f->log, NULL, NULL, rep);
}

#define expect_problem(f, code, prob, sq)                                      \
	do {                                                                   \
		audit_report rep_;                                             \
		int r_ = verify((f), &rep_);                                   \
		if (r_ != (code) || rep_.problem != (prob))                    \
			print_error("got %d %s: %s\n", r_,                     \
				    audit_problem_name(rep_.problem),          \
				    pawl_error_last()->message);               \
		assert_int_equal(r_, (code));                                  \
		assert_int_equal(rep_.problem, (prob));                        \
		assert_int_equal(rep_.seq, (sq));                              \
		assert_string_equal(rep_.detail, pawl_error_last()->message);  \
	} while (0)

static void expect_intact(struct fx *f, uint64_t entries)
{
	audit_report rep;
	int r = verify(f, &rep);

	if (r != 0)
		print_error("verify: %s\n", pawl_error_last()->message);
	assert_int_equal(r, 0);
	assert_int_equal(rep.problem, AUDIT_OK);
	assert_int_equal(rep.entries, entries);
	assert_int_equal(rep.last_seq, entries - 1);
	assert_false(rep.head_lags);
	assert_int_equal(rep.incidents, 0);
}

static size_t count_type(const char *path, const char *type)
{
	audit_iter *it = NULL;
	const audit_entry *e;
	size_t n = 0;

	t_ok(audit_iter_open(&it, path, AUDIT_SINCE_ALL));
	for (;;) {
		t_ok(audit_iter_next(it, &e));
		if (!e)
			break;
		n += strcmp(e->type, type) == 0;
	}
	audit_iter_free(it);
	return n;
}

/* ---------------- an untouched log ---------------- */

static void test_untouched_5000(void **state)
{
	struct fx *f = *state;
	audit_head last, head;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;
	char *text;
	size_t len, n = 0;
	audit_report rep;

	fill(f, 2500);
	/* A second handle carries the chain on. */
	log = open_log(f);
	for (int i = 2501; i <= 5000; i++)
		add(log, i);
	t_ok(audit_last(log, &last));
	t_ok(audit_close(log));
	expect_intact(f, 5001);

	assert_int_equal(last.seq, 5000);
	text = t_read_file(f->head, &len);
	t_ok(audit_head_parse(&head, text, len));
	free(text);
	assert_int_equal(head.seq, 5000);
	assert_string_equal(head.hash, last.hash);
	assert_string_equal(head.log, last.log);

	/* The anchor a program keeps checks too. */
	t_ok(audit_verify(f->log, f->head, &last, &rep));
	assert_string_equal(rep.log, last.log);
	assert_string_equal(rep.last_hash, last.hash);

	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	for (;;) {
		t_ok(audit_iter_next(it, &e));
		if (!e)
			break;
		assert_int_equal(e->seq, n);
		assert_int_equal(e->lineno, n + 1);
		if (n == 0) {
			assert_string_equal(e->type, "audit.start");
			assert_string_equal(e->prev, AUDIT_ZERO_HASH);
			assert_string_equal(pj_str(pj_get(e->fields, "program")), "pawl-test");
		} else {
			assert_string_equal(e->type, "download");
			assert_int_equal(pj_get(e->fields, "length")->u.i, (int64_t)n);
		}
		n++;
	}
	audit_iter_free(it);
	assert_int_equal(n, 5001);
}

static void test_line_format(void **state)
{
	struct fx *f = *state;
	lines ls;

	t_set_time("2026-11-26T07:00:00Z");
	fill(f, 1);
	ls = read_lines(f->log);
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.torn, "");
	{
		char want[1024];

		snprintf(want, sizeof(want),
			 "{\"fields\":{\"length\":1,\"sha256\":"
			 "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
			 "\"target\":\"pkg/app-1.tar.gz\"},\"prev\":\"%s\",\"seq\":1,"
			 "\"time\":\"2026-11-26T07:00:00Z\",\"type\":\"download\"}",
			 line_hash(ls.l[0]));
		assert_string_equal(ls.l[1], want);
	}
	assert_true(strncmp(ls.l[0], "{\"fields\":{\"format\":1,\"log\":\"", 29) == 0);
	assert_non_null(strstr(ls.l[0], "\"program\":\"pawl-test\"},\"prev\":\"" AUDIT_ZERO_HASH
				      "\",\"seq\":0,\"time\":\"2026-11-26T07:00:00Z\","
				      "\"type\":\"audit.start\"}"));
	free_lines(&ls);
}

/* ---------------- each kind of tampering ---------------- */

static void test_edited_field(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 20);
	ls = read_lines(f->log);
	replace_in_line(&ls, 9, "\"length\":9,", "\"length\":90,");
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_EDITED, 9);
}

static void test_edited_last(void **state)
{
	struct fx *f = *state;
	lines ls;

	/* Nothing chains to the last entry: the head's hash catches it. */
	fill(f, 20);
	ls = read_lines(f->log);
	replace_in_line(&ls, 20, "\"length\":20,", "\"length\":21,");
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_EDITED, 20);
}

static void test_edited_noncanonical(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 20);
	ls = read_lines(f->log);
	replace_in_line(&ls, 5, "\"length\":5,", "\"length\": 5,");
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_FORMAT, AUDIT_MALFORMED, 5);
}

static void test_edited_seq(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 20);
	ls = read_lines(f->log);
	replace_in_line(&ls, 7, "\"seq\":7,", "\"seq\":8,");
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_EDITED, 7);
}

static void test_deleted_middle(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 20);
	ls = read_lines(f->log);
	remove_line(&ls, 10);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_DELETED, 10);
}

static void test_deleted_several(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 20);
	ls = read_lines(f->log);
	remove_line(&ls, 10);
	remove_line(&ls, 10);
	remove_line(&ls, 10);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_DELETED, 10);
}

static void test_deleted_first(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 5);
	ls = read_lines(f->log);
	remove_line(&ls, 0);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_DELETED, 0);
}

static void test_inserted_copy(void **state)
{
	struct fx *f = *state;
	lines ls;

	/* A copy of entry 10 right after it. */
	fill(f, 20);
	ls = read_lines(f->log);
	insert_line(&ls, 11, ls.l[10]);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_INSERTED, 10);
}

static void test_inserted_forged(void **state)
{
	struct fx *f = *state;
	audit_report rep;
	char forged[512];
	lines ls;

	/* A well-made forgery: seq 11, chained to entry 10, placed before the
	 * real entry 11. It fits the chain; the real entry 11 then does not,
	 * and the forged line is the one nothing chains to. */
	fill(f, 20);
	ls = read_lines(f->log);
	snprintf(forged, sizeof(forged),
		 "{\"fields\":{\"target\":\"evil\"},\"prev\":\"%s\",\"seq\":11,"
		 "\"time\":\"2026-01-01T00:00:00Z\",\"type\":\"download\"}",
		 line_hash(ls.l[10]));
	insert_line(&ls, 11, forged);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_INSERTED, 11);
	(void)verify(f, &rep);
	assert_int_equal(rep.line, 12); /* the forged line */
}

static void test_inserted_foreign(void **state)
{
	struct fx *f = *state;
	char forged[512];
	lines ls;

	/* A line with a sequence number from the future, chained nowhere. */
	fill(f, 20);
	ls = read_lines(f->log);
	snprintf(forged, sizeof(forged),
		 "{\"fields\":{},\"prev\":\"%s\",\"seq\":500,"
		 "\"time\":\"2026-01-01T00:00:00Z\",\"type\":\"download\"}",
		 line_hash("x"));
	insert_line(&ls, 5, forged);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_INSERTED, 5);
}

static void test_reordered_swap(void **state)
{
	struct fx *f = *state;
	lines ls;
	char *tmp;

	fill(f, 20);
	ls = read_lines(f->log);
	tmp = ls.l[10];
	ls.l[10] = ls.l[11];
	ls.l[11] = tmp;
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_REORDERED, 10);
}

static void test_reordered_swap_last(void **state)
{
	struct fx *f = *state;
	lines ls;
	char *tmp;

	fill(f, 20);
	ls = read_lines(f->log);
	tmp = ls.l[19];
	ls.l[19] = ls.l[20];
	ls.l[20] = tmp;
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_REORDERED, 19);
}

static void test_reordered_moved(void **state)
{
	struct fx *f = *state;
	lines ls;
	char *moved;

	/* Entry 5 moved to the end, and entry 15 moved to the front. */
	fill(f, 20);
	ls = read_lines(f->log);
	moved = strdup(ls.l[5]);
	remove_line(&ls, 5);
	insert_line(&ls, ls.n, moved);
	free(moved);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_REORDERED, 5);

	t_rm_rf(f->dir);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	close(f->dfd);
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fill(f, 20);
	ls = read_lines(f->log);
	moved = strdup(ls.l[15]);
	remove_line(&ls, 15);
	insert_line(&ls, 3, moved);
	free(moved);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_REORDERED, 3);
}

static void test_truncated_tail(void **state)
{
	struct fx *f = *state;
	lines ls;

	fill(f, 20);
	ls = read_lines(f->log);
	remove_line(&ls, ls.n - 1);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	expect_problem(f, PAWL_E_HASH, AUDIT_TRUNCATED, 20);
}

static void test_truncated_to_nothing(void **state)
{
	struct fx *f = *state;

	fill(f, 3);
	t_write_file(f->log, "", 0);
	expect_problem(f, PAWL_E_HASH, AUDIT_TRUNCATED, 0);
}

static void test_truncated_head_rewritten(void **state)
{
	struct fx *f = *state;
	audit_head anchor, h;
	audit_report rep;
	audit_log *log;
	pawl_buf b = PAWL_BUF_INIT(4096);
	lines ls;

	/* The program keeps the last head in its own state ... */
	log = open_log(f);
	for (int i = 1; i <= 20; i++)
		add(log, i);
	t_ok(audit_last(log, &anchor));
	t_ok(audit_close(log));

	/* ... an attacker who can write the files drops the last entry and
	 * writes a head that matches what is left. */
	ls = read_lines(f->log);
	remove_line(&ls, ls.n - 1);
	write_lines(f->log, &ls, false);
	h = anchor;
	h.seq = 19;
	memcpy(h.hash, line_hash(ls.l[19]), 65);
	free_lines(&ls);
	t_ok(audit_head_encode(&b, &h));
	t_write_file(f->head, b.data, b.len);
	buf_free(&b);

	/* The chain and the head alone cannot tell (the documented limit)... */
	expect_intact(f, 20);
	/* ... the anchor kept elsewhere can. */
	t_fails(audit_verify(f->log, NULL, &anchor, &rep), PAWL_E_HASH);
	assert_int_equal(rep.problem, AUDIT_TRUNCATED);
	assert_int_equal(rep.seq, 20);
}

static void test_replaced_whole_log(void **state)
{
	struct fx *f = *state;
	char other[4200];
	audit_report rep;
	audit_head anchor;
	audit_log *log;

	/* Another log, well-formed and as long, swapped in: its id differs. */
	log = open_log(f);
	for (int i = 1; i <= 5; i++)
		add(log, i);
	t_ok(audit_last(log, &anchor));
	t_ok(audit_close(log));
	snprintf(other, sizeof(other), "%s/other.log", f->dir);
	{
		audit_log *l2 = NULL;

		t_ok(audit_open(&l2, f->dfd, "other.log", &f->o));
		for (int i = 1; i <= 5; i++)
			add(l2, i);
		t_ok(audit_close(l2));
	}
	assert_int_equal(rename(other, f->log), 0);
	expect_problem(f, PAWL_E_HASH, AUDIT_REPLACED, 0);

	/* The head too: the anchor still tells. */
	{
		char oh[4200];

		snprintf(oh, sizeof(oh), "%s/other.head", f->dir);
		assert_int_equal(rename(oh, f->head), 0);
	}
	expect_intact(f, 6);
	t_fails(audit_verify(f->log, NULL, &anchor, &rep), PAWL_E_HASH);
	assert_int_equal(rep.problem, AUDIT_REPLACED);
}

static void test_torn_last_line(void **state)
{
	struct fx *f = *state;
	audit_report rep;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;
	lines ls;
	size_t n = 0;
	int fd;

	fill(f, 10);
	/* Half of an entry, as a write cut short leaves it. */
	ls = read_lines(f->log);
	fd = open(f->log, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ls.l[3], 40), 40);
	close(fd);
	free_lines(&ls);

	t_fails(verify(f, &rep), PAWL_E_FORMAT);
	assert_int_equal(rep.problem, AUDIT_TORN);
	assert_int_equal(rep.torn_bytes, 40);
	assert_int_equal(rep.entries, 11);
	assert_int_equal(rep.line, 12);
	assert_non_null(strstr(rep.detail, "no newline"));

	/* Reading shows every entry, then says the last line is torn. */
	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	for (;;) {
		int r = audit_iter_next(it, &e);

		if (r < 0) {
			assert_int_equal(r, PAWL_E_FORMAT);
			assert_non_null(strstr(pawl_error_last()->message, "torn"));
			break;
		}
		assert_non_null(e);
		n++;
	}
	audit_iter_free(it);
	assert_int_equal(n, 11);

	/* The next writer cuts the torn bytes off and says so. */
	log = open_log(f);
	add(log, 11);
	t_ok(audit_close(log));
	t_ok(verify(f, &rep));
	assert_int_equal(rep.entries, 13);
	assert_int_equal(rep.recoveries, 1);
	assert_int_equal(rep.incidents, 0);
	ls = read_lines(f->log);
	assert_non_null(strstr(ls.l[11], "\"type\":\"audit.torn\""));
	assert_non_null(strstr(ls.l[11], "\"bytes\":40"));
	assert_string_equal(ls.torn, "");
	free_lines(&ls);
}

static void test_malformed_and_too_long(void **state)
{
	struct fx *f = *state;
	lines ls;
	char *big;

	fill(f, 5);
	ls = read_lines(f->log);
	free(ls.l[3]);
	ls.l[3] = strdup("not json");
	write_lines(f->log, &ls, false);
	expect_problem(f, PAWL_E_FORMAT, AUDIT_MALFORMED, 3);

	big = malloc(AUDIT_LINE_MAX + 10);
	memset(big, 'x', AUDIT_LINE_MAX + 9);
	big[AUDIT_LINE_MAX + 9] = '\0';
	free(ls.l[3]);
	ls.l[3] = big;
	write_lines(f->log, &ls, false);
	expect_problem(f, PAWL_E_FORMAT, AUDIT_MALFORMED, 3);
	free_lines(&ls);
}

/* ---------------- the head ---------------- */

static void test_head_lags_after_crash(void **state)
{
	struct fx *f = *state;
	audit_report rep;
	audit_log *log;
	size_t len;
	char *old;

	/* A crash between the log append and the head update. */
	fill(f, 5);
	old = t_read_file(f->head, &len);
	fill(f, 1);
	t_write_file(f->head, old, len);
	free(old);
	t_ok(verify(f, &rep));
	assert_true(rep.head_lags);
	assert_int_equal(rep.entries, 7);

	/* The next append accepts it silently and brings the head along. */
	log = open_log(f);
	add(log, 7);
	t_ok(audit_close(log));
	expect_intact(f, 8);
}

static void test_head_behind(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *old;

	fill(f, 5);
	old = t_read_file(f->head, &len);
	fill(f, 2);
	t_write_file(f->head, old, len);
	free(old);
	expect_problem(f, PAWL_E_HASH, AUDIT_HEAD_BEHIND, 6);
}

static void test_head_missing_or_malformed(void **state)
{
	struct fx *f = *state;
	audit_report rep;

	fill(f, 5);
	assert_int_equal(unlink(f->head), 0);
	expect_problem(f, PAWL_E_HASH, AUDIT_HEAD_MISSING, 0);
	t_write_file(f->head, "{\"seq\":1}\n", 10);
	expect_problem(f, PAWL_E_FORMAT, AUDIT_HEAD_MALFORMED, 0);

	/* A log of entry 0 alone: a crash before the first head. */
	t_rm_rf(f->log);
	unlink(f->head);
	{
		audit_log *log = open_log(f);

		audit_free(log);
	}
	unlink(f->head);
	t_ok(verify(f, &rep));
	assert_true(rep.head_lags);
}

/* ---------------- what a writer records ---------------- */

static void test_writer_records_truncation(void **state)
{
	struct fx *f = *state;
	audit_report rep;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;
	FILE *out = tmpfile();
	lines ls;

	fill(f, 10);
	ls = read_lines(f->log);
	remove_line(&ls, ls.n - 1);
	remove_line(&ls, ls.n - 1);
	write_lines(f->log, &ls, false);
	free_lines(&ls);

	/* Logging goes on, and the loss is on record. */
	log = open_log(f);
	add(log, 9);
	t_ok(audit_close(log));
	t_ok(verify(f, &rep));
	assert_int_equal(rep.incidents, 1);
	assert_int_equal(rep.first_incident_seq, 9);

	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	do
		t_ok(audit_iter_next(it, &e));
	while (e && e->seq < 9);
	assert_non_null(e);
	assert_string_equal(e->type, "audit.incident");
	assert_string_equal(pj_str(pj_get(e->fields, "problem")), "tail-truncated");
	assert_int_equal(pj_get(e->fields, "head_seq")->u.i, 10);
	assert_int_equal(pj_get(e->fields, "log_seq")->u.i, 8);
	audit_iter_free(it);

	/* intact, but recording an incident: 6 (docs/exit-codes.md) */
	assert_int_equal(cli_log_verify(out, f->log, NULL, NULL), 6);
	fclose(out);
}

static void test_writer_log_deleted(void **state)
{
	struct fx *f = *state;
	audit_report rep;
	audit_iter *it = NULL;
	const audit_entry *e;

	fill(f, 4);
	assert_int_equal(unlink(f->log), 0);
	fill(f, 1);
	t_ok(verify(f, &rep));
	assert_int_equal(rep.entries, 2);
	assert_int_equal(rep.incidents, 1);
	assert_int_equal(rep.first_incident_seq, 0);
	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(pj_str(pj_get(e->fields, "previous")), "log-missing");
	assert_int_equal(pj_get(e->fields, "head_seq")->u.i, 4);
	audit_iter_free(it);
}

static void test_writer_quarantines_damage(void **state)
{
	struct fx *f = *state;
	audit_report rep;
	audit_iter *it = NULL;
	const audit_entry *e;
	char moved[4200];
	const char *to;
	struct stat st;
	int fd;

	fill(f, 4);
	fd = open(f->log, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	close(fd);
	expect_problem(f, PAWL_E_FORMAT, AUDIT_MALFORMED, 5);

	fill(f, 1);
	t_ok(verify(f, &rep));
	assert_int_equal(rep.entries, 2);
	assert_int_equal(rep.incidents, 1);
	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(pj_str(pj_get(e->fields, "previous")), "log-damaged");
	to = pj_str(pj_get(e->fields, "moved_to"));
	assert_non_null(to);
	assert_true(strncmp(to, "audit.log.damaged-", 18) == 0);
	snprintf(moved, sizeof(moved), "%s/%s", f->dir, to);
	assert_int_equal(stat(moved, &st), 0);
	assert_int_equal(st.st_size > 0, 1);
	audit_iter_free(it);
}

/* ---------------- crashes and races ---------------- */

__attribute__((noreturn)) static void child_appends_forever(struct fx *f, unsigned seed)
{
	audit_log *log = NULL;
	char big[1001];

	/* Long lines span several pages, so a kill can land inside one
	 * write. */
	memset(big, 'z', 1000);
	big[1000] = '\0';
	if (audit_open(&log, f->dfd, "audit.log", &f->o) != 0)
		_exit(3);
	for (unsigned i = 0;; i++) {
		audit_field fl[AUDIT_FIELDS_MAX];
		char keys[AUDIT_FIELDS_MAX][8];
		size_t n = (seed + i * 7) % AUDIT_FIELDS_MAX + 1;

		for (size_t k = 0; k < n; k++) {
			snprintf(keys[k], sizeof(keys[k]), "k%zu", k);
			fl[k] = (audit_field)AUDIT_STR(keys[k], big + (k * 37 + i) % 900);
		}
		if (audit_append(log, "stress", fl, n) != 0)
			_exit(4);
	}
}

#define CRASH_ROUNDS 100

static void test_crash_mid_append(void **state)
{
	struct fx *f = *state;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int torn = 0;

	srand(seed);
	for (int iter = 0; iter < CRASH_ROUNDS; iter++) {
		audit_report rep;
		audit_log *log;
		pid_t pid;
		int r, st;

		/* A fresh log now and then keeps verification cheap; the
		 * others carry several crashes and recoveries each. */
		if (iter % 10 == 0) {
			unlink(f->log);
			unlink(f->head);
			fill(f, 2);
		}
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_appends_forever(f, seed + (unsigned)iter);
		usleep(1000 + (useconds_t)(rand() % 8000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st)); /* not an early exit */

		r = verify(f, &rep);
		if (r != 0) {
			if (r != PAWL_E_FORMAT || rep.problem != AUDIT_TORN)
				print_error("seed %u iter %d: %s\n", seed, iter,
					    pawl_error_last()->message);
			assert_int_equal(r, PAWL_E_FORMAT);
			assert_int_equal(rep.problem, AUDIT_TORN);
			torn++;
		}
		assert_int_equal(rep.incidents, 0);

		/* Recovery: the next append works and the log verifies. */
		log = open_log(f);
		add(log, iter);
		t_ok(audit_close(log));
		t_ok(verify(f, &rep));
		assert_false(rep.head_lags);
		assert_int_equal(rep.incidents, 0);
	}
	print_message("crash test: %d of %d kills left a torn line (seed %u)\n", torn, CRASH_ROUNDS,
		      seed);
}

static void test_concurrent_appends(void **state)
{
	struct fx *f = *state;
	pid_t pids[2];
	audit_report rep;

	/* No log yet: the two also race to create it. */
	for (int c = 0; c < 2; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			audit_log *log = NULL;

			if (audit_open(&log, f->dfd, "audit.log", &f->o) != 0)
				_exit(3);
			for (int i = 0; i < 300; i++)
				if (audit_appendf(log, "race", AUDIT_INT("child", c), AUDIT_INT("i", i)) != 0)
					_exit(4);
			_exit(audit_close(log) == 0 ? 0 : 5);
		}
	}
	for (int c = 0; c < 2; c++) {
		int st;

		assert_int_equal(waitpid(pids[c], &st, 0), pids[c]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	t_ok(verify(f, &rep));
	assert_int_equal(rep.entries, 601);
	assert_int_equal(rep.incidents, 0);
	assert_int_equal(count_type(f->log, "race"), 600);
}

/* ---------------- syslog ---------------- */

static int bind_socket(const char *path)
{
	struct sockaddr_un sa;
	struct timeval tv = { 2, 0 };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return s;
}

static void recv_line(int s, char *buf, size_t cap)
{
	ssize_t n = recv(s, buf, cap - 1, 0);

	if (n < 0)
		fail_msg("no syslog line: %s", strerror(errno));
	buf[n] = '\0';
}

static void test_syslog_mirror(void **state)
{
	struct fx *f = *state;
	char sock[4200], line[4096], want[512];
	audit_log *log = NULL;
	audit_head last;
	int s;

	snprintf(sock, sizeof(sock), "%s/log.sock", f->dir);
	s = bind_socket(sock);
	f->o.syslog = true;
	f->o.syslog_path = sock;
	f->o.facility = LOG_AUTHPRIV;
	t_ok(audit_open(&log, f->dfd, "audit.log", &f->o));
	recv_line(s, line, sizeof(line)); /* the log's entry 0 */
	assert_non_null(strstr(line, "audit seq=0 type=audit.start hash="));

	t_ok(audit_appendf(log, "download", AUDIT_STR("target", "a/b"), AUDIT_INT("length", 123),
			   AUDIT_STR("note", "two words \"quoted\"")));
	t_ok(audit_last(log, &last));
	recv_line(s, line, sizeof(line));
	snprintf(want, sizeof(want), "<%d>", LOG_AUTHPRIV | LOG_NOTICE);
	assert_true(strncmp(line, want, strlen(want)) == 0);
	snprintf(want, sizeof(want), " pawl-test[%ld]: audit seq=1 type=download hash=%s", (long)getpid(),
		 last.hash);
	assert_non_null(strstr(line, want));
	assert_non_null(
		strstr(line, " length=123 note=\"two words \\\"quoted\\\"\" target=a/b"));

	t_ok(audit_failuref(log, "rejected", "bad signature", AUDIT_STR("role", "snapshot")));
	recv_line(s, line, sizeof(line));
	snprintf(want, sizeof(want), "<%d>", LOG_AUTHPRIV | LOG_WARNING);
	assert_true(strncmp(line, want, strlen(want)) == 0);
	assert_non_null(strstr(line, "reason=\"bad signature\" role=snapshot"));
	assert_int_equal(audit_syslog_dropped(log), 0);

	/* Nobody listening: the file log goes on, the drop is counted. */
	close(s);
	unlink(sock);
	t_ok(audit_appendf(log, "download", AUDIT_STR("target", "c")));
	assert_int_equal(audit_syslog_dropped(log), 1);
	t_ok(audit_close(log));
	expect_intact(f, 4);
}

static void test_syslog_long_line_cut(void **state)
{
	struct fx *f = *state;
	char sock[4200], line[8192], big[1001];
	audit_field fl[8];
	audit_log *log = NULL;
	int s;

	snprintf(sock, sizeof(sock), "%s/log.sock", f->dir);
	s = bind_socket(sock);
	f->o.syslog = true;
	f->o.syslog_path = sock;
	t_ok(audit_open(&log, f->dfd, "audit.log", &f->o));
	recv_line(s, line, sizeof(line));
	memset(big, 'q', 1000);
	big[1000] = '\0';
	for (int i = 0; i < 8; i++) {
		static char keys[8][4];

		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		fl[i] = (audit_field)AUDIT_STR(keys[i], big);
	}
	t_ok(audit_append(log, "big", fl, 8));
	recv_line(s, line, sizeof(line));
	assert_int_equal(strlen(line), AUDIT_SYSLOG_MAX);
	assert_string_equal(line + AUDIT_SYSLOG_MAX - 3, "...");
	assert_non_null(strstr(line, "audit seq=1 type=big hash="));
	t_ok(audit_close(log));
	close(s);
}

/* ---------------- flood control ---------------- */

static void test_flood_coalesced(void **state)
{
	struct fx *f = *state;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;

	t_set_time("2026-11-26T07:00:00Z");
	log = open_log(f);
	for (int i = 0; i < 100; i++)
		t_ok(audit_failuref(log, "rejected", "snapshot: signature below threshold",
				    AUDIT_STR("role", "snapshot"), AUDIT_INT("attempt", i)));
	/* Only the first is written so far. */
	assert_int_equal(count_type(f->log, "rejected"), 1);
	assert_int_equal(count_type(f->log, "audit.repeated"), 0);

	/* A different failure ends the run: summary, then it. */
	t_set_time("2026-11-26T07:01:00Z");
	t_ok(audit_failuref(log, "rejected", "timestamp: expired", AUDIT_STR("role", "timestamp")));
	/* And a plain entry after one more repeat of that one. */
	t_ok(audit_failuref(log, "rejected", "timestamp: expired", AUDIT_STR("role", "timestamp")));
	t_ok(audit_appendf(log, "check", AUDIT_STR("result", "failed")));
	t_ok(audit_close(log));
	expect_intact(f, 6);

	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	t_ok(audit_iter_next(it, &e)); /* start */
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(e->type, "rejected");
	assert_int_equal(pj_get(e->fields, "attempt")->u.i, 0);
	assert_string_equal(pj_str(pj_get(e->fields, "reason")),
			    "snapshot: signature below threshold");
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(e->type, "audit.repeated");
	assert_int_equal(pj_get(e->fields, "count")->u.i, 99);
	assert_int_equal(pj_get(e->fields, "seq")->u.i, 1);
	assert_string_equal(pj_str(pj_get(e->fields, "type")), "rejected");
	assert_string_equal(pj_str(pj_get(e->fields, "first")), "2026-11-26T07:00:00Z");
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(pj_str(pj_get(e->fields, "reason")), "timestamp: expired");
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(e->type, "audit.repeated");
	assert_int_equal(pj_get(e->fields, "count")->u.i, 1);
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(e->type, "check");
	t_ok(audit_iter_next(it, &e));
	assert_null(e);
	audit_iter_free(it);
}

static void test_flood_window_and_close(void **state)
{
	struct fx *f = *state;
	audit_log *log;

	f->o.coalesce_window_s = 60;
	t_set_time("2026-11-26T07:00:00Z");
	log = open_log(f);
	for (int i = 0; i < 10; i++)
		t_ok(audit_failuref(log, "rejected", "network down", AUDIT_STR("url", "https://x")));
	/* Past the window: summary and a fresh full entry. */
	t_set_time("2026-11-26T07:01:00Z");
	t_ok(audit_failuref(log, "rejected", "network down", AUDIT_STR("url", "https://x")));
	assert_int_equal(count_type(f->log, "rejected"), 2);
	assert_int_equal(count_type(f->log, "audit.repeated"), 1);
	/* Repeats pending at close are written by close. */
	t_ok(audit_failuref(log, "rejected", "network down", AUDIT_STR("url", "https://x")));
	t_ok(audit_close(log));
	assert_int_equal(count_type(f->log, "rejected"), 2);
	assert_int_equal(count_type(f->log, "audit.repeated"), 2);
	expect_intact(f, 5);

	/* A clock set back starts a new window. */
	log = open_log(f);
	t_ok(audit_failuref(log, "rejected", "x", AUDIT_STR("url", "u")));
	t_set_time("2026-11-26T06:00:00Z");
	t_ok(audit_failuref(log, "rejected", "x", AUDIT_STR("url", "u")));
	audit_free(log);
	assert_int_equal(count_type(f->log, "rejected"), 4);
}

/* ---------------- reading ---------------- */

static void test_since_filter(void **state)
{
	struct fx *f = *state;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;
	int64_t since;
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *out;

	t_set_time("2026-01-01T00:00:00Z");
	log = open_log(f);
	add(log, 1);
	t_set_time("2026-02-01T00:00:00Z");
	add(log, 2);
	add(log, 3);
	t_set_time("2026-01-15T00:00:00Z"); /* a clock set back */
	add(log, 4);
	t_set_time("2026-03-01T00:00:00Z");
	add(log, 5);
	t_ok(audit_close(log));

	t_ok(pawl_time_parse("2026-02-01T00:00:00Z", &since));
	t_ok(audit_iter_open(&it, f->log, since));
	for (;;) {
		t_ok(audit_iter_next(it, &e));
		if (!e)
			break;
		assert_true(e->time >= since);
		assert_true(e->seq == 2 || e->seq == 3 || e->seq == 5);
		n++;
	}
	audit_iter_free(it);
	assert_int_equal(n, 3);

	out = open_memstream(&text, &len);
	assert_int_equal(cli_log_show(out, f->log, false, since), 0);
	fclose(out);
	assert_string_equal(text,
			    "#2 2026-02-01T00:00:00Z download length=2 sha256="
			    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc "
			    "target=pkg/app-2.tar.gz\n"
			    "#3 2026-02-01T00:00:00Z download length=3 sha256="
			    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd "
			    "target=pkg/app-3.tar.gz\n"
			    "#5 2026-03-01T00:00:00Z download length=5 sha256="
			    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff "
			    "target=pkg/app-5.tar.gz\n");
	free(text);
}

static void test_cli_show_json_and_verify(void **state)
{
	struct fx *f = *state;
	char *text = NULL, *p;
	size_t len = 0;
	lines ls;
	FILE *out;

	fill(f, 3);
	out = open_memstream(&text, &len);
	assert_int_equal(cli_log_show(out, f->log, true, AUDIT_SINCE_ALL), 0);
	fclose(out);
	ls = read_lines(f->log);
	p = text;
	for (size_t i = 0; i < ls.n; i++) {
		pj_doc *doc = NULL;

		assert_true(strncmp(p, ls.l[i], strlen(ls.l[i])) == 0);
		t_ok(pj_parse_copy(&doc, ls.l[i], strlen(ls.l[i]), NULL));
		pj_doc_free(doc);
		p += strlen(ls.l[i]) + 1;
	}
	assert_int_equal(*p, '\0');
	free(text);

	out = open_memstream(&text, &len);
	assert_int_equal(cli_log_verify(out, f->log, NULL, NULL), 0);
	fclose(out);
	assert_true(strncmp(text, "ok ", 3) == 0);
	assert_non_null(strstr(text, "intact, 4 entries (seq 0 to 3)"));
	free(text);

	/* Tampered: exit 2 (a verification failure) with the kind and the line. */
	remove_line(&ls, 2);
	write_lines(f->log, &ls, false);
	free_lines(&ls);
	out = open_memstream(&text, &len);
	assert_int_equal(cli_log_verify(out, f->log, NULL, NULL), 2);
	fclose(out);
	assert_true(strncmp(text, "FAILED ", 7) == 0);
	assert_non_null(strstr(text, "deleted: entry 2 is missing (line 3 has entry 3)"));
	free(text);

	/* Missing: exit 1, nothing on the output from show. */
	out = open_memstream(&text, &len);
	assert_int_equal(cli_log_show(out, "/nonexistent/audit.log", false, AUDIT_SINCE_ALL), 1);
	fclose(out);
	assert_string_equal(text, "");
	assert_int_equal(pawl_error_last()->code, PAWL_E_NOT_FOUND);
	free(text);
	out = open_memstream(&text, &len);
	assert_int_equal(cli_log_verify(out, "/nonexistent/audit.log", NULL, NULL), 1);
	fclose(out);
	assert_non_null(strstr(text, "cannot verify"));
	free(text);
}

/* ---------------- values and arguments ---------------- */

static void test_sanitized_values(void **state)
{
	struct fx *f = *state;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;
	char big[3000];
	lines ls;

	memset(big, '\\', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log = open_log(f);
	t_ok(audit_appendf(log, "odd", AUDIT_STR("nl", "a\nb\tc\rd"),
			   AUDIT_STR("esc", "\x1b[31mred\x7f"), AUDIT_STR("bad", "x\xff\xc0y"),
			   AUDIT_STR("bidi", "abc\xe2\x80\xae" "def"),
			   AUDIT_STR("c1", "\xc2\x9b" "2J"), AUDIT_STR("big", big),
			   AUDIT_STR("null", NULL), AUDIT_BOOL("flag", 7),
			   AUDIT_STR("ok", "na\xc3\xafve \"q\"")));
	t_ok(audit_close(log));

	/* Still one line per entry, no control characters anywhere. */
	ls = read_lines(f->log);
	assert_int_equal(ls.n, 2);
	for (const char *p = ls.l[1]; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	free_lines(&ls);
	expect_intact(f, 2);

	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	t_ok(audit_iter_next(it, &e));
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(pj_str(pj_get(e->fields, "nl")), "a b c d");
	assert_string_equal(pj_str(pj_get(e->fields, "esc")),
			    "\xef\xbf\xbd[31mred\xef\xbf\xbd");
	assert_string_equal(pj_str(pj_get(e->fields, "bad")), "x\xef\xbf\xbd\xef\xbf\xbdy");
	assert_string_equal(pj_str(pj_get(e->fields, "bidi")), "abc\xef\xbf\xbd" "def");
	assert_string_equal(pj_str(pj_get(e->fields, "c1")), "\xef\xbf\xbd" "2J");
	assert_string_equal(pj_str(pj_get(e->fields, "ok")), "na\xc3\xafve \"q\"");
	assert_int_equal(pj_typeof(pj_get(e->fields, "null")), PJ_NULL);
	assert_int_equal(pj_typeof(pj_get(e->fields, "flag")), PJ_TRUE);
	/* Backslashes count twice: 510 of them and the ellipsis. */
	assert_int_equal(pj_get(e->fields, "big")->len, (AUDIT_VALUE_MAX - 3) / 2 + 3);
	assert_string_equal(pj_str(pj_get(e->fields, "big")) + (AUDIT_VALUE_MAX - 3) / 2,
			    "\xe2\x80\xa6");
	audit_iter_free(it);
}

static void test_append_json(void **state)
{
	struct fx *f = *state;
	const char *src = "{\"keyids\":[\"ab\",\"c\\nd\"],\"role\":\"root\",\"v\":{\"x\\u0001\":1}}";
	pj_doc *doc = NULL;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log;

	t_ok(pj_parse_copy(&doc, src, strlen(src), NULL));
	log = open_log(f);
	t_ok(audit_append_json(log, "sign", pj_root(doc)));
	t_ok(audit_close(log));
	pj_doc_free(doc);
	expect_intact(f, 2);
	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	t_ok(audit_iter_next(it, &e));
	t_ok(audit_iter_next(it, &e));
	assert_string_equal(pj_str(&pj_get(e->fields, "keyids")->u.items[1]), "c d");
	assert_non_null(pj_get(pj_get(e->fields, "v"), "x\xef\xbf\xbd"));
	audit_iter_free(it);

	/* Past the line limit: refused whole, nothing half-written. */
	{
		char big[1001];
		pj_value *arr;

		memset(big, 'w', 1000);
		big[1000] = '\0';
		t_ok(pj_doc_new(&doc));
		t_ok(pj_set_object(doc, pj_root(doc)));
		t_ok(pj_obj_put(doc, pj_root(doc), "list", 4, &arr));
		t_ok(pj_set_array(doc, arr));
		for (int i = 0; i < 100; i++) {
			pj_value *slot;

			t_ok(pj_arr_push(doc, arr, &slot));
			t_ok(pj_set_cstr(doc, slot, big));
		}
		log = open_log(f);
		t_fails(audit_append_json(log, "huge", pj_root(doc)), PAWL_E_LIMIT);
		assert_non_null(strstr(pawl_error_last()->message, "longer than"));
		t_ok(audit_close(log));
		pj_doc_free(doc);
		expect_intact(f, 2);
	}
}

static void test_invalid_arguments(void **state)
{
	struct fx *f = *state;
	audit_field many[AUDIT_FIELDS_MAX + 1];
	audit_opts o = f->o;
	audit_log *log = open_log(f), *l2 = NULL;

	for (int i = 0; i < AUDIT_FIELDS_MAX + 1; i++)
		many[i] = (audit_field)AUDIT_INT("k", i);
	t_fails(audit_appendf(log, "Bad", AUDIT_INT("a", 1)), PAWL_E_INVALID);
	t_fails(audit_appendf(log, "audit.start", AUDIT_INT("a", 1)), PAWL_E_INVALID);
	t_fails(audit_appendf(log, "ok", AUDIT_INT("1a", 1)), PAWL_E_INVALID);
	t_fails(audit_appendf(log, "ok", AUDIT_INT("a b", 1)), PAWL_E_INVALID);
	t_fails(audit_appendf(log, "ok", AUDIT_INT("a", 1), AUDIT_INT("a", 2)), PAWL_E_INVALID);
	t_fails(audit_append(log, "ok", many, AUDIT_FIELDS_MAX + 1), PAWL_E_INVALID);
	t_fails(audit_failuref(log, "ok", "r", AUDIT_STR("reason", "x")), PAWL_E_INVALID);
	t_fails(audit_append(NULL, "ok", NULL, 0), PAWL_E_INVALID);
	t_ok(audit_append(log, "no-fields", NULL, 0));
	t_ok(audit_close(log));
	expect_intact(f, 2);

	t_fails(audit_open(&l2, f->dfd, "a/b.log", &f->o), PAWL_E_INVALID);
	o.ident = "bad ident";
	t_fails(audit_open(&l2, f->dfd, "x.log", &o), PAWL_E_INVALID);
	o = f->o;
	o.version = 99;
	t_fails(audit_open(&l2, f->dfd, "x.log", &o), PAWL_E_INVALID);
	o = f->o;
	o.syslog = true;
	o.facility = 7;
	t_fails(audit_open(&l2, f->dfd, "x.log", &o), PAWL_E_INVALID);
	assert_null(l2);
}

static void test_symlink_refused(void **state)
{
	struct fx *f = *state;
	char target[4200];
	audit_log *log = NULL;
	audit_report rep;

	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	t_write_file(target, "", 0);
	assert_int_equal(symlink(target, f->log), 0);
	t_fails(audit_open(&log, f->dfd, "audit.log", &f->o), PAWL_E_IO);
	t_fails(audit_verify(f->log, NULL, NULL, &rep), PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "symbolic link"));
}

static void test_record_event(void **state)
{
	struct fx *f = *state;
	audit_iter *it = NULL;
	const audit_entry *e;
	audit_log *log = open_log(f);
	pawl_event ev;
	const char *want[] = { "verified", "rejected", "root-rotated", "download", "cached" };

	memset(&ev, 0, sizeof(ev));
	ev.kind = PAWL_EVENT_FETCH;
	ev.url = "https://example/1.root.json";
	t_ok(audit_record_event(log, &ev));
	ev.kind = PAWL_EVENT_VERIFIED;
	ev.role = "timestamp";
	ev.version = 7;
	t_ok(audit_record_event(log, &ev));
	ev.kind = PAWL_EVENT_REJECTED;
	ev.code = PAWL_E_SIGNATURE;
	ev.message = "snapshot: 1 of 2 signatures";
	t_ok(audit_record_event(log, &ev));
	ev.kind = PAWL_EVENT_ROOT_ROTATED;
	ev.old_version = 1;
	ev.version = 2;
	t_ok(audit_record_event(log, &ev));
	ev.kind = PAWL_EVENT_DOWNLOADED;
	ev.target = "a/b";
	ev.total = 123;
	ev.sha256 = "00ff";
	t_ok(audit_record_event(log, &ev));
	ev.kind = PAWL_EVENT_CACHED;
	t_ok(audit_record_event(log, &ev));
	t_ok(audit_close(log));

	t_ok(audit_iter_open(&it, f->log, AUDIT_SINCE_ALL));
	t_ok(audit_iter_next(it, &e));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		t_ok(audit_iter_next(it, &e));
		assert_non_null(e);
		assert_string_equal(e->type, want[i]);
	}
	t_ok(audit_iter_next(it, &e));
	assert_null(e);
	audit_iter_free(it);
	expect_intact(f, 6);
}

static void test_names_and_facilities(void **state)
{
	char *p = NULL;
	int fac = 0;

	(void)state;
	t_ok(audit_head_path("/var/lib/pawl/audit.log", &p));
	assert_string_equal(p, "/var/lib/pawl/audit.head");
	free(p);
	t_ok(audit_head_path("repo/journal", &p));
	assert_string_equal(p, "repo/journal.head");
	free(p);
	t_ok(audit_head_path("d/.log", &p));
	assert_string_equal(p, "d/.log.head");
	free(p);
	t_ok(audit_facility_from_name("authpriv", &fac));
	assert_int_equal(fac, LOG_AUTHPRIV);
	t_ok(audit_facility_from_name("local3", &fac));
	assert_int_equal(fac, LOG_LOCAL3);
	t_fails(audit_facility_from_name("kern", &fac), PAWL_E_INVALID);
	{
		int64_t t, want;

		t_set_time("2026-11-26T07:00:00Z");
		t_ok(audit_since_parse("2026-11-01T12:00:00Z", &t));
		t_ok(pawl_time_parse("2026-11-01T12:00:00Z", &want));
		assert_int_equal(t, want);
		t_ok(audit_since_parse("2026-11-01", &t));
		t_ok(pawl_time_parse("2026-11-01T00:00:00Z", &want));
		assert_int_equal(t, want);
		t_ok(audit_since_parse("24h", &t));
		t_ok(pawl_time_parse("2026-11-25T07:00:00Z", &want));
		assert_int_equal(t, want);
		t_ok(audit_since_parse("2w", &t));
		assert_int_equal(t, want - 13 * 86400);
		t_fails(audit_since_parse("yesterday", &t), PAWL_E_INVALID);
		t_fails(audit_since_parse("24", &t), PAWL_E_INVALID);
		t_fails(audit_since_parse("h", &t), PAWL_E_INVALID);
		t_fails(audit_since_parse("1234567890123w", &t), PAWL_E_INVALID);
		t_fails(audit_since_parse("2026-13-01", &t), PAWL_E_FORMAT);
	}
	assert_string_equal(audit_problem_name(AUDIT_REORDERED), "reordered");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_untouched_5000),
		T(test_line_format),
		T(test_edited_field),
		T(test_edited_last),
		T(test_edited_noncanonical),
		T(test_edited_seq),
		T(test_deleted_middle),
		T(test_deleted_several),
		T(test_deleted_first),
		T(test_inserted_copy),
		T(test_inserted_forged),
		T(test_inserted_foreign),
		T(test_reordered_swap),
		T(test_reordered_swap_last),
		T(test_reordered_moved),
		T(test_truncated_tail),
		T(test_truncated_to_nothing),
		T(test_truncated_head_rewritten),
		T(test_replaced_whole_log),
		T(test_torn_last_line),
		T(test_malformed_and_too_long),
		T(test_head_lags_after_crash),
		T(test_head_behind),
		T(test_head_missing_or_malformed),
		T(test_writer_records_truncation),
		T(test_writer_log_deleted),
		T(test_writer_quarantines_damage),
		T(test_crash_mid_append),
		T(test_concurrent_appends),
		T(test_syslog_mirror),
		T(test_syslog_long_line_cut),
		T(test_flood_coalesced),
		T(test_flood_window_and_close),
		T(test_since_filter),
		T(test_cli_show_json_and_verify),
		T(test_sanitized_values),
		T(test_append_json),
		T(test_invalid_arguments),
		T(test_symlink_refused),
		T(test_record_event),
		T(test_names_and_facilities),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

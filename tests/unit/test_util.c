/*
 * test_util.c - the error model, bounded buffers, time parsing and the
 * read/write/fsync family (util/io.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pawl/common.h"
#include "testing.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/io.h"

static void test_error_model(void **state)
{
	(void)state;
	pawl_error_clear();
	assert_int_equal(pawl_error_last()->code, 0);
	assert_int_equal(pawl_error_set(PAWL_E_HASH, "target %s", "a.txt"), PAWL_E_HASH);
	assert_int_equal(pawl_error_prefix(PAWL_E_HASH, "download: "), PAWL_E_HASH);
	assert_string_equal(pawl_error_last()->message, "download: target a.txt");
	assert_int_equal(pawl_error_last()->code, PAWL_E_HASH);
	assert_string_equal(pawl_strerror(PAWL_E_SIGNATURE), "signature verification failed");
}

static void test_buf_limit(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(8);

	(void)state;
	t_ok(buf_append(&b, "1234", 4));
	t_ok(buf_puts(&b, "5678"));
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	t_fails(buf_putc(&b, '9'), PAWL_E_LIMIT);
	assert_int_equal(b.len, 8);
	buf_reset(&b);
	t_ok(buf_printf(&b, "%d-%s", 42, "x"));
	assert_string_equal(b.data, "42-x");
	t_fails(buf_printf(&b, "%s", "toolong!"), PAWL_E_LIMIT);
	buf_free(&b);
}

static void test_buf_overflow(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX);

	(void)state;
	t_ok(buf_putc(&b, 'x'));
	t_fails(buf_reserve(&b, SIZE_MAX), PAWL_E_LIMIT);
	buf_free(&b);
}

static void test_time_parse(void **state)
{
	int64_t t;
	char out[21];

	(void)state;
	t_ok(pawl_time_parse("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	t_ok(pawl_time_parse("2030-01-01T00:00:00Z", &t));
	assert_int_equal(t, 1893456000);
	t_ok(pawl_time_parse("2024-02-29T23:59:59Z", &t));
	pawl_time_format(t, out);
	assert_string_equal(out, "2024-02-29T23:59:59Z");
	t_fails(pawl_time_parse("2023-02-29T00:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T00:00:00", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01 00:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T00:00:00.5Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-13-01T00:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T24:00:00Z", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("2030-01-01T00:00:00+01:00", &t), PAWL_E_FORMAT);
	t_fails(pawl_time_parse("+030-01-01T00:00:00Z", &t), PAWL_E_FORMAT);
}

static void test_clock_seam(void **state)
{
	(void)state;
	t_set_time("2025-02-09T12:02:08Z");
	assert_int_equal(pawl_now(), 1739102528);
	pawl__test_set_now(-1);
	assert_true(pawl_now() > 1739102528);
}

/* ---------------- util/io.h ---------------- */

#define PIPE_BYTES 4096           /* the smallest pipe Linux makes */
#define SENT ((size_t)256 * 1024) /* many times the pipe */

static atomic_uint signals_seen;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

/* SIGUSR1 interrupts system calls (no SA_RESTART), as a signal an
 * embedding program installs could. */
static void catch_sigusr1(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, old), 0);
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + i / 251);
	return p;
}

static void small_pipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_true(fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES) >= PIPE_BYTES);
}

/* Reads the pipe to its end in small pieces and, after each piece,
 * interrupts the writer with a signal: the writer's write(2) calls, blocked
 * on a full pipe, return short (or fail with EINTR). */
struct drain {
	int fd;
	pthread_t writer;
	uint8_t *got;
	size_t len;
};

static void *drain_pipe(void *arg)
{
	struct drain *d = arg;

	for (;;) {
		ssize_t n = read(d->fd, d->got + d->len, 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		d->len += (size_t)n;
		pthread_kill(d->writer, SIGUSR1);
	}
	return NULL;
}

/* Write data with writer (a bare write(2) or io_write_all) into a small
 * pipe that a signalling reader drains; what arrived goes to *ret. */
static ssize_t write_interrupted(bool use_io, const uint8_t *data, size_t n, uint8_t **ret,
				 size_t *ret_len)
{
	struct drain d = { .writer = pthread_self() };
	pthread_t reader;
	int fds[2];
	ssize_t w;

	small_pipe(fds);
	d.fd = fds[0];
	d.got = malloc(n);
	assert_non_null(d.got);
	assert_int_equal(pthread_create(&reader, NULL, drain_pipe, &d), 0);
	if (use_io)
		w = io_write_all(fds[1], data, n, "the pipe") == 0 ? (ssize_t)n : -1;
	else
		w = write(fds[1], data, n);
	close(fds[1]);
	assert_int_equal(pthread_join(reader, NULL), 0);
	close(fds[0]);
	*ret = d.got;
	*ret_len = d.len;
	return w;
}

static void test_io_short_writes(void **state)
{
	struct sigaction old;
	uint8_t *data = pattern(SENT), *got;
	size_t len;
	ssize_t w;

	(void)state;
	catch_sigusr1(&old);

	/* The condition is real: under these signals a single write(2)
	 * stops short (or fails with EINTR before its first byte). */
	atomic_store(&signals_seen, 0);
	w = write_interrupted(false, data, SENT, &got, &len);
	assert_true(atomic_load(&signals_seen) > 0);
	assert_true(w < (ssize_t)SENT);
	assert_int_equal(len, w < 0 ? 0 : (size_t)w);
	free(got);

	/* io_write_all carries on until every byte is through, in order. */
	atomic_store(&signals_seen, 0);
	w = write_interrupted(true, data, SENT, &got, &len);
	assert_true(atomic_load(&signals_seen) > 0);
	assert_int_equal(w, (ssize_t)SENT);
	assert_int_equal(len, SENT);
	assert_memory_equal(got, data, SENT);
	free(got);

	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	free(data);
}

/* Whether thread tid of this process sleeps (state 'S' in its stat). */
static bool thread_sleeps(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold anything */
	return p && p[1] == ' ' && p[2] == 'S';
}

struct interrupter {
	pthread_t writer;
	pid_t writer_tid;
	int fd; /* the full pipe's read end */
	size_t drained;
	atomic_bool writing; /* nothing but the write(2) is left to sleep in */
};

/* Once the writer sleeps on the full pipe, interrupt it (its write(2)
 * has written nothing yet: EINTR); once it sleeps again, empty the pipe. */
static void *interrupt_then_drain(void *arg)
{
	struct interrupter *it = arg;
	uint8_t buf[PIPE_BYTES];
	ssize_t n;

	while (!atomic_load(&it->writing) || !thread_sleeps(it->writer_tid))
		sched_yield();
	pthread_kill(it->writer, SIGUSR1);
	while (atomic_load(&signals_seen) == 0)
		sched_yield();
	while (!thread_sleeps(it->writer_tid))
		sched_yield();
	while ((n = read(it->fd, buf, sizeof(buf))) > 0)
		it->drained += (size_t)n;
	return NULL;
}

/* Fill a small pipe, then write more with writer while a thread
 * interrupts the blocked write before its first byte. */
static int write_after_eintr(bool use_io, size_t *ret_drained)
{
	static const char more[] = "after the signal";
	struct interrupter it = { .writer = pthread_self(),
				  .writer_tid = (pid_t)syscall(SYS_gettid) };
	uint8_t *fill = pattern(PIPE_BYTES);
	pthread_t helper;
	int fds[2], fl, r;

	small_pipe(fds);
	fl = fcntl(fds[1], F_GETFL);
	assert_int_equal(fcntl(fds[1], F_SETFL, fl | O_NONBLOCK), 0);
	while (write(fds[1], fill, PIPE_BYTES) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(fds[1], F_SETFL, fl), 0);
	it.fd = fds[0];
	atomic_store(&signals_seen, 0);
	assert_int_equal(pthread_create(&helper, NULL, interrupt_then_drain, &it), 0);
	atomic_store(&it.writing, true);
	if (use_io) {
		r = io_write_all(fds[1], more, sizeof(more), "the pipe");
	} else {
		r = (int)write(fds[1], more, sizeof(more));
		if (r < 0)
			r = -errno;
	}
	close(fds[1]);
	assert_int_equal(pthread_join(helper, NULL), 0);
	close(fds[0]);
	free(fill);
	*ret_drained = it.drained;
	return r;
}

static void test_io_eintr(void **state)
{
	struct sigaction old;
	size_t drained;

	(void)state;
	catch_sigusr1(&old);
	/* A bare write(2) interrupted before its first byte fails. */
	assert_int_equal(write_after_eintr(false, &drained), -EINTR);
	/* io_write_all retries it and delivers everything. */
	t_ok(write_after_eintr(true, &drained));
	assert_int_equal(atomic_load(&signals_seen), 1);
	assert_true(drained > PIPE_BYTES);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
}

static void assert_msg_starts(const char *want)
{
	const char *m = pawl_error_last()->message;

	if (strncmp(m, want, strlen(want)) != 0)
		print_error("message \"%s\" does not start with \"%s\"\n", m, want);
	assert_true(strncmp(m, want, strlen(want)) == 0);
}

/* A regular file that takes fewer bytes than asked for: RLIMIT_FSIZE cuts
 * the first write short, the next fails with EFBIG. */
static void test_io_write_errors(void **state)
{
	char *dir = t_mkdtemp(), path[512];
	uint8_t *data = pattern(20000);
	struct rlimit old, lim;
	void (*old_xfsz)(int);
	void (*old_pipe)(int);
	bool unsupported = true;
	struct stat st;
	int fd, fds[2];

	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 10000;
	old_xfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	t_fails(io_write_all(fd, data, 20000, "the file"), PAWL_E_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_xfsz);
	assert_msg_starts("cannot write the file: ");
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 10000); /* the short write was kept going */

	/* Flags the kernel does not know: nothing written, the caller told. */
	assert_int_equal(ftruncate(fd, 0), 0);
	t_ok(io_write_all_rwf(fd, data, 100, "the file", 1 << 30, &unsupported));
	assert_true(unsupported);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* ... or, when the caller cannot write another way, an error. */
	t_fails(io_write_all_rwf(fd, data, 100, "the file", 1 << 30, NULL), PAWL_E_IO);
	/* Known flags (none) write like io_write_all, and say so. */
	t_ok(io_write_all_rwf(fd, data, 100, "the file", 0, &unsupported));
	assert_false(unsupported);
	close(fd);

	/* A descriptor that cannot be written; without a name. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	t_fails(io_write_all(fd, data, 10, NULL), PAWL_E_IO);
	assert_msg_starts("cannot write: ");
	close(fd);

	/* A pipe nobody reads any more. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[0]);
	old_pipe = signal(SIGPIPE, SIG_IGN);
	t_fails(io_write_all(fds[1], data, 10, "the pipe"), PAWL_E_IO);
	signal(SIGPIPE, old_pipe);
	assert_msg_starts("cannot write the pipe: ");
	close(fds[1]);

	/* Writing nothing is no error, even where writing is impossible. */
	t_ok(io_write_all(-1, data, 0, "nothing"));

	free(data);
	t_rm_rf(dir);
	free(dir);
}

static void test_io_pread_fsync(void **state)
{
	char *dir = t_mkdtemp(), path[512];
	uint8_t *data = pattern(20), got[20];
	int fd, fds[2];

	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	t_write_file(path, data, 20);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);

	t_ok(io_pread_full(fd, got, 10, 5, "the file"));
	assert_memory_equal(got, data + 5, 10);
	t_ok(io_pread_full(fd, got, 20, 0, "the file"));
	assert_memory_equal(got, data, 20);
	t_ok(io_pread_full(fd, got, 0, 20, "the file"));
	/* The file ends before the bytes asked for. */
	t_fails(io_pread_full(fd, got, 10, 15, "the file"), PAWL_E_IO);
	assert_msg_starts("cannot read the file: unexpected end of file");
	/* Offsets off_t cannot hold are refused, not wrapped. */
	t_fails(io_pread_full(fd, got, 10, (uint64_t)INT64_MAX - 5, "the file"), PAWL_E_IO);
	t_fails(io_pread_full(fd, got, 1, UINT64_MAX, "the file"), PAWL_E_IO);

	t_ok(io_fsync(fd, "the file"));
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	t_ok(io_fsync_dir(fd, "f"));
	close(fd);

	/* Pipes can be neither read at an offset nor synced. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	t_fails(io_pread_full(fds[0], got, 1, 0, "the pipe"), PAWL_E_IO);
	assert_msg_starts("cannot read the pipe: ");
	t_fails(io_fsync(fds[1], "the pipe"), PAWL_E_IO);
	assert_msg_starts("cannot fsync the pipe: ");
	t_fails(io_fsync_dir(fds[1], "x"), PAWL_E_IO);
	assert_msg_starts("cannot fsync the directory of x: ");
	t_fails(io_fsync(fds[1], NULL), PAWL_E_IO);
	assert_msg_starts("cannot fsync: ");
	close(fds[0]);
	close(fds[1]);

	free(data);
	t_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_model),
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_buf_overflow),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_clock_seam),
		cmocka_unit_test(test_io_short_writes),
		cmocka_unit_test(test_io_eintr),
		cmocka_unit_test(test_io_write_errors),
		cmocka_unit_test(test_io_pread_fsync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_store.c - the store's file primitives: every refusal has a test
 * where it fires (symbolic links, FIFOs, directories, oversized files,
 * missing directories, lock contention, unsafe names), and the atomic
 * writer is killed at random moments to show a reader only ever sees a
 * complete old or new file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pawl/common.h"
#include "store/store.h"
#include "testing.h"
#include "util/buf.h"

/* ---------------- fixture ---------------- */

struct fx {
	char *dir;
	int dfd;
	char path[8][4096]; /* rotating results of P() */
	int next;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = t_mkdtemp();
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->dfd);
	t_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* dir/name, in one of a few rotating buffers. */
static const char *P(struct fx *f, const char *name)
{
	char *p = f->path[f->next++ % 8];

	snprintf(p, sizeof(f->path[0]), "%s/%s", f->dir, name);
	return p;
}

/* Names in a directory other than "." and "..", sorted, joined by ' '. */
static void list_dir(const char *dir, char *out, size_t outsz)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	size_t len = 0;

	assert_true(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *d = ents[i]->d_name;

		if (strcmp(d, ".") != 0 && strcmp(d, "..") != 0) {
			int w = snprintf(out + len, outsz - len, "%s%s", len ? " " : "", d);

			assert_true(w >= 0 && (size_t)w < outsz - len);
			len += (size_t)w;
		}
		free(ents[i]);
	}
	free(ents);
}

static void assert_dir_is(const char *dir, const char *want)
{
	char got[4096];

	list_dir(dir, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("directory %s holds \"%s\", want \"%s\"", dir, got, want);
}

static void assert_file_is(const char *path, const char *want)
{
	size_t len;
	char *got = t_read_file(path, &len);

	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

static void assert_msg_has(const char *needle)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, needle))
		fail_msg("error message \"%s\" lacks \"%s\"", m, needle);
}

/* Make file writes fail past limit bytes (EFBIG) until restored. */
static struct rlimit fsize_saved;
static void fsize_limit(rlim_t limit)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
	rl = fsize_saved;
	rl.rlim_cur = limit;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}
static void fsize_restore(void)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
	signal(SIGXFSZ, SIG_DFL);
}

/* Run fn in a child process; return its exit status (or 128 + signal). */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---------------- reading ---------------- */

static void test_read_ok(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t len = 99;

	t_write_file(P(f, "a"), "hello", 5);
	t_ok(file_read_all(P(f, "a"), 100, &buf, &len));
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello"); /* NUL after the content */
	free(buf);

	/* Exactly max bytes is fine; the length output is optional. */
	t_ok(file_read_at(f->dfd, "a", 5, &buf, NULL));
	assert_memory_equal(buf, "hello\0", 6);
	free(buf);

	/* Empty file, max 0: a valid, NUL-terminated, empty buffer. */
	t_write_file(P(f, "empty"), "", 0);
	t_ok(file_read_at(f->dfd, "empty", 0, &buf, &len));
	assert_int_equal(len, 0);
	assert_non_null(buf);
	assert_int_equal(buf[0], '\0');
	free(buf);
}

static void test_read_large(void **state)
{
	struct fx *f = *state;
	size_t n = 3 * 1024 * 1024 + 17, len;
	char *data = malloc(n), *buf;

	/* More than one read chunk and more than one buffer growth. */
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 31 + i / 7);
	t_write_file(P(f, "big"), data, n);
	t_ok(file_read_all(P(f, "big"), n, &buf, &len));
	assert_int_equal(len, n);
	assert_memory_equal(buf, data, n);
	assert_int_equal(buf[n], '\0');
	free(buf);

	buf = (char *)0x1;
	t_fails(file_read_all(P(f, "big"), n - 1, &buf, &len), PAWL_E_LIMIT);
	assert_ptr_equal(buf, (char *)0x1); /* outputs untouched on error */
	assert_int_equal(len, n);
	free(data);
}

static void test_read_limit(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t len = 7;

	t_write_file(P(f, "a"), "123456", 6);
	t_fails(file_read_all(P(f, "a"), 5, &buf, &len), PAWL_E_LIMIT);
	assert_null(buf);
	assert_int_equal(len, 7);
	assert_msg_has(P(f, "a"));
	t_fails(file_read_at(f->dfd, "a", 0, &buf, &len), PAWL_E_LIMIT);
}

static void test_read_ignores_st_size(void **state)
{
	char *buf;
	size_t len;
	struct stat st;

	(void)state;
	/* procfs reports st_size 0 for a regular file with content: the
	 * reader must go by what read() returns, in both directions. */
	assert_int_equal(stat("/proc/self/status", &st), 0);
	if (!S_ISREG(st.st_mode) || st.st_size != 0)
		skip();
	t_ok(file_read_all("/proc/self/status", 1 << 20, &buf, &len));
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	assert_non_null(strstr(buf, "Pid:"));
	free(buf);
	t_fails(file_read_all("/proc/self/status", 8, &buf, &len), PAWL_E_LIMIT);
}

static void test_read_missing(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;

	t_fails(file_read_all(P(f, "nope"), 100, &buf, NULL), PAWL_E_NOT_FOUND);
	assert_msg_has(P(f, "nope"));
	t_fails(file_read_at(f->dfd, "nope", 100, &buf, NULL), PAWL_E_NOT_FOUND);
	assert_null(buf);
	t_fails(file_read_at(f->dfd, "", 100, &buf, NULL), PAWL_E_INVALID);
}

static void test_read_refuses_symlink(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;

	t_write_file(P(f, "real"), "secret", 6);
	assert_int_equal(symlink(P(f, "real"), P(f, "link")), 0);
	t_fails(file_read_all(P(f, "link"), 100, &buf, NULL), PAWL_E_IO);
	assert_msg_has(P(f, "link"));
	assert_msg_has("symbolic link");
	t_fails(file_read_at(f->dfd, "link", 100, &buf, NULL), PAWL_E_IO);
	/* A dangling link is refused the same way, not reported missing. */
	assert_int_equal(symlink("/nonexistent", P(f, "dangling")), 0);
	t_fails(file_read_at(f->dfd, "dangling", 100, &buf, NULL), PAWL_E_IO);
	assert_null(buf);
}

static void test_read_refuses_dir(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;

	assert_int_equal(mkdir(P(f, "d"), 0755), 0);
	t_fails(file_read_all(P(f, "d"), 100, &buf, NULL), PAWL_E_IO);
	assert_msg_has("not a regular file");
	assert_msg_has(P(f, "d"));
	t_fails(file_read_all("/dev/null", 100, &buf, NULL), PAWL_E_IO);
	assert_null(buf);
}

static void test_read_refuses_fifo(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;

	assert_int_equal(mkfifo(P(f, "fifo"), 0644), 0);
	/* If the open blocked waiting for a writer, SIGALRM ends the test
	 * run instead of hanging it. */
	alarm(10);
	t_fails(file_read_all(P(f, "fifo"), 100, &buf, NULL), PAWL_E_IO);
	alarm(0);
	assert_msg_has("not a regular file");
	assert_null(buf);
}

/* ---------------- atomic writes ---------------- */

static void test_write_atomic(void **state)
{
	struct fx *f = *state;
	struct stat st;

	t_ok(file_write_atomic(P(f, "t"), "one", 3, 0600));
	assert_file_is(P(f, "t"), "one");
	assert_int_equal(stat(P(f, "t"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_dir_is(f->dir, "t");

	t_ok(file_write_atomic(P(f, "t"), "two, longer", 11, 0644));
	assert_file_is(P(f, "t"), "two, longer");
	/* Shorter replacement: no stale tail from the old content. */
	t_ok(file_write_atomic_at(f->dfd, "t", "3", 1, 0644));
	assert_file_is(P(f, "t"), "3");
	assert_int_equal(stat(P(f, "t"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* Empty content, no buffer. */
	t_ok(file_write_atomic_at(f->dfd, "t", NULL, 0, 0644));
	assert_file_is(P(f, "t"), "");
	assert_dir_is(f->dir, "t");

	/* A name with a directory part: the file and its temporary live in
	 * that directory. */
	assert_int_equal(mkdir(P(f, "sub"), 0755), 0);
	t_ok(file_write_atomic_at(f->dfd, "sub/x", "in sub", 6, 0644));
	assert_file_is(P(f, "sub/x"), "in sub");
	assert_dir_is(P(f, "sub"), "x");
	assert_dir_is(f->dir, "sub t");
}

/* The create-only variant never replaces anything at the name: a file,
 * a symbolic link (not followed, even when dangling) or a directory; it
 * leaves no temporary file either way. */
static void test_create_atomic(void **state)
{
	struct fx *f = *state;
	bool existed = true;
	char buf[64];
	ssize_t n;

	t_ok(file_create_atomic_at(f->dfd, "c", "first", 5, 0644, &existed));
	assert_false(existed);
	assert_file_is(P(f, "c"), "first");
	t_ok(file_create_atomic_at(f->dfd, "c", "second", 6, 0644, &existed));
	assert_true(existed);
	assert_file_is(P(f, "c"), "first");
	assert_dir_is(f->dir, "c");

	assert_int_equal(symlink("nowhere", P(f, "l")), 0);
	t_ok(file_create_atomic_at(f->dfd, "l", "x", 1, 0644, &existed));
	assert_true(existed);
	n = readlink(P(f, "l"), buf, sizeof(buf) - 1);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "nowhere", 7);

	assert_int_equal(mkdir(P(f, "d"), 0755), 0);
	t_ok(file_create_atomic_at(f->dfd, "d", "x", 1, 0644, &existed));
	assert_true(existed);
	assert_dir_is(f->dir, "c d l");
	t_fails(file_create_atomic_at(f->dfd, "c", "x", 1, 0644, NULL), PAWL_E_INVALID);
}

static void test_write_atomic_missing_dir(void **state)
{
	struct fx *f = *state;
	struct stat st;

	t_fails(file_write_atomic(P(f, "nodir/t"), "x", 1, 0644), PAWL_E_NOT_FOUND);
	assert_msg_has(P(f, "nodir/t"));
	assert_int_equal(stat(P(f, "nodir"), &st), -1);
	assert_dir_is(f->dir, "");
	t_fails(file_write_atomic_at(f->dfd, "nodir/t", "x", 1, 0644), PAWL_E_NOT_FOUND);
	assert_dir_is(f->dir, "");
}

static void test_write_atomic_over_dir(void **state)
{
	struct fx *f = *state;
	struct stat st;

	/* rename(2) cannot replace a directory with a file: the write fails,
	 * the directory survives and no temporary file is left. */
	assert_int_equal(mkdir(P(f, "d"), 0755), 0);
	t_fails(file_write_atomic(P(f, "d"), "x", 1, 0644), PAWL_E_IO);
	assert_msg_has(P(f, "d"));
	assert_int_equal(stat(P(f, "d"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_dir_is(f->dir, "d");
}

static void test_write_atomic_replaces_symlink(void **state)
{
	struct fx *f = *state;
	struct stat st;

	/* A link at the target is replaced, never written through. */
	t_write_file(P(f, "victim"), "keep", 4);
	assert_int_equal(symlink(P(f, "victim"), P(f, "t")), 0);
	t_ok(file_write_atomic(P(f, "t"), "new", 3, 0644));
	assert_int_equal(lstat(P(f, "t"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file_is(P(f, "t"), "new");
	assert_file_is(P(f, "victim"), "keep");
}

static void test_write_atomic_invalid(void **state)
{
	struct fx *f = *state;

	t_fails(file_write_atomic(P(f, ""), "x", 1, 0644), PAWL_E_INVALID); /* "dir/" */
	t_fails(file_write_atomic("", "x", 1, 0644), PAWL_E_INVALID);
	t_fails(file_write_atomic_at(f->dfd, "..", "x", 1, 0644), PAWL_E_INVALID);
	t_fails(file_write_atomic_at(f->dfd, "sub/.", "x", 1, 0644), PAWL_E_INVALID);
	t_fails(file_write_atomic_at(f->dfd, "t", NULL, 1, 0644), PAWL_E_INVALID);
	assert_dir_is(f->dir, "");
}

static void test_write_atomic_write_fails(void **state)
{
	struct fx *f = *state;
	char big[8192];
	int r;

	/* The file system refuses the data halfway (EFBIG here; ENOSPC in
	 * life): the old file stays as it was and the temporary goes. */
	memset(big, 'z', sizeof(big));
	t_ok(file_write_atomic(P(f, "t"), "old", 3, 0644));
	fsize_limit(4096);
	r = file_write_atomic(P(f, "t"), big, sizeof(big), 0644);
	fsize_restore();
	t_fails(r, PAWL_E_IO);
	assert_msg_has("cannot write");
	assert_msg_has(P(f, "t"));
	assert_file_is(P(f, "t"), "old");
	assert_dir_is(f->dir, "t");
}

static int write_as_nobody(void *arg)
{
	struct fx *f = arg;

	/* As root, drop to nobody so that permissions apply. */
	if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		return 90;
	if (file_write_atomic(P(f, "ro/t"), "x", 1, 0644) != PAWL_E_IO)
		return 91;
	if (!strstr(pawl_error_last()->message, "temporary"))
		return 92;
	return 0;
}

static void test_write_atomic_create_fails(void **state)
{
	struct fx *f = *state;

	/* No permission to create the temporary file: IO, nothing left. */
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(mkdir(P(f, "ro"), 0555), 0);
	assert_int_equal(chmod(P(f, "ro"), 0555), 0);
	assert_int_equal(in_child(write_as_nobody, f), 0);
	assert_dir_is(P(f, "ro"), "");
}

/* ---------------- removal, directories ---------------- */

static void test_remove(void **state)
{
	struct fx *f = *state;

	t_write_file(P(f, "a"), "x", 1);
	t_ok(file_remove_at(f->dfd, "a"));
	assert_dir_is(f->dir, "");
	t_ok(file_remove_at(f->dfd, "a")); /* absent is fine */
	assert_int_equal(mkdir(P(f, "d"), 0755), 0);
	t_fails(file_remove_at(f->dfd, "d"), PAWL_E_IO);
	assert_msg_has("cannot remove d");
	t_fails(file_remove_at(f->dfd, ""), PAWL_E_INVALID);
	/* A link is removed, not what it points to. */
	t_write_file(P(f, "target"), "x", 1);
	assert_int_equal(symlink("target", P(f, "link")), 0);
	t_ok(file_remove_at(f->dfd, "link"));
	assert_dir_is(f->dir, "d target");
}

static void test_dir_create(void **state)
{
	struct fx *f = *state;
	struct stat st;

	t_ok(dir_create(P(f, "a/b/c"), 0700));
	assert_int_equal(stat(P(f, "a/b/c"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Existing directories, repeated and trailing slashes. */
	t_ok(dir_create(P(f, "a/b/c"), 0700));
	t_ok(dir_create(P(f, "a//b///c/d/"), 0755));
	assert_int_equal(stat(P(f, "a/b/c/d"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	t_ok(dir_create(f->dir, 0755));
	t_ok(dir_create("/", 0755));
	/* A link to a directory on the way is followed, as by mkdir -p. */
	assert_int_equal(symlink("a", P(f, "alink")), 0);
	t_ok(dir_create(P(f, "alink/b/e"), 0755));
	assert_int_equal(stat(P(f, "a/b/e"), &st), 0);
	t_fails(dir_create("", 0755), PAWL_E_INVALID);
}

static void test_dir_create_blocked(void **state)
{
	struct fx *f = *state;

	t_write_file(P(f, "file"), "x", 1);
	/* A file as the last component... */
	t_fails(dir_create(P(f, "file"), 0755), PAWL_E_IO);
	assert_msg_has("not a directory");
	assert_msg_has(P(f, "file"));
	/* ...and in the middle. */
	t_fails(dir_create(P(f, "file/sub/x"), 0755), PAWL_E_IO);
	assert_msg_has(P(f, "file"));
	/* A dangling link is in the way too. */
	assert_int_equal(symlink("/nonexistent/pawl", P(f, "dangling")), 0);
	t_fails(dir_create(P(f, "dangling/x"), 0755), PAWL_E_IO);
	assert_dir_is(f->dir, "dangling file");
	assert_file_is(P(f, "file"), "x");
}

static void test_dir_open(void **state)
{
	struct fx *f = *state;
	int fd = -7, sub = -7;

	t_ok(dir_open(f->dir, &fd));
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	t_ok(fsync_dir(fd));
	assert_int_equal(mkdir(P(f, "sub"), 0755), 0);
	t_ok(dir_open_at(fd, "sub", &sub));
	assert_true(sub >= 0);
	close(sub);
	close(fd);

	fd = -7;
	t_fails(dir_open(P(f, "missing"), &fd), PAWL_E_NOT_FOUND);
	assert_msg_has(P(f, "missing"));
	assert_int_equal(symlink("sub", P(f, "link")), 0);
	t_fails(dir_open(P(f, "link"), &fd), PAWL_E_IO);
	assert_msg_has("symbolic link");
	t_fails(dir_open_at(f->dfd, "link", &fd), PAWL_E_IO);
	t_write_file(P(f, "file"), "x", 1);
	t_fails(dir_open(P(f, "file"), &fd), PAWL_E_IO);
	assert_msg_has(P(f, "file"));
	t_fails(dir_open("", &fd), PAWL_E_INVALID);
	assert_int_equal(fd, -7);

	t_fails(fsync_dir(-1), PAWL_E_IO);
}

static void test_remove_temps(void **state)
{
	struct fx *f = *state;

	/* What a writer killed between create and rename leaves, next to
	 * things that must stay: data, resumable parts, a directory or a
	 * link that merely share the prefix. */
	t_write_file(P(f, STORE_TMP_PREFIX "1-2-3"), "junk", 4);
	t_write_file(P(f, STORE_TMP_PREFIX "4-5-6"), "junk", 4);
	t_write_file(P(f, "root.json"), "{}", 2);
	t_write_file(P(f, "x.part"), "abc", 3);
	assert_int_equal(mkdir(P(f, STORE_TMP_PREFIX "dir"), 0755), 0);
	assert_int_equal(symlink("root.json", P(f, STORE_TMP_PREFIX "link")), 0);
	t_ok(dir_remove_temps(f->dfd));
	assert_dir_is(f->dir, STORE_TMP_PREFIX "dir " STORE_TMP_PREFIX "link root.json x.part");
	t_ok(dir_remove_temps(f->dfd)); /* nothing to do */
	t_fails(dir_remove_temps(-1), PAWL_E_IO);
}

/* ---------------- locking ---------------- */

static int try_lock_once(void *arg)
{
	struct fx *f = arg;
	pawl_lock *l = NULL;
	int r = lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 0);

	lock_release(l);
	if (r == 0)
		return 0;
	return r == PAWL_E_LOCKED ? 10 : 20;
}

static void test_lock_contention(void **state)
{
	struct fx *f = *state;
	pawl_lock *l = NULL;
	struct stat st;

	t_ok(lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 0));
	assert_non_null(l);
	assert_int_equal(stat(P(f, ".lock"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0644 & ~022);
	/* Another process: refused at once with timeout 0. */
	assert_int_equal(in_child(try_lock_once, f), 10);
	lock_release(l);
	assert_int_equal(in_child(try_lock_once, f), 0);
	/* The lock file stays: removing it would split lockers. */
	assert_int_equal(stat(P(f, ".lock"), &st), 0);
	lock_release(NULL);
}

static void test_lock_contention_message(void **state)
{
	struct fx *f = *state;
	_cleanup_lock_ pawl_lock *l = NULL;
	pawl_lock *l2 = (pawl_lock *)0x1;

	/* Two acquisitions in one process contend too (separate opens). */
	t_ok(lock_acquire(&l, f->dfd, "my.lock", 0));
	t_fails(lock_acquire(&l2, f->dfd, "my.lock", 0), PAWL_E_LOCKED);
	assert_ptr_equal(l2, (pawl_lock *)0x1);
	assert_msg_has("my.lock");
}

/* Hold the lock until the parent closes the pipe or ms pass. */
static __attribute__((noreturn)) void hold_lock_child(struct fx *f, int ready_fd, unsigned ms)
{
	pawl_lock *l = NULL;
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	if (lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 0) != 0)
		_exit(30);
	if (write(ready_fd, "r", 1) != 1)
		_exit(31);
	nanosleep(&ts, NULL);
	lock_release(l);
	_exit(0);
}

static pid_t spawn_holder(struct fx *f, unsigned ms)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		hold_lock_child(f, p[1], ms);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1); /* the child holds it now */
	close(p[0]);
	return pid;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_lock_waits(void **state)
{
	struct fx *f = *state;
	pawl_lock *l = NULL;
	double t0, dt;
	pid_t pid;
	int st;

	/* The holder lets go after 300 ms: a 5 s timeout waits for it. */
	pid = spawn_holder(f, 300);
	t0 = now_s();
	t_ok(lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 5));
	dt = now_s() - t0;
	assert_true(dt > 0.1 && dt < 4.0);
	lock_release(l);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* The holder keeps it for 3 s: a 1 s timeout gives up after ~1 s. */
	pid = spawn_holder(f, 3000);
	t0 = now_s();
	l = NULL;
	t_fails(lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 1), PAWL_E_LOCKED);
	dt = now_s() - t0;
	assert_null(l);
	assert_true(dt >= 0.99 && dt < 2.5);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void test_lock_release_with_forked_child(void **state)
{
	struct fx *f = *state;
	pawl_lock *l = NULL;
	pid_t pid;
	int st;

	/* A child forked while the lock is held shares the open file. After
	 * lock_release the lock must be free even though that child still
	 * has the descriptor. */
	t_ok(lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 0));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sleep(30);
		_exit(0);
	}
	lock_release(l);
	assert_int_equal(in_child(try_lock_once, f), 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void test_lock_refuses_odd_files(void **state)
{
	struct fx *f = *state;
	pawl_lock *l = NULL;

	t_write_file(P(f, "victim"), "keep", 4);
	assert_int_equal(symlink("victim", P(f, ".lock")), 0);
	t_fails(lock_acquire(&l, f->dfd, STORE_LOCK_NAME, 0), PAWL_E_IO);
	assert_msg_has("symbolic link");
	assert_int_equal(mkdir(P(f, "dirlock"), 0755), 0);
	t_fails(lock_acquire(&l, f->dfd, "dirlock", 0), PAWL_E_IO);
	assert_int_equal(mkfifo(P(f, "fifolock"), 0644), 0);
	alarm(10);
	t_fails(lock_acquire(&l, f->dfd, "fifolock", 0), PAWL_E_IO);
	alarm(0);
	assert_msg_has("not a regular file");
	t_fails(lock_acquire(&l, f->dfd, "nodir/.lock", 0), PAWL_E_NOT_FOUND);
	t_fails(lock_acquire(&l, f->dfd, "", 0), PAWL_E_INVALID);
	assert_null(l);
	assert_file_is(P(f, "victim"), "keep");
}

/* ---------------- names ---------------- */

static const char *enc(pawl_buf *b, const char *name, size_t len)
{
	buf_reset(b);
	t_ok(name_to_filename(b, name, len));
	return b->data;
}

static void test_name_examples(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(4096);
	static const struct {
		const char *in, *out;
	} ex[] = {
		{ "root", "root" },
		{ "targets.json", "targets.json" },
		{ "a-b_c.9", "a-b_c.9" },
		{ "a/b", "a%2Fb" },
		{ "..", "%2E." },
		{ ".", "%2E" },
		{ ".hidden", "%2Ehidden" },
		{ "../x", "%2E.%2Fx" },
		{ "../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd" },
		{ "with space", "with%20space" },
		{ "%", "%25" },
		{ "%2F", "%252F" },
		{ "?#", "%3F%23" },
		{ "\xc3\xbc" "n\xc3\xaf", "%C3%BCn%C3%AF" }, /* "ünï" */
		{ "a\\b", "a%5Cb" },
		{ "\x7f\xff", "%7F%FF" },
		{ "Root", "Root" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ex); i++)
		assert_string_equal(enc(&b, ex[i].in, strlen(ex[i].in)), ex[i].out);
	/* Embedded NUL and a control byte (the length is explicit). */
	assert_string_equal(enc(&b, "a\0b\n", 4), "a%00b%0A");

	/* Appends to what is in the buffer, so callers can add a prefix. */
	buf_reset(&b);
	t_ok(buf_puts(&b, "3."));
	t_ok(name_to_filename(&b, "a/b", 3));
	t_ok(buf_puts(&b, ".json"));
	assert_string_equal(b.data, "3.a%2Fb.json");
	buf_free(&b);
}

static void test_name_limits(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(4096);
	pawl_buf small = PAWL_BUF_INIT(4);
	char name[300];

	(void)state;
	memset(name, 'a', sizeof(name));
	t_ok(buf_puts(&b, "keep"));
	t_fails(name_to_filename(&b, name, 300), PAWL_E_LIMIT);
	assert_string_equal(b.data, "keep"); /* untouched on error */
	assert_int_equal(b.len, 4);
	/* The limit is on the encoded length: 255 plain bytes fit... */
	assert_int_equal(strlen(enc(&b, name, NAME_ENC_MAX)), NAME_ENC_MAX);
	t_fails(name_to_filename(&b, name, NAME_ENC_MAX + 1), PAWL_E_LIMIT);
	/* ...and 85 escaped bytes (255) fit, 86 do not. */
	memset(name, '/', sizeof(name));
	assert_int_equal(strlen(enc(&b, name, 85)), 255);
	t_fails(name_to_filename(&b, name, 86), PAWL_E_LIMIT);
	/* Empty names have no file name. */
	t_fails(name_to_filename(&b, "", 0), PAWL_E_INVALID);
	t_fails(name_to_filename(&b, NULL, 0), PAWL_E_INVALID);
	/* The output buffer's own maximum holds too, leaving it untouched. */
	t_fails(name_to_filename(&small, "abcde", 5), PAWL_E_LIMIT);
	assert_int_equal(small.len, 0);
	t_ok(name_to_filename(&small, "a/", 2));
	assert_string_equal(small.data, "a%2F");
	buf_free(&small);
	buf_free(&b);
}

static void check_safe(const char *fn, size_t len)
{
	assert_true(len > 0 && len <= NAME_ENC_MAX);
	assert_int_equal(strlen(fn), len); /* no NUL inside */
	assert_null(strchr(fn, '/'));
	assert_true(fn[0] != '.');
	assert_true(strcmp(fn, ".") != 0 && strcmp(fn, "..") != 0);
}

static void check_roundtrip(pawl_buf *e, pawl_buf *d, const char *name, size_t len)
{
	buf_reset(e);
	buf_reset(d);
	t_ok(name_to_filename(e, name, len));
	check_safe(e->data, e->len);
	t_ok(filename_to_name(d, e->data, e->len));
	assert_int_equal(d->len, len);
	assert_memory_equal(d->data, name, len);
}

static void test_name_injective(void **state)
{
	static const char *tricky[] = {
		"a", "A", ".a", "%2Ea", "%2ea", "a.", "a..", "..a", "a/b", "a%2Fb", "a%2fb",
		"a b", "a+b", "a%20b", "/", "//", "./", "/.", "%", "%%", "%25", "-", "_",
		"~", "\xc3\xbc", "u\xcc\x88", /* ü precomposed and decomposed */
		"\x80", "%80", "a\xff", ".", "..", "...", "%2E", "%2E.", "root", "root.json",
		"Root", "ROOT", "\\", "a\\b", "a:b", "*", "?", "#", "\t", "\n",
	};
	const size_t n = ARRAY_SIZE(tricky);
	char out[ARRAY_SIZE(tricky)][NAME_ENC_MAX + 1];
	pawl_buf e = PAWL_BUF_INIT(1024), d = PAWL_BUF_INIT(1024);
	unsigned char two[2];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		check_roundtrip(&e, &d, tricky[i], strlen(tricky[i]));
		memcpy(out[i], e.data, e.len + 1);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(out[i], out[j]) == 0)
				fail_msg("\"%s\" and \"%s\" both encode to %s", tricky[i],
					 tricky[j], out[i]);
	/* Every name of one and two bytes: decode(encode(x)) == x, which
	 * makes the encoding injective over all of them. */
	for (unsigned a = 0; a < 256; a++) {
		two[0] = (unsigned char)a;
		check_roundtrip(&e, &d, (const char *)two, 1);
		for (unsigned b = 0; b < 256; b++) {
			two[1] = (unsigned char)b;
			check_roundtrip(&e, &d, (const char *)two, 2);
		}
	}
	buf_free(&e);
	buf_free(&d);
}

static void test_name_decode_rejects(void **state)
{
	static const char *bad[] = {
		"%2f",   /* lower-case hex: not what the encoder writes */
		"%41",   /* 'A' needs no escape */
		"a%2E",  /* '.' needs an escape only in front */
		"a/b",   /* '/' must be escaped */
		".x",    /* a leading '.' must be escaped */
		"a b", "%", "%4", "a%2", "%G0", "%-1", "\xc3\xbc",
	};
	pawl_buf d = PAWL_BUF_INIT(1024);

	(void)state;
	t_ok(buf_puts(&d, "keep"));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		t_fails(filename_to_name(&d, bad[i], strlen(bad[i])), PAWL_E_FORMAT);
		assert_string_equal(d.data, "keep");
	}
	t_fails(filename_to_name(&d, "", 0), PAWL_E_FORMAT);
	buf_free(&d);
}

/* ---------------- staging ---------------- */

static void test_staged_commit(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = NULL;
	uint64_t existing = 99;
	char back[16];

	t_ok(staged_open(&s, f->dfd, "t", false, &existing));
	assert_int_equal(existing, 0);
	assert_dir_is(f->dir, "t.part");
	t_ok(staged_write(s, "hello ", 6));
	t_ok(staged_write(s, NULL, 0));
	t_ok(staged_write(s, "world", 5));
	assert_int_equal(staged_size(s), 11);
	/* Re-readable before commit (for hashing). */
	assert_int_equal(pread(staged_fd(s), back, sizeof(back), 0), 11);
	assert_memory_equal(back, "hello world", 11);
	assert_true(fcntl(staged_fd(s), F_GETFD) & FD_CLOEXEC);
	t_ok(staged_commit(s, f->dfd, "t"));
	assert_file_is(P(f, "t"), "hello world");
	assert_dir_is(f->dir, "t");

	/* Committing replaces an existing file. */
	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	t_ok(staged_write(s, "v2", 2));
	t_ok(staged_commit(s, f->dfd, "t"));
	assert_file_is(P(f, "t"), "v2");
	assert_dir_is(f->dir, "t");
}

static void test_staged_commit_elsewhere(void **state)
{
	struct fx *f = *state;
	_cleanup_staged_ pawl_staged *s = NULL;
	int dst = -1;

	/* Staging in one directory, committing into another with its own
	 * descriptor, and the caller's descriptor closed in between. */
	assert_int_equal(mkdir(P(f, "staging"), 0700), 0);
	assert_int_equal(mkdir(P(f, "targets"), 0755), 0);
	{
		int sd;

		t_ok(dir_open(P(f, "staging"), &sd));
		t_ok(staged_open(&s, sd, "file.bin", false, NULL));
		close(sd);
	}
	t_ok(staged_write(s, "payload", 7));
	t_ok(dir_open(P(f, "targets"), &dst));
	t_ok(staged_commit(TAKE_PTR(s), dst, "file.bin"));
	close(dst);
	assert_file_is(P(f, "targets/file.bin"), "payload");
	assert_dir_is(P(f, "staging"), "");

	/* A name with a directory part, staged and committed. */
	t_ok(staged_open(&s, f->dfd, "staging/x", false, NULL));
	assert_dir_is(P(f, "staging"), "x.part");
	t_ok(staged_write(s, "x", 1));
	t_ok(staged_commit(TAKE_PTR(s), f->dfd, "targets/x"));
	assert_file_is(P(f, "targets/x"), "x");
	assert_dir_is(P(f, "staging"), "");
}

static void test_staged_commit_fails(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = NULL;
	struct stat st;
	char big[8192];
	int r;

	/* The destination is a directory: the rename fails, the .part goes,
	 * the directory stays. */
	assert_int_equal(mkdir(P(f, "d"), 0755), 0);
	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	t_ok(staged_write(s, "x", 1));
	t_fails(staged_commit(s, f->dfd, "d"), PAWL_E_IO);
	assert_msg_has("t.part");
	assert_int_equal(stat(P(f, "d"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_dir_is(f->dir, "d");

	/* The destination's directory is missing. */
	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	t_fails(staged_commit(s, f->dfd, "nodir/t"), PAWL_E_NOT_FOUND);
	assert_dir_is(f->dir, "d");

	/* A write failed part way: the commit refuses the partial file. */
	memset(big, 'z', sizeof(big));
	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	fsize_limit(4096);
	r = staged_write(s, big, sizeof(big));
	fsize_restore();
	t_fails(r, PAWL_E_IO);
	assert_msg_has("t.part");
	t_fails(staged_write(s, "x", 1), PAWL_E_IO);
	assert_msg_has("earlier write failed");
	t_fails(staged_commit(s, f->dfd, "t"), PAWL_E_IO);
	assert_dir_is(f->dir, "d");

	t_fails(staged_commit(NULL, f->dfd, "t"), PAWL_E_INVALID);
}

static void test_staged_resume(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = NULL;
	uint64_t existing = 0;

	/* What an interrupted download leaves. */
	t_write_file(P(f, "t.part"), "abc", 3);
	t_ok(staged_open(&s, f->dfd, "t", true, &existing));
	assert_int_equal(existing, 3);
	assert_int_equal(staged_size(s), 3);
	/* Writes append even after the caller moved the offset to hash. */
	assert_int_equal(lseek(staged_fd(s), 0, SEEK_SET), 0);
	t_ok(staged_write(s, "def", 3));
	assert_int_equal(staged_size(s), 6);
	t_ok(staged_commit(s, f->dfd, "t"));
	assert_file_is(P(f, "t"), "abcdef");

	/* Resume with nothing to resume starts empty. */
	existing = 99;
	t_ok(staged_open(&s, f->dfd, "u", true, &existing));
	assert_int_equal(existing, 0);
	staged_discard(s);

	/* Without resume an old part is thrown away, not appended to. */
	t_write_file(P(f, "t.part"), "stale", 5);
	existing = 99;
	t_ok(staged_open(&s, f->dfd, "t", false, &existing));
	assert_int_equal(existing, 0);
	t_ok(staged_write(s, "fresh", 5));
	t_ok(staged_commit(s, f->dfd, "t"));
	assert_file_is(P(f, "t"), "fresh");
	assert_dir_is(f->dir, "t");
}

/* Reserving keeps the size (a resume still sees only the bytes written)
 * and allocates the blocks; a length no file system can hold fails with
 * a message naming the file, and the staged file stays usable. */
static void test_staged_reserve(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = NULL;
	struct stat st;

	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	t_ok(staged_write(s, "abc", 3));
	t_ok(staged_reserve(s, (uint64_t)4 << 20));
	assert_int_equal(fstat(staged_fd(s), &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(staged_size(s), 3);
	/* Where the file system can reserve (ext4, xfs, tmpfs), the blocks
	 * are there now; elsewhere staged_reserve is a no-op by design. */
	if (st.st_blocks < 8)
		print_message("note: %s cannot reserve blocks; checked the size only\n", f->dir);
	else
		assert_true((uint64_t)st.st_blocks * 512 >= (uint64_t)4 << 20);
	/* Nothing to reserve below the current size. */
	t_ok(staged_reserve(s, 2));
	t_fails(staged_reserve(s, (uint64_t)1 << 62), PAWL_E_IO);
	assert_msg_has("no room for");
	assert_msg_has("t.part");
	t_fails(staged_reserve(s, UINT64_MAX), PAWL_E_LIMIT);
	t_ok(staged_write(s, "def", 3));
	t_ok(staged_commit(s, f->dfd, "t"));
	assert_file_is(P(f, "t"), "abcdef");
}

/* A large file staged in odd-sized pieces comes out byte for byte, both
 * where the kernel writes it uncached (RWF_DONTCACHE: ext4 on Linux 6.14
 * and later) and where pawl starts writeback and drops pages itself
 * (older kernels, tmpfs). */
static void staged_large_in(const char *dir)
{
	const size_t n = ((size_t)20 << 20) + 4321;
	char *data = malloc(n);
	char path[1024];
	pawl_staged *s = NULL;
	size_t len, off = 0, step = 1;
	char *back;
	int dfd;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 131 + (i >> 12));
	t_ok(dir_open(dir, &dfd));
	t_ok(staged_open(&s, dfd, "big", false, NULL));
	while (off < n) {
		size_t k = step < n - off ? step : n - off;

		t_ok(staged_write(s, data + off, k));
		off += k;
		step = step * 3 + 7; /* 1, 10, 37 ... up to megabytes */
		if (step > ((size_t)3 << 20))
			step = 4097;
	}
	assert_int_equal(staged_size(s), n);
	t_ok(staged_commit(s, dfd, "big"));
	close(dfd);
	snprintf(path, sizeof(path), "%s/big", dir);
	back = t_read_file(path, &len);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);
	unlink(path);
	free(back);
	free(data);
}

static void test_staged_large(void **state)
{
	struct fx *f = *state;
	char shm[] = "/dev/shm/pawl-test-XXXXXX";

	staged_large_in(f->dir);
	if (mkdtemp(shm)) {
		staged_large_in(shm);
		rmdir(shm);
	} else {
		print_message("note: no /dev/shm; checked %s only\n", f->dir);
	}
}

static void test_staged_discard(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = NULL;

	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	t_ok(staged_write(s, "abc", 3));
	assert_dir_is(f->dir, "t.part");
	staged_discard(s);
	assert_dir_is(f->dir, "");
	staged_discard(NULL);
	assert_int_equal(staged_fd(NULL), -1);

	/* The cleanup attribute discards on scope exit. */
	{
		_cleanup_staged_ pawl_staged *c = NULL;

		t_ok(staged_open(&c, f->dfd, "t", false, NULL));
		assert_dir_is(f->dir, "t.part");
	}
	assert_dir_is(f->dir, "");
}

static void test_staged_refuses_symlink(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = (pawl_staged *)0x1;
	uint64_t existing = 99;
	struct stat st;

	/* A link planted at the .part is never written through. Resuming
	 * refuses it... */
	t_write_file(P(f, "victim"), "keep", 4);
	assert_int_equal(symlink(P(f, "victim"), P(f, "t.part")), 0);
	t_fails(staged_open(&s, f->dfd, "t", true, &existing), PAWL_E_IO);
	assert_msg_has("t.part");
	assert_msg_has("symbolic link");
	assert_ptr_equal(s, (pawl_staged *)0x1);
	assert_int_equal(existing, 99);
	/* ...a fresh start removes the link itself and creates a new file. */
	t_ok(staged_open(&s, f->dfd, "t", false, NULL));
	assert_int_equal(lstat(P(f, "t.part"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	t_ok(staged_write(s, "new", 3));
	t_ok(staged_commit(s, f->dfd, "t"));
	assert_file_is(P(f, "victim"), "keep");
	assert_file_is(P(f, "t"), "new");
}

static void test_staged_refuses_odd_parts(void **state)
{
	struct fx *f = *state;
	pawl_staged *s = NULL;

	/* A FIFO: refused without blocking. */
	assert_int_equal(mkfifo(P(f, "f.part"), 0644), 0);
	alarm(10);
	t_fails(staged_open(&s, f->dfd, "f", true, NULL), PAWL_E_IO);
	alarm(0);
	assert_msg_has("not a regular file");
	/* A hard link to a file elsewhere: appending would change it. */
	t_write_file(P(f, "victim"), "keep", 4);
	assert_int_equal(link(P(f, "victim"), P(f, "h.part")), 0);
	t_fails(staged_open(&s, f->dfd, "h", true, NULL), PAWL_E_IO);
	assert_msg_has("links");
	/* A directory: neither resumed nor removed. */
	assert_int_equal(mkdir(P(f, "d.part"), 0755), 0);
	t_fails(staged_open(&s, f->dfd, "d", true, NULL), PAWL_E_IO);
	t_fails(staged_open(&s, f->dfd, "d", false, NULL), PAWL_E_IO);
	/* Missing directory, bad names. */
	t_fails(staged_open(&s, f->dfd, "nodir/x", false, NULL), PAWL_E_NOT_FOUND);
	t_fails(staged_open(&s, f->dfd, "", false, NULL), PAWL_E_INVALID);
	t_fails(staged_open(&s, f->dfd, "x/", false, NULL), PAWL_E_INVALID);
	assert_null(s);
	assert_file_is(P(f, "victim"), "keep");
	assert_dir_is(f->dir, "d.part f.part h.part victim");
}

/* ---------------- crash safety ---------------- */

#define CRASH_ITERATIONS 50

/*
 * A writer replacing a file again and again is SIGKILLed at a random
 * moment; the file must then hold one complete version, never a mix or a
 * truncation. (SIGKILL tests atomicity against the process dying; the
 * page cache survives it, so power-loss durability rests on the fsyncs,
 * which this cannot observe.)
 */
static void test_crash_safety(void **state)
{
	struct fx *f = *state;
	const size_t na = 48 * 1024, nb = 80 * 1024;
	char *a = malloc(na), *b = malloc(nb);
	const unsigned seed0 = (unsigned)time(NULL) ^ (unsigned)getpid();
	unsigned seed = seed0;
	unsigned seen_a = 0, seen_b = 0, leftovers = 0;

	assert_non_null(a);
	assert_non_null(b);
	memset(a, 'A', na);
	memset(b, 'B', nb);
	print_message("crash test seed %u\n", seed0);
	t_ok(file_write_atomic(P(f, "t"), a, na, 0644));

	for (int i = 0; i < CRASH_ITERATIONS; i++) {
		struct timespec ts = { 0, 0 };
		int p[2], st;
		char c;
		pid_t pid;
		char *got;
		size_t len;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			if (write(p[1], "r", 1) != 1)
				_exit(41);
			for (unsigned k = 0;; k++)
				if (file_write_atomic(P(f, "t"), k & 1 ? a : b, k & 1 ? na : nb,
						      0644) != 0)
					_exit(40);
		}
		close(p[1]);
		assert_int_equal(read(p[0], &c, 1), 1);
		close(p[0]);
		ts.tv_nsec = (long)(rand_r(&seed) % 8000) * 1000L; /* 0-8 ms */
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st))
			fail_msg("writer exited with %d before it was killed",
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);

		t_ok(file_read_all(P(f, "t"), nb, &got, &len));
		if (len == na && memcmp(got, a, na) == 0)
			seen_a++;
		else if (len == nb && memcmp(got, b, nb) == 0)
			seen_b++;
		else
			fail_msg("iteration %d (seed %u): torn file of %zu bytes", i, seed0, len);
		free(got);

		/* The killed writer may have left its temporary file. */
		{
			char names[4096];

			list_dir(f->dir, names, sizeof(names));
			if (strcmp(names, "t") != 0)
				leftovers++;
		}
		t_ok(dir_remove_temps(f->dfd));
		assert_dir_is(f->dir, "t");
	}
	print_message("crash test: %u old-A, %u B, %u runs left a temporary file\n", seen_a,
		      seen_b, leftovers);
	/* The writer must have completed replacements, or this proved
	 * nothing about them. */
	assert_true(seen_b > 0);
	free(a);
	free(b);
}

/* ---------------- hostile directories ---------------- */

/* A tree as a less privileged user would leave it: d/sub/f ("mine"),
 * everything owned by the test's own uid. */
static void owned_tree(struct fx *f)
{
	assert_int_equal(mkdir(P(f, "d"), 0755), 0);
	assert_int_equal(mkdir(P(f, "d/sub"), 0755), 0);
	t_write_file(P(f, "d/sub/f"), "mine", 4);
	/* What a link must never reach: a file with a distinctive content. */
	t_write_file(P(f, "secret"), "TOP-SECRET-CONTENT", 18);
}

/* The refusal message names the path and the rule, never what was found
 * at the other end of a link (its content or its size). */
static void assert_discloses_nothing(void)
{
	const char *m = pawl_error_last()->message;

	if (strstr(m, "TOP-SECRET") || strstr(m, "18"))
		fail_msg("error message \"%s\" tells about the linked file", m);
}

static void test_owned_opens_own_file(void **state)
{
	struct fx *f = *state;
	int fd = -1;
	char *data = NULL;
	size_t len;

	owned_tree(f);
	t_ok(file_open_owned_at(f->dfd, "d/sub/f", getuid(), &fd));
	t_ok(file_read_fd(fd, "f", 100, &data, &len));
	assert_int_equal(len, 4);
	assert_memory_equal(data, "mine", 4);
	free(data);
	/* O_NONBLOCK is gone once it is known to be a regular file. */
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	t_ok(dir_open_owned_at(f->dfd, "d/sub", getuid(), &fd));
	close(fd);
	t_ok(dir_open_owned_at(f->dfd, "d", getuid(), &fd));
	close(fd);
	/* A single component lives in dirfd itself. */
	fd = -1;
	t_ok(file_open_owned_at(f->dfd, "secret", getuid(), &fd));
	close(fd);
}

static void test_owned_refuses_symlinks(void **state)
{
	struct fx *f = *state;
	int fd = -7;

	owned_tree(f);
	/* The file itself swapped for a link (to a file the same user owns,
	 * even: a link is refused whatever it points at). */
	assert_int_equal(symlink(P(f, "secret"), P(f, "d/sub/link")), 0);
	t_fails(file_open_owned_at(f->dfd, "d/sub/link", getuid(), &fd), PAWL_E_IO);
	assert_msg_has("d/sub/link: refused: a symbolic link");
	assert_discloses_nothing();
	assert_int_equal(fd, -7);
	/* A directory on the way swapped for a link. */
	assert_int_equal(symlink(P(f, "d/sub"), P(f, "d/dlink")), 0);
	t_fails(file_open_owned_at(f->dfd, "d/dlink/f", getuid(), &fd), PAWL_E_IO);
	assert_msg_has("d/dlink/f: refused: a symbolic link is on the way");
	t_fails(dir_open_owned_at(f->dfd, "d/dlink", getuid(), &fd), PAWL_E_IO);
	assert_msg_has("refused");
	/* A relative link is no better. */
	assert_int_equal(symlink("../../secret", P(f, "d/sub/rel")), 0);
	t_fails(file_open_owned_at(f->dfd, "d/sub/rel", getuid(), &fd), PAWL_E_IO);
	assert_discloses_nothing();
	assert_int_equal(fd, -7);
}

static void test_owned_refuses_other_kinds(void **state)
{
	struct fx *f = *state;
	int fd = -7;

	owned_tree(f);
	/* A FIFO is refused without being opened (the call does not block). */
	assert_int_equal(mkfifo(P(f, "d/fifo"), 0644), 0);
	t_fails(file_open_owned_at(f->dfd, "d/fifo", getuid(), &fd), PAWL_E_IO);
	assert_msg_has("not a regular file");
	/* A directory where a file is expected, and the other way round. */
	t_fails(file_open_owned_at(f->dfd, "d/sub", getuid(), &fd), PAWL_E_IO);
	assert_msg_has("not a regular file");
	t_fails(dir_open_owned_at(f->dfd, "d/sub/f", getuid(), &fd), PAWL_E_IO);
	t_fails(file_open_owned_at(f->dfd, "d/sub/f/x", getuid(), &fd), PAWL_E_IO);
	/* A hard link (to any file) has two links: refused. */
	assert_int_equal(link(P(f, "secret"), P(f, "d/hard")), 0);
	t_fails(file_open_owned_at(f->dfd, "d/hard", getuid(), &fd), PAWL_E_IO);
	assert_msg_has("one link");
	assert_discloses_nothing();
	assert_int_equal(fd, -7);
}

static void test_owned_refuses_wrong_owner(void **state)
{
	struct fx *f = *state;
	uid_t other = getuid() + 1;
	int fd = -7;

	owned_tree(f);
	/* Everything here is the test's; asked for another user's, each
	 * level is refused: the file, a directory on the way, the last one. */
	t_fails(file_open_owned_at(f->dfd, "secret", other, &fd), PAWL_E_IO);
	assert_msg_has("owned by the expected user");
	assert_discloses_nothing();
	t_fails(file_open_owned_at(f->dfd, "d/sub/f", other, &fd), PAWL_E_IO);
	assert_msg_has("a directory on the way is not owned");
	t_fails(dir_open_owned_at(f->dfd, "d", other, &fd), PAWL_E_IO);
	assert_int_equal(fd, -7);
	if (geteuid() == 0) {
		/* As root: nobody's file inside nobody's directories opens for
		 * nobody, and root's own file among them does not. */
		assert_int_equal(chown(P(f, "d"), 65534, 65534), 0);
		assert_int_equal(chown(P(f, "d/sub"), 65534, 65534), 0);
		assert_int_equal(chown(P(f, "d/sub/f"), 65534, 65534), 0);
		t_write_file(P(f, "d/sub/roots"), "root", 4);
		t_ok(file_open_owned_at(f->dfd, "d/sub/f", 65534, &fd));
		close(fd);
		fd = -7;
		t_fails(file_open_owned_at(f->dfd, "d/sub/roots", 65534, &fd), PAWL_E_IO);
		assert_msg_has("owned by the expected user");
		assert_int_equal(fd, -7);
	}
}

static void test_owned_refuses_odd_paths(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "", "/etc/passwd", "d/../secret", "d//sub/f", "./d",
					   "d/sub/", "d/./sub/f", ".." };
	int fd = -7;

	owned_tree(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_fails(file_open_owned_at(f->dfd, bad[i], getuid(), &fd), PAWL_E_INVALID);
		t_fails(dir_open_owned_at(f->dfd, bad[i], getuid(), &fd), PAWL_E_INVALID);
	}
	t_fails(file_open_owned_at(f->dfd, "d/nope", getuid(), &fd), PAWL_E_NOT_FOUND);
	t_fails(file_open_owned_at(f->dfd, "nope/f", getuid(), &fd), PAWL_E_NOT_FOUND);
	assert_int_equal(fd, -7);
}

static void test_create_at(void **state)
{
	struct fx *f = *state;
	char *data = NULL;
	size_t len;
	int fd;

	t_ok(file_create_at(f->dfd, "new", "abc", 3, 0600));
	assert_file_is(P(f, "new"), "abc");
	/* Never over anything: a file, or a link (not followed). */
	t_fails(file_create_at(f->dfd, "new", "x", 1, 0600), PAWL_E_IO);
	assert_file_is(P(f, "new"), "abc");
	t_write_file(P(f, "victim"), "keep", 4);
	assert_int_equal(symlink(P(f, "victim"), P(f, "link")), 0);
	t_fails(file_create_at(f->dfd, "link", "x", 1, 0600), PAWL_E_IO);
	assert_file_is(P(f, "victim"), "keep");
	/* file_read_fd keeps to its bound. */
	fd = open(P(f, "victim"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	t_fails(file_read_fd(fd, "victim", 3, &data, &len), PAWL_E_LIMIT);
	assert_null(data);
	close(fd);
}

static void test_dir_walk(void **state)
{
	struct fx *f = *state;
	struct stat st;
	int fd = -7;

	/* mkdir -p relative to a descriptor; existing directories are fine. */
	t_ok(dir_walk_at(f->dfd, "a/b/c", true, 0755, &fd));
	assert_true(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
	close(fd);
	assert_int_equal(stat(P(f, "a/b/c"), &st), 0);
	t_ok(dir_walk_at(f->dfd, "a/b", false, 0, &fd));
	close(fd);
	fd = -7;
	t_fails(dir_walk_at(f->dfd, "a/x", false, 0, &fd), PAWL_E_NOT_FOUND);
	/* A link at any level is refused, and nothing is made through it. */
	assert_int_equal(mkdir(P(f, "victim"), 0755), 0);
	assert_int_equal(symlink(P(f, "victim"), P(f, "a/l")), 0);
	t_fails(dir_walk_at(f->dfd, "a/l/new", true, 0755, &fd), PAWL_E_IO);
	assert_msg_has("a/l/new: refused: a symbolic link is on the way");
	t_fails(dir_walk_at(f->dfd, "a/l", true, 0755, &fd), PAWL_E_IO);
	assert_dir_is(P(f, "victim"), "");
	/* A file in the way. */
	t_write_file(P(f, "a/file"), "x", 1);
	t_fails(dir_walk_at(f->dfd, "a/file/new", true, 0755, &fd), PAWL_E_IO);
	t_fails(dir_walk_at(f->dfd, "a/../victim", true, 0755, &fd), PAWL_E_INVALID);
	assert_int_equal(fd, -7);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_ok),
		T(test_read_large),
		T(test_read_limit),
		T(test_read_ignores_st_size),
		T(test_read_missing),
		T(test_read_refuses_symlink),
		T(test_read_refuses_dir),
		T(test_read_refuses_fifo),
		T(test_write_atomic),
		T(test_create_atomic),
		T(test_write_atomic_missing_dir),
		T(test_write_atomic_over_dir),
		T(test_write_atomic_replaces_symlink),
		T(test_write_atomic_invalid),
		T(test_write_atomic_write_fails),
		T(test_write_atomic_create_fails),
		T(test_remove),
		T(test_dir_create),
		T(test_dir_create_blocked),
		T(test_dir_open),
		T(test_remove_temps),
		T(test_lock_contention),
		T(test_lock_contention_message),
		T(test_lock_waits),
		T(test_lock_release_with_forked_child),
		T(test_lock_refuses_odd_files),
		T(test_name_examples),
		T(test_name_limits),
		T(test_name_injective),
		T(test_name_decode_rejects),
		T(test_staged_commit),
		T(test_staged_commit_elsewhere),
		T(test_staged_commit_fails),
		T(test_staged_resume),
		T(test_staged_reserve),
		T(test_staged_large),
		T(test_staged_discard),
		T(test_staged_refuses_symlink),
		T(test_staged_refuses_odd_parts),
		T(test_crash_safety),
		T(test_owned_opens_own_file),
		T(test_owned_refuses_symlinks),
		T(test_owned_refuses_other_kinds),
		T(test_owned_refuses_wrong_owner),
		T(test_owned_refuses_odd_paths),
		T(test_create_at),
		T(test_dir_walk),
	};
#undef T
	/* Modes in the tests assume the usual umask. */
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * lock.c - an exclusive advisory lock on a file in a directory. See
 * store.h.
 *
 * Waiting polls flock(LOCK_NB) with a growing sleep instead of blocking in
 * flock(): a library must not install signal handlers or alarms to
 * interrupt a blocking call.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store-internal.h"
#include "store/store.h"

#define NSEC 1000000000ULL
#define POLL_FIRST_NS 1000000ULL  /* 1 ms */
#define POLL_MAX_NS 100000000ULL  /* 100 ms */

struct pawl_lock {
	int fd;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; 0 would only end the wait
	 * early, never extend it. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NSEC), (long)(ns % NSEC) };

	/* EINTR just means an earlier retry; the caller re-checks the time. */
	(void)nanosleep(&ts, NULL);
}

int lock_acquire(pawl_lock **ret, int dirfd, const char *name, unsigned timeout_s)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t start, deadline, delay = POLL_FIRST_NS;
	pawl_lock *l;

	ENSURE(ret, PAWL_E_INVALID, "no output for lock");
	ENSURE(name && *name, PAWL_E_INVALID, "empty lock file name");
	/* O_RDWR, not O_RDONLY: flock on NFS is emulated with fcntl locks,
	 * which need write access for an exclusive lock. O_NONBLOCK keeps a
	 * FIFO planted at the name from blocking the open. */
	do
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
			    0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return store_open_error(errno, "cannot open lock file", name);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat lock file %s", name);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "lock file %s is not a regular file", name);

	start = mono_ns();
	/* unsigned seconds times 1e9 fits in 64 bits; the sum saturates. */
	if (__builtin_add_overflow(start, (uint64_t)timeout_s * NSEC, &deadline))
		deadline = UINT64_MAX;
	for (;;) {
		uint64_t now;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot lock %s", name);
		now = mono_ns();
		if (now >= deadline)
			return pawl_error_set(PAWL_E_LOCKED,
					      "%s is locked by another process (waited %u s)", name,
					      timeout_s);
		sleep_ns(delay < deadline - now ? delay : deadline - now);
		if (delay < POLL_MAX_NS)
			delay *= 2;
	}

	l = xmalloc(sizeof(*l));
	if (!l)
		return PAWL_E_NOMEM;
	l->fd = TAKE_FD(fd);
	*ret = l;
	return 0;
}

void lock_release(pawl_lock *l)
{
	if (!l)
		return;
	/* Unlock explicitly: a child forked while the lock was held shares
	 * the open file, and closing only our descriptor would leave the
	 * lock held until the child exits or execs (O_CLOEXEC). */
	(void)flock(l->fd, LOCK_UN);
	closep(&l->fd);
	free(l);
}

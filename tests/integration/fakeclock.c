/*
 * fakeclock.c - a test-only LD_PRELOAD library that moves the wall clock of
 * an unmodified program by a fixed number of seconds.
 *
 * Why not libfaketime: under AddressSanitizer, libfaketime deadlocks the
 * program before main(). ASan's allocator reads the clock during its own
 * start-up, libfaketime's clock_gettime() resolves the real function with
 * dlsym(), dlsym() calls malloc(), and malloc() is ASan's, which is not
 * ready yet: "Unexpected recursive calls to clock_gettime() without proper
 * initialization", then a hang. This library never calls dlsym(), malloc()
 * or anything else that could come back into the sanitizer runtime: it
 * reads the kernel's clock with a raw system call and adds the offset.
 *
 * The production programs have no clock override of their own and never
 * load this file; only the test harness (e2e.c, tests that use
 * fakeclock.sh) preloads it, exactly as it used to preload libfaketime.
 *
 * Environment: PAWL_FAKECLOCK_OFFSET, a signed number of seconds added to
 * CLOCK_REALTIME (and to time() and gettimeofday(), which glibc answers
 * from the vDSO without going through clock_gettime()). Monotonic and CPU
 * clocks are left alone: timeouts and progress keep working.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Parsed once, by hand: strtoll may be fine, but this runs before the C
 * library has necessarily finished starting, so keep to plain loads. */
static int64_t offset(void)
{
	static volatile int done;
	static volatile int64_t off;
	const char *s;
	int64_t v = 0;
	int neg = 0;

	if (done)
		return off;
	s = getenv("PAWL_FAKECLOCK_OFFSET");
	if (s) {
		if (*s == '-' || *s == '+')
			neg = *s++ == '-';
		while (*s >= '0' && *s <= '9' && v < INT64_MAX / 20)
			v = v * 10 + (*s++ - '0');
		if (*s != '\0')
			v = 0; /* malformed: no offset rather than a wrong one */
	}
	off = neg ? -v : v;
	done = 1;
	return off;
}

static int real_clock_gettime(clockid_t id, struct timespec *ts)
{
	return (int)syscall(SYS_clock_gettime, id, ts);
}

static int is_wall(clockid_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = real_clock_gettime(id, ts);

	if (rc == 0 && is_wall(id))
		ts->tv_sec += (time_t)offset();
	return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
	return 0;
}

time_t time(time_t *out)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t)-1;
	if (out)
		*out = ts.tv_sec;
	return ts.tv_sec;
}

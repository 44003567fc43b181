/*
 * hostile_racer.c - the fetcher account, turned against the root side
 * (issue 15, section 1; run by test_privsep_race.sh as `nobody`).
 *
 *   hostile_racer SECONDS TOP TARGET...
 *
 * For SECONDS at most (or until SIGTERM), in a tight loop: every entry
 * that is not a directory, in every directory under TOP that this
 * process's user owns, is replaced by a symbolic link to one of the
 * TARGETs in turn (symlinkat to a temporary name, then renameat over the
 * entry, so the swap is atomic). New entries are caught the moment they
 * appear, through inotify, and the whole tree is walked again between
 * events. Every 32 walks one owned directory is also swapped for a
 * symbolic link to the directory of a TARGET for a moment, then put back.
 *
 * A racer that swaps everything all the time only ever stops the fetcher
 * at its first file, and the root side never gets to read anything. So
 * it works in windows of 5 to 60 ms, chosen at random, in three modes:
 * "all" as above; "mirror", where only TOP/mirror (what the root side
 * reads once the fetcher is done) is attacked, so that the fetcher
 * finishes and the root side meets the links; and "quiet", where nothing
 * is touched, so that whole updates also happen while it runs.
 * HOSTILE_RACER_MODE=all|mirror|quiet in the environment keeps it in one
 * mode (to look at one kind of attack at a time).
 *
 * This is what a process left behind by a compromised fetcher, or any
 * other process under that account, can do to state_dir/work. Root-side
 * code that follows any of these links, or that acts on a path in these
 * directories between two steps, ends up reading or changing a TARGET.
 *
 * On exit it prints "swaps N dirswaps M" (so that the test can show the
 * race really ran). Errors are ignored: the agent removes and recreates
 * files under it all the time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_WATCH 1024
#define MAX_DEPTH 16
#define TMP_NAME ".racer-tmp"
#define DIR_ASIDE ".racer-dir"

static volatile sig_atomic_t stop;
static char **targets;
static int ntargets;
static unsigned long next_target;
static unsigned long swaps, dirswaps;
static int ino_fd = -1;
static uid_t me;

static struct {
	int wd;
	int dirfd;
	bool in_mirror;
} watches[MAX_WATCH];

enum mode { ALL, MIRROR, QUIET };
static enum mode mode;
static unsigned long swaps_in[3];
static int nwatches;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static bool is_ours(int dirfd, const char *name)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	for (int i = 0; i < ntargets; i++)
		if (strcmp(buf, targets[i]) == 0)
			return true;
	return false;
}

/* Replace dirfd/name by a link to the next target, atomically. */
static void swap(int dirfd, const char *name)
{
	const char *t = targets[next_target++ % (unsigned long)ntargets];

	(void)unlinkat(dirfd, TMP_NAME, 0);
	if (symlinkat(t, dirfd, TMP_NAME) != 0)
		return;
	if (renameat(dirfd, TMP_NAME, dirfd, name) == 0) {
		swaps++;
		swaps_in[mode]++;
	}
	else
		(void)unlinkat(dirfd, TMP_NAME, 0);
}

/* Watch dirfd (a directory this user owns) for new entries. */
static void watch(int dirfd, bool in_mirror)
{
	char path[64];
	int wd, fd;

	if (nwatches == MAX_WATCH)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	wd = inotify_add_watch(ino_fd, path, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
	if (wd < 0)
		return;
	for (int i = 0; i < nwatches; i++)
		if (watches[i].wd == wd)
			return;
	fd = dup(dirfd);
	if (fd < 0)
		return;
	watches[nwatches].wd = wd;
	watches[nwatches].dirfd = fd;
	watches[nwatches].in_mirror = in_mirror;
	nwatches++;
}

static void walk(int dirfd, int depth, bool in_mirror);

/* One entry of an owned directory. */
static void entry(int dirfd, const char *name, int depth, bool in_mirror)
{
	struct stat st;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strncmp(name, ".racer-", 7) == 0)
		return;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub >= 0) {
			walk(sub, depth + 1,
			     in_mirror || (depth == 0 && strcmp(name, "mirror") == 0));
			close(sub);
		}
		return;
	}
	if (S_ISLNK(st.st_mode) && is_ours(dirfd, name))
		return;
	if (mode == ALL || (mode == MIRROR && in_mirror))
		swap(dirfd, name);
}

static void walk(int dirfd, int depth, bool in_mirror)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;

	if (depth > MAX_DEPTH || fstat(dirfd, &st) != 0 || st.st_uid != me)
		return;
	watch(dirfd, in_mirror);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while (!stop && (de = readdir(d)) != NULL)
		entry(dirfd, de->d_name, depth, in_mirror);
	closedir(d);
}

/* Act on whatever inotify reported since the last look. */
static void drain(int timeout_ms)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p = { .fd = ino_fd, .events = POLLIN };

	while (!stop && poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = read(ino_fd, buf, sizeof(buf));

		if (n <= 0)
			return;
		for (char *q = buf; q < buf + n;) {
			/* buf is aligned for it, and every event keeps the alignment. */
			const struct inotify_event *ev = (const void *)q;

			q += sizeof(*ev) + ev->len;
			if (!ev->len)
				continue;
			for (int i = 0; i < nwatches; i++)
				if (watches[i].wd == ev->wd)
					entry(watches[i].dirfd, ev->name, 1,
					      watches[i].in_mirror);
		}
		timeout_ms = 0;
	}
}

/* Swap one owned subdirectory of TOP (in turn) for a link to the
 * directory of a target, for a moment, then put it back. */
static void dirswap(int topfd, unsigned long k)
{
	static const char *const names[] = { "metadata", "mirror" };
	const char *name = names[k % 2];
	const char *t = targets[k % (unsigned long)ntargets];
	char dir[PATH_MAX];
	const char *slash = strrchr(t, '/');
	struct stat st;

	if (!slash || (size_t)(slash - t) >= sizeof(dir))
		return;
	memcpy(dir, t, (size_t)(slash - t));
	dir[slash - t] = '\0';
	if (fstatat(topfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != me)
		return;
	if (renameat(topfd, name, topfd, DIR_ASIDE) != 0)
		return;
	if (symlinkat(dir, topfd, name) == 0) {
		dirswaps++;
		drain(1);
		(void)unlinkat(topfd, name, 0);
	}
	(void)renameat(topfd, DIR_ASIDE, topfd, name);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct timespec now, until = { 0, 0 };
	time_t end;
	int topfd;
	unsigned long walks = 0, seed;
	int fixed = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: hostile_racer SECONDS TOP TARGET...\n");
		return 2;
	}
	end = time(NULL) + strtol(argv[1], NULL, 10);
	targets = argv + 3;
	ntargets = argc - 3;
	me = geteuid();
	seed = (unsigned long)getpid();
	if (getenv("HOSTILE_RACER_MODE")) {
		const char *m = getenv("HOSTILE_RACER_MODE");

		fixed = strcmp(m, "all") == 0 ? 1 : strcmp(m, "mirror") == 0 ? 2 :
			strcmp(m, "quiet") == 0 ? 3 : 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino_fd < 0) {
		perror("inotify_init1");
		return 1;
	}
	topfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (topfd < 0) {
		perror(argv[2]);
		return 1;
	}
	while (!stop && time(NULL) < end) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (fixed) {
			mode = (enum mode)(fixed - 1);
		} else if (now.tv_sec > until.tv_sec ||
		    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec)) {
			long ms;

			seed = seed * 6364136223846793005ul + 1442695040888963407ul;
			mode = (enum mode)((seed >> 33) % 3);
			ms = 5 + (long)((seed >> 40) % 56);
			until.tv_sec = now.tv_sec + (now.tv_nsec / 1000000 + ms) / 1000;
			until.tv_nsec = ((now.tv_nsec / 1000000 + ms) % 1000) * 1000000;
		}
		if (mode == QUIET) {
			drain(1);
			continue;
		}
		walk(topfd, 0, false);
		drain(0);
		if (mode == ALL && ++walks % 32 == 0)
			dirswap(topfd, walks / 32);
	}
	printf("swaps %lu dirswaps %lu walks %lu (all %lu, mirror %lu)\n", swaps, dirswaps,
	       walks, swaps_in[ALL], swaps_in[MIRROR]);
	return 0;
}

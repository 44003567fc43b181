/*
 * spawn.c - running grub-editenv and custom boot scripts: posix_spawn from
 * a fixed argv, no shell, capped output, a deadline, and nothing left
 * running afterwards.
 *
 * The program gets a process group of its own (POSIX_SPAWN_SETPGROUP) and
 * default signal dispositions with an empty mask. Its exit is watched with
 * waitid(WNOHANG|WNOWAIT) between polls of its two pipes, on
 * CLOCK_MONOTONIC; no SIGCHLD handler is installed, since a library must
 * not take over the process's signals. WNOWAIT keeps the exited program
 * unreaped while its group is killed, so the group id cannot have been
 * reused when kill(-pid) is sent (the same scheme as install/health.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot_impl.h"

static char *const spawn_env[] = {
	(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	(char *)"LC_ALL=C",
	NULL,
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct spawn_io {
	int fd[2];        /* stdout, stderr read ends; -1 once at EOF */
	size_t err_len;
	bool overflow;    /* stdout went past r->out.max */
	int read_errno;
} spawn_io;

/* Read what is there (the ends are non-blocking). */
static void drain(spawn_io *io, boot_run *r)
{
	char chunk[4096];

	for (int i = 0; i < 2; i++) {
		while (io->fd[i] >= 0) {
			ssize_t n = read(io->fd[i], chunk, sizeof(chunk));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n <= 0) {
				if (n < 0)
					io->read_errno = errno;
				close(io->fd[i]);
				io->fd[i] = -1;
				break;
			}
			if (i == 0) {
				if (!io->overflow && buf_append(&r->out, chunk, (size_t)n) < 0)
					io->overflow = true;
			} else {
				for (ssize_t k = 0; k < n && io->err_len < BOOT_STDERR_KEEP; k++) {
					unsigned char c = (unsigned char)chunk[k];

					/* One line for a message: newlines and
					 * other control bytes become spaces. */
					r->err[io->err_len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
				}
			}
		}
	}
}

static int start(char *const argv[], int out_w, int err_w, pid_t *ret_pid, const char *what)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return pawl_error_set_errno(PAWL_E_NOMEM, rc, "%s: cannot start", what);
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return pawl_error_set_errno(PAWL_E_NOMEM, rc, "%s: cannot start", what);
	}
	sigemptyset(&none);
	sigfillset(&all);
	rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
	/* Descriptors of the caller's that lack O_CLOEXEC stay out too. */
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
							     POSIX_SPAWN_SETSIGMASK);
	if (rc == 0)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&attr, &all);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, spawn_env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return pawl_error_set_errno(rc == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, rc,
					    "%s: cannot run %s", what, argv[0]);
	return 0;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

int boot_spawn(char *const argv[], unsigned timeout_ms, boot_run *r, const char *what)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	spawn_io io = { { -1, -1 }, 0, false, 0 };
	bool exited = false, lost = false;
	int64_t deadline;
	int status = -1, ret;
	unsigned nap = 1;
	siginfo_t si;
	pid_t pid;

	ENSURE(argv && argv[0] && argv[0][0] == '/' && r, PAWL_E_INVALID,
	       "%s: the program must be an absolute path", what);
	buf_reset(&r->out);
	r->err[0] = '\0';
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: pipe", what);
		close_pair(po);
		close_pair(pe);
		return ret;
	}
	/* Only our ends are non-blocking: the program's writes must block. */
	if (fcntl(po[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(pe[0], F_SETFL, O_NONBLOCK) < 0) {
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: fcntl", what);
		close_pair(po);
		close_pair(pe);
		return ret;
	}
	ret = start(argv, po[1], pe[1], &pid, what);
	close(po[1]);
	close(pe[1]);
	io.fd[0] = po[0];
	io.fd[1] = pe[0];
	if (ret < 0) {
		close_pair(io.fd);
		return ret;
	}

	deadline = now_ms() + (int64_t)timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd[2];
		nfds_t n = 0;
		int wait = (int)(left < (int64_t)nap ? (left > 0 ? left : 0) : (int64_t)nap);

		for (int i = 0; i < 2; i++)
			if (io.fd[i] >= 0) {
				pfd[n].fd = io.fd[i];
				pfd[n].events = POLLIN;
				n++;
			}
		if (n > 0) {
			if (poll(pfd, n, wait) < 0 && errno != EINTR) {
				io.read_errno = errno;
				break;
			}
		} else {
			struct timespec ts = { wait / 1000, (long)(wait % 1000) * 1000000L };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		drain(&io, r);
		if (io.overflow || io.read_errno)
			break;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			/* Reaped behind our back (a SIGCHLD handler of the
			 * caller's): its id may already be someone else's. */
			lost = true;
			break;
		}
		if (si.si_pid == pid) {
			exited = true;
			/* What it wrote before exiting is in the pipes. */
			drain(&io, r);
			break;
		}
		if (now_ms() >= deadline)
			break;
		if (nap < 20)
			nap *= 2;
	}
	/* Whatever happened, no process of its group outlives the call. */
	if (!lost) {
		(void)kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				status = -1;
				break;
			}
		}
	}
	close_pair(io.fd);
	while (io.err_len > 0 && r->err[io.err_len - 1] == ' ')
		io.err_len--;
	r->err[io.err_len] = '\0';
	r->status = status;
	if (io.overflow)
		return pawl_error_set(PAWL_E_LIMIT, "%s: more than %zu bytes of output", what,
				      r->out.max);
	if (io.read_errno)
		return pawl_error_set_errno(PAWL_E_IO, io.read_errno, "%s: reading its output",
					    what);
	if (!exited) {
		if (lost)
			return pawl_error_set(PAWL_E_IO, "%s: lost track of the process", what);
		return pawl_error_set(PAWL_E_LIMIT, "%s: timed out after %u ms (killed)", what,
				      timeout_ms);
	}
	return 0;
}

int boot_spawn_ok(char *const argv[], unsigned timeout_ms, boot_run *r, const char *what)
{
	GUARD(boot_spawn(argv, timeout_ms, r, what));
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return 0;
	if (WIFEXITED(r->status))
		return pawl_error_set(PAWL_E_IO, "%s: exited with status %d%s%s", what,
				      WEXITSTATUS(r->status), r->err[0] ? ": " : "", r->err);
	if (WIFSIGNALED(r->status))
		return pawl_error_set(PAWL_E_IO, "%s: killed by signal %d%s%s", what,
				      WTERMSIG(r->status), r->err[0] ? ": " : "", r->err);
	return pawl_error_set(PAWL_E_IO, "%s: did not exit normally", what);
}

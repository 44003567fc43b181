/*
 * health.c - running the post-install health check with a deadline.
 *
 * The check is an administrator's shell command, run as /bin/sh -c CMD
 * in a process group of its own so that a timeout kills everything it
 * started, not just the shell. Everything the child needs (argv, envp) is
 * built before fork(), so that the child only makes async-signal-safe
 * calls before execve(): the agent may be multi-threaded.
 *
 * The deadline is watched by polling waitid(WNOHANG|WNOWAIT) with short
 * sleeps on CLOCK_MONOTONIC rather than by a SIGCHLD handler or
 * sigtimedwait(): a library must not take over the process's signals.
 * WNOWAIT keeps the exited shell unreaped while its group is killed, so
 * the group's id cannot have been reused when kill(-pgid) is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "install/install_impl.h"

extern char **environ;

/* Environment entries allowed through: at most this many. */
#define ENV_MAX 4096

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool overridden(const char *entry, const char *const *env)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], entry, n) == 0 && env[i][n] == '=')
			return true;
	return false;
}

/* In the child: only async-signal-safe calls from here to execve. */
__attribute__((noreturn)) static void child(const char *cmd, int cwd_fd, int devnull,
					    char *const *envp)
{
	struct sigaction sa;
	sigset_t none;
	char *argv[4];

	(void)setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, STDIN_FILENO) < 0 || fchdir(cwd_fd) < 0)
		_exit(126);
#ifdef SYS_close_range
	/* Descriptors the caller opened without O_CLOEXEC stay out of the
	 * check; failure (an old kernel) is harmless, ours are O_CLOEXEC. */
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
#endif
	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)cmd;
	argv[3] = NULL;
	execve("/bin/sh", argv, envp);
	_exit(127);
}

int health_run(const char *cmd, int cwd_fd, const char *const *env, unsigned timeout_ms,
	       health_outcome *ret)
{
	_cleanup_free_ char **envp = NULL;
	_cleanup_close_ int devnull = -1;
	size_t n = 0, k = 0, extra = 0;
	health_outcome out = { false, false, 0 };
	int64_t deadline;
	unsigned nap = 1;
	siginfo_t si;
	pid_t pid;
	int status;

	ENSURE(cmd && *cmd && ret, PAWL_E_INVALID, "no health check command");
	while (environ && environ[n] && n < ENV_MAX)
		n++;
	while (env && env[extra])
		extra++;
	envp = xcalloc(n + extra + 1, sizeof(*envp));
	if (!envp)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!overridden(environ[i], env))
			envp[k++] = environ[i];
	for (size_t i = 0; i < extra; i++)
		envp[k++] = (char *)env[i];
	envp[k] = NULL;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (devnull < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "health check: cannot open /dev/null");

	pid = fork();
	if (pid < 0)
		return pawl_error_set_errno(PAWL_E_GENERIC, errno,
					    "health check: cannot start \"%s\"", cmd);
	if (pid == 0)
		child(cmd, cwd_fd, devnull, envp);
	/* Both sides set the group, so that kill(-pid) works whichever runs
	 * first; EACCES after the child's execve is harmless. */
	(void)setpgid(pid, pid);

	deadline = now_ms() + (int64_t)timeout_ms;
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			/* Reaped behind our back (a SIGCHLD handler of the
			 * caller's): the result is unknown, so not healthy. */
			out.status = -1;
			(void)kill(-pid, SIGKILL);
			*ret = out;
			return 0;
		}
		if (si.si_pid == pid)
			break;
		if (now_ms() >= deadline) {
			out.timed_out = true;
			break;
		}
		sleep_ms(nap);
		if (nap < 20)
			nap *= 2;
	}
	/* The shell has exited or overrun: no process of its group may
	 * outlive the check. */
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	out.status = status;
	out.passed = !out.timed_out && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	*ret = out;
	return 0;
}

/*
 * privsep.c - the agent's unprivileged fetcher and the root side that
 * hears it (privsep.h). The child speaks only through privsep_msg.h's
 * frames; the root side reads them with the bounded decoder, believes
 * nothing of a stream that is malformed anywhere, and judges the child by
 * what root set up (the account, the pid it forked, the work directory
 * descriptor it owns) and by the exit status, never by what it says about
 * itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "privsep.h"
#include "privsep_msg.h"
#include "progress.h"

/* ---------------- the unprivileged child ---------------- */

/* Send one outcome: the child's last message. */
static int child_outcome(int fd, psm_outcome kind, int code, const char *msg)
{
	uint8_t frame[PSM_HEADER_LEN + PSM_OUTCOME_MAX];
	size_t n;

	GUARD(psm_encode_outcome(frame, sizeof(frame), &n, kind, code, msg));
	return psm_write(fd, frame, n);
}

struct child_ctx {
	int fd;
	bool progress;
};

static void child_event(const pawl_event *ev, void *ctx)
{
	struct child_ctx *cc = ctx;

	/* The fetcher downloads, so it draws the bar, on the stderr it
	 * inherited. */
	if (cc->progress)
		progress_event(ev);

	if (ev->kind == PAWL_EVENT_REJECTED && ev->url) {
		uint8_t frame[PSM_HEADER_LEN + PSM_REJECTED_MAX];
		size_t n;

		/* A record the root side cannot get is only a record lost;
		 * the run itself is judged by its outcome. */
		if (psm_encode_rejected(frame, sizeof(frame), &n, ev->code, ev->url,
					ev->message) < 0 ||
		    psm_write(cc->fd, frame, n) < 0)
			pawl_error_clear();
	}
}

/* The child's own directory, relative to WORK (its working directory):
 * it needs no access to STATE_DIR itself. */
#define CHILD_MDIR "metadata"
#define CHILD_MIRROR "mirror"

/* A directory of the fetcher's own, under WORK: whatever else a process of
 * this user left at the name (a link, a file) goes first. */
static int child_dir(const char *name)
{
	struct stat st;

	if (lstat(name, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(name) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot remove %s", name);
	if (mkdir(name, 0755) != 0 && errno != EEXIST)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s", name);
	return 0;
}

/* Remove from dir every entry that is not a directory (all) or only the
 * links and other odd entries (!all). */
static int child_sweep(const char *dir, bool all)
{
	_cleanup_close_ int dfd = -1;
	struct dirent *de;
	DIR *d;

	GUARD(dir_open(dir, &dfd));
	d = fdopendir(dfd);
	if (!d)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", dir);
	dfd = -1;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode) || (!all && S_ISREG(st.st_mode)))
			continue;
		(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return 0;
}

/* As the fetcher, in WORK: start from the root side's trusted root, with
 * an empty mirror (so that it holds exactly what this run trusts), and
 * without the links a process of this user may have planted (they would
 * only stop every later run). */
static int child_prepare(const privsep_job *job)
{
	GUARD(child_dir(CHILD_MDIR));
	GUARD(child_dir(CHILD_MIRROR));
	GUARD(child_dir(CHILD_MIRROR "/metadata"));
	GUARD(child_sweep(CHILD_MDIR, false));
	GUARD(child_sweep(CHILD_MIRROR "/metadata", true));
	return file_write_atomic(CHILD_MDIR "/root.json", job->seed_root, job->seed_len, 0644);
}

/* Everything the network side does, as the unprivileged user, in WORK:
 * refresh into WORK/metadata (recording a mirror of what it trusted in
 * WORK/mirror), choose the release, download it into the mirror; then
 * say how it went, in one outcome message. */
static int child_fetch(const privsep_job *job, int fd)
{
	pawl_updater_opts o = *job->opts;
	struct child_ctx cc = { fd, job->progress };
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	_cleanup_free_ char *rel = NULL;
	_cleanup_buf_ pawl_buf dst = PAWL_BUF_INIT(32768);
	psm_outcome kind = PSM_NONE;
	const char *path = NULL;
	int r;

	GUARD_GOTO(r, child_prepare(job), out);
	o.metadata_dir = CHILD_MDIR;
	o.mirror_dir = CHILD_MIRROR;
	o.on_event = child_event;
	o.event_ctx = &cc;
	GUARD_GOTO(r, pawl_updater_new(&u, &o), out);
	GUARD_GOTO(r, pawl_updater_refresh(u), out);
	/* A refresh only still searches: the roles a release search visits
	 * are then in the mirror too. */
	GUARD_GOTO(r, job->choose(job->choose_ctx, u, &path), out);
	if (job->refresh_only || !path)
		goto out;
	GUARD_GOTO(r, pawl_updater_get_target(&t, u, path), out);
	GUARD_GOTO(r, pawl_updater_target_url_path(u, t, &rel), out);
	GUARD_GOTO(r, buf_printf(&dst, CHILD_MIRROR "/targets/%s", rel), out);
	/* The download goes where a file:// client will look for it. */
	{
		char *slash = strrchr(dst.data, '/');

		*slash = '\0';
		GUARD_GOTO(r, dir_create(dst.data, 0755), out);
		*slash = '/';
	}
	GUARD_GOTO(r, pawl_updater_download_to(u, t, dst.data), out);
	kind = PSM_OK;
out:
	if (r < 0) {
		if (child_outcome(fd, PSM_ERROR, r, pawl_error_last()->message) < 0)
			pawl_error_clear();
	} else {
		r = child_outcome(fd, kind, 0, NULL);
	}
	pawl_target_free(t);
	pawl_updater_free(u);
	return r;
}

/* Give up root for good, as f's account. */
static int drop_privileges(const privsep_fetcher *f)
{
	if (setgroups(1, &f->gid) != 0 || setgid(f->gid) != 0 || setuid(f->uid) != 0)
		return pawl_error_set_errno(PAWL_E_POLICY, errno, "cannot drop privileges to %s",
					    f->name);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return pawl_error_set_errno(PAWL_E_POLICY, errno, "PR_SET_NO_NEW_PRIVS");
	/* Prove it: root must be out of reach now. */
	if (f->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return pawl_error_set(PAWL_E_POLICY, "privileges could be regained after dropping "
				      "them");
	return 0;
}

/* In the child, before it drops root: move into WORK (so that it needs no
 * access to STATE_DIR) and close every descriptor but keep (the pipe) and
 * the standard ones, so that nothing the root side opened (the audit log,
 * the lock, STATE_DIR, install_dir) crosses over. */
static int child_isolate(const privsep_fetcher *f, int keep)
{
	if (fchdir(f->work_fd) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot enter %s/work", f->state_dir);
	closelog();
	if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) != 0)
		goto slow;
	if (close_range(keep < 3 ? 3u : (unsigned)keep + 1, ~0u, 0) != 0)
		goto slow;
	return 0;
slow: {
	/* No close_range(2) (an old kernel, or a system call filter). */
	struct rlimit rl;
	int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ?
			  (int)rl.rlim_cur : 65536;

	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			(void)close(fd);
	return 0;
}
}

/* The child, from fork() to _exit(): never returns. */
__attribute__((noreturn)) static void child_main(const privsep_fetcher *f,
						 const privsep_job *job, int fd)
{
	int r = child_isolate(f, fd);

	if (r == 0)
		r = drop_privileges(f);
	if (r == 0)
		r = child_fetch(job, fd);
	else if (child_outcome(fd, PSM_ERROR, r, pawl_error_last()->message) < 0)
		pawl_error_clear();
	close(fd);
	_exit(r < 0 ? 1 : 0);
}

/* ---------------- the root side ---------------- */

/* What a well-formed stream said, held until all of it has been read. */
struct heard {
	const psm_decoder *d;
	bool have_outcome;
	psm_outcome outcome;
	int code;
	char message[PSM_TEXT_MAX + 1];
	char **rejected; /* "CODE URL MESSAGE", for the audit log */
	size_t nrejected;
};

static void heard_free(struct heard *h)
{
	for (size_t i = 0; i < h->nrejected; i++)
		free(h->rejected[i]);
	free(h->rejected);
}

static int on_msg(const psm_msg *m, void *ctx)
{
	struct heard *h = ctx;
	unsigned long long nr = (unsigned long long)psm_decoder_frames(h->d);

	if (h->have_outcome)
		return pawl_error_set(PAWL_E_FORMAT, "fetcher message %llu (%s): after the outcome",
				      nr, psm_type_name(m->type));
	switch (m->type) {
	case PSM_OUTCOME:
		h->have_outcome = true;
		h->outcome = m->outcome;
		h->code = m->code;
		snprintf(h->message, sizeof(h->message), "%s", m->message);
		return 0;
	case PSM_REJECTED: {
		char **grown;
		char *rec;

		if (h->nrejected >= PRIVSEP_MAX_REJECTED)
			return pawl_error_set(PAWL_E_LIMIT, "the fetcher reported more than %d "
					      "rejected files", PRIVSEP_MAX_REJECTED);
		grown = realloc(h->rejected, (h->nrejected + 1) * sizeof(*grown));
		if (!grown)
			return pawl_error_set(PAWL_E_NOMEM, "out of memory");
		h->rejected = grown;
		if (asprintf(&rec, "%d %s %s", m->code, m->url, m->message) < 0)
			return pawl_error_set(PAWL_E_NOMEM, "out of memory");
		h->rejected[h->nrejected++] = rec;
		return 0;
	}
	case PSM_DATA:
		break;
	}
	return pawl_error_set(PAWL_E_FORMAT, "fetcher message %llu (%s): not taken in this run",
			      nr, psm_type_name(m->type));
}

/* Read the child's whole stream through the decoder. 0 when it was
 * well-formed to its end; otherwise the decoder's (or on_msg's) error,
 * and the child is killed: it is not heard any further. */
static int hear(int fd, pid_t pid, struct heard *h)
{
	psm_decoder *d = NULL;
	uint8_t buf[16384];
	int r;

	GUARD(psm_decoder_new(&d, PRIVSEP_MAX_STREAM));
	h->d = d;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read from the fetcher");
			break;
		}
		if (n == 0) {
			r = psm_decoder_finish(d);
			break;
		}
		r = psm_decoder_feed(d, buf, (size_t)n, on_msg, h);
		if (r < 0)
			break;
	}
	if (r < 0)
		kill(pid, SIGKILL);
	h->d = NULL;
	psm_decoder_free(d);
	return r;
}

/* Judge the run from a well-formed stream and the exit status. */
static int judge(const privsep_fetcher *f, const struct heard *h, int status)
{
	bool exited0 = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (h->have_outcome && h->outcome == PSM_ERROR) {
		if (!exited0)
			return pawl_error_set(h->code, "the fetcher (as %s): %s", f->name, h->message);
		return pawl_error_set(PAWL_E_GENERIC, "the unprivileged fetcher reported a failure "
				      "(%s) but exited with status 0", pawl_strerror(h->code));
	}
	if (!exited0)
		return pawl_error_set(PAWL_E_GENERIC, "the unprivileged fetcher failed (status %d)",
				      status);
	if (!h->have_outcome)
		return pawl_error_set(PAWL_E_GENERIC, "the unprivileged fetcher exited without "
				      "saying how its run ended");
	return 0;
}

int privsep_run(const privsep_fetcher *f, const privsep_job *job, pawl_audit *log)
{
	struct heard h = { 0 };
	char why[1024];
	int fds[2];
	pid_t pid;
	int status, r, heard_r;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return pawl_error_set_errno(PAWL_E_IO, errno, "fork");
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(f, job, fds[1]);
	}
	close(fds[1]);
	heard_r = hear(fds[0], pid, &h);
	if (heard_r < 0)
		snprintf(why, sizeof(why), "%s", pawl_error_last()->message);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (heard_r == 0 && log) {
		/* The child's verification failures go into the root-owned
		 * log, under the child's name. */
		for (size_t i = 0; i < h.nrejected; i++)
			if (pawl_audit_failuref(log, "fetcher.rejected", h.rejected[i],
					   PAWL_AUDIT_STR("side", "unprivileged")) < 0)
				pawl_error_clear();
	}
	/* What the root side made the child, not what the child says it is. */
	if (log && pawl_audit_appendf(log, "fetcher.exit", PAWL_AUDIT_STR("user", f->name),
				 PAWL_AUDIT_INT("uid", (int64_t)f->uid), PAWL_AUDIT_INT("gid", (int64_t)f->gid),
				 PAWL_AUDIT_INT("status",
					   WIFEXITED(status) ? WEXITSTATUS(status) : -1)) < 0)
		pawl_error_clear();
	if (heard_r < 0)
		r = pawl_error_set(PAWL_E_GENERIC, "the unprivileged fetcher (as %s) broke the "
				   "protocol: %s", f->name, why);
	else
		r = judge(f, &h, status);
	heard_free(&h);
	return r;
}

/* ---------------- streaming a slot image (privsep.h) ---------------- */

/* Sends what it is given as DATA frames on fd. */
struct data_sink {
	int fd;
	uint8_t frame[PSM_FRAME_MAX];
};

static int sink_data(void *ctx, const void *p, size_t n)
{
	struct data_sink *ds = ctx;
	const uint8_t *b = p;

	while (n) {
		size_t k = n < PSM_DATA_MAX ? n : PSM_DATA_MAX, len;

		GUARD(psm_encode_data(ds->frame, sizeof(ds->frame), &len, b, k));
		GUARD(psm_write(ds->fd, ds->frame, len));
		b += k;
		n -= k;
	}
	return 0;
}

/* How many ranges one call of pawl_updater_download_ranges takes at most
 * (the copy below lives on the stack). */
#define RANGES_PER_CALL 256

/* Stream job's ranges, in order, from u to ds: each run of consecutive
 * ranges of one target through one pawl_updater_download_ranges (which
 * checks that they are sorted and inside the target). */
static int stream_ranges(pawl_updater *u, const privsep_stream_job *job, struct data_sink *ds)
{
	pawl_range rg[RANGES_PER_CALL];
	size_t i = 0;
	int r = 0;

	while (i < job->nranges && r == 0) {
		const char *path = job->ranges[i].target;
		pawl_target *t = NULL;
		size_t k = 0;

		while (i + k < job->nranges && k < RANGES_PER_CALL &&
		       strcmp(job->ranges[i + k].target, path) == 0) {
			rg[k].offset = job->ranges[i + k].offset;
			rg[k].length = job->ranges[i + k].length;
			k++;
		}
		r = pawl_updater_get_target(&t, u, path);
		if (r == 0)
			r = pawl_updater_download_ranges(u, t, rg, k, sink_data, ds);
		pawl_target_free(t);
		i += k;
	}
	return r;
}

/* Stream every target of job, in order, from u to fd. */
static int stream_targets(pawl_updater *u, const privsep_stream_job *job, int fd)
{
	struct data_sink *ds = malloc(sizeof(*ds));
	int r = 0;

	if (!ds)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	ds->fd = fd;
	for (size_t i = 0; i < job->npaths && r == 0; i++) {
		pawl_target *t = NULL;

		r = pawl_updater_get_target(&t, u, job->paths[i]);
		if (r == 0)
			r = pawl_updater_download_stream(u, t, sink_data, ds);
		pawl_target_free(t);
	}
	if (job->npaths == 0)
		r = stream_ranges(u, job, ds);
	free(ds);
	return r;
}

/* Send the outcome of a stream run (r: its result). */
static int stream_outcome(int fd, int r)
{
	if (r < 0) {
		if (child_outcome(fd, PSM_ERROR, r, pawl_error_last()->message) < 0)
			pawl_error_clear();
		return r;
	}
	return child_outcome(fd, PSM_OK, 0, NULL);
}

/* The fetcher's second run, as the unprivileged user in WORK: refresh
 * from its own metadata of the first run, then stream. */
static int child_stream(const privsep_stream_job *job, int fd)
{
	pawl_updater_opts o = *job->opts;
	struct child_ctx cc = { fd, job->progress };
	pawl_updater *u = NULL;
	int r;

	o.metadata_dir = CHILD_MDIR;
	o.mirror_dir = NULL;
	o.on_event = child_event;
	o.event_ctx = &cc;
	r = pawl_updater_new(&u, &o);
	if (r == 0)
		r = pawl_updater_refresh(u);
	if (r == 0)
		r = stream_targets(u, job, fd);
	pawl_updater_free(u);
	return stream_outcome(fd, r);
}

#define STREAM_RBUF 16384

struct privsep_stream {
	privsep_stream_job job;
	privsep_fetcher f;  /* a copy; f.name NULL: the thread */
	int fd;             /* the read end */
	int wfd;            /* the thread's write end; -1 */
	pid_t pid;          /* the child; -1 */
	pthread_t th;
	bool th_started;
	psm_decoder *d;
	struct heard h;
	uint64_t data;      /* DATA bytes taken */
	struct timespec deadline; /* CLOCK_MONOTONIC */
	bool eof;           /* the stream ended well */
	int err;            /* the first failure, sticky */
	char errmsg[1024];
	uint8_t *pending;   /* decoded DATA bytes not handed over yet */
	size_t plen, poff;
	uint8_t rbuf[STREAM_RBUF];
};

static void *stream_thread(void *arg)
{
	privsep_stream *s = arg;
	sigset_t set;

	/* A reader that stopped early makes writes fail (EPIPE) instead of
	 * killing the agent. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	(void)stream_outcome(s->wfd, stream_targets(s->job.u, &s->job, s->wfd));
	close(s->wfd);
	s->wfd = -1;
	return NULL;
}

/* Fail the stream for good: the fetcher is not heard any further. */
static int stream_fail(privsep_stream *s, int code, const char *fmt, ...) PAWL_FORMAT(3, 4);
static int stream_fail(privsep_stream *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
	s->err = code;
	if (s->pid > 0)
		kill(s->pid, SIGKILL);
	return pawl_error_set(code, "%s", s->errmsg);
}

static int on_stream_msg(const psm_msg *m, void *ctx)
{
	privsep_stream *s = ctx;

	if (m->type != PSM_DATA || s->h.have_outcome)
		return on_msg(m, &s->h);
	if (m->data_len > s->job.total - s->data)
		return pawl_error_set(PAWL_E_LIMIT, "the fetcher sent more than the %llu bytes "
				      "%s", (unsigned long long)s->job.total,
				      s->job.nranges ? "asked for" : "signed");
	memcpy(s->pending + s->plen, m->data, m->data_len);
	s->plen += m->data_len;
	s->data += m->data_len;
	return 0;
}

int privsep_stream_start(const privsep_fetcher *f, const privsep_stream_job *job,
			 privsep_stream **ret)
{
	privsep_stream *s;
	int fds[2], r;

	ENSURE(job->npaths <= 2 && (job->npaths >= 1) != (job->nranges >= 1) &&
	       (job->nranges == 0 || job->ranges) && (f ? job->opts != NULL : job->u != NULL),
	       PAWL_E_INVALID, "privsep: a stream needs targets or ranges, and a client");
	if (job->nranges) {
		uint64_t sum = 0;

		for (size_t i = 0; i < job->nranges; i++)
			ENSURE(job->ranges[i].target && job->ranges[i].length >= 1 &&
			       !__builtin_add_overflow(sum, job->ranges[i].length, &sum),
			       PAWL_E_INVALID, "privsep: range %zu is empty or unnamed", i);
		ENSURE(sum == job->total, PAWL_E_INVALID,
		       "privsep: the ranges hold %llu bytes, not %llu", (unsigned long long)sum,
		       (unsigned long long)job->total);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	s->job = *job;
	s->fd = s->wfd = -1;
	s->pid = -1;
	/* At most one frame the decoder held back plus one read's worth. */
	s->pending = malloc(PSM_DATA_MAX + STREAM_RBUF);
	/* Frame headers on top of the data: even one byte per frame fits. */
	r = s->pending ? psm_decoder_new(&s->d, job->total * (PSM_HEADER_LEN + 1) +
							  PRIVSEP_MAX_STREAM) :
			 pawl_error_set(PAWL_E_NOMEM, "out of memory");
	if (r < 0)
		goto fail;
	s->h.d = s->d;
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += job->deadline_s ? job->deadline_s : 3600;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		r = pawl_error_set_errno(PAWL_E_IO, errno, "pipe");
		goto fail;
	}
	s->fd = fds[0];
	if (!f) {
		s->wfd = fds[1];
		if (pthread_create(&s->th, NULL, stream_thread, s) != 0) {
			close(fds[1]);
			s->wfd = -1;
			r = pawl_error_set(PAWL_E_IO, "cannot start the download thread");
			goto fail;
		}
		s->th_started = true;
		*ret = s;
		return 0;
	}
	s->f = *f;
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0) {
		close(fds[1]);
		r = pawl_error_set_errno(PAWL_E_IO, errno, "fork");
		goto fail;
	}
	if (s->pid == 0) {
		/* The child: no descriptor of root's crosses (child_isolate),
		 * the slots included, which root opens only after this. */
		int cr;

		close(fds[0]);
		cr = child_isolate(f, fds[1]);
		if (cr == 0)
			cr = drop_privileges(f);
		if (cr == 0)
			cr = child_stream(job, fds[1]);
		else if (child_outcome(fds[1], PSM_ERROR, cr, pawl_error_last()->message) < 0)
			pawl_error_clear();
		close(fds[1]);
		_exit(cr < 0 ? 1 : 0);
	}
	close(fds[1]);
	*ret = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	psm_decoder_free(s->d);
	free(s->pending);
	free(s);
	return r;
}

static int64_t ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Read and decode until DATA is pending or the stream ended well. */
static int stream_fill(privsep_stream *s)
{
	const char *who = s->pid > 0 ? "the unprivileged fetcher" : "the download";

	while (s->poff == s->plen && !s->eof) {
		struct pollfd pfd = { s->fd, POLLIN, 0 };
		int64_t left = ms_left(&s->deadline);
		ssize_t n;
		int r;

		s->poff = s->plen = 0;
		if (left <= 0)
			return stream_fail(s, PAWL_E_NETWORK, "%s did not deliver the image within "
					   "%u s (%llu of %llu bytes); stopped", who,
					   s->job.deadline_s, (unsigned long long)s->data,
					   (unsigned long long)s->job.total);
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return stream_fail(s, PAWL_E_IO, "poll: %s", strerror(errno));
		if (r == 0)
			continue;
		n = read(s->fd, s->rbuf, sizeof(s->rbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return stream_fail(s, PAWL_E_IO, "cannot read from %s: %s", who,
					   strerror(errno));
		if (n == 0) {
			if (psm_decoder_finish(s->d) < 0)
				return stream_fail(s, PAWL_E_GENERIC, "%s broke the protocol: %s", who,
						   pawl_error_last()->message);
			if (!s->h.have_outcome)
				return stream_fail(s, PAWL_E_GENERIC, "%s ended without saying how "
						   "its run ended", who);
			if (s->h.outcome != PSM_OK)
				return stream_fail(s, s->h.outcome == PSM_ERROR ? s->h.code :
									 PAWL_E_GENERIC,
						   "%s: %s", who, s->h.outcome == PSM_ERROR ?
						   s->h.message : "it had nothing to send");
			/* "ok" is believed only with every byte asked for: a
			 * short stream is a failed one, whatever it says. */
			if (s->data != s->job.total)
				return stream_fail(s, PAWL_E_LENGTH, "%s said \"ok\" after %llu of "
						   "the %llu bytes asked for", who,
						   (unsigned long long)s->data,
						   (unsigned long long)s->job.total);
			s->eof = true;
			break;
		}
		if (psm_decoder_feed(s->d, s->rbuf, (size_t)n, on_stream_msg, s) < 0)
			return stream_fail(s, PAWL_E_GENERIC, "%s broke the protocol: %s", who,
					   pawl_error_last()->message);
	}
	return 0;
}

int privsep_stream_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	privsep_stream *s = ctx;
	size_t k;

	if (s->err)
		return pawl_error_set(s->err, "%s", s->errmsg);
	GUARD(stream_fill(s));
	k = s->plen - s->poff;
	if (k > cap)
		k = cap;
	memcpy(buf, s->pending + s->poff, k);
	s->poff += k;
	*ret_n = k;
	return 0;
}

int privsep_stream_finish(privsep_stream *s, pawl_audit *log)
{
	int status = 0, r = 0;

	if (!s)
		return 0;
	/* Whatever is still on its way is not wanted any more. */
	if (s->pid > 0 && !s->eof)
		kill(s->pid, SIGKILL);
	close(s->fd);
	if (s->th_started)
		pthread_join(s->th, NULL);
	if (s->pid > 0) {
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!s->err && log)
			for (size_t i = 0; i < s->h.nrejected; i++)
				if (pawl_audit_failuref(log, "fetcher.rejected", s->h.rejected[i],
							PAWL_AUDIT_STR("side", "unprivileged")) < 0)
					pawl_error_clear();
		if (log && pawl_audit_appendf(log, "fetcher.exit", PAWL_AUDIT_STR("user", s->f.name),
					      PAWL_AUDIT_INT("uid", (int64_t)s->f.uid),
					      PAWL_AUDIT_INT("gid", (int64_t)s->f.gid),
					      PAWL_AUDIT_STR("run", "stream"),
					      PAWL_AUDIT_INT("status", WIFEXITED(status) ?
								 WEXITSTATUS(status) : -1)) < 0)
			pawl_error_clear();
	}
	if (s->err)
		r = pawl_error_set(s->err, "%s", s->errmsg);
	else if (s->eof && s->pid > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		r = pawl_error_set(PAWL_E_GENERIC, "the unprivileged fetcher said \"ok\" but "
				   "exited with status %d", status);
	heard_free(&s->h);
	psm_decoder_free(s->d);
	free(s->pending);
	free(s);
	return r;
}

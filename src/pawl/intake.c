/*
 * intake.c - how what the unprivileged fetcher fetched reaches the root
 * side (agent.c's header comment has the whole design): STATE_DIR and the
 * fetcher's work directory, handed over by descriptor; the run of the
 * fetcher (privsep.c); and the root-only copy of its mirror that the root
 * side's own TUF client then reads (STATE_DIR/incoming), taken from the
 * hostile work directory only through descriptors, never following a
 * link, only regular files the fetcher owns, within fixed bounds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_impl.h"
#include "base/base.h"
#include "common/file.h"
#include "common/json_out.h"
#include "common/log_cmd.h"
#include "hint.h"
#include "pawl/audit.h"
#include "pawl/install.h"
#include "pawl/release.h"
#include "pawl/semver.h"
#include "pawl/updater.h"
#include "privsep.h"
#include "progress.h"

/* Where t lies below a target base URL (the fetcher's mirror and the root
 * side's look-up of the fetcher's download use it), appended to out. */
static int target_url_path(pawl_updater *u, const pawl_target *t, pawl_buf *out)
{
	char *p = NULL;
	int r = pawl_updater_target_url_path(u, t, &p);

	if (r == 0)
		r = buf_puts(out, p);
	free(p);
	return r;
}

/* ---------------- the unprivileged fetcher (privsep.c) ---------------- */

void agent_fill_opts(const struct agent *a, pawl_updater_opts *o)
{
	o->ca_file = a->c->ca_file;
	o->pin = a->c->pin;
	memcpy(o->max_bytes, a->c->max_bytes, sizeof(o->max_bytes));
	o->max_delegations = a->c->max_delegations;
	o->lock_timeout_s = a->c->lock_timeout_s;
	o->min_rate_bytes = (long)a->c->min_rate;
	o->deadline_base_s = (long)a->c->deadline_base_s;
}

/* The fetcher's release search (privsep.h), in the child: the same
 * choice the root side makes afterwards from its own trust. */
static int fetcher_choose(void *ctx, pawl_updater *u, const char **ret_path)
{
	struct agent *a = ctx;

	GUARD(agent_choose(a, u));
	*ret_path = a->have_best ? a->best_path : NULL;
	return 0;
}

/* STATE_DIR holds everything the root side trusts, and WORK is made in
 * it: it must be root's and writable by no one else, or the fetcher
 * account (or anyone) could swap WORK, metadata/ or incoming/ under us. */
int agent_open_state(struct agent *a)
{
	struct stat st;

	GUARD(dir_open(a->c->state_dir, &a->state_fd));
	if (fstat(a->state_fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", a->c->state_dir);
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return pawl_error_set(PAWL_E_INVALID,
				      "state_dir %s must belong to root and be writable by no one "
				      "else (chown root %s; chmod go-w %s)",
				      a->c->state_dir, a->c->state_dir, a->c->state_dir);
	return 0;
}

/* WORK, created in STATE_DIR (root's, so the name cannot be swapped) and
 * handed to the fetcher through its descriptor. */
static int fetcher_workdir(struct agent *a)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	bool made = mkdirat(a->state_fd, WORK, 0700) == 0;

	if (!made && errno != EEXIST)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s/" WORK,
					    a->c->state_dir);
	GUARD(dir_open_at(a->state_fd, WORK, &fd));
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s/" WORK,
					    a->c->state_dir);
	if (made && fchmod(fd, 0700) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot set the mode of %s/" WORK,
					    a->c->state_dir);
	if ((st.st_uid != a->fetcher_uid || st.st_gid != a->fetcher_gid) &&
	    fchown(fd, a->fetcher_uid, a->fetcher_gid) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot hand %s/" WORK " to %s",
					    a->c->state_dir, a->c->user);
	a->work_fd = TAKE_FD(fd);
	return 0;
}

/* STATE_DIR/incoming: root's own, 0700, emptied. */
static int fresh_incoming(struct agent *a, int *ret_fd)
{
	_cleanup_close_ int fd = -1, sweep = -1;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (mkdirat(a->state_fd, "incoming", 0700) != 0 && errno != EEXIST)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s/incoming",
					    a->c->state_dir);
	GUARD(dir_open_at(a->state_fd, "incoming", &fd));
	if (fstat(fd, &st) != 0 || (st.st_uid != geteuid() && fchown(fd, geteuid(), 0) != 0) ||
	    ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) != 0))
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot make %s/incoming root's own",
					    a->c->state_dir);
	sweep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	d = sweep >= 0 ? fdopendir(sweep) : NULL;
	if (!d)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s/incoming",
					    a->c->state_dir);
	sweep = -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) != 0 && errno != ENOENT) {
			int e = errno;

			closedir(d);
			return pawl_error_set_errno(PAWL_E_IO, e, "cannot empty %s/incoming",
						    a->c->state_dir);
		}
	}
	closedir(d);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

#define MIRROR_MAX_FILES 4096
#define MIRROR_MAX_TOTAL ((uint64_t)1 << 30)

/* The largest metadata file the configuration allows. */
static size_t mirror_max_file(const struct agent *a)
{
	static const uint64_t def[4] = { PAWL_DEFAULT_MAX_ROOT, PAWL_DEFAULT_MAX_TIMESTAMP,
					 PAWL_DEFAULT_MAX_SNAPSHOT, PAWL_DEFAULT_MAX_TARGETS };
	uint64_t m = 0;

	for (int i = 0; i < 4; i++) {
		uint64_t v = a->c->max_bytes[i] ? a->c->max_bytes[i] : def[i];

		if (v > m)
			m = v;
	}
	return m < MIRROR_MAX_TOTAL ? (size_t)m : (size_t)MIRROR_MAX_TOTAL;
}

/* Copy the metadata the fetcher mirrored (WORK/mirror/metadata, hostile)
 * into STATE_DIR/incoming, reading only regular files that the fetcher
 * owns, without following any link. */
static int take_mirror(struct agent *a)
{
	_cleanup_close_ int src = -1, dst = -1, list = -1;
	size_t max = mirror_max_file(a), nfiles = 0;
	uint64_t total = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	GUARD(fresh_incoming(a, &dst));
	r = dir_open_owned_at(a->work_fd, "mirror/metadata", a->fetcher_uid, &src);
	if (r < 0)
		return pawl_error_prefix(r, "the fetcher's mirror in %s/" WORK ": ",
					 a->c->state_dir);
	list = fcntl(src, F_DUPFD_CLOEXEC, 3);
	d = list >= 0 ? fdopendir(list) : NULL;
	if (!d)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read the fetcher's mirror");
	list = -1;
	while (r == 0 && (de = readdir(d)) != NULL) {
		_cleanup_close_ int fd = -1;
		_cleanup_free_ char *data = NULL;
		size_t len;

		/* ".", ".." and the fetcher's own temporary files */
		if (de->d_name[0] == '.')
			continue;
		if (++nfiles > MIRROR_MAX_FILES) {
			r = pawl_error_set(PAWL_E_LIMIT, "the fetcher's mirror holds more than %d "
					   "files", MIRROR_MAX_FILES);
			break;
		}
		r = file_open_owned_at(src, de->d_name, a->fetcher_uid, &fd);
		if (r == 0)
			r = file_read_fd(fd, de->d_name, max, &data, &len);
		if (r == 0 && (total += len) > MIRROR_MAX_TOTAL)
			r = pawl_error_set(PAWL_E_LIMIT, "the fetcher's mirror holds more than %llu "
					   "bytes", (unsigned long long)MIRROR_MAX_TOTAL);
		if (r == 0)
			r = file_create_at(dst, de->d_name, data, len, 0600);
		if (r < 0)
			r = pawl_error_prefix(r, "the fetcher's mirror in %s/" WORK ": ",
					      a->c->state_dir);
	}
	closedir(d);
	return r;
}

/* With privilege separation: run the unprivileged fetcher, then point o
 * at the root-only copy of the metadata it mirrored. */
int agent_fetch_unprivileged(struct agent *a, pawl_updater_opts *o)
{
	struct passwd *pw = getpwnam(a->c->user);
	pawl_updater_opts fo = *o;
	privsep_job job = { 0 };
	privsep_fetcher f;
	char root[4200];

	if (!pw)
		return pawl_error_set(PAWL_E_INVALID, "user %s does not exist", a->c->user);
	a->fetcher_uid = pw->pw_uid;
	a->fetcher_gid = pw->pw_gid;
	if (a->state_fd < 0)
		GUARD(agent_open_state(a));
	GUARD(fetcher_workdir(a));
	snprintf(root, sizeof(root), "%s/root.json", a->metadata_dir);
	GUARD(file_read_all(root, PAWL_DEFAULT_MAX_ROOT, &a->seed_root, &a->seed_len));
	agent_say(a, "fetching as %s", pw->pw_name);
	/* Who the fetcher is: what root set up here, never what it says. */
	f = (privsep_fetcher){ pw->pw_name, pw->pw_uid, pw->pw_gid, a->work_fd, a->c->state_dir };
	fo.metadata_urls = (const char *const *)a->c->metadata_urls;
	fo.n_metadata_urls = (size_t)a->c->n_metadata_urls;
	fo.target_urls = (const char *const *)a->c->target_urls;
	fo.n_target_urls = (size_t)a->c->n_target_urls;
	job.opts = &fo;
	job.seed_root = a->seed_root;
	job.seed_len = a->seed_len;
	job.choose = fetcher_choose;
	job.choose_ctx = a;
	job.refresh_only = a->refresh_only;
	job.progress = a->progress;
	GUARD(privsep_run(&f, &job, a->log));
	/* The root side: the same client, from its own trust, against its
	 * own copy of what the child mirrored; no network. The artifact is
	 * taken from the child's mirror after the refresh
	 * (open_fetched_artifact). */
	GUARD(take_mirror(a));
	if ((size_t)snprintf(a->incoming_url, sizeof(a->incoming_url), "file://%s/incoming/",
			     a->c->state_dir) >= sizeof(a->incoming_url))
		return pawl_error_set(PAWL_E_INVALID, "state_dir %s is too long", a->c->state_dir);
	a->incoming_urls[0] = a->incoming_url;
	o->metadata_urls = a->incoming_urls;
	o->n_metadata_urls = 1;
	o->target_urls = NULL;
	o->n_target_urls = 0;
	return 0;
}

/* The artifact the fetcher downloaded for t, opened (read-only) from its
 * mirror without following anything: install_release checks it against
 * t's signed length and hashes as it copies it. */
int agent_open_fetched_artifact(struct agent *a, pawl_updater *u, const pawl_target *t,
				 int *ret_fd)
{
	_cleanup_buf_ pawl_buf rel = PAWL_BUF_INIT(16384);
	_cleanup_buf_ pawl_buf path = PAWL_BUF_INIT(16400);
	int r;

	GUARD(target_url_path(u, t, &rel));
	GUARD(buf_printf(&path, "mirror/targets/%s", rel.data));
	r = file_open_owned_at(a->work_fd, path.data, a->fetcher_uid, ret_fd);
	if (r < 0)
		return pawl_error_prefix(r, "the fetcher's download of %s in %s/" WORK ": ",
					 pawl_target_path(t), a->c->state_dir);
	return 0;
}

bool agent_privsep(const agent_config *c)
{
	return geteuid() == 0 && c->user;
}

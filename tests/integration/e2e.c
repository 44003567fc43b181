/*
 * e2e.c - see e2e.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2e.h"
#include "util/clock.h"

extern char **environ;

/* ---- nginx ---- */

int e2e_nginx_start(e2e_server *s, const char *docroot)
{
	const char *src = getenv("PAWL_SRCDIR");
	char cmd[4096], line[1024];
	char *end;
	FILE *p;
	long port;
	int st;

	memset(s, 0, sizeof(*s));
	if (!src) {
		print_error("PAWL_SRCDIR is not set\n");
		return -1;
	}
	snprintf(s->docroot, sizeof(s->docroot), "%s", docroot);
	/* --owner: should this process die without stopping it, nginx.sh's
	 * watchdog does. */
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/integration/nginx.sh' start '%s' --owner %ld", src,
		 docroot, (long)getpid());
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	st = pclose(p);
	if (st != 0 || !line[0]) {
		print_error("nginx could not be started (%s): status %d\n", cmd, st);
		return -1;
	}
	line[strcspn(line, "\n")] = '\0';
	errno = 0;
	port = strtol(line, &end, 10);
	if (errno || end == line || *end != ' ' || port <= 0 || port > 65535)
		return -1;
	snprintf(s->state, sizeof(s->state), "%s", end + 1);
	s->port = (int)port;
	return 0;
}

void e2e_nginx_stop(e2e_server *s)
{
	const char *src = getenv("PAWL_SRCDIR");
	char cmd[2048];

	if (!s->port || !src)
		return;
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/integration/nginx.sh' stop '%s'", src, s->state);
	if (system(cmd) != 0)
		print_error("stopping nginx in %s failed\n", s->state);
	s->port = 0;
}

const char *e2e_url(const e2e_server *s, const char *path)
{
	static char bufs[8][2048];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "http://127.0.0.1:%d/%s", s->port, path);
	return b;
}

/* ---- running pawl ---- */

static char *slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *p = malloc(cap);
	ssize_t n;

	assert_non_null(p);
	if (lseek(fd, 0, SEEK_SET) < 0)
		fail_msg("lseek: %s", strerror(errno));
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			p = realloc(p, cap);
			assert_non_null(p);
		}
		n = read(fd, p + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	p[len] = '\0';
	return p;
}

static int tmpfile_fd(void)
{
	char tmpl[] = "/tmp/pawl-e2e-out-XXXXXX";
	int fd = mkstemp(tmpl);

	if (fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	unlink(tmpl);
	return fd;
}

/*
 * The clock specification of e2e_pawl as seconds to add to the real clock:
 * "+N[smhd]" moves it forward, "@YYYY-MM-DD hh:mm:ss" (UTC) sets it.
 */
static long long clock_offset(const char *spec)
{
	char *end;
	long long n;

	if (spec[0] == '+' || spec[0] == '-') {
		errno = 0;
		n = strtoll(spec + 1, &end, 10);
		if (errno || end == spec + 1)
			fail_msg("bad clock specification \"%s\"", spec);
		switch (*end) {
		case 's': case '\0': break;
		case 'm': n *= 60; break;
		case 'h': n *= 3600; break;
		case 'd': n *= 86400; break;
		default: fail_msg("bad clock specification \"%s\"", spec);
		}
		return spec[0] == '-' ? -n : n;
	}
	if (spec[0] == '@' && strlen(spec) == 20) {
		char iso[21];
		int64_t t;

		memcpy(iso, spec + 1, 19);
		iso[10] = 'T';
		iso[19] = 'Z';
		iso[20] = '\0';
		if (pawl_time_parse(iso, &t) != 0)
			fail_msg("bad clock specification \"%s\"", spec);
		return (long long)t - (long long)time(NULL);
	}
	fail_msg("bad clock specification \"%s\"", spec);
	return 0;
}

/* environ, plus LD_PRELOAD of the test-only clock library and its offset. */
static char **clock_env(const char *spec, char *preload, size_t plen, char *off, size_t olen)
{
	const char *lib = getenv("PAWL_FAKECLOCK");
	size_t n = 0, k = 0;
	char **env;

	if (!lib || !*lib)
		fail_msg("PAWL_FAKECLOCK is not set (run the tests through meson test)");
	snprintf(preload, plen, "LD_PRELOAD=%s", lib);
	snprintf(off, olen, "PAWL_FAKECLOCK_OFFSET=%lld", clock_offset(spec));
	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	assert_non_null(env);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "PAWL_FAKECLOCK_OFFSET=", 22) != 0)
			env[k++] = environ[i];
	env[k++] = preload;
	env[k++] = off;
	env[k] = NULL;
	return env;
}

void e2e_pawl(e2e_run *r, const char *clockspec, const char *const *argv)
{
	const char *bdir = getenv("PAWL_BUILDDIR");
	char pawl[4096], preload[4200], off[64];
	const char *args[256];
	size_t n = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int outfd = tmpfile_fd(), errfd = tmpfile_fd();
	char **env = environ;
	pid_t pid;
	int st, rc;
	struct timespec start, now;

	memset(r, 0, sizeof(*r));
	if (!bdir)
		fail_msg("PAWL_BUILDDIR is not set");
	snprintf(pawl, sizeof(pawl), "%s/pawl", bdir);
	if (clockspec)
		env = clock_env(clockspec, preload, sizeof(preload), off, sizeof(off));
	args[n++] = pawl;
	for (size_t i = 0; argv[i]; i++) {
		assert_true(n < 255);
		args[n++] = argv[i];
	}
	args[n] = NULL;

	/* Its own process group, so that giving up kills whatever it started. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	rc = posix_spawn(&pid, args[0], &fa, &attr, (char *const *)args, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (env != environ)
		free(env);
	if (rc != 0)
		fail_msg("cannot run %s: %s", args[0], strerror(rc));

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > E2E_TIMEOUT) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("pawl did not finish in %d s; its process group was killed",
				 E2E_TIMEOUT);
		}
		usleep(2000);
	}
	/* Nothing it left behind outlives it either. */
	kill(-pid, SIGKILL);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp_fd(outfd);
	r->err = slurp_fd(errfd);
	close(outfd);
	close(errfd);
}

void e2e_run_free(e2e_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void e2e_expect(const e2e_run *r, int code, ...)
{
	va_list ap;
	const char *s;
	bool ok = r->status == code;

	va_start(ap, code);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (!strstr(r->err, s)) {
			print_error("stderr lacks \"%s\"\n", s);
			ok = false;
		}
	va_end(ap);
	if (!ok) {
		print_error("pawl exited %d (want %d)\nstderr:\n%s\nstdout:\n%s\n", r->status, code,
			    r->err, r->out);
		fail();
	}
}

/* ---- access log ---- */

static const char *log_path(const e2e_server *s)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/access.log", s->state);
	return p;
}

size_t e2e_log_mark(const e2e_server *s)
{
	struct stat st;

	return stat(log_path(s), &st) == 0 ? (size_t)st.st_size : 0;
}

static bool parse_line(const char *line, e2e_req *q)
{
	const char *a = strchr(line, '"'), *b, *sp1, *sp2;

	if (!a)
		return false;
	a++;
	b = strchr(a, '"');
	if (!b)
		return false;
	sp1 = memchr(a, ' ', (size_t)(b - a));
	if (!sp1)
		return false;
	sp2 = sp1 + 1;
	while (sp2 < b && *sp2 != ' ')
		sp2++;
	snprintf(q->method, sizeof(q->method), "%.*s", (int)(sp1 - a), a);
	snprintf(q->path, sizeof(q->path), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
	q->status = (int)strtol(b + 1, NULL, 10);
	/* ... STATUS BYTES "RANGE" "UA": nginx writes "-" for no header. */
	q->range[0] = '\0';
	a = strchr(b + 1, '"');
	if (a && (b = strchr(a + 1, '"')) != NULL && !(b - a == 2 && a[1] == '-'))
		snprintf(q->range, sizeof(q->range), "%.*s", (int)(b - a - 1), a + 1);
	return true;
}

void e2e_log_since(const e2e_server *s, size_t mark, e2e_reqs *ret)
{
	size_t last = (size_t)-1, cur;
	FILE *f;
	char line[8192];

	/* nginx logs a request when it has finished it, which may be a
	 * moment after the client saw the last byte. */
	for (int i = 0; i < 100; i++) {
		cur = e2e_log_mark(s);
		if (cur == last)
			break;
		last = cur;
		usleep(15000);
	}
	memset(ret, 0, sizeof(*ret));
	f = fopen(log_path(s), "r");
	assert_non_null(f);
	if (fseek(f, (long)mark, SEEK_SET) != 0)
		fail_msg("fseek in access log");
	while (fgets(line, sizeof(line), f)) {
		e2e_req q;

		if (!parse_line(line, &q))
			continue;
		ret->v = realloc(ret->v, (ret->n + 1) * sizeof(*ret->v));
		assert_non_null(ret->v);
		ret->v[ret->n++] = q;
	}
	fclose(f);
}

void e2e_reqs_free(e2e_reqs *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

size_t e2e_reqs_count(const e2e_reqs *r, const char *path, bool suffix)
{
	size_t n = 0, pl = strlen(path);

	for (size_t i = 0; i < r->n; i++) {
		size_t l = strlen(r->v[i].path);

		if (suffix ? (l >= pl && strcmp(r->v[i].path + l - pl, path) == 0)
			   : strcmp(r->v[i].path, path) == 0)
			n++;
	}
	return n;
}

char *e2e_reqs_str(const e2e_reqs *r)
{
	size_t cap = 64;
	char *s;

	for (size_t i = 0; i < r->n; i++)
		cap += strlen(r->v[i].path) + 8;
	s = malloc(cap);
	assert_non_null(s);
	s[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		size_t l = strlen(s);

		snprintf(s + l, cap - l, "%d %s\n", r->v[i].status, r->v[i].path);
	}
	return s;
}

/* ---- files ---- */

static struct {
	char **lines;
	size_t n;
	size_t baselen;
} walk;

static int digest_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	char line[8192], hex[65];
	uint8_t md[HASH_MAX_LEN];
	const char *rel = p + walk.baselen;
	size_t len;
	char *data;

	(void)ftw;
	if (flag != FTW_F)
		return 0;
	if (strcmp(p + ftw->base, ".lock") == 0)
		return 0;
	data = t_read_file(p, &len);
	if (hash_once(HASH_SHA256, data, len, md) < 0)
		fail_msg("hash_once");
	free(data);
	hex_encode(hex, md, 32);
	snprintf(line, sizeof(line), "%s %lld %s", rel, (long long)st->st_size, hex);
	walk.lines = realloc(walk.lines, (walk.n + 1) * sizeof(char *));
	assert_non_null(walk.lines);
	walk.lines[walk.n] = strdup(line);
	assert_non_null(walk.lines[walk.n]);
	walk.n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *e2e_dir_digest(const char *dir)
{
	size_t cap = 1;
	char *s;

	memset(&walk, 0, sizeof(walk));
	walk.baselen = strlen(dir);
	if (e2e_exists(dir))
		nftw(dir, digest_one, 16, FTW_PHYS);
	if (walk.n)
		qsort(walk.lines, walk.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < walk.n; i++)
		cap += strlen(walk.lines[i]) + 1;
	s = malloc(cap);
	assert_non_null(s);
	s[0] = '\0';
	for (size_t i = 0, off = 0; i < walk.n; i++) {
		size_t l = strlen(walk.lines[i]);

		memcpy(s + off, walk.lines[i], l);
		s[off + l] = '\n';
		off += l + 1;
		s[off] = '\0';
		free(walk.lines[i]);
	}
	free(walk.lines);
	memset(&walk, 0, sizeof(walk));
	return s;
}

size_t e2e_dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

bool e2e_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

const char *e2e_path(const char *dir, const char *name)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

void e2e_mkdir_p(const char *path)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", tmp, strerror(errno));
}

void e2e_assert_file(const char *path, const void *data, size_t len)
{
	size_t n;
	char *got;

	if (!e2e_exists(path))
		fail_msg("%s does not exist", path);
	got = t_read_file(path, &n);
	if (n != len || memcmp(got, data, len) != 0) {
		free(got);
		fail_msg("%s does not hold the expected %zu bytes (has %zu)", path, len, n);
	}
	free(got);
}

/* ---- clients ---- */

void e2e_client_init(e2e_client *c, const e2e_server *s, const char *repo,
		     const char *root_path)
{
	char p[1024];
	e2e_run r;
	const char *argv[] = { "--metadata-dir", NULL, "init", root_path, NULL };

	memset(c, 0, sizeof(*c));
	c->tmp = t_mkdtemp();
	snprintf(c->mdir, sizeof(c->mdir), "%s/metadata", c->tmp);
	snprintf(c->tdir, sizeof(c->tdir), "%s/targets", c->tmp);
	argv[1] = c->mdir;
	snprintf(p, sizeof(p), "%s/metadata/", repo);
	e2e_client_set_murls(c, s, (const char *const[]){ p }, 1);
	snprintf(p, sizeof(p), "%s/targets/", repo);
	e2e_client_set_turls(c, s, (const char *const[]){ p }, 1);
	e2e_pawl(&r, NULL, argv);
	E2E_EXPECT(&r, 0, "trusting");
	e2e_run_free(&r);
}

void e2e_client_set_murls(e2e_client *c, const e2e_server *s, const char *const *paths,
			  size_t n)
{
	assert_true(n <= E2E_MAX_URLS);
	for (size_t i = 0; i < n; i++) {
		snprintf(c->url_buf[i], sizeof(c->url_buf[i]), "%s", e2e_url(s, paths[i]));
		c->murls[i] = c->url_buf[i];
	}
	c->n_murls = n;
}

void e2e_client_set_turls(e2e_client *c, const e2e_server *s, const char *const *paths,
			  size_t n)
{
	assert_true(n <= E2E_MAX_URLS);
	for (size_t i = 0; i < n; i++) {
		char *b = c->url_buf[E2E_MAX_URLS + i];

		snprintf(b, sizeof(c->url_buf[0]), "%s", e2e_url(s, paths[i]));
		c->turls[i] = b;
	}
	c->n_turls = n;
}

void e2e_client_free(e2e_client *c)
{
	if (c->tmp) {
		t_rm_rf(c->tmp);
		free(c->tmp);
	}
	memset(c, 0, sizeof(*c));
}

static void client_run(e2e_run *r, const e2e_client *c, const char *clockspec, const char *cmd,
		       const char *const *targets, const char *const *extra)
{
	const char *argv[256];
	size_t n = 0;

#define PUSH(x)                                                                \
	do {                                                                   \
		assert_true(n < 255);                                          \
		argv[n++] = (x);                                               \
	} while (0)
	for (size_t i = 0; extra && extra[i]; i++)
		PUSH(extra[i]);
	PUSH("--metadata-dir");
	PUSH(c->mdir);
	for (size_t i = 0; i < c->n_murls; i++) {
		PUSH("--metadata-url");
		PUSH(c->murls[i]);
	}
	if (targets) {
		for (size_t i = 0; targets[i]; i++) {
			PUSH("--target-name");
			PUSH(targets[i]);
		}
		for (size_t i = 0; i < c->n_turls; i++) {
			PUSH("--target-base-url");
			PUSH(c->turls[i]);
		}
		PUSH("--target-dir");
		PUSH(c->tdir);
	}
	PUSH(cmd);
#undef PUSH
	argv[n] = NULL;
	e2e_pawl(r, clockspec, argv);
}

void e2e_refresh(e2e_run *r, const e2e_client *c, const char *clockspec,
		 const char *const *extra)
{
	client_run(r, c, clockspec, "refresh", NULL, extra);
}

void e2e_download(e2e_run *r, const e2e_client *c, const char *clockspec,
		  const char *const *targets, const char *const *extra)
{
	client_run(r, c, clockspec, "download", targets, extra);
}

const char *e2e_target_file(const e2e_client *c, const char *path)
{
	static char bufs[4][4096 * 3 + 700];
	static int next;
	char *b = bufs[next++ % 4];
	size_t o;

	o = (size_t)snprintf(b, sizeof(bufs[0]), "%s/", c->tdir);
	for (size_t i = 0; path[i] && o + 4 < sizeof(bufs[0]); i++) {
		unsigned char ch = (unsigned char)path[i];
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
			     (ch == '.' && i > 0);

		if (plain) {
			b[o++] = (char)ch;
		} else {
			snprintf(b + o, 4, "%%%02X", ch);
			o += 3;
		}
	}
	b[o] = '\0';
	return b;
}

/*
 * e2e.h - the harness for the end-to-end client tests: one nginx per test
 * program (tests/integration/nginx.sh) serving a docroot on 127.0.0.1,
 * build/pawl run as a separate process (optionally with a moved clock), the
 * requests nginx saw, and fingerprints of directories so that a test can
 * prove a refused update left the trusted metadata exactly as it was.
 *
 * Everything here fails the current cmocka test on an unexpected error;
 * it is test code, not library code.
 */
#ifndef PAWL_E2E_H
#define PAWL_E2E_H

#include <stdbool.h>
#include <stddef.h>

#include "testing.h"

typedef struct e2e_server {
	int port;
	char state[512];
	char docroot[512];
} e2e_server;

/* Start nginx.sh on docroot; fails the test (and returns -1) when it cannot
 * (group setups call this, so it must not use cmocka asserts). */
int e2e_nginx_start(e2e_server *s, const char *docroot);
void e2e_nginx_stop(e2e_server *s);

/* "http://127.0.0.1:PORT/<path>" in one of a few rotating static buffers. */
const char *e2e_url(const e2e_server *s, const char *path);

/* ---- running build/pawl ---- */

typedef struct e2e_run {
	int status;  /* exit code; 128+N when killed by signal N */
	char *out;   /* stdout, NUL-terminated */
	char *err;   /* stderr, NUL-terminated */
} e2e_run;

/* Seconds a run of build/pawl may take before the harness gives up: far
 * above any real run, with margin for the sanitizer build on two busy
 * cores. */
#define E2E_TIMEOUT 90

/* Run $PAWL_BUILDDIR/pawl with argv (NULL-terminated, without argv[0]), in
 * a process group of its own.
 * clockspec, when not NULL, moves the program's wall clock through the
 * test-only preload library fakeclock.c: "+3d", "+2h" (forward from now)
 * or "@2025-02-09 12:02:08" (that instant, UTC). The program itself has no
 * way to move its clock.
 * Kills the whole process group and fails the test after E2E_TIMEOUT s. */
void e2e_pawl(e2e_run *r, const char *clockspec, const char *const *argv);
void e2e_run_free(e2e_run *r);

/* Assert the run exited with code and that stderr contains every one of
 * the NULL-terminated substrings; prints the run's output when not. */
void e2e_expect(const e2e_run *r, int code, ...);
#define E2E_EXPECT(r, code, ...) e2e_expect((r), (code), __VA_ARGS__, (const char *)NULL)

/* ---- a client: a metadata dir, a target dir and the URLs ---- */

#define E2E_MAX_URLS 4

typedef struct e2e_client {
	char *tmp;   /* owns mdir and tdir */
	char mdir[600];
	char tdir[600];
	const char *murls[E2E_MAX_URLS];
	size_t n_murls;
	const char *turls[E2E_MAX_URLS];
	size_t n_turls;
	char url_buf[2 * E2E_MAX_URLS][2048];
} e2e_client;

/* A fresh client of DOCROOT/repo on s: `pawl init root_path` must succeed,
 * metadata URL /repo/metadata/, target URL /repo/targets/. */
void e2e_client_init(e2e_client *c, const e2e_server *s, const char *repo,
		     const char *root_path);
/* Replace or add mirrors (URL paths under the server, e.g. "m1/metadata/"). */
void e2e_client_set_murls(e2e_client *c, const e2e_server *s, const char *const *paths,
			  size_t n);
void e2e_client_set_turls(e2e_client *c, const e2e_server *s, const char *const *paths,
			  size_t n);
void e2e_client_free(e2e_client *c);

/* pawl [extra...] --metadata-dir ... --metadata-url ... refresh */
void e2e_refresh(e2e_run *r, const e2e_client *c, const char *clockspec,
		 const char *const *extra);
/* pawl [extra...] ... --target-name T... --target-base-url ... --target-dir ... download */
void e2e_download(e2e_run *r, const e2e_client *c, const char *clockspec,
		  const char *const *targets, const char *const *extra);
/* The file name pawl stores target path under in c->tdir (its bytes
 * outside [A-Za-z0-9._-], and a leading '.', percent-encoded). */
const char *e2e_target_file(const e2e_client *c, const char *path);

/* ---- nginx's access log ---- */

typedef struct e2e_req {
	char method[16];
	char path[4096]; /* as sent: still percent-encoded */
	int status;
	char range[128];  /* the Range header, "" when none */
} e2e_req;

typedef struct e2e_reqs {
	e2e_req *v;
	size_t n;
} e2e_reqs;

/* The current end of the access log. */
size_t e2e_log_mark(const e2e_server *s);
/* The requests logged after mark (waits until the log stops growing). */
void e2e_log_since(const e2e_server *s, size_t mark, e2e_reqs *ret);
void e2e_reqs_free(e2e_reqs *r);
/* How many logged requests have exactly this path (or end in it when
 * suffix is true). */
size_t e2e_reqs_count(const e2e_reqs *r, const char *path, bool suffix);
/* The requests as one string "STATUS PATH\n..." for messages. */
char *e2e_reqs_str(const e2e_reqs *r);

/* ---- files ---- */

/* A fingerprint of every file under dir (relative path, size, SHA-256),
 * sorted, ignoring the lock file; "" for a missing dir. malloc'd. */
char *e2e_dir_digest(const char *dir);
/* Number of entries (files or dirs, hidden ones included) directly in dir;
 * 0 when dir does not exist. */
size_t e2e_dir_count(const char *dir);
bool e2e_exists(const char *path);
/* path joined: "%s/%s" in a rotating static buffer. */
const char *e2e_path(const char *dir, const char *name);
void e2e_mkdir_p(const char *path);
/* Assert that file path holds exactly data (len bytes). */
void e2e_assert_file(const char *path, const void *data, size_t len);

#endif

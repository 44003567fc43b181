/*
 * grub.c - the GRUB backend: RAUC's ORDER / X_OK / X_TRY variables in a
 * GRUB environment block, read with `grub-editenv FILE list` and written
 * with `grub-editenv FILE set NAME=VALUE...` (grub-common).
 *
 * grub-editenv rewrites the block in place (O_TRUNC, write, fsync), so a
 * power cut at the wrong instant leaves GRUB an empty file; it also
 * creates a missing file silently. So every change is made on a copy:
 * the block is read through openat(O_NOFOLLOW), checked to be a GRUB
 * environment block, copied to ".NAME.pawl-new" beside it (O_EXCL, same
 * mode and owner), changed there by grub-editenv in one call, fsynced and
 * renamed over NAME, and the directory fsynced. GRUB sees the old block or
 * the new one. boot_open has checked (boot_check_owner) that only root
 * can write that directory, so nobody can swap the copy for a link while
 * grub-editenv, running as root, opens it by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_impl.h"

#define GRUB_LIST_MAX (64 * 1024)   /* grub-editenv list output */
#define GRUB_ENV_MAX (1024 * 1024)  /* a grubenv file (GRUB writes 1024) */
#define GRUB_ENV_HEADER "# GRUB Environment Block\n"

typedef struct grub_priv {
	char *dir;  /* the directory holding the block */
	char *base; /* its name there */
	char *tmp;  /* ".NAME.pawl-new" */
	char *tmp_path;
} grub_priv;

/* ---------------- parsing grub-editenv list ---------------- */

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

int grub_list_get(const char *text, size_t len, const char *name, const char **ret,
		  size_t *ret_len, const char *what)
{
	pawl_cursor c = cursor_init(text, len);
	size_t want = strlen(name);
	const char *found = NULL;
	size_t found_len = 0, line_no = 0;

	ENSURE(text || len == 0, PAWL_E_INVALID, "%s: no text", what);
	while (c.left > 0) {
		const char *line = (const char *)c.p, *eol, *eq;
		size_t n, nlen;

		line_no++;
		eol = memchr(line, '\n', c.left);
		ENSURE(eol, PAWL_E_FORMAT, "%s: line %zu does not end in a newline", what, line_no);
		n = (size_t)(eol - line);
		ENSURE(!memchr(line, '\0', n), PAWL_E_FORMAT, "%s: line %zu holds a NUL byte", what,
		       line_no);
		eq = memchr(line, '=', n);
		ENSURE(eq && eq != line, PAWL_E_FORMAT,
		       "%s: line %zu is not NAME=VALUE (a value with a newline?)", what, line_no);
		nlen = (size_t)(eq - line);
		for (size_t i = 0; i < nlen; i++)
			ENSURE(name_char(line[i]), PAWL_E_FORMAT,
			       "%s: line %zu: variable name with a byte other than A-Z a-z 0-9 _",
			       what, line_no);
		if (nlen == want && memcmp(line, name, want) == 0) {
			/* Twice: which one GRUB takes is not ours to guess. */
			ENSURE(!found, PAWL_E_FORMAT, "%s: variable %s is set twice", what, name);
			found = eq + 1;
			found_len = n - nlen - 1;
		}
		if (!cursor_skip(&c, n + 1))
			break;
	}
	ENSURE(found, PAWL_E_NOT_FOUND, "%s: variable %s is not set", what, name);
	*ret = found;
	*ret_len = found_len;
	return 0;
}

/* "0" or "1", nothing else (the shipped grub.cfg compares strings). */
static int flag_value(const char *text, size_t len, const char *name, bool *ret,
		      const char *what)
{
	const char *v;
	size_t n;

	GUARD(grub_list_get(text, len, name, &v, &n, what));
	ENSURE(n == 1 && (v[0] == '0' || v[0] == '1'), PAWL_E_FORMAT,
	       "%s: %s=\"%.*s\" is neither 0 nor 1", what, name, (int)(n > 32 ? 32 : n), v);
	*ret = v[0] == '1';
	return 0;
}

/* ---------------- the block on disk ---------------- */

/* Open the directory and check the block is there and is one. */
static int check_block(boot_backend *b, int *ret_dirfd, struct stat *ret_st, pawl_buf *ret_data)
{
	grub_priv *g = b->priv;
	_cleanup_close_ int dirfd = -1, fd = -1;
	char chunk[4096];
	struct stat st = { 0 };

	dirfd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "grubenv %s: directory", b->path);
	fd = openat(dirfd, g->base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "grubenv %s%s", b->path,
					    errno == ENOENT ? " (create it: grub-editenv FILE create)"
							    : "");
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "grubenv %s", b->path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_FORMAT, "grubenv %s: not a regular file", b->path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "grubenv %s", b->path);
		if (n == 0)
			break;
		if (buf_append(ret_data, chunk, (size_t)n) < 0)
			return pawl_error_set(PAWL_E_LIMIT, "grubenv %s: larger than %d bytes",
					      b->path, GRUB_ENV_MAX);
	}
	ENSURE(ret_data->len >= sizeof(GRUB_ENV_HEADER) - 1 &&
		       memcmp(ret_data->data, GRUB_ENV_HEADER, sizeof(GRUB_ENV_HEADER) - 1) == 0,
	       PAWL_E_FORMAT, "grubenv %s: not a GRUB environment block (no \"%s\" header)",
	       b->path, "# GRUB Environment Block");
	*ret_st = st;
	*ret_dirfd = TAKE_FD(dirfd);
	return 0;
}

/* Read the variables: the list output in r->out. */
static int env_list(boot_backend *b, boot_run *r, const char *op)
{
	_cleanup_buf_ pawl_buf data = PAWL_BUF_INIT(GRUB_ENV_MAX);
	_cleanup_close_ int dirfd = -1;
	char what[PATH_MAX + 64];
	struct stat st = { 0 };
	char *argv[] = { b->editenv, b->path, (char *)"list", NULL };

	GUARD(check_block(b, &dirfd, &st, &data));
	snprintf(what, sizeof(what), "grubenv %s (%s)", b->path, op);
	r->out.max = GRUB_LIST_MAX;
	return boot_spawn_ok(argv, BOOT_DEFAULT_EDITENV_TIMEOUT_MS, r, what);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Set the variables (NAME=VALUE strings) in one write of the block. */
static int env_set(boot_backend *b, char *const assign[], size_t n, const char *op)
{
	grub_priv *g = b->priv;
	_cleanup_buf_ pawl_buf data = PAWL_BUF_INIT(GRUB_ENV_MAX);
	_cleanup_close_ int dirfd = -1, fd = -1;
	boot_run r = { 0, PAWL_BUF_INIT(GRUB_LIST_MAX), "" };
	char what[PATH_MAX + 64];
	char *argv[3 + 3 + 1];
	struct stat st = { 0 };
	int ret = 0, e;

	ENSURE(n > 0 && n <= 3, PAWL_E_INVALID, "grubenv: %zu variables to set", n);
	GUARD(check_block(b, &dirfd, &st, &data));
	snprintf(what, sizeof(what), "grubenv %s (%s)", b->path, op);

	/* A copy left by a killed run is ours to replace. */
	if (unlinkat(dirfd, g->tmp, 0) < 0 && errno != ENOENT)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: removing %s", what, g->tmp_path);
	fd = openat(dirfd, g->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		    0600);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: creating %s", what, g->tmp_path);
	if ((e = write_all(fd, data.data, data.len)) < 0) {
		ret = pawl_error_set_errno(PAWL_E_IO, -e, "%s: writing %s", what, g->tmp_path);
		goto out;
	}
	/* The block keeps its owner and mode (some file systems, vfat,
	 * cannot change them: there they already match). */
	if (fchmod(fd, st.st_mode & 07777) < 0 && errno != EPERM) {
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: chmod %s", what, g->tmp_path);
		goto out;
	}
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) < 0) {
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: chown %s", what, g->tmp_path);
		goto out;
	}
	argv[0] = b->editenv;
	argv[1] = g->tmp_path;
	argv[2] = (char *)"set";
	for (size_t i = 0; i < n; i++)
		argv[3 + i] = assign[i];
	argv[3 + n] = NULL;
	GUARD_GOTO(ret, boot_spawn_ok(argv, BOOT_DEFAULT_EDITENV_TIMEOUT_MS, &r, what), out);
	/* grub-editenv wrote through its own descriptor; ours is the same
	 * file, and fsync covers the file whoever wrote it. */
	if (fsync(fd) < 0) {
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: fsync %s", what, g->tmp_path);
		goto out;
	}
	if (renameat(dirfd, g->tmp, dirfd, g->base) < 0) {
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: renaming %s over it", what,
					   g->tmp_path);
		goto out;
	}
	/* The new block is in place; only its durability is left. */
	if (fsync(dirfd) < 0 && errno != EINVAL)
		ret = pawl_error_set_errno(PAWL_E_IO, errno, "%s: fsync of %s", what, g->dir);
	buf_free(&r.out);
	return ret;
out:
	(void)unlinkat(dirfd, g->tmp, 0);
	buf_free(&r.out);
	return ret;
}

/* ---------------- the operations ---------------- */

static int read_order(const boot_run *r, boot_slot order[2], size_t *n, const char *what)
{
	const char *v;
	size_t len;

	GUARD(grub_list_get(r->out.data ? r->out.data : "", r->out.len, "ORDER", &v, &len, what));
	return boot_order_parse(v, len, order, n, "ORDER", what);
}

/* X_OK=1 and X_TRY=0: what the shipped grub.cfg boots. */
static int slot_bootable(const boot_run *r, boot_slot s, bool *ret, const char *what)
{
	const char *text = r->out.data ? r->out.data : "";
	char name[8];
	bool ok, tried;

	snprintf(name, sizeof(name), "%s_OK", boot_slot_bootname(s));
	GUARD(flag_value(text, r->out.len, name, &ok, what));
	snprintf(name, sizeof(name), "%s_TRY", boot_slot_bootname(s));
	GUARD(flag_value(text, r->out.len, name, &tried, what));
	*ret = ok && !tried;
	return 0;
}

static int grub_get_primary(boot_backend *b, boot_slot *ret)
{
	boot_run r = { 0, PAWL_BUF_INIT(GRUB_LIST_MAX), "" };
	char what[PATH_MAX + 32];
	boot_slot order[2];
	size_t n = 0;
	int rc;

	snprintf(what, sizeof(what), "grubenv %s (get-primary)", b->path);
	GUARD_GOTO(rc, env_list(b, &r, "get-primary"), out);
	GUARD_GOTO(rc, read_order(&r, order, &n, what), out);
	for (size_t i = 0; i < n; i++) {
		bool good;

		GUARD_GOTO(rc, slot_bootable(&r, order[i], &good, what), out);
		if (good) {
			*ret = order[i];
			rc = 0;
			goto out;
		}
	}
	rc = pawl_error_set(PAWL_E_NOT_FOUND, "%s: no slot in ORDER has _OK=1 and _TRY=0", what);
out:
	buf_free(&r.out);
	return rc;
}

static int grub_get_state(boot_backend *b, boot_slot slot, boot_state *ret)
{
	boot_run r = { 0, PAWL_BUF_INIT(GRUB_LIST_MAX), "" };
	char what[PATH_MAX + 32], op[16];
	boot_slot order[2];
	bool listed = false, good = false;
	size_t n = 0;
	int rc;

	snprintf(op, sizeof(op), "get-state %s", boot_slot_name(slot));
	snprintf(what, sizeof(what), "grubenv %s (%s)", b->path, op);
	GUARD_GOTO(rc, env_list(b, &r, op), out);
	GUARD_GOTO(rc, read_order(&r, order, &n, what), out);
	for (size_t i = 0; i < n; i++)
		listed |= order[i] == slot;
	/* A slot GRUB will not try is not good, whatever its flags say. */
	if (listed)
		GUARD_GOTO(rc, slot_bootable(&r, slot, &good, what), out);
	*ret = good ? BOOT_GOOD : BOOT_BAD;
	rc = 0;
out:
	buf_free(&r.out);
	return rc;
}

static int grub_set_primary(boot_backend *b, boot_slot slot)
{
	char ok[8], try[8], order[16], op[24];
	char *assign[3] = { ok, try, order };

	snprintf(ok, sizeof(ok), "%s_OK=1", boot_slot_bootname(slot));
	snprintf(try, sizeof(try), "%s_TRY=0", boot_slot_bootname(slot));
	snprintf(order, sizeof(order), "ORDER=%s %s", boot_slot_bootname(slot),
		 boot_slot_bootname(boot_slot_other(slot)));
	snprintf(op, sizeof(op), "set-primary %s", boot_slot_name(slot));
	return env_set(b, assign, 3, op);
}

static int grub_set_state(boot_backend *b, boot_slot slot, boot_state st)
{
	char ok[8], try[8], op[32];
	char *assign[2] = { ok, try };

	snprintf(ok, sizeof(ok), "%s_OK=%d", boot_slot_bootname(slot), st == BOOT_GOOD);
	snprintf(try, sizeof(try), "%s_TRY=0", boot_slot_bootname(slot));
	snprintf(op, sizeof(op), "set-state %s %s", boot_slot_name(slot), boot_state_name(st));
	return env_set(b, assign, 2, op);
}

static void grub_free(boot_backend *b)
{
	grub_priv *g = b->priv;

	if (!g)
		return;
	free(g->dir);
	free(g->base);
	free(g->tmp);
	free(g->tmp_path);
	free(g);
	b->priv = NULL;
}

static const boot_ops grub_ops = {
	.name = "grub",
	.get_primary = grub_get_primary,
	.set_primary = grub_set_primary,
	.get_state = grub_get_state,
	.set_state = grub_set_state,
	.get_current = NULL,
	.free = grub_free,
};

int boot_grub_init(boot_backend *b)
{
	_cleanup_free_ char *d = NULL, *f = NULL;
	grub_priv *g;
	size_t n;

	b->ops = &grub_ops;
	ENSURE(b->editenv[0] == '/', PAWL_E_INVALID, "grub-editenv %s: not an absolute path",
	       b->editenv);
	g = xcalloc(1, sizeof(*g));
	if (!g)
		return PAWL_E_NOMEM;
	b->priv = g;
	d = xstrdup(b->path);
	f = xstrdup(b->path);
	if (!d || !f)
		return PAWL_E_NOMEM;
	g->dir = xstrdup(dirname(d));
	g->base = xstrdup(basename(f));
	if (!g->dir || !g->base)
		return PAWL_E_NOMEM;
	ENSURE(strcmp(g->base, "/") != 0 && strcmp(g->base, ".") != 0 &&
		       strcmp(g->base, "..") != 0 && b->path[strlen(b->path) - 1] != '/',
	       PAWL_E_INVALID, "grubenv %s: not a file name", b->path);
	n = strlen(g->base) + sizeof(".") + sizeof(".pawl-new");
	g->tmp = xmalloc(n);
	if (!g->tmp)
		return PAWL_E_NOMEM;
	snprintf(g->tmp, n, ".%s.pawl-new", g->base);
	n = strlen(g->dir) + 1 + strlen(g->tmp) + 1;
	g->tmp_path = xmalloc(n);
	if (!g->tmp_path)
		return PAWL_E_NOMEM;
	snprintf(g->tmp_path, n, "%s/%s", strcmp(g->dir, "/") == 0 ? "" : g->dir, g->tmp);
	GUARD(boot_check_owner(b->path, "grubenv"));
	/* It runs as root too. */
	return boot_check_owner(b->editenv, "grub-editenv");
}

/*
 * uboot.c - the U-Boot backend: RAUC's BOOT_ORDER / BOOT_X_LEFT variables
 * in the U-Boot environment, through libubootenv (libubootenv-dev) and the
 * fw_env.config that describes where the environment lives (an MTD or UBI
 * device, a block device, or a plain file).
 *
 * Every operation loads the environment afresh and drops it again; a
 * change sets all its variables and stores the environment once. With two
 * lines in fw_env.config, libubootenv writes the copy that is not current
 * and bumps its flag byte, so a cut write leaves the other copy (with a
 * good CRC) in force, as U-Boot's own redundant environment does.
 *
 * An environment without a copy whose CRC holds is an error, not an empty
 * environment to fill in: U-Boot would then be booting from its built-in
 * default environment, and writing one with only our variables would
 * replace bootcmd and everything else with nothing.
 *
 * Differences from RAUC, both deliberate:
 *  - set-state good puts the slot back at the end of BOOT_ORDER when a
 *    mark-bad had taken it out, so that get-state answers "good" after it
 *    (RAUC leaves it out, and its get-state then still says bad);
 *  - the variables of one operation go out in one store, not one
 *    fw_setenv call each.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libuboot.h>

#include "boot/boot_impl.h"

/* libubootenv's lock, a fixed name it opens with O_CREAT|O_TRUNC. */
#define UBOOT_LOCK_DIR "/var/lock"
#define UBOOT_LOCK_NAME "fw_printenv.lock"
#define UBOOT_VALUE_MAX 64

typedef struct uboot_env {
	struct uboot_ctx *ctx;
	char what[PATH_MAX + 64]; /* "U-Boot environment (fw_env.config X, op)" */
} uboot_env;

int uboot_check_lock_at(int dirfd, const char *name, const char *dirname)
{
	_cleanup_close_ int fd = -1;
	struct stat st, dst;

	if (fstat(dirfd, &dst) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "U-Boot lock directory %s", dirname);
	ENSURE(!(dst.st_mode & (S_IWGRP | S_IWOTH)) || (dst.st_mode & S_ISVTX), PAWL_E_POLICY,
	       "U-Boot lock directory %s: writable by others and not sticky (mode %04o)", dirname,
	       (unsigned)(dst.st_mode & 07777));
	fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
		    0644);
	if (fd < 0 && errno == ELOOP)
		return pawl_error_set(PAWL_E_POLICY,
				      "U-Boot lock %s/%s is a symbolic link: libubootenv would "
				      "truncate whatever it points at",
				      dirname, name);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "U-Boot lock %s/%s", dirname, name);
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "U-Boot lock %s/%s", dirname, name);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_POLICY, "U-Boot lock %s/%s: not a regular file",
	       dirname, name);
	ENSURE(st.st_uid == 0 || st.st_uid == geteuid(), PAWL_E_POLICY,
	       "U-Boot lock %s/%s: owned by uid %u, who could swap it for a link", dirname, name,
	       (unsigned)st.st_uid);
	return 0;
}

static int check_lock(void)
{
	_cleanup_close_ int dirfd = open(UBOOT_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* No lock directory: libubootenv's lock fails and it goes on. */
	if (dirfd < 0 && errno == ENOENT)
		return 0;
	if (dirfd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "U-Boot lock directory %s",
					    UBOOT_LOCK_DIR);
	return uboot_check_lock_at(dirfd, UBOOT_LOCK_NAME, UBOOT_LOCK_DIR);
}

static const char *uerr(int r)
{
	return strerror(r < 0 ? -r : r);
}

static void env_close(uboot_env *e)
{
	if (!e->ctx)
		return;
	/* libuboot_close also releases the lock libuboot_open took, which
	 * it takes even when the load then fails. */
	libuboot_close(e->ctx);
	libuboot_exit(e->ctx);
	e->ctx = NULL;
}

static int env_open(boot_backend *b, uboot_env *e, const char *op)
{
	int r;

	snprintf(e->what, sizeof(e->what), "U-Boot environment (%s, %s)", b->path, op);
	e->ctx = NULL;
	r = libuboot_initialize(&e->ctx, NULL);
	if (r < 0 || !e->ctx)
		return pawl_error_set(PAWL_E_NOMEM, "%s: libubootenv: %s", e->what, uerr(r));
	r = libuboot_read_config(e->ctx, b->path);
	if (r < 0) {
		libuboot_exit(e->ctx);
		e->ctx = NULL;
		return pawl_error_set(r == -EBADF ? PAWL_E_NOT_FOUND : PAWL_E_FORMAT,
				      "%s: libubootenv cannot use this configuration (%s): a "
				      "missing device or file, or a bad offset or size",
				      e->what, uerr(r));
	}
	r = check_lock();
	if (r < 0) {
		libuboot_exit(e->ctx);
		e->ctx = NULL;
		return pawl_error_prefix(r, "%s: ", e->what);
	}
	r = libuboot_open(e->ctx);
	if (r < 0) {
		env_close(e);
		if (r == -ENODATA)
			return pawl_error_set(PAWL_E_FORMAT,
					      "%s: no copy of the environment has a valid CRC; "
					      "initialise it (saveenv in U-Boot, or fw_setenv)",
					      e->what);
		return pawl_error_set(PAWL_E_IO, "%s: cannot read it (%s)", e->what, uerr(r));
	}
	return 0;
}

/* The value of name, copied into buf; PAWL_E_NOT_FOUND when unset. */
static int env_get(uboot_env *e, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *v = libuboot_get_env(e->ctx, name);
	size_t n;

	ENSURE(v, PAWL_E_NOT_FOUND, "%s: variable %s is not set", e->what, name);
	n = strlen(v);
	ENSURE(n < size, PAWL_E_FORMAT, "%s: %s is longer than %zu bytes", e->what, name,
	       size - 1);
	memcpy(buf, v, n + 1);
	return 0;
}

static int env_set(uboot_env *e, const char *name, const char *value)
{
	int r = libuboot_set_env(e->ctx, name, value);

	if (r < 0)
		return pawl_error_set(r == -EPERM ? PAWL_E_POLICY : PAWL_E_IO,
				      "%s: cannot set %s=%s (%s%s)", e->what, name, value, uerr(r),
				      r == -EPERM ? ": its .flags make it read-only" : "");
	return 0;
}

static int env_store(uboot_env *e)
{
	int r = libuboot_env_store(e->ctx);

	if (r < 0)
		return pawl_error_set(PAWL_E_IO, "%s: cannot store it (%s)", e->what,
				      r == -1 ? "write failed" : uerr(r));
	return 0;
}

/* Tries left: 1 to 8 hexadecimal digits, as RAUC writes them and U-Boot's
 * setexpr leaves them. No "0x": the boot script reads the value as
 * 0x${BOOT_X_LEFT}, so "0x3" would count as 0 there. */
static int left_parse(const char *v, const char *name, unsigned *ret, const char *what)
{
	const char *p = v;
	uint64_t x = 0;
	size_t n = 0;

	/* A ninth digit is read only to be refused. */
	for (; *p && n < 9; p++, n++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		x = x * 16 + (uint64_t)d;
	}
	ENSURE(*p == '\0' && n >= 1 && n <= 8, PAWL_E_FORMAT,
	       "%s: %s=\"%.32s\" is not a hexadecimal count", what, name, v);
	*ret = (unsigned)x;
	return 0;
}

static int get_order(uboot_env *e, boot_slot order[2], size_t *n)
{
	char v[UBOOT_VALUE_MAX];

	GUARD(env_get(e, "BOOT_ORDER", v, sizeof(v)));
	return boot_order_parse(v, strlen(v), order, n, "BOOT_ORDER", e->what);
}

static int get_left(uboot_env *e, boot_slot s, unsigned *ret)
{
	char name[16], v[UBOOT_VALUE_MAX];

	snprintf(name, sizeof(name), "BOOT_%s_LEFT", boot_slot_bootname(s));
	GUARD(env_get(e, name, v, sizeof(v)));
	return left_parse(v, name, ret, e->what);
}

static int uboot_get_primary(boot_backend *b, boot_slot *ret)
{
	uboot_env e;
	boot_slot order[2];
	size_t n = 0;
	int r;

	GUARD(env_open(b, &e, "get-primary"));
	GUARD_GOTO(r, get_order(&e, order, &n), out);
	for (size_t i = 0; i < n; i++) {
		unsigned left;

		GUARD_GOTO(r, get_left(&e, order[i], &left), out);
		if (left > 0) {
			*ret = order[i];
			r = 0;
			goto out;
		}
	}
	r = pawl_error_set(PAWL_E_NOT_FOUND, "%s: no slot in BOOT_ORDER has tries left", e.what);
out:
	env_close(&e);
	return r;
}

static int uboot_get_state(boot_backend *b, boot_slot slot, boot_state *ret)
{
	char op[16];
	uboot_env e;
	boot_slot order[2];
	bool listed = false;
	unsigned left = 0;
	size_t n = 0;
	int r;

	snprintf(op, sizeof(op), "get-state %s", boot_slot_name(slot));
	GUARD(env_open(b, &e, op));
	GUARD_GOTO(r, get_order(&e, order, &n), out);
	for (size_t i = 0; i < n; i++)
		listed |= order[i] == slot;
	if (listed)
		GUARD_GOTO(r, get_left(&e, slot, &left), out);
	*ret = listed && left > 0 ? BOOT_GOOD : BOOT_BAD;
	r = 0;
out:
	env_close(&e);
	return r;
}

/* BOOT_ORDER as a string of the slots in order[], first first. */
static void order_string(char *buf, size_t size, const boot_slot *order, size_t n)
{
	size_t k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && k + 3 <= size; i++) {
		if (i)
			buf[k++] = ' ';
		buf[k++] = boot_slot_bootname(order[i])[0];
		buf[k] = '\0';
	}
}

static int uboot_set_primary(boot_backend *b, boot_slot slot)
{
	char op[24], left[16], name[16], ordstr[8];
	boot_slot order[2], neworder[2];
	size_t n = 0, k = 0;
	uboot_env e;
	int r;

	snprintf(op, sizeof(op), "set-primary %s", boot_slot_name(slot));
	GUARD(env_open(b, &e, op));
	r = get_order(&e, order, &n);
	if (r == PAWL_E_NOT_FOUND) {
		/* No BOOT_ORDER yet: both slots, this one first (RAUC). */
		order[0] = slot;
		order[1] = boot_slot_other(slot);
		n = 2;
	} else if (r < 0) {
		goto out;
	}
	/* This slot first, the others in the order they had. */
	neworder[k++] = slot;
	for (size_t i = 0; i < n; i++)
		if (order[i] != slot)
			neworder[k++] = order[i];
	order_string(ordstr, sizeof(ordstr), neworder, k);
	snprintf(name, sizeof(name), "BOOT_%s_LEFT", boot_slot_bootname(slot));
	snprintf(left, sizeof(left), "%x", b->tries);
	GUARD_GOTO(r, env_set(&e, name, left), out);
	GUARD_GOTO(r, env_set(&e, "BOOT_ORDER", ordstr), out);
	r = env_store(&e);
out:
	env_close(&e);
	return r;
}

static int uboot_set_state(boot_backend *b, boot_slot slot, boot_state st)
{
	char op[32], left[16], name[16], ordstr[8];
	boot_slot order[2], neworder[2];
	bool have_order = true, listed = false;
	size_t n = 0, k = 0;
	uboot_env e;
	int r;

	snprintf(op, sizeof(op), "set-state %s %s", boot_slot_name(slot), boot_state_name(st));
	GUARD(env_open(b, &e, op));
	r = get_order(&e, order, &n);
	if (r == PAWL_E_NOT_FOUND)
		have_order = false; /* RAUC: then only the tries change */
	else if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		listed |= order[i] == slot;
		if (order[i] != slot)
			neworder[k++] = order[i];
	}
	snprintf(name, sizeof(name), "BOOT_%s_LEFT", boot_slot_bootname(slot));
	snprintf(left, sizeof(left), "%x", st == BOOT_GOOD ? b->tries : 0U);
	GUARD_GOTO(r, env_set(&e, name, left), out);
	/* bad: out of BOOT_ORDER (RAUC); good: back in, last, if it was out. */
	if (have_order && st == BOOT_BAD && listed) {
		order_string(ordstr, sizeof(ordstr), neworder, k);
		GUARD_GOTO(r, env_set(&e, "BOOT_ORDER", ordstr), out);
	} else if (have_order && st == BOOT_GOOD && !listed) {
		neworder[k++] = slot;
		order_string(ordstr, sizeof(ordstr), neworder, k);
		GUARD_GOTO(r, env_set(&e, "BOOT_ORDER", ordstr), out);
	}
	r = env_store(&e);
out:
	env_close(&e);
	return r;
}

static const boot_ops uboot_ops = {
	.name = "uboot",
	.get_primary = uboot_get_primary,
	.set_primary = uboot_set_primary,
	.get_state = uboot_get_state,
	.set_state = uboot_set_state,
	.get_current = NULL,
	.free = NULL,
};

#define UBOOT_CONFIG_MAX (64 * 1024)

/* Every device or file fw_env.config names is written by root by name
 * (libubootenv opens it after realpath): the way to it must be root's,
 * and a plain file must be too. A line's first word is its device, as
 * libubootenv reads it ("%ms"), less a UBI ":volume". */
static int check_devices(boot_backend *b)
{
	_cleanup_buf_ pawl_buf text = PAWL_BUF_INIT(UBOOT_CONFIG_MAX);
	_cleanup_close_ int fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char chunk[4096];
	size_t i = 0;

	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "U-Boot fw_env.config %s", b->path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "U-Boot fw_env.config %s",
						    b->path);
		if (n == 0)
			break;
		if (buf_append(&text, chunk, (size_t)n) < 0)
			return pawl_error_set(PAWL_E_LIMIT, "U-Boot fw_env.config %s: over %d bytes",
					      b->path, UBOOT_CONFIG_MAX);
	}
	while (i < text.len) {
		const char *line = text.data + i, *eol = memchr(line, '\n', text.len - i);
		size_t n = eol ? (size_t)(eol - line) : text.len - i, k = 0;
		char dev[PATH_MAX];

		i += n + 1;
		if (n == 0 || line[0] == '#')
			continue;
		while (k < n && (line[k] == ' ' || line[k] == '\t'))
			k++;
		line += k;
		n -= k;
		for (k = 0; k < n && line[k] != ' ' && line[k] != '\t' && line[k] != '\r'; k++)
			;
		if (k == 0)
			continue;
		ENSURE(k < sizeof(dev) && !memchr(line, '\0', k), PAWL_E_FORMAT,
		       "U-Boot fw_env.config %s: a device name that is too long", b->path);
		memcpy(dev, line, k);
		dev[k] = '\0';
		if (strchr(dev, ':'))
			*strchr(dev, ':') = '\0';
		ENSURE(dev[0] == '/', PAWL_E_POLICY,
		       "U-Boot fw_env.config %s: device %s is not an absolute path", b->path, dev);
		GUARD(boot_check_device(dev, "U-Boot environment device"));
	}
	return 0;
}

int boot_uboot_init(boot_backend *b)
{
	b->ops = &uboot_ops;
	/* fw_env.config says which device root writes: only root may say,
	 * and only root may decide what that name leads to. */
	GUARD(boot_check_owner(b->path, "U-Boot fw_env.config"));
	return check_devices(b);
}

/*
 * boot.c - choosing a backend from the bootloader string, the checks every
 * operation shares, the booted slot, and the file-ownership rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_impl.h"

/* The backends a bootloader string may name. The fake one is not here:
 * only tests reach it, through boot_fake_new(). */
static const struct {
	const char *name;
	int (*init)(boot_backend *b);
} backends[] = {
	{ "grub", boot_grub_init },
	{ "uboot", boot_uboot_init },
	{ "custom", boot_custom_init },
};

const char *boot_slot_name(boot_slot s)
{
	switch (s) {
	case BOOT_SLOT_A: return "a";
	case BOOT_SLOT_B: return "b";
	case BOOT_SLOT_NONE: break;
	}
	return "?";
}

int boot_slot_parse(const char *s, boot_slot *ret)
{
	ENSURE(s && ret, PAWL_E_INVALID, "no slot given");
	if (strcmp(s, "a") == 0)
		*ret = BOOT_SLOT_A;
	else if (strcmp(s, "b") == 0)
		*ret = BOOT_SLOT_B;
	else
		return pawl_error_set(PAWL_E_INVALID, "invalid slot \"%.32s\" (a or b)", s);
	return 0;
}

const char *boot_state_name(boot_state st)
{
	return st == BOOT_GOOD ? "good" : "bad";
}

static bool slot_ok(boot_slot s)
{
	return s == BOOT_SLOT_A || s == BOOT_SLOT_B;
}

void boot_free(boot_backend *b)
{
	if (!b)
		return;
	if (b->ops && b->ops->free)
		b->ops->free(b);
	free(b->path);
	free(b->editenv);
	free(b);
}

int boot_open(const char *spec, const boot_opts *opts, boot_backend **ret)
{
	boot_opts def = BOOT_OPTS_INIT;
	boot_backend *b;
	const char *colon;
	size_t nlen;
	int r;

	ENSURE(spec && ret, PAWL_E_INVALID, "no bootloader given");
	if (!opts)
		opts = &def;
	ENSURE(opts->version == BOOT_OPTS_VERSION, PAWL_E_INVALID,
	       "boot_opts version %u (want %u)", opts->version, BOOT_OPTS_VERSION);
	ENSURE(opts->tries <= BOOT_MAX_TRIES, PAWL_E_INVALID, "boot tries %u out of range (1-%d)",
	       opts->tries, BOOT_MAX_TRIES);
	ENSURE(!opts->grub_editenv || opts->grub_editenv[0] == '/', PAWL_E_INVALID,
	       "grub-editenv must be an absolute path");
	colon = strchr(spec, ':');
	ENSURE(colon, PAWL_E_INVALID,
	       "bootloader \"%.64s\": want grub:PATH, uboot:PATH or custom:PATH", spec);
	nlen = (size_t)(colon - spec);
	ENSURE(colon[1] == '/' && strlen(colon + 1) < PATH_MAX, PAWL_E_INVALID,
	       "bootloader \"%.64s\": the path after \"%.*s:\" must be absolute", spec, (int)nlen,
	       spec);

	b = xcalloc(1, sizeof(*b));
	if (!b)
		return PAWL_E_NOMEM;
	b->tries = opts->tries ? opts->tries : BOOT_DEFAULT_TRIES;
	b->timeout_ms = opts->timeout_ms ? opts->timeout_ms : BOOT_DEFAULT_SCRIPT_TIMEOUT_MS;
	b->path = xstrdup(colon + 1);
	b->editenv = xstrdup(opts->grub_editenv ? opts->grub_editenv : BOOT_DEFAULT_EDITENV);
	if (!b->path || !b->editenv) {
		boot_free(b);
		return PAWL_E_NOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		if (strlen(backends[i].name) == nlen && memcmp(backends[i].name, spec, nlen) == 0) {
			r = backends[i].init(b);
			if (r < 0) {
				boot_free(b);
				return r;
			}
			*ret = b;
			return 0;
		}
	}
	boot_free(b);
	return pawl_error_set(PAWL_E_INVALID,
			      "bootloader \"%.*s\" is not one of grub, uboot, custom",
			      (int)(nlen > 32 ? 32 : nlen), spec);
}

const char *boot_backend_name(const boot_backend *b)
{
	return b && b->ops ? b->ops->name : "?";
}

int boot_get_primary(boot_backend *b, boot_slot *ret)
{
	boot_slot s;

	ENSURE(b && ret, PAWL_E_INVALID, "boot_get_primary: no backend or output");
	GUARD(b->ops->get_primary(b, &s));
	*ret = s;
	return 0;
}

int boot_set_primary(boot_backend *b, boot_slot slot)
{
	ENSURE(b && slot_ok(slot), PAWL_E_INVALID, "boot_set_primary: no backend or no slot");
	return b->ops->set_primary(b, slot);
}

int boot_get_state(boot_backend *b, boot_slot slot, boot_state *ret)
{
	boot_state st;

	ENSURE(b && ret && slot_ok(slot), PAWL_E_INVALID,
	       "boot_get_state: no backend, output or slot");
	GUARD(b->ops->get_state(b, slot, &st));
	*ret = st;
	return 0;
}

int boot_set_state(boot_backend *b, boot_slot slot, boot_state st)
{
	ENSURE(b && slot_ok(slot) && (st == BOOT_GOOD || st == BOOT_BAD), PAWL_E_INVALID,
	       "boot_set_state: no backend, slot or state");
	return b->ops->set_state(b, slot, st);
}

int boot_get_booted(boot_backend *b, boot_slot override, boot_slot *ret)
{
	boot_slot s;

	ENSURE(b && ret, PAWL_E_INVALID, "boot_get_booted: no backend or output");
	if (override != BOOT_SLOT_NONE) {
		ENSURE(slot_ok(override), PAWL_E_INVALID, "booted slot override out of range");
		*ret = override;
		return 0;
	}
	if (b->ops->get_current)
		GUARD(b->ops->get_current(b, &s));
	else
		GUARD(boot_read_cmdline(NULL, &s));
	*ret = s;
	return 0;
}

/* ---------------- the kernel command line ---------------- */

#define CMDLINE_MAX (64 * 1024)

int boot_read_cmdline(const char *path, boot_slot *ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_buf_ pawl_buf text = PAWL_BUF_INIT(CMDLINE_MAX);
	char chunk[4096];
	int r;

	if (!path)
		path = "/proc/cmdline";
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "kernel command line %s", path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "kernel command line %s", path);
		if (n == 0)
			break;
		if (buf_append(&text, chunk, (size_t)n) < 0)
			return pawl_error_set(PAWL_E_LIMIT, "kernel command line %s: over %d bytes",
					      path, CMDLINE_MAX);
	}
	r = boot_cmdline_slot(text.data ? text.data : "", text.len, ret);
	if (r < 0)
		return pawl_error_prefix(r, "kernel command line %s: ", path);
	return 0;
}

/* ---------------- who may replace a file ---------------- */

/* Every entry on the way is owned by root or us; so a sticky directory
 * that others may write cannot lose our entry to them. */
static int check_entry(const struct stat *st, const char *what, const char *kind,
		       const char *path)
{
	uid_t me = geteuid();
	mode_t shared = st->st_mode & (S_IWGRP | S_IWOTH);

	if (st->st_uid != 0 && st->st_uid != me)
		return pawl_error_set(PAWL_E_POLICY, "%s %s: %s is owned by uid %u, not root",
				      kind, path, what, (unsigned)st->st_uid);
	if (shared && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX)))
		return pawl_error_set(PAWL_E_POLICY,
				      "%s %s: %s is writable by group or others (mode %04o)", kind,
				      path, what, (unsigned)(st->st_mode & 07777));
	return 0;
}

static int check_path(const char *path, const char *kind, bool device_ok)
{
	_cleanup_free_ char *real = NULL;
	struct stat st;
	char *slash;

	real = realpath(path, NULL);
	if (!real || stat(real, &st) < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "%s %s", kind, path);
	/* A device node's owner and group are the system's (root:disk,
	 * 0660); only the way to it is ours to check. */
	if (device_ok && (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)))
		;
	else if (!S_ISREG(st.st_mode))
		return pawl_error_set(PAWL_E_POLICY, "%s %s: not a regular file", kind, path);
	else
		GUARD(check_entry(&st, "the file", kind, path));
	/* Walk up to "/": realpath left no link on the way. */
	while ((slash = strrchr(real, '/')) != NULL) {
		bool root = slash == real;

		if (root)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(real, &st) < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "%s %s: directory %s", kind,
						    path, real);
		GUARD(check_entry(&st, real, kind, path));
		if (root)
			break;
	}
	return 0;
}

int boot_check_owner(const char *path, const char *kind)
{
	return check_path(path, kind, false);
}

int boot_check_device(const char *path, const char *kind)
{
	return check_path(path, kind, true);
}

/* ---------------- ORDER / BOOT_ORDER ---------------- */

int boot_order_parse(const char *v, size_t len, boot_slot ret[2], size_t *ret_n,
		     const char *name, const char *what)
{
	boot_slot out[2] = { BOOT_SLOT_NONE, BOOT_SLOT_NONE };
	size_t i = 0, n = 0;

	ENSURE(v || len == 0, PAWL_E_INVALID, "%s: no order", what);
	while (i < len) {
		size_t start;
		boot_slot s;

		if (v[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && v[i] != ' ')
			i++;
		if (i - start == 1 && (v[start] == 'A' || v[start] == 'B'))
			s = v[start] == 'A' ? BOOT_SLOT_A : BOOT_SLOT_B;
		else
			return pawl_error_set(PAWL_E_FORMAT,
					      "%s: %s=\"%.*s\" names something other than A and B",
					      what, name, (int)(len > 32 ? 32 : len), v);
		/* Two distinct names at most, so n never passes 2. */
		for (size_t k = 0; k < n; k++)
			ENSURE(out[k] != s, PAWL_E_FORMAT, "%s: %s=\"%.*s\" names %c twice",
			       what, name, (int)(len > 32 ? 32 : len), v, v[start]);
		out[n++] = s;
	}
	ret[0] = out[0];
	ret[1] = out[1];
	*ret_n = n;
	return 0;
}

/*
 * conf.c - the bounded configuration reader (conf.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/nearest.h"
#include "base/base.h"

/* Symbolic links one resolution may follow, as the kernel's MAXSYMLINKS. */
#define RESOLVE_MAX_LINKS 40

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* A '#' after a space or a tab starts a comment that runs to the end of
 * the line ("slot.a = /dev/mmcblk0p2   # the first slot"); the blanks
 * before it go too. A '#' inside a word ("http://host/#frag") stays. */
static void strip_comment(char *t)
{
	for (char *p = t + 1; *p; p++) {
		if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			while (p > t && (p[-1] == ' ' || p[-1] == '\t'))
				*--p = '\0';
			return;
		}
	}
}

static int unknown_key(const char *name, unsigned lineno, const char *key, const conf_spec *s)
{
	const char *cands[CONF_MAX_KEYS];
	const char *near;

	for (size_t i = 0; i < s->n_keys; i++)
		cands[i] = s->keys[i].name;
	near = cli_nearest_word(key, cands, s->n_keys);
	if (near)
		return pawl_error_set(PAWL_E_INVALID, "%s:%u: unknown key \"%.64s\" (did you mean %s?)",
				      name, lineno, key, near);
	return pawl_error_set(PAWL_E_INVALID, "%s:%u: unknown key \"%.64s\"", name, lineno, key);
}

/* One non-comment line, already trimmed and NUL-terminated. */
static int parse_line(const char *name, unsigned lineno, char *line, const conf_spec *s,
		      unsigned counts[CONF_MAX_KEYS])
{
	char *eq = strchr(line, '='), *key, *val;
	size_t i;
	int r;

	ENSURE(eq, PAWL_E_FORMAT, "%s:%u: expected KEY = VALUE", name, lineno);
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	ENSURE(*key, PAWL_E_FORMAT, "%s:%u: expected KEY = VALUE (no KEY before '=')", name,
	       lineno);
	ENSURE(*val || s->allow_empty, PAWL_E_INVALID, "%s:%u: %.64s has no value", name, lineno,
	       key);
	for (i = 0; i < s->n_keys; i++)
		if (strcmp(key, s->keys[i].name) == 0)
			break;
	if (i == s->n_keys)
		return unknown_key(name, lineno, key, s);
	if (s->keys[i].max && counts[i] >= s->keys[i].max) {
		if (s->keys[i].max == 1)
			return pawl_error_set(PAWL_E_INVALID, "%s:%u: %s is given twice", name,
					      lineno, key);
		return pawl_error_set(PAWL_E_LIMIT, "%s:%u: more than %u %s lines", name, lineno,
				      s->keys[i].max, key);
	}
	counts[i]++;
	r = s->apply(s->ctx, i, key, val);
	if (r < 0)
		return pawl_error_prefix(r, "%s:%u: ", name, lineno);
	return 0;
}

int conf_parse(const char *name, const char *text, size_t len, const conf_spec *s)
{
	unsigned counts[CONF_MAX_KEYS] = { 0 };
	_cleanup_free_ char *line = NULL;
	const char *nul;
	unsigned lineno = 0, settings = 0;
	size_t pos = 0;

	ENSURE(name && (text || len == 0) && s && s->apply && s->keys &&
		       s->n_keys <= CONF_MAX_KEYS && s->max_line > 0,
	       PAWL_E_INVALID, "conf_parse: bad arguments");
	ENSURE(len <= s->max_file, PAWL_E_LIMIT, "%s: file too large (more than %zu bytes)", name,
	       s->max_file);
	nul = len ? memchr(text, '\0', len) : NULL;
	if (nul) {
		for (const char *p = text; p < nul; p++)
			lineno += *p == '\n';
		return pawl_error_set(PAWL_E_FORMAT, "%s:%u: contains a NUL byte", name,
				      lineno + 1);
	}
	line = malloc(s->max_line + 1);
	if (!line)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *t;

		lineno++;
		ENSURE(n <= s->max_line, PAWL_E_LIMIT, "%s:%u: line too long (more than %zu bytes)",
		       name, lineno, s->max_line);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		t = trim(line);
		if (*t == '\0' || *t == '#')
			continue;
		strip_comment(t);
		ENSURE(++settings <= s->max_settings, PAWL_E_LIMIT,
		       "%s:%u: more than %u settings", name, lineno, s->max_settings);
		GUARD(parse_line(name, lineno, t, s, counts));
	}
	return 0;
}

int conf_read_file(const char *path, const conf_spec *s)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;

	ENSURE(path && *path && s, PAWL_E_INVALID, "conf_read_file: bad arguments");
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer; it
	 * is cleared once fstat says this is a regular file. */
	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && errno == ELOOP)
		return pawl_error_set(PAWL_E_POLICY,
				      "cannot read config %s: it is a symbolic link (name the "
				      "file itself)", path);
	if (fd < 0)
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "cannot read config %s", path);
	if (fstat(fd, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read config %s", path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "cannot read config %s: not a regular file", path);
	ENSURE((uintmax_t)st.st_size <= s->max_file, PAWL_E_LIMIT,
	       "%s: file too large (more than %zu bytes)", path, s->max_file);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read config %s", path);
	buf = malloc(s->max_file + 1);
	if (!buf)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	/* st_size may change under us: read to EOF, one byte past the cap. */
	while ((n = read(fd, buf + len, s->max_file + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read config %s",
						    path);
		len += (size_t)n;
		ENSURE(len <= s->max_file, PAWL_E_LIMIT, "%s: file too large (more than %zu bytes)",
		       path, s->max_file);
	}
	return conf_parse(path, buf, len, s);
}

/* ---------------- trusted path resolution ---------------- */

static bool owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static int check_dir(const char *dir, const char *what, const struct stat *st)
{
	ENSURE(S_ISDIR(st->st_mode), PAWL_E_NOT_FOUND, "%s: %s is not a directory", what, dir);
	ENSURE(owner_trusted(st->st_uid), PAWL_E_POLICY,
	       "%s: directory %s is owned by uid %u, not root", what, dir, (unsigned)st->st_uid);
	/* A sticky directory (/tmp) others may write is safe to pass: in it
	 * only an entry's owner can rename or remove that entry, and the next
	 * step of the walk (directory, link or file) must be a trusted
	 * owner's too. */
	ENSURE(!(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX), PAWL_E_POLICY,
	       "%s: directory %s is writable by group or others", what, dir);
	return 0;
}

/* Cut the next component of *rest into comp (skipping slashes); false at
 * the end. */
static bool next_component(const char **rest, char *comp, size_t size)
{
	const char *p = *rest, *e;
	size_t n;

	while (*p == '/')
		p++;
	if (!*p)
		return false;
	e = strchrnul(p, '/');
	n = (size_t)(e - p);
	if (n >= size)
		n = size - 1; /* NAME_MAX is checked by lstat (ENAMETOOLONG) */
	memcpy(comp, p, n);
	comp[n] = '\0';
	*rest = e;
	return true;
}

static bool more_components(const char *rest)
{
	while (*rest == '/')
		rest++;
	return *rest != '\0';
}

int conf_resolve_trusted_path(const char *path, char **ret, struct stat *ret_st)
{
	char cur[PATH_MAX] = "", todo[PATH_MAX], comp[NAME_MAX + 2], target[PATH_MAX];
	const char *rest;
	_cleanup_free_ char *real = NULL;
	struct stat st;
	unsigned links = 0;
	bool have_st = false;

	ENSURE(path && path[0] == '/', PAWL_E_INVALID, "\"%.128s\" is not an absolute path",
	       path ? path : "");
	ENSURE(strlen(path) < sizeof(todo), PAWL_E_LIMIT, "%.128s...: path too long", path);
	memcpy(todo, path, strlen(path) + 1);
	rest = todo;
	if (lstat("/", &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot stat /", path);
	GUARD(check_dir("/", path, &st));
	while (next_component(&rest, comp, sizeof(comp))) {
		char next[PATH_MAX];
		int n;

		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* Every directory in cur has been checked already. */
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = '\0';
			have_st = false;
			continue;
		}
		n = snprintf(next, sizeof(next), "%s/%s", cur, comp);
		ENSURE(n > 0 && (size_t)n < sizeof(next), PAWL_E_LIMIT, "%.128s: path too long",
		       path);
		if (lstat(next, &st) != 0)
			return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO,
						    errno, "%s: cannot resolve %s", path, next);
		if (S_ISLNK(st.st_mode)) {
			char merged[PATH_MAX];
			ssize_t tl;

			ENSURE(++links <= RESOLVE_MAX_LINKS, PAWL_E_LIMIT,
			       "%s: more than %d symbolic links", path, RESOLVE_MAX_LINKS);
			ENSURE(owner_trusted(st.st_uid), PAWL_E_POLICY,
			       "%s: symbolic link %s is owned by uid %u, not root", path, next,
			       (unsigned)st.st_uid);
			tl = readlink(next, target, sizeof(target));
			if (tl < 0)
				return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot read link %s",
							    path, next);
			ENSURE((size_t)tl < sizeof(target) && tl > 0, PAWL_E_LIMIT,
			       "%s: link %s is too long or empty", path, next);
			target[tl] = '\0';
			n = snprintf(merged, sizeof(merged), "%s%s", target, rest);
			ENSURE(n > 0 && (size_t)n < sizeof(merged), PAWL_E_LIMIT,
			       "%.128s: path too long", path);
			memcpy(todo, merged, (size_t)n + 1);
			rest = todo;
			if (target[0] == '/')
				cur[0] = '\0';
			have_st = false;
			continue;
		}
		memcpy(cur, next, (size_t)n + 1);
		have_st = true;
		if (more_components(rest))
			GUARD(check_dir(cur, path, &st));
	}
	if (!have_st) {
		/* The path ended in "/", "." or "..": a directory. */
		return pawl_error_set(PAWL_E_INVALID, "%s: not a block device or regular file",
				      path);
	}
	ENSURE(S_ISBLK(st.st_mode) || S_ISREG(st.st_mode), PAWL_E_INVALID,
	       "%s: %s is not a block device or regular file", path, cur);
	if (S_ISREG(st.st_mode)) {
		ENSURE(owner_trusted(st.st_uid), PAWL_E_POLICY, "%s: %s is owned by uid %u, not root",
		       path, cur, (unsigned)st.st_uid);
		ENSURE(!(st.st_mode & (S_IWGRP | S_IWOTH)), PAWL_E_POLICY,
		       "%s: %s is writable by group or others", path, cur);
	}
	/* The walk above is realpath() with checks; the two must agree. */
	real = realpath(path, NULL);
	if (!real)
		return pawl_error_set_errno(PAWL_E_IO, errno, "%s: cannot resolve", path);
	ENSURE(strcmp(real, cur) == 0, PAWL_E_POLICY, "%s: resolves to %s, then to %s", path, cur,
	       real);
	*ret = TAKE_PTR(real);
	if (ret_st)
		*ret_st = st;
	return 0;
}

/*
 * conf.h - the one reader of the programs' configuration files
 * (pawl.conf(5), pawl-repod's repod.conf).
 *
 * Syntax (what both programs accepted before, plus trailing comments):
 *  - one "KEY = VALUE" per line, split at the first '=';
 *  - spaces and tabs around KEY and VALUE are dropped, and a '\r' at the
 *    end of a line;
 *  - a line that is empty or whose first non-blank byte is '#' is a
 *    comment, and a '#' after a space or a tab starts a comment that runs
 *    to the end of the line (a '#' inside a word, as in a URL's fragment,
 *    is kept); there is no quoting: a value runs to the end of its line
 *    or its comment, '=' included.
 *
 * The file is read through bounds the caller sets (file size, line
 * length, number of settings); it is opened without following a symbolic
 * link, must be a regular file and must hold no NUL byte. The caller's
 * table lists the keys and how often each may appear; anything else is
 * an error. Every error is a pawl_err with a message "FILE:LINE: ..."
 * (or "FILE: ..." when it is about the whole file) in pawl_error_last().
 */
#ifndef PAWL_COMMON_CONF_H
#define PAWL_COMMON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "pawl/common.h"

/* Tables longer than this are a programming error (PAWL_E_INVALID). */
#define CONF_MAX_KEYS 64

typedef struct conf_key {
	const char *name;
	/* How many times the key may appear: 1 (a second one is "given
	 * twice"), N (a repeatable key), or 0 (any number of times; the
	 * caller's apply decides, e.g. the last one wins). */
	unsigned max;
} conf_key;

/*
 * Called once per setting, in file order, with the index of its key in
 * the table. Returns 0 or a negative pawl_err with a message that names
 * the key; the reader puts "FILE:LINE: " in front of it.
 */
typedef int (*conf_apply_fn)(void *ctx, size_t key_index, const char *key, const char *value);

typedef struct conf_spec {
	const conf_key *keys;
	size_t n_keys;
	conf_apply_fn apply;
	void *ctx;
	size_t max_file;      /* bytes; a larger file is refused unread */
	size_t max_line;      /* bytes of one line, without its '\n' */
	unsigned max_settings; /* KEY = VALUE lines */
	bool allow_empty;     /* "KEY =" passes "" on; else "KEY has no value" */
} conf_spec;

/* Read path (O_NOFOLLOW, a regular file, at most spec->max_file bytes)
 * and parse it. */
PAWL_MUST_USE int conf_read_file(const char *path, const conf_spec *spec);

/* Parse len bytes of text; name stands for the file in messages. */
PAWL_MUST_USE int conf_parse(const char *name, const char *text, size_t len,
			     const conf_spec *spec);

/*
 * Resolve an absolute path the way realpath() does, but accept the
 * result only when nobody but root (or the user running this process)
 * could have chosen it: every directory on the way, "/" included, and
 * every symbolic link followed must be owned by root or by the effective
 * user, and the directories must not be writable by group or others.
 * Such a path (/dev/disk/by-partlabel/rootfs-a) can then be opened
 * later with O_NOFOLLOW under its resolved name. The result must be a
 * block device or a regular file; a regular file must meet the owner and
 * mode rule too. *ret (malloc'd) and *ret_st are written only on
 * success; ret_st may be NULL. Errors: PAWL_E_INVALID (not absolute, not
 * a block device or regular file), PAWL_E_NOT_FOUND, PAWL_E_POLICY (an
 * untrusted owner or mode, with the offending path named), PAWL_E_LIMIT
 * (too many links or too long).
 */
PAWL_MUST_USE int conf_resolve_trusted_path(const char *path, char **ret, struct stat *ret_st);

#endif

/*
 * audit_impl.h - what the audit module's source files share, and the
 * descriptor-level entry points the fuzz target drives.
 */
#ifndef PAWL_AUDIT_IMPL_H
#define PAWL_AUDIT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "util/buf.h"

#define AUDIT_FORMAT 1
/* The most bytes one append writes: a start, a torn record, an incident,
 * a flood summary and the entry itself. */
#define AUDIT_BATCH_MAX ((AUDIT_LINE_MAX + 1) * 5)
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_TYPE_START "audit.start"
#define AUDIT_TYPE_TORN "audit.torn"
#define AUDIT_TYPE_INCIDENT "audit.incident"
#define AUDIT_TYPE_REPEATED "audit.repeated"

/* ---- entry.c: names, sanitising, lines ---- */

/* [a-z][a-z0-9._-]* (types) or [A-Za-z][A-Za-z0-9_.-]* (keys), at most
 * AUDIT_NAME_MAX bytes. */
bool audit_type_valid(const char *s);
bool audit_key_valid(const char *s);
bool audit_hex_valid(const char *s, size_t len);

/* Append s[0..len) to out as sanitised UTF-8 (see audit_append), at most
 * max bytes as canonical JSON would write them. */
PAWL_MUST_USE int audit_sanitize(pawl_buf *out, const char *s, size_t len, size_t max);
/* Set dst to a sanitised copy of the string. */
PAWL_MUST_USE int audit_set_string(pj_doc *doc, pj_value *dst, const char *s, size_t len);
/* Deep copy of src into dst with every string and key sanitised; depth is
 * the nesting allowed below src. */
PAWL_MUST_USE int audit_copy_sanitized(pj_doc *doc, pj_value *dst, const pj_value *src,
				       unsigned depth);

/* Parse one line (len bytes at line, not including the newline) as an
 * entry: a well-formed, canonical entry object. *ret_doc owns what *ret
 * points to. scratch is reused between calls. PAWL_E_FORMAT says why
 * (without the location; callers prefix it). */
PAWL_MUST_USE int audit_entry_parse(pj_doc **ret_doc, audit_entry *ret, const char *line,
				    size_t len, pawl_buf *scratch);

/* The hex SHA-256 of len bytes. */
PAWL_MUST_USE int audit_hash_hex(const void *p, size_t len, char out[65]);

/* Strict head file contents: canonical object + optional "\n". */
PAWL_MUST_USE int audit_head_parse(audit_head *ret, const char *text, size_t len);
/* Canonical object + "\n" into out. */
PAWL_MUST_USE int audit_head_encode(pawl_buf *out, const audit_head *h);

/* "X.log" -> "X" + suffix, else name + suffix. */
PAWL_MUST_USE int audit_sibling_name(const char *name, const char *suffix, char **ret);

/* ---- reader.c: bounded line reading ---- */

typedef struct line_reader {
	int fd;
	char *buf;         /* AUDIT_LINE_MAX + 2 bytes */
	size_t cap;
	size_t start, end; /* unread bytes */
	bool eof;
	bool dead;         /* after an error: only the end is reported */
	uint64_t lineno;   /* of the line last returned */
	uint64_t torn;     /* at the end: bytes after the last newline */
} line_reader;

PAWL_MUST_USE int lr_init(line_reader *r, int fd);
void lr_free(line_reader *r);
/* The next line: *ret points at it (NUL-terminated in place of the
 * newline), *ret_len its length. At the end *ret is NULL and r->torn
 * counts the bytes after the last newline. A line longer than
 * AUDIT_LINE_MAX is PAWL_E_FORMAT, a read error PAWL_E_IO; after either
 * the reader reports only the end. Errors do not name the file. */
PAWL_MUST_USE int lr_next(line_reader *r, const char **ret, size_t *ret_len);

/* Open a log read-only: O_NOFOLLOW, a regular file, PAWL_E_NOT_FOUND when
 * missing. */
PAWL_MUST_USE int audit_open_ro(const char *path, int *ret_fd);

/* An iterator over an open descriptor (taken over; closed by
 * audit_iter_free, also on failure); name is used in messages. */
PAWL_MUST_USE int audit_iter_from_fd(audit_iter **ret, int fd, const char *name,
				     int64_t since);

/* ---- verify.c ---- */

typedef struct audit_verify_in {
	int log_fd;
	const char *log_name;
	bool check_head;       /* false: no head at all (fuzzing, tests) */
	const char *head;      /* head file contents; NULL: missing */
	size_t head_len;
	const char *head_name;
	const audit_head *anchor;
	bool locked;
} audit_verify_in;

PAWL_MUST_USE int audit_verify_fd(const audit_verify_in *in, audit_report *ret);

/* ---- writer.c: the tail of a log, as a writer sees it ---- */

typedef struct audit_tail {
	uint64_t size;       /* bytes in the file */
	uint64_t torn;       /* bytes after the last newline */
	bool empty;          /* no complete line */
	bool damaged;        /* the first or last line is not a valid entry */
	char why[200];       /* when damaged */
	char log[33];        /* from entry 0 */
	uint64_t seq;        /* the last entry */
	char hash[65];
	char prev[65];
} audit_tail;

/* Read the first and last lines of fd (and find a torn tail) with memory
 * bounded by AUDIT_LINE_MAX. I/O errors only; a bad line is damaged. */
PAWL_MUST_USE int audit_tail_read(int fd, const char *name, audit_tail *ret);

/* ---- syslog.c ---- */

typedef struct audit_syslog {
	int fd;              /* -1 until connected */
	char *path;
	char *ident;
	int facility;
	uint64_t dropped;
} audit_syslog;

/* Send one entry ("audit seq=N type=T hash=H key=value ...") at
 * severity; best effort, failures are counted in s->dropped. */
void audit_syslog_send(audit_syslog *s, int severity, uint64_t seq, const char *type,
		       const char *hash, const pj_value *fields);
void audit_syslog_close(audit_syslog *s);

#endif

/*
 * audit.h - the tamper-evident audit log both programs keep (PRODUCT.md,
 * practice 7): append-only JSON Lines, hash-chained, mirrored to syslog.
 *
 * The library never writes a log on its own: libpawl reports through its
 * event callback, and the programs own the log files (the device's is
 * state_dir/audit.log, the publisher's REPO/audit.log) and call this
 * module. Nothing here prints or exits: the `log` and `log verify`
 * commands that print are the programs' (src/common/log_cmd.h).
 *
 * On disk (docs/audit.md has the full description):
 *
 *   audit.log   one entry per line, each the canonical JSON of
 *     {"fields":{...},"prev":"<hex SHA-256>","seq":N,"time":"...Z","type":"..."}
 *     followed by '\n'. prev is the SHA-256 of the previous line's bytes
 *     (without its newline); an entry's own hash is the SHA-256 of its
 *     line. seq counts from 0 with no gaps. Entry 0 is always
 *     {"type":"audit.start"} with prev = 64 zeros and a random 128-bit log
 *     id in fields.log, so a whole log swapped for another well-formed log
 *     does not match the head.
 *   audit.head  {"hash":"<hash of the last entry>","log":"<id>","seq":N},
 *     replaced atomically (store.h) after every append. The log and the
 *     head are found next to each other: "X.log" has "X.head" (and the
 *     writers' lock "X.lock"); a name without ".log" gets ".head"/".lock"
 *     appended.
 *
 * Guarantees:
 *  - Appends are serialised by an flock on X.lock (store.h lock_acquire)
 *    around "read the tail, append, fsync, replace the head", so any
 *    number of processes and handles can append to one log; each batch
 *    of lines goes out in one write() on an O_APPEND descriptor, then
 *    fsync, then the head. audit_append returns 0 only once the entry and
 *    the head are durable.
 *  - A crash leaves the log either whole, or with a torn last line (bytes
 *    without a newline), and the head either at the last entry or exactly
 *    one behind it. audit_verify reports a torn line as AUDIT_TORN and a
 *    head one behind as a warning (head_lags). The next append cuts the
 *    torn bytes off and records that (an "audit.torn" entry with their
 *    count and SHA-256); it never removes a complete line. (A crash
 *    between the cut and that entry loses the record of the cut.)
 *  - audit_verify detects an edited, deleted, inserted or reordered entry
 *    anywhere, a torn or malformed line, and a truncated tail (the head,
 *    or an anchor the program kept in its own state, names a later entry
 *    or a different log). The hash chain is not signed: whoever can write
 *    both files can rewrite them consistently. That case is caught only
 *    by an anchor kept elsewhere (audit_last() into the component's state)
 *    or by the syslog copy, which carries every entry's seq and hash off
 *    the machine.
 *  - A writer that finds the log and head disagreeing (a truncated tail,
 *    a missing or foreign head, a damaged line at either end of the log)
 *    does not stop logging, which would let an attacker silence the log:
 *    it records an "audit.incident" entry (or, when the log is gone or
 *    damaged, moves a damaged log aside as X.log.damaged-<time>-<rand> and
 *    starts a new one whose audit.start entry names what was lost). Such
 *    recorded incidents are counted by audit_verify (report.incidents).
 *  - Field values are sanitised before they are written, because canonical
 *    JSON writes control characters raw and a raw newline would split the
 *    line: see audit_append().
 *  - Flood control: consecutive identical failures (audit_failure with the
 *    same type and reason) within opts.coalesce_window_s of the one that
 *    was written are counted, not written; the count goes out as one
 *    "audit.repeated" entry when any other entry is written, when the
 *    window has passed and the failure repeats, or at audit_close /
 *    audit_flush / audit_free. The first failure of a run is always
 *    written at once, so a failure that aborts an update is on disk
 *    before the program exits. The counter lives in the handle: a process
 *    killed during a run loses the count, never the failure.
 *  - Reading is streaming and bounded: a line is at most AUDIT_LINE_MAX
 *    bytes, memory does not grow with the number of entries.
 *  - Errors are 0 or a negative pawl_err with the file and the line or
 *    sequence number in pawl_error_last().
 *
 * A handle is not thread-safe; use one per thread or serialise.
 */
#ifndef PAWL_AUDIT_H
#define PAWL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "json/json.h"
#include "pawl/audit.h"
#include "pawl/updater.h"
#include "util/guard.h"

/* Longest line (without its newline) written or accepted. */
#define AUDIT_LINE_MAX PAWL_AUDIT_LINE_MAX
/* Most fields per entry, longest field name and type, longest string
 * value once escaped (longer values are cut, see audit_append). */
#define AUDIT_FIELDS_MAX PAWL_AUDIT_FIELDS_MAX
#define AUDIT_NAME_MAX PAWL_AUDIT_NAME_MAX
#define AUDIT_VALUE_MAX PAWL_AUDIT_VALUE_MAX
/* Longest syslog datagram (RFC 5424 receivers accept at least 2048). */
#define AUDIT_SYSLOG_MAX 2048

#define AUDIT_DEFAULT_SYSLOG_PATH "/dev/log"
#define AUDIT_DEFAULT_WINDOW_S 600
#define AUDIT_DEFAULT_LOCK_TIMEOUT_S 10
/* "no since filter" for audit_iter_open (and `log --since`) */
#define AUDIT_SINCE_ALL PAWL_AUDIT_SINCE_ALL

/* ---------------- heads and anchors ---------------- */

/* The position of one entry: what audit.head holds, and what a program
 * may keep in its own durable state as an anchor for audit_verify. */
/* (The public type: pawl/audit.h.) */
typedef pawl_audit_head audit_head;

/* Strict: an object with exactly "hash", "log", "seq", well-formed.
 * PAWL_E_FORMAT otherwise. */
PAWL_MUST_USE int audit_head_from_json(audit_head *ret, const pj_value *v);
/* Set dst (a slot of doc) to {"hash","log","seq"}. */
PAWL_MUST_USE int audit_head_to_json(pj_doc *doc, pj_value *dst, const audit_head *h);

/* ---------------- writing ---------------- */

typedef struct audit_opts {
	unsigned version;          /* AUDIT_OPTS_VERSION */
	const char *ident;         /* syslog tag and the log's "program":
	                            * "pawl" or "pawl-repo"; [A-Za-z0-9._-]{1,32} */
	bool syslog;               /* mirror every entry to syslog */
	int facility;              /* LOG_AUTHPRIV, ... (syslog.h values) */
	const char *syslog_path;   /* a unix datagram socket; "/dev/log" */
	unsigned coalesce_window_s;/* flood control window; 0: the default */
	unsigned lock_timeout_s;   /* wait for other writers; 0: the default */
	mode_t mode;               /* for the log and head files; 0: 0640 */
} audit_opts;

#define AUDIT_OPTS_VERSION 1
#define AUDIT_OPTS_INIT                                                        \
	{ AUDIT_OPTS_VERSION, "pawl", true, (10 << 3) /* LOG_AUTHPRIV */,      \
	  AUDIT_DEFAULT_SYSLOG_PATH, AUDIT_DEFAULT_WINDOW_S,                   \
	  AUDIT_DEFAULT_LOCK_TIMEOUT_S, 0640 }

/* The public handle, pawl/audit.h. */
typedef struct pawl_audit audit_log;

/*
 * Open (creating if needed) the log dirfd/name; name is one path
 * component. The directory must exist. Opening takes the writers' lock
 * and checks the tail against the head: a new log gets its audit.start
 * entry here, a torn tail is cut off, disagreements are recorded (see
 * above). o may be NULL for the defaults. The handle keeps its own
 * descriptor of the directory. Free with audit_close or audit_free.
 */
PAWL_MUST_USE int audit_open(audit_log **ret, int dirfd, const char *name,
			     const audit_opts *o);
/* The same with a path ("/var/lib/pawl/audit.log"). */
PAWL_MUST_USE int audit_open_path(audit_log **ret, const char *path, const audit_opts *o);

typedef enum audit_kind {
	AUDIT_K_STR = 1,
	AUDIT_K_INT,
	AUDIT_K_BOOL,
} audit_kind;

/* One field of an entry; build them with the macros below. */
/* One field of an entry (the public type, pawl/audit.h); build them with
 * the macros below. kind is an audit_kind. */
typedef pawl_audit_field audit_field;

#define AUDIT_STR(k, v) { .key = (k), .kind = AUDIT_K_STR, .s = (v), .i = 0 }
#define AUDIT_INT(k, v) { .key = (k), .kind = AUDIT_K_INT, .s = NULL, .i = (int64_t)(v) }
#define AUDIT_BOOL(k, v) { .key = (k), .kind = AUDIT_K_BOOL, .s = NULL, .i = !!(v) }

/*
 * Append one entry. type is [a-z][a-z0-9._-]*, at most AUDIT_NAME_MAX
 * bytes, and must not start with "audit." (the module's own entries).
 * Keys are [A-Za-z][A-Za-z0-9_.-]*, at most AUDIT_NAME_MAX bytes, unique,
 * at most AUDIT_FIELDS_MAX of them. A bad type or key is PAWL_E_INVALID:
 * they are chosen by the program, not by a peer.
 *
 * String values may come from a peer (target names, URLs, error
 * messages) and are sanitised, never refused, so that a hostile value
 * cannot stop a failure from being logged:
 *  - tab, newline and carriage return become a space;
 *  - other C0 controls, DEL, C1 controls, U+2028/U+2029 and the bidi
 *    embedding, override and isolate controls (U+202A-U+202E,
 *    U+2066-U+2069), and every byte of an invalid UTF-8 sequence, become
 *    U+FFFD;
 *  - a value longer than AUDIT_VALUE_MAX bytes (as written, with '"' and
 *    '\\' counting twice) is cut at a character boundary and ends in
 *    U+2026 ("...").
 * So a line never holds a control character, is valid UTF-8, and the
 * canonical form the chain hashes is also plain RFC 8259 JSON.
 *
 * Writing first flushes a pending flood-control summary.
 */
PAWL_MUST_USE int audit_append(audit_log *log, const char *type, const audit_field *fields,
			       size_t n);
/* audit_appendf(log, "install", AUDIT_STR("target", t), AUDIT_INT("length", n)); */
#define audit_appendf(log, type, ...)                                          \
	audit_append((log), (type), (const audit_field[]){ __VA_ARGS__ },      \
		     sizeof((const audit_field[]){ __VA_ARGS__ }) / sizeof(audit_field))

/* The same with the fields as a JSON object (nested values allowed, to a
 * depth of 8). Top-level keys follow the key rules; strings and nested
 * keys are sanitised; a line over AUDIT_LINE_MAX is PAWL_E_LIMIT. */
PAWL_MUST_USE int audit_append_json(audit_log *log, const char *type, const pj_value *fields);

/*
 * Append a failure: an entry of the given type with a "reason" field
 * (which fields must not contain) and flood control. A failure with the
 * same type and reason (after sanitising) as the last entry this handle
 * wrote, within the window, is only counted; see the guarantees above.
 * Failures are mirrored to syslog at LOG_WARNING, other entries at
 * LOG_NOTICE.
 */
PAWL_MUST_USE int audit_failure(audit_log *log, const char *type, const char *reason,
				const audit_field *fields, size_t n);
#define audit_failuref(log, type, reason, ...)                                 \
	audit_failure((log), (type), (reason), (const audit_field[]){ __VA_ARGS__ }, \
		      sizeof((const audit_field[]){ __VA_ARGS__ }) / sizeof(audit_field))

/*
 * Record a libpawl event (call it from the program's pawl_event_cb):
 *   VERIFIED      "verified" {role, version}
 *   REJECTED      failure "rejected", reason = the message,
 *                 {code, role, target, url}
 *   ROOT_ROTATED  "root-rotated" {old_version, version}
 *   DOWNLOADED    "download" {target, length, sha256}
 *   CACHED        "cached" {target, length}
 *   FETCH and PROGRESS are not recorded (0 is returned).
 */
PAWL_MUST_USE int audit_record_event(audit_log *log, const pawl_event *ev);

/* Write the pending flood-control summary, if any. */
PAWL_MUST_USE int audit_flush(audit_log *log);
/* Flush, then free; the handle is freed even when the flush fails. */
PAWL_MUST_USE int audit_close(audit_log *log);
/* Best-effort flush and free; accepts NULL. For cleanup paths. */
void audit_free(audit_log *log);
static inline void audit_freep(audit_log **l)
{
	audit_free(*l);
}
#define _cleanup_audit_ _cleanup_(audit_freep)

/* The last entry this handle wrote (or found at open): for the program to
 * keep in its own durable state and pass to audit_verify as an anchor.
 * PAWL_E_NOT_FOUND before any. */
PAWL_MUST_USE int audit_last(const audit_log *log, audit_head *ret);
/* Syslog lines that could not be sent (no listener, full socket buffer).
 * Syslog is best effort; the file log is not. */
uint64_t audit_syslog_dropped(const audit_log *log);

/* "auth", "authpriv", "daemon", "user", "syslog", "local0".."local7" to a
 * facility value for audit_opts; PAWL_E_INVALID otherwise. */
PAWL_MUST_USE int audit_facility_from_name(const char *name, int *ret);

/* The head's and lock's names for a log name or path ("a/audit.log" ->
 * "a/audit.head"); *ret is malloc'd. */
PAWL_MUST_USE int audit_head_path(const char *log_path, char **ret);

/* ---------------- reading ---------------- */

/* One entry as read. Every pointer stays valid until the next
 * audit_iter_next or audit_iter_free. */
typedef struct audit_entry {
	uint64_t seq;
	int64_t time;
	const char *time_str;
	const char *type;
	const pj_value *fields; /* an object */
	const char *prev;       /* 64 hex */
	char hash[65];          /* SHA-256 of the line */
	const char *line;       /* the line, without its newline */
	size_t len;
	uint64_t lineno;        /* 1-based */
} audit_entry;

typedef struct audit_iter audit_iter;

/*
 * Read a log entry by entry, keeping those whose time is >= since
 * (AUDIT_SINCE_ALL for all; time is compared entry by entry, since a
 * clock may have been set back). Each line is checked for form only (a
 * well-formed canonical entry); the chain is audit_verify's job.
 * audit_iter_next sets *ret to the next entry, or to NULL at the end. A
 * malformed or too long line is PAWL_E_FORMAT, and a torn last line is
 * PAWL_E_FORMAT once the entries before it have been returned.
 */
PAWL_MUST_USE int audit_iter_open(audit_iter **ret, const char *path, int64_t since);
/* Parse a --since argument: "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DD" (UTC
 * midnight) or a duration back from now ("90s", "30m", "24h", "7d",
 * "2w"). Anything else is PAWL_E_INVALID (or PAWL_E_FORMAT for a bad
 * date), with a message that says what is accepted. */
PAWL_MUST_USE int audit_since_parse(const char *s, int64_t *ret);
PAWL_MUST_USE int audit_iter_next(audit_iter *it, const audit_entry **ret);
void audit_iter_free(audit_iter *it);
static inline void audit_iter_freep(audit_iter **it)
{
	audit_iter_free(*it);
}
#define _cleanup_audit_iter_ _cleanup_(audit_iter_freep)

/* ---------------- verifying ---------------- */

typedef enum audit_problem {
	AUDIT_OK = 0,
	AUDIT_MALFORMED,     /* a line is not a well-formed canonical entry */
	AUDIT_TORN,          /* the file ends inside a line */
	AUDIT_EDITED,        /* an entry no longer matches the chain, the head
	                      * or the anchor */
	AUDIT_DELETED,       /* entries are missing */
	AUDIT_INSERTED,      /* a line that is not part of the chain */
	AUDIT_REORDERED,     /* entries out of order */
	AUDIT_TRUNCATED,     /* the log ends before the head's (anchor's) entry */
	AUDIT_HEAD_BEHIND,   /* the head is more than one entry behind */
	AUDIT_HEAD_MISSING,  /* no head file for a log of more than one entry */
	AUDIT_HEAD_MALFORMED,
	AUDIT_REPLACED,      /* the log id is not the head's (anchor's) */
} audit_problem;

/* "ok", "malformed", "torn", "edited", ... */
const char *audit_problem_name(audit_problem p);

/* The public type (pawl/audit.h); problem is an audit_problem. */
typedef pawl_audit_report audit_report;

/*
 * Verify log_path: every line, the chain from entry 0, the head
 * (head_path, or the default next to the log when NULL) and an optional
 * anchor the program kept (NULL for none). The writers' lock is taken
 * for the check when the lock file can be opened.
 *
 * Returns 0 (problem AUDIT_OK, perhaps with warnings), PAWL_E_FORMAT
 * (malformed, torn, head malformed) or PAWL_E_HASH (everything else); the
 * report is written in these three cases (an exception to "outputs only
 * on success": it is the result). Other errors (PAWL_E_NOT_FOUND for a
 * missing log, PAWL_E_IO, PAWL_E_NOMEM) leave it unwritten. Verification
 * stops at the first problem; the kind it names is a diagnosis from the
 * lines around it, while the detection itself does not depend on it.
 */
PAWL_MUST_USE int audit_verify(const char *log_path, const char *head_path,
			       const audit_head *anchor, audit_report *ret);

/* " key=value" for every member of fields, appended to out (logfmt: a
 * string is bare when it is non-empty and made only of
 * [A-Za-z0-9._:/@+,-], else quoted with '"' and '\\' escaped; it is
 * sanitised again, for logs written by someone else; nested values are
 * their canonical JSON, quoted). How `log` shows an entry. */
PAWL_MUST_USE int audit_format_fields(pawl_buf *out, const pj_value *fields);

#endif

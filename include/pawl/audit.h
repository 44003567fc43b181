/*
 * pawl/audit.h - the tamper-evident audit log (docs/audit.md): append-only
 * JSON Lines, each entry hash-chained to the one before, a head file next
 * to it, an optional anchor kept in the program's own state, mirrored to
 * syslog.
 *
 * libpawl never writes a log on its own; a program opens one and appends
 * the entries it decides on, and may feed it the library's events
 * (pawl_audit_record_event from a pawl_event_cb).
 *
 * Guarantees:
 *  - pawl_audit_append returns 0 only once the entry and the head are
 *    durable (one write, fsync, then the head). Any number of processes
 *    and handles may append to one log: a lock file serialises them.
 *  - A crash leaves the log whole or with a torn last line, which the
 *    next append cuts off and records; a complete line is never removed.
 *  - pawl_audit_verify detects an edited, deleted, inserted or reordered
 *    entry anywhere, a torn or malformed line, and a truncated tail (the
 *    head, or an anchor the program kept, names a later entry or another
 *    log). The chain is not signed: whoever can write both the log and
 *    the head can rewrite them consistently; an anchor kept elsewhere
 *    (pawl_audit_anchor_save) or the syslog copy catches that.
 *  - A log and head that disagree never stop logging: the writer records
 *    an incident (or moves a damaged log aside and starts a new one that
 *    names it), which verification counts.
 *  - String values may come from a peer and are sanitised, never refused
 *    (controls, invalid UTF-8, bidi controls; cut at PAWL_AUDIT_VALUE_MAX
 *    bytes). Entry types and keys are the program's and must be valid
 *    (PAWL_E_INVALID).
 *  - Repeated identical failures (pawl_audit_failure) within the
 *    coalescing window are counted, not written; the first is written at
 *    once.
 *  - Reading is streaming and bounded (lines of at most
 *    PAWL_AUDIT_LINE_MAX bytes).
 *
 * A handle is not thread-safe. Everything an iterator or anchor returns
 * is owned by it.
 */
#ifndef PAWL_AUDIT_API_H
#define PAWL_AUDIT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"
#include "pawl/updater.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAWL_AUDIT_LINE_MAX ((size_t)64 * 1024)
#define PAWL_AUDIT_FIELDS_MAX 32
#define PAWL_AUDIT_NAME_MAX 64
#define PAWL_AUDIT_VALUE_MAX 1024
/* "no since filter" for pawl_audit_iter_new */
#define PAWL_AUDIT_SINCE_ALL INT64_MIN

/* ---------------- heads and anchors ---------------- */

/* The position of one entry: what the head file holds, and what a
 * program keeps in its own state as an anchor for pawl_audit_verify. */
typedef struct pawl_audit_head {
	uint64_t seq;
	char hash[65]; /* lower-case hex SHA-256 of the entry's line */
	char log[33];  /* the log id (fields.log of entry 0) */
} pawl_audit_head;

/* ---------------- writing ---------------- */

#define PAWL_AUDIT_OPTS_VERSION 1

typedef struct pawl_audit_opts {
	unsigned version;           /* PAWL_AUDIT_OPTS_VERSION */
	const char *ident;          /* syslog tag and the log's "program":
				     * [A-Za-z0-9._-]{1,32}; NULL: "pawl" */
	bool syslog;                /* mirror every entry to syslog */
	int facility;               /* syslog.h value; see _facility_from_name */
	const char *syslog_path;    /* a unix datagram socket; NULL: /dev/log */
	unsigned coalesce_window_s; /* flood control window; 0: 600 */
	unsigned lock_timeout_s;    /* wait for other writers; 0: 10 */
	unsigned mode;              /* of the log and head files; 0: 0640 */
	/* When not 0, the log's directory (and its parents) are created with
	 * this mode if missing; 0: the directory must exist. */
	unsigned create_dir_mode;
} pawl_audit_opts;

#define PAWL_AUDIT_OPTS_INIT                                                   \
	{ PAWL_AUDIT_OPTS_VERSION, "pawl", true, (10 << 3) /* LOG_AUTHPRIV */, \
	  "/dev/log", 600, 10, 0640, 0 }

typedef struct pawl_audit pawl_audit;

/* Open (creating if needed) the log at path, whose head is PATH minus
 * ".log" plus ".head". Takes the writers' lock briefly to check the tail
 * against the head (see the guarantees). opts may be NULL. */
PAWL_API PAWL_MUST_USE int pawl_audit_open(pawl_audit **out, const char *path,
					   const pawl_audit_opts *opts);

typedef enum pawl_audit_kind {
	PAWL_AUDIT_K_STR = 1,
	PAWL_AUDIT_K_INT,
	PAWL_AUDIT_K_BOOL,
} pawl_audit_kind;

/* One field of an entry; build them with the macros below. */
typedef struct pawl_audit_field {
	const char *key;
	int kind;      /* a pawl_audit_kind */
	const char *s; /* PAWL_AUDIT_K_STR: a C string; NULL is written as null */
	int64_t i;     /* PAWL_AUDIT_K_INT, PAWL_AUDIT_K_BOOL */
} pawl_audit_field;

#define PAWL_AUDIT_STR(k, v) { (k), PAWL_AUDIT_K_STR, (v), 0 }
#define PAWL_AUDIT_INT(k, v) { (k), PAWL_AUDIT_K_INT, NULL, (int64_t)(v) }
#define PAWL_AUDIT_BOOL(k, v) { (k), PAWL_AUDIT_K_BOOL, NULL, !!(v) }

/* Append one entry: type is [a-z][a-z0-9._-]*, at most
 * PAWL_AUDIT_NAME_MAX bytes, not starting with "audit."; keys
 * [A-Za-z][A-Za-z0-9_.-]*, unique, at most PAWL_AUDIT_FIELDS_MAX. */
PAWL_API PAWL_MUST_USE int pawl_audit_append(pawl_audit *log, const char *type,
					     const pawl_audit_field *fields, size_t n);
/* Append a failure: the entry carries "reason" (which fields must not),
 * with flood control (above). */
PAWL_API PAWL_MUST_USE int pawl_audit_failure(pawl_audit *log, const char *type,
					      const char *reason,
					      const pawl_audit_field *fields, size_t n);

#if !defined(__cplusplus)
/* pawl_audit_appendf(log, "install", PAWL_AUDIT_STR("target", t), ...) */
#define pawl_audit_appendf(log, type, ...)                                     \
	pawl_audit_append((log), (type), (const pawl_audit_field[]){ __VA_ARGS__ }, \
			  sizeof((const pawl_audit_field[]){ __VA_ARGS__ }) /  \
				  sizeof(pawl_audit_field))
#define pawl_audit_failuref(log, type, reason, ...)                            \
	pawl_audit_failure((log), (type), (reason),                            \
			   (const pawl_audit_field[]){ __VA_ARGS__ },          \
			   sizeof((const pawl_audit_field[]){ __VA_ARGS__ }) / \
				   sizeof(pawl_audit_field))
#endif

/* Record a libpawl event: VERIFIED "verified", REJECTED (a failure)
 * "rejected", ROOT_ROTATED "root-rotated", DOWNLOADED "download", CACHED
 * "cached"; FETCH and PROGRESS are not recorded (0). */
PAWL_API PAWL_MUST_USE int pawl_audit_record_event(pawl_audit *log, const pawl_event *ev);

/* Write the pending flood-control summary, if any. */
PAWL_API PAWL_MUST_USE int pawl_audit_flush(pawl_audit *log);
/* Flush, then free; the handle is freed even when the flush fails. */
PAWL_API PAWL_MUST_USE int pawl_audit_close(pawl_audit *log);
/* Best-effort flush and free; accepts NULL. */
PAWL_API void pawl_audit_free(pawl_audit *log);

/* The last entry this handle wrote (or found at open). PAWL_E_NOT_FOUND
 * before any. */
PAWL_API PAWL_MUST_USE int pawl_audit_last(const pawl_audit *log, pawl_audit_head *out);

/* "auth", "authpriv", "daemon", "user", "syslog", "local0".."local7" to a
 * facility for pawl_audit_opts; PAWL_E_INVALID otherwise. */
PAWL_API PAWL_MUST_USE int pawl_audit_facility_from_name(const char *name, int *out);

/* ---------------- the program's anchor ---------------- */

/*
 * Flush log and write path (atomically: temporary file, fsync, rename,
 * fsync of the directory; mode 0644) as the canonical JSON object
 *   {"audit": {"hash","log","seq"} of the last entry, and extra's members}
 * for pawl_audit_verify to check the log against later. extra's keys
 * follow the entry key rules and may not be "audit".
 */
PAWL_API PAWL_MUST_USE int pawl_audit_anchor_save(pawl_audit *log, const char *path,
						  const pawl_audit_field *extra, size_t n);

typedef struct pawl_audit_anchor pawl_audit_anchor;

/* Read a JSON file of at most 64 KiB, such as pawl_audit_anchor_save
 * writes. PAWL_E_NOT_FOUND, PAWL_E_FORMAT (not JSON), PAWL_E_LIMIT. */
PAWL_API PAWL_MUST_USE int pawl_audit_anchor_load(pawl_audit_anchor **out, const char *path);
PAWL_API void pawl_audit_anchor_free(pawl_audit_anchor *a);
/* Its "audit" member as a head: PAWL_E_FORMAT when it is not exactly
 * {"hash","log","seq"}, well-formed. */
PAWL_API PAWL_MUST_USE int pawl_audit_anchor_head(const pawl_audit_anchor *a,
						  pawl_audit_head *out);
/* A top-level integer member; PAWL_E_NOT_FOUND when absent or not one. */
PAWL_API PAWL_MUST_USE int pawl_audit_anchor_int(const pawl_audit_anchor *a, const char *key,
						 int64_t *out);
/* A top-level string member, or NULL. */
PAWL_API const char *pawl_audit_anchor_str(const pawl_audit_anchor *a, const char *key);

/* ---------------- reading ---------------- */

/* One entry as read; valid until the next pawl_audit_iter_next or
 * pawl_audit_iter_free. The library allocates it: fields may be appended
 * in later versions. */
typedef struct pawl_audit_entry {
	uint64_t seq;
	int64_t time;
	const char *time_str; /* RFC 3339, as written */
	const char *type;
	const char *prev;     /* 64 hex */
	const char *hash;     /* 64 hex: SHA-256 of the line */
	const char *line;     /* the line, without its newline */
	size_t len;
	uint64_t lineno;      /* 1-based */
} pawl_audit_entry;

typedef struct pawl_audit_iter pawl_audit_iter;

/* Read the log at path entry by entry, keeping those whose time is >=
 * since (PAWL_AUDIT_SINCE_ALL: all). Each line is checked for form only;
 * the chain is pawl_audit_verify's job. A malformed line is PAWL_E_FORMAT
 * (a torn last line once the entries before it were returned). */
PAWL_API PAWL_MUST_USE int pawl_audit_iter_new(pawl_audit_iter **out, const char *path,
					       int64_t since);
/* *out: the next entry, or NULL at the end. */
PAWL_API PAWL_MUST_USE int pawl_audit_iter_next(pawl_audit_iter *it,
						const pawl_audit_entry **out);
/* The current entry's fields as " key=value ..." (logfmt: strings bare
 * when made only of [A-Za-z0-9._:/@+,-], else quoted with '"' and '\\'
 * escaped; nested values as quoted canonical JSON), sanitised again. Owned
 * by it, valid until the next call. */
PAWL_API PAWL_MUST_USE int pawl_audit_iter_fields_text(pawl_audit_iter *it, const char **out);
PAWL_API void pawl_audit_iter_free(pawl_audit_iter *it);

/* Parse a --since argument: "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DD" or a
 * duration back from now ("90s", "30m", "24h", "7d", "2w");
 * PAWL_E_INVALID or PAWL_E_FORMAT otherwise. */
PAWL_API PAWL_MUST_USE int pawl_audit_since_parse(const char *s, int64_t *out);

/* ---------------- verifying ---------------- */

typedef enum pawl_audit_problem {
	PAWL_AUDIT_OK = 0,
	PAWL_AUDIT_MALFORMED,    /* a line is not a well-formed canonical entry */
	PAWL_AUDIT_TORN,         /* the file ends inside a line */
	PAWL_AUDIT_EDITED,       /* an entry no longer matches the chain, head or anchor */
	PAWL_AUDIT_DELETED,      /* entries are missing */
	PAWL_AUDIT_INSERTED,     /* a line that is not part of the chain */
	PAWL_AUDIT_REORDERED,    /* entries out of order */
	PAWL_AUDIT_TRUNCATED,    /* the log ends before the head's (anchor's) entry */
	PAWL_AUDIT_HEAD_BEHIND,  /* the head is more than one entry behind */
	PAWL_AUDIT_HEAD_MISSING, /* no head for a log of more than one entry */
	PAWL_AUDIT_HEAD_MALFORMED,
	PAWL_AUDIT_REPLACED,     /* the log id is not the head's (anchor's) */
} pawl_audit_problem;

/* "ok", "malformed", "torn", "edited", ...; "unknown" otherwise. */
PAWL_API const char *pawl_audit_problem_name(int problem);

typedef struct pawl_audit_report {
	int problem;         /* a pawl_audit_problem */
	uint64_t seq;        /* the first sequence number involved */
	uint64_t line;       /* the 1-based line where it was found (0: none) */
	uint64_t entries;    /* intact entries before the problem */
	uint64_t last_seq;   /* the last intact entry, when entries > 0 */
	char last_hash[65];
	char log[33];        /* the log id, when entry 0 was read */
	uint64_t torn_bytes; /* TORN: bytes after the last newline */
	bool head_lags;      /* warning: head one entry behind (a crash) */
	bool unlocked;       /* the writers' lock could not be taken */
	uint64_t incidents;  /* incidents the log records */
	uint64_t first_incident_seq;
	uint64_t recoveries; /* torn lines cut off by writers */
	char detail[320];    /* names the file and line */
} pawl_audit_report;

/* Verify the log at log_path: every line, the chain from entry 0, the
 * head (head_path; NULL: the default next to the log) and an optional
 * anchor. 0 (PAWL_AUDIT_OK, perhaps with warnings), PAWL_E_FORMAT
 * (malformed, torn, head malformed) or PAWL_E_HASH (everything else):
 * *out is written in these three cases. Other errors (PAWL_E_NOT_FOUND:
 * no log; PAWL_E_IO, PAWL_E_NOMEM) leave it unwritten. */
PAWL_API PAWL_MUST_USE int pawl_audit_verify(const char *log_path, const char *head_path,
					     const pawl_audit_head *anchor,
					     pawl_audit_report *out);

#ifdef __cplusplus
}
#endif
#endif

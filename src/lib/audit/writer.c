/*
 * writer.c - appending to an audit log: the lock, the tail check, one
 * write per batch, fsync, the head, syslog; and flood control. See
 * audit.h.
 *
 * Every append, under the writers' lock (X.lock):
 *   1. open X.log by name (O_APPEND, O_NOFOLLOW; a handle keeps no
 *      descriptor of it, so that a log another process moved aside is
 *      never written to);
 *   2. read its first line (the log id) and its last line, and see whether
 *      it ends in a torn line;
 *   3. read X.head and compare it with the last entry;
 *   4. repair and record: cut a torn tail (audit.torn), move a damaged log
 *      aside and start a new one (audit.start naming what was lost), or
 *      record a disagreement with the head (audit.incident);
 *   5. build the entries, chained from the last one, and write() them all
 *      at once; fsync;
 *   6. replace X.head atomically; mirror each entry to syslog.
 * A crash after 5 and before 6 leaves the head one entry behind: the next
 * append (step 3) accepts exactly that and rewrites the head.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/io.h"

struct pawl_audit {
	int dfd;
	char *name, *head_name, *lock_name, *ident;
	bool use_syslog;
	audit_syslog sl;
	unsigned window, lock_timeout;
	mode_t mode;
	audit_head last;
	bool have_last;
	/* Flood control: the last entry this handle wrote was this failure. */
	struct {
		bool active;
		char *type, *reason;
		uint64_t seq;   /* of the failure written in full */
		int64_t logged; /* its time */
		uint64_t count; /* repeats counted, not written */
		int64_t first, last;
	} pend;
};

typedef unsigned long long ull;

/* One entry to be written: its fields are built first, then the chain
 * members are added when its place in the log is known. */
typedef struct spec {
	pj_doc *doc;
	const char *type;
	int severity;
	uint64_t seq;  /* set by write_batch */
	char hash[65]; /* set by write_batch */
} spec;

static void spec_free(spec *sp)
{
	pj_doc_free(sp->doc);
	sp->doc = NULL;
}

static int spec_init(spec *sp, const char *type, int severity)
{
	pj_value *slot;

	memset(sp, 0, sizeof(*sp));
	sp->type = type;
	sp->severity = severity;
	GUARD(pj_doc_new(&sp->doc));
	GUARD(pj_set_object(sp->doc, pj_root(sp->doc)));
	GUARD(pj_obj_put(sp->doc, pj_root(sp->doc), "fields", 6, &slot));
	return pj_set_object(sp->doc, slot);
}

static pj_value *spec_fields(spec *sp)
{
	return pj_get_mut(pj_root(sp->doc), "fields");
}

static int put_str(spec *sp, const char *key, const char *s)
{
	pj_value *slot;

	GUARD(pj_obj_put(sp->doc, spec_fields(sp), key, strlen(key), &slot));
	if (!s) {
		pj_set_null(slot);
		return 0;
	}
	return audit_set_string(sp->doc, slot, s, strlen(s));
}

static int put_int(spec *sp, const char *key, int64_t i)
{
	return pj_obj_put_int(sp->doc, spec_fields(sp), key, i);
}

static int put_bool(spec *sp, const char *key, bool b)
{
	pj_value *slot;

	GUARD(pj_obj_put(sp->doc, spec_fields(sp), key, strlen(key), &slot));
	pj_set_bool(slot, b);
	return 0;
}

static int put_time(spec *sp, const char *key, int64_t t)
{
	char buf[21];

	pawl_time_format(t, buf);
	return put_str(sp, key, buf);
}

static int put_fields(spec *sp, const audit_field *f, size_t n, const char *reserved)
{
	ENSURE(n <= AUDIT_FIELDS_MAX, PAWL_E_INVALID, "audit: %zu fields, at most %d", n,
	       AUDIT_FIELDS_MAX);
	ENSURE(n == 0 || f, PAWL_E_INVALID, "audit: no fields");
	for (size_t i = 0; i < n; i++) {
		ENSURE(audit_key_valid(f[i].key), PAWL_E_INVALID,
		       "audit: invalid field name \"%.64s\"", f[i].key ? f[i].key : "(null)");
		ENSURE(!reserved || strcmp(f[i].key, reserved) != 0, PAWL_E_INVALID,
		       "audit: the field name \"%s\" is reserved here", reserved);
		ENSURE(pj_get(spec_fields(sp), f[i].key) == NULL, PAWL_E_INVALID,
		       "audit: field \"%s\" given twice", f[i].key);
		switch (f[i].kind) {
		case AUDIT_K_STR:
			GUARD(put_str(sp, f[i].key, f[i].s));
			break;
		case AUDIT_K_INT:
			GUARD(put_int(sp, f[i].key, f[i].i));
			break;
		case AUDIT_K_BOOL:
			GUARD(put_bool(sp, f[i].key, f[i].i != 0));
			break;
		default:
			return pawl_error_set(PAWL_E_INVALID, "audit: field \"%s\" has no kind",
					      f[i].key);
		}
	}
	return 0;
}

/* ---------------- the tail ---------------- */

#define CHUNK ((size_t)64 * 1024)
/* Entries the caller side puts in one batch (a summary and an entry). */
#define BATCH_SPECS 2

/* The batch goes out in one write(2) (io_write_all() splits only at
 * IO_CHUNK); on a regular file Linux either writes it whole or stops short
 * only for a signal, a full disk or a quota, and then the rest follows
 * under the same lock. */
_Static_assert(AUDIT_BATCH_MAX <= IO_CHUNK, "an audit batch needs more than one write(2)");

/* Parse buf[0..len) as an entry into t's last-entry fields. */
static int tail_entry(audit_tail *t, const char *what, const char *line, size_t len,
		      pawl_buf *scratch, audit_entry *ret)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	audit_entry e;
	int r = audit_entry_parse(&doc, &e, line, len, scratch);

	if (r == PAWL_E_NOMEM)
		return r;
	if (r < 0) {
		t->damaged = true;
		snprintf(t->why, sizeof(t->why), "%s: %s", what, pawl_error_last()->message);
		return 1;
	}
	*ret = e;
	if (strcmp(e.type, AUDIT_TYPE_START) == 0)
		memcpy(t->log, pj_str(pj_get(e.fields, "log")), 33);
	memcpy(t->hash, e.hash, 65);
	memcpy(t->prev, e.prev, 65);
	t->seq = e.seq;
	return 0;
}

int audit_tail_read(int fd, const char *name, audit_tail *ret)
{
	_cleanup_buf_ pawl_buf scratch = PAWL_BUF_INIT(AUDIT_LINE_MAX + 16);
	_cleanup_free_ char *buf = NULL;
	audit_tail t;
	audit_entry first, last;
	struct stat st;
	uint64_t end, nl = 0, start;
	size_t n;
	bool found = false;
	char *p;
	int r;

	memset(&t, 0, sizeof(t));
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", name);
	t.size = (uint64_t)st.st_size;
	buf = xmalloc(AUDIT_LINE_MAX + 2);
	if (!buf)
		return PAWL_E_NOMEM;

	/* The last newline, searching backwards a chunk at a time, but no
	 * further than one batch could reach: a crash tears at most the
	 * batch being written, so more bytes without a newline are damage,
	 * not a torn write. */
	for (end = t.size; end > 0 && !found;) {
		if (t.size - end > AUDIT_BATCH_MAX) {
			t.damaged = true;
			snprintf(t.why, sizeof(t.why),
				 "the log ends in more than %zu bytes without a newline",
				 (size_t)AUDIT_BATCH_MAX);
			*ret = t;
			return 0;
		}
		n = end < CHUNK ? (size_t)end : CHUNK;
		GUARD(io_pread_full(fd, buf, n, end - n, name));
		p = memrchr(buf, '\n', n);
		if (p) {
			nl = end - n + (uint64_t)(p - buf);
			found = true;
		}
		end -= n;
	}
	if (!found) {
		t.empty = true;
		t.torn = t.size;
		*ret = t;
		return 0;
	}
	t.torn = t.size - nl - 1;
	if (t.torn > AUDIT_BATCH_MAX) {
		t.damaged = true;
		snprintf(t.why, sizeof(t.why), "the log ends in %llu bytes without a newline",
			 (ull)t.torn);
		*ret = t;
		return 0;
	}

	/* The first line: the log id. Entry 0 is short; read more only for
	 * a long one. */
	n = nl + 1 < 4096 ? (size_t)nl + 1 : 4096;
	GUARD(io_pread_full(fd, buf, n, 0, name));
	p = memchr(buf, '\n', n);
	if (!p && n < nl + 1) {
		n = nl + 1 < AUDIT_LINE_MAX + 1 ? (size_t)nl + 1 : AUDIT_LINE_MAX + 1;
		GUARD(io_pread_full(fd, buf, n, 0, name));
		p = memchr(buf, '\n', n);
	}
	if (!p) {
		t.damaged = true;
		snprintf(t.why, sizeof(t.why), "line 1 is longer than %zu bytes", AUDIT_LINE_MAX);
		*ret = t;
		return 0;
	}
	r = tail_entry(&t, "line 1", buf, (size_t)(p - buf), &scratch, &first);
	if (r != 0) {
		*ret = t;
		return r < 0 ? r : 0;
	}
	if (first.seq != 0) {
		t.damaged = true;
		snprintf(t.why, sizeof(t.why), "line 1 is entry %llu, not the log's entry 0",
			 (ull)first.seq);
		*ret = t;
		return 0;
	}
	if ((uint64_t)(p - buf) == nl) {
		*ret = t;
		return 0;
	}

	/* The last line: after the newline before nl. */
	start = nl > AUDIT_LINE_MAX + 1 ? nl - (AUDIT_LINE_MAX + 1) : 0;
	n = (size_t)(nl - start);
	GUARD(io_pread_full(fd, buf, n, start, name));
	p = memrchr(buf, '\n', n);
	if (!p) {
		t.damaged = true;
		snprintf(t.why, sizeof(t.why), "the last line is longer than %zu bytes",
			 AUDIT_LINE_MAX);
		*ret = t;
		return 0;
	}
	r = tail_entry(&t, "the last line", p + 1, (size_t)(buf + n - (p + 1)), &scratch, &last);
	if (r < 0)
		return r;
	*ret = t;
	return 0;
}

/* ---------------- the batch ---------------- */

enum head_state { HEAD_NONE, HEAD_BAD, HEAD_OK };

static int read_head(audit_log *log, audit_head *h, enum head_state *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_at(log->dfd, log->head_name, 4096, &text, &len);

	if (r == PAWL_E_NOT_FOUND) {
		*ret = HEAD_NONE;
		return 0;
	}
	if (r == PAWL_E_LIMIT) {
		*ret = HEAD_BAD;
		return 0;
	}
	GUARD(r);
	*ret = audit_head_parse(h, text, len) == 0 ? HEAD_OK : HEAD_BAD;
	return 0;
}

static int open_log(audit_log *log, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int fl;

	do
		fd = openat(log->dfd, log->name,
			    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
			    log->mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == ELOOP)
			return pawl_error_set(PAWL_E_IO,
					      "audit log %s: refusing to follow a symbolic link",
					      log->name);
		return pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					    "cannot open audit log %s", log->name);
	}
	if (fstat(fd, &st) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", log->name);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "audit log %s is not a regular file", log->name);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot set flags on %s", log->name);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int random_hex(char *out, size_t bytes)
{
	uint8_t b[32];
	size_t got = 0;

	while (got < bytes) {
		ssize_t r = getrandom(b + got, bytes - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "getrandom");
		got += (size_t)r;
	}
	hex_encode(out, b, bytes);
	return 0;
}

/* Move a damaged log aside (never over another file), so that its bytes
 * stay for inspection and a new log can start. */
static int quarantine(audit_log *log, char *moved_to, size_t cap)
{
	char rnd[9];

	GUARD(random_hex(rnd, 4));
	snprintf(moved_to, cap, "%s.damaged-%lld-%s", log->name, (long long)pawl_now(), rnd);
	if (renameat2(log->dfd, log->name, log->dfd, moved_to, RENAME_NOREPLACE) < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot move damaged %s aside",
					    log->name);
	return fsync_dir(log->dfd);
}

static int hash_region(int fd, uint64_t off, uint64_t n, const char *name, char out[65])
{
	_cleanup_free_ char *buf = xmalloc(CHUNK);
	hash_ctx *h = NULL;
	uint8_t d[HASH_MAX_LEN];
	int r;

	if (!buf)
		return PAWL_E_NOMEM;
	GUARD(hash_new(&h, HASH_SHA256));
	while (n > 0) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;

		GUARD_GOTO(r, io_pread_full(fd, buf, k, off, name), out);
		GUARD_GOTO(r, hash_update(h, buf, k), out);
		off += k;
		n -= k;
	}
	GUARD_GOTO(r, hash_final(h, d), out);
	hex_encode(out, d, 32);
out:
	hash_free(h);
	return r;
}

/* prefix_seq, prefix_hash and (with_log) prefix_log. */
static int add_head_fields(spec *sp, const char *prefix, const audit_head *h, bool with_log)
{
	char key[32];

	snprintf(key, sizeof(key), "%s_seq", prefix);
	GUARD(put_int(sp, key, (int64_t)h->seq));
	snprintf(key, sizeof(key), "%s_hash", prefix);
	GUARD(put_str(sp, key, h->hash));
	if (!with_log)
		return 0;
	snprintf(key, sizeof(key), "%s_log", prefix);
	return put_str(sp, key, h->log);
}

/* Steps 4-6 of the file comment; specs are the caller's entries. */
static int write_batch_locked(audit_log *log, spec *specs, size_t n)
{
	_cleanup_buf_ pawl_buf out = PAWL_BUF_INIT(AUDIT_BATCH_MAX);
	_cleanup_buf_ pawl_buf line = PAWL_BUF_INIT(AUDIT_LINE_MAX + 16);
	_cleanup_buf_ pawl_buf headtext = PAWL_BUF_INIT(4096);
	_cleanup_close_ int fd = -1;
	spec pre[3];
	size_t npre = 0, total;
	spec *all[3 + BATCH_SPECS];
	audit_tail t;
	audit_head head, now_head;
	enum head_state hs;
	char moved_to[512] = "", prev[65], log_id[33];
	uint64_t seq, base;
	int r = 0, rh;

	ENSURE(n <= BATCH_SPECS, PAWL_E_INVALID, "audit: too many entries in one batch");
	memset(pre, 0, sizeof(pre));
	GUARD(open_log(log, &fd));
	GUARD(audit_tail_read(fd, log->name, &t));
	GUARD(read_head(log, &head, &hs));

	if (t.damaged) {
		audit_tail fresh;

		GUARD(quarantine(log, moved_to, sizeof(moved_to)));
		closep(&fd);
		fd = -1;
		GUARD(open_log(log, &fd));
		GUARD(audit_tail_read(fd, log->name, &fresh));
		/* Another process cannot have written in between: we hold
		 * the lock. */
		memcpy(fresh.why, t.why, sizeof(t.why));
		t = fresh;
		t.damaged = true;
	}
	if (t.empty) {
		spec *sp = &pre[npre++];

		GUARD_GOTO(r, random_hex(log_id, 16), out);
		GUARD_GOTO(r, spec_init(sp, AUDIT_TYPE_START, LOG_NOTICE), out);
		GUARD_GOTO(r, put_int(sp, "format", AUDIT_FORMAT), out);
		GUARD_GOTO(r, put_str(sp, "log", log_id), out);
		GUARD_GOTO(r, put_str(sp, "program", log->ident), out);
		if (t.damaged || hs != HEAD_NONE) {
			/* This log replaces one that is gone: say what the head
			 * knew of it. A "previous" member makes the start an
			 * incident for audit_verify. */
			sp->severity = LOG_ERR;
			GUARD_GOTO(r, put_str(sp, "previous", t.damaged ? "log-damaged" : "log-missing"),
				   out);
			if (t.damaged) {
				GUARD_GOTO(r, put_str(sp, "damage", t.why), out);
				GUARD_GOTO(r, put_str(sp, "moved_to", moved_to), out);
			}
			if (hs == HEAD_OK)
				GUARD_GOTO(r, add_head_fields(sp, "head", &head, true), out);
			else if (hs == HEAD_BAD)
				GUARD_GOTO(r, put_bool(sp, "head_malformed", true), out);
		}
	} else {
		memcpy(log_id, t.log, 33);
	}
	if (t.torn > 0) {
		spec *sp = &pre[npre++];
		char th[65];

		GUARD_GOTO(r, hash_region(fd, t.size - t.torn, t.torn, log->name, th), out);
		if (ftruncate(fd, (off_t)(t.size - t.torn)) < 0) {
			r = pawl_error_set_errno(PAWL_E_IO, errno, "cannot cut the torn tail of %s",
						 log->name);
			goto out;
		}
		GUARD_GOTO(r, spec_init(sp, AUDIT_TYPE_TORN, LOG_WARNING), out);
		GUARD_GOTO(r, put_int(sp, "bytes", (int64_t)t.torn), out);
		GUARD_GOTO(r, put_str(sp, "sha256", th), out);
	}
	if (!t.empty) {
		const char *problem = NULL;

		if (hs == HEAD_NONE && t.seq != 0)
			problem = "head-missing";
		else if (hs == HEAD_BAD)
			problem = "head-malformed";
		else if (hs == HEAD_OK && strcmp(head.log, t.log) != 0)
			problem = "log-replaced";
		else if (hs == HEAD_OK && head.seq > t.seq)
			problem = "tail-truncated";
		else if (hs == HEAD_OK && !(head.seq == t.seq && strcmp(head.hash, t.hash) == 0) &&
			 !(head.seq + 1 == t.seq && strcmp(head.hash, t.prev) == 0))
			problem = "head-mismatch";
		if (problem) {
			spec *sp = &pre[npre++];
			audit_head lh;

			GUARD_GOTO(r, spec_init(sp, AUDIT_TYPE_INCIDENT, LOG_ERR), out);
			GUARD_GOTO(r, put_str(sp, "problem", problem), out);
			if (hs == HEAD_OK)
				GUARD_GOTO(r, add_head_fields(sp, "head", &head, true), out);
			lh.seq = t.seq;
			memcpy(lh.hash, t.hash, 65);
			memcpy(lh.log, t.log, 33);
			GUARD_GOTO(r, add_head_fields(sp, "log", &lh, false), out);
		}
	}

	/* Chain the entries on. */
	total = 0;
	for (size_t i = 0; i < npre; i++)
		all[total++] = &pre[i];
	for (size_t i = 0; i < n; i++)
		all[total++] = &specs[i];
	seq = t.empty ? 0 : t.seq + 1;
	memcpy(prev, t.empty ? AUDIT_ZERO_HASH : t.hash, 65);
	for (size_t i = 0; i < total; i++) {
		spec *sp = all[i];
		pj_value *root = pj_root(sp->doc);
		char tm[21];

		pawl_time_format(pawl_now(), tm);
		GUARD_GOTO(r, pj_obj_put_str(sp->doc, root, "prev", prev), out);
		GUARD_GOTO(r, pj_obj_put_int(sp->doc, root, "seq", (int64_t)seq), out);
		GUARD_GOTO(r, pj_obj_put_str(sp->doc, root, "time", tm), out);
		GUARD_GOTO(r, pj_obj_put_str(sp->doc, root, "type", sp->type), out);
		buf_reset(&line);
		r = pj_canonical(&line, root);
		if (r == PAWL_E_LIMIT || (r == 0 && line.len > AUDIT_LINE_MAX)) {
			r = pawl_error_set(PAWL_E_LIMIT, "audit: a %s entry would be longer than %zu bytes",
					   sp->type, AUDIT_LINE_MAX);
			goto out;
		}
		GUARD_GOTO(r, r, out);
		GUARD_GOTO(r, audit_hash_hex(line.data, line.len, prev), out);
		GUARD_GOTO(r, buf_append(&out, line.data, line.len), out);
		GUARD_GOTO(r, buf_putc(&out, '\n'), out);
		memcpy(sp->hash, prev, 65);
		sp->seq = seq++;
	}

	/* One write for the batch; undo a partial one. */
	base = t.size - t.torn;
	if (t.damaged)
		base = 0;
	if (out.len > 0) {
		r = io_write_all(fd, out.data, out.len, log->name);
		if (r < 0) {
			(void)!ftruncate(fd, (off_t)base);
			goto out;
		}
	}
	if (out.len > 0 || t.torn > 0)
		GUARD_GOTO(r, io_fsync(fd, log->name), out);

	memset(&now_head, 0, sizeof(now_head));
	now_head.seq = total ? seq - 1 : t.seq;
	memcpy(now_head.hash, prev, 65);
	memcpy(now_head.log, log_id, 33);
	log->last = now_head;
	log->have_last = true;

	/* The head: rewritten unless it already names the last entry. */
	rh = 0;
	if (total > 0 || hs != HEAD_OK || head.seq != now_head.seq ||
	    strcmp(head.hash, now_head.hash) != 0 || strcmp(head.log, now_head.log) != 0) {
		rh = audit_head_encode(&headtext, &now_head);
		if (rh == 0)
			rh = file_write_atomic_at(log->dfd, log->head_name, headtext.data, headtext.len,
						  log->mode);
	}

	/* The entries are in the log whatever became of the head: mirror. */
	if (log->use_syslog) {
		for (size_t i = 0; i < total; i++) {
			spec *sp = all[i];

			audit_syslog_send(&log->sl, sp->severity, sp->seq, sp->type, sp->hash,
					  pj_get(pj_root(sp->doc), "fields"));
		}
	}
	r = rh;
out:
	for (size_t i = 0; i < npre; i++)
		spec_free(&pre[i]);
	return r;
}

static int write_batch(audit_log *log, spec *specs, size_t n)
{
	_cleanup_lock_ pawl_lock *lk = NULL;
	int r;

	r = lock_acquire(&lk, log->dfd, log->lock_name, log->lock_timeout);
	if (r < 0)
		return pawl_error_prefix(r, "audit log %s: ", log->name);
	r = write_batch_locked(log, specs, n);
	if (r < 0)
		return pawl_error_prefix(r, "audit log %s: ", log->name);
	return 0;
}

/* ---------------- opening and closing ---------------- */

static bool ident_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= 32 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

void audit_free(audit_log *log)
{
	if (!log)
		return;
	(void)!audit_flush(log);
	audit_syslog_close(&log->sl);
	closep(&log->dfd);
	free(log->name);
	free(log->head_name);
	free(log->lock_name);
	free(log->ident);
	free(log->pend.type);
	free(log->pend.reason);
	free(log);
}

int audit_close(audit_log *log)
{
	int r;

	if (!log)
		return 0;
	r = audit_flush(log);
	log->pend.count = 0;
	audit_free(log);
	return r;
}

int audit_open(audit_log **ret, int dirfd, const char *name, const audit_opts *o)
{
	static const audit_opts defaults = AUDIT_OPTS_INIT;
	audit_log *log;
	int r;

	ENSURE(ret, PAWL_E_INVALID, "audit: no output for the log");
	ENSURE(name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
		       strcmp(name, "..") != 0,
	       PAWL_E_INVALID, "audit: the log name must be one path component");
	if (!o)
		o = &defaults;
	ENSURE(o->version == AUDIT_OPTS_VERSION, PAWL_E_INVALID,
	       "audit: options version %u, want %u", o->version, AUDIT_OPTS_VERSION);
	ENSURE(ident_valid(o->ident), PAWL_E_INVALID, "audit: invalid ident");
	ENSURE(!o->syslog || (o->facility >= 0 && o->facility <= (23 << 3) && o->facility % 8 == 0),
	       PAWL_E_INVALID, "audit: invalid syslog facility %d", o->facility);
	ENSURE(!o->syslog || (o->syslog_path && *o->syslog_path &&
			      strlen(o->syslog_path) < 108),
	       PAWL_E_INVALID, "audit: invalid syslog socket path");

	log = xcalloc(1, sizeof(*log));
	if (!log)
		return PAWL_E_NOMEM;
	log->dfd = -1;
	log->sl.fd = -1;
	log->use_syslog = o->syslog;
	log->sl.facility = o->facility;
	log->window = o->coalesce_window_s ? o->coalesce_window_s : AUDIT_DEFAULT_WINDOW_S;
	log->lock_timeout = o->lock_timeout_s ? o->lock_timeout_s : AUDIT_DEFAULT_LOCK_TIMEOUT_S;
	log->mode = o->mode ? o->mode : 0640;
	log->name = xstrdup(name);
	log->ident = xstrdup(o->ident);
	log->sl.ident = xstrdup(o->ident);
	log->sl.path = xstrdup(o->syslog ? o->syslog_path : "");
	if (!log->name || !log->ident || !log->sl.ident || !log->sl.path) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	GUARD_GOTO(r, audit_sibling_name(name, ".head", &log->head_name), fail);
	GUARD_GOTO(r, audit_sibling_name(name, ".lock", &log->lock_name), fail);
	do
		log->dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (log->dfd < 0 && errno == EINTR);
	if (log->dfd < 0) {
		r = pawl_error_set_errno(errno == ENOENT ? PAWL_E_NOT_FOUND : PAWL_E_IO, errno,
					 "audit: cannot open the directory of %s", name);
		goto fail;
	}
	/* Create the log, or check and repair its tail. */
	GUARD_GOTO(r, write_batch(log, NULL, 0), fail);
	*ret = log;
	return 0;
fail:
	log->pend.count = 0;
	audit_free(log);
	return r;
}

int audit_open_path(audit_log **ret, const char *path, const audit_opts *o)
{
	_cleanup_close_ int dfd = -1;
	_cleanup_free_ char *dir = NULL;
	const char *slash;

	ENSURE(path && *path, PAWL_E_INVALID, "audit: empty log path");
	slash = strrchr(path, '/');
	if (!slash)
		return audit_open(ret, AT_FDCWD, path, o);
	dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return PAWL_E_NOMEM;
	GUARD(dir_open(dir, &dfd));
	return audit_open(ret, dfd, slash + 1, o);
}

int audit_last(const audit_log *log, audit_head *ret)
{
	ENSURE(log && ret, PAWL_E_INVALID, "audit: no log");
	ENSURE(log->have_last, PAWL_E_NOT_FOUND, "audit log %s: no entry yet", log->name);
	*ret = log->last;
	return 0;
}

uint64_t audit_syslog_dropped(const audit_log *log)
{
	return log ? log->sl.dropped : 0;
}

int audit_facility_from_name(const char *name, int *ret)
{
	static const struct {
		const char *name;
		int value;
	} tab[] = {
		{ "auth", LOG_AUTH },       { "authpriv", LOG_AUTHPRIV }, { "daemon", LOG_DAEMON },
		{ "user", LOG_USER },       { "syslog", LOG_SYSLOG },     { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 },   { "local2", LOG_LOCAL2 },     { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 },   { "local5", LOG_LOCAL5 },     { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};

	for (size_t i = 0; name && i < ARRAY_SIZE(tab); i++) {
		if (strcmp(name, tab[i].name) == 0) {
			*ret = tab[i].value;
			return 0;
		}
	}
	return pawl_error_set(PAWL_E_INVALID,
			      "unknown syslog facility \"%.40s\" (auth, authpriv, daemon, user, "
			      "syslog, local0 to local7)",
			      name ? name : "");
}

/* ---------------- appending and flood control ---------------- */

static int summary_spec(audit_log *log, spec *sp)
{
	GUARD(spec_init(sp, AUDIT_TYPE_REPEATED, LOG_WARNING));
	GUARD(put_str(sp, "type", log->pend.type));
	GUARD(put_str(sp, "reason", log->pend.reason));
	GUARD(put_int(sp, "count", (int64_t)log->pend.count));
	GUARD(put_int(sp, "seq", (int64_t)log->pend.seq));
	GUARD(put_time(sp, "first", log->pend.first));
	return put_time(sp, "last", log->pend.last);
}

static void pend_clear(audit_log *log)
{
	free(log->pend.type);
	free(log->pend.reason);
	memset(&log->pend, 0, sizeof(log->pend));
}

/* Write the summary (when repeats were counted) and then sp (may be
 * NULL); the summary is forgotten only once written. */
static int emit(audit_log *log, spec *sp)
{
	spec batch[2];
	size_t n = 0;
	bool summary = log->pend.count > 0;
	int r = 0;

	memset(batch, 0, sizeof(batch));
	if (summary)
		GUARD_GOTO(r, summary_spec(log, &batch[n++]), out);
	if (sp)
		batch[n++] = *sp; /* the caller keeps ownership of its doc */
	if (n == 0)
		goto out;
	GUARD_GOTO(r, write_batch(log, batch, n), out);
	if (summary) {
		log->pend.count = 0;
		log->pend.first = log->pend.last = 0;
	}
	if (sp) {
		sp->seq = batch[n - 1].seq;
		memcpy(sp->hash, batch[n - 1].hash, 65);
	}
out:
	if (summary)
		spec_free(&batch[0]);
	return r;
}

static int check_type(const char *type)
{
	ENSURE(audit_type_valid(type), PAWL_E_INVALID, "audit: invalid event type \"%.64s\"",
	       type ? type : "(null)");
	ENSURE(strncmp(type, "audit.", 6) != 0, PAWL_E_INVALID,
	       "audit: event type \"%s\" is reserved", type);
	return 0;
}

static int append_spec(audit_log *log, spec *sp)
{
	int r = emit(log, sp);

	if (r == 0 && log->pend.active) {
		/* Another entry ends the run of identical failures. */
		pend_clear(log);
	}
	return r;
}

int audit_append(audit_log *log, const char *type, const audit_field *fields, size_t n)
{
	spec sp;
	int r;

	ENSURE(log, PAWL_E_INVALID, "audit: no log");
	GUARD(check_type(type));
	r = spec_init(&sp, type, LOG_NOTICE);
	if (r == 0)
		r = put_fields(&sp, fields, n, NULL);
	if (r == 0)
		r = append_spec(log, &sp);
	spec_free(&sp);
	return r;
}

int audit_append_json(audit_log *log, const char *type, const pj_value *fields)
{
	spec sp;
	int r;

	ENSURE(log, PAWL_E_INVALID, "audit: no log");
	GUARD(check_type(type));
	ENSURE(pj_is_object(fields), PAWL_E_INVALID, "audit: fields must be a JSON object");
	ENSURE(fields->len <= AUDIT_FIELDS_MAX, PAWL_E_INVALID, "audit: %u fields, at most %d",
	       fields->len, AUDIT_FIELDS_MAX);
	for (uint32_t i = 0; i < fields->len; i++)
		ENSURE(audit_key_valid(fields->u.members[i].key) &&
			       strlen(fields->u.members[i].key) == fields->u.members[i].klen,
		       PAWL_E_INVALID, "audit: invalid field name \"%.64s\"",
		       fields->u.members[i].key);
	r = spec_init(&sp, type, LOG_NOTICE);
	if (r == 0)
		r = audit_copy_sanitized(sp.doc, spec_fields(&sp), fields, 8);
	if (r == 0)
		r = append_spec(log, &sp);
	spec_free(&sp);
	return r;
}

int audit_failure(audit_log *log, const char *type, const char *reason,
		  const audit_field *fields, size_t n)
{
	_cleanup_buf_ pawl_buf why = PAWL_BUF_INIT(AUDIT_VALUE_MAX + 8);
	spec sp;
	int64_t now = pawl_now();
	uint64_t seq;
	int r;

	ENSURE(log, PAWL_E_INVALID, "audit: no log");
	GUARD(check_type(type));
	reason = reason ? reason : "";
	GUARD(audit_sanitize(&why, reason, strlen(reason), AUDIT_VALUE_MAX));
	if (!why.data)
		GUARD(buf_puts(&why, ""));

	/* The same failure again, soon: count it. A clock set back starts a
	 * new window rather than extending the old one forever. */
	if (log->pend.active && strcmp(log->pend.type, type) == 0 &&
	    strcmp(log->pend.reason, why.data) == 0 && now >= log->pend.logged &&
	    now - log->pend.logged < (int64_t)log->window) {
		if (log->pend.count++ == 0)
			log->pend.first = now;
		log->pend.last = now;
		return 0;
	}

	r = spec_init(&sp, type, LOG_WARNING);
	if (r == 0)
		r = put_fields(&sp, fields, n, "reason");
	if (r == 0)
		r = put_str(&sp, "reason", why.data);
	if (r == 0)
		r = emit(log, &sp);
	spec_free(&sp);
	if (r < 0)
		return r;
	seq = sp.seq;
	pend_clear(log);
	log->pend.type = xstrdup(type);
	log->pend.reason = xstrdup(why.data);
	if (!log->pend.type || !log->pend.reason) {
		pend_clear(log);
		return PAWL_E_NOMEM;
	}
	log->pend.active = true;
	log->pend.seq = seq;
	log->pend.logged = now;
	return 0;
}

int audit_flush(audit_log *log)
{
	ENSURE(log, PAWL_E_INVALID, "audit: no log");
	if (log->pend.count == 0)
		return 0;
	return emit(log, NULL);
}

/*
 * verify.c - checking a whole log: every line, the hash chain from entry
 * 0, the head and an optional anchor. See audit.h.
 *
 * One pass, streaming, with the memory of one line. At the first break in
 * the chain the verifier reads on (a line or two, or the rest of the file
 * looking for one sequence number or hash, still one line at a time) only
 * to name what happened:
 *
 *   the line says seq E, its prev is not H(E-1)       -> E-1 edited
 *   its prev is H(E-1), its seq is not E              -> E edited (seq)
 *   seq s > E, and entry E follows next, chaining to E-1:
 *       a later line chains to this one               -> reordered
 *       none does                                     -> inserted
 *   seq s > E, entry E appears later                  -> reordered
 *   seq s > E, entry E never appears                  -> deleted
 *   seq s < E                                         -> inserted (a copy
 *       or a forged line; with the same parent as the previous line, the
 *       one of the two that nothing chains to)
 *
 * where E is the expected sequence number and H(x) the hash of entry x.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "store/store.h"

const char *audit_problem_name(audit_problem p)
{
	switch (p) {
	case AUDIT_OK: return "ok";
	case AUDIT_MALFORMED: return "malformed";
	case AUDIT_TORN: return "torn";
	case AUDIT_EDITED: return "edited";
	case AUDIT_DELETED: return "deleted";
	case AUDIT_INSERTED: return "inserted";
	case AUDIT_REORDERED: return "reordered";
	case AUDIT_TRUNCATED: return "truncated";
	case AUDIT_HEAD_BEHIND: return "head-behind";
	case AUDIT_HEAD_MISSING: return "head-missing";
	case AUDIT_HEAD_MALFORMED: return "head-malformed";
	case AUDIT_REPLACED: return "replaced";
	}
	return "unknown";
}

/* What the classifier needs of a line. */
typedef struct summary {
	bool ok;  /* a well-formed entry */
	bool end; /* there was no line */
	uint64_t seq;
	char prev[65];
	char hash[65];
	uint64_t lineno;
} summary;

typedef struct vstate {
	const audit_verify_in *in;
	audit_report *rep;
	line_reader r;
	pawl_buf scratch;
} vstate;

typedef unsigned long long ull;

static int read_summary(vstate *v, summary *s)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	audit_entry e;
	const char *line;
	size_t len;

	memset(s, 0, sizeof(*s));
	/* A line too long or a read error ends the look-ahead: the
	 * diagnosis is then made from what was seen. */
	if (lr_next(&v->r, &line, &len) < 0 || !line) {
		s->end = true;
		return 0;
	}
	s->lineno = v->r.lineno;
	if (audit_entry_parse(&doc, &e, line, len, &v->scratch) < 0)
		return 0;
	s->ok = true;
	s->seq = e.seq;
	memcpy(s->prev, e.prev, 65);
	memcpy(s->hash, e.hash, 65);
	return 0;
}

/* Read on until a line with seq want_seq (when by_seq) or with prev
 * want_prev; its line number, or 0. */
static uint64_t scan_for(vstate *v, bool by_seq, uint64_t want_seq, const char *want_prev)
{
	for (;;) {
		summary s;

		(void)read_summary(v, &s);
		if (s.end)
			return 0;
		if (!s.ok)
			continue;
		if (by_seq ? s.seq == want_seq : strcmp(s.prev, want_prev) == 0)
			return s.lineno;
	}
}

/* Record the flaw found (the report's problem, seq and detail) and set it
 * as the error. Named so that no program function shares its name. */
PAWL_PRINTF(5, 6)
static int flaw(vstate *v, int code, audit_problem p, uint64_t seq, const char *fmt, ...)
{
	audit_report *rep = v->rep;
	int n;
	va_list ap;

	rep->problem = p;
	rep->seq = seq;
	n = snprintf(rep->detail, sizeof(rep->detail), "%s: %s: ", v->in->log_name,
		     audit_problem_name(p));
	if (n > 0 && (size_t)n < sizeof(rep->detail)) {
		va_start(ap, fmt);
		vsnprintf(rep->detail + n, sizeof(rep->detail) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return pawl_error_set(code, "%s", rep->detail);
}

/* The chain broke at cur (line n), where entry E (chaining to hg, the last
 * good entry's hash; hg2 is what that entry chains to) was expected. */
static int classify(vstate *v, const audit_entry *cur, uint64_t E, const char *hg,
		    const char *hg2)
{
	audit_report *rep = v->rep;
	uint64_t n = cur->lineno, s = cur->seq;
	char h[65];
	summary n1;

	memcpy(h, cur->hash, 65);
	rep->line = n;
	if (s == E) {
		/* E == 0 cannot get here: entry 0's prev is checked by the
		 * parser to be zeros. */
		rep->line = n - 1;
		return flaw(v, PAWL_E_HASH, AUDIT_EDITED, E - 1,
			    "entry %llu (line %llu) does not hash to the prev that entry %llu "
			    "(line %llu) records: entry %llu, or the prev of entry %llu, "
			    "was changed",
			    (ull)E - 1, (ull)n - 1, (ull)E, (ull)n, (ull)E - 1, (ull)E);
	}
	if (strcmp(cur->prev, hg) == 0)
		return flaw(v, PAWL_E_HASH, AUDIT_EDITED, E,
			    "line %llu chains to entry %llu but says seq %llu: its sequence "
			    "number was changed",
			    (ull)n, (ull)E - 1, (ull)s);
	if (s > E) {
		GUARD(read_summary(v, &n1));
		if (n1.ok && n1.seq == E && strcmp(n1.prev, hg) == 0) {
			/* Entry E is here, right after a line that is out of
			 * place. Is that line in the chain elsewhere? */
			uint64_t m = (s == E + 1 && strcmp(cur->prev, n1.hash) == 0)
					     ? n1.lineno
					     : scan_for(v, false, 0, h);

			if (m)
				return flaw(v, PAWL_E_HASH, AUDIT_REORDERED, E,
					    "entry %llu (line %llu) comes before entry %llu "
					    "(line %llu)",
					    (ull)s, (ull)n, (ull)E, (ull)n1.lineno);
			return flaw(v, PAWL_E_HASH, AUDIT_INSERTED, E,
				    "line %llu (seq %llu) is not part of the chain: entry %llu "
				    "at line %llu follows entry %llu",
				    (ull)n, (ull)s, (ull)E, (ull)n1.lineno, (ull)E - 1);
		}
		{
			uint64_t m = (n1.ok && n1.seq == E) ? n1.lineno : scan_for(v, true, E, NULL);

			if (m)
				return flaw(v, PAWL_E_HASH, AUDIT_REORDERED, E,
					    "entry %llu is at line %llu, after entry %llu "
					    "(line %llu)",
					    (ull)E, (ull)m, (ull)s, (ull)n);
		}
		if (s == E + 1)
			return flaw(v, PAWL_E_HASH, AUDIT_DELETED, E,
				    "entry %llu is missing (line %llu has entry %llu)", (ull)E,
				    (ull)n, (ull)s);
		return flaw(v, PAWL_E_HASH, AUDIT_DELETED, E,
			    "entries %llu to %llu are missing (line %llu has entry %llu)", (ull)E,
			    (ull)s - 1, (ull)n, (ull)s);
	}
	/* s < E: a sequence number seen before. */
	if (s + 1 == E && strcmp(cur->prev, hg2) == 0) {
		GUARD(read_summary(v, &n1));
		if (n1.ok && strcmp(n1.prev, h) == 0) {
			rep->line = n - 1;
			return flaw(v, PAWL_E_HASH, AUDIT_INSERTED, s,
				    "lines %llu and %llu both claim entry %llu; line %llu is "
				    "not part of the chain",
				    (ull)n - 1, (ull)n, (ull)s, (ull)n - 1);
		}
		return flaw(v, PAWL_E_HASH, AUDIT_INSERTED, s,
			    "lines %llu and %llu both claim entry %llu; line %llu is not "
			    "part of the chain",
			    (ull)n - 1, (ull)n, (ull)s, (ull)n);
	}
	return flaw(v, PAWL_E_HASH, AUDIT_INSERTED, s,
		    "line %llu (seq %llu) after entry %llu is not part of the chain", (ull)n,
		    (ull)s, (ull)E - 1);
}

static bool is_incident(const audit_entry *e)
{
	if (strcmp(e->type, AUDIT_TYPE_INCIDENT) == 0)
		return true;
	return strcmp(e->type, AUDIT_TYPE_START) == 0 && pj_get(e->fields, "previous") != NULL;
}

static int run(vstate *v)
{
	const audit_verify_in *in = v->in;
	audit_report *rep = v->rep;
	audit_head head;
	bool head_ok = false;
	uint64_t E = 0;
	char hg[65] = AUDIT_ZERO_HASH, hg2[65] = AUDIT_ZERO_HASH;
	int head_err = 0;

	if (in->check_head && in->head) {
		head_err = audit_head_parse(&head, in->head, in->head_len);
		head_ok = head_err == 0;
	}

	for (;;) {
		_cleanup_pj_doc_ pj_doc *doc = NULL;
		audit_entry e;
		const char *line;
		size_t len;
		int r = lr_next(&v->r, &line, &len);

		if (r == PAWL_E_FORMAT) {
			rep->line = v->r.lineno + 1;
			return flaw(v, PAWL_E_FORMAT, AUDIT_MALFORMED, E,
				    "line %llu is longer than %zu bytes", (ull)rep->line,
				    AUDIT_LINE_MAX);
		}
		if (r < 0)
			return pawl_error_prefix(r, "%s: ", in->log_name);
		if (!line)
			break;
		r = audit_entry_parse(&doc, &e, line, len, &v->scratch);
		if (r == PAWL_E_NOMEM)
			return r;
		if (r < 0) {
			char why[200];

			snprintf(why, sizeof(why), "%s", pawl_error_last()->message);
			rep->line = v->r.lineno;
			return flaw(v, PAWL_E_FORMAT, AUDIT_MALFORMED, E,
				    "line %llu (where entry %llu was expected): %s", (ull)rep->line,
				    (ull)E, why);
		}
		e.lineno = v->r.lineno;
		if (e.seq != E || strcmp(e.prev, hg) != 0)
			return classify(v, &e, E, hg, hg2);

		if (e.seq == 0) {
			/* A head or anchor of another log: say so now, not as a
			 * hash mismatch further on. */
			memcpy(rep->log, pj_str(pj_get(e.fields, "log")), 33);
			if (head_ok && strcmp(head.log, rep->log) != 0)
				return flaw(v, PAWL_E_HASH, AUDIT_REPLACED, 0,
					    "the log's id %s is not %s, which %s records: the "
					    "log was replaced",
					    rep->log, head.log, in->head_name);
			if (in->anchor && strcmp(in->anchor->log, rep->log) != 0)
				return flaw(v, PAWL_E_HASH, AUDIT_REPLACED, 0,
					    "the log's id %s is not %s, which the program's state "
					    "records: the log was replaced",
					    rep->log, in->anchor->log);
		}
		if (is_incident(&e) && rep->incidents++ == 0)
			rep->first_incident_seq = e.seq;
		if (strcmp(e.type, AUDIT_TYPE_TORN) == 0)
			rep->recoveries++;
		if (head_ok && head.seq == e.seq && strcmp(head.hash, e.hash) != 0) {
			rep->line = e.lineno;
			return flaw(v, PAWL_E_HASH, AUDIT_EDITED, e.seq,
				    "entry %llu (line %llu) does not match the hash that %s records: "
				    "the entry, or the head, was changed",
				    (ull)e.seq, (ull)e.lineno, in->head_name);
		}
		if (in->anchor && in->anchor->seq == e.seq &&
		    strcmp(in->anchor->hash, e.hash) != 0) {
			rep->line = e.lineno;
			return flaw(v, PAWL_E_HASH, AUDIT_EDITED, e.seq,
				    "entry %llu (line %llu) does not match the hash kept in the "
				    "program's state",
				    (ull)e.seq, (ull)e.lineno);
		}
		memcpy(hg2, hg, 65);
		memcpy(hg, e.hash, 65);
		rep->entries++;
		rep->last_seq = e.seq;
		memcpy(rep->last_hash, e.hash, 65);
		E++;
	}

	/* The end of the file: is it where the head says it is? */
	rep->line = 0;
	if (in->check_head && in->head && !head_ok) {
		char why[200];

		snprintf(why, sizeof(why), "%s", pawl_error_last()->message);
		return flaw(v, PAWL_E_FORMAT, AUDIT_HEAD_MALFORMED, 0, "%s is not a valid head (%s)",
			    in->head_name, why);
	}
	if (head_ok) {
		if (rep->entries == 0 || head.seq > rep->last_seq)
			return flaw(v, PAWL_E_HASH, AUDIT_TRUNCATED, rep->entries ? rep->last_seq + 1 : 0,
				    "the log ends %s, but %s records entry %llu",
				    rep->entries ? "early" : "before its first entry", in->head_name,
				    (ull)head.seq);
		if (head.seq + 1 == rep->last_seq) {
			rep->head_lags = true;
		} else if (head.seq + 1 < rep->last_seq) {
			if (!in->locked)
				rep->head_lags = true;
			else
				return flaw(v, PAWL_E_HASH, AUDIT_HEAD_BEHIND, head.seq + 1,
					    "%s records entry %llu, %llu entries before the end of "
					    "the log",
					    in->head_name, (ull)head.seq,
					    (ull)(rep->last_seq - head.seq));
		}
	} else if (in->check_head && rep->entries > 0) {
		/* A crash between writing entry 0 and the first head is the
		 * only innocent way to have no head. */
		if (rep->entries > 1)
			return flaw(v, PAWL_E_HASH, AUDIT_HEAD_MISSING, 0,
				    "%s is missing: a truncated tail cannot be ruled out",
				    in->head_name);
		rep->head_lags = true;
	}
	if (in->anchor) {
		const audit_head *a = in->anchor;

		if (rep->entries == 0 || a->seq > rep->last_seq)
			return flaw(v, PAWL_E_HASH, AUDIT_TRUNCATED, rep->entries ? rep->last_seq + 1 : 0,
				    "the log ends before entry %llu, which the program's state "
				    "records",
				    (ull)a->seq);
	}
	if (v->r.torn > 0) {
		rep->torn_bytes = v->r.torn;
		rep->line = v->r.lineno + 1;
		return flaw(v, PAWL_E_FORMAT, AUDIT_TORN, E,
			    "the last %llu bytes (line %llu) have no newline: a write was "
			    "interrupted; the next append cuts them off and records it",
			    (ull)v->r.torn, (ull)rep->line);
	}
	return 0;
}

int audit_verify_fd(const audit_verify_in *in, audit_report *ret)
{
	audit_report rep;
	vstate v;
	int r;

	ENSURE(in && ret && in->log_name, PAWL_E_INVALID, "audit: no log to verify");
	memset(&rep, 0, sizeof(rep));
	memset(&v, 0, sizeof(v));
	rep.unlocked = !in->locked;
	v.in = in;
	v.rep = &rep;
	v.scratch = (pawl_buf)PAWL_BUF_INIT(AUDIT_LINE_MAX + 16);
	GUARD(lr_init(&v.r, in->log_fd));
	r = run(&v);
	lr_free(&v.r);
	buf_free(&v.scratch);
	if (r == 0 || r == PAWL_E_FORMAT || r == PAWL_E_HASH) {
		if (r == 0)
			snprintf(rep.detail, sizeof(rep.detail), "%s: ok", in->log_name);
		*ret = rep;
	}
	return r;
}

int audit_verify(const char *log_path, const char *head_path, const audit_head *anchor,
		 audit_report *ret)
{
	_cleanup_free_ char *head_default = NULL, *lock_path = NULL, *head = NULL;
	_cleanup_lock_ pawl_lock *lk = NULL;
	_cleanup_close_ int fd = -1;
	audit_verify_in in;
	size_t head_len = 0;
	int r;

	ENSURE(log_path && *log_path && ret, PAWL_E_INVALID, "audit: no log to verify");
	if (anchor)
		ENSURE(audit_hex_valid(anchor->hash, 64) && audit_hex_valid(anchor->log, 32),
		       PAWL_E_INVALID, "audit: the anchor is not a valid head");
	if (!head_path) {
		GUARD(audit_head_path(log_path, &head_default));
		head_path = head_default;
	}
	/* Hold the writers' lock, so that the head and the log are read at
	 * one instant; a reader who may not create or lock it still gets a
	 * check, with the difference reported (unlocked). */
	GUARD(audit_sibling_name(log_path, ".lock", &lock_path));
	r = lock_acquire(&lk, AT_FDCWD, lock_path, AUDIT_DEFAULT_LOCK_TIMEOUT_S);
	if (r == PAWL_E_NOMEM)
		return r;

	GUARD(audit_open_ro(log_path, &fd));
	r = file_read_all(head_path, 4096, &head, &head_len);
	if (r == PAWL_E_LIMIT) {
		/* Too big to be a head: let the parser say so. */
		free(head);
		head = xstrdup("oversized");
		if (!head)
			return PAWL_E_NOMEM;
		head_len = strlen(head);
	} else if (r < 0 && r != PAWL_E_NOT_FOUND) {
		return r;
	}
	memset(&in, 0, sizeof(in));
	in.log_fd = fd;
	in.log_name = log_path;
	in.check_head = true;
	in.head = head;
	in.head_len = head_len;
	in.head_name = head_path;
	in.anchor = anchor;
	in.locked = lk != NULL;
	return audit_verify_fd(&in, ret);
}

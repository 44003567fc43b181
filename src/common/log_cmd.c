/*
 * log_cmd.c - the `log` and `log verify` commands both programs share
 * (log_cmd.h). They write only to the stream the program hands them, and
 * return exit codes; the audit module underneath neither prints nor exits.
 */
#include <stdio.h>

#include "common/log_cmd.h"
#include "util/buf.h"

typedef unsigned long long ull;

static int write_out(FILE *out, const char *p, size_t n)
{
	if (n && fwrite(p, 1, n, out) != n)
		return pawl_error_set(PAWL_E_IO, "cannot write the output");
	if (fputc('\n', out) == EOF)
		return pawl_error_set(PAWL_E_IO, "cannot write the output");
	return 0;
}

int cli_log_show(FILE *out, const char *log_path, bool json, int64_t since)
{
	_cleanup_audit_iter_ audit_iter *it = NULL;
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(AUDIT_LINE_MAX * 4);

	if (!out) {
		pawl_error_set(PAWL_E_INVALID, "audit: no output stream");
		return 1;
	}
	if (audit_iter_open(&it, log_path, since) < 0)
		return 1;
	for (;;) {
		const audit_entry *e;

		if (audit_iter_next(it, &e) < 0)
			return 1;
		if (!e)
			break;
		if (json) {
			/* The line itself: canonical JSON, which is plain JSON
			 * here because values never hold control characters. */
			if (write_out(out, e->line, e->len) < 0)
				return 1;
			continue;
		}
		buf_reset(&b);
		if (buf_printf(&b, "#%llu %s %s", (ull)e->seq, e->time_str, e->type) < 0 ||
		    audit_format_fields(&b, e->fields) < 0 || write_out(out, b.data, b.len) < 0)
			return 1;
	}
	if (fflush(out) != 0) {
		pawl_error_set(PAWL_E_IO, "cannot write the output");
		return 1;
	}
	return 0;
}

int cli_log_verify(FILE *out, const char *log_path, const char *head_path,
		   const audit_head *anchor)
{
	audit_report rep;
	int r, code = 0;

	if (!out)
		return 1;
	r = audit_verify(log_path, head_path, anchor, &rep);
	if (r < 0 && r != PAWL_E_FORMAT && r != PAWL_E_HASH) {
		fprintf(out, "%s: cannot verify: %s\n", log_path ? log_path : "(null)",
			pawl_error_last()->message);
		(void)fflush(out);
		return 1;
	}
	if (r < 0) {
		fprintf(out, "FAILED %s\n", rep.detail);
		if (rep.entries > 0)
			fprintf(out, "  %llu entries (seq 0 to %llu) are intact before it\n",
				(ull)rep.entries, (ull)rep.last_seq);
		fprintf(out, "  see 'log' for the entries; the file is left as it is\n");
		(void)fflush(out);
		return 1;
	}
	if (rep.entries == 0)
		fprintf(out, "ok %s: intact, no entries\n", log_path);
	else
		fprintf(out, "ok %s: intact, %llu entries (seq 0 to %llu), log %s, last %s\n",
			log_path, (ull)rep.entries, (ull)rep.last_seq, rep.log, rep.last_hash);
	if (rep.head_lags)
		fprintf(out, "warning: the head is behind the log's last entry (a crash between "
			     "an append and the head update, or appends during the check); the "
			     "next append repairs it\n");
	if (rep.unlocked)
		fprintf(out, "warning: the writers' lock could not be taken; appends may have "
			     "run during the check\n");
	if (rep.recoveries)
		fprintf(out, "note: %llu interrupted write(s) were cut off by later appends "
			     "(audit.torn entries)\n",
			(ull)rep.recoveries);
	if (rep.incidents) {
		fprintf(out, "warning: the log records %llu incident(s), the first at seq %llu "
			     "(audit.incident, or an audit.start with \"previous\"): review them\n",
			(ull)rep.incidents, (ull)rep.first_incident_seq);
		code = 2;
	}
	(void)fflush(out);
	return code;
}

/*
 * log_cmd.c - the `log` and `log verify` commands both programs share
 * (log_cmd.h). They write only to the stream the program hands them, and
 * return exit codes; the audit module underneath neither prints nor exits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/exit_codes.h"
#include "common/json_out.h"
#include "common/log_cmd.h"

typedef unsigned long long ull;

static int write_out(FILE *out, const char *p, size_t n)
{
	if (n && fwrite(p, 1, n, out) != n)
		return pawl_error_set(PAWL_E_IO, "cannot write the output");
	if (fputc('\n', out) == EOF)
		return pawl_error_set(PAWL_E_IO, "cannot write the output");
	return 0;
}

static int show(FILE *out, pawl_audit_iter *it, bool json)
{
	for (;;) {
		const pawl_audit_entry *e;
		const char *fields;

		if (pawl_audit_iter_next(it, &e) < 0)
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
		if (pawl_audit_iter_fields_text(it, &fields) < 0)
			return 1;
		if (fprintf(out, "#%llu %s %s%s\n", (ull)e->seq, e->time_str, e->type, fields) < 0) {
			pawl_error_set(PAWL_E_IO, "cannot write the output");
			return 1;
		}
	}
	if (fflush(out) != 0) {
		pawl_error_set(PAWL_E_IO, "cannot write the output");
		return 1;
	}
	return 0;
}

int cli_log_show(FILE *out, const char *log_path, bool json, int64_t since)
{
	pawl_audit_iter *it = NULL;
	int r;

	if (!out) {
		pawl_error_set(PAWL_E_INVALID, "audit: no output stream");
		return 1;
	}
	if (pawl_audit_iter_new(&it, log_path, since) < 0)
		return 1;
	r = show(out, it, json);
	pawl_audit_iter_free(it);
	return r;
}

void cli_log_check(const char *log_path, const char *head_path, const pawl_audit_head *anchor,
		   const char *anchor_file, cli_log_result *ret)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->anchor_file = anchor_file;
	r = pawl_audit_verify(log_path, head_path, anchor, &ret->rep);
	ret->code = r;
	if (r == 0) {
		ret->exit = ret->rep.incidents ? CLI_EXIT_INCIDENTS : CLI_EXIT_OK;
		ret->anchor = anchor;
	} else if (r == PAWL_E_FORMAT || r == PAWL_E_HASH) {
		ret->exit = CLI_EXIT_VERIFY;
	} else if (r == PAWL_E_NOT_FOUND && anchor) {
		/* The program's own record says entries were written: a log
		 * that is gone was removed, which is what verify is for. */
		ret->missing = true;
		ret->exit = CLI_EXIT_VERIFY;
		snprintf(ret->rep.detail, sizeof(ret->rep.detail),
			 "missing: %s is gone, but %s names its entry %" PRIu64 " (log %s)", log_path,
			 anchor_file ? anchor_file : "the anchor", anchor->seq, anchor->log);
	} else {
		ret->exit = CLI_EXIT_FAILURE;
		snprintf(ret->error, sizeof(ret->error), "%s",
			 pawl_error_last()->message[0] ? pawl_error_last()->message :
							 pawl_strerror(r));
	}
	pawl_error_clear();
}

void cli_log_add_incidents(cli_log_result *r, uint64_t n, uint64_t first, const char *what)
{
	if (!n)
		return;
	r->more_incidents = n;
	r->more_first_seq = first;
	snprintf(r->more_what, sizeof(r->more_what), "%s", what);
	if (r->exit == CLI_EXIT_OK)
		r->exit = CLI_EXIT_INCIDENTS;
}

static void text_report(FILE *out, const char *log_path, const cli_log_result *r)
{
	const pawl_audit_report *rep = &r->rep;

	if (r->exit == CLI_EXIT_FAILURE) {
		fprintf(out, "%s: cannot verify: %s\n", log_path, r->error);
		return;
	}
	if (r->exit == CLI_EXIT_VERIFY) {
		fprintf(out, "FAILED %s\n", rep->detail);
		if (!r->missing && rep->entries > 0)
			fprintf(out, "  %llu entries (seq 0 to %llu) are intact before it\n",
				(ull)rep->entries, (ull)rep->last_seq);
		if (!r->missing)
			fprintf(out, "  see 'log' for the entries; the file is left as it is\n");
		return;
	}
	if (rep->entries == 0)
		fprintf(out, "ok %s: intact, no entries\n", log_path);
	else
		fprintf(out, "ok %s: intact, %llu entries (seq 0 to %llu), log %s, last %s\n",
			log_path, (ull)rep->entries, (ull)rep->last_seq, rep->log, rep->last_hash);
	if (rep->head_lags)
		fprintf(out, "warning: the head is behind the log's last entry (a crash between "
			     "an append and the head update, or appends during the check); the "
			     "next append repairs it\n");
	if (rep->unlocked)
		fprintf(out, "warning: the writers' lock could not be taken; appends may have "
			     "run during the check\n");
	if (rep->recoveries)
		fprintf(out, "note: %llu interrupted write(s) were cut off by later appends "
			     "(audit.torn entries)\n", (ull)rep->recoveries);
	if (rep->incidents)
		fprintf(out, "warning: the log records %llu incident(s), the first at seq %llu "
			     "(audit.incident, or an audit.start with \"previous\"): review them\n",
			(ull)rep->incidents, (ull)rep->first_incident_seq);
	if (r->more_incidents)
		fprintf(out, "warning: the log records %llu %s, the first at seq %llu: review "
			     "them\n", (ull)r->more_incidents, r->more_what, (ull)r->more_first_seq);
	if (r->anchor)
		fprintf(out, "anchor: %s names entry %llu (%s), and the log holds it\n",
			r->anchor_file ? r->anchor_file : "the anchor", (ull)r->anchor->seq,
			r->anchor->hash);
}

static void json_report(FILE *out, const cli_log_result *r)
{
	const pawl_audit_report *rep = &r->rep;

	if (r->exit == CLI_EXIT_FAILURE) {
		fprintf(out, "{\"ok\":false,\"error\":\"%s\",\"message\":", pawl_strerror(r->code));
		cli_json_string(out, r->error);
		fprintf(out, ",\"exit\":%d}\n", r->exit);
		return;
	}
	if (r->exit == CLI_EXIT_VERIFY) {
		fprintf(out, "{\"ok\":false,\"problem\":\"%s\",\"detail\":",
			r->missing ? "missing" : pawl_audit_problem_name(rep->problem));
		cli_json_string(out, rep->detail);
		fprintf(out, ",\"intact_entries\":%llu,\"exit\":%d}\n",
			r->missing ? 0ull : (ull)rep->entries, r->exit);
		return;
	}
	fprintf(out, "{\"ok\":true,\"entries\":%llu", (ull)rep->entries);
	if (rep->entries) {
		fprintf(out, ",\"last_seq\":%llu,\"log\":", (ull)rep->last_seq);
		cli_json_string(out, rep->log);
		fputs(",\"last_hash\":", out);
		cli_json_string(out, rep->last_hash);
	}
	fprintf(out, ",\"incidents\":%llu", (ull)(rep->incidents + r->more_incidents));
	if (rep->incidents || r->more_incidents)
		fprintf(out, ",\"first_incident_seq\":%llu",
			(ull)(rep->incidents ? rep->first_incident_seq : r->more_first_seq));
	fputs(",\"warnings\":[", out);
	{
		bool first = true;

		if (rep->head_lags) {
			fputs("\"head-behind\"", out);
			first = false;
		}
		if (rep->unlocked)
			fprintf(out, "%s\"unlocked\"", first ? "" : ",");
	}
	fputc(']', out);
	if (r->anchor)
		fprintf(out, ",\"anchor_seq\":%llu", (ull)r->anchor->seq);
	fprintf(out, ",\"exit\":%d}\n", r->exit);
}

int cli_log_report(FILE *out, const char *log_path, const cli_log_result *r, bool json)
{
	if (json)
		json_report(out, r);
	else
		text_report(out, log_path, r);
	(void)fflush(out);
	return r->exit;
}

int cli_log_verify(FILE *out, const char *log_path, const char *head_path,
		   const pawl_audit_head *anchor)
{
	cli_log_result r;

	if (!out)
		return CLI_EXIT_FAILURE;
	cli_log_check(log_path, head_path, anchor, NULL, &r);
	return cli_log_report(out, log_path, &r, false);
}

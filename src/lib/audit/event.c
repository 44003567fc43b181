/*
 * event.c - turning libpawl's events into audit entries, so that a
 * program's event callback is one call. See audit_record_event in
 * audit.h.
 *
 * Versions are uint64_t in events and int64 in JSON; TUF metadata pawl
 * accepts has versions that fit (the JSON parser refuses larger
 * integers), so the conversion cannot wrap for a real event. A larger
 * value is written as -1 rather than as a wrapped number.
 */
#include "audit/audit_impl.h"

static int64_t v64(uint64_t v)
{
	return v <= INT64_MAX ? (int64_t)v : -1;
}

int audit_record_event(audit_log *log, const pawl_event *ev)
{
	ENSURE(log && ev, PAWL_E_INVALID, "audit: no log or event");
	switch (ev->kind) {
	case PAWL_EVENT_FETCH:
	case PAWL_EVENT_PROGRESS:
		return 0;
	case PAWL_EVENT_VERIFIED:
		return audit_appendf(log, "verified", AUDIT_STR("role", ev->role),
				     AUDIT_INT("version", v64(ev->version)));
	case PAWL_EVENT_REJECTED:
		return audit_failuref(log, "rejected", ev->message ? ev->message : "",
				      AUDIT_STR("code", pawl_strerror(ev->code)),
				      AUDIT_STR("role", ev->role), AUDIT_STR("target", ev->target),
				      AUDIT_STR("url", ev->url));
	case PAWL_EVENT_ROOT_ROTATED:
		return audit_appendf(log, "root-rotated", AUDIT_INT("old_version", v64(ev->old_version)),
				     AUDIT_INT("version", v64(ev->version)));
	case PAWL_EVENT_DOWNLOADED:
		return audit_appendf(log, "download", AUDIT_STR("target", ev->target),
				     AUDIT_INT("length", v64(ev->total)),
				     AUDIT_STR("sha256", ev->sha256));
	case PAWL_EVENT_CACHED:
		return audit_appendf(log, "cached", AUDIT_STR("target", ev->target),
				     AUDIT_INT("length", v64(ev->total)));
	}
	return pawl_error_set(PAWL_E_INVALID, "audit: unknown event kind %d", (int)ev->kind);
}

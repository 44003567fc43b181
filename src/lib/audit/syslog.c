/*
 * syslog.c - mirroring entries to syslog by writing the datagram
 * ourselves, as glibc's syslog(3) would, instead of calling it:
 *  - the socket path can be pointed at a test socket;
 *  - the library does not touch the process-wide openlog() state that the
 *    program (or another library) may own;
 *  - sending never blocks (MSG_DONTWAIT): a stuck syslog daemon must not
 *    stall an update. A line that cannot be sent is counted, not retried;
 *    the file log is the record, syslog a copy that leaves the machine.
 *
 * Datagram: "<PRI>Mmm dd hh:mm:ss IDENT[PID]: audit seq=N type=T hash=H
 * key=value ...", RFC 3164 framing as journald and rsyslog read it on
 * /dev/log, at most AUDIT_SYSLOG_MAX bytes (cut with "..." at a character
 * boundary; seq, type and hash come first so that they always survive).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_impl.h"

static int connect_socket(audit_syslog *s)
{
	struct sockaddr_un sa;
	size_t n = strlen(s->path);
	int fd;

	if (n >= sizeof(sa.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, s->path, n + 1);
	while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	s->fd = fd;
	return 0;
}

void audit_syslog_close(audit_syslog *s)
{
	closep(&s->fd);
	s->fd = -1;
	free(s->path);
	free(s->ident);
	s->path = s->ident = NULL;
}

static int build(pawl_buf *b, const audit_syslog *s, int severity, uint64_t seq,
		 const char *type, const char *hash, const pj_value *fields)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	/* Local time, as syslog(3) writes it; month names fixed, not from
	 * the program's locale. */
	if (!localtime_r(&now, &tm))
		memset(&tm, 0, sizeof(tm));
	GUARD(buf_printf(b, "<%d>%s %2d %02d:%02d:%02d %s[%ld]: audit seq=%llu type=%s hash=%s",
			 s->facility | severity, months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, s->ident, (long)getpid(), (unsigned long long)seq,
			 type, hash));
	GUARD(audit_format_fields(b, fields));
	if (b->len > AUDIT_SYSLOG_MAX) {
		size_t cut = AUDIT_SYSLOG_MAX - 3;

		/* Back up to the start of a UTF-8 character. */
		while (cut > 0 && ((unsigned char)b->data[cut] & 0xc0) == 0x80)
			cut--;
		b->len = cut;
		GUARD(buf_append(b, "...", 3));
	}
	return 0;
}

void audit_syslog_send(audit_syslog *s, int severity, uint64_t seq, const char *type,
		       const char *hash, const pj_value *fields)
{
	_cleanup_buf_ pawl_buf b = PAWL_BUF_INIT(AUDIT_LINE_MAX * 4);

	if (build(&b, s, severity, seq, type, hash, fields) < 0) {
		s->dropped++;
		return;
	}
	/* One reconnect: the daemon may have restarted since the last line. */
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;

		if (s->fd < 0 && connect_socket(s) < 0)
			break;
		do
			n = send(s->fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)b.len)
			return;
		if (n >= 0 || (errno != ECONNREFUSED && errno != ENOTCONN &&
			       errno != EDESTADDRREQ && errno != ECONNRESET))
			break;
		closep(&s->fd);
		s->fd = -1;
	}
	s->dropped++;
}

/*
 * hint.c - see hint.h.
 */
#include <stdio.h>
#include <string.h>

#include "hint.h"
#include "pawl/common.h"

/* The role an expiry message names: "ROLE vN expired at ..." (perhaps
 * after a prefix); "" when there is none. */
static void expired_role(const char *msg, char *out, size_t n)
{
	const char *at = strstr(msg, " expired at ");
	const char *v, *start;

	out[0] = '\0';
	if (!at)
		return;
	/* back over " vN" to the role name before it */
	v = at;
	while (v > msg && v[-1] != ' ')
		v--;
	if (v == msg || v[0] != 'v')
		return;
	start = v - 1;
	while (start > msg && start[-1] != ' ')
		start--;
	snprintf(out, n, "%.*s", (int)(v - 1 - start), start);
}

const char *hint_for(int code, const char *message, char *buf, size_t n)
{
	const char *m = message ? message : "";

	if (n == 0)
		return NULL;
	/* libcurl's words (with OpenSSL) for a chain that does not lead to a
	 * CA it trusts; a host name mismatch is not fixed by a CA file. */
	if (code == PAWL_E_NETWORK &&
	    (strstr(m, "SSL certificate problem") || strstr(m, "self-signed certificate") ||
	     strstr(m, "unable to get local issuer certificate"))) {
		snprintf(buf, n, "the server's certificate does not lead to a CA this machine "
			 "trusts: for a private CA, use --ca-file FILE (or ca_file in pawl.conf)");
		return buf;
	}
	if (code == PAWL_E_EXPIRED) {
		char role[128];

		expired_role(m, role, sizeof(role));
		if (strcmp(role, "timestamp") == 0 || strcmp(role, "snapshot") == 0 || !role[0])
			snprintf(buf, n, "check this machine's clock, or ask the publisher to run "
				 "pawl-repo timestamp");
		else
			snprintf(buf, n, "check this machine's clock, or ask the publisher to renew "
				 "%s (pawl-repo expire) and publish again", role);
		return buf;
	}
	return NULL;
}

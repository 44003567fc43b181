/*
 * name.c - untrusted names to single, safe file name components and back.
 * See store.h for the encoding and its guarantees.
 */
#include <string.h>

#include "store/store.h"

static const char hexdig[] = "0123456789ABCDEF";

/* Bytes that stand for themselves, except '.' in the first position. */
static bool is_plain(unsigned char c, size_t pos)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '.')
		return pos > 0;
	return c == '_' || c == '-';
}

int name_to_filename(pawl_buf *out, const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t enc = 0;

	ENSURE(out && (name || len == 0), PAWL_E_INVALID, "name_to_filename: bad arguments");
	ENSURE(len > 0, PAWL_E_INVALID, "empty name cannot be a file name");
	/* Measure first so that out is untouched on error. Each byte adds at
	 * most 3, and the sum stops as soon as it passes NAME_ENC_MAX. */
	for (size_t i = 0; i < len; i++) {
		enc += is_plain(s[i], i) ? 1 : 3;
		if (enc > NAME_ENC_MAX)
			return pawl_error_set(PAWL_E_LIMIT,
					      "name of %zu bytes encodes to more than %d bytes", len,
					      NAME_ENC_MAX);
	}
	GUARD(buf_reserve(out, enc));
	for (size_t i = 0; i < len; i++) {
		if (is_plain(s[i], i)) {
			out->data[out->len++] = (char)s[i];
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = hexdig[s[i] >> 4];
			out->data[out->len++] = hexdig[s[i] & 0xf];
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower case is not the canonical encoding */
}

int filename_to_name(pawl_buf *out, const char *fn, size_t len)
{
	_cleanup_buf_ pawl_buf tmp = PAWL_BUF_INIT(NAME_ENC_MAX);
	size_t pos = 0; /* position in the decoded name */

	ENSURE(out && (fn || len == 0), PAWL_E_INVALID, "filename_to_name: bad arguments");
	ENSURE(len > 0, PAWL_E_FORMAT, "empty file name");
	ENSURE(len <= NAME_ENC_MAX, PAWL_E_FORMAT, "file name longer than %d bytes", NAME_ENC_MAX);
	for (size_t i = 0; i < len; pos++) {
		unsigned char c = (unsigned char)fn[i];

		if (c != '%') {
			ENSURE(is_plain(c, pos), PAWL_E_FORMAT,
			       "file name %.*s: byte %zu should be escaped", (int)len, fn, i);
			GUARD(buf_putc(&tmp, (char)c));
			i++;
			continue;
		}
		ENSURE(len - i >= 3, PAWL_E_FORMAT, "file name %.*s: truncated escape at byte %zu",
		       (int)len, fn, i);
		{
			int hi = hexval(fn[i + 1]), lo = hexval(fn[i + 2]);
			unsigned char b;

			ENSURE(hi >= 0 && lo >= 0, PAWL_E_FORMAT,
			       "file name %.*s: bad escape at byte %zu", (int)len, fn, i);
			b = (unsigned char)(hi << 4 | lo);
			ENSURE(!is_plain(b, pos), PAWL_E_FORMAT,
			       "file name %.*s: byte %zu needs no escape", (int)len, fn, i);
			GUARD(buf_putc(&tmp, (char)b));
			i += 3;
		}
	}
	return buf_append(out, tmp.data, tmp.len);
}

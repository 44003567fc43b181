/*
 * json_out.c - JSON strings for --json output (json_out.h).
 */
#include <stdio.h>

#include "common/json_out.h"
#include "json/json.h"
#include "base/base.h"

void cli_json_string(FILE *out, const char *s)
{
	pawl_buf b = PAWL_BUF_INIT(1u << 20);

	if (pj_write_cstr(&b, s) == 0)
		fputs(b.data, out);
	else
		fputs("\"\"", out);
	pawl_error_clear();
	buf_free(&b);
}

/*
 * json_out.h - printing the --json output of both programs (docs/json.md).
 */
#ifndef PAWL_COMMON_JSON_OUT_H
#define PAWL_COMMON_JSON_OUT_H

#include <stdio.h>

/* Print s to out as a JSON string, quoted and escaped as pj_write()
 * writes strings (RFC 8259: '"', '\\' and control characters escaped,
 * other bytes as they are, so UTF-8 stays UTF-8). A string longer than
 * 1 MiB prints as "" and leaves no error behind. */
void cli_json_string(FILE *out, const char *s);

#endif

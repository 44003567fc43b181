/*
 * output.c - what pawl-repo prints besides results and errors: info lines
 * (quiet with -q) and warnings on stderr, and the small helpers every
 * file uses. It calls nothing else of pawl-repo, so that every other file
 * may call it (main.c describes the order of the files).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "repo.h"

int verbosity;

void info(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 0)
		return;
	fputs("pawl-repo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void warning(const char *fmt, ...)
{
	va_list ap;

	fputs("pawl-repo: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *short_id(const char *keyid, char buf[20])
{
	snprintf(buf, 20, "%.16s", keyid ? keyid : "?");
	return buf;
}

void strv_push(strv *s, char *v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **nv = xreallocarray(s->v, cap, sizeof(*nv));

		if (!nv) {
			fputs("pawl-repo: out of memory\n", stderr);
			exit(1);
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

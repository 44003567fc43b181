/*
 * custom.c - the custom backend: an integrator's program, run once per
 * operation as
 *   SCRIPT get-primary              answers "a" or "b"
 *   SCRIPT set-primary a|b
 *   SCRIPT get-state a|b            answers "good" or "bad"
 *   SCRIPT set-state a|b good|bad
 *   SCRIPT get-current              answers "a" or "b" (the booted slot)
 * An answer is exactly one word on stdout, with or without one newline;
 * anything else (a blank, a second line, "A", "ok") is refused. A non-zero
 * exit, a signal, or a run past the timeout is an error that names the
 * script and the verb; stderr's first bytes go into the message. What a
 * set verb prints is read (up to a cap) and dropped.
 *
 * The script runs as the agent (root), so boot_open refuses one that
 * anyone else could change (boot_check_owner).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "boot/boot_impl.h"

#define CUSTOM_ANSWER_MAX 4096      /* stdout of a get verb */
#define CUSTOM_SET_OUTPUT_MAX 65536 /* stdout of a set verb, dropped */

static bool word_is(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

int custom_parse_answer(const char *out, size_t len, boot_answer kind, int *ret,
			const char *what)
{
	size_t n = len;

	ENSURE(out || len == 0, PAWL_E_INVALID, "%s: no answer", what);
	if (n > 0 && out[n - 1] == '\n')
		n--;
	ENSURE(n > 0, PAWL_E_FORMAT, "%s: no answer on stdout", what);
	if (kind == BOOT_ANSWER_SLOT && word_is(out, n, "a"))
		*ret = BOOT_SLOT_A;
	else if (kind == BOOT_ANSWER_SLOT && word_is(out, n, "b"))
		*ret = BOOT_SLOT_B;
	else if (kind == BOOT_ANSWER_STATE && word_is(out, n, "good"))
		*ret = BOOT_GOOD;
	else if (kind == BOOT_ANSWER_STATE && word_is(out, n, "bad"))
		*ret = BOOT_BAD;
	else {
		char shown[40];
		size_t k = 0;

		/* Quote what it said, printable and short. */
		for (size_t i = 0; i < len && k + 4 < sizeof(shown); i++) {
			unsigned char c = (unsigned char)out[i];

			shown[k++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
		}
		shown[k] = '\0';
		return pawl_error_set(PAWL_E_FORMAT, "%s: answered \"%s%s\", want exactly %s", what,
				      shown, len > k ? "..." : "",
				      kind == BOOT_ANSWER_SLOT ? "\"a\" or \"b\""
							       : "\"good\" or \"bad\"");
	}
	return 0;
}

/* Run SCRIPT verb [slot [state]]; for a get verb parse the answer. */
static int call(boot_backend *b, const char *verb, const char *slot, const char *state,
		boot_answer kind, int *answer)
{
	boot_run r = { 0, PAWL_BUF_INIT(answer ? CUSTOM_ANSWER_MAX : CUSTOM_SET_OUTPUT_MAX), "" };
	char what[PATH_MAX + 64];
	char *argv[5] = { b->path, (char *)verb, (char *)slot, (char *)state, NULL };
	int rc;

	snprintf(what, sizeof(what), "custom boot script %s %s%s%s%s%s", b->path, verb,
		 slot ? " " : "", slot ? slot : "", state ? " " : "", state ? state : "");
	rc = boot_spawn_ok(argv, b->timeout_ms, &r, what);
	if (rc == 0 && answer)
		rc = custom_parse_answer(r.out.data ? r.out.data : "", r.out.len, kind, answer,
					 what);
	buf_free(&r.out);
	return rc;
}

static int custom_get_primary(boot_backend *b, boot_slot *ret)
{
	int v;

	GUARD(call(b, "get-primary", NULL, NULL, BOOT_ANSWER_SLOT, &v));
	*ret = (boot_slot)v;
	return 0;
}

static int custom_set_primary(boot_backend *b, boot_slot slot)
{
	return call(b, "set-primary", boot_slot_name(slot), NULL, BOOT_ANSWER_SLOT, NULL);
}

static int custom_get_state(boot_backend *b, boot_slot slot, boot_state *ret)
{
	int v;

	GUARD(call(b, "get-state", boot_slot_name(slot), NULL, BOOT_ANSWER_STATE, &v));
	*ret = (boot_state)v;
	return 0;
}

static int custom_set_state(boot_backend *b, boot_slot slot, boot_state st)
{
	return call(b, "set-state", boot_slot_name(slot), boot_state_name(st), BOOT_ANSWER_STATE,
		    NULL);
}

static int custom_get_current(boot_backend *b, boot_slot *ret)
{
	int v;

	GUARD(call(b, "get-current", NULL, NULL, BOOT_ANSWER_SLOT, &v));
	*ret = (boot_slot)v;
	return 0;
}

static const boot_ops custom_ops = {
	.name = "custom",
	.get_primary = custom_get_primary,
	.set_primary = custom_set_primary,
	.get_state = custom_get_state,
	.set_state = custom_set_state,
	.get_current = custom_get_current,
	.free = NULL,
};

int boot_custom_init(boot_backend *b)
{
	b->ops = &custom_ops;
	return boot_check_owner(b->path, "custom boot script");
}

/*
 * fuzz_boot_answer.c - custom_parse_answer(), the reading of a custom boot
 * script's stdout, against the rule written out with strings: the first
 * byte picks the question (even: a slot, odd: a state), the rest is the
 * answer; it is accepted exactly when, less one trailing newline, it is
 * "a" or "b" (a slot) or "good" or "bad" (a state). Any disagreement
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const slots[] = { "a", "a\n", "b", "b\n" };
	static const char *const states[] = { "bad", "bad\n", "good", "good\n" };
	const char *const *table;
	boot_answer kind;
	int got = -1, want = -1, r;

	if (size < 1 || size > 8192)
		return 0;
	kind = (data[0] & 1) ? BOOT_ANSWER_STATE : BOOT_ANSWER_SLOT;
	table = kind == BOOT_ANSWER_SLOT ? slots : states;
	for (int i = 0; i < 4; i++)
		if (strlen(table[i]) == size - 1 && memcmp(table[i], data + 1, size - 1) == 0)
			want = i / 2; /* a=0 b=1; bad=0 good=1 */
	r = custom_parse_answer((const char *)data + 1, size - 1, kind, &got, "fuzz");
	if (want < 0 ? r != PAWL_E_FORMAT : (r != 0 || got != want))
		abort();
	pawl_error_clear();
	return 0;
}

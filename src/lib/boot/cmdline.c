/*
 * cmdline.c - the booted slot from the kernel command line.
 *
 * The words are split exactly as the kernel's next_arg() splits them
 * (kernel/params.c), so that pawl sees the parameters the kernel saw: a
 * double quote toggles quoting (spaces inside do not split), a leading
 * quote of a word and the quotes around a value are dropped, the first '='
 * not at the very start of a word separates the value, and a lone "--"
 * ends the kernel's parameters. Inside quotes, "pawl.slot=b" is text, not a
 * parameter: init="/bin/sh pawl.slot=b" names no slot.
 */
#include <string.h>

#include "boot/boot_impl.h"

/* The kernel's isspace(): 9-13, space, and Latin-1 no-break space. */
static bool kspace(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

static bool word_is(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

int boot_cmdline_slot(const char *text, size_t len, boot_slot *ret)
{
	boot_slot found = BOOT_SLOT_NONE;
	const char *found_by = NULL;
	size_t i = 0;

	ENSURE(ret && (text || len == 0), PAWL_E_INVALID, "boot_cmdline_slot: no text");
	ENSURE(!len || !memchr(text, '\0', len), PAWL_E_FORMAT, "a NUL byte in the command line");
	for (;;) {
		size_t start, end, eq = 0, pend, vs = 0, ve = 0;
		bool in_quote = false, quoted = false, has_eq = false;
		const char *param, *name;
		boot_slot s;

		while (i < len && kspace((unsigned char)text[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		if (text[start] == '"') {
			start++;
			in_quote = quoted = true;
		}
		for (end = start; end < len; end++) {
			if (kspace((unsigned char)text[end]) && !in_quote)
				break;
			/* The kernel's "equals == 0" test: a '=' that opens
			 * the word does not count, a later one does. */
			if (!has_eq && text[end] == '=' && end != start) {
				has_eq = true;
				eq = end;
			}
			if (text[end] == '"')
				in_quote = !in_quote;
		}
		i = end;
		pend = has_eq ? eq : end;
		if (has_eq) {
			vs = eq + 1;
			ve = end;
			if (vs < end && text[vs] == '"') {
				vs++;
				if (text[end - 1] == '"')
					ve = end - 1;
				if (ve < vs)
					ve = vs;
			}
		}
		/* A word that opened with a quote loses a closing one, unless
		 * the value's own quote handling already took it. */
		if (quoted && end > start && text[end - 1] == '"') {
			if (!has_eq)
				pend = end - 1;
			else if (ve == end)
				ve = end - 1;
		}
		param = text + start;
		if (!has_eq && word_is(param, pend - start, "--"))
			break; /* the rest belongs to init */
		if (word_is(param, pend - start, "pawl.slot")) {
			name = "pawl.slot";
			if (has_eq && word_is(text + vs, ve - vs, "a"))
				s = BOOT_SLOT_A;
			else if (has_eq && word_is(text + vs, ve - vs, "b"))
				s = BOOT_SLOT_B;
			else
				return pawl_error_set(PAWL_E_FORMAT,
						      "pawl.slot=%.*s is not a slot (a or b)",
						      has_eq ? (int)(ve - vs > 32 ? 32 : ve - vs) : 0,
						      has_eq ? text + vs : "");
		} else if (word_is(param, pend - start, "rauc.slot")) {
			name = "rauc.slot";
			if (has_eq && word_is(text + vs, ve - vs, "A"))
				s = BOOT_SLOT_A;
			else if (has_eq && word_is(text + vs, ve - vs, "B"))
				s = BOOT_SLOT_B;
			else
				return pawl_error_set(PAWL_E_FORMAT,
						      "rauc.slot=%.*s is not a pawl slot (A or B)",
						      has_eq ? (int)(ve - vs > 32 ? 32 : ve - vs) : 0,
						      has_eq ? text + vs : "");
		} else {
			continue;
		}
		if (found != BOOT_SLOT_NONE && found != s)
			return pawl_error_set(PAWL_E_FORMAT,
					      "%s names slot %s but %s names slot %s: ambiguous",
					      found_by, boot_slot_name(found), name,
					      boot_slot_name(s));
		found = s;
		found_by = name;
	}
	ENSURE(found != BOOT_SLOT_NONE, PAWL_E_NOT_FOUND,
	       "no pawl.slot= (or rauc.slot=) parameter; the boot script sets it, "
	       "--booted-slot overrides it");
	*ret = found;
	return 0;
}

/*
 * fuzz_grub_list.c - grub_list_get() (grub-editenv list output) and
 * boot_order_parse() (ORDER / BOOT_ORDER values) against plain
 * re-implementations written over C strings.
 *
 * Input: the name to look up, a newline, then the list text. The
 * reference splits the text into lines with strchr: it is accepted only
 * when every line ends in '\n', holds no NUL, and is NAME=VALUE with a
 * non-empty NAME of [A-Za-z0-9_], and the name looked up is set at most
 * once. The value found is then read as a slot order both ways: words of
 * "A" or "B" separated by spaces, none twice. Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool namechar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* 0 (with val and vlen), PAWL_E_FORMAT or PAWL_E_NOT_FOUND. */
static int ref_get(const char *text, size_t len, const char *name, const char **val,
		   size_t *vlen)
{
	const char *p = text, *end = text + len;
	int found = 0;

	if (memchr(text, '\0', len))
		return PAWL_E_FORMAT;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq;

		if (!nl)
			return PAWL_E_FORMAT;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (!eq || eq == p)
			return PAWL_E_FORMAT;
		for (const char *q = p; q < eq; q++)
			if (!namechar(*q))
				return PAWL_E_FORMAT;
		if ((size_t)(eq - p) == strlen(name) && memcmp(p, name, strlen(name)) == 0) {
			if (found)
				return PAWL_E_FORMAT;
			found = 1;
			*val = eq + 1;
			*vlen = (size_t)(nl - eq - 1);
		}
		p = nl + 1;
	}
	return found ? 0 : PAWL_E_NOT_FOUND;
}

static int ref_order(const char *v, size_t len, boot_slot out[2], size_t *n)
{
	char buf[256], *w, *save = NULL;

	*n = 0;
	if (len >= sizeof(buf))
		return -100; /* not compared */
	memcpy(buf, v, len);
	buf[len] = '\0';
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		boot_slot s;

		if (strcmp(w, "A") == 0)
			s = BOOT_SLOT_A;
		else if (strcmp(w, "B") == 0)
			s = BOOT_SLOT_B;
		else
			return PAWL_E_FORMAT;
		for (size_t k = 0; k < *n; k++)
			if (out[k] == s)
				return PAWL_E_FORMAT;
		out[(*n)++] = s;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size < 32 ? size : 32);
	const char *text, *v = NULL, *rv = NULL;
	char name[33];
	size_t len, vlen = 0, rvlen = 0, n = 0, rn = 0;
	boot_slot o[2], ro[2];
	int r, w;

	if (!nl || size > 70000)
		return 0;
	memcpy(name, data, (size_t)(nl - (const char *)data));
	name[nl - (const char *)data] = '\0';
	if (strlen(name) != (size_t)(nl - (const char *)data))
		return 0; /* a NUL in the name: not a question we ask */
	text = nl + 1;
	len = size - (size_t)(text - (const char *)data);

	r = grub_list_get(text, len, name, &v, &vlen, "fuzz");
	w = ref_get(text, len, name, &rv, &rvlen);
	if (r != w || (r == 0 && (v != rv || vlen != rvlen)))
		abort();
	pawl_error_clear();
	if (r != 0)
		return 0;
	r = boot_order_parse(v, vlen, o, &n, "ORDER", "fuzz");
	w = ref_order(v, vlen, ro, &rn);
	if (w != -100 && (r != w || (r == 0 && (n != rn || memcmp(o, ro, n * sizeof(o[0]))))))
		abort();
	if (r == 0 && n > 2)
		abort();
	pawl_error_clear();
	return 0;
}

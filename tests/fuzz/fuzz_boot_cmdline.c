/*
 * fuzz_boot_cmdline.c - boot_cmdline_slot() against a second reading of
 * the command line written the way the kernel's kernel/params.c does it:
 * in place, on a NUL-terminated copy, cutting words and values with NUL
 * bytes (boot_cmdline_slot works on indices over const text). The two
 * must agree on the code and the slot. Two invariants on top: a leading
 * unrelated word changes nothing, and when the text ends outside quotes,
 * neither does " -- pawl.slot=a" appended (init's words do not count).
 * Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLEN 4096

static bool sp(char c)
{
	unsigned char u = (unsigned char)c;

	return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

static char *skip(char *s)
{
	while (sp(*s))
		s++;
	return s;
}

/* The kernel's next_arg(), in its own terms. */
static char *next_arg(char *args, char **param, char **val)
{
	unsigned int i, equals = 0;
	int in_quote = 0, quoted = 0;

	if (*args == '"') {
		args++;
		in_quote = 1;
		quoted = 1;
	}
	for (i = 0; args[i]; i++) {
		if (sp(args[i]) && !in_quote)
			break;
		if (equals == 0 && args[i] == '=')
			equals = i;
		if (args[i] == '"')
			in_quote = !in_quote;
	}
	*param = args;
	if (!equals) {
		*val = NULL;
	} else {
		args[equals] = '\0';
		*val = args + equals + 1;
		if (**val == '"') {
			(*val)++;
			if (args[i - 1] == '"')
				args[i - 1] = '\0';
		}
	}
	if (quoted && i > 0 && args[i - 1] == '"')
		args[i - 1] = '\0';
	if (args[i]) {
		args[i] = '\0';
		args += i + 1;
	} else {
		args += i;
	}
	return skip(args);
}

static int reference(const uint8_t *data, size_t size, boot_slot *ret)
{
	char *buf, *args, *param, *val;
	boot_slot found = BOOT_SLOT_NONE;
	int rc = PAWL_E_NOT_FOUND;

	if (size && memchr(data, '\0', size))
		return PAWL_E_FORMAT;
	buf = malloc(size + 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	args = skip(buf);
	while (*args) {
		boot_slot s;

		args = next_arg(args, &param, &val);
		if (!val && strcmp(param, "--") == 0)
			break;
		if (strcmp(param, "pawl.slot") == 0) {
			if (val && strcmp(val, "a") == 0)
				s = BOOT_SLOT_A;
			else if (val && strcmp(val, "b") == 0)
				s = BOOT_SLOT_B;
			else
				goto format;
		} else if (strcmp(param, "rauc.slot") == 0) {
			if (val && strcmp(val, "A") == 0)
				s = BOOT_SLOT_A;
			else if (val && strcmp(val, "B") == 0)
				s = BOOT_SLOT_B;
			else
				goto format;
		} else {
			continue;
		}
		if (found != BOOT_SLOT_NONE && found != s)
			goto format;
		found = s;
	}
	if (found != BOOT_SLOT_NONE) {
		*ret = found;
		rc = 0;
	}
	free(buf);
	return rc;
format:
	free(buf);
	return PAWL_E_FORMAT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	boot_slot got = BOOT_SLOT_NONE, want = BOOT_SLOT_NONE, again = BOOT_SLOT_NONE;
	static const char pre[] = "quiet ", post[] = " -- pawl.slot=a";
	char buf[sizeof(pre) + MAXLEN + sizeof(post)];
	size_t quotes = 0;
	int r, w;

	if (size > MAXLEN)
		return 0;
	r = boot_cmdline_slot((const char *)data, size, &got);
	w = reference(data, size, &want);
	if (r != w || (r == 0 && got != want))
		abort();
	if (r != 0 && r != PAWL_E_FORMAT && r != PAWL_E_NOT_FOUND)
		abort();
	pawl_error_clear();

	memcpy(buf, pre, sizeof(pre) - 1);
	memcpy(buf + sizeof(pre) - 1, data, size);
	if (boot_cmdline_slot(buf, sizeof(pre) - 1 + size, &again) != r ||
	    (r == 0 && again != got))
		abort();
	for (size_t i = 0; i < size; i++)
		quotes += data[i] == '"';
	if (quotes % 2 == 0) {
		memcpy(buf, data, size);
		memcpy(buf + size, post, sizeof(post) - 1);
		if (boot_cmdline_slot(buf, size + sizeof(post) - 1, &again) != r ||
		    (r == 0 && again != got))
			abort();
	}
	pawl_error_clear();
	return 0;
}

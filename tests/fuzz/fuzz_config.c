/*
 * fuzz_config.c - the agent's pawl.conf (src/pawl/config.c) through the
 * one bounded reader (src/common/conf.c), from memory.
 *
 * config_parse() either refuses with a message that names the file
 * ("fuzz.conf...") or returns a configuration that keeps every promise
 * of config.h, checked here independently:
 *  - the required keys are there, 1 to 16 of each URL;
 *  - exactly one install mode: install_dir, or slot.a, slot.b and
 *    bootloader together, with two different absolute slot paths and a
 *    bootloader "grub:/", "uboot:/" or "custom:/...";
 *  - every value is non-empty, one line, without blanks at either end,
 *    and was in the input; app is one path component;
 *  - numbers are in their documented ranges.
 * Any broken promise aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *text;
static size_t text_len;

static void value_ok(const char *v)
{
	size_t n;

	if (!v)
		return;
	n = strlen(v);
	if (n == 0 || strchr(v, '\n') || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
	    v[n - 1] == '\t' || v[n - 1] == '\r')
		abort();
	if (!memmem(text, text_len, v, n))
		abort();
}

static bool prefixed(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	agent_config c;
	char err[512];

	text = (const char *)data;
	text_len = size;
	if (config_parse(&c, "fuzz.conf", text, size, err, sizeof(err)) < 0) {
		if (!prefixed(err, "fuzz.conf") && strcmp(err, "out of memory") != 0)
			abort();
		return 0;
	}
	if (c.n_metadata_urls < 1 || c.n_metadata_urls > CONFIG_MAX_MIRRORS ||
	    c.n_target_urls < 1 || c.n_target_urls > CONFIG_MAX_MIRRORS)
		abort();
	if (!c.trusted_root || !c.state_dir || !c.app || strchr(c.app, '/') ||
	    strcmp(c.app, ".") == 0 || strcmp(c.app, "..") == 0)
		abort();
	for (int i = 0; i < c.n_metadata_urls; i++)
		value_ok(c.metadata_urls[i]);
	for (int i = 0; i < c.n_target_urls; i++)
		value_ok(c.target_urls[i]);
	value_ok(c.trusted_root);
	value_ok(c.state_dir);
	value_ok(c.app);
	value_ok(c.install_dir);
	value_ok(c.health_check);
	value_ok(c.ca_file);
	value_ok(c.pin);
	value_ok(c.user);
	value_ok(c.syslog_facility);
	value_ok(c.bootloader);
	if (c.slot_mode) {
		/* slot paths are resolved, so not necessarily in the input */
		if (!c.slot_a || !c.slot_b || !c.bootloader || c.install_dir ||
		    c.slot_a[0] != '/' || c.slot_b[0] != '/' || strcmp(c.slot_a, c.slot_b) == 0)
			abort();
		if (!prefixed(c.bootloader, "grub:/") && !prefixed(c.bootloader, "uboot:/") &&
		    !prefixed(c.bootloader, "custom:/"))
			abort();
	} else if (!c.install_dir || c.slot_a || c.slot_b || c.bootloader) {
		abort();
	}
	if (c.health_timeout_s < 1 || c.health_timeout_s > 86400 || c.lock_timeout_s > 86400 ||
	    c.min_rate > (1ul << 30) || c.deadline_base_s > 86400 ||
	    c.max_delegations > 100000)
		abort();
	for (int i = 0; i < 4; i++)
		if (c.max_bytes[i] > (uint64_t)1 << 40)
			abort();
	config_free(&c);
	return 0;
}

/*
 * config.h - the agent's configuration file.
 *
 * Format: common/conf.h (one "KEY = VALUE" per line; blank lines and
 * lines starting with '#' are ignored; whitespace around KEY and VALUE is
 * dropped; no quoting: a value runs to the end of the line). Unknown keys,
 * a key given twice (except the repeatable ones), missing required keys
 * and malformed values are errors naming the file and line.
 *
 * Two install modes: folder mode (install_dir) and slot mode (slot.a,
 * slot.b and bootloader, all three or none; no install_dir).
 */
#ifndef PAWL_AGENT_CONFIG_H
#define PAWL_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_MIRRORS 16

typedef struct agent_config {
	char *path;           /* the file it was read from, for messages */
	char *metadata_urls[CONFIG_MAX_MIRRORS]; /* metadata_url, repeatable */
	int n_metadata_urls;
	char *target_urls[CONFIG_MAX_MIRRORS];   /* target_base_url, repeatable */
	int n_target_urls;
	char *trusted_root;   /* bootstrap root.json */
	char *state_dir;      /* metadata, staging, state.json, audit.log */
	char *app;            /* releases are APP/VERSION/NAME */
	char *install_dir;    /* folder mode; NULL in slot mode */
	/* Slot mode (issue 18): the two A/B slots, resolved when the file is
	 * read (conf_resolve_trusted_path: every link and directory on the
	 * way owned by root or the agent's user, no directory writable by
	 * group or others), two different files, so that later O_NOFOLLOW
	 * opens work on them; and
	 * the bootloader string as given ("grub:PATH", "uboot:PATH",
	 * "custom:PATH", PATH absolute; boot_open() checks the files). */
	bool slot_mode;
	char *slot_a, *slot_b;
	char *bootloader;
	/* Not in the file: the global option --booted-slot a|b (main.c), which
	 * overrides pawl.slot= on the kernel command line; NULL: read it. */
	const char *booted_slot;
	char *health_check;   /* optional: /bin/sh -c command */
	unsigned health_timeout_s; /* default 60 */
	char *ca_file;
	char *pin;
	char *user;           /* unprivileged account for network and parsing */
	bool syslog;          /* mirror the audit log to syslog; default yes */
	char *syslog_facility; /* default authpriv */
	uint64_t max_bytes[4]; /* max_bytes_root, _timestamp, _snapshot, _targets */
	unsigned max_delegations; /* roles per target search; 0: the default (32) */
	unsigned lock_timeout_s; /* default 60 */
	unsigned long min_rate;  /* deadline: bytes/s; 0: the default (16384) */
	unsigned deadline_base_s; /* deadline: seconds; 0: the default (30) */
} agent_config;

/* Load path; on failure print nothing and return -1 with a message in
 * err (errlen bytes). */
int config_load(agent_config *c, const char *path, char *err, size_t errlen);
/* The same from len bytes of text in memory (the fuzzer); name stands
 * for the file in messages. */
int config_parse(agent_config *c, const char *name, const char *text, size_t len, char *err,
		 size_t errlen);
void config_free(agent_config *c);

#endif

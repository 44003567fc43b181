/*
 * config.h - the agent's configuration file.
 *
 * Format: one "KEY = VALUE" per line; blank lines and lines starting with
 * '#' are ignored; whitespace around KEY and VALUE is dropped; no quoting
 * (a value runs to the end of the line). Unknown keys, a key given twice
 * (except the repeatable ones), missing required keys and malformed
 * values are errors naming the file and line.
 */
#ifndef PAWL_AGENT_CONFIG_H
#define PAWL_AGENT_CONFIG_H

#include <stdbool.h>
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
	char *install_dir;
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
void config_free(agent_config *c);

#endif

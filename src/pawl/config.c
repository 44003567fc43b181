/*
 * config.c - see config.h. The file is read and split into settings by
 * the one bounded reader (common/conf.h); this file knows the keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/conf.h"
#include "common/parse.h"
#include "config.h"
#include "base/base.h"

#define LINE_MAX_LEN 4096
#define FILE_MAX_LEN (256 * 1024)
/* More than every key once and every mirror: a bound, not a limit. */
#define SETTINGS_MAX 256

enum key {
	K_METADATA_URL, K_TARGET_BASE_URL, K_TRUSTED_ROOT, K_STATE_DIR, K_APP, K_INSTALL_DIR,
	K_HEALTH_CHECK, K_HEALTH_TIMEOUT, K_LOCK_TIMEOUT, K_MIN_RATE, K_DEADLINE_BASE, K_CA_FILE,
	K_PIN, K_USER, K_SYSLOG, K_SYSLOG_FACILITY, K_MAX_DELEGATIONS, K_MAX_BYTES_ROOT,
	K_MAX_BYTES_TIMESTAMP, K_MAX_BYTES_SNAPSHOT, K_MAX_BYTES_TARGETS, K_SLOT_A, K_SLOT_B,
	K_BOOTLOADER,
};

static const conf_key keys[] = {
	[K_METADATA_URL] = { "metadata_url", CONFIG_MAX_MIRRORS },
	[K_TARGET_BASE_URL] = { "target_base_url", CONFIG_MAX_MIRRORS },
	[K_TRUSTED_ROOT] = { "trusted_root", 1 },
	[K_STATE_DIR] = { "state_dir", 1 },
	[K_APP] = { "app", 1 },
	[K_INSTALL_DIR] = { "install_dir", 1 },
	[K_HEALTH_CHECK] = { "health_check", 1 },
	[K_HEALTH_TIMEOUT] = { "health_timeout", 1 },
	[K_LOCK_TIMEOUT] = { "lock_timeout", 1 },
	[K_MIN_RATE] = { "min_rate", 1 },
	[K_DEADLINE_BASE] = { "deadline_base", 1 },
	[K_CA_FILE] = { "ca_file", 1 },
	[K_PIN] = { "pin", 1 },
	[K_USER] = { "user", 1 },
	[K_SYSLOG] = { "syslog", 1 },
	[K_SYSLOG_FACILITY] = { "syslog_facility", 1 },
	[K_MAX_DELEGATIONS] = { "max_delegations", 1 },
	[K_MAX_BYTES_ROOT] = { "max_bytes_root", 1 },
	[K_MAX_BYTES_TIMESTAMP] = { "max_bytes_timestamp", 1 },
	[K_MAX_BYTES_SNAPSHOT] = { "max_bytes_snapshot", 1 },
	[K_MAX_BYTES_TARGETS] = { "max_bytes_targets", 1 },
	[K_SLOT_A] = { "slot.a", 1 },
	[K_SLOT_B] = { "slot.b", 1 },
	[K_BOOTLOADER] = { "bootloader", 1 },
};

/* What the settings leave behind beyond the struct itself. */
typedef struct loader {
	agent_config *c;
	struct stat slot_st[2];
} loader;

static int set_str(char **slot, const char *v)
{
	*slot = xstrdup(v);
	return *slot ? 0 : PAWL_E_NOMEM;
}

/* Numbers and durations: the one rule of both programs' command lines
 * (common/parse.h); the messages name the key and its range instead. */
static int uint_in(const char *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	if (cli_parse_u64(v, min, max, ret) < 0) {
		pawl_error_clear();
		return -1;
	}
	return 0;
}

/* Seconds: "90", "90s", "5m", "1h", "1d"; 1 to max. */
static int secs_in(const char *key, const char *v, uint64_t max, uint64_t *ret)
{
	int64_t s;

	if (cli_parse_duration(key, v, 1, (int64_t)max, &s) < 0) {
		pawl_error_clear();
		return -1;
	}
	*ret = (uint64_t)s;
	return 0;
}

#define SECS_RANGE "seconds (or a number with s, m, h or d)"

static int set_slot(loader *l, int which, const char *key, const char *v)
{
	char *real = NULL;
	int r;

	r = conf_resolve_trusted_path(v, &real, &l->slot_st[which]);
	if (r < 0)
		return pawl_error_prefix(r, "%s: ", key);
	if (which == 0)
		l->c->slot_a = real;
	else
		l->c->slot_b = real;
	return 0;
}

/* "grub:PATH", "uboot:PATH" or "custom:PATH" with PATH absolute. Only the
 * syntax: boot_open() checks the files when the agent uses them. */
static int check_bootloader(const char *v)
{
	static const char *const kinds[] = { "grub:", "uboot:", "custom:" };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t n = strlen(kinds[i]);

		if (strncmp(v, kinds[i], n) != 0)
			continue;
		ENSURE(v[n] == '/', PAWL_E_INVALID, "bootloader: %s needs an absolute path, not "
		       "\"%.128s\"", kinds[i], v + n);
		return 0;
	}
	return pawl_error_set(PAWL_E_INVALID, "bootloader must be grub:PATH, uboot:PATH or "
			      "custom:PATH, not \"%.128s\"", v);
}

static int apply(void *ctx, size_t k, const char *key, const char *val)
{
	loader *l = ctx;
	agent_config *c = l->c;
	uint64_t num;

	switch ((enum key)k) {
	case K_METADATA_URL:
		GUARD(set_str(&c->metadata_urls[c->n_metadata_urls], val));
		c->n_metadata_urls++;
		return 0;
	case K_TARGET_BASE_URL:
		GUARD(set_str(&c->target_urls[c->n_target_urls], val));
		c->n_target_urls++;
		return 0;
	case K_TRUSTED_ROOT:
		return set_str(&c->trusted_root, val);
	case K_STATE_DIR:
		return set_str(&c->state_dir, val);
	case K_APP:
		ENSURE(!strchr(val, '/') && strcmp(val, ".") != 0 && strcmp(val, "..") != 0,
		       PAWL_E_INVALID, "app must be one path component");
		return set_str(&c->app, val);
	case K_INSTALL_DIR:
		return set_str(&c->install_dir, val);
	case K_HEALTH_CHECK:
		return set_str(&c->health_check, val);
	case K_HEALTH_TIMEOUT:
		ENSURE(secs_in(key, val, 86400, &num) == 0, PAWL_E_INVALID,
		       "health_timeout must be 1 to 86400 " SECS_RANGE);
		c->health_timeout_s = (unsigned)num;
		return 0;
	case K_LOCK_TIMEOUT:
		if (strcmp(val, "0") == 0) {
			c->lock_timeout_s = 0;
			return 0;
		}
		ENSURE(secs_in(key, val, 86400, &num) == 0, PAWL_E_INVALID,
		       "lock_timeout must be 0 to 86400 " SECS_RANGE);
		c->lock_timeout_s = (unsigned)num;
		return 0;
	case K_MIN_RATE:
		ENSURE(uint_in(val, 1, 1u << 30, &num) == 0, PAWL_E_INVALID,
		       "min_rate must be 1 to 1073741824 bytes per second");
		c->min_rate = (unsigned long)num;
		return 0;
	case K_DEADLINE_BASE:
		ENSURE(secs_in(key, val, 86400, &num) == 0, PAWL_E_INVALID,
		       "deadline_base must be 1 to 86400 " SECS_RANGE);
		c->deadline_base_s = (unsigned)num;
		return 0;
	case K_CA_FILE:
		return set_str(&c->ca_file, val);
	case K_PIN:
		return set_str(&c->pin, val);
	case K_USER:
		return set_str(&c->user, val);
	case K_SYSLOG:
		ENSURE(strcmp(val, "yes") == 0 || strcmp(val, "no") == 0, PAWL_E_INVALID,
		       "syslog must be yes or no");
		c->syslog = strcmp(val, "yes") == 0;
		return 0;
	case K_SYSLOG_FACILITY:
		return set_str(&c->syslog_facility, val);
	case K_MAX_DELEGATIONS:
		ENSURE(uint_in(val, 1, 100000, &num) == 0, PAWL_E_INVALID,
		       "max_delegations must be 1 to 100000 roles");
		c->max_delegations = (unsigned)num;
		return 0;
	case K_MAX_BYTES_ROOT:
	case K_MAX_BYTES_TIMESTAMP:
	case K_MAX_BYTES_SNAPSHOT:
	case K_MAX_BYTES_TARGETS:
		ENSURE(uint_in(val, 1, (uint64_t)1 << 40, &num) == 0, PAWL_E_INVALID,
		       "%s must be 1 to 1099511627776 bytes", key);
		c->max_bytes[k - K_MAX_BYTES_ROOT] = num;
		return 0;
	case K_SLOT_A:
		return set_slot(l, 0, key, val);
	case K_SLOT_B:
		return set_slot(l, 1, key, val);
	case K_BOOTLOADER:
		GUARD(check_bootloader(val));
		return set_str(&c->bootloader, val);
	}
	return pawl_error_set(PAWL_E_INVALID, "unknown key \"%s\"", key);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* What no single line can say: required keys and the install mode. */
static int check_whole(const loader *l, const char *name)
{
	const agent_config *c = l->c;
	const char *missing = !c->n_metadata_urls ? "metadata_url" :
			      !c->n_target_urls ? "target_base_url" :
			      !c->trusted_root ? "trusted_root" :
			      !c->state_dir ? "state_dir" :
			      !c->app ? "app" : NULL;
	bool slots = c->slot_a || c->slot_b;

	ENSURE(!missing, PAWL_E_INVALID, "%s: %s is required", name, missing);
	ENSURE(!c->slot_a == !c->slot_b, PAWL_E_INVALID,
	       "%s: slot.a and slot.b go together (%s is missing)", name,
	       c->slot_a ? "slot.b" : "slot.a");
	ENSURE(slots || !c->bootloader, PAWL_E_INVALID,
	       "%s: bootloader is for slot mode: it needs slot.a and slot.b", name);
	ENSURE(!slots || c->bootloader, PAWL_E_INVALID,
	       "%s: slot.a and slot.b need bootloader (grub:PATH, uboot:PATH or custom:PATH)",
	       name);
	ENSURE(!slots || !c->install_dir, PAWL_E_INVALID,
	       "%s: install_dir is for folder mode; slot mode (slot.a, slot.b) has none", name);
	ENSURE(slots || c->install_dir, PAWL_E_INVALID, "%s: install_dir is required", name);
	ENSURE(!slots || (strcmp(c->slot_a, c->slot_b) != 0 &&
			  !same_file(&l->slot_st[0], &l->slot_st[1])),
	       PAWL_E_INVALID, "%s: slot.a and slot.b are the same file (%s)", name, c->slot_a);
	return 0;
}

static int finish(agent_config *c, const char *name, int r, const loader *l, char *err,
		  size_t errlen)
{
	if (r == 0)
		r = check_whole(l, name);
	if (r == 0) {
		c->slot_mode = c->slot_a != NULL;
		c->path = xstrdup(name);
		if (!c->path)
			r = PAWL_E_NOMEM;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s", r == PAWL_E_NOMEM ? "out of memory" :
			 pawl_error_last()->message);
		config_free(c);
		return -1;
	}
	return 0;
}

static void start(agent_config *c, loader *l, conf_spec *s)
{
	memset(c, 0, sizeof(*c));
	memset(l, 0, sizeof(*l));
	c->syslog = true;
	c->health_timeout_s = 60;
	c->lock_timeout_s = 60;
	l->c = c;
	*s = (conf_spec){
		.keys = keys,
		.n_keys = ARRAY_SIZE(keys),
		.apply = apply,
		.ctx = l,
		.max_file = FILE_MAX_LEN,
		.max_line = LINE_MAX_LEN,
		.max_settings = SETTINGS_MAX,
		.allow_empty = false,
	};
}

int config_load(agent_config *c, const char *path, char *err, size_t errlen)
{
	loader l;
	conf_spec s;

	start(c, &l, &s);
	return finish(c, path, conf_read_file(path, &s), &l, err, errlen);
}

int config_parse(agent_config *c, const char *name, const char *text, size_t len, char *err,
		 size_t errlen)
{
	loader l;
	conf_spec s;

	start(c, &l, &s);
	return finish(c, name, conf_parse(name, text, len, &s), &l, err, errlen);
}

void config_free(agent_config *c)
{
	for (int i = 0; i < c->n_metadata_urls; i++)
		free(c->metadata_urls[i]);
	for (int i = 0; i < c->n_target_urls; i++)
		free(c->target_urls[i]);
	free(c->trusted_root);
	free(c->state_dir);
	free(c->app);
	free(c->install_dir);
	free(c->health_check);
	free(c->ca_file);
	free(c->pin);
	free(c->user);
	free(c->syslog_facility);
	free(c->slot_a);
	free(c->slot_b);
	free(c->bootloader);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

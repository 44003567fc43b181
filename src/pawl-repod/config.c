/*
 * config.c - /etc/pawl/repod.conf: "key = value" lines, '#' comments.
 * Unknown keys and bad values are errors naming the line, so a typo
 * never silently falls back to a default. The file names the online
 * keys; it never holds key material itself. The file is read and split
 * by the one bounded reader (common/conf.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/conf.h"
#include "common/parse.h"
#include "repod.h"

void config_free(repod_config *c)
{
	if (!c)
		return;
	if (c->database)
		OPENSSL_cleanse(c->database, strlen(c->database)); /* may hold a password */
	free(c->database);
	free(c->listen_addr);
	for (unsigned i = 0; i < ONLINE_KEYS_MAX; i++) {
		free(c->key_bins[i]);
		free(c->key_snapshot[i]);
		free(c->key_timestamp[i]);
	}
	free(c->pin_file);
	free(c->passphrase_file);
	free(c->log_level);
	memset(c, 0, sizeof(*c));
}

/* A number, optionally followed by K or k (KiB) or M (MiB), up to max:
 * the digits by the one strict rule (common/parse.h). */
static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char digits[32];
	size_t n = strlen(s);
	uint64_t v, mul = 1;

	if (n > 0 && (s[n - 1] == 'K' || s[n - 1] == 'k'))
		mul = 1024, n--;
	else if (n > 0 && s[n - 1] == 'M')
		mul = 1024 * 1024, n--;
	ENSURE(n > 0 && n < sizeof(digits), PAWL_E_INVALID, "\"%.64s\" is not a number", s);
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (cli_parse_u64(digits, 0, max, &v) < 0 || __builtin_mul_overflow(v, mul, &v) ||
	    v > max)
		return pawl_error_set(PAWL_E_INVALID, "\"%.64s\" is not a number in range", s);
	*ret = v;
	return 0;
}

/* N, Ns, Nm, Nh or Nd seconds, at most 10 years (common/parse.h). */
static int parse_period(const char *what, const char *s, int64_t *ret)
{
	if (cli_parse_duration(what, s, 1, 3650LL * 86400, ret) < 0)
		return pawl_error_set(PAWL_E_INVALID,
				      "\"%.64s\" is not a period (N, Ns, Nm, Nh or Nd; at most 10 "
				      "years)", s);
	return 0;
}

static int add_key(char **keys, unsigned *n, const char *k, const char *v)
{
	/* The reader allows ONLINE_KEYS_MAX lines (settings[] below). */
	ENSURE(*n < ONLINE_KEYS_MAX, PAWL_E_INVALID, "%s: at most %d keys", k, ONLINE_KEYS_MAX);
	keys[*n] = xstrdup(v);
	if (!keys[*n])
		return PAWL_E_NOMEM;
	(*n)++;
	return 0;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
	return *dst ? 0 : PAWL_E_NOMEM;
}

static int apply(void *ctx, size_t index, const char *k, const char *v)
{
	repod_config *c = ctx;
	uint64_t u;

	(void)index;

	if (strcmp(k, "database") == 0)
		return set_str(&c->database, v);
	if (strcmp(k, "listen") == 0) {
		const char *colon = strrchr(v, ':');

		ENSURE(colon && colon > v, PAWL_E_INVALID, "listen: ADDRESS:PORT expected");
		GUARD(parse_u64(colon + 1, 65535, &u));
		c->port = (uint16_t)u;
		free(c->listen_addr);
		c->listen_addr = xstrndup(v, (size_t)(colon - v));
		return c->listen_addr ? 0 : PAWL_E_NOMEM;
	}
	if (strcmp(k, "threads") == 0) {
		GUARD(parse_u64(v, 256, &u));
		ENSURE(u >= 1, PAWL_E_INVALID, "threads: at least 1");
		c->threads = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "max_body") == 0) {
		GUARD(parse_u64(v, 256 * 1024 * 1024, &u));
		ENSURE(u >= 1024, PAWL_E_INVALID, "max_body: at least 1K");
		c->max_body = (size_t)u;
		return 0;
	}
	if (strcmp(k, "max_connections") == 0) {
		GUARD(parse_u64(v, 65536, &u));
		ENSURE(u >= 1, PAWL_E_INVALID, "max_connections: at least 1");
		c->max_connections = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "timeout") == 0 || strcmp(k, "deadline") == 0) {
		int64_t p;

		GUARD(parse_period(k, v, &p));
		ENSURE(p <= 3600, PAWL_E_INVALID, "%s: at most 1h", k);
		if (k[0] == 't')
			c->timeout_s = (unsigned)p;
		else
			c->deadline_s = (unsigned)p;
		return 0;
	}
	if (strcmp(k, "key.bins") == 0)
		return add_key(c->key_bins, &c->nkey_bins, k, v);
	if (strcmp(k, "key.snapshot") == 0)
		return add_key(c->key_snapshot, &c->nkey_snapshot, k, v);
	if (strcmp(k, "key.timestamp") == 0)
		return add_key(c->key_timestamp, &c->nkey_timestamp, k, v);
	if (strcmp(k, "pin_file") == 0)
		return set_str(&c->pin_file, v);
	if (strcmp(k, "passphrase_file") == 0)
		return set_str(&c->passphrase_file, v);
	if (strcmp(k, "expires.bins") == 0)
		return parse_period(k, v, &c->expires_bins);
	if (strcmp(k, "expires.snapshot") == 0)
		return parse_period(k, v, &c->expires_snapshot);
	if (strcmp(k, "expires.timestamp") == 0)
		return parse_period(k, v, &c->expires_timestamp);
	if (strcmp(k, "keep_versions") == 0)
		return parse_period(k, v, &c->keep_versions_s);
	if (strcmp(k, "publish_interval_ms") == 0) {
		GUARD(parse_u64(v, 60000, &u));
		ENSURE(u >= 10, PAWL_E_INVALID, "publish_interval_ms: at least 10");
		c->publish_interval_ms = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "publish_batch") == 0) {
		GUARD(parse_u64(v, 1000000, &u));
		ENSURE(u >= 1, PAWL_E_INVALID, "publish_batch: at least 1");
		c->publish_batch = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "publish_cycle_ms") == 0) {
		GUARD(parse_u64(v, 600000, &u));
		ENSURE(u >= 100, PAWL_E_INVALID, "publish_cycle_ms: at least 100");
		c->publish_cycle_ms = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "sign_threads") == 0) {
		GUARD(parse_u64(v, 16, &u));
		ENSURE(u >= 1, PAWL_E_INVALID, "sign_threads: 1 to 16");
		c->sign_threads = (unsigned)u;
		return 0;
	}
	return pawl_error_set(PAWL_E_INVALID, "unknown setting \"%s\"", k);
}

/*
 * The keys. A setting given twice has always meant "the last one wins"
 * here (scripts/service-up appends to a config to tighten limits), so
 * the scalar ones may repeat (max 0); the online keys are lists.
 */
static const conf_key settings[] = {
	{ "database", 0 },          { "listen", 0 },           { "threads", 0 },
	{ "max_body", 0 },          { "max_connections", 0 },  { "timeout", 0 },
	{ "deadline", 0 },          { "key.bins", ONLINE_KEYS_MAX },
	{ "key.snapshot", ONLINE_KEYS_MAX },                   { "key.timestamp", ONLINE_KEYS_MAX },
	{ "pin_file", 0 },          { "passphrase_file", 0 },  { "expires.bins", 0 },
	{ "expires.snapshot", 0 },  { "expires.timestamp", 0 }, { "keep_versions", 0 },
	{ "publish_interval_ms", 0 }, { "publish_batch", 0 },  { "publish_cycle_ms", 0 },
	{ "sign_threads", 0 },
};

int config_load(repod_config *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->port = 8080;
	c->threads = 4;
	c->max_body = 4 * 1024 * 1024;
	c->max_connections = 512;
	c->timeout_s = 10;
	c->deadline_s = 30;
	c->expires_bins = 30 * 86400;
	c->expires_snapshot = 7 * 86400;
	c->expires_timestamp = 86400;
	c->publish_interval_ms = 200;
	c->publish_batch = 20000;
	c->publish_cycle_ms = 1000;
	c->sign_threads = 2;
	c->keep_versions_s = 3600;
	GUARD(set_str(&c->listen_addr, "127.0.0.1"));
	GUARD(conf_read_file(path, &(conf_spec){
					    .keys = settings,
					    .n_keys = ARRAY_SIZE(settings),
					    .apply = apply,
					    .ctx = c,
					    .max_file = 1 << 20,
					    .max_line = 16384,
					    .max_settings = 4096,
					    .allow_empty = true,
				    }));
	ENSURE(c->database, PAWL_E_INVALID, "%s: no \"database\" setting", path);
	return 0;
}

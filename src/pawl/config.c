/*
 * config.c - see config.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/parse.h"
#include "config.h"

#define LINE_MAX_LEN 4096
#define FILE_MAX_LEN (256 * 1024)

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int set_once(char **slot, const char *v, const char *key, const char *path, int line,
		    char *err, size_t errlen)
{
	if (*slot) {
		snprintf(err, errlen, "%s:%d: %s is given twice", path, line, key);
		return -1;
	}
	*slot = strdup(v);
	return *slot ? 0 : -1;
}

/* Numbers and durations: the one rule of both programs' command lines
 * (common/parse.h); the messages here name the file and line instead. */
static int parse_uint(const char *v, uint64_t max, uint64_t *ret)
{
	if (cli_parse_u64(v, 0, max, ret) < 0) {
		pawl_error_clear();
		return -1;
	}
	return 0;
}

/* Seconds: "90", "90s", "5m", "1h", "1d"; up to max. */
static int parse_secs(const char *key, const char *v, uint64_t max, uint64_t *ret)
{
	int64_t s;

	if (cli_parse_duration(key, v, 1, (int64_t)max, &s) < 0) {
		pawl_error_clear();
		return -1;
	}
	*ret = (uint64_t)s;
	return 0;
}

int config_load(agent_config *c, const char *path, char *err, size_t errlen)
{
	char *buf, *line, *next;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, lineno = 0, rc = -1;
	bool seen_syslog = false, seen_ht = false, seen_lock = false, seen_md = false;
	bool seen_rate = false, seen_base = false;

	memset(c, 0, sizeof(*c));
	c->syslog = true;
	c->health_timeout_s = 60;
	c->lock_timeout_s = 60;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot read config %s: %s", path,
			 fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc(FILE_MAX_LEN + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while ((n = read(fd, buf + len, FILE_MAX_LEN + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > FILE_MAX_LEN)
			break;
	}
	close(fd);
	if (n < 0 || len > FILE_MAX_LEN) {
		snprintf(err, errlen, "cannot read config %s: %s", path,
			 n < 0 ? strerror(errno) : "file too large");
		goto out;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		goto out;
	}

	for (line = buf; line; line = next) {
		char *eq, *key, *val;
		uint64_t num;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (strlen(line) > LINE_MAX_LEN) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected KEY = VALUE", path, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (!*val) {
			snprintf(err, errlen, "%s:%d: %s has no value", path, lineno, key);
			goto out;
		}
		if (strcmp(key, "metadata_url") == 0 || strcmp(key, "target_base_url") == 0) {
			bool meta = key[0] == 'm';
			int *cnt = meta ? &c->n_metadata_urls : &c->n_target_urls;
			char **arr = meta ? c->metadata_urls : c->target_urls;

			if (*cnt == CONFIG_MAX_MIRRORS) {
				snprintf(err, errlen, "%s:%d: more than %d %s lines", path, lineno,
					 CONFIG_MAX_MIRRORS, key);
				goto out;
			}
			arr[*cnt] = strdup(val);
			if (!arr[*cnt])
				goto out;
			(*cnt)++;
		} else if (strcmp(key, "trusted_root") == 0) {
			if (set_once(&c->trusted_root, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "state_dir") == 0) {
			if (set_once(&c->state_dir, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "app") == 0) {
			if (set_once(&c->app, val, key, path, lineno, err, errlen))
				goto out;
			if (strchr(val, '/') || strcmp(val, ".") == 0 || strcmp(val, "..") == 0) {
				snprintf(err, errlen, "%s:%d: app must be one path component", path,
					 lineno);
				goto out;
			}
		} else if (strcmp(key, "install_dir") == 0) {
			if (set_once(&c->install_dir, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "health_check") == 0) {
			if (set_once(&c->health_check, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "health_timeout") == 0) {
			if (seen_ht || parse_secs(key, val, 86400, &num) < 0) {
				snprintf(err, errlen, "%s:%d: health_timeout must be given once, as "
					 "1 to 86400 seconds (or a number with s, m, h or d)", path,
					 lineno);
				goto out;
			}
			seen_ht = true;
			c->health_timeout_s = (unsigned)num;
		} else if (strcmp(key, "lock_timeout") == 0) {
			if (seen_lock || (strcmp(val, "0") != 0 && parse_secs(key, val, 86400, &num) < 0)) {
				snprintf(err, errlen, "%s:%d: lock_timeout must be given once, as "
					 "0 to 86400 seconds (or a number with s, m, h or d)", path,
					 lineno);
				goto out;
			}
			seen_lock = true;
			c->lock_timeout_s = strcmp(val, "0") == 0 ? 0 : (unsigned)num;
		} else if (strcmp(key, "min_rate") == 0) {
			if (seen_rate || parse_uint(val, 1u << 30, &num) < 0 || num == 0) {
				snprintf(err, errlen, "%s:%d: min_rate must be given once, as "
					 "1 to 1073741824 bytes per second", path, lineno);
				goto out;
			}
			seen_rate = true;
			c->min_rate = (unsigned long)num;
		} else if (strcmp(key, "deadline_base") == 0) {
			if (seen_base || parse_secs(key, val, 86400, &num) < 0) {
				snprintf(err, errlen, "%s:%d: deadline_base must be given once, as "
					 "1 to 86400 seconds (or a number with s, m, h or d)", path,
					 lineno);
				goto out;
			}
			seen_base = true;
			c->deadline_base_s = (unsigned)num;
		} else if (strcmp(key, "ca_file") == 0) {
			if (set_once(&c->ca_file, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "pin") == 0) {
			if (set_once(&c->pin, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "user") == 0) {
			if (set_once(&c->user, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "syslog") == 0) {
			if (seen_syslog || (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0)) {
				snprintf(err, errlen, "%s:%d: syslog must be given once, as yes or no",
					 path, lineno);
				goto out;
			}
			seen_syslog = true;
			c->syslog = strcmp(val, "yes") == 0;
		} else if (strcmp(key, "syslog_facility") == 0) {
			if (set_once(&c->syslog_facility, val, key, path, lineno, err, errlen))
				goto out;
		} else if (strcmp(key, "max_delegations") == 0) {
			if (seen_md || parse_uint(val, 100000, &num) < 0 || num == 0) {
				snprintf(err, errlen, "%s:%d: max_delegations must be given once, as "
					 "1 to 100000 roles", path, lineno);
				goto out;
			}
			seen_md = true;
			c->max_delegations = (unsigned)num;
		} else if (strncmp(key, "max_bytes_", 10) == 0) {
			static const char *const roles[4] = { "root", "timestamp", "snapshot",
							      "targets" };
			int which = -1;

			for (int i = 0; i < 4; i++)
				if (strcmp(key + 10, roles[i]) == 0)
					which = i;
			if (which < 0 || c->max_bytes[which] ||
			    parse_uint(val, (uint64_t)1 << 40, &num) < 0 || num == 0) {
				snprintf(err, errlen, "%s:%d: %s: unknown role or bad byte count "
					 "(max_bytes_root, _timestamp, _snapshot, _targets)", path,
					 lineno, key);
				goto out;
			}
			c->max_bytes[which] = num;
		} else {
			snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, key);
			goto out;
		}
	}
	c->path = strdup(path);
	if (!c->path) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	{
		const char *missing = !c->n_metadata_urls ? "metadata_url" :
				      !c->n_target_urls ? "target_base_url" :
				      !c->trusted_root ? "trusted_root" :
				      !c->state_dir ? "state_dir" :
				      !c->app ? "app" :
				      !c->install_dir ? "install_dir" : NULL;

		if (missing) {
			snprintf(err, errlen, "%s: %s is required", path, missing);
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	if (rc < 0)
		config_free(c);
	return rc;
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
	free(c->path);
	memset(c, 0, sizeof(*c));
}

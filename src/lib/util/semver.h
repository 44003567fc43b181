/*
 * util/semver.h - Semantic Versioning 2.0.0 (https://semver.org/spec/v2.0.0.html),
 * strictly: the release versions the install agent compares to refuse
 * downgrades.
 *
 * Guarantees of semver_parse():
 *  - Exactly the grammar of the specification's BNF, nothing more: no
 *    leading "v", no surrounding space, no missing MINOR or PATCH, no empty
 *    identifier, no leading zero in a numeric identifier (MAJOR, MINOR,
 *    PATCH, and numeric pre-release identifiers), identifiers only of
 *    [0-9A-Za-z-]. Anything else is PAWL_E_FORMAT.
 *  - MAJOR, MINOR and PATCH must fit in uint64_t and the whole string in
 *    SEMVER_MAX_LEN bytes; beyond that is PAWL_E_LIMIT. Numeric pre-release
 *    identifiers may have any number of digits: they are compared as
 *    digit strings, so they cannot overflow.
 *  - A version that parses is also a safe file name component: it starts
 *    with a digit and holds only [0-9A-Za-z.+-], so it is never "." or "..",
 *    never hidden, never contains '/'. The install module relies on this
 *    to name release directories after versions.
 *
 * semver_cmp() is the specification's precedence (section 11): build
 * metadata is ignored, so "1.0.0+a" and "1.0.0+b" compare equal.
 */
#ifndef PAWL_UTIL_SEMVER_H
#define PAWL_UTIL_SEMVER_H

#include <stdint.h>

#include "pawl/semver.h"
#include "util/guard.h"

/* The longest version string accepted (bytes, without the NUL). Leaves
 * room under NAME_MAX for the temporary names built from it. */
#define SEMVER_MAX_LEN PAWL_SEMVER_MAX_LEN

typedef struct semver {
	uint64_t major, minor, patch;
	char str[SEMVER_MAX_LEN + 1]; /* the whole version, as parsed */
	uint8_t pre_off, pre_len;     /* pre-release in str (len 0: none) */
	uint8_t build_off, build_len; /* build metadata in str (len 0: none) */
} semver;

/* Parse s (NUL-terminated). *ret is written only on success. */
PAWL_MUST_USE int semver_parse(const char *s, semver *ret);

/* <0, 0 or >0 as a has lower, equal or higher precedence than b. */
int semver_cmp(const semver *a, const semver *b);

/* Parse both and compare; PAWL_E_FORMAT/PAWL_E_LIMIT when either does not
 * parse (naming it), else 0 with the comparison in *ret. */
PAWL_MUST_USE int semver_cmp_str(const char *a, const char *b, int *ret);

#endif

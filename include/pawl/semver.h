/*
 * pawl/semver.h - release versions: Semantic Versioning 2.0.0
 * (https://semver.org/spec/v2.0.0.html), strictly, as the install state
 * machine compares them to refuse downgrades.
 *
 * Guarantees:
 *  - Exactly the grammar of the specification's BNF: no leading "v", no
 *    space, no missing MINOR or PATCH, no empty identifier, no leading
 *    zero in a numeric identifier. Anything else is PAWL_E_FORMAT; a
 *    number over 2^64-1 or a string over PAWL_SEMVER_MAX_LEN bytes is
 *    PAWL_E_LIMIT.
 *  - A valid version is also a safe file name component (it starts with a
 *    digit and holds only [0-9A-Za-z.+-]).
 *  - Precedence is the specification's (section 11): build metadata is
 *    ignored, so "1.0.0+a" and "1.0.0+b" compare equal.
 */
#ifndef PAWL_SEMVER_API_H
#define PAWL_SEMVER_API_H

#include "pawl/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest version string accepted, in bytes without the NUL. */
#define PAWL_SEMVER_MAX_LEN 128

/* 0 when s is a valid version; PAWL_E_FORMAT, PAWL_E_LIMIT or
 * PAWL_E_INVALID (NULL) otherwise, with a message naming it. */
PAWL_API PAWL_MUST_USE int pawl_semver_check(const char *s);

/* Compare the precedence of a and b: *out is <0, 0 or >0 as a is lower
 * than, equal to or higher than b. Both must be valid (else the error of
 * pawl_semver_check, naming the one that is not); *out is written only on
 * success. */
PAWL_API PAWL_MUST_USE int pawl_semver_compare(int *out, const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif

/*
 * pawl/release.h - the releases of an application among the trusted
 * targets, and the choice of the one to install.
 *
 * A release of APP is a target APP/VERSION/NAME whose signed custom data
 * carries {"version": "VERSION"} (the same string as the path's middle
 * component, a valid SemVer version, see pawl/semver.h), optionally
 * "recovery": true (the publisher allows it to replace a higher version),
 * and, for a slot image (pawl-repo release --image), an "image" member.
 * Targets under APP/ that do not match this are not releases and are
 * skipped; they never make a listing fail.
 *
 * Guarantees:
 *  - Only trusted metadata is read: the listing walks the roles a search
 *    would (pawl_updater_refresh first), verifying each one it loads, in
 *    pre-order, to at most max_delegations + 1 roles; delegations by hash
 *    bins are not listed.
 *  - The choice is the release of highest precedence, among the kinds
 *    asked for, whose version is not one of opts.bad (compared as exact
 *    strings); of equal precedence, the first listed. So a version marked
 *    bad is never chosen, and build metadata never makes one newer.
 *  - A listing is a candidate list. The entry that decides what is
 *    installed is the one pawl_updater_get_target() returns for the
 *    chosen path; pawl_release_from_target() reads the release it
 *    describes, so a caller can check it still is the release chosen.
 *
 * Everything a list or a release returns is owned by it.
 */
#ifndef PAWL_RELEASE_H
#define PAWL_RELEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "pawl/common.h"
#include "pawl/updater.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pawl_release_kind {
	PAWL_RELEASE_FOLDER = 1, /* an archive or file, unpacked into a folder */
	PAWL_RELEASE_IMAGE = 2,  /* a slot image (its custom data has "image") */
} pawl_release_kind;

/* For pawl_release_opts.kinds */
#define PAWL_RELEASE_KIND_BIT(k) (1u << (unsigned)(k))

#define PAWL_RELEASE_OPTS_VERSION 1

typedef struct pawl_release_opts {
	unsigned version;           /* PAWL_RELEASE_OPTS_VERSION */
	const char *app;            /* required: one path component */
	/* The kinds listed, as PAWL_RELEASE_KIND_BIT()s; 0: folder only. */
	unsigned kinds;
	/* When set, only the releases of this exact version are listed
	 * (and only APP/ONLY_VERSION/ is searched). */
	const char *only_version;
	/* Versions never chosen (a device's "bad" marks), exact strings. */
	const char *const *bad;
	size_t n_bad;
} pawl_release_opts;

#define PAWL_RELEASE_OPTS_INIT { .version = PAWL_RELEASE_OPTS_VERSION }

typedef struct pawl_release pawl_release;
typedef struct pawl_release_list pawl_release_list;

/*
 * List the releases of opts->app that u's trusted metadata signs
 * (refreshing first if that has not happened), bad ones included, and
 * choose the best (above). *out is written only on success; free it with
 * pawl_release_list_free(). An empty list is success.
 * PAWL_E_INVALID: NULL argument, no app, an app that is not one path
 * component, an unknown options version, no kind asked for that exists.
 */
PAWL_API PAWL_MUST_USE int pawl_release_list_new(pawl_release_list **out, pawl_updater *u,
						 const pawl_release_opts *opts);
PAWL_API void pawl_release_list_free(pawl_release_list *l);

/* The releases in the order listed; NULL past the end. */
PAWL_API size_t pawl_release_list_count(const pawl_release_list *l);
PAWL_API const pawl_release *pawl_release_list_get(const pawl_release_list *l, size_t i);

/* The chosen release, or NULL when every one listed is bad (or none). */
PAWL_API const pawl_release *pawl_release_list_best(const pawl_release_list *l);

/* The versions of opts.bad that were listed and passed over although
 * they have higher precedence than the chosen release (all those listed
 * when none was chosen), in the order of opts.bad: what a device skipped
 * because it marked them bad. NULL past the end. */
PAWL_API size_t pawl_release_list_skipped_count(const pawl_release_list *l);
PAWL_API const char *pawl_release_list_skipped(const pawl_release_list *l, size_t i);

/*
 * The release the trusted entry t describes, as a release of app; *out
 * (free with pawl_release_free) is written only on success.
 * PAWL_E_FORMAT when t is not a release of app (the message says why);
 * PAWL_E_INVALID for a NULL argument.
 */
PAWL_API PAWL_MUST_USE int pawl_release_from_target(pawl_release **out, const char *app,
						    const pawl_target *t);
/* For releases from pawl_release_from_target only; accepts NULL. */
PAWL_API void pawl_release_free(pawl_release *r);

/* The target path APP/VERSION/NAME. */
PAWL_API const char *pawl_release_path(const pawl_release *r);
/* The version, as signed. */
PAWL_API const char *pawl_release_version(const pawl_release *r);
PAWL_API pawl_release_kind pawl_release_kind_of(const pawl_release *r);
/* Signed as a recovery release. */
PAWL_API bool pawl_release_recovery(const pawl_release *r);
/* An image release's pack target path (its signed custom "image":
 * "pack"), or NULL for a folder release or an image that names none. */
PAWL_API const char *pawl_release_image_pack(const pawl_release *r);
/* An image release's index format (docs/image-format.md): 1 when its
 * custom "image" has no "format" (or 1), 2 for "format": 2 (delta
 * updates), 0 for any other value and for a folder release. */
PAWL_API int pawl_release_image_format(const pawl_release *r);
/* A format 2 image release's sums target path (custom "image": "sums"),
 * or NULL. */
PAWL_API const char *pawl_release_image_sums(const pawl_release *r);
/* Its version is one of opts.bad (false for pawl_release_from_target). */
PAWL_API bool pawl_release_is_bad(const pawl_release *r);

#ifdef __cplusplus
}
#endif
#endif

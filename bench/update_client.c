/*
 * update_client - `pawl download` for one target, through the public API
 * only, with the delegation search limit as an argument. bench/run uses it
 * for the delegation chain, which is longer than the default limit of 32
 * roles (pawl_updater_opts.max_delegations; the pawl program has no
 * option for it, like python-tuf's default of 32).
 *
 *   update_client MAX_DELEGATIONS MAX_TARGETS_BYTES METADATA_DIR \
 *                 METADATA_URL TARGET_URL TARGET_DIR TARGET
 *
 * METADATA_DIR must already hold a trusted root (pawl init). Exit status
 * 0 when the target was downloaded and verified (or already present), 1
 * otherwise with the error on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pawl/updater.h"

static uint64_t number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "update_client: bad number %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	pawl_updater_opts o = PAWL_UPDATER_OPTS_INIT;
	pawl_updater *u = NULL;
	pawl_target *t = NULL;
	char *path = NULL;
	const char *murl[1], *turl[1];
	uint64_t maxdel;
	int rc;

	if (argc != 8) {
		fprintf(stderr, "usage: update_client MAX_DELEGATIONS MAX_TARGETS_BYTES "
				"METADATA_DIR METADATA_URL TARGET_URL TARGET_DIR TARGET\n");
		return 2;
	}
	maxdel = number(argv[1]);
	if (maxdel > UINT32_MAX) {
		fprintf(stderr, "update_client: MAX_DELEGATIONS too large\n");
		return 2;
	}
	o.max_delegations = (uint32_t)maxdel;
	o.max_bytes[PAWL_LIMIT_TARGETS] = number(argv[2]);
	o.metadata_dir = argv[3];
	murl[0] = argv[4];
	turl[0] = argv[5];
	o.metadata_urls = murl;
	o.n_metadata_urls = 1;
	o.target_urls = turl;
	o.n_target_urls = 1;

	rc = pawl_updater_new(&u, &o);
	if (rc == 0)
		rc = pawl_updater_refresh(u);
	if (rc == 0)
		rc = pawl_updater_get_target(&t, u, argv[7]);
	if (rc == 0 && pawl_updater_find_cached(u, t, argv[6], &path) != 0)
		rc = pawl_updater_download(u, t, argv[6], &path);
	if (rc < 0)
		fprintf(stderr, "update_client: %s\n", pawl_error_last()->message);
	free(path);
	pawl_target_free(t);
	pawl_updater_free(u);
	return rc < 0 ? 1 : 0;
}

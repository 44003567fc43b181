/*
 * update-data.c - an application that keeps its own data files up to date
 * through libpawl: the whole TUF client workflow in a few calls.
 *
 *   update-data ROOT.json REPO_URL DATA_DIR NAME...
 *
 * ROOT.json is the root of trust shipped with the application; it seeds
 * DATA_DIR/.metadata the first time. REPO_URL is where the repository is
 * published (https://, file://, or http:// to loopback): its metadata/ and
 * targets/ directories. Each NAME is a target path; a verified copy ends
 * up in DATA_DIR, under the name pawl_updater_download() gives it.
 *
 * Build: cc update-data.c $(pkg-config --cflags --libs pawl)
 * Exit status: 0 when every file is present and verified, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pawl/updater.h>

static int fail(const char *what)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "update-data: %s: %s: %s\n", what, pawl_strerror(e->code), e->message);
	return 1;
}

/* The first run trusts the shipped root; later runs trust what refresh
 * has verified since (a newer root, if the publisher rotated keys). */
static int ensure_trust(const char *root_file, const char *metadata_dir)
{
	char path[4096], *buf;
	struct stat st;
	size_t len;
	FILE *f;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/root.json", metadata_dir) >= sizeof(path))
		return 1;
	if (stat(path, &st) == 0)
		return 0;
	f = fopen(root_file, "rb");
	if (!f || fstat(fileno(f), &st) != 0 || st.st_size <= 0 ||
	    st.st_size > PAWL_DEFAULT_MAX_ROOT) {
		fprintf(stderr, "update-data: cannot read %s\n", root_file);
		if (f)
			fclose(f);
		return 1;
	}
	buf = malloc((size_t)st.st_size);
	len = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	rc = len == (size_t)st.st_size ? pawl_metadata_dir_init(metadata_dir, buf, len) : -1;
	free(buf);
	return rc < 0 ? fail(root_file) : 0;
}

int main(int argc, char **argv)
{
	pawl_updater_opts opts = PAWL_UPDATER_OPTS_INIT;
	pawl_updater *u = NULL;
	char metadata_dir[4096], metadata_url[4096], targets_url[4096];
	const char *murls[1] = { metadata_url }, *turls[1] = { targets_url };
	int rc = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: update-data ROOT.json REPO_URL DATA_DIR NAME...\n");
		return 1;
	}
	if ((size_t)snprintf(metadata_dir, sizeof(metadata_dir), "%s/.metadata", argv[3]) >=
		    sizeof(metadata_dir) ||
	    (size_t)snprintf(metadata_url, sizeof(metadata_url), "%s/metadata/", argv[2]) >=
		    sizeof(metadata_url) ||
	    (size_t)snprintf(targets_url, sizeof(targets_url), "%s/targets/", argv[2]) >=
		    sizeof(targets_url)) {
		fprintf(stderr, "update-data: argument too long\n");
		return 1;
	}
	if (ensure_trust(argv[1], metadata_dir) != 0)
		return 1;

	opts.metadata_dir = metadata_dir;
	opts.metadata_urls = murls;
	opts.n_metadata_urls = 1;
	opts.target_urls = turls;
	opts.n_target_urls = 1;
	opts.user_agent = "update-data/1.0";
	if (pawl_updater_new(&u, &opts) < 0)
		return fail("setup");
	/* Root, timestamp, snapshot, targets: signatures, thresholds,
	 * versions, expiry, lengths and hashes. Nothing below runs unless
	 * every check passed. */
	if (pawl_updater_refresh(u) < 0) {
		rc = fail("refresh");
		goto out;
	}
	for (int i = 4; i < argc && rc == 0; i++) {
		pawl_target *t = NULL;
		char *path = NULL;
		const char *custom, *sha256;

		if (pawl_updater_get_target(&t, u, argv[i]) < 0) {
			rc = fail(argv[i]);
		} else if (pawl_updater_find_cached(u, t, argv[3], &path) == 0) {
			printf("current %s %s\n", argv[i], path);
		} else if (pawl_updater_download(u, t, argv[3], &path) == 0) {
			custom = pawl_target_custom(t);
			sha256 = pawl_target_hash(t, "sha256");
			printf("updated %s %s %llu bytes sha256 %s custom %s\n", argv[i], path,
			       (unsigned long long)pawl_target_length(t), sha256 ? sha256 : "-",
			       custom ? custom : "{}");
		} else {
			rc = fail(argv[i]);
		}
		free(path);
		pawl_target_free(t);
	}
out:
	pawl_updater_free(u);
	return rc;
}

/*
 * cmd_release.c - `pawl-repo release REPO APP VERSION FILE [--recovery]
 * [--key KEY ...]`: add a release of APP for the update agent.
 *
 * A release is a target APP/VERSION/NAME (NAME is FILE's base name) whose
 * custom data is {"version": "VERSION"}, plus "recovery": true with
 * --recovery: the only kind of release an agent may move down to.
 * Releasing an existing version again with the same file and --recovery
 * marks it so. A published release is immutable: the same APP/VERSION with
 * other content is refused, and with the same content nothing changes
 * (release_add in cmd_targets.c, which shares add's hashing, store,
 * signing and log).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "repo.h"

static const char usage_release[] =
	"usage: pawl-repo release REPO APP VERSION FILE [--recovery] [--key KEY ...]\n"
	"\n"
	"Add FILE as release VERSION of APP: the target APP/VERSION/NAME (NAME is\n"
	"FILE's base name) with custom data {\"version\": \"VERSION\"}. VERSION is a\n"
	"Semantic Versioning 2.0 version. A published release is immutable: when APP\n"
	"VERSION exists already with other content (or under another NAME) it is\n"
	"refused; with the same content nothing changes. With --recovery the release\n"
	"is marked as one devices may move down to (pawl update and pawl rollback\n"
	"refuse any other downgrade); releasing an existing version again with the\n"
	"same FILE and --recovery marks it. --key signs the changed targets role\n"
	"(else use `sign`).\n"
	"With --image, FILE is a file system image published for A/B slots\n"
	"(see pawl-repo release --image --help).\n"
	"Then: pawl-repo timestamp, pawl-repo publish.\n";

int cmd_release(int argc, char **argv)
{
	enum { O_RECOVERY = OPT_FIRST, O_KEY };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "recovery", no_argument, NULL, O_RECOVERY },
		{ "key", required_argument, NULL, O_KEY },
		{ NULL, 0, NULL, 0 },
	};
	char target[4096], custom[256];
	const char *app, *version, *file, *base;
	bool recovery = false;
	strv keys = { 0 };
	int ch, rc;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--image") == 0)
			return cmd_release_image(argc, argv); /* cmd_image.c */
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_RECOVERY: recovery = true; break;
		case O_KEY: strv_push(&keys, optarg); break;
		default: common_opt("release", usage_release, ch, optarg);
		}
	}
	release_operands(argc, argv, "FILE", &app, &version, &file);
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	if (!*base)
		usage_error("release", "FILE must name a file");
	if ((size_t)snprintf(target, sizeof(target), "%s/%s/%s", app, version, base) >=
		    sizeof(target) ||
	    (size_t)snprintf(custom, sizeof(custom), "{\"version\":\"%s\"%s}", version,
			     recovery ? ",\"recovery\":true" : "") >= sizeof(custom))
		usage_error("release", "APP, VERSION or FILE is too long");

	rc = release_add(argv[optind], target, file, custom, recovery, &keys);
	free(keys.v);
	return rc;
}

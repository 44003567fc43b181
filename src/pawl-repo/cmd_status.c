/*
 * cmd_status.c - `pawl-repo status`: what a publisher needs to know before
 * publishing or before going offline: every role's version, expiry,
 * signatures against its threshold, keys, and whether the snapshot is
 * current.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/json_out.h"
#include "repo.h"

static const char usage_status[] =
	"usage: pawl-repo status REPO [--keys] [--json]\n"
	"\n"
	"One line per role: version (and whether it changed since the last publish),\n"
	"expiry, valid signatures against the threshold, number of targets. Then\n"
	"whether the snapshot and timestamp are current. --keys lists each role's key\n"
	"ids. --json prints one JSON object instead (docs/json.md). Exit status 0\n"
	"when everything is ready to publish, 1 otherwise.\n";

static const char *pub_state(uint64_t published, uint64_t version)
{
	return published == 0 ? "new" : version > published ? "changed" : "live";
}

static void when(int64_t t, int64_t now, char *out, size_t n)
{
	int64_t d = t - now;

	if (d <= 0)
		snprintf(out, n, "EXPIRED");
	else if (d < 2 * 3600)
		snprintf(out, n, "in %" PRId64 " min", d / 60);
	else if (d < 2 * DAY)
		snprintf(out, n, "in %" PRId64 " h", d / 3600);
	else
		snprintf(out, n, "in %" PRId64 " days", d / DAY);
}

int cmd_status(int argc, char **argv)
{
	enum { O_KEYS = OPT_FIRST, O_JSON };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "keys", no_argument, NULL, O_KEYS },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_ws_ ws *w = NULL;
	bool show_keys = false, ready = true, json = false;
	int64_t now = pawl_now();
	size_t shown = 0, hidden = 0;
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_KEYS: show_keys = true; break;
		case O_JSON: json = true; break;
		default: common_opt("status", usage_status, ch, optarg);
		}
	}
	if (argc - optind != 1)
		usage_error("status", "give the workspace REPO");
	if (ws_open(&w, argv[optind], false) < 0 || ws_walk(w) < 0)
		return fail_json("status", json);
	if (json) {
		printf("{\"workspace\":");
		cli_json_string(stdout, w->path);
		printf(",\"consistent_snapshot\":%s,\"roles\":[",
		       ws_top(w, MD_ROOT)->md->consistent_snapshot ? "true" : "false");
	} else {
		printf("workspace %s (consistent snapshots %s, hashes sha256%s)\n", w->path,
		       ws_top(w, MD_ROOT)->md->consistent_snapshot ? "on" : "off",
		       w->hash_sha512 ? "+sha512" : "");
		printf("%-24s %7s %-9s %-22s %-14s %s\n", "ROLE", "VERSION", "", "EXPIRES",
		       "SIGNATURES", "TARGETS");
	}
	for (size_t i = 0; i < w->nroles; i++) {
		ws_role *r = w->roles[i];
		uint64_t pub = ws_published(w, r->name);
		char rel[32], sigs[48], tg[16] = "";
		const md_keys *keys;
		const md_role *mr;
		sigcount c;
		bool ok;

		if (ws_count(w, r, &c) < 0)
			return fail("status");
		ok = sigcount_ok(&c) && r->md->expires > now;
		ready &= ok;
		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			cli_json_string(stdout, r->name);
			printf(",\"version\":%" PRIu64 ",\"state\":\"%s\",\"expires\":\"%s\","
			       "\"signatures\":%" PRIu32 ",\"threshold\":%" PRIu32,
			       r->md->version,
			       pub_state(ws_published(w, r->name), r->md->version),
			       r->md->expires_str, c.valid, c.threshold);
			if (r->type == MD_TARGETS)
				printf(",\"targets\":%u", r->md->targets ? r->md->targets->len : 0);
			printf(",\"ready\":%s}", ok ? "true" : "false");
			continue;
		}
		/* Hundreds of hash bins: show the problems and a count. */
		if (r->parent && r->parent->md->deleg.succinct_present && shown >= 24 && ok) {
			hidden++;
			continue;
		}
		shown++;
		when(r->md->expires, now, rel, sizeof(rel));
		if (c.has_prev)
			snprintf(sigs, sizeof(sigs), "%" PRIu32 "/%" PRIu32 " +%" PRIu32 "/%" PRIu32 "old",
				 c.valid, c.threshold, c.prev_valid, c.prev_threshold);
		else
			snprintf(sigs, sizeof(sigs), "%" PRIu32 "/%" PRIu32, c.valid, c.threshold);
		if (r->type == MD_TARGETS)
			snprintf(tg, sizeof(tg), "%u", r->md->targets ? r->md->targets->len : 0);
		printf("%-24s %7" PRIu64 " %-9s %.10s %-11s %-14s %s%s\n", r->name, r->md->version,
		       pub == 0 ? "(new)" : r->md->version > pub ? "(changed)" : "(live)",
		       r->md->expires_str, rel, sigs, tg, ok ? "" : "   <- not ready");
		if (show_keys && ws_role_keys(w, r, &keys, &mr) == 0) {
			for (uint32_t k = 0; k < mr->nkeyids; k++) {
				const md_keyentry *ke = md_keys_find(keys, mr->keyids[k]);

				printf("    key %s %s\n", mr->keyids[k],
				       ke && ke->key ? key_scheme(ke->key) : "(unusable)");
			}
		}
	}
	if (json)
		printf("]");
	if (hidden)
		printf("... and %zu more hash bins, all signed and current\n", hidden);
	/* Is the snapshot current? */
	{
		pawl_md *snap = ws_top(w, MD_SNAPSHOT)->md;

		for (size_t i = 0; i < w->nroles; i++) {
			ws_role *r = w->roles[i];
			char file[ROLE_NAME_MAX + 8];
			md_metafile mf;

			if (r->type != MD_TARGETS)
				continue;
			snprintf(file, sizeof(file), "%s.json", r->name);
			if (md_meta_get(snap, file, &mf) < 0 || mf.version != r->md->version) {
				pawl_error_clear();
				if (!json)
					printf("snapshot v%" PRIu64 " does not name %s v%" PRIu64
					       ": run `pawl-repo timestamp`\n",
					       snap->version, r->name, r->md->version);
				ready = false;
				break;
			}
		}
		if (ws_top(w, MD_TIMESTAMP)->md->snapshot_meta.version != snap->version) {
			if (!json)
				printf("timestamp does not name snapshot v%" PRIu64 ": run `pawl-repo "
				       "timestamp`\n", snap->version);
			ready = false;
		}
	}
	if (json)
		printf(",\"ready\":%s}\n", ready ? "true" : "false");
	else
		printf(ready ? "ready to publish\n" : "not ready to publish\n");
	return ready ? 0 : 1;
}

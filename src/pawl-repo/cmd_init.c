/*
 * cmd_init.c - `pawl-repo init`: a new workspace with the four top-level
 * roles, root version 1 signed by the root keys given as private keys.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "repo.h"

static const char usage_init[] =
	"usage: pawl-repo init REPO --root-key KEY [--root-key KEY ...] [--root-threshold N]\n"
	"                      --targets-key KEY --snapshot-key KEY --timestamp-key KEY\n"
	"                      [--expires ROLE=DAYS ...] [--no-consistent-snapshot] [--sha512]\n"
	"\n"
	"Create the workspace REPO (a new or empty directory) with root, targets,\n"
	"snapshot and timestamp metadata at version 1.\n"
	"\n"
	"A KEY is a private key file (or a pkcs11: URI), which signs at once, or a\n"
	"public key file (KEY.pub), whose holder signs later with `pawl-repo sign`.\n"
	"Each --*-key may be repeated; --root-threshold (default 1) is how many root\n"
	"keys must sign; the other roles need one signature of their keys.\n"
	"\n"
	"  --expires ROLE=DAYS       validity period of ROLE (root 365, targets 90 -- also\n"
	"                            the default of delegated roles --, snapshot 7,\n"
	"                            timestamp 1); DAYS may end in d, h, m or s\n"
	"  --no-consistent-snapshot  publish unversioned file names only (not recommended)\n"
	"  --sha512                  record sha512 as well as sha256 for targets\n"
	"\n"
	"When every key given is a private key, the result is ready to publish; the\n"
	"root clients must trust is REPO/root.json.\n";

/* Declare the keys of role in root; remember which arguments are private
 * keys (they sign below). */
static int collect(pawl_md *root, strv *args, md_type role, uint32_t threshold, strv *priv)
{
	const char **ids = xcalloc(args->n ? args->n : 1, sizeof(*ids));
	pawl_key **keys = xcalloc(args->n ? args->n : 1, sizeof(*keys));
	int r = 0;

	if (!ids || !keys) {
		r = PAWL_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < args->n; i++) {
		pawl_signer *s = NULL;

		GUARD_GOTO(r, key_arg_public(&keys[i], &s, args->v[i]), out);
		ids[i] = key_id(keys[i]);
		for (size_t k = 0; k < i; k++)
			ENSURE_GOTO(r, strcmp(ids[k], ids[i]) != 0, PAWL_E_INVALID, out,
				    "%s key %s is given twice", md_type_name(role), args->v[i]);
		GUARD_GOTO(r, md_root_add_key(root, keys[i]), out);
		if (s) {
			signer_free(s);
			strv_push(priv, args->v[i]);
		}
	}
	GUARD_GOTO(r, md_root_set_role(root, role, ids, args->n, threshold), out);
out:
	for (size_t i = 0; keys && i < args->n; i++)
		key_free(keys[i]);
	free(keys);
	free(ids);
	return r;
}

int cmd_init(int argc, char **argv)
{
	enum { O_ROOT = OPT_FIRST, O_RTHR, O_TARGETS, O_SNAP, O_TS, O_EXP, O_NOCS, O_SHA512 };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "root-key", required_argument, NULL, O_ROOT },
		{ "root-threshold", required_argument, NULL, O_RTHR },
		{ "targets-key", required_argument, NULL, O_TARGETS },
		{ "snapshot-key", required_argument, NULL, O_SNAP },
		{ "timestamp-key", required_argument, NULL, O_TS },
		{ "expires", required_argument, NULL, O_EXP },
		{ "no-consistent-snapshot", no_argument, NULL, O_NOCS },
		{ "sha512", no_argument, NULL, O_SHA512 },
		{ NULL, 0, NULL, 0 },
	};
	strv keyargs[MD_NTOP] = { { 0 } }, expires = { 0 }, signargs = { 0 };
	uint32_t rthr = 1;
	bool nocs = false, sha512 = false;
	_cleanup_ws_ ws *w = NULL;
	signers ss = { 0 };
	ws_role *rs[MD_NTOP];
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_ROOT: strv_push(&keyargs[MD_ROOT], optarg); break;
		case O_TARGETS: strv_push(&keyargs[MD_TARGETS], optarg); break;
		case O_SNAP: strv_push(&keyargs[MD_SNAPSHOT], optarg); break;
		case O_TS: strv_push(&keyargs[MD_TIMESTAMP], optarg); break;
		case O_EXP: strv_push(&expires, optarg); break;
		case O_NOCS: nocs = true; break;
		case O_SHA512: sha512 = true; break;
		case O_RTHR:
			if (cli_parse_u32(optarg, &rthr) < 0 || rthr == 0)
				usage_error("init", "--root-threshold takes a positive number");
			break;
		default: common_opt("init", usage_init, ch, optarg);
		}
	}
	if (argc - optind != 1)
		usage_error("init", "give the workspace directory REPO");
	for (int t = 0; t < MD_NTOP; t++)
		if (keyargs[t].n == 0)
			usage_error("init", "--%s-key is required", md_type_name((md_type)t));
	if (rthr > keyargs[MD_ROOT].n)
		usage_error("init", "--root-threshold %" PRIu32 " is more than the %zu root keys given",
			    rthr, keyargs[MD_ROOT].n);
	for (size_t i = 0; i < expires.n; i++) {
		char *eq = strchr(expires.v[i], '=');

		if (!eq || eq == expires.v[i])
			usage_error("init", "--expires takes ROLE=DAYS, e.g. --expires timestamp=2");
	}

	/* Every key must load before anything is created. */
	for (int t = 0; t < MD_NTOP; t++) {
		for (size_t i = 0; i < keyargs[t].n; i++) {
			pawl_key *k = NULL;

			if (key_arg_public(&k, NULL, keyargs[t].v[i]) < 0)
				goto out;
			key_free(k);
		}
	}
	if (ws_create(&w, argv[optind], sha512) < 0)
		goto out;
	for (size_t i = 0; i < expires.n; i++) {
		char *eq = strchr(expires.v[i], '=');
		int64_t secs;

		*eq = '\0';
		if (cli_parse_duration("period", eq + 1, DAY, PERIOD_MAX, &secs) < 0 ||
		    ws_set_period(w, expires.v[i], secs) < 0)
			goto out;
	}
	{
		pawl_md *root = ws_top(w, MD_ROOT)->md;

		for (int t = 0; t < MD_NTOP; t++)
			if (collect(root, &keyargs[t], (md_type)t, t == MD_ROOT ? rthr : 1,
				    &signargs) < 0)
				goto out;
		if (md_root_set_consistent(root, !nocs) < 0)
			goto out;
		/* Expiry from the configured periods, now that they are set. */
		for (int t = 0; t < MD_NTOP; t++) {
			ws_role *ro = ws_top(w, (md_type)t);

			if (ws_touch(w, ro) < 0)
				goto out;
			rs[t] = ro;
		}
	}
	if (signers_load(&ss, signargs.v, signargs.n) < 0 || journal_init(w) < 0)
		goto out;
	/* Root and targets first; snapshot and timestamp are made by the
	 * timestamp step, which needs targets to be complete. */
	{
		ws_role *first[2] = { rs[MD_ROOT], rs[MD_TARGETS] };

		for (size_t i = 0; i < ss.n; i++) {
			bool used;

			for (int k = 0; k < 2; k++)
				if (ws_sign(w, first[k], ss.v[i], ss.arg[i], &used) < 0)
					goto out;
		}
	}
	{
		sigcount tc;

		if (ws_count(w, rs[MD_TARGETS], &tc) < 0)
			goto out;
		if (sigcount_ok(&tc)) {
			if (do_timestamp(w, &ss, true, false) < 0)
				goto out;
		} else {
			info("targets is not signed yet: sign it with `pawl-repo sign %s targets "
			     "--key KEY`, then run `pawl-repo timestamp`",
			     argv[optind]);
		}
	}
	if (ws_save(w) < 0)
		goto out;
	for (int t = 0; t < MD_NTOP; t++) {
		sigcount c;

		if (ws_count(w, rs[t], &c) < 0)
			goto out;
		if (!sigcount_ok(&c))
			info("%s v%" PRIu64 " has %" PRIu32 " of %" PRIu32 " signatures; add the "
			     "rest with `pawl-repo sign %s %s --key KEY`",
			     rs[t]->name, rs[t]->md->version, c.valid, c.threshold, argv[optind],
			     rs[t]->name);
	}
	info("workspace %s created (consistent snapshots %s)", argv[optind], nocs ? "off" : "on");
	rc = 0;
out:
	signers_free(&ss);
	for (int t = 0; t < MD_NTOP; t++)
		free(keyargs[t].v);
	free(expires.v);
	free(signargs.v);
	return rc ? fail("init") : 0;
}

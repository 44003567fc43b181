/*
 * cmd_roles.c - changing who may sign what: `delegate`, `bins`, `rotate`,
 * and the signing and expiry commands `sign` and `expire`.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"

/* Public keys (and the signers of those given as private keys) from
 * repeated --key options. */
struct keyset {
	pawl_key **k;
	size_t n;
	strv priv; /* the arguments that are private keys */
};

static int keyset_load(struct keyset *ks, const strv *args)
{
	ks->k = xcalloc(args->n ? args->n : 1, sizeof(*ks->k));
	if (!ks->k)
		return PAWL_E_NOMEM;
	for (size_t i = 0; i < args->n; i++) {
		pawl_signer *s = NULL;

		GUARD(key_arg_public(&ks->k[i], &s, args->v[i]));
		ks->n++;
		for (size_t j = 0; j < i; j++)
			ENSURE(strcmp(key_id(ks->k[j]), key_id(ks->k[i])) != 0, PAWL_E_INVALID,
			       "key %s is given twice", args->v[i]);
		if (s) {
			signer_free(s);
			strv_push(&ks->priv, args->v[i]);
		}
	}
	return 0;
}

static void keyset_free(struct keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		key_free(ks->k[i]);
	free(ks->k);
	free(ks->priv.v);
	memset(ks, 0, sizeof(*ks));
}

/* The signers named in a and b (either may be empty). Commands load them
 * before they change anything, so that a wrong passphrase or PIN leaves
 * neither a change nor an audit entry for one. */
static int load_signers(signers *ss, const strv *a, const strv *b)
{
	strv all = { 0 };
	int r;

	for (size_t i = 0; a && i < a->n; i++)
		strv_push(&all, a->v[i]);
	for (size_t i = 0; b && i < b->n; i++)
		strv_push(&all, b->v[i]);
	r = signers_load(ss, all.v, all.n);
	free(all.v);
	return r;
}

static void report(ws *w, ws_role **rs, size_t n)
{
	for (size_t i = 0; i < n && i < 8; i++) {
		sigcount c;

		if (ws_count(w, rs[i], &c) < 0) {
			pawl_error_clear();
			continue;
		}
		info("%s v%" PRIu64 ": %" PRIu32 " of %" PRIu32 " signatures%s%s", rs[i]->name,
		     rs[i]->md->version, c.valid, c.threshold,
		     c.has_prev ? " (and from the previous root: " : "",
		     c.has_prev ? (c.prev_valid >= c.prev_threshold ? "enough)" : "not enough)")
				: "");
	}
	if (n > 8)
		info("... and %zu more roles", n - 8);
}

/* ---------------- delegate ---------------- */

static const char usage_delegate[] =
	"usage: pawl-repo delegate REPO ROLE --key KEY [--key KEY ...] [--threshold N]\n"
	"                          --path PATTERN [--path PATTERN ...] [--terminating]\n"
	"                          [--from ROLE] [--sign-key KEY ...]\n"
	"\n"
	"Delegate the target paths matching PATTERN (shell-style; '*' does not cross\n"
	"'/') from targets (or --from ROLE) to a new role ROLE signed by --threshold\n"
	"(default 1) of the --key keys. A delegation of an existing ROLE is replaced.\n"
	"\n"
	"  --key KEY             a key of ROLE: a public key file is enough; a private\n"
	"                        key also signs ROLE's (empty) metadata at once\n"
	"  --path-hash-prefix H  delegate by hex prefix of sha256(path) instead of --path\n"
	"  --terminating         clients do not look further if ROLE lacks a target\n"
	"  --sign-key KEY        sign the delegating role with KEY (repeatable)\n";

int cmd_delegate(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST, O_THR, O_PATH, O_PREFIX, O_TERM, O_FROM, O_SIGN };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "key", required_argument, NULL, O_KEY },
		{ "threshold", required_argument, NULL, O_THR },
		{ "path", required_argument, NULL, O_PATH },
		{ "path-hash-prefix", required_argument, NULL, O_PREFIX },
		{ "terminating", no_argument, NULL, O_TERM },
		{ "from", required_argument, NULL, O_FROM },
		{ "sign-key", required_argument, NULL, O_SIGN },
		{ NULL, 0, NULL, 0 },
	};
	strv keyargs = { 0 }, paths = { 0 }, prefixes = { 0 }, signargs = { 0 };
	const char *from = "targets", *name;
	uint32_t thr = 1;
	bool term = false;
	_cleanup_ws_ ws *w = NULL;
	struct keyset ks = { 0 };
	signers ss = { 0 };
	ws_role *parent, *child = NULL;
	bool replaced;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_KEY: strv_push(&keyargs, optarg); break;
		case O_PATH: strv_push(&paths, optarg); break;
		case O_PREFIX: strv_push(&prefixes, optarg); break;
		case O_TERM: term = true; break;
		case O_FROM: from = optarg; break;
		case O_SIGN: strv_push(&signargs, optarg); break;
		case O_THR:
			if (cli_parse_u32(optarg, &thr) < 0 || thr == 0)
				usage_error("delegate", "--threshold takes a positive number");
			break;
		default: common_opt("delegate", usage_delegate, ch, optarg);
		}
	}
	if (argc - optind != 2)
		usage_error("delegate", "give REPO and the new ROLE");
	name = argv[optind + 1];
	if (keyargs.n == 0)
		usage_error("delegate", "give the keys of %s with --key", name);
	if ((paths.n == 0) == (prefixes.n == 0))
		usage_error("delegate", "give --path PATTERN or --path-hash-prefix HEX (not both)");
	if (thr > keyargs.n)
		usage_error("delegate", "--threshold %" PRIu32 " is more than the %zu keys given",
			    thr, keyargs.n);
	for (size_t i = 0; i < prefixes.n; i++) {
		for (const char *p = prefixes.v[i]; *p; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				usage_error("delegate", "--path-hash-prefix takes lower-case hex");
	}
	if (check_role_name(name) < 0)
		return fail("delegate");
	if (ws_open(&w, argv[optind], true) < 0 || ws_find(w, from, &parent) < 0)
		goto out;
	if (parent->type != MD_TARGETS) {
		pawl_error_set(PAWL_E_INVALID, "%s cannot delegate (only targets roles can)", from);
		goto out;
	}
	if (ws_find(w, name, &child) == 0) {
		if (child->parent != parent) {
			pawl_error_set(PAWL_E_INVALID, "%s is already delegated by %s", name,
				       child->parent ? child->parent->name : "root");
			goto out;
		}
	} else {
		pawl_error_clear();
		child = NULL;
	}
	if (keyset_load(&ks, &keyargs) < 0 || load_signers(&ss, &signargs, &ks.priv) < 0)
		goto out;
	replaced = child != NULL;
	if (md_deleg_add_role(parent->md, name, ks.k, ks.n, thr, term,
			      (const char *const *)paths.v, paths.n,
			      prefixes.n ? (const char *const *)prefixes.v : NULL, prefixes.n) < 0)
		goto out;
	if (ws_touch(w, parent) < 0)
		goto out;
	if (child) {
		/* New keys or paths: the old signatures may no longer count. */
		if (ws_touch(w, child) < 0)
			goto out;
	} else if (ws_add_role(w, name, parent, &child) < 0) {
		goto out;
	}
	{
		ws_role *rs[2] = { parent, child };
		const md_keys *keys;
		const md_role *mr;

		if (ws_role_keys(w, child, &keys, &mr) < 0 ||
		    journal_delegate(w, parent, child, mr, replaced) < 0 ||
		    ws_sign_all(w, rs, 2, &ss) < 0 || ws_save(w) < 0)
			goto out;
		info("%s delegates %s to %s (%zu key%s, threshold %" PRIu32 "%s)", parent->name,
		     paths.n ? paths.v[0] : prefixes.v[0], name, ks.n, ks.n == 1 ? "" : "s", thr,
		     term ? ", terminating" : "");
		report(w, rs, 2);
	}
	rc = 0;
out:
	signers_free(&ss);
	keyset_free(&ks);
	free(keyargs.v);
	free(paths.v);
	free(prefixes.v);
	free(signargs.v);
	return rc ? fail("delegate") : 0;
}

/* ---------------- bins ---------------- */

static const char usage_bins[] =
	"usage: pawl-repo bins REPO --count N --key KEY [--key KEY ...] [--threshold N]\n"
	"                      [--from ROLE] [--prefix NAME] [--sign-key KEY ...]\n"
	"\n"
	"Delegate all targets from targets (or --from ROLE) to N hash bins (TAP 15\n"
	"succinct delegation): a target goes to the bin named by the first bits of\n"
	"sha256(path). N is a power of two from 2 to 16384. The bins are roles named\n"
	"PREFIX-XX (PREFIX defaults to \"bins\"), all signed by the --key keys;\n"
	"private keys sign the new bins at once. From then on `add` puts targets in\n"
	"their bins by itself.\n";

int cmd_bins(int argc, char **argv)
{
	enum { O_COUNT = OPT_FIRST, O_KEY, O_THR, O_FROM, O_PREFIX, O_SIGN };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "count", required_argument, NULL, O_COUNT },
		{ "key", required_argument, NULL, O_KEY },
		{ "threshold", required_argument, NULL, O_THR },
		{ "from", required_argument, NULL, O_FROM },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "sign-key", required_argument, NULL, O_SIGN },
		{ NULL, 0, NULL, 0 },
	};
	strv keyargs = { 0 }, signargs = { 0 };
	const char *from = "targets", *prefix = "bins";
	uint32_t count = 0, thr = 1, bits = 0;
	_cleanup_ws_ ws *w = NULL;
	struct keyset ks = { 0 };
	signers ss = { 0 };
	ws_role *parent, **rs = NULL;
	size_t nrs = 0;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_KEY: strv_push(&keyargs, optarg); break;
		case O_FROM: from = optarg; break;
		case O_PREFIX: prefix = optarg; break;
		case O_SIGN: strv_push(&signargs, optarg); break;
		case O_COUNT:
			if (cli_parse_u32(optarg, &count) < 0)
				usage_error("bins", "--count takes a number");
			break;
		case O_THR:
			if (cli_parse_u32(optarg, &thr) < 0 || thr == 0)
				usage_error("bins", "--threshold takes a positive number");
			break;
		default: common_opt("bins", usage_bins, ch, optarg);
		}
	}
	if (argc - optind != 1)
		usage_error("bins", "give the workspace REPO");
	if (count < 2 || count > BINS_MAX || (count & (count - 1)) != 0)
		usage_error("bins", "--count must be a power of two from 2 to %d", BINS_MAX);
	if (keyargs.n == 0)
		usage_error("bins", "give the bins' keys with --key");
	if (thr > keyargs.n)
		usage_error("bins", "--threshold is more than the keys given");
	while ((1u << bits) < count)
		bits++;
	if (ws_open(&w, argv[optind], true) < 0 || ws_find(w, from, &parent) < 0)
		goto out;
	if (parent->type != MD_TARGETS || parent->md->has_delegations) {
		pawl_error_set(PAWL_E_INVALID,
			       parent->type != MD_TARGETS ? "%s cannot delegate"
							  : "%s already delegates; hash bins must be "
							    "its only delegation (changing the number of "
							    "bins is not supported yet)",
			       from);
		goto out;
	}
	if (keyset_load(&ks, &keyargs) < 0 || load_signers(&ss, &signargs, &ks.priv) < 0 ||
	    md_deleg_set_succinct(parent->md, ks.k, ks.n, thr, bits, prefix) < 0 ||
	    ws_touch(w, parent) < 0)
		goto out;
	rs = xcalloc(count + 1, sizeof(*rs));
	if (!rs)
		goto out;
	rs[nrs++] = parent;
	for (uint32_t i = 0; i < count; i++) {
		char name[ROLE_NAME_MAX + 16];

		if (md_succinct_name(&parent->md->deleg.succinct, i, name, sizeof(name)) < 0 ||
		    ws_add_role(w, name, parent, &rs[nrs]) < 0)
			goto out;
		nrs++;
	}
	if (journal_bins(w, parent, count) < 0 || ws_sign_all(w, rs, nrs, &ss) < 0 ||
	    ws_save(w) < 0)
		goto out;
	if (parent->md->targets && parent->md->targets->len)
		info("%s still lists %u targets itself; clients find them there first", from,
		     parent->md->targets->len);
	info("%s delegates to %" PRIu32 " hash bins %s-... (bit length %" PRIu32 ")", from, count,
	     prefix, bits);
	report(w, rs, nrs);
	rc = 0;
out:
	signers_free(&ss);
	free(rs);
	keyset_free(&ks);
	free(keyargs.v);
	free(signargs.v);
	return rc ? fail("bins") : 0;
}

/* ---------------- sign ---------------- */

static const char usage_sign[] =
	"usage: pawl-repo sign REPO ROLE --key KEY [--key KEY ...]\n"
	"\n"
	"Add signatures to the current version of ROLE without changing it: for\n"
	"thresholds (each key holder signs in turn) and offline signing (copy the\n"
	"workspace to the offline machine, sign, copy it back). For a new root,\n"
	"keys of the previous root count too: a rotation needs both thresholds.\n";

int cmd_sign(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "key", required_argument, NULL, O_KEY },
		{ NULL, 0, NULL, 0 },
	};
	strv keys = { 0 };
	_cleanup_ws_ ws *w = NULL;
	signers ss = { 0 };
	ws_role *r;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_KEY: strv_push(&keys, optarg); break;
		default: common_opt("sign", usage_sign, ch, optarg);
		}
	}
	if (argc - optind != 2)
		usage_error("sign", "give REPO and ROLE");
	if (keys.n == 0)
		usage_error("sign", "give the signing key with --key");
	if (ws_open(&w, argv[optind], true) < 0 || ws_find(w, argv[optind + 1], &r) < 0 ||
	    load_signers(&ss, &keys, NULL) < 0 || ws_sign_all(w, &r, 1, &ss) < 0 ||
	    ws_save(w) < 0)
		goto out;
	report(w, &r, 1);
	rc = 0;
out:
	signers_free(&ss);
	free(keys.v);
	return rc ? fail("sign") : 0;
}

/* ---------------- rotate ---------------- */

static const char usage_rotate[] =
	"usage: pawl-repo rotate REPO ROLE [--old-key KEY ...] [--new-key KEY ...]\n"
	"                        [--threshold N] [--key SIGNING_KEY ...]\n"
	"\n"
	"Replace keys of ROLE: drop each --old-key (a key file or a key id), add each\n"
	"--new-key (a public or private key file), and optionally set the threshold.\n"
	"\n"
	"For root, targets, snapshot and timestamp this makes a new root version,\n"
	"which must be signed by the threshold of the previous root's root keys AND\n"
	"of the new root's root keys (`pawl-repo sign REPO root --key ...`), so that\n"
	"clients can follow it. The rotated role itself gets a new version to be\n"
	"signed by its new keys (for snapshot and timestamp: `pawl-repo timestamp`).\n"
	"For a delegated role the delegating role changes instead.\n"
	"--key signs the changed roles with the keys given.\n";

/* A copy of a key that outlives the metadata it came from. */
static int key_copy(const pawl_key *k, pawl_key **ret)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;

	GUARD(pj_doc_new(&doc));
	GUARD(key_to_json(k, doc, pj_root(doc)));
	return key_from_json(ret, pj_root(doc), key_id(k));
}

static bool is_keyid(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int cmd_rotate(int argc, char **argv)
{
	enum { O_OLD = OPT_FIRST, O_NEW, O_THR, O_KEY };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "old-key", required_argument, NULL, O_OLD },
		{ "new-key", required_argument, NULL, O_NEW },
		{ "threshold", required_argument, NULL, O_THR },
		{ "key", required_argument, NULL, O_KEY },
		{ NULL, 0, NULL, 0 },
	};
	strv oldargs = { 0 }, newargs = { 0 }, signargs = { 0 };
	uint32_t thr = 0;
	_cleanup_ws_ ws *w = NULL;
	struct keyset nk = { 0 };
	signers ss = { 0 };
	char **oldids = NULL;
	const char **ids = NULL;
	pawl_key **keys = NULL;
	size_t nids = 0;
	ws_role *r, *holder, *rs[2];
	const md_keys *mkeys, *rkeys;
	const md_role *mr, *rmr;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_OLD: strv_push(&oldargs, optarg); break;
		case O_NEW: strv_push(&newargs, optarg); break;
		case O_KEY: strv_push(&signargs, optarg); break;
		case O_THR:
			if (cli_parse_u32(optarg, &thr) < 0 || thr == 0)
				usage_error("rotate", "--threshold takes a positive number");
			break;
		default: common_opt("rotate", usage_rotate, ch, optarg);
		}
	}
	if (argc - optind != 2)
		usage_error("rotate", "give REPO and ROLE");
	if (oldargs.n == 0 && newargs.n == 0 && thr == 0)
		usage_error("rotate", "nothing to do: give --old-key, --new-key or --threshold");
	if (ws_open(&w, argv[optind], true) < 0 || ws_find(w, argv[optind + 1], &r) < 0)
		goto out;
	if (r->parent && r->parent->md->deleg.succinct_present) {
		pawl_error_set(PAWL_E_UNSUPPORTED, "%s is a hash bin; rotating the keys of hash bins "
			       "is not supported yet", r->name);
		goto out;
	}
	holder = r->parent ? r->parent : ws_top(w, MD_ROOT);
	oldids = xcalloc(oldargs.n + 1, sizeof(*oldids));
	if (!oldids)
		goto out;
	for (size_t i = 0; i < oldargs.n; i++) {
		pawl_key *k;

		if (is_keyid(oldargs.v[i])) {
			oldids[i] = xstrdup(oldargs.v[i]);
		} else {
			if (key_arg_public(&k, NULL, oldargs.v[i]) < 0)
				goto out;
			oldids[i] = xstrdup(key_id(k));
			key_free(k);
		}
		if (!oldids[i])
			goto out;
	}
	if (keyset_load(&nk, &newargs) < 0 || load_signers(&ss, &signargs, NULL) < 0 ||
	    ws_role_keys(w, r, &mkeys, &mr) < 0)
		goto out;
	/* The new key list: the current keys less the old, plus the new. */
	ids = xcalloc(mr->nkeyids + nk.n + 1, sizeof(*ids));
	keys = xcalloc(mr->nkeyids + nk.n + 1, sizeof(*keys));
	if (!ids || !keys)
		goto out;
	for (size_t i = 0; i < oldargs.n; i++) {
		if (!role_has_keyid(mr, oldids[i])) {
			char sid[20];

			pawl_error_set(PAWL_E_NOT_FOUND, "key %s (%s) is not a key of %s",
				       short_id(oldids[i], sid), oldargs.v[i], r->name);
			goto out;
		}
	}
	for (uint32_t i = 0; i < mr->nkeyids; i++) {
		bool drop = false;
		const md_keyentry *ke;

		for (size_t k = 0; k < oldargs.n; k++)
			drop |= strcmp(mr->keyids[i], oldids[k]) == 0;
		if (drop)
			continue;
		ke = md_keys_find(mkeys, mr->keyids[i]);
		if (!ke || !ke->key) {
			pawl_error_set(PAWL_E_KEY, "%s lists key %.16s that it cannot use; drop it with "
				       "--old-key", r->name, mr->keyids[i]);
			goto out;
		}
		ids[nids] = xstrdup(mr->keyids[i]);
		if (!ids[nids] || key_copy(ke->key, &keys[nids]) < 0)
			goto out;
		nids++;
	}
	for (size_t i = 0; i < nk.n; i++) {
		for (size_t k = 0; k < nids; k++) {
			if (strcmp(ids[k], key_id(nk.k[i])) == 0) {
				pawl_error_set(PAWL_E_INVALID, "%s is already a key of %s",
					       newargs.v[i], r->name);
				goto out;
			}
		}
		ids[nids] = xstrdup(key_id(nk.k[i]));
		if (!ids[nids] || key_copy(nk.k[i], &keys[nids]) < 0)
			goto out;
		nids++;
	}
	if (thr == 0)
		thr = mr->threshold;
	if (nids == 0 || thr > nids) {
		pawl_error_set(PAWL_E_INVALID, "%s would have %zu keys and threshold %" PRIu32
			       "; a role needs at least as many keys as its threshold",
			       r->name, nids, thr);
		goto out;
	}
	/* Bump and clear first (this also loads the previous root when the
	 * root gets a new version), then change. */
	if (ws_touch(w, holder) < 0)
		goto out;
	if (!r->parent) {
		pawl_md *root = holder->md;

		for (size_t i = 0; i < nk.n; i++)
			if (md_root_add_key(root, nk.k[i]) < 0)
				goto out;
		if (md_root_set_role(root, r->type, ids, nids, thr) < 0)
			goto out;
		/* Keys no role uses any more leave root's key list. */
		for (size_t i = 0; i < oldargs.n; i++) {
			bool used = false;

			for (int t = 0; t < MD_NTOP; t++)
				used |= role_has_keyid(md_root_role(root, (md_type)t), oldids[i]);
			if (!used && md_keys_find(&root->keys, oldids[i]) &&
			    md_root_remove_key(root, oldids[i]) < 0)
				goto out;
		}
	} else {
		/* Copy the delegation's other fields before it is replaced. */
		strv paths = { 0 }, prefixes = { 0 };
		const pj_value *pv = mr->paths ? mr->paths : mr->path_hash_prefixes;
		bool term = mr->terminating, by_prefix = mr->path_hash_prefixes != NULL;
		int e;

		for (uint32_t i = 0; pv && i < pv->len; i++) {
			char *s = xstrdup(pj_str(&pv->u.items[i]) ?: "");

			if (!s)
				goto out;
			strv_push(by_prefix ? &prefixes : &paths, s);
		}
		e = md_deleg_add_role(holder->md, r->name, keys, nids, thr, term,
				      (const char *const *)paths.v, paths.n,
				      by_prefix ? (const char *const *)prefixes.v : NULL, prefixes.n);
		for (size_t i = 0; i < paths.n; i++)
			free(paths.v[i]);
		for (size_t i = 0; i < prefixes.n; i++)
			free(prefixes.v[i]);
		free(paths.v);
		free(prefixes.v);
		if (e < 0)
			goto out;
	}
	/* The rotated role must be signed again by its new keys. */
	if (r != holder && ws_touch(w, r) < 0)
		goto out;
	rs[0] = holder;
	rs[1] = r;
	if (ws_role_keys(w, r, &rkeys, &rmr) < 0 ||
	    journal_rotate(w, r, holder, rmr, oldids, oldargs.n, nk.k, nk.n) < 0 ||
	    ws_sign_all(w, rs, r == holder ? 1 : 2, &ss) < 0 || ws_save(w) < 0)
		goto out;
	info("%s now has %zu key%s, threshold %" PRIu32 " (in %s v%" PRIu64 ")", r->name, nids,
	     nids == 1 ? "" : "s", thr, holder->name, holder->md->version);
	report(w, rs, r == holder ? 1 : 2);
	if (r->type == MD_SNAPSHOT || r->type == MD_TIMESTAMP)
		info("next: `pawl-repo timestamp %s --key ...` with the new keys", argv[optind]);
	rc = 0;
out:
	for (size_t i = 0; oldids && i < oldargs.n; i++)
		free(oldids[i]);
	free(oldids);
	for (size_t i = 0; i < nids; i++) {
		free((char *)ids[i]);
		key_free(keys[i]);
	}
	free(ids);
	free(keys);
	signers_free(&ss);
	keyset_free(&nk);
	free(oldargs.v);
	free(newargs.v);
	free(signargs.v);
	return rc ? fail("rotate") : 0;
}

/* ---------------- expire ---------------- */

static const char usage_expire[] =
	"usage: pawl-repo expire REPO ROLE PERIOD [--key KEY ...]\n"
	"\n"
	"Set ROLE's validity period (DAYS, or a number ending in d, h, m or s) and\n"
	"renew it now: a new version that expires PERIOD from now, to be signed\n"
	"(--key signs it at once). For snapshot and timestamp the period applies from\n"
	"the next `pawl-repo timestamp`.\n";

int cmd_expire(int argc, char **argv)
{
	enum { O_KEY = OPT_FIRST };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "key", required_argument, NULL, O_KEY },
		{ NULL, 0, NULL, 0 },
	};
	strv keys = { 0 };
	_cleanup_ws_ ws *w = NULL;
	signers ss = { 0 };
	int64_t secs;
	ws_role *r;
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_KEY: strv_push(&keys, optarg); break;
		default: common_opt("expire", usage_expire, ch, optarg);
		}
	}
	if (argc - optind != 3)
		usage_error("expire", "give REPO ROLE PERIOD");
	if (cli_parse_duration("period", argv[optind + 2], DAY, PERIOD_MAX, &secs) < 0)
		usage_error("expire", "PERIOD is DAYS, or a number ending in d, h, m or s");
	if (ws_open(&w, argv[optind], true) < 0 || ws_find(w, argv[optind + 1], &r) < 0 ||
	    load_signers(&ss, &keys, NULL) < 0 || ws_set_period(w, r->name, secs) < 0)
		goto out;
	if (r->type == MD_SNAPSHOT || r->type == MD_TIMESTAMP) {
		if (journal_expire(w, r, secs, false) < 0 || ws_save(w) < 0)
			goto out;
		info("%s will be valid for %" PRId64 " seconds from the next `pawl-repo timestamp`",
		     r->name, secs);
		rc = 0;
		goto out;
	}
	if (ws_touch(w, r) < 0 || journal_expire(w, r, secs, true) < 0 ||
	    ws_sign_all(w, &r, 1, &ss) < 0 || ws_save(w) < 0)
		goto out;
	info("%s v%" PRIu64 " expires %s", r->name, r->md->version, r->md->expires_str);
	report(w, &r, 1);
	rc = 0;
out:
	signers_free(&ss);
	free(keys.v);
	return rc ? fail("expire") : 0;
}

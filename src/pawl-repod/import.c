/*
 * import.c - taking in what the offline ceremony signed with pawl-repo:
 * every root version and the top-level targets, which delegates to the
 * succinct hash bins the service signs online.
 *
 * The service never holds the root or targets keys, so it checks the
 * imported files as a client would before serving them (TUF 5.3 and
 * 5.6): each new root version is exactly one more than the newest one
 * held, signed by a threshold of the previous root's root keys and of its
 * own; targets is signed by a threshold of the newest root's targets
 * keys, not expired by the database's clock, and never older than the
 * version already served (a lower version is a rollback; the same version
 * must be the same bytes). The first root ever imported is trusted on
 * first use, as a client trusts the root it is given; it must be signed
 * by its own threshold.
 *
 * Everything goes in one transaction with its audit entries. The
 * publisher notices a new root or targets and publishes a new snapshot
 * and timestamp (and re-signs every bin when the bins' keys changed).
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "repod.h"

#define META_FILE_MAX (16u << 20)

int load_latest(db *d, const char *role, pawl_md **ret, md_type type)
{
	_cleanup_pq_ PGresult *res = NULL;
	char *buf;
	size_t len;

	GUARD(DB_RUN(d, "meta_newest", &res, role));
	if (PQntuples(res) == 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "no %s imported yet: run `pawl-repod "
							"import`", role);
	len = (size_t)PQgetlength(res, 0, 1);
	buf = xmalloc(len + 1);
	if (!buf)
		return PAWL_E_NOMEM;
	memcpy(buf, PQgetvalue(res, 0, 1), len);
	buf[len] = '\0';
	return md_parse(ret, buf, len, type, role);
}

static int store_meta(db *d, const char *role, pawl_md *md, const char *data)
{
	char v[24], e[24];

	snprintf(v, sizeof(v), "%" PRIu64, md->version);
	snprintf(e, sizeof(e), "%" PRId64, md->expires);
	GUARD(DB_RUN(d, "meta_put", NULL, role, v, e, data));
	{
		db_array a[3];
		const char *vals[3];
		int lens[3], r;
		static const int fmt[3] = { 1, 1, 1 };

		dba_init(&a[0], DB_OID_TEXT);
		dba_init(&a[1], DB_OID_INT8);
		dba_init(&a[2], DB_OID_INT8);
		r = dba_text(&a[0], role, strlen(role));
		if (r == 0)
			r = dba_int8(&a[1], (int64_t)md->version);
		if (r == 0)
			r = dba_int8(&a[2], md->expires);
		for (int i = 0; r == 0 && i < 3; i++)
			r = dba_finish(&a[i], &vals[i], &lens[i]);
		if (r == 0)
			r = db_runv(d, "heads_put", 3, vals, lens, fmt, NULL);
		for (int i = 0; i < 3; i++)
			dba_free(&a[i]);
		GUARD(r);
	}
	return audit_db_kv(d, role[0] == 'r' ? "import.root" : "import.targets", 4,
			   (const char *const[]){ "version", v, "expires", md->expires_str });
}

/* Is data the same as the stored version of role? */
static int same_as_stored(db *d, const char *role, uint64_t version, const char *data,
			  size_t len)
{
	_cleanup_pq_ PGresult *res = NULL;
	char v[24];

	snprintf(v, sizeof(v), "%" PRIu64, version);
	GUARD(DB_RUN(d, "meta_get", &res, role, v));
	if (PQntuples(res) == 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s version %s is not stored", role, v);
	if ((size_t)PQgetlength(res, 0, 0) == len && memcmp(PQgetvalue(res, 0, 0), data, len) == 0)
		return 0;
	return pawl_error_set(PAWL_E_ROLLBACK,
			      "%s version %s differs from the one already imported: a signed "
			      "version is never replaced; make a new version with pawl-repo",
			      role, v);
}

static int import_root(db *d, pawl_md **cur, const char *path)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_md_ pawl_md *md = NULL;
	char *copy;
	size_t len;

	GUARD(file_read_all(path, META_FILE_MAX, &data, &len));
	copy = xstrndup(data, len);
	if (!copy)
		return PAWL_E_NOMEM;
	GUARD(md_parse(&md, copy, len, MD_ROOT, path));
	if (*cur && md->version <= (*cur)->version)
		return same_as_stored(d, "root", md->version, data, len);
	ENSURE(md->consistent_snapshot, PAWL_E_UNSUPPORTED,
	       "%s: the service publishes consistent snapshots; make the root with "
	       "consistent_snapshot true",
	       path);
	if (*cur) {
		ENSURE(md->version == (*cur)->version + 1, PAWL_E_ROLLBACK,
		       "%s: root version %" PRIu64 " follows %" PRIu64
		       ": import every root version in order",
		       path, md->version, (*cur)->version);
		GUARD(md_verify(md, &(*cur)->keys, md_root_role(*cur, MD_ROOT), path));
	}
	GUARD(md_verify(md, &md->keys, md_root_role(md, MD_ROOT), path));
	GUARD(store_meta(d, "root", md, data));
	md_free(*cur);
	*cur = TAKE_PTR(md);
	return 0;
}

static int keyids_of(const md_role *r, char *out, size_t n)
{
	/* The ids are sorted by the parser's key table? Not necessarily in
	 * the role: sort a copy. */
	const char *ids[MD_MAX_KEYIDS_PER_ROLE];
	size_t used = 0;

	ENSURE(r->nkeyids <= MD_MAX_KEYIDS_PER_ROLE, PAWL_E_LIMIT, "too many key ids");
	for (uint32_t i = 0; i < r->nkeyids; i++) {
		size_t j = i;

		while (j > 0 && strcmp(ids[j - 1], r->keyids[i]) > 0) {
			ids[j] = ids[j - 1];
			j--;
		}
		ids[j] = r->keyids[i];
	}
	out[0] = '\0';
	for (uint32_t i = 0; i < r->nkeyids; i++) {
		int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", ids[i]);

		ENSURE(w > 0 && (size_t)w < n - used, PAWL_E_LIMIT, "too many key ids");
		used += (size_t)w;
	}
	return 0;
}

static int import_targets(db *d, const pawl_md *root, const char *path)
{
	_cleanup_free_ char *data = NULL, *old_bits = NULL, *old_prefix = NULL, *old_ids = NULL;
	_cleanup_md_ pawl_md *md = NULL;
	_cleanup_md_ pawl_md *cur = NULL;
	char *copy, ids[4096], bits[16], thr[16];
	const md_succinct *s;
	size_t len;
	int64_t now;
	int r;

	GUARD(file_read_all(path, META_FILE_MAX, &data, &len));
	copy = xstrndup(data, len);
	if (!copy)
		return PAWL_E_NOMEM;
	GUARD(md_parse(&md, copy, len, MD_TARGETS, "targets"));
	GUARD(md_verify(md, &root->keys, md_root_role(root, MD_TARGETS), "targets"));
	GUARD(db_now(d, &now, NULL));
	GUARD(md_check_expiry(md, now, "targets"));
	ENSURE(md->has_delegations && md->deleg.succinct_present, PAWL_E_UNSUPPORTED,
	       "%s: targets must delegate to succinct hash bins (pawl-repo bins REPO --count N "
	       "--key BINS_KEY)",
	       path);
	ENSURE(md->targets == NULL || md->targets->len == 0, PAWL_E_UNSUPPORTED,
	       "%s: the service keeps every artifact in the hash bins; top-level targets must "
	       "list none",
	       path);
	r = load_latest(d, "targets", &cur, MD_TARGETS);
	if (r == 0) {
		ENSURE(md->version >= cur->version, PAWL_E_ROLLBACK,
		       "%s: targets version %" PRIu64 " is older than version %" PRIu64
		       " already served",
		       path, md->version, cur->version);
		if (md->version == cur->version)
			return same_as_stored(d, "targets", md->version, data, len);
	} else if (r != PAWL_E_NOT_FOUND) {
		return r;
	}
	s = &md->deleg.succinct;
	snprintf(bits, sizeof(bits), "%" PRIu32, s->bit_length);
	snprintf(thr, sizeof(thr), "%" PRIu32, s->role.threshold);
	ENSURE(s->bit_length <= 16, PAWL_E_UNSUPPORTED,
	       "%s: at most 65536 hash bins (bit_length 16)", path);
	GUARD(keyids_of(&s->role, ids, sizeof(ids)));
	GUARD(db_setting_get(d, "bins.bits", &old_bits));
	GUARD(db_setting_get(d, "bins.prefix", &old_prefix));
	GUARD(db_setting_get(d, "bins.keyids", &old_ids));
	if (old_bits) {
		ENSURE(strcmp(old_bits, bits) == 0 && strcmp(old_prefix ?: "", s->name_prefix) == 0,
		       PAWL_E_UNSUPPORTED,
		       "%s: the hash bins are %s-... with bit length %s; changing the number or "
		       "names of bins is not supported",
		       path, old_prefix ?: "?", old_bits);
	}
	GUARD(db_setting_put(d, "bins.bits", bits));
	GUARD(db_setting_put(d, "bins.prefix", s->name_prefix));
	GUARD(db_setting_put(d, "bins.threshold", thr));
	if (!old_ids || strcmp(old_ids, ids) != 0) {
		GUARD(db_setting_put(d, "bins.keyids", ids));
		/* New keys: every bin must be signed again by them. */
		GUARD(db_setting_put(d, "bins.resign", "all"));
	}
	return store_meta(d, "targets", md, data);
}

static const char usage_import[] =
	"usage: pawl-repod import --config FILE REPO\n"
	"       pawl-repod import --config FILE [--root N.root.json ...] [--targets targets.json]\n"
	"\n"
	"Import what a pawl-repo ceremony signed offline: every root version (REPO's\n"
	"metadata/root-history/N.root.json, in order) and the top-level targets\n"
	"(REPO/metadata/targets.json), checked as a client would. Run it again after\n"
	"every rotation or re-signing; versions already imported are skipped (and must\n"
	"be unchanged).\n";

int cmd_import(const repod_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "targets", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_db_ db *d = NULL;
	_cleanup_md_ pawl_md *cur = NULL;
	char *roots[1024];
	char *allocated[1024];
	size_t nroots = 0, nalloc = 0;
	const char *targets = NULL;
	_cleanup_free_ char *tpath = NULL;
	int ch, r = 0, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (nroots == ARRAY_SIZE(roots)) {
				fputs("pawl-repod import: too many --root\n", stderr);
				return EXIT_USAGE;
			}
			roots[nroots++] = optarg;
			break;
		case 't':
			targets = optarg;
			break;
		case 'h':
			fputs(usage_import, stdout);
			return 0;
		default:
			fputs(usage_import, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 == argc && nroots == 0 && !targets) {
		const char *repo = argv[optind];

		for (unsigned v = 1; nroots < ARRAY_SIZE(roots); v++) {
			char p[4096];

			snprintf(p, sizeof(p), "%s/metadata/root-history/%u.root.json", repo, v);
			if (access(p, F_OK) != 0)
				break;
			allocated[nalloc] = xstrdup(p);
			if (!allocated[nalloc])
				goto out;
			roots[nroots++] = allocated[nalloc++];
		}
		if (nroots == 0) {
			fprintf(stderr, "pawl-repod import: %s/metadata/root-history/1.root.json: "
					"not a pawl-repo workspace\n", repo);
			goto out;
		}
		if (asprintf(&tpath, "%s/metadata/targets.json", repo) < 0)
			goto out;
		targets = tpath;
	} else if (optind != argc || (nroots == 0 && !targets)) {
		fputs(usage_import, stderr);
		rc = EXIT_USAGE;
		goto out;
	}

	GUARD_GOTO(r, db_open(&d, c->database), fail);
	GUARD_GOTO(r, db_begin(d), fail);
	r = load_latest(d, "root", &cur, MD_ROOT);
	if (r == PAWL_E_NOT_FOUND)
		r = 0;
	GUARD_GOTO(r, r, fail);
	for (size_t i = 0; i < nroots; i++) {
		r = import_root(d, &cur, roots[i]);
		if (r < 0) {
			r = pawl_error_prefix(r, "%s: ", roots[i]);
			goto fail;
		}
	}
	ENSURE_GOTO(r, cur, PAWL_E_NOT_FOUND, fail, "no root imported yet: give --root");
	if (targets) {
		r = import_targets(d, cur, targets);
		if (r < 0) {
			r = pawl_error_prefix(r, "%s: ", targets);
			goto fail;
		}
	}
	GUARD_GOTO(r, db_commit(d), fail);
	fprintf(stderr, "pawl-repod import: root version %" PRIu64 " is current\n", cur->version);
	rc = 0;
	goto out;
fail:
	db_rollback(d);
	fprintf(stderr, "pawl-repod import: %s\n", pawl_error_last()->message);
	rc = 1;
out:
	for (size_t i = 0; i < nalloc; i++)
		free(allocated[i]);
	return rc;
}

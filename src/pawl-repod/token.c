/*
 * token.c - bearer tokens scoped to path prefixes.
 *
 * A token is "prd_<id>_<64 hex digits>": 32 random bytes from the
 * OpenSSL CSPRNG, shown once by `token create`. The database keeps only
 * SHA-256 of the whole token string and its scopes; the id lets a
 * request find its row, and the hashes are then compared with
 * CRYPTO_memcmp, so the comparison of the secret takes the same time
 * whatever it holds. A token that is malformed, unknown, revoked or
 * wrong is one answer (401), so a peer learns nothing about which.
 *
 * Scopes are path prefixes compared byte for byte ("team-a/" covers
 * "team-a/x.tar.gz"; "team-a" also covers "team-ab/..."); "*" covers
 * every path.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/parse.h"
#include "repod.h"
#include "request.h"

#define TOKEN_PREFIX "prd_"

void token_info_free(token_info *t)
{
	if (!t)
		return;
	pj_doc_free(t->scopes);
	t->scopes = NULL;
}

int token_check(db *d, const char *bearer, token_info *ret)
{
	_cleanup_pq_ PGresult *res = NULL;
	const char *p, *idp, *sec;
	uint8_t want[32], got[HASH_MAX_LEN];
	size_t wantlen = 0;
	char idbuf[24];
	bool found = false, ok;
	size_t n;

	ENSURE(bearer && strncasecmp(bearer, "Bearer ", 7) == 0, PAWL_E_SIGNATURE,
	       "a bearer token is required");
	p = bearer + 7;
	while (*p == ' ')
		p++;
	ENSURE(strncmp(p, TOKEN_PREFIX, 4) == 0, PAWL_E_SIGNATURE, "invalid token");
	idp = p + 4;
	n = strspn(idp, "0123456789");
	ENSURE(n >= 1 && n <= 18 && idp[n] == '_', PAWL_E_SIGNATURE, "invalid token");
	sec = idp + n + 1;
	ENSURE(strlen(sec) == 64 && strspn(sec, "0123456789abcdef") == 64, PAWL_E_SIGNATURE,
	       "invalid token");
	memcpy(idbuf, idp, n);
	idbuf[n] = '\0';

	GUARD(hash_once(HASH_SHA256, p, strlen(p), got));
	GUARD(DB_RUN(d, "token_get", &res, idbuf));
	if (PQntuples(res) == 1) {
		const char *hex = PQgetvalue(res, 0, 0);

		found = hex_decode(want, sizeof(want), &wantlen, hex, strlen(hex)) == 0 &&
			wantlen == 32;
	}
	if (!found)
		memset(want, 0, sizeof(want));
	/* Compare whether or not a row was found. */
	ok = CRYPTO_memcmp(want, got, 32) == 0 && found;
	ENSURE(ok, PAWL_E_SIGNATURE, "invalid token");
	{
		const char *scopes = PQgetvalue(res, 0, 1);
		int64_t id;

		GUARD(pj_parse_copy(&ret->scopes, scopes, strlen(scopes), NULL));
		if (cli_parse_i64(idbuf, 1, INT64_MAX, &id) < 0)
			return pawl_error_set(PAWL_E_FORMAT, "bad token id from the database: %s",
					      pawl_error_last()->message);
		ret->id = id;
	}
	return 0;
}

bool token_allows(const token_info *t, const char *path, size_t n)
{
	const pj_value *a = t->scopes ? pj_root(t->scopes) : NULL;

	if (!pj_is_array(a))
		return false;
	for (uint32_t i = 0; i < a->len; i++) {
		const pj_value *s = &a->u.items[i];

		if (!pj_is_string(s))
			continue;
		if (s->len == 1 && s->u.s[0] == '*')
			return true;
		if (s->len <= n && memcmp(s->u.s, path, s->len) == 0)
			return true;
	}
	return false;
}

static int check_scope(const char *s)
{
	size_t n = strlen(s);

	if (strcmp(s, "*") == 0)
		return 0;
	ENSURE(n > 0 && n <= RQ_PATH_MAX, PAWL_E_INVALID, "a scope is 1 to %d bytes",
	       RQ_PATH_MAX);
	ENSURE(s[0] != '/', PAWL_E_INVALID, "scope \"%s\": paths never start with '/'", s);
	for (size_t i = 0; i < n; i++)
		ENSURE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, PAWL_E_INVALID,
		       "scope: control characters are not allowed");
	return 0;
}

static const char usage_token[] =
	"usage: pawl-repod token create --config FILE --scope PREFIX [--scope PREFIX ...]\n"
	"       pawl-repod token revoke --config FILE ID\n"
	"\n"
	"create: make a bearer token allowed to change artifacts whose paths start with\n"
	"one of the PREFIXes (\"*\": every path) and print it once on stdout. Only its\n"
	"SHA-256 is stored: keep the printed token, it cannot be shown again.\n"
	"revoke: stop accepting token ID (the number after \"prd_\").\n";

static int token_create(const repod_config *c, char **scopes, size_t nscopes)
{
	_cleanup_db_ db *d = NULL;
	_cleanup_pq_ PGresult *res = NULL;
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	pawl_buf sb = PAWL_BUF_INIT(1 << 20);
	uint8_t secret[32], digest[HASH_MAX_LEN];
	char hex[65], token[128], dhex[2 + 65], idbuf[24];
	pj_value *arr, *slot;
	int r;

	for (size_t i = 0; i < nscopes; i++)
		GUARD(check_scope(scopes[i]));
	GUARD(pj_doc_new(&doc));
	arr = pj_root(doc);
	GUARD(pj_set_array(doc, arr));
	for (size_t i = 0; i < nscopes; i++) {
		GUARD(pj_arr_push(doc, arr, &slot));
		GUARD(pj_set_cstr(doc, slot, scopes[i]));
	}
	GUARD(pj_write(&sb, arr, false));
	GUARD(db_open(&d, c->database));
	ENSURE_GOTO(r, RAND_bytes(secret, sizeof(secret)) == 1, PAWL_E_CRYPTO, out,
		    "no random bytes");
	hex_encode(hex, secret, sizeof(secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	GUARD_GOTO(r, db_begin(d), out);
	/* The id comes first: insert a placeholder hash, then set it. The
	 * row is only visible once committed with the real hash. */
	GUARD_GOTO(r, DB_RUN(d, "token_add", &res,
			     "\\x0000000000000000000000000000000000000000000000000000000000000000",
			     sb.data), out);
	snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(res, 0, 0));
	snprintf(token, sizeof(token), TOKEN_PREFIX "%s_%s", idbuf, hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	GUARD_GOTO(r, hash_once(HASH_SHA256, token, strlen(token), digest), out);
	dhex[0] = '\\';
	dhex[1] = 'x';
	hex_encode(dhex + 2, digest, 32);
	GUARD_GOTO(r, DB_RUN(d, "token_set_hash", NULL, idbuf, dhex), out);
	GUARD_GOTO(r, audit_db_kv(d, "token.created", 4,
				  (const char *const[]){ "id", idbuf, "scopes", sb.data }),
		   out);
	GUARD_GOTO(r, db_commit(d), out);
	printf("%s\n", token);
	fflush(stdout);
	r = 0;
out:
	OPENSSL_cleanse(token, sizeof(token));
	db_rollback(d);
	buf_free(&sb);
	return r;
}

int cmd_token(const repod_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scope", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *scopes[TOKEN_SCOPES_MAX];
	size_t nscopes = 0;
	int ch;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_token, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (nscopes == TOKEN_SCOPES_MAX) {
				fprintf(stderr, "pawl-repod token: at most %d scopes\n",
					TOKEN_SCOPES_MAX);
				return EXIT_USAGE;
			}
			scopes[nscopes++] = optarg;
			break;
		case 'h':
			fputs(usage_token, stdout);
			return 0;
		default:
			fputs(usage_token, stderr);
			return EXIT_USAGE;
		}
	}
	if (strcmp(argv[0], "create") == 0) {
		if (nscopes == 0 || optind != argc) {
			fputs("pawl-repod token create: give at least one --scope\n", stderr);
			return EXIT_USAGE;
		}
		if (token_create(c, scopes, nscopes) < 0) {
			fprintf(stderr, "pawl-repod token create: %s\n", pawl_error_last()->message);
			return 1;
		}
		return 0;
	}
	if (strcmp(argv[0], "revoke") == 0) {
		_cleanup_db_ db *d = NULL;
		_cleanup_pq_ PGresult *res = NULL;
		const char *id = optind + 1 == argc ? argv[optind] : NULL;

		if (!id || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18 || !*id) {
			fputs("pawl-repod token revoke: give the token's id (a number)\n", stderr);
			return EXIT_USAGE;
		}
		if (db_open(&d, c->database) < 0 || db_begin(d) < 0 ||
		    DB_RUN(d, "token_revoke", &res, id) < 0) {
			fprintf(stderr, "pawl-repod token revoke: %s\n", pawl_error_last()->message);
			return 1;
		}
		if (strcmp(PQcmdTuples(res), "1") != 0) {
			db_rollback(d);
			fprintf(stderr, "pawl-repod token revoke: no active token %s\n", id);
			return 1;
		}
		if (audit_db_kv(d, "token.revoked", 2, (const char *const[]){ "id", id }) < 0 ||
		    db_commit(d) < 0) {
			db_rollback(d);
			fprintf(stderr, "pawl-repod token revoke: %s\n", pawl_error_last()->message);
			return 1;
		}
		return 0;
	}
	fputs(usage_token, stderr);
	return EXIT_USAGE;
}

/*
 * hash.c - SHA-256/SHA-512 over OpenSSL's EVP, constant-time digest
 * comparison, and hex.
 *
 * Only the two hashes TUF 1.0 implementations actually agree on are
 * accepted; metadata naming anything else (sha1, md5, sha224, ...) is
 * refused rather than silently skipped, so that a "hashes" object can
 * never be satisfied by a weak algorithm alone.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/crypto_impl.h"

struct hash_ctx {
	EVP_MD_CTX *ctx;
	hash_alg alg;
	bool finished;
};

static const struct {
	const char *name;     /* as TUF metadata spells it */
	const char *ossl;     /* OpenSSL's fetch name */
	size_t len;
} hash_algs[] = {
	[HASH_SHA256] = { "sha256", "SHA2-256", 32 },
	[HASH_SHA512] = { "sha512", "SHA2-512", 64 },
};

/* Explicitly fetched once: an implicit fetch (EVP_sha256()) costs a
 * method-store lookup on every EVP_DigestInit_ex, which shows up when
 * hashing many small targets. The references are held for the life of the
 * process. */
static EVP_MD *hash_mds[ARRAY_SIZE(hash_algs)];
static pthread_once_t hash_mds_once = PTHREAD_ONCE_INIT;

static void hash_mds_fetch(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(hash_algs); i++)
		hash_mds[i] = EVP_MD_fetch(NULL, hash_algs[i].ossl, NULL);
	/* A failed fetch is reported by hash_md() when that hash is asked
	 * for; do not leave it on this thread's queue meanwhile. */
	ERR_clear_error();
}

static bool hash_alg_valid(hash_alg alg)
{
	return (unsigned)alg < ARRAY_SIZE(hash_algs);
}

int hash_md(hash_alg alg, const EVP_MD **ret)
{
	ENSURE(hash_alg_valid(alg), PAWL_E_INVALID, "unknown hash algorithm %d", (int)alg);
	ENSURE(pthread_once(&hash_mds_once, hash_mds_fetch) == 0, PAWL_E_CRYPTO,
	       "cannot initialise hash algorithms");
	ENSURE(hash_mds[alg], PAWL_E_CRYPTO, "OpenSSL provides no %s", hash_algs[alg].ossl);
	*ret = hash_mds[alg];
	return 0;
}

int hash_alg_from_name(const char *name, hash_alg *ret)
{
	ENSURE(name, PAWL_E_INVALID, "no hash algorithm name");
	for (size_t i = 0; i < ARRAY_SIZE(hash_algs); i++) {
		if (strcmp(name, hash_algs[i].name) == 0) {
			*ret = (hash_alg)i;
			return 0;
		}
	}
	return pawl_error_set(PAWL_E_UNSUPPORTED, "unsupported hash algorithm \"%.64s\"", name);
}

const char *hash_alg_name(hash_alg alg)
{
	return hash_alg_valid(alg) ? hash_algs[alg].name : "unknown";
}

size_t hash_alg_len(hash_alg alg)
{
	return hash_alg_valid(alg) ? hash_algs[alg].len : 0;
}

int hash_new(hash_ctx **ret, hash_alg alg)
{
	_cleanup_md_ctx_ EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md;
	hash_ctx *h;

	GUARD(hash_md(alg, &md));
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a digest context");
	GUARD_OSSL(EVP_DigestInit_ex2(ctx, md, NULL), "cannot start %s", hash_algs[alg].name);
	h = xcalloc(1, sizeof(*h));
	if (!h)
		return PAWL_E_NOMEM;
	h->ctx = TAKE_PTR(ctx);
	h->alg = alg;
	*ret = h;
	return 0;
}

int hash_update(hash_ctx *h, const void *p, size_t n)
{
	ENSURE(h && !h->finished, PAWL_E_INVALID, "hash context already finished");
	if (n == 0)
		return 0;
	GUARD_OSSL(EVP_DigestUpdate(h->ctx, p, n), "%s update failed", hash_algs[h->alg].name);
	return 0;
}

int hash_final(hash_ctx *h, uint8_t out[HASH_MAX_LEN])
{
	unsigned int len = 0;

	ENSURE(h && !h->finished, PAWL_E_INVALID, "hash context already finished");
	h->finished = true;
	GUARD_OSSL(EVP_DigestFinal_ex(h->ctx, out, &len), "%s final failed",
		   hash_algs[h->alg].name);
	ENSURE(len == hash_algs[h->alg].len, PAWL_E_CRYPTO, "%s produced %u bytes",
	       hash_algs[h->alg].name, len);
	return 0;
}

void hash_free(hash_ctx *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int hash_once(hash_alg alg, const void *p, size_t n, uint8_t out[HASH_MAX_LEN])
{
	static const uint8_t empty[1];
	const EVP_MD *md;
	unsigned int len = 0;

	GUARD(hash_md(alg, &md));
	GUARD_OSSL(EVP_Digest(n ? p : empty, n, out, &len, md, NULL), "%s failed",
		   hash_algs[alg].name);
	ENSURE(len == hash_algs[alg].len, PAWL_E_CRYPTO, "%s produced %u bytes",
	       hash_algs[alg].name, len);
	return 0;
}

bool digest_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* ---------------- hex ---------------- */

void hex_encode(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(uint8_t *out, size_t max, size_t *ret_len, const char *hex, size_t hexlen)
{
	size_t n = hexlen / 2;

	ENSURE(hexlen % 2 == 0, PAWL_E_FORMAT, "hex string of odd length %zu", hexlen);
	ENSURE(n <= max, PAWL_E_LIMIT, "hex string of %zu bytes exceeds %zu", n, max);
	/* Validate everything before writing anything: out is only written
	 * on success. */
	for (size_t i = 0; i < hexlen; i++)
		ENSURE(hex_value(hex[i]) >= 0, PAWL_E_FORMAT,
		       "invalid hex character at offset %zu", i);
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
	*ret_len = n;
	return 0;
}

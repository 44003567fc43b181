/*
 * test_crypto.c - hashes, hex, TUF keys, verification and signing.
 *
 * Every check in crypto/ has a test where it fails: forged messages and
 * signatures, the wrong key, scheme/curve mismatches, weak RSA, unknown
 * schemes, malformed keys and signatures, wrong passphrases, symlinked and
 * existing key files. Known answers come from FIPS 180 (hashes), RFC 8032
 * (ed25519), real Sigstore and tuf-on-ci root metadata (ECDSA P-256), and
 * vectors made with the openssl CLI (RSA-PSS, ECDSA P-384).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"
#include "crypto/crypto_impl.h" /* the signer vtable */
#include "json/json.h"
#include "pawl/common.h"
#include "testing.h"

/* ---------------- helpers ---------------- */

/* Every rejection must leave OpenSSL's error queue empty. */
#define assert_queue_empty() assert_int_equal(ERR_peek_error(), 0)

#define t_rejects(expr, code)                                                  \
	do {                                                                   \
		t_fails(expr, code);                                           \
		assert_queue_empty();                                          \
	} while (0)

static const char *data_path(const char *name)
{
	static char path[4096];
	const char *src = getenv("PAWL_SRCDIR");

	snprintf(path, sizeof(path), "%s/tests/data/crypto/%s", src ? src : ".", name);
	return path;
}

/* The bytes of a hex file under tests/data/crypto (malloc'd). */
static uint8_t *read_hex_file(const char *name, size_t *ret_len)
{
	size_t hexlen;
	char *hex = t_read_file(data_path(name), &hexlen);
	uint8_t *out = malloc(hexlen / 2 + 1);

	assert_non_null(out);
	while (hexlen > 0 && (hex[hexlen - 1] == '\n' || hex[hexlen - 1] == '\r'))
		hexlen--;
	t_ok(hex_decode(out, hexlen / 2 + 1, ret_len, hex, hexlen));
	free(hex);
	return out;
}

/* A TUF key object {"keytype","scheme","keyval":{"public"}} as the root
 * of a new document. */
static pj_doc *key_json(const char *keytype, const char *scheme, const char *public)
{
	pj_doc *doc = NULL;
	pj_value *root, *kv = NULL;

	t_ok(pj_doc_new(&doc));
	root = pj_root(doc);
	t_ok(pj_set_object(doc, root));
	t_ok(pj_obj_put_str(doc, root, "keytype", keytype));
	t_ok(pj_obj_put_str(doc, root, "scheme", scheme));
	t_ok(pj_obj_put(doc, root, "keyval", 6, &kv));
	t_ok(pj_set_object(doc, kv));
	t_ok(pj_obj_put_str(doc, kv, "public", public));
	return doc;
}

static int key_parse(pawl_key **ret, const char *keytype, const char *scheme, const char *public,
		     const char *keyid)
{
	pj_doc *doc = key_json(keytype, scheme, public);
	int r = key_from_json(ret, pj_root(doc), keyid);

	pj_doc_free(doc);
	return r;
}

/* PEM SPKI of pkey, as a malloc'd string. */
static char *pem_of(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL, *out;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	n = BIO_get_mem_data(bio, &p);
	assert_true(n > 0);
	out = strndup(p, (size_t)n);
	assert_non_null(out);
	BIO_free(bio);
	return out;
}

static EVP_PKEY *rsa_keygen(size_t bits)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

	assert_non_null(pkey);
	return pkey;
}

static EVP_PKEY *ec_keygen(const char *curve)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	assert_non_null(pkey);
	return pkey;
}

static const char msg[] = "{\"signed\":{\"_type\":\"targets\",\"version\":1}}";

/* ---------------- hashes ---------------- */

static void check_hash(hash_alg alg, const char *in, const char *want)
{
	uint8_t d[HASH_MAX_LEN];
	char hex[2 * HASH_MAX_LEN + 1];

	t_ok(hash_once(alg, in, strlen(in), d));
	hex_encode(hex, d, hash_alg_len(alg));
	assert_string_equal(hex, want);
}

static void test_hash_known_answers(void **state)
{
	(void)state;
	/* FIPS 180-2 examples. */
	check_hash(HASH_SHA256, "",
		   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hash(HASH_SHA256, "abc",
		   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_hash(HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_hash(HASH_SHA512, "",
		   "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
		   "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	check_hash(HASH_SHA512, "abc",
		   "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
		   "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

static void test_hash_streaming(void **state)
{
	static uint8_t data[300001];
	uint8_t one[HASH_MAX_LEN], streamed[HASH_MAX_LEN];
	hash_alg algs[] = { HASH_SHA256, HASH_SHA512 };

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
		hash_ctx *h = NULL;
		size_t off = 0, step = 1;

		t_ok(hash_once(algs[a], data, sizeof(data), one));
		t_ok(hash_new(&h, algs[a]));
		/* Uneven chunks, including empty updates. */
		while (off < sizeof(data)) {
			size_t n = step < sizeof(data) - off ? step : sizeof(data) - off;

			t_ok(hash_update(h, data + off, n));
			t_ok(hash_update(h, data, 0));
			off += n;
			step = step * 3 + 1;
		}
		t_ok(hash_final(h, streamed));
		assert_memory_equal(one, streamed, hash_alg_len(algs[a]));
		/* A finished context cannot be reused. */
		t_fails(hash_update(h, data, 1), PAWL_E_INVALID);
		t_fails(hash_final(h, streamed), PAWL_E_INVALID);
		hash_free(h);
	}
	hash_free(NULL);
}

static void test_hash_names(void **state)
{
	static const char *refused[] = { "sha1", "md5", "sha224", "sha384", "SHA256", "sha-256",
					 "sha256 ", "", "sha512/256", "blake2b" };
	hash_alg alg = HASH_SHA512;

	(void)state;
	t_ok(hash_alg_from_name("sha256", &alg));
	assert_int_equal(alg, HASH_SHA256);
	assert_string_equal(hash_alg_name(alg), "sha256");
	assert_int_equal(hash_alg_len(alg), 32);
	t_ok(hash_alg_from_name("sha512", &alg));
	assert_int_equal(alg, HASH_SHA512);
	assert_string_equal(hash_alg_name(alg), "sha512");
	assert_int_equal(hash_alg_len(alg), 64);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		alg = HASH_SHA512;
		t_fails(hash_alg_from_name(refused[i], &alg), PAWL_E_UNSUPPORTED);
		assert_int_equal(alg, HASH_SHA512); /* untouched */
	}
	t_fails(hash_alg_from_name("md5", &alg), PAWL_E_UNSUPPORTED);
	assert_non_null(strstr(pawl_error_last()->message, "md5"));
	t_fails(hash_new(&(hash_ctx *){ NULL }, (hash_alg)7), PAWL_E_INVALID);
	assert_int_equal(hash_alg_len((hash_alg)7), 0);
}

static void test_digest_equal(void **state)
{
	uint8_t a[HASH_MAX_LEN], b[HASH_MAX_LEN];

	(void)state;
	t_ok(hash_once(HASH_SHA256, "x", 1, a));
	memcpy(b, a, sizeof(b));
	assert_true(digest_equal(a, b, sizeof(a)));
	for (size_t i = 0; i < 32; i += 31) {
		b[i] ^= 0x01;
		assert_false(digest_equal(a, b, 32));
		b[i] ^= 0x01;
	}
	b[31] ^= 0x80;
	assert_false(digest_equal(a, b, 32));
	assert_true(digest_equal(a, b, 31));
}

/* ---------------- hex ---------------- */

static void test_hex(void **state)
{
	uint8_t bytes[256], out[256];
	char hex[513];
	size_t n = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)i;
	hex_encode(hex, bytes, sizeof(bytes));
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 506, "fdfeff");
	t_ok(hex_decode(out, sizeof(out), &n, hex, strlen(hex)));
	assert_int_equal(n, sizeof(bytes));
	assert_memory_equal(out, bytes, sizeof(bytes));

	t_ok(hex_decode(out, sizeof(out), &n, "DEADbeef", 8));
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	t_ok(hex_decode(out, 0, &n, "", 0));
	assert_int_equal(n, 0);
	hex_encode(hex, bytes, 0);
	assert_string_equal(hex, "");

	/* Rejections leave the outputs alone. */
	memset(out, 0x55, sizeof(out));
	n = 99;
	t_fails(hex_decode(out, sizeof(out), &n, "abc", 3), PAWL_E_FORMAT);
	t_fails(hex_decode(out, sizeof(out), &n, "0g", 2), PAWL_E_FORMAT);
	t_fails(hex_decode(out, sizeof(out), &n, "00 1", 4), PAWL_E_FORMAT);
	t_fails(hex_decode(out, sizeof(out), &n, "0x00", 4), PAWL_E_FORMAT);
	t_fails(hex_decode(out, sizeof(out), &n, "abcd\0ef", 6), PAWL_E_FORMAT);
	t_fails(hex_decode(out, sizeof(out), &n, "ab-1", 4), PAWL_E_FORMAT);
	t_fails(hex_decode(out, 1, &n, "abcd", 4), PAWL_E_LIMIT);
	assert_int_equal(n, 99);
	assert_int_equal(out[0], 0x55);
}

/* ---------------- keys: generate, sign, verify, forge ---------------- */

static void check_signer_roundtrip(const char *type, const char *keytype, const char *scheme)
{
	pawl_signer *s = NULL, *other = NULL;
	pawl_key *pub = NULL, *pub2 = NULL, *otherpub = NULL;
	uint8_t *sig = NULL, *sig2 = NULL;
	size_t siglen = 0, sig2len = 0;
	char id[65];
	char m[sizeof(msg)];
	pj_doc *doc = NULL;

	t_ok(signer_generate(&s, type));
	assert_string_equal(signer_kind(s), "file");
	t_ok(signer_public(s, &pub));
	assert_string_equal(key_type(pub), keytype);
	assert_string_equal(key_scheme(pub), scheme);
	assert_string_equal(key_id(pub), signer_keyid(s));
	assert_int_equal(strlen(key_id(pub)), 64);
	t_ok(key_compute_id(pub, id));
	assert_string_equal(id, key_id(pub));
	if (strcmp(keytype, "ed25519") == 0) {
		assert_int_equal(strlen(key_public(pub)), 64);
	} else {
		const char *p = key_public(pub);
		size_t n = strlen(p);

		assert_memory_equal(p, "-----BEGIN PUBLIC KEY-----\n", 27);
		assert_string_equal(p + n - 25, "-----END PUBLIC KEY-----\n");
		assert_null(strchr(p, '\r'));
	}

	/* key_to_json -> key_from_json: the same key, the same id. */
	t_ok(pj_doc_new(&doc));
	t_ok(key_to_json(pub, doc, pj_root(doc)));
	t_ok(key_from_json(&pub2, pj_root(doc), NULL));
	assert_string_equal(key_id(pub2), key_id(pub));
	assert_string_equal(key_public(pub2), key_public(pub));
	assert_true(key_same_material(pub, pub2));
	pj_doc_free(doc);

	t_ok(signer_sign(s, msg, strlen(msg), &sig, &siglen));
	if (strcmp(keytype, "ed25519") == 0)
		assert_int_equal(siglen, 64);
	t_ok(key_verify(pub, msg, strlen(msg), sig, siglen));
	t_ok(key_verify(pub2, msg, strlen(msg), sig, siglen));
	assert_queue_empty();

	/* An empty message signs and verifies too. */
	t_ok(signer_sign(s, "", 0, &sig2, &sig2len));
	t_ok(key_verify(pub, NULL, 0, sig2, sig2len));
	t_rejects(key_verify(pub, msg, strlen(msg), sig2, sig2len), PAWL_E_SIGNATURE);
	free(sig2);
	sig2 = NULL;

	/* Any changed message byte. */
	memcpy(m, msg, sizeof(m));
	for (size_t i = 0; i < strlen(msg); i += 7) {
		m[i] ^= 0x01;
		t_rejects(key_verify(pub, m, strlen(msg), sig, siglen), PAWL_E_SIGNATURE);
		m[i] ^= 0x01;
	}
	t_rejects(key_verify(pub, msg, strlen(msg) - 1, sig, siglen), PAWL_E_SIGNATURE);
	t_rejects(key_verify(pub, msg, strlen(msg) + 1, sig, siglen), PAWL_E_SIGNATURE);

	/* Any changed signature byte (for DER: malformed or wrong). */
	for (size_t i = 0; i < siglen; i++) {
		sig[i] ^= 0x40;
		t_rejects(key_verify(pub, msg, strlen(msg), sig, siglen), PAWL_E_SIGNATURE);
		sig[i] ^= 0x40;
	}
	/* Truncated, extended, empty, garbage. */
	t_rejects(key_verify(pub, msg, strlen(msg), sig, siglen - 1), PAWL_E_SIGNATURE);
	t_rejects(key_verify(pub, msg, strlen(msg), sig, 1), PAWL_E_SIGNATURE);
	t_rejects(key_verify(pub, msg, strlen(msg), sig, 0), PAWL_E_SIGNATURE);
	t_rejects(key_verify(pub, msg, strlen(msg), NULL, 0), PAWL_E_SIGNATURE);
	sig2 = malloc(siglen + 1);
	assert_non_null(sig2);
	memcpy(sig2, sig, siglen);
	sig2[siglen] = 0;
	t_rejects(key_verify(pub, msg, strlen(msg), sig2, siglen + 1), PAWL_E_SIGNATURE);
	memset(sig2, 0, siglen);
	t_rejects(key_verify(pub, msg, strlen(msg), sig2, siglen), PAWL_E_SIGNATURE);
	memset(sig2, 0xff, siglen);
	t_rejects(key_verify(pub, msg, strlen(msg), sig2, siglen), PAWL_E_SIGNATURE);
	free(sig2);

	/* Another key of the same type. */
	t_ok(signer_generate(&other, type));
	t_ok(signer_public(other, &otherpub));
	assert_string_not_equal(key_id(otherpub), key_id(pub));
	assert_false(key_same_material(pub, otherpub));
	t_rejects(key_verify(otherpub, msg, strlen(msg), sig, siglen), PAWL_E_SIGNATURE);

	free(sig);
	key_free(pub);
	key_free(pub2);
	key_free(otherpub);
	signer_free(s);
	signer_free(other);
}

static void test_ed25519(void **state)
{
	(void)state;
	check_signer_roundtrip("ed25519", "ed25519", "ed25519");
}

static void test_ecdsa_p256(void **state)
{
	(void)state;
	check_signer_roundtrip("ecdsa-p256", "ecdsa", "ecdsa-sha2-nistp256");
}

static void test_ecdsa_p384(void **state)
{
	(void)state;
	check_signer_roundtrip("ecdsa-p384", "ecdsa", "ecdsa-sha2-nistp384");
}

static void test_rsa_3072(void **state)
{
	(void)state;
	check_signer_roundtrip("rsa-3072", "rsa", "rsassa-pss-sha256");
}

static void test_generate_types(void **state)
{
	pawl_signer *s = NULL;
	pawl_key *pub = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;

	(void)state;
	t_ok(signer_generate(&s, "rsa-4096"));
	t_ok(signer_sign(s, msg, strlen(msg), &sig, &siglen));
	assert_int_equal(siglen, 512);
	t_ok(signer_public(s, &pub));
	t_ok(key_verify(pub, msg, strlen(msg), sig, siglen));
	free(sig);
	key_free(pub);
	signer_free(s);
	signer_free(NULL);
	key_free(NULL);

	s = NULL;
	t_rejects(signer_generate(&s, "rsa-2048"), PAWL_E_UNSUPPORTED);
	t_rejects(signer_generate(&s, "rsa-1024"), PAWL_E_UNSUPPORTED);
	t_rejects(signer_generate(&s, "ecdsa-p521"), PAWL_E_UNSUPPORTED);
	t_rejects(signer_generate(&s, "dsa"), PAWL_E_UNSUPPORTED);
	t_rejects(signer_generate(&s, "ED25519"), PAWL_E_UNSUPPORTED);
	t_rejects(signer_generate(&s, ""), PAWL_E_UNSUPPORTED);
	assert_null(s);
}

/* ---------------- keys: what key_from_json refuses ---------------- */

static void test_key_scheme_mismatch(void **state)
{
	EVP_PKEY *p256 = ec_keygen("P-256"), *p384 = ec_keygen("P-384"),
		 *k1 = ec_keygen("secp256k1"), *p521 = ec_keygen("P-521"), *rsa = rsa_keygen(2048);
	char *pem256 = pem_of(p256), *pem384 = pem_of(p384), *pemk1 = pem_of(k1),
	     *pem521 = pem_of(p521), *pemrsa = pem_of(rsa);
	pawl_key *k = NULL;

	(void)state;
	/* The right pairs load. */
	t_ok(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", pem256, "a"));
	assert_string_equal(key_id(k), "a");
	key_free(k);
	t_ok(key_parse(&k, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", pem256, NULL));
	key_free(k);
	t_ok(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp384", pem384, NULL));
	key_free(k);
	t_ok(key_parse(&k, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", pem384, NULL));
	key_free(k);
	t_ok(key_parse(&k, "rsa", "rsassa-pss-sha256", pemrsa, NULL));
	key_free(k);
	k = NULL;

	/* The curve must be the scheme's. */
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", pem384, "a"), PAWL_E_KEY);
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp384", pem256, "a"), PAWL_E_KEY);
	t_rejects(key_parse(&k, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", pem384, "a"),
		  PAWL_E_KEY);
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", pemk1, "a"), PAWL_E_KEY);
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp384", pem521, "a"), PAWL_E_KEY);
	/* The algorithm must be the scheme's. */
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", pemrsa, "a"), PAWL_E_KEY);
	t_rejects(key_parse(&k, "rsa", "rsassa-pss-sha256", pem256, "a"), PAWL_E_KEY);
	t_rejects(key_parse(&k, "ed25519", "ed25519", pem256, "a"), PAWL_E_KEY);
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256",
			    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "a"),
		  PAWL_E_KEY);
	/* keytype and scheme must agree. */
	t_rejects(key_parse(&k, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", pem384, "a"),
		  PAWL_E_UNSUPPORTED);
	t_rejects(key_parse(&k, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp256", pem256, "a"),
		  PAWL_E_UNSUPPORTED);
	t_rejects(key_parse(&k, "rsa", "ecdsa-sha2-nistp256", pem256, "a"), PAWL_E_UNSUPPORTED);
	t_rejects(key_parse(&k, "ed25519", "ecdsa-sha2-nistp256", pem256, "a"), PAWL_E_UNSUPPORTED);
	assert_null(k);

	free(pem256);
	free(pem384);
	free(pemk1);
	free(pem521);
	free(pemrsa);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(rsa);
}

static void test_key_unknown_schemes(void **state)
{
	static const char *pairs[][2] = {
		{ "rsa", "rsassa-pss-sha1" },
		{ "rsa", "rsassa-pss-sha384" },
		{ "rsa", "rsassa-pss-sha512" },
		{ "rsa", "rsa-pkcs1v15-sha256" },
		{ "rsa", "rsa-pkcs1v15-sha1" },
		{ "rsa", "RSASSA-PSS-SHA256" },
		{ "RSA", "rsassa-pss-sha256" },
		{ "ecdsa", "ecdsa-sha2-nistp521" },
		{ "ecdsa", "ecdsa-sha2-nistp256k1" },
		{ "ecdsa", "ecdsa" },
		{ "ed448", "ed448" },
		{ "ED25519", "ed25519" },
		{ "ed25519", "ed25519ph" },
		{ "sphincs", "sphincs-shake-128s" },
		{ "", "" },
	};
	EVP_PKEY *rsa = rsa_keygen(2048);
	char *pem = pem_of(rsa);
	pawl_key *k = NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		t_rejects(key_parse(&k, pairs[i][0], pairs[i][1], pem, "kid"), PAWL_E_UNSUPPORTED);
		assert_non_null(strstr(pawl_error_last()->message, pairs[i][1]));
	}
	assert_null(k);
	free(pem);
	EVP_PKEY_free(rsa);
}

/* An RSA public key with modulus n (from a real key) and exponent e, which
 * no key generator would make. */
static char *rsa_pem_with_e(EVP_PKEY *real, unsigned long e)
{
	BIGNUM *n = NULL, *be = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;
	char *pem;

	assert_int_equal(EVP_PKEY_get_bn_param(real, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(BN_set_word(be, e), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
	pem = pem_of(pkey);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(be);
	return pem;
}

static void test_key_weak_rsa(void **state)
{
	EVP_PKEY *r1024 = rsa_keygen(1024), *r2047 = rsa_keygen(2047), *r2048 = rsa_keygen(2048);
	char *pem1024 = pem_of(r1024), *pem2047 = pem_of(r2047), *pem;
	pawl_key *k = NULL;

	(void)state;
	t_rejects(key_parse(&k, "rsa", "rsassa-pss-sha256", pem1024, "weak"), PAWL_E_POLICY);
	assert_non_null(strstr(pawl_error_last()->message, "1024"));
	assert_non_null(strstr(pawl_error_last()->message, "weak"));
	t_rejects(key_parse(&k, "rsa", "rsassa-pss-sha256", pem2047, "weak"), PAWL_E_POLICY);
	assert_non_null(strstr(pawl_error_last()->message, "2047"));

	/* A 2048-bit modulus with a sane exponent loads; e = 1 (anyone can
	 * forge) and an even e are refused. */
	pem = rsa_pem_with_e(r2048, 65537);
	t_ok(key_parse(&k, "rsa", "rsassa-pss-sha256", pem, "ok"));
	key_free(k);
	k = NULL;
	free(pem);
	pem = rsa_pem_with_e(r2048, 1);
	t_rejects(key_parse(&k, "rsa", "rsassa-pss-sha256", pem, "e1"), PAWL_E_POLICY);
	free(pem);
	pem = rsa_pem_with_e(r2048, 65536);
	t_rejects(key_parse(&k, "rsa", "rsassa-pss-sha256", pem, "even"), PAWL_E_POLICY);
	free(pem);
	assert_null(k);

	free(pem1024);
	free(pem2047);
	EVP_PKEY_free(r1024);
	EVP_PKEY_free(r2047);
	EVP_PKEY_free(r2048);
}

static void test_key_malformed(void **state)
{
	/* Multi-line entries are parenthesised: one string each. */
	static const char *bad_ed25519[] = {
		"",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f70751",     /* 62 */
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a00", /* 66 */
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511g",   /* not hex */
		" 75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		("-----BEGIN PUBLIC KEY-----\n"
		 "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
		 "-----END PUBLIC KEY-----\n"),
	};
	static const char *bad_pem[] = {
		"",
		"not a key",
		"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
		/* truncated DER */
		("-----BEGIN PUBLIC KEY-----\n"
		 "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWRiGr5+j+3J5SsH+Ztr5nE2H2wO7\n"
		 "-----END PUBLIC KEY-----\n"),
		/* one bit of x changed: the point is not on the curve */
		("-----BEGIN PUBLIC KEY-----\n"
		 "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWRiGr5+j+3J5SsH+Ztr5nE2H2wO7\n"
		 "BV+nO3s94gLca18qTOzHY1oWyAGDykMSsGTUBSt9D+An0KfKsD2mfSM42Q==\n"
		 "-----END PUBLIC KEY-----\n"),
		/* An "encrypted" PEM header must not make OpenSSL prompt. */
		("-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n"
		 "DEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n"
		 "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWRiGr5+j+3J5SsH+Ztr5nE2H2wO7\n"
		 "-----END PUBLIC KEY-----\n"),
		/* Sigstore's pre-v5 hex point form: not PEM, refused. */
		("04cbc5cab2684160323c25cd06c3307178a6b1d1c9b949328453ae473c5ba7527e35b13f298b41633382"
		 "241f3fd8526c262d43b45adee5c618fa0642c82b8a9803"),
	};
	pawl_key *k = NULL;
	pj_doc *doc = NULL;
	pj_value *root, *v = NULL;
	char *big;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_ed25519); i++)
		t_rejects(key_parse(&k, "ed25519", "ed25519", bad_ed25519[i], "e"), PAWL_E_KEY);
	for (size_t i = 0; i < ARRAY_SIZE(bad_pem); i++)
		t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", bad_pem[i], "p"), PAWL_E_KEY);
	/* Upper-case hex is still hex. */
	t_ok(key_parse(&k, "ed25519", "ed25519",
		       "D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A", NULL));
	key_free(k);
	k = NULL;

	/* Oversized keyval.public. */
	big = malloc(20000);
	assert_non_null(big);
	memset(big, 'A', 19999);
	big[19999] = '\0';
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", big, "big"), PAWL_E_LIMIT);
	/* Oversized key id. */
	big[1500] = '\0';
	t_rejects(key_parse(&k, "ed25519", "ed25519",
			    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", big),
		  PAWL_E_LIMIT);
	free(big);

	/* Structure. */
	t_ok(pj_doc_new(&doc));
	root = pj_root(doc);
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* null */
	t_ok(pj_set_object(doc, root));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* {} */
	t_ok(pj_obj_put_str(doc, root, "keytype", "ed25519"));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* no scheme */
	t_ok(pj_obj_put_int(doc, root, "scheme", 1));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* scheme not a string */
	t_ok(pj_obj_put_str(doc, root, "scheme", "ed25519"));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* no keyval */
	t_ok(pj_obj_put_str(doc, root, "keyval",
			    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* keyval a string */
	t_ok(pj_obj_put(doc, root, "keyval", 6, &v));
	t_ok(pj_set_object(doc, v));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* no keyval.public */
	t_ok(pj_obj_put_int(doc, v, "public", 7));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT); /* public not a string */
	t_ok(pj_obj_put_str(doc, v, "public",
			    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
	/* A keytype with an embedded NUL is not "ed25519". */
	v = pj_get_mut(root, "keytype");
	t_ok(pj_set_string(doc, v, "ed25519\0x", 9));
	t_rejects(key_from_json(&k, root, "s"), PAWL_E_FORMAT);
	t_ok(pj_set_cstr(doc, v, "ed25519"));
	/* Extra fields are fine. */
	t_ok(pj_obj_put_str(doc, root, "x-custom", "ignored"));
	t_ok(key_from_json(&k, root, "s"));
	assert_string_equal(key_id(k), "s");
	key_free(k);
	k = NULL;
	t_rejects(key_from_json(&k, NULL, "s"), PAWL_E_FORMAT);
	assert_null(k);
	pj_doc_free(doc);
}

static void test_key_explicit_curve(void **state)
{
	EVP_PKEY *p256 = ec_keygen("P-256");
	pawl_key *k = NULL;
	char *pem;

	(void)state;
	assert_int_equal(EVP_PKEY_set_utf8_string_param(p256, OSSL_PKEY_PARAM_EC_ENCODING,
							OSSL_PKEY_EC_ENCODING_EXPLICIT),
			 1);
	pem = pem_of(p256);
	t_rejects(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp256", pem, "explicit"), PAWL_E_POLICY);
	assert_null(k);
	free(pem);
	EVP_PKEY_free(p256);
}

/* One key listed twice, with the point compressed and uncompressed: two
 * PEM strings, two key ids, one key. A threshold must count it once. */
static void test_key_same_material(void **state)
{
	EVP_PKEY *p256 = ec_keygen("P-256");
	char *pem_u = pem_of(p256), *pem_c;
	pawl_key *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	pawl_signer *s = NULL;

	(void)state;
	assert_int_equal(EVP_PKEY_set_utf8_string_param(p256,
							OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
							OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
			 1);
	pem_c = pem_of(p256);
	assert_string_not_equal(pem_u, pem_c);
	t_ok(key_parse(&a, "ecdsa", "ecdsa-sha2-nistp256", pem_u, NULL));
	t_ok(key_parse(&b, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", pem_c, NULL));
	t_ok(key_parse(&c, "ecdsa", "ecdsa-sha2-nistp256", pem_u, "another-id"));
	assert_string_not_equal(key_id(a), key_id(b));
	assert_true(key_same_material(a, b));
	assert_true(key_same_material(a, c));
	assert_true(key_same_material(b, a));

	t_ok(signer_generate(&s, "ecdsa-p256"));
	t_ok(signer_public(s, &d));
	assert_false(key_same_material(a, d));
	t_ok(signer_sign(s, msg, strlen(msg), &sig, &siglen));
	t_rejects(key_verify(a, msg, strlen(msg), sig, siglen), PAWL_E_SIGNATURE);
	signer_free(s);
	s = NULL;
	free(sig);

	t_ok(key_parse(&e, "ed25519", "ed25519",
		       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", NULL));
	assert_false(key_same_material(a, e));
	assert_false(key_same_material(e, a));
	assert_true(key_same_material(e, e));
	assert_false(key_same_material(NULL, e));
	assert_queue_empty();

	key_free(a);
	key_free(b);
	key_free(c);
	key_free(d);
	key_free(e);
	free(pem_u);
	free(pem_c);
	EVP_PKEY_free(p256);
}

/* ---------------- known answers and interop ---------------- */

static void test_ed25519_rfc8032(void **state)
{
	/* RFC 8032 section 7.1, TESTs 1-3. */
	static const struct {
		const char *pub, *msg, *sig;
	} v[] = {
		{ "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
		  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
		{ "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
		  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
		{ "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
		  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
		  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
	};
	pawl_key *k = NULL;
	uint8_t m[8] = { 0 }, sig[64];
	size_t mlen, siglen;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		t_ok(key_parse(&k, "ed25519", "ed25519", v[i].pub, NULL));
		t_ok(hex_decode(m, sizeof(m), &mlen, v[i].msg, strlen(v[i].msg)));
		t_ok(hex_decode(sig, sizeof(sig), &siglen, v[i].sig, strlen(v[i].sig)));
		t_ok(key_verify(k, m, mlen, sig, siglen));
		sig[i * 20] ^= 0x01;
		t_rejects(key_verify(k, m, mlen, sig, siglen), PAWL_E_SIGNATURE);
		sig[i * 20] ^= 0x01;
		m[0] ^= 0x01;
		t_rejects(key_verify(k, m, mlen ? mlen : 1, sig, siglen), PAWL_E_SIGNATURE);
		key_free(k);
		k = NULL;
	}

	/* The key id is SHA-256 over the canonical key object, as
	 * securesystemslib computes it (python: json.dumps(sort_keys=True,
	 * separators=(",", ":"))). */
	t_ok(key_parse(&k, "ed25519", "ed25519", v[0].pub, NULL));
	assert_string_equal(key_id(k),
			    "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916");
	key_free(k);
}

/* Verify every non-empty signature in a root file by a root key over the
 * canonical form of "signed", then forge one byte of it. Returns how many
 * verified. */
static size_t check_root_vector(const char *rel)
{
	size_t len, verified = 0;
	char *text = t_read_file(t_vector(rel), &len);
	pj_doc *doc = NULL;
	const pj_value *root, *signed_, *keys, *rootkeyids, *sigs;
	pawl_buf canon = PAWL_BUF_INIT(1u << 24);

	t_ok(pj_parse_copy(&doc, text, len, NULL));
	root = pj_root(doc);
	signed_ = pj_get(root, "signed");
	keys = pj_get(signed_, "keys");
	rootkeyids = pj_get(pj_get(pj_get(signed_, "roles"), "root"), "keyids");
	sigs = pj_get(root, "signatures");
	assert_true(pj_is_object(keys));
	assert_true(pj_is_array(rootkeyids));
	assert_true(pj_is_array(sigs));
	t_ok(pj_canonical(&canon, signed_));

	for (uint32_t i = 0; i < sigs->len; i++) {
		const pj_value *s = &sigs->u.items[i];
		const char *keyid = pj_str(pj_get(s, "keyid"));
		const char *sighex = pj_str(pj_get(s, "sig"));
		bool is_root_key = false;
		pawl_key *k = NULL;
		uint8_t sig[512];
		size_t siglen;

		assert_non_null(keyid);
		assert_non_null(sighex);
		if (!keyid || !sighex || sighex[0] == '\0')
			continue; /* an absent keyholder */
		for (uint32_t j = 0; j < rootkeyids->len; j++) {
			const char *rk = pj_str(&rootkeyids->u.items[j]);

			assert_non_null(rk);
			if (rk && strcmp(rk, keyid) == 0)
				is_root_key = true;
		}
		if (!is_root_key)
			continue;
		t_ok(key_from_json(&k, pj_get(keys, keyid), keyid));
		assert_string_equal(key_id(k), keyid);
		t_ok(hex_decode(sig, sizeof(sig), &siglen, sighex, strlen(sighex)));
		t_ok(key_verify(k, canon.data, canon.len, sig, siglen));
		verified++;

		/* One changed byte of the signed content, anywhere. */
		for (size_t off = 0; off < canon.len; off += canon.len / 5 + 1) {
			canon.data[off] ^= 0x01;
			t_rejects(key_verify(k, canon.data, canon.len, sig, siglen),
				  PAWL_E_SIGNATURE);
			canon.data[off] ^= 0x01;
		}
		/* And the non-canonical (as published) bytes do not verify. */
		t_rejects(key_verify(k, text, len, sig, siglen), PAWL_E_SIGNATURE);
		key_free(k);
	}
	buf_free(&canon);
	pj_doc_free(doc);
	free(text);
	return verified;
}

static void test_interop_sigstore_ecdsa(void **state)
{
	(void)state;
	/* 3-of-5 root; two keyholders left their signatures empty. */
	assert_int_equal(check_root_vector("sigstore-root-signing/metadata/12.root.json"), 3);
}

static void test_interop_tuf_on_ci_ecdsa(void **state)
{
	(void)state;
	/* tuf-on-ci 0.11 has ECDSA P-256 keys only (no ed25519). */
	assert_int_equal(check_root_vector("tuf-on-ci-0.11/metadata/1.root.json"), 1);
}

static void test_interop_rsa_pss(void **state)
{
	static const char *accepted[] = { "rsa2048.pss-salt32.sig.hex", "rsa2048.pss-saltmax.sig.hex",
					  "rsa2048.pss-salt0.sig.hex" };
	static const char *refused[] = { "rsa2048.pkcs1v15.sig.hex",
					 "rsa2048.pss-mgf1sha1.sig.hex" };
	size_t mlen, siglen;
	char *m = t_read_file(data_path("message.bin"), &mlen);
	char *pem = t_read_file(data_path("rsa2048.pub.pem"), NULL);
	pawl_key *k = NULL;
	uint8_t *sig;

	(void)state;
	t_ok(key_parse(&k, "rsa", "rsassa-pss-sha256", pem, NULL));
	for (size_t i = 0; i < ARRAY_SIZE(accepted); i++) {
		sig = read_hex_file(accepted[i], &siglen);
		assert_int_equal(siglen, 256);
		t_ok(key_verify(k, m, mlen, sig, siglen));
		m[mlen / 2] ^= 0x20;
		t_rejects(key_verify(k, m, mlen, sig, siglen), PAWL_E_SIGNATURE);
		m[mlen / 2] ^= 0x20;
		free(sig);
	}
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		sig = read_hex_file(refused[i], &siglen);
		t_rejects(key_verify(k, m, mlen, sig, siglen), PAWL_E_SIGNATURE);
		free(sig);
	}
	/* A leading zero byte added or dropped is not the same signature. */
	sig = read_hex_file(accepted[0], &siglen);
	t_rejects(key_verify(k, m, mlen, sig + 1, siglen - 1), PAWL_E_SIGNATURE);
	free(sig);
	key_free(k);
	free(pem);
	free(m);
}

static void test_interop_ecdsa_p384(void **state)
{
	size_t mlen, siglen;
	char *m = t_read_file(data_path("message.bin"), &mlen);
	char *pem = t_read_file(data_path("p384.pub.pem"), NULL);
	pawl_key *k = NULL;
	uint8_t *sig;

	(void)state;
	t_ok(key_parse(&k, "ecdsa", "ecdsa-sha2-nistp384", pem, NULL));
	sig = read_hex_file("p384.sha384.sig.hex", &siglen);
	t_ok(key_verify(k, m, mlen, sig, siglen));
	m[0] ^= 0x01;
	t_rejects(key_verify(k, m, mlen, sig, siglen), PAWL_E_SIGNATURE);
	m[0] ^= 0x01;
	free(sig);
	/* The same key over SHA-256 is not the nistp384 scheme. */
	sig = read_hex_file("p384.sha256.sig.hex", &siglen);
	t_rejects(key_verify(k, m, mlen, sig, siglen), PAWL_E_SIGNATURE);
	free(sig);
	key_free(k);
	free(pem);
	free(m);
}

/* OpenSSL alone accepts an RSA signature with its leading zero byte
 * stripped; Go's crypto/rsa does not, and neither do we (one signature,
 * one encoding). Sign until a signature starts with 0x00 (1 in 256). */
static void test_rsa_signature_length(void **state)
{
	EVP_PKEY *rsa = rsa_keygen(2048);
	char *pem = pem_of(rsa);
	pawl_key *k = NULL;
	uint8_t sig[256];
	size_t siglen = 0;
	int tries;

	(void)state;
	t_ok(key_parse(&k, "rsa", "rsassa-pss-sha256", pem, NULL));
	for (tries = 0; tries < 5000; tries++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;

		assert_non_null(ctx);
		assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, rsa), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
		siglen = sizeof(sig);
		assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)msg,
						strlen(msg)),
				 1);
		EVP_MD_CTX_free(ctx);
		assert_int_equal(siglen, 256);
		if (sig[0] == 0)
			break;
	}
	assert_true(tries < 5000);
	t_ok(key_verify(k, msg, strlen(msg), sig, siglen));
	t_rejects(key_verify(k, msg, strlen(msg), sig + 1, siglen - 1), PAWL_E_SIGNATURE);
	key_free(k);
	free(pem);
	EVP_PKEY_free(rsa);
}

/* ---------------- key files ---------------- */

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void check_same_signer(const pawl_signer *a, const pawl_signer *b)
{
	pawl_key *pa = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;

	assert_string_equal(signer_keyid(a), signer_keyid(b));
	t_ok(signer_public(a, &pa));
	t_ok(signer_sign(b, msg, strlen(msg), &sig, &siglen));
	t_ok(key_verify(pa, msg, strlen(msg), sig, siglen));
	free(sig);
	key_free(pa);
}

static void test_save_load(void **state)
{
	static const char *types[] = { "ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-3072" };
	char *dir = t_mkdtemp();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		pawl_signer *s = NULL, *l = NULL;
		pawl_key *pk = NULL;
		char *plain = path_in(dir, "plain.pem"), *enc = path_in(dir, "enc.pem"),
		     *pub = path_in(dir, "pub.pem");
		struct stat st;
		char *text;

		t_ok(signer_generate(&s, types[i]));

		t_ok(signer_save_file(s, plain, NULL));
		assert_int_equal(stat(plain, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		text = t_read_file(plain, NULL);
		assert_memory_equal(text, "-----BEGIN PRIVATE KEY-----\n", 28);
		free(text);
		t_ok(signer_load_file(&l, plain, NULL));
		check_same_signer(s, l);
		signer_free(l);
		l = NULL;
		/* A passphrase for an unencrypted key is not needed, not harmful. */
		t_ok(signer_load_file(&l, plain, "unused"));
		signer_free(l);
		l = NULL;

		t_ok(signer_save_file(s, enc, "correct horse"));
		assert_int_equal(stat(enc, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		text = t_read_file(enc, NULL);
		assert_memory_equal(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n", 38);
		free(text);
		t_ok(signer_load_file(&l, enc, "correct horse"));
		check_same_signer(s, l);
		signer_free(l);
		l = NULL;
		t_rejects(signer_load_file(&l, enc, "wrong horse"), PAWL_E_KEY);
		assert_non_null(strstr(pawl_error_last()->message, "passphrase"));
		t_rejects(signer_load_file(&l, enc, ""), PAWL_E_KEY);
		t_rejects(signer_load_file(&l, enc, NULL), PAWL_E_KEY);
		assert_non_null(strstr(pawl_error_last()->message, "key is encrypted; give a passphrase"));
		assert_null(l);

		/* Never overwrite. */
		t_rejects(signer_save_file(s, enc, NULL), PAWL_E_IO);
		assert_non_null(strstr(pawl_error_last()->message, "exists"));
		t_rejects(signer_save_file(s, plain, "x"), PAWL_E_IO);
		t_ok(signer_load_file(&l, enc, "correct horse")); /* untouched */
		signer_free(l);
		l = NULL;

		/* The public half, from a PEM file and from the private files. */
		t_ok(signer_save_public_file(s, pub));
		assert_int_equal(stat(pub, &st), 0);
		assert_int_equal(st.st_mode & 0777 & ~0644, 0);
		t_rejects(signer_save_public_file(s, pub), PAWL_E_IO);
		t_ok(key_load_public_file(&pk, pub, NULL));
		assert_string_equal(key_id(pk), signer_keyid(s));
		key_free(pk);
		t_ok(key_load_public_file(&pk, plain, NULL));
		assert_string_equal(key_id(pk), signer_keyid(s));
		key_free(pk);
		t_ok(key_load_public_file(&pk, enc, "correct horse"));
		assert_string_equal(key_id(pk), signer_keyid(s));
		key_free(pk);
		pk = NULL;
		t_rejects(key_load_public_file(&pk, enc, NULL), PAWL_E_KEY);
		assert_null(pk);

		unlink(plain);
		unlink(enc);
		unlink(pub);
		free(plain);
		free(enc);
		free(pub);
		signer_free(s);
	}
	t_rm_rf(dir);
	free(dir);
}

static void test_load_refusals(void **state)
{
	char *dir = t_mkdtemp();
	char *key = path_in(dir, "key.pem"), *link = path_in(dir, "link.pem"),
	     *missing = path_in(dir, "missing.pem"), *big = path_in(dir, "big.pem"),
	     *junk = path_in(dir, "junk.pem"), *weak = path_in(dir, "weak.pem"),
	     *p521 = path_in(dir, "p521.pem"), *pubonly = path_in(dir, "pub.pem"),
	     *nodir = path_in(dir, "no/such/dir/key.pem"), *fifo = path_in(dir, "fifo");
	pawl_signer *s = NULL, *l = NULL;
	pawl_key *pk = NULL;
	EVP_PKEY *pkey;
	char *filler;
	BIO *bio;
	FILE *f;

	(void)state;
	t_ok(signer_generate(&s, "ed25519"));
	t_ok(signer_save_file(s, key, NULL));

	/* A symlink to a perfectly good key is refused. */
	assert_int_equal(symlink(key, link), 0);
	t_rejects(signer_load_file(&l, link, NULL), PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "symbolic link"));
	t_rejects(key_load_public_file(&pk, link, NULL), PAWL_E_IO);
	/* Nor is saving through one, even to a dangling target. */
	unlink(link);
	assert_int_equal(symlink(missing, link), 0);
	t_rejects(signer_save_file(s, link, NULL), PAWL_E_IO);
	assert_int_equal(access(missing, F_OK), -1);

	t_rejects(signer_load_file(&l, missing, NULL), PAWL_E_NOT_FOUND);
	t_rejects(signer_load_file(&l, dir, NULL), PAWL_E_IO); /* a directory */
	t_rejects(signer_load_file(&l, "/dev/null", NULL), PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "not a regular file"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	t_rejects(signer_load_file(&l, fifo, NULL), PAWL_E_IO); /* and does not hang */
	t_rejects(signer_save_file(s, nodir, NULL), PAWL_E_IO);

	filler = malloc(70000);
	assert_non_null(filler);
	memset(filler, '\n', 70000);
	t_write_file(big, filler, 70000);
	free(filler);
	t_rejects(signer_load_file(&l, big, NULL), PAWL_E_LIMIT);
	t_write_file(junk, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58);
	t_rejects(signer_load_file(&l, junk, NULL), PAWL_E_KEY);
	t_rejects(signer_load_file(&l, junk, "pass"), PAWL_E_KEY);

	/* Weak and unsupported private keys are refused on load too. */
	pkey = rsa_keygen(1024);
	f = fopen(weak, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(pkey);
	t_rejects(signer_load_file(&l, weak, NULL), PAWL_E_POLICY);
	t_rejects(key_load_public_file(&pk, weak, NULL), PAWL_E_POLICY);
	pkey = ec_keygen("P-521");
	f = fopen(p521, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	/* A public key file is not a private key. */
	bio = BIO_new_file(pubonly, "w");
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	t_rejects(signer_load_file(&l, p521, NULL), PAWL_E_UNSUPPORTED);
	t_rejects(signer_load_file(&l, pubonly, NULL), PAWL_E_KEY);
	t_rejects(key_load_public_file(&pk, pubonly, NULL), PAWL_E_UNSUPPORTED);
	assert_null(l);
	assert_null(pk);

	signer_free(s);
	free(key);
	free(link);
	free(missing);
	free(big);
	free(junk);
	free(weak);
	free(p521);
	free(pubonly);
	free(nodir);
	free(fifo);
	t_rm_rf(dir);
	free(dir);
}

/* The signer vtable: a token-like signer whose private key does not match
 * its public key never gets a signature out of signer_sign(). */
static int fake_sign(const pawl_signer *s, const void *m, size_t len, uint8_t **ret,
		     size_t *ret_len)
{
	(void)s;
	(void)m;
	(void)len;
	*ret = calloc(1, 64);
	assert_non_null(*ret);
	*ret_len = 64;
	return 0;
}

static int fake_freed;

static void fake_free(pawl_signer *s)
{
	fake_freed++;
	s->impl = NULL;
}

static const signer_ops fake_ops = { .kind = "fake", .sign = fake_sign, .free = fake_free };

static void test_signer_vtable(void **state)
{
	pawl_signer *s = calloc(1, sizeof(*s));
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *dir = t_mkdtemp(), *path = path_in(dir, "k.pem");

	(void)state;
	assert_non_null(s);
	s->ops = &fake_ops;
	t_ok(key_parse(&s->pub, "ed25519", "ed25519",
		       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", NULL));
	assert_string_equal(signer_kind(s), "fake");
	assert_string_equal(signer_keyid(s), key_id(s->pub));
	t_rejects(signer_sign(s, msg, strlen(msg), &sig, &siglen), PAWL_E_KEY);
	assert_non_null(strstr(pawl_error_last()->message, "self-check"));
	assert_null(sig);
	t_rejects(signer_save_file(s, path, NULL), PAWL_E_UNSUPPORTED);
	assert_int_equal(access(path, F_OK), -1);
	signer_free(s);
	assert_int_equal(fake_freed, 1);
	t_rm_rf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_known_answers),
		cmocka_unit_test(test_hash_streaming),
		cmocka_unit_test(test_hash_names),
		cmocka_unit_test(test_digest_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_ecdsa_p256),
		cmocka_unit_test(test_ecdsa_p384),
		cmocka_unit_test(test_rsa_3072),
		cmocka_unit_test(test_generate_types),
		cmocka_unit_test(test_key_scheme_mismatch),
		cmocka_unit_test(test_key_unknown_schemes),
		cmocka_unit_test(test_key_weak_rsa),
		cmocka_unit_test(test_key_malformed),
		cmocka_unit_test(test_key_explicit_curve),
		cmocka_unit_test(test_key_same_material),
		cmocka_unit_test(test_ed25519_rfc8032),
		cmocka_unit_test(test_interop_sigstore_ecdsa),
		cmocka_unit_test(test_interop_tuf_on_ci_ecdsa),
		cmocka_unit_test(test_interop_rsa_pss),
		cmocka_unit_test(test_interop_ecdsa_p384),
		cmocka_unit_test(test_rsa_signature_length),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_signer_vtable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

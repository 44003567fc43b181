/*
 * key.c - TUF public keys and signature verification.
 *
 * A pawl_key is only ever built by key_new(), which checks the
 * (keytype, scheme) pair against a fixed table, parses keyval.public, and
 * refuses material that does not match the scheme or is weak. So every
 * pawl_key that exists is one we are willing to verify with, and
 * key_verify() has nothing left to decide but the signature itself.
 *
 * TUF 1.0 spec, "Key objects" / "File formats: general principles"; the
 * scheme details follow securesystemslib, which every TUF implementation
 * in the wild interoperates with.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto/crypto_impl.h"

_Static_assert(KEY_SIG_MAX == RSA_MAX_BITS / 8, "KEY_SIG_MAX must fit the largest RSA key");

/* keyval.public is a 64-char hex string or a PEM block of a few hundred
 * bytes (an RSA-16384 SPKI is under 3 KiB). */
#define KEY_PUBLIC_MAX (16u * 1024u)
/* Key ids are 64 hex chars in practice; the spec allows any string. */
#define KEY_ID_MAX 1024u

struct pawl_key {
	EVP_PKEY *pkey;   /* public material only */
	key_kind kind;
	char *keytype;    /* as given */
	char *scheme;
	char *public;     /* keyval.public, as given */
	char *id;         /* as listed, or computed */
};

/* The accepted (keytype, scheme) pairs. Anything else is unsupported. */
static const struct {
	const char *keytype;
	const char *scheme;
	key_kind kind;
} key_forms[] = {
	{ "ed25519", "ed25519", KEY_ED25519 },
	{ "ecdsa", "ecdsa-sha2-nistp256", KEY_ECDSA_P256 },
	{ "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", KEY_ECDSA_P256 },
	{ "ecdsa", "ecdsa-sha2-nistp384", KEY_ECDSA_P384 },
	{ "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", KEY_ECDSA_P384 },
	{ "rsa", "rsassa-pss-sha256", KEY_RSA_PSS_SHA256 },
};

/* Per kind: what pawl writes for new keys, and how to sign/verify. */
static const struct {
	const char *keytype;
	const char *scheme;
	const char *ossl_type; /* EVP_PKEY_is_a() name */
	int curve_nid;         /* NID_undef unless EC */
	const char *md;        /* NULL: one-shot (ed25519) */
	const char *label;     /* for messages */
} kinds[] = {
	[KEY_ED25519] = { "ed25519", "ed25519", "ED25519", NID_undef, NULL, "ed25519" },
	[KEY_ECDSA_P256] = { "ecdsa", "ecdsa-sha2-nistp256", "EC", NID_X9_62_prime256v1,
			     "SHA2-256", "ECDSA P-256" },
	[KEY_ECDSA_P384] = { "ecdsa", "ecdsa-sha2-nistp384", "EC", NID_secp384r1, "SHA2-384",
			     "ECDSA P-384" },
	[KEY_RSA_PSS_SHA256] = { "rsa", "rsassa-pss-sha256", "RSA", NID_undef, "SHA2-256",
				 "RSA" },
};

/* Never let OpenSSL prompt on the terminal (its default for an encrypted
 * PEM block, which a hostile keyval.public could carry). */
static int pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---------------- material checks ---------------- */

static const char *pkey_type_name(const EVP_PKEY *pkey)
{
	const char *n = EVP_PKEY_get0_type_name(pkey);

	return n ? n : "(unknown)";
}

static int ec_curve_nid(EVP_PKEY *pkey, int *ret)
{
	char name[64];
	size_t len = 0;
	int nid;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
					   &len) != 1) {
		ERR_clear_error();
		return pawl_error_set(PAWL_E_POLICY, "EC key without a named curve");
	}
	nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = OBJ_ln2nid(name);
	*ret = nid;
	return 0;
}

int key_check_material(EVP_PKEY *pkey, key_kind kind, const char *what)
{
	ENSURE((unsigned)kind < ARRAY_SIZE(kinds), PAWL_E_INVALID, "key %.64s: bad kind", what);
	ENSURE(EVP_PKEY_is_a(pkey, kinds[kind].ossl_type), PAWL_E_KEY,
	       "key %.64s: scheme %s needs an %s key, not %s", what, kinds[kind].scheme,
	       kinds[kind].label, pkey_type_name(pkey));

	switch (kind) {
	case KEY_ED25519:
		return 0;
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384: {
		int nid = NID_undef, explicit_params = 0;

		GUARD(ec_curve_nid(pkey, &nid));
		ENSURE(nid == kinds[kind].curve_nid, PAWL_E_KEY,
		       "key %.64s: scheme %s needs a %s key, not curve %s", what,
		       kinds[kind].scheme, kinds[kind].label,
		       nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
		/* A SPKI spelling out the curve parameters instead of naming
		 * the curve: valid when they happen to match, but nothing
		 * legitimate writes it and it is a classic parser trap. */
		if (EVP_PKEY_get_int_param(pkey, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS,
					   &explicit_params) != 1) {
			ERR_clear_error();
			explicit_params = 0;
		}
		ENSURE(!explicit_params, PAWL_E_POLICY,
		       "key %.64s: EC key with explicit curve parameters refused", what);
		return 0;
	}
	case KEY_RSA_PSS_SHA256: {
		BIGNUM *e = NULL;
		int bits = EVP_PKEY_get_bits(pkey);
		bool e_ok;

		ENSURE(bits >= RSA_MIN_BITS, PAWL_E_POLICY,
		       "key %.64s: RSA modulus of %d bits is weak (minimum %d)", what, bits,
		       RSA_MIN_BITS);
		ENSURE(bits <= RSA_MAX_BITS, PAWL_E_POLICY,
		       "key %.64s: RSA modulus of %d bits exceeds %d", what, bits, RSA_MAX_BITS);
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
			return pawl_error_ossl(PAWL_E_KEY, "key %.64s: RSA key without exponent",
					       what);
		/* e = 1 would let anyone forge; an even e is not RSA. */
		e_ok = BN_is_odd(e) && !BN_is_one(e);
		BN_free(e);
		ENSURE(e_ok, PAWL_E_POLICY, "key %.64s: RSA public exponent refused", what);
		return 0;
	}
	}
	return pawl_error_set(PAWL_E_INVALID, "key %.64s: bad kind", what);
}

int key_kind_of_pkey(EVP_PKEY *pkey, key_kind *ret, const char *what)
{
	int nid = NID_undef;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*ret = KEY_ED25519;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		*ret = KEY_RSA_PSS_SHA256;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		GUARD(ec_curve_nid(pkey, &nid));
		if (nid == NID_X9_62_prime256v1) {
			*ret = KEY_ECDSA_P256;
			return 0;
		}
		if (nid == NID_secp384r1) {
			*ret = KEY_ECDSA_P384;
			return 0;
		}
		return pawl_error_set(PAWL_E_UNSUPPORTED, "%.256s: unsupported EC curve %s", what,
				      nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
	}
	return pawl_error_set(PAWL_E_UNSUPPORTED, "%.256s: unsupported key type %s", what,
			      pkey_type_name(pkey));
}

/* ---------------- parsing ---------------- */

static int parse_public(EVP_PKEY **ret, key_kind kind, const char *pub, size_t len,
			const char *what)
{
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;

	if (kind == KEY_ED25519) {
		uint8_t raw[32];
		size_t rawlen = 0;

		ENSURE(len == 2 * sizeof(raw), PAWL_E_KEY,
		       "key %.64s: ed25519 public key must be %zu hex characters, not %zu", what,
		       2 * sizeof(raw), len);
		/* Bad key material is PAWL_E_KEY whatever the reason, as for
		 * an unreadable PEM key. */
		if (hex_decode(raw, sizeof(raw), &rawlen, pub, len) < 0)
			return pawl_error_set(PAWL_E_KEY, "key %.64s: ed25519 public key is not hex",
					      what);
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
		if (!pkey)
			return pawl_error_ossl(PAWL_E_KEY, "key %.64s: bad ed25519 public key",
					       what);
	} else {
		_cleanup_bio_ BIO *bio = NULL;

		bio = BIO_new_mem_buf(pub, (int)len); /* len <= KEY_PUBLIC_MAX */
		if (!bio)
			return pawl_error_ossl(PAWL_E_NOMEM, "key %.64s", what);
		pkey = PEM_read_bio_PUBKEY(bio, NULL, pem_no_passphrase, NULL);
		if (!pkey)
			return pawl_error_ossl(PAWL_E_KEY,
					       "key %.64s: public key is not a PEM SubjectPublicKeyInfo",
					       what);
	}
	GUARD(key_check_material(pkey, kind, what));
	*ret = TAKE_PTR(pkey);
	return 0;
}

/* A C string that is exactly len bytes long (no embedded NUL), or NULL. */
static const char *json_cstr(const pj_value *v)
{
	const char *s = pj_str(v);

	if (s && strlen(s) != v->len)
		return NULL;
	return s;
}

/* The one constructor. keyid may be NULL (computed). */
static int key_new(pawl_key **ret, key_kind kind, const char *keytype, const char *scheme,
		   const char *pub, size_t publen, const char *keyid)
{
	pawl_key *k;
	int r;

	ENSURE(publen <= KEY_PUBLIC_MAX, PAWL_E_LIMIT,
	       "key %.64s: public key of %zu bytes exceeds %u", keyid ? keyid : "(new)", publen,
	       KEY_PUBLIC_MAX);
	k = xcalloc(1, sizeof(*k));
	if (!k)
		return PAWL_E_NOMEM;
	k->kind = kind;
	k->keytype = xstrdup(keytype);
	k->scheme = xstrdup(scheme);
	k->public = xstrndup(pub, publen);
	if (!k->keytype || !k->scheme || !k->public) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	GUARD_GOTO(r, parse_public(&k->pkey, kind, pub, publen, keyid ? keyid : "(new)"), fail);
	if (keyid) {
		k->id = xstrdup(keyid);
		if (!k->id) {
			r = PAWL_E_NOMEM;
			goto fail;
		}
	} else {
		char id[65];

		GUARD_GOTO(r, key_compute_id(k, id), fail);
		k->id = xstrdup(id);
		if (!k->id) {
			r = PAWL_E_NOMEM;
			goto fail;
		}
	}
	*ret = k;
	return 0;
fail:
	key_free(k);
	return r;
}

int key_from_json(pawl_key **ret, const pj_value *obj, const char *keyid)
{
	const char *what = keyid ? keyid : "(unnamed)";
	const char *keytype, *scheme, *pub;
	const pj_value *keyval, *pubv;

	ENSURE(!keyid || strlen(keyid) <= KEY_ID_MAX, PAWL_E_LIMIT,
	       "key id of %zu bytes exceeds %u", strlen(keyid), KEY_ID_MAX);
	ENSURE(pj_is_object(obj), PAWL_E_FORMAT, "key %.64s: not an object but %s", what,
	       pj_type_name(obj));
	keytype = json_cstr(pj_get(obj, "keytype"));
	ENSURE(keytype, PAWL_E_FORMAT, "key %.64s: \"keytype\" missing or not a string", what);
	scheme = json_cstr(pj_get(obj, "scheme"));
	ENSURE(scheme, PAWL_E_FORMAT, "key %.64s: \"scheme\" missing or not a string", what);
	keyval = pj_get(obj, "keyval");
	ENSURE(pj_is_object(keyval), PAWL_E_FORMAT, "key %.64s: \"keyval\" missing or not an object",
	       what);
	pubv = pj_get(keyval, "public");
	pub = json_cstr(pubv);
	ENSURE(pub, PAWL_E_FORMAT, "key %.64s: \"keyval.public\" missing or not a string", what);

	for (size_t i = 0; i < ARRAY_SIZE(key_forms); i++) {
		if (strcmp(keytype, key_forms[i].keytype) == 0 &&
		    strcmp(scheme, key_forms[i].scheme) == 0)
			return key_new(ret, key_forms[i].kind, keytype, scheme, pub, pubv->len,
				       keyid);
	}
	return pawl_error_set(PAWL_E_UNSUPPORTED,
			      "key %.64s: unsupported keytype \"%.64s\" with scheme \"%.64s\"", what,
			      keytype, scheme);
}

/* ---------------- writing ---------------- */

int key_to_json(const pawl_key *k, pj_doc *doc, pj_value *dst)
{
	pj_value *keyval = NULL;

	GUARD(pj_set_object(doc, dst));
	GUARD(pj_obj_put_str(doc, dst, "keytype", k->keytype));
	GUARD(pj_obj_put_str(doc, dst, "scheme", k->scheme));
	/* Last: the slot pointer is only valid until dst changes again. */
	GUARD(pj_obj_put(doc, dst, "keyval", strlen("keyval"), &keyval));
	GUARD(pj_set_object(doc, keyval));
	GUARD(pj_obj_put_str(doc, keyval, "public", k->public));
	return 0;
}

int key_compute_id(const pawl_key *k, char out[65])
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_buf_ pawl_buf canon = PAWL_BUF_INIT(2 * KEY_PUBLIC_MAX);
	uint8_t digest[HASH_MAX_LEN];

	GUARD(pj_doc_new(&doc));
	GUARD(key_to_json(k, doc, pj_root(doc)));
	GUARD(pj_canonical(&canon, pj_root(doc)));
	GUARD(hash_once(HASH_SHA256, canon.data, canon.len, digest));
	hex_encode(out, digest, 32);
	return 0;
}

int key_from_pkey(pawl_key **ret, EVP_PKEY *pkey, key_kind kind)
{
	_cleanup_bio_ BIO *bio = NULL;
	const char *pub;
	char *pem = NULL;
	long pemlen;
	char hex[65];

	ENSURE((unsigned)kind < ARRAY_SIZE(kinds), PAWL_E_INVALID, "bad key kind");
	/* Checked here too so that a mismatch is reported before any
	 * serialisation error can hide it. */
	GUARD(key_check_material(pkey, kind, "(new)"));
	if (kind == KEY_ED25519) {
		uint8_t raw[32];
		size_t rawlen = sizeof(raw);

		GUARD_OSSL(EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen),
			   "cannot read the ed25519 public key");
		ENSURE(rawlen == sizeof(raw), PAWL_E_CRYPTO, "ed25519 public key of %zu bytes",
		       rawlen);
		hex_encode(hex, raw, rawlen);
		return key_new(ret, kind, kinds[kind].keytype, kinds[kind].scheme, hex,
			       2 * rawlen, NULL);
	}
	/* The PEM exactly as PEM_write_bio_PUBKEY writes it ("\n" line
	 * ends): the same string securesystemslib/python-tuf write. */
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a BIO");
	GUARD_OSSL(PEM_write_bio_PUBKEY(bio, pkey), "cannot encode the public key");
	pemlen = BIO_get_mem_data(bio, &pem);
	ENSURE(pemlen > 0 && pem, PAWL_E_CRYPTO, "empty public key encoding");
	pub = pem;
	return key_new(ret, kind, kinds[kind].keytype, kinds[kind].scheme, pub, (size_t)pemlen,
		       NULL);
}

int key_dup(pawl_key **ret, const pawl_key *k)
{
	return key_new(ret, k->kind, k->keytype, k->scheme, k->public, strlen(k->public), k->id);
}

/* ---------------- accessors ---------------- */

EVP_PKEY *key_pkey(const pawl_key *k) { return k->pkey; }
const char *key_id(const pawl_key *k) { return k->id; }
const char *key_type(const pawl_key *k) { return k->keytype; }
const char *key_scheme(const pawl_key *k) { return k->scheme; }
const char *key_public(const pawl_key *k) { return k->public; }

bool key_same_material(const pawl_key *a, const pawl_key *b)
{
	int eq;

	if (!a || !b || a->kind != b->kind)
		return false;
	/* EVP_PKEY_eq compares the public values themselves, so that one
	 * EC point listed once compressed and once uncompressed (different
	 * PEM, different DER, different key id) still counts once towards a
	 * threshold. */
	ERR_set_mark();
	eq = EVP_PKEY_eq(a->pkey, b->pkey);
	ERR_pop_to_mark();
	return eq == 1;
}

/* ---------------- signatures ---------------- */

int sig_ctx_init(EVP_MD_CTX *ctx, EVP_PKEY *pkey, key_kind kind, bool sign, const char *what)
{
	EVP_PKEY_CTX *pctx = NULL; /* owned by ctx */
	const char *md;

	ENSURE((unsigned)kind < ARRAY_SIZE(kinds), PAWL_E_INVALID, "bad key kind");
	md = kinds[kind].md;
	if (sign)
		GUARD_OSSL(EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL),
			   "key %.64s: cannot start signing", what);
	else
		GUARD_OSSL(EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL),
			   "key %.64s: cannot start verification", what);
	if (kind == KEY_RSA_PSS_SHA256) {
		/* RSASSA-PSS, MGF1 with the message hash. Verification takes
		 * any salt length (what securesystemslib does); we sign with
		 * a salt as long as the digest, 32 bytes. */
		GUARD_OSSL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
			   "key %.64s: cannot select PSS", what);
		GUARD_OSSL(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL),
			   "key %.64s: cannot select MGF1", what);
		GUARD_OSSL(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, sign ? RSA_PSS_SALTLEN_DIGEST
								       : RSA_PSS_SALTLEN_AUTO),
			   "key %.64s: cannot set the PSS salt length", what);
	}
	return 0;
}

int key_verify(const pawl_key *k, const void *msg, size_t len, const uint8_t *sig,
	       size_t siglen)
{
	static const uint8_t empty[1];
	_cleanup_md_ctx_ EVP_MD_CTX *ctx = NULL;
	size_t maxlen;

	ENSURE(k, PAWL_E_INVALID, "no key");
	ENSURE(msg || len == 0, PAWL_E_INVALID, "no message");
	ENSURE(sig && siglen > 0, PAWL_E_SIGNATURE, "key %.64s: empty signature", k->id);
	maxlen = (size_t)EVP_PKEY_get_size(k->pkey);
	switch (k->kind) {
	case KEY_ED25519:
		ENSURE(siglen == 64, PAWL_E_SIGNATURE,
		       "key %.64s: ed25519 signature of %zu bytes, not 64", k->id, siglen);
		break;
	case KEY_RSA_PSS_SHA256:
		/* Exactly the modulus size, as Go's crypto/rsa insists; no
		 * leading zero bytes dropped or added. */
		ENSURE(siglen == maxlen, PAWL_E_SIGNATURE,
		       "key %.64s: RSA signature of %zu bytes, not %zu", k->id, siglen, maxlen);
		break;
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384:
		ENSURE(siglen <= maxlen, PAWL_E_SIGNATURE,
		       "key %.64s: ECDSA signature of %zu bytes exceeds %zu", k->id, siglen,
		       maxlen);
		break;
	}

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a digest context");
	GUARD(sig_ctx_init(ctx, k->pkey, k->kind, false, k->id));

	/* The single way to "valid": OpenSSL said exactly 1. Anything else
	 * (0 = bad signature, <0 = malformed DER or failure) is rejection. */
	if (EVP_DigestVerify(ctx, sig, siglen, len ? msg : empty, len) != 1)
		return pawl_error_ossl(PAWL_E_SIGNATURE, "key %.64s: signature does not verify",
				       k->id);
	return 0;
}

/* ---------------- files ---------------- */

int key_load_public_file(pawl_key **ret, const char *path, const char *passphrase)
{
	_cleanup_(buf_wipep) pawl_buf data = PAWL_BUF_INIT(KEYFILE_MAX);
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;
	_cleanup_bio_ BIO *bio = NULL;
	key_kind kind;

	GUARD(keyfile_read(&data, path));
	bio = BIO_new_mem_buf(data.data, (int)data.len);
	if (!bio)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a BIO");
	pkey = PEM_read_bio_PUBKEY(bio, NULL, pem_no_passphrase, NULL);
	if (!pkey) {
		/* Not a public key: perhaps a private key file. */
		ERR_clear_error();
		GUARD(keyfile_parse_private(&pkey, data.data, data.len, passphrase, path));
	}
	GUARD(key_kind_of_pkey(pkey, &kind, path));
	GUARD(key_from_pkey(ret, pkey, kind));
	return 0;
}

void key_free(pawl_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->keytype);
	free(k->scheme);
	free(k->public);
	free(k->id);
	free(k);
}

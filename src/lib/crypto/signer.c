/*
 * signer.c - private keys: generation, PKCS#8 PEM files, signing.
 *
 * A pawl_signer is a public key plus a small vtable; this file provides
 * the "file" kind (an EVP_PKEY in memory, loaded from or saved to a PKCS#8
 * PEM file). A token-backed kind only has to supply sign() and free().
 *
 * Every signature is verified with the public half before it is handed
 * out, so a faulty computation or a token whose private key does not
 * match its public key never produces metadata that clients reject.
 *
 * Secrets: OpenSSL never prompts for a passphrase (it is passed through a
 * callback or not at all); PEM text of private keys lives only in secure,
 * wiped memory BIOs or in buffers that are wiped before they are freed;
 * EVP_PKEY_free() clears private key material.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "crypto/crypto_impl.h"

/* scrypt parameters for encrypted key files: those of `openssl pkcs8
 * -scrypt`. N = 2^14, r = 8 needs 16 MiB, within OpenSSL's default 32 MiB
 * decryption limit (a larger N could not be read back by OpenSSL-based
 * tools without raising it). */
#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1
#define PBE_SALT_LEN 16

struct file_signer {
	EVP_PKEY *pkey;
	key_kind kind;
};

/* ---------------- the file signer ---------------- */

static int file_sign(const pawl_signer *s, const void *msg, size_t len, uint8_t **ret,
		     size_t *ret_len)
{
	static const uint8_t empty[1];
	struct file_signer *f = s->impl;
	_cleanup_md_ctx_ EVP_MD_CTX *ctx = NULL;
	_cleanup_free_ uint8_t *sig = NULL;
	size_t siglen;
	int max;

	max = EVP_PKEY_get_size(f->pkey);
	ENSURE(max > 0, PAWL_E_CRYPTO, "key %.64s: unknown signature size", signer_keyid(s));
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a digest context");
	GUARD(sig_ctx_init(ctx, f->pkey, f->kind, true, signer_keyid(s)));
	sig = xmalloc((size_t)max);
	if (!sig)
		return PAWL_E_NOMEM;
	siglen = (size_t)max;
	GUARD_OSSL(EVP_DigestSign(ctx, sig, &siglen, len ? msg : empty, len),
		   "key %.64s: signing failed", signer_keyid(s));
	ENSURE(siglen > 0 && siglen <= (size_t)max, PAWL_E_CRYPTO,
	       "key %.64s: signature of %zu bytes", signer_keyid(s), siglen);
	*ret = TAKE_PTR(sig);
	*ret_len = siglen;
	return 0;
}

static void file_free(pawl_signer *s)
{
	struct file_signer *f = s->impl;

	if (!f)
		return;
	EVP_PKEY_free(f->pkey); /* clears the private key */
	OPENSSL_cleanse(f, sizeof(*f));
	free(f);
	s->impl = NULL;
}

static const signer_ops file_ops = {
	.kind = "file",
	.sign = file_sign,
	.free = file_free,
};

/* Take ownership of pkey (also on failure). */
static int file_signer_new(pawl_signer **ret, EVP_PKEY *pkey_in, const char *what)
{
	_cleanup_pkey_ EVP_PKEY *pkey = pkey_in;
	_cleanup_signer_ pawl_signer *s = NULL;
	struct file_signer *f;
	key_kind kind;

	GUARD(key_kind_of_pkey(pkey, &kind, what));
	GUARD(key_check_material(pkey, kind, what));
	s = xcalloc(1, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	f = xcalloc(1, sizeof(*f));
	if (!f)
		return PAWL_E_NOMEM;
	s->ops = &file_ops;
	s->impl = f;
	f->pkey = TAKE_PTR(pkey);
	f->kind = kind;
	GUARD(key_from_pkey(&s->pub, f->pkey, kind));
	*ret = TAKE_PTR(s);
	return 0;
}

static const struct {
	const char *name;
	const char *alg;    /* EVP_PKEY_Q_keygen() type */
	const char *curve;  /* EC only */
	size_t bits;        /* RSA only */
} gen_types[] = {
	{ "ed25519", "ED25519", NULL, 0 },
	{ "ecdsa-p256", "EC", "P-256", 0 },
	{ "ecdsa-p384", "EC", "P-384", 0 },
	{ "rsa-3072", "RSA", NULL, 3072 },
	{ "rsa-4096", "RSA", NULL, 4096 },
};

int signer_generate(pawl_signer **ret, const char *type)
{
	EVP_PKEY *pkey = NULL;

	ENSURE(type, PAWL_E_INVALID, "no key type");
	for (size_t i = 0; i < ARRAY_SIZE(gen_types); i++) {
		if (strcmp(type, gen_types[i].name) != 0)
			continue;
		if (gen_types[i].curve)
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, gen_types[i].alg, gen_types[i].curve);
		else if (gen_types[i].bits)
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, gen_types[i].alg, gen_types[i].bits);
		else
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, gen_types[i].alg);
		if (!pkey)
			return pawl_error_ossl(PAWL_E_CRYPTO, "cannot generate a %s key", type);
		return file_signer_new(ret, pkey, type);
	}
	return pawl_error_set(PAWL_E_UNSUPPORTED,
			      "unsupported key type \"%.64s\" (ed25519, ecdsa-p256, ecdsa-p384, "
			      "rsa-3072, rsa-4096)",
			      type);
}

int signer_load_file(pawl_signer **ret, const char *path, const char *passphrase)
{
	_cleanup_(buf_wipep) pawl_buf data = PAWL_BUF_INIT(KEYFILE_MAX);
	EVP_PKEY *pkey = NULL;

	GUARD(keyfile_read(&data, path));
	GUARD(keyfile_parse_private(&pkey, data.data, data.len, passphrase, path));
	return file_signer_new(ret, pkey, path);
}

/* ---------------- saving ---------------- */

static void x509_sig_freep(X509_SIG **p) { X509_SIG_free(*p); }
static void p8inf_freep(PKCS8_PRIV_KEY_INFO **p) { PKCS8_PRIV_KEY_INFO_free(*p); }
static void x509_algor_freep(X509_ALGOR **p) { X509_ALGOR_free(*p); }

static int write_encrypted_pkcs8(BIO *bio, EVP_PKEY *pkey, const char *pass)
{
	_cleanup_(p8inf_freep) PKCS8_PRIV_KEY_INFO *p8inf = NULL;
	_cleanup_(x509_algor_freep) X509_ALGOR *pbe = NULL;
	_cleanup_(x509_sig_freep) X509_SIG *p8 = NULL;
	size_t passlen = strlen(pass);

	ENSURE(passlen > 0, PAWL_E_INVALID, "empty passphrase");
	ENSURE(passlen <= KEYFILE_PASSPHRASE_MAX, PAWL_E_INVALID, "passphrase longer than %d bytes",
	       KEYFILE_PASSPHRASE_MAX);
	p8inf = EVP_PKEY2PKCS8(pkey);
	if (!p8inf)
		return pawl_error_ossl(PAWL_E_CRYPTO, "cannot encode the private key");
	/* PBES2: scrypt, AES-256-CBC, random salt and IV. */
	pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, PBE_SALT_LEN, NULL, SCRYPT_N,
				    SCRYPT_R, SCRYPT_P);
	if (!pbe)
		return pawl_error_ossl(PAWL_E_CRYPTO, "cannot set up key encryption");
	p8 = PKCS8_set0_pbe(pass, (int)passlen, p8inf, pbe);
	if (!p8)
		return pawl_error_ossl(PAWL_E_CRYPTO, "cannot encrypt the private key");
	pbe = NULL; /* owned by p8 now */
	GUARD_OSSL(PEM_write_bio_PKCS8(bio, p8), "cannot write the private key");
	return 0;
}

int signer_save_file(const pawl_signer *s, const char *path, const char *passphrase)
{
	_cleanup_bio_ BIO *bio = NULL;
	const struct file_signer *f;
	char *pem = NULL;
	long pemlen;

	ENSURE(s && path, PAWL_E_INVALID, "no signer or path");
	ENSURE(s->ops == &file_ops, PAWL_E_UNSUPPORTED, "a %s key cannot be saved to a file",
	       s->ops->kind);
	f = s->impl;
	/* Secure heap (when initialised), wiped when freed either way. */
	bio = BIO_new(BIO_s_secmem());
	if (!bio)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a BIO");
	if (passphrase)
		GUARD(write_encrypted_pkcs8(bio, f->pkey, passphrase));
	else
		GUARD_OSSL(PEM_write_bio_PKCS8PrivateKey(bio, f->pkey, NULL, NULL, 0, NULL, NULL),
			   "cannot write the private key");
	pemlen = BIO_get_mem_data(bio, &pem);
	ENSURE(pemlen > 0 && pem, PAWL_E_CRYPTO, "empty private key encoding");
	return keyfile_create(path, pem, (size_t)pemlen, 0600);
}

int signer_save_public_file(const pawl_signer *s, const char *path)
{
	_cleanup_bio_ BIO *bio = NULL;
	char *pem = NULL;
	long pemlen;

	ENSURE(s && path, PAWL_E_INVALID, "no signer or path");
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot allocate a BIO");
	GUARD_OSSL(PEM_write_bio_PUBKEY(bio, key_pkey(s->pub)), "cannot encode the public key");
	pemlen = BIO_get_mem_data(bio, &pem);
	ENSURE(pemlen > 0 && pem, PAWL_E_CRYPTO, "empty public key encoding");
	return keyfile_create(path, pem, (size_t)pemlen, 0644);
}

/* ---------------- generic signer ---------------- */

int signer_public(const pawl_signer *s, pawl_key **ret)
{
	ENSURE(s, PAWL_E_INVALID, "no signer");
	return key_dup(ret, s->pub);
}

int signer_sign(const pawl_signer *s, const void *msg, size_t len, uint8_t **ret,
		size_t *ret_len)
{
	_cleanup_free_ uint8_t *sig = NULL;
	size_t siglen = 0;
	int r;

	ENSURE(s && (msg || len == 0), PAWL_E_INVALID, "no signer or message");
	GUARD(s->ops->sign(s, msg, len, &sig, &siglen));
	/* A signature that does not verify here is the key's fault (a fault,
	 * or a token whose private key is not the public key we list), not a
	 * bad signature from someone else: PAWL_E_KEY. */
	r = key_verify(s->pub, msg, len, sig, siglen);
	if (r == PAWL_E_SIGNATURE)
		return pawl_error_prefix(PAWL_E_KEY, "%s key %.64s: signature failed its self-check: ",
					 s->ops->kind, signer_keyid(s));
	GUARD(r);
	*ret = TAKE_PTR(sig);
	*ret_len = siglen;
	return 0;
}

const char *signer_keyid(const pawl_signer *s)
{
	return key_id(s->pub);
}

const char *signer_kind(const pawl_signer *s)
{
	return s->ops->kind;
}

void signer_free(pawl_signer *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->free)
		s->ops->free(s);
	key_free(s->pub);
	free(s);
}

/*
 * crypto_impl.h - what the files of the crypto module share and nobody
 * else needs: cleanup helpers for OpenSSL objects, the key internals, and
 * the signer vtable that a PKCS#11 signer (a later file) plugs into.
 *
 * Not a public header; include it only from src/lib/crypto/.
 */
#ifndef PAWL_CRYPTO_IMPL_H
#define PAWL_CRYPTO_IMPL_H

#include <sys/types.h>

#include <openssl/bio.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"

/* ---- automatic cleanup of OpenSSL objects (all accept NULL) ---- */

static inline void evp_pkey_freep(EVP_PKEY **p) { EVP_PKEY_free(*p); }
static inline void evp_pkey_ctx_freep(EVP_PKEY_CTX **p) { EVP_PKEY_CTX_free(*p); }
static inline void evp_md_ctx_freep(EVP_MD_CTX **p) { EVP_MD_CTX_free(*p); }
static inline void bio_freep(BIO **p) { BIO_free(*p); }
#define _cleanup_pkey_ _cleanup_(evp_pkey_freep)
#define _cleanup_pkey_ctx_ _cleanup_(evp_pkey_ctx_freep)
#define _cleanup_md_ctx_ _cleanup_(evp_md_ctx_freep)
#define _cleanup_bio_ _cleanup_(bio_freep)

/* A buffer that held secrets: wiped, then freed. */
static inline void buf_wipep(pawl_buf *b) { buf_wipe(b); }
#define _cleanup_buf_wipe_ _cleanup_(buf_wipep)

/* The fetched message digest for alg (fetched once per process; the
 * caller does not free it). PAWL_E_CRYPTO when the provider has none. */
PAWL_MUST_USE int hash_md(hash_alg alg, const EVP_MD **ret);

/* ---- key files (keyfile.c) ---- */

#define KEYFILE_MAX (64u * 1024u)

/* Read a whole key file into out, which must be empty and allow
 * KEYFILE_MAX bytes; the buffer is allocated once, so it never leaves
 * copies behind (wipe it with buf_wipe()). O_NOFOLLOW, regular files only:
 * a symlink is PAWL_E_IO, a missing file PAWL_E_NOT_FOUND, a larger file
 * PAWL_E_LIMIT. */
PAWL_MUST_USE int keyfile_read(pawl_buf *out, const char *path);

/* Create path (O_EXCL|O_NOFOLLOW, mode), write len bytes, fsync it and
 * its directory. An existing path is PAWL_E_IO; a partial file is
 * removed. */
PAWL_MUST_USE int keyfile_create(const char *path, const void *data, size_t len, mode_t mode);

/* OpenSSL hands PEM callbacks a PEM_BUFSIZE (1024) buffer. */
#define KEYFILE_PASSPHRASE_MAX 1023

/* Parse a PEM private key (PKCS#8, encrypted or not; also the traditional
 * forms OpenSSL reads) from len bytes at data. passphrase may be NULL;
 * OpenSSL never prompts. An encrypted key without a passphrase, or with a
 * wrong one, is PAWL_E_KEY. what names the file in messages. */
PAWL_MUST_USE int keyfile_parse_private(EVP_PKEY **ret, const char *data, size_t len,
					const char *passphrase, const char *what);

/* ---- keys ---- */

/* What a (keytype, scheme) pair means to us; each pair accepted by
 * key_from_json maps to exactly one of these. */
typedef enum key_kind {
	KEY_ED25519 = 0,
	KEY_ECDSA_P256,
	KEY_ECDSA_P384,
	KEY_RSA_PSS_SHA256,
} key_kind;

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384 /* OpenSSL's own verification limit */

/* Check that pkey is acceptable material for kind: right algorithm,
 * right curve (named, not explicit parameters), RSA modulus within
 * [RSA_MIN_BITS, RSA_MAX_BITS] and a sane public exponent. what names the
 * key in messages. PAWL_E_KEY for the wrong algorithm or curve,
 * PAWL_E_POLICY for weak material. */
PAWL_MUST_USE int key_check_material(EVP_PKEY *pkey, key_kind kind, const char *what);

/* Wrap an EVP_PKEY (taking a reference of its own) as a pawl_key with the
 * keytype/scheme pawl writes for kind ("ed25519"/"ecdsa"/"rsa"), the
 * canonical keyval.public string, and the computed key id. */
PAWL_MUST_USE int key_from_pkey(pawl_key **ret, EVP_PKEY *pkey, key_kind kind);

/* The kind of an already-loaded EVP_PKEY, by algorithm and curve; used
 * when a private key file tells us nothing else. */
PAWL_MUST_USE int key_kind_of_pkey(EVP_PKEY *pkey, key_kind *ret, const char *what);

/* The key's public EVP_PKEY (owned by k). */
EVP_PKEY *key_pkey(const pawl_key *k);

/* A copy of k (same id, type, scheme and material). */
PAWL_MUST_USE int key_dup(pawl_key **ret, const pawl_key *k);

/* Set up ctx to sign or verify with pkey under kind's scheme (digest,
 * and for RSA: PSS, MGF1, salt length 32 to sign / auto to verify). */
PAWL_MUST_USE int sig_ctx_init(EVP_MD_CTX *ctx, EVP_PKEY *pkey, key_kind kind, bool sign,
			       const char *what);

/* ---- signers ---- */

typedef struct signer_ops {
	const char *kind; /* "file", "pkcs11" */
	/* Sign msg; *ret malloc'd. Must leave nothing on the error queue. */
	PAWL_MUST_USE int (*sign)(const pawl_signer *s, const void *msg, size_t len,
				  uint8_t **ret, size_t *ret_len);
	/* Release the implementation's state (s itself is freed by the
	 * caller). Wipes secrets. */
	void (*free)(pawl_signer *s);
} signer_ops;

struct pawl_signer {
	const signer_ops *ops;
	pawl_key *pub;   /* the public half; its id is the signer's key id */
	void *impl;      /* owned by ops */
};

#endif

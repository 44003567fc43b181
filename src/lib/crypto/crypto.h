/*
 * crypto.h - hashes, TUF public keys, signature verification and signing,
 * all on OpenSSL 3 and all behind pawl's error model.
 *
 * Guarantees:
 *  - key_verify() returns 0 ("valid") through exactly one path: OpenSSL's
 *    verify call returned exactly 1. Every other outcome is an error code.
 *  - Weak material is refused when a key is loaded: RSA under 2048 bits,
 *    curves other than P-256/P-384, unknown key types and schemes.
 *  - Digests are compared with CRYPTO_memcmp.
 *  - Private keys are wiped when freed and are never printed.
 *
 * TUF key forms supported (TUF 1.0 spec, "Key objects" and securesystemslib):
 *   keytype "ed25519", scheme "ed25519", keyval.public = 64 hex chars.
 *   keytype "ecdsa" or "ecdsa-sha2-nistp256"/"ecdsa-sha2-nistp384",
 *     scheme "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384",
 *     keyval.public = PEM SubjectPublicKeyInfo; signatures are hex DER.
 *   keytype "rsa", scheme "rsassa-pss-sha256", keyval.public = PEM SPKI;
 *     PSS with MGF1-SHA256; verification accepts any salt length
 *     (RSA_PSS_SALTLEN_AUTO), signing uses a 32-byte salt.
 * Signatures ("sig") are lower- or upper-case hex.
 */
#ifndef PAWL_CRYPTO_H
#define PAWL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/guard.h"

/* ---------------- hashes ---------------- */

typedef enum hash_alg {
	HASH_SHA256 = 0,
	HASH_SHA512 = 1,
} hash_alg;

#define HASH_MAX_LEN 64

/* "sha256" or "sha512"; anything else (sha1, md5, ...) is
 * PAWL_E_UNSUPPORTED with the name in the message. */
PAWL_MUST_USE int hash_alg_from_name(const char *name, hash_alg *ret);
const char *hash_alg_name(hash_alg alg);
size_t hash_alg_len(hash_alg alg);

typedef struct hash_ctx hash_ctx;
PAWL_MUST_USE int hash_new(hash_ctx **ret, hash_alg alg);
PAWL_MUST_USE int hash_update(hash_ctx *h, const void *p, size_t n);
/* Writes hash_alg_len() bytes to out. The context may not be reused. */
PAWL_MUST_USE int hash_final(hash_ctx *h, uint8_t out[HASH_MAX_LEN]);
void hash_free(hash_ctx *h);
PAWL_MUST_USE int hash_once(hash_alg alg, const void *p, size_t n, uint8_t out[HASH_MAX_LEN]);

/* Constant-time equality of two digests of length n. */
bool digest_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(char *out, const uint8_t *p, size_t n);
/* Decode hex (either case, even length); PAWL_E_FORMAT on bad input,
 * PAWL_E_LIMIT when it does not fit in max bytes. */
PAWL_MUST_USE int hex_decode(uint8_t *out, size_t max, size_t *ret_len, const char *hex,
			     size_t hexlen);

/* ---------------- public keys ---------------- */

typedef struct pawl_key pawl_key;

/* Parse a TUF key object ({"keytype","scheme","keyval":{"public"}}, extra
 * fields allowed and ignored). keyid is the id the metadata lists it under
 * (copied; may be NULL, then the computed id is used). */
PAWL_MUST_USE int key_from_json(pawl_key **ret, const pj_value *obj, const char *keyid);

/* The key id pawl writes for this key: lower-case hex SHA-256 of the
 * canonical JSON of {"keytype","keyval":{"public"},"scheme"}. */
PAWL_MUST_USE int key_compute_id(const pawl_key *k, char out[65]);

/* Write the TUF key object for k into dst (an empty slot of doc). */
PAWL_MUST_USE int key_to_json(const pawl_key *k, pj_doc *doc, pj_value *dst);

const char *key_id(const pawl_key *k);       /* as listed, or computed */
const char *key_type(const pawl_key *k);     /* "ed25519", "ecdsa", "rsa" as given */
const char *key_scheme(const pawl_key *k);   /* e.g. "ecdsa-sha2-nistp256" */
/* The keyval.public string as it appears in metadata. */
const char *key_public(const pawl_key *k);
/* True when both keys hold the same public key material (whatever their
 * ids), so that a threshold can count each real key once. */
bool key_same_material(const pawl_key *a, const pawl_key *b);

/* The longest signature any key pawl accepts can make, in bytes: that of
 * an RSA key of the largest size key_from_json() takes (16384 bits). */
#define KEY_SIG_MAX 2048

/* Verify sig (raw bytes, already hex-decoded) over msg.
 * 0: valid. PAWL_E_SIGNATURE: well-formed but does not verify, or
 * malformed signature bytes. Other codes: internal failures. */
PAWL_MUST_USE int key_verify(const pawl_key *k, const void *msg, size_t len,
			     const uint8_t *sig, size_t siglen);

/* Load a public key from a PEM file (SPKI) or a private key file (the
 * public half is taken). */
PAWL_MUST_USE int key_load_public_file(pawl_key **ret, const char *path,
				       const char *passphrase);

void key_free(pawl_key *k);
static inline void key_freep(pawl_key **k)
{
	key_free(*k);
}
#define _cleanup_key_ _cleanup_(key_freep)

/* ---------------- signing ---------------- */

/* A signer holds a private key: a PKCS#8 PEM file, or (later) a PKCS#11
 * token object. The operations go through a small vtable so that token
 * signers plug in. */
typedef struct pawl_signer pawl_signer;

/* "ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-3072" (also "rsa-4096"). */
PAWL_MUST_USE int signer_generate(pawl_signer **ret, const char *type);
/* Load a PKCS#8 PEM private key, encrypted or not. passphrase may be NULL
 * for an unencrypted key; a wrong passphrase is PAWL_E_KEY. */
PAWL_MUST_USE int signer_load_file(pawl_signer **ret, const char *path,
				   const char *passphrase);
/* Write the private key as PKCS#8 PEM, AES-256-CBC + scrypt/PBKDF2
 * encrypted when passphrase is not NULL. Created with O_EXCL|O_NOFOLLOW,
 * mode 0600; fsync'd. An existing file is PAWL_E_IO ("exists"). */
PAWL_MUST_USE int signer_save_file(const pawl_signer *s, const char *path,
				   const char *passphrase);
/* The public half as a pawl_key (id computed). Caller frees. */
PAWL_MUST_USE int signer_public(const pawl_signer *s, pawl_key **ret);
/* Write the public key as PEM SPKI (mode 0644, O_EXCL). */
PAWL_MUST_USE int signer_save_public_file(const pawl_signer *s, const char *path);
/* Sign msg; *ret is malloc'd raw signature bytes (ed25519: 64; ecdsa:
 * DER; rsa: modulus size). */
PAWL_MUST_USE int signer_sign(const pawl_signer *s, const void *msg, size_t len,
			      uint8_t **ret, size_t *ret_len);
/* The key id of the public half. */
const char *signer_keyid(const pawl_signer *s);
/* "file" or "pkcs11", for the audit log. */
const char *signer_kind(const pawl_signer *s);
void signer_free(pawl_signer *s);
static inline void signer_freep(pawl_signer **s)
{
	signer_free(*s);
}
#define _cleanup_signer_ _cleanup_(signer_freep)

#endif

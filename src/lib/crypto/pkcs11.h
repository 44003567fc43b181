/*
 * pkcs11.h - signers whose private key stays in a PKCS#11 token (an HSM,
 * a smart card, SoftHSM2 in the tests), so that root and targets keys
 * never exist as files on the signing machine (PRODUCT.md, practice 6).
 *
 * How: pawl talks to the token's module directly. It dlopen()s the module,
 * takes its C_GetFunctionList() table and uses the standard C_* calls:
 *   Ed25519     CKM_EDDSA over the whole message (pure Ed25519);
 *   ECDSA       CKM_ECDSA over a SHA-256 (P-256) or SHA-384 (P-384) digest
 *               computed here; the token's raw r||s becomes the DER
 *               ECDSA-Sig-Value that TUF metadata carries;
 *   RSA         CKM_RSA_PKCS_PSS over a SHA-256 digest computed here,
 *               MGF1-SHA256, 32-byte salt (TUF "rsassa-pss-sha256").
 * Hashing on the host keeps large targets metadata off the token's
 * (often slow) channel; pure Ed25519 has no pre-hashed form that TUF
 * accepts, so there the whole message goes to the token. CKM_ECDSA and
 * CKM_RSA_PKCS_PSS are in nearly every token; CKM_EDDSA needs a PKCS#11
 * 3.0-era one (SoftHSM2 2.6 has it). The alternative, libp11's OpenSSL engine, rests
 * on the deprecated ENGINE API and adds a package and a configuration
 * layer without making a signature any faster: both end in the same
 * C_Sign of the same module. Rough rates on SoftHSM2 2.6.1 (2 shared
 * cores, one session; the token's own arithmetic dominates, and
 * signer_sign() adds a verification): Ed25519 ~4700/s (~2500/s with the
 * self-check), ECDSA P-256 ~12000/s (~6000/s), P-384 ~900/s (~550/s),
 * RSA-3072 ~320/s. A release needs a handful of signatures; a real HSM
 * is slower per signature, and still not the bottleneck.
 *
 * Guarantees:
 *  - The key is named by an RFC 7512 PKCS#11 URI. The URI must select
 *    exactly one token and exactly one private key: no match is
 *    PAWL_E_NOT_FOUND, several are PAWL_E_INVALID ("ambiguous"), never
 *    "the first one". Unknown attributes are refused, not ignored, so a
 *    typo cannot widen the match.
 *  - The public half is read from the token (the public key object with
 *    the private key's CKA_ID, else its label; for RSA the private key's
 *    own modulus and exponent when there is no public object) and passes
 *    the same material checks as any other key (crypto.h): RSA >= 2048
 *    bits, P-256/P-384 only, Ed25519 only among Edwards curves.
 *  - signer_sign() verifies every token signature with that public half
 *    before handing it out.
 *  - The PIN is never printed, never part of an error message (messages
 *    name the key by a URI rebuilt without pin-value/pin-source), and is
 *    wiped as soon as C_Login has returned. The one exception: a key with
 *    CKA_ALWAYS_AUTHENTICATE needs the PIN again for every signature, so
 *    it is kept in OpenSSL's secure heap until signer_free() wipes it.
 *  - Several signers may share a module and a token: the module is
 *    initialised once and finalised (C_Finalize, only if pawl initialised
 *    it) with the last signer; the token is logged out (C_Logout, only if
 *    pawl logged it in) when the last signer using it is freed. A token
 *    this process has already logged in is not asked for the PIN again.
 *  - A signer belongs to the process that loaded it: used after fork() it
 *    fails with PAWL_E_KEY (PKCS#11 sessions do not survive a fork).
 */
#ifndef PAWL_PKCS11_H
#define PAWL_PKCS11_H

#include "crypto/crypto.h"

/* Load the private key that uri names and return a signer for it
 * (signer_kind() "pkcs11"). The caller frees it with signer_free().
 *
 * uri: "pkcs11:" path attributes separated by ';' and, after '?', query
 * attributes separated by '&'; values percent-encoded (write a space as
 * %20). Path: token, manufacturer, model, serial, slot-id,
 * slot-description, slot-manufacturer, library-manufacturer,
 * library-description, library-version, object (CKA_LABEL), id (CKA_ID,
 * e.g. id=%01%02), type (only "private"). Query: module-path (an absolute
 * file name), pin-value, pin-source ("file:/path", "file:///path" or an
 * absolute path; the file's first line, without its line end, is the
 * PIN). pin-value and pin-source are also accepted in the path, as older
 * p11-kit URIs write them. module-name is not supported.
 *
 * The module: module-path, else $PAWL_PKCS11_MODULE, else p11-kit's proxy
 * module when it is installed (it serves every module p11-kit is
 * configured with). dlopen()ing a module runs its code: the URI and the
 * environment are trusted operator input.
 *
 * pin: used when the URI gives none (the URI's own PIN wins); may be NULL
 * when the token needs no login or has a protected authentication path
 * (a PIN pad). Not kept, not modified; the caller wipes its copy.
 *
 * Errors: PAWL_E_INVALID for a malformed or ambiguous URI, PAWL_E_NOT_FOUND
 * when no token or no private key matches, PAWL_E_KEY for a wrong or
 * missing PIN, a locked PIN, a module that cannot be loaded or a key that
 * may not sign, PAWL_E_IO for a module or PIN file that cannot be read,
 * PAWL_E_UNSUPPORTED for a key type, curve or mechanism pawl cannot use,
 * PAWL_E_POLICY for weak material. */
PAWL_MUST_USE int signer_load_pkcs11(pawl_signer **ret, const char *uri, const char *pin);

/* True when s names a PKCS#11 URI ("pkcs11:", any case), so that a program
 * can tell a token key from a key file. */
bool pkcs11_is_uri(const char *s);

#endif

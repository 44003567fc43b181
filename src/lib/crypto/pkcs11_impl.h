/*
 * pkcs11_impl.h - what the files of the PKCS#11 signer share; the
 * guarantees are listed in pkcs11.h. One concern per file:
 *
 *   pkcs11_uri.c     the RFC 7512 URI parser (strict, bounded, never
 *                    echoes a PIN) and the PIN-free name used in messages
 *   pkcs11_pin.c     PINs: from the URI, a pin-source file or the caller;
 *                    kept in the secure heap and wiped
 *   pkcs11_module.c  the module registry: one dlopen()/C_Initialize() per
 *                    module per process, reference counted, and per-token
 *                    login reference counts, so that one signer's
 *                    C_Logout() cannot log out another's session; CK_RV
 *                    names for messages
 *   pkcs11_der.c     the DER a token hands over or pawl hands on: curve
 *                    OIDs, EC points, ECDSA r||s to ECDSA-Sig-Value
 *   pkcs11_key.c     finding the token and the key, logging in, importing
 *                    the public half
 *   pkcs11.c         signing, and signer_load_pkcs11() tying it together
 *
 * Everything a token returns is untrusted in size: attribute lengths are
 * capped before anything is allocated, DER is read through a bounded
 * cursor, and a signature must have exactly the length its key implies.
 *
 * Not a public header; include it only from src/lib/crypto/pkcs11*.c (and
 * the URI fuzzer), and after every other header: see below.
 */
#ifndef PAWL_PKCS11_IMPL_H
#define PAWL_PKCS11_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "crypto/crypto_impl.h"
#include "crypto/pkcs11.h"
#include "util/buf.h"

/* p11-kit's copy of the OASIS header (plain PKCS#11 names, no p11-kit
 * library needed). Included last: in its compatibility mode it #defines
 * lower-case names such as "value" and "count" that must not rename
 * fields of the headers above. The build normally puts its directory on
 * the include path (pkg-config p11-kit-1); failing that, the Debian and
 * Fedora location under /usr/include is used. */
#if __has_include(<p11-kit/pkcs11.h>)
#include <p11-kit/pkcs11.h>
#else
#include <p11-kit-1/p11-kit/pkcs11.h>
#endif

#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS 0x40UL
#endif
#ifndef CKM_EDDSA
#define CKM_EDDSA 0x1057UL
#endif

/* ---------------- limits ---------------- */

#define P11_URI_MAX 4096u       /* a whole URI */
#define P11_PIN_MAX 256u        /* tokens allow far less; 256 covers passphrases */
#define P11_ATTR_MAX 4096u      /* labels, ids, EC parameters and points */
#define P11_SIG_MAX (RSA_MAX_BITS / 8) /* the largest signature we accept */
#define P11_SLOTS_MAX 1024u     /* slots a module may report */
#define P11_TOKENS_LISTED 8     /* token labels named in a "not found" message */

/* Lengths cross the API as CK_ULONG. */
_Static_assert(sizeof(CK_ULONG) >= sizeof(size_t), "CK_ULONG narrower than size_t");

/* ---------------- the URI (pkcs11_uri.c) ---------------- */

/* Every attribute RFC 7512 defines. */
enum {
	U_TOKEN,
	U_MANUFACTURER,
	U_MODEL,
	U_SERIAL,
	U_SLOT_ID,
	U_SLOT_DESCRIPTION,
	U_SLOT_MANUFACTURER,
	U_LIBRARY_MANUFACTURER,
	U_LIBRARY_DESCRIPTION,
	U_LIBRARY_VERSION,
	U_OBJECT,
	U_ID,
	U_TYPE,
	U_PIN_VALUE,
	U_PIN_SOURCE,
	U_MODULE_PATH,
	U_MODULE_NAME,
	U_COUNT
};

struct p11_uri {
	char *val[U_COUNT]; /* decoded, NUL-terminated; NULL when absent */
	size_t len[U_COUNT];
	CK_SLOT_ID slot_num;     /* when val[U_SLOT_ID] */
	CK_VERSION lib_ver;      /* when val[U_LIBRARY_VERSION] */
};

/* Parse uri (at most P11_URI_MAX bytes) into u, which must be zeroed.
 * Unknown attributes, attributes given twice or in the wrong part, bad
 * percent-encoding, NUL in a text attribute, type other than "private",
 * module-name, a relative module-path and pin-value with pin-source are
 * all PAWL_E_INVALID (module-name PAWL_E_UNSUPPORTED, length PAWL_E_LIMIT).
 * No message quotes a PIN. On failure u may hold some attributes: clear it
 * either way. */
PAWL_MUST_USE int p11_uri_parse(struct p11_uri *u, const char *uri);
/* Wipe and free every value (u stays usable, empty). */
void p11_uri_clear(struct p11_uri *u);
static inline void p11_uri_clearp(struct p11_uri *u) { p11_uri_clear(u); }
/* The URI again, without the PIN attributes and the module: what every
 * message uses to name the key (*ret malloc'd). It parses back to the same
 * shown attributes. */
PAWL_MUST_USE int p11_uri_display(const struct p11_uri *u, char **ret);

/* ---------------- PINs (pkcs11_pin.c) ---------------- */

/* A PIN in OpenSSL's secure heap (plain heap when none is set up), wiped
 * when released. */
struct p11_pin {
	char *p; /* NUL-terminated; NULL when there is none */
	size_t len;
};

void p11_pin_wipe(struct p11_pin *pin);
static inline void p11_pin_wipep(struct p11_pin *pin) { p11_pin_wipe(pin); }
/* The PIN for u: the URI's pin-value, else its pin-source file, else arg
 * (may be NULL); none at all leaves pin->p NULL. The URI's PIN wins: it is
 * the more specific of the two. */
PAWL_MUST_USE int p11_pin_get(struct p11_pin *pin, const struct p11_uri *u, const char *arg);

/* ---------------- modules and logins (pkcs11_module.c) ---------------- */

struct p11_login {
	struct p11_login *next;
	CK_SLOT_ID slot;
	unsigned refs;
	bool ours; /* pawl called C_Login, so pawl calls C_Logout */
};

struct p11_module {
	struct p11_module *next;
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	char *path;
	unsigned refs;
	bool finalize; /* pawl's C_Initialize succeeded, so pawl finalises */
	struct p11_login *logins;
};

/* The registry lock guards the registry and every login/logout; loads
 * hold it throughout (they are rare), signing does not take it. Every
 * p11_module_* and p11_login_* call is made with it held. */
void p11_registry_lock(void);
void p11_registry_unlock(void);

/* Load (or share) the module at path and C_Initialize it once. */
PAWL_MUST_USE int p11_module_get(struct p11_module **ret, const char *path);
/* Drop one reference; the last one finalises (if pawl initialised it)
 * and unloads. Accepts NULL. */
void p11_module_put(struct p11_module *m);
/* $PAWL_PKCS11_MODULE, else p11-kit's proxy module if installed, else
 * NULL. */
const char *p11_module_default(void);

/* The login this process holds on slot of m, or NULL. */
struct p11_login *p11_login_find(struct p11_module *m, CK_SLOT_ID slot);
/* Record a login (ours: pawl logged in, so pawl logs out) with one
 * reference. */
PAWL_MUST_USE int p11_login_add(struct p11_module *m, CK_SLOT_ID slot, bool ours,
				struct p11_login **ret);
/* Drop one reference; the last one logs the token out through session
 * (if pawl logged it in). */
void p11_login_put(struct p11_module *m, struct p11_login *l, CK_SESSION_HANDLE session);

/* Set the error "<message>: CKR_NAME" with code (PAWL_E_NOMEM when the
 * module ran out of memory); returns the code. */
int PAWL_PRINTF(3, 4) p11_rv_fail(int code, CK_RV rv, const char *fmt, ...);

/* A module may use OpenSSL itself, in this process, and leave errors on
 * this thread's queue (SoftHSM2 leaves "no such engine" behind on every
 * C_Initialize). pawl's messages report the earliest queued error, so
 * calls into a module are bracketed with ERR_set_mark() and
 * ERR_pop_to_mark(), and this drops what the module left before pawl's own
 * OpenSSL calls. */
void p11_drop_module_errors(void);

/* ---------------- DER (pkcs11_der.c) ---------------- */

enum p11_curve { P11_CURVE_P256, P11_CURVE_P384, P11_CURVE_ED25519, P11_CURVE_OTHER };

/* The curve that CKA_EC_PARAMS names: its OID, or for Edwards curves
 * (PKCS#11 3.0) also the PrintableString "edwards25519". */
enum p11_curve p11_ec_curve(const uint8_t *p, size_t n);
/* The point in CKA_EC_POINT (a DER OCTET STRING, or the bare point some
 * modules return), when its length is a or b; false otherwise. *ret
 * points into p. */
bool p11_ec_point(const uint8_t *p, size_t n, size_t a, size_t b, const uint8_t **ret,
		  size_t *ret_len);
/* r || s, each half of raw, as a DER ECDSA-Sig-Value (*ret malloc'd). */
PAWL_MUST_USE int p11_ecdsa_der(const uint8_t *raw, size_t len, uint8_t **ret,
				size_t *ret_len);

/* ---------------- the signer (pkcs11_key.c, pkcs11.c) ---------------- */

struct p11_signer {
	struct p11_module *mod;
	struct p11_login *login;   /* NULL when no login was needed */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session; /* CK_INVALID_HANDLE until opened */
	CK_OBJECT_HANDLE key;
	CK_MECHANISM_TYPE mech;
	key_kind kind;
	size_t siglen;             /* what the token must return */
	bool always_auth;          /* CKA_ALWAYS_AUTHENTICATE */
	struct p11_pin pin;        /* only when always_auth */
	pid_t pid;
	bool lock_ok;
	pthread_mutex_t lock;      /* one operation at a time per session */
	char *name;                /* the URI without PIN or module */
};

/* Everything that touches the module, with the registry lock held: load
 * the module, find the one token and the one private key u names, log in
 * with pin, and import the public half into *ret (setting t->kind, mech
 * and siglen). pin is wiped by the caller, or moved into t when the key
 * needs it for every signature. */
PAWL_MUST_USE int p11_open_key(struct p11_signer *t, const struct p11_uri *u,
			       struct p11_pin *pin, EVP_PKEY **ret);

#endif

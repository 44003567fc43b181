/*
 * test_pkcs11.c - the PKCS#11 signer against a throwaway SoftHSM2 token.
 *
 * The token is made here through PKCS#11 itself (C_InitToken, C_InitPIN,
 * C_GenerateKeyPair), so the test needs libsofthsm2.so and nothing else:
 * no softhsm2-util, no pkcs11-tool. SOFTHSM2_CONF points at a config in a
 * temporary directory, so no system token is touched. Without SoftHSM2 the
 * test exits 77 (meson: skipped).
 *
 * Every key kind signs through the pawl_signer API and verifies with
 * key_verify(); a root signed by three token keys passes md_verify(). Each
 * rejection has its case: wrong or missing PIN, missing token and object,
 * ambiguous URIs, malformed URIs, a module that does not exist or is not
 * a PKCS#11 module, weak and unusable keys, a public object that does not
 * belong to its private key, use after fork().
 *
 * SoftHSM2 leaks a little on every EC signature; under AddressSanitizer
 * the test suppresses exactly that (see "sanitizers" below and
 * tests/data/pkcs11/lsan.supp for runners that set LSAN_OPTIONS).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "crypto/crypto.h"
#include "crypto/pkcs11.h"
#include "metadata/metadata.h"
#include "pawl/common.h"
#include "testing.h"

/* Last: see src/lib/crypto/pkcs11_impl.h. */
#if __has_include(<p11-kit/pkcs11.h>)
#include <p11-kit/pkcs11.h>
#else
#include <p11-kit-1/p11-kit/pkcs11.h>
#endif

#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS 0x40UL
#endif
#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#endif

#define TOKEN "pawl-test"
#define TOKEN2 "pawl-two"
#define PIN "1234"
#define SO_PIN "5678"

static char module[1024];
static char *tmpdir;
static void *dl;
static CK_FUNCTION_LIST_PTR fl;

#define CK(expr)                                                               \
	do {                                                                   \
		CK_RV ck_rv_ = (expr);                                         \
		if (ck_rv_ != CKR_OK)                                          \
			fail_msg("%s -> 0x%lx", #expr, (unsigned long)ck_rv_); \
	} while (0)

/* ---------------- the token ---------------- */

static CK_SLOT_ID slot_where(const char *label, bool initialised)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;

	CK(fl->C_GetSlotList(CK_TRUE, slots, &n));
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		size_t len = sizeof(ti.label);

		CK(fl->C_GetTokenInfo(slots[i], &ti));
		if (!initialised && !(ti.flags & CKF_TOKEN_INITIALIZED))
			return slots[i];
		while (len > 0 && ti.label[len - 1] == ' ')
			len--;
		if (initialised && (ti.flags & CKF_TOKEN_INITIALIZED) && label &&
		    len == strlen(label) && memcmp(ti.label, label, len) == 0)
			return slots[i];
	}
	fail_msg("no slot for %s", label ? label : "(free)");
	return 0;
}

/* A new token with SO PIN SO_PIN and user PIN PIN; returns a user
 * session. */
static CK_SESSION_HANDLE make_token(const char *label)
{
	CK_UTF8CHAR padded[32];
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot = slot_where(NULL, false);

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	CK(fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), padded));
	slot = slot_where(label, true); /* SoftHSM2 gives it a new slot id */
	CK(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CK(fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)));
	CK(fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)));
	CK(fl->C_Logout(s));
	CK(fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)));
	return s;
}

struct gen {
	const char *label;
	uint8_t id;
	CK_MECHANISM_TYPE mech;
	const uint8_t *ecparams;
	size_t ecparams_len;
	CK_ULONG bits; /* RSA */
	bool no_sign;
	bool always_auth;
};

static void gen(CK_SESSION_HANDLE s, const struct gen *g, CK_OBJECT_HANDLE *ret_pub,
		CK_OBJECT_HANDLE *ret_priv)
{
	static const uint8_t e65537[] = { 1, 0, 1 };
	CK_BBOOL yes = CK_TRUE, sign = g->no_sign ? CK_FALSE : CK_TRUE;
	CK_MECHANISM m = { g->mech, NULL, 0 };
	CK_ATTRIBUTE pub[6] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)g->label, strlen(g->label) },
		{ CKA_ID, (void *)&g->id, 1 },
	};
	CK_ATTRIBUTE priv[8] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_LABEL, (void *)g->label, strlen(g->label) },
		{ CKA_ID, (void *)&g->id, 1 },
	};
	CK_ULONG npub = 4, npriv = 6;
	CK_OBJECT_HANDLE h1, h2;

	if (g->ecparams) {
		pub[npub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)g->ecparams, g->ecparams_len };
	} else {
		pub[npub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, (void *)&g->bits, sizeof(g->bits) };
		pub[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof(e65537) };
	}
	if (g->always_auth)
		priv[npriv++] = (CK_ATTRIBUTE){ CKA_ALWAYS_AUTHENTICATE, &yes, sizeof(yes) };
	CK(fl->C_GenerateKeyPair(s, &m, pub, npub, priv, npriv, &h1, &h2));
	if (ret_pub)
		*ret_pub = h1;
	if (ret_priv)
		*ret_priv = h2;
}

static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* What OpenSC's pkcs11-tool writes: PrintableString "edwards25519". */
static const uint8_t str_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
				       '2', '5', '5', '1', '9' };

#define EC(oid) (oid), sizeof(oid), 0

static void make_tokens(void)
{
	const struct gen keys[] = {
		{ "ed", 0x01, CKM_EC_EDWARDS_KEY_PAIR_GEN, EC(oid_ed25519), false, false },
		{ "p256", 0x02, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false, false },
		{ "p384", 0x03, CKM_EC_KEY_PAIR_GEN, EC(oid_p384), false, false },
		{ "rsa", 0x04, CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, 3072, false, false },
		{ "ed-str", 0x05, CKM_EC_EDWARDS_KEY_PAIR_GEN, EC(str_ed25519), false, false },
		{ "rsa1024", 0x06, CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, 1024, false, false },
		{ "nosign", 0x07, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), true, false },
		{ "dup", 0x08, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false, false },
		{ "dup", 0x09, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false, false },
		{ "always", 0x0a, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false, true },
		{ "label with space/and;semicolon", 0x0e, CKM_EC_EDWARDS_KEY_PAIR_GEN,
		  EC(oid_ed25519), false, false },
	};
	const struct gen nopub = { "nopub", 0x0b, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false, false };
	const struct gen rsa_nopub = { "rsa-nopub", 0x0f, CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, 2048,
				       false, false };
	const struct gen mis_a = { "mismatch", 0x0c, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false,
				   false };
	const struct gen mis_b = { "other", 0x0d, CKM_EC_KEY_PAIR_GEN, EC(oid_p256), false, false };
	CK_OBJECT_HANDLE pub, pub_b;
	CK_SESSION_HANDLE s;
	uint8_t id_c = 0x0c;
	CK_ATTRIBUTE set_id = { CKA_ID, &id_c, 1 };

	s = make_token(TOKEN);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		gen(s, &keys[i], NULL, NULL);
	/* A private key whose public object is gone. */
	gen(s, &nopub, &pub, NULL);
	CK(fl->C_DestroyObject(s, pub));
	gen(s, &rsa_nopub, &pub, NULL);
	CK(fl->C_DestroyObject(s, pub));
	/* "mismatch": its public object is another key's. */
	gen(s, &mis_a, &pub, NULL);
	gen(s, &mis_b, &pub_b, NULL);
	CK(fl->C_DestroyObject(s, pub));
	CK(fl->C_SetAttributeValue(s, pub_b, &set_id, 1));
	CK(fl->C_Logout(s));
	CK(fl->C_CloseSession(s));

	/* A second token with an "ed" key, so that "object=ed" alone is
	 * ambiguous. SoftHSM2 offers a new blank slot only when it is
	 * initialised again. */
	CK(fl->C_Finalize(NULL));
	CK(fl->C_Initialize(NULL));
	s = make_token(TOKEN2);
	gen(s, &keys[0], NULL, NULL);
	CK(fl->C_Logout(s));
	CK(fl->C_CloseSession(s));
}

static int module_open(void)
{
	CK_C_GetFunctionList get;

	dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return -1;
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (!get || get(&fl) != CKR_OK)
		return -1;
	return 0;
}

static void module_close(void)
{
	if (dl)
		dlclose(dl);
	dl = NULL;
	fl = NULL;
}

/* ---------------- helpers ---------------- */

/* "pkcs11:<path>?module-path=<module>" in a static buffer. */
static const char *uri(const char *path)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "pkcs11:%s?module-path=%s", path, module);
	return buf;
}

/* A whole URI, printf-style, in a static buffer. */
static const char *PAWL_PRINTF(1, 2) fmt_uri(const char *fmt, ...)
{
	static char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static const char msg[] = "{\"signed\":{\"_type\":\"targets\",\"version\":1}}";

/* Sign, verify, and check that a changed message or signature fails. */
static void sign_and_verify(const pawl_signer *s)
{
	_cleanup_key_ pawl_key *pub = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char forged[sizeof(msg)];

	t_ok(signer_public(s, &pub));
	t_ok(signer_sign(s, msg, strlen(msg), &sig, &siglen));
	t_ok(key_verify(pub, msg, strlen(msg), sig, siglen));
	memcpy(forged, msg, sizeof(msg));
	forged[3] ^= 1;
	t_fails(key_verify(pub, forged, strlen(forged), sig, siglen), PAWL_E_SIGNATURE);
	sig[siglen / 2] ^= 0x40;
	t_fails(key_verify(pub, msg, strlen(msg), sig, siglen), PAWL_E_SIGNATURE);
	ERR_clear_error();
	free(sig);
	/* The empty message too. */
	t_ok(signer_sign(s, "", 0, &sig, &siglen));
	t_ok(key_verify(pub, "", 0, sig, siglen));
	free(sig);
}

/* The key as a TUF key object and back: what a client would read. */
static void json_roundtrip(const pawl_signer *s)
{
	_cleanup_pj_doc_ pj_doc *doc = NULL;
	_cleanup_key_ pawl_key *pub = NULL, *back = NULL;
	uint8_t *sig = NULL;
	size_t siglen;

	t_ok(signer_public(s, &pub));
	t_ok(pj_doc_new(&doc));
	t_ok(key_to_json(pub, doc, pj_root(doc)));
	t_ok(key_from_json(&back, pj_root(doc), NULL));
	assert_string_equal(key_id(back), signer_keyid(s));
	t_ok(signer_sign(s, msg, strlen(msg), &sig, &siglen));
	t_ok(key_verify(back, msg, strlen(msg), sig, siglen));
	free(sig);
}

static void load_fails(const char *u, const char *pin, int code)
{
	pawl_signer *s = NULL;

	ERR_clear_error(); /* what SoftHSM2 left from the test's own calls */
	t_fails(signer_load_pkcs11(&s, u, pin), code);
	assert_null(s);
	assert_int_equal(ERR_peek_error(), 0);
}

/* Signatures per second over about 0.3 s. */
static double rate(const pawl_signer *s)
{
	struct timespec a, b;
	double el;
	int n = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		uint8_t *sig;
		size_t siglen;

		t_ok(signer_sign(s, msg, strlen(msg), &sig, &siglen));
		free(sig);
		n++;
		clock_gettime(CLOCK_MONOTONIC, &b);
		el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	} while (el < 0.3);
	return n / el;
}

/* ---------------- signing ---------------- */

static void test_each_kind(void **state)
{
	static const struct {
		const char *attrs, *keytype, *scheme;
	} cases[] = {
		{ "token=" TOKEN ";object=ed", "ed25519", "ed25519" },
		{ "token=" TOKEN ";object=ed-str", "ed25519", "ed25519" },
		{ "token=" TOKEN ";object=p256", "ecdsa", "ecdsa-sha2-nistp256" },
		{ "token=" TOKEN ";object=p384", "ecdsa", "ecdsa-sha2-nistp384" },
		{ "token=" TOKEN ";object=rsa", "rsa", "rsassa-pss-sha256" },
		/* RSA without a public object: the private key's modulus. */
		{ "token=" TOKEN ";object=rsa-nopub", "rsa", "rsassa-pss-sha256" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_signer_ pawl_signer *s = NULL;
		_cleanup_key_ pawl_key *pub = NULL;

		t_ok(signer_load_pkcs11(&s, uri(cases[i].attrs), PIN));
		assert_string_equal(signer_kind(s), "pkcs11");
		t_ok(signer_public(s, &pub));
		assert_string_equal(key_type(pub), cases[i].keytype);
		assert_string_equal(key_scheme(pub), cases[i].scheme);
		assert_int_equal(strlen(signer_keyid(s)), 64);
		sign_and_verify(s);
		json_roundtrip(s);
	}
}

/* The Ed25519 public key is the token's CKA_EC_POINT, byte for byte. */
static void test_public_is_the_tokens(void **state)
{
	_cleanup_signer_ pawl_signer *s = NULL;
	_cleanup_key_ pawl_key *pub = NULL;
	CK_SESSION_HANDLE sess;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	uint8_t id = 0x01, point[64];
	CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, &id, 1 } };
	CK_ATTRIBUTE a = { CKA_EC_POINT, point, sizeof(point) };
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	char hex[65];

	(void)state;
	/* Initialised here first, so pawl must not finalise it. */
	CK(fl->C_Initialize(NULL));
	t_ok(signer_load_pkcs11(&s, uri("token=" TOKEN ";object=ed"), PIN));
	t_ok(signer_public(s, &pub));

	CK(fl->C_OpenSession(slot_where(TOKEN, true), CKF_SERIAL_SESSION, NULL, NULL, &sess));
	CK(fl->C_FindObjectsInit(sess, tmpl, 2));
	CK(fl->C_FindObjects(sess, &h, 1, &n));
	CK(fl->C_FindObjectsFinal(sess));
	assert_int_equal(n, 1);
	CK(fl->C_GetAttributeValue(sess, h, &a, 1));
	assert_int_equal(a.ulValueLen, 34); /* OCTET STRING of 32 */
	hex_encode(hex, point + 2, 32);
	assert_string_equal(key_public(pub), hex);
	CK(fl->C_CloseSession(sess));
	signer_free(TAKE_PTR(s)); /* not finalised: the test initialised it */
	CK(fl->C_Finalize(NULL));
}

/* A root signed by three token keys, serialised and read back, verifies;
 * with two signatures of three it does not. */
static void test_metadata(void **state)
{
	static const char *const names[] = { "ed", "p256", "rsa" };
	pawl_signer *s[3] = { NULL };
	const char *ids[3];
	_cleanup_md_ pawl_md *md = NULL, *back = NULL;
	char *buf;
	size_t len;

	(void)state;
	t_ok(md_new(&md, MD_ROOT, 1, 4102444800 /* 2100 */));
	for (int i = 0; i < 3; i++) {
		char attrs[64];
		_cleanup_key_ pawl_key *pub = NULL;

		snprintf(attrs, sizeof(attrs), "token=" TOKEN ";object=%s", names[i]);
		t_ok(signer_load_pkcs11(&s[i], uri(attrs), PIN));
		t_ok(signer_public(s[i], &pub));
		t_ok(md_root_add_key(md, pub));
		ids[i] = signer_keyid(s[i]);
	}
	for (int r = 0; r < MD_NTOP; r++)
		t_ok(md_root_set_role(md, (md_type)r, ids, 3, 3));
	for (int i = 0; i < 3; i++)
		t_ok(md_sign(md, s[i]));
	t_ok(md_serialize(md, &buf, &len));
	t_ok(md_parse(&back, buf, len, MD_ROOT, NULL));
	t_ok(md_verify(back, &back->keys, md_root_role(back, MD_ROOT), "root"));
	md_free(TAKE_PTR(back));

	t_ok(md_clear_signatures(md));
	t_ok(md_sign(md, s[0]));
	t_ok(md_sign(md, s[2]));
	t_ok(md_serialize(md, &buf, &len));
	t_ok(md_parse(&back, buf, len, MD_ROOT, NULL));
	t_fails(md_verify(back, &back->keys, md_root_role(back, MD_ROOT), "root"),
		PAWL_E_SIGNATURE);
	for (int i = 0; i < 3; i++)
		signer_free(s[i]);
}

/* ---------------- URI forms and PIN sources ---------------- */

static void load_ok(const char *u, const char *pin)
{
	_cleanup_signer_ pawl_signer *s = NULL;

	t_ok(signer_load_pkcs11(&s, u, pin));
	sign_and_verify(s);
}

static void test_uri_forms(void **state)
{
	char attrs[512], pinfile[512];
	const char *u;
	CK_INFO info;

	(void)state;
	load_ok(uri("token=" TOKEN ";id=%02"), PIN);
	load_ok(uri("token=" TOKEN ";object=p256;id=%02;type=private"), PIN);
	load_ok(uri("token=pawl%2Dtest;object=%65%64"), PIN); /* "pawl-test", "ed" */
	load_ok(uri("token=" TOKEN ";object=dup;id=%09"), PIN);
	load_ok(uri("token=" TOKEN ";object=label%20with%20space/and%3Bsemicolon"), PIN);
	load_ok(uri("token=" TOKEN ";object=ed;manufacturer=SoftHSM%20project;"
		    "model=SoftHSM%20v2;library-manufacturer=SoftHSM"),
		PIN);
	/* The module's own version, whatever it is. */
	CK(fl->C_Initialize(NULL));
	CK(fl->C_GetInfo(&info));
	snprintf(attrs, sizeof(attrs), "token=" TOKEN ";object=ed;slot-id=%lu;library-version=%u.%u",
		 (unsigned long)slot_where(TOKEN, true), info.libraryVersion.major,
		 info.libraryVersion.minor);
	CK(fl->C_Finalize(NULL));
	load_ok(uri(attrs), PIN);

	/* PINs: in the query, in the path, from a file; the URI's wins. */
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?module-path=%s&pin-value=" PIN,
		 module);
	load_ok(u, NULL);
	load_ok(u, "98765");
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed;pin-value=" PIN "?module-path=%s",
		 module);
	load_ok(u, NULL);
	snprintf(pinfile, sizeof(pinfile), "%s/pin", tmpdir);
	t_write_file(pinfile, PIN "\n", strlen(PIN) + 1);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=file:%s&module-path=%s",
		 pinfile, module);
	load_ok(u, NULL);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=file://%s&module-path=%s",
		 pinfile, module);
	load_ok(u, NULL);
	t_write_file(pinfile, PIN, strlen(PIN));
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=%s&module-path=%s",
		 pinfile, module);
	load_ok(u, NULL);
	/* The scheme in any case. */
	u = fmt_uri("PKCS11:token=" TOKEN ";object=ed?module-path=%s", module);
	load_ok(u, PIN);
	assert_true(pkcs11_is_uri("pkcs11:"));
	assert_true(pkcs11_is_uri("Pkcs11:object=x"));
	assert_false(pkcs11_is_uri("pkcs11"));
	assert_false(pkcs11_is_uri("/keys/pkcs11:x"));
	assert_false(pkcs11_is_uri(NULL));
}

static void test_module_from_env(void **state)
{
	_cleanup_signer_ pawl_signer *s = NULL;

	(void)state;
	setenv("PAWL_PKCS11_MODULE", module, 1);
	t_ok(signer_load_pkcs11(&s, "pkcs11:token=" TOKEN ";object=p256", PIN));
	sign_and_verify(s);
	setenv("PAWL_PKCS11_MODULE", "relative/module.so", 1);
	load_fails("pkcs11:token=" TOKEN ";object=p256", PIN, PAWL_E_INVALID);
	setenv("PAWL_PKCS11_MODULE", "/nonexistent/module.so", 1);
	load_fails("pkcs11:token=" TOKEN ";object=p256", PIN, PAWL_E_IO);
	unsetenv("PAWL_PKCS11_MODULE");
}

/* p11-kit's proxy, the default module, serves SoftHSM2 through its
 * module registration. Skipped where either is not installed. */
static void test_proxy(void **state)
{
	static const char proxy[] = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so";
	_cleanup_signer_ pawl_signer *s = NULL;
	struct stat st;

	(void)state;
	if (stat(proxy, &st) != 0 || stat("/usr/share/p11-kit/modules/softhsm2.module", &st) != 0)
		skip();
	unsetenv("PAWL_PKCS11_MODULE");
	t_ok(signer_load_pkcs11(&s, "pkcs11:token=" TOKEN ";object=ed", PIN));
	sign_and_verify(s);
}

/* ---------------- sharing a module and a token ---------------- */

static CK_STATE session_state(CK_SESSION_HANDLE sess)
{
	CK_SESSION_INFO si;

	CK(fl->C_GetSessionInfo(sess, &si));
	return si.state;
}

/* Two signers on one token: freeing the first must not log out the
 * second; the last one logs out (only what pawl logged in) and the module
 * stays initialised for whoever initialised it. */
static void test_shared_login(void **state)
{
	pawl_signer *a = NULL, *b = NULL;
	CK_SESSION_HANDLE sess;

	(void)state;
	CK(fl->C_Initialize(NULL));
	CK(fl->C_OpenSession(slot_where(TOKEN, true), CKF_SERIAL_SESSION, NULL, NULL, &sess));
	assert_int_equal(session_state(sess), CKS_RO_PUBLIC_SESSION);

	t_ok(signer_load_pkcs11(&a, uri("token=" TOKEN ";object=ed"), PIN));
	assert_int_equal(session_state(sess), CKS_RO_USER_FUNCTIONS);
	/* Already logged in by a: b's PIN is not asked again (documented). */
	t_ok(signer_load_pkcs11(&b, uri("token=" TOKEN ";object=p256"), "98765"));
	signer_free(a);
	assert_int_equal(session_state(sess), CKS_RO_USER_FUNCTIONS);
	sign_and_verify(b);
	signer_free(b);
	assert_int_equal(session_state(sess), CKS_RO_PUBLIC_SESSION);

	/* Logged in by someone else: pawl leaves it so. */
	CK(fl->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)));
	t_ok(signer_load_pkcs11(&a, uri("token=" TOKEN ";object=ed"), NULL));
	sign_and_verify(a);
	signer_free(a);
	assert_int_equal(session_state(sess), CKS_RO_USER_FUNCTIONS);
	CK(fl->C_Logout(sess));
	CK(fl->C_CloseSession(sess));
	CK(fl->C_Finalize(NULL)); /* still initialised: pawl did not finalise */
}

/* A key that wants the PIN before every signature. */
static void test_always_authenticate(void **state)
{
	_cleanup_signer_ pawl_signer *s = NULL;

	(void)state;
	t_ok(signer_load_pkcs11(&s, uri("token=" TOKEN ";object=always"), PIN));
	sign_and_verify(s);
	sign_and_verify(s);
}

static void test_fork(void **state)
{
	_cleanup_signer_ pawl_signer *s = NULL;
	pid_t pid;
	int status;

	(void)state;
	t_ok(signer_load_pkcs11(&s, uri("token=" TOKEN ";object=ed"), PIN));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t *sig = NULL;
		size_t siglen;
		int r = signer_sign(s, msg, strlen(msg), &sig, &siglen);

		signer_free(s); /* must not call into the module */
		_exit(r == PAWL_E_KEY && !sig ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sign_and_verify(s);
}

/* ---------------- rejections ---------------- */

static void test_wrong_pin(void **state)
{
	const char *u;

	(void)state;
	load_fails(uri("token=" TOKEN ";object=ed"), "98765", PAWL_E_KEY);
	assert_non_null(strstr(pawl_error_last()->message, "wrong PIN"));
	assert_null(strstr(pawl_error_last()->message, "98765"));
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-value=98765&module-path=%s",
		 module);
	load_fails(u, PIN, PAWL_E_KEY);
	assert_null(strstr(pawl_error_last()->message, "98765"));
	/* No PIN at all. */
	load_fails(uri("token=" TOKEN ";object=ed"), NULL, PAWL_E_KEY);
	assert_non_null(strstr(pawl_error_last()->message, "needs a PIN"));
	load_fails(uri("token=" TOKEN ";object=ed"), "", PAWL_E_INVALID);
}

static void test_pin_source_rejections(void **state)
{
	char path[512], link[512];
	const char *u;

	(void)state;
	snprintf(path, sizeof(path), "%s/pin2", tmpdir);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=file:%s&module-path=%s",
		 path, module);
	load_fails(u, NULL, PAWL_E_NOT_FOUND);
	t_write_file(path, PIN "\n" PIN "\n", 2 * strlen(PIN) + 2);
	load_fails(u, NULL, PAWL_E_INVALID);
	t_write_file(path, "", 0);
	load_fails(u, NULL, PAWL_E_INVALID);
	/* A symbolic link is refused, as for key files. */
	t_write_file(path, PIN, strlen(PIN));
	snprintf(link, sizeof(link), "%s/pin-link", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=file:%s&module-path=%s",
		 link, module);
	load_fails(u, NULL, PAWL_E_IO);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=relative/pin&module-path=%s",
		 module);
	load_fails(u, NULL, PAWL_E_INVALID);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?pin-source=file://host/pin&module-path=%s",
		 module);
	load_fails(u, NULL, PAWL_E_INVALID);
}

static void test_not_found(void **state)
{
	(void)state;
	load_fails(uri("token=" TOKEN ";object=nosuchkey"), PIN, PAWL_E_NOT_FOUND);
	assert_non_null(strstr(pawl_error_last()->message, "object=nosuchkey"));
	load_fails(uri("token=" TOKEN ";id=%7f"), PIN, PAWL_E_NOT_FOUND);
	load_fails(uri("token=" TOKEN ";object=ed;id=%02"), PIN, PAWL_E_NOT_FOUND);
	load_fails(uri("token=nosuchtoken;object=ed"), PIN, PAWL_E_NOT_FOUND);
	/* The message lists the tokens there are. */
	assert_non_null(strstr(pawl_error_last()->message, "\"" TOKEN "\""));
	load_fails(uri("token=" TOKEN ";object=ed;serial=0000"), PIN, PAWL_E_NOT_FOUND);
	load_fails(uri("token=" TOKEN ";object=ed;library-manufacturer=Acme"), PIN,
		   PAWL_E_NOT_FOUND);
	load_fails(uri("token=" TOKEN ";object=ed;slot-id=4242"), PIN, PAWL_E_NOT_FOUND);
	/* The private key is there, its public object is not. */
	load_fails(uri("token=" TOKEN ";object=nopub"), PIN, PAWL_E_NOT_FOUND);
}

static void test_ambiguous(void **state)
{
	(void)state;
	load_fails(uri("token=" TOKEN ";object=dup"), PIN, PAWL_E_INVALID);
	assert_non_null(strstr(pawl_error_last()->message, "several private keys"));
	load_fails(uri("token=" TOKEN), PIN, PAWL_E_INVALID);
	load_fails(uri("object=ed"), PIN, PAWL_E_INVALID); /* on both tokens */
	assert_non_null(strstr(pawl_error_last()->message, "2 tokens match"));
	/* The token must be unambiguous by itself, even where only one of
	 * them holds the key: a PIN is never tried on a token the URI did
	 * not single out. */
	load_fails(uri("object=p384"), PIN, PAWL_E_INVALID);
}

static void test_unusable_keys(void **state)
{
	_cleanup_signer_ pawl_signer *s = NULL;
	uint8_t *sig = NULL;
	size_t siglen;

	(void)state;
	load_fails(uri("token=" TOKEN ";object=rsa1024"), PIN, PAWL_E_POLICY);
	load_fails(uri("token=" TOKEN ";object=nosign"), PIN, PAWL_E_KEY);
	/* The public object with this id belongs to another key: every
	 * signature fails the self-check, none is handed out. */
	t_ok(signer_load_pkcs11(&s, uri("token=" TOKEN ";object=mismatch"), PIN));
	t_fails(signer_sign(s, msg, strlen(msg), &sig, &siglen), PAWL_E_KEY);
	assert_null(sig);
	assert_non_null(strstr(pawl_error_last()->message, "self-check"));
	ERR_clear_error();
}

static void test_bad_modules(void **state)
{
	char path[600];
	const char *u;

	(void)state;
	load_fails("pkcs11:token=" TOKEN ";object=ed?module-path=/nonexistent/libfoo.so", PIN,
		   PAWL_E_IO);
	assert_non_null(strstr(pawl_error_last()->message, "/nonexistent/libfoo.so"));
	load_fails("pkcs11:token=" TOKEN ";object=ed?module-path=/tmp", PIN, PAWL_E_IO);
	/* Not a shared object. */
	snprintf(path, sizeof(path), "%s/not-a-module.so", tmpdir);
	t_write_file(path, "hello\n", 6);
	u = fmt_uri("pkcs11:token=" TOKEN ";object=ed?module-path=%s/not-a-module.so",
		 tmpdir);
	load_fails(u, PIN, PAWL_E_KEY);
	/* A shared object that is not a PKCS#11 module. */
	if (access("/lib/x86_64-linux-gnu/libc.so.6", R_OK) == 0) {
		load_fails("pkcs11:object=ed?module-path=/lib/x86_64-linux-gnu/libc.so.6", PIN,
			   PAWL_E_KEY);
		assert_non_null(strstr(pawl_error_last()->message, "not a PKCS#11 module"));
	}
}

static void test_malformed_uris(void **state)
{
	static const char *const bad[] = {
		"",
		"pkcs11",
		"pkcs12:token=a",
		"file:/x",
		"pkcs11:token",
		"pkcs11:=a",
		"pkcs11:token=",
		"pkcs11:token=a;token=b",
		"pkcs11:token=a;",
		"pkcs11:;token=a",
		"pkcs11:token=a;;object=b",
		"pkcs11:token=a?",
		"pkcs11:token=a?module-path=/x&",
		"pkcs11:object=a b",
		"pkcs11:object=a\tb",
		"pkcs11:object=a\"b",
		"pkcs11:object=\xc3\xa9",
		"pkcs11:object=%4",
		"pkcs11:object=%zz",
		"pkcs11:object=a%",
		"pkcs11:object=a%00b",
		"pkcs11:objet=a",
		"pkcs11:Token=a",
		"pkcs11:x-vendor=1",
		"pkcs11:token=a#frag",
		"pkcs11:type=public",
		"pkcs11:type=cert",
		"pkcs11:slot-id=abc",
		"pkcs11:slot-id=-1",
		"pkcs11:slot-id=+1",
		"pkcs11:slot-id=99999999999999999999999",
		"pkcs11:library-version=1.2.3",
		"pkcs11:library-version=256",
		"pkcs11:library-version=1.",
		"pkcs11:module-path=/usr/lib/x.so",
		"pkcs11:token=a?token=b",
		"pkcs11:token=a?module-path=relative.so",
		"pkcs11:token=a?pin-value=1&pin-source=file:/x",
		"pkcs11:token=a?module-path=/a&module-path=/b",
	};
	char big[5000];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		pawl_signer *s = NULL;
		int r = signer_load_pkcs11(&s, bad[i], PIN);

		if (r != PAWL_E_INVALID)
			print_error("\"%s\" -> %d: %s\n", bad[i], r, pawl_error_last()->message);
		assert_int_equal(r, PAWL_E_INVALID);
		assert_null(s);
	}
	load_fails(NULL, PIN, PAWL_E_INVALID);
	load_fails("pkcs11:token=a?module-name=softhsm2", PIN, PAWL_E_UNSUPPORTED);
	memcpy(big, "pkcs11:object=", 14);
	memset(big + 14, 'a', sizeof(big) - 15);
	big[sizeof(big) - 1] = '\0';
	load_fails(big, PIN, PAWL_E_LIMIT);
	/* A malformed PIN value is not echoed. */
	load_fails("pkcs11:token=a?pin-value=se cret", NULL, PAWL_E_INVALID);
	assert_null(strstr(pawl_error_last()->message, "cret"));
	load_fails("pkcs11:token=a?pin-value=12<34", NULL, PAWL_E_INVALID);
	assert_null(strchr(pawl_error_last()->message, '<'));
	load_fails("pkcs11:token=a;secretpin", NULL, PAWL_E_INVALID);
	assert_null(strstr(pawl_error_last()->message, "secretpin"));
}

static void test_rates(void **state)
{
	static const char *const names[] = { "ed", "p256", "p384", "rsa" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_signer_ pawl_signer *s = NULL;
		char attrs[64];

		snprintf(attrs, sizeof(attrs), "token=" TOKEN ";object=%s", names[i]);
		t_ok(signer_load_pkcs11(&s, uri(attrs), PIN));
		print_message("pkcs11 %-5s %8.0f signatures/s (sign + self-check)\n", names[i],
			      rate(s));
	}
}

/* ---------------- sanitizers ---------------- */

/* Under AddressSanitizer the test carries the rule of
 * tests/data/pkcs11/lsan.supp itself, so that a plain `meson test` passes:
 * SoftHSM2 leaks inside C_SignInit, and only stacks through
 * libsofthsm2.so are suppressed. Whole stacks are needed to see that
 * frame (libcrypto has no frame pointers). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAWL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PAWL_ASAN 1
#endif
#ifdef PAWL_ASAN
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsofthsm2.so\n";
}
const char *__lsan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}
#endif

/* ---------------- setup ---------------- */

static int setup(void)
{
	const char *m = getenv("PAWL_TEST_SOFTHSM");
	char conf[600], tokens[600], text[1400];

	snprintf(module, sizeof(module), "%s", m && *m ? m : "/usr/lib/softhsm/libsofthsm2.so");
	if (access(module, R_OK) != 0)
		return -1;
	tmpdir = t_mkdtemp();
	snprintf(tokens, sizeof(tokens), "%s/tokens", tmpdir);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", tmpdir);
	if (mkdir(tokens, 0700) != 0)
		return -1;
	snprintf(text, sizeof(text),
		 "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		 tokens);
	t_write_file(conf, text, strlen(text));
	setenv("SOFTHSM2_CONF", conf, 1);
	unsetenv("PAWL_PKCS11_MODULE");
	if (module_open() != 0)
		return -1;
	CK(fl->C_Initialize(NULL));
	make_tokens();
	CK(fl->C_Finalize(NULL));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_uris),
		cmocka_unit_test(test_bad_modules),
		cmocka_unit_test(test_each_kind),
		cmocka_unit_test(test_public_is_the_tokens),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_uri_forms),
		cmocka_unit_test(test_module_from_env),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_shared_login),
		cmocka_unit_test(test_always_authenticate),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_pin_source_rejections),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_ambiguous),
		cmocka_unit_test(test_unusable_keys),
		cmocka_unit_test(test_rates),
	};
	int r;

	if (setup() != 0) {
		fprintf(stderr, "test_pkcs11: SoftHSM2 (%s) not usable; skipped\n", module);
		module_close();
		return 77;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	module_close();
	t_rm_rf(tmpdir);
	free(tmpdir);
	return r;
}

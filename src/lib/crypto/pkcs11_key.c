/*
 * pkcs11_key.c - from a parsed URI to a key: the one token it names, a
 * session (read-only) and a login shared with the process's other signers,
 * the one private key it names, and its public half, imported and checked
 * like any other key. See pkcs11_impl.h.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "crypto/pkcs11_impl.h"

/* Fixed-size PKCS#11 text fields are padded with blanks (some modules use
 * NULs). */
static size_t padded_len(const CK_UTF8CHAR *f, size_t n)
{
	while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\0'))
		n--;
	return n;
}

static bool padded_eq(const CK_UTF8CHAR *f, size_t n, const struct p11_uri *u, size_t a)
{
	if (!u->val[a])
		return true;
	n = padded_len(f, n);
	return n == u->len[a] && memcmp(f, u->val[a], n) == 0;
}

static int check_library(const struct p11_signer *t, const struct p11_uri *u)
{
	CK_INFO info;
	CK_RV rv;

	if (!u->val[U_LIBRARY_MANUFACTURER] && !u->val[U_LIBRARY_DESCRIPTION] &&
	    !u->val[U_LIBRARY_VERSION])
		return 0;
	rv = t->mod->fl->C_GetInfo(&info);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetInfo failed",
				   t->mod->path);
	ENSURE(padded_eq(info.manufacturerID, sizeof(info.manufacturerID), u,
			 U_LIBRARY_MANUFACTURER) &&
		       padded_eq(info.libraryDescription, sizeof(info.libraryDescription), u,
				 U_LIBRARY_DESCRIPTION) &&
		       (!u->val[U_LIBRARY_VERSION] ||
			(info.libraryVersion.major == u->lib_ver.major &&
			 info.libraryVersion.minor == u->lib_ver.minor)),
	       PAWL_E_NOT_FOUND, "%.512s: module %.256s does not match the library-* attributes",
	       t->name, t->mod->path);
	return 0;
}

static int find_token(struct p11_signer *t, const struct p11_uri *u, CK_TOKEN_INFO *ret_info)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	_cleanup_free_ CK_SLOT_ID *slots = NULL;
	_cleanup_buf_ pawl_buf seen = PAWL_BUF_INIT(P11_TOKENS_LISTED * 40 + 16);
	CK_ULONG nslots = 0;
	size_t matches = 0, listed = 0;
	CK_RV rv;

	GUARD(check_library(t, u));
	rv = fl->C_GetSlotList(CK_TRUE, NULL, &nslots);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetSlotList failed",
				   t->mod->path);
	ENSURE(nslots <= P11_SLOTS_MAX, PAWL_E_LIMIT, "PKCS#11 module %.256s reports %lu slots",
	       t->mod->path, (unsigned long)nslots);
	ENSURE(nslots > 0, PAWL_E_NOT_FOUND, "%.512s: module %.256s has no token", t->name,
	       t->mod->path);
	slots = xcalloc(nslots, sizeof(*slots));
	if (!slots)
		return PAWL_E_NOMEM;
	rv = fl->C_GetSlotList(CK_TRUE, slots, &nslots);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_GetSlotList failed",
				   t->mod->path);

	for (CK_ULONG i = 0; i < nslots; i++) {
		CK_TOKEN_INFO ti;
		CK_SLOT_INFO si;

		if (u->val[U_SLOT_ID] && slots[i] != u->slot_num)
			continue;
		if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue; /* removed meanwhile */
		/* A blank token (SoftHSM's spare slot) holds no keys and
		 * would make every label-less URI ambiguous. */
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (listed < P11_TOKENS_LISTED) {
			int len = (int)padded_len(ti.label, sizeof(ti.label));

			if (buf_printf(&seen, "%s\"%.*s\"", listed ? ", " : "", len,
				       (const char *)ti.label) < 0)
				return PAWL_E_NOMEM;
			listed++;
		}
		if (!padded_eq(ti.label, sizeof(ti.label), u, U_TOKEN) ||
		    !padded_eq(ti.manufacturerID, sizeof(ti.manufacturerID), u, U_MANUFACTURER) ||
		    !padded_eq(ti.model, sizeof(ti.model), u, U_MODEL) ||
		    !padded_eq(ti.serialNumber, sizeof(ti.serialNumber), u, U_SERIAL))
			continue;
		if (u->val[U_SLOT_DESCRIPTION] || u->val[U_SLOT_MANUFACTURER]) {
			if (fl->C_GetSlotInfo(slots[i], &si) != CKR_OK)
				continue;
			if (!padded_eq(si.slotDescription, sizeof(si.slotDescription), u,
				       U_SLOT_DESCRIPTION) ||
			    !padded_eq(si.manufacturerID, sizeof(si.manufacturerID), u,
				       U_SLOT_MANUFACTURER))
				continue;
		}
		if (matches++ == 0) {
			t->slot = slots[i];
			*ret_info = ti;
		}
	}
	ENSURE(matches > 0, PAWL_E_NOT_FOUND, "%.512s: no such token in %.256s (tokens: %s)",
	       t->name, t->mod->path, listed ? seen.data : "none initialised");
	ENSURE(matches == 1, PAWL_E_INVALID,
	       "%.512s: %zu tokens match; name one with token=, serial= or slot-id=", t->name,
	       matches);
	return 0;
}

/* Open the session and make sure it may use private objects. */
static int open_session(struct p11_signer *t, const CK_TOKEN_INFO *ti, const struct p11_pin *pin)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_SESSION_INFO si;
	struct p11_login *l;
	int label_len = (int)padded_len(ti->label, sizeof(ti->label));
	const char *label = (const char *)ti->label;
	CK_RV rv;

	/* Read-only: signing needs nothing more, and a read-only session
	 * cannot create or destroy objects by mistake. */
	rv = fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &t->session);
	if (rv != CKR_OK) {
		t->session = CK_INVALID_HANDLE;
		return p11_rv_fail(PAWL_E_KEY, rv, "token \"%.*s\": C_OpenSession failed",
				   label_len, label);
	}
	l = p11_login_find(t->mod, t->slot);
	if (l) {
		/* Logged in for another pawl signer: the login is shared. */
		l->refs++;
		t->login = l;
		return 0;
	}
	rv = fl->C_GetSessionInfo(t->session, &si);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "token \"%.*s\": C_GetSessionInfo failed",
				   label_len, label);
	if (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)
		/* Someone else in this process logged in: theirs to undo. */
		return p11_login_add(t->mod, t->slot, false, &t->login);

	if (pin->p)
		rv = fl->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)pin->p,
				 (CK_ULONG)pin->len);
	else if (ti->flags & CKF_PROTECTED_AUTHENTICATION_PATH)
		rv = fl->C_Login(t->session, CKU_USER, NULL, 0); /* the PIN pad asks */
	else if (ti->flags & CKF_LOGIN_REQUIRED)
		return pawl_error_set(PAWL_E_KEY, "%.512s: token \"%.*s\" needs a PIN and none was given",
				      t->name, label_len, label);
	else
		return 0; /* no login: only public objects are visible */

	switch (rv) {
	case CKR_OK:
		return p11_login_add(t->mod, t->slot, true, &t->login);
	case CKR_USER_ALREADY_LOGGED_IN:
		return p11_login_add(t->mod, t->slot, false, &t->login);
	case CKR_PIN_INCORRECT:
		return pawl_error_set(PAWL_E_KEY, "%.512s: wrong PIN for token \"%.*s\"", t->name,
				      label_len, label);
	case CKR_PIN_LOCKED:
		return pawl_error_set(PAWL_E_KEY,
				      "%.512s: the PIN of token \"%.*s\" is locked (too many wrong "
				      "PINs); the security officer must unlock it",
				      t->name, label_len, label);
	case CKR_PIN_EXPIRED:
		return pawl_error_set(PAWL_E_KEY, "%.512s: the PIN of token \"%.*s\" has expired",
				      t->name, label_len, label);
	case CKR_PIN_LEN_RANGE:
		return pawl_error_set(PAWL_E_KEY,
				      "%.512s: wrong PIN for token \"%.*s\" (the token allows %lu "
				      "to %lu characters)",
				      t->name, label_len, label, (unsigned long)ti->ulMinPinLen,
				      (unsigned long)ti->ulMaxPinLen);
	default:
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: cannot log in to token \"%.*s\"",
				   t->name, label_len, label);
	}
}

/* Up to two objects matching tmpl: enough to tell none, one and too many
 * apart. */
static int find_objects(struct p11_signer *t, CK_ATTRIBUTE *tmpl, CK_ULONG n,
			CK_OBJECT_HANDLE found[2], size_t *ret_n)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_ULONG got = 0, total = 0;
	bool overrun = false;
	CK_RV rv;

	rv = fl->C_FindObjectsInit(t->session, tmpl, n);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: C_FindObjectsInit failed", t->name);
	/* A module may return fewer handles per call than it has. */
	do {
		got = 0;
		rv = fl->C_FindObjects(t->session, found + total, 2 - total, &got);
		if (rv != CKR_OK)
			break;
		overrun = got > 2 - total;
		if (overrun)
			break;
		total += got;
	} while (got > 0 && total < 2);
	(void)fl->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: C_FindObjects failed", t->name);
	ENSURE(!overrun, PAWL_E_KEY, "%.512s: C_FindObjects returned more handles than asked for",
	       t->name);
	*ret_n = total;
	return 0;
}

/* Read one attribute of at most max bytes into a malloc'd buffer.
 * *ret is NULL (and *ret_len 0) when the object does not have it or
 * will not reveal it. */
static int get_attr(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		    size_t max, uint8_t **ret, size_t *ret_len)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_ATTRIBUTE a = { type, NULL, 0 };
	_cleanup_free_ uint8_t *v = NULL;
	CK_ULONG want;
	CK_RV rv;

	*ret = NULL;
	*ret_len = 0;
	rv = fl->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		return 0;
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
				   (unsigned long)type);
	ENSURE(a.ulValueLen <= max, PAWL_E_LIMIT,
	       "%.512s: attribute 0x%lx of %lu bytes exceeds %zu", t->name, (unsigned long)type,
	       (unsigned long)a.ulValueLen, max);
	want = a.ulValueLen;
	v = xmalloc(want ? want : 1);
	if (!v)
		return PAWL_E_NOMEM;
	a.pValue = v;
	rv = fl->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
				   (unsigned long)type);
	ENSURE(a.ulValueLen <= want, PAWL_E_KEY, "%.512s: attribute 0x%lx changed size",
	       t->name, (unsigned long)type);
	*ret = TAKE_PTR(v);
	*ret_len = a.ulValueLen;
	return 0;
}

/* A CK_ULONG or CK_BBOOL attribute; *ret_present false when absent. */
static int get_ulong(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		     CK_ULONG *ret, bool *ret_present)
{
	CK_ATTRIBUTE a = { type, ret, sizeof(*ret) };
	CK_RV rv;

	rv = t->mod->fl->C_GetAttributeValue(t->session, obj, &a, 1);
	*ret_present = rv == CKR_OK && a.ulValueLen == sizeof(*ret);
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
		return 0;
	return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
			   (unsigned long)type);
}

static int get_bool(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		    bool dflt, bool *ret)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = { type, &b, sizeof(b) };
	CK_RV rv;

	rv = t->mod->fl->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == sizeof(b)) {
		*ret = b != CK_FALSE;
		return 0;
	}
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) {
		*ret = dflt;
		return 0;
	}
	return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: cannot read attribute 0x%lx", t->name,
			   (unsigned long)type);
}

static int find_private_key(struct p11_signer *t, const struct p11_uri *u)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ULONG n = 1;
	CK_OBJECT_HANDLE found[2];
	size_t nfound = 0;

	if (u->val[U_OBJECT])
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, u->val[U_OBJECT], u->len[U_OBJECT] };
	if (u->val[U_ID])
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, u->val[U_ID], u->len[U_ID] };
	GUARD(find_objects(t, tmpl, n, found, &nfound));
	ENSURE(nfound > 0, PAWL_E_NOT_FOUND, "%.512s: no such private key on the token%s", t->name,
	       t->login ? "" : " (not logged in: private keys are hidden without a PIN)");
	ENSURE(nfound == 1, PAWL_E_INVALID,
	       "%.512s: several private keys match; name one with object= and/or id=", t->name);
	t->key = found[0];
	return 0;
}

static void ossl_param_bld_freep(OSSL_PARAM_BLD **p) { OSSL_PARAM_BLD_free(*p); }
static void ossl_param_freep(OSSL_PARAM **p) { OSSL_PARAM_free(*p); }
static void bn_freep(BIGNUM **p) { BN_free(*p); }

static int pkey_from_params(EVP_PKEY **ret, const char *type, OSSL_PARAM_BLD *bld,
			    const char *name)
{
	_cleanup_(ossl_param_freep) OSSL_PARAM *p = NULL;
	_cleanup_pkey_ctx_ EVP_PKEY_CTX *ctx = NULL;
	_cleanup_pkey_ctx_ EVP_PKEY_CTX *check = NULL;
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;

	p11_drop_module_errors();
	p = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!p || !ctx)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s: cannot build the public key", name);
	GUARD_OSSL(EVP_PKEY_fromdata_init(ctx), "%.512s: cannot build the public key", name);
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, p) != 1)
		return pawl_error_ossl(PAWL_E_KEY, "%.512s: the token's public key is invalid",
				       name);
	/* For EC: the point is on the curve and not the identity. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s", name);
	if (EVP_PKEY_public_check(check) != 1)
		return pawl_error_ossl(PAWL_E_KEY, "%.512s: the token's public key is invalid",
				       name);
	*ret = TAKE_PTR(pkey);
	return 0;
}

static int pub_ec(struct p11_signer *t, CK_OBJECT_HANDLE obj, CK_KEY_TYPE kt, EVP_PKEY **ret)
{
	_cleanup_free_ uint8_t *ecparams = NULL, *point = NULL;
	_cleanup_(ossl_param_bld_freep) OSSL_PARAM_BLD *bld = NULL;
	size_t ecparams_len, point_len, len;
	const uint8_t *raw;
	enum p11_curve curve;
	char hex[2 * 32 + 1];

	GUARD(get_attr(t, obj, CKA_EC_PARAMS, P11_ATTR_MAX, &ecparams, &ecparams_len));
	GUARD(get_attr(t, obj, CKA_EC_POINT, P11_ATTR_MAX, &point, &point_len));
	ENSURE(ecparams && point, PAWL_E_KEY,
	       "%.512s: the public key has no CKA_EC_PARAMS or CKA_EC_POINT", t->name);
	curve = p11_ec_curve(ecparams, ecparams_len);
	if (curve == P11_CURVE_OTHER) {
		hex_encode(hex, ecparams, ecparams_len < 32 ? ecparams_len : 32);
		return pawl_error_set(PAWL_E_UNSUPPORTED,
				      "%.512s: unsupported curve (CKA_EC_PARAMS %s%s); pawl signs "
				      "with Ed25519, P-256 and P-384",
				      t->name, hex, ecparams_len > 32 ? "..." : "");
	}
	if (kt == CKK_EC_EDWARDS) {
		ENSURE(curve == P11_CURVE_ED25519, PAWL_E_KEY,
		       "%.512s: an Edwards key with a Weierstrass curve", t->name);
		ENSURE(p11_ec_point(point, point_len, 32, 32, &raw, &len), PAWL_E_KEY,
		       "%.512s: malformed Ed25519 CKA_EC_POINT (%zu bytes)", t->name, point_len);
		p11_drop_module_errors();
		*ret = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
		if (!*ret)
			return pawl_error_ossl(PAWL_E_KEY, "%.512s: invalid Ed25519 public key",
					       t->name);
		t->kind = KEY_ED25519;
		t->mech = CKM_EDDSA;
		t->siglen = 64;
		return 0;
	}
	/* Ed25519 under CKK_EC is how some pre-3.0 modules spell it; they
	 * would want a mechanism we cannot guess. */
	ENSURE(curve != P11_CURVE_ED25519, PAWL_E_UNSUPPORTED,
	       "%.512s: Ed25519 key of type CKK_EC; pawl needs CKK_EC_EDWARDS", t->name);
	/* Uncompressed (04 || X || Y) or compressed (02/03 || X). */
	if (curve == P11_CURVE_P256) {
		ENSURE(p11_ec_point(point, point_len, 65, 33, &raw, &len), PAWL_E_KEY,
		       "%.512s: malformed P-256 CKA_EC_POINT (%zu bytes)", t->name, point_len);
		t->kind = KEY_ECDSA_P256;
		t->siglen = 64;
	} else {
		ENSURE(p11_ec_point(point, point_len, 97, 49, &raw, &len), PAWL_E_KEY,
		       "%.512s: malformed P-384 CKA_EC_POINT (%zu bytes)", t->name, point_len);
		t->kind = KEY_ECDSA_P384;
		t->siglen = 96;
	}
	t->mech = CKM_ECDSA;
	p11_drop_module_errors();
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    curve == P11_CURVE_P256 ? "P-256" : "P-384", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw, len) != 1)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s: cannot build the public key", t->name);
	return pkey_from_params(ret, "EC", bld, t->name);
}

static int pub_rsa(struct p11_signer *t, CK_OBJECT_HANDLE obj, EVP_PKEY **ret)
{
	_cleanup_free_ uint8_t *mod = NULL, *exp = NULL;
	_cleanup_(ossl_param_bld_freep) OSSL_PARAM_BLD *bld = NULL;
	_cleanup_(bn_freep) BIGNUM *n = NULL;
	_cleanup_(bn_freep) BIGNUM *e = NULL;
	size_t mod_len, exp_len;

	GUARD(get_attr(t, obj, CKA_MODULUS, P11_SIG_MAX + 1, &mod, &mod_len));
	GUARD(get_attr(t, obj, CKA_PUBLIC_EXPONENT, 64, &exp, &exp_len));
	ENSURE(mod && exp && mod_len > 0 && exp_len > 0, PAWL_E_KEY,
	       "%.512s: the RSA key has no readable CKA_MODULUS or CKA_PUBLIC_EXPONENT", t->name);
	p11_drop_module_errors();
	n = BN_bin2bn(mod, (int)mod_len, NULL);
	e = BN_bin2bn(exp, (int)exp_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!n || !e || !bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		return pawl_error_ossl(PAWL_E_NOMEM, "%.512s: cannot build the public key", t->name);
	GUARD(pkey_from_params(ret, "RSA", bld, t->name));
	t->kind = KEY_RSA_PSS_SHA256;
	t->mech = CKM_RSA_PKCS_PSS;
	/* Exactly the modulus size, as key_verify() insists. */
	t->siglen = (size_t)BN_num_bytes(n);
	return 0;
}

/* The public key object that belongs to the private key: same CKA_ID
 * (narrowed by label if the id is shared), else same label. */
static int find_public_key(struct p11_signer *t, CK_KEY_TYPE kt, CK_OBJECT_HANDLE *ret,
			   bool *ret_found)
{
	_cleanup_free_ uint8_t *id = NULL, *label = NULL;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[4] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) } };
	CK_OBJECT_HANDLE found[2];
	size_t id_len, label_len, nfound = 0;

	*ret_found = false;
	GUARD(get_attr(t, t->key, CKA_ID, P11_ATTR_MAX, &id, &id_len));
	GUARD(get_attr(t, t->key, CKA_LABEL, P11_ATTR_MAX, &label, &label_len));
	if (id && id_len > 0) {
		tmpl[2] = (CK_ATTRIBUTE){ CKA_ID, id, id_len };
		GUARD(find_objects(t, tmpl, 3, found, &nfound));
		if (nfound > 1 && label && label_len > 0) {
			tmpl[3] = (CK_ATTRIBUTE){ CKA_LABEL, label, label_len };
			GUARD(find_objects(t, tmpl, 4, found, &nfound));
		}
	} else if (label && label_len > 0) {
		tmpl[2] = (CK_ATTRIBUTE){ CKA_LABEL, label, label_len };
		GUARD(find_objects(t, tmpl, 3, found, &nfound));
	}
	ENSURE(nfound <= 1, PAWL_E_INVALID,
	       "%.512s: several public keys share the private key's id and label", t->name);
	if (nfound == 1) {
		*ret = found[0];
		*ret_found = true;
	}
	return 0;
}

static int load_public(struct p11_signer *t, EVP_PKEY **ret)
{
	CK_ULONG kt = 0;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
	bool present, found;

	GUARD(get_ulong(t, t->key, CKA_KEY_TYPE, &kt, &present));
	ENSURE(present, PAWL_E_KEY, "%.512s: the private key has no CKA_KEY_TYPE", t->name);
	ENSURE(kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_RSA, PAWL_E_UNSUPPORTED,
	       "%.512s: unsupported key type 0x%lx (pawl signs with Ed25519, ECDSA and RSA)",
	       t->name, (unsigned long)kt);
	GUARD(find_public_key(t, kt, &pub, &found));
	if (kt == CKK_RSA)
		/* The private key object carries the public values too. */
		return pub_rsa(t, found ? pub : t->key, ret);
	ENSURE(found, PAWL_E_NOT_FOUND,
	       "%.512s: no public key object with the private key's id or label; import the "
	       "public key into the token",
	       t->name);
	return pub_ec(t, pub, kt, ret);
}

static int check_mechanism(struct p11_signer *t)
{
	CK_MECHANISM_INFO mi;
	const char *name = t->mech == CKM_EDDSA ? "CKM_EDDSA"
			   : t->mech == CKM_ECDSA ? "CKM_ECDSA"
						  : "CKM_RSA_PKCS_PSS";
	CK_RV rv;

	rv = t->mod->fl->C_GetMechanismInfo(t->slot, t->mech, &mi);
	if (rv == CKR_MECHANISM_INVALID)
		return pawl_error_set(PAWL_E_UNSUPPORTED, "%.512s: the token does not offer %s",
				      t->name, name);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: C_GetMechanismInfo(%s) failed", t->name,
				   name);
	ENSURE(mi.flags & CKF_SIGN, PAWL_E_UNSUPPORTED, "%.512s: the token cannot sign with %s",
	       t->name, name);
	return 0;
}

/* See pkcs11_impl.h: called with the registry lock held. */
int p11_open_key(struct p11_signer *t, const struct p11_uri *u, struct p11_pin *pin,
		 EVP_PKEY **ret)
{
	CK_TOKEN_INFO ti;
	const char *path = u->val[U_MODULE_PATH];
	bool can_sign;

	if (!path) {
		path = p11_module_default();
		ENSURE(path, PAWL_E_KEY,
		       "%.512s: no PKCS#11 module: add ?module-path=/path/to/module.so to the URI "
		       "or set PAWL_PKCS11_MODULE",
		       t->name);
		ENSURE(path[0] == '/', PAWL_E_INVALID,
		       "PAWL_PKCS11_MODULE must be an absolute file name");
	}
	GUARD(p11_module_get(&t->mod, path));
	GUARD(find_token(t, u, &ti));
	GUARD(open_session(t, &ti, pin));
	GUARD(find_private_key(t, u));
	GUARD(get_bool(t, t->key, CKA_SIGN, true, &can_sign));
	ENSURE(can_sign, PAWL_E_KEY, "%.512s: the key may not sign (CKA_SIGN is false)", t->name);
	GUARD(get_bool(t, t->key, CKA_ALWAYS_AUTHENTICATE, false, &t->always_auth));
	if (t->always_auth) {
		/* The token asks for the PIN again before every signature. */
		ENSURE(pin->p || (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH), PAWL_E_KEY,
		       "%.512s: the key needs the PIN for every signature "
		       "(CKA_ALWAYS_AUTHENTICATE) and none was given",
		       t->name);
		t->pin = *pin;
		*pin = (struct p11_pin){ NULL, 0 };
	}
	GUARD(load_public(t, ret));
	return check_mechanism(t);
}

/*
 * pkcs11.c - the "pkcs11" signer kind: private keys that stay in a token.
 * The guarantees are listed in pkcs11.h; the parts live in files of their
 * own (pkcs11_impl.h lists them). This file signs, and ties the parts
 * together in signer_load_pkcs11().
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/pkcs11_impl.h"

static int token_sign(struct p11_signer *t, CK_MECHANISM *mech, const uint8_t *data,
		      size_t len, uint8_t *sig, CK_ULONG *siglen)
{
	CK_FUNCTION_LIST_PTR fl = t->mod->fl;
	CK_RV rv;

	rv = fl->C_SignInit(t->session, mech, t->key);
	if (rv != CKR_OK)
		return p11_rv_fail(rv == CKR_MECHANISM_INVALID ? PAWL_E_UNSUPPORTED : PAWL_E_KEY,
				   rv, "%.512s: C_SignInit failed", t->name);
	if (t->always_auth) {
		rv = fl->C_Login(t->session, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)t->pin.p,
				 (CK_ULONG)t->pin.len);
		if (rv != CKR_OK) {
			/* C_Sign ends the operation even when it fails. */
			CK_ULONG junk = *siglen;

			(void)fl->C_Sign(t->session, (CK_BYTE_PTR)data, (CK_ULONG)len, sig, &junk);
			OPENSSL_cleanse(sig, *siglen);
			return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: the per-signature login failed",
					   t->name);
		}
	}
	rv = fl->C_Sign(t->session, (CK_BYTE_PTR)data, (CK_ULONG)len, sig, siglen);
	if (rv != CKR_OK)
		return p11_rv_fail(PAWL_E_KEY, rv, "%.512s: C_Sign failed", t->name);
	return 0;
}

static int p11_sign(const pawl_signer *s, const void *msg, size_t len, uint8_t **ret,
		    size_t *ret_len)
{
	static const uint8_t empty[1];
	struct p11_signer *t = s->impl;
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM mech = { t->mech, NULL, 0 };
	uint8_t digest[EVP_MAX_MD_SIZE], raw[P11_SIG_MAX];
	CK_ULONG rawlen = sizeof(raw);
	const uint8_t *data = len ? msg : empty;
	size_t datalen = len;
	uint8_t *out;
	int r;

	ENSURE(t->pid == getpid(), PAWL_E_KEY,
	       "%.512s: a PKCS#11 signer cannot be used after fork(); load it again", t->name);
	if (t->kind != KEY_ED25519) {
		/* The token signs a digest we compute: CKM_ECDSA and
		 * CKM_RSA_PKCS_PSS take the hash, not the message. */
		const char *md = t->kind == KEY_ECDSA_P384 ? "SHA2-384" : "SHA2-256";

		GUARD_OSSL(EVP_Q_digest(NULL, md, NULL, data, len, digest, &datalen),
			   "%.512s: cannot hash the message", t->name);
		data = digest;
	}
	if (t->kind == KEY_RSA_PSS_SHA256) {
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
	}

	pthread_mutex_lock(&t->lock);
	ERR_set_mark();
	r = token_sign(t, &mech, data, datalen, raw, &rawlen);
	ERR_pop_to_mark();
	pthread_mutex_unlock(&t->lock);
	GUARD(r);
	ENSURE(rawlen == t->siglen, PAWL_E_KEY,
	       "%.512s: the token returned a %lu-byte signature, not %zu", t->name,
	       (unsigned long)rawlen, t->siglen);
	if (t->kind == KEY_ECDSA_P256 || t->kind == KEY_ECDSA_P384)
		return p11_ecdsa_der(raw, rawlen, ret, ret_len);
	out = xmalloc(rawlen);
	if (!out)
		return PAWL_E_NOMEM;
	memcpy(out, raw, rawlen);
	*ret = out;
	*ret_len = rawlen;
	return 0;
}

static void p11_free(pawl_signer *s)
{
	struct p11_signer *t = s->impl;

	if (!t)
		return;
	/* After a fork the module is not ours to call in this process. */
	if (t->mod && t->pid == getpid()) {
		p11_registry_lock();
		ERR_set_mark();
		if (t->login)
			p11_login_put(t->mod, t->login, t->session);
		if (t->session != CK_INVALID_HANDLE)
			(void)t->mod->fl->C_CloseSession(t->session);
		p11_module_put(t->mod);
		ERR_pop_to_mark();
		p11_registry_unlock();
	}
	p11_pin_wipe(&t->pin);
	if (t->lock_ok)
		pthread_mutex_destroy(&t->lock);
	free(t->name);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
	s->impl = NULL;
}

static const signer_ops pkcs11_ops = {
	.kind = "pkcs11",
	.sign = p11_sign,
	.free = p11_free,
};

int signer_load_pkcs11(pawl_signer **ret, const char *uri, const char *pin_arg)
{
	_cleanup_(p11_uri_clearp) struct p11_uri u = { 0 };
	_cleanup_(p11_pin_wipep) struct p11_pin pin = { NULL, 0 };
	_cleanup_signer_ pawl_signer *s = NULL;
	_cleanup_pkey_ EVP_PKEY *pkey = NULL;
	struct p11_signer *t;
	int r;

	ENSURE(ret, PAWL_E_INVALID, "no output");
	GUARD(p11_uri_parse(&u, uri));
	s = xcalloc(1, sizeof(*s));
	if (!s)
		return PAWL_E_NOMEM;
	t = xcalloc(1, sizeof(*t));
	if (!t)
		return PAWL_E_NOMEM;
	s->ops = &pkcs11_ops;
	s->impl = t;
	t->session = CK_INVALID_HANDLE;
	t->pid = getpid();
	ENSURE(pthread_mutex_init(&t->lock, NULL) == 0, PAWL_E_GENERIC, "cannot create a mutex");
	t->lock_ok = true;
	GUARD(p11_uri_display(&u, &t->name));
	GUARD(p11_pin_get(&pin, &u, pin_arg));

	p11_registry_lock();
	ERR_set_mark();
	r = p11_open_key(t, &u, &pin, &pkey);
	ERR_pop_to_mark();
	p11_registry_unlock();
	GUARD(r);
	p11_pin_wipe(&pin); /* logged in: not needed any more */
	if (key_from_pkey(&s->pub, pkey, t->kind) < 0)
		return pawl_error_prefix(pawl_error_last()->code, "%.512s: ", t->name);
	*ret = TAKE_PTR(s);
	return 0;
}

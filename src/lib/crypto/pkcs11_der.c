/*
 * pkcs11_der.c - the little DER a token hands over (CKA_EC_PARAMS,
 * CKA_EC_POINT) and the little pawl hands on (an ECDSA-Sig-Value from a
 * token's raw r||s). Token bytes are untrusted: they are read only through
 * a bounded cursor. See pkcs11_impl.h.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "crypto/pkcs11_impl.h"

/* DER: one TLV with tag that fills c exactly (definite, minimal length of
 * at most two bytes: nothing here is larger). */
static bool der_whole(pawl_cursor c, uint8_t tag, const uint8_t **ret, size_t *ret_len)
{
	uint8_t t, b, b2;
	size_t len;

	if (!cursor_peek(&c, &t) || t != tag || !cursor_skip(&c, 1))
		return false;
	if (!cursor_peek(&c, &b) || !cursor_skip(&c, 1))
		return false;
	if (b < 0x80) {
		len = b;
	} else if (b == 0x81) {
		if (!cursor_peek(&c, &b) || !cursor_skip(&c, 1) || b < 0x80)
			return false;
		len = b;
	} else if (b == 0x82) {
		if (!cursor_peek(&c, &b) || !cursor_skip(&c, 1) || !cursor_peek(&c, &b2) ||
		    !cursor_skip(&c, 1))
			return false;
		len = (size_t)b << 8 | b2;
		if (len < 0x100)
			return false;
	} else {
		return false;
	}
	if (len != c.left)
		return false;
	*ret = c.p;
	*ret_len = len;
	return true;
}

/* CKA_EC_PARAMS: the curve's OID, or for Edwards curves (PKCS#11 3.0)
 * also the PrintableString "edwards25519" that OpenSC's pkcs11-tool
 * writes. */
enum p11_curve p11_ec_curve(const uint8_t *p, size_t n)
{
	static const uint8_t p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const uint8_t p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const uint8_t ed25519[] = { 0x2b, 0x65, 0x70 }; /* RFC 8410 */
	static const uint8_t ed25519_gnu[] = { 0x2b, 0x06, 0x01, 0x04, 0x01,
					       0xda, 0x47, 0x0f, 0x01 };
	const uint8_t *v;
	size_t len;

	if (der_whole(cursor_init(p, n), 0x06, &v, &len)) {
		if (len == sizeof(p256) && memcmp(v, p256, len) == 0)
			return P11_CURVE_P256;
		if (len == sizeof(p384) && memcmp(v, p384, len) == 0)
			return P11_CURVE_P384;
		if ((len == sizeof(ed25519) && memcmp(v, ed25519, len) == 0) ||
		    (len == sizeof(ed25519_gnu) && memcmp(v, ed25519_gnu, len) == 0))
			return P11_CURVE_ED25519;
	} else if (der_whole(cursor_init(p, n), 0x13, &v, &len)) {
		if (len == 12 && memcmp(v, "edwards25519", 12) == 0)
			return P11_CURVE_ED25519;
	}
	return P11_CURVE_OTHER;
}

/* CKA_EC_POINT is a DER OCTET STRING holding the point; some modules
 * return the bare point. The two cannot be confused: the wrapped form is
 * taken only when it fills the attribute exactly and what it wraps has a
 * length the curve allows. */
bool p11_ec_point(const uint8_t *p, size_t n, size_t a, size_t b, const uint8_t **ret,
		  size_t *ret_len)
{
	const uint8_t *v;
	size_t len;

	if (der_whole(cursor_init(p, n), 0x04, &v, &len) && (len == a || len == b)) {
		*ret = v;
		*ret_len = len;
		return true;
	}
	if (n == a || n == b) {
		*ret = p;
		*ret_len = n;
		return true;
	}
	return false;
}

/* r || s, each half the signature, as a DER ECDSA-Sig-Value (what TUF's
 * ecdsa-sha2-nistp* signatures are). */
int p11_ecdsa_der(const uint8_t *raw, size_t len, uint8_t **ret, size_t *ret_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	uint8_t *der = NULL, *p;
	int n;

	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return pawl_error_ossl(PAWL_E_NOMEM, "cannot encode the ECDSA signature");
	}
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n > 0)
		der = xmalloc((size_t)n);
	if (n <= 0 || !der) {
		ECDSA_SIG_free(sig);
		return n <= 0 ? pawl_error_ossl(PAWL_E_CRYPTO, "cannot encode the ECDSA signature")
			      : PAWL_E_NOMEM;
	}
	p = der;
	n = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	if (n <= 0) {
		free(der);
		return pawl_error_ossl(PAWL_E_CRYPTO, "cannot encode the ECDSA signature");
	}
	*ret = der;
	*ret_len = (size_t)n;
	return 0;
}

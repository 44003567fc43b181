/*
 * pkcs11_hook.c - where "pkcs11:" key arguments go.
 *
 * The crypto module is growing a PKCS#11 signer (src/lib/crypto/pkcs11.h).
 * Until pawl-repo is wired to it, a token URI fails here with a clear
 * message instead of being mistaken for a file name. Replace the body with
 * the token signer's constructor; nothing else in pawl-repo needs to change,
 * since everything signs through pawl_signer.
 */
#include "repo.h"

int pkcs11_signer_open(pawl_signer **ret, const char *uri)
{
	(void)ret;
	(void)uri;
	return pawl_error_set(PAWL_E_UNSUPPORTED, "PKCS#11 support not built yet");
}

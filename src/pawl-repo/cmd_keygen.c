/*
 * cmd_keygen.c - `pawl-repo keygen`: a new key pair.
 *
 * The private key is written as PKCS#8 PEM, encrypted (scrypt +
 * AES-256-CBC) unless --no-passphrase says otherwise, created with O_EXCL
 * and mode 0600 by the crypto module; the public key goes next to it as
 * PEM SPKI (KEY.pub). Nothing secret is printed: only the key id.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"

static const char usage_keygen[] =
	"usage: pawl-repo keygen --type TYPE --out KEY.pem [--passphrase-file F | --no-passphrase]\n"
	"\n"
	"Create a key pair: KEY.pem (the private key, PKCS#8 PEM, mode 0600, encrypted\n"
	"with the passphrase) and KEY.pub (the public key, PEM) next to it.\n"
	"\n"
	"  --type TYPE            ed25519 (default), ecdsa-p256, ecdsa-p384, rsa-3072, rsa-4096\n"
	"  --out FILE             the private key file; must not exist\n"
	"  --passphrase-file F    encrypt with the first line of F\n"
	"  --no-passphrase        write the private key unencrypted (tests, tokens' staging)\n"
	"The passphrase may also come from the PAWL_PASSPHRASE environment variable.\n"
	"Prints the key id (the id metadata uses for the key).\n";

/* KEY.pem -> KEY.pub; any other name gets ".pub" appended. */
static int pub_path(const char *out, char *buf, size_t n)
{
	size_t len = strlen(out);
	int k;

	if (len > 4 && strcmp(out + len - 4, ".pem") == 0)
		k = snprintf(buf, n, "%.*s.pub", (int)(len - 4), out);
	else
		k = snprintf(buf, n, "%s.pub", out);
	ENSURE(k > 0 && (size_t)k < n, PAWL_E_LIMIT, "key file name too long: %s", out);
	return 0;
}

int cmd_keygen(int argc, char **argv)
{
	enum { O_TYPE = OPT_FIRST, O_OUT, O_NOPASS };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "type", required_argument, NULL, O_TYPE },
		{ "out", required_argument, NULL, O_OUT },
		{ "no-passphrase", no_argument, NULL, O_NOPASS },
		{ NULL, 0, NULL, 0 },
	};
	const char *type = "ed25519", *out = NULL;
	bool nopass = false;
	_cleanup_signer_ pawl_signer *s = NULL;
	char pub[4096];
	struct stat st;
	int ch, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_TYPE: type = optarg; break;
		case O_OUT: out = optarg; break;
		case O_NOPASS: nopass = true; break;
		default: common_opt("keygen", usage_keygen, ch, optarg);
		}
	}
	if (optind != argc)
		usage_error("keygen", "unexpected argument \"%s\"", argv[optind]);
	if (!out)
		usage_error("keygen", "--out KEY.pem is required");
	if (nopass && pass_get())
		usage_error("keygen", "--no-passphrase conflicts with the passphrase given");
	if (!nopass && !pass_get()) {
		fprintf(stderr, "pawl-repo keygen: the private key is encrypted by default: give "
			"--passphrase-file FILE or set PAWL_PASSPHRASE, or pass --no-passphrase for "
			"an unencrypted key\n");
		return EXIT_USAGE;
	}
	if (pub_path(out, pub, sizeof(pub)) < 0)
		return fail("keygen");
	/* Refuse before generating anything: neither file may exist. */
	if (lstat(out, &st) == 0 || lstat(pub, &st) == 0) {
		fprintf(stderr, "pawl-repo keygen: %s exists; refusing to overwrite a key "
			"(choose another --out)\n", lstat(out, &st) == 0 ? out : pub);
		return 1;
	}
	if (signer_generate(&s, type) < 0)
		return fail("keygen");
	if (signer_save_file(s, out, nopass ? NULL : pass_get()) < 0)
		return fail("keygen");
	r = signer_save_public_file(s, pub);
	if (r < 0) {
		/* Do not leave half a pair: the private file is ours (O_EXCL). */
		fail("keygen");
		unlink(out);
		return 1;
	}
	pass_wipe();
	printf("%s\n", signer_keyid(s));
	info("%s key %s: private key %s (%s, mode 0600), public key %s", type, signer_keyid(s),
	     out, nopass ? "unencrypted" : "encrypted", pub);
	return 0;
}

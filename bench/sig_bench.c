/*
 * sig_bench - signature verifications per second through key_verify(),
 * the path the client takes for every metadata signature, for each scheme
 * pawl accepts. The message is about 1 KB of canonical targets metadata
 * (a small delegated role), signed once with a fresh key.
 *
 *   sig_bench [SECONDS]        (default 1; per scheme)
 *
 * Prints one line per scheme: "SCHEME VERIFY_PER_S MESSAGE_BYTES". bench/run
 * puts these next to `openssl speed` in the same run (which verifies a
 * short digest-sized input and keeps its context: the limit).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"

#define CHECK(expr)                                                                   \
	do {                                                                          \
		if ((expr) < 0) {                                                     \
			fprintf(stderr, "sig_bench: %s: %s\n", #expr,                  \
				pawl_error_last()->message);                          \
			exit(1);                                                      \
		}                                                                     \
	} while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Canonical JSON of a small targets role, at least 1024 bytes. */
static size_t make_message(char *out, size_t cap)
{
	size_t len = 0;
	int n;

	n = snprintf(out, cap, "{\"_type\":\"targets\",\"expires\":\"2100-01-01T00:00:00Z\","
			       "\"spec_version\":\"1.0.31\",\"targets\":{");
	len = (size_t)n;
	for (int i = 0; len < 1024 - 64; i++) {
		n = snprintf(out + len, cap - len,
			     "%s\"files/dir%d/artifact-%d.tar.gz\":{\"hashes\":{\"sha256\":"
			     "\"%064x\"},\"length\":%d}",
			     i ? "," : "", i % 100, i, i * 7919, 1000 + i);
		if (n < 0 || (size_t)n >= cap - len)
			abort();
		len += (size_t)n;
	}
	n = snprintf(out + len, cap - len, "},\"version\":1}");
	if (n < 0 || (size_t)n >= cap - len)
		abort();
	return len + (size_t)n;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *gen, *name;
	} schemes[] = {
		{ "ed25519", "ed25519" },
		{ "ecdsa-p256", "ecdsa-sha2-nistp256" },
		{ "rsa-3072", "rsassa-pss-sha256-3072" },
	};
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	char msg[2048];
	size_t len = make_message(msg, sizeof(msg));

	if (!(seconds > 0 && seconds <= 60)) {
		fprintf(stderr, "usage: sig_bench [SECONDS]\n");
		return 2;
	}
	for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
		pawl_signer *signer;
		pawl_key *pub;
		uint8_t *sig;
		size_t siglen;
		uint64_t count = 0;
		double t0, t;

		CHECK(signer_generate(&signer, schemes[s].gen));
		CHECK(signer_public(signer, &pub));
		CHECK(signer_sign(signer, msg, len, &sig, &siglen));
		/* A forged message must fail, or the figure means nothing. */
		msg[len / 2] ^= 1;
		if (key_verify(pub, msg, len, sig, siglen) != PAWL_E_SIGNATURE) {
			fprintf(stderr, "sig_bench: %s accepted a changed message\n",
				schemes[s].name);
			return 1;
		}
		msg[len / 2] ^= 1;
		t0 = now();
		do {
			for (int i = 0; i < 16; i++)
				CHECK(key_verify(pub, msg, len, sig, siglen));
			count += 16;
			t = now() - t0;
		} while (t < seconds);
		printf("%s %.1f %zu\n", schemes[s].name, (double)count / t, len);
		free(sig);
		key_free(pub);
		signer_free(signer);
	}
	return 0;
}

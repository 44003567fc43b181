/*
 * fuzz_metadata.c - the metadata parser and verifier on arbitrary bytes.
 *
 * The first byte picks the role type; the rest is the document. Whatever
 * parses is canonicalised, verified against itself (root) or its own
 * delegations (targets), and its lookups are exercised: none of it may
 * crash, leak or read out of bounds, and a document that parses must
 * serialise to something that parses to the same canonical bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Outcomes do not matter here, only that nothing goes wrong reaching them. */
#define IGNORE(expr)                                                           \
	do {                                                                   \
		if ((expr) < 0)                                                \
			pawl_error_clear();                                    \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pawl_md *md = NULL, *again = NULL;
	md_type type;
	char *buf, *out;
	size_t outlen, c1len, c2len;
	const char *c1, *c2;

	if (size < 1 || size > (1u << 20))
		return 0;
	type = (md_type)(data[0] % MD_NTOP);
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (md_parse(&md, buf, size - 1, type, NULL) < 0)
		return 0;

	if (md_signed_bytes(md, &c1, &c1len) < 0)
		abort();
	switch (type) {
	case MD_ROOT:
		IGNORE(md_verify(md, &md->keys, md_root_role(md, MD_ROOT), "root"));
		break;
	case MD_TIMESTAMP:
	case MD_SNAPSHOT: {
		md_metafile mf;

		IGNORE(md_meta_get(md, "targets.json", &mf));
		break;
	}
	case MD_TARGETS: {
		md_target t;

		IGNORE(md_target_get(md, "a/b.txt", &t));
		if (md->has_delegations) {
			for (size_t i = 0; i < md->deleg.nroles; i++) {
				(void)md_role_matches(&md->deleg.roles[i], "a/b.txt");
				IGNORE(md_verify(md, &md->deleg.keys, &md->deleg.roles[i], "x"));
			}
			if (md->deleg.succinct_present) {
				char name[512];

				IGNORE(md_succinct_role_for(&md->deleg.succinct, "a/b.txt", name,
							    sizeof(name)));
			}
		}
		break;
	}
	}
	IGNORE(md_check_expiry(md, 0, NULL));

	/* Write it out and read it back: the signed bytes must not change. */
	if (md_serialize(md, &out, &outlen) < 0)
		abort();
	if (md_parse(&again, out, outlen, type, NULL) < 0)
		abort();
	if (md_signed_bytes(md, &c1, &c1len) < 0 || md_signed_bytes(again, &c2, &c2len) < 0)
		abort();
	if (c1len != c2len || memcmp(c1, c2, c1len) != 0)
		abort();
	md_free(again);
	md_free(md);
	pawl_error_clear();
	return 0;
}

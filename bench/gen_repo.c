/*
 * gen_repo - write a signed TUF repository for benchmarks.
 *
 *   gen_repo OUTDIR flat N           N targets in targets.json
 *   gen_repo OUTDIR bins N BITS      N targets in 2^BITS succinct hash bins
 *   gen_repo OUTDIR file PATH        one target "blob" with PATH's bytes
 *                                    (hard-linked into targets/)
 *
 * OUTDIR/metadata holds consistent-snapshot metadata, OUTDIR/targets the
 * artifacts (only the first target has a real file: "file-0"), and
 * OUTDIR/root.json the root to trust. Keys are ed25519, one per role.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metadata/metadata.h"
#include "store/store.h"

#define CHECK(expr)                                                                   \
	do {                                                                          \
		if ((expr) < 0) {                                                     \
			fprintf(stderr, "gen_repo: %s: %s\n", #expr,                   \
				pawl_error_last()->message);                          \
			exit(1);                                                      \
		}                                                                     \
	} while (0)

static const char *outdir;

static void write_md(pawl_md *md, const char *name)
{
	char path[4096];
	char *buf;
	size_t len;

	CHECK(md_serialize(md, &buf, &len));
	snprintf(path, sizeof(path), "%s/metadata/%s", outdir, name);
	CHECK(file_write_atomic(path, buf, len, 0644));
	free(buf);
}

static void hashes_of(pj_doc *doc, pj_value *dst, const void *data, size_t len)
{
	uint8_t d[HASH_MAX_LEN];
	char hex[129];
	pj_value *slot;

	CHECK(pj_set_object(doc, dst));
	CHECK(hash_once(HASH_SHA256, data, len, d));
	hex_encode(hex, d, 32);
	CHECK(pj_obj_put(doc, dst, "sha256", 6, &slot));
	CHECK(pj_set_cstr(doc, slot, hex));
}

static void add_target(pawl_md *md, uint64_t i, const char *path, const char *first_content)
{
	pj_value *targets = pj_get_mut(md->signed_v, "targets");
	pj_value *e, *v, *h;
	char content[64];

	if (i == 0)
		snprintf(content, sizeof(content), "%s", first_content);
	else
		snprintf(content, sizeof(content), "content of %" PRIu64, i);
	CHECK(pj_obj_append(md->doc, targets, path, strlen(path), &e));
	CHECK(pj_set_object(md->doc, e));
	CHECK(pj_obj_put(md->doc, e, "length", 6, &v));
	pj_set_int(v, (int64_t)strlen(content));
	CHECK(pj_obj_put(md->doc, e, "hashes", 6, &h));
	hashes_of(md->doc, h, content, strlen(content));
}

static void target_path(char *out, size_t n, uint64_t i)
{
	snprintf(out, n, "files/dir%" PRIu64 "/artifact-%" PRIu64 ".tar.gz", i % 100, i);
}

static void finish(pawl_md *md)
{
	CHECK(pj_obj_finish(pj_get_mut(md->signed_v, "targets"), false));
	CHECK(md_reload(md, NULL));
}

/* One target "blob" with the bytes of path, hashed in a stream and
 * hard-linked into place under its consistent-snapshot name. */
static void add_file(pawl_md *md, const char *path)
{
	pj_value *targets = pj_get_mut(md->signed_v, "targets"), *e, *v, *h;
	hash_ctx *hc;
	uint8_t d[HASH_MAX_LEN], buf[1 << 16];
	char hex[65], dst[4096];
	uint64_t total = 0;
	FILE *f = fopen(path, "rb");
	size_t got;

	if (!f) {
		perror(path);
		exit(1);
	}
	CHECK(hash_new(&hc, HASH_SHA256));
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		CHECK(hash_update(hc, buf, got));
		total += got;
	}
	fclose(f);
	CHECK(hash_final(hc, d));
	hash_free(hc);
	hex_encode(hex, d, 32);
	CHECK(pj_obj_append(md->doc, targets, "blob", 4, &e));
	CHECK(pj_set_object(md->doc, e));
	CHECK(pj_obj_put(md->doc, e, "length", 6, &v));
	pj_set_int(v, (int64_t)total);
	CHECK(pj_obj_put(md->doc, e, "hashes", 6, &h));
	CHECK(pj_set_object(md->doc, h));
	CHECK(pj_obj_put(md->doc, h, "sha256", 6, &v));
	CHECK(pj_set_cstr(md->doc, v, hex));
	snprintf(dst, sizeof(dst), "%s/targets/%s.blob", outdir, hex);
	if (link(path, dst) != 0) {
		perror(dst);
		exit(1);
	}
	finish(md);
}


int main(int argc, char **argv)
{
	pawl_signer *k[4];
	pawl_key *pub[4];
	char ids[4][65];
	pawl_md *root, *targets, *snap, *ts;
	const int64_t exp = 4102444800; /* 2100 */
	uint64_t n;
	bool bins;
	const char *blob;
	uint32_t bits = 0;
	char path[4096];
	const char *first = "the first artifact\n";

	if (argc < 4) {
		fprintf(stderr, "usage: gen_repo OUTDIR flat N | OUTDIR bins N BITS | OUTDIR file PATH\n");
		return 2;
	}
	outdir = argv[1];
	bins = strcmp(argv[2], "bins") == 0;
	blob = strcmp(argv[2], "file") == 0 ? argv[3] : NULL;
	n = blob ? 0 : strtoull(argv[3], NULL, 10);
	if (bins)
		bits = (uint32_t)strtoul(argv[4], NULL, 10);
	snprintf(path, sizeof(path), "%s/metadata", outdir);
	CHECK(dir_create(path, 0755));
	snprintf(path, sizeof(path), "%s/targets/files/dir0", outdir);
	CHECK(dir_create(path, 0755));

	for (int i = 0; i < 4; i++) {
		CHECK(signer_generate(&k[i], "ed25519"));
		CHECK(signer_public(k[i], &pub[i]));
		CHECK(key_compute_id(pub[i], ids[i]));
	}
	CHECK(md_new(&root, MD_ROOT, 1, exp));
	for (int i = 0; i < 4; i++) {
		const char *one[1] = { ids[i] };

		CHECK(md_root_add_key(root, pub[i]));
		CHECK(md_root_set_role(root, (md_type)i, one, 1, 1));
	}
	CHECK(md_sign(root, k[0]));
	write_md(root, "1.root.json");
	{
		char *buf;
		size_t len;

		CHECK(md_serialize(root, &buf, &len));
		snprintf(path, sizeof(path), "%s/root.json", outdir);
		CHECK(file_write_atomic(path, buf, len, 0644));
		free(buf);
	}

	CHECK(md_new(&snap, MD_SNAPSHOT, 1, exp));
	CHECK(md_new(&targets, MD_TARGETS, 1, exp));
	if (blob) {
		add_file(targets, blob);
	} else if (!bins) {
		char p[256];

		for (uint64_t i = 0; i < n; i++) {
			target_path(p, sizeof(p), i);
			add_target(targets, i, p, first);
		}
		finish(targets);
	} else {
		pawl_key *binkey[1] = { pub[MD_TARGETS] };
		md_succinct s;
		uint32_t count;

		CHECK(md_deleg_set_succinct(targets, binkey, 1, 1, bits, "bin"));
		s = targets->deleg.succinct;
		count = md_succinct_count(&s);
		pawl_md **bm = calloc(count, sizeof(*bm));
		pj_value *meta = pj_get_mut(snap->signed_v, "meta");
		char p[256];

		for (uint32_t b = 0; b < count; b++)
			CHECK(md_new(&bm[b], MD_TARGETS, 1, exp));
		for (uint64_t i = 0; i < n; i++) {
			uint8_t d[HASH_MAX_LEN];
			uint32_t first4;

			target_path(p, sizeof(p), i);
			CHECK(hash_once(HASH_SHA256, p, strlen(p), d));
			first4 = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) |
				 ((uint32_t)d[2] << 8) | d[3];
			add_target(bm[first4 >> (32 - bits)], i, p, first);
		}
		for (uint32_t b = 0; b < count; b++) {
			char name[128], fn[160];
			pj_value *e, *v;

			finish(bm[b]);
			CHECK(md_succinct_name(&s, b, name, sizeof(name)));
			CHECK(md_sign(bm[b], k[MD_TARGETS]));
			snprintf(fn, sizeof(fn), "1.%s.json", name);
			write_md(bm[b], fn);
			snprintf(fn, sizeof(fn), "%s.json", name);
			CHECK(pj_obj_append(snap->doc, meta, fn, strlen(fn), &e));
			CHECK(pj_set_object(snap->doc, e));
			CHECK(pj_obj_put(snap->doc, e, "version", 7, &v));
			pj_set_int(v, 1);
			md_free(bm[b]);
		}
		free(bm);
		CHECK(pj_obj_finish(meta, true));
		CHECK(md_reload(snap, NULL));
	}
	CHECK(md_sign(targets, k[MD_TARGETS]));
	write_md(targets, "1.targets.json");
	CHECK(md_sign(snap, k[MD_SNAPSHOT]));
	write_md(snap, "1.snapshot.json");
	CHECK(md_new(&ts, MD_TIMESTAMP, 1, exp));
	CHECK(md_sign(ts, k[MD_TIMESTAMP]));
	write_md(ts, "timestamp.json");
	{
		uint8_t d[HASH_MAX_LEN];
		char hex[65];

		CHECK(hash_once(HASH_SHA256, first, strlen(first), d));
		hex_encode(hex, d, 32);
		snprintf(path, sizeof(path), "%s/targets/files/dir0/%s.artifact-0.tar.gz", outdir, hex);
		CHECK(file_write_atomic(path, first, strlen(first), 0644));
	}
	printf("%s\n", blob ? "blob" : "files/dir0/artifact-0.tar.gz");
	return 0;
}

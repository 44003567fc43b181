/*
 * gen_repo - write a signed TUF repository for benchmarks.
 *
 *   gen_repo OUTDIR flat N           N targets in targets.json
 *   gen_repo OUTDIR bins N BITS      N targets in 2^BITS succinct hash bins
 *   gen_repo OUTDIR file PATH        one target "blob" with PATH's bytes
 *                                    (hard-linked into targets/)
 *   gen_repo OUTDIR chain N          a delegation chain: targets -> role1
 *                                    -> ... -> roleN, each delegating the
 *                                    pattern files/STAR/STAR, not
 *                                    terminating, one key per role; the
 *                                    target is in roleN
 *   gen_repo OUTDIR rotate N         root versions 1..N, N.root.json signed
 *                                    by the root keys of N-1 and N; one
 *                                    target in the top-level targets
 *
 * OUTDIR/metadata holds consistent-snapshot metadata, OUTDIR/targets the
 * artifacts (only the first target has a real file), and OUTDIR/root.json
 * the root to trust (always version 1). Keys are ed25519, one per role.
 * Prints the path of the target that has a real file.
 *
 * Files are written without fsync: this is test data, and 16,384 bins
 * would otherwise spend most of their time in the disk flushes.
 */
#include <errno.h>
#include <fcntl.h>
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

static void __attribute__((noreturn)) die_errno(const char *what)
{
	fprintf(stderr, "gen_repo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *c = p;

	if (fd < 0)
		die_errno(path);
	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die_errno(path);
		c += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0)
		die_errno(path);
}

/* OUTDIR/metadata/NAME, or OUTDIR/NAME when name starts with '/'. */
static void write_md(pawl_md *md, const char *name)
{
	char path[4096];
	char *buf;
	size_t len;

	CHECK(md_serialize(md, &buf, &len));
	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s%s", outdir, name);
	else
		snprintf(path, sizeof(path), "%s/metadata/%s", outdir, name);
	write_file(path, buf, len);
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


static void write_first_artifact(const char *first)
{
	uint8_t d[HASH_MAX_LEN];
	char hex[65], path[4096];

	CHECK(hash_once(HASH_SHA256, first, strlen(first), d));
	hex_encode(hex, d, 32);
	snprintf(path, sizeof(path), "%s/targets/files/dir0/%s.artifact-0.tar.gz", outdir, hex);
	write_file(path, first, strlen(first));
}

/* Succinct hash bins: targets delegates to 2^bits bins, n targets spread
 * over them by the first bits of SHA-256(path), as TAP 15 places them. */
static void make_bins(pawl_md *targets, pawl_md *snap, pawl_signer *key, pawl_key *pub,
		      uint64_t n, uint32_t bits, const char *first)
{
	pawl_key *binkey[1] = { pub };
	const int64_t exp = 4102444800;
	md_succinct s;
	uint32_t count;
	pawl_md **bm;
	pj_value *meta = pj_get_mut(snap->signed_v, "meta");
	char p[256];

	CHECK(md_deleg_set_succinct(targets, binkey, 1, 1, bits, "bin"));
	s = targets->deleg.succinct;
	count = md_succinct_count(&s);
	bm = calloc(count, sizeof(*bm));
	if (!bm)
		die_errno("calloc");
	for (uint32_t b = 0; b < count; b++)
		CHECK(md_new(&bm[b], MD_TARGETS, 1, exp));
	for (uint64_t i = 0; i < n; i++) {
		uint8_t d[HASH_MAX_LEN];
		uint32_t first4;

		target_path(p, sizeof(p), i);
		CHECK(hash_once(HASH_SHA256, p, strlen(p), d));
		first4 = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) |
			 d[3];
		add_target(bm[first4 >> (32 - bits)], i, p, first);
	}
	for (uint32_t b = 0; b < count; b++) {
		char name[128], fn[160];
		pj_value *e, *v;

		finish(bm[b]);
		CHECK(md_succinct_name(&s, b, name, sizeof(name)));
		CHECK(md_sign(bm[b], key));
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

/* targets -> role1 -> ... -> roleN, every link non-terminating for the
 * same paths, so that a search must walk the whole chain to the target in
 * roleN (TUF 5.6.7: pre-order depth-first). */
static void make_chain(pawl_md *targets, pawl_md *snap, uint64_t n, const char *first)
{
	const int64_t exp = 4102444800;
	const char *paths[1] = { "files/*/*" };
	pawl_md *parent = targets, *role = NULL;
	pawl_signer *prev_key = NULL;
	char name[64], fn[80], p[256];

	for (uint64_t i = 1; i <= n; i++) {
		pawl_signer *k;
		pawl_key *pub;

		CHECK(signer_generate(&k, "ed25519"));
		CHECK(signer_public(k, &pub));
		snprintf(name, sizeof(name), "role%" PRIu64, i);
		CHECK(md_deleg_add_role(parent, name, &pub, 1, 1, false, paths, 1, NULL, 0));
		key_free(pub);
		if (parent != targets) {
			CHECK(md_sign(parent, prev_key));
			snprintf(fn, sizeof(fn), "1.role%" PRIu64 ".json", i - 1);
			write_md(parent, fn);
			md_free(parent);
			signer_free(prev_key);
		}
		CHECK(md_meta_put(snap, (snprintf(fn, sizeof(fn), "%s.json", name), fn), 1, false, 0,
				  NULL));
		CHECK(md_new(&role, MD_TARGETS, 1, exp));
		parent = role;
		prev_key = k;
	}
	target_path(p, sizeof(p), 0);
	add_target(parent, 0, p, first);
	finish(parent);
	if (parent != targets) {
		CHECK(md_sign(parent, prev_key));
		snprintf(fn, sizeof(fn), "1.role%" PRIu64 ".json", n);
		write_md(parent, fn);
		md_free(parent);
		signer_free(prev_key);
	}
}

/* The root with its root key replaced by root_key, at version. */
static pawl_md *make_root(uint64_t version, pawl_key *root_key, pawl_key *const *pub)
{
	const int64_t exp = 4102444800;
	pawl_md *root;
	char id[65];

	CHECK(md_new(&root, MD_ROOT, version, exp));
	for (int i = 0; i < MD_NTOP; i++) {
		const char *one[1] = { id };
		pawl_key *k = i == MD_ROOT ? root_key : pub[i];

		CHECK(key_compute_id(k, id));
		CHECK(md_root_add_key(root, k));
		CHECK(md_root_set_role(root, (md_type)i, one, 1, 1));
	}
	return root;
}

int main(int argc, char **argv)
{
	pawl_signer *k[4];
	pawl_key *pub[4];
	pawl_md *root, *targets, *snap, *ts;
	const int64_t exp = 4102444800; /* 2100 */
	const char *mode, *blob = NULL;
	uint64_t n = 0;
	uint32_t bits = 0;
	char path[4096], *end;
	const char *first = "the first artifact\n";

	if (argc < 4 || (strcmp(argv[2], "bins") == 0 && argc < 5)) {
		fprintf(stderr, "usage: gen_repo OUTDIR flat N | OUTDIR bins N BITS | "
				"OUTDIR file PATH | OUTDIR chain N | OUTDIR rotate N\n");
		return 2;
	}
	outdir = argv[1];
	mode = argv[2];
	if (strcmp(mode, "file") == 0) {
		blob = argv[3];
	} else {
		errno = 0;
		n = strtoull(argv[3], &end, 10);
		if (errno || *end || end == argv[3] || n > 100000000) {
			fprintf(stderr, "gen_repo: bad count %s\n", argv[3]);
			return 2;
		}
	}
	if (strcmp(mode, "bins") == 0) {
		unsigned long b = strtoul(argv[4], &end, 10);

		if (*end || b < 1 || b > 20) {
			fprintf(stderr, "gen_repo: bits must be 1..20\n");
			return 2;
		}
		bits = (uint32_t)b;
	} else if (!blob && strcmp(mode, "flat") != 0 && strcmp(mode, "chain") != 0 &&
		   strcmp(mode, "rotate") != 0) {
		fprintf(stderr, "gen_repo: unknown mode %s\n", mode);
		return 2;
	}
	if ((strcmp(mode, "rotate") == 0 || strcmp(mode, "chain") == 0) && n < 1) {
		fprintf(stderr, "gen_repo: %s needs N >= 1\n", mode);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/metadata", outdir);
	CHECK(dir_create(path, 0755));
	snprintf(path, sizeof(path), "%s/targets/files/dir0", outdir);
	CHECK(dir_create(path, 0755));

	for (int i = 0; i < 4; i++) {
		CHECK(signer_generate(&k[i], "ed25519"));
		CHECK(signer_public(k[i], &pub[i]));
	}
	root = make_root(1, pub[MD_ROOT], pub);
	CHECK(md_sign(root, k[MD_ROOT]));
	write_md(root, "1.root.json");
	write_md(root, "/root.json");
	if (strcmp(mode, "rotate") == 0) {
		/* N.root.json is signed by the root key of N-1 (the client's
		 * trusted root) and by its own new root key (TUF 5.3.4). */
		pawl_signer *prev = k[MD_ROOT];

		for (uint64_t v = 2; v <= n; v++) {
			pawl_signer *rk;
			pawl_key *rpub;
			pawl_md *r;
			char fn[64];

			CHECK(signer_generate(&rk, "ed25519"));
			CHECK(signer_public(rk, &rpub));
			r = make_root(v, rpub, pub);
			CHECK(md_sign(r, prev));
			CHECK(md_sign(r, rk));
			snprintf(fn, sizeof(fn), "%" PRIu64 ".root.json", v);
			write_md(r, fn);
			md_free(r);
			key_free(rpub);
			if (prev != k[MD_ROOT])
				signer_free(prev);
			prev = rk;
		}
		if (prev != k[MD_ROOT])
			signer_free(prev);
	}
	md_free(root);

	CHECK(md_new(&snap, MD_SNAPSHOT, 1, exp));
	CHECK(md_new(&targets, MD_TARGETS, 1, exp));
	if (blob) {
		add_file(targets, blob);
	} else if (strcmp(mode, "bins") == 0) {
		make_bins(targets, snap, k[MD_TARGETS], pub[MD_TARGETS], n, bits, first);
	} else if (strcmp(mode, "chain") == 0) {
		make_chain(targets, snap, n, first);
	} else {
		char p[256];
		uint64_t count = strcmp(mode, "rotate") == 0 ? 1 : n;

		for (uint64_t i = 0; i < count; i++) {
			target_path(p, sizeof(p), i);
			add_target(targets, i, p, first);
		}
		finish(targets);
	}
	CHECK(md_sign(targets, k[MD_TARGETS]));
	write_md(targets, "1.targets.json");
	CHECK(md_sign(snap, k[MD_SNAPSHOT]));
	write_md(snap, "1.snapshot.json");
	CHECK(md_new(&ts, MD_TIMESTAMP, 1, exp));
	CHECK(md_sign(ts, k[MD_TIMESTAMP]));
	write_md(ts, "timestamp.json");
	if (!blob)
		write_first_artifact(first);
	printf("%s\n", blob ? "blob" : "files/dir0/artifact-0.tar.gz");
	md_free(targets);
	md_free(snap);
	md_free(ts);
	for (int i = 0; i < 4; i++) {
		key_free(pub[i]);
		signer_free(k[i]);
	}
	return 0;
}

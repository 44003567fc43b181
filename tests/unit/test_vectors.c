/*
 * test_vectors.c - real-world repositories as golden inputs: pawl must
 * verify what Sigstore's root-signing and tuf-on-ci published, at the time
 * each vector was captured, and must reject them after any change to
 * signed content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/metadata.h"
#include "testing.h"

static pawl_md *load(const char *rel, md_type type, const char *name)
{
	size_t len;
	char *buf = t_read_file(t_vector(rel), &len);
	pawl_md *md = NULL;

	t_ok(md_parse(&md, buf, len, type, name));
	return md;
}

static int load_rc(const char *rel, md_type type)
{
	size_t len;
	char *buf = t_read_file(t_vector(rel), &len);
	pawl_md *md = NULL;
	int r = md_parse(&md, buf, len, type, NULL);

	md_free(md);
	return r;
}

/* TUF 1.0.x 5.3.4-5.3.5: N+1 is signed by the threshold of N and of
 * itself, and its version is exactly N+1. */
static int rotate(pawl_md *trusted, pawl_md *next)
{
	int r;

	r = md_verify(next, &trusted->keys, md_root_role(trusted, MD_ROOT), "root");
	if (r < 0)
		return r;
	r = md_verify(next, &next->keys, md_root_role(next, MD_ROOT), "root");
	if (r < 0)
		return r;
	if (next->version != trusted->version + 1)
		return PAWL_E_ROLLBACK;
	return 0;
}

static void test_sigstore_root_chain(void **state)
{
	char rel[128];
	pawl_md *trusted;

	(void)state;
	trusted = load("sigstore-root-signing/metadata/5.root.json", MD_ROOT, NULL);
	/* v5 signs itself. */
	t_ok(md_verify(trusted, &trusted->keys, md_root_role(trusted, MD_ROOT), "root"));
	for (int v = 6; v <= 12; v++) {
		pawl_md *next;

		snprintf(rel, sizeof(rel), "sigstore-root-signing/metadata/%d.root.json", v);
		next = load(rel, MD_ROOT, NULL);
		t_ok(rotate(trusted, next));
		md_free(trusted);
		trusted = next;
	}
	assert_int_equal(trusted->version, 12);
	t_set_time_from_file(t_vector("sigstore-root-signing/faketime"));
	t_ok(md_check_expiry(trusted, pawl_now(), "root"));
	md_free(trusted);
}

static void test_sigstore_old_roots_rejected(void **state)
{
	pawl_md *v4, *v5;

	(void)state;
	/* v1..v3 carry expiry times with fractions and offsets that TUF's
	 * format does not allow: a clear format error, not a crash. */
	for (int v = 1; v <= 3; v++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "sigstore-root-signing/metadata/%d.root.json", v);
		t_fails(load_rc(rel, MD_ROOT), PAWL_E_FORMAT);
		assert_non_null(strstr(pawl_error_last()->message, "expires"));
	}
	/* v4 parses, but its keys are hex points, not the PEM that its scheme
	 * requires, so nothing it signed can count, and v5 does not verify. */
	v4 = load("sigstore-root-signing/metadata/4.root.json", MD_ROOT, NULL);
	v5 = load("sigstore-root-signing/metadata/5.root.json", MD_ROOT, NULL);
	t_fails(rotate(v4, v5), PAWL_E_SIGNATURE);
	assert_non_null(strstr(pawl_error_last()->message, "required signatures"));
	md_free(v4);
	md_free(v5);
}

static void test_sigstore_top_level(void **state)
{
	pawl_md *root, *ts, *snap, *targets, *npm;
	md_metafile mf;
	const md_role *r = NULL;

	(void)state;
	t_set_time_from_file(t_vector("sigstore-root-signing/faketime"));
	root = load("sigstore-root-signing/initial_root.json", MD_ROOT, NULL);
	assert_int_equal(root->version, 12);
	t_ok(md_verify(root, &root->keys, md_root_role(root, MD_ROOT), "root"));

	ts = load("sigstore-root-signing/metadata/timestamp.json", MD_TIMESTAMP, NULL);
	t_ok(md_verify(ts, &root->keys, md_root_role(root, MD_TIMESTAMP), "timestamp"));
	t_ok(md_check_expiry(ts, pawl_now(), "timestamp"));
	assert_int_equal(ts->snapshot_meta.version, 159);

	snap = load("sigstore-root-signing/metadata/159.snapshot.json", MD_SNAPSHOT, NULL);
	t_ok(md_verify(snap, &root->keys, md_root_role(root, MD_SNAPSHOT), "snapshot"));
	t_ok(md_check_expiry(snap, pawl_now(), "snapshot"));
	assert_int_equal(snap->version, ts->snapshot_meta.version);
	t_ok(md_meta_get(snap, "targets.json", &mf));
	assert_int_equal(mf.version, 11);

	targets = load("sigstore-root-signing/metadata/11.targets.json", MD_TARGETS, NULL);
	t_ok(md_verify(targets, &root->keys, md_root_role(root, MD_TARGETS), "targets"));
	t_ok(md_check_expiry(targets, pawl_now(), "targets"));
	assert_true(targets->has_delegations);
	for (size_t i = 0; i < targets->deleg.nroles; i++)
		if (strcmp(targets->deleg.roles[i].name, "registry.npmjs.org") == 0)
			r = &targets->deleg.roles[i];
	assert_non_null(r);
	assert_true(md_role_matches(r, "registry.npmjs.org/keys.json"));

	t_ok(md_meta_get(snap, "registry.npmjs.org.json", &mf));
	npm = load("sigstore-root-signing/metadata/5.registry.npmjs.org.json", MD_TARGETS,
		   "registry.npmjs.org");
	assert_int_equal(npm->version, mf.version);
	t_ok(md_verify(npm, &targets->deleg.keys, r, "registry.npmjs.org"));
	t_ok(md_check_expiry(npm, pawl_now(), "registry.npmjs.org"));
	{
		md_target t;

		t_ok(md_target_get(npm, "registry.npmjs.org/keys.json", &t));
		assert_true(t.length > 0);
	}
	/* The targets role's own key cannot sign for the delegation. */
	t_fails(md_verify(npm, &root->keys, md_root_role(root, MD_TARGETS), "registry.npmjs.org"),
		PAWL_E_SIGNATURE);

	/* A captured repository has expired since; the clock says so. */
	t_set_time("2100-01-01T00:00:00Z");
	t_fails(md_check_expiry(ts, pawl_now(), "timestamp"), PAWL_E_EXPIRED);
	pawl__test_set_now(-1);

	md_free(npm);
	md_free(targets);
	md_free(snap);
	md_free(ts);
	md_free(root);
}

static void test_sigstore_trusted_root_target(void **state)
{
	pawl_md *targets;
	md_target t;
	char *path;
	size_t len;
	char *data;

	(void)state;
	targets = load("sigstore-root-signing/metadata/11.targets.json", MD_TARGETS, NULL);
	path = t_read_file(t_vector("sigstore-root-signing/targetpath"), NULL);
	path[strcspn(path, "\r\n")] = '\0';
	t_ok(md_target_get(targets, path, &t));
	{
		char file[512];
		const char *h = pj_str(pj_get(t.hashes, "sha256"));

		snprintf(file, sizeof(file), "sigstore-root-signing/targets/%s.%s", h, path);
		data = t_read_file(t_vector(file), &len);
	}
	t_ok(md_check_content(data, len, true, t.length, t.hashes, path));
	data[len / 2] ^= 1;
	t_fails(md_check_content(data, len, true, t.length, t.hashes, path), PAWL_E_HASH);
	t_fails(md_check_content(data, len - 1, true, t.length, t.hashes, path), PAWL_E_LENGTH);
	free(data);
	free(path);
	md_free(targets);
}

static void test_tuf_on_ci(void **state)
{
	pawl_md *root, *ts, *snap, *targets, *deleg;
	md_metafile mf;
	md_target t;
	char *data;
	size_t len;

	(void)state;
	t_set_time_from_file(t_vector("tuf-on-ci-0.11/faketime"));
	root = load("tuf-on-ci-0.11/initial_root.json", MD_ROOT, NULL);
	assert_true(root->consistent_snapshot);
	t_ok(md_verify(root, &root->keys, md_root_role(root, MD_ROOT), "root"));
	ts = load("tuf-on-ci-0.11/metadata/timestamp.json", MD_TIMESTAMP, NULL);
	t_ok(md_verify(ts, &root->keys, md_root_role(root, MD_TIMESTAMP), "timestamp"));
	snap = load("tuf-on-ci-0.11/metadata/2.snapshot.json", MD_SNAPSHOT, NULL);
	t_ok(md_verify(snap, &root->keys, md_root_role(root, MD_SNAPSHOT), "snapshot"));
	assert_int_equal(snap->version, ts->snapshot_meta.version);
	targets = load("tuf-on-ci-0.11/metadata/1.targets.json", MD_TARGETS, NULL);
	t_ok(md_verify(targets, &root->keys, md_root_role(root, MD_TARGETS), "targets"));
	assert_int_equal(targets->deleg.nroles, 1);
	t_ok(md_meta_get(snap, "delegatedrole.json", &mf));
	deleg = load("tuf-on-ci-0.11/metadata/2.delegatedrole.json", MD_TARGETS, "delegatedrole");
	assert_int_equal(deleg->version, mf.version);
	/* Two keys listed, one signed, one left "": threshold 1 holds. */
	t_ok(md_verify(deleg, &targets->deleg.keys, &targets->deleg.roles[0], "delegatedrole"));
	t_ok(md_check_expiry(deleg, pawl_now(), "delegatedrole"));
	t_ok(md_target_get(deleg, "delegatedrole/artifact", &t));
	data = t_read_file(t_vector("tuf-on-ci-0.11/targets/delegatedrole/"
				    "45f337ee451b4c098d121d09cc224bacc7794503ac58a47a78cfe7ebefb7fab3"
				    ".artifact"), &len);
	t_ok(md_check_content(data, len, true, t.length, t.hashes, "delegatedrole/artifact"));
	free(data);
	md_free(deleg);
	md_free(targets);
	md_free(snap);
	md_free(ts);
	md_free(root);
}

/* Change one byte of signed content, in a way that keeps the JSON valid,
 * and the signature must no longer hold. Then flip bytes anywhere inside
 * "signed": the result must never verify. */
struct tamper_case {
	const char *file;
	md_type type;
	const char *keys_from; /* root file whose role keys sign it */
	const char *deleg_from; /* or a targets file that delegates to it */
	const char *name;
};

static int verify_file(const struct tamper_case *c, char *buf, size_t len)
{
	pawl_md *md = NULL, *signer;
	size_t slen;
	char *sbuf;
	int r;

	r = md_parse(&md, buf, len, c->type, c->name);
	if (r < 0)
		return r;
	if (c->deleg_from) {
		sbuf = t_read_file(t_vector(c->deleg_from), &slen);
		t_ok(md_parse(&signer, sbuf, slen, MD_TARGETS, NULL));
		r = md_verify(md, &signer->deleg.keys, &signer->deleg.roles[0], c->name);
	} else {
		sbuf = t_read_file(t_vector(c->keys_from), &slen);
		t_ok(md_parse(&signer, sbuf, slen, MD_ROOT, NULL));
		r = md_verify(md, &signer->keys, md_root_role(signer, c->type), c->name);
	}
	md_free(signer);
	md_free(md);
	return r;
}

static void test_tampering(void **state)
{
	static const struct tamper_case cases[] = {
		{ "sigstore-root-signing/metadata/12.root.json", MD_ROOT,
		  "sigstore-root-signing/metadata/11.root.json", NULL, "root" },
		{ "sigstore-root-signing/metadata/timestamp.json", MD_TIMESTAMP,
		  "sigstore-root-signing/initial_root.json", NULL, "timestamp" },
		{ "sigstore-root-signing/metadata/159.snapshot.json", MD_SNAPSHOT,
		  "sigstore-root-signing/initial_root.json", NULL, "snapshot" },
		{ "sigstore-root-signing/metadata/11.targets.json", MD_TARGETS,
		  "sigstore-root-signing/initial_root.json", NULL, "targets" },
		{ "tuf-on-ci-0.11/metadata/1.root.json", MD_ROOT,
		  "tuf-on-ci-0.11/initial_root.json", NULL, "root" },
		{ "tuf-on-ci-0.11/metadata/timestamp.json", MD_TIMESTAMP,
		  "tuf-on-ci-0.11/initial_root.json", NULL, "timestamp" },
		{ "tuf-on-ci-0.11/metadata/2.snapshot.json", MD_SNAPSHOT,
		  "tuf-on-ci-0.11/initial_root.json", NULL, "snapshot" },
		{ "tuf-on-ci-0.11/metadata/1.targets.json", MD_TARGETS,
		  "tuf-on-ci-0.11/initial_root.json", NULL, "targets" },
		{ "tuf-on-ci-0.11/metadata/2.delegatedrole.json", MD_TARGETS, NULL,
		  "tuf-on-ci-0.11/metadata/1.targets.json", "delegatedrole" },
	};

	(void)state;
	srand(12345);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct tamper_case *c = &cases[i];
		size_t len;
		char *orig = t_read_file(t_vector(c->file), &len);
		char *signed_at = strstr(orig, "\"signed\"");
		char *exp = strstr(orig, "\"expires\"");
		size_t start, end;
		char *buf;

		assert_non_null(signed_at);
		assert_non_null(exp);
		/* Untouched: verifies. */
		buf = malloc(len + 1);
		memcpy(buf, orig, len + 1);
		t_ok(verify_file(c, buf, len));

		/* One digit of the expiry year changes: still valid JSON, still a
		 * valid time, but no longer what was signed. */
		buf = malloc(len + 1);
		memcpy(buf, orig, len + 1);
		{
			char *digit = strchr(buf + (exp - orig) + 9, '"') + 3;

			*digit = *digit == '9' ? '8' : (char)(*digit + 1);
		}
		t_fails(verify_file(c, buf, len), PAWL_E_SIGNATURE);

		/* Flip one byte at random places inside "signed" (for root,
		 * signatures follow "signed" or precede it: pick the span of
		 * the signed object by its braces). */
		start = (size_t)(signed_at - orig);
		end = len;
		if (strstr(signed_at, "\"signatures\""))
			end = (size_t)(strstr(signed_at, "\"signatures\"") - orig);
		for (int k = 0; k < 40; k++) {
			size_t pos = start + 10 + (size_t)rand() % (end - start - 12);
			int r;

			buf = malloc(len + 1);
			memcpy(buf, orig, len + 1);
			buf[pos] ^= (char)(1 << (rand() % 7));
			r = verify_file(c, buf, len);
			if (r == 0) {
				/* Only insignificant whitespace may change harmlessly. */
				assert_true(orig[pos] == ' ' || orig[pos] == '\n' ||
					    orig[pos] == '\t' || orig[pos] == '\r');
			}
		}
		free(orig);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigstore_root_chain),
		cmocka_unit_test(test_sigstore_old_roots_rejected),
		cmocka_unit_test(test_sigstore_top_level),
		cmocka_unit_test(test_sigstore_trusted_root_target),
		cmocka_unit_test(test_tuf_on_ci),
		cmocka_unit_test(test_tampering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

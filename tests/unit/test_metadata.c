/*
 * test_metadata.c - the metadata model: strict parsing, threshold
 * verification, content checks, delegation matching, and building.
 * Every rejection has a test in which it happens.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/metadata.h"
#include "testing.h"

static pawl_signer *keys[4];
static pawl_key *pubs[4];
static pawl_key *alias_key; /* a key object of its own with key 0's material */
static char ids[4][65];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		if (signer_generate(&keys[i], i == 3 ? "ecdsa-p256" : "ed25519") < 0 ||
		    signer_public(keys[i], &pubs[i]) < 0 || key_compute_id(pubs[i], ids[i]) < 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		signer_free(keys[i]);
		key_free(pubs[i]);
	}
	key_free(alias_key);
	return 0;
}

/* A root whose root role is keys 0..2 with the given threshold. */
static pawl_md *make_root(uint32_t threshold)
{
	pawl_md *md;
	const char *rid[3] = { ids[0], ids[1], ids[2] };

	t_ok(md_new(&md, MD_ROOT, 1, 4102444800 /* 2100 */));
	for (int i = 0; i < 4; i++)
		t_ok(md_root_add_key(md, pubs[i]));
	t_ok(md_root_set_role(md, MD_ROOT, rid, 3, threshold));
	for (int r = 1; r < MD_NTOP; r++) {
		const char *one[1] = { ids[3] };

		t_ok(md_root_set_role(md, (md_type)r, one, 1, 1));
	}
	return md;
}

/* Serialise and parse again, as a client would read it. */
static pawl_md *reparse(pawl_md *md, md_type type)
{
	char *buf;
	size_t len;
	pawl_md *out;

	t_ok(md_serialize(md, &buf, &len));
	t_ok(md_parse(&out, buf, len, type, NULL));
	return out;
}

static int verify_root(pawl_md *md)
{
	return md_verify(md, &md->keys, md_root_role(md, MD_ROOT), "root");
}

static void test_threshold(void **state)
{
	pawl_md *md = make_root(2), *p;

	(void)state;
	/* No signatures. */
	t_fails(verify_root(md), PAWL_E_SIGNATURE);
	/* One of two. */
	t_ok(md_sign(md, keys[0]));
	t_fails(verify_root(md), PAWL_E_SIGNATURE);
	assert_non_null(strstr(pawl_error_last()->message, "1 of 2"));
	/* The same key's signature twice is refused outright: it could only
	 * be a replay meant to count twice. */
	p = reparse(md, MD_ROOT);
	{
		pj_value *sigs = pj_get_mut(pj_root(p->doc), "signatures"), *dup;
		pj_value copy = sigs->u.items[0];

		t_ok(pj_arr_push(p->doc, sigs, &dup));
		*dup = copy;
		t_fails(md_reload(p, NULL), PAWL_E_FORMAT);
		assert_non_null(strstr(pawl_error_last()->message, "twice"));
	}
	md_free(p);
	/* A key that is not in the root role (key 3 signs timestamp) does not
	 * count for root. */
	t_ok(md_sign(md, keys[3]));
	t_fails(verify_root(md), PAWL_E_SIGNATURE);
	/* Two distinct root keys: threshold met. */
	t_ok(md_sign(md, keys[1]));
	t_ok(verify_root(md));
	p = reparse(md, MD_ROOT);
	t_ok(verify_root(p));
	md_free(p);
	md_free(md);
}

static void test_signature_forms(void **state)
{
	pawl_md *md = make_root(1), *p;
	pj_value *sigs, *s0;

	(void)state;
	t_ok(md_sign(md, keys[0]));
	p = reparse(md, MD_ROOT);
	sigs = pj_get_mut(pj_root(p->doc), "signatures");
	s0 = pj_get_mut(&sigs->u.items[0], "sig");
	/* Empty signature (an absent keyholder): ignored, below threshold. */
	{
		pj_value saved = *s0;

		t_ok(pj_set_cstr(p->doc, s0, ""));
		t_ok(md_reload(p, NULL));
		t_fails(verify_root(p), PAWL_E_SIGNATURE);
		/* Not hex. */
		s0 = pj_get_mut(&pj_get_mut(pj_root(p->doc), "signatures")->u.items[0], "sig");
		t_ok(pj_set_cstr(p->doc, s0, "zz"));
		t_ok(md_reload(p, NULL));
		t_fails(verify_root(p), PAWL_E_SIGNATURE);
		/* Forged: right length, wrong bytes. */
		s0 = pj_get_mut(&pj_get_mut(pj_root(p->doc), "signatures")->u.items[0], "sig");
		*s0 = saved;
		{
			char *forged = strdup(saved.u.s);

			forged[10] = forged[10] == '0' ? '1' : '0';
			t_ok(pj_set_cstr(p->doc, s0, forged));
			free(forged);
		}
		t_ok(md_reload(p, NULL));
		t_fails(verify_root(p), PAWL_E_SIGNATURE);
		assert_non_null(strstr(pawl_error_last()->message, "invalid"));
	}
	/* Unknown keyid. */
	{
		pj_value *kid = pj_get_mut(&pj_get_mut(pj_root(p->doc), "signatures")->u.items[0],
					   "keyid");

		t_ok(pj_set_cstr(p->doc, kid, "00"));
		t_ok(md_reload(p, NULL));
		t_fails(verify_root(p), PAWL_E_SIGNATURE);
	}
	md_free(p);
	md_free(md);
}

/* Two keyids holding the same key material count as one key. */
static void test_same_key_two_ids(void **state)
{
	pawl_md *md = make_root(2), *p;
	pj_value *keysobj, *slot, *roles, *rootrole, *ids_arr, *sigs, *dup;
	const char *alias = "aaaa000000000000000000000000000000000000000000000000000000000000";

	(void)state;
	t_ok(md_sign(md, keys[0]));
	p = reparse(md, MD_ROOT);
	keysobj = pj_get_mut(p->signed_v, "keys");
	t_ok(pj_obj_put(p->doc, keysobj, alias, strlen(alias), &slot));
	t_ok(pj_copy(p->doc, slot, pj_get(keysobj, ids[0])));
	roles = pj_get_mut(p->signed_v, "roles");
	rootrole = pj_get_mut(roles, "root");
	ids_arr = pj_get_mut(rootrole, "keyids");
	t_ok(pj_arr_push(p->doc, ids_arr, &slot));
	t_ok(pj_set_cstr(p->doc, slot, alias));
	t_ok(md_reload(p, NULL));
	/* Re-sign with key 0 and add the same signature under the alias. */
	t_ok(md_clear_signatures(p));
	t_ok(md_sign(p, keys[0]));
	sigs = pj_get_mut(pj_root(p->doc), "signatures");
	{
		pj_value copy;
		pj_value *kid;

		t_ok(pj_arr_push(p->doc, sigs, &dup));
		t_ok(pj_copy(p->doc, dup, &sigs->u.items[0]));
		kid = pj_get_mut(dup, "keyid");
		t_ok(pj_set_cstr(p->doc, kid, alias));
		(void)copy;
	}
	t_ok(md_reload(p, NULL));
	t_fails(verify_root(p), PAWL_E_SIGNATURE);
	md_free(p);
	md_free(md);
}

static void test_expiry(void **state)
{
	pawl_md *md;

	(void)state;
	t_ok(md_new(&md, MD_TIMESTAMP, 3, 1000));
	t_ok(md_check_expiry(md, 999, NULL));
	t_fails(md_check_expiry(md, 1000, NULL), PAWL_E_EXPIRED);
	t_fails(md_check_expiry(md, 5000, NULL), PAWL_E_EXPIRED);
	assert_non_null(strstr(pawl_error_last()->message, "timestamp v3 expired"));
	md_free(md);
}

static int parse_str(const char *json, md_type type)
{
	pawl_md *md = NULL;
	int r = md_parse(&md, strdup(json), strlen(json), type, NULL);

	md_free(md);
	return r;
}

#define SIGNED_TS(body)                                                                 \
	"{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0.31\"," \
	"\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\"," body "}}"

static void test_malformed(void **state)
{
	(void)state;
	t_ok(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1}}"), MD_TIMESTAMP));
	/* wrong _type for the role asked for */
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1}}"), MD_SNAPSHOT),
		PAWL_E_FORMAT);
	/* meta without snapshot.json */
	t_fails(parse_str(SIGNED_TS("\"meta\":{}"), MD_TIMESTAMP), PAWL_E_FORMAT);
	/* version 0, negative, string */
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":0}}"), MD_TIMESTAMP),
		PAWL_E_FORMAT);
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":\"1\"}}"),
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	assert_non_null(strstr(pawl_error_last()->message, "version"));
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1,\"length\":-1}}"),
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1,\"hashes\":{}}}"),
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1,"
				    "\"hashes\":{\"sha256\":5}}}"), MD_TIMESTAMP), PAWL_E_FORMAT);
	/* floats are refused by the JSON layer */
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1.0}}"),
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	/* spec_version: other major, malformed */
	t_fails(parse_str("{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\","
			  "\"spec_version\":\"2.0.0\",\"version\":1,\"expires\":"
			  "\"2030-01-01T00:00:00Z\",\"meta\":{\"snapshot.json\":{\"version\":1}}}}",
			  MD_TIMESTAMP), PAWL_E_UNSUPPORTED);
	t_fails(parse_str("{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\","
			  "\"spec_version\":\"1.x\",\"version\":1,\"expires\":"
			  "\"2030-01-01T00:00:00Z\",\"meta\":{\"snapshot.json\":{\"version\":1}}}}",
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	t_fails(parse_str("{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\","
			  "\"spec_version\":\"1.0.31\",\"version\":1,\"expires\":"
			  "\"2030-01-01\",\"meta\":{\"snapshot.json\":{\"version\":1}}}}",
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	/* signatures not an array; entries malformed */
	t_fails(parse_str("{\"signatures\":{},\"signed\":{}}", MD_TIMESTAMP), PAWL_E_FORMAT);
	t_fails(parse_str("{\"signatures\":[{\"keyid\":1,\"sig\":\"\"}],\"signed\":{}}",
			  MD_TIMESTAMP), PAWL_E_FORMAT);
	t_fails(parse_str("[]", MD_TIMESTAMP), PAWL_E_FORMAT);
	/* duplicate keys at the JSON level */
	t_fails(parse_str(SIGNED_TS("\"meta\":{\"snapshot.json\":{\"version\":1,\"version\":2}}"),
			  MD_TIMESTAMP), PAWL_E_FORMAT);
}

#define SIGNED_TG(body)                                                                 \
	"{\"signatures\":[],\"signed\":{\"_type\":\"targets\",\"spec_version\":\"1.0\","     \
	"\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"targets\":{}," body "}}"

static void test_malformed_delegations(void **state)
{
	(void)state;
	t_ok(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"a\","
				 "\"keyids\":[],\"threshold\":1,\"terminating\":false,"
				 "\"paths\":[\"*\"]}]}"), MD_TARGETS));
	/* both paths and prefixes */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"a\","
				    "\"keyids\":[],\"threshold\":1,\"terminating\":false,"
				    "\"paths\":[\"*\"],\"path_hash_prefixes\":[\"ab\"]}]}"),
			  MD_TARGETS), PAWL_E_FORMAT);
	/* neither */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"a\","
				    "\"keyids\":[],\"threshold\":1,\"terminating\":false}]}"),
			  MD_TARGETS), PAWL_E_FORMAT);
	/* threshold 0 */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"a\","
				    "\"keyids\":[],\"threshold\":0,\"terminating\":false,"
				    "\"paths\":[\"*\"]}]}"), MD_TARGETS), PAWL_E_FORMAT);
	/* a top-level role name */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"root\","
				    "\"keyids\":[],\"threshold\":1,\"terminating\":false,"
				    "\"paths\":[\"*\"]}]}"), MD_TARGETS), PAWL_E_FORMAT);
	/* the same name twice */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"a\","
				    "\"keyids\":[],\"threshold\":1,\"terminating\":false,"
				    "\"paths\":[\"*\"]},{\"name\":\"a\",\"keyids\":[],"
				    "\"threshold\":1,\"terminating\":true,\"paths\":[\"x\"]}]}"),
			  MD_TARGETS), PAWL_E_FORMAT);
	/* a keyid twice in one role */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"a\","
				    "\"keyids\":[\"k\",\"k\"],\"threshold\":1,"
				    "\"terminating\":false,\"paths\":[\"*\"]}]}"), MD_TARGETS),
		PAWL_E_FORMAT);
	/* roles and succinct_roles together */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"roles\":[],\"succinct_roles\":"
				    "{\"keyids\":[],\"threshold\":1,\"bit_length\":8,"
				    "\"name_prefix\":\"bin\"}}"), MD_TARGETS), PAWL_E_FORMAT);
	/* bit_length out of range */
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"succinct_roles\":"
				    "{\"keyids\":[],\"threshold\":1,\"bit_length\":33,"
				    "\"name_prefix\":\"bin\"}}"), MD_TARGETS), PAWL_E_FORMAT);
	t_fails(parse_str(SIGNED_TG("\"delegations\":{\"keys\":{},\"succinct_roles\":"
				    "{\"keyids\":[],\"threshold\":1,\"bit_length\":0,"
				    "\"name_prefix\":\"bin\"}}"), MD_TARGETS), PAWL_E_FORMAT);
	/* a target without hashes, with a negative length */
	t_fails(parse_str("{\"signatures\":[],\"signed\":{\"_type\":\"targets\","
			  "\"spec_version\":\"1.0\",\"version\":1,\"expires\":"
			  "\"2030-01-01T00:00:00Z\",\"targets\":{\"a\":{\"length\":1}}}}",
			  MD_TARGETS), PAWL_E_FORMAT);
	t_fails(parse_str("{\"signatures\":[],\"signed\":{\"_type\":\"targets\","
			  "\"spec_version\":\"1.0\",\"version\":1,\"expires\":"
			  "\"2030-01-01T00:00:00Z\",\"targets\":{\"a\":{\"length\":-1,"
			  "\"hashes\":{\"sha256\":\"00\"}}}}}", MD_TARGETS), PAWL_E_FORMAT);
}

static void test_root_roles_required(void **state)
{
	pawl_md *md = make_root(1), *p;
	pj_value *roles;

	(void)state;
	p = reparse(md, MD_ROOT);
	roles = pj_get_mut(p->signed_v, "roles");
	t_ok(pj_obj_remove(roles, "snapshot"));
	t_fails(md_reload(p, NULL), PAWL_E_FORMAT);
	md_free(p);
	p = reparse(md, MD_ROOT);
	roles = pj_get_mut(p->signed_v, "roles");
	{
		pj_value *extra;

		t_ok(pj_obj_put(p->doc, roles, "mirrors", 7, &extra));
		t_ok(pj_copy(p->doc, extra, pj_get(roles, "root")));
	}
	t_fails(md_reload(p, NULL), PAWL_E_FORMAT);
	md_free(p);
	md_free(md);
}

/* Fields the specification does not name survive, and are signed. */
static void test_unknown_fields_preserved(void **state)
{
	pawl_md *md = make_root(1), *p, *q;
	pj_value *slot;
	const char *msg;
	size_t len;

	(void)state;
	t_ok(pj_obj_put(md->doc, md->signed_v, "x-custom", 8, &slot));
	t_ok(pj_set_cstr(md->doc, slot, "kept"));
	t_ok(md_reload(md, NULL));
	t_ok(md_sign(md, keys[0]));
	p = reparse(md, MD_ROOT);
	t_ok(verify_root(p));
	t_ok(md_signed_bytes(p, &msg, &len));
	assert_non_null(strstr(msg, "\"x-custom\":\"kept\""));
	/* Remove the field: the signature no longer holds. */
	q = reparse(md, MD_ROOT);
	t_ok(pj_obj_remove(q->signed_v, "x-custom"));
	t_ok(md_reload(q, NULL));
	t_fails(verify_root(q), PAWL_E_SIGNATURE);
	md_free(q);
	md_free(p);
	md_free(md);
}

static void test_unusable_key_never_counts(void **state)
{
	pawl_md *md = make_root(1), *p;
	pj_value *k, *scheme;

	(void)state;
	t_ok(md_sign(md, keys[0]));
	p = reparse(md, MD_ROOT);
	k = pj_get_mut(pj_get_mut(p->signed_v, "keys"), ids[0]);
	scheme = pj_get_mut(k, "scheme");
	t_ok(pj_set_cstr(p->doc, scheme, "ed448"));
	/* Still a readable root ... */
	t_ok(md_reload(p, NULL));
	assert_null(md_keys_find(&p->keys, ids[0])->key);
	/* ... but that key cannot sign. */
	t_fails(verify_root(p), PAWL_E_SIGNATURE);
	md_free(p);
	md_free(md);
}

static void test_content(void **state)
{
	pj_doc *doc;
	const char *json = "{\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}";
	const char *both = "{\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\","
			   "\"sha512\":\"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
			   "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f\"}";
	const char *weak = "{\"md5\":\"900150983cd24fb0d6963f7d28e17f72\","
			   "\"sha1\":\"a9993e364706816aba3e25717850c26c9cd0d89d\"}";
	const char *bad512 = "{\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\","
			     "\"sha512\":\"00af35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
			     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f\"}";

	(void)state;
	t_ok(pj_parse_copy(&doc, json, strlen(json), NULL));
	t_ok(md_check_content("abc", 3, true, 3, pj_root(doc), "t"));
	t_fails(md_check_content("abd", 3, true, 3, pj_root(doc), "t"), PAWL_E_HASH);
	t_fails(md_check_content("abc", 3, true, 4, pj_root(doc), "t"), PAWL_E_LENGTH);
	pj_doc_free(doc);
	t_ok(pj_parse_copy(&doc, both, strlen(both), NULL));
	t_ok(md_check_content("abc", 3, true, 3, pj_root(doc), "t"));
	pj_doc_free(doc);
	/* Every known algorithm must match, not just one. */
	t_ok(pj_parse_copy(&doc, bad512, strlen(bad512), NULL));
	t_fails(md_check_content("abc", 3, true, 3, pj_root(doc), "t"), PAWL_E_HASH);
	assert_non_null(strstr(pawl_error_last()->message, "sha512"));
	pj_doc_free(doc);
	/* A weak algorithm beside a strong one: refused, it cannot be
	 * trusted and so cannot be checked. */
	{
		const char *mixed = "{\"md5\":\"900150983cd24fb0d6963f7d28e17f72\",\"sha256\":"
				    "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}";

		t_ok(pj_parse_copy(&doc, mixed, strlen(mixed), NULL));
		t_fails(md_check_content("abc", 3, true, 3, pj_root(doc), "t"), PAWL_E_UNSUPPORTED);
		assert_non_null(strstr(pawl_error_last()->message, "md5"));
		pj_doc_free(doc);
	}
	/* Only weak algorithms: refused, even though they match. */
	t_ok(pj_parse_copy(&doc, weak, strlen(weak), NULL));
	t_fails(md_check_content("abc", 3, true, 3, pj_root(doc), "t"), PAWL_E_UNSUPPORTED);
	pj_doc_free(doc);
}

static void test_path_match(void **state)
{
	(void)state;
	assert_true(md_path_match("*", "file.txt"));
	assert_false(md_path_match("*", "dir/file.txt"));
	assert_true(md_path_match("dir/*", "dir/file.txt"));
	assert_false(md_path_match("dir/*", "dir/sub/file.txt"));
	assert_true(md_path_match("*/*.tar.gz", "app/app-1.0.tar.gz"));
	assert_true(md_path_match("a/?.txt", "a/b.txt"));
	assert_false(md_path_match("a/?.txt", "a/bb.txt"));
	assert_true(md_path_match("a/[bc].txt", "a/c.txt"));
	assert_false(md_path_match("a/[!bc].txt", "a/c.txt"));
	assert_true(md_path_match("targets/file.txt", "targets/file.txt"));
	assert_false(md_path_match("targets/file.txt", "targets/file.txT"));
	/* A backslash is literal, as in Python's fnmatch. */
	assert_true(md_path_match("a\\*", "a\\bc"));
	assert_false(md_path_match("", "a"));
}

static void test_hash_prefix_and_bins(void **state)
{
	md_role r = { 0 };
	pj_doc *doc;
	/* sha256("foo.txt") = ddab29ff2c393ee52855d21a240eb05f775df88e3ce347df759f0c4b80356c35 */
	const char *prefixes = "[\"dd\",\"00\"]";
	const char *miss = "[\"de\"]";
	md_succinct s;
	char name[64];

	(void)state;
	t_ok(pj_parse_copy(&doc, prefixes, strlen(prefixes), NULL));
	r.path_hash_prefixes = pj_root(doc);
	assert_true(md_role_matches(&r, "foo.txt"));
	pj_doc_free(doc);
	t_ok(pj_parse_copy(&doc, miss, strlen(miss), NULL));
	r.path_hash_prefixes = pj_root(doc);
	assert_false(md_role_matches(&r, "foo.txt"));
	pj_doc_free(doc);

	memset(&s, 0, sizeof(s));
	s.name_prefix = "bin";
	s.bit_length = 8;
	assert_int_equal(md_succinct_count(&s), 256);
	t_ok(md_succinct_role_for(&s, "foo.txt", name, sizeof(name)));
	assert_string_equal(name, "bin-dd");
	assert_true(md_succinct_has(&s, "bin-dd"));
	assert_true(md_succinct_has(&s, "bin-00"));
	assert_false(md_succinct_has(&s, "bin-100"));
	assert_false(md_succinct_has(&s, "bin-DD"));
	assert_false(md_succinct_has(&s, "bim-dd"));
	s.bit_length = 10; /* 0xddab >> 6 = 0x376, three digits */
	t_ok(md_succinct_role_for(&s, "foo.txt", name, sizeof(name)));
	assert_string_equal(name, "bin-376");
	assert_false(md_succinct_has(&s, "bin-400"));
	s.bit_length = 1;
	t_ok(md_succinct_role_for(&s, "foo.txt", name, sizeof(name)));
	assert_string_equal(name, "bin-1");
	t_ok(md_succinct_name(&s, 0, name, sizeof(name)));
	assert_string_equal(name, "bin-0");
}

static void test_build_targets_and_delegations(void **state)
{
	pawl_md *md, *p;
	pj_doc *h;
	const char *hashes = "{\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}";
	const char *paths[] = { "apps/*" };
	md_target t;

	(void)state;
	t_ok(pj_parse_copy(&h, hashes, strlen(hashes), NULL));
	t_ok(md_new(&md, MD_TARGETS, 1, 4102444800));
	t_ok(md_target_put(md, "a.txt", 3, pj_root(h), NULL));
	t_ok(md_target_put(md, "dir/b.txt", 3, pj_root(h), NULL));
	t_ok(md_deleg_add_role(md, "apps", &pubs[0], 1, 1, true, paths, 1, NULL, 0));
	t_ok(md_sign(md, keys[3]));
	p = reparse(md, MD_TARGETS);
	t_ok(md_target_get(p, "dir/b.txt", &t));
	assert_int_equal(t.length, 3);
	t_fails(md_target_get(p, "c.txt", &t), PAWL_E_NOT_FOUND);
	assert_true(p->has_delegations);
	assert_int_equal(p->deleg.nroles, 1);
	assert_true(p->deleg.roles[0].terminating);
	assert_true(md_role_matches(&p->deleg.roles[0], "apps/x"));
	assert_non_null(md_keys_find(&p->deleg.keys, ids[0]));
	t_ok(md_target_remove(md, "a.txt"));
	t_fails(md_target_get(md, "a.txt", &t), PAWL_E_NOT_FOUND);
	t_ok(md_deleg_remove_role(md, "apps"));
	assert_int_equal(md->deleg.nroles, 0);
	md_free(p);
	md_free(md);

	t_ok(md_new(&md, MD_TARGETS, 1, 4102444800));
	t_ok(md_deleg_set_succinct(md, &pubs[1], 1, 1, 10, "bins"));
	p = reparse(md, MD_TARGETS);
	assert_true(p->deleg.succinct_present);
	assert_int_equal(p->deleg.succinct.bit_length, 10);
	md_free(p);
	md_free(md);
	pj_doc_free(h);
}

/* ---- md_parse_verify: large roles verified over their raw bytes ---- */

/* A targets role signed by keys[3] (the targets key of make_root), of
 * about 1.5 MB: past the size where md_parse_verify looks at raw bytes. */
static pawl_md *big_targets(void)
{
	const char *hashes = "{\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}";
	pj_doc *h;
	pawl_md *md;
	char path[64];

	t_ok(pj_parse_copy(&h, hashes, strlen(hashes), NULL));
	t_ok(md_new(&md, MD_TARGETS, 1, 4102444800));
	for (int i = 0; i < 12000; i++) {
		snprintf(path, sizeof(path), "files/dir%d/artifact-%d.bin", i % 97, i);
		t_ok(md_target_put(md, path, (uint64_t)i, pj_root(h), NULL));
	}
	t_ok(md_sign(md, keys[3]));
	pj_doc_free(h);
	return md;
}

/* Parse-and-verify text (a copy: the parser takes its buffer). */
static int parse_verify_text(const char *text, size_t len, pawl_md *root, bool *fast,
			     pawl_md **ret)
{
	char *buf = malloc(len + 1);

	assert_non_null(buf);
	memcpy(buf, text, len);
	buf[len] = '\0';
	return md_parse_verify(ret, buf, len, MD_TARGETS, "targets", &root->keys,
			       md_root_role(root, MD_TARGETS), fast);
}

static void test_parse_verify(void **state)
{
	pawl_md *root = make_root(1), *md = big_targets(), *p;
	char *compact;
	size_t clen;
	pawl_buf pretty = PAWL_BUF_INIT(SIZE_MAX / 2);
	bool fast = true;

	(void)state;
	t_ok(md_serialize(md, &compact, &clen));
	assert_true(clen > ((size_t)1 << 20));

	/* What pawl-repo writes: verified over the raw bytes, no canonical
	 * copy made, and the same document as md_parse + md_verify give. */
	t_ok(parse_verify_text(compact, clen, root, &fast, &p));
	assert_true(fast);
	assert_null(p->canon);
	{
		md_target t;

		t_ok(md_target_get(p, "files/dir8/artifact-11745.bin", &t));
		assert_int_equal(t.length, 11745);
	}
	md_free(p);

	/* python-tuf's layout: not canonical, so the usual way, and valid. */
	t_ok(pj_write(&pretty, pj_root(md->doc), true));
	t_ok(parse_verify_text(pretty.data, pretty.len, root, &fast, &p));
	assert_false(fast);
	assert_non_null(p->canon);
	md_free(p);

	/* A changed byte inside "signed": refused either way. */
	{
		char *bad = strdup(compact);
		char *at = strstr(bad, "artifact-6000.bin");

		assert_non_null(bad);
		assert_non_null(at);
		at[9] = '7'; /* artifact-7000.bin, which exists too: still unsigned */
		t_fails(parse_verify_text(bad, clen, root, &fast, &p), PAWL_E_SIGNATURE);
		assert_false(fast);
		free(bad);
	}

	/* A signature over the raw, pretty-printed "signed" bytes verifies
	 * over those bytes, but they are not the canonical form of what they
	 * parse to: the binding fails, and the usual way refuses. */
	{
		size_t ss, se, siglen;
		uint8_t *sig;
		char hex[2 * 1024 + 1], *at;
		const char *old = pj_str(pj_get(&md->signatures->u.items[0], "sig"));
		pawl_buf forged = PAWL_BUF_INIT(SIZE_MAX / 2);

		assert_int_equal(pj_raw_member(pretty.data, pretty.len, "signed", &ss, &se), 0);
		t_ok(signer_sign(keys[3], pretty.data + ss, se - ss, &sig, &siglen));
		assert_true(siglen <= 1024);
		hex_encode(hex, sig, siglen);
		free(sig);
		at = strstr(pretty.data, old);
		assert_non_null(at);
		t_ok(buf_append(&forged, pretty.data, (size_t)(at - pretty.data)));
		t_ok(buf_append(&forged, hex, strlen(hex)));
		t_ok(buf_append(&forged, at + strlen(old), pretty.len - (size_t)(at - pretty.data) - strlen(old)));
		t_fails(parse_verify_text(forged.data, forged.len, root, &fast, &p),
			PAWL_E_SIGNATURE);
		assert_false(fast);
		buf_free(&forged);
	}

	/* Too few valid signatures over the raw bytes: the usual way decides
	 * (and refuses a role signed by a key it does not list). */
	{
		pawl_md *other = make_root(1);
		const char *one[1] = { ids[0] };

		t_ok(md_root_set_role(other, MD_TARGETS, one, 1, 1));
		t_fails(parse_verify_text(compact, clen, other, &fast, &p), PAWL_E_SIGNATURE);
		assert_false(fast);
		md_free(other);
	}
	buf_free(&pretty);
	free(compact);
	md_free(md);
	md_free(root);
}

/* ---- peers' failures (the client side is in tests/integration/test_peers.c) ---- */

/* A targets role signed by keys[3], over 1 MiB like big_targets() but
 * made of one target whose custom data holds 20 strings of 64 KiB: the
 * same raw-bytes path of md_parse_verify, at a fraction of the cost
 * (these tests also run under the sanitizers). */
static pawl_md *big_custom_targets(void)
{
	const char *hashes = "{\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}";
	char *filler = malloc(64 * 1024 + 1);
	pj_doc *h, *c;
	pawl_md *md;

	assert_non_null(filler);
	memset(filler, 'x', 64 * 1024);
	filler[64 * 1024] = '\0';
	t_ok(pj_parse_copy(&h, hashes, strlen(hashes), NULL));
	t_ok(pj_doc_new(&c));
	t_ok(pj_set_object(c, pj_root(c)));
	for (int i = 0; i < 20; i++) {
		char key[16];

		snprintf(key, sizeof(key), "part%02d", i);
		t_ok(pj_obj_put_str(c, pj_root(c), key, filler));
	}
	t_ok(md_new(&md, MD_TARGETS, 1, 4102444800));
	t_ok(md_target_put(md, "image.bin", 3, pj_root(h), pj_root(c)));
	t_ok(md_sign(md, keys[3]));
	pj_doc_free(h);
	pj_doc_free(c);
	free(filler);
	return md;
}

/* go-tuf CVE-2026-23992: a threshold of 0 (or less) asks for no
 * signature at all. The parser refuses it in root and in delegations; and
 * md_verify refuses a role with threshold 0 however it got one, both on
 * its usual path and on the raw-bytes path of large documents. */
static void test_cve_2026_23992_threshold_zero(void **state)
{
	static const int64_t bad[] = { 0, -1 };
	static const char *const any[] = { "*" };
	pawl_md *root = make_root(1), *p, *t, *big, *out = NULL;
	md_role zero;
	char *text, *buf;
	size_t len;
	bool fast = true;

	(void)state;
	t_ok(md_sign(root, keys[0]));
	for (size_t i = 0; i < 2; i++) {
		p = reparse(root, MD_ROOT);
		t_ok(pj_obj_put_int(p->doc, pj_get_mut(pj_get_mut(p->signed_v, "roles"), "root"),
				    "threshold", bad[i]));
		t_fails(md_reload(p, NULL), PAWL_E_FORMAT);
		assert_non_null(strstr(pawl_error_last()->message,
				       "roles.root.threshold must be an integer >= 1"));
		md_free(p);

		t_ok(md_new(&t, MD_TARGETS, 1, 4102444800));
		t_ok(md_deleg_add_role(t, "A", &pubs[0], 1, 1, false, any, 1, NULL, 0));
		p = reparse(t, MD_TARGETS);
		t_ok(pj_obj_put_int(p->doc,
				    &pj_get_mut(pj_get_mut(p->signed_v, "delegations"), "roles")
					     ->u.items[0],
				    "threshold", bad[i]));
		t_fails(md_reload(p, NULL), PAWL_E_FORMAT);
		assert_non_null(strstr(pawl_error_last()->message, "A.threshold must be an integer >= 1"));
		md_free(p);
		md_free(t);
	}

	/* A threshold-0 role built by hand: root is validly signed by key 0,
	 * and still no threshold of 0 is met. */
	zero = *md_root_role(root, MD_ROOT);
	zero.threshold = 0;
	t_ok(verify_root(root));
	t_fails(md_verify(root, &root->keys, &zero, "root"), PAWL_E_SIGNATURE);
	assert_non_null(strstr(pawl_error_last()->message, "threshold is 0"));

	/* The raw path: a large targets document, signed by its key. */
	big = big_custom_targets();
	t_ok(md_serialize(big, &text, &len));
	zero = *md_root_role(root, MD_TARGETS);
	t_ok(parse_verify_text(text, len, root, &fast, &out));
	assert_true(fast);
	md_free(out);
	out = NULL;
	zero.threshold = 0;
	buf = malloc(len + 1);
	assert_non_null(buf);
	memcpy(buf, text, len);
	buf[len] = '\0';
	t_fails(md_parse_verify(&out, buf, len, MD_TARGETS, "targets", &root->keys, &zero, &fast),
		PAWL_E_SIGNATURE);
	assert_null(out);
	free(text);
	md_free(big);
	md_free(root);
}

/* tough CVE-2026-6966, python-tuf GMS-2022-4197: a key counts once.
 * md_verify does not lean on the parser's refusal of a repeated key id
 * (a document changed after parsing), and on the raw-bytes path of a
 * large document, where the parser has not run yet, one key under two
 * key ids still counts once. */
static void test_cve_2026_6966_key_counted_once(void **state)
{
	pawl_md *md = make_root(2), *p, *big, *out = NULL;
	pj_value *sigs, *dup, *kid;
	const char *alias = "~alias"; /* sorts after every hex key id */
	const char *twoids[2] = { ids[3], alias };
	md_keyentry ents[2];
	md_keys two;
	md_role role;
	pawl_key *copy;
	pj_doc *kdoc;
	char *text;
	size_t len;
	bool fast = true;

	(void)state;
	/* The same signature twice, after parsing. */
	t_ok(md_sign(md, keys[0]));
	p = reparse(md, MD_ROOT);
	sigs = pj_get_mut(pj_root(p->doc), "signatures");
	t_ok(pj_arr_push(p->doc, sigs, &dup));
	t_ok(pj_copy(p->doc, dup, &sigs->u.items[0]));
	p->signatures = pj_get(pj_root(p->doc), "signatures");
	assert_int_equal(p->signatures->len, 2);
	t_fails(verify_root(p), PAWL_E_SIGNATURE);
	assert_non_null(strstr(pawl_error_last()->message, "1 of 2"));
	md_free(p);
	md_free(md);

	/* A large targets document signed by keys[3] under its id and under
	 * an alias, for a role that needs both ids. The alias is its own key
	 * object (parsed again), with the same public key. */
	t_ok(pj_doc_new(&kdoc));
	t_ok(key_to_json(pubs[3], kdoc, pj_root(kdoc)));
	t_ok(key_from_json(&copy, pj_root(kdoc), alias));
	pj_doc_free(kdoc);
	ents[0] = (md_keyentry){ ids[3], pubs[3] };
	ents[1] = (md_keyentry){ alias, copy };
	assert_true(strcmp(ids[3], alias) < 0);
	two = (md_keys){ ents, 2 };
	role = (md_role){ .name = "targets", .keyids = twoids, .nkeyids = 2, .threshold = 2 };
	big = big_custom_targets();
	sigs = pj_get_mut(pj_root(big->doc), "signatures");
	t_ok(pj_arr_push(big->doc, sigs, &dup));
	t_ok(pj_copy(big->doc, dup, &sigs->u.items[0]));
	kid = pj_get_mut(dup, "keyid");
	t_ok(pj_set_cstr(big->doc, kid, alias));
	t_ok(md_serialize(big, &text, &len));
	{
		char *buf = malloc(len + 1);

		assert_non_null(buf);
		memcpy(buf, text, len);
		buf[len] = '\0';
		t_fails(md_parse_verify(&out, buf, len, MD_TARGETS, "targets", &two, &role, &fast),
			PAWL_E_SIGNATURE);
		assert_false(fast);
		assert_null(out);
		assert_non_null(strstr(pawl_error_last()->message, "1 of 2"));
	}
	free(text);
	key_free(copy);
	md_free(big);
}

/* ---------------- the threshold rule (md_count_sigs) ---------------- */

#define ALIAS "0000aaaa00000000000000000000000000000000000000000000000000000000"
#define ABSENT "eeee000000000000000000000000000000000000000000000000000000000000"

static const char rule_msg[] = "the bytes a role signs";

static int keyentry_cmp(const void *a, const void *b)
{
	return strcmp(((const md_keyentry *)a)->keyid, ((const md_keyentry *)b)->keyid);
}

/* hex of keys[i]'s signature over rule_msg, in a static buffer per key. */
static const char *rule_sig(int i)
{
	static char hex[4][2 * KEY_SIG_MAX + 1];
	uint8_t *sig;
	size_t len;

	if (!hex[i][0]) {
		t_ok(signer_sign(keys[i], rule_msg, sizeof(rule_msg), &sig, &len));
		hex_encode(hex[i], sig, len);
		free(sig);
	}
	return hex[i];
}

/* Count a signatures array written as JSON text with the rule's keys and
 * role: keys 0..2 and ALIAS (key 0's material in another object) known, ABSENT listed but not
 * known, key 3 known but not listed. */
static int count_json(const char *json, uint32_t stop, md_sigcount *ret)
{
	md_keyentry v[5] = {
		{ ids[0], pubs[0] }, { ids[1], pubs[1] }, { ids[2], pubs[2] },
		{ ids[3], pubs[3] }, { ALIAS, NULL },
	};
	const char *listed[] = { ids[0], ids[1], ids[2], ALIAS, ABSENT };
	md_keys ks = { v, 5 };
	md_role role = { .name = "rule", .keyids = listed, .nkeyids = 5, .threshold = 2 };
	pj_doc *doc;
	int r;

	if (!alias_key)
		t_ok(signer_public(keys[0], &alias_key));
	assert_ptr_not_equal(alias_key, pubs[0]);
	v[4].key = alias_key;
	qsort(v, 5, sizeof(v[0]), keyentry_cmp);
	t_ok(pj_parse_copy(&doc, json, strlen(json), NULL));
	r = md_count_sigs(rule_msg, sizeof(rule_msg), pj_root(doc), &ks, &role, stop, ret);
	pj_doc_free(doc);
	return r;
}

/* {"keyid": id, "sig": sig} entries, up to four, as one JSON array. */
static const char *PAWL_PRINTF(1, 2) sigs_json(const char *fmt, ...)
{
	static char out[8 * 4 * KEY_SIG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	return out;
}

#define SIG(id, hex) "{\"keyid\":\"" id "\",\"sig\":\"" hex "\"}"

static uint32_t count_ok(const char *json, uint32_t stop, md_sigcount *c)
{
	t_ok(count_json(json, stop, c));
	return c->valid;
}

static void test_threshold_rule(void **state)
{
	md_sigcount c;
	char forged[2 * KEY_SIG_MAX + 1];

	(void)state;
	/* One listed key, then two distinct ones. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "]", ids[0], rule_sig(0)), 0, &c),
			 1);
	assert_string_equal(c.why, "");
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ids[0],
					    rule_sig(0), ids[1], rule_sig(1)),
				  0, &c),
			 2);
	/* stop: no more work once enough keys are valid. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ids[0],
					    rule_sig(0), ids[1], rule_sig(1)),
				  1, &c),
			 1);

	/* The same signature twice under one key id counts once. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ids[0],
					    rule_sig(0), ids[0], rule_sig(0)),
				  0, &c),
			 1);
	/* One key under two key ids counts once. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ids[0],
					    rule_sig(0), ALIAS, rule_sig(0)),
				  0, &c),
			 1);
	/* ... in either order. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ALIAS,
					    rule_sig(0), ids[0], rule_sig(0)),
				  0, &c),
			 1);

	/* A key the role does not list is ignored, silently: its signature
	 * may be for another role. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "]", ids[3], rule_sig(3)), 0, &c),
			 0);
	assert_string_equal(c.why, "");
	/* A listed key that is not known is ignored, and said so. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ABSENT,
					    rule_sig(2), ids[1], rule_sig(1)),
				  0, &c),
			 1);
	assert_non_null(strstr(c.why, "unknown or unusable"));

	/* Empty (an absent key holder), missing key id, not hex, forged. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "") ",{\"sig\":\"%s\"}]", ids[0],
					    rule_sig(0)),
				  0, &c),
			 0);
	assert_string_equal(c.why, "");
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "zz") "]", ids[0]), 0, &c), 0);
	assert_non_null(strstr(c.why, "not hex"));
	snprintf(forged, sizeof(forged), "%s", rule_sig(0));
	forged[10] = forged[10] == '0' ? '1' : '0';
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "]", ids[0], forged), 0, &c), 0);
	assert_non_null(strstr(c.why, "invalid"));
	/* A bad signature does not stop the same key's good one counting;
	 * the reason kept is the first. */
	assert_int_equal(count_ok(sigs_json("[" SIG("%s", "%s") "," SIG("%s", "%s") "]", ids[0],
					    forged, ids[0], rule_sig(0)),
				  0, &c),
			 1);
	assert_non_null(strstr(c.why, "invalid"));

	/* Errors are errors, never a lower count. */
	t_fails(count_json("{}", 0, &c), PAWL_E_FORMAT);
	{
		md_keyentry v[1] = { { ids[0], pubs[0] } };
		const char *listed[] = { ids[0] };
		md_keys ks = { v, 1 };
		md_role role = { .name = "r", .keyids = listed, .nkeyids = 1, .threshold = 1 };
		pj_doc *doc;
		const char *json = sigs_json("[" SIG("%s", "%s") "]", ids[0], rule_sig(0));

		t_ok(pj_parse_copy(&doc, json, strlen(json), NULL));
		c.valid = 42;
		/* key_verify() refuses a message it cannot read: not a bad
		 * signature, so the count fails rather than says 0. */
		t_fails(md_count_sigs(NULL, 5, pj_root(doc), &ks, &role, 0, &c), PAWL_E_INVALID);
		assert_int_equal(c.valid, 42); /* written only on success */
		pj_doc_free(doc);
	}
}

/* md_verify() is md_count_sigs() against the threshold: the client's
 * answer and the publisher's count (md_count_valid) agree. */
static void test_verify_is_the_count(void **state)
{
	pawl_md *md = make_root(2), *p;
	md_sigcount c;

	(void)state;
	t_ok(md_sign(md, keys[0]));
	t_ok(md_sign(md, keys[3])); /* not a root key */
	p = reparse(md, MD_ROOT);
	t_ok(md_count_valid(p, &p->keys, md_root_role(p, MD_ROOT), 0, &c));
	assert_int_equal(c.valid, 1);
	t_fails(verify_root(p), PAWL_E_SIGNATURE);
	assert_non_null(strstr(pawl_error_last()->message, "1 of 2"));
	md_free(p);
	t_ok(md_sign(md, keys[1]));
	p = reparse(md, MD_ROOT);
	t_ok(md_count_valid(p, &p->keys, md_root_role(p, MD_ROOT), 0, &c));
	assert_int_equal(c.valid, 2);
	t_ok(verify_root(p));
	md_free(p);
	md_free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_threshold_rule),
		cmocka_unit_test(test_verify_is_the_count),
		cmocka_unit_test(test_parse_verify),
		cmocka_unit_test(test_signature_forms),
		cmocka_unit_test(test_same_key_two_ids),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_delegations),
		cmocka_unit_test(test_root_roles_required),
		cmocka_unit_test(test_unknown_fields_preserved),
		cmocka_unit_test(test_unusable_key_never_counts),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_path_match),
		cmocka_unit_test(test_hash_prefix_and_bins),
		cmocka_unit_test(test_build_targets_and_delegations),
		cmocka_unit_test(test_cve_2026_23992_threshold_zero),
		cmocka_unit_test(test_cve_2026_6966_key_counted_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_repod_request.c - pawl-repod's request validator (request.c):
 * what RSTUF clients send is accepted, and each rule refuses what it
 * must, with the status class the API answers (PAWL_E_FORMAT: 400,
 * PAWL_E_INVALID: 422). Also: the service files an artifact in the same
 * succinct bin a TUF client looks in (md_succinct_role_for).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/pawl-repod/request.h"
#include "metadata/metadata.h"
#include "pawl/common.h"
#include "testing.h"

#define H64 "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

static int parse(bool del, const char *body, rq_request *rq)
{
	size_t n = strlen(body);
	char *b = malloc(n + 1);

	assert_non_null(b);
	memcpy(b, body, n + 1);
	return del ? rq_parse_delete(rq, b, n) : rq_parse_add(rq, b, n);
}

static void expect(const char *body, int code)
{
	rq_request rq = { 0 };
	int r = parse(false, body, &rq);

	if (r != code)
		fail_msg("%s: got %d (%s), wanted %d", body, r,
			 r ? pawl_error_last()->message : "ok", code);
	if (r == 0)
		rq_free(&rq);
}

static char *one(const char *path, const char *length, const char *hashes)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "{\"artifacts\":[{\"path\":%s,\"info\":{\"length\":%s,"
				   "\"hashes\":%s}}]}", path, length, hashes);
	return buf;
}

static void test_accepts_rstuf_bodies(void **state)
{
	rq_request rq = { 0 };

	(void)state;
	assert_int_equal(parse(false,
			       "{\"artifacts\":[{\"path\":\"v3.4.1/file-3.4.1.tar.gz\",\"info\":"
			       "{\"length\":630,\"hashes\":{\"sha256\":\"" H64 "\"},"
			       "\"custom\":{\"k\":\"v\"}}},{\"path\":\"file2.tar.gz\",\"info\":"
			       "{\"length\":0,\"hashes\":{\"sha256\":\"" H64 "\"}}}],"
			       "\"add_task_id_to_custom\":true,\"publish_artifacts\":false}",
			       &rq),
			 0);
	assert_int_equal(rq.n, 2);
	assert_false(rq.publish);
	assert_true(rq.add_task_id_to_custom);
	assert_string_equal(rq.v[0].path, "v3.4.1/file-3.4.1.tar.gz");
	assert_int_equal(rq.v[0].length, 630);
	assert_string_equal(rq.v[0].sha256, H64);
	assert_non_null(rq.v[0].custom);
	{
		char *e = NULL;
		size_t n;

		assert_int_equal(rq_entry_json(&rq.v[0], "abc", &e, &n), 0);
		assert_string_equal(e, "{\"custom\":{\"added_by_task_id\":\"abc\",\"k\":\"v\"},"
				       "\"hashes\":{\"sha256\":\"" H64 "\"},\"length\":630}");
		free(e);
	}
	rq_free(&rq);
	assert_int_equal(parse(true, "{\"artifacts\":[\"a/b\",\"c\"]}", &rq), 0);
	assert_int_equal(rq.n, 2);
	assert_true(rq.publish);
	rq_free(&rq);
	/* Upper-case hex is taken and stored lower-case. */
	assert_int_equal(parse(false, one("\"x\"", "1", "{\"sha512\":\"" "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
					  "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" "\"}"),
			       &rq),
			 0);
	assert_int_equal(strncmp(rq.v[0].sha512, "abcdef0123456789", 16), 0);
	assert_string_equal(rq.v[0].sha256, "");
	rq_free(&rq);
}

static void test_refuses_bad_json(void **state)
{
	(void)state;
	expect("", PAWL_E_FORMAT);
	expect("{\"artifacts\": [,]}", PAWL_E_FORMAT);
	expect("{\"artifacts\": []} x", PAWL_E_FORMAT);
	expect("{\"artifacts\": [], \"artifacts\": []}", PAWL_E_FORMAT);
	expect(one("\"a\"", "1.5", "{\"sha256\":\"" H64 "\"}"), PAWL_E_FORMAT);
	expect("[]", PAWL_E_INVALID);
	expect("{\"artifacts\": []}", PAWL_E_INVALID);
	expect("{\"artifacts\": {}}", PAWL_E_INVALID);
	expect("{\"artifacts\": [1]}", PAWL_E_INVALID);
	expect("{\"artifacts\":[{\"path\":\"a\"}]}", PAWL_E_INVALID);
}

static void test_refuses_bad_hashes_and_lengths(void **state)
{
	(void)state;
	expect(one("\"a\"", "1", "{\"md5\":\"0123456789abcdef0123456789abcdef\"}"), PAWL_E_INVALID);
	expect(one("\"a\"", "1", "{\"sha256\":\"" H64 "\",\"sha1\":\"00\"}"), PAWL_E_INVALID);
	expect(one("\"a\"", "1", "{}"), PAWL_E_INVALID);
	expect(one("\"a\"", "1", "{\"sha256\":\"zz11642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\"}"),
	       PAWL_E_INVALID);
	expect(one("\"a\"", "1", "{\"sha256\":\"2d71\"}"), PAWL_E_INVALID);
	expect(one("\"a\"", "1", "{\"sha256\":\"" H64 "00\"}"), PAWL_E_INVALID);
	expect(one("\"a\"", "1", "{\"sha256\":1}"), PAWL_E_INVALID);
	expect(one("\"a\"", "-1", "{\"sha256\":\"" H64 "\"}"), PAWL_E_INVALID);
	expect(one("\"a\"", "17592186044417", "{\"sha256\":\"" H64 "\"}"), PAWL_E_INVALID);
	expect(one("\"a\"", "17592186044416", "{\"sha256\":\"" H64 "\"}"), 0);
	expect(one("\"a\"", "\"1\"", "{\"sha256\":\"" H64 "\"}"), PAWL_E_INVALID);
}

static void test_refuses_bad_paths(void **state)
{
	static const char *const bad[] = {
		"\"\"", "\"..\"", "\"a/../b\"", "\"../a\"", "\"a/..\"", "\"./a\"", "\"a/./b\"",
		"\"/a\"", "\"a/\"", "\"a//b\"", "\"a\\u0000b\"", "\"a\\u0001\"", "\"a\\nb\"",
		"\"a\\u007f\"", "\"a\\u0085\"", "1", "null",
	};
	char big[RQ_PATH_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(one(bad[i], "1", "{\"sha256\":\"" H64 "\"}"), PAWL_E_INVALID);
	expect(one("\"a..b/.c/..d/c..\"", "1", "{\"sha256\":\"" H64 "\"}"), 0);
	expect(one("\"caf\\u00e9/\\u4e2d.txt\"", "1", "{\"sha256\":\"" H64 "\"}"), 0);
	big[0] = '"';
	memset(big + 1, 'a', RQ_PATH_MAX);
	strcpy(big + 1 + RQ_PATH_MAX, "\"");
	expect(one(big, "1", "{\"sha256\":\"" H64 "\"}"), 0);
	memset(big + 1, 'a', RQ_PATH_MAX + 1);
	strcpy(big + 2 + RQ_PATH_MAX, "\"");
	expect(one(big, "1", "{\"sha256\":\"" H64 "\"}"), PAWL_E_INVALID);
}

static void test_refuses_duplicates(void **state)
{
	rq_request rq = { 0 };

	(void)state;
	expect("{\"artifacts\":[{\"path\":\"d\",\"info\":{\"length\":1,\"hashes\":{\"sha256\":\"" H64
	       "\"}}},{\"path\":\"e\",\"info\":{\"length\":1,\"hashes\":{\"sha256\":\"" H64
	       "\"}}},{\"path\":\"d\",\"info\":{\"length\":2,\"hashes\":{\"sha256\":\"" H64 "\"}}}]}",
	       PAWL_E_INVALID);
	assert_int_equal(parse(true, "{\"artifacts\":[\"x\",\"y\",\"x\"]}", &rq), PAWL_E_INVALID);
	assert_int_equal(parse(true, "{\"artifacts\":[\"x\",\"x/y\"]}", &rq), 0);
	rq_free(&rq);
}

static void test_custom(void **state)
{
	char body[RQ_CUSTOM_MAX + 256];
	int n;

	(void)state;
	expect("{\"artifacts\":[{\"path\":\"a\",\"info\":{\"length\":1,\"hashes\":{\"sha256\":\"" H64
	       "\"},\"custom\":[1]}}]}",
	       PAWL_E_INVALID);
	expect("{\"artifacts\":[{\"path\":\"a\",\"info\":{\"length\":1,\"hashes\":{\"sha256\":\"" H64
	       "\"},\"custom\":null}}]}",
	       0);
	n = snprintf(body, sizeof(body),
		     "{\"artifacts\":[{\"path\":\"a\",\"info\":{\"length\":1,\"hashes\":{\"sha256\":\"" H64
		     "\"},\"custom\":{\"k\":\"");
	memset(body + n, 'x', RQ_CUSTOM_MAX);
	strcpy(body + n + RQ_CUSTOM_MAX, "\"}}}]}");
	expect(body, PAWL_E_INVALID);
}

/* The bin the service files a path in is the bin a client searches. */
static void test_bins_agree_with_clients(void **state)
{
	md_succinct s = { 0 };
	char name[64], mine[64], path[64];

	(void)state;
	s.name_prefix = "bins";
	for (uint32_t bits = 1; bits <= 16; bits += 3) {
		s.bit_length = bits;
		for (int i = 0; i < 500; i++) {
			uint32_t bin;

			snprintf(path, sizeof(path), "pkg/%d/file-%d.tar.gz", i * 7, i);
			assert_int_equal(rq_bin_of(path, strlen(path), bits, &bin), 0);
			assert_int_equal(md_succinct_role_for(&s, path, name, sizeof(name)), 0);
			assert_int_equal(md_succinct_name(&s, bin, mine, sizeof(mine)), 0);
			assert_string_equal(name, mine);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_rstuf_bodies),
		cmocka_unit_test(test_refuses_bad_json),
		cmocka_unit_test(test_refuses_bad_hashes_and_lengths),
		cmocka_unit_test(test_refuses_bad_paths),
		cmocka_unit_test(test_refuses_duplicates),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_bins_agree_with_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

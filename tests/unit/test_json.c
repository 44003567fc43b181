/*
 * test_json.c - the strict JSON reader, canonical form and builder.
 *
 * Every rejection the parser promises has a test where it fires. The
 * known-answer digests were computed independently, with a Python
 * re-implementation of securesystemslib's encode_canonical (only '"' and
 * '\\' escaped, keys sorted by code point); for the two real-world vectors
 * that reference was checked against the vectors' own ECDSA signatures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "json/json.h"
#include "pawl/common.h"
#include "testing.h"

/* ---------------- helpers ---------------- */

static int parse_n(const char *s, size_t len, const pj_limits *lim)
{
	pj_doc *doc = NULL;
	int r = pj_parse_copy(&doc, s, len, lim);

	if (r == 0)
		assert_non_null(doc);
	else
		assert_null(doc);
	pj_doc_free(doc);
	return r;
}

static int parse_s(const char *s)
{
	return parse_n(s, strlen(s), NULL);
}

static int parse_lim(const char *s, uint32_t depth, uint32_t str, uint32_t cont)
{
	pj_limits lim = { depth, str, cont };

	return parse_n(s, strlen(s), &lim);
}

#define REJECT(s) t_fails(parse_s(s), PAWL_E_FORMAT)
#define REJECT_N(s) t_fails(parse_n(s, sizeof(s) - 1, NULL), PAWL_E_FORMAT)
#define ACCEPT(s) t_ok(parse_s(s))
#define ACCEPT_N(s) t_ok(parse_n(s, sizeof(s) - 1, NULL))

static pj_doc *must_parse_n(const char *s, size_t len)
{
	pj_doc *doc = NULL;

	t_ok(pj_parse_copy(&doc, s, len, NULL));
	return doc;
}

static pj_doc *must_parse(const char *s)
{
	return must_parse_n(s, strlen(s));
}

/* The canonical form of v, as a malloc'd string. */
static char *canon(const pj_value *v, size_t *len)
{
	char *out = NULL;

	t_ok(pj_dump(v, &out, len));
	return out;
}

static void assert_canon_n(const pj_value *v, const char *want, size_t wantlen)
{
	size_t len;
	char *got = canon(v, &len);

	if (len != wantlen || memcmp(got, want, len) != 0)
		fail_msg("canonical form differs:\n got: %s\nwant: %s", got, want);
	free(got);
}

static void assert_canon(const pj_value *v, const char *want)
{
	assert_canon_n(v, want, strlen(want));
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *write_json(const pj_value *v, bool pretty, size_t *len)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	char *out = NULL;

	t_ok(pj_write(&b, v, pretty));
	t_ok(buf_steal(&b, &out, len));
	return out;
}

/* The canonical form of the document that text parses to. */
static char *canon_of(const char *text, size_t len, size_t *ret_len)
{
	pj_doc *doc = must_parse_n(text, len);
	char *c = canon(pj_root(doc), ret_len);

	pj_doc_free(doc);
	return c;
}

/* Round trips keep the canonical form: through pj_write (compact and
 * pretty), and through the canonical form itself when that is valid JSON
 * (no raw control characters). */
static void assert_round_trip(const char *s, size_t len)
{
	pj_doc *a = must_parse_n(s, len), *b;
	size_t l1, l2, wl;
	char *c1 = canon(pj_root(a), &l1), *c2, *w;
	bool has_ctl = false;

	for (int pretty = 0; pretty < 2; pretty++) {
		w = write_json(pj_root(a), pretty, &wl);
		b = must_parse_n(w, wl);
		assert_true(pj_equal(pj_root(a), pj_root(b)));
		c2 = canon(pj_root(b), &l2);
		assert_int_equal(l1, l2);
		assert_memory_equal(c1, c2, l1);
		free(c2);
		free(w);
		pj_doc_free(b);
	}
	for (size_t i = 0; i < l1; i++)
		has_ctl |= (unsigned char)c1[i] < 0x20;
	if (has_ctl) {
		t_fails(parse_n(c1, l1, NULL), PAWL_E_FORMAT);
	} else {
		c2 = canon_of(c1, l1, &l2);
		assert_int_equal(l1, l2);
		assert_memory_equal(c1, c2, l1);
		free(c2);
	}
	free(c1);
	pj_doc_free(a);
}

static const char *last_message(void)
{
	return pawl_error_last()->message;
}

/* ---------------- numbers ---------------- */

static void test_reject_floats(void **state)
{
	(void)state;
	REJECT("1.0");
	REJECT("1e5");
	REJECT("-0.5");
	REJECT("1E-2");
	REJECT("0.0");
	REJECT("1.");
	REJECT("1e+2");
	REJECT("0e0");
	REJECT("[1,2.5]");
	REJECT("{\"a\":1e5}");
	t_fails(parse_s("{\"signed\":{\"expires\":1.5}}"), PAWL_E_FORMAT);
	assert_string_equal(last_message(),
			    "JSON: byte 21 (in \"expires\"): floats are not allowed in canonical JSON");
}

static void test_reject_bad_numbers(void **state)
{
	(void)state;
	REJECT("01");
	REJECT("-01");
	REJECT("00");
	REJECT("[012]");
	REJECT("-");
	REJECT("-a");
	REJECT("+1");
	REJECT(".5");
	REJECT("0x10");
	REJECT("1_000");
	REJECT("NaN");
	REJECT("Infinity");
	REJECT("-Infinity");
	t_fails(parse_s("[007]"), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "leading zeros"));
}

static void test_int64_bounds(void **state)
{
	pj_doc *doc;

	(void)state;
	doc = must_parse("[9223372036854775807,-9223372036854775808,-0,0,-1,1234567890123456789]");
	assert_int_equal(pj_root(doc)->len, 6);
	assert_true(pj_root(doc)->u.items[0].u.i == INT64_MAX);
	assert_true(pj_root(doc)->u.items[1].u.i == INT64_MIN);
	assert_true(pj_is_int(&pj_root(doc)->u.items[2]));
	assert_true(pj_root(doc)->u.items[2].u.i == 0);
	assert_true(pj_root(doc)->u.items[4].u.i == -1);
	assert_true(pj_root(doc)->u.items[5].u.i == 1234567890123456789);
	assert_canon(pj_root(doc), "[9223372036854775807,-9223372036854775808,0,0,-1,"
				   "1234567890123456789]");
	pj_doc_free(doc);

	REJECT("9223372036854775808");
	REJECT("-9223372036854775809");
	REJECT("10000000000000000000");  /* 20 digits, < 2^64 */
	REJECT("18446744073709551615");  /* UINT64_MAX */
	REJECT("18446744073709551616");  /* 2^64 */
	REJECT("99999999999999999999999999999999");
	REJECT("-99999999999999999999");
	assert_non_null(strstr(last_message(), "int64"));
}

/* ---------------- strings ---------------- */

static void test_reject_invalid_utf8(void **state)
{
	(void)state;
	REJECT("\"\x80\"");              /* lone continuation byte */
	REJECT("\"\xC3\x28\"");          /* bad continuation */
	REJECT("\"\xC0\xAF\"");          /* overlong '/' */
	REJECT("\"\xC1\xBF\"");          /* overlong */
	REJECT("\"\xE0\x80\xAF\"");      /* overlong, 3 bytes */
	REJECT("\"\xF0\x80\x80\xAF\"");  /* overlong, 4 bytes */
	REJECT("\"\xED\xA0\x80\"");      /* surrogate U+D800 */
	REJECT("\"\xED\xBF\xBF\"");      /* surrogate U+DFFF */
	REJECT("\"\xF4\x90\x80\x80\"");  /* U+110000 */
	REJECT("\"\xF5\x80\x80\x80\"");
	REJECT("\"\xFF\"");
	REJECT("\"\xE2\x82\"");          /* truncated sequence */
	REJECT("\"\xF0\x9F\x98\"");
	REJECT("\"\xE2\x82");            /* truncated at the end of input */
	REJECT("{\"\xC0\xAF\":1}");      /* in a key */
	REJECT("\"ok \\n then \xC3\x28\""); /* after an escape */
	REJECT("\"0123456789abcdef\xE0\x80\xAF\""); /* past the 8-byte fast scan */
	t_fails(parse_s("\"\xED\xA0\x80\""), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "UTF-8"));

	/* The boundaries that are valid. */
	ACCEPT("\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\"");
	ACCEPT("\"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"");
}

static void test_reject_bad_escapes(void **state)
{
	(void)state;
	REJECT("\"\\uD800\"");           /* lone high surrogate */
	REJECT("\"\\uDC00\"");           /* lone low surrogate */
	REJECT("\"\\uDBFF\\uD800\"");    /* high + high */
	REJECT("\"\\uD800\\u0041\"");
	REJECT("\"\\uD800x\"");
	REJECT("\"\\uD800\\n\"");
	REJECT("\"\\uD800\\uDC0\"");
	REJECT("\"\\uD800");
	REJECT("\"\\x41\"");
	REJECT("\"\\U0041\"");
	REJECT("\"\\'\"");
	REJECT("\"\\u12G4\"");
	REJECT("\"\\u123\"");
	REJECT("\"\\u");
	REJECT("\"\\");
	REJECT("\"\\ \"");
	t_fails(parse_s("{\"k\":\"\\udc00\"}"), PAWL_E_FORMAT);
	assert_string_equal(last_message(), "JSON: byte 6 (in \"k\"): lone surrogate \\udc00");
}

static void test_reject_control_chars(void **state)
{
	(void)state;
	REJECT("\"a\x01" "b\"");
	REJECT("\"\t\"");
	REJECT("\"\n\"");
	REJECT("\"\x1f\"");
	REJECT("\"\x7f\x1f\"");
	REJECT_N("\"a\0b\"");
	REJECT("{\"a\nb\":1}");
	REJECT("\"0123456789abcdef\x01\"");
	t_fails(parse_s("\"abc\x02\""), PAWL_E_FORMAT);
	assert_string_equal(last_message(), "JSON: byte 4: raw control character 0x02 in string");
	ACCEPT("\"\x7f\""); /* DEL is not a control character in JSON */
}

static void test_strings_decoded(void **state)
{
	pj_doc *doc;
	const pj_value *v;

	(void)state;
	doc = must_parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\\ud83d\\ude00\","
			 " \"a\\u0000b\", \"\", \"plain text that is longer than eight bytes\","
			 " \"caf\xC3\xA9 \\\"q\\\" \xF0\x9F\x98\x80 end\"]");
	v = pj_root(doc);
	assert_int_equal(v->len, 6);
	assert_int_equal(v->u.items[0].len, 8);
	assert_memory_equal(v->u.items[0].u.s, "\"\\/\b\f\n\r\t", 9);
	assert_string_equal(pj_str(&v->u.items[1]), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	assert_int_equal(v->u.items[2].len, 3);
	assert_memory_equal(v->u.items[2].u.s, "a\0b", 4);
	assert_string_equal(pj_str(&v->u.items[3]), "");
	assert_string_equal(pj_str(&v->u.items[4]), "plain text that is longer than eight bytes");
	assert_string_equal(pj_str(&v->u.items[5]), "caf\xC3\xA9 \"q\" \xF0\x9F\x98\x80 end");
	assert_canon_n(v, "[\"\\\"\\\\/\b\f\n\r\t\",\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\","
			  "\"a\0b\",\"\",\"plain text that is longer than eight bytes\","
			  "\"caf\xC3\xA9 \\\"q\\\" \xF0\x9F\x98\x80 end\"]",
		       sizeof("[\"\\\"\\\\/\b\f\n\r\t\",\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\","
			      "\"a\0b\",\"\",\"plain text that is longer than eight bytes\","
			      "\"caf\xC3\xA9 \\\"q\\\" \xF0\x9F\x98\x80 end\"]") - 1);
	pj_doc_free(doc);
}

/* ---------------- structure ---------------- */

static void test_reject_duplicates(void **state)
{
	char big[4096];
	size_t n = 0;

	(void)state;
	REJECT("{\"a\":1,\"a\":2}");
	REJECT("{\"a\":1,\"\\u0061\":2}");   /* equal only once unescaped */
	REJECT("{\"\\u00e9\":1,\"\xC3\xA9\":2}");
	REJECT("{\"b\":1,\"a\":1,\"b\":2}");  /* not neighbours in the input */
	REJECT("{\"x\":{\"k\":[{\"a\":1,\"b\":2,\"a\":3}]}}");
	t_fails(parse_s("{\"x\":{\"a\":1,\"a\":2}}"), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "(in \"x\"): duplicate key \"a\""));

	/* A large shuffled object goes through the merge sort. */
	n += (size_t)snprintf(big + n, sizeof(big) - n, "{");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":%d", i ? "," : "",
				      (i * 37) % 200, i);
	snprintf(big + n, sizeof(big) - n, "}");
	ACCEPT(big);
	big[n] = '\0';
	snprintf(big + n, sizeof(big) - n, ",\"k123\":0}");
	REJECT(big);
}

static void test_reject_syntax(void **state)
{
	(void)state;
	REJECT("");
	REJECT("   \n\t ");
	REJECT("[1,]");
	REJECT("{\"a\":1,}");
	REJECT("[,]");
	REJECT("[1,,2]");
	REJECT("{,}");
	REJECT("{\"a\":1,,\"b\":2}");
	REJECT("[1 2]");
	REJECT("{\"a\" 1}");
	REJECT("{\"a\":}");
	REJECT("{\"a\"}");
	REJECT("{1:2}");
	REJECT("{a:1}");
	REJECT("{'a':1}");
	REJECT("'a'");
	REJECT("[");
	REJECT("]");
	REJECT("{");
	REJECT("}");
	REJECT("[}");
	REJECT("{]");
	REJECT("tru");
	REJECT("nul");
	REJECT("True");
	REJECT("nulll");
	REJECT("/* c */ {}");
	REJECT("{} // c");
	REJECT("\f{}");                   /* not JSON whitespace */
	REJECT("\xC2\xA0{}");             /* no-break space */
	REJECT("\"unterminated");
	t_fails(parse_s("{\"a\":1,}"), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "trailing comma"));
	t_fails(parse_s(""), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "empty input"));
}

static void test_reject_trailing_garbage(void **state)
{
	(void)state;
	REJECT("{} x");
	REJECT("1 2");
	REJECT("{}}");
	REJECT("[]]");
	REJECT("truex");
	REJECT("\"a\"\"b\"");
	REJECT("{}{}");
	REJECT_N("{}\0");
	REJECT_N("{} \0 ");
	t_fails(parse_s("[1] x"), PAWL_E_FORMAT);
	assert_string_equal(last_message(), "JSON: byte 4: trailing garbage after the JSON value");
	ACCEPT(" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\":{ } } \n");
	ACCEPT("0");
	ACCEPT("\"top-level string\"");
	ACCEPT("null");
}

static void test_reject_bom(void **state)
{
	(void)state;
	REJECT("\xEF\xBB\xBF{}");
	assert_non_null(strstr(last_message(), "byte order mark"));
	REJECT("\xEF\xBB\xBF");
}

static void test_truncated_prefixes(void **state)
{
	static const char doc[] =
		"{\"signed\":{\"_type\":\"targets\",\"version\":-12,\"n\":null,\"t\":true,"
		"\"f\":false,\"targets\":{\"a\\u00e9\\\"b\":{\"hashes\":{\"sha256\":\"00ff\"},"
		"\"length\":1024}},\"list\":[1,[2,{}],\"\xF0\x9F\x98\x80\\ud83d\\ude00\"]},"
		"\"signatures\":[]}";
	size_t len = sizeof(doc) - 1;

	(void)state;
	t_ok(parse_n(doc, len, NULL));
	for (size_t i = 0; i < len; i++) {
		int r = parse_n(doc, i, NULL);

		if (r != PAWL_E_FORMAT)
			fail_msg("prefix of %zu bytes: got %d", i, r);
	}
}

static void test_limits(void **state)
{
	char deep[300];

	(void)state;
	/* Depth: the default is 64. */
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	ACCEPT(deep);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	t_fails(parse_s(deep), PAWL_E_LIMIT);
	assert_non_null(strstr(last_message(), "nested deeper than 64"));
	t_ok(parse_lim("{\"a\":[{}]}", 3, 100, 100));
	t_fails(parse_lim("{\"a\":[{\"b\":1}]}", 2, 100, 100), PAWL_E_LIMIT);
	t_fails(parse_lim("[[[]]]", 2, 100, 100), PAWL_E_LIMIT);
	t_ok(parse_lim("[[]]", 2, 100, 100));
	t_ok(parse_lim("1", 0, 100, 100));
	t_fails(parse_lim("[]", 0, 100, 100), PAWL_E_LIMIT);

	/* Container size. */
	t_ok(parse_lim("[1,2,3]", 8, 100, 3));
	t_fails(parse_lim("[1,2,3,4]", 8, 100, 3), PAWL_E_LIMIT);
	t_ok(parse_lim("{\"a\":1,\"b\":2,\"c\":3}", 8, 100, 3));
	t_fails(parse_lim("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 8, 100, 3), PAWL_E_LIMIT);
	assert_non_null(strstr(last_message(), "more than 3 members"));
	t_fails(parse_lim("[[1,2],[1,2,3,4]]", 8, 100, 3), PAWL_E_LIMIT);

	/* String length, counted after decoding. */
	t_ok(parse_lim("\"abcd\"", 8, 4, 100));
	t_fails(parse_lim("\"abcde\"", 8, 4, 100), PAWL_E_LIMIT);
	t_fails(parse_lim("{\"abcde\":1}", 8, 4, 100), PAWL_E_LIMIT);
	t_ok(parse_lim("\"\\u0041\\u0042\\u0043\\u0044\"", 8, 4, 100));
	t_fails(parse_lim("[\"\\u00e9\\u00e9\\u00e9\"]", 8, 4, 100), PAWL_E_LIMIT);
	assert_non_null(strstr(last_message(), "longer than 4 bytes"));
}

static void test_error_context(void **state)
{
	(void)state;
	/* The key of the member being parsed is named ... */
	t_fails(parse_s("{\"a\":{\"b\":[1,2,tru]}}"), PAWL_E_FORMAT);
	assert_string_equal(last_message(), "JSON: byte 15 (in \"b\"): unexpected 't' (expected a value)");
	/* ... but not a finished sibling when the next key is bad ... */
	t_fails(parse_s("{\"a\":1,\"b\x01\":2}"), PAWL_E_FORMAT);
	assert_string_equal(last_message(), "JSON: byte 9: raw control character 0x01 in string");
	/* ... and the enclosing one when a key is missing. */
	t_fails(parse_s("{\"outer\":{\"a\":1,2}}"), PAWL_E_FORMAT);
	assert_string_equal(last_message(),
			    "JSON: byte 16 (in \"outer\"): unexpected '2' (expected a string key)");
	t_fails(parse_s("{\"a\":"), PAWL_E_FORMAT);
	assert_string_equal(last_message(),
			    "JSON: byte 5 (in \"a\"): unexpected end of input (expected a value)");
	/* Keys are made safe for a message. */
	t_fails(parse_s("{\"q\\\"\\n\":1.5}"), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "(in \"q??\")"));
}

/* ---------------- reading ---------------- */

static void test_lookup(void **state)
{
	pj_doc *doc;
	const pj_value *r;

	(void)state;
	doc = must_parse("{\"zeta\":1,\"alpha\":\"x\",\"mid\":[true,false,null],\"a\\u0000b\":2,"
			 "\"\":3,\"obj\":{}}");
	r = pj_root(doc);
	assert_true(pj_is_object(r));
	assert_int_equal(r->len, 6);
	/* Sorted by bytes: "", "a\0b", "alpha", "mid", "obj", "zeta". */
	assert_string_equal(r->u.members[0].key, "");
	assert_int_equal(r->u.members[1].klen, 3);
	assert_string_equal(r->u.members[2].key, "alpha");
	assert_string_equal(r->u.members[5].key, "zeta");
	assert_true(pj_get(r, "zeta")->u.i == 1);
	assert_string_equal(pj_str(pj_get(r, "alpha")), "x");
	assert_true(pj_getn(r, "a\0b", 3)->u.i == 2);
	assert_null(pj_get(r, "a"));
	assert_true(pj_get(r, "")->u.i == 3);
	assert_null(pj_get(r, "missing"));
	assert_null(pj_get(r, "zet"));
	assert_null(pj_get(r, "zetaa"));
	assert_null(pj_get(pj_get(r, "mid"), "x"));
	assert_null(pj_get(NULL, "x"));
	assert_null(pj_str(pj_get(r, "zeta")));
	assert_true(pj_is_array(pj_get(r, "mid")));
	assert_true(pj_is_bool(&pj_get(r, "mid")->u.items[0]));
	assert_int_equal(pj_typeof(&pj_get(r, "mid")->u.items[0]), PJ_TRUE);
	assert_int_equal(pj_typeof(&pj_get(r, "mid")->u.items[1]), PJ_FALSE);
	assert_int_equal(pj_typeof(&pj_get(r, "mid")->u.items[2]), PJ_NULL);
	assert_string_equal(pj_type_name(pj_get(r, "obj")), "object");
	assert_string_equal(pj_type_name(pj_get(r, "mid")), "array");
	assert_string_equal(pj_type_name(pj_get(r, "alpha")), "string");
	assert_string_equal(pj_type_name(pj_get(r, "zeta")), "integer");
	assert_string_equal(pj_type_name(&pj_get(r, "mid")->u.items[0]), "boolean");
	assert_string_equal(pj_type_name(&pj_get(r, "mid")->u.items[2]), "null");
	assert_string_equal(pj_type_name(NULL), "missing");
	assert_non_null(pj_get_mut(pj_root(doc), "obj"));
	pj_doc_free(doc);
}

/* ---------------- canonical form ---------------- */

static void test_canonical_known_answers(void **state)
{
	static const struct {
		const char *in;
		size_t inlen;
		const char *out;
		size_t outlen;
		const char *sha256;
	} cases[] = {
#define KAT(in, out, sha) { in, sizeof(in) - 1, out, sizeof(out) - 1, sha }
		/* Nested objects, shuffled keys, escapes, "-0". */
		KAT("{\"b\":[1,-2,{\"z\":null,\"a\":true}],\"a\":\"x\\\"y\\\\z\\/w\","
		    "\"A\":{\"nested\":{\"deep\":[],\"empty\":{}}},\"\":0,\"-0\":-0}",
		    "{\"\":0,\"-0\":0,\"A\":{\"nested\":{\"deep\":[],\"empty\":{}}},"
		    "\"a\":\"x\\\"y\\\\z/w\",\"b\":[1,-2,{\"a\":true,\"z\":null}]}",
		    "897a56a148012c610c22ef2713fbecbc43767f88ac50eff6725373173cc7de7c"),
		/* Unicode keys in code point order (U+FFFF before U+1F600,
		 * unlike UTF-16 order), combining marks, raw control
		 * characters and NUL in the output. */
		KAT("{\"\\u00e9\":\"caf\\u00e9\",\"z\":\"\\ud83d\\ude00\",\"\\uffff\":1,"
		    "\"\\ud83d\\ude00\":2,\"e\\u0301\":3,\"e\":4,"
		    "\"ctl\":\"a\\u0001b\\nc\\td\\u0000e\",\"\\u0000k\":5}",
		    "{\"\0k\":5,\"ctl\":\"a\x01" "b\nc\td\0e\",\"e\":4,\"e\xcc\x81\":3,"
		    "\"z\":\"\xf0\x9f\x98\x80\",\"\xc3\xa9\":\"caf\xc3\xa9\",\"\xef\xbf\xbf\":1,"
		    "\"\xf0\x9f\x98\x80\":2}",
		    "4eb8d9478b39ab31ebe9b4185a876ca6c686ba38114c8000e079bfb0e22d8dbe"),
		/* A TUF root, pretty-printed and out of order. */
		KAT("{\n \"signed\": {\n  \"_type\": \"root\",\n  \"spec_version\": \"1.0.31\",\n"
		    "  \"version\": 2,\n  \"expires\": \"2030-01-01T00:00:00Z\",\n"
		    "  \"consistent_snapshot\": true,\n  \"keys\": {\"b0f6\": {\"keytype\": \"ed25519\","
		    " \"scheme\": \"ed25519\", \"keyval\": {\"public\": "
		    "\"edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd\"}}},\n"
		    "  \"roles\": {\"root\": {\"keyids\": [\"b0f6\"], \"threshold\": 1},"
		    " \"timestamp\": {\"keyids\": [\"b0f6\"], \"threshold\": 1},"
		    " \"snapshot\": {\"keyids\": [\"b0f6\"], \"threshold\": 1},"
		    " \"targets\": {\"keyids\": [\"b0f6\"], \"threshold\": 1}}\n },\n"
		    " \"signatures\": [{\"keyid\": \"b0f6\", \"sig\": \"00ff\"}]\n}\n",
		    "{\"signatures\":[{\"keyid\":\"b0f6\",\"sig\":\"00ff\"}],\"signed\":{\"_type\":"
		    "\"root\",\"consistent_snapshot\":true,\"expires\":\"2030-01-01T00:00:00Z\","
		    "\"keys\":{\"b0f6\":{\"keytype\":\"ed25519\",\"keyval\":{\"public\":"
		    "\"edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd\"},"
		    "\"scheme\":\"ed25519\"}},\"roles\":{\"root\":{\"keyids\":[\"b0f6\"],"
		    "\"threshold\":1},\"snapshot\":{\"keyids\":[\"b0f6\"],\"threshold\":1},"
		    "\"targets\":{\"keyids\":[\"b0f6\"],\"threshold\":1},\"timestamp\":{\"keyids\":"
		    "[\"b0f6\"],\"threshold\":1}},\"spec_version\":\"1.0.31\",\"version\":2}}",
		    "209f832fd5c4423a78c68a9c8d49f06586ede0c45473cbb656137f66c4a17292"),
#undef KAT
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		pj_doc *doc = must_parse_n(cases[i].in, cases[i].inlen);
		size_t len;
		char *out = canon(pj_root(doc), &len);
		char hex[65];

		assert_int_equal(len, cases[i].outlen);
		assert_memory_equal(out, cases[i].out, len);
		sha256_hex(out, len, hex);
		assert_string_equal(hex, cases[i].sha256);
		free(out);
		assert_round_trip(cases[i].in, cases[i].inlen);
		pj_doc_free(doc);
	}
}

/* The canonical form of "signed" in real metadata, whose digest the
 * reference was checked against the vectors' own signatures. */
static void check_vector(const char *rel, const char *sha256, size_t canon_len)
{
	size_t len, clen;
	char *buf = t_read_file(t_vector(rel), &len), *c, hex[65];
	pj_doc *doc = NULL;
	const pj_value *signed_v;

	assert_non_null(buf);
	t_ok(pj_parse(&doc, buf, len, NULL));
	signed_v = pj_get(pj_root(doc), "signed");
	assert_true(pj_is_object(signed_v));
	assert_true(pj_is_array(pj_get(pj_root(doc), "signatures")));
	c = canon(signed_v, &clen);
	assert_int_equal(clen, canon_len);
	sha256_hex(c, clen, hex);
	assert_string_equal(hex, sha256);
	free(c);
	pj_doc_free(doc);

	buf = t_read_file(t_vector(rel), &len);
	assert_round_trip(buf, len);
	free(buf);
}

static void test_vectors(void **state)
{
	size_t len;
	char *buf;
	pj_doc *doc = NULL;

	(void)state;
	check_vector("sigstore-root-signing/metadata/12.root.json",
		     "84a8d0e2ae64769f3540ef3c745e64726396b8b44e6a14a7f3ee58a5131a17a4", 3768);
	check_vector("tuf-on-ci-0.11/metadata/1.targets.json",
		     "a7667a9359a28e0c08868e5c7f5e1025a96f8663c8a4e4e024cc36e10a6b6b55", 1204);

	buf = t_read_file(t_vector("sigstore-root-signing/metadata/12.root.json"), &len);
	t_ok(pj_parse(&doc, buf, len, NULL));
	assert_string_equal(pj_str(pj_get(pj_get(pj_root(doc), "signed"), "_type")), "root");
	assert_true(pj_get(pj_get(pj_root(doc), "signed"), "version")->u.i == 12);
	pj_doc_free(doc);

	buf = t_read_file(t_vector("tuf-on-ci-0.11/metadata/1.targets.json"), &len);
	t_ok(pj_parse(&doc, buf, len, NULL));
	assert_string_equal(pj_str(pj_get(pj_get(pj_root(doc), "signed"), "_type")), "targets");
	/* "\n" in the PEM keys is decoded, and written raw canonically. */
	assert_non_null(strstr(pj_str(pj_get(pj_get(pj_get(pj_get(pj_get(pj_get(pj_root(doc),
		"signed"), "delegations"), "keys"),
		"aa61e09f6af7662ac686cf0c6364079f63d3e7a86836684eeced93eace3acd81"),
		"keyval"), "public")), "KEY-----\nMFkw"));
	pj_doc_free(doc);
}

/* pj_write() is what Python's json.dumps(sort_keys=True,
 * ensure_ascii=False) writes, compact or with indent=1. */
static void test_write_json(void **state)
{
	static const char in[] =
		"{\"\\u00e9\":\"caf\\u00e9\",\"z\":\"\\ud83d\\ude00\",\"\\uffff\":1,"
		"\"\\ud83d\\ude00\":2,\"e\\u0301\":3,\"e\":4,"
		"\"ctl\":\"a\\u0001b\\nc\\td\\u0000e\\u007f\",\"\\u0000k\":5}";
	static const char compact[] =
		"{\"\\u0000k\":5,\"ctl\":\"a\\u0001b\\nc\\td\\u0000e\x7f\",\"e\":4,"
		"\"e\xcc\x81\":3,\"z\":\"\xf0\x9f\x98\x80\",\"\xc3\xa9\":\"caf\xc3\xa9\","
		"\"\xef\xbf\xbf\":1,\"\xf0\x9f\x98\x80\":2}";
	static const char pretty[] =
		"{\n \"\\u0000k\": 5,\n \"ctl\": \"a\\u0001b\\nc\\td\\u0000e\x7f\",\n"
		" \"e\": 4,\n \"e\xcc\x81\": 3,\n \"z\": \"\xf0\x9f\x98\x80\",\n"
		" \"\xc3\xa9\": \"caf\xc3\xa9\",\n \"\xef\xbf\xbf\": 1,\n"
		" \"\xf0\x9f\x98\x80\": 2\n}";
	static const char *files[] = {
		"sigstore-root-signing/metadata/12.root.json",
		"sigstore-root-signing/metadata/11.targets.json",
		"sigstore-root-signing/metadata/159.snapshot.json",
		"tuf-on-ci-0.11/metadata/1.targets.json",
		"tuf-on-ci-0.11/metadata/2.delegatedrole.json",
	};
	pj_doc *doc = must_parse_n(in, sizeof(in) - 1);
	size_t len;
	char *w;

	(void)state;
	w = write_json(pj_root(doc), false, &len);
	assert_int_equal(len, sizeof(compact) - 1);
	assert_memory_equal(w, compact, len);
	free(w);
	w = write_json(pj_root(doc), true, &len);
	assert_int_equal(len, sizeof(pretty) - 1);
	assert_memory_equal(w, pretty, len);
	free(w);
	pj_doc_free(doc);

	doc = must_parse("{\"a\":[],\"b\":{},\"c\":[1,[2]]}");
	w = write_json(pj_root(doc), true, &len);
	assert_string_equal(w, "{\n \"a\": [],\n \"b\": {},\n \"c\": [\n  1,\n  [\n   2\n  ]\n ]\n}");
	free(w);
	pj_doc_free(doc);

	/* python-tuf wrote these files: the same bytes come back. */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		size_t flen;
		char *text = t_read_file(t_vector(files[i]), &flen);

		doc = must_parse_n(text, flen);
		w = write_json(pj_root(doc), true, &len);
		assert_int_equal(len, flen);
		assert_memory_equal(w, text, len);
		free(w);
		free(text);
		pj_doc_free(doc);
	}
}

static void test_round_trips(void **state)
{
	static const char *docs[] = {
		"[]", "{}", "0", "-1", "\"\"", "true", "false", "null",
		"[[[[[]]]],{\"a\":{\"b\":{\"c\":[{}]}}}]",
		"{\"q\":\"\\\"\\\\\\\"\",\"\\\\\":\"\\\\\\\\\"}",
		"\"\\u0000\\u0001\\u001f\\u007f\"",
		"{\"b\":1,\"a\":2,\"c\":{\"y\":[3,2,1],\"x\":\"\xE2\x82\xAC\"}}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++)
		assert_round_trip(docs[i], strlen(docs[i]));
}

static void test_canonical_buffer(void **state)
{
	pawl_buf b = PAWL_BUF_INIT(10);
	pj_doc *doc = must_parse("{\"abc\":\"defgh\"}");

	(void)state;
	t_ok(buf_puts(&b, "xy"));
	/* Too long for the buffer: nothing is appended. */
	t_fails(pj_canonical(&b, pj_root(doc)), PAWL_E_LIMIT);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.data, "xy");
	t_ok(pj_canonical(&b, pj_get(pj_root(doc), "abc")));
	assert_string_equal(b.data, "xy\"defgh\"");
	buf_free(&b);
	t_fails(pj_canonical(&b, NULL), PAWL_E_INVALID);
	pj_doc_free(doc);
}

/* ---------------- builder ---------------- */

static void test_build_put(void **state)
{
	pj_doc *doc;
	pj_value *root, *v, *arr;

	(void)state;
	t_ok(pj_doc_new(&doc));
	root = pj_root(doc);
	assert_int_equal(pj_typeof(root), PJ_NULL);
	assert_canon(root, "null");
	t_ok(pj_set_object(doc, root));
	t_ok(pj_obj_put_int(doc, root, "version", 3));
	t_ok(pj_obj_put_str(doc, root, "_type", "root"));
	t_ok(pj_obj_put(doc, root, "zz", 2, &v));
	assert_int_equal(pj_typeof(v), PJ_NULL);
	pj_set_bool(v, true);
	t_ok(pj_obj_put(doc, root, "list", 4, &arr));
	t_ok(pj_set_array(doc, arr));
	for (int i = 0; i < 40; i++) {
		t_ok(pj_arr_push(doc, arr, &v));
		pj_set_int(v, i % 2 ? -i : i);
	}
	arr = pj_get_mut(root, "list");
	assert_int_equal(arr->len, 40);
	assert_true(arr->u.items[39].u.i == -39);
	/* Replacing keeps one member and returns the old value's slot. */
	t_ok(pj_obj_put(doc, root, "version", 7, &v));
	assert_true(pj_is_int(v) && v->u.i == 3);
	t_ok(pj_obj_put_int(doc, root, "version", 4));
	t_ok(pj_obj_put_str(doc, root, "_type", "targets"));
	assert_int_equal(root->len, 4);
	/* Many keys, inserted in reverse, come out sorted. */
	t_ok(pj_obj_put(doc, root, "m", 1, &v));
	t_ok(pj_set_object(doc, v));
	for (int i = 99; i >= 0; i--) {
		char k[8];

		snprintf(k, sizeof(k), "k%02d", i);
		t_ok(pj_obj_put_int(doc, pj_get_mut(root, "m"), k, i));
	}
	v = pj_get_mut(root, "m");
	assert_int_equal(v->len, 100);
	for (uint32_t i = 0; i < 100; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%02u", i);
		assert_string_equal(v->u.members[i].key, k);
	}
	t_ok(pj_obj_remove(root, "m"));
	t_fails(pj_obj_remove(root, "m"), PAWL_E_NOT_FOUND);
	t_ok(pj_obj_put(doc, root, "s", 1, &v));
	t_ok(pj_set_string(doc, v, "a\"b\\c\n\0d", 8));
	assert_canon_n(root, "{\"_type\":\"targets\",\"list\":[0,-1,2,-3,4,-5,6,-7,8,-9,10,-11,12,"
			     "-13,14,-15,16,-17,18,-19,20,-21,22,-23,24,-25,26,-27,28,-29,30,-31,"
			     "32,-33,34,-35,36,-37,38,-39],\"s\":\"a\\\"b\\\\c\n\0d\",\"version\":4,"
			     "\"zz\":true}",
		       sizeof("{\"_type\":\"targets\",\"list\":[0,-1,2,-3,4,-5,6,-7,8,-9,10,-11,12,"
			      "-13,14,-15,16,-17,18,-19,20,-21,22,-23,24,-25,26,-27,28,-29,30,-31,"
			      "32,-33,34,-35,36,-37,38,-39],\"s\":\"a\\\"b\\\\c\n\0d\",\"version\":4,"
			      "\"zz\":true}") - 1);
	t_ok(pj_obj_remove(root, "zz"));
	t_ok(pj_obj_remove(root, "_type"));
	t_ok(pj_obj_remove(root, "list"));
	t_ok(pj_obj_remove(root, "s"));
	assert_canon(root, "{\"version\":4}");
	t_ok(pj_obj_remove(root, "version"));
	assert_canon(root, "{}");
	pj_doc_free(doc);
}

static void test_build_rejects(void **state)
{
	pj_doc *doc;
	pj_value *root, *v;
	int64_t n = 5;

	(void)state;
	t_ok(pj_doc_new(&doc));
	root = pj_root(doc);
	pj_set_int(root, n);
	t_fails(pj_obj_put(doc, root, "a", 1, &v), PAWL_E_INVALID);
	t_fails(pj_arr_push(doc, root, &v), PAWL_E_INVALID);
	t_fails(pj_obj_remove(root, "a"), PAWL_E_INVALID);
	t_fails(pj_obj_append(doc, root, "a", 1, &v), PAWL_E_INVALID);
	t_fails(pj_obj_finish(root, true), PAWL_E_INVALID);
	t_ok(pj_set_object(doc, root));
	t_fails(pj_obj_put(doc, root, "\xC0\xAF", 2, &v), PAWL_E_FORMAT);
	t_fails(pj_obj_put_str(doc, root, "k", "\xED\xA0\x80"), PAWL_E_FORMAT);
	assert_int_equal(root->len, 0);
	t_fails(pj_set_string(doc, root, "\xF4\x90\x80\x80", 4), PAWL_E_FORMAT);
	t_fails(pj_set_cstr(doc, root, "\xE2\x82"), PAWL_E_FORMAT);
	assert_true(pj_is_object(root));
	t_ok(pj_set_cstr(doc, root, "\xE2\x82\xAC"));
	assert_canon(root, "\"\xE2\x82\xAC\"");
	pj_set_null(root);
	assert_canon(root, "null");
	pj_set_bool(root, false);
	assert_canon(root, "false");
	pj_doc_free(doc);
}

static void test_build_append_finish(void **state)
{
	pj_doc *doc;
	pj_value *root, *v;

	(void)state;
	t_ok(pj_doc_new(&doc));
	root = pj_root(doc);
	t_ok(pj_set_object(doc, root));
	/* last_wins: the later duplicate replaces the earlier one. */
	for (int i = 0; i < 300; i++) {
		char k[16];

		snprintf(k, sizeof(k), "t%03d", (i * 7) % 100);
		t_ok(pj_obj_append(doc, root, k, strlen(k), &v));
		pj_set_int(v, i);
	}
	assert_int_equal(root->len, 300);
	/* Unfinished: canonical form refuses, lookups still answer. */
	{
		pawl_buf b = PAWL_BUF_INIT(1 << 20);

		t_fails(pj_canonical(&b, root), PAWL_E_INVALID);
		buf_free(&b);
	}
	t_fails(pj_obj_put(doc, root, "x", 1, &v), PAWL_E_INVALID);
	assert_true(pj_get(root, "t000")->u.i == 200);
	t_ok(pj_obj_finish(root, true));
	assert_int_equal(root->len, 100);
	for (int i = 0; i < 100; i++) {
		char k[16];

		snprintf(k, sizeof(k), "t%03d", i);
		assert_string_equal(root->u.members[i].key, k);
		/* the last i with (i * 7) % 100 == key, i < 300 */
		for (int j = 299; j >= 0; j--) {
			if ((j * 7) % 100 == i) {
				assert_true(root->u.members[i].value.u.i == j);
				break;
			}
		}
	}
	t_ok(pj_obj_finish(root, false)); /* finished already: no-op */
	t_ok(pj_obj_put_int(doc, root, "a", 1));
	assert_string_equal(root->u.members[0].key, "a");

	/* Without last_wins a duplicate is an error. */
	t_ok(pj_set_object(doc, root));
	t_ok(pj_obj_append(doc, root, "b", 1, &v));
	t_ok(pj_obj_append(doc, root, "a", 1, &v));
	t_ok(pj_obj_append(doc, root, "b", 1, &v));
	t_fails(pj_obj_finish(root, false), PAWL_E_FORMAT);
	assert_non_null(strstr(last_message(), "duplicate key \"b\""));
	t_ok(pj_set_object(doc, root));
	t_ok(pj_obj_append(doc, root, "b", 1, &v));
	pj_set_int(v, 2);
	t_ok(pj_obj_append(doc, root, "a", 1, &v));
	pj_set_int(v, 1);
	t_ok(pj_obj_finish(root, false));
	assert_canon(root, "{\"a\":1,\"b\":2}");
	pj_doc_free(doc);
}

/* What a parsed object held before appends, asked while they are pending:
 * the finished part only, by binary search. */
static void test_getn_finished(void **state)
{
	pj_doc *doc = must_parse("{\"b\":1,\"d\":2,\"f\":3}");
	pj_value *root = pj_root(doc), *v;
	size_t n = root->len;

	(void)state;
	t_ok(pj_obj_append(doc, root, "a", 1, &v));
	pj_set_int(v, 10);
	t_ok(pj_obj_append(doc, root, "d", 1, &v));
	pj_set_int(v, 20);
	assert_int_equal(pj_getn_finished(root, n, "b", 1)->u.i, 1);
	assert_int_equal(pj_getn_finished(root, n, "d", 1)->u.i, 2); /* not the appended 20 */
	assert_int_equal(pj_getn_finished(root, n, "f", 1)->u.i, 3);
	assert_null(pj_getn_finished(root, n, "a", 1)); /* appended, not finished */
	assert_null(pj_getn_finished(root, n, "c", 1));
	assert_null(pj_getn_finished(root, 1, "d", 1)); /* only the first member */
	assert_int_equal(pj_getn_finished(root, 1000, "f", 1)->u.i, 3); /* n capped */
	assert_null(pj_getn_finished(pj_get(root, "b"), 1, "x", 1)); /* not an object */
	pj_doc_free(doc);
}

static void test_mutate_parsed(void **state)
{
	pj_doc *doc = must_parse("{\"signed\":{\"version\":1,\"targets\":{\"b\":{},\"d\":{}}},"
				 "\"signatures\":[{\"keyid\":\"k1\"}]}");
	pj_value *signed_v, *targets, *v, *sigs;

	(void)state;
	signed_v = pj_get_mut(pj_root(doc), "signed");
	t_ok(pj_obj_put_int(doc, signed_v, "version", 2));
	t_ok(pj_obj_put_str(doc, signed_v, "expires", "2031-01-01T00:00:00Z"));
	targets = pj_get_mut(signed_v, "targets");
	t_ok(pj_obj_put(doc, targets, "c", 1, &v));
	t_ok(pj_set_object(doc, v));
	t_ok(pj_obj_put_int(doc, v, "length", 5));
	t_ok(pj_obj_put(doc, targets, "a", 1, &v));
	t_ok(pj_obj_put(doc, targets, "e", 1, &v));
	t_ok(pj_obj_remove(targets, "b"));
	sigs = pj_get_mut(pj_root(doc), "signatures");
	t_ok(pj_arr_push(doc, sigs, &v));
	t_ok(pj_set_object(doc, v));
	t_ok(pj_obj_put_str(doc, v, "keyid", "k2"));
	assert_canon(pj_root(doc), "{\"signatures\":[{\"keyid\":\"k1\"},{\"keyid\":\"k2\"}],"
				   "\"signed\":{\"expires\":\"2031-01-01T00:00:00Z\",\"targets\":"
				   "{\"a\":null,\"c\":{\"length\":5},\"d\":{},\"e\":null},"
				   "\"version\":2}}");
	pj_doc_free(doc);
}

static void test_copy_and_equal(void **state)
{
	pj_doc *a = must_parse("{\"x\":[1,\"two\",{\"3\":[true,null,{}]}],\"y\":\"\\u00e9\"}");
	pj_doc *b, *c;
	pj_value *v;

	(void)state;
	t_ok(pj_doc_new(&b));
	t_ok(pj_copy(b, pj_root(b), pj_root(a)));
	assert_true(pj_equal(pj_root(a), pj_root(b)));
	/* The copy owns its memory: it outlives the source. */
	pj_doc_free(a);
	assert_canon(pj_root(b), "{\"x\":[1,\"two\",{\"3\":[true,null,{}]}],\"y\":\"\xC3\xA9\"}");

	/* Copy a subtree into itself. */
	t_ok(pj_obj_put(b, pj_root(b), "z", 1, &v));
	t_ok(pj_copy(b, v, pj_root(b)));
	assert_canon(pj_root(b), "{\"x\":[1,\"two\",{\"3\":[true,null,{}]}],\"y\":\"\xC3\xA9\","
				 "\"z\":{\"x\":[1,\"two\",{\"3\":[true,null,{}]}],\"y\":\"\xC3\xA9\","
				 "\"z\":null}}");
	t_ok(pj_copy(b, pj_get_mut(pj_root(b), "z"), pj_get(pj_root(b), "x")));
	assert_true(pj_equal(pj_get(pj_root(b), "z"), pj_get(pj_root(b), "x")));

	c = must_parse("{\"x\":[1,\"two\",{\"3\":[true,null,{}]}],\"y\":\"\xC3\xA9\","
		       "\"z\":[1,\"two\",{\"3\":[true,null,{}]}]}");
	assert_true(pj_equal(pj_root(b), pj_root(c)));
	assert_true(pj_equal(NULL, NULL));
	assert_false(pj_equal(pj_root(c), NULL));
	pj_set_int(pj_get_mut(pj_root(c), "y"), 1);
	assert_false(pj_equal(pj_root(b), pj_root(c)));
	pj_doc_free(c);

	/* Differences anywhere are found. */
	{
		static const char *pairs[][2] = {
			{ "[1,2]", "[1,3]" }, { "[1,2]", "[1,2,3]" }, { "{\"a\":1}", "{\"b\":1}" },
			{ "{\"a\":1}", "{\"a\":true}" }, { "\"ab\"", "\"ac\"" }, { "\"a\"", "\"ab\"" },
			{ "true", "false" }, { "null", "false" }, { "[[[1]]]", "[[[2]]]" },
			{ "{\"a\":{\"b\":[]}}", "{\"a\":{\"b\":{}}}" }, { "0", "-1" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
			pj_doc *p = must_parse(pairs[i][0]), *q = must_parse(pairs[i][1]);

			assert_false(pj_equal(pj_root(p), pj_root(q)));
			assert_true(pj_equal(pj_root(p), pj_root(p)));
			pj_doc_free(p);
			pj_doc_free(q);
		}
	}
	pj_doc_free(b);
}

/* A document built by hand has no depth limit; the walks must not use
 * the C stack for it. */
static void test_deep_built(void **state)
{
	pj_doc *doc, *copy;
	pj_value *v;
	char *out;
	size_t len;

	(void)state;
	t_ok(pj_doc_new(&doc));
	v = pj_root(doc);
	for (int i = 0; i < 100000; i++) {
		t_ok(pj_set_array(doc, v));
		t_ok(pj_arr_push(doc, v, &v));
	}
	t_ok(pj_dump(pj_root(doc), &out, &len));
	assert_int_equal(len, 100000 * 2 + 4);
	t_ok(pj_doc_new(&copy));
	t_ok(pj_copy(copy, pj_root(copy), pj_root(doc)));
	assert_true(pj_equal(pj_root(doc), pj_root(copy)));
	/* Parsing it back needs the depth allowed. */
	{
		pj_limits lim = PJ_LIMITS_DEFAULT;

		t_fails(parse_n(out, len, &lim), PAWL_E_LIMIT);
		lim.max_depth = 100001;
		t_ok(parse_n(out, len, &lim));
	}
	free(out);
	pj_doc_free(copy);
	pj_doc_free(doc);
}

/* A big, airy document: the strings are compacted to the front of the
 * input and the pages behind them are released; everything must still
 * read back. */
static void test_large_document(void **state)
{
	pawl_buf in = PAWL_BUF_INIT(SIZE_MAX / 2), want = PAWL_BUF_INIT(SIZE_MAX / 2);
	pj_doc *doc = NULL;
	char *text, *got;
	size_t len, glen;

	(void)state;
	t_ok(buf_puts(&in, "{\n"));
	t_ok(buf_puts(&want, "{"));
	for (int i = 0; i < 5000; i++) {
		/* Keys come in reverse order, so the object is sorted too. */
		t_ok(buf_printf(&in, "%s  \"key-%05d\"  :  [ \"value \\u00e9 %d\" , %d ,"
				     "                                                   "
				     " true ]\n", i ? "," : "", 4999 - i, i, -i));
	}
	for (int i = 4999; i >= 0; i--)
		t_ok(buf_printf(&want, "%s\"key-%05d\":[\"value \xC3\xA9 %d\",%d,true]",
				i < 4999 ? "," : "", 4999 - i, i, -i));
	t_ok(buf_puts(&in, "}"));
	t_ok(buf_puts(&want, "}"));
	t_ok(buf_steal(&in, &text, &len));
	t_ok(pj_parse(&doc, text, len, NULL));
	assert_int_equal(pj_root(doc)->len, 5000);
	assert_string_equal(pj_str(&pj_get(pj_root(doc), "key-00000")->u.items[0]),
			    "value \xC3\xA9 4999");
	t_ok(pj_dump(pj_root(doc), &got, &glen));
	assert_int_equal(glen, want.len);
	assert_memory_equal(got, want.data, glen);
	free(got);
	buf_free(&want);
	pj_doc_free(doc);
}

static void test_parse_ownership(void **state)
{
	pj_doc *doc = NULL;
	char *buf = malloc(8);

	(void)state;
	/* The buffer is freed on failure too (LeakSanitizer checks). */
	memcpy(buf, "[1,2.0]", 7);
	t_fails(pj_parse(&doc, buf, 7, NULL), PAWL_E_FORMAT);
	assert_null(doc);
	t_fails(pj_parse(&doc, NULL, 0, NULL), PAWL_E_INVALID);
	t_fails(pj_parse_copy(&doc, NULL, 0, NULL), PAWL_E_FORMAT);
	pj_doc_free(NULL);
	assert_null(pj_root(NULL));
}

/* pj_write_cstr: one JSON string, escaped as pj_write escapes, that a
 * strict parser reads back as the same bytes. */
static void test_write_cstr(void **state)
{
	const char *in = "a \"q\" \\ b\nc\tü";
	pawl_buf b = PAWL_BUF_INIT(4096);
	pj_doc *doc;

	(void)state;
	t_ok(pj_write_cstr(&b, in));
	assert_null(strchr(b.data, '\n'));
	t_ok(pj_parse_copy(&doc, b.data, b.len, NULL));
	assert_true(pj_is_string(pj_root(doc)));
	assert_string_equal(pj_root(doc)->u.s, in);
	pj_doc_free(doc);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reject_floats),
		cmocka_unit_test(test_reject_bad_numbers),
		cmocka_unit_test(test_int64_bounds),
		cmocka_unit_test(test_reject_invalid_utf8),
		cmocka_unit_test(test_reject_bad_escapes),
		cmocka_unit_test(test_reject_control_chars),
		cmocka_unit_test(test_strings_decoded),
		cmocka_unit_test(test_reject_duplicates),
		cmocka_unit_test(test_reject_syntax),
		cmocka_unit_test(test_reject_trailing_garbage),
		cmocka_unit_test(test_reject_bom),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_context),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_canonical_known_answers),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_write_json),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_canonical_buffer),
		cmocka_unit_test(test_build_put),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_build_append_finish),
		cmocka_unit_test(test_getn_finished),
		cmocka_unit_test(test_mutate_parsed),
		cmocka_unit_test(test_copy_and_equal),
		cmocka_unit_test(test_deep_built),
		cmocka_unit_test(test_large_document),
		cmocka_unit_test(test_parse_ownership),
		cmocka_unit_test(test_write_cstr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

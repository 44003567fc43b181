/*
 * test_privsep_msg.c - the fetcher-to-root messages (src/pawl/privsep_msg.c):
 * round trips of every type, delivery in any chunks (one byte at a time),
 * the encoder making texts fit, and every way a hostile fetcher's stream
 * is refused: unknown type, oversize frame, a stream cut off, codes out of
 * range, control characters and bytes that are not UTF-8, bytes after the
 * last field, more than the run's budget.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privsep_msg.h"
#include "testing.h"

#define MAXMSG 64

/* What a decoder delivered, copied out of the callback. */
struct got {
	size_t n;
	psm_msg m[MAXMSG];
	uint8_t data[MAXMSG][256];
	int fail_at; /* the callback fails on this message (1-based); 0: never */
};

static int collect(const psm_msg *m, void *ctx)
{
	struct got *g = ctx;

	if (g->fail_at && (int)g->n + 1 == g->fail_at)
		return pawl_error_set(PAWL_E_POLICY, "the callback says no");
	assert_true(g->n < MAXMSG);
	g->m[g->n] = *m;
	if (m->type == PSM_DATA) {
		assert_true(m->data_len <= sizeof(g->data[0]));
		memcpy(g->data[g->n], m->data, m->data_len);
		g->m[g->n].data = g->data[g->n];
	}
	g->n++;
	return 0;
}

/* Decode s in chunks of chunk bytes (0: all at once), then the end. */
static int decode(const uint8_t *s, size_t len, size_t chunk, uint64_t max_total, struct got *g)
{
	psm_decoder *d = NULL;
	int r = 0;

	t_ok(psm_decoder_new(&d, max_total));
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t at = 0; at < len && r == 0; at += chunk)
		r = psm_decoder_feed(d, s + at, len - at < chunk ? len - at : chunk, collect, g);
	if (r == 0)
		r = psm_decoder_finish(d);
	psm_decoder_free(d);
	return r;
}

/* A stream of frames built by the encoder. */
struct stream {
	uint8_t b[4 * PSM_FRAME_MAX];
	size_t len;
};

static void add_outcome(struct stream *s, psm_outcome k, int code, const char *msg)
{
	size_t n;

	t_ok(psm_encode_outcome(s->b + s->len, sizeof(s->b) - s->len, &n, k, code, msg));
	s->len += n;
}

static void add_rejected(struct stream *s, int code, const char *url, const char *msg)
{
	size_t n;

	t_ok(psm_encode_rejected(s->b + s->len, sizeof(s->b) - s->len, &n, code, url, msg));
	s->len += n;
}

static void add_data(struct stream *s, const void *p, size_t len)
{
	size_t n;

	t_ok(psm_encode_data(s->b + s->len, sizeof(s->b) - s->len, &n, p, len));
	s->len += n;
}

/* Append a raw frame: type, length, payload. */
static void add_raw(struct stream *s, uint8_t type, uint32_t len, const void *payload, size_t plen)
{
	uint8_t h[5] = { type, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			 (uint8_t)len };

	memcpy(s->b + s->len, h, 5);
	s->len += 5;
	memcpy(s->b + s->len, payload, plen);
	s->len += plen;
}

/* A raw outcome payload: kind, code, text (len, bytes). */
static size_t raw_outcome(uint8_t *p, uint8_t kind, int32_t code, const char *text, size_t tlen)
{
	uint32_t u = (uint32_t)code;

	p[0] = kind;
	p[1] = (uint8_t)(u >> 24);
	p[2] = (uint8_t)(u >> 16);
	p[3] = (uint8_t)(u >> 8);
	p[4] = (uint8_t)u;
	p[5] = (uint8_t)(tlen >> 8);
	p[6] = (uint8_t)tlen;
	memcpy(p + 7, text, tlen);
	return 7 + tlen;
}

static void expect_refused(const struct stream *s, int code, const char *words)
{
	struct got g = { 0 };

	/* Whole, and one byte at a time: the same verdict. */
	t_fails(decode(s->b, s->len, 0, 1 << 20, &g), code);
	if (words && !strstr(pawl_error_last()->message, words)) {
		print_error("message: %s (want %s)\n", pawl_error_last()->message, words);
		fail();
	}
	memset(&g, 0, sizeof(g));
	t_fails(decode(s->b, s->len, 1, 1 << 20, &g), code);
}

static void test_round_trip(void **state)
{
	static struct stream s;
	struct got g = { 0 };
	const char *url = "https://mirror.example/metadata/2.root.json";
	uint8_t bytes[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);
	s.len = 0;
	add_rejected(&s, PAWL_E_SIGNATURE, url, "root v2: 1 of 2 signatures (threshold 2) — ключ");
	add_data(&s, bytes, sizeof(bytes));
	add_outcome(&s, PSM_ERROR, PAWL_E_NETWORK, "no mirror answered");
	add_outcome(&s, PSM_OK, 0, NULL);
	add_outcome(&s, PSM_NONE, PAWL_E_HASH, "ignored for none");
	t_ok(decode(s.b, s.len, 0, 1 << 20, &g));
	assert_int_equal(g.n, 5);
	assert_int_equal(g.m[0].type, PSM_REJECTED);
	assert_int_equal(g.m[0].code, PAWL_E_SIGNATURE);
	assert_string_equal(g.m[0].url, url);
	assert_string_equal(g.m[0].message, "root v2: 1 of 2 signatures (threshold 2) — ключ");
	assert_int_equal(g.m[1].type, PSM_DATA);
	assert_int_equal(g.m[1].data_len, sizeof(bytes));
	assert_memory_equal(g.m[1].data, bytes, sizeof(bytes));
	assert_int_equal(g.m[2].type, PSM_OUTCOME);
	assert_int_equal(g.m[2].outcome, PSM_ERROR);
	assert_int_equal(g.m[2].code, PAWL_E_NETWORK);
	assert_string_equal(g.m[2].message, "no mirror answered");
	assert_int_equal(g.m[3].outcome, PSM_OK);
	assert_int_equal(g.m[3].code, 0);
	assert_string_equal(g.m[3].message, "");
	/* none and ok carry neither code nor message, whatever the caller
	 * passed */
	assert_int_equal(g.m[4].outcome, PSM_NONE);
	assert_int_equal(g.m[4].code, 0);
	assert_string_equal(g.m[4].message, "");
}

/* Every split of the stream gives the same messages: one byte at a time,
 * and every chunk size up to a frame's length. */
static void test_split_delivery(void **state)
{
	static struct stream s;
	static struct got whole, part;
	uint8_t bytes[100];

	(void)state;
	memset(bytes, 0xee, sizeof(bytes));
	s.len = 0;
	add_rejected(&s, PAWL_E_EXPIRED, "http://127.0.0.1/timestamp.json", "expired");
	add_rejected(&s, PAWL_E_HASH, "", "");
	add_data(&s, bytes, sizeof(bytes));
	add_outcome(&s, PSM_ERROR, PAWL_E_KEY, "the last code");
	memset(&whole, 0, sizeof(whole));
	t_ok(decode(s.b, s.len, 0, 1 << 20, &whole));
	assert_int_equal(whole.n, 4);
	for (size_t chunk = 1; chunk <= 80; chunk++) {
		memset(&part, 0, sizeof(part));
		t_ok(decode(s.b, s.len, chunk, 1 << 20, &part));
		assert_int_equal(part.n, whole.n);
		for (size_t i = 0; i < whole.n; i++) {
			assert_int_equal(part.m[i].type, whole.m[i].type);
			assert_int_equal(part.m[i].code, whole.m[i].code);
			assert_string_equal(part.m[i].url, whole.m[i].url);
			assert_string_equal(part.m[i].message, whole.m[i].message);
			assert_int_equal(part.m[i].data_len, whole.m[i].data_len);
		}
	}
	assert_int_equal(part.m[3].code, PAWL_E_KEY);
	assert_memory_equal(part.m[2].data, bytes, sizeof(bytes));
}

/* The encoder makes any text fit the format, so that the child's honest
 * messages always decode. */
static void test_encoder_makes_text_fit(void **state)
{
	static struct stream s;
	struct got g = { 0 };
	static char longmsg[3 * PSM_TEXT_MAX];
	size_t n;

	(void)state;
	s.len = 0;
	add_outcome(&s, PSM_ERROR, PAWL_E_IO, "tab\there\r\nline \x1b[31mred\x7f \xc2\x9b csi \xff\xc0\x80 end");
	/* 'é' (2 bytes) straddling the limit is left out whole */
	memset(longmsg, 'a', PSM_TEXT_MAX - 1);
	memcpy(longmsg + PSM_TEXT_MAX - 1, "\xc3\xa9zz", 5);
	add_rejected(&s, -1000, longmsg, longmsg);
	add_outcome(&s, PSM_ERROR, 7, "a positive code");
	t_ok(decode(s.b, s.len, 0, 1 << 20, &g));
	assert_int_equal(g.n, 3);
	assert_string_equal(g.m[0].message, "tab here  line ?[31mred? ? csi ??? end");
	assert_int_equal(strlen(g.m[1].url), PSM_TEXT_MAX - 1);
	assert_int_equal(g.m[1].code, PAWL_E_GENERIC);
	assert_int_equal(g.m[2].code, PAWL_E_GENERIC);
	/* too small a buffer, an unknown kind, empty or oversize data */
	t_fails(psm_encode_outcome(s.b, 6, &n, PSM_OK, 0, NULL), PAWL_E_INVALID);
	t_fails(psm_encode_outcome(s.b, sizeof(s.b), &n, (psm_outcome)9, 0, NULL), PAWL_E_INVALID);
	t_fails(psm_encode_data(s.b, sizeof(s.b), &n, "", 0), PAWL_E_INVALID);
	t_fails(psm_encode_data(s.b, sizeof(s.b), &n, s.b, PSM_DATA_MAX + 1), PAWL_E_INVALID);
	t_ok(psm_encode_data(s.b, sizeof(s.b), &n, s.b + PSM_FRAME_MAX, PSM_DATA_MAX));
	assert_int_equal(n, PSM_FRAME_MAX);
}

static void test_unknown_type(void **state)
{
	static struct stream s;
	uint8_t p[16];
	size_t pl = raw_outcome(p, PSM_OK, 0, "", 0);
	static const uint8_t types[] = { 0, 4, 0x7f, 0xff };

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		s.len = 0;
		add_raw(&s, types[i], (uint32_t)pl, p, pl);
		expect_refused(&s, PAWL_E_FORMAT, "unknown type");
	}
	/* refused from its header alone, before any payload */
	{
		psm_decoder *d;
		const uint8_t h[5] = { 9, 0, 0, 0, 1 };

		t_ok(psm_decoder_new(&d, 1 << 20));
		t_fails(psm_decoder_feed(d, h, 5, NULL, NULL), PAWL_E_FORMAT);
		/* and nothing after it is taken */
		t_fails(psm_decoder_feed(d, h, 1, NULL, NULL), PAWL_E_FORMAT);
		t_fails(psm_decoder_finish(d), PAWL_E_FORMAT);
		psm_decoder_free(d);
	}
}

static void test_oversize(void **state)
{
	static struct stream s;
	static uint8_t big[PSM_DATA_MAX + 16];
	psm_decoder *d;
	const uint8_t huge[5] = { PSM_DATA, 0xff, 0xff, 0xff, 0xff };

	(void)state;
	/* each type's own limit, from the header */
	s.len = 0;
	add_raw(&s, PSM_OUTCOME, PSM_OUTCOME_MAX + 1, big, PSM_OUTCOME_MAX + 1);
	expect_refused(&s, PAWL_E_LIMIT, "more than the");
	s.len = 0;
	add_raw(&s, PSM_REJECTED, PSM_REJECTED_MAX + 1, big, 0);
	expect_refused(&s, PAWL_E_LIMIT, "more than the");
	s.len = 0;
	add_raw(&s, PSM_DATA, PSM_DATA_MAX + 1, big, 0);
	expect_refused(&s, PAWL_E_LIMIT, "more than the");
	t_ok(psm_decoder_new(&d, 1 << 20));
	t_fails(psm_decoder_feed(d, huge, 5, NULL, NULL), PAWL_E_LIMIT);
	psm_decoder_free(d);
	/* a text longer than the limit */
	{
		uint8_t p[8 + PSM_TEXT_MAX + 1];
		size_t pl;

		memset(big, 'a', PSM_TEXT_MAX + 1);
		pl = raw_outcome(p, PSM_ERROR, PAWL_E_IO, (const char *)big, PSM_TEXT_MAX + 1);
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
		expect_refused(&s, PAWL_E_LIMIT, NULL); /* the frame's own limit first */
		/* in a frame that has room for it: a rejected record's url */
		memset(p, 0xff, 4); /* code -1 */
		p[4] = (PSM_TEXT_MAX + 1) >> 8;
		p[5] = (uint8_t)(PSM_TEXT_MAX + 1);
		s.len = 0;
		add_raw(&s, PSM_REJECTED, 6 + PSM_TEXT_MAX + 1 + 2, p, 6);
		memcpy(s.b + s.len, big, PSM_TEXT_MAX + 1);
		s.len += PSM_TEXT_MAX + 1;
		s.b[s.len++] = 0;
		s.b[s.len++] = 0;
		expect_refused(&s, PAWL_E_FORMAT, "longer than the limit");
	}
	/* the run's budget: frames that fit one by one, not together */
	{
		struct got g = { 0 };

		s.len = 0;
		add_outcome(&s, PSM_ERROR, PAWL_E_IO, "0123456789");
		add_outcome(&s, PSM_ERROR, PAWL_E_IO, "0123456789");
		t_ok(decode(s.b, s.len, 0, s.len, &g));
		memset(&g, 0, sizeof(g));
		t_fails(decode(s.b, s.len, 0, s.len - 1, &g), PAWL_E_LIMIT);
		assert_int_equal(g.n, 1);
		memset(&g, 0, sizeof(g));
		t_fails(decode(s.b, s.len, 1, s.len - 1, &g), PAWL_E_LIMIT);
		/* exactly the budget, then one byte more */
		memset(&g, 0, sizeof(g));
		t_fails(decode(s.b, s.len + 1, 1, s.len, &g), PAWL_E_LIMIT);
	}
}

static void test_truncated(void **state)
{
	static struct stream s;

	(void)state;
	s.len = 0;
	add_outcome(&s, PSM_ERROR, PAWL_E_IO, "cut");
	/* every proper prefix ends inside a frame */
	for (size_t cut = 1; cut < s.len; cut++) {
		struct got g = { 0 };

		t_fails(decode(s.b, cut, 0, 1 << 20, &g), PAWL_E_FORMAT);
		assert_non_null(strstr(pawl_error_last()->message, "ends inside"));
		assert_int_equal(g.n, 0);
	}
	/* fields that run past their payload */
	{
		uint8_t p[16];
		size_t pl = raw_outcome(p, PSM_ERROR, PAWL_E_IO, "abc", 3);

		s.len = 0;
		add_raw(&s, PSM_OUTCOME, (uint32_t)(pl - 1), p, pl - 1);
		expect_refused(&s, PAWL_E_FORMAT, "longer than its message");
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, 3, p, 3);
		expect_refused(&s, PAWL_E_FORMAT, "cut off");
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, 6, p, 6);
		expect_refused(&s, PAWL_E_FORMAT, "length is cut off");
		/* and bytes after the last field */
		p[pl] = 'x';
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, (uint32_t)(pl + 1), p, pl + 1);
		expect_refused(&s, PAWL_E_FORMAT, "after its last field");
	}
	/* an empty data frame, an empty outcome */
	s.len = 0;
	add_raw(&s, PSM_DATA, 0, "", 0);
	expect_refused(&s, PAWL_E_FORMAT, "empty");
	s.len = 0;
	add_raw(&s, PSM_OUTCOME, 0, "", 0);
	expect_refused(&s, PAWL_E_FORMAT, "cut off");
}

static void test_code_range(void **state)
{
	static struct stream s;
	static const int32_t bad[] = { 0, 1, PSM_CODE_MIN - 1, -100, INT32_MIN, INT32_MAX };
	uint8_t p[32];
	size_t pl;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pl = raw_outcome(p, PSM_ERROR, bad[i], "x", 1);
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
		expect_refused(&s, PAWL_E_FORMAT, "code out of range");
		/* a rejected record: code, url, message */
		pl = raw_outcome(p, 0, bad[i], "", 0); /* p + 1: code, then a text */
		p[7] = 0;
		p[8] = 0;
		s.len = 0;
		add_raw(&s, PSM_REJECTED, (uint32_t)(pl - 1 + 2), p + 1, pl - 1 + 2);
		expect_refused(&s, PAWL_E_FORMAT, "code out of range");
	}
	/* the bounds themselves are fine */
	{
		struct got g = { 0 };

		s.len = 0;
		pl = raw_outcome(p, PSM_ERROR, -1, "", 0);
		add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
		pl = raw_outcome(p, PSM_ERROR, PSM_CODE_MIN, "", 0);
		add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
		t_ok(decode(s.b, s.len, 0, 1 << 20, &g));
		assert_int_equal(g.m[1].code, PSM_CODE_MIN);
	}
	/* none and ok must carry no error; an unknown kind */
	pl = raw_outcome(p, PSM_OK, PAWL_E_IO, "", 0);
	s.len = 0;
	add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
	expect_refused(&s, PAWL_E_FORMAT, "carries an error");
	pl = raw_outcome(p, PSM_NONE, 0, "but", 3);
	s.len = 0;
	add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
	expect_refused(&s, PAWL_E_FORMAT, "carries an error");
	pl = raw_outcome(p, 3, 0, "", 0);
	s.len = 0;
	add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
	expect_refused(&s, PAWL_E_FORMAT, "unknown outcome");
}

static void test_control_and_encoding(void **state)
{
	static struct stream s;
	static const struct {
		const char *text;
		size_t len;
		const char *why;
	} bad[] = {
		{ "a\0b", 3, "control" },           /* NUL */
		{ "\x1b[2J", 4, "control" },         /* ESC: a terminal escape */
		{ "line\nbreak", 10, "control" },
		{ "tab\t", 4, "control" },
		{ "del\x7f", 4, "control" },
		{ "csi\xc2\x9b" "2J", 7, "control" },  /* C1 CSI, as UTF-8 */
		{ "raw\x9b", 4, "not UTF-8" },       /* C1 CSI, a bare byte */
		{ "\xc0\x80", 2, "not UTF-8" },      /* overlong NUL */
		{ "\xe0\x80\xaf", 3, "not UTF-8" },  /* overlong '/' */
		{ "\xed\xa0\x80", 3, "not UTF-8" },  /* a surrogate */
		{ "\xf4\x90\x80\x80", 4, "not UTF-8" }, /* past U+10FFFF */
		{ "\xe2\x82", 2, "not UTF-8" },      /* cut off */
		{ "\xff", 1, "not UTF-8" },
	};
	uint8_t p[64];
	size_t pl;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pl = raw_outcome(p, PSM_ERROR, PAWL_E_IO, bad[i].text, bad[i].len);
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
		expect_refused(&s, PAWL_E_FORMAT, bad[i].why);
	}
	/* in the url of a rejected record too */
	{
		uint8_t r[32] = { 0xff, 0xff, 0xff, 0xf5, 0, 2, 0x1b, '[', 0, 0 };

		s.len = 0;
		add_raw(&s, PSM_REJECTED, 10, r, 10);
		expect_refused(&s, PAWL_E_FORMAT, "control");
	}
	/* a valid multi-byte text passes */
	{
		struct got g = { 0 };

		pl = raw_outcome(p, PSM_ERROR, PAWL_E_IO, "\xe2\x82\xac \xf0\x9f\x94\x91", 8);
		s.len = 0;
		add_raw(&s, PSM_OUTCOME, (uint32_t)pl, p, pl);
		t_ok(decode(s.b, s.len, 1, 1 << 20, &g));
		assert_string_equal(g.m[0].message, "\xe2\x82\xac \xf0\x9f\x94\x91");
	}
}

/* A callback that refuses stops the decoder: nothing after it is heard. */
static void test_callback_stops(void **state)
{
	static struct stream s;
	struct got g = { .fail_at = 2 };

	(void)state;
	s.len = 0;
	add_outcome(&s, PSM_OK, 0, NULL);
	add_outcome(&s, PSM_OK, 0, NULL);
	add_outcome(&s, PSM_OK, 0, NULL);
	t_fails(decode(s.b, s.len, 0, 1 << 20, &g), PAWL_E_POLICY);
	assert_int_equal(g.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_split_delivery),
		cmocka_unit_test(test_encoder_makes_text_fit),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_code_range),
		cmocka_unit_test(test_control_and_encoding),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

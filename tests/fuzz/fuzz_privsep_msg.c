/*
 * fuzz_privsep_msg.c - the root side's reader of the fetcher's messages
 * (src/pawl/privsep_msg.c), the bytes a compromised fetcher controls.
 *
 * Input: one control byte, then the stream. The control byte picks the
 * run's budget (bit 7: a small one, (low bits + 1) * 32 bytes; else 1 MiB)
 * and a chunk size (low 5 bits + 1) for a second, split delivery.
 *
 * Oracles (any disagreement aborts):
 *  - Chunking does not matter: the whole stream at once and the same
 *    stream in chunks give the same messages and the same verdict.
 *  - Only the canonical form is accepted: every message the decoder
 *    delivers, encoded again with psm_encode_*, is byte for byte the frame
 *    it came from, so the accepted frames laid end to end are exactly the
 *    start of the stream.
 *  - A delivered text has no NUL inside, no control byte and is within
 *    PSM_TEXT_MAX; an outcome's code is in range exactly for errors.
 *  - A first frame longer than its type's limit is refused as a limit.
 *  - Nothing past the budget is taken, and a stream that is accepted is
 *    taken whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privsep_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	const uint8_t *in; /* the stream */
	size_t in_len;
	size_t matched;    /* accepted frames, re-encoded, matched so far */
	size_t n;
	uint32_t digest;   /* of the messages, to compare two runs */
};

static uint8_t frame[PSM_FRAME_MAX];

static void mix(struct run *r, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		r->digest = (r->digest ^ b[i]) * 16777619u;
}

static void check_text(const char *s)
{
	size_t n = strnlen(s, PSM_TEXT_MAX + 1);

	if (n > PSM_TEXT_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* C0 and DEL, and C1 as UTF-8 (U+0080 ... U+009F) */
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 &&
		     (unsigned char)s[i + 1] <= 0x9f))
			abort();
	}
}

static int on_msg(const psm_msg *m, void *ctx)
{
	struct run *r = ctx;
	size_t len = 0;
	int e;

	switch (m->type) {
	case PSM_OUTCOME:
		check_text(m->message);
		if ((m->outcome == PSM_ERROR) != (m->code < 0) ||
		    (m->code < 0 && m->code < PSM_CODE_MIN))
			abort();
		e = psm_encode_outcome(frame, sizeof(frame), &len, m->outcome, m->code,
				       m->message);
		break;
	case PSM_REJECTED:
		check_text(m->url);
		check_text(m->message);
		if (m->code >= 0 || m->code < PSM_CODE_MIN)
			abort();
		e = psm_encode_rejected(frame, sizeof(frame), &len, m->code, m->url, m->message);
		break;
	case PSM_DATA:
		if (m->data_len == 0 || m->data_len > PSM_DATA_MAX)
			abort();
		e = psm_encode_data(frame, sizeof(frame), &len, m->data, m->data_len);
		break;
	default:
		abort();
	}
	if (e != 0 || len > r->in_len - r->matched ||
	    memcmp(frame, r->in + r->matched, len) != 0)
		abort();
	r->matched += len;
	r->n++;
	mix(r, frame, len);
	return 0;
}

static int run(struct run *r, const uint8_t *s, size_t len, size_t chunk, uint64_t budget,
	       uint64_t *ret_offset)
{
	psm_decoder *d = NULL;
	int e = 0;

	memset(r, 0, sizeof(*r));
	r->in = s;
	r->in_len = len;
	if (psm_decoder_new(&d, budget) != 0)
		abort();
	for (size_t at = 0; at < len && e == 0; at += chunk)
		e = psm_decoder_feed(d, s + at, len - at < chunk ? len - at : chunk, on_msg, r);
	if (e == 0)
		e = psm_decoder_finish(d);
	*ret_offset = psm_decoder_offset(d);
	if (*ret_offset > budget || *ret_offset > len || r->matched > *ret_offset)
		abort();
	if (e == 0 && (r->matched != len || psm_decoder_frames(d) != r->n))
		abort();
	psm_decoder_free(d);
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;
	uint64_t budget, o1, o2;
	size_t chunk;
	int e1, e2;

	if (size < 1)
		return 0;
	budget = (data[0] & 0x80) ? ((uint64_t)(data[0] & 0x1f) + 1) * 32 : (uint64_t)1 << 20;
	chunk = (size_t)(data[0] & 0x1f) + 1;
	e1 = run(&whole, data + 1, size - 1, size > 1 ? size - 1 : 1, budget, &o1);
	e2 = run(&split, data + 1, size - 1, chunk, budget, &o2);
	if (e1 != e2 || whole.n != split.n || whole.matched != split.matched ||
	    whole.digest != split.digest)
		abort();
	if (e1 == 0 && o1 != o2)
		abort();
	/* A first frame longer than its type allows is refused from its
	 * header, as a limit, before anything is delivered. */
	if (size >= 1 + 5) {
		const uint8_t *h = data + 1;
		uint32_t len = ((uint32_t)h[1] << 24) | ((uint32_t)h[2] << 16) |
			       ((uint32_t)h[3] << 8) | h[4];
		size_t max = h[0] == PSM_OUTCOME ? PSM_OUTCOME_MAX :
			     h[0] == PSM_REJECTED ? PSM_REJECTED_MAX :
			     h[0] == PSM_DATA ? PSM_DATA_MAX : SIZE_MAX;

		if (len > max && (e1 != PAWL_E_LIMIT || whole.n != 0 || e2 != PAWL_E_LIMIT))
			abort();
	}
	return 0;
}

/*
 * privsep_msg.c - the fetcher-to-root message format (privsep_msg.h): the
 * fetcher's encoder and the root side's bounded, incremental decoder.
 *
 * The decoder reads like the format: a five-byte header, checked as soon
 * as it is complete (a known type, a length within that type's limit and
 * within what is left of the stream's budget), then exactly that many
 * payload bytes, read through a cursor that checks what remains before
 * every field. It never allocates after psm_decoder_new().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privsep_msg.h"
#include "base/base.h"

struct psm_decoder {
	uint8_t head[PSM_HEADER_LEN];
	size_t head_have;
	bool in_payload;
	uint8_t type;
	uint32_t len;
	size_t have;
	uint64_t offset;     /* bytes taken */
	uint64_t frame_at;   /* offset of the current frame */
	uint64_t frames;
	uint64_t max_total;
	bool failed;
	psm_msg msg;
	uint8_t payload[PSM_DATA_MAX];
};

const char *psm_type_name(unsigned type)
{
	switch (type) {
	case PSM_OUTCOME:
		return "outcome";
	case PSM_REJECTED:
		return "rejected";
	case PSM_DATA:
		return "data";
	default:
		return "unknown";
	}
}

/* The longest payload of a type; 0 for an unknown one. */
static size_t type_max(unsigned type)
{
	switch (type) {
	case PSM_OUTCOME:
		return PSM_OUTCOME_MAX;
	case PSM_REJECTED:
		return PSM_REJECTED_MAX;
	case PSM_DATA:
		return PSM_DATA_MAX;
	default:
		return 0;
	}
}

static bool code_ok(int64_t code)
{
	return code <= -1 && code >= PSM_CODE_MIN;
}

/* ---------------- text: UTF-8 without control characters ---------------- */

/* The length of the well-formed UTF-8 character at s (n bytes left) and
 * its code point; 0 when there is none. */
static size_t utf8_char(const uint8_t *s, size_t n, uint32_t *ret_cp)
{
	uint32_t cp;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0; /* a continuation byte, 0xc0/0xc1 (overlong), > 0xf4 */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* ---------------- the encoder ---------------- */

struct wcur {
	uint8_t *p;
	size_t cap, len;
	bool over;
};

static void put(struct wcur *w, const void *p, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void put_u8(struct wcur *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_u32(struct wcur *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 4);
}

static void put_code(struct wcur *w, int code)
{
	put_u32(w, (uint32_t)(int32_t)code);
}

/* A text field made to fit: see psm_encode_outcome(). */
static void put_text(struct wcur *w, const char *s)
{
	const uint8_t *in = (const uint8_t *)(s ? s : "");
	size_t n = strlen((const char *)in), at, out = 0;

	if (w->over || w->cap - w->len < 2 + (n < PSM_TEXT_MAX ? n : PSM_TEXT_MAX)) {
		w->over = true;
		return;
	}
	at = w->len;
	w->len += 2;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t cl = utf8_char(in + i, n - i, &cp);

		if (cl == 0 || is_control(cp)) {
			if (out + 1 > PSM_TEXT_MAX)
				break;
			w->p[w->len + out++] =
				(cl == 1 && (cp == '\t' || cp == '\n' || cp == '\r')) ? ' ' : '?';
			i += cl ? cl : 1;
			continue;
		}
		if (out + cl > PSM_TEXT_MAX)
			break;
		memcpy(w->p + w->len + out, in + i, cl);
		out += cl;
		i += cl;
	}
	w->p[at] = (uint8_t)(out >> 8);
	w->p[at + 1] = (uint8_t)out;
	w->len += out;
}

/* Start a frame: the header, with the length filled in by end_frame(). */
static size_t begin_frame(struct wcur *w, psm_type type)
{
	put_u8(w, (uint8_t)type);
	put_u32(w, 0);
	return w->len;
}

static int end_frame(struct wcur *w, size_t start, size_t *ret_len)
{
	size_t plen;

	if (w->over)
		return pawl_error_set(PAWL_E_INVALID, "a fetcher message does not fit in %zu bytes",
				      w->cap);
	plen = w->len - start;
	w->p[start - 4] = (uint8_t)(plen >> 24);
	w->p[start - 3] = (uint8_t)(plen >> 16);
	w->p[start - 2] = (uint8_t)(plen >> 8);
	w->p[start - 1] = (uint8_t)plen;
	*ret_len = w->len;
	return 0;
}

int psm_encode_outcome(uint8_t *out, size_t cap, size_t *ret_len, psm_outcome kind, int code,
		       const char *message)
{
	struct wcur w = { out, cap, 0, false };
	size_t start;

	switch (kind) {
	case PSM_NONE:
	case PSM_OK:
		code = 0;
		message = NULL;
		break;
	case PSM_ERROR:
		if (!code_ok(code))
			code = PAWL_E_GENERIC;
		break;
	default:
		return pawl_error_set(PAWL_E_INVALID, "unknown outcome %d", (int)kind);
	}
	start = begin_frame(&w, PSM_OUTCOME);
	put_u8(&w, (uint8_t)kind);
	put_code(&w, code);
	put_text(&w, message);
	return end_frame(&w, start, ret_len);
}

int psm_encode_rejected(uint8_t *out, size_t cap, size_t *ret_len, int code, const char *url,
			const char *message)
{
	struct wcur w = { out, cap, 0, false };
	size_t start;

	start = begin_frame(&w, PSM_REJECTED);
	put_code(&w, code_ok(code) ? code : PAWL_E_GENERIC);
	put_text(&w, url);
	put_text(&w, message);
	return end_frame(&w, start, ret_len);
}

int psm_encode_data(uint8_t *out, size_t cap, size_t *ret_len, const void *data, size_t len)
{
	struct wcur w = { out, cap, 0, false };
	size_t start;

	if (len == 0 || len > PSM_DATA_MAX)
		return pawl_error_set(PAWL_E_INVALID, "a data message holds 1 to %zu bytes, not %zu",
				      PSM_DATA_MAX, len);
	start = begin_frame(&w, PSM_DATA);
	put(&w, data, len);
	return end_frame(&w, start, ret_len);
}

int psm_write(int fd, const uint8_t *frame, size_t len)
{
	return io_write_all(fd, frame, len, "the message to the root side");
}

/* ---------------- the decoder ---------------- */

int psm_decoder_new(psm_decoder **ret, uint64_t max_total)
{
	psm_decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return pawl_error_set(PAWL_E_NOMEM, "out of memory");
	d->max_total = max_total;
	*ret = d;
	return 0;
}

void psm_decoder_free(psm_decoder *d)
{
	free(d);
}

uint64_t psm_decoder_offset(const psm_decoder *d)
{
	return d->offset;
}

uint64_t psm_decoder_frames(const psm_decoder *d)
{
	return d->frames;
}

/* A bounded cursor over one payload. */
struct rcur {
	const uint8_t *p;
	size_t len, at;
};

static bool get(struct rcur *c, void *out, size_t n)
{
	if (n > c->len - c->at)
		return false;
	memcpy(out, c->p + c->at, n);
	c->at += n;
	return true;
}

static bool get_u8(struct rcur *c, uint8_t *v)
{
	return get(c, v, 1);
}

static bool get_u16(struct rcur *c, uint16_t *v)
{
	uint8_t b[2];

	if (!get(c, b, 2))
		return false;
	*v = (uint16_t)((b[0] << 8) | b[1]);
	return true;
}

static bool get_code(struct rcur *c, int *v)
{
	uint8_t b[4];
	uint32_t u;

	if (!get(c, b, 4))
		return false;
	u = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
	*v = (int)(int32_t)u;
	return true;
}

/* Why a text field is refused, or NULL when it is taken into out. */
static const char *get_text(struct rcur *c, char out[PSM_TEXT_MAX + 1])
{
	uint16_t n;

	if (!get_u16(c, &n))
		return "a text's length is cut off";
	if (n > PSM_TEXT_MAX)
		return "a text is longer than the limit";
	if (n > c->len - c->at)
		return "a text is longer than its message";
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t cl = utf8_char(c->p + c->at + i, n - i, &cp);

		if (cl == 0)
			return "a text is not UTF-8";
		if (is_control(cp))
			return "a text holds a control character";
		i += cl;
	}
	memcpy(out, c->p + c->at, n);
	out[n] = '\0';
	c->at += n;
	return NULL;
}

/* Decode the complete payload of the current frame into d->msg; NULL, or
 * why it is malformed. */
static const char *decode_payload(psm_decoder *d)
{
	struct rcur c = { d->payload, d->len, 0 };
	psm_msg *m = &d->msg;
	const char *why;
	uint8_t kind;

	m->type = (psm_type)d->type;
	m->outcome = PSM_NONE;
	m->code = 0;
	m->url[0] = m->message[0] = '\0';
	m->data = NULL;
	m->data_len = 0;
	switch (d->type) {
	case PSM_OUTCOME:
		if (!get_u8(&c, &kind) || !get_code(&c, &m->code))
			return "cut off";
		if ((why = get_text(&c, m->message)) != NULL)
			return why;
		if (kind == PSM_NONE || kind == PSM_OK) {
			if (m->code != 0 || m->message[0])
				return "a none or ok outcome carries an error";
		} else if (kind == PSM_ERROR) {
			if (!code_ok(m->code))
				return "an error code out of range";
		} else {
			return "an unknown outcome";
		}
		m->outcome = (psm_outcome)kind;
		break;
	case PSM_REJECTED:
		if (!get_code(&c, &m->code))
			return "cut off";
		if (!code_ok(m->code))
			return "an error code out of range";
		if ((why = get_text(&c, m->url)) != NULL || (why = get_text(&c, m->message)) != NULL)
			return why;
		break;
	case PSM_DATA:
		if (d->len == 0)
			return "empty";
		m->data = d->payload;
		m->data_len = d->len;
		c.at = d->len;
		break;
	default:
		return "an unknown type"; /* the header check stops these first */
	}
	if (c.at != c.len)
		return "bytes after its last field";
	return NULL;
}

static int refuse(psm_decoder *d, int code, const char *why)
{
	d->failed = true;
	return pawl_error_set(code, "fetcher message %llu (%s, at byte %llu): %s",
			      (unsigned long long)d->frames + 1, psm_type_name(d->head[0]),
			      (unsigned long long)d->frame_at, why);
}

/* The header is complete: check it before taking any payload. */
static int check_header(psm_decoder *d)
{
	size_t max = type_max(d->head[0]);
	uint64_t left = d->max_total - d->offset;

	d->type = d->head[0];
	d->len = ((uint32_t)d->head[1] << 24) | ((uint32_t)d->head[2] << 16) |
		 ((uint32_t)d->head[3] << 8) | d->head[4];
	if (max == 0) {
		d->failed = true;
		return pawl_error_set(PAWL_E_FORMAT, "fetcher message %llu (at byte %llu): unknown "
				      "type %u", (unsigned long long)d->frames + 1,
				      (unsigned long long)d->frame_at, d->type);
	}
	if (d->len > max) {
		char why[96];

		snprintf(why, sizeof(why), "%lu bytes, more than the %zu a %s message may hold",
			 (unsigned long)d->len, max, psm_type_name(d->type));
		return refuse(d, PAWL_E_LIMIT, why);
	}
	if (d->len > left)
		return refuse(d, PAWL_E_LIMIT, "more than the fetcher may send in one run");
	d->in_payload = true;
	d->have = 0;
	return 0;
}

int psm_decoder_feed(psm_decoder *d, const void *buf, size_t len, psm_msg_cb cb, void *ctx)
{
	const uint8_t *p = buf;

	if (d->failed)
		return pawl_error_set(PAWL_E_FORMAT, "the fetcher's messages were already refused");
	while (len > 0) {
		size_t n;

		if (!d->in_payload) {
			if (d->head_have == 0) {
				d->frame_at = d->offset;
				if (d->offset >= d->max_total) {
					d->failed = true;
					return pawl_error_set(PAWL_E_LIMIT, "the fetcher sent more "
							      "than %llu bytes",
							      (unsigned long long)d->max_total);
				}
			}
			n = PSM_HEADER_LEN - d->head_have;
			if (n > len)
				n = len;
			if (d->max_total - d->offset < n) {
				d->failed = true;
				return pawl_error_set(PAWL_E_LIMIT, "the fetcher sent more than %llu "
						      "bytes", (unsigned long long)d->max_total);
			}
			memcpy(d->head + d->head_have, p, n);
			d->head_have += n;
			d->offset += n;
			p += n;
			len -= n;
			if (d->head_have < PSM_HEADER_LEN)
				continue;
			GUARD(check_header(d));
		} else {
			n = d->len - d->have;
			if (n > len)
				n = len;
			memcpy(d->payload + d->have, p, n);
			d->have += n;
			d->offset += n;
			p += n;
			len -= n;
		}
		if (d->in_payload && d->have == d->len) {
			const char *why = decode_payload(d);
			int r;

			if (why)
				return refuse(d, PAWL_E_FORMAT, why);
			d->in_payload = false;
			d->head_have = 0;
			d->frames++;
			if (cb && (r = cb(&d->msg, ctx)) < 0) {
				d->failed = true;
				return r;
			}
		}
	}
	return 0;
}

int psm_decoder_finish(psm_decoder *d)
{
	if (d->failed)
		return pawl_error_set(PAWL_E_FORMAT, "the fetcher's messages were already refused");
	if (d->head_have > 0 || d->in_payload) {
		d->failed = true;
		return pawl_error_set(PAWL_E_FORMAT, "fetcher message %llu (at byte %llu): the "
				      "stream ends inside it", (unsigned long long)d->frames + 1,
				      (unsigned long long)d->frame_at);
	}
	return 0;
}

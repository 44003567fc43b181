/*
 * privsep_msg.h - what the unprivileged fetcher may say to the root side
 * of the agent (privsep.c), and the bounded reader the root side hears it
 * through.
 *
 * The fetcher may be compromised, so every byte of this stream is hostile.
 * The format is binary, typed and length-prefixed; nothing in it is found
 * by scanning for a delimiter, and no number is parsed from text:
 *
 *   frame  = type:u8  length:u32be  payload[length]
 *   code   = i32be    a pawl_err, PSM_CODE_MIN ... -1
 *   text   = length:u16be  bytes[length]
 *            at most PSM_TEXT_MAX bytes of UTF-8 (shortest form, no
 *            surrogates), without any control character (C0, DEL, C1):
 *            it ends up on a terminal and in the audit log
 *
 *   PSM_OUTCOME   kind:u8  code  text:message
 *                 how the fetcher's run ended. kind PSM_NONE (nothing to
 *                 fetch) and PSM_OK (fetched) carry code 0 and an empty
 *                 message; PSM_ERROR carries a code in range and a
 *                 message.
 *   PSM_REJECTED  code  text:url  text:message
 *                 a file the fetcher's client rejected (for the audit log).
 *   PSM_DATA      1 ... PSM_DATA_MAX raw bytes
 *                 a piece of a stream the fetcher hands over: in slot mode
 *                 the image's index and pack (privsep_stream_*, privsep.h),
 *                 which the slot installer verifies piece by piece; refused
 *                 in every other run (privsep_run).
 *
 * A payload must be exactly as long as its fields: nothing may follow the
 * last one. Each type has its own maximum length, checked from the frame
 * header before a byte of the payload is buffered, and a decoder takes at
 * most max_total bytes in all.
 *
 * The decoder is incremental: the stream may arrive in any chunks (one
 * byte at a time included). The first malformed byte is an error
 * (PAWL_E_FORMAT; PAWL_E_LIMIT for a size limit) whose message names the
 * frame and its offset, and the decoder then refuses everything after it.
 * What a well-formed stream means (one outcome, last) is for the caller,
 * privsep.c, to judge.
 */
#ifndef PAWL_PRIVSEP_MSG_H
#define PAWL_PRIVSEP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pawl/common.h"

typedef enum psm_type {
	PSM_OUTCOME = 1,
	PSM_REJECTED = 2,
	PSM_DATA = 3,
} psm_type;

typedef enum psm_outcome {
	PSM_NONE = 0,  /* no release to fetch (or a refresh only) */
	PSM_OK = 1,    /* the release is in the fetcher's mirror */
	PSM_ERROR = 2, /* failed: code and message say why */
} psm_outcome;

#define PSM_HEADER_LEN 5
#define PSM_TEXT_MAX 2048
#define PSM_DATA_MAX ((size_t)64 * 1024)
/* The lowest (most negative) pawl_err. */
#define PSM_CODE_MIN PAWL_E_KEY

#define PSM_OUTCOME_MAX (1 + 4 + 2 + PSM_TEXT_MAX)
#define PSM_REJECTED_MAX (4 + 2 + PSM_TEXT_MAX + 2 + PSM_TEXT_MAX)
/* The longest frame of any type, header included: what an encoder's
 * buffer needs. */
#define PSM_FRAME_MAX (PSM_HEADER_LEN + PSM_DATA_MAX)

/* One decoded frame. Texts are NUL-terminated copies; data points into the
 * decoder. Everything is valid only during the callback. */
typedef struct psm_msg {
	psm_type type;
	psm_outcome outcome; /* PSM_OUTCOME */
	int code;            /* PSM_OUTCOME (0 unless PSM_ERROR), PSM_REJECTED */
	char url[PSM_TEXT_MAX + 1];     /* PSM_REJECTED */
	char message[PSM_TEXT_MAX + 1]; /* PSM_OUTCOME, PSM_REJECTED */
	const uint8_t *data; /* PSM_DATA */
	size_t data_len;
} psm_msg;

/* ---- the fetcher's side ---- */

/* Encode one frame into out (cap bytes) and set *ret_len. Texts are made
 * to fit the format: cut to PSM_TEXT_MAX bytes at a character boundary,
 * tab and line breaks turned into spaces, other control characters and
 * bytes that are not UTF-8 into '?'. NULL is the empty text. An error
 * code out of range is sent as PAWL_E_GENERIC. PAWL_E_INVALID when cap is
 * too small, the outcome kind unknown, or data empty or too long. */
PAWL_MUST_USE int psm_encode_outcome(uint8_t *out, size_t cap, size_t *ret_len, psm_outcome kind,
				     int code, const char *message);
PAWL_MUST_USE int psm_encode_rejected(uint8_t *out, size_t cap, size_t *ret_len, int code,
				      const char *url, const char *message);
PAWL_MUST_USE int psm_encode_data(uint8_t *out, size_t cap, size_t *ret_len, const void *data,
				  size_t len);

/* Write one encoded frame to fd, all of it (PAWL_E_IO otherwise). */
PAWL_MUST_USE int psm_write(int fd, const uint8_t *frame, size_t len);

/* ---- the root side's reader ---- */

typedef struct psm_decoder psm_decoder;

/* Called once per well-formed frame, in order. A negative return stops
 * the decoder with that code (the callback sets the message). */
typedef int (*psm_msg_cb)(const psm_msg *msg, void *ctx);

/* A decoder that accepts at most max_total bytes of stream (frame headers
 * included). */
PAWL_MUST_USE int psm_decoder_new(psm_decoder **ret, uint64_t max_total);
void psm_decoder_free(psm_decoder *d);

/* Take the next len bytes of the stream, calling cb for each frame they
 * complete. 0, or the first error; after an error every call fails. */
PAWL_MUST_USE int psm_decoder_feed(psm_decoder *d, const void *buf, size_t len, psm_msg_cb cb,
				   void *ctx);

/* The end of the stream: an error when it ends inside a frame (or the
 * decoder had failed). */
PAWL_MUST_USE int psm_decoder_finish(psm_decoder *d);

/* Bytes taken and frames completed so far. */
uint64_t psm_decoder_offset(const psm_decoder *d);
uint64_t psm_decoder_frames(const psm_decoder *d);

/* The name of a frame type, for messages: "outcome", ... or "unknown". */
const char *psm_type_name(unsigned type);

#endif

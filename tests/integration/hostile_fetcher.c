/*
 * hostile_fetcher.c - test only: a compromised fetcher inside the real
 * agent. pawl_hostile is pawl's own objects linked with
 * -Wl,--wrap=psm_write, so every message the unprivileged child sends
 * passes through __wrap_psm_write() below. The child does its real work
 * first, as the fetcher account (refresh, choose, download into its
 * mirror); then, when it sends its outcome, PAWL_HOSTILE=MODE makes it lie
 * to the root side or break the protocol instead of telling the truth.
 * Without PAWL_HOSTILE it is pawl. Never installed, never in pawl itself.
 *
 * Modes (each aimed at the outcome frame; other frames pass unchanged):
 *   silent       send no outcome, exit 0
 *   ok-exit1     send the true outcome, then exit 1
 *   error-exit0  say "error" (a hash failure), exit 0
 *   twice        the outcome twice
 *   truncated    all of the outcome but its last byte, exit 0
 *   trailing     the outcome, then a frame of an unknown type
 *   data         a DATA frame (not taken in folder mode), then the outcome
 *   badcode      an error outcome with code -99
 *   escape       an error outcome whose message holds a terminal escape
 *   oversize     a header announcing 4 GiB, then the outcome
 *   forged       a well-formed "rejected" record naming FORGED-RECORD, then
 *                the outcome, then garbage: the record must not be logged
 *   flood        "rejected" records past the run's limit, then the outcome
 *   record       a well-formed "rejected" record naming FORGED-RECORD, then
 *                the true outcome: a well-formed stream, taken (the control)
 *
 * PAWL_HOSTILE_DATA=MODE aims at the DATA frames of slot mode's streaming
 * run (the image's index and pack; other frames pass unchanged):
 *   stall        send nothing more from the first DATA frame on, and hang
 *                (the root side's deadline must end it)
 *   flip         flip one byte of the first DATA frame's payload: a piece
 *                that is not the signed one (the installer must refuse it)
 *   garbage      after the first DATA frame, a frame of an unknown type
 *                (the root side must kill the fetcher and stop)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privsep_msg.h"

int __real_psm_write(int fd, const uint8_t *frame, size_t len);
int __wrap_psm_write(int fd, const uint8_t *frame, size_t len);

static uint8_t buf[PSM_FRAME_MAX];

static void raw(int fd, const void *p, size_t n)
{
	if (__real_psm_write(fd, p, n) != 0)
		_exit(3);
}

static void rejected(int fd, const char *url)
{
	size_t n;

	if (psm_encode_rejected(buf, sizeof(buf), &n, PAWL_E_SIGNATURE, url,
				"a record the fetcher made up") != 0)
		_exit(3);
	raw(fd, buf, n);
}

static int hostile_data(int fd, const uint8_t *frame, size_t len, const char *mode)
{
	static int seen;

	if (seen++)
		return __real_psm_write(fd, frame, len);
	if (strcmp(mode, "stall") == 0) {
		for (;;)
			pause();
	}
	if (strcmp(mode, "flip") == 0) {
		memcpy(buf, frame, len);
		buf[len - 1] ^= 1;
		return __real_psm_write(fd, buf, len);
	}
	if (strcmp(mode, "garbage") == 0) {
		static const uint8_t junk[] = { 9, 0, 0, 0, 1, 'x' };

		raw(fd, frame, len);
		raw(fd, junk, sizeof(junk));
		return 0;
	}
	_exit(4);
}

int __wrap_psm_write(int fd, const uint8_t *frame, size_t len)
{
	const char *mode = getenv("PAWL_HOSTILE");
	const char *dmode = getenv("PAWL_HOSTILE_DATA");
	size_t n;

	if (dmode && len > PSM_HEADER_LEN && frame[0] == PSM_DATA)
		return hostile_data(fd, frame, len, dmode);

	if (!mode || len < 1 || frame[0] != PSM_OUTCOME)
		return __real_psm_write(fd, frame, len);
	if (strcmp(mode, "silent") == 0)
		return 0;
	if (strcmp(mode, "ok-exit1") == 0) {
		raw(fd, frame, len);
		_exit(1);
	}
	if (strcmp(mode, "error-exit0") == 0) {
		if (psm_encode_outcome(buf, sizeof(buf), &n, PSM_ERROR, PAWL_E_HASH,
				       "made up") != 0)
			_exit(3);
		raw(fd, buf, n);
		return 0;
	}
	if (strcmp(mode, "twice") == 0) {
		raw(fd, frame, len);
		raw(fd, frame, len);
		return 0;
	}
	if (strcmp(mode, "truncated") == 0) {
		raw(fd, frame, len - 1);
		return 0;
	}
	if (strcmp(mode, "trailing") == 0) {
		static const uint8_t junk[] = { 0x7f, 0, 0, 0, 1, 'x' };

		raw(fd, frame, len);
		raw(fd, junk, sizeof(junk));
		return 0;
	}
	if (strcmp(mode, "data") == 0) {
		if (psm_encode_data(buf, sizeof(buf), &n, "piece", 5) != 0)
			_exit(3);
		raw(fd, buf, n);
		raw(fd, frame, len);
		return 0;
	}
	if (strcmp(mode, "badcode") == 0) {
		static const uint8_t f[] = { PSM_OUTCOME, 0, 0, 0, 8, PSM_ERROR,
					     0xff, 0xff, 0xff, 0x9d, 0, 1, 'x' };

		raw(fd, f, sizeof(f));
		return 0;
	}
	if (strcmp(mode, "escape") == 0) {
		static const uint8_t f[] = { PSM_OUTCOME, 0, 0, 0, 17, PSM_ERROR,
					     0xff, 0xff, 0xff, 0xfc, 0, 10,
					     0x1b, ']', '0', ';', 'p', 'w', 'n', 0x07, 0x1b, 'c' };

		raw(fd, f, sizeof(f));
		return 0;
	}
	if (strcmp(mode, "oversize") == 0) {
		static const uint8_t h[] = { PSM_DATA, 0xff, 0xff, 0xff, 0xff };

		raw(fd, h, sizeof(h));
		raw(fd, frame, len);
		return 0;
	}
	if (strcmp(mode, "forged") == 0) {
		static const uint8_t junk[] = { 0 };

		rejected(fd, "http://FORGED-RECORD/");
		raw(fd, frame, len);
		raw(fd, junk, sizeof(junk));
		return 0;
	}
	if (strcmp(mode, "flood") == 0) {
		/* The root side stops hearing, and kills the child, at the
		 * limit: a write may then fail, which ends the child too. */
		for (int i = 0; i < 20000; i++)
			rejected(fd, "http://flood/");
		raw(fd, frame, len);
		return 0;
	}
	if (strcmp(mode, "record") == 0) {
		rejected(fd, "http://FORGED-RECORD/");
		return __real_psm_write(fd, frame, len);
	}
	_exit(4); /* an unknown mode: a test bug, seen as a failed fetcher */
}

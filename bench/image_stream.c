/*
 * image_stream.c - stream an image pack into a slot through libpawl's
 * piece decoder and slot writer, the way the agent's privileged side will:
 * the index is read whole and parsed, the slot opened, and the pack fed
 * to the decoder in the chunks a pipe delivers (64 KiB reads).
 *
 *   image_stream INDEX PACK|- SLOT [--booted PATH] [--chunk BYTES]
 *
 * For bench/image.sh (throughput and peak RSS) and
 * tests/integration/test_image_repo.sh (pawl-repo's real output decodes;
 * a tampered pack does not). Not installed. Exit 0 when the slot holds
 * the verified image, 1 otherwise, with libpawl's message.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "store/store.h"

static int die(const char *what)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "image_stream: %s: %s: %s\n", what, pawl_strerror(e->code), e->message);
	return 1;
}

int main(int argc, char **argv)
{
	const char *booted = NULL;
	size_t chunk = 65536, len;
	char *idxbytes = NULL;
	image_index *idx = NULL;
	image_slot *slot = NULL;
	image_decoder *d = NULL;
	struct timespec t0, t1;
	uint8_t *buf;
	int fd, rc = 1;
	double secs;

	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--booted") == 0 && i + 1 < argc) {
			booted = argv[++i];
		} else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
			chunk = strtoul(argv[++i], NULL, 10);
			if (chunk == 0 || chunk > (64u << 20))
				chunk = 65536;
		} else {
			argc = 0;
		}
	}
	if (argc < 4) {
		fprintf(stderr, "usage: image_stream INDEX PACK|- SLOT [--booted PATH] [--chunk N]\n");
		return 2;
	}
	buf = malloc(chunk);
	if (!buf)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (file_read_all(argv[1], 64u << 20, &idxbytes, &len) < 0)
		return die(argv[1]);
	if (image_index_parse(&idx, idxbytes, len, NULL) < 0) {
		rc = die(argv[1]);
		goto out;
	}
	if (image_slot_open(&slot, argv[3], idx, booted) < 0 ||
	    image_decoder_new(&d, idx, image_slot_sink(slot)) < 0) {
		rc = die(argv[3]);
		goto out;
	}
	fd = strcmp(argv[2], "-") == 0 ? 0 : open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "image_stream: %s: %s\n", argv[2], strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "image_stream: %s: %s\n", argv[2], strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (image_decoder_push(d, buf, (size_t)n) < 0) {
			rc = die(argv[2]);
			goto out;
		}
	}
	if (image_decoder_finish(d) < 0) {
		rc = die(argv[2]);
		goto out;
	}
	if (image_slot_finish(slot) < 0) {
		rc = die(argv[3]);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("image_stream: %" PRIu64 " image bytes from %" PRIu64 " pack bytes in %" PRIu32
	       " pieces, %.3f s, %.1f MB/s of image\n",
	       image_decoder_image_bytes(d), image_decoder_pack_bytes(d), idx->npieces, secs,
	       (double)image_decoder_image_bytes(d) / secs / 1e6);
	rc = 0;
out:
	image_decoder_free(d);
	image_slot_free(slot);
	image_index_free(idx);
	free(idxbytes);
	free(buf);
	return rc;
}

/*
 * slot_install.c - install an image release into a file-backed slot
 * through the whole slot installer (src/lib/slot: open, forward-only
 * decision, index and pack checked against their hashes, decoder, slot
 * writer, fsync, read-back, switch), with the fake bootloader. For
 * measuring what the installer adds to the decoder (bench/image_stream),
 * the read-back above all.
 *
 *   slot_install INDEX PACK DIR [--no-readback]
 *
 * DIR must hold slot-a and slot-b (regular files, root's, at least as large
 * as the image); DIR/state is the state directory (removed first, so
 * every run installs). The stream is INDEX then PACK, read in 64 KiB
 * chunks as from the fetcher's pipe. The signed hashes are computed here
 * from the files, as the publisher would have signed them. Prints the
 * wall time of slot_install(). Not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "crypto/crypto.h"
#include "image/image.h"
#include "slot/slot.h"
#include "store/store.h"

static int die(const char *what)
{
	const pawl_error *e = pawl_error_last();

	fprintf(stderr, "slot_install: %s: %s: %s\n", what, pawl_strerror(e->code), e->message);
	return 1;
}

struct two {
	int fd[2];
	int cur;
};

static int two_read(void *ctx, void *buf, size_t cap, size_t *ret_n)
{
	struct two *t = ctx;

	while (t->cur < 2) {
		ssize_t k = read(t->fd[t->cur], buf, cap);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return pawl_error_set_errno(PAWL_E_IO, errno, "read");
		if (k > 0) {
			*ret_n = (size_t)k;
			return 0;
		}
		t->cur++;
	}
	*ret_n = 0;
	return 0;
}

/* {"sha256": hex} of a whole file, and its length. */
static int hashes_of(const char *path, pj_doc **ret, uint64_t *len)
{
	uint8_t d[HASH_MAX_LEN], buf[65536];
	char hex[65];
	hash_ctx *h = NULL;
	pj_value *slot;
	pj_doc *doc = NULL;
	uint64_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || hash_new(&h, HASH_SHA256) < 0)
		return -1;
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));

		if (k <= 0)
			break;
		n += (uint64_t)k;
		if (hash_update(h, buf, (size_t)k) < 0)
			return -1;
	}
	close(fd);
	if (hash_final(h, d) < 0)
		return -1;
	hash_free(h);
	hex_encode(hex, d, 32);
	if (pj_doc_new(&doc) < 0 || pj_set_object(doc, pj_root(doc)) < 0 ||
	    pj_obj_put(doc, pj_root(doc), "sha256", 6, &slot) < 0 || pj_set_cstr(doc, slot, hex) < 0)
		return -1;
	*ret = doc;
	*len = n;
	return 0;
}

int main(int argc, char **argv)
{
	char a[4096], b[4096], state[4096], sha[65];
	pj_doc *ih = NULL, *ph = NULL;
	char *idxbytes = NULL;
	size_t ilen;
	image_index *idx = NULL;
	boot_backend *boot = NULL;
	slot_opts o = SLOT_OPTS_INIT;
	slot_release rel;
	slot_result res;
	slot_ctx *s = NULL;
	struct two t;
	struct timespec t0, t1;
	uint64_t il, pl;

	if (argc < 4 || (argc == 5 && strcmp(argv[4], "--no-readback") != 0) || argc > 5) {
		fprintf(stderr, "usage: slot_install INDEX PACK DIR [--no-readback]\n");
		return 2;
	}
	snprintf(a, sizeof(a), "%s/slot-a", argv[3]);
	snprintf(b, sizeof(b), "%s/slot-b", argv[3]);
	snprintf(state, sizeof(state), "%s/state", argv[3]);
	if (file_read_all(argv[1], (size_t)SLOT_INDEX_MAX, &idxbytes, &ilen) < 0 ||
	    image_index_parse(&idx, idxbytes, ilen, NULL) < 0)
		return die(argv[1]);
	hex_encode(sha, idx->sha256, 32);
	if (hashes_of(argv[1], &ih, &il) < 0 || hashes_of(argv[2], &ph, &pl) < 0)
		return die("hashing");
	{
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
		if (system(cmd) != 0)
			return 1;
	}
	if (boot_fake_new(&boot) < 0)
		return die("boot");
	o.state_dir = state;
	o.slot_a = a;
	o.slot_b = b;
	o.boot = boot;
	o.booted = BOOT_SLOT_A;
	o.skip_readback = argc == 5;
	if (slot_open(&s, &o) < 0)
		return die("open");
	t.fd[0] = open(argv[1], O_RDONLY | O_CLOEXEC);
	t.fd[1] = open(argv[2], O_RDONLY | O_CLOEXEC);
	t.cur = 0;
	memset(&rel, 0, sizeof(rel));
	rel.version = "1.0.0";
	rel.index_length = il;
	rel.index_hashes = pj_root(ih);
	rel.pack_name = idx->packs[0].name;
	rel.pack_length = pl;
	rel.pack_hashes = pj_root(ph);
	rel.image_length = idx->length;
	rel.image_sha256 = sha;
	rel.fd = -1;
	rel.read = two_read;
	rel.read_ctx = &t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (slot_install(s, &rel, &res) < 0)
		return die("install");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s %.3f s (%s, %" PRIu64 " image bytes)\n", slot_outcome_name(res.outcome),
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       o.skip_readback ? "no read-back" : "with read-back", res.image_bytes);
	slot_close(s);
	boot_free(boot);
	image_index_free(idx);
	pj_doc_free(ih);
	pj_doc_free(ph);
	free(idxbytes);
	return 0;
}

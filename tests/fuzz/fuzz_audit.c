/*
 * fuzz_audit.c - the audit log's readers on arbitrary bytes: the
 * verifier (without a head, with one, with an anchor), the iterator (with
 * and without a since filter), the writers' tail reader and the head
 * parser.
 *
 * Input: log bytes, optionally followed by a NUL and the head file's
 * bytes (the last NUL splits them). The log goes into a memfd, so the
 * same descriptor-level code runs as on a real file.
 *
 * Besides not crashing, the readers must agree. When the verifier finds a
 * log intact:
 *  - the iterator returns exactly its entries, seq 0 to n-1, and no error;
 *  - the tail reader sees an undamaged log ending at the same entry, with
 *    the same hash and log id and nothing torn;
 *  - verifying against its own last entry as an anchor succeeds.
 * Any disagreement aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit/audit_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_with(const uint8_t *p, size_t n)
{
	int fd = memfd_create("audit", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			abort();
		p += w;
		n -= (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

static int verify(int fd, const char *head, size_t head_len, bool check_head,
		  const audit_head *anchor, audit_report *rep)
{
	audit_verify_in in;
	int r;

	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	memset(&in, 0, sizeof(in));
	in.log_fd = fd;
	in.log_name = "fuzz.log";
	in.check_head = check_head;
	in.head = head;
	in.head_len = head_len;
	in.head_name = "fuzz.head";
	in.anchor = anchor;
	in.locked = true;
	r = audit_verify_fd(&in, rep);
	/* Only these three outcomes fill the report; nothing else may
	 * come out of bytes (no I/O errors on a memfd). */
	if (r != 0 && r != PAWL_E_FORMAT && r != PAWL_E_HASH && r != PAWL_E_NOMEM)
		abort();
	if ((r == 0) != (rep->problem == AUDIT_OK) && r != PAWL_E_NOMEM)
		abort();
	return r;
}

static void check_iter(int fd, const audit_report *rep, int64_t since)
{
	audit_iter *it = NULL;
	const audit_entry *e;
	uint64_t n = 0;
	int dup_fd = dup(fd);

	if (dup_fd < 0 || lseek(dup_fd, 0, SEEK_SET) != 0)
		abort();
	if (audit_iter_from_fd(&it, dup_fd, "fuzz.log", since) != 0)
		abort();
	for (;;) {
		if (audit_iter_next(it, &e) != 0)
			abort();
		if (!e)
			break;
		if (since == AUDIT_SINCE_ALL && e->seq != n)
			abort();
		if (e->time < since)
			abort();
		n++;
	}
	if (since == AUDIT_SINCE_ALL && n != rep->entries)
		abort();
	audit_iter_free(it);
}

/* The iterator on a log that is not intact: it may fail, but not crash,
 * and not return more entries than there are lines. */
static void drain_iter(int fd, int64_t since)
{
	audit_iter *it = NULL;
	const audit_entry *e;
	int dup_fd = dup(fd);

	if (dup_fd < 0 || lseek(dup_fd, 0, SEEK_SET) != 0)
		abort();
	if (audit_iter_from_fd(&it, dup_fd, "fuzz.log", since) != 0)
		return;
	while (audit_iter_next(it, &e) == 0 && e)
		;
	audit_iter_free(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = size ? memrchr(data, '\0', size) : NULL;
	size_t log_len = sep ? (size_t)(sep - data) : size;
	const char *head = sep ? (const char *)sep + 1 : NULL;
	size_t head_len = sep ? size - log_len - 1 : 0;
	audit_report rep, rep2;
	audit_tail tail;
	audit_head h;
	int fd = memfd_with(data, log_len);
	int r;

	if (audit_head_parse(&h, head ? head : "", head_len) == 0 && !audit_hex_valid(h.hash, 64))
		abort();

	/* The chain alone. */
	r = verify(fd, NULL, 0, false, NULL, &rep);
	if (audit_tail_read(fd, "fuzz.log", &tail) != 0)
		abort();
	if (r == 0) {
		check_iter(fd, &rep, AUDIT_SINCE_ALL);
		check_iter(fd, &rep, 1767225600); /* 2026-01-01 */
		if (rep.entries > 0) {
			audit_head self;

			if (tail.damaged || tail.empty || tail.torn || tail.seq != rep.last_seq ||
			    strcmp(tail.hash, rep.last_hash) != 0 || strcmp(tail.log, rep.log) != 0)
				abort();
			memset(&self, 0, sizeof(self));
			self.seq = rep.last_seq;
			memcpy(self.hash, rep.last_hash, 65);
			memcpy(self.log, rep.log, 33);
			if (verify(fd, NULL, 0, false, &self, &rep2) != 0)
				abort();
			/* And as a head file: the log must then verify with it. */
			{
				pawl_buf b = PAWL_BUF_INIT(4096);

				if (audit_head_encode(&b, &self) != 0)
					abort();
				if (verify(fd, b.data, b.len, true, NULL, &rep2) != 0)
					abort();
				buf_free(&b);
			}
		}
	} else {
		drain_iter(fd, AUDIT_SINCE_ALL);
	}

	/* With the head from the input (or none: missing). */
	r = verify(fd, head, head_len, true, NULL, &rep2);
	if (r == 0 && rep.problem != AUDIT_OK)
		abort(); /* a head can only add problems */

	close(fd);
	return 0;
}

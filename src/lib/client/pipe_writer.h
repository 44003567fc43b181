/*
 * pipe_writer.h - hash and write a large download on two more threads, so
 * that receiving, hashing and writing overlap.
 *
 * The receiving thread copies each piece into one of a few fixed buffers
 * and hands full buffers over. A hashing thread feeds them, in order,
 * through the download's hash set; a writing thread appends them, in
 * order, with staged_write(). A buffer is reused once both are done with
 * it, so memory stays at PW_BUFFERS x PW_BUFFER_SIZE whatever the
 * target's size, and every byte is hashed exactly as it is written.
 *
 * The hash set belongs to the pipeline from pw_start() until pw_finish()
 * returns; only then may the caller finalise it. An error on either
 * thread stops the pipeline; it is reported by pw_put() or pw_finish(),
 * with that thread's message.
 */
#ifndef PAWL_PIPE_WRITER_H
#define PAWL_PIPE_WRITER_H

#include <stddef.h>

#include "metadata/metadata.h"
#include "store/store.h"

typedef struct pipe_writer pipe_writer;

/* hs may be NULL: then the pipeline only writes. */
PAWL_MUST_USE int pw_start(pipe_writer **ret, pawl_staged *st, md_hashset *hs);
/* Queue n bytes (copied). */
PAWL_MUST_USE int pw_put(pipe_writer *w, const void *p, size_t n);
/* Hash and write what is queued, stop the threads, free; the first error
 * if any. Accepts NULL (returns 0). */
PAWL_MUST_USE int pw_finish(pipe_writer *w);

#endif

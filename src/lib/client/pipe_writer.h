/*
 * pipe_writer.h - write a large download to its staging file on a second
 * thread, so that hashing (on the receiving thread) and writing overlap.
 *
 * The receiving thread copies each piece into one of a few fixed buffers
 * and hands full buffers over; the writer thread appends them, in order,
 * with staged_write(). Memory stays at PW_BUFFERS x PW_BUFFER_SIZE
 * whatever the target's size. A write error stops the pipeline; it is
 * reported by pw_put() or pw_finish(), with the writer's message.
 */
#ifndef PAWL_PIPE_WRITER_H
#define PAWL_PIPE_WRITER_H

#include <stddef.h>

#include "store/store.h"

typedef struct pipe_writer pipe_writer;

PAWL_MUST_USE int pw_start(pipe_writer **ret, pawl_staged *st);
/* Queue n bytes (copied). */
PAWL_MUST_USE int pw_put(pipe_writer *w, const void *p, size_t n);
/* Write what is queued, stop the thread, free; the first error if any.
 * Accepts NULL (returns 0). */
PAWL_MUST_USE int pw_finish(pipe_writer *w);

#endif

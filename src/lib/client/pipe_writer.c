/*
 * pipe_writer.c - see pipe_writer.h.
 *
 * Buffers are numbered by sequence: the producer has handed over
 * `produced` of them, the hasher has finished `done[PW_HASH]`, the writer
 * `done[PW_WRITE]`. Buffer number s lives in slot s % PW_BUFFERS, so the
 * producer may fill slot produced % PW_BUFFERS only while fewer than
 * PW_BUFFERS handed-over buffers are unfinished by the slower consumer.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/pipe_writer.h"

#define PW_BUFFERS 6
#define PW_BUFFER_SIZE ((size_t)512 << 10)

enum { PW_HASH, PW_WRITE, PW_STAGES };

struct pipe_writer;

struct pw_stage {
	struct pipe_writer *w;
	int which;
	bool running;
	pthread_t thread;
};

struct pipe_writer {
	pawl_staged *st;
	md_hashset *hs;
	struct pw_stage stage[PW_STAGES];
	pthread_mutex_t mu;
	pthread_cond_t work;  /* consumers wait here for buffers */
	pthread_cond_t space; /* the producer waits here for a free slot */
	char *buf[PW_BUFFERS];
	size_t len[PW_BUFFERS];
	uint64_t produced;
	uint64_t done[PW_STAGES];
	size_t fill_len; /* bytes in the slot being filled (producer only) */
	bool closing;
	int err;        /* first error on any thread (0: none) */
	char msg[1024]; /* its message: error state is per thread */
};

static int run_stage(struct pipe_writer *w, int which, const char *p, size_t n)
{
	if (which == PW_HASH)
		return md_hashset_update(w->hs, p, n);
	return staged_write(w->st, p, n);
}

static void *stage_main(void *arg)
{
	struct pw_stage *s = arg;
	struct pipe_writer *w = s->w;
	uint64_t *done = &w->done[s->which];

	pthread_mutex_lock(&w->mu);
	for (;;) {
		unsigned i;
		int r = 0;

		while (*done == w->produced && !w->closing)
			pthread_cond_wait(&w->work, &w->mu);
		if (*done == w->produced)
			break;
		i = (unsigned)(*done % PW_BUFFERS);
		if (!w->err) {
			pthread_mutex_unlock(&w->mu);
			r = run_stage(w, s->which, w->buf[i], w->len[i]);
			pthread_mutex_lock(&w->mu);
		}
		if (r < 0 && !w->err) {
			w->err = r;
			snprintf(w->msg, sizeof(w->msg), "%s", pawl_error_last()->message);
		}
		(*done)++;
		pthread_cond_signal(&w->space);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static uint64_t slowest(const struct pipe_writer *w)
{
	uint64_t m = w->done[0];

	for (int k = 1; k < PW_STAGES; k++)
		if (w->done[k] < m)
			m = w->done[k];
	return m;
}

/* Stop the threads, after they finish what is queued. */
static void pw_stop(struct pipe_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->closing = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (int k = 0; k < PW_STAGES; k++)
		if (w->stage[k].running) {
			pthread_join(w->stage[k].thread, NULL);
			w->stage[k].running = false;
		}
}

static void pw_free(struct pipe_writer *w)
{
	pw_stop(w);
	for (unsigned i = 0; i < PW_BUFFERS; i++)
		free(w->buf[i]);
	pthread_cond_destroy(&w->space);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int pw_start(pipe_writer **ret, pawl_staged *st, md_hashset *hs)
{
	struct pipe_writer *w = xcalloc(1, sizeof(*w));

	if (!w)
		return PAWL_E_NOMEM;
	w->st = st;
	w->hs = hs;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->space, NULL);
	for (unsigned i = 0; i < PW_BUFFERS; i++) {
		w->buf[i] = xmalloc(PW_BUFFER_SIZE);
		if (!w->buf[i]) {
			pw_free(w);
			return PAWL_E_NOMEM;
		}
	}
	for (int k = 0; k < PW_STAGES; k++) {
		struct pw_stage *s = &w->stage[k];

		s->w = w;
		s->which = k;
		if (k == PW_HASH && !hs) {
			/* Nothing to hash: this stage is always caught up. */
			w->done[k] = UINT64_MAX;
			continue;
		}
		if (pthread_create(&s->thread, NULL, stage_main, s) != 0) {
			pw_free(w);
			return pawl_error_set(PAWL_E_GENERIC, "cannot start the download threads");
		}
		s->running = true;
	}
	*ret = w;
	return 0;
}

/* Hand the filled slot over; wait until the next one is free. */
static void hand_over(struct pipe_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->len[w->produced % PW_BUFFERS] = w->fill_len;
	w->produced++;
	w->fill_len = 0;
	pthread_cond_broadcast(&w->work);
	while (w->produced - slowest(w) >= PW_BUFFERS && !w->err)
		pthread_cond_wait(&w->space, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

int pw_put(pipe_writer *w, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		size_t room = PW_BUFFER_SIZE - w->fill_len;
		size_t k = n < room ? n : room;
		int err;

		pthread_mutex_lock(&w->mu);
		err = w->err;
		pthread_mutex_unlock(&w->mu);
		if (err)
			return pawl_error_set(err, "%s", w->msg);
		memcpy(w->buf[w->produced % PW_BUFFERS] + w->fill_len, s, k);
		w->fill_len += k;
		s += k;
		n -= k;
		if (w->fill_len == PW_BUFFER_SIZE)
			hand_over(w);
	}
	return 0;
}

int pw_finish(pipe_writer *w)
{
	int err;

	if (!w)
		return 0;
	if (w->fill_len > 0) {
		pthread_mutex_lock(&w->mu);
		if (!w->err) {
			w->len[w->produced % PW_BUFFERS] = w->fill_len;
			w->produced++;
		}
		pthread_mutex_unlock(&w->mu);
	}
	pw_stop(w); /* both stages finish the queue first */
	err = w->err;
	if (err)
		pawl_error_set(err, "%s", w->msg);
	pw_free(w);
	return err;
}

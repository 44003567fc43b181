/*
 * pipe_writer.c - see pipe_writer.h.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client/pipe_writer.h"

#define PW_BUFFERS 4
#define PW_BUFFER_SIZE ((size_t)512 << 10)

struct pipe_writer {
	pawl_staged *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf[PW_BUFFERS];
	size_t len[PW_BUFFERS];
	/* Buffers are used round-robin: [head, head + queued) are full and
	 * waiting for the writer; fill is the one being filled. */
	unsigned head, queued, fill;
	bool closing;
	int err;          /* first write error (0: none) */
	char msg[1024];   /* its message: error state is per thread */
};

static void *writer_main(void *arg)
{
	pipe_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		unsigned i;
		int r;

		while (w->queued == 0 && !w->closing)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->queued == 0)
			break;
		i = w->head;
		pthread_mutex_unlock(&w->mu);
		r = w->err ? 0 : staged_write(w->st, w->buf[i], w->len[i]);
		pthread_mutex_lock(&w->mu);
		if (r < 0 && !w->err) {
			w->err = r;
			snprintf(w->msg, sizeof(w->msg), "%s", pawl_error_last()->message);
		}
		w->len[i] = 0;
		w->head = (w->head + 1) % PW_BUFFERS;
		w->queued--;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void pw_free(pipe_writer *w)
{
	for (unsigned i = 0; i < PW_BUFFERS; i++)
		free(w->buf[i]);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int pw_start(pipe_writer **ret, pawl_staged *st)
{
	pipe_writer *w = xcalloc(1, sizeof(*w));

	if (!w)
		return PAWL_E_NOMEM;
	w->st = st;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (unsigned i = 0; i < PW_BUFFERS; i++) {
		w->buf[i] = xmalloc(PW_BUFFER_SIZE);
		if (!w->buf[i]) {
			pw_free(w);
			return PAWL_E_NOMEM;
		}
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pw_free(w);
		return pawl_error_set(PAWL_E_GENERIC, "cannot start the download writer thread");
	}
	*ret = w;
	return 0;
}

/* Hand the buffer being filled to the writer; wait for a free one. */
static int hand_over(pipe_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->queued++;
	w->fill = (w->fill + 1) % PW_BUFFERS;
	pthread_cond_broadcast(&w->cv);
	while (w->queued == PW_BUFFERS && !w->err)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int pw_put(pipe_writer *w, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		size_t room = PW_BUFFER_SIZE - w->len[w->fill];
		size_t k = n < room ? n : room;
		int err;

		pthread_mutex_lock(&w->mu);
		err = w->err;
		pthread_mutex_unlock(&w->mu);
		if (err)
			return pawl_error_set(err, "%s", w->msg);
		memcpy(w->buf[w->fill] + w->len[w->fill], s, k);
		w->len[w->fill] += k;
		s += k;
		n -= k;
		if (w->len[w->fill] == PW_BUFFER_SIZE)
			GUARD(hand_over(w));
	}
	return 0;
}

int pw_finish(pipe_writer *w)
{
	int err;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	if (!w->err && w->len[w->fill] > 0) {
		w->queued++;
		w->fill = (w->fill + 1) % PW_BUFFERS;
	}
	w->closing = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	err = w->err;
	if (err)
		pawl_error_set(err, "%s", w->msg);
	pw_free(w);
	return err;
}

/*
 * progress.c - see progress.h.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static bool shown;

bool progress_wanted(bool json, int verbose)
{
	return !json && verbose >= 0 && isatty(STDERR_FILENO);
}

static void human_bytes(char *out, size_t n, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(const pawl_event *ev)
{
	static double start, last;
	static const char *target;
	double t = now_s(), rate, left;
	char done[32], total[32], speed[32], eta[32];
	char bar[21];
	unsigned pct = (unsigned)(ev->done * 100 / ev->total);

	if (target != ev->target || !shown) {
		target = ev->target;
		start = t;
		last = 0;
	}
	if (t - last < 0.1 && ev->done < ev->total)
		return;
	last = t;
	rate = t > start ? (double)ev->done / (t - start) : 0;
	left = rate > 0 ? (double)(ev->total - ev->done) / rate : 0;
	for (unsigned i = 0; i < 20; i++)
		bar[i] = i < pct / 5 ? '#' : '-';
	bar[20] = '\0';
	human_bytes(done, sizeof(done), (double)ev->done);
	human_bytes(total, sizeof(total), (double)ev->total);
	human_bytes(speed, sizeof(speed), rate);
	if (rate > 0)
		snprintf(eta, sizeof(eta), "%um%02us left", (unsigned)left / 60,
			 (unsigned)left % 60);
	else
		snprintf(eta, sizeof(eta), "--");
	fprintf(stderr, "\r\033[K%-24.24s [%s] %3u%% %s/%s %s/s %s", ev->target ? ev->target : "",
		bar, pct, done, total, speed, eta);
	shown = true;
}

void progress_clear(void)
{
	if (shown) {
		fputs("\r\033[K", stderr);
		shown = false;
	}
}

void progress_event(const pawl_event *ev)
{
	switch (ev->kind) {
	case PAWL_EVENT_PROGRESS:
		if (ev->total > 0 && ev->done <= ev->total)
			draw(ev);
		break;
	case PAWL_EVENT_DOWNLOADED:
	case PAWL_EVENT_REJECTED:
		progress_clear();
		break;
	case PAWL_EVENT_FETCH:
	case PAWL_EVENT_VERIFIED:
	case PAWL_EVENT_ROOT_ROTATED:
	case PAWL_EVENT_CACHED:
		break;
	}
}

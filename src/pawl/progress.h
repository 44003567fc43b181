/*
 * progress.h - the download progress bar both the client commands and the
 * agent draw on stderr when it is a terminal: name, bar, percentage,
 * bytes, rate and time left, redrawn in place at most ten times a second,
 * and wiped (ESC [ K) before anything else is printed.
 *
 * The caller decides whether a bar is wanted (progress_wanted) and feeds
 * it the library's events; the library itself never prints.
 */
#ifndef PAWL_PROGRESS_H
#define PAWL_PROGRESS_H

#include <stdbool.h>

#include "pawl/updater.h"

/* A bar only on a terminal, and never with --json or -q. */
bool progress_wanted(bool json, int verbose);

/* Draw for PAWL_EVENT_PROGRESS; wipe the bar for PAWL_EVENT_DOWNLOADED
 * and PAWL_EVENT_REJECTED; ignore every other event. */
void progress_event(const pawl_event *ev);

/* Wipe the bar if one is shown (before printing a message). */
void progress_clear(void);

#endif

/*
 * testing.h - helpers shared by the unit tests (never linked into the
 * programs): fixing the clock, reading files, locating the vectors.
 */
#ifndef PAWL_TESTING_H
#define PAWL_TESTING_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/clock.h"

/* Read a whole file into a malloc'd, NUL-terminated buffer; fails the test
 * when it cannot. */
char *t_read_file(const char *path, size_t *ret_len);
/* Write len bytes to path (replacing it); fails the test on error. */
void t_write_file(const char *path, const void *data, size_t len);
/* $PAWL_VECTORS/<rel>, in a static buffer. */
const char *t_vector(const char *rel);
/* A fresh temporary directory (removed by t_rm_rf). */
char *t_mkdtemp(void);
void t_rm_rf(const char *path);
/* Fix the clock at an RFC 3339 time ("2025-01-01T00:00:00Z") or at the
 * instant written in a vector's faketime file. */
void t_set_time(const char *rfc3339);
void t_set_time_from_file(const char *path);

/* Assert a pawl call returns 0, printing the error detail if not. */
#define t_ok(expr)                                                             \
	do {                                                                   \
		int t_ok_r_ = (expr);                                          \
		if (t_ok_r_ != 0)                                              \
			print_error("%s -> %d: %s\n", #expr, t_ok_r_,          \
				    pawl_error_last()->message);               \
		assert_int_equal(t_ok_r_, 0);                                  \
	} while (0)

/* Assert a pawl call fails with the given code. */
#define t_fails(expr, code)                                                    \
	do {                                                                   \
		int t_f_r_ = (expr);                                           \
		if (t_f_r_ != (code))                                          \
			print_error("%s -> %d (want %d): %s\n", #expr, t_f_r_, \
				    (code), pawl_error_last()->message);       \
		assert_int_equal(t_f_r_, (code));                              \
	} while (0)

#endif

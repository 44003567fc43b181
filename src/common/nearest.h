/*
 * nearest.h - "did you mean ...?" for a mistyped command, in both programs.
 */
#ifndef PAWL_COMMON_NEAREST_H
#define PAWL_COMMON_NEAREST_H

#include <stddef.h>

/* The candidate closest to word by edit distance (insertions, deletions,
 * substitutions and swaps of two neighbours, each 1), or NULL when none
 * is close enough to be a likely typo (at most 2 edits, and fewer than
 * the word has letters). */
const char *cli_nearest_word(const char *word, const char *const *cands, size_t n);

/* The edit distance itself (optimal string alignment), capped at 64. */
unsigned cli_edit_distance(const char *a, const char *b);

#endif

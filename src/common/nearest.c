/*
 * nearest.c - see nearest.h.
 */
#include <string.h>

#include "common/nearest.h"

#define MAXLEN 32

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

unsigned cli_edit_distance(const char *a, const char *b)
{
	unsigned d[MAXLEN + 1][MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAXLEN || lb > MAXLEN)
		return 64;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

const char *cli_nearest_word(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	unsigned best_d = 3;
	size_t len = strlen(word);

	for (size_t i = 0; i < n; i++) {
		unsigned dist = cli_edit_distance(word, cands[i]);

		if (dist < best_d && dist < len) {
			best_d = dist;
			best = cands[i];
		}
	}
	return best;
}

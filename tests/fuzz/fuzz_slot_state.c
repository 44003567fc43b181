/*
 * fuzz_slot_state.c - slot_state_parse(), the reader of the slot
 * installer's slots.json (src/lib/slot/state.c).
 *
 * The file is root's, but it is what stops a downgrade, so the reader must
 * refuse anything malformed without crashing, and what it accepts must
 * survive its own writer: serialise(parse(x)) parses back to the same
 * state, and serialising that gives the same bytes. Any disagreement
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slot/slot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	slot_state a, b;
	char *buf, *t1 = NULL, *t2 = NULL, *copy;
	size_t l1, l2;

	if (size > (1u << 20))
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&a, 0, sizeof(a));
	if (slot_state_parse(&a, buf, size, "fuzz") < 0)
		return 0;
	if (slot_state_serialize(&a, &t1, &l1) < 0)
		abort();
	copy = malloc(l1 + 1);
	if (!copy)
		abort();
	memcpy(copy, t1, l1 + 1);
	memset(&b, 0, sizeof(b));
	if (slot_state_parse(&b, copy, l1, "fuzz") < 0)
		abort();
	if (slot_state_serialize(&b, &t2, &l2) < 0 || l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();
	free(t1);
	free(t2);
	return 0;
}

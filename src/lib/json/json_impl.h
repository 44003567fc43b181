/*
 * json_impl.h - what the json module's files share and nobody else sees:
 * the document layout, its two allocators, the private type bits and the
 * byte-level helpers of the strict grammar.
 *
 * Memory of a document:
 *  - the arena: big chunks carved front to back, freed only with the doc.
 *    The parser puts every member and item array there, the builder every
 *    string and key, pj_copy() every array it copies.
 *  - heap blocks: arrays of containers that grow (pj_obj_put, pj_arr_push,
 *    ...). Each block sits on a circular list anchored in the doc, so that
 *    it can be realloc'd without knowing its owner and freed with the doc.
 *    A value whose array is such a block carries PJF_HEAP, and the block
 *    then holds at least pj_cap_for(len) elements.
 */
#ifndef PAWL_JSON_IMPL_H
#define PAWL_JSON_IMPL_H

#include <string.h>

#include "json/json.h"

/* Private bits of pj_value.type (the low 4 bits are the pj_type). */
#define PJF_TYPE 0x0fu
#define PJF_HEAP 0x10u     /* items/members live in a heap block */
#define PJF_UNSORTED 0x20u /* object built by pj_obj_append, not finished */
#define PJF_PLAIN 0x40u    /* string with nothing to escape: no '"', '\\' or
			    * control character; encoders copy it as it is */

typedef struct pj_chunk pj_chunk;

typedef struct pj_hblock {
	struct pj_hblock *prev, *next;
	/* 16 bytes, so the data that follows stays 16-byte aligned */
} pj_hblock;

struct pj_doc {
	pj_value root;
	char *input;       /* the parsed text, or NULL */
	pj_chunk *chunks;  /* newest first; the first one is being carved */
	size_t next_chunk; /* size of the next ordinary chunk */
	pj_hblock heap;    /* sentinel of the circular list of heap blocks */
};

/* A new doc owning buf (the parser's input), or NULL with buf freed. */
pj_doc *pj_doc_for_input(char *buf);

/* Arena: n bytes, 8-byte aligned, never freed before the doc. NULL (with
 * PAWL_E_NOMEM or PAWL_E_LIMIT set) on failure. */
void *pj_arena_alloc(pj_doc *doc, size_t n);
/* A copy of s[0..len) plus a NUL in the arena. */
char *pj_arena_strdup(pj_doc *doc, const char *s, size_t len);

/* Capacity, in elements, of a heap block holding len elements. */
static inline size_t pj_cap_for(size_t len)
{
	size_t c = 4;

	while (c < len)
		c *= 2;
	return c;
}

/* Heap blocks. */
void *pj_heap_alloc(pj_doc *doc, size_t n);
void *pj_heap_realloc(pj_doc *doc, void *p, size_t n);

/* Bytewise key order: memcmp over the common length, then shorter first.
 * For UTF-8 this is code point order, what OLPC canonical JSON and
 * Python's sort_keys use. */
static inline int pj_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static inline int pj_member_cmp(const pj_member *a, const pj_member *b)
{
	return pj_key_cmp(a->key, a->klen, b->key, b->klen);
}

/* Binary search of a finished object: the index of key, or where it
 * would go, with *found telling which. */
size_t pj_find(const pj_value *obj, const char *key, size_t klen, bool *found);

/* Eight bytes at a time: each helper sets the high bit of every byte of x
 * that matches. Only the lowest match is exact (a borrow can flag bytes
 * above it), which is all the scanners need: on little-endian machines
 * the index of the first match is pj_swar_first(). */
#define PJ_ONES 0x0101010101010101ull
#define PJ_HIGHS 0x8080808080808080ull

static inline uint64_t pj_swar_eq(uint64_t x, unsigned char c)
{
	uint64_t y = x ^ (PJ_ONES * c);

	return (y - PJ_ONES) & ~y & PJ_HIGHS;
}

static inline uint64_t pj_swar_lt(uint64_t x, unsigned char n)
{
	return (x - PJ_ONES * n) & ~x & PJ_HIGHS;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PJ_SWAR_LE 1
static inline size_t pj_swar_first(uint64_t t)
{
	return (size_t)__builtin_ctzll(t) >> 3;
}
#else
#define PJ_SWAR_LE 0
#endif

/* Stable sort of n members; tmp must hold n / 2 + 1 members. */
void pj_members_sort(pj_member *m, size_t n, pj_member *tmp);

/* Length of the well-formed UTF-8 sequence starting at p (whose first
 * byte is >= 0x80), or 0 when it is invalid or runs past end: no
 * overlongs, no surrogates, nothing above U+10FFFF (Unicode 15, table
 * 3-7). */
size_t pj_utf8_seq(const unsigned char *p, const unsigned char *end);

/* Whether s[0..len) holds no byte that pj_write() escapes. */
bool pj_is_plain(const char *s, size_t len);

/* Whether s[0..len) is valid UTF-8; *bad gets the offset of the first
 * invalid byte. */
bool pj_utf8_valid(const char *s, size_t len, size_t *bad);

#endif

/*
 * ds/intset.h - Redis's intset: a sorted array of distinct integers in one
 * allocation, byte-compatible with Redis 7.0 (RDB stores the blob verbatim).
 *
 * Layout (little-endian)
 *
 *   +--------------+------------+----------------------------------+
 *   | encoding u32 | length u32 | length values, ascending, each   |
 *   | 2, 4 or 8    |            | `encoding` bytes (int16/32/64)   |
 *   +--------------+------------+----------------------------------+
 *
 * Invariants: values are strictly ascending; every value uses the set's
 *   encoding, the smallest that holds all values ever added: adding a value
 *   that needs a wider one upgrades the whole array (O(n), and the new value
 *   then goes to one end). Removing never downgrades (as Redis).
 *
 * Complexity: lookup O(log n) binary search; add/remove O(n) moves.
 *
 * Handles: a `struct intset *` is the blob itself; add/remove may move it
 *   and return the new pointer.
 *
 * Conventions: prefix intset_/INTSET_. Thread context: [any], not
 *   thread-safe.
 */
#ifndef STASH_DS_INTSET_H
#define STASH_DS_INTSET_H

#include "base/common.h"

#define INTSET_ENC_16 2
#define INTSET_ENC_32 4
#define INTSET_ENC_64 8
#define INTSET_HDR_SIZE 8

struct intset {
    uint32_t encoding; /* little-endian on the wire; the host order here (LE hosts) */
    uint32_t length;
    int8_t contents[];
};

/* An empty set (16-bit encoding). */
struct intset *intset_new(void);
void intset_free(struct intset *is);
struct intset *intset_dup(const struct intset *is);

/* Add v; *added (if not NULL) tells whether it was absent. */
struct intset *intset_add(struct intset *is, int64_t v, bool *added);
/* Remove v; *removed (if not NULL) tells whether it was present. */
struct intset *intset_remove(struct intset *is, int64_t v, bool *removed);
bool intset_find(const struct intset *is, int64_t v);

/* Number of values. */
uint32_t intset_len(const struct intset *is);
/* Bytes of the blob. */
size_t intset_bytes(const struct intset *is);
/* Value at position pos (0 = the smallest); false when out of range. */
bool intset_get(const struct intset *is, uint32_t pos, int64_t *v);
/* Value at pos, which must be in range. */
int64_t intset_at(const struct intset *is, uint32_t pos);
/* A uniformly random value of a non-empty set. */
int64_t intset_random(const struct intset *is);
int64_t intset_min(const struct intset *is);
int64_t intset_max(const struct intset *is);
/* The encoding (INTSET_ENC_*) v needs. */
uint8_t intset_value_encoding(int64_t v);

/* Is blob[0..size) a valid intset (known encoding, size matching the
 * length, not empty; with deep: strictly ascending)? Never reads past size. */
bool intset_validate(const unsigned char *blob, size_t size, bool deep);

#endif

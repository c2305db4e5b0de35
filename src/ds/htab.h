/*
 * ds/htab.h - an intrusive chained hash table with incremental rehashing.
 *
 * Design
 *   Nodes embed `struct htab_node` (a next pointer) as their first member, so
 *   an element costs no allocation beyond itself: the keyspace stores each
 *   key, its metadata and small values in one block that is also the node.
 *
 *       table[0]  [ * ][   ][ * ]...     table[1] (only while rehashing)
 *                   |         |
 *                 node ->   node -> node
 *
 *   The table grows when it holds max_load (default 1) elements per bucket and
 *   shrinks when under 1/8 full. Resizing a big table allocates the new
 *   bucket array and then moves one bucket per operation (plus
 *   htab_rehash_us from a timer), so no single call pays for the whole
 *   table: no latency spikes. Tables of at most 1,024 buckets are moved at
 *   once (microseconds), so small tables never hold two arrays.
 *
 *   The table does not store hashes. Callers pass the hash of the key they
 *   look up, and `hash_fn` recomputes a node's hash when it moves.
 *
 * Scanning uses Pieter Noordhuis's reverse-binary cursor (as Redis's
 *   SCAN): every element present for the whole scan is returned at least once,
 *   even across resizes; some may be returned twice.
 *
 * Conventions: functions and types are prefixed htab_; internal helpers are
 *   static and unprefixed. A `struct htab_pos` from a find is valid until the
 *   next insert/find/remove on the table.
 *
 * Thread context: not thread-safe; the keyspace calls it under stripe locks.
 */
#ifndef STASH_DS_HTAB_H
#define STASH_DS_HTAB_H

#include "base/common.h"

struct htab_node {
    struct htab_node *next;
};

typedef uint64_t (*htab_hash_fn)(const struct htab_node *n);
/* Key equality test: does node n hold key? */
typedef bool (*htab_eq_fn)(const struct htab_node *n, const void *key);
typedef void (*htab_visit_fn)(struct htab_node *n, void *arg);

struct htab {
    struct htab_node **table[2];
    size_t used[2];
    int8_t exp[2]; /* log2(buckets), -1 when the table is absent */
    uint8_t max_load; /* grow when elements >= buckets * max_load (1 or 2) */
    int16_t paused; /* > 0: no rehash steps (a scan callback is running) */
    int64_t rehash_idx; /* next bucket of table[0] to move; -1: not rehashing */
    htab_hash_fn hash;
};

struct htab_pos {
    struct htab_node **link; /* *link is the node */
    int t;                   /* table it is in */
};

void htab_init(struct htab *h, htab_hash_fn hash);
/* Let chains grow to `load` elements per bucket on average before doubling
 * (default 1). A denser table costs fewer bucket bytes per element (about
 * 8*1.44/load on average) for slightly longer chains. */
static inline void htab_set_max_load(struct htab *h, int load) { h->max_load = (uint8_t)(load < 1 ? 1 : load); }
/* Free the bucket arrays; call free_fn (may be NULL) on every node first. */
void htab_clear(struct htab *h, htab_visit_fn free_fn, void *arg);

static inline size_t htab_count(const struct htab *h) { return h->used[0] + h->used[1]; }
static inline bool htab_rehashing(const struct htab *h) { return h->rehash_idx >= 0; }
/* Buckets in both tables (for memory reports). */
size_t htab_buckets(const struct htab *h);

/* Move up to n buckets; returns false when rehashing is complete. */
bool htab_rehash(struct htab *h, int n);
/* Rehash for about `us` microseconds; returns buckets moved. */
int htab_rehash_us(struct htab *h, int64_t us);

/* Find the node equal to key (eq), whose hash is `hash`. */
bool htab_find(struct htab *h, uint64_t hash, htab_eq_fn eq, const void *key, struct htab_pos *pos);

/* Insert a node whose key is not in the table; *pos (if not NULL) locates it. */
void htab_insert(struct htab *h, uint64_t hash, struct htab_node *n, struct htab_pos *pos);
/* Unlink the node at pos (the caller frees it). May start a shrink. */
void htab_remove_at(struct htab *h, const struct htab_pos *pos);
/* Put `n` in place of the node at pos (same key, e.g. after a realloc). */
static inline void htab_replace_at(const struct htab_pos *pos, struct htab_node *n) {
    n->next = (*pos->link)->next;
    *pos->link = n;
}
/* Shrink now if the table is sparse (after bulk deletes). */
void htab_shrink_if_needed(struct htab *h);

/* Visit the nodes of one cursor step; returns the next cursor (0: done).
 * The callback must not modify the table. */
uint64_t htab_scan(struct htab *h, uint64_t cursor, htab_visit_fn fn, void *arg);

/* A random node, or NULL when empty. */
struct htab_node *htab_random(struct htab *h);
/* Up to n nodes from a random region (not distinct-guaranteed across calls);
 * returns how many were stored. Cheap: for eviction sampling. */
size_t htab_sample(struct htab *h, struct htab_node **out, size_t n);

/* Iteration without modification: for (n = htab_first(h, &it); n; n = htab_next(h, &it)) */
struct htab_iter {
    int t;
    size_t idx;
    struct htab_node *node;
};
struct htab_node *htab_first(struct htab *h, struct htab_iter *it);
struct htab_node *htab_next(struct htab *h, struct htab_iter *it);

#endif

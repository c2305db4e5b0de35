/*
 * ds/quicklist.h - a doubly linked list of listpacks (Redis's quicklist):
 * the big encoding of lists.
 *
 *   head                                                      tail
 *   [node: lp(a b c d)] <-> [node: plain "<1 GiB blob>"] <-> [node: lp(e f)]
 *
 * Node shape follows `fill` (list-max-listpack-size), as Redis 7.0:
 *   fill > 0    at most `fill` elements per node, and a node stops growing
 *               past 8 KiB (the safety limit);
 *   fill -1..-5 at most 4, 8, 16, 32 or 64 KiB of listpack per node (a
 *               smaller fill is taken as -5).
 *   An element of at least the packed threshold (1 GiB by default, DEBUG
 *   QUICKLIST-PACKED-THRESHOLD) sits alone in a *plain* node that holds its
 *   bytes as they are.
 *
 * Compression (list-compress-depth) is accepted and kept, but nodes are not
 *   compressed: every node stays a plain listpack. The depth only matters
 *   for memory, never for the elements or their order.
 *
 * Elements are strings or integers (struct lp_item in, struct ql_entry out);
 *   a listpack stores a canonical integer string as an integer, so reading
 *   gives back the integer and formatting it gives back the same text.
 *
 * Positions: a struct ql_entry names one element (node, entry pointer,
 *   offset in the node) and carries its value. It is valid until the next
 *   change of the list, except where a function says it repositions it.
 *
 * Memory accounting: ql_bytes() is kept up to date on every change (O(1)),
 *   for MEMORY USAGE and eviction.
 *
 * Conventions: prefix ql_; internal helpers static. Thread context: [any],
 *   not thread-safe (the owner of the value synchronizes).
 */
#ifndef STASH_DS_QUICKLIST_H
#define STASH_DS_QUICKLIST_H

#include "base/common.h"
#include "ds/listpack.h"

#define QL_FILL_DEFAULT (-2)
#define QL_FILL_MIN (-5)
#define QL_SIZE_SAFETY_LIMIT 8192

struct ql_node {
    struct ql_node *prev, *next;
    unsigned char *data; /* a listpack, or the element's bytes (plain) */
    size_t sz;           /* bytes of data */
    uint32_t count;      /* elements (1 for a plain node) */
    bool plain;
};

struct quicklist {
    struct ql_node *head, *tail;
    size_t count; /* elements */
    size_t len;   /* nodes */
    size_t bytes; /* data bytes + node headers + this header */
    int fill;
    int compress; /* list-compress-depth (kept, see above) */
};

/* One element of a quicklist and its value. */
struct ql_entry {
    struct ql_node *node;
    unsigned char *p;       /* the listpack entry (NULL in a plain node) */
    long offset;            /* index inside the node */
    const unsigned char *s; /* the value's bytes, or NULL for an integer */
    size_t len;
    long long ll;
};

/* The packed threshold (bytes): elements this big get a plain node. [any] */
void ql_set_packed_threshold(size_t bytes);
size_t ql_packed_threshold(void);
static inline bool ql_is_large(size_t len) {
    return len >= ql_packed_threshold();
}

/* Bytes and element limits of one node for a fill value (Redis's
 * quicklistNodeLimit); count_limit is SIZE_MAX for size fills. */
void ql_node_limit(int fill, size_t *sz_limit, size_t *count_limit);
/* Would a node of new_sz bytes and new_count elements break the limits? */
bool ql_node_exceeds_limit(int fill, size_t new_sz, size_t new_count);

struct quicklist *ql_new(int fill, int compress);
void ql_free(struct quicklist *ql);
struct quicklist *ql_dup(const struct quicklist *ql);
/* A quicklist of one node holding lp (taken over). */
struct quicklist *ql_from_listpack(unsigned char *lp, int fill, int compress);

/* When ql is one packed node: free ql and return that node's listpack;
 * else NULL (ql unchanged). */
unsigned char *ql_take_listpack(struct quicklist *ql);

static inline size_t ql_count(const struct quicklist *ql) {
    return ql->count;
}
static inline size_t ql_bytes(const struct quicklist *ql) {
    return ql->bytes;
}

/* Append a node holding `data` (taken over): a non-empty listpack, or
 * (plain) one element's bytes of sz bytes. For loaders. */
void ql_append_node(struct quicklist *ql, unsigned char *data, size_t sz, bool plain);

/* Add an element at the head or the tail. */
void ql_push(struct quicklist *ql, bool head, const struct lp_item *it);

/* The element at index (negative: from the tail, -1 the last). */
bool ql_index(struct quicklist *ql, long index, struct ql_entry *e);
/* The element after (forward) or before e, in place; false at the end. */
bool ql_step(struct quicklist *ql, struct ql_entry *e, bool forward);
/* Re-read e's value (after its entry pointer was set). */
void ql_load(struct ql_entry *e);

/* Delete the element at e and move e to the element that came after it in
 * the given direction; returns false when there is none (e is invalid). */
bool ql_delete_entry(struct quicklist *ql, struct ql_entry *e, bool forward);
/* Replace the element at e (e is updated to the new element). */
void ql_replace_entry(struct quicklist *ql, struct ql_entry *e, const struct lp_item *it);
/* Insert a new element before or after the element at e (e invalid after). */
void ql_insert(struct quicklist *ql, struct ql_entry *e, bool after, const struct lp_item *it);
/* Delete count elements from index start (>= 0, clamped at the end). */
void ql_delete_range(struct quicklist *ql, long start, long count);

/* Check the structure's invariants (tests): counts, sizes, links, fill. */
bool ql_check(const struct quicklist *ql);

#endif

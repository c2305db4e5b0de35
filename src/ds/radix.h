/*
 * ds/radix.h - an ordered map from byte strings to pointers: a compressed
 * radix tree (a Patricia trie whose edges carry runs of bytes).
 *
 * Streams keep their listpack nodes here keyed by 128-bit big-endian entry
 * IDs, so that a lexicographic walk is a walk in ID order; consumer groups,
 * consumers and pending-entry lists use it too (names, IDs), which gives
 * XINFO and XPENDING Redis's sorted order for free.
 *
 * Shape
 *
 *   Every node stands for the key made of the bytes on the path from the
 *   root: the edge byte that leads into it (kept in the parent, next to the
 *   child pointer) followed by the node's own compressed run ("prefix").
 *
 *       root "" ---'f'---> node "oo" (key "foo", value)
 *                             |---'b'---> node "ar" (key "foobar", value)
 *                             '---'t'---> node ""   (key "foot", value)
 *
 *   node = [plen:31 is_key:1][nchild u16][cap u16][value ptr]
 *          [prefix bytes: plen][edge bytes: cap][pad to 8][child ptrs: cap]
 *
 *   Edge bytes are sorted, so children are visited in key order; a node's
 *   own key sorts before the keys below it (a proper prefix is smaller).
 *
 * Invariants (kept by insert and remove): a node that holds no key has at
 *   least two children, except the root, which may be empty (no key, no
 *   children, empty prefix). So a tree of n keys has fewer than 2n nodes.
 *
 * Iterators walk with a stack of the nodes from the root and rebuild the
 *   current key in a buffer. Any insert or remove invalidates every
 *   iterator of the tree: seek again (e.g. to the key just visited).
 *
 * Complexity: find, insert and remove are O(key length) plus a scan of the
 *   edge bytes of each node on the path (at most 256); memory per key is a
 *   few dozen bytes for keys that share long prefixes (stream IDs).
 *
 * Conventions: functions and types are prefixed radix_/RADIX_; internal
 *   helpers are static and unprefixed. Values are opaque pointers owned by
 *   the caller (radix_free may call a function on each). Thread context:
 *   [any], not thread-safe (the owner synchronizes, e.g. under the key's
 *   stripe lock).
 */
#ifndef STASH_DS_RADIX_H
#define STASH_DS_RADIX_H

#include "base/common.h"

struct radix;
struct radix_node;

/* An empty tree. */
struct radix *radix_new(void);
/* Free the tree; free_value (may be NULL) is called on every value. */
void radix_free(struct radix *r, void (*free_value)(void *));

/* Number of keys. O(1). */
size_t radix_size(const struct radix *r);
/* Number of nodes (XINFO STREAM radix-tree-nodes). O(1). */
size_t radix_nodes(const struct radix *r);
/* Bytes held by the tree's structure (not the values). O(1). */
size_t radix_mem(const struct radix *r);

/* Set key -> value. Returns true when the key was new; when it existed, its
 * value is replaced and the old one goes to *old (if not NULL). */
bool radix_insert(struct radix *r, const void *key, size_t len, void *value, void **old);
/* Set key -> value only if the key is absent. Returns whether it was
 * inserted; when not, *existing (if not NULL) gets the current value. */
bool radix_try_insert(struct radix *r, const void *key, size_t len, void *value, void **existing);
/* Is key present? Its value goes to *value (if not NULL). */
bool radix_find(const struct radix *r, const void *key, size_t len, void **value);
/* Remove key; returns whether it was there, its value in *old (if not NULL). */
bool radix_remove(struct radix *r, const void *key, size_t len, void **old);

/* ---- ordered iteration ----------------------------------------------------------------------- */

enum radix_seek_op {
    RADIX_FIRST, /* the smallest key */
    RADIX_LAST,  /* the greatest key */
    RADIX_EQ,    /* exactly this key */
    RADIX_GE,    /* the smallest key >= the given one */
    RADIX_GT,
    RADIX_LE,    /* the greatest key <= the given one */
    RADIX_LT,
};

/* One step of the path from the root (implementation detail). */
struct radix_frame {
    struct radix_node *node;
    int idx;     /* index among the parent's children, -1 for the root */
    size_t klen; /* key length before this node's bytes */
};

#define RADIX_ITER_STATIC_KEY 64
#define RADIX_ITER_STATIC_DEPTH 24

struct radix_iter {
    struct radix *r;
    unsigned char *key; /* the current key (valid after a successful step) */
    size_t key_len;
    void *value;        /* the current value */
    /* internal */
    size_t key_cap;
    struct radix_frame *stack;
    int depth, stack_cap;
    uint8_t state;
    unsigned char key_static[RADIX_ITER_STATIC_KEY];
    struct radix_frame stack_static[RADIX_ITER_STATIC_DEPTH];
};

/* Prepare an iterator over r (no position yet: seek first). */
void radix_iter_init(struct radix_iter *it, struct radix *r);
/* Position the iterator (key/len are ignored for FIRST and LAST). Returns
 * whether an element was found; the next radix_next() or radix_prev() then
 * yields that element, and the following calls move on from it. */
bool radix_seek(struct radix_iter *it, enum radix_seek_op op, const void *key, size_t len);
/* Move to the next greater / smaller key; false at the end (and from then
 * on). On success it->key, it->key_len and it->value describe it. */
bool radix_next(struct radix_iter *it);
bool radix_prev(struct radix_iter *it);
/* Did the last seek or step find nothing? */
bool radix_eof(const struct radix_iter *it);
/* Release what the iterator allocated (long keys, deep trees). */
void radix_iter_release(struct radix_iter *it);

#endif

/*
 * ds/listpack.h - Redis's listpack: a compact sequence of strings and
 * integers in one contiguous allocation, byte-compatible with Redis 7.0 (an
 * RDB snapshot stores the blob verbatim, and a blob from Redis loads as is).
 *
 * Layout (all multi-byte numbers little-endian)
 *
 *   +-----------+--------+---------+---------+-----+------+
 *   | total u32 | num u16| entry 0 | entry 1 | ... | 0xFF |
 *   +-----------+--------+---------+---------+-----+------+
 *     bytes of    elements (65535: unknown, count by walking)
 *     the blob
 *
 *   entry = <encoding+data> <backlen>
 *
 *   first byte        meaning                         data that follows
 *   0xxxxxxx          uint 0..127 (7 bits)            -
 *   10llllll          string, len < 64                len bytes
 *   110xxxxx          int -4096..4095 (13 bits)       1 more byte
 *   1110llll          string, len < 4096 (12 bits)    1 len byte, len bytes
 *   11110000          string, 32-bit len              4 len bytes, len bytes
 *   11110001/2/3/4    int 16 / 24 / 32 / 64 bits      2 / 3 / 4 / 8 bytes
 *   11111111          end of the listpack
 *
 *   backlen: the size of <encoding+data>, in 1-5 bytes read right to left,
 *   7 bits per byte; every byte but the leftmost has its high bit set, so a
 *   backward walk knows where the previous entry starts.
 *
 * Invariants: a string that reads as a canonical integer (str_to_ll) is
 *   always stored with an integer encoding, the smallest that fits, so two
 *   equal values always have equal bytes. The blob never exceeds
 *   LP_MAX_SAFE_BYTES when callers check lp_safe_to_add() first.
 *
 * Handles: a listpack is an `unsigned char *` to the blob. Every change may
 *   move it (realloc) and returns the new pointer; entry pointers (`p`) are
 *   valid until the next change, which returns a fresh one where useful.
 *
 * Complexity: access by index, insert and delete are O(n) in bytes moved;
 *   the structure is meant for small collections (a few hundred entries).
 *
 * Conventions: functions and types are prefixed lp_/LP_; internal helpers
 *   are static and unprefixed. Thread context: [any], not thread-safe (the
 *   owner of the value synchronizes, e.g. under the key's stripe lock).
 */
#ifndef STASH_DS_LISTPACK_H
#define STASH_DS_LISTPACK_H

#include "base/common.h"

#define LP_HDR_SIZE 6
#define LP_EOF 0xFF
#define LP_COUNT_UNKNOWN 65535
/* Listpacks are kept below 1 GiB, as Redis does, so sizes never near u32. */
#define LP_MAX_SAFE_BYTES (1u << 30)
/* Scratch room for an integer formatted as text (sign, 19 digits, NUL). */
#define LP_INTBUF_SIZE 21

/* Where lp_insert puts the new entry relative to p. */
enum lp_where { LP_BEFORE = 0, LP_AFTER = 1, LP_REPLACE = 2 };

/* A value to store: bytes (s != NULL) or, when s == NULL, the integer v. */
struct lp_item {
    const unsigned char *s;
    size_t len;
    long long v;
};
static inline struct lp_item lp_str_item(const void *s, size_t len) {
    return (struct lp_item){(const unsigned char *)s, len, 0};
}
static inline struct lp_item lp_int_item(long long v) {
    return (struct lp_item){NULL, 0, v};
}

/* ---- life cycle ------------------------------------------------------------------------------ */

/* An empty listpack with room for `capacity` bytes (0: just the header and
 * terminator). */
unsigned char *lp_new(size_t capacity);
void lp_free(unsigned char *lp);
/* A copy of the blob. */
unsigned char *lp_dup(const unsigned char *lp);
/* Give back spare capacity left by lp_new(capacity). */
unsigned char *lp_shrink_to_fit(unsigned char *lp);

/* ---- size ------------------------------------------------------------------------------------ */

/* Bytes of the blob (header field, O(1)). */
static inline size_t lp_bytes(const unsigned char *lp) {
    return (size_t)lp[0] | ((size_t)lp[1] << 8) | ((size_t)lp[2] << 16) | ((size_t)lp[3] << 24);
}
/* Elements; O(1) unless the header says unknown (>= 65535 elements), then a
 * walk, whose result is stored back when it fits. */
size_t lp_length(unsigned char *lp);
/* Could `add` more bytes join the blob and stay under LP_MAX_SAFE_BYTES? */
static inline bool lp_safe_to_add(const unsigned char *lp, size_t add) {
    size_t len = lp ? lp_bytes(lp) : 0;
    return len + add <= LP_MAX_SAFE_BYTES;
}
/* Upper bound of the bytes one entry of this value takes. */
size_t lp_entry_size_bound(size_t len);

/* ---- iteration (p: an entry, NULL: none) ----------------------------------------------------- */

unsigned char *lp_first(unsigned char *lp);
unsigned char *lp_last(unsigned char *lp);
unsigned char *lp_next(unsigned char *lp, unsigned char *p);
unsigned char *lp_prev(unsigned char *lp, unsigned char *p);
/* The entry at index (negative: from the end, -1 the last), or NULL. */
unsigned char *lp_seek(unsigned char *lp, long index);

/* ---- reading an entry ------------------------------------------------------------------------ */

/* The value at p: returns the bytes (pointer into the blob, length in *len)
 * or NULL for an integer, whose value goes to *ival. */
const unsigned char *lp_get(const unsigned char *p, size_t *len, long long *ival);
/* The value as text: integers are formatted into buf (LP_INTBUF_SIZE). */
const unsigned char *lp_get_str(const unsigned char *p, size_t *len, unsigned char *buf);
/* Is the entry at p equal to the bytes s[0..len)? */
bool lp_eq(const unsigned char *p, const unsigned char *s, size_t len);
/* Bytes the entry at p occupies (encoding, data, backlen). */
size_t lp_entry_size(const unsigned char *p);

/* The first entry equal to s[0..len) among p, then every (skip+1)th entry
 * after it (skip=1 visits the fields of field/value pairs), or NULL. */
unsigned char *lp_find(unsigned char *lp, unsigned char *p, const unsigned char *s, size_t len,
                       unsigned skip);

/* ---- changes (each returns the listpack, maybe moved) ---------------------------------------- */

/* Insert `item` before/after the entry at p, or replace it (p may be the
 * terminator for LP_BEFORE: append). *newp (if not NULL) gets the new
 * entry. Returns NULL (listpack unchanged) if the blob would exceed 4 GiB. */
unsigned char *lp_insert(unsigned char *lp, unsigned char *p, enum lp_where where,
                         const struct lp_item *item, unsigned char **newp);
/* Insert n items in order, before the entry at p (or the terminator), in one
 * move. *newp (if not NULL) gets the first new entry. */
unsigned char *lp_insert_batch(unsigned char *lp, unsigned char *p, const struct lp_item *items,
                               size_t n, unsigned char **newp);
unsigned char *lp_append(unsigned char *lp, const void *s, size_t len);
unsigned char *lp_prepend(unsigned char *lp, const void *s, size_t len);
unsigned char *lp_append_int(unsigned char *lp, long long v);
unsigned char *lp_prepend_int(unsigned char *lp, long long v);
unsigned char *lp_append_batch(unsigned char *lp, const struct lp_item *items, size_t n);
/* Insert at index (0..length: length appends; negative counts from the end,
 * -1 inserting after the last). NULL p means the index is out of range and
 * the listpack is unchanged. */
unsigned char *lp_insert_at(unsigned char *lp, long index, const struct lp_item *item,
                            unsigned char **newp);
/* Replace the value at *p; *p is updated to the new entry. */
unsigned char *lp_replace(unsigned char *lp, unsigned char **p, const void *s, size_t len);
unsigned char *lp_replace_int(unsigned char *lp, unsigned char **p, long long v);

/* Delete the entry at p; *newp (if not NULL) gets the entry that followed
 * it, or NULL at the end. */
unsigned char *lp_delete(unsigned char *lp, unsigned char *p, unsigned char **newp);
/* Delete up to num entries starting at *p; *p gets the entry that followed
 * them, or NULL at the end. */
unsigned char *lp_delete_range_at(unsigned char *lp, unsigned char **p, size_t num);
/* Delete up to num entries starting at index (negative: from the end). */
unsigned char *lp_delete_range(unsigned char *lp, long index, size_t num);

/* ---- untrusted blobs ------------------------------------------------------------------------- */

/* Called for each entry during a deep validation; return false to reject. */
typedef bool (*lp_validate_fn)(const unsigned char *p, void *arg);

/* Is blob[0..size) a well-formed listpack? The header is always checked;
 * with `deep`, every entry is walked within bounds, its encoding and
 * back-length checked, the element count compared with the header, and
 * entry_fn (may be NULL) consulted. Never reads outside blob[0..size). */
bool lp_validate(const unsigned char *blob, size_t size, bool deep, lp_validate_fn entry_fn,
                 void *arg);

#endif

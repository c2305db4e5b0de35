/*
 * types/zset.h - the sorted set value: (member, score) pairs ordered by
 * score, then by member bytes, with Redis 7.0's two encodings.
 *
 *   listpack   member, score, member, score, ... in order (ds/listpack),
 *              while the set has at most zset-max-listpack-entries elements
 *              and no member longer than zset-max-listpack-value bytes.
 *              Scores are stored as Redis's d2string text (integers as
 *              listpack integers), exactly as Redis writes them, so the blob
 *              is what an RDB snapshot of Redis holds.
 *   skiplist   a skiplist (ds/skiplist) for order and ranks plus a hash
 *              table member -> node for O(1) lookups; both share one node
 *              per element (the member lives in the node).
 *
 * Conversions follow Redis 7.0: a new set starts as a listpack unless the
 *   limits say otherwise (zset_create's hints); an add that would break a
 *   limit converts to skiplist; a skiplist never shrinks back by itself, only
 *   when a command that builds a whole set asks (zset_maybe_to_listpack:
 *   ZUNIONSTORE and friends, ZRANGESTORE, GEOSEARCHSTORE).
 *
 * Handle: `struct zset *` is opaque: the listpack blob itself, or (low bit
 *   set) a pointer to the skiplist encoding, so a small set costs its
 *   listpack and nothing more. Functions that may change the encoding or
 *   move the listpack take `struct zset **` and update the handle; the
 *   caller stores it back where it keeps it (the key's entry).
 *
 * Elements are read as `struct zset_elem`: the member's bytes point into the
 *   value (or into a caller/iterator buffer for listpack integers) and stay
 *   valid until the next change of the set.
 *
 * Ranks are 0-based here (the skiplist's are 1-based).
 *
 * Thread context: not thread-safe; the caller holds the key's stripe lock.
 */
#ifndef STASH_TYPES_ZSET_H
#define STASH_TYPES_ZSET_H

#include "base/common.h"
#include "ds/skiplist.h"

struct zset;

/* Scratch room for a listpack integer member formatted as text. */
#define ZSET_INTBUF 24

struct zset_elem {
    const char *m;
    size_t mlen;
    double score;
};

/* ---- limits (zset-max-listpack-entries / -value), set by cmd/ -------------- */

void zset_set_limits(size_t max_entries, size_t max_value);
size_t zset_max_entries(void);
size_t zset_max_value(void);

/* ---- life cycle and type operations ---------------------------------------- */

/* A new empty set, a listpack unless `size_hint` elements or a member of
 * `maxlen_hint` bytes would break the limits (Redis's zsetTypeCreate). */
struct zset *zset_create(size_t size_hint, size_t maxlen_hint);
/* A new empty set in the skiplist encoding. */
struct zset *zset_create_skiplist(void);
void zset_destroy(struct zset *z);
struct zset *zset_dup(const struct zset *z);
/* Bytes held (O(1)). */
size_t zset_mem(const struct zset *z);
bool zset_is_listpack(const struct zset *z);
/* "listpack" or "skiplist". */
const char *zset_enc_name(const struct zset *z);
/* Mix the value into a DEBUG DIGEST as Redis 7.0 does for sorted sets. */
void zset_digest(const struct zset *z, unsigned char d[20]);
/* The listpack blob (NULL for the skiplist encoding). */
const unsigned char *zset_listpack(const struct zset *z);

size_t zset_len(const struct zset *z);

/* Convert to the skiplist encoding / to listpack (unconditionally). */
void zset_to_skiplist(struct zset **zp);
void zset_to_listpack(struct zset **zp);
/* Redis's zsetConvertToListpackIfNeeded: a skiplist set that fits the
 * limits (its longest member is maxelelen, all members total totelelen)
 * becomes a listpack. */
void zset_maybe_to_listpack(struct zset **zp, size_t maxelelen, size_t totelelen);

/* ---- single elements --------------------------------------------------------- */

bool zset_score(const struct zset *z, const char *m, size_t mlen, double *score);

#define ZSET_IN_INCR (1 << 0)
#define ZSET_IN_NX (1 << 1)
#define ZSET_IN_XX (1 << 2)
#define ZSET_IN_GT (1 << 3)
#define ZSET_IN_LT (1 << 4)

#define ZSET_OUT_NOP (1 << 0)     /* nothing done because of NX/XX/GT/LT */
#define ZSET_OUT_NAN (1 << 1)     /* the score is (or the increment gave) NaN */
#define ZSET_OUT_ADDED (1 << 2)   /* a new member */
#define ZSET_OUT_UPDATED (1 << 3) /* an existing member got another score */

/* Redis's zsetAdd: add or update member m with `score` as the flags say.
 * Returns false only for NaN (ZSET_OUT_NAN); *newscore (may be NULL) gets
 * the resulting score when the member was added or considered for update.
 * May convert to skiplist. */
bool zset_add(struct zset **zp, double score, const char *m, size_t mlen, int in_flags,
              int *out_flags, double *newscore);
/* Give the existing member m exactly `score` (even -0 for 0, which
 * zset_add treats as no change). */
void zset_set_score(struct zset **zp, const char *m, size_t mlen, double score);
/* Remove member m; false when absent. */
bool zset_del(struct zset **zp, const char *m, size_t mlen);
/* 0-based rank of m from the lowest (or the highest with rev), -1 when
 * absent; *score (may be NULL) gets its score. */
long zset_rank(const struct zset *z, const char *m, size_t mlen, bool rev, double *score);

/* The element at 0-based rank (< zset_len); buf holds a listpack integer
 * member's text. */
void zset_at_rank(const struct zset *z, size_t rank, struct zset_elem *e, char buf[ZSET_INTBUF]);

/* ---- ranges ------------------------------------------------------------------- */

size_t zset_count_score(const struct zset *z, const struct zsl_range *r);
size_t zset_count_lex(const struct zset *z, const struct zsl_lex_range *r);

/* Remove elements by 0-based inclusive rank range (start <= end < len), by
 * score or by member range; return how many. The set may become empty (the
 * caller deletes the key). */
size_t zset_delete_rank(struct zset **zp, size_t start, size_t end);
size_t zset_delete_score(struct zset **zp, const struct zsl_range *r);
size_t zset_delete_lex(struct zset **zp, const struct zsl_lex_range *r);

/* ---- iteration ---------------------------------------------------------------- */

/* Walks elements in order (or reverse order) from a start position; the
 * caller stops where its range ends. Invalid after any change of the set. */
struct zset_iter {
    const struct zset *z;
    bool rev;
    unsigned char *lp, *p; /* listpack: the member entry, NULL at the end */
    struct zsl_node *node; /* skiplist: the next node, NULL at the end */
    char buf[ZSET_INTBUF];
};

/* Start at 0-based rank `start` counted from the lowest (from the highest
 * with rev); start >= len gives an empty walk. */
void zset_iter_rank(const struct zset *z, struct zset_iter *it, size_t start, bool rev);
/* Start at the first element inside the range (the last with rev); returns
 * false (and an empty walk) when no element is inside. */
bool zset_iter_score(const struct zset *z, struct zset_iter *it, const struct zsl_range *r,
                     bool rev);
bool zset_iter_lex(const struct zset *z, struct zset_iter *it, const struct zsl_lex_range *r,
                   bool rev);
/* The next element, or false at the end. */
bool zset_iter_next(struct zset_iter *it, struct zset_elem *e);
/* Skip n elements (O(log n) for the skiplist). */
void zset_iter_skip(struct zset_iter *it, size_t n);

/* ZSCAN over the skiplist encoding's hash table (listpack sets are returned
 * whole by the caller): calls fn for the elements of one cursor step and
 * returns the next cursor (0: done). */
typedef void (*zset_scan_fn)(const struct zset_elem *e, void *arg);
uint64_t zset_scan(const struct zset *z, uint64_t cursor, zset_scan_fn fn, void *arg);

/* A set made of a validated listpack of member/score pairs (taken over),
 * converted to a skiplist when it has more elements than the listpack
 * limit (Redis's RDB loading rule). */
struct zset *zset_from_listpack(unsigned char *lp);

#endif

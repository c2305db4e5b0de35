/*
 * ds/skiplist.h - the ordered index of big sorted sets: a skiplist of
 * (score, member) nodes ordered by score, then by member bytes (memcmp, the
 * shorter first on a common prefix), with spans so that ranks are O(log n)
 * (William Pugh's skiplist with Redis's rank extension).
 *
 * Node layout (one allocation per element; the member lives in the node):
 *
 *   0        8       16         24     28      29          32
 *   +--------+-------+----------+------+-------+-----------+-----------------+--------+
 *   | hnode  | score | backward | mlen | height| (pad)     | lv[height]      | member |
 *   +--------+-------+----------+------+-------+-----------+-----------------+--------+
 *     ds/htab                                                 {forward, span}   mlen bytes
 *     link for the owner's member index
 *
 *   `hnode` lets the owner (types/zset) put the same node in a hash table
 *   member -> node without another allocation: one element of a 1,000,000
 *   member leaderboard with 10-byte members costs one 64-byte block plus its
 *   bucket share, where Redis spends an sds, a skiplist node and a dictEntry.
 *
 * Levels: a new node gets height h with probability 0.25^(h-1) (h <= 32).
 *   lv[i].span counts the level-0 steps from the node to lv[i].forward (the
 *   rank distance); the header is a node of height 32 that holds no element.
 *
 * Ownership: the skiplist owns no node memory decisions beyond zsl_node_new
 *   and zsl_node_free; zsl_insert links a node created by zsl_node_new, the
 *   delete functions unlink and hand nodes back (or to a callback) for the
 *   owner to drop from its index and free.
 *
 * Complexity: insert, delete, rank, find by rank or range: O(log n) expected.
 *
 * Conventions: functions and types are prefixed zsl_/ZSL_; internal helpers
 *   are static and unprefixed. Thread context: not thread-safe; the owner of
 *   the value synchronizes (the key's stripe lock).
 */
#ifndef STASH_DS_SKIPLIST_H
#define STASH_DS_SKIPLIST_H

#include "base/common.h"
#include "ds/htab.h"

#define ZSL_MAXLEVEL 32

struct zsl_node;

struct zsl_level {
    struct zsl_node *forward;
    size_t span;
};

struct zsl_node {
    struct htab_node hnode; /* the owner's member index */
    double score;
    struct zsl_node *backward;
    uint32_t mlen;
    uint8_t height;
    struct zsl_level lv[]; /* height levels, then mlen bytes of member */
};

struct zsl {
    struct zsl_node *header;
    struct zsl_node *tail;
    size_t length;
    int level;
};

/* A score interval; *ex: the bound is excluded. */
struct zsl_range {
    double min, max;
    bool minex, maxex;
};

/* One end of a member interval for the lex commands: a value (inclusive
 * or, with `ex`, exclusive), or "-" / "+" (below / above every member). */
enum zsl_lex_kind { ZSL_LEX_VALUE = 0, ZSL_LEX_MINUS = 1, ZSL_LEX_PLUS = 2 };
struct zsl_lex_bound {
    const char *s;
    size_t len;
    bool ex;
    uint8_t kind; /* enum zsl_lex_kind */
};
struct zsl_lex_range {
    struct zsl_lex_bound min, max;
};

static inline const char *zsl_node_member(const struct zsl_node *n) {
    return (const char *)(n->lv + n->height);
}

/* Order of (a, alen) against (b, blen): memcmp, then the shorter first. */
int zsl_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Range tests (false when the range is empty by definition). */
bool zsl_score_gte_min(double v, const struct zsl_range *r);
bool zsl_score_lte_max(double v, const struct zsl_range *r);
bool zsl_lex_gte_min(const char *s, size_t n, const struct zsl_lex_range *r);
bool zsl_lex_lte_max(const char *s, size_t n, const struct zsl_lex_range *r);
/* Can the range hold anything at all (min <= max, ...)? */
bool zsl_range_valid(const struct zsl_range *r);
bool zsl_lex_range_valid(const struct zsl_lex_range *r);

/* ---- life cycle ---------------------------------------------------------- */

void zsl_init(struct zsl *zsl);
/* Free every node (and the header); the owner's index must not be used
 * after. */
void zsl_destroy(struct zsl *zsl);

/* A node for (score, member) of a random height, not linked anywhere. */
struct zsl_node *zsl_node_new(double score, const char *member, size_t mlen);
void zsl_node_free(struct zsl_node *n);

/* ---- changes ---------------------------------------------------------------- */

/* Link n (its member not present). O(log n). */
void zsl_insert(struct zsl *zsl, struct zsl_node *n);
/* Unlink the node of (score, member) and return it (NULL if absent). */
struct zsl_node *zsl_delete(struct zsl *zsl, double score, const char *member, size_t mlen);
/* Move n (linked) to newscore: in place when the order allows, else unlinked
 * and linked again. The node keeps its address. */
void zsl_update_score(struct zsl *zsl, struct zsl_node *n, double newscore);

typedef void (*zsl_node_fn)(struct zsl_node *n, void *arg);
/* Unlink every node in the range and pass each to fn (which frees it);
 * return how many. Ranks are 1-based, inclusive. */
size_t zsl_delete_range_by_score(struct zsl *zsl, const struct zsl_range *r, zsl_node_fn fn,
                                 void *arg);
size_t zsl_delete_range_by_lex(struct zsl *zsl, const struct zsl_lex_range *r, zsl_node_fn fn,
                               void *arg);
size_t zsl_delete_range_by_rank(struct zsl *zsl, size_t start, size_t end, zsl_node_fn fn,
                                void *arg);

/* ---- queries ----------------------------------------------------------------- */

static inline struct zsl_node *zsl_first(const struct zsl *zsl) {
    return zsl->header->lv[0].forward;
}
static inline struct zsl_node *zsl_last(const struct zsl *zsl) {
    return zsl->tail;
}

/* 1-based rank of (score, member), 0 if absent. */
size_t zsl_rank(const struct zsl *zsl, double score, const char *member, size_t mlen);
/* Node at 1-based rank, NULL when out of range. */
struct zsl_node *zsl_by_rank(const struct zsl *zsl, size_t rank);

/* First / last node inside the range, or NULL. */
struct zsl_node *zsl_first_in_range(const struct zsl *zsl, const struct zsl_range *r);
struct zsl_node *zsl_last_in_range(const struct zsl *zsl, const struct zsl_range *r);
struct zsl_node *zsl_first_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r);
struct zsl_node *zsl_last_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r);

/* How many elements lie inside the range, in O(log n). */
size_t zsl_count_in_range(const struct zsl *zsl, const struct zsl_range *r);
size_t zsl_count_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r);

#endif

/*
 * types/zset.c - the sorted set value; see zset.h for the encodings.
 *
 * Handle tagging: a listpack handle is the blob pointer (allocations are at
 *   least 8-aligned, low bit 0); a skiplist handle is a `struct big *` with
 *   the low bit set.
 *
 * Skiplist encoding memory: one node per element (ds/skiplist; the member
 *   inline), linked both in the skiplist and, through its htab_node, in the
 *   member index; `node_bytes` sums the nodes' allocation sizes so that
 *   zset_mem is O(1).
 *
 * Listpack layout: member, score, member, score, ... ascending. Scores are
 *   written as Redis's d2string text (str/d_to_str), which the listpack
 *   stores as an integer when it is one, and read back with strtod (or as
 *   the integer), exactly as Redis's zzl* functions do.
 *
 * Conventions: internal helpers are static and unprefixed; lp_* for the
 *   listpack encoding, big_* for the skiplist one.
 */
#include "types/zset.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/digest.h"
#include "base/hash.h"
#include "base/str.h"
#include "ds/htab.h"
#include "ds/listpack.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct big {
    struct zsl zsl;
    struct htab dict;
    size_t node_bytes;
};

/* The limits are set by CONFIG SET on any worker and read by all: relaxed
 * atomics (a command sees the old or the new value, never a torn one). */
static _Atomic size_t max_entries_ = 128;
static _Atomic size_t max_value_ = 64;

void zset_set_limits(size_t entries, size_t value) {
    atomic_store_explicit(&max_entries_, entries, memory_order_relaxed);
    atomic_store_explicit(&max_value_, value, memory_order_relaxed);
}
size_t zset_max_entries(void) {
    return atomic_load_explicit(&max_entries_, memory_order_relaxed);
}
size_t zset_max_value(void) {
    return atomic_load_explicit(&max_value_, memory_order_relaxed);
}

static inline bool is_big(const struct zset *z) {
    return ((uintptr_t)z & 1) != 0;
}
static inline struct big *big_of(const struct zset *z) {
    return (struct big *)((uintptr_t)z & ~(uintptr_t)1);
}
static inline unsigned char *lp_of(const struct zset *z) {
    return (unsigned char *)z;
}
static inline struct zset *big_handle(struct big *b) {
    return (struct zset *)((uintptr_t)b | 1);
}
static inline struct zset *lp_handle(unsigned char *lp) {
    return (struct zset *)lp;
}

/* ---- listpack encoding ----------------------------------------------------------- */

/* The score stored at sp (Redis's zzlGetScore). */
static double lp_score(const unsigned char *sp) {
    size_t len;
    long long v;
    const unsigned char *s = lp_get(sp, &len, &v);
    if (s == NULL) return (double)v;
    char buf[128];
    if (len >= sizeof(buf)) len = sizeof(buf) - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return strtod(buf, NULL);
}

/* The member at p as bytes (integers formatted into buf). */
static const char *lp_member(const unsigned char *p, size_t *len, char buf[ZSET_INTBUF]) {
    return (const char *)lp_get_str(p, len, (unsigned char *)buf);
}

static int lp_cmp_member(const unsigned char *p, const char *m, size_t mlen) {
    char buf[ZSET_INTBUF];
    size_t len;
    const char *s = lp_member(p, &len, buf);
    return zsl_cmp(s, len, m, mlen);
}

/* The member entry of m, or NULL; *score gets its score. */
static unsigned char *lp_find_member(unsigned char *lp, const char *m, size_t mlen, double *score) {
    unsigned char *p = lp_first(lp);
    while (p) {
        unsigned char *sp = lp_next(lp, p);
        ASSERT(sp != NULL);
        if (lp_eq(p, (const unsigned char *)m, mlen)) {
            if (score) *score = lp_score(sp);
            return p;
        }
        p = lp_next(lp, sp);
    }
    return NULL;
}

/* The listpack item of a score, as Redis's zzlInsertAt writes it: an
 * integer when the double holds one exactly (-0 included, which becomes 0),
 * else its d2string text. */
static struct lp_item score_item(double score, char buf[STR_D_MAX]) {
    if (score >= (double)(-LLONG_MAX / 2) && score <= (double)(LLONG_MAX / 2)) {
        long long ll = (long long)score;
        if ((double)ll == score) return lp_int_item(ll);
    }
    int n = d_to_str(buf, STR_D_MAX, score);
    return lp_str_item(buf, (size_t)n);
}

/* Insert (m, score) at its place (m absent). */
static unsigned char *lp_insert_sorted(unsigned char *lp, const char *m, size_t mlen,
                                       double score) {
    char sbuf[STR_D_MAX];
    struct lp_item items[2] = {lp_str_item(m, mlen), score_item(score, sbuf)};
    unsigned char *p = lp_first(lp);
    while (p) {
        unsigned char *sp = lp_next(lp, p);
        double s = lp_score(sp);
        if (s > score || (s == score && lp_cmp_member(p, m, mlen) > 0)) break;
        p = lp_next(lp, sp);
    }
    if (p == NULL) p = lp + lp_bytes(lp) - 1; /* the terminator: append */
    return lp_insert_batch(lp, p, items, 2, NULL);
}

static unsigned char *lp_delete_pair(unsigned char *lp, unsigned char *p) {
    return lp_delete_range_at(lp, &p, 2);
}

static bool lp_in_score_range(unsigned char *lp, const struct zsl_range *r) {
    if (!zsl_range_valid(r)) return false;
    unsigned char *p = lp_seek(lp, -1);
    if (p == NULL || !zsl_score_gte_min(lp_score(p), r)) return false;
    p = lp_seek(lp, 1);
    return zsl_score_lte_max(lp_score(p), r);
}

static unsigned char *lp_first_in_range(unsigned char *lp, const struct zsl_range *r) {
    if (!lp_in_score_range(lp, r)) return NULL;
    for (unsigned char *p = lp_first(lp); p;) {
        unsigned char *sp = lp_next(lp, p);
        double s = lp_score(sp);
        if (zsl_score_gte_min(s, r)) return zsl_score_lte_max(s, r) ? p : NULL;
        p = lp_next(lp, sp);
    }
    return NULL;
}

static unsigned char *lp_last_in_range(unsigned char *lp, const struct zsl_range *r) {
    if (!lp_in_score_range(lp, r)) return NULL;
    for (unsigned char *sp = lp_last(lp); sp;) {
        unsigned char *p = lp_prev(lp, sp);
        double s = lp_score(sp);
        if (zsl_score_lte_max(s, r)) return zsl_score_gte_min(s, r) ? p : NULL;
        sp = lp_prev(lp, p);
    }
    return NULL;
}

static bool lp_gte_min_lex(const unsigned char *p, const struct zsl_lex_range *r) {
    char buf[ZSET_INTBUF];
    size_t len;
    const char *s = lp_member(p, &len, buf);
    return zsl_lex_gte_min(s, len, r);
}

static bool lp_lte_max_lex(const unsigned char *p, const struct zsl_lex_range *r) {
    char buf[ZSET_INTBUF];
    size_t len;
    const char *s = lp_member(p, &len, buf);
    return zsl_lex_lte_max(s, len, r);
}

static bool lp_in_lex_range(unsigned char *lp, const struct zsl_lex_range *r) {
    if (!zsl_lex_range_valid(r)) return false;
    unsigned char *p = lp_seek(lp, -2);
    if (p == NULL || !lp_gte_min_lex(p, r)) return false;
    p = lp_seek(lp, 0);
    return lp_lte_max_lex(p, r);
}

static unsigned char *lp_first_in_lex(unsigned char *lp, const struct zsl_lex_range *r) {
    if (!lp_in_lex_range(lp, r)) return NULL;
    for (unsigned char *p = lp_first(lp); p;) {
        if (lp_gte_min_lex(p, r)) return lp_lte_max_lex(p, r) ? p : NULL;
        p = lp_next(lp, lp_next(lp, p));
    }
    return NULL;
}

static unsigned char *lp_last_in_lex(unsigned char *lp, const struct zsl_lex_range *r) {
    if (!lp_in_lex_range(lp, r)) return NULL;
    for (unsigned char *p = lp_seek(lp, -2); p;) {
        if (lp_lte_max_lex(p, r)) return lp_gte_min_lex(p, r) ? p : NULL;
        unsigned char *sp = lp_prev(lp, p);
        p = sp ? lp_prev(lp, sp) : NULL;
    }
    return NULL;
}

/* ---- skiplist encoding ------------------------------------------------------------- */

struct mkey {
    const char *m;
    size_t len;
};

static uint64_t node_hash(const struct htab_node *n) {
    const struct zsl_node *x = (const struct zsl_node *)n;
    return hash_keyed(zsl_node_member(x), x->mlen);
}

static bool node_eq(const struct htab_node *n, const void *key) {
    const struct zsl_node *x = (const struct zsl_node *)n;
    const struct mkey *k = key;
    return x->mlen == k->len && memcmp(zsl_node_member(x), k->m, k->len) == 0;
}

static struct big *big_new(void) {
    struct big *b = xmalloc(sizeof(*b));
    zsl_init(&b->zsl);
    htab_init(&b->dict, node_hash);
    b->node_bytes = xusable(b->zsl.header);
    return b;
}

static void big_free(struct big *b) {
    htab_clear(&b->dict, NULL, NULL);
    zsl_destroy(&b->zsl);
    xfree(b);
}

static struct zsl_node *big_find(const struct big *b, const char *m, size_t mlen,
                                 struct htab_pos *pos) {
    struct mkey k = {m, mlen};
    struct htab_pos p;
    if (!htab_find((struct htab *)&b->dict, hash_keyed(m, mlen), node_eq, &k, &p)) return NULL;
    if (pos) *pos = p;
    return (struct zsl_node *)*p.link;
}

/* Add (m, score), m absent. */
static struct zsl_node *big_insert(struct big *b, double score, const char *m, size_t mlen) {
    struct zsl_node *n = zsl_node_new(score, m, mlen);
    b->node_bytes += xusable(n);
    zsl_insert(&b->zsl, n);
    htab_insert(&b->dict, hash_keyed(m, mlen), &n->hnode, NULL);
    return n;
}

/* Drop an unlinked node from the index and free it. */
static void big_drop_node(struct zsl_node *n, void *arg) {
    struct big *b = arg;
    struct htab_pos pos;
    struct zsl_node *x = big_find(b, zsl_node_member(n), n->mlen, &pos);
    ASSERT(x == n);
    htab_remove_at(&b->dict, &pos);
    b->node_bytes -= xusable(n);
    zsl_node_free(n);
}

static bool big_del(struct big *b, const char *m, size_t mlen) {
    struct htab_pos pos;
    struct zsl_node *n = big_find(b, m, mlen, &pos);
    if (n == NULL) return false;
    htab_remove_at(&b->dict, &pos);
    struct zsl_node *x = zsl_delete(&b->zsl, n->score, m, mlen);
    ASSERT(x == n);
    b->node_bytes -= xusable(n);
    zsl_node_free(n);
    return true;
}

/* ---- life cycle ----------------------------------------------------------------------- */

struct zset *zset_create(size_t size_hint, size_t maxlen_hint) {
    size_t max_entries = zset_max_entries();
    if (max_entries == 0 || size_hint > max_entries || maxlen_hint > zset_max_value())
        return zset_create_skiplist();
    return lp_handle(lp_new(0));
}

struct zset *zset_create_skiplist(void) {
    return big_handle(big_new());
}

void zset_destroy(struct zset *z) {
    if (z == NULL) return;
    if (is_big(z))
        big_free(big_of(z));
    else
        lp_free(lp_of(z));
}

struct zset *zset_dup(const struct zset *z) {
    if (!is_big(z)) return lp_handle(lp_dup(lp_of(z)));
    const struct big *src = big_of(z);
    struct big *b = big_new();
    /* Walk from the highest so every insert is at the front: O(1) levels. */
    for (struct zsl_node *x = src->zsl.tail; x; x = x->backward)
        big_insert(b, x->score, zsl_node_member(x), x->mlen);
    return big_handle(b);
}

size_t zset_mem(const struct zset *z) {
    if (!is_big(z)) return xusable(lp_of(z));
    const struct big *b = big_of(z);
    return xusable(b) + b->node_bytes + htab_buckets(&b->dict) * sizeof(void *);
}

bool zset_is_listpack(const struct zset *z) {
    return !is_big(z);
}
const char *zset_enc_name(const struct zset *z) {
    return is_big(z) ? "skiplist" : "listpack";
}
const unsigned char *zset_listpack(const struct zset *z) {
    return is_big(z) ? NULL : lp_of(z);
}

size_t zset_len(const struct zset *z) {
    if (is_big(z)) return big_of(z)->zsl.length;
    return lp_length(lp_of(z)) / 2;
}

void zset_digest(const struct zset *z, unsigned char d[20]) {
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_rank(z, &it, 0, false);
    while (zset_iter_next(&it, &e)) {
        unsigned char ed[20] = {0};
        char buf[STR_D_MAX];
        digest_mix(ed, e.m, e.mlen);
        int n = d_to_str_17g(buf, sizeof(buf), e.score);
        digest_mix(ed, buf, (size_t)n);
        digest_xor(d, ed, 20);
    }
}

void zset_to_skiplist(struct zset **zp) {
    if (is_big(*zp)) return;
    unsigned char *lp = lp_of(*zp);
    struct big *b = big_new();
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_rank(*zp, &it, 0, true);
    while (zset_iter_next(&it, &e)) big_insert(b, e.score, e.m, e.mlen);
    lp_free(lp);
    *zp = big_handle(b);
}

void zset_to_listpack(struct zset **zp) {
    if (!is_big(*zp)) return;
    struct big *b = big_of(*zp);
    unsigned char *lp = lp_new(0);
    for (struct zsl_node *x = zsl_first(&b->zsl); x; x = x->lv[0].forward) {
        char sbuf[STR_D_MAX];
        struct lp_item items[2] = {lp_str_item(zsl_node_member(x), x->mlen),
                                   score_item(x->score, sbuf)};
        lp = lp_append_batch(lp, items, 2);
    }
    big_free(b);
    *zp = lp_handle(lp);
}

void zset_maybe_to_listpack(struct zset **zp, size_t maxelelen, size_t totelelen) {
    if (!is_big(*zp)) return;
    if (big_of(*zp)->zsl.length <= zset_max_entries() && maxelelen <= zset_max_value() &&
        lp_safe_to_add(NULL, totelelen))
        zset_to_listpack(zp);
}

/* ---- single elements -------------------------------------------------------------------- */

bool zset_score(const struct zset *z, const char *m, size_t mlen, double *score) {
    if (!is_big(z)) return lp_find_member(lp_of(z), m, mlen, score) != NULL;
    struct zsl_node *n = big_find(big_of(z), m, mlen, NULL);
    if (n == NULL) return false;
    *score = n->score;
    return true;
}

/* The existing member's new score under the flags: false (NOP/NaN flagged)
 * when nothing is to change. */
static bool update_score(int in, double cur, double *score, int *out) {
    if (in & ZSET_IN_NX) {
        *out |= ZSET_OUT_NOP;
        return false;
    }
    if (in & ZSET_IN_INCR) {
        *score += cur;
        if (isnan(*score)) {
            *out |= ZSET_OUT_NAN;
            return false;
        }
    }
    if (((in & ZSET_IN_LT) && *score >= cur) || ((in & ZSET_IN_GT) && *score <= cur)) {
        *out |= ZSET_OUT_NOP;
        return false;
    }
    return true;
}

bool zset_add(struct zset **zp, double score, const char *m, size_t mlen, int in, int *out,
              double *newscore) {
    *out = 0;
    if (isnan(score)) {
        *out = ZSET_OUT_NAN;
        return false;
    }
    if (!is_big(*zp)) {
        unsigned char *lp = lp_of(*zp);
        double cur;
        unsigned char *p = lp_find_member(lp, m, mlen, &cur);
        if (p) {
            if (!update_score(in, cur, &score, out)) return !(*out & ZSET_OUT_NAN);
            if (newscore) *newscore = score;
            if (score != cur) {
                lp = lp_delete_pair(lp, p);
                *zp = lp_handle(lp_insert_sorted(lp, m, mlen, score));
                *out |= ZSET_OUT_UPDATED;
            }
            return true;
        }
        if (in & ZSET_IN_XX) {
            *out |= ZSET_OUT_NOP;
            return true;
        }
        if (lp_length(lp) / 2 + 1 > zset_max_entries() || mlen > zset_max_value() ||
            !lp_safe_to_add(lp, mlen)) {
            zset_to_skiplist(zp);
        } else {
            *zp = lp_handle(lp_insert_sorted(lp, m, mlen, score));
            if (newscore) *newscore = score;
            *out |= ZSET_OUT_ADDED;
            return true;
        }
    }
    struct big *b = big_of(*zp);
    struct zsl_node *n = big_find(b, m, mlen, NULL);
    if (n) {
        if (!update_score(in, n->score, &score, out)) return !(*out & ZSET_OUT_NAN);
        if (newscore) *newscore = score;
        if (score != n->score) {
            zsl_update_score(&b->zsl, n, score);
            *out |= ZSET_OUT_UPDATED;
        }
        return true;
    }
    if (in & ZSET_IN_XX) {
        *out |= ZSET_OUT_NOP;
        return true;
    }
    big_insert(b, score, m, mlen);
    *out |= ZSET_OUT_ADDED;
    if (newscore) *newscore = score;
    return true;
}

void zset_set_score(struct zset **zp, const char *m, size_t mlen, double score) {
    if (!is_big(*zp)) {
        unsigned char *lp = lp_of(*zp);
        unsigned char *p = lp_find_member(lp, m, mlen, NULL);
        ASSERT(p != NULL);
        lp = lp_delete_pair(lp, p);
        *zp = lp_handle(lp_insert_sorted(lp, m, mlen, score));
        return;
    }
    struct big *b = big_of(*zp);
    struct zsl_node *n = big_find(b, m, mlen, NULL);
    ASSERT(n != NULL);
    if (score != n->score)
        zsl_update_score(&b->zsl, n, score);
    else
        n->score = score; /* same place: only the sign of a zero may change */
}

bool zset_del(struct zset **zp, const char *m, size_t mlen) {
    if (is_big(*zp)) return big_del(big_of(*zp), m, mlen);
    unsigned char *lp = lp_of(*zp);
    unsigned char *p = lp_find_member(lp, m, mlen, NULL);
    if (p == NULL) return false;
    *zp = lp_handle(lp_delete_pair(lp, p));
    return true;
}

long zset_rank(const struct zset *z, const char *m, size_t mlen, bool rev, double *score) {
    size_t len = zset_len(z);
    if (!is_big(z)) {
        unsigned char *lp = lp_of(z);
        long rank = 0;
        for (unsigned char *p = lp_first(lp); p; rank++) {
            unsigned char *sp = lp_next(lp, p);
            if (lp_eq(p, (const unsigned char *)m, mlen)) {
                if (score) *score = lp_score(sp);
                return rev ? (long)len - 1 - rank : rank;
            }
            p = lp_next(lp, sp);
        }
        return -1;
    }
    const struct big *b = big_of(z);
    struct zsl_node *n = big_find(b, m, mlen, NULL);
    if (n == NULL) return -1;
    size_t r = zsl_rank(&b->zsl, n->score, m, mlen);
    ASSERT(r != 0);
    if (score) *score = n->score;
    return rev ? (long)(len - r) : (long)(r - 1);
}

void zset_at_rank(const struct zset *z, size_t rank, struct zset_elem *e, char buf[ZSET_INTBUF]) {
    if (!is_big(z)) {
        unsigned char *lp = lp_of(z);
        unsigned char *p = lp_seek(lp, (long)(2 * rank));
        ASSERT(p != NULL);
        e->m = lp_member(p, &e->mlen, buf);
        e->score = lp_score(lp_next(lp, p));
        return;
    }
    struct zsl_node *n = zsl_by_rank(&big_of(z)->zsl, rank + 1);
    ASSERT(n != NULL);
    e->m = zsl_node_member(n);
    e->mlen = n->mlen;
    e->score = n->score;
}

/* ---- ranges ------------------------------------------------------------------------------ */

size_t zset_count_score(const struct zset *z, const struct zsl_range *r) {
    if (is_big(z)) return zsl_count_in_range(&big_of(z)->zsl, r);
    unsigned char *lp = lp_of(z);
    size_t n = 0;
    for (unsigned char *p = lp_first_in_range(lp, r); p;) {
        unsigned char *sp = lp_next(lp, p);
        if (!zsl_score_lte_max(lp_score(sp), r)) break;
        n++;
        p = lp_next(lp, sp);
    }
    return n;
}

size_t zset_count_lex(const struct zset *z, const struct zsl_lex_range *r) {
    if (is_big(z)) return zsl_count_in_lex_range(&big_of(z)->zsl, r);
    unsigned char *lp = lp_of(z);
    size_t n = 0;
    for (unsigned char *p = lp_first_in_lex(lp, r); p; p = lp_next(lp, lp_next(lp, p))) {
        if (!lp_lte_max_lex(p, r)) break;
        n++;
    }
    return n;
}

size_t zset_delete_rank(struct zset **zp, size_t start, size_t end) {
    if (is_big(*zp)) {
        struct big *b = big_of(*zp);
        return zsl_delete_range_by_rank(&b->zsl, start + 1, end + 1, big_drop_node, b);
    }
    size_t n = end - start + 1;
    *zp = lp_handle(lp_delete_range(lp_of(*zp), (long)(2 * start), 2 * n));
    return n;
}

size_t zset_delete_score(struct zset **zp, const struct zsl_range *r) {
    if (is_big(*zp)) {
        struct big *b = big_of(*zp);
        return zsl_delete_range_by_score(&b->zsl, r, big_drop_node, b);
    }
    unsigned char *lp = lp_of(*zp);
    unsigned char *p = lp_first_in_range(lp, r);
    size_t n = 0;
    while (p) {
        unsigned char *sp = lp_next(lp, p);
        if (!zsl_score_lte_max(lp_score(sp), r)) break;
        lp = lp_delete_range_at(lp, &p, 2);
        n++;
    }
    *zp = lp_handle(lp);
    return n;
}

size_t zset_delete_lex(struct zset **zp, const struct zsl_lex_range *r) {
    if (is_big(*zp)) {
        struct big *b = big_of(*zp);
        return zsl_delete_range_by_lex(&b->zsl, r, big_drop_node, b);
    }
    unsigned char *lp = lp_of(*zp);
    unsigned char *p = lp_first_in_lex(lp, r);
    size_t n = 0;
    while (p && lp_lte_max_lex(p, r)) {
        lp = lp_delete_range_at(lp, &p, 2);
        n++;
    }
    *zp = lp_handle(lp);
    return n;
}

/* ---- iteration --------------------------------------------------------------------------------
 */

static void iter_init(const struct zset *z, struct zset_iter *it, bool rev) {
    it->z = z;
    it->rev = rev;
    it->lp = is_big(z) ? NULL : lp_of(z);
    it->p = NULL;
    it->node = NULL;
}

void zset_iter_rank(const struct zset *z, struct zset_iter *it, size_t start, bool rev) {
    iter_init(z, it, rev);
    size_t len = zset_len(z);
    if (start >= len) return;
    if (it->lp)
        it->p = lp_seek(it->lp, rev ? -2 - 2 * (long)start : 2 * (long)start);
    else
        it->node = zsl_by_rank(&big_of(z)->zsl, rev ? len - start : start + 1);
}

bool zset_iter_score(const struct zset *z, struct zset_iter *it, const struct zsl_range *r,
                     bool rev) {
    iter_init(z, it, rev);
    if (it->lp)
        it->p = rev ? lp_last_in_range(it->lp, r) : lp_first_in_range(it->lp, r);
    else
        it->node =
            rev ? zsl_last_in_range(&big_of(z)->zsl, r) : zsl_first_in_range(&big_of(z)->zsl, r);
    return it->p || it->node;
}

bool zset_iter_lex(const struct zset *z, struct zset_iter *it, const struct zsl_lex_range *r,
                   bool rev) {
    iter_init(z, it, rev);
    if (it->lp)
        it->p = rev ? lp_last_in_lex(it->lp, r) : lp_first_in_lex(it->lp, r);
    else
        it->node = rev ? zsl_last_in_lex_range(&big_of(z)->zsl, r)
                       : zsl_first_in_lex_range(&big_of(z)->zsl, r);
    return it->p || it->node;
}

bool zset_iter_next(struct zset_iter *it, struct zset_elem *e) {
    if (it->lp) {
        unsigned char *p = it->p;
        if (p == NULL) return false;
        unsigned char *sp = lp_next(it->lp, p);
        e->m = lp_member(p, &e->mlen, it->buf);
        e->score = lp_score(sp);
        if (it->rev) {
            unsigned char *prev = lp_prev(it->lp, p);
            it->p = prev ? lp_prev(it->lp, prev) : NULL;
        } else {
            it->p = lp_next(it->lp, sp);
        }
        return true;
    }
    struct zsl_node *n = it->node;
    if (n == NULL) return false;
    e->m = zsl_node_member(n);
    e->mlen = n->mlen;
    e->score = n->score;
    it->node = it->rev ? n->backward : n->lv[0].forward;
    return true;
}

void zset_iter_skip(struct zset_iter *it, size_t n) {
    if (n == 0) return;
    if (it->lp) {
        while (it->p && n--) {
            if (it->rev) {
                unsigned char *prev = lp_prev(it->lp, it->p);
                it->p = prev ? lp_prev(it->lp, prev) : NULL;
            } else {
                it->p = lp_next(it->lp, lp_next(it->lp, it->p));
            }
        }
        return;
    }
    if (it->node == NULL) return;
    const struct zsl *zsl = &big_of(it->z)->zsl;
    size_t r = zsl_rank(zsl, it->node->score, zsl_node_member(it->node), it->node->mlen);
    if (it->rev)
        it->node = n >= r ? NULL : zsl_by_rank(zsl, r - n);
    else
        it->node = n > zsl->length - r ? NULL : zsl_by_rank(zsl, r + n);
}

struct scan_ctx {
    zset_scan_fn fn;
    void *arg;
};

static void scan_visit(struct htab_node *hn, void *arg) {
    struct scan_ctx *ctx = arg;
    const struct zsl_node *n = (const struct zsl_node *)hn;
    struct zset_elem e = {zsl_node_member(n), n->mlen, n->score};
    ctx->fn(&e, ctx->arg);
}

uint64_t zset_scan(const struct zset *z, uint64_t cursor, zset_scan_fn fn, void *arg) {
    ASSERT(is_big(z));
    struct scan_ctx ctx = {fn, arg};
    return htab_scan(&big_of(z)->dict, cursor, scan_visit, &ctx);
}

/* ---- RDB ---------------------------------------------------------------------------------------- */

struct zset *zset_from_listpack(unsigned char *lp) {
    struct zset *z = lp_handle(lp);
    if (zset_len(z) > zset_max_entries()) zset_to_skiplist(&z);
    return z;
}

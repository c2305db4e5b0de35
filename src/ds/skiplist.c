/*
 * ds/skiplist.c - see skiplist.h for the design.
 *
 * Invariants
 *   - Level-0 links visit every node in (score, member) order; tail is the
 *     last node; backward links mirror level 0 (NULL for the first node).
 *   - For every level i < zsl->level: the sum of the spans along level i from
 *     the header equals the rank of each node reached (header = rank 0);
 *     levels >= zsl->level of the header are empty with span 0.
 *   - length counts the linked nodes.
 *
 * Searches keep `update[i]`: the last node at level i before the position of
 *   interest, and `rank[i]`: its rank; inserts and deletes fix the spans of
 *   exactly those nodes.
 */
#include "ds/skiplist.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/rand.h"

#include <string.h>

/* ---- comparisons ------------------------------------------------------------- */

int zsl_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool zsl_score_gte_min(double v, const struct zsl_range *r) {
    return r->minex ? v > r->min : v >= r->min;
}
bool zsl_score_lte_max(double v, const struct zsl_range *r) {
    return r->maxex ? v < r->max : v <= r->max;
}

bool zsl_range_valid(const struct zsl_range *r) {
    return !(r->min > r->max || (r->min == r->max && (r->minex || r->maxex)));
}

/* A member against a bound: <0, 0, >0 (the infinities are never equal). */
static int cmp_value_bound(const char *s, size_t n, const struct zsl_lex_bound *b) {
    if (b->kind == ZSL_LEX_MINUS) return 1;
    if (b->kind == ZSL_LEX_PLUS) return -1;
    return zsl_cmp(s, n, b->s, b->len);
}

/* Two bounds, as Redis's sdscmplex orders its shared min/max strings. */
static int cmp_bounds(const struct zsl_lex_bound *a, const struct zsl_lex_bound *b) {
    if (a->kind != ZSL_LEX_VALUE && a->kind == b->kind) return 0;
    if (a->kind == ZSL_LEX_MINUS || b->kind == ZSL_LEX_PLUS) return -1;
    if (a->kind == ZSL_LEX_PLUS || b->kind == ZSL_LEX_MINUS) return 1;
    return zsl_cmp(a->s, a->len, b->s, b->len);
}

bool zsl_lex_gte_min(const char *s, size_t n, const struct zsl_lex_range *r) {
    int c = cmp_value_bound(s, n, &r->min);
    return r->min.ex ? c > 0 : c >= 0;
}

bool zsl_lex_lte_max(const char *s, size_t n, const struct zsl_lex_range *r) {
    int c = cmp_value_bound(s, n, &r->max);
    return r->max.ex ? c < 0 : c <= 0;
}

bool zsl_lex_range_valid(const struct zsl_lex_range *r) {
    int c = cmp_bounds(&r->min, &r->max);
    return !(c > 0 || (c == 0 && (r->min.ex || r->max.ex)));
}

/* Is node x before (score, member) in the order? */
static inline bool node_before(const struct zsl_node *x, double score, const char *m, size_t mlen) {
    return x->score < score ||
           (x->score == score && zsl_cmp(zsl_node_member(x), x->mlen, m, mlen) < 0);
}

/* ---- nodes ------------------------------------------------------------------------ */

/* 1 + the number of leading pairs of zero bits: P(h) = 0.25^(h-1). */
static int random_height(void) {
    uint64_t r = rand_u64();
    int h = 1 + (r ? __builtin_ctzll(r) : 64) / 2;
    return h > ZSL_MAXLEVEL ? ZSL_MAXLEVEL : h;
}

static struct zsl_node *node_alloc(int height, double score, const char *member, size_t mlen) {
    ASSERT(mlen <= UINT32_MAX);
    struct zsl_node *n = xmalloc(sizeof(*n) + (size_t)height * sizeof(struct zsl_level) + mlen);
    n->hnode.next = NULL;
    n->score = score;
    n->backward = NULL;
    n->mlen = (uint32_t)mlen;
    n->height = (uint8_t)height;
    if (mlen) memcpy((char *)(n->lv + height), member, mlen);
    return n;
}

struct zsl_node *zsl_node_new(double score, const char *member, size_t mlen) {
    return node_alloc(random_height(), score, member, mlen);
}

void zsl_node_free(struct zsl_node *n) {
    xfree(n);
}

void zsl_init(struct zsl *zsl) {
    zsl->header = node_alloc(ZSL_MAXLEVEL, 0, NULL, 0);
    for (int i = 0; i < ZSL_MAXLEVEL; i++) {
        zsl->header->lv[i].forward = NULL;
        zsl->header->lv[i].span = 0;
    }
    zsl->tail = NULL;
    zsl->length = 0;
    zsl->level = 1;
}

void zsl_destroy(struct zsl *zsl) {
    if (zsl->header == NULL) return;
    struct zsl_node *x = zsl->header->lv[0].forward;
    while (x) {
        struct zsl_node *next = x->lv[0].forward;
        xfree(x);
        x = next;
    }
    xfree(zsl->header);
    zsl->header = zsl->tail = NULL;
    zsl->length = 0;
}

/* ---- insert / delete ---------------------------------------------------------------- */

void zsl_insert(struct zsl *zsl, struct zsl_node *n) {
    struct zsl_node *update[ZSL_MAXLEVEL];
    size_t rank[ZSL_MAXLEVEL];
    const char *m = zsl_node_member(n);
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (x->lv[i].forward && node_before(x->lv[i].forward, n->score, m, n->mlen)) {
            rank[i] += x->lv[i].span;
            x = x->lv[i].forward;
        }
        update[i] = x;
    }
    int h = n->height;
    if (h > zsl->level) {
        for (int i = zsl->level; i < h; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->lv[i].span = zsl->length;
        }
        zsl->level = h;
    }
    for (int i = 0; i < h; i++) {
        n->lv[i].forward = update[i]->lv[i].forward;
        update[i]->lv[i].forward = n;
        n->lv[i].span = update[i]->lv[i].span - (rank[0] - rank[i]);
        update[i]->lv[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = h; i < zsl->level; i++) update[i]->lv[i].span++;
    n->backward = update[0] == zsl->header ? NULL : update[0];
    if (n->lv[0].forward)
        n->lv[0].forward->backward = n;
    else
        zsl->tail = n;
    zsl->length++;
}

/* Unlink x given its predecessors at every level. */
static void unlink_node(struct zsl *zsl, struct zsl_node *x, struct zsl_node **update) {
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->lv[i].forward == x) {
            update[i]->lv[i].span += x->lv[i].span - 1;
            update[i]->lv[i].forward = x->lv[i].forward;
        } else {
            update[i]->lv[i].span -= 1;
        }
    }
    if (x->lv[0].forward)
        x->lv[0].forward->backward = x->backward;
    else
        zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->lv[zsl->level - 1].forward == NULL) zsl->level--;
    zsl->length--;
}

/* Fill update[] for (score, member); return the node after update[0]. */
static struct zsl_node *find_update(struct zsl *zsl, double score, const char *m, size_t mlen,
                                    struct zsl_node **update) {
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && node_before(x->lv[i].forward, score, m, mlen))
            x = x->lv[i].forward;
        update[i] = x;
    }
    return x->lv[0].forward;
}

struct zsl_node *zsl_delete(struct zsl *zsl, double score, const char *member, size_t mlen) {
    struct zsl_node *update[ZSL_MAXLEVEL];
    struct zsl_node *x = find_update(zsl, score, member, mlen, update);
    if (x && x->score == score && zsl_cmp(zsl_node_member(x), x->mlen, member, mlen) == 0) {
        unlink_node(zsl, x, update);
        return x;
    }
    return NULL;
}

void zsl_update_score(struct zsl *zsl, struct zsl_node *n, double newscore) {
    struct zsl_node *update[ZSL_MAXLEVEL];
    struct zsl_node *x = find_update(zsl, n->score, zsl_node_member(n), n->mlen, update);
    ASSERT(x == n);
    /* Still between its neighbours: change the score in place. */
    if ((x->backward == NULL || x->backward->score < newscore) &&
        (x->lv[0].forward == NULL || x->lv[0].forward->score > newscore)) {
        x->score = newscore;
        return;
    }
    unlink_node(zsl, x, update);
    x->score = newscore;
    zsl_insert(zsl, x);
}

size_t zsl_delete_range_by_score(struct zsl *zsl, const struct zsl_range *r, zsl_node_fn fn,
                                 void *arg) {
    struct zsl_node *update[ZSL_MAXLEVEL];
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && !zsl_score_gte_min(x->lv[i].forward->score, r))
            x = x->lv[i].forward;
        update[i] = x;
    }
    x = x->lv[0].forward;
    size_t removed = 0;
    while (x && zsl_score_lte_max(x->score, r)) {
        struct zsl_node *next = x->lv[0].forward;
        unlink_node(zsl, x, update);
        fn(x, arg);
        removed++;
        x = next;
    }
    return removed;
}

size_t zsl_delete_range_by_lex(struct zsl *zsl, const struct zsl_lex_range *r, zsl_node_fn fn,
                               void *arg) {
    struct zsl_node *update[ZSL_MAXLEVEL];
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward &&
               !zsl_lex_gte_min(zsl_node_member(x->lv[i].forward), x->lv[i].forward->mlen, r))
            x = x->lv[i].forward;
        update[i] = x;
    }
    x = x->lv[0].forward;
    size_t removed = 0;
    while (x && zsl_lex_lte_max(zsl_node_member(x), x->mlen, r)) {
        struct zsl_node *next = x->lv[0].forward;
        unlink_node(zsl, x, update);
        fn(x, arg);
        removed++;
        x = next;
    }
    return removed;
}

size_t zsl_delete_range_by_rank(struct zsl *zsl, size_t start, size_t end, zsl_node_fn fn,
                                void *arg) {
    struct zsl_node *update[ZSL_MAXLEVEL];
    size_t traversed = 0;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && traversed + x->lv[i].span < start) {
            traversed += x->lv[i].span;
            x = x->lv[i].forward;
        }
        update[i] = x;
    }
    traversed++;
    x = x->lv[0].forward;
    size_t removed = 0;
    while (x && traversed <= end) {
        struct zsl_node *next = x->lv[0].forward;
        unlink_node(zsl, x, update);
        fn(x, arg);
        removed++;
        traversed++;
        x = next;
    }
    return removed;
}

/* ---- queries ------------------------------------------------------------------------ */

size_t zsl_rank(const struct zsl *zsl, double score, const char *member, size_t mlen) {
    size_t rank = 0;
    const struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && (x->lv[i].forward->score < score ||
                                    (x->lv[i].forward->score == score &&
                                     zsl_cmp(zsl_node_member(x->lv[i].forward),
                                             x->lv[i].forward->mlen, member, mlen) <= 0))) {
            rank += x->lv[i].span;
            x = x->lv[i].forward;
        }
        if (x != zsl->header && x->score == score &&
            zsl_cmp(zsl_node_member(x), x->mlen, member, mlen) == 0)
            return rank;
    }
    return 0;
}

struct zsl_node *zsl_by_rank(const struct zsl *zsl, size_t rank) {
    if (rank == 0 || rank > zsl->length) return NULL;
    size_t traversed = 0;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->lv[i].forward && traversed + x->lv[i].span <= rank) {
            traversed += x->lv[i].span;
            x = x->lv[i].forward;
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

static bool in_range(const struct zsl *zsl, const struct zsl_range *r) {
    if (!zsl_range_valid(r)) return false;
    if (zsl->tail == NULL || !zsl_score_gte_min(zsl->tail->score, r)) return false;
    const struct zsl_node *x = zsl->header->lv[0].forward;
    return x && zsl_score_lte_max(x->score, r);
}

struct zsl_node *zsl_first_in_range(const struct zsl *zsl, const struct zsl_range *r) {
    if (!in_range(zsl, r)) return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->lv[i].forward && !zsl_score_gte_min(x->lv[i].forward->score, r))
            x = x->lv[i].forward;
    x = x->lv[0].forward;
    return x && zsl_score_lte_max(x->score, r) ? x : NULL;
}

struct zsl_node *zsl_last_in_range(const struct zsl *zsl, const struct zsl_range *r) {
    if (!in_range(zsl, r)) return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->lv[i].forward && zsl_score_lte_max(x->lv[i].forward->score, r))
            x = x->lv[i].forward;
    return x != zsl->header && zsl_score_gte_min(x->score, r) ? x : NULL;
}

static bool in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r) {
    if (!zsl_lex_range_valid(r)) return false;
    const struct zsl_node *x = zsl->tail;
    if (x == NULL || !zsl_lex_gte_min(zsl_node_member(x), x->mlen, r)) return false;
    x = zsl->header->lv[0].forward;
    return x && zsl_lex_lte_max(zsl_node_member(x), x->mlen, r);
}

struct zsl_node *zsl_first_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r) {
    if (!in_lex_range(zsl, r)) return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->lv[i].forward &&
               !zsl_lex_gte_min(zsl_node_member(x->lv[i].forward), x->lv[i].forward->mlen, r))
            x = x->lv[i].forward;
    x = x->lv[0].forward;
    return x && zsl_lex_lte_max(zsl_node_member(x), x->mlen, r) ? x : NULL;
}

struct zsl_node *zsl_last_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r) {
    if (!in_lex_range(zsl, r)) return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->lv[i].forward &&
               zsl_lex_lte_max(zsl_node_member(x->lv[i].forward), x->lv[i].forward->mlen, r))
            x = x->lv[i].forward;
    return x != zsl->header && zsl_lex_gte_min(zsl_node_member(x), x->mlen, r) ? x : NULL;
}

static size_t node_rank(const struct zsl *zsl, const struct zsl_node *n) {
    return zsl_rank(zsl, n->score, zsl_node_member(n), n->mlen);
}

size_t zsl_count_in_range(const struct zsl *zsl, const struct zsl_range *r) {
    struct zsl_node *first = zsl_first_in_range(zsl, r);
    if (first == NULL) return 0;
    struct zsl_node *last = zsl_last_in_range(zsl, r);
    return node_rank(zsl, last) - node_rank(zsl, first) + 1;
}

size_t zsl_count_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r) {
    struct zsl_node *first = zsl_first_in_lex_range(zsl, r);
    if (first == NULL) return 0;
    struct zsl_node *last = zsl_last_in_lex_range(zsl, r);
    return node_rank(zsl, last) - node_rank(zsl, first) + 1;
}

/*
 * ds/htab.c - see htab.h for the design.
 *
 * Invariants
 *   - Not rehashing: table[1] == NULL, exp[1] == -1, rehash_idx == -1.
 *   - Rehashing: buckets [0, rehash_idx) of table[0] are empty; every node is
 *     in table[0] at hash & mask0 or in table[1] at hash & mask1.
 *   - used[t] counts the nodes in table[t].
 */
#include "ds/htab.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/rand.h"
#include "base/time.h"

#include <string.h>

#define INITIAL_EXP 2 /* 4 buckets */
/* Tables up to this many buckets are rehashed in one go: moving at most a
 * few thousand pointers takes a few microseconds, and keeping two arrays
 * alive for a small table costs more memory than it saves latency. */
#define INSTANT_REHASH_MAX 1024
#define EMPTY_VISITS 10 /* empty buckets a rehash step may skip per bucket moved */

static inline size_t bsize(const struct htab *h, int t) {
    return h->exp[t] < 0 ? 0 : (size_t)1 << h->exp[t];
}
static inline size_t bmask(const struct htab *h, int t) {
    return h->exp[t] < 0 ? 0 : bsize(h, t) - 1;
}

void htab_init(struct htab *h, htab_hash_fn hash) {
    memset(h, 0, sizeof(*h));
    h->max_load = 1;
    h->exp[0] = h->exp[1] = -1;
    h->rehash_idx = -1;
    h->hash = hash;
}

size_t htab_buckets(const struct htab *h) { return bsize(h, 0) + bsize(h, 1); }

void htab_clear(struct htab *h, htab_visit_fn free_fn, void *arg) {
    for (int t = 0; t < 2; t++) {
        if (h->table[t] == NULL) continue;
        if (free_fn) {
            size_t n = bsize(h, t);
            for (size_t i = 0; i < n; i++) {
                struct htab_node *e = h->table[t][i];
                while (e) {
                    struct htab_node *next = e->next;
                    free_fn(e, arg);
                    e = next;
                }
            }
        }
        xfree(h->table[t]);
    }
    uint8_t load = h->max_load;
    htab_init(h, h->hash);
    h->max_load = load;
}

static int exp_for(size_t n) {
    int e = INITIAL_EXP;
    while (((size_t)1 << e) < n && e < 62) e++;
    return e;
}

/* Start moving everything into a table of 2^exp buckets. */
static void resize_to(struct htab *h, int exp) {
    ASSERT(!htab_rehashing(h));
    if (exp == h->exp[0]) return;
    struct htab_node **nt = xcalloc((size_t)1 << exp, sizeof(*nt));
    if (h->table[0] == NULL) {
        h->table[0] = nt;
        h->exp[0] = (int8_t)exp;
        return;
    }
    h->table[1] = nt;
    h->exp[1] = (int8_t)exp;
    h->used[1] = 0;
    h->rehash_idx = 0;
    if (bsize(h, 0) <= INSTANT_REHASH_MAX && h->paused == 0)
        while (htab_rehash(h, 1024)) {
        }
}

static void finish_rehash(struct htab *h) {
    xfree(h->table[0]);
    h->table[0] = h->table[1];
    h->exp[0] = h->exp[1];
    h->used[0] = h->used[1];
    h->table[1] = NULL;
    h->exp[1] = -1;
    h->used[1] = 0;
    h->rehash_idx = -1;
}

bool htab_rehash(struct htab *h, int n) {
    if (!htab_rehashing(h)) return false;
    int empty = n * EMPTY_VISITS;
    size_t size0 = bsize(h, 0), mask1 = bmask(h, 1);
    while (n-- > 0 && h->used[0] != 0) {
        while (h->table[0][h->rehash_idx] == NULL) {
            h->rehash_idx++;
            if (--empty == 0) return true;
        }
        struct htab_node *e = h->table[0][h->rehash_idx];
        while (e) {
            struct htab_node *next = e->next;
            size_t b = h->hash(e) & mask1;
            e->next = h->table[1][b];
            h->table[1][b] = e;
            h->used[0]--;
            h->used[1]++;
            e = next;
        }
        h->table[0][h->rehash_idx] = NULL;
        h->rehash_idx++;
    }
    if (h->used[0] == 0) {
        (void)size0;
        finish_rehash(h);
        return false;
    }
    return true;
}

int htab_rehash_us(struct htab *h, int64_t us) {
    int64_t start = time_mono_us();
    int moved = 0;
    while (htab_rehash(h, 100)) {
        moved += 100;
        if (time_mono_us() - start > us) break;
    }
    return moved;
}

static inline void step(struct htab *h) {
    if (h->rehash_idx >= 0 && h->paused == 0) htab_rehash(h, 1);
}

bool htab_find(struct htab *h, uint64_t hash, htab_eq_fn eq, const void *key, struct htab_pos *pos) {
    if (htab_count(h) == 0) return false;
    step(h);
    for (int t = 0; t < 2; t++) {
        if (h->table[t] == NULL) break;
        size_t b = hash & bmask(h, t);
        /* Buckets already moved out of table[0] are empty; no need to check. */
        struct htab_node **link = &h->table[t][b];
        while (*link) {
            if (eq(*link, key)) {
                pos->link = link;
                pos->t = t;
                return true;
            }
            link = &(*link)->next;
        }
        if (!htab_rehashing(h)) break;
    }
    return false;
}

void htab_insert(struct htab *h, uint64_t hash, struct htab_node *n, struct htab_pos *pos) {
    if (h->table[0] == NULL) resize_to(h, INITIAL_EXP);
    step(h);
    if (!htab_rehashing(h) && h->used[0] >= bsize(h, 0) * h->max_load)
        resize_to(h, exp_for((h->used[0] + h->max_load) / h->max_load)); /* doubles */
    int t = htab_rehashing(h) ? 1 : 0;
    size_t b = hash & bmask(h, t);
    n->next = h->table[t][b];
    h->table[t][b] = n;
    h->used[t]++;
    if (pos) {
        pos->link = &h->table[t][b];
        pos->t = t;
    }
}

void htab_shrink_if_needed(struct htab *h) {
    if (htab_rehashing(h) || h->table[0] == NULL) return;
    size_t size = bsize(h, 0);
    if (h->used[0] == 0) {
        xfree(h->table[0]);
        h->table[0] = NULL;
        h->exp[0] = -1;
        return;
    }
    if (size > ((size_t)1 << INITIAL_EXP) && h->used[0] * 8 < size) resize_to(h, exp_for(h->used[0]));
}

void htab_remove_at(struct htab *h, const struct htab_pos *pos) {
    struct htab_node *n = *pos->link;
    *pos->link = n->next;
    n->next = NULL;
    h->used[pos->t]--;
    if (h->paused == 0) htab_shrink_if_needed(h);
}

/* Reverse the bits of v. */
static inline uint64_t rev(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return __builtin_bswap64(v);
}

static void visit_bucket(struct htab_node *e, htab_visit_fn fn, void *arg) {
    while (e) {
        struct htab_node *next = e->next;
        fn(e, arg);
        e = next;
    }
}

uint64_t htab_scan(struct htab *h, uint64_t v, htab_visit_fn fn, void *arg) {
    if (htab_count(h) == 0) return 0;
    h->paused++;
    if (!htab_rehashing(h)) {
        uint64_t m0 = bmask(h, 0);
        visit_bucket(h->table[0][v & m0], fn, arg);
        /* Increment the reversed cursor over the bits the mask keeps. */
        v |= ~m0;
        v = rev(v);
        v++;
        v = rev(v);
    } else {
        int small = bsize(h, 0) <= bsize(h, 1) ? 0 : 1, big = 1 - small;
        uint64_t m0 = bmask(h, small), m1 = bmask(h, big);
        visit_bucket(h->table[small][v & m0], fn, arg);
        /* Then every bucket of the bigger table that expands that bucket. */
        do {
            visit_bucket(h->table[big][v & m1], fn, arg);
            v |= ~m1;
            v = rev(v);
            v++;
            v = rev(v);
        } while (v & (m0 ^ m1));
    }
    h->paused--;
    return v;
}

struct htab_node *htab_random(struct htab *h) {
    if (htab_count(h) == 0) return NULL;
    step(h);
    struct htab_node *head = NULL;
    if (htab_rehashing(h)) {
        /* Buckets below rehash_idx in table[0] are empty: skip them. */
        size_t s0 = bsize(h, 0), s1 = bsize(h, 1);
        do {
            uint64_t r = (uint64_t)h->rehash_idx + rand_below(s0 + s1 - (size_t)h->rehash_idx);
            head = r >= s0 ? h->table[1][r - s0] : h->table[0][r];
        } while (head == NULL);
    } else {
        size_t m = bmask(h, 0);
        do {
            head = h->table[0][rand_u64() & m];
        } while (head == NULL);
    }
    size_t len = 0;
    for (struct htab_node *e = head; e; e = e->next) len++;
    size_t k = rand_below(len);
    while (k--) head = head->next;
    return head;
}

size_t htab_sample(struct htab *h, struct htab_node **out, size_t n) {
    size_t count = htab_count(h);
    if (n > count) n = count;
    if (n == 0) return 0;
    step(h);
    int tables = htab_rehashing(h) ? 2 : 1;
    size_t maxmask = bmask(h, 0);
    if (tables == 2 && bmask(h, 1) > maxmask) maxmask = bmask(h, 1);
    size_t i = rand_u64() & maxmask;
    size_t stored = 0, empty = 0, steps = n * 10;
    while (stored < n && steps--) {
        for (int t = 0; t < tables; t++) {
            /* Skip moved-out buckets of table[0] while rehashing. */
            if (tables == 2 && t == 0 && i < (size_t)h->rehash_idx) {
                if (i >= bsize(h, 1)) i = (size_t)h->rehash_idx;
                continue;
            }
            if (i >= bsize(h, t)) continue;
            struct htab_node *e = h->table[t][i];
            if (e == NULL) {
                empty++;
                if (empty >= 5 && empty > n) {
                    i = rand_u64() & maxmask;
                    empty = 0;
                }
            } else {
                empty = 0;
                while (e && stored < n) {
                    out[stored++] = e;
                    e = e->next;
                }
            }
        }
        i = (i + 1) & maxmask;
    }
    return stored;
}

static struct htab_node *advance(struct htab *h, struct htab_iter *it) {
    for (;;) {
        if (it->node) {
            struct htab_node *n = it->node;
            it->node = n->next;
            return n;
        }
        if (it->t >= 2 || h->table[it->t] == NULL) return NULL;
        if (it->idx >= bsize(h, it->t)) {
            it->t++;
            it->idx = 0;
            continue;
        }
        it->node = h->table[it->t][it->idx++];
    }
}

struct htab_node *htab_first(struct htab *h, struct htab_iter *it) {
    it->t = 0;
    it->idx = 0;
    it->node = NULL;
    return advance(h, it);
}

struct htab_node *htab_next(struct htab *h, struct htab_iter *it) { return advance(h, it); }

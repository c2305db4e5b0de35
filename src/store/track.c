/*
 * store/track.c - see track.h.
 *
 *   stripe.track (htab of struct tracked, key = key bytes, no db)
 *      tracked{key, tok[0..n)}   tokens sorted ascending, distinct
 *
 * Invariants: a `tracked` entry exists only with n >= 1; stripe.ntrack is
 * the number of entries of that stripe's table (read without the lock only
 * as a hint); nkeys/nitems are the sums over all stripes.
 */
#include "store/track.h"
#include "store/store_internal.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/rand.h"

#include <stdatomic.h>

struct tracked {
    struct htab_node node;
    uint64_t *tok;
    uint32_t n, cap;
    size_t klen;
    char key[];
};

struct track_table {
    struct htab keys;
};

struct tkey {
    const char *key;
    size_t klen;
};

static _Atomic bool bcast_on;
static _Atomic uint64_t nkeys, nitems;
static __thread struct store_track_batch tb;
__thread bool store_track_dirty_;
static __thread uint64_t actor;

static uint64_t tk_hash(const struct htab_node *n) {
    const struct tracked *t = (const struct tracked *)n;
    return store_hash_key(t->key, t->klen);
}

static bool tk_eq(const struct htab_node *n, const void *key) {
    const struct tracked *t = (const struct tracked *)n;
    const struct tkey *k = key;
    return t->klen == k->klen && memcmp(t->key, k->key, k->klen) == 0;
}

static void count_add(_Atomic uint64_t *c, int64_t d) {
    atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

void store_track_set_actor(uint64_t token) { actor = token; }

void store_track_set_bcast(bool on) { atomic_store_explicit(&bcast_on, on, memory_order_relaxed); }

uint64_t store_track_keys(void) { return atomic_load_explicit(&nkeys, memory_order_relaxed); }
uint64_t store_track_items(void) { return atomic_load_explicit(&nitems, memory_order_relaxed); }

void store_track_key(const struct store_key *k, uint64_t token) {
    DEBUG_ASSERT(store_holds(k->slot));
    struct stripe *sp = &store_stripes[store_stripe_of(k->slot)];
    if (sp->track == NULL) {
        sp->track = xcalloc(1, sizeof(*sp->track));
        htab_init(&sp->track->keys, tk_hash);
    }
    uint64_t h = store_hash_key(k->ptr, k->len);
    struct tkey key = {k->ptr, k->len};
    struct htab_pos pos;
    struct tracked *t;
    if (htab_find(&sp->track->keys, h, tk_eq, &key, &pos)) {
        t = (struct tracked *)*pos.link;
    } else {
        t = xmalloc(sizeof(*t) + k->len);
        t->tok = NULL;
        t->n = t->cap = 0;
        t->klen = k->len;
        memcpy(t->key, k->ptr, k->len);
        htab_insert(&sp->track->keys, h, &t->node, NULL);
        atomic_fetch_add_explicit(&sp->ntrack, 1, memory_order_relaxed);
        count_add(&nkeys, 1);
    }
    /* Sorted insert (binary search): a hot key may have many trackers. */
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->tok[mid] < token)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n && t->tok[lo] == token) return;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 2;
        t->tok = xrealloc(t->tok, t->cap * sizeof(*t->tok));
    }
    memmove(t->tok + lo + 1, t->tok + lo, (t->n - lo) * sizeof(*t->tok));
    t->tok[lo] = token;
    t->n++;
    count_add(&nitems, 1);
}

/* ---- the batch ------------------------------------------------------------------ */

static void put_rec(struct buf *b, const char *key, size_t klen, uint64_t who, const uint64_t *tok, uint32_t ntok) {
    uint32_t hdr[2] = {(uint32_t)klen, ntok};
    size_t pad = (8 - (klen & 7)) & 7;
    static const char zeros[8];
    store_track_dirty_ = true;
    buf_append(b, hdr, sizeof(hdr));
    buf_append(b, &who, sizeof(who));
    if (ntok) buf_append(b, tok, ntok * sizeof(*tok));
    buf_append(b, key, klen);
    buf_append(b, zeros, pad);
}

bool store_track_next(const struct buf *b, size_t *off, struct store_track_rec *r) {
    if (*off >= b->len) return false;
    const char *p = b->data + *off;
    uint32_t hdr[2];
    memcpy(hdr, p, sizeof(hdr));
    memcpy(&r->actor, p + 8, sizeof(r->actor));
    r->klen = hdr[0];
    r->ntok = hdr[1];
    r->tokens = (const uint64_t *)(const void *)(p + 16); /* 8-aligned: records are padded */
    r->key = p + 16 + (size_t)r->ntok * 8;
    *off += 16 + (size_t)r->ntok * 8 + ((r->klen + 7) & ~(size_t)7);
    return true;
}

void store_track_take(struct store_track_batch *out) {
    struct store_track_batch t = *out;
    *out = tb;
    tb = t;
    buf_clear(&tb.keys);
    buf_clear(&tb.bcast);
    tb.flushed = false;
    store_track_dirty_ = false;
}

void store_track_batch_free(struct store_track_batch *b) {
    buf_free(&b->keys);
    buf_free(&b->bcast);
    b->flushed = false;
}

void store_track_thread_cleanup(void) {
    store_track_batch_free(&tb);
    store_track_dirty_ = false;
}

/* ---- invalidation (called by the store under the stripe lock) -------------------- */

static void drop_tracked(struct stripe *sp, const struct htab_pos *pos, struct tracked *t, uint64_t who) {
    put_rec(&tb.keys, t->key, t->klen, who, t->tok, t->n);
    htab_remove_at(&sp->track->keys, pos);
    atomic_fetch_sub_explicit(&sp->ntrack, 1, memory_order_relaxed);
    count_add(&nkeys, -1);
    count_add(&nitems, -(int64_t)t->n);
    xfree(t->tok);
    xfree(t);
}

void track_touch_locked(struct stripe *sp, const char *key, size_t klen, bool by_store) {
    uint64_t who = by_store ? 0 : actor;
    if (UNLIKELY(atomic_load_explicit(&bcast_on, memory_order_relaxed))) put_rec(&tb.bcast, key, klen, who, NULL, 0);
    if (LIKELY(atomic_load_explicit(&sp->ntrack, memory_order_relaxed) == 0)) return;
    struct tkey k = {key, klen};
    struct htab_pos pos;
    if (!htab_find(&sp->track->keys, store_hash_key(key, klen), tk_eq, &k, &pos)) return;
    drop_tracked(sp, &pos, (struct tracked *)*pos.link, who);
}

static void free_tracked(struct htab_node *n, void *arg) {
    struct tracked *t = (struct tracked *)n;
    xfree(t->tok);
    xfree(t);
}

void track_flush_locked(void) {
    DEBUG_ASSERT(store_holds_all());
    for (int s = 0; s < STORE_STRIPES; s++) {
        struct stripe *sp = &store_stripes[s];
        if (sp->track == NULL) continue;
        htab_clear(&sp->track->keys, free_tracked, NULL);
        xfree(sp->track);
        sp->track = NULL;
        atomic_store_explicit(&sp->ntrack, 0, memory_order_relaxed);
    }
    atomic_store_explicit(&nkeys, 0, memory_order_relaxed);
    atomic_store_explicit(&nitems, 0, memory_order_relaxed);
    tb.flushed = true;
    store_track_dirty_ = true;
}

void track_teardown(void) {
    for (int s = 0; s < STORE_STRIPES; s++) {
        struct stripe *sp = &store_stripes[s];
        if (sp->track == NULL) continue;
        htab_clear(&sp->track->keys, free_tracked, NULL);
        xfree(sp->track);
        sp->track = NULL;
        atomic_store_explicit(&sp->ntrack, 0, memory_order_relaxed);
    }
    atomic_store(&nkeys, 0);
    atomic_store(&nitems, 0);
}

/* ---- the size limit ----------------------------------------------------------------- */

struct evict_step {
    unsigned stripe;
    uint64_t max_keys;
    int budget; /* keys this step may still drop */
};

static void evict_locked(void *arg) {
    struct evict_step *e = arg;
    struct stripe *sp = &store_stripes[e->stripe];
    while (atomic_load_explicit(&sp->ntrack, memory_order_relaxed) > 0 && e->budget > 0 && store_track_keys() > e->max_keys) {
        struct htab_node *n = htab_random(&sp->track->keys);
        if (n == NULL) break;
        struct tracked *t = (struct tracked *)n;
        struct tkey k = {t->key, t->klen};
        struct htab_pos pos;
        if (!htab_find(&sp->track->keys, store_hash_key(t->key, t->klen), tk_eq, &k, &pos)) break;
        drop_tracked(sp, &pos, t, 0);
        e->budget--;
    }
}

bool store_track_evict(uint64_t max_keys, int effort) {
    struct evict_step e = {0, max_keys, effort};
    unsigned start = (unsigned)rand_below(STORE_STRIPES);
    for (unsigned i = 0; i < STORE_STRIPES && e.budget > 0 && store_track_keys() > max_keys; i++) {
        e.stripe = (start + i) % STORE_STRIPES;
        /* ntrack read without the lock: a hint, rechecked inside. */
        if (atomic_load_explicit(&store_stripes[e.stripe].ntrack, memory_order_relaxed) == 0) continue;
        store_run_slot((uint16_t)e.stripe, STORE_WRITE, evict_locked, &e);
    }
    return store_track_keys() <= max_keys;
}

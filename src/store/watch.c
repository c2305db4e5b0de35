/*
 * store/watch.c - see watch.h.
 *
 *   stripe.watch (htab of struct watched, key = (db, key))
 *      watched{db, key} -> rec(client A) <-> rec(client B) ...
 *   store_watch (per client): rec -> rec -> ... (next_in_client)
 */
#include "store/watch.h"
#include "store/store_internal.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/hash.h"

struct watched {
    struct htab_node node;
    int db;
    struct watch_rec *recs;
    size_t klen;
    char key[];
};

struct watch_rec {
    struct watch_rec *prev, *next;  /* watchers of the same key */
    struct watch_rec *next_in_client;
    struct watched *wk;
    struct store_watch *owner;
    uint16_t slot;
    bool expired; /* the key was logically expired when watched */
};

struct watch_table {
    struct htab keys;
};

struct wkey {
    int db;
    const char *key;
    size_t klen;
};

static uint64_t wk_hash_of(int db, const char *key, size_t klen) {
    return store_hash_key(key, klen) ^ ((uint64_t)(unsigned)db * 0x9e3779b97f4a7c15ULL);
}

static uint64_t wk_hash(const struct htab_node *n) {
    const struct watched *w = (const struct watched *)n;
    return wk_hash_of(w->db, w->key, w->klen);
}

static bool wk_eq(const struct htab_node *n, const void *key) {
    const struct watched *w = (const struct watched *)n;
    const struct wkey *k = key;
    return w->db == k->db && w->klen == k->klen && memcmp(w->key, k->key, k->klen) == 0;
}

static struct watched *find_watched(struct stripe *sp, int db, const char *key, size_t klen,
                                    struct htab_pos *pos) {
    if (sp->watch == NULL) return NULL;
    struct wkey k = {db, key, klen};
    struct htab_pos p;
    if (!htab_find(&sp->watch->keys, wk_hash_of(db, key, klen), wk_eq, &k, &p)) return NULL;
    if (pos) *pos = p;
    return (struct watched *)*p.link;
}

void store_watch_init(struct store_watch *w) {
    atomic_init(&w->dirty, false);
    w->recs = NULL;
    w->n = 0;
}

void store_watch_key(struct store_watch *w, int db, const struct store_key *k) {
    DEBUG_ASSERT(store_holds(k->slot));
    struct stripe *sp = &store_stripes[store_stripe_of(k->slot)];
    struct watched *wk = find_watched(sp, db, k->ptr, k->len, NULL);
    if (wk) {
        for (struct watch_rec *r = wk->recs; r; r = r->next)
            if (r->owner == w) return;
    } else {
        if (sp->watch == NULL) {
            sp->watch = xcalloc(1, sizeof(*sp->watch));
            htab_init(&sp->watch->keys, wk_hash);
        }
        wk = xmalloc(sizeof(*wk) + k->len);
        wk->db = db;
        wk->recs = NULL;
        wk->klen = k->len;
        memcpy(wk->key, k->ptr, k->len);
        htab_insert(&sp->watch->keys, wk_hash_of(db, k->ptr, k->len), &wk->node, NULL);
        sp->nwatch++;
    }
    struct watch_rec *r = xmalloc(sizeof(*r));
    r->wk = wk;
    r->owner = w;
    r->slot = k->slot;
    struct entry *e = store_peek(db, k, NULL);
    r->expired = e != NULL && store_entry_expired(e);
    r->prev = NULL;
    r->next = wk->recs;
    if (wk->recs) wk->recs->prev = r;
    wk->recs = r;
    r->next_in_client = w->recs;
    w->recs = r;
    w->n++;
}

void store_watch_lockset(const struct store_watch *w, struct store_lockset *ls) {
    for (struct watch_rec *r = w->recs; r; r = r->next_in_client) store_lockset_add(ls, r->slot);
}

bool store_watch_expired(const struct store_watch *w) {
    for (struct watch_rec *r = w->recs; r; r = r->next_in_client) {
        if (r->expired) continue;
        struct store_key k = {.ptr = r->wk->key, .len = r->wk->klen, .slot = r->slot};
        struct entry *e = store_peek(r->wk->db, &k, NULL);
        if (e && store_entry_expired(e)) return true;
    }
    return false;
}

static void unlink_rec(struct watch_rec *r) {
    struct watched *wk = r->wk;
    if (r->prev)
        r->prev->next = r->next;
    else
        wk->recs = r->next;
    if (r->next) r->next->prev = r->prev;
    if (wk->recs == NULL) {
        struct stripe *sp = &store_stripes[store_stripe_of(r->slot)];
        struct htab_pos pos;
        struct watched *found = find_watched(sp, wk->db, wk->key, wk->klen, &pos);
        ASSERT(found == wk);
        htab_remove_at(&sp->watch->keys, &pos);
        sp->nwatch--;
        xfree(wk);
    }
}

static void unwatch_locked(void *arg) {
    struct store_watch *w = arg;
    struct watch_rec *r = w->recs;
    while (r) {
        struct watch_rec *next = r->next_in_client;
        unlink_rec(r);
        xfree(r);
        r = next;
    }
    w->recs = NULL;
    w->n = 0;
}

void store_unwatch_all(struct store_watch *w) {
    if (w->n > 0) {
        struct store_lockset ls;
        store_lockset_init(&ls);
        store_watch_lockset(w, &ls);
        store_run(&ls, STORE_WRITE, unwatch_locked, w);
    }
    atomic_store_explicit(&w->dirty, false, memory_order_relaxed);
}

static void mark_dirty(struct watch_rec *r) { atomic_store_explicit(&r->owner->dirty, true, memory_order_relaxed); }

static bool key_exists(int db, const char *key, size_t klen, uint16_t slot) {
    struct store_key k = {.ptr = key, .len = klen, .slot = slot};
    return store_peek(db, &k, NULL) != NULL;
}

void watch_touch_locked(struct stripe *sp, int db, const char *key, size_t klen) {
    if (LIKELY(sp->nwatch == 0)) return;
    struct watched *wk = find_watched(sp, db, key, klen, NULL);
    if (wk == NULL) return;
    for (struct watch_rec *r = wk->recs; r; r = r->next) {
        if (r->expired) {
            if (!key_exists(db, key, klen, r->slot)) {
                /* An expired key got deleted: logically no change. */
                r->expired = false;
                continue;
            }
        }
        mark_dirty(r);
    }
}

void store_signal_modified(int db, const struct store_key *k) {
    DEBUG_ASSERT(store_holds(k->slot));
    struct stripe *sp = &store_stripes[store_stripe_of(k->slot)];
    watch_touch_locked(sp, db, k->ptr, k->len);
    track_touch_locked(sp, k->ptr, k->len, false);
}

static struct entry *find_in(struct dbslots *d, const char *key, size_t klen, uint16_t slot) {
    if (d == NULL) return NULL;
    struct slot_table *st = atomic_load_explicit(&d->slots[slot], memory_order_acquire);
    if (st == NULL) return NULL;
    struct store_key k = {.ptr = key, .len = klen, .slot = slot};
    struct htab_pos pos;
    if (!htab_find(&st->keys, store_hash_key(key, klen), store_entry_eq, &k, &pos)) return NULL;
    return (struct entry *)*pos.link;
}

/* db is being emptied (FLUSHDB) or replaced by another db's content (SWAPDB):
 * flag the watchers whose key changes. [all-locked] */
void watch_flush_locked(int db, struct dbslots *emptied, struct dbslots *replaced_with) {
    for (int s = 0; s < STORE_STRIPES; s++) {
        struct stripe *sp = &store_stripes[s];
        if (sp->nwatch == 0) continue;
        struct htab_iter it;
        for (struct htab_node *n = htab_first(&sp->watch->keys, &it); n; n = htab_next(&sp->watch->keys, &it)) {
            struct watched *wk = (struct watched *)n;
            if (wk->db != db || wk->recs == NULL) continue;
            uint16_t slot = store_slot(wk->key, wk->klen);
            bool in_emptied = find_in(emptied, wk->key, wk->klen, slot) != NULL;
            struct entry *rep = find_in(replaced_with, wk->key, wk->klen, slot);
            if (!in_emptied && rep == NULL) continue;
            for (struct watch_rec *r = wk->recs; r; r = r->next) {
                if (r->expired) {
                    if (rep == NULL) {
                        r->expired = false; /* expired key now deleted: no change */
                        continue;
                    } else if (store_entry_expired(rep)) {
                        continue; /* expired stays expired */
                    }
                } else if (!in_emptied && rep && store_entry_expired(rep)) {
                    r->expired = true; /* nothing replaced by an expired key */
                    continue;
                }
                mark_dirty(r);
            }
        }
    }
}

static void free_watched(struct htab_node *n, void *arg) { xfree(n); }

void watch_teardown(void) {
    for (int s = 0; s < STORE_STRIPES; s++) {
        struct stripe *sp = &store_stripes[s];
        if (sp->watch == NULL) continue;
        htab_clear(&sp->watch->keys, free_watched, NULL);
        xfree(sp->watch);
        sp->watch = NULL;
        sp->nwatch = 0;
    }
}

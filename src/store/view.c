/*
 * store/view.c - point-in-time views of the keyspace (see store.h).
 *
 * State
 *   store_active_view   the open view or NULL. Written only with every
 *                       stripe locked (open, close), so any thread holding a
 *                       stripe reads a stable value and the view cannot be
 *                       freed under it.
 *   v->dbs[]            each database's table set at the cut. Changes after
 *                       the cut happen inside those same tables (a stripe's
 *                       tables are serialized before their first change), or
 *                       swap whole sets (FLUSH*, SWAPDB), which the view
 *                       does not follow: a flushed set is adopted (kept
 *                       alive) until the view closes.
 *   v->done[slot]       the slot was serialized; guarded by the slot's stripe
 *                       lock.
 *
 * Who serializes a slot: the first thread that, after the cut, holding the
 *   slot's stripe, either looks a key of the slot up in a write section,
 *   changes something in the slot (store.c's view_guard), or visits it as
 *   the view's owner. It runs fn under the stripe lock, exactly once. Since
 *   the first change of a slot always serializes it first, a slot found
 *   empty in every recorded database by the owner needs no visit: it was
 *   empty at the cut (or its first change already serialized it).
 *
 * Lock order: fn runs with the slot's stripe held, maybe with other stripes
 *   of the caller's section too; it takes no stripe lock itself (it may use its
 *   own lock-free hand-off, see persist/snapshot.c). store_view_open and
 *   store_view_close lock every stripe in ascending order, holding nothing
 *   else.
 */
#include "store/store_internal.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <string.h>

struct store_view {
    store_view_fn fn;
    void *arg;
    int ndbs;
    struct dbslots **dbs;     /* per database, at the cut */
    struct dbslots **adopted; /* flushed sets kept for the view */
    size_t nadopted, capadopted;
    uint8_t done[STORE_SLOTS];
};

_Atomic(struct store_view *) store_active_view;

static void lock_all(void) {
    for (unsigned s = 0; s < STORE_STRIPES; s++) store_stripe_lock(s);
}

static void unlock_all(void) {
    for (int s = STORE_STRIPES - 1; s >= 0; s--) store_stripe_unlock((unsigned)s);
}

struct store_view *store_view_open(store_view_fn fn, void *arg, void (*at_cut)(void *arg), void *cut_arg) {
    ASSERT(!store_in_run()); /* the cut takes every stripe: never from inside a locked section */
    struct store_view *v = xcalloc(1, sizeof(*v));
    v->fn = fn;
    v->arg = arg;
    v->ndbs = store_ndbs;
    v->dbs = xmalloc(sizeof(*v->dbs) * (size_t)store_ndbs);
    lock_all();
    if (atomic_load_explicit(&store_active_view, memory_order_relaxed) != NULL) {
        unlock_all();
        xfree(v->dbs);
        xfree(v);
        return NULL;
    }
    for (int i = 0; i < store_ndbs; i++) v->dbs[i] = dbslots_get(i);
    if (at_cut) at_cut(cut_arg);
    atomic_store_explicit(&store_active_view, v, memory_order_release);
    unlock_all();
    return v;
}

void store_view_cow(struct store_view *v, uint16_t slot) {
    if (v->done[slot]) return;
    v->done[slot] = 1;
    v->fn(v, slot, v->arg);
}

void store_view_visit(struct store_view *v, uint16_t slot) {
    bool any = false;
    for (int db = 0; db < v->ndbs && !any; db++)
        any = atomic_load_explicit(&v->dbs[db]->counts[slot].keys, memory_order_relaxed) != 0;
    if (!any) return;
    unsigned s = store_stripe_of(slot);
    store_stripe_lock(s);
    store_view_cow(v, slot);
    store_stripe_unlock(s);
}

void store_view_foreach(struct store_view *v, uint16_t slot, int db, store_scan_fn fn, void *arg) {
    struct slot_table *st = atomic_load_explicit(&v->dbs[db]->slots[slot], memory_order_acquire);
    if (st == NULL) return;
    struct htab_iter it;
    for (struct htab_node *n = htab_first(&st->keys, &it); n; n = htab_next(&st->keys, &it))
        fn((struct entry *)n, arg);
}

int store_view_databases(const struct store_view *v) { return v->ndbs; }

void store_view_db_counts(const struct store_view *v, int db, uint64_t *keys, uint64_t *vol) {
    const struct dbslots *d = v->dbs[db];
    uint64_t k = 0, x = 0;
    for (int s = 0; s < STORE_SLOTS; s++) {
        k += atomic_load_explicit(&d->counts[s].keys, memory_order_relaxed);
        x += atomic_load_explicit(&d->counts[s].vol, memory_order_relaxed);
    }
    *keys = k;
    *vol = x;
}

bool store_view_adopt(struct dbslots *d) {
    struct store_view *v = atomic_load_explicit(&store_active_view, memory_order_relaxed);
    if (v == NULL) return false;
    bool recorded = false;
    for (int i = 0; i < v->ndbs && !recorded; i++) recorded = v->dbs[i] == d;
    if (!recorded) return false;
    if (v->nadopted == v->capadopted) {
        v->capadopted = v->capadopted ? v->capadopted * 2 : 4;
        v->adopted = xrealloc(v->adopted, v->capadopted * sizeof(*v->adopted));
    }
    v->adopted[v->nadopted++] = d;
    return true;
}

void store_view_close(struct store_view **vp) {
    struct store_view *v = *vp;
    if (v == NULL) return;
    lock_all();
    ASSERT(atomic_load_explicit(&store_active_view, memory_order_relaxed) == v);
    atomic_store_explicit(&store_active_view, NULL, memory_order_release);
    unlock_all();
    for (size_t i = 0; i < v->nadopted; i++) store_dbslots_free(v->adopted[i], true);
    xfree(v->adopted);
    xfree(v->dbs);
    xfree(v);
    *vp = NULL;
}

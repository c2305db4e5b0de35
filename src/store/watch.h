/*
 * store/watch.h - WATCH: optimistic locking for MULTI/EXEC.
 *
 * Each stripe keeps a table of its watched keys (db, key) -> watchers. A
 * write to a key signals it (store_signal_modified) under the key's stripe
 * lock; every watcher of that key gets its `dirty` flag set, and its EXEC
 * will fail. A key that was already logically expired when watched counts
 * as modified only if it comes back to life (Redis 7.0's rules, including
 * FLUSHDB and SWAPDB).
 *
 * Ownership: a client owns its `struct store_watch` and the records in it;
 * records are linked into the stripes' tables and changed only under the
 * stripe lock. `dirty` is written by any thread holding a watched key's
 * stripe and read by the owner under the same lock (EXEC locks the stripes
 * of its watched keys) or, as a hint, without it.
 */
#ifndef STASH_STORE_WATCH_H
#define STASH_STORE_WATCH_H

#include "store/store.h"

#include <stdatomic.h>

struct watch_rec;

struct store_watch {
    _Atomic bool dirty;
    struct watch_rec *recs;
    uint32_t n;
};

void store_watch_init(struct store_watch *w);
/* Watch k in db (no-op when already watched). [stripe-locked for k] */
void store_watch_key(struct store_watch *w, int db, const struct store_key *k);
/* Drop every watch and clear dirty. [no locks held] */
void store_unwatch_all(struct store_watch *w);
/* Add the stripes of the watched keys to ls (EXEC locks them). */
void store_watch_lockset(const struct store_watch *w, struct store_lockset *ls);
/* Did a watched key (live when watched) expire since? [stripes locked] */
bool store_watch_expired(const struct store_watch *w);
static inline bool store_watch_dirty(const struct store_watch *w) {
    return atomic_load_explicit(&w->dirty, memory_order_relaxed);
}
static inline bool store_watching(const struct store_watch *w) { return w->n > 0; }

/* A write changed key k of db (Redis's signalModifiedKey). [stripe-locked] */
void store_signal_modified(int db, const struct store_key *k);

#endif

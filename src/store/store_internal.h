/*
 * store/store_internal.h - structures shared by the store's own files
 * (store.c, watch.c, expire.c, evict.c, lazyfree.c) and its unit tests.
 * Nothing outside src/store/ and tests/unit/store/ includes it.
 */
#ifndef STASH_STORE_INTERNAL_H
#define STASH_STORE_INTERNAL_H

#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>

struct watch_table;
struct track_table;

/* One slot of one database. Guarded by the slot's stripe lock, created by
 * the first key and freed at the end of the locked section that removed the
 * last one (so an empty slot costs nothing). */
struct slot_table {
    struct htab keys;
    struct entry **vol; /* keys with an expiry, for sampling */
    uint32_t nvol, capvol;
};

/* Sizes of a slot's table, mirrored for lock-free readers (DBSIZE, INFO,
 * eviction sampling): they read these, never the table. */
struct slot_counts {
    _Atomic uint32_t keys;
    _Atomic uint32_t vol;
};

struct dbslots {
    _Atomic(struct slot_table *) slots[STORE_SLOTS];
    struct slot_counts counts[STORE_SLOTS];
    _Atomic int64_t avg_ttl;
};

struct stripe {
    pthread_mutex_t mu;
    struct watch_table *watch; /* watched keys of this stripe, or NULL */
    uint32_t nwatch;           /* keys in `watch` */
    struct track_table *track; /* client-side caching: tracked keys of this stripe, or NULL */
    _Atomic uint32_t ntrack;   /* keys in `track` (written under the lock; read as a hint) */
    _Atomic uint64_t rehashdbs; /* hint, same bits: db may have a table of this
                                   stripe in the middle of an incremental rehash */
    _Atomic uint64_t voldbs;   /* hint: bit d (d < 63) / bit 63 (d >= 63): db may have
                                  keys with an expiry in this stripe */
} CACHE_ALIGNED;

extern struct stripe store_stripes[STORE_STRIPES];
extern _Atomic(struct dbslots *) *store_dbs;
extern int store_ndbs;
extern struct store_hooks store_hooks_;

static inline struct dbslots *dbslots_get(int db) {
    return atomic_load_explicit(&store_dbs[db], memory_order_acquire);
}
static inline struct slot_table *slot_get(int db, uint16_t slot) {
    return atomic_load_explicit(&dbslots_get(db)->slots[slot], memory_order_acquire);
}

static inline uint32_t slot_keys(int db, uint16_t slot) {
    return atomic_load_explicit(&dbslots_get(db)->counts[slot].keys, memory_order_relaxed);
}
static inline uint32_t slot_vol(int db, uint16_t slot) {
    return atomic_load_explicit(&dbslots_get(db)->counts[slot].vol, memory_order_relaxed);
}

bool store_entry_eq(const struct htab_node *n, const void *key);

/* Delete an expired entry at ref, counting and reporting it. [stripe-locked] */
void store_delete_expired(struct store_ref *ref);
/* Is expiry suspended by CLIENT PAUSE? (keys stay, logically expired) [any] */
bool store_expire_is_paused(void);
/* Delete an entry chosen for eviction. [stripe-locked] */
void store_delete_evicted(struct store_ref *ref);
/* A ref for an entry known to be in st (re-finds its position). */
bool store_ref_of(int db, struct slot_table *st, struct entry *e, struct store_ref *ref);

/* Watch table (watch.c). */
void watch_touch_locked(struct stripe *sp, int db, const char *key, size_t klen);
void watch_flush_locked(int db, struct dbslots *emptied, struct dbslots *replaced_with);
void watch_teardown(void);

/* Tracking table (track.c). A key changed (by_store: expiry or eviction,
 * no actor): queue its invalidation. [stripe-locked] */
void track_touch_locked(struct stripe *sp, const char *key, size_t klen, bool by_store);
/* Every table emptied, the batch flagged "flushed". [all-locked] */
void track_flush_locked(void);
void track_teardown(void);

/* Per-thread statistics (store.c). */
struct store_tstats {
    _Atomic uint64_t hits, misses, expired, evicted, expire_cycles_capped;
    _Atomic uint64_t stale_sampled, stale_expired;
    char pad[CACHELINE - 7 * 8];
};
struct store_tstats *store_tstats(void);
static inline void tstat_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Eviction/LRU state (evict.c). */
uint32_t store_lru_clock(void);
void store_lfu_init(struct entry *e);
void store_lfu_touch(struct entry *e);
int store_evict_policy(void);

/* Views (view.c). The open view, or NULL; set and cleared with every
 * stripe locked, so a thread holding any stripe sees a stable value. */
extern _Atomic(struct store_view *) store_active_view;
/* [stripe-locked] Run the view's fn for the slot unless done. */
void store_view_cow(struct store_view *v, uint16_t slot);
/* [all-locked] A flush is replacing d: keep it for the open view if it
 * recorded it (true: the view frees it when it closes). */
bool store_view_adopt(struct dbslots *d);
/* The calling thread's lock bookkeeping for stripes locked outside
 * store_run (views). */
void store_stripe_lock(unsigned s);
void store_stripe_unlock(unsigned s);
/* Free a database's tables (lazily when async). */
void store_dbslots_free(struct dbslots *d, bool async);

/* Lazy free (lazyfree.c). */
int lazyfree_setup(void);
/* Count n objects freed by the running background job. */
void lazyfree_credit(uint64_t n);
void lazyfree_teardown(void);

/* Does this server delete expired keys (false on a replica: its primary's
 * DELs do)? Active expiry stops too. [any] */
bool store_lazy_expire_on(void);

#endif

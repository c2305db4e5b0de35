/*
 * store/track.h - the keys table of client-side caching (CLIENT TRACKING).
 *
 * What it remembers: for each key some tracking client has read, the
 * clients ("trackers") that may hold it in their local cache. Like Redis,
 * the table ignores the database: a key name is one entry whatever the db.
 *
 *   stripe.track (htab, key -> struct tracked)
 *      tracked{key} -> [token, token, ...]   (sorted, distinct)
 *
 * A tracker is an opaque 64-bit token chosen by the upper layer (exec/
 * packs the owner worker and the client id into it); the store never
 * interprets it. Tables live per stripe and are guarded by the stripe lock,
 * exactly like the WATCH table, so remembering a key costs no extra lock.
 *
 * Invalidation: when a key is modified (store_signal_modified), expired or
 * evicted, its entry leaves the table and (key, trackers, actor) is
 * appended to a thread-local batch; while any client is in broadcast mode
 * (store_track_set_bcast), every modified key is also appended as
 * (key, actor). FLUSHDB/FLUSHALL/SWAPDB empty every table and flag the
 * batch as "flushed". Nothing is sent under the lock: the upper layer takes
 * the batch once the section is over (store_track_take, from the store's
 * `after` hook) and delivers it.
 *
 * The actor is the token of the client whose command made the change (for
 * NOLOOP), set per command by the upper layer; changes made by the store
 * itself (expiry, eviction) carry actor 0, as Redis passes no client.
 *
 * Counters (keys, items) are global atomics touched only when the table
 * changes: a server without tracking clients never writes them.
 *
 * Thread context: as each function says. The batch is per thread.
 */
#ifndef STASH_STORE_TRACK_H
#define STASH_STORE_TRACK_H

#include "base/buf.h"
#include "store/store.h"

/* Remember that `token` may cache key k. [stripe-locked for k] */
void store_track_key(const struct store_key *k, uint64_t token);

/* The token of the client running the current command (0: none). [any] */
void store_track_set_actor(uint64_t token);

/* Record every modified key for broadcast delivery (some client is in
 * BCAST mode). [any] */
void store_track_set_bcast(bool on);

/* A batch of invalidations gathered by this thread since the last take.
 *   keys:  records [u32 klen][u32 ntok][u64 actor][ntok x u64 token][key][pad to 8]
 *   bcast: records [u32 klen][u32 0][u64 actor][key][pad to 8]
 * Parse with store_track_next. */
struct store_track_batch {
    struct buf keys, bcast;
    bool flushed; /* a FLUSHDB/FLUSHALL/SWAPDB happened */
};

struct store_track_rec {
    const char *key;
    size_t klen;
    uint64_t actor;
    const uint64_t *tokens;
    uint32_t ntok;
};

/* Anything gathered on this thread? Cheap (inline). [any] */
extern __thread bool store_track_dirty_;
static inline bool store_track_pending(void) { return store_track_dirty_; }
/* Move this thread's batch into *out (whose buffers are reused: start
 * from a zeroed struct, release with store_track_batch_free). [no locks] */
void store_track_take(struct store_track_batch *out);
void store_track_batch_free(struct store_track_batch *b);
/* Iterate records of buffer b: *off starts at 0; false at the end. */
bool store_track_next(const struct buf *b, size_t *off, struct store_track_rec *r);

/* Keys in the table, and (key, tracker) pairs. [any] */
uint64_t store_track_keys(void);
uint64_t store_track_items(void);

/* Drop keys (invalidating their trackers, actor 0, no broadcast) until at
 * most max_keys remain or `effort` keys were dropped. Returns whether the
 * table is under the limit. [no locks held] */
bool store_track_evict(uint64_t max_keys, int effort);

/* Free the calling thread's batch buffers (thread exit). */
void store_track_thread_cleanup(void);

#endif

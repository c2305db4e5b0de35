/*
 * store/store.h - the keyspace: databases, slots, stripes, and the one way in.
 *
 * Shape
 *   Every key maps to one of the 16,384 Redis Cluster slots (CRC16 of the key
 *   or of its {hashtag}). Each database has, per slot, its own hash table,
 *   created when the first key arrives. Slots are grouped into 1,024 stripes
 *   (slot % 1024); each stripe has a lock on its own cache line.
 *
 *       db 0: [slot 0][slot 1] ... [slot 16383]   each: htab + volatile index
 *       db 1: ...
 *       stripes: [lock|watch][lock|watch] ... x1024   slot s -> stripe s % 1024
 *
 * The one way in: store_run(lockset, mode, fn, arg) locks the stripes of a
 *   command's keys in ascending order (no deadlock), runs fn, lets the hooks
 *   seal the command's effects (reserve their log position) and unlocks.
 *   Single-key commands lock one stripe; multi-key commands and MULTI/EXEC
 *   lock several; a few keyless commands lock all (briefly) or walk slot by
 *   slot (SCAN, KEYS). Commands never touch a lock themselves, so the
 *   mechanism can later become "post to the stripe's owner thread".
 *
 * Under a stripe lock (see docs/design/lock-order.md): no syscalls, no
 * blocking, no large frees (they go to the lazy-free thread).
 *
 * Time: commands see one "now" (store_now), set per command by the
 *   dispatcher and frozen during EXEC, as Redis does.
 *
 * Thread context: functions say [stripe-locked] (caller inside store_run
 *   holding the key's stripe), [all-locked], or [any] (takes locks itself).
 */
#ifndef STASH_STORE_STORE_H
#define STASH_STORE_STORE_H

#include "base/common.h"
#include "ds/htab.h"
#include "store/entry.h"

#define STORE_SLOTS 16384
#define STORE_STRIPES 1024
#define STORE_MAX_DBS 65536

/* ---- keys -------------------------------------------------------------- */

struct store_key {
    const char *ptr;
    size_t len;
    uint16_t slot;
    bool hashed;   /* hash below is valid; keys built by hand leave it false */
    uint64_t hash; /* keyed hash for the slot table */
};

/* Cluster slot of a key: CRC16 of the part between the first '{' and the
 * next '}' when that part is non-empty, else of the whole key. */
uint16_t store_slot(const char *key, size_t len);

/* The keyed table hash (SipHash-2-4 with the process key). */
uint64_t store_hash_key(const char *p, size_t n);

static inline void store_key_init(struct store_key *k, const char *p, size_t n) {
    k->ptr = p;
    k->len = n;
    k->slot = store_slot(p, n);
    k->hashed = true;
    k->hash = store_hash_key(p, n);
}

/* k's table hash, computed once per key per command. */
static inline uint64_t store_key_hash(const struct store_key *k) {
    return k->hashed ? k->hash : store_hash_key(k->ptr, k->len);
}

static inline unsigned store_stripe_of(uint16_t slot) { return slot & (STORE_STRIPES - 1); }

/* ---- setup ------------------------------------------------------------- */

enum store_evict_policy {
    EVICT_NOEVICTION = 0,
    EVICT_ALLKEYS_LRU,
    EVICT_ALLKEYS_LFU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_LRU,
    EVICT_VOLATILE_LFU,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
};

enum store_del_reason { STORE_DEL_EXPIRED = 1, STORE_DEL_EVICTED = 2 };

/* Upper layers observe what the store does on its own (expiry, eviction)
 * and seal each locked section's effects. All may be NULL. */
struct store_hooks {
    /* [stripe-locked] A key was deleted by expiry or eviction (after the
     * deletion): log it, notify. */
    void (*deleted)(int db, const char *key, size_t klen, enum store_del_reason why);
    /* [stripe-locked] End of a locked section, before unlocking. */
    void (*seal)(void);
    /* [no locks] After a locked section was released. */
    void (*after)(void);
};

int store_setup(int databases, const struct store_hooks *hooks);
/* [stripe-locked] A value now sits under k: store_add, or store_replace
 * with a value of another type (Redis's dbAdd signalling blocked clients).
 * Must be cheap: it runs on every new key. Set once at start-up. */
typedef void (*store_added_fn)(int db, const struct store_key *k, const struct entry *e);
void store_set_added_hook(store_added_fn fn);
/* [stripe-locked] The value e is leaving key k: deleted, unlinked (RENAME's
 * source, MOVE), or replaced by store_replace (Redis's dbGenericDelete and
 * dbOverwrite signalling XREADGROUP waiters). Called before e is freed;
 * must be cheap. FLUSHALL/SWAPDB do not call it (block_db_flushed and
 * block_db_swapped cover them). Set once at start-up. */
typedef void (*store_removed_fn)(int db, const struct store_key *k, const struct entry *e);
void store_set_removed_hook(store_removed_fn fn);
void store_teardown(void);
/* Free the calling thread's scratch lists (thread exit). */
void store_thread_cleanup(void);
int store_databases(void);

/* Runtime tunables (CONFIG SET). [any] */
void store_set_maxmemory(unsigned long long bytes);
unsigned long long store_get_maxmemory(void);
void store_set_policy(enum store_evict_policy p);
enum store_evict_policy store_get_policy(void);
void store_set_samples(int n);          /* maxmemory-samples */
void store_set_lfu(int log_factor, int decay_time);
void store_set_expire_effort(int effort); /* active-expire-effort 1..10 */
void store_set_active_expire(bool on);     /* DEBUG SET-ACTIVE-EXPIRE */
bool store_get_active_expire(void);
/* Replicas keep logically expired keys until the primary deletes them. */
void store_set_lazy_expire(bool on);
/* This thread's lookups see logically expired keys as live (a replica
 * applying its primary's stream: the primary decides when a key is gone,
 * and its DEL must find the key). [any, for the calling thread] */
void store_set_keep_expired(bool on);
/* CLIENT PAUSE: no expiry while paused (active, and lazy: an expired key
 * is hidden but kept until the pause ends). */
void store_set_expire_paused(bool on);
/* Loading (an AOF replayed on this thread): as Redis while loading, no key
 * counts as expired and an expiry time in the past does not delete the
 * key (the commands ran when it was alive; it expires once loading is
 * over). Thread-local. */
void store_set_loading(bool on);
bool store_loading(void);

/* ---- locking ----------------------------------------------------------- */

enum store_mode { STORE_READ = 0, STORE_WRITE = 1 };

struct store_lockset {
    uint32_t n;    /* distinct stripes */
    bool all;      /* every stripe */
    uint16_t first;
    uint64_t bits[STORE_STRIPES / 64];
};

static inline void store_lockset_init(struct store_lockset *ls) {
    ls->n = 0;
    ls->all = false;
    ls->first = 0;
    memset(ls->bits, 0, sizeof(ls->bits));
}
static inline void store_lockset_add(struct store_lockset *ls, uint16_t slot) {
    unsigned s = store_stripe_of(slot);
    uint64_t bit = 1ULL << (s & 63);
    if (!(ls->bits[s >> 6] & bit)) {
        ls->bits[s >> 6] |= bit;
        if (ls->n++ == 0) ls->first = (uint16_t)s;
    }
}
static inline void store_lockset_all(struct store_lockset *ls) { ls->all = true; }

typedef void (*store_fn)(void *arg);

/* [any] Lock ls ascending, run fn(arg), seal, unlock, run `after`. Nested
 * calls are allowed only for stripes the thread already holds. */
void store_run(const struct store_lockset *ls, enum store_mode mode, store_fn fn, void *arg);
void store_run_slot(uint16_t slot, enum store_mode mode, store_fn fn, void *arg);
void store_run_all(enum store_mode mode, store_fn fn, void *arg);
/* Does the calling thread hold this slot's stripe (or all stripes)? */
bool store_holds(uint16_t slot);
bool store_holds_all(void);
/* Is the calling thread inside store_run (holding stripe locks)? */
bool store_in_run(void);
/* Inside store_run: also hold slot's stripe until the section ends, if it
 * can be had without waiting (trylock: the ascending order rule is kept
 * because nothing waits). Returns whether the stripe is held now. Used to
 * serve blocked clients whose write reaches another stripe (BLMOVE). */
bool store_try_hold(uint16_t slot);
/* Inside store_run: hold slot's stripe until the section ends, if that
 * cannot deadlock: a stripe above every stripe held is waited for (the
 * ascending rule), one below is only try-locked. Returns whether it is
 * held now. Used by scripts reaching keys they did not declare. */
bool store_hold(uint16_t slot);
/* Inside store_run: hold every stripe until the section ends, the same
 * way (store_holds_all() is true after). Returns false when a lower stripe
 * is busy; those taken so far stay held until the section ends. */
bool store_hold_all(void);

/* ---- time -------------------------------------------------------------- */

/* The command's clock in Unix ms (thread-local). */
void store_set_now(int64_t ms);
int64_t store_now(void);
/* Freeze the clock (EXEC, scripts): store_set_now is ignored while frozen. */
void store_freeze_now(bool frozen);

/* ---- lookup and change [stripe-locked] -------------------------------- */

#define STORE_LOOKUP_WRITE 1u   /* a write's lookup: no hit/miss stats */
#define STORE_LOOKUP_NOTOUCH 2u /* leave the LRU/LFU data alone */
#define STORE_LOOKUP_NOEXPIRE 4u /* do not delete an expired key (still hidden) */

struct slot_table;

/* Where a key is, for changing it right after looking it up. Valid until
 * the next change in the same slot table. */
struct store_ref {
    struct slot_table *st;
    struct htab_pos pos;
    int db;
    struct store_key key;
};

/* The live entry of k in db, or NULL (absent or expired: an expired key is
 * deleted here, as Redis does on access). On success *ref (if not NULL)
 * locates it. */
struct entry *store_lookup(int db, const struct store_key *k, unsigned flags, struct store_ref *ref);
/* The entry of k even if logically expired (NULL when absent). */
struct entry *store_peek(int db, const struct store_key *k, struct store_ref *ref);
/* Is this entry past its expiry time at store_now()? */
bool store_entry_expired(const struct entry *e);

static inline struct entry *store_ref_entry(const struct store_ref *ref) {
    return (struct entry *)*ref->pos.link;
}

/* Add e under key k (absent). On return *ref (if not NULL) locates it. */
void store_add(int db, const struct store_key *k, struct entry *e, struct store_ref *ref);
/* Put e in place of the entry at ref (same key); the old one is freed. */
void store_replace(struct store_ref *ref, struct entry *e);
/* Unlink the entry at ref and free it (big values: lazily). */
void store_delete(struct store_ref *ref);
/* UNLINK: as store_delete, but a value that takes many allocations to free
 * (Redis's "free effort" above 64) is freed by the background thread. */
void store_delete_async(struct store_ref *ref);
/* Unlink the entry at ref and hand it to the caller. */
struct entry *store_unlink(struct store_ref *ref);
/* Set (when >= 0) or remove (when < 0) the key's expiry. May move the entry. */
void store_set_expire(struct store_ref *ref, int64_t when);

/* Resize the string value at ref to `len` bytes of raw text (growth filled
 * with zero bytes) and return a writable pointer to it. Integers are turned
 * into text first. May move the entry. A memcached block stays (client
 * flags) with its CAS forgotten: the value is about to change. */
char *store_str_writable(struct store_ref *ref, size_t len);
/* SET's fast path: when the key's value is an inline string of exactly
 * vlen bytes, the new value is not an integer, the expiry keeps its
 * presence (expire < 0 and none now, or both set), and the entry has no
 * memcached block, overwrite it in place (no allocation) and return true;
 * else change nothing and return false. */
bool store_str_overwrite(struct store_ref *ref, const char *val, size_t vlen, int64_t expire);
/* Store an integer as the key's string value (INCR). May move the entry.
 * Keeps a memcached block (client flags), forgetting its CAS. */
void store_str_set_int(struct store_ref *ref, long long v);
/* Set the memcached metadata of the entry at ref (see entry.h): in place
 * when it has a block, else the entry is rebuilt with one (moves); a NULL
 * mc removes the block. Value, expiry and LRU data stay. */
void store_set_mc(struct store_ref *ref, const struct entry_mc *mc);

/* Record an access for LRU/LFU (lookups do it unless NOTOUCH). */
void store_touch_access(struct entry *e);

/* ---- whole keyspace [any] ---------------------------------------------- */

uint64_t store_dbsize(int db);
uint64_t store_db_volatile(int db);
int64_t store_db_avg_ttl(int db);
uint64_t store_slot_count(int db, uint16_t slot);

/* SCAN: cursor = table cursor << 14 | slot. Calls fn for keys of db (live
 * at the time they are seen) until about `count` were produced or the scan
 * ends; returns the next cursor (0: finished). fn runs under the slot's
 * stripe lock. */
typedef void (*store_scan_fn)(struct entry *e, void *arg);
uint64_t store_scan(int db, uint64_t cursor, long count, store_scan_fn fn, void *arg, size_t *produced);

/* Every live key of db, slot by slot, each under its stripe lock (KEYS).
 * Not a point-in-time view. */
void store_foreach(int db, store_scan_fn fn, void *arg);

/* A random live key (copied into out, up to cap bytes); returns length or -1. */
long store_random_key(int db, char *out, size_t cap, char **heap_out);

/* DEBUG HTSTATS: the shape of db's per-slot hash tables, summed over the
 * slots (each slot under its stripe lock). [any] */
#define STORE_CHAIN_STATS 50
struct store_table_stats {
    uint64_t tables;       /* slot tables that exist */
    uint64_t rehashing;    /* of which are being resized */
    uint64_t buckets;      /* buckets, both arrays of a resizing table */
    uint64_t keys;
    uint64_t used_buckets; /* non-empty buckets */
    uint64_t max_chain;
    uint64_t chains[STORE_CHAIN_STATS]; /* buckets by chain length; the last counts longer ones */
    uint64_t volatile_keys; /* keys with an expiry (per-slot vectors, no table) */
};
void store_table_stats(int db, struct store_table_stats *out);

/* FLUSHDB / FLUSHALL (db < 0). Watched keys are touched. Memory is freed in
 * the background when `async`, else before returning. Returns keys removed. */
uint64_t store_flush(int db, bool async);
/* SWAPDB: exchange two databases' contents. [any] */
void store_swapdb(int a, int b);

/* ---- expiry, eviction (store/expire.c, store/evict.c) ------------------ */

/* Active expiry over stripes s with s % nworkers == worker, for at most
 * `budget_us` microseconds. [any, no locks held] */
void store_active_expire(int worker, int nworkers, int64_t budget_us);

/* Move big tables of this worker's stripes along their incremental rehash,
 * for about budget_us (tables also move one bucket per operation; this
 * finishes the ones nobody touches). [any, no locks held] */
void store_active_rehash(int worker, int nworkers, int64_t budget_us);

/* Make room under maxmemory before a command that may grow memory.
 * Returns 0, or ERR_NOMEM when over the limit and nothing can be evicted.
 * [no locks held] */
int store_evict_if_needed(void);
/* Is memory over maxmemory (approximately)? [any] */
bool store_over_maxmemory(void);

/* LRU/LFU helpers for OBJECT IDLETIME / OBJECT FREQ. */
uint64_t store_idle_ms(const struct entry *e);
int store_lfu_freq(struct entry *e);
bool store_policy_is_lfu(void);

/* Set e's LRU/LFU data as Redis's objectSetLRUOrLFU (RDB loading,
 * RESTORE IDLETIME/FREQ): under an LFU policy freq (0..255) when >= 0,
 * else idle seconds when >= 0. Returns whether something was set.
 * [stripe-locked] */
bool store_set_access(struct entry *e, long long idle_s, int freq);

/* The LRU clock tick (call from a cron, ~every 100 ms). */
void store_clock_tick(void);

/* ---- point-in-time views: fork-less snapshots (store/view.c) ---------- */

/*
 * A view is the keyspace as it was at one instant, the cut, read slot by
 * slot while writers go on. Opening it takes every stripe lock for a few
 * microseconds to record each database's tables and run `at_cut` (the
 * caller notes the effects-log position there); then, for each of the
 * 16,384 slots, `fn` runs exactly once, under the slot's stripe lock,
 * before anything in the slot changes:
 *   - the view's owner walks the slots with store_view_visit, or
 *   - a writer about to change a slot nobody serialized yet runs `fn` for
 *     it first (the store checks on every lookup of a write section and on
 *     every change it makes itself: expiry, eviction), and then writes.
 *     Command code is untouched.
 * So each slot is read in its state at the cut, and `fn` sees it once. A
 * writer pays for one slot (1/16,384 of the keyspace), never for more.
 * FLUSHALL/FLUSHDB/SWAPDB only swap table pointers: the view keeps the
 * tables it recorded (a flushed one is freed when the view closes).
 * One view at a time.
 */
struct store_view;
/* [stripe-locked] Serialize `slot` of the view (every database); may run
 * on any thread that touches the slot. */
typedef void (*store_view_fn)(struct store_view *v, uint16_t slot, void *arg);
/* Open a view; NULL when one is already open. at_cut (may be NULL) runs
 * with every stripe locked. [no locks held] */
struct store_view *store_view_open(store_view_fn fn, void *arg, void (*at_cut)(void *arg), void *cut_arg);
/* Make sure `slot` was serialized (lock its stripe, run fn unless done;
 * a slot empty in every database needs no lock). [no locks held] */
void store_view_visit(struct store_view *v, uint16_t slot);
/* The entries of `slot` in database db as recorded at the cut, expired
 * ones included. Only inside the view's fn. [stripe-locked] */
void store_view_foreach(struct store_view *v, uint16_t slot, int db, store_scan_fn fn, void *arg);
int store_view_databases(const struct store_view *v);
/* Keys and keys with an expiry of db at about the cut (RESIZEDB hints). */
void store_view_db_counts(const struct store_view *v, int db, uint64_t *keys, uint64_t *vol);
/* Close: every slot must have been visited (or the view abandoned:
 * writers stop serializing at once). Frees tables flushed meanwhile. [no locks held] */
void store_view_close(struct store_view **v);

/* ---- statistics ---------------------------------------------------------- */

struct store_stats {
    uint64_t hits, misses;
    uint64_t expired, expired_stale_perc_x100, expired_time_cap_reached;
    uint64_t evicted;
    uint64_t eviction_exceeded_time_us;
    uint64_t lazyfree_pending;
    uint64_t lazyfreed; /* values and keys freed by the background thread (lazyfreed_objects) */
};
void store_get_stats(struct store_stats *out);
void store_reset_stats(void);

/* Background freeing of big values and flushed tables. `objects` is what
 * the job frees, counted in lazyfreed_objects once it is done. */
void store_lazyfree(void (*fn)(void *), void *arg);
void store_lazyfree_n(void (*fn)(void *), void *arg, uint64_t objects);
uint64_t store_lazyfree_pending(void);
uint64_t store_lazyfreed(void);
void store_lazyfreed_reset(void);

#endif

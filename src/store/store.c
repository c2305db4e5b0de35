/*
 * store/store.c - databases, slots, stripes, store_run and key changes.
 *
 * See store.h for the shape. Invariants kept by every function here:
 *   - dbslots.counts[slot] == (htab_count(keys), nvol) of the slot's table (0 when none);
 *   - a slot table exists only while it holds keys (freed at the end of the
 *     locked section that emptied it);
 *   - an entry has ENTRY_F_EXPIRE iff it is in st->vol at index entry_vidx();
 *   - an entry is reachable from exactly one slot table of one database;
 *   - a thread holds stripes only inside store_run (tl.depth > 0), and
 *     takes them in ascending order (views lock one stripe at a time);
 *   - while a view is open (store/view.c), a stripe is serialized for it
 *     before its first change: view_guard() runs on every lookup of a
 *     write section and in every function below that changes a table.
 */
#include "store/store_internal.h"
#include "store/watch.h"
#include "store/track.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/rand.h"
#include "base/str.h"
#include "base/time.h"

#include <string.h>

struct stripe store_stripes[STORE_STRIPES];
_Atomic(struct dbslots *) *store_dbs;
int store_ndbs;
struct store_hooks store_hooks_;

/* Frees of big values wait until the locks are released. */
#define BIG_FREE_BYTES (64 * 1024)

static __thread struct {
    int depth;          /* nesting of store_run */
    bool all;           /* holds every stripe */
    bool write;         /* the section may change what it looks up */
    uint64_t bits[STORE_STRIPES / 64];
    int64_t now;
    bool frozen;
    struct entry **pending_free;
    struct entry **pending_async; /* UNLINKed values for the background thread */
    size_t nasync, capasync;
    size_t npending, cappending;
    uint32_t *empties; /* (db << 14 | slot) of tables that became empty */
    size_t nempty, capempty;
    uint16_t extra[STORE_STRIPES]; /* stripes added by store_try_hold, released with the section */
    int nextra;
    bool loading; /* replaying an AOF: nothing expires */
    bool keep_expired; /* a replica applying its primary's stream: expired keys are live */
} tl;

/* The "added" hook (store_set_added_hook). */
static store_added_fn added_hook;
/* The "removed" hook (store_set_removed_hook). */
static store_removed_fn removed_hook;

/* ---- keys ---------------------------------------------------------------- */

uint16_t store_slot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', len - start);
        if (close && close > key + start) return crc16(key + start, (size_t)(close - key - start)) & 16383;
    }
    return crc16(key, len) & 16383;
}

uint64_t store_hash_key(const char *p, size_t n) { return hash_keyed(p, n); }

static uint64_t entry_hash(const struct htab_node *n) {
    size_t len;
    const char *k = entry_key((const struct entry *)n, &len);
    return store_hash_key(k, len);
}

bool store_entry_eq(const struct htab_node *n, const void *key) {
    const struct store_key *k = key;
    return entry_key_eq((const struct entry *)n, k->ptr, k->len);
}

/* ---- statistics ------------------------------------------------------------ */

#define MAX_TSTATS 512
static struct store_tstats tstats[MAX_TSTATS] CACHE_ALIGNED;
static _Atomic int ntstats;
static __thread struct store_tstats *tl_stats;
static struct store_tstats shared_stats; /* overflow: threads past MAX_TSTATS */

struct store_tstats *store_tstats(void) {
    if (UNLIKELY(tl_stats == NULL)) {
        int i = atomic_fetch_add(&ntstats, 1);
        tl_stats = i < MAX_TSTATS ? &tstats[i] : &shared_stats;
    }
    return tl_stats;
}

void store_get_stats(struct store_stats *out) {
    memset(out, 0, sizeof(*out));
    int n = MIN(atomic_load(&ntstats), MAX_TSTATS);
    uint64_t sampled = 0, stale = 0;
    for (int i = 0; i <= n; i++) {
        struct store_tstats *s = i < n ? &tstats[i] : &shared_stats;
        out->hits += atomic_load_explicit(&s->hits, memory_order_relaxed);
        out->misses += atomic_load_explicit(&s->misses, memory_order_relaxed);
        out->expired += atomic_load_explicit(&s->expired, memory_order_relaxed);
        out->evicted += atomic_load_explicit(&s->evicted, memory_order_relaxed);
        out->expired_time_cap_reached += atomic_load_explicit(&s->expire_cycles_capped, memory_order_relaxed);
        sampled += atomic_load_explicit(&s->stale_sampled, memory_order_relaxed);
        stale += atomic_load_explicit(&s->stale_expired, memory_order_relaxed);
    }
    out->expired_stale_perc_x100 = sampled ? stale * 10000 / sampled : 0;
    out->lazyfree_pending = store_lazyfree_pending();
    out->lazyfreed = store_lazyfreed();
}

void store_reset_stats(void) {
    store_lazyfreed_reset();
    int n = MIN(atomic_load(&ntstats), MAX_TSTATS);
    for (int i = 0; i <= n; i++) {
        struct store_tstats *s = i < n ? &tstats[i] : &shared_stats;
        atomic_store(&s->hits, 0);
        atomic_store(&s->misses, 0);
        atomic_store(&s->expired, 0);
        atomic_store(&s->evicted, 0);
        atomic_store(&s->expire_cycles_capped, 0);
        atomic_store(&s->stale_sampled, 0);
        atomic_store(&s->stale_expired, 0);
    }
}

/* ---- setup ----------------------------------------------------------------- */

static struct dbslots *dbslots_new(void) { return xcalloc(1, sizeof(struct dbslots)); }

int store_setup(int databases, const struct store_hooks *hooks) {
    ASSERT(databases >= 1 && databases <= STORE_MAX_DBS);
    store_ndbs = databases;
    store_dbs = xcalloc((size_t)databases, sizeof(*store_dbs));
    for (int i = 0; i < databases; i++) atomic_store(&store_dbs[i], dbslots_new());
    for (int i = 0; i < STORE_STRIPES; i++) {
        pthread_mutex_init(&store_stripes[i].mu, NULL);
        store_stripes[i].watch = NULL;
        store_stripes[i].nwatch = 0;
        store_stripes[i].track = NULL;
        atomic_init(&store_stripes[i].ntrack, 0);
        atomic_init(&store_stripes[i].voldbs, 0);
        atomic_init(&store_stripes[i].rehashdbs, 0);
    }
    if (hooks) store_hooks_ = *hooks;
    store_clock_tick();
    return lazyfree_setup();
}

static void slot_table_free(struct slot_table *st);

static void dbslots_free(void *arg) {
    struct dbslots *d = arg;
    for (int s = 0; s < STORE_SLOTS; s++) {
        struct slot_table *st = atomic_load_explicit(&d->slots[s], memory_order_relaxed);
        if (st) slot_table_free(st);
    }
    xfree(d);
}

/* FLUSHALL/FLUSHDB ASYNC: the keys count in lazyfreed_objects, as Redis. */
static void dbslots_free_counted(void *arg) {
    struct dbslots *d = arg;
    uint64_t keys = 0;
    for (int s = 0; s < STORE_SLOTS; s++) keys += atomic_load_explicit(&d->counts[s].keys, memory_order_relaxed);
    dbslots_free(d);
    lazyfree_credit(keys);
}

void store_dbslots_free(struct dbslots *d, bool async) {
    if (async)
        store_lazyfree(dbslots_free_counted, d);
    else
        dbslots_free(d);
}

void store_thread_cleanup(void) {
    xfree(tl.pending_free);
    tl.pending_free = NULL;
    xfree(tl.pending_async);
    tl.pending_async = NULL;
    tl.nasync = tl.capasync = 0;
    tl.npending = tl.cappending = 0;
    xfree(tl.empties);
    tl.empties = NULL;
    tl.nempty = tl.capempty = 0;
    store_track_thread_cleanup();
}

void store_teardown(void) {
    lazyfree_teardown();
    watch_teardown();
    track_teardown();
    for (int i = 0; i < store_ndbs; i++) dbslots_free(atomic_load(&store_dbs[i]));
    xfree(store_dbs);
    store_dbs = NULL;
    for (int i = 0; i < STORE_STRIPES; i++) pthread_mutex_destroy(&store_stripes[i].mu);
    store_thread_cleanup();
}

int store_databases(void) { return store_ndbs; }

/* ---- time -------------------------------------------------------------------- */

void store_set_now(int64_t ms) {
    if (!tl.frozen) tl.now = ms;
}
int64_t store_now(void) { return tl.now ? tl.now : time_ms(); }
void store_freeze_now(bool frozen) { tl.frozen = frozen; }

/* ---- locking ------------------------------------------------------------------- */

static inline void lock_stripe(unsigned s) TS_NO_ANALYSIS {
    pthread_mutex_lock(&store_stripes[s].mu);
    tl.bits[s >> 6] |= 1ULL << (s & 63);
}

static inline void unlock_stripe(unsigned s) TS_NO_ANALYSIS {
    tl.bits[s >> 6] &= ~(1ULL << (s & 63));
    pthread_mutex_unlock(&store_stripes[s].mu);
}

void store_stripe_lock(unsigned s) { lock_stripe(s); }
void store_stripe_unlock(unsigned s) { unlock_stripe(s); }

/* An open view must have `slot` serialized before it changes. The pointer is stable while any stripe is held (views open and
 * close with every stripe locked). [stripe-locked] */
static inline void view_guard(uint16_t slot) {
    struct store_view *v = atomic_load_explicit(&store_active_view, memory_order_acquire);
    if (UNLIKELY(v != NULL)) store_view_cow(v, slot);
}

bool store_holds(uint16_t slot) {
    unsigned s = store_stripe_of(slot);
    return tl.all || (tl.bits[s >> 6] & (1ULL << (s & 63))) != 0;
}

bool store_holds_all(void) { return tl.all; }

bool store_try_hold(uint16_t slot) TS_NO_ANALYSIS {
    if (store_holds(slot)) return true;
    if (tl.depth == 0) return false;
    unsigned s = store_stripe_of(slot);
    if (pthread_mutex_trylock(&store_stripes[s].mu) != 0) return false;
    /* The caller holds other stripes: serializing this one for a view
     * happens at its first lookup, like any stripe of the section. */
    tl.bits[s >> 6] |= 1ULL << (s & 63);
    tl.extra[tl.nextra++] = (uint16_t)s;
    return true;
}

/* The highest stripe held (-1: none). */
static int max_held(void) {
    for (int w = STORE_STRIPES / 64 - 1; w >= 0; w--)
        if (tl.bits[w]) return w * 64 + 63 - __builtin_clzll(tl.bits[w]);
    return -1;
}

static bool hold_stripe(unsigned s) TS_NO_ANALYSIS {
    if (tl.all || (tl.bits[s >> 6] & (1ULL << (s & 63)))) return true;
    if ((int)s > max_held())
        pthread_mutex_lock(&store_stripes[s].mu);
    else if (pthread_mutex_trylock(&store_stripes[s].mu) != 0)
        return false;
    tl.bits[s >> 6] |= 1ULL << (s & 63);
    tl.extra[tl.nextra++] = (uint16_t)s;
    return true;
}

bool store_hold(uint16_t slot) {
    if (tl.depth == 0) return store_holds(slot);
    return hold_stripe(store_stripe_of(slot));
}

bool store_hold_all(void) {
    if (tl.all) return true;
    if (tl.depth == 0) return false;
    /* Ascending: once past the highest stripe held, every wait is allowed. */
    for (unsigned s = 0; s < STORE_STRIPES; s++)
        if (!hold_stripe(s)) return false; /* what was taken stays held until the section ends */
    tl.all = true;
    return true;
}

void store_set_added_hook(store_added_fn fn) { added_hook = fn; }
void store_set_removed_hook(store_removed_fn fn) { removed_hook = fn; }
bool store_in_run(void) { return tl.depth > 0; }

static void free_entry_job(void *arg) { entry_free(arg); }

static void run_pending_frees(void) {
    for (size_t i = 0; i < tl.npending; i++) entry_free(tl.pending_free[i]);
    tl.npending = 0;
    for (size_t i = 0; i < tl.nasync; i++) store_lazyfree_n(free_entry_job, tl.pending_async[i], 1);
    tl.nasync = 0;
}

static void slot_table_free(struct slot_table *st);

/* Tables emptied during this locked section go away before the locks do. */
static void free_empty_tables(void) {
    for (size_t i = 0; i < tl.nempty; i++) {
        int db = (int)(tl.empties[i] >> 14);
        uint16_t slot = (uint16_t)(tl.empties[i] & (STORE_SLOTS - 1));
        if (db >= store_ndbs) continue;
        struct dbslots *d = dbslots_get(db);
        struct slot_table *st = atomic_load_explicit(&d->slots[slot], memory_order_relaxed);
        if (st == NULL || htab_count(&st->keys) != 0) continue;
        atomic_store_explicit(&d->slots[slot], NULL, memory_order_release);
        slot_table_free(st);
    }
    tl.nempty = 0;
}

static void note_empty(int db, uint16_t slot) {
    if (tl.nempty == tl.capempty) {
        tl.capempty = tl.capempty ? tl.capempty * 2 : 16;
        tl.empties = xrealloc(tl.empties, tl.capempty * sizeof(*tl.empties));
    }
    tl.empties[tl.nempty++] = ((uint32_t)db << 14) | slot;
}

static bool covered(const struct store_lockset *ls) {
    if (tl.all) return true;
    if (ls->all) return false;
    for (int i = 0; i < STORE_STRIPES / 64; i++)
        if (ls->bits[i] & ~tl.bits[i]) return false;
    return true;
}

void store_run(const struct store_lockset *ls, enum store_mode mode, store_fn fn, void *arg) {
    (void)mode; /* v1: every section is exclusive */
    if (tl.depth > 0) {
        /* Nested: only stripes already held (no out-of-order locking). */
        ASSERT(covered(ls));
        bool was = tl.write;
        tl.write = was || mode == STORE_WRITE;
        fn(arg);
        tl.write = was;
        return;
    }
    if (ls->all) {
        for (unsigned s = 0; s < STORE_STRIPES; s++) lock_stripe(s);
        tl.all = true;
    } else if (ls->n == 1) {
        lock_stripe(ls->first);
    } else {
        for (unsigned w = 0; w < STORE_STRIPES / 64; w++) {
            uint64_t b = ls->bits[w];
            while (b) {
                unsigned s = w * 64 + (unsigned)__builtin_ctzll(b);
                lock_stripe(s);
                b &= b - 1;
            }
        }
    }
    tl.depth++;
    tl.write = mode == STORE_WRITE;
    fn(arg);
    if (store_hooks_.seal) store_hooks_.seal();
    if (tl.nempty) free_empty_tables();
    tl.depth--;
    /* Stripes added during the section (store_try_hold, store_hold). */
    while (tl.nextra > 0) unlock_stripe(tl.extra[--tl.nextra]);
    if (!ls->all) tl.all = false; /* every stripe was held through store_hold_all */
    if (ls->all) {
        tl.all = false;
        for (int s = STORE_STRIPES - 1; s >= 0; s--) unlock_stripe((unsigned)s);
    } else if (ls->n == 1) {
        unlock_stripe(ls->first);
    } else {
        for (unsigned w = 0; w < STORE_STRIPES / 64; w++) {
            uint64_t b = ls->bits[w];
            while (b) {
                unsigned s = w * 64 + (unsigned)__builtin_ctzll(b);
                unlock_stripe(s);
                b &= b - 1;
            }
        }
    }
    if (tl.npending || tl.nasync) run_pending_frees();
    if (store_hooks_.after) store_hooks_.after();
}

void store_run_slot(uint16_t slot, enum store_mode mode, store_fn fn, void *arg) {
    struct store_lockset ls;
    ls.n = 1;
    ls.all = false;
    ls.first = (uint16_t)store_stripe_of(slot);
    /* bits are only read when n > 1 or for nesting checks */
    memset(ls.bits, 0, sizeof(ls.bits));
    ls.bits[ls.first >> 6] = 1ULL << (ls.first & 63);
    store_run(&ls, mode, fn, arg);
}

void store_run_all(enum store_mode mode, store_fn fn, void *arg) {
    struct store_lockset ls;
    store_lockset_init(&ls);
    store_lockset_all(&ls);
    store_run(&ls, mode, fn, arg);
}

/* ---- slot tables ------------------------------------------------------------------- */

static struct slot_table *slot_table_new(void) {
    struct slot_table *st = xcalloc(1, sizeof(*st));
    htab_init(&st->keys, entry_hash);
    /* Keyspace tables trade slightly longer chains for fewer bucket bytes
     * per key (about 6 instead of 11): memory per key is what a cache sells. */
    htab_set_max_load(&st->keys, 2);
    return st;
}

static void free_node(struct htab_node *n, void *arg) { entry_free((struct entry *)n); }

static void slot_table_free(struct slot_table *st) {
    htab_clear(&st->keys, free_node, NULL);
    xfree(st->vol);
    xfree(st);
}

static struct slot_table *slot_get_or_create(int db, uint16_t slot) {
    struct dbslots *d = dbslots_get(db);
    struct slot_table *st = atomic_load_explicit(&d->slots[slot], memory_order_relaxed);
    if (st == NULL) {
        st = slot_table_new();
        atomic_store_explicit(&d->slots[slot], st, memory_order_release);
    }
    return st;
}

/* Note that a table of this stripe is left half-rehashed, for the cron. */
static inline void hint_rehash(int db, uint16_t slot, const struct slot_table *st) {
    if (LIKELY(!htab_rehashing(&st->keys))) return;
    _Atomic uint64_t *rd = &store_stripes[store_stripe_of(slot)].rehashdbs;
    uint64_t bit = 1ULL << (db < 63 ? db : 63);
    uint64_t cur = atomic_load_explicit(rd, memory_order_relaxed);
    if (!(cur & bit)) atomic_store_explicit(rd, cur | bit, memory_order_relaxed);
}

/* Mirror a table's sizes for lock-free readers. */
static inline void publish_counts(int db, uint16_t slot, const struct slot_table *st) {
    struct slot_counts *sc = &dbslots_get(db)->counts[slot];
    atomic_store_explicit(&sc->keys, (uint32_t)htab_count(&st->keys), memory_order_relaxed);
    atomic_store_explicit(&sc->vol, st->nvol, memory_order_relaxed);
}

static void vol_add(struct slot_table *st, struct entry *e, int db, uint16_t slot) {
    _Atomic uint64_t *vd = &store_stripes[store_stripe_of(slot)].voldbs;
    uint64_t bit = 1ULL << (db < 63 ? db : 63);
    uint64_t cur = atomic_load_explicit(vd, memory_order_relaxed);
    if (!(cur & bit)) atomic_store_explicit(vd, cur | bit, memory_order_relaxed);
    if (st->nvol == st->capvol) {
        st->capvol = st->capvol ? st->capvol * 2 : 4;
        st->vol = xrealloc(st->vol, st->capvol * sizeof(*st->vol));
    }
    entry_set_vidx(e, st->nvol);
    st->vol[st->nvol++] = e;
}

static void vol_remove(struct slot_table *st, struct entry *e) {
    uint32_t i = entry_vidx(e);
    DEBUG_ASSERT(i < st->nvol && st->vol[i] == e);
    struct entry *last = st->vol[--st->nvol];
    st->vol[i] = last;
    entry_set_vidx(last, i);
    if (st->capvol > 16 && st->nvol < st->capvol / 4) {
        st->capvol /= 2;
        st->vol = xrealloc(st->vol, st->capvol * sizeof(*st->vol));
    }
}

/* The entry at ref moved from `old` to `e` (same table position). */
static void vol_moved(const struct store_ref *ref, struct entry *old, struct entry *e) {
    struct slot_table *st = ref->st;
    bool had = entry_has_expire(old), has = entry_has_expire(e);
    if (had && has) {
        uint32_t i = entry_vidx(old);
        st->vol[i] = e;
        entry_set_vidx(e, i);
    } else if (had) {
        vol_remove(st, old);
    } else if (has) {
        vol_add(st, e, ref->db, ref->key.slot);
    }
}

static void free_entry_locked(struct entry *e) {
    /* Big values are freed after the locks are released. */
    if (entry_mem(e) >= BIG_FREE_BYTES && tl.depth > 0) {
        if (tl.npending == tl.cappending) {
            tl.cappending = tl.cappending ? tl.cappending * 2 : 16;
            tl.pending_free = xrealloc(tl.pending_free, tl.cappending * sizeof(*tl.pending_free));
        }
        tl.pending_free[tl.npending++] = e;
        return;
    }
    entry_free(e);
}

/* ---- lookup -------------------------------------------------------------------------- */

bool store_entry_expired(const struct entry *e) {
    if (!entry_has_expire(e) || UNLIKELY(tl.loading)) return false;
    return entry_expire(e) < store_now(); /* Redis: expired once now > when */
}

void store_set_loading(bool on) { tl.loading = on; }
bool store_loading(void) { return tl.loading; }

static _Atomic bool lazy_expire = true;
void store_set_lazy_expire(bool on) { atomic_store(&lazy_expire, on); }
bool store_lazy_expire_on(void) { return atomic_load_explicit(&lazy_expire, memory_order_relaxed); }

struct entry *store_peek(int db, const struct store_key *k, struct store_ref *ref) {
    DEBUG_ASSERT(store_holds(k->slot));
    if (tl.write) view_guard(k->slot);
    struct slot_table *st = slot_get(db, k->slot);
    if (st == NULL) return NULL;
    struct htab_pos pos;
    if (!htab_find(&st->keys, store_key_hash(k), store_entry_eq, k, &pos)) return NULL;
    if (ref) {
        ref->st = st;
        ref->pos = pos;
        ref->db = db;
        ref->key = *k;
    }
    return (struct entry *)*pos.link;
}

void store_set_keep_expired(bool on) { tl.keep_expired = on; }

struct entry *store_lookup(int db, const struct store_key *k, unsigned flags, struct store_ref *ref) {
    if (flags & STORE_LOOKUP_WRITE) view_guard(k->slot);
    struct store_ref local;
    struct store_ref *r = ref ? ref : &local;
    struct entry *e = store_peek(db, k, r);
    if (e && entry_has_expire(e) && entry_expire(e) < store_now() && LIKELY(!tl.loading && !tl.keep_expired)) {
        /* During CLIENT PAUSE a read hides an expired key but does not
         * delete it (deleting is a write), as Redis does; a write that
         * still runs (the end of an EXEC) replaces it, so it goes. */
        /* A replica keeps expired keys for its primary's DEL, but a write
         * of its own (a writable replica) replaces them: deleted then. */
        if (!(flags & STORE_LOOKUP_NOEXPIRE) &&
            (atomic_load_explicit(&lazy_expire, memory_order_relaxed) || (flags & STORE_LOOKUP_WRITE)) &&
            (!store_expire_is_paused() || (flags & STORE_LOOKUP_WRITE)))
            store_delete_expired(r);
        e = NULL;
    }
    if (!(flags & STORE_LOOKUP_WRITE)) {
        struct store_tstats *s = store_tstats();
        if (e)
            tstat_add(&s->hits, 1);
        else
            tstat_add(&s->misses, 1);
    }
    if (e && !(flags & STORE_LOOKUP_NOTOUCH)) store_touch_access(e);
    return e;
}

bool store_ref_of(int db, struct slot_table *st, struct entry *e, struct store_ref *ref) {
    size_t klen;
    const char *key = entry_key(e, &klen);
    struct store_key k = {.ptr = key, .len = klen, .slot = 0};
    struct htab_pos pos;
    if (!htab_find(&st->keys, store_hash_key(key, klen), store_entry_eq, &k, &pos)) return false;
    ref->st = st;
    ref->pos = pos;
    ref->db = db;
    k.slot = store_slot(key, klen);
    ref->key = k;
    return true;
}

/* ---- changes ------------------------------------------------------------------------------ */

void store_touch_access(struct entry *e) {
    if (store_policy_is_lfu())
        store_lfu_touch(e);
    else
        entry_set_lru(e, store_lru_clock());
}

static void init_access(struct entry *e) {
    if (store_policy_is_lfu())
        store_lfu_init(e);
    else
        entry_set_lru(e, store_lru_clock());
}

void store_add(int db, const struct store_key *k, struct entry *e, struct store_ref *ref) {
    DEBUG_ASSERT(store_holds(k->slot));
    view_guard(k->slot);
    struct slot_table *st = slot_get_or_create(db, k->slot);
    init_access(e);
    struct htab_pos pos;
    htab_insert(&st->keys, store_key_hash(k), &e->node, &pos);
    if (entry_has_expire(e)) vol_add(st, e, db, k->slot);
    publish_counts(db, k->slot, st);
    hint_rehash(db, k->slot, st);
    if (ref) {
        ref->st = st;
        ref->pos = pos;
        ref->db = db;
        ref->key = *k;
    }
    if (added_hook) added_hook(db, k, e);
}

void store_replace(struct store_ref *ref, struct entry *e) {
    view_guard(ref->key.slot);
    struct entry *old = store_ref_entry(ref);
    bool retyped = entry_type(old) != entry_type(e);
    init_access(e);
    htab_replace_at(&ref->pos, &e->node);
    vol_moved(ref, old, e);
    publish_counts(ref->db, ref->key.slot, ref->st);
    if (removed_hook) removed_hook(ref->db, &ref->key, old);
    free_entry_locked(old);
    if (retyped && added_hook) added_hook(ref->db, &ref->key, e);
}

struct entry *store_unlink(struct store_ref *ref) {
    view_guard(ref->key.slot);
    struct entry *e = store_ref_entry(ref);
    if (entry_has_expire(e)) vol_remove(ref->st, e);
    htab_remove_at(&ref->st->keys, &ref->pos);
    publish_counts(ref->db, ref->key.slot, ref->st);
    hint_rehash(ref->db, ref->key.slot, ref->st);
    if (htab_count(&ref->st->keys) == 0) note_empty(ref->db, ref->key.slot);
    if (removed_hook) removed_hook(ref->db, &ref->key, e);
    return e;
}

void store_delete(struct store_ref *ref) { free_entry_locked(store_unlink(ref)); }

/* Redis's lazyfreeGetFreeEffort, approximated: compact encodings are one
 * allocation; other collections about one per 128 bytes they hold. */
#define LAZYFREE_THRESHOLD 64
static size_t free_effort(const struct entry *e) {
    if (entry_type(e) == TYPE_STRING) return 1;
    const char *enc = entry_enc_name(e);
    if (strcmp(enc, "listpack") == 0 || strcmp(enc, "intset") == 0 || strcmp(enc, "ziplist") == 0) return 1;
    return entry_mem(e) / 128;
}

void store_delete_async(struct store_ref *ref) {
    struct entry *e = store_unlink(ref);
    if (tl.depth == 0 || free_effort(e) <= LAZYFREE_THRESHOLD) {
        free_entry_locked(e);
        return;
    }
    if (tl.nasync == tl.capasync) {
        tl.capasync = tl.capasync ? tl.capasync * 2 : 8;
        tl.pending_async = xrealloc(tl.pending_async, tl.capasync * sizeof(*tl.pending_async));
    }
    tl.pending_async[tl.nasync++] = e;
}

static void report_deleted(struct store_ref *ref, enum store_del_reason why) {
    /* Copy the key: the entry is gone when hooks run. */
    char small[256];
    char *key = ref->key.len <= sizeof(small) ? small : xmalloc(ref->key.len);
    memcpy(key, ref->key.ptr, ref->key.len);
    size_t klen = ref->key.len;
    int db = ref->db;
    uint16_t slot = ref->key.slot;
    store_delete(ref);
    watch_touch_locked(&store_stripes[store_stripe_of(slot)], db, key, klen);
    track_touch_locked(&store_stripes[store_stripe_of(slot)], key, klen, true);
    if (store_hooks_.deleted) store_hooks_.deleted(db, key, klen, why);
    if (key != small) xfree(key);
}

/* Delete the entry at ref on the store's own initiative; the key in ref may
 * point into the entry itself (active expiry, eviction), so copy it first. */
static void delete_reporting(struct store_ref *ref, enum store_del_reason why) {
    size_t klen;
    const char *k = entry_key(store_ref_entry(ref), &klen);
    char small[256];
    char *copy = klen <= sizeof(small) ? small : xmalloc(klen);
    memcpy(copy, k, klen);
    ref->key.ptr = copy;
    ref->key.len = klen;
    report_deleted(ref, why);
    struct store_tstats *st = store_tstats();
    tstat_add(why == STORE_DEL_EXPIRED ? &st->expired : &st->evicted, 1);
    if (copy != small) xfree(copy);
}

void store_delete_expired(struct store_ref *ref) { delete_reporting(ref, STORE_DEL_EXPIRED); }
void store_delete_evicted(struct store_ref *ref) { delete_reporting(ref, STORE_DEL_EVICTED); }

/* Swap the entry at ref for n (same key, same value ownership): the old
 * block is only released, its value lives on in n. */
static void move_to(struct store_ref *ref, struct entry *old, struct entry *n) {
    htab_replace_at(&ref->pos, &n->node);
    vol_moved(ref, old, n);
    publish_counts(ref->db, ref->key.slot, ref->st);
    xfree(old);
}

void store_set_expire(struct store_ref *ref, int64_t when) {
    view_guard(ref->key.slot);
    struct entry *e = store_ref_entry(ref);
    if (when >= 0 && entry_has_expire(e)) {
        entry_store_expire(e, when);
        return;
    }
    if (when < 0 && !entry_has_expire(e)) return;
    size_t vb = entry_value_size(e);
    uint8_t *vp;
    struct entry *n = entry_rebuild(e, when, vb, vb, &vp);
    move_to(ref, e, n);
}

char *store_str_writable(struct store_ref *ref, size_t len) {
    view_guard(ref->key.slot);
    struct entry *e = store_ref_entry(ref);
    ASSERT(entry_type(e) == TYPE_STRING);
    entry_mc_forget_cas(e); /* a changed value: its CAS goes (copies below keep the block) */
    int enc = entry_enc(e);
    int64_t expire = entry_expire(e);
    if (enc == ENC_BLOB) {
        struct blob *b = entry_obj(e);
        if (atomic_load_explicit(&b->refs, memory_order_acquire) > 1 || b->cap < len) {
            /* Shared with a reply in flight, or too small: a new blob.
             * Growth is greedy (like sds) so repeated APPENDs amortize. */
            size_t cap = len;
            if (len > b->len) cap = len < 1024 * 1024 ? len * 2 : len + 1024 * 1024;
            struct blob *nb;
            if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
                nb = xrealloc(b, sizeof(*b) + cap + 1);
                nb->cap = xusable(nb) - sizeof(*nb) - 1;
            } else {
                nb = blob_new(b->data, MIN(b->len, len), cap);
                blob_unref(b);
            }
            b = nb;
            entry_set_obj(e, b);
        }
        if (len > b->len) memset(b->data + b->len, 0, len - b->len);
        b->len = len;
        return b->data;
    }
    if (enc == ENC_EMBSTR || enc == ENC_RAWEMB) {
        /* Inline text whose new length fits the block (same varint size):
         * edit in place, no reallocation (SETBIT, SETRANGE, small APPEND).
         * Replies copy inline values, so nobody else sees these bytes. */
        uint8_t *vp = entry_valp(e);
        size_t cur;
        size_t hdr = varint_get(vp, &cur);
        if (len <= ENTRY_EMB_MAX && varint_len(len) == hdr &&
            (size_t)(vp + hdr + len - (uint8_t *)e) <= xusable(e)) {
            if (len > cur) memset(vp + hdr + cur, 0, len - cur);
            varint_put(vp, len);
            entry_set_enc(e, ENC_RAWEMB);
            return (char *)vp + hdr;
        }
    }
    /* Inline (or integer) value: its current text. */
    char numbuf[STR_LL_MAX];
    size_t oldlen;
    const char *old = entry_str_bytes(e, numbuf, &oldlen);
    if (len <= ENTRY_EMB_MAX) {
        uint8_t *vp;
        size_t hdr = varint_len(len);
        struct entry *n = entry_rebuild(e, expire, hdr + len, 0, &vp);
        vp += varint_put(vp, len);
        memcpy(vp, old, MIN(oldlen, len));
        if (len > oldlen) memset(vp + oldlen, 0, len - oldlen);
        entry_set_enc(n, ENC_RAWEMB);
        move_to(ref, e, n);
        return (char *)vp;
    }
    size_t cap = len < 1024 * 1024 ? len * 2 : len + 1024 * 1024;
    struct blob *b = blob_new(old, MIN(oldlen, len), cap);
    if (len > oldlen) memset(b->data + oldlen, 0, len - oldlen);
    b->len = len;
    uint8_t *vp;
    struct entry *n = entry_rebuild(e, expire, sizeof(b), 0, &vp);
    memcpy(vp, &b, sizeof(b));
    entry_set_enc(n, ENC_BLOB);
    move_to(ref, e, n);
    return b->data;
}

bool store_str_overwrite(struct store_ref *ref, const char *val, size_t vlen, int64_t expire) {
    view_guard(ref->key.slot);
    struct entry *e = store_ref_entry(ref);
    if (entry_type(e) != TYPE_STRING) return false;
    if (entry_has_mc(e)) return false; /* a new value has no memcached flags: a new entry */
    int enc = entry_enc(e);
    if (enc != ENC_EMBSTR && enc != ENC_RAWEMB) return false;
    if ((expire >= 0) != entry_has_expire(e)) return false;
    long long ll;
    if (vlen <= 20 && vlen > 0 && str_to_ll(val, vlen, &ll)) return false; /* becomes ENC_INT */
    uint8_t *vp = entry_valp(e);
    size_t cur;
    size_t h = varint_get(vp, &cur);
    if (cur != vlen) return false;
    memcpy(vp + h, val, vlen);
    entry_set_enc(e, ENC_EMBSTR); /* a fresh SET value, as Redis reports it */
    if (expire >= 0) entry_store_expire(e, expire);
    store_touch_access(e);
    return true;
}

void store_str_set_int(struct store_ref *ref, long long v) {
    view_guard(ref->key.slot);
    struct entry *e = store_ref_entry(ref);
    entry_mc_forget_cas(e);
    if (entry_type(e) == TYPE_STRING && entry_enc(e) == ENC_INT) {
        memcpy(entry_valp(e), &v, sizeof(v));
        return;
    }
    /* A copy with the same key, blocks and state, holding the integer; the
     * old entry goes with whatever its value held (a blob). */
    uint8_t *vp;
    struct entry *n = entry_rebuild(e, entry_expire(e), sizeof(v), 0, &vp);
    n->te = (uint8_t)(TYPE_STRING | (ENC_INT << 4));
    memcpy(vp, &v, sizeof(v));
    htab_replace_at(&ref->pos, &n->node);
    vol_moved(ref, e, n);
    publish_counts(ref->db, ref->key.slot, ref->st);
    free_entry_locked(e);
}

void store_set_mc(struct store_ref *ref, const struct entry_mc *mc) {
    view_guard(ref->key.slot);
    struct entry *e = store_ref_entry(ref);
    if (mc && entry_has_mc(e)) {
        entry_mc_store(e, mc);
        return;
    }
    if (!mc && !entry_has_mc(e)) return;
    move_to(ref, e, entry_with_mc(e, mc));
}

/* ---- whole keyspace ---------------------------------------------------------------------- */

uint64_t store_slot_count(int db, uint16_t slot) { return slot_keys(db, slot); }

struct rehash_step {
    unsigned stripe;
    int64_t deadline;
};

static void rehash_stripe(void *arg) {
    struct rehash_step *r = arg;
    struct stripe *sp = &store_stripes[r->stripe];
    uint64_t dbs = atomic_load_explicit(&sp->rehashdbs, memory_order_relaxed), still = 0;
    for (int db = 0; db < store_ndbs && dbs; db++) {
        uint64_t bit = 1ULL << (db < 63 ? db : 63);
        if (!(dbs & bit)) {
            if (db >= 63) break;
            continue;
        }
        for (unsigned slot = r->stripe; slot < STORE_SLOTS; slot += STORE_STRIPES) {
            struct slot_table *st = slot_get(db, (uint16_t)slot);
            if (st == NULL || !htab_rehashing(&st->keys)) continue;
            int64_t left = r->deadline - time_mono_us();
            if (left > 0) htab_rehash_us(&st->keys, left);
            if (htab_rehashing(&st->keys)) still |= bit;
        }
    }
    atomic_store_explicit(&sp->rehashdbs, still, memory_order_relaxed);
}

void store_active_rehash(int worker, int nworkers, int64_t budget_us) {
    struct rehash_step r = {0, time_mono_us() + budget_us};
    for (unsigned s = (unsigned)worker; s < STORE_STRIPES; s += (unsigned)nworkers) {
        if (atomic_load_explicit(&store_stripes[s].rehashdbs, memory_order_relaxed) == 0) continue;
        r.stripe = s;
        store_run_slot((uint16_t)s, STORE_WRITE, rehash_stripe, &r);
        if (time_mono_us() >= r.deadline) return;
    }
}

uint64_t store_dbsize(int db) {
    struct dbslots *d = dbslots_get(db);
    uint64_t n = 0;
    for (int s = 0; s < STORE_SLOTS; s++) n += atomic_load_explicit(&d->counts[s].keys, memory_order_relaxed);
    return n;
}

uint64_t store_db_volatile(int db) {
    struct dbslots *d = dbslots_get(db);
    uint64_t n = 0;
    for (int s = 0; s < STORE_SLOTS; s++) n += atomic_load_explicit(&d->counts[s].vol, memory_order_relaxed);
    return n;
}

int64_t store_db_avg_ttl(int db) { return atomic_load_explicit(&dbslots_get(db)->avg_ttl, memory_order_relaxed); }

struct scan_step {
    int db;
    uint16_t slot;
    uint64_t cursor;
    long budget; /* buckets to visit */
    store_scan_fn fn;
    void *arg;
    size_t produced;
    int64_t now;
};

/* Collect first, then filter: expired keys found by the scan are deleted
 * after the table walk (deleting inside htab_scan's callback is not allowed). */
struct scan_collect {
    struct entry **v;
    size_t n, cap;
};

static void collect(struct htab_node *n, void *arg) {
    struct scan_collect *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = (struct entry *)n;
}

static void scan_slot_locked(void *arg) {
    struct scan_step *s = arg;
    struct slot_table *st = slot_get(s->db, s->slot);
    if (st == NULL || htab_count(&st->keys) == 0) {
        s->cursor = 0;
        return;
    }
    struct scan_collect c = {NULL, 0, 0};
    do {
        s->cursor = htab_scan(&st->keys, s->cursor, collect, &c);
    } while (s->cursor != 0 && (long)c.n < s->budget);
    for (size_t i = 0; i < c.n; i++) {
        struct entry *e = c.v[i];
        if (entry_has_expire(e) && entry_expire(e) < store_now()) {
            struct store_ref ref;
            if (atomic_load_explicit(&lazy_expire, memory_order_relaxed) && store_ref_of(s->db, st, e, &ref))
                store_delete_expired(&ref);
            continue;
        }
        s->fn(e, s->arg);
        s->produced++;
    }
    xfree(c.v);
}

uint64_t store_scan(int db, uint64_t cursor, long count, store_scan_fn fn, void *arg, size_t *produced) {
    if (count < 1) count = 1;
    struct scan_step s = {db, (uint16_t)(cursor & (STORE_SLOTS - 1)), cursor >> 14, count, fn, arg, 0, 0};
    for (;;) {
        if (s.cursor != 0 || store_slot_count(db, s.slot) > 0) {
            s.budget = count - (long)s.produced;
            if (s.budget < 1) s.budget = 1;
            store_run_slot(s.slot, STORE_WRITE, scan_slot_locked, &s);
        }
        if (s.cursor == 0) {
            if (s.slot == STORE_SLOTS - 1) {
                if (produced) *produced = s.produced;
                return 0;
            }
            s.slot++;
        }
        if ((long)s.produced >= count) break;
    }
    if (produced) *produced = s.produced;
    return (s.cursor << 14) | s.slot;
}

struct foreach_step {
    int db;
    uint16_t slot;
    store_scan_fn fn;
    void *arg;
};

static void foreach_slot_locked(void *arg) {
    struct foreach_step *f = arg;
    struct slot_table *st = slot_get(f->db, f->slot);
    if (st == NULL) return;
    struct htab_iter it;
    int64_t now = store_now();
    for (struct htab_node *n = htab_first(&st->keys, &it); n; n = htab_next(&st->keys, &it)) {
        struct entry *e = (struct entry *)n;
        if (entry_has_expire(e) && entry_expire(e) < now) continue;
        f->fn(e, f->arg);
    }
}

void store_foreach(int db, store_scan_fn fn, void *arg) {
    struct foreach_step f = {db, 0, fn, arg};
    for (int s = 0; s < STORE_SLOTS; s++) {
        f.slot = (uint16_t)s;
        if (store_slot_count(db, f.slot) == 0) continue;
        store_run_slot(f.slot, STORE_READ, foreach_slot_locked, &f);
    }
}

struct random_step {
    int db;
    uint16_t slot;
    char *out;
    size_t cap;
    char *heap;
    long len;
    bool expired;
};

static void random_locked(void *arg) {
    struct random_step *r = arg;
    struct slot_table *st = slot_get(r->db, r->slot);
    r->len = -1;
    if (st == NULL) return;
    struct entry *e = (struct entry *)htab_random(&st->keys);
    if (e == NULL) return;
    size_t klen;
    const char *k = entry_key(e, &klen);
    r->expired = entry_has_expire(e) && entry_expire(e) < store_now();
    if (r->expired && atomic_load_explicit(&lazy_expire, memory_order_relaxed)) {
        struct store_ref ref;
        if (store_ref_of(r->db, st, e, &ref)) store_delete_expired(&ref);
        return;
    }
    if (klen <= r->cap) {
        memcpy(r->out, k, klen);
    } else {
        r->heap = xmalloc(klen);
        memcpy(r->heap, k, klen);
    }
    r->len = (long)klen;
}

long store_random_key(int db, char *out, size_t cap, char **heap_out) {
    *heap_out = NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t total = store_dbsize(db);
        if (total == 0) return -1;
        /* Pick a slot with probability proportional to its size. */
        uint64_t r = rand_below(total), acc = 0;
        int slot = -1;
        struct dbslots *d = dbslots_get(db);
        for (int s = 0; s < STORE_SLOTS; s++) {
            acc += atomic_load_explicit(&d->counts[s].keys, memory_order_relaxed);
            if (acc > r) {
                slot = s;
                break;
            }
        }
        if (slot < 0) continue;
        struct random_step rs = {db, (uint16_t)slot, out, cap, NULL, -1, false};
        store_run_slot(rs.slot, STORE_WRITE, random_locked, &rs);
        if (rs.len >= 0) {
            *heap_out = rs.heap;
            return rs.len;
        }
        /* An expired key: a replica that cannot delete keeps trying a while. */
    }
    return -1;
}

struct stats_step {
    int db;
    uint16_t slot;
    struct store_table_stats *out;
};

static void table_stats_locked(void *arg) {
    struct stats_step *s = arg;
    struct slot_table *st = slot_get(s->db, s->slot);
    if (st == NULL) return;
    struct store_table_stats *o = s->out;
    struct htab *h = &st->keys;
    o->tables++;
    if (htab_rehashing(h)) o->rehashing++;
    o->keys += htab_count(h);
    o->volatile_keys += st->nvol;
    for (int t = 0; t < 2; t++) {
        if (h->exp[t] < 0 || h->table[t] == NULL) continue;
        size_t n = (size_t)1 << h->exp[t];
        o->buckets += n;
        for (size_t i = 0; i < n; i++) {
            uint64_t len = 0;
            for (struct htab_node *e = h->table[t][i]; e; e = e->next) len++;
            if (len) o->used_buckets++;
            if (len > o->max_chain) o->max_chain = len;
            o->chains[len < STORE_CHAIN_STATS ? len : STORE_CHAIN_STATS - 1]++;
        }
    }
}

void store_table_stats(int db, struct store_table_stats *out) {
    memset(out, 0, sizeof(*out));
    struct stats_step s = {db, 0, out};
    for (int i = 0; i < STORE_SLOTS; i++) {
        if (slot_get(db, (uint16_t)i) == NULL) continue;
        s.slot = (uint16_t)i;
        store_run_slot(s.slot, STORE_READ, table_stats_locked, &s);
    }
}

struct flush_step {
    int db; /* -1: all */
    struct dbslots **fresh;
    struct dbslots **old;
    uint64_t removed;
};

static void flush_locked(void *arg) {
    struct flush_step *f = arg;
    track_flush_locked(); /* clients' caches are not per db: all keys invalid (as Redis) */
    int from = f->db < 0 ? 0 : f->db, to = f->db < 0 ? store_ndbs - 1 : f->db;
    for (int db = from; db <= to; db++) {
        int i = db - from;
        f->removed += store_dbsize(db);
        watch_flush_locked(db, dbslots_get(db), NULL);
        f->old[i] = dbslots_get(db);
        /* An open view still reads these tables: it frees them when done. */
        if (store_view_adopt(f->old[i])) f->old[i] = NULL;
        atomic_store_explicit(&store_dbs[db], f->fresh[i], memory_order_release);
    }
}

uint64_t store_flush(int db, bool async) {
    int n = db < 0 ? store_ndbs : 1;
    struct dbslots **fresh = xmalloc((size_t)n * sizeof(*fresh));
    struct dbslots **old = xmalloc((size_t)n * sizeof(*old));
    for (int i = 0; i < n; i++) fresh[i] = dbslots_new();
    struct flush_step f = {db, fresh, old, 0};
    store_run_all(STORE_WRITE, flush_locked, &f);
    for (int i = 0; i < n; i++)
        if (old[i]) store_dbslots_free(old[i], async);
    xfree(fresh);
    xfree(old);
    return f.removed;
}

struct swap_step {
    int a, b;
};

static void swap_locked(void *arg) {
    struct swap_step *s = arg;
    track_flush_locked();
    struct dbslots *da = dbslots_get(s->a), *dbb = dbslots_get(s->b);
    watch_flush_locked(s->a, da, dbb);
    watch_flush_locked(s->b, dbb, da);
    atomic_store_explicit(&store_dbs[s->a], dbb, memory_order_release);
    atomic_store_explicit(&store_dbs[s->b], da, memory_order_release);
    /* The active expire cycle only visits (stripe, db) pairs whose hint bit
     * is set: volatile keys now live under the other index, so mark both
     * (a stale bit costs one sweep, which clears it). */
    uint64_t both = (1ULL << (s->a < 63 ? s->a : 63)) | (1ULL << (s->b < 63 ? s->b : 63));
    for (int i = 0; i < STORE_STRIPES; i++) {
        _Atomic uint64_t *vd = &store_stripes[i].voldbs;
        uint64_t cur = atomic_load_explicit(vd, memory_order_relaxed);
        if (cur & both) atomic_store_explicit(vd, cur | both, memory_order_relaxed);
    }
}

void store_swapdb(int a, int b) {
    struct swap_step s = {a, b};
    store_run_all(STORE_WRITE, swap_locked, &s);
}

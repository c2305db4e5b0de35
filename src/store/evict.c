/*
 * store/evict.c - LRU/LFU bookkeeping and maxmemory eviction.
 *
 * LRU: entries carry a 24-bit clock in seconds (store_lru_clock), refreshed
 * on access; idle time is the clock difference (with wrap-around).
 * LFU: 16 bits of "last decrement" minutes + an 8-bit logarithmic counter,
 * incremented with probability 1/((counter-5)*lfu_log_factor+1) and decayed
 * by one per lfu_decay_time minutes of idleness (Redis's scheme, so OBJECT
 * FREQ reads the same).
 *
 * Eviction: when used memory exceeds maxmemory, the thread about to run a
 * command that may grow memory evicts before it takes its locks. Each round
 * samples `maxmemory-samples` keys from consecutive non-empty slots starting
 * at a random one (all keys, or the slots' volatile vectors for volatile-*
 * policies) into a small
 * per-thread pool of the best candidates, then evicts the best one after
 * re-finding it under its stripe lock. Rounds repeat until memory is under
 * the limit or the time budget (maxmemory-eviction-tenacity) is spent.
 * Samples are per slot, so the approximation is per slot too; memory is a
 * global budget.
 */
#include "store/store_internal.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/rand.h"
#include "base/time.h"

#define LRU_MAX ((1u << 24) - 1)
#define LFU_INIT 5
#define POOL_SIZE 16
#define POOL_KEY_MAX 255

static _Atomic unsigned long long maxmemory;
static _Atomic int policy = EVICT_NOEVICTION;
static _Atomic int samples = 5;
static _Atomic int lfu_log_factor = 10;
static _Atomic int lfu_decay_time = 1;
static _Atomic uint32_t lru_clock;
static _Atomic int tenacity = 10;

void store_set_maxmemory(unsigned long long bytes) { atomic_store(&maxmemory, bytes); }
unsigned long long store_get_maxmemory(void) { return atomic_load(&maxmemory); }
void store_set_policy(enum store_evict_policy p) { atomic_store(&policy, (int)p); }
enum store_evict_policy store_get_policy(void) { return (enum store_evict_policy)atomic_load(&policy); }
int store_evict_policy(void) { return atomic_load_explicit(&policy, memory_order_relaxed); }
void store_set_samples(int n) { atomic_store(&samples, n < 1 ? 1 : (n > 64 ? 64 : n)); }
void store_set_lfu(int log_factor, int decay_time) {
    atomic_store(&lfu_log_factor, log_factor);
    atomic_store(&lfu_decay_time, decay_time);
}
void store_set_eviction_tenacity(int t);
void store_set_eviction_tenacity(int t) { atomic_store(&tenacity, t < 0 ? 0 : (t > 100 ? 100 : t)); }

bool store_policy_is_lfu(void) {
    int p = atomic_load_explicit(&policy, memory_order_relaxed);
    return p == EVICT_ALLKEYS_LFU || p == EVICT_VOLATILE_LFU;
}

void store_clock_tick(void) {
    atomic_store_explicit(&lru_clock, (uint32_t)((time_ms() / 1000) & LRU_MAX), memory_order_relaxed);
}
uint32_t store_lru_clock(void) { return atomic_load_explicit(&lru_clock, memory_order_relaxed); }

/* ---- LRU / LFU -------------------------------------------------------------- */

static uint64_t idle_seconds(const struct entry *e) {
    uint32_t now = store_lru_clock(), then = entry_lru(e);
    return now >= then ? now - then : (LRU_MAX - then) + now;
}

uint64_t store_idle_ms(const struct entry *e) { return idle_seconds(e) * 1000; }

static uint32_t minutes_now(void) { return (uint32_t)((time_ms() / 60000) & 65535); }

static uint32_t minutes_since(uint32_t ldt) {
    uint32_t now = minutes_now();
    return now >= ldt ? now - ldt : 65535 - ldt + now;
}

static int lfu_decayed(const struct entry *e) {
    uint32_t v = entry_lru(e);
    uint32_t ldt = v >> 8, counter = v & 255;
    int decay = atomic_load_explicit(&lfu_decay_time, memory_order_relaxed);
    uint32_t periods = decay ? minutes_since(ldt) / (uint32_t)decay : 0;
    if (periods) counter = periods > counter ? 0 : counter - periods;
    return (int)counter;
}

int store_lfu_freq(struct entry *e) { return lfu_decayed(e); }

void store_lfu_init(struct entry *e) { entry_set_lru(e, (minutes_now() << 8) | LFU_INIT); }

void store_lfu_touch(struct entry *e) {
    uint32_t counter = (uint32_t)lfu_decayed(e);
    if (counter < 255) {
        double base = (double)counter - LFU_INIT;
        if (base < 0) base = 0;
        double p = 1.0 / (base * atomic_load_explicit(&lfu_log_factor, memory_order_relaxed) + 1);
        if (rand_double() < p) counter++;
    }
    entry_set_lru(e, (minutes_now() << 8) | counter);
}

bool store_set_access(struct entry *e, long long idle_s, int freq) {
    if (store_policy_is_lfu()) {
        if (freq < 0) return false;
        entry_set_lru(e, (minutes_now() << 8) | (uint32_t)(freq > 255 ? 255 : freq));
        return true;
    }
    if (idle_s < 0) return false;
    long long abs = (long long)store_lru_clock() - idle_s % (LRU_MAX + 1LL);
    if (abs < 0) abs += LRU_MAX;
    entry_set_lru(e, (uint32_t)abs);
    return true;
}

/* ---- eviction ------------------------------------------------------------------ */

struct candidate {
    uint64_t score; /* higher: better to evict */
    int db;
    uint16_t slot;
    uint16_t klen;
    char key[POOL_KEY_MAX];
};

static __thread struct candidate pool[POOL_SIZE];
static __thread int pool_n;

static bool volatile_policy(int p) { return p >= EVICT_VOLATILE_LRU; }

static uint64_t score_of(int p, struct entry *e) {
    switch (p) {
    case EVICT_ALLKEYS_LRU:
    case EVICT_VOLATILE_LRU: return idle_seconds(e);
    case EVICT_ALLKEYS_LFU:
    case EVICT_VOLATILE_LFU: return 255 - (uint64_t)lfu_decayed(e);
    case EVICT_VOLATILE_TTL: return UINT64_MAX - (uint64_t)entry_expire(e);
    default: return rand_u64();
    }
}

static void pool_insert(int db, uint16_t slot, struct entry *e, uint64_t score) {
    size_t klen;
    const char *key = entry_key(e, &klen);
    if (klen > POOL_KEY_MAX) return; /* very long keys are not pooled */
    for (int i = 0; i < pool_n; i++)
        if (pool[i].db == db && pool[i].klen == klen && memcmp(pool[i].key, key, klen) == 0) return;
    int at;
    if (pool_n < POOL_SIZE) {
        at = pool_n++;
    } else {
        /* Replace the worst candidate if this one is better. */
        at = 0;
        for (int i = 1; i < pool_n; i++)
            if (pool[i].score < pool[at].score) at = i;
        if (pool[at].score >= score) return;
    }
    pool[at].score = score;
    pool[at].db = db;
    pool[at].slot = slot;
    pool[at].klen = (uint16_t)klen;
    memcpy(pool[at].key, key, klen);
}

struct sample_step {
    int db;
    uint16_t slot;
    int policy;
    int want;
};

static void sample_locked(void *arg) {
    struct sample_step *s = arg;
    struct slot_table *st = slot_get(s->db, s->slot);
    if (st == NULL) return;
    if (volatile_policy(s->policy)) {
        for (int i = 0; i < s->want && st->nvol > 0; i++) {
            struct entry *e = st->vol[rand_below(st->nvol)];
            pool_insert(s->db, s->slot, e, score_of(s->policy, e));
        }
    } else {
        struct htab_node *out[64];
        size_t n = htab_sample(&st->keys, out, (size_t)s->want);
        for (size_t i = 0; i < n; i++) {
            struct entry *e = (struct entry *)out[i];
            pool_insert(s->db, s->slot, e, score_of(s->policy, e));
        }
    }
}

/* Fill the pool with about `want` samples from consecutive non-empty slots
 * of a random database, starting at a random slot (slots are small when keys
 * are few, so one slot rarely has enough). Returns the samples taken; 0 when
 * nothing can be evicted. */
static int sample_round(int p, int want) {
    int start_db = (int)rand_below((uint64_t)store_ndbs);
    for (int d = 0; d < store_ndbs; d++) {
        int db = (start_db + d) % store_ndbs;
        struct dbslots *dd = dbslots_get(db);
        unsigned start = (unsigned)rand_below(STORE_SLOTS);
        int taken = 0;
        for (unsigned i = 0; i < STORE_SLOTS && taken < want; i++) {
            unsigned s = (start + i) & (STORE_SLOTS - 1);
            uint32_t n = volatile_policy(p) ? atomic_load_explicit(&dd->counts[s].vol, memory_order_relaxed)
                                             : atomic_load_explicit(&dd->counts[s].keys, memory_order_relaxed);
            if (n == 0) continue;
            int k = want - taken;
            if ((uint32_t)k > n) k = (int)n;
            struct sample_step ss = {db, (uint16_t)s, p, k};
            store_run_slot((uint16_t)s, STORE_WRITE, sample_locked, &ss);
            taken += k;
        }
        if (taken > 0) return taken;
    }
    return 0;
}

struct evict_step {
    struct candidate *c;
    bool done;
};

static void evict_locked(void *arg) {
    struct evict_step *s = arg;
    struct store_key k = {.ptr = s->c->key, .len = s->c->klen, .slot = s->c->slot};
    struct store_ref ref;
    struct entry *e = store_peek(s->c->db, &k, &ref);
    if (e == NULL) return;
    if (volatile_policy(store_evict_policy()) && !entry_has_expire(e)) return;
    store_delete_evicted(&ref);
    s->done = true;
}

/* Used memory compared with the limit: the one-load estimate when it is
 * clearly below, the exact per-thread sum near or above it. */
static bool over_limit(unsigned long long mm) {
    if (alloc_used_approx() + alloc_approx_error() <= mm) return false;
    return alloc_used_bytes() > mm;
}

bool store_over_maxmemory(void) {
    unsigned long long mm = atomic_load_explicit(&maxmemory, memory_order_relaxed);
    return mm && over_limit(mm);
}

int store_evict_if_needed(void) {
    unsigned long long mm = atomic_load_explicit(&maxmemory, memory_order_relaxed);
    if (mm == 0 || !over_limit(mm)) return 0;
    int p = store_evict_policy();
    if (p == EVICT_NOEVICTION) return ERR_NOMEM;
    int t = atomic_load_explicit(&tenacity, memory_order_relaxed);
    int64_t limit_us = t <= 10 ? 50L * t : (t >= 100 ? INT64_MAX / 4 : 500L << ((t - 10) / 10 * 2));
    int64_t start = time_mono_us();
    int want = atomic_load_explicit(&samples, memory_order_relaxed);
    int rounds = 0;
    store_set_now(time_ms());
    while (alloc_used_bytes() > mm) {
        /* Fill the pool with a round of samples. */
        if (sample_round(p, want) == 0 && pool_n == 0) return ERR_NOMEM; /* nothing evictable */
        /* Evict the best pooled candidate that still exists. */
        bool evicted = false;
        while (pool_n > 0 && !evicted) {
            int best = 0;
            for (int i = 1; i < pool_n; i++)
                if (pool[i].score > pool[best].score) best = i;
            struct candidate c = pool[best];
            pool[best] = pool[--pool_n];
            struct evict_step es = {&c, false};
            store_run_slot(c.slot, STORE_WRITE, evict_locked, &es);
            evicted = es.done;
        }
        if (++rounds % 16 == 0 && time_mono_us() - start > limit_us) return 0; /* go on next time */
    }
    return 0;
}

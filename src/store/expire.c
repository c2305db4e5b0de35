/*
 * store/expire.c - the active expire cycle.
 *
 * Keys with an expiry are deleted lazily when touched (store_lookup) and by
 * this cycle, which each worker runs from its cron for the stripes it owns
 * (stripe % nworkers == worker), so no stripe is swept by two threads and no
 * thread sweeps everything. Per slot it samples keys from the slot's
 * volatile vector (Redis's algorithm: 20 keys, again while more than 10% of
 * the sample was expired), within a time budget per call. The budget and
 * the sample size grow with active-expire-effort (1..10).
 *
 * Thread context: [any] with no stripe held; takes one stripe at a time.
 */
#include "store/store_internal.h"
#include "base/rand.h"
#include "base/time.h"

#define KEYS_PER_LOOP 20
#define ACCEPTABLE_STALE 10 /* percent */

static _Atomic int effort = 1;
static _Atomic bool active_on = true;
static _Atomic bool paused;

void store_set_expire_effort(int e) { atomic_store(&effort, e < 1 ? 1 : (e > 10 ? 10 : e)); }
void store_set_active_expire(bool on) { atomic_store(&active_on, on); }
bool store_get_active_expire(void) { return atomic_load(&active_on); }

struct cycle {
    unsigned stripe;
    int64_t deadline;
    int keys_per_loop;
    int stale_limit;
    bool timed_out;
    uint64_t sampled, expired;
};

/* Sample one slot table until it looks clean or time is up. */
static void sweep_slot(struct cycle *c, int db, uint16_t slot, struct slot_table *st) {
    int64_t now = store_now();
    int64_t ttl_sum = 0, ttl_n = 0;
    int rounds = 0;
    for (;;) {
        if (st->nvol == 0) break;
        int n = c->keys_per_loop, sampled = 0, expired = 0;
        if ((uint32_t)n > st->nvol) n = (int)st->nvol;
        for (int i = 0; i < n && st->nvol > 0; i++) {
            struct entry *e = st->vol[rand_below(st->nvol)];
            sampled++;
            int64_t when = entry_expire(e);
            if (when < now) {
                struct store_ref ref;
                if (store_ref_of(db, st, e, &ref)) {
                    store_delete_expired(&ref);
                    expired++;
                }
            } else {
                ttl_sum += when - now;
                ttl_n++;
            }
        }
        c->sampled += (uint64_t)sampled;
        c->expired += (uint64_t)expired;
        if (sampled == 0 || expired * 100 / sampled <= c->stale_limit) break;
        if ((++rounds & 15) == 0 && time_mono_us() > c->deadline) {
            c->timed_out = true;
            break;
        }
    }
    if (ttl_n > 0) {
        /* Running estimate of the average TTL, as INFO keyspace shows it. */
        _Atomic int64_t *avg = &dbslots_get(db)->avg_ttl;
        int64_t cur = atomic_load_explicit(avg, memory_order_relaxed);
        int64_t sample = ttl_sum / ttl_n;
        atomic_store_explicit(avg, cur ? (cur / 50) * 49 + sample / 50 : sample, memory_order_relaxed);
    }
}

static void sweep_stripe(void *arg) {
    struct cycle *c = arg;
    struct stripe *sp = &store_stripes[c->stripe];
    uint64_t dbs = atomic_load_explicit(&sp->voldbs, memory_order_relaxed);
    if (dbs == 0) return;
    uint64_t still = 0;
    for (int db = 0; db < store_ndbs; db++) {
        uint64_t bit = 1ULL << (db < 63 ? db : 63);
        if (!(dbs & bit)) {
            if (db >= 63) break;
            continue;
        }
        bool any = false;
        for (unsigned slot = c->stripe; slot < STORE_SLOTS; slot += STORE_STRIPES) {
            struct slot_table *st = slot_get(db, (uint16_t)slot);
            if (st == NULL || st->nvol == 0) continue;
            sweep_slot(c, db, (uint16_t)slot, st);
            if (st->nvol) any = true;
        }
        if (any) still |= bit;
    }
    atomic_store_explicit(&sp->voldbs, still, memory_order_relaxed);
}

void store_active_expire(int worker, int nworkers, int64_t budget_us) {
    if (!atomic_load_explicit(&active_on, memory_order_relaxed)) return;
    if (!store_lazy_expire_on()) return; /* a replica: keys go with its primary's DELs */
    if (atomic_load_explicit(&paused, memory_order_relaxed)) return;
    static __thread unsigned cursor; /* where this worker stopped last time */
    int eff = atomic_load_explicit(&effort, memory_order_relaxed) - 1;
    struct cycle c = {0};
    c.keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * eff;
    c.stale_limit = ACCEPTABLE_STALE - eff;
    c.deadline = time_mono_us() + budget_us + budget_us * eff / 4;
    store_set_now(time_ms());
    unsigned mine = 0;
    for (unsigned s = (unsigned)worker; s < STORE_STRIPES; s += (unsigned)nworkers) mine++;
    if (mine == 0) return;
    for (unsigned i = 0; i < mine; i++) {
        unsigned k = (cursor + i) % mine;
        c.stripe = (unsigned)worker + k * (unsigned)nworkers;
        /* Unlocked peek at a hint; a stale read only delays a sweep. */
        if (atomic_load_explicit(&store_stripes[c.stripe].voldbs, memory_order_relaxed) == 0) continue;
        store_run_slot((uint16_t)c.stripe, STORE_WRITE, sweep_stripe, &c);
        if (c.timed_out || time_mono_us() > c.deadline) {
            cursor = k + 1;
            struct store_tstats *st = store_tstats();
            tstat_add(&st->expire_cycles_capped, 1);
            tstat_add(&st->stale_sampled, c.sampled);
            tstat_add(&st->stale_expired, c.expired);
            return;
        }
    }
    cursor = 0;
    struct store_tstats *st = store_tstats();
    tstat_add(&st->stale_sampled, c.sampled);
    tstat_add(&st->stale_expired, c.expired);
}

void store_set_expire_paused(bool on) { atomic_store(&paused, on); }
bool store_expire_is_paused(void) { return atomic_load_explicit(&paused, memory_order_relaxed); }

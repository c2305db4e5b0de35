/*
 * repl/local.c - keys a writable replica wrote itself, expired by the
 * replica (Redis's slaveKeysWithExpire).
 *
 * A replica deletes nothing on its own: its primary's DELs do. But a key a
 * client wrote on a writable replica (replica-read-only no) is unknown to
 * the primary, so nobody would ever delete it once expired. The dispatcher
 * reports the keys of such writes (repl_local_write); the feeder's cron
 * visits them (a bounded number per run), deletes those that expired and
 * forgets those that are gone or have no expiry any more. The set is
 * dropped when the replica loads a full sync or becomes a primary.
 *
 * Locks: a leaf mutex guards the set; the cron copies a batch out, then
 * visits each key under its stripe (store_run_slot) with the mutex free.
 */
#include "repl/repl_int.h"
#include "base/alloc.h"
#include "base/hash.h"
#include "base/time.h"
#include "ds/htab.h"
#include "store/store.h"

#include <string.h>

#define CRON_KEYS 256

struct lkey {
    struct htab_node node;
    uint64_t hash;
    int db;
    size_t len;
    char key[];
};

struct lkey_ref {
    int db;
    size_t len;
    const char *key;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct htab set;
static bool ready;
static _Atomic size_t count;

static uint64_t lhash(int db, const char *key, size_t len) { return hash_fnv(key, len) ^ ((uint64_t)db * 0x9E3779B97F4A7C15ULL); }
static uint64_t node_hash(const struct htab_node *n) { return ((const struct lkey *)n)->hash; }

static bool node_eq(const struct htab_node *n, const void *arg) {
    const struct lkey *k = (const struct lkey *)n;
    const struct lkey_ref *r = arg;
    return k->db == r->db && k->len == r->len && memcmp(k->key, r->key, r->len) == 0;
}

void repl_local_write(int db, const char *key, size_t len) {
    if (!atomic_load_explicit(&R.replica, memory_order_relaxed)) return;
    struct lkey_ref ref = {db, len, key};
    uint64_t h = lhash(db, key, len);
    pthread_mutex_lock(&mu);
    if (!ready) {
        htab_init(&set, node_hash);
        ready = true;
    }
    struct htab_pos pos;
    if (!htab_find(&set, h, node_eq, &ref, &pos)) {
        struct lkey *k = xmalloc(sizeof(*k) + len);
        k->hash = h;
        k->db = db;
        k->len = len;
        memcpy(k->key, key, len);
        htab_insert(&set, h, &k->node, NULL);
        atomic_store(&count, htab_count(&set));
    }
    pthread_mutex_unlock(&mu);
}

size_t repl_local_keys(void) { return atomic_load_explicit(&count, memory_order_relaxed); }

static void free_node(struct htab_node *n, void *arg) { xfree(n); }

void local_clear(void) {
    pthread_mutex_lock(&mu);
    if (ready) htab_clear(&set, free_node, NULL);
    atomic_store(&count, 0);
    pthread_mutex_unlock(&mu);
}

struct visit {
    int db;
    struct store_key k;
    bool keep; /* still there with an expiry in the future */
};

/* [stripe-locked] Delete the key if it expired; keep watching it while it
 * has an expiry. */
static void visit_locked(void *arg) {
    struct visit *v = arg;
    struct entry *e = store_lookup(v->db, &v->k, STORE_LOOKUP_WRITE | STORE_LOOKUP_NOTOUCH, NULL);
    v->keep = e != NULL && entry_has_expire(e);
}

struct batch {
    struct lkey *items[CRON_KEYS];
    int n;
};

static void take(struct htab_node *n, void *arg) {
    struct batch *b = arg;
    if (b->n < CRON_KEYS) b->items[b->n++] = (struct lkey *)n;
}

void local_expire_cron(void) {
    if (atomic_load_explicit(&count, memory_order_relaxed) == 0) return;
    struct batch b = {.n = 0};
    uint64_t cursor = 0;
    pthread_mutex_lock(&mu);
    /* Unlink a batch: the keys are visited without the mutex, and those
     * still to watch go back. */
    do {
        cursor = htab_scan(&set, cursor, take, &b);
    } while (cursor != 0 && b.n < CRON_KEYS);
    int kept = 0; /* a scan may return a node twice: keep each once */
    for (int i = 0; i < b.n; i++) {
        struct lkey_ref ref = {b.items[i]->db, b.items[i]->len, b.items[i]->key};
        struct htab_pos pos;
        if (htab_find(&set, b.items[i]->hash, node_eq, &ref, &pos) && *pos.link == &b.items[i]->node) {
            htab_remove_at(&set, &pos);
            b.items[kept++] = b.items[i];
        }
    }
    b.n = kept;
    pthread_mutex_unlock(&mu);
    store_set_now(time_ms());
    for (int i = 0; i < b.n; i++) {
        struct lkey *k = b.items[i];
        struct visit v = {k->db, {0}, false};
        store_key_init(&v.k, k->key, k->len);
        store_run_slot(v.k.slot, STORE_WRITE, visit_locked, &v);
        if (v.keep) {
            pthread_mutex_lock(&mu);
            struct lkey_ref ref = {k->db, k->len, k->key};
            struct htab_pos pos;
            if (!htab_find(&set, k->hash, node_eq, &ref, &pos)) {
                htab_insert(&set, k->hash, &k->node, NULL);
                k = NULL;
            }
            pthread_mutex_unlock(&mu);
        }
        xfree(k);
    }
    pthread_mutex_lock(&mu);
    atomic_store(&count, htab_count(&set));
    pthread_mutex_unlock(&mu);
}

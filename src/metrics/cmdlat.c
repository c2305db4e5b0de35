/*
 * metrics/cmdlat.c - see cmdlat.h.
 *
 * Histogram layout (HdrHistogram, lowest 1, highest 1e9, 2 significant
 * figures): a value v < 256 has index v; above, with b = bit length of v
 * minus 8, the index is (b + 1) * 128 + (v >> b) - 128, and the index
 * covers [ (v >> b) << b, + 2^b ). 24 buckets of 128 = CMDLAT_COUNTS.
 */
#include "metrics/cmdlat.h"
#include "base/alloc.h"
#include "base/str.h"
#include "config/config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define HALF_MAG 7
#define HALF (1 << HALF_MAG)
#define LOWEST_NS 1
#define HIGHEST_NS 1000000000LL
#define MAX_PERCENTILES 64

/* Counters in chunks of one bucket (128), allocated on first use: a
 * command's latencies usually span a few powers of two, so a histogram
 * costs a few KB per thread instead of 24. */
#define CHUNK HALF
#define NCHUNKS (CMDLAT_COUNTS / CHUNK)

struct hist {
    _Atomic(_Atomic uint64_t *) chunk[NCHUNKS];
};

/* One recording thread's histograms (owned by it, read by anyone). */
struct tstate {
    struct tstate *next;
    _Atomic uint64_t epoch;          /* the reset generation its counters belong to */
    _Atomic int cap;                 /* slots in hists */
    _Atomic(struct hist *) *_Atomic hists; /* by command id; grown by the owner only */
    void **old;                      /* arrays replaced by growth (freed at teardown) */
    int nold;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tstate *threads;
static __thread struct tstate *self;
static _Atomic uint64_t epoch = 1;
static _Atomic bool enabled = true;

/* latency-tracking-info-percentiles (guarded by the config registry's
 * mutex for writes; INFO reads a snapshot under pct_mu). */
static pthread_mutex_t pct_mu = PTHREAD_MUTEX_INITIALIZER;
static double pcts[MAX_PERCENTILES] = {50.0, 99.0, 99.9};
static int npcts = 3;

/* ---- index math ----------------------------------------------------------------- */

static int bucket_of(int64_t v) {
    int bits = 64 - __builtin_clzll((uint64_t)v | (2 * HALF - 1));
    return bits - (HALF_MAG + 1);
}

static int index_of(int64_t v) {
    int b = bucket_of(v);
    return ((b + 1) << HALF_MAG) + (int)(v >> b) - HALF;
}

static int64_t value_at(int idx) {
    int b = (idx >> HALF_MAG) - 1;
    int sub = (idx & (HALF - 1)) + HALF;
    if (b < 0) {
        sub -= HALF;
        b = 0;
    }
    return (int64_t)sub << b;
}

static int64_t lowest_equiv(int64_t v) {
    int b = bucket_of(v);
    return (v >> b) << b;
}

static int64_t highest_equiv(int64_t v) {
    int b = bucket_of(v);
    return lowest_equiv(v) + ((int64_t)1 << b) - 1;
}

/* ---- recording -------------------------------------------------------------------- */

static struct tstate *tstate_get(void) {
    if (self) return self;
    struct tstate *t = xcalloc(1, sizeof(*t));
    atomic_init(&t->epoch, atomic_load(&epoch));
    pthread_mutex_lock(&reg_mu);
    t->next = threads;
    threads = t;
    pthread_mutex_unlock(&reg_mu);
    self = t;
    return t;
}

static struct hist *hist_for(struct tstate *t, int id) {
    int cap = atomic_load_explicit(&t->cap, memory_order_relaxed);
    if (id >= cap) {
        int ncap = id + 64;
        _Atomic(struct hist *) *fresh = xcalloc((size_t)ncap, sizeof(*fresh));
        _Atomic(struct hist *) *cur = atomic_load_explicit(&t->hists, memory_order_relaxed);
        for (int i = 0; i < cap; i++)
            atomic_init(&fresh[i], atomic_load_explicit(&cur[i], memory_order_relaxed));
        /* Readers may still walk the old array: keep it until teardown. */
        if (cur) {
            pthread_mutex_lock(&reg_mu);
            t->old = xrealloc(t->old, (size_t)(t->nold + 1) * sizeof(*t->old));
            t->old[t->nold++] = (void *)cur;
            pthread_mutex_unlock(&reg_mu);
        }
        atomic_store_explicit(&t->hists, fresh, memory_order_release);
        atomic_store_explicit(&t->cap, ncap, memory_order_release);
        cap = ncap;
    }
    _Atomic(struct hist *) *arr = atomic_load_explicit(&t->hists, memory_order_relaxed);
    struct hist *h = atomic_load_explicit(&arr[id], memory_order_relaxed);
    if (h == NULL) {
        h = xcalloc(1, sizeof(*h));
        atomic_store_explicit(&arr[id], h, memory_order_release);
    }
    return h;
}

/* [owner of t] Clear t's counters after a reset. */
static void tstate_clear(struct tstate *t) {
    int cap = atomic_load_explicit(&t->cap, memory_order_relaxed);
    _Atomic(struct hist *) *arr = atomic_load_explicit(&t->hists, memory_order_relaxed);
    for (int i = 0; i < cap; i++) {
        struct hist *h = atomic_load_explicit(&arr[i], memory_order_relaxed);
        if (h == NULL) continue;
        for (int ch = 0; ch < NCHUNKS; ch++) {
            _Atomic uint64_t *cnt = atomic_load_explicit(&h->chunk[ch], memory_order_relaxed);
            if (cnt == NULL) continue;
            for (int k = 0; k < CHUNK; k++) atomic_store_explicit(&cnt[k], 0, memory_order_relaxed);
        }
    }
}

bool cmdlat_enabled(void) { return atomic_load_explicit(&enabled, memory_order_relaxed); }

void cmdlat_record(int id, int64_t usec) {
    if (id < 0) return;
    struct tstate *t = tstate_get();
    uint64_t e = atomic_load_explicit(&epoch, memory_order_acquire);
    if (atomic_load_explicit(&t->epoch, memory_order_relaxed) != e) {
        tstate_clear(t);
        atomic_store_explicit(&t->epoch, e, memory_order_release);
    }
    int64_t ns = usec * 1000;
    if (ns < LOWEST_NS) ns = LOWEST_NS;
    if (ns > HIGHEST_NS) ns = HIGHEST_NS;
    struct hist *h = hist_for(t, id);
    int idx = index_of(ns);
    _Atomic uint64_t *cnt = atomic_load_explicit(&h->chunk[idx / CHUNK], memory_order_relaxed);
    if (cnt == NULL) {
        cnt = xcalloc(CHUNK, sizeof(*cnt));
        atomic_store_explicit(&h->chunk[idx / CHUNK], cnt, memory_order_release);
    }
    _Atomic uint64_t *c = &cnt[idx % CHUNK];
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

void cmdlat_reset(void) { atomic_fetch_add_explicit(&epoch, 1, memory_order_acq_rel); }

/* ---- reading ------------------------------------------------------------------------ */

uint64_t cmdlat_merge(int id, uint64_t *out) {
    memset(out, 0, sizeof(uint64_t) * CMDLAT_COUNTS);
    uint64_t total = 0;
    uint64_t e = atomic_load_explicit(&epoch, memory_order_acquire);
    pthread_mutex_lock(&reg_mu);
    for (struct tstate *t = threads; t; t = t->next) {
        if (atomic_load_explicit(&t->epoch, memory_order_acquire) != e) continue;
        int cap = atomic_load_explicit(&t->cap, memory_order_acquire);
        if (id < 0 || id >= cap) continue;
        _Atomic(struct hist *) *arr = atomic_load_explicit(&t->hists, memory_order_acquire);
        struct hist *h = atomic_load_explicit(&arr[id], memory_order_acquire);
        if (h == NULL) continue;
        for (int ch = 0; ch < NCHUNKS; ch++) {
            _Atomic uint64_t *cnt = atomic_load_explicit(&h->chunk[ch], memory_order_acquire);
            if (cnt == NULL) continue;
            for (int k = 0; k < CHUNK; k++) {
                uint64_t v = atomic_load_explicit(&cnt[k], memory_order_relaxed);
                out[ch * CHUNK + k] += v;
                total += v;
            }
        }
    }
    pthread_mutex_unlock(&reg_mu);
    return total;
}

/* HdrHistogram's value at percentile (ns). */
static int64_t value_at_percentile(const uint64_t *counts, uint64_t total, double p) {
    double req = p < 100.0 ? p : 100.0;
    int64_t want = (int64_t)((req / 100.0) * (double)total + 0.5);
    if (want < 1) want = 1;
    int64_t v = 0;
    uint64_t acc = 0;
    for (int i = 0; i < CMDLAT_COUNTS; i++) {
        acc += counts[i];
        if ((int64_t)acc >= want) {
            v = value_at(i);
            break;
        }
    }
    return p == 0.0 ? lowest_equiv(v) : highest_equiv(v);
}

int cmdlat_cdf(const uint64_t *counts, uint64_t total, void (*fn)(long long usec, long long cum, void *arg),
               void *arg) {
    /* Buckets at 1024 ns * 2^k, each reported at the highest value its
     * sub-bucket covers, as a log iterator (base 2, first 1024) does. */
    int n = 0, idx = 0;
    uint64_t cum = 0, prev = 0;
    for (int64_t level = 1024; prev < total; level *= 2) {
        int last = index_of(level);
        int64_t hev;
        if (last >= CMDLAT_COUNTS) {
            last = CMDLAT_COUNTS - 1;
            hev = highest_equiv(value_at(last));
        } else {
            hev = highest_equiv(level);
        }
        for (; idx <= last; idx++) cum += counts[idx];
        if (cum > prev) {
            fn(hev / 1000, (long long)cum, arg);
            n++;
        }
        prev = cum;
        if (last == CMDLAT_COUNTS - 1) break;
    }
    return n;
}

/* "%f" without trailing zeros (Redis's trimDoubleString). */
static void fmt_pct(char *out, size_t cap, double p) {
    int n = snprintf(out, cap, "%f", p);
    if (n <= 0 || (size_t)n >= cap || strchr(out, '.') == NULL) return;
    while (n > 0 && out[n - 1] == '0') out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.') out[--n] = '\0';
}

void cmdlat_info_line(struct buf *out, const char *name, const uint64_t *counts, uint64_t total) {
    double p[MAX_PERCENTILES];
    pthread_mutex_lock(&pct_mu);
    int n = npcts;
    memcpy(p, pcts, sizeof(double) * (size_t)n);
    pthread_mutex_unlock(&pct_mu);
    buf_printf(out, "latency_percentiles_usec_%s:", name);
    for (int i = 0; i < n; i++) {
        char f[64];
        fmt_pct(f, sizeof(f), p[i]);
        buf_printf(out, "p%s=%.3f%s", f, (double)value_at_percentile(counts, total, p[i]) / 1000.0,
                   i == n - 1 ? "" : ",");
    }
    buf_puts(out, "\r\n");
}

/* ---- options ---------------------------------------------------------------------------- */

static int apply_enabled(long long v, char *err) {
    UNUSED(err);
    atomic_store(&enabled, v != 0);
    return 0;
}

static int pct_set(int argc, char **argv, bool check_only, char *err) {
    double vals[MAX_PERCENTILES];
    if (argc > MAX_PERCENTILES) {
        snprintf(err, CFG_ERR_MAX, "Too many latency-tracking-info-percentiles parameters");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (!str_to_d(argv[i], strlen(argv[i]), &vals[i])) {
            snprintf(err, CFG_ERR_MAX, "Invalid latency-tracking-info-percentiles parameters");
            return -1;
        }
        if (vals[i] > 100.0 || vals[i] < 0.0) {
            snprintf(err, CFG_ERR_MAX, "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
            return -1;
        }
    }
    if (check_only) return 0;
    pthread_mutex_lock(&pct_mu);
    memcpy(pcts, vals, sizeof(double) * (size_t)argc);
    npcts = argc;
    pthread_mutex_unlock(&pct_mu);
    return 0;
}

static void pct_get(struct buf *out) {
    pthread_mutex_lock(&pct_mu);
    for (int i = 0; i < npcts; i++) {
        char f[64];
        fmt_pct(f, sizeof(f), pcts[i]);
        if (i) buf_putc(out, ' ');
        buf_puts(out, f);
    }
    pthread_mutex_unlock(&pct_mu);
}

static struct config_option options[] = {
    {"latency-tracking", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_enabled, NULL, NULL, NULL, 0, NULL},
    {"latency-tracking-info-percentiles", NULL, CFG_SPECIAL, CFG_F_MULTI_ARG, "50 99 99.9", 0, 0, NULL, NULL, NULL,
     pct_set, pct_get, 0, NULL},
    CFG_END,
};

void cmdlat_setup(void) { config_register(options); }

void cmdlat_teardown(void) {
    pthread_mutex_lock(&reg_mu);
    struct tstate *t = threads;
    threads = NULL;
    pthread_mutex_unlock(&reg_mu);
    while (t) {
        struct tstate *next = t->next;
        int cap = atomic_load(&t->cap);
        _Atomic(struct hist *) *arr = atomic_load(&t->hists);
        for (int i = 0; i < cap; i++) {
            struct hist *h = atomic_load(&arr[i]);
            if (h == NULL) continue;
            for (int ch = 0; ch < NCHUNKS; ch++) xfree((void *)atomic_load(&h->chunk[ch]));
            xfree(h);
        }
        xfree((void *)arr);
        for (int i = 0; i < t->nold; i++) xfree(t->old[i]);
        xfree(t->old);
        xfree(t);
        t = next;
    }
    self = NULL;
}

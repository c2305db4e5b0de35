/*
 * base/alloc.c - allocator wrappers and per-thread accounting.
 *
 * Design: see alloc.h. Each registered thread gets one slot in `slots`, padded
 * to a cache line; the owner updates it with a relaxed load + relaxed store
 * (no locked instruction), readers sum with relaxed loads. Drift beyond
 * ALLOC_FOLD_BYTES is folded into `approx` with one atomic add, so the hot
 * path of maxmemory checks reads one rarely-written line.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "base/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(STASH_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define A_MALLOC(n) malloc(n)
#define A_CALLOC(n, s) calloc(n, s)
#define A_REALLOC(p, n) realloc(p, n)
#define A_FREE(p) free(p)
#define A_USABLE(p) sallocx((void *)(p), 0)
#define A_GOOD(n) nallocx((n) ? (n) : 1, 0)
/* Size of a fresh block, without reading it (GCC warns on sallocx there). */
#define A_NEWSIZE(p, n) nallocx((n) ? (n) : 1, 0)
#elif defined(STASH_USE_MIMALLOC)
#include <mimalloc.h>
#define A_MALLOC(n) mi_malloc(n)
#define A_CALLOC(n, s) mi_calloc(n, s)
#define A_REALLOC(p, n) mi_realloc(p, n)
#define A_FREE(p) mi_free(p)
#define A_USABLE(p) mi_usable_size(p)
#define A_GOOD(n) mi_good_size(n)
#define A_NEWSIZE(p, n) mi_usable_size(p)
#else
#include <malloc.h>
#define A_MALLOC(n) malloc(n)
#define A_CALLOC(n, s) calloc(n, s)
#define A_REALLOC(p, n) realloc(p, n)
#define A_FREE(p) free(p)
#define A_USABLE(p) malloc_usable_size((void *)(p))
#define A_GOOD(n) (n)
#define A_NEWSIZE(p, n) malloc_usable_size(p)
#endif

#define MAX_SLOTS 512

struct slot {
    _Atomic int64_t bytes;  /* owner-written, relaxed */
    int64_t folded;         /* owner-only: part of bytes already in approx */
    char pad[CACHELINE - 16];
};

static struct slot slots[MAX_SLOTS] CACHE_ALIGNED;
static _Atomic int nslots;
static _Atomic int64_t shared_bytes CACHE_ALIGNED; /* threads without a slot */
static _Atomic int64_t approx CACHE_ALIGNED;
static _Atomic size_t peak;
static __thread struct slot *tl_slot;

static inline void account(int64_t delta) {
    struct slot *s = tl_slot;
    if (LIKELY(s != NULL)) {
        int64_t v = atomic_load_explicit(&s->bytes, memory_order_relaxed) + delta;
        atomic_store_explicit(&s->bytes, v, memory_order_relaxed);
        int64_t drift = v - s->folded;
        if (UNLIKELY(drift > ALLOC_FOLD_BYTES || drift < -ALLOC_FOLD_BYTES)) {
            atomic_fetch_add_explicit(&approx, drift, memory_order_relaxed);
            s->folded = v;
        }
    } else {
        atomic_fetch_add_explicit(&shared_bytes, delta, memory_order_relaxed);
        atomic_fetch_add_explicit(&approx, delta, memory_order_relaxed);
    }
}

static NORETURN void oom(size_t n) {
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "stash: out of memory allocating %zu bytes\n", n);
    if (write(2, msg, (size_t)len) < 0) { /* nothing more we can do */
    }
    abort();
}

void *xmalloc(size_t n) {
    void *p = A_MALLOC(n ? n : 1);
    if (UNLIKELY(p == NULL)) oom(n);
    account((int64_t)A_NEWSIZE(p, n));
    return p;
}

void *xcalloc(size_t n, size_t size) {
    size_t total = (n ? n : 1) * (size ? size : 1);
    void *p = A_CALLOC(n ? n : 1, size ? size : 1);
    if (UNLIKELY(p == NULL)) oom(total);
    account((int64_t)A_NEWSIZE(p, total));
    return p;
}

void *xrealloc(void *p, size_t n) {
    if (p == NULL) return xmalloc(n);
    size_t old = A_USABLE(p);
    void *q = A_REALLOC(p, n ? n : 1);
    if (UNLIKELY(q == NULL)) oom(n);
    account((int64_t)A_NEWSIZE(q, n) - (int64_t)old);
    return q;
}

void xfree(void *p) {
    if (p == NULL) return;
    account(-(int64_t)A_USABLE(p));
    A_FREE(p);
}

char *xstrdup(const char *s) { return xmemdup(s, strlen(s) + 1); }

char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *xmemdup(const void *p, size_t n) {
    void *d = xmalloc(n);
    if (n) memcpy(d, p, n);
    return d;
}

size_t xusable(const void *p) { return p ? A_USABLE(p) : 0; }
size_t xgoodsize(size_t n) { return A_GOOD(n); }

void alloc_thread_init(void) {
    if (tl_slot != NULL) return;
    int i = atomic_fetch_add(&nslots, 1);
    if (i >= MAX_SLOTS) return; /* fall back to the shared counter */
    tl_slot = &slots[i];
}

size_t alloc_used_bytes(void) {
    int64_t sum = atomic_load_explicit(&shared_bytes, memory_order_relaxed);
    int n = MIN(atomic_load(&nslots), MAX_SLOTS);
    for (int i = 0; i < n; i++) sum += atomic_load_explicit(&slots[i].bytes, memory_order_relaxed);
    size_t used = sum > 0 ? (size_t)sum : 0;
    size_t pk = atomic_load_explicit(&peak, memory_order_relaxed);
    while (used > pk && !atomic_compare_exchange_weak(&peak, &pk, used)) {
    }
    return used;
}

size_t alloc_used_approx(void) {
    int64_t v = atomic_load_explicit(&approx, memory_order_relaxed);
    return v > 0 ? (size_t)v : 0;
}

size_t alloc_approx_error(void) {
    return (size_t)(MIN(atomic_load_explicit(&nslots, memory_order_relaxed), MAX_SLOTS) + 1) * ALLOC_FOLD_BYTES;
}

size_t alloc_peak_bytes(void) {
    alloc_used_bytes();
    return atomic_load_explicit(&peak, memory_order_relaxed);
}

void alloc_reset_peak(void) { atomic_store(&peak, alloc_used_bytes()); }

size_t alloc_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

const char *alloc_name(void) {
#if defined(STASH_USE_JEMALLOC)
    static char name[48];
    if (name[0] == '\0') {
        const char *v = NULL;
        size_t sz = sizeof(v);
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v != NULL) {
            /* "5.3.0-0-g54eaed1d8b56..." -> "jemalloc-5.3.0" */
            size_t n = strcspn(v, "-");
            snprintf(name, sizeof(name), "jemalloc-%.*s", (int)n, v);
        } else {
            snprintf(name, sizeof(name), "jemalloc");
        }
    }
    return name;
#elif defined(STASH_USE_MIMALLOC)
    static char name[32];
    if (name[0] == '\0') {
        int v = mi_version();
        snprintf(name, sizeof(name), "mimalloc-%d.%d.%d", v / 100, (v / 10) % 10, v % 10);
    }
    return name;
#else
    return "libc";
#endif
}

void alloc_get_stats(struct alloc_stats *st) {
    memset(st, 0, sizeof(*st));
#if defined(STASH_USE_JEMALLOC)
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof(size_t);
    mallctl("stats.allocated", &st->allocated, &sz, NULL, 0);
    mallctl("stats.active", &st->active, &sz, NULL, 0);
    mallctl("stats.resident", &st->resident, &sz, NULL, 0);
    mallctl("stats.mapped", &st->mapped, &sz, NULL, 0);
#endif
}

void alloc_purge(void) {
#if defined(STASH_USE_JEMALLOC)
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%d.purge", 4096 /* MALLCTL_ARENAS_ALL */);
    mallctl(cmd, NULL, 0, NULL, 0);
#elif defined(STASH_USE_MIMALLOC)
    mi_collect(true);
#else
    malloc_trim(0);
#endif
}

#if defined(STASH_USE_MIMALLOC)
struct mi_forward {
    void (*fn)(void *arg, const char *text);
    void *arg;
};
static void mi_forward_out(const char *msg, void *arg) {
    struct mi_forward *f = arg;
    f->fn(f->arg, msg);
}
#endif

bool alloc_stats_report(void (*fn)(void *arg, const char *text), void *arg) {
#if defined(STASH_USE_JEMALLOC)
    malloc_stats_print(fn, arg, NULL);
    return true;
#elif defined(STASH_USE_MIMALLOC)
    struct mi_forward f = {fn, arg};
    mi_stats_print_out(mi_forward_out, &f);
    return true;
#else
    (void)fn;
    (void)arg;
    return false;
#endif
}

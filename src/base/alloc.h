/*
 * base/alloc.h - every allocation of Stash goes through here.
 *
 * The production allocator (jemalloc or mimalloc, chosen at build time with
 * -DSTASH_MALLOC=...) does the work; this module adds accounting so that
 * INFO memory and maxmemory see the bytes Stash really holds.
 *
 * Accounting: each thread that calls alloc_thread_init() owns a counter on its
 * own cache line and updates it without atomic read-modify-write; readers sum
 * the counters (alloc_used_bytes, exact, slow) or read a coarse global that a
 * thread folds its drift into every ALLOC_FOLD_BYTES (alloc_used_approx, fast,
 * error at most threads * ALLOC_FOLD_BYTES). Memory freed by another thread
 * than the one that allocated it makes single counters negative; only sums
 * mean anything.
 *
 * Out of memory: the x* functions never return NULL; a failed allocation of
 * metadata is fatal (Redis's zmalloc policy). Client data is bounded earlier,
 * by maxmemory, with an OOM reply.
 *
 * Thread context: [any].
 */
#ifndef STASH_BASE_ALLOC_H
#define STASH_BASE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOC_FOLD_BYTES (256 * 1024)

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void xfree(void *p);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

/* Bytes the allocator really reserved for p (>= the size asked for). */
size_t xusable(const void *p);
/* Bytes the allocator would reserve for a request of n bytes. */
size_t xgoodsize(size_t n);

/* Give the calling thread a private counter. Optional: threads without one
 * share a slower atomic counter. */
void alloc_thread_init(void);

/* Exact bytes in use, summed over all threads' counters. [any] */
size_t alloc_used_bytes(void);
/* Coarse bytes in use, one relaxed load. [any] */
size_t alloc_used_approx(void);
/* How far alloc_used_approx() may be from the exact sum. [any] */
size_t alloc_approx_error(void);
/* Peak of alloc_used_bytes() observed by alloc_used_bytes()/alloc_sample(). */
size_t alloc_peak_bytes(void);
void alloc_reset_peak(void);

/* Resident set size of the process in bytes, from /proc. */
size_t alloc_rss_bytes(void);

/* "jemalloc-5.3.0", "mimalloc-2.0.9" or "libc". */
const char *alloc_name(void);

/* Allocator-level statistics; zero where the allocator does not tell. */
struct alloc_stats {
    size_t allocated; /* bytes handed out to the program */
    size_t active;    /* bytes in active pages */
    size_t resident;  /* bytes resident in allocator pages */
    size_t mapped;
};
void alloc_get_stats(struct alloc_stats *st);

/* Return unused memory to the OS where the allocator supports it. */
void alloc_purge(void);

/* The allocator's own statistics report as text (MEMORY MALLOC-STATS):
 * fn receives it in pieces. Returns false when the allocator has none. */
bool alloc_stats_report(void (*fn)(void *arg, const char *text), void *arg);

#endif

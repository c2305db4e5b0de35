/*
 * repl/backlog.c - the shared chain of stream blocks; see backlog.h.
 *
 * Blocks are BLOCK_BYTES (64 KiB) or, for one append bigger than that,
 * exactly its remainder. A block is always full before the next one is
 * linked, so a reader that finds `next` set knows its block is complete.
 *
 * References: the head pointer holds one on the head block, and each
 * block's `next` link holds one on the next block. So a held block keeps
 * everything after it alive, also after a reset unlinked the chain (a
 * replica of the old history may still be sending from it); freeing a
 * block drops its link (iteratively, not recursively).
 */
#include "repl/backlog.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <pthread.h>
#include <string.h>

#define BLOCK_BYTES (64 * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* head and the chain's shape */
static struct rbl_block *head, *tail;
static _Atomic bool active;
static _Atomic uint64_t offset;        /* number of the last byte written */
static _Atomic long long size_limit = 1024 * 1024;
static _Atomic size_t chain_bytes;
static _Atomic uint64_t head_start; /* head->start, for a lock-free "anything to trim?" */

void rbl_setup(void) {}

void rbl_teardown(void) { rbl_free(); }

bool rbl_active(void) { return atomic_load_explicit(&active, memory_order_acquire); }
uint64_t rbl_offset(void) { return atomic_load_explicit(&offset, memory_order_acquire); }
void rbl_set_size(long long bytes) { atomic_store(&size_limit, bytes); }
long long rbl_size(void) { return atomic_load(&size_limit); }
size_t rbl_memory(void) { return atomic_load_explicit(&chain_bytes, memory_order_relaxed); }

static struct rbl_block *block_new(uint64_t start, size_t cap) {
    struct rbl_block *b = xmalloc(sizeof(*b) + cap);
    atomic_init(&b->refs, 1); /* the head pointer's or the previous block's link */
    atomic_init(&b->next, NULL);
    b->start = start;
    b->cap = cap;
    atomic_init(&b->used, 0);
    atomic_fetch_add_explicit(&chain_bytes, cap, memory_order_relaxed);
    return b;
}

void rbl_block_ref(struct rbl_block *b) { atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); }

void rbl_block_unref(struct rbl_block *b) {
    while (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        struct rbl_block *n = atomic_load_explicit(&b->next, memory_order_acquire);
        xfree(b);
        b = n; /* the link's reference goes with it */
    }
}

/* Unlink the chain; blocks go when their last holder lets go. [mu held] */
static void drop_chain_locked(void) {
    for (struct rbl_block *b = head; b; b = atomic_load_explicit(&b->next, memory_order_relaxed))
        atomic_fetch_sub_explicit(&chain_bytes, b->cap, memory_order_relaxed);
    struct rbl_block *h = head;
    head = tail = NULL;
    rbl_block_unref(h);
}

void rbl_create(uint64_t off) {
    pthread_mutex_lock(&mu);
    drop_chain_locked();
    head = tail = block_new(off + 1, BLOCK_BYTES);
    atomic_store(&head_start, off + 1);
    atomic_store_explicit(&offset, off, memory_order_release);
    atomic_store_explicit(&active, true, memory_order_release);
    pthread_mutex_unlock(&mu);
}

void rbl_free(void) {
    pthread_mutex_lock(&mu);
    drop_chain_locked();
    atomic_store_explicit(&active, false, memory_order_release);
    pthread_mutex_unlock(&mu);
}

void rbl_append(const void *p, size_t n) {
    const char *s = p;
    struct rbl_block *b = tail;
    if (b == NULL || n == 0) return;
    while (n > 0) {
        size_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
        size_t room = b->cap - used;
        if (room == 0) {
            /* Full: link the next block (sized for what is left of a big
             * append). The chain's shape changes under mu (trim reads it). */
            struct rbl_block *nb = block_new(b->start + b->cap, MAX((size_t)BLOCK_BYTES, n));
            pthread_mutex_lock(&mu);
            atomic_store_explicit(&b->next, nb, memory_order_release);
            tail = nb;
            pthread_mutex_unlock(&mu);
            b = nb;
            continue;
        }
        size_t k = MIN(room, n);
        memcpy(b->data + used, s, k);
        atomic_store_explicit(&b->used, used + k, memory_order_release);
        s += k;
        n -= k;
        atomic_fetch_add_explicit(&offset, k, memory_order_release);
    }
}

void rbl_range(uint64_t *first, uint64_t *histlen) {
    pthread_mutex_lock(&mu);
    if (head == NULL) {
        *first = *histlen = 0;
    } else {
        uint64_t off = atomic_load_explicit(&offset, memory_order_acquire);
        *first = head->start;
        *histlen = off + 1 - head->start;
    }
    pthread_mutex_unlock(&mu);
}

void rbl_trim(void) {
    /* Nothing to do while the history is within the size and a block. */
    uint64_t kept = atomic_load_explicit(&offset, memory_order_acquire) + 1 -
                    atomic_load_explicit(&head_start, memory_order_relaxed);
    if (kept <= (uint64_t)atomic_load(&size_limit) + BLOCK_BYTES) return;
    pthread_mutex_lock(&mu);
    uint64_t limit = (uint64_t)atomic_load(&size_limit);
    while (head && head != tail) {
        uint64_t off = atomic_load_explicit(&offset, memory_order_acquire);
        uint64_t hist = off + 1 - head->start;
        size_t hused = atomic_load_explicit(&head->used, memory_order_acquire);
        /* Only the head pointer holds it (nothing can take it now: a cursor
         * is placed under mu, and moves only forward from a block it holds). */
        if (hist - hused < limit || atomic_load_explicit(&head->refs, memory_order_acquire) != 1) break;
        struct rbl_block *b = head;
        /* The link's reference on the next block becomes the head's. */
        head = atomic_load_explicit(&b->next, memory_order_acquire);
        atomic_store_explicit(&b->next, NULL, memory_order_relaxed);
        atomic_fetch_sub_explicit(&chain_bytes, b->cap, memory_order_relaxed);
        atomic_store_explicit(&head_start, head->start, memory_order_relaxed);
        rbl_block_unref(b);
    }
    pthread_mutex_unlock(&mu);
}

bool rbl_cursor_at(struct rbl_cursor *c, uint64_t next) {
    ASSERT(c->b == NULL);
    pthread_mutex_lock(&mu);
    bool ok = false;
    if (head) {
        uint64_t off = atomic_load_explicit(&offset, memory_order_acquire);
        if (next >= head->start && next <= off + 1) {
            struct rbl_block *b = head;
            for (;;) {
                struct rbl_block *n = atomic_load_explicit(&b->next, memory_order_acquire);
                if (n == NULL || next < n->start) break;
                b = n;
            }
            rbl_block_ref(b);
            c->b = b;
            c->next = next;
            ok = true;
        }
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

void rbl_cursor_copy(struct rbl_cursor *dst, const struct rbl_cursor *src) {
    *dst = *src;
    if (dst->b) rbl_block_ref(dst->b);
}

void rbl_cursor_release(struct rbl_cursor *c) {
    if (c->b) rbl_block_unref(c->b);
    c->b = NULL;
}

size_t rbl_cursor_peek(struct rbl_cursor *c, const char **p, struct rbl_block **blk) {
    struct rbl_block *b = c->b;
    if (b == NULL) return 0;
    for (;;) {
        size_t used = atomic_load_explicit(&b->used, memory_order_acquire);
        uint64_t at = c->next - b->start;
        if (at < used) {
            *p = b->data + at;
            *blk = b;
            return used - (size_t)at;
        }
        struct rbl_block *n = atomic_load_explicit(&b->next, memory_order_acquire);
        if (n == NULL) return 0;
        /* b is complete and taken: move on (ref the next one first). */
        rbl_block_ref(n);
        rbl_block_unref(b);
        c->b = b = n;
    }
}

void rbl_cursor_advance(struct rbl_cursor *c, size_t n) { c->next += n; }

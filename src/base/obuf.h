/*
 * base/obuf.h - an output queue of byte chunks, written to a socket with
 * writev(2).
 *
 *   head                                               tail
 *   [data 16K: "...$5\r\nhello\r\n"] -> [ref: 1 MiB value] -> [data ...]
 *         ^ head_off (already sent)
 *
 * Data nodes hold bytes copied in; ref nodes point at memory owned elsewhere
 * (a refcounted value) and call `release` when sent or dropped, so a big value
 * goes to the socket without a copy. A deferred node is a small placeholder
 * whose bytes are filled later (an array length known only at the end).
 * Chunks of OBUF_CHUNK bytes are recycled through a small per-thread cache.
 *
 * Ownership: the queue owns its nodes; a ref node owns one reference of its
 * ctx until released. Thread context: the owner only (a connection's thread).
 */
#ifndef STASH_BASE_OBUF_H
#define STASH_BASE_OBUF_H

#include "base/common.h"

#include <string.h>
#include <sys/uio.h>

#define OBUF_CHUNK (16 * 1024)

typedef void (*obuf_release_fn)(void *ctx);

struct onode;

struct obuf {
    struct onode *head;
    struct onode *tail;
    size_t pending;   /* bytes not yet sent */
    size_t allocated; /* bytes held in nodes, for output buffer limits */
    size_t head_off;  /* bytes of head already sent */
    /* Fast path: free room in the tail data node. */
    char *wpos;
    char *wend;
};

struct onode {
    struct onode *next;
    uint32_t len;
    uint32_t cap;  /* writable bytes of data[]; 0 for ref and deferred nodes */
    size_t acct;   /* bytes this node counts for in obuf.allocated */
    const char *ref;
    obuf_release_fn release;
    void *ctx;
    char data[];
};

void obuf_init(struct obuf *ob);
/* Drop everything (releasing references). */
void obuf_clear(struct obuf *ob);

/* Slow path of obuf_reserve: start a new node of at least n bytes. */
char *obuf_grow(struct obuf *ob, size_t n);

/* Space for n contiguous bytes at the tail; follow with obuf_commit(n). */
static inline char *obuf_reserve(struct obuf *ob, size_t n) {
    if (LIKELY((size_t)(ob->wend - ob->wpos) >= n)) return ob->wpos;
    return obuf_grow(ob, n);
}

static inline void obuf_commit(struct obuf *ob, size_t n) {
    ob->wpos += n;
    ob->tail->len += (uint32_t)n;
    ob->pending += n;
}

static inline void obuf_append(struct obuf *ob, const void *p, size_t n) {
    char *w = obuf_reserve(ob, n);
    memcpy(w, p, n);
    obuf_commit(ob, n);
}

/* Queue n bytes at p without copying; release(ctx) is called once they are
 * sent or dropped. */
void obuf_append_ref(struct obuf *ob, const char *p, size_t n, obuf_release_fn release, void *ctx);

/* A placeholder of up to 32 bytes, filled later with obuf_defer_set. Bytes
 * appended after it go to a new node. */
struct onode *obuf_defer(struct obuf *ob);
void obuf_defer_set(struct obuf *ob, struct onode *d, const void *p, size_t n);

/* Fill up to max iovecs with pending bytes from the head. */
int obuf_iov(const struct obuf *ob, struct iovec *iov, int max);
/* Mark n bytes as sent. */
void obuf_advance(struct obuf *ob, size_t n);

static inline size_t obuf_pending(const struct obuf *ob) { return ob->pending; }

/* Drop the per-thread chunk cache (thread exit). */
void obuf_thread_cleanup(void);

#endif

/*
 * base/obuf.c - see obuf.h.
 *
 * Invariants: pending == sum of unsent bytes; wpos/wend describe free room in
 * the tail only when the tail is a writable data node (else both NULL);
 * allocated == sum of node allocation sizes.
 */
#include "base/obuf.h"
#include "base/alloc.h"
#include "base/assert.h"

#define CACHE_MAX 16
#define DEFER_CAP 32

static __thread struct onode *cache[CACHE_MAX];
static __thread int ncache;

static struct onode *node_new(size_t cap) {
    struct onode *n;
    if (cap <= OBUF_CHUNK && ncache > 0) {
        n = cache[--ncache];
    } else {
        if (cap < OBUF_CHUNK) cap = OBUF_CHUNK;
        n = xmalloc(sizeof(*n) + cap);
        n->cap = (uint32_t)cap;
    }
    n->next = NULL;
    n->len = 0;
    n->acct = sizeof(*n) + n->cap;
    n->ref = NULL;
    n->release = NULL;
    n->ctx = NULL;
    return n;
}

static void node_free(struct onode *n) {
    if (n->release) n->release(n->ctx);
    if (n->ref == NULL && n->cap == OBUF_CHUNK && ncache < CACHE_MAX) {
        cache[ncache++] = n;
        return;
    }
    xfree(n);
}

void obuf_init(struct obuf *ob) { memset(ob, 0, sizeof(*ob)); }

static void link_node(struct obuf *ob, struct onode *n) {
    if (ob->tail)
        ob->tail->next = n;
    else
        ob->head = n;
    ob->tail = n;
    ob->allocated += n->acct;
}

char *obuf_grow(struct obuf *ob, size_t n) {
    ASSERT(n < UINT32_MAX);
    struct onode *node = node_new(n);
    link_node(ob, node);
    ob->wpos = node->data;
    ob->wend = node->data + node->cap;
    return ob->wpos;
}

void obuf_append_ref(struct obuf *ob, const char *p, size_t n, obuf_release_fn release, void *ctx) {
    struct onode *node = xmalloc(sizeof(*node));
    node->next = NULL;
    node->len = (uint32_t)n;
    node->cap = 0;
    node->ref = p;
    node->release = release;
    node->ctx = ctx;
    node->acct = sizeof(*node) + n;
    ASSERT(n < UINT32_MAX);
    link_node(ob, node);
    ob->pending += n;
    ob->wpos = ob->wend = NULL;
}

struct onode *obuf_defer(struct obuf *ob) {
    struct onode *node = xmalloc(sizeof(*node) + DEFER_CAP);
    node->next = NULL;
    node->len = 0;
    node->cap = 0; /* not writable through wpos */
    node->ref = NULL;
    node->release = NULL;
    node->ctx = NULL;
    node->acct = sizeof(*node) + DEFER_CAP;
    link_node(ob, node);
    ob->wpos = ob->wend = NULL;
    return node;
}

void obuf_defer_set(struct obuf *ob, struct onode *d, const void *p, size_t n) {
    ASSERT(n <= DEFER_CAP && d->len == 0);
    memcpy(d->data, p, n);
    d->len = (uint32_t)n;
    ob->pending += n;
}

int obuf_iov(const struct obuf *ob, struct iovec *iov, int max) {
    int i = 0;
    size_t off = ob->head_off;
    for (struct onode *n = ob->head; n && i < max; n = n->next) {
        if (n->len > off) {
            const char *base = n->ref ? n->ref : n->data;
            iov[i].iov_base = (void *)(base + off);
            iov[i].iov_len = n->len - off;
            i++;
        }
        off = 0;
    }
    return i;
}

void obuf_advance(struct obuf *ob, size_t n) {
    ASSERT(n <= ob->pending);
    ob->pending -= n;
    while (ob->head) {
        struct onode *h = ob->head;
        size_t left = h->len - ob->head_off;
        if (n < left) {
            ob->head_off += n;
            return;
        }
        n -= left;
        ob->head_off = 0;
        /* Keep a writable tail node around (reset) instead of freeing it. */
        if (h == ob->tail && h->ref == NULL && h->cap > 0) {
            h->len = 0;
            ob->wpos = h->data;
            ob->wend = h->data + h->cap;
            return;
        }
        ob->head = h->next;
        if (ob->head == NULL) {
            ob->tail = NULL;
            ob->wpos = ob->wend = NULL;
        }
        ob->allocated -= h->acct;
        node_free(h);
        if (n == 0) return;
    }
}

void obuf_clear(struct obuf *ob) {
    struct onode *n = ob->head;
    while (n) {
        struct onode *next = n->next;
        node_free(n);
        n = next;
    }
    obuf_init(ob);
}

void obuf_thread_cleanup(void) {
    while (ncache > 0) xfree(cache[--ncache]);
}

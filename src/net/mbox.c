/*
 * net/mbox.c - see mbox.h.
 *
 * Memory order: a producer links its node with a release store of
 * prev->next after an acq_rel exchange of `head`; the consumer reads next
 * pointers with acquire loads, so it sees the message body the producer
 * wrote. `armed` is exchanged (acq_rel) by producers after linking and
 * cleared by the consumer *before* it drains: a post that lands after the
 * drain started either is seen by that drain or re-arms and writes eventfd.
 * A producer preempted between its exchange and its link leaves the list
 * briefly unlinked; the drain stops there and that producer's own arming
 * wakes the consumer again.
 */
#include "net/mbox.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct mbox {
    _Atomic(struct mbox_msg *) head CACHE_ALIGNED; /* producers */
    _Atomic int armed;
    struct mbox_msg *tail CACHE_ALIGNED; /* consumer */
    struct mbox_msg stub;
    struct loop *loop;
    struct loop_io io;
};

static void on_wake(struct loop_io *io, uint32_t events) {
    struct mbox *mb = CONTAINER_OF(io, struct mbox, io);
    mbox_drain(mb);
}

struct mbox *mbox_create(struct loop *l) {
    struct mbox *mb = xcalloc(1, sizeof(*mb));
    atomic_store(&mb->stub.next, NULL);
    atomic_store(&mb->head, &mb->stub);
    mb->tail = &mb->stub;
    mb->loop = l;
    mb->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->io.fd < 0) PANIC("eventfd: %s", strerror(errno));
    mb->io.fn = on_wake;
    loop_add(l, &mb->io, LOOP_READ, false);
    return mb;
}

void mbox_destroy(struct mbox **mbp) {
    struct mbox *mb = *mbp;
    if (mb == NULL) return;
    loop_del(mb->loop, &mb->io);
    close(mb->io.fd);
    xfree(mb);
    *mbp = NULL;
}

static void push(struct mbox *mb, struct mbox_msg *m) {
    atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
    struct mbox_msg *prev = atomic_exchange_explicit(&mb->head, m, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, m, memory_order_release);
}

void mbox_post(struct mbox *mb, struct mbox_msg *m, mbox_fn fn) {
    m->fn = fn;
    push(mb, m);
    if (atomic_exchange_explicit(&mb->armed, 1, memory_order_acq_rel) == 0) {
        uint64_t one = 1;
        ssize_t n = write(mb->io.fd, &one, sizeof(one));
        (void)n; /* EAGAIN means the counter is already non-zero: awake anyway */
    }
}

static struct mbox_msg *pop(struct mbox *mb) {
    struct mbox_msg *tail = mb->tail;
    struct mbox_msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &mb->stub) {
        if (next == NULL) return NULL;
        mb->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        mb->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&mb->head, memory_order_acquire)) return NULL; /* in flight */
    push(mb, &mb->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        mb->tail = next;
        return tail;
    }
    return NULL;
}

bool mbox_pending(struct mbox *mb) { return atomic_load_explicit(&mb->armed, memory_order_acquire) != 0; }

int mbox_drain(struct mbox *mb) {
    uint64_t v;
    while (read(mb->io.fd, &v, sizeof(v)) > 0) {
    }
    /* An exchange, not a store: it orders after any producer's arming
     * exchange, so a producer that saw armed == 1 linked its message
     * before this point and the drain below sees it. */
    atomic_exchange_explicit(&mb->armed, 0, memory_order_acq_rel);
    int n = 0;
    struct mbox_msg *m;
    while ((m = pop(mb)) != NULL) {
        m->fn(m);
        n++;
    }
    return n;
}

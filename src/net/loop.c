/*
 * net/loop.c - see loop.h.
 *
 * Timers live in a binary min-heap ordered by deadline (monotonic ms); there
 * are few per loop (cron, blocked-client timeouts), so deletion searches.
 * Deferred callbacks are a small vector swapped out before running, so a
 * callback may defer more work for the next round.
 */
#include "net/loop.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct timer {
    int64_t when;
    uint64_t id;
    loop_cb_fn fn;
    void *arg;
};

struct deferred {
    loop_cb_fn fn;
    void *arg;
};

struct loop {
    int epfd;
    int wakefd;
    _Atomic bool stop;
    struct timer *heap;
    size_t nheap, capheap;
    uint64_t next_id;
    struct deferred *defers;
    size_t ndefer, capdefer;
    loop_cb_fn before_sleep;
    void *before_sleep_arg;
    struct loop_io wake_io;
};

static void wake_read(struct loop_io *io, uint32_t events) {
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) > 0) {
    }
}

struct loop *loop_create(void) {
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) PANIC("epoll_create1: %s", strerror(errno));
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0) PANIC("eventfd: %s", strerror(errno));
    l->wake_io.fd = l->wakefd;
    l->wake_io.fn = wake_read;
    loop_add(l, &l->wake_io, LOOP_READ, false);
    l->next_id = 1;
    return l;
}

void loop_destroy(struct loop **lp) {
    struct loop *l = *lp;
    if (l == NULL) return;
    close(l->epfd);
    close(l->wakefd);
    xfree(l->heap);
    xfree(l->defers);
    xfree(l);
    *lp = NULL;
}

static uint32_t to_epoll(uint32_t ev) {
    uint32_t e = 0;
    if (ev & LOOP_READ) e |= EPOLLIN;
    if (ev & LOOP_WRITE) e |= EPOLLOUT;
    return e;
}

int loop_add(struct loop *l, struct loop_io *io, uint32_t events, bool exclusive) {
    struct epoll_event ee = {.events = to_epoll(events) | (exclusive ? EPOLLEXCLUSIVE : 0),
                             .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ee) < 0) return ERR_IO;
    io->events = events;
    return 0;
}

int loop_mod(struct loop *l, struct loop_io *io, uint32_t events) {
    if (io->events == events) return 0;
    struct epoll_event ee = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ee) < 0) return ERR_IO;
    io->events = events;
    return 0;
}

void loop_del_fd(struct loop *l, int fd) { epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL); }

void loop_del(struct loop *l, struct loop_io *io) {
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->events = 0;
}

/* ---- timers ------------------------------------------------------------- */

static void heap_swap(struct timer *a, struct timer *b) {
    struct timer t = *a;
    *a = *b;
    *b = t;
}

static void heap_up(struct loop *l, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p].when <= l->heap[i].when) break;
        heap_swap(&l->heap[p], &l->heap[i]);
        i = p;
    }
}

static void heap_down(struct loop *l, size_t i) {
    for (;;) {
        size_t c = 2 * i + 1, m = i;
        if (c < l->nheap && l->heap[c].when < l->heap[m].when) m = c;
        if (c + 1 < l->nheap && l->heap[c + 1].when < l->heap[m].when) m = c + 1;
        if (m == i) return;
        heap_swap(&l->heap[m], &l->heap[i]);
        i = m;
    }
}

uint64_t loop_timer_add(struct loop *l, int64_t ms, loop_cb_fn fn, void *arg) {
    if (l->nheap == l->capheap) {
        l->capheap = l->capheap ? l->capheap * 2 : 16;
        l->heap = xrealloc(l->heap, l->capheap * sizeof(*l->heap));
    }
    struct timer *t = &l->heap[l->nheap++];
    uint64_t id = l->next_id++;
    t->when = time_mono_ms() + ms;
    t->id = id;
    t->fn = fn;
    t->arg = arg;
    heap_up(l, l->nheap - 1); /* may move *t: return the id, not t->id */
    return id;
}

void loop_timer_del(struct loop *l, uint64_t id) {
    if (id == 0) return;
    for (size_t i = 0; i < l->nheap; i++) {
        if (l->heap[i].id == id) {
            l->heap[i] = l->heap[--l->nheap];
            if (i < l->nheap) {
                heap_down(l, i);
                heap_up(l, i);
            }
            return;
        }
    }
}

static void run_timers(struct loop *l) {
    int64_t now = time_mono_ms();
    while (l->nheap > 0 && l->heap[0].when <= now) {
        struct timer t = l->heap[0];
        l->heap[0] = l->heap[--l->nheap];
        if (l->nheap) heap_down(l, 0);
        t.fn(t.arg);
    }
}

static int next_timeout(struct loop *l) {
    if (l->ndefer > 0) return 0;
    if (l->nheap == 0) return -1;
    int64_t d = l->heap[0].when - time_mono_ms();
    if (d < 0) return 0;
    return d > 1000 ? 1000 : (int)d;
}

/* ---- deferred work ------------------------------------------------------- */

void loop_defer(struct loop *l, loop_cb_fn fn, void *arg) {
    if (l->ndefer == l->capdefer) {
        l->capdefer = l->capdefer ? l->capdefer * 2 : 16;
        l->defers = xrealloc(l->defers, l->capdefer * sizeof(*l->defers));
    }
    l->defers[l->ndefer++] = (struct deferred){fn, arg};
}

static void run_deferred(struct loop *l) {
    /* Run in order; callbacks may append more, which run in this round too. */
    for (size_t i = 0; i < l->ndefer; i++) {
        struct deferred d = l->defers[i];
        d.fn(d.arg);
    }
    l->ndefer = 0;
}

void loop_set_before_sleep(struct loop *l, loop_cb_fn fn, void *arg) {
    l->before_sleep = fn;
    l->before_sleep_arg = arg;
}

void loop_run(struct loop *l) {
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
        if (l->before_sleep) l->before_sleep(l->before_sleep_arg);
        run_deferred(l);
        int n = epoll_wait(l->epfd, evs, MAX_EVENTS, next_timeout(l));
        if (n < 0 && errno != EINTR) PANIC("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct loop_io *io = evs[i].data.ptr;
            if (io->events == 0) continue; /* removed or silenced in this batch */
            uint32_t e = evs[i].events, ev = 0;
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ev |= LOOP_READ;
            if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ev |= LOOP_WRITE;
            /* Deliver only what the io still asks for (it may have changed). */
            ev &= io->events | ((e & (EPOLLHUP | EPOLLERR)) ? LOOP_READ : 0);
            if (ev) io->fn(io, ev);
        }
        run_deferred(l);
        run_timers(l);
    }
    /* A timer of the last round may have deferred work (a client closed by
     * its idle timeout is freed that way): run it, nothing else will. */
    run_deferred(l);
}

void loop_poll_filtered(struct loop *l, bool (*accept)(struct loop_io *io, void *arg), void *arg) {
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        struct loop_io *io = evs[i].data.ptr;
        if (io->events == 0 || !accept(io, arg)) continue;
        uint32_t e = evs[i].events, ev = 0;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ev |= LOOP_READ;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ev |= LOOP_WRITE;
        ev &= io->events | ((e & (EPOLLHUP | EPOLLERR)) ? LOOP_READ : 0);
        if (ev) io->fn(io, ev);
    }
}

void loop_stop(struct loop *l) {
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    if (write(l->wakefd, &one, sizeof(one)) < 0) { /* the loop wakes on its timeout anyway */
    }
}

int loop_wake_fd(struct loop *l) { return l->wakefd; }

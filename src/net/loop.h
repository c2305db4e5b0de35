/*
 * net/loop.h - an epoll event loop with one-shot timers.
 *
 * One loop per worker thread; everything registered on a loop is touched
 * only by that thread. A registration is a `struct loop_io` embedded in the
 * caller's object (no allocation); epoll hands it back on events.
 *
 * Lifetime rule: an object whose loop_io was returned in the current batch
 * of events may still receive its event after loop_del(); callers therefore
 * free such objects only from a `loop_defer` callback (run after the batch)
 * or check their own closed flag in the handler.
 *
 * Thread context: [owner] for everything but loop_stop ([any]).
 */
#ifndef STASH_NET_LOOP_H
#define STASH_NET_LOOP_H

#include "base/common.h"

#define LOOP_READ 1u
#define LOOP_WRITE 2u

struct loop;
struct loop_io;

typedef void (*loop_io_fn)(struct loop_io *io, uint32_t events);
typedef void (*loop_cb_fn)(void *arg);

struct loop_io {
    int fd;
    uint32_t events; /* LOOP_READ | LOOP_WRITE currently registered */
    loop_io_fn fn;
};

struct loop *loop_create(void);
void loop_destroy(struct loop **l);

/* Register io->fd for `events`, using EPOLLEXCLUSIVE when `exclusive` (shared
 * listening sockets: one worker is woken per connection). */
int loop_add(struct loop *l, struct loop_io *io, uint32_t events, bool exclusive);
/* Change the events; 0 keeps the fd registered but silent. */
int loop_mod(struct loop *l, struct loop_io *io, uint32_t events);
void loop_del(struct loop *l, struct loop_io *io);
/* Unregister fd from another thread: only the kernel side, the loop_io is
 * not touched (its owner may be reading it). [any] */
void loop_del_fd(struct loop *l, int fd);

/* Run fn(arg) after `ms` milliseconds (0: on the next iteration). Returns an
 * id for loop_timer_del. */
uint64_t loop_timer_add(struct loop *l, int64_t ms, loop_cb_fn fn, void *arg);
void loop_timer_del(struct loop *l, uint64_t id);

/* Run fn(arg) once the current batch of events is handled. */
void loop_defer(struct loop *l, loop_cb_fn fn, void *arg);
/* Called before every wait (flush writes, run deferred work). */
void loop_set_before_sleep(struct loop *l, loop_cb_fn fn, void *arg);

/* Process events until loop_stop(). */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* From inside an event handler that runs long (a busy script): handle the
 * events ready now whose io `accept` admits, without waiting, timers or
 * deferred work (those stay for the outer loop). Level-triggered: the
 * events skipped are reported again later. */
void loop_poll_filtered(struct loop *l, bool (*accept)(struct loop_io *io, void *arg), void *arg);
/* Wake the loop from another thread (after loop_stop). */
int loop_wake_fd(struct loop *l);

#endif

/*
 * net/worker.h - the worker threads.
 *
 * Each worker is a thread with its own event loop and mailbox. A connection
 * belongs to the worker that accepted it for its whole life; other threads
 * reach it only through that worker's mailbox.
 *
 * Lifecycle: worker_setup(n) creates the loops (so listeners and upper layers
 * can register before threads run), worker_start() spawns the threads, which
 * call `on_start` on themselves first, worker_stop() stops and joins them.
 *
 * Thread context: setup/start/stop from the main thread; worker_post [any];
 * worker_self/worker_id [any] (NULL / -1 outside workers).
 */
#ifndef STASH_NET_WORKER_H
#define STASH_NET_WORKER_H

#include "net/loop.h"
#include "net/mbox.h"

#define WORKER_MAX 256

struct worker;
typedef void (*worker_fn)(struct worker *w);

int worker_setup(int n);
void worker_teardown(void);
/* Start the threads; on_start/on_stop run on each worker thread. */
int worker_start(worker_fn on_start, worker_fn on_stop);
void worker_stop(void);

int worker_count(void);
struct worker *worker_at(int i);
struct worker *worker_self(void);
int worker_id(const struct worker *w);
static inline int worker_self_id(void);
struct loop *worker_loop(struct worker *w);
/* [any] Run fn(m) on worker w; ownership of m moves to w. */
void worker_post(struct worker *w, struct mbox_msg *m, mbox_fn fn);

/* [owner] Run the calling worker's queued messages now, if any (no
 * syscall when there are none). */
void worker_drain_pending(void);

/* Thread-local id of the calling worker (-1 elsewhere); cheap. */
extern __thread int worker_tls_id;
static inline int worker_self_id(void) { return worker_tls_id; }

#endif

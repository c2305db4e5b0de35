/*
 * exec/tracking.h - server-assisted client-side caching (CLIENT TRACKING).
 *
 * Modes, as Redis 7.0:
 *   default  the keys a client reads (read-only commands, from the key
 *            specs) are remembered in the store's per-stripe tracking table
 *            (store/track.h); when one changes, the client gets one
 *            invalidation message for it and the key is forgotten.
 *   OPTIN / OPTOUT  remember only after CLIENT CACHING yes / unless
 *            CLIENT CACHING no (for the next command or transaction).
 *   BCAST    no table: every change of a key that starts with one of the
 *            client's prefixes is sent, one message per prefix per batch.
 *   NOLOOP   no messages about changes this client made itself.
 *   REDIRECT id  messages go to another connection: RESP3 pushes, or, to a
 *            RESP2 connection in subscriber mode, messages of the
 *            __redis__:invalidate channel. A redirect target that is gone
 *            earns the tracking client a "tracking-redir-broken" push.
 *   FLUSHDB/FLUSHALL/SWAPDB  every tracking client gets a null ("all keys").
 *
 * Threads: the store gathers invalidations under stripe locks into a
 *   thread-local batch; tracking_deliver() (from the store's `after` hook,
 *   no locks held) turns it into messages. Clients of other workers get
 *   them through their worker's mailbox; clients of this worker once the
 *   current batch of work is over (loop_defer, after the replies of blocked
 *   clients the batch served); the client whose command is running at the
 *   points Redis would, by tracking_flush_local(): after its command's
 *   reply (never inside it), or after eviction before the command (evicted
 *   keys are announced before the reply). A worker
 *   drains its mailbox before it reads a client's request (client.c), so a
 *   write acknowledged to anyone is announced to a tracking client on any
 *   worker before that client's next reply.
 *   The BCAST prefix registry is global, under a leaf mutex.
 *
 * Thread context: [owner] of the client unless said otherwise.
 */
#ifndef STASH_EXEC_TRACKING_H
#define STASH_EXEC_TRACKING_H

#include "exec/client.h"

#include <stdatomic.h>

#define TRACK_ON (1u << 0)
#define TRACK_BCAST (1u << 1)
#define TRACK_OPTIN (1u << 2)
#define TRACK_OPTOUT (1u << 3)
#define TRACK_CACHING (1u << 4) /* CLIENT CACHING given for the next command */
#define TRACK_NOLOOP (1u << 5)
#define TRACK_BROKEN_REDIR (1u << 6)

/* A client's tracking state; c->trk is NULL when tracking is off. */
struct client_tracking {
    unsigned flags;
    uint64_t redir_id; /* 0: none */
    int redir_worker;
    int nprefixes;
    char **prefixes;
    size_t *plens;
};

void tracking_setup(void);
void tracking_teardown(void);
void tracking_thread_cleanup(void);

/* The 64-bit token naming c in the store's table. */
static inline uint64_t tracking_token(const struct client *c) {
    return ((uint64_t)(unsigned)worker_id(c->worker) << 48) | (c->id & ((1ULL << 48) - 1));
}

/* CLIENT TRACKING ON with parsed options (TRACK_* bits); prefixes only
 * with BCAST. Validates as Redis and replies the error, or enables and
 * returns true (the caller replies OK). redir_worker is the worker of
 * redir_id (when non-zero). */
bool tracking_enable(struct client *c, uint64_t redir_id, int redir_worker, unsigned options, int nprefix,
                     const char *const *prefixes, const size_t *plens);
void tracking_disable(struct client *c);

/* Clients with tracking on, BCAST prefixes registered. [any] */
long tracking_clients(void);
uint64_t tracking_prefix_count(void);

/* ---- hooks of dispatch ---------------------------------------------------------- */

extern _Atomic long tracking_nclients_;
static inline bool tracking_active(void) {
    return atomic_load_explicit(&tracking_nclients_, memory_order_relaxed) > 0;
}
/* After a read-only command of a tracking client: remember its keys.
 * [stripe-locked for the command's keys] */
void tracking_remember_keys(struct client *c);
/* Before a command: enforce tracking-table-max-keys. [no locks] */
void tracking_limit(void);
/* After a command: CLIENT CACHING lasts one command (or transaction). */
void tracking_command_done(struct client *c);
/* Deliver what the store gathered on this thread. [no locks held] */
void tracking_deliver(void);
/* Write the queued messages for clients of this worker. [owner] */
void tracking_flush_local(void);
/* The client whose command runs on this thread (NULL: none): its own
 * messages wait for tracking_flush_local. */
void tracking_in_command(const struct client *c);

#endif

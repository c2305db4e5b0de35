/*
 * exec/block.h - clients blocked on keys (BLPOP, BLMOVE, BLMPOP, BZPOPMIN,
 * BZMPOP, XREAD BLOCK...): registry, wake-ups across workers, timeouts.
 *
 * Model (threading.md "Blocking ops")
 *   A blocked client (the *waiter*) belongs to its worker A. A command that
 *   pushes to a key may run on any worker B. The two never share a socket
 *   or a buffer: B serves the waiter under the key's stripe lock and posts
 *   the finished reply to A's mailbox.
 *
 *       A: BLPOP k 0   (k empty, under k's stripe)   register W in k's FIFO
 *       B: LPUSH k x   (under k's stripe)            k is "ready"
 *       B: end of the locked section (seal)          claim W (CAS), pop x on
 *                                                    W's behalf, stage "LPOP k"
 *       B: after unlocking                           post W to A's mailbox
 *       A: mailbox                                   write W's reply, unblock,
 *                                                    go on with A's input
 *
 * Registry: per stripe, (db, key) -> FIFO of waiter links, touched only
 *   under the stripe's lock. A waiter on n keys has n links (duplicates
 *   folded), each in its key's stripe.
 *
 * When keys are served (Redis's handleClientsBlockedOnKeys): a key becomes
 *   *ready* when a value is stored under it (store_add, or a store_replace
 *   that changes the type: Redis's dbAdd, which signals every new key) while
 *   it has waiters; also when a command says so (block_key_signal: XADD to
 *   an existing stream, XGROUP DESTROY), when a stream value leaves the key
 *   (store's removed hook: DEL, overwrite, RENAME away, expiry), and for
 *   every waiting key of a flushed or swapped database (XREADGROUP waiters
 *   learn that their stream is gone). Ready keys are served at the end of the locked section
 *   that filled them, before the locks are released: after the whole
 *   command, or after the whole EXEC, as Redis serves after the command or
 *   transaction ("MULTI/EXEC is isolated from the point of view of BLPOP").
 *   Waiters are served first blocked, first served; a waiter waiting for
 *   another type than the key now holds is skipped and keeps its place.
 *   A type may decide itself whether a waiter is answered now (ops->ready:
 *   XREAD waits for an ID above its own, XREADGROUP is answered with an
 *   error when its stream or group went away); such waiters are asked
 *   whatever the key holds, even nothing.
 *   Serving may fill more keys (BLMOVE pushes to its destination): those are
 *   served in the same pass.
 *
 * Claim / abandon protocol: every waiter has an atomic state
 *     WAITING --CAS by a server (under a stripe lock of one of its keys)--> CLAIMED
 *     WAITING --CAS by the owner (timeout, CLIENT UNBLOCK, disconnect)---> ABANDONED
 *   Exactly one CAS wins. A server that loses moves on to the next waiter.
 *   An owner that loses does nothing: the served reply is already on its way
 *   and is delivered (a timeout that loses never replies "nil" on top of an
 *   element). If the client disconnected meanwhile, the delivery finds it gone
 *   and runs the type's `undo` (the popped elements go back where they came
 *   from, with their effects logged), so nothing is lost. The waiter record is
 *   freed only by its owner worker, after unlinking every remaining link
 *   under the links' stripe locks; a server touches a waiter only while it
 *   holds the stripe lock of one of its links, so the record is alive then.
 *
 * Stripes: a waiter may name a *target* key besides the keys it waits on
 *   (BLMOVE's destination). Serving needs the target's stripe too: when the
 *   section does not hold it, the server try-locks it (store_try_hold: never
 *   waits, so lock order is kept). If that fails, the key is served again
 *   right after unlocking, in a section that locks the key and the target in
 *   ascending order; its FIFO is left untouched until then.
 *
 * Transactions: inside MULTI/EXEC a blocking command never blocks; it
 *   behaves as if it timed out at once (block_allowed()).
 *
 * Using it from a command (every step on the client's worker, under the
 * stripe locks of the command's keys, which the key specs must cover:
 * waited keys and the target):
 *
 *     int64_t deadline;
 *     if (!block_parse_timeout(c, c->argc - 1, &deadline)) return;   // replied
 *     ... try to serve at once like the non-blocking command; if done, return ...
 *     if (!block_allowed(c)) { reply_null_array(c); return; }
 *     struct block_request r = {.ops = &my_ops, .arg = saved_args, .deadline_ms = deadline,
 *                               .key_pos = positions, .nkeys = n, .target_pos = -1};
 *     block_for_keys(c, &r);   // no reply now: ops->serve or the timeout replies
 *
 *   ops->serve runs later on the *pushing* thread with a stand-in client
 *   (`proxy`): proxy->db is the waiter's database, proxy->resp its protocol,
 *   proxy->out its pending reply; use the usual reply_*, cmd_lookup_write,
 *   cmd_notify, cmd_modified and exec_propagate with it (never anything that
 *   reaches a socket). It must write exactly one reply and stage the
 *   effects as the equivalent non-blocking command (Redis: BLPOP -> LPOP,
 *   BLMPOP -> LPOP key count, BLMOVE -> LMOVE, BZPOPMIN -> ZPOPMIN ...).
 *
 * Thread context: as marked per function.
 */
#ifndef STASH_EXEC_BLOCK_H
#define STASH_EXEC_BLOCK_H

#include "exec/client.h"

/* What a type does for its blocked clients. One static instance per kind of
 * blocking command (or per family, using `arg` to tell them apart). */
struct block_ops {
    /* The value type whose arrival wakes the waiter (TYPE_LIST, TYPE_ZSET,
     * TYPE_STREAM): a waiter is served only from a key holding this type. */
    enum entry_type type;
    /* [stripe-locked: the ready key's stripe, and the target's if any;
     * on the pushing thread] Serve the waiter from key `k`, which holds a
     * value of `type` (e is its entry, ref locates it; with ops->ready, e is
     * whatever k holds, maybe nothing). Write the reply to
     * proxy->out with reply_*(proxy, ...), stage effects, notify; delete the
     * key when it becomes empty. `target` is the request's target key
     * (its stripe is held), or NULL. May leave in *undo what to put back if
     * the client turns out to be gone (NULL: nothing). Always replies: a
     * served waiter is unblocked (an error reply, e.g. WRONGTYPE on the
     * target, is a reply too). */
    void (*serve)(struct client *proxy, const struct store_key *k, struct store_ref *ref,
                  struct entry *e, const struct store_key *target, void *arg, void **undo);
    /* [stripe-locked: the ready key's stripe] NULL: the waiter is served
     * when k holds a value of `type`. Otherwise: is the waiter answered now,
     * given what k holds (e; NULL when k is absent)? serve is then called
     * with that e, which may be NULL or of another type. */
    bool (*ready)(const struct store_key *k, struct entry *e, void *arg);
    /* [owner worker, no locks held] The served client was gone when its reply
     * arrived: put back what serve popped (take the locks with store_run),
     * then free `undo`. NULL when serve never leaves an undo. */
    void (*undo)(int db, void *undo);
    /* [any] Free an undo that was not needed (the reply was delivered). */
    void (*undo_free)(void *undo);
    /* [owner] Reply on timeout or CLIENT UNBLOCK ... TIMEOUT. NULL: a null
     * array (Redis 7.0 for lists, sorted sets and streams). */
    void (*timeout)(struct client *c, void *arg);
    /* [any] Free the type's saved arguments. NULL: xfree. */
    void (*free_arg)(void *arg);
};

struct block_request {
    const struct block_ops *ops;
    void *arg;           /* the type's saved arguments (copied: argv dies with the command) */
    int64_t deadline_ms; /* absolute Unix ms; 0: wait forever */
    const int *key_pos;  /* argv indexes of the keys waited on (duplicates are fine) */
    int nkeys;
    int target_pos; /* argv index of a key serve writes besides the ready key, or -1 */
};

/* ---- for blocking commands [owner, stripe-locked on the command's keys] -- */

/* May c block now? Not inside MULTI/EXEC (nor, later, scripts). */
bool block_allowed(const struct client *c);

/* Redis's getTimeoutFromObjectOrReply for seconds (a float): argv[i] into
 * an absolute deadline in Unix ms (0 when argv[i] is 0). Replies "ERR timeout
 * is not a float or out of range" / "ERR timeout is negative" and returns
 * false on bad input. [any] */
bool block_parse_timeout(struct client *c, int i, int64_t *deadline_ms);

/* Block c on the request's keys. Takes ownership of r->arg. c's reply comes
 * later (served, timed out, or unblocked). */
void block_for_keys(struct client *c, const struct block_request *r);

/* ---- CLIENT UNBLOCK [owner of c] --------------------------------------- */

/* If c is blocked on keys and not being served, unblock it with the
 * timeout reply (error=false) or "-UNBLOCKED client unblocked via CLIENT
 * UNBLOCK" (error=true); returns whether it did. The reply and the resumed
 * input happen after the current batch of events. */
bool block_unblock_client(struct client *c, bool error);

/* ---- hooks (exec/, store/) --------------------------------------------- */

void block_setup(void);
void block_teardown(void);
/* Free the calling thread's scratch lists (worker thread exit). */
void block_thread_cleanup(void);

/* [stripe-locked] store's "added" hook: a value of entry e's type now sits
 * under k in db (cheap when k has no waiters). */
void block_key_added(int db, const struct store_key *k, const struct entry *e);

/* [all-locked] SWAPDB a b: keys with waiters in either database become
 * ready (Redis's scanDatabaseForReadyKeys and scanDatabaseForDeletedStreams:
 * those that now hold a value, and streams that went). */
void block_db_swapped(int a, int b);
/* [all-locked] FLUSHDB (db) / FLUSHALL (db < 0) emptied the database: its
 * keys with waiters become ready (XREADGROUP waiters learn their stream is
 * gone). */
void block_db_flushed(int db);

/* [stripe-locked] k changed in a way its waiters may care about although no
 * value was added (XADD to an existing stream, XGROUP DESTROY): serve them
 * at the end of the section (cheap when k has no waiters). */
void block_key_signal(int db, const struct store_key *k);

/* [stripe-locked] store's "removed" hook: a stream leaving k makes k ready
 * (its XREADGROUP waiters are answered with an error). */
void block_key_removed(int db, const struct store_key *k, const struct entry *e);

/* [stripe-locked] End of a locked section (store's seal hook, before the
 * effects are sealed): serve the ready keys. */
void block_serve_ready(void);
static inline bool block_has_ready(void);

/* [no locks] After a locked section: post the served replies, serve the
 * keys that needed more stripes. */
void block_after(void);

/* [owner] c is being closed: abandon its wait (its reply, if one is on the
 * way, is undone on arrival). Leaves c->flags alone. */
void block_client_closed(struct client *c);

/* Waiters registered now (debugging and tests). [any] */
long block_waiter_count(void);

/* Thread-local: keys made ready in this locked section (block.c). */
extern __thread int block_nready_;
static inline bool block_has_ready(void) {
    return block_nready_ > 0;
}

#endif

/*
 * exec/block.c - clients blocked on keys; see block.h for the model and the
 * claim / abandon protocol.
 *
 * Data
 *   regs[stripe]   -> htab of queues, one per (db, key) with waiters; touched
 *                     only under that stripe's lock (created lazily).
 *   queue          -> FIFO of links (first blocked first).
 *   waiter (struct client_block) -> owner client id and worker, state,
 *                     saved arguments, one link per distinct key, the reply
 *                     written by the server, the timer.
 *
 * Per thread (a pushing thread, inside one locked section):
 *   ready[]    queues filled in this section (each once: queue->ready),
 *              served at the seal hook, before unlocking;
 *   served[]   waiters claimed in this section, posted after unlocking;
 *   retries[]  keys whose first waiter needs a stripe the section could not
 *              try-lock: served again after unlocking with that stripe.
 *
 * Who touches a waiter
 *   - its owner worker: creates it, times it out, unblocks it, abandons it
 *     on disconnect, delivers its reply, unlinks it, frees it;
 *   - a server thread: reads it and claims it while holding the stripe lock
 *     of one of its links; after a successful claim it writes the reply and
 *     undo fields and hands the waiter to the owner (mailbox, release).
 *   The owner frees a waiter only after unlinking its links under their
 *   stripe locks, so a server that reached it through a link sees it alive.
 */
#include "exec/block.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "exec/exec.h"
#include "exec/reply.h"
#include "exec/stats.h"
#include "metrics/cmdlat.h"
#include "metrics/slowlog.h"
#include "repl/log.h"

#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>

enum { W_WAITING = 0, W_CLAIMED = 1, W_ABANDONED = 2 };

struct block_queue;

struct block_link {
    struct block_link *prev, *next;
    struct block_queue *q; /* NULL once unlinked (read/written under q's stripe lock) */
    struct client_block *w;
};

struct block_queue {
    struct htab_node node; /* first: the registry's htab */
    uint64_t hash;         /* key hash mixed with db */
    uint64_t khash;        /* the key's table hash (store_key_hash) */
    int db;
    uint16_t slot;
    bool ready; /* in this section's ready list */
    struct block_link *head, *tail;
    size_t klen;
    char key[];
};

struct breg {
    struct htab queues;
    long nqueues;
};

struct client_block {
    struct mbox_msg msg; /* delivery to the owner */
    _Atomic int state;
    uint64_t client_id;
    int worker;
    int db;
    int resp;
    bool silent;        /* CLIENT REPLY OFF/SKIP applied to the blocking command */
    bool unblock_error; /* CLIENT UNBLOCK ... ERROR */
    bool has_target;
    const struct command *cmd;
    const struct block_ops *ops;
    void *arg;
    void *undo;
    struct obuf reply; /* the served reply (written by the server) */
    int64_t serve_us;  /* how long serving took (latency stats) */
    uint64_t log_end;  /* end of the served pop's log block (appendfsync always) */
    uint64_t timer;
    int nkeys;   /* distinct keys = links */
    int nlinked; /* links still in a queue (owner's view after claim) */
    struct store_key target;
    struct store_key *keys;
    struct block_link *links;
    char *keybuf;
    /* The command as sent, for SLOWLOG when it is served (Redis logs a
     * blocked command once it completes, with its serving time). */
    int argc;
    const char **argv;
    size_t *lens;
};

__thread int block_nready_;
static __thread struct block_queue **ready;
static __thread int capready;
static __thread struct client_block **served;
static __thread int nserved, capserved;

struct retry {
    int db;
    struct store_key key;
    uint16_t target_slot;
    char *copy;
};
static __thread struct retry *retries;
static __thread int nretries, capretries;
static __thread bool in_after;

static struct breg *regs[STORE_STRIPES];
static _Atomic long nwaiters;

long block_waiter_count(void) {
    return atomic_load_explicit(&nwaiters, memory_order_relaxed);
}

/* ---- registry [stripe-locked] ---------------------------------------------------- */

static uint64_t queue_hash(int db, uint64_t khash) {
    return khash ^ ((uint64_t)(unsigned)db * 0x9E3779B97F4A7C15ULL);
}

static uint64_t queue_node_hash(const struct htab_node *n) {
    return ((const struct block_queue *)n)->hash;
}

struct qkey {
    int db;
    const char *p;
    size_t n;
};

static bool queue_eq(const struct htab_node *n, const void *key) {
    const struct block_queue *q = (const struct block_queue *)n;
    const struct qkey *k = key;
    return q->db == k->db && q->klen == k->n && memcmp(q->key, k->p, k->n) == 0;
}

static struct block_queue *queue_find(int db, const struct store_key *k, struct htab_pos *pos) {
    struct breg *r = regs[store_stripe_of(k->slot)];
    if (r == NULL || r->nqueues == 0) return NULL;
    struct qkey qk = {db, k->ptr, k->len};
    struct htab_pos p;
    if (!htab_find(&r->queues, queue_hash(db, store_key_hash(k)), queue_eq, &qk, &p)) return NULL;
    if (pos) *pos = p;
    return (struct block_queue *)*p.link;
}

static struct block_queue *queue_get_or_create(int db, const struct store_key *k) {
    unsigned s = store_stripe_of(k->slot);
    struct breg *r = regs[s];
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        htab_init(&r->queues, queue_node_hash);
        regs[s] = r;
    }
    struct block_queue *q = queue_find(db, k, NULL);
    if (q) return q;
    q = xcalloc(1, sizeof(*q) + k->len);
    q->khash = store_key_hash(k);
    q->hash = queue_hash(db, q->khash);
    q->db = db;
    q->slot = k->slot;
    q->klen = k->len;
    memcpy(q->key, k->ptr, k->len);
    htab_insert(&r->queues, q->hash, &q->node, NULL);
    r->nqueues++;
    return q;
}

static void queue_key(const struct block_queue *q, struct store_key *k) {
    k->ptr = q->key;
    k->len = q->klen;
    k->slot = q->slot;
    k->hashed = true;
    k->hash = q->khash;
}

static void queue_free_if_empty(struct block_queue *q) {
    if (q->head != NULL || q->ready) return;
    struct store_key k;
    queue_key(q, &k);
    struct htab_pos pos;
    struct block_queue *found = queue_find(q->db, &k, &pos);
    ASSERT(found == q);
    struct breg *r = regs[store_stripe_of(q->slot)];
    htab_remove_at(&r->queues, &pos);
    r->nqueues--;
    xfree(q);
}

static void link_append(struct block_queue *q, struct block_link *l) {
    l->q = q;
    l->next = NULL;
    l->prev = q->tail;
    if (q->tail)
        q->tail->next = l;
    else
        q->head = l;
    q->tail = l;
}

static void link_remove(struct block_link *l) {
    struct block_queue *q = l->q;
    if (l->prev)
        l->prev->next = l->next;
    else
        q->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        q->tail = l->prev;
    l->prev = l->next = NULL;
    l->q = NULL;
}

/* ---- waiter lifetime [owner] ------------------------------------------------------- */

static void waiter_free(struct client_block *w) {
    if (w->arg) {
        if (w->ops->free_arg)
            w->ops->free_arg(w->arg);
        else
            xfree(w->arg);
    }
    if (w->undo && w->ops->undo_free) w->ops->undo_free(w->undo);
    obuf_clear(&w->reply);
    xfree(w->keys);
    xfree(w->links);
    xfree(w->keybuf);
    xfree(w->argv);
    xfree(w);
    atomic_fetch_sub_explicit(&nwaiters, 1, memory_order_relaxed);
}

static void unlink_all(void *arg) {
    struct client_block *w = arg;
    for (int i = 0; i < w->nkeys; i++) {
        struct block_link *l = &w->links[i];
        if (l->q == NULL) continue;
        struct block_queue *q = l->q;
        link_remove(l);
        queue_free_if_empty(q);
    }
    w->nlinked = 0;
}

/* Unlink what is still linked, then free. [owner, no locks held] */
static void waiter_release(struct client_block *w) {
    if (w->nlinked > 0) {
        struct store_lockset ls;
        store_lockset_init(&ls);
        for (int i = 0; i < w->nkeys; i++) store_lockset_add(&ls, w->keys[i].slot);
        store_run(&ls, STORE_WRITE, unlink_all, w);
    }
    waiter_free(w);
}

static void release_cb(void *arg) {
    waiter_release(arg);
}

static void cancel_timer(struct client_block *w) {
    if (w->timer) {
        struct worker *self = worker_self();
        if (self) loop_timer_del(worker_loop(self), w->timer);
        w->timer = 0;
    }
}

/* The waiter is done with c: account, free, let c go on. [owner, top level] */
static void finish(struct client *c, struct client_block *w) {
    cancel_timer(w);
    c->block = NULL;
    if (cmdlat_enabled() && w->cmd) cmdlat_record(w->cmd->id, w->serve_us);
    if (w->argv && w->cmd && !(w->cmd->flags & CMD_SKIP_SLOWLOG) && slowlog_wants(w->serve_us))
        slowlog_add(w->argc, w->argv, w->lens, w->serve_us, c->addr, c->name);
    waiter_release(w);
    client_resume(c);
}

/* ---- timeouts, CLIENT UNBLOCK, disconnects [owner] ---------------------------------- */

static void reply_timeout(struct client *c, struct client_block *w) {
    if (w->silent) return;
    if (w->ops->timeout)
        w->ops->timeout(c, w->arg);
    else
        reply_null_array(c);
}

static void on_timeout(void *arg) {
    struct client_block *w = arg;
    w->timer = 0;
    int expect = W_WAITING;
    if (!atomic_compare_exchange_strong_explicit(&w->state, &expect, W_ABANDONED,
                                                 memory_order_acq_rel, memory_order_acquire))
        return; /* being served: the reply is on its way */
    struct client *c = client_by_id(w->client_id);
    if (c == NULL || (c->flags & CLIENT_CLOSED) || c->block != w) {
        waiter_release(w);
        return;
    }
    reply_timeout(c, w);
    finish(c, w);
}

static void unblocked_cb(void *arg) {
    struct client_block *w = arg;
    struct client *c = client_by_id(w->client_id);
    if (c == NULL || (c->flags & CLIENT_CLOSED) || c->block != w) {
        waiter_release(w);
        return;
    }
    if (w->unblock_error) {
        if (!w->silent) {
            /* Counted as a failed call of the blocked command (Redis). */
            c->cmd = w->cmd;
            stats_set_executing(true);
            reply_error(c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
            stats_set_executing(false);
        }
    } else {
        reply_timeout(c, w);
    }
    finish(c, w);
}

bool block_unblock_client(struct client *c, bool error) {
    struct client_block *w = c->block;
    if (w == NULL || !(c->flags & CLIENT_BLOCKED) || (c->flags & CLIENT_CLOSED)) return false;
    int expect = W_WAITING;
    if (!atomic_compare_exchange_strong_explicit(&w->state, &expect, W_ABANDONED,
                                                 memory_order_acq_rel, memory_order_acquire))
        return false; /* already served: not blocked any more in effect */
    cancel_timer(w);
    w->unblock_error = error;
    /* May run inside a command (CLIENT UNBLOCK on the same worker): reply
     * and resume c's input after this batch, at the top of the loop. */
    loop_defer(worker_loop(c->worker), unblocked_cb, w);
    return true;
}

void block_client_closed(struct client *c) {
    struct client_block *w = c->block;
    if (w == NULL) return;
    c->block = NULL;
    cancel_timer(w);
    int expect = W_WAITING;
    if (atomic_compare_exchange_strong_explicit(&w->state, &expect, W_ABANDONED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        if (store_in_run())
            loop_defer(worker_loop(c->worker), release_cb, w);
        else
            waiter_release(w);
    }
    /* Otherwise: CLAIMED (the delivery finds c gone and undoes the pop) or
     * ABANDONED by CLIENT UNBLOCK (its deferred step finds c gone). */
}

/* ---- delivery [owner] --------------------------------------------------------------- */

static void copy_reply(struct client *c, struct obuf *from) {
    struct iovec iov[16];
    while (obuf_pending(from) > 0) {
        int n = obuf_iov(from, iov, 16);
        size_t total = 0;
        for (int i = 0; i < n; i++) {
            obuf_append(&c->obuf, iov[i].iov_base, iov[i].iov_len);
            total += iov[i].iov_len;
        }
        obuf_advance(from, total);
    }
}

/* Has the peer hung up (its EOF may still wait behind this message in the
 * loop)? A reply to it would be lost with the connection. */
static bool peer_gone(struct client *c) {
    struct pollfd pfd = {conn_fd(&c->conn), POLLRDHUP, 0};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void deliver(struct client_block *w) {
    struct client *c = client_by_id(w->client_id);
    if (c && !(c->flags & CLIENT_CLOSED) && c->block == w && w->undo && peer_gone(c)) {
        /* Disconnected after the claim: close it now, keep the element. */
        client_kill(c);
        c = NULL;
    }
    if (c == NULL || (c->flags & CLIENT_CLOSED) || c->block != w) {
        /* Gone after the claim: put back what was popped for it. */
        if (w->undo) {
            void *u = w->undo;
            w->undo = NULL;
            w->ops->undo(w->db, u);
        }
        waiter_release(w);
        return;
    }
    if (w->log_end) client_hold_until(c, w->log_end);
    if (!w->silent) copy_reply(c, &w->reply);
    finish(c, w);
}

static void deliver_msg(struct mbox_msg *m) {
    deliver(CONTAINER_OF(m, struct client_block, msg));
}
static void deliver_cb(void *arg) {
    deliver(arg);
}

/* ---- blocking [owner, stripe-locked] ------------------------------------------------- */

bool block_allowed(const struct client *c) {
    return !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_NO_BLOCK));
}

bool block_parse_timeout(struct client *c, int i, int64_t *deadline_ms) {
    long double v;
    if (!str_to_ld(c->argv[i], c->argvlen[i], &v)) {
        reply_error(c, RERR_TIMEOUT);
        return false;
    }
    long double ms = ceill(v * 1000.0L);
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return false;
    }
    int64_t now = time_ms();
    /* Redis 7.0 casts a huge value (inf, 1e20) to LLONG_MIN and answers
     * "negative" (x86): same answer here, without the undefined cast. */
    if (!isfinite(ms) || ms > (long double)(LLONG_MAX - now)) {
        reply_error(c, "ERR timeout is negative");
        return false;
    }
    *deadline_ms = ms > 0 ? now + (int64_t)ms : 0;
    return true;
}

static void copy_key(struct client *c, int pos, struct store_key *k, char **cursor) {
    struct store_key src;
    client_key(c, pos, &src);
    memcpy(*cursor, src.ptr, src.len);
    *k = src;
    k->ptr = *cursor;
    *cursor += src.len;
}

void block_for_keys(struct client *c, const struct block_request *r) {
    struct client_block *w = xcalloc(1, sizeof(*w));
    atomic_init(&w->state, W_WAITING);
    w->client_id = c->id;
    w->worker = worker_id(c->worker);
    w->db = c->db;
    w->resp = c->resp;
    w->silent = c->out != &c->obuf;
    w->cmd = c->cmd;
    w->ops = r->ops;
    w->arg = r->arg;
    obuf_init(&w->reply);
    /* argv: one block holding the pointers, the lengths and the bytes. */
    size_t argbytes = 0;
    for (int i = 0; i < c->argc; i++) argbytes += c->argvlen[i];
    char *ab = xmalloc((size_t)c->argc * (sizeof(char *) + sizeof(size_t)) + argbytes + 1);
    w->argc = c->argc;
    w->argv = (const char **)(void *)ab;
    w->lens = (size_t *)(void *)(ab + (size_t)c->argc * sizeof(char *));
    char *data = ab + (size_t)c->argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < c->argc; i++) {
        memcpy(data, c->argv[i], c->argvlen[i]);
        w->argv[i] = data;
        w->lens[i] = c->argvlen[i];
        data += c->argvlen[i];
    }
    size_t bytes = 0;
    for (int i = 0; i < r->nkeys; i++) bytes += c->argvlen[r->key_pos[i]];
    if (r->target_pos >= 0) bytes += c->argvlen[r->target_pos];
    w->keybuf = xmalloc(bytes ? bytes : 1);
    char *cursor = w->keybuf;
    w->keys = xcalloc((size_t)r->nkeys, sizeof(*w->keys));
    w->links = xcalloc((size_t)r->nkeys, sizeof(*w->links));
    for (int i = 0; i < r->nkeys; i++) {
        int pos = r->key_pos[i];
        bool dup = false;
        for (int j = 0; j < w->nkeys && !dup; j++)
            dup = w->keys[j].len == c->argvlen[pos] &&
                  memcmp(w->keys[j].ptr, c->argv[pos], c->argvlen[pos]) == 0;
        if (dup) continue; /* BLPOP k k 0: one place in k's queue */
        copy_key(c, pos, &w->keys[w->nkeys], &cursor);
        w->links[w->nkeys].w = w;
        w->nkeys++;
    }
    if (r->target_pos >= 0) {
        copy_key(c, r->target_pos, &w->target, &cursor);
        w->has_target = true;
    }
    for (int i = 0; i < w->nkeys; i++) {
        DEBUG_ASSERT(store_holds(w->keys[i].slot));
        link_append(queue_get_or_create(w->db, &w->keys[i]), &w->links[i]);
    }
    w->nlinked = w->nkeys;
    atomic_fetch_add_explicit(&nwaiters, 1, memory_order_relaxed);
    client_block(c, w);
    if (r->deadline_ms > 0) {
        int64_t ms = r->deadline_ms - time_ms();
        w->timer = loop_timer_add(worker_loop(c->worker), ms > 0 ? ms : 0, on_timeout, w);
    }
}

/* ---- readiness [stripe-locked] -------------------------------------------------------- */

static void mark_ready(struct block_queue *q) {
    if (q->ready) return;
    q->ready = true;
    if (block_nready_ == capready) {
        capready = capready ? capready * 2 : 16;
        ready = xrealloc(ready, (size_t)capready * sizeof(*ready));
    }
    ready[block_nready_++] = q;
}

void block_key_signal(int db, const struct store_key *k) {
    struct breg *r = regs[store_stripe_of(k->slot)];
    if (LIKELY(r == NULL || r->nqueues == 0)) return;
    struct block_queue *q = queue_find(db, k, NULL);
    if (q) mark_ready(q);
}

void block_key_added(int db, const struct store_key *k, const struct entry *e) {
    UNUSED(e);
    block_key_signal(db, k);
}

void block_key_removed(int db, const struct store_key *k, const struct entry *e) {
    if (entry_type(e) == TYPE_STREAM) block_key_signal(db, k);
}

/* Every queue of database db (all when db < 0) becomes ready. */
static void mark_db_ready(int db) {
    for (unsigned s = 0; s < STORE_STRIPES; s++) {
        struct breg *r = regs[s];
        if (r == NULL || r->nqueues == 0) continue;
        struct htab_iter it;
        for (struct htab_node *n = htab_first(&r->queues, &it); n; n = htab_next(&r->queues, &it)) {
            struct block_queue *q = (struct block_queue *)n;
            if (db < 0 || q->db == db) mark_ready(q);
        }
    }
}

void block_db_flushed(int db) {
    if (atomic_load_explicit(&nwaiters, memory_order_relaxed) == 0) return;
    mark_db_ready(db);
}

struct swap_scan {
    int a, b;
};

void block_db_swapped(int a, int b) {
    if (atomic_load_explicit(&nwaiters, memory_order_relaxed) == 0) return;
    /* Keys that hold a value now are served; keys that lost their stream
     * answer their XREADGROUP waiters; the rest find nothing to do. */
    mark_db_ready(a);
    mark_db_ready(b);
}

/* ---- serving [stripe-locked] ---------------------------------------------------------- */

static void add_served(struct client_block *w) {
    if (nserved == capserved) {
        capserved = capserved ? capserved * 2 : 16;
        served = xrealloc(served, (size_t)capserved * sizeof(*served));
    }
    served[nserved++] = w;
}

static void add_retry(int db, const struct store_key *k, uint16_t target_slot) {
    for (int i = 0; i < nretries; i++)
        if (retries[i].db == db && retries[i].key.len == k->len &&
            memcmp(retries[i].key.ptr, k->ptr, k->len) == 0)
            return;
    if (nretries == capretries) {
        capretries = capretries ? capretries * 2 : 8;
        retries = xrealloc(retries, (size_t)capretries * sizeof(*retries));
    }
    struct retry *r = &retries[nretries++];
    r->db = db;
    r->copy = xmemdup(k->ptr, k->len ? k->len : 1);
    r->key = *k;
    r->key.ptr = r->copy;
    r->target_slot = target_slot;
}

/* Serve one waiter that is claimed already. */
static void serve_one(struct client_block *w, const struct store_key *k, struct store_ref *ref,
                      struct entry *e) {
    int64_t t0 = time_mono_us();
    struct client proxy;
    memset(&proxy, 0, sizeof(proxy));
    proxy.id = w->client_id;
    proxy.db = w->db;
    proxy.resp = w->resp;
    proxy.out = &w->reply;
    proxy.cmd = w->cmd;
    proxy.lastcmd = w->cmd;
    stats_set_executing(true); /* an error reply counts as a failed call */
    w->ops->serve(&proxy, k, ref, e, w->has_target ? &w->target : NULL, w->arg, &w->undo);
    stats_set_executing(false);
    /* Each served pop is its own block in the effects log, after the push
     * (Redis propagates it after the command that woke it). */
    if (log_enabled()) log_seal(true);
    w->log_end = log_sealed_end();
    w->serve_us = time_mono_us() - t0;
}

/* Serve q's waiters, first blocked first, that the key's value (or its
 * absence, for types that care: ops->ready) answers now. */
static void serve_queue(struct block_queue *q) {
    struct store_key k;
    queue_key(q, &k);
    struct block_link *l = q->head;
    while (l) {
        struct block_link *next = l->next;
        struct client_block *w = l->w;
        if (atomic_load_explicit(&w->state, memory_order_acquire) != W_WAITING) {
            l = next;
            continue;
        }
        struct store_ref ref;
        struct entry *e = store_lookup(q->db, &k, STORE_LOOKUP_WRITE | STORE_LOOKUP_NOTOUCH, &ref);
        bool now = w->ops->ready ? w->ops->ready(&k, e, w->arg) : (e && entry_type(e) == w->ops->type);
        if (!now) {
            l = next;
            continue;
        }
        if (w->has_target && !store_try_hold(w->target.slot)) {
            /* Keep the FIFO: serve this key again with the target locked. */
            add_retry(q->db, &k, w->target.slot);
            break;
        }
        int expect = W_WAITING;
        if (!atomic_compare_exchange_strong_explicit(&w->state, &expect, W_CLAIMED,
                                                     memory_order_acq_rel, memory_order_acquire)) {
            l = next; /* timed out or unblocked meanwhile */
            continue;
        }
        link_remove(l);
        w->nlinked--;
        serve_one(w, &k, &ref, e);
        add_served(w);
        l = next;
    }
    queue_free_if_empty(q);
}

void block_serve_ready(void) {
    if (block_nready_ == 0) return;
    /* Serve against the current time (a key may have expired during EXEC's
     * DEBUG SLEEP), as Redis refreshes its clock before serving. */
    store_set_now(time_ms());
    /* The section's own effects first, as one block: the pops follow. */
    if (log_enabled() && log_staged()) log_seal(true);
    /* Serving may make more keys ready (BLMOVE): the list grows meanwhile. */
    for (int i = 0; i < block_nready_; i++) {
        struct block_queue *q = ready[i];
        q->ready = false;
        serve_queue(q);
    }
    block_nready_ = 0;
    if (capready > 256) {
        xfree(ready);
        ready = NULL;
        capready = 0;
    }
}

/* ---- after unlocking [no locks] ------------------------------------------------------- */

static void post_served(void) {
    int n = nserved;
    for (int i = 0; i < n; i++) {
        struct client_block *w = served[i];
        struct worker *self = worker_self();
        if (self && worker_id(self) == w->worker)
            loop_defer(worker_loop(self), deliver_cb, w); /* never nested in the pushing command */
        else
            worker_post(worker_at(w->worker), &w->msg, deliver_msg);
    }
    nserved = 0;
    if (capserved > 256) {
        xfree(served);
        served = NULL;
        capserved = 0;
    }
}

static void retry_run(void *arg) {
    struct retry *r = arg;
    store_set_now(time_ms());
    struct block_queue *q = queue_find(r->db, &r->key, NULL);
    if (q && !q->ready) {
        mark_ready(q); /* served by this section's seal, like any ready key */
    }
}

void block_after(void) {
    if (in_after || (nserved == 0 && nretries == 0)) return;
    in_after = true;
    while (nserved > 0 || nretries > 0) {
        if (nserved > 0) post_served();
        if (nretries > 0) {
            struct retry r = retries[--nretries];
            struct store_lockset ls;
            store_lockset_init(&ls);
            store_lockset_add(&ls, r.key.slot);
            store_lockset_add(&ls, r.target_slot);
            store_run(&ls, STORE_WRITE, retry_run, &r);
            xfree(r.copy);
        }
    }
    in_after = false;
}

/* ---- setup ------------------------------------------------------------------------- */

void block_setup(void) {
    store_set_added_hook(block_key_added);
    store_set_removed_hook(block_key_removed);
}

static void free_queue(struct htab_node *n, void *arg) {
    xfree(n);
}

void block_thread_cleanup(void) {
    xfree(ready);
    ready = NULL;
    capready = 0;
    xfree(served);
    served = NULL;
    capserved = 0;
    xfree(retries);
    retries = NULL;
    capretries = 0;
}

void block_teardown(void) {
    for (unsigned s = 0; s < STORE_STRIPES; s++) {
        if (regs[s] == NULL) continue;
        htab_clear(&regs[s]->queues, free_queue, NULL);
        xfree(regs[s]);
        regs[s] = NULL;
    }
    block_thread_cleanup();
}

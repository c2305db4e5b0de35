/*
 * exec/tracking.c - see tracking.h.
 *
 * Deliveries. What the store gathered becomes `struct delivery` objects,
 * each for one client (by worker and id) and run on that client's worker:
 *
 *   D_KEY    one key a default-mode client read has changed
 *   D_BCAST  keys (one RESP array) matching a prefix of a BCAST client
 *   D_FLUSH  all keys of every tracking client of one worker
 *   D_REDIR  a message forwarded to a redirection target
 *   D_BROKEN the redirection target was gone: tell the tracking client
 *
 * A delivery carries the RESP array of keys (or nothing: "all keys") and
 * is checked against the client's state when it runs (the client may have
 * turned tracking off or switched modes since; Redis forgets clients'
 * table entries lazily the same way).
 *
 * Locks: the BCAST registry mutex is a leaf (see docs/design/lock-order.md):
 * deliveries are built under it and posted after it is released.
 */
#include "exec/tracking.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "config/config.h"
#include "exec/reply.h"
#include "proto/resp.h"
#include "store/track.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Atomic long tracking_nclients_;

enum dkind { D_KEY, D_BCAST, D_FLUSH, D_REDIR, D_BROKEN };

struct delivery {
    struct mbox_msg m; /* D_FLUSH is posted to a worker as is */
    enum dkind kind;
    uint64_t actor;     /* D_KEY: who changed the key */
    int origin_worker;  /* D_REDIR: the tracking client */
    uint64_t origin_id;
    uint64_t redir_id;  /* D_REDIR, D_BROKEN */
    uint64_t target_id; /* while deferred on this worker (0 with D_FLUSH: every client) */
    bool all;           /* no keys: every key is invalid (flush) */
    size_t len;
    char proto[];       /* RESP array of the keys */
};

/* ---- BCAST registry -------------------------------------------------------------- */

struct bsub {
    int worker;
    uint64_t id;
    bool noloop;
};

struct bprefix {
    char *p;
    size_t len;
    struct bsub *subs;
    int nsubs, capsubs;
};

static pthread_mutex_t bmu = PTHREAD_MUTEX_INITIALIZER;
static struct bprefix *bpre;
static int nbpre, capbpre;
static _Atomic uint64_t nbpre_pub; /* nbpre, for INFO without the lock */

static _Atomic long long max_keys = 1000000;
static _Atomic int limit_rounds; /* consecutive calls that could not get under the limit */

/* ---- per-thread: deliveries for this worker's clients --------------------------- */

struct local_item {
    uint64_t id; /* 0 with D_FLUSH: every client of the worker */
    struct delivery *d;
};

static __thread struct {
    struct local_item *items;
    size_t n, cap;
    bool in_command;
    uint64_t current_id; /* the client whose command runs (in_command) */
    struct store_track_batch batch;
} tl;

/* ---- options ---------------------------------------------------------------------- */

static int apply_max_keys(long long v, char *err) {
    (void)err;
    atomic_store_explicit(&max_keys, v, memory_order_relaxed);
    return 0;
}

static struct config_option tracking_options[] = {
    {"tracking-table-max-keys", NULL, CFG_INT, 0, "1000000", 0, LLONG_MAX, NULL, apply_max_keys, NULL, NULL, NULL, 0,
     NULL},
    CFG_END,
};

void tracking_setup(void) { config_register(tracking_options); }

void tracking_teardown(void) {
    pthread_mutex_lock(&bmu);
    for (int i = 0; i < nbpre; i++) {
        xfree(bpre[i].p);
        xfree(bpre[i].subs);
    }
    xfree(bpre);
    bpre = NULL;
    nbpre = capbpre = 0;
    atomic_store(&nbpre_pub, 0);
    pthread_mutex_unlock(&bmu);
}

void tracking_thread_cleanup(void) {
    for (size_t i = 0; i < tl.n; i++) xfree(tl.items[i].d);
    xfree(tl.items);
    tl.items = NULL;
    tl.n = tl.cap = 0;
    store_track_batch_free(&tl.batch);
}

long tracking_clients(void) { return atomic_load_explicit(&tracking_nclients_, memory_order_relaxed); }
uint64_t tracking_prefix_count(void) { return atomic_load_explicit(&nbpre_pub, memory_order_relaxed); }

/* ---- enabling and disabling -------------------------------------------------------------- */

/* Do two prefixes overlap (one starts with the other)? */
static bool overlap(const char *a, size_t an, const char *b, size_t bn) { return memcmp(a, b, MIN(an, bn)) == 0; }

static bool check_prefixes(struct client *c, int n, const char *const *p, const size_t *len) {
    for (int i = 0; i < n; i++) {
        if (c->trk) {
            for (int j = 0; j < c->trk->nprefixes; j++) {
                if (overlap(c->trk->prefixes[j], c->trk->plens[j], p[i], len[i])) {
                    reply_errorf(c,
                                 "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. Prefixes for a single "
                                 "client must not overlap.",
                                 (int)len[i], p[i], (int)c->trk->plens[j], c->trk->prefixes[j]);
                    return false;
                }
            }
        }
        for (int j = i + 1; j < n; j++) {
            if (overlap(p[i], len[i], p[j], len[j])) {
                reply_errorf(c,
                             "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. Prefixes for a single "
                             "client must not overlap.",
                             (int)len[i], p[i], (int)len[j], p[j]);
                return false;
            }
        }
    }
    return true;
}

static void registry_add(const char *p, size_t len, int worker, uint64_t id, bool noloop) {
    pthread_mutex_lock(&bmu);
    struct bprefix *bp = NULL;
    for (int i = 0; i < nbpre; i++)
        if (bpre[i].len == len && memcmp(bpre[i].p, p, len) == 0) bp = &bpre[i];
    if (bp == NULL) {
        if (nbpre == capbpre) {
            capbpre = capbpre ? capbpre * 2 : 8;
            bpre = xrealloc(bpre, (size_t)capbpre * sizeof(*bpre));
        }
        bp = &bpre[nbpre++];
        bp->p = xmalloc(len ? len : 1);
        memcpy(bp->p, p, len);
        bp->len = len;
        bp->subs = NULL;
        bp->nsubs = bp->capsubs = 0;
        atomic_store_explicit(&nbpre_pub, (uint64_t)nbpre, memory_order_relaxed);
        store_track_set_bcast(true);
    }
    for (int i = 0; i < bp->nsubs; i++) {
        if (bp->subs[i].id == id) {
            bp->subs[i].noloop = noloop;
            pthread_mutex_unlock(&bmu);
            return;
        }
    }
    if (bp->nsubs == bp->capsubs) {
        bp->capsubs = bp->capsubs ? bp->capsubs * 2 : 4;
        bp->subs = xrealloc(bp->subs, (size_t)bp->capsubs * sizeof(*bp->subs));
    }
    bp->subs[bp->nsubs++] = (struct bsub){worker, id, noloop};
    pthread_mutex_unlock(&bmu);
}

static void registry_remove(const char *p, size_t len, uint64_t id) {
    pthread_mutex_lock(&bmu);
    for (int i = 0; i < nbpre; i++) {
        struct bprefix *bp = &bpre[i];
        if (bp->len != len || memcmp(bp->p, p, len) != 0) continue;
        for (int j = 0; j < bp->nsubs; j++) {
            if (bp->subs[j].id == id) {
                bp->subs[j] = bp->subs[--bp->nsubs];
                break;
            }
        }
        if (bp->nsubs == 0) {
            xfree(bp->p);
            xfree(bp->subs);
            bpre[i] = bpre[--nbpre];
            atomic_store_explicit(&nbpre_pub, (uint64_t)nbpre, memory_order_relaxed);
            if (nbpre == 0) store_track_set_bcast(false);
        }
        break;
    }
    pthread_mutex_unlock(&bmu);
}

static void add_prefix(struct client *c, const char *p, size_t len) {
    struct client_tracking *t = c->trk;
    for (int i = 0; i < t->nprefixes; i++)
        if (t->plens[i] == len && memcmp(t->prefixes[i], p, len) == 0) return;
    t->prefixes = xrealloc(t->prefixes, (size_t)(t->nprefixes + 1) * sizeof(*t->prefixes));
    t->plens = xrealloc(t->plens, (size_t)(t->nprefixes + 1) * sizeof(*t->plens));
    t->prefixes[t->nprefixes] = xmalloc(len ? len : 1);
    memcpy(t->prefixes[t->nprefixes], p, len);
    t->plens[t->nprefixes++] = len;
    registry_add(p, len, worker_id(c->worker), c->id, (t->flags & TRACK_NOLOOP) != 0);
}

bool tracking_enable(struct client *c, uint64_t redir_id, int redir_worker, unsigned options, int nprefix,
                     const char *const *prefixes, const size_t *plens) {
    if (!(options & TRACK_BCAST) && nprefix) {
        reply_error(c, "ERR PREFIX option requires BCAST mode to be enabled");
        return false;
    }
    if (c->trk && ((c->trk->flags & TRACK_BCAST) != 0) != ((options & TRACK_BCAST) != 0)) {
        reply_error(c, "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then "
                       "re-enabling it with a different mode.");
        return false;
    }
    if ((options & TRACK_BCAST) && (options & (TRACK_OPTIN | TRACK_OPTOUT))) {
        reply_error(c, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return false;
    }
    if ((options & TRACK_OPTIN) && (options & TRACK_OPTOUT)) {
        reply_error(c, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return false;
    }
    if (c->trk && (((options & TRACK_OPTIN) && (c->trk->flags & TRACK_OPTOUT)) ||
                   ((options & TRACK_OPTOUT) && (c->trk->flags & TRACK_OPTIN)))) {
        reply_error(c, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then "
                       "re-enabling it with a different mode.");
        return false;
    }
    if ((options & TRACK_BCAST) && !check_prefixes(c, nprefix, prefixes, plens)) return false;

    if (c->trk == NULL) {
        c->trk = xcalloc(1, sizeof(*c->trk));
        atomic_fetch_add_explicit(&tracking_nclients_, 1, memory_order_relaxed);
    }
    struct client_tracking *t = c->trk;
    t->flags &= ~(TRACK_BROKEN_REDIR | TRACK_BCAST | TRACK_OPTIN | TRACK_OPTOUT | TRACK_NOLOOP);
    t->flags |= TRACK_ON | (options & (TRACK_BCAST | TRACK_OPTIN | TRACK_OPTOUT | TRACK_NOLOOP));
    t->redir_id = redir_id;
    t->redir_worker = redir_worker;
    if (options & TRACK_BCAST) {
        if (nprefix == 0) add_prefix(c, "", 0);
        for (int i = 0; i < nprefix; i++) add_prefix(c, prefixes[i], plens[i]);
        /* NOLOOP may have changed for prefixes registered before. */
        for (int i = 0; i < t->nprefixes; i++)
            registry_add(t->prefixes[i], t->plens[i], worker_id(c->worker), c->id, (t->flags & TRACK_NOLOOP) != 0);
    }
    return true;
}

void tracking_disable(struct client *c) {
    struct client_tracking *t = c->trk;
    if (t == NULL) return;
    for (int i = 0; i < t->nprefixes; i++) {
        registry_remove(t->prefixes[i], t->plens[i], c->id);
        xfree(t->prefixes[i]);
    }
    xfree(t->prefixes);
    xfree(t->plens);
    xfree(t);
    c->trk = NULL;
    atomic_fetch_sub_explicit(&tracking_nclients_, 1, memory_order_relaxed);
}

/* ---- remembering keys ------------------------------------------------------------------------ */

void tracking_remember_keys(struct client *c) {
    struct client_tracking *t = c->trk;
    if (t == NULL || (t->flags & TRACK_BCAST)) return;
    bool caching = (t->flags & TRACK_CACHING) != 0;
    if (((t->flags & TRACK_OPTIN) && !caching) || ((t->flags & TRACK_OPTOUT) && caching)) return;
    if (c->cmd && (c->cmd->flags & CMD_PUBSUB)) return; /* shard channels are keys, not cached data */
    uint64_t token = tracking_token(c);
    for (int i = 0; i < c->nkeys; i++) {
        struct store_key k;
        client_key(c, c->keys[i].pos, &k);
        store_track_key(&k, token);
    }
}

void tracking_command_done(struct client *c) {
    if (c->trk == NULL || !(c->trk->flags & TRACK_CACHING)) return;
    if (c->flags & CLIENT_MULTI) return;
    if (c->lastcmd && c->lastcmd->parent && strcmp(c->lastcmd->parent->name, "client") == 0) return;
    c->trk->flags &= ~TRACK_CACHING;
}

void tracking_limit(void) {
    long long max = atomic_load_explicit(&max_keys, memory_order_relaxed);
    if (max == 0) return;
    if (store_track_keys() <= (uint64_t)max) {
        atomic_store_explicit(&limit_rounds, 0, memory_order_relaxed);
        return;
    }
    int rounds = atomic_load_explicit(&limit_rounds, memory_order_relaxed);
    if (store_track_evict((uint64_t)max, 100 * (rounds + 1)))
        atomic_store_explicit(&limit_rounds, 0, memory_order_relaxed);
    else
        atomic_store_explicit(&limit_rounds, rounds + 1, memory_order_relaxed);
}

/* ---- writing messages ------------------------------------------------------------------------- */

/* Pushes are written even while CLIENT REPLY is OFF/SKIP (Redis's
 * CLIENT_PUSHING): straight into the output queue, not c->out. */
static void write_invalidation(struct client *c, const struct delivery *d, bool pubsub_message) {
    struct obuf *saved = c->out;
    c->out = &c->obuf;
    if (pubsub_message) {
        reply_array(c, 3);
        reply_bulk(c, "message", 7);
        reply_bulk(c, "__redis__:invalidate", 20);
    } else {
        reply_push(c, 2);
        reply_bulk(c, "invalidate", 10);
    }
    if (d->all)
        reply_null(c);
    else
        reply_proto(c, d->proto, d->len);
    c->out = saved;
    client_want_write(c);
}

static struct delivery *delivery_new(enum dkind kind, const char *proto, size_t len, bool all) {
    struct delivery *d = xmalloc(sizeof(*d) + len);
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    d->all = all;
    d->len = len;
    if (len) memcpy(d->proto, proto, len);
    return d;
}

static void run_delivery(struct client *c, void *arg);
static void drop_delivery(void *arg);

static void flush_worker_clients(void);

static void deferred_run(void *arg) {
    struct delivery *d = arg;
    if (d->target_id == 0) {
        xfree(d);
        flush_worker_clients();
        return;
    }
    struct client *c = client_by_id(d->target_id);
    if (c && !(c->flags & CLIENT_CLOSED))
        run_delivery(c, d);
    else
        drop_delivery(d);
}

/* Send d to client `id` of `worker` (id 0: a flush for all its clients).
 * The client whose command is running gets it at the points Redis would
 * (tracking_flush_local); other clients of this worker once the current
 * batch of work is done, after replies of blocked clients served by it
 * (they are deferred the same way); clients elsewhere by mailbox. */
static void route(int worker, uint64_t id, struct delivery *d) {
    if (worker == worker_self_id()) {
        if (!tl.in_command || id != tl.current_id) {
            d->target_id = id;
            loop_defer(worker_loop(worker_self()), deferred_run, d);
            return;
        }
        if (tl.n == tl.cap) {
            tl.cap = tl.cap ? tl.cap * 2 : 16;
            tl.items = xrealloc(tl.items, tl.cap * sizeof(*tl.items));
        }
        tl.items[tl.n++] = (struct local_item){id, d};
        return;
    }
    client_post_by_id(worker, id, run_delivery, d, drop_delivery);
}

static void broken_run(struct client *c, void *arg) {
    struct delivery *d = arg;
    if (c->trk && c->trk->redir_id == d->redir_id) {
        c->trk->flags |= TRACK_BROKEN_REDIR;
        if (c->resp >= 3) {
            struct obuf *saved = c->out;
            c->out = &c->obuf;
            reply_push(c, 2);
            reply_bulk(c, "tracking-redir-broken", 21);
            reply_int(c, (long long)d->redir_id);
            c->out = saved;
            client_want_write(c);
        }
    }
    xfree(d);
}

static void drop_delivery(void *arg) {
    struct delivery *d = arg;
    if (d->kind == D_REDIR) {
        /* The redirection target is gone: tell the tracking client. */
        d->kind = D_BROKEN;
        client_post_by_id(d->origin_worker, d->origin_id, broken_run, d, xfree);
        return;
    }
    xfree(d);
}

/* Send d's keys to c, or to c's redirection target. Consumes d. */
static void send_to(struct client *c, struct delivery *d) {
    struct client_tracking *t = c->trk;
    if (t->redir_id) {
        d->kind = D_REDIR;
        d->origin_worker = worker_id(c->worker);
        d->origin_id = c->id;
        d->redir_id = t->redir_id;
        client_post_by_id(t->redir_worker, t->redir_id, run_delivery, d, drop_delivery);
        return;
    }
    if (c->resp >= 3) write_invalidation(c, d, false);
    xfree(d);
}

static void run_delivery(struct client *c, void *arg) {
    struct delivery *d = arg;
    struct client_tracking *t = c->trk;
    switch (d->kind) {
    case D_KEY:
        if (t == NULL || (t->flags & TRACK_BCAST)) break;
        if ((t->flags & TRACK_NOLOOP) && d->actor == tracking_token(c)) break;
        send_to(c, d);
        return;
    case D_BCAST:
        if (t == NULL || !(t->flags & TRACK_BCAST)) break;
        send_to(c, d);
        return;
    case D_FLUSH:
        if (t == NULL) break;
        send_to(c, delivery_new(D_FLUSH, NULL, 0, true));
        break;
    case D_REDIR:
        if (c->resp >= 3)
            write_invalidation(c, d, false);
        else if (c->flags & CLIENT_PUBSUB)
            write_invalidation(c, d, true);
        break;
    case D_BROKEN:
        broken_run(c, d);
        return;
    }
    xfree(d);
}

static void flush_worker_clients(void) {
    for (struct client *c = client_first(); c; c = client_next(c))
        if (c->trk && !(c->flags & CLIENT_CLOSED)) run_delivery(c, delivery_new(D_FLUSH, NULL, 0, true));
}

static void flush_msg_run(struct mbox_msg *m) {
    struct delivery *d = CONTAINER_OF(m, struct delivery, m);
    xfree(d);
    flush_worker_clients();
}

void tracking_flush_local(void) {
    /* Deliveries may queue more (a redirection to a client of ours). */
    for (size_t i = 0; i < tl.n; i++) {
        struct local_item it = tl.items[i];
        if (it.id == 0) {
            xfree(it.d);
            flush_worker_clients();
            continue;
        }
        struct client *c = client_by_id(it.id);
        if (c && !(c->flags & CLIENT_CLOSED))
            run_delivery(c, it.d);
        else
            drop_delivery(it.d);
    }
    tl.n = 0;
}

void tracking_in_command(const struct client *c) {
    tl.in_command = c != NULL;
    tl.current_id = c ? c->id : 0;
}

/* ---- from the store's batch to deliveries ------------------------------------------------------ */

static size_t proto_keys(struct buf *b, const struct store_track_rec *const *recs, size_t n) {
    buf_clear(b);
    char hdr[32];
    int k = snprintf(hdr, sizeof(hdr), "*%zu\r\n", n);
    buf_append(b, hdr, (size_t)k);
    for (size_t i = 0; i < n; i++) {
        k = snprintf(hdr, sizeof(hdr), "$%zu\r\n", recs[i]->klen);
        buf_append(b, hdr, (size_t)k);
        buf_append(b, recs[i]->key, recs[i]->klen);
        buf_append(b, "\r\n", 2);
    }
    return b->len;
}

static int rec_cmp(const void *a, const void *b) {
    const struct store_track_rec *x = *(const struct store_track_rec *const *)a;
    const struct store_track_rec *y = *(const struct store_track_rec *const *)b;
    int c = memcmp(x->key, y->key, MIN(x->klen, y->klen));
    if (c) return c;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return x < y ? -1 : (x > y); /* records are in change order: later is bigger */
}

struct pending_post {
    int worker;
    uint64_t id;
    struct delivery *d;
};

/* Match the modified keys against every prefix; build the deliveries
 * under the registry lock, post them after. */
static void deliver_bcast(const struct buf *bcast) {
    size_t nrec = 0, off = 0;
    struct store_track_rec r;
    while (store_track_next(bcast, &off, &r)) nrec++;
    struct store_track_rec *recs = xmalloc(nrec * sizeof(*recs));
    const struct store_track_rec **match = xmalloc(nrec * sizeof(*match));
    const struct store_track_rec **keep = xmalloc(nrec * sizeof(*keep));
    off = 0;
    for (size_t i = 0; store_track_next(bcast, &off, &recs[i]); i++) {
    }
    struct pending_post *posts = NULL;
    size_t nposts = 0, capposts = 0;
    struct buf proto = BUF_INIT;
    pthread_mutex_lock(&bmu);
    for (int p = 0; p < nbpre; p++) {
        struct bprefix *bp = &bpre[p];
        size_t nm = 0;
        for (size_t i = 0; i < nrec; i++)
            if (recs[i].klen >= bp->len && memcmp(recs[i].key, bp->p, bp->len) == 0) match[nm++] = &recs[i];
        if (nm == 0) continue;
        /* One entry per key, the last change's actor (Redis's rax of keys). */
        qsort(match, nm, sizeof(*match), rec_cmp);
        size_t nu = 0;
        for (size_t i = 0; i < nm; i++) {
            if (i + 1 < nm && match[i + 1]->klen == match[i]->klen &&
                memcmp(match[i + 1]->key, match[i]->key, match[i]->klen) == 0)
                continue;
            match[nu++] = match[i];
        }
        for (int s = 0; s < bp->nsubs; s++) {
            struct bsub *sub = &bp->subs[s];
            size_t nk = nu;
            const struct store_track_rec *const *use = match;
            if (sub->noloop) {
                uint64_t tok = ((uint64_t)(unsigned)sub->worker << 48) | (sub->id & ((1ULL << 48) - 1));
                nk = 0;
                for (size_t i = 0; i < nu; i++)
                    if (match[i]->actor != tok) keep[nk++] = match[i];
                use = keep;
                if (nk == 0) continue;
            }
            proto_keys(&proto, use, nk);
            if (nposts == capposts) {
                capposts = capposts ? capposts * 2 : 8;
                posts = xrealloc(posts, capposts * sizeof(*posts));
            }
            posts[nposts++] = (struct pending_post){sub->worker, sub->id,
                                                    delivery_new(D_BCAST, proto.data, proto.len, false)};
        }
    }
    pthread_mutex_unlock(&bmu);
    for (size_t i = 0; i < nposts; i++) route(posts[i].worker, posts[i].id, posts[i].d);
    buf_free(&proto);
    xfree(posts);
    xfree(keep);
    xfree(match);
    xfree(recs);
}

void tracking_deliver(void) {
    if (!store_track_pending()) return;
    store_track_take(&tl.batch);
    struct store_track_batch *b = &tl.batch;
    size_t off = 0;
    struct store_track_rec r;
    struct buf proto = BUF_INIT;
    while (store_track_next(&b->keys, &off, &r)) {
        const struct store_track_rec *one = &r;
        proto_keys(&proto, &one, 1);
        for (uint32_t i = 0; i < r.ntok; i++) {
            uint64_t tok = r.tokens[i];
            struct delivery *d = delivery_new(D_KEY, proto.data, proto.len, false);
            d->actor = r.actor;
            route((int)(tok >> 48), tok & ((1ULL << 48) - 1), d);
        }
    }
    buf_free(&proto);
    if (b->bcast.len) deliver_bcast(&b->bcast);
    if (b->flushed) {
        for (int w = 0; w < worker_count(); w++) {
            struct delivery *d = delivery_new(D_FLUSH, NULL, 0, true);
            if (w == worker_self_id())
                route(w, 0, d);
            else
                worker_post(worker_at(w), &d->m, flush_msg_run);
        }
    }
    if (!tl.in_command) tracking_flush_local();
}

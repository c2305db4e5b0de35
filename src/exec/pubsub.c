/*
 * exec/pubsub.c - see pubsub.h.
 *
 *   registry (one for channels, one for shard channels):
 *       shards[hash(channel) % 64]: mutex + htab of struct chan
 *           chan{name, subs: [(worker, client id)...]}
 *   patterns: rwlock + array of struct pat{pattern, subs}
 *   client side (owner thread): struct pubsub_client{three name sets}
 *
 * A delivery is a refcounted `struct pmsg` (channel and message) plus, per
 * worker, the ids to deliver to and the patterns that matched. Deliveries
 * that would be posted while the publishing thread holds stripe locks (a
 * PUBLISH inside EXEC) wait in the thread's staging queue, in order with
 * the keyspace notifications staged by the same locked section, and go out
 * when the locks are released.
 */
#include "exec/pubsub.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/hash.h"
#include "base/str.h"
#include "config/config.h"
#include "exec/reply.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NSHARDS 64

struct sub {
    int worker;
    uint64_t id;
};

struct chan {
    struct htab_node node;
    struct sub *subs;
    int nsubs, capsubs;
    size_t len;
    char name[];
};

struct shard {
    pthread_mutex_t mu;
    struct htab chans;
} CACHE_ALIGNED;

struct registry {
    struct shard shards[NSHARDS];
    _Atomic long nchans; /* channels with subscribers */
};

struct pat {
    struct sub *subs;
    int nsubs, capsubs;
    size_t len;
    char *name;
};

static struct registry reg_chans, reg_shard;
static pthread_rwlock_t pat_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct pat *pats;
static int npats, cappats;
static _Atomic long npats_total;
int pubsub_notify_flags_;

/* ---- client side: ordered name sets ------------------------------------------ */

struct psname {
    struct htab_node node;
    struct psname *prev, *next; /* subscription order */
    size_t len;
    char name[];
};

struct nameset {
    struct htab tab;
    struct psname *head, *tail;
    int n;
};

struct pubsub_client {
    struct nameset chans, pats, schans;
};

static uint64_t name_hash_of(const char *p, size_t n) { return hash_keyed(p, n); }
static uint64_t psname_hash(const struct htab_node *n) {
    const struct psname *s = (const struct psname *)n;
    return name_hash_of(s->name, s->len);
}

struct chkey {
    const char *p;
    size_t n;
};

static bool psname_eq(const struct htab_node *n, const void *key) {
    const struct psname *s = (const struct psname *)n;
    const struct chkey *k = key;
    return s->len == k->n && memcmp(s->name, k->p, k->n) == 0;
}

static void nameset_init(struct nameset *ns) {
    htab_init(&ns->tab, psname_hash);
    ns->head = ns->tail = NULL;
    ns->n = 0;
}

static bool nameset_has(struct nameset *ns, const char *p, size_t n) {
    if (ns->n == 0) return false;
    struct chkey k = {p, n};
    struct htab_pos pos;
    return htab_find(&ns->tab, name_hash_of(p, n), psname_eq, &k, &pos);
}

/* Returns false when already present. */
static bool nameset_add(struct nameset *ns, const char *p, size_t n) {
    uint64_t h = name_hash_of(p, n);
    struct chkey k = {p, n};
    struct htab_pos pos;
    if (htab_find(&ns->tab, h, psname_eq, &k, &pos)) return false;
    struct psname *s = xmalloc(sizeof(*s) + n);
    s->len = n;
    memcpy(s->name, p, n);
    s->next = NULL;
    s->prev = ns->tail;
    if (ns->tail)
        ns->tail->next = s;
    else
        ns->head = s;
    ns->tail = s;
    htab_insert(&ns->tab, h, &s->node, NULL);
    ns->n++;
    return true;
}

static void nameset_unlink(struct nameset *ns, struct psname *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        ns->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        ns->tail = s->prev;
    ns->n--;
}

/* Returns false when absent. */
static bool nameset_del(struct nameset *ns, const char *p, size_t n) {
    if (ns->n == 0) return false;
    struct chkey k = {p, n};
    struct htab_pos pos;
    if (!htab_find(&ns->tab, name_hash_of(p, n), psname_eq, &k, &pos)) return false;
    struct psname *s = (struct psname *)*pos.link;
    htab_remove_at(&ns->tab, &pos);
    nameset_unlink(ns, s);
    xfree(s);
    return true;
}

static void nameset_free(struct nameset *ns) {
    struct psname *s = ns->head;
    while (s) {
        struct psname *next = s->next;
        xfree(s);
        s = next;
    }
    htab_clear(&ns->tab, NULL, NULL);
    ns->head = ns->tail = NULL;
    ns->n = 0;
}

/* ---- registry ------------------------------------------------------------------- */

static uint64_t chan_hash(const struct htab_node *n) {
    const struct chan *ch = (const struct chan *)n;
    return name_hash_of(ch->name, ch->len);
}

static bool chan_eq(const struct htab_node *n, const void *key) {
    const struct chan *ch = (const struct chan *)n;
    const struct chkey *k = key;
    return ch->len == k->n && memcmp(ch->name, k->p, k->n) == 0;
}

static struct shard *shard_of(struct registry *r, uint64_t h) { return &r->shards[h % NSHARDS]; }

/* ---- config ----------------------------------------------------------------- */

int pubsub_notify_parse(const char *s, size_t n) {
    int f = 0;
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case 'A': f |= NOTIFY_ALL; break;
        case 'g': f |= NOTIFY_GENERIC; break;
        case '$': f |= NOTIFY_STRING; break;
        case 'l': f |= NOTIFY_LIST; break;
        case 's': f |= NOTIFY_SET; break;
        case 'h': f |= NOTIFY_HASH; break;
        case 'z': f |= NOTIFY_ZSET; break;
        case 'x': f |= NOTIFY_EXPIRED; break;
        case 'e': f |= NOTIFY_EVICTED; break;
        case 'K': f |= NOTIFY_KEYSPACE; break;
        case 'E': f |= NOTIFY_KEYEVENT; break;
        case 't': f |= NOTIFY_STREAM; break;
        case 'm': f |= NOTIFY_KEY_MISS; break;
        case 'd': f |= NOTIFY_MODULE; break;
        case 'n': f |= NOTIFY_NEW; break;
        default: return -1;
        }
    }
    return f;
}

/* Redis's keyspaceEventsFlagsToString, including its quirk: with every
 * class set ("A"), 'n' is not shown. */
void pubsub_notify_format(int f, struct buf *out) {
    if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
        buf_putc(out, 'A');
    } else {
        if (f & NOTIFY_GENERIC) buf_putc(out, 'g');
        if (f & NOTIFY_STRING) buf_putc(out, '$');
        if (f & NOTIFY_LIST) buf_putc(out, 'l');
        if (f & NOTIFY_SET) buf_putc(out, 's');
        if (f & NOTIFY_HASH) buf_putc(out, 'h');
        if (f & NOTIFY_ZSET) buf_putc(out, 'z');
        if (f & NOTIFY_EXPIRED) buf_putc(out, 'x');
        if (f & NOTIFY_EVICTED) buf_putc(out, 'e');
        if (f & NOTIFY_STREAM) buf_putc(out, 't');
        if (f & NOTIFY_MODULE) buf_putc(out, 'd');
        if (f & NOTIFY_NEW) buf_putc(out, 'n');
    }
    if (f & NOTIFY_KEYSPACE) buf_putc(out, 'K');
    if (f & NOTIFY_KEYEVENT) buf_putc(out, 'E');
    if (f & NOTIFY_KEY_MISS) buf_putc(out, 'm');
}

void pubsub_set_notify_flags(int flags) { __atomic_store_n(&pubsub_notify_flags_, flags, __ATOMIC_RELAXED); }
int pubsub_notify_flags(void) { return __atomic_load_n(&pubsub_notify_flags_, __ATOMIC_RELAXED); }

static int notify_set(int argc, char **argv, bool check_only, char *err) {
    if (argc != 1) {
        snprintf(err, CFG_ERR_MAX, "wrong number of arguments");
        return -1;
    }
    int f = pubsub_notify_parse(argv[0], strlen(argv[0]));
    if (f < 0) {
        snprintf(err, CFG_ERR_MAX, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return -1;
    }
    if (!check_only) pubsub_set_notify_flags(f);
    return 0;
}

static void notify_get(struct buf *out) { pubsub_notify_format(pubsub_notify_flags(), out); }

static struct config_option options[] = {
    {"notify-keyspace-events", NULL, CFG_SPECIAL, 0, "\"\"", 0, 0, NULL, NULL, NULL, notify_set, notify_get, 0, NULL},
    CFG_END,
};

static void registry_init(struct registry *r) {
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&r->shards[i].mu, NULL);
        htab_init(&r->shards[i].chans, chan_hash);
    }
    atomic_store(&r->nchans, 0);
}

static void free_chan(struct htab_node *n, void *arg) {
    struct chan *ch = (struct chan *)n;
    xfree(ch->subs);
    xfree(ch);
}

static void registry_free(struct registry *r) {
    for (int i = 0; i < NSHARDS; i++) {
        htab_clear(&r->shards[i].chans, free_chan, NULL);
        pthread_mutex_destroy(&r->shards[i].mu);
    }
}

void pubsub_setup(void) {
    registry_init(&reg_chans);
    registry_init(&reg_shard);
    config_register(options);
}

void pubsub_teardown(void) {
    registry_free(&reg_chans);
    registry_free(&reg_shard);
    for (int i = 0; i < npats; i++) {
        xfree(pats[i].subs);
        xfree(pats[i].name);
    }
    xfree(pats);
    pats = NULL;
    npats = cappats = 0;
    atomic_store(&npats_total, 0);
}

/* ---- registry updates ------------------------------------------------------------ */

static void sub_add(struct sub **subs, int *n, int *cap, struct sub s) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *subs = xrealloc(*subs, (size_t)*cap * sizeof(struct sub));
    }
    (*subs)[(*n)++] = s;
}

/* Keeps the order of the others (Redis delivers in subscription order). */
static void sub_del(struct sub *subs, int *n, uint64_t id) {
    for (int i = 0; i < *n; i++) {
        if (subs[i].id == id) {
            memmove(&subs[i], &subs[i + 1], (size_t)(*n - i - 1) * sizeof(*subs));
            (*n)--;
            return;
        }
    }
}

static void registry_add_channel(struct registry *r, struct client *c, const char *p, size_t n) {
    uint64_t h = name_hash_of(p, n);
    struct shard *sh = shard_of(r, h);
    struct chkey k = {p, n};
    pthread_mutex_lock(&sh->mu);
    struct htab_pos pos;
    struct chan *ch;
    if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) {
        ch = (struct chan *)*pos.link;
    } else {
        ch = xcalloc(1, sizeof(*ch) + n);
        ch->len = n;
        memcpy(ch->name, p, n);
        htab_insert(&sh->chans, h, &ch->node, NULL);
        atomic_fetch_add_explicit(&r->nchans, 1, memory_order_relaxed);
    }
    sub_add(&ch->subs, &ch->nsubs, &ch->capsubs, (struct sub){worker_id(c->worker), c->id});
    pthread_mutex_unlock(&sh->mu);
}

static void registry_del_channel(struct registry *r, struct client *c, const char *p, size_t n) {
    uint64_t h = name_hash_of(p, n);
    struct shard *sh = shard_of(r, h);
    struct chkey k = {p, n};
    pthread_mutex_lock(&sh->mu);
    struct htab_pos pos;
    if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) {
        struct chan *ch = (struct chan *)*pos.link;
        sub_del(ch->subs, &ch->nsubs, c->id);
        if (ch->nsubs == 0) {
            htab_remove_at(&sh->chans, &pos);
            free_chan(&ch->node, NULL);
            atomic_fetch_sub_explicit(&r->nchans, 1, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&sh->mu);
}

static void registry_add_pattern(struct client *c, const char *p, size_t n) {
    pthread_rwlock_wrlock(&pat_lock);
    int i;
    for (i = 0; i < npats; i++)
        if (pats[i].len == n && memcmp(pats[i].name, p, n) == 0) break;
    if (i == npats) {
        if (npats == cappats) {
            cappats = cappats ? cappats * 2 : 8;
            pats = xrealloc(pats, (size_t)cappats * sizeof(*pats));
        }
        memset(&pats[npats], 0, sizeof(pats[npats]));
        pats[npats].name = xmemdup(p, n ? n : 1);
        pats[npats].len = n;
        npats++;
        atomic_store(&npats_total, npats);
    }
    sub_add(&pats[i].subs, &pats[i].nsubs, &pats[i].capsubs, (struct sub){worker_id(c->worker), c->id});
    pthread_rwlock_unlock(&pat_lock);
}

static void registry_del_pattern(struct client *c, const char *p, size_t n) {
    pthread_rwlock_wrlock(&pat_lock);
    for (int i = 0; i < npats; i++) {
        if (pats[i].len == n && memcmp(pats[i].name, p, n) == 0) {
            sub_del(pats[i].subs, &pats[i].nsubs, c->id);
            if (pats[i].nsubs == 0) {
                xfree(pats[i].subs);
                xfree(pats[i].name);
                memmove(&pats[i], &pats[i + 1], (size_t)(npats - i - 1) * sizeof(*pats));
                npats--;
                atomic_store(&npats_total, npats);
            }
            break;
        }
    }
    pthread_rwlock_unlock(&pat_lock);
}

/* ---- subscribing ------------------------------------------------------------------- */

int pubsub_channel_count(const struct client *c) { return c->ps ? c->ps->chans.n : 0; }
int pubsub_pattern_count(const struct client *c) { return c->ps ? c->ps->pats.n : 0; }
int pubsub_shard_count(const struct client *c) { return c->ps ? c->ps->schans.n : 0; }
int pubsub_count(const struct client *c) { return pubsub_channel_count(c) + pubsub_pattern_count(c); }

bool pubsub_client_any(const struct client *c, pubsub_name_fn fn, void *arg) {
    if (c->ps == NULL) return false;
    const struct nameset *sets[3] = {&c->ps->chans, &c->ps->pats, &c->ps->schans};
    for (int k = 0; k < 3; k++)
        for (const struct psname *n = sets[k]->head; n; n = n->next)
            if (fn(arg, n->name, n->len, k == 1)) return true;
    return false;
}

static struct pubsub_client *ps_of(struct client *c) {
    if (c->ps == NULL) {
        c->ps = xmalloc(sizeof(*c->ps));
        nameset_init(&c->ps->chans);
        nameset_init(&c->ps->pats);
        nameset_init(&c->ps->schans);
    }
    return c->ps;
}

static void update_flag(struct client *c) {
    if (pubsub_count(c) + pubsub_shard_count(c) > 0)
        c->flags |= CLIENT_PUBSUB;
    else
        c->flags &= ~CLIENT_PUBSUB;
}

/* Subscription confirmations are pushed even while the client's replies are
 * silenced by CLIENT REPLY OFF/SKIP (Redis's CLIENT_PUSHING): they go to the
 * real output queue, not c->out. */
static void push_sub_reply(struct client *c, const char *kind, const char *p, size_t n, bool null_name, long count) {
    struct obuf *ob = &c->obuf;
    resp_w_agg(ob, c->resp, c->resp >= 3 ? '>' : '*', 3);
    resp_w_bulk(ob, kind, strlen(kind));
    if (null_name)
        resp_w_null(ob, c->resp);
    else
        resp_w_bulk(ob, p, n);
    resp_w_int(ob, count);
}

void pubsub_subscribe(struct client *c, int argc, const char *const *argv, const size_t *lens, bool pattern) {
    struct pubsub_client *ps = ps_of(c);
    for (int i = 0; i < argc; i++) {
        if (pattern) {
            if (nameset_add(&ps->pats, argv[i], lens[i])) registry_add_pattern(c, argv[i], lens[i]);
        } else {
            if (nameset_add(&ps->chans, argv[i], lens[i])) registry_add_channel(&reg_chans, c, argv[i], lens[i]);
        }
        push_sub_reply(c, pattern ? "psubscribe" : "subscribe", argv[i], lens[i], false, pubsub_count(c));
    }
    update_flag(c);
}

void pubsub_ssubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens) {
    struct pubsub_client *ps = ps_of(c);
    for (int i = 0; i < argc; i++) {
        if (nameset_add(&ps->schans, argv[i], lens[i])) registry_add_channel(&reg_shard, c, argv[i], lens[i]);
        push_sub_reply(c, "ssubscribe", argv[i], lens[i], false, pubsub_shard_count(c));
    }
    update_flag(c);
}

static void unsubscribe_one(struct client *c, int kind, const char *p, size_t n, bool notify) {
    struct pubsub_client *ps = c->ps;
    if (ps) {
        if (kind == 0) {
            if (nameset_del(&ps->chans, p, n)) registry_del_channel(&reg_chans, c, p, n);
        } else if (kind == 1) {
            if (nameset_del(&ps->pats, p, n)) registry_del_pattern(c, p, n);
        } else {
            if (nameset_del(&ps->schans, p, n)) registry_del_channel(&reg_shard, c, p, n);
        }
    }
    if (!notify) return;
    static const char *const names[3] = {"unsubscribe", "punsubscribe", "sunsubscribe"};
    push_sub_reply(c, names[kind], p, n, false, kind == 2 ? pubsub_shard_count(c) : pubsub_count(c));
}

static struct nameset *set_of(struct pubsub_client *ps, int kind) {
    return kind == 0 ? &ps->chans : kind == 1 ? &ps->pats : &ps->schans;
}

/* kind: 0 channels, 1 patterns, 2 shard channels. */
static void unsubscribe_all(struct client *c, int kind, bool notify) {
    struct pubsub_client *ps = c->ps;
    int count = 0;
    if (ps) {
        struct nameset *ns = set_of(ps, kind);
        /* In subscription order; the name is copied because removing it
         * frees it before the reply is written. */
        while (ns->head) {
            struct psname *s = ns->head;
            char small[256];
            char *copy = s->len <= sizeof(small) ? small : xmalloc(s->len);
            size_t len = s->len;
            memcpy(copy, s->name, len);
            unsubscribe_one(c, kind, copy, len, notify);
            if (copy != small) xfree(copy);
            count++;
        }
    }
    if (notify && count == 0) {
        static const char *const names[3] = {"unsubscribe", "punsubscribe", "sunsubscribe"};
        push_sub_reply(c, names[kind], NULL, 0, true, kind == 2 ? pubsub_shard_count(c) : pubsub_count(c));
    }
}

static void unsubscribe_cmd(struct client *c, int kind, int argc, const char *const *argv, const size_t *lens) {
    if (argc == 0)
        unsubscribe_all(c, kind, true);
    else
        for (int i = 0; i < argc; i++) unsubscribe_one(c, kind, argv[i], lens[i], true);
    update_flag(c);
}

void pubsub_unsubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens, bool pattern) {
    unsubscribe_cmd(c, pattern ? 1 : 0, argc, argv, lens);
}

void pubsub_sunsubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens) {
    unsubscribe_cmd(c, 2, argc, argv, lens);
}

void pubsub_client_gone(struct client *c) {
    struct pubsub_client *ps = c->ps;
    if (ps == NULL) return;
    for (struct psname *s = ps->chans.head; s; s = s->next) registry_del_channel(&reg_chans, c, s->name, s->len);
    for (struct psname *s = ps->pats.head; s; s = s->next) registry_del_pattern(c, s->name, s->len);
    for (struct psname *s = ps->schans.head; s; s = s->next) registry_del_channel(&reg_shard, c, s->name, s->len);
    nameset_free(&ps->chans);
    nameset_free(&ps->pats);
    nameset_free(&ps->schans);
    xfree(ps);
    c->ps = NULL;
    c->flags &= ~CLIENT_PUBSUB;
}

/* ---- publishing ----------------------------------------------------------------------- */

struct pmsg {
    _Atomic int refs;
    size_t chlen, mlen;
    char *ch, *msg;
    char data[];
};

#define TARGET_MESSAGE (-1)  /* a channel subscriber */
#define TARGET_SMESSAGE (-2) /* a shard channel subscriber */

struct target {
    uint64_t id;
    int pattern; /* index into the delivery's pattern list, or TARGET_* */
};

struct delivery {
    struct mbox_msg m;
    struct pmsg *msg;
    int worker;
    struct target *t;
    int n, cap;
    char **patnames; /* copies of matched patterns */
    size_t *patlens;
    int npat;
};

static void pmsg_unref(struct pmsg *p) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) xfree(p);
}

static void write_message(struct client *c, struct pmsg *p, int kind, const char *pat, size_t plen) {
    struct obuf *ob = &c->obuf;
    char type = c->resp >= 3 ? '>' : '*';
    if (kind >= 0) {
        resp_w_agg(ob, c->resp, type, 4);
        resp_w_bulk(ob, "pmessage", 8);
        resp_w_bulk(ob, pat, plen);
    } else if (kind == TARGET_SMESSAGE) {
        resp_w_agg(ob, c->resp, type, 3);
        resp_w_bulk(ob, "smessage", 8);
    } else {
        resp_w_agg(ob, c->resp, type, 3);
        resp_w_bulk(ob, "message", 7);
    }
    resp_w_bulk(ob, p->ch, p->chlen);
    resp_w_bulk(ob, p->msg, p->mlen);
}

/* A message published before an unsubscribe may arrive after it: drop it. */
static bool still_subscribed(struct client *c, struct pmsg *p, int kind, const char *pat, size_t plen) {
    struct pubsub_client *ps = c->ps;
    if (ps == NULL) return false;
    if (kind >= 0) return nameset_has(&ps->pats, pat, plen);
    if (kind == TARGET_SMESSAGE) return nameset_has(&ps->schans, p->ch, p->chlen);
    return nameset_has(&ps->chans, p->ch, p->chlen);
}

static void deliver_local(struct delivery *d) {
    for (int i = 0; i < d->n; i++) {
        struct client *c = client_by_id(d->t[i].id);
        if (c == NULL || (c->flags & (CLIENT_CLOSED | CLIENT_CLOSE_ASAP))) continue;
        int kind = d->t[i].pattern;
        const char *pat = kind >= 0 ? d->patnames[kind] : NULL;
        size_t plen = kind >= 0 ? d->patlens[kind] : 0;
        if (!still_subscribed(c, d->msg, kind, pat, plen)) continue;
        write_message(c, d->msg, kind, pat, plen);
        client_want_write(c);
    }
}

static void delivery_free(struct delivery *d) {
    for (int i = 0; i < d->npat; i++) xfree(d->patnames[i]);
    xfree(d->patnames);
    xfree(d->patlens);
    xfree(d->t);
    pmsg_unref(d->msg);
    xfree(d);
}

static void delivery_run(struct mbox_msg *m) {
    struct delivery *d = (struct delivery *)m;
    deliver_local(d);
    delivery_free(d);
}

static void delivery_send(struct delivery *d) {
    if (d->worker == worker_self_id()) {
        deliver_local(d);
        delivery_free(d);
    } else {
        worker_post(worker_at(d->worker), &d->m, delivery_run);
    }
}

static struct delivery *delivery_for(struct delivery **per, int w, struct pmsg *p) {
    if (per[w] == NULL) {
        per[w] = xcalloc(1, sizeof(struct delivery));
        per[w]->msg = p;
        per[w]->worker = w;
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    }
    return per[w];
}

static void add_target(struct delivery *d, uint64_t id, int kind) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->t = xrealloc(d->t, (size_t)d->cap * sizeof(*d->t));
    }
    d->t[d->n++] = (struct target){id, kind};
}

static int add_pattern(struct delivery *d, const char *p, size_t n) {
    d->patnames = xrealloc(d->patnames, (size_t)(d->npat + 1) * sizeof(char *));
    d->patlens = xrealloc(d->patlens, (size_t)(d->npat + 1) * sizeof(size_t));
    d->patnames[d->npat] = xmemdup(p, n ? n : 1);
    d->patlens[d->npat] = n;
    return d->npat++;
}

/* ---- the staging queue: notifications and deliveries held back while the
 * thread holds stripe locks, released in order afterwards ------------------------ */

struct staged {
    struct delivery *d; /* a delivery ready to send, or NULL: a notification */
    int type;
    int db;
    const char *event;
    size_t klen;
    char *key;
};

static __thread struct staged *stq;
static __thread size_t nstq, capstq;

void pubsub_thread_cleanup(void) {
    xfree(stq);
    stq = NULL;
    nstq = capstq = 0;
}

static struct staged *stage_slot(void) {
    if (nstq == capstq) {
        capstq = capstq ? capstq * 2 : 16;
        stq = xrealloc(stq, capstq * sizeof(*stq));
    }
    return &stq[nstq++];
}

static long publish_to(struct registry *r, bool shard, const char *ch, size_t chlen, const char *msg, size_t mlen) {
    int nw = worker_count();
    if (nw <= 0) nw = 1;
    struct delivery *stack_per[16];
    struct delivery **per = nw <= 16 ? stack_per : xcalloc((size_t)nw, sizeof(*per));
    if (nw <= 16) memset(stack_per, 0, sizeof(stack_per));
    struct pmsg *p = xmalloc(sizeof(*p) + chlen + mlen);
    atomic_init(&p->refs, 1);
    p->ch = p->data;
    p->msg = p->data + chlen;
    p->chlen = chlen;
    p->mlen = mlen;
    if (chlen) memcpy(p->ch, ch, chlen);
    if (mlen) memcpy(p->msg, msg, mlen);
    long receivers = 0;
    if (atomic_load_explicit(&r->nchans, memory_order_relaxed) > 0) {
        uint64_t h = name_hash_of(ch, chlen);
        struct shard *sh = shard_of(r, h);
        struct chkey k = {ch, chlen};
        pthread_mutex_lock(&sh->mu);
        struct htab_pos pos;
        if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) {
            struct chan *c = (struct chan *)*pos.link;
            for (int i = 0; i < c->nsubs; i++) {
                add_target(delivery_for(per, c->subs[i].worker, p), c->subs[i].id,
                           shard ? TARGET_SMESSAGE : TARGET_MESSAGE);
                receivers++;
            }
        }
        pthread_mutex_unlock(&sh->mu);
    }
    /* Shard channels ignore patterns. */
    if (!shard && atomic_load_explicit(&npats_total, memory_order_relaxed) > 0) {
        pthread_rwlock_rdlock(&pat_lock);
        for (int i = 0; i < npats; i++) {
            if (!glob_match(pats[i].name, pats[i].len, ch, chlen, false)) continue;
            for (int s = 0; s < pats[i].nsubs; s++) {
                struct delivery *d = delivery_for(per, pats[i].subs[s].worker, p);
                /* One copy of the pattern per delivery is enough. */
                int idx = -1;
                if (d->npat > 0 && d->patlens[d->npat - 1] == pats[i].len &&
                    memcmp(d->patnames[d->npat - 1], pats[i].name, pats[i].len) == 0)
                    idx = d->npat - 1;
                if (idx < 0) idx = add_pattern(d, pats[i].name, pats[i].len);
                add_target(d, pats[i].subs[s].id, idx);
                receivers++;
            }
        }
        pthread_rwlock_unlock(&pat_lock);
    }
    bool hold = store_in_run();
    for (int w = 0; w < nw; w++) {
        if (per[w] == NULL) continue;
        if (hold) {
            struct staged *st = stage_slot();
            memset(st, 0, sizeof(*st));
            st->d = per[w];
        } else {
            delivery_send(per[w]);
        }
    }
    pmsg_unref(p);
    if (per != stack_per) xfree(per);
    return receivers;
}

long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen) {
    return publish_to(&reg_chans, false, ch, chlen, msg, mlen);
}

long pubsub_spublish(const char *ch, size_t chlen, const char *msg, size_t mlen) {
    return publish_to(&reg_shard, true, ch, chlen, msg, mlen);
}

/* ---- PUBSUB introspection ------------------------------------------------------------- */

static void reply_channels_of(struct registry *r, struct client *c, const char *pat, size_t plen) {
    struct onode *d = reply_defer(c);
    long n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&r->shards[i].mu);
        struct htab_iter it;
        for (struct htab_node *nd = htab_first(&r->shards[i].chans, &it); nd;
             nd = htab_next(&r->shards[i].chans, &it)) {
            struct chan *ch = (struct chan *)nd;
            if (pat == NULL || glob_match(pat, plen, ch->name, ch->len, false)) {
                reply_bulk(c, ch->name, ch->len);
                n++;
            }
        }
        pthread_mutex_unlock(&r->shards[i].mu);
    }
    reply_defer_array(c, d, n);
}

void pubsub_reply_channels(struct client *c, const char *pat, size_t plen) { reply_channels_of(&reg_chans, c, pat, plen); }
void pubsub_reply_shard_channels(struct client *c, const char *pat, size_t plen) {
    reply_channels_of(&reg_shard, c, pat, plen);
}

static long numsub_of(struct registry *r, const char *p, size_t n) {
    uint64_t h = name_hash_of(p, n);
    struct shard *sh = shard_of(r, h);
    struct chkey k = {p, n};
    long subs = 0;
    pthread_mutex_lock(&sh->mu);
    struct htab_pos pos;
    if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) subs = ((struct chan *)*pos.link)->nsubs;
    pthread_mutex_unlock(&sh->mu);
    return subs;
}

long pubsub_numsub(const char *p, size_t n) { return numsub_of(&reg_chans, p, n); }
long pubsub_shard_numsub(const char *p, size_t n) { return numsub_of(&reg_shard, p, n); }
long pubsub_numpat(void) { return atomic_load(&npats_total); }
long pubsub_total_channels(void) { return atomic_load_explicit(&reg_chans.nchans, memory_order_relaxed); }
long pubsub_total_shard_channels(void) { return atomic_load_explicit(&reg_shard.nchans, memory_order_relaxed); }

/* ---- keyspace notifications ---------------------------------------------------------- */

void pubsub_notify(int type, const char *event, int db, const char *key, size_t klen) {
    if (!pubsub_notify_wanted(type)) return;
    struct staged *st = stage_slot();
    *st = (struct staged){NULL, type, db, event, klen, xmemdup(key, klen ? klen : 1)};
}

static void publish_note(struct staged *n, int flags, struct buf *ch) {
    if (flags & NOTIFY_KEYSPACE) {
        buf_clear(ch);
        buf_printf(ch, "__keyspace@%d__:", n->db);
        buf_append(ch, n->key, n->klen);
        pubsub_publish(ch->data, ch->len, n->event, strlen(n->event));
    }
    if (flags & NOTIFY_KEYEVENT) {
        buf_clear(ch);
        buf_printf(ch, "__keyevent@%d__:%s", n->db, n->event);
        pubsub_publish(ch->data, ch->len, n->key, n->klen);
    }
}

void pubsub_flush_notifications(void) {
    if (nstq == 0 || store_in_run()) return;
    int flags = pubsub_notify_flags();
    struct buf ch = BUF_INIT;
    /* Publishing below never stages (no locks are held), so the queue does
     * not change while it is walked. */
    for (size_t i = 0; i < nstq; i++) {
        struct staged *n = &stq[i];
        if (n->d) {
            delivery_send(n->d);
        } else {
            publish_note(n, flags, &ch);
            xfree(n->key);
        }
    }
    nstq = 0;
    if (capstq > 256) {
        xfree(stq);
        stq = NULL;
        capstq = 0;
    }
    buf_free(&ch);
}

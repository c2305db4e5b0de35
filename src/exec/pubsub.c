/*
 * exec/pubsub.c - see pubsub.h.
 *
 *   shards[hash(channel) % 64]: mutex + htab of struct chan
 *       chan{name, subs: [(worker, client id)...]}
 *   patterns: rwlock + array of struct pat{pattern, subs}
 *   client side (owner thread): struct pubsub_client{channel names, pattern names}
 *
 * A delivery is a refcounted `struct pmsg` (channel, message, and pattern
 * for pmessage) plus, per worker, the ids to deliver to.
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

struct pat {
    struct sub *subs;
    int nsubs, capsubs;
    size_t len;
    char *name;
};

static struct shard shards[NSHARDS];
static pthread_rwlock_t pat_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct pat *pats;
static int npats, cappats;
static _Atomic long npats_total;
int pubsub_notify_flags_;

/* Client side: small vectors of owned names. */
struct pubsub_client {
    char **chans;
    size_t *chlens;
    int nch, capch;
    char **pats;
    size_t *plens;
    int npat, cappat;
};

static uint64_t chan_hash_of(const char *p, size_t n) { return hash_keyed(p, n); }
static uint64_t chan_hash(const struct htab_node *n) {
    const struct chan *ch = (const struct chan *)n;
    return chan_hash_of(ch->name, ch->len);
}
struct chkey {
    const char *p;
    size_t n;
};
static bool chan_eq(const struct htab_node *n, const void *key) {
    const struct chan *ch = (const struct chan *)n;
    const struct chkey *k = key;
    return ch->len == k->n && memcmp(ch->name, k->p, k->n) == 0;
}

static struct shard *shard_of(uint64_t h) { return &shards[h % NSHARDS]; }

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
    }
    if (f & NOTIFY_KEYSPACE) buf_putc(out, 'K');
    if (f & NOTIFY_KEYEVENT) buf_putc(out, 'E');
    if (f & NOTIFY_KEY_MISS) buf_putc(out, 'm');
    if (f & NOTIFY_NEW) buf_putc(out, 'n');
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

void pubsub_setup(void) {
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&shards[i].mu, NULL);
        htab_init(&shards[i].chans, chan_hash);
    }
    config_register(options);
}

static void free_chan(struct htab_node *n, void *arg) {
    struct chan *ch = (struct chan *)n;
    xfree(ch->subs);
    xfree(ch);
}

void pubsub_teardown(void) {
    for (int i = 0; i < NSHARDS; i++) {
        htab_clear(&shards[i].chans, free_chan, NULL);
        pthread_mutex_destroy(&shards[i].mu);
    }
    for (int i = 0; i < npats; i++) {
        xfree(pats[i].subs);
        xfree(pats[i].name);
    }
    xfree(pats);
    pats = NULL;
    npats = cappats = 0;
}

/* ---- client side ---------------------------------------------------------------- */

int pubsub_channel_count(const struct client *c) { return c->ps ? c->ps->nch : 0; }
int pubsub_pattern_count(const struct client *c) { return c->ps ? c->ps->npat : 0; }
int pubsub_count(const struct client *c) { return pubsub_channel_count(c) + pubsub_pattern_count(c); }

static int find_name(char **names, size_t *lens, int n, const char *p, size_t len) {
    for (int i = 0; i < n; i++)
        if (lens[i] == len && memcmp(names[i], p, len) == 0) return i;
    return -1;
}

static void add_name(char ***names, size_t **lens, int *n, int *cap, const char *p, size_t len) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *names = xrealloc(*names, (size_t)*cap * sizeof(char *));
        *lens = xrealloc(*lens, (size_t)*cap * sizeof(size_t));
    }
    (*names)[*n] = xmemdup(p, len);
    (*lens)[*n] = len;
    (*n)++;
}

static void del_name(char **names, size_t *lens, int *n, int i) {
    xfree(names[i]);
    names[i] = names[*n - 1];
    lens[i] = lens[*n - 1];
    (*n)--;
}

static void sub_add(struct sub **subs, int *n, int *cap, struct sub s) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *subs = xrealloc(*subs, (size_t)*cap * sizeof(struct sub));
    }
    (*subs)[(*n)++] = s;
}

static void sub_del(struct sub *subs, int *n, uint64_t id) {
    for (int i = 0; i < *n; i++) {
        if (subs[i].id == id) {
            subs[i] = subs[--*n];
            return;
        }
    }
}

static void registry_add_channel(struct client *c, const char *p, size_t n) {
    uint64_t h = chan_hash_of(p, n);
    struct shard *sh = shard_of(h);
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
    }
    sub_add(&ch->subs, &ch->nsubs, &ch->capsubs, (struct sub){worker_id(c->worker), c->id});
    pthread_mutex_unlock(&sh->mu);
}

static void registry_del_channel(struct client *c, const char *p, size_t n) {
    uint64_t h = chan_hash_of(p, n);
    struct shard *sh = shard_of(h);
    struct chkey k = {p, n};
    pthread_mutex_lock(&sh->mu);
    struct htab_pos pos;
    if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) {
        struct chan *ch = (struct chan *)*pos.link;
        sub_del(ch->subs, &ch->nsubs, c->id);
        if (ch->nsubs == 0) {
            htab_remove_at(&sh->chans, &pos);
            free_chan(&ch->node, NULL);
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
        pats[npats].name = xmemdup(p, n);
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
                pats[i] = pats[--npats];
                atomic_store(&npats_total, npats);
            }
            break;
        }
    }
    pthread_rwlock_unlock(&pat_lock);
}

static void update_flag(struct client *c) {
    if (pubsub_count(c) > 0)
        c->flags |= CLIENT_PUBSUB;
    else
        c->flags &= ~CLIENT_PUBSUB;
}

static void reply_sub(struct client *c, const char *kind, const char *p, size_t n, bool null_name) {
    /* RESP3: a push; RESP2: an array. */
    if (c->resp >= 3)
        reply_push(c, 3);
    else
        reply_array(c, 3);
    reply_bulk_cstr(c, kind);
    if (null_name)
        reply_null(c);
    else
        reply_bulk(c, p, n);
    reply_int(c, pubsub_count(c));
}

void pubsub_subscribe(struct client *c, int argc, const char *const *argv, const size_t *lens, bool pattern) {
    if (c->ps == NULL) c->ps = xcalloc(1, sizeof(*c->ps));
    struct pubsub_client *ps = c->ps;
    for (int i = 0; i < argc; i++) {
        if (pattern) {
            if (find_name(ps->pats, ps->plens, ps->npat, argv[i], lens[i]) < 0) {
                add_name(&ps->pats, &ps->plens, &ps->npat, &ps->cappat, argv[i], lens[i]);
                registry_add_pattern(c, argv[i], lens[i]);
            }
        } else {
            if (find_name(ps->chans, ps->chlens, ps->nch, argv[i], lens[i]) < 0) {
                add_name(&ps->chans, &ps->chlens, &ps->nch, &ps->capch, argv[i], lens[i]);
                registry_add_channel(c, argv[i], lens[i]);
            }
        }
        update_flag(c);
        reply_sub(c, pattern ? "psubscribe" : "subscribe", argv[i], lens[i], false);
    }
}

void pubsub_unsubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens, bool pattern) {
    struct pubsub_client *ps = c->ps;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (argc == 0) {
        /* All of them; a client with none gets one reply with a null name. */
        int n = ps ? (pattern ? ps->npat : ps->nch) : 0;
        if (n == 0) {
            reply_sub(c, kind, NULL, 0, true);
            return;
        }
        while (pattern ? ps->npat > 0 : ps->nch > 0) {
            char *name = pattern ? ps->pats[0] : ps->chans[0];
            size_t len = pattern ? ps->plens[0] : ps->chlens[0];
            char *copy = xmemdup(name, len);
            if (pattern) {
                registry_del_pattern(c, copy, len);
                del_name(ps->pats, ps->plens, &ps->npat, 0);
            } else {
                registry_del_channel(c, copy, len);
                del_name(ps->chans, ps->chlens, &ps->nch, 0);
            }
            update_flag(c);
            reply_sub(c, kind, copy, len, false);
            xfree(copy);
        }
        return;
    }
    for (int i = 0; i < argc; i++) {
        if (ps) {
            int at = pattern ? find_name(ps->pats, ps->plens, ps->npat, argv[i], lens[i])
                             : find_name(ps->chans, ps->chlens, ps->nch, argv[i], lens[i]);
            if (at >= 0) {
                if (pattern) {
                    registry_del_pattern(c, argv[i], lens[i]);
                    del_name(ps->pats, ps->plens, &ps->npat, at);
                } else {
                    registry_del_channel(c, argv[i], lens[i]);
                    del_name(ps->chans, ps->chlens, &ps->nch, at);
                }
            }
        }
        update_flag(c);
        reply_sub(c, kind, argv[i], lens[i], false);
    }
}

void pubsub_client_gone(struct client *c) {
    struct pubsub_client *ps = c->ps;
    if (ps == NULL) return;
    for (int i = 0; i < ps->nch; i++) {
        registry_del_channel(c, ps->chans[i], ps->chlens[i]);
        xfree(ps->chans[i]);
    }
    for (int i = 0; i < ps->npat; i++) {
        registry_del_pattern(c, ps->pats[i], ps->plens[i]);
        xfree(ps->pats[i]);
    }
    xfree(ps->chans);
    xfree(ps->chlens);
    xfree(ps->pats);
    xfree(ps->plens);
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

struct target {
    uint64_t id;
    int pattern; /* index into the delivery's pattern list, -1: direct */
};

struct delivery {
    struct mbox_msg m;
    struct pmsg *msg;
    struct target *t;
    int n, cap;
    char **patnames; /* copies of matched patterns */
    size_t *patlens;
    int npat;
};

static void pmsg_unref(struct pmsg *p) {
    if (atomic_fetch_sub(&p->refs, 1) == 1) xfree(p);
}

static void write_message(struct client *c, struct pmsg *p, const char *pat, size_t plen) {
    struct obuf *ob = &c->obuf;
    if (pat) {
        resp_w_agg(ob, c->resp, c->resp >= 3 ? '>' : '*', 4);
        resp_w_bulk(ob, "pmessage", 8);
        resp_w_bulk(ob, pat, plen);
    } else {
        resp_w_agg(ob, c->resp, c->resp >= 3 ? '>' : '*', 3);
        resp_w_bulk(ob, "message", 7);
    }
    resp_w_bulk(ob, p->ch, p->chlen);
    resp_w_bulk(ob, p->msg, p->mlen);
}

static bool still_subscribed(struct client *c, struct pmsg *p, const char *pat, size_t plen) {
    struct pubsub_client *ps = c->ps;
    if (ps == NULL) return false;
    if (pat) return find_name(ps->pats, ps->plens, ps->npat, pat, plen) >= 0;
    return find_name(ps->chans, ps->chlens, ps->nch, p->ch, p->chlen) >= 0;
}

static void deliver_local(struct delivery *d) {
    for (int i = 0; i < d->n; i++) {
        struct client *c = client_by_id(d->t[i].id);
        if (c == NULL || (c->flags & CLIENT_CLOSED)) continue;
        const char *pat = d->t[i].pattern >= 0 ? d->patnames[d->t[i].pattern] : NULL;
        size_t plen = d->t[i].pattern >= 0 ? d->patlens[d->t[i].pattern] : 0;
        if (!still_subscribed(c, d->msg, pat, plen)) continue;
        write_message(c, d->msg, pat, plen);
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

static struct delivery *delivery_for(struct delivery **per, int w, struct pmsg *p) {
    if (per[w] == NULL) {
        per[w] = xcalloc(1, sizeof(struct delivery));
        per[w]->msg = p;
        atomic_fetch_add(&p->refs, 1);
    }
    return per[w];
}

static void add_target(struct delivery *d, uint64_t id, int pattern) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->t = xrealloc(d->t, (size_t)d->cap * sizeof(*d->t));
    }
    d->t[d->n++] = (struct target){id, pattern};
}

static int add_pattern(struct delivery *d, const char *p, size_t n) {
    d->patnames = xrealloc(d->patnames, (size_t)(d->npat + 1) * sizeof(char *));
    d->patlens = xrealloc(d->patlens, (size_t)(d->npat + 1) * sizeof(size_t));
    d->patnames[d->npat] = xmemdup(p, n);
    d->patlens[d->npat] = n;
    return d->npat++;
}

long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen) {
    int nw = worker_count();
    struct delivery *stack_per[16];
    struct delivery **per = nw <= 16 ? stack_per : xcalloc((size_t)nw, sizeof(*per));
    if (nw <= 16) memset(stack_per, 0, sizeof(stack_per));
    struct pmsg *p = xmalloc(sizeof(*p) + chlen + mlen);
    atomic_init(&p->refs, 1);
    p->ch = p->data;
    p->msg = p->data + chlen;
    p->chlen = chlen;
    p->mlen = mlen;
    memcpy(p->ch, ch, chlen);
    memcpy(p->msg, msg, mlen);
    long receivers = 0;
    uint64_t h = chan_hash_of(ch, chlen);
    struct shard *sh = shard_of(h);
    struct chkey k = {ch, chlen};
    pthread_mutex_lock(&sh->mu);
    struct htab_pos pos;
    if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) {
        struct chan *c = (struct chan *)*pos.link;
        for (int i = 0; i < c->nsubs; i++) {
            add_target(delivery_for(per, c->subs[i].worker, p), c->subs[i].id, -1);
            receivers++;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    if (atomic_load_explicit(&npats_total, memory_order_relaxed) > 0) {
        pthread_rwlock_rdlock(&pat_lock);
        for (int i = 0; i < npats; i++) {
            if (!glob_match(pats[i].name, pats[i].len, ch, chlen, false)) continue;
            for (int s = 0; s < pats[i].nsubs; s++) {
                struct delivery *d = delivery_for(per, pats[i].subs[s].worker, p);
                /* One copy of the pattern per delivery is enough. */
                int idx = -1;
                for (int j = 0; j < d->npat; j++)
                    if (d->patlens[j] == pats[i].len && memcmp(d->patnames[j], pats[i].name, pats[i].len) == 0) idx = j;
                if (idx < 0) idx = add_pattern(d, pats[i].name, pats[i].len);
                add_target(d, pats[i].subs[s].id, idx);
                receivers++;
            }
        }
        pthread_rwlock_unlock(&pat_lock);
    }
    int self = worker_self_id();
    for (int w = 0; w < nw; w++) {
        if (per[w] == NULL) continue;
        if (w == self) {
            deliver_local(per[w]);
            delivery_free(per[w]);
        } else {
            worker_post(worker_at(w), &per[w]->m, delivery_run);
        }
    }
    pmsg_unref(p);
    if (per != stack_per) xfree(per);
    return receivers;
}

/* ---- PUBSUB introspection ------------------------------------------------------------- */

void pubsub_reply_channels(struct client *c, const char *pat, size_t plen) {
    struct onode *d = reply_defer(c);
    long n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        struct htab_iter it;
        for (struct htab_node *nd = htab_first(&shards[i].chans, &it); nd; nd = htab_next(&shards[i].chans, &it)) {
            struct chan *ch = (struct chan *)nd;
            if (pat == NULL || glob_match(pat, plen, ch->name, ch->len, false)) {
                reply_bulk(c, ch->name, ch->len);
                n++;
            }
        }
        pthread_mutex_unlock(&shards[i].mu);
    }
    reply_defer_array(c, d, n);
}

long pubsub_numsub(const char *p, size_t n) {
    uint64_t h = chan_hash_of(p, n);
    struct shard *sh = shard_of(h);
    struct chkey k = {p, n};
    long subs = 0;
    pthread_mutex_lock(&sh->mu);
    struct htab_pos pos;
    if (htab_find(&sh->chans, h, chan_eq, &k, &pos)) subs = ((struct chan *)*pos.link)->nsubs;
    pthread_mutex_unlock(&sh->mu);
    return subs;
}

long pubsub_numpat(void) { return atomic_load(&npats_total); }

long pubsub_total_channels(void) {
    long n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        n += (long)htab_count(&shards[i].chans);
        pthread_mutex_unlock(&shards[i].mu);
    }
    return n;
}

/* ---- keyspace notifications ---------------------------------------------------------- */

struct staged_note {
    int type;
    int db;
    const char *event;
    size_t klen;
    char *key;
};

static __thread struct staged_note *notes;
static __thread size_t nnotes, capnotes;

void pubsub_notify(int type, const char *event, int db, const char *key, size_t klen) {
    if (!pubsub_notify_wanted(type)) return;
    if (nnotes == capnotes) {
        capnotes = capnotes ? capnotes * 2 : 16;
        notes = xrealloc(notes, capnotes * sizeof(*notes));
    }
    notes[nnotes++] = (struct staged_note){type, db, event, klen, xmemdup(key, klen)};
}

void pubsub_flush_notifications(void) {
    if (nnotes == 0) return;
    int flags = pubsub_notify_flags();
    struct buf ch = BUF_INIT;
    for (size_t i = 0; i < nnotes; i++) {
        struct staged_note *n = &notes[i];
        if (flags & NOTIFY_KEYSPACE) {
            buf_clear(&ch);
            buf_printf(&ch, "__keyspace@%d__:", n->db);
            buf_append(&ch, n->key, n->klen);
            pubsub_publish(ch.data, ch.len, n->event, strlen(n->event));
        }
        if (flags & NOTIFY_KEYEVENT) {
            buf_clear(&ch);
            buf_printf(&ch, "__keyevent@%d__:%s", n->db, n->event);
            pubsub_publish(ch.data, ch.len, n->key, n->klen);
        }
        xfree(n->key);
    }
    nnotes = 0;
    buf_free(&ch);
}

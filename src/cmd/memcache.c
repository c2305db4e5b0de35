/*
 * cmd/memcache.c - the memcached engine: connection driver, items and
 * storage semantics shared by the text, meta and binary protocols.
 *
 * Design
 *   memcached is a second protocol on the same store, not a second store:
 *   an item is a string entry of database 0, so a memcached `set` is what
 *   Redis GET reads and a Redis SET is what memcached `get` returns. The
 *   connection machinery is exec/client's (worker, output queue and limits,
 *   closing): a listener attached with MEMCACHE_TAG gives its connections
 *   the client_proto below, which replaces RESP parsing and dispatch.
 *
 *     bytes --> mc_process --+-- text line --> memcache_text.c / memcache_meta.c
 *                            +-- 0x80 packet -> memcache_bin.c
 *                                     |
 *                  store_run_slot(key's stripe) --> *_locked (lookup, change, reply)
 *
 *   Each key is handled under its own stripe lock (a multiget takes them one
 *   at a time, as memcached's item locks do). Replies of small values are
 *   copied under the lock; big values are referenced (blob refcount) and
 *   written after it is released.
 *
 * Items
 *   Value: the entry's string (integers kept as ENC_INT, read back as the
 *   same text). Client flags and CAS: the entry's optional memcached block
 *   (store/entry.h), created only when an item has non-zero flags or when a
 *   CAS must be known (gets, mg c, ms c, binary replies, md I). A CAS is
 *   assigned lazily: an item without one gets a fresh value the first time
 *   a client asks (gets on a key written by Redis SET included). Any write
 *   from either protocol forgets it (the store enforces that), so a client
 *   that read CAS x sees its `cas ... x` fail after any change, and a new
 *   CAS is handed out next time. CAS values come from per-thread
 *   generators (thread number << 48 | counter): unique, no shared counter.
 *   With -C no CAS is kept or shown (0).
 *   Expiry: memcached's exptime rules converted to the store's absolute
 *   milliseconds (mc_expire_ms); an item stored already expired is stored
 *   as a deletion, which is what memcached's invisible item amounts to.
 *   A key holding another Redis type (list, hash...) exists for memcached
 *   but has no value it can read: get/gets/gat/mg/touch miss, add fails
 *   (NOT_STORED), set/replace replace it, delete deletes it, incr/decr
 *   answer "non-numeric", append/prepend NOT_STORED, a cas EXISTS.
 *
 * Connections
 *   mc_process runs requests until the input runs out or the connection is
 *   closing. A request whose bytes are not all there (a value still
 *   arriving) consumes nothing: exec/client keeps the bytes and calls again
 *   with more; `need` tells it how big the request is so big values are
 *   read in large chunks. A refused value (too large) is skipped without
 *   being buffered (swallow), as memcached does.
 *
 * UDP: each datagram (8-byte frame header + requests) is run on the
 *   worker that received it with a per-worker pseudo-connection; the reply
 *   goes back in datagrams of at most 1400 bytes, each with the request id,
 *   its sequence number and the total count.
 *
 * Threading: all of this runs on workers; settings are written before the
 *   workers start and read-only after (verbosity and detail are atomic).
 */
#include "cmd/memcache_int.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "config/config.h"
#include "net/tls.h"
#include "repl/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct memcache_settings mc_settings = {
    .port = 0,
    .udp_port = 0,
    .unixsocket_perm = 0700,
    .item_size_max = 1024 * 1024,
    .use_cas = true,
    .flush_enabled = true,
    .watch_enabled = true,
    .dump_enabled = true,
    .evict_to_free = true,
    .binding = MEMCACHE_AUTO,
    .prefix_delimiter = ':',
    .maxbytes = 64LL * 1024 * 1024,
    .maxconns = 1024,
    .threads = 4,
    .reqs_per_event = 20,
    .backlog = 1024,
    .factor = 1.25,
    .chunk_size = 48,
    .maxconns_fast = true,
    .slab_reassign = true,
    .slab_automove = 1,
    .slab_automove_ratio = 0.8,
    .slab_automove_window = 30,
    .slab_chunk_max = 512 * 1024,
    .lru_crawler = true,
    .lru_crawler_sleep = 100,
    .hash_algorithm = "murmur3",
    .lru_maintainer = true,
    .lru_segmented = true,
    .hot_lru_pct = 20,
    .warm_lru_pct = 40,
    .hot_max_factor = 0.2,
    .warm_max_factor = 2.0,
    .temporary_ttl = 61,
    .watcher_logbuf_size = 256 * 1024,
    .worker_logbuf_size = 64 * 1024,
    .ssl_keyformat = 1,
    .ssl_wbuf_size = 16 * 1024,
    .ssl_min_version = 2,
};

struct memcache_settings *memcache_settings(void) { return &mc_settings; }

/* ---- config directives (a memcached listener on a Redis node) -------------------- */

/* Hidden from CONFIG GET patterns (Redis has no such directives: tools that
 * compare CONFIG GET * with Redis see the same set); exact names work. */

static int apply_port(long long v, char *err) {
    mc_settings.port = (int)v;
    return 0;
}
static int apply_udp_port(long long v, char *err) {
    mc_settings.udp_port = (int)v;
    return 0;
}
static int apply_unixsocket(const char *s, char *err) {
    snprintf(mc_settings.unixsocket, sizeof(mc_settings.unixsocket), "%s", s);
    return 0;
}
static int apply_unixperm(long long v, char *err) {
    mc_settings.unixsocket_perm = (int)v;
    return 0;
}
static int apply_item_max(long long v, char *err) {
    mc_settings.item_size_max = v;
    return 0;
}
static int apply_cas(long long v, char *err) {
    mc_settings.use_cas = v != 0;
    return 0;
}
static int apply_flush(long long v, char *err) {
    MC_STORE(flush_enabled, v != 0);
    return 0;
}
static int apply_shutdown(long long v, char *err) {
    MC_STORE(shutdown_enabled, v != 0);
    return 0;
}
static int apply_tls(long long v, char *err) {
    mc_settings.ssl_enabled = v != 0;
    return 0;
}
static int apply_binding(long long v, char *err) {
    mc_settings.binding = (int)v;
    return 0;
}

static int apply_sasl(long long v, char *err) {
    mc_settings.sasl = v != 0;
    return 0;
}
static int apply_sasl_pwdb(const char *s, char *err) {
    snprintf(mc_settings.sasl_pwdb, sizeof(mc_settings.sasl_pwdb), "%s", s);
    return 0;
}
static int apply_auth_file(const char *s, char *err) {
    snprintf(mc_settings.auth_file, sizeof(mc_settings.auth_file), "%s", s);
    return 0;
}

static const struct config_enum bindings[] = {
    {"auto", MEMCACHE_AUTO}, {"ascii", MEMCACHE_ASCII}, {"binary", MEMCACHE_BINARY}, {NULL, 0}};

static struct config_option options[] = {
    {"memcached-port", NULL, CFG_INT, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "0", 0, 65535, NULL, apply_port, NULL, NULL, NULL, 0, NULL},
    {"memcached-udp-port", NULL, CFG_INT, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "0", 0, 65535, NULL, apply_udp_port, NULL, NULL, NULL, 0,
     NULL},
    {"memcached-unixsocket", NULL, CFG_STRING, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "", 0, 0, NULL, NULL, apply_unixsocket, NULL, NULL, 0,
     NULL},
    {"memcached-unixsocketperm", NULL, CFG_INT, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "448", 0, 0777, NULL, apply_unixperm, NULL, NULL,
     NULL, 0, NULL},
    {"memcached-max-item-size", NULL, CFG_MEMORY, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "1mb", 1024, 1024LL * 1024 * 1024, NULL,
     apply_item_max, NULL, NULL, NULL, 0, NULL},
    {"memcached-cas", NULL, CFG_BOOL, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "yes", 0, 0, NULL, apply_cas, NULL, NULL, NULL, 0, NULL},
    {"memcached-flush-all", NULL, CFG_BOOL, CFG_F_HIDDEN, "yes", 0, 0, NULL, apply_flush, NULL, NULL, NULL, 0, NULL},
    {"memcached-shutdown", NULL, CFG_BOOL, CFG_F_HIDDEN, "no", 0, 0, NULL, apply_shutdown, NULL, NULL, NULL, 0, NULL},
    {"memcached-protocol", NULL, CFG_ENUM, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "auto", 0, 0, bindings, apply_binding, NULL, NULL, NULL,
     0, NULL},
    /* Authentication of memcached connections on a Redis node (the engine
     * takes -S / -Y): SASL with its password file, the text login's file. */
    {"memcached-sasl", NULL, CFG_BOOL, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "no", 0, 0, NULL, apply_sasl, NULL, NULL, NULL, 0, NULL},
    {"memcached-sasl-pwdb", NULL, CFG_STRING, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "", 0, 0, NULL, NULL, apply_sasl_pwdb, NULL, NULL,
     0, NULL},
    {"memcached-auth-file", NULL, CFG_STRING, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "", 0, 0, NULL, NULL, apply_auth_file, NULL, NULL,
     0, NULL},
    {"memcached-tls", NULL, CFG_BOOL, CFG_F_IMMUTABLE | CFG_F_HIDDEN, "no", 0, 0, NULL, apply_tls, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

/* ---- connections ------------------------------------------------------------------- */

static size_t mc_process(struct client *c, char *base, size_t len);

static size_t mc_need(const struct client *c) {
    const struct mc_conn *m = c->pstate;
    return m ? m->need : 0;
}

static void mc_opened(struct client *c) {
    struct mc_conn *m = xcalloc(1, sizeof(*m));
    m->proto = mc_settings.binding == MEMCACHE_ASCII    ? MCP_ASCII
               : mc_settings.binding == MEMCACHE_BINARY ? MCP_BINARY
                                                        : MCP_NEGOTIATE;
    c->pstate = m;
    if (mc_watching()) mc_log_conn(c, true);
}

static void mc_closed(struct client *c) {
    struct mc_conn *m = c->pstate;
    if (m == NULL) return;
    if (m->watcher) mc_watch_gone(c);
    if (mc_watching()) mc_log_conn(c, false);
    xfree(m);
    c->pstate = NULL;
}

static const struct client_proto mc_proto = {
    "memcached", mc_process, mc_need, mc_opened, mc_closed, "ERROR Too many open connections\r\n",
};

/* Stop running requests: closing, or blocked by a fan-out (stats conns). */
#define CLOSING (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSED | CLIENT_BLOCKED)

static size_t mc_process(struct client *c, char *base, size_t len) {
    struct mc_conn *m = c->pstate;
    size_t pos = 0;
    store_set_now(time_ms());
    c->last_ms = store_now();
    while (pos < len && !(c->flags & CLOSING)) {
        if (m->swallow) {
            size_t n = MIN((uint64_t)(len - pos), m->swallow);
            m->swallow -= n;
            pos += n;
            continue;
        }
        if (m->watcher) return len; /* watchers only listen */
        if (m->proto == MCP_NEGOTIATE) m->proto = (unsigned char)base[pos] == MCBIN_REQ ? MCP_BINARY : MCP_ASCII;
        size_t used = m->proto == MCP_BINARY ? mc_bin_request(c, m, (const unsigned char *)base + pos, len - pos)
                                             : mc_text_request(c, m, base + pos, len - pos);
        if (used == 0) break;
        m->need = 0;
        pos += used;
        if (c->obuf.allocated > 64 * 1024 && !client_check_output_limits(c)) break;
    }
    return pos;
}

/* ---- time and items ------------------------------------------------------------------- */

int64_t mc_expire_ms(int64_t exptime) {
    if (exptime == 0) return MC_EXP_NONE;
    if (exptime < 0) return MC_EXP_GONE;
    int64_t now = store_now();
    if (exptime > MC_REALTIME_MAXDELTA) {
        if (exptime > INT64_MAX / 1000) return INT64_MAX;
        int64_t at = exptime * 1000;
        return at <= now ? MC_EXP_GONE : at;
    }
    return now + exptime * 1000;
}

int64_t mc_ttl_left(const struct entry *e) {
    if (!entry_has_expire(e)) return -1;
    int64_t left = entry_expire(e) - store_now();
    if (left <= 0) return 0;
    return (left + 999) / 1000;
}

uint64_t mc_idle_s(const struct entry *e) { return store_idle_ms(e) / 1000; }

struct entry *mc_find_any_locked(const struct store_key *k, struct store_ref *ref) {
    return store_lookup(0, k, STORE_LOOKUP_WRITE, ref);
}

struct entry *mc_find_locked(const struct store_key *k, struct store_ref *ref, bool bump) {
    struct entry *e = store_peek(0, k, ref);
    if (e == NULL) return NULL;
    if (UNLIKELY(store_entry_expired(e))) {
        MC_COUNT(get_expired);
        store_lookup(0, k, STORE_LOOKUP_WRITE, NULL); /* deletes it (lazy expiry rules) */
        return NULL;
    }
    if (entry_type(e) != TYPE_STRING) return NULL;
    if (bump) store_touch_access(e);
    return e;
}

static __thread uint64_t cas_next;
static _Atomic uint64_t cas_generators;

uint64_t mc_cas_next(void) {
    if (!mc_settings.use_cas) return 0;
    if (UNLIKELY(cas_next == 0)) cas_next = (atomic_fetch_add(&cas_generators, 1) << 48) | 1;
    return cas_next++;
}

uint64_t mc_item_cas_locked(struct store_ref *ref) {
    if (!mc_settings.use_cas) return 0;
    struct entry *e = store_ref_entry(ref);
    struct entry_mc mc = entry_mc_get(e);
    if (mc.cas == 0) {
        mc.cas = mc_cas_next();
        store_set_mc(ref, &mc);
    }
    return mc.cas;
}

bool mc_size_ok(size_t klen, uint32_t flags, uint64_t vlen) {
    uint64_t total = MC_ITEM_HEADER + klen + 1 + (flags ? 4 : 0) + vlen + 2 + (mc_settings.use_cas ? 8 : 0);
    return total <= (uint64_t)mc_settings.item_size_max;
}

size_t mc_value_len(const struct entry *e) { return entry_str_len(e); }

#define DATA_COPY_MAX (16 * 1024)

void mc_w_data(struct obuf *ob, const struct entry *e, bool crlf) {
    struct strval v;
    entry_str_get(e, &v);
    if (v.ptr == NULL) {
        char *w = obuf_reserve(ob, STR_LL_MAX + 2);
        size_t n = (size_t)ll_to_str(w, STR_LL_MAX, v.ll);
        if (crlf) {
            w[n++] = '\r';
            w[n++] = '\n';
        }
        obuf_commit(ob, n);
        return;
    }
    if (v.blob && v.len > DATA_COPY_MAX) {
        blob_ref(v.blob);
        obuf_append_ref(ob, v.ptr, v.len, blob_release_cb, v.blob);
        if (crlf) obuf_append(ob, "\r\n", 2);
        return;
    }
    char *w = obuf_reserve(ob, v.len + 2);
    memcpy(w, v.ptr, v.len);
    if (crlf) {
        w[v.len] = '\r';
        w[v.len + 1] = '\n';
    }
    obuf_commit(ob, v.len + (crlf ? 2 : 0));
}

bool mc_memory_ok(void) {
    if (store_get_maxmemory() == 0) return true;
    return store_evict_if_needed() == 0;
}

void mc_propagate(struct client *c, int argc, const char *const *argv, const size_t *lens) {
    if (log_enabled()) exec_propagate(c, argc, argv, lens);
}

/* Effects of a stored value: SET key value [PXAT ms]. */
static void propagate_set(struct client *c, const struct store_key *k, const struct entry *e) {
    if (!log_enabled()) return;
    char numbuf[STR_LL_MAX], at[STR_LL_MAX];
    size_t vlen;
    const char *v = entry_str_bytes(e, numbuf, &vlen);
    const char *argv[5] = {"SET", k->ptr, v, "PXAT", at};
    size_t lens[5] = {3, k->len, vlen, 4, 0};
    int argc = 3;
    if (entry_has_expire(e)) {
        lens[4] = (size_t)ll_to_str(at, sizeof(at), entry_expire(e));
        argc = 5;
    }
    exec_propagate(c, argc, argv, lens);
}

static void propagate_del(struct client *c, const struct store_key *k) {
    const char *argv[2] = {"DEL", k->ptr};
    size_t lens[2] = {3, k->len};
    mc_propagate(c, 2, argv, lens);
}

static inline void notify(struct client *c, int type, const char *event, const struct store_key *k) {
    if (pubsub_notify_wanted(type)) cmd_notify(c, type, event, k);
}

bool mc_delete_locked(struct client *c, const struct store_key *k) {
    struct store_ref ref;
    if (!mc_find_any_locked(k, &ref)) return false;
    store_delete(&ref);
    cmd_modified(c, k);
    notify(c, NOTIFY_GENERIC, "del", k);
    propagate_del(c, k);
    exec_add_dirty(1);
    return true;
}

void mc_touch_locked(struct client *c, struct store_ref *ref, int64_t expire) {
    struct store_key k = ref->key;
    if (expire == MC_EXP_GONE) {
        store_delete(ref);
        cmd_modified(c, &k);
        notify(c, NOTIFY_GENERIC, "del", &k);
        propagate_del(c, &k);
        exec_add_dirty(1);
        return;
    }
    store_set_expire(ref, expire);
    cmd_modified(c, &k);
    notify(c, NOTIFY_GENERIC, expire < 0 ? "persist" : "expire", &k);
    if (log_enabled()) {
        char at[STR_LL_MAX];
        const char *argv[3] = {expire < 0 ? "PERSIST" : "PEXPIREAT", k.ptr, at};
        size_t lens[3] = {expire < 0 ? 7u : 9u, k.len, 0};
        if (expire >= 0) lens[2] = (size_t)ll_to_str(at, sizeof(at), expire);
        exec_propagate(c, expire < 0 ? 2 : 3, argv, lens);
    }
    exec_add_dirty(1);
}

/* ---- storing -------------------------------------------------------------------------------- */

enum cas_res { CAS_NONE, CAS_MATCH, CAS_BADVAL, CAS_STALE, CAS_MISS };

struct store_ctx {
    struct client *c;
    struct mc_store *s;
    struct store_key k;
    bool found;      /* for watchers: the lookup a store starts with */
    size_t old_size;
};

/* Write s's value as a new entry (replacing ref's when old). */
static void put_locked(struct store_ctx *x, struct entry *old, struct store_ref *ref, uint8_t keep_state) {
    struct mc_store *s = x->s;
    struct client *c = x->c;
    if (s->expire == MC_EXP_GONE) {
        /* Stored already expired: nothing stays visible. */
        if (old) {
            store_delete(ref);
            cmd_modified(c, &x->k);
            notify(c, NOTIFY_GENERIC, "del", &x->k);
            propagate_del(c, &x->k);
            exec_add_dirty(1);
        }
        s->new_cas = s->want_cas ? mc_cas_next() : 0;
        return;
    }
    struct entry_mc mc = {s->flags, s->want_cas ? mc_cas_next() : 0};
    bool block = s->flags != 0 || mc.cas != 0;
    struct entry *e = entry_new_str_mc(x->k.ptr, x->k.len, s->val, s->vlen, s->expire, block ? &mc : NULL);
    e->flags |= keep_state | (s->key_binary ? ENTRY_F_MC_BINKEY : 0);
    s->new_cas = mc.cas;
    if (old) {
        store_replace(ref, e);
    } else {
        store_add(0, &x->k, e, NULL);
        notify(c, NOTIFY_NEW, "new", &x->k);
    }
    cmd_modified(c, &x->k);
    notify(c, NOTIFY_STRING, "set", &x->k);
    propagate_set(c, &x->k, e);
    exec_add_dirty(1);
}

/* append / prepend onto the live string item at ref. */
static int concat_locked(struct store_ctx *x, struct entry *old, struct store_ref *ref) {
    struct mc_store *s = x->s;
    if (entry_type(old) != TYPE_STRING) return MC_NOT_STORED;
    size_t oldlen = entry_str_len(old);
    if (!mc_size_ok(x->k.len, entry_mc_get(old).flags, (uint64_t)oldlen + s->vlen)) return MC_NOT_STORED;
    char *p = store_str_writable(ref, oldlen + s->vlen);
    if (s->mode == MC_APPEND) {
        memcpy(p + oldlen, s->val, s->vlen);
    } else {
        memmove(p + s->vlen, p, oldlen);
        memcpy(p, s->val, s->vlen);
    }
    struct entry *e = store_ref_entry(ref);
    e->flags &= (uint8_t)~ENTRY_F_MC_FETCHED;
    s->new_cas = s->want_cas ? mc_item_cas_locked(ref) : 0;
    cmd_modified(x->c, &x->k);
    notify(x->c, NOTIFY_STRING, s->mode == MC_APPEND ? "append" : "prepend", &x->k);
    if (log_enabled()) propagate_set(x->c, &x->k, store_ref_entry(ref));
    exec_add_dirty(1);
    return MC_STORED;
}

static void store_locked(void *arg) {
    struct store_ctx *x = arg;
    struct mc_store *s = x->s;
    struct store_ref ref;
    struct entry *old = mc_find_any_locked(&x->k, &ref);
    s->result = MC_NOT_STORED;
    if (UNLIKELY(mc_watching()) && old && entry_type(old) == TYPE_STRING) {
        x->found = true;
        x->old_size = entry_str_len(old);
    }
    if (old) {
        bool str = entry_type(old) == TYPE_STRING;
        uint64_t old_cas = str ? mc_cas_peek(old) : 0;
        /* An item whose CAS was never handed out has, in effect, a CAS newer
         * than any a client holds: it matches none, and is "newer" for I. */
        enum cas_res cr = s->cas == 0                                      ? CAS_NONE
                          : old_cas != 0 && s->cas == old_cas              ? CAS_MATCH
                          : s->stale_ok && (old_cas == 0 || s->cas < old_cas) ? CAS_STALE
                                                                           : CAS_BADVAL;
        switch (s->mode) {
        case MC_ADD: store_touch_access(old); break;
        case MC_CAS:
            if (cr == CAS_MATCH) {
                MC_COUNT(cas_hits);
                put_locked(x, old, &ref, 0);
                s->result = MC_STORED;
            } else if (cr == CAS_STALE) {
                /* Keeps the TTL and the token state, marked stale. */
                MC_COUNT(cas_hits);
                s->expire = entry_expire(old);
                put_locked(x, old, &ref, (uint8_t)(ENTRY_F_MC_STALE | (old->flags & ENTRY_F_MC_WON)));
                s->result = MC_STORED;
            } else {
                MC_COUNT(cas_badval);
                s->result = MC_EXISTS;
            }
            break;
        case MC_APPEND:
        case MC_PREPEND:
            if (cr != CAS_NONE && cr != CAS_MATCH)
                s->result = MC_EXISTS;
            else
                s->result = concat_locked(x, old, &ref);
            break;
        default: /* set, replace */
            put_locked(x, old, &ref, 0);
            s->result = MC_STORED;
            break;
        }
        return;
    }
    switch (s->mode) {
    case MC_ADD:
    case MC_SET:
        put_locked(x, NULL, &ref, 0);
        s->result = MC_STORED;
        break;
    case MC_CAS:
        MC_COUNT(cas_misses);
        s->result = MC_NOT_FOUND;
        break;
    default: break; /* replace, append, prepend need an item */
    }
}

void mc_store_item(struct client *c, struct mc_store *s) {
    MC_COUNT(set_cmds);
    if (MC_LOAD(detail_enabled)) mc_detail_record(s->key, s->klen, 's');
    struct store_ctx x = {c, s, {0}, false, 0};
    store_key_init(&x.k, s->key, s->klen);
    store_run_slot(x.k.slot, STORE_WRITE, store_locked, &x);
    if (s->result == MC_STORED) MC_COUNT(total_items);
    if (UNLIKELY(mc_watching())) {
        mc_log_get(c, s->key, s->klen, x.found ? 1 : 0, x.old_size);
        mc_log_store(c, s);
    }
}

/* ---- incr / decr ---------------------------------------------------------------------------------- */

struct delta_ctx {
    struct client *c;
    struct mc_delta *d;
    struct store_key k;
};

/* Store v as the value at ref (keeps flags and expiry, forgets the CAS). */
static void set_number_locked(struct store_ref *ref, uint64_t v) {
    if (v <= (uint64_t)LLONG_MAX) {
        store_str_set_int(ref, (long long)v);
        return;
    }
    char text[24];
    size_t n = mc_u64_text(text, v);
    char *p = store_str_writable(ref, n);
    memcpy(p, text, n);
}

struct entry *mc_create_number_locked(struct client *c, const struct store_key *k, uint64_t value, int64_t expire,
                                     bool want_cas, uint64_t *cas) {
    char text[24];
    size_t n = mc_u64_text(text, value);
    struct entry_mc mc = {0, want_cas ? mc_cas_next() : 0};
    *cas = mc.cas;
    MC_COUNT(total_items);
    if (expire == MC_EXP_GONE) return NULL; /* created expired: invisible */
    struct entry *e = entry_new_str_mc(k->ptr, k->len, text, n, expire, mc.cas ? &mc : NULL);
    store_add(0, k, e, NULL);
    cmd_modified(c, k);
    notify(c, NOTIFY_NEW, "new", k);
    notify(c, NOTIFY_STRING, "set", k);
    propagate_set(c, k, e);
    exec_add_dirty(1);
    return e;
}

int mc_delta_apply_locked(struct client *c, struct store_ref *ref, bool incr, uint64_t delta, uint64_t cas,
                          uint64_t *out) {
    struct entry *e = store_ref_entry(ref);
    char numbuf[STR_LL_MAX];
    size_t len;
    const char *v = entry_str_bytes(e, numbuf, &len);
    /* memcached: an empty value, or one stored in chunks (too long to be a number), is not numeric */
    if (len == 0 || len > (size_t)mc_settings.slab_chunk_max) return MC_DELTA_NON_NUMERIC;
    if (cas != 0 && mc_cas_peek(e) != cas) return MC_DELTA_CAS_MISMATCH;
    uint64_t value;
    if (!mc_parse_u64(v, len, &value)) return MC_DELTA_NON_NUMERIC;
    if (incr)
        value += delta;
    else
        value = delta > value ? 0 : value - delta;
    if (incr)
        MC_COUNT(incr_hits);
    else
        MC_COUNT(decr_hits);
    set_number_locked(ref, value);
    e = store_ref_entry(ref);
    store_touch_access(e);
    cmd_modified(c, &ref->key);
    notify(c, NOTIFY_STRING, incr ? "incrby" : "decrby", &ref->key);
    propagate_set(c, &ref->key, e);
    exec_add_dirty(1);
    *out = value;
    return MC_DELTA_OK;
}

static void delta_locked(void *arg) {
    struct delta_ctx *x = arg;
    struct mc_delta *d = x->d;
    struct store_ref ref;
    struct entry *e = mc_find_locked(&x->k, &ref, false);
    if (e == NULL) {
        if (mc_find_any_locked(&x->k, &ref)) {
            d->result = MC_DELTA_NON_NUMERIC;
        } else if (d->vivify) {
            mc_create_number_locked(x->c, &x->k, d->initial, d->vivify_expire, d->want_cas, &d->new_cas);
            d->result = MC_DELTA_OK;
            d->created = true;
            d->value = d->initial;
        } else {
            d->result = MC_DELTA_NOT_FOUND;
        }
        return;
    }
    d->result = mc_delta_apply_locked(x->c, &ref, d->incr, d->delta, d->cas, &d->value);
    if (d->result == MC_DELTA_OK && d->want_cas) d->new_cas = mc_item_cas_locked(&ref);
}

void mc_delta_item(struct client *c, struct mc_delta *d) {
    struct delta_ctx x = {c, d, {0}};
    d->created = false;
    store_key_init(&x.k, d->key, d->klen);
    store_run_slot(x.k.slot, STORE_WRITE, delta_locked, &x);
    if (d->result == MC_DELTA_NOT_FOUND) {
        if (d->incr)
            MC_COUNT(incr_misses);
        else
            MC_COUNT(decr_misses);
    }
}

/* ---- flush_all --------------------------------------------------------------------------------------- */

/* A delayed flush_all: one pending deadline (Unix ms, 0: none); a later
 * flush_all replaces it, as memcached's single "oldest_live" does. */
static _Atomic int64_t flush_at;

static void flush_now(void) {
    store_flush(0, true);
    exec_add_dirty(1);
    if (log_enabled()) {
        /* A keyless effect: staged and sealed outside any key lock, as
         * exec_call does for FLUSHDB. */
        log_stage_cstr(0, "FLUSHDB", NULL);
        log_seal(true);
        log_publish();
    }
}

void mc_flush_all(int64_t delay) {
    if (delay > 0) {
        int64_t at = mc_expire_ms(delay);
        if (at != MC_EXP_GONE && at != MC_EXP_NONE) {
            atomic_store(&flush_at, at);
            return;
        }
    }
    atomic_store(&flush_at, 0);
    flush_now();
}

void memcache_cron(void) {
    int64_t at = atomic_load_explicit(&flush_at, memory_order_relaxed);
    if (at == 0 || time_ms() < at) return;
    if (!atomic_compare_exchange_strong(&flush_at, &at, 0)) return;
    flush_now();
}

/* ---- UDP --------------------------------------------------------------------------------------------------- */

/* A datagram's requests run on the worker that received it, on a per-worker
 * pseudo-connection. Replies go back as memcached sends them: one message
 * per response (each command, and each key of a multiget, END with the
 * last key), every message in frames of at most 1400 bytes with the
 * request id, the frame's number and the message's frame count. Like
 * memcached, a multiget whose first keys miss sends one empty frame (count
 * 0) for them; other empty responses send nothing. */

#define UDP_HEADER 8
#define UDP_PAYLOAD_MAX 1400
#define UDP_DATA (UDP_PAYLOAD_MAX - UDP_HEADER)
#define UDP_BATCH 64
#define UDP_MARKS 1024

struct udp_worker {
    struct client c;
    struct mc_conn m;
    size_t marks[UDP_MARKS];  /* output offsets where a response ends */
    bool key_mark[UDP_MARKS]; /* ... the response of one key of a multiget */
    int nmarks;
    size_t consumed;          /* output bytes already sent */
    char in[65536];
    char out[UDP_PAYLOAD_MAX];
};

static __thread struct udp_worker *udpw;

static struct udp_worker *udp_worker(void) {
    if (udpw == NULL) {
        udpw = xcalloc(1, sizeof(*udpw));
        obuf_init(&udpw->c.obuf);
        udpw->c.out = &udpw->c.obuf;
        udpw->c.worker = worker_self();
        udpw->c.proto = &mc_proto;
        udpw->c.pstate = &udpw->m;
        snprintf(udpw->c.addr, sizeof(udpw->c.addr), "udp");
        udpw->m.udp = true;
    }
    return udpw;
}

void mc_udp_mark(struct client *c, bool key) {
    struct udp_worker *u = udpw;
    if (u == NULL || c != &u->c || u->nmarks == UDP_MARKS) return;
    u->marks[u->nmarks] = u->consumed + obuf_pending(&c->obuf);
    u->key_mark[u->nmarks] = key;
    u->nmarks++;
}

static void udp_header(unsigned char *h, uint16_t id, size_t seq, size_t total) {
    h[0] = (unsigned char)(id >> 8);
    h[1] = (unsigned char)id;
    h[2] = (unsigned char)(seq >> 8);
    h[3] = (unsigned char)seq;
    h[4] = (unsigned char)(total >> 8);
    h[5] = (unsigned char)total;
    h[6] = h[7] = 0;
}

/* Send the next `len` output bytes as one message. */
static void udp_message(int fd, struct udp_worker *u, uint16_t id, size_t len, const struct sockaddr *to,
                        socklen_t tolen) {
    struct obuf *ob = &u->c.obuf;
    size_t frames = (len + UDP_DATA - 1) / UDP_DATA;
    if (frames > 65535) frames = 65535;
    for (size_t seq = 0; seq < frames; seq++) {
        udp_header((unsigned char *)u->out, id, seq, frames);
        size_t n = 0, want = MIN(len, (size_t)UDP_DATA);
        struct iovec iov[16];
        int cnt = obuf_iov(ob, iov, 16);
        for (int i = 0; i < cnt && n < want; i++) {
            size_t take = MIN(iov[i].iov_len, want - n);
            memcpy(u->out + UDP_HEADER + n, iov[i].iov_base, take);
            n += take;
        }
        obuf_advance(ob, n);
        len -= n;
        if (sendto(fd, u->out, UDP_HEADER + n, MSG_DONTWAIT, to, tolen) < 0) break;
    }
    if (len) obuf_advance(ob, MIN(len, obuf_pending(ob))); /* frames beyond 65535, or a failed send */
}

static void udp_reply(int fd, struct udp_worker *u, uint16_t id, const struct sockaddr *to, socklen_t tolen) {
    size_t sent = 0;
    bool any = false;
    for (int i = 0; i < u->nmarks; i++) {
        size_t len = u->marks[i] - sent;
        if (len == 0) {
            if (u->key_mark[i] && !any) {
                /* leading misses of a multiget: one empty frame */
                udp_header((unsigned char *)u->out, id, 0, 0);
                if (sendto(fd, u->out, UDP_HEADER, MSG_DONTWAIT, to, tolen) < 0) break;
                any = true;
            }
            continue;
        }
        udp_message(fd, u, id, len, to, tolen);
        sent += len;
        any = true;
    }
    size_t rest = obuf_pending(&u->c.obuf);
    if (rest) udp_message(fd, u, id, rest, to, tolen);
    obuf_clear(&u->c.obuf);
    u->nmarks = 0;
    u->consumed = 0;
}

void memcache_udp_readable(int fd, enum listener_kind kind, int tag) {
    struct udp_worker *u = udp_worker();
    for (int i = 0; i < UDP_BATCH; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(fd, u->in, sizeof(u->in), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0) return; /* EAGAIN (or an error: nothing to do for a datagram socket) */
        if (n <= UDP_HEADER) continue;
        const unsigned char *h = (const unsigned char *)u->in;
        uint16_t id = (uint16_t)(h[0] << 8 | h[1]);
        if (h[4] != 0 || h[5] != 1) continue; /* multi-datagram requests are not supported (memcached) */
        struct client *c = &u->c;
        struct mc_conn *m = &u->m;
        c->flags = 0;
        m->proto = MCP_NEGOTIATE;
        m->swallow = 0;
        m->need = 0;
        store_set_now(time_ms());
        /* One request at a time: each one's answer is a message. */
        char *base = u->in + UDP_HEADER;
        size_t len = (size_t)n - UDP_HEADER, pos = 0;
        while (pos < len && !(c->flags & CLOSING) && !m->swallow) {
            if (m->proto == MCP_NEGOTIATE)
                m->proto = (unsigned char)base[pos] == MCBIN_REQ ? MCP_BINARY : MCP_ASCII;
            size_t used = m->proto == MCP_BINARY ? mc_bin_request(c, m, (const unsigned char *)base + pos, len - pos)
                                                 : mc_text_request(c, m, base + pos, len - pos);
            if (used == 0) break; /* incomplete: the rest of the datagram is dropped */
            pos += used;
            mc_udp_mark(c, false);
        }
        udp_reply(fd, u, id, (struct sockaddr *)&from, fromlen);
    }
}

bool memcache_enabled(void) {
    const struct memcache_settings *m = &mc_settings;
    return m->engine || m->port || m->udp_port || m->unixsocket[0];
}

void memcache_worker_stop(void) {
    mc_log_thread_cleanup();
    if (udpw == NULL) return;
    obuf_clear(&udpw->c.obuf);
    xfree(udpw);
    udpw = NULL;
}

/* ---- setup ------------------------------------------------------------------------------------------------ */

void memcache_setup(void) {
    config_register(options);
    client_register_proto(MEMCACHE_TAG, &mc_proto);
    client_register_proto(MEMCACHE_TLS_TAG, &mc_proto);
}

/* ---- TLS ------------------------------------------------------------------------------------ */

static struct tls_server *mc_tls;
static bool mc_tls_owned;

struct tls_server *memcache_tls(void) { return mc_tls; }

void memcache_set_tls(struct tls_server *s) { mc_tls = s; }

int memcache_tls_start(char *err, size_t errlen) {
    const struct memcache_settings *m = &mc_settings;
    struct tls_options o;
    memset(&o, 0, sizeof(o));
    o.dialect = TLS_DIALECT_MEMCACHED;
    o.cert_file = m->ssl_chain_cert;
    o.key_file = m->ssl_key;
    o.ca_cert_file = m->ssl_ca_cert;
    o.ciphers = m->ssl_ciphers;
    o.min_version = m->ssl_min_version;
    o.session_caching = m->ssl_session_cache;
    o.key_format = m->ssl_keyformat;
    o.kernel_tls = m->ssl_kernel_tls;
    if (mc_tls == NULL) {
        mc_tls = tls_server_create(TLS_DIALECT_MEMCACHED);
        mc_tls_owned = true;
    }
    tls_server_set_verify(mc_tls, (enum tls_verify)m->ssl_verify_mode);
    return tls_server_configure(mc_tls, &o, err, errlen);
}

void mc_stats_start(void);
size_t mc_baseline_bytes(void);
void memcache_start(void) {
    mc_stats_start();
    /* -m is memcached's item memory: the budget for data above what the
     * server holds at start (effects log ring, tables, buffers). */
    if (mc_settings.engine && MC_LOAD(maxbytes) > 0)
        store_set_maxmemory((unsigned long long)MC_LOAD(maxbytes) + mc_baseline_bytes());
}

void memcache_teardown(void) {
    memcache_auth_teardown();
    if (mc_tls_owned) tls_server_destroy(&mc_tls);
    mc_tls = NULL;
}

/*
 * exec/client.c - client lifecycle and I/O driver; see client.h.
 *
 * Per worker (struct wstate, thread-local): the list of its clients, an
 * id -> client table for mailbox deliveries, the clients with output to
 * flush before the next epoll_wait, the paused clients, a 16 KiB shared
 * read buffer and a sink for silenced replies.
 *
 * Reading: a client without a partial request reads into the shared buffer;
 * whatever is left unprocessed (a partial request, or input behind a
 * blocked command) is copied into the client's private buffer, which then
 * receives further reads until it drains. Idle clients hold no buffers.
 *
 * Closing: a closed client is unlinked at once but freed after the current
 * batch of events (loop_defer), and not before fan-outs that reference it
 * have finished (pending_refs).
 */
#include "exec/client.h"
#include "base/alloc.h"
#include "exec/block.h"
#include "base/assert.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "config/config.h"
#include "exec/access.h"
#include "exec/exec.h"
#include "exec/multi.h"
#include "exec/pubsub.h"
#include "exec/reply.h"
#include "exec/tracking.h"
#include "net/listener.h"
#include "net/tls.h"
#include "persist/aof.h"
#include "repl/log.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHARED_IBUF (16 * 1024)
#define IOV_BATCH 64
#define PRIVATE_IBUF_KEEP (64 * 1024)
#define BIG_ARG_STEP (1024 * 1024)

struct wstate {
    struct worker *w;
    struct client *head;
    long nclients;
    struct htab byid;
    struct client **pending;
    size_t npending, cappending;
    struct client **paused;
    size_t npaused, cappaused;
    struct client **held; /* output held for the AOF (appendfsync always) */
    size_t nheld, capheld;
    char *shared;
    struct obuf sink;
    uint64_t pause_timer;
};

static struct wstate *wstates[WORKER_MAX];
static const struct client_proto *protos[CLIENT_PROTO_TAGS];
static struct tls_server *tls_servers[CLIENT_PROTO_TAGS]; /* TLS listeners by tag */
static __thread struct wstate *ws;
static __thread char *nested_shared; /* second read buffer while serving from a busy script */
static _Atomic uint64_t next_client_id = 1;
static _Atomic long nclients_total;
static _Atomic long nblocked_total;

/* Settings (CONFIG SET). */
static _Atomic long long qbuf_limit = 1024LL * 1024 * 1024;
static _Atomic long long proto_max_bulk = 512LL * 1024 * 1024;
static _Atomic long long idle_timeout;
static _Atomic long long max_clients = 10000;
static _Atomic long long tcp_keepalive = 300;
static _Atomic bool protected_mode = true;
/* Output buffer limits per class, read by every worker on its hot path:
 * each field is atomic; a reader may see a half-applied CONFIG SET. */
struct obuf_limit_atomic {
    _Atomic long long hard, soft, soft_seconds;
};
static struct obuf_limit_atomic obuf_limits[CLIENT_CLASS_COUNT] = {
    {0, 0, 0}, {256LL * 1024 * 1024, 64LL * 1024 * 1024, 60}, {32LL * 1024 * 1024, 8LL * 1024 * 1024, 60}};

/* Statistics, per thread, summed on read. */
struct cstats {
    _Atomic uint64_t received, rejected, in, out, qbuf_kills, obuf_kills, reads, writes;
    char pad[CACHELINE - 8 * sizeof(uint64_t)];
};
static struct cstats cstats[WORKER_MAX + 1] CACHE_ALIGNED;
static struct cstats *tl_cst(void) {
    int i = worker_self_id();
    return &cstats[i >= 0 ? i : WORKER_MAX];
}
static inline void cst_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static _Atomic size_t recent_max_in, recent_max_out;

void client_set_query_buffer_limit(long long b) { atomic_store(&qbuf_limit, b); }
void client_set_proto_max_bulk(long long b) { atomic_store(&proto_max_bulk, b); }
long long client_get_proto_max_bulk(void) { return atomic_load(&proto_max_bulk); }
void client_set_timeout(long long s) { atomic_store(&idle_timeout, s); }
void client_set_maxclients(long long n) { atomic_store(&max_clients, n); }
void client_set_obuf_limit(enum client_class cls, const struct client_obuf_limit *l) {
    atomic_store_explicit(&obuf_limits[cls].hard, l->hard, memory_order_relaxed);
    atomic_store_explicit(&obuf_limits[cls].soft, l->soft, memory_order_relaxed);
    atomic_store_explicit(&obuf_limits[cls].soft_seconds, l->soft_seconds, memory_order_relaxed);
}
void client_get_obuf_limit(enum client_class cls, struct client_obuf_limit *l) {
    l->hard = atomic_load_explicit(&obuf_limits[cls].hard, memory_order_relaxed);
    l->soft = atomic_load_explicit(&obuf_limits[cls].soft, memory_order_relaxed);
    l->soft_seconds = atomic_load_explicit(&obuf_limits[cls].soft_seconds, memory_order_relaxed);
}

/* ---- config ------------------------------------------------------------------ */

static int apply_qbuf(long long v, char *err) {
    client_set_query_buffer_limit(v);
    return 0;
}
static int apply_bulk(long long v, char *err) {
    client_set_proto_max_bulk(v);
    return 0;
}
static int apply_timeout(long long v, char *err) {
    client_set_timeout(v);
    return 0;
}
static int apply_maxclients(long long v, char *err) {
    client_set_maxclients(v);
    return 0;
}
static int apply_keepalive(long long v, char *err) {
    atomic_store(&tcp_keepalive, v);
    return 0;
}
static int apply_protected(long long v, char *err) {
    client_set_protected_mode(v != 0);
    return 0;
}
void client_set_protected_mode(bool on) { atomic_store(&protected_mode, on); }

static const char *class_names[CLIENT_CLASS_COUNT] = {"normal", "replica", "pubsub"};

static int obuf_set(int argc, char **argv, bool check_only, char *err) {
    if (argc % 4 != 0 || argc == 0) {
        snprintf(err, CFG_ERR_MAX, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    struct client_obuf_limit lims[CLIENT_CLASS_COUNT];
    int classes[CLIENT_CLASS_COUNT * 4];
    int n = 0;
    for (int i = 0; i < argc; i += 4) {
        int cls = -1;
        if (strcasecmp(argv[i], "normal") == 0) cls = CLIENT_CLASS_NORMAL;
        else if (strcasecmp(argv[i], "replica") == 0 || strcasecmp(argv[i], "slave") == 0) cls = CLIENT_CLASS_REPLICA;
        else if (strcasecmp(argv[i], "pubsub") == 0) cls = CLIENT_CLASS_PUBSUB;
        if (cls < 0) {
            snprintf(err, CFG_ERR_MAX, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        long long hard, soft, secs;
        if (!str_to_memsize(argv[i + 1], strlen(argv[i + 1]), &hard) ||
            !str_to_memsize(argv[i + 2], strlen(argv[i + 2]), &soft) ||
            !str_to_ll(argv[i + 3], strlen(argv[i + 3]), &secs) || hard < 0 || soft < 0 || secs < 0) {
            snprintf(err, CFG_ERR_MAX, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        lims[n] = (struct client_obuf_limit){hard, soft, secs};
        classes[n++] = cls;
    }
    if (!check_only)
        for (int i = 0; i < n; i++) client_set_obuf_limit((enum client_class)classes[i], &lims[i]);
    return 0;
}

static void obuf_get(struct buf *out) {
    for (int i = 0; i < CLIENT_CLASS_COUNT; i++) {
        struct client_obuf_limit l;
        client_get_obuf_limit((enum client_class)i, &l);
        if (i) buf_putc(out, ' ');
        buf_printf(out, "%s %lld %lld %lld", i == 1 ? "slave" : class_names[i], l.hard, l.soft, l.soft_seconds);
    }
}

static struct config_option options[] = {
    {"client-query-buffer-limit", NULL, CFG_MEMORY, 0, "1gb", 1024 * 1024, LLONG_MAX, NULL, apply_qbuf, NULL, NULL, NULL, 0, NULL},
    {"proto-max-bulk-len", NULL, CFG_MEMORY, 0, "512mb", 1024 * 1024, LLONG_MAX, NULL, apply_bulk, NULL, NULL, NULL, 0, NULL},
    {"timeout", NULL, CFG_INT, 0, "0", 0, INT_MAX, NULL, apply_timeout, NULL, NULL, NULL, 0, NULL},
    {"maxclients", NULL, CFG_INT, 0, "10000", 1, INT_MAX, NULL, apply_maxclients, NULL, NULL, NULL, 0, NULL},
    {"tcp-keepalive", NULL, CFG_INT, 0, "300", 0, INT_MAX, NULL, apply_keepalive, NULL, NULL, NULL, 0, NULL},
    {"protected-mode", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_protected, NULL, NULL, NULL, 0, NULL},
    {"client-output-buffer-limit", NULL, CFG_SPECIAL, CFG_F_MULTI_ARG,
     "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0, 0, NULL, NULL, NULL, obuf_set,
     obuf_get, 0, NULL},
    CFG_END,
};

static void durable_wake(int slot);

void client_setup(void) {
    config_register(options);
    aof_set_waker(durable_wake);
}
void client_teardown(void) {}

/* ---- per-worker state ------------------------------------------------------------- */

static uint64_t id_hash(const struct htab_node *n) {
    const struct client *c = CONTAINER_OF(n, struct client, idnode);
    return hash_fnv(&c->id, sizeof(c->id));
}
static bool id_eq(const struct htab_node *n, const void *key) {
    return CONTAINER_OF(n, struct client, idnode)->id == *(const uint64_t *)key;
}

static void before_sleep(void *arg);

void client_worker_start(struct worker *w) {
    ws = xcalloc(1, sizeof(*ws));
    ws->w = w;
    htab_init(&ws->byid, id_hash);
    ws->shared = xmalloc(SHARED_IBUF);
    obuf_init(&ws->sink);
    wstates[worker_id(w)] = ws;
    loop_set_before_sleep(worker_loop(w), before_sleep, NULL);
    log_defer_wakes(true); /* readers of the effects log: woken once per loop iteration */
}

static void client_free(struct client *c);
static void close_now(struct client *c);

void client_worker_stop(struct worker *w) {
    while (ws->head) {
        struct client *c = ws->head;
        close_now(c);
        if (c->pending_refs == 0) client_free(c);
    }
    htab_clear(&ws->byid, NULL, NULL);
    xfree(ws->pending);
    xfree(ws->paused);
    xfree(ws->held);
    xfree(ws->shared);
    xfree(nested_shared);
    nested_shared = NULL;
    obuf_clear(&ws->sink);
    wstates[worker_id(w)] = NULL;
    xfree(ws);
    ws = NULL;
}

struct client *client_first(void) { return ws ? ws->head : NULL; }
struct client *client_next(struct client *c) { return c->next; }
long client_count(void) { return atomic_load_explicit(&nclients_total, memory_order_relaxed); }
long client_count_blocked(void) { return atomic_load_explicit(&nblocked_total, memory_order_relaxed); }

struct client *client_by_id(uint64_t id) {
    if (ws == NULL) return NULL;
    struct htab_pos pos;
    if (!htab_find(&ws->byid, hash_fnv(&id, sizeof(id)), id_eq, &id, &pos)) return NULL;
    return CONTAINER_OF(*pos.link, struct client, idnode);
}

/* ---- accept ----------------------------------------------------------------------- */

static void on_io(struct loop_io *io, uint32_t events);

void client_register_proto(int tag, const struct client_proto *p) {
    if (tag >= 0 && tag < CLIENT_PROTO_TAGS) protos[tag] = p;
}

void client_register_tls(int tag, struct tls_server *s) {
    if (tag >= 0 && tag < CLIENT_PROTO_TAGS) tls_servers[tag] = s;
}

/* ---- the client directory: id -> worker, for every thread ------------------------------------ */

/* Sharded by id; a leaf lock each (docs/design/lock-order.md). A client is
 * in it from accept to close; c->worker never changes. */
#define DIR_SHARDS 64
static struct dir_shard {
    pthread_mutex_t mu;
    struct htab ids;
} CACHE_ALIGNED dir[DIR_SHARDS];
static pthread_once_t dir_once = PTHREAD_ONCE_INIT;

static uint64_t dir_hash(const struct htab_node *n) {
    const struct client *c = CONTAINER_OF(n, struct client, dirnode);
    return hash_fnv(&c->id, sizeof(c->id));
}

static bool dir_eq(const struct htab_node *n, const void *key) {
    return CONTAINER_OF(n, struct client, dirnode)->id == *(const uint64_t *)key;
}

static void dir_init(void) {
    for (int i = 0; i < DIR_SHARDS; i++) {
        pthread_mutex_init(&dir[i].mu, NULL);
        htab_init(&dir[i].ids, dir_hash);
    }
}

static void directory_add(struct client *c) {
    pthread_once(&dir_once, dir_init);
    struct dir_shard *d = &dir[c->id % DIR_SHARDS];
    pthread_mutex_lock(&d->mu);
    htab_insert(&d->ids, hash_fnv(&c->id, sizeof(c->id)), &c->dirnode, NULL);
    pthread_mutex_unlock(&d->mu);
}

static void directory_remove(struct client *c) {
    struct dir_shard *d = &dir[c->id % DIR_SHARDS];
    struct htab_pos pos;
    pthread_mutex_lock(&d->mu);
    if (htab_find(&d->ids, hash_fnv(&c->id, sizeof(c->id)), dir_eq, &c->id, &pos)) htab_remove_at(&d->ids, &pos);
    pthread_mutex_unlock(&d->mu);
}

int client_worker_of(uint64_t id) {
    pthread_once(&dir_once, dir_init);
    struct dir_shard *d = &dir[id % DIR_SHARDS];
    struct htab_pos pos;
    int w = -1;
    pthread_mutex_lock(&d->mu);
    if (htab_find(&d->ids, hash_fnv(&id, sizeof(id)), dir_eq, &id, &pos))
        w = worker_id(CONTAINER_OF(*pos.link, struct client, dirnode)->worker);
    pthread_mutex_unlock(&d->mu);
    return w;
}
/* Redis 7.0's islocalClient: the peer is 127.0.0.1 or ::1 (a UNIX socket
 * is always local). */
static bool is_loopback_peer(int fd) {
    char addr[64];
    net_peer_name(fd, addr, sizeof(addr), false);
    return strncmp(addr, "127.0.0.1:", 10) == 0 || strncmp(addr, "[::1]:", 6) == 0;
}

static const char protected_msg[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
    "default user. In this mode connections are only accepted from the loopback interface. If you want to connect "
    "from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode "
    "sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    "same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. "
    "Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by "
    "editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the "
    "server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside.\r\n";

void client_accept(int fd, enum listener_kind kind, int tag) {
    struct cstats *st = tl_cst();
    const struct client_proto *proto = tag >= 0 && tag < CLIENT_PROTO_TAGS ? protos[tag] : NULL;
    struct tls_server *tls = tag >= 0 && tag < CLIENT_PROTO_TAGS ? tls_servers[tag] : NULL;
    /* Protected mode (RESP connections only; memcached has no such thing).
     * A TLS peer could not read the plain-text explanation: it is closed. */
    if (proto == NULL && kind != LISTENER_UNIX && atomic_load_explicit(&protected_mode, memory_order_relaxed) &&
        acl_default_nopass() && !is_loopback_peer(fd)) {
        if (!tls && write(fd, protected_msg, sizeof(protected_msg) - 1) < 0) { /* closing anyway */
        }
        close(fd);
        cst_add(&st->rejected, 1);
        return;
    }
    cst_add(&st->received, 1);
    if (atomic_load_explicit(&nclients_total, memory_order_relaxed) >= atomic_load(&max_clients)) {
        /* (A TLS peer could not read the plain text: it is just closed.) */
        const char *msg = proto ? proto->reject_msg : "-ERR max number of clients reached\r\n";
        if (!tls && write(fd, msg, strlen(msg)) < 0) { /* closing anyway */
        }
        close(fd);
        cst_add(&st->rejected, 1);
        return;
    }
    struct client *c = xcalloc(1, sizeof(*c));
    if (tls == NULL) {
        conn_init_plain(&c->conn, fd, kind == LISTENER_UNIX);
    } else if (conn_init_tls_accept(&c->conn, fd, tls) != 0) {
        log_warn("Error accepting a client connection: TLS is not configured");
        close(fd);
        xfree(c);
        return;
    }
    c->id = atomic_fetch_add(&next_client_id, 1);
    c->worker = ws->w;
    c->resp = 2;
    c->out = &c->obuf;
    c->proto = proto;
    exec_client_default_auth(c);
    obuf_init(&c->obuf);
    resp_parser_init(&c->parser);
    store_watch_init(&c->watch);
    c->ctime_ms = c->last_ms = time_ms();
    if (kind == LISTENER_UNIX) {
        c->flags |= CLIENT_UNIX_SOCKET;
        snprintf(c->addr, sizeof(c->addr), "/unixsocket:0");
        net_peer_name(fd, c->laddr, sizeof(c->laddr), true);
        /* Redis shows "path:0" for both sides of a unix socket. */
        size_t n = strlen(c->laddr);
        if (n >= 2 && strcmp(c->laddr + n - 2, ":0") == 0) {
            snprintf(c->addr, sizeof(c->addr), "%s", c->laddr);
        }
    } else {
        net_peer_name(fd, c->addr, sizeof(c->addr), false);
        net_peer_name(fd, c->laddr, sizeof(c->laddr), true);
        long long ka = atomic_load(&tcp_keepalive);
        if (ka > 0) {
            int one = 1, idle = (int)ka, intvl = (int)(ka / 3 ? ka / 3 : 1), cnt = 3;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        }
    }
    c->next = ws->head;
    if (ws->head) ws->head->prev = c;
    ws->head = c;
    ws->nclients++;
    htab_insert(&ws->byid, hash_fnv(&c->id, sizeof(c->id)), &c->idnode, NULL);
    directory_add(c);
    atomic_fetch_add_explicit(&nclients_total, 1, memory_order_relaxed);
    if (proto && proto->opened) proto->opened(c);
    if (conn_register(&c->conn, worker_loop(ws->w), on_io, LOOP_READ) != 0) close_now(c);
}

static void process_pending(void *arg);
static void resume_input(struct client *c);

struct client *client_adopt(const struct conn *conn, const char *addr, const struct client_proto *proto,
                            const char *pending, size_t npending) {
    struct client *c = xcalloc(1, sizeof(*c));
    c->conn = *conn;
    c->id = atomic_fetch_add(&next_client_id, 1);
    c->worker = ws->w;
    c->resp = 2;
    c->out = &c->obuf;
    c->proto = proto;
    exec_client_default_auth(c);
    obuf_init(&c->obuf);
    resp_parser_init(&c->parser);
    store_watch_init(&c->watch);
    c->ctime_ms = c->last_ms = time_ms();
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    net_peer_name(conn_fd(conn), c->laddr, sizeof(c->laddr), true);
    c->next = ws->head;
    if (ws->head) ws->head->prev = c;
    ws->head = c;
    ws->nclients++;
    htab_insert(&ws->byid, hash_fnv(&c->id, sizeof(c->id)), &c->idnode, NULL);
    directory_add(c);
    atomic_fetch_add_explicit(&nclients_total, 1, memory_order_relaxed);
    if (npending) buf_append(&c->qbuf, pending, npending);
    if (proto && proto->opened) proto->opened(c);
    if (conn_register(&c->conn, worker_loop(ws->w), on_io, LOOP_READ) != 0) {
        close_now(c);
        return c;
    }
    /* What was read already is run once the caller has set the client up. */
    if (npending) loop_defer(worker_loop(ws->w), process_pending, c);
    return c;
}

static void process_pending(void *arg) {
    struct client *c = arg;
    if (c->flags & CLIENT_CLOSED) return;
    resume_input(c);
}

/* ---- closing ------------------------------------------------------------------------ */

static void deferred_free(void *arg) {
    struct client *c = arg;
    if (c->pending_refs == 0) client_free(c);
}

static void client_free(struct client *c) {
    if (c->proto && c->proto->closed) c->proto->closed(c);
    obuf_clear(&c->obuf);
    buf_free(&c->qbuf);
    resp_parser_free(&c->parser);
    xfree(c->argv);
    xfree(c->argvlen);
    xfree(c->keys);
    xfree(c->name);
    if (c->user) acl_user_unref(c->user);
    xfree(c);
}

static void remove_from(struct client **arr, size_t *n, struct client *c) {
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == c) {
            arr[i] = arr[--*n];
            return;
        }
    }
}

static void close_now(struct client *c) {
    if (c->flags & CLIENT_CLOSED) return;
    /* Closing releases WATCHes and blocked waits under their stripes; from
     * inside a locked section (a busy script serving this worker's other
     * clients, EXEC running CLIENT KILL) that would nest store_run: close
     * once the section is over instead. */
    if (UNLIKELY(store_in_run()) && (store_watching(&c->watch) || c->block)) {
        c->flags |= CLIENT_CLOSE_ASAP;
        loop_mod(worker_loop(ws->w), &c->conn.io, 0);
        client_want_write(c);
        return;
    }
    c->flags |= CLIENT_CLOSED;
    if (c->closing) c->closing(c);
    conn_unregister(&c->conn);
    conn_close(&c->conn);
    if (c->prev)
        c->prev->next = c->next;
    else
        ws->head = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    ws->nclients--;
    uint64_t id = c->id;
    struct htab_pos pos;
    if (htab_find(&ws->byid, hash_fnv(&id, sizeof(id)), id_eq, &id, &pos)) htab_remove_at(&ws->byid, &pos);
    if (c->flags & CLIENT_PENDING_WRITE) remove_from(ws->pending, &ws->npending, c);
    if (c->flags & CLIENT_PAUSED) remove_from(ws->paused, &ws->npaused, c);
    if (c->flags & CLIENT_HELD) remove_from(ws->held, &ws->nheld, c);
    /* Blocked on keys (BLPOP...): give up the wait; a reply already on its
     * way is undone when it arrives (exec/block.c). */
    if (c->block) block_client_closed(c);
    if (c->flags & CLIENT_BLOCKED) atomic_fetch_sub_explicit(&nblocked_total, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&nclients_total, 1, memory_order_relaxed);
    if (c->flags & CLIENT_MONITOR) exec_monitor_remove(c);
    pubsub_client_gone(c);
    tracking_disable(c);
    directory_remove(c);
    multi_reset(c);
    store_unwatch_all(&c->watch);
    loop_defer(worker_loop(ws->w), deferred_free, c);
}

void client_kill(struct client *c) { close_now(c); }

void client_close_async(struct client *c) {
    c->flags |= CLIENT_CLOSE_ASAP;
    client_want_write(c);
}

/* ---- output --------------------------------------------------------------------------- */

void client_want_write(struct client *c) {
    if (c->flags & (CLIENT_PENDING_WRITE | CLIENT_CLOSED)) return;
    c->flags |= CLIENT_PENDING_WRITE;
    if (ws->npending == ws->cappending) {
        ws->cappending = ws->cappending ? ws->cappending * 2 : 64;
        ws->pending = xrealloc(ws->pending, ws->cappending * sizeof(*ws->pending));
    }
    ws->pending[ws->npending++] = c;
}

static enum client_class class_of(const struct client *c) {
    if (c->flags & CLIENT_REPLICA) return CLIENT_CLASS_REPLICA;
    return (c->flags & CLIENT_PUBSUB) ? CLIENT_CLASS_PUBSUB : CLIENT_CLASS_NORMAL;
}

/* What the output limits count: like Redis, which leaves out its 16 KiB
 * static reply buffer, the first regular chunk is not counted (CLIENT LIST
 * shows it as rbs, the rest as omem). */
static size_t obuf_used_for_limits(const struct obuf *ob) {
    size_t used = ob->allocated;
    if (ob->head && ob->head->cap == OBUF_CHUNK && used >= ob->head->acct) used -= ob->head->acct;
    return used;
}

bool client_check_output_limits(struct client *c) {
    if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSED)) return false;
    size_t used = obuf_used_for_limits(&c->obuf);
    struct client_obuf_limit l;
    client_get_obuf_limit(class_of(c), &l);
    bool hard = l.hard && (long long)used >= l.hard;
    bool soft = l.soft && (long long)used >= l.soft;
    /* Redis's rule: the soft limit counts once it has been exceeded without
     * interruption for more than soft_seconds (whole seconds); the first time
     * it is seen only starts the clock. */
    if (soft) {
        int64_t now_s = time_ms() / 1000;
        if (c->obuf_soft_since == 0) {
            c->obuf_soft_since = now_s > 0 ? now_s : 1;
            soft = false;
        } else if (now_s - c->obuf_soft_since <= l.soft_seconds) {
            soft = false;
        }
    } else {
        c->obuf_soft_since = 0;
    }
    if (hard || soft) {
        log_warn("Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output buffer limits.",
                 (unsigned long long)c->id, c->addr);
        cst_add(&tl_cst()->obuf_kills, 1);
        c->flags |= CLIENT_CLOSE_ASAP;
        client_want_write(c);
        return false;
    }
    return true;
}

/* ---- appendfsync always: holding output until the AOF is on disk ------------------------------- */

/* Is c's output free to go (its writes durable, or no gating)? */
static bool durable_ok(struct client *c) {
    if (LIKELY(c->durable_need == 0)) return true;
    if (!aof_gating() || aof_durable() >= c->durable_need) {
        c->durable_need = 0;
        return true;
    }
    return false;
}

/* Park c until its writes are durable; the AOF thread wakes this worker. */
static void hold(struct client *c) {
    if (!(c->flags & CLIENT_HELD)) {
        c->flags |= CLIENT_HELD;
        if (ws->nheld == ws->capheld) {
            ws->capheld = ws->capheld ? ws->capheld * 2 : 16;
            ws->held = xrealloc(ws->held, ws->capheld * sizeof(*ws->held));
        }
        ws->held[ws->nheld++] = c;
    }
    if (aof_watch(worker_id(ws->w), c->durable_need)) client_want_write(c); /* durable meanwhile */
}

void client_hold_until(struct client *c, uint64_t pos) {
    if (aof_gating() && pos > c->durable_need) c->durable_need = pos;
}

static bool flush_output(struct client *c);

/* The AOF made more durable: release the held clients that may go. */
static void release_held(void) {
    uint64_t min = 0;
    size_t i = 0;
    while (i < ws->nheld) {
        struct client *c = ws->held[i];
        if (!durable_ok(c)) {
            if (min == 0 || c->durable_need < min) min = c->durable_need;
            i++;
            continue;
        }
        c->flags &= ~CLIENT_HELD;
        ws->held[i] = ws->held[--ws->nheld];
        client_want_write(c);
    }
    if (min && aof_watch(worker_id(ws->w), min)) release_held();
}

struct wake_msg {
    struct mbox_msg m;
};

static void wake_run(struct mbox_msg *m) {
    xfree(m);
    if (ws) release_held();
}

/* [any] The AOF thread: worker `slot` has clients that may go now. */
static void durable_wake(int slot) {
    if (slot >= worker_count()) return;
    struct wake_msg *m = xmalloc(sizeof(*m));
    worker_post(worker_at(slot), &m->m, wake_run);
}

/* Write what we can; returns false if the client was closed. */
static bool flush_output(struct client *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) {
        close_now(c);
        return false;
    }
    if (UNLIKELY(!durable_ok(c))) {
        hold(c);
        return true;
    }
    struct iovec iov[IOV_BATCH];
    while (obuf_pending(&c->obuf) > 0) {
        int n = obuf_iov(&c->obuf, iov, IOV_BATCH);
        ssize_t w = conn_writev(&c->conn, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            close_now(c);
            return false;
        }
        cst_add(&tl_cst()->writes, 1);
        cst_add(&tl_cst()->out, (uint64_t)w);
        c->bytes_out += (uint64_t)w;
        obuf_advance(&c->obuf, (size_t)w);
    }
    if (obuf_pending(&c->obuf) > 0) {
        size_t pend = obuf_pending(&c->obuf);
        if (pend > atomic_load_explicit(&recent_max_out, memory_order_relaxed))
            atomic_store_explicit(&recent_max_out, pend, memory_order_relaxed);
        conn_set_events(&c->conn, LOOP_READ | LOOP_WRITE);
        return true;
    }
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        close_now(c);
        return false;
    }
    if (conn_events(&c->conn) & LOOP_WRITE) conn_set_events(&c->conn, LOOP_READ);
    return true;
}

static void before_sleep(void *arg) {
    /* The effects of this iteration's commands: one wake-up of the log's
     * readers (the AOF writer) for all of them. */
    log_flush_wakes();
    /* Flush clients that got output outside their own read event
     * (pub/sub deliveries, unblocked clients, monitors). */
    while (ws->npending > 0) {
        struct client *c = ws->pending[--ws->npending];
        c->flags &= ~CLIENT_PENDING_WRITE;
        client_check_output_limits(c);
        flush_output(c);
    }
}

/* ---- input ----------------------------------------------------------------------------- */

static void set_argv(struct client *c, const char *base) {
    int n = (int)c->parser.argc;
    if (n > c->argcap) {
        int cap = n < 8 ? 8 : n;
        c->argv = xrealloc(c->argv, (size_t)cap * sizeof(*c->argv));
        c->argvlen = xrealloc(c->argvlen, (size_t)cap * sizeof(*c->argvlen));
        c->argcap = cap;
    }
    for (int i = 0; i < n; i++) {
        c->argv[i] = resp_arg(&c->parser, base, (uint32_t)i);
        c->argvlen[i] = c->parser.offs[i].len;
    }
    c->argc = n;
}

static void replica_replied(struct client *c) {
    struct buf info = BUF_INIT;
    client_info_line(c, &info);
    if (info.len) info.len--; /* its "\n" */
    log_warn("Replica generated a reply to command '%s', disconnecting it: %.*s",
             c->lastcmd ? c->lastcmd->fullname : "<unknown>", (int)info.len, info.data);
    buf_free(&info);
    client_close_async(c);
}

static size_t process_requests(struct client *c, char *base, size_t len);

/* Run the requests in base[0, len); returns the bytes consumed. With
 * appendfsync always, the effects this thread sealed meanwhile (the
 * client's writes) must be durable before its output goes. */
static size_t process_input(struct client *c, char *base, size_t len) {
    if (LIKELY(!aof_gating())) return process_requests(c, base, len);
    uint64_t before = log_sealed_end();
    size_t used = process_requests(c, base, len);
    uint64_t after = log_sealed_end();
    if (after != before && after > c->durable_need) c->durable_need = after;
    return used;
}

static size_t process_requests(struct client *c, char *base, size_t len) {
    if (c->proto) return c->proto->process(c, base, len);
    size_t pos = 0;
    struct resp_limits lim = {atomic_load_explicit(&proto_max_bulk, memory_order_relaxed),
                              !c->authenticated && acl_auth_required()};
    while (pos < len && !(c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSED))) {
        int st = resp_parse(&c->parser, base + pos, len - pos, &lim);
        if (st == RESP_INCOMPLETE) break;
        if (st == RESP_ERROR) {
            c->cmd = NULL; /* counted in errorstats, not against the last command */
            reply_errorf(c, "ERR %s", c->parser.err);
            log_verbose("Protocol error (%s) from client: id=%llu addr=%s", c->parser.err,
                        (unsigned long long)c->id, c->addr);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY | CLIENT_PROTOCOL_ERROR;
            resp_parser_reset(&c->parser);
            return len;
        }
        size_t end = pos + c->parser.pos;
        if (st == RESP_EMPTY) {
            resp_parser_reset(&c->parser);
            pos = end;
            continue;
        }
        set_argv(c, base + pos);
        c->last_ms = time_ms();
        /* CLIENT REPLY OFF/SKIP: this command's replies go to the sink. */
        if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
            c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
            c->flags |= CLIENT_REPLY_SKIP;
        }
        if (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) c->out = &ws->sink;
        exec_dispatch(c);
        if (UNLIKELY(lim.unauthenticated)) lim.unauthenticated = !c->authenticated && acl_auth_required();
        if (c->out == &ws->sink) {
            /* A replica of ours must never get a reply in its stream: one
             * that asked for something that replies is dropped (Redis). */
            if (UNLIKELY(c->flags & CLIENT_REPLICA) && obuf_pending(&ws->sink) > 0) replica_replied(c);
            obuf_clear(&ws->sink);
            c->out = &c->obuf;
        }
        if (c->flags & CLIENT_PAUSED) {
            /* Keep this request: it runs again when the pause ends, still
             * silenced if CLIENT REPLY SKIP applied to it. */
            if (c->flags & CLIENT_REPLY_SKIP) c->flags |= CLIENT_REPLY_SKIP_NEXT;
            c->flags &= ~CLIENT_REPLY_SKIP;
            resp_parser_reset(&c->parser);
            break;
        }
        c->flags &= ~CLIENT_REPLY_SKIP;
        resp_parser_reset(&c->parser);
        pos = end;
        c->argc = 0;
        if (c->obuf.allocated > 64 * 1024 && !client_check_output_limits(c)) break;
    }
    return pos;
}

static void keep_leftover(struct client *c, const char *p, size_t n) {
    buf_append(&c->qbuf, p, n);
}

static void close_for_qbuf(struct client *c) {
    log_warn("Closing client that reached max query buffer length: id=%llu addr=%s (qbuf initial bytes: \"%.*s\")",
             (unsigned long long)c->id, c->addr, (int)MIN(c->qbuf.len, (size_t)64), c->qbuf.data ? c->qbuf.data : "");
    cst_add(&tl_cst()->qbuf_kills, 1);
    close_now(c);
}

static void on_readable(struct client *c) {
    struct cstats *st = tl_cst();
    ssize_t n;
    if (c->qbuf.len == 0) {
        n = conn_read(&c->conn, ws->shared, SHARED_IBUF);
        if (n <= 0) goto read_failed;
        cst_add(&st->reads, 1);
        cst_add(&st->in, (uint64_t)n);
        c->bytes_in += (uint64_t)n;
        size_t used = process_input(c, ws->shared, (size_t)n);
        if (used < (size_t)n && !(c->flags & (CLIENT_CLOSED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)))
            keep_leftover(c, ws->shared + used, (size_t)n - used);
    } else {
        size_t want = SHARED_IBUF;
        /* A big bulk is coming: make room for a large part of it at once, so
         * it is read in big chunks straight into place. The room grows with
         * what actually arrived (at least doubling), not with what the
         * header announced: a client claiming 512 MiB costs memory only as
         * it sends them. */
        size_t need = c->proto ? c->proto->need(c) : c->parser.need;
        bool big = need > c->qbuf.len && need - c->qbuf.len > want &&
                   (c->proto ? need >= RESP_BIG_ARG : c->parser.bulk_len >= RESP_BIG_ARG);
        if (big) want = MIN(need - c->qbuf.len, MAX((size_t)BIG_ARG_STEP, c->qbuf.len));
        /* The request must stay contiguous: grow at least geometrically so
         * a huge request (big arguments or very many small ones) costs
         * linear copying, not quadratic. */
        if (c->qbuf.cap - c->qbuf.len < want) buf_reserve(&c->qbuf, big ? want : MAX(want, c->qbuf.len));
        n = conn_read(&c->conn, c->qbuf.data + c->qbuf.len, c->qbuf.cap - c->qbuf.len);
        if (n <= 0) goto read_failed;
        cst_add(&st->reads, 1);
        cst_add(&st->in, (uint64_t)n);
        c->bytes_in += (uint64_t)n;
        c->qbuf.len += (size_t)n;
        if (!(c->flags & CLIENT_BLOCKED)) {
            size_t used = process_input(c, c->qbuf.data, c->qbuf.len);
            if (c->flags & CLIENT_CLOSED) return;
            buf_consume(&c->qbuf, used);
        }
        if (c->qbuf.len == 0 && c->qbuf.cap > PRIVATE_IBUF_KEEP) buf_free(&c->qbuf);
    }
    if (c->flags & CLIENT_CLOSED) return;
    if (c->qbuf.len > atomic_load_explicit(&recent_max_in, memory_order_relaxed))
        atomic_store_explicit(&recent_max_in, c->qbuf.len, memory_order_relaxed);
    if ((long long)c->qbuf.len > atomic_load_explicit(&qbuf_limit, memory_order_relaxed)) {
        close_for_qbuf(c);
        return;
    }
    flush_output(c);
    return;
read_failed:
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_now(c);
}

static void on_io(struct loop_io *io, uint32_t events) {
    struct client *c = CONTAINER_OF(io, struct client, conn.io);
    if (c->flags & CLIENT_CLOSED) return;
    /* Invalidation messages posted before a write was acknowledged reach
     * a tracking client before its next reply (see exec/tracking.h). */
    if (UNLIKELY(tracking_active())) {
        worker_drain_pending();
        if (c->flags & CLIENT_CLOSED) return;
    }
    if (events & LOOP_WRITE) {
        if (!flush_output(c)) return;
    }
    if (events & LOOP_READ) on_readable(c);
}

/* ---- serving from inside a busy script ------------------------------------------------ */


static bool nested_accept(struct loop_io *io, void *arg) {
    if (io->fn != on_io) return false;
    struct client *c = CONTAINER_OF(io, struct client, conn.io);
    return c != arg && c->proto == NULL && !(c->flags & (CLIENT_CLOSED | CLIENT_BLOCKED));
}

void client_poll_nested(struct client *busy) {
    if (ws == NULL) return;
    /* busy's request (and the rest of its input) may live in the shared
     * read buffer: the others read into a second one meanwhile. */
    if (nested_shared == NULL) nested_shared = xmalloc(SHARED_IBUF);
    char *saved = ws->shared;
    ws->shared = nested_shared;
    loop_poll_filtered(worker_loop(ws->w), nested_accept, busy);
    ws->shared = saved;
}

/* Process input held back while blocked or paused, then flush. */
static void resume_input(struct client *c) {
    if (c->flags & (CLIENT_CLOSED | CLIENT_BLOCKED)) return;
    if (c->qbuf.len > 0) {
        size_t used = process_input(c, c->qbuf.data, c->qbuf.len);
        if (c->flags & CLIENT_CLOSED) return;
        buf_consume(&c->qbuf, used);
    }
    client_want_write(c);
}

/* ---- keys helper ------------------------------------------------------------------------- */

/* Commands walk their keys in order: look where the previous lookup ended
 * first, so a command of n keys costs O(n), not O(n^2). */
static __thread int key_hint;

void client_key(const struct client *c, int i, struct store_key *k) {
    k->ptr = c->argv[i];
    k->len = c->argvlen[i];
    /* Every command that names a key looks it up: hash it once here. */
    k->hashed = true;
    k->hash = store_hash_key(k->ptr, k->len);
    int n = c->nkeys;
    if (LIKELY(n > 0 && c->keys[0].pos == i)) { /* the usual single-key case */
        k->slot = c->keys[0].slot;
        return;
    }
    if (n > 0) {
        int h = key_hint < n ? key_hint : 0;
        for (int j = h; j < n; j++) {
            if (c->keys[j].pos == i) {
                k->slot = c->keys[j].slot;
                key_hint = j + 1;
                return;
            }
        }
        for (int j = 0; j < h; j++) {
            if (c->keys[j].pos == i) {
                k->slot = c->keys[j].slot;
                key_hint = j + 1;
                return;
            }
        }
    }
    k->slot = store_slot(k->ptr, k->len);
}

/* ---- blocking ------------------------------------------------------------------------------ */

void client_block(struct client *c, struct client_block *b) {
    if (!(c->flags & CLIENT_BLOCKED)) atomic_fetch_add_explicit(&nblocked_total, 1, memory_order_relaxed);
    c->flags |= CLIENT_BLOCKED;
    c->block = b;
}

void client_unblock(struct client *c) {
    if (c->flags & CLIENT_BLOCKED) atomic_fetch_sub_explicit(&nblocked_total, 1, memory_order_relaxed);
    c->flags &= ~CLIENT_BLOCKED;
    c->block = NULL;
}

void client_resume(struct client *c) {
    client_unblock(c);
    resume_input(c);
}

void client_park_paused(struct client *c) {
    c->flags |= CLIENT_PAUSED | CLIENT_BLOCKED;
    atomic_fetch_add_explicit(&nblocked_total, 1, memory_order_relaxed);
    if (ws->npaused == ws->cappaused) {
        ws->cappaused = ws->cappaused ? ws->cappaused * 2 : 16;
        ws->paused = xrealloc(ws->paused, ws->cappaused * sizeof(*ws->paused));
    }
    ws->paused[ws->npaused++] = c;
}

void client_resume_paused(void) {
    if (ws == NULL || ws->npaused == 0) return;
    if (exec_pause_state() == PAUSE_ALL) return;
    /* Take the list: clients still paused re-park themselves. */
    size_t n = ws->npaused;
    struct client **list = ws->paused;
    ws->paused = NULL;
    ws->npaused = ws->cappaused = 0;
    for (size_t i = 0; i < n; i++) {
        struct client *c = list[i];
        c->flags &= ~CLIENT_PAUSED;
        client_unblock(c);
        /* The parked request is still at the head of the private buffer,
         * or in the shared one: it was copied as leftover. */
        resume_input(c);
    }
    xfree(list);
}

/* ---- cross-worker messages ------------------------------------------------------------------- */

struct by_id_msg {
    struct mbox_msg m;
    uint64_t id;
    void (*fn)(struct client *c, void *arg);
    void (*drop)(void *arg);
    void *arg;
};

static void by_id_run(struct mbox_msg *m) {
    struct by_id_msg *msg = (struct by_id_msg *)m;
    struct client *c = client_by_id(msg->id);
    if (c && !(c->flags & CLIENT_CLOSED))
        msg->fn(c, msg->arg);
    else if (msg->drop)
        msg->drop(msg->arg);
    xfree(msg);
}

void client_post_by_id(int worker, uint64_t id, void (*fn)(struct client *c, void *arg), void *arg,
                       void (*drop)(void *arg)) {
    if (worker == worker_self_id()) {
        struct client *c = client_by_id(id);
        if (c && !(c->flags & CLIENT_CLOSED))
            fn(c, arg);
        else if (drop)
            drop(arg);
        return;
    }
    struct by_id_msg *msg = xmalloc(sizeof(*msg));
    msg->id = id;
    msg->fn = fn;
    msg->drop = drop;
    msg->arg = arg;
    worker_post(worker_at(worker), &msg->m, by_id_run);
}

struct fanout;
struct fanout_part {
    struct mbox_msg m;
    struct fanout *f;
    int idx;
};

struct fanout {
    struct client *c;
    struct worker *origin;
    fanout_work_fn work;
    fanout_done_fn done;
    void *arg;
    _Atomic int pending;
    struct mbox_msg done_msg;
    struct fanout_part parts[];
};

static void fanout_finish(struct fanout *f) {
    struct client *c = f->c;
    c->pending_refs--;
    if (c->flags & CLIENT_CLOSED) {
        f->done(NULL, f->arg);
        if (c->pending_refs == 0) loop_defer(worker_loop(ws->w), deferred_free, c);
    } else {
        f->done(c, f->arg);
        client_unblock(c);
        resume_input(c);
    }
    xfree(f);
}

static void fanout_finish_cb(void *arg) { fanout_finish(arg); }

static void fanout_done_run(struct mbox_msg *m) {
    struct fanout *f = CONTAINER_OF(m, struct fanout, done_msg);
    fanout_finish(f);
}

static void fanout_part_done(struct fanout *f) {
    if (atomic_fetch_sub_explicit(&f->pending, 1, memory_order_acq_rel) == 1) {
        if (worker_self() == f->origin)
            loop_defer(worker_loop(f->origin), fanout_finish_cb, f);
        else
            worker_post(f->origin, &f->done_msg, fanout_done_run);
    }
}

static void fanout_part_run(struct mbox_msg *m) {
    struct fanout_part *p = (struct fanout_part *)m;
    p->f->work(p->f->arg, p->idx);
    fanout_part_done(p->f);
}

void client_fanout(struct client *c, fanout_work_fn work, fanout_done_fn done, void *arg) {
    int n = worker_count();
    struct fanout *f = xcalloc(1, sizeof(*f) + (size_t)n * sizeof(struct fanout_part));
    f->c = c;
    f->origin = c->worker;
    f->work = work;
    f->done = done;
    f->arg = arg;
    atomic_init(&f->pending, n);
    c->pending_refs++;
    client_block(c, NULL);
    int self = worker_id(c->worker);
    for (int i = 0; i < n; i++) {
        if (i == self) continue;
        f->parts[i].f = f;
        f->parts[i].idx = i;
        worker_post(worker_at(i), &f->parts[i].m, fanout_part_run);
    }
    work(arg, self);
    fanout_part_done(f);
}

/* ---- introspection ------------------------------------------------------------------------------ */

size_t client_memory(const struct client *c) {
    size_t argv_mem = 0;
    for (int i = 0; i < c->argc; i++) argv_mem += c->argvlen[i];
    return sizeof(*c) + c->qbuf.cap + c->obuf.allocated + argv_mem + multi_memory(c);
}

static void flags_string(const struct client *c, char *out) {
    char *p = out;
    if (c->flags & CLIENT_MONITOR) *p++ = 'O';
    if (c->flags & CLIENT_REPLICA) *p++ = 'S';
    if (c->flags & CLIENT_MASTER) *p++ = 'M';
    if (c->flags & CLIENT_PUBSUB) *p++ = 'P';
    if (c->flags & CLIENT_MULTI) *p++ = 'x';
    if (c->flags & CLIENT_BLOCKED) *p++ = 'b';
    if (c->trk) *p++ = 't';
    if (c->trk && (c->trk->flags & TRACK_BROKEN_REDIR)) *p++ = 'R';
    if (c->trk && (c->trk->flags & TRACK_BCAST)) *p++ = 'B';
    if (c->flags & CLIENT_DIRTY_EXEC) *p++ = 'd';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (c->flags & CLIENT_CLOSE_ASAP) *p++ = 'A';
    if (c->flags & CLIENT_UNIX_SOCKET) *p++ = 'U';
    if (c->flags & CLIENT_NO_EVICT) *p++ = 'e';
    if (p == out) *p++ = 'N';
    *p = '\0';
}

void client_info_line(const struct client *c, struct buf *out) {
    char flags[32];
    flags_string(c, flags);
    int64_t now = time_ms();
    size_t argv_mem = 0;
    for (int i = 0; i < c->argc; i++) argv_mem += c->argvlen[i];
    /* The current request is still in the buffer while it runs (qbuf). */
    size_t qbuf = c->qbuf.len;
    if (c->argc > 0 && qbuf == 0) qbuf = c->parser.pos;
    size_t qfree = c->qbuf.cap > c->qbuf.len ? c->qbuf.cap - c->qbuf.len : 0;
    /* Redis's reply buffer (rbs/obl) is our first chunk; the rest is the
     * reply list (oll/omem). */
    size_t rbs = c->obuf.head ? OBUF_CHUNK : 0, obl = 0, oll = 0, omem = 0;
    struct onode *n = c->obuf.head;
    if (n) {
        obl = n->len > c->obuf.head_off ? n->len - c->obuf.head_off : 0;
        for (n = n->next; n; n = n->next) {
            oll++;
            omem += n->acct;
        }
    }
    char events[3] = "r";
    if (conn_events(&c->conn) & LOOP_WRITE) strcpy(events, "rw");
    const char *cmd = c->lastcmd ? c->lastcmd->fullname : "NULL";
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d psub=%d ssub=%d "
               "multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu rbp=%zu obl=%zu oll=%zu "
               "omem=%zu tot-mem=%zu events=%s cmd=%s user=%s redir=%lld resp=%d\n",
               (unsigned long long)c->id, c->addr, c->laddr, conn_fd(&c->conn), c->name ? c->name : "",
               (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000), flags, c->db,
               pubsub_channel_count(c), pubsub_pattern_count(c), pubsub_shard_count(c),
               (c->flags & CLIENT_MULTI) ? multi_queued(c) : -1,
               qbuf, qfree, argv_mem, multi_memory(c), rbs, rbs, obl, oll, omem, client_memory(c), events, cmd,
               c->user ? acl_user_name(c->user) : "default", c->trk ? (long long)c->trk->redir_id : -1LL, c->resp);
}

/* ---- statistics ------------------------------------------------------------------------------- */

void client_get_stats(struct client_stats *s) {
    memset(s, 0, sizeof(*s));
    for (int i = 0; i <= WORKER_MAX; i++) {
        struct cstats *c = &cstats[i];
        s->connections_received += atomic_load_explicit(&c->received, memory_order_relaxed);
        s->rejected_connections += atomic_load_explicit(&c->rejected, memory_order_relaxed);
        s->net_input_bytes += atomic_load_explicit(&c->in, memory_order_relaxed);
        s->net_output_bytes += atomic_load_explicit(&c->out, memory_order_relaxed);
        s->client_qbuf_limit_disconnections += atomic_load_explicit(&c->qbuf_kills, memory_order_relaxed);
        s->client_obuf_limit_disconnections += atomic_load_explicit(&c->obuf_kills, memory_order_relaxed);
        s->total_reads += atomic_load_explicit(&c->reads, memory_order_relaxed);
        s->total_writes += atomic_load_explicit(&c->writes, memory_order_relaxed);
    }
}

void client_reset_stats(void) {
    for (int i = 0; i <= WORKER_MAX; i++) {
        struct cstats *c = &cstats[i];
        atomic_store(&c->received, 0);
        atomic_store(&c->rejected, 0);
        atomic_store(&c->in, 0);
        atomic_store(&c->out, 0);
        atomic_store(&c->qbuf_kills, 0);
        atomic_store(&c->obuf_kills, 0);
        atomic_store(&c->reads, 0);
        atomic_store(&c->writes, 0);
    }
}

void client_get_max_buffers(size_t *max_in, size_t *max_out) {
    *max_in = atomic_load_explicit(&recent_max_in, memory_order_relaxed);
    *max_out = atomic_load_explicit(&recent_max_out, memory_order_relaxed);
}

/* ---- cron ------------------------------------------------------------------------------------ */

void client_cron(void) {
    if (ws == NULL) return;
    long long timeout = atomic_load_explicit(&idle_timeout, memory_order_relaxed);
    int64_t now = time_ms();
    struct client *c = ws->head;
    while (c) {
        struct client *next = c->next;
        if (timeout > 0 && !(c->flags & (CLIENT_BLOCKED | CLIENT_PUBSUB | CLIENT_MONITOR | CLIENT_REPLICA | CLIENT_MASTER)) &&
            now - c->last_ms > timeout * 1000) {
            log_verbose("Closing idle client");
            close_now(c);
        } else if (c->obuf.allocated > 0) {
            if (!client_check_output_limits(c)) close_now(c);
        }
        c = next;
    }
    /* The recent maxima decay: INFO shows recent peaks, not all-time. */
    atomic_store_explicit(&recent_max_in, 0, memory_order_relaxed);
    atomic_store_explicit(&recent_max_out, 0, memory_order_relaxed);
    client_resume_paused();
}

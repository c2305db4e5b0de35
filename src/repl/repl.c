/*
 * repl/repl.c - replication state: role, replication ids and offsets, the
 * options, the registry of replicas and the PSYNC decision, the request
 * gates (READONLY, MASTERDOWN, NOREPLICAS, LOADING), INFO replication,
 * ROLE, and the replication AUX fields of RDB files. See repl.h and
 * docs/design/replication.md.
 *
 * Ids (Redis's PSYNC2): `replid` names the current history, `replid2` the
 * previous one, valid up to `second_offset` (the first byte it does not
 * cover). A replica asking PSYNC <id> <offset> continues when id is replid,
 * or replid2 with offset <= second_offset, and the backlog still holds
 * byte `offset`; else it gets a full resync.
 *
 * Offsets: master_repl_offset is the backlog's (backlog.h) while there is
 * one, else `idle_offset` (unchanged while nobody replicates, as Redis,
 * whose offset does not move without a backlog).
 *
 * Conventions: R.mu guards what repl_int.h says; functions named _locked
 * expect it held.
 */
#include "repl/repl_int.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/str.h"
#include "base/time.h"
#include "config/config.h"
#include "net/listener.h"
#include "persist/rdb.h"
#include "repl/log.h"
#include "store/store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct repl_state R = {.mu = PTHREAD_MUTEX_INITIALIZER, .second_offset = -1};
_Atomic bool repl_gates_on;

/* ---- ids ---------------------------------------------------------------------------------- */

void repl_new_replid(char out[REPL_ID_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < REPL_ID_LEN; i++) out[i] = hex[rand_below(16)];
    out[REPL_ID_LEN] = '\0';
}

long long repl_offset_now(void) {
    return rbl_active() ? (long long)rbl_offset() : atomic_load(&R.idle_offset);
}

/* ---- options ----------------------------------------------------------------------------- */

#define OPT_NUM(fn, field)                                                                             \
    static int fn(long long v, char *err) {                                                          \
        atomic_store(&R.o.field, v);                                                                 \
        repl_refresh_gates();                                                                        \
        return 0;                                                                                    \
    }
#define OPT_BOOL(fn, field)                                                                            \
    static int fn(long long v, char *err) {                                                          \
        atomic_store(&R.o.field, v != 0);                                                            \
        repl_refresh_gates();                                                                        \
        return 0;                                                                                    \
    }
OPT_NUM(apply_ttl, backlog_ttl)
OPT_BOOL(apply_diskless, diskless_sync)
OPT_NUM(apply_delay, diskless_delay)
OPT_NUM(apply_max, diskless_max)
OPT_NUM(apply_ping, ping_period)
OPT_NUM(apply_timeout, timeout)
OPT_BOOL(apply_nodelay, disable_nodelay)
static int apply_min_write(long long v, char *err) {
    atomic_store(&R.o.min_to_write, v);
    repl_refresh_good();
    repl_refresh_gates();
    return 0;
}
static int apply_min_lag(long long v, char *err) {
    atomic_store(&R.o.min_max_lag, v);
    repl_refresh_good();
    repl_refresh_gates();
    return 0;
}
OPT_BOOL(apply_ro, replica_ro)
OPT_BOOL(apply_stale, serve_stale)
OPT_BOOL(apply_lazy, lazy_flush)
OPT_BOOL(apply_ignore_mm, ignore_maxmemory)
OPT_BOOL(apply_announced, announced)
OPT_NUM(apply_priority, priority)
OPT_NUM(apply_shutdown_timeout, shutdown_timeout)
OPT_NUM(apply_announce_port, announce_port)

static int apply_load(long long v, char *err) {
    atomic_store(&R.o.diskless_load, (int)v);
    return 0;
}

static int apply_backlog_size(long long v, char *err) {
    rbl_set_size(v < 16 * 1024 ? 16 * 1024 : v); /* Redis's CONFIG_REPL_BACKLOG_MIN_SIZE */
    return 0;
}

static void copy_opt(char *dst, size_t cap, const char *s) {
    pthread_mutex_lock(&R.mu);
    snprintf(dst, cap, "%s", s);
    pthread_mutex_unlock(&R.mu);
}

static int apply_announce_ip(const char *s, char *err) {
    copy_opt(R.o.announce_ip, sizeof(R.o.announce_ip), s);
    return 0;
}

static int apply_masteruser(const char *s, char *err) {
    copy_opt(R.o.masteruser, sizeof(R.o.masteruser), s);
    return 0;
}

static int apply_masterauth(const char *s, char *err) {
    size_t n = config_str_len();
    if (n >= sizeof(R.o.masterauth)) {
        snprintf(err, CFG_ERR_MAX, "masterauth is too long");
        return -1;
    }
    pthread_mutex_lock(&R.mu);
    memcpy(R.o.masterauth, s, n);
    R.o.masterauth[n] = '\0';
    R.o.masterauth_len = n;
    pthread_mutex_unlock(&R.mu);
    return 0;
}

/* replicaof <host> <port> | no one: at start-up only (CONFIG SET refuses
 * it, as Redis: REPLICAOF is the command). */
static int replicaof_set(int argc, char **argv, bool check_only, char *err) {
    if (argc == 0 || (argc == 1 && argv[0][0] == '\0')) return 0; /* the default: none */
    if (argc != 2) {
        snprintf(err, CFG_ERR_MAX, "wrong number of arguments");
        return -1;
    }
    if (strcasecmp(argv[0], "no") == 0 && strcasecmp(argv[1], "one") == 0) {
        if (!check_only) {
            pthread_mutex_lock(&R.mu);
            R.masterhost[0] = '\0';
            atomic_store(&R.replica, false);
            pthread_mutex_unlock(&R.mu);
        }
        return 0;
    }
    long long port;
    if (!str_to_ll(argv[1], strlen(argv[1]), &port) || port < 0 || port > 65535) {
        snprintf(err, CFG_ERR_MAX, "Invalid master port");
        return -1;
    }
    if (check_only) return 0;
    pthread_mutex_lock(&R.mu);
    snprintf(R.masterhost, sizeof(R.masterhost), "%s", argv[0]);
    R.masterport = (int)port;
    atomic_store(&R.replica, true);
    atomic_store(&R.link_state, LINK_CONNECT);
    pthread_mutex_unlock(&R.mu);
    return 0;
}

static void replicaof_get(struct buf *out) {
    pthread_mutex_lock(&R.mu);
    if (atomic_load(&R.replica)) buf_printf(out, "%s %d", R.masterhost, R.masterport);
    pthread_mutex_unlock(&R.mu);
}

static const struct config_enum load_names[] = {{"disabled", 0}, {"on-empty-db", 1}, {"swapdb", 2}, {NULL, 0}};
static const struct config_enum perr_names[] = {{"ignore", 0}, {"panic", 1}, {"panic-on-replicas", 2}, {NULL, 0}};

static int apply_perr(long long v, char *err) {
    atomic_store(&R.o.propagation_error, (int)v);
    return 0;
}

int repl_propagation_error_behavior(void) { return atomic_load(&R.o.propagation_error); }

static struct config_option options[] = {
    {"repl-backlog-size", NULL, CFG_MEMORY, 0, "1mb", 1, LLONG_MAX, NULL, apply_backlog_size, NULL, NULL, NULL, 0,
     NULL},
    {"repl-backlog-ttl", NULL, CFG_INT, 0, "3600", 0, LONG_MAX, NULL, apply_ttl, NULL, NULL, NULL, 0, NULL},
    {"repl-diskless-sync", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_diskless, NULL, NULL, NULL, 0, NULL},
    {"repl-diskless-sync-delay", NULL, CFG_INT, 0, "5", 0, INT_MAX, NULL, apply_delay, NULL, NULL, NULL, 0, NULL},
    {"repl-diskless-sync-max-replicas", NULL, CFG_INT, 0, "0", 0, INT_MAX, NULL, apply_max, NULL, NULL, NULL, 0,
     NULL},
    {"repl-diskless-load", NULL, CFG_ENUM, 0, "disabled", 0, 0, load_names, apply_load, NULL, NULL, NULL, 0, NULL},
    {"repl-ping-replica-period", "repl-ping-slave-period", CFG_INT, 0, "10", 1, INT_MAX, NULL, apply_ping, NULL, NULL,
     NULL, 0, NULL},
    {"repl-timeout", NULL, CFG_INT, 0, "60", 1, INT_MAX, NULL, apply_timeout, NULL, NULL, NULL, 0, NULL},
    {"repl-disable-tcp-nodelay", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_nodelay, NULL, NULL, NULL, 0, NULL},
    {"min-replicas-to-write", "min-slaves-to-write", CFG_INT, 0, "0", 0, INT_MAX, NULL, apply_min_write, NULL, NULL,
     NULL, 0, NULL},
    {"min-replicas-max-lag", "min-slaves-max-lag", CFG_INT, 0, "10", 0, INT_MAX, NULL, apply_min_lag, NULL, NULL,
     NULL, 0, NULL},
    {"replica-read-only", "slave-read-only", CFG_BOOL, 0, "yes", 0, 0, NULL, apply_ro, NULL, NULL, NULL, 0, NULL},
    {"replica-serve-stale-data", "slave-serve-stale-data", CFG_BOOL, 0, "yes", 0, 0, NULL, apply_stale, NULL, NULL,
     NULL, 0, NULL},
    {"replica-lazy-flush", "slave-lazy-flush", CFG_BOOL, 0, "no", 0, 0, NULL, apply_lazy, NULL, NULL, NULL, 0,
     NULL},
    {"replica-ignore-maxmemory", "slave-ignore-maxmemory", CFG_BOOL, 0, "yes", 0, 0, NULL, apply_ignore_mm, NULL,
     NULL, NULL, 0, NULL},
    {"replica-announced", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_announced, NULL, NULL, NULL, 0, NULL},
    {"replica-priority", "slave-priority", CFG_INT, 0, "100", 0, INT_MAX, NULL, apply_priority, NULL, NULL, NULL, 0,
     NULL},
    {"replica-announce-port", "slave-announce-port", CFG_INT, 0, "0", 0, 65535, NULL, apply_announce_port, NULL,
     NULL, NULL, 0, NULL},
    {"replica-announce-ip", "slave-announce-ip", CFG_STRING, 0, "", 0, 0, NULL, NULL, apply_announce_ip, NULL, NULL,
     0, NULL},
    {"masteruser", NULL, CFG_STRING, 0, "", 0, 0, NULL, NULL, apply_masteruser, NULL, NULL, 0, NULL},
    {"masterauth", NULL, CFG_STRING, 0, "", 0, 0, NULL, NULL, apply_masterauth, NULL, NULL, 0, NULL},
    {"shutdown-timeout", NULL, CFG_INT, 0, "10", 0, INT_MAX, NULL, apply_shutdown_timeout, NULL, NULL, NULL, 0,
     NULL},
    {"propagation-error-behavior", NULL, CFG_ENUM, 0, "ignore", 0, 0, perr_names, apply_perr, NULL, NULL, NULL, 0,
     NULL},
    {"replicaof", "slaveof", CFG_SPECIAL, CFG_F_IMMUTABLE | CFG_F_MULTI_ARG, "", 0, 0, NULL, NULL, NULL,
     replicaof_set, replicaof_get, 0, NULL},
    CFG_END,
};

void repl_options_register(void) { config_register(options); }

/* ---- gates --------------------------------------------------------------------------------- */

/* Replicas with lag <= min-replicas-max-lag (min-replicas-to-write):
 * after every ACK, a change of the options, and by the cron. */
void repl_refresh_good(void) {
    long long max_lag = atomic_load(&R.o.min_max_lag);
    int64_t now_s = time_ms() / 1000;
    int good = 0;
    pthread_mutex_lock(&R.mu);
    for (struct repl_replica *r = R.replicas; r; r = r->next)
        if (atomic_load(&r->state) == REPL_RS_ONLINE && now_s - atomic_load(&r->ack_time_s) <= max_lag) good++;
    pthread_mutex_unlock(&R.mu);
    atomic_store(&R.good_replicas, good);
}

void repl_refresh_gates(void) {
    bool on = atomic_load(&R.replica) || atomic_load(&R.loading) ||
              (atomic_load(&R.o.min_to_write) > 0 && atomic_load(&R.o.min_max_lag) > 0);
    atomic_store(&repl_gates_on, on);
}

const char *repl_gate(bool is_write, bool deny_stale, bool deny_loading) {
    bool replica = atomic_load_explicit(&R.replica, memory_order_relaxed);
    if (is_write && !replica) {
        long long need = atomic_load_explicit(&R.o.min_to_write, memory_order_relaxed);
        if (need > 0 && atomic_load_explicit(&R.o.min_max_lag, memory_order_relaxed) > 0 &&
            atomic_load_explicit(&R.good_replicas, memory_order_relaxed) < need)
            return "NOREPLICAS Not enough good replicas to write.";
    }
    if (is_write && replica && atomic_load_explicit(&R.o.replica_ro, memory_order_relaxed))
        return "READONLY You can't write against a read only replica.";
    if (replica && deny_stale && atomic_load_explicit(&R.link_state, memory_order_relaxed) != LINK_CONNECTED &&
        !atomic_load_explicit(&R.o.serve_stale, memory_order_relaxed))
        return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    if (deny_loading && atomic_load_explicit(&R.loading, memory_order_relaxed))
        return "LOADING Redis is loading the dataset in memory";
    return NULL;
}

bool repl_ignores_maxmemory(void) {
    return atomic_load_explicit(&R.replica, memory_order_relaxed) &&
           atomic_load_explicit(&R.o.ignore_maxmemory, memory_order_relaxed);
}

bool repl_is_replica(void) { return atomic_load_explicit(&R.replica, memory_order_relaxed); }
const char *repl_role_name(void) { return repl_is_replica() ? "replica" : "master"; }

/* ---- the registry of replicas ------------------------------------------------------------ */

struct repl_replica *repl_replica_new(uint64_t client_id, int worker, const char *peer_ip) {
    struct repl_replica *r = xcalloc(1, sizeof(*r));
    atomic_init(&r->refs, 1);
    r->client_id = client_id;
    r->worker = worker;
    snprintf(r->peer_ip, sizeof(r->peer_ip), "%s", peer_ip);
    return r;
}

void repl_replica_ref(struct repl_replica *r) { atomic_fetch_add(&r->refs, 1); }

void repl_replica_unref(struct repl_replica *r) {
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
        rbl_cursor_release(&r->start);
        xfree(r);
    }
}

void repl_replica_set_port(struct repl_replica *r, int port) { r->port = port; }
void repl_replica_set_ip(struct repl_replica *r, const char *ip) { snprintf(r->ip, sizeof(r->ip), "%s", ip); }
void repl_replica_add_capa(struct repl_replica *r, unsigned capa) { r->capa |= capa; }
enum repl_rstate repl_replica_state(const struct repl_replica *r) { return atomic_load(&r->state); }
int repl_replica_worker(const struct repl_replica *r) { return r->worker; }
uint64_t repl_replica_client(const struct repl_replica *r) { return r->client_id; }

void repl_change_replid(void) {
    pthread_mutex_lock(&R.mu);
    repl_new_replid(R.replid);
    memset(R.replid2, '0', REPL_ID_LEN);
    R.replid2[REPL_ID_LEN] = '\0';
    R.second_offset = -1;
    pthread_mutex_unlock(&R.mu);
}

void repl_current_replid(char out[REPL_ID_LEN + 1]) {
    pthread_mutex_lock(&R.mu);
    memcpy(out, R.replid, REPL_ID_LEN + 1);
    pthread_mutex_unlock(&R.mu);
}
bool repl_replica_is_pre_psync(const struct repl_replica *r) { return r->pre_psync; }

const char *repl_replica_name(const struct repl_replica *r, char *buf, size_t cap) {
    const char *ip = r->ip[0] ? r->ip : r->peer_ip;
    if (r->port == 0)
        snprintf(buf, cap, "%s:<unknown-replica-port>", ip);
    else if (strchr(ip, ':'))
        snprintf(buf, cap, "[%s]:%d", ip, r->port);
    else
        snprintf(buf, cap, "%s:%d", ip, r->port);
    return buf;
}

static void register_locked(struct repl_replica *r) {
    repl_replica_ref(r);
    r->registered = true;
    r->next = R.replicas;
    R.replicas = r;
    R.nreplicas++;
}

void repl_replica_gone(struct repl_replica *r) {
    atomic_store(&r->gone, true);
    pthread_mutex_lock(&R.mu);
    bool was = r->registered;
    if (was) {
        for (struct repl_replica **pp = &R.replicas; *pp; pp = &(*pp)->next) {
            if (*pp == r) {
                *pp = r->next;
                break;
            }
        }
        r->registered = false;
        R.nreplicas--;
        sync_replica_gone(r);
        rbl_cursor_release(&r->start); /* the stream kept for it */
        if (R.nreplicas == 0) R.no_replicas_since_s = time_ms() / 1000;
    }
    pthread_mutex_unlock(&R.mu);
    if (was) {
        char name[128];
        log_notice("Connection with replica %s lost.", repl_replica_name(r, name, sizeof(name)));
        repl_replica_unref(r); /* the registry's */
    }
}

struct repl_chunk *repl_chunk_new(const void *p, size_t n) {
    struct repl_chunk *ch = xmalloc(sizeof(*ch) + n);
    atomic_init(&ch->refs, 1);
    ch->len = n;
    if (p) memcpy(ch->data, p, n);
    return ch;
}

void repl_chunk_unref(struct repl_chunk *ch) {
    if (ch && atomic_fetch_sub(&ch->refs, 1) == 1) xfree(ch);
}

void repl_post(struct repl_replica *r, enum repl_msg_kind kind, struct repl_chunk *ch, bool payload_start) {
    struct repl_msg *m = xcalloc(1, sizeof(*m));
    m->kind = kind;
    m->r = r;
    repl_replica_ref(r);
    if (ch) {
        atomic_fetch_add(&ch->refs, 1);
        atomic_fetch_add(&r->inflight, (int64_t)ch->len);
    }
    m->chunk = ch;
    m->payload_start = payload_start;
    R.glue.post(m);
}

void repl_msg_free(struct repl_msg *m) {
    repl_chunk_unref(m->chunk);
    repl_replica_unref(m->r);
    xfree(m);
}

void repl_chunk_done(struct repl_replica *r, size_t n) {
    atomic_fetch_sub(&r->inflight, (int64_t)n);
    atomic_store(&r->progress_ms, time_ms());
    sync_chunk_progress();
}

void repl_replica_woken(struct repl_replica *r) { atomic_store(&r->wake_pending, false); }

void repl_replica_take_start(struct repl_replica *r, struct rbl_cursor *out) {
    pthread_mutex_lock(&R.mu);
    *out = r->start;
    r->start.b = NULL;
    pthread_mutex_unlock(&R.mu);
}

void repl_replica_online(struct repl_replica *r) {
    atomic_store(&r->ack_time_s, time_ms() / 1000);
    atomic_store(&r->state, REPL_RS_ONLINE);
    char name[128];
    log_notice("Synchronization with replica %s succeeded", repl_replica_name(r, name, sizeof(name)));
}

/* ---- SYNC / PSYNC ------------------------------------------------------------------------------ */

/* Can r continue from offset with the history named replid? [mu held] */
static bool try_partial_locked(struct repl_replica *r, const char *replid, long long offset, struct buf *out,
                               struct rbl_cursor *start) {
    char name[128];
    repl_replica_name(r, name, sizeof(name));
    if (strcasecmp(replid, R.replid) != 0 && (strcasecmp(replid, R.replid2) != 0 || offset > R.second_offset)) {
        if (replid[0] != '?') {
            if (strcasecmp(replid, R.replid) != 0 && strcasecmp(replid, R.replid2) != 0)
                log_notice("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '%s', "
                           "my replication IDs are '%s' and '%s')",
                           replid, R.replid, R.replid2);
            else
                log_notice("Partial resynchronization not accepted: Requested offset for second ID was %lld, but I "
                           "can reply up to %lld",
                           offset, R.second_offset);
        } else {
            log_notice("Full resync requested by replica %s", name);
        }
        return false;
    }
    if (!rbl_active() || offset < 1 || !rbl_cursor_at(start, (uint64_t)offset)) {
        log_notice("Unable to partial resync with replica %s for lack of backlog (Replica request was: %lld).", name,
                   offset);
        if (offset > repl_offset_now())
            log_warn("Warning: replica %s tried to PSYNC with an offset that is greater than the master replication "
                     "offset.",
                     name);
        return false;
    }
    atomic_store(&r->state, REPL_RS_ONLINE);
    atomic_store(&r->ack_time_s, time_ms() / 1000);
    register_locked(r);
    if (r->capa & REPL_CAPA_PSYNC2)
        buf_printf(out, "+CONTINUE %s\r\n", R.replid);
    else
        buf_puts(out, "+CONTINUE\r\n");
    log_notice("Partial resynchronization request from %s accepted. Sending %lld bytes of backlog starting from "
               "offset %lld.",
               name, repl_offset_now() + 1 - offset, offset);
    return true;
}

int repl_replica_sync(struct repl_replica *r, bool psync, const char *replid, long long offset, struct buf *out,
                      struct rbl_cursor *start) {
    char name[128];
    pthread_mutex_lock(&R.mu);
    if (atomic_load(&R.failover) != FO_NONE) {
        pthread_mutex_unlock(&R.mu);
        buf_puts(out, "NOMASTERLINK Can't SYNC while failing over");
        return -1;
    }
    if (atomic_load(&R.replica) && atomic_load(&R.link_state) != LINK_CONNECTED) {
        pthread_mutex_unlock(&R.mu);
        buf_puts(out, "NOMASTERLINK Can't SYNC while not connected with my master");
        return -1;
    }
    log_notice("Replica %s asks for synchronization", repl_replica_name(r, name, sizeof(name)));
    if (psync) {
        if (try_partial_locked(r, replid, offset, out, start)) {
            atomic_fetch_add(&R.sync_partial_ok, 1);
            pthread_mutex_unlock(&R.mu);
            repl_refresh_gates();
            return 0;
        }
        if (replid[0] != '?') atomic_fetch_add(&R.sync_partial_err, 1);
    } else {
        r->pre_psync = true;
    }
    atomic_fetch_add(&R.sync_full, 1);
    atomic_store(&r->state, REPL_RS_WAIT_BGSAVE_START);
    r->wait_since_ms = time_ms();
    register_locked(r);
    bool need_backlog = !rbl_active();
    pthread_mutex_unlock(&R.mu);
    if (need_backlog) {
        feed_call(FEED_CREATE_BACKLOG, 0, NULL);
        pthread_mutex_lock(&R.mu);
        log_notice("Replication backlog created, my new replication IDs are '%s' and '%s'", R.replid, R.replid2);
        pthread_mutex_unlock(&R.mu);
    }
    pthread_mutex_lock(&R.mu);
    if (r->registered) sync_replica_waiting(r);
    pthread_mutex_unlock(&R.mu);
    return 1;
}

void repl_replica_ack(struct repl_replica *r, long long offset) {
    if (!r->registered) return;
    if (offset > atomic_load(&r->ack_off)) atomic_store(&r->ack_off, offset);
    atomic_store(&r->ack_time_s, time_ms() / 1000);
    if (atomic_load_explicit(&R.o.min_to_write, memory_order_relaxed) > 0) repl_refresh_good();
}

int repl_replicas_acked(long long offset) {
    int n = 0;
    pthread_mutex_lock(&R.mu);
    for (struct repl_replica *r = R.replicas; r; r = r->next)
        if (atomic_load(&r->state) == REPL_RS_ONLINE && atomic_load(&r->ack_off) >= offset) n++;
    pthread_mutex_unlock(&R.mu);
    return n;
}

/* ---- roles ----------------------------------------------------------------------------------- */

int repl_set_master(const char *host, int port) {
    pthread_mutex_lock(&R.mu);
    bool was_master = !atomic_load(&R.replica);
    if (!was_master && strcasecmp(R.masterhost, host) == 0 && R.masterport == port) {
        pthread_mutex_unlock(&R.mu);
        log_notice("REPLICAOF would result into synchronization with the master we are already connected with. No "
                   "operation performed.");
        return 1;
    }
    snprintf(R.masterhost, sizeof(R.masterhost), "%s", host);
    R.masterport = port;
    R.link_gen++;
    atomic_store(&R.replica, true);
    atomic_store(&R.link_state, LINK_CONNECT);
    bool had_client = atomic_load(&R.master_client);
    pthread_mutex_unlock(&R.mu);
    /* Writes from now on are local (a replica proxies its primary's
     * stream); the offset reached so far is where a PSYNC can continue. */
    if (was_master) {
        log_set_default_kind(LOG_LOCAL);
        store_set_lazy_expire(false);
        log_set_role('S');
        struct feed_result fr;
        feed_call(FEED_TO_REPLICA, 0, &fr);
        pthread_mutex_lock(&R.mu);
        R.cached = true;
        memcpy(R.cached_replid, R.replid, sizeof(R.cached_replid));
        R.cached_offset = fr.offset;
        R.cached_db = fr.db < 0 ? 0 : fr.db;
        pthread_mutex_unlock(&R.mu);
    }
    if (had_client) R.glue.master_post(1, 0);
    repl_refresh_gates();
    log_notice("Connecting to MASTER %s:%d", host, port);
    link_kick();
    return 0;
}

void repl_unset_master(void) {
    pthread_mutex_lock(&R.mu);
    if (!atomic_load(&R.replica)) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    R.masterhost[0] = '\0';
    R.link_gen++;
    atomic_store(&R.replica, false);
    atomic_store(&R.link_state, LINK_NONE);
    R.cached = false;
    bool had_client = atomic_load(&R.master_client);
    pthread_mutex_unlock(&R.mu);
    if (had_client) R.glue.master_post(1, 0);
    link_kick();
    /* A new history continues this one: replicas of the old primary
     * resync partially (replid2 / second_repl_offset). */
    feed_call(FEED_TO_MASTER, 0, NULL);
    local_clear(); /* a primary expires every key itself */
    log_set_default_kind(LOG_EFFECT);
    store_set_lazy_expire(true);
    log_set_role('M');
    pthread_mutex_lock(&R.mu);
    for (struct repl_replica *r = R.replicas; r; r = r->next) repl_post(r, REPL_MSG_CLOSE, NULL, false);
    R.no_replicas_since_s = time_ms() / 1000;
    atomic_store(&R.link_down_since_s, 0);
    pthread_mutex_unlock(&R.mu);
    repl_refresh_gates();
}

bool repl_master_addr(char *host, size_t cap, int *port) {
    pthread_mutex_lock(&R.mu);
    bool rep = atomic_load(&R.replica);
    if (rep) {
        snprintf(host, cap, "%s", R.masterhost);
        *port = R.masterport;
    }
    pthread_mutex_unlock(&R.mu);
    return rep;
}

/* ---- FAILOVER ------------------------------------------------------------------------------------ */

bool repl_failing_over(void) { return atomic_load(&R.failover) != FO_NONE; }
bool failover_in_progress(void) { return atomic_load(&R.failover) == FO_IN_PROGRESS; }

/* The replica at host:port (its announced or peer address). [mu held] */
static struct repl_replica *find_replica_locked(const char *host, int port) {
    for (struct repl_replica *r = R.replicas; r; r = r->next)
        if (r->port == port && strcasecmp(r->ip[0] ? r->ip : r->peer_ip, host) == 0) return r;
    return NULL;
}

/* Back to normal: writes resume. */
static void clear_failover(void) {
    pthread_mutex_lock(&R.mu);
    R.fo_end_ms = 0;
    R.fo_force = false;
    R.fo_host[0] = '\0';
    R.fo_port = 0;
    atomic_store(&R.failover, FO_NONE);
    pthread_mutex_unlock(&R.mu);
    R.glue.pause_writes(false);
}

static void abort_failover(const char *why) {
    int st = atomic_load(&R.failover);
    if (st == FO_NONE) return;
    pthread_mutex_lock(&R.mu);
    if (R.fo_host[0])
        log_notice("FAILOVER to %s:%d aborted: %s", R.fo_host, R.fo_port, why);
    else
        log_notice("FAILOVER to any replica aborted: %s", why);
    pthread_mutex_unlock(&R.mu);
    if (st == FO_IN_PROGRESS) repl_unset_master();
    clear_failover();
}

int repl_failover(const char *host, int port, long long timeout_ms, bool force, const char **err) {
    pthread_mutex_lock(&R.mu);
    if (atomic_load(&R.failover) != FO_NONE) *err = "ERR FAILOVER already in progress.";
    else if (atomic_load(&R.replica)) *err = "ERR FAILOVER is not valid when server is a replica.";
    else if (R.nreplicas == 0) *err = "ERR FAILOVER requires connected replicas.";
    else if (force && (timeout_ms == 0 || host == NULL))
        *err = "ERR FAILOVER with force option requires both a timeout and target HOST and IP.";
    else *err = NULL;
    if (*err == NULL && host) {
        struct repl_replica *r = find_replica_locked(host, port);
        if (r == NULL) *err = "ERR FAILOVER target HOST and PORT is not a replica.";
        else if (atomic_load(&r->state) != REPL_RS_ONLINE) *err = "ERR FAILOVER target replica is not online.";
    }
    if (*err) {
        pthread_mutex_unlock(&R.mu);
        return -1;
    }
    if (host) {
        snprintf(R.fo_host, sizeof(R.fo_host), "%s", host);
        R.fo_port = port;
        log_notice("FAILOVER requested to %s:%d.", host, port);
    } else {
        R.fo_host[0] = '\0';
        log_notice("FAILOVER requested to any replica.");
    }
    R.fo_end_ms = timeout_ms ? time_ms() + timeout_ms : 0;
    R.fo_force = force;
    atomic_store(&R.failover, FO_WAIT_FOR_SYNC);
    pthread_mutex_unlock(&R.mu);
    R.glue.pause_writes(true);
    return 0;
}

int repl_failover_abort(const char **err) {
    if (atomic_load(&R.failover) == FO_NONE) {
        *err = "ERR No failover in progress.";
        return -1;
    }
    abort_failover("Failover manually aborted");
    return 0;
}

void failover_cron(int64_t now_ms) {
    if (atomic_load(&R.failover) != FO_WAIT_FOR_SYNC) return;
    char host[256];
    int port = 0;
    bool go = false;
    pthread_mutex_lock(&R.mu);
    if (R.fo_end_ms && R.fo_end_ms <= now_ms) {
        bool force = R.fo_force;
        snprintf(host, sizeof(host), "%s", R.fo_host);
        port = R.fo_port;
        pthread_mutex_unlock(&R.mu);
        if (!force) {
            abort_failover("Replica never caught up before timeout");
            return;
        }
        log_notice("FAILOVER to %s:%d time out exceeded, failing over.", host, port);
        atomic_store(&R.failover, FO_IN_PROGRESS);
        repl_set_master(host, port);
        return;
    }
    long long off = repl_offset_now();
    struct repl_replica *r = R.fo_host[0] ? find_replica_locked(R.fo_host, R.fo_port) : NULL;
    if (R.fo_host[0] == '\0') { /* any replica that has everything */
        for (struct repl_replica *x = R.replicas; x && !r; x = x->next)
            if (atomic_load(&x->ack_off) == off) r = x;
        if (r) {
            snprintf(R.fo_host, sizeof(R.fo_host), "%s", r->ip[0] ? r->ip : r->peer_ip);
            R.fo_port = r->port;
        }
    }
    if (r && atomic_load(&r->ack_off) == off) {
        go = true;
        snprintf(host, sizeof(host), "%s", R.fo_host);
        port = R.fo_port;
    }
    pthread_mutex_unlock(&R.mu);
    if (!go) return;
    atomic_store(&R.failover, FO_IN_PROGRESS);
    log_notice("Failover target %s:%d is synced, failing over.", host, port);
    repl_set_master(host, port);
}

void failover_failed(const char *why) { abort_failover(why); }

void failover_psync_done(bool accepted) {
    if (atomic_load(&R.failover) != FO_IN_PROGRESS) return;
    if (accepted)
        clear_failover();
    else
        abort_failover("Failover target rejected psync request");
}

/* ---- RDB AUX fields -------------------------------------------------------------------------- */

void repl_rdb_aux(struct buf *b, uint64_t cut_pos, void *arg) {
    long long off;
    int db;
    char id[REPL_ID_LEN + 1];
    bool have = false;
    if (rbl_active() && feed_cut_offset(cut_pos, &off, &db)) {
        pthread_mutex_lock(&R.mu);
        memcpy(id, R.replid, sizeof(id));
        pthread_mutex_unlock(&R.mu);
        have = true;
    } else {
        pthread_mutex_lock(&R.mu);
        if (atomic_load(&R.replica) && R.cached) {
            memcpy(id, R.cached_replid, sizeof(id));
            off = R.cached_offset;
            db = R.cached_db;
            have = true;
        }
        pthread_mutex_unlock(&R.mu);
    }
    if (!have) return;
    rdb_put_aux_ll(b, "repl-stream-db", db < 0 ? 0 : db);
    rdb_put_aux(b, "repl-id", id);
    rdb_put_aux_ll(b, "repl-offset", off);
}

void repl_rdb_aux_loaded(const char *key, const char *val) {
    if (strcasecmp(key, "repl-id") == 0 && strlen(val) == REPL_ID_LEN) {
        memcpy(R.rdb_replid, val, REPL_ID_LEN + 1);
        R.rdb_has_id = true;
    } else if (strcasecmp(key, "repl-offset") == 0) {
        R.rdb_offset = strtoll(val, NULL, 10);
    } else if (strcasecmp(key, "repl-stream-db") == 0) {
        R.rdb_db = (int)strtol(val, NULL, 10);
    }
}

/* ---- INFO and ROLE ------------------------------------------------------------------------------ */

static const char *rstate_name(int st) {
    switch (st) {
    case REPL_RS_WAIT_BGSAVE_START:
    case REPL_RS_WAIT_BGSAVE_END: return "wait_bgsave";
    case REPL_RS_SEND_BULK: return "send_bulk";
    case REPL_RS_ONLINE: return "online";
    default: return "";
    }
}

void repl_info(struct buf *o) {
    int64_t now = time_ms() / 1000;
    pthread_mutex_lock(&R.mu);
    bool replica = atomic_load(&R.replica);
    buf_printf(o, "role:%s\r\n", replica ? "slave" : "master");
    if (replica) {
        int st = atomic_load(&R.link_state);
        bool up = st == LINK_CONNECTED;
        long long applied = R.cached ? R.cached_offset : 1, readoff = applied;
        if (atomic_load(&R.master_client)) {
            applied = atomic_load(&R.applied_offset);
            readoff = atomic_load(&R.read_offset);
        }
        buf_printf(o, "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n", R.masterhost, R.masterport,
                   up ? "up" : "down");
        buf_printf(o, "master_last_io_seconds_ago:%d\r\n",
                   atomic_load(&R.master_client) ? (int)(now - atomic_load(&R.link_lastio_s)) : -1);
        buf_printf(o, "master_sync_in_progress:%d\r\n", st == LINK_TRANSFER);
        buf_printf(o, "slave_read_repl_offset:%lld\r\nslave_repl_offset:%lld\r\n", readoff, applied);
        if (st == LINK_TRANSFER) {
            long long size = atomic_load(&R.transfer_size), rd = atomic_load(&R.transfer_read);
            buf_printf(o, "master_sync_total_bytes:%lld\r\nmaster_sync_read_bytes:%lld\r\n", size, rd);
            buf_printf(o, "master_sync_left_bytes:%lld\r\nmaster_sync_perc:%.2f\r\n", size - rd,
                       size > 0 ? (double)rd * 100 / (double)size : 0.0);
            buf_printf(o, "master_sync_last_io_seconds_ago:%d\r\n", (int)(now - atomic_load(&R.transfer_lastio_s)));
        }
        if (!up) {
            int64_t since = atomic_load(&R.link_down_since_s);
            buf_printf(o, "master_link_down_since_seconds:%lld\r\n", since ? (long long)(now - since) : -1LL);
        }
        buf_printf(o, "slave_priority:%lld\r\nslave_read_only:%d\r\nreplica_announced:%d\r\n",
                   atomic_load(&R.o.priority), atomic_load(&R.o.replica_ro) ? 1 : 0,
                   atomic_load(&R.o.announced) ? 1 : 0);
    }
    buf_printf(o, "connected_slaves:%d\r\n", R.nreplicas);
    if (atomic_load(&R.o.min_to_write) && atomic_load(&R.o.min_max_lag))
        buf_printf(o, "min_slaves_good_slaves:%d\r\n", atomic_load(&R.good_replicas));
    int i = 0;
    for (struct repl_replica *r = R.replicas; r; r = r->next) {
        int st = atomic_load(&r->state);
        const char *name = rstate_name(st);
        if (name[0] == '\0') continue;
        long lag = st == REPL_RS_ONLINE ? (long)(now - atomic_load(&r->ack_time_s)) : 0;
        buf_printf(o, "slave%d:ip=%s,port=%d,state=%s,offset=%lld,lag=%ld\r\n", i++, r->ip[0] ? r->ip : r->peer_ip,
                   r->port, name, atomic_load(&r->ack_off), lag);
    }
    uint64_t first, hist;
    rbl_range(&first, &hist);
    static const char *const fo_names[] = {"no-failover", "waiting-for-sync", "failover-in-progress"};
    buf_printf(o, "master_failover_state:%s\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n",
               fo_names[atomic_load(&R.failover)], R.replid, R.replid2);
    buf_printf(o, "master_repl_offset:%lld\r\nsecond_repl_offset:%lld\r\n", repl_offset_now(), R.second_offset);
    buf_printf(o, "repl_backlog_active:%d\r\nrepl_backlog_size:%lld\r\n", rbl_active() ? 1 : 0, rbl_size());
    buf_printf(o, "repl_backlog_first_byte_offset:%llu\r\nrepl_backlog_histlen:%llu\r\n", (unsigned long long)first,
               (unsigned long long)hist);
    pthread_mutex_unlock(&R.mu);
}

void repl_info_stats(struct buf *o) {
    buf_printf(o, "sync_full:%lld\r\nsync_partial_ok:%lld\r\nsync_partial_err:%lld\r\n", atomic_load(&R.sync_full),
               atomic_load(&R.sync_partial_ok), atomic_load(&R.sync_partial_err));
}

static const char *link_state_name(int st) {
    if (link_in_handshake(st)) return "handshake";
    switch (st) {
    case LINK_NONE: return "none";
    case LINK_CONNECT: return "connect";
    case LINK_CONNECTING: return "connecting";
    case LINK_TRANSFER: return "sync";
    case LINK_CONNECTED: return "connected";
    default: return "unknown";
    }
}

void repl_role(const struct repl_role_writer *w) {
    pthread_mutex_lock(&R.mu);
    if (!atomic_load(&R.replica)) {
        w->array(w->arg, 3);
        w->bulk(w->arg, "master");
        w->integer(w->arg, repl_offset_now());
        int n = 0;
        for (struct repl_replica *r = R.replicas; r; r = r->next)
            if (atomic_load(&r->state) == REPL_RS_ONLINE) n++;
        w->array(w->arg, n);
        for (struct repl_replica *r = R.replicas; r; r = r->next) {
            if (atomic_load(&r->state) != REPL_RS_ONLINE) continue;
            char port[16], off[32];
            snprintf(port, sizeof(port), "%d", r->port);
            snprintf(off, sizeof(off), "%lld", atomic_load(&r->ack_off));
            w->array(w->arg, 3);
            w->bulk(w->arg, r->ip[0] ? r->ip : r->peer_ip);
            w->bulk(w->arg, port);
            w->bulk(w->arg, off);
        }
    } else {
        w->array(w->arg, 5);
        w->bulk(w->arg, "slave");
        w->bulk(w->arg, R.masterhost);
        w->integer(w->arg, R.masterport);
        w->bulk(w->arg, link_state_name(atomic_load(&R.link_state)));
        w->integer(w->arg, atomic_load(&R.master_client) ? atomic_load(&R.applied_offset) : -1);
    }
    pthread_mutex_unlock(&R.mu);
}

size_t repl_backlog_memory(void) { return rbl_memory(); }

/* ---- setup -------------------------------------------------------------------------------------- */

void repl_setup(const struct repl_glue *glue, const struct repl_server *srv) {
    R.glue = *glue;
    R.srv = *srv;
    repl_new_replid(R.replid);
    memset(R.replid2, '0', REPL_ID_LEN);
    R.replid2[REPL_ID_LEN] = '\0';
    R.second_offset = -1;
    R.no_replicas_since_s = time_ms() / 1000;
    rbl_setup();
    link_setup();
}

void repl_startup_loaded(void) {
    if (!R.rdb_has_id) return;
    pthread_mutex_lock(&R.mu);
    if (atomic_load(&R.replica)) {
        memcpy(R.replid, R.rdb_replid, sizeof(R.replid));
        atomic_store(&R.idle_offset, R.rdb_offset);
        R.cached = true;
        memcpy(R.cached_replid, R.rdb_replid, sizeof(R.cached_replid));
        R.cached_offset = R.rdb_offset;
        R.cached_db = R.rdb_db;
    } else {
        /* A restarted primary: the old history is the second one, and a
         * backlog holding nothing yet lets its replicas continue. */
        memcpy(R.replid2, R.rdb_replid, sizeof(R.replid2));
        R.second_offset = R.rdb_offset + 1;
        atomic_store(&R.idle_offset, R.rdb_offset);
    }
    pthread_mutex_unlock(&R.mu);
}

void repl_start(void) {
    if (atomic_load(&R.replica)) {
        log_set_default_kind(LOG_LOCAL);
        store_set_lazy_expire(false);
        log_set_role('S');
    }
    repl_refresh_gates();
    feed_start();
    if (!atomic_load(&R.replica) && R.rdb_has_id) feed_call(FEED_CREATE_BACKLOG, 1, NULL);
    if (atomic_load(&R.replica)) link_kick();
}

/* Before shutting down (writes are paused): let the replicas catch up with
 * our offset, for at most shutdown-timeout seconds (Redis 7.0). */
void repl_shutdown_wait(void) {
    long long timeout = atomic_load(&R.o.shutdown_timeout);
    pthread_mutex_lock(&R.mu);
    int n = R.nreplicas;
    pthread_mutex_unlock(&R.mu);
    if (timeout <= 0 || atomic_load(&R.replica) || n == 0) return;
    log_notice("Waiting for replicas before shutting down.");
    int64_t deadline = time_ms() + timeout * 1000;
    long long off = repl_offset_now();
    feed_request_getack();
    for (;;) {
        int behind = 0, total = 0;
        pthread_mutex_lock(&R.mu);
        for (struct repl_replica *r = R.replicas; r; r = r->next) {
            total++;
            if (atomic_load(&r->state) != REPL_RS_ONLINE || atomic_load(&r->ack_off) < off) behind++;
        }
        bool late = time_ms() >= deadline;
        if (late && behind) {
            int64_t now_s = time_ms() / 1000;
            for (struct repl_replica *r = R.replicas; r; r = r->next) {
                int st = atomic_load(&r->state);
                if (st == REPL_RS_ONLINE && atomic_load(&r->ack_off) >= off) continue;
                char name[128];
                log_warn("Lagging replica %s reported offset %lld behind master, lag=%ld, state=%s.",
                         repl_replica_name(r, name, sizeof(name)), off - atomic_load(&r->ack_off),
                         (long)(now_s - atomic_load(&r->ack_time_s)), rstate_name(st));
            }
        }
        pthread_mutex_unlock(&R.mu);
        if (behind == 0 || total == 0) {
            log_notice("%d of %d replicas are in sync when shutting down.", total - behind, total);
            return;
        }
        if (late) return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void repl_teardown(void) {
    link_stop();
    feed_stop(); /* no more syncs start (sync_cron runs on the feeder) */
    sync_teardown();
    rbl_teardown();
}

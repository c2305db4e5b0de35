/*
 * repl/repl.h - replication: a PSYNC2 primary and replica, byte for byte
 * what Redis 7.0 sends and accepts (docs/design/replication.md has the
 * whole picture).
 *
 * Pieces
 *   log.c      the ordered effects log (the one source of the stream)
 *   backlog.c  the stream in memory: shared blocks = backlog + replica output
 *   feed.c     the feeder thread: log -> stream (Redis offsets, SELECT,
 *              PING, GETACK), the cut -> offset map of snapshots, WAIT,
 *              min-replicas, the replication cron
 *   repl.c     state (role, replication ids, offsets), options, PSYNC
 *              decisions, the replica registry, INFO and ROLE
 *   sync.c     full resynchronization: fork-less snapshots to disk or
 *              straight to the replicas' sockets (diskless, $EOF: marks)
 *   link.c     the replica side: the link thread (connect, handshake,
 *              PSYNC, receiving and loading an RDB), then the primary's
 *              connection is handed to a worker as the primary client
 *
 * What is above (cmd/repl.c) owns the connections: it implements the
 * commands and the struct repl_glue callbacks, through which this module
 * reaches a replica's or the primary's connection on its worker (by
 * mailbox). This module never touches a client.
 *
 * Locks (docs/design/lock-order.md): the replication mutex (state and the
 * registry) is taken with no stripe held or under stripes (INFO in EXEC),
 * and nothing but leaf locks (the backlog's, the log readers') is taken
 * under it; it is never held while waiting for the feeder or a snapshot.
 *
 * Thread context: [any] unless said otherwise.
 */
#ifndef STASH_REPL_REPL_H
#define STASH_REPL_REPL_H

#include "base/buf.h"
#include "base/common.h"
#include "net/conn.h"
#include "repl/backlog.h"

#include <stdatomic.h>

#define REPL_ID_LEN 40

/* Replica capabilities (REPLCONF capa). */
#define REPL_CAPA_EOF 1u
#define REPL_CAPA_PSYNC2 2u

/* A replica's state as the primary sees it (INFO: wait_bgsave, send_bulk,
 * online). */
enum repl_rstate { REPL_RS_NONE = 0, REPL_RS_WAIT_BGSAVE_START, REPL_RS_WAIT_BGSAVE_END, REPL_RS_SEND_BULK,
                   REPL_RS_ONLINE };

/* One connected replica (primary side). Created by SYNC/PSYNC, owned by the
 * registry; the connection's side keeps a reference until it closes. */
struct repl_replica;

/* Bytes for a replica's connection, shared by every replica of one
 * transfer (refcounted). */
struct repl_chunk {
    _Atomic int refs;
    size_t len;
    char data[];
};

/* What the primary posts to a replica's connection, in order. */
enum repl_msg_kind {
    REPL_MSG_DATA,    /* send chunk (payload_start: the RDB payload begins) */
    REPL_MSG_NEWLINE, /* a keepalive "\n", unless the payload began */
    REPL_MSG_ONLINE,  /* transfer done: stream from `start` (now or at the first ACK) */
    REPL_MSG_CLOSE,   /* drop the connection */
};

struct repl_msg {
    enum repl_msg_kind kind;
    struct repl_replica *r; /* a reference, dropped by repl_msg_free */
    struct repl_chunk *chunk;
    bool payload_start;
    bool stream_on_ack; /* ONLINE: wait for the first REPLCONF ACK (diskless) */
};

/* The primary's connection handed to a worker (replica side). */
struct repl_handoff {
    struct conn conn;       /* established (plain or TLS), not on any loop */
    char *pending;          /* stream bytes already read (xmalloc'ed) */
    size_t npending;
    long long offset;       /* offset of the last byte applied */
    int db;                 /* the stream's database */
    char addr[64];          /* "ip:port" of the primary */
    uint64_t link_gen;      /* the link it belongs to */
    bool ack_now;           /* send REPLCONF ACK at once (after a diskless payload) */
};

/* Callbacks into the layer that owns connections (cmd/repl.c). */
struct repl_glue {
    /* Post m to the replica's connection (its worker); the receiver frees
     * it with repl_msg_free. [any] */
    void (*post)(struct repl_msg *m);
    /* New stream bytes for an online replica: pump them. Posted at most
     * once until the connection calls repl_replica_woken. [any] */
    void (*wake)(struct repl_replica *r);
    /* Create the primary client on a worker from h (which it takes). */
    void (*master_start)(struct repl_handoff *h);
    /* Post to the primary client: op 0 send REPLCONF ACK <offset>, op 1
     * close the connection. [any] */
    void (*master_post)(int op, long long offset);
    /* Pause (on) or resume (off) the clients' writes (FAILOVER). [any] */
    void (*pause_writes)(bool on);
};

/* What the composition root tells replication about the server. */
struct repl_server {
    /* client-output-buffer-limit replica: hard, soft, soft seconds. */
    void (*replica_limits)(long long *hard, long long *soft, long long *soft_s);
    int (*port)(void);                 /* the Redis port */
    int (*tls_port)(void);
    bool (*tls_replication)(void);     /* tls-replication yes */
    struct tls_server *(*tls)(void);   /* the client side of outgoing TLS links */
    int databases;
};

/* The replication options (before the configuration is read). */
void repl_options_register(void);
void repl_setup(const struct repl_glue *glue, const struct repl_server *srv);
/* After the workers run: start the feeder, and the link if a primary was
 * configured (replicaof). */
void repl_start(void);
void repl_teardown(void);
/* Shutting down with writes paused: wait (shutdown-timeout) for the
 * replicas to acknowledge everything. [main thread] */
void repl_shutdown_wait(void);

/* Snapshots: the effects-log position of a cut (snapshot_env.log_pos; it
 * also tells the feeder where the cut is), and the replication AUX fields
 * of every RDB (repl-stream-db, repl-id, repl-offset) and what loading
 * them at start-up restores. */
uint64_t repl_cut_log_pos(void);
void repl_rdb_aux(struct buf *b, uint64_t cut_pos, void *arg);
void repl_rdb_aux_loaded(const char *key, const char *val);
/* After start-up loading: a primary restarted with repl ids in its RDB
 * keeps its history (partial resyncs after a restart). */
void repl_startup_loaded(void);

/* ---- roles ------------------------------------------------------------------------------ */

bool repl_is_replica(void);
/* REPLICAOF host port: 0, or 1 when already replicating that primary
 * ("+OK Already connected to specified master"). */
int repl_set_master(const char *host, int port);
/* REPLICAOF NO ONE (promotion: history kept, replicas partially resync). */
void repl_unset_master(void);
/* FAILOVER [TO host port [FORCE]] [TIMEOUT ms]: 0, or -1 with Redis's
 * error in *err. timeout_ms 0: none; host NULL: any replica. */
int repl_failover(const char *host, int port, long long timeout_ms, bool force, const char **err);
/* FAILOVER ABORT: 0, or -1 with the error. */
int repl_failover_abort(const char **err);
bool repl_failing_over(void);
/* Rules a request meets on a replica / a primary (READONLY, MASTERDOWN,
 * NOREPLICAS, LOADING): a cheap test first. */
extern _Atomic bool repl_gates_on;
/* The error reply (without "-"... as Redis's full message) or NULL. flags:
 * the command's (CMD_WRITE...); inv: flags some queued command lacks (EXEC). */
const char *repl_gate(bool is_write, bool deny_stale, bool deny_loading);
/* A client of a writable replica wrote this key: the replica expires it
 * itself (its primary does not know it). [any] */
void repl_local_write(int db, const char *key, size_t klen);
/* INFO's slave_expires_tracked_keys. */
size_t repl_local_keys(void);
/* propagation-error-behavior: 0 ignore, 1 panic, 2 panic-on-replicas. */
int repl_propagation_error_behavior(void);
/* A replica leaves eviction to its primary (replica-ignore-maxmemory). */
bool repl_ignores_maxmemory(void);

/* ---- primary side: replicas (from the replica's connection, its worker) ------------------ */

struct repl_replica *repl_replica_new(uint64_t client_id, int worker, const char *peer_ip);
void repl_replica_ref(struct repl_replica *r);
void repl_replica_unref(struct repl_replica *r);
/* REPLCONF options before SYNC/PSYNC. */
void repl_replica_set_port(struct repl_replica *r, int port);
void repl_replica_set_ip(struct repl_replica *r, const char *ip);
void repl_replica_add_capa(struct repl_replica *r, unsigned capa);
/* SYNC / PSYNC replid offset. Returns 0 with the reply to send first in
 * `out` (+CONTINUE...: the connection then streams from *start), 1 for a
 * full resync (the registry posts what follows), or -1 with the error in
 * `out` (no registration). */
int repl_replica_sync(struct repl_replica *r, bool psync, const char *replid, long long offset, struct buf *out,
                      struct rbl_cursor *start);
/* REPLCONF ACK offset. */
void repl_replica_ack(struct repl_replica *r, long long offset);
/* The connection closed (or was killed). */
void repl_replica_gone(struct repl_replica *r);
/* The connection pumped after a wake. */
void repl_replica_woken(struct repl_replica *r);
/* A transfer chunk was written (or dropped): n bytes. */
void repl_chunk_done(struct repl_replica *r, size_t n);
void repl_chunk_unref(struct repl_chunk *ch);
void repl_msg_free(struct repl_msg *m);
enum repl_rstate repl_replica_state(const struct repl_replica *r);
int repl_replica_worker(const struct repl_replica *r);
uint64_t repl_replica_client(const struct repl_replica *r);
/* DEBUG CHANGE-REPL-ID: a new replication id, no second one. */
void repl_change_replid(void);
/* Our replication id (master_replid). */
void repl_current_replid(char out[REPL_ID_LEN + 1]);
bool repl_replica_is_pre_psync(const struct repl_replica *r);
/* REPL_MSG_ONLINE: take the cursor where r's stream starts, and mark it
 * online. [the connection's worker] */
void repl_replica_take_start(struct repl_replica *r, struct rbl_cursor *out);
void repl_replica_online(struct repl_replica *r);

/* WAIT numreplicas timeout for a client whose last write ended at effects
 * log position `woff` (0: it wrote nothing). Returns the number of
 * replicas that acknowledged it when that is known at once and enough (or
 * `now_only`), else -1: then done(arg, acked) is called once, from the
 * feeder thread, when enough replicas acknowledged or at the deadline
 * (Unix ms; 0: none). */
int repl_wait(uint64_t woff, int numreplicas, int64_t deadline_ms, bool now_only, void (*done)(void *arg, int acked),
              void *arg);
/* Replicas that acknowledged at least offset. */
int repl_replicas_acked(long long offset);

/* ---- replica side: the primary client (from its worker) ------------------------------------ */

/* A command of the stream was applied: the offset of its last byte, the
 * database after it. */
void repl_master_applied(long long offset, int db);
/* Bytes were read from the primary (last I/O time, read offset). */
void repl_master_read(long long read_offset);
/* The primary client closed: keep it as the cached primary (offset and
 * database of the last applied command) for a partial resync. */
void repl_master_closed(uint64_t link_gen, long long offset, int db);
long long repl_master_offset_applied(void);

/* ---- introspection ----------------------------------------------------------------------- */

void repl_info(struct buf *o);      /* INFO replication */
void repl_info_stats(struct buf *o); /* sync_full, sync_partial_ok, sync_partial_err */
/* ROLE's reply, as an element list written by the caller's callbacks. */
struct repl_role_writer {
    void (*array)(void *arg, long n);
    void (*bulk)(void *arg, const char *s);
    void (*integer)(void *arg, long long v);
    void *arg;
};
void repl_role(const struct repl_role_writer *w);
/* "slave"/"master" and the configured primary, for CONFIG GET replicaof. */
bool repl_master_addr(char *host, size_t cap, int *port);
size_t repl_backlog_memory(void);
/* HELLO's role. */
const char *repl_role_name(void);

#endif

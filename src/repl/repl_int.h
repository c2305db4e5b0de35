/*
 * repl/repl_int.h - state shared by the files of the replication module
 * (repl.c, feed.c, sync.c, link.c). Not for other modules.
 *
 * Guarded by R.mu: role and primary address, replication ids, the replica
 * registry, the running sync job, the link's state and cached primary.
 * Atomics are read without it (INFO's numbers, the request gates).
 */
#ifndef STASH_REPL_REPL_INT_H
#define STASH_REPL_REPL_INT_H

#include "repl/backlog.h"
#include "repl/repl.h"

#include <pthread.h>

/* The replica side's link states (Redis's repl_state). */
enum link_state {
    LINK_NONE = 0,
    LINK_CONNECT,
    LINK_CONNECTING,
    LINK_RECEIVE_PING_REPLY, /* handshake states start here */
    LINK_SEND_HANDSHAKE,
    LINK_RECEIVE_AUTH_REPLY,
    LINK_RECEIVE_PORT_REPLY,
    LINK_RECEIVE_IP_REPLY,
    LINK_RECEIVE_CAPA_REPLY,
    LINK_SEND_PSYNC,
    LINK_RECEIVE_PSYNC_REPLY, /* handshake states end here */
    LINK_TRANSFER,
    LINK_CONNECTED,
};

struct repl_job;

struct repl_replica {
    _Atomic int refs;
    struct repl_replica *next; /* registry [mu] */
    uint64_t client_id;
    int worker;
    char peer_ip[64];
    char ip[64]; /* REPLCONF ip-address, else "" */
    int port;    /* REPLCONF listening-port */
    unsigned capa;
    bool pre_psync;  /* SYNC: no +FULLRESYNC, no ACKs */
    bool registered; /* in the registry */
    _Atomic int state;
    _Atomic long long ack_off;
    _Atomic int64_t ack_time_s;
    long long initial_offset;  /* the +FULLRESYNC offset */
    struct rbl_cursor start;   /* where its stream begins; the job's until ONLINE is posted */
    struct repl_job *job;      /* [mu] the full sync it takes part in */
    int64_t wait_since_ms;     /* began waiting for a full sync */
    _Atomic int64_t inflight;  /* transfer bytes posted, not yet written */
    _Atomic int64_t progress_ms;
    _Atomic bool wake_pending;
    _Atomic bool gone;
    bool stream_on_ack; /* online after a diskless transfer: stream at the first ACK */
};

/* Options (atomics: read by any thread). */
struct repl_opts {
    _Atomic long long backlog_ttl;
    _Atomic bool diskless_sync;
    _Atomic long long diskless_delay;
    _Atomic long long diskless_max;
    _Atomic int diskless_load; /* 0 disabled, 1 on-empty-db, 2 swapdb */
    _Atomic int propagation_error; /* 0 ignore, 1 panic, 2 panic-on-replicas */
    _Atomic long long ping_period;
    _Atomic long long timeout;
    _Atomic bool disable_nodelay;
    _Atomic long long min_to_write, min_max_lag;
    _Atomic bool replica_ro, serve_stale, lazy_flush, ignore_maxmemory, announced;
    _Atomic long long priority, announce_port, shutdown_timeout;
    char announce_ip[256];  /* [mu] */
    char masterauth[512];   /* [mu] */
    size_t masterauth_len;
    char masteruser[256];   /* [mu] */
};

struct repl_state {
    pthread_mutex_t mu;
    struct repl_glue glue;
    struct repl_server srv;
    struct repl_opts o;
    /* Role. */
    _Atomic bool replica;      /* masterhost set */
    char masterhost[256];
    int masterport;
    /* Ids and offsets. */
    char replid[REPL_ID_LEN + 1], replid2[REPL_ID_LEN + 1];
    long long second_offset;   /* -1 */
    _Atomic long long idle_offset; /* master_repl_offset while no backlog */
    int64_t no_replicas_since_s;
    /* Replicas. */
    struct repl_replica *replicas;
    int nreplicas;
    struct repl_job *job;      /* the running full sync, or NULL */
    _Atomic int good_replicas;
    /* Statistics. */
    _Atomic long long sync_full, sync_partial_ok, sync_partial_err;
    /* Link (replica side). */
    _Atomic int link_state;
    uint64_t link_gen;         /* bumped by every REPLICAOF: a link of an older one gives up */
    _Atomic int64_t link_lastio_s;
    _Atomic int64_t link_down_since_s;
    _Atomic long long transfer_size, transfer_read;
    _Atomic int64_t transfer_lastio_s;
    bool cached;               /* a cached primary: PSYNC replid offset+1 */
    char cached_replid[REPL_ID_LEN + 1];
    long long cached_offset;
    int cached_db;
    _Atomic long long applied_offset; /* slave_repl_offset */
    _Atomic long long read_offset;    /* slave_read_repl_offset */
    _Atomic bool master_client;       /* the primary client exists */
    int master_db;
    _Atomic bool loading;
    /* FAILOVER (primary side). */
    _Atomic int failover;      /* FO_* */
    char fo_host[256];
    int fo_port;
    int64_t fo_end_ms;
    bool fo_force;
    /* Start-up: repl ids read from the RDB. */
    bool rdb_has_id;
    char rdb_replid[REPL_ID_LEN + 1];
    long long rdb_offset;
    int rdb_db;
};

extern struct repl_state R;

enum { FO_NONE = 0, FO_WAIT_FOR_SYNC, FO_IN_PROGRESS };

/* repl.c */
void failover_cron(int64_t now_ms);        /* [feeder] */
void failover_psync_done(bool accepted);   /* [link] the target answered our PSYNC ... FAILOVER */
void failover_failed(const char *why);
bool failover_in_progress(void);
void repl_new_replid(char out[REPL_ID_LEN + 1]);
long long repl_offset_now(void); /* master_repl_offset */
void repl_refresh_gates(void);
void repl_refresh_good(void);
void repl_post(struct repl_replica *r, enum repl_msg_kind kind, struct repl_chunk *ch, bool payload_start);
struct repl_chunk *repl_chunk_new(const void *p, size_t n);
const char *repl_replica_name(const struct repl_replica *r, char *buf, size_t cap);
void repl_options_register(void);

/* feed.c: the feeder thread. Requests run on it when it reached the log
 * position current at the call (every earlier record is in the stream). */
void feed_start(void);
void feed_stop(void);
enum feed_op {
    FEED_CREATE_BACKLOG, /* a backlog at the current offset: a new history (offset arg 0) or the
                          * one loaded at start-up (1) */
    FEED_TO_REPLICA,     /* EFFECT records stop feeding; returns offset and db */
    FEED_TO_MASTER,      /* promotion: shift the replication id; EFFECT feeds again */
    FEED_RESET,          /* replica: a new history at `offset` (full sync done) */
    FEED_FREE_BACKLOG,
};
struct feed_result {
    long long offset;
    int db;
};
void feed_call(enum feed_op op, long long offset, struct feed_result *res);
/* The offset and stream database at the last cut, once the feeder passed
 * it (waits; false when the feeder cannot tell: no backlog). */
bool feed_cut_offset(uint64_t cut_pos, long long *offset, int *db);
void feed_wake_replicas(void);
/* Ask the replicas for an ACK now (REPLCONF GETACK *). */
void feed_request_getack(void);
/* The next cut is a full sync's: the stream resumes with SELECT after it. */
void feed_next_cut_is_sync(bool yes);

/* sync.c: full syncs. */
void sync_cron(void);          /* start pending syncs, reap finished ones [feeder] */
void sync_replica_waiting(struct repl_replica *r); /* [mu held] attach to a running job if possible */
void sync_replica_gone(struct repl_replica *r);    /* [mu held] */
void sync_teardown(void);
void sync_chunk_progress(void); /* a replica's window moved: wake a waiting sender */
bool sync_wants_newlines(const struct repl_replica *r); /* [mu held] a disk sync's snapshot still runs */

/* local.c: keys a writable replica wrote itself. */
void local_expire_cron(void); /* [feeder] */
void local_clear(void);

/* link.c: the replica side. */
void link_setup(void);
void link_kick(void);       /* the primary changed: (re)connect */
void link_stop(void);
void link_cron(void);       /* [feeder, 1 Hz] ACKs, timeouts */
bool link_in_handshake(int st);

#endif

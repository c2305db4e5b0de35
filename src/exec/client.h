/*
 * exec/client.h - a client connection: its requests, replies and state.
 *
 * Ownership and threads: a client belongs to the worker that accepted it;
 * only that worker reads or writes its fields, socket and buffers. Other
 * threads reach it through the worker's mailbox, by client id (a client may
 * be gone when the message arrives). Cross-worker questions (CLIENT LIST,
 * CLIENT KILL, CLIENT PAUSE) fan out to every worker and block the asking
 * client until all have answered (client_fanout).
 *
 * Life of a request: bytes are read into a per-worker shared buffer (a
 * client keeps a private buffer only while it holds a partial request, or
 * input behind a blocked or paused command), parsed by proto/resp,
 * dispatched (exec/dispatch.c), and the replies collected in the client's
 * obuf are written once per batch of input. c->argv points into those
 * buffers: it is valid during the command only (a command that blocks
 * keeps what it needs itself). A request parked by CLIENT PAUSE stays in
 * the private buffer and is parsed again when the pause ends. A request
 * stays contiguous: the private buffer grows geometrically, and for a big
 * bulk (>= 32 KiB) in steps that follow what has arrived, never what the
 * header announced. Idle clients hold no input buffer at all (CLIENT LIST
 * shows qbuf=0 qbuf-free=0, unlike Redis's per-client 16 KiB).
 *
 * Fields marked [cmd] are what command implementations may read.
 */
#ifndef STASH_EXEC_CLIENT_H
#define STASH_EXEC_CLIENT_H

#include "base/buf.h"
#include "base/obuf.h"
#include "auth/acl.h"
#include "ds/htab.h"
#include "exec/command.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/worker.h"
#include "proto/resp.h"
#include "store/store.h"
#include "store/watch.h"

/* Client flags. */
#define CLIENT_MULTI (1u << 0)          /* inside MULTI */
#define CLIENT_DIRTY_EXEC (1u << 1)     /* a queued command was rejected: EXECABORT */
#define CLIENT_CLOSE_AFTER_REPLY (1u << 2)
#define CLIENT_CLOSE_ASAP (1u << 3)     /* close at the next opportunity, drop output */
#define CLIENT_PUBSUB (1u << 4)         /* RESP2 subscriber context */
#define CLIENT_MONITOR (1u << 5)
#define CLIENT_BLOCKED (1u << 6)        /* waiting: input is not processed */
#define CLIENT_REPLY_OFF (1u << 7)
#define CLIENT_REPLY_SKIP_NEXT (1u << 8) /* CLIENT REPLY SKIP: silence the next command */
#define CLIENT_REPLY_SKIP (1u << 9)     /* silence this command */
#define CLIENT_NO_EVICT (1u << 10)
#define CLIENT_PENDING_WRITE (1u << 11) /* in the worker's write list */
#define CLIENT_CLOSED (1u << 12)        /* socket closed, struct freed after the batch */
#define CLIENT_UNIX_SOCKET (1u << 13)
#define CLIENT_PROTOCOL_ERROR (1u << 14)
#define CLIENT_IN_EXEC (1u << 15)       /* running EXEC's queued commands */
#define CLIENT_NO_TOUCH (1u << 16)
#define CLIENT_PAUSED (1u << 17)        /* blocked by CLIENT PAUSE */
#define CLIENT_SCRIPT (1u << 18)        /* the client scripts run their commands on */
#define CLIENT_RERUN_ALL (1u << 19)     /* run this command again holding every stripe */
#define CLIENT_NO_BLOCK (1u << 20)      /* never blocks (the AOF's fake client): answers as in MULTI */
#define CLIENT_HELD (1u << 21)          /* output held until its writes are on disk (appendfsync always) */
#define CLIENT_AOF (1u << 22)           /* the AOF's fake client: commands obey what was logged
                                         * (Redis's mustObeyClient) */
#define CLIENT_REPLICA (1u << 23)       /* a replica of ours (after SYNC/PSYNC): flag S */
#define CLIENT_MASTER (1u << 24)        /* our primary's connection (replica side): flag M */

struct multi_state;
struct pubsub_client;
struct client_block;
struct client_tracking;
struct client;

/* A protocol other than RESP on a connection (memcached): chosen by the
 * listener's tag at accept (client_register_proto), it replaces the RESP
 * parser and dispatcher for that connection; everything else (worker,
 * output queue and limits, closing, fan-out, CLIENT LIST) is shared. A
 * connection without one (c->proto == NULL) speaks RESP. [owner] */
struct client_proto {
    const char *name;
    /* Run the requests in base[0, len) (process_input's contract): return
     * the bytes consumed; what is left is kept and given again with more. */
    size_t (*process)(struct client *c, char *base, size_t len);
    /* Total bytes the partial request at the head of the input needs, when
     * known (sizes the reads of big values), else 0. */
    size_t (*need)(const struct client *c);
    /* After accept / before the client is freed (per-connection state). */
    void (*opened)(struct client *c);
    void (*closed)(struct client *c);
    /* Written to a connection refused because of maxclients. */
    const char *reject_msg;
};
#define CLIENT_PROTO_TAGS 8
/* Connections accepted by listeners attached with `tag` speak p. [setup] */
void client_register_proto(int tag, const struct client_proto *p);
/* Connections accepted by listeners attached with `tag` are TLS, served by
 * s (net/tls.h); without one they are plain. [setup] */
struct tls_server;
void client_register_tls(int tag, struct tls_server *s);

struct ckey {
    int pos;       /* argv index of a key */
    uint16_t slot; /* its cluster slot */
};

struct client {
    struct conn conn;
    struct htab_node idnode; /* the worker's id -> client table */
    struct htab_node dirnode; /* the global directory (client_worker_of) */
    uint64_t id;              /* [cmd] */
    struct worker *worker;
    struct client *prev, *next;
    uint32_t flags;           /* [cmd] */
    int db;                   /* [cmd] selected database */
    int resp;                 /* [cmd] protocol version: 2 or 3 */

    /* The command being run. [cmd] */
    int argc;
    const char **argv;
    size_t *argvlen;
    int argcap;
    const struct command *cmd;
    const struct command *lastcmd;
    const struct command *lasttop; /* top-level command of the last request */
    struct ckey *keys;
    int nkeys, keycap;
    long long dirty;          /* changes made by this command */
    bool propagated;          /* the command staged its own effects */

    /* Input. */
    struct buf qbuf;          /* private: only while holding a partial request */
    struct resp_parser parser;
    uint64_t bytes_in;

    /* Output. */
    struct obuf obuf;
    struct obuf *out;         /* &obuf, or a sink while replies are silenced */
    int64_t obuf_soft_since;  /* when (Unix s) the soft output limit was first exceeded */
    uint64_t bytes_out;
    /* appendfsync always: end of this client's last logged effects; its
     * output waits until the AOF has them on disk (persist/aof.h). 0: none. */
    uint64_t durable_need;

    /* Transactions, pub/sub, blocking. */
    struct multi_state *multi;
    struct store_watch watch;
    struct pubsub_client *ps;
    struct client_block *block;
    struct client_tracking *trk; /* CLIENT TRACKING state, NULL when off (exec/tracking.h) */
    int pending_refs;         /* fan-outs in flight for this client */

    /* Another protocol than RESP (see struct client_proto), its state. */
    const struct client_proto *proto;
    void *pstate;

    /* Authentication (exec/access.h): the user (a reference; the default
     * user is never counted), and whether the connection authenticated (or
     * needed not). */
    struct acl_user *user;
    bool authenticated;
    /* Arguments of the running command that SLOWLOG and MONITOR show as
     * "(redacted)" (bit i: argv[i]; bit 63: argv[63] and after). */
    uint64_t redact;

    /* Replication (cmd/repl.c): the state of a replica's or the
     * primary's connection, and what runs when the connection closes. */
    void *repl;
    void (*closing)(struct client *c);
    /* Effects-log position after this client's last write (WAIT). */
    uint64_t woff;

    /* Identity and introspection. */
    char *name;
    int64_t ctime_ms;
    int64_t last_ms;
    char addr[64];
    char laddr[64];
};

/* ---- lifecycle (called by the composition root) -------------------------- */

struct client_options {
    long long max_clients;
};

void client_setup(void);
void client_teardown(void);
/* Per-worker state; run on each worker thread at start / stop. */
void client_worker_start(struct worker *w);
void client_worker_stop(struct worker *w);
/* The listener callback: a new connection on this worker. */
void client_accept(int fd, enum listener_kind kind, int tag);
/* A client for a connection this server made and set up elsewhere (a
 * replica's link to its primary): conn is moved in, registered on this
 * worker's loop; addr names the peer; the pending bytes (already read) are
 * processed first. [owner: the worker that will own it] */
struct client *client_adopt(const struct conn *conn, const char *addr, const struct client_proto *proto,
                            const char *pending, size_t npending);

/* ---- helpers for commands [owner] -------------------------------------------- */

/* The store key for argv[i], using the slot computed at dispatch. */
void client_key(const struct client *c, int i, struct store_key *k);
/* Close after the reply to this command is written. */
static inline void client_close_after_reply(struct client *c) { c->flags |= CLIENT_CLOSE_AFTER_REPLY; }
/* Schedule closing (any thread owning c). */
void client_close_async(struct client *c);
/* Close c at once (CLIENT KILL). [owner] c must not be the client whose
 * command is running: that one uses client_close_after_reply(). */
void client_kill(struct client *c);
/* The client's address string "ip:port" (computed at accept). */
static inline const char *client_addr(const struct client *c) { return c->addr; }

/* Outstanding output limits for a client of this class (normal/pubsub). */
bool client_check_output_limits(struct client *c);

/* Queue c for writing at the end of the batch. */
void client_want_write(struct client *c);
/* appendfsync always: c's output waits until the effects log is durable
 * up to pos (a blocked pop served for it by another thread). [owner] */
void client_hold_until(struct client *c, uint64_t pos);

/* ---- blocking and fan-out ------------------------------------------------------ */

/* Stop processing c's input until client_unblock (the current command has
 * replied or will reply later). */
void client_block(struct client *c, struct client_block *b);
void client_unblock(struct client *c);
/* Unblock c and run the input it accumulated meanwhile (exec/block.c, when
 * a blocked command got its reply). [owner, at the top of the event loop:
 * never inside another client's command] */
void client_resume(struct client *c);
/* CLIENT PAUSE: keep c's current request (c->argv) for when the pause
 * ends, then dispatch it again. */
void client_park_paused(struct client *c);
/* Re-dispatch paused clients on this worker if the pause is over. */
void client_resume_paused(void);

/* Run `work` on every worker (in parallel), then `done` on the worker of
 * c, with c (or NULL if c went away meanwhile). c is blocked meanwhile.
 * `arg` belongs to the fan-out; `done` frees it. */
typedef void (*fanout_work_fn)(void *arg, int worker);
typedef void (*fanout_done_fn)(struct client *c, void *arg);
void client_fanout(struct client *c, fanout_work_fn work, fanout_done_fn done, void *arg);

/* Run fn(c, arg) on the worker owning client `id`, if it still exists. [any] */
void client_post_by_id(int worker, uint64_t id, void (*fn)(struct client *c, void *arg), void *arg,
                       void (*drop)(void *arg));

/* From inside a long command (a busy script) on this worker: serve the
 * input of the worker's other RESP connections once, without waiting,
 * timers or mailbox (`busy` itself is left alone). [owner] */
void client_poll_nested(struct client *busy);

/* Iterate this worker's clients. [owner] */
struct client *client_first(void);
struct client *client_next(struct client *c);
/* Count of connected clients over all workers. [any] */
long client_count(void);
long client_count_blocked(void);
/* The worker owning client `id`, or -1 when there is no such client. [any] */
int client_worker_of(uint64_t id);
/* The current worker's client with this id, or NULL. [owner] */
struct client *client_by_id(uint64_t id);

/* CLIENT LIST / CLIENT INFO line for c. [owner] */
void client_info_line(const struct client *c, struct buf *out);
/* Memory a client holds (buffers), for tot-mem/omem. */
size_t client_memory(const struct client *c);

/* Limits (CONFIG SET). */
void client_set_query_buffer_limit(long long bytes);
void client_set_proto_max_bulk(long long bytes);
void client_set_timeout(long long seconds);
void client_set_maxclients(long long n);
struct client_obuf_limit {
    long long hard, soft, soft_seconds;
};
enum client_class { CLIENT_CLASS_NORMAL = 0, CLIENT_CLASS_REPLICA = 1, CLIENT_CLASS_PUBSUB = 2, CLIENT_CLASS_COUNT };
void client_set_obuf_limit(enum client_class cls, const struct client_obuf_limit *l);
void client_get_obuf_limit(enum client_class cls, struct client_obuf_limit *l);
long long client_get_proto_max_bulk(void);

/* Hide argument i of the running command from SLOWLOG and MONITOR
 * (passwords). */
static inline void client_redact(struct client *c, int i) { c->redact |= 1ULL << (i < 63 ? i : 63); }

/* protected-mode: refuse non-loopback connections while the default user
 * has no password (Redis 7.0). */
void client_set_protected_mode(bool on);

/* Counters for INFO stats. */
struct client_stats {
    uint64_t connections_received, rejected_connections;
    uint64_t net_input_bytes, net_output_bytes;
    uint64_t client_qbuf_limit_disconnections, client_obuf_limit_disconnections;
    uint64_t total_reads, total_writes;
};
void client_get_stats(struct client_stats *st);
void client_reset_stats(void);
/* Biggest input/output buffers among clients (INFO clients). */
void client_get_max_buffers(size_t *max_in, size_t *max_out);

/* Worker cron (timeouts, soft limits); every 100 ms on each worker. */
void client_cron(void);

#endif

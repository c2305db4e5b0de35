/*
 * cmd/repl.c - replication commands (SYNC, PSYNC, REPLCONF, REPLICAOF,
 * SLAVEOF, ROLE, WAIT) and the connections replication runs on; the
 * engine is repl/ (repl/repl.h), which reaches these connections only
 * through the struct repl_glue callbacks below.
 *
 * A replica of ours is a client that sent SYNC or PSYNC: flag S, replies
 * off (CLIENT_REPLY_OFF: what it sends afterwards, REPLCONF ACK, gets no
 * answer), output = what the engine posts (+FULLRESYNC, the payload, in
 * order) then the stream: on every wake it queues references to the
 * backlog's blocks from its cursor to the end (no copy), so its output
 * buffer is its lag and client-output-buffer-limit replica applies to it.
 *
 * Our primary (replica side) is a client made from the link thread's
 * connection (client_adopt), flag M, with its own input processing
 * (struct client_proto): each command of the stream is run through the
 * normal dispatcher with its replies discarded; its effects are logged as
 * LOG_LOCAL (persisted, not re-replicated) and its bytes as LOG_RAW (what
 * our own replicas get: the same offsets down a chain); a transaction's
 * bytes wait for its EXEC. The offset of the last applied byte is
 * reported to the engine (INFO, ACKs, the cached primary after a drop).
 *
 * Thread context: commands and message handlers on the connection's
 * worker; the glue callbacks from any thread (they only post).
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "exec/block.h"
#include "net/listener.h"
#include "repl/log.h"
#include "repl/repl.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* What c->repl points to. */
struct repl_conn {
    /* A replica of ours. */
    struct repl_replica *r;
    struct rbl_cursor cur;
    bool streaming;       /* online: pump on wake */
    bool payload_started; /* no keepalive newline after this */
    bool stream_on_ack;
    /* Our primary. */
    bool is_master;
    long long reploff;    /* offset of the last applied byte */
    struct buf pending;   /* bytes of a transaction not yet run (MULTI ... EXEC) */
    uint64_t link_gen;
};

/* The primary client, for the engine's posts. */
static _Atomic uint64_t master_id;
static _Atomic int master_worker = -1;
static _Atomic int next_worker;
static __thread struct obuf discard_ob; /* replies to the primary's commands */
static __thread struct obuf *discard;

/* ---- posting to a connection's worker ----------------------------------------------------------- */

/* Always through the mailbox, even from the connection's own worker: the
 * engine may post while it holds its mutex, and the handler may take it
 * (a CLOSE runs the connection's close hook). */
struct post {
    struct mbox_msg m;
    uint64_t id;
    void (*fn)(struct client *c, void *arg);
    void (*drop)(void *arg);
    void *arg;
};

static void post_run(struct mbox_msg *m) {
    struct post *p = (struct post *)m;
    struct client *c = client_by_id(p->id);
    if (c && !(c->flags & CLIENT_CLOSED))
        p->fn(c, p->arg);
    else if (p->drop)
        p->drop(p->arg);
    xfree(p);
}

static void post_async(int worker, uint64_t id, void (*fn)(struct client *c, void *arg), void *arg,
                       void (*drop)(void *arg)) {
    if (worker < 0 || worker >= worker_count()) {
        if (drop) drop(arg);
        return;
    }
    struct post *p = xmalloc(sizeof(*p));
    p->id = id;
    p->fn = fn;
    p->drop = drop;
    p->arg = arg;
    worker_post(worker_at(worker), &p->m, post_run);
}

/* ---- a replica of ours ------------------------------------------------------------------------ */

static void replica_closing(struct client *c) {
    struct repl_conn *rc = c->repl;
    if (rc == NULL) return;
    if (rc->r) {
        repl_replica_gone(rc->r);
        repl_replica_unref(rc->r);
    }
    rbl_cursor_release(&rc->cur);
    buf_free(&rc->pending);
    xfree(rc);
    c->repl = NULL;
    rbl_trim(); /* what only it held may go now */
}

static struct repl_conn *replica_state(struct client *c) {
    struct repl_conn *rc = c->repl;
    if (rc == NULL) {
        rc = xcalloc(1, sizeof(*rc));
        char peer[64];
        snprintf(peer, sizeof(peer), "%s", c->addr);
        char *colon = strrchr(peer, ':');
        if (colon) *colon = '\0';
        if (peer[0] == '[') { /* "[v6]:port" */
            memmove(peer, peer + 1, strlen(peer));
            char *b = strchr(peer, ']');
            if (b) *b = '\0';
        }
        rc->r = repl_replica_new(c->id, worker_id(c->worker), peer);
        c->repl = rc;
        c->closing = replica_closing;
    }
    return rc;
}

static void block_release(void *ctx) { rbl_block_unref(ctx); }

/* Queue the stream from the cursor to its end. */
static void pump(struct client *c) {
    struct repl_conn *rc = c->repl;
    const char *p;
    struct rbl_block *b;
    size_t n;
    bool any = false;
    while ((n = rbl_cursor_peek(&rc->cur, &p, &b)) > 0) {
        rbl_block_ref(b);
        obuf_append_ref(&c->obuf, p, n, block_release, b);
        rbl_cursor_advance(&rc->cur, n);
        any = true;
    }
    if (any) client_want_write(c);
}

struct chunk_ref {
    struct repl_chunk *ch;
    struct repl_replica *r;
};

static void chunk_release(void *ctx) {
    struct chunk_ref *cr = ctx;
    repl_chunk_done(cr->r, cr->ch->len);
    repl_chunk_unref(cr->ch);
    repl_replica_unref(cr->r);
    xfree(cr);
}

static void on_msg(struct client *c, void *arg) {
    struct repl_msg *m = arg;
    struct repl_conn *rc = c->repl;
    if (rc == NULL || rc->r != m->r) {
        if (m->chunk) repl_chunk_done(m->r, m->chunk->len);
        repl_msg_free(m);
        return;
    }
    switch (m->kind) {
    case REPL_MSG_DATA: {
        if (m->payload_start) rc->payload_started = true;
        struct chunk_ref *cr = xmalloc(sizeof(*cr));
        cr->ch = m->chunk;
        cr->r = m->r;
        atomic_fetch_add(&cr->ch->refs, 1);
        repl_replica_ref(cr->r);
        obuf_append_ref(&c->obuf, m->chunk->data, m->chunk->len, chunk_release, cr);
        client_want_write(c);
        break;
    }
    case REPL_MSG_NEWLINE:
        if (!rc->payload_started) {
            obuf_append(&c->obuf, "\n", 1);
            client_want_write(c);
        }
        break;
    case REPL_MSG_ONLINE:
        rbl_cursor_release(&rc->cur);
        repl_replica_take_start(m->r, &rc->cur);
        repl_replica_online(m->r);
        if (m->stream_on_ack) {
            rc->stream_on_ack = true;
        } else {
            rc->streaming = true;
            pump(c);
        }
        break;
    case REPL_MSG_CLOSE:
        client_kill(c);
        break;
    }
    repl_msg_free(m);
}

static void drop_msg(void *arg) {
    struct repl_msg *m = arg;
    if (m->chunk) repl_chunk_done(m->r, m->chunk->len);
    repl_msg_free(m);
}

static void on_wake(struct client *c, void *arg) {
    struct repl_replica *r = arg;
    struct repl_conn *rc = c->repl;
    repl_replica_woken(r);
    if (rc && rc->r == r && rc->streaming) pump(c);
    repl_replica_unref(r);
}

static void drop_ref(void *arg) {
    struct repl_replica *r = arg;
    repl_replica_woken(r);
    repl_replica_unref(r);
}

/* ---- the primary client (replica side) ------------------------------------------------------------ */

static void send_ack(struct client *c) {
    struct repl_conn *rc = c->repl;
    char num[24], hdr[96];
    int n = ll_to_str(num, sizeof(num), rc->reploff);
    int h = snprintf(hdr, sizeof(hdr), "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n", n, num);
    obuf_append(&c->obuf, hdr, (size_t)h);
    client_want_write(c);
}

static bool name_is(const struct client *c, const char *s) {
    size_t n = strlen(s);
    return c->argc > 0 && c->argvlen[0] == n && strncasecmp(c->argv[0], s, n) == 0;
}

static void master_error(struct client *c, const struct obuf *replies);

/* Run the stream's commands in base[0, len): client_proto.process. */
static size_t master_process(struct client *c, char *base, size_t len) {
    struct repl_conn *rc = c->repl;
    if (discard == NULL) {
        discard = &discard_ob;
        obuf_init(discard);
    }
    size_t pos = 0;
    struct resp_limits lim = {client_get_proto_max_bulk(), false};
    while (pos < len && !(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSED))) {
        int st = resp_parse(&c->parser, base + pos, len - pos, &lim);
        if (st == RESP_INCOMPLETE) break;
        if (st == RESP_ERROR) {
            log_warn("Protocol error from master (%s): closing the link", c->parser.err);
            resp_parser_reset(&c->parser);
            client_close_async(c);
            return len;
        }
        size_t end = pos + c->parser.pos;
        buf_append(&rc->pending, base + pos, end - pos);
        if (st == RESP_EMPTY) {
            resp_parser_reset(&c->parser);
            pos = end;
            if (!(c->flags & CLIENT_MULTI)) {
                rc->reploff += (long long)rc->pending.len;
                buf_clear(&rc->pending);
            }
            continue;
        }
        int n = (int)c->parser.argc;
        if (n > c->argcap) {
            int cap = n < 8 ? 8 : n;
            c->argv = xrealloc(c->argv, (size_t)cap * sizeof(*c->argv));
            c->argvlen = xrealloc(c->argvlen, (size_t)cap * sizeof(*c->argvlen));
            c->argcap = cap;
        }
        for (int i = 0; i < n; i++) {
            c->argv[i] = resp_arg(&c->parser, base + pos, (uint32_t)i);
            c->argvlen[i] = c->parser.offs[i].len;
        }
        c->argc = n;
        c->last_ms = time_ms();
        /* Queued inside MULTI: the bytes go with the EXEC. */
        bool queued = name_is(c, "multi") ||
                      ((c->flags & CLIENT_MULTI) && !name_is(c, "exec") && !name_is(c, "discard"));
        c->out = discard;
        log_set_thread_kind(LOG_LOCAL);
        store_set_keep_expired(true);
        if (!queued) exec_raw_begin(rc->pending.data, rc->pending.len, &c->db);
        exec_dispatch(c);
        if (obuf_pending(discard) > 0) master_error(c, discard);
        if (!queued) {
            exec_raw_end();
            rc->reploff += (long long)rc->pending.len;
            buf_clear(&rc->pending);
            repl_master_applied(rc->reploff, c->db);
        }
        store_set_keep_expired(false);
        log_set_thread_kind(-1);
        obuf_clear(discard);
        c->out = &c->obuf;
        resp_parser_reset(&c->parser);
        c->argc = 0;
        pos = end;
    }
    repl_master_read(rc->reploff + (long long)rc->pending.len + (long long)(len - pos));
    return pos;
}

/* A command of the primary's stream failed here: the data may diverge.
 * Redis's words (afterErrorReply), and propagation-error-behavior. */
static void master_error(struct client *c, const struct obuf *replies) {
    struct iovec iov[1];
    if (obuf_iov(replies, iov, 1) < 1 || iov[0].iov_len == 0 || ((char *)iov[0].iov_base)[0] != '-') return;
    const char *msg = (const char *)iov[0].iov_base + 1;
    size_t n = 0;
    while (n + 1 < iov[0].iov_len && msg[n] != '\r') n++;
    log_warn("== CRITICAL == This replica is sending an error to its master: '%.*s' after processing the command "
             "'%s'",
             (int)n, msg, c->cmd ? c->cmd->fullname : "<unknown>");
    if (repl_propagation_error_behavior() != 0)
        PANIC("This replica panicked sending an error to its master after processing the command '%s'",
              c->cmd ? c->cmd->fullname : "<unknown>");
}

static size_t master_need(const struct client *c) { return c->parser.need; }

static const struct client_proto master_proto = {"replication", master_process, master_need, NULL, NULL, NULL};

static void master_closing(struct client *c) {
    struct repl_conn *rc = c->repl;
    if (rc == NULL) return;
    uint64_t expect = c->id;
    atomic_compare_exchange_strong(&master_id, &expect, 0);
    repl_master_closed(rc->link_gen, rc->reploff, c->db);
    buf_free(&rc->pending);
    xfree(rc);
    c->repl = NULL;
}

struct start_msg {
    struct mbox_msg m;
    struct repl_handoff *h;
};

static void master_start_run(struct mbox_msg *mm) {
    struct start_msg *sm = (struct start_msg *)mm;
    struct repl_handoff *h = sm->h;
    struct client *c = client_adopt(&h->conn, h->addr, &master_proto, h->pending, h->npending);
    struct repl_conn *rc = xcalloc(1, sizeof(*rc));
    rc->is_master = true;
    rc->reploff = h->offset;
    rc->link_gen = h->link_gen;
    c->repl = rc;
    c->closing = master_closing;
    c->flags |= CLIENT_MASTER;
    c->authenticated = true;
    c->db = h->db >= 0 ? h->db : 0;
    atomic_store(&master_worker, worker_id(c->worker));
    atomic_store(&master_id, c->id);
    if (c->flags & CLIENT_CLOSED) { /* registering failed: gone already */
        master_closing(c);
    } else if (h->ack_now) {
        send_ack(c);
    }
    xfree(h->pending);
    xfree(h);
    xfree(sm);
}

static void glue_master_start(struct repl_handoff *h) {
    struct start_msg *sm = xcalloc(1, sizeof(*sm));
    sm->h = h;
    int n = worker_count();
    int w = atomic_fetch_add(&next_worker, 1) % (n > 0 ? n : 1);
    worker_post(worker_at(w), &sm->m, master_start_run);
}

static void master_op(struct client *c, void *arg) {
    struct repl_conn *rc = c->repl;
    if (rc == NULL || !rc->is_master) return;
    if ((intptr_t)arg == 1)
        client_kill(c);
    else
        send_ack(c);
}

static void glue_master_post(int op, long long offset) {
    uint64_t id = atomic_load(&master_id);
    int w = atomic_load(&master_worker);
    if (id == 0 || w < 0) return;
    post_async(w, id, master_op, (void *)(intptr_t)op, NULL);
}

/* ---- the glue ------------------------------------------------------------------------------------- */

static void post_msg(struct repl_msg *m) {
    struct repl_replica *r = m->r;
    post_async(repl_replica_worker(r), repl_replica_client(r), on_msg, m, drop_msg);
}

static void glue_wake(struct repl_replica *r) {
    repl_replica_ref(r);
    post_async(repl_replica_worker(r), repl_replica_client(r), on_wake, r, drop_ref);
}

static void pause_writes(bool on) {
    if (on)
        exec_pause(PAUSE_WRITE, INT64_MAX);
    else
        exec_unpause();
}

void cmd_repl_glue(struct repl_glue *g) {
    g->pause_writes = pause_writes;
    g->post = post_msg;
    g->wake = glue_wake;
    g->master_start = glue_master_start;
    g->master_post = glue_master_post;
}

/* ---- commands ---------------------------------------------------------------------------------------- */

/* SYNC / PSYNC <replid> <offset> [FAILOVER] */
static void sync_generic(struct client *c, bool psync) {
    if (c->flags & (CLIENT_REPLICA | CLIENT_MONITOR)) return;
    long long offset = -1;
    if (psync && c->argc > 3 && cmd_arg_is(c, 3, "failover")) {
        log_warn("Failover request received for replid %.*s.", (int)c->argvlen[1], c->argv[1]);
        if (!repl_is_replica()) {
            reply_error(c, "ERR PSYNC FAILOVER can't be sent to a master.");
            return;
        }
        char id[REPL_ID_LEN + 1];
        repl_current_replid(id);
        if (c->argvlen[1] != REPL_ID_LEN || strncasecmp(c->argv[1], id, REPL_ID_LEN) != 0) {
            reply_error(c, "ERR PSYNC FAILOVER replid must match my replid.");
            return;
        }
        repl_unset_master();
        log_notice("MASTER MODE enabled (failover request from '%s')", c->addr);
    }
    if (obuf_pending(&c->obuf) > 0) {
        reply_error(c, "ERR SYNC and PSYNC are invalid with pending output");
        return;
    }
    if (psync && !cmd_ll(c, 2, &offset)) {
        log_warn("Replica %s asks for synchronization but with a wrong offset", c->addr);
        return;
    }
    struct repl_conn *rc = replica_state(c);
    char replid[REPL_ID_LEN + 8];
    snprintf(replid, sizeof(replid), "%.*s", psync ? (int)MIN(c->argvlen[1], sizeof(replid) - 1) : 1,
             psync ? c->argv[1] : "?");
    struct buf out = BUF_INIT;
    struct rbl_cursor start = {0};
    int res = repl_replica_sync(rc->r, psync, replid, offset, &out, &start);
    if (res < 0) {
        buf_putc(&out, '\0');
        reply_error(c, out.data);
        buf_free(&out);
        return;
    }
    c->flags |= CLIENT_REPLICA | CLIENT_REPLY_OFF;
    if (res == 0) { /* +CONTINUE: the backlog from the asked offset */
        obuf_append(&c->obuf, out.data, out.len);
        rc->cur = start;
        rc->streaming = true;
        pump(c);
        client_want_write(c);
    }
    buf_free(&out);
}

void cmd_sync(struct client *c) { sync_generic(c, false); }
void cmd_psync(struct client *c) { sync_generic(c, true); }

void cmd_replconf(struct client *c) {
    if (c->argc % 2 == 0) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    for (int j = 1; j < c->argc; j += 2) {
        if (cmd_arg_is(c, j, "listening-port")) {
            long long port;
            if (!cmd_ll(c, j + 1, &port)) return;
            repl_replica_set_port(replica_state(c)->r, (int)port);
        } else if (cmd_arg_is(c, j, "ip-address")) {
            if (c->argvlen[j + 1] >= 46) {
                reply_errorf(c, "ERR REPLCONF ip-address provided by replica instance is too long: %zu bytes",
                             c->argvlen[j + 1]);
                return;
            }
            char ip[64];
            snprintf(ip, sizeof(ip), "%.*s", (int)c->argvlen[j + 1], c->argv[j + 1]);
            repl_replica_set_ip(replica_state(c)->r, ip);
        } else if (cmd_arg_is(c, j, "capa")) {
            if (cmd_arg_is(c, j + 1, "eof")) repl_replica_add_capa(replica_state(c)->r, REPL_CAPA_EOF);
            else if (cmd_arg_is(c, j + 1, "psync2")) repl_replica_add_capa(replica_state(c)->r, REPL_CAPA_PSYNC2);
        } else if (cmd_arg_is(c, j, "ack")) {
            /* From a replica: no reply. */
            struct repl_conn *rc = c->repl;
            if (!(c->flags & CLIENT_REPLICA) || rc == NULL || rc->r == NULL) return;
            long long off;
            if (!str_to_ll(c->argv[j + 1], c->argvlen[j + 1], &off)) return;
            repl_replica_ack(rc->r, off);
            if (rc->stream_on_ack) {
                rc->stream_on_ack = false;
                rc->streaming = true;
                pump(c);
            }
            return;
        } else if (cmd_arg_is(c, j, "getack")) {
            /* From our primary: ACK at once. */
            if ((c->flags & CLIENT_MASTER) && c->repl) send_ack(c);
            return;
        } else if (cmd_arg_is(c, j, "rdb-only") || cmd_arg_is(c, j, "rdb-filter-only")) {
            reply_errorf(c, "ERR Unrecognized REPLCONF option: %.*s", (int)c->argvlen[j], c->argv[j]);
            return;
        } else {
            reply_errorf(c, "ERR Unrecognized REPLCONF option: %.*s", (int)c->argvlen[j], c->argv[j]);
            return;
        }
    }
    reply_ok(c);
}

/* Clients blocked on keys while we become a replica would be served by
 * the primary's writes: they are told and disconnected (Redis's
 * disconnectAllBlockedClients). */
struct unblock_msg {
    struct mbox_msg m;
};

static void unblock_all_run(struct mbox_msg *mm) {
    for (struct client *c = client_first(); c; c = client_next(c)) {
        if (!(c->flags & CLIENT_BLOCKED) || c->block == NULL || (c->flags & CLIENT_CLOSED)) continue;
        if (block_unblock_client(c, true)) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    }
    xfree(mm);
}

static void unblock_everywhere(void) {
    for (int i = 0; i < worker_count(); i++) {
        struct unblock_msg *m = xcalloc(1, sizeof(*m));
        worker_post(worker_at(i), &m->m, unblock_all_run);
    }
}

static void replicaof_generic(struct client *c) {
    if (repl_failing_over()) {
        reply_error(c, "ERR REPLICAOF not allowed while failing over.");
        return;
    }
    struct buf info = BUF_INIT;
    client_info_line(c, &info);
    if (info.len) info.data[info.len - 1] = '\0'; /* the line's "\n" */
    if (cmd_arg_is(c, 1, "no") && cmd_arg_is(c, 2, "one")) {
        if (repl_is_replica()) {
            repl_unset_master();
            log_notice("MASTER MODE enabled (user request from '%s')", info.data);
        }
        reply_ok(c);
        buf_free(&info);
        return;
    }
    if (c->flags & CLIENT_REPLICA) {
        reply_error(c, "ERR Command is not valid when client is a replica.");
        buf_free(&info);
        return;
    }
    long long port;
    if (!cmd_ll_range(c, 2, 0, 65535, &port, "ERR Invalid master port")) {
        buf_free(&info);
        return;
    }
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)MIN(c->argvlen[1], sizeof(host) - 1), c->argv[1]);
    bool was_master = !repl_is_replica();
    if (repl_set_master(host, (int)port) == 1) {
        reply_simple(c, "OK Already connected to specified master");
        buf_free(&info);
        return;
    }
    if (was_master) unblock_everywhere();
    log_notice("REPLICAOF %s:%d enabled (user request from '%s')", host, (int)port, info.data);
    buf_free(&info);
    reply_ok(c);
}

void cmd_replicaof(struct client *c) { replicaof_generic(c); }
void cmd_slaveof(struct client *c) { replicaof_generic(c); }

static void role_array(void *arg, long n) { reply_array(arg, n); }
static void role_bulk(void *arg, const char *s) { reply_bulk_cstr(arg, s); }
static void role_int(void *arg, long long v) { reply_int(arg, v); }

void cmd_role(struct client *c) {
    struct repl_role_writer w = {role_array, role_bulk, role_int, c};
    repl_role(&w);
}

/* FAILOVER [TO <host> <port> [FORCE]] [ABORT] [TIMEOUT <ms>] */
void cmd_failover(struct client *c) {
    const char *err = NULL;
    if (c->argc == 2 && cmd_arg_is(c, 1, "abort")) {
        if (repl_failover_abort(&err) != 0)
            reply_error(c, err);
        else
            reply_ok(c);
        return;
    }
    long long timeout = 0, port = 0;
    bool force = false;
    char host[256];
    bool have_host = false;
    for (int j = 1; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "timeout") && j + 1 < c->argc && timeout == 0) {
            if (!cmd_ll_range(c, j + 1, LONG_MIN, LONG_MAX, &timeout, NULL)) return;
            if (timeout <= 0) {
                reply_error(c, "ERR FAILOVER timeout must be greater than 0");
                return;
            }
            j++;
        } else if (cmd_arg_is(c, j, "to") && j + 2 < c->argc && !have_host) {
            if (!cmd_ll_range(c, j + 2, LONG_MIN, LONG_MAX, &port, NULL)) return;
            snprintf(host, sizeof(host), "%.*s", (int)MIN(c->argvlen[j + 1], sizeof(host) - 1), c->argv[j + 1]);
            have_host = true;
            j += 2;
        } else if (cmd_arg_is(c, j, "force") && !force) {
            force = true;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (repl_failover(have_host ? host : NULL, (int)port, timeout, force, &err) != 0) {
        reply_error(c, err);
        return;
    }
    reply_ok(c);
}

/* ---- WAIT ------------------------------------------------------------------------------------------ */

struct wait_ctx {
    int worker;
    uint64_t id;
    int acked;
};

static void wait_reply(struct client *c, void *arg) {
    struct wait_ctx *w = arg;
    reply_int(c, w->acked);
    xfree(w);
    client_resume(c);
}

static void wait_done(void *arg, int acked) {
    struct wait_ctx *w = arg;
    w->acked = acked;
    post_async(w->worker, w->id, wait_reply, w, xfree);
}

void cmd_wait(struct client *c) {
    long long numreplicas, timeout;
    if (!cmd_ll_range(c, 1, LONG_MIN, LONG_MAX, &numreplicas, NULL)) return;
    if (!cmd_ll_msg(c, 2, &timeout, "ERR timeout is not an integer or out of range")) return;
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    if (repl_is_replica()) {
        reply_error(c, "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
                       "replica is configured to be writable (which is not the default) writes to replicas are just "
                       "local and are not propagated.");
        return;
    }
    bool now_only = (c->flags & (CLIENT_IN_EXEC | CLIENT_SCRIPT)) != 0;
    struct wait_ctx *w = xcalloc(1, sizeof(*w));
    w->worker = worker_id(c->worker);
    w->id = c->id;
    int64_t deadline = timeout > 0 ? time_ms() + timeout : 0;
    int n = repl_wait(c->woff, numreplicas > INT_MAX ? INT_MAX : (int)numreplicas, deadline, now_only, wait_done, w);
    if (n >= 0) {
        xfree(w);
        reply_int(c, n);
        return;
    }
    client_block(c, NULL);
}

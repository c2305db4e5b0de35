/*
 * exec/dispatch.c - from request to command; see exec.h.
 *
 * Hot path (a GET): lookup (one probe of the name index), arity, two flag
 * tests, the authentication and ACL tests (a byte of the client and one of
 * its user when the user is unrestricted), key spec -> slot (CRC16),
 * store_run on one stripe, the command, the seal hook (no-op without log
 * consumers), accounting. No allocation.
 */
#include "exec/exec.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "exec/access.h"
#include "exec/block.h"
#include "exec/multi.h"
#include "exec/pubsub.h"
#include "exec/reply.h"
#include "exec/script.h"
#include "exec/stats.h"
#include "exec/tracking.h"
#include "metrics/cmdlat.h"
#include "metrics/latency.h"
#include "metrics/slowlog.h"
#include "persist/persist.h"
#include "repl/log.h"
#include "repl/repl.h"
#include "store/track.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

static _Atomic long long total_dirty;
static struct exec_server_hooks server_hooks;

long long exec_total_dirty(void) { return atomic_load_explicit(&total_dirty, memory_order_relaxed); }
void exec_add_dirty(long long n) { atomic_fetch_add_explicit(&total_dirty, n, memory_order_relaxed); }

void exec_set_server_hooks(const struct exec_server_hooks *h) { server_hooks = *h; }
void exec_request_shutdown(int flags) {
    script_shutdown_notify(); /* a busy script stops at its next check */
    if (server_hooks.shutdown) server_hooks.shutdown(flags);
}

/* ---- store hooks --------------------------------------------------------------- */

static __thread size_t nstaged_lines;
static void flush_monitor_lines(void);

void exec_store_deleted(int db, const char *key, size_t klen, enum store_del_reason why) {
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, klen};
    log_stage(db, 2, argv, lens);
    if (why == STORE_DEL_EXPIRED)
        pubsub_notify(NOTIFY_EXPIRED, "expired", db, key, klen);
    else
        pubsub_notify(NOTIFY_EVICTED, "evicted", db, key, klen);
    atomic_fetch_add_explicit(&total_dirty, 1, memory_order_relaxed);
}

/* A replica applying its primary's command: its bytes (exec_raw_begin). */
static __thread struct {
    const char *p;
    size_t n;
    const int *db;
} raw;

void exec_raw_begin(const char *p, size_t n, const int *db) {
    raw.p = p;
    raw.n = n;
    raw.db = db;
}

void exec_raw_end(void) {
    if (raw.n == 0) return;
    if (log_enabled()) {
        log_stage_raw(*raw.db, raw.p, raw.n);
        log_seal(false);
        log_publish();
    }
    raw.n = 0;
}

void exec_store_seal(void) {
    /* Serve clients blocked on keys this section filled (exec/block.c),
     * before the locks go: the pops are logged after the pushes. */
    if (block_has_ready()) block_serve_ready();
    if (log_enabled()) {
        log_seal(true);
        /* The primary's bytes go with the command's (first) locked
         * section: a snapshot's cut has both its changes and them, or
         * neither. */
        if (UNLIKELY(raw.n > 0)) {
            log_stage_raw(*raw.db, raw.p, raw.n);
            log_seal(false);
            raw.n = 0;
        }
    }
}

void exec_store_after(void) {
    if (log_enabled()) log_publish();
    block_after(); /* post served replies to their workers */
    /* After served replies: a client sees its reply, then the invalidation. */
    if (UNLIKELY(store_track_pending())) tracking_deliver();
    pubsub_flush_notifications();
    if (nstaged_lines) flush_monitor_lines();
    persist_after(); /* a save FLUSHALL asked for, now that no stripe is held */
}

/* ---- MONITOR ------------------------------------------------------------------- */

struct monitor_ref {
    int worker;
    uint64_t id;
};

static pthread_mutex_t mon_mu = PTHREAD_MUTEX_INITIALIZER;
static struct monitor_ref *monitors;
static int nmonitors, capmonitors;
static _Atomic int monitor_count;

void exec_monitor_add(struct client *c) {
    pthread_mutex_lock(&mon_mu);
    if (nmonitors == capmonitors) {
        capmonitors = capmonitors ? capmonitors * 2 : 8;
        monitors = xrealloc(monitors, (size_t)capmonitors * sizeof(*monitors));
    }
    monitors[nmonitors++] = (struct monitor_ref){worker_id(c->worker), c->id};
    atomic_store(&monitor_count, nmonitors);
    pthread_mutex_unlock(&mon_mu);
    c->flags |= CLIENT_MONITOR;
}

void exec_monitor_remove(struct client *c) {
    pthread_mutex_lock(&mon_mu);
    for (int i = 0; i < nmonitors; i++) {
        if (monitors[i].id == c->id) {
            monitors[i] = monitors[--nmonitors];
            break;
        }
    }
    atomic_store(&monitor_count, nmonitors);
    pthread_mutex_unlock(&mon_mu);
    c->flags &= ~CLIENT_MONITOR;
}

struct monitor_line {
    _Atomic int refs;
    size_t len;
    char text[];
};

static void line_unref(void *arg) {
    struct monitor_line *l = arg;
    if (atomic_fetch_sub(&l->refs, 1) == 1) xfree(l);
}

static void deliver_line(struct client *m, void *arg) {
    struct monitor_line *l = arg;
    obuf_append(&m->obuf, l->text, l->len);
    client_want_write(m);
    line_unref(l);
}

/* Deliver a formatted line to every monitor (no locks held). */
static void post_line(struct monitor_line *l) {
    pthread_mutex_lock(&mon_mu);
    int n = nmonitors;
    struct monitor_ref *refs = n ? xmemdup(monitors, (size_t)n * sizeof(*refs)) : NULL;
    pthread_mutex_unlock(&mon_mu);
    atomic_init(&l->refs, n + 1);
    for (int i = 0; i < n; i++) client_post_by_id(refs[i].worker, refs[i].id, deliver_line, l, line_unref);
    line_unref(l);
    xfree(refs);
}

/* Lines produced under stripe locks (commands run by EXEC) wait here until
 * the locks are released: posting to a mailbox is a syscall. */
static __thread struct monitor_line **staged_lines;
static __thread size_t capstaged_lines;

void exec_thread_cleanup(void) {
    xfree(staged_lines);
    staged_lines = NULL;
    capstaged_lines = nstaged_lines = 0;
    pubsub_thread_cleanup();
    block_thread_cleanup();
    tracking_thread_cleanup();
    script_thread_cleanup();
}

static void flush_monitor_lines(void) {
    for (size_t i = 0; i < nstaged_lines; i++) post_line(staged_lines[i]);
    nstaged_lines = 0;
    if (capstaged_lines > 64) {
        xfree(staged_lines);
        staged_lines = NULL;
        capstaged_lines = 0;
    }
}

static void feed_monitors(struct client *c, int argc, const char *const *argv, const size_t *lens) {
    struct buf b = BUF_INIT;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    buf_printf(&b, "+%ld.%06ld ", (long)tv.tv_sec, (long)tv.tv_usec);
    if (c->flags & CLIENT_UNIX_SOCKET)
        buf_printf(&b, "[%d unix:%s] ", c->db, c->laddr);
    else
        buf_printf(&b, "[%d %s] ", c->db, c->addr);
    for (int i = 0; i < argc; i++) {
        buf_repr(&b, argv[i], lens[i]);
        if (i != argc - 1) buf_putc(&b, ' ');
    }
    buf_puts(&b, "\r\n");
    struct monitor_line *l = xmalloc(sizeof(*l) + b.len);
    l->len = b.len;
    memcpy(l->text, b.data, b.len);
    buf_free(&b);
    if (store_in_run()) {
        if (nstaged_lines == capstaged_lines) {
            capstaged_lines = capstaged_lines ? capstaged_lines * 2 : 16;
            staged_lines = xrealloc(staged_lines, capstaged_lines * sizeof(*staged_lines));
        }
        staged_lines[nstaged_lines++] = l;
        return;
    }
    post_line(l);
}

void exec_monitor_feed(struct client *c) {
    if (atomic_load_explicit(&monitor_count, memory_order_relaxed) > 0) feed_monitors(c, c->argc, c->argv, c->argvlen);
}

/* ---- pause ------------------------------------------------------------------------- */

static _Atomic int pause_type;
static _Atomic int64_t pause_end;

void exec_pause(enum exec_pause type, int64_t end_ms) {
    /* A new pause never weakens or shortens the current one. */
    int cur = atomic_load(&pause_type);
    int64_t cur_end = atomic_load(&pause_end);
    if (cur == PAUSE_OFF || (int)type > cur) atomic_store(&pause_type, (int)type);
    if (cur == PAUSE_OFF || end_ms > cur_end) atomic_store(&pause_end, end_ms);
    store_set_expire_paused(true);
}

void exec_unpause(void) {
    atomic_store(&pause_type, PAUSE_OFF);
    atomic_store(&pause_end, 0);
    store_set_expire_paused(false);
}

enum exec_pause exec_pause_state(void) {
    int t = atomic_load_explicit(&pause_type, memory_order_relaxed);
    if (t == PAUSE_OFF) return PAUSE_OFF;
    if (time_ms() >= atomic_load_explicit(&pause_end, memory_order_relaxed)) {
        exec_unpause();
        return PAUSE_OFF;
    }
    return (enum exec_pause)t;
}

/* ---- propagation --------------------------------------------------------------------- */

void exec_propagate(struct client *c, int argc, const char *const *argv, const size_t *lens) {
    log_stage(c->db, argc, argv, lens);
    c->propagated = true;
}

/* ---- keys and calls ------------------------------------------------------------------ */

bool exec_compute_keys(struct client *c, const struct command *cmd) {
    c->nkeys = 0;
    if (cmd->nkeyspecs == 0) return true;
    if (cmd->static_keys) {
        /* Fixed positions (GET, SET, DEL, MSET...): no key spec walk. */
        int last = cmd->last_key >= 0 ? cmd->last_key : c->argc + cmd->last_key;
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        if (last >= c->argc) last = c->argc - 1;
        int n = last >= cmd->first_key ? (last - cmd->first_key) / step + 1 : 0;
        if (n > c->keycap) {
            c->keycap = n;
            c->keys = xrealloc(c->keys, (size_t)n * sizeof(*c->keys));
        }
        for (int i = 0, pos = cmd->first_key; i < n; i++, pos += step) {
            c->keys[i].pos = pos;
            c->keys[i].slot = store_slot(c->argv[pos], c->argvlen[pos]);
        }
        c->nkeys = n;
        return true;
    }
    int pos[16];
    int n = exec_command_keys(cmd, c->argc, c->argv, c->argvlen, pos, 16);
    if (n < 0) return false;
    if (n > c->keycap) {
        c->keycap = n;
        c->keys = xrealloc(c->keys, (size_t)n * sizeof(*c->keys));
    }
    int *all = pos;
    int *heap = NULL;
    if (n > 16) {
        heap = xmalloc((size_t)n * sizeof(int));
        exec_command_keys(cmd, c->argc, c->argv, c->argvlen, heap, n);
        all = heap;
    }
    for (int i = 0; i < n; i++) {
        c->keys[i].pos = all[i];
        c->keys[i].slot = store_slot(c->argv[all[i]], c->argvlen[all[i]]);
    }
    c->nkeys = n;
    xfree(heap);
    return true;
}

void exec_add_locks(struct client *c, const struct command *cmd, struct store_lockset *ls) {
    if (cmd->flags & (CMD_ALL_STRIPES)) {
        store_lockset_all(ls);
        return;
    }
    if (!exec_compute_keys(c, cmd)) {
        store_lockset_all(ls);
        return;
    }
    for (int i = 0; i < c->nkeys; i++) store_lockset_add(ls, c->keys[i].slot);
}

/* Run the command body; the caller holds whatever locks it needs. */
static void run_body(struct client *c, const struct command *cmd) {
    c->dirty = 0;
    c->redact = 0;
    c->propagated = false;
    stats_set_executing(true);
    cmd->proc(c);
    stats_set_executing(false);
    /* Client-side caching: remember what a tracking client read (scripts
     * track their keys from inside, as Redis). */
    if (UNLIKELY(c->trk != NULL) && (cmd->flags & CMD_READONLY) && c->nkeys > 0 &&
        !(cmd->group && strcmp(cmd->group, "scripting") == 0))
        tracking_remember_keys(c);
    if (c->dirty > 0) {
        atomic_fetch_add_explicit(&total_dirty, c->dirty, memory_order_relaxed);
        if ((cmd->flags & CMD_WRITE) && !c->propagated) log_stage(c->db, c->argc, c->argv, c->argvlen);
    }
}

/* SLOWLOG and MONITOR see "(redacted)" for the arguments a command hid
 * (passwords of AUTH, HELLO, ACL SETUSER...). */
struct shown_args {
    const char *const *argv;
    const size_t *lens;
    const char *sbuf[16];
    size_t lbuf[16];
    const char **heap;
    size_t *heaplens;
};

static void shown_args_init(const struct client *c, struct shown_args *s) {
    s->argv = c->argv;
    s->lens = c->argvlen;
    s->heap = NULL;
    s->heaplens = NULL;
    if (LIKELY(c->redact == 0)) return;
    const char **v = s->sbuf;
    size_t *l = s->lbuf;
    if (c->argc > 16) {
        v = s->heap = xmalloc(sizeof(char *) * (size_t)c->argc);
        l = s->heaplens = xmalloc(sizeof(size_t) * (size_t)c->argc);
    }
    for (int i = 0; i < c->argc; i++) {
        bool hide = (c->redact >> (i < 63 ? i : 63)) & 1;
        v[i] = hide ? "(redacted)" : c->argv[i];
        l[i] = hide ? 10 : c->argvlen[i];
    }
    s->argv = v;
    s->lens = l;
}

static void shown_args_free(struct shown_args *s) {
    xfree(s->heap);
    xfree(s->heaplens);
}

static void locked_body(void *arg) {
    struct client *c = arg;
    run_body(c, c->cmd);
}

static void after_call(struct client *c, const struct command *cmd, int64_t start_us) {
    int64_t dur = time_mono_us() - start_us;
    /* A command blocked for a fan-out (CLIENT LIST/KILL: no block record)
     * is done here; one blocked on keys is accounted when it is served. */
    bool done = !(c->flags & CLIENT_BLOCKED) || c->block == NULL;
    stats_command_call(cmd, dur);
    if (done && cmdlat_enabled()) cmdlat_record(cmd->id, dur);
    bool want_slowlog = !(cmd->flags & CMD_SKIP_SLOWLOG) && slowlog_wants(dur) && done;
    bool want_monitor = atomic_load_explicit(&monitor_count, memory_order_relaxed) > 0 &&
                        !(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN));
    if (want_slowlog || want_monitor) {
        struct shown_args sa;
        shown_args_init(c, &sa);
        if (want_slowlog) slowlog_add(c->argc, sa.argv, sa.lens, dur, c->addr, c->name);
        if (want_monitor) feed_monitors(c, c->argc, sa.argv, sa.lens);
        shown_args_free(&sa);
    }
    if (latency_wants(dur / 1000)) latency_add((cmd->flags & CMD_FAST) ? "fast-command" : "command", dur / 1000);
}

void exec_call_locked(struct client *c, const struct command *cmd) {
    int64_t start = time_mono_us();
    c->cmd = cmd;
    exec_compute_keys(c, cmd);
    run_body(c, cmd);
    after_call(c, cmd, start);
}

void exec_call_locked_keys(struct client *c, const struct command *cmd) {
    int64_t start = time_mono_us();
    c->cmd = cmd;
    run_body(c, cmd);
    after_call(c, cmd, start);
}

void exec_call(struct client *c, const struct command *cmd) {
    int64_t start = time_mono_us();
    c->cmd = cmd;
    store_set_now(time_ms());
    uint64_t seals = log_thread_seals();
    if (cmd->nkeyspecs == 0 && !(cmd->flags & CMD_ALL_STRIPES)) {
        /* Keyless: runs without locks; store calls inside lock what they need. */
        run_body(c, cmd);
        /* A keyless command's effects (PUBLISH...) touch no key: their
         * log position needs no ordering against key writers. */
        if (log_staged()) log_seal(true);
        exec_store_after();
    } else {
        struct store_lockset ls;
        store_lockset_init(&ls);
        exec_add_locks(c, cmd, &ls);
        if (ls.n == 0 && !ls.all) {
            /* Keys in the spec but none in this request (e.g. optional). */
            run_body(c, cmd);
            exec_store_after();
        } else {
            store_run(&ls, (cmd->flags & CMD_WRITE) ? STORE_WRITE : STORE_READ, locked_body, c);
            if (UNLIKELY(c->flags & CLIENT_RERUN_ALL)) {
                /* A script needed more than its declared keys' stripes and
                 * did nothing yet: run it again holding every stripe. */
                store_lockset_init(&ls);
                store_lockset_all(&ls);
                store_run(&ls, STORE_WRITE, locked_body, c);
                c->flags &= ~CLIENT_RERUN_ALL;
            }
        }
    }
    /* WAIT waits for the log position after the client's last write. */
    if (UNLIKELY(log_thread_seals() != seals)) {
        c->woff = log_tail();
        /* A writable replica expires the keys its own clients wrote. */
        if (UNLIKELY(atomic_load_explicit(&repl_gates_on, memory_order_relaxed)) && !(c->flags & CLIENT_MASTER) &&
            repl_is_replica())
            for (int i = 0; i < c->nkeys; i++)
                repl_local_write(c->db, c->argv[c->keys[i].pos], c->argvlen[c->keys[i].pos]);
    }
    after_call(c, cmd, start);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static bool is_exec(const struct command *cmd) { return cmd && strcmp(cmd->fullname, "exec") == 0; }

/* Redis's rejectCommand: flag the transaction, and when the rejected
 * command is EXEC, discard the transaction with EXECABORT. `msg` is the
 * whole error ("OOM ...", "ERR ..."). */
static void reject(struct client *c, const char *msg) {
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    if (is_exec(c->cmd)) {
        multi_discard(c);
        reply_errorf(c, "EXECABORT Transaction discarded because of: %s", msg);
        return;
    }
    reply_error(c, msg);
}

/* Redis's rejectCommandFormat: a formatted message that gets "ERR " when
 * replied, but not inside EXECABORT's text. */
static PRINTF_FMT(2, 3) void rejectf(struct client *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (is_exec(c->cmd)) {
        reject(c, msg);
        return;
    }
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    reply_errorf(c, "ERR %s", msg);
}

static enum acl_log_ctx in_multi_ctx(const struct client *c) {
    return (c->flags & CLIENT_MULTI) ? ACL_LOG_CTX_MULTI : ACL_LOG_CTX_TOPLEVEL;
}

static bool is_tx_control(const struct command *cmd) {
    const char *n = cmd->fullname;
    return strcmp(n, "exec") == 0 || strcmp(n, "discard") == 0 || strcmp(n, "multi") == 0 ||
           strcmp(n, "watch") == 0 || strcmp(n, "quit") == 0 || strcmp(n, "reset") == 0;
}

static bool allowed_in_pubsub(const struct command *cmd) {
    const char *n = cmd->fullname;
    return strcmp(n, "ping") == 0 || strcmp(n, "subscribe") == 0 || strcmp(n, "ssubscribe") == 0 ||
           strcmp(n, "unsubscribe") == 0 || strcmp(n, "sunsubscribe") == 0 || strcmp(n, "psubscribe") == 0 ||
           strcmp(n, "punsubscribe") == 0 || strcmp(n, "quit") == 0 || strcmp(n, "reset") == 0;
}

static void unknown_command(struct client *c) {
    char args[256];
    size_t used = 0;
    args[0] = '\0';
    for (int i = 1; i < c->argc && used < 128; i++) {
        int room = 128 - (int)used;
        int k = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                         (int)MIN(c->argvlen[i], (size_t)room), c->argv[i]);
        if (k < 0) break;
        used += (size_t)k;
        if (used >= sizeof(args)) used = sizeof(args) - 1;
    }
    rejectf(c, "unknown command '%.128s', with args beginning with: %s", c->argv[0], args);
}

/* "POST" and "Host:" are HTTP, sent by cross-protocol attacks: close the
 * connection without a reply, logging at most once a minute (Redis). */
static _Atomic int64_t security_logged;

static bool is_http(const struct client *c) {
    return (c->argvlen[0] == 4 && strncasecmp(c->argv[0], "post", 4) == 0) ||
           (c->argvlen[0] == 5 && strncasecmp(c->argv[0], "host:", 5) == 0);
}

static void security_warning(struct client *c) {
    int64_t now = time_ms() / 1000, last = atomic_load(&security_logged);
    if ((now - last > 60 || last - now > 60) && atomic_compare_exchange_strong(&security_logged, &last, now))
        log_warn("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to "
                 "Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise "
                 "your Redis instance. Connection aborted.");
    client_close_async(c);
}

/* Does a request's command name equal cmd's (lowercase) name, ignoring case? */
static inline bool name_is(const struct command *cmd, const char *s, size_t n) {
    if (cmd->namelen != n) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (ch != cmd->name[i]) return false;
    }
    return true;
}

static void dispatch(struct client *c);
/* The ACL check of a restricted user's request: false after the denial
 * was replied (Redis's words) and logged. A client whose user was deleted
 * is being closed: it runs nothing more. */
static bool acl_allows(struct client *c, const struct command *cmd) {
    if (acl_user_deleted(c->user)) {
        client_close_async(c);
        return false;
    }
    int pos;
    enum acl_result r = exec_access_verdict(c, cmd, in_multi_ctx(c), &pos);
    if (r == ACL_OK) return true;
    char msg[256];
    if (r == ACL_DENIED_CMD)
        snprintf(msg, sizeof(msg), "NOPERM this user has no permissions to run the '%s' command", cmd->fullname);
    else if (r == ACL_DENIED_KEY)
        snprintf(msg, sizeof(msg), "NOPERM this user has no permissions to access one of the keys used as arguments");
    else if (r == ACL_DENIED_CHANNEL)
        snprintf(msg, sizeof(msg),
                 "NOPERM this user has no permissions to access one of the channels used as arguments");
    else
        snprintf(msg, sizeof(msg), "ERR no permission");
    reject(c, msg);
    return false;
}

void exec_dispatch(struct client *c) {
    if (LIKELY(!tracking_active())) {
        dispatch(c);
        return;
    }
    /* Someone tracks keys: changes carry this client as their author
     * (NOLOOP), and its own invalidations follow its reply. */
    store_track_set_actor(tracking_token(c));
    tracking_in_command(c);
    dispatch(c);
    tracking_command_done(c);
    tracking_in_command(NULL);
    tracking_flush_local();
    store_track_set_actor(0);
}

static void dispatch(struct client *c) {
    c->cmd = NULL;
    if (UNLIKELY(is_http(c))) {
        security_warning(c);
        return;
    }
    /* Clients tend to repeat a command: try the previous one first. */
    const struct command *cmd = c->lasttop;
    if (!(cmd && name_is(cmd, c->argv[0], c->argvlen[0]) && !exec_commands_renamed))
        cmd = exec_command_lookup(c->argv[0], c->argvlen[0]);
    if (cmd == NULL) {
        /* argv strings are not NUL-terminated: the %.*s in unknown_command
         * limits by length; the command name is cut at 128 by the format. */
        char name[130];
        size_t n = MIN(c->argvlen[0], sizeof(name) - 1);
        memcpy(name, c->argv[0], n);
        name[n] = '\0';
        const char *saved = c->argv[0];
        c->argv[0] = name;
        unknown_command(c);
        c->argv[0] = saved;
        return;
    }
    c->lasttop = cmd;
    if (cmd->nsubcmds > 0 && c->argc >= 2) {
        const struct command *sub = exec_subcommand_lookup(cmd, c->argv[1], c->argvlen[1]);
        if (sub == NULL) {
            char upper[64];
            size_t n = MIN(strlen(cmd->name), sizeof(upper) - 1);
            for (size_t i = 0; i < n; i++) upper[i] = (char)((cmd->name[i] >= 'a' && cmd->name[i] <= 'z') ? cmd->name[i] - 32 : cmd->name[i]);
            upper[n] = '\0';
            rejectf(c, "unknown subcommand '%.*s'. Try %s HELP.", (int)MIN(c->argvlen[1], (size_t)128),
                    c->argv[1], upper);
            return;
        }
        cmd = sub;
    }
    c->cmd = cmd;
    c->lastcmd = cmd;
    if ((cmd->arity > 0 && cmd->arity != c->argc) || (c->argc < -cmd->arity)) {
        rejectf(c, "wrong number of arguments for '%s' command", cmd->fullname);
        return;
    }
    /* Authentication and ACLs (exec/access.h). A client of an unrestricted
     * user (the default one, as configured out of the box) pays two loads. */
    bool master = (c->flags & CLIENT_MASTER) != 0;
    if (UNLIKELY(!c->authenticated) && acl_auth_required() && !(cmd->flags & CMD_NO_AUTH) && !master) {
        reject(c, "NOAUTH Authentication required.");
        return;
    }
    /* DEBUG LOADAOF / RELOAD on another connection: only commands flagged
     * "loading" run meanwhile (Redis's LOADING error). */
    if (UNLIKELY(persist_loading()) && !(cmd->flags & CMD_LOADING)) {
        reject(c, "LOADING Redis is loading the dataset in memory");
        return;
    }
    bool in_multi = (c->flags & CLIENT_MULTI) != 0;
    if (in_multi && (cmd->flags & CMD_NO_MULTI)) {
        rejectf(c, "Command not allowed inside a transaction");
        return;
    }
    if (UNLIKELY(!acl_user_unrestricted(c->user)) && !master && !acl_allows(c, cmd)) return;
    /* A replica of ours sends REPLCONF ACKs, nothing about keys (Redis 7.0). */
    if (UNLIKELY(c->flags & CLIENT_REPLICA) && (cmd->flags & (CMD_WRITE | CMD_READONLY | CMD_MAY_REPLICATE))) {
        log_warn("== CRITICAL == This master is sending an error to its replica: 'Replica can't interact with the "
                 "keyspace' after processing the command '%s'",
                 cmd->fullname);
        rejectf(c, "Replica can't interact with the keyspace");
        return;
    }
    /* A script runs past busy-reply-threshold: BUSY, except allow-busy
     * commands (before eviction: it would wait for the script's stripes). */
    if (UNLIKELY(script_any_busy_fast())) {
        const char *msg = NULL;
        int g = script_busy_gate(c, cmd, &msg);
        if (g == 2) return;
        if (g == 1) {
            reject(c, msg);
            return;
        }
    }
    /* The flags that decide below: a script's own declared flags for the
     * EVAL/FCALL family (Redis's getCommandFlags), else the command's. */
    uint64_t cflags = (cmd->flags & CMD_NO_MANDATORY_KEYS) ? script_command_flags(c, cmd) : cmd->flags;
    /* Out of memory: evict, or refuse commands that may grow memory (a
     * replica leaves that to its primary: replica-ignore-maxmemory). */
    if (store_get_maxmemory() && !master && !(repl_gates_on && repl_ignores_maxmemory())) {
        bool is_exec = strcmp(cmd->fullname, "exec") == 0;
        bool denyoom = (cflags & CMD_DENYOOM) != 0;
        /* Queueing can grow memory without bound: refuse it too, but never
         * refuse leaving the transaction. */
        if (in_multi && !is_exec && strcmp(cmd->fullname, "discard") != 0 && strcmp(cmd->fullname, "quit") != 0 &&
            strcmp(cmd->fullname, "reset") != 0)
            denyoom = true;
        if (is_exec && in_multi) denyoom = multi_flags(c) & CMD_DENYOOM;
        int evicted = store_evict_if_needed();
        /* Evicted keys are announced before the reply (Redis 7.0). */
        if (tracking_active()) tracking_flush_local();
        if (evicted != 0 && denyoom) {
            reject(c, RERR_OOM);
            return;
        }
    }
    if (tracking_active()) {
        tracking_limit();
        tracking_flush_local();
    }
    /* A failed background save with stop-writes-on-bgsave-error and save
     * points: refuse writes (and PING), as Redis does. */
    if (UNLIKELY(persist_writes_refused()) && !master) {
        bool is_write = (cflags & CMD_WRITE) ||
                        (strcmp(cmd->fullname, "exec") == 0 && in_multi && (multi_flags(c) & CMD_WRITE));
        char msg[256];
        const char *why = persist_refusal(msg, sizeof(msg));
        if (why && (is_write || strcmp(cmd->fullname, "ping") == 0)) {
            reject(c, why);
            return;
        }
    }
    /* Replication: NOREPLICAS and READONLY (writes), MASTERDOWN (stale
     * data), LOADING (a full sync being loaded), in Redis's order. */
    if (UNLIKELY(atomic_load_explicit(&repl_gates_on, memory_order_relaxed)) && !master) {
        bool exec_q = strcmp(cmd->fullname, "exec") == 0 && in_multi;
        bool is_write = (cmd->flags & CMD_WRITE) || (exec_q && (multi_flags(c) & CMD_WRITE));
        bool deny_stale = !(cmd->flags & CMD_STALE) || (exec_q && (multi_inv_flags(c) & CMD_STALE));
        bool deny_loading = !(cmd->flags & CMD_LOADING) || (exec_q && (multi_inv_flags(c) & CMD_LOADING));
        const char *msg = repl_gate(is_write, deny_stale, deny_loading);
        if (msg) {
            reject(c, msg);
            return;
        }
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !allowed_in_pubsub(cmd)) {
        rejectf(c,
                "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                "allowed in this context",
                cmd->fullname);
        return;
    }
    /* CLIENT PAUSE: park the client until the pause ends. */
    enum exec_pause ps = exec_pause_state();
    if (ps != PAUSE_OFF) {
        bool may_write = (cflags & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
        if (strcmp(cmd->fullname, "exec") == 0 && in_multi)
            may_write = (multi_flags(c) & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
        if (ps == PAUSE_ALL || may_write) {
            client_park_paused(c);
            return;
        }
    }
    if (in_multi && !is_tx_control(cmd)) {
        multi_queue(c);
        obuf_append(c->out, "+QUEUED\r\n", 9);
        return;
    }
    exec_call(c, cmd);
}

static _Atomic bool cron_paused;
void exec_set_cron_paused(bool paused) { atomic_store_explicit(&cron_paused, paused, memory_order_relaxed); }
bool exec_cron_paused(void) { return atomic_load_explicit(&cron_paused, memory_order_relaxed); }

/* ---- setup ------------------------------------------------------------------------------ */

void exec_setup(void) {
    stats_setup();
    client_setup();
    pubsub_setup();
    block_setup();
    tracking_setup();
    script_setup();
}

void exec_teardown(void) {
    script_teardown();
    tracking_teardown();
    block_teardown();
    pubsub_teardown();
    client_teardown();
    stats_teardown();
    xfree(monitors);
    monitors = NULL;
    nmonitors = capmonitors = 0;
}

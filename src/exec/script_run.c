/*
 * exec/script_run.c - one run of a script or function: the checks before
 * it, its stripes, the commands it calls, its time limit, BUSY and KILL.
 *
 * A run (struct srun, one per worker thread at a time: EVAL and FCALL are
 * noscript, so runs never nest) goes:
 *
 *   prepare   flag checks of Redis's scriptPrepareForRun (write flag with
 *             *_RO, allow-oom under maxmemory ...)
 *   section   the caller's command already runs inside store_run with the
 *             stripes of its declared keys (dispatch, via the key finders of
 *             script_eval.c/script_func.c) or of its transaction (EXEC);
 *             with no declared key the run opens its own section
 *   call      lua_pcall of the compiled chunk / registered function, with
 *             the clock frozen and a count hook every 100k instructions
 *   reply     after the section: the Lua value (or error) becomes the reply
 *
 * Undeclared keys. A command the script calls may name a key whose stripe
 * the section does not hold. store_hold() takes it when that cannot
 * deadlock (a higher stripe: wait; a lower one: try-lock). When it cannot:
 *   - if the script has not written yet, the run is abandoned (an error it
 *     cannot catch: the hook re-raises it on every line) and re-run with
 *     every stripe held: by this file when it opened the section, else by
 *     dispatch (CLIENT_RERUN_ALL); inside EXEC a re-run is impossible;
 *   - otherwise the call fails with "Script attempted to access an
 *     undeclared key ..." (the wording follows Redis's cluster errors).
 *   Either way the script is remembered (`learned`) and later runs take
 *   every stripe up front, so that error can only hit a script's first
 *   contended run. Commands that walk the keyspace (KEYS, SCAN, RANDOMKEY,
 *   FLUSHALL...) need every stripe the same way. With lua-strict-keys yes,
 *   an undeclared key outside the held stripes is always an error unless
 *   the script has the allow-undeclared-keys flag (which takes every stripe
 *   from the start).
 *
 * Busy scripts. After busy-reply-threshold ms the hook marks the run busy:
 * the global count `script_nbusy` makes dispatch answer -BUSY to commands
 * without allow-busy on every thread, and the hook serves this thread's
 * other connections (client_poll_nested) so SCRIPT KILL, FUNCTION KILL and
 * FUNCTION STATS work even from the same thread; those run there directly,
 * everything else gets -BUSY. This is the one place where I/O happens with
 * stripe locks held, as in Redis where the whole server waits.
 *
 * Kill. Each worker has a slot whose atomic state word is
 * (run generation << 32 | RUNNING | EVAL | DIRTY | TIMEDOUT | KILLED).
 * SCRIPT/FUNCTION KILL (any thread) CAS KILLED in when the run is not
 * DIRTY; the script thread CASes DIRTY in before a write unless KILLED, so
 * a killed script never writes. The name and command of a busy run are
 * copied into the slot (under its mutex) for FUNCTION STATS.
 *
 * Thread context: [owner] except the slots, script_nbusy and options [any].
 */
#include "exec/script_int.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/str.h"
#include "base/time.h"
#include "config/config.h"
#include "exec/access.h"
#include "exec/exec.h"
#include "exec/multi.h"
#include "exec/reply.h"
#include "exec/stats.h"
#include "exec/tracking.h"
#include "repl/log.h"
#include "repl/repl.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define HOOK_EVERY 100000
#define BUSY_EVAL_MSG "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define BUSY_FUNC_MSG "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
#define KILLED_MSG "-ERR Script killed by user with SCRIPT KILL..."
static const char RESTART_MSG[] = "-ERR Script needs every lock stripe: run again";

/* ---- options ------------------------------------------------------------------------------ */

static _Atomic long long busy_threshold_ms = 5000;
static _Atomic bool disable_deny;
static _Atomic bool strict_keys;
static _Atomic bool shutting_down;

static int apply_threshold(long long v, char *err) {
    atomic_store(&busy_threshold_ms, v);
    return 0;
}
static int apply_strict(long long v, char *err) {
    atomic_store(&strict_keys, v != 0);
    return 0;
}

static struct config_option options[] = {
    {"busy-reply-threshold", "lua-time-limit", CFG_INT, 0, "5000", 0, LLONG_MAX, NULL, apply_threshold, NULL, NULL,
     NULL, 0, NULL},
    {"lua-strict-keys", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_strict, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void script_set_disable_deny(bool on) { atomic_store(&disable_deny, on); }
void script_shutdown_notify(void) { atomic_store(&shutting_down, true); }

/* ---- slots ---------------------------------------------------------------------------------- */

#define ST_RUNNING 1u
#define ST_EVAL 2u
#define ST_DIRTY 4u
#define ST_TIMEDOUT 8u
#define ST_KILLED 16u
#define ST_BITS 0xffffffffull

struct sslot {
    _Atomic uint64_t state;
    _Atomic int64_t start_us;
    pthread_mutex_t mu; /* guards the copies below (set while TIMEDOUT) */
    char *name;
    int argc;
    char **argv;
    size_t *lens;
} CACHE_ALIGNED;

static struct sslot slots[WORKER_MAX + 1];
_Atomic int script_nbusy;

static struct sslot *my_slot(void) {
    int i = worker_self_id();
    return &slots[i >= 0 && i < WORKER_MAX ? i : WORKER_MAX];
}

/* ---- the run ---------------------------------------------------------------------------------- */

#define R_READONLY 1u
#define R_ALLOW_OOM 2u
#define R_DIRTY 4u
#define R_TIMEDOUT 8u
#define R_RESTART 16u  /* abandon: re-run holding every stripe */
#define R_ABORTING 32u /* killed or restarting: the hook raises on every line */

struct srun {
    struct client *caller;
    struct client *sc;
    const struct srun_desc *d;
    unsigned st;
    bool oom;
    bool own_section;
    bool in_exec;
    int repl;
    int resp;
    int64_t start_us;
    uint64_t gen;
    struct sslot *slot;
    int err; /* lua_pcall status */
    int base; /* Lua stack top before the call */
};

static __thread struct srun *cur;
static __thread struct client *tl_sc;
static __thread uint64_t rng;
static __thread bool rng_seeded;
static __thread struct buf outbuf; /* a reply gathered from several chunks */

bool srun_active(void) { return cur != NULL; }
struct client *srun_caller(void) { return cur ? cur->caller : NULL; }
void srun_set_resp(int resp) {
    if (cur) cur->resp = resp;
}
int srun_get_resp(void) { return cur ? cur->resp : 2; }
void srun_set_repl(int flags) {
    if (cur) cur->repl = flags;
}

/* drand48's generator (48-bit LCG), seeded from the OS per thread. */
double srun_random(void) {
    if (!rng_seeded) {
        rng = rand_u64() & 0xffffffffffffull;
        rng_seeded = true;
    }
    rng = (0x5DEECE66Dull * rng + 0xB) & 0xffffffffffffull;
    uint32_t v = (uint32_t)(rng >> 17);
    return (double)(v % INT32_MAX) / (double)INT32_MAX;
}

void srun_seed(long seed) {
    rng = (((uint64_t)(uint32_t)seed << 16) | 0x330E) & 0xffffffffffffull;
    rng_seeded = true;
}

static struct client *script_client(void) {
    if (tl_sc == NULL) {
        struct client *sc = xcalloc(1, sizeof(*sc));
        sc->worker = worker_self();
        sc->resp = 2;
        obuf_init(&sc->obuf);
        sc->out = &sc->obuf;
        store_watch_init(&sc->watch);
        sc->flags = CLIENT_SCRIPT | CLIENT_IN_EXEC;
        snprintf(sc->addr, sizeof(sc->addr), "lua");
        snprintf(sc->laddr, sizeof(sc->laddr), "lua");
        tl_sc = sc;
    }
    return tl_sc;
}

void srun_thread_cleanup(void) {
    if (tl_sc) {
        obuf_clear(&tl_sc->obuf);
        xfree(tl_sc->keys);
        xfree(tl_sc);
        tl_sc = NULL;
    }
    buf_free(&outbuf);
}

/* ---- busy ------------------------------------------------------------------------------------ */

bool script_any_busy(void) { return atomic_load_explicit(&script_nbusy, memory_order_relaxed) > 0; }

static void enter_busy(struct srun *r) {
    int64_t ms = (time_mono_us() - r->start_us) / 1000;
    log_warn("Slow script detected: still in execution after %lld milliseconds. You can try killing the script "
             "using the %s command. Script name is: %s.",
             (long long)ms, r->d->eval ? "SCRIPT KILL" : "FUNCTION KILL", r->d->name);
    struct sslot *s = r->slot;
    struct client *c = r->caller;
    pthread_mutex_lock(&s->mu);
    s->name = xstrdup(r->d->name);
    s->argc = c->argc;
    s->argv = xmalloc((size_t)c->argc * sizeof(char *));
    s->lens = xmalloc((size_t)c->argc * sizeof(size_t));
    for (int i = 0; i < c->argc; i++) {
        s->argv[i] = xmemdup(c->argv[i], c->argvlen[i] + 1);
        s->argv[i][c->argvlen[i]] = '\0';
        s->lens[i] = c->argvlen[i];
    }
    atomic_fetch_or(&s->state, ST_TIMEDOUT);
    pthread_mutex_unlock(&s->mu);
    r->st |= R_TIMEDOUT;
    atomic_fetch_add(&script_nbusy, 1);
}

static void leave_busy(struct srun *r) {
    struct sslot *s = r->slot;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->argc; i++) xfree(s->argv[i]);
    xfree(s->argv);
    xfree(s->lens);
    xfree(s->name);
    s->argv = NULL;
    s->lens = NULL;
    s->name = NULL;
    s->argc = 0;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_sub(&script_nbusy, 1);
    r->st &= ~R_TIMEDOUT;
}

/* Raise the abort error now and on every later line (pcall cannot keep a
 * killed or restarting script alive). */
static void abort_hook(lua_State *L, lua_Debug *ar) {
    if (cur && (cur->st & R_RESTART)) slua_raise(L, RESTART_MSG);
    slua_raise(L, KILLED_MSG);
}

void srun_hook(lua_State *L, lua_Debug *ar) {
    struct srun *r = cur;
    if (r == NULL) return;
    if (r->st & R_ABORTING) {
        abort_hook(L, ar);
        return;
    }
    uint64_t st = atomic_load_explicit(&r->slot->state, memory_order_acquire);
    if ((st & ST_KILLED) || atomic_load_explicit(&shutting_down, memory_order_relaxed)) {
        log_warn("Lua script killed by user with SCRIPT KILL.");
        r->st |= R_ABORTING;
        lua_sethook(L, srun_hook, LUA_MASKLINE, 0);
        slua_raise(L, KILLED_MSG);
        return;
    }
    if (!(r->st & R_TIMEDOUT)) {
        long long limit = atomic_load_explicit(&busy_threshold_ms, memory_order_relaxed);
        if (limit <= 0 || (time_mono_us() - r->start_us) / 1000 < limit) return;
        enter_busy(r);
    }
    client_poll_nested(r->caller);
    st = atomic_load_explicit(&r->slot->state, memory_order_acquire);
    if (st & ST_KILLED) {
        log_warn("Lua script killed by user with SCRIPT KILL.");
        r->st |= R_ABORTING;
        lua_sethook(L, srun_hook, LUA_MASKLINE, 0);
        slua_raise(L, KILLED_MSG);
    }
}

int script_busy_gate(struct client *c, const struct command *cmd, const char **msg) {
    if (cur && (cur->st & R_TIMEDOUT)) {
        /* Nested: this thread runs the busy script; only these run here. */
        const char *n = cmd->fullname;
        if (strcmp(n, "script|kill") == 0 || strcmp(n, "function|kill") == 0 ||
            strcmp(n, "function|stats") == 0) {
            c->cmd = cmd;
            cmd->proc(c);
            return 2;
        }
        *msg = cur->d->eval ? BUSY_EVAL_MSG : BUSY_FUNC_MSG;
        return 1;
    }
    if (cmd->flags & CMD_ALLOW_BUSY) return 0;
    *msg = BUSY_FUNC_MSG;
    for (int i = 0; i <= WORKER_MAX; i++) {
        uint64_t st = atomic_load_explicit(&slots[i].state, memory_order_relaxed);
        if ((st & (ST_RUNNING | ST_TIMEDOUT)) == (ST_RUNNING | ST_TIMEDOUT)) {
            if (st & ST_EVAL) *msg = BUSY_EVAL_MSG;
            return 1;
        }
    }
    /* The busy script ended meanwhile. */
    return 0;
}

/* ---- KILL and STATS ------------------------------------------------------------------------------ */

void script_kill_command(struct client *c, bool eval) {
    for (;;) {
        struct sslot *target = NULL;
        uint64_t st = 0;
        for (int i = 0; i <= WORKER_MAX; i++) {
            uint64_t s = atomic_load(&slots[i].state);
            if (!(s & ST_RUNNING)) continue;
            if (target == NULL || ((s & ST_TIMEDOUT) && !(st & ST_TIMEDOUT))) {
                target = &slots[i];
                st = s;
            }
        }
        if (target == NULL) {
            reply_error(c, "NOTBUSY No scripts in execution right now.");
            return;
        }
        if (st & ST_DIRTY) {
            reply_error(c, "UNKILLABLE Sorry the script already executed write commands against the dataset. You "
                           "can either wait the script termination or kill the server in a hard way using the "
                           "SHUTDOWN NOSAVE command.");
            return;
        }
        if (eval && !(st & ST_EVAL)) {
            reply_error(c, BUSY_FUNC_MSG);
            return;
        }
        if (!eval && (st & ST_EVAL)) {
            reply_error(c, BUSY_EVAL_MSG);
            return;
        }
        if (atomic_compare_exchange_strong(&target->state, &st, st | ST_KILLED)) {
            reply_ok(c);
            return;
        }
    }
}

bool srun_busy_info(struct srun_busy *out) {
    for (int i = 0; i <= WORKER_MAX; i++) {
        struct sslot *s = &slots[i];
        uint64_t st = atomic_load(&s->state);
        if ((st & (ST_RUNNING | ST_TIMEDOUT)) != (ST_RUNNING | ST_TIMEDOUT)) continue;
        pthread_mutex_lock(&s->mu);
        if (s->name == NULL) {
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        out->eval = (st & ST_EVAL) != 0;
        out->name = xstrdup(s->name);
        out->argc = s->argc;
        out->argv = xmalloc((size_t)s->argc * sizeof(char *));
        out->lens = xmalloc((size_t)s->argc * sizeof(size_t));
        for (int j = 0; j < s->argc; j++) {
            out->argv[j] = xmemdup(s->argv[j], s->lens[j] + 1);
            out->lens[j] = s->lens[j];
        }
        out->duration_ms = (time_mono_us() - atomic_load(&s->start_us)) / 1000;
        pthread_mutex_unlock(&s->mu);
        return true;
    }
    return false;
}

void srun_busy_free(struct srun_busy *b) {
    for (int j = 0; j < b->argc; j++) xfree(b->argv[j]);
    xfree(b->argv);
    xfree(b->lens);
    xfree(b->name);
}

/* ---- commands called by scripts ------------------------------------------------------------------- */

/* Mark the run as having written; false when it was killed first. */
static bool mark_dirty(struct srun *r) {
    if (r->st & R_DIRTY) return true;
    uint64_t st = atomic_load(&r->slot->state);
    for (;;) {
        if (st & ST_KILLED) return false;
        if (atomic_compare_exchange_weak(&r->slot->state, &st, st | ST_DIRTY)) break;
    }
    r->st |= R_DIRTY;
    return true;
}

/* Keyless commands that walk or replace the keyspace on their own locks:
 * in a script they need every stripe. */
static bool walks_keyspace(const struct command *cmd) {
    if (cmd->flags & CMD_ALL_STRIPES) return true;
    if (cmd->nkeyspecs > 0) return false;
    return cmd->group && strcmp(cmd->group, "generic") == 0;
}

/* The stripes the command needs are not all held and cannot be taken:
 * restart when possible, else the error. */
static const char *cannot_lock(struct srun *r, bool whole) {
    if (r->d->learned) atomic_store_explicit(r->d->learned, true, memory_order_relaxed);
    if (!(r->st & R_DIRTY) && (r->own_section || !r->in_exec)) {
        r->st |= R_RESTART | R_ABORTING;
        slua_install_hook(r->d->L, srun_hook, LUA_MASKLINE, 0);
        return RESTART_MSG;
    }
    if (whole)
        return "-ERR Script attempted to run a command on the whole keyspace without holding every lock stripe "
               "(after it wrote, or inside MULTI): use the 'allow-undeclared-keys' flag";
    return "-ERR Script attempted to access an undeclared key in a lock stripe held by another client (after it "
           "wrote, or inside MULTI): declare every key in KEYS, or use the 'allow-undeclared-keys' flag";
}

/* Make sure the section holds what sc's command touches. NULL or error. */
static const char *hold_stripes(struct srun *r, struct client *sc, const struct command *cmd) {
    bool whole = walks_keyspace(cmd) || !exec_compute_keys(sc, cmd);
    if (whole) {
        if (store_holds_all()) return NULL;
        if (r->d->learned) atomic_store_explicit(r->d->learned, true, memory_order_relaxed);
        return store_hold_all() ? NULL : cannot_lock(r, true);
    }
    bool strict = atomic_load_explicit(&strict_keys, memory_order_relaxed) && !(r->d->flags & SCRIPT_F_UNDECLARED);
    for (int i = 0; i < sc->nkeys; i++) {
        uint16_t slot = sc->keys[i].slot;
        if (store_holds(slot)) continue;
        if (strict)
            return "-ERR Script attempted to access a key that is not declared in KEYS and not in the lock stripes "
                   "of the declared keys (lua-strict-keys is on)";
        if (!store_hold(slot)) return cannot_lock(r, false);
        if (r->d->learned) atomic_store_explicit(r->d->learned, true, memory_order_relaxed);
    }
    return NULL;
}

/* A rejection: counted as Redis does (error stats, the command's
 * rejected_calls), then returned to Lua. */
static const char *reject(struct client *sc, const struct command *cmd, const char *msg) {
    sc->cmd = cmd;
    stats_set_executing(false);
    reply_error(sc, msg + 1); /* messages are "-CODE text" */
    stats_set_executing(true);
    obuf_clear(&sc->obuf);
    obuf_init(&sc->obuf);
    return msg;
}

const char *srun_command(int argc, const char **argv, size_t *lens, const char **out, size_t *outlen) {
    struct srun *r = cur;
    struct client *sc = r->sc;
    if (r->st & R_ABORTING) return (r->st & R_RESTART) ? RESTART_MSG : KILLED_MSG;
    sc->argc = argc;
    sc->argv = argv;
    sc->argvlen = lens;
    const struct command *cmd = exec_command_lookup(argv[0], lens[0]);
    if (cmd && cmd->nsubcmds > 0 && argc >= 2) cmd = exec_subcommand_lookup(cmd, argv[1], lens[1]);
    if (cmd == NULL) return reject(sc, NULL, "-ERR Unknown Redis command called from script");
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity)
        return reject(sc, cmd, "-ERR Wrong number of args calling Redis command from script");
    if ((cmd->flags & CMD_NOSCRIPT) && !atomic_load_explicit(&disable_deny, memory_order_relaxed))
        return reject(sc, cmd, "-ERR This Redis command is not allowed from script");
    if (UNLIKELY(sc->user != NULL && !acl_user_unrestricted(sc->user))) { /* NULL: an internal caller */
        /* The caller's ACL rules apply to what its script calls (Redis 7.0). */
        int pos;
        switch (exec_access_verdict(sc, cmd, ACL_LOG_CTX_LUA, &pos)) {
        case ACL_OK:
            break;
        case ACL_DENIED_CMD:
            return reject(sc, cmd, "-ERR The user executing the script can't run this command or subcommand");
        case ACL_DENIED_KEY:
            return reject(sc, cmd,
                          "-ERR The user executing the script can't access at least one of the keys mentioned in "
                          "the command arguments");
        case ACL_DENIED_CHANNEL:
            return reject(sc, cmd,
                          "-ERR The user executing the script can't publish to the channel mentioned in the command");
        default:
            return reject(sc, cmd, "-ERR The user executing the script lacking the permissions for the command");
        }
    }
    if ((r->st & R_READONLY) && (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return reject(sc, cmd, "-ERR Write commands are not allowed from read-only scripts.");
    /* A read-only replica, or a primary without enough good replicas
     * (min-replicas-to-write), refuses the script's writes (Redis's
     * scriptVerifyWriteCommandAllow). */
    if (UNLIKELY(atomic_load_explicit(&repl_gates_on, memory_order_relaxed)) && (cmd->flags & CMD_WRITE) &&
        !(r->caller->flags & CLIENT_MASTER)) {
        const char *msg = repl_gate(true, false, false);
        if (msg) {
            char buf[160];
            snprintf(buf, sizeof(buf), "-%s", msg);
            return reject(sc, cmd, buf);
        }
    }
    if (!(r->st & R_ALLOW_OOM) && !(r->st & R_DIRTY) && r->oom && store_get_maxmemory() &&
        (cmd->flags & CMD_DENYOOM))
        return reject(sc, cmd, "-" RERR_OOM);
    const char *lockerr = hold_stripes(r, sc, cmd);
    if (lockerr == RESTART_MSG) return lockerr; /* not an error of the script: not counted */
    if (lockerr) return reject(sc, cmd, lockerr);
    if ((cmd->flags & CMD_WRITE) && !mark_dirty(r)) {
        r->st |= R_ABORTING;
        slua_install_hook(r->d->L, srun_hook, LUA_MASKLINE, 0);
        return KILLED_MSG;
    }
    struct log_mark mark;
    log_mark_get(&mark);
    sc->resp = r->resp;
    exec_call_locked_keys(sc, cmd); /* hold_stripes computed the keys */
    /* Client-side caching: a script that reads makes its caller track every
     * key it declared (Redis 7.0). The declared keys' stripes are held. */
    if (UNLIKELY(r->caller->trk != NULL) && (cmd->flags & CMD_READONLY)) tracking_remember_keys(r->caller);
    stats_set_executing(true); /* the script's own command is still running */
    /* redis.set_repl(REPL_NONE): the command's effects are not propagated.
     * (One log feeds both AOF and replicas: REPL_AOF and REPL_REPLICA
     * alone both propagate.) */
    if (r->repl == 0) log_mark_rewind(&mark);
    /* The reply, contiguous: usually one chunk. */
    struct obuf *ob = &sc->obuf;
    if (ob->head == NULL) {
        *out = "";
        *outlen = 0;
    } else if (ob->head->next == NULL && ob->head->ref == NULL) {
        *out = ob->head->data;
        *outlen = ob->head->len;
    } else {
        outbuf.len = 0;
        struct iovec iov[64];
        size_t done = 0, total = obuf_pending(ob);
        while (done < total) {
            int n = obuf_iov(ob, iov, 64);
            size_t got = 0;
            for (int i = 0; i < n; i++) {
                buf_append(&outbuf, iov[i].iov_base, iov[i].iov_len);
                got += iov[i].iov_len;
            }
            obuf_advance(ob, got);
            done += got;
        }
        *out = outbuf.data;
        *outlen = outbuf.len;
    }
    return NULL;
}

void srun_command_done(void) {
    struct client *sc = cur->sc;
    obuf_clear(&sc->obuf);
    obuf_init(&sc->obuf);
    if (outbuf.cap > 1024 * 1024) buf_free(&outbuf);
}

/* ---- running ------------------------------------------------------------------------------------ */

static void push_args_and_call(struct srun *r) {
    const struct srun_desc *d = r->d;
    struct client *c = r->caller;
    lua_State *L = d->L;
    int nargs = c->argc - 3 - d->numkeys;
    const char *const *keys = c->argv + 3;
    const size_t *klens = c->argvlen + 3;
    r->base = lua_gettop(L);
    slua_push_errhandler(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->ref);
    if (d->eval) {
        slua_set_keys_argv(L, keys, klens, d->numkeys, nargs);
        r->err = lua_pcall(L, 0, 1, -2);
    } else {
        slua_push_array(L, keys, klens, d->numkeys);
        slua_push_array(L, keys + d->numkeys, klens + d->numkeys, nargs);
        r->err = lua_pcall(L, 2, 1, -4);
    }
    /* Stack: errhandler, result-or-error. */
}

static void run_locked(void *arg) {
    struct srun *r = arg;
    struct client *sc = r->sc;
    sc->db = r->caller->db;
    sc->user = r->caller->user; /* borrowed: the caller holds it while its script runs */
    r->resp = 2;
    push_args_and_call(r);
}

/* The caller's declared keys' stripes (own section). */
static void declared_lockset(const struct srun *r, struct store_lockset *ls) {
    store_lockset_init(ls);
    if ((r->d->flags & SCRIPT_F_UNDECLARED) || (r->d->learned && atomic_load(r->d->learned))) {
        store_lockset_all(ls);
        return;
    }
    const struct client *c = r->caller;
    for (int i = 0; i < r->d->numkeys; i++) store_lockset_add(ls, store_slot(c->argv[3 + i], c->argvlen[3 + i]));
}

/* Flag checks before running (Redis's scriptPrepareForRun); false after
 * replying the error. */
static bool prepare(struct client *c, const struct srun_desc *d, struct srun *r) {
    bool over = store_get_maxmemory() && store_over_maxmemory();
    if (!(d->flags & SCRIPT_F_COMPAT)) {
        bool gates = atomic_load_explicit(&repl_gates_on, memory_order_relaxed) && !(c->flags & CLIENT_MASTER);
        if (!(d->flags & SCRIPT_F_NO_WRITES) && gates && repl_is_replica() && repl_gate(true, false, false)) {
            reply_error(c, "READONLY Can not run script with write flag on readonly replica");
            return false;
        }
        if (!(d->flags & SCRIPT_F_NO_WRITES) && d->ro) {
            reply_error(c, "ERR Can not execute a script with write flag using *_ro command.");
            return false;
        }
        if (!(d->flags & SCRIPT_F_NO_WRITES) && gates && !repl_is_replica()) {
            const char *msg = repl_gate(true, false, false);
            if (msg) {
                reply_error(c, msg);
                return false;
            }
        }
        if (over && !(d->flags & (SCRIPT_F_ALLOW_OOM | SCRIPT_F_NO_WRITES))) {
            reply_error(c, "OOM allow-oom flag is not set on the script, can not run it when used memory > "
                           "'maxmemory'");
            return false;
        }
    }
    memset(r, 0, sizeof(*r));
    r->caller = c;
    r->d = d;
    r->oom = over;
    r->repl = SRUN_REPL_AOF | SRUN_REPL_REPLICA;
    if (d->ro || (!(d->flags & SCRIPT_F_COMPAT) && (d->flags & SCRIPT_F_NO_WRITES))) r->st |= R_READONLY;
    if (!(d->flags & SCRIPT_F_COMPAT) && (d->flags & SCRIPT_F_ALLOW_OOM)) r->st |= R_ALLOW_OOM;
    return true;
}

static void begin(struct srun *r) {
    r->sc = script_client();
    r->slot = my_slot();
    r->start_us = time_mono_us();
    r->in_exec = (r->caller->flags & CLIENT_IN_EXEC) != 0;
    uint64_t st = atomic_load(&r->slot->state);
    r->gen = (st >> 32) + 1;
    atomic_store(&r->slot->start_us, r->start_us);
    atomic_store(&r->slot->state, (r->gen << 32) | ST_RUNNING | (r->d->eval ? ST_EVAL : 0));
    if (!r->in_exec) store_freeze_now(true);
    cur = r;
    slua_install_hook(r->d->L, srun_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

static void end(struct srun *r) {
    slua_install_hook(r->d->L, NULL, 0, 0);
    if (r->st & R_TIMEDOUT) leave_busy(r);
    atomic_store(&r->slot->state, r->gen << 32);
    if (!r->in_exec) store_freeze_now(false);
    cur = NULL;
    r->sc->resp = 2;
    obuf_clear(&r->sc->obuf);
    obuf_init(&r->sc->obuf);
}

void srun_script(struct client *c, const struct srun_desc *d) {
    struct srun r;
    if (!prepare(c, d, &r)) return;
    lua_State *L = d->L;
    begin(&r);
    if (store_in_run()) {
        r.own_section = false;
        run_locked(&r);
    } else {
        r.own_section = true;
        struct store_lockset ls;
        declared_lockset(&r, &ls);
        store_run(&ls, STORE_WRITE, run_locked, &r);
        if (r.st & R_RESTART) {
            lua_settop(L, r.base);
            r.st &= ~(R_RESTART | R_ABORTING);
            slua_install_hook(L, srun_hook, LUA_MASKCOUNT, HOOK_EVERY);
            store_lockset_init(&ls);
            store_lockset_all(&ls);
            store_run(&ls, STORE_WRITE, run_locked, &r);
        }
    }
    bool rerun = (r.st & R_RESTART) != 0;
    int err = r.err;
    end(&r);
    if (rerun) {
        /* Inside dispatch's section: it runs the command again with every
         * stripe (no reply now). Inside EXEC cannot_lock never asks. */
        lua_settop(L, r.base);
        c->flags |= CLIENT_RERUN_ALL;
        return;
    }
    /* Stack: errhandler, result. The reply is built after unlocking. */
    if (err) {
        slua_reply_error(c, L, d->name);
    } else {
        cur = &r; /* slua_reply reads the script's RESP version */
        slua_reply(c, L);
        cur = NULL;
    }
    lua_settop(L, r.base);
}

/* ---- setup ------------------------------------------------------------------------------------- */

void srun_setup(void) {
    config_register(options);
    for (int i = 0; i <= WORKER_MAX; i++) pthread_mutex_init(&slots[i].mu, NULL);
}

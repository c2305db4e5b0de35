/*
 * exec/script_eval.c - the EVAL script cache, EVAL/EVALSHA[_RO] and SCRIPT.
 *
 * Two levels:
 *
 *   registry (process-wide)   sha1 -> struct escript {body, flags, learned}
 *                             under a rwlock; SCRIPT LOAD / EVAL add,
 *                             SCRIPT FLUSH empties it and bumps `gen`
 *   per worker thread         its own Lua state and a cache sha1 ->
 *                             compiled chunk (a registry reference) plus a
 *                             reference to the escript
 *
 * EVALSHA of a script this thread already compiled takes no lock at all.
 * A script another thread loaded is found in the registry and compiled
 * here on first use, so SCRIPT LOAD is visible everywhere at once. After
 * SCRIPT FLUSH every thread drops its state: the flushing thread at once,
 * the others when they next run a script or receive the flush message
 * (their mailbox), so their memory goes back promptly.
 *
 * escript lifetime: one reference for the registry, one per thread cache
 * holding it; the last unref frees it (any thread).
 *
 * Thread context: commands [owner]; the registry [any].
 */
#include "exec/script_int.h"
#include "base/alloc.h"
#include "base/hash.h"
#include "base/str.h"
#include "exec/exec.h"
#include "exec/reply.h"
#include "net/worker.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const struct script_flag_name script_flag_names[] = {
    {SCRIPT_F_NO_WRITES, "no-writes"},
    {SCRIPT_F_ALLOW_OOM, "allow-oom"},
    {SCRIPT_F_ALLOW_STALE, "allow-stale"},
    {SCRIPT_F_NO_CLUSTER, "no-cluster"},
    {SCRIPT_F_CROSS_SLOT, "allow-cross-slot-keys"},
    {SCRIPT_F_UNDECLARED, "allow-undeclared-keys"},
    {0, NULL},
};

void script_sha1hex(char out[41], const char *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)p, n, d);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}

uint32_t script_flag_by_name(const char *s, size_t n) {
    for (const struct script_flag_name *f = script_flag_names; f->name; f++)
        if (strlen(f->name) == n && strncasecmp(f->name, s, n) == 0) return f->flag;
    return 0;
}

int script_parse_shebang(const char *body, size_t len, uint32_t *flags, size_t *shebang_len, char *err,
                         size_t errcap) {
    *flags = SCRIPT_F_COMPAT;
    *shebang_len = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return 0;
    const char *nl = memchr(body, '\n', len);
    if (nl == NULL) {
        snprintf(err, errcap, "Invalid script shebang");
        return -1;
    }
    size_t n = (size_t)(nl - body);
    char *line = xmalloc(n + 1);
    memcpy(line, body, n);
    line[n] = '\0';
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    int nparts = resp_split_args(line, n, &offs, &cap);
    int rc = 0;
    if (nparts <= 0) {
        snprintf(err, errcap, "Invalid engine in script shebang");
        rc = -1;
        goto out;
    }
    if (offs[0].len != 5 || memcmp(line + offs[0].off, "#!lua", 5) != 0) {
        snprintf(err, errcap, "Unexpected engine in script shebang: %.*s", (int)offs[0].len, line + offs[0].off);
        rc = -1;
        goto out;
    }
    uint32_t f = 0;
    for (int j = 1; j < nparts; j++) {
        const char *p = line + offs[j].off;
        size_t pl = offs[j].len;
        if (pl < 6 || memcmp(p, "flags=", 6) != 0) {
            snprintf(err, errcap, "Unknown lua shebang option: %.*s", (int)pl, p);
            rc = -1;
            goto out;
        }
        /* Comma-separated; empty parts (as in "flags=") are ignored. */
        size_t i = 6;
        while (i <= pl) {
            size_t start = i;
            while (i < pl && p[i] != ',') i++;
            if (i > start) {
                uint32_t one = 0;
                for (const struct script_flag_name *fl = script_flag_names; fl->name; fl++)
                    if (strlen(fl->name) == i - start && memcmp(fl->name, p + start, i - start) == 0) one = fl->flag;
                if (one == 0) {
                    snprintf(err, errcap, "Unexpected flag in script shebang: %.*s", (int)(i - start), p + start);
                    rc = -1;
                    goto out;
                }
                f |= one;
            }
            i++;
        }
    }
    *flags = f;
    *shebang_len = n;
out:
    xfree(offs);
    xfree(line);
    return rc;
}

/* ---- registry ------------------------------------------------------------------------- */

struct escript {
    struct htab_node node;
    char sha[41];
    uint32_t flags;
    _Atomic bool learned; /* touched stripes it did not declare: lock all */
    _Atomic int refs;
    size_t len;
    char body[];
};

static pthread_rwlock_t reg_mu = PTHREAD_RWLOCK_INITIALIZER;
static struct htab reg;
static _Atomic uint64_t reg_gen = 1;
static _Atomic size_t reg_bytes;
static _Atomic size_t eval_mem[WORKER_MAX + 1];

static uint64_t sha_hash(const char *sha) { return hash_fnv(sha, 40); }
static uint64_t node_hash(const struct htab_node *n) { return sha_hash(((const struct escript *)n)->sha); }
static bool node_eq(const struct htab_node *n, const void *key) {
    return memcmp(((const struct escript *)n)->sha, key, 40) == 0;
}

static void escript_unref(struct escript *e) {
    if (atomic_fetch_sub(&e->refs, 1) == 1) xfree(e);
}

/* Find sha in the registry; the result carries a new reference. */
static struct escript *reg_find(const char *sha) {
    struct escript *e = NULL;
    struct htab_pos pos;
    pthread_rwlock_rdlock(&reg_mu);
    if (htab_find(&reg, sha_hash(sha), node_eq, sha, &pos)) {
        e = (struct escript *)*pos.link;
        atomic_fetch_add(&e->refs, 1);
    }
    pthread_rwlock_unlock(&reg_mu);
    return e;
}

uint64_t script_command_flags(const struct client *c, const struct command *cmd) {
    uint64_t f = cmd->flags;
    if (!(f & CMD_NO_MANDATORY_KEYS) || c->argc < 2) return f; /* cheap filter: the EVAL/FCALL family */
    const char *n = cmd->fullname;
    bool eval = strcmp(n, "eval") == 0 || strcmp(n, "eval_ro") == 0;
    bool evalsha = strcmp(n, "evalsha") == 0 || strcmp(n, "evalsha_ro") == 0;
    bool fcall = strcmp(n, "fcall") == 0 || strcmp(n, "fcall_ro") == 0;
    uint32_t sf;
    if (eval || evalsha) {
        if (!seval_flags_of(c->argv[1], c->argvlen[1], evalsha, &sf)) return f;
    } else if (fcall) {
        if (!sfunc_flags_of(c->argv[1], c->argvlen[1], &sf)) return f;
    } else {
        return f;
    }
    if (sf & SCRIPT_F_COMPAT) return f;
    f &= ~(CMD_STALE | CMD_DENYOOM | CMD_WRITE | CMD_MAY_REPLICATE);
    if (!(sf & (SCRIPT_F_ALLOW_OOM | SCRIPT_F_NO_WRITES))) f |= CMD_DENYOOM;
    if (!(sf & SCRIPT_F_NO_WRITES)) f |= CMD_WRITE;
    if (sf & SCRIPT_F_ALLOW_STALE) f |= CMD_STALE;
    return f;
}

bool seval_flags_of(const char *arg, size_t len, bool evalsha, uint32_t *flags) {
    char sha[41];
    if (evalsha) {
        if (len != 40) return false;
        for (int i = 0; i < 40; i++) sha[i] = (char)(arg[i] >= 'A' && arg[i] <= 'Z' ? arg[i] + 32 : arg[i]);
    } else {
        script_sha1hex(sha, arg, len);
    }
    sha[40] = '\0';
    struct escript *e = reg_find(sha);
    if (e) {
        *flags = e->flags;
        escript_unref(e);
        return true;
    }
    if (evalsha) return false;
    /* Not cached: the shebang says (an invalid one: the command's flags). */
    char err[128];
    size_t shlen;
    return script_parse_shebang(arg, len, flags, &shlen, err, sizeof(err)) == 0;
}

/* Add e (registry takes its first reference); returns the entry now
 * registered, with a reference for the caller (e itself or an earlier
 * identical one, e being freed then). */
static struct escript *reg_add(struct escript *e) {
    struct htab_pos pos;
    pthread_rwlock_wrlock(&reg_mu);
    if (htab_find(&reg, sha_hash(e->sha), node_eq, e->sha, &pos)) {
        struct escript *old = (struct escript *)*pos.link;
        atomic_fetch_add(&old->refs, 1);
        pthread_rwlock_unlock(&reg_mu);
        xfree(e);
        return old;
    }
    atomic_store(&e->refs, 2);
    htab_insert(&reg, sha_hash(e->sha), &e->node, NULL);
    atomic_fetch_add(&reg_bytes, sizeof(*e) + e->len);
    pthread_rwlock_unlock(&reg_mu);
    return e;
}

static void unref_visit(struct htab_node *n, void *arg) { escript_unref((struct escript *)n); }

/* ---- this thread's state ------------------------------------------------------------- */

struct lscript {
    struct htab_node node;
    struct escript *e;
    int ref;
};

static uint64_t lnode_hash(const struct htab_node *n) { return sha_hash(((const struct lscript *)n)->e->sha); }
static bool lnode_eq(const struct htab_node *n, const void *key) {
    return memcmp(((const struct lscript *)n)->e->sha, key, 40) == 0;
}

static __thread struct {
    lua_State *L;
    uint64_t gen;
    struct htab cache;
    bool init;
} te;

static _Atomic size_t *my_mem(void) {
    int i = worker_self_id();
    return &eval_mem[i >= 0 && i < WORKER_MAX ? i : WORKER_MAX];
}

static void lfree_visit(struct htab_node *n, void *arg) {
    struct lscript *l = (struct lscript *)n;
    escript_unref(l->e);
    xfree(l);
}

static void reset_state(void) {
    if (te.init) htab_clear(&te.cache, lfree_visit, NULL);
    slua_destroy(&te.L);
    atomic_store(my_mem(), 0);
}

/* The thread's state, current with the registry's generation. */
static lua_State *eval_state(void) {
    uint64_t g = atomic_load_explicit(&reg_gen, memory_order_acquire);
    if (!te.init) {
        htab_init(&te.cache, lnode_hash);
        te.init = true;
    }
    if (te.L == NULL || te.gen != g) {
        reset_state();
        te.L = slua_create(SLUA_EVAL, my_mem());
        te.gen = g;
    }
    return te.L;
}

static struct lscript *local_find(const char *sha) {
    struct htab_pos pos;
    if (!te.init || !htab_find(&te.cache, sha_hash(sha), lnode_eq, sha, &pos)) return NULL;
    return (struct lscript *)*pos.link;
}

/* Compile e's body into this thread's state; returns the cache entry (owns
 * the caller's reference to e) or NULL with the error replied. */
static struct lscript *compile_local(struct client *c, struct escript *e, size_t shebang_len) {
    lua_State *L = te.L;
    if (luaL_loadbuffer(L, e->body + shebang_len, e->len - shebang_len, "@user_script") != 0) {
        if (c) reply_errorf(c, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        escript_unref(e);
        return NULL;
    }
    struct lscript *l = xmalloc(sizeof(*l));
    l->e = e;
    l->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    htab_insert(&te.cache, sha_hash(e->sha), &l->node, NULL);
    return l;
}

static size_t shebang_length(const struct escript *e) {
    if (e->flags & SCRIPT_F_COMPAT) return 0;
    const char *nl = memchr(e->body, '\n', e->len);
    return nl ? (size_t)(nl - e->body) : 0;
}

/* The compiled script for sha on this thread: local cache, registry, or
 * (body given: EVAL / SCRIPT LOAD) a new one. NULL after replying the
 * error (NOSCRIPT, shebang or compile error). */
static struct lscript *get_script(struct client *c, const char *sha, const char *body, size_t len) {
    eval_state();
    struct lscript *l = local_find(sha);
    if (l) return l;
    struct escript *e = reg_find(sha);
    if (e) return compile_local(c, e, shebang_length(e));
    if (body == NULL) {
        reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
        return NULL;
    }
    uint32_t flags;
    size_t sl;
    char err[256];
    if (script_parse_shebang(body, len, &flags, &sl, err, sizeof(err)) != 0) {
        reply_errorf(c, "ERR %s", err);
        return NULL;
    }
    /* Compile before registering: a script that does not compile is not
     * cached (Redis). */
    if (luaL_loadbuffer(te.L, body + sl, len - sl, "@user_script") != 0) {
        reply_errorf(c, "ERR Error compiling script (new function): %s", lua_tostring(te.L, -1));
        lua_pop(te.L, 1);
        return NULL;
    }
    lua_pop(te.L, 1);
    e = xmalloc(sizeof(*e) + len + 1);
    memset(e, 0, sizeof(*e));
    memcpy(e->sha, sha, 41);
    e->flags = flags;
    e->len = len;
    memcpy(e->body, body, len);
    e->body[len] = '\0';
    e = reg_add(e);
    return compile_local(c, e, shebang_length(e));
}

/* ---- commands ------------------------------------------------------------------------------ */

static bool lower_sha(const char *p, size_t n, char out[41]) {
    if (n != 40) return false;
    for (int i = 0; i < 40; i++) out[i] = (char)tolower((unsigned char)p[i]);
    out[40] = '\0';
    return true;
}

/* numkeys of EVAL/FCALL-style commands: replies and returns false when bad. */
bool script_numkeys(struct client *c, long long *out, const char *bad_int) {
    long long n;
    if (!str_to_ll(c->argv[2], c->argvlen[2], &n)) {
        reply_error(c, bad_int);
        return false;
    }
    if (n > (long long)c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    if (n < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return false;
    }
    *out = n;
    return true;
}

void script_eval_command(struct client *c, bool evalsha, bool ro) {
    if (!(c->flags & CLIENT_RERUN_ALL)) exec_monitor_feed(c);
    char sha[41];
    if (evalsha && !lower_sha(c->argv[1], c->argvlen[1], sha)) {
        reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    long long numkeys;
    if (!script_numkeys(c, &numkeys, RERR_NOT_INT)) return;
    if (!evalsha) script_sha1hex(sha, c->argv[1], c->argvlen[1]);
    struct lscript *l = get_script(c, sha, evalsha ? NULL : c->argv[1], c->argvlen[1]);
    if (l == NULL) return;
    struct srun_desc d = {l->e->sha, l->e->flags, true, ro, &l->e->learned, (int)numkeys, te.L, l->ref};
    srun_script(c, &d);
}

void script_load_command(struct client *c) {
    char sha[41];
    script_sha1hex(sha, c->argv[2], c->argvlen[2]);
    if (get_script(c, sha, c->argv[2], c->argvlen[2]) == NULL) return;
    reply_bulk(c, sha, 40);
}

void script_exists_command(struct client *c) {
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        char sha[41];
        struct escript *e = lower_sha(c->argv[j], c->argvlen[j], sha) ? reg_find(sha) : NULL;
        reply_int(c, e != NULL);
        if (e) escript_unref(e);
    }
}

struct flush_msg {
    struct mbox_msg m;
};

static void flush_msg_run(struct mbox_msg *m) {
    if (te.L && te.gen != atomic_load(&reg_gen)) reset_state();
    xfree(m);
}

static void flush_all(void) {
    pthread_rwlock_wrlock(&reg_mu);
    htab_clear(&reg, unref_visit, NULL);
    atomic_store(&reg_bytes, 0);
    atomic_fetch_add_explicit(&reg_gen, 1, memory_order_release);
    pthread_rwlock_unlock(&reg_mu);
    if (te.L) reset_state();
    int self = worker_self_id();
    for (int i = 0; i < worker_count(); i++) {
        if (i == self) continue;
        struct flush_msg *m = xcalloc(1, sizeof(*m));
        worker_post(worker_at(i), &m->m, flush_msg_run);
    }
}

void script_flush_command(struct client *c) {
    if (c->argc > 3 || (c->argc == 3 && !(c->argvlen[2] == 4 && strncasecmp(c->argv[2], "sync", 4) == 0) &&
                        !(c->argvlen[2] == 5 && strncasecmp(c->argv[2], "async", 5) == 0))) {
        reply_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    /* SYNC and ASYNC alike: the registry is emptied at once; threads free
     * their own states (the others from their mailbox). */
    flush_all();
    reply_ok(c);
}

/* ---- key finders ---------------------------------------------------------------------------- */

static int declared_keys(int argc, const char *const *argv, const size_t *lens, int *out, int max) {
    long long n;
    if (argc < 3 || !str_to_ll(argv[2], lens[2], &n) || n < 0 || n > argc - 3) return 0;
    for (int i = 0; i < n && i < max; i++) out[i] = 3 + i;
    return (int)n;
}

static bool needs_all(const char *sha) {
    bool all = false;
    struct lscript *l = local_find(sha);
    if (l) return (l->e->flags & SCRIPT_F_UNDECLARED) || atomic_load_explicit(&l->e->learned, memory_order_relaxed);
    struct escript *e = reg_find(sha);
    if (e) {
        all = (e->flags & SCRIPT_F_UNDECLARED) || atomic_load_explicit(&e->learned, memory_order_relaxed);
        escript_unref(e);
    }
    return all;
}

int script_eval_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max) {
    char sha[41];
    script_sha1hex(sha, argv[1], lens[1]);
    if (needs_all(sha)) return -1;
    /* A script not seen yet, with the flag in its shebang line. */
    if (lens[1] > 24 && memcmp(argv[1], "#!lua", 5) == 0) {
        const char *nl = memchr(argv[1], '\n', lens[1]);
        size_t first = nl ? (size_t)(nl - argv[1]) : lens[1];
        if (memmem(argv[1], first, "allow-undeclared-keys", 21)) return -1;
    }
    return declared_keys(argc, argv, lens, out, max);
}

int script_evalsha_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max) {
    char sha[41];
    if (lower_sha(argv[1], lens[1], sha) && needs_all(sha)) return -1;
    return declared_keys(argc, argv, lens, out, max);
}

/* ---- setup, INFO ---------------------------------------------------------------------------- */

void seval_setup(void) { htab_init(&reg, node_hash); }

void seval_teardown(void) {
    pthread_rwlock_wrlock(&reg_mu);
    htab_clear(&reg, unref_visit, NULL);
    pthread_rwlock_unlock(&reg_mu);
}

void seval_thread_cleanup(void) {
    reset_state();
    if (te.init) {
        htab_clear(&te.cache, lfree_visit, NULL);
        te.init = false;
    }
}

void seval_info(struct script_info *out) {
    pthread_rwlock_rdlock(&reg_mu);
    out->cached_scripts = htab_count(&reg);
    pthread_rwlock_unlock(&reg_mu);
    out->scripts_bytes = atomic_load(&reg_bytes);
    size_t mem = 0;
    for (int i = 0; i <= WORKER_MAX; i++) mem += atomic_load_explicit(&eval_mem[i], memory_order_relaxed);
    out->lua_eval_bytes = mem;
}

/*
 * exec/script_func.c - function libraries: FUNCTION LOAD/DELETE/FLUSH/
 * LIST/DUMP/RESTORE/STATS and FCALL[_RO].
 *
 * The library set is an immutable, refcounted snapshot:
 *
 *   struct fset  { libs[], functions by lower-case name -> (ffunc, index) }
 *   struct flib  { name, code, funcs[] {name, description, flags} }
 *
 * A change (LOAD, DELETE, FLUSH, RESTORE) builds a new set, sharing the
 * unchanged libraries, and swaps it in under `set_mu`; the generation
 * number tells threads their copy is old. Each worker thread has its own
 * functions Lua state built from one set: every library's code run in
 * load mode, the callbacks it registers kept as registry references in
 * set order. FCALL on a thread whose set is old rebuilds first (so a
 * FUNCTION LOAD is visible to every thread as soon as it replies; library
 * upvalues are per thread and start over after any library change, which
 * Redis users cannot rely on either: Redis resets them on restart).
 *
 * A library being loaded is checked in a fresh state of its own: code
 * compiles, registration runs within 500 ms, at least one function, no
 * name collision; only then is the new set published.
 *
 * Thread context: commands [owner]; the current set [any] under set_mu.
 */
#include "exec/script_int.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "exec/exec.h"
#include "exec/reply.h"
#include "net/worker.h"
#include "persist/persist.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LOAD_TIMEOUT_MS 500
#define ENGINE_NAME "LUA"

struct flib;

struct ffunc {
    char *name;
    char *desc; /* NULL: none */
    uint32_t flags;
    _Atomic bool learned;
};

struct flib {
    _Atomic int refs;
    char *name;
    char *code; /* the whole payload, shebang included (FUNCTION LIST WITHCODE, DUMP) */
    size_t codelen;
    int nfuncs;
    struct ffunc *funcs;
};

struct fnode {
    struct htab_node node;
    uint64_t hash;
    struct ffunc *f;
    int idx; /* position among the set's functions (thread refs) */
};

struct fset {
    _Atomic int refs;
    uint64_t gen;
    int nlibs;
    struct flib **libs;
    int nfuncs;
    struct fnode *nodes;
    struct htab byname;
};

static pthread_mutex_t set_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fset *cur_set;
static _Atomic uint64_t set_gen = 1;
static _Atomic size_t func_mem[WORKER_MAX + 1];

/* ---- names ---------------------------------------------------------------------------------- */

static bool valid_name(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

#define NAME_ERR \
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

static uint64_t name_hash(const char *s, size_t n) { return hash_keyed_nocase(s, n); }
static uint64_t fnode_hash(const struct htab_node *n) { return ((const struct fnode *)n)->hash; }

struct name_key {
    const char *p;
    size_t n;
};

static bool fnode_eq(const struct htab_node *n, const void *key) {
    const struct name_key *k = key;
    const char *name = ((const struct fnode *)n)->f->name;
    return strlen(name) == k->n && strncasecmp(name, k->p, k->n) == 0;
}

/* ---- libraries and sets -------------------------------------------------------------------- */

static void lib_unref(struct flib *l) {
    if (l == NULL || atomic_fetch_sub(&l->refs, 1) != 1) return;
    for (int i = 0; i < l->nfuncs; i++) {
        xfree(l->funcs[i].name);
        xfree(l->funcs[i].desc);
    }
    xfree(l->funcs);
    xfree(l->name);
    xfree(l->code);
    xfree(l);
}

static void set_unref(struct fset *s) {
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (int i = 0; i < s->nlibs; i++) lib_unref(s->libs[i]);
    htab_clear(&s->byname, NULL, NULL);
    xfree(s->libs);
    xfree(s->nodes);
    xfree(s);
}

static struct fset *set_get(void) {
    pthread_mutex_lock(&set_mu);
    struct fset *s = cur_set;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&set_mu);
    return s;
}

/* A set of these libraries (references taken). */
static struct fset *set_build(struct flib **libs, int n) {
    struct fset *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->nlibs = n;
    s->libs = xmalloc((size_t)(n ? n : 1) * sizeof(*s->libs));
    int nf = 0;
    for (int i = 0; i < n; i++) {
        s->libs[i] = libs[i];
        atomic_fetch_add(&libs[i]->refs, 1);
        nf += libs[i]->nfuncs;
    }
    s->nfuncs = nf;
    s->nodes = xcalloc((size_t)(nf ? nf : 1), sizeof(*s->nodes));
    htab_init(&s->byname, fnode_hash);
    int k = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < libs[i]->nfuncs; j++, k++) {
            struct fnode *fn = &s->nodes[k];
            fn->f = &libs[i]->funcs[j];
            fn->idx = k;
            fn->hash = name_hash(fn->f->name, strlen(fn->f->name));
            htab_insert(&s->byname, fn->hash, &fn->node, NULL);
        }
    }
    return s;
}

static struct fnode *set_find_func(struct fset *s, const char *name, size_t n) {
    struct name_key k = {name, n};
    struct htab_pos pos;
    if (!htab_find(&s->byname, name_hash(name, n), fnode_eq, &k, &pos)) return NULL;
    return (struct fnode *)*pos.link;
}

static int set_find_lib(struct fset *s, const char *name, size_t n) {
    for (int i = 0; i < s->nlibs; i++)
        if (strlen(s->libs[i]->name) == n && memcmp(s->libs[i]->name, name, n) == 0) return i;
    return -1;
}

bool sfunc_flags_of(const char *name, size_t len, uint32_t *flags) {
    struct fset *s = set_get();
    struct fnode *fn = s ? set_find_func(s, name, len) : NULL;
    if (fn) *flags = fn->f->flags;
    set_unref(s);
    return fn != NULL;
}

/* Publish libs as the current set. */
static void set_publish(struct flib **libs, int n) {
    struct fset *s = set_build(libs, n);
    pthread_mutex_lock(&set_mu);
    struct fset *old = cur_set;
    s->gen = atomic_fetch_add(&set_gen, 1) + 1;
    cur_set = s;
    pthread_mutex_unlock(&set_mu);
    set_unref(old);
}

/* ---- loading a library ---------------------------------------------------------------------- */

/* What register_function collects while a library loads. */
struct fload {
    struct flib *lib; /* funcs grow here */
    int cap;
    int *refs;        /* callbacks (registry references), parallel to funcs */
    int64_t deadline_us; /* 0: no timeout */
    lua_State *L;
};

static __thread struct fload *tl_load;

static bool read_flags(lua_State *L, uint32_t *out) {
    uint32_t f = 0;
    for (int j = 1;; j++) {
        lua_pushnumber(L, j);
        lua_gettable(L, -2);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            return false;
        }
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        uint32_t one = script_flag_by_name(s, n);
        lua_pop(L, 1);
        if (one == 0) return false;
        f |= one;
    }
    *out = f;
    return true;
}

static void add_function(lua_State *L, struct fload *ld, char *name, size_t namelen, char *desc, uint32_t flags,
                         int ref) {
    struct flib *lib = ld->lib;
    const char *err = NULL;
    if (!valid_name(name, namelen)) {
        err = NAME_ERR;
    } else {
        for (int i = 0; i < lib->nfuncs; i++)
            if (strcmp(lib->funcs[i].name, name) == 0) err = "Function already exists in the library";
    }
    if (err) {
        xfree(name);
        xfree(desc);
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        slua_raise(L, err);
    }
    if (lib->nfuncs == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 4;
        lib->funcs = xrealloc(lib->funcs, (size_t)ld->cap * sizeof(*lib->funcs));
        ld->refs = xrealloc(ld->refs, (size_t)ld->cap * sizeof(*ld->refs));
    }
    struct ffunc *f = &lib->funcs[lib->nfuncs];
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->desc = desc;
    f->flags = flags;
    ld->refs[lib->nfuncs++] = ref;
}

static char *dup_string(lua_State *L, int idx, size_t *len) {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    if (len) *len = n;
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* redis.register_function(name, callback) or ({function_name=, callback=,
 * description=, flags=}). Errors are Redis's. */
static int lua_register_function(lua_State *L) {
    struct fload *ld = tl_load;
    if (ld == NULL) return slua_raise(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2) return slua_raise(L, "wrong number of arguments to redis.register_function");
    char *name = NULL, *desc = NULL;
    size_t namelen = 0;
    uint32_t flags = 0;
    int ref = LUA_NOREF;
    const char *err = NULL;
    if (argc == 2) {
        if (!lua_isstring(L, 1)) return slua_raise(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return slua_raise(L, "second argument to redis.register_function must be a function");
        size_t nl;
        name = dup_string(L, 1, &nl);
        ref = luaL_ref(L, LUA_REGISTRYINDEX);
        add_function(L, ld, name, nl, NULL, 0, ref);
        return 0;
    }
    if (!lua_istable(L, 1))
        return slua_raise(L, "calling redis.register_function with a single argument is only applicable to Lua "
                             "table (representing named arguments).");
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (!lua_isstring(L, -2)) {
            err = "named argument key given to redis.register_function is not a string";
            break;
        }
        const char *key = lua_tostring(L, -2);
        if (strcasecmp(key, "function_name") == 0) {
            if (!lua_isstring(L, -1)) {
                err = "function_name argument given to redis.register_function must be a string";
                break;
            }
            xfree(name);
            name = dup_string(L, -1, &namelen);
        } else if (strcasecmp(key, "description") == 0) {
            if (!lua_isstring(L, -1)) {
                err = "description argument given to redis.register_function must be a string";
                break;
            }
            xfree(desc);
            desc = dup_string(L, -1, NULL);
        } else if (strcasecmp(key, "callback") == 0) {
            if (!lua_isfunction(L, -1)) {
                err = "callback argument given to redis.register_function must be a function";
                break;
            }
            if (ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, ref);
            ref = luaL_ref(L, LUA_REGISTRYINDEX);
            continue; /* luaL_ref popped the value */
        } else if (strcasecmp(key, "flags") == 0) {
            if (!lua_istable(L, -1)) {
                err = "flags argument to redis.register_function must be a table representing function flags";
                break;
            }
            if (!read_flags(L, &flags)) {
                err = "unknown flag given";
                break;
            }
        } else {
            err = "unknown argument given to redis.register_function";
            break;
        }
        lua_pop(L, 1);
    }
    if (err == NULL && name == NULL) err = "redis.register_function must get a function name argument";
    if (err == NULL && ref == LUA_NOREF) err = "redis.register_function must get a callback argument";
    if (err) {
        xfree(name);
        xfree(desc);
        if (ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return slua_raise(L, err);
    }
    add_function(L, ld, name, namelen, desc, flags, ref);
    return 0;
}

static void load_hook(lua_State *L, lua_Debug *ar) {
    struct fload *ld = tl_load;
    if (ld && ld->deadline_us && time_mono_us() > ld->deadline_us) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        slua_raise(L, "FUNCTION LOAD timeout");
    }
}

/* The parts of a library payload's first line. */
struct libmeta {
    char *engine;
    char *name;
    size_t code_off; /* where the code after the first line starts (at its '\n') */
};

static void meta_free(struct libmeta *m) {
    xfree(m->engine);
    xfree(m->name);
}

static int parse_meta(const char *p, size_t len, struct libmeta *m, char *err, size_t errcap) {
    memset(m, 0, sizeof(*m));
    if (len < 2 || p[0] != '#' || p[1] != '!') {
        snprintf(err, errcap, "Missing library metadata");
        return -1;
    }
    const char *nl = memchr(p, '\n', len);
    if (nl == NULL) {
        snprintf(err, errcap, "Invalid library metadata");
        return -1;
    }
    size_t n = (size_t)(nl - p);
    char *line = xmalloc(n + 1);
    memcpy(line, p, n);
    line[n] = '\0';
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    int nparts = resp_split_args(line, n, &offs, &cap);
    int rc = -1;
    if (nparts <= 0) {
        snprintf(err, errcap, "Invalid library metadata");
        goto out;
    }
    m->engine = xmemdup(line + offs[0].off + 2, offs[0].len - 2 + 1);
    m->engine[offs[0].len - 2] = '\0';
    for (int i = 1; i < nparts; i++) {
        const char *part = line + offs[i].off;
        size_t pl = offs[i].len;
        if (pl >= 5 && strncasecmp(part, "name=", 5) == 0) {
            if (m->name) {
                snprintf(err, errcap, "Invalid metadata value, name argument was given multiple times");
                goto out;
            }
            m->name = xmemdup(part + 5, pl - 5 + 1);
            m->name[pl - 5] = '\0';
            continue;
        }
        snprintf(err, errcap, "Invalid metadata value given: %.*s", (int)pl, part);
        goto out;
    }
    if (m->name == NULL) {
        snprintf(err, errcap, "Library name was not given");
        goto out;
    }
    m->code_off = n;
    rc = 0;
out:
    xfree(offs);
    xfree(line);
    if (rc != 0) meta_free(m);
    return rc;
}

/* Run a library's code in L (load mode). On success the registered
 * functions are in ld (lib->funcs, refs). */
static int run_library(lua_State *L, struct fload *ld, const char *code, size_t len, int64_t timeout_ms, char *err,
                       size_t errcap) {
    ld->L = L;
    ld->deadline_us = timeout_ms > 0 ? time_mono_us() + timeout_ms * 1000 : 0;
    if (luaL_loadbuffer(L, code, len, "@user_function") != 0) {
        snprintf(err, errcap, "Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    slua_set_load_mode(L, true);
    tl_load = ld;
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    tl_load = NULL;
    slua_set_load_mode(L, false);
    if (rc != 0) {
        char msg[1024];
        slua_error_text(L, msg, sizeof(msg));
        snprintf(err, errcap, "Error registering functions: %s", msg);
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static void fload_drop_refs(lua_State *L, struct fload *ld) {
    for (int i = 0; L && i < ld->lib->nfuncs; i++) luaL_unref(L, LUA_REGISTRYINDEX, ld->refs[i]);
    xfree(ld->refs);
    ld->refs = NULL;
}

/* Compile and check one library payload in a scratch state. Returns the
 * new library (one reference) or NULL with Redis's message in err. */
static struct flib *lib_create(const char *code, size_t len, int64_t timeout_ms, char *err, size_t errcap) {
    struct libmeta m;
    if (parse_meta(code, len, &m, err, errcap) != 0) return NULL;
    struct flib *lib = NULL;
    if (!valid_name(m.name, strlen(m.name))) {
        snprintf(err, errcap, "%s", NAME_ERR);
        goto out;
    }
    if (strcasecmp(m.engine, ENGINE_NAME) != 0) {
        snprintf(err, errcap, "Engine '%s' not found", m.engine);
        goto out;
    }
    lib = xcalloc(1, sizeof(*lib));
    atomic_init(&lib->refs, 1);
    lib->name = xstrdup(m.name);
    lib->code = xmemdup(code, len + 1);
    lib->code[len] = '\0';
    lib->codelen = len;
    _Atomic size_t scratch_mem = 0;
    lua_State *L = slua_create(SLUA_FUNC, &scratch_mem);
    struct fload ld = {lib, 0, NULL, 0, L};
    int rc = run_library(L, &ld, code + m.code_off, len - m.code_off, timeout_ms, err, errcap);
    fload_drop_refs(L, &ld);
    slua_destroy(&L);
    if (rc == 0 && lib->nfuncs == 0) {
        snprintf(err, errcap, "No functions registered");
        rc = -1;
    }
    if (rc != 0) {
        lib_unref(lib);
        lib = NULL;
    }
out:
    meta_free(&m);
    return lib;
}

/* ---- this thread's functions state ------------------------------------------------------------- */

static __thread struct {
    lua_State *L;
    struct fset *set;
    int *refs;
} tf;

static _Atomic size_t *my_mem(void) {
    int i = worker_self_id();
    return &func_mem[i >= 0 && i < WORKER_MAX ? i : WORKER_MAX];
}

static void tf_reset(void) {
    slua_destroy(&tf.L);
    set_unref(tf.set);
    tf.set = NULL;
    xfree(tf.refs);
    tf.refs = NULL;
    atomic_store(my_mem(), 0);
}

/* Bring this thread's state up to the current set. */
static void tf_refresh(void) {
    if (tf.set && tf.set->gen == atomic_load_explicit(&set_gen, memory_order_acquire)) return;
    tf_reset();
    struct fset *s = set_get();
    tf.set = s;
    tf.L = slua_create(SLUA_FUNC, my_mem());
    tf.refs = xmalloc((size_t)(s->nfuncs ? s->nfuncs : 1) * sizeof(int));
    int k = 0;
    for (int i = 0; i < s->nlibs; i++) {
        struct flib *lib = s->libs[i];
        /* Load into a throwaway flib (same code, same registrations) to
         * collect this state's callbacks. */
        struct flib tmp = {0};
        tmp.name = lib->name;
        struct fload ld = {&tmp, 0, NULL, 0, tf.L};
        struct libmeta m;
        char err[512];
        int rc = parse_meta(lib->code, lib->codelen, &m, err, sizeof(err));
        if (rc == 0) {
            rc = run_library(tf.L, &ld, lib->code + m.code_off, lib->codelen - m.code_off, 0, err, sizeof(err));
            meta_free(&m);
        }
        for (int j = 0; j < lib->nfuncs; j++) {
            int ref = LUA_NOREF;
            for (int t = 0; rc == 0 && t < tmp.nfuncs; t++)
                if (strcmp(tmp.funcs[t].name, lib->funcs[j].name) == 0) ref = ld.refs[t];
            tf.refs[k++] = ref;
        }
        if (rc != 0) log_warn("Library %s failed to load on a worker: %s", lib->name, err);
        for (int t = 0; t < tmp.nfuncs; t++) {
            xfree(tmp.funcs[t].name);
            xfree(tmp.funcs[t].desc);
        }
        xfree(tmp.funcs);
        xfree(ld.refs);
    }
}

/* ---- FCALL -------------------------------------------------------------------------------------- */

void script_fcall_command(struct client *c, bool ro) {
    if (!(c->flags & CLIENT_RERUN_ALL)) exec_monitor_feed(c);
    tf_refresh();
    struct fnode *fn = set_find_func(tf.set, c->argv[1], c->argvlen[1]);
    if (fn == NULL || tf.refs[fn->idx] == LUA_NOREF) {
        reply_error(c, "ERR Function not found");
        return;
    }
    long long numkeys;
    if (!script_numkeys(c, &numkeys, "ERR Bad number of keys provided")) return;
    struct srun_desc d = {fn->f->name, fn->f->flags, false, ro, &fn->f->learned, (int)numkeys, tf.L,
                          tf.refs[fn->idx]};
    srun_script(c, &d);
}

int script_fcall_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max) {
    long long n;
    if (argc < 3 || !str_to_ll(argv[2], lens[2], &n) || n < 0 || n > argc - 3) return 0;
    struct fset *s = tf.set ? tf.set : NULL;
    bool all = false;
    if (s == NULL || s->gen != atomic_load(&set_gen)) {
        s = set_get();
        struct fnode *fn = set_find_func(s, argv[1], lens[1]);
        all = fn && ((fn->f->flags & SCRIPT_F_UNDECLARED) || atomic_load(&fn->f->learned));
        set_unref(s);
    } else {
        struct fnode *fn = set_find_func(s, argv[1], lens[1]);
        all = fn && ((fn->f->flags & SCRIPT_F_UNDECLARED) || atomic_load(&fn->f->learned));
    }
    if (all) return -1;
    for (int i = 0; i < n && i < max; i++) out[i] = 3 + i;
    return (int)n;
}

/* ---- FUNCTION ----------------------------------------------------------------------------------- */

/* Is any function of lib (other than libraries skip1/skip2) already in s?
 * Writes the colliding name into err. */
static bool func_collision(struct fset *s, const struct flib *lib, const char *skip1, const char *skip2, char *err,
                           size_t errcap) {
    for (int j = 0; j < lib->nfuncs; j++) {
        struct fnode *fn = set_find_func(s, lib->funcs[j].name, strlen(lib->funcs[j].name));
        if (fn == NULL) continue;
        /* Which library owns it? */
        for (int i = 0; i < s->nlibs; i++) {
            const struct flib *l = s->libs[i];
            if (fn->f < l->funcs || fn->f >= l->funcs + l->nfuncs) continue;
            if ((skip1 && strcmp(l->name, skip1) == 0) || (skip2 && strcmp(l->name, skip2) == 0)) break;
            snprintf(err, errcap, "Function %s already exists", lib->funcs[j].name);
            return true;
        }
    }
    return false;
}

void script_function_load(struct client *c) {
    bool replace = false;
    int pos = 2;
    while (pos < c->argc - 1) {
        if (c->argvlen[pos] == 7 && strncasecmp(c->argv[pos], "replace", 7) == 0) {
            replace = true;
            pos++;
            continue;
        }
        reply_errorf(c, "ERR Unknown option given: %.*s", (int)MIN(c->argvlen[pos], (size_t)128), c->argv[pos]);
        return;
    }
    if (pos >= c->argc) {
        reply_error(c, "ERR Function code is missing");
        return;
    }
    const char *code = c->argv[pos];
    size_t len = c->argvlen[pos];
    char err[1024];
    struct libmeta m;
    if (parse_meta(code, len, &m, err, sizeof(err)) != 0) {
        reply_errorf(c, "ERR %s", err);
        return;
    }
    struct fset *s = set_get();
    int old = set_find_lib(s, m.name, strlen(m.name));
    bool exists = old >= 0 && valid_name(m.name, strlen(m.name)) && strcasecmp(m.engine, ENGINE_NAME) == 0;
    meta_free(&m);
    struct flib *lib = NULL;
    if (exists && !replace) {
        snprintf(err, sizeof(err), "Library '%s' already exists", s->libs[old]->name);
        goto fail;
    }
    lib = lib_create(code, len, LOAD_TIMEOUT_MS, err, sizeof(err));
    if (lib == NULL) goto fail;
    if (func_collision(s, lib, exists ? s->libs[old]->name : NULL, NULL, err, sizeof(err))) goto fail;
    /* The new set: every library but the replaced one, then the new one. */
    struct flib **libs = xmalloc((size_t)(s->nlibs + 1) * sizeof(*libs));
    int n = 0;
    for (int i = 0; i < s->nlibs; i++)
        if (i != old || !exists) libs[n++] = s->libs[i];
    libs[n++] = lib;
    set_publish(libs, n);
    xfree(libs);
    reply_bulk_cstr(c, lib->name);
    lib_unref(lib);
    set_unref(s);
    exec_dirty(c, 1);
    return;
fail:
    lib_unref(lib);
    set_unref(s);
    reply_errorf(c, "ERR %s", err);
}

void script_function_delete(struct client *c) {
    struct fset *s = set_get();
    int idx = set_find_lib(s, c->argv[2], c->argvlen[2]);
    if (idx < 0) {
        set_unref(s);
        reply_error(c, "ERR Library not found");
        return;
    }
    struct flib **libs = xmalloc((size_t)(s->nlibs ? s->nlibs : 1) * sizeof(*libs));
    int n = 0;
    for (int i = 0; i < s->nlibs; i++)
        if (i != idx) libs[n++] = s->libs[i];
    set_publish(libs, n);
    xfree(libs);
    set_unref(s);
    exec_dirty(c, 1);
    reply_ok(c);
}

void script_function_flush(struct client *c) {
    if (c->argc > 3) {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try FUNCTION HELP.",
                     (int)MIN(c->argvlen[1], (size_t)128), c->argv[1]);
        return;
    }
    if (c->argc == 3 && !(c->argvlen[2] == 4 && strncasecmp(c->argv[2], "sync", 4) == 0) &&
        !(c->argvlen[2] == 5 && strncasecmp(c->argv[2], "async", 5) == 0)) {
        reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    set_publish(NULL, 0);
    exec_dirty(c, 1);
    reply_ok(c);
}

static void reply_flags(struct client *c, uint32_t flags) {
    int n = 0;
    for (const struct script_flag_name *f = script_flag_names; f->name; f++)
        if (flags & f->flag) n++;
    reply_set(c, n);
    for (const struct script_flag_name *f = script_flag_names; f->name; f++)
        if (flags & f->flag) reply_simple(c, f->name);
}

void script_function_list(struct client *c) {
    bool with_code = false;
    const char *pat = NULL;
    size_t plen = 0;
    for (int i = 2; i < c->argc; i++) {
        if (!with_code && c->argvlen[i] == 8 && strncasecmp(c->argv[i], "withcode", 8) == 0) {
            with_code = true;
            continue;
        }
        if (!pat && c->argvlen[i] == 11 && strncasecmp(c->argv[i], "libraryname", 11) == 0) {
            if (i >= c->argc - 1) {
                reply_error(c, "ERR library name argument was not given");
                return;
            }
            pat = c->argv[++i];
            plen = c->argvlen[i];
            continue;
        }
        reply_errorf(c, "ERR Unknown argument %.*s", (int)MIN(c->argvlen[i], (size_t)128), c->argv[i]);
        return;
    }
    struct fset *s = set_get();
    long long n = 0;
    for (int i = 0; i < s->nlibs; i++)
        if (!pat || glob_match(pat, plen, s->libs[i]->name, strlen(s->libs[i]->name), true)) n++;
    reply_array(c, n);
    for (int i = 0; i < s->nlibs; i++) {
        const struct flib *l = s->libs[i];
        if (pat && !glob_match(pat, plen, l->name, strlen(l->name), true)) continue;
        reply_map(c, with_code ? 4 : 3);
        reply_bulk_cstr(c, "library_name");
        reply_bulk_cstr(c, l->name);
        reply_bulk_cstr(c, "engine");
        reply_bulk_cstr(c, ENGINE_NAME);
        reply_bulk_cstr(c, "functions");
        reply_array(c, l->nfuncs);
        for (int j = 0; j < l->nfuncs; j++) {
            const struct ffunc *f = &l->funcs[j];
            reply_map(c, 3);
            reply_bulk_cstr(c, "name");
            reply_bulk_cstr(c, f->name);
            reply_bulk_cstr(c, "description");
            if (f->desc)
                reply_bulk_cstr(c, f->desc);
            else
                reply_null(c);
            reply_bulk_cstr(c, "flags");
            reply_flags(c, f->flags);
        }
        if (with_code) {
            reply_bulk_cstr(c, "library_code");
            reply_bulk(c, l->code, l->codelen);
        }
    }
    set_unref(s);
}

void script_function_dump(struct client *c) {
    struct buf b = BUF_INIT;
    persist_functions_dump(&b); /* the libraries come back through script_functions_foreach */
    reply_bulk(c, b.data, b.len);
    buf_free(&b);
}

struct restore_ctx {
    struct flib **libs;
    int n, cap;
};

static int restore_one(const char *code, size_t len, void *arg, char *err, size_t errcap) {
    struct restore_ctx *r = arg;
    struct flib *lib = lib_create(code, len, 0, err, errcap);
    if (lib == NULL) return -1;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->libs[i]->name, lib->name) == 0) {
            snprintf(err, errcap, "Library '%s' already exists", lib->name);
            lib_unref(lib);
            return -1;
        }
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->libs = xrealloc(r->libs, (size_t)r->cap * sizeof(*r->libs));
    }
    r->libs[r->n++] = lib;
    return 0;
}

enum restore_policy { RESTORE_APPEND, RESTORE_REPLACE, RESTORE_FLUSH };

/* Merge the restored libraries into the current ones (APPEND/REPLACE);
 * returns the new list or NULL with err. */
static struct flib **restore_merge(struct fset *s, struct restore_ctx *r, bool replace, int *out_n, char *err,
                                   size_t errcap) {
    struct flib **libs = xmalloc((size_t)(s->nlibs + r->n + 1) * sizeof(*libs));
    int n = 0;
    for (int i = 0; i < s->nlibs; i++) {
        bool replaced = false;
        for (int k = 0; k < r->n; k++) {
            if (strcmp(s->libs[i]->name, r->libs[k]->name) != 0) continue;
            if (!replace) {
                snprintf(err, errcap, "Library %s already exists", r->libs[k]->name);
                xfree(libs);
                return NULL;
            }
            replaced = true;
        }
        if (!replaced) libs[n++] = s->libs[i];
    }
    /* No function of a restored library may collide with a kept one. */
    struct fset *kept = set_build(libs, n);
    for (int k = 0; k < r->n; k++) {
        if (func_collision(kept, r->libs[k], NULL, NULL, err, errcap)) {
            set_unref(kept);
            xfree(libs);
            return NULL;
        }
    }
    set_unref(kept);
    for (int k = 0; k < r->n; k++) libs[n++] = r->libs[k];
    *out_n = n;
    return libs;
}

void script_function_restore(struct client *c) {
    if (c->argc > 4) {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try FUNCTION HELP.",
                     (int)MIN(c->argvlen[1], (size_t)128), c->argv[1]);
        return;
    }
    enum restore_policy policy = RESTORE_APPEND;
    if (c->argc == 4) {
        const char *p = c->argv[3];
        size_t pl = c->argvlen[3];
        if (pl == 6 && strncasecmp(p, "append", 6) == 0)
            policy = RESTORE_APPEND;
        else if (pl == 7 && strncasecmp(p, "replace", 7) == 0)
            policy = RESTORE_REPLACE;
        else if (pl == 5 && strncasecmp(p, "flush", 5) == 0)
            policy = RESTORE_FLUSH;
        else {
            reply_error(c, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    char err[1024];
    struct restore_ctx r = {0};
    if (persist_functions_parse(c->argv[2], c->argvlen[2], restore_one, &r, err, sizeof(err)) != 0) goto fail;
    if (policy == RESTORE_FLUSH) {
        set_publish(r.libs, r.n);
    } else {
        struct fset *s = set_get();
        int n;
        struct flib **libs = restore_merge(s, &r, policy == RESTORE_REPLACE, &n, err, sizeof(err));
        set_unref(s);
        if (libs == NULL) goto fail;
        set_publish(libs, n);
        xfree(libs);
    }
    for (int i = 0; i < r.n; i++) lib_unref(r.libs[i]);
    xfree(r.libs);
    exec_dirty(c, 1);
    reply_ok(c);
    return;
fail:
    for (int i = 0; i < r.n; i++) lib_unref(r.libs[i]);
    xfree(r.libs);
    reply_errorf(c, "ERR %s", err);
}

void script_function_stats(struct client *c) {
    struct srun_busy b;
    bool busy = srun_busy_info(&b);
    if (busy && b.eval) {
        srun_busy_free(&b);
        reply_error(c, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
        return;
    }
    reply_map(c, 2);
    reply_bulk_cstr(c, "running_script");
    if (!busy) {
        reply_null(c);
    } else {
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, b.name);
        reply_bulk_cstr(c, "command");
        reply_array(c, b.argc);
        for (int i = 0; i < b.argc; i++) reply_bulk(c, b.argv[i], b.lens[i]);
        reply_bulk_cstr(c, "duration_ms");
        reply_int(c, b.duration_ms);
        srun_busy_free(&b);
    }
    struct fset *s = set_get();
    reply_bulk_cstr(c, "engines");
    reply_map(c, 1);
    reply_bulk_cstr(c, ENGINE_NAME);
    reply_map(c, 2);
    reply_bulk_cstr(c, "libraries_count");
    reply_int(c, s->nlibs);
    reply_bulk_cstr(c, "functions_count");
    reply_int(c, s->nfuncs);
    set_unref(s);
}

/* ---- persistence -------------------------------------------------------------------------------- */

void script_functions_foreach(script_lib_fn fn, void *arg) {
    struct fset *s = set_get();
    for (int i = 0; i < s->nlibs; i++) fn(s->libs[i]->code, s->libs[i]->codelen, arg);
    set_unref(s);
}

int script_functions_load(const char *code, size_t len, bool replace, char *err, size_t errcap) {
    struct flib *lib = lib_create(code, len, 0, err, errcap);
    if (lib == NULL) return -1;
    struct fset *s = set_get();
    int old = set_find_lib(s, lib->name, strlen(lib->name));
    int rc = -1;
    if (old >= 0 && !replace) {
        snprintf(err, errcap, "Library '%s' already exists", lib->name);
        goto out;
    }
    if (func_collision(s, lib, old >= 0 ? s->libs[old]->name : NULL, NULL, err, errcap)) goto out;
    struct flib **libs = xmalloc((size_t)(s->nlibs + 1) * sizeof(*libs));
    int n = 0;
    for (int i = 0; i < s->nlibs; i++)
        if (i != old) libs[n++] = s->libs[i];
    libs[n++] = lib;
    set_publish(libs, n);
    xfree(libs);
    rc = 0;
out:
    set_unref(s);
    lib_unref(lib);
    return rc;
}

void script_functions_flush(void) { set_publish(NULL, 0); }

/* ---- setup, INFO ---------------------------------------------------------------------------------- */

void sfunc_setup(void) {
    slua_register_function = lua_register_function;
    cur_set = set_build(NULL, 0);
    cur_set->gen = atomic_load(&set_gen);
    /* Snapshots save the libraries and loading brings them back (persist/
     * is below exec/: it reaches the libraries only through these hooks). */
    static const struct persist_functions hooks = {script_functions_foreach, script_functions_load,
                                                   script_functions_flush};
    persist_set_functions(&hooks);
}

void sfunc_teardown(void) {
    set_unref(cur_set);
    cur_set = NULL;
}

void sfunc_thread_cleanup(void) { tf_reset(); }

void sfunc_info(struct script_info *out) {
    struct fset *s = set_get();
    out->functions = (uint64_t)s->nfuncs;
    out->libraries = (uint64_t)s->nlibs;
    size_t bytes = sizeof(*s);
    for (int i = 0; i < s->nlibs; i++) bytes += sizeof(struct flib) + s->libs[i]->codelen;
    out->functions_bytes = bytes;
    set_unref(s);
    size_t mem = 0;
    for (int i = 0; i <= WORKER_MAX; i++) mem += atomic_load_explicit(&func_mem[i], memory_order_relaxed);
    out->lua_func_bytes = mem;
}

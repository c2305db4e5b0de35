/*
 * exec/script_lua.c - sandboxed Lua 5.1 states, the redis.* API, and the
 * conversions between Lua values and RESP (Redis 7.0's rules).
 *
 * Sandbox
 *   A state has the base, table, string and math libraries plus cjson and
 *   bit (Debian's builds), struct and cmsgpack (lua_struct.c,
 *   lua_cmsgpack.c); no os, io, package, debug, print, dofile, loadfile.
 *   Loading binary chunks is refused (loadstring/load of "\27Lua").
 *
 * Readonly tables
 *   Redis 7.0 patches Lua so tables can be made readonly. Debian's stock
 *   Lua has no such flag, so every table a script can reach from its
 *   globals is replaced by an empty *proxy*:
 *
 *       proxy (empty) --metatable--> { __index = data, __newindex = error,
 *                                      __metatable = false }
 *
 *   Reads go through __index to the real table; assignments hit
 *   __newindex ("Attempt to modify a readonly table"). The functions that
 *   bypass metamethods are wrapped to see through or refuse proxies:
 *   rawget/next/pairs/ipairs read the data, rawset, setmetatable and
 *   table.insert/remove/sort/setn refuse a proxy; getfenv, setfenv and
 *   newproxy are absent (as in Redis 7.0.15). A registry table maps
 *   proxy -> data (weak keys).
 *
 *   The globals table itself is a proxy whose data table has an __index
 *   metamethod raising "Script attempted to access nonexistent global
 *   variable". Per-call globals (KEYS, ARGV) are set in the data table
 *   from C. A functions state switches its globals' __index between the
 *   library-load API (only redis.register_function, log, versions) and the
 *   run-time globals, as Redis does.
 *
 * Errors
 *   The error handler (C) turns any error into Redis's error table
 *   {err=..., source=..., line=...}; the caller formats "<err> script:
 *   <name>, on <source>:<line>." as Redis 7.0 does.
 *
 * Thread context: a state belongs to one worker thread ([owner]).
 */
#include "exec/script_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/str.h"
#include "exec/access.h"
#include "exec/reply.h"
#include "exec/stats.h"
#include "proto/respreply.h"

#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_VERSION_STR "7.0.15"
#define REDIS_VERSION_NUM 0x0007000f

int luaopen_cjson(lua_State *L); /* lua-cjson (Debian) */
int luaopen_bit(lua_State *L);   /* LuaBitOp (Debian) */

lua_CFunction slua_register_function;

/* Registry keys (addresses are unique). */
static char K_PROXIES;   /* proxy -> data, weak keys */
static char K_ERRH;      /* the error handler */
static char K_GMETA;     /* metatable of the globals proxy */
static char K_GDATA;     /* run-time globals data */
static char K_LOADDATA;  /* library-load globals data (functions states) */

/* ---- allocation -------------------------------------------------------------- */

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    _Atomic size_t *mem = ud;
    size_t cur = atomic_load_explicit(mem, memory_order_relaxed);
    if (nsize == 0) {
        if (ptr) {
            xfree(ptr);
            atomic_store_explicit(mem, cur - osize, memory_order_relaxed);
        }
        return NULL;
    }
    void *p = xrealloc(ptr, nsize);
    atomic_store_explicit(mem, cur - (ptr ? osize : 0) + nsize, memory_order_relaxed);
    return p;
}

static int l_panic(lua_State *L) {
    log_warn("Lua panic: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    abort();
}

/* ---- error tables ---------------------------------------------------------------- */

void slua_push_error(lua_State *L, const char *msg) {
    /* "-CODE msg" keeps its code; a bare message gets "ERR". */
    char buf[1024];
    const char *text;
    if (msg[0] == '-') {
        const char *sp = strchr(msg, ' ');
        if (sp == NULL)
            snprintf(buf, sizeof(buf), "ERR %s", msg + 1);
        else
            snprintf(buf, sizeof(buf), "%s", msg + 1);
        text = buf;
    } else {
        snprintf(buf, sizeof(buf), "ERR %s", msg);
        text = buf;
    }
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n')) n--;
    lua_checkstack(L, 4);
    lua_newtable(L);
    lua_pushlstring(L, text, n);
    lua_setfield(L, -2, "err");
}

int slua_raise(lua_State *L, const char *msg) {
    slua_push_error(L, msg);
    return lua_error(L);
}

/* ---- proxies --------------------------------------------------------------------- */

static int ro_newindex(lua_State *L) { return luaL_error(L, "Attempt to modify a readonly table"); }

static int missing_global(lua_State *L) {
    if (!lua_isstring(L, 2)) return luaL_error(L, "Second argument to luaProtectedTableError must be a string or number");
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", lua_tostring(L, 2));
}

/* The data table of proxy at idx, pushed; or nothing pushed (returns false). */
static bool push_data(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE) return false;
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    lua_pushlightuserdata(L, &K_PROXIES);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

static bool is_proxy(lua_State *L, int idx) {
    if (!push_data(L, idx)) return false;
    lua_pop(L, 1);
    return true;
}

/* Replace the data table on top with a new proxy of it. */
static void make_proxy(lua_State *L) {
    lua_newtable(L);               /* data proxy */
    lua_newtable(L);               /* data proxy mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);       /* data proxy */
    lua_pushlightuserdata(L, &K_PROXIES);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -4);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_remove(L, -2);             /* proxy */
}

/* Protect the data table on top recursively: every table field becomes a
 * proxy (visited: data -> proxy, at index `visited`). Leaves the proxy of
 * the top table on top, in place of the data table. */
static void protect_tree(lua_State *L, int visited) {
    lua_checkstack(L, 8);
    lua_pushvalue(L, -1);
    lua_rawget(L, visited);
    if (!lua_isnil(L, -1)) { /* already protected: its proxy */
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    /* Collect the table-valued fields first (no insertion while iterating). */
    int data = lua_gettop(L);
    lua_newtable(L);
    int keys = lua_gettop(L);
    int nkeys = 0;
    lua_pushnil(L);
    while (lua_next(L, data)) {
        if (lua_istable(L, -1) && !is_proxy(L, -1)) {
            lua_pushvalue(L, -2);
            lua_rawseti(L, keys, ++nkeys);
        }
        lua_pop(L, 1);
    }
    lua_pushvalue(L, data);
    make_proxy(L);
    /* visited[data] = proxy before recursing (cycles: _G._G). */
    lua_pushvalue(L, data);
    lua_pushvalue(L, -2);
    lua_rawset(L, visited);
    int proxy = lua_gettop(L);
    for (int i = 1; i <= nkeys; i++) {
        lua_rawgeti(L, keys, i);      /* key */
        lua_pushvalue(L, -1);
        lua_rawget(L, data);          /* key value */
        protect_tree(L, visited);     /* key proxy(value) */
        lua_rawset(L, data);
    }
    lua_pushvalue(L, proxy);
    lua_replace(L, data);
    lua_settop(L, data);
}

/* ---- wrapped builtins --------------------------------------------------------------- */

static int w_rawget(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    if (push_data(L, 1)) lua_replace(L, 1);
    lua_rawget(L, 1);
    return 1;
}

static int w_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_proxy(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int w_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (is_proxy(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    if (luaL_getmetafield(L, 1, "__metatable")) luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int w_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (push_data(L, 1)) lua_replace(L, 1);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int w_pairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int ipairs_aux(lua_State *L) {
    int i = luaL_checkint(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (push_data(L, 1)) lua_replace(L, 1);
    i++;
    lua_pushinteger(L, i);
    lua_rawgeti(L, 1, i);
    return lua_isnil(L, -1) ? 0 : 2;
}

static int w_ipairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* Binary chunks (string.dump output) are refused, as Redis's Lua does. */
static int load_text(lua_State *L, const char *s, size_t n, const char *chunkname) {
    if (n > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "binary chunks are not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, chunkname) == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

static int w_loadstring(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    return load_text(L, s, n, name);
}

static int w_load(lua_State *L) {
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) return luaL_error(L, "reader function must return a string");
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    return load_text(L, s, n, name);
}

/* table.insert/remove/sort/setn: refuse a proxy as their table. */
static int w_tablefn(lua_State *L) {
    if (lua_type(L, 1) == LUA_TTABLE && is_proxy(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Redis's pcall: an error table with an "err" field is returned as its
 * message, for compatibility with scripts written for Redis 6. */
static int w_pcall(lua_State *L) {
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

/* math.random / math.randomseed on the thread's own generator (the shape
 * of Redis's: libc independent, seedable). */
static int w_random(lua_State *L) {
    if (!srun_active()) return luaL_error(L, "math.random can only be called inside a script invocation");
    lua_Number r = (lua_Number)srun_random();
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int w_randomseed(lua_State *L) {
    if (!srun_active()) return luaL_error(L, "math.randomseed can only be called inside a script invocation");
    srun_seed((long)luaL_checkint(L, 1));
    return 0;
}

/* ---- RESP -> Lua ---------------------------------------------------------------------- */

static void need_stack(lua_State *L, int n) {
    if (!lua_checkstack(L, n)) slua_raise(L, "reached lua stack limit");
}

/* Push the Lua value of the reply element at buf[*pos]; NULL L skips it. */
static int resp_to_lua(lua_State *L, const char *buf, size_t len, size_t *pos) {
    struct resp_relem e;
    if (resp_reply_next(buf, len, pos, &e) != 0) return -1;
    need_stack(L, 4);
    switch (e.type) {
    case RR_STATUS:
        lua_newtable(L);
        lua_pushlstring(L, e.p, e.len);
        lua_setfield(L, -2, "ok");
        return 0;
    case RR_ERROR:
        lua_newtable(L);
        lua_pushlstring(L, e.p, e.len);
        lua_setfield(L, -2, "err");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "ignore_error_stats_update");
        return 0;
    case RR_INT:
        lua_pushnumber(L, (lua_Number)e.n);
        return 0;
    case RR_BULK:
        lua_pushlstring(L, e.p, e.len);
        return 0;
    case RR_NULL_BULK:
    case RR_NULL_ARRAY:
        lua_pushboolean(L, 0);
        return 0;
    case RR_NULL:
        lua_pushnil(L);
        return 0;
    case RR_ARRAY:
    case RR_PUSH:
        lua_newtable(L);
        for (long long i = 0; i < e.n; i++) {
            if (resp_to_lua(L, buf, len, pos) != 0) return -1;
            lua_rawseti(L, -2, (int)(i + 1));
        }
        return 0;
    case RR_MAP:
        lua_newtable(L);
        lua_newtable(L);
        for (long long i = 0; i < e.n; i++) {
            if (resp_to_lua(L, buf, len, pos) != 0 || resp_to_lua(L, buf, len, pos) != 0) return -1;
            lua_settable(L, -3);
        }
        lua_setfield(L, -2, "map");
        return 0;
    case RR_SET:
        lua_newtable(L);
        lua_newtable(L);
        for (long long i = 0; i < e.n; i++) {
            if (resp_to_lua(L, buf, len, pos) != 0) return -1;
            need_stack(L, 2);
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        lua_setfield(L, -2, "set");
        return 0;
    case RR_ATTR:
        /* Attributes are not shown to scripts: skip them, keep the reply. */
        for (long long i = 0; i < 2 * e.n; i++)
            if (resp_reply_skip(buf, len, pos) != 0) return -1;
        return resp_to_lua(L, buf, len, pos);
    case RR_DOUBLE:
        lua_newtable(L);
        lua_pushnumber(L, e.d);
        lua_setfield(L, -2, "double");
        return 0;
    case RR_BOOL:
        lua_pushboolean(L, (int)e.n);
        return 0;
    case RR_BIGNUM:
        lua_newtable(L);
        lua_pushlstring(L, e.p, e.len);
        lua_setfield(L, -2, "big_number");
        return 0;
    case RR_VERBATIM:
        lua_newtable(L);
        lua_newtable(L);
        lua_pushlstring(L, e.p, e.len);
        lua_setfield(L, -2, "string");
        lua_pushstring(L, e.fmt);
        lua_setfield(L, -2, "format");
        lua_setfield(L, -2, "verbatim_string");
        return 0;
    }
    return -1;
}

/* ---- redis.* ------------------------------------------------------------------------------ */

#define ARGV_STATIC 16

/* redis.call / redis.pcall. The arguments stay on the Lua stack while the
 * command runs: argv points into Lua's strings (numbers are formatted with
 * %.17g into a scratch buffer, as Redis does, to keep integers exact). */
static int redis_generic_call(lua_State *L, bool raise) {
    if (!srun_active()) {
        slua_push_error(L, "redis.call/pcall can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        slua_push_error(L, "Please specify at least one argument for this redis lib call");
        return raise ? lua_error(L) : 1;
    }
    const char *sargv[ARGV_STATIC];
    size_t slens[ARGV_STATIC];
    const char **argv = sargv;
    size_t *lens = slens;
    char *numbuf = NULL;
    if (argc > ARGV_STATIC) {
        argv = xmalloc((size_t)argc * sizeof(*argv));
        lens = xmalloc((size_t)argc * sizeof(*lens));
    }
    int nnum = 0;
    for (int j = 1; j <= argc; j++)
        if (lua_type(L, j) == LUA_TNUMBER) nnum++;
    if (nnum) numbuf = xmalloc((size_t)nnum * 32);
    int inum = 0, bad = 0;
    for (int j = 0; j < argc; j++) {
        int t = lua_type(L, j + 1);
        if (t == LUA_TNUMBER) {
            char *dst = numbuf + 32 * inum++;
            double d = (double)lua_tonumber(L, j + 1);
            /* %.17g prints integers below 1e17 as their digits: the fast
             * path gives the same text. */
            int n = (d > -1e17 && d < 1e17 && d == (double)(long long)d && (d != 0 || !signbit(d))) ? ll_to_str(dst, 32, (long long)d)
                                                                         : snprintf(dst, 32, "%.17g", d);
            argv[j] = dst;
            lens[j] = (size_t)n;
        } else if (t == LUA_TSTRING) {
            argv[j] = lua_tolstring(L, j + 1, &lens[j]);
        } else {
            bad = 1;
            break;
        }
    }
    int ret;
    if (bad) {
        lua_settop(L, 0);
        slua_push_error(L, "Lua redis lib command arguments must be strings or integers");
        ret = raise ? -1 : 1;
    } else {
        const char *out;
        size_t outlen;
        const char *err = srun_command(argc, argv, lens, &out, &outlen);
        lua_settop(L, 0);
        if (err) {
            slua_push_error(L, err);
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "ignore_error_stats_update");
            ret = raise ? -1 : 1;
        } else {
            size_t pos = 0;
            if (resp_to_lua(L, out, outlen, &pos) != 0) {
                lua_settop(L, 0);
                slua_push_error(L, "ERR reply of the command could not be read");
            }
            srun_command_done();
            ret = 1;
            if (raise && lua_istable(L, -1)) {
                lua_getfield(L, -1, "err");
                bool is_err = lua_isstring(L, -1);
                lua_pop(L, 1);
                if (is_err) ret = -1;
            }
        }
    }
    if (argv != sargv) {
        xfree(argv);
        xfree(lens);
    }
    xfree(numbuf);
    return ret < 0 ? lua_error(L) : ret;
}

static int redis_call(lua_State *L) { return redis_generic_call(L, true); }
static int redis_pcall(lua_State *L) { return redis_generic_call(L, false); }

static int redis_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1) return slua_raise(L, "wrong number of arguments");
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    char hex[41];
    script_sha1hex(hex, s ? s : "", s ? n : 0);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        slua_push_error(L, "wrong number or type of arguments");
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    char *msg = xmalloc(n + 2);
    size_t off = 0;
    if (s[0] != '-') msg[off++] = '-';
    memcpy(msg + off, s, n);
    msg[off + n] = '\0';
    slua_push_error(L, msg);
    xfree(msg);
    return 1;
}

static int redis_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        slua_push_error(L, "wrong number or type of arguments");
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, "ok");
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    return 1;
}

static int redis_set_repl(lua_State *L) {
    if (!srun_active()) return slua_raise(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1) return slua_raise(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, -1);
    if ((flags & ~(SRUN_REPL_AOF | SRUN_REPL_REPLICA)) != 0)
        return slua_raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    srun_set_repl(flags);
    return 0;
}

static int redis_setresp(lua_State *L) {
    if (!srun_active()) return slua_raise(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1) return slua_raise(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, -1);
    if (resp != 2 && resp != 3) return slua_raise(L, "RESP version must be 2 or 3.");
    srun_set_resp(resp);
    return 0;
}

/* redis.acl_check_cmd(cmd, args...): may the user running the script run
 * this command with these arguments? An unknown command is an error. */
static int redis_acl_check_cmd(lua_State *L) {
    if (!srun_active()) return slua_raise(L, "redis.acl_check_cmd can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0) return slua_raise(L, "Please specify at least one argument for this redis lib call");
    const char *argv[64];
    size_t lens[64];
    const char **av = argc <= 64 ? argv : xmalloc((size_t)argc * sizeof(*av));
    size_t *lv = argc <= 64 ? lens : xmalloc((size_t)argc * sizeof(*lv));
    bool ok = true;
    for (int j = 0; j < argc; j++) {
        av[j] = lua_tolstring(L, j + 1, &lv[j]); /* numbers become strings, as Redis */
        if (av[j] == NULL) ok = false;
    }
    const struct command *cmd = ok ? exec_command_lookup(av[0], lv[0]) : NULL;
    if (cmd && cmd->nsubcmds > 0 && argc >= 2) cmd = exec_subcommand_lookup(cmd, av[1], lv[1]);
    int allowed = -1;
    if (cmd) {
        int pos;
        struct acl_user *u = srun_caller()->user;
        allowed = u == NULL || exec_access_check_user(u, cmd, argc, av, lv, &pos) == ACL_OK;
    }
    if (av != argv) xfree(av);
    if (lv != lens) xfree(lv);
    if (allowed == -1) return slua_raise(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, allowed);
    return 1;
}

static int redis_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2) return slua_raise(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return slua_raise(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING) return slua_raise(L, "Invalid debug level.");
    if (level < (int)log_get_level()) return 0;
    struct buf b = BUF_INIT;
    for (int j = 2; j <= argc; j++) {
        size_t n;
        const char *s = lua_tolstring(L, j, &n);
        if (s == NULL) continue;
        if (j != 2) buf_putc(&b, ' ');
        buf_append(&b, s, n);
    }
    buf_putc(&b, '\0');
    log_write((enum log_level)level, "%s", b.data);
    buf_free(&b);
    return 0;
}

/* Outside the (unsupported) debugger, as in Redis: false / no-op / true. */
static int redis_breakpoint(lua_State *L) {
    lua_pushboolean(L, 0);
    return 1;
}
static int redis_debug(lua_State *L) { return 0; }
static int redis_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static void set_fn(lua_State *L, const char *name, lua_CFunction f) {
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static void set_num(lua_State *L, const char *name, lua_Number v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

static void add_log_and_version(lua_State *L) {
    set_fn(L, "log", redis_log);
    set_num(L, "LOG_DEBUG", LOG_DEBUG);
    set_num(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_num(L, "LOG_NOTICE", LOG_NOTICE);
    set_num(L, "LOG_WARNING", LOG_WARNING);
    set_num(L, "REDIS_VERSION_NUM", REDIS_VERSION_NUM);
    lua_pushstring(L, REDIS_VERSION_STR);
    lua_setfield(L, -2, "REDIS_VERSION");
}

/* Push the run-time `redis` table. */
static void push_redis_api(lua_State *L, enum slua_kind kind) {
    lua_newtable(L);
    set_fn(L, "call", redis_call);
    set_fn(L, "pcall", redis_pcall);
    add_log_and_version(L);
    set_fn(L, "setresp", redis_setresp);
    set_fn(L, "sha1hex", redis_sha1hex);
    set_fn(L, "error_reply", redis_error_reply);
    set_fn(L, "status_reply", redis_status_reply);
    set_fn(L, "set_repl", redis_set_repl);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", SRUN_REPL_AOF);
    set_num(L, "REPL_SLAVE", SRUN_REPL_REPLICA);
    set_num(L, "REPL_REPLICA", SRUN_REPL_REPLICA);
    set_num(L, "REPL_ALL", SRUN_REPL_AOF | SRUN_REPL_REPLICA);
    set_fn(L, "acl_check_cmd", redis_acl_check_cmd);
    if (kind == SLUA_EVAL) {
        set_fn(L, "breakpoint", redis_breakpoint);
        set_fn(L, "debug", redis_debug);
        set_fn(L, "replicate_commands", redis_replicate_commands);
    }
}

/* ---- error handler ------------------------------------------------------------------------ */

static int errhandler(lua_State *L) {
    lua_Debug ar;
    bool have = false;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar)) {
        have = true;
        if (strcmp(ar.what, "C") == 0) have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    }
    if (!lua_istable(L, 1)) {
        /* {err = 'ERR ' .. tostring(err)} */
        const char *s;
        char tmp[64];
        switch (lua_type(L, 1)) {
        case LUA_TSTRING:
        case LUA_TNUMBER:
            s = lua_tostring(L, 1);
            break;
        case LUA_TNIL:
            s = "nil";
            break;
        case LUA_TBOOLEAN:
            s = lua_toboolean(L, 1) ? "true" : "false";
            break;
        default:
            snprintf(tmp, sizeof(tmp), "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
            s = tmp;
        }
        lua_newtable(L);
        lua_pushstring(L, "ERR ");
        lua_pushstring(L, s);
        lua_concat(L, 2);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    if (have) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushnumber(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    lua_settop(L, 1);
    return 1;
}

void slua_push_errhandler(lua_State *L) {
    lua_pushlightuserdata(L, &K_ERRH);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* ---- creation ------------------------------------------------------------------------------- */

static void open_lib(lua_State *L, const char *name, lua_CFunction fn) {
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (name[0] && lua_istable(L, -1)) {
        lua_pushvalue(L, -1);
        lua_setglobal(L, name); /* still the plain globals table here */
    }
    lua_pop(L, 1);
}

static void wrap_field(lua_State *L, const char *lib, const char *field, lua_CFunction wrapper) {
    lua_getglobal(L, lib);
    lua_getfield(L, -1, field);
    lua_pushcclosure(L, wrapper, 1);
    lua_setfield(L, -2, field);
    lua_pop(L, 1);
}

/* A table with the "nonexistent global" metatable, on top. */
static void set_missing_meta(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

static void set_missing_meta_on(lua_State *L, int idx) {
    lua_pushvalue(L, idx);
    set_missing_meta(L);
    lua_pop(L, 1);
}

/* The libraries and wrapped builtins, in the plain globals table. */
static void open_libs(lua_State *L, enum slua_kind kind) {
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, "cjson", luaopen_cjson);
    open_lib(L, "struct", slua_open_struct);
    open_lib(L, "cmsgpack", slua_open_cmsgpack);
    open_lib(L, "bit", luaopen_bit);
    /* Redis 7.0.15 has none of these (getfenv/setfenv could reach or
     * replace the protected environments, newproxy makes userdata). */
    static const char *const removed[] = {"dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_register(L, "pcall", w_pcall);
    lua_register(L, "rawget", w_rawget);
    lua_register(L, "rawset", w_rawset);
    lua_register(L, "setmetatable", w_setmetatable);
    lua_register(L, "loadstring", w_loadstring);
    lua_register(L, "load", w_load);
    lua_pushcfunction(L, w_next);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "next");
    lua_pushcclosure(L, w_pairs, 1);
    lua_setglobal(L, "pairs");
    lua_pushcfunction(L, ipairs_aux);
    lua_pushcclosure(L, w_ipairs, 1);
    lua_setglobal(L, "ipairs");
    static const char *const tfns[] = {"insert", "remove", "sort", "setn", NULL};
    for (int i = 0; tfns[i]; i++) wrap_field(L, LUA_TABLIBNAME, tfns[i], w_tablefn);
    lua_getglobal(L, LUA_MATHLIBNAME);
    set_fn(L, "random", w_random);
    set_fn(L, "randomseed", w_randomseed);
    lua_pop(L, 1);
    push_redis_api(L, kind);
    lua_setglobal(L, "redis");
    if (kind == SLUA_EVAL) {
        /* Redis keeps its pcall error handler there (a global of eval). */
        lua_pushcfunction(L, errhandler);
        lua_setglobal(L, "__redis__err__handler");
    }
}

/* Turn the globals into readonly proxies (see the file comment). */
static void protect_globals(lua_State *L, enum slua_kind kind) {
    /* The run-time globals data table: protect everything reachable. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    int gdata = lua_gettop(L);
    lua_newtable(L);
    int visited = lua_gettop(L);
    lua_pushvalue(L, gdata);
    protect_tree(L, visited); /* G' */
    int gproxy = lua_gettop(L);
    lua_pushvalue(L, gproxy);
    lua_setfield(L, gdata, "_G");
    set_missing_meta_on(L, gdata);
    /* Strings' metatable: methods from the protected string table, and a
     * readonly view for getmetatable(''). */
    lua_pushstring(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, gdata, LUA_STRLIBNAME);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__index");
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    make_proxy(L);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    /* The globals proxy's metatable: __index switches between the run-time
     * and load-time data (functions); its __metatable is a readonly view. */
    lua_getmetatable(L, gproxy);
    int gmeta = lua_gettop(L);
    lua_pushlightuserdata(L, &K_GMETA);
    lua_pushvalue(L, gmeta);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_pushvalue(L, gproxy);
    lua_setfield(L, -2, "__index");
    make_proxy(L);
    lua_setfield(L, gmeta, "__metatable");
    lua_pushlightuserdata(L, &K_GDATA);
    lua_pushvalue(L, gdata);
    lua_rawset(L, LUA_REGISTRYINDEX);
    if (kind == SLUA_FUNC) {
        /* Load-time globals: only `redis` with register_function, log and
         * versions; anything else is a nonexistent global. */
        lua_newtable(L);
        int ldata = lua_gettop(L);
        lua_newtable(L);
        lua_pushcfunction(L, slua_register_function);
        lua_setfield(L, -2, "register_function");
        add_log_and_version(L);
        set_missing_meta(L);
        lua_newtable(L);
        int lvisited = lua_gettop(L);
        lua_pushvalue(L, -2);
        protect_tree(L, lvisited);
        lua_setfield(L, ldata, "redis");
        lua_pop(L, 2);
        set_missing_meta_on(L, ldata);
        lua_pushlightuserdata(L, &K_LOADDATA);
        lua_pushvalue(L, ldata);
        lua_rawset(L, LUA_REGISTRYINDEX);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, gproxy);
    lua_replace(L, LUA_GLOBALSINDEX);
}

lua_State *slua_create(enum slua_kind kind, _Atomic size_t *mem) {
    lua_State *L = lua_newstate(l_alloc, mem);
    if (L == NULL) PANIC("lua_newstate failed");
    lua_atpanic(L, l_panic);
    lua_pushlightuserdata(L, &K_PROXIES);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &K_ERRH);
    lua_pushcfunction(L, errhandler);
    lua_rawset(L, LUA_REGISTRYINDEX);
    open_libs(L, kind);
    protect_globals(L, kind);
    lua_settop(L, 0);
    return L;
}

void slua_destroy(lua_State **L) {
    if (*L) lua_close(*L);
    *L = NULL;
}

void slua_set_load_mode(lua_State *L, bool load) {
    lua_pushlightuserdata(L, &K_GMETA);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, load ? &K_LOADDATA : &K_GDATA);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void slua_push_array(lua_State *L, const char *const *argv, const size_t *lens, int n) {
    lua_createtable(L, n, 0);
    for (int j = 0; j < n; j++) {
        lua_pushlstring(L, argv[j], lens[j]);
        lua_rawseti(L, -2, j + 1);
    }
}

void slua_set_keys_argv(lua_State *L, const char *const *argv, const size_t *lens, int nkeys, int nargs) {
    lua_pushlightuserdata(L, &K_GDATA);
    lua_rawget(L, LUA_REGISTRYINDEX);
    slua_push_array(L, argv, lens, nkeys);
    lua_setfield(L, -2, "KEYS");
    slua_push_array(L, argv + nkeys, lens + nkeys, nargs);
    lua_setfield(L, -2, "ARGV");
    lua_pop(L, 1);
}

void slua_install_hook(lua_State *L, lua_Hook fn, int mask, int count) { lua_sethook(L, fn, mask, count); }

/* ---- Lua -> reply -------------------------------------------------------------------- */

/* Copy of s with CR and LF turned into spaces (status and big numbers). */
static char *no_newlines(const char *s, size_t n) {
    char *o = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) o[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    o[n] = '\0';
    return o;
}

/* An error reply; when `no_stats` the error was already counted (by the
 * command that produced it), so only the script's failed call is. */
static void error_reply(struct client *c, const char *msg, size_t n, bool no_stats) {
    if (no_stats) {
        resp_w_error(c->out, msg, n);
        stats_command_failed(c);
        return;
    }
    char *z = xmalloc(n + 1);
    memcpy(z, msg, n);
    z[n] = '\0';
    reply_error(c, z);
    xfree(z);
}

/* Does the table on top have field `name` of type t? Pushes it if so. */
static bool get_raw_field(lua_State *L, const char *name, int t) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    if (lua_type(L, -1) == t) return true;
    lua_pop(L, 1);
    return false;
}

static void to_reply(struct client *c, int sresp, lua_State *L);

static void table_to_reply(struct client *c, int sresp, lua_State *L) {
    size_t n;
    if (get_raw_field(L, "err", LUA_TSTRING)) {
        const char *s = lua_tolstring(L, -1, &n);
        lua_pop(L, 1);
        bool no_stats = false;
        if (get_raw_field(L, "ignore_error_stats_update", LUA_TBOOLEAN)) {
            no_stats = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        lua_pushstring(L, "err");
        lua_rawget(L, -2);
        s = lua_tolstring(L, -1, &n);
        error_reply(c, s, n, no_stats);
        lua_pop(L, 1);
        return;
    }
    if (get_raw_field(L, "ok", LUA_TSTRING)) {
        const char *s = lua_tolstring(L, -1, &n);
        char *z = no_newlines(s, n);
        resp_w_simple(c->out, z, n);
        xfree(z);
        lua_pop(L, 1);
        return;
    }
    if (get_raw_field(L, "double", LUA_TNUMBER)) {
        reply_double(c, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (get_raw_field(L, "big_number", LUA_TSTRING)) {
        const char *s = lua_tolstring(L, -1, &n);
        char *z = no_newlines(s, n);
        resp_w_bignum(c->out, c->resp, z, n);
        xfree(z);
        lua_pop(L, 1);
        return;
    }
    if (get_raw_field(L, "verbatim_string", LUA_TTABLE)) {
        if (get_raw_field(L, "format", LUA_TSTRING)) {
            size_t fl;
            const char *f = lua_tolstring(L, -1, &fl);
            char fmt[4] = {' ', ' ', ' ', '\0'};
            memcpy(fmt, f, MIN(fl, (size_t)3));
            lua_pop(L, 1);
            if (get_raw_field(L, "string", LUA_TSTRING)) {
                const char *s = lua_tolstring(L, -1, &n);
                reply_verbatim(c, s, n, fmt);
                lua_pop(L, 2);
                return;
            }
        }
        lua_pop(L, 1);
    }
    if (get_raw_field(L, "map", LUA_TTABLE)) {
        struct onode *d = reply_defer(c);
        long long len = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            to_reply(c, sresp, L); /* key */
            to_reply(c, sresp, L); /* value */
            len++;
        }
        reply_defer_map(c, d, len);
        lua_pop(L, 1);
        return;
    }
    if (get_raw_field(L, "set", LUA_TTABLE)) {
        struct onode *d = reply_defer(c);
        long long len = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            to_reply(c, sresp, L);
            len++;
        }
        reply_defer_set(c, d, len);
        lua_pop(L, 1);
        return;
    }
    struct onode *d = reply_defer(c);
    long long len = 0;
    for (int j = 1;; j++) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        to_reply(c, sresp, L);
        len++;
    }
    reply_defer_array(c, d, len);
}

/* Reply with the value on top of L (popped). sresp: the script's RESP. */
static void to_reply(struct client *c, int sresp, lua_State *L) {
    if (!lua_checkstack(L, 4)) {
        reply_error(c, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_bulk(c, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (sresp == 2) {
            if (lua_toboolean(L, -1))
                reply_int(c, 1);
            else
                reply_null(c);
        } else {
            reply_bool(c, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        reply_int(c, (long long)lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        table_to_reply(c, sresp, L);
        break;
    default:
        reply_null(c);
    }
    lua_pop(L, 1);
}

void slua_reply(struct client *c, lua_State *L) { to_reply(c, srun_get_resp(), L); }

/* err/source/line of the error object on top (Redis's errorInfo). */
struct errinfo {
    char msg[1024];
    char source[256];
    long line;
    bool have_where;
    bool no_stats;
};

static void error_info(lua_State *L, struct errinfo *ei) {
    memset(ei, 0, sizeof(*ei));
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        snprintf(ei->msg, sizeof(ei->msg), "ERR %s", lua_tostring(L, -1));
        return;
    }
    if (!lua_istable(L, -1)) {
        snprintf(ei->msg, sizeof(ei->msg), "ERR %s", "execution failure");
        return;
    }
    lua_getfield(L, -1, "err");
    if (lua_isstring(L, -1)) snprintf(ei->msg, sizeof(ei->msg), "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "source");
    bool have_source = lua_isstring(L, -1);
    if (have_source) snprintf(ei->source, sizeof(ei->source), "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "line");
    if (lua_isstring(L, -1) && have_source) {
        ei->line = (long)lua_tonumber(L, -1);
        ei->have_where = true;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "ignore_error_stats_update");
    if (lua_isboolean(L, -1)) ei->no_stats = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

void slua_reply_error(struct client *c, lua_State *L, const char *name) {
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        reply_errorf(c, "ERR Error running script %s, %.100s", name, msg);
        lua_pop(L, 1);
        return;
    }
    struct errinfo ei;
    error_info(L, &ei);
    lua_pop(L, 1);
    char out[1400];
    int n;
    if (ei.have_where)
        n = snprintf(out, sizeof(out), "%s script: %s, on %s:%ld.", ei.msg, name, ei.source, ei.line);
    else
        n = snprintf(out, sizeof(out), "%s", ei.msg);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(out)) n = (int)sizeof(out) - 1;
    /* Redis: an error text without a code gets "ERR". */
    if (n == 0) {
        error_reply(c, "ERR", 3, ei.no_stats);
        return;
    }
    error_reply(c, out, (size_t)n, ei.no_stats);
}

void slua_error_text(lua_State *L, char *out, size_t cap) {
    struct errinfo ei;
    error_info(L, &ei);
    snprintf(out, cap, "%s", ei.msg);
}

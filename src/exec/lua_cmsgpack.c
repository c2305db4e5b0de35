/*
 * exec/lua_cmsgpack.c - the `cmsgpack` library scripts see: MessagePack
 * encoding and decoding with the API and the byte output of the library
 * Redis bundles (lua-cmsgpack 0.4.0), written for Stash (Debian has no
 * Lua 5.1 package of it).
 *
 *   cmsgpack.pack(v1, v2, ...)        -> the concatenated encodings
 *   cmsgpack.unpack(s)                -> every value in s
 *   cmsgpack.unpack_one(s [, off])    -> next offset (-1 at the end), value
 *   cmsgpack.unpack_limit(s, n [, off]) -> next offset, up to n values
 *
 * Encoding rules (Redis's): nil c0, false c2, true c3; a number that is an
 * int64 exactly -> the smallest integer encoding (fixint, cc/cd/ce/cf,
 * e0.., d0/d1/d2/d3), else ca (float) when a float holds it exactly, else
 * cb (double); strings fixstr/d9/da/db; a table whose keys are exactly
 * 1..n is an array (90/dc/dd), else a map (80/de/df); tables nested deeper
 * than 16 levels, and functions or userdata, encode as nil.
 *
 * Thread context: [owner] of the Lua state.
 */
#include "exec/script_int.h"
#include "base/buf.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_NESTING 16
#define MAX_DECODE_DEPTH 1000

/* ---- encoding --------------------------------------------------------------------------------- */

static void put_be(struct buf *b, unsigned char head, uint64_t v, int bytes) {
    unsigned char t[9];
    t[0] = head;
    for (int i = 0; i < bytes; i++) t[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    buf_append(b, t, (size_t)bytes + 1);
}

static void enc_int(struct buf *b, int64_t n) {
    if (n >= 0) {
        uint64_t u = (uint64_t)n;
        if (u <= 127) {
            unsigned char c = (unsigned char)u;
            buf_append(b, &c, 1);
        } else if (u <= 0xff) {
            put_be(b, 0xcc, u, 1);
        } else if (u <= 0xffff) {
            put_be(b, 0xcd, u, 2);
        } else if (u <= 0xffffffffULL) {
            put_be(b, 0xce, u, 4);
        } else {
            put_be(b, 0xcf, u, 8);
        }
    } else if (n >= -32) {
        unsigned char c = (unsigned char)(int8_t)n;
        buf_append(b, &c, 1);
    } else if (n >= -128) {
        put_be(b, 0xd0, (uint64_t)n, 1);
    } else if (n >= -32768) {
        put_be(b, 0xd1, (uint64_t)n, 2);
    } else if (n >= -2147483648LL) {
        put_be(b, 0xd2, (uint64_t)n, 4);
    } else {
        put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void enc_number(struct buf *b, lua_Number n) {
    if (!isinf(n) && !isnan(n) && n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
        (lua_Number)(int64_t)n == n) {
        enc_int(b, (int64_t)n);
        return;
    }
    float f = (float)n;
    if ((double)f == (double)n) {
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be(b, 0xca, u, 4);
    } else {
        uint64_t u;
        double d = (double)n;
        memcpy(&u, &d, 8);
        put_be(b, 0xcb, u, 8);
    }
}

static void enc_string(struct buf *b, const char *s, size_t n) {
    if (n < 32) {
        unsigned char c = (unsigned char)(0xa0 | n);
        buf_append(b, &c, 1);
    } else if (n <= 0xff) {
        put_be(b, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        put_be(b, 0xda, n, 2);
    } else {
        put_be(b, 0xdb, n, 4);
    }
    buf_append(b, s, n);
}

/* Are the table's keys exactly 1..n? (count, via *n) */
static bool is_array(lua_State *L, size_t *n) {
    size_t count = 0;
    lua_Number max = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return false;
        }
        lua_Number k = lua_tonumber(L, -1);
        if (k <= 0 || k != floor(k)) {
            lua_pop(L, 1);
            return false;
        }
        if (k > max) max = k;
        count++;
    }
    *n = count;
    return max == (lua_Number)count;
}

static void encode(lua_State *L, struct buf *b, int level);

static void enc_table(lua_State *L, struct buf *b, int level) {
    size_t n;
    luaL_checkstack(L, 3, "in function mp_encode_lua_table");
    if (is_array(L, &n)) {
        if (n < 16)
            put_be(b, (unsigned char)(0x90 | n), 0, 0);
        else if (n <= 0xffff)
            put_be(b, 0xdc, n, 2);
        else
            put_be(b, 0xdd, n, 4);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            encode(L, b, level + 1);
        }
        return;
    }
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (n < 16)
        put_be(b, (unsigned char)(0x80 | n), 0, 0);
    else if (n <= 0xffff)
        put_be(b, 0xde, n, 2);
    else
        put_be(b, 0xdf, n, 4);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        encode(L, b, level + 1); /* key */
        encode(L, b, level + 1); /* value */
    }
}

/* Encode the value on top (popped). */
static void encode(lua_State *L, struct buf *b, int level) {
    unsigned char c;
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == MAX_NESTING) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        enc_string(b, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        c = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        buf_append(b, &c, 1);
        break;
    case LUA_TNUMBER:
        enc_number(b, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        enc_table(L, b, level);
        break;
    default:
        c = 0xc0;
        buf_append(b, &c, 1);
    }
    lua_pop(L, 1);
}

static int mp_pack(lua_State *L) {
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs)) return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    struct buf b = BUF_INIT;
    for (int i = 1; i <= nargs; i++) {
        luaL_checkstack(L, 1, "in function mp_check");
        lua_pushvalue(L, i);
        encode(L, &b, 0);
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    buf_free(&b);
    return 1;
}

/* ---- decoding ------------------------------------------------------------------------------------ */

enum { DEC_OK, DEC_EOF, DEC_BAD };

struct cur {
    const unsigned char *p;
    size_t left;
    int err;
};

static bool need(struct cur *c, size_t n) {
    if (c->left < n) {
        c->err = DEC_EOF;
        return false;
    }
    return true;
}

static uint64_t get_be(struct cur *c, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | c->p[i];
    c->p += bytes;
    c->left -= (size_t)bytes;
    return v;
}

static void decode(lua_State *L, struct cur *c, int depth);

static void dec_array(lua_State *L, struct cur *c, uint64_t n, int depth) {
    lua_newtable(L);
    for (uint64_t i = 1; i <= n && c->err == DEC_OK; i++) {
        decode(L, c, depth + 1);
        if (c->err != DEC_OK) return;
        lua_rawseti(L, -2, (int)i);
    }
}

static void dec_map(lua_State *L, struct cur *c, uint64_t n, int depth) {
    lua_newtable(L);
    for (uint64_t i = 0; i < n && c->err == DEC_OK; i++) {
        decode(L, c, depth + 1);
        if (c->err != DEC_OK) return;
        decode(L, c, depth + 1);
        if (c->err != DEC_OK) return;
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2); /* a nil key cannot be stored */
            continue;
        }
        lua_settable(L, -3);
    }
}

static void dec_string(lua_State *L, struct cur *c, uint64_t n) {
    if (!need(c, n)) return;
    lua_pushlstring(L, (const char *)c->p, n);
    c->p += n;
    c->left -= n;
}

/* Push one decoded value (nothing on error). */
static void decode(lua_State *L, struct cur *c, int depth) {
    if (depth > MAX_DECODE_DEPTH) {
        c->err = DEC_BAD;
        return;
    }
    luaL_checkstack(L, 3, "too many nested MessagePack values");
    if (!need(c, 1)) return;
    unsigned char b = *c->p++;
    c->left--;
    if (b <= 0x7f) {
        lua_pushnumber(L, b);
    } else if (b >= 0xe0) {
        lua_pushnumber(L, (int8_t)b);
    } else if ((b & 0xe0) == 0xa0) {
        dec_string(L, c, b & 0x1f);
    } else if ((b & 0xf0) == 0x90) {
        dec_array(L, c, b & 0x0f, depth);
    } else if ((b & 0xf0) == 0x80) {
        dec_map(L, c, b & 0x0f, depth);
    } else {
        switch (b) {
        case 0xc0:
            lua_pushnil(L);
            break;
        case 0xc2:
            lua_pushboolean(L, 0);
            break;
        case 0xc3:
            lua_pushboolean(L, 1);
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf: {
            int w = 1 << (b - 0xcc);
            if (!need(c, (size_t)w)) return;
            lua_pushnumber(L, (lua_Number)get_be(c, w));
            break;
        }
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            int w = 1 << (b - 0xd0);
            if (!need(c, (size_t)w)) return;
            uint64_t u = get_be(c, w);
            int64_t v = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : w == 4 ? (int32_t)u : (int64_t)u;
            lua_pushnumber(L, (lua_Number)v);
            break;
        }
        case 0xca: {
            if (!need(c, 4)) return;
            uint32_t u = (uint32_t)get_be(c, 4);
            float f;
            memcpy(&f, &u, 4);
            lua_pushnumber(L, f);
            break;
        }
        case 0xcb: {
            if (!need(c, 8)) return;
            uint64_t u = get_be(c, 8);
            double d;
            memcpy(&d, &u, 8);
            lua_pushnumber(L, d);
            break;
        }
        case 0xd9:
        case 0xda:
        case 0xdb: {
            int w = 1 << (b - 0xd9);
            if (!need(c, (size_t)w)) return;
            dec_string(L, c, get_be(c, w));
            break;
        }
        case 0xdc:
        case 0xdd: {
            int w = b == 0xdc ? 2 : 4;
            if (!need(c, (size_t)w)) return;
            dec_array(L, c, get_be(c, w), depth);
            break;
        }
        case 0xde:
        case 0xdf: {
            int w = b == 0xde ? 2 : 4;
            if (!need(c, (size_t)w)) return;
            dec_map(L, c, get_be(c, w), depth);
            break;
        }
        default:
            c->err = DEC_BAD;
        }
    }
}

static int unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    bool all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    if (all) limit = INT32_MAX;
    struct cur c = {(const unsigned char *)s + offset, len - (size_t)offset, DEC_OK};
    int top = lua_gettop(L);
    int cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        decode(L, &c, 0);
        if (c.err == DEC_EOF) return luaL_error(L, "Missing bytes in input.");
        if (c.err == DEC_BAD) return luaL_error(L, "Bad data format in input.");
    }
    if (!all) {
        size_t next = len - c.left;
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)next);
        lua_insert(L, top + 1);
        cnt++;
    }
    return cnt;
}

static int mp_unpack(lua_State *L) { return unpack_full(L, 0, 0); }

static int mp_unpack_one(lua_State *L) {
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L) {
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return unpack_full(L, limit, offset);
}

int slua_open_cmsgpack(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"pack", mp_pack},
        {"unpack", mp_unpack},
        {"unpack_one", mp_unpack_one},
        {"unpack_limit", mp_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}

/*
 * exec/lua_struct.c - the `struct` library scripts see: packing Lua values
 * into binary strings and back, with the format language and messages of
 * the library Redis bundles (Roberto Ierusalimschy's struct 0.2), written
 * for Stash (Debian has no Lua 5.1 package of it).
 *
 *   struct.pack(fmt, v1, ...)     -> string
 *   struct.unpack(fmt, s [, pos]) -> v1, ..., next position
 *   struct.size(fmt)              -> bytes
 *
 * Format: '<' little / '>' big endian (default native: little here), '!n'
 * maximum alignment (default 1: packed), 'x' a zero byte, 'b'/'B' char,
 * 'h'/'H' short, 'l'/'L' long, 'T' size_t, 'in'/'In' n-byte integers
 * (default 4, at most 32), 'f' float, 'd' double, 'cn' n chars ('c0': the
 * whole string when packing, the previous number's length when
 * unpacking), 's' a zero-terminated string, ' ' ignored. Lower case is
 * signed.
 *
 * Thread context: [owner] of the Lua state.
 */
#include "exec/script_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define MAXINTSIZE 32
#define MAXALIGN 8

struct fmt_state {
    bool little;
    int align;
};

static int getnum(lua_State *L, const char **fmt, int df) {
    if (!isdigit((unsigned char)**fmt)) return df;
    int a = 0;
    do {
        int d = **fmt - '0';
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - d) luaL_error(L, "integral size overflow");
        a = a * 10 + d;
        (*fmt)++;
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t optsize(lua_State *L, int opt, const char **fmt) {
    switch (opt) {
    case 'B':
    case 'b':
        return 1;
    case 'H':
    case 'h':
        return 2;
    case 'L':
    case 'l':
    case 'T':
    case 'd':
        return 8;
    case 'f':
        return 4;
    case 'x':
        return 1;
    case 'c':
        return (size_t)getnum(L, fmt, 1);
    case 'i':
    case 'I': {
        int sz = getnum(L, fmt, 4);
        if (sz > MAXINTSIZE) luaL_error(L, "integral size %d is larger than limit of %d", sz, MAXINTSIZE);
        return (size_t)sz;
    }
    default:
        return 0;
    }
}

static size_t toalign(size_t len, const struct fmt_state *h, int opt, size_t size) {
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

static void control(lua_State *L, int opt, const char **fmt, struct fmt_state *h) {
    switch (opt) {
    case ' ':
        return;
    case '>':
        h->little = false;
        return;
    case '<':
        h->little = true;
        return;
    case '!': {
        int a = getnum(L, fmt, MAXALIGN);
        if (a <= 0 || (a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

static void put_int(lua_State *L, luaL_Buffer *b, int arg, bool little, size_t size) {
    lua_Number n = luaL_checknumber(L, arg);
    uint64_t v = n < 0 ? (uint64_t)(int64_t)n : (uint64_t)n;
    char buf[MAXINTSIZE];
    for (size_t i = 0; i < size; i++) {
        size_t at = little ? i : size - 1 - i;
        buf[at] = (char)(v & 0xff);
        v = i < 7 ? v >> 8 : 0;
    }
    luaL_addlstring(b, buf, size);
}

static lua_Number get_int(const char *p, bool little, bool is_signed, size_t size) {
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++) {
        size_t at = little ? size - 1 - i : i;
        v = (v << 8) | (unsigned char)p[at];
    }
    if (!is_signed) return (lua_Number)v;
    if (size < 8) {
        uint64_t mask = ~(uint64_t)0 << (size * 8 - 1);
        if (v & mask) v |= mask;
    }
    return (lua_Number)(int64_t)v;
}

/* Bytes of a float/double in the wanted byte order. */
static void order(char *p, size_t n, bool little) {
    if (little) return; /* x86: native is little-endian */
    for (size_t i = 0; i < n / 2; i++) {
        char t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

static int s_pack(lua_State *L) {
    struct fmt_state h = {true, 1};
    const char *fmt = luaL_checkstring(L, 1);
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    lua_pushnil(L); /* separates the arguments from the buffer */
    luaL_buffinit(L, &b);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        size_t pad = toalign(total, &h, opt, size);
        total += pad;
        while (pad-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            put_int(L, &b, arg++, h.little, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            order((char *)&f, 4, h.little);
            luaL_addlstring(&b, (char *)&f, 4);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            order((char *)&d, 8, h.little);
            luaL_addlstring(&b, (char *)&d, 8);
            break;
        }
        case 'c':
        case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            control(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static int s_unpack(lua_State *L) {
    struct fmt_state h = {true, 1};
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    lua_Integer p = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, p > 0, 3, "offset must be 1 or greater");
    size_t pos = (size_t)p - 1;
    int n = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        pos += toalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            lua_pushnumber(L, get_int(data + pos, h.little, islower(opt) != 0, size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, 4);
            order((char *)&f, 4, h.little);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, 8);
            order((char *)&d, 8, h.little);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (e == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int s_size(lua_State *L) {
    struct fmt_state h = {true, 1};
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        pos += toalign(pos, &h, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) control(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int slua_open_struct(lua_State *L) {
    static const luaL_Reg fns[] = {{"pack", s_pack}, {"unpack", s_unpack}, {"size", s_size}, {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}

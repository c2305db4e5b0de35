/* Unit tests of the scripting engine's pieces that need no server: the
 * struct and cmsgpack libraries (byte outputs checked against Redis 7.0's
 * bundled libraries), the sandbox (readonly tables, missing globals, no
 * binary chunks) and the RESP reply reader. (The FUNCTION DUMP payload is
 * persist/'s: tests/unit/persist/test_rdb_func.c.) */
#include "../test.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "exec/script_int.h"
#include "proto/respreply.h"

#include <stdio.h>

static _Atomic size_t mem;

/* Run chunk in L; return its single result as text ("ERROR: msg" on error). */
static const char *eval(lua_State *L, const char *chunk) {
    static char out[4096];
    if (luaL_loadbuffer(L, chunk, strlen(chunk), "@test") != 0 || lua_pcall(L, 0, 1, 0) != 0) {
        const char *m = lua_tostring(L, -1);
        if (m == NULL && lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            m = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        snprintf(out, sizeof(out), "ERROR: %s", m ? m : "?");
    } else {
        const char *s = lua_tostring(L, -1);
        snprintf(out, sizeof(out), "%s", s ? s : (lua_isboolean(L, -1) ? (lua_toboolean(L, -1) ? "true" : "false")
                                                                     : "nil"));
    }
    lua_settop(L, 0);
    return out;
}

/* The hex of the string `expr` evaluates to. */
static const char *hex_of(lua_State *L, const char *expr) {
    char chunk[2048];
    snprintf(chunk, sizeof(chunk),
             "local s = %s local h = '' for i = 1, #s do h = h .. string.format('%%02x', s:byte(i)) end return h",
             expr);
    return eval(L, chunk);
}

TEST(struct_pack_matches_redis) {
    lua_State *L = slua_create(SLUA_EVAL, &mem);
    TEST_EXPECT_STR(hex_of(L, "struct.pack('>i4HBc0', 1, 2, 3, 'abc')"), "00000001000203616263");
    TEST_EXPECT_STR(hex_of(L, "struct.pack('<hHi3s', -2, 65535, -5, 'xy')"), "fefffffffbffff787900");
    TEST_EXPECT_STR(hex_of(L, "struct.pack('!4bi8xd', 1, -2, 1.5)"),
                    "01000000feffffffffffffff00000000000000000000f83f");
    TEST_EXPECT_STR(hex_of(L, "struct.pack('>l<L', -1, 258)"), "ffffffffffffffff0201000000000000");
    TEST_EXPECT_STR(hex_of(L, "struct.pack('>f', 0.5)"), "3f000000");
    TEST_EXPECT_STR(hex_of(L, "struct.pack('i16', -1)"), "ffffffffffffffff0000000000000000");
    TEST_EXPECT_STR(eval(L, "local a, b, c, d, n = struct.unpack('<hHi3s', struct.pack('<hHi3s', -2, 65535, -5, 'xy')) "
                            "return table.concat({a, b, c, d, n}, ',')"),
                    "-2,65535,-5,xy,11");
    TEST_EXPECT_STR(eval(L, "return struct.size('!4bi8xd')"), "24");
    TEST_EXPECT_STR(eval(L, "return select(2, pcall(struct.pack, 'q'))"), "bad argument #1 to '?' (invalid format option 'q')");
    TEST_EXPECT_STR(eval(L, "return select(2, pcall(struct.unpack, 'i4', 'ab'))"),
                    "bad argument #2 to '?' (data string too short)");
    TEST_EXPECT_STR(eval(L, "return select(2, pcall(struct.size, 's'))"), "bad argument #1 to '?' (option 's' has no fixed size)");
    TEST_EXPECT_STR(eval(L, "local s = struct.unpack('Bc0', '\\3abcd') return s"), "abc");
    slua_destroy(&L);
}

TEST(cmsgpack_matches_redis) {
    lua_State *L = slua_create(SLUA_EVAL, &mem);
    TEST_EXPECT_STR(hex_of(L, "cmsgpack.pack({1,2,3}, 'hello', {a=1}, 1.5, -1, 300, -200, 70000, "
                              "string.rep('x', 40), true, false, nil)"),
                    "93010203a568656c6c6f81a16101ca3fc00000ffcd012cd1ff38ce00011170d928787878787878787878787878787878"
                    "78787878787878787878787878787878787878787878787878c3c2c0");
    TEST_EXPECT_STR(hex_of(L, "cmsgpack.pack(0.1, 2^40, -2^40, 1e300, 4294967296, -2147483649, 65536, -32769)"),
                    "cb3fb999999999999acf0000010000000000d3ffffff0000000000cb7e37e43c8800759ccf0000000100000000d3ffff"
                    "ffff7fffffffce00010000d2ffff7fff");
    TEST_EXPECT_STR(hex_of(L, "cmsgpack.pack({})"), "90");
    TEST_EXPECT_STR(eval(L, "local t = cmsgpack.unpack(cmsgpack.pack({1, {x='y'}, 'z'})) return t[2].x .. t[3]"), "yz");
    TEST_EXPECT_STR(eval(L, "local s = cmsgpack.pack('a', 'bb') local o, v = cmsgpack.unpack_one(s) "
                            "local o2, v2 = cmsgpack.unpack_one(s, o) return o .. v .. o2 .. v2"),
                    "2a-1bb");
    TEST_EXPECT_STR(eval(L, "return select(2, pcall(cmsgpack.unpack, '\\205'))"), "Missing bytes in input.");
    TEST_EXPECT_STR(eval(L, "return select(2, pcall(cmsgpack.unpack, '\\193'))"), "Bad data format in input.");
    slua_destroy(&L);
}

TEST(sandbox) {
    lua_State *L = slua_create(SLUA_EVAL, &mem);
    TEST_EXPECT_STR(eval(L, "return undefined_thing"),
                    "ERROR: test:1: Script attempted to access nonexistent global variable 'undefined_thing'");
    TEST_EXPECT_STR(eval(L, "x = 1"), "ERROR: test:1: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "redis.call = nil"), "ERROR: test:1: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "string.len = nil"), "ERROR: test:1: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "getmetatable('').__index = {}"), "ERROR: test:1: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "rawset(cjson, 'x', 1)"), "ERROR: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "table.insert(_G, 1)"), "ERROR: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "setmetatable(_G, nil)"), "ERROR: Attempt to modify a readonly table");
    TEST_EXPECT_STR(eval(L, "return loadstring(string.dump(function() return 1 end))"), "nil");
    TEST_EXPECT_STR(eval(L, "return rawget(_G, 'redis') ~= nil"), "true");
    TEST_EXPECT_STR(eval(L, "local n = 0 for k in pairs(math) do n = n + 1 end return n > 10"), "true");
    TEST_EXPECT_STR(eval(L, "return ('x'):rep(3)"), "xxx");
    TEST_EXPECT_STR(eval(L, "return type(os) .. type(io)"), "ERROR: test:1: Script attempted to access nonexistent "
                                                            "global variable 'os'");
    TEST_EXPECT_STR(eval(L, "return cjson.encode({a={1,2}})"), "{\"a\":[1,2]}");
    TEST_EXPECT_STR(eval(L, "return bit.bxor(5, 3)"), "6");
    /* A script's own tables are ordinary. */
    TEST_EXPECT_STR(eval(L, "local t = {} t.x = 1 rawset(t, 'y', 2) setmetatable(t, {}) return t.x + t.y"), "3");
    slua_destroy(&L);
}

TEST(resp_reply_reader) {
    const char *r = "*3\r\n$3\r\nabc\r\n%1\r\n+ok\r\n:5\r\n|1\r\n+k\r\n+v\r\n,3.5\r\n";
    size_t len = strlen(r), pos = 0;
    struct resp_relem e;
    TEST_ASSERT(resp_reply_next(r, len, &pos, &e) == 0 && e.type == RR_ARRAY && e.n == 3);
    TEST_ASSERT(resp_reply_next(r, len, &pos, &e) == 0 && e.type == RR_BULK && e.len == 3);
    TEST_ASSERT(resp_reply_next(r, len, &pos, &e) == 0 && e.type == RR_MAP && e.n == 1);
    TEST_ASSERT(resp_reply_skip(r, len, &pos) == 0);
    TEST_ASSERT(resp_reply_next(r, len, &pos, &e) == 0 && e.type == RR_INT && e.n == 5);
    TEST_ASSERT(resp_reply_skip(r, len, &pos) == 0); /* the attribute and its reply */
    TEST_EXPECT_INT((long long)pos, (long long)len);
    const char *v = "=8\r\ntxt:abcd\r\n#t\r\n_\r\n(123\r\n$-1\r\n*-1\r\n";
    pos = 0;
    len = strlen(v);
    TEST_ASSERT(resp_reply_next(v, len, &pos, &e) == 0 && e.type == RR_VERBATIM && strcmp(e.fmt, "txt") == 0);
    TEST_ASSERT(resp_reply_next(v, len, &pos, &e) == 0 && e.type == RR_BOOL && e.n == 1);
    TEST_ASSERT(resp_reply_next(v, len, &pos, &e) == 0 && e.type == RR_NULL);
    TEST_ASSERT(resp_reply_next(v, len, &pos, &e) == 0 && e.type == RR_BIGNUM && e.len == 3);
    TEST_ASSERT(resp_reply_next(v, len, &pos, &e) == 0 && e.type == RR_NULL_BULK);
    TEST_ASSERT(resp_reply_next(v, len, &pos, &e) == 0 && e.type == RR_NULL_ARRAY);
    /* Truncated input never reads past the end. */
    const char *t = "$10\r\nabc";
    pos = 0;
    TEST_EXPECT(resp_reply_next(t, strlen(t), &pos, &e) == -1);
    pos = 0;
    TEST_EXPECT(resp_reply_next("*2\r", 3, &pos, &e) == -1);
}

int main(void) {
    alloc_thread_init();
    return test_run_all();
}

/* Unit tests of what the STRING and BITMAP commands propagate (the effects
 * log that feeds replicas and the AOF): rewritten effects where Redis 7.0
 * rewrites them (SET ... PXAT, PEXPIREAT, PERSIST, DEL, SET ... KEEPTTL),
 * the command as received otherwise, nothing when nothing changed. Also
 * their WRONGTYPE replies against a key of another type (a stand-in type
 * registered here, so this runs before the real types exist).
 *
 * Commands run through exec_call with a client that has no connection:
 * the real dispatcher path (keys, stripe locks, seal, publish). */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/obuf.h"
#include "base/time.h"
#include "cmd/cmd.h"
#include "metrics/latency.h"
#include "metrics/slowlog.h"
#include "repl/log.h"

#include <stdarg.h>

static uint64_t log_pos;
static struct client cl;
static char last_reply[4096]; /* the reply to the last run() */

/* One effect, as "ARG ARG ..." (the RESP array joined by spaces). */
struct effects {
    int n;
    char text[16][256];
};

static void collect(int db, const char *p, size_t len, void *arg) {
    (void)db;
    struct effects *ef = arg;
    if (ef->n >= 16) return;
    char *out = ef->text[ef->n++];
    size_t o = 0;
    const char *end = p + len;
    long argc = strtol(p + 1, NULL, 10);
    p = strchr(p, '\n') + 1;
    for (long i = 0; i < argc && p < end; i++) {
        long n = strtol(p + 1, NULL, 10);
        p = strchr(p, '\n') + 1;
        if (i > 0 && o < 255) out[o++] = ' ';
        for (long j = 0; j < n && o < 255; j++) out[o++] = p[j];
        p += n + 2;
    }
    out[o] = '\0';
}

static void setup_once(void) {
    static bool done;
    if (done) return;
    done = true;
    alloc_thread_init();
    hash_setup();
    slowlog_setup();
    latency_setup();
    exec_setup();
    cmd_setup();
    struct store_hooks hooks = {exec_store_deleted, exec_store_seal, exec_store_after};
    store_setup(16, &hooks);
    log_setup(1 << 20);
    log_pos = log_attach();
    obuf_init(&cl.obuf);
    cl.out = &cl.obuf;
    cl.resp = 2;
}

/* Run one command (NULL-terminated arguments); return the effects. */
static struct effects run(const char *name, ...) {
    const char *argv[32];
    size_t lens[32];
    int argc = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *a = name; a != NULL && argc < 32; a = va_arg(ap, const char *)) {
        argv[argc] = a;
        lens[argc++] = strlen(a);
    }
    va_end(ap);
    cl.argc = argc;
    cl.argv = argv;
    cl.argvlen = lens;
    const struct command *cmd = exec_command_lookup(name, strlen(name));
    exec_call(&cl, cmd);
    struct iovec iov[16];
    int niov = obuf_iov(&cl.obuf, iov, 16);
    size_t o = 0;
    for (int i = 0; i < niov; i++) {
        size_t n = MIN(iov[i].iov_len, sizeof(last_reply) - 1 - o);
        memcpy(last_reply + o, iov[i].iov_base, n);
        o += n;
    }
    last_reply[o] = '\0';
    obuf_clear(&cl.obuf);
    struct effects ef = {0};
    log_consume(&log_pos, 100, collect, &ef);
    log_release(log_pos);
    cl.argv = NULL;
    return ef;
}

/* "PREFIX <ms>" where ms is about now + delta_ms. */
static bool is_abs_time(const char *s, const char *prefix, int64_t delta_ms) {
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0) return false;
    long long ms = strtoll(s + n, NULL, 10);
    int64_t want = time_ms() + delta_ms;
    return ms > want - 2000 && ms <= want;
}

#define EXPECT_NONE(ef) TEST_EXPECT_INT((ef).n, 0)
#define EXPECT_ONE(ef, want)                                                                       \
    do {                                                                                           \
        struct effects e_ = (ef);                                                                  \
        TEST_EXPECT_INT(e_.n, 1);                                                                  \
        if (e_.n == 1) TEST_EXPECT_STR(e_.text[0], want);                                          \
    } while (0)

TEST(set_family) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("SET", "k", "v", NULL), "SET k v");
    EXPECT_NONE(run("SET", "k", "v", "NX", NULL));
    EXPECT_NONE(run("SET", "k", "v", "BADOPT", NULL));
    EXPECT_ONE(run("SET", "k", "w", "XX", "KEEPTTL", NULL), "SET k w XX KEEPTTL");
    EXPECT_ONE(run("SET", "k", "x", "GET", "XX", "get", NULL), "SET k x XX");
    struct effects ef = run("SET", "k", "v", "EX", "100", "GET", NULL);
    TEST_EXPECT_INT(ef.n, 1);
    TEST_EXPECT(is_abs_time(ef.text[0], "SET k v PXAT ", 100000));
    ef = run("SET", "k", "v", "NX", "PX", "5000", NULL);
    TEST_EXPECT_INT(ef.n, 0);
    ef = run("SET", "k", "v", "XX", "PX", "5000", NULL);
    TEST_EXPECT(ef.n == 1 && is_abs_time(ef.text[0], "SET k v PXAT ", 5000));
    EXPECT_ONE(run("SET", "k", "v", "EXAT", "4000000000", NULL), "SET k v PXAT 4000000000000");
    EXPECT_ONE(run("SET", "k", "v", "PXAT", "4000000000123", NULL), "SET k v PXAT 4000000000123");
    ef = run("SETEX", "k", "100", "v2", NULL);
    TEST_EXPECT(ef.n == 1 && is_abs_time(ef.text[0], "SET k v2 PXAT ", 100000));
    ef = run("PSETEX", "k", "100", "v3", NULL);
    TEST_EXPECT(ef.n == 1 && is_abs_time(ef.text[0], "SET k v3 PXAT ", 100));
    EXPECT_NONE(run("SETEX", "k", "0", "v", NULL));
    EXPECT_NONE(run("SETNX", "k", "v", NULL));
    EXPECT_ONE(run("SETNX", "n", "v", NULL), "SETNX n v");
    EXPECT_ONE(run("GETSET", "n", "w", NULL), "SET n w");
    EXPECT_ONE(run("MSET", "a", "1", "b", "2", NULL), "MSET a 1 b 2");
    EXPECT_NONE(run("MSETNX", "a", "1", "c", "2", NULL));
    EXPECT_ONE(run("MSETNX", "c", "1", "d", "2", NULL), "MSETNX c 1 d 2");
    EXPECT_NONE(run("MSET", "a", "1", "b", NULL));
    EXPECT_NONE(run("GET", "a", NULL));
    EXPECT_NONE(run("MGET", "a", "b", NULL));
}

TEST(getex_getdel) {
    setup_once();
    run("FLUSHALL", NULL);
    run("SET", "k", "v", NULL);
    EXPECT_NONE(run("GETEX", "k", NULL));
    EXPECT_NONE(run("GETEX", "k", "PERSIST", NULL)); /* no TTL: nothing to do */
    struct effects ef = run("GETEX", "k", "EX", "100", NULL);
    TEST_EXPECT(ef.n == 1 && is_abs_time(ef.text[0], "PEXPIREAT k ", 100000));
    EXPECT_ONE(run("GETEX", "k", "EXAT", "4000000000", NULL), "PEXPIREAT k 4000000000000");
    EXPECT_ONE(run("GETEX", "k", "PERSIST", NULL), "PERSIST k");
    EXPECT_ONE(run("GETEX", "k", "PXAT", "1", NULL), "DEL k");
    EXPECT_NONE(run("GETEX", "k", "EX", "100", NULL));
    run("SET", "k", "v", NULL);
    EXPECT_ONE(run("GETDEL", "k", NULL), "DEL k");
    EXPECT_NONE(run("GETDEL", "k", NULL));
}

TEST(counters_and_edits) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("INCR", "i", NULL), "INCR i");
    EXPECT_ONE(run("DECRBY", "i", "5", NULL), "DECRBY i 5");
    EXPECT_NONE(run("INCRBY", "i", "x", NULL));
    EXPECT_ONE(run("INCRBYFLOAT", "i", "1.5", NULL), "SET i -2.5 KEEPTTL");
    EXPECT_ONE(run("INCRBYFLOAT", "f", "3.0e3", NULL), "SET f 3000 KEEPTTL");
    EXPECT_ONE(run("APPEND", "s", "ab", NULL), "APPEND s ab");
    EXPECT_ONE(run("APPEND", "s", "", NULL), "APPEND s ");
    EXPECT_ONE(run("SETRANGE", "s", "1", "xy", NULL), "SETRANGE s 1 xy");
    EXPECT_NONE(run("SETRANGE", "s", "1", "", NULL));
    EXPECT_NONE(run("SETRANGE", "none", "3", "", NULL));
    EXPECT_NONE(run("STRLEN", "s", NULL));
    EXPECT_NONE(run("GETRANGE", "s", "0", "-1", NULL));
    EXPECT_NONE(run("LCS", "s", "s", NULL));
}

TEST(bitmaps) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("SETBIT", "b", "3", "0", NULL), "SETBIT b 3 0");
    EXPECT_NONE(run("SETBIT", "b", "3", "0", NULL));
    EXPECT_ONE(run("SETBIT", "b", "3", "1", NULL), "SETBIT b 3 1");
    EXPECT_NONE(run("GETBIT", "b", "3", NULL));
    EXPECT_NONE(run("BITFIELD", "b", "GET", "u8", "0", NULL));
    EXPECT_NONE(run("BITFIELD", "b", "SET", "u8", "0", "16", NULL));
    EXPECT_ONE(run("BITFIELD", "b", "SET", "u8", "0", "17", "GET", "u4", "0", NULL),
               "BITFIELD b SET u8 0 17 GET u4 0");
    EXPECT_NONE(run("BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", NULL));
    EXPECT_NONE(run("BITFIELD_RO", "b", "GET", "u8", "0", NULL));
    EXPECT_ONE(run("BITOP", "NOT", "d", "b", NULL), "BITOP NOT d b");
    EXPECT_ONE(run("BITOP", "AND", "d", "none", NULL), "BITOP AND d none");
    EXPECT_NONE(run("BITOP", "AND", "d", "none", NULL));
    EXPECT_NONE(run("BITCOUNT", "b", NULL));
    EXPECT_NONE(run("BITPOS", "b", "1", NULL));
}

/* ---- WRONGTYPE ------------------------------------------------------------- */

static void noop_free(void *obj) {
    (void)obj;
}
static const struct type_ops fake_list = {.name = "list", .free = noop_free};
static int fake_obj;

static void add_fake(void *arg) {
    const char *name = arg;
    struct store_key k;
    store_key_init(&k, name, strlen(name));
    store_add(0, &k, entry_new_obj(name, strlen(name), TYPE_LIST, ENC_OBJ, &fake_obj, -1), NULL);
}

static void type_of(void *arg) {
    struct store_key k;
    store_key_init(&k, "w", 1);
    struct entry *e = store_peek(0, &k, NULL);
    *(int *)arg = e ? (int)entry_type(e) : -1;
}

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

TEST(wrongtype_everywhere) {
    setup_once();
    run("FLUSHALL", NULL);
    entry_register_type(TYPE_LIST, &fake_list);
    store_run_slot(store_slot("w", 1), STORE_WRITE, add_fake, "w");
    static const char *const cmds[][8] = {
        {"GET", "w"},
        {"SET", "w", "v", "GET"},
        {"SET", "w", "v", "NX", "GET"},
        {"GETEX", "w"},
        {"GETEX", "w", "EX", "10"},
        {"GETEX", "w", "PERSIST"},
        {"GETDEL", "w"},
        {"GETSET", "w", "v"},
        {"APPEND", "w", "x"},
        {"STRLEN", "w"},
        {"GETRANGE", "w", "0", "1"},
        {"SUBSTR", "w", "0", "1"},
        {"SETRANGE", "w", "0", "x"},
        {"SETRANGE", "w", "0", ""},
        {"INCR", "w"},
        {"DECR", "w"},
        {"INCRBY", "w", "1"},
        {"DECRBY", "w", "1"},
        {"INCRBYFLOAT", "w", "1"},
        {"SETBIT", "w", "0", "1"},
        {"GETBIT", "w", "0"},
        {"BITCOUNT", "w"},
        {"BITCOUNT", "w", "0", "1", "BIT"},
        {"BITPOS", "w", "1"},
        {"BITPOS", "w", "0", "0", "1"},
        {"BITOP", "AND", "d", "s", "w"},
        {"BITOP", "NOT", "d", "w"},
        {"BITFIELD", "w", "GET", "u8", "0"},
        {"BITFIELD", "w", "SET", "u8", "0", "1"},
        {"BITFIELD", "w"},
        {"BITFIELD_RO", "w", "GET", "u8", "0"},
    };
    run("SET", "d", "keep", NULL);
    run("SET", "s", "abc", NULL);
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
        const char *const *a = cmds[i];
        struct effects ef = run(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        if (strcmp(last_reply, WRONGTYPE) != 0) fprintf(stderr, "  %s: %s\n", a[0], last_reply);
        TEST_EXPECT_STR(last_reply, WRONGTYPE);
        TEST_EXPECT_INT(ef.n, 0);
    }
    int t;
    store_run_slot(store_slot("w", 1), STORE_READ, type_of, &t);
    TEST_EXPECT_INT(t, TYPE_LIST);
    run("GET", "d", NULL);
    TEST_EXPECT_STR(last_reply, "$4\r\nkeep\r\n");
    /* Not an error: MGET answers nil, LCS its own error, MSETNX sees a key. */
    run("MGET", "w", "s", NULL);
    TEST_EXPECT_STR(last_reply, "*2\r\n$-1\r\n$3\r\nabc\r\n");
    run("LCS", "s", "w", NULL);
    TEST_EXPECT_STR(last_reply, "-ERR The specified keys must contain string values\r\n");
    run("MSETNX", "w", "1", "z", "2", NULL);
    TEST_EXPECT_STR(last_reply, ":0\r\n");
    /* SET, MSET and BITOP's destination replace a key of any type. */
    EXPECT_ONE(run("SET", "w", "v", NULL), "SET w v");
    run("GET", "w", NULL);
    TEST_EXPECT_STR(last_reply, "$1\r\nv\r\n");
    store_run_slot(store_slot("w2", 2), STORE_WRITE, add_fake, "w2");
    EXPECT_ONE(run("BITOP", "OR", "w2", "s", NULL), "BITOP OR w2 s");
    run("GET", "w2", NULL);
    TEST_EXPECT_STR(last_reply, "$3\r\nabc\r\n");
}

int main(void) {
    return test_run_all();
}

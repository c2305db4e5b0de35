/* Unit tests of what the HASH and SET commands propagate (the effects log
 * that feeds replicas and the AOF), as Redis 7.0 does: HINCRBYFLOAT as HSET
 * with the final value, SPOP as SREM (one per popped member) or DEL when it
 * empties the set, SRANDMEMBER and no-op writes not at all, everything else
 * as received when it changed something.
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
    char text[64][256];
};

static void collect(int db, const char *p, size_t len, void *arg) {
    (void)db;
    struct effects *ef = arg;
    if (ef->n >= 64) return;
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

#define EXPECT_NONE(ef) TEST_EXPECT_INT((ef).n, 0)
#define EXPECT_ONE(ef, want)                                                                       \
    do {                                                                                           \
        struct effects e_ = (ef);                                                                  \
        TEST_EXPECT_INT(e_.n, 1);                                                                  \
        if (e_.n == 1) TEST_EXPECT_STR(e_.text[0], want);                                          \
    } while (0)

TEST(hash_family) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("HSET", "h", "a", "1", "b", "2", NULL), "HSET h a 1 b 2");
    EXPECT_ONE(run("HSET", "h", "a", "1", NULL), "HSET h a 1"); /* Redis counts it dirty */
    EXPECT_ONE(run("HMSET", "h", "c", "3", NULL), "HMSET h c 3");
    EXPECT_NONE(run("HSETNX", "h", "a", "9", NULL));
    EXPECT_ONE(run("HSETNX", "h", "z", "9", NULL), "HSETNX h z 9");
    EXPECT_NONE(run("HSET", "h", "a", NULL)); /* arity */
    EXPECT_NONE(run("HGET", "h", "a", NULL));
    EXPECT_NONE(run("HGETALL", "h", NULL));
    EXPECT_NONE(run("HRANDFIELD", "h", "-5", "WITHVALUES", NULL));
    EXPECT_NONE(run("HDEL", "h", "nope", NULL));
    EXPECT_ONE(run("HDEL", "h", "z", "nope", NULL), "HDEL h z nope");
    EXPECT_ONE(run("HINCRBY", "h", "n", "5", NULL), "HINCRBY h n 5");
    EXPECT_NONE(run("HINCRBY", "h", "b", "x", NULL));
    EXPECT_ONE(run("HINCRBYFLOAT", "h", "f", "1.5", NULL), "HSET h f 1.5");
    EXPECT_ONE(run("HINCRBYFLOAT", "h", "f", "0.25", NULL), "HSET h f 1.75");
    EXPECT_ONE(run("HINCRBYFLOAT", "h", "n", "1e3", NULL), "HSET h n 1005");
    TEST_EXPECT_STR(last_reply, "$4\r\n1005\r\n");
    EXPECT_NONE(run("HINCRBYFLOAT", "h", "f", "inf", NULL));
    EXPECT_ONE(run("HDEL", "h", "a", "b", "c", "n", "f", NULL), "HDEL h a b c n f");
    run("EXISTS", "h", NULL);
    TEST_EXPECT_STR(last_reply, ":0\r\n");
    run("FLUSHALL", "SYNC", NULL);
}

TEST(set_family) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("SADD", "s", "a", "b", "c", NULL), "SADD s a b c");
    EXPECT_NONE(run("SADD", "s", "a", NULL));
    EXPECT_NONE(run("SREM", "s", "nope", NULL));
    EXPECT_ONE(run("SREM", "s", "c", NULL), "SREM s c");
    EXPECT_NONE(run("SRANDMEMBER", "s", NULL));
    EXPECT_NONE(run("SRANDMEMBER", "s", "-10", NULL));
    EXPECT_NONE(run("SMEMBERS", "s", NULL));
    EXPECT_NONE(run("SINTERCARD", "1", "s", NULL));
    /* SPOP: the popped member as SREM. */
    struct effects ef = run("SPOP", "s", NULL);
    TEST_EXPECT_INT(ef.n, 1);
    TEST_EXPECT(strcmp(ef.text[0], "SREM s a") == 0 || strcmp(ef.text[0], "SREM s b") == 0);
    EXPECT_NONE(run("SPOP", "nokey", NULL));
    EXPECT_NONE(run("SPOP", "nokey", "3", NULL));
    EXPECT_NONE(run("SPOP", "s", "0", NULL));
    /* With a count below the size: one SREM per member. */
    run("SADD", "s", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", NULL);
    ef = run("SPOP", "s", "4", NULL);
    /* Several effects of one command are wrapped in MULTI/EXEC (Redis 7.0). */
    TEST_EXPECT_INT(ef.n, 6);
    TEST_EXPECT_STR(ef.text[0], "MULTI");
    for (int i = 1; i < 5 && i < ef.n; i++) TEST_EXPECT(strncmp(ef.text[i], "SREM s ", 7) == 0);
    TEST_EXPECT_STR(ef.text[5], "EXEC");
    run("SCARD", "s", NULL);
    TEST_EXPECT_STR(last_reply, ":7\r\n");
    /* Popping everything: DEL. */
    EXPECT_ONE(run("SPOP", "s", "100", NULL), "DEL s");
    run("EXISTS", "s", NULL);
    TEST_EXPECT_STR(last_reply, ":0\r\n");
    /* Moves and stores as received; nothing when nothing changed. */
    run("SADD", "a{t}", "1", "2", NULL);
    EXPECT_ONE(run("SMOVE", "a{t}", "b{t}", "1", NULL), "SMOVE a{t} b{t} 1");
    EXPECT_NONE(run("SMOVE", "a{t}", "b{t}", "9", NULL));
    EXPECT_ONE(run("SUNIONSTORE", "d{t}", "a{t}", "b{t}", NULL), "SUNIONSTORE d{t} a{t} b{t}");
    EXPECT_ONE(run("SINTERSTORE", "d{t}", "a{t}", "b{t}", NULL), "SINTERSTORE d{t} a{t} b{t}");
    EXPECT_NONE(run("SINTERSTORE", "d{t}", "a{t}", "b{t}", NULL)); /* empty, d already gone */
    EXPECT_ONE(run("SDIFFSTORE", "d{t}", "a{t}", "b{t}", NULL), "SDIFFSTORE d{t} a{t} b{t}");
    EXPECT_NONE(run("SINTER", "a{t}", "b{t}", NULL));
    run("FLUSHALL", "SYNC", NULL);
}

int main(void) {
    return test_run_all();
}

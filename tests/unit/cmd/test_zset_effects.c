/* Unit tests of what the SORTED SET, GEO, HYPERLOGLOG and SORT commands
 * propagate (the effects log that feeds replicas and the AOF), as Redis 7.0
 * does: the command as received when it changed something, nothing when it
 * did not, and the rewritten forms: ZMPOP / BZPOPMIN / BZMPOP -> ZPOPMIN or
 * ZPOPMAX key [count], GEOADD -> ZADD with the geohash scores, PFCOUNT when
 * it refreshed the cached cardinality.
 *
 * Commands run through exec_call with a client that has no connection:
 * the real dispatcher path (keys, stripe locks, seal, publish). */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/obuf.h"
#include "cmd/cmd.h"
#include "metrics/latency.h"
#include "metrics/slowlog.h"
#include "repl/log.h"

#include <stdarg.h>

static uint64_t log_pos;
static struct client cl;
static char last_reply[4096];

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

#define EXPECT_NONE(ef) TEST_EXPECT_INT((ef).n, 0)
#define EXPECT_ONE(ef, want)                                                                       \
    do {                                                                                           \
        struct effects e_ = (ef);                                                                  \
        TEST_EXPECT_INT(e_.n, 1);                                                                  \
        if (e_.n == 1) TEST_EXPECT_STR(e_.text[0], want);                                          \
    } while (0)

TEST(zset_writes) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("ZADD", "z", "1", "a", "2", "b", "3", "c", NULL), "ZADD z 1 a 2 b 3 c");
    EXPECT_NONE(run("ZADD", "z", "1", "a", NULL));
    EXPECT_NONE(run("ZADD", "z", "NX", "5", "a", NULL));
    EXPECT_NONE(run("ZADD", "z", "1", "a", "x", "b", NULL));
    EXPECT_ONE(run("ZINCRBY", "z", "1", "a", NULL), "ZINCRBY z 1 a");
    EXPECT_NONE(run("ZREM", "z", "nope", NULL));
    EXPECT_ONE(run("ZREM", "z", "nope", "a", NULL), "ZREM z nope a");
    EXPECT_NONE(run("ZREMRANGEBYSCORE", "z", "10", "20", NULL));
    EXPECT_ONE(run("ZREMRANGEBYRANK", "z", "0", "0", NULL), "ZREMRANGEBYRANK z 0 0");
    EXPECT_NONE(run("ZRANGE", "z", "0", "-1", NULL));
    EXPECT_ONE(run("ZPOPMIN", "z", "5", NULL), "ZPOPMIN z 5");
    EXPECT_NONE(run("ZPOPMIN", "z", NULL));
    run("FLUSHALL", "SYNC", NULL);
}

TEST(zmpop_and_blocking_pops_become_zpop) {
    setup_once();
    run("FLUSHALL", NULL);
    run("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", NULL);
    EXPECT_ONE(run("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2", NULL), "ZPOPMAX z 2");
    EXPECT_ONE(run("ZMPOP", "1", "z", "MIN", NULL), "ZPOPMIN z 1");
    EXPECT_NONE(run("ZMPOP", "1", "nokey", "MIN", NULL));
    EXPECT_ONE(run("BZPOPMIN", "nokey", "z", "0", NULL), "ZPOPMIN z");
    run("ZADD", "z", "1", "a", "2", "b", NULL);
    EXPECT_ONE(run("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5", NULL), "ZPOPMAX z 2");
    TEST_EXPECT_STR(
        last_reply,
        "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    run("FLUSHALL", "SYNC", NULL);
}

TEST(store_commands) {
    setup_once();
    run("FLUSHALL", NULL);
    run("ZADD", "a", "1", "x", NULL);
    EXPECT_ONE(run("ZUNIONSTORE", "d", "1", "a", NULL), "ZUNIONSTORE d 1 a");
    EXPECT_ONE(run("ZINTERSTORE", "d", "2", "a", "nokey", NULL),
               "ZINTERSTORE d 2 a nokey");                         /* deletes d */
    EXPECT_NONE(run("ZINTERSTORE", "d", "2", "a", "nokey", NULL)); /* nothing left to delete */
    EXPECT_ONE(run("ZRANGESTORE", "d", "a", "0", "-1", NULL), "ZRANGESTORE d a 0 -1");
    EXPECT_NONE(run("ZUNION", "1", "a", NULL));
    run("FLUSHALL", "SYNC", NULL);
}

TEST(geo_and_hll_and_sort) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("GEOADD", "g", "CH", "13.361389", "38.115556", "Palermo", NULL),
               "zadd g CH 3479099956230698 Palermo");
    EXPECT_NONE(run("GEOADD", "g", "13.361389", "38.115556", "Palermo", NULL));
    EXPECT_NONE(run("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", NULL));
    EXPECT_ONE(
        run("GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", NULL),
        "GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 km");
    EXPECT_ONE(run("PFADD", "h", "a", "b", NULL), "PFADD h a b");
    EXPECT_NONE(run("PFADD", "h", "a", NULL));
    EXPECT_ONE(run("PFCOUNT", "h", NULL), "PFCOUNT h"); /* refreshes the cache */
    EXPECT_NONE(run("PFCOUNT", "h", NULL));             /* cached */
    EXPECT_NONE(run("PFCOUNT", "h", "nokey", NULL));
    EXPECT_ONE(run("PFMERGE", "m", "h", NULL), "PFMERGE m h");
    run("RPUSH", "l", "2", "1", NULL);
    EXPECT_NONE(run("SORT", "l", NULL));
    EXPECT_ONE(run("SORT", "l", "STORE", "s", NULL), "SORT l STORE s");
    EXPECT_NONE(run("SORT", "nokey", "STORE", "nokey2", NULL));
    run("FLUSHALL", "SYNC", NULL);
}

int main(void) {
    return test_run_all();
}

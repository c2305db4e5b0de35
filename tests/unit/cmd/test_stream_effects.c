/* Unit tests of what the STREAM commands propagate (the effects log that
 * feeds replicas and the AOF), as Redis 7.0 does: XADD with the generated ID
 * and "~" trims made exact, XTRIM likewise, XREADGROUP as XCLAIM ... FORCE
 * JUSTID LASTID per delivered entry (XGROUP SETID / CREATECONSUMER under
 * NOACK) wrapped in MULTI/EXEC, claims as XCLAIM, and a blocked
 * XREADGROUP served by an XADD from another client propagating its claim
 * as a block of its own after the XADD.
 *
 * Commands run through exec_call with clients that have no connection: the
 * real dispatcher path (keys, stripe locks, seal, publish). */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/obuf.h"
#include "cmd/cmd.h"
#include "exec/block.h"
#include "metrics/latency.h"
#include "metrics/slowlog.h"
#include "net/worker.h"
#include "repl/log.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <unistd.h>

static uint64_t log_pos;
static struct client cl, cl2;
static char last_reply[8192];

struct effects {
    int n;
    char text[24][256];
};

static void collect(int db, const char *p, size_t len, void *arg) {
    (void)db;
    struct effects *ef = arg;
    if (ef->n >= 24) return;
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
    worker_setup(1);
    exec_setup();
    cmd_setup();
    block_setup();
    struct store_hooks hooks = {exec_store_deleted, exec_store_seal, exec_store_after};
    store_setup(16, &hooks);
    log_setup(1 << 20);
    log_pos = log_attach();
    obuf_init(&cl.obuf);
    cl.out = &cl.obuf;
    cl.resp = 2;
    cl.id = 1;
    obuf_init(&cl2.obuf);
    cl2.out = &cl2.obuf;
    cl2.resp = 2;
    cl2.id = 2;
}

static void capture_reply(struct client *c) {
    struct iovec iov[16];
    int niov = obuf_iov(&c->obuf, iov, 16);
    size_t o = 0;
    for (int i = 0; i < niov; i++) {
        size_t n = MIN(iov[i].iov_len, sizeof(last_reply) - 1 - o);
        memcpy(last_reply + o, iov[i].iov_base, n);
        o += n;
    }
    last_reply[o] = '\0';
    obuf_clear(&c->obuf);
}

/* Run one command as client c (NULL-terminated arguments); return the
 * effects sealed since the previous call. */
static struct effects run_as(struct client *c, const char *name, ...) {
    const char *argv[40];
    size_t lens[40];
    int argc = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *a = name; a != NULL && argc < 40; a = va_arg(ap, const char *)) {
        argv[argc] = a;
        lens[argc++] = strlen(a);
    }
    va_end(ap);
    c->argc = argc;
    c->argv = argv;
    c->argvlen = lens;
    const struct command *cmd = exec_command_lookup(name, strlen(name));
    if (cmd->nsubcmds) cmd = exec_subcommand_lookup(cmd, argv[1], lens[1]); /* XGROUP CREATE... */
    exec_call(c, cmd);
    capture_reply(c);
    struct effects ef = {0};
    log_consume(&log_pos, 100, collect, &ef);
    log_release(log_pos);
    c->argv = NULL;
    return ef;
}

#define run(...) run_as(&cl, __VA_ARGS__)

#define EXPECT_NONE(ef) TEST_EXPECT_INT((ef).n, 0)
#define EXPECT_ONE(ef, want)                                                                       \
    do {                                                                                           \
        struct effects e_ = (ef);                                                                  \
        TEST_EXPECT_INT(e_.n, 1);                                                                  \
        if (e_.n == 1) TEST_EXPECT_STR(e_.text[0], want);                                          \
    } while (0)
/* Effect i matches a glob (times vary). */
#define EXPECT_LIKE(ef, i, pat)                                                                    \
    do {                                                                                           \
        if ((ef).n <= (i) || fnmatch((pat), (ef).text[i], 0) != 0) {                               \
            fprintf(stderr, "  effect %d: \"%s\" !~ \"%s\"\n", (i), (ef).n > (i) ? (ef).text[i] : "", (pat)); \
            (*test_failed_)++;                                                                     \
        }                                                                                          \
    } while (0)

TEST(xadd_rewrites_ids_and_approximate_trims) {
    setup_once();
    run("FLUSHALL", NULL);
    EXPECT_ONE(run("XADD", "s", "1-1", "f", "v", NULL), "XADD s 1-1 f v");
    EXPECT_ONE(run("XADD", "s", "1-*", "f", "v", NULL), "XADD s 1-2 f v");
    struct effects ef = run("XADD", "s", "*", "f", "v", NULL);
    EXPECT_LIKE(ef, 0, "XADD s [1-9]*-0 f v");
    TEST_EXPECT_INT(ef.n, 1);
    EXPECT_NONE(run("XADD", "s", "1-1", "f", "v", NULL)); /* an error */
    EXPECT_NONE(run("XADD", "nokey", "NOMKSTREAM", "*", "f", "v", NULL));
    /* Exact trims replay as they are; "~" becomes "=" with what was kept. */
    run("CONFIG", "SET", "stream-node-max-entries", "2", NULL);
    run("DEL", "t", NULL);
    for (int i = 1; i <= 9; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d-0", i);
        run("XADD", "t", id, "f", "v", NULL);
    }
    EXPECT_ONE(run("XADD", "t", "MAXLEN", "~", "4", "10-0", "f", "v", NULL), "XADD t MAXLEN = 4 10-0 f v");
    EXPECT_ONE(run("XADD", "t", "MAXLEN", "=", "8", "11-*", "f", "v", NULL), "XADD t MAXLEN = 8 11-0 f v");
    EXPECT_ONE(run("XADD", "t", "MINID", "~", "8", "LIMIT", "10", "12-0", "f", "v", NULL),
               "XADD t MINID = 7-0 LIMIT 10 12-0 f v");
    EXPECT_ONE(run("XTRIM", "t", "MAXLEN", "~", "2", NULL), "XTRIM t MAXLEN = 2");
    EXPECT_NONE(run("XTRIM", "t", "MAXLEN", "~", "2", NULL)); /* nothing removed */
    EXPECT_ONE(run("XTRIM", "t", "MINID", "12", NULL), "XTRIM t MINID 12");
    run("CONFIG", "SET", "stream-node-max-entries", "100", NULL);
    EXPECT_ONE(run("XDEL", "s", "1-1", "9-9", NULL), "XDEL s 1-1 9-9");
    EXPECT_NONE(run("XDEL", "s", "9-9", NULL));
    EXPECT_ONE(run("XSETID", "s", "99999999999999-0", NULL), "XSETID s 99999999999999-0");
    run("FLUSHALL", "SYNC", NULL);
}

TEST(xreadgroup_becomes_xclaims) {
    setup_once();
    run("FLUSHALL", NULL);
    run("XADD", "s", "1-1", "a", "1", NULL);
    run("XADD", "s", "1-2", "b", "2", NULL);
    EXPECT_ONE(run("XGROUP", "CREATE", "s", "g", "0", NULL), "XGROUP CREATE s g 0");
    EXPECT_NONE(run("XGROUP", "CREATE", "s", "g", "0", NULL)); /* BUSYGROUP */
    struct effects ef = run("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">", NULL);
    TEST_ASSERT(ef.n == 4);
    TEST_EXPECT_STR(ef.text[0], "MULTI");
    EXPECT_LIKE(ef, 1, "XCLAIM s g alice 0 1-1 TIME [1-9]* RETRYCOUNT 1 FORCE JUSTID LASTID 1-1");
    EXPECT_LIKE(ef, 2, "XCLAIM s g alice 0 1-2 TIME [1-9]* RETRYCOUNT 1 FORCE JUSTID LASTID 1-2");
    TEST_EXPECT_STR(ef.text[3], "EXEC");
    EXPECT_NONE(run("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0", NULL)); /* history */
    EXPECT_NONE(run("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">", NULL)); /* nothing new */
    EXPECT_NONE(run("XREAD", "STREAMS", "s", "0", NULL));
    /* NOACK: a new consumer and the group's last ID. */
    run("XADD", "s", "2-1", "c", "3", NULL);
    ef = run("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">", NULL);
    TEST_ASSERT(ef.n == 4);
    TEST_EXPECT_STR(ef.text[1], "XGROUP CREATECONSUMER s g bob");
    TEST_EXPECT_STR(ef.text[2], "XGROUP SETID s g 2-1 ENTRIESREAD 3");
    /* Acks and consumer changes: as received when they change something. */
    EXPECT_ONE(run("XACK", "s", "g", "1-1", "7-7", NULL), "XACK s g 1-1 7-7");
    EXPECT_NONE(run("XACK", "s", "g", "1-1", NULL));
    EXPECT_ONE(run("XGROUP", "CREATECONSUMER", "s", "g", "carol", NULL), "XGROUP CREATECONSUMER s g carol");
    EXPECT_NONE(run("XGROUP", "CREATECONSUMER", "s", "g", "carol", NULL));
    EXPECT_ONE(run("XGROUP", "DELCONSUMER", "s", "g", "carol", NULL), "XGROUP DELCONSUMER s g carol");
    EXPECT_ONE(run("XGROUP", "SETID", "s", "g", "$", NULL), "XGROUP SETID s g $");
    run("FLUSHALL", "SYNC", NULL);
}

TEST(claims_become_xclaims) {
    setup_once();
    run("FLUSHALL", NULL);
    run("XADD", "s", "1-1", "a", "1", NULL);
    run("XADD", "s", "1-2", "b", "2", NULL);
    run("XADD", "s", "1-3", "c", "3", NULL);
    run("XGROUP", "CREATE", "s", "g", "0", NULL);
    run("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">", NULL);
    /* The ID as given ("1-1"), the new owner, RETRYCOUNT as set. */
    struct effects ef = run("XCLAIM", "s", "g", "bob", "0", "1-1", "RETRYCOUNT", "5", NULL);
    TEST_EXPECT_INT(ef.n, 1);
    EXPECT_LIKE(ef, 0, "XCLAIM s g bob 0 1-1 TIME [1-9]* RETRYCOUNT 5 FORCE JUSTID LASTID 1-3");
    EXPECT_NONE(run("XCLAIM", "s", "g", "bob", "999999", "1-1", NULL)); /* not idle enough */
    /* LASTID alone moves the group: XGROUP SETID. */
    EXPECT_ONE(run("XCLAIM", "s", "g", "bob", "0", "9-9", "LASTID", "5-0", NULL),
               "XGROUP SETID s g 5-0 ENTRIESREAD 3");
    /* A claim of a deleted entry drops its NACK, here and on replicas. */
    run("XDEL", "s", "1-2", NULL);
    ef = run("XAUTOCLAIM", "s", "g", "carol", "0", "0", NULL);
    TEST_ASSERT(ef.n == 5);
    EXPECT_LIKE(ef, 1, "XCLAIM s g carol 0 1-1 TIME * RETRYCOUNT 6 FORCE JUSTID LASTID 5-0");
    EXPECT_LIKE(ef, 2, "XCLAIM s g alice 0 1-2 TIME * RETRYCOUNT 1 FORCE JUSTID LASTID 5-0");
    EXPECT_LIKE(ef, 3, "XCLAIM s g carol 0 1-3 TIME * RETRYCOUNT 2 FORCE JUSTID LASTID 5-0");
    TEST_EXPECT_STR(last_reply,
                    "*3\r\n$3\r\n0-0\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\n1-3\r\n"
                    "*2\r\n$1\r\nc\r\n$1\r\n3\r\n*1\r\n$3\r\n1-2\r\n");
    EXPECT_NONE(run("XAUTOCLAIM", "s", "g", "carol", "999999", "0", NULL));
    run("FLUSHALL", "SYNC", NULL);
}

/* The served waiter's record goes back to its worker: run the worker until
 * it is released (its client is unknown there: nothing is written). */
static void drain_served(void) {
    worker_start(NULL, NULL);
    for (int i = 0; i < 2000 && block_waiter_count() > 0; i++) usleep(1000);
    worker_stop();
}

TEST(blocked_xreadgroup_served_later_propagates_after_the_xadd) {
    setup_once();
    run("FLUSHALL", NULL);
    run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM", NULL);
    cl.worker = worker_at(0);
    EXPECT_NONE(run("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">", NULL));
    TEST_EXPECT(cl.flags & CLIENT_BLOCKED);
    TEST_EXPECT_INT(block_waiter_count(), 1);
    struct effects ef = run_as(&cl2, "XADD", "s", "7-1", "f", "v", NULL);
    TEST_ASSERT(ef.n == 2);
    TEST_EXPECT_STR(ef.text[0], "XADD s 7-1 f v");
    EXPECT_LIKE(ef, 1, "XCLAIM s g alice 0 7-1 TIME [1-9]* RETRYCOUNT 1 FORCE JUSTID LASTID 7-1");
    /* Served: the entry is alice's pending one. */
    run("XPENDING", "s", "g", NULL);
    TEST_EXPECT(strstr(last_reply, "alice") != NULL);
    drain_served();
    TEST_EXPECT_INT(block_waiter_count(), 0);
    client_unblock(&cl);
    /* A plain XREAD waiter propagates nothing when served. */
    EXPECT_NONE(run("XREAD", "BLOCK", "0", "STREAMS", "s", "$", NULL));
    ef = run_as(&cl2, "XADD", "s", "8-1", "f", "v", NULL);
    EXPECT_ONE(ef, "XADD s 8-1 f v");
    drain_served();
    client_unblock(&cl);
    cl.worker = NULL;
    run("FLUSHALL", "SYNC", NULL);
}

int main(void) {
    return test_run_all();
}

/* Unit tests of what scripts and functions propagate (the effects log that
 * feeds replicas and the AOF): the commands a script called, as their own
 * effects, one MULTI ... EXEC block per script when there are several;
 * nothing for read-only scripts; redis.set_repl(REPL_NONE) commands left
 * out; a SELECT inside a script giving its records their database; FUNCTION
 * LOAD/DELETE propagated as received. Also the replies of a few scripts
 * that touch keys they did not declare (the stripes are taken on the fly).
 *
 * Commands run through exec_call with a client that has no connection: the
 * real dispatcher path (keys, stripe locks, seal, publish). */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/obuf.h"
#include "base/time.h"
#include "cmd/cmd.h"
#include "exec/script.h"
#include "metrics/latency.h"
#include "metrics/slowlog.h"
#include "repl/log.h"

#include <stdarg.h>

static uint64_t log_pos;
static struct client cl;
static char last_reply[4096];

struct effects {
    int n;
    int db[16];
    char text[16][256];
};

static void collect(int db, const char *p, size_t len, void *arg) {
    struct effects *ef = arg;
    if (ef->n >= 16) return;
    ef->db[ef->n] = db;
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
    if (cmd->nsubcmds > 0) cmd = exec_subcommand_lookup(cmd, argv[1], lens[1]);
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

TEST(script_effects_wrapped) {
    setup_once();
    run("FLUSHALL", NULL);
    struct effects ef = run("EVAL", "redis.call('set', KEYS[1], 'a'); redis.call('incr', KEYS[2])", "2", "k{t}",
                            "n{t}", NULL);
    TEST_ASSERT(ef.n == 4);
    TEST_EXPECT_STR(ef.text[0], "MULTI");
    TEST_EXPECT_STR(ef.text[1], "set k{t} a");
    TEST_EXPECT_STR(ef.text[2], "incr n{t}");
    TEST_EXPECT_STR(ef.text[3], "EXEC");
    /* One write: no transaction around it. */
    ef = run("EVAL", "return redis.call('incr', KEYS[1])", "1", "n{t}", NULL);
    TEST_ASSERT(ef.n == 1);
    TEST_EXPECT_STR(ef.text[0], "incr n{t}");
    TEST_EXPECT_STR(last_reply, ":2\r\n");
}

TEST(script_effects_readonly_and_relative_times) {
    setup_once();
    run("FLUSHALL", NULL);
    run("SET", "k", "v", NULL);
    struct effects ef = run("EVAL", "return redis.call('get', KEYS[1])", "1", "k", NULL);
    TEST_EXPECT_INT(ef.n, 0);
    TEST_EXPECT_STR(last_reply, "$1\r\nv\r\n");
    ef = run("EVAL", "return redis.call('expire', KEYS[1], 100)", "1", "k", NULL);
    TEST_ASSERT(ef.n == 1);
    TEST_EXPECT(strncmp(ef.text[0], "PEXPIREAT k ", 12) == 0);
    /* A failed write propagates nothing. */
    ef = run("EVAL", "return redis.pcall('incr', KEYS[1])", "1", "k", NULL);
    TEST_EXPECT_INT(ef.n, 0);
    TEST_EXPECT_STR(last_reply, "-ERR value is not an integer or out of range\r\n");
}

TEST(script_effects_set_repl_and_select) {
    setup_once();
    run("FLUSHALL", NULL);
    struct effects ef = run("EVAL",
                            "redis.call('set','a','1'); redis.set_repl(redis.REPL_NONE); redis.call('set','b','2'); "
                            "redis.set_repl(redis.REPL_ALL); redis.call('select', '5'); redis.call('set','d','4')",
                            "0", NULL);
    TEST_ASSERT(ef.n == 4);
    TEST_EXPECT_STR(ef.text[0], "MULTI");
    TEST_EXPECT_STR(ef.text[1], "set a 1");
    TEST_EXPECT_INT(ef.db[1], 0);
    TEST_EXPECT_STR(ef.text[2], "set d 4");
    TEST_EXPECT_INT(ef.db[2], 5);
    TEST_EXPECT_STR(ef.text[3], "EXEC");
    /* SELECT inside the script does not change the caller's database. */
    TEST_EXPECT_INT(cl.db, 0);
    run("GET", "b", NULL);
    TEST_EXPECT_STR(last_reply, "$1\r\n2\r\n");
}

TEST(script_undeclared_keys) {
    setup_once();
    run("FLUSHALL", NULL);
    /* Keys in many stripes, none declared: locked on the fly. */
    struct effects ef = run("EVAL",
                            "for i = 1, 50 do redis.call('set', 'key:' .. i, i) end "
                            "local s = 0 for i = 1, 50 do s = s + tonumber(redis.call('get', 'key:' .. i)) end "
                            "return s",
                            "0", NULL);
    TEST_EXPECT_STR(last_reply, ":1275\r\n");
    TEST_EXPECT_INT(ef.n, 16); /* MULTI + 50 SETs, capped by the collector */
    /* A command walking the keyspace: the script is re-run with every
     * stripe (it wrote nothing before). */
    ef = run("EVAL", "local k = redis.call('randomkey'); return redis.call('dbsize')", "0", NULL);
    TEST_EXPECT_STR(last_reply, ":50\r\n");
    TEST_EXPECT_INT(ef.n, 0);
    run("EVAL", "redis.call('set', KEYS[1], 'x'); return #redis.call('keys', 'key:*')", "1", "solo", NULL);
    TEST_EXPECT_STR(last_reply, ":50\r\n");
}

TEST(function_effects) {
    setup_once();
    run("FUNCTION", "FLUSH", NULL);
    const char *code = "#!lua name=lib\nredis.register_function('f', function(k, a) "
                       "redis.call('set', k[1], a[1]); return redis.call('get', k[1]) end)";
    struct effects ef = run("FUNCTION", "LOAD", code, NULL);
    TEST_ASSERT(ef.n == 1);
    TEST_EXPECT(strncmp(ef.text[0], "FUNCTION LOAD #!lua name=lib", 28) == 0);
    TEST_EXPECT_STR(last_reply, "$3\r\nlib\r\n");
    ef = run("FCALL", "f", "1", "x", "val", NULL);
    TEST_ASSERT(ef.n == 1);
    TEST_EXPECT_STR(ef.text[0], "set x val");
    TEST_EXPECT_STR(last_reply, "$3\r\nval\r\n");
    ef = run("FCALL_RO", "f", "1", "x", "val", NULL);
    TEST_EXPECT_INT(ef.n, 0);
    TEST_EXPECT_STR(last_reply, "-ERR Can not execute a script with write flag using *_ro command.\r\n");
    ef = run("FUNCTION", "DELETE", "lib", NULL);
    TEST_ASSERT(ef.n == 1);
    TEST_EXPECT_STR(ef.text[0], "FUNCTION DELETE lib");
}

static void count_lib(const char *code, size_t len, void *arg) {
    (*(int *)arg)++;
    (void)code;
    (void)len;
}

TEST(functions_persistence_api) {
    setup_once();
    script_functions_flush();
    char err[256];
    const char *a = "#!lua name=pa\nredis.register_function('pf', function() return 'pa' end)";
    TEST_EXPECT_INT(script_functions_load(a, strlen(a), false, err, sizeof(err)), 0);
    TEST_EXPECT_INT(script_functions_load(a, strlen(a), false, err, sizeof(err)), -1);
    TEST_EXPECT_STR(err, "Library 'pa' already exists");
    TEST_EXPECT_INT(script_functions_load(a, strlen(a), true, err, sizeof(err)), 0);
    TEST_EXPECT_INT(script_functions_load("bad", 3, true, err, sizeof(err)), -1);
    TEST_EXPECT_STR(err, "Missing library metadata");
    int n = 0;
    script_functions_foreach(count_lib, &n);
    TEST_EXPECT_INT(n, 1);
    run("FCALL", "pf", "0", NULL);
    TEST_EXPECT_STR(last_reply, "$2\r\npa\r\n");
    script_functions_flush();
    n = 0;
    script_functions_foreach(count_lib, &n);
    TEST_EXPECT_INT(n, 0);
}

int main(void) {
    int rc = test_run_all();
    script_thread_cleanup();
    return rc;
}

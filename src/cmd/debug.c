/*
 * cmd/debug.c - DEBUG: the introspection and test hooks that Redis's test
 * suite and operators use, where they make sense for Stash.
 *
 * Subcommands (argument counts as Redis checks them):
 *   HELP                       the list below
 *   SET-ACTIVE-EXPIRE <0|1>    stop/restart the active expire cycle
 *   PAUSE-CRON <0|1>           stop/restart the periodic jobs (expiry, timeouts, ...)
 *   SLEEP <seconds>            sleep (decimals allowed), see below
 *   OBJECT <key>               low-level facts about a key's value
 *   DIGEST                     SHA-1 digest of the whole dataset (Redis's)
 *   DIGEST-VALUE <key>...      digest of each key's value
 *   PROTOCOL <type>            a test reply of one RESP type
 *   HTSTATS <db>               the shape of the database's hash tables
 *   HTSTATS-KEY <key>          same for a value (none here is a hash table
 *                              until the collection types register one)
 *   POPULATE <n> [prefix] [size]  create n string keys (not propagated)
 *   RELOAD [MERGE|NOFLUSH|NOSAVE]  save, empty, load the RDB file (persist/)
 *   LOADAOF                    write out the AOF buffer, empty, load the AOF
 *   AOF-FLUSH-SLEEP <us>       sleep before each AOF write (tests)
 *   CHANGE-REPL-ID             a new replication id, no second one
 *   REPLICATE <arg>...         send a command to the replicas only
 *   STRINGMATCH-TEST           fuzz the glob matcher
 *   LOG <message>              write a line to the server log
 *   ERROR <string>             reply with <string> as an error
 *   STRUCTSIZE                 sizes of the core structures
 *
 * Access: refused unless enable-debug-command (registered here, immutable,
 *   default "no") is "yes", or "local" and the client is on a Unix socket
 *   or a loopback address (127.0.0.0/8, ::1), with Redis's error text. The
 *   check runs in the command (after the arity check, as in Redis), so a
 *   refused DEBUG inside MULTI fails at EXEC rather than at queueing.
 *
 * Threads and locks: DEBUG is keyless, so it runs without locks and takes
 *   the stripe of each key it reads (store_run_slot) or walks slot by slot.
 *   Inside EXEC it may only use stripes the transaction already holds;
 *   otherwise it replies an error instead of locking out of order.
 *   SLEEP blocks only the worker thread that runs it (its clients wait,
 *   clients of other workers do not), unlike Redis where the whole server
 *   stops; inside EXEC it sleeps holding the transaction's stripes.
 *
 * Thread context: [owner] of the client.
 */
#include "cmd/debug.h"
#include "repl/log.h"
#include "repl/repl.h"
#include "cmd/cmd.h"
#include "exec/script.h"
#include "cmd/keyspace.h"
#include "cmd/list.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/str.h"
#include "config/config.h"
#include "persist/aof.h"
#include "persist/persist.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- enable-debug-command ---------------------------------------------------- */

enum { DEBUG_NO = 0, DEBUG_YES = 1, DEBUG_LOCAL = 2 };

static _Atomic int debug_allowed = DEBUG_NO;

static const struct config_enum allow_names[] = {
    {"no", DEBUG_NO}, {"yes", DEBUG_YES}, {"local", DEBUG_LOCAL}, {NULL, 0}};

static int apply_allowed(long long v, char *err) {
    atomic_store(&debug_allowed, (int)v);
    return 0;
}

static struct config_option options[] = {
    {"enable-debug-command", NULL, CFG_ENUM, CFG_F_IMMUTABLE, "no", 0, 0, allow_names,
     apply_allowed, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void cmd_debug_setup(void) {
    config_register(options);
}

/* A Unix socket or a loopback peer. */
static bool is_local(const struct client *c) {
    if (c->flags & CLIENT_UNIX_SOCKET) return true;
    const char *a = c->addr;
    return strncmp(a, "127.", 4) == 0 || strncmp(a, "[::1]:", 6) == 0 ||
           strncmp(a, "[::ffff:127.", 12) == 0;
}

static bool allowed(const struct client *c) {
    int v = atomic_load_explicit(&debug_allowed, memory_order_relaxed);
    return v == DEBUG_YES || (v == DEBUG_LOCAL && is_local(c));
}

/* ---- helpers -------------------------------------------------------------------- */

/* Redis's "unknown subcommand or wrong number of arguments" error. */
static void syntax_error(struct client *c) {
    char name[16];
    size_t n = MIN(c->argvlen[0], sizeof(name) - 1);
    for (size_t i = 0; i < n; i++) {
        char ch = c->argv[0][i];
        name[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    name[n] = '\0';
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                 (int)MIN(c->argvlen[1], (size_t)128), c->argv[1], name);
}

/* argv[i] as a C string (argv is not NUL-terminated); free with xfree. */
static char *arg_cstr(const struct client *c, int i) {
    return xstrndup(c->argv[i], c->argvlen[i]);
}

/* atoi() of argv[i], as Redis reads these flags. */
static int arg_atoi(const struct client *c, int i) {
    char *s = arg_cstr(c, i);
    int v = atoi(s);
    xfree(s);
    return v;
}

/* Run fn under the stripe of k. Inside EXEC only a stripe the transaction
 * holds can be used; returns false (error replied) otherwise. */
static bool run_on_key(struct client *c, const struct store_key *k, store_fn fn, void *arg) {
    if (c->flags & CLIENT_IN_EXEC) {
        if (!store_holds(k->slot)) {
            reply_error(
                c, "ERR this DEBUG subcommand needs the key's stripe: inside MULTI, also queue a "
                   "command on that key, or run it outside the transaction");
            return false;
        }
        fn(arg);
        return true;
    }
    store_run_slot(k->slot, STORE_READ, fn, arg);
    return true;
}

/* Walking the whole keyspace inside EXEC needs every stripe. */
static bool can_walk(struct client *c) {
    if ((c->flags & CLIENT_IN_EXEC) && !store_holds_all()) {
        reply_error(c, "ERR this DEBUG subcommand walks the whole keyspace: run it outside MULTI");
        return false;
    }
    return true;
}

/* ---- digests ----------------------------------------------------------------------- */

/* Redis's type codes (the digest hashes them; its stream is 6, not 5). */
static uint32_t redis_type_code(enum entry_type t) {
    return t == TYPE_STREAM ? 6u : (uint32_t)t;
}

/* Mix entry e's value into d as Redis's xorObjectDigest does. [stripe-locked] */
static void value_digest(const struct entry *e, unsigned char d[DIGEST_LEN]) {
    uint32_t code = htonl(redis_type_code(entry_type(e)));
    digest_mix(d, &code, sizeof(code));
    if (entry_type(e) == TYPE_STRING) {
        char num[STR_LL_MAX];
        size_t n;
        const char *p = entry_str_bytes(e, num, &n);
        digest_mix(d, p, n);
    } else {
        const struct type_ops *ops = entry_type_ops(entry_type(e));
        if (ops && ops->digest) ops->digest(entry_obj(e), d);
    }
    if (entry_has_expire(e)) digest_xor(d, "!!expire!!", 10);
}

struct db_digest {
    unsigned char *final;
};

/* [stripe-locked] One key: xor SHA1(digest(key, value)) into the total. */
static void digest_key(struct entry *e, void *arg) {
    struct db_digest *dd = arg;
    unsigned char d[DIGEST_LEN] = {0};
    size_t klen;
    const char *key = entry_key(e, &klen);
    digest_mix(d, key, klen);
    value_digest(e, d);
    digest_xor(dd->final, d, DIGEST_LEN);
}

static void dbg_digest(struct client *c) {
    if (!can_walk(c)) return;
    unsigned char final[DIGEST_LEN] = {0};
    struct db_digest dd = {final};
    for (int db = 0; db < store_databases(); db++) {
        if (store_dbsize(db) == 0) continue;
        uint32_t id = htonl((uint32_t)db);
        digest_mix(final, &id, sizeof(id));
        store_foreach(db, digest_key, &dd);
    }
    char hex[2 * DIGEST_LEN + 1];
    digest_hex(final, hex);
    reply_simple(c, hex);
}

struct value_digest_step {
    int db;
    struct store_key k;
    unsigned char d[DIGEST_LEN];
};

static void value_digest_locked(void *arg) {
    struct value_digest_step *s = arg;
    /* Logically expired keys count too: DEBUG looks, it does not expire. */
    struct entry *e = store_peek(s->db, &s->k, NULL);
    if (e) value_digest(e, s->d);
}

static void dbg_digest_value(struct client *c) {
    int n = c->argc - 2;
    char(*hex)[2 * DIGEST_LEN + 1] = xmalloc((size_t)(n ? n : 1) * sizeof(*hex));
    for (int j = 0; j < n; j++) {
        struct value_digest_step s = {c->db, {0}, {0}};
        store_key_init(&s.k, c->argv[j + 2], c->argvlen[j + 2]);
        if (!run_on_key(c, &s.k, value_digest_locked, &s)) {
            xfree(hex);
            return;
        }
        digest_hex(s.d, hex[j]);
    }
    reply_array(c, n);
    for (int j = 0; j < n; j++) reply_simple(c, hex[j]);
    xfree(hex);
}

/* ---- OBJECT ------------------------------------------------------------------------- */

/* serializedlength: the value's size in an RDB file, as Redis's
 * rdbSavedObjectLen (compressed per rdbcompression). */
static size_t serialized_length(const struct entry *e) { return persist_value_rdb_len(e); }

struct object_step {
    int db;
    struct store_key k;
    bool found;
    char line[256];
};

static void object_locked(void *arg) {
    struct object_step *s = arg;
    struct entry *e = store_peek(s->db, &s->k, NULL);
    if (e == NULL) return;
    s->found = true;
    /* "Value at": where the value lives (the blob or object it points to,
     * else the entry itself, which holds it inline). */
    const void *at = e;
    if (entry_type(e) != TYPE_STRING || entry_enc(e) == ENC_BLOB) at = entry_obj(e);
    snprintf(
        s->line, sizeof(s->line),
        "Value at:%p refcount:%lld encoding:%s serializedlength:%zu lru:%u lru_seconds_idle:%llu",
        at, keyspace_refcount(e), entry_enc_name(e), serialized_length(e), (unsigned)entry_lru(e),
        (unsigned long long)(store_idle_ms(e) / 1000));
}

static void dbg_object(struct client *c) {
    struct object_step s = {c->db, {0}, false, ""};
    store_key_init(&s.k, c->argv[2], c->argvlen[2]);
    if (!run_on_key(c, &s.k, object_locked, &s)) return;
    if (!s.found) {
        reply_error(c, RERR_NO_SUCH_KEY);
        return;
    }
    reply_simple(c, s.line);
}

/* ---- HTSTATS ------------------------------------------------------------------------ */

static void dbg_htstats(struct client *c) {
    long long db;
    if (!cmd_ll_range(c, 2, LONG_MIN, LONG_MAX, &db, NULL)) return;
    if (db < 0 || db >= store_databases()) {
        reply_error(c, "ERR Out of range database");
        return;
    }
    if (!can_walk(c)) return;
    struct store_table_stats *st = xmalloc(sizeof(*st));
    store_table_stats((int)db, st);
    struct buf out = BUF_INIT;
    buf_puts(&out, "[Dictionary HT]\n");
    if (st->keys == 0) {
        buf_puts(
            &out,
            "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n");
    } else {
        /* One table per cluster slot that holds keys; the numbers are the
         * sums (and the maximum chain) over those tables. */
        buf_printf(&out,
                   "Hash table 0 stats (main hash table):\n"
                   " slot tables: %llu (one per cluster slot; %llu resizing)\n"
                   " table size: %llu\n"
                   " number of elements: %llu\n"
                   " different slots: %llu\n"
                   " max chain length: %llu\n"
                   " avg chain length (counted): %.02f\n"
                   " avg chain length (computed): %.02f\n"
                   " Chain length distribution:\n",
                   (unsigned long long)st->tables, (unsigned long long)st->rehashing,
                   (unsigned long long)st->buckets, (unsigned long long)st->keys,
                   (unsigned long long)st->used_buckets, (unsigned long long)st->max_chain,
                   st->used_buckets ? (double)st->keys / (double)st->used_buckets : 0.0,
                   st->used_buckets ? (double)st->keys / (double)st->used_buckets : 0.0);
        for (int i = 0; i < STORE_CHAIN_STATS; i++) {
            if (st->chains[i] == 0) continue;
            buf_printf(&out, "   %s%d: %llu (%.02f%%)\n", i == STORE_CHAIN_STATS - 1 ? ">=" : "", i,
                       (unsigned long long)st->chains[i],
                       (double)st->chains[i] * 100.0 / (double)st->buckets);
        }
    }
    buf_puts(&out, "[Expires HT]\n");
    if (st->volatile_keys == 0)
        buf_puts(
            &out,
            "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n");
    else
        buf_printf(&out,
                   "Hash table 0 stats (main hash table):\n"
                   " no hash table: %llu keys with an expiry, indexed in per-slot arrays\n",
                   (unsigned long long)st->volatile_keys);
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
    xfree(st);
}

struct exists_step {
    int db;
    struct store_key k;
    bool found;
};

static void exists_locked(void *arg) {
    struct exists_step *s = arg;
    s->found = store_lookup(s->db, &s->k, STORE_LOOKUP_NOTOUCH, NULL) != NULL;
}

static void dbg_htstats_key(struct client *c) {
    struct exists_step s = {c->db, {0}, false};
    store_key_init(&s.k, c->argv[2], c->argvlen[2]);
    if (!run_on_key(c, &s.k, exists_locked, &s)) return;
    if (!s.found) {
        reply_error(c, RERR_NO_SUCH_KEY);
        return;
    }
    reply_error(c,
                "ERR The value stored at the specified key is not represented using an hash table");
}

/* ---- PROTOCOL --------------------------------------------------------------------------- */

static void dbg_protocol(struct client *c) {
    static const char bignum[] = "1234567999999999999999999999999999999";
    if (cmd_arg_is(c, 2, "string")) {
        reply_bulk_cstr(c, "Hello World");
    } else if (cmd_arg_is(c, 2, "integer")) {
        reply_int(c, 12345);
    } else if (cmd_arg_is(c, 2, "double")) {
        reply_double(c, 3.141);
    } else if (cmd_arg_is(c, 2, "bignum")) {
        if (c->resp >= 3) {
            reply_proto(c, "(", 1);
            reply_proto(c, bignum, sizeof(bignum) - 1);
            reply_proto(c, "\r\n", 2);
        } else {
            reply_bulk(c, bignum, sizeof(bignum) - 1);
        }
    } else if (cmd_arg_is(c, 2, "null")) {
        reply_null(c);
    } else if (cmd_arg_is(c, 2, "array")) {
        reply_array(c, 3);
        for (int j = 0; j < 3; j++) reply_int(c, j);
    } else if (cmd_arg_is(c, 2, "set")) {
        reply_set(c, 3);
        for (int j = 0; j < 3; j++) reply_int(c, j);
    } else if (cmd_arg_is(c, 2, "map")) {
        reply_map(c, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(c, j);
            reply_bool(c, j == 1);
        }
    } else if (cmd_arg_is(c, 2, "attrib")) {
        /* An attribute is metadata before a real reply (RESP3 only). */
        if (c->resp >= 3) {
            reply_proto(c, "|1\r\n", 4);
            reply_bulk_cstr(c, "key-popularity");
            reply_array(c, 2);
            reply_bulk_cstr(c, "key:123");
            reply_int(c, 90);
        }
        reply_bulk_cstr(c, "Some real reply following the attribute");
    } else if (cmd_arg_is(c, 2, "push")) {
        if (c->resp < 3) {
            reply_error(c, "ERR RESP2 is not supported by this command");
            return;
        }
        reply_push(c, 2);
        reply_bulk_cstr(c, "server-cpu-usage");
        reply_int(c, 42);
        reply_bulk_cstr(c, "Some real reply following the push reply");
    } else if (cmd_arg_is(c, 2, "true")) {
        reply_bool(c, true);
    } else if (cmd_arg_is(c, 2, "false")) {
        reply_bool(c, false);
    } else if (cmd_arg_is(c, 2, "verbatim")) {
        reply_verbatim(c, "This is a verbatim\nstring", 25, "txt");
    } else {
        reply_error(
            c, "ERR Wrong protocol type name. Please use one of the following: "
               "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
    }
}

/* ---- POPULATE ------------------------------------------------------------------------- */

struct populate_step {
    int db;
    struct store_key k;
    const char *val;
    size_t vlen;
};

static void populate_locked(void *arg) {
    struct populate_step *p = arg;
    if (store_lookup(p->db, &p->k, STORE_LOOKUP_WRITE, NULL)) return; /* existing keys stay */
    store_add(p->db, &p->k, entry_new_str(p->k.ptr, p->k.len, p->val, p->vlen, -1, true), NULL);
    store_signal_modified(p->db, &p->k);
}

static void dbg_populate(struct client *c) {
    long long count, size = 0;
    if (!cmd_ll_range(c, 2, 0, LONG_MAX, &count, "ERR value is out of range, must be positive"))
        return;
    if (c->argc == 5 &&
        !cmd_ll_range(c, 4, 0, LONG_MAX, &size, "ERR value is out of range, must be positive"))
        return;
    if (count > 0 && !can_walk(c)) return;
    const char *prefix = c->argc >= 4 ? c->argv[3] : "key";
    size_t plen = c->argc >= 4 ? c->argvlen[3] : 3;
    struct buf key = BUF_INIT;
    struct buf val = BUF_INIT;
    for (long long j = 0; j < count; j++) {
        buf_clear(&key);
        buf_append(&key, prefix, plen);
        buf_printf(&key, ":%lld", j);
        buf_clear(&val);
        buf_printf(&val, "value:%lld", j);
        if (size > 0) {
            /* Exactly `size` bytes: the text, cut or padded with zeros. */
            size_t have = val.len;
            buf_reserve(&val, (size_t)size);
            if ((size_t)size > have) memset(val.data + have, 0, (size_t)size - have);
            val.len = (size_t)size;
        }
        struct populate_step p = {c->db, {0}, val.data, val.len};
        store_key_init(&p.k, key.data, key.len);
        if (c->flags & CLIENT_IN_EXEC)
            populate_locked(&p);
        else
            store_run_slot(p.k.slot, STORE_WRITE, populate_locked, &p);
    }
    buf_free(&key);
    buf_free(&val);
    reply_ok(c);
}

/* ---- the small ones ------------------------------------------------------------------------ */

static void dbg_set_active_expire(struct client *c) {
    store_set_active_expire(arg_atoi(c, 2) != 0);
    reply_ok(c);
}

static void dbg_pause_cron(struct client *c) {
    exec_set_cron_paused(arg_atoi(c, 2) != 0);
    reply_ok(c);
}

/* Let scripts call noscript commands (the Redis test suite uses it). */
static void dbg_set_disable_deny_scripts(struct client *c) {
    script_set_disable_deny(arg_atoi(c, 2) != 0);
    reply_ok(c);
}

static void dbg_sleep(struct client *c) {
    char *s = arg_cstr(c, 2);
    double secs = strtod(s, NULL);
    xfree(s);
    long long us = (long long)(secs * 1000000);
    if (us > 0) {
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    reply_ok(c);
}

static void dbg_reload(struct client *c) {
    bool save = true, flush = true, merge = false;
    for (int j = 2; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "MERGE")) {
            merge = true;
        } else if (cmd_arg_is(c, j, "NOFLUSH")) {
            flush = false;
        } else if (cmd_arg_is(c, j, "NOSAVE")) {
            save = false;
        } else {
            reply_error(c, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
            return;
        }
    }
    if (c->flags & CLIENT_IN_EXEC) {
        reply_error(c, "ERR DEBUG RELOAD can't run inside a transaction");
        return;
    }
    const char *err;
    if (persist_debug_reload(save, flush, merge, &err) != 0) {
        reply_error(c, err);
        return;
    }
    reply_ok(c);
}

static void dbg_loadaof(struct client *c) {
    if (c->flags & CLIENT_IN_EXEC) {
        reply_error(c, "ERR DEBUG LOADAOF can't run inside a transaction");
        return;
    }
    if (aof_debug_load() != 0) {
        reply_error(c, "ERR Error loading the append only file, check server logs.");
        return;
    }
    reply_ok(c);
}

static void dbg_aof_flush_sleep(struct client *c) {
    long long us;
    if (!cmd_ll(c, 2, &us)) return;
    aof_set_flush_sleep(us);
    reply_ok(c);
}

static void dbg_change_repl_id(struct client *c) {
    log_warn("Changing replication IDs after receiving DEBUG change-repl-id");
    repl_change_replid();
    reply_ok(c);
}

/* DEBUG REPLICATE <arg>...: the arguments go to the replicas as a command
 * (not to the AOF), in the stream's current database. */
static void dbg_replicate(struct client *c) {
    if (log_enabled() && !repl_is_replica()) {
        struct buf b = BUF_INIT;
        buf_printf(&b, "*%d\r\n", c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            buf_printf(&b, "$%zu\r\n", c->argvlen[i]);
            buf_append(&b, c->argv[i], c->argvlen[i]);
            buf_puts(&b, "\r\n");
        }
        log_stage_raw(c->db, b.data, b.len);
        log_seal(false);
        log_publish();
        buf_free(&b);
    }
    reply_ok(c);
}

static void dbg_stringmatch_test(struct client *c) {
    /* Random patterns against random strings: the matcher must not crash
     * or hang on any input. */
    static const char alphabet[] = "ab*?[]^-\\\\c";
    char pat[32], str[32];
    for (int i = 0; i < 100000; i++) {
        size_t pl = rand_below(sizeof(pat)), sl = rand_below(sizeof(str));
        for (size_t j = 0; j < pl; j++) pat[j] = alphabet[rand_below(sizeof(alphabet) - 1)];
        for (size_t j = 0; j < sl; j++) str[j] = alphabet[rand_below(sizeof(alphabet) - 1)];
        glob_match(pat, pl, str, sl, (i & 1) != 0);
    }
    reply_simple(c, "Apparently Redis did not crash: test passed");
}

static void dbg_log(struct client *c) {
    log_warn("DEBUG LOG: %.*s", (int)MIN(c->argvlen[2], (size_t)INT_MAX), c->argv[2]);
    reply_ok(c);
}

static void dbg_error(struct client *c) {
    /* The text as given (no "ERR" prefix), newlines made spaces. */
    char *s = arg_cstr(c, 2);
    for (char *p = s; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    reply_error(c, s);
    xfree(s);
}

static void dbg_structsize(struct client *c) {
    char line[256];
    snprintf(line, sizeof(line),
             "bits:%d entry:%zu blob:%zu htab_node:%zu store_key:%zu client:%zu ",
             (int)(sizeof(void *) * 8), sizeof(struct entry), sizeof(struct blob),
             sizeof(struct htab_node), sizeof(struct store_key), sizeof(struct client));
    reply_bulk_cstr(c, line);
}

/* ---- HELP and dispatch -------------------------------------------------------------------------
 */

static void dbg_help(struct client *c) {
    static const char *const lines[] = {
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance (no replicas yet: does nothing).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "HTSTATS <dbid>",
        "    Return hash table statistics of the specified database (summed over its",
        "    per-slot tables).",
        "HTSTATS-KEY <key>",
        "    Like HTSTATS but for the hash table stored at <key>'s value.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas.",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "LOADAOF",
        "    Flush the AOF buffers on disk and reload the AOF in memory.",
        "AOF-FLUSH-SLEEP <microsec>",
        "    Server will sleep before flushing the AOF, this is used for testing.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: Merge the content of the RDB file with the current dataset.",
        "    * NOFLUSH: Do not empty the dataset before loading the RDB.",
        "    * NOSAVE: Do not save the RDB before loading it back.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SET-DISABLE-DENY-SCRIPTS <0|1>",
        "    Setting it to 1 allows scripts to call commands flagged noscript.",
        "SLEEP <seconds>",
        "    Stop the worker thread serving this connection for <seconds>. Decimals allowed.",
        "STRINGMATCH-TEST",
        "    Run a fuzz tester against the glob-style pattern matcher.",
        "STRUCTSIZE",
        "    Return the size of different core C structures.",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)ARRAY_LEN(lines);
    char name[16];
    size_t nl = MIN(c->argvlen[0], sizeof(name) - 1);
    for (size_t i = 0; i < nl; i++) {
        char ch = c->argv[0][i];
        name[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    name[nl] = '\0';
    char head[160];
    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", name);
    reply_array(c, n + 1);
    reply_simple(c, head);
    for (int i = 0; i < n; i++) reply_simple(c, lines[i]);
}

struct subcommand {
    const char *name;
    int min_argc, max_argc; /* total arguments, DEBUG included; -1: any */
    void (*fn)(struct client *c);
};

static const struct subcommand subcommands[] = {
    {"help", 2, 2, dbg_help},
    {"set-active-expire", 3, 3, dbg_set_active_expire},
    {"set-disable-deny-scripts", 3, 3, dbg_set_disable_deny_scripts},
    {"sleep", 3, 3, dbg_sleep},
    {"pause-cron", 3, 3, dbg_pause_cron},
    {"object", 3, 3, dbg_object},
    {"digest", 2, 2, dbg_digest},
    {"digest-value", 2, -1, dbg_digest_value},
    {"protocol", 3, 3, dbg_protocol},
    {"htstats", 3, 3, dbg_htstats},
    {"htstats-key", 3, 3, dbg_htstats_key},
    {"populate", 3, 5, dbg_populate},
    {"reload", 2, -1, dbg_reload},
    {"loadaof", 2, 2, dbg_loadaof},
    {"aof-flush-sleep", 3, 3, dbg_aof_flush_sleep},
    {"change-repl-id", 2, 2, dbg_change_repl_id},
    {"replicate", 3, -1, dbg_replicate},
    {"stringmatch-test", 2, 2, dbg_stringmatch_test},
    {"log", 3, 3, dbg_log},
    {"error", 3, 3, dbg_error},
    {"structsize", 2, 2, dbg_structsize},
    {"quicklist-packed-threshold", 3, 3, cmd_debug_quicklist_packed_threshold}, /* cmd/list.c */
};

void cmd_debug(struct client *c) {
    if (!allowed(c)) {
        reply_error(
            c,
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
            "\"local\", "
            "you can run it from a local connection, otherwise you need to set this option in the "
            "configuration file, and then restart the server.");
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(subcommands); i++) {
        const struct subcommand *s = &subcommands[i];
        if (!cmd_arg_is(c, 1, s->name)) continue;
        if (c->argc < s->min_argc || (s->max_argc >= 0 && c->argc > s->max_argc)) break;
        s->fn(c);
        return;
    }
    syntax_error(c);
}

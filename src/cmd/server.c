/*
 * cmd/server.c - server commands: INFO DBSIZE FLUSHALL FLUSHDB CONFIG TIME
 * LASTSAVE SHUTDOWN MONITOR MEMORY SLOWLOG; COMMAND is in cmd/command.c and
 * LATENCY in cmd/latency.c.
 *
 * Replies follow Redis 7.0 field by field. Where Stash has no such thing
 * yet (persistence, replication, scripting caches) the numbers are the
 * ones of a Redis without it (0), never invented activity.
 *
 * Thread context: the client's worker; keyless commands hold no lock,
 * MEMORY USAGE holds its key's stripe.
 */
#include "cmd/server.h"
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/time.h"
#include "config/config.h"
#include "exec/block.h"
#include "exec/stats.h"
#include "metrics/cmdlat.h"
#include "metrics/info.h"
#include "metrics/slowlog.h"
#include "net/worker.h"
#include "persist/persist.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static int64_t started_ms;
static size_t startup_bytes;

void cmd_server_started(int64_t start_ms, size_t bytes) {
    started_ms = start_ms;
    startup_bytes = bytes;
}

void cmd_info(struct client *c) {
    struct buf out = BUF_INIT;
    info_generate(c->argc - 1, c->argv + 1, c->argvlen + 1, &out);
    reply_verbatim(c, out.data ? out.data : "", out.len, "txt");
    buf_free(&out);
}

void cmd_dbsize(struct client *c) { reply_int(c, (long long)store_dbsize(c->db)); }

/* FLUSHALL/FLUSHDB [ASYNC|SYNC]; returns -1 after a syntax error reply. */
static int flush_mode(struct client *c) {
    if (c->argc == 1) return 0;
    if (c->argc == 2 && cmd_arg_is(c, 1, "ASYNC")) return 1;
    if (c->argc == 2 && cmd_arg_is(c, 1, "SYNC")) return 0;
    reply_error(c, RERR_SYNTAX);
    return -1;
}

void cmd_flushall(struct client *c) {
    int mode = flush_mode(c);
    if (mode < 0) return;
    store_flush(-1, mode == 1);
    block_db_flushed(-1); /* XREADGROUP waiters learn their stream is gone */
    /* As Redis: a running BGSAVE is killed, and with save points the empty
     * dataset is saved (once this command's locks are released). */
    persist_flushall();
    exec_dirty(c, 1);
    reply_ok(c);
}

void cmd_flushdb(struct client *c) {
    int mode = flush_mode(c);
    if (mode < 0) return;
    store_flush(c->db, mode == 1);
    block_db_flushed(c->db);
    exec_dirty(c, 1);
    reply_ok(c);
}

void cmd_time(struct client *c) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(c, 2);
    reply_bulk_ll(c, (long long)tv.tv_sec);
    reply_bulk_ll(c, (long long)tv.tv_usec);
}

/* The last successful save (the start, before any). */
void cmd_lastsave(struct client *c) { reply_int(c, persist_lastsave()); }

/* ---- CONFIG ------------------------------------------------------------------- */

struct config_reply {
    struct client *c;
    long n;
};

static void config_pair(const char *name, const char *value, size_t vlen, void *arg) {
    struct config_reply *r = arg;
    reply_bulk_cstr(r->c, name);
    reply_bulk(r->c, value, vlen);
    r->n++;
}

void cmd_config_get(struct client *c) {
    struct config_reply r = {c, 0};
    struct onode *d = reply_defer(c);
    config_get(c->argc - 2, c->argv + 2, c->argvlen + 2, config_pair, &r);
    reply_defer_map(c, d, r.n);
}

void cmd_config_set(struct client *c) {
    /* Passwords stay out of SLOWLOG and MONITOR (Redis's SENSITIVE_CONFIG). */
    for (int i = 2; i + 1 < c->argc; i += 2)
        if (cmd_arg_is(c, i, "requirepass") || cmd_arg_is(c, i, "masterauth")) client_redact(c, i + 1);
    /* config_set wants NUL-terminated strings: copy the arguments. */
    int n = c->argc - 2;
    char **args = xmalloc(sizeof(char *) * (size_t)n);
    for (int i = 0; i < n; i++) args[i] = xstrndup(c->argv[i + 2], c->argvlen[i + 2]);
    char err[512];
    bool ok = config_set(n, args, c->argvlen + 2, err, sizeof(err)) == 0;
    if (ok)
        reply_ok(c);
    else
        reply_error(c, err);
    /* A lower maxmemory takes effect at once, as in Redis: evict now, not
     * at the next write (outside the config mutex, which eviction's stripe
     * locks must never nest under). */
    for (int i = 0; ok && i < n; i += 2) {
        if (strcasecmp(args[i], "maxmemory") == 0) {
            store_evict_if_needed();
            break;
        }
    }
    for (int i = 0; i < n; i++) xfree(args[i]);
    xfree(args);
}

/* Redis resets the server statistics, the command table's (calls, latency
 * histograms) and the error table; not the slowlog. */
void cmd_config_resetstat(struct client *c) {
    stats_reset();
    store_reset_stats();
    client_reset_stats();
    acl_reset_stats();
    reply_errorstats_reset();
    cmdlat_reset();
    reply_ok(c);
}

void cmd_config_rewrite(struct client *c) {
    char err[512];
    if (config_rewrite(err, sizeof(err)) != 0) {
        log_warn("CONFIG REWRITE failed: %s", err + 4);
        reply_error(c, err);
        return;
    }
    log_notice("CONFIG REWRITE executed with success.");
    reply_ok(c);
}

void cmd_config_help(struct client *c) {
    static const char *const lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL,
    };
    cmd_reply_help(c, lines);
}

/* ---- SHUTDOWN, MONITOR ---------------------------------------------------------- */

#define SHUT_NOSAVE 1
#define SHUT_SAVE 2
#define SHUT_NOW 4
#define SHUT_FORCE 8

void cmd_shutdown(struct client *c) {
    int flags = 0;
    bool abort_req = false;
    for (int i = 1; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "NOSAVE"))
            flags |= SHUT_NOSAVE;
        else if (cmd_arg_is(c, i, "SAVE"))
            flags |= SHUT_SAVE;
        else if (cmd_arg_is(c, i, "NOW"))
            flags |= SHUT_NOW;
        else if (cmd_arg_is(c, i, "FORCE"))
            flags |= SHUT_FORCE;
        else if (cmd_arg_is(c, i, "ABORT"))
            abort_req = true;
        else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if ((abort_req && flags) || ((flags & SHUT_NOSAVE) && (flags & SHUT_SAVE))) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    /* Stash stops at once (no replicas to wait for): nothing is ever in
     * progress to abort. */
    if (abort_req) {
        reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    if (!(flags & SHUT_NOW) && (c->flags & CLIENT_IN_EXEC)) {
        reply_error(c, "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
        return;
    }
    /* Save now (SAVE, or save points without NOSAVE), on this worker, so
     * that a failure can be replied; FORCE exits anyway, as Redis does. */
    exec_pause(PAUSE_WRITE, INT64_MAX); /* nothing acknowledged after the final snapshot */
    if (persist_shutdown((flags & SHUT_SAVE) != 0, (flags & SHUT_NOSAVE) != 0) != 0) {
        if (!(flags & SHUT_FORCE)) {
            exec_unpause();
            log_warn("Errors trying to shut down the server. Check the logs for more information.");
            reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
            return;
        }
        log_warn("Error trying to save the DB. Exit anyway.");
    }
    flags |= SHUT_NOSAVE; /* done: the server must not save again on its way out */
    /* The connection stays silent and is closed by the shutdown itself. */
    client_block(c, NULL);
    exec_request_shutdown(flags);
}

void cmd_monitor(struct client *c) {
    if (c->flags & CLIENT_IN_EXEC) {
        reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->flags & CLIENT_MONITOR) return; /* already: ignored, no reply */
    exec_monitor_add(c);
    reply_ok(c);
}

/* ---- MEMORY ------------------------------------------------------------------------ */

void cmd_memory_usage(struct client *c) {
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "SAMPLES") && j + 1 < c->argc) {
            long long samples;
            if (!cmd_ll(c, j + 1, &samples)) return;
            if (samples < 0) {
                reply_error(c, RERR_SYNTAX);
                return;
            }
            j++; /* sizes are exact: nothing is sampled */
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    struct store_key k;
    cmd_key(c, 2, &k);
    /* Like Redis's dictFind: no expiry, no access time, no hit/miss. */
    struct entry *e = store_peek(c->db, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    reply_int(c, (long long)entry_mem(e));
}

struct mem_job {
    _Atomic size_t clients_normal;
    _Atomic size_t clients_pubsub;
    bool silent;
};

static void mem_work(void *arg, int idx) {
    UNUSED(idx);
    struct mem_job *j = arg;
    size_t normal = 0, pubsub = 0;
    for (struct client *cl = client_first(); cl; cl = client_next(cl)) {
        if (cl->flags & CLIENT_PUBSUB)
            pubsub += client_memory(cl);
        else
            normal += client_memory(cl);
    }
    atomic_fetch_add(&j->clients_normal, normal);
    atomic_fetch_add(&j->clients_pubsub, pubsub);
}

static void pair_ll(struct client *c, const char *name, long long v) {
    reply_bulk_cstr(c, name);
    reply_int(c, v);
}

static void pair_d(struct client *c, const char *name, double v) {
    reply_bulk_cstr(c, name);
    reply_double(c, v);
}

static void mem_done(struct client *c, void *arg) {
    struct mem_job *j = arg;
    if (c && !j->silent) {
        size_t used = alloc_used_bytes(), peak = alloc_peak_bytes(), rss = alloc_rss_bytes();
        if (used > peak) peak = used;
        struct alloc_stats as;
        alloc_get_stats(&as);
        size_t clients = atomic_load(&j->clients_normal) + atomic_load(&j->clients_pubsub);
        size_t overhead = startup_bytes + clients;
        size_t dataset = used > overhead ? used - overhead : 0;
        size_t net = used > startup_bytes ? used - startup_bytes : 0;
        uint64_t keys = 0;
        int ndbs = 0;
        for (int db = 0; db < store_databases(); db++) {
            uint64_t n = store_dbsize(db);
            keys += n;
            if (n) ndbs++;
        }
        reply_map(c, 27 + ndbs);
        pair_ll(c, "peak.allocated", (long long)peak);
        pair_ll(c, "total.allocated", (long long)used);
        pair_ll(c, "startup.allocated", (long long)startup_bytes);
        pair_ll(c, "replication.backlog", 0);
        pair_ll(c, "clients.slaves", 0);
        pair_ll(c, "clients.normal", (long long)clients);
        pair_ll(c, "cluster.links", 0);
        pair_ll(c, "aof.buffer", 0);
        pair_ll(c, "lua.caches", 0);
        pair_ll(c, "functions.caches", 0);
        for (int db = 0; db < store_databases(); db++) {
            if (store_dbsize(db) == 0) continue;
            char name[32];
            snprintf(name, sizeof(name), "db.%d", db);
            reply_bulk_cstr(c, name);
            /* Stash's slot tables are part of the dataset's accounting. */
            reply_map(c, 3);
            pair_ll(c, "overhead.hashtable.main", 0);
            pair_ll(c, "overhead.hashtable.expires", 0);
            pair_ll(c, "overhead.hashtable.slot-to-keys", 0);
        }
        pair_ll(c, "overhead.total", (long long)overhead);
        pair_ll(c, "keys.count", (long long)keys);
        pair_ll(c, "keys.bytes-per-key", keys ? (long long)(net / keys) : 0);
        pair_ll(c, "dataset.bytes", (long long)dataset);
        pair_d(c, "dataset.percentage", net ? (double)dataset * 100.0 / (double)net : 0.0);
        pair_d(c, "peak.percentage", peak ? (double)used * 100.0 / (double)peak : 0.0);
        pair_ll(c, "allocator.allocated", (long long)as.allocated);
        pair_ll(c, "allocator.active", (long long)as.active);
        pair_ll(c, "allocator.resident", (long long)as.resident);
        pair_d(c, "allocator-fragmentation.ratio", as.allocated ? (double)as.active / (double)as.allocated : 0.0);
        pair_ll(c, "allocator-fragmentation.bytes", (long long)as.active - (long long)as.allocated);
        pair_d(c, "allocator-rss.ratio", as.active ? (double)as.resident / (double)as.active : 0.0);
        pair_ll(c, "allocator-rss.bytes", (long long)as.resident - (long long)as.active);
        pair_d(c, "rss-overhead.ratio", as.resident ? (double)rss / (double)as.resident : 0.0);
        pair_ll(c, "rss-overhead.bytes", (long long)rss - (long long)as.resident);
        pair_d(c, "fragmentation", used ? (double)rss / (double)used : 0.0);
        pair_ll(c, "fragmentation.bytes", (long long)rss - (long long)used);
    }
    xfree(j);
}

void cmd_memory_stats(struct client *c) {
    struct mem_job *j = xcalloc(1, sizeof(*j));
    j->silent = c->out != &c->obuf;
    if (c->flags & CLIENT_IN_EXEC) {
        mem_work(j, worker_id(c->worker));
        j->silent = false;
        mem_done(c, j);
        return;
    }
    client_fanout(c, mem_work, mem_done, j);
}

/* A short report in plain words (Stash's own checks, not Redis's text). */
void cmd_memory_doctor(struct client *c) {
    size_t used = alloc_used_bytes(), peak = alloc_peak_bytes(), rss = alloc_rss_bytes();
    if (used > peak) peak = used;
    struct buf r = BUF_INIT;
    if (used < 5u * 1024 * 1024) {
        buf_printf(&r, "Memory doctor: this instance holds very little data (%zu bytes allocated); there is "
                       "nothing meaningful to diagnose yet.\n", used);
    } else {
        int issues = 0;
        buf_puts(&r, "Memory doctor report:\n\n");
        if ((double)peak / (double)used > 1.5) {
            buf_printf(&r, " * Peak: the peak allocation (%zu bytes) is more than 1.5 times the current one (%zu "
                           "bytes). Memory freed after a peak is often kept by the allocator, which shows as "
                           "fragmentation; MEMORY PURGE may return some of it.\n\n", peak, used);
            issues++;
        }
        if ((double)rss / (double)used > 1.4 && rss - used > (10u << 20)) {
            buf_printf(&r, " * Resident memory: the process resident set (%zu bytes) exceeds the allocated bytes "
                           "by more than 40%% and 10 MB.\n\n", rss);
            issues++;
        }
        if (issues == 0) {
            buf_clear(&r);
            buf_puts(&r, "Memory doctor: no memory problem found in this instance.\n");
        }
    }
    reply_verbatim(c, r.data, r.len, "txt");
    buf_free(&r);
}

static void malloc_text(void *arg, const char *text) { buf_puts(arg, text); }

void cmd_memory_malloc_stats(struct client *c) {
    struct buf r = BUF_INIT;
    if (!alloc_stats_report(malloc_text, &r)) {
        reply_bulk_cstr(c, "Stats not supported for the current allocator");
    } else {
        reply_verbatim(c, r.data ? r.data : "", r.len, "txt");
    }
    buf_free(&r);
}

void cmd_memory_purge(struct client *c) {
    alloc_purge();
    reply_ok(c);
}

void cmd_memory_help(struct client *c) {
    static const char *const lines[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    cmd_reply_help(c, lines);
}

/* ---- SLOWLOG ----------------------------------------------------------------------- */

void cmd_slowlog_get(struct client *c) {
    long long count = 10;
    if (c->argc > 3) {
        cmd_reply_subcommand_error(c);
        return;
    }
    if (c->argc == 3) {
        if (!cmd_ll_range(c, 2, -1, LONG_MAX, &count, "ERR count should be greater than or equal to -1")) return;
    }
    slowlog_reply(c->out, c->resp, count);
}

void cmd_slowlog_len(struct client *c) { reply_int(c, (long long)slowlog_len()); }

void cmd_slowlog_reset(struct client *c) {
    slowlog_reset();
    reply_ok(c);
}

void cmd_slowlog_help(struct client *c) {
    static const char *const lines[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL,
    };
    cmd_reply_help(c, lines);
}

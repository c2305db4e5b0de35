/*
 * cmd/server.c - server commands: INFO CONFIG DBSIZE FLUSHALL FLUSHDB COMMAND.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "config/config.h"
#include "exec/stats.h"
#include "metrics/info.h"
#include "metrics/slowlog.h"

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
    exec_dirty(c, 1);
    reply_ok(c);
}

void cmd_flushdb(struct client *c) {
    int mode = flush_mode(c);
    if (mode < 0) return;
    store_flush(c->db, mode == 1);
    exec_dirty(c, 1);
    reply_ok(c);
}

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
    /* config_set wants NUL-terminated strings: copy the arguments. */
    int n = c->argc - 2;
    char **args = xmalloc(sizeof(char *) * (size_t)n);
    for (int i = 0; i < n; i++) args[i] = xstrndup(c->argv[i + 2], c->argvlen[i + 2]);
    char err[512];
    if (config_set(n, args, c->argvlen + 2, err, sizeof(err)) == 0)
        reply_ok(c);
    else
        reply_error(c, err);
    for (int i = 0; i < n; i++) xfree(args[i]);
    xfree(args);
}

void cmd_config_resetstat(struct client *c) {
    stats_reset();
    store_reset_stats();
    client_reset_stats();
    reply_errorstats_reset();
    slowlog_reset();
    reply_ok(c);
}

void cmd_config_help(struct client *c) {
    static const char *lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    reply_array(c, n);
    for (int i = 0; i < n; i++) reply_simple(c, lines[i]);
}

/* ---- COMMAND -------------------------------------------------------------------- */

void cmd_command(struct client *c) { reply_array(c, 0); }

void cmd_command_count(struct client *c) { reply_int(c, exec_command_count()); }

/*
 * cmd/pubsub.c - SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
 * SSUBSCRIBE SUNSUBSCRIBE SPUBLISH PUBSUB (the machinery is in exec/pubsub.c).
 */
#include "cmd/cmd.h"
#include "repl/log.h"
#include "repl/repl.h"

void cmd_subscribe(struct client *c) { pubsub_subscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, false); }
void cmd_psubscribe(struct client *c) { pubsub_subscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, true); }
void cmd_unsubscribe(struct client *c) { pubsub_unsubscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, false); }
void cmd_punsubscribe(struct client *c) { pubsub_unsubscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, true); }

void cmd_ssubscribe(struct client *c) {
    /* EXEC (and scripts) deny blocking; unlike SUBSCRIBE, SSUBSCRIBE has no
     * exception for transactions (Redis 7.0). */
    if (c->flags & CLIENT_IN_EXEC) {
        reply_error(c, "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    pubsub_ssubscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1);
}

void cmd_sunsubscribe(struct client *c) { pubsub_sunsubscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1); }

/* PUBLISH reaches the replicas' subscribers too (Redis propagates it to
 * replicas, not to the AOF); a replica's own publishes stay local. */
static void propagate_publish(struct client *c) {
    if (log_enabled() && !repl_is_replica() && !(c->flags & CLIENT_MASTER))
        log_stage_kind(c->db, LOG_REPL, c->argc, c->argv, c->argvlen);
}

void cmd_publish(struct client *c) {
    long n = pubsub_publish(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    propagate_publish(c);
    reply_int(c, n);
}

void cmd_spublish(struct client *c) {
    long n = pubsub_spublish(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    propagate_publish(c);
    reply_int(c, n);
}

/* Redis's addReplySubcommandSyntaxError. */
static void subcommand_syntax_error(struct client *c) {
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB HELP.",
                 (int)MIN(c->argvlen[1], (size_t)128), c->argv[1]);
}

void cmd_pubsub_channels(struct client *c) {
    if (c->argc > 3) {
        subcommand_syntax_error(c);
        return;
    }
    pubsub_reply_channels(c, c->argc == 3 ? c->argv[2] : NULL, c->argc == 3 ? c->argvlen[2] : 0);
}

void cmd_pubsub_shardchannels(struct client *c) {
    if (c->argc > 3) {
        subcommand_syntax_error(c);
        return;
    }
    pubsub_reply_shard_channels(c, c->argc == 3 ? c->argv[2] : NULL, c->argc == 3 ? c->argvlen[2] : 0);
}

/* A flat array of name, count pairs (not a map, even in RESP3: Redis 7.0). */
void cmd_pubsub_numsub(struct client *c) {
    reply_array(c, (long long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(c, c->argv[i], c->argvlen[i]);
        reply_int(c, pubsub_numsub(c->argv[i], c->argvlen[i]));
    }
}

void cmd_pubsub_shardnumsub(struct client *c) {
    reply_array(c, (long long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(c, c->argv[i], c->argvlen[i]);
        reply_int(c, pubsub_shard_numsub(c->argv[i], c->argvlen[i]));
    }
}

void cmd_pubsub_numpat(struct client *c) { reply_int(c, pubsub_numpat()); }

void cmd_pubsub_help(struct client *c) {
    static const char *lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    reply_array(c, n);
    for (int i = 0; i < n; i++) reply_simple(c, lines[i]);
}

/*
 * cmd/pubsub.c - SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB.
 */
#include "cmd/cmd.h"

void cmd_subscribe(struct client *c) { pubsub_subscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, false); }
void cmd_psubscribe(struct client *c) { pubsub_subscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, true); }
void cmd_unsubscribe(struct client *c) { pubsub_unsubscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, false); }
void cmd_punsubscribe(struct client *c) { pubsub_unsubscribe(c, c->argc - 1, c->argv + 1, c->argvlen + 1, true); }

void cmd_publish(struct client *c) {
    long n = pubsub_publish(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    reply_int(c, n);
}

void cmd_pubsub_channels(struct client *c) {
    if (c->argc > 3) {
        reply_arity_error(c);
        return;
    }
    pubsub_reply_channels(c, c->argc == 3 ? c->argv[2] : NULL, c->argc == 3 ? c->argvlen[2] : 0);
}

void cmd_pubsub_numsub(struct client *c) {
    reply_map(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(c, c->argv[i], c->argvlen[i]);
        reply_int(c, pubsub_numsub(c->argv[i], c->argvlen[i]));
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
        "HELP",
        "    Prints this help.",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    reply_array(c, n);
    for (int i = 0; i < n; i++) reply_simple(c, lines[i]);
}

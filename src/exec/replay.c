/*
 * exec/replay.c - the fake client that replays an AOF through the normal
 * command path (persist/aof.h's replay hooks; Redis's createAOFClient).
 *
 * The client has no connection: replies go to its output buffer and are
 * dropped after every command. MULTI / EXEC / DISCARD are run, the
 * commands between them queued, exactly as dispatch does for a client.
 * While a file replays, the thread's effects are muted (log_set_muted:
 * the commands are on disk already and must not be logged again) and the
 * store is "loading" (store_set_loading: nothing expires, as Redis while
 * loading). A blocking command never blocks (CLIENT_NO_BLOCK: it answers
 * as inside MULTI). No ACL check applies (the client is internal).
 *
 * Thread context: the loading thread, no lock held.
 */
#include "exec/exec.h"
#include "base/alloc.h"
#include "exec/access.h"
#include "exec/multi.h"
#include "persist/aof.h"
#include "repl/log.h"

#include <stdio.h>
#include <string.h>

static void *replay_begin(void) {
    struct client *c = xcalloc(1, sizeof(*c));
    c->worker = worker_self();
    c->resp = 2;
    c->authenticated = true;
    c->flags = CLIENT_NO_BLOCK | CLIENT_AOF;
    obuf_init(&c->obuf);
    c->out = &c->obuf;
    store_watch_init(&c->watch);
    snprintf(c->addr, sizeof(c->addr), "aof");
    snprintf(c->laddr, sizeof(c->laddr), "aof");
    log_set_muted(true);
    store_set_loading(true);
    return c;
}

static bool is_tx(const struct command *cmd) {
    const char *n = cmd->fullname;
    return strcmp(n, "exec") == 0 || strcmp(n, "discard") == 0 || strcmp(n, "multi") == 0;
}

static int replay_command(void *ctx, int argc, const char **argv, const size_t *lens) {
    struct client *c = ctx;
    const struct command *cmd = exec_command_lookup(argv[0], lens[0]);
    if (cmd == NULL) return -1;
    if (cmd->nsubcmds > 0 && argc >= 2) {
        const struct command *sub = exec_subcommand_lookup(cmd, argv[1], lens[1]);
        if (sub) cmd = sub;
    }
    c->argc = argc;
    c->argv = argv;
    c->argvlen = (size_t *)lens;
    c->cmd = cmd;
    /* A command the AOF could not hold (wrong arity) did nothing when it
     * was written either: skip it, as a client would get an error. */
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) return 0;
    if ((c->flags & CLIENT_MULTI) && !is_tx(cmd))
        multi_queue(c);
    else
        exec_call(c, cmd);
    obuf_clear(&c->obuf);
    obuf_init(&c->obuf);
    c->argc = 0;
    c->argv = NULL;
    c->argvlen = NULL;
    return 0;
}

static bool replay_in_multi(void *ctx) { return (((struct client *)ctx)->flags & CLIENT_MULTI) != 0; }

static void replay_end(void *ctx) {
    struct client *c = ctx;
    multi_discard(c);
    obuf_clear(&c->obuf);
    xfree(c->keys);
    xfree(c);
    store_set_loading(false);
    log_set_muted(false);
}

void exec_replay_register(void) {
    static const struct aof_replay_ops ops = {replay_begin, replay_command, replay_in_multi, replay_end};
    aof_set_replay(&ops);
}

/*
 * cmd/tx.c - MULTI EXEC DISCARD WATCH UNWATCH (the machinery is in
 * exec/multi.c).
 */
#include "cmd/cmd.h"
#include "exec/multi.h"

void cmd_multi(struct client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    multi_begin(c);
    reply_ok(c);
}

void cmd_exec(struct client *c) { multi_exec(c); }

void cmd_discard(struct client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(c);
    reply_ok(c);
}

void cmd_watch(struct client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* A client already marked dirty gains nothing from more watches. */
    if (!store_watch_dirty(&c->watch)) {
        for (int i = 1; i < c->argc; i++) {
            struct store_key k;
            cmd_key(c, i, &k);
            store_watch_key(&c->watch, c->db, &k);
        }
    }
    reply_ok(c);
}

void cmd_unwatch(struct client *c) {
    store_unwatch_all(&c->watch);
    reply_ok(c);
}

/*
 * cmd/connection.c - PING ECHO SELECT QUIT HELLO RESET AUTH.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"
#include "exec/multi.h"

#include <limits.h>
#include <string.h>

void cmd_ping(struct client *c) {
    if (c->argc > 2) {
        reply_arity_error(c);
        return;
    }
    /* A RESP2 subscriber gets PING as a pub/sub message shaped array. */
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) {
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc == 1)
            reply_bulk(c, "", 0);
        else
            reply_bulk(c, c->argv[1], c->argvlen[1]);
        return;
    }
    if (c->argc == 1)
        reply_proto(c, "+PONG\r\n", 7);
    else
        reply_bulk(c, c->argv[1], c->argvlen[1]);
}

void cmd_echo(struct client *c) { reply_bulk(c, c->argv[1], c->argvlen[1]); }

void cmd_select(struct client *c) {
    long long id;
    /* getIntFromObjectOrReply: anything outside int is "not an integer". */
    if (!cmd_ll_range(c, 1, INT_MIN, INT_MAX, &id, RERR_NOT_INT)) return;
    if (id < 0 || id >= store_databases()) {
        reply_error(c, RERR_DB_RANGE);
        return;
    }
    c->db = (int)id;
    reply_ok(c);
}

void cmd_quit(struct client *c) {
    reply_ok(c);
    client_close_after_reply(c);
}

/* No password or ACL user exists until the security module lands: the
 * default user needs no password, as in a Redis without requirepass, so any
 * password authenticates it. User names are case-sensitive. */
static bool is_default_user(const struct client *c, int i) {
    return c->argvlen[i] == 7 && memcmp(c->argv[i], "default", 7) == 0;
}

void cmd_auth(struct client *c) {
    if (c->argc > 3) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    if (c->argc == 2) {
        reply_error(c, "ERR AUTH <password> called without any password configured for the default user. Are you "
                       "sure your configuration is correct?");
        return;
    }
    if (is_default_user(c, 1)) {
        reply_ok(c);
        return;
    }
    reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
}

void cmd_hello(struct client *c) {
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (!str_to_ll(c->argv[1], c->argvlen[1], &ver)) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    /* Options take effect one by one, as in Redis: a SETNAME before a bad
     * option stays applied. */
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (cmd_arg_is(c, j, "AUTH") && more >= 2) {
            if (!is_default_user(c, j + 1)) {
                reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            j += 2;
        } else if (cmd_arg_is(c, j, "SETNAME") && more >= 1) {
            const char *name = c->argv[j + 1];
            size_t len = c->argvlen[j + 1];
            for (size_t i = 0; i < len; i++) {
                if (name[i] < '!' || name[i] > '~') {
                    reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
                    return;
                }
            }
            xfree(c->name);
            c->name = len ? xstrndup(name, len) : NULL;
            j++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", (int)c->argvlen[j], c->argv[j]);
            return;
        }
    }
    if (ver) c->resp = (int)ver;
    reply_map(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, "7.0.15");
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_array(c, 0);
}

void cmd_reset(struct client *c) {
    multi_discard(c);
    pubsub_client_gone(c);
    if (c->flags & CLIENT_MONITOR) exec_monitor_remove(c);
    c->db = 0;
    c->resp = 2;
    /* Redis 7.0's clearClientConnectionState: NO-EVICT stays as it is. */
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_NO_TOUCH | CLIENT_PUBSUB);
    /* The reply of RESET itself is never silenced. */
    c->out = &c->obuf;
    xfree(c->name);
    c->name = NULL;
    reply_simple(c, "RESET");
}

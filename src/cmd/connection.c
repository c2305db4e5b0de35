/*
 * cmd/connection.c - PING ECHO SELECT QUIT HELLO RESET AUTH.
 *
 * AUTH and HELLO AUTH check credentials with the ACL layer (auth/acl.h);
 * their password arguments are redacted from SLOWLOG and MONITOR.
 */
#include "cmd/cmd.h"
#include "exec/tracking.h"
#include "repl/repl.h"
#include "base/alloc.h"
#include "base/str.h"
#include "exec/access.h"
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

#define WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* Authenticate c as argv[ui] (ui < 0: the default user) with the password
 * argv[pi]; a failure is logged in ACL LOG with the name tried. */
static bool authenticate(struct client *c, int ui, int pi) {
    const char *name = ui < 0 ? "default" : c->argv[ui];
    size_t nlen = ui < 0 ? 7 : c->argvlen[ui];
    struct acl_user *u = acl_authenticate(name, nlen, c->argv[pi], c->argvlen[pi]);
    if (u) {
        exec_client_set_user(c, u);
        return true;
    }
    exec_access_log(c, ACL_DENIED_AUTH, (c->flags & CLIENT_MULTI) ? ACL_LOG_CTX_MULTI : ACL_LOG_CTX_TOPLEVEL, 0, name,
                    nlen);
    return false;
}

void cmd_auth(struct client *c) {
    if (c->argc > 3) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    client_redact(c, 1);
    if (c->argc == 2) {
        if (acl_default_nopass()) {
            reply_error(c, "ERR AUTH <password> called without any password configured for the default user. Are "
                           "you sure your configuration is correct?");
            return;
        }
    } else {
        client_redact(c, 2);
    }
    if (authenticate(c, c->argc == 2 ? -1 : 1, c->argc == 2 ? 1 : 2))
        reply_ok(c);
    else
        reply_error(c, WRONGPASS);
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
            client_redact(c, j + 1);
            client_redact(c, j + 2);
            if (!authenticate(c, j + 1, j + 2)) {
                reply_error(c, WRONGPASS);
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
    if (!c->authenticated) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH "
                       "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
                       "version at the same time");
        return;
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
    reply_bulk_cstr(c, repl_role_name());
    reply_bulk_cstr(c, "modules");
    reply_array(c, 0);
}

void cmd_reset(struct client *c) {
    multi_discard(c);
    pubsub_client_gone(c);
    if (c->flags & CLIENT_MONITOR) exec_monitor_remove(c);
    tracking_disable(c);
    c->db = 0;
    c->resp = 2;
    exec_client_default_auth(c);
    /* Redis 7.0's clearClientConnectionState: NO-EVICT stays as it is. */
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_NO_TOUCH | CLIENT_PUBSUB);
    /* The reply of RESET itself is never silenced. */
    c->out = &c->obuf;
    xfree(c->name);
    c->name = NULL;
    reply_simple(c, "RESET");
}

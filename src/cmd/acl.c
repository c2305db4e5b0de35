/*
 * cmd/acl.c - ACL SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT GENPASS LOG
 * DRYRUN SAVE LOAD HELP: replies in Redis 7.0's shapes and words over the
 * ACL layer (auth/acl.h).
 *
 * Changes that end users' rights (DELUSER, LOAD, SETUSER revoking channel
 * permissions) close the concerned clients on every worker before the
 * reply goes out (exec_access_enforce), as Redis answers after its kills.
 *
 * Thread context: commands on the asker's worker.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"
#include "exec/access.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool name_has_spaces(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r') || s[i] == '\0') return true;
    return false;
}

static void reply_ok_done(struct client *c, void *arg) { reply_ok(c); }

static void reply_count_done(struct client *c, void *arg) { reply_int(c, (long long)(intptr_t)arg); }

void cmd_acl_setuser(struct client *c) {
    for (int j = 2; j < c->argc; j++) client_redact(c, j);
    if (name_has_spaces(c->argv[2], c->argvlen[2])) {
        reply_error(c, "ERR Usernames can't contain spaces or null characters");
        return;
    }
    struct acl_doomed d;
    char *err = acl_setuser(c->argv[2], c->argvlen[2], c->argc - 3, c->argv + 3, c->argvlen + 3, &d);
    if (err) {
        reply_errorf(c, "ERR %s", err);
        xfree(err);
        acl_doomed_free(&d);
        return;
    }
    exec_access_enforce(c, &d, reply_ok_done, NULL);
}

void cmd_acl_deluser(struct client *c) {
    struct acl_doomed d;
    int n = acl_deluser(c->argc - 2, c->argv + 2, c->argvlen + 2, &d);
    if (n < 0) {
        reply_error(c, "ERR The 'default' user cannot be removed");
        return;
    }
    exec_access_enforce(c, &d, reply_count_done, (void *)(intptr_t)n);
}

static void reply_selector(struct client *c, const struct acl_selector_info *s) {
    reply_bulk_cstr(c, "commands");
    reply_bulk_cstr(c, s->commands);
    reply_bulk_cstr(c, "keys");
    reply_bulk_cstr(c, s->keys);
    reply_bulk_cstr(c, "channels");
    reply_bulk_cstr(c, s->channels);
}

void cmd_acl_getuser(struct client *c) {
    struct acl_user_info info;
    if (!acl_getuser(c->argv[2], c->argvlen[2], &info)) {
        reply_null(c);
        return;
    }
    reply_map(c, 6);
    reply_bulk_cstr(c, "flags");
    reply_set(c, info.nflags);
    for (int i = 0; i < info.nflags; i++) reply_bulk_cstr(c, info.flags[i]);
    reply_bulk_cstr(c, "passwords");
    reply_array(c, info.npasswords);
    for (int i = 0; i < info.npasswords; i++) reply_bulk_cstr(c, info.passwords[i]);
    reply_selector(c, &info.sels[0]);
    reply_bulk_cstr(c, "selectors");
    reply_array(c, info.nsels - 1);
    for (int i = 1; i < info.nsels; i++) {
        reply_map(c, 3);
        reply_selector(c, &info.sels[i]);
    }
    acl_user_info_free(&info);
}

struct line_item {
    char *p;
    size_t n;
};
struct lines {
    struct line_item *v;
    int n;
};

static void collect(void *arg, const char *s, size_t n) {
    struct lines *l = arg;
    l->v = xrealloc(l->v, sizeof(*l->v) * (size_t)(l->n + 1));
    l->v[l->n].p = xmemdup(s, n);
    l->v[l->n++].n = n;
}

static void reply_users(struct client *c, bool names_only) {
    struct lines l = {NULL, 0};
    acl_list(names_only, collect, &l);
    reply_array(c, l.n);
    for (int i = 0; i < l.n; i++) {
        reply_bulk(c, l.v[i].p, l.v[i].n);
        xfree(l.v[i].p);
    }
    xfree(l.v);
}

void cmd_acl_list(struct client *c) { reply_users(c, false); }
void cmd_acl_users(struct client *c) { reply_users(c, true); }

void cmd_acl_whoami(struct client *c) { reply_bulk_cstr(c, acl_user_name(c->user)); }

#define NO_ACLFILE                                                                                                 \
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "    \
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order " \
    "to store users in the Redis configuration."

void cmd_acl_load(struct client *c) {
    if (!acl_has_file()) {
        reply_error(c, NO_ACLFILE);
        return;
    }
    struct acl_doomed d;
    char *err = acl_load(&d);
    if (err) {
        reply_errorf(c, "ERR %s", err);
        xfree(err);
        acl_doomed_free(&d);
        return;
    }
    exec_access_enforce(c, &d, reply_ok_done, NULL);
}

void cmd_acl_save(struct client *c) {
    if (!acl_has_file()) {
        reply_error(c, NO_ACLFILE);
        return;
    }
    if (acl_save() == 0)
        reply_ok(c);
    else
        reply_error(c, "ERR There was an error trying to save the ACLs. Please check the server logs for more "
                       "information");
}

void cmd_acl_cat(struct client *c) {
    if (c->argc > 3) {
        cmd_reply_subcommand_error(c);
        return;
    }
    if (c->argc == 2) {
        reply_array(c, ACL_NCATEGORIES);
        for (int i = 0; i < ACL_NCATEGORIES; i++) reply_bulk_cstr(c, acl_category_names[i]);
        return;
    }
    int cat = acl_category_by_name(c->argv[2], c->argvlen[2]);
    if (cat < 0) {
        reply_errorf(c, "ERR Unknown category '%.*s'", (int)MIN(c->argvlen[2], (size_t)128), c->argv[2]);
        return;
    }
    uint64_t flag = 1ULL << cat;
    struct onode *d = reply_defer(c);
    long long n = 0;
    for (int i = 0; i < exec_command_count(); i++) {
        const struct command *cmd = exec_command_at(i);
        if (cmd->acl & flag) {
            reply_bulk_cstr(c, cmd->fullname);
            n++;
        }
        for (int k = 0; k < cmd->nsubcmds; k++) {
            if (cmd->subcmds[k].acl & flag) {
                reply_bulk_cstr(c, cmd->subcmds[k].fullname);
                n++;
            }
        }
    }
    reply_defer_array(c, d, n);
}

#define GENPASS_MAX_BITS 4096

void cmd_acl_genpass(struct client *c) {
    if (c->argc > 3) {
        cmd_reply_subcommand_error(c);
        return;
    }
    long long bits = 256;
    if (c->argc == 3 && !cmd_ll(c, 2, &bits)) return;
    if (bits <= 0 || bits > GENPASS_MAX_BITS) {
        reply_errorf(c,
                     "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number "
                     "up to %d",
                     GENPASS_MAX_BITS);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[GENPASS_MAX_BITS / 8];
    char pass[GENPASS_MAX_BITS / 4];
    size_t chars = (size_t)(bits + 3) / 4;
    randombytes_buf(raw, (chars + 1) / 2);
    for (size_t i = 0; i < chars; i++) pass[i] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    reply_bulk(c, pass, chars);
}

void cmd_acl_log(struct client *c) {
    if (c->argc > 3) {
        cmd_reply_subcommand_error(c);
        return;
    }
    long long count = 10;
    if (c->argc == 3) {
        if (cmd_arg_is(c, 2, "RESET")) {
            acl_log_reset();
            reply_ok(c);
            return;
        }
        if (!cmd_ll(c, 2, &count)) return;
        if (count < 0) count = 0;
    }
    struct acl_log_entry *e;
    int n = acl_log_get(count > INT32_MAX ? INT32_MAX : (long)count, &e);
    int64_t now = time_ms();
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        reply_map(c, 7);
        reply_bulk_cstr(c, "count");
        reply_int(c, (long long)e[i].count);
        reply_bulk_cstr(c, "reason");
        reply_bulk_cstr(c, acl_log_reason_name(e[i].reason));
        reply_bulk_cstr(c, "context");
        reply_bulk_cstr(c, acl_log_ctx_name(e[i].ctx));
        reply_bulk_cstr(c, "object");
        reply_bulk(c, e[i].object, e[i].olen);
        reply_bulk_cstr(c, "username");
        reply_bulk(c, e[i].username, e[i].ulen);
        reply_bulk_cstr(c, "age-seconds");
        reply_double(c, (double)(now - e[i].ctime_ms) / 1000);
        reply_bulk_cstr(c, "client-info");
        reply_bulk(c, e[i].cinfo, e[i].clen);
    }
    acl_log_entries_free(e, n);
}

void cmd_acl_dryrun(struct client *c) {
    if (!acl_user_exists(c->argv[2], c->argvlen[2])) {
        reply_errorf(c, "ERR User '%.*s' not found", (int)c->argvlen[2], c->argv[2]);
        return;
    }
    int argc = c->argc - 3;
    const char *const *argv = c->argv + 3;
    const size_t *lens = c->argvlen + 3;
    const struct command *cmd = exec_command_lookup(argv[0], lens[0]);
    if (cmd && cmd->nsubcmds > 0 && argc >= 2) cmd = exec_subcommand_lookup(cmd, argv[1], lens[1]);
    if (cmd == NULL) {
        reply_errorf(c, "ERR Command '%.*s' not found", (int)lens[0], argv[0]);
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd->fullname);
        return;
    }
    enum acl_result res = ACL_OK;
    int pos = 0;
    if (!exec_access_dryrun(c->argv[2], c->argvlen[2], cmd, argc, argv, lens, &res, &pos)) {
        reply_errorf(c, "ERR User '%.*s' not found", (int)c->argvlen[2], c->argv[2]);
        return;
    }
    char msg[512];
    int n = 0;
    if (res == ACL_DENIED_CMD)
        n = snprintf(msg, sizeof(msg), "This user has no permissions to run the '%s' command", cmd->fullname);
    else if (res == ACL_DENIED_KEY)
        n = snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' key",
                     (int)MIN(lens[pos], (size_t)400), argv[pos]);
    else if (res == ACL_DENIED_CHANNEL)
        n = snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' channel",
                     (int)MIN(lens[pos], (size_t)400), argv[pos]);
    if (res == ACL_OK)
        reply_ok(c);
    else
        reply_bulk(c, msg, (size_t)MIN(n, (int)sizeof(msg) - 1));
}

void cmd_acl_help(struct client *c) {
    static const char *const lines[] = {
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        NULL,
    };
    cmd_reply_help(c, lines);
}

/*
 * cmd/setup.c - registers the generated command table and shared command
 * helpers.
 */
#include "cmd/cmd.h"
#include "base/str.h"
#include "cmd/debug.h"
#include "cmd/list.h"
#include "cmd/procs.h"
#include "cmd/stream.h"
#include "cmd/zset.h"
#include "exec/access.h"

#include <ctype.h>
#include <stdio.h>

void cmd_setup(void) {
    exec_commands_register(cmd_table, cmd_table_len);
    exec_access_setup(); /* the ACL catalog; before the keyperm registrations */
    exec_access_set_keyperm("set", cmd_set_keyperm);
    exec_access_set_keyperm("bitfield", cmd_bitfield_keyperm);
    cmd_debug_setup();
    cmd_hash_setup();
    cmd_set_setup();
    cmd_list_setup();
    cmd_zset_setup();
    cmd_stream_setup();
    cmd_hll_setup();
    cmd_sort_setup();
    cmd_script_setup();
}

bool cmd_ll_msg(struct client *c, int i, long long *out, const char *msg) {
    if (!str_to_ll(c->argv[i], c->argvlen[i], out)) {
        reply_error(c, msg ? msg : RERR_NOT_INT);
        return false;
    }
    return true;
}

bool cmd_ll(struct client *c, int i, long long *out) { return cmd_ll_msg(c, i, out, NULL); }

bool cmd_ll_range(struct client *c, int i, long long min, long long max, long long *out, const char *msg) {
    long long v;
    if (!str_to_ll(c->argv[i], c->argvlen[i], &v) || v < min || v > max) {
        reply_error(c, msg ? msg : RERR_NOT_INT);
        return false;
    }
    *out = v;
    return true;
}

bool cmd_double(struct client *c, int i, double *out) {
    if (!str_to_d(c->argv[i], c->argvlen[i], out)) {
        reply_error(c, RERR_NOT_FLOAT);
        return false;
    }
    return true;
}

bool cmd_ld(struct client *c, int i, long double *out) {
    if (!str_to_ld(c->argv[i], c->argvlen[i], out)) {
        reply_error(c, RERR_NOT_FLOAT);
        return false;
    }
    return true;
}

void cmd_delete(struct client *c, struct store_ref *ref) {
    struct store_key k = ref->key;
    store_delete(ref);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_GENERIC, "del", &k);
}

static void upper_name(const struct client *c, char *out, size_t cap) {
    size_t n = c->argvlen[0] < cap - 1 ? c->argvlen[0] : cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = (char)toupper((unsigned char)c->argv[0][i]);
    out[n] = '\0';
}

void cmd_reply_help(struct client *c, const char *const *lines) {
    char name[64];
    upper_name(c, name, sizeof(name));
    long n = 0;
    while (lines[n]) n++;
    reply_array(c, n + 3);
    char head[128];
    snprintf(head, sizeof(head), "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", name);
    reply_simple(c, head);
    for (long i = 0; i < n; i++) reply_simple(c, lines[i]);
    reply_simple(c, "HELP");
    reply_simple(c, "    Prints this help.");
}

void cmd_reply_subcommand_error(struct client *c) {
    char name[64];
    upper_name(c, name, sizeof(name));
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                 (int)MIN(c->argvlen[1], (size_t)128), c->argv[1], name);
}

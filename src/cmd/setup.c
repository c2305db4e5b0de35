/*
 * cmd/setup.c - registers the generated command table and shared command
 * helpers.
 */
#include "cmd/cmd.h"
#include "base/str.h"
#include "cmd/debug.h"
#include "cmd/procs.h"

void cmd_setup(void) {
    exec_commands_register(cmd_table, cmd_table_len);
    cmd_debug_setup();
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

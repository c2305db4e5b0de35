/*
 * cmd/keyspace.c - generic key commands.
 */
#include "cmd/cmd.h"

void cmd_del(struct client *c) {
    long long deleted = 0;
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd_key(c, i, &k);
        struct store_ref ref;
        if (cmd_lookup_write(c, &k, &ref)) {
            cmd_delete(c, &ref);
            deleted++;
        }
    }
    exec_dirty(c, deleted);
    reply_int(c, deleted);
}

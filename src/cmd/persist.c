/*
 * cmd/persist.c - SAVE, BGSAVE, DUMP, RESTORE: the command side of
 * persist/ (snapshots, payloads). Replies and errors are Redis 7.0's.
 *
 * SAVE runs the snapshot on the client's worker (other workers keep
 *   serving: the snapshot is point-in-time anyway, see persist/snapshot.h);
 *   BGSAVE starts the snapshot thread. Both are keyless: they hold no
 *   stripe while the cut locks them all. Inside EXEC (every stripe held)
 *   BGSAVE is scheduled, as Redis schedules it; SAVE is refused in MULTI.
 *
 * BGREWRITEAOF starts (or schedules) the AOF rewrite (persist/aof.h).
 *
 * DUMP / RESTORE run under their key's stripe: a payload is built from,
 *   or turned into, one entry.
 *
 * Thread context: the client's worker.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/str.h"
#include "base/time.h"
#include "persist/aof.h"
#include "persist/persist.h"

#include <stdio.h>

void cmd_save(struct client *c) {
    int rc = persist_save();
    if (rc == 0)
        reply_ok(c);
    else if (rc == ERR_AGAIN)
        reply_error(c, "ERR Background save already in progress");
    else
        reply_error(c, "ERR");
}

void cmd_bgsave(struct client *c) {
    if (c->argc > 1 && !(c->argc == 2 && cmd_arg_is(c, 1, "SCHEDULE"))) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    int rc = persist_bgsave(c->argc == 2, (c->flags & CLIENT_IN_EXEC) != 0);
    if (rc == 0)
        reply_simple(c, "Background saving started");
    else if (rc == 1)
        reply_simple(c, "Background saving scheduled");
    else if (rc == ERR_AGAIN)
        reply_error(c, "ERR Background save already in progress");
    else if (rc == ERR_EXISTS)
        reply_error(c, "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                       "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    else
        reply_error(c, "ERR");
}

void cmd_bgrewriteaof(struct client *c) {
    const char *err = NULL;
    int rc = aof_bgrewrite((c->flags & CLIENT_IN_EXEC) != 0, &err);
    if (rc == 0)
        reply_simple(c, "Background append only file rewriting started");
    else if (rc == 1)
        reply_simple(c, "Background append only file rewriting scheduled");
    else
        reply_error(c, err);
}

void cmd_dump(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    struct buf out = BUF_INIT;
    if (!persist_dump(e, &out)) {
        buf_free(&out);
        reply_error(c, "ERR this type of value cannot be serialized by DUMP yet");
        return;
    }
    reply_bulk(c, out.data, out.len);
    buf_free(&out);
}

struct restore_opts {
    bool replace, absttl;
    long long idle, freq, ttl;
};

static bool restore_parse(struct client *c, struct restore_opts *o) {
    *o = (struct restore_opts){false, false, -1, -1, 0};
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (cmd_arg_is(c, j, "REPLACE")) {
            o->replace = true;
        } else if (cmd_arg_is(c, j, "ABSTTL")) {
            o->absttl = true;
        } else if (cmd_arg_is(c, j, "IDLETIME") && more >= 1 && o->freq == -1) {
            if (!cmd_ll(c, j + 1, &o->idle)) return false;
            if (o->idle < 0) {
                reply_error(c, "ERR Invalid IDLETIME value, must be >= 0");
                return false;
            }
            j++;
        } else if (cmd_arg_is(c, j, "FREQ") && more >= 1 && o->idle == -1) {
            if (!cmd_ll(c, j + 1, &o->freq)) return false;
            if (o->freq < 0 || o->freq > 255) {
                reply_error(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return false;
            }
            j++;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Propagate RESTORE with the absolute expiry (Redis rewrites the TTL
 * argument and appends ABSTTL). */
static void propagate_abs(struct client *c, long long when) {
    int n = c->argc + 1;
    const char **argv = xmalloc(sizeof(*argv) * (size_t)n);
    size_t *lens = xmalloc(sizeof(*lens) * (size_t)n);
    char num[STR_LL_MAX];
    for (int i = 0; i < c->argc; i++) {
        argv[i] = c->argv[i];
        lens[i] = c->argvlen[i];
    }
    lens[2] = (size_t)ll_to_str(num, sizeof(num), when);
    argv[2] = num;
    argv[c->argc] = "ABSTTL";
    lens[c->argc] = 6;
    exec_propagate(c, n, argv, lens);
    xfree(argv);
    xfree(lens);
}

void cmd_restore(struct client *c) {
    struct restore_opts o;
    if (!restore_parse(c, &o)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    bool exists = cmd_lookup_write(c, &k, &ref) != NULL;
    if (exists && !o.replace) {
        reply_error(c, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!cmd_ll(c, 2, &o.ttl)) return;
    if (o.ttl < 0) {
        reply_error(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    long long when = -1;
    if (o.ttl) when = o.absttl ? o.ttl : o.ttl + store_now();
    const char *err;
    struct entry *e = persist_restore_entry(k.ptr, k.len, (const unsigned char *)c->argv[3], c->argvlen[3],
                                            when > 0 ? when : -1, &err);
    if (e == NULL) {
        reply_error(c, err);
        return;
    }
    if (when > 0 && when <= store_now() && !store_loading()) {
        /* Already expired: nothing is created; an old key is deleted. */
        entry_free(e);
        if (exists) {
            cmd_delete(c, &ref);
            const char *argv[2] = {"DEL", k.ptr};
            size_t lens[2] = {3, k.len};
            exec_propagate(c, 2, argv, lens);
            exec_dirty(c, 1);
        }
        reply_ok(c);
        return;
    }
    if (exists)
        store_replace(&ref, e);
    else
        store_add(c->db, &k, e, NULL);
    store_set_access(e, o.idle, (int)o.freq);
    if (o.ttl && !o.absttl) propagate_abs(c, when);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_GENERIC, "restore", &k);
    exec_dirty(c, 1);
    reply_ok(c);
}

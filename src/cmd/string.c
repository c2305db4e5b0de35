/*
 * cmd/string.c - string commands.
 */
#include "cmd/cmd.h"
#include "base/str.h"
#include "base/time.h"

#include <limits.h>

/* ---- GET ------------------------------------------------------------------- */

/* Reply with the value of k; false (error sent) on a non-string. */
static bool get_generic(struct client *c, const struct store_key *k) {
    struct entry *e = cmd_lookup_read(c, k, NULL);
    if (e == NULL) {
        reply_null(c);
        return true;
    }
    if (entry_type(e) != TYPE_STRING) {
        reply_error(c, RERR_WRONGTYPE);
        return false;
    }
    reply_entry_str(c, e);
    return true;
}

void cmd_get(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    get_generic(c, &k);
}

/* ---- SET ------------------------------------------------------------------- */

#define SET_NX (1 << 0)
#define SET_XX (1 << 1)
#define SET_GET (1 << 2)
#define SET_KEEPTTL (1 << 3)
#define SET_EX (1 << 4)
#define SET_PX (1 << 5)
#define SET_EXAT (1 << 6)
#define SET_PXAT (1 << 7)
#define SET_EXPIRE_ANY (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* Parse SET's options from argv[3]; returns false after replying. */
static bool parse_set_options(struct client *c, int *flags, int *expire_at) {
    *flags = 0;
    *expire_at = 0;
    for (int j = 3; j < c->argc; j++) {
        bool has_next = j + 1 < c->argc;
        if (cmd_arg_is(c, j, "NX") && !(*flags & SET_XX)) {
            *flags |= SET_NX;
        } else if (cmd_arg_is(c, j, "XX") && !(*flags & SET_NX)) {
            *flags |= SET_XX;
        } else if (cmd_arg_is(c, j, "GET")) {
            *flags |= SET_GET;
        } else if (cmd_arg_is(c, j, "KEEPTTL") && !(*flags & SET_EXPIRE_ANY)) {
            *flags |= SET_KEEPTTL;
        } else if (has_next && !(*flags & (SET_KEEPTTL | SET_EXPIRE_ANY)) &&
                   (cmd_arg_is(c, j, "EX") || cmd_arg_is(c, j, "PX") || cmd_arg_is(c, j, "EXAT") ||
                    cmd_arg_is(c, j, "PXAT"))) {
            *flags |= cmd_arg_is(c, j, "EX") ? SET_EX
                      : cmd_arg_is(c, j, "PX") ? SET_PX
                      : cmd_arg_is(c, j, "EXAT") ? SET_EXAT
                                                 : SET_PXAT;
            *expire_at = ++j;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Redis's expire validation for SET/GETEX/SETEX: the absolute time in ms. */
static bool expire_ms(struct client *c, int i, int flags, long long *out) {
    long long v;
    if (!cmd_ll(c, i, &v)) return false;
    bool seconds = flags & (SET_EX | SET_EXAT);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
        return false;
    }
    if (seconds) v *= 1000;
    if (flags & (SET_EX | SET_PX)) {
        int64_t now = time_ms();
        if (v > LLONG_MAX - now) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
            return false;
        }
        v += now;
    }
    *out = v;
    return true;
}

void cmd_set(struct client *c) {
    int flags, expire_arg;
    if (!parse_set_options(c, &flags, &expire_arg)) return;
    long long when = -1;
    if (expire_arg && !expire_ms(c, expire_arg, flags, &when)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    if ((flags & SET_GET) && !get_generic(c, &k)) return;
    struct store_ref ref;
    struct entry *old = cmd_lookup_write(c, &k, &ref);
    if ((flags & SET_NX && old) || (flags & SET_XX && !old)) {
        if (!(flags & SET_GET)) reply_null(c);
        return;
    }
    int64_t keep = (old && (flags & SET_KEEPTTL)) ? entry_expire(old) : -1;
    struct entry *e = entry_new_str(k.ptr, k.len, c->argv[2], c->argvlen[2], when >= 0 ? when : keep, false);
    if (old)
        store_replace(&ref, e);
    else
        store_add(c->db, &k, e, NULL);
    exec_dirty(c, 1);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "set", &k);
    if (when >= 0) {
        /* Propagate as SET key value PXAT <absolute ms>. */
        char ms[24];
        int n = ll_to_str(ms, sizeof(ms), when);
        const char *argv[5] = {"SET", k.ptr, c->argv[2], "PXAT", ms};
        size_t lens[5] = {3, k.len, c->argvlen[2], 4, (size_t)n};
        exec_propagate(c, 5, argv, lens);
        cmd_notify(c, NOTIFY_GENERIC, "expire", &k);
    } else if (flags & SET_GET) {
        /* Propagate without GET. */
        const char *argv[8];
        size_t lens[8];
        int n = 0;
        for (int j = 0; j < c->argc && n < 8; j++) {
            if (j >= 3 && cmd_arg_is(c, j, "GET")) continue;
            argv[n] = c->argv[j];
            lens[n++] = c->argvlen[j];
        }
        exec_propagate(c, n, argv, lens);
    }
    if (!(flags & SET_GET)) reply_ok(c);
}

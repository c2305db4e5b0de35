/*
 * cmd/stream_cg.c - the STREAM family, consumer-group side: XGROUP (CREATE
 * CREATECONSUMER DELCONSUMER DESTROY SETID HELP), XACK, XPENDING, XCLAIM,
 * XAUTOCLAIM and XINFO (STREAM [FULL], GROUPS, CONSUMERS, HELP), with Redis
 * 7.0's replies, errors and order of checks.
 *
 * Effects: XCLAIM and XAUTOCLAIM never propagate themselves but one XCLAIM
 *   ... FORCE JUSTID LASTID per NACK they change (a claim on an entry that
 *   is gone drops the NACK on the replica too), and XGROUP SETID when only
 *   LASTID moved the group; the other commands as received when they
 *   changed something.
 *
 * Keyspace events: xgroup-create, xgroup-createconsumer (also when a read
 *   or a claim creates a consumer), xgroup-delconsumer, xgroup-destroy,
 *   xgroup-setid; "new" when XGROUP CREATE ... MKSTREAM makes the key.
 *
 * Threading: every command runs [stripe-locked] on its key's stripe.
 */
#include "cmd/stream_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/str.h"
#include "exec/block.h"
#include "repl/log.h"

#include <limits.h>

#define XERR_NOGROUP_FMT "NOGROUP No such key '%.*s' or consumer group '%.*s'"

/* The length of argv[i] up to a NUL, as Redis's %s shows it. */
static int shown(const struct client *c, int i) { return (int)strnlen(c->argv[i], c->argvlen[i]); }

/* The group named by argv[gi] in the stream at argv[ki] (read lookup);
 * NULL after an error reply: WRONGTYPE or the NOGROUP message. */
static struct stream_cg *group_or_reply(struct client *c, int ki, int gi, struct stream **sp) {
    bool wrong;
    struct stream *s = xstream_lookup_read(c, ki, &wrong);
    if (wrong) return NULL;
    struct stream_cg *cg = s ? stream_cg_find(s, c->argv[gi], c->argvlen[gi]) : NULL;
    if (cg == NULL) {
        reply_errorf(c, XERR_NOGROUP_FMT, shown(c, ki), c->argv[ki], shown(c, gi), c->argv[gi]);
        return NULL;
    }
    *sp = s;
    return cg;
}

/* ---- XGROUP ---------------------------------------------------------------------------------- */

enum xgroup_sub { XG_CREATE, XG_SETID, XG_DESTROY, XG_CREATECONSUMER, XG_DELCONSUMER };

struct xgroup_ctx {
    enum xgroup_sub sub;
    struct store_key k;
    struct stream *s;
    struct stream_cg *cg;
    bool mkstream;
    long long entries_read;
};

/* The checks xgroupCommand makes before its subcommands, in its order:
 * options, the key's type, the key's existence, the group's. */
static bool xgroup_prepare(struct client *c, enum xgroup_sub sub, struct xgroup_ctx *x) {
    x->sub = sub;
    x->mkstream = false;
    x->entries_read = STREAM_ENTRIES_READ_INVALID;
    x->cg = NULL;
    for (int i = 5; i < c->argc;) {
        if (sub == XG_CREATE && cmd_arg_is(c, i, "MKSTREAM")) {
            x->mkstream = true;
            i++;
        } else if ((sub == XG_CREATE || sub == XG_SETID) && cmd_arg_is(c, i, "ENTRIESREAD") && i + 1 < c->argc) {
            if (!cmd_ll(c, i + 1, &x->entries_read)) return false;
            if (x->entries_read < 0 && x->entries_read != STREAM_ENTRIES_READ_INVALID) {
                reply_error(c, "ERR value for ENTRIESREAD must be positive or -1");
                return false;
            }
            i += 2;
        } else {
            cmd_reply_subcommand_error(c);
            return false;
        }
    }
    cmd_key(c, 2, &x->k);
    struct entry *e = cmd_lookup_write(c, &x->k, NULL);
    if (e && entry_type(e) != TYPE_STREAM) {
        reply_error(c, RERR_WRONGTYPE);
        return false;
    }
    x->s = e ? entry_obj(e) : NULL;
    if (x->mkstream) return true;
    if (x->s == NULL) {
        reply_error(c, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
                       "to use the MKSTREAM option to create an empty stream automatically.");
        return false;
    }
    x->cg = stream_cg_find(x->s, c->argv[3], c->argvlen[3]);
    if (x->cg == NULL && (sub == XG_SETID || sub == XG_CREATECONSUMER || sub == XG_DELCONSUMER)) {
        reply_errorf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", shown(c, 3), c->argv[3],
                     shown(c, 2), c->argv[2]);
        return false;
    }
    return true;
}

void cmd_xgroup_create(struct client *c) {
    struct xgroup_ctx x;
    if (!xgroup_prepare(c, XG_CREATE, &x)) return;
    if (c->argc > 8) {
        cmd_reply_subcommand_error(c);
        return;
    }
    struct stream_id id;
    if (c->argvlen[4] == 1 && c->argv[4][0] == '$')
        id = x.s ? x.s->last_id : (struct stream_id){0, 0};
    else if (!xparse_id(c, 4, 0, true, NULL, &id))
        return;
    if (x.s == NULL) {
        x.s = stream_new();
        store_add(c->db, &x.k, entry_new_obj(x.k.ptr, x.k.len, TYPE_STREAM, ENC_OBJ, x.s, -1), NULL);
        cmd_notify(c, NOTIFY_NEW, "new", &x.k);
        cmd_modified(c, &x.k);
    }
    if (stream_cg_create(x.s, c->argv[3], c->argvlen[3], &id, x.entries_read) == NULL) {
        reply_error(c, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    reply_ok(c);
    exec_dirty(c, 1);
    cmd_notify(c, NOTIFY_STREAM, "xgroup-create", &x.k);
}

void cmd_xgroup_setid(struct client *c) {
    struct xgroup_ctx x;
    if (!xgroup_prepare(c, XG_SETID, &x)) return;
    if (c->argc != 5 && c->argc != 7) {
        cmd_reply_subcommand_error(c);
        return;
    }
    struct stream_id id;
    if (c->argvlen[4] == 1 && c->argv[4][0] == '$')
        id = x.s->last_id;
    else if (!xparse_id(c, 4, 0, false, NULL, &id)) /* "-" and "+" allowed */
        return;
    x.cg->last_id = id;
    x.cg->entries_read = x.entries_read;
    reply_ok(c);
    exec_dirty(c, 1);
    cmd_notify(c, NOTIFY_STREAM, "xgroup-setid", &x.k);
}

void cmd_xgroup_destroy(struct client *c) {
    struct xgroup_ctx x;
    if (!xgroup_prepare(c, XG_DESTROY, &x)) return;
    if (x.cg == NULL) {
        reply_int(c, 0);
        return;
    }
    stream_cg_destroy(x.s, c->argv[3], c->argvlen[3]);
    reply_int(c, 1);
    exec_dirty(c, 1);
    cmd_notify(c, NOTIFY_STREAM, "xgroup-destroy", &x.k);
    block_key_signal(c->db, &x.k); /* blocked XREADGROUPs get -NOGROUP */
}

void cmd_xgroup_createconsumer(struct client *c) {
    struct xgroup_ctx x;
    if (!xgroup_prepare(c, XG_CREATECONSUMER, &x)) return;
    bool created = stream_consumer_create(x.cg, c->argv[4], c->argvlen[4], store_now()) != NULL;
    if (created) {
        cmd_notify(c, NOTIFY_STREAM, "xgroup-createconsumer", &x.k);
        exec_dirty(c, 1);
    }
    reply_int(c, created);
}

void cmd_xgroup_delconsumer(struct client *c) {
    struct xgroup_ctx x;
    if (!xgroup_prepare(c, XG_DELCONSUMER, &x)) return;
    struct stream_consumer *consumer = stream_consumer_find(x.cg, c->argv[4], c->argvlen[4]);
    long long pending = 0;
    if (consumer) {
        pending = (long long)stream_consumer_delete(x.cg, consumer);
        exec_dirty(c, 1);
        cmd_notify(c, NOTIFY_STREAM, "xgroup-delconsumer", &x.k);
    }
    reply_int(c, pending);
}

void cmd_xgroup_help(struct client *c) {
    static const char *const help[] = {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        NULL,
    };
    cmd_reply_help(c, help);
}

/* ---- XACK XPENDING --------------------------------------------------------------------------- */

void cmd_xack(struct client *c) {
    bool wrong;
    struct stream *s = xstream_lookup_read(c, 1, &wrong);
    if (wrong) return;
    struct stream_cg *cg = s ? stream_cg_find(s, c->argv[2], c->argvlen[2]) : NULL;
    if (cg == NULL) {
        reply_int(c, 0);
        return;
    }
    /* All IDs are checked before any is acknowledged. */
    int n = c->argc - 3;
    struct stream_id stack[8];
    struct stream_id *ids = n <= 8 ? stack : xmalloc((size_t)n * sizeof(*ids));
    long long acked = 0;
    for (int j = 0; j < n; j++)
        if (!xparse_id(c, 3 + j, 0, true, NULL, &ids[j])) goto out;
    for (int j = 0; j < n; j++) acked += stream_pel_remove(cg, &ids[j]);
    exec_dirty(c, acked);
    reply_int(c, acked);
out:
    if (ids != stack) xfree(ids);
}

static void pending_summary(struct client *c, struct stream_cg *cg) {
    reply_array(c, 4);
    reply_int(c, (long long)radix_size(cg->pel));
    if (radix_size(cg->pel) == 0) {
        reply_null(c);
        reply_null(c);
        reply_null_array(c);
        return;
    }
    struct radix_iter ri;
    struct stream_id id;
    radix_iter_init(&ri, cg->pel);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    radix_next(&ri);
    stream_id_decode(ri.key, &id);
    xreply_id(c, &id);
    radix_seek(&ri, RADIX_LAST, NULL, 0);
    radix_next(&ri);
    stream_id_decode(ri.key, &id);
    xreply_id(c, &id);
    radix_iter_release(&ri);
    struct onode *d = reply_defer(c);
    long long n = 0;
    radix_iter_init(&ri, cg->consumers);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_consumer *consumer = ri.value;
        if (radix_size(consumer->pel) == 0) continue;
        reply_array(c, 2);
        reply_bulk(c, consumer->name, consumer->name_len);
        reply_bulk_ll(c, (long long)radix_size(consumer->pel));
        n++;
    }
    radix_iter_release(&ri);
    reply_defer_array(c, d, n);
}

void cmd_xpending(struct client *c) {
    bool summary = c->argc == 3;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    struct stream_id start = {0, 0}, end = {0, 0};
    long long count = 0, minidle = 0;
    int consumer_idx = 0;
    if (c->argc >= 6) {
        int si = 3;
        if (cmd_arg_is(c, 3, "IDLE")) {
            if (!cmd_ll(c, 4, &minidle)) return;
            if (c->argc < 8) {
                reply_error(c, RERR_SYNTAX);
                return;
            }
            si += 2;
        }
        if (!cmd_ll(c, si + 2, &count)) return;
        if (count < 0) count = 0;
        bool sx, ex;
        if (!xparse_interval(c, si, 0, &sx, &start)) return;
        if (sx && !stream_id_incr(&start)) {
            reply_error(c, "ERR invalid start ID for the interval");
            return;
        }
        if (!xparse_interval(c, si + 1, UINT64_MAX, &ex, &end)) return;
        if (ex && !stream_id_decr(&end)) {
            reply_error(c, "ERR invalid end ID for the interval");
            return;
        }
        if (si + 3 < c->argc) consumer_idx = si + 3;
    }
    struct stream *s;
    struct stream_cg *cg = group_or_reply(c, 1, 2, &s);
    if (cg == NULL) return;
    if (summary) {
        pending_summary(c, cg);
        return;
    }
    struct radix *pel = cg->pel;
    if (consumer_idx) {
        struct stream_consumer *consumer = stream_consumer_find(cg, c->argv[consumer_idx], c->argvlen[consumer_idx]);
        if (consumer == NULL) {
            reply_array(c, 0);
            return;
        }
        pel = consumer->pel;
    }
    unsigned char sk[STREAM_ID_BYTES], ek[STREAM_ID_BYTES];
    stream_id_encode(sk, &start);
    stream_id_encode(ek, &end);
    struct radix_iter ri;
    radix_iter_init(&ri, pel);
    radix_seek(&ri, RADIX_GE, sk, sizeof(sk));
    struct onode *d = reply_defer(c);
    long long n = 0;
    int64_t now = store_now();
    while (count && radix_next(&ri) && memcmp(ri.key, ek, sizeof(ek)) <= 0) {
        struct stream_nack *nack = ri.value;
        int64_t idle = now - nack->delivery_time;
        if (minidle && idle < minidle) continue;
        n++;
        count--;
        struct stream_id id;
        stream_id_decode(ri.key, &id);
        reply_array(c, 4);
        xreply_id(c, &id);
        reply_bulk(c, nack->consumer->name, nack->consumer->name_len);
        reply_int(c, idle < 0 ? 0 : idle);
        reply_int(c, (long long)nack->delivery_count);
    }
    radix_iter_release(&ri);
    reply_defer_array(c, d, n);
}

/* ---- XCLAIM XAUTOCLAIM ----------------------------------------------------------------------- */

/* Claim nack (of id) for consumer as XCLAIM/XAUTOCLAIM do and propagate
 * the claim (the caller replies). */
static void claim_one(struct client *c, struct stream_cg *cg, struct stream_nack *nack,
                      struct stream_consumer *consumer, const struct stream_id *id, int64_t delivery,
                      long long retrycount, bool justid, const struct xprop *p, const char *idarg, size_t idlen) {
    stream_pel_assign(nack, id, consumer);
    nack->delivery_time = delivery;
    if (retrycount >= 0)
        nack->delivery_count = (uint64_t)retrycount;
    else if (!justid)
        nack->delivery_count++;
    if (log_enabled()) xpropagate_claim(c, p, cg, idarg, idlen, nack);
    exec_dirty(c, 1);
}

/* A claimed entry in the reply: its ID alone, or the entry. */
static void reply_claimed(struct client *c, struct stream *s, const struct stream_id *id, bool justid) {
    if (justid) {
        xreply_id(c, id);
        return;
    }
    size_t got = xreply_range(c, s, id, id, 1, false, NULL, NULL, XRANGE_RAW, NULL);
    ASSERT(got == 1);
}

/* A NACK whose entry is gone: propagate its removal, then drop it. */
static void drop_gone(struct client *c, struct stream_cg *cg, struct stream_nack *nack, const struct stream_id *id,
                      const struct xprop *p, const char *idarg, size_t idlen) {
    if (log_enabled()) xpropagate_claim(c, p, cg, idarg, idlen, nack);
    exec_dirty(c, 1);
    stream_pel_remove(cg, id);
}

struct xclaim_opts {
    int last_id_arg; /* argv index of the last ID */
    bool force, justid;
    int64_t delivery;     /* -1: now */
    long long retrycount; /* -1: not given */
    struct stream_id lastid;
};

/* The IDs (as many as parse) then the options; false after an error. */
static bool parse_xclaim(struct client *c, struct stream_id *ids, int64_t now, struct xclaim_opts *o) {
    int j = 5;
    for (; j < c->argc; j++)
        if (!stream_id_parse(c->argv[j], c->argvlen[j], 0, true, NULL, &ids[j - 5])) break;
    o->last_id_arg = j - 1;
    o->force = o->justid = false;
    o->delivery = -1;
    o->retrycount = -1;
    o->lastid = (struct stream_id){0, 0};
    for (; j < c->argc; j++) {
        bool more = c->argc - 1 - j > 0;
        long long v;
        if (cmd_arg_is(c, j, "FORCE")) {
            o->force = true;
        } else if (cmd_arg_is(c, j, "JUSTID")) {
            o->justid = true;
        } else if (cmd_arg_is(c, j, "IDLE") && more) {
            if (!cmd_ll_msg(c, ++j, &v, "ERR Invalid IDLE option argument for XCLAIM")) return false;
            o->delivery = now - v;
        } else if (cmd_arg_is(c, j, "TIME") && more) {
            if (!cmd_ll_msg(c, ++j, &v, "ERR Invalid TIME option argument for XCLAIM")) return false;
            o->delivery = v;
        } else if (cmd_arg_is(c, j, "RETRYCOUNT") && more) {
            if (!cmd_ll_msg(c, ++j, &o->retrycount, "ERR Invalid RETRYCOUNT option argument for XCLAIM"))
                return false;
        } else if (cmd_arg_is(c, j, "LASTID") && more) {
            if (!xparse_id(c, ++j, 0, true, NULL, &o->lastid)) return false;
        } else {
            reply_errorf(c, "ERR Unrecognized XCLAIM option '%.*s'", shown(c, j), c->argv[j]);
            return false;
        }
    }
    return true;
}

void cmd_xclaim(struct client *c) {
    struct stream *s;
    struct stream_cg *cg = group_or_reply(c, 1, 2, &s);
    if (cg == NULL) return;
    long long minidle;
    if (!cmd_ll_msg(c, 4, &minidle, "ERR Invalid min-idle-time argument for XCLAIM")) return;
    if (minidle < 0) minidle = 0;
    int64_t now = store_now();
    int n = c->argc - 5;
    struct stream_id stack[8];
    struct stream_id *ids = n <= 8 ? stack : xmalloc((size_t)n * sizeof(*ids));
    struct xclaim_opts o;
    if (!parse_xclaim(c, ids, now, &o)) goto out;
    c->propagated = true; /* its effects only */
    bool propagate_last_id = false;
    if (stream_id_cmp(&o.lastid, &cg->last_id) > 0) {
        cg->last_id = o.lastid;
        propagate_last_id = true;
    }
    /* A bogus time (the client's clock ahead of ours) means now. */
    int64_t delivery = o.delivery == -1 || o.delivery < 0 || o.delivery > now ? now : o.delivery;
    struct xprop p = {c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]};
    struct stream_consumer *consumer = NULL;
    struct onode *d = reply_defer(c);
    long long claimed = 0;
    for (int j = 5; j <= o.last_id_arg; j++) {
        const struct stream_id *id = &ids[j - 5];
        struct stream_nack *nack = stream_pel_find(cg, id);
        if (!stream_entry_exists(s, id)) {
            if (nack) {
                drop_gone(c, cg, nack, id, &p, c->argv[j], c->argvlen[j]);
                propagate_last_id = false; /* the XCLAIM carries LASTID */
            }
            continue;
        }
        if (o.force && nack == NULL) nack = stream_pel_add(cg, id, now);
        if (nack == NULL) continue;
        if (nack->consumer && minidle && now - nack->delivery_time < minidle) continue;
        if (consumer == NULL) consumer = xconsumer_get(c, cg, &p, c->argv[3], c->argvlen[3], false);
        claim_one(c, cg, nack, consumer, id, delivery, o.retrycount, o.justid, &p, c->argv[j], c->argvlen[j]);
        reply_claimed(c, s, id, o.justid);
        claimed++;
        propagate_last_id = false;
    }
    if (propagate_last_id) {
        xpropagate_setid(c, &p, cg);
        exec_dirty(c, 1);
    }
    reply_defer_array(c, d, claimed);
out:
    if (ids != stack) xfree(ids);
}

/* IDs collected by XAUTOCLAIM: claimed ones, then the deleted ones. */
struct idvec {
    struct stream_id *v;
    size_t n, cap;
};

static void idvec_push(struct idvec *iv, const struct stream_id *id) {
    if (iv->n == iv->cap) {
        iv->cap = iv->cap ? iv->cap * 2 : 16;
        iv->v = xrealloc(iv->v, iv->cap * sizeof(*iv->v));
    }
    iv->v[iv->n++] = *id;
}

void cmd_xautoclaim(struct client *c) {
    long long minidle;
    if (!cmd_ll_msg(c, 4, &minidle, "ERR Invalid min-idle-time argument for XAUTOCLAIM")) return;
    if (minidle < 0) minidle = 0;
    struct stream_id start;
    bool sx;
    if (!xparse_interval(c, 5, 0, &sx, &start)) return;
    if (sx && !stream_id_incr(&start)) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    long long count = 100;
    bool justid = false;
    for (int j = 6; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "COUNT") && c->argc - 1 - j > 0) {
            /* Redis bounds COUNT so that count * 16 bytes of scratch fit. */
            if (!cmd_ll_range(c, j + 1, 1, LONG_MAX / 16, &count, "ERR COUNT must be > 0")) return;
            j++;
        } else if (cmd_arg_is(c, j, "JUSTID")) {
            justid = true;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    struct stream *s;
    struct stream_cg *cg = group_or_reply(c, 1, 2, &s);
    if (cg == NULL) return;
    c->propagated = true;
    struct xprop p = {c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]};
    struct stream_consumer *consumer = NULL;
    long long attempts = count * 10;
    int64_t now = store_now();
    struct idvec claimed = {0}, deleted = {0};
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, &start);
    struct radix_iter ri;
    radix_iter_init(&ri, cg->pel);
    radix_seek(&ri, RADIX_GE, key, sizeof(key));
    while (attempts-- && count && radix_next(&ri)) {
        struct stream_nack *nack = ri.value;
        struct stream_id id;
        stream_id_decode(ri.key, &id);
        char idbuf[STREAM_ID_STR_MAX];
        size_t idlen = stream_id_format(idbuf, &id);
        if (!stream_entry_exists(s, &id)) {
            memcpy(key, ri.key, sizeof(key)); /* the seek below rewrites ri.key */
            drop_gone(c, cg, nack, &id, &p, idbuf, idlen);
            idvec_push(&deleted, &id);
            radix_seek(&ri, RADIX_GE, key, sizeof(key));
            count--; /* COUNT bounds the reply's size */
            continue;
        }
        if (minidle && now - nack->delivery_time < minidle) continue;
        if (consumer == NULL) consumer = xconsumer_get(c, cg, &p, c->argv[3], c->argvlen[3], false);
        claim_one(c, cg, nack, consumer, &id, now, -1, justid, &p, idbuf, idlen);
        idvec_push(&claimed, &id);
        count--;
    }
    /* The next PEL entry is where the next call starts (0-0: done). */
    struct stream_id next = {0, 0};
    if (radix_next(&ri)) stream_id_decode(ri.key, &next);
    radix_iter_release(&ri);
    reply_array(c, 3);
    xreply_id(c, &next);
    reply_array(c, (long long)claimed.n);
    for (size_t i = 0; i < claimed.n; i++) reply_claimed(c, s, &claimed.v[i], justid);
    reply_array(c, (long long)deleted.n);
    for (size_t i = 0; i < deleted.n; i++) xreply_id(c, &deleted.v[i]);
    xfree(claimed.v);
    xfree(deleted.v);
}

/* ---- XINFO ----------------------------------------------------------------------------------- */

void cmd_xinfo_help(struct client *c) {
    static const char *const help[] = {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        NULL,
    };
    cmd_reply_help(c, help);
}

/* The stream at argv[2] or an error ("ERR no such key", WRONGTYPE). */
static struct stream *xinfo_stream(struct client *c) {
    bool wrong;
    struct stream *s = xstream_lookup_read(c, 2, &wrong);
    if (s == NULL && !wrong) reply_error(c, RERR_NO_SUCH_KEY);
    return s;
}

void cmd_xinfo_consumers(struct client *c) {
    struct stream *s = xinfo_stream(c);
    if (s == NULL) return;
    struct stream_cg *cg = stream_cg_find(s, c->argv[3], c->argvlen[3]);
    if (cg == NULL) {
        reply_errorf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", shown(c, 3), c->argv[3],
                     shown(c, 2), c->argv[2]);
        return;
    }
    reply_array(c, (long long)radix_size(cg->consumers));
    int64_t now = store_now();
    struct radix_iter ri;
    radix_iter_init(&ri, cg->consumers);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_consumer *consumer = ri.value;
        int64_t idle = now - consumer->seen_time;
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, consumer->name, consumer->name_len);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)radix_size(consumer->pel));
        reply_bulk_cstr(c, "idle");
        reply_int(c, idle < 0 ? 0 : idle);
    }
    radix_iter_release(&ri);
}

static void reply_entries_read(struct client *c, const struct stream_cg *cg) {
    if (cg->entries_read != STREAM_ENTRIES_READ_INVALID)
        reply_int(c, cg->entries_read);
    else
        reply_null(c);
}

static void reply_lag(struct client *c, const struct stream *s, const struct stream_cg *cg) {
    long long lag;
    if (stream_cg_lag(s, cg, &lag))
        reply_int(c, lag);
    else
        reply_null(c);
}

void cmd_xinfo_groups(struct client *c) {
    struct stream *s = xinfo_stream(c);
    if (s == NULL) return;
    reply_array(c, (long long)stream_cg_count(s));
    if (s->cgroups == NULL) return;
    struct radix_iter ri;
    radix_iter_init(&ri, s->cgroups);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_cg *cg = ri.value;
        reply_map(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, (const char *)ri.key, ri.key_len);
        reply_bulk_cstr(c, "consumers");
        reply_int(c, (long long)radix_size(cg->consumers));
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)radix_size(cg->pel));
        reply_bulk_cstr(c, "last-delivered-id");
        xreply_id(c, &cg->last_id);
        reply_bulk_cstr(c, "entries-read");
        reply_entries_read(c, cg);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, cg);
    }
    radix_iter_release(&ri);
}

/* XINFO STREAM FULL: a PEL as [id, (consumer,) delivery time, count]. */
static void reply_pel(struct client *c, struct radix *pel, long long count, bool with_consumer) {
    struct onode *d = reply_defer(c);
    long long n = 0;
    struct radix_iter ri;
    radix_iter_init(&ri, pel);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while ((!count || n < count) && radix_next(&ri)) {
        struct stream_nack *nack = ri.value;
        struct stream_id id;
        stream_id_decode(ri.key, &id);
        reply_array(c, with_consumer ? 4 : 3);
        xreply_id(c, &id);
        if (with_consumer) reply_bulk(c, nack->consumer->name, nack->consumer->name_len);
        reply_int(c, nack->delivery_time);
        reply_int(c, (long long)nack->delivery_count);
        n++;
    }
    radix_iter_release(&ri);
    reply_defer_array(c, d, n);
}

static void reply_full_groups(struct client *c, struct stream *s, long long count) {
    reply_array(c, (long long)stream_cg_count(s));
    if (s->cgroups == NULL) return;
    struct radix_iter ri, ci;
    radix_iter_init(&ri, s->cgroups);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_cg *cg = ri.value;
        reply_map(c, 7);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, (const char *)ri.key, ri.key_len);
        reply_bulk_cstr(c, "last-delivered-id");
        xreply_id(c, &cg->last_id);
        reply_bulk_cstr(c, "entries-read");
        reply_entries_read(c, cg);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, cg);
        reply_bulk_cstr(c, "pel-count");
        reply_int(c, (long long)radix_size(cg->pel));
        reply_bulk_cstr(c, "pending");
        reply_pel(c, cg->pel, count, true);
        reply_bulk_cstr(c, "consumers");
        reply_array(c, (long long)radix_size(cg->consumers));
        radix_iter_init(&ci, cg->consumers);
        radix_seek(&ci, RADIX_FIRST, NULL, 0);
        while (radix_next(&ci)) {
            struct stream_consumer *consumer = ci.value;
            reply_map(c, 4);
            reply_bulk_cstr(c, "name");
            reply_bulk(c, consumer->name, consumer->name_len);
            reply_bulk_cstr(c, "seen-time");
            reply_int(c, consumer->seen_time);
            reply_bulk_cstr(c, "pel-count");
            reply_int(c, (long long)radix_size(consumer->pel));
            reply_bulk_cstr(c, "pending");
            reply_pel(c, consumer->pel, count, false);
        }
        radix_iter_release(&ci);
    }
    radix_iter_release(&ri);
}

void cmd_xinfo_stream(struct client *c) {
    bool full = false;
    long long count = 10; /* FULL's default: keep the reply bounded */
    int optc = c->argc - 3;
    if (optc != 0) {
        if ((optc != 1 && optc != 3) || !cmd_arg_is(c, 3, "FULL") || (optc == 3 && !cmd_arg_is(c, 4, "COUNT"))) {
            cmd_reply_subcommand_error(c);
            return;
        }
        if (optc == 3) {
            if (!cmd_ll(c, 5, &count)) return;
            if (count < 0) count = 10;
        }
        full = true;
    }
    struct stream *s = xinfo_stream(c);
    if (s == NULL) return;
    reply_map(c, full ? 9 : 10);
    reply_bulk_cstr(c, "length");
    reply_int(c, (long long)s->length);
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_int(c, (long long)radix_size(s->rax));
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_int(c, (long long)radix_nodes(s->rax));
    reply_bulk_cstr(c, "last-generated-id");
    xreply_id(c, &s->last_id);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    xreply_id(c, &s->max_deleted_id);
    reply_bulk_cstr(c, "entries-added");
    reply_int(c, (long long)s->entries_added);
    reply_bulk_cstr(c, "recorded-first-entry-id");
    xreply_id(c, &s->first_id);
    if (full) {
        reply_bulk_cstr(c, "entries");
        xreply_range(c, s, NULL, NULL, (size_t)count, false, NULL, NULL, 0, NULL);
        reply_bulk_cstr(c, "groups");
        reply_full_groups(c, s, count);
        return;
    }
    reply_bulk_cstr(c, "groups");
    reply_int(c, (long long)stream_cg_count(s));
    reply_bulk_cstr(c, "first-entry");
    if (xreply_range(c, s, NULL, NULL, 1, false, NULL, NULL, XRANGE_RAW, NULL) == 0) reply_null(c);
    reply_bulk_cstr(c, "last-entry");
    if (xreply_range(c, s, NULL, NULL, 1, true, NULL, NULL, XRANGE_RAW, NULL) == 0) reply_null(c);
}

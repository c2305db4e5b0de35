/*
 * cmd/stream.c - the STREAM family, entries side: XADD XRANGE XREVRANGE
 * XLEN XDEL XTRIM XSETID XREAD XREADGROUP (with BLOCK), with Redis 7.0's
 * replies, errors and order of checks; the stream type's registration
 * (type ops, stream-node-max-bytes / -max-entries); the helpers shared
 * with cmd/stream_cg.c (stream_int.h).
 *
 * Values: a stream key's entry holds a `struct stream *` (types/stream.h)
 *   that stays at its address; an empty stream is a valid value (XADD
 *   MAXLEN 0, XGROUP CREATE MKSTREAM), as in Redis.
 *
 * Effects (what replicas and the AOF get, as Redis 7.0):
 *   XADD          as received, with the ID generated for "*" or "ms-*" and,
 *                 after "~" trimming, "MAXLEN = <length>" / "MINID = <first
 *                 ID>" so that replaying trims exactly the same entries;
 *   XTRIM         the same rewrite of "~";
 *   XREADGROUP    never itself: each entry delivered becomes an XCLAIM ...
 *                 FORCE JUSTID LASTID, NOACK reads become XGROUP SETID (and
 *                 XGROUP CREATECONSUMER for a new consumer), a MULTI/EXEC
 *                 block when there are several;
 *   XREAD         nothing; the rest as received when they changed something.
 *
 * Blocking (exec/block.h): XREAD/XREADGROUP BLOCK register the keys with
 *   block_for_keys; a waiter is answered when its ready() says so: XREAD
 *   when a key's last ID passes the one it waits after, XREADGROUP when the
 *   group's last delivered ID is behind the stream's, or at once with an
 *   error when the stream or the group went away. XADD and XGROUP DESTROY
 *   signal their key (block_key_signal); the store signals streams that are
 *   deleted or overwritten. A served XREADGROUP propagates like a direct one.
 *
 * Threading: every command runs [stripe-locked] on its keys' stripes (XREAD
 *   and XREADGROUP find theirs with xread_getkeys, which parses like the
 *   command does, so a group named "STREAMS" is no key).
 */
#include "cmd/stream_int.h"
#include "cmd/stream.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"
#include "config/config.h"
#include "exec/block.h"
#include "repl/log.h"

#include <limits.h>
#include <stdio.h>

/* ---- registration ---------------------------------------------------------------------------- */

static const struct type_ops stream_ops = {
    "stream", stream_free, stream_dup, stream_mem, stream_enc_name, stream_digest,
};

static _Atomic long long opt_node_bytes = STREAM_DEFAULT_NODE_MAX_BYTES;
static _Atomic long long opt_node_entries = STREAM_DEFAULT_NODE_MAX_ENTRIES;

static int apply_node_bytes(long long v, char *err) {
    UNUSED(err);
    atomic_store(&opt_node_bytes, v);
    stream_set_node_limits(v, atomic_load(&opt_node_entries));
    return 0;
}
static int apply_node_entries(long long v, char *err) {
    UNUSED(err);
    atomic_store(&opt_node_entries, v);
    stream_set_node_limits(atomic_load(&opt_node_bytes), v);
    return 0;
}

static struct config_option options[] = {
    {"stream-node-max-bytes", NULL, CFG_MEMORY, 0, "4096", 0, LONG_MAX, NULL, apply_node_bytes, NULL, NULL,
     NULL, 0, NULL},
    {"stream-node-max-entries", NULL, CFG_INT, 0, "100", 0, LLONG_MAX, NULL, apply_node_entries, NULL, NULL,
     NULL, 0, NULL},
    CFG_END,
};

static int xread_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max);

void cmd_stream_setup(void) {
    entry_register_type(TYPE_STREAM, &stream_ops);
    config_register(options);
    exec_command_set_getkeys("xread", xread_getkeys);
    exec_command_set_getkeys("xreadgroup", xread_getkeys);
}

/* ---- shared helpers -------------------------------------------------------------------------- */

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_STREAM) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

struct stream *xstream_lookup_read(struct client *c, int i, bool *wrong) {
    struct store_key k;
    cmd_key(c, i, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    *wrong = e && wrongtype(c, e);
    return e && !*wrong ? entry_obj(e) : NULL;
}

/* The stream at argv[i] for writing: *e NULL when absent. */
static struct stream *lookup_write(struct client *c, int i, struct store_key *k, struct entry **e, bool *wrong) {
    cmd_key(c, i, k);
    *e = cmd_lookup_write(c, k, NULL);
    *wrong = *e && wrongtype(c, *e);
    return *e && !*wrong ? entry_obj(*e) : NULL;
}

bool xparse_id(struct client *c, int i, uint64_t missing_seq, bool strict, bool *seq_given,
               struct stream_id *out) {
    if (stream_id_parse(c->argv[i], c->argvlen[i], missing_seq, strict, seq_given, out)) return true;
    reply_error(c, XERR_INVALID_ID);
    return false;
}

bool xparse_interval(struct client *c, int i, uint64_t missing_seq, bool *exclusive, struct stream_id *out) {
    const char *p = c->argv[i];
    size_t len = c->argvlen[i];
    *exclusive = len > 1 && p[0] == '(';
    bool ok = *exclusive ? stream_id_parse(p + 1, len - 1, missing_seq, true, NULL, out)
                         : stream_id_parse(p, len, missing_seq, false, NULL, out);
    if (!ok) reply_error(c, XERR_INVALID_ID);
    return ok;
}

void xreply_id(struct client *c, const struct stream_id *id) {
    char buf[STREAM_ID_STR_MAX];
    reply_bulk(c, buf, stream_id_format(buf, id));
}

static void reply_entry(struct client *c, struct stream_iter *it, const struct stream_id *id, uint64_t n) {
    reply_array(c, 2);
    xreply_id(c, id);
    reply_array(c, (long long)(2 * n));
    while (n--) {
        const unsigned char *f, *v;
        size_t flen, vlen;
        stream_iter_pair(it, &f, &flen, &v, &vlen);
        reply_bulk(c, (const char *)f, flen);
        reply_bulk(c, (const char *)v, vlen);
    }
}

static void nack_delivered(struct client *c, struct stream_cg *cg, struct stream_consumer *consumer,
                           const struct stream_id *id, const struct xprop *p) {
    struct stream_nack *n = stream_pel_deliver(cg, consumer, id, store_now());
    if (p && log_enabled()) {
        char buf[STREAM_ID_STR_MAX];
        xpropagate_claim(c, p, cg, buf, stream_id_format(buf, id), n);
    }
}

/* The consumer's own pending entries from start on (XREADGROUP with an
 * ID): each as stored, or [id, nil] when the entry is gone meanwhile. */
static size_t reply_history(struct client *c, struct stream *s, const struct stream_id *start, size_t count,
                            struct stream_consumer *consumer) {
    struct onode *d = reply_defer(c);
    size_t n = 0;
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, start);
    struct radix_iter ri;
    radix_iter_init(&ri, consumer->pel);
    radix_seek(&ri, RADIX_GE, key, sizeof(key));
    int64_t now = store_now();
    while ((count == 0 || n < count) && radix_next(&ri)) {
        struct stream_id id;
        stream_id_decode(ri.key, &id);
        if (xreply_range(c, s, &id, &id, 1, false, NULL, NULL, XRANGE_RAW, NULL) == 0) {
            reply_array(c, 2);
            xreply_id(c, &id);
            reply_null_array(c);
        } else {
            struct stream_nack *nack = ri.value;
            nack->delivery_time = now;
            nack->delivery_count++;
        }
        n++;
    }
    radix_iter_release(&ri);
    reply_defer_array(c, d, (long long)n);
    return n;
}

size_t xreply_range(struct client *c, struct stream *s, const struct stream_id *start,
                    const struct stream_id *end, size_t count, bool rev, struct stream_cg *cg,
                    struct stream_consumer *consumer, unsigned flags, const struct xprop *p) {
    if (cg && (flags & XRANGE_HISTORY)) return reply_history(c, s, start, count, consumer);
    bool noack = flags & XRANGE_NOACK, moved = false;
    struct onode *d = (flags & XRANGE_RAW) ? NULL : reply_defer(c);
    struct stream_iter it;
    struct stream_id id;
    uint64_t npairs;
    size_t n = 0;
    stream_iter_start(&it, s, start, end, rev);
    while (stream_iter_next(&it, &id, &npairs)) {
        if (cg && stream_id_cmp(&id, &cg->last_id) > 0) {
            /* The group's read counter follows its last ID while it can
             * be known (Redis 7.0's entries-read). */
            if (cg->entries_read != STREAM_ENTRIES_READ_INVALID && !stream_range_has_tombstones(s, &id, NULL))
                cg->entries_read++;
            else if (s->entries_added)
                cg->entries_read = stream_estimate_distance(s, &id);
            cg->last_id = id;
            moved = true;
        }
        reply_entry(c, &it, &id, npairs);
        if (cg && !noack) nack_delivered(c, cg, consumer, &id, p);
        n++;
        if (count && n == count) break;
    }
    stream_iter_stop(&it);
    /* Under NOACK no XCLAIM carries the group's new last ID. */
    if (p && noack && moved) xpropagate_setid(c, p, cg);
    if (d) reply_defer_array(c, d, (long long)n);
    return n;
}

struct stream_consumer *xconsumer_get(struct client *c, struct stream_cg *cg, const struct xprop *p,
                                      const char *name, size_t len, bool propagate) {
    int64_t now = store_now();
    struct stream_consumer *consumer = stream_consumer_find(cg, name, len);
    if (consumer) {
        consumer->seen_time = now;
        return consumer;
    }
    consumer = stream_consumer_create(cg, name, len, now);
    struct store_key k = {.ptr = p->key, .len = p->klen};
    pubsub_notify(NOTIFY_STREAM, "xgroup-createconsumer", c->db, k.ptr, k.len);
    exec_dirty(c, 1);
    if (propagate) {
        const char *argv[] = {"XGROUP", "CREATECONSUMER", p->key, p->group, name};
        size_t lens[] = {6, 14, p->klen, p->glen, len};
        exec_propagate(c, 5, argv, lens);
    }
    return consumer;
}

void xpropagate_claim(struct client *c, const struct xprop *p, const struct stream_cg *cg,
                      const char *idarg, size_t idlen, const struct stream_nack *n) {
    char t[24], r[24], last[STREAM_ID_STR_MAX];
    size_t tl = (size_t)ll_to_str(t, sizeof(t), n->delivery_time);
    size_t rl = (size_t)ull_to_str(r, sizeof(r), n->delivery_count);
    size_t ll = stream_id_format(last, &cg->last_id);
    const char *argv[] = {"XCLAIM", p->key, p->group, n->consumer->name, "0", idarg, "TIME", t,
                          "RETRYCOUNT", r, "FORCE", "JUSTID", "LASTID", last};
    size_t lens[] = {6, p->klen, p->glen, n->consumer->name_len, 1, idlen, 4, tl, 10, rl, 5, 6, 6, ll};
    exec_propagate(c, 14, argv, lens);
}

void xpropagate_setid(struct client *c, const struct xprop *p, const struct stream_cg *cg) {
    char last[STREAM_ID_STR_MAX], er[24];
    size_t ll = stream_id_format(last, &cg->last_id);
    size_t el = (size_t)ll_to_str(er, sizeof(er), cg->entries_read);
    const char *argv[] = {"XGROUP", "SETID", p->key, p->group, last, "ENTRIESREAD", er};
    size_t lens[] = {6, 5, p->klen, p->glen, ll, 11, el};
    exec_propagate(c, 7, argv, lens);
}

/* ---- XADD XTRIM ------------------------------------------------------------------------------ */

struct add_args {
    struct stream_id id;
    bool id_given, seq_given, no_mkstream;
    struct stream_trim trim;
    int trim_idx; /* argv index of the MAXLEN count / MINID id */
};

static bool trim_strategy(struct client *c, struct add_args *a, int *i, bool minid) {
    if (a->trim.strategy != STREAM_TRIM_NONE) {
        reply_error(c, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
        return false;
    }
    int moreargs = c->argc - 1 - *i;
    a->trim.approx = false;
    if (moreargs >= 2 && c->argvlen[*i + 1] == 1 && (c->argv[*i + 1][0] == '~' || c->argv[*i + 1][0] == '=')) {
        a->trim.approx = c->argv[*i + 1][0] == '~';
        (*i)++;
    }
    if (minid) {
        if (!xparse_id(c, *i + 1, 0, true, NULL, &a->trim.minid)) return false;
    } else {
        if (!cmd_ll(c, *i + 1, &a->trim.maxlen)) return false;
        if (a->trim.maxlen < 0) {
            reply_error(c, "ERR The MAXLEN argument must be >= 0.");
            return false;
        }
    }
    (*i)++;
    a->trim.strategy = minid ? STREAM_TRIM_MINID : STREAM_TRIM_MAXLEN;
    a->trim_idx = *i;
    return true;
}

/* Redis's streamParseAddOrTrimArgsOrReply: returns the argv index of the
 * ID (XADD), or -1 after an error reply. */
static int parse_add_trim(struct client *c, struct add_args *a, bool xadd) {
    memset(a, 0, sizeof(*a));
    bool limit_given = false;
    int i = 2;
    for (; i < c->argc; i++) {
        int moreargs = c->argc - 1 - i;
        if (xadd && c->argvlen[i] == 1 && c->argv[i][0] == '*') break; /* the common case */
        if (cmd_arg_is(c, i, "MAXLEN") && moreargs) {
            if (!trim_strategy(c, a, &i, false)) return -1;
        } else if (cmd_arg_is(c, i, "MINID") && moreargs) {
            if (!trim_strategy(c, a, &i, true)) return -1;
        } else if (cmd_arg_is(c, i, "LIMIT") && moreargs) {
            if (!cmd_ll(c, i + 1, &a->trim.limit)) return -1;
            if (a->trim.limit < 0) {
                reply_error(c, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = true;
            i++;
        } else if (xadd && cmd_arg_is(c, i, "NOMKSTREAM")) {
            a->no_mkstream = true;
        } else if (xadd) {
            if (!xparse_id(c, i, 0, true, &a->seq_given, &a->id)) return -1;
            a->id_given = true;
            break;
        } else {
            reply_error(c, RERR_SYNTAX);
            return -1;
        }
    }
    if (a->trim.limit && a->trim.strategy == STREAM_TRIM_NONE) {
        reply_error(c, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && a->trim.strategy == STREAM_TRIM_NONE) {
        reply_error(c, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    /* TODO(replication): a primary's stream obeys its trims whole too.
     * The AOF's does (Redis's mustObeyClient): the logged trim was made
     * exact. */
    if (c->flags & CLIENT_AOF) {
        a->trim.limit = 0;
    } else if (limit_given) {
        if (!a->trim.approx) {
            reply_error(c, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
    } else if (a->trim.approx) {
        /* At most 100 nodes of work unless told otherwise. */
        long long nodes = stream_node_max_entries();
        a->trim.limit = nodes > 0 && nodes <= 10000 ? 100 * nodes : (nodes > 0 ? 1000000 : 10000);
    } else {
        a->trim.limit = 0;
    }
    return i;
}

/* Propagate argv with some arguments replaced (the generated ID, the exact
 * form of a "~" trim). */
struct rewrite {
    int idx[3];
    const char *val[3];
    size_t len[3];
    int n;
};

static void rewrite_add(struct rewrite *rw, int idx, const char *v, size_t len) {
    rw->idx[rw->n] = idx;
    rw->val[rw->n] = v;
    rw->len[rw->n] = len;
    rw->n++;
}

static void propagate_rewritten(struct client *c, const struct rewrite *rw) {
    if (rw->n == 0) return; /* the command as received (the dispatcher stages it) */
    const char *stack_argv[32];
    size_t stack_lens[32];
    const char **argv = c->argc <= 32 ? stack_argv : xmalloc((size_t)c->argc * sizeof(*argv));
    size_t *lens = c->argc <= 32 ? stack_lens : xmalloc((size_t)c->argc * sizeof(*lens));
    memcpy(argv, c->argv, (size_t)c->argc * sizeof(*argv));
    memcpy(lens, c->argvlen, (size_t)c->argc * sizeof(*lens));
    for (int i = 0; i < rw->n; i++) {
        argv[rw->idx[i]] = rw->val[i];
        lens[rw->idx[i]] = rw->len[i];
    }
    exec_propagate(c, c->argc, argv, lens);
    if (argv != stack_argv) xfree(argv);
    if (lens != stack_lens) xfree(lens);
}

/* After a "~" trim: "MAXLEN = <length>" or "MINID = <first ID>", exactly
 * what was kept (buf holds the text). */
static void rewrite_trim(struct rewrite *rw, const struct add_args *a, struct stream *s, char *buf) {
    rewrite_add(rw, a->trim_idx - 1, "=", 1);
    size_t n;
    if (a->trim.strategy == STREAM_TRIM_MAXLEN) {
        n = (size_t)ull_to_str(buf, STREAM_ID_STR_MAX, s->length);
    } else {
        struct stream_id first;
        stream_edge_id(s, true, false, &first);
        n = stream_id_format(buf, &first);
    }
    rewrite_add(rw, a->trim_idx, buf, n);
}

void cmd_xadd(struct client *c) {
    struct add_args a;
    int idpos = parse_add_trim(c, &a, true);
    if (idpos < 0) return;
    int fpos = idpos + 1;
    if (c->argc - fpos < 2 || (c->argc - fpos) % 2 == 1) {
        reply_arity_error(c);
        return;
    }
    if (a.id_given && a.seq_given && stream_id_is_zero(&a.id)) {
        reply_error(c, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    struct store_key k;
    struct entry *e;
    bool wrong;
    struct stream *s = lookup_write(c, 1, &k, &e, &wrong);
    if (wrong) return;
    bool created = false;
    if (e == NULL) {
        if (a.no_mkstream) {
            reply_null(c);
            return;
        }
        s = stream_new();
        created = true;
    } else if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        reply_error(c, "ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    struct stream_id id;
    int rc = stream_append(s, c->argv + fpos, c->argvlen + fpos, (size_t)(c->argc - fpos) / 2, store_now(),
                           a.id_given ? &a.id : NULL, a.seq_given, &id);
    if (rc != STREAM_APPEND_OK) {
        if (created) stream_free(s);
        /* Redis 7.0 answers an exhausted "<ms>-*" sequence with the
         * too-large message (its errno is not EDOM then). */
        reply_error(c, rc == STREAM_APPEND_ID_TOO_SMALL
                           ? "ERR The ID specified in XADD is equal or smaller than the target stream top item"
                           : "ERR Elements are too large to be stored");
        return;
    }
    if (created) {
        store_add(c->db, &k, entry_new_obj(k.ptr, k.len, TYPE_STREAM, ENC_OBJ, s, -1), NULL);
        cmd_notify(c, NOTIFY_NEW, "new", &k);
    }
    char idbuf[STREAM_ID_STR_MAX], trimbuf[STREAM_ID_STR_MAX];
    size_t idlen = stream_id_format(idbuf, &id);
    reply_bulk(c, idbuf, idlen);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STREAM, "xadd", &k);
    exec_dirty(c, 1);
    struct rewrite rw = {.n = 0};
    if (a.trim.strategy != STREAM_TRIM_NONE) {
        if (stream_trim(s, &a.trim)) cmd_notify(c, NOTIFY_STREAM, "xtrim", &k);
        if (a.trim.approx) rewrite_trim(&rw, &a, s, trimbuf);
    }
    if (!a.id_given || !a.seq_given) rewrite_add(&rw, idpos, idbuf, idlen);
    propagate_rewritten(c, &rw);
    block_key_signal(c->db, &k); /* XREAD / XREADGROUP waiters */
}

void cmd_xtrim(struct client *c) {
    struct add_args a;
    if (parse_add_trim(c, &a, false) < 0) return;
    struct store_key k;
    struct entry *e;
    bool wrong;
    struct stream *s = lookup_write(c, 1, &k, &e, &wrong);
    if (wrong) return;
    if (s == NULL) {
        reply_int(c, 0);
        return;
    }
    int64_t deleted = stream_trim(s, &a.trim);
    if (deleted) {
        cmd_notify(c, NOTIFY_STREAM, "xtrim", &k);
        char buf[STREAM_ID_STR_MAX];
        struct rewrite rw = {.n = 0};
        if (a.trim.approx) rewrite_trim(&rw, &a, s, buf);
        propagate_rewritten(c, &rw);
        cmd_modified(c, &k);
        exec_dirty(c, deleted);
    }
    reply_int(c, deleted);
}

/* ---- XRANGE XREVRANGE XLEN XDEL XSETID ------------------------------------------------------- */

static void xrange_generic(struct client *c, bool rev) {
    int si = rev ? 3 : 2, ei = rev ? 2 : 3;
    struct stream_id start, end;
    bool sx, ex;
    if (!xparse_interval(c, si, 0, &sx, &start)) return;
    if (sx && !stream_id_incr(&start)) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    if (!xparse_interval(c, ei, UINT64_MAX, &ex, &end)) return;
    if (ex && !stream_id_decr(&end)) {
        reply_error(c, "ERR invalid end ID for the interval");
        return;
    }
    long long count = -1;
    for (int j = 4; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "COUNT") && j + 1 < c->argc) {
            if (!cmd_ll(c, j + 1, &count)) return;
            if (count < 0) count = 0;
            j++;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    bool wrong;
    struct stream *s = xstream_lookup_read(c, 1, &wrong);
    if (wrong) return;
    if (s == NULL) {
        reply_array(c, 0);
        return;
    }
    if (count == 0) {
        reply_null_array(c);
        return;
    }
    xreply_range(c, s, &start, &end, count < 0 ? 0 : (size_t)count, rev, NULL, NULL, 0, NULL);
}

void cmd_xrange(struct client *c) { xrange_generic(c, false); }
void cmd_xrevrange(struct client *c) { xrange_generic(c, true); }

void cmd_xlen(struct client *c) {
    bool wrong;
    struct stream *s = xstream_lookup_read(c, 1, &wrong);
    if (!wrong) reply_int(c, s ? (long long)s->length : 0);
}

/* Parse argv[from..] as strict IDs (all or nothing); NULL after replying. */
static struct stream_id *parse_ids(struct client *c, int from, struct stream_id *stack, int cap) {
    int n = c->argc - from;
    struct stream_id *ids = n <= cap ? stack : xmalloc((size_t)n * sizeof(*ids));
    for (int j = 0; j < n; j++) {
        if (!xparse_id(c, from + j, 0, true, NULL, &ids[j])) {
            if (ids != stack) xfree(ids);
            return NULL;
        }
    }
    return ids;
}

void cmd_xdel(struct client *c) {
    struct store_key k;
    struct entry *e;
    bool wrong;
    struct stream *s = lookup_write(c, 1, &k, &e, &wrong);
    if (wrong) return;
    if (s == NULL) {
        reply_int(c, 0);
        return;
    }
    struct stream_id stack[8];
    struct stream_id *ids = parse_ids(c, 2, stack, 8);
    if (ids == NULL) return;
    long long deleted = 0;
    for (int j = 0; j < c->argc - 2; j++) deleted += stream_delete(s, &ids[j]);
    if (ids != stack) xfree(ids);
    if (deleted) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_STREAM, "xdel", &k);
        exec_dirty(c, deleted);
    }
    reply_int(c, deleted);
}

void cmd_xsetid(struct client *c) {
    struct stream_id id, max_xdel = {0, 0};
    long long entries_added = -1;
    if (!xparse_id(c, 2, 0, true, NULL, &id)) return;
    for (int i = 3; i < c->argc; i += 2) {
        bool more = c->argc - 1 - i > 0;
        if (cmd_arg_is(c, i, "ENTRIESADDED") && more) {
            if (!cmd_ll(c, i + 1, &entries_added)) return;
            if (entries_added < 0) {
                reply_error(c, "ERR entries_added must be positive");
                return;
            }
        } else if (cmd_arg_is(c, i, "MAXDELETEDID") && more) {
            if (!xparse_id(c, i + 1, 0, true, NULL, &max_xdel)) return;
            if (stream_id_cmp(&id, &max_xdel) < 0) {
                reply_error(c, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    struct store_key k;
    struct entry *e;
    bool wrong;
    struct stream *s = lookup_write(c, 1, &k, &e, &wrong);
    if (wrong) return;
    if (s == NULL) {
        reply_error(c, RERR_NO_SUCH_KEY);
        return;
    }
    if (s->length > 0) {
        struct stream_id maxid;
        stream_edge_id(s, false, true, &maxid);
        if (stream_id_cmp(&id, &maxid) < 0) {
            reply_error(c, "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (entries_added != -1 && s->length > (uint64_t)entries_added) {
            reply_error(c, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            return;
        }
    }
    s->last_id = id;
    if (entries_added != -1) s->entries_added = (uint64_t)entries_added;
    if (!stream_id_is_zero(&max_xdel)) s->max_deleted_id = max_xdel;
    reply_ok(c);
    exec_dirty(c, 1);
    cmd_notify(c, NOTIFY_STREAM, "xsetid", &k);
}

/* ---- XREAD XREADGROUP ------------------------------------------------------------------------ */

/* Redis's xreadGetKeys: the keys follow STREAMS, found by skipping the
 * options the way the command reads them. */
static int xread_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max) {
    int streams = -1;
    for (int i = 1; i < argc; i++) {
        if (lens[i] == 5 && strncasecmp(argv[i], "BLOCK", 5) == 0) {
            i++;
        } else if (lens[i] == 5 && strncasecmp(argv[i], "COUNT", 5) == 0) {
            i++;
        } else if (lens[i] == 5 && strncasecmp(argv[i], "GROUP", 5) == 0) {
            i += 2;
        } else if (lens[i] == 5 && strncasecmp(argv[i], "NOACK", 5) == 0) {
            continue;
        } else if (lens[i] == 7 && strncasecmp(argv[i], "STREAMS", 7) == 0) {
            streams = i;
            break;
        } else {
            break;
        }
    }
    int num = streams < 0 ? 0 : argc - streams - 1;
    if (num == 0 || num % 2) return 0; /* a syntax error for the command to reply */
    num /= 2;
    for (int j = 0; j < num; j++)
        if (j < max) out[j] = streams + 1 + j;
    return num;
}

#define XREAD_BLOCKED_DEFAULT_COUNT 1000

struct xread_args {
    long long timeout; /* ms; -1: no BLOCK */
    long long count;
    int streams; /* argv index of the first key */
    int nstreams;
    int group, consumer; /* argv indexes (0: none) */
    bool noack;
};

/* "BLOCK <ms>": Redis's getTimeoutFromObjectOrReply in milliseconds. */
static bool parse_block(struct client *c, int i, long long *ms) {
    if (!cmd_ll_msg(c, i, ms, "ERR timeout is not an integer or out of range")) return false;
    if (*ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return false;
    }
    return true;
}

static bool parse_xread(struct client *c, bool xgroup, struct xread_args *a) {
    memset(a, 0, sizeof(*a));
    a->timeout = -1;
    for (int i = 1; i < c->argc; i++) {
        int moreargs = c->argc - i - 1;
        if (cmd_arg_is(c, i, "BLOCK") && moreargs) {
            if (c->flags & CLIENT_SCRIPT) { /* no sense blocking inside a script (Redis's wording) */
                reply_errorf(c, "ERR %.*s command is not allowed with BLOCK option from scripts", (int)c->argvlen[0],
                             c->argv[0]);
                return false;
            }
            if (!parse_block(c, ++i, &a->timeout)) return false;
        } else if (cmd_arg_is(c, i, "COUNT") && moreargs) {
            if (!cmd_ll(c, ++i, &a->count)) return false;
            if (a->count < 0) a->count = 0;
        } else if (cmd_arg_is(c, i, "STREAMS") && moreargs) {
            a->streams = i + 1;
            int n = c->argc - a->streams;
            if (n % 2) {
                reply_error(c, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
                               "specified.");
                return false;
            }
            a->nstreams = n / 2;
            break;
        } else if (cmd_arg_is(c, i, "GROUP") && moreargs >= 2) {
            if (!xgroup) {
                reply_error(c, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->group = i + 1;
            a->consumer = i + 2;
            i += 2;
        } else if (cmd_arg_is(c, i, "NOACK")) {
            if (!xgroup) {
                reply_error(c, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->noack = true;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    if (a->streams == 0) {
        reply_error(c, RERR_SYNTAX);
        return false;
    }
    if (xgroup && a->group == 0) {
        reply_error(c, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    return true;
}

/* The length of argv[i] up to a NUL, as Redis's %s shows it. */
static int shown(const struct client *c, int i) { return (int)strnlen(c->argv[i], c->argvlen[i]); }

/* Each stream's ID to read after, its stream and group; false after an
 * error reply (nothing changed). */
static bool resolve_streams(struct client *c, const struct xread_args *a, struct stream_id *ids,
                            struct stream **streams, struct stream_cg **groups) {
    for (int j = 0; j < a->nstreams; j++) {
        int ki = a->streams + j, ii = a->streams + a->nstreams + j;
        bool wrong;
        struct stream *s = streams[j] = xstream_lookup_read(c, ki, &wrong);
        if (wrong) return false;
        if (a->group) {
            groups[j] = s ? stream_cg_find(s, c->argv[a->group], c->argvlen[a->group]) : NULL;
            if (groups[j] == NULL) {
                reply_errorf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with GROUP option",
                             shown(c, ki), c->argv[ki], shown(c, a->group), c->argv[a->group]);
                return false;
            }
        }
        if (c->argvlen[ii] == 1 && c->argv[ii][0] == '$') {
            if (a->group) {
                reply_error(c, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                               "history of this consumer by specifying a proper ID, or use the > ID to get new "
                               "messages. The $ ID would just return an empty result set.");
                return false;
            }
            ids[j] = s ? s->last_id : (struct stream_id){0, 0};
        } else if (c->argvlen[ii] == 1 && c->argv[ii][0] == '>') {
            if (!a->group) {
                reply_error(c, "ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                               "<group> <consumer> option.");
                return false;
            }
            ids[j] = (struct stream_id){UINT64_MAX, UINT64_MAX}; /* ">": the group's last ID, later */
        } else if (!xparse_id(c, ii, 0, true, NULL, &ids[j])) {
            return false;
        }
    }
    return true;
}

/* Reply one stream's part of an XREAD answer: [key, entries] (RESP2) or
 * key => entries (RESP3, in a map). */
static void serve_stream(struct client *c, struct stream *s, const struct xprop *p, const struct stream_id *gt,
                         size_t count, struct stream_cg *cg, const char *cname, size_t clen, unsigned flags) {
    struct stream_id start = *gt;
    stream_id_incr(&start); /* entries strictly after gt */
    if (c->resp == 2) reply_array(c, 2);
    reply_bulk(c, p->key, p->klen);
    struct stream_consumer *consumer = NULL;
    if (cg) consumer = xconsumer_get(c, cg, p, cname, clen, flags & XRANGE_NOACK);
    xreply_range(c, s, &start, NULL, count, false, cg, consumer, flags, p);
}

/* The waiter's saved request: count, group, and per key the ID to read
 * after (the first one given for a key named twice). */
struct xwait {
    size_t count;
    bool noack;
    char *group, *consumer;
    size_t glen, clen;
    int nkeys;
    struct {
        char *key;
        size_t klen;
        struct stream_id id;
    } keys[];
};

static void xwait_free(void *arg) {
    struct xwait *w = arg;
    for (int i = 0; i < w->nkeys; i++) xfree(w->keys[i].key);
    xfree(w->group);
    xfree(w->consumer);
    xfree(w);
}

static const struct stream_id *xwait_id(struct xwait *w, const struct store_key *k) {
    for (int i = 0; i < w->nkeys; i++)
        if (w->keys[i].klen == k->len && memcmp(w->keys[i].key, k->ptr, k->len) == 0) return &w->keys[i].id;
    return NULL;
}

static bool xread_ready(const struct store_key *k, struct entry *e, void *arg) {
    struct xwait *w = arg;
    bool stream = e && entry_type(e) == TYPE_STREAM;
    if (w->group) {
        if (!stream) return true; /* answered: the stream is gone */
        struct stream *s = entry_obj(e);
        struct stream_cg *cg = stream_cg_find(s, w->group, w->glen);
        return cg == NULL || stream_id_cmp(&s->last_id, &cg->last_id) > 0;
    }
    if (!stream) return false;
    const struct stream_id *gt = xwait_id(w, k);
    return gt && stream_id_cmp(&((struct stream *)entry_obj(e))->last_id, gt) > 0;
}

/* [pushing thread, k's stripe] Answer a waiter (Redis's
 * serveClientsBlockedOnStreamKey). */
static void xread_serve(struct client *proxy, const struct store_key *k, struct store_ref *ref,
                        struct entry *e, const struct store_key *target, void *arg, void **undo) {
    UNUSED(ref);
    UNUSED(target);
    *undo = NULL; /* nothing to put back: entries stay, a group's stay pending */
    struct xwait *w = arg;
    struct xprop p = {k->ptr, k->len, w->group, w->glen};
    if (w->group && (e == NULL || entry_type(e) != TYPE_STREAM)) {
        reply_error(proxy, "UNBLOCKED the stream key no longer exists");
        return;
    }
    struct stream *s = entry_obj(e);
    struct stream_cg *cg = NULL;
    struct stream_id gt;
    if (w->group) {
        cg = stream_cg_find(s, w->group, w->glen);
        if (cg == NULL) {
            reply_error(proxy, "NOGROUP the consumer group this client was blocked on no longer exists");
            return;
        }
        gt = cg->last_id;
    } else {
        gt = *xwait_id(w, k);
    }
    if (proxy->resp == 2)
        reply_array(proxy, 1);
    else
        reply_map(proxy, 1);
    serve_stream(proxy, s, &p, &gt, w->count, cg, w->consumer, w->clen, w->noack ? XRANGE_NOACK : 0);
}

static const struct block_ops xread_block_ops = {
    .type = TYPE_STREAM,
    .serve = xread_serve,
    .undo = NULL,
    .undo_free = NULL,
    .timeout = NULL, /* a null array, as Redis 7.0 */
    .free_arg = xwait_free,
    .ready = xread_ready,
};

static void block_xread(struct client *c, const struct xread_args *a, const struct stream_id *ids) {
    struct xwait *w = xcalloc(1, sizeof(*w) + (size_t)a->nstreams * sizeof(w->keys[0]));
    w->count = a->count ? (size_t)a->count : XREAD_BLOCKED_DEFAULT_COUNT;
    w->noack = a->noack;
    if (a->group) {
        w->group = xmemdup(c->argv[a->group], c->argvlen[a->group] + 1);
        w->glen = c->argvlen[a->group];
        w->consumer = xmemdup(c->argv[a->consumer], c->argvlen[a->consumer] + 1);
        w->clen = c->argvlen[a->consumer];
    }
    int stack[16];
    int *pos = a->nstreams <= 16 ? stack : xmalloc((size_t)a->nstreams * sizeof(int));
    for (int j = 0; j < a->nstreams; j++) {
        int ki = a->streams + j;
        pos[j] = ki;
        struct store_key k = {.ptr = c->argv[ki], .len = c->argvlen[ki]};
        if (xwait_id(w, &k)) continue; /* a key named twice waits after its first ID */
        w->keys[w->nkeys].key = xmemdup(k.ptr, k.len + 1);
        w->keys[w->nkeys].klen = k.len;
        w->keys[w->nkeys].id = ids[j];
        w->nkeys++;
    }
    int64_t deadline = 0; /* 0: forever, also for timeouts of millions of years */
    if (a->timeout > 0) {
        int64_t now = time_ms();
        if (a->timeout < (INT64_MAX - now) / 2) deadline = now + a->timeout;
    }
    struct block_request r = {&xread_block_ops, w, deadline, pos, a->nstreams, -1};
    block_for_keys(c, &r);
    if (pos != stack) xfree(pos);
}

static void xread_generic(struct client *c, bool xgroup) {
    struct xread_args a;
    if (!parse_xread(c, xgroup, &a)) return;
    c->propagated = true; /* only its effects: XCLAIM, XGROUP SETID... */
    struct stream_id stack_ids[8];
    struct stream *stack_s[8];
    struct stream_cg *stack_g[8];
    int n = a.nstreams;
    struct stream_id *ids = n <= 8 ? stack_ids : xmalloc((size_t)n * sizeof(*ids));
    struct stream **streams = n <= 8 ? stack_s : xmalloc((size_t)n * sizeof(*streams));
    struct stream_cg **groups = n <= 8 ? stack_g : xmalloc((size_t)n * sizeof(*groups));
    if (!resolve_streams(c, &a, ids, streams, groups)) goto out;
    struct onode *d = NULL;
    long long served = 0;
    for (int j = 0; j < n; j++) {
        struct stream *s = streams[j];
        if (s == NULL) continue;
        struct stream_id gt = ids[j];
        bool history = false, now = false;
        if (a.group) {
            if (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX) {
                now = history = true; /* the consumer's own history */
            } else if (s->length) {
                struct stream_id maxid;
                stream_edge_id(s, false, true, &maxid);
                if (stream_id_cmp(&maxid, &groups[j]->last_id) > 0) {
                    now = true;
                    gt = groups[j]->last_id;
                }
            }
        } else if (s->length) {
            struct stream_id maxid;
            stream_edge_id(s, false, true, &maxid);
            now = stream_id_cmp(&maxid, &gt) > 0;
        }
        if (!now) continue;
        if (served++ == 0) d = reply_defer(c);
        int ki = a.streams + j;
        struct xprop p = {c->argv[ki], c->argvlen[ki], a.group ? c->argv[a.group] : NULL,
                          a.group ? c->argvlen[a.group] : 0};
        unsigned flags = (a.noack ? XRANGE_NOACK : 0) | (history ? XRANGE_HISTORY : 0);
        serve_stream(c, s, &p, &gt, (size_t)a.count, a.group ? groups[j] : NULL,
                     a.group ? c->argv[a.consumer] : NULL, a.group ? c->argvlen[a.consumer] : 0, flags);
        if (a.group) exec_dirty(c, 1);
    }
    if (served) {
        if (c->resp == 2)
            reply_defer_array(c, d, served);
        else
            reply_defer_map(c, d, served);
    } else if (a.timeout != -1 && block_allowed(c)) {
        block_xread(c, &a, ids);
    } else {
        reply_null_array(c); /* no BLOCK, or not allowed to block: as a timeout */
    }
out:
    if (ids != stack_ids) xfree(ids);
    if (streams != stack_s) xfree(streams);
    if (groups != stack_g) xfree(groups);
}

void cmd_xread(struct client *c) { xread_generic(c, false); }
void cmd_xreadgroup(struct client *c) { xread_generic(c, true); }

/*
 * cmd/list.c - the LIST family: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN
 * LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP and the
 * blocking BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP, with Redis 7.0's replies,
 * errors, keyspace events, WATCH signals and propagation.
 *
 * Values: a key of TYPE_LIST holds a `struct list` (types/list.h: listpack
 *   or quicklist). A list is never empty in the keyspace: the command that
 *   removes its last element deletes the key ("del" event), as Redis does.
 *
 * Order of checks: per command as Redis 7.0 (LRANGE/LTRIM/LREM parse their
 *   numbers before looking the key up, LINDEX/LSET after; LINSERT checks
 *   BEFORE|AFTER first). Nothing changes before every argument is valid.
 *
 * Effects: commands are propagated as received, except
 *     BLPOP/BRPOP that popped at once   -> LPOP key / RPOP key
 *     BLMPOP/LMPOP                      -> LPOP key n / RPOP key n (n popped)
 *     BLMOVE / BRPOPLPUSH that moved    -> LMOVE ... / RPOPLPUSH ...
 *   A blocked client served later by a push is propagated the same way,
 *   after the push (exec/block.c seals it as its own block).
 *
 * Blocking (exec/block.h): when every key is empty, BLPOP & co register
 *   with block_for_keys; the serve callbacks below run later on the pushing
 *   thread, under the key's stripe lock, with a stand-in client whose reply
 *   goes to the waiter's worker. BLMOVE names its destination as the
 *   request's target so that its stripe is held while serving. If the
 *   served client turns out to be gone when the reply arrives, the popped
 *   elements are pushed back where they came from (pop_undo).
 *
 * Threading: every command runs [stripe-locked] on the stripes of its keys.
 */
#include "cmd/list.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "exec/block.h"
#include "repl/log.h"
#include "types/list.h"

#include <limits.h>
#include <string.h>

/* ---- setup -------------------------------------------------------------------- */

static const struct type_ops list_type_ops = {
    .name = "list",
    .free = list_free,
    .dup = list_dup,
    .mem = list_mem,
    .enc_name = list_enc_name,
    .digest = list_digest,
};

static int apply_fill(long long v, char *err) {
    list_set_fill((int)v);
    return 0;
}

static int apply_compress(long long v, char *err) {
    list_set_compress((int)v);
    return 0;
}

static struct config_option list_options[] = {
    {"list-max-listpack-size", "list-max-ziplist-size", CFG_INT, 0, "-2", INT_MIN, INT_MAX, NULL,
     apply_fill, NULL, NULL, NULL, 0, NULL},
    {"list-compress-depth", NULL, CFG_INT, 0, "0", 0, INT_MAX, NULL, apply_compress, NULL, NULL,
     NULL, 0, NULL},
    CFG_END,
};

void cmd_list_setup(void) {
    entry_register_type(TYPE_LIST, &list_type_ops);
    config_register(list_options);
}

void cmd_debug_quicklist_packed_threshold(struct client *c) {
    long long sz;
    if (!str_to_memsize(c->argv[2], c->argvlen[2], &sz) || sz < 0 ||
        (unsigned long long)sz > (1ULL << 32) - (1 << 20)) {
        reply_error(c, "ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        return;
    }
    ql_set_packed_threshold(sz == 0 ? (size_t)1 << 30 : (size_t)sz);
    reply_ok(c);
}

/* ---- helpers -------------------------------------------------------------------- */

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_LIST) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

static inline struct list *list_of(const struct entry *e) {
    return entry_obj(e);
}

/* A new, empty list under k (Redis's dbAdd: the "new" event; waiters on k
 * are served at the end of the section, once it has elements). */
static struct list *add_list(struct client *c, const struct store_key *k) {
    struct list *l = list_new();
    store_add(c->db, k, entry_new_obj(k->ptr, k->len, TYPE_LIST, ENC_OBJ, l, -1), NULL);
    cmd_notify(c, NOTIFY_NEW, "new", k);
    return l;
}

static void reply_val(struct client *c, const struct list_val *v) {
    if (v->is_int)
        reply_bulk_ll(c, v->ll);
    else
        reply_bulk(c, v->ptr, v->len);
}

static const char *where_name(enum list_where w) {
    return w == LIST_HEAD ? "LEFT" : "RIGHT";
}
static const char *pop_event(enum list_where w) {
    return w == LIST_HEAD ? "lpop" : "rpop";
}
static const char *push_event(enum list_where w) {
    return w == LIST_HEAD ? "lpush" : "rpush";
}

/* LEFT|RIGHT (Redis's getListPositionFromObjectOrReply). */
static bool parse_where(struct client *c, int i, enum list_where *w) {
    if (cmd_arg_is(c, i, "LEFT")) {
        *w = LIST_HEAD;
    } else if (cmd_arg_is(c, i, "RIGHT")) {
        *w = LIST_TAIL;
    } else {
        reply_error(c, RERR_SYNTAX);
        return false;
    }
    return true;
}

/* Redis's addListRangeReply: elements start..end (negative from the end),
 * head to tail, or tail to head when reverse. */
static void reply_range(struct client *c, struct list *l, long start, long end, bool reverse) {
    long llen = (long)list_len(l);
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        reply_array(c, 0);
        return;
    }
    if (end >= llen) end = llen - 1;
    long n = end - start + 1;
    reply_array(c, n);
    struct list_pos pos;
    bool ok = list_at(l, reverse ? end : start, &pos);
    for (long i = 0; i < n && ok; i++) {
        reply_val(c, &pos.v);
        if (i + 1 < n) ok = list_step(&pos, !reverse);
    }
}

/* Redis's listElementsRemoved: count elements left the list at k: event,
 * delete the key when empty, WATCH, dirty. Returns whether it was deleted. */
static bool elements_removed(struct client *c, const struct store_key *k, struct store_ref *ref,
                             struct list *l, enum list_where where, long count) {
    cmd_notify(c, NOTIFY_LIST, pop_event(where), k);
    bool deleted = false;
    if (list_len(l) == 0) {
        cmd_delete(c, ref);
        deleted = true;
    } else {
        list_try_shrink(l);
        cmd_modified(c, k);
    }
    exec_dirty(c, count);
    return deleted;
}

/* Pop up to count elements from one end of the list at k and reply
 * [key, [elements]] (Redis's listPopRangeAndReplyWithKey). Returns how many. */
static long pop_range_with_key(struct client *c, const struct store_key *k, struct store_ref *ref,
                               struct list *l, enum list_where where, long count) {
    long llen = (long)list_len(l);
    long n = count > llen ? llen : count;
    reply_array(c, 2);
    reply_bulk(c, k->ptr, k->len);
    if (where == LIST_HEAD) {
        reply_range(c, l, 0, n - 1, false);
        list_delete_range(l, 0, n);
    } else {
        reply_range(c, l, -n, -1, true);
        list_delete_range(l, llen - n, n);
    }
    elements_removed(c, k, ref, l, where, n);
    return n;
}

/* Stage "LPOP key" / "RPOP key [n]" as the effect. */
static void propagate_pop(struct client *c, const struct store_key *k, enum list_where where,
                          long n) {
    char num[STR_LL_MAX];
    const char *argv[3] = {where == LIST_HEAD ? "LPOP" : "RPOP", k->ptr, num};
    size_t lens[3] = {4, k->len, 0};
    if (n >= 0) lens[2] = (size_t)ll_to_str(num, sizeof(num), n);
    exec_propagate(c, n >= 0 ? 3 : 2, argv, lens);
}

/* A copy of one element, owned by the caller (stack for small ones). */
struct valcopy {
    char small[128];
    char *heap;
    const char *ptr;
    size_t len;
};

static void valcopy_set(struct valcopy *vc, const struct list_val *v) {
    char buf[LP_INTBUF_SIZE];
    size_t n;
    const char *s = list_val_str(v, buf, &n);
    vc->heap = NULL;
    if (n <= sizeof(vc->small)) {
        memcpy(vc->small, s, n);
        vc->ptr = vc->small;
    } else {
        vc->heap = xmalloc(n);
        memcpy(vc->heap, s, n);
        vc->ptr = vc->heap;
    }
    vc->len = n;
}

static void valcopy_cb(const struct list_val *v, void *arg) {
    valcopy_set(arg, v);
}
static void valcopy_free(struct valcopy *vc) {
    xfree(vc->heap);
}

/* LMOVE's work (Redis's lmoveGenericCommand after the checks): pop from
 * the non-empty list at src, push to dst (de: its entry, NULL when absent;
 * type already checked), reply the element. */
static void move_element(struct client *c, const struct store_key *src, struct entry *se,
                         const struct store_key *dst, struct entry *de, enum list_where from,
                         enum list_where to) {
    struct list *sl = list_of(se);
    struct valcopy vc;
    list_pop(sl, from, valcopy_cb, &vc);
    struct list *dl = de ? list_of(de) : add_list(c, dst);
    cmd_modified(c, dst);
    list_push_one(dl, to, vc.ptr, vc.len);
    cmd_notify(c, NOTIFY_LIST, push_event(to), dst);
    reply_bulk(c, vc.ptr, vc.len);
    valcopy_free(&vc);
    cmd_notify(c, NOTIFY_LIST, pop_event(from), src);
    if (list_len(sl) == 0) {
        /* Adding dst may have moved src's table position: find it again. */
        struct store_ref ref;
        if (store_peek(c->db, src, &ref)) {
            store_delete(&ref);
            cmd_notify(c, NOTIFY_GENERIC, "del", src);
        }
    } else {
        list_try_shrink(sl);
    }
    cmd_modified(c, src);
    exec_dirty(c, 1);
}

static void propagate_move(struct client *c, const struct store_key *src,
                           const struct store_key *dst, enum list_where from, enum list_where to,
                           bool rpoplpush) {
    const char *argv[5] = {rpoplpush ? "RPOPLPUSH" : "LMOVE", src->ptr, dst->ptr, where_name(from),
                           where_name(to)};
    size_t lens[5] = {rpoplpush ? 9 : 5, src->len, dst->len, strlen(argv[3]), strlen(argv[4])};
    exec_propagate(c, rpoplpush ? 3 : 5, argv, lens);
}

/* ---- push ------------------------------------------------------------------------- */

static void push_generic(struct client *c, enum list_where where, bool xx) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_write(c, &k, NULL);
    if (e && wrongtype(c, e)) return;
    struct list *l;
    if (e == NULL) {
        if (xx) {
            reply_int(c, 0);
            return;
        }
        l = add_list(c, &k);
    } else {
        l = list_of(e);
    }
    size_t n = (size_t)(c->argc - 2);
    list_push(l, where, c->argv + 2, c->argvlen + 2, n);
    exec_dirty(c, (long long)n);
    reply_int(c, (long long)list_len(l));
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_LIST, push_event(where), &k);
}

void cmd_lpush(struct client *c) {
    push_generic(c, LIST_HEAD, false);
}
void cmd_rpush(struct client *c) {
    push_generic(c, LIST_TAIL, false);
}
void cmd_lpushx(struct client *c) {
    push_generic(c, LIST_HEAD, true);
}
void cmd_rpushx(struct client *c) {
    push_generic(c, LIST_TAIL, true);
}

/* ---- pop ----------------------------------------------------------------------------- */

static void reply_val_cb(const struct list_val *v, void *arg) {
    reply_val(arg, v);
}

static void pop_generic(struct client *c, enum list_where where) {
    bool hascount = c->argc == 3;
    long long count = 0;
    if (c->argc > 3) {
        reply_arity_error(c);
        return;
    }
    if (hascount && !cmd_ll_range(c, 2, 0, LONG_MAX, &count, RERR_NEGATIVE_COUNT)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        if (hascount)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    struct list *l = list_of(e);
    if (hascount && count == 0) {
        reply_array(c, 0);
        return;
    }
    if (!hascount) {
        list_pop(l, where, reply_val_cb, c);
        elements_removed(c, &k, &ref, l, where, 1);
        return;
    }
    long llen = (long)list_len(l);
    long n = count > llen ? llen : (long)count;
    if (where == LIST_HEAD) {
        reply_range(c, l, 0, n - 1, false);
        list_delete_range(l, 0, n);
    } else {
        reply_range(c, l, -n, -1, true);
        list_delete_range(l, llen - n, n);
    }
    elements_removed(c, &k, &ref, l, where, n);
}

void cmd_lpop(struct client *c) {
    pop_generic(c, LIST_HEAD);
}
void cmd_rpop(struct client *c) {
    pop_generic(c, LIST_TAIL);
}

/* ---- reading -------------------------------------------------------------------------- */

void cmd_llen(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    reply_int(c, (long long)list_len(list_of(e)));
}

void cmd_lindex(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    long long index;
    if (!cmd_ll(c, 2, &index)) return;
    struct list_pos pos;
    if (list_at(list_of(e), (long)index, &pos))
        reply_val(c, &pos.v);
    else
        reply_null(c);
}

void cmd_lrange(struct client *c) {
    long long start, end;
    if (!cmd_ll(c, 2, &start) || !cmd_ll(c, 3, &end)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_array(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    reply_range(c, list_of(e), (long)start, (long)end, false);
}

void cmd_lpos(struct client *c) {
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (cmd_arg_is(c, j, "RANK") && more) {
            if (!cmd_ll(c, ++j, &rank)) return;
            if (rank == 0) {
                reply_error(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 "
                               "from the second ... "
                               "or use negative to start from the end of the list");
                return;
            }
        } else if (cmd_arg_is(c, j, "COUNT") && more) {
            if (!cmd_ll_range(c, ++j, 0, LONG_MAX, &count, "ERR COUNT can't be negative")) return;
        } else if (cmd_arg_is(c, j, "MAXLEN") && more) {
            if (!cmd_ll_range(c, ++j, 0, LONG_MAX, &maxlen, "ERR MAXLEN can't be negative")) return;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    bool forward = true;
    if (rank < 0) {
        rank = rank == LLONG_MIN ? LLONG_MAX : -rank;
        forward = false;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        if (count != -1)
            reply_array(c, 0);
        else
            reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    struct list *l = list_of(e);
    struct onode *deferred = count != -1 ? reply_defer(c) : NULL;
    long llen = (long)list_len(l);
    long index = 0, matches = 0, matchindex = -1, arraylen = 0;
    const char *ele = c->argv[2];
    size_t elen = c->argvlen[2];
    struct list_pos pos;
    bool ok = list_at(l, forward ? 0 : -1, &pos);
    while (ok && (maxlen == 0 || index < maxlen)) {
        if (list_val_eq(&pos.v, ele, elen)) {
            matches++;
            matchindex = forward ? index : llen - index - 1;
            if (matches >= rank) {
                if (deferred) {
                    arraylen++;
                    reply_int(c, matchindex);
                    if (count && matches - rank + 1 >= count) break;
                } else {
                    break;
                }
            }
        }
        index++;
        matchindex = -1;
        ok = list_step(&pos, forward);
    }
    if (deferred)
        reply_defer_array(c, deferred, arraylen);
    else if (matchindex != -1)
        reply_int(c, matchindex);
    else
        reply_null(c);
}

/* ---- changing ----------------------------------------------------------------------- */

void cmd_lset(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_write(c, &k, NULL);
    if (e == NULL) {
        reply_error(c, RERR_NO_SUCH_KEY);
        return;
    }
    if (wrongtype(c, e)) return;
    long long index;
    if (!cmd_ll(c, 2, &index)) return;
    struct list_pos pos;
    if (!list_at(list_of(e), (long)index, &pos)) {
        reply_error(c, "ERR index out of range");
        return;
    }
    list_replace_at(&pos, c->argv[3], c->argvlen[3]);
    reply_ok(c);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_LIST, "lset", &k);
    exec_dirty(c, 1);
}

void cmd_linsert(struct client *c) {
    bool after;
    if (cmd_arg_is(c, 2, "AFTER")) {
        after = true;
    } else if (cmd_arg_is(c, 2, "BEFORE")) {
        after = false;
    } else {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_write(c, &k, NULL);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct list *l = list_of(e);
    struct list_pos pos;
    bool inserted = false;
    for (bool ok = list_at(l, 0, &pos); ok; ok = list_step(&pos, true)) {
        if (list_val_eq(&pos.v, c->argv[3], c->argvlen[3])) {
            list_insert_at(&pos, after, c->argv[4], c->argvlen[4]);
            inserted = true;
            break;
        }
    }
    if (!inserted) {
        reply_int(c, -1);
        return;
    }
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_LIST, "linsert", &k);
    exec_dirty(c, 1);
    reply_int(c, (long long)list_len(l));
}

void cmd_lrem(struct client *c) {
    long long toremove;
    if (!cmd_ll(c, 2, &toremove)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct list *l = list_of(e);
    bool forward = true;
    if (toremove < 0) {
        toremove = toremove == LLONG_MIN ? LLONG_MAX : -toremove;
        forward = false;
    }
    long long removed = 0;
    const char *ele = c->argv[3];
    size_t elen = c->argvlen[3];
    struct list_pos pos;
    bool ok = list_at(l, forward ? 0 : -1, &pos);
    while (ok) {
        if (list_val_eq(&pos.v, ele, elen)) {
            removed++;
            ok = list_delete_at(&pos, forward);
            if (toremove && removed == toremove) break;
        } else {
            ok = list_step(&pos, forward);
        }
    }
    exec_dirty(c, removed);
    if (removed) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_LIST, "lrem", &k);
    }
    if (list_len(l) == 0) {
        store_delete(&ref);
        cmd_notify(c, NOTIFY_GENERIC, "del", &k);
    } else if (removed) {
        list_try_shrink(l);
    }
    reply_int(c, removed);
}

void cmd_ltrim(struct client *c) {
    long long start, end;
    if (!cmd_ll(c, 2, &start) || !cmd_ll(c, 3, &end)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_ok(c);
        return;
    }
    if (wrongtype(c, e)) return;
    struct list *l = list_of(e);
    long long llen = (long long)list_len(l), ltrim, rtrim;
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        ltrim = llen;
        rtrim = 0;
    } else {
        if (end >= llen) end = llen - 1;
        ltrim = start;
        rtrim = llen - end - 1;
    }
    list_delete_range(l, 0, (long)ltrim);
    list_delete_range(l, (long)(llen - ltrim - rtrim), (long)rtrim);
    cmd_notify(c, NOTIFY_LIST, "ltrim", &k);
    if (list_len(l) == 0) {
        store_delete(&ref);
        cmd_notify(c, NOTIFY_GENERIC, "del", &k);
    } else if (ltrim + rtrim > 0) {
        list_try_shrink(l);
    }
    cmd_modified(c, &k);
    exec_dirty(c, ltrim + rtrim);
    reply_ok(c);
}

/* ---- moving --------------------------------------------------------------------------- */

/* LMOVE / RPOPLPUSH, and BLMOVE / BRPOPLPUSH when the source has elements
 * (propagated as their non-blocking form). */
static void lmove_generic(struct client *c, enum list_where from, enum list_where to, int rewrite) {
    struct store_key src, dst;
    cmd_key(c, 1, &src);
    struct entry *se = cmd_lookup_write(c, &src, NULL);
    if (se == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, se)) return;
    cmd_key(c, 2, &dst);
    struct entry *de = cmd_lookup_write(c, &dst, NULL);
    if (de && wrongtype(c, de)) return;
    /* dst's lookup may have expired dst (same table as src): look src up
     * again, it cannot have gone. */
    se = store_peek(c->db, &src, NULL);
    if (de == NULL && src.len == dst.len && memcmp(src.ptr, dst.ptr, src.len) == 0) de = se;
    move_element(c, &src, se, &dst, de, from, to);
    if (rewrite) propagate_move(c, &src, &dst, from, to, rewrite == 2);
}

void cmd_lmove(struct client *c) {
    enum list_where from, to;
    if (!parse_where(c, 3, &from) || !parse_where(c, 4, &to)) return;
    lmove_generic(c, from, to, 0);
}

void cmd_rpoplpush(struct client *c) {
    lmove_generic(c, LIST_TAIL, LIST_HEAD, 0);
}

/* ---- LMPOP ---------------------------------------------------------------------------- */

/* numkeys, LEFT|RIGHT, [COUNT n] (Redis's lmpopGenericCommand parsing). */
static bool parse_mpop(struct client *c, int numkeys_idx, long long *numkeys,
                       enum list_where *where, long long *count) {
    if (!cmd_ll_range(c, numkeys_idx, 1, LONG_MAX, numkeys, "ERR numkeys should be greater than 0"))
        return false;
    long long where_idx = numkeys_idx + *numkeys + 1;
    if (where_idx >= c->argc) {
        reply_error(c, RERR_SYNTAX);
        return false;
    }
    if (!parse_where(c, (int)where_idx, where)) return false;
    *count = -1;
    for (int j = (int)where_idx + 1; j < c->argc; j++) {
        if (*count == -1 && cmd_arg_is(c, j, "COUNT") && j + 1 < c->argc) {
            j++;
            if (!cmd_ll_range(c, j, 1, LONG_MAX, count, "ERR count should be greater than 0"))
                return false;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    if (*count == -1) *count = 1;
    return true;
}

void cmd_lmpop(struct client *c) {
    long long numkeys, count;
    enum list_where where;
    if (!parse_mpop(c, 1, &numkeys, &where, &count)) return;
    for (int j = 0; j < numkeys; j++) {
        struct store_key k;
        cmd_key(c, 2 + j, &k);
        struct store_ref ref;
        struct entry *e = cmd_lookup_write(c, &k, &ref);
        if (e == NULL) continue;
        if (wrongtype(c, e)) return;
        long n = pop_range_with_key(c, &k, &ref, list_of(e), where, (long)count);
        propagate_pop(c, &k, where, n);
        return;
    }
    reply_null_array(c);
}

/* ---- blocking ------------------------------------------------------------------------------ */

enum bkind { BK_POP, BK_MPOP, BK_MOVE, BK_RPOPLPUSH };

struct bpop_arg {
    uint8_t kind;
    uint8_t where;   /* the end popped */
    uint8_t whereto; /* BLMOVE: the end pushed */
    long count;      /* BLMPOP */
};

/* What a served pop took, to put it back if the client is gone. */
struct pop_undo {
    uint8_t where;
    size_t n;
    struct store_key key;
    char **elems;
    size_t *lens;
    char keybuf[];
};

static void pop_undo_free(void *arg) {
    struct pop_undo *u = arg;
    for (size_t i = 0; i < u->n; i++) xfree(u->elems[i]);
    xfree(u->elems);
    xfree(u->lens);
    xfree(u);
}

static struct pop_undo *pop_undo_new(const struct store_key *k, enum list_where where, size_t n) {
    struct pop_undo *u = xcalloc(1, sizeof(*u) + k->len);
    memcpy(u->keybuf, k->ptr, k->len);
    u->key = *k;
    u->key.ptr = u->keybuf;
    u->where = (uint8_t)where;
    u->elems = xcalloc(n ? n : 1, sizeof(*u->elems));
    u->lens = xcalloc(n ? n : 1, sizeof(*u->lens));
    return u;
}

static void pop_undo_add(struct pop_undo *u, const struct list_val *v) {
    char buf[LP_INTBUF_SIZE];
    size_t n;
    const char *s = list_val_str(v, buf, &n);
    u->elems[u->n] = xmemdup(s, n ? n : 1);
    u->lens[u->n] = n;
    u->n++;
}

struct undo_run {
    int db;
    struct pop_undo *u;
};

/* [locked on the key] Push the elements back at the end they left, in the
 * order they had: popped e1, e2 (e1 first) -> LPUSH e2 e1 / RPUSH e2 e1. */
static void undo_locked(void *arg) {
    struct undo_run *r = arg;
    struct pop_undo *u = r->u;
    struct client proxy;
    memset(&proxy, 0, sizeof(proxy));
    proxy.db = r->db;
    struct entry *e = store_lookup(r->db, &u->key, STORE_LOOKUP_WRITE, NULL);
    if (e && entry_type(e) != TYPE_LIST) {
        log_warn(
            "Blocked client gone before its reply: key changed type, %zu popped element(s) dropped",
            u->n);
        return;
    }
    struct list *l = e ? list_of(e) : add_list(&proxy, &u->key);
    size_t n = u->n;
    const char **argv = xmalloc((n + 2) * sizeof(*argv));
    size_t *lens = xmalloc((n + 2) * sizeof(*lens));
    argv[0] = u->where == LIST_HEAD ? "LPUSH" : "RPUSH";
    lens[0] = 5;
    argv[1] = u->key.ptr;
    lens[1] = u->key.len;
    for (size_t i = 0; i < n; i++) {
        argv[2 + i] = u->elems[n - 1 - i];
        lens[2 + i] = u->lens[n - 1 - i];
    }
    list_push(l, (enum list_where)u->where, argv + 2, lens + 2, n);
    cmd_modified(&proxy, &u->key);
    cmd_notify(&proxy, NOTIFY_LIST, push_event((enum list_where)u->where), &u->key);
    exec_propagate(&proxy, (int)n + 2, argv, lens);
    xfree(argv);
    xfree(lens);
}

static void pop_undo_run(int db, void *arg) {
    struct undo_run r = {db, arg};
    store_run_slot(r.u->key.slot, STORE_WRITE, undo_locked, &r);
    pop_undo_free(r.u);
}

struct undo_collect {
    struct client *c;
    struct pop_undo *u;
};

static void reply_and_keep(const struct list_val *v, void *arg) {
    struct undo_collect *uc = arg;
    reply_val(uc->c, v);
    pop_undo_add(uc->u, v);
}

/* Serve a blocked list client from k (list non-empty, stripe held). */
static void list_serve(struct client *c, const struct store_key *k, struct store_ref *ref,
                       struct entry *e, const struct store_key *target, void *argp, void **undo) {
    struct bpop_arg *a = argp;
    struct list *l = list_of(e);
    enum list_where where = (enum list_where)a->where;
    if (a->kind == BK_POP) {
        struct pop_undo *u = pop_undo_new(k, where, 1);
        struct undo_collect uc = {c, u};
        propagate_pop(c, k, where, -1);
        reply_array(c, 2);
        reply_bulk(c, k->ptr, k->len);
        list_pop(l, where, reply_and_keep, &uc);
        /* Redis's serveClientBlockedOnList: the push signalled WATCH already. */
        cmd_notify(c, NOTIFY_LIST, pop_event(where), k);
        if (list_len(l) == 0) {
            store_delete(ref);
            cmd_notify(c, NOTIFY_GENERIC, "del", k);
        } else {
            list_try_shrink(l);
        }
        *undo = u;
        return;
    }
    if (a->kind == BK_MPOP) {
        long llen = (long)list_len(l);
        long n = a->count > llen ? llen : a->count;
        propagate_pop(c, k, where, n);
        struct pop_undo *u = pop_undo_new(k, where, (size_t)n);
        struct list_pos pos;
        bool ok = list_at(l, where == LIST_HEAD ? 0 : -1, &pos);
        for (long i = 0; i < n && ok; i++) {
            pop_undo_add(u, &pos.v);
            if (i + 1 < n) ok = list_step(&pos, where == LIST_HEAD);
        }
        pop_range_with_key(c, k, ref, l, where, a->count);
        *undo = u;
        return;
    }
    /* BLMOVE / BRPOPLPUSH: the destination's stripe is held. */
    struct entry *de = store_lookup(c->db, target, STORE_LOOKUP_WRITE, NULL);
    if (de && entry_type(de) != TYPE_LIST) {
        reply_error(c, RERR_WRONGTYPE); /* the element stays where it is */
        return;
    }
    e = store_peek(c->db, k, NULL); /* dst's lookup may have moved k's position */
    if (de == NULL && k->len == target->len && memcmp(k->ptr, target->ptr, k->len) == 0) de = e;
    move_element(c, k, e, target, de, where, (enum list_where)a->whereto);
    propagate_move(c, k, target, where, (enum list_where)a->whereto, a->kind == BK_RPOPLPUSH);
}

static const struct block_ops list_block_ops = {
    .type = TYPE_LIST,
    .serve = list_serve,
    .undo = pop_undo_run,
    .undo_free = pop_undo_free,
    .timeout = NULL, /* null array, as Redis 7.0 for every list command */
    .free_arg = NULL,
};

static void block_on(struct client *c, int first_key, int nkeys, int target_pos, int64_t deadline,
                     enum bkind kind, enum list_where where, enum list_where whereto, long count) {
    struct bpop_arg *a = xcalloc(1, sizeof(*a));
    a->kind = (uint8_t)kind;
    a->where = (uint8_t)where;
    a->whereto = (uint8_t)whereto;
    a->count = count;
    int stack[16];
    int *pos = nkeys <= 16 ? stack : xmalloc((size_t)nkeys * sizeof(int));
    for (int i = 0; i < nkeys; i++) pos[i] = first_key + i;
    struct block_request r = {&list_block_ops, a, deadline, pos, nkeys, target_pos};
    block_for_keys(c, &r);
    if (pos != stack) xfree(pos);
}

/* BLPOP / BRPOP / BLMPOP (Redis's blockingPopGenericCommand): serve at once
 * from the first non-empty key, else block. count -1: BLPOP/BRPOP. */
static void blocking_pop(struct client *c, int first_key, int nkeys, enum list_where where,
                         int timeout_idx, long count) {
    int64_t deadline;
    if (!block_parse_timeout(c, timeout_idx, &deadline)) return;
    for (int j = 0; j < nkeys; j++) {
        struct store_key k;
        cmd_key(c, first_key + j, &k);
        struct store_ref ref;
        struct entry *e = cmd_lookup_write(c, &k, &ref);
        if (e == NULL) continue;
        if (wrongtype(c, e)) return;
        struct list *l = list_of(e);
        if (count != -1) {
            long n = pop_range_with_key(c, &k, &ref, l, where, count);
            propagate_pop(c, &k, where, n);
            return;
        }
        reply_array(c, 2);
        reply_bulk(c, k.ptr, k.len);
        list_pop(l, where, reply_val_cb, c);
        elements_removed(c, &k, &ref, l, where, 1);
        propagate_pop(c, &k, where, -1);
        return;
    }
    /* Inside MULTI/EXEC: as if the timeout had expired at once. */
    if (!block_allowed(c)) {
        reply_null_array(c);
        return;
    }
    block_on(c, first_key, nkeys, -1, deadline, count == -1 ? BK_POP : BK_MPOP, where, LIST_HEAD,
             count);
}

void cmd_blpop(struct client *c) {
    blocking_pop(c, 1, c->argc - 2, LIST_HEAD, c->argc - 1, -1);
}
void cmd_brpop(struct client *c) {
    blocking_pop(c, 1, c->argc - 2, LIST_TAIL, c->argc - 1, -1);
}

void cmd_blmpop(struct client *c) {
    long long numkeys, count;
    enum list_where where;
    if (!parse_mpop(c, 2, &numkeys, &where, &count)) return;
    blocking_pop(c, 3, (int)numkeys, where, 1, (long)count);
}

/* Redis's blmoveGenericCommand. */
static void blmove_generic(struct client *c, enum list_where from, enum list_where to,
                           int64_t deadline, bool rpoplpush) {
    struct store_key src;
    cmd_key(c, 1, &src);
    struct entry *se = cmd_lookup_write(c, &src, NULL);
    if (se && wrongtype(c, se)) return;
    if (se == NULL) {
        if (!block_allowed(c)) {
            reply_null(c); /* Redis: a null bulk here, unlike the pops */
            return;
        }
        block_on(c, 1, 1, 2, deadline, rpoplpush ? BK_RPOPLPUSH : BK_MOVE, from, to, 0);
        return;
    }
    lmove_generic(c, from, to, rpoplpush ? 2 : 1);
}

void cmd_blmove(struct client *c) {
    enum list_where from, to;
    int64_t deadline;
    if (!parse_where(c, 3, &from) || !parse_where(c, 4, &to)) return;
    if (!block_parse_timeout(c, 5, &deadline)) return;
    blmove_generic(c, from, to, deadline, false);
}

void cmd_brpoplpush(struct client *c) {
    int64_t deadline;
    if (!block_parse_timeout(c, 3, &deadline)) return;
    blmove_generic(c, LIST_TAIL, LIST_HEAD, deadline, true);
}

/*
 * cmd/zset.c - the SORTED SET family: ZADD ZINCRBY ZREM ZCARD ZCOUNT
 * ZLEXCOUNT ZSCORE ZMSCORE ZRANK ZREVRANK ZRANGE ZRANGESTORE ZREVRANGE
 * ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYRANK
 * ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZUNION
 * ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZSCAN, with
 * Redis 7.0's replies, errors, keyspace events, WATCH signals and effects.
 *
 * Values: types/zset (listpack / skiplist encodings and their conversions);
 *   an entry holds the set's handle, stored back after every change that
 *   may move it (zput). A set that becomes empty is deleted ("del" after the
 *   command's own event), as Redis does.
 *
 * Order of checks: as Redis per command: most parse every argument before
 *   looking the key up; the multi-key commands look their inputs up (and
 *   report WRONGTYPE) before parsing WEIGHTS/AGGREGATE, as Redis does.
 *
 * Effects: every command is propagated as received when it changed
 *   something, except ZMPOP, propagated as ZPOPMIN/ZPOPMAX key count (Redis
 *   7.0). Store commands count one change (dirty) for the destination.
 *
 * Results of ZUNION/ZINTER/ZDIFF(STORE) and ZRANGESTORE are built in a new
 *   set and stored at the end (the destination may be one of the inputs).
 *
 * Threading: every command runs [stripe-locked] on the stripes of its keys.
 */
#include "cmd/zset.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/digest.h"
#include "base/rand.h"
#include "base/log.h"
#include "base/str.h"
#include "config/config.h"
#include "exec/block.h"
#include "types/set.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#define ERR_NAN "ERR resulting score is not a number (NaN)"
#define ERR_RANGE_FLOAT "ERR min or max is not a float"
#define ERR_RANGE_LEX "ERR min or max not valid string range item"

/* ---- type registration and options ----------------------------------------------- */

static void t_free(void *o) {
    zset_destroy(o);
}
static void *t_dup(const void *o) {
    return zset_dup(o);
}
static size_t t_mem(const void *o) {
    return zset_mem(o);
}
static const char *t_enc(const void *o, int enc) {
    return zset_enc_name(o);
}
static void t_digest(const void *o, unsigned char d[20]) {
    zset_digest(o, d);
}

static const struct type_ops zset_ops = {"zset", t_free, t_dup, t_mem, t_enc, t_digest};

static long long opt_entries = 128, opt_value = 64;

static int apply_entries(long long v, char *err) {
    opt_entries = v;
    zset_set_limits((size_t)opt_entries, (size_t)opt_value);
    return 0;
}

static int apply_value(long long v, char *err) {
    opt_value = v;
    zset_set_limits((size_t)opt_entries, (size_t)opt_value);
    return 0;
}

static struct config_option options[] = {
    {"zset-max-listpack-entries", "zset-max-ziplist-entries", CFG_INT, 0, "128", 0, LONG_MAX, NULL,
     apply_entries, NULL, NULL, NULL, 0, NULL},
    {"zset-max-listpack-value", "zset-max-ziplist-value", CFG_MEMORY, 0, "64", 0, LONG_MAX, NULL,
     apply_value, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void cmd_zset_setup(void) {
    entry_register_type(TYPE_ZSET, &zset_ops);
    config_register(options);
}

/* ---- helpers ------------------------------------------------------------------------- */

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_ZSET) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

static inline void zput(struct entry *e, struct zset *z) {
    entry_set_obj(e, z);
}

/* A new key holding z ("new" event). */
static struct entry *add_key(struct client *c, const struct store_key *k, struct zset *z,
                             struct store_ref *ref) {
    struct entry *e = entry_new_obj(k->ptr, k->len, TYPE_ZSET, ENC_OBJ, z, -1);
    store_add(c->db, k, e, ref);
    cmd_notify(c, NOTIFY_NEW, "new", k);
    return e;
}

void cmd_zset_store(struct client *c, const struct store_key *k, struct zset *z) {
    struct store_ref ref;
    struct entry *old = cmd_lookup_write(c, k, &ref);
    if (old)
        store_replace(&ref, entry_new_obj(k->ptr, k->len, TYPE_ZSET, ENC_OBJ, z, -1));
    else
        add_key(c, k, z, NULL);
    cmd_modified(c, k);
}

bool cmd_delete_if_exists(struct client *c, const struct store_key *k) {
    struct store_ref ref;
    if (cmd_lookup_write(c, k, &ref) == NULL) return false;
    cmd_delete(c, &ref);
    exec_dirty(c, 1);
    return true;
}

/* After a change that may have emptied the set at ref: delete the key
 * ("del" event). Returns whether it was deleted. */
static bool delete_if_empty(struct client *c, struct store_ref *ref, struct entry *e) {
    if (zset_len(zset_of(e)) != 0) return false;
    struct store_key k = ref->key;
    store_delete(ref);
    cmd_notify(c, NOTIFY_GENERIC, "del", &k);
    return true;
}

/* argv[i] NUL-terminated in buf (cap bytes) or on the heap (*heap, to free). */
static const char *arg_z(const struct client *c, int i, char *buf, size_t cap, char **heap) {
    size_t n = c->argvlen[i];
    char *s = n < cap ? buf : (*heap = xmalloc(n + 1));
    memcpy(s, c->argv[i], n);
    s[n] = '\0';
    return s;
}

/* One end of a score range: "(" = exclusive, then strtod up to the first
 * NUL, as Redis parses it (leading spaces, hex and "inf" accepted). */
static bool parse_score_bound(const struct client *c, int i, double *v, bool *ex) {
    char buf[128], *heap = NULL;
    const char *s = arg_z(c, i, buf, sizeof(buf), &heap);
    *ex = false;
    if (s[0] == '(') {
        s++;
        *ex = true;
    }
    char *end;
    *v = strtod(s, &end);
    bool ok = end[0] == '\0' && !isnan(*v);
    xfree(heap);
    return ok;
}

bool cmd_zset_parse_range(const struct client *c, int imin, int imax, struct zsl_range *r) {
    return parse_score_bound(c, imin, &r->min, &r->minex) &&
           parse_score_bound(c, imax, &r->max, &r->maxex);
}

static bool parse_lex_bound(const struct client *c, int i, struct zsl_lex_bound *b) {
    const char *s = c->argv[i];
    size_t n = c->argvlen[i];
    if (n == 0) return false;
    b->s = NULL;
    b->len = 0;
    b->ex = true;
    switch (s[0]) {
    case '+':
    case '-':
        if (n > 1 && s[1] != '\0') return false;
        b->kind = s[0] == '+' ? ZSL_LEX_PLUS : ZSL_LEX_MINUS;
        return true;
    case '(':
    case '[':
        b->kind = ZSL_LEX_VALUE;
        b->ex = s[0] == '(';
        b->s = s + 1;
        b->len = n - 1;
        return true;
    default: return false;
    }
}

static bool parse_lex_range(const struct client *c, int imin, int imax, struct zsl_lex_range *r) {
    return parse_lex_bound(c, imin, &r->min) && parse_lex_bound(c, imax, &r->max);
}

static void reply_elem(struct client *c, const struct zset_elem *e, bool withscores) {
    if (withscores && c->resp > 2) reply_array(c, 2);
    reply_bulk(c, e->m, e->mlen);
    if (withscores) reply_double(c, e->score);
}

/* ---- ZADD ZINCRBY ------------------------------------------------------------------------ */

static void zadd_generic(struct client *c, int flags) {
    int idx = 2;
    bool ch = false;
    while (idx < c->argc) {
        if (cmd_arg_is(c, idx, "NX"))
            flags |= ZSET_IN_NX;
        else if (cmd_arg_is(c, idx, "XX"))
            flags |= ZSET_IN_XX;
        else if (cmd_arg_is(c, idx, "CH"))
            ch = true;
        else if (cmd_arg_is(c, idx, "INCR"))
            flags |= ZSET_IN_INCR;
        else if (cmd_arg_is(c, idx, "GT"))
            flags |= ZSET_IN_GT;
        else if (cmd_arg_is(c, idx, "LT"))
            flags |= ZSET_IN_LT;
        else
            break;
        idx++;
    }
    bool incr = flags & ZSET_IN_INCR, nx = flags & ZSET_IN_NX, xx = flags & ZSET_IN_XX;
    bool gt = flags & ZSET_IN_GT, lt = flags & ZSET_IN_LT;
    int elements = c->argc - idx;
    if (elements % 2 || elements == 0) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(c, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double sbuf[16];
    double *scores = elements <= 16 ? sbuf : xmalloc(sizeof(double) * (size_t)elements);
    for (int j = 0; j < elements; j++)
        if (!cmd_double(c, idx + 2 * j, &scores[j])) goto out;

    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (e && wrongtype(c, e)) goto out;
    if (e == NULL) {
        if (xx) goto reply;
        e = add_key(c, &k, zset_create(1, c->argvlen[idx + 1]), &ref);
    }
    struct zset *z = zset_of(e);
    for (int j = 0; j < elements; j++) {
        int out;
        double newscore;
        bool ok = zset_add(&z, scores[j], c->argv[idx + 2 * j + 1], c->argvlen[idx + 2 * j + 1],
                           flags, &out, &newscore);
        if (!ok) {
            zput(e, z);
            reply_error(c, ERR_NAN);
            goto done;
        }
        if (out & ZSET_OUT_ADDED) added++;
        if (out & ZSET_OUT_UPDATED) updated++;
        if (!(out & ZSET_OUT_NOP)) processed++;
        score = newscore;
    }
    zput(e, z);
    exec_dirty(c, added + updated);
reply:
    if (incr) {
        if (processed)
            reply_double(c, score);
        else
            reply_null(c);
    } else {
        reply_int(c, ch ? added + updated : added);
    }
done:
    if (added || updated) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", &k);
    }
out:
    if (scores != sbuf) xfree(scores);
}

void cmd_zadd(struct client *c) {
    zadd_generic(c, 0);
}
void cmd_zincrby(struct client *c) {
    zadd_generic(c, ZSET_IN_INCR);
}

/* ---- ZREM ZREMRANGEBY* ---------------------------------------------------------------------- */

void cmd_zrem(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct zset *z = zset_of(e);
    long long deleted = 0;
    bool removed = false;
    for (int j = 2; j < c->argc; j++) {
        if (zset_del(&z, c->argv[j], c->argvlen[j])) deleted++;
        if (zset_len(z) == 0) {
            removed = true;
            break;
        }
    }
    zput(e, z);
    if (deleted) {
        cmd_notify(c, NOTIFY_ZSET, "zrem", &k);
        if (removed) delete_if_empty(c, &ref, e);
        cmd_modified(c, &k);
        exec_dirty(c, deleted);
    }
    reply_int(c, deleted);
}

enum zrange_type { ZR_AUTO = 0, ZR_RANK, ZR_SCORE, ZR_LEX };

static void zremrange_generic(struct client *c, enum zrange_type type) {
    long long start = 0, end = 0;
    struct zsl_range range;
    struct zsl_lex_range lex;
    const char *event;
    if (type == ZR_RANK) {
        event = "zremrangebyrank";
        if (!cmd_ll(c, 2, &start) || !cmd_ll(c, 3, &end)) return;
    } else if (type == ZR_SCORE) {
        event = "zremrangebyscore";
        if (!cmd_zset_parse_range(c, 2, 3, &range)) {
            reply_error(c, ERR_RANGE_FLOAT);
            return;
        }
    } else {
        event = "zremrangebylex";
        if (!parse_lex_range(c, 2, 3, &lex)) {
            reply_error(c, ERR_RANGE_LEX);
            return;
        }
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct zset *z = zset_of(e);
    size_t deleted;
    if (type == ZR_RANK) {
        long long llen = (long long)zset_len(z);
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen) {
            reply_int(c, 0);
            return;
        }
        if (end >= llen) end = llen - 1;
        deleted = zset_delete_rank(&z, (size_t)start, (size_t)end);
    } else if (type == ZR_SCORE) {
        deleted = zset_delete_score(&z, &range);
    } else {
        deleted = zset_delete_lex(&z, &lex);
    }
    zput(e, z);
    if (deleted) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_ZSET, event, &k);
        delete_if_empty(c, &ref, e);
        exec_dirty(c, (long long)deleted);
    }
    reply_int(c, (long long)deleted);
}

void cmd_zremrangebyrank(struct client *c) {
    zremrange_generic(c, ZR_RANK);
}
void cmd_zremrangebyscore(struct client *c) {
    zremrange_generic(c, ZR_SCORE);
}
void cmd_zremrangebylex(struct client *c) {
    zremrange_generic(c, ZR_LEX);
}

/* ---- ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ---------------------------------- */

void cmd_zcard(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    reply_int(c, (long long)zset_len(zset_of(e)));
}

void cmd_zscore(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    double score;
    if (zset_score(zset_of(e), c->argv[2], c->argvlen[2], &score))
        reply_double(c, score);
    else
        reply_null(c);
}

void cmd_zmscore(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e && wrongtype(c, e)) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        if (e && zset_score(zset_of(e), c->argv[j], c->argvlen[j], &score))
            reply_double(c, score);
        else
            reply_null(c);
    }
}

static void zrank_generic(struct client *c, bool rev) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    long rank = zset_rank(zset_of(e), c->argv[2], c->argvlen[2], rev, NULL);
    if (rank >= 0)
        reply_int(c, rank);
    else
        reply_null(c);
}

void cmd_zrank(struct client *c) {
    zrank_generic(c, false);
}
void cmd_zrevrank(struct client *c) {
    zrank_generic(c, true);
}

void cmd_zcount(struct client *c) {
    struct zsl_range r;
    if (!cmd_zset_parse_range(c, 2, 3, &r)) {
        reply_error(c, ERR_RANGE_FLOAT);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    reply_int(c, (long long)zset_count_score(zset_of(e), &r));
}

void cmd_zlexcount(struct client *c) {
    struct zsl_lex_range r;
    if (!parse_lex_range(c, 2, 3, &r)) {
        reply_error(c, ERR_RANGE_LEX);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    reply_int(c, (long long)zset_count_lex(zset_of(e), &r));
}

/* ---- ZRANGE and friends, ZRANGESTORE ----------------------------------------------------------
 */

/* Where a range goes: the client, or a new set stored at `dst`. */
struct zr_out {
    struct client *c;
    bool store;
    bool withscores;
    struct store_key dst;
    struct zset *z;         /* store: the result */
    struct onode *deferred; /* client: length not known in advance */
    size_t count;
};

static void zr_begin(struct zr_out *o, long length) {
    if (o->store) {
        o->z = length > (long)zset_max_entries() ? zset_create_skiplist() : zset_create(0, 0);
        return;
    }
    if (length > 0) {
        reply_array(o->c, o->withscores && o->c->resp == 2 ? length * 2 : length);
        o->deferred = NULL;
    } else {
        o->deferred = reply_defer(o->c);
    }
}

static void zr_emit(struct zr_out *o, const struct zset_elem *e) {
    o->count++;
    if (o->store) {
        int out;
        zset_add(&o->z, e->score, e->m, e->mlen, 0, &out, NULL);
        return;
    }
    reply_elem(o->c, e, o->withscores);
}

static void zr_finish(struct zr_out *o) {
    struct client *c = o->c;
    if (!o->store) {
        if (o->deferred)
            reply_defer_array(c, o->deferred,
                              o->withscores && c->resp == 2 ? (long long)o->count * 2
                                                            : (long long)o->count);
        return;
    }
    if (o->count) {
        cmd_zset_store(c, &o->dst, o->z);
        reply_int(c, (long long)o->count);
        cmd_notify(c, NOTIFY_ZSET, "zrangestore", &o->dst);
        exec_dirty(c, 1);
    } else {
        zset_destroy(o->z);
        reply_int(c, 0);
        cmd_delete_if_exists(c, &o->dst);
    }
}

static void range_by_rank(struct zr_out *o, const struct zset *z, long long start, long long end,
                          bool rev) {
    long long llen = (long long)zset_len(z);
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        zr_begin(o, 0);
        zr_finish(o);
        return;
    }
    if (end >= llen) end = llen - 1;
    long long n = end - start + 1;
    zr_begin(o, (long)n);
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_rank(z, &it, (size_t)start, rev);
    while (n-- > 0 && zset_iter_next(&it, &e)) zr_emit(o, &e);
    zr_finish(o);
}

/* Skip `offset` elements as Redis does: a negative offset skips them all. */
static void skip_offset(struct zset_iter *it, long long offset) {
    if (offset < 0)
        zset_iter_skip(it, SIZE_MAX);
    else
        zset_iter_skip(it, (size_t)offset);
}

static void range_by_score(struct zr_out *o, const struct zset *z, const struct zsl_range *r,
                           long long offset, long long limit, bool rev) {
    zr_begin(o, -1);
    if (offset > 0 && offset >= (long long)zset_len(z)) {
        zr_finish(o);
        return;
    }
    struct zset_iter it;
    struct zset_elem e;
    if (zset_iter_score(z, &it, r, rev)) {
        skip_offset(&it, offset);
        while (limit-- != 0 && zset_iter_next(&it, &e)) {
            if (rev ? !zsl_score_gte_min(e.score, r) : !zsl_score_lte_max(e.score, r)) break;
            zr_emit(o, &e);
        }
    }
    zr_finish(o);
}

static void range_by_lex(struct zr_out *o, const struct zset *z, const struct zsl_lex_range *r,
                         long long offset, long long limit, bool rev) {
    zr_begin(o, -1);
    struct zset_iter it;
    struct zset_elem e;
    if (zset_iter_lex(z, &it, r, rev)) {
        skip_offset(&it, offset);
        while (limit-- != 0 && zset_iter_next(&it, &e)) {
            if (rev ? !zsl_lex_gte_min(e.m, e.mlen, r) : !zsl_lex_lte_max(e.m, e.mlen, r)) break;
            zr_emit(o, &e);
        }
    }
    zr_finish(o);
}

enum zr_dir { ZR_DIR_AUTO = 0, ZR_FORWARD, ZR_REVERSE };

/* Redis's zrangeGenericCommand: argv[src] is the source key, then min max
 * and the options. */
static void zrange_generic(struct client *c, int src, bool store, enum zrange_type type,
                           enum zr_dir dir) {
    int imin = src + 1, imax = src + 2;
    bool withscores = false;
    long long offset = 0, limit = -1;
    for (int j = src + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && cmd_arg_is(c, j, "WITHSCORES")) {
            withscores = true;
        } else if (cmd_arg_is(c, j, "LIMIT") && left >= 2) {
            if (!cmd_ll(c, j + 1, &offset) || !cmd_ll(c, j + 2, &limit)) return;
            j += 2;
        } else if (dir == ZR_DIR_AUTO && cmd_arg_is(c, j, "REV")) {
            dir = ZR_REVERSE;
        } else if (type == ZR_AUTO && cmd_arg_is(c, j, "BYLEX")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && cmd_arg_is(c, j, "BYSCORE")) {
            type = ZR_SCORE;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (dir == ZR_DIR_AUTO) dir = ZR_FORWARD;
    if (type == ZR_AUTO) type = ZR_RANK;
    if (limit != -1 && type == ZR_RANK) {
        reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZR_LEX) {
        reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    bool rev = dir == ZR_REVERSE;
    if (rev && (type == ZR_SCORE || type == ZR_LEX)) {
        int t = imin;
        imin = imax;
        imax = t;
    }
    long long start = 0, end = 0;
    struct zsl_range range;
    struct zsl_lex_range lex;
    if (type == ZR_RANK) {
        if (!cmd_ll(c, imin, &start) || !cmd_ll(c, imax, &end)) return;
    } else if (type == ZR_SCORE) {
        if (!cmd_zset_parse_range(c, imin, imax, &range)) {
            reply_error(c, ERR_RANGE_FLOAT);
            return;
        }
    } else if (!parse_lex_range(c, imin, imax, &lex)) {
        reply_error(c, ERR_RANGE_LEX);
        return;
    }
    struct zr_out o = {c, store, withscores || store, {0}, NULL, NULL, 0};
    if (store) cmd_key(c, 1, &o.dst);
    struct store_key k;
    cmd_key(c, src, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        if (store) {
            zr_begin(&o, -1);
            zr_finish(&o);
        } else {
            reply_array(c, 0);
        }
        return;
    }
    if (wrongtype(c, e)) return;
    const struct zset *z = zset_of(e);
    if (type == ZR_RANK)
        range_by_rank(&o, z, start, end, rev);
    else if (type == ZR_SCORE)
        range_by_score(&o, z, &range, offset, limit, rev);
    else
        range_by_lex(&o, z, &lex, offset, limit, rev);
}

void cmd_zrange(struct client *c) {
    zrange_generic(c, 1, false, ZR_AUTO, ZR_DIR_AUTO);
}
void cmd_zrangestore(struct client *c) {
    zrange_generic(c, 2, true, ZR_AUTO, ZR_DIR_AUTO);
}
void cmd_zrevrange(struct client *c) {
    zrange_generic(c, 1, false, ZR_RANK, ZR_REVERSE);
}
void cmd_zrangebyscore(struct client *c) {
    zrange_generic(c, 1, false, ZR_SCORE, ZR_FORWARD);
}
void cmd_zrevrangebyscore(struct client *c) {
    zrange_generic(c, 1, false, ZR_SCORE, ZR_REVERSE);
}
void cmd_zrangebylex(struct client *c) {
    zrange_generic(c, 1, false, ZR_LEX, ZR_FORWARD);
}
void cmd_zrevrangebylex(struct client *c) {
    zrange_generic(c, 1, false, ZR_LEX, ZR_REVERSE);
}

/* ---- ZPOPMIN ZPOPMAX ZMPOP BZPOPMIN BZPOPMAX BZMPOP ---------------------------------------------
 */

/* What a served blocked pop took, to put it back if the client is gone. */
struct zpop_undo {
    struct store_key key;
    size_t n;
    char **m;
    size_t *mlen;
    double *score;
    char keybuf[];
};

static struct zpop_undo *zpop_undo_new(const struct store_key *k, size_t n) {
    struct zpop_undo *u = xcalloc(1, sizeof(*u) + k->len);
    memcpy(u->keybuf, k->ptr, k->len);
    u->key = *k;
    u->key.ptr = u->keybuf;
    u->m = xcalloc(n ? n : 1, sizeof(char *));
    u->mlen = xcalloc(n ? n : 1, sizeof(size_t));
    u->score = xcalloc(n ? n : 1, sizeof(double));
    return u;
}

static void zpop_undo_free(void *arg) {
    struct zpop_undo *u = arg;
    for (size_t i = 0; i < u->n; i++) xfree(u->m[i]);
    xfree(u->m);
    xfree(u->mlen);
    xfree(u->score);
    xfree(u);
}

/* Pop up to count (-1: one, flat) elements from the set at (k, ref, e),
 * with Redis's reply shapes: emitkey names the key, nested gives pairs as
 * arrays. Signals, notifies, counts changes, deletes the emptied key. The
 * popped pairs go to u when given. Returns how many were popped. */
static long long zpop_key(struct client *c, const struct store_key *k, struct store_ref *ref,
                          struct entry *e, bool max, bool emitkey, long long count, bool nested,
                          struct zpop_undo *u) {
    if (count == -1) count = 1;
    struct zset *z = zset_of(e);
    long long llen = (long long)zset_len(z);
    long long n = count > llen ? llen : count;
    if (!nested && !emitkey) {
        reply_array(c, n * 2);
    } else if (nested && !emitkey) {
        reply_array(c, n);
    } else if (!nested && emitkey) {
        reply_array(c, n * 2 + 1);
        reply_bulk(c, k->ptr, k->len);
    } else {
        reply_array(c, 2);
        reply_bulk(c, k->ptr, k->len);
        reply_array(c, n);
    }
    for (long long i = 0; i < n; i++) {
        struct zset_elem el;
        char buf[ZSET_INTBUF];
        zset_at_rank(z, max ? zset_len(z) - 1 : 0, &el, buf);
        if (nested) reply_array(c, 2);
        reply_bulk(c, el.m, el.mlen);
        reply_double(c, el.score);
        /* el.m may point into the set: copy it before deleting. */
        char *m = xmemdup(el.m, el.mlen ? el.mlen : 1);
        bool ok = zset_del(&z, m, el.mlen);
        ASSERT(ok);
        if (u) {
            u->m[u->n] = m;
            u->mlen[u->n] = el.mlen;
            u->score[u->n++] = el.score;
        } else {
            xfree(m);
        }
    }
    zput(e, z);
    exec_dirty(c, n);
    cmd_notify(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", k);
    cmd_modified(c, k);
    delete_if_empty(c, ref, e);
    return n;
}

/* The first existing key of argv[first..first+nkeys) (NULL: none, or
 * WRONGTYPE replied when *err). */
static struct entry *first_zset(struct client *c, int first, int nkeys, struct store_key *k,
                                struct store_ref *ref, bool *err) {
    *err = false;
    for (int j = 0; j < nkeys; j++) {
        cmd_key(c, first + j, k);
        struct entry *e = cmd_lookup_write(c, k, ref);
        if (e == NULL) continue;
        if (wrongtype(c, e)) {
            *err = true;
            return NULL;
        }
        return e;
    }
    return NULL;
}

/* Stage "ZPOPMIN|ZPOPMAX key [n]" (n < 0: without count). */
static void propagate_zpop(struct client *c, const struct store_key *k, bool max, long long n) {
    char num[STR_LL_MAX];
    int nlen = n >= 0 ? ll_to_str(num, sizeof(num), n) : 0;
    const char *argv[3] = {max ? "ZPOPMAX" : "ZPOPMIN", k->ptr, num};
    size_t lens[3] = {7, k->len, (size_t)nlen};
    exec_propagate(c, n >= 0 ? 3 : 2, argv, lens);
}

static void zpop_minmax(struct client *c, bool max) {
    if (c->argc > 3) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3 && !cmd_ll_range(c, 2, 0, LONG_MAX, &count, RERR_NEGATIVE_COUNT)) return;
    bool nested = c->resp > 2 && count != -1;
    struct store_key k;
    struct store_ref ref;
    bool err;
    struct entry *e = first_zset(c, 1, 1, &k, &ref, &err);
    if (err) return;
    if (e == NULL || count == 0) {
        reply_array(c, 0);
        return;
    }
    zpop_key(c, &k, &ref, e, max, false, count, nested, NULL);
}

void cmd_zpopmin(struct client *c) {
    zpop_minmax(c, false);
}
void cmd_zpopmax(struct client *c) {
    zpop_minmax(c, true);
}

/* ZMPOP/BZMPOP arguments from argv[numkeys_i]: numkeys, MIN|MAX, COUNT. */
static bool parse_zmpop(struct client *c, int numkeys_i, long long *numkeys, bool *max,
                        long long *count) {
    if (!cmd_ll_range(c, numkeys_i, 1, LONG_MAX, numkeys, "ERR numkeys should be greater than 0"))
        return false;
    long long where_idx = numkeys_i + *numkeys + 1;
    if (where_idx >= c->argc) {
        reply_error(c, RERR_SYNTAX);
        return false;
    }
    if (cmd_arg_is(c, (int)where_idx, "MIN")) {
        *max = false;
    } else if (cmd_arg_is(c, (int)where_idx, "MAX")) {
        *max = true;
    } else {
        reply_error(c, RERR_SYNTAX);
        return false;
    }
    *count = -1;
    for (int j = (int)where_idx + 1; j < c->argc; j++) {
        bool more = j < c->argc - 1;
        if (*count == -1 && cmd_arg_is(c, j, "COUNT") && more) {
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

void cmd_zmpop(struct client *c) {
    long long numkeys, count;
    bool max;
    if (!parse_zmpop(c, 1, &numkeys, &max, &count)) return;
    struct store_key k;
    struct store_ref ref;
    bool err;
    struct entry *e = first_zset(c, 2, (int)numkeys, &k, &ref, &err);
    if (err) return;
    if (e == NULL) {
        reply_null_array(c);
        return;
    }
    /* Propagated as ZPOPMIN/ZPOPMAX key count (Redis 7.0). */
    propagate_zpop(c, &k, max, zpop_key(c, &k, &ref, e, max, true, count, true, NULL));
}

/* A blocked BZPOPMIN/BZPOPMAX/BZMPOP: its direction and count (-1: the
 * single-element BZPOP form). */
struct bzpop_arg {
    bool max;
    long long count;
};

struct zpop_undo_run {
    int db;
    struct zpop_undo *u;
};

/* [locked on the key] Add the popped pairs back (as ZADD, propagated). */
static void zpop_undo_locked(void *arg) {
    struct zpop_undo_run *r = arg;
    struct zpop_undo *u = r->u;
    struct client proxy;
    memset(&proxy, 0, sizeof(proxy));
    proxy.db = r->db;
    struct entry *e = store_lookup(r->db, &u->key, STORE_LOOKUP_WRITE, NULL);
    if (e && entry_type(e) != TYPE_ZSET) {
        log_warn(
            "Blocked client gone before its reply: key changed type, %zu popped element(s) dropped",
            u->n);
        return;
    }
    size_t maxlen = 0;
    for (size_t i = 0; i < u->n; i++) maxlen = MAX(maxlen, u->mlen[i]);
    if (e == NULL) e = add_key(&proxy, &u->key, zset_create(u->n, maxlen), NULL);
    struct zset *z = zset_of(e);
    int argc = 2 + 2 * (int)u->n;
    const char **argv = xmalloc(sizeof(char *) * (size_t)argc);
    size_t *lens = xmalloc(sizeof(size_t) * (size_t)argc);
    char(*nums)[STR_D_MAX] = xmalloc(sizeof(*nums) * (u->n ? u->n : 1));
    argv[0] = "ZADD";
    lens[0] = 4;
    argv[1] = u->key.ptr;
    lens[1] = u->key.len;
    for (size_t i = 0; i < u->n; i++) {
        int out;
        zset_add(&z, u->score[i], u->m[i], u->mlen[i], 0, &out, NULL);
        argv[2 + 2 * i] = nums[i];
        lens[2 + 2 * i] = (size_t)d_to_str_17g(nums[i], sizeof(nums[i]), u->score[i]);
        argv[3 + 2 * i] = u->m[i];
        lens[3 + 2 * i] = u->mlen[i];
    }
    zput(e, z);
    cmd_modified(&proxy, &u->key);
    cmd_notify(&proxy, NOTIFY_ZSET, "zadd", &u->key);
    exec_propagate(&proxy, argc, argv, lens);
    xfree(nums);
    xfree(lens);
    xfree(argv);
}

static void zpop_undo_run(int db, void *arg) {
    struct zpop_undo_run r = {db, arg};
    store_run_slot(r.u->key.slot, STORE_WRITE, zpop_undo_locked, &r);
    zpop_undo_free(r.u);
}

/* Serve a blocked sorted-set pop from k (non-empty, its stripe held), as
 * Redis's serveClientsBlockedOnSortedSetKey. */
static void zset_serve(struct client *c, const struct store_key *k, struct store_ref *ref,
                       struct entry *e, const struct store_key *target, void *argp, void **undo) {
    struct bzpop_arg *a = argp;
    long long llen = (long long)zset_len(zset_of(e));
    struct zpop_undo *u = zpop_undo_new(k, (size_t)(a->count == -1 ? 1 : MIN(a->count, llen)));
    bool nested = a->count != -1;
    zpop_key(c, k, ref, e, a->max, true, a->count, nested, u);
    propagate_zpop(c, k, a->max, a->count == -1 ? -1 : MIN(a->count, llen));
    *undo = u;
}

static const struct block_ops zset_block_ops = {
    .type = TYPE_ZSET,
    .serve = zset_serve,
    .undo = zpop_undo_run,
    .undo_free = zpop_undo_free,
    .timeout = NULL, /* a null array, as Redis 7.0 */
    .free_arg = NULL,
};

/* Redis's blockingGenericZpopCommand: pop at once from the first non-empty
 * key of argv[first..first+nkeys), else block. count -1: BZPOPMIN/MAX. */
static void bzpop_generic(struct client *c, int first, int nkeys, bool max, int timeout_i,
                          long long count) {
    int64_t deadline;
    if (!block_parse_timeout(c, timeout_i, &deadline)) return;
    struct store_key k;
    struct store_ref ref;
    bool err;
    struct entry *e = first_zset(c, first, nkeys, &k, &ref, &err);
    if (err) return;
    if (e) {
        long long llen = (long long)zset_len(zset_of(e));
        zpop_key(c, &k, &ref, e, max, true, count, count != -1, NULL);
        propagate_zpop(c, &k, max, count == -1 ? -1 : MIN(count, llen));
        return;
    }
    /* Inside MULTI/EXEC: as if the timeout had expired at once. */
    if (!block_allowed(c)) {
        reply_null_array(c);
        return;
    }
    struct bzpop_arg *a = xmalloc(sizeof(*a));
    a->max = max;
    a->count = count;
    int stack[16];
    int *pos = nkeys <= 16 ? stack : xmalloc((size_t)nkeys * sizeof(int));
    for (int i = 0; i < nkeys; i++) pos[i] = first + i;
    struct block_request r = {&zset_block_ops, a, deadline, pos, nkeys, -1};
    block_for_keys(c, &r);
    if (pos != stack) xfree(pos);
}

void cmd_bzpopmin(struct client *c) {
    bzpop_generic(c, 1, c->argc - 2, false, c->argc - 1, -1);
}
void cmd_bzpopmax(struct client *c) {
    bzpop_generic(c, 1, c->argc - 2, true, c->argc - 1, -1);
}

void cmd_bzmpop(struct client *c) {
    long long numkeys, count;
    bool max;
    if (!parse_zmpop(c, 2, &numkeys, &max, &count)) return;
    bzpop_generic(c, 3, (int)numkeys, max, 1, count);
}

/* ---- ZRANDMEMBER
 * ----------------------------------------------------------------------------------- */

/* A set of distinct ranks (open addressing; ranks + 1 so 0 means empty). */
struct rankset {
    size_t *slots;
    size_t mask;
};

static bool rankset_add(struct rankset *s, size_t r) {
    size_t i = (r * 0x9E3779B97F4A7C15ULL) >> 7 & s->mask;
    while (s->slots[i]) {
        if (s->slots[i] == r + 1) return false;
        i = (i + 1) & s->mask;
    }
    s->slots[i] = r + 1;
    return true;
}

static void zrandmember_count(struct client *c, long long l, bool withscores) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_array(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    const struct zset *z = zset_of(e);
    size_t size = zset_len(z);
    bool uniq = l >= 0;
    unsigned long long count = l >= 0 ? (unsigned long long)l : (unsigned long long)(-l);
    if (count == 0) {
        reply_array(c, 0);
        return;
    }
    struct zset_elem el;
    char buf[ZSET_INTBUF];
    /* Repetitions allowed (or one element): independent uniform picks. */
    if (!uniq || count == 1) {
        reply_array(c, (long long)(withscores && c->resp == 2 ? count * 2 : count));
        for (unsigned long long i = 0; i < count; i++) {
            zset_at_rank(z, (size_t)rand_below(size), &el, buf);
            reply_elem(c, &el, withscores);
            if ((i & 1023) == 1023 && !client_check_output_limits(c) &&
                (c->flags & CLIENT_CLOSE_ASAP))
                break;
        }
        return;
    }
    size_t n = count < size ? (size_t)count : size;
    reply_array(c, (long long)(withscores && c->resp == 2 ? n * 2 : n));
    struct zset_iter it;
    if (count >= size) {
        zset_iter_rank(z, &it, 0, false);
        while (zset_iter_next(&it, &el)) reply_elem(c, &el, withscores);
        return;
    }
    if (count * 3 > size) {
        /* A random selection of n ranks by a partial Fisher-Yates shuffle. */
        size_t *idx = xmalloc(size * sizeof(size_t));
        for (size_t i = 0; i < size; i++) idx[i] = i;
        for (size_t i = 0; i < n; i++) {
            size_t j = i + (size_t)rand_below(size - i);
            size_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
            zset_at_rank(z, idx[i], &el, buf);
            reply_elem(c, &el, withscores);
        }
        xfree(idx);
        return;
    }
    /* Few of many: random ranks, skipping repeats. */
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    struct rankset rs = {xcalloc(cap, sizeof(size_t)), cap - 1};
    for (size_t added = 0; added < n;) {
        size_t r = (size_t)rand_below(size);
        if (!rankset_add(&rs, r)) continue;
        added++;
        zset_at_rank(z, r, &el, buf);
        reply_elem(c, &el, withscores);
    }
    xfree(rs.slots);
}

void cmd_zrandmember(struct client *c) {
    if (c->argc >= 3) {
        long long l;
        if (!cmd_ll(c, 2, &l)) return;
        if (l < -LONG_MAX) {
            reply_errorf(c, "ERR value is out of range, value must between %ld and %ld", -LONG_MAX,
                         LONG_MAX);
            return;
        }
        bool withscores = false;
        if (c->argc > 4 || (c->argc == 4 && !cmd_arg_is(c, 3, "WITHSCORES"))) {
            reply_error(c, RERR_SYNTAX);
            return;
        }
        if (c->argc == 4) {
            withscores = true;
            if (l < -LONG_MAX / 2 || l > LONG_MAX / 2) {
                reply_error(c, "ERR value is out of range");
                return;
            }
        }
        zrandmember_count(c, l, withscores);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    const struct zset *z = zset_of(e);
    struct zset_elem el;
    char buf[ZSET_INTBUF];
    zset_at_rank(z, (size_t)rand_below(zset_len(z)), &el, buf);
    reply_bulk(c, el.m, el.mlen);
}

/* ---- ZSCAN
 * -------------------------------------------------------------------------------------------- */

/* One element of a skiplist set: the score as Redis formats a double
 * object (%.17g). */
static void scan_elem(const struct zset_elem *e, void *arg) {
    struct cmd_scan *s = arg;
    s->seen += 2;
    if (!cmd_scan_match(s, e->m, e->mlen)) return;
    char num[STR_D_MAX];
    int n = d_to_str_17g(num, sizeof(num), e->score);
    cmd_scan_add(s, e->m, e->mlen);
    cmd_scan_add(s, num, (size_t)n);
}

void cmd_zscan(struct client *c) {
    uint64_t cursor;
    if (!cmd_scan_cursor(c, 2, &cursor)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        cmd_reply_empty_scan(c);
        return;
    }
    if (wrongtype(c, e)) return;
    struct cmd_scan s;
    if (!cmd_scan_options(c, 3, &s)) return;
    const struct zset *z = zset_of(e);
    if (zset_is_listpack(z)) {
        /* Small sets come whole, the scores as stored (Redis's d2string). */
        struct zset_iter it;
        struct zset_elem el;
        zset_iter_rank(z, &it, 0, false);
        while (zset_iter_next(&it, &el)) {
            if (!cmd_scan_match(&s, el.m, el.mlen)) continue;
            char num[STR_D_MAX];
            int n = d_to_str(num, sizeof(num), el.score);
            cmd_scan_add(&s, el.m, el.mlen);
            cmd_scan_add(&s, num, (size_t)n);
        }
        cursor = 0;
    } else {
        /* Redis 7.0 bounds the loop by its reply list, which holds members
         * and scores: about COUNT/2 members per call, as HSCAN's pairs. */
        long maxiter = s.count * 10;
        do {
            cursor = zset_scan(z, cursor, scan_elem, &s);
        } while (cursor && maxiter-- && s.seen < s.count);
    }
    cmd_scan_reply(c, cursor, &s);
}

/* ---- ZUNION ZINTER ZDIFF (STORE) ZINTERCARD
 * ---------------------------------------------------------- */

enum setop { OP_UNION, OP_INTER, OP_DIFF };
enum aggr { AGGR_SUM, AGGR_MIN, AGGR_MAX };

/* One input: a sorted set, a set (every score 1), or a missing key. The
 * same key given twice is the same entry (INTER compares them). */
struct zsrc {
    const struct entry *e;
    double weight;
    size_t len;
};

static size_t src_len(const struct entry *e) {
    if (e == NULL) return 0;
    if (entry_type(e) == TYPE_SET) return set_len(entry_obj(e));
    return zset_len(zset_of(e));
}

static bool src_find(const struct zsrc *s, const char *m, size_t n, double *score) {
    if (s->e == NULL) return false;
    if (entry_type(s->e) == TYPE_SET) {
        if (!set_contains(entry_obj(s->e), m, n)) return false;
        *score = 1.0;
        return true;
    }
    return zset_score(zset_of(s->e), m, n, score);
}

/* Visit the elements of s until fn returns false (set members score 1). */
typedef bool (*src_fn)(const struct zset_elem *el, void *arg);
static void src_foreach(const struct zsrc *s, src_fn fn, void *arg) {
    if (s->e == NULL) return;
    struct zset_elem el;
    if (entry_type(s->e) == TYPE_SET) {
        struct set_iter it;
        struct set_str m;
        set_iter_init(entry_obj(s->e), &it);
        while (set_iter_next(&it, &m)) {
            el.m = m.ptr;
            el.mlen = m.len;
            el.score = 1.0;
            if (!fn(&el, arg)) break;
        }
        set_iter_done(&it);
        return;
    }
    struct zset_iter it;
    zset_iter_rank(zset_of(s->e), &it, 0, false);
    while (zset_iter_next(&it, &el))
        if (!fn(&el, arg)) return;
}

static void aggregate(double *target, double v, enum aggr a) {
    if (a == AGGR_SUM) {
        *target += v;
        /* The sum of +inf and -inf is NaN: Redis makes it 0. */
        if (isnan(*target)) *target = 0.0;
    } else if (a == AGGR_MIN) {
        *target = v < *target ? v : *target;
    } else {
        *target = v > *target ? v : *target;
    }
}

struct setop_ctx {
    struct zsrc *src;
    long setnum;
    enum aggr aggr;
    struct zset *dst;
    size_t maxelelen, totelelen;
    bool card_only;
    unsigned long long card, limit;
    const struct zsrc *cur;
};

static void dst_insert(struct setop_ctx *x, const struct zset_elem *el, double score) {
    int out;
    zset_add(&x->dst, score, el->m, el->mlen, 0, &out, NULL);
    x->totelelen += el->mlen;
    if (el->mlen > x->maxelelen) x->maxelelen = el->mlen;
}

static bool inter_elem(const struct zset_elem *el, void *arg) {
    struct setop_ctx *x = arg;
    double score = x->src[0].weight * el->score;
    if (isnan(score)) score = 0;
    long j;
    for (j = 1; j < x->setnum; j++) {
        double v;
        if (x->src[j].e == x->src[0].e) {
            v = el->score * x->src[j].weight;
        } else if (src_find(&x->src[j], el->m, el->mlen, &v)) {
            v *= x->src[j].weight;
        } else {
            break;
        }
        aggregate(&score, v, x->aggr);
    }
    if (j < x->setnum) return true;
    if (x->card_only) {
        x->card++;
        return !(x->limit && x->card >= x->limit);
    }
    dst_insert(x, el, score);
    return true;
}

static bool union_elem(const struct zset_elem *el, void *arg) {
    struct setop_ctx *x = arg;
    double score = x->cur->weight * el->score;
    if (isnan(score)) score = 0;
    double cur;
    if (zset_score(x->dst, el->m, el->mlen, &cur)) {
        aggregate(&cur, score, x->aggr);
        zset_set_score(&x->dst, el->m, el->mlen, cur);
    } else {
        dst_insert(x, el, score);
    }
    return true;
}

static bool diff_elem(const struct zset_elem *el, void *arg) {
    struct setop_ctx *x = arg;
    double v;
    for (long j = 1; j < x->setnum; j++)
        if (src_find(&x->src[j], el->m, el->mlen, &v)) return true;
    dst_insert(x, el, el->score);
    return true;
}

/* Redis's zunionInterDiffGenericCommand. dst: argv index of the
 * destination (0: reply instead); numkeys_i: argv index of numkeys. */
static void setop_generic(struct client *c, int dst, int numkeys_i, enum setop op, bool card_only) {
    long long setnum;
    if (!cmd_ll(c, numkeys_i, &setnum)) return;
    if (setnum < 1) {
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->fullname);
        return;
    }
    if (setnum > c->argc - (numkeys_i + 1)) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    struct zsrc *src = xcalloc((size_t)setnum, sizeof(*src));
    int j = numkeys_i + 1;
    for (long i = 0; i < setnum; i++, j++) {
        struct store_key k;
        cmd_key(c, j, &k);
        struct entry *e = cmd_lookup_read(c, &k, NULL);
        if (e && entry_type(e) != TYPE_ZSET && entry_type(e) != TYPE_SET) {
            xfree(src);
            reply_error(c, RERR_WRONGTYPE);
            return;
        }
        src[i].e = e;
        src[i].weight = 1.0;
        src[i].len = src_len(e);
    }
    enum aggr aggr = AGGR_SUM;
    bool withscores = false;
    long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        if (op != OP_DIFF && !card_only && remaining >= setnum + 1 && cmd_arg_is(c, j, "WEIGHTS")) {
            j++;
            for (long i = 0; i < setnum; i++, j++) {
                if (!str_to_d(c->argv[j], c->argvlen[j], &src[i].weight)) {
                    xfree(src);
                    reply_error(c, "ERR weight value is not a float");
                    return;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && cmd_arg_is(c, j, "AGGREGATE")) {
            j++;
            if (cmd_arg_is(c, j, "SUM")) {
                aggr = AGGR_SUM;
            } else if (cmd_arg_is(c, j, "MIN")) {
                aggr = AGGR_MIN;
            } else if (cmd_arg_is(c, j, "MAX")) {
                aggr = AGGR_MAX;
            } else {
                xfree(src);
                reply_error(c, RERR_SYNTAX);
                return;
            }
            j++;
        } else if (remaining >= 1 && !dst && !card_only && cmd_arg_is(c, j, "WITHSCORES")) {
            j++;
            withscores = true;
        } else if (card_only && remaining >= 2 && cmd_arg_is(c, j, "LIMIT")) {
            j++;
            if (!cmd_ll_range(c, j, 0, LONG_MAX, &limit, "ERR LIMIT can't be negative")) {
                xfree(src);
                return;
            }
            j++;
        } else {
            xfree(src);
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (op != OP_DIFF) {
        /* Smallest first (a stable insertion sort, as glibc's merge sort). */
        for (long a = 1; a < setnum; a++) {
            struct zsrc t = src[a];
            long b = a - 1;
            while (b >= 0 && src[b].len > t.len) {
                src[b + 1] = src[b];
                b--;
            }
            src[b + 1] = t;
        }
    }
    struct setop_ctx x = {src, (long)setnum, aggr, zset_create_skiplist(),    0,
                          0,   card_only,    0,    (unsigned long long)limit, NULL};
    if (op == OP_INTER) {
        if (src[0].len > 0) src_foreach(&src[0], inter_elem, &x);
    } else if (op == OP_UNION) {
        for (long i = 0; i < setnum; i++) {
            x.cur = &src[i];
            src_foreach(&src[i], union_elem, &x);
        }
    } else if (src[0].len > 0) {
        src_foreach(&src[0], diff_elem, &x);
    }
    xfree(src);
    if (dst) {
        struct store_key dk;
        cmd_key(c, dst, &dk);
        size_t len = zset_len(x.dst);
        if (len) {
            zset_maybe_to_listpack(&x.dst, x.maxelelen, x.totelelen);
            cmd_zset_store(c, &dk, x.dst);
            reply_int(c, (long long)len);
            cmd_notify(c, NOTIFY_ZSET,
                       op == OP_UNION   ? "zunionstore"
                       : op == OP_INTER ? "zinterstore"
                                        : "zdiffstore",
                       &dk);
            exec_dirty(c, 1);
        } else {
            zset_destroy(x.dst);
            reply_int(c, 0);
            cmd_delete_if_exists(c, &dk);
        }
        return;
    }
    if (card_only) {
        reply_int(c, (long long)x.card);
    } else {
        size_t len = zset_len(x.dst);
        reply_array(c, (long long)(withscores && c->resp == 2 ? len * 2 : len));
        struct zset_iter it;
        struct zset_elem el;
        zset_iter_rank(x.dst, &it, 0, false);
        while (zset_iter_next(&it, &el)) reply_elem(c, &el, withscores);
    }
    zset_destroy(x.dst);
}

void cmd_zunionstore(struct client *c) {
    setop_generic(c, 1, 2, OP_UNION, false);
}
void cmd_zinterstore(struct client *c) {
    setop_generic(c, 1, 2, OP_INTER, false);
}
void cmd_zdiffstore(struct client *c) {
    setop_generic(c, 1, 2, OP_DIFF, false);
}
void cmd_zunion(struct client *c) {
    setop_generic(c, 0, 1, OP_UNION, false);
}
void cmd_zinter(struct client *c) {
    setop_generic(c, 0, 1, OP_INTER, false);
}
void cmd_zdiff(struct client *c) {
    setop_generic(c, 0, 1, OP_DIFF, false);
}
void cmd_zintercard(struct client *c) {
    setop_generic(c, 0, 1, OP_INTER, true);
}

/*
 * cmd/hash.c - the HASH family: HSET HSETNX HMSET HGET HMGET HDEL HLEN
 * HSTRLEN HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN,
 * with Redis 7.0's replies, errors, keyspace events, WATCH signals and
 * propagation; and the hash type's registration (type ops, the
 * hash-max-listpack-* options and their ziplist aliases).
 *
 * Values: a hash key's entry holds a `struct hash *` (types/hash.h) that
 *   every change may move or convert; commands store it back with
 *   entry_set_obj. A key whose hash loses its last field is deleted.
 *
 * Order of checks: as Redis 7.0 per command (HINCRBY parses its increment
 *   before looking the key up; HRANDFIELD validates its count before the
 *   lookup; HSCAN parses its cursor, then answers an empty scan for a missing
 *   key before looking at its options). Nothing changes before every
 *   argument is known to be valid.
 *
 * Effects: everything is propagated as received when it changed something,
 *   except HINCRBYFLOAT, which is propagated as HSET key field <result> so
 *   that replicas do not redo float arithmetic.
 *
 * Keyspace events: "new" when a key is created (dbAdd), then "hset",
 *   "hdel" (+ "del" when the key goes), "hincrby", "hincrbyfloat".
 *
 * Threading: every command runs [stripe-locked] on its key's stripe.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"
#include "config/config.h"
#include "types/hash.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>

/* ---- registration ---------------------------------------------------------------------------- */

static const struct type_ops hash_ops = {
    "hash", hash_free, hash_dup, hash_mem, hash_enc_name, hash_digest,
};

static _Atomic long long opt_entries = HASH_DEFAULT_MAX_LP_ENTRIES;
static _Atomic long long opt_value = HASH_DEFAULT_MAX_LP_VALUE;

static int apply_entries(long long v, char *err) {
    UNUSED(err);
    atomic_store(&opt_entries, v);
    hash_set_limits(v, atomic_load(&opt_value));
    return 0;
}
static int apply_value(long long v, char *err) {
    UNUSED(err);
    atomic_store(&opt_value, v);
    hash_set_limits(atomic_load(&opt_entries), v);
    return 0;
}

static struct config_option options[] = {
    /* Redis 7.0's defaults (config.c), not the older 128. */
    {"hash-max-listpack-entries", "hash-max-ziplist-entries", CFG_INT, 0, "512", 0, LONG_MAX, NULL,
     apply_entries, NULL, NULL, NULL, 0, NULL},
    {"hash-max-listpack-value", "hash-max-ziplist-value", CFG_MEMORY, 0, "64", 0, LONG_MAX, NULL,
     apply_value, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void cmd_hash_setup(void) {
    entry_register_type(TYPE_HASH, &hash_ops);
    config_register(options);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_HASH) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

static inline struct hash *hash_of(const struct entry *e) {
    return entry_obj(e);
}

/* A write's target: the existing hash (e set), or a new empty one to be
 * added by store_back. Returns false (after replying) on WRONGTYPE. */
struct target {
    struct store_key k;
    struct store_ref ref;
    struct entry *e;
    struct hash *h;
};

static bool lookup_write(struct client *c, struct target *t) {
    cmd_key(c, 1, &t->k);
    t->e = cmd_lookup_write(c, &t->k, &t->ref);
    if (t->e) {
        if (wrongtype(c, t->e)) return false;
        t->h = hash_of(t->e);
    } else {
        t->h = hash_new();
    }
    return true;
}

/* Store the (maybe moved) hash back, adding the key if it is new (with
 * Redis's "new" event). */
static void store_back(struct client *c, struct target *t) {
    if (t->e) {
        entry_set_obj(t->e, t->h);
        return;
    }
    t->e = entry_new_obj(t->k.ptr, t->k.len, TYPE_HASH, ENC_OBJ, t->h, -1);
    store_add(c->db, &t->k, t->e, &t->ref);
    cmd_notify(c, NOTIFY_NEW, "new", &t->k);
}

/* Drop a hash created by lookup_write that never got stored. */
static void drop_unstored(struct target *t) {
    if (!t->e) hash_free(t->h);
}

static void reply_hstr(struct client *c, const struct hash_str *s) {
    reply_bulk(c, s->ptr, s->len);
}

/* Redis's getRangeLongFromObjectOrReply without a message. */
static bool range_long(struct client *c, int i, long min, long max, long long *out) {
    long long v;
    if (!cmd_ll(c, i, &v)) return false;
    if (v < min || v > max) {
        reply_errorf(c, "ERR value is out of range, value must between %ld and %ld", min, max);
        return false;
    }
    *out = v;
    return true;
}

/* ---- HSET HSETNX HMSET ----------------------------------------------------------------------- */

static void hset_generic(struct client *c, bool hmset) {
    if (c->argc % 2 == 1) {
        reply_arity_error(c);
        return;
    }
    struct target t;
    if (!lookup_write(c, &t)) return;
    size_t small[32];
    size_t n = (size_t)c->argc - 2;
    size_t *lens = n <= ARRAY_LEN(small) ? small : xmalloc(n * sizeof(size_t));
    for (size_t i = 0; i < n; i++) lens[i] = c->argvlen[i + 2];
    hash_prepare(&t.h, lens, n);
    if (lens != small) xfree(lens);
    long long created = 0;
    for (int j = 2; j < c->argc; j += 2)
        created += hash_set(&t.h, c->argv[j], c->argvlen[j], c->argv[j + 1], c->argvlen[j + 1]);
    store_back(c, &t);
    if (hmset)
        reply_ok(c);
    else
        reply_int(c, created);
    cmd_modified(c, &t.k);
    cmd_notify(c, NOTIFY_HASH, "hset", &t.k);
    exec_dirty(c, (c->argc - 2) / 2);
}

void cmd_hset(struct client *c) {
    hset_generic(c, false);
}
void cmd_hmset(struct client *c) {
    hset_generic(c, true);
}

void cmd_hsetnx(struct client *c) {
    struct target t;
    if (!lookup_write(c, &t)) return;
    if (hash_exists(t.h, c->argv[2], c->argvlen[2])) {
        reply_int(c, 0);
        return;
    }
    size_t lens[2] = {c->argvlen[2], c->argvlen[3]};
    hash_prepare(&t.h, lens, 2);
    hash_set(&t.h, c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3]);
    store_back(c, &t);
    reply_int(c, 1);
    cmd_modified(c, &t.k);
    cmd_notify(c, NOTIFY_HASH, "hset", &t.k);
    exec_dirty(c, 1);
}

/* ---- reads ----------------------------------------------------------------------------------- */

/* The hash at argv[1] for reading: NULL when missing (nothing replied) or
 * of the wrong type (*err set, error replied). */
static struct hash *lookup_read(struct client *c, bool *err) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    *err = false;
    if (e == NULL) return NULL;
    if (wrongtype(c, e)) {
        *err = true;
        return NULL;
    }
    return hash_of(e);
}

static void reply_field(struct client *c, struct hash *h, int i) {
    struct hash_str v;
    if (h && hash_get(h, c->argv[i], c->argvlen[i], &v))
        reply_hstr(c, &v);
    else
        reply_null(c);
}

void cmd_hget(struct client *c) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    reply_field(c, h, 2);
}

void cmd_hmget(struct client *c) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) reply_field(c, h, i);
}

void cmd_hlen(struct client *c) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    reply_int(c, h ? (long long)hash_len(h) : 0);
}

void cmd_hstrlen(struct client *c) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    struct hash_str v;
    reply_int(c, h && hash_get(h, c->argv[2], c->argvlen[2], &v) ? (long long)v.len : 0);
}

void cmd_hexists(struct client *c) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    reply_int(c, h && hash_exists(h, c->argv[2], c->argvlen[2]) ? 1 : 0);
}

enum { WANT_KEYS = 1, WANT_VALUES = 2 };

static void getall_generic(struct client *c, int want) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    long long n = h ? (long long)hash_len(h) : 0;
    if (want == (WANT_KEYS | WANT_VALUES))
        reply_map(c, n);
    else
        reply_array(c, n);
    if (!h) return;
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(h, &it);
    while (hash_iter_next(&it, (want & WANT_KEYS) ? &f : NULL, (want & WANT_VALUES) ? &v : NULL)) {
        if (want & WANT_KEYS) reply_hstr(c, &f);
        if (want & WANT_VALUES) reply_hstr(c, &v);
    }
}

void cmd_hkeys(struct client *c) {
    getall_generic(c, WANT_KEYS);
}
void cmd_hvals(struct client *c) {
    getall_generic(c, WANT_VALUES);
}
void cmd_hgetall(struct client *c) {
    getall_generic(c, WANT_KEYS | WANT_VALUES);
}

/* ---- HDEL ------------------------------------------------------------------------------------ */

void cmd_hdel(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct hash *h = hash_of(e);
    long long deleted = 0;
    bool removed = false;
    for (int j = 2; j < c->argc; j++) {
        if (!hash_delete(&h, c->argv[j], c->argvlen[j])) continue;
        deleted++;
        if (hash_len(h) == 0) {
            removed = true;
            break;
        }
    }
    entry_set_obj(e, h);
    if (removed) store_delete(&ref);
    reply_int(c, deleted);
    if (deleted) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_HASH, "hdel", &k);
        if (removed) cmd_notify(c, NOTIFY_GENERIC, "del", &k);
        exec_dirty(c, deleted);
    }
}

/* ---- HINCRBY HINCRBYFLOAT -------------------------------------------------------------------- */

void cmd_hincrby(struct client *c) {
    long long incr, value = 0;
    if (!cmd_ll(c, 3, &incr)) return;
    struct target t;
    if (!lookup_write(c, &t)) return;
    const char *s;
    size_t len;
    long long ll;
    bool is_int;
    if (hash_get_raw(t.h, c->argv[2], c->argvlen[2], &s, &len, &ll, &is_int)) {
        if (is_int) {
            value = ll;
        } else if (!str_to_ll(s, len, &value)) {
            drop_unstored(&t);
            reply_error(c, "ERR hash value is not an integer");
            return;
        }
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        drop_unstored(&t);
        reply_error(c, RERR_OVERFLOW);
        return;
    }
    value += incr;
    char buf[STR_LL_MAX];
    int n = ll_to_str(buf, sizeof(buf), value);
    hash_set(&t.h, c->argv[2], c->argvlen[2], buf, (size_t)n);
    store_back(c, &t);
    reply_int(c, value);
    cmd_modified(c, &t.k);
    cmd_notify(c, NOTIFY_HASH, "hincrby", &t.k);
    exec_dirty(c, 1);
}

void cmd_hincrbyfloat(struct client *c) {
    long double incr, value = 0;
    if (!cmd_ld(c, 3, &incr)) return;
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    struct target t;
    if (!lookup_write(c, &t)) return;
    const char *s;
    size_t len;
    long long ll;
    bool is_int;
    if (hash_get_raw(t.h, c->argv[2], c->argvlen[2], &s, &len, &ll, &is_int)) {
        if (is_int) {
            value = (long double)ll;
        } else if (!str_to_ld(s, len, &value)) {
            drop_unstored(&t);
            reply_error(c, "ERR hash value is not a float");
            return;
        }
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        drop_unstored(&t);
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[STR_LD_MAX];
    int n = ld_to_str_human(buf, sizeof(buf), value);
    hash_set(&t.h, c->argv[2], c->argvlen[2], buf, (size_t)n);
    store_back(c, &t);
    reply_bulk(c, buf, (size_t)n);
    cmd_modified(c, &t.k);
    cmd_notify(c, NOTIFY_HASH, "hincrbyfloat", &t.k);
    exec_dirty(c, 1);
    const char *argv[4] = {"HSET", t.k.ptr, c->argv[2], buf};
    size_t lens[4] = {4, t.k.len, c->argvlen[2], (size_t)n};
    exec_propagate(c, 4, argv, lens);
}

/* ---- HRANDFIELD ------------------------------------------------------------------------------ */

struct rand_out {
    struct client *c;
    bool withvalues;
};

static void reply_pair(struct client *c, const struct hash_str *f, const struct hash_str *v,
                       bool withvalues) {
    if (withvalues && c->resp > 2) reply_array(c, 2);
    reply_hstr(c, f);
    if (withvalues) reply_hstr(c, v);
}

static void rand_pair_cb(const struct hash_str *f, const struct hash_str *v, void *arg) {
    struct rand_out *o = arg;
    reply_pair(o->c, f, v, o->withvalues);
}

/* Stop producing a huge reply once the client is over its output limit
 * (Redis: CLIENT_CLOSE_ASAP). Checked every so many elements. */
static bool over_output_limit(struct client *c, unsigned long i) {
    return (i & 1023) == 1023 && !client_check_output_limits(c);
}

static void hrandfield_count(struct client *c, long l, bool withvalues) {
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    if (!h) {
        reply_array(c, 0);
        return;
    }
    size_t size = hash_len(h);
    bool uniq = l >= 0;
    unsigned long count = uniq ? (unsigned long)l : (unsigned long)-l;
    if (count == 0) {
        reply_array(c, 0);
        return;
    }
    /* Negative count (or 1): independent draws, repeats allowed. */
    if (!uniq || count == 1) {
        reply_array(c, (long long)(withvalues && c->resp == 2 ? count * 2 : count));
        struct hash_sampler s;
        hash_sampler_init(h, &s);
        struct hash_str f, v;
        for (unsigned long i = 0; i < count; i++) {
            hash_sampler_get(&s, &f, withvalues ? &v : NULL);
            reply_pair(c, &f, &v, withvalues);
            if (over_output_limit(c, i)) break;
        }
        hash_sampler_free(&s);
        return;
    }
    size_t n = count < size ? count : size;
    reply_array(c, (long long)(withvalues && c->resp == 2 ? n * 2 : n));
    if (count >= size) {
        struct hash_iter it;
        struct hash_str f, v;
        hash_iter_init(h, &it);
        while (hash_iter_next(&it, &f, withvalues ? &v : NULL)) reply_pair(c, &f, &v, withvalues);
        return;
    }
    struct rand_out o = {c, withvalues};
    hash_random_distinct(h, count, withvalues, rand_pair_cb, &o);
}

void cmd_hrandfield(struct client *c) {
    if (c->argc >= 3) {
        long long l;
        if (!range_long(c, 2, -LONG_MAX, LONG_MAX, &l)) return;
        bool withvalues = false;
        if (c->argc > 4 || (c->argc == 4 && !cmd_arg_is(c, 3, "WITHVALUES"))) {
            reply_error(c, RERR_SYNTAX);
            return;
        }
        if (c->argc == 4) {
            withvalues = true;
            if (l < -LONG_MAX / 2 || l > LONG_MAX / 2) {
                reply_error(c, "ERR value is out of range");
                return;
            }
        }
        hrandfield_count(c, (long)l, withvalues);
        return;
    }
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    if (!h) {
        reply_null(c);
        return;
    }
    struct hash_str f;
    hash_random(h, &f, NULL);
    reply_hstr(c, &f);
}

/* ---- HSCAN ----------------------------------------------------------------------------------- */

static void scan_pair_cb(const struct hash_str *f, const struct hash_str *v, void *arg) {
    struct cmd_scan *s = arg;
    s->seen += 2;
    if (!cmd_scan_match(s, f->ptr, f->len)) return;
    cmd_scan_add(s, f->ptr, f->len);
    cmd_scan_add(s, v->ptr, v->len);
}

void cmd_hscan(struct client *c) {
    uint64_t cursor;
    if (!cmd_scan_cursor(c, 2, &cursor)) return;
    bool err;
    struct hash *h = lookup_read(c, &err);
    if (err) return;
    if (!h) {
        cmd_reply_empty_scan(c);
        return;
    }
    struct cmd_scan s;
    if (!cmd_scan_options(c, 3, &s)) return;
    if (hash_encoding(h) == HASH_ENC_LISTPACK) {
        hash_scan(h, 0, scan_pair_cb, &s);
        cursor = 0;
    } else {
        long maxiter = s.count * 10;
        do {
            cursor = hash_scan(h, cursor, scan_pair_cb, &s);
        } while (cursor && maxiter-- && s.seen < s.count);
    }
    cmd_scan_reply(c, cursor, &s);
}

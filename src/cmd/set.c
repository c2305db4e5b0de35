/*
 * cmd/set.c - the SET family: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD
 * SPOP SRANDMEMBER SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE
 * SDIFF SDIFFSTORE SSCAN, with Redis 7.0's replies, errors, keyspace
 * events, WATCH signals and propagation; and the set type's registration
 * (type ops, set-max-intset-entries).
 *
 * Values: a set key's entry holds a `struct set *` (types/set.h) that every
 *   change may move or convert; commands store it back with entry_set_obj.
 *   A key whose set loses its last member is deleted.
 *
 * Multi-key commands run with every key's stripe locked (the dispatcher
 *   locks them from the key specs), so they are atomic; all source keys are
 *   type-checked before anything is computed, and a STORE variant replaces
 *   its destination only once the result is complete (the destination may
 *   be one of the sources).
 *
 * Temporaries: SINTER, SDIFF and SINTERCARD reply while walking a source
 *   (no copy); SUNION of a few sets emits each member of set j that is in
 *   none of the sets before it (no copy); only SUNION of many sets builds a
 *   temporary set, freed lazily when big. STORE variants build exactly the
 *   set they store.
 *
 * Effects: propagated as received, except SPOP: one member as
 *   SREM key member, with a count as one SREM per popped member, or DEL key
 *   when it pops the whole set (Redis 7.0). SRANDMEMBER changes nothing.
 *
 * Keyspace events: "new" when a key is created, then "sadd", "srem",
 *   "spop", "sinterstore", "sunionstore", "sdiffstore", and "del" when a
 *   key goes.
 *
 * Threading: every command runs [stripe-locked] on its keys' stripes.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"
#include "config/config.h"
#include "types/set.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- registration ---------------------------------------------------------------------------- */

static const struct type_ops set_ops = {
    "set", set_free, set_dup, set_mem, set_enc_name, set_digest,
};

static _Atomic long long opt_intset_entries = SET_DEFAULT_MAX_INTSET_ENTRIES;

static int apply_intset_entries(long long v, char *err) {
    UNUSED(err);
    atomic_store(&opt_intset_entries, v);
    set_set_limits(v);
    return 0;
}

static struct config_option options[] = {
    {"set-max-intset-entries", NULL, CFG_INT, 0, "512", 0, LONG_MAX, NULL, apply_intset_entries,
     NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void cmd_set_setup(void) {
    entry_register_type(TYPE_SET, &set_ops);
    config_register(options);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_SET) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

static inline struct set *set_of(const struct entry *e) {
    return entry_obj(e);
}

static void reply_member(struct client *c, const struct set_str *m) {
    reply_bulk(c, m->ptr, m->len);
}

/* Sets bigger than this are freed by the lazy-free thread, not under the
 * stripe locks. */
#define SET_LAZY_FREE_BYTES (64 * 1024)
static void free_result(struct set *s) {
    if (set_mem(s) >= SET_LAZY_FREE_BYTES)
        store_lazyfree(set_free, s);
    else
        set_free(s);
}

/* Add key k holding s (Redis dbAdd, with its "new" event). */
static struct entry *add_key(struct client *c, const struct store_key *k, struct set *s,
                             struct store_ref *ref) {
    struct entry *e = entry_new_obj(k->ptr, k->len, TYPE_SET, ENC_OBJ, s, -1);
    store_add(c->db, k, e, ref);
    cmd_notify(c, NOTIFY_NEW, "new", k);
    return e;
}

/* The set at argv[i] for reading: NULL when missing, *err when of another
 * type (error replied). */
static struct set *lookup_read_at(struct client *c, int i, bool *err) {
    struct store_key k;
    cmd_key(c, i, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    *err = false;
    if (e == NULL) return NULL;
    if (wrongtype(c, e)) {
        *err = true;
        return NULL;
    }
    return set_of(e);
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

/* ---- SADD SREM ------------------------------------------------------------------------------- */

void cmd_sadd(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e && wrongtype(c, e)) return;
    if (!e) e = add_key(c, &k, set_new_for(c->argv[2], c->argvlen[2]), &ref);
    struct set *s = set_of(e);
    long long added = 0;
    for (int j = 2; j < c->argc; j++) added += set_add(&s, c->argv[j], c->argvlen[j]);
    entry_set_obj(e, s);
    if (added) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_SET, "sadd", &k);
    }
    exec_dirty(c, added);
    reply_int(c, added);
}

void cmd_srem(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct set *s = set_of(e);
    long long deleted = 0;
    bool removed = false;
    for (int j = 2; j < c->argc; j++) {
        if (!set_remove(&s, c->argv[j], c->argvlen[j])) continue;
        deleted++;
        if (set_len(s) == 0) {
            removed = true;
            break;
        }
    }
    entry_set_obj(e, s);
    if (removed) store_delete(&ref);
    if (deleted) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_SET, "srem", &k);
        if (removed) cmd_notify(c, NOTIFY_GENERIC, "del", &k);
        exec_dirty(c, deleted);
    }
    reply_int(c, deleted);
}

/* ---- SISMEMBER SMISMEMBER SCARD -------------------------------------------------------------- */

void cmd_sismember(struct client *c) {
    bool err;
    struct set *s = lookup_read_at(c, 1, &err);
    if (err) return;
    reply_int(c, s && set_contains(s, c->argv[2], c->argvlen[2]) ? 1 : 0);
}

void cmd_smismember(struct client *c) {
    bool err;
    struct set *s = lookup_read_at(c, 1, &err);
    if (err) return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++)
        reply_int(c, s && set_contains(s, c->argv[j], c->argvlen[j]) ? 1 : 0);
}

void cmd_scard(struct client *c) {
    bool err;
    struct set *s = lookup_read_at(c, 1, &err);
    if (err) return;
    reply_int(c, s ? (long long)set_len(s) : 0);
}

/* ---- SMOVE ----------------------------------------------------------------------------------- */

void cmd_smove(struct client *c) {
    struct store_key sk, dk;
    cmd_key(c, 1, &sk);
    cmd_key(c, 2, &dk);
    struct store_ref sref, dref;
    struct entry *se = cmd_lookup_write(c, &sk, &sref);
    struct entry *de = cmd_lookup_write(c, &dk, &dref);
    const char *m = c->argv[3];
    size_t mlen = c->argvlen[3];
    if (se == NULL) {
        reply_int(c, 0);
        return;
    }
    if (wrongtype(c, se) || (de && wrongtype(c, de))) return;
    struct set *src = set_of(se);
    if (de && set_of(de) == src) {
        reply_int(c, set_contains(src, m, mlen) ? 1 : 0);
        return;
    }
    if (!set_remove(&src, m, mlen)) {
        reply_int(c, 0);
        return;
    }
    entry_set_obj(se, src);
    cmd_notify(c, NOTIFY_SET, "srem", &sk);
    if (set_len(src) == 0) {
        store_delete(&sref);
        cmd_notify(c, NOTIFY_GENERIC, "del", &sk);
        /* The deletion may have moved entries of dk's slot table. */
        if (de) de = cmd_lookup_write(c, &dk, &dref);
    }
    if (!de) de = add_key(c, &dk, set_new_for(m, mlen), &dref);
    cmd_modified(c, &sk);
    exec_dirty(c, 1);
    struct set *dst = set_of(de);
    if (set_add(&dst, m, mlen)) {
        entry_set_obj(de, dst);
        exec_dirty(c, 1);
        cmd_modified(c, &dk);
        cmd_notify(c, NOTIFY_SET, "sadd", &dk);
    }
    reply_int(c, 1);
}

/* ---- SPOP SRANDMEMBER ------------------------------------------------------------------------ */

static void propagate_srem(struct client *c, const struct store_key *k, const char *m,
                           size_t mlen) {
    const char *argv[3] = {"SREM", k->ptr, m};
    size_t lens[3] = {4, k->len, mlen};
    exec_propagate(c, 3, argv, lens);
}

/* Members to pop, copied out (they are removed after the walk). */
struct popped {
    struct buf b;
    size_t n;
};
static void collect_member(const struct set_str *m, void *arg) {
    struct popped *p = arg;
    buf_append(&p->b, &m->len, sizeof(m->len));
    buf_append(&p->b, m->ptr, m->len);
    p->n++;
}

static void spop_count(struct client *c) {
    long long l;
    if (!cmd_ll_range(c, 2, 0, LONG_MAX, &l, RERR_NEGATIVE_COUNT)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_set(c, 0);
        return;
    }
    if (wrongtype(c, e)) return;
    size_t count = (size_t)l;
    if (count == 0) {
        reply_set(c, 0);
        return;
    }
    struct set *s = set_of(e);
    size_t size = set_len(s);
    cmd_notify(c, NOTIFY_SET, "spop", &k);
    exec_dirty(c, (long long)(count >= size ? size : count));
    if (count >= size) {
        /* The whole set: reply it, delete the key, propagate DEL. */
        struct set_iter it;
        struct set_str m;
        reply_set(c, (long long)size);
        set_iter_init(s, &it);
        while (set_iter_next(&it, &m)) reply_member(c, &m);
        set_iter_done(&it);
        store_delete(&ref);
        cmd_notify(c, NOTIFY_GENERIC, "del", &k);
        const char *argv[2] = {"DEL", k.ptr};
        size_t lens[2] = {3, k.len};
        exec_propagate(c, 2, argv, lens);
        cmd_modified(c, &k);
        return;
    }
    struct popped p = {BUF_INIT, 0};
    set_random_distinct(s, count, collect_member, &p);
    reply_set(c, (long long)p.n);
    for (size_t off = 0; off < p.b.len;) {
        size_t n;
        memcpy(&n, p.b.data + off, sizeof(n));
        off += sizeof(n);
        const char *m = p.b.data + off;
        off += n;
        reply_bulk(c, m, n);
        set_remove(&s, m, n);
        propagate_srem(c, &k, m, n);
    }
    buf_free(&p.b);
    entry_set_obj(e, s);
    cmd_modified(c, &k);
}

void cmd_spop(struct client *c) {
    if (c->argc == 3) {
        spop_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    struct set *s = set_of(e);
    struct set_str m;
    set_random(s, &m);
    /* Copy: removing the member frees its bytes. */
    char small[128];
    char *copy = m.len <= sizeof(small) ? small : xmalloc(m.len);
    memcpy(copy, m.ptr, m.len);
    size_t mlen = m.len;
    set_remove(&s, copy, mlen);
    entry_set_obj(e, s);
    cmd_notify(c, NOTIFY_SET, "spop", &k);
    propagate_srem(c, &k, copy, mlen);
    reply_bulk(c, copy, mlen);
    if (copy != small) xfree(copy);
    if (set_len(s) == 0) {
        store_delete(&ref);
        cmd_notify(c, NOTIFY_GENERIC, "del", &k);
    }
    cmd_modified(c, &k);
    exec_dirty(c, 1);
}

static void reply_member_cb(const struct set_str *m, void *arg) {
    reply_member(arg, m);
}

void cmd_srandmember(struct client *c) {
    if (c->argc > 3) {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    bool err;
    if (c->argc == 2) {
        struct set *s = lookup_read_at(c, 1, &err);
        if (err) return;
        if (!s) {
            reply_null(c);
            return;
        }
        struct set_str m;
        set_random(s, &m);
        reply_member(c, &m);
        return;
    }
    long long l;
    if (!range_long(c, 2, -LONG_MAX, LONG_MAX, &l)) return;
    bool uniq = l >= 0;
    size_t count = uniq ? (size_t)l : (size_t)-l;
    struct set *s = lookup_read_at(c, 1, &err);
    if (err) return;
    if (!s || count == 0) {
        reply_array(c, 0);
        return;
    }
    size_t size = set_len(s);
    struct set_str m;
    if (!uniq || count == 1) {
        reply_array(c, (long long)count);
        for (size_t i = 0; i < count; i++) {
            set_random(s, &m);
            reply_member(c, &m);
            if ((i & 1023) == 1023 && !client_check_output_limits(c)) break;
        }
        return;
    }
    if (count >= size) {
        struct set_iter it;
        reply_array(c, (long long)size);
        set_iter_init(s, &it);
        while (set_iter_next(&it, &m)) reply_member(c, &m);
        set_iter_done(&it);
        return;
    }
    reply_array(c, (long long)count);
    set_random_distinct(s, count, reply_member_cb, c);
}

/* ---- SINTER SINTERCARD SINTERSTORE SMEMBERS -------------------------------------------------- */

/* The sets named by argv[first .. first+n): false after replying WRONGTYPE.
 * Missing keys give NULL. */
static bool load_sets(struct client *c, int first, int n, struct set **sets, int *missing) {
    *missing = 0;
    for (int j = 0; j < n; j++) {
        bool err;
        sets[j] = lookup_read_at(c, first + j, &err);
        if (err) return false;
        if (!sets[j]) (*missing)++;
    }
    return true;
}

static int by_len_asc(const void *a, const void *b) {
    size_t x = set_len(*(struct set *const *)a), y = set_len(*(struct set *const *)b);
    return x < y ? -1 : x > y;
}
static int by_len_desc(const void *a, const void *b) {
    return by_len_asc(b, a);
}

/* Store the STORE variants' result at argv[1] (Redis's setKey: replaces
 * any value, drops the TTL), or delete the destination when the result is
 * empty. Replies the result's size. */
static void store_result(struct client *c, struct set *res, const char *event) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *old = cmd_lookup_write(c, &k, &ref);
    size_t n = set_len(res);
    if (n > 0) {
        if (old)
            store_replace(&ref, entry_new_obj(k.ptr, k.len, TYPE_SET, ENC_OBJ, res, -1));
        else
            add_key(c, &k, res, NULL);
        cmd_modified(c, &k);
        reply_int(c, (long long)n);
        cmd_notify(c, NOTIFY_SET, event, &k);
        exec_dirty(c, 1);
        return;
    }
    set_free(res);
    reply_int(c, 0);
    if (old) {
        store_delete(&ref);
        exec_dirty(c, 1);
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_GENERIC, "del", &k);
    }
}

enum inter_mode { INTER_REPLY, INTER_CARD, INTER_STORE };

static void sinter_generic(struct client *c, int first, int n, enum inter_mode mode, size_t limit) {
    struct set *small[16] = {NULL};
    struct set **sets = n <= 16 ? small : xmalloc(sizeof(*sets) * (size_t)n);
    int missing;
    if (!load_sets(c, first, n, sets, &missing)) goto out;
    if (missing) {
        if (mode == INTER_STORE)
            store_result(c, set_new(), "sinterstore");
        else if (mode == INTER_CARD)
            reply_int(c, 0);
        else
            reply_set(c, 0);
        goto out;
    }
    qsort(sets, (size_t)n, sizeof(*sets), by_len_asc);
    struct set *res = mode == INTER_STORE ? set_new() : NULL;
    struct onode *deferred = mode == INTER_REPLY ? reply_defer(c) : NULL;
    size_t card = 0;
    struct set_iter it;
    struct set_str m;
    set_iter_init(sets[0], &it);
    while (set_iter_next(&it, &m)) {
        int j;
        for (j = 1; j < n; j++) {
            if (sets[j] == sets[0]) continue;
            if (!set_contains(sets[j], m.ptr, m.len)) break;
        }
        if (j < n) continue;
        card++;
        if (mode == INTER_CARD) {
            if (limit && card >= limit) break;
        } else if (mode == INTER_REPLY) {
            reply_member(c, &m);
        } else {
            set_add(&res, m.ptr, m.len);
        }
    }
    set_iter_done(&it);
    if (mode == INTER_CARD)
        reply_int(c, (long long)card);
    else if (mode == INTER_REPLY)
        reply_defer_set(c, deferred, (long long)card);
    else
        store_result(c, res, "sinterstore");
out:
    if (sets != small) xfree(sets);
}

void cmd_sinter(struct client *c) {
    sinter_generic(c, 1, c->argc - 1, INTER_REPLY, 0);
}
void cmd_smembers(struct client *c) {
    sinter_generic(c, 1, 1, INTER_REPLY, 0);
}
void cmd_sinterstore(struct client *c) {
    sinter_generic(c, 2, c->argc - 2, INTER_STORE, 0);
}

void cmd_sintercard(struct client *c) {
    long long numkeys, limit = 0;
    if (!cmd_ll_range(c, 1, 1, LONG_MAX, &numkeys, "ERR numkeys should be greater than 0")) return;
    if (numkeys > c->argc - 2) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (cmd_arg_is(c, j, "LIMIT") && more) {
            j++;
            if (!cmd_ll_range(c, j, 0, LONG_MAX, &limit, "ERR LIMIT can't be negative")) return;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    sinter_generic(c, 2, (int)numkeys, INTER_CARD, (size_t)limit);
}

/* ---- SUNION SUNIONSTORE ---------------------------------------------------------------------- */

/* Up to this many distinct sources, SUNION dedups by looking members up in
 * the earlier sources instead of building a temporary set. */
#define UNION_LOOKUP_MAX 8

/* Drop NULLs and repeated objects (SUNION a a); returns the count left. */
static int distinct_sets(struct set **sets, int n) {
    int k = 0;
    for (int j = 0; j < n; j++) {
        if (!sets[j]) continue;
        bool dup = false;
        for (int i = 0; i < k && !dup; i++) dup = sets[i] == sets[j];
        if (!dup) sets[k++] = sets[j];
    }
    return k;
}

static void sunion_generic(struct client *c, int first, int n, bool store) {
    struct set *small[16] = {NULL};
    struct set **sets = n <= 16 ? small : xmalloc(sizeof(*sets) * (size_t)n);
    int missing;
    if (!load_sets(c, first, n, sets, &missing)) goto out;
    int k = distinct_sets(sets, n);
    struct set_iter it;
    struct set_str m;
    if (!store && k <= UNION_LOOKUP_MAX) {
        struct onode *deferred = reply_defer(c);
        size_t card = 0;
        for (int j = 0; j < k; j++) {
            set_iter_init(sets[j], &it);
            while (set_iter_next(&it, &m)) {
                int i;
                for (i = 0; i < j; i++)
                    if (set_contains(sets[i], m.ptr, m.len)) break;
                if (i < j) continue;
                reply_member(c, &m);
                card++;
            }
            set_iter_done(&it);
        }
        reply_defer_set(c, deferred, (long long)card);
        goto out;
    }
    /* Start from a copy of the biggest source (one walk fewer) when the
     * result gets the encoding Redis would give it (built from an intset
     * member by member). */
    int big = -1;
    for (int j = 0; j < k; j++)
        if (big < 0 || set_len(sets[j]) > set_len(sets[big])) big = j;
    bool dup = big >= 0 && (set_encoding(sets[big]) == SET_ENC_INTSET ||
                            set_len(sets[big]) > (size_t)atomic_load(&opt_intset_entries));
    struct set *res = dup ? set_dup(sets[big]) : set_new();
    if (!dup) big = -1;
    for (int j = 0; j < k; j++) {
        if (j == big) continue;
        set_iter_init(sets[j], &it);
        while (set_iter_next(&it, &m)) set_add(&res, m.ptr, m.len);
        set_iter_done(&it);
    }
    if (store) {
        store_result(c, res, "sunionstore");
        goto out;
    }
    reply_set(c, (long long)set_len(res));
    set_iter_init(res, &it);
    while (set_iter_next(&it, &m)) reply_member(c, &m);
    set_iter_done(&it);
    free_result(res);
out:
    if (sets != small) xfree(sets);
}

void cmd_sunion(struct client *c) {
    sunion_generic(c, 1, c->argc - 1, false);
}
void cmd_sunionstore(struct client *c) {
    sunion_generic(c, 2, c->argc - 2, true);
}

/* ---- SDIFF SDIFFSTORE ------------------------------------------------------------------------ */

static void sdiff_generic(struct client *c, int first, int n, bool store) {
    struct set *small[16] = {NULL};
    struct set **sets = n <= 16 ? small : xmalloc(sizeof(*sets) * (size_t)n);
    int missing;
    if (!load_sets(c, first, n, sets, &missing)) goto out;
    struct set *a = sets[0];
    bool same = false;
    for (int j = 1; j < n && a; j++) same |= sets[j] == a;
    /* The others, biggest first (most likely to hold a member). */
    int k = a && !same ? distinct_sets(sets + 1, n - 1) : 0;
    qsort(sets + 1, (size_t)k, sizeof(*sets), by_len_desc);
    struct set *res = store ? set_new() : NULL;
    struct onode *deferred = store ? NULL : reply_defer(c);
    size_t card = 0;
    if (a && !same) {
        struct set_iter it;
        struct set_str m;
        set_iter_init(a, &it);
        while (set_iter_next(&it, &m)) {
            int j;
            for (j = 1; j <= k; j++)
                if (set_contains(sets[j], m.ptr, m.len)) break;
            if (j <= k) continue;
            card++;
            if (store)
                set_add(&res, m.ptr, m.len);
            else
                reply_member(c, &m);
        }
        set_iter_done(&it);
    }
    if (store)
        store_result(c, res, "sdiffstore");
    else
        reply_defer_set(c, deferred, (long long)card);
out:
    if (sets != small) xfree(sets);
}

void cmd_sdiff(struct client *c) {
    sdiff_generic(c, 1, c->argc - 1, false);
}
void cmd_sdiffstore(struct client *c) {
    sdiff_generic(c, 2, c->argc - 2, true);
}

/* ---- SSCAN ----------------------------------------------------------------------------------- */

static void scan_member_cb(const struct set_str *m, void *arg) {
    struct cmd_scan *s = arg;
    s->seen++;
    if (cmd_scan_match(s, m->ptr, m->len)) cmd_scan_add(s, m->ptr, m->len);
}

void cmd_sscan(struct client *c) {
    uint64_t cursor;
    if (!cmd_scan_cursor(c, 2, &cursor)) return;
    bool err;
    struct set *s = lookup_read_at(c, 1, &err);
    if (err) return;
    if (!s) {
        cmd_reply_empty_scan(c);
        return;
    }
    struct cmd_scan sc;
    if (!cmd_scan_options(c, 3, &sc)) return;
    if (set_encoding(s) == SET_ENC_INTSET) {
        set_scan(s, 0, scan_member_cb, &sc);
        cursor = 0;
    } else {
        long maxiter = sc.count * 10;
        do {
            cursor = set_scan(s, cursor, scan_member_cb, &sc);
        } while (cursor && maxiter-- && sc.seen < sc.count);
    }
    cmd_scan_reply(c, cursor, &sc);
}

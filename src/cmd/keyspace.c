/*
 * cmd/keyspace.c - the generic key commands (Redis's "generic" group):
 *   DEL UNLINK EXISTS TYPE TOUCH
 *   EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST
 *   KEYS SCAN RANDOMKEY
 *   RENAME RENAMENX COPY MOVE SWAPDB
 *   OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP, WAIT
 *
 * Locking. Key commands run under the stripes of the keys their specs name.
 *   A key's stripe is the same in every database (slot % 1024), so MOVE and
 *   COPY ... DB n, which touch the same key name (or the two named keys) in
 *   another database, are covered by the stripes the dispatcher locked.
 *   KEYS, SCAN and RANDOMKEY are keyless: they run without locks and the
 *   store walks the keyspace one slot (one stripe) at a time, so they never
 *   stop the world; inside MULTI/EXEC they run under every stripe (exec/
 *   multi.c locks all stripes for keyless data commands). SWAPDB carries the
 *   ALL_STRIPES flag: the dispatcher holds every stripe while the two
 *   databases are exchanged.
 *
 * Replies are never formatted under a lock: KEYS and SCAN copy the names
 *   they find into a local list under each slot's lock and reply after.
 *
 * Propagation follows Redis 7.0: relative expiries are logged as absolute
 *   ones (EXPIRE/PEXPIRE/EXPIREAT -> PEXPIREAT <unix ms> [options]); an
 *   expiry already in the past deletes the key and is logged as DEL. All
 *   other writes are logged as sent.
 *
 * Thread context: [owner] of the client, under the command's stripe locks.
 */
#include "cmd/keyspace.h"
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"
#include "exec/block.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* OBJECT REFCOUNT of Redis's shared integers (0..9999): INT_MAX. */
#define SHARED_INT_REFCOUNT 2147483647LL
#define SHARED_INT_MAX 10000

/* ---- helpers ----------------------------------------------------------------- */

/* Redis's getIntFromObjectOrReply: an int, with Redis's two error texts
 * (msg, when given, replaces both). */
static bool arg_int(struct client *c, int i, int *out, const char *msg) {
    long long v;
    if (!str_to_ll(c->argv[i], c->argvlen[i], &v)) {
        reply_error(c, msg ? msg : RERR_NOT_INT);
        return false;
    }
    if (v < INT_MIN || v > INT_MAX) {
        if (msg)
            reply_error(c, msg);
        else
            reply_errorf(c, "ERR value is out of range, value must between %d and %d", INT_MIN,
                         INT_MAX);
        return false;
    }
    *out = (int)v;
    return true;
}

/* A database index argument that must name an existing database. */
static bool arg_db(struct client *c, int i, int *out) {
    int id;
    if (!arg_int(c, i, &id, NULL)) return false;
    if (id < 0 || id >= store_databases()) {
        reply_error(c, RERR_DB_RANGE);
        return false;
    }
    *out = id;
    return true;
}

static bool same_arg(const struct client *c, int a, int b) {
    return c->argvlen[a] == c->argvlen[b] && memcmp(c->argv[a], c->argv[b], c->argvlen[a]) == 0;
}

/* Keyspace event in a database other than the client's. */
static void notify_db(int type, const char *event, int db, const struct store_key *k) {
    pubsub_notify(type, event, db, k->ptr, k->len);
}

/* Names collected under slot locks and replied after unlocking. They are
 * packed as [size_t len][bytes] into a chain of chunks of KEYLIST_CHUNK
 * bytes (bigger only for a bigger name), so collecting never reallocates a
 * large buffer while a stripe is held. */
#define KEYLIST_CHUNK (16 * 1024)

struct keychunk {
    struct keychunk *next;
    size_t used, cap;
    char data[];
};

struct keylist {
    struct keychunk *head, *tail;
    long n;
};

static void keylist_add(struct keylist *kl, const char *p, size_t n) {
    size_t need = sizeof(n) + n;
    struct keychunk *t = kl->tail;
    if (t == NULL || t->cap - t->used < need) {
        size_t cap = need > KEYLIST_CHUNK ? need : KEYLIST_CHUNK;
        struct keychunk *c = xmalloc(sizeof(*c) + cap);
        c->next = NULL;
        c->used = 0;
        c->cap = cap;
        if (t)
            t->next = c;
        else
            kl->head = c;
        kl->tail = t = c;
    }
    memcpy(t->data + t->used, &n, sizeof(n));
    memcpy(t->data + t->used + sizeof(n), p, n);
    t->used += need;
    kl->n++;
}

/* Reply the names as an array and free the list. */
static void keylist_reply(struct client *c, struct keylist *kl) {
    reply_array(c, kl->n);
    struct keychunk *ch = kl->head;
    while (ch) {
        for (size_t off = 0; off < ch->used;) {
            size_t n;
            memcpy(&n, ch->data + off, sizeof(n));
            reply_bulk(c, ch->data + off + sizeof(n), n);
            off += sizeof(n) + n;
        }
        struct keychunk *next = ch->next;
        xfree(ch);
        ch = next;
    }
    kl->head = kl->tail = NULL;
    kl->n = 0;
}

/* ---- DEL UNLINK EXISTS TYPE TOUCH ------------------------------------------------- */

/* DEL and UNLINK are the same here: the store frees big values only after
 * the stripe locks are released, so neither holds up other clients of the
 * stripe; the free itself still runs on this worker (a big collection would
 * want the lazy-free thread, once collection types exist). An expired key
 * is deleted by the lookup (as an expiry) and not counted, as in Redis. */
static void del_generic(struct client *c, bool lazy) {
    long long deleted = 0;
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd_key(c, i, &k);
        struct store_ref ref;
        if (cmd_lookup_write(c, &k, &ref)) {
            if (lazy) {
                store_delete_async(&ref);
                cmd_modified(c, &k);
                cmd_notify(c, NOTIFY_GENERIC, "del", &k);
            } else {
                cmd_delete(c, &ref);
            }
            deleted++;
        }
    }
    exec_dirty(c, deleted);
    reply_int(c, deleted);
}

void cmd_del(struct client *c) {
    del_generic(c, false);
}
/* UNLINK: big values are freed by the background thread (Redis). */
void cmd_unlink(struct client *c) {
    del_generic(c, true);
}

void cmd_exists(struct client *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd_key(c, i, &k);
        if (store_lookup(c->db, &k, STORE_LOOKUP_NOTOUCH, NULL)) n++;
    }
    reply_int(c, n);
}

void cmd_type(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = store_lookup(c->db, &k, STORE_LOOKUP_NOTOUCH, NULL);
    reply_simple(c, e ? entry_type_name(e) : "none");
}

void cmd_touch(struct client *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct store_key k;
        cmd_key(c, i, &k);
        if (cmd_lookup_read(c, &k, NULL)) n++;
    }
    reply_int(c, n);
}

/* ---- EXPIRE family --------------------------------------------------------------------- */

#define EXP_NX (1 << 0)
#define EXP_XX (1 << 1)
#define EXP_GT (1 << 2)
#define EXP_LT (1 << 3)

/* NX | XX | GT | LT from argv[3..]; false after replying. */
static bool parse_expire_flags(struct client *c, int *flags) {
    *flags = 0;
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "NX"))
            *flags |= EXP_NX;
        else if (cmd_arg_is(c, j, "XX"))
            *flags |= EXP_XX;
        else if (cmd_arg_is(c, j, "GT"))
            *flags |= EXP_GT;
        else if (cmd_arg_is(c, j, "LT"))
            *flags |= EXP_LT;
        else {
            reply_errorf(c, "ERR Unsupported option %.*s", (int)MIN(c->argvlen[j], (size_t)1024),
                         c->argv[j]);
            return false;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

static void reply_expire_time_error(struct client *c) {
    reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
}

/* Does the condition of NX/XX/GT/LT allow setting `when` over `cur` (-1:
 * no expiry)? A key without expiry has an infinite TTL: GT never passes,
 * LT always does. */
static bool expire_condition(int flags, int64_t cur, long long when) {
    if ((flags & EXP_NX) && cur != -1) return false;
    if ((flags & EXP_XX) && cur == -1) return false;
    if ((flags & EXP_GT) && (cur == -1 || when <= cur)) return false;
    if ((flags & EXP_LT) && cur != -1 && when >= cur) return false;
    return true;
}

/* Log `PEXPIREAT key <when> [options...]`. */
static void propagate_pexpireat(struct client *c, const struct store_key *k, long long when) {
    char ms[STR_LL_MAX];
    int n = ll_to_str(ms, sizeof(ms), when);
    int argc = c->argc;
    const char *small_argv[8];
    size_t small_lens[8];
    const char **argv = argc <= 8 ? small_argv : xmalloc((size_t)argc * sizeof(*argv));
    size_t *lens = argc <= 8 ? small_lens : xmalloc((size_t)argc * sizeof(*lens));
    argv[0] = "PEXPIREAT";
    lens[0] = 9;
    argv[1] = k->ptr;
    lens[1] = k->len;
    argv[2] = ms;
    lens[2] = (size_t)n;
    for (int j = 3; j < argc; j++) {
        argv[j] = c->argv[j];
        lens[j] = c->argvlen[j];
    }
    exec_propagate(c, argc, argv, lens);
    if (argv != small_argv) {
        xfree(argv);
        xfree(lens);
    }
}

/* EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: `basetime` is now (relative forms) or
 * 0 (absolute), `seconds` the unit of argv[2]. */
static void expire_generic(struct client *c, long long basetime, bool seconds) {
    int flags;
    if (!parse_expire_flags(c, &flags)) return;
    long long when;
    if (!cmd_ll(c, 2, &when)) return;
    /* Negative times are allowed (they delete the key); only overflow of
     * the unit conversion or of the base addition is an error. */
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_expire_time_error(c);
            return;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) {
        reply_expire_time_error(c);
        return;
    }
    when += basetime;

    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    if (flags && !expire_condition(flags, entry_expire(e), when)) {
        reply_int(c, 0);
        return;
    }
    if (when <= store_now() && !store_loading()) {
        /* Already in the past: the key goes now, logged as a DEL. */
        store_delete(&ref);
        exec_dirty(c, 1);
        const char *argv[2] = {"DEL", k.ptr};
        size_t lens[2] = {3, k.len};
        exec_propagate(c, 2, argv, lens);
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_GENERIC, "del", &k);
        reply_int(c, 1);
        return;
    }
    store_set_expire(&ref, when);
    reply_int(c, 1);
    /* PEXPIREAT with a millisecond time is logged as sent. */
    if (basetime != 0 || seconds || strcmp(c->cmd->fullname, "pexpireat") != 0)
        propagate_pexpireat(c, &k, when);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_GENERIC, "expire", &k);
    exec_dirty(c, 1);
}

void cmd_expire(struct client *c) {
    expire_generic(c, store_now(), true);
}
void cmd_pexpire(struct client *c) {
    expire_generic(c, store_now(), false);
}
void cmd_expireat(struct client *c) {
    expire_generic(c, 0, true);
}
void cmd_pexpireat(struct client *c) {
    expire_generic(c, 0, false);
}

/* TTL/PTTL/EXPIRETIME/PEXPIRETIME: -2 without the key, -1 without expiry. */
static void ttl_generic(struct client *c, bool ms, bool absolute) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = store_lookup(c->db, &k, STORE_LOOKUP_NOTOUCH, NULL);
    if (e == NULL) {
        reply_int(c, -2);
        return;
    }
    int64_t expire = entry_expire(e);
    if (expire == -1) {
        reply_int(c, -1);
        return;
    }
    long long ttl = absolute ? expire : expire - store_now();
    if (ttl < 0) ttl = 0;
    reply_int(c, ms ? ttl : (ttl + 500) / 1000);
}

void cmd_ttl(struct client *c) {
    ttl_generic(c, false, false);
}
void cmd_pttl(struct client *c) {
    ttl_generic(c, true, false);
}
void cmd_expiretime(struct client *c) {
    ttl_generic(c, false, true);
}
void cmd_pexpiretime(struct client *c) {
    ttl_generic(c, true, true);
}

void cmd_persist(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL || !entry_has_expire(e)) {
        reply_int(c, 0);
        return;
    }
    store_set_expire(&ref, -1);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_GENERIC, "persist", &k);
    exec_dirty(c, 1);
    reply_int(c, 1);
}

/* ---- KEYS SCAN RANDOMKEY ---------------------------------------------------------------- */

struct keys_walk {
    const char *pat;
    size_t plen;
    bool all;         /* the pattern is "*" */
    const char *type; /* SCAN TYPE, or NULL */
    size_t tlen;
    struct keylist kl;
};

/* [stripe-locked] One live key: keep its name if it matches. */
static void walk_key(struct entry *e, void *arg) {
    struct keys_walk *w = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);
    if (!w->all && !glob_match(w->pat, w->plen, key, klen, false)) return;
    if (w->type && !str_eq_nocase(w->type, w->tlen, entry_type_name(e))) return;
    keylist_add(&w->kl, key, klen);
}

void cmd_keys(struct client *c) {
    struct keys_walk w = {c->argv[1], c->argvlen[1], false, NULL, 0, {NULL, NULL, 0}};
    w.all = w.plen == 1 && w.pat[0] == '*';
    store_foreach(c->db, walk_key, &w);
    keylist_reply(c, &w.kl);
}

/* Redis parses cursors with strtoul(): optional sign and base-10 digits up
 * to the first NUL byte; leading space, other trailing bytes, overflow and
 * a lone sign are errors, an empty string is cursor 0. */
static bool parse_cursor(struct client *c, int i, uint64_t *out) {
    char small[64];
    size_t n = c->argvlen[i];
    char *s = n < sizeof(small) ? small : xmalloc(n + 1);
    memcpy(s, c->argv[i], n);
    s[n] = '\0';
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    bool ok = !(s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) && *end == '\0' && errno != ERANGE;
    if (s != small) xfree(s);
    if (!ok) {
        reply_error(c, "ERR invalid cursor");
        return false;
    }
    *out = v;
    return true;
}

void cmd_scan(struct client *c) {
    uint64_t cursor;
    if (!parse_cursor(c, 1, &cursor)) return;
    long long count = 10;
    struct keys_walk w = {NULL, 0, true, NULL, 0, {NULL, NULL, 0}};
    for (int i = 2; i < c->argc; i += 2) {
        bool has_value = i + 1 < c->argc;
        if (cmd_arg_is(c, i, "COUNT") && has_value) {
            if (!cmd_ll_range(c, i + 1, LONG_MIN, LONG_MAX, &count, NULL)) return;
            if (count < 1) {
                reply_error(c, RERR_SYNTAX);
                return;
            }
        } else if (cmd_arg_is(c, i, "MATCH") && has_value) {
            w.pat = c->argv[i + 1];
            w.plen = c->argvlen[i + 1];
            w.all = w.plen == 1 && w.pat[0] == '*';
        } else if (cmd_arg_is(c, i, "TYPE") && has_value) {
            w.type = c->argv[i + 1];
            w.tlen = c->argvlen[i + 1];
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    uint64_t next = store_scan(c->db, cursor, (long)count, walk_key, &w, NULL);
    char num[STR_LL_MAX];
    int n = ull_to_str(num, sizeof(num), next);
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)n);
    keylist_reply(c, &w.kl);
}

void cmd_randomkey(struct client *c) {
    char small[256];
    char *heap;
    long n = store_random_key(c->db, small, sizeof(small), &heap);
    if (n < 0) {
        reply_null(c);
        return;
    }
    reply_bulk(c, heap ? heap : small, (size_t)n);
    xfree(heap);
}

/* ---- RENAME RENAMENX ---------------------------------------------------------------------- */

static void rename_generic(struct client *c, bool nx) {
    struct store_key src, dst;
    cmd_key(c, 1, &src);
    cmd_key(c, 2, &dst);
    struct store_ref sref, dref;
    if (cmd_lookup_write(c, &src, &sref) == NULL) {
        reply_error(c, RERR_NO_SUCH_KEY);
        return;
    }
    if (same_arg(c, 1, 2)) {
        if (nx)
            reply_int(c, 0);
        else
            reply_ok(c);
        return;
    }
    if (cmd_lookup_write(c, &dst, &dref)) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        /* Overwritten silently: no "del" event, as in Redis. */
        store_delete(&dref);
    }
    /* Both keys may share a slot table: find the source again. */
    struct entry *e = store_peek(c->db, &src, &sref);
    struct entry *moved = entry_rekey(e, dst.ptr, dst.len, entry_expire(e));
    xfree(store_unlink(&sref)); /* the value now belongs to `moved` */
    store_add(c->db, &dst, moved, NULL);
    cmd_notify(c, NOTIFY_NEW, "new", &dst);
    cmd_modified(c, &src);
    cmd_modified(c, &dst);
    cmd_notify(c, NOTIFY_GENERIC, "rename_from", &src);
    cmd_notify(c, NOTIFY_GENERIC, "rename_to", &dst);
    exec_dirty(c, 1);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

void cmd_rename(struct client *c) {
    rename_generic(c, false);
}
void cmd_renamenx(struct client *c) {
    rename_generic(c, true);
}

/* ---- MOVE COPY SWAPDB ---------------------------------------------------------------------- */

void cmd_move(struct client *c) {
    int dst_db;
    if (!arg_db(c, 2, &dst_db)) return;
    if (dst_db == c->db) {
        reply_error(c, RERR_SAME_OBJECT);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    if (cmd_lookup_write(c, &k, &ref) == NULL) {
        reply_int(c, 0);
        return;
    }
    /* The key's stripe is the same in every database: already held. */
    if (store_lookup(dst_db, &k, STORE_LOOKUP_WRITE, NULL) != NULL) {
        reply_int(c, 0);
        return;
    }
    /* The entry itself moves: same key, value, expiry. */
    struct entry *e = store_peek(c->db, &k, &ref);
    store_unlink(&ref);
    store_add(dst_db, &k, e, NULL);
    notify_db(NOTIFY_NEW, "new", dst_db, &k);
    cmd_modified(c, &k);
    store_signal_modified(dst_db, &k);
    cmd_notify(c, NOTIFY_GENERIC, "move_from", &k);
    notify_db(NOTIFY_GENERIC, "move_to", dst_db, &k);
    exec_dirty(c, 1);
    reply_int(c, 1);
}

void cmd_copy(struct client *c) {
    int dst_db = c->db;
    bool replace = false;
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "REPLACE")) {
            replace = true;
        } else if (cmd_arg_is(c, j, "DB") && j + 1 < c->argc) {
            if (!arg_db(c, j + 1, &dst_db)) return;
            j++;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (dst_db == c->db && same_arg(c, 1, 2)) {
        reply_error(c, RERR_SAME_OBJECT);
        return;
    }
    struct store_key src, dst;
    cmd_key(c, 1, &src);
    cmd_key(c, 2, &dst);
    struct entry *e = cmd_lookup_read(c, &src, NULL);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    struct store_ref dref;
    bool exists = store_lookup(dst_db, &dst, STORE_LOOKUP_WRITE, &dref) != NULL;
    if (exists && !replace) {
        reply_int(c, 0);
        return;
    }
    /* The lookup of dst may have deleted an expired key in the source's
     * slot table: find the source again before copying it. */
    e = store_peek(c->db, &src, NULL);
    struct entry *copy = entry_dup(e, dst.ptr, dst.len, entry_expire(e));
    if (exists) {
        store_peek(dst_db, &dst, &dref);
        store_replace(&dref, copy);
    } else {
        store_add(dst_db, &dst, copy, NULL);
    }
    notify_db(NOTIFY_NEW, "new", dst_db, &dst);
    store_signal_modified(dst_db, &dst);
    notify_db(NOTIFY_GENERIC, "copy_to", dst_db, &dst);
    exec_dirty(c, 1);
    reply_int(c, 1);
}

void cmd_swapdb(struct client *c) {
    int a, b;
    if (!arg_int(c, 1, &a, "ERR invalid first DB index")) return;
    if (!arg_int(c, 2, &b, "ERR invalid second DB index")) return;
    if (a < 0 || a >= store_databases() || b < 0 || b >= store_databases()) {
        reply_error(c, RERR_DB_RANGE);
        return;
    }
    /* Every stripe is held (ALL_STRIPES): store_swapdb nests in them. */
    if (a != b) {
        store_swapdb(a, b);
        block_db_swapped(a, b); /* wake clients blocked on keys that now exist */
    }
    exec_dirty(c, 1);
    reply_ok(c);
}

/* ---- OBJECT ---------------------------------------------------------------------------------- */

/* The key of OBJECT <sub> <key>, without touching its access time; a null
 * reply when missing. */
static struct entry *object_lookup(struct client *c) {
    struct store_key k;
    cmd_key(c, 2, &k);
    struct entry *e = store_lookup(c->db, &k, STORE_LOOKUP_NOTOUCH, NULL);
    if (e == NULL) reply_null(c);
    return e;
}

void cmd_object_encoding(struct client *c) {
    struct entry *e = object_lookup(c);
    if (e) reply_bulk_cstr(c, entry_enc_name(e));
}

long long keyspace_refcount(const struct entry *e) {
    /* Values are not shared here; Redis reports its shared small integers
     * (used unless maxmemory evicts by LRU/LFU) with INT_MAX, and clients
     * and tests rely on that. */
    if (entry_type(e) != TYPE_STRING || entry_enc(e) != ENC_INT) return 1;
    struct strval v;
    entry_str_get(e, &v);
    enum store_evict_policy p = store_get_policy();
    bool lru_lfu = p == EVICT_ALLKEYS_LRU || p == EVICT_VOLATILE_LRU || p == EVICT_ALLKEYS_LFU ||
                   p == EVICT_VOLATILE_LFU;
    if (v.ll >= 0 && v.ll < SHARED_INT_MAX && (store_get_maxmemory() == 0 || !lru_lfu))
        return SHARED_INT_REFCOUNT;
    return 1;
}

void cmd_object_refcount(struct client *c) {
    struct entry *e = object_lookup(c);
    if (e) reply_int(c, keyspace_refcount(e));
}

void cmd_object_idletime(struct client *c) {
    struct entry *e = object_lookup(c);
    if (e == NULL) return;
    if (store_policy_is_lfu()) {
        reply_error(
            c,
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
            "switching between policies at runtime LRU and LFU data will take some time to "
            "adjust.");
        return;
    }
    reply_int(c, (long long)(store_idle_ms(e) / 1000));
}

void cmd_object_freq(struct client *c) {
    struct entry *e = object_lookup(c);
    if (e == NULL) return;
    if (!store_policy_is_lfu()) {
        reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                       "Please note "
                       "that when switching between policies at runtime LRU and LFU data will take "
                       "some time to "
                       "adjust.");
        return;
    }
    reply_int(c, store_lfu_freq(e));
}

void cmd_object_help(struct client *c) {
    static const char *const lines[] = {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)ARRAY_LEN(lines);
    char head[160];
    char name[16];
    size_t nl = MIN(c->argvlen[0], sizeof(name) - 1);
    for (size_t i = 0; i < nl; i++) {
        char ch = c->argv[0][i];
        name[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    name[nl] = '\0';
    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", name);
    reply_array(c, n + 1);
    reply_simple(c, head);
    for (int i = 0; i < n; i++) reply_simple(c, lines[i]);
}


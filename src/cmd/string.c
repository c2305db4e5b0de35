/*
 * cmd/string.c - the STRING family: GET SET SETNX SETEX PSETEX GETEX GETDEL
 * GETSET MGET MSET MSETNX APPEND STRLEN GETRANGE SUBSTR SETRANGE INCR DECR
 * INCRBY DECRBY INCRBYFLOAT LCS, with Redis 7.0's replies, errors, keyspace
 * events, WATCH signals and propagation.
 *
 * Values (store/entry.h): a string entry holds an integer (ENC_INT), inline
 *   bytes (ENC_EMBSTR, or ENC_RAWEMB once edited in place) or a refcounted
 *   blob (ENC_BLOB). A value that reads as a canonical integer of at most 20
 *   characters is stored as ENC_INT, as Redis's tryObjectEncoding does, and
 *   its text form is exactly the original (str_to_ll only accepts text that
 *   formats back identically). In-place edits (APPEND, SETRANGE) go through
 *   store_str_writable, which turns an integer into text first; INCR and
 *   friends overwrite an ENC_INT value in place with store_str_set_int.
 *
 * Order of checks: as Redis 7.0 per command (some look the key up before
 *   parsing their arguments: GETEX validates its expire only for an existing
 *   key, LCS checks types before options). Nothing changes before every
 *   argument is known to be valid.
 *
 * Effects (exec_propagate) are rewritten where Redis 7.0 rewrites them, so
 *   that replicas and the AOF see absolute, deterministic changes:
 *     SET/SETEX/PSETEX with an expire   -> SET key value PXAT <ms>
 *     SET ... GET (no expire)           -> the same SET without GET
 *     GETEX EX/PX/EXAT/PXAT             -> PEXPIREAT key <ms> (DEL if past)
 *     GETEX PERSIST                     -> PERSIST key
 *     GETDEL                            -> DEL key
 *     GETSET key value                  -> SET key value
 *     INCRBYFLOAT key incr              -> SET key <result> KEEPTTL
 *   Everything else is propagated as received when it changed something.
 *
 * Keyspace events: "new" whenever a key is created (Redis's dbAdd), then the
 *   command's own event ("set", "append", "setrange", "incrby",
 *   "incrbyfloat", "expire", "persist", "del").
 *
 * Threading: every command runs [stripe-locked] on the stripes of its keys.
 *   Replies of small values are copied, big blob values are referenced
 *   (reply_entry_str, reply_range), so nothing big is copied under the lock.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"

#include <limits.h>
#include <math.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Add a new key as a command does (Redis dbAdd: the "new" event). */
static void add_key(struct client *c, const struct store_key *k, struct entry *e,
                    struct store_ref *ref) {
    store_add(c->db, k, e, ref);
    cmd_notify(c, NOTIFY_NEW, "new", k);
}

/* Replace the entry at ref (when old != NULL) or add e under k. */
static void put_key(struct client *c, const struct store_key *k, struct store_ref *ref,
                    struct entry *old, struct entry *e) {
    if (old)
        store_replace(ref, e);
    else
        add_key(c, k, e, NULL);
}

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_STRING) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

/* Redis's checkStringLength: may a string of `size` bytes grow by `add`? */
static bool check_len(struct client *c, unsigned long long size, unsigned long long add) {
    unsigned long long total = size + add;
    long long max = client_get_proto_max_bulk();
    if (total < size || total > (unsigned long long)max) {
        reply_error(c, RERR_STRING_TOO_LONG);
        return false;
    }
    return true;
}

/* A new raw string of `len` zero bytes under key k (Redis sdsnewlen). */
static struct entry *zero_entry(const struct store_key *k, size_t len) {
    static const char zeros[ENTRY_EMB_MAX];
    if (len <= ENTRY_EMB_MAX) {
        struct entry *e = entry_new_str(k->ptr, k->len, zeros, len, -1, true);
        entry_set_enc(e, ENC_RAWEMB);
        return e;
    }
    struct blob *b = blob_new(NULL, len, len);
    memset(b->data, 0, len);
    return entry_new_obj(k->ptr, k->len, TYPE_STRING, ENC_BLOB, b, -1);
}

/* Reply with len bytes at p, a part of the value sv: copied when small,
 * else a reference to the value's blob (sent after the lock is dropped). */
#define RANGE_COPY_MAX (16 * 1024)
static void reply_range(struct client *c, const struct strval *sv, const char *p, size_t len) {
    if (sv->blob == NULL || len <= RANGE_COPY_MAX) {
        reply_bulk(c, p, len);
        return;
    }
    resp_w_bulk_header(c->out, len);
    blob_ref(sv->blob);
    obuf_append_ref(c->out, p, len, blob_release_cb, sv->blob);
    obuf_append(c->out, "\r\n", 2);
}

/* ---- GET ------------------------------------------------------------------- */

void cmd_get(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL)
        reply_null(c);
    else if (!wrongtype(c, e))
        reply_entry_str(c, e);
}

/* ---- SET and its variants ------------------------------------------------------------ */

#define SET_NX (1 << 0)
#define SET_XX (1 << 1)
#define SET_GET (1 << 2)
#define SET_KEEPTTL (1 << 3)
#define SET_EX (1 << 4)
#define SET_PX (1 << 5)
#define SET_EXAT (1 << 6)
#define SET_PXAT (1 << 7)
#define SET_PERSIST (1 << 8)
#define SET_EXPIRE_ANY (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* Which expire option argv[j] names (0: none). */
static int expire_kind(const struct client *c, int j) {
    if (cmd_arg_is(c, j, "EX")) return SET_EX;
    if (cmd_arg_is(c, j, "PX")) return SET_PX;
    if (cmd_arg_is(c, j, "EXAT")) return SET_EXAT;
    if (cmd_arg_is(c, j, "PXAT")) return SET_PXAT;
    return 0;
}

/* Redis's parseExtendedStringArgumentsOrReply: SET's options from argv[3]
 * (getex false) or GETEX's from argv[2]. An expire option may repeat (the
 * last one wins) but not mix with another kind, KEEPTTL or PERSIST.
 * *exp_i is the argv index of the expire value, 0 if none. Returns false
 * after replying a syntax error. */
static bool parse_ext(struct client *c, bool getex, int *flags, int *exp_i) {
    int f = 0;
    *exp_i = 0;
    for (int j = getex ? 2 : 3; j < c->argc; j++) {
        int kind;
        if (!getex && cmd_arg_is(c, j, "NX") && !(f & SET_XX)) {
            f |= SET_NX;
        } else if (!getex && cmd_arg_is(c, j, "XX") && !(f & SET_NX)) {
            f |= SET_XX;
        } else if (!getex && cmd_arg_is(c, j, "GET")) {
            f |= SET_GET;
        } else if (!getex && cmd_arg_is(c, j, "KEEPTTL") && !(f & SET_EXPIRE_ANY)) {
            f |= SET_KEEPTTL;
        } else if (getex && cmd_arg_is(c, j, "PERSIST") && !(f & SET_EXPIRE_ANY)) {
            f |= SET_PERSIST;
        } else if (j + 1 < c->argc && (kind = expire_kind(c, j)) != 0 &&
                   !(f & (SET_KEEPTTL | SET_PERSIST)) && !(f & SET_EXPIRE_ANY & ~kind)) {
            f |= kind;
            *exp_i = ++j;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
    }
    *flags = f;
    return true;
}

/* Redis's getExpireMillisecondsOrReply: the absolute expire time in ms from
 * argv[i], relative (EX/PX) or absolute (EXAT/PXAT), seconds or ms. */
static bool expire_ms(struct client *c, int i, int flags, long long *out) {
    long long v;
    if (!cmd_ll(c, i, &v)) return false;
    bool seconds = flags & (SET_EX | SET_EXAT);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (flags & (SET_EX | SET_PX)) {
        int64_t now = time_ms();
        if (v > LLONG_MAX - now) goto invalid;
        v += now;
    }
    *out = v;
    return true;
invalid:
    reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
    return false;
}

/* Stage "SET key value PXAT when" as the command's effect. */
static void propagate_set_pxat(struct client *c, const struct store_key *k, int val_i,
                               long long when) {
    char ms[STR_LL_MAX];
    int n = ll_to_str(ms, sizeof(ms), when);
    const char *argv[5] = {"SET", k->ptr, c->argv[val_i], "PXAT", ms};
    size_t lens[5] = {3, k->len, c->argvlen[val_i], 4, (size_t)n};
    exec_propagate(c, 5, argv, lens);
}

/* Stage SET's own argv without its GET options (GET may repeat). */
static void propagate_without_get(struct client *c) {
    const char *sargv[16];
    size_t slens[16];
    const char **argv = sargv;
    size_t *lens = slens;
    if (c->argc > 16) {
        argv = xmalloc((size_t)c->argc * sizeof(*argv));
        lens = xmalloc((size_t)c->argc * sizeof(*lens));
    }
    int n = 0;
    for (int j = 0; j < c->argc; j++) {
        if (j >= 3 && cmd_arg_is(c, j, "GET")) continue;
        argv[n] = c->argv[j];
        lens[n++] = c->argvlen[j];
    }
    exec_propagate(c, n, argv, lens);
    if (argv != sargv) {
        xfree(argv);
        xfree(lens);
    }
}

enum set_reply { REPLY_OK_NULL, REPLY_ONE_ZERO };

/* Redis's setGenericCommand: SET, SETNX, SETEX and PSETEX. The value is
 * argv[val_i]; the expire (if exp_i) argv[exp_i] in the unit `flags` says. */
static void set_generic(struct client *c, int flags, int val_i, int exp_i, enum set_reply rep) {
    long long when = -1;
    if (exp_i && !expire_ms(c, exp_i, flags, &when)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *old;
    if (flags & SET_GET) {
        /* One lookup serves GET's reply and the write (read stats, as Redis). */
        old = cmd_lookup_read(c, &k, &ref);
        if (old == NULL)
            reply_null(c);
        else if (wrongtype(c, old))
            return;
        else
            reply_entry_str(c, old);
    } else {
        old = cmd_lookup_write(c, &k, &ref);
    }
    if ((flags & SET_NX && old) || (flags & SET_XX && !old)) {
        if (rep == REPLY_ONE_ZERO)
            reply_int(c, 0);
        else if (!(flags & SET_GET))
            reply_null(c);
        return;
    }
    int64_t expire = when;
    if (expire < 0 && old && (flags & SET_KEEPTTL)) expire = entry_expire(old);
    /* Same-size inline value: overwrite in place, no allocation. */
    if (!(old && store_str_overwrite(&ref, c->argv[val_i], c->argvlen[val_i], expire))) {
        struct entry *e = entry_new_str(k.ptr, k.len, c->argv[val_i], c->argvlen[val_i], expire, false);
        put_key(c, &k, &ref, old, e);
    }
    exec_dirty(c, 1);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "set", &k);
    if (when >= 0) {
        propagate_set_pxat(c, &k, val_i, when);
        cmd_notify(c, NOTIFY_GENERIC, "expire", &k);
    } else if (flags & SET_GET) {
        propagate_without_get(c);
    }
    if (rep == REPLY_ONE_ZERO)
        reply_int(c, 1);
    else if (!(flags & SET_GET))
        reply_ok(c);
}

/* SET's key for ACL checks (Redis's setGetKeys): read and written with
 * GET, only written otherwise. */
int cmd_set_keyperm(int argc, const char *const *argv, const size_t *lens, struct acl_ref *out, int max) {
    unsigned perm = ACL_PERM_WRITE;
    for (int i = 3; i < argc; i++)
        if (lens[i] == 3 && strncasecmp(argv[i], "get", 3) == 0) perm = ACL_PERM_ALL;
    if (max > 0) out[0] = (struct acl_ref){1, perm};
    return 1;
}

void cmd_set(struct client *c) {
    int flags, exp_i;
    if (!parse_ext(c, false, &flags, &exp_i)) return;
    set_generic(c, flags, 2, exp_i, REPLY_OK_NULL);
}

void cmd_setnx(struct client *c) {
    set_generic(c, SET_NX, 2, 0, REPLY_ONE_ZERO);
}
void cmd_setex(struct client *c) {
    set_generic(c, SET_EX, 3, 2, REPLY_OK_NULL);
}
void cmd_psetex(struct client *c) {
    set_generic(c, SET_PX, 3, 2, REPLY_OK_NULL);
}

/* ---- GETEX GETDEL GETSET ----------------------------------------------------------- */

void cmd_getex(struct client *c) {
    int flags, exp_i;
    if (!parse_ext(c, true, &flags, &exp_i)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_read(c, &k, &ref);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    long long when = -1;
    if (exp_i && !expire_ms(c, exp_i, flags, &when)) return;
    reply_entry_str(c, e);
    if ((flags & (SET_EXAT | SET_PXAT)) && when <= time_ms() && !store_loading()) {
        /* An absolute time already past: the key goes now. */
        cmd_delete(c, &ref);
        const char *argv[2] = {"DEL", k.ptr};
        size_t lens[2] = {3, k.len};
        exec_propagate(c, 2, argv, lens);
        exec_dirty(c, 1);
    } else if (exp_i) {
        store_set_expire(&ref, when);
        char ms[STR_LL_MAX];
        int n = ll_to_str(ms, sizeof(ms), when);
        const char *argv[3] = {"PEXPIREAT", k.ptr, ms};
        size_t lens[3] = {9, k.len, (size_t)n};
        exec_propagate(c, 3, argv, lens);
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_GENERIC, "expire", &k);
        exec_dirty(c, 1);
    } else if ((flags & SET_PERSIST) && entry_has_expire(e)) {
        store_set_expire(&ref, -1);
        cmd_modified(c, &k);
        const char *argv[2] = {"PERSIST", k.ptr};
        size_t lens[2] = {7, k.len};
        exec_propagate(c, 2, argv, lens);
        cmd_notify(c, NOTIFY_GENERIC, "persist", &k);
        exec_dirty(c, 1);
    }
}

void cmd_getdel(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_read(c, &k, &ref);
    if (e == NULL) {
        reply_null(c);
        return;
    }
    if (wrongtype(c, e)) return;
    reply_entry_str(c, e);
    cmd_delete(c, &ref);
    const char *argv[2] = {"DEL", k.ptr};
    size_t lens[2] = {3, k.len};
    exec_propagate(c, 2, argv, lens);
    exec_dirty(c, 1);
}

void cmd_getset(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *old = cmd_lookup_read(c, &k, &ref);
    if (old == NULL)
        reply_null(c);
    else if (wrongtype(c, old))
        return;
    else
        reply_entry_str(c, old);
    struct entry *e = entry_new_str(k.ptr, k.len, c->argv[2], c->argvlen[2], -1, false);
    put_key(c, &k, &ref, old, e);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "set", &k);
    exec_dirty(c, 1);
    const char *argv[3] = {"SET", k.ptr, c->argv[2]};
    size_t lens[3] = {3, k.len, c->argvlen[2]};
    exec_propagate(c, 3, argv, lens);
}

/* ---- MGET MSET MSETNX -------------------------------------------------------------- */

void cmd_mget(struct client *c) {
    reply_array(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        struct store_key k;
        cmd_key(c, j, &k);
        struct entry *e = cmd_lookup_read(c, &k, NULL);
        if (e == NULL || entry_type(e) != TYPE_STRING)
            reply_null(c);
        else
            reply_entry_str(c, e);
    }
}

static void mset_generic(struct client *c, bool nx) {
    if (c->argc % 2 == 0) {
        reply_arity_error(c);
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            struct store_key k;
            cmd_key(c, j, &k);
            if (cmd_lookup_write(c, &k, NULL)) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        struct store_key k;
        cmd_key(c, j, &k);
        struct store_ref ref;
        struct entry *old = cmd_lookup_write(c, &k, &ref);
        struct entry *e = entry_new_str(k.ptr, k.len, c->argv[j + 1], c->argvlen[j + 1], -1, false);
        put_key(c, &k, &ref, old, e);
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_STRING, "set", &k);
    }
    exec_dirty(c, (c->argc - 1) / 2);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

void cmd_mset(struct client *c) {
    mset_generic(c, false);
}
void cmd_msetnx(struct client *c) {
    mset_generic(c, true);
}

/* ---- APPEND STRLEN ----------------------------------------------------------------- */

void cmd_append(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    size_t add = c->argvlen[2];
    size_t total;
    if (e == NULL) {
        add_key(c, &k, entry_new_str(k.ptr, k.len, c->argv[2], add, -1, false), NULL);
        total = add;
    } else {
        if (wrongtype(c, e)) return;
        size_t cur = entry_str_len(e);
        if (!check_len(c, cur, add)) return;
        total = cur + add;
        char *p = store_str_writable(&ref, total);
        if (add) memcpy(p + cur, c->argv[2], add);
    }
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "append", &k);
    exec_dirty(c, 1);
    reply_int(c, (long long)total);
}

void cmd_strlen(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL)
        reply_int(c, 0);
    else if (!wrongtype(c, e))
        reply_int(c, (long long)entry_str_len(e));
}

/* ---- GETRANGE SUBSTR SETRANGE ------------------------------------------------------ */

void cmd_getrange(struct client *c) {
    long long start, end;
    if (!cmd_ll(c, 2, &start) || !cmd_ll(c, 3, &end)) return;
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    if (e == NULL) {
        reply_bulk(c, "", 0);
        return;
    }
    if (wrongtype(c, e)) return;
    struct strval sv;
    char numbuf[STR_LL_MAX];
    entry_str_get(e, &sv);
    if (sv.ptr == NULL) {
        sv.len = (size_t)ll_to_str(numbuf, sizeof(numbuf), sv.ll);
        sv.ptr = numbuf;
    }
    long long len = (long long)sv.len;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    reply_range(c, &sv, sv.ptr + start, (size_t)(end - start + 1));
}

void cmd_setrange(struct client *c) {
    long long offset;
    if (!cmd_ll(c, 2, &offset)) return;
    if (offset < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    size_t vlen = c->argvlen[3];
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    size_t cur = 0;
    if (e == NULL) {
        if (vlen == 0) {
            reply_int(c, 0);
            return;
        }
        if (!check_len(c, (unsigned long long)offset, vlen)) return;
        add_key(c, &k, zero_entry(&k, (size_t)offset + vlen), &ref);
    } else {
        if (wrongtype(c, e)) return;
        cur = entry_str_len(e);
        if (vlen == 0) {
            reply_int(c, (long long)cur);
            return;
        }
        if (!check_len(c, (unsigned long long)offset, vlen)) return;
    }
    size_t need = (size_t)offset + vlen;
    size_t total = MAX(cur, need);
    char *p = store_str_writable(&ref, total);
    memcpy(p + offset, c->argv[3], vlen);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "setrange", &k);
    exec_dirty(c, 1);
    reply_int(c, (long long)total);
}

/* ---- INCR DECR INCRBY DECRBY INCRBYFLOAT ------------------------------------------ */

static void incr_generic(struct client *c, long long incr) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    long long v = 0;
    if (e != NULL) {
        if (wrongtype(c, e)) return;
        struct strval sv;
        entry_str_get(e, &sv);
        if (sv.ptr == NULL) {
            v = sv.ll;
        } else if (!str_to_ll(sv.ptr, sv.len, &v)) {
            reply_error(c, RERR_NOT_INT);
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(c, RERR_OVERFLOW);
        return;
    }
    v += incr;
    if (e != NULL)
        store_str_set_int(&ref, v); /* in place when already an integer */
    else
        add_key(c, &k, entry_new_int(k.ptr, k.len, v, -1), NULL);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "incrby", &k);
    exec_dirty(c, 1);
    reply_int(c, v);
}

void cmd_incr(struct client *c) {
    incr_generic(c, 1);
}
void cmd_decr(struct client *c) {
    incr_generic(c, -1);
}

void cmd_incrby(struct client *c) {
    long long incr;
    if (cmd_ll(c, 2, &incr)) incr_generic(c, incr);
}

void cmd_decrby(struct client *c) {
    long long incr;
    if (!cmd_ll(c, 2, &incr)) return;
    if (incr == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -incr);
}

void cmd_incrbyfloat(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    long double v = 0, incr;
    if (e != NULL) {
        if (wrongtype(c, e)) return;
        struct strval sv;
        entry_str_get(e, &sv);
        if (sv.ptr == NULL) {
            v = (long double)sv.ll;
        } else if (!str_to_ld(sv.ptr, sv.len, &v)) {
            reply_error(c, RERR_NOT_FLOAT);
            return;
        }
    }
    if (!cmd_ld(c, 2, &incr)) return;
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[STR_LD_MAX];
    int n = ld_to_str_human(buf, sizeof(buf), v);
    /* Redis keeps the result as text (never integer-encoded) and the TTL. */
    struct entry *ne = entry_new_str(k.ptr, k.len, buf, (size_t)n, e ? entry_expire(e) : -1, true);
    put_key(c, &k, &ref, e, ne);
    cmd_modified(c, &k);
    cmd_notify(c, NOTIFY_STRING, "incrbyfloat", &k);
    exec_dirty(c, 1);
    reply_bulk(c, buf, (size_t)n);
    const char *argv[4] = {"SET", k.ptr, buf, "KEEPTTL"};
    size_t lens[4] = {3, k.len, (size_t)n, 7};
    exec_propagate(c, 4, argv, lens);
}

/* ---- LCS --------------------------------------------------------------------------- */

/* The text of a string entry (or "" for NULL); buf holds integers. */
static const char *str_text(const struct entry *e, char *buf, size_t *len) {
    if (e == NULL) {
        *len = 0;
        return "";
    }
    return entry_str_bytes(e, buf, len);
}

/* LCS length only: two rolling rows, O(blen) memory. */
static uint32_t lcs_len(const char *a, uint32_t alen, const char *b, uint32_t blen) {
    uint32_t *prev = xcalloc((size_t)blen + 1, sizeof(uint32_t));
    uint32_t *row = xcalloc((size_t)blen + 1, sizeof(uint32_t));
    for (uint32_t i = 1; i <= alen; i++) {
        for (uint32_t j = 1; j <= blen; j++) {
            if (a[i - 1] == b[j - 1])
                row[j] = prev[j - 1] + 1;
            else
                row[j] = prev[j] > row[j - 1] ? prev[j] : row[j - 1];
        }
        uint32_t *t = prev;
        prev = row;
        row = t;
    }
    uint32_t r = prev[blen];
    xfree(prev);
    xfree(row);
    return r;
}

struct lcs_opts {
    bool len, idx, withmatchlen;
    long long minmatchlen;
};

/* Full table, then walk back from the end emitting the LCS text and (IDX)
 * the matching ranges, last to first, exactly in Redis's order. */
static void lcs_full(struct client *c, const char *a, uint32_t alen, const char *b, uint32_t blen,
                     const struct lcs_opts *o) {
    size_t w = (size_t)blen + 1;
    uint32_t *t = xmalloc(((size_t)alen + 1) * w * sizeof(uint32_t));
#define T(i, j) t[(size_t)(i)*w + (j)]
    for (uint32_t j = 0; j <= blen; j++) T(0, j) = 0;
    for (uint32_t i = 1; i <= alen; i++) {
        T(i, 0) = 0;
        for (uint32_t j = 1; j <= blen; j++) {
            if (a[i - 1] == b[j - 1])
                T(i, j) = T(i - 1, j - 1) + 1;
            else
                T(i, j) = T(i - 1, j) > T(i, j - 1) ? T(i - 1, j) : T(i, j - 1);
        }
    }
    uint32_t total = T(alen, blen);
    char *res = o->idx ? NULL : xmalloc((size_t)total + 1);
    struct onode *matches = NULL;
    long long nmatches = 0;
    if (o->idx) {
        reply_map(c, 2);
        reply_bulk_cstr(c, "matches");
        matches = reply_defer(c);
    }
    uint32_t i = alen, j = blen, k = total;
    bool open = false; /* a range is being tracked */
    uint32_t as = 0, ae = 0, bs = 0, be = 0;
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            if (res) res[k - 1] = a[i - 1];
            if (!open) {
                as = ae = i - 1;
                bs = be = j - 1;
                open = true;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = true;
            }
            if (as == 0 || bs == 0) emit = true;
            k--;
            i--;
            j--;
        } else {
            if (T(i - 1, j) > T(i, j - 1))
                i--;
            else
                j--;
            if (open) emit = true;
        }
        if (emit) {
            long long mlen = (long long)ae - as + 1;
            if (o->idx && (o->minmatchlen == 0 || mlen >= o->minmatchlen)) {
                reply_array(c, 2 + o->withmatchlen);
                reply_array(c, 2);
                reply_int(c, as);
                reply_int(c, ae);
                reply_array(c, 2);
                reply_int(c, bs);
                reply_int(c, be);
                if (o->withmatchlen) reply_int(c, mlen);
                nmatches++;
            }
            open = false;
        }
    }
#undef T
    if (o->idx) {
        reply_defer_array(c, matches, nmatches);
        reply_bulk_cstr(c, "len");
        reply_int(c, total);
    } else {
        reply_bulk(c, res, total);
        xfree(res);
    }
    xfree(t);
}

void cmd_lcs(struct client *c) {
    struct store_key ka, kb;
    cmd_key(c, 1, &ka);
    cmd_key(c, 2, &kb);
    struct entry *ea = cmd_lookup_read(c, &ka, NULL);
    struct entry *eb = cmd_lookup_read(c, &kb, NULL);
    if ((ea && entry_type(ea) != TYPE_STRING) || (eb && entry_type(eb) != TYPE_STRING)) {
        reply_error(c, "ERR The specified keys must contain string values");
        return;
    }
    struct lcs_opts o = {false, false, false, 0};
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "IDX")) {
            o.idx = true;
        } else if (cmd_arg_is(c, j, "LEN")) {
            o.len = true;
        } else if (cmd_arg_is(c, j, "WITHMATCHLEN")) {
            o.withmatchlen = true;
        } else if (cmd_arg_is(c, j, "MINMATCHLEN") && j + 1 < c->argc) {
            if (!cmd_ll(c, ++j, &o.minmatchlen)) return;
            if (o.minmatchlen < 0) o.minmatchlen = 0;
        } else {
            reply_error(c, RERR_SYNTAX);
            return;
        }
    }
    if (o.len && o.idx) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    char bufa[STR_LL_MAX], bufb[STR_LL_MAX];
    size_t la, lb;
    const char *a = str_text(ea, bufa, &la);
    const char *b = str_text(eb, bufb, &lb);
    if (la >= UINT32_MAX - 1 || lb >= UINT32_MAX - 1) {
        reply_error(c, "ERR String too long for LCS");
        return;
    }
    /* The same limit as Redis's full table, even when LEN needs less. */
    unsigned long long cells = (unsigned long long)(la + 1) * (lb + 1);
    if (cells > (unsigned long long)client_get_proto_max_bulk() / sizeof(uint32_t)) {
        reply_error(c,
                    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    if (o.len)
        reply_int(c, lcs_len(a, (uint32_t)la, b, (uint32_t)lb));
    else
        lcs_full(c, a, (uint32_t)la, b, (uint32_t)lb, &o);
}

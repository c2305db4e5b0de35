/*
 * persist/rdb_load.c - the RDB loader: byte sources, primitives, the
 * built-in value loaders and the stream parser (see rdb.h).
 *
 * What each RDB type becomes (Redis 7's rdbLoadObject rules, mapped onto
 * Stash's encodings):
 *
 *   STRING                      a string entry (integers detected)
 *   LIST, LIST_ZIPLIST          elements pushed one by one
 *   LIST_QUICKLIST(_2)          nodes adopted as they are (ziplist nodes of
 *                               v1 converted to listpacks); one small node
 *                               becomes the listpack encoding
 *   SET, SET_LISTPACK (7.2)     members added one by one (intset or table)
 *   SET_INTSET                  the blob adopted (table above the limit)
 *   ZSET, ZSET_2                a skiplist, then a listpack if small enough
 *   ZSET_ZIPLIST                converted to a listpack
 *   ZSET_LISTPACK               the blob adopted (skiplist above the limit)
 *   HASH, HASH_ZIPMAP,
 *   HASH_ZIPLIST                fields set one by one (listpack or table)
 *   HASH_LISTPACK               the blob adopted (table above the limit)
 *   STREAM_LISTPACKS(_2, _3)    persist/rdb_stream.c (registered at setup)
 *   MODULE, MODULE_2            refused with a clear error (no modules)
 *
 * Duplicate members or fields, NaN scores, malformed blobs: the load fails
 * with Redis's reason ("Duplicate set members detected", ...). Empty values
 * are reported through *empty and skipped by the caller, as Redis does.
 *
 * Thread context: [any]; one reader per thread.
 */
#include "persist/rdb.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/str.h"
#include "ds/intset.h"
#include "ds/listpack.h"
#include "ds/quicklist.h"
#include "persist/crc64.h"
#include "persist/legacy.h"
#include "persist/source.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/zset.h"

#include <errno.h>
#include <limits.h>
#include <liblzf/lzf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_BUF (256 * 1024)

static rdb_value_load_fn loaders[RDB_TYPE_MAX];
static struct {
    rdb_opcode_fn fn;
    void *ctx;
} opcodes[256];

void rdb_register_loader(int rdbtype, rdb_value_load_fn fn) {
    if (rdbtype >= 0 && rdbtype < RDB_TYPE_MAX) loaders[rdbtype] = fn;
}

void rdb_register_opcode(int opcode, rdb_opcode_fn fn, void *ctx) {
    if (opcode >= 0 && opcode < 256) {
        opcodes[opcode].fn = fn;
        opcodes[opcode].ctx = ctx;
    }
}

/* ---- sources -------------------------------------------------------------------------------- */

void rdb_reader_mem(struct rdb_reader *r, const void *p, size_t n) {
    memset(r, 0, sizeof(*r));
    r->mem = p;
    r->len = n;
    r->left = n;
}

void rdb_reader_fd(struct rdb_reader *r, int fd, uint64_t size) { rdb_reader_fd_flags(r, fd, size, 0); }

void rdb_reader_fd_flags(struct rdb_reader *r, int fd, uint64_t size, unsigned flags) {
    memset(r, 0, sizeof(*r));
    char err[sizeof(r->err)];
    if (source_open_fd(fd, size, flags, &r->src, err, sizeof(err)) != 0) {
        rdb_fail(r, "%s", err);
        r->open_failed = true;
        return;
    }
    r->encrypted = source_encrypted(r->src);
    r->fbuf = xmalloc(FILE_BUF);
    r->mem = r->fbuf;
    r->left = r->unread = source_size(r->src);
}

void rdb_reader_pull(struct rdb_reader *r, long (*pull)(void *arg, void *buf, size_t n), void *arg, uint64_t size) {
    memset(r, 0, sizeof(*r));
    r->fbuf = xmalloc(FILE_BUF);
    r->mem = r->fbuf;
    r->left = r->unread = size;
    r->pull = pull;
    r->pull_arg = arg;
}

void rdb_reader_free(struct rdb_reader *r) {
    source_close(&r->src);
    xfree(r->fbuf);
    r->fbuf = NULL;
}

bool rdb_fail(struct rdb_reader *r, const char *fmt, ...) {
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof(r->err), fmt, ap);
        va_end(ap);
        r->failed = true;
    }
    return false;
}

static bool refill(struct rdb_reader *r) {
    size_t want = (size_t)MIN((uint64_t)FILE_BUF, r->unread);
    if (want == 0) return rdb_fail(r, "Unexpected EOF reading RDB file");
    ssize_t got;
    if (r->pull) { /* a stream: take what comes */
        got = r->pull(r->pull_arg, r->fbuf, want);
        if (got <= 0) return rdb_fail(r, "Unexpected EOF reading RDB file");
    } else {
        got = source_read(r->src, r->fbuf, want);
        if (got < 0) return rdb_fail(r, "%s", source_error(r->src));
        if ((size_t)got < want) return rdb_fail(r, "Unexpected EOF reading RDB file");
    }
    r->len = (size_t)got;
    r->pos = 0;
    r->unread -= (uint64_t)got;
    return true;
}

bool rdb_read(struct rdb_reader *r, void *out, size_t n) {
    if (!rdb_read_raw(r, out, n)) return false;
    r->crc = crc64(r->crc, out, n);
    return true;
}

bool rdb_read_raw(struct rdb_reader *r, void *out, size_t n) {
    if (r->failed) return false;
    if (n > r->left) {
        r->left = 0;
        return rdb_fail(r, "Unexpected EOF reading RDB file");
    }
    unsigned char *o = out;
    size_t need = n;
    while (need > 0) {
        /* (fbuf: a file source; a memory one has nothing more.) */
        if (r->pos == r->len && (r->fbuf == NULL || !refill(r))) return rdb_fail(r, "Unexpected EOF reading RDB file");
        size_t k = MIN(need, r->len - r->pos);
        memcpy(o, r->mem + r->pos, k);
        r->pos += k;
        o += k;
        need -= k;
    }
    r->left -= n;
    r->consumed += n;
    return true;
}

int rdb_peek(struct rdb_reader *r) {
    if (r->failed || r->left == 0) return -1;
    if (r->pos == r->len && (r->fbuf == NULL || !refill(r))) return -1;
    return r->mem[r->pos];
}

size_t rdb_read_line(struct rdb_reader *r, char *buf, size_t cap) {
    size_t n = 0;
    while (!r->failed && r->left > 0 && n + 1 < cap) {
        if (r->pos == r->len && (r->fbuf == NULL || !refill(r))) break;
        size_t avail = MIN(r->len - r->pos, cap - 1 - n);
        if ((uint64_t)avail > r->left) avail = (size_t)r->left;
        const unsigned char *p = r->mem + r->pos;
        const unsigned char *nl = memchr(p, '\n', avail);
        size_t k = nl ? (size_t)(nl - p) + 1 : avail;
        memcpy(buf + n, p, k);
        n += k;
        r->pos += k;
        r->left -= k;
        r->consumed += k;
        if (nl) break;
    }
    buf[n] = '\0';
    return n;
}

/* ---- primitives -------------------------------------------------------------------------------- */

bool rdb_read_byte(struct rdb_reader *r, int *v) {
    unsigned char c;
    if (!rdb_read(r, &c, 1)) return false;
    *v = c;
    return true;
}

bool rdb_read_len(struct rdb_reader *r, uint64_t *len, bool *encoded) {
    unsigned char b[9];
    if (encoded) *encoded = false;
    if (!rdb_read(r, b, 1)) return false;
    switch (b[0] >> 6) {
    case 3:
        if (!encoded) return rdb_fail(r, "Unexpected encoded length");
        *encoded = true;
        *len = b[0] & 0x3F;
        return true;
    case 0:
        *len = b[0] & 0x3F;
        return true;
    case 1:
        if (!rdb_read(r, b + 1, 1)) return false;
        *len = ((uint64_t)(b[0] & 0x3F) << 8) | b[1];
        return true;
    default:
        if (b[0] == 0x80) {
            if (!rdb_read(r, b + 1, 4)) return false;
            *len = ((uint64_t)b[1] << 24) | ((uint64_t)b[2] << 16) | ((uint64_t)b[3] << 8) | b[4];
            return true;
        }
        if (b[0] == 0x81) {
            if (!rdb_read(r, b + 1, 8)) return false;
            uint64_t v = 0;
            for (int i = 1; i <= 8; i++) v = (v << 8) | b[i];
            *len = v;
            return true;
        }
        return rdb_fail(r, "Unknown length encoding %d in rdbLoadLen()", b[0] >> 6);
    }
}

bool rdb_read_plain_len(struct rdb_reader *r, uint64_t *len) { return rdb_read_len(r, len, NULL); }

/* LZF: compressed length, original length, data. The original length is
 * capped by what LZF can expand to (one 3-byte back reference yields at
 * most 264 bytes), so a forged length cannot make us allocate wildly. */
static bool read_lzf(struct rdb_reader *r, char **s, size_t *len) {
    uint64_t clen, ulen;
    if (!rdb_read_plain_len(r, &clen) || !rdb_read_plain_len(r, &ulen)) return false;
    if (clen > r->left) return rdb_fail(r, "Unexpected EOF reading RDB file");
    if (clen == 0 || ulen > clen * 100 + 64 || ulen > UINT32_MAX) return rdb_fail(r, "Invalid LZF compressed string");
    unsigned char *c = xmalloc(clen);
    if (!rdb_read(r, c, clen)) {
        xfree(c);
        return false;
    }
    char *out = xmalloc(ulen + 1);
    unsigned int got = ulen ? lzf_decompress(c, (unsigned int)clen, out, (unsigned int)ulen) : 0;
    xfree(c);
    if (got != ulen || ulen == 0) {
        xfree(out);
        return rdb_fail(r, "Invalid LZF compressed string");
    }
    out[ulen] = '\0';
    *s = out;
    *len = ulen;
    return true;
}

bool rdb_read_string(struct rdb_reader *r, char **s, size_t *len) {
    uint64_t n;
    bool enc;
    if (!rdb_read_len(r, &n, &enc)) return false;
    if (enc) {
        long long v;
        unsigned char b[4];
        switch (n) {
        case RDB_ENC_INT8:
            if (!rdb_read(r, b, 1)) return false;
            v = (int8_t)b[0];
            break;
        case RDB_ENC_INT16:
            if (!rdb_read(r, b, 2)) return false;
            v = (int16_t)(uint16_t)(b[0] | (b[1] << 8));
            break;
        case RDB_ENC_INT32:
            if (!rdb_read(r, b, 4)) return false;
            v = (int32_t)((uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24));
            break;
        case RDB_ENC_LZF: return read_lzf(r, s, len);
        default: return rdb_fail(r, "Unknown RDB string encoding type %llu", (unsigned long long)n);
        }
        char *out = xmalloc(STR_LL_MAX + 1);
        *len = (size_t)ll_to_str(out, STR_LL_MAX + 1, v);
        *s = out;
        return true;
    }
    if (n > r->left) {
        r->left = 0;
        return rdb_fail(r, "Unexpected EOF reading RDB file");
    }
    char *out = xmalloc(n + 1);
    if (!rdb_read(r, out, n)) {
        xfree(out);
        return false;
    }
    out[n] = '\0';
    *s = out;
    *len = n;
    return true;
}

bool rdb_read_double_bin(struct rdb_reader *r, double *d) { return rdb_read(r, d, sizeof(*d)); }

bool rdb_read_double_text(struct rdb_reader *r, double *d) {
    unsigned char n;
    char buf[256];
    if (!rdb_read(r, &n, 1)) return false;
    if (n == 255) *d = -INFINITY;
    else if (n == 254) *d = INFINITY;
    else if (n == 253) *d = NAN;
    else {
        if (!rdb_read(r, buf, n)) return false;
        buf[n] = '\0';
        char *end;
        *d = strtod(buf, &end);
        if (end == buf) return rdb_fail(r, "Invalid double value");
    }
    return true;
}

bool rdb_read_ms(struct rdb_reader *r, int64_t *ms) { return rdb_read(r, ms, sizeof(*ms)); }

/* ---- value loaders ------------------------------------------------------------------------------- */

static struct entry *load_string(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                 bool *empty) {
    char *s;
    size_t len;
    if (!rdb_read_string(r, &s, &len)) return NULL;
    struct entry *e = entry_new_str(key, klen, s, len, expire, false);
    xfree(s);
    return e;
}

static struct entry *list_entry(struct list *l, const char *key, size_t klen, int64_t expire, bool *empty) {
    if (list_len(l) == 0) {
        list_free(l);
        *empty = true;
        return NULL;
    }
    return entry_new_obj(key, klen, TYPE_LIST, ENC_OBJ, l, expire);
}

static struct entry *load_list(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                               bool *empty) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return NULL;
    struct list *l = list_new();
    while (n--) {
        char *s;
        size_t len;
        if (!rdb_read_string(r, &s, &len)) {
            list_free(l);
            return NULL;
        }
        list_push_one(l, LIST_TAIL, s, len);
        xfree(s);
    }
    return list_entry(l, key, klen, expire, empty);
}

/* Append an element to a listpack being built (ziplist conversion). */
static bool lp_append_elem(const unsigned char *s, size_t len, long long v, void *arg) {
    unsigned char **lp = arg;
    *lp = s ? lp_append(*lp, s, len) : lp_append_int(*lp, v);
    return true;
}

static bool list_push_elem(const unsigned char *s, size_t len, long long v, void *arg) {
    struct list *l = arg;
    if (s) {
        list_push_one(l, LIST_TAIL, (const char *)s, len);
    } else {
        char num[STR_LL_MAX];
        int n = ll_to_str(num, sizeof(num), v);
        list_push_one(l, LIST_TAIL, num, (size_t)n);
    }
    return true;
}

static struct entry *load_list_ziplist(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                       bool *empty) {
    char *blob;
    size_t size, count;
    if (!rdb_read_string(r, &blob, &size)) return NULL;
    struct list *l = list_new();
    bool ok = ziplist_visit((unsigned char *)blob, size, list_push_elem, l, &count);
    xfree(blob);
    if (!ok) {
        list_free(l);
        rdb_fail(r, "List ziplist integrity check failed.");
        return NULL;
    }
    return list_entry(l, key, klen, expire, empty);
}

static struct entry *load_quicklist(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                    bool *empty) {
    uint64_t nodes;
    if (!rdb_read_plain_len(r, &nodes)) return NULL;
    struct quicklist *ql = ql_new(list_get_fill(), 0);
    while (nodes--) {
        uint64_t container = RDB_QL_PACKED;
        if (t == RDB_TYPE_LIST_QUICKLIST_2) {
            if (!rdb_read_plain_len(r, &container)) goto fail;
            if (container != RDB_QL_PACKED && container != RDB_QL_PLAIN) {
                rdb_fail(r, "Quicklist integrity check failed.");
                goto fail;
            }
        }
        char *data;
        size_t sz;
        if (!rdb_read_string(r, &data, &sz)) goto fail;
        if (sz == 0) {
            xfree(data);
            rdb_fail(r, "Quicklist integrity check failed.");
            goto fail;
        }
        if (container == RDB_QL_PLAIN) {
            ql_append_node(ql, (unsigned char *)data, sz, true);
            continue;
        }
        unsigned char *lp;
        if (t == RDB_TYPE_LIST_QUICKLIST_2) {
            if (!lp_validate((unsigned char *)data, sz, true, NULL, NULL)) {
                xfree(data);
                rdb_fail(r, "Listpack integrity check failed.");
                goto fail;
            }
            lp = (unsigned char *)data; /* xmalloc'ed: a listpack may grow it */
        } else {
            size_t count;
            lp = lp_new(0);
            bool ok = ziplist_visit((unsigned char *)data, sz, lp_append_elem, &lp, &count);
            xfree(data);
            if (!ok) {
                lp_free(lp);
                rdb_fail(r, "Ziplist integrity check failed.");
                goto fail;
            }
        }
        if (lp_length(lp) == 0) {
            lp_free(lp);
            continue;
        }
        ql_append_node(ql, lp, lp_bytes(lp), false);
    }
    if (ql_count(ql) == 0) {
        ql_free(ql);
        *empty = true;
        return NULL;
    }
    return entry_new_obj(key, klen, TYPE_LIST, ENC_OBJ, list_from_quicklist(ql), expire);
fail:
    ql_free(ql);
    return NULL;
}

static struct entry *set_entry(struct set *s, const char *key, size_t klen, int64_t expire, bool *empty) {
    if (s == NULL || set_len(s) == 0) {
        if (s) set_free(s);
        *empty = true;
        return NULL;
    }
    return entry_new_obj(key, klen, TYPE_SET, ENC_OBJ, s, expire);
}

static struct entry *load_set(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                              bool *empty) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return NULL;
    struct set *s = NULL;
    while (n--) {
        char *m;
        size_t len;
        if (!rdb_read_string(r, &m, &len)) goto fail;
        if (s == NULL) s = set_new_for(m, len);
        bool added = set_add(&s, m, len);
        xfree(m);
        if (!added) {
            rdb_fail(r, "Duplicate set members detected");
            goto fail;
        }
    }
    return set_entry(s, key, klen, expire, empty);
fail:
    if (s) set_free(s);
    return NULL;
}

/* Read a string-encoded blob and copy it into an allocation of our own
 * (blobs from xmalloc are fine for intset/listpack users). */
static unsigned char *read_blob(struct rdb_reader *r, size_t *size) {
    char *s;
    if (!rdb_read_string(r, &s, size)) return NULL;
    return (unsigned char *)s;
}

static struct entry *load_set_intset(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                     bool *empty) {
    size_t size;
    unsigned char *blob = read_blob(r, &size);
    if (!blob) return NULL;
    if (!intset_validate(blob, size, true)) {
        xfree(blob);
        rdb_fail(r, "Intset integrity check failed.");
        return NULL;
    }
    return set_entry(set_from_intset(blob), key, klen, expire, empty);
}

struct set_build {
    struct set *s;
    bool dup;
};

static bool set_add_elem(const unsigned char *p, size_t len, long long v, void *arg) {
    struct set_build *b = arg;
    char num[STR_LL_MAX];
    if (p == NULL) {
        len = (size_t)ll_to_str(num, sizeof(num), v);
        p = (unsigned char *)num;
    }
    if (b->s == NULL) b->s = set_new_for((const char *)p, len);
    if (!set_add(&b->s, (const char *)p, len)) b->dup = true;
    return !b->dup;
}

static bool lp_visit(const unsigned char *lp, legacy_elem_fn fn, void *arg) {
    unsigned char *l = (unsigned char *)lp;
    for (unsigned char *p = lp_first(l); p; p = lp_next(l, p)) {
        size_t len;
        long long v;
        const unsigned char *s = lp_get(p, &len, &v);
        if (!fn(s, len, v, arg)) return false;
    }
    return true;
}

static struct entry *load_set_listpack(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                       bool *empty) {
    size_t size;
    unsigned char *blob = read_blob(r, &size);
    if (!blob) return NULL;
    if (!lp_validate(blob, size, true, NULL, NULL)) {
        xfree(blob);
        rdb_fail(r, "Set listpack integrity check failed.");
        return NULL;
    }
    struct set_build b = {NULL, false};
    lp_visit(blob, set_add_elem, &b);
    xfree(blob);
    if (b.dup) {
        if (b.s) set_free(b.s);
        rdb_fail(r, "Set listpack integrity check failed.");
        return NULL;
    }
    return set_entry(b.s, key, klen, expire, empty);
}

static struct entry *zset_entry(struct zset *z, const char *key, size_t klen, int64_t expire, bool *empty) {
    if (zset_len(z) == 0) {
        zset_destroy(z);
        *empty = true;
        return NULL;
    }
    return entry_new_obj(key, klen, TYPE_ZSET, ENC_OBJ, z, expire);
}

static struct entry *load_zset(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                               bool *empty) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return NULL;
    struct zset *z = zset_create_skiplist();
    size_t maxlen = 0, total = 0;
    while (n--) {
        char *m;
        size_t len;
        double score;
        if (!rdb_read_string(r, &m, &len)) goto fail;
        bool ok = t == RDB_TYPE_ZSET_2 ? rdb_read_double_bin(r, &score) : rdb_read_double_text(r, &score);
        if (!ok || isnan(score)) {
            xfree(m);
            if (ok) rdb_fail(r, "Zset with NAN score detected");
            goto fail;
        }
        int out = 0;
        zset_add(&z, score, m, len, 0, &out, NULL);
        xfree(m);
        if (!(out & ZSET_OUT_ADDED)) {
            rdb_fail(r, "Duplicate zset fields detected");
            goto fail;
        }
        if (len > maxlen) maxlen = len;
        total += len;
    }
    zset_maybe_to_listpack(&z, maxlen, total);
    return zset_entry(z, key, klen, expire, empty);
fail:
    zset_destroy(z);
    return NULL;
}

/* Pairs checks shared by zset and hash listpacks: an even count, distinct
 * fields (every other entry), and (zsets) scores that read as numbers. */
struct pairs_check {
    bool zset;
    size_t n;
    bool bad;
    struct set *seen; /* field names met so far */
};

static bool pairs_elem(const unsigned char *s, size_t len, long long v, void *arg) {
    struct pairs_check *c = arg;
    bool field = (c->n++ % 2) == 0;
    char num[STR_LL_MAX];
    if (s == NULL) {
        len = (size_t)ll_to_str(num, sizeof(num), v);
        s = (unsigned char *)num;
    }
    if (field) {
        if (c->seen == NULL) c->seen = set_new_for("x", 1);
        if (!set_add(&c->seen, (const char *)s, len)) c->bad = true;
    } else if (c->zset) {
        double d;
        if (!str_to_d((const char *)s, len, &d) || isnan(d)) c->bad = true;
    }
    return !c->bad;
}

static bool pairs_ok(const unsigned char *lp, bool zset) {
    struct pairs_check c = {zset, 0, false, NULL};
    lp_visit(lp, pairs_elem, &c);
    if (c.seen) set_free(c.seen);
    return !c.bad && c.n % 2 == 0;
}

static struct entry *load_zset_lp(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                  bool *empty) {
    size_t size;
    unsigned char *blob = read_blob(r, &size);
    if (!blob) return NULL;
    unsigned char *lp = blob;
    bool ok;
    if (t == RDB_TYPE_ZSET_ZIPLIST) {
        size_t count;
        lp = lp_new(0);
        ok = ziplist_visit(blob, size, lp_append_elem, &lp, &count);
        xfree(blob);
    } else {
        ok = lp_validate(blob, size, true, NULL, NULL);
    }
    if (!ok || !pairs_ok(lp, true)) {
        xfree(lp);
        rdb_fail(r, t == RDB_TYPE_ZSET_ZIPLIST ? "Zset ziplist integrity check failed."
                                               : "Zset listpack integrity check failed.");
        return NULL;
    }
    return zset_entry(zset_from_listpack(lp), key, klen, expire, empty);
}

static struct entry *hash_entry(struct hash *h, const char *key, size_t klen, int64_t expire, bool *empty) {
    if (hash_len(h) == 0) {
        hash_free(h);
        *empty = true;
        return NULL;
    }
    return entry_new_obj(key, klen, TYPE_HASH, ENC_OBJ, h, expire);
}

static struct entry *load_hash(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                               bool *empty) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return NULL;
    struct hash *h = hash_new();
    while (n--) {
        char *f, *v;
        size_t flen, vlen;
        if (!rdb_read_string(r, &f, &flen)) goto fail;
        if (!rdb_read_string(r, &v, &vlen)) {
            xfree(f);
            goto fail;
        }
        bool added = hash_set(&h, f, flen, v, vlen);
        xfree(f);
        xfree(v);
        if (!added) {
            rdb_fail(r, "Duplicate hash fields detected");
            goto fail;
        }
    }
    return hash_entry(h, key, klen, expire, empty);
fail:
    hash_free(h);
    return NULL;
}

/* zipmap / ziplist hashes: pairs set one by one. */
struct hash_build {
    struct hash *h;
    char *field;
    size_t flen;
    bool have_field, dup;
};

static bool hash_pair_elem(const unsigned char *s, size_t len, long long v, void *arg) {
    struct hash_build *b = arg;
    char num[STR_LL_MAX];
    if (s == NULL) {
        len = (size_t)ll_to_str(num, sizeof(num), v);
        s = (unsigned char *)num;
    }
    if (!b->have_field) {
        b->field = xmemdup(s, len ? len : 1);
        b->flen = len;
        b->have_field = true;
        return true;
    }
    if (!hash_set(&b->h, b->field, b->flen, (const char *)s, len)) b->dup = true;
    xfree(b->field);
    b->field = NULL;
    b->have_field = false;
    return !b->dup;
}

static struct entry *load_hash_legacy(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                      bool *empty) {
    size_t size;
    unsigned char *blob = read_blob(r, &size);
    if (!blob) return NULL;
    struct hash_build b = {hash_new(), NULL, 0, false, false};
    size_t count;
    bool ok = t == RDB_TYPE_HASH_ZIPMAP ? zipmap_visit(blob, size, hash_pair_elem, &b)
                                        : ziplist_visit(blob, size, hash_pair_elem, &b, &count);
    xfree(blob);
    if (!ok || b.dup || b.have_field) {
        xfree(b.field);
        hash_free(b.h);
        rdb_fail(r, t == RDB_TYPE_HASH_ZIPMAP ? "Zipmap integrity check failed."
                                              : "Hash ziplist integrity check failed.");
        return NULL;
    }
    return hash_entry(b.h, key, klen, expire, empty);
}

static struct entry *load_hash_lp(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                  bool *empty) {
    size_t size;
    unsigned char *blob = read_blob(r, &size);
    if (!blob) return NULL;
    if (!lp_validate(blob, size, true, NULL, NULL) || !pairs_ok(blob, false)) {
        xfree(blob);
        rdb_fail(r, "Hash listpack integrity check failed.");
        return NULL;
    }
    return hash_entry(hash_from_listpack(blob), key, klen, expire, empty);
}

struct entry *rdb_load_value(struct rdb_reader *r, int rdbtype, const char *key, size_t klen, int64_t expire,
                             bool *empty) {
    *empty = false;
    if (rdbtype == RDB_TYPE_MODULE || rdbtype == RDB_TYPE_MODULE_2) {
        rdb_fail(r, "The RDB file contains module data, which Stash cannot load (no module support)");
        return NULL;
    }
    if (rdbtype < 0 || rdbtype >= RDB_TYPE_MAX || loaders[rdbtype] == NULL) {
        rdb_fail(r, "Unknown RDB encoding type %d", rdbtype);
        return NULL;
    }
    struct entry *e = loaders[rdbtype](r, rdbtype, key, klen, expire, empty);
    if (e == NULL && !*empty && !r->failed) rdb_fail(r, "Bad data format");
    return e;
}

void rdb_load_setup(void);
void rdb_load_setup(void) {
    rdb_register_loader(RDB_TYPE_STRING, load_string);
    rdb_register_loader(RDB_TYPE_LIST, load_list);
    rdb_register_loader(RDB_TYPE_LIST_ZIPLIST, load_list_ziplist);
    rdb_register_loader(RDB_TYPE_LIST_QUICKLIST, load_quicklist);
    rdb_register_loader(RDB_TYPE_LIST_QUICKLIST_2, load_quicklist);
    rdb_register_loader(RDB_TYPE_SET, load_set);
    rdb_register_loader(RDB_TYPE_SET_INTSET, load_set_intset);
    rdb_register_loader(RDB_TYPE_SET_LISTPACK, load_set_listpack);
    rdb_register_loader(RDB_TYPE_ZSET, load_zset);
    rdb_register_loader(RDB_TYPE_ZSET_2, load_zset);
    rdb_register_loader(RDB_TYPE_ZSET_ZIPLIST, load_zset_lp);
    rdb_register_loader(RDB_TYPE_ZSET_LISTPACK, load_zset_lp);
    rdb_register_loader(RDB_TYPE_HASH, load_hash);
    rdb_register_loader(RDB_TYPE_HASH_ZIPMAP, load_hash_legacy);
    rdb_register_loader(RDB_TYPE_HASH_ZIPLIST, load_hash_legacy);
    rdb_register_loader(RDB_TYPE_HASH_LISTPACK, load_hash_lp);
}

/* ---- function libraries ------------------------------------------------------------------------ */

/* The 7.0-rc record: name, engine, description flag [description], body. */
static bool read_function_rc(struct rdb_reader *r, char **code, size_t *len) {
    char *name = NULL, *engine = NULL, *desc = NULL, *body = NULL;
    size_t nl, el, dl, bl;
    uint64_t has_desc;
    bool ok = rdb_read_string(r, &name, &nl) && rdb_read_string(r, &engine, &el) &&
              rdb_read_plain_len(r, &has_desc) && (!has_desc || rdb_read_string(r, &desc, &dl)) &&
              rdb_read_string(r, &body, &bl);
    if (ok) {
        struct buf b = BUF_INIT;
        buf_printf(&b, "#!%s name=%s\n", engine, name);
        buf_append(&b, body, bl);
        *len = b.len;
        buf_putc(&b, '\0');
        *code = b.data;
    }
    xfree(name);
    xfree(engine);
    xfree(desc);
    xfree(body);
    return ok;
}

bool rdb_read_function(struct rdb_reader *r, int opcode, char **code, size_t *len) {
    if (opcode == RDB_OPCODE_FUNCTION) return read_function_rc(r, code, len);
    if (opcode != RDB_OPCODE_FUNCTION2) return rdb_fail(r, "given type is not a function");
    return rdb_read_string(r, code, len);
}

/* ---- the stream ------------------------------------------------------------------------------------ */

static bool read_aux(struct rdb_reader *r, const struct rdb_load_hooks *h, void *arg) {
    char *k, *v;
    size_t kl, vl;
    if (!rdb_read_string(r, &k, &kl)) return false;
    if (!rdb_read_string(r, &v, &vl)) {
        xfree(k);
        return false;
    }
    if (h->aux) h->aux(arg, k, v);
    xfree(k);
    xfree(v);
    return true;
}

static bool is_object_type(int t) { return (t >= 0 && t <= 7) || (t >= 9 && t < RDB_TYPE_MAX); }

/* Attributes set by opcodes before a key, and the current database. */
struct key_state {
    uint64_t db;
    int64_t expire;
    long long idle;
    int freq;
};

/* An opcode (not a key): 1 handled, 0 not an opcode, -1 failed. */
static int load_opcode(struct rdb_reader *r, int type, const struct rdb_load_hooks *h, void *arg,
                       struct key_state *ks) {
    switch (type) {
    case RDB_OPCODE_EXPIRETIME: {
        int32_t secs;
        if (!rdb_read(r, &secs, 4)) return -1;
        ks->expire = (int64_t)secs * 1000;
        return 1;
    }
    case RDB_OPCODE_EXPIRETIME_MS: return rdb_read_ms(r, &ks->expire) ? 1 : -1;
    case RDB_OPCODE_FREQ: return rdb_read_byte(r, &ks->freq) ? 1 : -1;
    case RDB_OPCODE_IDLE: {
        uint64_t v;
        if (!rdb_read_plain_len(r, &v)) return -1;
        ks->idle = v > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)v;
        return 1;
    }
    case RDB_OPCODE_SELECTDB:
        if (!rdb_read_plain_len(r, &ks->db)) return -1;
        if (h->select && !h->select(arg, ks->db)) {
            rdb_fail(r, "Data file was created with a Redis server configured to handle more databases than "
                        "this one (db %llu)", (unsigned long long)ks->db);
            return -1;
        }
        return 1;
    case RDB_OPCODE_RESIZEDB: {
        uint64_t a, b;
        return rdb_read_plain_len(r, &a) && rdb_read_plain_len(r, &b) ? 1 : -1;
    }
    case RDB_OPCODE_AUX: return read_aux(r, h, arg) ? 1 : -1;
    default: break;
    }
    if (opcodes[type].fn) {
        if (opcodes[type].fn(r, type, opcodes[type].ctx)) return 1;
        rdb_fail(r, "Failed loading opcode %d", type);
        return -1;
    }
    if (type == RDB_OPCODE_MODULE_AUX) {
        rdb_fail(r, "The RDB file contains AUX module data I can't load: Stash has no modules");
        return -1;
    }
    if (type == RDB_OPCODE_FUNCTION || type == RDB_OPCODE_FUNCTION2) {
        rdb_fail(r, "The RDB file contains function libraries, which this build cannot load");
        return -1;
    }
    if (!is_object_type(type)) {
        rdb_fail(r, "Unknown RDB encoding type %d", type);
        return -1;
    }
    return 0;
}

/* A key record of type `type`: key, value, hand-off. */
static bool load_key(struct rdb_reader *r, int type, const struct rdb_load_hooks *h, void *arg,
                     const struct key_state *ks, struct rdb_load_stats *st) {
    char *key;
    size_t klen;
    if (!rdb_read_string(r, &key, &klen)) return false;
    bool empty;
    struct entry *e = rdb_load_value(r, type, key, klen, ks->expire, &empty);
    xfree(key);
    if (e == NULL) {
        if (!empty) return false;
        st->empty_keys++;
        return true;
    }
    st->keys++;
    if (!h->key(arg, (int)ks->db, e, ks->idle, ks->freq)) return rdb_fail(r, "Key rejected");
    return true;
}

static bool read_magic(struct rdb_reader *r) {
    char magic[10];
    if (!rdb_read(r, magic, 9)) return false;
    magic[9] = '\0';
    if (memcmp(magic, "REDIS", 5) != 0) return rdb_fail(r, "Wrong signature trying to load DB from file");
    int ver = atoi(magic + 5);
    if (ver < 1 || ver > RDB_MAX_LOAD_VERSION) return rdb_fail(r, "Can't handle RDB format version %d", ver);
    r->ver = ver;
    return true;
}

int rdb_load_stream(struct rdb_reader *r, const struct rdb_load_hooks *h, void *arg, bool verify_crc,
                    struct rdb_load_stats *st) {
    memset(st, 0, sizeof(*st));
    if (!read_magic(r)) return ERR_PROTO;
    struct key_state ks = {0, -1, -1, -1};
    if (h->select && !h->select(arg, 0)) return ERR_PROTO;
    for (;;) {
        int type;
        if (!rdb_read_byte(r, &type)) return ERR_PROTO;
        if (type == RDB_OPCODE_EOF) break;
        int op = load_opcode(r, type, h, arg, &ks);
        if (op < 0) return ERR_PROTO;
        if (op > 0) continue;
        if (!load_key(r, type, h, arg, &ks, st)) return ERR_PROTO;
        ks.expire = -1;
        ks.idle = -1;
        ks.freq = -1;
    }
    if (r->ver >= 5) {
        uint64_t expected = r->crc, crc;
        if (!rdb_read(r, &crc, 8)) return ERR_PROTO;
        if (verify_crc && crc != 0) {
            st->checksum_checked = true;
            if (crc != expected) {
                rdb_fail(r, "Wrong RDB checksum expected: (%llx) but got (%llx)", (unsigned long long)expected,
                         (unsigned long long)crc);
                return ERR_PROTO;
            }
        }
    }
    return 0;
}

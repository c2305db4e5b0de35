/*
 * persist/rdb_save.c - the RDB writer: encoding primitives, the built-in
 * value savers, key records, DUMP payloads (see rdb.h).
 *
 * What each built-in type writes (Redis 7.0's choices, rdbSaveObject):
 *
 *   string      RDB_TYPE_STRING: an integer-encoded string when it is a
 *               canonical integer of at most 32 bits, LZF when compression
 *               is on, the string is over 20 bytes and LZF saves >= 4
 *               bytes, else length + bytes. HyperLogLogs are strings.
 *   list        RDB_TYPE_LIST_QUICKLIST_2: node count, then per node its
 *               container (2 packed listpack, 1 plain element) and bytes;
 *               a listpack-encoded list is one packed node.
 *   set         intset: RDB_TYPE_SET_INTSET + blob; table: RDB_TYPE_SET +
 *               count + members.
 *   sorted set  listpack: RDB_TYPE_ZSET_LISTPACK + blob; skiplist:
 *               RDB_TYPE_ZSET_2 + count + (member, binary double) from the
 *               highest score down (so that loading inserts at the head).
 *   hash        listpack: RDB_TYPE_HASH_LISTPACK + blob; table:
 *               RDB_TYPE_HASH + count + (field, value).
 *   stream      RDB_TYPE_STREAM_LISTPACKS_2 (persist/rdb_stream.c).
 *
 * Listpack and intset blobs are Redis's formats byte for byte (ds/), so
 * compact values are copied, not re-encoded.
 *
 * Thread context: savers run [stripe-locked] on the entry; the primitives
 * are [any] on the caller's buffer.
 */
#include "persist/rdb.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/str.h"
#include "persist/crc64.h"
#include "store/store.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/zset.h"

#include <liblzf/lzf.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct rdb_saver savers[TYPE_COUNT];
#define MAX_PREAMBLES 8
static rdb_preamble_fn preambles[MAX_PREAMBLES];
static int npreambles;

void rdb_register_saver(enum entry_type t, const struct rdb_saver *s) { savers[t] = *s; }

void rdb_register_preamble(rdb_preamble_fn fn) {
    if (npreambles < MAX_PREAMBLES) preambles[npreambles++] = fn;
}

void rdb_put_preamble(struct buf *b) {
    for (int i = 0; i < npreambles; i++) preambles[i](b);
}

/* ---- primitives ------------------------------------------------------------------------------ */

void rdb_put_byte(struct buf *b, int v) { buf_putc(b, (char)(unsigned char)v); }

void rdb_put_len(struct buf *b, uint64_t len) {
    unsigned char t[9];
    size_t n;
    if (len < (1u << 6)) {
        t[0] = (unsigned char)len;
        n = 1;
    } else if (len < (1u << 14)) {
        t[0] = (unsigned char)((len >> 8) | 0x40);
        t[1] = (unsigned char)len;
        n = 2;
    } else if (len <= UINT32_MAX) {
        t[0] = 0x80;
        for (int i = 0; i < 4; i++) t[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        t[0] = 0x81;
        for (int i = 0; i < 8; i++) t[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    buf_append(b, t, n);
}

/* Integer encodings of 8, 16 and 32 bits; 0 when v needs more. */
static size_t encode_int(long long v, unsigned char *t) {
    if (v >= -128 && v <= 127) {
        t[0] = 0xC0 | RDB_ENC_INT8;
        t[1] = (unsigned char)v;
        return 2;
    }
    if (v >= -32768 && v <= 32767) {
        t[0] = 0xC0 | RDB_ENC_INT16;
        t[1] = (unsigned char)v;
        t[2] = (unsigned char)(v >> 8);
        return 3;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        t[0] = 0xC0 | RDB_ENC_INT32;
        for (int i = 0; i < 4; i++) t[1 + i] = (unsigned char)(v >> (8 * i));
        return 5;
    }
    return 0;
}

/* LZF: compress into b after room for the header, then slide it down.
 * Returns false (b unchanged) when it does not save 4 bytes. */
static bool put_lzf(struct buf *b, const void *s, size_t len) {
    if (len > UINT32_MAX) return false; /* lzf works on unsigned int sizes */
    const size_t hdr_max = 1 + 5 + 5;
    buf_reserve(b, hdr_max + len);
    unsigned char *dst = (unsigned char *)b->data + b->len + hdr_max;
    unsigned int clen = lzf_compress(s, (unsigned int)len, dst, (unsigned int)(len - 4));
    if (clen == 0) return false;
    struct buf h = BUF_INIT;
    unsigned char hb[16];
    h.data = (char *)hb;
    h.cap = sizeof(hb);
    buf_putc(&h, (char)(0xC0 | RDB_ENC_LZF));
    rdb_put_len(&h, clen);
    rdb_put_len(&h, len);
    memcpy(b->data + b->len, hb, h.len);
    memmove(b->data + b->len + h.len, dst, clen);
    b->len += h.len + clen;
    return true;
}

void rdb_put_string(struct buf *b, const void *s, size_t len, bool compress) {
    if (len <= 11 && len > 0) {
        long long v;
        unsigned char t[5];
        size_t n;
        if (str_to_ll(s, len, &v) && (n = encode_int(v, t)) > 0) {
            buf_append(b, t, n);
            return;
        }
    }
    if (compress && len > 20 && put_lzf(b, s, len)) return;
    rdb_put_len(b, len);
    if (len) buf_append(b, s, len);
}

void rdb_put_ll(struct buf *b, long long v) {
    unsigned char t[5];
    size_t n = encode_int(v, t);
    if (n) {
        buf_append(b, t, n);
        return;
    }
    char num[STR_LL_MAX];
    int k = ll_to_str(num, sizeof(num), v);
    rdb_put_len(b, (uint64_t)k);
    buf_append(b, num, (size_t)k);
}

void rdb_put_double_bin(struct buf *b, double d) { buf_append(b, &d, sizeof(d)); /* LE host */ }

void rdb_put_ms(struct buf *b, int64_t ms) { buf_append(b, &ms, sizeof(ms)); }

void rdb_put_aux(struct buf *b, const char *key, const char *val) {
    rdb_put_byte(b, RDB_OPCODE_AUX);
    rdb_put_string(b, key, strlen(key), false);
    rdb_put_string(b, val, strlen(val), false);
}

void rdb_put_aux_ll(struct buf *b, const char *key, long long val) {
    char num[STR_LL_MAX];
    ll_to_str(num, sizeof(num), val);
    rdb_put_aux(b, key, num);
}

void rdb_put_magic(struct buf *b) {
    char m[16];
    snprintf(m, sizeof(m), "REDIS%04d", RDB_VERSION);
    buf_append(b, m, 9);
}

void rdb_save_opts_current(struct rdb_save_opts *o, bool compress) {
    enum store_evict_policy p = store_get_policy();
    o->compress = compress;
    o->lru = p == EVICT_ALLKEYS_LRU || p == EVICT_VOLATILE_LRU;
    o->lfu = p == EVICT_ALLKEYS_LFU || p == EVICT_VOLATILE_LFU;
}

/* ---- values and records ------------------------------------------------------------------------- */

bool rdb_put_value(struct buf *b, const struct entry *e, bool compress) {
    const struct rdb_saver *s = &savers[entry_type(e)];
    if (s->type == NULL) return false;
    rdb_put_byte(b, s->type(e));
    s->value(b, e, compress);
    return true;
}

bool rdb_put_entry(struct buf *b, struct entry *e, const struct rdb_save_opts *o) {
    if (!rdb_put_entry_head(b, e, o)) return false;
    savers[entry_type(e)].value(b, e, o->compress);
    return true;
}

bool rdb_put_entry_head(struct buf *b, struct entry *e, const struct rdb_save_opts *o) {
    const struct rdb_saver *s = &savers[entry_type(e)];
    if (s->type == NULL) return false;
    if (entry_has_expire(e)) {
        rdb_put_byte(b, RDB_OPCODE_EXPIRETIME_MS);
        rdb_put_ms(b, entry_expire(e));
    }
    if (o->lru) {
        rdb_put_byte(b, RDB_OPCODE_IDLE);
        rdb_put_len(b, store_idle_ms(e) / 1000);
    } else if (o->lfu) {
        rdb_put_byte(b, RDB_OPCODE_FREQ);
        rdb_put_byte(b, store_lfu_freq(e));
    }
    rdb_put_byte(b, s->type(e));
    size_t klen;
    const char *key = entry_key(e, &klen);
    rdb_put_string(b, key, klen, o->compress);
    return true;
}

void rdb_payload_footer(struct buf *out, size_t start) {
    unsigned char ver[2] = {RDB_VERSION & 0xff, (RDB_VERSION >> 8) & 0xff};
    buf_append(out, ver, 2);
    uint64_t crc = crc64(0, out->data + start, out->len - start);
    buf_append(out, &crc, 8);
}

bool rdb_dump_payload(struct buf *out, const struct entry *e, bool compress) {
    size_t start = out->len;
    if (!rdb_put_value(out, e, compress)) return false;
    rdb_payload_footer(out, start);
    return true;
}

void rdb_put_function(struct buf *b, const char *code, size_t len, bool compress) {
    rdb_put_byte(b, RDB_OPCODE_FUNCTION2);
    rdb_put_string(b, code, len, compress);
}

int rdb_payload_verify(const unsigned char *p, size_t n) {
    if (n < 10) return -1;
    const unsigned char *footer = p + n - 10;
    int ver = footer[0] | (footer[1] << 8);
    if (ver > RDB_MAX_LOAD_VERSION) return -1;
    uint64_t crc = crc64(0, p, n - 8), want;
    memcpy(&want, footer + 2, 8);
    return crc == want ? ver : -1;
}

/* ---- streaming ---------------------------------------------------------------------------------- */

int rdb_write(struct rdb_writer *w, const void *p, size_t n) {
    if (w->checksum) w->crc = crc64(w->crc, p, n);
    return sink_write(w->sink, p, n);
}

int rdb_write_eof(struct rdb_writer *w) {
    unsigned char eof = RDB_OPCODE_EOF;
    if (rdb_write(w, &eof, 1) != 0) return ERR_IO;
    uint64_t crc = w->checksum ? w->crc : 0;
    return sink_write(w->sink, &crc, 8);
}

/* ---- built-in savers ------------------------------------------------------------------------------ */

static int string_type(const struct entry *e) { return RDB_TYPE_STRING; }

static void string_value(struct buf *b, const struct entry *e, bool compress) {
    struct strval v;
    entry_str_get(e, &v);
    if (v.ptr == NULL)
        rdb_put_ll(b, v.ll);
    else
        rdb_put_string(b, v.ptr, v.len, compress);
}

static int list_type(const struct entry *e) { return RDB_TYPE_LIST_QUICKLIST_2; }

static void list_value(struct buf *b, const struct entry *e, bool compress) {
    const struct list *l = entry_obj(e);
    if (list_encoding(l) == LIST_ENC_LISTPACK) {
        rdb_put_len(b, 1);
        rdb_put_len(b, RDB_QL_PACKED);
        rdb_put_string(b, l->lp, lp_bytes(l->lp), compress);
        return;
    }
    rdb_put_len(b, l->ql->len);
    for (const struct ql_node *n = l->ql->head; n; n = n->next) {
        rdb_put_len(b, n->plain ? RDB_QL_PLAIN : RDB_QL_PACKED);
        rdb_put_string(b, n->data, n->sz, compress);
    }
}

static int set_type(const struct entry *e) {
    size_t n;
    return set_intset_blob(entry_obj(e), &n) ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
}

static void set_value(struct buf *b, const struct entry *e, bool compress) {
    struct set *s = entry_obj(e);
    size_t n;
    const unsigned char *blob = set_intset_blob(s, &n);
    if (blob) {
        rdb_put_string(b, blob, n, compress);
        return;
    }
    rdb_put_len(b, set_len(s));
    struct set_iter it;
    struct set_str m;
    set_iter_init(s, &it);
    while (set_iter_next(&it, &m)) rdb_put_string(b, m.ptr, m.len, compress);
    set_iter_done(&it);
}

static int zset_type(const struct entry *e) {
    return zset_is_listpack(entry_obj(e)) ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
}

static void zset_value(struct buf *b, const struct entry *e, bool compress) {
    const struct zset *z = entry_obj(e);
    const unsigned char *lp = zset_listpack(z);
    if (lp) {
        rdb_put_string(b, lp, lp_bytes(lp), compress);
        return;
    }
    rdb_put_len(b, zset_len(z));
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(z, &it, 0, true);
    while (zset_iter_next(&it, &el)) {
        rdb_put_string(b, el.m, el.mlen, compress);
        rdb_put_double_bin(b, el.score);
    }
}

static int hash_type(const struct entry *e) {
    return hash_listpack(entry_obj(e)) ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
}

static void hash_value(struct buf *b, const struct entry *e, bool compress) {
    struct hash *h = entry_obj(e);
    const unsigned char *lp = hash_listpack(h);
    if (lp) {
        rdb_put_string(b, lp, lp_bytes(lp), compress);
        return;
    }
    rdb_put_len(b, hash_len(h));
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(h, &it);
    while (hash_iter_next(&it, &f, &v)) {
        rdb_put_string(b, f.ptr, f.len, compress);
        rdb_put_string(b, v.ptr, v.len, compress);
    }
}

void rdb_load_setup(void);   /* rdb_load.c */
void rdb_stream_setup(void); /* rdb_stream.c */

void rdb_setup(void) {
    static const struct rdb_saver builtin[] = {
        [TYPE_STRING] = {string_type, string_value}, [TYPE_LIST] = {list_type, list_value},
        [TYPE_SET] = {set_type, set_value},          [TYPE_ZSET] = {zset_type, zset_value},
        [TYPE_HASH] = {hash_type, hash_value},
    };
    for (int t = 0; t < (int)ARRAY_LEN(builtin); t++)
        if (builtin[t].type) rdb_register_saver((enum entry_type)t, &builtin[t]);
    rdb_load_setup();
    rdb_stream_setup();
}

/*
 * persist/aof_emit.c - keys as commands (see aof_emit.h).
 *
 * A command whose element count is only known while walking (a list of
 * 1,000 elements: 16 RPUSH of 64 and one of 40) is written with its count
 * up front, as Redis does: the batch size is min(64, elements left).
 */
#include "persist/aof_emit.h"
#include "base/str.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/stream.h"
#include "types/zset.h"

#include <stdio.h>
#include <string.h>

#define ITEMS_PER_CMD 64
#define PUT_LIT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

static void put_count(struct buf *b, char prefix, long long n) {
    char tmp[STR_LL_MAX + 4];
    tmp[0] = prefix;
    int k = ll_to_str(tmp + 1, STR_LL_MAX, n);
    tmp[k + 1] = '\r';
    tmp[k + 2] = '\n';
    buf_append(b, tmp, (size_t)k + 3);
}

static void put_bulk(struct buf *b, const char *p, size_t n) {
    put_count(b, '$', (long long)n);
    buf_append(b, p, n);
    PUT_LIT(b, "\r\n");
}

static void put_bulk_str(struct buf *b, const char *s) { put_bulk(b, s, strlen(s)); }

static void put_bulk_ll(struct buf *b, long long v) {
    char tmp[STR_LL_MAX];
    int k = ll_to_str(tmp, sizeof(tmp), v);
    put_bulk(b, tmp, (size_t)k);
}

static void put_bulk_id(struct buf *b, const struct stream_id *id) {
    char tmp[STREAM_ID_STR_MAX];
    size_t k = stream_id_format(tmp, id);
    put_bulk(b, tmp, k);
}

void aof_put_command(struct buf *b, int argc, const char *const *argv, const size_t *lens) {
    put_count(b, '*', argc);
    for (int i = 0; i < argc; i++) put_bulk(b, argv[i], lens[i]);
}

void aof_put_select(struct buf *b, int db) {
    PUT_LIT(b, "*2\r\n$6\r\nSELECT\r\n");
    put_bulk_ll(b, db);
}

void aof_put_timestamp(struct buf *b, long long unix_s) { buf_printf(b, "#TS:%lld\r\n", unix_s); }

/* The head of a batch: "*<2+k*per> CMD key" with k = min(64, left). */
static void batch_head(struct buf *b, const char *cmd, const char *key, size_t klen, size_t left, int per) {
    size_t k = left > ITEMS_PER_CMD ? ITEMS_PER_CMD : left;
    put_count(b, '*', 2 + (long long)k * per);
    put_bulk_str(b, cmd);
    put_bulk(b, key, klen);
}

static void emit_string(struct buf *b, const struct entry *e, const char *key, size_t klen) {
    char tmp[STR_LL_MAX];
    size_t vlen;
    const char *v = entry_str_bytes(e, tmp, &vlen);
    PUT_LIT(b, "*3\r\n$3\r\nSET\r\n");
    put_bulk(b, key, klen);
    put_bulk(b, v, vlen);
}

static void emit_list(struct buf *b, struct list *l, const char *key, size_t klen) {
    size_t left = list_len(l), count = 0;
    struct list_pos pos;
    if (!list_at(l, 0, &pos)) return;
    do {
        if (count == 0) batch_head(b, "RPUSH", key, klen, left, 1);
        char tmp[LP_INTBUF_SIZE];
        size_t n;
        const char *s = list_val_str(&pos.v, tmp, &n);
        put_bulk(b, s, n);
        if (++count == ITEMS_PER_CMD) count = 0;
        left--;
    } while (list_step(&pos, true));
}

static void emit_set(struct buf *b, struct set *s, const char *key, size_t klen) {
    size_t left = set_len(s), count = 0;
    struct set_iter it;
    struct set_str m;
    set_iter_init(s, &it);
    while (set_iter_next(&it, &m)) {
        if (count == 0) batch_head(b, "SADD", key, klen, left, 1);
        put_bulk(b, m.ptr, m.len);
        if (++count == ITEMS_PER_CMD) count = 0;
        left--;
    }
    set_iter_done(&it);
}

static void emit_zset(struct buf *b, const struct zset *z, const char *key, size_t klen) {
    size_t left = zset_len(z), count = 0;
    struct zset_iter it;
    struct zset_elem el;
    zset_iter_rank(z, &it, 0, false);
    while (zset_iter_next(&it, &el)) {
        if (count == 0) batch_head(b, "ZADD", key, klen, left, 2);
        char d[64];
        int n = snprintf(d, sizeof(d), "%.17g", el.score);
        put_bulk(b, d, (size_t)n);
        put_bulk(b, el.m, el.mlen);
        if (++count == ITEMS_PER_CMD) count = 0;
        left--;
    }
}

static void emit_hash(struct buf *b, struct hash *h, const char *key, size_t klen) {
    size_t left = hash_len(h), count = 0;
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(h, &it);
    while (hash_iter_next(&it, &f, &v)) {
        if (count == 0) batch_head(b, "HMSET", key, klen, left, 2);
        put_bulk(b, f.ptr, f.len);
        put_bulk(b, v.ptr, v.len);
        if (++count == ITEMS_PER_CMD) count = 0;
        left--;
    }
}

static void emit_stream_entries(struct buf *b, struct stream *s, const char *key, size_t klen) {
    if (s->length == 0) {
        /* An empty stream: XADD MAXLEN 0 creates the key, trims it empty. */
        PUT_LIT(b, "*7\r\n$4\r\nXADD\r\n");
        put_bulk(b, key, klen);
        PUT_LIT(b, "$6\r\nMAXLEN\r\n$1\r\n0\r\n$3\r\n0-1\r\n$1\r\nx\r\n$1\r\ny\r\n");
        return;
    }
    struct stream_iter it;
    struct stream_id id;
    uint64_t npairs;
    stream_iter_start(&it, s, NULL, NULL, false);
    while (stream_iter_next(&it, &id, &npairs)) {
        put_count(b, '*', 3 + (long long)npairs * 2);
        put_bulk_str(b, "XADD");
        put_bulk(b, key, klen);
        put_bulk_id(b, &id);
        for (uint64_t i = 0; i < npairs; i++) {
            const unsigned char *f, *v;
            size_t flen, vlen;
            stream_iter_pair(&it, &f, &flen, &v, &vlen);
            put_bulk(b, (const char *)f, flen);
            put_bulk(b, (const char *)v, vlen);
        }
    }
    stream_iter_stop(&it);
}

static void emit_consumers(struct buf *b, const char *key, size_t klen, const char *g, size_t glen,
                           struct stream_cg *cg) {
    struct radix_iter ci;
    radix_iter_init(&ci, cg->consumers);
    radix_seek(&ci, RADIX_FIRST, NULL, 0);
    while (radix_next(&ci)) {
        struct stream_consumer *c = ci.value;
        if (radix_size(c->pel) == 0) {
            PUT_LIT(b, "*5\r\n$6\r\nXGROUP\r\n$14\r\nCREATECONSUMER\r\n");
            put_bulk(b, key, klen);
            put_bulk(b, g, glen);
            put_bulk(b, c->name, c->name_len);
            continue;
        }
        struct radix_iter pi;
        radix_iter_init(&pi, c->pel);
        radix_seek(&pi, RADIX_FIRST, NULL, 0);
        while (radix_next(&pi)) {
            struct stream_nack *nack = pi.value;
            struct stream_id id;
            stream_id_decode(pi.key, &id);
            PUT_LIT(b, "*12\r\n$6\r\nXCLAIM\r\n");
            put_bulk(b, key, klen);
            put_bulk(b, g, glen);
            put_bulk(b, c->name, c->name_len);
            put_bulk_str(b, "0");
            put_bulk_id(b, &id);
            put_bulk_str(b, "TIME");
            put_bulk_ll(b, nack->delivery_time);
            put_bulk_str(b, "RETRYCOUNT");
            put_bulk_ll(b, (long long)nack->delivery_count);
            put_bulk_str(b, "JUSTID");
            put_bulk_str(b, "FORCE");
        }
        radix_iter_release(&pi);
    }
    radix_iter_release(&ci);
}

static void emit_stream(struct buf *b, struct stream *s, const char *key, size_t klen) {
    emit_stream_entries(b, s, key, klen);
    PUT_LIT(b, "*7\r\n$6\r\nXSETID\r\n");
    put_bulk(b, key, klen);
    put_bulk_id(b, &s->last_id);
    put_bulk_str(b, "ENTRIESADDED");
    put_bulk_ll(b, (long long)s->entries_added);
    put_bulk_str(b, "MAXDELETEDID");
    put_bulk_id(b, &s->max_deleted_id);
    if (s->cgroups == NULL) return;
    struct radix_iter gi;
    radix_iter_init(&gi, s->cgroups);
    radix_seek(&gi, RADIX_FIRST, NULL, 0);
    while (radix_next(&gi)) {
        struct stream_cg *cg = gi.value;
        const char *g = (const char *)gi.key;
        size_t glen = gi.key_len;
        PUT_LIT(b, "*7\r\n$6\r\nXGROUP\r\n$6\r\nCREATE\r\n");
        put_bulk(b, key, klen);
        put_bulk(b, g, glen);
        put_bulk_id(b, &cg->last_id);
        put_bulk_str(b, "ENTRIESREAD");
        put_bulk_ll(b, cg->entries_read);
        emit_consumers(b, key, klen, g, glen, cg);
    }
    radix_iter_release(&gi);
}

bool aof_put_entry(struct buf *b, const struct entry *e) {
    size_t klen;
    const char *key = entry_key(e, &klen);
    switch (entry_type(e)) {
    case TYPE_STRING: emit_string(b, e, key, klen); break;
    case TYPE_LIST: emit_list(b, entry_obj(e), key, klen); break;
    case TYPE_SET: emit_set(b, entry_obj(e), key, klen); break;
    case TYPE_ZSET: emit_zset(b, entry_obj(e), key, klen); break;
    case TYPE_HASH: emit_hash(b, entry_obj(e), key, klen); break;
    case TYPE_STREAM: emit_stream(b, entry_obj(e), key, klen); break;
    default: return false;
    }
    if (entry_has_expire(e)) {
        PUT_LIT(b, "*3\r\n$9\r\nPEXPIREAT\r\n");
        put_bulk(b, key, klen);
        put_bulk_ll(b, (long long)entry_expire(e));
    }
    return true;
}

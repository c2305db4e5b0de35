/*
 * tests/fuzz/fuzz_rdb.c - libFuzzer target for the RDB loader (persist/).
 *
 * The first input byte picks the mode; the rest is the data:
 *   even  a whole RDB stream (what start-up and DEBUG RELOAD read);
 *   odd   one value as in a RESTORE payload (type byte + value; the CRC
 *         footer is skipped here so the fuzzer reaches the decoders).
 * Contracts checked: the loader never reads outside the input (ASan), fails
 * with a reason or succeeds, and every value it accepts is usable: its
 * type operations run (size, digest, copy, free) and it survives a second
 * round trip through the writer and the loader with the same digest; a
 * stream is also read backwards, appended to, and trimmed.
 */
#include "base/alloc.h"
#include "base/hash.h"
#include "base/str.h"
#include "persist/rdb.h"
#include "store/store.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/stream.h"
#include "types/zset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_rdb: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void zfree_cb(void *z) { zset_destroy(z); }
static void *zdup_cb(const void *z) { return zset_dup(z); }
static size_t zmem_cb(const void *z) { return zset_mem(z); }
static const char *zenc_cb(const void *z, int enc) { return zset_enc_name(z); }
static void zdigest_cb(const void *z, unsigned char d[20]) { zset_digest(z, d); }

static void setup(void) {
    static int done;
    if (done) return;
    done = 1;
    hash_setup();
    store_setup(16, NULL);
    static const struct type_ops lops = {"list", list_free, list_dup, list_mem, list_enc_name, list_digest};
    static const struct type_ops sops = {"set", set_free, set_dup, set_mem, set_enc_name, set_digest};
    static const struct type_ops hops = {"hash", hash_free, hash_dup, hash_mem, hash_enc_name, hash_digest};
    static const struct type_ops zops = {"zset", zfree_cb, zdup_cb, zmem_cb, zenc_cb, zdigest_cb};
    entry_register_type(TYPE_LIST, &lops);
    entry_register_type(TYPE_SET, &sops);
    entry_register_type(TYPE_HASH, &hops);
    entry_register_type(TYPE_ZSET, &zops);
    static const struct type_ops xops = {"stream", stream_free, stream_dup, stream_mem, stream_enc_name,
                                         stream_digest};
    entry_register_type(TYPE_STREAM, &xops);
    rdb_setup();
}

static void value_digest(const struct entry *e, unsigned char d[20]) {
    memset(d, 0, 20);
    if (entry_type(e) == TYPE_STRING) {
        char num[32];
        size_t n;
        const char *p = entry_str_bytes(e, num, &n);
        for (size_t i = 0; i < n; i++) d[i % 20] ^= (unsigned char)p[i];
        d[0] ^= (unsigned char)n;
    } else {
        entry_type_ops(entry_type(e))->digest(entry_obj(e), d);
    }
}

/* A loaded stream: read backwards pair by pair, appended to, trimmed. */
static void exercise_stream(struct stream *s) {
    struct stream_iter it;
    struct stream_id id;
    uint64_t n;
    stream_iter_start(&it, s, NULL, NULL, true);
    while (stream_iter_next(&it, &id, &n)) {
        for (uint64_t i = 0; i < n; i++) {
            const unsigned char *f, *v;
            size_t fl, vl;
            stream_iter_pair(&it, &f, &fl, &v, &vl);
        }
    }
    stream_iter_stop(&it);
    const char *fv[2] = {"f", "v"};
    size_t lens[2] = {1, 1};
    struct stream_id added;
    stream_append(s, fv, lens, 1, 1, NULL, false, &added);
    struct stream_trim t = {STREAM_TRIM_MAXLEN, false, 0, 1, {0, 0}};
    stream_trim(s, &t);
}

/* Use an accepted value every way a command could. */
static void exercise(struct entry *e) {
    unsigned char d1[20], d2[20];
    value_digest(e, d1);
    entry_mem(e);
    entry_enc_name(e);
    struct entry *copy = entry_dup(e, "c", 1, -1);
    entry_free(copy);
    struct buf b = BUF_INIT;
    CHECK(rdb_put_value(&b, e, true));
    struct rdb_reader r;
    rdb_reader_mem(&r, b.data, b.len);
    int type;
    bool empty;
    CHECK(rdb_read_byte(&r, &type));
    struct entry *again = rdb_load_value(&r, type, "k", 1, -1, &empty);
    CHECK(again != NULL && r.left == 0);
    value_digest(again, d2);
    CHECK(memcmp(d1, d2, 20) == 0);
    if (entry_type(again) == TYPE_STREAM) exercise_stream(entry_obj(again));
    entry_free(again);
    buf_free(&b);
}

static bool on_key(void *arg, int db, struct entry *e, long long idle, int freq) {
    exercise(e);
    entry_free(e);
    return true;
}
static bool on_select(void *arg, uint64_t db) { return db < 16; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 1) return 0;
    struct rdb_reader r;
    rdb_reader_mem(&r, data + 1, size - 1);
    if ((data[0] & 1) == 0) {
        struct rdb_load_hooks h = {on_key, on_select, NULL};
        struct rdb_load_stats st;
        int rc = rdb_load_stream(&r, &h, NULL, true, &st);
        CHECK(rc == 0 || r.failed);
        return 0;
    }
    r.deep = true;
    int type;
    bool empty = false;
    if (!rdb_read_byte(&r, &type)) return 0;
    struct entry *e = rdb_load_value(&r, type, "k", 1, -1, &empty);
    if (e == NULL) {
        CHECK(r.failed || empty);
        return 0;
    }
    exercise(e);
    entry_free(e);
    return 0;
}

/* Unit tests of persist/: CRC64, the RDB primitives (lengths, integer and
 * LZF strings), round trips of every type and encoding through the writer
 * and the loader, whole streams with their checksum, truncation at every
 * byte, legacy ziplist/zipmap values and DUMP payload footers. */
#include "../test.h"

#include "base/alloc.h"
#include "base/digest.h"
#include "base/hash.h"
#include "base/str.h"
#include "ds/listpack.h"
#include "persist/crc64.h"
#include "persist/legacy.h"
#include "persist/rdb.h"
#include "store/store.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/zset.h"

#include <unistd.h>

static void zset_free_cb(void *z) { zset_destroy(z); }
static void *zset_dup_cb(const void *z) { return zset_dup(z); }
static size_t zset_mem_cb(const void *z) { return zset_mem(z); }
static const char *zset_enc_cb(const void *z, int enc) { return zset_enc_name(z); }
static void zset_digest_cb(const void *z, unsigned char d[20]) { zset_digest(z, d); }

static void setup(void) {
    static bool done;
    if (done) return;
    done = true;
    hash_setup();
    store_setup(16, NULL);
    static const struct type_ops lops = {"list", list_free, list_dup, list_mem, list_enc_name, list_digest};
    static const struct type_ops sops = {"set", set_free, set_dup, set_mem, set_enc_name, set_digest};
    static const struct type_ops hops = {"hash", hash_free, hash_dup, hash_mem, hash_enc_name, hash_digest};
    static const struct type_ops zops = {"zset", zset_free_cb, zset_dup_cb, zset_mem_cb, zset_enc_cb, zset_digest_cb};
    entry_register_type(TYPE_LIST, &lops);
    entry_register_type(TYPE_SET, &sops);
    entry_register_type(TYPE_HASH, &hops);
    entry_register_type(TYPE_ZSET, &zops);
    rdb_setup();
}

/* A value's digest: type, text of strings, the type's own digest. */
static void value_digest(const struct entry *e, unsigned char d[20]) {
    memset(d, 0, 20);
    uint8_t t = (uint8_t)entry_type(e);
    digest_mix(d, &t, 1);
    if (entry_type(e) == TYPE_STRING) {
        char num[32];
        size_t n;
        const char *p = entry_str_bytes(e, num, &n);
        digest_mix(d, p, n);
    } else {
        entry_type_ops(entry_type(e))->digest(entry_obj(e), d);
    }
}

/* Serialize e's value, load it back, compare digests and encodings. */
static bool round_trip(struct entry *e, bool compress, const char *want_enc) {
    struct buf b = BUF_INIT;
    if (!rdb_put_value(&b, e, compress)) return false;
    struct rdb_reader r;
    rdb_reader_mem(&r, b.data, b.len);
    int type;
    bool empty = false;
    struct entry *got = NULL;
    if (rdb_read_byte(&r, &type)) got = rdb_load_value(&r, type, "k", 1, -1, &empty);
    bool ok = got != NULL && r.left == 0;
    if (ok) {
        unsigned char d1[20], d2[20];
        value_digest(e, d1);
        value_digest(got, d2);
        ok = memcmp(d1, d2, 20) == 0;
        if (want_enc && strcmp(entry_enc_name(got), want_enc) != 0) {
            fprintf(stderr, "  encoding %s, want %s\n", entry_enc_name(got), want_enc);
            ok = false;
        }
    } else {
        fprintf(stderr, "  load failed: %s\n", r.err);
    }
    if (got) entry_free(got);
    buf_free(&b);
    return ok;
}

TEST(crc64_vector) {
    TEST_EXPECT(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    TEST_EXPECT(crc64(0, "", 0) == 0);
    /* Incremental equals one-shot, across the 8-byte fast path. */
    char data[100];
    for (int i = 0; i < 100; i++) data[i] = (char)(i * 7);
    uint64_t whole = crc64(0, data, 100);
    TEST_EXPECT(crc64(crc64(0, data, 13), data + 13, 87) == whole);
}

TEST(lengths) {
    uint64_t vals[] = {0, 1, 63, 64, 16383, 16384, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX};
    size_t sizes[] = {1, 1, 1, 2, 2, 5, 5, 9, 9};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        struct buf b = BUF_INIT;
        rdb_put_len(&b, vals[i]);
        TEST_EXPECT(b.len == sizes[i]);
        struct rdb_reader r;
        rdb_reader_mem(&r, b.data, b.len);
        uint64_t v = 0;
        TEST_EXPECT(rdb_read_plain_len(&r, &v) && v == vals[i]);
        buf_free(&b);
    }
}

static void check_string(int *test_failed_, const char *s, size_t n, bool compress, int first, size_t size) {
    struct buf b = BUF_INIT;
    rdb_put_string(&b, s, n, compress);
    TEST_EXPECT((unsigned char)b.data[0] == first);
    if (size) TEST_EXPECT(b.len == size);
    struct rdb_reader r;
    rdb_reader_mem(&r, b.data, b.len);
    char *out;
    size_t len;
    TEST_ASSERT(rdb_read_string(&r, &out, &len));
    TEST_EXPECT(len == n && memcmp(out, s, n) == 0);
    xfree(out);
    buf_free(&b);
}

TEST(string_encodings) {
    setup();
    check_string(test_failed_, "123", 3, true, 0xC0, 2);
    check_string(test_failed_, "-128", 4, true, 0xC0, 2);
    check_string(test_failed_, "-129", 4, true, 0xC1, 3);
    check_string(test_failed_, "32767", 5, true, 0xC1, 3);
    check_string(test_failed_, "2147483647", 10, true, 0xC2, 5);
    check_string(test_failed_, "2147483648", 10, true, 10, 11); /* beyond 32 bits: text */
    check_string(test_failed_, "0123", 4, true, 4, 5);          /* not canonical: text */
    check_string(test_failed_, "", 0, true, 0, 1);
    char big[1000];
    memset(big, 'a', sizeof(big));
    check_string(test_failed_, big, sizeof(big), true, 0xC3, 0);  /* LZF */
    check_string(test_failed_, big, sizeof(big), false, 0x43, 1002); /* 14-bit length, verbatim */
    /* Incompressible text stays verbatim even with compression on. */
    char rnd[64];
    for (int i = 0; i < 64; i++) rnd[i] = (char)(33 + (i * 37) % 90);
    check_string(test_failed_, rnd, sizeof(rnd), true, 64 | 0x40, 66);
}

TEST(lzf_corrupt) {
    setup();
    /* 0xC3, clen 3, ulen 100 (more than LZF can expand 3 bytes to). */
    unsigned char bad[] = {0xC3, 3, 100, 1, 2, 3};
    struct rdb_reader r;
    rdb_reader_mem(&r, bad, sizeof(bad));
    char *out;
    size_t len;
    TEST_EXPECT(!rdb_read_string(&r, &out, &len));
    TEST_EXPECT(r.failed);
}

TEST(round_trip_strings) {
    setup();
    struct entry *e = entry_new_str("k", 1, "hello", 5, -1, false);
    TEST_EXPECT(round_trip(e, true, "embstr"));
    entry_free(e);
    e = entry_new_int("k", 1, 1234567890123LL, -1);
    TEST_EXPECT(round_trip(e, true, "int"));
    entry_free(e);
    char big[5000];
    memset(big, 'z', sizeof(big));
    e = entry_new_str("k", 1, big, sizeof(big), -1, false);
    TEST_EXPECT(round_trip(e, true, "raw"));
    TEST_EXPECT(round_trip(e, false, "raw"));
    entry_free(e);
}

TEST(round_trip_lists) {
    setup();
    struct list *l = list_new();
    list_push_one(l, LIST_TAIL, "a", 1);
    list_push_one(l, LIST_TAIL, "42", 2);
    struct entry *e = entry_new_obj("k", 1, TYPE_LIST, ENC_OBJ, l, -1);
    TEST_EXPECT(round_trip(e, true, "listpack"));
    entry_free(e);
    l = list_new();
    char v[40];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(v, sizeof(v), "element-%d", i);
        list_push_one(l, LIST_TAIL, v, (size_t)n);
    }
    e = entry_new_obj("k", 1, TYPE_LIST, ENC_OBJ, l, -1);
    TEST_EXPECT(round_trip(e, true, "quicklist"));
    TEST_EXPECT(round_trip(e, false, "quicklist"));
    entry_free(e);
    /* A plain node (an element over the packed threshold). */
    size_t old = ql_packed_threshold();
    ql_set_packed_threshold(100);
    l = list_new();
    char big[300];
    memset(big, 'p', sizeof(big));
    list_push_one(l, LIST_TAIL, "small", 5);
    list_push_one(l, LIST_TAIL, big, sizeof(big));
    e = entry_new_obj("k", 1, TYPE_LIST, ENC_OBJ, l, -1);
    TEST_EXPECT(round_trip(e, true, "quicklist"));
    entry_free(e);
    ql_set_packed_threshold(old);
}

TEST(round_trip_sets) {
    setup();
    struct set *s = set_new();
    set_add(&s, "1", 1);
    set_add(&s, "-70000", 6);
    struct entry *e = entry_new_obj("k", 1, TYPE_SET, ENC_OBJ, s, -1);
    TEST_EXPECT(round_trip(e, true, "intset"));
    entry_free(e);
    s = set_new_for("x", 1);
    char v[32];
    for (int i = 0; i < 600; i++) {
        int n = snprintf(v, sizeof(v), "m%d", i);
        set_add(&s, v, (size_t)n);
    }
    e = entry_new_obj("k", 1, TYPE_SET, ENC_OBJ, s, -1);
    TEST_EXPECT(round_trip(e, true, "hashtable"));
    entry_free(e);
}

TEST(round_trip_zsets) {
    setup();
    struct zset *z = zset_create(0, 0);
    int out;
    zset_add(&z, 1.5, "a", 1, 0, &out, NULL);
    zset_add(&z, -3, "b", 1, 0, &out, NULL);
    zset_add(&z, 1e300, "c", 1, 0, &out, NULL);
    struct entry *e = entry_new_obj("k", 1, TYPE_ZSET, ENC_OBJ, z, -1);
    TEST_EXPECT(round_trip(e, true, "listpack"));
    entry_free(e);
    z = zset_create_skiplist();
    char v[32];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(v, sizeof(v), "member:%d", i);
        zset_add(&z, i * 0.25 - 10, v, (size_t)n, 0, &out, NULL);
    }
    e = entry_new_obj("k", 1, TYPE_ZSET, ENC_OBJ, z, -1);
    TEST_EXPECT(round_trip(e, true, "skiplist"));
    entry_free(e);
}

TEST(round_trip_hashes) {
    setup();
    struct hash *h = hash_new();
    hash_set(&h, "f", 1, "v", 1);
    hash_set(&h, "n", 1, "12", 2);
    struct entry *e = entry_new_obj("k", 1, TYPE_HASH, ENC_OBJ, h, -1);
    TEST_EXPECT(round_trip(e, true, "listpack"));
    entry_free(e);
    h = hash_new();
    char f[32], v[200];
    memset(v, 'v', sizeof(v));
    for (int i = 0; i < 100; i++) {
        int n = snprintf(f, sizeof(f), "field%d", i);
        hash_set(&h, f, (size_t)n, v, sizeof(v));
    }
    e = entry_new_obj("k", 1, TYPE_HASH, ENC_OBJ, h, -1);
    TEST_EXPECT(round_trip(e, true, "hashtable"));
    entry_free(e);
}

/* Value loaders reject duplicates and NaN as Redis does. */
TEST(reject_duplicates) {
    setup();
    struct buf b = BUF_INIT;
    rdb_put_byte(&b, RDB_TYPE_SET);
    rdb_put_len(&b, 2);
    rdb_put_string(&b, "a", 1, false);
    rdb_put_string(&b, "a", 1, false);
    struct rdb_reader r;
    rdb_reader_mem(&r, b.data, b.len);
    int type;
    bool empty;
    TEST_ASSERT(rdb_read_byte(&r, &type));
    TEST_EXPECT(rdb_load_value(&r, type, "k", 1, -1, &empty) == NULL && r.failed);
    TEST_EXPECT_STR(r.err, "Duplicate set members detected");
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_ZSET_2);
    rdb_put_len(&b, 1);
    rdb_put_string(&b, "a", 1, false);
    rdb_put_double_bin(&b, __builtin_nan(""));
    rdb_reader_mem(&r, b.data, b.len);
    TEST_ASSERT(rdb_read_byte(&r, &type));
    TEST_EXPECT(rdb_load_value(&r, type, "k", 1, -1, &empty) == NULL && r.failed);
    TEST_EXPECT_STR(r.err, "Zset with NAN score detected");
    /* An empty set is skipped, not an error. */
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_SET);
    rdb_put_len(&b, 0);
    rdb_reader_mem(&r, b.data, b.len);
    TEST_ASSERT(rdb_read_byte(&r, &type));
    TEST_EXPECT(rdb_load_value(&r, type, "k", 1, -1, &empty) == NULL && empty && !r.failed);
    buf_free(&b);
}

struct collect {
    int keys, dbs[4];
    char last[32];
};

static bool col_key(void *arg, int db, struct entry *e, long long idle, int freq) {
    struct collect *c = arg;
    c->keys++;
    if (db < 4) c->dbs[db]++;
    size_t kl;
    const char *k = entry_key(e, &kl);
    snprintf(c->last, sizeof(c->last), "%.*s", (int)kl, k);
    entry_free(e);
    return true;
}
static bool col_select(void *arg, uint64_t db) { return db < 16; }

/* A whole file image: magic, aux, two databases, EOF, CRC. */
static void build_stream(struct buf *out, bool checksum) {
    struct persist_sink *sink = sink_buffer(out);
    struct rdb_writer w = {sink, 0, checksum};
    struct buf b = BUF_INIT;
    rdb_put_magic(&b);
    rdb_put_aux(&b, "redis-ver", "7.0.15");
    rdb_put_byte(&b, RDB_OPCODE_SELECTDB);
    rdb_put_len(&b, 0);
    struct entry *e = entry_new_str("a", 1, "1", 1, 123456789000LL, false);
    struct rdb_save_opts so = {true, false, false};
    rdb_put_entry(&b, e, &so);
    entry_free(e);
    rdb_put_byte(&b, RDB_OPCODE_SELECTDB);
    rdb_put_len(&b, 3);
    e = entry_new_str("b", 1, "two", 3, -1, false);
    rdb_put_entry(&b, e, &so);
    entry_free(e);
    rdb_write(&w, b.data, b.len);
    rdb_write_eof(&w);
    sink_close(sink);
    buf_free(&b);
}

TEST(stream_and_checksum) {
    setup();
    struct buf img = BUF_INIT;
    build_stream(&img, true);
    struct rdb_reader r;
    struct collect c = {0};
    struct rdb_load_hooks h = {col_key, col_select, NULL};
    struct rdb_load_stats st;
    rdb_reader_mem(&r, img.data, img.len);
    TEST_EXPECT(rdb_load_stream(&r, &h, &c, true, &st) == 0);
    TEST_EXPECT(c.keys == 2 && c.dbs[0] == 1 && c.dbs[3] == 1 && st.checksum_checked);
    /* A flipped byte in a value: the checksum catches it. */
    img.data[img.len - 12] ^= 0x01;
    memset(&c, 0, sizeof(c));
    rdb_reader_mem(&r, img.data, img.len);
    TEST_EXPECT(rdb_load_stream(&r, &h, &c, true, &st) != 0);
    /* Every truncation fails cleanly. */
    img.data[img.len - 12] ^= 0x01;
    for (size_t n = 0; n < img.len; n++) {
        rdb_reader_mem(&r, img.data, n);
        TEST_EXPECT(rdb_load_stream(&r, &h, &c, true, &st) != 0);
    }
    buf_free(&img);
    /* Without a checksum (rdbchecksum no): zero CRC, not verified. */
    build_stream(&img, false);
    uint64_t crc;
    memcpy(&crc, img.data + img.len - 8, 8);
    TEST_EXPECT(crc == 0);
    rdb_reader_mem(&r, img.data, img.len);
    TEST_EXPECT(rdb_load_stream(&r, &h, &c, true, &st) == 0 && !st.checksum_checked);
    buf_free(&img);
}

/* A Redis 6 list ziplist ["a", 7, "hello"], built by hand. */
TEST(legacy_ziplist_and_zipmap) {
    setup();
    unsigned char zl[] = {0, 0, 0, 0, 0, 0, 0, 0, 3, 0,
                          /* "a" */ 0, 0x01, 'a',
                          /* 7 immediate */ 3, 0xF8,
                          /* "hello" */ 2, 0x05, 'h', 'e', 'l', 'l', 'o', 0xFF};
    zl[0] = sizeof(zl);
    zl[4] = 15; /* tail: offset of the last entry */
    size_t count;
    TEST_EXPECT(ziplist_visit(zl, sizeof(zl), NULL, NULL, &count) && count == 3);
    struct buf b = BUF_INIT;
    rdb_put_byte(&b, RDB_TYPE_LIST_ZIPLIST);
    rdb_put_string(&b, zl, sizeof(zl), false);
    struct rdb_reader r;
    rdb_reader_mem(&r, b.data, b.len);
    int type;
    bool empty;
    TEST_ASSERT(rdb_read_byte(&r, &type));
    struct entry *e = rdb_load_value(&r, type, "k", 1, -1, &empty);
    TEST_ASSERT(e != NULL);
    struct list_pos pos;
    char num[32];
    size_t n;
    TEST_EXPECT(list_len(entry_obj(e)) == 3);
    TEST_EXPECT(list_at(entry_obj(e), 1, &pos));
    const char *s = list_val_str(&pos.v, num, &n);
    TEST_EXPECT(n == 1 && s[0] == '7');
    entry_free(e);
    /* A wrong prevlen is rejected. */
    zl[13] = 9;
    TEST_EXPECT(!ziplist_visit(zl, sizeof(zl), NULL, NULL, &count));
    /* zipmap {f: v, g: ww} */
    unsigned char zm[] = {2, 1, 'f', 1, 0, 'v', 1, 'g', 2, 1, 'w', 'w', 'x', 0xFF};
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_HASH_ZIPMAP);
    rdb_put_string(&b, zm, sizeof(zm), false);
    rdb_reader_mem(&r, b.data, b.len);
    TEST_ASSERT(rdb_read_byte(&r, &type));
    e = rdb_load_value(&r, type, "k", 1, -1, &empty);
    TEST_ASSERT(e != NULL);
    struct hash_str hv;
    TEST_EXPECT(hash_len(entry_obj(e)) == 2 && hash_get(entry_obj(e), "g", 1, &hv) && hv.len == 2);
    entry_free(e);
    buf_free(&b);
}

TEST(dump_payload) {
    setup();
    struct entry *e = entry_new_str("k", 1, "bar", 3, -1, false);
    struct buf p = BUF_INIT;
    TEST_ASSERT(rdb_dump_payload(&p, e, true));
    /* Redis 7.0's DUMP of "bar": type 0, len 3, bar, version 10 00, CRC. */
    TEST_EXPECT(p.len == 15 && memcmp(p.data, "\x00\x03" "bar\x0a\x00", 7) == 0);
    TEST_EXPECT(rdb_payload_verify((unsigned char *)p.data, p.len) == RDB_VERSION);
    p.data[2] ^= 1;
    TEST_EXPECT(rdb_payload_verify((unsigned char *)p.data, p.len) < 0);
    TEST_EXPECT(rdb_payload_verify((unsigned char *)p.data, 5) < 0);
    buf_free(&p);
    entry_free(e);
}

/* Regression: a read spanning a buffer refill asked the file for more
 * bytes than it had left and failed with "Unexpected EOF" on big files. */
TEST(fd_reader_reads_across_refills) {
    setup();
    struct buf img = BUF_INIT;
    struct persist_sink *sink = sink_buffer(&img);
    struct rdb_writer w = {sink, 0, true};
    struct buf b = BUF_INIT;
    rdb_put_magic(&b);
    struct rdb_save_opts so = {false, false, false};
    static char val[700 * 1024];
    for (size_t i = 0; i < sizeof(val); i++) val[i] = (char)('a' + (i * 7919) % 26);
    for (int k = 0; k < 3; k++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", k);
        struct entry *e = entry_new_str(key, 2, val, sizeof(val) - (size_t)k * 1000, -1, false);
        rdb_put_entry(&b, e, &so);
        entry_free(e);
    }
    rdb_write(&w, b.data, b.len);
    rdb_write_eof(&w);
    sink_close(sink);
    buf_free(&b);
    char path[] = "/tmp/stash-test-rdb-XXXXXX";
    int fd = mkstemp(path);
    TEST_ASSERT(fd >= 0);
    TEST_ASSERT(write(fd, img.data, img.len) == (ssize_t)img.len);
    lseek(fd, 0, SEEK_SET);
    struct rdb_reader r;
    rdb_reader_fd(&r, fd, img.len);
    struct collect c = {0};
    struct rdb_load_hooks h = {col_key, col_select, NULL};
    struct rdb_load_stats st;
    TEST_EXPECT(rdb_load_stream(&r, &h, &c, true, &st) == 0);
    TEST_EXPECT(c.keys == 3 && st.checksum_checked);
    rdb_reader_free(&r);
    close(fd);
    unlink(path);
    buf_free(&img);
}

int main(void) { return test_run_all(); }

/* Unit tests of the function-library records (persist/persist.c and the
 * FUNCTION2 codec): FUNCTION DUMP payloads round trip through the parser
 * with Redis's errors; a whole RDB stream with its preamble brings the
 * libraries back through the registered hooks (the merge flag reaching
 * them); the 7.0-rc FUNCTION record is converted; a failing library stops
 * the load with its reason. The scripting engine is replaced by a list. */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "persist/persist.h"
#include "persist/rdb.h"
#include "store/store.h"

#include <stdio.h>

/* ---- a stand-in for the scripting engine ----------------------------------------------------- */

#define MAXLIB 8
static char *libs[MAXLIB];
static size_t lens[MAXLIB];
static int nlibs;
static bool last_replace;

static void fake_foreach(void (*fn)(const char *, size_t, void *), void *arg) {
    for (int i = 0; i < nlibs; i++) fn(libs[i], lens[i], arg);
}

static int fake_load(const char *code, size_t len, bool replace, char *err, size_t errcap) {
    last_replace = replace;
    if (len >= 4 && memcmp(code, "BAD!", 4) == 0) {
        snprintf(err, errcap, "Library 'bad' already exists");
        return -1;
    }
    if (nlibs == MAXLIB) return -1;
    libs[nlibs] = xmemdup(code, len + 1);
    lens[nlibs++] = len;
    return 0;
}

static void fake_flush(void) {
    for (int i = 0; i < nlibs; i++) xfree(libs[i]);
    nlibs = 0;
}

static void setup(void) {
    static bool done;
    if (done) return;
    done = true;
    hash_setup();
    store_setup(16, NULL);
    persist_setup(NULL);
    static const struct persist_functions hooks = {fake_foreach, fake_load, fake_flush};
    persist_set_functions(&hooks);
}

static void add(const char *code) { fake_load(code, strlen(code), false, NULL, 0); }

static int collect(const char *code, size_t len, void *arg, char *err, size_t errcap) {
    struct buf *b = arg;
    buf_append(b, code, len);
    buf_putc(b, '|');
    if (len >= 4 && memcmp(code, "STOP", 4) == 0) {
        snprintf(err, errcap, "stopped");
        return -1;
    }
    return 0;
}

static const char *big = "#!lua name=a\nredis.register_function('f', function() return 'aaaaaaaaaaaaaaaaaaaaaaaaaa' end)";

TEST(dump_payload_round_trip) {
    setup();
    fake_flush();
    add(big);
    add("#!lua name=b\n");
    struct buf p = BUF_INIT;
    persist_functions_dump(&p);
    TEST_EXPECT((unsigned char)p.data[0] == RDB_OPCODE_FUNCTION2);
    TEST_EXPECT((unsigned char)p.data[1] == 0xC3); /* LZF, as Redis with rdbcompression yes */
    struct buf got = BUF_INIT;
    char err[128];
    TEST_ASSERT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == 0);
    buf_putc(&got, '\0');
    char want[512];
    snprintf(want, sizeof(want), "%s|#!lua name=b\n|", big);
    TEST_EXPECT_STR(got.data, want);
    /* A flipped byte fails the checksum; a short payload the footer. */
    p.data[3] ^= 1;
    TEST_EXPECT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == -1);
    TEST_EXPECT_STR(err, "DUMP payload version or checksum are wrong");
    TEST_EXPECT(persist_functions_parse("short", 5, collect, &got, err, sizeof(err)) == -1);
    TEST_EXPECT_STR(err, "DUMP payload version or checksum are wrong");
    /* No libraries: the footer alone, which restores nothing. */
    fake_flush();
    buf_clear(&p);
    persist_functions_dump(&p);
    TEST_EXPECT(p.len == 10);
    buf_clear(&got);
    TEST_EXPECT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == 0 && got.len == 0);
    buf_free(&p);
    buf_free(&got);
}

/* A payload with an arbitrary body and a valid footer. */
static void payload(struct buf *p, const void *body, size_t n) {
    buf_clear(p);
    buf_append(p, body, n);
    rdb_payload_footer(p, 0);
}

TEST(dump_payload_errors_and_rc_format) {
    setup();
    struct buf p = BUF_INIT, got = BUF_INIT;
    char err[128];
    payload(&p, "\x00\x01x", 3); /* a string key record */
    TEST_EXPECT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == -1);
    TEST_EXPECT_STR(err, "given type is not a function");
    payload(&p, "\xf5\x05" "ab", 4); /* a length past the end */
    TEST_EXPECT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == -1);
    TEST_EXPECT_STR(err, "Failed loading library payload");
    payload(&p, "\xf6\x01n\x03lua\x00\x04" "body", 13); /* 7.0-rc: name, engine, no description, body */
    buf_clear(&got);
    TEST_ASSERT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == 0);
    buf_putc(&got, '\0');
    TEST_EXPECT_STR(got.data, "#!lua name=n\nbody|");
    payload(&p, "\xf6\x01n\x03lua\x01\x01" "dbody", 14); /* truncated: description then nothing */
    TEST_EXPECT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == -1);
    TEST_EXPECT_STR(err, "Failed loading library blob");
    /* The callback's error stops the walk and is the message. */
    struct buf body = BUF_INIT;
    rdb_put_function(&body, "STOP", 4, false);
    rdb_put_function(&body, "never", 5, false);
    payload(&p, body.data, body.len);
    buf_clear(&got);
    TEST_EXPECT(persist_functions_parse(p.data, p.len, collect, &got, err, sizeof(err)) == -1);
    TEST_EXPECT_STR(err, "stopped");
    TEST_EXPECT(got.len == 5);
    buf_free(&body);
    buf_free(&p);
    buf_free(&got);
}

/* ---- whole RDB streams ---------------------------------------------------------------------------- */

static bool key_hook(void *arg, int db, struct entry *e, long long idle, int freq) {
    (*(int *)arg)++;
    entry_free(e);
    return true;
}
static bool select_hook(void *arg, uint64_t db) { return db < 16; }

/* magic, preamble (the libraries), one key, EOF, CRC. */
static void image(struct buf *img) {
    buf_clear(img);
    struct persist_sink *sink = sink_buffer(img);
    struct rdb_writer w = {sink, 0, true};
    struct buf b = BUF_INIT;
    rdb_put_magic(&b);
    rdb_put_aux(&b, "redis-ver", "7.0.15");
    rdb_put_preamble(&b);
    rdb_put_byte(&b, RDB_OPCODE_SELECTDB);
    rdb_put_len(&b, 0);
    struct entry *e = entry_new_str("k", 1, "v", 1, -1, false);
    struct rdb_save_opts so = {false, false, false};
    rdb_put_entry(&b, e, &so);
    entry_free(e);
    rdb_write(&w, b.data, b.len);
    rdb_write_eof(&w);
    sink_close(sink);
    buf_free(&b);
}

static int load(struct buf *img, bool allow_dup, char *why, size_t cap) {
    struct rdb_reader r;
    rdb_reader_mem(&r, img->data, img->len);
    r.allow_dup = allow_dup;
    int keys = 0;
    struct rdb_load_hooks h = {key_hook, select_hook, NULL};
    struct rdb_load_stats st;
    int rc = rdb_load_stream(&r, &h, &keys, true, &st);
    snprintf(why, cap, "%s", r.err);
    return rc == 0 ? keys : -1;
}

TEST(snapshot_preamble_round_trip) {
    setup();
    fake_flush();
    add(big);
    add("#!lua name=b\nreturn 1");
    struct buf img = BUF_INIT;
    image(&img);
    fake_flush();
    char why[160];
    TEST_EXPECT(load(&img, false, why, sizeof(why)) == 1);
    TEST_ASSERT(nlibs == 2);
    TEST_EXPECT(strcmp(libs[0], big) == 0 && strcmp(libs[1], "#!lua name=b\nreturn 1") == 0);
    TEST_EXPECT(!last_replace);
    fake_flush();
    TEST_EXPECT(load(&img, true, why, sizeof(why)) == 1);
    TEST_EXPECT(last_replace);
    /* A library the engine refuses stops the load with its reason. */
    fake_flush();
    libs[0] = xmemdup("BAD!", 5); /* past fake_load, which refuses it */
    lens[0] = 4;
    nlibs = 1;
    image(&img);
    fake_flush();
    TEST_EXPECT(load(&img, false, why, sizeof(why)) == -1);
    TEST_EXPECT(strstr(why, "Failed loading library, Library 'bad' already exists") != NULL);
    fake_flush();
    buf_free(&img);
}

int main(void) { return test_run_all(); }

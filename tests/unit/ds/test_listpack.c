/* Unit tests of ds/listpack: the exact bytes of every encoding at its
 * boundaries (Redis 7.0 compatibility), iteration both ways, seeks, inserts,
 * deletes, find with skip, unknown counts, and validation of corrupted
 * blobs (never reading outside them). */
#include "../test.h"

#include "base/alloc.h"
#include "base/rand.h"
#include "base/str.h"
#include "ds/listpack.h"

#include <limits.h>
#include <stdint.h>

/* Bytes of the first entry of a one-element listpack holding v. */
static size_t entry_bytes_of(const char *v, size_t len) {
    unsigned char *lp = lp_append(lp_new(0), v, len);
    size_t n = lp_entry_size(lp_first(lp));
    lp_free(lp);
    return n;
}

TEST(empty_layout) {
    unsigned char *lp = lp_new(0);
    const unsigned char want[] = {7, 0, 0, 0, 0, 0, 0xFF};
    TEST_EXPECT_INT(lp_bytes(lp), 7);
    TEST_EXPECT(memcmp(lp, want, sizeof(want)) == 0);
    TEST_EXPECT_INT(lp_length(lp), 0);
    TEST_EXPECT(lp_first(lp) == NULL);
    TEST_EXPECT(lp_last(lp) == NULL);
    TEST_EXPECT(lp_seek(lp, 0) == NULL);
    TEST_EXPECT(lp_seek(lp, -1) == NULL);
    TEST_EXPECT(lp_validate(lp, lp_bytes(lp), true, NULL, NULL));
    lp_free(lp);
}

/* The bytes Redis 7.0 writes for ["hello", 1024]. */
TEST(exact_bytes_small) {
    unsigned char *lp = lp_new(0);
    lp = lp_append(lp, "hello", 5);
    lp = lp_append(lp, "1024", 4);
    const unsigned char want[] = {17,  0,   0,   0, 2,    0,    0x85, 'h', 'e',
                                  'l', 'l', 'o', 6, 0xC4, 0x00, 2,    0xFF};
    TEST_EXPECT_INT(lp_bytes(lp), sizeof(want));
    TEST_EXPECT(memcmp(lp, want, sizeof(want)) == 0);
    lp_free(lp);
}

struct int_case {
    long long v;
    size_t entry; /* bytes of the entry with its back-length */
    unsigned char first;
};

TEST(integer_encoding_boundaries) {
    const struct int_case cases[] = {
        {0, 2, 0x00},
        {1, 2, 0x01},
        {127, 2, 0x7F},
        {128, 3, 0xC0},
        {-1, 3, 0xDF},
        {4095, 3, 0xCF},
        {-4096, 3, 0xD0},
        {4096, 4, 0xF1},
        {-4097, 4, 0xF1},
        {32767, 4, 0xF1},
        {-32768, 4, 0xF1},
        {32768, 5, 0xF2},
        {-32769, 5, 0xF2},
        {8388607, 5, 0xF2},
        {-8388608, 5, 0xF2},
        {8388608, 6, 0xF3},
        {-8388609, 6, 0xF3},
        {INT32_MAX, 6, 0xF3},
        {INT32_MIN, 6, 0xF3},
        {(long long)INT32_MAX + 1, 10, 0xF4},
        {(long long)INT32_MIN - 1, 10, 0xF4},
        {LLONG_MAX, 10, 0xF4},
        {LLONG_MIN, 10, 0xF4},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char text[32];
        int tl = ll_to_str(text, sizeof(text), cases[i].v);
        /* As text and as an integer: the same bytes. */
        unsigned char *a = lp_append(lp_new(0), text, (size_t)tl);
        unsigned char *b = lp_append_int(lp_new(0), cases[i].v);
        TEST_EXPECT_INT(lp_bytes(a), lp_bytes(b));
        TEST_EXPECT(memcmp(a, b, lp_bytes(a)) == 0);
        unsigned char *p = lp_first(a);
        TEST_EXPECT_INT(lp_entry_size(p), cases[i].entry);
        TEST_EXPECT_INT(p[0], cases[i].first);
        long long v = 0;
        size_t len;
        TEST_EXPECT(lp_get(p, &len, &v) == NULL);
        TEST_EXPECT_INT(v, cases[i].v);
        unsigned char buf[LP_INTBUF_SIZE];
        const unsigned char *s = lp_get_str(p, &len, buf);
        TEST_EXPECT_INT(len, tl);
        TEST_EXPECT(memcmp(s, text, len) == 0);
        TEST_EXPECT(lp_eq(p, (const unsigned char *)text, (size_t)tl));
        TEST_EXPECT(lp_validate(a, lp_bytes(a), true, NULL, NULL));
        /* Backwards too. */
        TEST_EXPECT(lp_last(a) == p);
        lp_free(a);
        lp_free(b);
    }
}

TEST(non_canonical_numbers_stay_strings) {
    const char *cases[] = {
        "01", "-0", "+1",   " 1", "1 ", "1.0", "9223372036854775808", "-9223372036854775809",
        "",   "-",  "0x10", "00"};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = strlen(cases[i]);
        unsigned char *lp = lp_append(lp_new(0), cases[i], n);
        unsigned char *p = lp_first(lp);
        size_t len;
        long long v;
        const unsigned char *s = lp_get(p, &len, &v);
        TEST_EXPECT(s != NULL);
        TEST_EXPECT_INT(len, n);
        TEST_EXPECT(s && memcmp(s, cases[i], n) == 0);
        TEST_EXPECT_INT(p[0], 0x80 | n);
        lp_free(lp);
    }
}

TEST(string_encoding_boundaries) {
    /* length -> first byte class and entry size */
    const size_t lens[] = {0, 1, 63, 64, 125, 126, 127, 4095, 4096, 16378, 16377, 70000, 300000};
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        size_t n = lens[i];
        char *s = xmalloc(n + 1);
        for (size_t j = 0; j < n; j++) s[j] = (char)('a' + j % 26);
        unsigned char *lp = lp_new(0);
        lp = lp_append(lp, "x", 1);
        lp = lp_append(lp, s, n);
        lp = lp_append(lp, "y", 1);
        unsigned char *p = lp_seek(lp, 1);
        size_t hdr = n < 64 ? 1 : n < 4096 ? 2 : 5;
        size_t l = hdr + n;
        size_t bl = l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : 4;
        TEST_EXPECT_INT(lp_entry_size(p), l + bl);
        if (n < 64)
            TEST_EXPECT_INT(p[0], 0x80 | n);
        else if (n < 4096)
            TEST_EXPECT_INT(p[0], 0xE0 | (n >> 8));
        else
            TEST_EXPECT_INT(p[0], 0xF0);
        size_t len;
        long long v;
        const unsigned char *got = lp_get(p, &len, &v);
        TEST_EXPECT(got && len == n && memcmp(got, s, n) == 0);
        /* Walk back over it from the last entry, and forward. */
        TEST_EXPECT(lp_prev(lp, lp_last(lp)) == p);
        TEST_EXPECT(lp_next(lp, lp_first(lp)) == p);
        TEST_EXPECT(lp_prev(lp, p) == lp_first(lp));
        TEST_EXPECT(lp_validate(lp, lp_bytes(lp), true, NULL, NULL));
        TEST_EXPECT_INT(lp_bytes(lp), 6 + 3 + (l + bl) + 3 + 1);
        lp_free(lp);
        xfree(s);
    }
}

/* Entries of exactly 16383 bytes take a 3-byte back-length, as in Redis. */
TEST(backlen_redis_threshold) {
    size_t n = 16383 - 5;
    char *s = xmalloc(n);
    memset(s, 'z', n);
    unsigned char *lp = lp_append(lp_new(0), s, n);
    unsigned char *p = lp_first(lp);
    TEST_EXPECT_INT(lp_entry_size(p), 16383 + 3);
    TEST_EXPECT(lp_last(lp) == p);
    lp_free(lp);
    xfree(s);
    TEST_EXPECT_INT(entry_bytes_of("abc", 3), 5);
}

static unsigned char *build(int n) {
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < n; i++) {
        char buf[32];
        int l = snprintf(buf, sizeof(buf), i % 3 == 0 ? "%d" : "s%d", i);
        lp = lp_append(lp, buf, (size_t)l);
    }
    return lp;
}

static bool entry_is(unsigned char *p, const char *want) {
    unsigned char buf[LP_INTBUF_SIZE];
    size_t len;
    const unsigned char *s = lp_get_str(p, &len, buf);
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

static bool entry_is_index(unsigned char *p, int i) {
    char buf[32];
    snprintf(buf, sizeof(buf), i % 3 == 0 ? "%d" : "s%d", i);
    return entry_is(p, buf);
}

TEST(iterate_both_ways_and_seek) {
    const int n = 500;
    unsigned char *lp = build(n);
    TEST_EXPECT_INT(lp_length(lp), n);
    int i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++)
        TEST_ASSERT(entry_is_index(p, i));
    TEST_EXPECT_INT(i, n);
    i = n - 1;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p), i--)
        TEST_ASSERT(entry_is_index(p, i));
    TEST_EXPECT_INT(i, -1);
    for (int k = 0; k < n; k++) {
        TEST_ASSERT(entry_is_index(lp_seek(lp, k), k));
        TEST_ASSERT(entry_is_index(lp_seek(lp, k - n), k));
    }
    TEST_EXPECT(lp_seek(lp, n) == NULL);
    TEST_EXPECT(lp_seek(lp, -n - 1) == NULL);
    lp_free(lp);
}

TEST(prepend_insert_replace) {
    unsigned char *lp = lp_new(0);
    lp = lp_append(lp, "b", 1);
    lp = lp_prepend(lp, "a", 1);
    lp = lp_append_int(lp, 42);
    lp = lp_prepend_int(lp, -7);
    /* -7 a b 42 */
    TEST_EXPECT_INT(lp_length(lp), 4);
    TEST_EXPECT(entry_is(lp_seek(lp, 0), "-7"));
    TEST_EXPECT(entry_is(lp_seek(lp, 3), "42"));
    unsigned char *p = lp_seek(lp, 1), *np;
    struct lp_item it = lp_str_item("after-a", 7);
    lp = lp_insert(lp, p, LP_AFTER, &it, &np);
    TEST_EXPECT(entry_is(np, "after-a"));
    it = lp_str_item("before-a", 8);
    lp = lp_insert(lp, lp_seek(lp, 1), LP_BEFORE, &it, &np);
    TEST_EXPECT(entry_is(np, "before-a"));
    /* -7 before-a a after-a b 42 */
    p = lp_seek(lp, 4);
    lp = lp_replace(lp, &p, "a-much-longer-string-than-before-to-force-a-move-of-the-tail", 60);
    TEST_EXPECT(entry_is(p, "a-much-longer-string-than-before-to-force-a-move-of-the-tail"));
    p = lp_seek(lp, 5);
    lp = lp_replace_int(lp, &p, 123456789012LL);
    TEST_EXPECT(entry_is(p, "123456789012"));
    TEST_EXPECT(lp_next(lp, p) == NULL);
    const char *want[] = {"-7",
                          "before-a",
                          "a",
                          "after-a",
                          "a-much-longer-string-than-before-to-force-a-move-of-the-tail",
                          "123456789012"};
    TEST_EXPECT_INT(lp_length(lp), 6);
    for (int i = 0; i < 6; i++) TEST_EXPECT(entry_is(lp_seek(lp, i), want[i]));
    /* insert_at: front, middle, end, -1 (after the last), out of range */
    it = lp_str_item("F", 1);
    lp = lp_insert_at(lp, 0, &it, &np);
    TEST_EXPECT(np && entry_is(lp_seek(lp, 0), "F"));
    it = lp_str_item("E", 1);
    lp = lp_insert_at(lp, 7, &it, &np);
    TEST_EXPECT(np && entry_is(lp_seek(lp, -1), "E"));
    it = lp_str_item("L", 1);
    lp = lp_insert_at(lp, -1, &it, &np);
    TEST_EXPECT(np && entry_is(lp_seek(lp, -1), "L"));
    it = lp_str_item("X", 1);
    lp = lp_insert_at(lp, 100, &it, &np);
    TEST_EXPECT(np == NULL);
    TEST_EXPECT_INT(lp_length(lp), 9);
    TEST_EXPECT(lp_validate(lp, lp_bytes(lp), true, NULL, NULL));
    lp_free(lp);
}

TEST(batch_insert) {
    unsigned char *lp = lp_new(0);
    struct lp_item items[] = {lp_str_item("f1", 2), lp_str_item("v1", 2), lp_int_item(5),
                              lp_str_item("77", 2)};
    lp = lp_append_batch(lp, items, 4);
    unsigned char *np;
    lp = lp_insert_batch(lp, lp_first(lp), items, 2, &np);
    TEST_EXPECT(np == lp_first(lp));
    TEST_EXPECT_INT(lp_length(lp), 6);
    const char *want[] = {"f1", "v1", "f1", "v1", "5", "77"};
    for (int i = 0; i < 6; i++) TEST_EXPECT(entry_is(lp_seek(lp, i), want[i]));
    /* The batch writes the same bytes as one append at a time. */
    unsigned char *one = lp_new(0);
    for (int i = 0; i < 6; i++) one = lp_append(one, want[i], strlen(want[i]));
    TEST_EXPECT(lp_bytes(one) == lp_bytes(lp) && memcmp(one, lp, lp_bytes(lp)) == 0);
    lp_free(one);
    lp_free(lp);
}

TEST(deletes) {
    unsigned char *lp = build(100);
    unsigned char *p = lp_seek(lp, 10), *np;
    lp = lp_delete(lp, p, &np);
    TEST_EXPECT(entry_is_index(np, 11));
    TEST_EXPECT_INT(lp_length(lp), 99);
    /* Delete the last: next is NULL. */
    lp = lp_delete(lp, lp_last(lp), &np);
    TEST_EXPECT(np == NULL);
    TEST_EXPECT(entry_is_index(lp_last(lp), 98));
    /* Range by index: 20..29 (in the shifted numbering 21..30 of the original). */
    lp = lp_delete_range(lp, 20, 10);
    TEST_EXPECT_INT(lp_length(lp), 88);
    TEST_EXPECT(entry_is_index(lp_seek(lp, 19), 20));
    TEST_EXPECT(entry_is_index(lp_seek(lp, 20), 31));
    /* Negative index and a count past the end. */
    lp = lp_delete_range(lp, -5, 1000);
    TEST_EXPECT_INT(lp_length(lp), 83);
    TEST_EXPECT(entry_is_index(lp_last(lp), 93));
    /* Out of range: nothing. */
    lp = lp_delete_range(lp, 83, 5);
    lp = lp_delete_range(lp, -84, 5);
    TEST_EXPECT_INT(lp_length(lp), 83);
    /* Range at a pointer. */
    p = lp_first(lp);
    lp = lp_delete_range_at(lp, &p, 3);
    TEST_EXPECT(entry_is_index(p, 3));
    TEST_EXPECT_INT(lp_length(lp), 80);
    p = lp_first(lp);
    lp = lp_delete_range_at(lp, &p, 80);
    TEST_EXPECT(p == NULL);
    TEST_EXPECT_INT(lp_length(lp), 0);
    TEST_EXPECT_INT(lp_bytes(lp), 7);
    TEST_EXPECT(lp_validate(lp, lp_bytes(lp), true, NULL, NULL));
    lp_free(lp);
}

TEST(find_with_skip) {
    /* field/value pairs whose values look like fields */
    unsigned char *lp = lp_new(0);
    const char *kv[] = {"a", "b", "b", "c", "12", "a", "c", "12", "-5", "x"};
    for (int i = 0; i < 10; i++) lp = lp_append(lp, kv[i], strlen(kv[i]));
    unsigned char *f = lp_first(lp);
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"a", 1, 1) == lp_seek(lp, 0));
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"b", 1, 1) == lp_seek(lp, 2));
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"c", 1, 1) == lp_seek(lp, 6));
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"12", 2, 1) == lp_seek(lp, 4));
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"-5", 2, 1) == lp_seek(lp, 8));
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"x", 1, 1) == NULL);
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"x", 1, 0) == lp_seek(lp, 9));
    TEST_EXPECT(lp_find(lp, f, (const unsigned char *)"012", 3, 0) == NULL);
    /* Values (start at entry 1). */
    TEST_EXPECT(lp_find(lp, lp_seek(lp, 1), (const unsigned char *)"12", 2, 1) == lp_seek(lp, 7));
    TEST_EXPECT(lp_find(lp, NULL, (const unsigned char *)"a", 1, 1) == NULL);
    lp_free(lp);
}

TEST(count_unknown_past_65535) {
    unsigned char *lp = lp_new(0);
    struct lp_item items[1000];
    for (int i = 0; i < 1000; i++) items[i] = lp_int_item(i);
    for (int k = 0; k < 66; k++) lp = lp_append_batch(lp, items, 1000);
    TEST_EXPECT_INT(lp[4] | (lp[5] << 8), 65535);
    TEST_EXPECT_INT(lp_length(lp), 66000);
    TEST_EXPECT(entry_is(lp_seek(lp, -1), "999"));
    TEST_EXPECT(entry_is(lp_seek(lp, 65999), "999"));
    TEST_EXPECT(lp_validate(lp, lp_bytes(lp), true, NULL, NULL));
    lp = lp_delete_range(lp, 0, 1000);
    TEST_EXPECT_INT(lp[4] | (lp[5] << 8), 65535);
    TEST_EXPECT_INT(lp_length(lp), 65000);
    /* lp_length stored the walked count back. */
    TEST_EXPECT_INT(lp[4] | (lp[5] << 8), 65000);
    lp = lp_delete_range(lp, 0, 1);
    TEST_EXPECT_INT(lp[4] | (lp[5] << 8), 64999);
    lp_free(lp);
}

static bool count_cb(const unsigned char *p, void *arg) {
    (void)p;
    return ++*(int *)arg <= 3;
}

/* Validate a copy in an exact-size allocation (sanitizers catch overreads). */
static bool validate_copy(const unsigned char *b, size_t n, bool deep) {
    unsigned char *c = xmalloc(n ? n : 1);
    memcpy(c, b, n);
    bool ok = lp_validate(c, n, deep, NULL, NULL);
    xfree(c);
    return ok;
}

TEST(validate_corrupted) {
    unsigned char *lp = lp_new(0);
    lp = lp_append(lp, "hello", 5);
    lp = lp_append(lp, "1024", 4);
    char big[300];
    memset(big, 'q', sizeof(big));
    lp = lp_append(lp, big, sizeof(big));
    lp = lp_append_int(lp, LLONG_MAX);
    size_t n = lp_bytes(lp);
    TEST_EXPECT(validate_copy(lp, n, true));
    TEST_EXPECT(!lp_validate(NULL, 0, true, NULL, NULL));
    unsigned char *b = xmalloc(n + 16);
    /* too short / size mismatch / no terminator */
    TEST_EXPECT(!validate_copy(lp, 6, false));
    TEST_EXPECT(!validate_copy(lp, n - 1, false));
    memcpy(b, lp, n);
    b[n - 1] = 0;
    TEST_EXPECT(!validate_copy(b, n, false));
    /* count mismatch (deep only) */
    memcpy(b, lp, n);
    b[4] = 3;
    TEST_EXPECT(validate_copy(b, n, false));
    TEST_EXPECT(!validate_copy(b, n, true));
    b[4] = 0xFF;
    b[5] = 0xFF; /* unknown: accepted */
    TEST_EXPECT(validate_copy(b, n, true));
    /* unused encoding byte */
    memcpy(b, lp, n);
    b[6] = 0xF5;
    TEST_EXPECT(!validate_copy(b, n, true));
    /* a terminator inside */
    b[6] = 0xFF;
    TEST_EXPECT(!validate_copy(b, n, true));
    /* a string length running past the end */
    memcpy(b, lp, n);
    b[6] = 0x80 | 63;
    TEST_EXPECT(!validate_copy(b, n, true));
    /* a back-length that lies */
    memcpy(b, lp, n);
    b[12] = 5;
    TEST_EXPECT(!validate_copy(b, n, true));
    /* non-canonical back-length size (2 bytes for a short entry) */
    {
        const unsigned char odd[] = {10, 0, 0, 0, 1, 0, 0x01, 0x00, 0x81, 0xFF};
        TEST_EXPECT(!validate_copy(odd, sizeof(odd), true));
        const unsigned char good[] = {9, 0, 0, 0, 1, 0, 0x01, 0x01, 0xFF};
        TEST_EXPECT(validate_copy(good, sizeof(good), true));
    }
    /* a 32-bit string header cut short, and a huge 32-bit length */
    {
        const unsigned char cut[] = {10, 0, 0, 0, 1, 0, 0xF0, 0x01, 0x00, 0xFF};
        TEST_EXPECT(!validate_copy(cut, sizeof(cut), true));
        const unsigned char huge[] = {14,   0,    0,    0,    1,   0, 0xF0,
                                      0xFF, 0xFF, 0xFF, 0xFF, 'a', 1, 0xFF};
        TEST_EXPECT(!validate_copy(huge, sizeof(huge), true));
        const unsigned char cut64[] = {12, 0, 0, 0, 1, 0, 0xF4, 1, 2, 3, 4, 0xFF};
        TEST_EXPECT(!validate_copy(cut64, sizeof(cut64), true));
    }
    /* the entry callback can reject */
    int seen = 0;
    TEST_EXPECT(!lp_validate(lp, n, true, count_cb, &seen)); /* rejects the 4th */
    TEST_EXPECT_INT(seen, 4);
    xfree(b);
    lp_free(lp);
}

TEST(validate_random_corruption) {
    rand_seed(12345);
    unsigned char *lp = build(60);
    char big[5000];
    memset(big, 'w', sizeof(big));
    lp = lp_append(lp, big, sizeof(big));
    lp = lp_append_int(lp, -123456789);
    size_t n = lp_bytes(lp);
    unsigned char *b = xmalloc(n);
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(b, lp, n);
        int flips = 1 + (int)rand_below(3);
        for (int k = 0; k < flips; k++) b[rand_below(n)] ^= (unsigned char)(1u << rand_below(8));
        size_t sz = rand_below(8) == 0 ? rand_below(n) + 1 : n;
        unsigned char *c = xmalloc(sz);
        memcpy(c, b, sz);
        if (lp_validate(c, sz, true, NULL, NULL)) {
            /* Whatever passes must be walkable both ways with the same count. */
            accepted++;
            size_t fwd = 0, back = 0;
            for (unsigned char *p = lp_first(c); p; p = lp_next(c, p)) fwd++;
            for (unsigned char *p = lp_last(c); p; p = lp_prev(c, p)) back++;
            TEST_EXPECT(fwd == back);
            TEST_EXPECT(fwd == lp_length(c));
        }
        xfree(c);
    }
    (void)accepted;
    xfree(b);
    lp_free(lp);
}

/* A random mix of operations checked against a plain array model. */
TEST(random_ops_against_model) {
    rand_seed(777);
    enum { MAXN = 400 };
    char *model[MAXN];
    size_t mlen[MAXN];
    int n = 0;
    unsigned char *lp = lp_new(0);
    for (int round = 0; round < 20000; round++) {
        int op = (int)rand_below(6);
        char buf[80];
        int l;
        long long r = (long long)rand_u64();
        switch (rand_below(4)) {
        case 0: l = snprintf(buf, sizeof(buf), "%lld", r % 200 - 100); break;
        case 1: l = snprintf(buf, sizeof(buf), "%lld", r); break;
        case 2: l = snprintf(buf, sizeof(buf), "v%llu", (unsigned long long)r % 1000); break;
        default:
            l = (int)rand_below(70);
            memset(buf, 'a' + (int)rand_below(26), (size_t)l);
            break;
        }
        if (op <= 2 && n < MAXN) {
            int at = (int)rand_below((uint64_t)n + 1);
            struct lp_item it = lp_str_item(buf, (size_t)l);
            unsigned char *np;
            lp = lp_insert_at(lp, at, &it, &np);
            memmove(model + at + 1, model + at, sizeof(model[0]) * (size_t)(n - at));
            memmove(mlen + at + 1, mlen + at, sizeof(mlen[0]) * (size_t)(n - at));
            model[at] = xmemdup(buf, (size_t)l);
            mlen[at] = (size_t)l;
            n++;
        } else if (op == 3 && n > 0) {
            int at = (int)rand_below((uint64_t)n);
            int cnt = 1 + (int)rand_below(4);
            if (at + cnt > n) cnt = n - at;
            lp = lp_delete_range(lp, at - (rand_below(2) ? n : 0), (size_t)cnt);
            for (int k = at; k < at + cnt; k++) xfree(model[k]);
            memmove(model + at, model + at + cnt, sizeof(model[0]) * (size_t)(n - at - cnt));
            memmove(mlen + at, mlen + at + cnt, sizeof(mlen[0]) * (size_t)(n - at - cnt));
            n -= cnt;
        } else if (op == 4 && n > 0) {
            int at = (int)rand_below((uint64_t)n);
            unsigned char *p = lp_seek(lp, at);
            lp = lp_replace(lp, &p, buf, (size_t)l);
            xfree(model[at]);
            model[at] = xmemdup(buf, (size_t)l);
            mlen[at] = (size_t)l;
        } else if (n > 0) {
            int at = (int)rand_below((uint64_t)n);
            unsigned char *p =
                lp_find(lp, lp_first(lp), (const unsigned char *)model[at], mlen[at], 0);
            int first = 0;
            while (mlen[first] != mlen[at] || memcmp(model[first], model[at], mlen[at]) != 0)
                first++;
            TEST_ASSERT(p == lp_seek(lp, first));
        }
        if (round % 500 == 0 || round == 19999) {
            TEST_ASSERT(lp_length(lp) == (size_t)n);
            TEST_ASSERT(lp_validate(lp, lp_bytes(lp), true, NULL, NULL));
            int i = 0;
            for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
                unsigned char ib[LP_INTBUF_SIZE];
                size_t len;
                const unsigned char *s = lp_get_str(p, &len, ib);
                TEST_ASSERT(len == mlen[i] && memcmp(s, model[i], len) == 0);
            }
            TEST_ASSERT(i == n);
        }
    }
    for (int k = 0; k < n; k++) xfree(model[k]);
    lp_free(lp);
}

TEST(dup_and_shrink) {
    unsigned char *lp = lp_new(1024);
    lp = lp_append(lp, "abc", 3);
    lp = lp_shrink_to_fit(lp);
    unsigned char *d = lp_dup(lp);
    TEST_EXPECT(lp_bytes(d) == lp_bytes(lp) && memcmp(d, lp, lp_bytes(lp)) == 0);
    TEST_EXPECT(lp_safe_to_add(lp, 100));
    TEST_EXPECT(!lp_safe_to_add(lp, LP_MAX_SAFE_BYTES));
    lp_free(d);
    lp_free(lp);
}

int main(void) {
    return test_run_all();
}

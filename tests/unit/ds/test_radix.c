/* Unit tests of ds/radix: the compressed radix tree behind streams, checked
 * against a sorted array model with random keys over a tiny alphabet (so
 * keys share prefixes, nest in each other and force node splits and
 * merges), every seek operator, and the shape invariants. */
#include "../test.h"

#include "base/alloc.h"
#include "ds/radix.h"

#include <stdint.h>

struct mkey {
    unsigned char k[12];
    size_t len;
    uintptr_t v;
};

struct model {
    struct mkey *a;
    size_t n;
};

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int kcmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Index of the first model key >= k. */
static size_t lower(const struct model *m, const unsigned char *k, size_t len) {
    size_t i = 0;
    while (i < m->n && kcmp(m->a[i].k, m->a[i].len, k, len) < 0) i++;
    return i;
}

static void model_set(struct model *m, const unsigned char *k, size_t len, uintptr_t v) {
    size_t i = lower(m, k, len);
    if (i < m->n && kcmp(m->a[i].k, m->a[i].len, k, len) == 0) {
        m->a[i].v = v;
        return;
    }
    m->a = realloc(m->a, (m->n + 1) * sizeof(*m->a));
    memmove(m->a + i + 1, m->a + i, (m->n - i) * sizeof(*m->a));
    memcpy(m->a[i].k, k, len);
    m->a[i].len = len;
    m->a[i].v = v;
    m->n++;
}

static bool model_del(struct model *m, const unsigned char *k, size_t len) {
    size_t i = lower(m, k, len);
    if (i == m->n || kcmp(m->a[i].k, m->a[i].len, k, len) != 0) return false;
    memmove(m->a + i, m->a + i + 1, (m->n - i - 1) * sizeof(*m->a));
    m->n--;
    return true;
}

static size_t random_key(unsigned char *k) {
    size_t len = rnd() % 7;
    for (size_t i = 0; i < len; i++) k[i] = (unsigned char)("abc\0\xff"[rnd() % 5]);
    return len;
}

static bool same_key(const struct radix_iter *it, const struct mkey *m) {
    return kcmp(it->key, it->key_len, m->k, m->len) == 0 && (uintptr_t)it->value == m->v;
}

/* The whole tree, both ways, equals the model. */
static int check_walks(struct radix *r, const struct model *m) {
    int bad = 0;
    struct radix_iter it;
    radix_iter_init(&it, r);
    size_t i = 0;
    radix_seek(&it, RADIX_FIRST, NULL, 0);
    while (radix_next(&it)) {
        if (i >= m->n || !same_key(&it, &m->a[i])) bad++;
        i++;
    }
    if (i != m->n) bad++;
    radix_seek(&it, RADIX_LAST, NULL, 0);
    i = m->n;
    while (radix_prev(&it)) {
        if (i == 0 || !same_key(&it, &m->a[i - 1])) bad++;
        i--;
    }
    if (i != 0) bad++;
    radix_iter_release(&it);
    if (radix_size(r) != m->n) bad++;
    /* Keyless nodes branch: fewer than two nodes per key (+ the root). */
    if (radix_nodes(r) > 2 * m->n + 1) bad++;
    return bad;
}

TEST(random_against_model) {
    alloc_thread_init();
    struct radix *r = radix_new();
    size_t empty_mem = radix_mem(r);
    struct model m = {0};
    for (int step = 0; step < 20000; step++) {
        unsigned char k[12];
        size_t len = random_key(k);
        uintptr_t v = (uintptr_t)rnd() | 1;
        int op = (int)(rnd() % 10);
        if (op < 5) {
            void *old = NULL;
            size_t before = m.n;
            bool isnew = radix_insert(r, k, len, (void *)v, &old);
            model_set(&m, k, len, v);
            TEST_EXPECT(isnew == (m.n > before));
        } else if (op < 9) {
            void *old = NULL;
            size_t i = lower(&m, k, len);
            uintptr_t want = (i < m.n && kcmp(m.a[i].k, m.a[i].len, k, len) == 0) ? m.a[i].v : 0;
            bool had = radix_remove(r, k, len, &old);
            TEST_EXPECT(had == model_del(&m, k, len));
            if (had) TEST_EXPECT((uintptr_t)old == want);
        } else {
            void *got = NULL;
            size_t i = lower(&m, k, len);
            bool in = i < m.n && kcmp(m.a[i].k, m.a[i].len, k, len) == 0;
            TEST_EXPECT(radix_find(r, k, len, &got) == in);
            if (in) TEST_EXPECT((uintptr_t)got == m.a[i].v);
        }
        if (step % 500 == 0) TEST_EXPECT_INT(check_walks(r, &m), 0);
    }
    TEST_EXPECT_INT(check_walks(r, &m), 0);
    /* Remove everything: back to an empty root. */
    while (m.n > 0) {
        TEST_EXPECT(radix_remove(r, m.a[0].k, m.a[0].len, NULL));
        model_del(&m, m.a[0].k, m.a[0].len);
    }
    TEST_EXPECT_INT(radix_size(r), 0);
    TEST_EXPECT_INT(radix_nodes(r), 1);
    TEST_EXPECT_INT(radix_mem(r), empty_mem);
    free(m.a);
    radix_free(r, NULL);
}

/* What a seek must find according to the model, as an index or -1. */
static long expect_seek(const struct model *m, enum radix_seek_op op, const unsigned char *k, size_t len) {
    size_t i = lower(m, k, len);
    bool eq = i < m->n && kcmp(m->a[i].k, m->a[i].len, k, len) == 0;
    switch (op) {
    case RADIX_EQ: return eq ? (long)i : -1;
    case RADIX_GE: return i < m->n ? (long)i : -1;
    case RADIX_GT: i += eq; return i < m->n ? (long)i : -1;
    case RADIX_LE: return eq ? (long)i : (long)i - 1;
    case RADIX_LT: return (long)i - 1;
    default: return -1;
    }
}

TEST(seek_operators) {
    struct radix *r = radix_new();
    struct model m = {0};
    for (int round = 0; round < 40; round++) {
        for (int j = 0; j < 30; j++) {
            unsigned char k[12];
            size_t len = random_key(k);
            uintptr_t v = (uintptr_t)rnd() | 1;
            if (rnd() % 4 == 0) {
                radix_remove(r, k, len, NULL);
                model_del(&m, k, len);
            } else {
                radix_insert(r, k, len, (void *)v, NULL);
                model_set(&m, k, len, v);
            }
        }
        for (int q = 0; q < 200; q++) {
            unsigned char k[12];
            size_t len = random_key(k);
            enum radix_seek_op op = (enum radix_seek_op)(RADIX_EQ + rnd() % 5);
            long want = expect_seek(&m, op, k, len);
            struct radix_iter it;
            radix_iter_init(&it, r);
            bool found = radix_seek(&it, op, k, len);
            TEST_EXPECT(found == (want >= 0));
            if (found && want >= 0) {
                bool forward = rnd() & 1;
                TEST_ASSERT(forward ? radix_next(&it) : radix_prev(&it));
                TEST_EXPECT(same_key(&it, &m.a[want]));
                /* The neighbours follow from there, both ways. */
                if (radix_next(&it)) {
                    TEST_EXPECT((size_t)want + 1 < m.n && same_key(&it, &m.a[want + 1]));
                } else {
                    TEST_EXPECT((size_t)want + 1 == m.n);
                }
            } else {
                TEST_EXPECT(!radix_next(&it));
                TEST_EXPECT(radix_eof(&it));
            }
            radix_iter_release(&it);
        }
    }
    free(m.a);
    radix_free(r, NULL);
}

static void be128(unsigned char out[16], uint64_t ms, uint64_t seq) {
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(ms >> (56 - 8 * i));
    for (int i = 0; i < 8; i++) out[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

TEST(stream_ids_in_order) {
    struct radix *r = radix_new();
    unsigned char k[16];
    uint64_t ms = 1700000000000ULL;
    for (uint64_t i = 0; i < 5000; i++) {
        ms += rnd() % 3;
        be128(k, ms, i);
        TEST_EXPECT(radix_insert(r, k, 16, (void *)(uintptr_t)(i + 1), NULL));
    }
    struct radix_iter it;
    radix_iter_init(&it, r);
    radix_seek(&it, RADIX_FIRST, NULL, 0);
    uint64_t n = 0;
    unsigned char prev[16] = {0};
    while (radix_next(&it)) {
        TEST_EXPECT(it.key_len == 16);
        if (n) TEST_EXPECT(memcmp(prev, it.key, 16) < 0);
        memcpy(prev, it.key, 16);
        TEST_EXPECT((uintptr_t)it.value == n + 1);
        n++;
    }
    TEST_EXPECT_INT(n, 5000);
    /* The master-ID lookup of XRANGE: the last node <= an ID. */
    be128(k, ms + 10, 0);
    TEST_ASSERT(radix_seek(&it, RADIX_LE, k, 16));
    TEST_ASSERT(radix_next(&it));
    TEST_EXPECT((uintptr_t)it.value == 5000);
    radix_iter_release(&it);
    radix_free(r, NULL);
}

static int freed;
static void count_free(void *v) {
    (void)v;
    freed++;
}

TEST(free_calls_back_and_long_keys) {
    struct radix *r = radix_new();
    /* Nested keys "a", "aa", ... make a deep tree; long keys grow the
     * iterator's buffers past their static room. */
    unsigned char k[300];
    memset(k, 'a', sizeof(k));
    for (size_t len = 1; len <= sizeof(k); len++) radix_insert(r, k, len, (void *)(uintptr_t)len, NULL);
    struct radix_iter it;
    radix_iter_init(&it, r);
    size_t want = 1;
    radix_seek(&it, RADIX_FIRST, NULL, 0);
    while (radix_next(&it)) {
        TEST_EXPECT(it.key_len == want);
        want++;
    }
    TEST_EXPECT_INT(want, sizeof(k) + 1);
    TEST_ASSERT(radix_seek(&it, RADIX_LT, k, 150));
    TEST_ASSERT(radix_prev(&it));
    TEST_EXPECT_INT(it.key_len, 149);
    TEST_ASSERT(radix_prev(&it));
    TEST_EXPECT_INT(it.key_len, 148);
    radix_iter_release(&it);
    void *ex = NULL;
    TEST_EXPECT(!radix_try_insert(r, k, 10, (void *)1, &ex));
    TEST_EXPECT((uintptr_t)ex == 10);
    freed = 0;
    radix_free(r, count_free);
    TEST_EXPECT_INT(freed, sizeof(k));
}

TEST(empty_key_and_empty_tree) {
    struct radix *r = radix_new();
    struct radix_iter it;
    radix_iter_init(&it, r);
    TEST_EXPECT(!radix_seek(&it, RADIX_FIRST, NULL, 0));
    TEST_EXPECT(!radix_next(&it));
    TEST_EXPECT(!radix_seek(&it, RADIX_GE, "x", 1));
    TEST_EXPECT(radix_insert(r, "", 0, (void *)7, NULL));
    TEST_EXPECT(radix_insert(r, "b", 1, (void *)8, NULL));
    TEST_ASSERT(radix_seek(&it, RADIX_LT, "a", 1));
    TEST_ASSERT(radix_next(&it));
    TEST_EXPECT(it.key_len == 0 && (uintptr_t)it.value == 7);
    TEST_EXPECT(radix_remove(r, "", 0, NULL));
    TEST_EXPECT(!radix_find(r, "", 0, NULL));
    TEST_EXPECT(radix_find(r, "b", 1, NULL));
    TEST_EXPECT_INT(radix_nodes(r), 1);
    radix_iter_release(&it);
    radix_free(r, NULL);
}

int main(void) { return test_run_all(); }

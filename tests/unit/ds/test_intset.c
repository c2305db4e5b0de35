/* Unit tests of ds/intset: the exact layout, upgrades 16 -> 32 -> 64 bits
 * at both ends, binary search, removal, random values, validation, and a
 * random mix checked against a sorted-array model. */
#include "../test.h"

#include "base/alloc.h"
#include "base/rand.h"
#include "ds/intset.h"

#include <limits.h>
#include <stdint.h>

static uint32_t enc(const struct intset *is) {
    return is->encoding;
}

TEST(layout_and_order) {
    struct intset *is = intset_new();
    TEST_EXPECT_INT(intset_len(is), 0);
    TEST_EXPECT_INT(intset_bytes(is), 8);
    bool added;
    is = intset_add(is, 5, &added);
    TEST_EXPECT(added);
    is = intset_add(is, 6, &added);
    is = intset_add(is, 4, &added);
    is = intset_add(is, 4, &added);
    TEST_EXPECT(!added);
    const unsigned char want[] = {2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 5, 0, 6, 0};
    TEST_EXPECT_INT(intset_bytes(is), sizeof(want));
    TEST_EXPECT(memcmp(is, want, sizeof(want)) == 0);
    TEST_EXPECT(intset_validate((const unsigned char *)is, intset_bytes(is), true));
    intset_free(is);
}

TEST(upgrades) {
    struct intset *is = intset_new();
    is = intset_add(is, 32, NULL);
    TEST_EXPECT_INT(enc(is), INTSET_ENC_16);
    is = intset_add(is, 65535, NULL);
    TEST_EXPECT_INT(enc(is), INTSET_ENC_32);
    TEST_EXPECT(intset_find(is, 32) && intset_find(is, 65535));
    TEST_EXPECT_INT(intset_at(is, 1), 65535);
    is = intset_add(is, -65535, NULL);
    TEST_EXPECT_INT(intset_at(is, 0), -65535);
    is = intset_add(is, 4294967295LL, NULL);
    TEST_EXPECT_INT(enc(is), INTSET_ENC_64);
    is = intset_add(is, LLONG_MIN, NULL);
    TEST_EXPECT_INT(intset_len(is), 5);
    const long long want[] = {LLONG_MIN, -65535, 32, 65535, 4294967295LL};
    for (uint32_t i = 0; i < 5; i++) TEST_EXPECT_INT(intset_at(is, i), want[i]);
    TEST_EXPECT_INT(intset_min(is), LLONG_MIN);
    TEST_EXPECT_INT(intset_max(is), 4294967295LL);
    TEST_EXPECT_INT(intset_bytes(is), 8 + 5 * 8);
    /* No downgrade on removal. */
    bool removed;
    is = intset_remove(is, LLONG_MIN, &removed);
    TEST_EXPECT(removed);
    is = intset_remove(is, 4294967295LL, &removed);
    TEST_EXPECT_INT(enc(is), INTSET_ENC_64);
    TEST_EXPECT(intset_validate((const unsigned char *)is, intset_bytes(is), true));
    intset_free(is);
    /* Upgrade from 16 straight to 64, negative at the front. */
    is = intset_new();
    for (int i = -50; i <= 50; i++) is = intset_add(is, i, NULL);
    is = intset_add(is, LLONG_MIN + 1, NULL);
    TEST_EXPECT_INT(intset_at(is, 0), LLONG_MIN + 1);
    for (int i = -50; i <= 50; i++) TEST_EXPECT_INT(intset_at(is, (uint32_t)(i + 51)), i);
    intset_free(is);
}

TEST(find_remove_edges) {
    struct intset *is = intset_new();
    TEST_EXPECT(!intset_find(is, 0));
    bool removed;
    is = intset_remove(is, 0, &removed);
    TEST_EXPECT(!removed);
    for (int i = 0; i < 1000; i += 2) is = intset_add(is, i, NULL);
    for (int i = 0; i < 1000; i++) TEST_EXPECT(intset_find(is, i) == (i % 2 == 0));
    TEST_EXPECT(!intset_find(is, -1));
    TEST_EXPECT(!intset_find(is, 1LL << 40)); /* wider than the encoding */
    is = intset_remove(is, 1LL << 40, &removed);
    TEST_EXPECT(!removed);
    is = intset_remove(is, 0, &removed);
    TEST_EXPECT(removed);
    is = intset_remove(is, 998, &removed);
    TEST_EXPECT(removed);
    is = intset_remove(is, 500, &removed);
    TEST_EXPECT(removed);
    TEST_EXPECT_INT(intset_len(is), 497);
    int64_t v;
    TEST_EXPECT(intset_get(is, 0, &v) && v == 2);
    TEST_EXPECT(!intset_get(is, 497, &v));
    for (int k = 0; k < 1000; k++) {
        int64_t r = intset_random(is);
        TEST_ASSERT(intset_find(is, r));
    }
    struct intset *d = intset_dup(is);
    TEST_EXPECT(memcmp(d, is, intset_bytes(is)) == 0);
    intset_free(d);
    intset_free(is);
}

static bool validate_copy(const void *b, size_t n, bool deep) {
    unsigned char *c = xmalloc(n ? n : 1);
    memcpy(c, b, n);
    bool ok = intset_validate(c, n, deep);
    xfree(c);
    return ok;
}

TEST(validate) {
    const unsigned char good[] = {2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    TEST_EXPECT(validate_copy(good, sizeof(good), true));
    TEST_EXPECT(!validate_copy(good, 7, false));
    TEST_EXPECT(!validate_copy(good, sizeof(good) - 1, false));
    const unsigned char badenc[] = {3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0};
    TEST_EXPECT(!validate_copy(badenc, sizeof(badenc), false));
    const unsigned char empty[] = {2, 0, 0, 0, 0, 0, 0, 0};
    TEST_EXPECT(!validate_copy(empty, sizeof(empty), false));
    const unsigned char dup[] = {2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0};
    TEST_EXPECT(validate_copy(dup, sizeof(dup), false));
    TEST_EXPECT(!validate_copy(dup, sizeof(dup), true));
    const unsigned char unordered[] = {2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0};
    TEST_EXPECT(!validate_copy(unordered, sizeof(unordered), true));
    const unsigned char hugelen[] = {8, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 0, 0, 0, 0};
    TEST_EXPECT(!validate_copy(hugelen, sizeof(hugelen), true));
    TEST_EXPECT(!intset_validate(NULL, 0, true));
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(random_against_model) {
    rand_seed(99);
    enum { MAXN = 3000 };
    int64_t *model = xmalloc(sizeof(int64_t) * MAXN);
    uint32_t n = 0;
    struct intset *is = intset_new();
    for (int round = 0; round < 30000; round++) {
        int64_t v;
        switch (rand_below(3)) {
        case 0: v = (int64_t)rand_below(2000) - 1000; break;
        case 1: v = (int64_t)rand_below(200000) - 100000; break;
        default: v = (int64_t)rand_u64(); break;
        }
        bool present = false;
        for (uint32_t i = 0; i < n; i++)
            if (model[i] == v) present = true;
        if (rand_below(3) != 0 && n < MAXN) {
            bool added;
            is = intset_add(is, v, &added);
            TEST_ASSERT(added == !present);
            if (!present) model[n++] = v;
        } else {
            bool removed;
            is = intset_remove(is, v, &removed);
            TEST_ASSERT(removed == present);
            if (present) {
                for (uint32_t i = 0; i < n; i++)
                    if (model[i] == v) model[i] = model[--n];
            }
        }
        if (round % 1000 == 0) {
            qsort(model, n, sizeof(model[0]), cmp64);
            TEST_ASSERT(intset_len(is) == n);
            for (uint32_t i = 0; i < n; i++) TEST_ASSERT(intset_at(is, i) == model[i]);
            TEST_ASSERT(n == 0 ||
                        intset_validate((const unsigned char *)is, intset_bytes(is), true));
        }
    }
    xfree(model);
    intset_free(is);
}

int main(void) {
    return test_run_all();
}

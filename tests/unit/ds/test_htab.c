/* Unit tests of ds/htab: find/insert/remove through resizes, scan guarantees,
 * sampling. */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "ds/htab.h"

#include <stdint.h>

struct item {
    struct htab_node node;
    uint64_t key;
    int seen;
};

static uint64_t h64(uint64_t k) { return hash_fnv(&k, sizeof(k)); }
static uint64_t item_hash(const struct htab_node *n) { return h64(((const struct item *)n)->key); }
static bool item_eq(const struct htab_node *n, const void *key) {
    return ((const struct item *)n)->key == *(const uint64_t *)key;
}
static void item_free(struct htab_node *n, void *arg) {
    (*(int *)arg)++;
    xfree(n);
}

static struct item *find(struct htab *h, uint64_t k) {
    struct htab_pos pos;
    if (!htab_find(h, h64(k), item_eq, &k, &pos)) return NULL;
    return (struct item *)*pos.link;
}

static void add(struct htab *h, uint64_t k) {
    struct item *it = xcalloc(1, sizeof(*it));
    it->key = k;
    htab_insert(h, h64(k), &it->node, NULL);
}

static bool del(struct htab *h, uint64_t k) {
    struct htab_pos pos;
    if (!htab_find(h, h64(k), item_eq, &k, &pos)) return false;
    struct htab_node *n = *pos.link;
    htab_remove_at(h, &pos);
    xfree(n);
    return true;
}

TEST(insert_find_remove_through_resizes) {
    struct htab h;
    htab_init(&h, item_hash);
    for (uint64_t k = 0; k < 10000; k++) add(&h, k);
    TEST_EXPECT_INT(htab_count(&h), 10000);
    for (uint64_t k = 0; k < 10000; k++) TEST_EXPECT(find(&h, k) != NULL);
    TEST_EXPECT(find(&h, 10001) == NULL);
    for (uint64_t k = 0; k < 10000; k += 2) TEST_EXPECT(del(&h, k));
    TEST_EXPECT_INT(htab_count(&h), 5000);
    for (uint64_t k = 0; k < 10000; k++) TEST_EXPECT((find(&h, k) != NULL) == (k % 2 == 1));
    /* Shrink: delete almost everything, table must get small again. */
    for (uint64_t k = 1; k < 9990; k += 2) TEST_EXPECT(del(&h, k));
    while (htab_rehash(&h, 100)) {
    }
    htab_shrink_if_needed(&h);
    while (htab_rehash(&h, 100)) {
    }
    TEST_EXPECT_INT(htab_count(&h), 5);
    TEST_EXPECT(htab_buckets(&h) <= 16);
    int freed = 0;
    htab_clear(&h, item_free, &freed);
    TEST_EXPECT_INT(freed, 5);
    TEST_EXPECT_INT(htab_count(&h), 0);
}

struct scan_ctx {
    int visits;
};
static void mark(struct htab_node *n, void *arg) {
    ((struct item *)n)->seen++;
    ((struct scan_ctx *)arg)->visits++;
}

TEST(scan_returns_every_element_across_resizes) {
    struct htab h;
    htab_init(&h, item_hash);
    enum { N = 3000 };
    for (uint64_t k = 0; k < N; k++) add(&h, k);
    struct scan_ctx ctx = {0};
    uint64_t cur = 0;
    int steps = 0;
    do {
        cur = htab_scan(&h, cur, mark, &ctx);
        /* Grow in the middle of the scan (forces a rehash under the cursor). */
        if (++steps == 100)
            for (uint64_t k = N; k < 3 * N; k++) add(&h, k);
    } while (cur != 0);
    for (uint64_t k = 0; k < N; k++) {
        struct item *it = find(&h, k);
        TEST_ASSERT(it != NULL);
        TEST_EXPECT(it->seen >= 1);
    }
    int freed = 0;
    htab_clear(&h, item_free, &freed);
    TEST_EXPECT_INT(freed, 3 * N);
}

TEST(random_and_sample) {
    struct htab h;
    htab_init(&h, item_hash);
    TEST_EXPECT(htab_random(&h) == NULL);
    for (uint64_t k = 0; k < 100; k++) add(&h, k);
    int hits[100] = {0};
    for (int i = 0; i < 10000; i++) {
        struct item *it = (struct item *)htab_random(&h);
        TEST_ASSERT(it != NULL && it->key < 100);
        hits[it->key]++;
    }
    for (int k = 0; k < 100; k++) TEST_EXPECT(hits[k] > 0);
    struct htab_node *out[16];
    TEST_EXPECT_INT(htab_sample(&h, out, 16), 16);
    int freed = 0;
    htab_clear(&h, item_free, &freed);
}

TEST(iterate_all) {
    struct htab h;
    htab_init(&h, item_hash);
    for (uint64_t k = 0; k < 777; k++) add(&h, k);
    struct htab_iter it;
    int n = 0;
    for (struct htab_node *e = htab_first(&h, &it); e; e = htab_next(&h, &it)) n++;
    TEST_EXPECT_INT(n, 777);
    int freed = 0;
    htab_clear(&h, item_free, &freed);
}

TEST(max_load_two_keeps_half_the_buckets) {
    struct htab a, b;
    htab_init(&a, item_hash);
    htab_init(&b, item_hash);
    htab_set_max_load(&b, 2);
    for (uint64_t k = 0; k < 1000; k++) {
        add(&a, k);
        add(&b, k);
    }
    TEST_EXPECT_INT(htab_buckets(&a), 1024);
    TEST_EXPECT_INT(htab_buckets(&b), 512);
    for (uint64_t k = 0; k < 1000; k++) TEST_EXPECT(find(&b, k) != NULL);
    int freed = 0;
    htab_clear(&a, item_free, &freed);
    htab_clear(&b, item_free, &freed);
    TEST_EXPECT_INT(freed, 2000);
}

int main(void) { return test_run_all(); }

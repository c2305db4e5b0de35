/* Unit tests of bench/stash-benchmark/hist: bucket layout, exactness of
 * small values, percentiles within the stated relative error against exact
 * percentiles of sorted samples, merge, clamping. */
#include "../test.h"

#include "hist.h"

#include "base/rand.h"

#include <math.h>

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Exact percentile with the histogram's definition: the value of rank
 * ceil(p% * n) (1-based) in sorted order. */
TEST(rank_definition) {
    TEST_EXPECT_INT(sb_hist_rank(50, 1000), 500);
    TEST_EXPECT_INT(sb_hist_rank(99.9, 1000), 999);
    TEST_EXPECT_INT(sb_hist_rank(99.99, 1000), 1000);
    TEST_EXPECT_INT(sb_hist_rank(0.0001, 1000), 1);
    TEST_EXPECT_INT(sb_hist_rank(100, 7), 7);
    TEST_EXPECT_INT(sb_hist_rank(50, 3), 2);
}

static uint64_t exact_pct(const uint64_t *sorted, size_t n, double p) {
    if (p <= 0) return sorted[0];
    return sorted[sb_hist_rank(p, n) - 1];
}

TEST(init_rejects_bad_arguments) {
    struct sb_hist h;
    TEST_EXPECT(sb_hist_init(&h, 0, 1ULL << 40) < 0);
    TEST_EXPECT(sb_hist_init(&h, 6, 1ULL << 40) < 0);
    TEST_EXPECT(sb_hist_init(&h, 3, 100) < 0); /* below the exact range */
    TEST_ASSERT(sb_hist_init(&h, 3, 1ULL << 40) == 0);
    TEST_EXPECT_INT(h.half, 1024); /* 2^(S-1) >= 10^3 */
    TEST_EXPECT(sb_hist_rel_error(&h) < 0.001);
    sb_hist_free(&h);
}

TEST(buckets_tile_the_range) {
    for (int digits = 1; digits <= 3; digits++) {
        struct sb_hist h;
        TEST_ASSERT(sb_hist_init(&h, digits, 1ULL << 36) == 0);
        uint64_t prev_hi = 0;
        for (uint32_t i = 0; i < h.ncounts; i++) {
            uint64_t lo, hi;
            sb_hist_bucket_range(&h, i, &lo, &hi);
            if (i > 0) TEST_EXPECT_INT(lo, prev_hi + 1);
            TEST_EXPECT(hi >= lo);
            TEST_EXPECT_INT(sb_hist_index(&h, lo), i);
            TEST_EXPECT_INT(sb_hist_index(&h, hi), i);
            /* width relative to the lower end is within the stated error */
            if (lo > 0) TEST_EXPECT((double)(hi - lo) / (double)lo <= sb_hist_rel_error(&h));
            prev_hi = hi;
        }
        TEST_EXPECT(prev_hi >= (1ULL << 36));
        sb_hist_free(&h);
    }
}

TEST(small_values_are_exact) {
    struct sb_hist h;
    TEST_ASSERT(sb_hist_init(&h, 3, 1ULL << 40) == 0);
    for (uint64_t v = 1; v <= 1000; v++) sb_hist_record(&h, v);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 50), 500);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 99), 990);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 99.9), 999);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 100), 1000);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 0), 1);
    TEST_EXPECT(fabs(sb_hist_mean(&h) - 500.5) < 1e-9);
    TEST_EXPECT_INT(h.total, 1000);
    sb_hist_free(&h);
}

TEST(empty_histogram) {
    struct sb_hist h;
    TEST_ASSERT(sb_hist_init(&h, 2, 1ULL << 30) == 0);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 50), 0);
    TEST_EXPECT(sb_hist_mean(&h) == 0);
    sb_hist_free(&h);
}

/* Latency-like samples spread over many decades: 10^2 .. 10^9 ns. */
static void check_distribution(int *test_failed_, int digits, size_t n, uint64_t seed) {
    struct sb_hist h;
    TEST_ASSERT(sb_hist_init(&h, digits, 1ULL << 40) == 0);
    uint64_t *v = malloc(n * sizeof(*v));
    rand_seed(seed);
    for (size_t i = 0; i < n; i++) {
        double e = 2.0 + 7.0 * rand_double() * rand_double(); /* skewed to low values */
        v[i] = (uint64_t)pow(10.0, e);
        sb_hist_record(&h, v[i]);
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    static const double ps[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999};
    double err = sb_hist_rel_error(&h);
    TEST_EXPECT(err <= pow(10.0, -digits));
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        uint64_t want = exact_pct(v, n, ps[i]), got = sb_hist_percentile(&h, ps[i]);
        /* Never below the true value, at most the relative error above it. */
        TEST_EXPECT(got >= want);
        if ((double)(got - want) > err * (double)want) {
            fprintf(stderr, "  digits %d p%g: got %llu want %llu\n", digits, ps[i],
                    (unsigned long long)got, (unsigned long long)want);
            (*test_failed_)++;
        }
    }
    TEST_EXPECT_INT(sb_hist_percentile(&h, 100), v[n - 1]);
    TEST_EXPECT_INT(h.min, v[0]);
    free(v);
    sb_hist_free(&h);
}

TEST(percentiles_within_stated_error) {
    for (int d = 1; d <= 4; d++) check_distribution(test_failed_, d, 200000, 42 + (uint64_t)d);
}

TEST(percentiles_of_a_constant) {
    struct sb_hist h;
    TEST_ASSERT(sb_hist_init(&h, 3, 1ULL << 40) == 0);
    sb_hist_record_n(&h, 123456789, 1000);
    /* Clamped to min/max: exact. */
    TEST_EXPECT_INT(sb_hist_percentile(&h, 50), 123456789);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 99.9), 123456789);
    sb_hist_free(&h);
}

TEST(merge_equals_recording_together) {
    struct sb_hist a, b, all;
    TEST_ASSERT(sb_hist_init(&a, 3, 1ULL << 40) == 0);
    TEST_ASSERT(sb_hist_init(&b, 3, 1ULL << 40) == 0);
    TEST_ASSERT(sb_hist_init(&all, 3, 1ULL << 40) == 0);
    rand_seed(7);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = 1000 + rand_below(10000000);
        sb_hist_record(i % 3 ? &a : &b, v);
        sb_hist_record(&all, v);
    }
    TEST_EXPECT(sb_hist_merge(&a, &b) == 0);
    TEST_EXPECT_INT(a.total, all.total);
    TEST_EXPECT_INT(a.min, all.min);
    TEST_EXPECT_INT(a.max, all.max);
    for (double p = 1; p < 100; p += 7.5)
        TEST_EXPECT_INT(sb_hist_percentile(&a, p), sb_hist_percentile(&all, p));
    struct sb_hist other;
    TEST_ASSERT(sb_hist_init(&other, 2, 1ULL << 40) == 0);
    TEST_EXPECT(sb_hist_merge(&a, &other) < 0); /* different layouts */
    sb_hist_reset(&a);
    TEST_EXPECT_INT(a.total, 0);
    TEST_EXPECT_INT(sb_hist_percentile(&a, 50), 0);
    sb_hist_free(&a);
    sb_hist_free(&b);
    sb_hist_free(&all);
    sb_hist_free(&other);
}

TEST(values_above_highest_are_clamped) {
    struct sb_hist h;
    TEST_ASSERT(sb_hist_init(&h, 2, 1ULL << 20) == 0);
    sb_hist_record(&h, 5);
    sb_hist_record(&h, 1ULL << 30);
    TEST_EXPECT_INT(h.max, 1ULL << 30);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 100), 1ULL << 30);
    TEST_EXPECT_INT(sb_hist_percentile(&h, 99), 1ULL << 30); /* last bucket reports max */
    TEST_EXPECT_INT(sb_hist_percentile(&h, 50), 5);
    sb_hist_free(&h);
}

int main(void) {
    return test_run_all();
}

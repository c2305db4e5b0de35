/* Unit tests of bench/stash-benchmark/keydist: spec parsing, uniform
 * coverage, Zipf frequencies against the exact probabilities, and the
 * scrambling bijection. */
#include "../test.h"

#include "keydist.h"

#include "base/rand.h"

#include <math.h>

TEST(parse_specs) {
    struct sb_keydist d;
    char err[128];
    TEST_EXPECT(sb_keydist_init(&d, "uniform", 10, true, err, sizeof(err)) == 0);
    TEST_EXPECT(d.kind == SB_DIST_UNIFORM);
    TEST_EXPECT(sb_keydist_init(&d, "zipf:0.99", 10, true, err, sizeof(err)) == 0);
    TEST_EXPECT(d.kind == SB_DIST_ZIPF && fabs(d.s - 0.99) < 1e-12);
    TEST_EXPECT(sb_keydist_init(&d, "zipf:", 10, true, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_keydist_init(&d, "zipf:0", 10, true, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_keydist_init(&d, "zipf:-1", 10, true, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_keydist_init(&d, "zipf:1x", 10, true, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_keydist_init(&d, "gauss", 10, true, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_keydist_init(&d, "uniform", 0, true, err, sizeof(err)) < 0);
}

TEST(uniform_covers_evenly) {
    struct sb_keydist d;
    char err[128];
    TEST_ASSERT(sb_keydist_init(&d, "uniform", 10, true, err, sizeof(err)) == 0);
    rand_seed(1);
    int count[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t k = sb_keydist_next(&d);
        TEST_ASSERT(k < 10);
        count[k]++;
    }
    for (int i = 0; i < 10; i++) TEST_EXPECT(count[i] > 9500 && count[i] < 10500);
}

/* Frequencies of the first ranks vs the exact Zipf probabilities. */
static void check_zipf(int *test_failed_, double s, uint64_t n) {
    struct sb_keydist d;
    char err[128], spec[32];
    snprintf(spec, sizeof(spec), "zipf:%g", s);
    TEST_ASSERT(sb_keydist_init(&d, spec, n, false, err, sizeof(err)) == 0);
    double norm = 0;
    for (uint64_t k = 1; k <= n; k++) norm += pow((double)k, -s);
    enum { SAMPLES = 400000 };
    static uint32_t count[1001];
    memset(count, 0, sizeof(count));
    rand_seed(99);
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t k = sb_keydist_next(&d);
        TEST_ASSERT(k < n);
        if (k < 1000) count[k]++;
    }
    for (uint64_t k = 1; k <= 5; k++) {
        double want = SAMPLES * pow((double)k, -s) / norm;
        double got = count[k - 1];
        /* 5 standard deviations of a binomial count, plus 1% */
        double tol = 5 * sqrt(want) + 0.01 * want;
        if (fabs(got - want) > tol) {
            fprintf(stderr, "  zipf s=%g rank %llu: got %.0f want %.0f\n", s, (unsigned long long)k,
                    got, want);
            (*test_failed_)++;
        }
    }
}

TEST(zipf_matches_probabilities) {
    check_zipf(test_failed_, 0.5, 1000);
    check_zipf(test_failed_, 0.99, 1000);
    check_zipf(test_failed_, 1.0, 100000);
    check_zipf(test_failed_, 1.5, 1000);
    check_zipf(test_failed_, 3.0, 50);
}

TEST(zipf_single_key) {
    struct sb_keydist d;
    char err[128];
    TEST_ASSERT(sb_keydist_init(&d, "zipf:1", 1, true, err, sizeof(err)) == 0);
    for (int i = 0; i < 100; i++) TEST_EXPECT_INT(sb_keydist_next(&d), 0);
}

TEST(scramble_is_a_bijection_that_moves_the_hot_key) {
    struct sb_keydist d;
    char err[128];
    const uint64_t n = 1000;
    TEST_ASSERT(sb_keydist_init(&d, "zipf:1.2", n, true, err, sizeof(err)) == 0);
    TEST_EXPECT(d.scramble);
    static unsigned char seen[1000];
    for (uint64_t r = 0; r < n; r++) {
        uint64_t k = (uint64_t)(((unsigned __int128)r * d.mul + d.add) % n);
        TEST_EXPECT(!seen[k]);
        seen[k] = 1;
    }
    /* The hottest key is the image of rank 1, not key 0. */
    static uint32_t count[1000];
    rand_seed(5);
    for (int i = 0; i < 100000; i++) count[sb_keydist_next(&d)]++;
    uint64_t hot = 0;
    for (uint64_t k = 1; k < n; k++)
        if (count[k] > count[hot]) hot = k;
    TEST_EXPECT_INT(hot, d.add);
    TEST_EXPECT(hot != 0);
}

int main(void) {
    return test_run_all();
}

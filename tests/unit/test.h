/*
 * tests/unit/test.h - the tiny unit-test runner.
 *
 *   TEST(name) { ... TEST_EXPECT(cond); TEST_ASSERT(cond); ... }
 *   int main(void) { return test_run_all(); }
 *
 * TEST_EXPECT records a failure and goes on; TEST_ASSERT records it and
 * leaves the test. Tests register themselves through a constructor, so a
 * test file is only its tests and a main that calls test_run_all().
 */
#ifndef STASH_TEST_H
#define STASH_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(int *failed);

struct test_case {
    const char *name;
    test_fn fn;
};

#define TEST_MAX 256
static struct test_case test_cases[TEST_MAX];
static int test_count;

#define TEST(name)                                                                                 \
    static void test_##name(int *test_failed_);                                                    \
    __attribute__((constructor)) static void register_##name(void) {                               \
        if (test_count < TEST_MAX) test_cases[test_count++] = (struct test_case){#name, test_##name}; \
    }                                                                                              \
    static void test_##name(int *test_failed_)

#define TEST_EXPECT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: expected %s\n", __FILE__, __LINE__, #cond);                  \
            (*test_failed_)++;                                                                     \
        }                                                                                          \
    } while (0)

#define TEST_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: assertion %s failed\n", __FILE__, __LINE__, #cond);          \
            (*test_failed_)++;                                                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TEST_EXPECT_STR(got, want)                                                                 \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (strcmp(g_, w_) != 0) {                                                                 \
            fprintf(stderr, "  %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_, w_);     \
            (*test_failed_)++;                                                                     \
        }                                                                                          \
    } while (0)

#define TEST_EXPECT_INT(got, want)                                                                 \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_) {                                                                            \
            fprintf(stderr, "  %s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_);  \
            (*test_failed_)++;                                                                     \
        }                                                                                          \
    } while (0)

static inline int test_run_all(void) {
    int failed_tests = 0;
    const char *only = getenv("TEST_ONLY");
    for (int i = 0; i < test_count; i++) {
        if (only && strcmp(only, test_cases[i].name) != 0) continue;
        int failed = 0;
        test_cases[i].fn(&failed);
        printf("[%s] %s\n", failed ? "FAIL" : "ok", test_cases[i].name);
        if (failed) failed_tests++;
    }
    printf("%d passed, %d failed\n", test_count - failed_tests, failed_tests);
    return failed_tests ? 1 : 0;
}

#endif

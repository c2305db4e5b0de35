/* Unit tests of base/str: Redis's number and glob rules. */
#include "../test.h"

#include "base/str.h"

#include <limits.h>
#include <math.h>

static int ll_ok(const char *s, long long *v) { return str_to_ll(s, strlen(s), v); }

TEST(str_to_ll_accepts_canonical) {
    long long v = 0;
    TEST_EXPECT(ll_ok("0", &v) && v == 0);
    TEST_EXPECT(ll_ok("-1", &v) && v == -1);
    TEST_EXPECT(ll_ok("9223372036854775807", &v) && v == LLONG_MAX);
    TEST_EXPECT(ll_ok("-9223372036854775808", &v) && v == LLONG_MIN);
}

TEST(str_to_ll_rejects_noncanonical) {
    long long v;
    const char *bad[] = {"", "-", "+1", " 1", "1 ", "01", "-0", "9223372036854775808",
                         "-9223372036854775809", "1a", "0x10", "1.0", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) TEST_EXPECT(!ll_ok(bad[i], &v));
}

TEST(ll_to_str_roundtrip) {
    char buf[STR_LL_MAX];
    long long vals[] = {0, 1, -1, 9, 10, 99, 100, 12345, -98765, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int n = ll_to_str(buf, sizeof(buf), vals[i]);
        long long back;
        TEST_EXPECT(n > 0 && (size_t)n == strlen(buf));
        TEST_EXPECT(str_to_ll(buf, (size_t)n, &back) && back == vals[i]);
    }
    TEST_EXPECT(ll_to_str(buf, 3, 12345) == 0);
}

TEST(doubles) {
    double d;
    TEST_EXPECT(str_to_d("1.5", 3, &d) && d == 1.5);
    TEST_EXPECT(str_to_d("1e3", 3, &d) && d == 1000);
    TEST_EXPECT(str_to_d("inf", 3, &d) && isinf(d));
    TEST_EXPECT(!str_to_d("nan", 3, &d));
    TEST_EXPECT(!str_to_d(" 1", 2, &d));
    TEST_EXPECT(!str_to_d("1x", 2, &d));
    TEST_EXPECT(!str_to_d("1e999", 5, &d));
    char buf[STR_D_MAX];
    d_to_str(buf, sizeof(buf), 3.0);
    TEST_EXPECT_STR(buf, "3");
    d_to_str(buf, sizeof(buf), -0.0);
    TEST_EXPECT_STR(buf, "-0");
    d_to_str(buf, sizeof(buf), 1.5);
    TEST_EXPECT_STR(buf, "1.5");
    d_to_str(buf, sizeof(buf), 0.1);
    TEST_EXPECT_STR(buf, "0.10000000000000001");
    char lb[STR_LD_MAX];
    ld_to_str_human(lb, sizeof(lb), 10.5L);
    TEST_EXPECT_STR(lb, "10.5");
    ld_to_str_human(lb, sizeof(lb), 3.0e3L);
    TEST_EXPECT_STR(lb, "3000");
    ld_to_str_human(lb, sizeof(lb), -0.0L);
    TEST_EXPECT_STR(lb, "0");
}

static int gm(const char *p, const char *s) { return glob_match(p, strlen(p), s, strlen(s), false); }

TEST(glob) {
    TEST_EXPECT(gm("*", "anything"));
    TEST_EXPECT(!gm("*", ""));
    TEST_EXPECT(gm("", ""));
    TEST_EXPECT(gm("h?llo", "hello"));
    TEST_EXPECT(!gm("h?llo", "hllo"));
    TEST_EXPECT(gm("h*llo", "heeeello"));
    TEST_EXPECT(gm("h[ae]llo", "hallo"));
    TEST_EXPECT(!gm("h[ae]llo", "hillo"));
    TEST_EXPECT(gm("h[^e]llo", "hallo"));
    TEST_EXPECT(!gm("h[^e]llo", "hello"));
    TEST_EXPECT(gm("h[a-b]llo", "hbllo"));
    TEST_EXPECT(gm("h[b-a]llo", "hallo"));
    TEST_EXPECT(gm("a\\*b", "a*b"));
    TEST_EXPECT(!gm("a\\*b", "axb"));
    TEST_EXPECT(gm("*a*b*c*", "xxaxxbxxcxx"));
    TEST_EXPECT(!gm("*a*b*c*", "xxaxxcxxbxx"));
    TEST_EXPECT(gm("foo*", "foo"));
    TEST_EXPECT(gm("[abc", "a"));
    TEST_EXPECT(glob_match("HELLO", 5, "hello", 5, true));
    /* Pathological pattern must finish quickly. */
    char s[200];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    TEST_EXPECT(!gm("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
}

TEST(memsize) {
    long long v;
    TEST_EXPECT(str_to_memsize("100mb", 5, &v) && v == 100LL * 1024 * 1024);
    TEST_EXPECT(str_to_memsize("1GB", 3, &v) && v == 1024LL * 1024 * 1024);
    TEST_EXPECT(str_to_memsize("2k", 2, &v) && v == 2000);
    TEST_EXPECT(str_to_memsize("512", 3, &v) && v == 512);
    TEST_EXPECT(!str_to_memsize("12xb", 4, &v));
}

int main(void) { return test_run_all(); }

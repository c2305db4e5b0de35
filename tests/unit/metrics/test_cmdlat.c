/*
 * tests/unit/metrics/test_cmdlat.c - latency histograms: the numbers must
 * be those Redis 7.0 (HdrHistogram, 2 significant figures) prints.
 */
#include "metrics/cmdlat.h"
#include "../test.h"

#include <pthread.h>

static uint64_t counts[CMDLAT_COUNTS];

static int line_is(int id, const char *want) {
    uint64_t total = cmdlat_merge(id, counts);
    struct buf b = BUF_INIT;
    cmdlat_info_line(&b, "x", counts, total);
    buf_putc(&b, '\0');
    int ok = strcmp(b.data, want) == 0;
    if (!ok) fprintf(stderr, "  got %s", b.data);
    buf_free(&b);
    return ok;
}

TEST(single_values_report_bucket_high_ends) {
    cmdlat_record(1, 1);
    TEST_EXPECT(line_is(1, "latency_percentiles_usec_x:p50=1.003,p99=1.003,p99.9=1.003\r\n"));
    cmdlat_record(2, 8);
    TEST_EXPECT(line_is(2, "latency_percentiles_usec_x:p50=8.031,p99=8.031,p99.9=8.031\r\n"));
    cmdlat_record(3, 44);
    TEST_EXPECT(line_is(3, "latency_percentiles_usec_x:p50=44.031,p99=44.031,p99.9=44.031\r\n"));
    cmdlat_record(4, 0); /* clamped to 1 ns */
    TEST_EXPECT(line_is(4, "latency_percentiles_usec_x:p50=0.001,p99=0.001,p99.9=0.001\r\n"));
    cmdlat_record(5, 5000000); /* above 1 s: clamped */
    TEST_EXPECT(line_is(5, "latency_percentiles_usec_x:p50=1002438.655,p99=1002438.655,p99.9=1002438.655\r\n"));
}

TEST(percentiles_of_a_spread) {
    for (int us = 1; us <= 100; us++) cmdlat_record(10, us);
    TEST_EXPECT(cmdlat_merge(10, counts) == 100);
    TEST_EXPECT(line_is(10, "latency_percentiles_usec_x:p50=50.175,p99=99.327,p99.9=100.351\r\n"));
}

static void pair(long long usec, long long cum, void *arg) {
    struct buf *b = arg;
    buf_printf(b, "%lld:%lld ", usec, cum);
}

TEST(cdf_is_cumulative_by_power_of_two) {
    cmdlat_record(20, 1);
    cmdlat_record(20, 3);
    cmdlat_record(20, 3);
    cmdlat_record(20, 40);
    uint64_t total = cmdlat_merge(20, counts);
    struct buf b = BUF_INIT;
    int n = cmdlat_cdf(counts, total, pair, &b);
    buf_putc(&b, '\0');
    TEST_EXPECT(n == 3);
    TEST_EXPECT(strcmp(b.data, "1:1 4:3 66:4 ") == 0);
    buf_free(&b);
}

static void *record_many(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) cmdlat_record(30, 2);
    return NULL;
}

TEST(threads_are_summed_and_reset) {
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, record_many, NULL);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    record_many(NULL);
    TEST_EXPECT(cmdlat_merge(30, counts) == 4000);
    cmdlat_reset();
    TEST_EXPECT(cmdlat_merge(30, counts) == 0);
    TEST_EXPECT(cmdlat_merge(1, counts) == 0);
    cmdlat_record(30, 2);
    TEST_EXPECT(cmdlat_merge(30, counts) == 1);
    TEST_EXPECT(cmdlat_merge(999, counts) == 0);
}

int main(void) {
    int rc = test_run_all();
    cmdlat_teardown();
    return rc;
}

/*
 * bench/stash-benchmark/hist.h - an HDR-style latency histogram.
 *
 * Log-linear buckets: a histogram with S sub-bucket bits keeps every value
 * below 2^S exactly; above it, each power of two [2^e, 2^(e+1)) is split into
 * 2^(S-1) equal buckets. A value v >= 2^S with top bit e falls in a bucket of
 * width 2^k (k = e - S + 1) whose lower end is >= 2^(S-1) * 2^k, so any value
 * reported for that bucket is within a relative error of 1 / 2^(S-1).
 *
 *   index:  0 .. 2^S-1      2^S .. 2^S+half-1   next half ...
 *   value:  exact           [2^S, 2^(S+1)) by 2  [2^(S+1), 2^(S+2)) by 4 ...
 *
 * `digits` (1..5) picks S as the smallest with 2^(S-1) >= 10^digits, so the
 * relative error of every percentile is below 10^-digits (3 digits: 0.1%,
 * 32 Ki counters = 256 KiB for a range up to 2^40 ns, about 18 minutes).
 *
 * Percentiles report the highest value equivalent to the bucket holding the
 * requested rank (never below the true value, at most the relative error
 * above it), clamped to the exact min and max seen. `highest` is rounded up
 * to 2^k - 1; values above it are counted in the last bucket (reported as
 * the exact max).
 *
 * Conventions: sb_hist_ prefix; the owner thread records, merging happens
 * after the recording threads are joined. Thread context: the owner only.
 */
#ifndef STASH_BENCH_HIST_H
#define STASH_BENCH_HIST_H

#include <stdbool.h>
#include <stdint.h>

struct sb_hist {
    int sub_bits;  /* S */
    uint32_t half; /* 2^(S-1) */
    uint32_t ncounts;
    uint64_t highest; /* largest value with its own bucket */
    uint64_t *counts;
    uint64_t total;
    uint64_t min;
    uint64_t max;
    long double sum;
};

/* Set up for `digits` significant decimal digits (1..5) and values up to
 * `highest` (>= 2^S). Returns 0, or -1 on a bad argument. */
int sb_hist_init(struct sb_hist *h, int digits, uint64_t highest);
void sb_hist_free(struct sb_hist *h);
void sb_hist_reset(struct sb_hist *h);

void sb_hist_record_n(struct sb_hist *h, uint64_t v, uint64_t n);
static inline void sb_hist_record(struct sb_hist *h, uint64_t v) {
    sb_hist_record_n(h, v, 1);
}

/* Add src's counts into dst; both must have the same configuration.
 * Returns 0 or -1 when the configurations differ. */
int sb_hist_merge(struct sb_hist *dst, const struct sb_hist *src);

/* The value at percentile p (0..100): the smallest recorded value v such that
 * at least p% of the values are <= v, up to the relative error. 0 if empty. */
uint64_t sb_hist_percentile(const struct sb_hist *h, double p);
/* The 1-based rank of percentile p among total values: ceil(p% * total),
 * within [1, total] (total > 0). */
uint64_t sb_hist_rank(double p, uint64_t total);
double sb_hist_mean(const struct sb_hist *h);
/* Upper bound of the relative error of a reported value: 1 / 2^(S-1). */
double sb_hist_rel_error(const struct sb_hist *h);

/* Bucket index of v, and the value range [lo, hi] of bucket i (tests). */
uint32_t sb_hist_index(const struct sb_hist *h, uint64_t v);
void sb_hist_bucket_range(const struct sb_hist *h, uint32_t i, uint64_t *lo, uint64_t *hi);

#endif

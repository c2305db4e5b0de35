/*
 * bench/stash-benchmark/hist.c - log-linear latency histogram (see hist.h
 * for the bucket layout and its error bound).
 *
 * Index of v >= 2^S: with e = msb(v), k = e - (S - 1) >= 1 and the mantissa
 * m = v >> k in [half, 2^S), index = 2^S + (k - 1) * half + (m - half).
 * Everything is O(1) except percentile (O(buckets)) and merge.
 */
#include "hist.h"

#include "base/alloc.h"

#include <string.h>

static int msb64(uint64_t v) {
    return 63 - __builtin_clzll(v);
}

int sb_hist_init(struct sb_hist *h, int digits, uint64_t highest) {
    memset(h, 0, sizeof(*h));
    if (digits < 1 || digits > 5) return -1;
    uint64_t need = 1;
    for (int i = 0; i < digits; i++) need *= 10;
    int s = 1;
    while ((1ULL << (s - 1)) < need) s++;
    if (highest < (1ULL << s) || msb64(highest) >= 62) return -1;
    h->sub_bits = s;
    h->half = 1U << (s - 1);
    /* Round up to the end of its power of two, so the last level is whole
     * and the clamped values land in the very last bucket. */
    h->highest = (1ULL << (msb64(highest) + 1)) - 1;
    int kmax = msb64(highest) - (s - 1);
    h->ncounts = (1U << s) + (uint32_t)kmax * h->half;
    h->counts = xcalloc(h->ncounts, sizeof(uint64_t));
    h->min = UINT64_MAX;
    return 0;
}

void sb_hist_free(struct sb_hist *h) {
    xfree(h->counts);
    h->counts = NULL;
}

void sb_hist_reset(struct sb_hist *h) {
    memset(h->counts, 0, h->ncounts * sizeof(uint64_t));
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
}

uint32_t sb_hist_index(const struct sb_hist *h, uint64_t v) {
    if (v > h->highest) v = h->highest;
    if (v < (1ULL << h->sub_bits)) return (uint32_t)v;
    int k = msb64(v) - (h->sub_bits - 1);
    uint64_t m = v >> k;
    return (1U << h->sub_bits) + (uint32_t)(k - 1) * h->half + (uint32_t)(m - h->half);
}

void sb_hist_bucket_range(const struct sb_hist *h, uint32_t i, uint64_t *lo, uint64_t *hi) {
    if (i < (1U << h->sub_bits)) {
        *lo = *hi = i;
        return;
    }
    uint32_t j = i - (1U << h->sub_bits);
    int k = (int)(j / h->half) + 1;
    uint64_t m = j % h->half + h->half;
    *lo = m << k;
    *hi = ((m + 1) << k) - 1;
}

void sb_hist_record_n(struct sb_hist *h, uint64_t v, uint64_t n) {
    if (n == 0) return;
    h->counts[sb_hist_index(h, v)] += n;
    h->total += n;
    h->sum += (long double)v * (long double)n;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

int sb_hist_merge(struct sb_hist *dst, const struct sb_hist *src) {
    if (dst->sub_bits != src->sub_bits || dst->ncounts != src->ncounts) return -1;
    if (src->total == 0) return 0;
    for (uint32_t i = 0; i < dst->ncounts; i++) dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    return 0;
}

uint64_t sb_hist_rank(double p, uint64_t total) {
    /* ceil(p% of total), at least 1; a relative slack of 1e-12 keeps
     * 99.9% of 1000 at 999 despite 99.9 having no exact binary form. */
    long double exact = (long double)p / 100.0L * (long double)total;
    uint64_t rank = (uint64_t)exact;
    if (exact - (long double)rank > 1e-12L * (exact > 1 ? exact : 1)) rank++;
    if (rank == 0) rank = 1;
    if (rank > total) rank = total;
    return rank;
}

uint64_t sb_hist_percentile(const struct sb_hist *h, double p) {
    if (h->total == 0) return 0;
    if (p <= 0) return h->min;
    if (p >= 100) return h->max;
    uint64_t rank = sb_hist_rank(p, h->total);
    uint64_t seen = 0;
    for (uint32_t i = 0; i < h->ncounts; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            if (i == h->ncounts - 1) return h->max; /* holds the clamped values */
            uint64_t lo, hi;
            sb_hist_bucket_range(h, i, &lo, &hi);
            if (hi > h->max) hi = h->max;
            if (hi < h->min) hi = h->min;
            return hi;
        }
    }
    return h->max;
}

double sb_hist_mean(const struct sb_hist *h) {
    return h->total ? (double)(h->sum / (long double)h->total) : 0.0;
}

double sb_hist_rel_error(const struct sb_hist *h) {
    return 1.0 / (double)h->half;
}

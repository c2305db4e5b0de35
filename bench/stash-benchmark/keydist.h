/*
 * bench/stash-benchmark/keydist.h - which key a request uses: key indexes in
 * [0, n) drawn uniformly or from a Zipf distribution.
 *
 * Zipf(s): rank r in 1..n has probability proportional to r^-s (s > 0; s near
 * 1 is the classic cache workload). Sampling is O(1) expected by
 * rejection-inversion (Hörmann and Derflinger, "Rejection-inversion to
 * generate variates from monotone discrete distributions", 1996): invert the
 * integral of the continuous density x^-s around each integer, accept the
 * rounded rank when it lies under the discrete mass. The rejection loop is
 * bounded (its acceptance rate is above 90% for every s and n).
 *
 * By default a rank is mapped to a key index by a fixed bijection
 * (r * mul + add) mod n, so the hottest keys are spread over the key space
 * (and over hash slots) instead of being key:0, key:1, ...; `scramble` false
 * keeps index = rank - 1 (tests).
 *
 * Random numbers come from base/rand (per-thread xoshiro256**).
 * Thread context: [any]; a keydist is read-only after init.
 */
#ifndef STASH_BENCH_KEYDIST_H
#define STASH_BENCH_KEYDIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sb_dist_kind { SB_DIST_UNIFORM, SB_DIST_ZIPF };

struct sb_keydist {
    enum sb_dist_kind kind;
    uint64_t n;
    double s;
    /* Zipf constants (see keydist.c). */
    double h_x1;
    double h_n;
    double s_const;
    bool scramble;
    uint64_t mul;
    uint64_t add;
};

/* Parse "uniform" or "zipf:<s>" (s in (0, 10]) for a key space of n >= 1
 * keys. Returns 0, or -1 with a message in err. */
int sb_keydist_init(struct sb_keydist *d, const char *spec, uint64_t n, bool scramble, char *err,
                    size_t errlen);

/* One key index in [0, n). */
uint64_t sb_keydist_next(const struct sb_keydist *d);

/* Zipf rank in [1, n] before scrambling (tests). */
uint64_t sb_zipf_rank(const struct sb_keydist *d);

#endif

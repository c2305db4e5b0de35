/*
 * bench/stash-benchmark/keydist.c - uniform and Zipf key indexes.
 *
 * Zipf by rejection-inversion. With h(x) = x^-s and its integral
 *   H(x) = (x^(1-s) - 1) / (1 - s)          (log x when s = 1),
 *   H^-1(y) = (1 + (1 - s) y)^(1 / (1 - s))  (e^y when s = 1),
 * draw u uniformly in (H(1.5) - h(1), H(n + 0.5)], x = H^-1(u), k = round(x).
 * Accept k when x is close enough to it (k - x <= s_const, a bound that makes
 * the test exact for k >= 2) or when u >= H(k + 0.5) - h(k), i.e. u falls
 * inside the part of [H(k - 0.5), H(k + 0.5)] that has the mass h(k).
 * Both forms are evaluated through log1p/expm1 helpers so s near 1 is
 * accurate.
 */
#include "keydist.h"

#include "base/rand.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* log1p(t) / t, continuous at 0. */
static double log1p_over(double t) {
    if (fabs(t) > 1e-8) return log1p(t) / t;
    return 1.0 - t * (0.5 - t * (1.0 / 3.0 - 0.25 * t));
}

/* expm1(t) / t, continuous at 0. */
static double expm1_over(double t) {
    if (fabs(t) > 1e-8) return expm1(t) / t;
    return 1.0 + t * 0.5 * (1.0 + t / 3.0 * (1.0 + 0.25 * t));
}

static double zh(const struct sb_keydist *d, double x) {
    return exp(-d->s * log(x));
}

static double zH(const struct sb_keydist *d, double x) {
    double lx = log(x);
    return expm1_over((1.0 - d->s) * lx) * lx;
}

static double zHinv(const struct sb_keydist *d, double y) {
    double t = y * (1.0 - d->s);
    if (t < -1.0) t = -1.0; /* rounding at the lower end */
    return exp(log1p_over(t) * y);
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int sb_keydist_init(struct sb_keydist *d, const char *spec, uint64_t n, bool scramble, char *err,
                    size_t errlen) {
    memset(d, 0, sizeof(*d));
    if (n == 0) {
        snprintf(err, errlen, "the key space must have at least one key");
        return -1;
    }
    d->n = n;
    if (strcmp(spec, "uniform") == 0) {
        d->kind = SB_DIST_UNIFORM;
    } else if (strncmp(spec, "zipf:", 5) == 0) {
        char *end;
        double s = strtod(spec + 5, &end);
        if (end == spec + 5 || *end || !(s > 0.0) || s > 10.0) {
            snprintf(err, errlen, "bad Zipf exponent in '%s' (want zipf:<s>, 0 < s <= 10)", spec);
            return -1;
        }
        d->kind = SB_DIST_ZIPF;
        d->s = s;
        d->h_x1 = zH(d, 1.5) - 1.0;
        d->h_n = zH(d, (double)n + 0.5);
        d->s_const = 2.0 - zHinv(d, zH(d, 2.5) - zh(d, 2.0));
    } else {
        snprintf(err, errlen, "unknown distribution '%s' (uniform or zipf:<s>)", spec);
        return -1;
    }
    d->scramble = scramble && n > 1 && d->kind == SB_DIST_ZIPF; /* uniform needs none */
    if (d->scramble) {
        d->mul = (0x9E3779B97F4A7C15ULL % n) | 1;
        for (int i = 0; i < 1000 && gcd64(d->mul, n) != 1; i++) d->mul++;
        if (gcd64(d->mul, n) != 1) d->mul = 1;
        d->add = 0x632BE59BD9B4E019ULL % n;
    }
    return 0;
}

uint64_t sb_zipf_rank(const struct sb_keydist *d) {
    uint64_t k = 1;
    /* Acceptance is above 90%: 64 rounds fail with probability < 1e-60. */
    for (int round = 0; round < 64; round++) {
        double u = d->h_n + rand_double() * (d->h_x1 - d->h_n);
        double x = zHinv(d, u);
        double kr = floor(x + 0.5);
        if (kr < 1.0) kr = 1.0;
        if (kr > (double)d->n) kr = (double)d->n;
        k = (uint64_t)kr;
        if (kr - x <= d->s_const || u >= zH(d, kr + 0.5) - zh(d, kr)) return k;
    }
    return k;
}

uint64_t sb_keydist_next(const struct sb_keydist *d) {
    uint64_t r;
    if (d->kind == SB_DIST_UNIFORM)
        r = rand_below(d->n);
    else
        r = sb_zipf_rank(d) - 1;
    if (!d->scramble) return r;
    return (uint64_t)(((unsigned __int128)r * d->mul + d->add) % d->n);
}

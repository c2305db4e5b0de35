/*
 * base/rand.c - xoshiro256** (public-domain algorithm by Blackman and Vigna),
 * one state per thread, seeded with splitmix64 from getrandom(2).
 */
#include "base/rand.h"

#include <sys/random.h>
#include <time.h>

static __thread uint64_t st[4];
static __thread int seeded;

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rand_seed(uint64_t seed) {
    for (int i = 0; i < 4; i++) st[i] = splitmix(&seed);
    seeded = 1;
}

static void seed_from_os(void) {
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&seed;
    }
    rand_seed(seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rand_u64(void) {
    if (__builtin_expect(!seeded, 0)) seed_from_os();
    uint64_t result = rotl(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return result;
}

uint64_t rand_below(uint64_t n) {
    /* Lemire's multiply-shift; the tiny bias is irrelevant for sampling. */
    return (uint64_t)(((unsigned __int128)rand_u64() * n) >> 64);
}

double rand_double(void) { return (double)(rand_u64() >> 11) * 0x1.0p-53; }

/*
 * base/rand.h - fast per-thread pseudo-random numbers (xoshiro256**), seeded
 * from the OS. Not for secrets: use libsodium's randombytes for those.
 * Thread context: [any]; each thread has its own state, seeded on first use.
 */
#ifndef STASH_BASE_RAND_H
#define STASH_BASE_RAND_H

#include <stdint.h>

uint64_t rand_u64(void);
/* Uniform in [0, n); n > 0. */
uint64_t rand_below(uint64_t n);
/* Uniform in [0, 1). */
double rand_double(void);
/* Reseed the calling thread (tests). */
void rand_seed(uint64_t seed);

#endif

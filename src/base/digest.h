/*
 * base/digest.h - the dataset digests of DEBUG DIGEST and DEBUG DIGEST-VALUE.
 *
 * A digest is 20 bytes built from SHA-1 (OpenSSL's libcrypto) in the two
 * ways Redis 7.0 defines, so that the same data gives the same digest on
 * Stash and on Redis (an operator can compare a Stash replica with a Redis
 * primary):
 *
 *   digest_xor(d, p, n):  d ^= SHA1(p[0..n))           order-independent
 *   digest_mix(d, p, n):  d = SHA1(d ^ SHA1(p[0..n)))  order-dependent
 *
 * A key's digest starts at zero, mixes the key name, the value's type as a
 * big-endian u32, then the value (strings: mix the text; ordered elements:
 * mix each; unordered elements: xor each element's own digest), and xors
 * "!!expire!!" when the key has a TTL. The dataset digest mixes each
 * non-empty database's index (big-endian u32) and xors the key digests.
 *
 * Thread context: [any]; no state.
 */
#ifndef STASH_BASE_DIGEST_H
#define STASH_BASE_DIGEST_H

#include <stddef.h>

#define DIGEST_LEN 20

void digest_xor(unsigned char d[DIGEST_LEN], const void *p, size_t n);
void digest_mix(unsigned char d[DIGEST_LEN], const void *p, size_t n);
/* Lower-case hex of d into out (41 bytes with the NUL). */
void digest_hex(const unsigned char d[DIGEST_LEN], char out[2 * DIGEST_LEN + 1]);

#endif

/*
 * base/digest.c - see digest.h.
 */
#include "base/digest.h"

#include <openssl/sha.h>

void digest_xor(unsigned char d[DIGEST_LEN], const void *p, size_t n) {
    unsigned char h[SHA_DIGEST_LENGTH];
    SHA1(p, n, h);
    for (int i = 0; i < DIGEST_LEN; i++) d[i] ^= h[i];
}

void digest_mix(unsigned char d[DIGEST_LEN], const void *p, size_t n) {
    digest_xor(d, p, n);
    unsigned char h[SHA_DIGEST_LENGTH];
    SHA1(d, DIGEST_LEN, h);
    for (int i = 0; i < DIGEST_LEN; i++) d[i] = h[i];
}

void digest_hex(const unsigned char d[DIGEST_LEN], char out[2 * DIGEST_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * DIGEST_LEN] = '\0';
}

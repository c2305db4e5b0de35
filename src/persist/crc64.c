/*
 * persist/crc64.c - slice-by-8 CRC-64/Jones (see crc64.h).
 *
 * Table k maps a byte to the CRC contribution of that byte followed by k
 * zero bytes, so eight input bytes fold into the register with eight
 * lookups. Little-endian hosts only (the loads below assume it; Stash
 * builds for x86-64 and arm64 Linux).
 */
#include "persist/crc64.h"

#include <pthread.h>
#include <string.h>

#define POLY_REFLECTED 0x95ac9329ac4bc9b5ULL /* 0xad93d23594c935a9 bit-reversed */

static uint64_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void) {
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int b = 0; b < 8; b++) c = (c & 1) ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
        tab[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++) tab[k][i] = (tab[k - 1][i] >> 8) ^ tab[0][tab[k - 1][i] & 0xff];
}

uint64_t crc64(uint64_t crc, const void *data, size_t n) {
    pthread_once(&tab_once, tab_init);
    const unsigned char *p = data;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        crc ^= v;
        crc = tab[7][crc & 0xff] ^ tab[6][(crc >> 8) & 0xff] ^ tab[5][(crc >> 16) & 0xff] ^
              tab[4][(crc >> 24) & 0xff] ^ tab[3][(crc >> 32) & 0xff] ^ tab[2][(crc >> 40) & 0xff] ^
              tab[1][(crc >> 48) & 0xff] ^ tab[0][crc >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/*
 * base/hash.h - hash functions.
 *
 * hash_keyed: SipHash-2-4 from libsodium with a random 128-bit key drawn at
 *   process start (hash_setup). Every table that holds client-chosen strings
 *   uses it, so a client cannot aim many keys at one bucket (hash flooding).
 * hash_fnv: fast unkeyed FNV-1a for fixed internal tables (command names).
 * crc16: CRC16-CCITT (XMODEM), the Redis Cluster key slot function.
 *
 * Thread context: [any] (hash_setup once, before threads start).
 */
#ifndef STASH_BASE_HASH_H
#define STASH_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Draw the SipHash key. Returns 0 or ERR_GENERIC when libsodium fails. */
int hash_setup(void);
/* Use a fixed key (tests that need reproducible hashes). */
void hash_set_key(const uint8_t key[16]);

uint64_t hash_keyed(const void *p, size_t n);
uint64_t hash_keyed_nocase(const void *p, size_t n);
uint64_t hash_fnv(const void *p, size_t n);
uint16_t crc16(const void *p, size_t n);

#endif

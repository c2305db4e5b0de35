/*
 * persist/crc64.h - the CRC-64 of RDB files and DUMP payloads.
 *
 * The variant Redis uses ("Jones" polynomial 0xad93d23594c935a9, bits
 * reflected in and out, initial value 0, no final xor): check value
 * crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca. Computed eight bytes at a
 * time from eight 256-entry tables (slice-by-8), about 1 byte per cycle.
 *
 * Thread context: [any]; the tables are built once (pthread_once).
 */
#ifndef STASH_PERSIST_CRC64_H
#define STASH_PERSIST_CRC64_H

#include "base/common.h"

/* Continue crc over p[0..n). Start with crc = 0. */
uint64_t crc64(uint64_t crc, const void *p, size_t n);

#endif

/*
 * persist/legacy.h - readers of the pre-listpack compact encodings that
 * Redis 7 still loads from old RDB files: ziplist (lists, hashes and
 * sorted sets of Redis <= 6.2, quicklist v1 nodes) and zipmap (hashes of
 * Redis <= 2.4). Stash never writes them: loaders turn their elements into
 * today's encodings.
 *
 *   ziplist  <zlbytes u32><zltail u32><zllen u16> entry... 0xFF
 *            entry = <prevlen: 1 byte, or 0xFE + u32> <encoding> <data>
 *            encoding 00llllll / 01llllll llllllll / 10000000 + u32 BE:
 *            string of that length; 0xC0 i16, 0xD0 i32, 0xE0 i64,
 *            0xF0 i24, 0xFE i8, 0xF1..0xFD immediate 0..12 (LE integers)
 *   zipmap   <count u8> (<len> field <len> <free u8> value <free bytes>)... 0xFF
 *            len = 1 byte < 254, or 254 + u32 (LE)
 *
 * Both readers validate the whole blob (bounds of every entry, prevlen
 * chain, tail offset and counts, Redis's deep checks) before or while
 * visiting it, and never read outside blob[0..size).
 *
 * Thread context: [any], pure functions.
 */
#ifndef STASH_PERSIST_LEGACY_H
#define STASH_PERSIST_LEGACY_H

#include "base/common.h"

/* An element: bytes (s != NULL) or the integer v. Return false to stop. */
typedef bool (*legacy_elem_fn)(const unsigned char *s, size_t len, long long v, void *arg);

/* Validate a ziplist and visit its entries in order. False when invalid
 * (or when fn stopped). *count gets the number of entries. */
bool ziplist_visit(const unsigned char *zl, size_t size, legacy_elem_fn fn, void *arg, size_t *count);

/* Validate a zipmap and visit field, value, field, value... False when
 * invalid, empty, or stopped. */
bool zipmap_visit(const unsigned char *zm, size_t size, legacy_elem_fn fn, void *arg);

#endif

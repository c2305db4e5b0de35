/*
 * types/hll.h - HyperLogLog in Redis's string representation, byte for byte,
 * so that values move between Stash and Redis (DUMP/RESTORE, snapshots) and
 * PFCOUNT answers the same for the same inputs.
 *
 * Layout (a string value; multi-byte numbers little-endian):
 *
 *   +------+-----+-------+----------------+------------------------------+
 *   | HYLL | enc | 0 0 0 | card (8 bytes) | registers                    |
 *   +------+-----+-------+----------------+------------------------------+
 *     magic  0: dense    cached cardinality; bit 7 of its last byte set:
 *            1: sparse   the cache is stale
 *
 *   dense:  16384 registers of 6 bits, register i at bits [6i, 6i+6) of the
 *           byte array, least significant bit first (12,288 bytes).
 *   sparse: run-length opcodes covering exactly 16384 registers:
 *             00xxxxxx            ZERO   x+1 registers (1..64) set to 0
 *             01xxxxxx yyyyyyyy   XZERO  (x<<8|y)+1 registers (1..16384) at 0
 *             1vvvvvxx            VAL    x+1 registers (1..4) set to v+1 (1..32)
 *
 * Hashing: MurmurHash64A (seed 0xadc83b19) of the element; the low 14 bits
 *   pick the register, and the register candidate is 1 + the number of
 *   trailing zero bits of the remaining 50 bits (with bit 50 set).
 * Estimate: Otmar Ertl's improved raw estimator ("New cardinality
 *   estimation algorithms for HyperLogLog sketches", 2017) over the
 *   histogram of register values, rounded to the nearest integer.
 *
 * Sparse updates split or rewrite the opcode covering the register and then
 *   merge adjacent VAL opcodes of equal value, exactly as Redis does, so the
 *   same sequence of PFADDs produces the same bytes. A sparse value is
 *   promoted to dense when a register needs a value above 32 or when it
 *   would grow beyond hll-sparse-max-bytes.
 *
 * Thread context: pure functions on caller-owned bytes; [any].
 */
#ifndef STASH_TYPES_HLL_H
#define STASH_TYPES_HLL_H

#include "base/common.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P)
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_BITS 6
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_SPARSE_EMPTY_SIZE (HLL_HDR_SIZE + 2)

enum hll_encoding { HLL_DENSE = 0, HLL_SPARSE = 1 };

/* A growable HLL string (sparse values grow and may become dense). */
struct hll_buf {
    unsigned char *p;
    size_t len, cap;
};

/* Redis's isHLLObject: header, magic, encoding and dense length. */
bool hll_is_valid(const unsigned char *p, size_t len);
static inline int hll_encoding(const unsigned char *p) {
    return p[4];
}

/* An empty sparse HLL (HLL_SPARSE_EMPTY_SIZE bytes). */
void hll_init_sparse(unsigned char *out);

uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed);
/* The register index of an element and its candidate value. */
int hll_pat_len(const void *ele, size_t len, long *index);

/* Cached cardinality. */
bool hll_cache_valid(const unsigned char *p);
uint64_t hll_cache_get(const unsigned char *p);
void hll_cache_set(unsigned char *p, uint64_t card);
void hll_cache_invalidate(unsigned char *p);

/* Dense registers (p: the whole string). 1 if the register grew, else 0. */
uint8_t hll_dense_get(const unsigned char *p, long index);
/* Write a register exactly (tests). */
void hll_dense_put(unsigned char *p, long index, uint8_t v);
int hll_dense_set(unsigned char *p, long index, uint8_t count);
int hll_dense_add(unsigned char *p, const void *ele, size_t len);

/* Sparse (or dense) add into a buffer: 1 changed, 0 unchanged, -1 corrupt.
 * `sparse_max`: hll-sparse-max-bytes. */
int hll_add(struct hll_buf *b, const void *ele, size_t len, size_t sparse_max);
/* Set a register to max(current, count), promoting as needed. */
int hll_set(struct hll_buf *b, long index, uint8_t count, size_t sparse_max);
/* Turn a sparse buffer dense (the header and its cache are kept); 0, or -1
 * when the sparse data is corrupt. A dense buffer is left alone. */
int hll_to_dense(struct hll_buf *b);
void hll_buf_free(struct hll_buf *b);

/* max[i] = MAX(max[i], register i) for i < 16384; -1 when corrupt. */
int hll_merge(uint8_t *max, const unsigned char *p, size_t len);
/* The estimate of an HLL string (*invalid: corrupt sparse data). */
uint64_t hll_count(const unsigned char *p, size_t len, bool *invalid);
/* The estimate of 16384 one-byte registers. */
uint64_t hll_count_raw(const uint8_t *regs);

#endif

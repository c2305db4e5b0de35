/*
 * types/hll.c - HyperLogLog strings; see hll.h for the format.
 *
 * Reading corrupted sparse data never leaves the buffer: an XZERO opcode cut
 *   by the end reads its missing second byte as 0 (Redis reads the sds
 *   terminator there), and a run that overflows 16384 registers stops the
 *   walk; the caller then sees the value as corrupt, as Redis does.
 *
 * Conventions: internal helpers are static and unprefixed.
 */
#include "types/hll.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <math.h>
#include <string.h>

#define REGISTER_MAX ((1 << HLL_BITS) - 1)
#define REG_BYTES ((HLL_REGISTERS * HLL_BITS + 7) / 8)
#define ZERO_MAX_LEN 64
#define XZERO_MAX_LEN 16384
#define VAL_MAX_VALUE 32
#define VAL_MAX_LEN 4
#define ALPHA_INF 0.721347520444481703680 /* 1 / (2 ln 2) */
#define HASH_SEED 0xadc83b19u

/* ---- header ------------------------------------------------------------------ */

bool hll_is_valid(const unsigned char *p, size_t len) {
    if (len < HLL_HDR_SIZE) return false;
    if (memcmp(p, "HYLL", 4) != 0) return false;
    if (p[4] > HLL_SPARSE) return false;
    if (p[4] == HLL_DENSE && len != HLL_DENSE_SIZE) return false;
    return true;
}

void hll_init_sparse(unsigned char *out) {
    memset(out, 0, HLL_SPARSE_EMPTY_SIZE);
    memcpy(out, "HYLL", 4);
    out[4] = HLL_SPARSE;
    /* One XZERO opcode covering the 16384 registers. */
    out[HLL_HDR_SIZE] = (unsigned char)(0x40 | ((HLL_REGISTERS - 1) >> 8));
    out[HLL_HDR_SIZE + 1] = (unsigned char)((HLL_REGISTERS - 1) & 0xff);
}

bool hll_cache_valid(const unsigned char *p) {
    return (p[15] & 0x80) == 0;
}
void hll_cache_invalidate(unsigned char *p) {
    p[15] |= 0x80;
}

uint64_t hll_cache_get(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[8 + i];
    return v;
}

void hll_cache_set(unsigned char *p, uint64_t card) {
    for (int i = 0; i < 8; i++) p[8 + i] = (unsigned char)(card >> (8 * i));
}

/* ---- hashing -------------------------------------------------------------------- */

uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ ((uint64_t)len * m);
    const uint8_t *data = key;
    const uint8_t *end = data + (len - (len & 7));
    while (data != end) {
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--) k = k << 8 | data[i];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
        data += 8;
    }
    switch (len & 7) {
    case 7: h ^= (uint64_t)data[6] << 48; /* fall through */
    case 6: h ^= (uint64_t)data[5] << 40; /* fall through */
    case 5: h ^= (uint64_t)data[4] << 32; /* fall through */
    case 4: h ^= (uint64_t)data[3] << 24; /* fall through */
    case 3: h ^= (uint64_t)data[2] << 16; /* fall through */
    case 2: h ^= (uint64_t)data[1] << 8;  /* fall through */
    case 1: h ^= (uint64_t)data[0]; h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hll_pat_len(const void *ele, size_t len, long *index) {
    uint64_t hash = hll_murmur64a(ele, len, HASH_SEED);
    *index = (long)(hash & (HLL_REGISTERS - 1));
    hash >>= HLL_P;
    hash |= 1ULL << HLL_Q; /* at most Q+1 */
    return __builtin_ctzll(hash) + 1;
}

/* ---- dense ----------------------------------------------------------------------- */

uint8_t hll_dense_get(const unsigned char *p, long index) {
    const unsigned char *r = p + HLL_HDR_SIZE;
    size_t byte = (size_t)index * HLL_BITS / 8;
    unsigned fb = (unsigned)(index * HLL_BITS) & 7;
    unsigned b0 = r[byte];
    unsigned b1 = byte + 1 < REG_BYTES ? r[byte + 1] : 0;
    return (uint8_t)(((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX);
}

void hll_dense_put(unsigned char *p, long index, uint8_t v) {
    unsigned char *r = p + HLL_HDR_SIZE;
    size_t byte = (size_t)index * HLL_BITS / 8;
    unsigned fb = (unsigned)(index * HLL_BITS) & 7, fb8 = 8 - fb;
    r[byte] = (unsigned char)((r[byte] & ~(REGISTER_MAX << fb)) | (v << fb));
    if (byte + 1 < REG_BYTES)
        r[byte + 1] = (unsigned char)((r[byte + 1] & ~(REGISTER_MAX >> fb8)) | (v >> fb8));
}

int hll_dense_set(unsigned char *p, long index, uint8_t count) {
    if (count <= hll_dense_get(p, index)) return 0;
    hll_dense_put(p, index, count);
    return 1;
}

int hll_dense_add(unsigned char *p, const void *ele, size_t len) {
    long index;
    int count = hll_pat_len(ele, len, &index);
    return hll_dense_set(p, index, (uint8_t)count);
}

/* ---- sparse ----------------------------------------------------------------------- */

#define IS_ZERO(b) (((b)&0xc0) == 0)
#define IS_XZERO(b) (((b)&0xc0) == 0x40)
#define ZERO_LEN(b) (((b)&0x3f) + 1)
#define VAL_VALUE(b) ((((b) >> 2) & 0x1f) + 1)
#define VAL_LEN(b) (((b)&0x3) + 1)

static inline unsigned char op_val(int value, int len) {
    return (unsigned char)(0x80 | ((value - 1) << 2) | (len - 1));
}

/* The XZERO run at p, its second byte read as 0 past end. */
static inline int xzero_len(const unsigned char *p, const unsigned char *end) {
    unsigned lo = p + 1 < end ? p[1] : 0;
    return (int)(((p[0] & 0x3f) << 8 | lo) + 1);
}

/* Write a ZERO or XZERO run of len registers at n; returns bytes used. */
static int put_zero_run(unsigned char *n, int len) {
    if (len > ZERO_MAX_LEN) {
        n[0] = (unsigned char)(0x40 | ((len - 1) >> 8));
        n[1] = (unsigned char)((len - 1) & 0xff);
        return 2;
    }
    n[0] = (unsigned char)(len - 1);
    return 1;
}

static void buf_reserve(struct hll_buf *b, size_t need) {
    if (b->cap >= need) return;
    size_t cap = need < 64 ? 64 : need;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void hll_buf_free(struct hll_buf *b) {
    xfree(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int hll_to_dense(struct hll_buf *b) {
    if (hll_encoding(b->p) == HLL_DENSE) return 0;
    unsigned char *dense = xcalloc(1, HLL_DENSE_SIZE);
    memcpy(dense, b->p, HLL_HDR_SIZE); /* magic and cached cardinality */
    dense[4] = HLL_DENSE;
    const unsigned char *p = b->p + HLL_HDR_SIZE, *end = b->p + b->len;
    long idx = 0;
    while (p < end) {
        if (IS_ZERO(*p)) {
            idx += ZERO_LEN(*p);
            p++;
        } else if (IS_XZERO(*p)) {
            idx += xzero_len(p, end);
            p += 2;
        } else {
            int runlen = VAL_LEN(*p), v = VAL_VALUE(*p);
            if (runlen + idx > HLL_REGISTERS) break;
            while (runlen--) hll_dense_put(dense, idx++, (uint8_t)v);
            p++;
        }
    }
    if (idx != HLL_REGISTERS) {
        xfree(dense);
        return -1;
    }
    xfree(b->p);
    b->p = dense;
    b->len = b->cap = HLL_DENSE_SIZE;
    return 0;
}

/* Promote to dense and set the register there (it always changes). */
static int promote_set(struct hll_buf *b, long index, uint8_t count) {
    if (hll_to_dense(b) < 0) return -1;
    int r = hll_dense_set(b->p, index, count);
    ASSERT(r == 1);
    return r;
}

/* Merge adjacent VAL opcodes of equal value, scanning up to five opcodes
 * from `from` (Redis's post-update pass). */
static void merge_vals(struct hll_buf *b, size_t from) {
    unsigned char *p = b->p + from, *end = b->p + b->len;
    int scan = 5;
    while (p < end && scan--) {
        if (IS_XZERO(*p)) {
            p += 2;
            continue;
        }
        if (IS_ZERO(*p)) {
            p++;
            continue;
        }
        if (p + 1 < end && !IS_ZERO(p[1]) && !IS_XZERO(p[1])) {
            int v1 = VAL_VALUE(p[0]), v2 = VAL_VALUE(p[1]);
            if (v1 == v2) {
                int len = VAL_LEN(p[0]) + VAL_LEN(p[1]);
                if (len <= VAL_MAX_LEN) {
                    p[1] = op_val(v1, len);
                    memmove(p, p + 1, (size_t)(end - p - 1));
                    b->len--;
                    end--;
                    continue;
                }
            }
        }
        p++;
    }
}

static int sparse_set(struct hll_buf *b, long index, uint8_t count, size_t sparse_max) {
    if (count > VAL_MAX_VALUE) return promote_set(b, index, count);
    buf_reserve(b, b->len + 3);
    unsigned char *sparse = b->p + HLL_HDR_SIZE, *p = sparse, *end = b->p + b->len;
    unsigned char *prev = NULL;
    long first = 0, span = 0;
    /* The opcode covering `index`. */
    while (p < end) {
        int oplen = 1;
        if (IS_ZERO(*p)) {
            span = ZERO_LEN(*p);
        } else if (!IS_XZERO(*p)) {
            span = VAL_LEN(*p);
        } else {
            span = xzero_len(p, end);
            oplen = 2;
        }
        if (index <= first + span - 1) break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end) return -1;
    bool is_zero = IS_ZERO(*p), is_xzero = IS_XZERO(*p), is_val = !is_zero && !is_xzero;
    long runlen = is_zero ? ZERO_LEN(*p) : is_xzero ? xzero_len(p, end) : VAL_LEN(*p);
    unsigned char *next = p + (is_xzero ? 2 : 1);
    if (next >= end) next = NULL;

    if (is_val) {
        int old = VAL_VALUE(*p);
        if (old >= count) return 0;
        if (runlen == 1) {
            *p = op_val(count, 1);
            goto updated;
        }
    }
    if (is_zero && runlen == 1) {
        *p = op_val(count, 1);
        goto updated;
    }
    {
        /* Split the opcode into at most three: before, the register, after. */
        unsigned char seq[5], *n = seq;
        long last = first + span - 1;
        if (is_zero || is_xzero) {
            if (index != first) n += put_zero_run(n, (int)(index - first));
            *n++ = op_val(count, 1);
            if (index != last) n += put_zero_run(n, (int)(last - index));
        } else {
            int cur = VAL_VALUE(*p);
            if (index != first) *n++ = op_val(cur, (int)(index - first));
            *n++ = op_val(count, 1);
            if (index != last) *n++ = op_val(cur, (int)(last - index));
        }
        long seqlen = n - seq, oldlen = is_xzero ? 2 : 1, delta = seqlen - oldlen;
        if (delta > 0 && b->len + (size_t)delta > sparse_max) return promote_set(b, index, count);
        if (delta && next) memmove(next + delta, next, (size_t)(end - next));
        b->len = (size_t)((long)b->len + delta);
        memcpy(p, seq, (size_t)seqlen);
    }
updated:
    merge_vals(b, prev ? (size_t)(prev - b->p) : HLL_HDR_SIZE);
    hll_cache_invalidate(b->p);
    return 1;
}

int hll_set(struct hll_buf *b, long index, uint8_t count, size_t sparse_max) {
    if (hll_encoding(b->p) == HLL_DENSE) return hll_dense_set(b->p, index, count);
    return sparse_set(b, index, count, sparse_max);
}

int hll_add(struct hll_buf *b, const void *ele, size_t len, size_t sparse_max) {
    long index;
    int count = hll_pat_len(ele, len, &index);
    return hll_set(b, index, (uint8_t)count, sparse_max);
}

/* ---- merge and count -------------------------------------------------------------- */

int hll_merge(uint8_t *max, const unsigned char *hp, size_t hlen) {
    if (hll_encoding(hp) == HLL_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t v = hll_dense_get(hp, i);
            if (v > max[i]) max[i] = v;
        }
        return 0;
    }
    const unsigned char *p = hp + HLL_HDR_SIZE, *end = hp + hlen;
    long i = 0;
    while (p < end) {
        if (IS_ZERO(*p)) {
            i += ZERO_LEN(*p);
            p++;
        } else if (IS_XZERO(*p)) {
            i += xzero_len(p, end);
            p += 2;
        } else {
            long runlen = VAL_LEN(*p);
            uint8_t v = (uint8_t)VAL_VALUE(*p);
            if (runlen + i > HLL_REGISTERS) break;
            while (runlen--) {
                if (v > max[i]) max[i] = v;
                i++;
            }
            p++;
        }
    }
    return i == HLL_REGISTERS ? 0 : -1;
}

static double sigma(double x) {
    if (x == 1.) return INFINITY;
    double zp, y = 1, z = x;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (zp != z);
    return z;
}

static double tau(double x) {
    if (x == 0. || x == 1.) return 0.;
    double zp, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zp != z);
    return z / 3;
}

/* Ertl's estimator over the histogram of register values. */
static uint64_t estimate(const int *histo) {
    double m = HLL_REGISTERS;
    double z = m * tau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * sigma(histo[0] / m);
    return (uint64_t)llroundl(ALPHA_INF * m * m / z);
}

uint64_t hll_count_raw(const uint8_t *regs) {
    int histo[64] = {0};
    for (long i = 0; i < HLL_REGISTERS; i++) histo[regs[i] & 63]++;
    return estimate(histo);
}

uint64_t hll_count(const unsigned char *hp, size_t hlen, bool *invalid) {
    int histo[64] = {0};
    if (hll_encoding(hp) == HLL_DENSE) {
        for (long i = 0; i < HLL_REGISTERS; i++) histo[hll_dense_get(hp, i)]++;
        return estimate(histo);
    }
    const unsigned char *p = hp + HLL_HDR_SIZE, *end = hp + hlen;
    long idx = 0;
    while (p < end) {
        if (IS_ZERO(*p)) {
            int n = ZERO_LEN(*p);
            idx += n;
            histo[0] += n;
            p++;
        } else if (IS_XZERO(*p)) {
            int n = xzero_len(p, end);
            idx += n;
            histo[0] += n;
            p += 2;
        } else {
            int n = VAL_LEN(*p);
            idx += n;
            histo[VAL_VALUE(*p)] += n;
            p++;
        }
    }
    if (idx != HLL_REGISTERS && invalid) *invalid = true;
    return estimate(histo);
}

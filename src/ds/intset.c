/*
 * ds/intset.c - Redis's intset format (see intset.h).
 *
 * Design
 *   The header and values are kept little-endian, as on disk; get/set go
 *   through memcpy with a byte swap on big-endian hosts, so the blob is the
 *   RDB payload on every host. Adding an absent value grows the allocation
 *   by one slot and moves the tail right; an upgrade rewrites the values
 *   from the end (each slot widens in place without overwriting the values
 *   still to be moved) and puts the new value at the front (negative) or
 *   back (positive), since it is out of the old encoding's range.
 *
 * Conventions: see intset.h. Thread context: [any], not thread-safe.
 */
#include "ds/intset.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/rand.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE16(x) __builtin_bswap16(x)
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#else
#define LE16(x) (x)
#define LE32(x) (x)
#define LE64(x) (x)
#endif

static inline uint32_t enc_of(const struct intset *is) {
    return LE32(is->encoding);
}
uint32_t intset_len(const struct intset *is) {
    return LE32(is->length);
}
static inline void set_len(struct intset *is, uint32_t n) {
    is->length = LE32(n);
}

size_t intset_bytes(const struct intset *is) {
    return INTSET_HDR_SIZE + (size_t)intset_len(is) * enc_of(is);
}

uint8_t intset_value_encoding(int64_t v) {
    if (v < INT32_MIN || v > INT32_MAX) return INTSET_ENC_64;
    if (v < INT16_MIN || v > INT16_MAX) return INTSET_ENC_32;
    return INTSET_ENC_16;
}

/* Value at slot pos of an array in encoding enc. */
static int64_t get_enc(const int8_t *contents, uint32_t pos, uint32_t enc) {
    if (enc == INTSET_ENC_64) {
        uint64_t u;
        memcpy(&u, contents + (size_t)pos * 8, 8);
        return (int64_t)LE64(u);
    }
    if (enc == INTSET_ENC_32) {
        uint32_t u;
        memcpy(&u, contents + (size_t)pos * 4, 4);
        return (int32_t)LE32(u);
    }
    uint16_t u;
    memcpy(&u, contents + (size_t)pos * 2, 2);
    return (int16_t)LE16(u);
}

static void set_enc(int8_t *contents, uint32_t pos, uint32_t enc, int64_t v) {
    if (enc == INTSET_ENC_64) {
        uint64_t u = LE64((uint64_t)v);
        memcpy(contents + (size_t)pos * 8, &u, 8);
    } else if (enc == INTSET_ENC_32) {
        uint32_t u = LE32((uint32_t)(int32_t)v);
        memcpy(contents + (size_t)pos * 4, &u, 4);
    } else {
        uint16_t u = LE16((uint16_t)(int16_t)v);
        memcpy(contents + (size_t)pos * 2, &u, 2);
    }
}

int64_t intset_at(const struct intset *is, uint32_t pos) {
    return get_enc(is->contents, pos, enc_of(is));
}

bool intset_get(const struct intset *is, uint32_t pos, int64_t *v) {
    if (pos >= intset_len(is)) return false;
    *v = intset_at(is, pos);
    return true;
}

struct intset *intset_new(void) {
    struct intset *is = xmalloc(INTSET_HDR_SIZE);
    is->encoding = LE32((uint32_t)INTSET_ENC_16);
    set_len(is, 0);
    return is;
}

void intset_free(struct intset *is) {
    xfree(is);
}

struct intset *intset_dup(const struct intset *is) {
    return xmemdup(is, intset_bytes(is));
}

/* Binary search: true if found at *pos; otherwise *pos is where v goes. */
static bool search(const struct intset *is, int64_t v, uint32_t *pos) {
    uint32_t n = intset_len(is), enc = enc_of(is);
    if (n == 0) {
        *pos = 0;
        return false;
    }
    /* Values beyond the ends are frequent (appending ascending ids). */
    if (v > get_enc(is->contents, n - 1, enc)) {
        *pos = n;
        return false;
    }
    if (v < get_enc(is->contents, 0, enc)) {
        *pos = 0;
        return false;
    }
    uint32_t lo = 0, hi = n; /* v in [lo, hi) if present */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = get_enc(is->contents, mid, enc);
        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

static struct intset *resize(struct intset *is, uint32_t n) {
    return xrealloc(is, INTSET_HDR_SIZE + (size_t)n * enc_of(is));
}

/* Widen to the encoding of v (out of the current range) and add it. */
static struct intset *upgrade_add(struct intset *is, int64_t v) {
    uint32_t old = enc_of(is), nenc = intset_value_encoding(v);
    uint32_t n = intset_len(is);
    bool front = v < 0;
    is->encoding = LE32(nenc);
    is = resize(is, n + 1);
    /* From the end, so no slot is overwritten before it is read. */
    for (uint32_t i = n; i-- > 0;)
        set_enc(is->contents, i + (front ? 1 : 0), nenc, get_enc(is->contents, i, old));
    set_enc(is->contents, front ? 0 : n, nenc, v);
    set_len(is, n + 1);
    return is;
}

struct intset *intset_add(struct intset *is, int64_t v, bool *added) {
    if (added) *added = false;
    if (intset_value_encoding(v) > enc_of(is)) {
        if (added) *added = true;
        return upgrade_add(is, v);
    }
    uint32_t pos;
    if (search(is, v, &pos)) return is;
    uint32_t n = intset_len(is), enc = enc_of(is);
    is = resize(is, n + 1);
    if (pos < n)
        memmove(is->contents + (size_t)(pos + 1) * enc, is->contents + (size_t)pos * enc,
                (size_t)(n - pos) * enc);
    set_enc(is->contents, pos, enc, v);
    set_len(is, n + 1);
    if (added) *added = true;
    return is;
}

struct intset *intset_remove(struct intset *is, int64_t v, bool *removed) {
    uint32_t pos;
    if (removed) *removed = false;
    if (intset_value_encoding(v) > enc_of(is) || !search(is, v, &pos)) return is;
    uint32_t n = intset_len(is), enc = enc_of(is);
    if (pos < n - 1)
        memmove(is->contents + (size_t)pos * enc, is->contents + (size_t)(pos + 1) * enc,
                (size_t)(n - pos - 1) * enc);
    set_len(is, n - 1);
    is = resize(is, n - 1);
    if (removed) *removed = true;
    return is;
}

bool intset_find(const struct intset *is, int64_t v) {
    uint32_t pos;
    return intset_value_encoding(v) <= enc_of(is) && search(is, v, &pos);
}

int64_t intset_random(const struct intset *is) {
    uint32_t n = intset_len(is);
    ASSERT(n > 0);
    return intset_at(is, (uint32_t)rand_below(n));
}

int64_t intset_min(const struct intset *is) {
    return intset_at(is, 0);
}
int64_t intset_max(const struct intset *is) {
    return intset_at(is, intset_len(is) - 1);
}

bool intset_validate(const unsigned char *blob, size_t size, bool deep) {
    if (!blob || size < INTSET_HDR_SIZE) return false;
    const struct intset *is = (const struct intset *)blob;
    uint32_t enc = enc_of(is);
    if (enc != INTSET_ENC_16 && enc != INTSET_ENC_32 && enc != INTSET_ENC_64) return false;
    uint32_t n = intset_len(is);
    if ((size - INTSET_HDR_SIZE) / enc < n || INTSET_HDR_SIZE + (size_t)n * enc != size)
        return false;
    if (n == 0) return false;
    if (!deep) return true;
    int64_t prev = get_enc(is->contents, 0, enc);
    for (uint32_t i = 1; i < n; i++) {
        int64_t cur = get_enc(is->contents, i, enc);
        if (cur <= prev) return false;
        prev = cur;
    }
    return true;
}

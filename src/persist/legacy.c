/*
 * persist/legacy.c - ziplist and zipmap readers (see legacy.h).
 */
#include "persist/legacy.h"

#include <string.h>

#define ZL_HDR 10
#define ZL_END 0xFF

static uint32_t rd32le(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Decode the entry at p (inside zl[0..size-1), the terminator excluded).
 * Returns its total size, or 0 when it does not fit / is malformed. */
static size_t zl_entry(const unsigned char *zl, size_t size, const unsigned char *p, size_t *prevlen,
                       const unsigned char **s, size_t *len, long long *v) {
    const unsigned char *end = zl + size - 1; /* the terminator */
    const unsigned char *q = p;
    if (q >= end) return 0;
    if (*q < 0xFE) {
        *prevlen = *q++;
    } else {
        if (*q == 0xFF || end - q < 5) return 0;
        *prevlen = rd32le(q + 1);
        q += 5;
    }
    if (q >= end) return 0;
    unsigned char enc = *q;
    size_t dlen = 0;
    *s = NULL;
    *v = 0;
    switch (enc >> 6) {
    case 0:
        dlen = enc & 0x3F;
        q += 1;
        break;
    case 1:
        if (end - q < 2) return 0;
        dlen = ((size_t)(enc & 0x3F) << 8) | q[1];
        q += 2;
        break;
    case 2:
        if (enc != 0x80 || end - q < 5) return 0;
        dlen = ((size_t)q[1] << 24) | ((size_t)q[2] << 16) | ((size_t)q[3] << 8) | q[4];
        q += 5;
        break;
    default: {
        q += 1;
        int n;
        if (enc == 0xC0) n = 2;
        else if (enc == 0xD0) n = 4;
        else if (enc == 0xE0) n = 8;
        else if (enc == 0xF0) n = 3;
        else if (enc == 0xFE) n = 1;
        else if (enc >= 0xF1 && enc <= 0xFD) n = 0;
        else return 0;
        if (end - q < n) return 0;
        if (n == 0) {
            *v = (enc & 0x0F) - 1;
        } else {
            uint64_t u = 0;
            for (int i = 0; i < n; i++) u |= (uint64_t)q[i] << (8 * i);
            int shift = 64 - 8 * n; /* sign-extend */
            *v = (long long)(int64_t)(u << shift) >> shift;
        }
        *len = 0;
        return (size_t)(q + n - p);
    }
    }
    if ((size_t)(end - q) < dlen) return 0;
    *s = q;
    *len = dlen;
    return (size_t)(q + dlen - p);
}

bool ziplist_visit(const unsigned char *zl, size_t size, legacy_elem_fn fn, void *arg, size_t *count) {
    *count = 0;
    if (size < ZL_HDR + 1 || rd32le(zl) != size || zl[size - 1] != ZL_END) return false;
    uint32_t tail = rd32le(zl + 4);
    unsigned header_count = (unsigned)zl[8] | ((unsigned)zl[9] << 8);
    if (tail > size - 1) return false;
    const unsigned char *p = zl + ZL_HDR, *prev = NULL;
    size_t prev_size = 0, n = 0;
    while (*p != ZL_END) {
        size_t prevlen, len = 0;
        const unsigned char *s;
        long long v;
        size_t esz = zl_entry(zl, size, p, &prevlen, &s, &len, &v);
        if (esz == 0 || prevlen != prev_size) return false;
        if (fn && !fn(s, len, v, arg)) return false;
        prev_size = esz;
        prev = p;
        p += esz;
        n++;
    }
    if (p != zl + size - 1) return false;
    if (prev != NULL && prev != zl + tail) return false;
    if (header_count != 0xFFFF && n != header_count) return false;
    *count = n;
    return true;
}

/* A zipmap length at p (p < end); returns its encoded size, 0 if bad. */
static size_t zm_len(const unsigned char *p, const unsigned char *end, size_t *len) {
    if (*p < 254) {
        *len = *p;
        return 1;
    }
    if (*p == 255 || end - p < 5) return 0;
    *len = rd32le(p + 1);
    return 5;
}

bool zipmap_visit(const unsigned char *zm, size_t size, legacy_elem_fn fn, void *arg) {
    if (size < 2 || zm[size - 1] != 0xFF) return false;
    const unsigned char *p = zm + 1, *end = zm + size - 1;
    unsigned count = 0;
    while (*p != 0xFF) {
        size_t flen, vlen, k;
        if ((k = zm_len(p, end, &flen)) == 0) return false;
        p += k;
        if ((size_t)(end - p) < flen) return false;
        const unsigned char *f = p;
        p += flen;
        if (p >= end || (k = zm_len(p, end, &vlen)) == 0) return false;
        p += k;
        if (p >= end) return false;
        size_t freeb = *p++;
        if ((size_t)(end - p) < vlen + freeb) return false;
        const unsigned char *v = p;
        p += vlen + freeb;
        if (fn && (!fn(f, flen, 0, arg) || !fn(v, vlen, 0, arg))) return false;
        count++;
    }
    if (count == 0) return false;
    if (zm[0] != 254 && zm[0] != count) return false;
    return true;
}

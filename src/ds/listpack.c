/*
 * ds/listpack.c - Redis's listpack format (see listpack.h for the layout).
 *
 * Design
 *   Every change goes through splice(): it resizes the blob so that a byte
 *   range is replaced by a hole of the new size (realloc before moving the
 *   tail when growing, after when shrinking), fixes the total-bytes header,
 *   and lets the caller write the new entries into the hole. The element
 *   count is updated by the caller: known counts move exactly; once a count
 *   reaches 65535 it becomes "unknown" and stays so until lp_length() walks
 *   the blob and finds fewer.
 *
 *   Encodings are chosen exactly as Redis 7.0 chooses them (smallest integer
 *   encoding for canonical integer text, 6/12/32-bit string lengths at
 *   64/4096), and back-lengths use the same size thresholds, so the bytes we
 *   write equal the bytes Redis writes for the same content.
 *
 * Validation (lp_validate) reads an untrusted blob only inside its bounds:
 *   each entry's header is bounds-checked before its length is decoded, the
 *   length is checked against the bytes left before the data is touched, and
 *   the back-length is compared with its canonical encoding.
 *
 * Conventions: see listpack.h. Thread context: [any], not thread-safe.
 */
#include "ds/listpack.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/str.h"

#include <string.h>

/* ---- encoding bytes -------------------------------------------------------------------------- */

#define ENC_7BIT_UINT_MASK 0x80 /* 0xxxxxxx */
#define ENC_6BIT_STR 0x80       /* 10xxxxxx */
#define ENC_13BIT_INT 0xC0      /* 110xxxxx */
#define ENC_12BIT_STR 0xE0      /* 1110xxxx */
#define ENC_32BIT_STR 0xF0
#define ENC_16BIT_INT 0xF1
#define ENC_24BIT_INT 0xF2
#define ENC_32BIT_INT 0xF3
#define ENC_64BIT_INT 0xF4

static inline uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void wr_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline uint16_t get_count(const unsigned char *lp) {
    return (uint16_t)(lp[4] | (lp[5] << 8));
}
static inline void set_count(unsigned char *lp, size_t n) {
    uint16_t v = n >= LP_COUNT_UNKNOWN ? LP_COUNT_UNKNOWN : (uint16_t)n;
    lp[4] = (unsigned char)v;
    lp[5] = (unsigned char)(v >> 8);
}
/* Count after adding (delta > 0) or removing entries, unknown staying so. */
static inline void add_count(unsigned char *lp, long delta) {
    uint16_t n = get_count(lp);
    if (n == LP_COUNT_UNKNOWN) return;
    set_count(lp, (size_t)((long)n + delta));
}

/* Bytes of the back-length that records an entry of `l` bytes. The
 * thresholds are Redis's (16383 takes 3 bytes there; keep it so). */
static inline size_t backlen_size(size_t l) {
    if (l <= 127) return 1;
    if (l < 16383) return 2;
    if (l < 2097151) return 3;
    if (l < 268435455) return 4;
    return 5;
}

/* Write the back-length of l at buf (left to right); returns its size. */
static size_t backlen_put(unsigned char *buf, size_t l) {
    size_t n = backlen_size(l);
    buf[0] = (unsigned char)((l >> (7 * (n - 1))) & 127);
    for (size_t i = 1; i < n; i++) buf[i] = (unsigned char)(((l >> (7 * (n - 1 - i))) & 127) | 128);
    return n;
}

/* Decode the back-length whose last byte is at q. */
static size_t backlen_get(const unsigned char *q) {
    size_t v = 0;
    unsigned shift = 0;
    for (;;) {
        v |= (size_t)(q[0] & 127) << shift;
        if (!(q[0] & 128)) break;
        shift += 7;
        q--;
        ASSERT(shift <= 28);
    }
    return v;
}

/* Bytes of <encoding+data> of the (trusted) entry at p. */
static inline size_t enc_size(const unsigned char *p) {
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    if (b < 0xC0) return 1 + (size_t)(b & 0x3F);
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 2 + (((size_t)(b & 0x0F) << 8) | p[1]);
    switch (b) {
    case ENC_32BIT_STR: return 5 + (size_t)rd_u32(p + 1);
    case ENC_16BIT_INT: return 3;
    case ENC_24BIT_INT: return 4;
    case ENC_32BIT_INT: return 5;
    case ENC_64BIT_INT: return 9;
    default: PANIC("listpack: bad encoding byte 0x%02x", b);
    }
}

size_t lp_entry_size(const unsigned char *p) {
    size_t l = enc_size(p);
    return l + backlen_size(l);
}

/* An encoded value: `hdr` holds a whole integer entry or a string's length
 * header; `data` the string bytes (NULL for integers). */
struct enc {
    unsigned char hdr[9];
    size_t hdrlen;
    const unsigned char *data;
    size_t datalen;
};

static void encode_int(long long v, struct enc *e) {
    unsigned char *h = e->hdr;
    e->data = NULL;
    e->datalen = 0;
    if (v >= 0 && v <= 127) {
        h[0] = (unsigned char)v;
        e->hdrlen = 1;
    } else if (v >= -4096 && v <= 4095) {
        uint32_t u = (uint32_t)(v < 0 ? v + 8192 : v);
        h[0] = (unsigned char)(ENC_13BIT_INT | (u >> 8));
        h[1] = (unsigned char)u;
        e->hdrlen = 2;
    } else if (v >= -32768 && v <= 32767) {
        uint16_t u = (uint16_t)v;
        h[0] = ENC_16BIT_INT;
        h[1] = (unsigned char)u;
        h[2] = (unsigned char)(u >> 8);
        e->hdrlen = 3;
    } else if (v >= -8388608 && v <= 8388607) {
        uint32_t u = (uint32_t)v & 0xFFFFFF;
        h[0] = ENC_24BIT_INT;
        h[1] = (unsigned char)u;
        h[2] = (unsigned char)(u >> 8);
        h[3] = (unsigned char)(u >> 16);
        e->hdrlen = 4;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        h[0] = ENC_32BIT_INT;
        wr_u32(h + 1, (uint32_t)v);
        e->hdrlen = 5;
    } else {
        uint64_t u = (uint64_t)v;
        h[0] = ENC_64BIT_INT;
        wr_u32(h + 1, (uint32_t)u);
        wr_u32(h + 5, (uint32_t)(u >> 32));
        e->hdrlen = 9;
    }
}

static void encode(const struct lp_item *it, struct enc *e) {
    long long v;
    if (it->s == NULL) {
        encode_int(it->v, e);
        return;
    }
    if (it->len > 0 && it->len < STR_LL_MAX && str_to_ll((const char *)it->s, it->len, &v)) {
        encode_int(v, e);
        return;
    }
    size_t len = it->len;
    unsigned char *h = e->hdr;
    if (len < 64) {
        h[0] = (unsigned char)(ENC_6BIT_STR | len);
        e->hdrlen = 1;
    } else if (len < 4096) {
        h[0] = (unsigned char)(ENC_12BIT_STR | (len >> 8));
        h[1] = (unsigned char)len;
        e->hdrlen = 2;
    } else {
        ASSERT(len <= UINT32_MAX);
        h[0] = ENC_32BIT_STR;
        wr_u32(h + 1, (uint32_t)len);
        e->hdrlen = 5;
    }
    e->data = it->s;
    e->datalen = len;
}

static inline size_t enc_total(const struct enc *e) {
    size_t l = e->hdrlen + e->datalen;
    return l + backlen_size(l);
}

/* Write the entry at dst; returns its size. */
static size_t write_entry(unsigned char *dst, const struct enc *e) {
    size_t l = e->hdrlen + e->datalen;
    memcpy(dst, e->hdr, e->hdrlen);
    if (e->datalen) memcpy(dst + e->hdrlen, e->data, e->datalen);
    return l + backlen_put(dst + l, l);
}

size_t lp_entry_size_bound(size_t len) {
    size_t l = len + 5;
    return l + backlen_size(l);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

unsigned char *lp_new(size_t capacity) {
    size_t n = MAX(capacity, (size_t)LP_HDR_SIZE + 1);
    unsigned char *lp = xmalloc(n);
    wr_u32(lp, LP_HDR_SIZE + 1);
    set_count(lp, 0);
    lp[LP_HDR_SIZE] = LP_EOF;
    return lp;
}

void lp_free(unsigned char *lp) {
    xfree(lp);
}

unsigned char *lp_dup(const unsigned char *lp) {
    return xmemdup(lp, lp_bytes(lp));
}

unsigned char *lp_shrink_to_fit(unsigned char *lp) {
    size_t n = lp_bytes(lp);
    if (xusable(lp) > xgoodsize(n)) lp = xrealloc(lp, n);
    return lp;
}

/* Replace blob[off, off+del) by an uninitialized hole of `ins` bytes.
 * Returns the (maybe moved) blob, or NULL, unchanged, past 4 GiB. */
static unsigned char *splice(unsigned char *lp, size_t off, size_t del, size_t ins) {
    size_t old = lp_bytes(lp);
    ASSERT(off + del <= old - 1);
    size_t nb = old - del + ins;
    if (nb > UINT32_MAX) return NULL;
    size_t tail = old - off - del;
    if (ins > del) {
        /* Grow into the allocation's slack first (a stream node is
         * preallocated): realloc only past what the allocator gave. */
        if (nb > xusable(lp)) lp = xrealloc(lp, nb);
        memmove(lp + off + ins, lp + off + del, tail);
    } else if (ins < del) {
        memmove(lp + off + ins, lp + off + del, tail);
        lp = xrealloc(lp, nb);
    }
    wr_u32(lp, (uint32_t)nb);
    return lp;
}

/* ---- size and iteration ---------------------------------------------------------------------- */

size_t lp_length(unsigned char *lp) {
    uint16_t n = get_count(lp);
    if (n != LP_COUNT_UNKNOWN) return n;
    size_t count = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) count++;
    if (count < LP_COUNT_UNKNOWN) set_count(lp, count);
    return count;
}

unsigned char *lp_first(unsigned char *lp) {
    unsigned char *p = lp + LP_HDR_SIZE;
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_next(unsigned char *lp, unsigned char *p) {
    UNUSED(lp);
    p += lp_entry_size(p);
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_prev(unsigned char *lp, unsigned char *p) {
    if (p == lp + LP_HDR_SIZE) return NULL;
    size_t l = backlen_get(p - 1);
    return p - l - backlen_size(l);
}

unsigned char *lp_last(unsigned char *lp) {
    return lp_prev(lp, lp + lp_bytes(lp) - 1);
}

unsigned char *lp_seek(unsigned char *lp, long index) {
    size_t count = lp_length(lp);
    if (index < 0) index += (long)count;
    if (index < 0 || (size_t)index >= count) return NULL;
    unsigned char *p;
    if ((size_t)index > count / 2) {
        p = lp_last(lp);
        for (size_t i = count - 1; i > (size_t)index; i--) p = lp_prev(lp, p);
    } else {
        p = lp_first(lp);
        for (long i = 0; i < index; i++) p = lp_next(lp, p);
    }
    return p;
}

/* ---- reading --------------------------------------------------------------------------------- */

const unsigned char *lp_get(const unsigned char *p, size_t *len, long long *ival) {
    unsigned char b = p[0];
    uint32_t u;
    if (b < 0x80) {
        *ival = b;
        return NULL;
    }
    if (b < 0xC0) {
        *len = b & 0x3F;
        return p + 1;
    }
    if (b < 0xE0) {
        u = ((uint32_t)(b & 0x1F) << 8) | p[1];
        *ival = u >= 4096 ? (long long)u - 8192 : (long long)u;
        return NULL;
    }
    if (b < 0xF0) {
        *len = ((size_t)(b & 0x0F) << 8) | p[1];
        return p + 2;
    }
    switch (b) {
    case ENC_32BIT_STR: *len = rd_u32(p + 1); return p + 5;
    case ENC_16BIT_INT: *ival = (int16_t)(uint16_t)(p[1] | (p[2] << 8)); return NULL;
    case ENC_24BIT_INT:
        u = (uint32_t)p[1] | ((uint32_t)p[2] << 8) | ((uint32_t)p[3] << 16);
        *ival = u >= (1u << 23) ? (long long)u - (1LL << 24) : (long long)u;
        return NULL;
    case ENC_32BIT_INT: *ival = (int32_t)rd_u32(p + 1); return NULL;
    case ENC_64BIT_INT:
        *ival = (long long)((uint64_t)rd_u32(p + 1) | ((uint64_t)rd_u32(p + 5) << 32));
        return NULL;
    default: PANIC("listpack: bad encoding byte 0x%02x", b);
    }
}

const unsigned char *lp_get_str(const unsigned char *p, size_t *len, unsigned char *buf) {
    long long v;
    const unsigned char *s = lp_get(p, len, &v);
    if (s) return s;
    *len = (size_t)ll_to_str((char *)buf, LP_INTBUF_SIZE, v);
    return buf;
}

/* Parse s as the integer its listpack entry would hold. */
static inline bool as_int(const unsigned char *s, size_t len, long long *v) {
    return len > 0 && len < STR_LL_MAX && str_to_ll((const char *)s, len, v);
}

bool lp_eq(const unsigned char *p, const unsigned char *s, size_t len) {
    size_t elen;
    long long ev, sv;
    const unsigned char *es = lp_get(p, &elen, &ev);
    if (es) return elen == len && memcmp(es, s, len) == 0;
    return as_int(s, len, &sv) && sv == ev;
}

unsigned char *lp_find(unsigned char *lp, unsigned char *p, const unsigned char *s, size_t len,
                       unsigned skip) {
    long long sv = 0;
    bool sint = as_int(s, len, &sv);
    if (!p) return NULL;
    while (*p != LP_EOF) {
        size_t elen;
        long long ev;
        const unsigned char *es = lp_get(p, &elen, &ev);
        if (es ? (elen == len && memcmp(es, s, len) == 0) : (sint && ev == sv)) return p;
        p += lp_entry_size(p);
        for (unsigned i = 0; i < skip && *p != LP_EOF; i++) p += lp_entry_size(p);
    }
    UNUSED(lp);
    return NULL;
}

/* ---- changes --------------------------------------------------------------------------------- */

unsigned char *lp_insert(unsigned char *lp, unsigned char *p, enum lp_where where,
                         const struct lp_item *item, unsigned char **newp) {
    struct enc e;
    encode(item, &e);
    size_t del = 0;
    if (where == LP_AFTER) {
        ASSERT(*p != LP_EOF);
        p += lp_entry_size(p);
    } else if (where == LP_REPLACE) {
        ASSERT(*p != LP_EOF);
        del = lp_entry_size(p);
    }
    size_t off = (size_t)(p - lp);
    size_t ins = enc_total(&e);
    unsigned char *n = splice(lp, off, del, ins);
    if (!n) return NULL;
    write_entry(n + off, &e);
    if (where != LP_REPLACE) add_count(n, 1);
    if (newp) *newp = n + off;
    return n;
}

unsigned char *lp_insert_batch(unsigned char *lp, unsigned char *p, const struct lp_item *items,
                               size_t n, unsigned char **newp) {
    struct enc e;
    size_t ins = 0;
    for (size_t i = 0; i < n; i++) {
        encode(&items[i], &e);
        ins += enc_total(&e);
    }
    size_t off = (size_t)(p - lp);
    unsigned char *nl = splice(lp, off, 0, ins);
    if (!nl) return NULL;
    unsigned char *dst = nl + off;
    for (size_t i = 0; i < n; i++) {
        encode(&items[i], &e);
        dst += write_entry(dst, &e);
    }
    add_count(nl, (long)n);
    if (newp) *newp = nl + off;
    return nl;
}

static inline unsigned char *eof_of(unsigned char *lp) {
    return lp + lp_bytes(lp) - 1;
}

unsigned char *lp_append(unsigned char *lp, const void *s, size_t len) {
    struct lp_item it = lp_str_item(s, len);
    return lp_insert(lp, eof_of(lp), LP_BEFORE, &it, NULL);
}
unsigned char *lp_prepend(unsigned char *lp, const void *s, size_t len) {
    struct lp_item it = lp_str_item(s, len);
    return lp_insert(lp, lp + LP_HDR_SIZE, LP_BEFORE, &it, NULL);
}
unsigned char *lp_append_int(unsigned char *lp, long long v) {
    struct lp_item it = lp_int_item(v);
    return lp_insert(lp, eof_of(lp), LP_BEFORE, &it, NULL);
}
unsigned char *lp_prepend_int(unsigned char *lp, long long v) {
    struct lp_item it = lp_int_item(v);
    return lp_insert(lp, lp + LP_HDR_SIZE, LP_BEFORE, &it, NULL);
}
unsigned char *lp_append_batch(unsigned char *lp, const struct lp_item *items, size_t n) {
    return lp_insert_batch(lp, eof_of(lp), items, n, NULL);
}

unsigned char *lp_insert_at(unsigned char *lp, long index, const struct lp_item *item,
                            unsigned char **newp) {
    size_t count = lp_length(lp);
    if (index < 0) index += (long)count + 1;
    if (index < 0 || (size_t)index > count) {
        if (newp) *newp = NULL;
        return lp;
    }
    unsigned char *p = (size_t)index == count ? eof_of(lp) : lp_seek(lp, index);
    return lp_insert(lp, p, LP_BEFORE, item, newp);
}

unsigned char *lp_replace(unsigned char *lp, unsigned char **p, const void *s, size_t len) {
    struct lp_item it = lp_str_item(s, len);
    return lp_insert(lp, *p, LP_REPLACE, &it, p);
}
unsigned char *lp_replace_int(unsigned char *lp, unsigned char **p, long long v) {
    struct lp_item it = lp_int_item(v);
    return lp_insert(lp, *p, LP_REPLACE, &it, p);
}

unsigned char *lp_delete_range_at(unsigned char *lp, unsigned char **p, size_t num) {
    unsigned char *q = *p;
    size_t deleted = 0;
    while (deleted < num && *q != LP_EOF) {
        q += lp_entry_size(q);
        deleted++;
    }
    size_t off = (size_t)(*p - lp);
    lp = splice(lp, off, (size_t)(q - *p), 0);
    add_count(lp, -(long)deleted);
    *p = lp[off] == LP_EOF ? NULL : lp + off;
    return lp;
}

unsigned char *lp_delete(unsigned char *lp, unsigned char *p, unsigned char **newp) {
    lp = lp_delete_range_at(lp, &p, 1);
    if (newp) *newp = p;
    return lp;
}

unsigned char *lp_delete_range(unsigned char *lp, long index, size_t num) {
    unsigned char *p = lp_seek(lp, index);
    if (!p || num == 0) return lp;
    return lp_delete_range_at(lp, &p, num);
}

/* ---- validation ------------------------------------------------------------------------------ */

/* Size of <encoding+data> of the entry at p, reading nothing at or past
 * end; 0 when the entry is malformed or does not fit. */
static size_t checked_enc_size(const unsigned char *p, const unsigned char *end) {
    size_t avail = (size_t)(end - p);
    unsigned char b = p[0];
    size_t hdr, l;
    if (b < 0x80) {
        hdr = 1;
        l = 1;
    } else if (b < 0xC0) {
        hdr = 1;
        l = 1 + (size_t)(b & 0x3F);
    } else if (b < 0xE0) {
        hdr = 2;
        l = 2;
    } else if (b < 0xF0) {
        hdr = 2;
        if (avail < hdr) return 0;
        l = 2 + (((size_t)(b & 0x0F) << 8) | p[1]);
    } else {
        switch (b) {
        case ENC_32BIT_STR:
            hdr = 5;
            if (avail < hdr) return 0;
            l = 5 + (size_t)rd_u32(p + 1);
            break;
        case ENC_16BIT_INT: hdr = l = 3; break;
        case ENC_24BIT_INT: hdr = l = 4; break;
        case ENC_32BIT_INT: hdr = l = 5; break;
        case ENC_64BIT_INT: hdr = l = 9; break;
        default: return 0; /* unused encodings, or a terminator too early */
        }
    }
    if (avail < hdr || avail < l) return 0;
    return l;
}

bool lp_validate(const unsigned char *blob, size_t size, bool deep, lp_validate_fn entry_fn,
                 void *arg) {
    if (!blob || size < LP_HDR_SIZE + 1 || size > UINT32_MAX) return false;
    if (rd_u32(blob) != size) return false;
    if (blob[size - 1] != LP_EOF) return false;
    if (!deep) return true;
    const unsigned char *p = blob + LP_HDR_SIZE;
    const unsigned char *end = blob + size - 1; /* the terminator */
    size_t count = 0;
    while (p < end) {
        size_t l = checked_enc_size(p, end);
        if (l == 0) return false;
        size_t bl = backlen_size(l);
        if ((size_t)(end - p) - l < bl) return false;
        unsigned char want[5];
        backlen_put(want, l);
        if (memcmp(p + l, want, bl) != 0) return false;
        if (entry_fn && !entry_fn(p, arg)) return false;
        count++;
        p += l + bl;
    }
    if (p != end) return false;
    uint16_t hc = get_count(blob);
    if (hc != LP_COUNT_UNKNOWN && hc != count) return false;
    return true;
}

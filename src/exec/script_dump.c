/*
 * exec/script_dump.c - the FUNCTION DUMP / RESTORE payload, byte-compatible
 * with Redis 7.0 (a payload from one server restores on the other):
 *
 *   { 0xF5 (RDB_OPCODE_FUNCTION2)  <library code as an RDB string> } ...
 *   <RDB version: u16 little-endian, 10>
 *   <CRC64 (Jones, reflected, as Redis) of everything before: u64 LE>
 *
 * RDB strings: a length (00xxxxxx | 01xxxxxx xxxxxxxx | 0x80 u32 BE |
 * 0x81 u64 BE) then the bytes, or an encoded value 11xxxxxx: 0..2 a
 * signed 8/16/32-bit integer (little-endian) as text, 3 LZF-compressed
 * (compressed length, original length, data). Written like Redis: LZF
 * when the code is over 20 bytes and compresses. Reading also accepts the
 * 7.0-rc format (0xF6: name, engine, description flag, description, code).
 *
 * This is a small, self-contained subset of the RDB codec: once the RDB
 * module (src/persist/) lands, both must share one implementation.
 *
 * Thread context: [any]; no state.
 */
#include "exec/script_int.h"
#include "base/alloc.h"
#include "base/buf.h"

#include <lzf.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define OPCODE_FUNCTION2 245
#define OPCODE_FUNCTION_RC 246
#define RDB_VERSION 10

/* ---- CRC64 ------------------------------------------------------------------------------ */

static uint64_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    const uint64_t poly = 0x95ac9329ac4bc9b5ULL; /* 0xad93d23594c935a9 reflected */
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        crc_table[i] = c;
    }
}

uint64_t sdump_crc64(uint64_t crc, const void *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---- writing ---------------------------------------------------------------------------- */

static void put_len(struct buf *b, uint64_t n) {
    unsigned char t[9];
    if (n < 64) {
        t[0] = (unsigned char)n;
        buf_append(b, t, 1);
    } else if (n < 16384) {
        t[0] = (unsigned char)(0x40 | (n >> 8));
        t[1] = (unsigned char)(n & 0xff);
        buf_append(b, t, 2);
    } else if (n <= 0xffffffffULL) {
        t[0] = 0x80;
        for (int i = 0; i < 4; i++) t[1 + i] = (unsigned char)(n >> (24 - 8 * i));
        buf_append(b, t, 5);
    } else {
        t[0] = 0x81;
        for (int i = 0; i < 8; i++) t[1 + i] = (unsigned char)(n >> (56 - 8 * i));
        buf_append(b, t, 9);
    }
}

void sdump_library(struct buf *out, const char *code, size_t len) {
    unsigned char op = OPCODE_FUNCTION2;
    buf_append(out, &op, 1);
    if (len > 20 && len <= 0xffffffffULL) {
        char *z = xmalloc(len);
        unsigned int zl = lzf_compress(code, (unsigned int)len, z, (unsigned int)(len - 4));
        if (zl > 0) {
            unsigned char enc = 0xC3;
            buf_append(out, &enc, 1);
            put_len(out, zl);
            put_len(out, len);
            buf_append(out, z, zl);
            xfree(z);
            return;
        }
        xfree(z);
    }
    put_len(out, len);
    buf_append(out, code, len);
}

void sdump_finish(struct buf *out) {
    unsigned char v[2] = {RDB_VERSION & 0xff, (RDB_VERSION >> 8) & 0xff};
    buf_append(out, v, 2);
    uint64_t crc = sdump_crc64(0, out->data, out->len);
    unsigned char t[8];
    for (int i = 0; i < 8; i++) t[i] = (unsigned char)(crc >> (8 * i));
    buf_append(out, t, 8);
}

/* ---- reading ------------------------------------------------------------------------------ */

struct rd {
    const unsigned char *p;
    size_t len, pos;
};

/* A length, or an encoding (returns 1 with *enc set). 0 ok, -1 error. */
static int get_len(struct rd *r, uint64_t *n, int *enc) {
    *enc = -1;
    if (r->pos >= r->len) return -1;
    unsigned char b = r->p[r->pos++];
    switch (b >> 6) {
    case 0:
        *n = b & 0x3f;
        return 0;
    case 1:
        if (r->pos >= r->len) return -1;
        *n = ((uint64_t)(b & 0x3f) << 8) | r->p[r->pos++];
        return 0;
    case 3:
        *enc = b & 0x3f;
        return 1;
    default:
        break;
    }
    int w = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
    if (w == 0 || r->len - r->pos < (size_t)w) return -1;
    uint64_t v = 0;
    for (int i = 0; i < w; i++) v = (v << 8) | r->p[r->pos++];
    *n = v;
    return 0;
}

/* An RDB string (malloc'd, NUL-terminated) or NULL. */
static char *get_string(struct rd *r, size_t *outlen) {
    uint64_t n;
    int enc;
    int rc = get_len(r, &n, &enc);
    if (rc < 0) return NULL;
    if (rc == 0) {
        if (n > r->len - r->pos) return NULL;
        char *s = xmalloc(n + 1);
        memcpy(s, r->p + r->pos, n);
        s[n] = '\0';
        r->pos += n;
        *outlen = n;
        return s;
    }
    if (enc <= 2) {
        int w = 1 << enc;
        if (r->len - r->pos < (size_t)w) return NULL;
        int64_t v;
        if (w == 1) {
            v = (int8_t)r->p[r->pos];
        } else if (w == 2) {
            v = (int16_t)(r->p[r->pos] | (r->p[r->pos + 1] << 8));
        } else {
            v = (int32_t)((uint32_t)r->p[r->pos] | ((uint32_t)r->p[r->pos + 1] << 8) |
                          ((uint32_t)r->p[r->pos + 2] << 16) | ((uint32_t)r->p[r->pos + 3] << 24));
        }
        r->pos += (size_t)w;
        char *s = xmalloc(24);
        *outlen = (size_t)snprintf(s, 24, "%lld", (long long)v);
        return s;
    }
    if (enc != 3) return NULL;
    uint64_t clen, ulen;
    if (get_len(r, &clen, &enc) != 0 || get_len(r, &ulen, &enc) != 0) return NULL;
    if (clen > r->len - r->pos || ulen > 0xffffffffULL || clen > 0xffffffffULL) return NULL;
    char *s = xmalloc(ulen + 1);
    if (lzf_decompress(r->p + r->pos, (unsigned int)clen, s, (unsigned int)ulen) != ulen) {
        xfree(s);
        return NULL;
    }
    s[ulen] = '\0';
    r->pos += clen;
    *outlen = ulen;
    return s;
}

/* The 7.0-rc library record, turned into today's payload. */
static char *get_rc_library(struct rd *r, size_t *outlen) {
    size_t nl, el, dl, bl;
    char *name = get_string(r, &nl), *engine = name ? get_string(r, &el) : NULL, *desc = NULL, *blob = NULL;
    uint64_t has_desc;
    int enc;
    char *out = NULL;
    if (!engine || get_len(r, &has_desc, &enc) != 0) goto done;
    if (has_desc && !(desc = get_string(r, &dl))) goto done;
    if (!(blob = get_string(r, &bl))) goto done;
    size_t cap = nl + el + bl + 16;
    out = xmalloc(cap);
    *outlen = (size_t)snprintf(out, cap, "#!%s name=%s\n%s", engine, name, blob);
done:
    xfree(name);
    xfree(engine);
    xfree(desc);
    xfree(blob);
    return out;
}

int sdump_parse(const char *p, size_t len, sdump_lib_fn fn, void *arg, char *err, size_t errcap) {
    const unsigned char *u = (const unsigned char *)p;
    if (len < 10) goto bad;
    const unsigned char *footer = u + len - 10;
    unsigned ver = footer[0] | (footer[1] << 8);
    if (ver > RDB_VERSION) goto bad;
    uint64_t crc = sdump_crc64(0, u, len - 8), want = 0;
    for (int i = 0; i < 8; i++) want |= (uint64_t)footer[2 + i] << (8 * i);
    if (crc != want) goto bad;
    struct rd r = {u, len - 10, 0};
    while (r.pos < r.len) {
        unsigned char type = u[r.pos++];
        if (type != OPCODE_FUNCTION2 && type != OPCODE_FUNCTION_RC) {
            snprintf(err, errcap, "given type is not a function");
            return -1;
        }
        size_t n;
        char *code = type == OPCODE_FUNCTION2 ? get_string(&r, &n) : get_rc_library(&r, &n);
        if (code == NULL) {
            snprintf(err, errcap, "%s",
                     type == OPCODE_FUNCTION2 ? "Failed loading library payload" : "Failed loading library blob");
            return -1;
        }
        int rc = fn(code, n, arg, err, errcap);
        xfree(code);
        if (rc != 0) return -1;
    }
    return 0;
bad:
    snprintf(err, errcap, "DUMP payload version or checksum are wrong");
    return -1;
}

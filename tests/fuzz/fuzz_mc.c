/*
 * tests/fuzz/fuzz_mc.c - libFuzzer target for the memcached parsers:
 * proto/mc (command lines, tokens, numbers, meta flags, base64) and
 * proto/mcbin (packet headers).
 *
 * The input is read as a stream of text requests (line by line, as the
 * connection driver does) and, from the same bytes, as binary packet
 * headers. Every buffer handed to a parser is exactly as long as the bytes
 * available (ASan catches any read past them); the parsers' results are
 * checked against their contracts:
 *   - a line ends at '\n', its text never includes the "\r\n" nor a NUL;
 *   - tokens are the space-separated words, in order, across windows;
 *   - numbers agree with a model built on libc's strtoull/strtoll, which
 *     is what memcached's safe_strto* wrap;
 *   - base64 decoding of an encoding gives the bytes back;
 *   - meta flag parsing never fails silently and its key stays in bounds;
 *   - binary headers decode to the big-endian fields.
 */
#include "base/obuf.h"
#include "proto/mc.h"
#include "proto/mcbin.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_mc: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* ---- number model: memcached's safe_strto* over a NUL-terminated copy ------------------- */

static bool model_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static bool model_u64(const char *tok, size_t n, uint64_t *out) {
    char buf[64];
    if (n >= sizeof(buf)) return false; /* long tokens: checked separately below */
    memcpy(buf, tok, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end == buf) return false;
    if (!(model_space(*end) || *end == '\0')) return false;
    if ((long long)v < 0 && strchr(buf, '-')) return false;
    *out = v;
    return true;
}

static bool model_i64(const char *tok, size_t n, int64_t *out) {
    char buf[64];
    if (n >= sizeof(buf)) return false;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno == ERANGE || end == buf) return false;
    if (!(model_space(*end) || *end == '\0')) return false;
    *out = v;
    return true;
}

static void check_numbers(const struct mc_tok *t) {
    /* The parsers read exactly the token: give them a copy of that size. */
    char *copy = malloc(t->len ? t->len : 1);
    memcpy(copy, t->p, t->len);
    uint64_t u, mu;
    int64_t i, mi;
    uint32_t u32;
    int32_t i32;
    bool ok_u = mc_parse_u64(copy, t->len, &u);
    bool ok_i = mc_parse_i64(copy, t->len, &i);
    bool ok_u32 = mc_parse_u32(copy, t->len, &u32);
    bool ok_i32 = mc_parse_i32(copy, t->len, &i32);
    CHECK(ok_u32 == ok_u && (!ok_u || u32 == (uint32_t)u));
    CHECK(ok_i32 == ok_i && (!ok_i || i32 == (int32_t)(uint32_t)(uint64_t)i));
    /* A NUL inside the token ends the number for libc: only compare tokens without one. */
    if (t->len < 64 && memchr(t->p, '\0', t->len) == NULL) {
        bool m_u = model_u64(t->p, t->len, &mu), m_i = model_i64(t->p, t->len, &mi);
        CHECK(ok_u == m_u && (!ok_u || u == mu));
        CHECK(ok_i == m_i && (!ok_i || i == mi));
    }
    free(copy);
}

/* ---- text ------------------------------------------------------------------------------------ */

static void check_window(const struct mc_tokens *w, const char *line, const char *end) {
    CHECK(w->n >= 0 && w->n <= MC_TOKENS_MAX - 1);
    const char *prev = line;
    for (int k = 0; k < w->n; k++) {
        const struct mc_tok *t = &w->t[k];
        CHECK(t->len > 0 && t->p >= prev && t->p + t->len <= end);
        CHECK(memchr(t->p, ' ', t->len) == NULL);
        CHECK(t->p + t->len == end || t->p[t->len] == ' ');
        prev = t->p + t->len;
        check_numbers(t);
    }
    CHECK(w->rest == NULL || (w->rest >= prev && w->rest < end && w->n == MC_TOKENS_MAX - 1));
}

static void check_line(const char *line, size_t text) {
    /* the line's own copy, exactly `text` bytes */
    char *copy = malloc(text ? text : 1);
    memcpy(copy, line, text);
    const char *end = copy + text;
    CHECK(memchr(copy, '\0', text) == NULL);
    struct mc_tokens w;
    mc_tokenize(copy, end, &w);
    check_window(&w, copy, end);
    /* all windows together are the words of the line */
    size_t words = 0;
    for (size_t i = 0; i < text; i++)
        if (copy[i] != ' ' && (i == 0 || copy[i - 1] == ' ')) words++;
    size_t seen = (size_t)w.n;
    if (w.n >= 2) {
        struct mc_meta m;
        const char *err = NULL;
        int rc = mc_meta_parse(&w, 2, &m, &err);
        CHECK(rc == 0 || (err != NULL && strncmp(err, "CLIENT_ERROR ", 13) == 0));
        CHECK(m.klen <= MC_KEY_MAX || m.key == w.t[1].p);
        CHECK(m.key_binary ? m.key == m.keybuf : m.key == w.t[1].p);
    }
    struct mc_tokens next;
    const struct mc_tokens *cur = &w;
    while (cur->rest) {
        const char *from = cur->rest; /* cur may be `next` itself */
        mc_tokenize(from, end, &next);
        check_window(&next, from, end);
        seen += (size_t)next.n;
        cur = &next;
    }
    CHECK(seen == words);
    free(copy);
}

static void check_text(const uint8_t *data, size_t size) {
    size_t pos = 0;
    while (pos < size) {
        size_t left = size - pos;
        char *buf = malloc(left);
        memcpy(buf, data + pos, left);
        size_t text = 0, used = 0;
        int st = mc_line(buf, left, &text, &used);
        if (st != MC_LINE_OK) {
            CHECK(st == MC_LINE_MORE || (st == MC_LINE_CLOSE && left > MC_LINE_SCAN));
            CHECK(memchr(buf, '\n', left) == NULL);
            free(buf);
            return;
        }
        CHECK(used >= 1 && used <= left && buf[used - 1] == '\n');
        CHECK(memchr(buf, '\n', used - 1) == NULL);
        CHECK(text <= used - 1);
        check_line(buf, text);
        free(buf);
        pos += used;
    }
}

/* ---- base64 ------------------------------------------------------------------------------------- */

static void check_base64(const uint8_t *data, size_t size) {
    size_t n = size > 187 ? 187 : size;
    char enc[4 * (187 / 3 + 1)], dec[MC_KEY_MAX];
    size_t el = mc_base64_encode((const char *)data, n, enc);
    CHECK(el == 4 * ((n + 2) / 3));
    if (n > 0) {
        size_t dl = mc_base64_decode(enc, el, dec, sizeof(dec));
        CHECK(dl == n && memcmp(dec, data, n) == 0);
    }
    /* arbitrary bytes: never more output than the space given */
    char small[8];
    size_t m = size > 64 ? 64 : size;
    size_t got = mc_base64_decode((const char *)data, m, small, sizeof(small));
    CHECK(got <= sizeof(small));
}

/* ---- binary ------------------------------------------------------------------------------------ */

static void check_binary(const uint8_t *data, size_t size) {
    size_t pos = 0;
    for (int k = 0; k < 64 && size - pos >= MCBIN_HEADER; k++) {
        unsigned char head[MCBIN_HEADER];
        memcpy(head, data + pos, MCBIN_HEADER);
        struct mcbin_header h;
        mcbin_parse_header(head, &h);
        CHECK(h.magic == head[0] && h.opcode == head[1]);
        CHECK(h.keylen == (uint16_t)(head[2] << 8 | head[3]) && h.extlen == head[4]);
        CHECK(h.bodylen == ((uint32_t)head[8] << 24 | (uint32_t)head[9] << 16 | (uint32_t)head[10] << 8 | head[11]));
        bool quiet;
        uint8_t loud = mcbin_unquiet(h.opcode, &quiet);
        CHECK(quiet || loud == h.opcode);
        CHECK(mcbin_status_text(h.vbucket) != NULL);
        /* a response for it round-trips */
        struct obuf ob;
        obuf_init(&ob);
        mcbin_w_error(&ob, h.opcode, h.vbucket, h.opaque, NULL);
        struct iovec iov[4];
        int cnt = obuf_iov(&ob, iov, 4);
        CHECK(cnt >= 1 && iov[0].iov_len >= MCBIN_HEADER);
        struct mcbin_header r;
        mcbin_parse_header(iov[0].iov_base, &r);
        CHECK(r.magic == MCBIN_RES && r.opcode == h.opcode && r.vbucket == h.vbucket && r.opaque == h.opaque);
        CHECK(r.bodylen == strlen(mcbin_status_text(h.vbucket)));
        obuf_clear(&ob);
        size_t skip = MCBIN_HEADER + (h.bodylen < size ? h.bodylen : size);
        if (skip > size - pos) break;
        pos += skip;
    }
}

/* ---- writers ------------------------------------------------------------------------------------ */

static void check_writers(const uint8_t *data, size_t size) {
    struct obuf ob;
    obuf_init(&ob);
    size_t klen = size > MC_KEY_MAX ? MC_KEY_MAX : size;
    uint64_t v = 0;
    memcpy(&v, data, size < 8 ? size : 8);
    mc_w_value_header(&ob, (const char *)data, klen, (uint32_t)v, (size_t)(v >> 8), (v & 1) != 0, v);
    mc_w_flag_u64(&ob, 'c', v);
    mc_w_flag_i64(&ob, 't', (int64_t)v);
    mc_w_flag_key(&ob, (const char *)data, klen, (v & 2) != 0);
    CHECK(obuf_pending(&ob) > 0);
    obuf_clear(&ob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_text(data, size);
    check_base64(data, size);
    check_binary(data, size);
    check_writers(data, size);
    return 0;
}

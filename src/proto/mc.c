/*
 * proto/mc.c - memcached text and meta protocol bytes; see mc.h.
 *
 * Every rule here is memcached 1.6's observable behaviour, written anew:
 * where memcached's C-string handling shows through (a NUL ends a line, a
 * 64-bit parse stored in 32 bits), the same result is produced from
 * length-delimited tokens that are never written to.
 */
#include "proto/mc.h"
#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- lines and tokens ------------------------------------------------------------ */

static bool starts_with(const char *p, size_t n, const char *s) {
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

int mc_line(const char *buf, size_t len, size_t *text, size_t *size) {
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        if (len > MC_LINE_SCAN) {
            size_t i = 0;
            while (i < len && buf[i] == ' ') i++;
            if (i > 100 || !(starts_with(buf + i, len - i, "get ") || starts_with(buf + i, len - i, "gets ")))
                return MC_LINE_CLOSE;
        }
        return MC_LINE_MORE;
    }
    size_t el = (size_t)(nl - buf);
    *size = el + 1;
    if (el > 1 && buf[el - 1] == '\r') el--;
    const char *z = memchr(buf, '\0', el);
    *text = z ? (size_t)(z - buf) : el;
    return MC_LINE_OK;
}

void mc_tokenize(const char *p, const char *end, struct mc_tokens *out) {
    int n = 0;
    const char *s = p, *e = p;
    out->rest = NULL;
    out->end = end;
    for (; e < end; e++) {
        if (*e != ' ') continue;
        if (s != e) {
            out->t[n].p = s;
            out->t[n].len = (size_t)(e - s);
            if (++n == MC_TOKENS_MAX - 1) {
                e++;
                out->rest = e < end ? e : NULL;
                out->n = n;
                return;
            }
        }
        s = e + 1;
    }
    if (s != e) {
        out->t[n].p = s;
        out->t[n].len = (size_t)(e - s);
        n++;
    }
    out->n = n;
}

/* ---- numbers ------------------------------------------------------------------------- */

static inline bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* strtoull/strtoll's scan: sign and magnitude of the number at p[0, n);
 * fails when no digit is found, the magnitude overflows 64 bits, or the
 * digits are followed by something else than the end or white space. */
static bool scan(const char *p, size_t n, bool *neg, uint64_t *mag) {
    size_t i = 0;
    while (i < n && is_space(p[i])) i++;
    *neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) *neg = p[i++] == '-';
    size_t start = i;
    uint64_t v = 0;
    bool overflow = false;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) overflow = true;
        v = v * 10 + d;
    }
    if (i == start || overflow) return false;
    if (i < n && !is_space(p[i])) return false;
    *mag = v;
    return true;
}

static bool has_minus(const char *p, size_t n) { return memchr(p, '-', n) != NULL; }

bool mc_parse_u64(const char *p, size_t n, uint64_t *out) {
    bool neg;
    uint64_t mag;
    *out = 0;
    if (!scan(p, n, &neg, &mag)) return false;
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    if ((int64_t)v < 0 && has_minus(p, n)) return false;
    *out = v;
    return true;
}

bool mc_parse_i64(const char *p, size_t n, int64_t *out) {
    bool neg;
    uint64_t mag;
    *out = 0;
    if (!scan(p, n, &neg, &mag)) return false;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX) return false;
    *out = neg ? (int64_t)((uint64_t)0 - mag) : (int64_t)mag;
    return true;
}

bool mc_parse_u32(const char *p, size_t n, uint32_t *out) {
    uint64_t v;
    *out = 0;
    if (!mc_parse_u64(p, n, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

bool mc_parse_i32(const char *p, size_t n, int32_t *out) {
    int64_t v;
    *out = 0;
    if (!mc_parse_i64(p, n, &v)) return false;
    *out = (int32_t)(uint32_t)(uint64_t)v;
    return true;
}

size_t mc_u64_text(char *buf, uint64_t v) { return (size_t)ull_to_str(buf, 21, v); }

/* ---- base64 ----------------------------------------------------------------------------- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of an alphabet byte ('=' counts as 0), -1 for anything else. */
static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    if (c == '=') return 0;
    return -1;
}

size_t mc_base64_decode(const char *src, size_t n, char *out, size_t cap) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (b64_val((unsigned char)src[i]) >= 0) count++;
    if (count == 0 || count % 4 || count / 4 * 3 > cap) return 0;
    unsigned char block[4];
    size_t k = 0, o = 0;
    int pad = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)src[i]);
        if (v < 0) continue;
        if (src[i] == '=') pad++;
        block[k++] = (unsigned char)v;
        if (k < 4) continue;
        out[o++] = (char)((block[0] << 2) | (block[1] >> 4));
        out[o++] = (char)((block[1] << 4) | (block[2] >> 2));
        out[o++] = (char)((block[2] << 6) | block[3]);
        k = 0;
        if (pad) {
            if (pad > 2) return 0;
            o -= (size_t)pad;
            break;
        }
    }
    return o;
}

size_t mc_base64_encode(const char *src, size_t n, char *out) {
    const unsigned char *in = (const unsigned char *)src;
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        out[o++] = b64_chars[in[i] >> 2];
        out[o++] = b64_chars[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = b64_chars[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        out[o++] = b64_chars[in[i + 2] & 63];
    }
    if (n - i == 1) {
        out[o++] = b64_chars[in[i] >> 2];
        out[o++] = b64_chars[(in[i] & 3) << 4];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        out[o++] = b64_chars[in[i] >> 2];
        out[o++] = b64_chars[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = b64_chars[(in[i + 1] & 15) << 2];
        out[o++] = '=';
    }
    return o;
}

/* ---- meta flags -------------------------------------------------------------------------- */

#define E_BAD_TOKEN "CLIENT_ERROR bad token in command line format"

int mc_meta_parse(const struct mc_tokens *t, int start, struct mc_meta *m, const char **err) {
    memset(m, 0, offsetof(struct mc_meta, keybuf));
    *err = NULL;
    m->delta = 1;
    m->key = t->t[1].p;
    m->klen = t->t[1].len;
    bool bad = false;
    uint8_t seen[127] = {0};
    for (int i = start; i < t->n; i++) {
        const struct mc_tok *tk = &t->t[i];
        unsigned char f = (unsigned char)tk->p[0];
        const char *arg = tk->p + 1;
        size_t alen = tk->len - 1;
        if (f >= 127 || seen[f]) {
            *err = "CLIENT_ERROR duplicate flag";
            return -1;
        }
        seen[f] = 1;
        switch (f) {
        case 'b':
            m->klen = mc_base64_decode(t->t[1].p, t->t[1].len, m->keybuf, sizeof(m->keybuf));
            m->key = m->keybuf;
            m->key_binary = true;
            if (m->klen == 0) {
                *err = "CLIENT_ERROR error decoding key";
                bad = true;
            }
            break;
        case 'N':
            m->vivify = true;
            if (!mc_parse_i32(arg, alen, &m->vivify_ttl)) {
                *err = E_BAD_TOKEN;
                bad = true;
            }
            break;
        case 'T':
            if (!mc_parse_i32(arg, alen, &m->ttl)) {
                *err = E_BAD_TOKEN;
                bad = true;
            } else {
                m->new_ttl = true;
            }
            break;
        case 'R':
            m->recache = true;
            if (!mc_parse_i32(arg, alen, &m->recache_ttl)) {
                *err = E_BAD_TOKEN;
                bad = true;
            }
            break;
        case 'l': case 'O': case 'P': case 'L': case 'k': case 's': case 't': case 'c': case 'f': case 'h':
            break;
        case 'v': m->value = true; break;
        case 'u': m->no_update = true; break;
        case 'q': m->no_reply = true; break;
        case 'F':
            m->has_flags = true;
            if (!mc_parse_u32(arg, alen, &m->client_flags)) bad = true;
            break;
        case 'C':
            if (!mc_parse_u64(arg, alen, &m->cas)) {
                *err = E_BAD_TOKEN;
                bad = true;
            } else {
                m->has_cas = true;
            }
            break;
        case 'M':
            if (tk->len != 2) {
                *err = "CLIENT_ERROR incorrect length for M token";
                bad = true;
            } else {
                m->mode = tk->p[1];
            }
            break;
        case 'J':
            if (!mc_parse_u64(arg, alen, &m->initial)) {
                *err = "CLIENT_ERROR invalid numeric initial value";
                bad = true;
            }
            break;
        case 'D':
            if (!mc_parse_u64(arg, alen, &m->delta)) {
                *err = "CLIENT_ERROR invalid numeric delta value";
                bad = true;
            }
            break;
        case 'I': m->set_stale = true; break;
        default: *err = "CLIENT_ERROR invalid flag"; return -1;
        }
    }
    if (bad && *err == NULL) *err = "CLIENT_ERROR bad command line format"; /* memcached's default */
    return bad ? -1 : 0;
}

/* ---- writing ---------------------------------------------------------------------------------- */

void mc_w_line(struct obuf *ob, const char *s, size_t n) {
    char *w = obuf_reserve(ob, n + 2);
    memcpy(w, s, n);
    w[n] = '\r';
    w[n + 1] = '\n';
    obuf_commit(ob, n + 2);
}

void mc_w_value_header(struct obuf *ob, const char *key, size_t klen, uint32_t flags, size_t bytes, bool with_cas,
                       uint64_t cas) {
    char *w = obuf_reserve(ob, klen + 6 + 3 * 22 + 2);
    char *p = w;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, key, klen);
    p += klen;
    *p++ = ' ';
    p += mc_u64_text(p, flags);
    *p++ = ' ';
    p += mc_u64_text(p, bytes);
    if (with_cas) {
        *p++ = ' ';
        p += mc_u64_text(p, cas);
    }
    *p++ = '\r';
    *p++ = '\n';
    obuf_commit(ob, (size_t)(p - w));
}

void mc_w_flag_u64(struct obuf *ob, char flag, uint64_t v) {
    char *w = obuf_reserve(ob, 24);
    w[0] = ' ';
    w[1] = flag;
    obuf_commit(ob, 2 + mc_u64_text(w + 2, v));
}

void mc_w_flag_i64(struct obuf *ob, char flag, int64_t v) {
    if (v >= 0) {
        mc_w_flag_u64(ob, flag, (uint64_t)v);
        return;
    }
    char *w = obuf_reserve(ob, 25);
    w[0] = ' ';
    w[1] = flag;
    w[2] = '-';
    obuf_commit(ob, 3 + mc_u64_text(w + 3, (uint64_t)0 - (uint64_t)v));
}

void mc_w_flag_key(struct obuf *ob, const char *key, size_t klen, bool binary) {
    char *w = obuf_reserve(ob, 2 + 4 * (klen / 3 + 1) + 2);
    char *p = w;
    *p++ = ' ';
    *p++ = 'k';
    if (binary) {
        p += mc_base64_encode(key, klen, p);
        *p++ = ' ';
        *p++ = 'b';
    } else {
        memcpy(p, key, klen);
        p += klen;
    }
    obuf_commit(ob, (size_t)(p - w));
}

void mc_w_stat(struct obuf *ob, const char *name, const char *value) {
    size_t n = strlen(name), v = strlen(value);
    char *w = obuf_reserve(ob, n + v + 9);
    memcpy(w, "STAT ", 5);
    memcpy(w + 5, name, n);
    w[5 + n] = ' ';
    memcpy(w + 6 + n, value, v);
    w[6 + n + v] = '\r';
    w[7 + n + v] = '\n';
    obuf_commit(ob, n + v + 8);
}

void mc_w_statf(struct obuf *ob, const char *name, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    mc_w_stat(ob, name, buf);
}

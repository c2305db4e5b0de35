/*
 * bench/stash-benchmark/codec.c - keys, values and reply scanners (see
 * codec.h for the formats).
 *
 * Scanners work on absolute offsets into the caller's buffer and never read
 * past len. A line is found with memchr('\n') and must end in "\r\n"; a
 * lone '\n' is a protocol error in every format here. Loops are bounded by
 * the buffer: every element consumes at least three bytes.
 */
#include "codec.h"

#include "base/common.h"

#include <string.h>

/* ---- keys and values ------------------------------------------------------- */

static const char letters[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";

static size_t fmt_u64(char *out, uint64_t v, int min_digits) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < min_digits) tmp[n++] = '0';
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return (size_t)n;
}

size_t sb_fmt_u64(char *out, uint64_t v) {
    return fmt_u64(out, v, 1);
}

size_t sb_key_fmt(char *out, const char *prefix, size_t plen, uint64_t idx) {
    memcpy(out, prefix, plen);
    return plen + fmt_u64(out + plen, idx, SB_KEY_DIGITS);
}

/* The tag "<idx>:" of a value; returns its length. */
static size_t value_tag(char *out, uint64_t idx) {
    size_t n = fmt_u64(out, idx, 1);
    out[n++] = ':';
    return n;
}

void sb_value_fill(char *out, size_t len, uint64_t idx) {
    char tag[24];
    size_t t = value_tag(tag, idx);
    if (len <= t) {
        memcpy(out, tag, len);
        return;
    }
    memcpy(out, tag, t);
    for (size_t i = t; i < len;) {
        size_t chunk = MIN(len - i, 26);
        memcpy(out + i, letters + (idx + i) % 26, chunk);
        i += chunk;
    }
}

bool sb_value_eq(const char *p, size_t len, uint64_t idx) {
    char tag[24];
    size_t t = value_tag(tag, idx);
    if (len <= t) return memcmp(p, tag, len) == 0;
    if (memcmp(p, tag, t) != 0) return false;
    for (size_t i = t; i < len;) {
        size_t chunk = MIN(len - i, 26);
        if (memcmp(p + i, letters + (idx + i) % 26, chunk) != 0) return false;
        i += chunk;
    }
    return true;
}

int sb_value_check_any(const char *p, size_t len) {
    uint64_t idx = 0;
    size_t i = 0;
    while (i < len && i < 20 && p[i] >= '0' && p[i] <= '9')
        idx = idx * 10 + (uint64_t)(p[i++] - '0');
    if (i == len) return -1; /* empty, or a cut tag: names no index */
    if (i == 0 || p[i] != ':') return 0;
    return sb_value_eq(p, len, idx) ? 1 : 0;
}

/* ---- shared helpers --------------------------------------------------------- */

/* Index of the '\r' of the first "\r\n" at or after from; -1 none yet;
 * -2 malformed (a '\n' without '\r', or a line over SB_LINE_MAX). */
static long line_end(const char *b, size_t len, size_t from) {
    if (from >= len) return -1;
    const char *nl = memchr(b + from, '\n', len - from);
    if (!nl) return len - from > SB_LINE_MAX ? -2 : -1;
    size_t j = (size_t)(nl - b);
    if (j == from || b[j - 1] != '\r') return -2;
    return (long)(j - 1);
}

static bool parse_ll(const char *p, size_t n, long long *out) {
    bool neg = false;
    if (n && *p == '-') {
        neg = true;
        p++;
        n--;
    }
    if (n == 0 || n > 18) return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static bool starts(const char *p, size_t n, const char *lit) {
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

static bool is_mc_error(const char *p, size_t n) {
    return (n == 5 && memcmp(p, "ERROR", 5) == 0) || starts(p, n, "ERROR ") ||
           starts(p, n, "CLIENT_ERROR") || starts(p, n, "SERVER_ERROR");
}

static long more(size_t *need, size_t at_least) {
    if (need) *need = at_least;
    return SB_SCAN_MORE;
}

/* ---- RESP ------------------------------------------------------------------ */

/* One element at b[off]; returns its end offset, 0 (more) or -1. */
static long resp_elem(const char *b, size_t len, size_t off, int depth, struct sb_resp_reply *r,
                      size_t *need) {
    if (depth > SB_RESP_DEPTH) return SB_SCAN_ERROR;
    if (off + 3 > len) return more(need, off + 3);
    long e = line_end(b, len, off + 1);
    if (e == -2) return SB_SCAN_ERROR;
    if (e == -1) return more(need, len + 1);
    size_t next = (size_t)e + 2;
    const char *line = b + off + 1;
    size_t llen = (size_t)e - off - 1;
    memset(r, 0, sizeof(*r));
    r->type = b[off];
    switch (r->type) {
    case '+':
    case '-':
    case ',':
    case '#':
    case '(':
        r->str = line;
        r->len = llen;
        return (long)next;
    case '_': r->null = true; return llen == 0 ? (long)next : SB_SCAN_ERROR;
    case ':': return parse_ll(line, llen, &r->n) ? (long)next : SB_SCAN_ERROR;
    case '$':
    case '=':
    case '!': {
        if (!parse_ll(line, llen, &r->n)) return SB_SCAN_ERROR;
        if (r->n == -1 && r->type == '$') {
            r->null = true;
            return (long)next;
        }
        if (r->n < 0 || r->n > SB_BULK_MAX) return SB_SCAN_ERROR;
        size_t end = next + (size_t)r->n + 2;
        if (end > len) return more(need, end);
        if (b[end - 2] != '\r' || b[end - 1] != '\n') return SB_SCAN_ERROR;
        r->str = b + next;
        r->len = (size_t)r->n;
        return (long)end;
    }
    case '*':
    case '~':
    case '>':
    case '%': {
        if (!parse_ll(line, llen, &r->n)) return SB_SCAN_ERROR;
        if (r->n == -1 && r->type == '*') {
            r->null = true;
            return (long)next;
        }
        if (r->n < 0 || r->n > (1LL << 30)) return SB_SCAN_ERROR;
        long long count = r->type == '%' ? r->n * 2 : r->n;
        size_t pos = next;
        for (long long i = 0; i < count; i++) {
            struct sb_resp_reply sub;
            long end = resp_elem(b, len, pos, depth + 1, &sub, need);
            if (end <= 0) return end;
            pos = (size_t)end;
        }
        r->str = b + next;
        r->len = pos - next;
        return (long)pos;
    }
    default: /* includes '|' attributes, never requested by this tool */ return SB_SCAN_ERROR;
    }
}

long sb_resp_scan(const char *buf, size_t len, struct sb_resp_reply *r, size_t *need) {
    return resp_elem(buf, len, 0, 0, r, need);
}

/* ---- memcached text ------------------------------------------------------- */

/* "VALUE <key> <flags> <bytes> [<cas>]" -> fields; false if malformed. */
static bool parse_value_line(const char *p, size_t n, struct sb_mc_item *it, long long *bytes) {
    if (!starts(p, n, "VALUE ")) return false;
    const char *tok[5];
    size_t tl[5];
    int nt = 0;
    size_t i = 6;
    while (i < n && nt < 5) {
        while (i < n && p[i] == ' ') i++;
        if (i == n) break;
        size_t s = i;
        while (i < n && p[i] != ' ') i++;
        tok[nt] = p + s;
        tl[nt++] = i - s;
    }
    if (nt < 3 || i < n) return false;
    long long fl;
    if (!parse_ll(tok[1], tl[1], &fl) || fl < 0 || fl > UINT32_MAX) return false;
    if (!parse_ll(tok[2], tl[2], bytes) || *bytes < 0 || *bytes > SB_BULK_MAX) return false;
    it->key = tok[0];
    it->klen = tl[0];
    it->flags = (uint32_t)fl;
    return true;
}

long sb_mc_item_next(const char *p, size_t len, struct sb_mc_item *it) {
    if (len == 0) return 0;
    long e = line_end(p, len, 0);
    if (e < 0) return -1;
    long long bytes;
    if (!parse_value_line(p, (size_t)e, it, &bytes)) return -1;
    size_t data = (size_t)e + 2, end = data + (size_t)bytes + 2;
    if (end > len || p[end - 2] != '\r' || p[end - 1] != '\n') return -1;
    it->data = p + data;
    it->dlen = (size_t)bytes;
    return (long)end;
}

long sb_mc_scan(const char *buf, size_t len, enum sb_mc_kind kind, struct sb_mc_reply *r,
                size_t *need) {
    memset(r, 0, sizeof(*r));
    size_t pos = 0;
    r->items = buf;
    for (;;) {
        long e = line_end(buf, len, pos);
        if (e == -2) return SB_SCAN_ERROR;
        if (e == -1) return more(need, len + 1);
        const char *line = buf + pos;
        size_t llen = (size_t)e - pos, next = (size_t)e + 2;
        if (is_mc_error(line, llen)) {
            r->error = true;
            r->line = line;
            r->line_len = llen;
            return (long)next;
        }
        if (kind == SB_MC_STATUS) {
            r->line = line;
            r->line_len = llen;
            return (long)next;
        }
        if (llen == 3 && memcmp(line, "END", 3) == 0) {
            r->line = line;
            r->line_len = llen;
            r->items_len = pos;
            return (long)next;
        }
        struct sb_mc_item it;
        long long bytes;
        if (!parse_value_line(line, llen, &it, &bytes)) return SB_SCAN_ERROR;
        size_t end = next + (size_t)bytes + 2;
        if (end > len) return more(need, end + 5);
        if (buf[end - 2] != '\r' || buf[end - 1] != '\n') return SB_SCAN_ERROR;
        r->nitems++;
        pos = end;
    }
}

/* ---- memcached meta ------------------------------------------------------- */

/* One response at b[off]: end offset, 0 (more) or -1. */
static long meta_one(const char *b, size_t len, size_t off, struct sb_meta_item *it, size_t *need) {
    long e = line_end(b, len, off);
    if (e == -2) return SB_SCAN_ERROR;
    if (e == -1) return more(need, len + 1);
    memset(it, 0, sizeof(*it));
    const char *line = b + off;
    size_t llen = (size_t)e - off, next = (size_t)e + 2;
    it->line = line;
    it->line_len = llen;
    if (is_mc_error(line, llen)) {
        memcpy(it->code, "ER", 3);
        it->error = true;
        return (long)next;
    }
    if (llen < 2 || (llen > 2 && line[2] != ' ')) return SB_SCAN_ERROR;
    it->code[0] = line[0];
    it->code[1] = line[1];
    it->flags = line + MIN(llen, 3);
    it->flags_len = llen > 3 ? llen - 3 : 0;
    if (memcmp(it->code, "VA", 2) != 0) return (long)next;
    /* VA <size> <flags>* */
    size_t i = 0;
    while (i < it->flags_len && it->flags[i] != ' ') i++;
    long long size;
    if (!parse_ll(it->flags, i, &size) || size < 0 || size > SB_BULK_MAX) return SB_SCAN_ERROR;
    it->flags += i;
    it->flags_len -= i;
    if (it->flags_len && it->flags[0] == ' ') {
        it->flags++;
        it->flags_len--;
    }
    size_t end = next + (size_t)size + 2;
    if (end > len) return more(need, end);
    if (b[end - 2] != '\r' || b[end - 1] != '\n') return SB_SCAN_ERROR;
    it->data = b + next;
    it->dlen = (size_t)size;
    return (long)end;
}

long sb_meta_item_next(const char *p, size_t len, struct sb_meta_item *it) {
    if (len == 0) return 0;
    long e = meta_one(p, len, 0, it, NULL);
    return e > 0 ? e : -1;
}

long sb_meta_scan(const char *buf, size_t len, enum sb_meta_kind kind, struct sb_meta_reply *r,
                  size_t *need) {
    memset(r, 0, sizeof(*r));
    if (kind == SB_META_ONE) return meta_one(buf, len, 0, &r->first, need);
    size_t pos = 0;
    r->items = buf;
    for (;;) {
        struct sb_meta_item it;
        long end = meta_one(buf, len, pos, &it, need);
        if (end <= 0) return end;
        if (memcmp(it.code, "MN", 2) == 0) {
            r->items_len = pos;
            return end;
        }
        if (r->nitems == 0) r->first = it;
        r->nitems++;
        if (it.error) r->nerrors++;
        pos = (size_t)end;
    }
}

bool sb_meta_flag(const struct sb_meta_item *it, char c, const char **tok, size_t *toklen) {
    size_t i = 0, n = it->flags_len;
    const char *f = it->flags;
    while (i < n) {
        while (i < n && f[i] == ' ') i++;
        size_t s = i;
        while (i < n && f[i] != ' ') i++;
        if (i > s && f[s] == c) {
            *tok = f + s + 1;
            *toklen = i - s - 1;
            return true;
        }
    }
    return false;
}

/*
 * proto/resp.c - see resp.h.
 *
 * Parser states: mb_left == 0 and pos == 0 means "at the start of a request";
 * inside a multibulk, bulk_len == -1 means the next thing is a "$<len>\r\n"
 * header, else a bulk of bulk_len bytes plus CRLF. Error texts match Redis
 * 7.0 exactly because clients and test suites compare them.
 */
#include "proto/resp.h"
#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

void resp_parser_init(struct resp_parser *p) {
    memset(p, 0, sizeof(*p));
    resp_parser_reset(p);
}

void resp_parser_free(struct resp_parser *p) {
    xfree(p->offs);
    p->offs = NULL;
    p->argcap = 0;
    xfree(p->line);
    p->line = NULL;
    p->linecap = 0;
}

static void add_arg(struct resp_parser *p, size_t off, size_t len) {
    if (p->argc == p->argcap) {
        uint32_t cap = p->argcap ? p->argcap * 2 : 8;
        p->offs = xrealloc(p->offs, cap * sizeof(*p->offs));
        p->argcap = cap;
    }
    p->offs[p->argc].off = off;
    p->offs[p->argc].len = len;
    p->argc++;
}

static int fail(struct resp_parser *p, const char *msg) {
    snprintf(p->err, sizeof(p->err), "%s", msg);
    return RESP_ERROR;
}

/* ---- inline ------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void push_off(struct resp_argoff **out, uint32_t *cap, int argc, size_t off, size_t len) {
    if ((uint32_t)argc == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 8;
        *out = xrealloc(*out, ncap * sizeof(**out));
        *cap = ncap;
    }
    (*out)[argc].off = off;
    (*out)[argc].len = len;
}

int resp_split_args(char *line, size_t len, struct resp_argoff **out, uint32_t *cap) {
    if (len == 0) return 0;
    /* sdssplitargs works on a C string: a NUL byte ends the line. */
    const char *nul = memchr(line, '\0', len);
    if (nul) len = (size_t)(nul - line);
    size_t i = 0;
    int argc = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)line[i])) i++;
        if (i >= len) return argc;
        /* One argument: unquoted text, and quoted parts that may start in
         * its middle ("a"b is an error, a"b c" is `ab c`). Unescaped text is
         * never longer than its source, so it is written in place. */
        size_t start = i, w = i;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq) {
                if (i >= len) return -1; /* unterminated quotes */
                char c = line[i];
                if (c == '\\' && i + 3 < len && line[i + 1] == 'x' && hexval(line[i + 2]) >= 0 &&
                    hexval(line[i + 3]) >= 0) {
                    line[w++] = (char)(hexval(line[i + 2]) * 16 + hexval(line[i + 3]));
                    i += 4;
                } else if (c == '\\' && i + 1 < len) {
                    char e = line[i + 1];
                    switch (e) {
                    case 'n': e = '\n'; break;
                    case 'r': e = '\r'; break;
                    case 't': e = '\t'; break;
                    case 'b': e = '\b'; break;
                    case 'a': e = '\a'; break;
                    default: break;
                    }
                    line[w++] = e;
                    i += 2;
                } else if (c == '"') {
                    /* The closing quote must be followed by a space or the end. */
                    if (i + 1 < len && !isspace((unsigned char)line[i + 1])) return -1;
                    i++;
                    done = true;
                } else {
                    line[w++] = c;
                    i++;
                }
            } else if (insq) {
                if (i >= len) return -1;
                char c = line[i];
                if (c == '\\' && i + 1 < len && line[i + 1] == '\'') {
                    line[w++] = '\'';
                    i += 2;
                } else if (c == '\'') {
                    if (i + 1 < len && !isspace((unsigned char)line[i + 1])) return -1;
                    i++;
                    done = true;
                } else {
                    line[w++] = c;
                    i++;
                }
            } else if (i >= len) {
                done = true;
            } else {
                char c = line[i];
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t': done = true; break;
                case '"': inq = true; i++; break;
                case '\'': insq = true; i++; break;
                default: line[w++] = c; i++; break;
                }
            }
        }
        push_off(out, cap, argc, start, w - start);
        argc++;
    }
}

/* Inline lines up to this size keep their buffer between requests. */
#define LINE_KEEP 4096

static int parse_inline(struct resp_parser *p, const char *buf, size_t len) {
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        if (len > RESP_INLINE_MAX) return fail(p, "Protocol error: too big inline request");
        return RESP_INCOMPLETE;
    }
    size_t linelen = (size_t)(nl - buf);
    size_t consumed = linelen + 1;
    if (linelen > 0 && buf[linelen - 1] == '\r') linelen--;
    /* Unescape into the parser's line buffer: the request stays intact. */
    if (linelen > p->linecap || (p->linecap > LINE_KEEP && linelen <= LINE_KEEP)) {
        size_t cap = linelen > LINE_KEEP ? linelen : LINE_KEEP;
        xfree(p->line);
        p->line = xmalloc(cap);
        p->linecap = cap;
    }
    if (linelen) memcpy(p->line, buf, linelen);
    int n = resp_split_args(p->line, linelen, &p->offs, &p->argcap);
    if (n < 0) return fail(p, "Protocol error: unbalanced quotes in request");
    p->pos = consumed;
    p->inline_req = true;
    p->argc = (uint32_t)n;
    return n == 0 ? RESP_EMPTY : RESP_COMMAND;
}

/* ---- multibulk ---------------------------------------------------------- */

/* Find "\r\n"-terminated line at buf[pos]; returns the offset of '\r' or -1. */
static inline long find_cr(const char *buf, size_t pos, size_t len) {
    const char *cr = memchr(buf + pos, '\r', len - pos);
    if (cr == NULL) return -1;
    return cr - buf;
}

/* Fast path for a length header "<type><digits>\r": up to 18 digits, no
 * sign, no leading zero (unless "0"), and the byte after '\r' present.
 * Returns the value and sets *next to the position after the CRLF, or -1
 * when the slow path must decide (incomplete, negative, malformed...). */
static inline long long fast_len(const char *buf, size_t pos, size_t len, size_t *next) {
    size_t i = pos + 1;
    size_t end = len < pos + 19 ? len : pos + 19; /* at most 18 digits: no overflow */
    if (i >= end || buf[i] < '0' || buf[i] > '9') return -1;
    if (buf[i] == '0' && i + 1 < end && buf[i + 1] != '\r') return -1;
    long long v = 0;
    while (i < end && (unsigned)(buf[i] - '0') < 10) v = v * 10 + (buf[i++] - '0');
    if (i + 1 >= len || buf[i] != '\r') return -1;
    *next = i + 2;
    return v;
}

int resp_parse(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim) {
    if (p->mb_left == 0) {
        if (len == 0) return RESP_INCOMPLETE;
        if (buf[0] != '*') return parse_inline(p, buf, len);
        size_t next;
        long long fast = fast_len(buf, 0, len, &next);
        if (fast > 0 && fast <= 10) {
            p->pos = next;
            p->mb_left = fast;
            p->bulk_len = -1;
            p->argc = 0;
            goto bulks;
        }
        long cr = find_cr(buf, 0, len);
        if (cr < 0) {
            if (len > RESP_INLINE_MAX) return fail(p, "Protocol error: too big mbulk count string");
            return RESP_INCOMPLETE;
        }
        if ((size_t)cr + 1 >= len) return RESP_INCOMPLETE; /* need the '\n' too */
        long long n;
        bool ok = str_to_ll(buf + 1, (size_t)cr - 1, &n);
        if (!ok || n > INT_MAX) return fail(p, "Protocol error: invalid multibulk length");
        if (n > 10 && lim->unauthenticated)
            return fail(p, "Protocol error: unauthenticated multibulk length");
        p->pos = (size_t)cr + 2;
        if (n <= 0) return RESP_EMPTY;
        p->mb_left = n;
        p->bulk_len = -1;
        p->argc = 0;
    }
bulks:
    while (p->mb_left > 0) {
        if (p->bulk_len < 0) {
            size_t next;
            long long fast = (p->pos < len && buf[p->pos] == '$') ? fast_len(buf, p->pos, len, &next) : -1;
            if (fast >= 0 && fast <= 16384 && fast <= lim->max_bulk) {
                p->pos = next;
                p->bulk_len = fast;
                goto have_len;
            }
            long cr = find_cr(buf, p->pos, len);
            if (cr < 0) {
                if (len - p->pos > RESP_INLINE_MAX)
                    return fail(p, "Protocol error: too big bulk count string");
                return RESP_INCOMPLETE;
            }
            if ((size_t)cr + 1 >= len) return RESP_INCOMPLETE;
            if (buf[p->pos] != '$') {
                snprintf(p->err, sizeof(p->err), "Protocol error: expected '$', got '%c'", buf[p->pos]);
                return RESP_ERROR;
            }
            long long n;
            bool ok = str_to_ll(buf + p->pos + 1, (size_t)cr - p->pos - 1, &n);
            if (!ok || n < 0 || n > lim->max_bulk) return fail(p, "Protocol error: invalid bulk length");
            if (n > 16384 && lim->unauthenticated)
                return fail(p, "Protocol error: unauthenticated bulk length");
            p->pos = (size_t)cr + 2;
            p->bulk_len = n;
        }
    have_len:;
        size_t need = p->pos + (size_t)p->bulk_len + 2;
        if (len < need) {
            p->need = need;
            return RESP_INCOMPLETE;
        }
        add_arg(p, p->pos, (size_t)p->bulk_len);
        p->pos = need;
        p->bulk_len = -1;
        p->mb_left--;
    }
    p->need = 0;
    return RESP_COMMAND;
}

/* ---- writer ------------------------------------------------------------- */

void resp_w_raw(struct obuf *ob, const char *p, size_t n) { obuf_append(ob, p, n); }

static inline char *put_num_line(char *w, char type, long long v) {
    *w++ = type;
    w += ll_to_str(w, STR_LL_MAX, v);
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

void resp_w_simple(struct obuf *ob, const char *s, size_t n) {
    char *w = obuf_reserve(ob, n + 3);
    w[0] = '+';
    memcpy(w + 1, s, n);
    w[n + 1] = '\r';
    w[n + 2] = '\n';
    obuf_commit(ob, n + 3);
}

void resp_w_error(struct obuf *ob, const char *msg, size_t n) {
    char *w = obuf_reserve(ob, n + 3);
    w[0] = '-';
    for (size_t i = 0; i < n; i++) w[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    w[n + 1] = '\r';
    w[n + 2] = '\n';
    obuf_commit(ob, n + 3);
}

void resp_w_int(struct obuf *ob, long long v) {
    char *w = obuf_reserve(ob, STR_LL_MAX + 3);
    char *e = put_num_line(w, ':', v);
    obuf_commit(ob, (size_t)(e - w));
}

void resp_w_bulk_header(struct obuf *ob, size_t n) {
    char *w = obuf_reserve(ob, STR_LL_MAX + 3);
    char *e = put_num_line(w, '$', (long long)n);
    obuf_commit(ob, (size_t)(e - w));
}

void resp_w_bulk(struct obuf *ob, const char *p, size_t n) {
    if (n <= OBUF_CHUNK) {
        char *w = obuf_reserve(ob, n + STR_LL_MAX + 5);
        char *e = put_num_line(w, '$', (long long)n);
        memcpy(e, p, n);
        e += n;
        *e++ = '\r';
        *e++ = '\n';
        obuf_commit(ob, (size_t)(e - w));
        return;
    }
    resp_w_bulk_header(ob, n);
    obuf_append(ob, p, n);
    obuf_append(ob, "\r\n", 2);
}

void resp_w_null(struct obuf *ob, int resp) {
    if (resp >= 3)
        obuf_append(ob, "_\r\n", 3);
    else
        obuf_append(ob, "$-1\r\n", 5);
}

void resp_w_null_array(struct obuf *ob, int resp) {
    if (resp >= 3)
        obuf_append(ob, "_\r\n", 3);
    else
        obuf_append(ob, "*-1\r\n", 5);
}

int resp_fmt_agg(char *out, int resp, char type, long long n) {
    if (resp < 3) {
        if (type == '%') n *= 2;
        type = '*';
    }
    char *e = put_num_line(out, type, n);
    return (int)(e - out);
}

void resp_w_agg(struct obuf *ob, int resp, char type, long long n) {
    char *w = obuf_reserve(ob, STR_LL_MAX + 4);
    obuf_commit(ob, (size_t)resp_fmt_agg(w, resp, type, n));
}

void resp_w_double(struct obuf *ob, int resp, double d) {
    char num[STR_D_MAX];
    int n = d_to_str_17g(num, sizeof(num), d);
    if (resp >= 3) {
        char *w = obuf_reserve(ob, (size_t)n + 3);
        w[0] = ',';
        memcpy(w + 1, num, (size_t)n);
        w[n + 1] = '\r';
        w[n + 2] = '\n';
        obuf_commit(ob, (size_t)n + 3);
    } else {
        resp_w_bulk(ob, num, (size_t)n);
    }
}

void resp_w_bool(struct obuf *ob, int resp, bool v) {
    if (resp >= 3)
        obuf_append(ob, v ? "#t\r\n" : "#f\r\n", 4);
    else
        obuf_append(ob, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_w_verbatim(struct obuf *ob, int resp, const char *fmt3, const char *p, size_t n) {
    if (resp < 3) {
        resp_w_bulk(ob, p, n);
        return;
    }
    char *w = obuf_reserve(ob, STR_LL_MAX + 3);
    char *e = put_num_line(w, '=', (long long)n + 4);
    obuf_commit(ob, (size_t)(e - w));
    obuf_append(ob, fmt3, 3);
    obuf_append(ob, ":", 1);
    obuf_append(ob, p, n);
    obuf_append(ob, "\r\n", 2);
}

void resp_w_bignum(struct obuf *ob, int resp, const char *p, size_t n) {
    if (resp < 3) {
        resp_w_bulk(ob, p, n);
        return;
    }
    char *w = obuf_reserve(ob, n + 3);
    w[0] = '(';
    memcpy(w + 1, p, n);
    w[n + 1] = '\r';
    w[n + 2] = '\n';
    obuf_commit(ob, n + 3);
}

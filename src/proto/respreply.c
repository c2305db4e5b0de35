/*
 * proto/respreply.c - RESP2/RESP3 reply reader; see respreply.h.
 */
#include "proto/respreply.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The line at buf[*pos] up to CRLF: its text (after the type byte) and the
 * position after the CRLF. */
static int line(const char *buf, size_t len, size_t pos, const char **text, size_t *tlen, size_t *next) {
    const char *start = buf + pos + 1;
    const char *end = memchr(start, '\r', len - pos - 1);
    if (end == NULL || (size_t)(end - buf) + 1 >= len || end[1] != '\n') return -1;
    *text = start;
    *tlen = (size_t)(end - start);
    *next = (size_t)(end - buf) + 2;
    return 0;
}

static int parse_ll(const char *p, size_t n, long long *out) {
    if (n == 0 || n > 20) return -1;
    char tmp[24];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end != '\0') return -1;
    *out = v;
    return 0;
}

/* A bulk-like payload of `n` bytes after the header line. */
static int payload(const char *buf, size_t len, size_t *pos, long long n, const char **p) {
    if (n < 0 || (size_t)n > len || *pos > len - (size_t)n || len - *pos - (size_t)n < 2) return -1;
    *p = buf + *pos;
    if (buf[*pos + (size_t)n] != '\r' || buf[*pos + (size_t)n + 1] != '\n') return -1;
    *pos += (size_t)n + 2;
    return 0;
}

int resp_reply_next(const char *buf, size_t len, size_t *pos, struct resp_relem *e) {
    if (*pos >= len) return -1;
    const char *t;
    size_t tl, next;
    if (line(buf, len, *pos, &t, &tl, &next) != 0) return -1;
    char type = buf[*pos];
    *pos = next;
    memset(e, 0, sizeof(*e));
    switch (type) {
    case '+':
    case '-':
        e->type = type == '+' ? RR_STATUS : RR_ERROR;
        e->p = t;
        e->len = tl;
        return 0;
    case ':':
        e->type = RR_INT;
        return parse_ll(t, tl, &e->n);
    case '$':
    case '=':
    case '(': {
        if (type == '(') {
            e->type = RR_BIGNUM;
            e->p = t;
            e->len = tl;
            return 0;
        }
        long long n;
        if (parse_ll(t, tl, &n) != 0) return -1;
        if (n == -1 && type == '$') {
            e->type = RR_NULL_BULK;
            return 0;
        }
        const char *p;
        if (payload(buf, len, pos, n, &p) != 0) return -1;
        if (type == '$') {
            e->type = RR_BULK;
            e->p = p;
            e->len = (size_t)n;
            return 0;
        }
        if (n < 4 || p[3] != ':') return -1;
        e->type = RR_VERBATIM;
        memcpy(e->fmt, p, 3);
        e->fmt[3] = '\0';
        e->p = p + 4;
        e->len = (size_t)n - 4;
        return 0;
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
        long long n;
        if (parse_ll(t, tl, &n) != 0) return -1;
        if (n == -1 && type == '*') {
            e->type = RR_NULL_ARRAY;
            return 0;
        }
        if (n < 0) return -1;
        e->type = type == '*' ? RR_ARRAY : type == '%' ? RR_MAP : type == '~' ? RR_SET : type == '>' ? RR_PUSH : RR_ATTR;
        e->n = n;
        return 0;
    }
    case '_':
        e->type = RR_NULL;
        return tl == 0 ? 0 : -1;
    case '#':
        e->type = RR_BOOL;
        if (tl != 1 || (t[0] != 't' && t[0] != 'f')) return -1;
        e->n = t[0] == 't';
        return 0;
    case ',': {
        e->type = RR_DOUBLE;
        char tmp[400];
        if (tl == 0 || tl >= sizeof(tmp)) return -1;
        memcpy(tmp, t, tl);
        tmp[tl] = '\0';
        if (strcmp(tmp, "inf") == 0 || strcmp(tmp, "+inf") == 0) {
            e->d = INFINITY;
        } else if (strcmp(tmp, "-inf") == 0) {
            e->d = -INFINITY;
        } else if (strcmp(tmp, "nan") == 0 || strcmp(tmp, "-nan") == 0) {
            e->d = NAN;
        } else {
            char *end;
            e->d = strtod(tmp, &end);
            if (*end != '\0') return -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

int resp_reply_skip(const char *buf, size_t len, size_t *pos) {
    /* Iterative: count the elements still to skip. */
    long long todo = 1;
    while (todo > 0) {
        struct resp_relem e;
        if (resp_reply_next(buf, len, pos, &e) != 0) return -1;
        todo--;
        switch (e.type) {
        case RR_ARRAY:
        case RR_SET:
        case RR_PUSH:
            todo += e.n;
            break;
        case RR_MAP:
            todo += 2 * e.n;
            break;
        case RR_ATTR:
            todo += 2 * e.n + 1; /* the pairs, then the reply they describe */
            break;
        default:
            break;
        }
    }
    return 0;
}

/*
 * base/buf.c - see buf.h.
 */
#include "base/buf.h"
#include "base/alloc.h"

#include <stdio.h>

#define BUF_LINEAR_STEP (1024 * 1024)

void buf_free(struct buf *b) {
    xfree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reserve(struct buf *b, size_t extra) {
    size_t need = b->len + extra;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap < BUF_LINEAR_STEP ? cap * 2 : cap + BUF_LINEAR_STEP;
    b->data = xrealloc(b->data, cap);
    b->cap = xusable(b->data);
}

void buf_resize(struct buf *b, size_t cap) {
    if (cap < b->len) cap = b->len;
    if (cap == 0) {
        buf_free(b);
        return;
    }
    b->data = xrealloc(b->data, cap);
    b->cap = xusable(b->data);
}

void buf_append(struct buf *b, const void *p, size_t n) {
    if (n == 0) return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap) {
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        buf_append(b, small, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_consume(struct buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_repr(struct buf *b, const char *s, size_t n) {
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\\': buf_puts(b, "\\\\"); break;
        case '"': buf_puts(b, "\\\""); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\a': buf_puts(b, "\\a"); break;
        case '\b': buf_puts(b, "\\b"); break;
        default:
            if (ch >= 32 && ch < 127)
                buf_putc(b, (char)ch);
            else
                buf_printf(b, "\\x%02x", ch);
        }
    }
    buf_putc(b, '"');
}

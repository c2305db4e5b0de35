/*
 * base/buf.h - a growable contiguous byte buffer.
 *
 * Used for staging (log records, INFO text, query buffers). `data` may be
 * NULL while cap is 0. Growth is geometric up to 1 MiB, then linear in 1 MiB
 * steps, so big buffers do not double past need.
 * Ownership: the buffer owns `data`; buf_free releases it.
 * Thread context: the owner only.
 */
#ifndef STASH_BASE_BUF_H
#define STASH_BASE_BUF_H

#include "base/common.h"

#include <stdarg.h>
#include <string.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_free(struct buf *b);
/* Make room for `extra` more bytes after len. */
void buf_reserve(struct buf *b, size_t extra);
/* Set capacity to exactly cap (>= len); used to shrink idle buffers. */
void buf_resize(struct buf *b, size_t cap);
void buf_append(struct buf *b, const void *p, size_t n);
PRINTF_FMT(2, 3) void buf_printf(struct buf *b, const char *fmt, ...);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Append s[0,n) quoted as Redis's sdscatrepr does: "..." with \\ \" \n \r
 * \t \a \b escaped and other non-printable bytes as \xHH (config errors,
 * MONITOR lines). */
void buf_repr(struct buf *b, const char *s, size_t n);
/* Drop the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

static inline void buf_clear(struct buf *b) { b->len = 0; }
static inline void buf_putc(struct buf *b, char c) {
    if (UNLIKELY(b->len + 1 > b->cap)) buf_reserve(b, 1);
    b->data[b->len++] = c;
}
static inline void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }

#endif

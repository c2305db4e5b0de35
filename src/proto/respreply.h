/*
 * proto/respreply.h - reading RESP2/RESP3 replies (the other direction of
 * resp_w_*): bytes in, one typed element at a time out.
 *
 * The scripting engine runs commands for redis.call() on a client that is
 * not connected and reads the reply bytes back with this parser, as Redis's
 * resp_parser.c does. It is a pull parser: resp_reply_next() decodes the
 * element at *pos and advances past its header (and its payload for
 * scalars); an aggregate reports its element count (pairs for maps and
 * attributes) and the caller reads that many elements next.
 *
 * The input is trusted to be well formed in practice (it was written by
 * resp_w_*), but the parser never reads past `len`: malformed or truncated
 * input gives -1.
 *
 * Thread context: [any]; no state.
 */
#ifndef STASH_PROTO_RESPREPLY_H
#define STASH_PROTO_RESPREPLY_H

#include "base/common.h"

enum resp_rtype {
    RR_STATUS,     /* +text */
    RR_ERROR,      /* -text */
    RR_INT,        /* :n */
    RR_BULK,       /* $len text */
    RR_NULL_BULK,  /* $-1 */
    RR_NULL_ARRAY, /* *-1 */
    RR_NULL,       /* _ (RESP3) */
    RR_ARRAY,      /* *n */
    RR_MAP,        /* %n: n key/value pairs */
    RR_SET,        /* ~n */
    RR_PUSH,       /* >n */
    RR_ATTR,       /* |n: n pairs, then the real reply */
    RR_DOUBLE,     /* ,d */
    RR_BOOL,       /* #t / #f */
    RR_BIGNUM,     /* (digits */
    RR_VERBATIM,   /* =len fmt:text */
};

struct resp_relem {
    enum resp_rtype type;
    const char *p; /* text of STATUS/ERROR/BULK/BIGNUM/VERBATIM (after "fmt:") */
    size_t len;
    long long n;   /* INT value, BOOL 0/1, or aggregate count */
    double d;      /* DOUBLE */
    char fmt[4];   /* VERBATIM format, NUL-terminated */
};

/* Decode the element at buf[*pos]; returns 0 and advances *pos, or -1. */
int resp_reply_next(const char *buf, size_t len, size_t *pos, struct resp_relem *e);
/* Skip one whole element (aggregates included); returns 0 or -1. */
int resp_reply_skip(const char *buf, size_t len, size_t *pos);

#endif

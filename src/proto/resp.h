/*
 * proto/resp.h - RESP2/RESP3 wire format: requests in, replies out.
 *
 * This module knows bytes only: it never sees keys, values or clients.
 *
 * Parsing
 *   A request is a multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an inline
 *   line ("GET k\r\n", with sdssplitargs-style quoting). resp_parse() is
 *   incremental: it keeps its position and the offsets of the arguments
 *   parsed so far relative to the start of the request, so the caller may
 *   move or grow its buffer between calls (offsets stay valid). Multibulk
 *   arguments are offsets into the caller's buffer, which is never written;
 *   inline arguments are unescaped into the parser's own line buffer (so a
 *   request can be parsed again from the same bytes, e.g. after a pause).
 *   resp_arg() turns an offset into a pointer for either kind.
 *
 *   Limits and errors are Redis's, byte for byte ("Protocol error: invalid
 *   bulk length", ...); after RESP_ERROR the caller replies `-ERR <err>` and
 *   closes the connection once the reply is written.
 *
 * Writing
 *   resp_w_* append one reply element to an obuf. `resp` is the protocol
 *   version (2 or 3) where the encodings differ (nulls, maps, doubles...).
 *
 * Thread context: [any]; a parser belongs to one connection.
 */
#ifndef STASH_PROTO_RESP_H
#define STASH_PROTO_RESP_H

#include "base/common.h"
#include "base/obuf.h"

/* Longest line of an inline request or of a length header (Redis). */
#define RESP_INLINE_MAX (64 * 1024)
/* Bulks at least this big get a buffer sized for them up front. */
#define RESP_BIG_ARG (32 * 1024)

struct resp_limits {
    long long max_bulk;  /* proto-max-bulk-len */
    bool unauthenticated; /* a client that must AUTH first: tight limits */
};

enum resp_status {
    RESP_ERROR = -1,     /* protocol error, message in parser->err */
    RESP_INCOMPLETE = 0, /* need more bytes (see resp_parser.need) */
    RESP_COMMAND = 1,    /* a request is ready: argc, args */
    RESP_EMPTY = 2,      /* an empty request was consumed ("*0", blank line) */
};

struct resp_argoff {
    size_t off;
    size_t len;
};

struct resp_parser {
    int64_t mb_left;   /* bulks still to read; 0: not inside a multibulk */
    int64_t bulk_len;  /* length of the bulk being read, -1: header next */
    size_t pos;        /* bytes of this request consumed so far */
    size_t need;       /* total bytes the request needs, when known (hint) */
    uint32_t argc;
    uint32_t argcap;
    struct resp_argoff *offs;
    char err[96];
    bool inline_req;   /* offs point into `line`, not into the request */
    char *line;        /* unescaped inline arguments */
    size_t linecap;
};

void resp_parser_init(struct resp_parser *p);
void resp_parser_free(struct resp_parser *p);
/* Forget the request just returned (keeps the offsets array). */
static inline void resp_parser_reset(struct resp_parser *p) {
    p->mb_left = 0;
    p->bulk_len = -1;
    p->pos = 0;
    p->need = 0;
    p->argc = 0;
    p->inline_req = false;
}

/* Parse the request starting at buf[0] (len bytes available). On
 * RESP_COMMAND/RESP_EMPTY the request spans buf[0, p->pos). The bytes are
 * only read. */
int resp_parse(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim);

/* Argument i of the request just parsed from buf. */
static inline const char *resp_arg(const struct resp_parser *p, const char *buf, uint32_t i) {
    return (p->inline_req ? p->line : buf) + p->offs[i].off;
}

/* Quoted-argument splitting (Redis's sdssplitargs rules, byte for byte)
 * used for inline requests and config files: unescapes line[0,len) in place
 * and stores the argument offsets in *out (grown with xrealloc, capacity
 * *cap). A NUL byte ends the line. Returns the count, or -1 on unbalanced
 * quotes (or a closing quote not followed by a space). */
int resp_split_args(char *line, size_t len, struct resp_argoff **out, uint32_t *cap);

/* ---- writer -------------------------------------------------------------- */

void resp_w_raw(struct obuf *ob, const char *p, size_t n);
void resp_w_simple(struct obuf *ob, const char *s, size_t n);
/* `msg` is the whole error text after '-', e.g. "ERR syntax error"; CR/LF in
 * it are replaced by spaces, as Redis does. */
void resp_w_error(struct obuf *ob, const char *msg, size_t n);
void resp_w_int(struct obuf *ob, long long v);
void resp_w_bulk(struct obuf *ob, const char *p, size_t n);
void resp_w_bulk_header(struct obuf *ob, size_t n);
/* Null bulk: "$-1" (RESP2) or "_" (RESP3). */
void resp_w_null(struct obuf *ob, int resp);
/* Null array: "*-1" (RESP2) or "_" (RESP3). */
void resp_w_null_array(struct obuf *ob, int resp);
/* Aggregate header: type '*' array, '%' map (n pairs), '~' set, '>' push;
 * RESP2 degrades map to an array of 2n and set/push to an array. */
void resp_w_agg(struct obuf *ob, int resp, char type, long long n);
void resp_w_double(struct obuf *ob, int resp, double d);
void resp_w_bool(struct obuf *ob, int resp, bool v);
/* Verbatim string (RESP3 "=len\r\ntxt:..."); RESP2: a bulk. */
void resp_w_verbatim(struct obuf *ob, int resp, const char *fmt3, const char *p, size_t n);
/* Big number (RESP3 '('); RESP2: a bulk. */
void resp_w_bignum(struct obuf *ob, int resp, const char *p, size_t n);
/* The bytes of an aggregate header, for deferred lengths (see obuf_defer). */
int resp_fmt_agg(char *out, int resp, char type, long long n);

#endif

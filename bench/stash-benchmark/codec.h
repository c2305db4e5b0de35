/*
 * bench/stash-benchmark/codec.h - the client side of the wire formats: key
 * and value generation, and reply scanners for RESP2/RESP3, the memcached
 * text protocol and the memcached meta protocol.
 *
 * Requests are written with proto/resp's writer (RESP) or as plain text
 * (memcached) by workload.c; this module parses what comes back.
 *
 * Keys and values
 *   A key is a prefix followed by its index as 12 zero-padded digits
 *   ("key:000000001234", redis-benchmark's layout), so the same key space
 *   can be driven by either tool. The value of index i and length L is
 *   "<i>:" followed by letters 'a' + (i + pos) % 26, cut to L bytes: every
 *   value names its key, so a GET can be checked against what SET wrote,
 *   and a popped list element can be checked on its own.
 *
 * Scanners
 *   All scanners take the bytes received so far, buf[0, len), and return
 *   the length of one complete reply (> 0), SB_SCAN_MORE (0) when more bytes
 *   are needed (then *need, if not NULL, is a lower bound of the total
 *   length, so a caller can skip rescanning until that many bytes arrived),
 *   or SB_SCAN_ERROR (-1) when the bytes are not a valid reply. Nothing is
 *   copied: results point into buf. Aggregates (RESP arrays, memcached
 *   VALUE lists, meta responses up to MN) are returned as a span that the
 *   *_next functions walk element by element.
 *
 * Conventions: sb_ prefix; pure functions without allocation.
 * Thread context: [any].
 */
#ifndef STASH_BENCH_CODEC_H
#define STASH_BENCH_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_SCAN_MORE 0
#define SB_SCAN_ERROR (-1)
/* Longest status line accepted before calling the stream broken. */
#define SB_LINE_MAX (1024 * 1024)
/* Largest value accepted (a bigger length is treated as a broken stream,
 * so a bad server cannot make the client reserve unbounded memory). */
#define SB_BULK_MAX (1LL << 30)
/* Deepest RESP aggregate nesting accepted. */
#define SB_RESP_DEPTH 32

/* ---- keys and values ------------------------------------------------------- */

#define SB_KEY_DIGITS 12
/* Room needed after the prefix for any index. */
#define SB_KEY_NUM_MAX 20

/* Decimal digits of v into out (no NUL); returns the length (<= 20). */
size_t sb_fmt_u64(char *out, uint64_t v);
/* prefix + index (at least 12 digits, zero-padded) into out; returns the
 * length. out needs plen + SB_KEY_NUM_MAX bytes. */
size_t sb_key_fmt(char *out, const char *prefix, size_t plen, uint64_t idx);
/* The value of index idx, len bytes. */
void sb_value_fill(char *out, size_t len, uint64_t idx);
/* p[0, len) == value(idx, len). */
bool sb_value_eq(const char *p, size_t len, uint64_t idx);
/* A value on its own: 1 it is value(i, len) for the i it names, 0 it is not
 * a value of this tool, -1 too short to hold its own index (unknowable). */
int sb_value_check_any(const char *p, size_t len);

/* ---- RESP ------------------------------------------------------------------ */

struct sb_resp_reply {
    char type;       /* the RESP type byte: + - : $ * % ~ > _ , # ( = ! */
    bool null;       /* $-1, *-1 or _ */
    long long n;     /* integer value, bulk length, or element count */
    const char *str; /* simple/error/bulk text; aggregates: first element */
    size_t len;      /* its length; aggregates: bytes of all elements */
};

long sb_resp_scan(const char *buf, size_t len, struct sb_resp_reply *r, size_t *need);
static inline bool sb_resp_is_error(const struct sb_resp_reply *r) {
    return r->type == '-' || r->type == '!';
}

/* ---- memcached text protocol ------------------------------------------------ */

/* What a request expects back: one status line (storage, incr, delete...)
 * or VALUE blocks ended by END (get, gets). */
enum sb_mc_kind { SB_MC_STATUS, SB_MC_RETRIEVE };

struct sb_mc_reply {
    bool error;       /* ERROR, CLIENT_ERROR ..., SERVER_ERROR ... */
    const char *line; /* the status or error line, without CRLF */
    size_t line_len;
    uint32_t nitems;   /* VALUE blocks */
    const char *items; /* span of the VALUE blocks */
    size_t items_len;
};

struct sb_mc_item {
    const char *key;
    size_t klen;
    uint32_t flags;
    const char *data;
    size_t dlen;
};

long sb_mc_scan(const char *buf, size_t len, enum sb_mc_kind kind, struct sb_mc_reply *r,
                size_t *need);
/* Next VALUE block of an items span (from a complete reply): bytes consumed,
 * 0 at the end, -1 if malformed. */
long sb_mc_item_next(const char *p, size_t len, struct sb_mc_item *it);

/* ---- memcached meta protocol --------------------------------------------- */

/* One response (ms, mg, md, mn...), or every response up to and including
 * "MN" (a pipeline of quiet mg's closed by mn). */
enum sb_meta_kind { SB_META_ONE, SB_META_UNTIL_MN };

struct sb_meta_item {
    char code[3]; /* "VA", "HD", "EN", "NS", "EX", "NF", "MN"; "ER" for errors */
    bool error;
    const char *line; /* whole line without CRLF */
    size_t line_len;
    const char *flags; /* return flags after the code (and size for VA) */
    size_t flags_len;
    const char *data; /* VA data block */
    size_t dlen;
};

struct sb_meta_reply {
    struct sb_meta_item first; /* SB_META_ONE: the response */
    uint32_t nitems;           /* SB_META_UNTIL_MN: responses before MN */
    uint32_t nerrors;          /* ... of which error lines */
    const char *items;
    size_t items_len;
};

long sb_meta_scan(const char *buf, size_t len, enum sb_meta_kind kind, struct sb_meta_reply *r,
                  size_t *need);
long sb_meta_item_next(const char *p, size_t len, struct sb_meta_item *it);
/* Token of return flag c ("k" -> the key after 'k'); false if absent. */
bool sb_meta_flag(const struct sb_meta_item *it, char c, const char **tok, size_t *toklen);

#endif

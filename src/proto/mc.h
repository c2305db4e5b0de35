/*
 * proto/mc.h - the memcached text and meta protocols: command lines in,
 * reply bytes out.
 *
 * This module knows bytes only (DESIGN.md, "proto/ knows bytes, not data"):
 * it finds command lines, splits them into tokens exactly as memcached 1.6
 * does, parses numbers with memcached's acceptance rules, parses meta flags,
 * and encodes base64 keys. What a command means, and every reply that
 * depends on the data, is cmd/memcache*.c's business.
 *
 * Lines (memcached's try_read_command_ascii)
 *   A command line ends at '\n'; one '\r' before it is dropped unless the
 *   line is just "\r\n". A NUL byte ends the line's text (memcached runs C
 *   string functions on it). No '\n' within MC_LINE_SCAN bytes: the peer is
 *   not speaking the protocol and the connection closes, unless the bytes
 *   (after at most 100 leading spaces) start "get " or "gets ", the only
 *   commands allowed to be that long (multigets).
 *
 * Tokens (memcached's tokenize_command)
 *   Split on ' ' only (a tab is part of a token); at most MC_TOKENS_MAX - 1
 *   tokens per window; when the window fills, `rest` points at what is left
 *   (a multiget continues with another window).
 *
 * Numbers (memcached's safe_strto* on a token)
 *   Leading white space and a sign are accepted (strtol rules), the digits
 *   must be followed by the end of the token or a white-space byte, values
 *   out of the 64-bit range are refused; a negative number for an unsigned
 *   field is refused unless its magnitude wraps to a non-negative value.
 *   memcached stores some fields in 32 bits after a 64-bit parse: the *_32
 *   variants truncate the same way (two's complement), so "4294967297" as a
 *   length means 1, as it does there.
 *
 * Thread context: [any]; nothing here keeps state between calls.
 */
#ifndef STASH_PROTO_MC_H
#define STASH_PROTO_MC_H

#include "base/common.h"
#include "base/obuf.h"

#define MC_KEY_MAX 250
#define MC_TOKENS_MAX 24     /* memcached's MAX_TOKENS: 23 tokens and the terminal one */
#define MC_LINE_SCAN 2048    /* bytes without a '\n' that end a non-get connection */
#define MC_META_TOKENS_MAX 20 /* meta commands: at most 19 tokens (MFLAG_MAX_OPT_LENGTH) */
#define MC_OPAQUE_MAX 32
#define MC_ITEM_HEADER 48    /* memcached's item header, for the item size rule */
#define MC_REALTIME_MAXDELTA (60 * 60 * 24 * 30) /* exptimes above this are absolute */

/* ---- lines and tokens ------------------------------------------------------ */

enum mc_line_status {
    MC_LINE_CLOSE = -1, /* not a memcached client: close the connection */
    MC_LINE_MORE = 0,   /* no complete line yet */
    MC_LINE_OK = 1,
};

/* Find the command line at buf[0, len). On MC_LINE_OK, *text is the length
 * of the line's text (without "\r\n" or "\n", cut at a NUL byte) and *size
 * the bytes it occupies through the '\n'. */
int mc_line(const char *buf, size_t len, size_t *text, size_t *size);

struct mc_tok {
    const char *p;
    size_t len;
};

/* One window of tokens (memcached's `ntokens` is n + 1: the terminal). */
struct mc_tokens {
    int n;
    struct mc_tok t[MC_TOKENS_MAX - 1];
    const char *rest; /* unsplit remainder when the window filled up, else NULL */
    const char *end;
};

/* Split p[0, end) on spaces into a window of tokens. */
void mc_tokenize(const char *p, const char *end, struct mc_tokens *out);

static inline bool mc_tok_is(const struct mc_tok *t, const char *s) {
    size_t n = strlen(s);
    return t->len == n && memcmp(t->p, s, n) == 0;
}

/* ---- numbers ---------------------------------------------------------------- */

bool mc_parse_u64(const char *p, size_t n, uint64_t *out);  /* safe_strtoull */
bool mc_parse_i64(const char *p, size_t n, int64_t *out);   /* safe_strtoll */
bool mc_parse_u32(const char *p, size_t n, uint32_t *out);  /* safe_strtoul, 64-bit parse then 32 bits */
bool mc_parse_i32(const char *p, size_t n, int32_t *out);   /* safe_strtol, 64-bit parse then 32 bits */

/* Decimal text of v into buf (at least 21 bytes, NUL-terminated); returns the length. */
size_t mc_u64_text(char *buf, uint64_t v);

/* ---- base64 (binary keys of the meta protocol) --------------------------------- */

/* Decode src[0, n) into out (cap bytes) as memcached does: bytes outside
 * the alphabet are skipped, the count of alphabet bytes (and '=') must be a
 * non-zero multiple of 4, decoding stops after the first padded block.
 * Returns the decoded length, 0 on failure. */
size_t mc_base64_decode(const char *src, size_t n, char *out, size_t cap);
/* Encode src[0, n) into out (at least 4 * ((n + 2) / 3) bytes); returns the length. */
size_t mc_base64_encode(const char *src, size_t n, char *out);

/* ---- meta flags --------------------------------------------------------------- */

/* What the flags of a meta command ask for (memcached's _meta_flags). The
 * tokens themselves stay in the caller's mc_tokens: return flags are
 * written in the order the request gave them. */
struct mc_meta {
    bool no_update;  /* u */
    bool vivify;     /* N */
    bool value;      /* v */
    bool set_stale;  /* I */
    bool no_reply;   /* q */
    bool has_cas;    /* C */
    bool new_ttl;    /* T */
    bool key_binary; /* b */
    bool recache;    /* R */
    bool has_flags;  /* F */
    char mode;       /* M: 0 when none */
    int32_t ttl;     /* T */
    int32_t vivify_ttl; /* N */
    int32_t recache_ttl; /* R */
    uint32_t client_flags; /* F */
    uint64_t cas;    /* C */
    uint64_t delta;  /* D (1 when none) */
    uint64_t initial; /* J */
    /* The key, base64-decoded when b was given. */
    const char *key;
    size_t klen;
    char keybuf[MC_KEY_MAX];
};

/* Parse the flags t->t[start..] of a meta command whose key is t->t[1]
 * (memcached's _meta_flag_preparse). Returns 0, or -1 with *err set to the
 * whole error line ("CLIENT_ERROR duplicate flag", ...). Like memcached,
 * a duplicate or unknown flag stops at once; other bad tokens are
 * reported after all flags were read (the last message wins; a bad F
 * token has none of its own: "CLIENT_ERROR bad command line format"), so
 * that a meta set can still tell how many bytes of data to skip. */
int mc_meta_parse(const struct mc_tokens *t, int start, struct mc_meta *m, const char **err);

/* ---- writing ------------------------------------------------------------------- */

/* s and "\r\n". */
void mc_w_line(struct obuf *ob, const char *s, size_t n);
static inline void mc_w_cstr(struct obuf *ob, const char *s) { mc_w_line(ob, s, strlen(s)); }
/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" */
void mc_w_value_header(struct obuf *ob, const char *key, size_t klen, uint32_t flags, size_t bytes, bool with_cas,
                       uint64_t cas);
/* " <c><decimal>" (a meta return flag with a number). */
void mc_w_flag_u64(struct obuf *ob, char flag, uint64_t v);
void mc_w_flag_i64(struct obuf *ob, char flag, int64_t v);
/* " k<key>" with the key base64-encoded and " b" after it when binary. */
void mc_w_flag_key(struct obuf *ob, const char *key, size_t klen, bool binary);
/* "STAT <name> <value>\r\n" */
void mc_w_stat(struct obuf *ob, const char *name, const char *value);
PRINTF_FMT(3, 4) void mc_w_statf(struct obuf *ob, const char *name, const char *fmt, ...);

#endif

/*
 * cmd/bitops.c - the BITMAP family: SETBIT GETBIT BITCOUNT BITPOS BITOP
 * BITFIELD BITFIELD_RO, with Redis 7.0's replies, errors and events.
 *
 * A bitmap is a string value read as bits, most significant bit of the
 * first byte first: bit n is (byte[n / 8] >> (7 - n % 8)) & 1. Reading past
 * the end reads zeros; writing past the end grows the string with zero
 * bytes. An integer-encoded value (ENC_INT) is read as its decimal text and
 * turned into that text before any write (store_str_writable does both).
 *
 * Limits: a bit offset must be non-negative with offset / 8 below
 *   proto-max-bulk-len (512 MB by default, so offset < 2^32), as in Redis.
 *
 * Writes grow the value in place through store_str_writable (inline values
 *   are edited in their entry when they fit, blobs grow greedily); a new key
 *   is created at its exact size. SETBIT and BITFIELD count a change only
 *   when a bit changed or the string was created or grew (Redis 7.0).
 *
 * Effects are propagated as received (SETBIT and BITFIELD are
 * deterministic; BITOP stores a value computed from keys the replica has).
 *
 * Threading: every command runs [stripe-locked] on its keys' stripes.
 */
#include "cmd/cmd.h"
#include "base/alloc.h"
#include "base/str.h"

#include <limits.h>

/* ---- helpers ------------------------------------------------------------------ */

static bool wrongtype(struct client *c, const struct entry *e) {
    if (entry_type(e) != TYPE_STRING) {
        reply_error(c, RERR_WRONGTYPE);
        return true;
    }
    return false;
}

/* Add a new key as a command does (Redis dbAdd: the "new" event). */
static void add_key(struct client *c, const struct store_key *k, struct entry *e,
                    struct store_ref *ref) {
    store_add(c->db, k, e, ref);
    cmd_notify(c, NOTIFY_NEW, "new", k);
}

/* A new raw string entry of len bytes taken from p (zeros when p is NULL). */
static struct entry *raw_entry(const struct store_key *k, const unsigned char *p, size_t len) {
    static const char zeros[ENTRY_EMB_MAX];
    if (len <= ENTRY_EMB_MAX) {
        struct entry *e = entry_new_str(k->ptr, k->len, p ? (const char *)p : zeros, len, -1, true);
        entry_set_enc(e, ENC_RAWEMB);
        return e;
    }
    struct blob *b = blob_new((const char *)p, len, len);
    if (p == NULL) memset(b->data, 0, len);
    return entry_new_obj(k->ptr, k->len, TYPE_STRING, ENC_BLOB, b, -1);
}

/* Redis's getBitOffsetFromArgument: a bit offset from argv[i]; with `hash`,
 * "#N" means N * bits. Replies and returns false when invalid. */
static bool bit_offset(struct client *c, int i, bool hash, int bits, uint64_t *out) {
    const char *p = c->argv[i];
    size_t n = c->argvlen[i];
    size_t skip = (hash && bits > 0 && n > 0 && p[0] == '#') ? 1 : 0;
    long long v;
    if (!str_to_ll(p + skip, n - skip, &v)) goto bad;
    /* "#N": N * bits, wrapping on overflow as Redis's multiplication does
     * (a wrapped result is then judged like any other offset). */
    if (skip) v = (long long)((unsigned long long)v * (unsigned long long)bits);
    if (v < 0 || (v >> 3) >= client_get_proto_max_bulk()) goto bad;
    *out = (uint64_t)v;
    return true;
bad:
    reply_error(c, RERR_BIT_OFFSET);
    return false;
}

/* The string at k, made writable and long enough to hold bit `maxbit`
 * (created, or grown with zero bytes). *grew: created or lengthened.
 * Returns NULL after replying WRONGTYPE. */
static unsigned char *bits_writable(struct client *c, const struct store_key *k, uint64_t maxbit,
                                    size_t *len, bool *grew) {
    size_t need = (size_t)(maxbit >> 3) + 1;
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, k, &ref);
    size_t size;
    if (e == NULL) {
        add_key(c, k, raw_entry(k, NULL, need), &ref);
        size = need;
        *grew = true;
    } else {
        if (wrongtype(c, e)) return NULL;
        size_t cur = entry_str_len(e);
        size = MAX(cur, need);
        *grew = size != cur;
    }
    *len = size;
    return (unsigned char *)store_str_writable(&ref, size);
}

/* The bytes of the string at k for reading (NULL, len 0 when absent);
 * *e_out is the entry. Returns false after replying WRONGTYPE. */
static bool bits_read(struct client *c, int argi, char *numbuf, const unsigned char **p,
                      size_t *len, struct entry **e_out) {
    struct store_key k;
    cmd_key(c, argi, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    *e_out = e;
    *p = NULL;
    *len = 0;
    if (e == NULL) return true;
    if (wrongtype(c, e)) return false;
    *p = (const unsigned char *)entry_str_bytes(e, numbuf, len);
    return true;
}

/* ---- SETBIT GETBIT ------------------------------------------------------------- */

void cmd_setbit(struct client *c) {
    uint64_t off;
    long long on;
    if (!bit_offset(c, 2, false, 0, &off)) return;
    if (!cmd_ll_msg(c, 3, &on, RERR_BIT_ARG)) return;
    if (on & ~1LL) {
        reply_error(c, RERR_BIT_ARG);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    size_t len;
    bool grew;
    unsigned char *p = bits_writable(c, &k, off, &len, &grew);
    if (p == NULL) return;
    size_t byte = (size_t)(off >> 3);
    unsigned shift = 7 - (unsigned)(off & 7);
    int old = (p[byte] >> shift) & 1;
    if (grew || old != on) {
        p[byte] = (unsigned char)((p[byte] & ~(1u << shift)) | ((unsigned)on << shift));
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_STRING, "setbit", &k);
        exec_dirty(c, 1);
    }
    reply_int(c, old);
}

void cmd_getbit(struct client *c) {
    uint64_t off;
    if (!bit_offset(c, 2, false, 0, &off)) return;
    char numbuf[STR_LL_MAX];
    const unsigned char *p;
    size_t len;
    struct entry *e;
    if (!bits_read(c, 1, numbuf, &p, &len, &e)) return;
    uint64_t byte = off >> 3;
    reply_int(c, byte < len ? (p[byte] >> (7 - (off & 7))) & 1 : 0);
}

/* ---- counting and searching ------------------------------------------------------- */

static uint64_t popcount_bytes(const unsigned char *p, size_t n) {
    uint64_t cnt = 0;
    while (n >= 32) {
        uint64_t w[4];
        memcpy(w, p, sizeof(w));
        cnt += (uint64_t)__builtin_popcountll(w[0]) + (uint64_t)__builtin_popcountll(w[1]) +
               (uint64_t)__builtin_popcountll(w[2]) + (uint64_t)__builtin_popcountll(w[3]);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof(w));
        cnt += (uint64_t)__builtin_popcountll(w);
        p += 8;
        n -= 8;
    }
    while (n--) cnt += (uint64_t)__builtin_popcount(*p++);
    return cnt;
}

/* Masks keeping the bits of a byte from bit (s % 8) on / up to bit (e % 8). */
static inline unsigned char mask_from(uint64_t s) {
    return (unsigned char)(0xffu >> (s & 7));
}
static inline unsigned char mask_upto(uint64_t e) {
    return (unsigned char)(0xffu << (7 - (e & 7)));
}

/* Set bits among bits s..e (inclusive, s <= e, both inside p). */
static uint64_t popcount_bits(const unsigned char *p, uint64_t s, uint64_t e) {
    size_t sb = (size_t)(s >> 3), eb = (size_t)(e >> 3);
    if (sb == eb) return (uint64_t)__builtin_popcount(p[sb] & mask_from(s) & mask_upto(e));
    return (uint64_t)__builtin_popcount(p[sb] & mask_from(s)) +
           popcount_bytes(p + sb + 1, eb - sb - 1) +
           (uint64_t)__builtin_popcount(p[eb] & mask_upto(e));
}

static inline int clz8(unsigned v) {
    return __builtin_clz(v) - 24;
}

/* First bit equal to `bit` among bits s..e (inclusive, inside p), or -1. */
static long long find_bit(const unsigned char *p, uint64_t s, uint64_t e, int bit) {
    unsigned flip = bit ? 0 : 0xff; /* search set bits of byte ^ flip */
    size_t sb = (size_t)(s >> 3), eb = (size_t)(e >> 3);
    unsigned v = (p[sb] ^ flip) & mask_from(s);
    if (sb == eb) {
        v &= mask_upto(e);
        return v ? (long long)sb * 8 + clz8(v) : -1;
    }
    if (v) return (long long)sb * 8 + clz8(v);
    size_t i = sb + 1;
    uint64_t skip = bit ? 0 : ~0ULL;
    while (i + 8 <= eb) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        if (w != skip) break;
        i += 8;
    }
    for (; i < eb; i++) {
        v = (p[i] ^ flip) & 0xff;
        if (v) return (long long)i * 8 + clz8(v);
    }
    v = (p[eb] ^ flip) & mask_upto(e);
    return v ? (long long)eb * 8 + clz8(v) : -1;
}

/* BIT or BYTE at argv[i]: *isbit. Replies a syntax error otherwise. */
static bool parse_unit(struct client *c, int i, bool *isbit) {
    if (cmd_arg_is(c, i, "BIT"))
        *isbit = true;
    else if (cmd_arg_is(c, i, "BYTE"))
        *isbit = false;
    else {
        reply_error(c, RERR_SYNTAX);
        return false;
    }
    return true;
}

/* Redis's index normalisation: negative from the end, clamped to the
 * string of `tot` units. */
static void clamp_range(long long tot, long long *start, long long *end) {
    if (*start < 0) *start += tot;
    if (*end < 0) *end += tot;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= tot) *end = tot - 1;
}

void cmd_bitcount(struct client *c) {
    char numbuf[STR_LL_MAX];
    const unsigned char *p;
    size_t len;
    struct entry *e;
    if (!bits_read(c, 1, numbuf, &p, &len, &e)) return;
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    long long start, end;
    bool isbit = false;
    if (c->argc == 4 || c->argc == 5) {
        if (!cmd_ll(c, 2, &start) || !cmd_ll(c, 3, &end)) return;
        if (start < 0 && end < 0 && start > end) {
            reply_int(c, 0);
            return;
        }
        if (c->argc == 5 && !parse_unit(c, 4, &isbit)) return;
        long long tot = (long long)len;
        if (isbit) tot <<= 3;
        clamp_range(tot, &start, &end);
    } else if (c->argc == 2) {
        start = 0;
        end = (long long)len - 1;
    } else {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    if (start > end) {
        reply_int(c, 0);
        return;
    }
    uint64_t n = isbit ? popcount_bits(p, (uint64_t)start, (uint64_t)end)
                       : popcount_bytes(p + start, (size_t)(end - start + 1));
    reply_int(c, (long long)n);
}

void cmd_bitpos(struct client *c) {
    long long bit;
    if (!cmd_ll(c, 2, &bit)) return;
    if (bit != 0 && bit != 1) {
        reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    char numbuf[STR_LL_MAX];
    const unsigned char *p;
    size_t len;
    struct entry *e;
    if (!bits_read(c, 1, numbuf, &p, &len, &e)) return;
    if (e == NULL) {
        /* An absent key is an endless run of zeros. */
        reply_int(c, bit ? -1 : 0);
        return;
    }
    long long start, end;
    bool isbit = false, end_given = false;
    if (c->argc >= 4 && c->argc <= 6) {
        if (!cmd_ll(c, 3, &start)) return;
        if (c->argc == 6 && !parse_unit(c, 5, &isbit)) return;
        if (c->argc >= 5) {
            if (!cmd_ll(c, 4, &end)) return;
            end_given = true;
        } else {
            end = (long long)len - 1;
        }
        long long tot = (long long)len;
        if (isbit) tot <<= 3;
        clamp_range(tot, &start, &end);
    } else if (c->argc == 3) {
        start = 0;
        end = (long long)len - 1;
    } else {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    if (start > end) {
        reply_int(c, -1);
        return;
    }
    uint64_t s = isbit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t last = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    long long pos = find_bit(p, s, last, (int)bit);
    /* Looking for a 0 without an explicit end: the string continues with
     * zeros, so the first one is just past the end. */
    if (pos < 0 && bit == 0 && !end_given) pos = (long long)last + 1;
    reply_int(c, pos);
}

/* ---- BITOP ----------------------------------------------------------------------- */

enum bitop { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

struct bitsrc {
    const unsigned char *p;
    size_t len;
    char num[STR_LL_MAX];
};

/* out (maxlen bytes) = op over the sources, shorter ones zero-padded. */
static void bitop_compute(enum bitop op, const struct bitsrc *src, int n, unsigned char *out,
                          size_t maxlen) {
    if (op == BITOP_NOT) {
        for (size_t i = 0; i < src[0].len; i++) out[i] = (unsigned char)~src[0].p[i];
        return;
    }
    if (src[0].len) memcpy(out, src[0].p, src[0].len);
    memset(out + src[0].len, 0, maxlen - src[0].len);
    for (int k = 1; k < n; k++) {
        const unsigned char *s = src[k].p;
        size_t l = src[k].len;
        switch (op) {
        case BITOP_AND:
            for (size_t i = 0; i < l; i++) out[i] &= s[i];
            memset(out + l, 0, maxlen - l);
            break;
        case BITOP_OR:
            for (size_t i = 0; i < l; i++) out[i] |= s[i];
            break;
        default:
            for (size_t i = 0; i < l; i++) out[i] ^= s[i];
            break;
        }
    }
}

void cmd_bitop(struct client *c) {
    enum bitop op;
    if (cmd_arg_is(c, 1, "AND"))
        op = BITOP_AND;
    else if (cmd_arg_is(c, 1, "OR"))
        op = BITOP_OR;
    else if (cmd_arg_is(c, 1, "XOR"))
        op = BITOP_XOR;
    else if (cmd_arg_is(c, 1, "NOT"))
        op = BITOP_NOT;
    else {
        reply_error(c, RERR_SYNTAX);
        return;
    }
    if (op == BITOP_NOT && c->argc != 4) {
        reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    int n = c->argc - 3;
    struct bitsrc stack_src[8];
    struct bitsrc *src = n <= 8 ? stack_src : xmalloc((size_t)n * sizeof(*src));
    size_t maxlen = 0;
    for (int j = 0; j < n; j++) {
        struct entry *e;
        if (!bits_read(c, j + 3, src[j].num, &src[j].p, &src[j].len, &e)) goto out;
        if (src[j].len > maxlen) maxlen = src[j].len;
    }
    struct store_key k;
    cmd_key(c, 2, &k);
    struct entry *ne = NULL;
    if (maxlen > 0) {
        /* Compute before touching the destination (it may be a source). */
        if (maxlen <= ENTRY_EMB_MAX) {
            unsigned char buf[ENTRY_EMB_MAX];
            bitop_compute(op, src, n, buf, maxlen);
            ne = raw_entry(&k, buf, maxlen);
        } else {
            struct blob *b = blob_new(NULL, maxlen, maxlen);
            bitop_compute(op, src, n, (unsigned char *)b->data, maxlen);
            ne = entry_new_obj(k.ptr, k.len, TYPE_STRING, ENC_BLOB, b, -1);
        }
    }
    struct store_ref ref;
    struct entry *old = cmd_lookup_write(c, &k, &ref);
    if (ne != NULL) {
        if (old)
            store_replace(&ref, ne);
        else
            add_key(c, &k, ne, NULL);
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_STRING, "set", &k);
        exec_dirty(c, 1);
    } else if (old != NULL) {
        cmd_delete(c, &ref);
        exec_dirty(c, 1);
    }
    reply_int(c, (long long)maxlen);
out:
    if (src != stack_src) xfree(src);
}

/* ---- BITFIELD -------------------------------------------------------------------- */

enum bf_op { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

struct bf_step {
    uint64_t off;
    int64_t val; /* SET value or INCRBY increment */
    uint8_t op, ow, bits;
    bool sign;
};

/* bits bits at bit offset off, big-endian; zeros past len. */
static uint64_t bf_get(const unsigned char *p, size_t len, uint64_t off, int bits) {
    uint64_t v = 0;
    for (int i = 0; i < bits; i++, off++) {
        uint64_t byte = off >> 3;
        unsigned b = byte < len ? (p[byte] >> (7 - (off & 7))) & 1u : 0u;
        v = (v << 1) | b;
    }
    return v;
}

static void bf_set(unsigned char *p, uint64_t off, int bits, uint64_t v) {
    for (int i = bits - 1; i >= 0; i--, off++) {
        unsigned char m = (unsigned char)(1u << (7 - (off & 7)));
        if ((v >> i) & 1)
            p[off >> 3] |= m;
        else
            p[off >> 3] &= (unsigned char)~m;
    }
}

static inline uint64_t low_mask(int bits) {
    return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

/* Two's complement value of the low `bits` bits of v. */
static inline int64_t sign_extend(uint64_t v, int bits) {
    if (bits < 64) {
        v &= low_mask(bits);
        if (v & (1ULL << (bits - 1))) v |= ~0ULL << bits;
    }
    return (int64_t)v;
}

/* The value a step stores (*out) given the field's current value `old`;
 * false when it overflows under FAIL (nothing is written). */
static bool bf_signed_result(const struct bf_step *s, int64_t old, int64_t *out) {
    int64_t max = s->bits == 64 ? INT64_MAX : (int64_t)((1ULL << (s->bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t incr = s->op == BF_INCRBY ? s->val : 0;
    int64_t base = s->op == BF_INCRBY ? old : s->val;
    int over = 0; /* 1: above max, -1: below min */
    if (base > max || (incr > 0 && base > max - incr))
        over = 1;
    else if (base < min || (incr < 0 && base < min - incr))
        over = -1;
    if (!over) {
        *out = base + incr;
        return true;
    }
    switch (s->ow) {
    case BF_SAT: *out = over > 0 ? max : min; return true;
    case BF_WRAP: *out = sign_extend((uint64_t)base + (uint64_t)incr, s->bits); return true;
    default: return false;
    }
}

static bool bf_unsigned_result(const struct bf_step *s, uint64_t old, uint64_t *out) {
    uint64_t max = low_mask(s->bits);
    if (s->op == BF_SET) {
        /* The value is taken as unsigned: a negative one is a huge one. */
        uint64_t v = (uint64_t)s->val;
        if (v <= max)
            *out = v;
        else if (s->ow == BF_FAIL)
            return false;
        else
            *out = s->ow == BF_SAT ? max : (v & max);
        return true;
    }
    int64_t incr = s->val;
    int over = 0;
    if (incr > 0 && (uint64_t)incr > max - old)
        over = 1;
    else if (incr < 0 && (incr == INT64_MIN || (uint64_t)(-incr) > old))
        over = -1;
    if (!over) {
        *out = old + (uint64_t)incr;
        return true;
    }
    switch (s->ow) {
    case BF_SAT: *out = over > 0 ? max : 0; return true;
    case BF_WRAP: *out = (old + (uint64_t)incr) & max; return true;
    default: return false;
    }
}

/* Redis's getBitfieldTypeFromArgument: i1..i64 or u1..u63. */
static bool bf_type(struct client *c, int i, bool *sign, int *bits) {
    const char *p = c->argv[i];
    size_t n = c->argvlen[i];
    long long v;
    if (n < 2 || (p[0] != 'i' && p[0] != 'u') || !str_to_ll(p + 1, n - 1, &v) || v < 1 ||
        (p[0] == 'i' && v > 64) || (p[0] == 'u' && v > 63)) {
        reply_error(c, "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
                       "supported but "
                       "i64 is.");
        return false;
    }
    *sign = p[0] == 'i';
    *bits = (int)v;
    return true;
}

/* Parse every step; false after replying. *readonly: only GETs. */
static bool bf_parse(struct client *c, struct bf_step *steps, int *nsteps, bool *readonly,
                     uint64_t *maxbit) {
    int ow = BF_WRAP, n = 0;
    *readonly = true;
    *maxbit = 0;
    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1;
        enum bf_op op;
        if (cmd_arg_is(c, j, "GET") && rem >= 2) {
            op = BF_GET;
        } else if (cmd_arg_is(c, j, "SET") && rem >= 3) {
            op = BF_SET;
        } else if (cmd_arg_is(c, j, "INCRBY") && rem >= 3) {
            op = BF_INCRBY;
        } else if (cmd_arg_is(c, j, "OVERFLOW") && rem >= 1) {
            j++;
            if (cmd_arg_is(c, j, "WRAP"))
                ow = BF_WRAP;
            else if (cmd_arg_is(c, j, "SAT"))
                ow = BF_SAT;
            else if (cmd_arg_is(c, j, "FAIL"))
                ow = BF_FAIL;
            else {
                reply_error(c, "ERR Invalid OVERFLOW type specified");
                return false;
            }
            continue;
        } else {
            reply_error(c, RERR_SYNTAX);
            return false;
        }
        struct bf_step *s = &steps[n];
        bool sign;
        int bits;
        if (!bf_type(c, j + 1, &sign, &bits)) return false;
        if (!bit_offset(c, j + 2, true, bits, &s->off)) return false;
        long long val = 0;
        if (op != BF_GET) {
            *readonly = false;
            if (s->off + (uint64_t)bits - 1 > *maxbit) *maxbit = s->off + (uint64_t)bits - 1;
            if (!cmd_ll(c, j + 3, &val)) return false;
        }
        s->val = val;
        s->op = (uint8_t)op;
        s->ow = (uint8_t)ow;
        s->bits = (uint8_t)bits;
        s->sign = sign;
        n++;
        j += op == BF_GET ? 2 : 3;
    }
    *nsteps = n;
    return true;
}

static void bitfield_generic(struct client *c, bool ro_command) {
    /* Each step takes at least three arguments. */
    int cap = (c->argc - 2) / 3 + 1;
    struct bf_step stack_steps[16];
    struct bf_step *steps = cap <= 16 ? stack_steps : xmalloc((size_t)cap * sizeof(*steps));
    int n;
    bool readonly;
    uint64_t maxbit;
    if (!bf_parse(c, steps, &n, &readonly, &maxbit)) goto out;

    struct store_key k;
    cmd_key(c, 1, &k);
    char numbuf[STR_LL_MAX];
    const unsigned char *rp = NULL;
    unsigned char *wp = NULL;
    size_t len = 0;
    bool grew = false;
    if (readonly) {
        struct entry *e;
        if (!bits_read(c, 1, numbuf, &rp, &len, &e)) goto out;
    } else {
        if (ro_command) {
            reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
            goto out;
        }
        wp = bits_writable(c, &k, maxbit, &len, &grew);
        if (wp == NULL) goto out;
        rp = wp;
    }

    long long changes = 0;
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        const struct bf_step *s = &steps[i];
        uint64_t raw = bf_get(rp, len, s->off, s->bits);
        if (s->op == BF_GET) {
            reply_int(c, s->sign ? sign_extend(raw, s->bits) : (long long)raw);
            continue;
        }
        uint64_t newraw;
        long long ret;
        if (s->sign) {
            int64_t old = sign_extend(raw, s->bits), nv;
            if (!bf_signed_result(s, old, &nv)) {
                reply_null(c);
                continue;
            }
            newraw = (uint64_t)nv & low_mask(s->bits);
            ret = s->op == BF_INCRBY ? nv : old;
        } else {
            uint64_t nv;
            if (!bf_unsigned_result(s, raw, &nv)) {
                reply_null(c);
                continue;
            }
            newraw = nv;
            ret = s->op == BF_INCRBY ? (long long)nv : (long long)raw;
        }
        reply_int(c, ret);
        bf_set(wp, s->off, s->bits, newraw);
        if (grew || newraw != raw) changes++;
    }
    if (changes) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_STRING, "setbit", &k);
        exec_dirty(c, changes);
    }
out:
    if (steps != stack_steps) xfree(steps);
}

/* BITFIELD's key for ACL checks (Redis's bitfieldGetKeys): read-only when
 * every operation is a GET (OVERFLOW aside); a syntax error counts as a
 * write, the safe side. */
int cmd_bitfield_keyperm(int argc, const char *const *argv, const size_t *lens, struct acl_ref *out, int max) {
    bool readonly = true;
    for (int i = 2; i < argc; i++) {
        int left = argc - i - 1;
#define IS(w) (lens[i] == strlen(w) && strncasecmp(argv[i], (w), lens[i]) == 0)
        if (IS("get") && left >= 2) {
            i += 2;
        } else if ((IS("set") || IS("incrby")) && left >= 3) {
            readonly = false;
            break;
        } else if (IS("overflow") && left >= 1) {
            i += 1;
        } else {
            readonly = false;
            break;
        }
#undef IS
    }
    if (max > 0) out[0] = (struct acl_ref){1, readonly ? ACL_PERM_READ : ACL_PERM_ALL};
    return 1;
}

void cmd_bitfield(struct client *c) {
    bitfield_generic(c, false);
}
void cmd_bitfield_ro(struct client *c) {
    bitfield_generic(c, true);
}

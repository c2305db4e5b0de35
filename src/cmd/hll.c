/*
 * cmd/hll.c - the HYPERLOGLOG family: PFADD PFCOUNT PFMERGE, and the test
 * hooks PFDEBUG and PFSELFTEST, with Redis 7.0's replies, errors, events,
 * WATCH signals and effects.
 *
 * Values: an HLL is a string value in Redis's representation (types/hll),
 *   so GET/SET/DUMP see exactly Redis's bytes. A dense value (12,304 bytes,
 *   a blob) is changed in place; a sparse one (a few hundred bytes, inline)
 *   is changed in a working copy that is written back once.
 *
 * Effects: PFADD/PFMERGE as received when they changed something; PFCOUNT
 *   of one key, when it refreshes the cached cardinality inside the value,
 *   counts a change and is propagated too (Redis does, so that replicas
 *   hold the same bytes); PFDEBUG GETREG/TODENSE when they convert.
 *
 * Errors: a string that is not an HLL gets "WRONGTYPE Key is not a valid
 *   HyperLogLog string value."; corrupt sparse data "INVALIDOBJ Corrupted
 *   HLL object detected".
 *
 * Threading: [stripe-locked] on the keys' stripes; PFSELFTEST is keyless.
 */
#include "cmd/zset.h"
#include "base/alloc.h"
#include "base/rand.h"
#include "base/str.h"
#include "config/config.h"
#include "types/hll.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>

#define ERR_INVALID_HLL "INVALIDOBJ Corrupted HLL object detected"
#define ERR_NOT_HLL "WRONGTYPE Key is not a valid HyperLogLog string value."

static _Atomic long long sparse_max_bytes = 3000;

static int apply_sparse_max(long long v, char *err) {
    atomic_store_explicit(&sparse_max_bytes, v, memory_order_relaxed);
    return 0;
}

static struct config_option options[] = {
    {"hll-sparse-max-bytes", NULL, CFG_MEMORY, 0, "3000", 0, LONG_MAX, NULL, apply_sparse_max, NULL,
     NULL, NULL, 0, NULL},
    CFG_END,
};

void cmd_hll_setup(void) {
    config_register(options);
}

static size_t sparse_max(void) {
    return (size_t)atomic_load_explicit(&sparse_max_bytes, memory_order_relaxed);
}

/* The HLL bytes of entry e, or NULL after replying WRONGTYPE (Redis's
 * isHLLObjectOrReply). [stripe-locked] */
static const unsigned char *hll_of(struct client *c, const struct entry *e, size_t *len) {
    if (entry_type(e) != TYPE_STRING) {
        reply_error(c, RERR_WRONGTYPE);
        return NULL;
    }
    struct strval v;
    entry_str_get(e, &v);
    if (v.ptr == NULL || !hll_is_valid((const unsigned char *)v.ptr, v.len)) {
        reply_error(c, ERR_NOT_HLL);
        return NULL;
    }
    *len = v.len;
    return (const unsigned char *)v.ptr;
}

static void buf_from(struct hll_buf *b, const unsigned char *p, size_t len) {
    b->cap = len + 3 > 64 ? len + 3 : 64;
    b->p = xmalloc(b->cap);
    memcpy(b->p, p, len);
    b->len = len;
}

static void buf_new_sparse(struct hll_buf *b) {
    b->cap = 64;
    b->p = xmalloc(b->cap);
    hll_init_sparse(b->p);
    b->len = HLL_SPARSE_EMPTY_SIZE;
}

/* A new key holding the HLL bytes ("new" event). */
static void add_hll_key(struct client *c, const struct store_key *k, const struct hll_buf *b) {
    struct entry *e = entry_new_str(k->ptr, k->len, (const char *)b->p, b->len, -1, true);
    if (entry_enc(e) == ENC_EMBSTR) entry_set_enc(e, ENC_RAWEMB); /* an sds in Redis: "raw" */
    store_add(c->db, k, e, NULL);
    cmd_notify(c, NOTIFY_NEW, "new", k);
}

/* Write b back as the value at ref (keeps the TTL). */
static void write_back(struct store_ref *ref, const struct hll_buf *b) {
    char *w = store_str_writable(ref, b->len);
    memcpy(w, b->p, b->len);
}

/* ---- PFADD ---------------------------------------------------------------------------- */

void cmd_pfadd(struct client *c) {
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    long long updated = 0;
    struct hll_buf b = {NULL, 0, 0};
    if (e == NULL) {
        buf_new_sparse(&b);
        updated++;
    } else {
        size_t len;
        const unsigned char *p = hll_of(c, e, &len);
        if (p == NULL) return;
        if (hll_encoding(p) == HLL_DENSE) {
            /* Dense: change the registers in place. */
            unsigned char *w = (unsigned char *)store_str_writable(&ref, len);
            for (int j = 2; j < c->argc; j++)
                if (hll_dense_add(w, c->argv[j], c->argvlen[j])) updated++;
            if (updated) hll_cache_invalidate(w);
            goto done;
        }
        buf_from(&b, p, len);
    }
    for (int j = 2; j < c->argc; j++) {
        int r = hll_add(&b, c->argv[j], c->argvlen[j], sparse_max());
        if (r < 0) {
            /* Corrupt: what changed so far stays, as in Redis. */
            if (e) write_back(&ref, &b);
            hll_buf_free(&b);
            reply_error(c, ERR_INVALID_HLL);
            return;
        }
        updated += r;
    }
    if (updated) {
        hll_cache_invalidate(b.p);
        if (e)
            write_back(&ref, &b);
        else
            add_hll_key(c, &k, &b);
    }
    hll_buf_free(&b);
done:
    if (updated) {
        cmd_modified(c, &k);
        cmd_notify(c, NOTIFY_STRING, "pfadd", &k);
        exec_dirty(c, updated);
    }
    reply_int(c, updated ? 1 : 0);
}

/* ---- PFCOUNT -------------------------------------------------------------------------- */

void cmd_pfcount(struct client *c) {
    if (c->argc > 2) {
        uint8_t *max = xcalloc(1, HLL_REGISTERS);
        for (int j = 1; j < c->argc; j++) {
            struct store_key k;
            cmd_key(c, j, &k);
            struct entry *e = cmd_lookup_read(c, &k, NULL);
            if (e == NULL) continue;
            size_t len;
            const unsigned char *p = hll_of(c, e, &len);
            if (p == NULL) goto out;
            if (hll_merge(max, p, len) < 0) {
                reply_error(c, ERR_INVALID_HLL);
                goto out;
            }
        }
        reply_int(c, (long long)hll_count_raw(max));
    out:
        xfree(max);
        return;
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_read(c, &k, &ref);
    if (e == NULL) {
        reply_int(c, 0);
        return;
    }
    size_t len;
    const unsigned char *p = hll_of(c, e, &len);
    if (p == NULL) return;
    if (hll_cache_valid(p)) {
        reply_int(c, (long long)hll_cache_get(p));
        return;
    }
    bool invalid = false;
    uint64_t card = hll_count(p, len, &invalid);
    if (invalid) {
        reply_error(c, ERR_INVALID_HLL);
        return;
    }
    /* The refreshed cache is a change of the value: WATCH and replicas see it. */
    unsigned char *w = (unsigned char *)store_str_writable(&ref, len);
    hll_cache_set(w, card);
    cmd_modified(c, &k);
    exec_dirty(c, 1);
    exec_propagate(c, c->argc, c->argv, c->argvlen);
    reply_int(c, (long long)card);
}

/* ---- PFMERGE -------------------------------------------------------------------------- */

void cmd_pfmerge(struct client *c) {
    uint8_t *max = xcalloc(1, HLL_REGISTERS);
    bool use_dense = false;
    struct hll_buf b = {NULL, 0, 0};
    for (int j = 1; j < c->argc; j++) {
        struct store_key k;
        cmd_key(c, j, &k);
        struct entry *e = cmd_lookup_read(c, &k, NULL);
        if (e == NULL) continue;
        size_t len;
        const unsigned char *p = hll_of(c, e, &len);
        if (p == NULL) goto out;
        if (hll_encoding(p) == HLL_DENSE) use_dense = true;
        if (hll_merge(max, p, len) < 0) {
            reply_error(c, ERR_INVALID_HLL);
            goto out;
        }
    }
    struct store_key dk;
    cmd_key(c, 1, &dk);
    struct store_ref ref;
    struct entry *d = cmd_lookup_write(c, &dk, &ref);
    if (d == NULL) {
        buf_new_sparse(&b);
    } else {
        struct strval v;
        entry_str_get(d, &v);
        buf_from(&b, (const unsigned char *)v.ptr, v.len);
    }
    if (use_dense && hll_to_dense(&b) < 0) {
        if (d == NULL) add_hll_key(c, &dk, &b);
        reply_error(c, ERR_INVALID_HLL);
        goto out;
    }
    for (long j = 0; j < HLL_REGISTERS; j++)
        if (max[j]) hll_set(&b, j, max[j], sparse_max());
    hll_cache_invalidate(b.p);
    if (d)
        write_back(&ref, &b);
    else
        add_hll_key(c, &dk, &b);
    cmd_modified(c, &dk);
    cmd_notify(c, NOTIFY_STRING, "pfadd", &dk);
    exec_dirty(c, 1);
    reply_ok(c);
out:
    hll_buf_free(&b);
    xfree(max);
}

/* ---- PFDEBUG PFSELFTEST ---------------------------------------------------------------- */

void cmd_pfdebug(struct client *c) {
    struct store_key k;
    cmd_key(c, 2, &k);
    struct store_ref ref;
    struct entry *e = cmd_lookup_write(c, &k, &ref);
    if (e == NULL) {
        reply_error(c, "ERR The specified key does not exist");
        return;
    }
    size_t len;
    const unsigned char *p = hll_of(c, e, &len);
    if (p == NULL) return;
    bool getreg = cmd_arg_is(c, 1, "GETREG"), todense = cmd_arg_is(c, 1, "TODENSE");
    bool decode = cmd_arg_is(c, 1, "DECODE"), encoding = cmd_arg_is(c, 1, "ENCODING");
    if (!getreg && !todense && !decode && !encoding) {
        reply_errorf(c, "ERR Unknown PFDEBUG subcommand '%.*s'",
                     (int)MIN(c->argvlen[1], (size_t)128), c->argv[1]);
        return;
    }
    if (c->argc != 3) {
        reply_errorf(c, "ERR Wrong number of arguments for the '%.*s' subcommand",
                     (int)MIN(c->argvlen[1], (size_t)128), c->argv[1]);
        return;
    }
    if (encoding) {
        reply_simple(c, hll_encoding(p) == HLL_DENSE ? "dense" : "sparse");
        return;
    }
    if (decode) {
        if (hll_encoding(p) != HLL_SPARSE) {
            reply_error(c, "ERR HLL encoding is not sparse");
            return;
        }
        struct buf out = BUF_INIT;
        const unsigned char *q = p + HLL_HDR_SIZE, *end = p + len;
        while (q < end) {
            if ((*q & 0xc0) == 0) {
                buf_printf(&out, "z:%d ", (*q & 0x3f) + 1);
                q++;
            } else if ((*q & 0xc0) == 0x40) {
                unsigned lo = q + 1 < end ? q[1] : 0;
                buf_printf(&out, "Z:%d ", (int)(((*q & 0x3f) << 8 | lo) + 1));
                q += 2;
            } else {
                buf_printf(&out, "v:%d,%d ", ((*q >> 2) & 0x1f) + 1, (*q & 3) + 1);
                q++;
            }
        }
        size_t n = out.len;
        while (n > 0 && out.data[n - 1] == ' ') n--;
        reply_bulk(c, n ? out.data : "", n);
        buf_free(&out);
        return;
    }
    bool converted = false;
    if (hll_encoding(p) == HLL_SPARSE) {
        struct hll_buf b;
        buf_from(&b, p, len);
        if (hll_to_dense(&b) < 0) {
            hll_buf_free(&b);
            reply_error(c, ERR_INVALID_HLL);
            return;
        }
        write_back(&ref, &b);
        hll_buf_free(&b);
        converted = true;
        exec_dirty(c, 1);
        e = store_ref_entry(&ref);
        p = hll_of(c, e, &len);
    }
    if (todense) {
        reply_int(c, converted ? 1 : 0);
        return;
    }
    reply_array(c, HLL_REGISTERS);
    for (long j = 0; j < HLL_REGISTERS; j++) reply_int(c, hll_dense_get(p, j));
}

void cmd_pfselftest(struct client *c) {
    unsigned char *dense = xcalloc(1, HLL_DENSE_SIZE);
    uint8_t *bytes = xmalloc(HLL_REGISTERS);
    struct hll_buf sp = {NULL, 0, 0};
    memcpy(dense, "HYLL", 4);
    /* Registers read back what was written. */
    for (int cycle = 0; cycle < 1000; cycle++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            bytes[i] = (uint8_t)(rand_u64() & 63);
            hll_dense_put(dense, i, bytes[i]);
        }
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t v = hll_dense_get(dense, i);
            if (v != bytes[i]) {
                reply_errorf(c, "TESTFAILED Register %ld should be %d but is %d", i, bytes[i], v);
                goto out;
            }
        }
    }
    memset(dense + HLL_HDR_SIZE, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    /* Dense and sparse agree, and the error stays within bounds. */
    buf_new_sparse(&sp);
    double relerr = 1.04 / sqrt(HLL_REGISTERS);
    long long checkpoint = 1;
    uint64_t seed = rand_u64();
    for (uint64_t j = 1; j <= 10000000; j++) {
        uint64_t ele = j ^ seed;
        hll_dense_add(dense, &ele, sizeof(ele));
        hll_add(&sp, &ele, sizeof(ele), sparse_max());
        if ((long long)j != checkpoint) continue;
        if (j < sparse_max() / 2 && hll_encoding(sp.p) != HLL_SPARSE) {
            reply_error(c, "TESTFAILED sparse encoding not used");
            goto out;
        }
        if (hll_count(dense, HLL_DENSE_SIZE, NULL) != hll_count(sp.p, sp.len, NULL)) {
            reply_error(c, "TESTFAILED dense/sparse disagree");
            goto out;
        }
        long long abserr = checkpoint - (long long)hll_count(dense, HLL_DENSE_SIZE, NULL);
        unsigned long long maxerr = (unsigned long long)ceil(relerr * 6 * (double)checkpoint);
        if (j == 10) maxerr = 1;
        if (abserr < 0) abserr = -abserr;
        if (abserr > (long long)maxerr) {
            reply_errorf(c, "TESTFAILED Too big error. card:%llu abserr:%llu",
                         (unsigned long long)checkpoint, (unsigned long long)abserr);
            goto out;
        }
        checkpoint *= 10;
    }
    reply_ok(c);
out:
    hll_buf_free(&sp);
    xfree(bytes);
    xfree(dense);
}

/*
 * bench/stash-benchmark/workload.h - the operations a benchmark sends: how
 * each is encoded for a protocol and how its reply is verified.
 *
 * An operation (enum sb_op) is one request: "get", "set", "mget" (a
 * multi-key read: MGET for RESP, "get k1 k2 ..." for memcached text, a
 * pipeline of quiet "mg" closed by "mn" for meta) and, for RESP, the
 * redis-benchmark commands ping, incr, lpush, rpush, lpop, rpop, sadd, hset,
 * spop, zadd, zpopmin, lrange_<n>, mset. Key names follow redis-benchmark
 * (key:<12 digits>, counter:..., mylist, myset, myhash, myzset, element:...)
 * so the two tools drive the same data.
 *
 * Verification is total: every reply is scanned completely and classified
 *   SB_V_OK        the expected type, and the expected content where it is
 *                  knowable (a GET hit returns exactly what SET stores for
 *                  that key, a popped element is a well-formed value)
 *   SB_V_MISS      the expected "nothing" (nil GET, END without VALUE, EN)
 *   SB_V_ERROR     an error reply (-ERR, SERVER_ERROR, ...): message kept
 *   SB_V_MISMATCH  anything else: wrong type, wrong content, wrong key
 * and only OK and MISS count as successes.
 *
 * Conventions: sb_ prefix. Thread context: [any]; a workload is read-only
 * once built, encoders use the calling thread's random state.
 */
#ifndef STASH_BENCH_WORKLOAD_H
#define STASH_BENCH_WORKLOAD_H

#include "keydist.h"

#include "base/obuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sb_proto { SB_PROTO_RESP, SB_PROTO_MC_TEXT, SB_PROTO_MC_META };

enum sb_op {
    SB_OP_PING,
    SB_OP_SET,
    SB_OP_GET,
    SB_OP_MGET,
    SB_OP_MSET,
    SB_OP_INCR,
    SB_OP_LPUSH,
    SB_OP_RPUSH,
    SB_OP_LPOP,
    SB_OP_RPOP,
    SB_OP_SADD,
    SB_OP_SPOP,
    SB_OP_HSET,
    SB_OP_ZADD,
    SB_OP_ZPOPMIN,
    SB_OP_LRANGE,
    SB_OP_COUNT
};

/* Most keys one request may carry (MGET/MSET/multi-get). */
#define SB_MULTI_MAX 1000

/* One operation of a test, with its weight in a mix. */
struct sb_opspec {
    enum sb_op op;
    uint32_t arg;  /* lrange_<arg> */
    double weight; /* share in a mixed test (> 0) */
    char name[24]; /* as reported: "SET", "GET", "LRANGE_100", ... */
};

struct sb_workload {
    enum sb_proto proto;
    size_t vsize;   /* -d */
    uint32_t multi; /* keys per multi-key request */
    struct sb_keydist dist;
    char prefix[64]; /* string key prefix, "key:" */
    size_t plen;
    bool verify_content; /* compare values (off: types only) */
};

enum sb_verdict_kind { SB_V_OK, SB_V_MISS, SB_V_ERROR, SB_V_MISMATCH };

struct sb_verdict {
    enum sb_verdict_kind kind;
    bool content_checked; /* a value was compared byte for byte */
    const char *msg;      /* ERROR/MISMATCH: text (error line or reason) */
    size_t msg_len;
};

/* Parse an operation name ("get", "lrange_100", ...) for a protocol into
 * *spec (weight 1). Returns 0, or -1 with a message in err. */
int sb_op_parse(const char *name, enum sb_proto proto, struct sb_opspec *spec, char *err,
                size_t errlen);

/* Append one request for spec to ob. Its key indexes go to keys[] (room for
 * wl->multi), their count is returned. seq_key != UINT64_MAX forces the
 * (first) key index, for sequential fills. */
uint32_t sb_op_encode(const struct sb_workload *wl, const struct sb_opspec *spec, struct obuf *ob,
                      uint64_t *keys, uint64_t seq_key);

/* Scan and verify the reply at buf[0, len) to a request of spec whose keys
 * were keys[0, nkeys). Returns its length (> 0) and fills *v, 0 when more
 * bytes are needed (*need: lower bound of the total), -1 when the stream is
 * not a valid reply (protocol error: the connection is unusable). */
long sb_op_verify(const struct sb_workload *wl, const struct sb_opspec *spec, const char *buf,
                  size_t len, const uint64_t *keys, uint32_t nkeys, size_t *need,
                  struct sb_verdict *v);

/* Setup requests (RESP AUTH/HELLO/SELECT, memcached text authentication)
 * and their verification: OK or the error text. */
void sb_enc_resp_argv(struct obuf *ob, int argc, const char *const *argv);
void sb_enc_mc_auth(struct obuf *ob, const char *user, const char *pass);

#endif

/* Unit tests of bench/stash-benchmark/workload: the exact bytes of the
 * requests for each protocol, and the verdict on good, empty, error, wrong
 * and partial replies (an error must never be classified as a success). */
#include "../test.h"

#include "codec.h"
#include "workload.h"

#include "base/alloc.h"

static void setup(struct sb_workload *wl, enum sb_proto p, size_t vsize, uint32_t multi) {
    char err[128];
    memset(wl, 0, sizeof(*wl));
    wl->proto = p;
    wl->vsize = vsize;
    wl->multi = multi;
    wl->verify_content = true;
    memcpy(wl->prefix, "key:", 4);
    wl->plen = 4;
    sb_keydist_init(&wl->dist, "uniform", 100000, true, err, sizeof(err));
}

static struct sb_opspec op(const char *name, enum sb_proto p) {
    struct sb_opspec s;
    char err[128];
    if (sb_op_parse(name, p, &s, err, sizeof(err)) < 0) abort();
    return s;
}

/* Encode one request with a forced key; return its bytes as a string. */
static char *encode(const struct sb_workload *wl, const char *name, uint64_t key, uint64_t *keys,
                    uint32_t *nkeys) {
    struct obuf ob;
    obuf_init(&ob);
    struct sb_opspec s = op(name, wl->proto);
    *nkeys = sb_op_encode(wl, &s, &ob, keys, key);
    char *out = xmalloc(obuf_pending(&ob) + 1);
    size_t n = 0;
    struct iovec iov[64];
    int k = obuf_iov(&ob, iov, 64);
    for (int i = 0; i < k; i++) {
        memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    out[n] = 0;
    obuf_clear(&ob);
    return out;
}

static enum sb_verdict_kind verify(const struct sb_workload *wl, const char *name,
                                   const char *reply, const uint64_t *keys, uint32_t nkeys,
                                   long *consumed) {
    struct sb_opspec s = op(name, wl->proto);
    struct sb_verdict v;
    size_t need;
    *consumed = sb_op_verify(wl, &s, reply, strlen(reply), keys, nkeys, &need, &v);
    return v.kind;
}

#define EXPECT_VERDICT(wl, name, reply, keys, nkeys, want)                                         \
    do {                                                                                           \
        long consumed_;                                                                            \
        enum sb_verdict_kind k_ = verify(wl, name, reply, keys, nkeys, &consumed_);                \
        TEST_EXPECT_INT(consumed_, (long)strlen(reply));                                           \
        TEST_EXPECT_INT(k_, want);                                                                 \
    } while (0)

TEST(parse_names) {
    struct sb_opspec s;
    char err[128];
    TEST_EXPECT(sb_op_parse("get", SB_PROTO_MC_TEXT, &s, err, sizeof(err)) == 0);
    TEST_EXPECT_STR(s.name, "GET");
    TEST_EXPECT(sb_op_parse("lrange_100", SB_PROTO_RESP, &s, err, sizeof(err)) == 0);
    TEST_EXPECT(s.op == SB_OP_LRANGE && s.arg == 100);
    TEST_EXPECT_STR(s.name, "LRANGE_100");
    TEST_EXPECT(sb_op_parse("lpush", SB_PROTO_MC_META, &s, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_op_parse("nope", SB_PROTO_RESP, &s, err, sizeof(err)) < 0);
    TEST_EXPECT(sb_op_parse("lrange_0", SB_PROTO_RESP, &s, err, sizeof(err)) < 0);
}

TEST(resp_requests) {
    struct sb_workload wl;
    setup(&wl, SB_PROTO_RESP, 8, 3);
    uint64_t keys[8];
    uint32_t nk;
    char *s = encode(&wl, "set", 7, keys, &nk);
    TEST_EXPECT_STR(s, "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000007\r\n$8\r\n7:jklmno\r\n");
    TEST_EXPECT(nk == 1 && keys[0] == 7);
    xfree(s);
    s = encode(&wl, "get", 99, keys, &nk);
    TEST_EXPECT_STR(s, "*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000099\r\n");
    xfree(s);
    s = encode(&wl, "mget", 5, keys, &nk);
    TEST_EXPECT_STR(s, "*4\r\n$4\r\nMGET\r\n$16\r\nkey:000000000005\r\n$16\r\nkey:000000000006\r\n"
                       "$16\r\nkey:000000000007\r\n");
    TEST_EXPECT(nk == 3 && keys[2] == 7);
    xfree(s);
    s = encode(&wl, "incr", 1, keys, &nk);
    TEST_EXPECT_STR(s, "*2\r\n$4\r\nINCR\r\n$20\r\ncounter:000000000001\r\n");
    xfree(s);
    s = encode(&wl, "zadd", 12, keys, &nk);
    TEST_EXPECT_STR(
        s, "*4\r\n$4\r\nZADD\r\n$6\r\nmyzset\r\n$2\r\n12\r\n$20\r\nelement:000000000012\r\n");
    xfree(s);
    s = encode(&wl, "lrange_100", 0, keys, &nk);
    TEST_EXPECT_STR(s, "*4\r\n$6\r\nLRANGE\r\n$6\r\nmylist\r\n$1\r\n0\r\n$2\r\n99\r\n");
    xfree(s);
    s = encode(&wl, "ping", 0, keys, &nk);
    TEST_EXPECT_STR(s, "*1\r\n$4\r\nPING\r\n");
    xfree(s);
}

TEST(memcache_requests) {
    struct sb_workload wl;
    setup(&wl, SB_PROTO_MC_TEXT, 4, 2);
    uint64_t keys[8];
    uint32_t nk;
    char *s = encode(&wl, "set", 3, keys, &nk);
    TEST_EXPECT_STR(s, "set key:000000000003 0 0 4\r\n3:fg\r\n");
    xfree(s);
    s = encode(&wl, "get", 3, keys, &nk);
    TEST_EXPECT_STR(s, "get key:000000000003\r\n");
    xfree(s);
    s = encode(&wl, "mget", 3, keys, &nk);
    TEST_EXPECT_STR(s, "get key:000000000003 key:000000000004\r\n");
    TEST_EXPECT_INT(nk, 2);
    xfree(s);
    wl.proto = SB_PROTO_MC_META;
    s = encode(&wl, "set", 3, keys, &nk);
    TEST_EXPECT_STR(s, "ms key:000000000003 4\r\n3:fg\r\n");
    xfree(s);
    s = encode(&wl, "get", 3, keys, &nk);
    TEST_EXPECT_STR(s, "mg key:000000000003 v\r\n");
    xfree(s);
    s = encode(&wl, "mget", 3, keys, &nk);
    TEST_EXPECT_STR(s, "mg key:000000000003 k v q\r\nmg key:000000000004 k v q\r\nmn\r\n");
    xfree(s);
}

TEST(resp_verdicts) {
    struct sb_workload wl;
    setup(&wl, SB_PROTO_RESP, 8, 2);
    uint64_t k7[] = {7, 8};
    EXPECT_VERDICT(&wl, "set", "+OK\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "set", "-OOM command not allowed\r\n", k7, 1, SB_V_ERROR);
    EXPECT_VERDICT(&wl, "set", "+QUEUED\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "set", ":1\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "get", "$8\r\n7:jklmno\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "get", "$-1\r\n", k7, 1, SB_V_MISS);
    EXPECT_VERDICT(&wl, "get", "_\r\n", k7, 1, SB_V_MISS);
    EXPECT_VERDICT(&wl, "get", "$8\r\n8:klmnop\r\n", k7, 1, SB_V_MISMATCH); /* another key's */
    EXPECT_VERDICT(&wl, "get", "$3\r\nxxx\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "get", "-WRONGTYPE Operation against a key\r\n", k7, 1, SB_V_ERROR);
    EXPECT_VERDICT(&wl, "get", "+OK\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "mget", "*2\r\n$8\r\n7:jklmno\r\n$-1\r\n", k7, 2, SB_V_OK);
    EXPECT_VERDICT(&wl, "mget", "*2\r\n$-1\r\n$-1\r\n", k7, 2, SB_V_MISS);
    EXPECT_VERDICT(&wl, "mget", "*1\r\n$-1\r\n", k7, 2, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "mget", "*2\r\n$-1\r\n$8\r\n7:jklmno\r\n", k7, 2, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "incr", ":12\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "incr", "-ERR value is not an integer or out of range\r\n", k7, 1,
                   SB_V_ERROR);
    EXPECT_VERDICT(&wl, "lpush", ":3\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "lpush", ":0\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "lpop", "$8\r\n9:lmnopq\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "lpop", "$8\r\n9:lXnopq\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "lpop", "$-1\r\n", k7, 1, SB_V_MISS);
    EXPECT_VERDICT(&wl, "spop", "$20\r\nelement:000000000012\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "spop", "$3\r\nabc\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "sadd", ":1\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "sadd", ":2\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "zpopmin", "*2\r\n$20\r\nelement:000000000012\r\n$2\r\n12\r\n", k7, 1,
                   SB_V_OK);
    EXPECT_VERDICT(&wl, "zpopmin", "*0\r\n", k7, 1, SB_V_MISS);
    EXPECT_VERDICT(&wl, "zpopmin", "*1\r\n$1\r\na\r\n", k7, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "lrange_2", "*2\r\n$8\r\n9:lmnopq\r\n$8\r\n7:jklmno\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "lrange_2", "*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n", k7, 1,
                   SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "ping", "+PONG\r\n", k7, 0, SB_V_OK);
    EXPECT_VERDICT(&wl, "ping", "-NOAUTH Authentication required.\r\n", k7, 0, SB_V_ERROR);
    EXPECT_VERDICT(&wl, "mset", "+OK\r\n", k7, 2, SB_V_OK);
    /* types only */
    wl.verify_content = false;
    EXPECT_VERDICT(&wl, "get", "$3\r\nxxx\r\n", k7, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "get", ":3\r\n", k7, 1, SB_V_MISMATCH);
}

TEST(partial_and_pipelined_replies) {
    struct sb_workload wl;
    setup(&wl, SB_PROTO_RESP, 8, 2);
    uint64_t k7[] = {7, 8};
    const char *stream = "+OK\r\n$8\r\n7:jklmno\r\n-ERR x\r\n$-1\r\n";
    const char *ops[] = {"set", "get", "get", "get"};
    const enum sb_verdict_kind want[] = {SB_V_OK, SB_V_OK, SB_V_ERROR, SB_V_MISS};
    size_t len = strlen(stream), off = 0;
    for (int i = 0; i < 4; i++) {
        struct sb_opspec s = op(ops[i], wl.proto);
        struct sb_verdict v;
        size_t need;
        /* Every strict prefix of this reply is "more". */
        long whole = sb_op_verify(&wl, &s, stream + off, len - off, k7, 1, &need, &v);
        TEST_ASSERT(whole > 0);
        TEST_EXPECT_INT(v.kind, want[i]);
        for (long cut = 0; cut < whole; cut++)
            TEST_EXPECT_INT(sb_op_verify(&wl, &s, stream + off, (size_t)cut, k7, 1, &need, &v), 0);
        off += (size_t)whole;
    }
    TEST_EXPECT_INT(off, len);
}

TEST(memcache_verdicts) {
    struct sb_workload wl;
    setup(&wl, SB_PROTO_MC_TEXT, 4, 3);
    uint64_t k[] = {3, 4, 5};
    EXPECT_VERDICT(&wl, "set", "STORED\r\n", k, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "set", "NOT_STORED\r\n", k, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "set", "SERVER_ERROR out of memory storing object\r\n", k, 1, SB_V_ERROR);
    EXPECT_VERDICT(&wl, "get", "VALUE key:000000000003 0 4\r\n3:fg\r\nEND\r\n", k, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "get", "END\r\n", k, 1, SB_V_MISS);
    EXPECT_VERDICT(&wl, "get", "VALUE key:000000000004 0 4\r\n3:fg\r\nEND\r\n", k, 1,
                   SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "get", "VALUE key:000000000003 0 4\r\n3:fX\r\nEND\r\n", k, 1,
                   SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "get", "ERROR\r\n", k, 1, SB_V_ERROR);
    EXPECT_VERDICT(
        &wl, "mget",
        "VALUE key:000000000003 0 4\r\n3:fg\r\nVALUE key:000000000005 0 4\r\n5:hi\r\nEND\r\n", k, 3,
        SB_V_OK);
    /* out of order */
    EXPECT_VERDICT(
        &wl, "mget",
        "VALUE key:000000000005 0 4\r\n5:hi\r\nVALUE key:000000000003 0 4\r\n3:fg\r\nEND\r\n", k, 3,
        SB_V_MISMATCH);
    wl.proto = SB_PROTO_MC_META;
    EXPECT_VERDICT(&wl, "set", "HD\r\n", k, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "set", "NS\r\n", k, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "get", "VA 4\r\n3:fg\r\n", k, 1, SB_V_OK);
    EXPECT_VERDICT(&wl, "get", "EN\r\n", k, 1, SB_V_MISS);
    EXPECT_VERDICT(&wl, "get", "VA 4\r\n4:gh\r\n", k, 1, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "get", "CLIENT_ERROR bad command line format\r\n", k, 1, SB_V_ERROR);
    EXPECT_VERDICT(&wl, "mget", "VA 4 kkey:000000000004\r\n4:gh\r\nMN\r\n", k, 3, SB_V_OK);
    EXPECT_VERDICT(&wl, "mget", "MN\r\n", k, 3, SB_V_MISS);
    EXPECT_VERDICT(&wl, "mget", "VA 4 kkey:000000000009\r\n9:lm\r\nMN\r\n", k, 3, SB_V_MISMATCH);
    EXPECT_VERDICT(&wl, "mget", "SERVER_ERROR busy\r\nMN\r\n", k, 3, SB_V_ERROR);
}

int main(void) {
    return test_run_all();
}

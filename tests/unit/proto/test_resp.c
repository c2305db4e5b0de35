/* Unit tests of proto/resp: parsing (whole and byte by byte), Redis's
 * protocol errors, inline quoting, and the writer's encodings. */
#include "../test.h"

#include "base/alloc.h"
#include "proto/resp.h"

static const struct resp_limits LIM = {512 * 1024 * 1024LL, false};

/* Parse `in` fed one byte at a time (exercising resumption) and return the
 * status of the first complete result. */
static int parse_bytewise(struct resp_parser *p, const char *in, size_t len, char *buf) {
    int st = RESP_INCOMPLETE;
    for (size_t n = 1; n <= len; n++) {
        memcpy(buf, in, n);
        st = resp_parse(p, buf, n, &LIM);
        if (st != RESP_INCOMPLETE) return st;
    }
    return st;
}

static int parse_str(struct resp_parser *p, const char *in, char *buf) {
    size_t len = strlen(in);
    memcpy(buf, in, len);
    return resp_parse(p, buf, len, &LIM);
}

TEST(multibulk_whole_and_bytewise) {
    const char *req = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
    char buf[128];
    for (int mode = 0; mode < 2; mode++) {
        struct resp_parser p;
        resp_parser_init(&p);
        int st = mode ? parse_bytewise(&p, req, strlen(req), buf) : parse_str(&p, req, buf);
        TEST_ASSERT(st == RESP_COMMAND);
        TEST_EXPECT_INT(p.argc, 3);
        TEST_EXPECT_INT(p.pos, strlen(req));
        TEST_EXPECT(memcmp(buf + p.offs[0].off, "SET", 3) == 0 && p.offs[0].len == 3);
        TEST_EXPECT(memcmp(buf + p.offs[2].off, "hello", 5) == 0 && p.offs[2].len == 5);
        resp_parser_free(&p);
    }
}

TEST(pipelined_requests_consume_one_at_a_time) {
    char buf[128];
    const char *req = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
    size_t len = strlen(req);
    memcpy(buf, req, len);
    struct resp_parser p;
    resp_parser_init(&p);
    TEST_ASSERT(resp_parse(&p, buf, len, &LIM) == RESP_COMMAND);
    size_t used = p.pos;
    TEST_EXPECT_INT(used, 14);
    resp_parser_reset(&p);
    TEST_ASSERT(resp_parse(&p, buf + used, len - used, &LIM) == RESP_COMMAND);
    TEST_EXPECT_INT(p.pos, 14);
    resp_parser_free(&p);
}

TEST(empty_requests) {
    char buf[64];
    struct resp_parser p;
    resp_parser_init(&p);
    TEST_EXPECT(parse_str(&p, "*0\r\n", buf) == RESP_EMPTY && p.pos == 4);
    resp_parser_reset(&p);
    TEST_EXPECT(parse_str(&p, "*-1\r\n", buf) == RESP_EMPTY);
    resp_parser_reset(&p);
    TEST_EXPECT(parse_str(&p, "\r\n", buf) == RESP_EMPTY && p.pos == 2);
    resp_parser_free(&p);
}

static void expect_error(int *test_failed_, const char *in, const char *msg) {
    char buf[256];
    struct resp_parser p;
    resp_parser_init(&p);
    int st = parse_str(&p, in, buf);
    TEST_EXPECT(st == RESP_ERROR);
    if (st == RESP_ERROR) TEST_EXPECT_STR(p.err, msg);
    resp_parser_free(&p);
}

TEST(protocol_errors_match_redis) {
    expect_error(test_failed_, "*abc\r\n", "Protocol error: invalid multibulk length");
    expect_error(test_failed_, "*3000000000\r\n", "Protocol error: invalid multibulk length");
    expect_error(test_failed_, "*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
    expect_error(test_failed_, "*1\r\n$-10\r\n", "Protocol error: invalid bulk length");
    expect_error(test_failed_, "*1\r\n$2000000000\r\n", "Protocol error: invalid bulk length");
    expect_error(test_failed_, "SET \"unterminated\r\n", "Protocol error: unbalanced quotes in request");
    expect_error(test_failed_, "SET \"a\"b\r\n", "Protocol error: unbalanced quotes in request");
}

TEST(too_big_headers) {
    size_t n = RESP_INLINE_MAX + 10;
    char *buf = xmalloc(n);
    memset(buf, 'a', n);
    struct resp_parser p;
    resp_parser_init(&p);
    TEST_EXPECT(resp_parse(&p, buf, n, &LIM) == RESP_ERROR);
    TEST_EXPECT_STR(p.err, "Protocol error: too big inline request");
    resp_parser_reset(&p);
    buf[0] = '*';
    TEST_EXPECT(resp_parse(&p, buf, n, &LIM) == RESP_ERROR);
    TEST_EXPECT_STR(p.err, "Protocol error: too big mbulk count string");
    resp_parser_reset(&p);
    memcpy(buf, "*1\r\n$", 5);
    TEST_EXPECT(resp_parse(&p, buf, n, &LIM) == RESP_ERROR);
    TEST_EXPECT_STR(p.err, "Protocol error: too big bulk count string");
    resp_parser_free(&p);
    xfree(buf);
}

TEST(unauthenticated_limits) {
    struct resp_limits lim = {512 * 1024 * 1024LL, true};
    char buf[64];
    struct resp_parser p;
    resp_parser_init(&p);
    strcpy(buf, "*11\r\n");
    TEST_EXPECT(resp_parse(&p, buf, strlen(buf), &lim) == RESP_ERROR);
    TEST_EXPECT_STR(p.err, "Protocol error: unauthenticated multibulk length");
    resp_parser_reset(&p);
    strcpy(buf, "*1\r\n$16385\r\n");
    TEST_EXPECT(resp_parse(&p, buf, strlen(buf), &lim) == RESP_ERROR);
    TEST_EXPECT_STR(p.err, "Protocol error: unauthenticated bulk length");
    resp_parser_free(&p);
}

TEST(inline_quoting) {
    char buf[128];
    struct resp_parser p;
    resp_parser_init(&p);
    int st = parse_str(&p, "set \"a b\\x41\\n\" 'it\\'s'  plain\r\n", buf);
    TEST_ASSERT(st == RESP_COMMAND);
    TEST_ASSERT(p.argc == 4);
    TEST_EXPECT(p.offs[1].len == 5 && memcmp(resp_arg(&p, buf, 1), "a bA\n", 5) == 0);
    TEST_EXPECT(p.offs[2].len == 4 && memcmp(resp_arg(&p, buf, 2), "it's", 4) == 0);
    TEST_EXPECT(p.offs[3].len == 5 && memcmp(resp_arg(&p, buf, 3), "plain", 5) == 0);
    resp_parser_free(&p);
}

static char *drain(struct obuf *ob) {
    static char out[4096];
    struct iovec iov[16];
    int n = obuf_iov(ob, iov, 16);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(out + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    out[off] = '\0';
    obuf_advance(ob, off);
    return out;
}

TEST(writer_encodings) {
    struct obuf ob;
    obuf_init(&ob);
    resp_w_simple(&ob, "OK", 2);
    resp_w_error(&ob, "ERR bad\r\nthing", 14);
    resp_w_int(&ob, -42);
    resp_w_bulk(&ob, "hi", 2);
    resp_w_null(&ob, 2);
    resp_w_null(&ob, 3);
    resp_w_agg(&ob, 2, '%', 2);
    resp_w_agg(&ob, 3, '%', 2);
    resp_w_double(&ob, 2, 1.5);
    resp_w_double(&ob, 3, 1.5);
    resp_w_bool(&ob, 3, true);
    TEST_EXPECT_STR(drain(&ob), "+OK\r\n-ERR bad  thing\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n_\r\n*4\r\n%2\r\n"
                                "$3\r\n1.5\r\n,1.5\r\n#t\r\n");
    TEST_EXPECT_INT(obuf_pending(&ob), 0);
    obuf_clear(&ob);
}

TEST(writer_deferred_length) {
    struct obuf ob;
    obuf_init(&ob);
    struct onode *d = obuf_defer(&ob);
    resp_w_bulk(&ob, "a", 1);
    resp_w_bulk(&ob, "b", 1);
    char hdr[32];
    int n = resp_fmt_agg(hdr, 2, '*', 2);
    obuf_defer_set(&ob, d, hdr, (size_t)n);
    TEST_EXPECT_STR(drain(&ob), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    obuf_clear(&ob);
}

int main(void) { return test_run_all(); }

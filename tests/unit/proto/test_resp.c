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


/* Split a C string; returns argc and copies the args into out[] as strings. */
static int split(const char *in, char out[][64]) {
    char line[256];
    size_t n = strlen(in);
    memcpy(line, in, n);
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    int argc = resp_split_args(line, n, &offs, &cap);
    for (int i = 0; i < argc; i++) {
        memcpy(out[i], line + offs[i].off, offs[i].len);
        out[i][offs[i].len] = '\0';
    }
    xfree(offs);
    return argc;
}

TEST(split_args_like_sdssplitargs) {
    char a[8][64];
    TEST_EXPECT_INT(split("", a), 0);
    TEST_EXPECT_INT(split("   \t ", a), 0);
    TEST_ASSERT(split("a  b\tc", a) == 3);
    TEST_EXPECT_STR(a[2], "c");
    /* quotes may start inside an argument */
    TEST_ASSERT(split("a\"b c\" d", a) == 2);
    TEST_EXPECT_STR(a[0], "ab c");
    TEST_ASSERT(split("x'y z'", a) == 1);
    TEST_EXPECT_STR(a[0], "xy z");
    /* a closing quote must be followed by a space or the end */
    TEST_EXPECT_INT(split("\"a\"b", a), -1);
    TEST_EXPECT_INT(split("'a'b", a), -1);
    TEST_EXPECT_INT(split("\"abc", a), -1);
    TEST_EXPECT_INT(split("'abc", a), -1);
    TEST_EXPECT_INT(split("\"abc\\", a), -1);
    /* escapes */
    TEST_ASSERT(split("\"\\x41\\x4g\\q\\\"\"", a) == 1);
    TEST_EXPECT_STR(a[0], "Ax4gq\"");
    TEST_ASSERT(split("'\\n\\''", a) == 1);
    TEST_EXPECT_STR(a[0], "\\n'");
    /* only space, tab, CR and LF end an unquoted argument */
    TEST_ASSERT(split("a\vb c", a) == 2);
    TEST_EXPECT_STR(a[0], "a\vb");
    /* but any isspace() separates arguments */
    TEST_ASSERT(split("\va \fb", a) == 2);
    TEST_EXPECT_STR(a[0], "a");
    /* empty quoted arguments */
    TEST_ASSERT(split("\"\" ''", a) == 2);
    TEST_EXPECT_STR(a[0], "");
    TEST_EXPECT_STR(a[1], "");
}

TEST(inline_parse_leaves_the_request_intact) {
    const char *req = "SET k \"a\\x41\"\r\n";
    char buf[64];
    size_t n = strlen(req);
    memcpy(buf, req, n);
    struct resp_parser p;
    resp_parser_init(&p);
    TEST_ASSERT(resp_parse(&p, buf, n, &LIM) == RESP_COMMAND);
    TEST_EXPECT(memcmp(buf, req, n) == 0);
    TEST_EXPECT(p.offs[2].len == 2 && memcmp(resp_arg(&p, buf, 2), "aA", 2) == 0);
    /* parsing the same bytes again gives the same request (a paused client) */
    resp_parser_reset(&p);
    TEST_ASSERT(resp_parse(&p, buf, n, &LIM) == RESP_COMMAND);
    TEST_EXPECT(p.offs[2].len == 2 && memcmp(resp_arg(&p, buf, 2), "aA", 2) == 0);
    /* a NUL byte ends an inline line */
    resp_parser_reset(&p);
    memcpy(buf, "ECHO a\0b c\r\n", 12);
    TEST_ASSERT(resp_parse(&p, buf, 12, &LIM) == RESP_COMMAND);
    TEST_EXPECT_INT(p.argc, 2);
    TEST_EXPECT_INT(p.pos, 12);
    resp_parser_free(&p);
}

TEST(writer_resp3_types_and_resp2_fallbacks) {
    struct obuf ob;
    obuf_init(&ob);
    resp_w_double(&ob, 3, 1.0 / 0.0);
    resp_w_double(&ob, 3, -1.0 / 0.0);
    resp_w_double(&ob, 2, -1.0 / 0.0);
    resp_w_double(&ob, 3, 0.1);
    resp_w_bool(&ob, 2, false);
    resp_w_bool(&ob, 3, false);
    resp_w_null_array(&ob, 2);
    resp_w_null_array(&ob, 3);
    resp_w_agg(&ob, 2, '~', 3);
    resp_w_agg(&ob, 3, '~', 3);
    resp_w_agg(&ob, 2, '>', 2);
    resp_w_agg(&ob, 3, '>', 2);
    resp_w_verbatim(&ob, 3, "txt", "hi", 2);
    resp_w_verbatim(&ob, 2, "txt", "hi", 2);
    resp_w_bignum(&ob, 3, "123", 3);
    resp_w_bignum(&ob, 2, "123", 3);
    TEST_EXPECT_STR(drain(&ob), ",inf\r\n,-inf\r\n$4\r\n-inf\r\n,0.10000000000000001\r\n:0\r\n#f\r\n"
                                "*-1\r\n_\r\n*3\r\n~3\r\n*2\r\n>2\r\n=6\r\ntxt:hi\r\n$2\r\nhi\r\n"
                                "(123\r\n$3\r\n123\r\n");
    obuf_clear(&ob);
}

TEST(big_bulk_is_read_in_place) {
    /* need is announced as soon as the header is parsed */
    char buf[64];
    struct resp_parser p;
    resp_parser_init(&p);
    strcpy(buf, "*2\r\n$3\r\nGET\r\n$100000\r\nab");
    TEST_ASSERT(resp_parse(&p, buf, strlen(buf), &LIM) == RESP_INCOMPLETE);
    TEST_EXPECT_INT(p.bulk_len, 100000);
    TEST_EXPECT_INT(p.need, strlen("*2\r\n$3\r\nGET\r\n$100000\r\n") + 100000 + 2);
    resp_parser_free(&p);
}

int main(void) { return test_run_all(); }

/* Unit tests of bench/stash-benchmark/codec: keys and values, and the RESP,
 * memcached text and meta reply scanners on whole, partial (every cut
 * point), pipelined and malformed input. */
#include "../test.h"

#include "codec.h"

/* ---- keys and values ---- */

TEST(key_format) {
    char k[64];
    size_t n = sb_key_fmt(k, "key:", 4, 1234);
    k[n] = 0;
    TEST_EXPECT_STR(k, "key:000000001234");
    n = sb_key_fmt(k, "p", 1, 0);
    k[n] = 0;
    TEST_EXPECT_STR(k, "p000000000000");
    n = sb_key_fmt(k, "", 0, 12345678901234ULL);
    k[n] = 0;
    TEST_EXPECT_STR(k, "12345678901234");
    n = sb_fmt_u64(k, 18446744073709551615ULL);
    k[n] = 0;
    TEST_EXPECT_STR(k, "18446744073709551615");
}

TEST(values_name_their_key) {
    char v[200];
    sb_value_fill(v, 10, 42);
    /* "42:" then letters 'a' + (42 + pos) % 26 from pos 3: (45 % 26) = 19 -> 't' */
    TEST_EXPECT(memcmp(v, "42:tuvwxyz", 10) == 0);
    TEST_EXPECT(sb_value_eq(v, 10, 42));
    TEST_EXPECT(!sb_value_eq(v, 10, 43));
    TEST_EXPECT_INT(sb_value_check_any(v, 10), 1);
    v[7] = 'A';
    TEST_EXPECT(!sb_value_eq(v, 10, 42));
    TEST_EXPECT_INT(sb_value_check_any(v, 10), 0);
    /* Shorter than the tag: a prefix of it; knowable only with the key. */
    sb_value_fill(v, 2, 123);
    TEST_EXPECT(memcmp(v, "12", 2) == 0);
    TEST_EXPECT(sb_value_eq(v, 2, 123));
    TEST_EXPECT(!sb_value_eq(v, 2, 456));
    TEST_EXPECT_INT(sb_value_check_any(v, 2), -1);
    TEST_EXPECT_INT(sb_value_check_any("xxx", 3), 0);
    TEST_EXPECT_INT(sb_value_check_any(":ab", 3), 0);
    /* Long values wrap the alphabet. */
    sb_value_fill(v, 200, 7);
    TEST_EXPECT(sb_value_eq(v, 200, 7));
    TEST_EXPECT_INT(sb_value_check_any(v, 200), 1);
    TEST_EXPECT(v[2 + 26] == v[2]);
}

/* ---- RESP ---- */

static long scan(const char *s, struct sb_resp_reply *r) {
    return sb_resp_scan(s, strlen(s), r, NULL);
}

TEST(resp_simple_types) {
    struct sb_resp_reply r;
    TEST_EXPECT_INT(scan("+OK\r\n", &r), 5);
    TEST_EXPECT(r.type == '+' && r.len == 2 && memcmp(r.str, "OK", 2) == 0);
    TEST_EXPECT_INT(scan("-ERR wrong\r\n", &r), 12);
    TEST_EXPECT(sb_resp_is_error(&r) && r.len == 9);
    TEST_EXPECT_INT(scan(":-42\r\n", &r), 6);
    TEST_EXPECT(r.type == ':' && r.n == -42);
    TEST_EXPECT_INT(scan("$5\r\nhello\r\n", &r), 11);
    TEST_EXPECT(r.type == '$' && r.len == 5 && !r.null);
    TEST_EXPECT_INT(scan("$0\r\n\r\n", &r), 6);
    TEST_EXPECT(r.len == 0 && !r.null);
    TEST_EXPECT_INT(scan("$-1\r\n", &r), 5);
    TEST_EXPECT(r.null);
    TEST_EXPECT_INT(scan("*-1\r\n", &r), 5);
    TEST_EXPECT(r.null && r.type == '*');
    TEST_EXPECT_INT(scan("$3\r\na\r\n\r\n", &r), 9); /* CRLF inside a bulk */
}

TEST(resp3_types) {
    struct sb_resp_reply r;
    TEST_EXPECT_INT(scan("_\r\n", &r), 3);
    TEST_EXPECT(r.null);
    TEST_EXPECT_INT(scan(",3.14\r\n", &r), 7);
    TEST_EXPECT_INT(scan("#t\r\n", &r), 4);
    TEST_EXPECT_INT(scan("(12345678901234567890\r\n", &r), 23);
    TEST_EXPECT_INT(scan("=8\r\ntxt:abcd\r\n", &r), 14);
    TEST_EXPECT_INT(scan("!5\r\nERR x\r\n", &r), 11);
    TEST_EXPECT(sb_resp_is_error(&r));
    const char *map = "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n~1\r\n:2\r\n";
    TEST_EXPECT_INT(scan(map, &r), (long)strlen(map));
    TEST_EXPECT(r.type == '%' && r.n == 2);
}

TEST(resp_aggregates) {
    struct sb_resp_reply r, e;
    const char *a = "*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n+x\r\n";
    TEST_EXPECT_INT(scan(a, &r), (long)strlen(a));
    TEST_EXPECT(r.type == '*' && r.n == 3);
    /* Walk the elements. */
    size_t off = 0;
    long n = sb_resp_scan(r.str + off, r.len - off, &e, NULL);
    TEST_EXPECT(n == 7 && e.type == '$' && e.len == 1);
    off += (size_t)n;
    n = sb_resp_scan(r.str + off, r.len - off, &e, NULL);
    TEST_EXPECT(n == 5 && e.null);
    off += (size_t)n;
    n = sb_resp_scan(r.str + off, r.len - off, &e, NULL);
    TEST_EXPECT(n > 0 && e.type == '*' && e.n == 2);
    off += (size_t)n;
    TEST_EXPECT_INT(off, r.len);
    TEST_EXPECT_INT(scan("*0\r\n", &r), 4);
}

/* Every strict prefix is incomplete, with a need hint that is never more
 * than the whole; the whole scans to its length. */
static void check_cuts(int *test_failed_, const char *s) {
    size_t len = strlen(s);
    struct sb_resp_reply r;
    for (size_t cut = 0; cut < len; cut++) {
        size_t need = 0;
        long n = sb_resp_scan(s, cut, &r, &need);
        if (n != SB_SCAN_MORE || need <= cut || need > len + 1) {
            fprintf(stderr, "  cut %zu of %s: n=%ld need=%zu\n", cut, s, n, need);
            (*test_failed_)++;
        }
    }
    TEST_EXPECT_INT(sb_resp_scan(s, len, &r, NULL), (long)len);
}

TEST(resp_partial_replies) {
    check_cuts(test_failed_, "+OK\r\n");
    check_cuts(test_failed_, "$10\r\n0123456789\r\n");
    check_cuts(test_failed_, "*2\r\n$3\r\nfoo\r\n*1\r\n:7\r\n");
    check_cuts(test_failed_, "%1\r\n+k\r\n$-1\r\n");
}

TEST(resp_pipelined_replies) {
    const char *p = "+OK\r\n$3\r\nabc\r\n:5\r\n-ERR e\r\n*1\r\n$1\r\nz\r\n";
    size_t len = strlen(p), off = 0;
    const char types[] = {'+', '$', ':', '-', '*'};
    for (int i = 0; i < 5; i++) {
        struct sb_resp_reply r;
        long n = sb_resp_scan(p + off, len - off, &r, NULL);
        TEST_ASSERT(n > 0);
        TEST_EXPECT(r.type == types[i]);
        off += (size_t)n;
    }
    TEST_EXPECT_INT(off, len);
}

TEST(resp_malformed) {
    struct sb_resp_reply r;
    TEST_EXPECT_INT(scan("?x\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("+OK\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("$abc\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("$-2\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("$2000000000\r\n", &r), SB_SCAN_ERROR); /* over SB_BULK_MAX */
    TEST_EXPECT_INT(scan("$3\r\nabcde\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan(":12a\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("*1\r\n?\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("_x\r\n", &r), SB_SCAN_ERROR);
    TEST_EXPECT_INT(scan("|1\r\n+a\r\n+b\r\n+c\r\n", &r), SB_SCAN_ERROR);
    /* nesting deeper than SB_RESP_DEPTH */
    char deep[4 * (SB_RESP_DEPTH + 2) + 8];
    size_t n = 0;
    for (int i = 0; i < SB_RESP_DEPTH + 2; i++) n += (size_t)sprintf(deep + n, "*1\r\n");
    sprintf(deep + n, ":1\r\n");
    TEST_EXPECT_INT(scan(deep, &r), SB_SCAN_ERROR);
}

/* ---- memcached text ---- */

TEST(mc_status_lines) {
    struct sb_mc_reply r;
    TEST_EXPECT_INT(sb_mc_scan("STORED\r\n", 8, SB_MC_STATUS, &r, NULL), 8);
    TEST_EXPECT(!r.error && r.line_len == 6);
    TEST_EXPECT_INT(sb_mc_scan("ERROR\r\n", 7, SB_MC_STATUS, &r, NULL), 7);
    TEST_EXPECT(r.error);
    const char *ce = "CLIENT_ERROR bad data chunk\r\n";
    TEST_EXPECT_INT(sb_mc_scan(ce, strlen(ce), SB_MC_STATUS, &r, NULL), (long)strlen(ce));
    TEST_EXPECT(r.error && r.line_len == strlen(ce) - 2);
    TEST_EXPECT_INT(sb_mc_scan("STOR", 4, SB_MC_STATUS, &r, NULL), SB_SCAN_MORE);
}

TEST(mc_retrieve) {
    struct sb_mc_reply r;
    const char *miss = "END\r\n";
    TEST_EXPECT_INT(sb_mc_scan(miss, 5, SB_MC_RETRIEVE, &r, NULL), 5);
    TEST_EXPECT_INT(r.nitems, 0);
    const char *two = "VALUE a 0 3\r\nabc\r\nVALUE bb 7 0 99\r\n\r\nEND\r\n";
    size_t len = strlen(two);
    TEST_EXPECT_INT(sb_mc_scan(two, len, SB_MC_RETRIEVE, &r, NULL), (long)len);
    TEST_EXPECT_INT(r.nitems, 2);
    struct sb_mc_item it;
    long n = sb_mc_item_next(r.items, r.items_len, &it);
    TEST_EXPECT(n > 0 && it.klen == 1 && it.dlen == 3 && memcmp(it.data, "abc", 3) == 0);
    long m = sb_mc_item_next(r.items + n, r.items_len - (size_t)n, &it);
    TEST_EXPECT(m > 0 && it.klen == 2 && it.flags == 7 && it.dlen == 0);
    TEST_EXPECT_INT(sb_mc_item_next(r.items + n + m, r.items_len - (size_t)(n + m), &it), 0);
    /* data containing "END\r\n" is not the terminator */
    const char *tricky = "VALUE k 0 5\r\nEND\r\n\r\nEND\r\n";
    TEST_EXPECT_INT(sb_mc_scan(tricky, strlen(tricky), SB_MC_RETRIEVE, &r, NULL),
                    (long)strlen(tricky));
    TEST_EXPECT_INT(r.nitems, 1);
    /* every cut is incomplete */
    for (size_t cut = 0; cut < len; cut++) {
        size_t need = 0;
        TEST_EXPECT_INT(sb_mc_scan(two, cut, SB_MC_RETRIEVE, &r, &need), SB_SCAN_MORE);
        TEST_EXPECT(need > cut);
    }
    /* an error ends a retrieval */
    TEST_EXPECT_INT(sb_mc_scan("SERVER_ERROR out of memory\r\n", 28, SB_MC_RETRIEVE, &r, NULL), 28);
    TEST_EXPECT(r.error);
}

TEST(mc_malformed) {
    struct sb_mc_reply r;
    const char *bad[] = {"VALUE a x 3\r\nabc\r\nEND\r\n", "VALUE a 0\r\nEND\r\n",
                         "VALUE a 0 3\r\nabcd\r\nEND\r\n", "HELLO\r\n", "END\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        TEST_EXPECT_INT(sb_mc_scan(bad[i], strlen(bad[i]), SB_MC_RETRIEVE, &r, NULL),
                        SB_SCAN_ERROR);
}

/* ---- memcached meta ---- */

TEST(meta_single_responses) {
    struct sb_meta_reply r;
    TEST_EXPECT_INT(sb_meta_scan("HD\r\n", 4, SB_META_ONE, &r, NULL), 4);
    TEST_EXPECT(memcmp(r.first.code, "HD", 2) == 0);
    TEST_EXPECT_INT(sb_meta_scan("EN\r\n", 4, SB_META_ONE, &r, NULL), 4);
    const char *va = "VA 3 f5 kfoo\r\nabc\r\n";
    TEST_EXPECT_INT(sb_meta_scan(va, strlen(va), SB_META_ONE, &r, NULL), (long)strlen(va));
    TEST_EXPECT(memcmp(r.first.code, "VA", 2) == 0 && r.first.dlen == 3);
    const char *tok;
    size_t tl;
    TEST_EXPECT(sb_meta_flag(&r.first, 'k', &tok, &tl) && tl == 3 && memcmp(tok, "foo", 3) == 0);
    TEST_EXPECT(sb_meta_flag(&r.first, 'f', &tok, &tl) && tl == 1 && *tok == '5');
    TEST_EXPECT(!sb_meta_flag(&r.first, 'c', &tok, &tl));
    for (size_t cut = 0; cut < strlen(va); cut++)
        TEST_EXPECT_INT(sb_meta_scan(va, cut, SB_META_ONE, &r, NULL), SB_SCAN_MORE);
    TEST_EXPECT_INT(
        sb_meta_scan("CLIENT_ERROR bad command line format\r\n", 38, SB_META_ONE, &r, NULL), 38);
    TEST_EXPECT(r.first.error);
    TEST_EXPECT_INT(sb_meta_scan("VA x\r\n", 6, SB_META_ONE, &r, NULL), SB_SCAN_ERROR);
    TEST_EXPECT_INT(sb_meta_scan("HDX\r\n", 5, SB_META_ONE, &r, NULL), SB_SCAN_ERROR);
}

TEST(meta_until_mn) {
    struct sb_meta_reply r;
    const char *s = "VA 1 ka\r\nx\r\nCLIENT_ERROR oops\r\nVA 2 kb\r\nyz\r\nMN\r\n";
    size_t len = strlen(s);
    TEST_EXPECT_INT(sb_meta_scan(s, len, SB_META_UNTIL_MN, &r, NULL), (long)len);
    TEST_EXPECT_INT(r.nitems, 3);
    TEST_EXPECT_INT(r.nerrors, 1);
    struct sb_meta_item it;
    size_t off = 0;
    int seen = 0;
    for (long n; (n = sb_meta_item_next(r.items + off, r.items_len - off, &it)) > 0;
         off += (size_t)n)
        seen++;
    TEST_EXPECT_INT(seen, 3);
    TEST_EXPECT_INT(off, r.items_len);
    for (size_t cut = 0; cut < len; cut++)
        TEST_EXPECT_INT(sb_meta_scan(s, cut, SB_META_UNTIL_MN, &r, NULL), SB_SCAN_MORE);
    TEST_EXPECT_INT(sb_meta_scan("MN\r\n", 4, SB_META_UNTIL_MN, &r, NULL), 4);
    TEST_EXPECT_INT(r.nitems, 0);
}

int main(void) {
    return test_run_all();
}

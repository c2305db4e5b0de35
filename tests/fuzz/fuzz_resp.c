/*
 * tests/fuzz/fuzz_resp.c - libFuzzer target for the RESP request parser.
 *
 * Parses the input twice: whole (each request from a buffer holding all
 * the remaining bytes) and fed in chunks of varying size (taken from the
 * first byte) to exercise resumption. Checks the parser's invariants on
 * every result, that both ways produce the same requests (they may differ
 * only where Redis's own limits depend on how much was read: the "too big"
 * errors), that parsing never writes to the request bytes, and never reads
 * outside them (ASan checks that: every buffer is exactly as long as the
 * bytes available).
 */
#include "base/alloc.h"
#include "proto/resp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_resp: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

#define MAX_REQS 64

struct req {
    int st;
    size_t pos;
    uint32_t argc;
    char *flat; /* the arguments, each as len(8 bytes) + bytes */
    size_t flatlen;
    char err[96];
};

static void record(struct req *r, int st, const struct resp_parser *p, const char *buf) {
    r->st = st;
    r->pos = p->pos;
    r->argc = st == RESP_COMMAND ? p->argc : 0;
    r->flat = NULL;
    r->flatlen = 0;
    r->err[0] = '\0';
    if (st == RESP_ERROR) {
        snprintf(r->err, sizeof(r->err), "%s", p->err);
        return;
    }
    size_t total = 0;
    for (uint32_t i = 0; i < r->argc; i++) total += 8 + p->offs[i].len;
    r->flat = malloc(total + 1);
    for (uint32_t i = 0; i < r->argc; i++) {
        uint64_t n = p->offs[i].len;
        memcpy(r->flat + r->flatlen, &n, 8);
        memcpy(r->flat + r->flatlen + 8, resp_arg(p, buf, i), p->offs[i].len);
        r->flatlen += 8 + p->offs[i].len;
    }
}

static void check_result(int st, const struct resp_parser *p, size_t avail) {
    if (st == RESP_ERROR) {
        CHECK(p->err[0] != '\0');
        CHECK(strncmp(p->err, "Protocol error: ", 16) == 0);
        return;
    }
    if (st == RESP_INCOMPLETE) return;
    CHECK(st == RESP_COMMAND || st == RESP_EMPTY);
    CHECK(p->pos > 0 && p->pos <= avail);
    if (st == RESP_COMMAND) {
        CHECK(p->argc > 0);
        for (uint32_t i = 0; i < p->argc; i++) {
            if (p->inline_req)
                CHECK(p->offs[i].off + p->offs[i].len <= p->linecap);
            else
                CHECK(p->offs[i].off + p->offs[i].len <= p->pos);
        }
    }
}

/* Whole: each request parsed from a buffer of all remaining bytes. */
static int parse_whole(const uint8_t *data, size_t size, const struct resp_limits *lim, struct req *out) {
    struct resp_parser p;
    resp_parser_init(&p);
    int n = 0;
    size_t start = 0;
    while (start < size && n < MAX_REQS) {
        size_t avail = size - start;
        char *buf = malloc(avail);
        memcpy(buf, data + start, avail);
        int st = resp_parse(&p, buf, avail, lim);
        check_result(st, &p, avail);
        CHECK(memcmp(buf, data + start, avail) == 0); /* the request bytes are only read */
        if (st == RESP_INCOMPLETE) {
            free(buf);
            break;
        }
        record(&out[n++], st, &p, buf);
        free(buf);
        if (st == RESP_ERROR) break;
        start += p.pos;
        resp_parser_reset(&p);
    }
    resp_parser_free(&p);
    return n;
}

/* Chunked: the bytes of a request arrive `step` at a time; each call sees a
 * fresh buffer of exactly what arrived so far. */
static int parse_chunked(const uint8_t *data, size_t size, size_t step, const struct resp_limits *lim,
                         struct req *out) {
    struct resp_parser p;
    resp_parser_init(&p);
    int n = 0;
    size_t start = 0, avail = 0;
    while (start < size && n < MAX_REQS) {
        avail = avail + step > size - start ? size - start : avail + step;
        char *buf = malloc(avail);
        memcpy(buf, data + start, avail);
        int st = resp_parse(&p, buf, avail, lim);
        check_result(st, &p, avail);
        CHECK(memcmp(buf, data + start, avail) == 0);
        if (st == RESP_INCOMPLETE) {
            free(buf);
            if (start + avail >= size) break;
            continue;
        }
        record(&out[n++], st, &p, buf);
        free(buf);
        if (st == RESP_ERROR) break;
        start += p.pos;
        avail = 0;
        resp_parser_reset(&p);
    }
    resp_parser_free(&p);
    return n;
}

static bool size_dependent(const struct req *r) { return r->st == RESP_ERROR && strstr(r->err, "too big") != NULL; }

static bool same(const struct req *a, const struct req *b) {
    return a->st == b->st && a->pos == b->pos && a->argc == b->argc && a->flatlen == b->flatlen &&
           (a->flatlen == 0 || memcmp(a->flat, b->flat, a->flatlen) == 0) && strcmp(a->err, b->err) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    if (data[0] & 0x80) step = (size_t)(data[0] & 0x7f) * 61 + 1; /* sometimes big chunks */
    struct resp_limits lim = {(data[1] & 1) ? 100 : 1 << 20, (data[1] & 2) != 0};
    data += 2;
    size -= 2;
    struct req *whole = calloc(MAX_REQS, sizeof(*whole));
    struct req *chunk = calloc(MAX_REQS, sizeof(*chunk));
    int nw = parse_whole(data, size, &lim, whole);
    int nc = parse_chunked(data, size, step, &lim, chunk);
    int n = nw < nc ? nw : nc;
    bool diverged = false;
    for (int i = 0; i < n && !diverged; i++) {
        if (same(&whole[i], &chunk[i])) continue;
        /* Only the "too big" limits may depend on how much was read. */
        CHECK(size_dependent(&whole[i]) || size_dependent(&chunk[i]));
        diverged = true;
    }
    if (!diverged && nw != nc) {
        /* One side stopped early: at an error that depends on read sizes. */
        if (nw < nc) CHECK(nw == MAX_REQS || size_dependent(&chunk[nw]) ||
                           (nw > 0 && size_dependent(&whole[nw - 1])));
        else CHECK(nc == MAX_REQS || size_dependent(&whole[nc]) || (nc > 0 && size_dependent(&chunk[nc - 1])));
    }
    for (int i = 0; i < nw; i++) free(whole[i].flat);
    for (int i = 0; i < nc; i++) free(chunk[i].flat);
    free(whole);
    free(chunk);
    return 0;
}

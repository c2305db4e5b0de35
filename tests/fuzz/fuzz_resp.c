/*
 * tests/fuzz/fuzz_resp.c - libFuzzer target for the RESP request parser.
 *
 * Feeds the input in chunks of varying size (taken from the first byte) to
 * exercise resumption, checks the parser's invariants on every result, and
 * never lets it read outside the bytes it was given (ASan checks that).
 */
#include "base/alloc.h"
#include "proto/resp.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    data++;
    size--;
    struct resp_limits lim = {1 << 20, (size & 1) != 0};
    struct resp_parser p;
    resp_parser_init(&p);
    char *buf = malloc(size + 1);
    size_t start = 0, avail = 0;
    while (start < size) {
        avail = avail + step > size - start ? size - start : avail + step;
        /* A fresh copy each time: the parser may only touch [0, avail). */
        memcpy(buf, data + start, avail);
        int st = resp_parse(&p, buf, avail, &lim);
        if (st == RESP_INCOMPLETE) {
            if (start + avail >= size) break;
            continue;
        }
        if (st == RESP_ERROR) {
            assert(p.err[0] != '\0');
            break;
        }
        assert(p.pos > 0 && p.pos <= avail);
        if (st == RESP_COMMAND) {
            for (uint32_t i = 0; i < p.argc; i++) assert(p.offs[i].off + p.offs[i].len <= p.pos);
        }
        start += p.pos;
        avail = 0;
        resp_parser_reset(&p);
    }
    resp_parser_free(&p);
    free(buf);
    return 0;
}

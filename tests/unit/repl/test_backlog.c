/* Unit tests of repl/backlog: Redis offsets, cursors reading across blocks,
 * trimming to the backlog size except what a cursor still holds, and a
 * reset (new history) while a cursor holds the old one (ASan checks the
 * lifetimes). */
#include "../test.h"

#include "base/alloc.h"
#include "repl/backlog.h"

#include <stdlib.h>

/* Read everything the cursor can see into out; returns the bytes. */
static size_t drain(struct rbl_cursor *c, char *out, size_t cap) {
    size_t got = 0, n;
    const char *p;
    struct rbl_block *b;
    while ((n = rbl_cursor_peek(c, &p, &b)) > 0 && got < cap) {
        n = n < cap - got ? n : cap - got;
        memcpy(out + got, p, n);
        rbl_cursor_advance(c, n);
        got += n;
    }
    return got;
}

TEST(offsets_and_cursor_across_blocks) {
    rbl_setup();
    rbl_create(1000); /* the next byte is 1001 */
    TEST_EXPECT(rbl_active());
    TEST_EXPECT(rbl_offset() == 1000);
    char *data = malloc(200000);
    for (int i = 0; i < 200000; i++) data[i] = (char)('a' + i % 26);
    rbl_append(data, 100);
    rbl_append(data + 100, 150000); /* spans several 64 KiB blocks */
    TEST_EXPECT(rbl_offset() == 1000 + 150100);
    uint64_t first, hist;
    rbl_range(&first, &hist);
    TEST_EXPECT(first == 1001 && hist == 150100);
    struct rbl_cursor c = {0};
    TEST_EXPECT(!rbl_cursor_at(&c, 1000));            /* before the history */
    TEST_EXPECT(!rbl_cursor_at(&c, 1000 + 150102));   /* past the end + 1 */
    TEST_EXPECT(rbl_cursor_at(&c, 1001 + 70000));
    char *out = malloc(200000);
    TEST_EXPECT(drain(&c, out, 200000) == 150100 - 70000);
    TEST_EXPECT(memcmp(out, data + 70000, 150100 - 70000) == 0);
    rbl_append(data, 10); /* a cursor at the end sees what comes next */
    TEST_EXPECT(drain(&c, out, 200000) == 10 && memcmp(out, data, 10) == 0);
    rbl_cursor_release(&c);
    rbl_free();
    TEST_EXPECT(!rbl_active());
    free(data);
    free(out);
}

TEST(trim_keeps_the_backlog_size_and_what_cursors_hold) {
    rbl_setup();
    rbl_set_size(16 * 1024);
    rbl_create(0);
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    struct rbl_cursor c = {0};
    TEST_EXPECT(rbl_cursor_at(&c, 1)); /* a lagging replica at the start */
    for (int i = 0; i < 100; i++) rbl_append(buf, sizeof(buf));
    rbl_trim();
    uint64_t first, hist;
    rbl_range(&first, &hist);
    TEST_EXPECT(first == 1); /* held: nothing goes */
    rbl_cursor_release(&c);
    rbl_trim();
    rbl_range(&first, &hist);
    TEST_EXPECT(first > 1);
    TEST_EXPECT(hist >= 16 * 1024 && hist < 16 * 1024 + 64 * 1024 + 4096);
    TEST_EXPECT(first + hist == rbl_offset() + 1);
    rbl_free();
}

TEST(reset_while_a_cursor_holds_the_old_history) {
    rbl_setup();
    rbl_create(0);
    char buf[70000];
    memset(buf, 'y', sizeof(buf));
    rbl_append(buf, sizeof(buf)); /* two blocks */
    struct rbl_cursor c = {0};
    TEST_EXPECT(rbl_cursor_at(&c, 1));
    rbl_create(5000); /* a new history: the old blocks live while held */
    TEST_EXPECT(rbl_offset() == 5000);
    char *out = malloc(sizeof(buf));
    TEST_EXPECT(drain(&c, out, sizeof(buf)) == sizeof(buf));
    TEST_EXPECT(out[0] == 'y' && out[sizeof(buf) - 1] == 'y');
    rbl_cursor_release(&c);
    free(out);
    rbl_free();
}

int main(void) { return test_run_all(); }

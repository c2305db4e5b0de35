/* Unit tests of repl/log: staging, sealing, MULTI wrapping, wrap-around of
 * a small ring, and many producers against one consumer: every record
 * arrives once, intact, and each producer's records in its own order. */
#include "../test.h"

#include "base/alloc.h"
#include "repl/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct seen {
    int n;
    char last[256];
    int db;
};

static void remember(int db, const char *p, size_t len, void *arg) {
    struct seen *s = arg;
    s->n++;
    s->db = db;
    size_t k = len < sizeof(s->last) - 1 ? len : sizeof(s->last) - 1;
    memcpy(s->last, p, k);
    s->last[k] = '\0';
}

TEST(stage_seal_publish_consume) {
    log_setup(1 << 16);
    uint64_t pos = log_attach();
    log_stage_cstr(3, "SET", "k", "v", NULL);
    TEST_EXPECT_INT(log_staged(), 1);
    TEST_EXPECT(log_seal(false) != 0);
    log_publish();
    struct seen s = {0};
    TEST_EXPECT_INT(log_consume(&pos, 100, remember, &s), 1);
    TEST_EXPECT_STR(s.last, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    TEST_EXPECT_INT(s.db, 3);
    log_release(pos);
    TEST_EXPECT_INT(log_consume(&pos, 100, remember, &s), 0);
    log_teardown();
}

TEST(multi_wrap_for_several_effects) {
    log_setup(1 << 16);
    uint64_t pos = log_attach();
    log_stage_cstr(0, "DEL", "a", NULL);
    log_stage_cstr(0, "SET", "b", "1", NULL);
    log_seal(true);
    log_publish();
    struct seen s = {0};
    TEST_EXPECT_INT(log_consume(&pos, 100, remember, &s), 4);
    TEST_EXPECT_STR(s.last, "*1\r\n$4\r\nEXEC\r\n");
    log_teardown();
}

TEST(nothing_staged_without_consumer) {
    log_setup(1 << 16);
    log_stage_cstr(0, "SET", "k", "v", NULL);
    TEST_EXPECT_INT(log_staged(), 0);
    TEST_EXPECT(log_seal(false) == 0);
    log_teardown();
}

/* ---- many producers ------------------------------------------------------ */

#define PRODUCERS 4
#define PER_PRODUCER 20000

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static long global_seq; /* assigned under order_lock, like a stripe lock */

static void *producer(void *arg) {
    alloc_thread_init();
    int id = (int)(intptr_t)arg;
    char a[32], b[32], c[32];
    for (int i = 0; i < PER_PRODUCER; i++) {
        pthread_mutex_lock(&order_lock);
        long g = global_seq++;
        snprintf(a, sizeof(a), "%d", id);
        snprintf(b, sizeof(b), "%d", i);
        snprintf(c, sizeof(c), "%ld", g);
        log_stage_cstr(id, "REC", a, b, c, NULL);
        log_seal(false);
        pthread_mutex_unlock(&order_lock);
        log_publish();
    }
    log_thread_cleanup();
    return NULL;
}

struct check {
    int next[PRODUCERS];
    long last_global;
    int total, bad;
};

static void verify(int db, const char *p, size_t len, void *arg) {
    struct check *c = arg;
    int id, i;
    long g;
    /* *4 $3 REC $n id $n i $n g */
    char tmp[256];
    memcpy(tmp, p, len < 255 ? len : 255);
    tmp[len < 255 ? len : 255] = '\0';
    char *q = tmp;
    for (int k = 0; k < 4; k++) q = strstr(q, "\r\n") + 2; /* skip *4, $3, REC, $n */
    id = atoi(q);
    q = strstr(q, "\r\n") + 2;
    q = strstr(q, "\r\n") + 2;
    i = atoi(q);
    q = strstr(q, "\r\n") + 2;
    q = strstr(q, "\r\n") + 2;
    g = atol(q);
    if (id != db || id < 0 || id >= PRODUCERS || c->next[id] != i || g != c->last_global + 1) c->bad++;
    if (id >= 0 && id < PRODUCERS) c->next[id] = i + 1;
    c->last_global = g;
    c->total++;
}

TEST(many_producers_one_consumer_small_ring) {
    log_setup(8192); /* tiny: producers must wait for the consumer often */
    uint64_t pos = log_attach();
    global_seq = 0;
    pthread_t th[PRODUCERS];
    for (int t = 0; t < PRODUCERS; t++) pthread_create(&th[t], NULL, producer, (void *)(intptr_t)t);
    struct check c;
    memset(&c, 0, sizeof(c));
    c.last_global = -1;
    while (c.total < PRODUCERS * PER_PRODUCER) {
        if (log_consume(&pos, 64, verify, &c) > 0) log_release(pos);
    }
    for (int t = 0; t < PRODUCERS; t++) pthread_join(th[t], NULL);
    TEST_EXPECT_INT(c.bad, 0);
    TEST_EXPECT_INT(c.total, PRODUCERS * PER_PRODUCER);
    log_teardown();
}

/* Two readers of one small ring, each in its own thread: both see every
 * record in order; the slow one holds producers back (nothing is
 * overwritten before it has read it); readers sleep in log_reader_wait
 * and are woken by publishes. */
struct rd_arg {
    struct log_reader *r;
    struct check c;
    int sleep_every;
};

static void *reader_main(void *arg) {
    struct rd_arg *a = arg;
    int rounds = 0;
    time_t deadline = time(NULL) + 120; /* never hang the suite: fail with where it stood */
    while (a->c.total < PRODUCERS * PER_PRODUCER) {
        if (time(NULL) > deadline) {
            fprintf(stderr, "  reader stuck: read %d, at %llu, tail %llu\n", a->c.total,
                    (unsigned long long)log_reader_pos(a->r), (unsigned long long)log_tail());
            a->c.bad++;
            abort(); /* producers would wait for this reader forever */
        }
        if (!log_reader_wait(a->r, 50)) continue;
        log_read(a->r, 16, verify, &a->c);
        if (a->sleep_every && ++rounds % a->sleep_every == 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

TEST(two_readers_one_slow_with_waits) {
    log_setup(8192);
    struct rd_arg a[2];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 2; i++) {
        a[i].r = log_reader_attach();
        a[i].c.last_global = -1;
    }
    a[1].sleep_every = 7;
    TEST_EXPECT(log_enabled());
    global_seq = 0;
    pthread_t rth[2], th[PRODUCERS];
    for (int i = 0; i < 2; i++) pthread_create(&rth[i], NULL, reader_main, &a[i]);
    for (int t = 0; t < PRODUCERS; t++) pthread_create(&th[t], NULL, producer, (void *)(intptr_t)t);
    for (int t = 0; t < PRODUCERS; t++) pthread_join(th[t], NULL);
    for (int i = 0; i < 2; i++) pthread_join(rth[i], NULL);
    for (int i = 0; i < 2; i++) {
        TEST_EXPECT_INT(a[i].c.bad, 0);
        TEST_EXPECT_INT(a[i].c.total, PRODUCERS * PER_PRODUCER);
        TEST_EXPECT(log_reader_pos(a[i].r) == log_tail());
    }
    log_reader_detach(&a[0].r);
    TEST_EXPECT(a[0].r == NULL && log_enabled());
    log_reader_detach(&a[1].r);
    TEST_EXPECT(!log_enabled());
    log_teardown();
}

/* A block sealed while one reader was attached, published only after that
 * reader left and another attached (at the tail): nobody will read it, so
 * publishing drops it instead of waiting forever for space. */
TEST(block_sealed_before_a_new_reader_is_dropped) {
    log_setup(4096);
    struct log_reader *r1 = log_reader_attach();
    log_stage_cstr(0, "SET", "old", "1", NULL);
    log_seal(false);
    log_reader_detach(&r1);
    struct log_reader *r2 = log_reader_attach();
    log_publish(); /* must return */
    log_stage_cstr(0, "SET", "new", "1", NULL);
    log_seal(false);
    log_publish();
    struct seen s = {0};
    TEST_EXPECT_INT(log_read(r2, 10, remember, &s), 1);
    TEST_EXPECT(strstr(s.last, "new") != NULL);
    log_reader_detach(&r2);
    log_teardown();
}

/* The AOF's needs: the end of what a thread sealed, muting (replays), and
 * reading up to an exact position (the switch at a rewrite's cut). */
TEST(sealed_end_mute_and_read_upto) {
    log_setup(1 << 16);
    struct log_reader *r = log_reader_attach();
    log_stage_cstr(0, "SET", "a", "1", NULL);
    uint64_t p1 = log_seal(false);
    uint64_t end1 = log_sealed_end();
    TEST_EXPECT(end1 > p1);
    log_publish();
    log_set_muted(true);
    log_stage_cstr(0, "SET", "muted", "1", NULL);
    TEST_EXPECT_INT(log_staged(), 0);
    log_set_muted(false);
    log_stage_cstr(0, "SET", "b", "2", NULL);
    uint64_t p2 = log_seal(false);
    TEST_EXPECT(p2 == end1);
    log_publish();
    struct seen s = {0};
    /* Up to the second record only: the first is delivered, then stop. */
    TEST_EXPECT_INT(log_read_upto(r, p2, 100, remember, &s), 1);
    TEST_EXPECT_STR(s.last, "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n");
    TEST_EXPECT(log_reader_pos(r) == p2);
    TEST_EXPECT_INT(log_read_upto(r, p2, 100, remember, &s), 0);
    TEST_EXPECT_INT(log_read(r, 100, remember, &s), 1);
    TEST_EXPECT(log_reader_pos(r) == log_sealed_end());
    /* A record committed: the wait returns it is there. */
    log_stage_cstr(0, "DEL", "a", NULL);
    log_seal(false);
    log_publish();
    TEST_EXPECT(log_reader_wait_seq(r, log_wake_seq(), 1000));
    log_reader_detach(&r);
    log_teardown();
}

/* ---- kinds, raw records, blocks bigger than the ring ------------------- */

struct kinds_seen {
    int n;
    int kinds[16];
    int dbs[16];
    size_t lens[16];
    char first[16];
    uint64_t pos[16], next[16];
};

static void remember_ex(const struct log_record *rec, void *arg) {
    struct kinds_seen *k = arg;
    if (k->n < 16) {
        k->kinds[k->n] = rec->kind;
        k->dbs[k->n] = rec->db;
        k->lens[k->n] = rec->len;
        k->first[k->n] = rec->len ? rec->payload[0] : 0;
        k->pos[k->n] = rec->pos;
        k->next[k->n] = rec->next;
    }
    k->n++;
}

TEST(kinds_and_raw_records) {
    log_setup(1 << 16);
    struct log_reader *repl = log_reader_attach_kinds(LOG_KINDS_REPL | LOG_KINDS_PERSIST); /* sees everything */
    struct log_reader *aof = log_reader_attach(); /* the persisted view: no RAW */
    log_stage_cstr(1, "SET", "a", "1", NULL); /* the default kind: EFFECT */
    log_seal(false);
    log_set_thread_kind(LOG_LOCAL);
    log_stage_cstr(2, "SET", "b", "2", NULL);
    log_seal(false);
    log_set_thread_kind(-1);
    log_stage_raw(3, "*1\r\n$4\r\nPING\r\n", 14);
    log_seal(false);
    log_set_default_kind(LOG_LOCAL);
    log_stage_cstr(65535, "DEL", "c", NULL);
    log_seal(false);
    log_set_default_kind(LOG_EFFECT);
    log_publish();
    struct kinds_seen k = {0};
    TEST_EXPECT_INT(log_read_ex(repl, 100, remember_ex, &k), 4);
    TEST_EXPECT_INT(k.n, 4);
    TEST_EXPECT(k.kinds[0] == LOG_EFFECT && k.dbs[0] == 1);
    TEST_EXPECT(k.kinds[1] == LOG_LOCAL && k.dbs[1] == 2);
    TEST_EXPECT(k.kinds[2] == LOG_RAW && k.dbs[2] == 3 && k.lens[2] == 14);
    TEST_EXPECT(k.kinds[3] == LOG_LOCAL && k.dbs[3] == 65535);
    for (int i = 0; i < 3; i++) TEST_EXPECT(k.next[i] == k.pos[i + 1]);
    TEST_EXPECT(k.next[3] == log_tail());
    struct seen s = {0};
    TEST_EXPECT_INT(log_read(aof, 100, remember, &s), 4); /* four ring records read... */
    TEST_EXPECT_INT(s.n, 3);                              /* ...the RAW one not delivered */
    TEST_EXPECT_INT(s.db, 65535);
    /* Kinds nobody reads are not even staged. */
    log_reader_detach(&repl);
    log_stage_raw(0, "*1\r\n$4\r\nPING\r\n", 14);
    TEST_EXPECT_INT(log_staged(), 0);
    log_reader_detach(&aof);
    struct log_reader *feeder = log_reader_attach_kinds(LOG_KINDS_REPL);
    log_set_thread_kind(LOG_LOCAL);
    log_stage_cstr(0, "SET", "x", "1", NULL);
    TEST_EXPECT_INT(log_staged(), 0);
    log_set_thread_kind(-1);
    log_stage_cstr(0, "SET", "x", "1", NULL);
    TEST_EXPECT_INT(log_staged(), 1);
    log_discard();
    log_reader_detach(&feeder);
    log_teardown();
}

/* A block bigger than the whole ring (a MULTI of big values) goes out of
 * the ring: it is published without waiting, delivered record by record,
 * and freed once read (ASan checks the freeing). */
TEST(block_bigger_than_the_ring) {
    log_setup(4096);
    struct log_reader *r = log_reader_attach();
    char *big = malloc(10000);
    memset(big, 'x', 10000);
    const char *argv[] = {"SET", "k", big};
    size_t lens[] = {3, 1, 10000};
    log_stage(0, 3, argv, lens);
    log_stage(0, 3, argv, lens);
    uint64_t at = log_seal(true); /* MULTI, SET, SET, EXEC */
    log_publish();
    log_stage_cstr(0, "DEL", "k", NULL);
    log_seal(false);
    log_publish();
    struct kinds_seen k = {0};
    TEST_EXPECT_INT(log_read_ex(r, 100, remember_ex, &k), 2); /* two ring records */
    TEST_EXPECT_INT(k.n, 5);
    TEST_EXPECT(k.first[0] == '*' && k.lens[1] > 10000 && k.lens[2] > 10000);
    for (int i = 0; i < 4; i++) TEST_EXPECT(k.pos[i] == at);
    TEST_EXPECT(k.next[3] == k.pos[4]);
    TEST_EXPECT(k.lens[3] == 14); /* EXEC */
    free(big);
    log_reader_detach(&r);
    log_teardown();
}

/* An out-of-ring block sealed before the readers of the moment attached
 * is dropped at publish, its heap copy freed (ASan: no leak). */
TEST(big_block_sealed_before_a_new_reader_is_freed) {
    log_setup(4096);
    struct log_reader *r1 = log_reader_attach();
    char big[2000];
    memset(big, 'y', sizeof(big));
    const char *argv[] = {"SET", "k", big};
    size_t lens[] = {3, 1, sizeof(big)};
    log_stage(0, 3, argv, lens);
    log_seal(false);
    log_reader_detach(&r1);
    struct log_reader *r2 = log_reader_attach();
    log_publish();
    log_stage_cstr(0, "SET", "small", "1", NULL);
    log_seal(false);
    log_publish();
    struct seen s = {0};
    TEST_EXPECT_INT(log_read(r2, 10, remember, &s), 1);
    TEST_EXPECT(strstr(s.last, "small") != NULL);
    log_reader_detach(&r2);
    log_teardown();
}

int main(void) { return test_run_all(); }

/* Unit tests of store/track: remembering keys per tracker, invalidation on
 * change / expiry / flush, broadcast records with their actors, and the
 * size limit. */
#include "../test.h"

#include "base/hash.h"
#include "store/store.h"
#include "store/track.h"
#include "store/watch.h"

struct op {
    struct store_key k;
    uint64_t token;
};

static void op_track(void *arg) {
    struct op *o = arg;
    store_track_key(&o->k, o->token);
}

static void op_modify(void *arg) {
    struct op *o = arg;
    store_signal_modified(0, &o->k);
}

static void track(const char *key, uint64_t token) {
    struct op o = {{0}, token};
    store_key_init(&o.k, key, strlen(key));
    store_run_slot(o.k.slot, STORE_WRITE, op_track, &o);
}

static void modify(const char *key) {
    struct op o = {{0}, 0};
    store_key_init(&o.k, key, strlen(key));
    store_run_slot(o.k.slot, STORE_WRITE, op_modify, &o);
}

/* The records of b as "key:tok,tok;" text. */
static void describe(const struct buf *b, char *out, size_t cap) {
    size_t off = 0, used = 0;
    struct store_track_rec r;
    out[0] = '\0';
    while (store_track_next(b, &off, &r)) {
        used += (size_t)snprintf(out + used, cap - used, "%.*s@%llu:", (int)r.klen, r.key,
                                 (unsigned long long)r.actor);
        for (uint32_t i = 0; i < r.ntok; i++)
            used += (size_t)snprintf(out + used, cap - used, "%s%llu", i ? "," : "", (unsigned long long)r.tokens[i]);
        used += (size_t)snprintf(out + used, cap - used, ";");
    }
}

TEST(remember_and_invalidate_once) {
    struct store_track_batch b = {0};
    track("k1", 7);
    track("k1", 3);
    track("k1", 7); /* again: no duplicate */
    track("k2", 3);
    TEST_EXPECT_INT(store_track_keys(), 2);
    TEST_EXPECT_INT(store_track_items(), 3);
    store_track_set_actor(42);
    modify("k1");
    store_track_set_actor(0);
    TEST_EXPECT(store_track_pending());
    store_track_take(&b);
    char text[256];
    describe(&b.keys, text, sizeof(text));
    TEST_EXPECT_STR(text, "k1@42:3,7;");
    TEST_EXPECT_INT(store_track_keys(), 1);
    TEST_EXPECT_INT(store_track_items(), 1);
    /* Forgotten: a second change of k1 gathers nothing. */
    modify("k1");
    TEST_EXPECT(!store_track_pending());
    /* A key nobody tracks gathers nothing either. */
    modify("zzz");
    TEST_EXPECT(!store_track_pending());
    store_track_batch_free(&b);
}

TEST(broadcast_records_every_change) {
    struct store_track_batch b = {0};
    store_track_set_bcast(true);
    store_track_set_actor(9);
    modify("p:1");
    modify("p:2");
    store_track_set_actor(0);
    store_track_set_bcast(false);
    modify("p:3");
    store_track_take(&b);
    char text[256];
    describe(&b.bcast, text, sizeof(text));
    TEST_EXPECT_STR(text, "p:1@9:;p:2@9:;");
    describe(&b.keys, text, sizeof(text));
    TEST_EXPECT_STR(text, "");
    store_track_batch_free(&b);
}

TEST(flush_forgets_everything) {
    struct store_track_batch b = {0};
    track("f1", 1);
    track("f2", 2);
    store_flush(-1, false);
    TEST_EXPECT_INT(store_track_keys(), 0);
    TEST_EXPECT_INT(store_track_items(), 0);
    store_track_take(&b);
    TEST_EXPECT(b.flushed);
    store_track_take(&b);
    TEST_EXPECT(!b.flushed);
    modify("f1");
    TEST_EXPECT(!store_track_pending());
    store_track_batch_free(&b);
}

TEST(limit_drops_keys_with_actor_zero) {
    struct store_track_batch b = {0};
    char key[32];
    uint64_t base = store_track_keys();
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "lim:%d", i);
        track(key, 5);
    }
    TEST_EXPECT_INT(store_track_keys(), 300 + base);
    TEST_EXPECT(!store_track_evict(10, 100)); /* effort 100: not enough */
    TEST_EXPECT_INT(store_track_keys(), 200 + base);
    TEST_EXPECT(store_track_evict(10, 1000));
    TEST_EXPECT_INT(store_track_keys(), 10);
    store_track_take(&b);
    size_t off = 0, n = 0;
    struct store_track_rec r;
    while (store_track_next(&b.keys, &off, &r)) {
        TEST_EXPECT(r.actor == 0 && r.ntok == 1);
        n++;
    }
    TEST_EXPECT_INT(n, 290 + base);
    store_track_batch_free(&b);
}

int main(void) {
    hash_setup();
    store_setup(16, NULL);
    int rc = test_run_all();
    store_teardown();
    store_track_thread_cleanup();
    return rc;
}

/* Unit tests of persist/rdb_stream.c: streams with tombstones, several
 * nodes, consumer groups, PELs and consumers survive a round trip byte for
 * byte; the type 15 (Redis <= 6.2) and 21 (Redis 7.2) forms load into the
 * same stream; every truncation and every single-byte change of a payload
 * is either refused or loads a stream that serializes again (no crash:
 * ASan runs this too); and each semantic check refuses what it should,
 * with its reason. */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "ds/listpack.h"
#include "persist/rdb.h"
#include "store/store.h"
#include "types/stream.h"

#include <stdio.h>

static void setup(void) {
    static bool done;
    if (done) return;
    done = true;
    hash_setup();
    store_setup(16, NULL);
    static const struct type_ops ops = {"stream", stream_free, stream_dup, stream_mem, stream_enc_name,
                                        stream_digest};
    entry_register_type(TYPE_STREAM, &ops);
    rdb_setup();
}

/* Failures inside sample() (outside a test function). */
static int sample_failures;
#define SAMPLE_OK(c) ((c) ? (void)0 : (void)sample_failures++)

/* A stream of n entries (several nodes), some deleted, two groups, three
 * consumers, pending entries. */
static struct stream *sample(int n) {
    stream_set_node_limits(4096, 10);
    struct stream *s = stream_new();
    for (int i = 1; i <= n; i++) {
        char v[32], w[32];
        int vl = snprintf(v, sizeof(v), "value-%d", i), wl = snprintf(w, sizeof(w), "%d", i * 3);
        const char *fv[4] = {"field", v, i % 7 == 0 ? "other" : "num", w};
        size_t lens[4] = {5, (size_t)vl, i % 7 == 0 ? 5u : 3u, (size_t)wl};
        struct stream_id id = {(uint64_t)i * 10, (uint64_t)(i % 3)}, added;
        SAMPLE_OK(stream_append(s, fv, lens, 2, 0, &id, true, &added) == STREAM_APPEND_OK);
    }
    for (int i = 5; i <= n; i += 9) {
        struct stream_id id = {(uint64_t)i * 10, (uint64_t)(i % 3)};
        stream_delete(s, &id);
    }
    struct stream_id zero = {0, 0}, mid = {(uint64_t)n * 5, 0};
    struct stream_cg *g1 = stream_cg_create(s, "group-1", 7, &mid, 17);
    stream_cg_create(s, "2", 1, &zero, STREAM_ENTRIES_READ_INVALID); /* a name that reads as an integer */
    struct stream_consumer *a = stream_consumer_create(g1, "alice", 5, 1700000000123LL);
    struct stream_consumer *b = stream_consumer_create(g1, "bob", 3, 1700000000456LL);
    stream_consumer_create(g1, "idle", 4, 1600000000000LL);
    for (int i = 1; i <= 6; i++) {
        struct stream_id id = {(uint64_t)i * 10, (uint64_t)(i % 3)};
        struct stream_nack *nk = stream_pel_deliver(g1, i % 2 ? a : b, &id, 1700000000000LL + i);
        nk->delivery_count = (uint64_t)i;
    }
    return s;
}

static struct entry *stream_entry(struct stream *s) { return entry_new_obj("k", 1, TYPE_STREAM, ENC_OBJ, s, -1); }

/* Load a value of any type from a payload body (type byte + value). */
static struct entry *load(const void *p, size_t n, char *why, size_t whycap) {
    struct rdb_reader r;
    rdb_reader_mem(&r, p, n);
    int type;
    bool empty = false;
    struct entry *e = NULL;
    if (rdb_read_byte(&r, &type)) e = rdb_load_value(&r, type, "k", 1, -1, &empty);
    if (e && r.left != 0) {
        entry_free(e);
        e = NULL;
        snprintf(r.err, sizeof(r.err), "trailing bytes");
    }
    if (why) snprintf(why, whycap, "%s", r.err);
    return e;
}

TEST(round_trip_is_byte_exact) {
    setup();
    struct entry *e = stream_entry(sample(95));
    TEST_EXPECT(sample_failures == 0);
    for (int compress = 0; compress < 2; compress++) {
        struct buf a = BUF_INIT, b = BUF_INIT;
        TEST_ASSERT(rdb_put_value(&a, e, compress));
        TEST_EXPECT((unsigned char)a.data[0] == RDB_TYPE_STREAM_LISTPACKS_2);
        char why[160];
        struct entry *got = load(a.data, a.len, why, sizeof(why));
        TEST_ASSERT(got != NULL);
        TEST_ASSERT(rdb_put_value(&b, got, compress));
        TEST_EXPECT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        struct stream *s = entry_obj(e), *t = entry_obj(got);
        TEST_EXPECT(t->length == s->length && stream_cg_count(t) == 2);
        TEST_EXPECT(stream_id_cmp(&t->first_id, &s->first_id) == 0);
        TEST_EXPECT(stream_id_cmp(&t->max_deleted_id, &s->max_deleted_id) == 0);
        TEST_EXPECT(t->entries_added == s->entries_added && t->lp_bytes == s->lp_bytes);
        struct stream_cg *g = stream_cg_find(t, "group-1", 7);
        TEST_ASSERT(g != NULL);
        TEST_EXPECT(g->entries_read == 17 && radix_size(g->pel) == 6 && radix_size(g->consumers) == 3);
        struct stream_consumer *bob = stream_consumer_find(g, "bob", 3);
        TEST_ASSERT(bob != NULL);
        TEST_EXPECT(bob->seen_time == 1700000000456LL && radix_size(bob->pel) == 3);
        struct stream_id four = {40, 1};
        struct stream_nack *nk = stream_pel_find(g, &four);
        TEST_EXPECT(nk != NULL && nk->consumer == bob && nk->delivery_count == 4 &&
                    nk->delivery_time == 1700000000004LL);
        TEST_EXPECT(stream_cg_find(t, "2", 1)->entries_read == STREAM_ENTRIES_READ_INVALID);
        unsigned char d1[20] = {0}, d2[20] = {0};
        stream_digest(s, d1);
        stream_digest(t, d2);
        TEST_EXPECT(memcmp(d1, d2, 20) == 0);
        entry_free(got);
        buf_free(&a);
        buf_free(&b);
    }
    /* An empty stream (no nodes) with a group is a stream, not an empty key. */
    struct stream *empty = stream_new();
    struct stream_id zero = {0, 0};
    stream_cg_create(empty, "g", 1, &zero, 0);
    struct entry *ee = stream_entry(empty);
    struct buf a = BUF_INIT;
    TEST_ASSERT(rdb_put_value(&a, ee, true));
    struct entry *got = load(a.data, a.len, NULL, 0);
    TEST_EXPECT(got != NULL && stream_cg_count(entry_obj(got)) == 1);
    if (got) entry_free(got);
    entry_free(ee);
    buf_free(&a);
    entry_free(e);
}

/* ---- other writers' forms ----------------------------------------------------------------- */

static void put_id(struct buf *b, const struct stream_id *id) {
    rdb_put_len(b, id->ms);
    rdb_put_len(b, id->seq);
}

/* s written as type 15 (no first / max deleted ID, entries added, entries
 * read) or 21 (an active time after each consumer's seen time). */
static void put_variant(struct buf *b, struct stream *s, int type) {
    rdb_put_byte(b, type);
    rdb_put_len(b, radix_size(s->rax));
    struct stream_node_iter it;
    const unsigned char *key, *lp;
    size_t n;
    stream_nodes_start(&it, s);
    while (stream_nodes_next(&it, &key, &lp, &n)) {
        rdb_put_string(b, key, STREAM_ID_BYTES, false);
        rdb_put_string(b, lp, n, false);
    }
    stream_nodes_stop(&it);
    rdb_put_len(b, s->length);
    put_id(b, &s->last_id);
    if (type != RDB_TYPE_STREAM_LISTPACKS) {
        put_id(b, &s->first_id);
        put_id(b, &s->max_deleted_id);
        rdb_put_len(b, s->entries_added);
    }
    rdb_put_len(b, stream_cg_count(s));
    struct radix_iter gi;
    radix_iter_init(&gi, s->cgroups);
    radix_seek(&gi, RADIX_FIRST, NULL, 0);
    while (radix_next(&gi)) {
        struct stream_cg *cg = gi.value;
        rdb_put_string(b, gi.key, gi.key_len, false);
        put_id(b, &cg->last_id);
        if (type != RDB_TYPE_STREAM_LISTPACKS) rdb_put_len(b, (uint64_t)cg->entries_read);
        rdb_put_len(b, radix_size(cg->pel));
        struct radix_iter pi;
        radix_iter_init(&pi, cg->pel);
        radix_seek(&pi, RADIX_FIRST, NULL, 0);
        while (radix_next(&pi)) {
            struct stream_nack *nk = pi.value;
            buf_append(b, pi.key, STREAM_ID_BYTES);
            rdb_put_ms(b, nk->delivery_time);
            rdb_put_len(b, nk->delivery_count);
        }
        radix_iter_release(&pi);
        rdb_put_len(b, radix_size(cg->consumers));
        struct radix_iter ci;
        radix_iter_init(&ci, cg->consumers);
        radix_seek(&ci, RADIX_FIRST, NULL, 0);
        while (radix_next(&ci)) {
            struct stream_consumer *c = ci.value;
            rdb_put_string(b, ci.key, ci.key_len, false);
            rdb_put_ms(b, c->seen_time);
            if (type == RDB_TYPE_STREAM_LISTPACKS_3) rdb_put_ms(b, c->seen_time + 5);
            rdb_put_len(b, radix_size(c->pel));
            radix_iter_init(&pi, c->pel);
            radix_seek(&pi, RADIX_FIRST, NULL, 0);
            while (radix_next(&pi)) buf_append(b, pi.key, STREAM_ID_BYTES);
            radix_iter_release(&pi);
        }
        radix_iter_release(&ci);
    }
    radix_iter_release(&gi);
}

TEST(redis_72_and_legacy_forms) {
    setup();
    struct stream *s = sample(40);
    struct entry *e = stream_entry(s);
    struct buf want = BUF_INIT;
    rdb_put_value(&want, e, false);
    /* 7.2: the same stream, byte for byte once written back as type 19. */
    struct buf b = BUF_INIT, again = BUF_INIT;
    put_variant(&b, s, RDB_TYPE_STREAM_LISTPACKS_3);
    char why[160];
    struct entry *got = load(b.data, b.len, why, sizeof(why));
    TEST_ASSERT(got != NULL);
    rdb_put_value(&again, got, false);
    TEST_EXPECT(again.len == want.len && memcmp(again.data, want.data, want.len) == 0);
    entry_free(got);
    /* <= 6.2: counters derived as Redis 7 derives them. */
    buf_clear(&b);
    put_variant(&b, s, RDB_TYPE_STREAM_LISTPACKS);
    got = load(b.data, b.len, why, sizeof(why));
    TEST_ASSERT(got != NULL);
    struct stream *t = entry_obj(got);
    TEST_EXPECT(t->length == s->length && t->entries_added == s->length);
    TEST_EXPECT(stream_id_is_zero(&t->max_deleted_id));
    struct stream_id first;
    stream_edge_id(s, true, true, &first);
    TEST_EXPECT(stream_id_cmp(&t->first_id, &first) == 0);
    struct stream_cg *g = stream_cg_find(t, "group-1", 7);
    TEST_ASSERT(g != NULL);
    TEST_EXPECT(g->entries_read == stream_estimate_distance(t, &g->last_id));
    TEST_EXPECT(radix_size(g->pel) == 6);
    entry_free(got);
    buf_free(&b);
    buf_free(&again);
    buf_free(&want);
    entry_free(e);
}

/* ---- hostile payloads -------------------------------------------------------------------------- */

TEST(truncations_and_flips_never_crash) {
    setup();
    struct entry *e = stream_entry(sample(25));
    struct buf p = BUF_INIT;
    rdb_put_value(&p, e, false);
    entry_free(e);
    for (size_t n = 0; n < p.len; n++) {
        struct entry *got = load(p.data, n, NULL, 0);
        TEST_EXPECT(got == NULL);
        if (got) entry_free(got);
    }
    size_t loaded = 0;
    for (size_t i = 1; i < p.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            p.data[i] ^= (char)(1 << bit);
            struct entry *got = load(p.data, p.len, NULL, 0);
            if (got) { /* accepted: it must be a stream that writes out again */
                struct buf b = BUF_INIT;
                TEST_EXPECT(rdb_put_value(&b, got, true));
                buf_free(&b);
                entry_free(got);
                loaded++;
            }
            p.data[i] ^= (char)(1 << bit);
        }
    }
    /* Times and counters can change freely: some flips load. */
    TEST_EXPECT(loaded > 0);
    buf_free(&p);
}

/* Build a payload with a hand-made tail, expecting the loader's reason. */
static bool refused(struct buf *p, const char *reason) {
    char why[160];
    struct entry *got = load(p->data, p->len, why, sizeof(why));
    if (got) {
        entry_free(got);
        fprintf(stderr, "  accepted, want \"%s\"\n", reason);
        return false;
    }
    if (strstr(why, reason) == NULL) {
        fprintf(stderr, "  refused with \"%s\", want \"%s\"\n", why, reason);
        return false;
    }
    return true;
}

/* One node with entries 1-0 and 2-0 (2-0 deleted when `tomb`). */
static void one_node(struct buf *b, uint64_t master_ms, bool tomb) {
    struct stream *s = stream_new();
    const char *fv[2] = {"f", "v"};
    size_t lens[2] = {1, 1};
    struct stream_id id1 = {master_ms, 0}, id2 = {master_ms + 1, 0}, added;
    stream_append(s, fv, lens, 1, 0, &id1, true, &added);
    stream_append(s, fv, lens, 1, 0, &id2, true, &added);
    if (tomb) stream_delete(s, &id2);
    struct stream_node_iter it;
    const unsigned char *key, *lp;
    size_t n;
    stream_nodes_start(&it, s);
    stream_nodes_next(&it, &key, &lp, &n);
    rdb_put_string(b, key, STREAM_ID_BYTES, false);
    rdb_put_string(b, lp, n, false);
    stream_nodes_stop(&it);
    stream_free(s);
}

static void head(struct buf *b, uint64_t length, uint64_t last_ms) {
    buf_clear(b);
    rdb_put_byte(b, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_put_len(b, 1);
    one_node(b, 1, false);
    rdb_put_len(b, length);
    rdb_put_len(b, last_ms);
    rdb_put_len(b, 0);
    rdb_put_len(b, 1); /* first ID 1-0 */
    rdb_put_len(b, 0);
    rdb_put_len(b, 0); /* max deleted 0-0 */
    rdb_put_len(b, 0);
    rdb_put_len(b, length); /* entries added */
}

static void raw_id(struct buf *b, uint64_t ms) {
    struct stream_id id = {ms, 0};
    unsigned char k[STREAM_ID_BYTES];
    stream_id_encode(k, &id);
    buf_append(b, k, sizeof(k));
}

TEST(semantic_checks) {
    setup();
    struct buf b = BUF_INIT;
    head(&b, 3, 2);
    rdb_put_len(&b, 0);
    TEST_EXPECT(refused(&b, "Stream length inconsistent"));
    head(&b, 2, 1);
    rdb_put_len(&b, 0);
    TEST_EXPECT(refused(&b, "Stream last ID is smaller than its last entry"));
    /* Two nodes out of order, or overlapping. */
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_put_len(&b, 2);
    one_node(&b, 10, false);
    one_node(&b, 5, false);
    TEST_EXPECT(refused(&b, "not above the previous node"));
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_put_len(&b, 2);
    one_node(&b, 10, false);
    one_node(&b, 11, false); /* master 11-0 equals the first node's last entry */
    TEST_EXPECT(refused(&b, "not above the previous node"));
    /* A node key of the wrong size. */
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_put_len(&b, 1);
    rdb_put_string(&b, "short", 5, false);
    TEST_EXPECT(refused(&b, "not the size of a stream ID"));
    /* A node whose counters lie: "live 1, deleted 1" rewritten to "live 2, deleted 0". */
    buf_clear(&b);
    rdb_put_byte(&b, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_put_len(&b, 1);
    {
        struct buf n = BUF_INIT;
        one_node(&n, 1, true);
        /* key string (1 + 16), listpack string length byte, then the listpack:
         * header (6 bytes), count (1 + backlen 1), deleted (1 + 1) */
        unsigned char *lp = (unsigned char *)n.data + 1 + 16 + 1;
        TEST_EXPECT(lp[6] == 1 && lp[8] == 1);
        lp[6] = 2;
        lp[8] = 0;
        buf_append(&b, n.data, n.len);
        buf_free(&n);
    }
    TEST_EXPECT(refused(&b, "entry counts are inconsistent"));

    /* Groups: duplicate name, duplicate PEL ID, consumers. */
    head(&b, 2, 2);
    rdb_put_len(&b, 2);
    for (int i = 0; i < 2; i++) {
        rdb_put_string(&b, "g", 1, false);
        rdb_put_len(&b, 0), rdb_put_len(&b, 0), rdb_put_len(&b, 0);
        rdb_put_len(&b, 0), rdb_put_len(&b, 0);
    }
    TEST_EXPECT(refused(&b, "Duplicated consumer group name g"));
    head(&b, 2, 2);
    rdb_put_len(&b, 1);
    rdb_put_string(&b, "g", 1, false);
    rdb_put_len(&b, 0), rdb_put_len(&b, 0), rdb_put_len(&b, 0);
    rdb_put_len(&b, 2);
    for (int i = 0; i < 2; i++) {
        raw_id(&b, 1);
        rdb_put_ms(&b, 5);
        rdb_put_len(&b, 1);
    }
    TEST_EXPECT(refused(&b, "Duplicated global PEL entry"));

    /* PEL of 1-0 and 2-0; consumers given as (name, ids...). */
    struct {
        const char *c1, *c2;
        uint64_t ids1[2], ids2[2];
        const char *reason;
    } cases[] = {
        {"a", "a", {1, 0}, {2, 0}, "Duplicate stream consumer detected."},
        {"a", "b", {1, 3}, {2, 0}, "Consumer entry not found in group global PEL"},
        {"a", "b", {1, 1}, {2, 0}, "Duplicated consumer PEL entry"},
        {"a", "b", {1, 0}, {1, 0}, "Stream PEL entry owned by two consumers"},
        {"a", "b", {1, 0}, {0, 0}, "Stream CG PEL entry without consumer"},
        {"a", "b", {1, 0}, {2, 0}, NULL},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        head(&b, 2, 2);
        rdb_put_len(&b, 1);
        rdb_put_string(&b, "g", 1, false);
        rdb_put_len(&b, 2), rdb_put_len(&b, 0), rdb_put_len(&b, 2);
        rdb_put_len(&b, 2);
        for (uint64_t ms = 1; ms <= 2; ms++) {
            raw_id(&b, ms);
            rdb_put_ms(&b, 5);
            rdb_put_len(&b, 1);
        }
        rdb_put_len(&b, 2);
        const char *names[2] = {cases[k].c1, cases[k].c2};
        const uint64_t *ids[2] = {cases[k].ids1, cases[k].ids2};
        for (int c = 0; c < 2; c++) {
            rdb_put_string(&b, names[c], 1, false);
            rdb_put_ms(&b, 7);
            int n = (ids[c][0] != 0) + (ids[c][1] != 0);
            rdb_put_len(&b, (uint64_t)n);
            for (int i = 0; i < n; i++) raw_id(&b, ids[c][i]);
        }
        if (cases[k].reason) {
            TEST_EXPECT(refused(&b, cases[k].reason));
        } else {
            struct entry *got = load(b.data, b.len, NULL, 0);
            TEST_EXPECT(got != NULL);
            if (got) entry_free(got);
        }
    }
    buf_free(&b);
}

int main(void) { return test_run_all(); }

/* Unit tests of types/stream: the ID parser (a table of Redis 7.0's
 * answers, then properties over random IDs and random bytes) and a
 * property test of appending, XDEL and trimming against a plain array
 * model, with random node limits: after every step the stream reads back
 * as the model (both ways, and over random ranges), every node is a valid
 * Redis stream listpack whose counters add up, and trims obey their
 * contracts (exact: the model's answer; approximate: whole nodes only, at
 * least the requested length kept, LIMIT respected). */
#include "../test.h"

#include "base/alloc.h"
#include "types/stream.h"

#include <stdint.h>
#include <stdio.h>

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- ID parser ------------------------------------------------------------------------------- */

struct idcase {
    const char *in;
    size_t len; /* 0: strlen */
    bool strict, allow_star;
    bool ok;
    uint64_t ms, seq;
    bool seq_given;
};

#define MAXU UINT64_MAX

static const struct idcase cases[] = {
    {"1-2", 0, true, false, true, 1, 2, true},
    {"7", 0, true, false, true, 7, 99, true}, /* missing sequence: the caller's */
    {"-", 0, false, false, true, 0, 0, true},
    {"+", 0, false, false, true, MAXU, MAXU, true},
    {"-", 0, true, false, false, 0, 0, false},
    {"+", 0, true, false, false, 0, 0, false},
    {"18446744073709551615-18446744073709551615", 0, true, false, true, MAXU, MAXU, true},
    {"18446744073709551616-0", 0, true, false, false, 0, 0, false},
    {"1-18446744073709551616", 0, true, false, false, 0, 0, false},
    {"01-02", 0, true, false, true, 1, 2, true},   /* strtoull takes leading zeros */
    {" 5-1", 0, true, false, true, 5, 1, true},    /* and leading blanks */
    {"+5-+1", 0, true, false, true, 5, 1, true},   /* and a plus sign */
    {"5- 3", 0, true, false, true, 5, 3, true},
    {"5--1", 0, true, false, false, 0, 0, false},  /* a canonical negative */
    {"-5", 0, false, false, false, 0, 0, false},   /* empty milliseconds */
    {"5-", 0, true, false, false, 0, 0, false},
    {"", 0, false, false, false, 0, 0, false},
    {"abc", 0, false, false, false, 0, 0, false},
    {"1.5", 0, false, false, false, 0, 0, false},
    {"0x10", 0, false, false, false, 0, 0, false},
    {"5-*", 0, true, true, true, 5, 0, false},
    {"5-*", 0, true, false, false, 0, 0, false},   /* "ms-*" only for XADD */
    {"5-**", 0, true, true, false, 0, 0, false},
    {"*", 0, true, true, false, 0, 0, false},
    {"5\0-3", 4, true, false, true, 5, 99, true},  /* the text ends at a NUL */
    {"1-2-3", 0, true, false, false, 0, 0, false},
};

TEST(parse_table) {
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct idcase *c = &cases[i];
        struct stream_id id = {0, 0};
        bool seq_given = true;
        size_t len = c->len ? c->len : strlen(c->in);
        bool ok = stream_id_parse(c->in, len, 99, c->strict, c->allow_star ? &seq_given : NULL, &id);
        if (ok != c->ok) fprintf(stderr, "  case \"%s\"\n", c->in);
        TEST_EXPECT(ok == c->ok);
        if (ok && c->ok) {
            TEST_EXPECT(id.ms == c->ms && id.seq == c->seq);
            if (c->allow_star) TEST_EXPECT(seq_given == c->seq_given);
        }
    }
    char big[200];
    memset(big, '1', sizeof(big));
    struct stream_id id;
    TEST_EXPECT(!stream_id_parse(big, 128, 0, false, NULL, &id)); /* past 127 bytes */
}

static uint64_t random_u64(void) {
    switch (rnd() % 4) {
    case 0: return rnd() % 10;
    case 1: return UINT64_MAX - rnd() % 3;
    default: return rnd() >> (rnd() % 64);
    }
}

TEST(parse_properties) {
    for (int i = 0; i < 100000; i++) {
        /* Format then parse gives the ID back, and text order is ID order. */
        struct stream_id a = {random_u64(), random_u64()}, b = {random_u64(), random_u64()}, pa, pb;
        char ta[STREAM_ID_STR_MAX], tb[STREAM_ID_STR_MAX];
        size_t la = stream_id_format(ta, &a), lb = stream_id_format(tb, &b);
        TEST_ASSERT(stream_id_parse(ta, la, 0, true, NULL, &pa));
        TEST_ASSERT(stream_id_parse(tb, lb, 0, true, NULL, &pb));
        TEST_EXPECT(stream_id_cmp(&pa, &a) == 0 && stream_id_cmp(&pb, &b) == 0);
        unsigned char ka[16], kb[16];
        stream_id_encode(ka, &a);
        stream_id_encode(kb, &b);
        int kc = memcmp(ka, kb, 16);
        TEST_EXPECT((kc > 0) - (kc < 0) == stream_id_cmp(&a, &b));
        struct stream_id d;
        stream_id_decode(ka, &d);
        TEST_EXPECT(stream_id_cmp(&d, &a) == 0);
        /* incr then decr is the identity (except at the ends). */
        struct stream_id c = a;
        if (stream_id_incr(&c)) {
            TEST_EXPECT(stream_id_cmp(&c, &a) > 0);
            TEST_EXPECT(stream_id_decr(&c) && stream_id_cmp(&c, &a) == 0);
        }
        /* Random bytes: never a crash or a read past len (ASan), and a
         * success always means digits (and '-', blanks, '+') only. */
        char junk[40];
        size_t jl = rnd() % sizeof(junk);
        for (size_t j = 0; j < jl; j++) junk[j] = "0123456789-+* \0xa"[rnd() % 17];
        struct stream_id r;
        bool sg;
        if (stream_id_parse(junk, jl, 0, rnd() & 1, (rnd() & 1) ? &sg : NULL, &r)) {
            for (size_t j = 0; j < jl && junk[j]; j++) TEST_EXPECT(strchr("0123456789-+* ", junk[j]));
        }
    }
}

/* ---- appending, deleting, trimming against a model ------------------------------------------- */

struct mentry {
    struct stream_id id;
    int npairs;
    char f[3][8], v[3][8];
};

struct model {
    struct mentry *e;
    size_t n, cap;
};

static void model_add(struct model *m, const struct mentry *e) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->e = realloc(m->e, m->cap * sizeof(*m->e));
    }
    m->e[m->n++] = *e;
}

static void model_drop(struct model *m, size_t i) {
    memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof(*m->e));
    m->n--;
}

static bool entry_matches(struct stream_iter *it, const struct stream_id *id, uint64_t n, const struct mentry *e) {
    if (stream_id_cmp(id, &e->id) != 0 || n != (uint64_t)e->npairs) return false;
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *f, *v;
        size_t fl, vl;
        stream_iter_pair(it, &f, &fl, &v, &vl);
        if (fl != strlen(e->f[i]) || memcmp(f, e->f[i], fl) || vl != strlen(e->v[i]) || memcmp(v, e->v[i], vl))
            return false;
    }
    return true;
}

/* Entries of the model in [lo, hi], forward and backward. */
static int check_range(struct stream *s, const struct model *m, const struct stream_id *lo,
                       const struct stream_id *hi) {
    int bad = 0;
    for (int rev = 0; rev < 2; rev++) {
        struct stream_iter it;
        stream_iter_start(&it, s, lo, hi, rev);
        struct stream_id id;
        uint64_t n;
        size_t k = rev ? m->n : 0;
        for (;;) {
            /* the next model entry in range */
            while (rev ? k > 0 : k < m->n) {
                const struct mentry *e = &m->e[rev ? k - 1 : k];
                if ((!lo || stream_id_cmp(&e->id, lo) >= 0) && (!hi || stream_id_cmp(&e->id, hi) <= 0)) break;
                rev ? k-- : k++;
            }
            bool more = rev ? k > 0 : k < m->n;
            bool got = stream_iter_next(&it, &id, &n);
            if (got != more) {
                bad++;
                break;
            }
            if (!got) break;
            if (!entry_matches(&it, &id, n, &m->e[rev ? k - 1 : k])) bad++;
            rev ? k-- : k++;
        }
        stream_iter_stop(&it);
    }
    return bad;
}

/* Nodes are valid, their counters add up to the length, sizes to lp_bytes,
 * and no node holds more entries than allowed. */
static int check_nodes(struct stream *s, long long max_entries) {
    int bad = 0;
    struct stream_node_iter ni;
    stream_nodes_start(&ni, s);
    const unsigned char *key, *lp;
    size_t bytes, total_bytes = 0;
    uint64_t live = 0;
    while (stream_nodes_next(&ni, &key, &lp, &bytes)) {
        if (!stream_validate_node(lp, bytes, true)) { bad++; fprintf(stderr, "invalid node\n"); }
        total_bytes += bytes;
        unsigned char *p = lp_first((unsigned char *)lp);
        long long count, dead;
        size_t l;
        lp_get(p, &l, &count);
        lp_get(lp_next((unsigned char *)lp, p), &l, &dead);
        if (count < 0 || dead < 0 || count + dead == 0) bad++; /* (only tombstones: possible, as Redis) */
        if (max_entries && count + dead > max_entries) { bad++; fprintf(stderr, "node %lld+%lld > %lld\n", count, dead, max_entries); }
        live += (uint64_t)count;
    }
    stream_nodes_stop(&ni);
    if (live != s->length || total_bytes != s->lp_bytes) { bad++; fprintf(stderr, "live %llu/%llu bytes %zu/%zu\n", (unsigned long long)live, (unsigned long long)s->length, total_bytes, s->lp_bytes); }
    return bad;
}

static const char *const words[] = {"a", "b", "item", "", "12", "-3", "value", "x"};

static void random_entry(struct mentry *e, const struct mentry *like) {
    if (like && rnd() % 2) {
        *e = *like; /* same fields as an earlier entry: compressed */
        for (int i = 0; i < e->npairs; i++) snprintf(e->v[i], 8, "%d", (int)(rnd() % 300) - 50);
        return;
    }
    e->npairs = 1 + (int)(rnd() % 3);
    for (int i = 0; i < e->npairs; i++) {
        strcpy(e->f[i], words[rnd() % ARRAY_LEN(words)]);
        strcpy(e->v[i], words[rnd() % ARRAY_LEN(words)]);
    }
}

static void do_append(struct stream *s, struct model *m, struct stream_id *last, uint64_t *added, int64_t now) {
    struct mentry e;
    random_entry(&e, m->n ? &m->e[rnd() % m->n] : NULL);
    const char *fv[6];
    size_t lens[6];
    for (int i = 0; i < e.npairs; i++) {
        fv[2 * i] = e.f[i];
        fv[2 * i + 1] = e.v[i];
        lens[2 * i] = strlen(e.f[i]);
        lens[2 * i + 1] = strlen(e.v[i]);
    }
    struct stream_id use = {last->ms + rnd() % 3, rnd() % 4}, got;
    int mode = (int)(rnd() % 3); /* auto, explicit, ms-* */
    if (mode == 2) use.seq = 0;   /* what the parser gives for "ms-*" */
    int rc = stream_append(s, fv, lens, (size_t)e.npairs, now, mode ? &use : NULL, mode == 1, &got);
    struct stream_id want;
    if (mode == 0) {
        want = (uint64_t)now > last->ms ? (struct stream_id){(uint64_t)now, 0}
                                        : (struct stream_id){last->ms, last->seq + 1};
    } else if (mode == 1 || use.ms != last->ms) {
        want = use;
        if (mode == 2) want.seq = 0;
    } else {
        want = (struct stream_id){last->ms, last->seq + 1};
    }
    bool ok = stream_id_cmp(&want, last) > 0;
    if ((rc == STREAM_APPEND_OK) != ok) fprintf(stderr, "  append mode %d\n", mode);
    if (rc != STREAM_APPEND_OK) return;
    e.id = got;
    if (stream_id_cmp(&got, &want) != 0) fprintf(stderr, "  append id mismatch\n");
    model_add(m, &e);
    *last = got;
    (*added)++;
}

TEST(append_delete_trim_against_model) {
    alloc_thread_init();
    for (int round = 0; round < 30; round++) {
        long long max_entries = (long long)(rnd() % 8), max_bytes = (rnd() % 3) ? 0 : 60 + (long long)(rnd() % 200);
        stream_set_node_limits(max_bytes, max_entries);
        struct stream *s = stream_new();
        struct model m = {0};
        struct stream_id last = {0, 0};
        uint64_t added = 0;
        int64_t now = 1000;
        for (int step = 0; step < 400; step++) {
            int op = (int)(rnd() % 20);
            if (rnd() % 4 == 0) now += (int64_t)(rnd() % 3);
            if (op < 12) {
                do_append(s, &m, &last, &added, now);
            } else if (op < 15 && m.n) {
                size_t i = rnd() % m.n;
                struct stream_id id = m.e[i].id;
                TEST_EXPECT(stream_delete(s, &id));
                TEST_EXPECT(!stream_delete(s, &id));
                model_drop(&m, i);
                TEST_EXPECT(stream_id_cmp(&s->max_deleted_id, &id) >= 0);
            } else {
                struct stream_trim t = {0};
                t.approx = rnd() & 1;
                t.limit = t.approx && (rnd() & 1) ? (long long)(rnd() % 10) : 0;
                size_t before = m.n;
                size_t keep_from; /* model index of the first entry an exact trim keeps */
                if (rnd() & 1) {
                    t.strategy = STREAM_TRIM_MAXLEN;
                    t.maxlen = (long long)(rnd() % (m.n + 2));
                    keep_from = m.n > (size_t)t.maxlen ? m.n - (size_t)t.maxlen : 0;
                } else {
                    t.strategy = STREAM_TRIM_MINID;
                    t.minid = m.n ? m.e[rnd() % m.n].id : (struct stream_id){0, 0};
                    if (rnd() & 1) t.minid.seq++;
                    keep_from = 0;
                    while (keep_from < m.n && stream_id_cmp(&m.e[keep_from].id, &t.minid) < 0) keep_from++;
                }
                int64_t gone = stream_trim(s, &t);
                TEST_EXPECT(gone >= 0 && (size_t)gone <= keep_from);
                if (!t.approx) TEST_EXPECT((size_t)gone == keep_from);
                if (t.limit) TEST_EXPECT(gone <= t.limit);
                /* What goes is always the oldest entries. */
                if (gone) memmove(m.e, m.e + gone, (m.n - (size_t)gone) * sizeof(*m.e));
                m.n -= (size_t)gone;
                TEST_EXPECT(before - m.n == (size_t)gone);
            }
            TEST_EXPECT_INT(s->length, m.n);
            TEST_EXPECT(stream_id_cmp(&s->last_id, &last) == 0);
            TEST_EXPECT_INT(s->entries_added, added);
            if (m.n) TEST_EXPECT(stream_id_cmp(&s->first_id, &m.e[0].id) == 0);
            if (step % 10 == 0) {
                TEST_EXPECT_INT(check_nodes(s, max_entries), 0);
                TEST_EXPECT_INT(check_range(s, &m, NULL, NULL), 0);
                for (int q = 0; q < 5 && m.n; q++) {
                    struct stream_id lo = m.e[rnd() % m.n].id, hi = m.e[rnd() % m.n].id;
                    if (rnd() & 1) lo.seq += rnd() % 2;
                    TEST_EXPECT_INT(check_range(s, &m, &lo, &hi), 0);
                }
                for (size_t i = 0; i < m.n; i += 1 + rnd() % 5) TEST_EXPECT(stream_entry_exists(s, &m.e[i].id));
            }
        }
        /* A copy reads the same and digests the same. */
        struct stream *d = stream_dup(s);
        TEST_EXPECT_INT(check_range(d, &m, NULL, NULL), 0);
        unsigned char da[20] = {0}, db[20] = {0};
        stream_digest(s, da);
        stream_digest(d, db);
        TEST_EXPECT(memcmp(da, db, 20) == 0);
        TEST_EXPECT(d->lp_bytes == s->lp_bytes && radix_size(d->rax) == radix_size(s->rax));
        stream_free(d);
        stream_free(s);
        free(m.e);
    }
    stream_set_node_limits(STREAM_DEFAULT_NODE_MAX_BYTES, STREAM_DEFAULT_NODE_MAX_ENTRIES);
}

/* The node layout byte for byte as Redis writes it: master entry, a
 * same-fields entry, an entry with other fields, lp-counts. */
TEST(node_layout_is_redis) {
    struct stream *s = stream_new();
    const char *a[] = {"f", "1"}, *b[] = {"f", "2"}, *c[] = {"g", "x", "h", "y"};
    size_t la[] = {1, 1}, lc[] = {1, 1, 1, 1};
    struct stream_id id1 = {5, 0}, id2 = {5, 1}, id3 = {7, 3};
    TEST_ASSERT(stream_append(s, a, la, 1, 0, &id1, true, NULL) == STREAM_APPEND_OK);
    TEST_ASSERT(stream_append(s, b, la, 1, 0, &id2, true, NULL) == STREAM_APPEND_OK);
    TEST_ASSERT(stream_append(s, c, lc, 2, 0, &id3, true, NULL) == STREAM_APPEND_OK);
    TEST_EXPECT(stream_append(s, a, la, 1, 0, &id2, true, NULL) == STREAM_APPEND_ID_TOO_SMALL);
    struct stream_node_iter ni;
    stream_nodes_start(&ni, s);
    const unsigned char *key, *lp;
    size_t bytes;
    TEST_ASSERT(stream_nodes_next(&ni, &key, &lp, &bytes));
    static const unsigned char want_key[16] = {0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
    TEST_EXPECT(memcmp(key, want_key, 16) == 0);
    /* count=3 deleted=0 nf=1 "f" 0 | 2 0 0 "1" 4 | 2 0 1 "2" 4 | 0 2 3 2 "g" "x" "h" "y" 8 */
    long long want[] = {3, 0, 1, -1, 0, 2, 0, 0, 1, 4, 2, 0, 1, 2, 4, 0, 2, 3, 2, -1, -1, -1, -1, 8};
    const char *wants[24] = {[3] = "f", [19] = "g", [20] = "x", [21] = "h", [22] = "y"};
    size_t i = 0;
    for (unsigned char *p = lp_first((unsigned char *)lp); p; p = lp_next((unsigned char *)lp, p), i++) {
        size_t len;
        long long v;
        const unsigned char *str = lp_get(p, &len, &v);
        if (i >= ARRAY_LEN(want)) break;
        if (want[i] >= 0 && !wants[i])
            TEST_EXPECT(str == NULL && v == want[i]);
        else
            TEST_EXPECT(str && len == strlen(wants[i]) && memcmp(str, wants[i], len) == 0);
    }
    TEST_EXPECT_INT(i, ARRAY_LEN(want));
    TEST_EXPECT(!stream_nodes_next(&ni, &key, &lp, &bytes));
    stream_nodes_stop(&ni);
    /* XDEL of the first entry: tombstone, counters, first_id, max deleted. */
    TEST_EXPECT(stream_delete(s, &id1));
    TEST_EXPECT(s->first_id.ms == 5 && s->first_id.seq == 1);
    TEST_EXPECT(s->max_deleted_id.ms == 5 && s->max_deleted_id.seq == 0);
    TEST_EXPECT_INT(s->length, 2);
    stream_free(s);
}

int main(void) { return test_run_all(); }

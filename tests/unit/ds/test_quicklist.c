/* Unit tests of ds/quicklist: node limits for every kind of fill, pushes,
 * index and stepping both ways, inserts that split nodes, replaces between
 * packed and plain nodes, deletes by position and by range, all checked
 * against a plain array model with ql_check() after every change. */
#include "../test.h"

#include "base/alloc.h"
#include "base/rand.h"
#include "ds/quicklist.h"

#include <stdint.h>
#include <stdio.h>

#define MAXV 64

/* The model: an array of strings. */
struct model {
    char **v;
    size_t *len;
    size_t n, cap;
};

static void m_insert(struct model *m, size_t at, const char *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
        m->len = xrealloc(m->len, m->cap * sizeof(*m->len));
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof(*m->v));
    memmove(m->len + at + 1, m->len + at, (m->n - at) * sizeof(*m->len));
    m->v[at] = xmemdup(s, len ? len : 1);
    m->len[at] = len;
    m->n++;
}

static void m_delete(struct model *m, size_t at) {
    xfree(m->v[at]);
    memmove(m->v + at, m->v + at + 1, (m->n - at - 1) * sizeof(*m->v));
    memmove(m->len + at, m->len + at + 1, (m->n - at - 1) * sizeof(*m->len));
    m->n--;
}

static void m_free(struct model *m) {
    for (size_t i = 0; i < m->n; i++) xfree(m->v[i]);
    xfree(m->v);
    xfree(m->len);
}

/* The entry's value as text. */
static size_t text(const struct ql_entry *e, char *buf) {
    if (e->s) {
        memcpy(buf, e->s, e->len);
        return e->len;
    }
    return (size_t)snprintf(buf, 32, "%lld", e->ll);
}

static bool same(struct quicklist *ql, const struct model *m) {
    if (!ql_check(ql) || ql_count(ql) != m->n) return false;
    struct ql_entry e;
    static char buf[1 << 16];
    size_t i = 0;
    for (bool ok = ql_index(ql, 0, &e); ok; ok = ql_step(ql, &e, true), i++) {
        size_t n = text(&e, buf);
        if (i >= m->n || n != m->len[i] || memcmp(buf, m->v[i], n) != 0) return false;
    }
    if (i != m->n) return false;
    /* And backwards. */
    i = m->n;
    for (bool ok = ql_index(ql, -1, &e); ok; ok = ql_step(ql, &e, false)) {
        i--;
        size_t n = text(&e, buf);
        if (n != m->len[i] || memcmp(buf, m->v[i], n) != 0) return false;
    }
    return i == 0;
}

static size_t random_value(char *buf) {
    uint64_t r = rand_u64();
    switch (r % 5) {
    case 0: return (size_t)snprintf(buf, MAXV, "%lld", (long long)(rand_u64() % 100000) - 50000);
    case 1: return (size_t)snprintf(buf, MAXV, "%llu", (unsigned long long)rand_u64());
    case 2: return 0;
    default: {
        size_t n = 1 + rand_u64() % (MAXV - 1);
        for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + rand_u64() % 26);
        return n;
    }
    }
}

TEST(node_limits) {
    size_t sz, cnt;
    ql_node_limit(-2, &sz, &cnt);
    TEST_EXPECT(sz == 8192 && cnt == SIZE_MAX);
    ql_node_limit(-100, &sz, &cnt);
    TEST_EXPECT(sz == 65536);
    ql_node_limit(5, &sz, &cnt);
    TEST_EXPECT(sz == QL_SIZE_SAFETY_LIMIT && cnt == 5);
    ql_node_limit(0, &sz, &cnt);
    TEST_EXPECT(cnt == 1);
    TEST_EXPECT(!ql_node_exceeds_limit(-1, 4096, 1000));
    TEST_EXPECT(ql_node_exceeds_limit(-1, 4097, 1));
    TEST_EXPECT(ql_node_exceeds_limit(3, 100, 4));
    TEST_EXPECT(ql_node_exceeds_limit(3, 9000, 1));
    TEST_EXPECT(!ql_node_exceeds_limit(3, 100, 3));
}

TEST(push_fill_by_count) {
    struct quicklist *ql = ql_new(3, 0);
    for (int i = 0; i < 10; i++) {
        struct lp_item it = lp_int_item(i);
        ql_push(ql, false, &it);
    }
    TEST_EXPECT(ql->len == 4);
    TEST_EXPECT(ql->head->count == 3 && ql->tail->count == 1);
    struct ql_entry e;
    TEST_ASSERT(ql_index(ql, 7, &e));
    TEST_EXPECT(e.s == NULL && e.ll == 7);
    TEST_ASSERT(ql_index(ql, -10, &e));
    TEST_EXPECT(e.ll == 0);
    TEST_EXPECT(!ql_index(ql, 10, &e) && !ql_index(ql, -11, &e));
    TEST_EXPECT(ql_check(ql));
    struct quicklist *d = ql_dup(ql);
    TEST_EXPECT(ql_check(d) && ql_count(d) == 10 && ql_bytes(d) == ql_bytes(ql));
    ql_free(d);
    ql_free(ql);
}

/* Every index, positive and negative, reaches its element (the walk
 * starts from the nearer end). */
TEST(index_from_either_end) {
    struct quicklist *ql = ql_new(4, 0);
    for (int i = 0; i < 101; i++) {
        struct lp_item it = lp_int_item(i);
        ql_push(ql, false, &it);
    }
    struct ql_entry e;
    for (long i = 0; i < 101; i++) {
        TEST_ASSERT(ql_index(ql, i, &e));
        TEST_EXPECT(e.ll == i);
        TEST_ASSERT(ql_index(ql, i - 101, &e));
        TEST_EXPECT(e.ll == i);
    }
    TEST_ASSERT(ql_index(ql, 100, &e) && ql_step(ql, &e, false));
    TEST_EXPECT(e.ll == 99);
    ql_free(ql);
}

TEST(push_fill_by_size) {
    struct quicklist *ql = ql_new(-1, 0);
    char big[1000];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 20; i++) {
        struct lp_item it = lp_str_item(big, sizeof(big));
        ql_push(ql, i % 2, &it);
    }
    for (struct ql_node *n = ql->head; n; n = n->next) TEST_EXPECT(n->sz <= 4096);
    TEST_EXPECT(ql->len >= 5);
    TEST_EXPECT(ql_check(ql));
    ql_free(ql);
}

TEST(plain_nodes) {
    ql_set_packed_threshold(16);
    struct quicklist *ql = ql_new(-2, 0);
    struct lp_item a = lp_str_item("small", 5), b = lp_str_item("0123456789abcdefXYZ", 19);
    ql_push(ql, false, &a);
    ql_push(ql, false, &b);
    ql_push(ql, false, &a);
    TEST_EXPECT(ql->len == 3 && ql->head->next->plain);
    struct ql_entry e;
    TEST_ASSERT(ql_index(ql, 1, &e));
    TEST_EXPECT(e.len == 19 && memcmp(e.s, "0123456789abcdefXYZ", 19) == 0);
    /* Plain -> packed and back. */
    struct lp_item c = lp_str_item("c", 1);
    ql_replace_entry(ql, &e, &c);
    TEST_EXPECT(ql_check(ql) && ql_count(ql) == 3);
    TEST_ASSERT(ql_index(ql, 1, &e));
    TEST_EXPECT(e.len == 1 && e.s[0] == 'c');
    ql_replace_entry(ql, &e, &b);
    TEST_EXPECT(ql_check(ql));
    TEST_ASSERT(ql_index(ql, 1, &e));
    TEST_EXPECT(e.len == 19);
    TEST_ASSERT(ql_index(ql, 2, &e));
    TEST_EXPECT(e.len == 5);
    ql_free(ql);
    ql_set_packed_threshold((size_t)1 << 30);
}

TEST(take_listpack) {
    unsigned char *lp = lp_append(lp_new(0), "x", 1);
    struct quicklist *ql = ql_from_listpack(lp, -2, 0);
    TEST_EXPECT(ql_count(ql) == 1 && ql_check(ql));
    struct lp_item it = lp_str_item("y", 1);
    ql_push(ql, true, &it);
    unsigned char *back = ql_take_listpack(ql);
    TEST_ASSERT(back != NULL);
    TEST_EXPECT(lp_length(back) == 2);
    lp_free(back);
}

/* Random operations against the model, for several fills and thresholds. */
static void random_ops(int *test_failed_, int fill, size_t threshold, int rounds) {
    ql_set_packed_threshold(threshold);
    struct quicklist *ql = ql_new(fill, 0);
    struct model m = {0};
    char buf[MAXV];
    for (int r = 0; r < rounds; r++) {
        int op = (int)(rand_u64() % 10);
        size_t len = random_value(buf);
        struct lp_item it = lp_str_item(buf, len);
        if (op <= 2 || m.n == 0) {
            bool head = rand_u64() % 2;
            ql_push(ql, head, &it);
            m_insert(&m, head ? 0 : m.n, buf, len);
        } else if (op <= 4) {
            size_t at = rand_u64() % m.n;
            bool after = rand_u64() % 2;
            struct ql_entry e;
            TEST_ASSERT(ql_index(ql, (long)at, &e));
            ql_insert(ql, &e, after, &it);
            m_insert(&m, after ? at + 1 : at, buf, len);
        } else if (op == 5) {
            size_t at = rand_u64() % m.n;
            struct ql_entry e;
            TEST_ASSERT(ql_index(ql, (long)at, &e));
            ql_replace_entry(ql, &e, &it);
            m_delete(&m, at);
            m_insert(&m, at, buf, len);
        } else if (op <= 7) {
            size_t at = rand_u64() % m.n;
            bool forward = rand_u64() % 2;
            struct ql_entry e;
            TEST_ASSERT(ql_index(ql, (long)at, &e));
            /* Delete a run of up to 3 going one way; e follows. */
            int k = 1 + (int)(rand_u64() % 3);
            for (int i = 0; i < k; i++) {
                m_delete(&m, at);
                bool more = ql_delete_entry(ql, &e, forward);
                TEST_EXPECT(more == (forward ? at < m.n : at > 0));
                if (!more) break;
                if (!forward) at--;
                char t[MAXV + 32];
                size_t n = text(&e, t);
                TEST_EXPECT(n == m.len[at] && memcmp(t, m.v[at], n) == 0);
            }
        } else {
            size_t start = rand_u64() % m.n;
            size_t cnt = rand_u64() % 8;
            ql_delete_range(ql, (long)start, (long)cnt);
            for (size_t i = 0; i < cnt && start < m.n; i++) m_delete(&m, start);
        }
        if (!same(ql, &m)) {
            fprintf(stderr, "  fill %d threshold %zu: mismatch after round %d (op %d)\n", fill,
                    threshold, r, op);
            (*test_failed_)++;
            break;
        }
    }
    ql_free(ql);
    m_free(&m);
    ql_set_packed_threshold((size_t)1 << 30);
}

TEST(random_against_model) {
    int fills[] = {-5, -2, -1, 0, 1, 2, 5, 32};
    size_t thresholds[] = {(size_t)1 << 30, 24};
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++)
        for (size_t t = 0; t < 2; t++) random_ops(test_failed_, fills[f], thresholds[t], 3000);
}

int main(void) {
    return test_run_all();
}

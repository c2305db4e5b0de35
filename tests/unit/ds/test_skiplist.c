/* Unit tests of ds/skiplist: order, ranks and spans against a sorted-array
 * model through random inserts, deletes, score updates and range deletes. */
#include "../test.h"

#include "base/alloc.h"
#include "base/rand.h"
#include "ds/skiplist.h"

#include <stdio.h>

#define MODEL_MAX 2048

struct model {
    double score[MODEL_MAX];
    char member[MODEL_MAX][16];
    size_t n;
};

static int elem_cmp(double as, const char *am, double bs, const char *bm) {
    if (as != bs) return as < bs ? -1 : 1;
    return zsl_cmp(am, strlen(am), bm, strlen(bm));
}

static long model_find(const struct model *m, const char *mem) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->member[i], mem) == 0) return (long)i;
    return -1;
}

static void model_del_at(struct model *m, size_t i) {
    memmove(&m->score[i], &m->score[i + 1], (m->n - i - 1) * sizeof(double));
    memmove(m->member[i], m->member[i + 1], (m->n - i - 1) * sizeof(m->member[0]));
    m->n--;
}

static void model_add(struct model *m, double s, const char *mem) {
    size_t i = 0;
    while (i < m->n && elem_cmp(m->score[i], m->member[i], s, mem) < 0) i++;
    memmove(&m->score[i + 1], &m->score[i], (m->n - i) * sizeof(double));
    memmove(m->member[i + 1], m->member[i], (m->n - i) * sizeof(m->member[0]));
    m->score[i] = s;
    snprintf(m->member[i], sizeof(m->member[i]), "%s", mem);
    m->n++;
}

/* The skiplist holds exactly the model, in order, with consistent ranks. */
static int check(const struct zsl *zsl, const struct model *m) {
    int bad = 0;
    if (zsl->length != m->n) return 1;
    const struct zsl_node *x = zsl_first(zsl), *prev = NULL;
    for (size_t i = 0; i < m->n; i++, prev = x, x = x->lv[0].forward) {
        if (x == NULL) return 1;
        if (x->score != m->score[i] || x->mlen != strlen(m->member[i]) ||
            memcmp(zsl_node_member(x), m->member[i], x->mlen) != 0)
            bad++;
        if (x->backward != prev) bad++;
        if (zsl_rank(zsl, x->score, zsl_node_member(x), x->mlen) != i + 1) bad++;
        if (zsl_by_rank(zsl, i + 1) != x) bad++;
    }
    if (x != NULL || zsl->tail != prev) bad++;
    return bad;
}

static void free_node(struct zsl_node *n, void *arg) {
    (*(size_t *)arg)++;
    zsl_node_free(n);
}

TEST(random_ops_match_model) {
    static struct model m;
    m.n = 0;
    struct zsl zsl;
    zsl_init(&zsl);
    rand_seed(42);
    for (int step = 0; step < 20000; step++) {
        char mem[16];
        snprintf(mem, sizeof(mem), "m%u", (unsigned)rand_below(600));
        double s = (double)rand_below(50);
        long at = model_find(&m, mem);
        unsigned op = (unsigned)rand_below(10);
        if (op < 5 && at < 0 && m.n < MODEL_MAX) {
            zsl_insert(&zsl, zsl_node_new(s, mem, strlen(mem)));
            model_add(&m, s, mem);
        } else if (op < 7 && at >= 0) {
            struct zsl_node *n = zsl_delete(&zsl, m.score[at], mem, strlen(mem));
            TEST_ASSERT(n != NULL);
            zsl_node_free(n);
            model_del_at(&m, (size_t)at);
        } else if (op < 9 && at >= 0) {
            struct zsl_node *n = zsl_by_rank(&zsl, (size_t)at + 1);
            TEST_ASSERT(n != NULL && n->mlen == strlen(mem));
            zsl_update_score(&zsl, n, s);
            model_del_at(&m, (size_t)at);
            model_add(&m, s, mem);
        } else if (op == 9 && m.n > 0) {
            size_t a = 1 + (size_t)rand_below(m.n), b = a + (size_t)rand_below(5);
            size_t freed = 0;
            size_t got = zsl_delete_range_by_rank(&zsl, a, b, free_node, &freed);
            size_t want = MIN(b, m.n) - a + 1;
            TEST_EXPECT_INT(got, want);
            TEST_EXPECT_INT(freed, want);
            for (size_t k = 0; k < want; k++) model_del_at(&m, a - 1);
        }
        if (step % 500 == 0) TEST_ASSERT(check(&zsl, &m) == 0);
    }
    TEST_EXPECT(check(&zsl, &m) == 0);
    zsl_destroy(&zsl);
}

TEST(score_ranges) {
    struct zsl zsl;
    zsl_init(&zsl);
    for (int i = 0; i < 100; i++) {
        char mem[16];
        snprintf(mem, sizeof(mem), "e%03d", i);
        zsl_insert(&zsl, zsl_node_new(i / 2, mem, strlen(mem)));
    }
    struct zsl_range r = {10, 20, false, false};
    TEST_EXPECT_INT(zsl_count_in_range(&zsl, &r), 22);
    TEST_EXPECT(zsl_first_in_range(&zsl, &r)->score == 10);
    TEST_EXPECT(zsl_last_in_range(&zsl, &r)->score == 20);
    r.minex = r.maxex = true;
    TEST_EXPECT_INT(zsl_count_in_range(&zsl, &r), 18);
    struct zsl_range empty = {5, 5, true, false};
    TEST_EXPECT(zsl_first_in_range(&zsl, &empty) == NULL);
    struct zsl_range above = {100, 200, false, false};
    TEST_EXPECT(zsl_first_in_range(&zsl, &above) == NULL);
    TEST_EXPECT(zsl_last_in_range(&zsl, &above) == NULL);
    size_t freed = 0;
    struct zsl_range del = {0, 9, false, true};
    TEST_EXPECT_INT(zsl_delete_range_by_score(&zsl, &del, free_node, &freed), 18);
    TEST_EXPECT_INT(zsl.length, 82);
    TEST_EXPECT(zsl_first(&zsl)->score == 9);
    zsl_destroy(&zsl);
}

TEST(lex_ranges) {
    struct zsl zsl;
    zsl_init(&zsl);
    const char *names[] = {"a", "b", "c", "d", "e", "ee", "f"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        zsl_insert(&zsl, zsl_node_new(0, names[i], strlen(names[i])));
    struct zsl_lex_range all = {{NULL, 0, true, ZSL_LEX_MINUS}, {NULL, 0, true, ZSL_LEX_PLUS}};
    TEST_EXPECT_INT(zsl_count_in_lex_range(&zsl, &all), 7);
    struct zsl_lex_range r = {{"b", 1, false, ZSL_LEX_VALUE}, {"e", 1, true, ZSL_LEX_VALUE}};
    TEST_EXPECT_INT(zsl_count_in_lex_range(&zsl, &r), 3);
    r.max.ex = false;
    TEST_EXPECT_INT(zsl_count_in_lex_range(&zsl, &r), 4);
    struct zsl_lex_range none = {{NULL, 0, true, ZSL_LEX_PLUS}, {NULL, 0, true, ZSL_LEX_MINUS}};
    TEST_EXPECT(zsl_first_in_lex_range(&zsl, &none) == NULL);
    struct zsl_lex_range mm = {{NULL, 0, true, ZSL_LEX_MINUS}, {NULL, 0, true, ZSL_LEX_MINUS}};
    TEST_EXPECT(!zsl_lex_range_valid(&mm));
    size_t freed = 0;
    struct zsl_lex_range d = {{"e", 1, true, ZSL_LEX_VALUE}, {NULL, 0, true, ZSL_LEX_PLUS}};
    TEST_EXPECT_INT(zsl_delete_range_by_lex(&zsl, &d, free_node, &freed), 2);
    TEST_EXPECT(zsl.tail->mlen == 1 && zsl_node_member(zsl.tail)[0] == 'e');
    zsl_destroy(&zsl);
}

int main(void) {
    return test_run_all();
}

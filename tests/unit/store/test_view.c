/* Unit tests of store views (store/view.c): each stripe is serialized once,
 * in its state at the cut, whether the owner visits it first or a writer
 * changes it first; flushed tables stay readable until the view closes. */
#include "../test.h"

#include "base/hash.h"
#include "store/store.h"

#include <stdio.h>

struct seen {
    int calls[STORE_SLOTS];
    char val[STORE_SLOTS][16]; /* value of the slot's key, at serialization */
    int keys;
};

static void note_key(struct entry *e, void *arg) {
    struct seen *s = arg;
    char num[32];
    size_t n;
    const char *p = entry_str_bytes(e, num, &n);
    size_t kl;
    const char *k = entry_key(e, &kl);
    uint16_t slot = store_slot(k, kl);
    snprintf(s->val[slot], sizeof(s->val[slot]), "%.*s", (int)n, p);
    s->keys++;
}

static void serialize(struct store_view *v, uint16_t slot, void *arg) {
    struct seen *s = arg;
    s->calls[slot]++;
    for (int db = 0; db < store_view_databases(v); db++) store_view_foreach(v, slot, db, note_key, s);
}

struct op {
    struct store_key k;
    const char *val;
};

static void op_set(void *arg) {
    struct op *o = arg;
    struct store_ref ref;
    struct entry *n = entry_new_str(o->k.ptr, o->k.len, o->val, strlen(o->val), -1, false);
    if (store_lookup(0, &o->k, STORE_LOOKUP_WRITE, &ref))
        store_replace(&ref, n);
    else
        store_add(0, &o->k, n, NULL);
}

static void set_key(const char *key, const char *val) {
    struct op o = {{0}, val};
    store_key_init(&o.k, key, strlen(key));
    store_run_slot(o.k.slot, STORE_WRITE, op_set, &o);
}

static void nothing(void *arg) {}

TEST(copy_before_write) {
    hash_setup();
    store_setup(4, NULL);
    set_key("a", "old-a");
    set_key("b", "old-b");
    static struct seen s;
    struct store_view *v = store_view_open(serialize, &s, NULL, NULL);
    TEST_ASSERT(v != NULL);
    TEST_EXPECT(store_view_open(serialize, &s, NULL, NULL) == NULL); /* one at a time */
    struct store_key ka, kb;
    store_key_init(&ka, "a", 1);
    store_key_init(&kb, "b", 1);
    uint16_t sa = ka.slot, sb = kb.slot;
    TEST_ASSERT(sa != sb);
    /* A writer changes "a" first: its stripe is serialized before. */
    set_key("a", "new-a");
    TEST_EXPECT(s.calls[sa] == 1);
    TEST_EXPECT_STR(s.val[sa], "old-a");
    /* A read section does not serialize. */
    store_run_slot(kb.slot, STORE_READ, nothing, NULL);
    TEST_EXPECT(s.calls[sb] == 0);
    /* A key added after the cut in an unvisited stripe is not in the view. */
    set_key("c", "new-c");
    struct store_key kc;
    store_key_init(&kc, "c", 1);
    for (unsigned sl = 0; sl < STORE_SLOTS; sl++) store_view_visit(v, (uint16_t)sl);
    store_view_close(&v);
    /* Each slot at most once; the slots that had keys, exactly once. */
    for (unsigned sl = 0; sl < STORE_SLOTS; sl++) TEST_EXPECT(s.calls[sl] <= 1);
    TEST_EXPECT(s.calls[sa] == 1 && s.calls[sb] == 1);
    TEST_EXPECT(s.calls[kc.slot] == 1); /* its first write serialized it (empty) */
    TEST_EXPECT_STR(s.val[sb], "old-b");
    TEST_EXPECT(s.keys == 2);
    /* After close, writes do not call the view. */
    set_key("b", "x");
    TEST_EXPECT(s.calls[sb] == 1);
}

TEST(flush_keeps_tables_for_the_view) {
    static struct seen s;
    set_key("z", "before-flush");
    struct store_view *v = store_view_open(serialize, &s, NULL, NULL);
    TEST_ASSERT(v != NULL);
    store_flush(-1, false); /* the view adopts the flushed tables */
    set_key("z", "after");
    struct store_key kz;
    store_key_init(&kz, "z", 1);
    for (unsigned sl = 0; sl < STORE_SLOTS; sl++) store_view_visit(v, (uint16_t)sl);
    store_view_close(&v);
    TEST_EXPECT_STR(s.val[kz.slot], "before-flush");
    store_teardown();
}

int main(void) { return test_run_all(); }

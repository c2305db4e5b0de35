/* Unit tests of the memcached metadata block of store entries (entry.h,
 * "memcached metadata"): presence only when asked for, layout next to the
 * expire block, survival across rebuilds, and the rule that every change of
 * a value forgets the CAS while the client flags stay. */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "store/store.h"

static void setup(void) {
    hash_setup();
    store_setup(1, NULL);
}

static const char *val_text(const struct entry *e, char *buf, size_t *len) { return entry_str_bytes(e, buf, len); }

static bool val_is(const struct entry *e, const char *want) {
    char buf[32];
    size_t len;
    const char *p = val_text(e, buf, &len);
    return len == strlen(want) && memcmp(p, want, len) == 0;
}

TEST(block_only_when_asked) {
    struct entry *plain = entry_new_str("k", 1, "hello", 5, -1, false);
    TEST_EXPECT(!entry_has_mc(plain));
    struct entry_mc mc = entry_mc_get(plain);
    TEST_EXPECT(mc.flags == 0 && mc.cas == 0);

    struct entry_mc want = {0xdeadbeef, 0x0001000000000007ULL};
    struct entry *m = entry_new_str_mc("k", 1, "hello", 5, -1, &want);
    TEST_EXPECT(entry_has_mc(m));
    mc = entry_mc_get(m);
    TEST_EXPECT(mc.flags == 0xdeadbeef && mc.cas == 0x0001000000000007ULL);
    TEST_EXPECT(entry_key_eq(m, "k", 1));
    TEST_EXPECT(val_is(m, "hello"));
    /* the block costs exactly its 12 bytes */
    TEST_EXPECT(entry_keyp(m) - m->data == ENTRY_MC_BLOCK);
    entry_free(plain);
    entry_free(m);
}

TEST(block_after_expire_block) {
    struct entry_mc want = {7, 99};
    struct entry *e = entry_new_str_mc("key", 3, "12345", 5, 1234567, &want);
    TEST_EXPECT(entry_has_expire(e) && entry_has_mc(e));
    TEST_EXPECT(entry_expire(e) == 1234567);
    TEST_EXPECT(entry_keyp(e) - e->data == ENTRY_EXPIRE_BLOCK + ENTRY_MC_BLOCK);
    TEST_EXPECT(entry_enc(e) == ENC_INT); /* integers still detected */
    TEST_EXPECT(val_is(e, "12345"));
    struct entry_mc mc = entry_mc_get(e);
    TEST_EXPECT(mc.flags == 7 && mc.cas == 99);
    entry_free(e);
}

TEST(big_values_and_copies_keep_the_block) {
    char big[2000];
    memset(big, 'x', sizeof(big));
    struct entry_mc want = {5, 6};
    struct entry *e = entry_new_str_mc("b", 1, big, sizeof(big), -1, &want);
    TEST_EXPECT(entry_enc(e) == ENC_BLOB);
    /* expiry change (touch) keeps block and CAS */
    uint8_t *vp;
    size_t vb = entry_value_size(e);
    struct entry *r = entry_rebuild(e, 42, vb, vb, &vp);
    xfree(e);
    struct entry_mc mc = entry_mc_get(r);
    TEST_EXPECT(mc.flags == 5 && mc.cas == 6);
    TEST_EXPECT(entry_expire(r) == 42);
    /* rename keeps it; copy keeps the flags only */
    struct entry *n = entry_rekey(r, "other", 5, -1);
    xfree(r);
    mc = entry_mc_get(n);
    TEST_EXPECT(mc.flags == 5 && mc.cas == 6 && entry_key_eq(n, "other", 5) && !entry_has_expire(n));
    struct entry *d = entry_dup(n, "copy", 4, -1);
    mc = entry_mc_get(d);
    TEST_EXPECT(mc.flags == 5 && mc.cas == 0);
    TEST_EXPECT(entry_str_len(d) == sizeof(big));
    entry_free(n);
    entry_free(d);
}

TEST(with_mc_adds_changes_and_drops) {
    struct entry *e = entry_new_str("k", 1, "v", 1, 500, false);
    e->flags |= ENTRY_F_MC_FETCHED;
    struct entry_mc want = {0, 77};
    struct entry *m = entry_with_mc(e, &want);
    xfree(e);
    TEST_EXPECT(entry_has_mc(m) && entry_mc_get(m).cas == 77 && entry_expire(m) == 500);
    TEST_EXPECT(m->flags & ENTRY_F_MC_FETCHED); /* item state survives */
    TEST_EXPECT(val_is(m, "v"));
    struct entry *p = entry_with_mc(m, NULL);
    xfree(m);
    TEST_EXPECT(!entry_has_mc(p) && entry_expire(p) == 500 && val_is(p, "v"));
    entry_free(p);
}

/* ---- through the store ------------------------------------------------------ */

struct step {
    struct store_key k;
    int what;
    const char *val;
    struct entry_mc mc;
    struct entry_mc seen;
    bool found, has_block, overwritten;
    char text[64];
};

enum { PUT_MC, PUT_PLAIN, GET, APPEND, SETRANGE0, INCR, OVERWRITE, SET_MC, DROP_MC, EXPIRE };

static void step_locked(void *arg) {
    struct step *s = arg;
    struct store_ref ref;
    struct entry *e = store_lookup(0, &s->k, STORE_LOOKUP_WRITE, &ref);
    switch (s->what) {
    case PUT_MC:
    case PUT_PLAIN: {
        struct entry *n = s->what == PUT_MC ? entry_new_str_mc(s->k.ptr, s->k.len, s->val, strlen(s->val), -1, &s->mc)
                                            : entry_new_str(s->k.ptr, s->k.len, s->val, strlen(s->val), -1, false);
        if (e)
            store_replace(&ref, n);
        else
            store_add(0, &s->k, n, NULL);
        return;
    }
    case APPEND: {
        size_t old = entry_str_len(e), add = strlen(s->val);
        char *p = store_str_writable(&ref, old + add);
        memcpy(p + old, s->val, add);
        break;
    }
    case SETRANGE0: {
        char *p = store_str_writable(&ref, entry_str_len(e));
        p[0] = s->val[0];
        break;
    }
    case INCR: store_str_set_int(&ref, 1000); break;
    case OVERWRITE: s->overwritten = store_str_overwrite(&ref, s->val, strlen(s->val), -1); break;
    case SET_MC: store_set_mc(&ref, &s->mc); break;
    case DROP_MC: store_set_mc(&ref, NULL); break;
    case EXPIRE: store_set_expire(&ref, 99999999999999LL); break;
    default: break;
    }
    e = store_lookup(0, &s->k, STORE_LOOKUP_WRITE, &ref);
    s->found = e != NULL;
    if (!e) return;
    s->seen = entry_mc_get(e);
    s->has_block = entry_has_mc(e);
    size_t len;
    const char *p = entry_str_bytes(e, s->text, &len);
    if (len >= sizeof(s->text)) len = sizeof(s->text) - 1;
    memmove(s->text, p, len);
    s->text[len] = '\0';
}

static struct step run(const char *key, int what, const char *val, uint32_t flags, uint64_t cas) {
    struct step s;
    memset(&s, 0, sizeof(s));
    store_key_init(&s.k, key, strlen(key));
    s.what = what;
    s.val = val;
    s.mc.flags = flags;
    s.mc.cas = cas;
    store_run_slot(s.k.slot, STORE_WRITE, step_locked, &s);
    return s;
}

TEST(changes_in_place_forget_cas_keep_flags) {
    setup();
    run("a", PUT_MC, "hello", 9, 1001);
    struct step s = run("a", GET, NULL, 0, 0);
    TEST_EXPECT(s.seen.flags == 9 && s.seen.cas == 1001);
    s = run("a", APPEND, "!", 0, 0);
    TEST_EXPECT_STR(s.text, "hello!");
    TEST_EXPECT(s.has_block && s.seen.flags == 9 && s.seen.cas == 0);

    run("a", SET_MC, NULL, 9, 1002);
    s = run("a", SETRANGE0, "J", 0, 0);
    TEST_EXPECT_STR(s.text, "Jello!");
    TEST_EXPECT(s.seen.flags == 9 && s.seen.cas == 0);

    run("a", SET_MC, NULL, 9, 1003);
    s = run("a", INCR, NULL, 0, 0); /* a text value becomes an integer: rebuilt */
    TEST_EXPECT_STR(s.text, "1000");
    TEST_EXPECT(s.seen.flags == 9 && s.seen.cas == 0);

    run("a", SET_MC, NULL, 9, 1004);
    s = run("a", INCR, NULL, 0, 0); /* in place this time */
    TEST_EXPECT(s.seen.flags == 9 && s.seen.cas == 0);

    run("a", SET_MC, NULL, 9, 1005);
    s = run("a", EXPIRE, NULL, 0, 0); /* like touch: CAS stays */
    TEST_EXPECT(s.seen.flags == 9 && s.seen.cas == 1005);
}

TEST(set_overwrite_declines_entries_with_a_block) {
    run("o", PUT_MC, "aaaa", 3, 5);
    struct step s = run("o", OVERWRITE, "bbbb", 0, 0);
    TEST_EXPECT(!s.overwritten);
    TEST_EXPECT_STR(s.text, "aaaa");
    run("p", PUT_PLAIN, "aaaa", 0, 0);
    s = run("p", OVERWRITE, "bbbb", 0, 0);
    TEST_EXPECT(s.overwritten && !s.has_block);
    TEST_EXPECT_STR(s.text, "bbbb");
}

TEST(store_set_mc_adds_in_place_and_drops) {
    run("m", PUT_PLAIN, "value", 0, 0);
    struct step s = run("m", SET_MC, NULL, 0, 42); /* assign a CAS to a Redis-written key */
    TEST_EXPECT(s.has_block && s.seen.cas == 42 && s.seen.flags == 0);
    TEST_EXPECT_STR(s.text, "value");
    s = run("m", SET_MC, NULL, 1, 43); /* in place */
    TEST_EXPECT(s.seen.cas == 43 && s.seen.flags == 1);
    s = run("m", DROP_MC, NULL, 0, 0);
    TEST_EXPECT(!s.has_block && s.seen.cas == 0);
    TEST_EXPECT_STR(s.text, "value");
    /* a new value written by Redis (new entry) has no block */
    run("m", SET_MC, NULL, 4, 44);
    s = run("m", PUT_PLAIN, "other", 0, 0);
    s = run("m", GET, NULL, 0, 0);
    TEST_EXPECT(!s.has_block);
    store_teardown();
}

int main(void) { return test_run_all(); }

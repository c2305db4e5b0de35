/* Unit tests of store/: lookups, expiry, value changes, scan, flush, swap,
 * watch, and a multi-threaded stress that checks multi-stripe atomicity. */
#include "../test.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/time.h"
#include "store/store.h"
#include "store/watch.h"

#include <pthread.h>

static void setup(void) {
    hash_setup();
    store_setup(16, NULL);
}

struct op {
    int db;
    struct store_key k;
    const char *val;
    int64_t expire;
    struct entry *found;
    int64_t ll;
    char text[64];
    size_t len;
};

static void op_set(void *arg) {
    struct op *o = arg;
    struct store_ref ref;
    struct entry *n = entry_new_str(o->k.ptr, o->k.len, o->val, strlen(o->val), o->expire, false);
    if (store_lookup(o->db, &o->k, STORE_LOOKUP_WRITE, &ref))
        store_replace(&ref, n);
    else
        store_add(o->db, &o->k, n, NULL);
}

static void op_get(void *arg) {
    struct op *o = arg;
    o->found = store_lookup(o->db, &o->k, 0, NULL);
    if (o->found) {
        size_t len;
        const char *p = entry_str_bytes(o->found, o->text, &len);
        o->len = len;
        if (len >= sizeof(o->text)) len = sizeof(o->text) - 1;
        memmove(o->text, p, len);
        o->text[len] = '\0';
    }
}

static void set(int db, const char *key, const char *val, int64_t expire) {
    struct op o = {db, {0}, val, expire, NULL, 0, {0}, 0};
    store_key_init(&o.k, key, strlen(key));
    store_run_slot(o.k.slot, STORE_WRITE, op_set, &o);
}

static struct op o_last;
static const char *get(int db, const char *key) {
    struct op o;
    memset(&o, 0, sizeof(o));
    o.db = db;
    store_key_init(&o.k, key, strlen(key));
    store_run_slot(o.k.slot, STORE_READ, op_get, &o);
    o_last = o;
    return o.found ? o_last.text : NULL;
}

TEST(slots_and_hashtags) {
    TEST_EXPECT_INT(store_slot("foo", 3), 12182);
    TEST_EXPECT_INT(store_slot("{user1000}.following", 20), store_slot("user1000", 8));
    TEST_EXPECT_INT(store_slot("foo{}{bar}", 10), store_slot("foo{}{bar}", 10)); /* empty tag: whole key */
    TEST_EXPECT_INT(store_slot("foo{{bar}}zap", 13), store_slot("{bar", 4));
}

TEST(set_get_replace_types) {
    set(0, "a", "hello", -1);
    set(0, "n", "12345", -1);
    TEST_EXPECT_STR(get(0, "a"), "hello");
    TEST_EXPECT_STR(get(0, "n"), "12345");
    TEST_EXPECT(get(1, "a") == NULL);
    set(0, "a", "world", -1);
    TEST_EXPECT_STR(get(0, "a"), "world");
    TEST_EXPECT_INT(store_dbsize(0), 2);
    /* A big value goes to a blob. */
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    set(0, "big", big, -1);
    TEST_EXPECT(get(0, "big") != NULL && o_last.len == 1999);
    store_flush(-1, false);
    TEST_EXPECT_INT(store_dbsize(0), 0);
}

TEST(lazy_expiry_hides_and_deletes) {
    int64_t now = time_ms();
    set(0, "gone", "v", now - 1);
    set(0, "stay", "v", now + 100000);
    TEST_EXPECT_INT(store_dbsize(0), 2);
    TEST_EXPECT_INT(store_db_volatile(0), 2);
    TEST_EXPECT(get(0, "gone") == NULL);
    TEST_EXPECT_INT(store_dbsize(0), 1);
    TEST_EXPECT_INT(store_db_volatile(0), 1);
    TEST_EXPECT_STR(get(0, "stay"), "v");
    store_flush(-1, false);
}

struct chg {
    struct store_key k;
    int step;
};

static void op_change(void *arg) {
    struct chg *c = arg;
    struct store_ref ref;
    struct entry *e = store_lookup(0, &c->k, STORE_LOOKUP_WRITE, &ref);
    if (e == NULL) return;
    switch (c->step) {
    case 0: store_set_expire(&ref, time_ms() + 50000); break;
    case 1: store_set_expire(&ref, -1); break;
    case 2: {
        char *p = store_str_writable(&ref, 8);
        memcpy(p + 5, "abc", 3);
        break;
    }
    case 3: {
        char *p = store_str_writable(&ref, 4000); /* to a blob */
        p[3999] = 'z';
        break;
    }
    case 4: store_str_set_int(&ref, 42); break;
    }
}

static void change(const char *key, int step) {
    struct chg c;
    store_key_init(&c.k, key, strlen(key));
    c.step = step;
    store_run_slot(c.k.slot, STORE_WRITE, op_change, &c);
}

TEST(value_changes_keep_index_consistent) {
    set(0, "k", "hello", -1);
    change("k", 0);
    TEST_EXPECT_INT(store_db_volatile(0), 1);
    change("k", 2);
    TEST_EXPECT(memcmp(get(0, "k"), "helloabc", 8) == 0);
    TEST_EXPECT_INT(store_db_volatile(0), 1);
    change("k", 1);
    TEST_EXPECT_INT(store_db_volatile(0), 0);
    change("k", 0);
    change("k", 3);
    TEST_EXPECT_INT(store_db_volatile(0), 1);
    change("k", 4);
    TEST_EXPECT_STR(get(0, "k"), "42");
    TEST_EXPECT_INT(store_db_volatile(0), 1);
    TEST_EXPECT_INT(store_dbsize(0), 1);
    store_flush(-1, false);
    TEST_EXPECT_INT(store_db_volatile(0), 0);
}

static void count_key(struct entry *e, void *arg) { (*(int *)arg)++; }

TEST(scan_sees_every_key_once_or_more) {
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        set(3, key, "v", -1);
    }
    int seen = 0;
    uint64_t cur = 0;
    int calls = 0;
    do {
        size_t produced;
        cur = store_scan(3, cur, 100, count_key, &seen, &produced);
        calls++;
    } while (cur != 0 && calls < 100000);
    TEST_EXPECT(seen >= 5000);
    TEST_EXPECT(calls > 10);
    int all = 0;
    store_foreach(3, count_key, &all);
    TEST_EXPECT_INT(all, 5000);
    store_swapdb(3, 4);
    TEST_EXPECT_INT(store_dbsize(3), 0);
    TEST_EXPECT_INT(store_dbsize(4), 5000);
    char buf[64], *heap;
    long n = store_random_key(4, buf, sizeof(buf), &heap);
    TEST_EXPECT(n > 4 && memcmp(buf, "key:", 4) == 0);
    TEST_EXPECT_INT(store_flush(4, true), 5000);
    TEST_EXPECT_INT(store_dbsize(4), 0);
}

struct wop {
    struct store_watch *w;
    struct store_key k;
};

static void op_watch(void *arg) {
    struct wop *o = arg;
    store_watch_key(o->w, 0, &o->k);
}

static void op_touch(void *arg) {
    struct wop *o = arg;
    store_signal_modified(0, &o->k);
}

TEST(watch_marks_dirty_on_modification_only) {
    struct store_watch w;
    store_watch_init(&w);
    struct wop o = {&w, {0}};
    store_key_init(&o.k, "wk", 2);
    store_run_slot(o.k.slot, STORE_WRITE, op_watch, &o);
    store_run_slot(o.k.slot, STORE_WRITE, op_watch, &o); /* twice: one record */
    TEST_EXPECT_INT(w.n, 1);
    TEST_EXPECT(!store_watch_dirty(&w));
    struct wop other = {&w, {0}};
    store_key_init(&other.k, "other", 5);
    store_run_slot(other.k.slot, STORE_WRITE, op_touch, &other);
    TEST_EXPECT(!store_watch_dirty(&w));
    store_run_slot(o.k.slot, STORE_WRITE, op_touch, &o);
    TEST_EXPECT(store_watch_dirty(&w));
    store_unwatch_all(&w);
    TEST_EXPECT(!store_watch_dirty(&w));
    TEST_EXPECT_INT(w.n, 0);
    /* Flush touches a watched key that exists. */
    set(0, "wk", "v", -1);
    store_run_slot(o.k.slot, STORE_WRITE, op_watch, &o);
    store_flush(0, false);
    TEST_EXPECT(store_watch_dirty(&w));
    store_unwatch_all(&w);
}

TEST(active_expire_removes_expired_keys) {
    char key[32];
    int64_t past = time_ms() - 10;
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "e:%d", i);
        set(5, key, "v", past);
    }
    TEST_EXPECT_INT(store_dbsize(5), 2000);
    for (int round = 0; round < 50 && store_dbsize(5) > 0; round++) store_active_expire(0, 1, 100000);
    TEST_EXPECT_INT(store_dbsize(5), 0);
}

TEST(cron_finishes_incremental_rehash_of_idle_big_tables) {
    char key[32];
    /* One hashtag: every key in one slot, so its table gets big. */
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "{t}:%d", i);
        set(6, key, "v", -1);
    }
    struct store_table_stats st;
    int tries = 0;
    do {
        store_active_rehash(0, 1, 100000);
        store_table_stats(6, &st);
    } while (st.rehashing && ++tries < 100);
    TEST_EXPECT_INT(st.rehashing, 0);
    TEST_EXPECT_INT(st.keys, 5000);
    TEST_EXPECT(st.buckets >= 2048);
    store_flush(6, false);
}

/* ---- stress: transfers between accounts keep the total constant ---------- */

#define ACCOUNTS 64
#define THREADS 4
#define ROUNDS 20000

struct xfer {
    struct store_key a, b;
    long long amount;
};

static long long read_int(struct entry *e) {
    char buf[32];
    size_t len;
    const char *p = entry_str_bytes(e, buf, &len);
    long long v = 0;
    for (size_t i = 0; i < len; i++) v = v * 10 + (p[i] - '0');
    return v;
}

static void op_xfer(void *arg) {
    struct xfer *x = arg;
    struct store_ref ra, rb;
    struct entry *ea = store_lookup(0, &x->a, STORE_LOOKUP_WRITE, &ra);
    long long va = read_int(ea);
    if (va < x->amount) return;
    store_str_set_int(&ra, va - x->amount);
    struct entry *eb = store_lookup(0, &x->b, STORE_LOOKUP_WRITE, &rb);
    store_str_set_int(&rb, read_int(eb) + x->amount);
}

static char names[ACCOUNTS][16];

static void *stress_thread(void *arg) {
    alloc_thread_init();
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245 + 12345;
        int a = (int)((seed >> 8) % ACCOUNTS), b = (int)((seed >> 16) % ACCOUNTS);
        if (a == b) continue;
        struct xfer x;
        store_key_init(&x.a, names[a], strlen(names[a]));
        store_key_init(&x.b, names[b], strlen(names[b]));
        x.amount = 1 + (seed >> 24) % 5;
        struct store_lockset ls;
        store_lockset_init(&ls);
        store_lockset_add(&ls, x.a.slot);
        store_lockset_add(&ls, x.b.slot);
        store_run(&ls, STORE_WRITE, op_xfer, &x);
    }
    return NULL;
}

struct sum {
    long long total;
};
static void add_up(struct entry *e, void *arg) { ((struct sum *)arg)->total += read_int(e); }

TEST(stress_multi_stripe_transfers_are_atomic) {
    for (int i = 0; i < ACCOUNTS; i++) {
        snprintf(names[i], sizeof(names[i]), "acct:%d", i);
        set(0, names[i], "1000", -1);
    }
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, stress_thread, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    struct sum s = {0};
    store_foreach(0, add_up, &s);
    TEST_EXPECT_INT(s.total, 1000LL * ACCOUNTS);
    store_flush(-1, false);
}

int main(void) {
    setup();
    int rc = test_run_all();
    store_teardown();
    return rc;
}

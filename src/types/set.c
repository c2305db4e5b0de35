/*
 * types/set.c - the set value type (see set.h for the encodings).
 *
 * Representation
 *   The object pointer is either an intset blob or a `struct set_ht`, told
 *   apart by their first four bytes: an intset starts with its encoding
 *   (2, 4 or 8), a table with a zero tag. A small integer set costs one
 *   allocation besides the key's entry.
 *
 *   Table node, one allocation per member:
 *
 *     +------+------------+--------+
 *     | next | varint len | member |
 *     +------+------------+--------+
 *
 * Memory accounting: the table keeps `bytes` (usable size of itself and its
 *   nodes) so set_mem() is O(1).
 *
 * Conversions follow Redis 7.0's setTypeAdd: a non-integer member, or more
 *   than set-max-intset-entries members, turns an intset into a table.
 *
 * Iteration over a table pauses its incremental rehash (htab.paused) until
 *   set_iter_done, so commands may look members up in the set they iterate
 *   (SINTER k k, SDIFF k k) without missing or repeating members.
 *
 * Conventions: exported names set_*, static helpers unprefixed.
 * Thread context: see set.h.
 */
#include "types/set.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/digest.h"
#include "base/hash.h"
#include "base/rand.h"
#include "base/str.h"
#include "ds/intset.h"

#include <stdatomic.h>
#include <string.h>

static _Atomic long long max_intset_entries = SET_DEFAULT_MAX_INTSET_ENTRIES;

void set_set_limits(long long n) {
    atomic_store_explicit(&max_intset_entries, n, memory_order_relaxed);
}
static inline size_t lim_entries(void) {
    return (size_t)atomic_load_explicit(&max_intset_entries, memory_order_relaxed);
}

/* ---- representation -------------------------------------------------------------------------- */

struct set_ht {
    uint32_t tag; /* always 0 */
    uint32_t unused;
    size_t bytes;
    struct htab t;
};

struct snode {
    struct htab_node node;
    unsigned char data[]; /* varint len, member */
};

static inline bool is_is(const struct set *s) {
    uint32_t tag;
    memcpy(&tag, s, sizeof(tag));
    return tag != 0;
}
static inline struct intset *is_of(const struct set *s) {
    return (struct intset *)s;
}
static inline struct set_ht *ht_of(const struct set *s) {
    return (struct set_ht *)s;
}

static inline size_t vput(unsigned char *p, size_t v) {
    size_t n = 0;
    while (v >= 128) {
        p[n++] = (unsigned char)(v | 128);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}
static inline size_t vget(const unsigned char *p, size_t *v) {
    size_t r = 0, n = 0;
    unsigned shift = 0;
    do {
        r |= (size_t)(p[n] & 127) << shift;
        shift += 7;
    } while (p[n++] & 128);
    *v = r;
    return n;
}
static inline size_t vlen_of(size_t v) {
    size_t n = 1;
    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline const char *node_member(const struct snode *n, size_t *len) {
    size_t k = vget(n->data, len);
    return (const char *)n->data + k;
}

static uint64_t node_hash(const struct htab_node *hn) {
    size_t len;
    const char *m = node_member((const struct snode *)hn, &len);
    return hash_keyed(m, len);
}

struct mkey {
    const char *p;
    size_t n;
};
static bool node_eq(const struct htab_node *hn, const void *key) {
    const struct mkey *k = key;
    size_t len;
    const char *m = node_member((const struct snode *)hn, &len);
    return len == k->n && memcmp(m, k->p, len) == 0;
}

static struct set_ht *ht_new(void) {
    struct set_ht *t = xmalloc(sizeof(*t));
    t->tag = 0;
    t->unused = 0;
    htab_init(&t->t, node_hash);
    t->bytes = xusable(t);
    return t;
}

static struct snode *ht_find(struct set_ht *t, const char *m, size_t len, struct htab_pos *pos) {
    struct mkey k = {m, len};
    if (!htab_find(&t->t, hash_keyed(m, len), node_eq, &k, pos)) return NULL;
    return (struct snode *)*pos->link;
}

static void ht_add_new(struct set_ht *t, const char *m, size_t len) {
    struct snode *n = xmalloc(sizeof(struct snode) + vlen_of(len) + len);
    size_t k = vput(n->data, len);
    if (len) memcpy(n->data + k, m, len);
    n->node.next = NULL;
    t->bytes += xusable(n);
    htab_insert(&t->t, hash_keyed(m, len), &n->node, NULL);
}

static void node_free_cb(struct htab_node *hn, void *arg) {
    UNUSED(arg);
    xfree(hn);
}

static inline bool as_int(const char *m, size_t len, long long *v) {
    return len > 0 && len < STR_LL_MAX && str_to_ll(m, len, v);
}

static void str_from_int(long long v, struct set_str *out) {
    out->len = (size_t)ll_to_str(out->buf, sizeof(out->buf), v);
    out->ptr = out->buf;
}

/* ---- life cycle and type ops ----------------------------------------------------------------- */

struct set *set_new(void) {
    return (struct set *)intset_new();
}

struct set *set_new_for(const char *m, size_t len) {
    long long v;
    if (as_int(m, len, &v)) return set_new();
    return (struct set *)ht_new();
}

enum set_encoding set_encoding(const struct set *s) {
    return is_is(s) ? SET_ENC_INTSET : SET_ENC_HT;
}

size_t set_len(const struct set *s) {
    if (is_is(s)) return intset_len(is_of(s));
    return htab_count(&ht_of(s)->t);
}

void set_free(void *obj) {
    struct set *s = obj;
    if (s == NULL) return;
    if (is_is(s)) {
        intset_free(is_of(s));
        return;
    }
    struct set_ht *t = ht_of(s);
    htab_clear(&t->t, node_free_cb, NULL);
    xfree(t);
}

void *set_dup(const void *obj) {
    const struct set *s = obj;
    if (is_is(s)) return intset_dup(is_of(s));
    struct set_ht *src = ht_of(s), *dst = ht_new();
    struct htab_iter it;
    for (struct htab_node *hn = htab_first(&src->t, &it); hn; hn = htab_next(&src->t, &it)) {
        size_t len;
        const char *m = node_member((const struct snode *)hn, &len);
        ht_add_new(dst, m, len);
    }
    return dst;
}

size_t set_mem(const void *obj) {
    const struct set *s = obj;
    if (is_is(s)) return intset_bytes(is_of(s));
    const struct set_ht *t = ht_of(s);
    return t->bytes + htab_buckets(&t->t) * sizeof(void *);
}

const char *set_enc_name(const void *obj, int enc) {
    UNUSED(enc);
    return is_is(obj) ? "intset" : "hashtable";
}

void set_digest(const void *obj, unsigned char digest[20]) {
    struct set_iter it;
    struct set_str m;
    set_iter_init((struct set *)obj, &it);
    while (set_iter_next(&it, &m)) digest_xor(digest, m.ptr, m.len);
    set_iter_done(&it);
}

/* ---- members --------------------------------------------------------------------------------- */

void set_convert_to_ht(struct set **sp, size_t hint) {
    if (!is_is(*sp)) return;
    UNUSED(hint);
    struct intset *is = is_of(*sp);
    struct set_ht *t = ht_new();
    uint32_t n = intset_len(is);
    for (uint32_t i = 0; i < n; i++) {
        struct set_str m;
        str_from_int(intset_at(is, i), &m);
        ht_add_new(t, m.ptr, m.len);
    }
    intset_free(is);
    *sp = (struct set *)t;
}

bool set_contains(struct set *s, const char *m, size_t len) {
    if (is_is(s)) {
        long long v;
        return as_int(m, len, &v) && intset_find(is_of(s), v);
    }
    struct htab_pos pos;
    return ht_find(ht_of(s), m, len, &pos) != NULL;
}

bool set_add(struct set **sp, const char *m, size_t len) {
    if (is_is(*sp)) {
        long long v;
        if (as_int(m, len, &v)) {
            bool added;
            struct intset *is = intset_add(is_of(*sp), v, &added);
            *sp = (struct set *)is;
            if (added && intset_len(is) > lim_entries()) set_convert_to_ht(sp, intset_len(is));
            return added;
        }
        set_convert_to_ht(sp, intset_len(is_of(*sp)) + 1);
    }
    struct set_ht *t = ht_of(*sp);
    struct htab_pos pos;
    if (ht_find(t, m, len, &pos)) return false;
    ht_add_new(t, m, len);
    return true;
}

bool set_remove(struct set **sp, const char *m, size_t len) {
    if (is_is(*sp)) {
        long long v;
        bool removed = false;
        if (as_int(m, len, &v)) *sp = (struct set *)intset_remove(is_of(*sp), v, &removed);
        return removed;
    }
    struct set_ht *t = ht_of(*sp);
    struct htab_pos pos;
    struct snode *n = ht_find(t, m, len, &pos);
    if (!n) return false;
    htab_remove_at(&t->t, &pos);
    t->bytes -= xusable(n);
    xfree(n);
    return true;
}

/* ---- iteration ------------------------------------------------------------------------------- */

void set_iter_init(struct set *s, struct set_iter *it) {
    it->s = s;
    it->pos = 0;
    it->started = false;
    if (!is_is(s)) ht_of(s)->t.paused++;
}

bool set_iter_next(struct set_iter *it, struct set_str *m) {
    if (is_is(it->s)) {
        struct intset *is = is_of(it->s);
        if (it->pos >= intset_len(is)) return false;
        str_from_int(intset_at(is, it->pos++), m);
        return true;
    }
    struct htab *t = &ht_of(it->s)->t;
    struct htab_node *hn = it->started ? htab_next(t, &it->it) : htab_first(t, &it->it);
    it->started = true;
    if (!hn) return false;
    m->ptr = node_member((const struct snode *)hn, &m->len);
    return true;
}

void set_iter_done(struct set_iter *it) {
    if (!is_is(it->s)) ht_of(it->s)->t.paused--;
}

/* ---- random ---------------------------------------------------------------------------------- */

static struct snode *ht_fair_random(struct set_ht *t) {
    struct htab_node *sample[16];
    size_t n = htab_sample(&t->t, sample, ARRAY_LEN(sample));
    if (n == 0) return (struct snode *)htab_random(&t->t);
    return (struct snode *)sample[rand_below(n)];
}

void set_random(struct set *s, struct set_str *m) {
    if (is_is(s)) {
        str_from_int(intset_random(is_of(s)), m);
        return;
    }
    struct snode *n = ht_fair_random(ht_of(s));
    ASSERT(n != NULL);
    m->ptr = node_member(n, &m->len);
}

struct ptrset {
    const void **slots;
    size_t mask;
};
static void ptrset_init(struct ptrset *p, size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    p->slots = xcalloc(cap, sizeof(*p->slots));
    p->mask = cap - 1;
}
static bool ptrset_add(struct ptrset *p, const void *x) {
    uint64_t h = (uint64_t)(uintptr_t)x;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    for (size_t i = h & p->mask;; i = (i + 1) & p->mask) {
        if (p->slots[i] == x) return false;
        if (p->slots[i] == NULL) {
            p->slots[i] = x;
            return true;
        }
    }
}

void set_random_distinct(struct set *s, size_t count, set_member_fn fn, void *arg) {
    size_t size = set_len(s);
    ASSERT(count < size);
    struct set_str m;
    if (is_is(s) || count * 3 > size) {
        /* Selection sampling over the members: exact, O(size), no copy. */
        struct set_iter it;
        set_iter_init(s, &it);
        size_t seen = 0, taken = 0;
        while (taken < count && set_iter_next(&it, &m)) {
            if (rand_below(size - seen) < count - taken) {
                fn(&m, arg);
                taken++;
            }
            seen++;
        }
        set_iter_done(&it);
        return;
    }
    struct set_ht *t = ht_of(s);
    struct ptrset picked;
    ptrset_init(&picked, count);
    for (size_t taken = 0; taken < count;) {
        struct snode *n = ht_fair_random(t);
        if (!ptrset_add(&picked, n)) continue;
        m.ptr = node_member(n, &m.len);
        fn(&m, arg);
        taken++;
    }
    xfree(picked.slots);
}

/* ---- scanning -------------------------------------------------------------------------------- */

struct scan_step {
    set_member_fn fn;
    void *arg;
};
static void scan_node(struct htab_node *hn, void *arg) {
    struct scan_step *st = arg;
    struct set_str m;
    m.ptr = node_member((const struct snode *)hn, &m.len);
    st->fn(&m, st->arg);
}

uint64_t set_scan(struct set *s, uint64_t cursor, set_member_fn fn, void *arg) {
    if (is_is(s)) {
        struct intset *is = is_of(s);
        struct set_str m;
        for (uint32_t i = 0; i < intset_len(is); i++) {
            str_from_int(intset_at(is, i), &m);
            fn(&m, arg);
        }
        return 0;
    }
    struct scan_step st = {fn, arg};
    return htab_scan(&ht_of(s)->t, cursor, scan_node, &st);
}

/* ---- RDB ---------------------------------------------------------------------------------------- */

const unsigned char *set_intset_blob(const struct set *s, size_t *len) {
    if (!is_is(s)) return NULL;
    *len = intset_bytes(is_of(s));
    return (const unsigned char *)is_of(s);
}

struct set *set_from_intset(unsigned char *blob) {
    struct set *s = (struct set *)blob;
    if (intset_len(is_of(s)) > lim_entries()) set_convert_to_ht(&s, intset_len(is_of(s)));
    return s;
}

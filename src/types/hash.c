/*
 * types/hash.c - the hash value type (see hash.h for the encodings).
 *
 * Representation
 *   The object pointer is either a listpack blob or a `struct hash_ht`. The
 *   two are told apart by their first four bytes: a listpack starts with its
 *   total size (>= 7), a table with a zero tag. So a small hash costs
 *   exactly one allocation, its listpack, besides the key's entry.
 *
 *   Table node, one allocation per field:
 *
 *     +------+-------------+-------+-------------+-------+
 *     | next | varint flen | field | varint vlen | value |
 *     +------+-------------+-------+-------------+-------+
 *
 *   The value comes last, so a new value that fits the node's allocation is
 *   written in place; otherwise the node is rebuilt and relinked.
 *
 * Memory accounting: the table keeps `bytes`, the usable size of its nodes
 *   and of itself, updated on every change, so hash_mem() is O(1) (the store
 *   asks it whenever it frees an entry, to decide whether to free lazily).
 *
 * Conversions follow Redis 7.0 exactly (hashTypeTryConversion, hashTypeSet):
 *   before a write, any argument longer than the value limit converts; after
 *   an insert, more fields than the entries limit converts.
 *
 * Conventions: exported names hash_*, static helpers unprefixed.
 * Thread context: see hash.h.
 */
#include "types/hash.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/digest.h"
#include "base/hash.h"
#include "base/rand.h"
#include "base/str.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long long max_lp_entries = HASH_DEFAULT_MAX_LP_ENTRIES;
static _Atomic long long max_lp_value = HASH_DEFAULT_MAX_LP_VALUE;

void hash_set_limits(long long entries, long long value) {
    atomic_store_explicit(&max_lp_entries, entries, memory_order_relaxed);
    atomic_store_explicit(&max_lp_value, value, memory_order_relaxed);
}
static inline size_t lim_entries(void) {
    return (size_t)atomic_load_explicit(&max_lp_entries, memory_order_relaxed);
}
static inline size_t lim_value(void) {
    return (size_t)atomic_load_explicit(&max_lp_value, memory_order_relaxed);
}

/* ---- representation -------------------------------------------------------------------------- */

struct hash_ht {
    uint32_t tag; /* always 0 */
    uint32_t unused;
    size_t bytes; /* usable bytes of this struct and of every node */
    struct htab t;
};

struct hnode {
    struct htab_node node;
    unsigned char data[]; /* varint flen, field, varint vlen, value */
};

static inline bool is_lp(const struct hash *h) {
    uint32_t tag;
    memcpy(&tag, h, sizeof(tag));
    return tag != 0;
}
static inline unsigned char *lp_of(const struct hash *h) {
    return (unsigned char *)h;
}
static inline struct hash_ht *ht_of(const struct hash *h) {
    return (struct hash_ht *)h;
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

static inline const char *node_field(const struct hnode *n, size_t *len) {
    size_t k = vget(n->data, len);
    return (const char *)n->data + k;
}
/* Offset of the value's varint inside data. */
static inline size_t node_voff(const struct hnode *n) {
    size_t flen;
    size_t k = vget(n->data, &flen);
    return k + flen;
}
static inline const char *node_value(const struct hnode *n, size_t *len) {
    size_t off = node_voff(n);
    size_t k = vget(n->data + off, len);
    return (const char *)n->data + off + k;
}

static struct hnode *node_new(const char *f, size_t flen, const char *v, size_t vlen) {
    size_t size = sizeof(struct hnode) + vlen_of(flen) + flen + vlen_of(vlen) + vlen;
    struct hnode *n = xmalloc(size);
    unsigned char *p = n->data;
    p += vput(p, flen);
    memcpy(p, f, flen);
    p += flen;
    p += vput(p, vlen);
    if (vlen) memcpy(p, v, vlen);
    n->node.next = NULL;
    return n;
}

static uint64_t node_hash(const struct htab_node *hn) {
    size_t len;
    const char *f = node_field((const struct hnode *)hn, &len);
    return hash_keyed(f, len);
}

struct fkey {
    const char *p;
    size_t n;
};
static bool node_eq(const struct htab_node *hn, const void *key) {
    const struct fkey *k = key;
    size_t len;
    const char *f = node_field((const struct hnode *)hn, &len);
    return len == k->n && memcmp(f, k->p, len) == 0;
}

static struct hash_ht *ht_new(void) {
    struct hash_ht *t = xmalloc(sizeof(*t));
    t->tag = 0;
    t->unused = 0;
    htab_init(&t->t, node_hash);
    t->bytes = xusable(t);
    return t;
}

static struct hnode *ht_find(struct hash_ht *t, const char *f, size_t flen, struct htab_pos *pos) {
    struct fkey k = {f, flen};
    if (!htab_find(&t->t, hash_keyed(f, flen), node_eq, &k, pos)) return NULL;
    return (struct hnode *)*pos->link;
}

/* Insert a field known to be absent. */
static void ht_add(struct hash_ht *t, const char *f, size_t flen, const char *v, size_t vlen) {
    struct hnode *n = node_new(f, flen, v, vlen);
    t->bytes += xusable(n);
    htab_insert(&t->t, hash_keyed(f, flen), &n->node, NULL);
}

/* Set the value of the node at pos. */
static void ht_update(struct hash_ht *t, struct htab_pos *pos, const char *v, size_t vlen) {
    struct hnode *n = (struct hnode *)*pos->link;
    size_t voff = node_voff(n);
    size_t need = sizeof(struct hnode) + voff + vlen_of(vlen) + vlen;
    size_t have = xusable(n);
    /* In place when it fits and does not waste most of the allocation. */
    if (need <= have && need * 2 > have) {
        unsigned char *p = n->data + voff;
        p += vput(p, vlen);
        if (vlen) memmove(p, v, vlen);
        return;
    }
    size_t flen;
    const char *f = node_field(n, &flen);
    struct hnode *nn = node_new(f, flen, v, vlen);
    t->bytes += xusable(nn);
    t->bytes -= have;
    htab_replace_at(pos, &nn->node);
    xfree(n);
}

static void node_free_cb(struct htab_node *hn, void *arg) {
    UNUSED(arg);
    xfree(hn);
}

/* ---- life cycle and type ops ----------------------------------------------------------------- */

struct hash *hash_new(void) {
    return (struct hash *)lp_new(0);
}

enum hash_encoding hash_encoding(const struct hash *h) {
    return is_lp(h) ? HASH_ENC_LISTPACK : HASH_ENC_HT;
}

size_t hash_len(const struct hash *h) {
    if (is_lp(h)) return lp_length(lp_of(h)) / 2;
    return htab_count(&ht_of(h)->t);
}

void hash_free(void *obj) {
    struct hash *h = obj;
    if (h == NULL) return;
    if (is_lp(h)) {
        lp_free(lp_of(h));
        return;
    }
    struct hash_ht *t = ht_of(h);
    htab_clear(&t->t, node_free_cb, NULL);
    xfree(t);
}

void *hash_dup(const void *obj) {
    const struct hash *h = obj;
    if (is_lp(h)) return lp_dup(lp_of(h));
    struct hash_ht *src = ht_of(h), *dst = ht_new();
    struct htab_iter it;
    for (struct htab_node *hn = htab_first(&src->t, &it); hn; hn = htab_next(&src->t, &it)) {
        struct hnode *n = (struct hnode *)hn;
        size_t vlen, voff = node_voff(n);
        size_t vk = vget(n->data + voff, &vlen);
        struct hnode *c = xmemdup(n, sizeof(struct hnode) + voff + vk + vlen);
        dst->bytes += xusable(c);
        htab_insert(&dst->t, node_hash(hn), &c->node, NULL);
    }
    return dst;
}

size_t hash_mem(const void *obj) {
    const struct hash *h = obj;
    if (is_lp(h)) return lp_bytes(lp_of(h));
    const struct hash_ht *t = ht_of(h);
    return t->bytes + htab_buckets(&t->t) * sizeof(void *);
}

const char *hash_enc_name(const void *obj, int enc) {
    UNUSED(enc);
    return is_lp(obj) ? "listpack" : "hashtable";
}

void hash_digest(const void *obj, unsigned char digest[20]) {
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init((struct hash *)obj, &it);
    while (hash_iter_next(&it, &f, &v)) {
        unsigned char el[DIGEST_LEN] = {0};
        digest_mix(el, f.ptr, f.len);
        digest_mix(el, v.ptr, v.len);
        digest_xor(digest, el, DIGEST_LEN);
    }
}

/* ---- conversion ------------------------------------------------------------------------------ */

void hash_convert_to_ht(struct hash **hp) {
    if (!is_lp(*hp)) return;
    unsigned char *lp = lp_of(*hp);
    struct hash_ht *t = ht_new();
    unsigned char fb[LP_INTBUF_SIZE], vb[LP_INTBUF_SIZE];
    for (unsigned char *p = lp_first(lp); p;) {
        unsigned char *vp = lp_next(lp, p);
        ASSERT(vp != NULL);
        size_t flen, vlen;
        const unsigned char *f = lp_get_str(p, &flen, fb);
        const unsigned char *v = lp_get_str(vp, &vlen, vb);
        struct htab_pos pos;
        ASSERT(ht_find(t, (const char *)f, flen, &pos) == NULL); /* listpacks are validated */
        ht_add(t, (const char *)f, flen, (const char *)v, vlen);
        p = lp_next(lp, vp);
    }
    lp_free(lp);
    *hp = (struct hash *)t;
}

void hash_prepare(struct hash **hp, const size_t *lens, size_t n) {
    if (!is_lp(*hp)) return;
    size_t sum = 0, lim = lim_value();
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > lim) {
            hash_convert_to_ht(hp);
            return;
        }
        sum += lens[i];
    }
    if (!lp_safe_to_add(lp_of(*hp), sum)) hash_convert_to_ht(hp);
}

/* ---- reading --------------------------------------------------------------------------------- */

/* The value entry of field f in a listpack hash, or NULL. */
static unsigned char *lp_value_of(unsigned char *lp, const char *f, size_t flen) {
    unsigned char *p = lp_first(lp);
    if (!p) return NULL;
    p = lp_find(lp, p, (const unsigned char *)f, flen, 1);
    return p ? lp_next(lp, p) : NULL;
}

static void str_from_lp(const unsigned char *p, struct hash_str *out) {
    out->ptr = (const char *)lp_get_str(p, &out->len, (unsigned char *)out->buf);
}

bool hash_get(struct hash *h, const char *f, size_t flen, struct hash_str *v) {
    if (is_lp(h)) {
        unsigned char *vp = lp_value_of(lp_of(h), f, flen);
        if (!vp) return false;
        str_from_lp(vp, v);
        return true;
    }
    struct htab_pos pos;
    struct hnode *n = ht_find(ht_of(h), f, flen, &pos);
    if (!n) return false;
    v->ptr = node_value(n, &v->len);
    return true;
}

bool hash_get_raw(struct hash *h, const char *f, size_t flen, const char **s, size_t *len,
                  long long *ll, bool *is_int) {
    if (is_lp(h)) {
        unsigned char *vp = lp_value_of(lp_of(h), f, flen);
        if (!vp) return false;
        const unsigned char *p = lp_get(vp, len, ll);
        *is_int = p == NULL;
        *s = (const char *)p;
        return true;
    }
    struct htab_pos pos;
    struct hnode *n = ht_find(ht_of(h), f, flen, &pos);
    if (!n) return false;
    *s = node_value(n, len);
    *is_int = false;
    return true;
}

bool hash_exists(struct hash *h, const char *f, size_t flen) {
    if (is_lp(h)) return lp_value_of(lp_of(h), f, flen) != NULL;
    struct htab_pos pos;
    return ht_find(ht_of(h), f, flen, &pos) != NULL;
}

/* ---- changes --------------------------------------------------------------------------------- */

bool hash_set(struct hash **hp, const char *f, size_t flen, const char *v, size_t vlen) {
    if (is_lp(*hp) && (flen > lim_value() || vlen > lim_value())) hash_convert_to_ht(hp);
    if (is_lp(*hp)) {
        unsigned char *lp = lp_of(*hp);
        unsigned char *vp = lp_value_of(lp, f, flen);
        bool added = vp == NULL;
        if (vp) {
            lp = lp_replace(lp, &vp, v, vlen);
        } else {
            struct lp_item items[2] = {lp_str_item(f, flen), lp_str_item(v, vlen)};
            lp = lp_append_batch(lp, items, 2);
        }
        ASSERT(lp != NULL);
        *hp = (struct hash *)lp;
        if (added && lp_length(lp) / 2 > lim_entries()) hash_convert_to_ht(hp);
        return added;
    }
    struct hash_ht *t = ht_of(*hp);
    struct htab_pos pos;
    if (ht_find(t, f, flen, &pos)) {
        ht_update(t, &pos, v, vlen);
        return false;
    }
    ht_add(t, f, flen, v, vlen);
    return true;
}

bool hash_delete(struct hash **hp, const char *f, size_t flen) {
    if (is_lp(*hp)) {
        unsigned char *lp = lp_of(*hp);
        unsigned char *p = lp_first(lp);
        if (!p) return false;
        p = lp_find(lp, p, (const unsigned char *)f, flen, 1);
        if (!p) return false;
        *hp = (struct hash *)lp_delete_range_at(lp, &p, 2);
        return true;
    }
    struct hash_ht *t = ht_of(*hp);
    struct htab_pos pos;
    struct hnode *n = ht_find(t, f, flen, &pos);
    if (!n) return false;
    htab_remove_at(&t->t, &pos);
    t->bytes -= xusable(n);
    xfree(n);
    return true;
}

/* ---- iteration ------------------------------------------------------------------------------- */

void hash_iter_init(struct hash *h, struct hash_iter *it) {
    it->h = h;
    it->started = false;
    it->p = is_lp(h) ? lp_first(lp_of(h)) : NULL;
}

static void str_from_node(const struct hnode *n, struct hash_str *f, struct hash_str *v) {
    if (f) f->ptr = node_field(n, &f->len);
    if (v) v->ptr = node_value(n, &v->len);
}

bool hash_iter_next(struct hash_iter *it, struct hash_str *f, struct hash_str *v) {
    if (is_lp(it->h)) {
        unsigned char *lp = lp_of(it->h);
        if (!it->p) return false;
        unsigned char *vp = lp_next(lp, it->p);
        if (f) str_from_lp(it->p, f);
        if (v) str_from_lp(vp, v);
        it->p = lp_next(lp, vp);
        return true;
    }
    struct htab *t = &ht_of(it->h)->t;
    struct htab_node *hn = it->started ? htab_next(t, &it->it) : htab_first(t, &it->it);
    it->started = true;
    if (!hn) return false;
    str_from_node((struct hnode *)hn, f, v);
    return true;
}

/* ---- random ---------------------------------------------------------------------------------- */

/* A random node, fairer than one random bucket's chain: Redis's
 * dictGetFairRandomKey samples a few nodes and picks one of them. */
static struct hnode *ht_fair_random(struct hash_ht *t) {
    struct htab_node *sample[16];
    size_t n = htab_sample(&t->t, sample, ARRAY_LEN(sample));
    if (n == 0) return (struct hnode *)htab_random(&t->t);
    return (struct hnode *)sample[rand_below(n)];
}

void hash_random(struct hash *h, struct hash_str *f, struct hash_str *v) {
    if (is_lp(h)) {
        unsigned char *lp = lp_of(h);
        size_t n = lp_length(lp) / 2;
        ASSERT(n > 0);
        unsigned char *p = lp_seek(lp, (long)(2 * rand_below(n)));
        str_from_lp(p, f);
        if (v) str_from_lp(lp_next(lp, p), v);
        return;
    }
    str_from_node(ht_fair_random(ht_of(h)), f, v);
}

void hash_sampler_init(struct hash *h, struct hash_sampler *s) {
    s->h = h;
    s->lp_fields = NULL;
    s->n = 0;
    if (!is_lp(h)) return;
    unsigned char *lp = lp_of(h);
    s->n = lp_length(lp) / 2;
    s->lp_fields = xmalloc(sizeof(*s->lp_fields) * (s->n ? s->n : 1));
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) s->lp_fields[i++] = p;
}

void hash_sampler_get(struct hash_sampler *s, struct hash_str *f, struct hash_str *v) {
    if (!s->lp_fields) {
        hash_random(s->h, f, v);
        return;
    }
    unsigned char *p = s->lp_fields[rand_below(s->n)];
    str_from_lp(p, f);
    if (v) str_from_lp(lp_next(lp_of(s->h), p), v);
}

void hash_sampler_free(struct hash_sampler *s) {
    xfree(s->lp_fields);
    s->lp_fields = NULL;
}

/* Open-addressing set of node pointers (distinct random picks). */
struct ptrset {
    const void **slots;
    size_t mask;
};
static void ptrset_init(struct ptrset *s, size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    s->slots = xcalloc(cap, sizeof(*s->slots));
    s->mask = cap - 1;
}
/* Add p; false when it was there. */
static bool ptrset_add(struct ptrset *s, const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    for (size_t i = x & s->mask;; i = (i + 1) & s->mask) {
        if (s->slots[i] == p) return false;
        if (s->slots[i] == NULL) {
            s->slots[i] = p;
            return true;
        }
    }
}

void hash_random_distinct(struct hash *h, size_t count, bool want_values, hash_pair_fn fn,
                          void *arg) {
    size_t size = hash_len(h);
    ASSERT(count < size);
    struct hash_str f, v;
    /* Selection sampling: each pair is taken with probability
     * (still needed) / (still unseen); exact, O(size), no allocation. Used
     * for listpacks (walked anyway) and when count is a big part of size. */
    if (is_lp(h) || count * 3 > size) {
        struct hash_iter it;
        hash_iter_init(h, &it);
        size_t seen = 0, taken = 0;
        while (taken < count && hash_iter_next(&it, &f, want_values ? &v : NULL)) {
            if (rand_below(size - seen) < count - taken) {
                fn(&f, want_values ? &v : NULL, arg);
                taken++;
            }
            seen++;
        }
        return;
    }
    struct hash_ht *t = ht_of(h);
    struct ptrset picked;
    ptrset_init(&picked, count);
    for (size_t taken = 0; taken < count;) {
        struct hnode *n = ht_fair_random(t);
        if (!ptrset_add(&picked, n)) continue;
        str_from_node(n, &f, want_values ? &v : NULL);
        fn(&f, want_values ? &v : NULL, arg);
        taken++;
    }
    xfree(picked.slots);
}

/* ---- scanning -------------------------------------------------------------------------------- */

struct scan_step {
    hash_pair_fn fn;
    void *arg;
};
static void scan_node(struct htab_node *hn, void *arg) {
    struct scan_step *s = arg;
    struct hash_str f, v;
    str_from_node((struct hnode *)hn, &f, &v);
    s->fn(&f, &v, s->arg);
}

uint64_t hash_scan(struct hash *h, uint64_t cursor, hash_pair_fn fn, void *arg) {
    if (is_lp(h)) {
        struct hash_iter it;
        struct hash_str f, v;
        hash_iter_init(h, &it);
        while (hash_iter_next(&it, &f, &v)) fn(&f, &v, arg);
        return 0;
    }
    struct scan_step s = {fn, arg};
    return htab_scan(&ht_of(h)->t, cursor, scan_node, &s);
}

/* ---- validation ------------------------------------------------------------------------------ */

struct lp_check {
    size_t n;
};
static bool count_entry(const unsigned char *p, void *arg) {
    UNUSED(p);
    ((struct lp_check *)arg)->n++;
    return true;
}

struct fref {
    const unsigned char *p;
    size_t len;
};
static int fref_cmp(const void *a, const void *b) {
    const struct fref *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->p, y->p, x->len);
}

bool hash_validate_listpack(const unsigned char *blob, size_t size, bool deep) {
    struct lp_check chk = {0};
    if (!lp_validate(blob, size, deep, deep ? count_entry : NULL, &chk)) return false;
    if (!deep) return true;
    if (chk.n == 0 || chk.n % 2 != 0) return false;
    /* Distinct fields: sort their text forms. */
    size_t nf = chk.n / 2;
    struct fref *refs = xmalloc(sizeof(*refs) * nf);
    char(*bufs)[LP_INTBUF_SIZE] = xmalloc(sizeof(*bufs) * nf);
    unsigned char *lp = (unsigned char *)blob;
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)), i++)
        refs[i].p = lp_get_str(p, &refs[i].len, (unsigned char *)bufs[i]);
    qsort(refs, nf, sizeof(*refs), fref_cmp);
    bool ok = true;
    for (i = 1; i < nf && ok; i++) ok = fref_cmp(&refs[i - 1], &refs[i]) != 0;
    xfree(bufs);
    xfree(refs);
    return ok;
}

/* ---- RDB ---------------------------------------------------------------------------------------- */

const unsigned char *hash_listpack(const struct hash *h) {
    return is_lp(h) ? lp_of(h) : NULL;
}

struct hash *hash_from_listpack(unsigned char *lp) {
    struct hash *h = (struct hash *)lp;
    if (hash_len(h) > lim_entries()) hash_convert_to_ht(&h);
    return h;
}

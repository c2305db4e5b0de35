/*
 * cmd/sort.c - SORT and SORT_RO: sort the elements of a list, set or sorted
 * set numerically (or with ALPHA, by bytes), optionally BY the values of
 * other keys (a pattern with '*', or a hash field with "->field"), with
 * LIMIT, ASC/DESC, GET patterns (and GET # for the element) and STORE into
 * a list, as Redis 7.0 does.
 *
 * Keys: BY and GET patterns name keys known only while the command runs.
 *   SORT's key specs mark them unknown (as Redis's do), so the dispatcher
 *   cannot compute SORT's keys and locks every stripe for it (exec/
 *   dispatch: exec_command_keys returns -1). Every SORT and SORT_RO is
 *   therefore a whole-keyspace critical section: correct for any pattern,
 *   but it serializes with every other command while it runs.
 *
 * Differences from Redis that no client can rely on: a sorted set is read
 *   in its own order instead of its hash table's (the hash order of the
 *   elements only decides between elements that compare equal, which Redis
 *   leaves to chance too), and SORT does not convert a listpack sorted set
 *   to a skiplist as a side effect.
 *
 * Effects: SORT ... STORE is propagated as received (its result depends
 *   only on data the replicas have) and counts one change per stored
 *   element ("sortstore" event); an empty result deletes the destination.
 *
 * Threading: [all-locked] (see above).
 */
#include "cmd/zset.h"
#include "exec/access.h"
#include "base/alloc.h"
#include "base/str.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* ---- generic sorts (also used by cmd/geo.c) ------------------------------------ */

void cmd_sort_stable(void *base, size_t n, size_t es, cmd_cmp_fn cmp, void *ctx) {
    if (n < 2) return;
    char *a = base, *tmp = xmalloc(n * es);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = MIN(lo + width, n), hi = MIN(lo + 2 * width, n), i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                /* Take from the right only when strictly smaller: stable. */
                if (cmp(a + j * es, a + i * es, ctx) < 0)
                    memcpy(tmp + k++ * es, a + j++ * es, es);
                else
                    memcpy(tmp + k++ * es, a + i++ * es, es);
            }
            memcpy(tmp + k * es, a + i * es, (mid - i) * es);
            k += mid - i;
            memcpy(tmp + k * es, a + j * es, (hi - j) * es);
        }
        memcpy(a, tmp, n * es);
    }
    xfree(tmp);
}

struct psort {
    char *base;
    size_t es;
    cmd_cmp_fn cmp;
    void *ctx;
    char *tmp;
};

static inline char *el(const struct psort *p, long i) {
    return p->base + (size_t)i * p->es;
}
static inline int pcmp(const struct psort *p, long i, long j) {
    return p->cmp(el(p, i), el(p, j), p->ctx);
}

static void pswap(const struct psort *p, long i, long j) {
    if (i == j) return;
    memcpy(p->tmp, el(p, i), p->es);
    memcpy(el(p, i), el(p, j), p->es);
    memcpy(el(p, j), p->tmp, p->es);
}

static long pmed3(const struct psort *p, long i, long j, long k) {
    return pcmp(p, i, j) < 0 ? (pcmp(p, j, k) < 0 ? j : (pcmp(p, i, k) < 0 ? k : i))
                             : (pcmp(p, j, k) > 0 ? j : (pcmp(p, i, k) < 0 ? i : k));
}

/* Bentley & McIlroy's quicksort over elements [off, off+n) of the whole
 * array, recursing only into parts that overlap ranks [lr, rr]. */
static void psort_range(struct psort *p, long off, long n, long lr, long rr) {
loop:
    if (n < 7) {
        for (long m = off + 1; m < off + n; m++)
            for (long l = m; l > off && pcmp(p, l - 1, l) > 0; l--) pswap(p, l, l - 1);
        return;
    }
    long pm = off + n / 2;
    if (n > 7) {
        long pl = off, pn = off + n - 1;
        if (n > 40) {
            long d = n / 8;
            pl = pmed3(p, pl, pl + d, pl + 2 * d);
            pm = pmed3(p, pm - d, pm, pm + d);
            pn = pmed3(p, pn - 2 * d, pn - d, pn);
        }
        pm = pmed3(p, pl, pm, pn);
    }
    pswap(p, off, pm);
    long pa = off + 1, pb = off + 1, pc = off + n - 1, pd = off + n - 1;
    for (;;) {
        int r;
        while (pb <= pc && (r = pcmp(p, pb, off)) <= 0) {
            if (r == 0) pswap(p, pa++, pb);
            pb++;
        }
        while (pb <= pc && (r = pcmp(p, pc, off)) >= 0) {
            if (r == 0) pswap(p, pc, pd--);
            pc--;
        }
        if (pb > pc) break;
        pswap(p, pb++, pc--);
    }
    long pn = off + n;
    long r = MIN(pa - off, pb - pa);
    for (long k = 0; k < r; k++) pswap(p, off + k, pb - r + k);
    r = MIN(pd - pc, pn - pd - 1);
    for (long k = 0; k < r; k++) pswap(p, pb + k, pn - r + k);
    if ((r = pb - pa) > 1 && !(rr < off || lr > off + r - 1)) psort_range(p, off, r, lr, rr);
    if ((r = pd - pc) > 1) {
        off = pn - r;
        n = r;
        if (!(rr < off || lr > off + r - 1)) goto loop;
    }
}

void cmd_sort_partial(void *base, size_t n, size_t es, cmd_cmp_fn cmp, void *ctx, size_t lrank,
                      size_t rrank) {
    struct psort p = {base, es, cmp, ctx, xmalloc(es)};
    psort_range(&p, 0, (long)n, (long)lrank, (long)rrank);
    xfree(p.tmp);
}

/* ---- BY / GET patterns ------------------------------------------------------------ */

/* A looked-up value: bytes (pointing into the keyspace or into buf). */
struct patval {
    const char *p;
    size_t len;
    char buf[STR_LL_MAX];
    struct hash_str hs;
};

/* Redis's lookupKeyByPattern: "#" is the element itself; otherwise the
 * first '*' is replaced by the element and, when "->field" follows it, the
 * key's hash field is read; else the key's string value. Returns false
 * when there is no such value (or no '*' in the pattern). [all-locked] */
static bool lookup_pattern(struct client *c, const char *pat, size_t plen, const char *elem,
                           size_t elen, struct patval *out) {
    if (plen == 1 && pat[0] == '#') {
        out->p = elem;
        out->len = elen;
        return true;
    }
    const char *star = memchr(pat, '*', plen);
    if (star == NULL) return false;
    const char *field = NULL;
    size_t flen = 0;
    for (const char *f = star + 1; f + 1 < pat + plen; f++) {
        if (f[0] == '-' && f[1] == '>') {
            if (f + 2 < pat + plen) {
                field = f + 2;
                flen = (size_t)(pat + plen - field);
            }
            break;
        }
    }
    size_t prefix = (size_t)(star - pat);
    size_t postfix = plen - prefix - 1 - (field ? flen + 2 : 0);
    size_t klen = prefix + elen + postfix;
    char small[256];
    char *key = klen <= sizeof(small) ? small : xmalloc(klen);
    memcpy(key, pat, prefix);
    memcpy(key + prefix, elem, elen);
    memcpy(key + prefix + elen, star + 1, postfix);
    struct store_key k;
    store_key_init(&k, key, klen);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    bool ok = false;
    if (e && field) {
        if (entry_type(e) == TYPE_HASH && hash_get(entry_obj(e), field, flen, &out->hs)) {
            out->p = out->hs.ptr;
            out->len = out->hs.len;
            ok = true;
        }
    } else if (e && entry_type(e) == TYPE_STRING) {
        out->p = entry_str_bytes(e, out->buf, &out->len);
        ok = true;
    }
    if (key != small) xfree(key);
    return ok;
}

/* ---- SORT ---------------------------------------------------------------------------- */

struct sort_obj {
    char *s; /* the element (heap copy) */
    size_t len;
    double score; /* numeric sort key */
    char *cmp;    /* ALPHA BY: the looked-up value (NULL: none) */
    size_t cmplen;
};

struct sort_ctx {
    bool desc, alpha, bypattern;
};

static int sort_cmp(const void *a, const void *b, void *ctxp) {
    const struct sort_obj *x = a, *y = b;
    const struct sort_ctx *ctx = ctxp;
    int r;
    if (!ctx->alpha) {
        if (x->score > y->score)
            r = 1;
        else if (x->score < y->score)
            r = -1;
        else
            r = zsl_cmp(x->s, x->len, y->s, y->len); /* deterministic ties */
    } else if (ctx->bypattern) {
        if (!x->cmp || !y->cmp)
            r = x->cmp == y->cmp ? 0 : x->cmp == NULL ? -1 : 1;
        else
            r = zsl_cmp(x->cmp, x->cmplen, y->cmp, y->cmplen);
    } else {
        r = zsl_cmp(x->s, x->len, y->s, y->len);
    }
    return ctx->desc ? -r : r;
}

struct sort_vec {
    struct sort_obj *v;
    size_t n, cap;
};

static void vec_add(struct sort_vec *vec, const char *s, size_t len) {
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 16;
        vec->v = xrealloc(vec->v, vec->cap * sizeof(*vec->v));
    }
    struct sort_obj *o = &vec->v[vec->n++];
    o->s = xmemdup(s, len ? len : 1);
    o->len = len;
    o->score = 0;
    o->cmp = NULL;
    o->cmplen = 0;
}

static void vec_free(struct sort_vec *vec) {
    for (size_t i = 0; i < vec->n; i++) {
        xfree(vec->v[i].s);
        xfree(vec->v[i].cmp);
    }
    xfree(vec->v);
}

/* Elements of the list from index `from` towards the tail (or the head
 * with desc), at most max. */
static void load_list(struct sort_vec *vec, struct list *l, long from, bool desc, size_t max) {
    struct list_pos pos;
    if (max == 0 || !list_at(l, desc ? -1 - from : from, &pos)) return;
    for (size_t i = 0; i < max; i++) {
        char buf[LP_INTBUF_SIZE];
        size_t n;
        const char *s = list_val_str(&pos.v, buf, &n);
        vec_add(vec, s, n);
        if (!list_step(&pos, !desc)) break;
    }
}

static void load_set(struct sort_vec *vec, struct set *st) {
    struct set_iter it;
    struct set_str m;
    set_iter_init(st, &it);
    while (set_iter_next(&it, &m)) vec_add(vec, m.ptr, m.len);
    set_iter_done(&it);
}

static void load_zset(struct sort_vec *vec, const struct zset *z, size_t from, bool desc,
                      size_t max) {
    struct zset_iter it;
    struct zset_elem e;
    zset_iter_rank(z, &it, from, desc);
    for (size_t i = 0; i < max && zset_iter_next(&it, &e); i++) vec_add(vec, e.m, e.mlen);
}

/* Compute each element's sort key; false when a numeric key is not a
 * number (Redis replies the error after sorting). */
static bool sort_keys(struct client *c, struct sort_vec *vec, const char *by, size_t bylen,
                      bool alpha) {
    bool ok = true;
    for (size_t j = 0; j < vec->n; j++) {
        struct sort_obj *o = &vec->v[j];
        const char *p = o->s;
        size_t len = o->len;
        struct patval pv;
        if (by) {
            if (!lookup_pattern(c, by, bylen, o->s, o->len, &pv)) continue;
            p = pv.p;
            len = pv.len;
        }
        if (alpha) {
            if (by) {
                o->cmp = xmemdup(p, len ? len : 1);
                o->cmplen = len;
            }
            continue;
        }
        char small[128], *heap = NULL;
        char *z = len < sizeof(small) ? small : (heap = xmalloc(len + 1));
        memcpy(z, p, len);
        z[len] = '\0';
        char *end;
        errno = 0;
        o->score = strtod(z, &end);
        if (end[0] != '\0' || errno == ERANGE || isnan(o->score)) ok = false;
        xfree(heap);
    }
    return ok;
}

struct sort_get {
    const char *pat;
    size_t len;
};

static void sort_generic(struct client *c, bool readonly) {
    bool desc = false, alpha = false, dontsort = false;
    long long limit_start = 0, limit_count = -1;
    const char *by = NULL;
    size_t bylen = 0;
    int store_i = 0;
    int ngets = 0;
    struct sort_get *gets = xmalloc(sizeof(*gets) * (size_t)(c->argc > 2 ? c->argc - 2 : 1));
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (cmd_arg_is(c, j, "ASC")) {
            desc = false;
        } else if (cmd_arg_is(c, j, "DESC")) {
            desc = true;
        } else if (cmd_arg_is(c, j, "ALPHA")) {
            alpha = true;
        } else if (cmd_arg_is(c, j, "LIMIT") && left >= 2) {
            if (!cmd_ll(c, j + 1, &limit_start) || !cmd_ll(c, j + 2, &limit_count)) goto out;
            j += 2;
        } else if (!readonly && cmd_arg_is(c, j, "STORE") && left >= 1) {
            store_i = ++j;
        } else if (cmd_arg_is(c, j, "BY") && left >= 1) {
            by = c->argv[j + 1];
            bylen = c->argvlen[j + 1];
            /* A BY pattern without '*' means: do not sort. */
            dontsort = memchr(by, '*', bylen) == NULL;
            /* A real pattern reaches any key: it needs read access to every
             * key (Redis 7.0). */
            if (!dontsort && !exec_access_full_keys(c, ACL_PERM_READ)) {
                reply_error(c, "ERR BY option of SORT denied due to insufficient ACL permissions.");
                goto out;
            }
            j++;
        } else if (cmd_arg_is(c, j, "GET") && left >= 1) {
            if (!exec_access_full_keys(c, ACL_PERM_READ)) {
                reply_error(c, "ERR GET option of SORT denied due to insufficient ACL permissions.");
                goto out;
            }
            gets[ngets].pat = c->argv[j + 1];
            gets[ngets++].len = c->argvlen[j + 1];
            j++;
        } else {
            reply_error(c, RERR_SYNTAX);
            goto out;
        }
    }
    struct store_key k;
    cmd_key(c, 1, &k);
    struct entry *e = cmd_lookup_read(c, &k, NULL);
    enum entry_type type = e ? entry_type(e) : TYPE_LIST;
    if (type != TYPE_LIST && type != TYPE_SET && type != TYPE_ZSET) {
        reply_error(c, RERR_WRONGTYPE);
        goto out;
    }
    /* A set's own order is arbitrary: sort it when the result is stored or
     * goes to a script (replicas must see the same effects). */
    if (dontsort && type == TYPE_SET && (store_i || (c->flags & CLIENT_SCRIPT))) {
        dontsort = false;
        alpha = true;
        by = NULL;
    }
    long vectorlen = 0;
    if (e)
        vectorlen = type == TYPE_LIST  ? (long)list_len(entry_obj(e))
                    : type == TYPE_SET ? (long)set_len(entry_obj(e))
                                       : (long)zset_len(zset_of(e));
    long start = (long)MIN(MAX(limit_start, 0), vectorlen);
    long count = (long)MIN(MAX(limit_count, -1), vectorlen);
    long end = count < 0 ? vectorlen - 1 : start + count - 1;
    if (start >= vectorlen) {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if (end >= vectorlen) end = vectorlen - 1;
    struct sort_vec vec = {NULL, 0, 0};
    if (e && dontsort && type != TYPE_SET) {
        /* Unsorted list or sorted set: load just the range, in order. */
        if (end >= start) {
            size_t n = (size_t)(end - start + 1);
            if (type == TYPE_LIST)
                load_list(&vec, entry_obj(e), start, desc, n);
            else
                load_zset(&vec, zset_of(e), (size_t)start, desc, n);
            end -= start;
            start = 0;
        }
    } else if (e) {
        if (type == TYPE_LIST)
            load_list(&vec, entry_obj(e), 0, false, (size_t)vectorlen);
        else if (type == TYPE_SET)
            load_set(&vec, entry_obj(e));
        else
            load_zset(&vec, zset_of(e), 0, false, (size_t)vectorlen);
    }
    bool numeric_ok = true;
    if (!dontsort) {
        numeric_ok = sort_keys(c, &vec, by, bylen, alpha);
        struct sort_ctx ctx = {desc, alpha, by != NULL};
        if (by && (start != 0 || end != (long)vec.n - 1))
            cmd_sort_partial(vec.v, vec.n, sizeof(*vec.v), sort_cmp, &ctx, (size_t)start,
                             (size_t)end);
        else
            cmd_sort_stable(vec.v, vec.n, sizeof(*vec.v), sort_cmp, &ctx);
    }
    long outputlen = ngets ? ngets * (end - start + 1) : end - start + 1;
    if (outputlen < 0) outputlen = 0;
    if (!numeric_ok) {
        reply_error(c, "ERR One or more scores can't be converted into double");
    } else if (!store_i) {
        reply_array(c, outputlen);
        for (long j = start; j <= end; j++) {
            struct sort_obj *o = &vec.v[j];
            if (!ngets) reply_bulk(c, o->s, o->len);
            for (int g = 0; g < ngets; g++) {
                struct patval pv;
                if (lookup_pattern(c, gets[g].pat, gets[g].len, o->s, o->len, &pv))
                    reply_bulk(c, pv.p, pv.len);
                else
                    reply_null(c);
            }
        }
    } else {
        struct store_key dk;
        cmd_key(c, store_i, &dk);
        struct list *l = list_new();
        for (long j = start; j <= end; j++) {
            struct sort_obj *o = &vec.v[j];
            if (!ngets) list_push_one(l, LIST_TAIL, o->s, o->len);
            for (int g = 0; g < ngets; g++) {
                struct patval pv;
                if (lookup_pattern(c, gets[g].pat, gets[g].len, o->s, o->len, &pv))
                    list_push_one(l, LIST_TAIL, pv.p, pv.len);
                else
                    list_push_one(l, LIST_TAIL, "", 0);
            }
        }
        if (outputlen) {
            struct store_ref ref;
            struct entry *old = cmd_lookup_write(c, &dk, &ref);
            struct entry *ne = entry_new_obj(dk.ptr, dk.len, TYPE_LIST, ENC_OBJ, l, -1);
            if (old) {
                store_replace(&ref, ne);
            } else {
                store_add(c->db, &dk, ne, NULL);
                cmd_notify(c, NOTIFY_NEW, "new", &dk);
            }
            cmd_modified(c, &dk);
            cmd_notify(c, NOTIFY_LIST, "sortstore", &dk);
            exec_dirty(c, outputlen);
        } else {
            list_free(l);
            cmd_delete_if_exists(c, &dk);
        }
        reply_int(c, outputlen);
    }
    vec_free(&vec);
out:
    xfree(gets);
}

/* SORT's keys for locking: the sorted key and the STORE destination, unless
 * a BY or GET pattern can reach other keys (it holds a '*', "#" excepted):
 * then they are unknown until the command runs, and every stripe is locked
 * (return -1). Unparsable requests also lock everything; the command reports
 * the syntax error. */
static int sort_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max) {
    int n = 0;
    if (argc < 2) return -1;
    if (n < max) out[n] = 1;
    n++;
    for (int j = 2; j < argc; j++) {
        bool more = j + 1 < argc;
#define IS(w) (lens[j] == strlen(w) && strncasecmp(argv[j], (w), lens[j]) == 0)
        if (IS("ASC") || IS("DESC") || IS("ALPHA")) continue;
        if (IS("LIMIT") && j + 2 < argc) {
            j += 2;
        } else if ((IS("BY") || IS("GET")) && more) {
            const char *pat = argv[j + 1];
            size_t plen = lens[j + 1];
            bool hash = plen == 1 && pat[0] == '#';
            if (!hash && memchr(pat, '*', plen)) return -1;
            j++;
        } else if (IS("STORE") && more) {
            if (n < max) out[n] = j + 1;
            n++;
            j++;
        } else {
            return -1;
        }
#undef IS
    }
    return n;
}

/* SORT's keys for ACL checks (Redis's sortGetKeys): the sorted key is
 * read, the last STORE destination written. */
static int sort_keyperm(int argc, const char *const *argv, const size_t *lens, struct acl_ref *out, int max) {
    int store = 0;
    for (int j = 2; j < argc; j++) {
#define IS(w) (lens[j] == strlen(w) && strncasecmp(argv[j], (w), lens[j]) == 0)
        if (IS("limit"))
            j += 2;
        else if (IS("get") || IS("by"))
            j += 1;
        else if (IS("store") && j + 1 < argc)
            store = j + 1;
#undef IS
    }
    if (max > 0) out[0] = (struct acl_ref){1, ACL_PERM_READ};
    if (store && max > 1) out[1] = (struct acl_ref){store, ACL_PERM_WRITE};
    return store ? 2 : 1;
}

void cmd_sort_setup(void) {
    exec_command_set_getkeys("sort", sort_getkeys);
    exec_command_set_getkeys("sort_ro", sort_getkeys);
    exec_access_set_keyperm("sort", sort_keyperm);
}

void cmd_sort(struct client *c) {
    sort_generic(c, false);
}
void cmd_sort_ro(struct client *c) {
    sort_generic(c, true);
}

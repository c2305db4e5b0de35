/*
 * types/list.c - see list.h.
 */
#include "types/list.h"
#include "base/alloc.h"
#include "base/digest.h"
#include "base/str.h"

#include <stdatomic.h>
#include <string.h>

static _Atomic int list_fill = QL_FILL_DEFAULT;
static _Atomic int list_compress;

void list_set_fill(int fill) {
    atomic_store_explicit(&list_fill, fill, memory_order_relaxed);
}
int list_get_fill(void) {
    return atomic_load_explicit(&list_fill, memory_order_relaxed);
}
void list_set_compress(int depth) {
    atomic_store_explicit(&list_compress, depth, memory_order_relaxed);
}
static int get_compress(void) {
    return atomic_load_explicit(&list_compress, memory_order_relaxed);
}

struct list *list_new(void) {
    struct list *l = xmalloc(sizeof(*l));
    l->enc = LIST_ENC_LISTPACK;
    l->lp = lp_new(0);
    return l;
}

size_t list_len(const struct list *l) {
    if (l->enc == LIST_ENC_LISTPACK) return lp_length(l->lp);
    return ql_count(l->ql);
}

/* ---- type_ops -------------------------------------------------------------------- */

void list_free(void *obj) {
    struct list *l = obj;
    if (l == NULL) return;
    if (l->enc == LIST_ENC_LISTPACK)
        lp_free(l->lp);
    else
        ql_free(l->ql);
    xfree(l);
}

void *list_dup(const void *obj) {
    const struct list *l = obj;
    struct list *d = xmalloc(sizeof(*d));
    d->enc = l->enc;
    if (l->enc == LIST_ENC_LISTPACK)
        d->lp = lp_dup(l->lp);
    else
        d->ql = ql_dup(l->ql);
    return d;
}

size_t list_mem(const void *obj) {
    const struct list *l = obj;
    if (l->enc == LIST_ENC_LISTPACK) return sizeof(*l) + lp_bytes(l->lp);
    return sizeof(*l) + ql_bytes(l->ql);
}

const char *list_enc_name(const void *obj, int enc) {
    const struct list *l = obj;
    return l->enc == LIST_ENC_LISTPACK ? "listpack" : "quicklist";
}

void list_digest(const void *obj, unsigned char digest[20]) {
    struct list *l = (struct list *)obj;
    struct list_pos pos;
    char buf[LP_INTBUF_SIZE];
    for (bool ok = list_at(l, 0, &pos); ok; ok = list_step(&pos, true)) {
        size_t n;
        const char *s = list_val_str(&pos.v, buf, &n);
        digest_mix(digest, s, n);
    }
}

/* ---- values ----------------------------------------------------------------------- */

const char *list_val_str(const struct list_val *v, char *buf, size_t *len) {
    if (!v->is_int) {
        *len = v->len;
        return v->ptr;
    }
    *len = (size_t)ll_to_str(buf, LP_INTBUF_SIZE, v->ll);
    return buf;
}

bool list_val_eq(const struct list_val *v, const char *s, size_t n) {
    if (!v->is_int) return v->len == n && memcmp(v->ptr, s, n) == 0;
    char buf[LP_INTBUF_SIZE];
    size_t len;
    const char *t = list_val_str(v, buf, &len);
    return len == n && memcmp(t, s, n) == 0;
}

static void val_from(struct list_val *v, const unsigned char *s, size_t len, long long ll) {
    v->ptr = (const char *)s;
    v->len = len;
    v->ll = ll;
    v->is_int = s == NULL;
}

/* ---- conversions ------------------------------------------------------------------- */

static void to_quicklist(struct list *l) {
    l->ql = ql_from_listpack(l->lp, list_get_fill(), get_compress());
    l->enc = LIST_ENC_QUICKLIST;
}

/* Before adding n elements of add_bytes in total (Redis's
 * listTypeTryConvertListpack). */
static void grow_check(struct list *l, size_t add_bytes, size_t n, bool large) {
    if (l->enc != LIST_ENC_LISTPACK) return;
    if (large ||
        ql_node_exceeds_limit(list_get_fill(), lp_bytes(l->lp) + add_bytes, lp_length(l->lp) + n))
        to_quicklist(l);
}

void list_try_shrink(struct list *l) {
    if (l->enc != LIST_ENC_QUICKLIST) return;
    struct quicklist *ql = l->ql;
    if (ql->len > 1) return;
    if (ql->len == 0) {
        ql_free(ql);
        l->lp = lp_new(0);
        l->enc = LIST_ENC_LISTPACK;
        return;
    }
    if (ql->head->plain) return;
    size_t szl, cl;
    ql_node_limit(list_get_fill(), &szl, &cl);
    if (list_get_fill() >= 0) szl = SIZE_MAX; /* a count fill: the count decides */
    if (ql->head->sz > szl / 2 || ql->count > cl / 2) return;
    l->lp = ql_take_listpack(ql);
    l->enc = LIST_ENC_LISTPACK;
}

/* ---- push ------------------------------------------------------------------------------ */

static struct lp_item item_of(const char *s, size_t len) {
    return lp_str_item(s, len);
}

void list_push(struct list *l, enum list_where where, const char *const *elems, const size_t *lens,
               size_t n) {
    if (l->enc == LIST_ENC_LISTPACK) {
        size_t add = 0;
        bool large = false;
        for (size_t i = 0; i < n; i++) {
            add += lens[i];
            if (ql_is_large(lens[i])) large = true;
        }
        grow_check(l, add, n, large);
    }
    if (l->enc == LIST_ENC_LISTPACK) {
        if (where == LIST_TAIL) {
            if (n == 1) {
                l->lp = lp_append(l->lp, elems[0], lens[0]);
                return;
            }
            struct lp_item stack[16];
            struct lp_item *items = n <= 16 ? stack : xmalloc(n * sizeof(*items));
            for (size_t i = 0; i < n; i++) items[i] = item_of(elems[i], lens[i]);
            l->lp = lp_append_batch(l->lp, items, n);
            if (items != stack) xfree(items);
        } else {
            if (n == 1) {
                l->lp = lp_prepend(l->lp, elems[0], lens[0]);
                return;
            }
            /* LPUSH a b c: c ends up first, then b, then a. */
            struct lp_item stack[16];
            struct lp_item *items = n <= 16 ? stack : xmalloc(n * sizeof(*items));
            for (size_t i = 0; i < n; i++) items[i] = item_of(elems[n - 1 - i], lens[n - 1 - i]);
            l->lp = lp_insert_batch(l->lp,
                                    lp_first(l->lp) ? lp_first(l->lp) : l->lp + lp_bytes(l->lp) - 1,
                                    items, n, NULL);
            if (items != stack) xfree(items);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct lp_item it = item_of(elems[i], lens[i]);
        ql_push(l->ql, where == LIST_HEAD, &it);
    }
}

void list_push_one(struct list *l, enum list_where where, const char *s, size_t len) {
    list_push(l, where, &s, &len, 1);
}

/* ---- positions -------------------------------------------------------------------------- */

static void load_lp(struct list_pos *pos) {
    size_t len;
    long long ll = 0;
    const unsigned char *s = lp_get(pos->p, &len, &ll);
    val_from(&pos->v, s, len, ll);
}

static void load_ql(struct list_pos *pos) {
    val_from(&pos->v, pos->qe.s, pos->qe.len, pos->qe.ll);
}

bool list_at(struct list *l, long index, struct list_pos *pos) {
    pos->l = l;
    long n = (long)list_len(l);
    if (index < 0) index += n;
    if (index < 0 || index >= n) return false;
    pos->index = index;
    if (l->enc == LIST_ENC_LISTPACK) {
        pos->p = lp_seek(l->lp, index);
        if (pos->p == NULL) return false;
        load_lp(pos);
        return true;
    }
    if (!ql_index(l->ql, index, &pos->qe)) return false;
    load_ql(pos);
    return true;
}

bool list_step(struct list_pos *pos, bool forward) {
    struct list *l = pos->l;
    if (l->enc == LIST_ENC_LISTPACK) {
        unsigned char *p = forward ? lp_next(l->lp, pos->p) : lp_prev(l->lp, pos->p);
        if (p == NULL) return false;
        pos->p = p;
        pos->index += forward ? 1 : -1;
        load_lp(pos);
        return true;
    }
    if (!ql_step(l->ql, &pos->qe, forward)) return false;
    pos->index += forward ? 1 : -1;
    load_ql(pos);
    return true;
}

bool list_delete_at(struct list_pos *pos, bool forward) {
    struct list *l = pos->l;
    if (l->enc == LIST_ENC_LISTPACK) {
        unsigned char *next;
        l->lp = lp_delete(l->lp, pos->p, &next);
        if (forward) {
            if (next == NULL) return false;
            pos->p = next;
            load_lp(pos);
            return true;
        }
        if (pos->index == 0) return false;
        pos->p = next ? lp_prev(l->lp, next) : lp_last(l->lp);
        pos->index--;
        load_lp(pos);
        return true;
    }
    if (!ql_delete_entry(l->ql, &pos->qe, forward)) return false;
    if (!forward) pos->index--;
    load_ql(pos);
    return true;
}

void list_replace_at(struct list_pos *pos, const char *s, size_t len) {
    struct list *l = pos->l;
    if (l->enc == LIST_ENC_LISTPACK) {
        grow_check(l, len, 0, ql_is_large(len));
        if (l->enc == LIST_ENC_LISTPACK) {
            l->lp = lp_replace(l->lp, &pos->p, s, len);
            return;
        }
        if (!ql_index(l->ql, pos->index, &pos->qe)) return;
    }
    struct lp_item it = item_of(s, len);
    ql_replace_entry(l->ql, &pos->qe, &it);
}

void list_insert_at(struct list_pos *pos, bool after, const char *s, size_t len) {
    struct list *l = pos->l;
    if (l->enc == LIST_ENC_LISTPACK) {
        grow_check(l, len, 1, ql_is_large(len));
        if (l->enc == LIST_ENC_LISTPACK) {
            struct lp_item it = item_of(s, len);
            l->lp = lp_insert(l->lp, pos->p, after ? LP_AFTER : LP_BEFORE, &it, NULL);
            return;
        }
        if (!ql_index(l->ql, pos->index, &pos->qe)) return;
    }
    struct lp_item it = item_of(s, len);
    ql_insert(l->ql, &pos->qe, after, &it);
}

/* ---- whole list ---------------------------------------------------------------------------- */

bool list_pop(struct list *l, enum list_where where, list_val_fn fn, void *arg) {
    struct list_pos pos;
    if (!list_at(l, where == LIST_HEAD ? 0 : -1, &pos)) return false;
    if (fn) fn(&pos.v, arg);
    list_delete_at(&pos, true);
    return true;
}

void list_delete_range(struct list *l, long start, long count) {
    if (count <= 0) return;
    if (l->enc == LIST_ENC_LISTPACK)
        l->lp = lp_delete_range(l->lp, start, (size_t)count);
    else
        ql_delete_range(l->ql, start, count);
}

/* ---- RDB ---------------------------------------------------------------------------------------- */

struct list *list_from_quicklist(struct quicklist *ql) {
    struct list *l = list_new();
    lp_free(l->lp);
    l->ql = ql;
    l->enc = LIST_ENC_QUICKLIST;
    if (ql->len == 1 && !ql->head->plain &&
        !ql_node_exceeds_limit(list_get_fill(), ql->head->sz, ql->head->count)) {
        l->lp = ql_take_listpack(ql);
        l->enc = LIST_ENC_LISTPACK;
    }
    return l;
}

/*
 * ds/quicklist.c - see quicklist.h.
 *
 * Every change keeps: ql->count == sum(node->count), ql->len == number of
 * nodes, node->sz == lp_bytes(node->data) for packed nodes, no empty node,
 * ql->bytes == header + sum(node header + node->sz). ql_check verifies it.
 */
#include "ds/quicklist.h"
#include "base/alloc.h"
#include "base/str.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define FILL_MAX 32767
/* Bytes one more entry may add, over-estimated (Redis's SIZE_ESTIMATE_OVERHEAD). */
#define SIZE_ESTIMATE_OVERHEAD 8

static const size_t size_levels[] = {4096, 8192, 16384, 32768, 65536};

static _Atomic size_t packed_threshold = (size_t)1 << 30;

void ql_set_packed_threshold(size_t bytes) {
    atomic_store_explicit(&packed_threshold, bytes, memory_order_relaxed);
}
size_t ql_packed_threshold(void) {
    return atomic_load_explicit(&packed_threshold, memory_order_relaxed);
}

static int clamp_fill(int fill) {
    if (fill > FILL_MAX) return FILL_MAX;
    if (fill < QL_FILL_MIN) return QL_FILL_MIN;
    return fill;
}

void ql_node_limit(int fill, size_t *sz_limit, size_t *count_limit) {
    fill = clamp_fill(fill);
    if (fill >= 0) {
        *count_limit = fill == 0 ? 1 : (size_t)fill;
        *sz_limit = QL_SIZE_SAFETY_LIMIT;
    } else {
        *count_limit = SIZE_MAX;
        *sz_limit = size_levels[-fill - 1];
    }
}

bool ql_node_exceeds_limit(int fill, size_t new_sz, size_t new_count) {
    size_t szl, cl;
    ql_node_limit(fill, &szl, &cl);
    if (fill >= 0) {
        /* A count fill: the safety limit still caps the bytes. */
        return new_count > cl || new_sz > szl;
    }
    return new_sz > szl;
}

/* Length of the item's text (integers: their digits), for size estimates. */
static size_t item_len(const struct lp_item *it) {
    if (it->s) return it->len;
    char buf[STR_LL_MAX];
    return (size_t)ll_to_str(buf, sizeof(buf), it->v);
}

/* ---- nodes -------------------------------------------------------------------- */

static void account(struct quicklist *ql, struct ql_node *n, size_t newsz) {
    ql->bytes = ql->bytes - n->sz + newsz;
    n->sz = newsz;
}

static struct ql_node *node_new(unsigned char *data, size_t sz, uint32_t count, bool plain) {
    struct ql_node *n = xcalloc(1, sizeof(*n));
    n->data = data;
    n->sz = sz;
    n->count = count;
    n->plain = plain;
    return n;
}

static struct ql_node *node_lp(unsigned char *lp) {
    return node_new(lp, lp_bytes(lp), (uint32_t)lp_length(lp), false);
}

static struct ql_node *node_plain(const struct lp_item *it) {
    /* Large elements are strings (an integer is never that long). */
    unsigned char *d = xmalloc(it->len ? it->len : 1);
    memcpy(d, it->s, it->len);
    return node_new(d, it->len, 1, true);
}

static void node_free(struct ql_node *n) {
    if (n->plain)
        xfree(n->data);
    else
        lp_free(n->data);
    xfree(n);
}

/* Link n after `at` (NULL: as the new head). */
static void link_after(struct quicklist *ql, struct ql_node *at, struct ql_node *n) {
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at)
        at->next = n;
    else
        ql->head = n;
    ql->len++;
    ql->count += n->count;
    ql->bytes += sizeof(*n) + n->sz;
}

static void link_before(struct quicklist *ql, struct ql_node *at, struct ql_node *n) {
    link_after(ql, at ? at->prev : ql->tail, n);
}

static void node_remove(struct quicklist *ql, struct ql_node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->len--;
    ql->count -= n->count;
    ql->bytes -= sizeof(*n) + n->sz;
    node_free(n);
}

/* May node n take one more element of `len` bytes (Redis's
 * _quicklistNodeAllowInsert)? */
static bool allow_insert(const struct quicklist *ql, const struct ql_node *n, size_t len) {
    if (n == NULL || n->plain || ql_is_large(len)) return false;
    size_t new_sz = n->sz + len + SIZE_ESTIMATE_OVERHEAD;
    int fill = clamp_fill(ql->fill);
    if (fill < 0) return new_sz <= size_levels[-fill - 1];
    if (new_sz > QL_SIZE_SAFETY_LIMIT) return false;
    return (int)n->count < fill;
}

/* May a and b become one node (Redis's _quicklistNodeAllowMerge)? */
static bool allow_merge(const struct quicklist *ql, const struct ql_node *a,
                        const struct ql_node *b) {
    if (a == NULL || b == NULL || a->plain || b->plain) return false;
    size_t merged = a->sz + b->sz - LP_HDR_SIZE - 1;
    int fill = clamp_fill(ql->fill);
    if (fill < 0) return merged <= size_levels[-fill - 1];
    if (merged > QL_SIZE_SAFETY_LIMIT) return false;
    return (int)(a->count + b->count) <= fill;
}

/* Merge b into a (a before b), if allowed. Returns the surviving node. */
static struct ql_node *try_merge(struct quicklist *ql, struct ql_node *a, struct ql_node *b) {
    if (!allow_merge(ql, a, b)) return NULL;
    size_t n = b->count;
    struct lp_item *items = xmalloc(n * sizeof(*items));
    size_t i = 0;
    for (unsigned char *p = lp_first(b->data); p; p = lp_next(b->data, p)) {
        size_t len;
        long long v;
        const unsigned char *s = lp_get(p, &len, &v);
        items[i++] = s ? lp_str_item(s, len) : lp_int_item(v);
    }
    a->data = lp_append_batch(a->data, items, n);
    xfree(items);
    account(ql, a, lp_bytes(a->data));
    a->count += (uint32_t)n;
    ql->count += n; /* node_remove subtracts b's count */
    node_remove(ql, b);
    return a;
}

static unsigned char *lp_push_item(unsigned char *lp, bool head, const struct lp_item *it) {
    if (it->s) return head ? lp_prepend(lp, it->s, it->len) : lp_append(lp, it->s, it->len);
    return head ? lp_prepend_int(lp, it->v) : lp_append_int(lp, it->v);
}

static struct ql_node *node_with(const struct lp_item *it) {
    if (it->s && ql_is_large(it->len)) return node_plain(it);
    return node_lp(lp_push_item(lp_new(0), false, it));
}

/* ---- life cycle ------------------------------------------------------------------ */

struct quicklist *ql_new(int fill, int compress) {
    struct quicklist *ql = xcalloc(1, sizeof(*ql));
    ql->fill = clamp_fill(fill);
    ql->compress = compress < 0 ? 0 : compress;
    ql->bytes = sizeof(*ql);
    return ql;
}

void ql_free(struct quicklist *ql) {
    if (ql == NULL) return;
    struct ql_node *n = ql->head;
    while (n) {
        struct ql_node *next = n->next;
        node_free(n);
        n = next;
    }
    xfree(ql);
}

struct quicklist *ql_dup(const struct quicklist *ql) {
    struct quicklist *d = ql_new(ql->fill, ql->compress);
    for (const struct ql_node *n = ql->head; n; n = n->next) {
        struct ql_node *c;
        if (n->plain) {
            unsigned char *data = xmalloc(n->sz ? n->sz : 1);
            memcpy(data, n->data, n->sz);
            c = node_new(data, n->sz, 1, true);
        } else {
            c = node_new(lp_dup(n->data), n->sz, n->count, false);
        }
        link_after(d, d->tail, c);
    }
    return d;
}

struct quicklist *ql_from_listpack(unsigned char *lp, int fill, int compress) {
    struct quicklist *ql = ql_new(fill, compress);
    if (lp_length(lp) > 0)
        link_after(ql, NULL, node_lp(lp));
    else
        lp_free(lp);
    return ql;
}

void ql_append_node(struct quicklist *ql, unsigned char *data, size_t sz, bool plain) {
    struct ql_node *n = plain ? node_new(data, sz, 1, true) : node_lp(data);
    link_after(ql, ql->tail, n);
}

unsigned char *ql_take_listpack(struct quicklist *ql) {
    if (ql->len != 1 || ql->head->plain) return NULL;
    unsigned char *lp = ql->head->data;
    xfree(ql->head);
    xfree(ql);
    return lp;
}

/* ---- push ------------------------------------------------------------------------ */

void ql_push(struct quicklist *ql, bool head, const struct lp_item *it) {
    struct ql_node *n = head ? ql->head : ql->tail;
    size_t len = item_len(it);
    if (allow_insert(ql, n, len)) {
        n->data = lp_push_item(n->data, head, it);
        account(ql, n, lp_bytes(n->data));
        n->count++;
        ql->count++;
        return;
    }
    struct ql_node *nn = node_with(it);
    if (head)
        link_after(ql, NULL, nn);
    else
        link_after(ql, ql->tail, nn);
}

/* ---- positions ------------------------------------------------------------------- */

void ql_load(struct ql_entry *e) {
    if (e->node->plain) {
        e->s = e->node->data;
        e->len = e->node->sz;
        e->ll = 0;
        return;
    }
    e->s = lp_get(e->p, &e->len, &e->ll);
}

static void set_first(struct ql_entry *e, struct ql_node *n) {
    e->node = n;
    e->p = n->plain ? NULL : lp_first(n->data);
    e->offset = 0;
    ql_load(e);
}

static void set_last(struct ql_entry *e, struct ql_node *n) {
    e->node = n;
    e->p = n->plain ? NULL : lp_last(n->data);
    e->offset = (long)n->count - 1;
    ql_load(e);
}

bool ql_index(struct quicklist *ql, long index, struct ql_entry *e) {
    bool forward = index >= 0;
    size_t want = forward ? (size_t)index : (size_t)(-(index + 1));
    if (want >= ql->count) return false;
    /* Walk the nodes from the nearer end (RPOP and LINDEX -1 of a long
     * list must not walk it all from the head). */
    if (want > ql->count / 2) {
        forward = !forward;
        want = ql->count - 1 - want;
    }
    struct ql_node *n = forward ? ql->head : ql->tail;
    size_t seen = 0;
    while (n && seen + n->count <= want) {
        seen += n->count;
        n = forward ? n->next : n->prev;
    }
    if (n == NULL) return false;
    long off = (long)(want - seen);
    if (!forward) off = (long)n->count - 1 - off;
    e->node = n;
    e->offset = off;
    e->p = n->plain ? NULL : lp_seek(n->data, off);
    ql_load(e);
    return true;
}

bool ql_step(struct quicklist *ql, struct ql_entry *e, bool forward) {
    struct ql_node *n = e->node;
    if (!n->plain) {
        unsigned char *p = forward ? lp_next(n->data, e->p) : lp_prev(n->data, e->p);
        if (p) {
            e->p = p;
            e->offset += forward ? 1 : -1;
            ql_load(e);
            return true;
        }
    }
    struct ql_node *m = forward ? n->next : n->prev;
    if (m == NULL) return false;
    if (forward)
        set_first(e, m);
    else
        set_last(e, m);
    return true;
}

/* ---- changes --------------------------------------------------------------------- */

bool ql_delete_entry(struct quicklist *ql, struct ql_entry *e, bool forward) {
    struct ql_node *n = e->node;
    if (n->count == 1) {
        struct ql_node *m = forward ? n->next : n->prev;
        node_remove(ql, n);
        if (m == NULL) return false;
        if (forward)
            set_first(e, m);
        else
            set_last(e, m);
        return true;
    }
    unsigned char *next;
    n->data = lp_delete(n->data, e->p, &next);
    account(ql, n, lp_bytes(n->data));
    n->count--;
    ql->count--;
    if (forward) {
        if (next) {
            e->p = next;
            ql_load(e);
            return true;
        }
        if (n->next == NULL) return false;
        set_first(e, n->next);
        return true;
    }
    if (e->offset > 0) {
        e->p = next ? lp_prev(n->data, next) : lp_last(n->data);
        e->offset--;
        ql_load(e);
        return true;
    }
    if (n->prev == NULL) return false;
    set_last(e, n->prev);
    return true;
}

/* Split node n before offset k (0 < k < count): n keeps [0, k), the new
 * node after it gets [k, count). Returns the new node. */
static struct ql_node *split(struct quicklist *ql, struct ql_node *n, long k) {
    unsigned char *right = lp_dup(n->data);
    right = lp_delete_range(right, 0, (size_t)k);
    n->data = lp_delete_range(n->data, k, n->count - (size_t)k);
    uint32_t rc = n->count - (uint32_t)k;
    n->count = (uint32_t)k;
    ql->count -= rc;
    account(ql, n, lp_bytes(n->data));
    struct ql_node *r = node_new(right, lp_bytes(right), rc, false);
    link_after(ql, n, r);
    return r;
}

static void insert_impl(struct quicklist *ql, struct ql_entry *e, bool after,
                        const struct lp_item *it, bool merge) {
    struct ql_node *n = e->node;
    size_t len = item_len(it);
    bool large = it->s && ql_is_large(len);
    bool at_tail = n->plain || (after && e->offset == (long)n->count - 1);
    bool at_head = n->plain || (!after && e->offset == 0);
    if (!large && !n->plain && allow_insert(ql, n, len)) {
        enum lp_where w = after ? LP_AFTER : LP_BEFORE;
        n->data = lp_insert(n->data, e->p, w, it, NULL);
        account(ql, n, lp_bytes(n->data));
        n->count++;
        ql->count++;
        return;
    }
    if (!large && after && at_tail && allow_insert(ql, n->next, len)) {
        n->next->data = lp_push_item(n->next->data, true, it);
        account(ql, n->next, lp_bytes(n->next->data));
        n->next->count++;
        ql->count++;
        return;
    }
    if (!large && !after && at_head && allow_insert(ql, n->prev, len)) {
        n->prev->data = lp_push_item(n->prev->data, false, it);
        account(ql, n->prev, lp_bytes(n->prev->data));
        n->prev->count++;
        ql->count++;
        return;
    }
    if ((after && at_tail) || (!after && at_head)) {
        struct ql_node *nn = node_with(it);
        if (after)
            link_after(ql, n, nn);
        else
            link_before(ql, n, nn);
        return;
    }
    /* The middle of a full packed node (or a large element): split there. */
    long k = after ? e->offset + 1 : e->offset;
    struct ql_node *right = split(ql, n, k);
    if (!large && allow_insert(ql, n, len)) {
        n->data = lp_push_item(n->data, false, it);
        account(ql, n, lp_bytes(n->data));
        n->count++;
        ql->count++;
    } else if (!large && allow_insert(ql, right, len)) {
        right->data = lp_push_item(right->data, true, it);
        account(ql, right, lp_bytes(right->data));
        right->count++;
        ql->count++;
    } else {
        link_after(ql, n, node_with(it));
    }
    /* Keep nodes full where the fill allows (Redis merges around a split). */
    if (merge && !try_merge(ql, n->prev, n) && right->next) try_merge(ql, right, right->next);
}

void ql_insert(struct quicklist *ql, struct ql_entry *e, bool after, const struct lp_item *it) {
    insert_impl(ql, e, after, it, true);
}

void ql_replace_entry(struct quicklist *ql, struct ql_entry *e, const struct lp_item *it) {
    struct ql_node *n = e->node;
    bool large = it->s && ql_is_large(it->len);
    if (!n->plain && !large) {
        n->data = it->s ? lp_replace(n->data, &e->p, it->s, it->len)
                        : lp_replace_int(n->data, &e->p, it->v);
        account(ql, n, lp_bytes(n->data));
        ql_load(e);
        return;
    }
    if (n->plain && large) {
        unsigned char *d = xmalloc(it->len ? it->len : 1);
        memcpy(d, it->s, it->len);
        xfree(n->data);
        n->data = d;
        account(ql, n, it->len);
        ql_load(e);
        return;
    }
    /* Changing between packed and plain: insert the new element after the
     * old one, then delete the old one. */
    long offset = e->offset;
    /* No merging: the old element stays at (n, offset), whatever splits. */
    insert_impl(ql, e, true, it, false);
    struct ql_entry old;
    old.node = n;
    old.offset = offset;
    old.p = n->plain ? NULL : lp_seek(n->data, offset);
    ql_load(&old);
    struct ql_entry cur = old;
    ql_delete_entry(ql, &cur, true);
    e->node = NULL; /* the caller re-reads by index if needed */
}

void ql_delete_range(struct quicklist *ql, long start, long count) {
    if (start < 0 || count <= 0 || (size_t)start >= ql->count) return;
    size_t left = (size_t)count;
    if ((size_t)start + left > ql->count) left = ql->count - (size_t)start;
    struct ql_node *n = ql->head;
    size_t seen = 0;
    while (n && seen + n->count <= (size_t)start) {
        seen += n->count;
        n = n->next;
    }
    size_t off = (size_t)start - seen;
    while (n && left > 0) {
        struct ql_node *next = n->next;
        size_t here = n->count - off;
        if (here > left) here = left;
        if (off == 0 && here == n->count) {
            node_remove(ql, n);
        } else {
            n->data = lp_delete_range(n->data, (long)off, here);
            account(ql, n, lp_bytes(n->data));
            n->count -= (uint32_t)here;
            ql->count -= here;
        }
        left -= here;
        off = 0;
        n = next;
    }
}

bool ql_check(const struct quicklist *ql) {
    size_t count = 0, len = 0, bytes = sizeof(*ql);
    const struct ql_node *prev = NULL;
    for (const struct ql_node *n = ql->head; n; n = n->next) {
        if (n->prev != prev || n->count == 0) return false;
        if (n->plain) {
            if (n->count != 1) return false;
        } else {
            if (n->sz != lp_bytes(n->data) || n->count != lp_length(n->data)) return false;
        }
        count += n->count;
        bytes += sizeof(*n) + n->sz;
        len++;
        prev = n;
    }
    return prev == ql->tail && count == ql->count && len == ql->len && bytes == ql->bytes;
}

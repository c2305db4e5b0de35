/*
 * ds/radix.c - the compressed radix tree of ds/radix.h.
 *
 * Layout of a node (one allocation, see radix.h for the picture):
 *   data[0, plen)              the node's compressed run of key bytes
 *   data[plen, plen + cap)     the sorted edge bytes of its nchild children
 *   data[align8(plen + cap)..] the child pointers, in edge order
 *
 * Children are added and removed in place while the arrays have room (cap:
 * exact for small nodes, then grown by half, so a node that fills up to 256
 * children one key at a time is rebuilt a dozen times, not 256; given back
 * when three quarters are empty). Changing the run or the capacity rebuilds
 * the node (a new allocation): the caller stores the new pointer where the
 * old one was (the root pointer or the parent's child slot), which is why
 * the write paths keep the "links" (addresses of those slots) they walk.
 *
 * Invariants restored after every change (see radix.h): a keyless node has
 * at least two children, except the root; an empty root has no run. Insert
 * keeps them by construction (a split node holds a key or two children,
 * the first key of an empty tree becomes the root itself); remove merges a
 * keyless node with its only child and drops keyless leaves.
 *
 * Iteration: a stack of frames (node, index in the parent, key length before
 * the node) from the root to the current node, and the current key in a
 * buffer. In key order a node's own key comes before its children's keys,
 * so "next" descends to the first key below or climbs to the next sibling,
 * and "prev" climbs to the previous sibling's last key or to the parent.
 */
#include "ds/radix.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <string.h>

struct radix_node {
    uint32_t plen : 31;
    uint32_t is_key : 1;
    uint16_t nchild;
    uint16_t cap; /* room for children: the edge and child arrays are sized by it */
    void *value;
    unsigned char data[];
};

struct radix {
    struct radix_node *root;
    size_t keys;
    size_t nodes;
    size_t bytes;
};

enum { IT_NONE = 0, IT_SEEKED = 1, IT_AT = 2, IT_EOF = 3 };

#define MAX_PLEN ((1u << 31) - 1)

/* ---- nodes ----------------------------------------------------------------------------------- */

static inline size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static inline size_t node_size(size_t plen, size_t cap) {
    return sizeof(struct radix_node) + align8(plen + cap) + cap * sizeof(struct radix_node *);
}
static inline unsigned char *prefix_of(struct radix_node *n) { return n->data; }
static inline unsigned char *edges_of(struct radix_node *n) { return n->data + n->plen; }
static inline struct radix_node **children_of(struct radix_node *n) {
    return (struct radix_node **)(void *)(n->data + align8((size_t)n->plen + n->cap));
}

/* Room for one more child: exact while small, then half as much again
 * (a node of stream or PEL IDs fills up to 256 children one by one). */
static inline size_t grown_cap(size_t n) { return n < 4 ? n + 1 : MIN((size_t)256, n + n / 2); }

static struct radix_node *node_alloc(struct radix *r, size_t plen, size_t nchild, size_t cap) {
    ASSERT(plen <= MAX_PLEN && nchild <= cap && cap <= 256);
    size_t sz = node_size(plen, cap);
    struct radix_node *n = xmalloc(sz);
    n->plen = (uint32_t)plen;
    n->is_key = 0;
    n->nchild = (uint16_t)nchild;
    n->cap = (uint16_t)cap;
    n->value = NULL;
    r->nodes++;
    r->bytes += sz;
    return n;
}

static void node_release(struct radix *r, struct radix_node *n) {
    r->nodes--;
    r->bytes -= node_size(n->plen, n->cap);
    xfree(n);
}

/* A leaf holding key bytes p[0, len) as its run. */
static struct radix_node *leaf_new(struct radix *r, const unsigned char *p, size_t len, void *value) {
    struct radix_node *n = node_alloc(r, len, 0, 0);
    if (len) memcpy(prefix_of(n), p, len);
    n->is_key = 1;
    n->value = value;
    return n;
}

/* Index of the child whose edge byte is b, or -1. */
static int edge_find(struct radix_node *n, unsigned char b) {
    const unsigned char *e = edges_of(n);
    const unsigned char *hit = n->nchild ? memchr(e, b, n->nchild) : NULL;
    return hit ? (int)(hit - e) : -1;
}

/* Where a child with edge b goes to keep the edges sorted. */
static int edge_slot(struct radix_node *n, unsigned char b) {
    const unsigned char *e = edges_of(n);
    int i = n->nchild;
    /* Keys mostly arrive in order (stream and PEL IDs): look from the end. */
    while (i > 0 && e[i - 1] > b) i--;
    return i;
}

/* n rebuilt with run p[0, plen), its first `keep` children and room for
 * cap; key and value come along. n is freed. */
static struct radix_node *node_reshape(struct radix *r, struct radix_node *n, const unsigned char *p,
                                       size_t plen, size_t keep, size_t cap) {
    struct radix_node *m = node_alloc(r, plen, keep, cap);
    if (plen) memmove(prefix_of(m), p, plen);
    memcpy(edges_of(m), edges_of(n), keep);
    memcpy(children_of(m), children_of(n), keep * sizeof(struct radix_node *));
    m->is_key = n->is_key;
    m->value = n->value;
    node_release(r, n);
    return m;
}

/* n plus child c under edge b (n may move; returns it). */
static struct radix_node *node_add_child(struct radix *r, struct radix_node *n, unsigned char b,
                                         struct radix_node *c) {
    if (n->nchild == n->cap) n = node_reshape(r, n, prefix_of(n), n->plen, n->nchild, grown_cap(n->cap));
    int at = edge_slot(n, b), tail = n->nchild - at;
    unsigned char *e = edges_of(n);
    struct radix_node **ch = children_of(n);
    memmove(e + at + 1, e + at, (size_t)tail);
    memmove(ch + at + 1, ch + at, (size_t)tail * sizeof(*ch));
    e[at] = b;
    ch[at] = c;
    n->nchild++;
    return n;
}

/* n without its child at idx (n may move when it gives back room). */
static struct radix_node *node_del_child(struct radix *r, struct radix_node *n, int idx) {
    int tail = n->nchild - idx - 1;
    unsigned char *e = edges_of(n);
    struct radix_node **ch = children_of(n);
    memmove(e + idx, e + idx + 1, (size_t)tail);
    memmove(ch + idx, ch + idx + 1, (size_t)tail * sizeof(*ch));
    n->nchild--;
    if (n->cap > 4 && (size_t)n->nchild * 4 <= n->cap)
        n = node_reshape(r, n, prefix_of(n), n->plen, n->nchild, n->nchild);
    return n;
}

/* n with its run cut to p[from, plen): same children, key and value. */
static struct radix_node *node_drop_head(struct radix *r, struct radix_node *n, size_t from) {
    return node_reshape(r, n, prefix_of(n) + from, n->plen - from, n->nchild, n->nchild);
}

/* Merge a keyless n with its only child: run = n's run + edge + child's
 * run; children, key and value come from the child. Both are freed. */
static struct radix_node *node_merge_child(struct radix *r, struct radix_node *n) {
    ASSERT(!n->is_key && n->nchild == 1);
    struct radix_node *c = children_of(n)[0];
    size_t plen = (size_t)n->plen + 1 + c->plen;
    struct radix_node *m = node_alloc(r, plen, c->nchild, c->nchild);
    unsigned char *p = prefix_of(m);
    memcpy(p, prefix_of(n), n->plen);
    p[n->plen] = edges_of(n)[0];
    memcpy(p + n->plen + 1, prefix_of(c), c->plen);
    memcpy(edges_of(m), edges_of(c), c->nchild);
    memcpy(children_of(m), children_of(c), c->nchild * sizeof(struct radix_node *));
    m->is_key = c->is_key;
    m->value = c->value;
    node_release(r, c);
    node_release(r, n);
    return m;
}

/* ---- tree ------------------------------------------------------------------------------------ */

struct radix *radix_new(void) {
    struct radix *r = xcalloc(1, sizeof(*r));
    r->bytes = sizeof(*r);
    r->root = node_alloc(r, 0, 0, 0);
    return r;
}

void radix_free(struct radix *r, void (*free_value)(void *)) {
    if (r == NULL) return;
    /* Explicit stack: a chain of nested keys ("a", "aa", "aaa"...) makes
     * the tree as deep as it has keys. */
    size_t cap = 64, top = 0;
    struct radix_node **stack = xmalloc(cap * sizeof(*stack));
    stack[top++] = r->root;
    while (top > 0) {
        struct radix_node *n = stack[--top];
        if (n->nchild > cap - top) {
            cap = (top + n->nchild) * 2;
            stack = xrealloc(stack, cap * sizeof(*stack));
        }
        memcpy(stack + top, children_of(n), n->nchild * sizeof(*stack));
        top += n->nchild;
        if (n->is_key && free_value) free_value(n->value);
        xfree(n);
    }
    xfree(stack);
    xfree(r);
}

size_t radix_size(const struct radix *r) { return r->keys; }
size_t radix_nodes(const struct radix *r) { return r->nodes; }
size_t radix_mem(const struct radix *r) { return r->bytes; }

static struct radix_node *find_node(const struct radix *r, const unsigned char *k, size_t len) {
    struct radix_node *n = r->root;
    size_t i = 0;
    for (;;) {
        if (n->plen > len - i || (n->plen && memcmp(prefix_of(n), k + i, n->plen) != 0)) return NULL;
        i += n->plen;
        if (i == len) return n->is_key ? n : NULL;
        int c = edge_find(n, k[i]);
        if (c < 0) return NULL;
        n = children_of(n)[c];
        i++;
    }
}

bool radix_find(const struct radix *r, const void *key, size_t len, void **value) {
    struct radix_node *n = find_node(r, key, len);
    if (n == NULL) return false;
    if (value) *value = n->value;
    return true;
}

/* Insert or find; returns the node holding the key and whether it was new. */
static bool insert(struct radix *r, const unsigned char *k, size_t len, void *value, bool overwrite,
                   void **prev) {
    struct radix_node **link = &r->root;
    struct radix_node *n = r->root;
    if (!n->is_key && n->nchild == 0) {
        /* Empty tree: the key becomes the root. */
        node_release(r, n);
        r->root = leaf_new(r, k, len, value);
        r->keys++;
        return true;
    }
    size_t i = 0;
    for (;;) {
        size_t j = 0;
        while (j < n->plen && i + j < len && prefix_of(n)[j] == k[i + j]) j++;
        if (j < n->plen) {
            /* Split n after j bytes of its run: s takes the common part. */
            bool key_here = i + j == len;
            unsigned char b = prefix_of(n)[j];
            struct radix_node *s = node_alloc(r, j, 0, key_here ? 1 : 2);
            memcpy(prefix_of(s), prefix_of(n), j);
            struct radix_node *tail = node_drop_head(r, n, j + 1);
            s = node_add_child(r, s, b, tail);
            if (key_here) {
                s->is_key = 1;
                s->value = value;
            } else {
                struct radix_node *leaf = leaf_new(r, k + i + j + 1, len - i - j - 1, value);
                s = node_add_child(r, s, k[i + j], leaf);
            }
            *link = s;
            r->keys++;
            return true;
        }
        i += n->plen;
        if (i == len) {
            if (n->is_key) {
                if (prev) *prev = n->value;
                if (overwrite) n->value = value;
                return false;
            }
            n->is_key = 1;
            n->value = value;
            r->keys++;
            return true;
        }
        int c = edge_find(n, k[i]);
        if (c < 0) {
            struct radix_node *leaf = leaf_new(r, k + i + 1, len - i - 1, value);
            *link = node_add_child(r, n, k[i], leaf);
            r->keys++;
            return true;
        }
        link = &children_of(n)[c];
        n = *link;
        i++;
    }
}

bool radix_insert(struct radix *r, const void *key, size_t len, void *value, void **old) {
    return insert(r, key, len, value, true, old);
}

bool radix_try_insert(struct radix *r, const void *key, size_t len, void *value, void **existing) {
    return insert(r, key, len, value, false, existing);
}

/* Restore the invariants at the node stored in *link after it lost its key
 * or a child; parent_link (NULL for the root) is where its parent is. */
static void fix_after_remove(struct radix *r, struct radix_node **link, struct radix_node **parent_link,
                             int idx_in_parent) {
    struct radix_node *n = *link;
    if (n->is_key) return;
    if (n->nchild == 1) {
        *link = node_merge_child(r, n);
        return;
    }
    if (n->nchild > 0) return;
    if (parent_link == NULL) {
        /* The root: an empty tree keeps an empty root. */
        if (n->plen) {
            node_release(r, n);
            *link = node_alloc(r, 0, 0, 0);
        }
        return;
    }
    /* A keyless leaf: drop it from its parent, which may then need a merge
     * (a keyless parent had two children at least; now it may have one). */
    node_release(r, n);
    struct radix_node *p = node_del_child(r, *parent_link, idx_in_parent);
    *parent_link = p;
    if (!p->is_key && p->nchild == 1) *parent_link = node_merge_child(r, p);
}

bool radix_remove(struct radix *r, const void *key, size_t len, void **old) {
    const unsigned char *k = key;
    struct radix_node **link = &r->root, **parent_link = NULL;
    int idx = -1;
    struct radix_node *n = r->root;
    size_t i = 0;
    for (;;) {
        if (n->plen > len - i || (n->plen && memcmp(prefix_of(n), k + i, n->plen) != 0)) return false;
        i += n->plen;
        if (i == len) break;
        int c = edge_find(n, k[i]);
        if (c < 0) return false;
        parent_link = link;
        idx = c;
        link = &children_of(n)[c];
        n = *link;
        i++;
    }
    if (!n->is_key) return false;
    if (old) *old = n->value;
    n->is_key = 0;
    n->value = NULL;
    r->keys--;
    fix_after_remove(r, link, parent_link, idx);
    return true;
}

/* ---- iteration ------------------------------------------------------------------------------- */

void radix_iter_init(struct radix_iter *it, struct radix *r) {
    it->r = r;
    it->key = it->key_static;
    it->key_len = 0;
    it->key_cap = sizeof(it->key_static);
    it->value = NULL;
    it->stack = it->stack_static;
    it->stack_cap = RADIX_ITER_STATIC_DEPTH;
    it->depth = 0;
    it->state = IT_NONE;
}

void radix_iter_release(struct radix_iter *it) {
    if (it->key != it->key_static) xfree(it->key);
    if (it->stack != it->stack_static) xfree(it->stack);
    it->key = it->key_static;
    it->key_cap = sizeof(it->key_static);
    it->stack = it->stack_static;
    it->stack_cap = RADIX_ITER_STATIC_DEPTH;
}

static void key_append(struct radix_iter *it, const unsigned char *p, size_t n) {
    if (it->key_len + n > it->key_cap) {
        size_t cap = (it->key_len + n) * 2;
        if (it->key == it->key_static) {
            unsigned char *k = xmalloc(cap);
            memcpy(k, it->key, it->key_len);
            it->key = k;
        } else {
            it->key = xrealloc(it->key, cap);
        }
        it->key_cap = cap;
    }
    if (n) memcpy(it->key + it->key_len, p, n);
    it->key_len += n;
}

static struct radix_frame *top(struct radix_iter *it) { return &it->stack[it->depth - 1]; }

/* Enter child idx of the node on top of the stack (or the root when the
 * stack is empty, idx -1). */
static void push(struct radix_iter *it, int idx) {
    struct radix_node *n;
    if (it->depth == it->stack_cap) {
        int cap = it->stack_cap * 2;
        if (it->stack == it->stack_static) {
            struct radix_frame *s = xmalloc((size_t)cap * sizeof(*s));
            memcpy(s, it->stack, (size_t)it->depth * sizeof(*s));
            it->stack = s;
        } else {
            it->stack = xrealloc(it->stack, (size_t)cap * sizeof(*it->stack));
        }
        it->stack_cap = cap;
    }
    size_t before = it->key_len;
    if (idx < 0) {
        n = it->r->root;
    } else {
        struct radix_node *p = top(it)->node;
        n = children_of(p)[idx];
        key_append(it, &edges_of(p)[idx], 1);
    }
    key_append(it, prefix_of(n), n->plen);
    it->stack[it->depth++] = (struct radix_frame){n, idx, before};
}

static void pop(struct radix_iter *it) {
    it->key_len = top(it)->klen;
    it->depth--;
}

static bool at_key(struct radix_iter *it) {
    it->value = top(it)->node->value;
    it->state = IT_AT;
    return true;
}

static bool at_eof(struct radix_iter *it) {
    it->state = IT_EOF;
    it->depth = 0;
    it->key_len = 0;
    return false;
}

/* The smallest key in the subtree on top of the stack. */
static bool descend_first(struct radix_iter *it) {
    for (;;) {
        struct radix_node *n = top(it)->node;
        if (n->is_key) return at_key(it);
        if (n->nchild == 0) return at_eof(it); /* the empty root */
        push(it, 0);
    }
}

/* The greatest key in the subtree on top of the stack. */
static bool descend_last(struct radix_iter *it) {
    for (;;) {
        struct radix_node *n = top(it)->node;
        if (n->nchild == 0) return n->is_key ? at_key(it) : at_eof(it);
        push(it, n->nchild - 1);
    }
}

/* The smallest key after the whole subtree on top of the stack. */
static bool after_subtree(struct radix_iter *it) {
    for (;;) {
        if (it->depth <= 1) return at_eof(it);
        int idx = top(it)->idx;
        pop(it);
        if (idx + 1 < top(it)->node->nchild) {
            push(it, idx + 1);
            return descend_first(it);
        }
    }
}

/* The greatest key before the whole subtree on top of the stack. */
static bool before_subtree(struct radix_iter *it) {
    for (;;) {
        if (it->depth <= 1) return at_eof(it);
        int idx = top(it)->idx;
        pop(it);
        if (idx > 0) {
            push(it, idx - 1);
            return descend_last(it);
        }
        if (top(it)->node->is_key) return at_key(it);
    }
}

/* Walk towards key; the stack ends at the deepest node whose path is a
 * prefix of key or where the paths part. *cmp says how the subtree on top
 * compares with key: 0 = its node's own path is exactly key, >0 = every key
 * in the subtree is greater, <0 = every key is smaller; 2 = the node's path
 * is a proper prefix of key and no child continues it (*slot = where such a
 * child would go among the children). */
static void descend_to(struct radix_iter *it, const unsigned char *k, size_t len, int *cmp, int *slot) {
    push(it, -1);
    size_t i = 0;
    for (;;) {
        struct radix_node *n = top(it)->node;
        size_t j = 0;
        while (j < n->plen && i + j < len && prefix_of(n)[j] == k[i + j]) j++;
        if (j < n->plen) {
            *cmp = (i + j == len || k[i + j] < prefix_of(n)[j]) ? 1 : -1;
            return;
        }
        i += n->plen;
        if (i == len) {
            *cmp = 0;
            return;
        }
        int c = edge_find(n, k[i]);
        if (c < 0) {
            *cmp = 2;
            *slot = edge_slot(n, k[i]);
            return;
        }
        push(it, c);
        i++;
    }
}

bool radix_seek(struct radix_iter *it, enum radix_seek_op op, const void *key, size_t len) {
    it->depth = 0;
    it->key_len = 0;
    bool found;
    if (op == RADIX_FIRST || op == RADIX_LAST) {
        push(it, -1);
        found = op == RADIX_FIRST ? descend_first(it) : descend_last(it);
    } else {
        int cmp = 0, slot = 0;
        descend_to(it, key, len, &cmp, &slot);
        struct radix_node *n = top(it)->node;
        bool fwd = op == RADIX_GE || op == RADIX_GT;
        if (cmp == 0 && n->is_key) {
            if (op == RADIX_EQ || op == RADIX_GE || op == RADIX_LE)
                found = at_key(it);
            else if (op == RADIX_GT)
                found = n->nchild ? (push(it, 0), descend_first(it)) : after_subtree(it);
            else
                found = before_subtree(it);
        } else if (op == RADIX_EQ) {
            found = at_eof(it);
        } else if (cmp == 0 || cmp == 1) {
            /* Everything below is greater than key. */
            found = fwd ? descend_first(it) : before_subtree(it);
        } else if (cmp == -1) {
            found = fwd ? after_subtree(it) : descend_last(it);
        } else if (fwd) {
            found = slot < n->nchild ? (push(it, slot), descend_first(it)) : after_subtree(it);
        } else if (slot > 0) {
            push(it, slot - 1);
            found = descend_last(it);
        } else {
            found = n->is_key ? at_key(it) : before_subtree(it);
        }
    }
    if (found) it->state = IT_SEEKED;
    return found;
}

bool radix_next(struct radix_iter *it) {
    if (it->state == IT_SEEKED) {
        it->state = IT_AT;
        return true;
    }
    if (it->state != IT_AT) return false;
    struct radix_node *n = top(it)->node;
    if (n->nchild) {
        push(it, 0);
        return descend_first(it);
    }
    return after_subtree(it);
}

bool radix_prev(struct radix_iter *it) {
    if (it->state == IT_SEEKED) {
        it->state = IT_AT;
        return true;
    }
    if (it->state != IT_AT) return false;
    return before_subtree(it);
}

bool radix_eof(const struct radix_iter *it) { return it->state == IT_EOF || it->state == IT_NONE; }

/*
 * store/entry.c - entry construction and string values; see entry.h.
 */
#include "store/entry.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/str.h"

static const struct type_ops *type_ops[TYPE_COUNT];

void entry_register_type(enum entry_type t, const struct type_ops *ops) { type_ops[t] = ops; }
const struct type_ops *entry_type_ops(enum entry_type t) { return type_ops[t]; }

const char *entry_type_name(const struct entry *e) {
    enum entry_type t = entry_type(e);
    if (t == TYPE_STRING) return "string";
    return type_ops[t] ? type_ops[t]->name : "none";
}

const char *entry_enc_name(const struct entry *e) {
    enum entry_type t = entry_type(e);
    int enc = entry_enc(e);
    if (t == TYPE_STRING) {
        switch (enc) {
        case ENC_INT: return "int";
        case ENC_EMBSTR: return entry_str_len(e) <= 44 ? "embstr" : "raw";
        default: return "raw";
        }
    }
    const struct type_ops *ops = type_ops[t];
    return ops && ops->enc_name ? ops->enc_name(entry_obj(e), enc) : "unknown";
}

/* ---- blobs --------------------------------------------------------------- */

struct blob *blob_new(const char *p, size_t len, size_t cap) {
    if (cap < len) cap = len;
    struct blob *b = xmalloc(sizeof(*b) + cap + 1);
    atomic_init(&b->refs, 1);
    b->pad = 0;
    b->len = len;
    b->cap = xusable(b) - sizeof(*b) - 1;
    if (p && len) memcpy(b->data, p, len);
    return b;
}

void blob_unref(struct blob *b) {
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) xfree(b);
}

void blob_release_cb(void *b) { blob_unref(b); }

/* ---- construction --------------------------------------------------------- */

/* Allocate an entry with room for `vbytes` of value; writes the header, the
 * expire (if any), the memcached block (if mc) and the key, returns the
 * entry with *valp at the value. */
static struct entry *alloc_entry_mc(const char *key, size_t klen, int64_t expire, const struct entry_mc *mc,
                                    size_t vbytes, uint8_t **valp) {
    unsigned flags = (expire >= 0 ? ENTRY_F_EXPIRE : 0u) | (mc ? ENTRY_F_MCMETA : 0u);
    size_t size = sizeof(struct entry) + entry_blocks_size(flags) + varint_len(klen) + klen + vbytes;
    struct entry *e = xmalloc(size);
    e->node.next = NULL;
    e->te = 0;
    e->flags = (uint8_t)flags;
    memset(e->lru, 0, sizeof(e->lru));
    uint8_t *p = e->data;
    if (expire >= 0) {
        memcpy(p, &expire, 8);
        memset(p + 8, 0, 4);
        p += ENTRY_EXPIRE_BLOCK;
    }
    if (mc) {
        memcpy(p, &mc->flags, 4);
        memcpy(p + 4, &mc->cas, 8);
        p += ENTRY_MC_BLOCK;
    }
    p += varint_put(p, klen);
    memcpy(p, key, klen);
    *valp = p + klen;
    return e;
}

static struct entry *alloc_entry(const char *key, size_t klen, int64_t expire, size_t vbytes, uint8_t **valp) {
    return alloc_entry_mc(key, klen, expire, NULL, vbytes, valp);
}

/* e's memcached block into *buf; returns buf, or NULL when e has none. */
static const struct entry_mc *mc_of(const struct entry *e, struct entry_mc *buf) {
    if (!entry_has_mc(e)) return NULL;
    *buf = entry_mc_get(e);
    return buf;
}

static struct entry *new_int_mc(const char *key, size_t klen, long long v, int64_t expire,
                               const struct entry_mc *mc) {
    uint8_t *vp;
    struct entry *e = alloc_entry_mc(key, klen, expire, mc, sizeof(long long), &vp);
    e->te = (uint8_t)(TYPE_STRING | (ENC_INT << 4));
    memcpy(vp, &v, sizeof(v));
    return e;
}

struct entry *entry_new_int(const char *key, size_t klen, long long v, int64_t expire) {
    return new_int_mc(key, klen, v, expire, NULL);
}

static struct entry *new_str_mc(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire,
                                bool no_int, const struct entry_mc *mc) {
    long long ll;
    if (!no_int && vlen <= 20 && vlen > 0 && str_to_ll(val, vlen, &ll)) return new_int_mc(key, klen, ll, expire, mc);
    uint8_t *vp;
    struct entry *e;
    if (vlen <= ENTRY_EMB_MAX) {
        e = alloc_entry_mc(key, klen, expire, mc, varint_len(vlen) + vlen, &vp);
        e->te = (uint8_t)(TYPE_STRING | (ENC_EMBSTR << 4));
        vp += varint_put(vp, vlen);
        memcpy(vp, val, vlen);
    } else {
        e = alloc_entry_mc(key, klen, expire, mc, sizeof(struct blob *), &vp);
        e->te = (uint8_t)(TYPE_STRING | (ENC_BLOB << 4));
        struct blob *b = blob_new(val, vlen, vlen);
        memcpy(vp, &b, sizeof(b));
    }
    return e;
}

struct entry *entry_new_str(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire,
                            bool no_int) {
    return new_str_mc(key, klen, val, vlen, expire, no_int, NULL);
}

struct entry *entry_new_str_mc(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire,
                               const struct entry_mc *mc) {
    return new_str_mc(key, klen, val, vlen, expire, false, mc);
}

struct entry *entry_new_obj(const char *key, size_t klen, enum entry_type type, int enc, void *obj,
                            int64_t expire) {
    uint8_t *vp;
    struct entry *e = alloc_entry(key, klen, expire, sizeof(void *), &vp);
    e->te = (uint8_t)(type | (enc << 4));
    memcpy(vp, &obj, sizeof(obj));
    return e;
}

size_t entry_value_size(const struct entry *e) {
    const uint8_t *vp = entry_valp(e);
    if (entry_type(e) != TYPE_STRING) return sizeof(void *);
    switch (entry_enc(e)) {
    case ENC_INT: return sizeof(long long);
    case ENC_EMBSTR:
    case ENC_RAWEMB: {
        size_t n;
        size_t h = varint_get(vp, &n);
        return h + n;
    }
    default: return sizeof(struct blob *);
    }
}

/* The flag bits a copy keeps besides its blocks (type state, memcached item state). */
#define KEPT_FLAGS ((uint8_t) ~(ENTRY_F_EXPIRE | ENTRY_F_MCMETA))

struct entry *entry_rebuild(const struct entry *e, int64_t expire, size_t vbytes, size_t copy_bytes,
                            uint8_t **valp) {
    size_t klen;
    const char *key = entry_key(e, &klen);
    struct entry_mc mcbuf;
    struct entry *n = alloc_entry_mc(key, klen, expire, mc_of(e, &mcbuf), vbytes, valp);
    n->te = e->te;
    n->flags = (uint8_t)(n->flags | (e->flags & KEPT_FLAGS));
    memcpy(n->lru, e->lru, sizeof(n->lru));
    memcpy(*valp, entry_valp(e), copy_bytes);
    return n;
}

/* A copy of e's value and state under key with the memcached block mc. */
static struct entry *copy_with(const struct entry *e, const char *key, size_t klen, int64_t expire,
                               const struct entry_mc *mc) {
    size_t vb = entry_value_size(e);
    uint8_t *vp;
    struct entry *n = alloc_entry_mc(key, klen, expire, mc, vb, &vp);
    n->te = e->te;
    n->flags = (uint8_t)(n->flags | (e->flags & KEPT_FLAGS));
    memcpy(n->lru, e->lru, sizeof(n->lru));
    memcpy(vp, entry_valp(e), vb);
    return n;
}

struct entry *entry_rekey(const struct entry *e, const char *key, size_t klen, int64_t expire) {
    struct entry_mc mcbuf;
    return copy_with(e, key, klen, expire, mc_of(e, &mcbuf));
}

struct entry *entry_with_mc(const struct entry *e, const struct entry_mc *mc) {
    size_t klen;
    const char *key = entry_key(e, &klen);
    return copy_with(e, key, klen, entry_expire(e), mc);
}

struct entry *entry_dup(const struct entry *e, const char *key, size_t klen, int64_t expire) {
    struct entry *n = entry_rekey(e, key, klen, expire);
    entry_mc_forget_cas(n); /* a copy is a new value: its CAS is its own */
    if (entry_type(e) == TYPE_STRING) {
        if (entry_enc(e) == ENC_BLOB) {
            struct blob *b = entry_obj(e);
            entry_set_obj(n, blob_new(b->data, b->len, b->len));
        }
    } else {
        const struct type_ops *ops = type_ops[entry_type(e)];
        ASSERT(ops && ops->dup);
        entry_set_obj(n, ops->dup(entry_obj(e)));
    }
    return n;
}

/* ---- string values --------------------------------------------------------- */

void entry_str_get(const struct entry *e, struct strval *v) {
    const uint8_t *vp = entry_valp(e);
    v->blob = NULL;
    switch (entry_enc(e)) {
    case ENC_INT:
        memcpy(&v->ll, vp, sizeof(v->ll));
        v->ptr = NULL;
        v->len = 0;
        return;
    case ENC_EMBSTR:
    case ENC_RAWEMB: {
        size_t n;
        size_t h = varint_get(vp, &n);
        v->ptr = (const char *)vp + h;
        v->len = n;
        return;
    }
    default: {
        struct blob *b;
        memcpy(&b, vp, sizeof(b));
        v->ptr = b->data;
        v->len = b->len;
        v->blob = b;
        return;
    }
    }
}

const char *entry_str_bytes(const struct entry *e, char *buf, size_t *len) {
    struct strval v;
    entry_str_get(e, &v);
    if (v.ptr == NULL) {
        *len = (size_t)ll_to_str(buf, STR_LL_MAX, v.ll);
        return buf;
    }
    *len = v.len;
    return v.ptr;
}

size_t entry_str_len(const struct entry *e) {
    struct strval v;
    entry_str_get(e, &v);
    if (v.ptr == NULL) {
        char buf[STR_LL_MAX];
        return (size_t)ll_to_str(buf, sizeof(buf), v.ll);
    }
    return v.len;
}

size_t entry_mem(const struct entry *e) {
    size_t n = xusable(e);
    if (entry_type(e) == TYPE_STRING) {
        if (entry_enc(e) == ENC_BLOB) n += xusable(entry_obj(e));
    } else {
        const struct type_ops *ops = type_ops[entry_type(e)];
        if (ops && ops->mem) n += ops->mem(entry_obj(e));
    }
    return n;
}

void entry_free_shell(struct entry *e) {
    if (entry_type(e) == TYPE_STRING && entry_enc(e) == ENC_BLOB) blob_unref(entry_obj(e));
    xfree(e);
}

void entry_free(struct entry *e) {
    if (entry_type(e) != TYPE_STRING) {
        const struct type_ops *ops = type_ops[entry_type(e)];
        if (ops && ops->free) ops->free(entry_obj(e));
    }
    entry_free_shell(e);
}

/*
 * store/entry.h - one key of the keyspace, in one allocation.
 *
 * Layout (bytes; [] optional, present when the flag says so):
 *
 *   0        8      9      10        13
 *   +--------+------+------+---------+----------------------+---------------------+------+-----+-------+
 *   | next   | type | flags| lru(24) | [expire i64][vidx u32]| [mcflags u32][cas u64]| klen | key | value |
 *   +--------+------+------+---------+----------------------+---------------------+------+-----+-------+
 *     htab     type:4 bits, encoding:4 bits  ENTRY_F_EXPIRE       ENTRY_F_MCMETA        varint
 *
 *   value by encoding:
 *     ENC_INT      8 bytes, a long long
 *     ENC_EMBSTR   varint length + bytes          (reported as "embstr" <= 44 bytes)
 *     ENC_RAWEMB   varint length + bytes          (a string changed in place: "raw")
 *     ENC_BLOB     pointer to a refcounted blob   ("raw"; big or growing strings)
 *     other types  pointer to the type's object, with its ops (types/)
 *
 * A 12-byte key with a 32-byte value takes 8+2+3+1+12+1+32 = 59 bytes, one
 * 64-byte allocator class, and a hash-table bucket pointer: no separate
 * dictEntry, robj or sds header as in Redis.
 *
 * Expiry: absolute Unix milliseconds, stored only for keys that have one;
 * `vidx` is the key's index in its slot's vector of volatile keys (for
 * sampling by the active expire cycle and volatile-* eviction).
 *
 * memcached metadata (ENTRY_F_MCMETA): a memcached item's 32-bit client
 * flags and 64-bit CAS, in a 12-byte block present only on entries that
 * need one (client flags != 0, or a CAS handed out to a client). Entries
 * written by Redis commands, and memcached items stored with flags 0 whose
 * CAS nobody asked for, carry no block: flags read as 0, CAS as 0 (none).
 * CAS 0 in a block means "none assigned yet". The CAS values themselves are
 * chosen by the memcached layer (cmd/memcache); the store only keeps the
 * rule that every change of a value forgets its CAS:
 *   - functions that change a string value in place or rebuild it
 *     (store_str_writable, store_str_set_int) keep the block (the client
 *     flags survive APPEND, SETRANGE, INCR...) but set its CAS to 0;
 *   - store_str_overwrite declines entries with a block (SET then builds a
 *     new entry: a new value has flags 0);
 *   - entry_rebuild / entry_rekey / store_set_expire keep the block as is
 *     (an expiry change or RENAME is not a new value: memcached's touch keeps
 *     the CAS); entry_dup (COPY) keeps the flags, not the CAS.
 * So a CAS, once handed out, changes with any write from either protocol
 * (a new one is assigned when a client asks again), at no cost to entries
 * that never had one. Four more flag bits are the memcached item state of
 * the meta protocol: ENTRY_F_MC_FETCHED (read by a memcached client since it
 * was stored), ENTRY_F_MC_WON (a recache token was handed out),
 * ENTRY_F_MC_STALE (marked stale by md I / ms I), ENTRY_F_MC_BINKEY (the
 * key was given in base64: meta k answers it so); Redis commands ignore
 * them and copies keep them.
 *
 * LRU field: with an LFU policy, 16 bits of minutes + an 8-bit log counter;
 * otherwise a 24-bit LRU clock in seconds (Redis's scheme).
 *
 * Ownership: the slot table owns its entries. An entry is rewritten in place
 * or reallocated (new address) by the store functions only, under the
 * entry's stripe lock. Blobs are refcounted so replies can reference them
 * after the lock is released.
 *
 * Thread context: [stripe-locked] for everything that touches an entry in the
 * keyspace; blob_ref/blob_unref [any].
 */
#ifndef STASH_STORE_ENTRY_H
#define STASH_STORE_ENTRY_H

#include "base/common.h"
#include "ds/htab.h"

#include <stdatomic.h>
#include <string.h>

enum entry_type {
    TYPE_STRING = 0,
    TYPE_LIST = 1,
    TYPE_SET = 2,
    TYPE_ZSET = 3,
    TYPE_HASH = 4,
    TYPE_STREAM = 5,
    TYPE_COUNT
};

enum entry_enc {
    ENC_INT = 0,
    ENC_EMBSTR = 1,
    ENC_RAWEMB = 2,
    ENC_BLOB = 3,
    ENC_OBJ = 4, /* first encoding of non-string types; types/ refine it */
};

#define ENTRY_F_EXPIRE 0x01
#define ENTRY_F_MCMETA 0x02     /* memcached block: client flags + CAS */
#define ENTRY_F_MC_FETCHED 0x04 /* memcached: read since stored */
#define ENTRY_F_MC_WON 0x08     /* memcached: recache token handed out */
#define ENTRY_F_MC_STALE 0x10   /* memcached: marked stale */
#define ENTRY_F_MC_BINKEY 0x20  /* memcached: key given in base64 (meta b) */
#define ENTRY_MC_STATE (ENTRY_F_MC_FETCHED | ENTRY_F_MC_WON | ENTRY_F_MC_STALE | ENTRY_F_MC_BINKEY)

/* Bytes of the optional blocks before the key: expire (12), memcached (12). */
#define ENTRY_EXPIRE_BLOCK 12
#define ENTRY_MC_BLOCK 12

/* Longest string value kept inside the entry; longer ones go to a blob. */
#define ENTRY_EMB_MAX 512

struct entry {
    struct htab_node node;
    uint8_t te;    /* type (low 4 bits) | encoding << 4 */
    uint8_t flags; /* ENTRY_F_* */
    uint8_t lru[3];
    uint8_t data[];
};

/* A big string value, refcounted so that replies can hold it unlocked. */
struct blob {
    _Atomic uint32_t refs;
    uint32_t pad;
    size_t len;
    size_t cap;
    char data[];
};

struct blob *blob_new(const char *p, size_t len, size_t cap);
static inline void blob_ref(struct blob *b) { atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); }
void blob_unref(struct blob *b);
/* For obuf ref nodes. */
void blob_release_cb(void *b);

/* ---- fields -------------------------------------------------------------- */

static inline enum entry_type entry_type(const struct entry *e) { return (enum entry_type)(e->te & 15); }
static inline int entry_enc(const struct entry *e) { return e->te >> 4; }
static inline void entry_set_enc(struct entry *e, int enc) { e->te = (uint8_t)((e->te & 15) | (enc << 4)); }
static inline bool entry_has_expire(const struct entry *e) { return (e->flags & ENTRY_F_EXPIRE) != 0; }

static inline int64_t entry_expire(const struct entry *e) {
    int64_t t = -1;
    if (e->flags & ENTRY_F_EXPIRE) memcpy(&t, e->data, sizeof(t));
    return t;
}
static inline void entry_store_expire(struct entry *e, int64_t when) { memcpy(e->data, &when, sizeof(when)); }
static inline uint32_t entry_vidx(const struct entry *e) {
    uint32_t v;
    memcpy(&v, e->data + 8, sizeof(v));
    return v;
}
static inline void entry_set_vidx(struct entry *e, uint32_t v) { memcpy(e->data + 8, &v, sizeof(v)); }

static inline uint32_t entry_lru(const struct entry *e) {
    return (uint32_t)e->lru[0] | ((uint32_t)e->lru[1] << 8) | ((uint32_t)e->lru[2] << 16);
}
static inline void entry_set_lru(struct entry *e, uint32_t v) {
    e->lru[0] = (uint8_t)v;
    e->lru[1] = (uint8_t)(v >> 8);
    e->lru[2] = (uint8_t)(v >> 16);
}

/* Varints: 7 bits per byte, little-endian groups, high bit = more. */
static inline size_t varint_len(size_t v) {
    size_t n = 1;
    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline size_t varint_put(uint8_t *p, size_t v) {
    size_t n = 0;
    while (v >= 128) {
        p[n++] = (uint8_t)(v | 128);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static inline size_t varint_get(const uint8_t *p, size_t *v) {
    if (LIKELY(p[0] < 128)) {
        *v = p[0];
        return 1;
    }
    size_t r = 0, n = 0;
    int shift = 0;
    do {
        r |= (size_t)(p[n] & 127) << shift;
        shift += 7;
    } while (p[n++] & 128);
    *v = r;
    return n;
}

/* Size of the optional blocks given the flags: one table load, as cheap
 * as the expire-only test it replaces (this is on the path of every key
 * comparison). */
static inline size_t entry_blocks_size(unsigned flags) {
    static const uint8_t sizes[4] = {0, ENTRY_EXPIRE_BLOCK, ENTRY_MC_BLOCK, ENTRY_EXPIRE_BLOCK + ENTRY_MC_BLOCK};
    return sizes[flags & (ENTRY_F_EXPIRE | ENTRY_F_MCMETA)];
}

static inline const uint8_t *entry_keyp(const struct entry *e) { return e->data + entry_blocks_size(e->flags); }

/* ---- memcached metadata ---------------------------------------------------- */

/* A memcached item's client flags and CAS (0: none assigned). */
struct entry_mc {
    uint32_t flags;
    uint64_t cas;
};

static inline bool entry_has_mc(const struct entry *e) { return (e->flags & ENTRY_F_MCMETA) != 0; }
static inline uint8_t *entry_mcp(const struct entry *e) {
    return (uint8_t *)e->data + ((e->flags & ENTRY_F_EXPIRE) ? ENTRY_EXPIRE_BLOCK : 0);
}
/* The entry's memcached metadata ({0, 0} without a block). */
static inline struct entry_mc entry_mc_get(const struct entry *e) {
    struct entry_mc mc = {0, 0};
    if (e->flags & ENTRY_F_MCMETA) {
        const uint8_t *p = entry_mcp(e);
        memcpy(&mc.flags, p, 4);
        memcpy(&mc.cas, p + 4, 8);
    }
    return mc;
}
/* Overwrite the block in place (the entry must have one). */
static inline void entry_mc_store(struct entry *e, const struct entry_mc *mc) {
    uint8_t *p = entry_mcp(e);
    memcpy(p, &mc->flags, 4);
    memcpy(p + 4, &mc->cas, 8);
}
/* Forget the CAS (a value change); no-op without a block. */
static inline void entry_mc_forget_cas(struct entry *e) {
    if (e->flags & ENTRY_F_MCMETA) memset(entry_mcp(e) + 4, 0, 8);
}
/* The key's bytes and length. */
static inline const char *entry_key(const struct entry *e, size_t *len) {
    const uint8_t *p = entry_keyp(e);
    size_t n = varint_get(p, len);
    return (const char *)p + n;
}
/* Start of the value area. */
static inline uint8_t *entry_valp(const struct entry *e) {
    size_t klen;
    const char *k = entry_key(e, &klen);
    return (uint8_t *)k + klen;
}

static inline bool entry_key_eq(const struct entry *e, const char *key, size_t len) {
    size_t klen;
    const char *k = entry_key(e, &klen);
    return klen == len && memcmp(k, key, len) == 0;
}

/* ---- string values -------------------------------------------------------- */

/* A string value seen from outside: either bytes or an integer. */
struct strval {
    const char *ptr; /* NULL when the value is an integer (see ll) */
    size_t len;
    long long ll;
    struct blob *blob; /* set when ptr points into a blob */
};

/* Read a string entry's value. */
void entry_str_get(const struct entry *e, struct strval *v);
/* Text form of the value in buf (ints formatted); returns pointer+len. */
const char *entry_str_bytes(const struct entry *e, char *buf, size_t *len);
size_t entry_str_len(const struct entry *e);

/* ---- construction ------------------------------------------------------- */

/* New string entry; integers are detected and stored as ENC_INT unless
 * `no_int`. expire < 0: none. */
struct entry *entry_new_str(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire,
                            bool no_int);
struct entry *entry_new_int(const char *key, size_t klen, long long v, int64_t expire);
/* A string entry as entry_new_str (integers detected), with a memcached
 * block holding *mc when mc is not NULL. */
struct entry *entry_new_str_mc(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire,
                               const struct entry_mc *mc);
/* An entry holding a pointer value of another type. */
struct entry *entry_new_obj(const char *key, size_t klen, enum entry_type type, int enc, void *obj,
                            int64_t expire);
static inline void *entry_obj(const struct entry *e) {
    void *p;
    memcpy(&p, entry_valp(e), sizeof(p));
    return p;
}
static inline void entry_set_obj(struct entry *e, void *obj) { memcpy(entry_valp(e), &obj, sizeof(obj)); }

/* Bytes of the value area (inline string with its length, int, or pointer). */
size_t entry_value_size(const struct entry *e);
/* A copy of e (same key and metadata) with expiry `expire` (< 0: none) and
 * room for vbytes of value, of which the first copy_bytes are copied from
 * e; *valp points at the value area. The caller frees e with xfree() alone
 * (whatever the value points to moves to the new entry). */
struct entry *entry_rebuild(const struct entry *e, int64_t expire, size_t vbytes, size_t copy_bytes,
                            uint8_t **valp);

/* A copy of e (same key, value and expiry) whose memcached block holds *mc:
 * the block is added when e has none, dropped when mc is NULL. The value
 * moves to the new entry: free e with xfree() alone. */
struct entry *entry_with_mc(const struct entry *e, const struct entry_mc *mc);

/* Same value and metadata under another key (RENAME): the value moves to
 * the new entry, so free the old one with xfree() alone. */
struct entry *entry_rekey(const struct entry *e, const char *key, size_t klen, int64_t expire);

/* Bytes this entry holds (allocation, blob, not the object of other types). */
size_t entry_mem(const struct entry *e);

/* Operations of the non-string types (types/ registers them at setup). */
struct type_ops {
    const char *name;                 /* TYPE's reply: "list", "hash", ... */
    void (*free)(void *obj);
    void *(*dup)(const void *obj);    /* deep copy (COPY) */
    size_t (*mem)(const void *obj);   /* bytes held (MEMORY USAGE, eviction) */
    const char *(*enc_name)(const void *obj, int enc); /* OBJECT ENCODING */
    /* DEBUG DIGEST(-VALUE): mix the value's elements into `digest` as Redis
     * 7.0 does for this type (see base/digest.h). NULL: the value adds
     * nothing beyond its type. */
    void (*digest)(const void *obj, unsigned char digest[20]);
};
void entry_register_type(enum entry_type t, const struct type_ops *ops);
const struct type_ops *entry_type_ops(enum entry_type t);
/* "string", "list", ... */
const char *entry_type_name(const struct entry *e);
/* OBJECT ENCODING's name for the value. */
const char *entry_enc_name(const struct entry *e);

/* Free only the entry block and its blob (the object, if any, stays). */
void entry_free_shell(struct entry *e);
/* Free the entry and whatever its value holds. */
void entry_free(struct entry *e);
/* A deep copy of the value under another key (COPY). */
struct entry *entry_dup(const struct entry *e, const char *key, size_t klen, int64_t expire);

#endif

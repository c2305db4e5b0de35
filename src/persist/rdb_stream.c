/*
 * persist/rdb_stream.c - streams in RDB files and DUMP payloads.
 *
 * Written: RDB_TYPE_STREAM_LISTPACKS_2 (19), what Redis 7.0 writes:
 *
 *   <nodes: len> { <master ID: 16-byte string> <listpack: string> } ...
 *   <length> <last ID: ms, seq> <first ID: ms, seq> <max deleted ID: ms, seq>
 *   <entries added>
 *   <groups: len> {
 *       <name: string> <last ID: ms, seq> <entries read: len (-1 as 2^64-1)>
 *       <PEL: len> { <ID: 16 raw bytes BE> <delivery time: ms i64 LE> <count: len> } ...
 *       <consumers: len> {
 *           <name: string> <seen time: ms> <PEL: len> { <ID: 16 raw bytes> } ...
 *       } ...
 *   } ...
 *
 *   (all numbers are RDB lengths unless noted). Nodes are copied as they
 *   are stored (types/stream.h keeps Redis's listpack layout).
 *
 * Read: types 15 (Redis 5 to 6.2: no first / max deleted ID, entries added
 *   or entries read; they are derived as Redis derives them), 19, and 21
 *   (Redis 7.2: each consumer also has an active time, which Stash, with
 *   Redis 7.0's single seen time, reads and drops).
 *
 * Validation: every payload is untrusted and checked deeply (RESTORE and
 *   files alike), as Redis's sanitize-dump-payload yes, plus what Stash's
 *   stream code relies on, so that no later command can meet a broken
 *   stream:
 *   - each node: a 16-byte master ID, a listpack whose every entry has the
 *     stream layout (stream_validate_node, deep), at least one entry, live
 *     and deleted counts matching the entries' flags;
 *   - IDs: strictly increasing across the whole stream (tombstones
 *     included), a node's entries at or above its master ID and above the
 *     previous node's entries; the stream's length equal to its live
 *     entries; the last ID at or above the last live entry;
 *   - groups: distinct names; PEL IDs distinct; every consumer's PEL ID is
 *     in its group's PEL and owned by that consumer only; no NACK left
 *     without a consumer.
 *   A failure names the reason in Redis's words where Redis has them.
 *
 * Thread context: the saver runs [stripe-locked] on the key's entry; the
 *   loader is [any] on a fresh stream that nobody else sees.
 */
#include "base/alloc.h"
#include "base/str.h"
#include "ds/listpack.h"
#include "ds/radix.h"
#include "persist/rdb.h"
#include "types/stream.h"

#include <string.h>

/* ---- saving ---------------------------------------------------------------------------------- */

static int stream_type(const struct entry *e) {
    UNUSED(e);
    return RDB_TYPE_STREAM_LISTPACKS_2;
}

static void put_id(struct buf *b, const struct stream_id *id) {
    rdb_put_len(b, id->ms);
    rdb_put_len(b, id->seq);
}

/* A PEL: its size, then each ID (raw 16 bytes) and, for a group's PEL,
 * the NACK's delivery time and count. */
static void put_pel(struct buf *b, struct radix *pel, bool nacks) {
    rdb_put_len(b, radix_size(pel));
    struct radix_iter ri;
    radix_iter_init(&ri, pel);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        buf_append(b, ri.key, STREAM_ID_BYTES);
        if (nacks) {
            const struct stream_nack *n = ri.value;
            rdb_put_ms(b, n->delivery_time);
            rdb_put_len(b, n->delivery_count);
        }
    }
    radix_iter_release(&ri);
}

static void put_group(struct buf *b, const unsigned char *name, size_t len, struct stream_cg *cg, bool compress) {
    rdb_put_string(b, name, len, compress);
    put_id(b, &cg->last_id);
    rdb_put_len(b, (uint64_t)cg->entries_read);
    put_pel(b, cg->pel, true);
    rdb_put_len(b, radix_size(cg->consumers));
    struct radix_iter ci;
    radix_iter_init(&ci, cg->consumers);
    radix_seek(&ci, RADIX_FIRST, NULL, 0);
    while (radix_next(&ci)) {
        struct stream_consumer *c = ci.value;
        rdb_put_string(b, ci.key, ci.key_len, compress);
        rdb_put_ms(b, c->seen_time);
        put_pel(b, c->pel, false);
    }
    radix_iter_release(&ci);
}

static void stream_value(struct buf *b, const struct entry *e, bool compress) {
    struct stream *s = entry_obj(e);
    rdb_put_len(b, radix_size(s->rax));
    struct stream_node_iter it;
    const unsigned char *key, *lp;
    size_t n;
    stream_nodes_start(&it, s);
    while (stream_nodes_next(&it, &key, &lp, &n)) {
        rdb_put_string(b, key, STREAM_ID_BYTES, compress);
        rdb_put_string(b, lp, n, compress);
    }
    stream_nodes_stop(&it);
    rdb_put_len(b, s->length);
    put_id(b, &s->last_id);
    put_id(b, &s->first_id);
    put_id(b, &s->max_deleted_id);
    rdb_put_len(b, s->entries_added);
    rdb_put_len(b, stream_cg_count(s));
    if (stream_cg_count(s) == 0) return;
    struct radix_iter gi;
    radix_iter_init(&gi, s->cgroups);
    radix_seek(&gi, RADIX_FIRST, NULL, 0);
    while (radix_next(&gi)) put_group(b, gi.key, gi.key_len, gi.value, compress);
    radix_iter_release(&gi);
}

/* ---- node checks (on a listpack stream_validate_node accepted) ------------------------------ */

/* An integer element (validated: it is one). */
static int64_t elem_int(const unsigned char *p) {
    size_t len;
    long long v;
    const unsigned char *s = lp_get(p, &len, &v);
    if (s != NULL && !str_to_ll((const char *)s, len, &v)) v = 0;
    return v;
}

/* What the walk over all nodes carries from one node to the next. */
struct walk {
    struct stream_id prev; /* the last entry seen (tombstones included) */
    bool have_prev;
    struct stream_id last_live;
    bool have_live;
    uint64_t live; /* live entries so far */
};

/* Check one node's counts and IDs against its master key and the nodes
 * before it. */
static bool check_node(struct rdb_reader *r, const unsigned char key[STREAM_ID_BYTES], unsigned char *lp,
                       struct walk *w) {
    struct stream_id master;
    stream_id_decode(key, &master);
    if (w->have_prev && stream_id_cmp(&master, &w->prev) <= 0)
        return rdb_fail(r, "Stream node master ID is not above the previous node's entries");
    unsigned char *p = lp_first(lp);
    int64_t live = elem_int(p), dead = elem_int(p = lp_next(lp, p)), mf = elem_int(p = lp_next(lp, p));
    p = lp_next(lp, p);
    for (int64_t i = 0; i < mf; i++) p = lp_next(lp, p); /* master fields */
    p = lp_next(lp, p);                                  /* the master's trailing 0 */
    if (p == NULL) return rdb_fail(r, "Stream node without entries");
    int64_t seen_live = 0, seen_dead = 0;
    bool first = true;
    while (p != NULL) {
        int64_t flags = elem_int(p);
        struct stream_id id;
        p = lp_next(lp, p);
        id.ms = master.ms + (uint64_t)elem_int(p);
        p = lp_next(lp, p);
        id.seq = master.seq + (uint64_t)elem_int(p);
        p = lp_next(lp, p);
        if ((first && stream_id_cmp(&id, &master) < 0) || (w->have_prev && stream_id_cmp(&id, &w->prev) <= 0))
            return rdb_fail(r, "Stream entry IDs are not in increasing order");
        first = false;
        w->prev = id;
        w->have_prev = true;
        if (flags & STREAM_FLAG_DELETED) {
            seen_dead++;
        } else {
            seen_live++;
            w->last_live = id;
            w->have_live = true;
        }
        int64_t skip = mf;
        if (!(flags & STREAM_FLAG_SAMEFIELDS)) {
            skip = 2 * elem_int(p);
            p = lp_next(lp, p);
        }
        for (int64_t i = 0; i < skip; i++) p = lp_next(lp, p);
        p = lp_next(lp, p); /* lp-count */
    }
    if (seen_live != live || seen_dead != dead) return rdb_fail(r, "Stream node entry counts are inconsistent");
    w->live += (uint64_t)live;
    return true;
}

/* ---- loading --------------------------------------------------------------------------------- */

static bool read_id(struct rdb_reader *r, struct stream_id *id) {
    return rdb_read_plain_len(r, &id->ms) && rdb_read_plain_len(r, &id->seq);
}

/* The nodes: master key, listpack, checks, into s. */
static bool load_nodes(struct rdb_reader *r, struct stream *s, struct walk *w) {
    uint64_t nodes;
    if (!rdb_read_plain_len(r, &nodes)) return false;
    while (nodes--) {
        char *key, *blob;
        size_t klen, size;
        if (!rdb_read_string(r, &key, &klen)) return false;
        if (klen != STREAM_ID_BYTES) {
            xfree(key);
            return rdb_fail(r, "Stream node key entry is not the size of a stream ID");
        }
        if (!rdb_read_string(r, &blob, &size)) {
            xfree(key);
            return false;
        }
        unsigned char *lp = (unsigned char *)blob; /* xmalloc'ed: the stream may grow it */
        bool ok = true;
        if (!stream_validate_node(lp, size, true))
            ok = rdb_fail(r, "Stream listpack integrity check failed.");
        else if (lp_first(lp) == NULL)
            ok = rdb_fail(r, "Empty listpack inside stream");
        else if (!check_node(r, (unsigned char *)key, lp, w))
            ok = false;
        else if (!stream_load_node(s, (unsigned char *)key, lp))
            ok = rdb_fail(r, "Listpack re-added with existing key");
        xfree(key);
        if (!ok) {
            xfree(blob);
            return false;
        }
    }
    return true;
}

/* A group's PEL with its NACKs (no owners yet). */
static bool load_group_pel(struct rdb_reader *r, struct stream_cg *cg) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return false;
    while (n--) {
        unsigned char raw[STREAM_ID_BYTES];
        int64_t when;
        uint64_t count;
        if (!rdb_read(r, raw, sizeof(raw)) || !rdb_read_ms(r, &when) || !rdb_read_plain_len(r, &count))
            return false;
        struct stream_id id;
        stream_id_decode(raw, &id);
        if (stream_pel_find(cg, &id) != NULL)
            return rdb_fail(r, "Duplicated global PEL entry loading stream consumer group");
        struct stream_nack *nack = stream_pel_add(cg, &id, when);
        nack->delivery_count = count;
    }
    return true;
}

/* The consumers, each taking its NACKs from the group's PEL. */
static bool load_consumers(struct rdb_reader *r, int t, struct stream_cg *cg) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return false;
    while (n--) {
        char *name;
        size_t len;
        int64_t seen, active;
        if (!rdb_read_string(r, &name, &len)) return false;
        bool ok = rdb_read_ms(r, &seen) && (t != RDB_TYPE_STREAM_LISTPACKS_3 || rdb_read_ms(r, &active));
        struct stream_consumer *c = ok ? stream_consumer_create(cg, name, len, seen) : NULL;
        xfree(name);
        if (!ok) return false;
        if (c == NULL) return rdb_fail(r, "Duplicate stream consumer detected.");
        uint64_t pel;
        if (!rdb_read_plain_len(r, &pel)) return false;
        while (pel--) {
            unsigned char raw[STREAM_ID_BYTES];
            if (!rdb_read(r, raw, sizeof(raw))) return false;
            struct stream_id id;
            stream_id_decode(raw, &id);
            struct stream_nack *nack = stream_pel_find(cg, &id);
            if (nack == NULL) return rdb_fail(r, "Consumer entry not found in group global PEL");
            if (nack->consumer == c)
                return rdb_fail(r, "Duplicated consumer PEL entry loading a stream consumer group");
            if (nack->consumer != NULL) return rdb_fail(r, "Stream PEL entry owned by two consumers");
            stream_pel_assign(nack, &id, c);
        }
    }
    /* Every NACK got its consumer. */
    struct radix_iter ri;
    bool orphan = false;
    radix_iter_init(&ri, cg->pel);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (!orphan && radix_next(&ri)) orphan = ((struct stream_nack *)ri.value)->consumer == NULL;
    radix_iter_release(&ri);
    return orphan ? rdb_fail(r, "Stream CG PEL entry without consumer") : true;
}

static bool load_groups(struct rdb_reader *r, int t, struct stream *s) {
    uint64_t n;
    if (!rdb_read_plain_len(r, &n)) return false;
    while (n--) {
        char *name;
        size_t len;
        struct stream_id last;
        uint64_t read = 0;
        if (!rdb_read_string(r, &name, &len)) return false;
        bool ok = read_id(r, &last);
        if (ok && t != RDB_TYPE_STREAM_LISTPACKS) ok = rdb_read_plain_len(r, &read);
        long long entries_read = t == RDB_TYPE_STREAM_LISTPACKS ? stream_estimate_distance(s, &last) : (long long)read;
        struct stream_cg *cg = ok ? stream_cg_create(s, name, len, &last, entries_read) : NULL;
        if (ok && cg == NULL) rdb_fail(r, "Duplicated consumer group name %.*s", (int)MIN(len, (size_t)64), name);
        xfree(name);
        if (cg == NULL) return false;
        if (!load_group_pel(r, cg) || !load_consumers(r, t, cg)) return false;
    }
    return true;
}

static struct entry *load_stream(struct rdb_reader *r, int t, const char *key, size_t klen, int64_t expire,
                                 bool *empty) {
    UNUSED(empty); /* an empty stream is a stream (Redis keeps it too) */
    struct stream *s = stream_new();
    struct walk w = {0};
    if (!load_nodes(r, s, &w)) goto fail;
    if (!rdb_read_plain_len(r, &s->length) || !read_id(r, &s->last_id)) goto fail;
    if (t == RDB_TYPE_STREAM_LISTPACKS) {
        /* Redis <= 6.2 kept none of these: derived as Redis 7 does. */
        s->max_deleted_id = (struct stream_id){0, 0};
        s->entries_added = s->length;
        stream_edge_id(s, true, true, &s->first_id);
    } else if (!read_id(r, &s->first_id) || !read_id(r, &s->max_deleted_id) ||
               !rdb_read_plain_len(r, &s->entries_added)) {
        goto fail;
    }
    if (s->length != w.live) {
        rdb_fail(r, "Stream length inconsistent with rax entries");
        goto fail;
    }
    if (w.have_live && stream_id_cmp(&s->last_id, &w.last_live) < 0) {
        rdb_fail(r, "Stream last ID is smaller than its last entry");
        goto fail;
    }
    if (!load_groups(r, t, s)) goto fail;
    return entry_new_obj(key, klen, TYPE_STREAM, ENC_OBJ, s, expire);
fail:
    stream_free(s);
    return NULL;
}

void rdb_stream_setup(void);
void rdb_stream_setup(void) {
    static const struct rdb_saver saver = {stream_type, stream_value};
    rdb_register_saver(TYPE_STREAM, &saver);
    rdb_register_loader(RDB_TYPE_STREAM_LISTPACKS, load_stream);
    rdb_register_loader(RDB_TYPE_STREAM_LISTPACKS_2, load_stream);
    rdb_register_loader(RDB_TYPE_STREAM_LISTPACKS_3, load_stream);
}

/*
 * types/stream_cg.c - consumer groups of a stream (see stream.h for the
 * structures): groups, consumers, pending-entry lists (PEL), and Redis
 * 7.0's logical read counters from which XINFO reports entries-read and
 * lag.
 *
 * Ownership: a group owns its NACKs (group PEL) and its consumers; a
 *   consumer's PEL points at the group's NACKs, so every NACK is in exactly
 *   two trees (the group's and its owner's) except during XCLAIM FORCE,
 *   where a fresh NACK has no owner until it is assigned.
 *
 * Thread context: none of its own; the caller holds the key's stripe lock.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "types/stream.h"
#include "types/stream_int.h"

#include <string.h>

/* ---- life cycle ------------------------------------------------------------------------------ */

static void nack_free(void *n) { xfree(n); }

static void consumer_free(void *p) {
    struct stream_consumer *c = p;
    radix_free(c->pel, NULL); /* the NACKs belong to the group */
    xfree(c);
}

static void cg_free(void *p) {
    struct stream_cg *cg = p;
    radix_free(cg->pel, nack_free);
    radix_free(cg->consumers, consumer_free);
    xfree(cg);
}

void stream_cgroups_free(struct radix *cgroups) { radix_free(cgroups, cg_free); }

static struct stream_consumer *consumer_new(const char *name, size_t len, int64_t seen) {
    struct stream_consumer *c = xmalloc(sizeof(*c) + len);
    c->seen_time = seen;
    c->pel = radix_new();
    c->name_len = len;
    memcpy(c->name, name, len);
    return c;
}

/* The copy of one group: NACKs first, then each consumer takes back its
 * own from the new group's PEL. */
static void cg_copy(struct stream_cg *to, struct stream_cg *from) {
    struct radix_iter ri;
    radix_iter_init(&ri, from->pel);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_nack *n = ri.value, *m = xmalloc(sizeof(*m));
        *m = *n;
        m->consumer = NULL;
        radix_insert(to->pel, ri.key, ri.key_len, m, NULL);
    }
    radix_iter_release(&ri);
    radix_iter_init(&ri, from->consumers);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_consumer *c = ri.value;
        struct stream_consumer *d = consumer_new(c->name, c->name_len, c->seen_time);
        radix_insert(to->consumers, d->name, d->name_len, d, NULL);
        struct radix_iter pi;
        radix_iter_init(&pi, c->pel);
        radix_seek(&pi, RADIX_FIRST, NULL, 0);
        while (radix_next(&pi)) {
            void *m = NULL;
            ASSERT(radix_find(to->pel, pi.key, pi.key_len, &m));
            ((struct stream_nack *)m)->consumer = d;
            radix_insert(d->pel, pi.key, pi.key_len, m, NULL);
        }
        radix_iter_release(&pi);
    }
    radix_iter_release(&ri);
}

void stream_cgroups_dup(struct stream *dst, const struct stream *src) {
    struct radix_iter ri;
    radix_iter_init(&ri, src->cgroups);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_cg *cg = ri.value;
        struct stream_cg *copy = stream_cg_create(dst, (const char *)ri.key, ri.key_len, &cg->last_id,
                                                  cg->entries_read);
        cg_copy(copy, cg);
    }
    radix_iter_release(&ri);
    if (dst->cgroups == NULL) dst->cgroups = radix_new(); /* an empty tree stays a tree */
}

size_t stream_cgroups_mem(const struct radix *cgroups) {
    size_t n = radix_mem(cgroups);
    struct radix_iter ri, ci;
    radix_iter_init(&ri, (struct radix *)cgroups);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        struct stream_cg *cg = ri.value;
        n += sizeof(*cg) + radix_mem(cg->pel) + radix_size(cg->pel) * sizeof(struct stream_nack) +
             radix_mem(cg->consumers);
        radix_iter_init(&ci, cg->consumers);
        radix_seek(&ci, RADIX_FIRST, NULL, 0);
        while (radix_next(&ci)) {
            struct stream_consumer *c = ci.value;
            n += sizeof(*c) + c->name_len + radix_mem(c->pel);
        }
        radix_iter_release(&ci);
    }
    radix_iter_release(&ri);
    return n;
}

/* ---- groups and consumers -------------------------------------------------------------------- */

struct stream_cg *stream_cg_find(const struct stream *s, const char *name, size_t len) {
    void *v;
    if (s->cgroups == NULL || !radix_find(s->cgroups, name, len, &v)) return NULL;
    return v;
}

struct stream_cg *stream_cg_create(struct stream *s, const char *name, size_t len,
                                   const struct stream_id *last_id, long long entries_read) {
    if (s->cgroups == NULL) s->cgroups = radix_new();
    if (radix_find(s->cgroups, name, len, NULL)) return NULL;
    struct stream_cg *cg = xmalloc(sizeof(*cg));
    cg->last_id = *last_id;
    cg->entries_read = entries_read;
    cg->pel = radix_new();
    cg->consumers = radix_new();
    radix_insert(s->cgroups, name, len, cg, NULL);
    return cg;
}

bool stream_cg_destroy(struct stream *s, const char *name, size_t len) {
    void *cg;
    if (s->cgroups == NULL || !radix_remove(s->cgroups, name, len, &cg)) return false;
    cg_free(cg);
    return true;
}

struct stream_consumer *stream_consumer_find(struct stream_cg *cg, const char *name, size_t len) {
    void *v;
    return radix_find(cg->consumers, name, len, &v) ? v : NULL;
}

struct stream_consumer *stream_consumer_create(struct stream_cg *cg, const char *name, size_t len,
                                               int64_t now_ms) {
    if (radix_find(cg->consumers, name, len, NULL)) return NULL;
    struct stream_consumer *c = consumer_new(name, len, now_ms);
    radix_insert(cg->consumers, name, len, c, NULL);
    return c;
}

uint64_t stream_consumer_delete(struct stream_cg *cg, struct stream_consumer *c) {
    uint64_t pending = radix_size(c->pel);
    struct radix_iter ri;
    radix_iter_init(&ri, c->pel);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) {
        void *n;
        if (radix_remove(cg->pel, ri.key, ri.key_len, &n)) nack_free(n);
    }
    radix_iter_release(&ri);
    radix_remove(cg->consumers, c->name, c->name_len, NULL);
    consumer_free(c);
    return pending;
}

/* ---- pending entries ------------------------------------------------------------------------- */

struct stream_nack *stream_pel_find(struct stream_cg *cg, const struct stream_id *id) {
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, id);
    void *v;
    return radix_find(cg->pel, key, sizeof(key), &v) ? v : NULL;
}

struct stream_nack *stream_pel_deliver(struct stream_cg *cg, struct stream_consumer *c,
                                       const struct stream_id *id, int64_t now_ms) {
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, id);
    struct stream_nack *n = xmalloc(sizeof(*n));
    n->delivery_time = now_ms;
    n->delivery_count = 1;
    n->consumer = c;
    void *existing;
    if (radix_try_insert(cg->pel, key, sizeof(key), n, &existing)) {
        radix_insert(c->pel, key, sizeof(key), n, NULL);
        return n;
    }
    /* Delivered before (XGROUP SETID moved the group back): the entry is
     * now this consumer's, as a first delivery. */
    nack_free(n);
    n = existing;
    if (n->consumer) radix_remove(n->consumer->pel, key, sizeof(key), NULL);
    n->consumer = c;
    n->delivery_time = now_ms;
    n->delivery_count = 1;
    radix_insert(c->pel, key, sizeof(key), n, NULL);
    return n;
}

struct stream_nack *stream_pel_add(struct stream_cg *cg, const struct stream_id *id, int64_t now_ms) {
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, id);
    struct stream_nack *n = xmalloc(sizeof(*n));
    n->delivery_time = now_ms;
    n->delivery_count = 1;
    n->consumer = NULL;
    ASSERT(radix_try_insert(cg->pel, key, sizeof(key), n, NULL));
    return n;
}

void stream_pel_assign(struct stream_nack *n, const struct stream_id *id, struct stream_consumer *c) {
    if (n->consumer == c) return;
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, id);
    if (n->consumer) radix_remove(n->consumer->pel, key, sizeof(key), NULL);
    radix_insert(c->pel, key, sizeof(key), n, NULL);
    n->consumer = c;
}

bool stream_pel_remove(struct stream_cg *cg, const struct stream_id *id) {
    unsigned char key[STREAM_ID_BYTES];
    stream_id_encode(key, id);
    void *v;
    if (!radix_remove(cg->pel, key, sizeof(key), &v)) return false;
    struct stream_nack *n = v;
    if (n->consumer) radix_remove(n->consumer->pel, key, sizeof(key), NULL);
    nack_free(n);
    return true;
}

/* ---- read counters and lag (Redis 7.0) ------------------------------------------------------- */

bool stream_range_has_tombstones(const struct stream *s, const struct stream_id *start,
                                 const struct stream_id *end) {
    if (s->length == 0 || stream_id_is_zero(&s->max_deleted_id)) return false;
    /* The last tombstone is older than the first live entry. */
    if (stream_id_cmp(&s->first_id, &s->max_deleted_id) > 0) return false;
    struct stream_id lo = start ? *start : (struct stream_id){0, 0};
    struct stream_id hi = end ? *end : (struct stream_id){UINT64_MAX, UINT64_MAX};
    return stream_id_cmp(&lo, &s->max_deleted_id) <= 0 && stream_id_cmp(&s->max_deleted_id, &hi) <= 0;
}

/* The number of entries added up to and including id, when it can be told:
 * id is the last ID, or the first entry / before it on a stream without
 * tombstones past its start, or nothing was ever added. */
long long stream_estimate_distance(const struct stream *s, const struct stream_id *id) {
    if (s->entries_added == 0) return 0;
    int cmp_last = stream_id_cmp(id, &s->last_id);
    if (s->length == 0 && cmp_last < 1) return (long long)s->entries_added;
    if (cmp_last == 0) return (long long)s->entries_added;
    if (cmp_last > 0) return STREAM_ENTRIES_READ_INVALID; /* a future ID */
    int cmp_first = stream_id_cmp(id, &s->first_id);
    if (stream_id_is_zero(&s->max_deleted_id) || stream_id_cmp(&s->max_deleted_id, &s->first_id) < 0) {
        if (cmp_first < 0) return (long long)(s->entries_added - s->length);
        if (cmp_first == 0) return (long long)(s->entries_added - s->length + 1);
    }
    return STREAM_ENTRIES_READ_INVALID;
}

bool stream_cg_lag(const struct stream *s, const struct stream_cg *cg, long long *lag) {
    if (s->entries_added == 0) {
        *lag = 0;
        return true;
    }
    if (cg->entries_read != STREAM_ENTRIES_READ_INVALID &&
        !stream_range_has_tombstones(s, &cg->last_id, NULL)) {
        *lag = (long long)s->entries_added - cg->entries_read;
        return true;
    }
    long long read = stream_estimate_distance(s, &cg->last_id);
    if (read == STREAM_ENTRIES_READ_INVALID) return false;
    *lag = (long long)s->entries_added - read;
    return true;
}

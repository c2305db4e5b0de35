/*
 * types/stream.c - stream entries: IDs, appending, reading, XDEL
 * tombstones, trimming, and the node-level view used by snapshots. The
 * layout is described in stream.h; consumer groups live in stream_cg.c.
 *
 * Walking a node: elements are read with lp_next/lp_prev. Forward, the
 *   iterator keeps `cur` (the next unread element of the entry it returned)
 *   and `left` (how many unread fields/values remain before the entry's
 *   lp-count), so reading the pairs and stepping on share one walk.
 *   Backward, `back` is the lp-count element of the entry after the next one
 *   to return: reading its value and stepping back that many elements lands
 *   on that entry's flags; the master's trailing 0 ends the node.
 *
 * Sizes: s->lp_bytes follows every change of a listpack (MEMORY USAGE and
 *   the lazy-free threshold read it in O(1) with the trees' own counters).
 *
 * Thread context: none of its own; the caller holds the key's stripe lock.
 */
#include "types/stream.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/digest.h"
#include "base/str.h"
#include "types/stream_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The preallocation of a new node, capped by stream-node-max-bytes. */
#define NODE_PREALLOC 4096

static _Atomic long long node_max_bytes = STREAM_DEFAULT_NODE_MAX_BYTES;
static _Atomic long long node_max_entries = STREAM_DEFAULT_NODE_MAX_ENTRIES;

void stream_set_node_limits(long long max_bytes, long long max_entries) {
    atomic_store_explicit(&node_max_bytes, max_bytes, memory_order_relaxed);
    atomic_store_explicit(&node_max_entries, max_entries, memory_order_relaxed);
}

long long stream_node_max_entries(void) {
    return atomic_load_explicit(&node_max_entries, memory_order_relaxed);
}

/* ---- IDs ------------------------------------------------------------------------------------- */

int stream_id_cmp(const struct stream_id *a, const struct stream_id *b) {
    if (a->ms != b->ms) return a->ms > b->ms ? 1 : -1;
    if (a->seq != b->seq) return a->seq > b->seq ? 1 : -1;
    return 0;
}

bool stream_id_incr(struct stream_id *id) {
    if (id->seq != UINT64_MAX) {
        id->seq++;
        return true;
    }
    if (id->ms != UINT64_MAX) {
        id->ms++;
        id->seq = 0;
        return true;
    }
    id->ms = id->seq = 0;
    return false;
}

bool stream_id_decr(struct stream_id *id) {
    if (id->seq != 0) {
        id->seq--;
        return true;
    }
    if (id->ms != 0) {
        id->ms--;
        id->seq = UINT64_MAX;
        return true;
    }
    id->ms = id->seq = UINT64_MAX;
    return false;
}

void stream_id_encode(unsigned char out[STREAM_ID_BYTES], const struct stream_id *id) {
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        out[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

void stream_id_decode(const unsigned char in[STREAM_ID_BYTES], struct stream_id *id) {
    uint64_t ms = 0, seq = 0;
    for (int i = 0; i < 8; i++) {
        ms = ms << 8 | in[i];
        seq = seq << 8 | in[8 + i];
    }
    id->ms = ms;
    id->seq = seq;
}

size_t stream_id_format(char *buf, const struct stream_id *id) {
    int n = ull_to_str(buf, STREAM_ID_STR_MAX, id->ms);
    buf[n++] = '-';
    n += ull_to_str(buf + n, (size_t)(STREAM_ID_STR_MAX - n), id->seq);
    return (size_t)n;
}

/* One number of an ID (NUL-terminated): what Redis's string2ull takes, that
 * is a canonical integer that is not negative, or else whatever strtoull
 * consumes entirely (leading blanks, '+', leading zeros...). */
static bool parse_u64(const char *s, uint64_t *out) {
    size_t n = strlen(s);
    long long ll;
    if (str_to_ll(s, n, &ll)) {
        if (ll < 0) return false;
        *out = (uint64_t)ll;
        return true;
    }
    if (n == 0) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || *end != '\0') return false;
    *out = v;
    return true;
}

bool stream_id_parse(const char *s, size_t len, uint64_t missing_seq, bool strict, bool *seq_given,
                     struct stream_id *out) {
    char buf[128];
    if (len > sizeof(buf) - 1) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0') return false;
    if (seq_given) *seq_given = true;
    if (buf[0] == '-' && buf[1] == '\0') {
        out->ms = out->seq = 0;
        return true;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        out->ms = out->seq = UINT64_MAX;
        return true;
    }
    char *dash = strchr(buf, '-');
    if (dash) *dash = '\0';
    uint64_t ms, seq = missing_seq;
    if (!parse_u64(buf, &ms)) return false;
    if (dash) {
        if (seq_given && dash[1] == '*' && dash[2] == '\0') {
            seq = 0;
            *seq_given = false;
        } else if (!parse_u64(dash + 1, &seq)) {
            return false;
        }
    }
    out->ms = ms;
    out->seq = seq;
    return true;
}

/* ---- listpack helpers ------------------------------------------------------------------------ */

/* An integer element of a node (always integer-encoded in a valid node). */
static int64_t lp_int(const unsigned char *p) {
    size_t len;
    long long v;
    const unsigned char *s = lp_get(p, &len, &v);
    if (s == NULL) return v;
    long long ll;
    ASSERT(str_to_ll((const char *)s, len, &ll));
    return ll;
}

/* Skip n elements forward. */
static unsigned char *lp_skip(unsigned char *lp, unsigned char *p, uint64_t n) {
    while (n-- && p) p = lp_next(lp, p);
    return p;
}

/* The master entry of a node: its fields count and first field. */
static unsigned char *master_fields(unsigned char *lp, uint64_t *count) {
    unsigned char *p = lp_next(lp, lp_next(lp, lp_first(lp))); /* count, deleted, num-fields */
    *count = (uint64_t)lp_int(p);
    return lp_next(lp, p);
}

/* The flags element of the node's first entry (NULL: none). */
static unsigned char *first_entry(unsigned char *lp) {
    uint64_t mf;
    unsigned char *p = master_fields(lp, &mf);
    p = lp_skip(lp, p, mf); /* the master's trailing 0 */
    return lp_next(lp, p);
}

/* The entry at flags element e: its ID and flags; returns the element after
 * the entry's lp-count (the next entry's flags, or NULL). */
static unsigned char *entry_parse(unsigned char *lp, unsigned char *e, const struct stream_id *master,
                                  uint64_t master_nf, struct stream_id *id, int *flags) {
    *flags = (int)lp_int(e);
    unsigned char *p = lp_next(lp, e);
    id->ms = master->ms + (uint64_t)lp_int(p);
    p = lp_next(lp, p);
    id->seq = master->seq + (uint64_t)lp_int(p);
    p = lp_next(lp, p);
    uint64_t skip;
    if (*flags & STREAM_FLAG_SAMEFIELDS) {
        skip = master_nf;
    } else {
        skip = 2 * (uint64_t)lp_int(p);
        p = lp_next(lp, p);
    }
    p = lp_skip(lp, p, skip); /* at the lp-count */
    return lp_next(lp, p);
}

/* Replace the integer at *p, keeping s->lp_bytes right. */
static unsigned char *replace_int(struct stream *s, unsigned char *lp, unsigned char **p, long long v) {
    s->lp_bytes -= lp_bytes(lp);
    lp = lp_replace_int(lp, p, v);
    s->lp_bytes += lp_bytes(lp);
    return lp;
}

/* ---- the stream ------------------------------------------------------------------------------ */

struct stream *stream_new(void) {
    struct stream *s = xcalloc(1, sizeof(*s));
    s->rax = radix_new();
    return s;
}

static void free_lp(void *lp) { lp_free(lp); }

void stream_free(void *sp) {
    struct stream *s = sp;
    if (s == NULL) return;
    radix_free(s->rax, free_lp);
    if (s->cgroups) stream_cgroups_free(s->cgroups);
    xfree(s);
}

void *stream_dup(const void *sp) {
    const struct stream *s = sp;
    struct stream *d = stream_new();
    struct radix_iter ri;
    radix_iter_init(&ri, s->rax);
    radix_seek(&ri, RADIX_FIRST, NULL, 0);
    while (radix_next(&ri)) radix_insert(d->rax, ri.key, ri.key_len, lp_dup(ri.value), NULL);
    radix_iter_release(&ri);
    d->length = s->length;
    d->last_id = s->last_id;
    d->first_id = s->first_id;
    d->max_deleted_id = s->max_deleted_id;
    d->entries_added = s->entries_added;
    d->lp_bytes = s->lp_bytes;
    if (s->cgroups) stream_cgroups_dup(d, s);
    return d;
}

size_t stream_mem(const void *sp) {
    const struct stream *s = sp;
    size_t n = sizeof(*s) + radix_mem(s->rax) + s->lp_bytes;
    if (s->cgroups) n += stream_cgroups_mem(s->cgroups);
    return n;
}

const char *stream_enc_name(const void *s, int enc) {
    UNUSED(s);
    UNUSED(enc);
    return "stream";
}

void stream_digest(const void *sp, unsigned char digest[20]) {
    struct stream *s = (struct stream *)sp;
    struct stream_iter it;
    struct stream_id id;
    uint64_t n;
    stream_iter_start(&it, s, NULL, NULL, false);
    while (stream_iter_next(&it, &id, &n)) {
        char buf[2 * STREAM_ID_STR_MAX];
        int len = snprintf(buf, sizeof(buf), "%llu.%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
        digest_mix(digest, buf, (size_t)len);
        while (n--) {
            const unsigned char *f, *v;
            size_t flen, vlen;
            stream_iter_pair(&it, &f, &flen, &v, &vlen);
            digest_mix(digest, f, flen);
            digest_mix(digest, v, vlen);
        }
    }
    stream_iter_stop(&it);
}

/* ---- appending ------------------------------------------------------------------------------- */

/* The last node (NULL when none) and its master key. */
static unsigned char *tail_node(struct stream *s, unsigned char key[STREAM_ID_BYTES]) {
    struct radix_iter ri;
    radix_iter_init(&ri, s->rax);
    unsigned char *lp = NULL;
    if (radix_seek(&ri, RADIX_LAST, NULL, 0) && radix_next(&ri)) {
        lp = ri.value;
        memcpy(key, ri.key, STREAM_ID_BYTES);
    }
    radix_iter_release(&ri);
    return lp;
}

/* Is the tail node lp too full for an entry of `add` more bytes? */
static bool node_full(unsigned char *lp, size_t add) {
    long long maxb = atomic_load_explicit(&node_max_bytes, memory_order_relaxed);
    long long maxe = atomic_load_explicit(&node_max_entries, memory_order_relaxed);
    size_t limit = (maxb <= 0 || maxb > (long long)LP_MAX_SAFE_BYTES) ? LP_MAX_SAFE_BYTES : (size_t)maxb;
    if (lp_bytes(lp) + add >= limit) return true;
    if (maxe > 0) {
        unsigned char *p = lp_first(lp);
        int64_t total = lp_int(p) + lp_int(lp_next(lp, p)); /* live + tombstones */
        if (total >= maxe) return true;
    }
    return false;
}

/* A new node whose master entry has the entry's fields. */
static unsigned char *node_new(const char *const *fv, const size_t *lens, size_t npairs) {
    long long maxb = atomic_load_explicit(&node_max_bytes, memory_order_relaxed);
    size_t prealloc = (maxb > 0 && maxb < NODE_PREALLOC) ? (size_t)maxb : NODE_PREALLOC;
    unsigned char *lp = lp_new(prealloc);
    lp = lp_append_int(lp, 1); /* live entries: the one being added */
    lp = lp_append_int(lp, 0); /* tombstones */
    lp = lp_append_int(lp, (long long)npairs);
    for (size_t i = 0; i < npairs; i++) lp = lp_append(lp, fv[2 * i], lens[2 * i]);
    return lp_append_int(lp, 0); /* the master's terminator */
}

/* Does the node's master entry have exactly these fields? */
static bool same_fields(unsigned char *lp, const char *const *fv, const size_t *lens, size_t npairs) {
    uint64_t mf;
    unsigned char *p = master_fields(lp, &mf);
    if (mf != npairs) return false;
    for (size_t i = 0; i < npairs; i++, p = lp_next(lp, p))
        if (!lp_eq(p, (const unsigned char *)fv[2 * i], lens[2 * i])) return false;
    return true;
}

static void next_auto_id(const struct stream_id *last, int64_t now_ms, struct stream_id *out) {
    if (now_ms > 0 && (uint64_t)now_ms > last->ms) {
        out->ms = (uint64_t)now_ms;
        out->seq = 0;
    } else {
        *out = *last;
        stream_id_incr(out);
    }
}

int stream_append(struct stream *s, const char *const *fv, const size_t *lens, size_t npairs,
                  int64_t now_ms, const struct stream_id *use_id, bool seq_given,
                  struct stream_id *added) {
    struct stream_id id;
    if (use_id == NULL) {
        next_auto_id(&s->last_id, now_ms, &id);
    } else if (seq_given || s->last_id.ms != use_id->ms) {
        id = *use_id;
    } else {
        if (s->last_id.seq == UINT64_MAX) return STREAM_APPEND_SEQ_EXHAUSTED;
        id = s->last_id;
        id.seq++;
    }
    if (stream_id_cmp(&id, &s->last_id) <= 0) return STREAM_APPEND_ID_TOO_SMALL;
    size_t total = 0;
    for (size_t i = 0; i < 2 * npairs; i++) total += lens[i];
    if (total > LP_MAX_SAFE_BYTES) return STREAM_APPEND_TOO_BIG;

    unsigned char key[STREAM_ID_BYTES];
    unsigned char *lp = tail_node(s, key), *was = lp;
    if (lp && node_full(lp, total)) {
        unsigned char *fit = lp_shrink_to_fit(lp);
        if (fit != lp) radix_insert(s->rax, key, STREAM_ID_BYTES, fit, NULL);
        lp = was = NULL;
    }
    struct stream_id master;
    int flags = STREAM_FLAG_NONE;
    if (lp == NULL) {
        master = id;
        stream_id_encode(key, &id);
        lp = node_new(fv, lens, npairs);
        flags = STREAM_FLAG_SAMEFIELDS;
    } else {
        s->lp_bytes -= lp_bytes(lp);
        stream_id_decode(key, &master);
        unsigned char *p = lp_first(lp);
        lp = lp_replace_int(lp, &p, lp_int(p) + 1);
        if (same_fields(lp, fv, lens, npairs)) flags = STREAM_FLAG_SAMEFIELDS;
    }

    size_t nitems = 3 + (flags ? npairs : 1 + 2 * npairs) + 1;
    struct lp_item stack_items[64];
    struct lp_item *items = nitems <= 64 ? stack_items : xmalloc(nitems * sizeof(*items));
    size_t k = 0;
    items[k++] = lp_int_item(flags);
    items[k++] = lp_int_item((long long)(id.ms - master.ms)); /* wrapping deltas, as Redis */
    items[k++] = lp_int_item((long long)(id.seq - master.seq));
    if (!flags) items[k++] = lp_int_item((long long)npairs);
    for (size_t i = 0; i < npairs; i++) {
        if (!flags) items[k++] = lp_str_item(fv[2 * i], lens[2 * i]);
        items[k++] = lp_str_item(fv[2 * i + 1], lens[2 * i + 1]);
    }
    items[k++] = lp_int_item((long long)(nitems - 1)); /* lp-count */
    lp = lp_append_batch(lp, items, k);
    ASSERT(lp != NULL);
    if (items != stack_items) xfree(items);
    s->lp_bytes += lp_bytes(lp);
    if (lp != was) radix_insert(s->rax, key, STREAM_ID_BYTES, lp, NULL);

    s->length++;
    s->entries_added++;
    s->last_id = id;
    if (s->length == 1) s->first_id = id;
    if (added) *added = id;
    return STREAM_APPEND_OK;
}

/* ---- iteration ------------------------------------------------------------------------------- */

void stream_iter_start(struct stream_iter *it, struct stream *s, const struct stream_id *start,
                       const struct stream_id *end, bool rev) {
    it->s = s;
    it->start = start ? *start : (struct stream_id){0, 0};
    it->end = end ? *end : (struct stream_id){UINT64_MAX, UINT64_MAX};
    it->rev = rev;
    it->skip_tombstones = true;
    it->done = false;
    it->lp = NULL;
    it->flags = 0;
    radix_iter_init(&it->ri, s->rax);
    unsigned char key[STREAM_ID_BYTES];
    /* The node that may hold the first ID wanted is the last one whose
     * master ID is not above it. */
    const struct stream_id *from = rev ? end : start;
    if (from && !stream_id_is_zero(from)) {
        stream_id_encode(key, from);
        if (!radix_seek(&it->ri, RADIX_LE, key, STREAM_ID_BYTES)) {
            if (rev)
                it->done = true; /* every entry is above the range */
            else
                radix_seek(&it->ri, RADIX_FIRST, NULL, 0);
        }
    } else {
        radix_seek(&it->ri, rev ? RADIX_LAST : RADIX_FIRST, NULL, 0);
    }
}

void stream_iter_stop(struct stream_iter *it) { radix_iter_release(&it->ri); }

/* An ID as one 128-bit number, to compare distances between IDs. */
static inline unsigned __int128 id_u128(const struct stream_id *id) {
    return ((unsigned __int128)id->ms << 64) | id->seq;
}

/* Forward, in a node whose master is below start: the entries before start
 * are to be skipped. When start is nearer (in ID space) to the node's last
 * entry than to its master, find the first wanted entry walking back from
 * the end instead: reads mostly start near the end of a stream (XREAD,
 * XREADGROUP ">"), and a node after start is left at once. */
static void skip_to_start(struct stream_iter *it) {
    unsigned char *lp = it->lp, *p = lp_last(lp);
    bool first = true;
    for (;;) {
        int64_t count = lp_int(p);
        if (count == 0) return; /* the master's 0: every entry is wanted */
        unsigned char *e = p;
        while (count--) e = lp_prev(lp, e); /* the entry's flags */
        unsigned char *d = lp_next(lp, e);
        struct stream_id id = {it->master_id.ms + (uint64_t)lp_int(d),
                               it->master_id.seq + (uint64_t)lp_int(lp_next(lp, d))};
        if (stream_id_cmp(&id, &it->start) < 0) {
            it->cur = p; /* start right after this entry's lp-count */
            it->left = 0;
            return;
        }
        if (first) {
            first = false;
            unsigned __int128 s = id_u128(&it->start);
            if (s - id_u128(&it->master_id) <= id_u128(&id) - s) return; /* walk from the front */
        }
        p = lp_prev(lp, e);
    }
}

/* Move to the next node in the iteration's direction. */
static bool node_enter(struct stream_iter *it) {
    if (!(it->rev ? radix_prev(&it->ri) : radix_next(&it->ri))) return false;
    stream_id_decode(it->ri.key, &it->master_id);
    unsigned char *lp = it->lp = it->ri.value;
    it->master_start = master_fields(lp, &it->master_fields);
    if (it->rev) {
        it->back = lp_last(lp);
    } else {
        it->cur = lp_skip(lp, it->master_start, it->master_fields); /* the master's 0 */
        it->left = 0;
        if (stream_id_cmp(&it->master_id, &it->start) < 0) skip_to_start(it);
    }
    return true;
}

/* The flags element of the next entry of the node, or NULL. */
static unsigned char *entry_step(struct stream_iter *it) {
    unsigned char *lp = it->lp;
    if (!it->rev) return lp_next(lp, lp_skip(lp, it->cur, it->left));
    unsigned char *p = it->back;
    int64_t count = lp_int(p);
    if (count == 0) return NULL; /* the master entry */
    while (count--) p = lp_prev(lp, p);
    it->back = lp_prev(lp, p);
    return p;
}

bool stream_iter_next(struct stream_iter *it, struct stream_id *id, uint64_t *npairs) {
    while (!it->done) {
        if (it->lp == NULL && !node_enter(it)) break;
        unsigned char *e = entry_step(it);
        if (e == NULL) {
            it->lp = NULL;
            continue;
        }
        unsigned char *lp = it->lp;
        int flags = (int)lp_int(e);
        unsigned char *p = lp_next(lp, e);
        id->ms = it->master_id.ms + (uint64_t)lp_int(p);
        p = lp_next(lp, p);
        id->seq = it->master_id.seq + (uint64_t)lp_int(p);
        p = lp_next(lp, p);
        if (flags & STREAM_FLAG_SAMEFIELDS) {
            *npairs = it->master_fields;
            it->mf = it->master_start;
            it->left = *npairs;
        } else {
            *npairs = (uint64_t)lp_int(p);
            p = lp_next(lp, p);
            it->left = 2 * *npairs;
        }
        it->cur = p;
        it->flags = flags;
        bool skip = it->skip_tombstones && (flags & STREAM_FLAG_DELETED);
        if (!it->rev) {
            if (stream_id_cmp(id, &it->end) > 0) break;
            if (skip || stream_id_cmp(id, &it->start) < 0) continue;
        } else {
            if (stream_id_cmp(id, &it->start) < 0) break;
            if (skip || stream_id_cmp(id, &it->end) > 0) continue;
        }
        return true;
    }
    it->done = true;
    return false;
}

void stream_iter_pair(struct stream_iter *it, const unsigned char **f, size_t *flen,
                      const unsigned char **v, size_t *vlen) {
    unsigned char *lp = it->lp;
    if (it->flags & STREAM_FLAG_SAMEFIELDS) {
        *f = lp_get_str(it->mf, flen, it->fbuf);
        it->mf = lp_next(lp, it->mf);
    } else {
        *f = lp_get_str(it->cur, flen, it->fbuf);
        it->cur = lp_next(lp, it->cur);
        it->left--;
    }
    *v = lp_get_str(it->cur, vlen, it->vbuf);
    it->cur = lp_next(lp, it->cur);
    it->left--;
}

void stream_edge_id(struct stream *s, bool first, bool skip_tombstones, struct stream_id *out) {
    struct stream_iter it;
    uint64_t n;
    stream_iter_start(&it, s, NULL, NULL, !first);
    it.skip_tombstones = skip_tombstones;
    if (!stream_iter_next(&it, out, &n)) {
        out->ms = out->seq = first ? UINT64_MAX : 0;
    }
    stream_iter_stop(&it);
}

/* ---- tombstones ------------------------------------------------------------------------------ */

/* The live entry id in the node that may hold it: its flags element, the
 * node and its key; NULL when there is none. */
static unsigned char *find_live(struct stream *s, const struct stream_id *id, unsigned char **lpp,
                                unsigned char key[STREAM_ID_BYTES]) {
    struct radix_iter ri;
    radix_iter_init(&ri, s->rax);
    stream_id_encode(key, id);
    unsigned char *lp = NULL;
    if (radix_seek(&ri, RADIX_LE, key, STREAM_ID_BYTES) && radix_next(&ri)) {
        lp = ri.value;
        memcpy(key, ri.key, STREAM_ID_BYTES);
    }
    radix_iter_release(&ri);
    if (lp == NULL) return NULL;
    struct stream_id master, cur;
    stream_id_decode(key, &master);
    uint64_t mf;
    master_fields(lp, &mf);
    for (unsigned char *e = first_entry(lp); e;) {
        int flags;
        unsigned char *next = entry_parse(lp, e, &master, mf, &cur, &flags);
        int c = stream_id_cmp(&cur, id);
        if (c > 0) break;
        if (c == 0 && !(flags & STREAM_FLAG_DELETED)) {
            *lpp = lp;
            return e;
        }
        e = next;
    }
    return NULL;
}

bool stream_entry_exists(struct stream *s, const struct stream_id *id) {
    unsigned char *lp, key[STREAM_ID_BYTES];
    return find_live(s, id, &lp, key) != NULL;
}

/* Drop a whole node. */
static void node_remove(struct stream *s, const unsigned char key[STREAM_ID_BYTES], unsigned char *lp) {
    s->lp_bytes -= lp_bytes(lp);
    radix_remove(s->rax, key, STREAM_ID_BYTES, NULL);
    lp_free(lp);
}

/* Count `n` more tombstones in the master entry of a node that keeps live
 * entries; returns the (maybe moved) listpack. */
static unsigned char *count_tombstones(struct stream *s, unsigned char *lp, int64_t n) {
    unsigned char *p = lp_first(lp);
    lp = replace_int(s, lp, &p, lp_int(p) - n);
    p = lp_next(lp, p);
    return replace_int(s, lp, &p, lp_int(p) + n);
}

bool stream_delete(struct stream *s, const struct stream_id *id) {
    unsigned char *lp, key[STREAM_ID_BYTES];
    unsigned char *e = find_live(s, id, &lp, key);
    if (e == NULL) return false;
    if (lp_int(lp_first(lp)) == 1) {
        node_remove(s, key, lp); /* its last live entry */
    } else {
        unsigned char *was = lp;
        lp = replace_int(s, lp, &e, lp_int(e) | STREAM_FLAG_DELETED);
        lp = count_tombstones(s, lp, 1);
        if (lp != was) radix_insert(s->rax, key, STREAM_ID_BYTES, lp, NULL);
    }
    s->length--;
    if (stream_id_cmp(id, &s->max_deleted_id) > 0) s->max_deleted_id = *id;
    if (s->length == 0)
        s->first_id = (struct stream_id){0, 0};
    else if (stream_id_cmp(id, &s->first_id) == 0)
        stream_edge_id(s, true, true, &s->first_id);
    return true;
}

/* ---- trimming -------------------------------------------------------------------------------- */

/* The ID of the node's last entry, tombstone or not. */
static void node_last_id(unsigned char *lp, const struct stream_id *master, struct stream_id *out) {
    unsigned char *p = lp_last(lp);
    int64_t count = lp_int(p);
    while (count--) p = lp_prev(lp, p);
    p = lp_next(lp, p); /* from flags to the ms delta */
    out->ms = master->ms + (uint64_t)lp_int(p);
    out->seq = master->seq + (uint64_t)lp_int(lp_next(lp, p));
}

/* Tombstone the node's entries from the oldest while the trim wants them
 * gone; returns how many live entries went. */
static int64_t trim_inside(struct stream *s, const unsigned char key[STREAM_ID_BYTES], unsigned char *lp,
                           const struct stream_trim *t) {
    struct stream_id master;
    stream_id_decode(key, &master);
    uint64_t mf;
    master_fields(lp, &mf);
    unsigned char *was = lp;
    int64_t gone = 0;
    for (unsigned char *e = first_entry(lp); e;) {
        struct stream_id cur;
        int flags;
        if (t->strategy == STREAM_TRIM_MAXLEN && s->length <= (uint64_t)t->maxlen) break;
        unsigned char *next = entry_parse(lp, e, &master, mf, &cur, &flags);
        if (t->strategy == STREAM_TRIM_MINID && stream_id_cmp(&cur, &t->minid) >= 0) break;
        if (!(flags & STREAM_FLAG_DELETED)) {
            size_t off = (size_t)(next ? next - lp : 0);
            lp = replace_int(s, lp, &e, flags | STREAM_FLAG_DELETED);
            next = next ? lp + off : NULL; /* same-size replacement: offsets hold */
            gone++;
            s->length--;
        }
        e = next;
    }
    if (gone) lp = count_tombstones(s, lp, gone);
    /* A node left with tombstones only (MINID below a trailing tombstone)
     * stays, as in Redis: node boundaries, and so what "~" trims, stay the
     * same as Redis's for the same commands. */
    if (lp != was) radix_insert(s->rax, key, STREAM_ID_BYTES, lp, NULL);
    return gone;
}

int64_t stream_trim(struct stream *s, const struct stream_trim *t) {
    if (t->strategy == STREAM_TRIM_NONE) return 0;
    int64_t deleted = 0;
    for (;;) {
        if (t->strategy == STREAM_TRIM_MAXLEN && s->length <= (uint64_t)t->maxlen) break;
        struct radix_iter ri;
        radix_iter_init(&ri, s->rax);
        bool any = radix_seek(&ri, RADIX_FIRST, NULL, 0) && radix_next(&ri);
        unsigned char key[STREAM_ID_BYTES];
        unsigned char *lp = any ? ri.value : NULL;
        if (any) memcpy(key, ri.key, STREAM_ID_BYTES);
        radix_iter_release(&ri);
        if (!any) break;
        int64_t live = lp_int(lp_first(lp));
        if (t->limit && deleted + live > t->limit) break;
        bool whole;
        if (t->strategy == STREAM_TRIM_MAXLEN) {
            whole = s->length - (uint64_t)live >= (uint64_t)t->maxlen;
        } else {
            struct stream_id master, last;
            stream_id_decode(key, &master);
            node_last_id(lp, &master, &last);
            whole = stream_id_cmp(&last, &t->minid) < 0;
        }
        if (whole) {
            node_remove(s, key, lp);
            s->length -= (uint64_t)live;
            deleted += live;
            continue;
        }
        if (t->approx) break;
        deleted += trim_inside(s, key, lp, t);
        break; /* the rest of the stream is kept */
    }
    if (s->length == 0)
        s->first_id = (struct stream_id){0, 0};
    else if (deleted)
        stream_edge_id(s, true, true, &s->first_id);
    return deleted;
}

/* ---- nodes ----------------------------------------------------------------------------------- */

void stream_nodes_start(struct stream_node_iter *it, struct stream *s) {
    radix_iter_init(&it->ri, s->rax);
    radix_seek(&it->ri, RADIX_FIRST, NULL, 0);
}

bool stream_nodes_next(struct stream_node_iter *it, const unsigned char **master_key,
                       const unsigned char **lp, size_t *bytes) {
    if (!radix_next(&it->ri)) return false;
    *master_key = it->ri.key;
    *lp = it->ri.value;
    *bytes = lp_bytes(it->ri.value);
    return true;
}

void stream_nodes_stop(struct stream_node_iter *it) { radix_iter_release(&it->ri); }

bool stream_load_node(struct stream *s, const unsigned char master_key[STREAM_ID_BYTES], unsigned char *lp) {
    struct radix_iter ri;
    radix_iter_init(&ri, s->rax);
    bool ordered = !(radix_seek(&ri, RADIX_LAST, NULL, 0) && radix_next(&ri)) ||
                   memcmp(ri.key, master_key, STREAM_ID_BYTES) < 0;
    radix_iter_release(&ri);
    if (!ordered) return false;
    radix_insert(s->rax, master_key, STREAM_ID_BYTES, lp, NULL);
    s->lp_bytes += lp_bytes(lp);
    return true;
}

/* An integer element of an untrusted node. */
static bool checked_int(const unsigned char *p, int64_t *out) {
    if (p == NULL) return false;
    size_t len;
    long long v;
    const unsigned char *s = lp_get(p, &len, &v);
    if (s && !str_to_ll((const char *)s, len, &v)) return false;
    *out = v;
    return true;
}

bool stream_validate_node(const unsigned char *blob, size_t size, bool deep) {
    if (!lp_validate(blob, size, deep, NULL, NULL)) return false;
    if (!deep) return true;
    /* Every element is within bounds now: walk the stream structure. */
    unsigned char *lp = (unsigned char *)blob, *p = lp_first(lp);
    int64_t live, dead, mf, v;
    if (!checked_int(p, &live) || !checked_int(p = lp_next(lp, p), &dead) ||
        !checked_int(p = lp_next(lp, p), &mf) || live < 0 || dead < 0 || mf < 0)
        return false;
    p = lp_next(lp, p);
    for (int64_t i = 0; i < mf; i++, p = lp_next(lp, p))
        if (p == NULL) return false;
    if (!checked_int(p, &v) || v != 0) return false;
    p = lp_next(lp, p);
    for (int64_t n = live + dead; n > 0; n--) {
        int64_t flags, nf = mf, elems = 3;
        if (!checked_int(p, &flags) || !checked_int(p = lp_next(lp, p), &v) ||
            !checked_int(p = lp_next(lp, p), &v))
            return false;
        p = lp_next(lp, p);
        if (!(flags & STREAM_FLAG_SAMEFIELDS)) {
            if (!checked_int(p, &nf) || nf < 0) return false;
            p = lp_next(lp, p);
            for (int64_t i = 0; i < nf; i++, p = lp_next(lp, p)) /* fields */
                if (p == NULL || (p = lp_next(lp, p)) == NULL) return false; /* and values */
            elems += 2 * nf + 1;
        } else {
            for (int64_t i = 0; i < nf; i++, p = lp_next(lp, p))
                if (p == NULL) return false;
            elems += nf;
        }
        if (!checked_int(p, &v) || v != elems) return false;
        p = lp_next(lp, p);
    }
    return p == NULL;
}

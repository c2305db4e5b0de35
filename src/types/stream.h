/*
 * types/stream.h - the stream value type: an append-only log of entries
 * (ID + field/value pairs) with consumer groups, laid out as Redis 7.0 does
 * so that a snapshot can write RDB_TYPE_STREAM_LISTPACKS_2 straight from it.
 *
 * Entries: a radix tree (ds/radix) maps the 128-bit big-endian ID of each
 * node's *master entry* to a listpack (ds/listpack) holding a run of
 * consecutive entries, at most stream-node-max-bytes / -max-entries each:
 *
 *   master entry: [count][deleted][num-fields][field 1]...[field N][0]
 *   entry:        [flags][ms-delta][seq-delta][num-fields][f1][v1]...[fN][vN][lp-count]
 *   same fields:  [flags][ms-delta][seq-delta][v1]...[vN][lp-count]
 *
 *   count / deleted: live and tombstoned entries of the node; the master's
 *   fields are those of the node's first entry; an entry whose fields are
 *   the master's has flag SAMEFIELDS and stores only values; XDEL sets flag
 *   DELETED (a tombstone) and a node whose last live entry goes is removed;
 *   IDs are deltas from the master ID (wrapping 64-bit arithmetic); lp-count
 *   is the number of elements of the entry before it, so that a backward
 *   walk can jump to the entry's start (the master's trailing 0 stops it).
 *
 * Consumer groups (radix trees keyed by names and IDs, so XINFO/XPENDING
 *   list them in Redis's sorted order):
 *
 *   stream.cgroups: group name -> struct stream_cg
 *     last_id, entries_read (-1: unknown), pel: ID -> struct stream_nack,
 *     consumers: name -> struct stream_consumer
 *   stream_consumer: seen_time, pel: ID -> the same stream_nack
 *   stream_nack: delivery_time, delivery_count, owning consumer
 *
 *   A NACK is owned by its group's PEL and referenced from its consumer's.
 *
 * Bookkeeping of Redis 7.0: last_id (last ID ever generated), first_id
 *   (first live entry, 0-0 when empty), max_deleted_id (greatest ID removed
 *   by XDEL or trimming), entries_added (all-time count), from which
 *   consumer-group lag and entries-read are derived.
 *
 * Snapshots (RDB_TYPE_STREAM_LISTPACKS_2) read and rebuild a stream with
 *   what is public here: the nodes as stored (stream_nodes_*, written
 *   verbatim; stream_validate_node + stream_load_node to read them back),
 *   the fields of struct stream, then per group (radix iteration of
 *   s->cgroups: name -> struct stream_cg) its PEL (cg->pel: 16-byte ID ->
 *   struct stream_nack) and consumers (cg->consumers: name -> struct
 *   stream_consumer, each with its PEL of IDs). Loading: stream_cg_create,
 *   stream_pel_add per NACK (then set delivery_time / delivery_count),
 *   stream_consumer_create, and stream_pel_find + stream_pel_assign for each
 *   ID of a consumer's PEL.
 *
 * Ownership and threads: a `struct stream *` is the object of a key's
 *   entry; nothing here knows keys, locks or clients: the caller holds the
 *   key's stripe lock. Times ("now") are passed in by the caller (the
 *   command's clock). The node limits are process-wide ([any]).
 */
#ifndef STASH_TYPES_STREAM_H
#define STASH_TYPES_STREAM_H

#include "base/common.h"
#include "ds/listpack.h"
#include "ds/radix.h"

struct stream_id {
    uint64_t ms, seq;
};

#define STREAM_ID_BYTES 16
/* "18446744073709551615-18446744073709551615" and a NUL. */
#define STREAM_ID_STR_MAX 42

#define STREAM_FLAG_NONE 0
#define STREAM_FLAG_DELETED 1
#define STREAM_FLAG_SAMEFIELDS 2

#define STREAM_ENTRIES_READ_INVALID (-1LL)

#define STREAM_DEFAULT_NODE_MAX_BYTES 4096
#define STREAM_DEFAULT_NODE_MAX_ENTRIES 100

struct stream {
    struct radix *rax;             /* master ID (16 bytes BE) -> listpack */
    uint64_t length;               /* live entries */
    struct stream_id last_id;      /* 0-0 until the first entry */
    struct stream_id first_id;     /* first live entry, 0-0 when empty */
    struct stream_id max_deleted_id;
    uint64_t entries_added;
    struct radix *cgroups;         /* name -> struct stream_cg; NULL until one exists */
    size_t lp_bytes;               /* sum of the listpacks' sizes */
};

struct stream_consumer;

struct stream_nack {
    int64_t delivery_time; /* Unix ms of the last delivery */
    uint64_t delivery_count;
    struct stream_consumer *consumer; /* NULL only inside XCLAIM FORCE */
};

struct stream_consumer {
    int64_t seen_time;  /* Unix ms of the last activity */
    struct radix *pel;  /* ID -> struct stream_nack (owned by the group) */
    size_t name_len;
    char name[];
};

struct stream_cg {
    struct stream_id last_id;
    long long entries_read;
    struct radix *pel;       /* ID -> struct stream_nack (owned) */
    struct radix *consumers; /* name -> struct stream_consumer (owned) */
};

/* stream-node-max-bytes (0: 1 GiB) and stream-node-max-entries (0: no
 * limit). [any] */
void stream_set_node_limits(long long max_bytes, long long max_entries);
long long stream_node_max_entries(void);

/* ---- IDs ------------------------------------------------------------------------------------- */

int stream_id_cmp(const struct stream_id *a, const struct stream_id *b);
static inline bool stream_id_is_zero(const struct stream_id *id) { return id->ms == 0 && id->seq == 0; }
/* The next / previous ID; false (and 0-0 / max) when there is none. */
bool stream_id_incr(struct stream_id *id);
bool stream_id_decr(struct stream_id *id);
/* 128-bit big-endian form (the radix keys, sorting as the IDs do). */
void stream_id_encode(unsigned char out[STREAM_ID_BYTES], const struct stream_id *id);
void stream_id_decode(const unsigned char in[STREAM_ID_BYTES], struct stream_id *id);
/* "<ms>-<seq>" into buf (STREAM_ID_STR_MAX); returns the length. */
size_t stream_id_format(char *buf, const struct stream_id *id);

/* Parse an ID argument as Redis 7.0 does: "<ms>-<seq>", "<ms>" (the
 * sequence is then missing_seq), "-" and "+" (0-0 and the maximum; refused
 * when strict), and, only when seq_given is not NULL, "<ms>-*" (*seq_given
 * false; otherwise true). Numbers are what strtoull takes whole, except
 * negative canonical integers; text past 127 bytes or an embedded NUL ends
 * it. Returns false on invalid input. [any] */
bool stream_id_parse(const char *s, size_t len, uint64_t missing_seq, bool strict, bool *seq_given,
                     struct stream_id *out);

/* ---- the stream ------------------------------------------------------------------------------ */

struct stream *stream_new(void);
static inline uint64_t stream_len(const struct stream *s) { return s->length; }

/* type_ops (store/entry.h) */
void stream_free(void *s);
void *stream_dup(const void *s);
size_t stream_mem(const void *s);
const char *stream_enc_name(const void *s, int enc);
/* Redis's DEBUG DIGEST of the entries: mix "<ms>.<seq>", then each field
 * and value, in order. */
void stream_digest(const void *s, unsigned char digest[20]);

enum stream_append_err {
    STREAM_APPEND_OK = 0,
    STREAM_APPEND_ID_TOO_SMALL,
    STREAM_APPEND_TOO_BIG,
    STREAM_APPEND_SEQ_EXHAUSTED, /* "<ms>-*" for the last ID's ms, whose sequence is the maximum */
};

/* Append an entry of npairs field/value pairs (fv[2i], fv[2i+1]). The ID is
 * use_id when given (with seq_given false, its sequence is chosen: 0 for a
 * new millisecond, last+1 for the last ID's), else generated from now_ms
 * as Redis does (never backwards). Returns STREAM_APPEND_ID_TOO_SMALL when
 * the ID would not be greater than the last one (nothing changes),
 * STREAM_APPEND_SEQ_EXHAUSTED when no sequence is left after the last ID's
 * for "<ms>-*", or STREAM_APPEND_TOO_BIG when the pairs exceed what a node
 * can hold. */
int stream_append(struct stream *s, const char *const *fv, const size_t *lens, size_t npairs,
                  int64_t now_ms, const struct stream_id *use_id, bool seq_given,
                  struct stream_id *added);

/* Turn entry id into a tombstone (XDEL): updates length, first_id and
 * max_deleted_id; a node left without live entries goes. Returns whether
 * a live entry had that ID. */
bool stream_delete(struct stream *s, const struct stream_id *id);
/* Is there a live entry with this ID? */
bool stream_entry_exists(struct stream *s, const struct stream_id *id);

enum stream_trim_strategy { STREAM_TRIM_NONE = 0, STREAM_TRIM_MAXLEN = 1, STREAM_TRIM_MINID = 2 };

struct stream_trim {
    enum stream_trim_strategy strategy;
    bool approx;     /* remove whole nodes only */
    long long limit; /* at most this many entries (0: no limit) */
    long long maxlen;
    struct stream_id minid;
};

/* Trim from the oldest entries as XADD/XTRIM do; returns the number of
 * entries removed. Exact trims tombstone entries inside the first node
 * that is not removed whole; approximate ones stop there. */
int64_t stream_trim(struct stream *s, const struct stream_trim *t);

/* The first or last entry's ID (tombstones included unless skipped); when
 * there is none: the maximum ID for first, 0-0 for last. */
void stream_edge_id(struct stream *s, bool first, bool skip_tombstones, struct stream_id *out);

/* Consumer-group accounting of Redis 7.0: the logical read counter of id
 * (STREAM_ENTRIES_READ_INVALID when it cannot be known), whether
 * [start, end] (NULL: open) may contain a tombstone, and a group's lag
 * (false: unknown, XINFO's null). */
long long stream_estimate_distance(const struct stream *s, const struct stream_id *id);
bool stream_range_has_tombstones(const struct stream *s, const struct stream_id *start,
                                 const struct stream_id *end);
bool stream_cg_lag(const struct stream *s, const struct stream_cg *cg, long long *lag);

/* ---- reading entries ------------------------------------------------------------------------- */

struct stream_iter {
    struct stream *s;
    struct radix_iter ri;
    struct stream_id start, end;
    bool rev;
    bool skip_tombstones; /* default true */
    bool done;
    /* the node being read */
    unsigned char *lp;
    struct stream_id master_id;
    uint64_t master_fields;
    unsigned char *master_start; /* first master field */
    unsigned char *back;         /* backward: lp-count element to step back from */
    /* the entry being read */
    unsigned char *cur;          /* next unread element of the entry */
    uint64_t left;               /* unread elements before its lp-count */
    unsigned char *mf;           /* next master field (same-fields entries) */
    int flags;
    unsigned char fbuf[LP_INTBUF_SIZE], vbuf[LP_INTBUF_SIZE];
};

/* Iterate the entries with start <= ID <= end (NULL: unbounded), forward
 * or backward (rev). Nothing may change the stream meanwhile. */
void stream_iter_start(struct stream_iter *it, struct stream *s, const struct stream_id *start,
                       const struct stream_id *end, bool rev);
/* The next entry: its ID and number of pairs; false at the end. */
bool stream_iter_next(struct stream_iter *it, struct stream_id *id, uint64_t *npairs);
/* The next pair of the current entry (call at most npairs times); the bytes
 * stay valid until the next call. */
void stream_iter_pair(struct stream_iter *it, const unsigned char **f, size_t *flen,
                      const unsigned char **v, size_t *vlen);
/* Flags of the current entry (STREAM_FLAG_DELETED when tombstones are not
 * skipped). */
static inline int stream_iter_flags(const struct stream_iter *it) { return it->flags; }
void stream_iter_stop(struct stream_iter *it);

/* ---- nodes (snapshots and DUMP read them as stored) ----------------------------------------- */

struct stream_node_iter {
    struct radix_iter ri;
};
void stream_nodes_start(struct stream_node_iter *it, struct stream *s);
/* The next node: its master ID (16 bytes, big-endian) and listpack. */
bool stream_nodes_next(struct stream_node_iter *it, const unsigned char **master_key,
                       const unsigned char **lp, size_t *lp_bytes);
void stream_nodes_stop(struct stream_node_iter *it);

/* Add a node read from a snapshot (the stream takes lp); master keys must
 * come in increasing order. Returns false (lp not taken) otherwise. */
bool stream_load_node(struct stream *s, const unsigned char master_key[STREAM_ID_BYTES], unsigned char *lp);
/* Is lp[0, size) a well-formed stream node? With deep, every entry's
 * structure is walked (Redis's streamValidateListpackIntegrity). */
bool stream_validate_node(const unsigned char *lp, size_t size, bool deep);

/* ---- consumer groups ------------------------------------------------------------------------- */

struct stream_cg *stream_cg_find(const struct stream *s, const char *name, size_t len);
/* A new group (NULL when the name is taken). */
struct stream_cg *stream_cg_create(struct stream *s, const char *name, size_t len,
                                   const struct stream_id *last_id, long long entries_read);
/* Remove a group with its PEL and consumers; returns whether it existed. */
bool stream_cg_destroy(struct stream *s, const char *name, size_t len);
static inline size_t stream_cg_count(const struct stream *s) { return s->cgroups ? radix_size(s->cgroups) : 0; }

struct stream_consumer *stream_consumer_find(struct stream_cg *cg, const char *name, size_t len);
/* A new consumer seen at now_ms (NULL when the name exists). */
struct stream_consumer *stream_consumer_create(struct stream_cg *cg, const char *name, size_t len,
                                               int64_t now_ms);
/* Remove a consumer and its pending entries from the group; returns how
 * many were pending. */
uint64_t stream_consumer_delete(struct stream_cg *cg, struct stream_consumer *c);

/* The group's NACK of id, or NULL. */
struct stream_nack *stream_pel_find(struct stream_cg *cg, const struct stream_id *id);
/* XREADGROUP delivered id to c: a new NACK (count 1), or the existing one
 * moved to c with its time and count reset (the group's last ID was moved
 * back by XGROUP SETID). */
struct stream_nack *stream_pel_deliver(struct stream_cg *cg, struct stream_consumer *c,
                                       const struct stream_id *id, int64_t now_ms);
/* A NACK without owner for id (XCLAIM FORCE); claim it next. */
struct stream_nack *stream_pel_add(struct stream_cg *cg, const struct stream_id *id, int64_t now_ms);
/* Give n (the NACK of id) to consumer c (no-op when it is c's already). */
void stream_pel_assign(struct stream_nack *n, const struct stream_id *id, struct stream_consumer *c);
/* Remove id from the group's and its consumer's PEL (XACK, claims of
 * deleted entries); returns whether it was pending. */
bool stream_pel_remove(struct stream_cg *cg, const struct stream_id *id);

#endif

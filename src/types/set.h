/*
 * types/set.h - the set value type: unordered distinct strings with Redis
 * 7.0's two encodings.
 *
 *   intset     a ds/intset blob (sorted integers) while every member is a
 *              canonical integer and there are at most set-max-intset-entries
 *              of them; the blob is the RDB payload of an intset set.
 *   hashtable  a ds/htab of nodes, one allocation per member, keyed by
 *              SipHash of the member. Never converted back (as Redis).
 *
 * A `struct set *` is the object stored in the key's entry; changes may move
 * or convert it, so they take `struct set **` and the caller stores the new
 * pointer back. Members read from a set come as text (intset values are
 * formatted into the caller's scratch buffer), valid until the next change.
 *
 * Thread context: nothing here knows keys, locks or clients; the caller
 * holds the owning key's stripe lock. The threshold is process-wide
 * (set_set_limits, [any]).
 */
#ifndef STASH_TYPES_SET_H
#define STASH_TYPES_SET_H

#include "base/common.h"
#include "ds/htab.h"

#define SET_DEFAULT_MAX_INTSET_ENTRIES 512
#define SET_INTBUF_SIZE 21

enum set_encoding { SET_ENC_INTSET = 0, SET_ENC_HT = 1 };

struct set;

/* set-max-intset-entries. [any] */
void set_set_limits(long long max_intset_entries);

/* An empty set in the encoding Redis picks for a first member `m`
 * (setTypeCreate): intset when m is an integer, else a table. */
struct set *set_new_for(const char *m, size_t len);
/* An empty intset-encoded set (the destination of the STORE commands). */
struct set *set_new(void);
enum set_encoding set_encoding(const struct set *s);
size_t set_len(const struct set *s);

/* ---- type_ops (store/entry.h) ---------------------------------------------------------------- */

void set_free(void *s);
void *set_dup(const void *s);
/* Bytes held, O(1). */
size_t set_mem(const void *s);
/* "intset" or "hashtable". */
const char *set_enc_name(const void *s, int enc);
/* Redis's DEBUG DIGEST of the members: xor of SHA1(member). */
void set_digest(const void *s, unsigned char digest[20]);

/* ---- members --------------------------------------------------------------------------------- */

/* A member as text; buf holds a formatted intset value. */
struct set_str {
    const char *ptr;
    size_t len;
    char buf[SET_INTBUF_SIZE];
};

bool set_contains(struct set *s, const char *m, size_t len);
/* Add m; returns whether it was absent. Converts as Redis's setTypeAdd. */
bool set_add(struct set **s, const char *m, size_t len);
/* Remove m; returns whether it was present. */
bool set_remove(struct set **s, const char *m, size_t len);
/* Convert to the table encoding (sized for `hint` members). */
void set_convert_to_ht(struct set **s, size_t hint);

/* ---- iteration (no changes of this set meanwhile) -------------------------------------------- */

struct set_iter {
    struct set *s;
    uint32_t pos;        /* intset */
    struct htab_iter it; /* table */
    bool started;
};
/* Begin; lookups in the same set are allowed during the iteration (the
 * table does not rehash until set_iter_done). */
void set_iter_init(struct set *s, struct set_iter *it);
bool set_iter_next(struct set_iter *it, struct set_str *m);
void set_iter_done(struct set_iter *it);

/* ---- random ---------------------------------------------------------------------------------- */

/* One random member of a non-empty set. */
void set_random(struct set *s, struct set_str *m);

typedef void (*set_member_fn)(const struct set_str *m, void *arg);
/* Visit `count` distinct random members (count < set_len) without copying
 * the set. */
void set_random_distinct(struct set *s, size_t count, set_member_fn fn, void *arg);

/* ---- scanning -------------------------------------------------------------------------------- */

/* SSCAN step on a table; an intset is visited whole and 0 returned. */
uint64_t set_scan(struct set *s, uint64_t cursor, set_member_fn fn, void *arg);

/* ---- RDB ------------------------------------------------------------------------------------- */

/* The intset blob of an intset-encoded set (its RDB payload), else NULL. */
const unsigned char *set_intset_blob(const struct set *s, size_t *len);
/* A set made of a validated intset blob (taken over), converted to a table
 * when it holds more than set-max-intset-entries values. */
struct set *set_from_intset(unsigned char *blob);

#endif

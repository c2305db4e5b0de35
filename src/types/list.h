/*
 * types/list.h - the list value type, with two encodings:
 *
 *   listpack   one ds/listpack blob, for lists that fit one quicklist node
 *              (list-max-listpack-size: entries if positive, 4..64 KiB if
 *              negative, default -2 = 8 KiB) and hold no element of the
 *              packed threshold (1 GiB) or more;
 *   quicklist  a ds/quicklist (linked listpacks), for bigger lists.
 *
 * Conversion follows the listpack/quicklist rules of Redis (7.2, which
 * introduced the listpack list encoding on 7.0's quicklist): a listpack list
 * becomes a quicklist when an addition would make it exceed one node's
 * limits; a quicklist becomes a listpack again when it is down to one
 * packed node and under half those limits (the half keeps a list that
 * hovers around the limit from converting back and forth).
 *
 * A `struct list *` is the object stored in the key's entry (TYPE_LIST). It
 * stays at the same address across changes and conversions.
 *
 * Values: elements are strings; a canonical integer string is stored as an
 *   integer (listpack rule) and read back as one (struct list_val.is_int),
 *   whose decimal text is the original string.
 *
 * Positions (struct list_pos): one element of the list and its value, valid
 *   until the next change except where a function repositions it. Indexes
 *   are 0-based; negative ones count from the tail (-1 the last).
 *
 * Thread context: nothing here knows keys, locks or clients; the caller
 * holds the owning key's stripe lock. The settings are process-wide
 * (list_set_fill / list_set_compress, [any]).
 */
#ifndef STASH_TYPES_LIST_H
#define STASH_TYPES_LIST_H

#include "base/common.h"
#include "ds/listpack.h"
#include "ds/quicklist.h"

enum list_encoding { LIST_ENC_LISTPACK = 0, LIST_ENC_QUICKLIST = 1 };
enum list_where { LIST_HEAD = 0, LIST_TAIL = 1 };

struct list {
    uint8_t enc;
    union {
        unsigned char *lp;
        struct quicklist *ql;
    };
};

/* list-max-listpack-size and list-compress-depth (new quicklists use them).
 * [any] */
void list_set_fill(int fill);
int list_get_fill(void);
void list_set_compress(int depth);

struct list *list_new(void);
static inline enum list_encoding list_encoding(const struct list *l) {
    return (enum list_encoding)l->enc;
}
size_t list_len(const struct list *l);

/* ---- type_ops (store/entry.h) -------------------------------------------- */

void list_free(void *l);
void *list_dup(const void *l);
/* Bytes held, O(1). */
size_t list_mem(const void *l);
/* "listpack" or "quicklist". */
const char *list_enc_name(const void *l, int enc);
/* DEBUG DIGEST-VALUE as Redis 7.0: mix each element's text, head to tail. */
void list_digest(const void *l, unsigned char digest[20]);

/* ---- values -------------------------------------------------------------- */

struct list_val {
    const char *ptr; /* bytes, valid until the next change */
    size_t len;
    long long ll;
    bool is_int; /* ptr == NULL, the value is ll */
};

/* Text of v (integers formatted into buf, LP_INTBUF_SIZE bytes). */
const char *list_val_str(const struct list_val *v, char *buf, size_t *len);
/* Is v equal to the bytes s[0..n)? */
bool list_val_eq(const struct list_val *v, const char *s, size_t n);

/* ---- changes ------------------------------------------------------------- */

/* Push n elements at one end, in order (LPUSH a b c leaves c first). */
void list_push(struct list *l, enum list_where where, const char *const *elems, const size_t *lens,
               size_t n);
void list_push_one(struct list *l, enum list_where where, const char *s, size_t len);

/* ---- positions ----------------------------------------------------------- */

struct list_pos {
    struct list *l;
    unsigned char *p;   /* listpack entry (listpack encoding) */
    long index;         /* index from the head */
    struct ql_entry qe; /* quicklist encoding */
    struct list_val v;
};

/* The element at index (negative from the tail). */
bool list_at(struct list *l, long index, struct list_pos *pos);
/* Move to the next element towards the tail (forward) or the head. */
bool list_step(struct list_pos *pos, bool forward);
/* Delete the element at pos; pos moves to the one that followed it in the
 * given direction. Returns false when there is none. May not convert. */
bool list_delete_at(struct list_pos *pos, bool forward);
/* Replace the element at pos (LSET); pos is invalid afterwards. */
void list_replace_at(struct list_pos *pos, const char *s, size_t len);
/* Insert before or after the element at pos (LINSERT); pos invalid after. */
void list_insert_at(struct list_pos *pos, bool after, const char *s, size_t len);

/* ---- whole-list operations ----------------------------------------------- */

/* Remove the element at one end; false when empty. Calls fn(v) with its
 * value before removing it (to reply or copy). */
typedef void (*list_val_fn)(const struct list_val *v, void *arg);
bool list_pop(struct list *l, enum list_where where, list_val_fn fn, void *arg);
/* Delete `count` elements from `start` (>= 0). */
void list_delete_range(struct list *l, long start, long count);
/* A list may have become small after deletions: go back to a listpack when
 * the rules allow (call after a batch of deletions). */
void list_try_shrink(struct list *l);

/* ---- RDB ------------------------------------------------------------------------------------- */

/* A list made of a non-empty quicklist (taken over); a single packed node
 * within one node's limits becomes the listpack encoding (Redis 7.2's
 * loading rule). */
struct list *list_from_quicklist(struct quicklist *ql);

#endif

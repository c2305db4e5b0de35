/*
 * types/hash.h - the hash value type: field -> value maps with Redis 7.0's
 * two encodings.
 *
 *   listpack   fields and values alternate in one ds/listpack blob, in
 *              insertion order; used while the hash has at most
 *              hash-max-listpack-entries fields and no field or value longer
 *              than hash-max-listpack-value bytes. The blob is the RDB
 *              payload of a listpack hash, byte for byte.
 *   hashtable  a ds/htab of nodes, each holding one field and its value in a
 *              single allocation, keyed by SipHash of the field. A hash
 *              never goes back from hashtable to listpack (as Redis).
 *
 * A `struct hash *` is the object stored in the key's entry; changes may
 * move or convert it, so they take `struct hash **` and the caller stores
 * the new pointer back.
 *
 * Values read from a hash come as text (integers in a listpack are
 * formatted into scratch buffers of the caller's struct), valid until the
 * next change of the hash.
 *
 * Thread context: nothing here knows keys, locks or clients; the caller
 * holds the owning key's stripe lock. The thresholds are process-wide
 * (hash_set_limits, [any]).
 */
#ifndef STASH_TYPES_HASH_H
#define STASH_TYPES_HASH_H

#include "base/common.h"
#include "ds/htab.h"
#include "ds/listpack.h"

#define HASH_DEFAULT_MAX_LP_ENTRIES 512
#define HASH_DEFAULT_MAX_LP_VALUE 64

enum hash_encoding { HASH_ENC_LISTPACK = 0, HASH_ENC_HT = 1 };

struct hash;

/* hash-max-listpack-entries / hash-max-listpack-value. [any] */
void hash_set_limits(long long max_entries, long long max_value);

/* An empty hash (listpack). */
struct hash *hash_new(void);
enum hash_encoding hash_encoding(const struct hash *h);
/* Number of fields. O(1). */
size_t hash_len(const struct hash *h);

/* ---- type_ops (store/entry.h) ---------------------------------------------------------------- */

void hash_free(void *h);
void *hash_dup(const void *h);
/* Bytes held, O(1) (a byte count kept in the table encoding). */
size_t hash_mem(const void *h);
/* "listpack" or "hashtable". */
const char *hash_enc_name(const void *h, int enc);
/* Redis's DEBUG DIGEST of the fields: xor over the pairs of
 * SHA1-mix(field, value) (base/digest.h). */
void hash_digest(const void *h, unsigned char digest[20]);

/* ---- reading --------------------------------------------------------------------------------- */

/* A field or value as text; buf holds formatted integers. */
struct hash_str {
    const char *ptr;
    size_t len;
    char buf[LP_INTBUF_SIZE];
};

/* The value of field f: true and *v when present. */
bool hash_get(struct hash *h, const char *f, size_t flen, struct hash_str *v);
/* The value of field f as an integer when it is stored as one (listpack);
 * else as text. Returns false when absent. *is_int tells which. */
bool hash_get_raw(struct hash *h, const char *f, size_t flen, const char **s, size_t *len,
                  long long *ll, bool *is_int);
bool hash_exists(struct hash *h, const char *f, size_t flen);

/* ---- changes --------------------------------------------------------------------------------- */

/* Before writing strings of these lengths (Redis's hashTypeTryConversion):
 * convert to a table when one is longer than the listpack value limit or
 * their sum would make the listpack unsafe. */
void hash_prepare(struct hash **h, const size_t *lens, size_t n);
/* Set f to v; returns true when f is a new field. Converts to a table when
 * f or v is too long for a listpack, or the listpack gets too many fields. */
bool hash_set(struct hash **h, const char *f, size_t flen, const char *v, size_t vlen);
/* Remove f; returns whether it was there. */
bool hash_delete(struct hash **h, const char *f, size_t flen);
/* Convert to the table encoding (DEBUG, tests). */
void hash_convert_to_ht(struct hash **h);

/* ---- iteration (no changes meanwhile) -------------------------------------------------------- */

struct hash_iter {
    struct hash *h;
    unsigned char *p;    /* listpack: the next field */
    struct htab_iter it; /* table */
    bool started;
};
void hash_iter_init(struct hash *h, struct hash_iter *it);
/* The next pair, false at the end. f or v may be NULL when not wanted. */
bool hash_iter_next(struct hash_iter *it, struct hash_str *f, struct hash_str *v);

/* ---- random ---------------------------------------------------------------------------------- */

/* One random pair of a non-empty hash (v may be NULL). */
void hash_random(struct hash *h, struct hash_str *f, struct hash_str *v);

/* Positions of random pairs, for drawing many (HRANDFIELD with a negative
 * count): build once, then hash_sampler_get for each pick. */
struct hash_sampler {
    struct hash *h;
    unsigned char **lp_fields; /* listpack: every field's entry */
    size_t n;
};
void hash_sampler_init(struct hash *h, struct hash_sampler *s);
void hash_sampler_get(struct hash_sampler *s, struct hash_str *f, struct hash_str *v);
void hash_sampler_free(struct hash_sampler *s);

/* Visit `count` distinct random pairs (count < hash_len) without a copy of
 * the hash: selection sampling over the fields when count is a large part
 * of the hash, distinct random picks otherwise. */
typedef void (*hash_pair_fn)(const struct hash_str *f, const struct hash_str *v, void *arg);
void hash_random_distinct(struct hash *h, size_t count, bool want_values, hash_pair_fn fn,
                          void *arg);

/* ---- scanning -------------------------------------------------------------------------------- */

/* HSCAN step on a table: visit the pairs of one cursor step; returns the
 * next cursor. On a listpack (visited whole in one call) it returns 0. */
uint64_t hash_scan(struct hash *h, uint64_t cursor, hash_pair_fn fn, void *arg);

/* ---- untrusted input (RDB) ------------------------------------------------------------------- */

/* Is blob a valid listpack hash payload (even count, distinct fields)? */
bool hash_validate_listpack(const unsigned char *blob, size_t size, bool deep);

/* The listpack blob of a listpack hash (its RDB payload), NULL for a table. */
const unsigned char *hash_listpack(const struct hash *h);
/* A hash made of a validated listpack of field/value pairs (taken over),
 * converted to a table when it has more fields than the listpack limit
 * (Redis's RDB loading rule). */
struct hash *hash_from_listpack(unsigned char *lp);

#endif

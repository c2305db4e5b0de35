/*
 * cmd/zset.h - what the sorted-set commands share with the families built
 * on sorted sets (geo, SORT) and the setup of the value types of cmd/zset.c
 * and cmd/hll.c.
 *
 * Thread context: commands run [stripe-locked] on their keys' stripes.
 */
#ifndef STASH_CMD_ZSET_H
#define STASH_CMD_ZSET_H

#include "cmd/cmd.h"
#include "types/zset.h"

/* Register the sorted set type and its options (zset-max-listpack-*). */
void cmd_zset_setup(void);
/* Register hll-sparse-max-bytes. */
void cmd_hll_setup(void);

/* The sorted set of entry e (a TYPE_ZSET entry). */
static inline struct zset *zset_of(const struct entry *e) {
    return entry_obj(e);
}

/* Put z (non-empty) under key k as a command's result (Redis's setKey):
 * overwrites any value (and its TTL) or adds the key ("new" event), and
 * signals WATCH. Takes ownership of z. */
void cmd_zset_store(struct client *c, const struct store_key *k, struct zset *z);

/* Delete key k if it exists (a store command with an empty result): WATCH,
 * "del" event, one change. Returns whether it existed. */
bool cmd_delete_if_exists(struct client *c, const struct store_key *k);

/* Score range parsing as Redis's zslParseRange (false: invalid). */
bool cmd_zset_parse_range(const struct client *c, int imin, int imax, struct zsl_range *r);

/* Sorting helpers (cmd/sort.c), shared with cmd/geo.c. cmp returns <0, 0
 * or >0. cmd_sort_stable: a stable merge sort (the order glibc's qsort
 * gives). cmd_sort_partial: Redis's pqsort, Bentley & McIlroy's quicksort
 * that only orders what ranks [lrank, rrank] need (equal elements come in
 * the same order as on Redis). */
typedef int (*cmd_cmp_fn)(const void *a, const void *b, void *ctx);
/* Lock SORT's stripes by its real keys (registers a key finder). */
void cmd_sort_setup(void);
void cmd_sort_stable(void *base, size_t n, size_t es, cmd_cmp_fn cmp, void *ctx);
void cmd_sort_partial(void *base, size_t n, size_t es, cmd_cmp_fn cmp, void *ctx, size_t lrank,
                      size_t rrank);

#endif

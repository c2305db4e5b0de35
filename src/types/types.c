/*
 * types/types.c - the value-types layer: collection objects (hash, list,
 * set, sorted set, HyperLogLog...) with their compact and big encodings,
 * built on ds/. Each type lives in its own file (types/<type>.c) with a
 * header exposing its object API and a `struct type_ops`-compatible set of
 * free/dup/mem functions that cmd/ registers with store/entry at setup.
 *
 * Rules: nothing here knows keys, stripes, clients or replies; everything
 * is called with the owning key's stripe lock held by the caller.
 */
#include "base/common.h"

/* The layer's library needs at least one object file. */
int types_layer_version(void);
int types_layer_version(void) { return 1; }

/*
 * types/stream_int.h - what stream.c needs from stream_cg.c (the consumer
 * groups of a stream): freeing, copying and sizing them with the stream.
 * Private to types/stream*.c.
 */
#ifndef STASH_TYPES_STREAM_INT_H
#define STASH_TYPES_STREAM_INT_H

#include "types/stream.h"

/* Free a stream's groups tree (name -> struct stream_cg). */
void stream_cgroups_free(struct radix *cgroups);
/* Deep copy of src's groups into dst (which has none). */
void stream_cgroups_dup(struct stream *dst, const struct stream *src);
/* Bytes held by the groups, their PELs and consumers. O(groups + consumers). */
size_t stream_cgroups_mem(const struct radix *cgroups);

#endif

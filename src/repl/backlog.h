/*
 * repl/backlog.h - the replication stream in memory: one chain of shared
 * blocks that is at once the backlog (history kept for partial resyncs)
 * and every replica's output (Redis 7.0's shared replication buffer).
 *
 *   head                                                     tail
 *   [block start=1001 | 64 KiB] -> [block start=66537 | ..] -> [block ... used]
 *        ^ backlog's first byte         ^ replica A's cursor       ^ replica B
 *
 * Offsets are Redis's: the stream's bytes are numbered from 1; the offset
 * of the stream (master_repl_offset) is the number of its last byte. A
 * block holds bytes [start, start + used). The feeder (one thread) appends
 * at the tail; readers (the workers of replicas) follow the chain from
 * their cursor and send from the blocks without copying.
 *
 * Lifetime: the chain holds one reference on each of its blocks; a cursor
 * and each queued send (an output reference on a replica's connection)
 * hold one more. Blocks leave the chain only at the head, and only when
 * nothing but the chain holds them and the history without them is still
 * at least the backlog size (`repl-backlog-size`): a slow replica keeps
 * the history it still needs (bounded by its output buffer limit), as in
 * Redis. A reset (a new history) unlinks every block; each is freed when
 * its last holder lets go.
 *
 * Memory order: the feeder writes a block's bytes, then publishes `used`
 * with release; readers load it with acquire. `next` is published the
 * same way. The chain's structure (head, trimming, positioning a new
 * cursor) is guarded by the backlog mutex, a leaf lock; appends and cursor
 * moves take no lock (a cursor only moves forward from a block it holds,
 * and the head is never a block past a held one).
 *
 * Thread context: rbl_append/rbl_trim/rbl_reset from the feeder (or with
 * the feeder quiescent); cursors from their owner; the rest [any].
 */
#ifndef STASH_REPL_BACKLOG_H
#define STASH_REPL_BACKLOG_H

#include "base/common.h"

#include <stdatomic.h>

struct rbl_block {
    _Atomic int refs;
    _Atomic(struct rbl_block *) next;
    uint64_t start; /* number of data[0] in the stream */
    size_t cap;
    _Atomic size_t used;
    char data[];
};

/* A reader's position: the number of the next byte it takes, and the
 * block holding that byte (or the last block, when it is all taken). */
struct rbl_cursor {
    struct rbl_block *b;
    uint64_t next;
};

void rbl_setup(void);
void rbl_teardown(void);

/* Is there a backlog (repl_backlog_active)? [any] */
bool rbl_active(void);
/* Start a history: an empty backlog whose next byte is offset+1. A
 * backlog that existed is dropped first. [feeder] */
void rbl_create(uint64_t offset);
/* Drop the backlog (blocks still held are freed by their holders). */
void rbl_free(void);
/* Append n stream bytes. [feeder] */
void rbl_append(const void *p, size_t n);
/* The offset of the last byte (master_repl_offset); 0 before any. [any] */
uint64_t rbl_offset(void);
/* Free head blocks beyond the backlog size that only the chain holds. */
void rbl_trim(void);
/* repl-backlog-size. [any] */
void rbl_set_size(long long bytes);
long long rbl_size(void);
/* First byte kept and bytes kept (repl_backlog_first_byte_offset and
 * _histlen); 0, 0 without a backlog. [any] */
void rbl_range(uint64_t *first, uint64_t *histlen);
/* Bytes held by the chain's blocks (INFO memory). [any] */
size_t rbl_memory(void);

/* Place c at byte `next` (first byte offset <= next <= offset + 1);
 * false when that byte is not kept. c must be unset (b == NULL). [any] */
bool rbl_cursor_at(struct rbl_cursor *c, uint64_t next);
/* Copy a cursor (one more reference on its block). */
void rbl_cursor_copy(struct rbl_cursor *dst, const struct rbl_cursor *src);
void rbl_cursor_release(struct rbl_cursor *c);
/* The contiguous bytes available at the cursor (0 when none yet); *blk is
 * the block they are in. [owner of c] */
size_t rbl_cursor_peek(struct rbl_cursor *c, const char **p, struct rbl_block **blk);
/* Move past n bytes of what peek returned. */
void rbl_cursor_advance(struct rbl_cursor *c, size_t n);

void rbl_block_ref(struct rbl_block *b);
void rbl_block_unref(struct rbl_block *b);

#endif

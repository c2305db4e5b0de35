/*
 * persist/sink.h - where persisted bytes go: one small writer interface.
 *
 * Every byte that leaves the process for durability (RDB snapshots, and
 * later the AOF base and incremental files, a replica's full sync) goes
 * through a `struct persist_sink`. Producers only call write / flush /
 * sync / close; what is under it is pluggable:
 *
 *   file sink     buffered write(2) to a file descriptor, fsync(2);
 *                 on a regular file, encrypted at rest while a key is set
 *                 (persist/crypt.h: sink_file_open / sink_file_fd wrap
 *                 the file in the encrypting sink, so every persistence
 *                 file is covered; sockets and pipes, e.g. a replica's
 *                 full sync, always stay plain RDB)
 *   buffer sink   appends to a growable memory buffer (DUMP, tests)
 *
 *   The reading side of a file sink is persist/source.h.
 *
 * Errors: the first failing operation returns a negative ERR_* and stores
 * errno in `err`; later calls fail at once with the same error, so a
 * producer may check only at the end (as Redis's rio does).
 *
 * Ownership: close() releases the sink's resources and frees the sink;
 * the pointer is invalid afterwards.
 *
 * Thread context: a sink is used by one thread at a time (the snapshot
 * thread, or a command's own thread); it never takes store locks.
 */
#ifndef STASH_PERSIST_SINK_H
#define STASH_PERSIST_SINK_H

#include "base/buf.h"
#include "base/common.h"

struct persist_sink;

struct persist_sink_ops {
    /* Append n bytes. 0 or a negative ERR_*. */
    int (*write)(struct persist_sink *s, const void *p, size_t n);
    /* Hand buffered bytes to the layer below (e.g. write(2)). */
    int (*flush)(struct persist_sink *s);
    /* Make everything written durable (fsync). */
    int (*sync)(struct persist_sink *s);
    /* Flush, release and free the sink; returns the first error seen. */
    int (*close)(struct persist_sink *s);
};

struct persist_sink {
    const struct persist_sink_ops *ops;
    int err;        /* errno of the first failure, 0 while healthy */
    uint64_t bytes; /* accepted by write() so far */
};

static inline int sink_write(struct persist_sink *s, const void *p, size_t n) {
    int rc = s->ops->write(s, p, n);
    if (rc == 0) s->bytes += n;
    return rc;
}
static inline int sink_flush(struct persist_sink *s) { return s->ops->flush(s); }
static inline int sink_sync(struct persist_sink *s) { return s->ops->sync(s); }
static inline int sink_close(struct persist_sink *s) { return s->ops->close(s); }

/* A file sink writing to `path` (created or truncated, mode 0644). Returns 0
 * and *out, or ERR_IO with errno set. While a key is set the file is an
 * encrypted container. */
int sink_file_open(const char *path, struct persist_sink **out);
/* A file sink on an open descriptor it takes over (closed by close()).
 * A regular file that is empty becomes an encrypted container while a key
 * is set; a non-empty one is appended to in its own form (an encrypted
 * container goes on, its end marker cut; when that fails, for a missing
 * key or a damaged chunk, the sink fails its writes and the reason is
 * logged). Sockets and pipes are written as they are. */
struct persist_sink *sink_file_fd(int fd);

/* A memory sink appending to *b (the caller keeps owning b). */
struct persist_sink *sink_buffer(struct buf *b);

#endif

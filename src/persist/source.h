/*
 * persist/source.h - where persisted bytes come back from: the reading
 * side of persist/sink.h's file sink.
 *
 * A source gives back the bytes a file sink was given, whatever the file
 * holds: a plain file is read as it is; an encrypted container
 * (persist/crypt.h) is authenticated and decrypted. Every reader of a
 * persistence file (RDB loading through rdb_reader_fd, the AOF) goes
 * through it, so encryption at rest is transparent to them.
 *
 * Never half-loaded: opening an encrypted file authenticates all of it
 *   first (every chunk in order, and the terminator, with nothing after
 *   it) without handing out a byte; only then do reads start, each chunk
 *   authenticated again before its bytes are returned. A tampered, cut or
 *   reordered file, a wrong or missing key: the open fails with the
 *   reason, and the caller has applied nothing. (A file changed on disk
 *   between the check and the read fails on the changed chunk.)
 *
 * Unterminated files: a writer that never closed its file (an AOF when
 *   the server died) leaves no terminator. With SOURCE_UNTERMINATED_OK the
 *   open accepts that (a torn last chunk is left out) and
 *   source_unterminated() says so, for the caller's policy (Redis's
 *   aof-load-truncated); without it such a file is refused as truncated.
 *
 * The descriptor is borrowed (the caller closes it); a plain source reads
 * it from its current offset with read(2) (files, pipes, sockets); an
 * encrypted one with pread(2) (regular files only; the offset is left
 * alone).
 *
 * Thread context: one thread at a time per source; no locks.
 */
#ifndef STASH_PERSIST_SOURCE_H
#define STASH_PERSIST_SOURCE_H

#include "base/common.h"

#include <sys/types.h>

struct persist_source;

#define SOURCE_UNTERMINATED_OK 1u /* accept an encrypted file without its terminator */

/* A source over fd from its current offset: a plain file of `size` bytes,
 * or the encrypted container found there (authenticated now). 0, or -1
 * with the reason in err (nothing allocated). */
int source_open_fd(int fd, uint64_t size, unsigned flags, struct persist_source **out, char *err, size_t errcap);
/* Up to n bytes into p: the number read (less than n only at the end), 0
 * at the end, -1 on error (source_error tells why). */
ssize_t source_read(struct persist_source *s, void *p, size_t n);
/* Bytes the source gives in all (plain: the size asked for). */
uint64_t source_size(const struct persist_source *s);
bool source_encrypted(const struct persist_source *s);
/* An encrypted file opened with SOURCE_UNTERMINATED_OK had no terminator. */
bool source_unterminated(const struct persist_source *s);
const char *source_error(const struct persist_source *s);
/* Release the source (not its descriptor). */
void source_close(struct persist_source **s);

#endif

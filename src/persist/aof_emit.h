/*
 * persist/aof_emit.h - keys as commands: the body of an AOF-format base
 * (aof-use-rdb-preamble no), as Redis's rewriteAppendOnlyFileRio writes it.
 *
 *   string   SET key value
 *   list     RPUSH key e1 ... e64   (64 elements per command)
 *   set      SADD key m1 ... m64
 *   zset     ZADD key score1 m1 ... (scores as %.17g)
 *   hash     HMSET key f1 v1 ...
 *   stream   XADD key id f v ... per entry (XADD key MAXLEN 0 0-1 x y for an
 *            empty one), XSETID key last ENTRIESADDED n MAXDELETEDID id,
 *            per group XGROUP CREATE key g last ENTRIESREAD n, then per
 *            consumer XCLAIM key g c 0 id TIME t RETRYCOUNT n JUSTID FORCE
 *            for each pending entry, or XGROUP CREATECONSUMER key g c
 *   expiry   PEXPIREAT key ms
 *
 * Thread context: aof_put_entry [stripe-locked] on the key's entry; the
 * rest [any].
 */
#ifndef STASH_PERSIST_AOF_EMIT_H
#define STASH_PERSIST_AOF_EMIT_H

#include "base/buf.h"
#include "base/common.h"
#include "store/entry.h"

/* The commands that rebuild e. false (nothing written) for a type this
 * writer does not know. */
bool aof_put_entry(struct buf *b, const struct entry *e);
/* SELECT db. */
void aof_put_select(struct buf *b, int db);
/* A whole command from C strings (argc of them). */
void aof_put_command(struct buf *b, int argc, const char *const *argv, const size_t *lens);
/* "#TS:<unix time>\r\n". */
void aof_put_timestamp(struct buf *b, long long unix_s);

#endif

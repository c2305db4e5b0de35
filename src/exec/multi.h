/*
 * exec/multi.h - MULTI/EXEC/DISCARD/WATCH.
 *
 * Queued commands keep private copies of their arguments (none once the
 * transaction is doomed: a rejected command or a touched watched key, as
 * Redis). EXEC locks the union of the stripes of every queued command's
 * keys and of the watched keys -- all stripes when a queued command walks
 * or replaces the whole keyspace, its keys cannot be known, or it is a
 * keyless command outside the connection/pubsub/transactions groups (it
 * may call store functions that lock on their own, and a nested store_run
 * may only use stripes already held) -- checks WATCH, runs the queue with
 * the clock frozen and CLIENT_IN_EXEC set (blocking commands must not
 * block, fan-outs must answer locally), and seals the effects as one
 * MULTI ... EXEC block in the log. Keyspace events, PUBLISH deliveries and
 * MONITOR lines of the queue go out after the locks are released, in
 * order. Other clients see all of the transaction or none of it.
 *
 * Thread context: [owner] of the client.
 */
#ifndef STASH_EXEC_MULTI_H
#define STASH_EXEC_MULTI_H

#include "exec/client.h"

void multi_begin(struct client *c);
/* Queue the current command (c->cmd, c->argv). */
void multi_queue(struct client *c);
void multi_discard(struct client *c);
void multi_exec(struct client *c);
/* Reset transaction state without replying (RESET, client close). */
void multi_reset(struct client *c);
/* Memory held by the queue (CLIENT LIST multi-mem). */
size_t multi_memory(const struct client *c);
int multi_queued(const struct client *c);
/* Union of the queued commands' flags (CMD_WRITE, CMD_DENYOOM...). */
uint64_t multi_flags(const struct client *c);
/* Flags that at least one queued command lacks (Redis's cmd_inv_flags). */
uint64_t multi_inv_flags(const struct client *c);

#endif

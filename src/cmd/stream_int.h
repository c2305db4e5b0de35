/*
 * cmd/stream_int.h - what the stream command files (cmd/stream.c: entries,
 * XREAD; cmd/stream_cg.c: consumer groups) share: argument parsing with
 * Redis's errors, entry replies, and the effects consumer groups propagate.
 * Private to cmd/stream*.c.
 *
 * Thread context: [stripe-locked] on the command's keys, like the commands.
 */
#ifndef STASH_CMD_STREAM_INT_H
#define STASH_CMD_STREAM_INT_H

#include "cmd/cmd.h"
#include "types/stream.h"

#define XERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

/* The stream at argv[i] for reading (NULL when absent; *wrong set and the
 * WRONGTYPE error replied when it holds another type). */
struct stream *xstream_lookup_read(struct client *c, int i, bool *wrong);

/* Parse argv[i] as a stream ID (stream_id_parse); replies XERR_INVALID_ID. */
bool xparse_id(struct client *c, int i, uint64_t missing_seq, bool strict, bool *seq_given,
               struct stream_id *out);
/* An interval bound: "(" makes it exclusive (strict parse of the rest),
 * else "-" and "+" are allowed. */
bool xparse_interval(struct client *c, int i, uint64_t missing_seq, bool *exclusive, struct stream_id *out);

void xreply_id(struct client *c, const struct stream_id *id);

/* Who a consumer-group read propagates for: the key and group names. */
struct xprop {
    const char *key;
    size_t klen;
    const char *group;
    size_t glen;
};

#define XRANGE_NOACK 1u   /* no PEL entries */
#define XRANGE_RAW 2u     /* the entries without the enclosing array */
#define XRANGE_HISTORY 4u /* the consumer's own PEL (XREADGROUP with an ID) */

/* Redis's streamReplyWithRange: reply the entries in [start, end] (end NULL:
 * open), at most count (0: all), and with a group: advance its last ID and
 * read counter, add the entries to the PEL of `consumer` (unless NOACK) and
 * propagate that as XCLAIM (and XGROUP SETID under NOACK) when p is set.
 * Returns the number of entries replied. */
size_t xreply_range(struct client *c, struct stream *s, const struct stream_id *start,
                    const struct stream_id *end, size_t count, bool rev, struct stream_cg *cg,
                    struct stream_consumer *consumer, unsigned flags, const struct xprop *p);

/* The consumer of a group read by a command: looked up (its seen time
 * refreshed) or created (keyspace event "xgroup-createconsumer", a change;
 * propagated as XGROUP CREATECONSUMER when `propagate`). */
struct stream_consumer *xconsumer_get(struct client *c, struct stream_cg *cg, const struct xprop *p,
                                      const char *name, size_t len, bool propagate);

/* The effects of consumer-group reads (Redis's streamPropagate*): the
 * idempotent XCLAIM ... TIME RETRYCOUNT FORCE JUSTID LASTID that recreates
 * a NACK (idarg: the ID as given or formatted), and XGROUP SETID with
 * ENTRIESREAD. */
void xpropagate_claim(struct client *c, const struct xprop *p, const struct stream_cg *cg,
                      const char *idarg, size_t idlen, const struct stream_nack *n);
void xpropagate_setid(struct client *c, const struct xprop *p, const struct stream_cg *cg);

#endif

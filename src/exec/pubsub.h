/*
 * exec/pubsub.h - publish/subscribe and keyspace notifications.
 *
 * Registry: channels hash into 64 shards, each a mutex and a table of
 * channel -> subscribers (worker, client id). Patterns live in one list
 * under a reader/writer lock (few patterns, many publishes).
 *
 * PUBLISH finds the subscribers, groups them by owner worker and posts ONE
 * message per worker; each worker formats and appends the message to its
 * clients' output. Subscribers on the publisher's own worker get it before
 * PUBLISH returns. Ordering: messages from one publisher reach any given
 * subscriber in publish order (FIFO mailboxes); publishers on different
 * workers may be seen in different orders by different subscribers,
 * something single-threaded Redis never shows.
 *
 * Keyspace notifications are staged during a command (under stripe locks)
 * and published by pubsub_flush_notifications() once the locks are gone.
 * A PUBLISH run under stripe locks (inside EXEC) computes its receivers at
 * once but its deliveries wait in the same queue, so subscribers see the
 * events of a transaction in command order, and no mailbox is posted to
 * (a syscall) while stripes are held.
 *
 * Sharded pub/sub (SSUBSCRIBE, SPUBLISH) is a second channel namespace with
 * no patterns; without cluster mode it behaves as Redis standalone does.
 *
 * Thread context: [owner] of the client for the client functions; publish
 * [any worker].
 */
#ifndef STASH_EXEC_PUBSUB_H
#define STASH_EXEC_PUBSUB_H

#include "exec/client.h"

/* notify-keyspace-events classes (Redis letters). */
#define NOTIFY_KEYSPACE (1 << 0) /* K */
#define NOTIFY_KEYEVENT (1 << 1) /* E */
#define NOTIFY_GENERIC (1 << 2)  /* g */
#define NOTIFY_STRING (1 << 3)   /* $ */
#define NOTIFY_LIST (1 << 4)     /* l */
#define NOTIFY_SET (1 << 5)      /* s */
#define NOTIFY_HASH (1 << 6)     /* h */
#define NOTIFY_ZSET (1 << 7)     /* z */
#define NOTIFY_EXPIRED (1 << 8)  /* x */
#define NOTIFY_EVICTED (1 << 9)  /* e */
#define NOTIFY_STREAM (1 << 10)  /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m */
#define NOTIFY_LOADED (1 << 12)
#define NOTIFY_MODULE (1 << 13)  /* d */
#define NOTIFY_NEW (1 << 14)     /* n */
#define NOTIFY_ALL (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET | \
                    NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE) /* A */

void pubsub_setup(void);
/* Free the calling thread's staging list (thread exit). */
void pubsub_thread_cleanup(void);
void pubsub_teardown(void);

/* SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE / PUNSUBSCRIBE, replying per Redis. */
void pubsub_subscribe(struct client *c, int argc, const char *const *argv, const size_t *lens, bool pattern);
void pubsub_unsubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens, bool pattern);
/* SSUBSCRIBE / SUNSUBSCRIBE. */
void pubsub_ssubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens);
void pubsub_sunsubscribe(struct client *c, int argc, const char *const *argv, const size_t *lens);
/* Drop all subscriptions of a closing client (no replies). */
void pubsub_client_gone(struct client *c);
/* Channels + patterns c is subscribed to (what (P)SUBSCRIBE replies show). */
int pubsub_count(const struct client *c);
int pubsub_channel_count(const struct client *c);
int pubsub_pattern_count(const struct client *c);
/* Shard channels c is subscribed to (CLIENT LIST ssub=). */
int pubsub_shard_count(const struct client *c);
/* Does fn return true for one of c's subscriptions (channels, patterns,
 * shard channels)? Stops at the first. [owner] */
typedef bool (*pubsub_name_fn)(void *arg, const char *name, size_t len, bool pattern);
bool pubsub_client_any(const struct client *c, pubsub_name_fn fn, void *arg);

/* PUBLISH / SPUBLISH: returns receivers. */
long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen);
long pubsub_spublish(const char *ch, size_t chlen, const char *msg, size_t mlen);

/* PUBSUB CHANNELS [pattern] / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB. */
void pubsub_reply_channels(struct client *c, const char *pat, size_t plen);
void pubsub_reply_shard_channels(struct client *c, const char *pat, size_t plen);
long pubsub_numsub(const char *ch, size_t len);
long pubsub_shard_numsub(const char *ch, size_t len);
long pubsub_numpat(void);
long pubsub_total_channels(void);
long pubsub_total_shard_channels(void);

/* Keyspace notifications. */
void pubsub_set_notify_flags(int flags);
int pubsub_notify_flags(void);
/* "Ag$..." <-> flags; returns -1 on a bad letter. */
int pubsub_notify_parse(const char *s, size_t n);
void pubsub_notify_format(int flags, struct buf *out);
static inline bool pubsub_notify_wanted(int type);
extern int pubsub_notify_flags_;
static inline bool pubsub_notify_wanted(int type) {
    int f = __atomic_load_n(&pubsub_notify_flags_, __ATOMIC_RELAXED);
    return (f & type) && (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT));
}
/* Stage an event (any context, including under stripe locks). */
void pubsub_notify(int type, const char *event, int db, const char *key, size_t klen);
/* Publish the notifications and send the deliveries this thread staged,
 * in order. [no locks held; a no-op inside store_run] */
void pubsub_flush_notifications(void);

#endif

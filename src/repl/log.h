/*
 * repl/log.h - the one ordered log of effects (feeds AOF and replicas).
 *
 * Every write that changes the dataset stages its effect here, in RESP, as
 * the command a replica or the AOF must apply (relative times already made
 * absolute: EXPIRE -> PEXPIREAT). Order in the log agrees with the order in
 * which conflicting writes happened, because the position is taken while
 * the writer still holds the stripe locks of the keys it changed:
 *
 *   under the locks   log_stage(...)   encode into a thread-local buffer
 *                     log_seal()       ONE atomic add reserves [pos, pos+len)
 *   after unlocking   log_publish()    copy into the ring, mark committed
 *
 * A locked section (one command, or a whole MULTI/EXEC) is sealed as one
 * contiguous block; with `wrap`, a block of several records is enclosed in
 * MULTI ... EXEC as Redis propagates transactions.
 *
 * Ring: `size` bytes (power of two), records at 8-byte aligned absolute
 * positions: [pos u64][len u32][db i32][payload][pad]. A record is committed
 * when its first word equals its own position (stored last, with release),
 * so a reader never mistakes the previous lap's bytes for a record. A
 * producer whose reservation would overwrite unread bytes waits (outside any
 * lock) for the consumer.
 *
 * Staging is skipped entirely while no reader is attached. Several readers
 * may read the log, each at its own position (log_reader_*).
 *
 * Thread context: log_stage/log_seal [stripe-locked]; log_publish [no
 * locks]; consumer functions from the single consumer thread.
 */
#ifndef STASH_REPL_LOG_H
#define STASH_REPL_LOG_H

#include "base/common.h"

#include <stdatomic.h>

int log_setup(size_t ring_bytes);
void log_teardown(void);

/* Producers ------------------------------------------------------------- */

extern _Atomic bool log_active;
static inline bool log_enabled(void) { return atomic_load_explicit(&log_active, memory_order_relaxed); }

/* Stage one effect: a command of argc arguments for database db. */
void log_stage(int db, int argc, const char *const *argv, const size_t *lens);
/* Stage a command given as a NULL-terminated list of C strings. */
void log_stage_cstr(int db, ...);
/* Number of records staged and not yet sealed (this thread). */
int log_staged(void);
/* Drop what this thread staged (a command that failed half-way: never,
 * commands validate before changing; used by tests). */
void log_discard(void);
/* A point in this thread's staged (unsealed) records, to drop what was
 * staged after it (a script's redis.set_repl(REPL_NONE) commands). */
struct log_mark {
    size_t bytes;
    int n;
};
void log_mark_get(struct log_mark *m);
void log_mark_rewind(const struct log_mark *m);
/* Reserve the ring space for everything staged. Returns the block's
 * starting position (or 0 when nothing was staged). */
uint64_t log_seal(bool wrap);
/* Copy sealed blocks into the ring and commit them. */
void log_publish(void);
/* Free the calling thread's staging buffers (thread exit). */
void log_thread_cleanup(void);
/* End position of the last block this thread sealed (0: none yet): a
 * writer whose effects must be durable before it replies waits for the
 * log's consumers to pass it (appendfsync always, persist/aof.h). */
uint64_t log_sealed_end(void);
/* Mute this thread's staging (replaying an AOF: its commands are already
 * on disk and must not be logged again). */
void log_set_muted(bool muted);
/* Batch the wake-ups of this thread's publishes (a worker thread): a
 * reader waiting for records is woken by log_flush_wakes (once per event
 * loop iteration) instead of by every publish: one futex call and one
 * context switch per batch of commands. */
void log_defer_wakes(bool on);
void log_flush_wakes(void);

/* Readers ------------------------------------------------------------------ */

/* Several readers (the AOF, the replication backlog...) read the same
 * records, each at its own pace; ring space is reused only once every
 * reader is past it (a slow reader makes producers wait, outside any lock).
 * Staging runs while at least one reader is attached. Each reader belongs
 * to one thread at a time. */
struct log_reader;
typedef void (*log_record_fn)(int db, const char *payload, size_t len, void *arg);

/* Attach a reader; staging begins now (if it was off). Its first record is
 * the first one sealed after this call. [any] */
struct log_reader *log_reader_attach(void);
/* Detach (and free) a reader; staging stops with the last one. */
void log_reader_detach(struct log_reader **r);
/* Position of the reader's next record. */
uint64_t log_reader_pos(const struct log_reader *r);
/* Deliver committed records from the reader's position on (at most max),
 * advance it and release the space every reader has passed. Returns how
 * many were delivered. */
int log_read(struct log_reader *r, int max, log_record_fn fn, void *arg);
/* Wait until a record is committed at the reader's position, or
 * timeout_ms pass; returns whether one is there. No syscall when one is
 * there already; producers wake a waiting reader after publishing. */
bool log_reader_wait(struct log_reader *r, int timeout_ms);
/* log_read, stopping before the first record at or after `end` (a reader
 * that must switch its output at an exact position, e.g. the AOF at a
 * rewrite's cut). */
int log_read_upto(struct log_reader *r, uint64_t end, int max, log_record_fn fn, void *arg);
/* Wake every reader sleeping in log_reader_wait (it then looks at its own
 * state: requests from other threads). [any] */
void log_reader_wake(void);
/* The wake-up sequence, for a reader that also waits for requests of its
 * own: read it, look at the requests, then wait with it; a wake-up that
 * came in between is not missed. */
uint32_t log_wake_seq(void);
/* log_reader_wait given the sequence read before; r may be NULL (wait for
 * a wake-up or the timeout only). */
bool log_reader_wait_seq(struct log_reader *r, uint32_t seq, int timeout_ms);

/* Position of the next reservation. */
uint64_t log_tail(void);

/* The single-reader interface the unit tests use: one implicit reader. */
uint64_t log_attach(void);
void log_detach(void);
/* Deliver committed records from *pos on (at most max); returns how many. */
int log_consume(uint64_t *pos, int max, log_record_fn fn, void *arg);
/* Everything before pos is read: producers may reuse that space. */
void log_release(uint64_t pos);

#endif

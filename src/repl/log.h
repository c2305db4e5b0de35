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
 * Kinds: every record has a kind, kept in the high byte of its db word.
 *   LOG_EFFECT  an effect to replicate and persist (the default);
 *   LOG_LOCAL   an effect to persist only: what a replica applies from its
 *               primary (its replicas get the primary's bytes instead) and
 *               writes made on a writable replica (Redis replicates
 *               neither);
 *   LOG_RAW     replication stream bytes as they came from the primary,
 *               verbatim (a replica proxies them to its own replicas, so
 *               that offsets are the same down a chain); never persisted;
 *   LOG_REPL    a command for the replicas only, not persisted (PUBLISH:
 *               Redis propagates it to replicas, not to the AOF).
 * A thread stages records of its own kind (log_set_thread_kind) or of the
 * process default (log_set_default_kind: LOCAL while a replica). log_read
 * delivers EFFECT and LOCAL records (the AOF's view); log_read_ex delivers
 * every record with its kind and position (replication's view).
 *
 * Big records: a record whose payload is at least LOG_BIG bytes is kept
 * out of the ring (a heap copy; the ring holds its address), so that a
 * value bigger than the ring never makes a producer wait forever. The copy
 * is freed once every reader has passed the record.
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

enum log_kind { LOG_EFFECT = 0, LOG_LOCAL = 1, LOG_RAW = 2, LOG_REPL = 3 };

/* The kind this thread stages from now on; -1: the process default.
 * [any thread, for itself] */
void log_set_thread_kind(int kind);
/* The kind threads stage by default (LOG_EFFECT at start). [any] */
void log_set_default_kind(int kind);

/* Stage one effect: a command of argc arguments for database db. */
void log_stage(int db, int argc, const char *const *argv, const size_t *lens);
/* Stage one command of an explicit kind (LOG_REPL). */
void log_stage_kind(int db, int kind, int argc, const char *const *argv, const size_t *lens);
/* Stage replication stream bytes (whole commands, already RESP) received
 * from a primary, verbatim, as one LOG_RAW record. db: the stream's
 * database after these bytes (informative). */
void log_stage_raw(int db, const char *p, size_t n);
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
/* Blocks this thread has sealed so far (a command that wrote changes it). */
uint64_t log_thread_seals(void);
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
 * the first one sealed after this call. It reads the persisted kinds
 * (EFFECT, LOCAL); log_reader_attach_kinds names others: records of a kind
 * no attached reader reads are not staged at all. [any] */
struct log_reader *log_reader_attach(void);
#define LOG_KINDS_PERSIST ((1u << LOG_EFFECT) | (1u << LOG_LOCAL))
#define LOG_KINDS_REPL ((1u << LOG_EFFECT) | (1u << LOG_RAW) | (1u << LOG_REPL))
struct log_reader *log_reader_attach_kinds(unsigned kinds);
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
/* The wake-up sequence, for a reader that also waits for requests of its
 * own: read it, look at the requests, then wait with it; a wake-up that
 * came in between is not missed. */
uint32_t log_wake_seq(void);
/* log_reader_wait given the sequence read before; r may be NULL (wait for
 * a wake-up or the timeout only). */
bool log_reader_wait_seq(struct log_reader *r, uint32_t seq, int timeout_ms);

/* Every record with its kind and position (replication's reader). */
struct log_record {
    uint64_t pos;  /* position of the record */
    uint64_t next; /* position of the record after it */
    int db;
    int kind; /* enum log_kind */
    const char *payload;
    size_t len;
};
typedef void (*log_record_ex_fn)(const struct log_record *rec, void *arg);
int log_read_ex(struct log_reader *r, int max, log_record_ex_fn fn, void *arg);

/* Wake every reader sleeping in log_reader_wait (it then looks at its own
 * state: requests from other threads; no syscall when none sleeps). [any] */
void log_wake_readers(void);

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

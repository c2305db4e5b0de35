/*
 * persist/aof.h - the append-only file: Redis 7's multi-part AOF, written
 * from the effects log by a thread of its own, rewritten from fork-less
 * snapshots, loaded at start-up, and the "appendfsync always" promise.
 *
 * Files: `dir`/`appenddirname`/ holds the manifest, one BASE (a snapshot:
 *   RDB with aof-use-rdb-preamble yes, commands with no) and the INCR files
 *   that follow it (persist/aof_manifest.h). base + incr = the dataset.
 *
 * Writing (the AOF thread, aof.c): it reads the effects log (repl/log.h)
 *   with a reader of its own, in log order, formats each record as Redis
 *   does (a "#TS:<unix time>" annotation when aof-timestamp-enabled and the
 *   second changed, SELECT when the database changes, the command in RESP)
 *   into a buffer (aof_buf), and writes the buffer to the current INCR file
 *   through a persist sink. appendfsync:
 *     always    fsync after every write, before replies are released (below)
 *     everysec  fsync on a background thread at most once a second; a write
 *               waits up to 2 s for a pending fsync, then goes ahead and is
 *               counted (aof_delayed_fsync), as Redis's flushAppendOnlyFile
 *     no        the kernel decides
 *   no-appendfsync-on-rewrite skips fsyncs while a snapshot runs.
 *
 * Rewrite (BGREWRITEAOF, auto-aof-rewrite-percentage/-min-size, enabling
 *   AOF at run time): a snapshot (persist/snapshot.h) takes its cut at log
 *   position C; the writer keeps appending the records before C to the old
 *   INCR file, then fsyncs it and switches to a new INCR file for C and
 *   after. When the snapshot is done it becomes the new BASE, the old files
 *   become history and are deleted: base(C) + incr(>= C) = the dataset.
 *   One snapshot at a time: a rewrite asked for while a BGSAVE runs is
 *   scheduled, as Redis schedules it when a child is active.
 *
 * "Never loses what it promised" (appendfsync always): a write's reply is
 *   not sent before its effects are on disk. After a client's batch of
 *   commands, its worker notes the end position of the log blocks it
 *   sealed (log_sealed_end); the client's output stays in its buffer until
 *   the AOF thread has written and fsynced up to that position
 *   (aof_durable). Nothing waits holding a lock and nothing spins: the
 *   worker keeps serving its other clients (their replies go out at once
 *   unless they wrote too), a held client keeps executing its pipelined
 *   commands (replies accumulate in order, as Redis's do before its
 *   beforeSleep fsync), and the AOF thread, after each fsync, calls the
 *   waker of every worker whose watched position is now durable (one
 *   mailbox post per worker per fsync: group commit). A client served a
 *   blocked pop by another thread waits for that pop's position.
 *   Reads see writes of other clients before those are durable (as a
 *   replica may); only a client's own writes gate its replies.
 *
 * Errors: a failed write is logged (at most every 30 s), the partial write
 *   trimmed, INFO shows aof_last_write_status:err, and write commands are
 *   refused with "-MISCONF Errors writing to the AOF file: <reason>" until
 *   a write succeeds again (retried every 100 ms with the buffered data).
 *   With appendfsync always nothing was acknowledged: the held replies go
 *   out once the data is on disk (Redis exits instead). A failed fsync
 *   (everysec) refuses writes the same way until one succeeds.
 *
 * Loading (before serving): the manifest, then the base (RDB or commands)
 *   and every INCR file, replayed through the normal command path by a
 *   fake client (replay hook below: MULTI/EXEC honoured, no replies, nothing
 *   logged again, no key expires while loading). A truncated last file is
 *   cut at its last complete command with aof-load-truncated yes (an
 *   unfinished MULTI is dropped), refused otherwise; a format error or an
 *   unknown command stops the server; messages are Redis's. An old single
 *   `appendonly.aof` in `dir` is moved into the directory as the base.
 *
 * Locks: the AOF mutex (aof_mu) guards the writer's state (manifest, files,
 *   buffer); the AOF thread holds it while it formats, writes and fsyncs a
 *   batch, never while it waits. Commands take it with no stripe held, and
 *   a rewrite's cut takes every stripe under it: aof_mu comes before the
 *   stripe locks (docs/design/lock-order.md). Inside EXEC (every stripe
 *   held) BGREWRITEAOF and CONFIG SET appendonly only schedule (atomics).
 *   INFO and the write gate read atomics only.
 *
 * Thread context: setup/start/stop from the main thread; commands from
 *   their worker [no locks held] unless noted.
 */
#ifndef STASH_PERSIST_AOF_H
#define STASH_PERSIST_AOF_H

#include "base/buf.h"
#include "base/common.h"

#include <stdatomic.h>

/* Register the options (appendonly, appendfsync, appenddirname, ...). */
void aof_setup(void);

/* How loading runs a command (the exec layer's fake client). `ctx` is
 * the replay's state, made by begin() and freed by end(). A command
 * returns 0, or -1 when it is unknown (the load fails). */
struct aof_replay_ops {
    void *(*begin)(void);
    int (*command)(void *ctx, int argc, const char **argv, const size_t *lens);
    bool (*in_multi)(void *ctx);
    void (*end)(void *ctx);
};
void aof_set_replay(const struct aof_replay_ops *ops);

/* Function libraries for an AOF-format base (FUNCTION LOAD commands). */
typedef void (*aof_lib_fn)(const char *code, size_t len, void *arg);
void aof_set_libraries(void (*foreach)(aof_lib_fn fn, void *arg));

/* Is AOF configured on (appendonly yes)? [any] */
bool aof_enabled(void);
/* Start-up: load the AOF when appendonly is yes. 1 when the AOF was
 * loaded or does not exist yet (the RDB file must not be loaded), 0 when
 * AOF is off, -1 after a fatal error was logged (exit code 1). */
int aof_load_startup(void);
/* Start-up, after loading and before serving: open (or create) the files,
 * start the writer thread. 0, or -1 after a fatal error was logged. */
int aof_start(void);
/* Shutdown: write and fsync what is buffered, stop the thread, cancel a
 * rewrite (its temp files are removed). */
void aof_stop(void);

/* BGREWRITEAOF. `in_exec`: inside a transaction (scheduled). Returns 0
 * started, 1 scheduled, or -1 with Redis's error in *err. */
int aof_bgrewrite(bool in_exec, const char **err);
/* DEBUG LOADAOF: write out what is buffered, empty the dataset, load the
 * manifest's files again. 0, or -1 (the server must exit, as Redis). */
int aof_debug_load(void);
/* DEBUG AOF-FLUSH-SLEEP <us>: sleep before each write (tests). */
void aof_set_flush_sleep(long long us);

/* Apply a CONFIG SET of appendonly made by this thread's command (called
 * by persist_after once no lock is held; cheap when nothing changed). */
void aof_after(void);

/* Shutdown: stop a running rewrite (its files removed). [no locks held] */
void aof_kill_rewrite(void);

/* A rewrite (snapshot for the AOF) is running / is scheduled. [any] */
bool aof_rewrite_running(void);

/* Writes refused because the AOF cannot be written: the error reply
 * (without '-', Redis's "MISCONF Errors writing to the AOF file: ...")
 * into buf, or false. [any, lock-free] */
bool aof_write_refused(char *buf, size_t cap);

/* ---- appendfsync always: replies wait for the disk [any, lock-free] ---------------------- */

extern _Atomic bool aof_gate;
/* Are replies of writers held until durable? (AOF on, appendfsync always) */
static inline bool aof_gating(void) { return atomic_load_explicit(&aof_gate, memory_order_relaxed); }
/* Effects-log position below which every record is on disk. */
uint64_t aof_durable(void);
/* Waiter slots (one per worker thread). */
#define AOF_WAITERS 256
/* Ask for waker(slot) once everything before `pos` is durable (or gating
 * stops). Returns true when it already is (no call will come). [owner of
 * the slot] */
bool aof_watch(int slot, uint64_t pos);
/* The function the AOF thread calls for a slot (exec posts to its worker). */
void aof_set_waker(void (*waker)(int slot));

/* INFO persistence: the aof_* fields (Redis's), after rdb_*. [any] */
void aof_info(struct buf *o);
/* The fields only INFO shows while AOF is on (aof_current_size...). */
void aof_info_enabled(struct buf *o);

#endif

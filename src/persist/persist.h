/*
 * persist/persist.h - the persistence module: RDB snapshots on disk (SAVE,
 * BGSAVE, save points, shutdown and FLUSHALL saves), loading at start-up,
 * DUMP/RESTORE payloads, and the numbers of INFO persistence.
 *
 * Files: `dir`/`dbfilename` (dump.rdb). A snapshot goes to
 *   temp-<pid>.rdb, is fsync'ed, renamed over the target and the
 *   directory fsync'ed, as Redis does: a crash at any moment leaves either
 *   the old file or the new one, never a torn one.
 *
 * Options (registered here, Redis's names and defaults): save
 *   ("3600 1 300 100 60 10000"), dbfilename, rdbcompression, rdbchecksum
 *   (immutable), rdb-del-sync-files, stop-writes-on-bgsave-error,
 *   rdb-key-save-delay (hidden, tests), rdb-save-incremental-fsync,
 *   sanitize-dump-payload (RESTORE payloads are always deep-checked);
 *   and Stash's encryption-key-file (below).
 *
 * Encryption at rest: with encryption-key-file set (a file of 32 raw bytes
 *   or 64 hex digits), every persistence file written through a file sink
 *   (snapshots; the AOF's files through the same constructors) is an
 *   AES-256-GCM container (persist/crypt.h), and every file read through
 *   rdb_reader_fd / a source (persist/source.h) is authenticated whole,
 *   then decrypted, transparently: a file that fails (wrong or missing
 *   key, tampered, cut, reordered) is refused before anything is loaded,
 *   with the reason logged. Plain files still load (the way in). CONFIG SET
 *   reads and checks the new file (a bad one changes nothing), writes new
 *   files with the new key and keeps the old one for reading; files on
 *   disk are rewritten by the next save. Sockets (a replica's full sync)
 *   are never encrypted.
 *
 * Function libraries: the scripting engine registers hooks
 *   (persist_set_functions); snapshots then carry FUNCTION2 records, which
 *   loading restores, and FUNCTION DUMP/RESTORE use the same codec.
 *
 * Failure handling: a failed save is logged with the reason, reported by
 *   INFO (rdb_last_bgsave_status:err) and, with stop-writes-on-bgsave-error
 *   and save points, makes the dispatcher refuse writes with MISCONF until a
 *   save succeeds.
 *
 * Locks: persist's job mutex is taken with no stripe held and is held
 *   while a snapshot's cut locks every stripe (lock order: persist job
 *   mutex -> stripes). Functions called under stripe locks
 *   (persist_writes_refused, persist_flushall) use atomics and
 *   thread-locals only.
 *
 * Thread context: commands call from their worker [no locks held] unless
 *   noted; persist_cron from the main thread.
 */
#ifndef STASH_PERSIST_PERSIST_H
#define STASH_PERSIST_PERSIST_H

#include "base/buf.h"
#include "base/common.h"
#include "store/entry.h"

#define PERSIST_ERR_MISCONF                                                                             \
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. " \
    "Commands that may modify the data set are disabled, because this instance is configured to "      \
    "report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "     \
    "Please check the Redis logs for details about the RDB error."

/* Register options and codecs. dirty: the server's change counter. */
void persist_setup(long long (*dirty)(void));
/* Cancel a running BGSAVE (its temp file removed) and wait for it. */
void persist_teardown(void);

/* Load the dataset before serving: the AOF when appendonly is yes
 * (persist/aof.h), else dir/dbfilename if it exists. 0, or -1 after a
 * fatal error was logged (the server must exit). */
int persist_load_startup(void);

/* Load an RDB stream (a file, or an AOF's RDB base / preamble) into the
 * keyspace. 0, or ERR_PROTO / ERR_IO with r->err (not logged). */
struct rdb_reader;
int persist_load_rdb(struct rdb_reader *r, bool replace);
/* INFO's loading fields around a load that is not persist's own (the AOF):
 * begin with the bytes to read, report progress, end. [any] */
void persist_loading_begin(uint64_t total_bytes);
void persist_loading_progress(uint64_t loaded_bytes);
void persist_loading_end(void);
/* Is a dataset being loaded (commands get -LOADING)? [any, lock-free] */
bool persist_loading(void);
/* The dataset matches what is on disk now (rdb_changes_since_last_save
 * becomes 0, as after DEBUG LOADAOF). */
void persist_reset_dirty(void);
/* The error that refuses writes while a save or the AOF keeps failing
 * (without the leading '-'), or NULL. buf holds formatted ones. [any] */
const char *persist_refusal(char *buf, size_t cap);
/* Load an RDB stream into the keyspace (a replica's full sync: keys
 * replace existing ones; expired keys are kept when !drop_expired, as a
 * replica waits for its primary's DEL). aux sees every AUX field. Sets
 * INFO's loading:1 meanwhile. 0, or an error (logged). [no locks held] */
int persist_load_rdb_sync(struct rdb_reader *r, bool drop_expired,
                          void (*aux)(void *arg, const char *k, const char *v), void *arg);

/* The options every snapshot takes from here (rdbcompression,
 * rdbchecksum, rdb-key-save-delay, replication's AUX hook). */
struct snapshot_opts;
void persist_snapshot_opts(struct snapshot_opts *o);
/* Replication: the AUX fields of every snapshot (called with the cut's
 * log position), and the repl-* fields found by start-up loading. */
void persist_set_repl_hooks(void (*aux)(struct buf *b, uint64_t cut_pos, void *arg),
                            void (*loaded)(const char *key, const char *val));

/* SAVE: 0, ERR_AGAIN (a background save runs), ERR_IO (failed, logged). */
int persist_save(void);
/* BGSAVE [SCHEDULE]. 0 started, 1 scheduled, ERR_AGAIN already running,
 * ERR_EXISTS an AOF rewrite runs (without SCHEDULE: Redis's "Another child
 * process is active (AOF?)" error).
 * `in_exec`: inside a transaction the save is scheduled (Redis). */
int persist_bgsave(bool schedule, bool in_exec);
/* Unix time of the last successful save (or start-up). [any] */
long long persist_lastsave(void);
/* Save points, finished and scheduled background saves. [main thread] */
void persist_cron(void);

/* MISCONF: are writes refused because a save or the AOF failed? [any,
 * lock-free] */
bool persist_writes_refused(void);
/* Is a background save (BGSAVE, save point) running? [any] */
bool persist_bgsave_running(void);
/* Are save points configured? [any] */
bool persist_has_save_points(void);

/* SHUTDOWN: save when asked (`save`) or when save points exist (unless
 * `nosave`); a running BGSAVE is cancelled. 0, or -1 when the save failed. */
int persist_shutdown(bool save, bool nosave);

/* FLUSHALL: cancel a running BGSAVE; with save points, save once the
 * command's locks are released (persist_after). [stripe-locked ok] */
void persist_flushall(void);
/* Run what a command asked for after its locks were released. Cheap when
 * nothing is pending. [no locks held] */
void persist_after(void);

/* DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: 0, or -1 with a message. */
int persist_debug_reload(bool save, bool flush, bool merge, const char **err);

/* The snapshot options every snapshot shares (rdbcompression,
 * rdbchecksum, rdb-key-save-delay, progress counters for INFO). [any] */
struct snapshot_opts;
void persist_snapshot_defaults(struct snapshot_opts *o);

/* INFO persistence (Redis's fields). [any] */
void persist_info(struct buf *o);

/* ---- function libraries ---------------------------------------------------------------------- */

/* The scripting engine (exec/, a layer above) hands its libraries to
 * persist through these hooks, registered once at setup: snapshots write
 * each library as a FUNCTION2 record after the AUX fields, loading (start-
 * up, DEBUG RELOAD) loads them back, DEBUG RELOAD drops them first unless
 * NOFLUSH. All three are [any]. */
struct persist_functions {
    /* Call fn on each library's whole code, in order. */
    void (*foreach)(void (*fn)(const char *code, size_t len, void *arg), void *arg);
    /* Load one library; with `replace` an existing library of that name is
     * replaced. 0, or -1 with Redis's message in err. */
    int (*load)(const char *code, size_t len, bool replace, char *err, size_t errcap);
    /* Drop every library. */
    void (*flush)(void);
};
void persist_set_functions(const struct persist_functions *f);
/* Drop every library, as loading a whole dataset in place of the current
 * one does (DEBUG RELOAD; a replica's full sync). [any] */
void persist_functions_flush(void);

/* FUNCTION DUMP: every library as a FUNCTION2 record, then the payload
 * footer (RDB version, CRC64): Redis 7.0's payload. */
void persist_functions_dump(struct buf *out);
/* FUNCTION RESTORE: check the footer, then call fn with each library's
 * code in order (stopping at its first error). 0, or -1 with Redis's
 * message in err ("DUMP payload version or checksum are wrong", "given
 * type is not a function", ...). */
typedef int (*persist_lib_fn)(const char *code, size_t len, void *arg, char *err, size_t errcap);
int persist_functions_parse(const void *p, size_t n, persist_lib_fn fn, void *arg, char *err, size_t errcap);

/* ---- DUMP / RESTORE [stripe-locked] ---------------------------------------------------------- */

/* The DUMP payload of e into out. False: a type without a codec. */
bool persist_dump(const struct entry *e, struct buf *out);
/* A new entry for key from a RESTORE payload (checked: footer, then the
 * value). NULL with *err = "ERR DUMP payload version or checksum are
 * wrong" or "ERR Bad data format". */
struct entry *persist_restore_entry(const char *key, size_t klen, const unsigned char *p, size_t n,
                                    int64_t expire, const char **err);
/* Bytes e's value takes in an RDB file (DEBUG OBJECT serializedlength). */
size_t persist_value_rdb_len(const struct entry *e);

#endif

/*
 * persist/aof_internal.h - state shared by the AOF's files: aof.c (options,
 * writer thread, gating, INFO), aof_rewrite.c (rewrites and file switches),
 * aof_load.c (loading). Not for other modules.
 *
 * Ownership: `aw` is guarded by aof_mu (see aof.h); the AOF thread holds
 * it while it works on a batch, commands while they change the state.
 * `aof_cfg` and `aof_st` are atomics (CONFIG pushes, INFO reads).
 */
#ifndef STASH_PERSIST_AOF_INTERNAL_H
#define STASH_PERSIST_AOF_INTERNAL_H

#include "base/buf.h"
#include "persist/aof.h"
#include "persist/aof_manifest.h"
#include "persist/sink.h"
#include "persist/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>

enum aof_state { AOF_OFF = 0, AOF_ON = 1, AOF_WAIT_REWRITE = 2 };
enum aof_fsync { AOF_FSYNC_NO = 0, AOF_FSYNC_ALWAYS = 1, AOF_FSYNC_EVERYSEC = 2 };

struct aof_config {
    _Atomic bool enabled; /* appendonly */
    _Atomic int fsync;
    _Atomic long long rewrite_perc, rewrite_min_size;
    _Atomic bool no_fsync_on_rewrite, incremental_fsync, use_rdb_preamble, timestamps, load_truncated;
    _Atomic bool disable_auto_gc;
    _Atomic long long flush_sleep_us; /* DEBUG AOF-FLUSH-SLEEP */
    char dirname[256];                /* appenddirname (immutable) */
    char filename[256];               /* appendfilename (immutable) */
};
extern struct aof_config aof_cfg;

/* What INFO shows, published by whoever changes it. */
struct aof_stats {
    _Atomic int state;
    _Atomic bool rewrite_running, rewrite_scheduled;
    _Atomic long long rewrite_time_last, rewrite_time_start; /* -1: none */
    _Atomic bool last_rewrite_ok, last_write_ok, bio_fsync_ok;
    _Atomic long long rewrites, rewrite_failures;
    _Atomic int last_write_errno, bio_fsync_errno;
    _Atomic long long current_size, base_size, buffer_len, delayed_fsync;
    _Atomic long long pending_bio;
};
extern struct aof_stats aof_st;

struct aof_writer {
    int state;
    struct aof_manifest am;
    struct log_reader *reader; /* attached while state != OFF */
    /* The current INCR file: written through the sink, fsynced and sized
     * through fd (a duplicate of the sink's descriptor). */
    struct persist_sink *sink;
    int fd;
    char cur_name[512];
    bool cur_temp;      /* the current file is the temp INCR of AOF_WAIT_REWRITE */
    bool accept;        /* records go to the buffer (else they are dropped) */
    struct buf buf;     /* formatted, not yet written (Redis's aof_buf) */
    uint64_t buf_end;   /* log position after the last record in buf */
    uint64_t written;   /* log position of everything written to the file */
    int selected_db;
    long long cur_ts;
    long long current_size, base_size, last_incr_size, last_incr_fsync_offset;
    long long last_fsync_s, flush_postponed_s, last_error_log_s;
    /* The rewrite. */
    struct snapshot *rw;
    _Atomic bool rw_finished;
    struct snapshot_result rw_res;
    _Atomic bool rw_cancel;
    struct buf rw_head;          /* AOF-format base header */
    bool rw_rdb;                 /* the base is RDB */
    char rw_tmpfile[64];         /* temp-rewriteaof-bg-<pid>.aof, in `dir` */
    bool switch_pending;         /* records from rw_cut on go to `next` */
    uint64_t rw_cut;
    struct persist_sink *next_sink;
    int next_fd;
    char next_name[512];
    bool next_temp;              /* the temp INCR of AOF_WAIT_REWRITE */
    int next_delay_min;          /* aofRewriteLimited's state */
    long long next_rewrite_s;
    bool stopping;
};
extern struct aof_writer aw;
extern pthread_mutex_t aof_mu;

/* aof.c */
long long aof_now_s(void);
/* Publish state changes: INFO's state and the reply gate. [aof_mu] */
void aof_set_state_locked(int state);
/* Write (and fsync per policy) what is buffered; `force` ignores the
 * everysec postponement. [aof_mu] */
void aof_flush_locked(bool force);
/* Read what the log has up to the pending switch. [aof_mu] */
int aof_drain_locked(int max);
/* Open dir/name for appending (created), as the current file or the next
 * one. 0 or -1 (errno). */
int aof_open_append(const char *name, bool truncate, struct persist_sink **sink, int *fd);
/* Close the current file (sink and fd). [aof_mu] */
void aof_close_current_locked(void);
/* Hand unlinking of a file to the background thread. */
void aof_bg_unlink(const char *path);
/* Everything before pos is on disk: release watchers. [any] */
void aof_publish_durable(uint64_t pos);
/* FUNCTION LOAD commands of every library (AOF-format base header). */
void aof_libraries_head(struct buf *b);
/* "<appendfilename>.manifest" into out. */
void aof_manifest_name(char *out, size_t cap);

/* aof_rewrite.c [aof_mu held] */
/* 0 started, 1 scheduled, -1 with *err. */
int aof_rewrite_start_locked(const char **err);
/* The reader reached the cut: flush and fsync the old file, switch. */
void aof_switch_locked(void);
/* A finished snapshot: install the new base (or clean up). */
void aof_rewrite_done_locked(void);
/* Cancel a running rewrite and wait for its thread (temp files removed). */
void aof_rewrite_kill_locked(void);
/* Scheduled and automatic rewrites (cron). */
void aof_rewrite_cron_locked(void);
/* Delete the history files (unless aof-disable-auto-gc) and save the
 * manifest. */
int aof_del_history_locked(void);
/* The synchronous rewrite that creates the first base at start-up. */
int aof_rewrite_sync(const char *base_path);

/* aof_load.c */
enum aof_load_status { AOF_LOAD_OK, AOF_LOAD_NOT_EXIST, AOF_LOAD_EMPTY, AOF_LOAD_OPEN_ERR, AOF_LOAD_FAILED,
                       AOF_LOAD_TRUNCATED };
/* The manifest from disk into aw.am (a missing directory or manifest is
 * an empty one). 0, or -1 after Redis's fatal report was logged. */
int aof_load_manifest(void);
/* Load the files of am (at start-up, `upgrade`: an old single AOF in
 * `dir` is moved into the directory first, am updated). Returns an
 * enum aof_load_status. */
int aof_load_files(struct aof_manifest *am, bool upgrade);
/* The loader's replay hooks. */
extern struct aof_replay_ops aof_replay;

#endif

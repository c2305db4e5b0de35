/*
 * exec/exec.h - dispatch: from a parsed request to a command run under the
 * right stripe locks, and what a command reports back (changes, effects).
 *
 * The checks a request goes through, in Redis's order: lookup (unknown
 * command / subcommand), arity, authentication (NOAUTH), transaction
 * rules, ACL permissions (NOPERM; exec/access.h), OOM, pub/sub context,
 * pause, then either queueing (MULTI) or the call. The call computes the
 * command's keys from its key specs, locks their stripes (store_run), runs
 * the command, stages its effects in the log before unlocking, then
 * accounts statistics, slowlog, latency and MONITOR after unlocking.
 *
 * Thread context: [owner] of the client.
 */
#ifndef STASH_EXEC_EXEC_H
#define STASH_EXEC_EXEC_H

#include "exec/client.h"

void exec_setup(void);
void exec_teardown(void);
/* Free the calling worker thread's scratch buffers (thread exit). */
void exec_thread_cleanup(void);

/* Run the request in c->argv (from the parser). */
void exec_dispatch(struct client *c);
/* Run cmd with c->argv under its locks, with accounting (EXEC uses
 * exec_call_locked for each queued command: its locks are already held). */
void exec_call(struct client *c, const struct command *cmd);
void exec_call_locked(struct client *c, const struct command *cmd);
/* The same, with c->keys already computed for cmd (exec_compute_keys). */
void exec_call_locked_keys(struct client *c, const struct command *cmd);
/* Key positions and slots of c->argv for c->cmd into c->keys; returns
 * false when they cannot be known (lock everything). */
bool exec_compute_keys(struct client *c, const struct command *cmd);
/* Add the stripes c's current command needs to ls. */
void exec_add_locks(struct client *c, const struct command *cmd, struct store_lockset *ls);

/* ---- what commands report [stripe-locked, during the command] ----------- */

/* The command changed n things (drives propagation and rdb changes). */
static inline void exec_dirty(struct client *c, long long n) { c->dirty += n; }
/* Stage an explicit effect instead of the command's own argv. */
void exec_propagate(struct client *c, int argc, const char *const *argv, const size_t *lens);
/* Changes since start (INFO persistence: rdb_changes_since_last_save). */
long long exec_total_dirty(void);
/* Count n changes made outside exec_call (the memcached protocol). [any] */
void exec_add_dirty(long long n);

/* ---- MONITOR ----------------------------------------------------------------- */
void exec_monitor_add(struct client *c);
void exec_monitor_remove(struct client *c);
/* Feed c's current command to monitors now (commands flagged skip_monitor
 * that feed themselves first: EVAL, FCALL, before the commands they run). */
void exec_monitor_feed(struct client *c);

/* ---- CLIENT PAUSE ----------------------------------------------------------- */
enum exec_pause { PAUSE_OFF = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };
/* Pause until end_ms (Unix ms) for `type`; replaces an earlier pause only
 * when it is longer or stronger (Redis semantics). [any] */
void exec_pause(enum exec_pause type, int64_t end_ms);
void exec_unpause(void);
/* Called by workers: resume clients whose pause ended. */
void exec_pause_check(void);
enum exec_pause exec_pause_state(void);

/* ---- DEBUG PAUSE-CRON: the periodic jobs skip their work while set. [any] */
void exec_set_cron_paused(bool paused);
bool exec_cron_paused(void);

/* ---- AOF loading: the fake client (exec/replay.c) ---------------------------- */
/* Register the replay hooks with persist/aof. [setup] */
void exec_replay_register(void);
/* ---- replication (a replica applying its primary's stream) --------------- */

/* The bytes of the primary's command about to run: they are logged as
 * one LOG_RAW record (repl/log.h) in the locked section of the command's
 * effects, so that a snapshot's cut has both or neither. *db is read when
 * they are staged (the stream's database after the command). */
void exec_raw_begin(const char *p, size_t n, const int *db);
/* After the command: log them now if no locked section did. [no locks] */
void exec_raw_end(void);

/* ---- store hooks ----------------------------------------------------------- */
void exec_store_deleted(int db, const char *key, size_t klen, enum store_del_reason why);
void exec_store_seal(void);
void exec_store_after(void);

/* ---- server hooks (set by the composition root) --------------------------- */
struct exec_server_hooks {
    /* SHUTDOWN was requested (flags: 1 nosave, 2 save, 4 now, 8 force). */
    void (*shutdown)(int flags);
};
void exec_set_server_hooks(const struct exec_server_hooks *h);
void exec_request_shutdown(int flags);

#endif

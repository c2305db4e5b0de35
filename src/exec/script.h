/*
 * exec/script.h - the scripting engine: Lua 5.1 scripts (EVAL family) and
 * functions (FUNCTION / FCALL), as Redis 7.0 runs them.
 *
 * Interpreters: one Lua state per worker thread and kind (one for EVAL
 * scripts, one for function libraries), created on first use. Scripts and
 * libraries live in process-wide registries (exec/script_eval.c,
 * exec/script_func.c) that every thread reads: SCRIPT LOAD and FUNCTION
 * LOAD are visible to all threads as soon as they reply; each thread
 * compiles a script (or loads the libraries) into its own state the first
 * time it needs it. Scripts on different threads run in parallel when their
 * keys live in different stripes; threading.md discusses the choice (it is
 * Dragonfly's per-thread interpreters, not Redis's single one).
 *
 * Atomicity: a script runs inside one store_run section holding the stripes
 * of its declared keys (KEYS), with the clock frozen (store_now). A key the
 * script did not declare is locked on the fly when that cannot deadlock
 * (see script_run.c); a script that needs more than that is re-run with
 * every stripe held, or fails with a clear error once it has written.
 * Effects replicate as the commands the script called, sealed as one
 * MULTI/EXEC block in the effects log.
 *
 * Long scripts: after busy-reply-threshold (lua-time-limit) ms the script is
 * "busy": other clients get -BUSY for commands without the allow-busy flag,
 * SCRIPT KILL / FUNCTION KILL stop it (UNKILLABLE once it wrote).
 *
 * Thread context: commands [owner] of the client; the registries and the
 * busy/kill state are [any].
 */
#ifndef STASH_EXEC_SCRIPT_H
#define STASH_EXEC_SCRIPT_H

#include "exec/client.h"

/* Script flags (shebang "#!lua flags=..." and register_function's flags). */
#define SCRIPT_F_NO_WRITES (1u << 0)
#define SCRIPT_F_ALLOW_OOM (1u << 1)
#define SCRIPT_F_ALLOW_STALE (1u << 2)
#define SCRIPT_F_NO_CLUSTER (1u << 3)
#define SCRIPT_F_COMPAT (1u << 4)     /* EVAL without shebang: Redis's compatibility mode */
#define SCRIPT_F_CROSS_SLOT (1u << 5) /* allow-cross-slot-keys */
#define SCRIPT_F_UNDECLARED (1u << 6) /* allow-undeclared-keys (Stash): run with every stripe */

struct script_flag_name {
    uint32_t flag;
    const char *name;
};
/* The flags a script may declare, in Redis's order (NULL-terminated). */
extern const struct script_flag_name script_flag_names[];

/* Setup: options (busy-reply-threshold...) and registries. */
void script_setup(void);
void script_teardown(void);
/* Close the calling thread's interpreters (worker exit). */
void script_thread_cleanup(void);

/* ---- EVAL family and SCRIPT (exec/script_eval.c) [owner] ------------------ */
void script_eval_command(struct client *c, bool evalsha, bool ro);
void script_load_command(struct client *c);
void script_exists_command(struct client *c);
void script_flush_command(struct client *c);
/* Key finder of EVAL/EVALSHA[_RO] for locking: the declared keys, or -1
 * (every stripe) for a script known to touch undeclared keys. */
int script_eval_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max);
int script_evalsha_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max);

/* Redis's getCommandFlags for EVAL/EVALSHA[_RO] and FCALL[_RO]: a script
 * that declares flags (shebang, register_function) is a write only without
 * no-writes, deny-oom only without allow-oom/no-writes, stale-allowed with
 * allow-stale, and no longer "may replicate". Other commands: their own
 * flags. [any] */
uint64_t script_command_flags(const struct client *c, const struct command *cmd);

/* ---- FUNCTION and FCALL (exec/script_func.c) [owner] ---------------------- */
void script_fcall_command(struct client *c, bool ro);
void script_function_load(struct client *c);
void script_function_delete(struct client *c);
void script_function_flush(struct client *c);
void script_function_list(struct client *c);
void script_function_dump(struct client *c);
void script_function_restore(struct client *c);
void script_function_stats(struct client *c);
int script_fcall_getkeys(int argc, const char *const *argv, const size_t *lens, int *out, int max);

/* For snapshots (RDB_OPCODE_FUNCTION2 records) and their loading. [any]
 * Each library's whole code (shebang included), in order: */
typedef void (*script_lib_fn)(const char *code, size_t len, void *arg);
void script_functions_foreach(script_lib_fn fn, void *arg);
/* Load one library (no time limit); with `replace` an existing library of
 * the same name is replaced. 0, or -1 with Redis's message in err. */
int script_functions_load(const char *code, size_t len, bool replace, char *err, size_t errcap);
/* Drop every library (before loading a snapshot). */
void script_functions_flush(void);

/* ---- running scripts (exec/script_run.c) ----------------------------------- */
/* SCRIPT KILL (eval) / FUNCTION KILL (!eval). */
void script_kill_command(struct client *c, bool eval);
/* Dispatch, while script_any_busy(): 0 go on; 1 reject c's command with
 * *msg (a BUSY error); 2 the command was run here (this thread is serving
 * its other clients from inside the busy script). [owner] */
int script_busy_gate(struct client *c, const struct command *cmd, const char **msg);
/* Is any script past busy-reply-threshold? [any] */
extern _Atomic int script_nbusy;
static inline bool script_any_busy_fast(void) {
    return __atomic_load_n((int *)&script_nbusy, __ATOMIC_RELAXED) > 0;
}
bool script_any_busy(void);
/* SHUTDOWN was requested: running scripts stop at their next check. [any] */
void script_shutdown_notify(void);
/* DEBUG SET-DISABLE-DENY-SCRIPTS: allow noscript commands in scripts. [any] */
void script_set_disable_deny(bool on);

/* ---- INFO ----------------------------------------------------------------- */
struct script_info {
    size_t lua_eval_bytes;  /* used_memory_lua / used_memory_vm_eval */
    size_t lua_func_bytes;  /* used_memory_vm_functions */
    size_t scripts_bytes;   /* used_memory_scripts_eval */
    size_t functions_bytes; /* used_memory_functions */
    uint64_t cached_scripts;
    uint64_t functions, libraries;
};
void script_get_info(struct script_info *out);

#endif

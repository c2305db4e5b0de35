/*
 * exec/script_int.h - what the scripting engine's files share (not for use
 * outside exec/script*.c and exec/lua_*.c).
 *
 *   script_lua.c   the sandboxed Lua states, the redis.* API, conversions
 *                  between Lua values and RESP
 *   script_run.c   one run of a script: checks, stripes, the commands it
 *                  calls, time limit, BUSY and KILL
 *   script_eval.c  the EVAL script cache and the SCRIPT command
 *   script_func.c  function libraries, FUNCTION and FCALL (FUNCTION DUMP /
 *                  RESTORE payloads are persist/'s: persist_functions_*)
 *   lua_struct.c, lua_cmsgpack.c   the struct and cmsgpack libraries
 *
 * Thread context: everything here is [owner] (the calling worker's own
 * Lua states and run) unless said otherwise.
 */
#ifndef STASH_EXEC_SCRIPT_INT_H
#define STASH_EXEC_SCRIPT_INT_H

#include "exec/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>

/* ---- Lua states (script_lua.c) ------------------------------------------- */

enum slua_kind { SLUA_EVAL, SLUA_FUNC };

/* A sandboxed state of `kind`; its allocations are counted in *mem. */
lua_State *slua_create(enum slua_kind kind, _Atomic size_t *mem);
void slua_destroy(lua_State **L);
/* Functions states: the globals a library sees while it loads
 * (redis.register_function, log, versions) or while its functions run. */
void slua_set_load_mode(lua_State *L, bool load);
/* Push the error handler used with lua_pcall. */
void slua_push_errhandler(lua_State *L);
/* Push a table {argv[0], ..., argv[n-1]}. */
void slua_push_array(lua_State *L, const char *const *argv, const size_t *lens, int n);
/* Set KEYS and ARGV (eval states). */
void slua_set_keys_argv(lua_State *L, const char *const *argv, const size_t *lens, int nkeys, int nargs);
/* Reply to c with the value on top of the stack (popped). */
void slua_reply(struct client *c, lua_State *L);
/* Reply to c with the error object on top (popped), after a failed call of
 * script or function `name`. */
void slua_reply_error(struct client *c, lua_State *L, const char *name);
/* "ERR ..."-style message of the error object on top (not popped): what a
 * failed FUNCTION LOAD reports. Written into out (cap bytes). */
void slua_error_text(lua_State *L, char *out, size_t cap);
/* Raise a Redis-style error table {err="<code> <msg>"} (never returns).
 * `msg` may start with "-CODE " or be a bare message ("ERR" is added). */
int slua_raise(lua_State *L, const char *msg);
/* Push the same table without raising. */
void slua_push_error(lua_State *L, const char *msg);
/* redis.register_function, set by script_func.c (functions states). */
extern lua_CFunction slua_register_function;
/* Count hook (time limit, kill): installed while a script runs. */
void slua_install_hook(lua_State *L, lua_Hook fn, int mask, int count);

/* The struct and cmsgpack libraries (lua_struct.c, lua_cmsgpack.c). */
int slua_open_struct(lua_State *L);
int slua_open_cmsgpack(lua_State *L);

/* ---- one run (script_run.c) -------------------------------------------------- */

/* What a command procedure knows about the script it is about to run. */
struct srun_desc {
    const char *name;       /* sha1 (40 hex digits) or function name */
    uint32_t flags;         /* SCRIPT_F_* */
    bool eval;              /* EVAL family (else FCALL) */
    bool ro;                /* *_RO command */
    _Atomic bool *learned;  /* set when the script needed more than its stripes */
    int numkeys;            /* KEYS: c->argv[3 .. 3+numkeys) */
    lua_State *L;
    int ref;                /* registry reference of the Lua function */
};

/* Run the script for c (the caller of EVAL/FCALL) and reply. */
void srun_script(struct client *c, const struct srun_desc *d);
/* The caller of the running script on this thread (NULL when none). */
struct client *srun_caller(void);
/* redis.call / redis.pcall: run argv as a command of the running script.
 * Returns NULL with the reply bytes in out and outlen, or a rejection
 * message (already counted in the error statistics). */
const char *srun_command(int argc, const char **argv, size_t *lens, const char **out, size_t *outlen);
/* Forget the reply bytes of the last srun_command. */
void srun_command_done(void);
/* redis.setresp / redis.set_repl. */
void srun_set_resp(int resp);
int srun_get_resp(void);
void srun_set_repl(int flags);
/* Is a run in progress on this thread (redis.* functions that need one)? */
bool srun_active(void);
/* The pseudo-random generator of math.random (per thread). */
double srun_random(void);
void srun_seed(long seed);
/* The count hook of running scripts. */
void srun_hook(lua_State *L, lua_Debug *ar);

/* The busy run FUNCTION STATS shows (copies; srun_busy_free). [any] */
struct srun_busy {
    bool eval;
    char *name;
    int argc;
    char **argv;
    size_t *lens;
    long long duration_ms;
};
bool srun_busy_info(struct srun_busy *out);
void srun_busy_free(struct srun_busy *b);
void srun_setup(void);
void srun_thread_cleanup(void);

#define SRUN_REPL_AOF 1
#define SRUN_REPL_REPLICA 2

/* ---- module parts (setup order: run, eval, func) ----------------------------- */
void seval_setup(void);
void seval_teardown(void);
void seval_thread_cleanup(void);
void seval_info(struct script_info *out);
void sfunc_setup(void);
void sfunc_teardown(void);
void sfunc_thread_cleanup(void);
void sfunc_info(struct script_info *out);
/* numkeys of EVAL/FCALL at argv[2]: replies and returns false when bad
 * (bad_int: the error for a non-integer). */
bool script_numkeys(struct client *c, long long *out, const char *bad_int);

/* ---- SHA1 (script_eval.c) ------------------------------------------------ */
void script_sha1hex(char out[41], const char *p, size_t n);

/* ---- shebang and function flags (script_eval.c) ------------------------------ */
/* Parse "#!lua flags=a,b" at the start of body. Returns 0 with the flags
 * (SCRIPT_F_COMPAT when there is no shebang) and the shebang's length, or
 * -1 with an error message in err. */
int script_parse_shebang(const char *body, size_t len, uint32_t *flags, size_t *shebang_len, char *err, size_t errcap);
/* A flag by name (case-insensitive), or 0. */
uint32_t script_flag_by_name(const char *s, size_t n);
/* The flags of a script for dispatch: the cached EVAL script's (by sha) /
 * the function's; false when unknown (not cached / no such function). */
bool seval_flags_of(const char *body_or_sha, size_t len, bool evalsha, uint32_t *flags);
bool sfunc_flags_of(const char *name, size_t len, uint32_t *flags);

#endif

/*
 * cmd/script.c - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL,
 * FCALL_RO and FUNCTION.
 *
 * Thin adapters over the scripting engine (exec/script.h), which owns the
 * interpreters, the script and library registries and the runs. The key
 * finders registered here decide the stripes a script runs with: those of
 * its declared keys, or all of them for a script known to reach keys it
 * does not declare (see exec/script_run.c).
 *
 * Thread context: [owner]; EVAL-family commands run under the stripes of
 * their keys, the others keyless.
 */
#include "cmd/cmd.h"
#include "exec/script.h"

void cmd_script_setup(void) {
    exec_command_set_getkeys("eval", script_eval_getkeys);
    exec_command_set_getkeys("eval_ro", script_eval_getkeys);
    exec_command_set_getkeys("evalsha", script_evalsha_getkeys);
    exec_command_set_getkeys("evalsha_ro", script_evalsha_getkeys);
    exec_command_set_getkeys("fcall", script_fcall_getkeys);
    exec_command_set_getkeys("fcall_ro", script_fcall_getkeys);
}

void cmd_eval(struct client *c) { script_eval_command(c, false, false); }
void cmd_eval_ro(struct client *c) { script_eval_command(c, false, true); }
void cmd_evalsha(struct client *c) { script_eval_command(c, true, false); }
void cmd_evalsha_ro(struct client *c) { script_eval_command(c, true, true); }
void cmd_fcall(struct client *c) { script_fcall_command(c, false); }
void cmd_fcall_ro(struct client *c) { script_fcall_command(c, true); }

/* ---- SCRIPT ------------------------------------------------------------------------ */

void cmd_script_load(struct client *c) { script_load_command(c); }
void cmd_script_exists(struct client *c) { script_exists_command(c); }
void cmd_script_flush(struct client *c) { script_flush_command(c); }
void cmd_script_kill(struct client *c) { script_kill_command(c, true); }

/* The Lua debugger (LDB) is not part of Stash: NO is accepted (it is the
 * state), YES/SYNC are refused with a clear error. */
void cmd_script_debug(struct client *c) {
    if (cmd_arg_is(c, 2, "no")) {
        reply_ok(c);
    } else if (cmd_arg_is(c, 2, "yes") || cmd_arg_is(c, 2, "sync")) {
        reply_error(c, "ERR SCRIPT DEBUG is not supported: Stash has no Lua debugger");
    } else {
        reply_error(c, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

void cmd_script_help(struct client *c) {
    static const char *const lines[] = {
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        NULL,
    };
    cmd_reply_help(c, lines);
}

/* ---- FUNCTION ------------------------------------------------------------------------ */

void cmd_function_load(struct client *c) { script_function_load(c); }
void cmd_function_delete(struct client *c) { script_function_delete(c); }
void cmd_function_flush(struct client *c) { script_function_flush(c); }
void cmd_function_list(struct client *c) { script_function_list(c); }
void cmd_function_dump(struct client *c) { script_function_dump(c); }
void cmd_function_restore(struct client *c) { script_function_restore(c); }
void cmd_function_stats(struct client *c) { script_function_stats(c); }
void cmd_function_kill(struct client *c) { script_kill_command(c, false); }

void cmd_function_help(struct client *c) {
    static const char *const lines[] = {
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION "
        "RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        NULL,
    };
    cmd_reply_help(c, lines);
}

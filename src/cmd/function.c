/*
 * cmd/function.c - FUNCTION FLUSH LIST HELP.
 *
 * There is no function library yet (scripting has not landed): the library
 * is always empty, so FLUSH empties an empty library and LIST lists
 * nothing, with Redis's argument checks and replies. The Redis test suite
 * runs FUNCTION FLUSH before every test block, so these must work.
 */
#include "cmd/cmd.h"

void cmd_function_flush(struct client *c) {
    if (c->argc > 3) {
        cmd_reply_subcommand_error(c);
        return;
    }
    if (c->argc == 3 && !cmd_arg_is(c, 2, "SYNC") && !cmd_arg_is(c, 2, "ASYNC")) {
        reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    /* Counted as a change (propagated), as Redis does even when empty. */
    exec_dirty(c, 1);
    reply_ok(c);
}

void cmd_function_list(struct client *c) {
    bool with_code = false, have_name = false;
    for (int i = 2; i < c->argc; i++) {
        if (!with_code && cmd_arg_is(c, i, "WITHCODE")) {
            with_code = true;
            continue;
        }
        if (!have_name && cmd_arg_is(c, i, "LIBRARYNAME")) {
            if (i >= c->argc - 1) {
                reply_error(c, "ERR library name argument was not given");
                return;
            }
            have_name = true;
            i++;
            continue;
        }
        reply_errorf(c, "ERR Unknown argument %.*s", (int)c->argvlen[i], c->argv[i]);
        return;
    }
    reply_array(c, 0);
}

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

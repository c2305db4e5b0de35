/*
 * exec/script.c - the scripting engine's entry points that span its parts
 * (setup, thread exit, INFO); see script.h for the design.
 */
#include "exec/script_int.h"

void script_setup(void) {
    srun_setup();
    seval_setup();
    sfunc_setup();
}

void script_teardown(void) {
    sfunc_teardown();
    seval_teardown();
}

void script_thread_cleanup(void) {
    seval_thread_cleanup();
    sfunc_thread_cleanup();
    srun_thread_cleanup();
}

void script_get_info(struct script_info *out) {
    memset(out, 0, sizeof(*out));
    seval_info(out);
    sfunc_info(out);
}

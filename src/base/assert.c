/*
 * base/assert.c - failure paths of ASSERT and PANIC: log, then abort so that
 * a core dump (or the sanitizer's report) keeps the state.
 */
#include "base/assert.h"
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void assert_fail(const char *expr, const char *file, int line, const char *func) {
    log_write(LOG_WARNING, "=== ASSERTION FAILED === %s:%d (%s): %s", file, line, func, expr);
    abort();
}

void panic_at(const char *file, int line, const char *func, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_write(LOG_WARNING, "=== PANIC === %s:%d (%s): %s", file, line, func, msg);
    abort();
}

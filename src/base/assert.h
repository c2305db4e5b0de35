/*
 * base/assert.h - always-on assertions and panics.
 *
 * ASSERT is cheap and always compiled in: a failed invariant in a cache that
 * promises not to lose data must stop the process, not corrupt memory.
 * DEBUG_ASSERT covers expensive checks and thread-context checks; it is compiled
 * only when STASH_DEBUG is defined (debug and sanitizer builds).
 */
#ifndef STASH_BASE_ASSERT_H
#define STASH_BASE_ASSERT_H

#include "base/common.h"

NORETURN void assert_fail(const char *expr, const char *file, int line, const char *func);
NORETURN PRINTF_FMT(4, 5) void panic_at(const char *file, int line, const char *func,
                                        const char *fmt, ...);

#define ASSERT(e) (LIKELY(e) ? (void)0 : assert_fail(#e, __FILE__, __LINE__, __func__))
#define PANIC(...) panic_at(__FILE__, __LINE__, __func__, __VA_ARGS__)

#ifdef STASH_DEBUG
#define DEBUG_ASSERT(e) ASSERT(e)
#else
#define DEBUG_ASSERT(e) ((void)0)
#endif

#endif

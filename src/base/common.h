/*
 * base/common.h - tiny compiler helpers shared by every module.
 *
 * Conventions: macros are UPPER_CASE; nothing here allocates or depends on any
 * other module. Include it first in low-level headers that need it.
 */
#ifndef STASH_BASE_COMMON_H
#define STASH_BASE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define UNUSED(x) ((void)(x))

/* One cache line. 128 would also cover adjacent-line prefetch; 64 keeps the
 * padded counters small and matches the lines that actually bounce. */
#define CACHELINE 64
#define CACHE_ALIGNED __attribute__((aligned(CACHELINE)))

#define CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define PRINTF_FMT(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))

/* Clang thread-safety analysis; empty elsewhere. */
#if defined(__clang__)
#define TS_ATTR(x) __attribute__((x))
#else
#define TS_ATTR(x)
#endif
#define TS_CAPABILITY(x) TS_ATTR(capability(x))
#define TS_ACQUIRE(...) TS_ATTR(acquire_capability(__VA_ARGS__))
#define TS_RELEASE(...) TS_ATTR(release_capability(__VA_ARGS__))
#define TS_REQUIRES(...) TS_ATTR(requires_capability(__VA_ARGS__))
#define TS_NO_ANALYSIS TS_ATTR(no_thread_safety_analysis)

#endif

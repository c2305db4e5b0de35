/*
 * base/time.h - clocks.
 *
 * Wall-clock milliseconds drive key expiry (absolute Unix times, as Redis);
 * the monotonic clock measures durations (command latency, timeouts).
 * All functions are vDSO calls without locks. Thread context: [any].
 */
#ifndef STASH_BASE_TIME_H
#define STASH_BASE_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t time_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t time_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t time_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t time_mono_ms(void) { return time_mono_us() / 1000; }

#endif

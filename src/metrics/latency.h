/*
 * metrics/latency.h - the latency monitor (LATENCY LATEST/HISTORY/RESET):
 * events whose duration reaches latency-monitor-threshold milliseconds are
 * recorded per event name as a series of the last 160 samples (one per
 * second, keeping the max), plus the all-time max.
 * Thread context: [any]; a mutex guards the series (only slow events reach
 * it; latency_wants() is the cheap check before).
 */
#ifndef STASH_METRICS_LATENCY_H
#define STASH_METRICS_LATENCY_H

#include "base/common.h"
#include "base/obuf.h"

#define LATENCY_SAMPLES 160

void latency_setup(void);
void latency_teardown(void);
bool latency_wants(int64_t duration_ms);
void latency_add(const char *event, int64_t duration_ms);
/* Reset the given events (all when n == 0); returns how many were reset. */
int latency_reset(int n, const char *const *events, const size_t *lens);
void latency_reply_latest(struct obuf *ob, int resp);
void latency_reply_history(struct obuf *ob, int resp, const char *event, size_t len);

struct latency_sample {
    int32_t time;
    uint32_t latency;
};
/* Copy an event's samples (oldest first); returns count, -1 if unknown. */
int latency_samples(const char *event, size_t len, struct latency_sample *out, uint32_t *max_out);
/* Names of the recorded events (for DOCTOR); calls fn for each. */
void latency_events(void (*fn)(const char *name, uint32_t max, uint32_t last, int32_t last_time, void *arg),
                    void *arg);

#endif

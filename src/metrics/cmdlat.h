/*
 * metrics/cmdlat.h - per-command latency histograms (latency-tracking):
 * LATENCY HISTOGRAM and INFO latencystats.
 *
 * The numbers are those Redis 7.0 reports: each command's durations are
 * recorded in nanoseconds (microseconds * 1000, clamped to [1, 1e9]) into
 * a histogram with the layout of an HdrHistogram of 2 significant figures
 * (values below 256 exact, then 128 sub-buckets per power of two), so
 * percentiles and cumulative distributions come out as Redis prints them.
 *
 * Threads: every recording thread owns its histograms (one per command id,
 * counters allocated per power-of-two bucket on first use, so a few KB
 * per command and thread) and updates them with
 * relaxed load + store, no locked instruction. Readers merge all threads'
 * counters with relaxed loads. A reset (CONFIG RESETSTAT) bumps a global
 * epoch: a thread whose epoch is old clears its own counters at its next
 * record, and readers ignore threads with an old epoch, so nobody writes
 * another thread's counters. The registry of threads is guarded by a leaf
 * mutex taken only at a thread's first record and by readers.
 *
 * Thread context: [any].
 */
#ifndef STASH_METRICS_CMDLAT_H
#define STASH_METRICS_CMDLAT_H

#include "base/buf.h"
#include "base/common.h"

#define CMDLAT_COUNTS 3072

void cmdlat_setup(void);
void cmdlat_teardown(void);

/* Is latency-tracking on? (one relaxed load) */
bool cmdlat_enabled(void);
/* Record one call of command `id` that took `usec` microseconds. */
void cmdlat_record(int id, int64_t usec);
/* Forget every histogram (CONFIG RESETSTAT). */
void cmdlat_reset(void);

/* Sum of every thread's histogram of command `id` into out[CMDLAT_COUNTS];
 * returns the number of calls (0: no histogram, as Redis shows none). */
uint64_t cmdlat_merge(int id, uint64_t *out);
/* LATENCY HISTOGRAM's buckets: fn(usec, cumulative calls) for each power
 * of two bucket whose cumulative count grew; returns how many. */
int cmdlat_cdf(const uint64_t *counts, uint64_t total, void (*fn)(long long usec, long long cum, void *arg),
               void *arg);
/* INFO latencystats line "latency_percentiles_usec_<name>:p50=...,..." */
void cmdlat_info_line(struct buf *out, const char *name, const uint64_t *counts, uint64_t total);

#endif

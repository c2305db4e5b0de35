/*
 * exec/stats.h - per-command statistics (INFO commandstats, stats).
 *
 * Each thread owns an array of counters indexed by command id, written
 * with relaxed load+store (no locked instruction) and summed by INFO. The
 * instantaneous rates are sampled by the server cron.
 * Thread context: writers [owner thread of the counters]; readers [any].
 */
#ifndef STASH_EXEC_STATS_H
#define STASH_EXEC_STATS_H

#include "base/buf.h"
#include "exec/command.h"

struct client;

void stats_setup(void);
void stats_teardown(void);

/* Command accounting (dispatch). */
void stats_command_call(const struct command *cmd, int64_t usec);
void stats_command_rejected(const struct command *cmd);
/* An error reply for c's current command: failed (running) or rejected. */
void stats_command_failed(struct client *c);
/* Dispatch marks the span where errors count as failures. */
void stats_set_executing(bool on);

struct cmdstat {
    uint64_t calls, usec, rejected, failed;
};
void stats_command_get(const struct command *cmd, struct cmdstat *out);
uint64_t stats_total_commands(void);
void stats_reset(void);

/* INFO commandstats section. */
void stats_info_commandstats(struct buf *out);

/* Instantaneous metrics: the cron feeds samples, INFO reads rates. */
void stats_sample(int64_t now_ms, uint64_t commands, uint64_t in_bytes, uint64_t out_bytes);
double stats_ops_per_sec(void);
double stats_input_kbps(void);
double stats_output_kbps(void);

#endif

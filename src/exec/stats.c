/*
 * exec/stats.c - see stats.h.
 */
#include "exec/stats.h"
#include "base/alloc.h"
#include "exec/client.h"

#include <stdatomic.h>
#include <string.h>

#define MAX_STAT_THREADS 512
#define SAMPLES 16

struct ccount {
    _Atomic uint64_t calls, usec, rejected, failed;
};

/* Published with release (the slot is calloc'ed first), read with acquire. */
static _Atomic(struct ccount *) threads[MAX_STAT_THREADS];
static _Atomic int nthreads;
static __thread struct ccount *tl;
static __thread bool tl_executing;

void stats_setup(void) {}

void stats_teardown(void) {
    int n = MIN(atomic_load(&nthreads), MAX_STAT_THREADS);
    for (int i = 0; i < n; i++) {
        xfree(atomic_load(&threads[i]));
        atomic_store(&threads[i], NULL);
    }
    atomic_store(&nthreads, 0);
}

static struct ccount *mine(void) {
    if (UNLIKELY(tl == NULL)) {
        int i = atomic_fetch_add(&nthreads, 1);
        if (i >= MAX_STAT_THREADS) return NULL;
        tl = xcalloc((size_t)exec_command_ids() + 1, sizeof(*tl));
        atomic_store_explicit(&threads[i], tl, memory_order_release);
    }
    return tl;
}

static inline void bump(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

void stats_command_call(const struct command *cmd, int64_t usec) {
    struct ccount *t = mine();
    if (t == NULL) return;
    bump(&t[cmd->id].calls, 1);
    bump(&t[cmd->id].usec, (uint64_t)usec);
}

void stats_command_rejected(const struct command *cmd) {
    struct ccount *t = mine();
    if (t && cmd) bump(&t[cmd->id].rejected, 1);
}

void stats_set_executing(bool on) { tl_executing = on; }

void stats_command_failed(struct client *c) {
    const struct command *cmd = c->cmd;
    if (cmd == NULL) return;
    struct ccount *t = mine();
    if (t == NULL) return;
    if (tl_executing)
        bump(&t[cmd->id].failed, 1);
    else
        bump(&t[cmd->id].rejected, 1);
}

void stats_command_get(const struct command *cmd, struct cmdstat *out) {
    memset(out, 0, sizeof(*out));
    int n = MIN(atomic_load(&nthreads), MAX_STAT_THREADS);
    for (int i = 0; i < n; i++) {
        struct ccount *t = atomic_load_explicit(&threads[i], memory_order_acquire);
        if (t == NULL) continue;
        out->calls += atomic_load_explicit(&t[cmd->id].calls, memory_order_relaxed);
        out->usec += atomic_load_explicit(&t[cmd->id].usec, memory_order_relaxed);
        out->rejected += atomic_load_explicit(&t[cmd->id].rejected, memory_order_relaxed);
        out->failed += atomic_load_explicit(&t[cmd->id].failed, memory_order_relaxed);
    }
}

uint64_t stats_total_commands(void) {
    uint64_t sum = 0;
    int n = MIN(atomic_load(&nthreads), MAX_STAT_THREADS);
    int ids = exec_command_ids();
    for (int i = 0; i < n; i++) {
        struct ccount *t = atomic_load_explicit(&threads[i], memory_order_acquire);
        if (t == NULL) continue;
        for (int k = 0; k < ids; k++) sum += atomic_load_explicit(&t[k].calls, memory_order_relaxed);
    }
    return sum;
}

void stats_reset(void) {
    int n = MIN(atomic_load(&nthreads), MAX_STAT_THREADS);
    int ids = exec_command_ids();
    for (int i = 0; i < n; i++) {
        struct ccount *t = atomic_load_explicit(&threads[i], memory_order_acquire);
        if (t == NULL) continue;
        for (int k = 0; k < ids; k++) {
            atomic_store(&t[k].calls, 0);
            atomic_store(&t[k].usec, 0);
            atomic_store(&t[k].rejected, 0);
            atomic_store(&t[k].failed, 0);
        }
    }
}

static void commandstat_line(const struct command *cmd, struct buf *out) {
    struct cmdstat s;
    stats_command_get(cmd, &s);
    if (s.calls || s.rejected || s.failed) {
        buf_printf(out, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
                   cmd->fullname, (unsigned long long)s.calls, (unsigned long long)s.usec,
                   s.calls ? (double)s.usec / (double)s.calls : 0.0, (unsigned long long)s.rejected,
                   (unsigned long long)s.failed);
    }
    for (int i = 0; i < cmd->nsubcmds; i++) commandstat_line(&cmd->subcmds[i], out);
}

void stats_info_commandstats(struct buf *out) {
    int n = exec_command_count();
    for (int i = 0; i < n; i++) commandstat_line(exec_command_at(i), out);
}

/* ---- instantaneous rates ------------------------------------------------------ */

static struct {
    int64_t t[SAMPLES];
    uint64_t cmds[SAMPLES], in[SAMPLES], out[SAMPLES];
    int idx, n;
} rates;
static _Atomic double ops_rate, in_rate, out_rate;

void stats_sample(int64_t now, uint64_t commands, uint64_t in_bytes, uint64_t out_bytes) {
    int i = rates.idx;
    rates.t[i] = now;
    rates.cmds[i] = commands;
    rates.in[i] = in_bytes;
    rates.out[i] = out_bytes;
    rates.idx = (i + 1) % SAMPLES;
    if (rates.n < SAMPLES) rates.n++;
    if (rates.n < 2) return;
    int oldest = rates.n < SAMPLES ? 0 : rates.idx;
    double dt = (double)(now - rates.t[oldest]) / 1000.0;
    if (dt <= 0) return;
    atomic_store(&ops_rate, (double)(commands - rates.cmds[oldest]) / dt);
    atomic_store(&in_rate, (double)(in_bytes - rates.in[oldest]) / dt / 1024.0);
    atomic_store(&out_rate, (double)(out_bytes - rates.out[oldest]) / dt / 1024.0);
}

double stats_ops_per_sec(void) { return atomic_load(&ops_rate); }
double stats_input_kbps(void) { return atomic_load(&in_rate); }
double stats_output_kbps(void) { return atomic_load(&out_rate); }

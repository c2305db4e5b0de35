/*
 * cmd/latency.c - LATENCY LATEST HISTORY RESET GRAPH DOCTOR HISTOGRAM HELP.
 *
 * The latency monitor's series live in metrics/latency (events at or above
 * latency-monitor-threshold ms, one sample per second, 160 kept); the
 * per-command histograms in metrics/cmdlat. GRAPH draws the series as an
 * ASCII chart and DOCTOR summarizes each event, in Stash's own words.
 *
 * Thread context: the client's worker, no stripe locks.
 */
#include "cmd/cmd.h"
#include "cmd/server.h"
#include "base/alloc.h"
#include "base/time.h"
#include "metrics/cmdlat.h"
#include "metrics/latency.h"

#include <stdio.h>
#include <string.h>

void cmd_latency_latest(struct client *c) { latency_reply_latest(c->out, c->resp); }

void cmd_latency_history(struct client *c) { latency_reply_history(c->out, c->resp, c->argv[2], c->argvlen[2]); }

void cmd_latency_reset(struct client *c) {
    reply_int(c, latency_reset(c->argc - 2, c->argv + 2, c->argvlen + 2));
}

/* ---- GRAPH ----------------------------------------------------------------------- */

#define GRAPH_COLS 80
#define GRAPH_ROWS 4

static void age_label(char *out, size_t cap, int64_t secs) {
    if (secs < 60)
        snprintf(out, cap, "%llds", (long long)secs);
    else if (secs < 3600)
        snprintf(out, cap, "%lldm", (long long)(secs / 60));
    else if (secs < 86400)
        snprintf(out, cap, "%lldh", (long long)(secs / 3600));
    else
        snprintf(out, cap, "%lldd", (long long)(secs / 86400));
}

/* Each column is one sample (the newest GRAPH_COLS), its height in
 * GRAPH_ROWS rows of three steps each ('_', '-', '`' inside a row, '|'
 * below the top); under it, the sample's age written downwards. */
static void draw_graph(struct buf *g, const struct latency_sample *s, int n) {
    if (n > GRAPH_COLS) {
        s += n - GRAPH_COLS;
        n = GRAPH_COLS;
    }
    uint32_t lo = 0, hi = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || s[i].latency < lo) lo = s[i].latency;
        if (i == 0 || s[i].latency > hi) hi = s[i].latency;
    }
    int levels = GRAPH_ROWS * 3;
    int height[GRAPH_COLS];
    for (int i = 0; i < n; i++)
        height[i] = hi == lo ? levels - 1 : (int)((uint64_t)(s[i].latency - lo) * (uint64_t)(levels - 1) / (hi - lo));
    static const char steps[3] = {'_', '-', '`'};
    for (int row = GRAPH_ROWS - 1; row >= 0; row--) {
        for (int i = 0; i < n; i++) {
            int top = height[i] / 3;
            buf_putc(g, top == row ? steps[height[i] % 3] : (top > row ? '|' : ' '));
        }
        buf_putc(g, '\n');
    }
    char labels[GRAPH_COLS][24];
    size_t longest = 0;
    int64_t now = time_ms() / 1000;
    for (int i = 0; i < n; i++) {
        age_label(labels[i], sizeof(labels[i]), now - s[i].time);
        if (strlen(labels[i]) > longest) longest = strlen(labels[i]);
    }
    for (size_t line = 0; line < longest; line++) {
        for (int i = 0; i < n; i++) buf_putc(g, line < strlen(labels[i]) ? labels[i][line] : ' ');
        buf_putc(g, '\n');
    }
}

void cmd_latency_graph(struct client *c) {
    struct latency_sample samples[LATENCY_SAMPLES];
    uint32_t all_time = 0;
    int n = latency_samples(c->argv[2], c->argvlen[2], samples, &all_time);
    if (n < 0) {
        reply_errorf(c, "ERR No samples available for event '%.*s'", (int)c->argvlen[2], c->argv[2]);
        return;
    }
    uint32_t lo = 0, hi = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || samples[i].latency < lo) lo = samples[i].latency;
        if (i == 0 || samples[i].latency > hi) hi = samples[i].latency;
    }
    struct buf g = BUF_INIT;
    buf_printf(&g, "%.*s - high %u ms, low %u ms (all time high %u ms)\n", (int)c->argvlen[2], c->argv[2], hi, lo,
               all_time);
    for (int i = 0; i < GRAPH_COLS; i++) buf_putc(&g, '-');
    buf_putc(&g, '\n');
    draw_graph(&g, samples, n);
    reply_verbatim(c, g.data, g.len, "txt");
    buf_free(&g);
}

/* ---- DOCTOR ------------------------------------------------------------------------ */

struct event_row {
    char name[64];
    uint32_t max, last;
    int32_t last_time;
};

struct event_rows {
    struct event_row rows[64];
    int n;
};

/* Called under the latency monitor's lock: only copy. */
static void collect_event(const char *name, uint32_t max, uint32_t last, int32_t last_time, void *arg) {
    struct event_rows *r = arg;
    if (r->n == (int)ARRAY_LEN(r->rows)) return;
    struct event_row *e = &r->rows[r->n++];
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->max = max;
    e->last = last;
    e->last_time = last_time;
}

static void doctor_event(struct buf *out, int nr, const struct event_row *e) {
    struct latency_sample s[LATENCY_SAMPLES];
    int n = latency_samples(e->name, strlen(e->name), s, NULL);
    if (n <= 0) return;
    uint64_t sum = 0;
    uint32_t lo = s[0].latency, hi = s[0].latency;
    int32_t oldest = s[0].time;
    for (int i = 0; i < n; i++) {
        sum += s[i].latency;
        if (s[i].latency < lo) lo = s[i].latency;
        if (s[i].latency > hi) hi = s[i].latency;
        if (s[i].time < oldest) oldest = s[i].time;
    }
    uint64_t avg = sum / (uint64_t)n, dev = 0;
    for (int i = 0; i < n; i++) dev += s[i].latency > avg ? s[i].latency - avg : avg - s[i].latency;
    int64_t now = time_ms() / 1000;
    int64_t period = now - oldest;
    if (period <= 0) period = 1;
    buf_printf(out,
               "%d. %s: %d latency spikes (average %llums, mean deviation %llums, period %lld sec). Worst all "
               "time event %ums. Latest %ums, %lld sec ago; recorded spikes ranged from %ums to %ums.\n",
               nr, e->name, n, (unsigned long long)avg, (unsigned long long)(dev / (uint64_t)n), (long long)period,
               e->max, e->last, (long long)(now - e->last_time), lo, hi);
}

void cmd_latency_doctor(struct client *c) {
    struct event_rows *rows = xcalloc(1, sizeof(*rows));
    latency_events(collect_event, rows);
    struct buf out = BUF_INIT;
    if (rows->n == 0) {
        buf_puts(&out, "Latency doctor: no latency spike was recorded by this instance. The latency monitor records "
                       "events that take at least latency-monitor-threshold milliseconds (0 disables it).\n");
    } else {
        buf_printf(&out, "Latency doctor: %d event class(es) recorded spikes at or above the configured "
                         "latency-monitor-threshold:\n\n", rows->n);
        for (int i = 0; i < rows->n; i++) doctor_event(&out, i + 1, &rows->rows[i]);
        buf_puts(&out, "\nEvents named \"command\" and \"fast-command\" are commands that ran for that long: "
                       "SLOWLOG GET shows which, and LATENCY HISTOGRAM their distribution. LATENCY RESET "
                       "clears the records.\n");
    }
    reply_verbatim(c, out.data, out.len, "txt");
    buf_free(&out);
    xfree(rows);
}

/* ---- HISTOGRAM ---------------------------------------------------------------------- */

static void cdf_pair(long long usec, long long cum, void *arg) {
    struct client *c = arg;
    reply_int(c, usec);
    reply_int(c, cum);
}

/* "<fullname>" => {calls, histogram_usec} if the command has data. */
static bool reply_histogram(struct client *c, const struct command *cmd, uint64_t *counts) {
    uint64_t total = cmdlat_merge(cmd->id, counts);
    if (total == 0) return false;
    reply_bulk_cstr(c, cmd->fullname);
    reply_map(c, 2);
    reply_bulk_cstr(c, "calls");
    reply_int(c, (long long)total);
    reply_bulk_cstr(c, "histogram_usec");
    struct onode *d = reply_defer(c);
    int n = cmdlat_cdf(counts, total, cdf_pair, c);
    reply_defer_map(c, d, n);
    return true;
}

void cmd_latency_histogram(struct client *c) {
    uint64_t *counts = xmalloc(sizeof(uint64_t) * CMDLAT_COUNTS);
    struct onode *d = reply_defer(c);
    long n = 0;
    if (c->argc == 2) {
        for (int i = 0; i < exec_command_count(); i++) {
            const struct command *cmd = exec_command_at(i);
            n += reply_histogram(c, cmd, counts);
            for (int k = 0; k < cmd->nsubcmds; k++) n += reply_histogram(c, &cmd->subcmds[k], counts);
        }
    } else {
        /* Unknown names are skipped; a container brings its subcommands. */
        for (int i = 2; i < c->argc; i++) {
            const struct command *cmd = cmd_lookup_fullname(c->argv[i], c->argvlen[i]);
            if (cmd == NULL) continue;
            n += reply_histogram(c, cmd, counts);
            for (int k = 0; k < cmd->nsubcmds; k++) n += reply_histogram(c, &cmd->subcmds[k], counts);
        }
    }
    reply_defer_map(c, d, n);
    xfree(counts);
}

void cmd_latency_help(struct client *c) {
    static const char *const lines[] = {
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command "
        "names.",
        "    If no commands are specified then all histograms are replied.",
        NULL,
    };
    cmd_reply_help(c, lines);
}

/*
 * metrics/latency.c - see latency.h.
 */
#include "metrics/latency.h"
#include "metrics/cmdlat.h"
#include "base/alloc.h"
#include "base/time.h"
#include "config/config.h"
#include "proto/resp.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#define MAX_EVENTS 64

struct series {
    char name[64];
    int idx; /* next slot to write */
    uint32_t max;
    struct latency_sample s[LATENCY_SAMPLES];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series *events[MAX_EVENTS];
static int nevents;
static _Atomic long long threshold_ms;

static int apply_threshold(long long v, char *err) {
    atomic_store(&threshold_ms, v);
    return 0;
}

static struct config_option options[] = {
    {"latency-monitor-threshold", NULL, CFG_INT, 0, "0", 0, LLONG_MAX, NULL, apply_threshold, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void latency_setup(void) {
    config_register(options);
    cmdlat_setup();
}

void latency_teardown(void) {
    cmdlat_teardown();
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nevents; i++) xfree(events[i]);
    nevents = 0;
    pthread_mutex_unlock(&mu);
}

bool latency_wants(int64_t ms) {
    long long t = atomic_load_explicit(&threshold_ms, memory_order_relaxed);
    return t > 0 && ms >= t;
}

static struct series *find(const char *name, size_t len) {
    for (int i = 0; i < nevents; i++)
        if (strlen(events[i]->name) == len && memcmp(events[i]->name, name, len) == 0) return events[i];
    return NULL;
}

void latency_add(const char *event, int64_t ms) {
    int32_t now = (int32_t)(time_ms() / 1000);
    pthread_mutex_lock(&mu);
    struct series *s = find(event, strlen(event));
    if (s == NULL && nevents < MAX_EVENTS) {
        s = xcalloc(1, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", event);
        events[nevents++] = s;
    }
    if (s) {
        if ((uint32_t)ms > s->max) s->max = (uint32_t)ms;
        int prev = (s->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES;
        if (s->s[prev].time == now) {
            if ((uint32_t)ms > s->s[prev].latency) s->s[prev].latency = (uint32_t)ms;
        } else {
            s->s[s->idx].time = now;
            s->s[s->idx].latency = (uint32_t)ms;
            s->idx = (s->idx + 1) % LATENCY_SAMPLES;
        }
    }
    pthread_mutex_unlock(&mu);
}

int latency_reset(int n, const char *const *names, const size_t *lens) {
    pthread_mutex_lock(&mu);
    int reset = 0;
    for (int i = 0; i < nevents;) {
        bool match = n == 0;
        for (int k = 0; k < n && !match; k++)
            match = strlen(events[i]->name) == lens[k] && strncasecmp(events[i]->name, names[k], lens[k]) == 0;
        if (match) {
            xfree(events[i]);
            events[i] = events[--nevents];
            reset++;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&mu);
    return reset;
}

static int last_of(const struct series *s) { return (s->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES; }

void latency_reply_latest(struct obuf *ob, int resp) {
    pthread_mutex_lock(&mu);
    resp_w_agg(ob, resp, '*', nevents);
    for (int i = 0; i < nevents; i++) {
        struct series *s = events[i];
        int l = last_of(s);
        resp_w_agg(ob, resp, '*', 4);
        resp_w_bulk(ob, s->name, strlen(s->name));
        resp_w_int(ob, s->s[l].time);
        resp_w_int(ob, s->s[l].latency);
        resp_w_int(ob, s->max);
    }
    pthread_mutex_unlock(&mu);
}

int latency_samples(const char *event, size_t len, struct latency_sample *out, uint32_t *max_out) {
    pthread_mutex_lock(&mu);
    struct series *s = find(event, len);
    int n = -1;
    if (s) {
        n = 0;
        for (int k = 0; k < LATENCY_SAMPLES; k++) {
            int j = (s->idx + k) % LATENCY_SAMPLES;
            if (s->s[j].time == 0) continue;
            out[n++] = s->s[j];
        }
        if (max_out) *max_out = s->max;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

void latency_reply_history(struct obuf *ob, int resp, const char *event, size_t len) {
    struct latency_sample samples[LATENCY_SAMPLES];
    int n = latency_samples(event, len, samples, NULL);
    if (n < 0) n = 0;
    resp_w_agg(ob, resp, '*', n);
    for (int i = 0; i < n; i++) {
        resp_w_agg(ob, resp, '*', 2);
        resp_w_int(ob, samples[i].time);
        resp_w_int(ob, samples[i].latency);
    }
}

void latency_events(void (*fn)(const char *name, uint32_t max, uint32_t last, int32_t last_time, void *arg),
                    void *arg) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nevents; i++) {
        struct series *s = events[i];
        int l = last_of(s);
        fn(s->name, s->max, s->s[l].latency, s->s[l].time, arg);
    }
    pthread_mutex_unlock(&mu);
}

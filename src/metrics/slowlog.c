/*
 * metrics/slowlog.c - see slowlog.h.
 */
#include "metrics/slowlog.h"
#include "base/alloc.h"
#include "base/time.h"
#include "config/config.h"
#include "proto/resp.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_ARGS 32
#define MAX_ARG_LEN 128

struct slow_entry {
    struct slow_entry *next;
    long long id;
    long long time;
    long long duration;
    int argc;
    char **argv;
    size_t *lens;
    char *peer;
    char *name;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slow_entry *head; /* newest first */
static size_t count;
static long long next_id;
static _Atomic long long slower_than = 10000;
static _Atomic long long max_len = 128;

static int apply_slower(long long v, char *err) {
    atomic_store(&slower_than, v);
    return 0;
}

static void entry_free(struct slow_entry *e) {
    for (int i = 0; i < e->argc; i++) xfree(e->argv[i]);
    xfree(e->argv);
    xfree(e->lens);
    xfree(e->peer);
    xfree(e->name);
    xfree(e);
}

static void trim_locked(void) {
    long long max = atomic_load(&max_len);
    if ((long long)count <= max) return;
    struct slow_entry **pp = &head;
    long long kept = 0;
    while (*pp && kept < max) {
        pp = &(*pp)->next;
        kept++;
    }
    struct slow_entry *e = *pp;
    *pp = NULL;
    while (e) {
        struct slow_entry *next = e->next;
        entry_free(e);
        count--;
        e = next;
    }
}

static int apply_maxlen(long long v, char *err) {
    atomic_store(&max_len, v);
    pthread_mutex_lock(&mu);
    trim_locked();
    pthread_mutex_unlock(&mu);
    return 0;
}

static struct config_option options[] = {
    {"slowlog-log-slower-than", NULL, CFG_INT, 0, "10000", -1, LLONG_MAX, NULL, apply_slower, NULL, NULL, NULL, 0, NULL},
    {"slowlog-max-len", NULL, CFG_INT, 0, "128", 0, LONG_MAX, NULL, apply_maxlen, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void slowlog_setup(void) { config_register(options); }

void slowlog_teardown(void) { slowlog_reset(); }

bool slowlog_wants(int64_t duration_us) {
    long long t = atomic_load_explicit(&slower_than, memory_order_relaxed);
    return t >= 0 && duration_us >= t;
}

void slowlog_add(int argc, const char *const *argv, const size_t *lens, int64_t duration_us,
                 const char *peer, const char *name) {
    struct slow_entry *e = xcalloc(1, sizeof(*e));
    int n = argc > MAX_ARGS ? MAX_ARGS : argc;
    e->argc = n;
    e->argv = xmalloc(sizeof(char *) * (size_t)n);
    e->lens = xmalloc(sizeof(size_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        char tmp[64];
        if (i == n - 1 && argc > MAX_ARGS) {
            int k = snprintf(tmp, sizeof(tmp), "... (%d more arguments)", argc - MAX_ARGS + 1);
            e->argv[i] = xmemdup(tmp, (size_t)k);
            e->lens[i] = (size_t)k;
        } else if (lens[i] > MAX_ARG_LEN) {
            int k = snprintf(tmp, sizeof(tmp), "... (%zu more bytes)", lens[i] - MAX_ARG_LEN);
            e->argv[i] = xmalloc(MAX_ARG_LEN + (size_t)k);
            memcpy(e->argv[i], argv[i], MAX_ARG_LEN);
            memcpy(e->argv[i] + MAX_ARG_LEN, tmp, (size_t)k);
            e->lens[i] = MAX_ARG_LEN + (size_t)k;
        } else {
            e->argv[i] = xmemdup(argv[i], lens[i]);
            e->lens[i] = lens[i];
        }
    }
    e->time = time_ms() / 1000;
    e->duration = duration_us;
    e->peer = xstrdup(peer ? peer : "");
    e->name = xstrdup(name ? name : "");
    pthread_mutex_lock(&mu);
    e->id = next_id++;
    e->next = head;
    head = e;
    count++;
    trim_locked();
    pthread_mutex_unlock(&mu);
}

void slowlog_reset(void) {
    pthread_mutex_lock(&mu);
    struct slow_entry *e = head;
    head = NULL;
    count = 0;
    pthread_mutex_unlock(&mu);
    while (e) {
        struct slow_entry *next = e->next;
        entry_free(e);
        e = next;
    }
}

size_t slowlog_len(void) {
    pthread_mutex_lock(&mu);
    size_t n = count;
    pthread_mutex_unlock(&mu);
    return n;
}

void slowlog_reply(struct obuf *ob, int resp, long n) {
    pthread_mutex_lock(&mu);
    long total = (long)count;
    if (n < 0 || n > total) n = total;
    resp_w_agg(ob, resp, '*', n);
    struct slow_entry *e = head;
    for (long i = 0; i < n && e; i++, e = e->next) {
        resp_w_agg(ob, resp, '*', 6);
        resp_w_int(ob, e->id);
        resp_w_int(ob, e->time);
        resp_w_int(ob, e->duration);
        resp_w_agg(ob, resp, '*', e->argc);
        for (int a = 0; a < e->argc; a++) resp_w_bulk(ob, e->argv[a], e->lens[a]);
        resp_w_bulk(ob, e->peer, strlen(e->peer));
        resp_w_bulk(ob, e->name, strlen(e->name));
    }
    pthread_mutex_unlock(&mu);
}

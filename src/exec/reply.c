/*
 * exec/reply.c - see reply.h.
 *
 * Error statistics: each thread counts replies per error code (the first
 * word: ERR, WRONGTYPE...) in its own small table; INFO sums them. Redis
 * caps distinct codes at 128 and so do we.
 */
#include "exec/reply.h"
#include "base/alloc.h"
#include "base/str.h"
#include "exec/stats.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#define MAX_ERR_CODES 128
#define MAX_STAT_THREADS 512

struct err_table {
    int n;
    char code[MAX_ERR_CODES][32];
    _Atomic uint64_t count[MAX_ERR_CODES];
    _Atomic uint64_t total;
};

static struct err_table *tables[MAX_STAT_THREADS];
static _Atomic int ntables;
static __thread struct err_table *tl_errs;
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER; /* guards code-name insertion */

static void count_error(const char *msg, size_t n) {
    if (UNLIKELY(tl_errs == NULL)) {
        int i = atomic_fetch_add(&ntables, 1);
        if (i >= MAX_STAT_THREADS) return;
        tl_errs = xcalloc(1, sizeof(*tl_errs));
        tables[i] = tl_errs;
    }
    struct err_table *t = tl_errs;
    size_t k = 0;
    while (k < n && k < 31 && msg[k] != ' ') k++;
    atomic_store_explicit(&t->total, atomic_load_explicit(&t->total, memory_order_relaxed) + 1, memory_order_relaxed);
    for (int i = 0; i < t->n; i++) {
        if (strncmp(t->code[i], msg, k) == 0 && t->code[i][k] == '\0') {
            atomic_store_explicit(&t->count[i], atomic_load_explicit(&t->count[i], memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            return;
        }
    }
    if (t->n < MAX_ERR_CODES) {
        pthread_mutex_lock(&err_mu);
        memcpy(t->code[t->n], msg, k);
        t->code[t->n][k] = '\0';
        atomic_store_explicit(&t->count[t->n], 1, memory_order_relaxed);
        t->n++;
        pthread_mutex_unlock(&err_mu);
    }
}

void reply_errorstats(struct buf *out) {
    /* Merge the per-thread tables by code name. */
    char codes[MAX_ERR_CODES][32];
    uint64_t counts[MAX_ERR_CODES];
    int n = 0;
    pthread_mutex_lock(&err_mu);
    int nt = MIN(atomic_load(&ntables), MAX_STAT_THREADS);
    for (int t = 0; t < nt; t++) {
        struct err_table *et = tables[t];
        if (et == NULL) continue;
        for (int i = 0; i < et->n; i++) {
            uint64_t c = atomic_load_explicit(&et->count[i], memory_order_relaxed);
            if (c == 0) continue;
            int j;
            for (j = 0; j < n; j++)
                if (strcmp(codes[j], et->code[i]) == 0) break;
            if (j == n) {
                if (n == MAX_ERR_CODES) continue;
                strcpy(codes[n], et->code[i]);
                counts[n++] = 0;
            }
            counts[j] += c;
        }
    }
    pthread_mutex_unlock(&err_mu);
    for (int i = 0; i < n; i++) buf_printf(out, "errorstat_%s:count=%llu\r\n", codes[i], (unsigned long long)counts[i]);
}

void reply_errorstats_reset(void) {
    pthread_mutex_lock(&err_mu);
    int nt = MIN(atomic_load(&ntables), MAX_STAT_THREADS);
    for (int t = 0; t < nt; t++) {
        struct err_table *et = tables[t];
        if (et == NULL) continue;
        for (int i = 0; i < et->n; i++) atomic_store(&et->count[i], 0);
        atomic_store(&et->total, 0);
    }
    pthread_mutex_unlock(&err_mu);
}

uint64_t reply_total_errors(void) {
    uint64_t sum = 0;
    int nt = MIN(atomic_load(&ntables), MAX_STAT_THREADS);
    for (int t = 0; t < nt; t++)
        if (tables[t]) sum += atomic_load_explicit(&tables[t]->total, memory_order_relaxed);
    return sum;
}

/* ---- replies ---------------------------------------------------------------- */

void reply_ok(struct client *c) { obuf_append(c->out, "+OK\r\n", 5); }
void reply_simple(struct client *c, const char *s) { resp_w_simple(c->out, s, strlen(s)); }

void reply_error(struct client *c, const char *msg) {
    size_t n = strlen(msg);
    resp_w_error(c->out, msg, n);
    count_error(msg, n);
    stats_command_failed(c);
}

void reply_errorf(struct client *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(c, msg);
}

void reply_arity_error(struct client *c) {
    reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd ? c->cmd->fullname : "?");
}

void reply_int(struct client *c, long long v) {
    if (v == 0) {
        obuf_append(c->out, ":0\r\n", 4);
        return;
    }
    if (v == 1) {
        obuf_append(c->out, ":1\r\n", 4);
        return;
    }
    resp_w_int(c->out, v);
}

void reply_bulk(struct client *c, const char *p, size_t n) { resp_w_bulk(c->out, p, n); }
void reply_bulk_cstr(struct client *c, const char *s) { resp_w_bulk(c->out, s, strlen(s)); }

void reply_bulk_ll(struct client *c, long long v) {
    char buf[STR_LL_MAX];
    int n = ll_to_str(buf, sizeof(buf), v);
    resp_w_bulk(c->out, buf, (size_t)n);
}

void reply_bulk_double(struct client *c, double d) {
    char buf[STR_D_MAX];
    int n = d_to_str(buf, sizeof(buf), d);
    resp_w_bulk(c->out, buf, (size_t)n);
}

void reply_null(struct client *c) { resp_w_null(c->out, c->resp); }
void reply_null_array(struct client *c) { resp_w_null_array(c->out, c->resp); }
void reply_array(struct client *c, long long n) { resp_w_agg(c->out, c->resp, '*', n); }
void reply_map(struct client *c, long long n) { resp_w_agg(c->out, c->resp, '%', n); }
void reply_set(struct client *c, long long n) { resp_w_agg(c->out, c->resp, '~', n); }
void reply_push(struct client *c, long long n) { resp_w_agg(c->out, c->resp, '>', n); }
void reply_double(struct client *c, double d) { resp_w_double(c->out, c->resp, d); }
void reply_bool(struct client *c, bool v) { resp_w_bool(c->out, c->resp, v); }
void reply_verbatim(struct client *c, const char *p, size_t n, const char *fmt3) {
    resp_w_verbatim(c->out, c->resp, fmt3, p, n);
}
void reply_proto(struct client *c, const char *p, size_t n) { obuf_append(c->out, p, n); }

struct onode *reply_defer(struct client *c) { return obuf_defer(c->out); }

static void defer_set(struct client *c, struct onode *d, char type, long long n) {
    char hdr[32];
    int k = resp_fmt_agg(hdr, c->resp, type, n);
    obuf_defer_set(c->out, d, hdr, (size_t)k);
}

void reply_defer_array(struct client *c, struct onode *d, long long n) { defer_set(c, d, '*', n); }
void reply_defer_map(struct client *c, struct onode *d, long long n) { defer_set(c, d, '%', n); }
void reply_defer_set(struct client *c, struct onode *d, long long n) { defer_set(c, d, '~', n); }

/* Values up to this size are copied under the lock; bigger ones are
 * referenced and sent from the blob after unlocking. */
#define REPLY_COPY_MAX (16 * 1024)

void reply_entry_str(struct client *c, const struct entry *e) {
    struct strval v;
    entry_str_get(e, &v);
    if (v.ptr == NULL) {
        reply_bulk_ll(c, v.ll);
        return;
    }
    if (v.blob == NULL || v.len <= REPLY_COPY_MAX) {
        resp_w_bulk(c->out, v.ptr, v.len);
        return;
    }
    resp_w_bulk_header(c->out, v.len);
    blob_ref(v.blob);
    obuf_append_ref(c->out, v.ptr, v.len, blob_release_cb, v.blob);
    obuf_append(c->out, "\r\n", 2);
}

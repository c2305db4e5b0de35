/*
 * bench/stash-benchmark/bench.h - the pieces of stash-benchmark shared by
 * its modules: options, connections, tests, results.
 *
 *   main.c    options, target checks, the sequence of tests, exit status
 *   conn.c    connect (TCP or unix socket), TLS, setup commands, raw I/O
 *   run.c     one test: worker threads, each an epoll loop over its
 *             connections, pipelined batches, reply verification, counts
 *   report.c  merged results as text, CSV or JSON; the progress line
 *   workload.c / codec.c / keydist.c / hist.c: see their headers
 *
 * A test runs like redis-benchmark's: every connection sends a batch of
 * `pipeline` requests, waits for all their replies, then sends the next
 * batch. Latency of a reply is measured from the moment its batch was
 * written to the moment the read that completed it returned. A test ends
 * at whichever comes first: `requests` replies, `duration` seconds (then
 * the replies in flight are still awaited), --max-time, or Ctrl-C.
 *
 * Threads: connections are opened by the main thread, then handed to the
 * workers of a test (connection i to worker i % threads) and back when the
 * workers are joined. Workers share only the run's atomics (claimed
 * requests, stop flag) and their own progress counters, read by the main
 * thread with relaxed loads.
 */
#ifndef STASH_BENCH_BENCH_H
#define STASH_BENCH_BENCH_H

#include "hist.h"
#include "workload.h"

#include "base/buf.h"
#include "base/obuf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

#define SB_TESTS_MAX 32
#define SB_MIX_MAX 16
#define SB_ERR_SAMPLES 8

enum sb_format { SB_OUT_TEXT, SB_OUT_CSV, SB_OUT_JSON };

/* One test: one operation, or a weighted mix. */
struct sb_test {
    char name[64];
    struct sb_opspec ops[SB_MIX_MAX];
    int nops;
    double total_weight;
    bool sequential; /* prefill: keys 0, 1, 2, ... once each */
};

struct sb_opts {
    enum sb_proto proto;
    const char *host;
    int port;
    const char *unix_path;
    bool allow_remote;
    int conns;
    int threads;
    int pipeline;
    uint64_t requests; /* 0: no count limit */
    double duration;   /* seconds, 0: none */
    double max_time;   /* hard cap of one test, seconds */
    double timeout;    /* no reply for this long: the requests are lost */
    double connect_timeout;
    uint64_t keyspace;
    const char *dist;
    bool scramble;
    size_t vsize;
    uint32_t multi;
    const char *prefix;
    struct sb_test tests[SB_TESTS_MAX];
    int ntests;
    bool prefill;
    bool verify_content;
    const char *auth;
    const char *user;
    int dbnum;
    bool resp3;
    bool tls;
    bool tls_verify;
    const char *cacert;
    const char *cert;
    const char *key;
    const char *sni;
    enum sb_format format;
    bool quiet;
    bool progress;
    int precision;
    uint64_t seed; /* 0: random */
};

/* ---- connections (conn.c) ------------------------------------------------- */

struct sb_pend {
    uint16_t spec;  /* index into the test's ops */
    uint32_t nkeys; /* key indexes of the request in the key ring */
};

struct sb_conn {
    int fd;
    SSL *ssl;
    int id;
    bool dead;
    bool out_armed; /* EPOLLOUT requested */
    bool ssl_more;  /* TLS bytes may be buffered inside OpenSSL */
    struct obuf out;
    struct buf in;
    size_t rpos;          /* parsed bytes of in */
    size_t need;          /* don't rescan before in.len - rpos reaches this */
    int64_t sent_ns;      /* when the current batch was written */
    struct sb_pend *pend; /* ring of requests in flight */
    uint32_t ph, pn, pcap;
    uint64_t *keys; /* ring of their key indexes */
    uint32_t kh, kn, kcap;
};

/* TLS context from the options (NULL without --tls); err on failure. */
SSL_CTX *sb_tls_ctx(const struct sb_opts *o, char *err, size_t errlen);
/* Check that the target is loopback (or allowed): 0 or -1 with err. */
int sb_check_target(const struct sb_opts *o, char *err, size_t errlen);
/* Open, handshake and set up (AUTH, HELLO, SELECT) one connection. */
int sb_conn_open(struct sb_conn *c, const struct sb_opts *o, SSL_CTX *tls, char *err,
                 size_t errlen);
void sb_conn_close(struct sb_conn *c);
/* Non-blocking I/O: bytes moved (> 0), 0 would block, -1 closed/error. */
long sb_conn_read(struct sb_conn *c, char *p, size_t n);
long sb_conn_writev(struct sb_conn *c, const struct iovec *iov, int n);

/* ---- results (run.c, report.c) -------------------------------------------- */

struct sb_opstats {
    uint64_t replies;    /* replies received and scanned */
    uint64_t ok;         /* expected reply */
    uint64_t misses;     /* expected "nothing" (counted apart from ok) */
    uint64_t errors;     /* error replies */
    uint64_t mismatches; /* wrong type or content */
    uint64_t checked;    /* values compared byte for byte */
    struct sb_hist hist; /* latency of ok + misses, ns */
};

struct sb_errsample {
    char msg[160];
    uint64_t count;
};

struct sb_result {
    const struct sb_test *test;
    struct sb_opstats ops[SB_MIX_MAX];
    struct sb_hist all;
    uint64_t lost;     /* requests without a reply (connection lost, timeout) */
    uint64_t protocol; /* connections dropped for an unparsable stream */
    struct sb_errsample samples[SB_ERR_SAMPLES];
    int nsamples;
    int64_t start_ns;
    int64_t end_ns; /* last reply */
    bool interrupted;
};

void sb_result_init(struct sb_result *r, const struct sb_test *t, int precision);
void sb_result_free(struct sb_result *r);
void sb_result_merge(struct sb_result *dst, const struct sb_result *src);
void sb_result_sample(struct sb_result *r, const char *msg, size_t len, uint64_t n);
/* Totals over the ops. */
void sb_result_totals(const struct sb_result *r, struct sb_opstats *sum);
uint64_t sb_result_failures(const struct sb_result *r);
double sb_result_seconds(const struct sb_result *r);

/* Run one test over the open connections; fills *res (initialized). */
void sb_run_test(const struct sb_opts *o, const struct sb_workload *wl, const struct sb_test *t,
                 struct sb_conn *conns, struct sb_result *res);

/* Output (report.c). */
void sb_report_test_text(const struct sb_opts *o, const struct sb_result *r);
void sb_report_all(const struct sb_opts *o, const struct sb_result *res, int n,
                   const struct sb_result *prefill);
void sb_progress(const char *name, uint64_t done, uint64_t failed, double secs, double rps);
void sb_progress_clear(void);

/* Ctrl-C was pressed (main.c). */
extern atomic_int sb_interrupted;

static inline int64_t sb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif

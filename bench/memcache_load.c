/*
 * bench/memcache_load.c - a small, bounded memcached text-protocol load
 * generator for bench/memcache_compare.sh (until stash-benchmark's
 * memcached mode is merged).
 *
 *   memcache_load -p PORT [-h 127.0.0.1] [-c 50] [-T 1] [-d SECONDS | -n REQUESTS]
 *                 [-m get|set|mget|fill] [-k KEYS_PER_MGET] [-r KEYSPACE] [-s VALUE_BYTES] [-P PIPELINE]
 *
 * Each of T threads drives its share of c connections with one epoll loop;
 * every connection keeps P requests in flight. A request's latency is the
 * time from writing it to reading the end of its reply. Replies are parsed
 * (VALUE lines and their data, END, STORED), so a wrong or short reply is
 * an error, not a fast request. "fill" stores keys 0..r-1 once, in order
 * (for RSS-per-item measurements), with P requests in flight.
 *
 * Output: one line "mode=... requests=N seconds=S ops_per_sec=X p50_us=..
 * p99_us=.. p999_us=.. errors=E" (a multiget counts as one request).
 * Bounded: it stops after -d seconds or -n requests, whichever is given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { M_GET, M_SET, M_MGET, M_FILL };

static const char *host = "127.0.0.1";
static int port, conns = 50, threads = 1, pipeline = 1, mget_keys = 10, value_bytes = 32;
static long keyspace = 100000, max_requests = 0;
static double seconds = 0;
static enum mode mode = M_GET;

static _Atomic long issued;      /* requests handed out (for -n and fill) */
static _Atomic int stop;

/* Latency histogram: 1 us buckets below 10 ms, 100 us buckets up to 1 s. */
#define FINE 10000
#define COARSE 10000
struct hist {
    uint64_t fine[FINE], coarse[COARSE], over, count, errors;
};

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void hist_add(struct hist *h, uint64_t us) {
    if (us < FINE)
        h->fine[us]++;
    else if (us < FINE + (uint64_t)COARSE * 100)
        h->coarse[(us - FINE) / 100]++;
    else
        h->over++;
    h->count++;
}

static uint64_t hist_pct(const struct hist *h, double p) {
    uint64_t want = (uint64_t)(h->count * p), seen = 0;
    for (int i = 0; i < FINE; i++)
        if ((seen += h->fine[i]) > want) return (uint64_t)i;
    for (int i = 0; i < COARSE; i++)
        if ((seen += h->coarse[i]) > want) return FINE + (uint64_t)i * 100;
    return FINE + (uint64_t)COARSE * 100;
}

struct conn {
    int fd;
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff, outcap;
    uint64_t sent_at[256]; /* ring of send times of requests in flight */
    int head, inflight;
    unsigned seed;
    int values_left;       /* VALUE lines expected before END (diagnostics only) */
};

static void out_append(struct conn *c, const char *p, size_t n) {
    if (c->outlen + n > c->outcap) {
        c->outcap = (c->outlen + n) * 2;
        c->out = realloc(c->out, c->outcap);
    }
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
}

static const char *value_text;

/* Queue one request; false when the run is over. */
static bool queue_request(struct conn *c) {
    long n = atomic_fetch_add(&issued, 1);
    if (atomic_load(&stop) || (max_requests && n >= max_requests) || (mode == M_FILL && n >= keyspace)) {
        atomic_fetch_sub(&issued, 1);
        return false;
    }
    char buf[4096];
    int len = 0;
    switch (mode) {
    case M_GET:
        len = snprintf(buf, sizeof(buf), "get key:%07ld\r\n", (long)(rand_r(&c->seed) % keyspace));
        break;
    case M_MGET:
        len = snprintf(buf, sizeof(buf), "get");
        for (int k = 0; k < mget_keys; k++)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, " key:%07ld", (long)(rand_r(&c->seed) % keyspace));
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, "\r\n");
        break;
    case M_SET:
    case M_FILL: {
        long k = mode == M_FILL ? n : (long)(rand_r(&c->seed) % keyspace);
        len = snprintf(buf, sizeof(buf), "set key:%07ld 0 0 %d\r\n", k, value_bytes);
        out_append(c, buf, (size_t)len);
        out_append(c, value_text, (size_t)value_bytes);
        out_append(c, "\r\n", 2);
        len = 0;
        break;
    }
    }
    if (len) out_append(c, buf, (size_t)len);
    c->sent_at[(c->head + c->inflight) % 256] = now_us();
    c->inflight++;
    return true;
}

/* Consume complete replies from c->in; returns replies completed, -1 on a protocol error. */
static int parse_replies(struct conn *c, struct hist *h) {
    size_t pos = 0;
    int done = 0;
    while (c->inflight > 0) {
        char *nl = memchr(c->in + pos, '\n', c->inlen - pos);
        if (!nl) break;
        size_t linelen = (size_t)(nl - (c->in + pos)) + 1;
        const char *line = c->in + pos;
        if (linelen >= 6 && memcmp(line, "VALUE ", 6) == 0) {
            /* VALUE key flags bytes: skip the data block too */
            const char *sp = memrchr(line, ' ', linelen);
            long bytes = sp ? strtol(sp + 1, NULL, 10) : -1;
            if (bytes < 0) return -1;
            if (c->inlen - pos < linelen + (size_t)bytes + 2) break;
            pos += linelen + (size_t)bytes + 2;
            continue;
        }
        pos += linelen;
        bool end = (linelen == 5 && memcmp(line, "END\r\n", 5) == 0) ||
                   (linelen == 8 && memcmp(line, "STORED\r\n", 8) == 0);
        if (!end) {
            h->errors++;
            if (linelen >= 5 && memcmp(line, "ERROR", 5) == 0) return -1;
        }
        hist_add(h, now_us() - c->sent_at[c->head]);
        c->head = (c->head + 1) % 256;
        c->inflight--;
        done++;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    return done;
}

struct worker {
    int first, count;
    struct hist h;
};

static int connect_one(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static bool flush_out(struct conn *c) {
    while (c->outoff < c->outlen) {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0) {
            if (errno == EAGAIN) return true;
            return false;
        }
        c->outoff += (size_t)w;
    }
    c->outoff = c->outlen = 0;
    return true;
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    int ep = epoll_create1(0);
    struct conn *cs = calloc((size_t)w->count, sizeof(*cs));
    int active = 0;
    for (int i = 0; i < w->count; i++) {
        struct conn *c = &cs[i];
        c->fd = connect_one();
        c->seed = (unsigned)(w->first + i) * 2654435761u;
        c->incap = 1 << 16;
        c->in = malloc(c->incap);
        for (int p = 0; p < pipeline; p++)
            if (!queue_request(c)) break;
        if (c->inflight == 0) continue;
        flush_out(c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        active++;
    }
    struct epoll_event evs[64];
    while (active > 0) {
        int n = epoll_wait(ep, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->incap - c->inlen < 4096) {
                c->incap *= 2;
                c->in = realloc(c->in, c->incap);
            }
            ssize_t r = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                fprintf(stderr, "connection closed by the server\n");
                exit(2);
            }
            c->inlen += (size_t)r;
            int done = parse_replies(c, &w->h);
            if (done < 0) {
                fprintf(stderr, "protocol error in a reply\n");
                exit(2);
            }
            for (int k = 0; k < done; k++)
                if (!queue_request(c)) break;
            if (!flush_out(c)) exit(2);
            if (c->inflight == 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                active--;
            }
        }
    }
    for (int i = 0; i < w->count; i++) {
        close(cs[i].fd);
        free(cs[i].in);
        free(cs[i].out);
    }
    free(cs);
    close(ep);
    return NULL;
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:T:d:n:m:k:r:s:P:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'T': threads = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'n': max_requests = atol(optarg); break;
        case 'm':
            mode = strcmp(optarg, "set") == 0 ? M_SET : strcmp(optarg, "mget") == 0 ? M_MGET
                   : strcmp(optarg, "fill") == 0 ? M_FILL : M_GET;
            break;
        case 'k': mget_keys = atoi(optarg); break;
        case 'r': keyspace = atol(optarg); break;
        case 's': value_bytes = atoi(optarg); break;
        case 'P': pipeline = atoi(optarg); break;
        default: fprintf(stderr, "usage: see the comment at the top of memcache_load.c\n"); return 1;
        }
    }
    if (port <= 0 || conns < 1 || threads < 1 || pipeline < 1 || pipeline > 200 || mget_keys < 1 ||
        mget_keys > 200 || keyspace < 1 || value_bytes < 0) {
        fprintf(stderr, "bad arguments\n");
        return 1;
    }
    if (mode != M_FILL && seconds <= 0 && max_requests <= 0) seconds = 10;
    if (threads > conns) threads = conns;
    char *v = malloc((size_t)value_bytes + 1);
    for (int i = 0; i < value_bytes; i++) v[i] = (char)('a' + i % 26);
    value_text = v;
    struct worker *ws = calloc((size_t)threads, sizeof(*ws));
    pthread_t *tids = calloc((size_t)threads, sizeof(*tids));
    uint64_t start = now_us();
    int per = conns / threads, extra = conns % threads, first = 0;
    for (int t = 0; t < threads; t++) {
        ws[t].first = first;
        ws[t].count = per + (t < extra ? 1 : 0);
        first += ws[t].count;
        pthread_create(&tids[t], NULL, run_worker, &ws[t]);
    }
    if (seconds > 0) {
        while ((double)(now_us() - start) / 1e6 < seconds) {
            usleep(10000);
            if (max_requests && atomic_load(&issued) >= max_requests) break;
        }
        atomic_store(&stop, 1);
    }
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    double elapsed = (double)(now_us() - start) / 1e6;
    struct hist *all = calloc(1, sizeof(*all));
    for (int t = 0; t < threads; t++) {
        for (int i = 0; i < FINE; i++) all->fine[i] += ws[t].h.fine[i];
        for (int i = 0; i < COARSE; i++) all->coarse[i] += ws[t].h.coarse[i];
        all->over += ws[t].h.over;
        all->count += ws[t].h.count;
        all->errors += ws[t].h.errors;
    }
    static const char *names[] = {"get", "set", "mget", "fill"};
    printf("mode=%s requests=%llu seconds=%.2f ops_per_sec=%.0f p50_us=%llu p99_us=%llu p999_us=%llu errors=%llu\n",
           names[mode], (unsigned long long)all->count, elapsed, (double)all->count / elapsed,
           (unsigned long long)hist_pct(all, 0.50), (unsigned long long)hist_pct(all, 0.99),
           (unsigned long long)hist_pct(all, 0.999), (unsigned long long)all->errors);
    free(all);
    free(ws);
    free(tids);
    free(v);
    return 0;
}

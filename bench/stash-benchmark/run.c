/*
 * bench/stash-benchmark/run.c - one test: worker threads with an epoll loop
 * each, pipelined batches, verification of every reply.
 *
 * Per connection (owned by one worker for the test):
 *
 *   idle --issue_batch--> in flight (pn requests, keys in the key ring)
 *     ^                        | readable: scan + verify replies in order
 *     +---- all pn replied ----+  (a batch is sent only when the previous
 *                                  one is fully answered, as redis-benchmark)
 *
 * The number of requests is shared: a batch claims up to `pipeline`
 * requests from run.claimed (one relaxed atomic add), so -n is exact over
 * all connections and threads. A worker stops when none of its connections
 * has requests in flight and no more can be claimed (count reached,
 * duration over, Ctrl-C), or at its deadlines:
 *   hard deadline    start + --max-time (or duration + --timeout)
 *   stall            no reply for --timeout seconds while requests are out
 * After a deadline every request still in flight counts as lost, never as a
 * success. Every loop below is bounded by these deadlines or by a count.
 *
 * Accounting is per worker (no sharing); the main thread merges after the
 * join. Progress counters are relaxed atomics written by their worker only.
 */
#include "bench.h"

#include "base/alloc.h"
#include "base/rand.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct run_shared {
    const struct sb_opts *o;
    const struct sb_workload *wl;
    const struct sb_test *t;
    double cum[SB_MIX_MAX]; /* cumulative weights */
    uint64_t limit;         /* UINT64_MAX: no count limit */
    _Atomic uint64_t claimed;
    atomic_int stop;
    int64_t start_ns;
    int64_t issue_deadline;
    int64_t hard_deadline;
    int64_t timeout_ns;
    sem_t finished; /* posted by each worker at its end */
};

struct worker {
    struct run_shared *rs;
    int id;
    pthread_t th;
    int ep;
    struct sb_conn **conns;
    int nconns;
    int busy; /* connections with requests in flight */
    struct sb_result res;
    uint64_t done, failed;
    _Atomic uint64_t pub_done, pub_failed; /* progress, for the main thread */
    int64_t last_progress;
    uint64_t keys[SB_MULTI_MAX];
};

/* ---- accounting -------------------------------------------------------------- */

static void account(struct worker *w, int spec, const struct sb_verdict *v, int64_t lat) {
    struct sb_opstats *st = &w->res.ops[spec];
    st->replies++;
    st->checked += v->content_checked;
    switch (v->kind) {
    case SB_V_OK:
        st->ok++;
        sb_hist_record(&st->hist, (uint64_t)(lat > 0 ? lat : 0));
        break;
    case SB_V_MISS:
        st->misses++;
        sb_hist_record(&st->hist, (uint64_t)(lat > 0 ? lat : 0));
        break;
    case SB_V_ERROR:
        st->errors++;
        w->failed++;
        sb_result_sample(&w->res, v->msg, v->msg_len, 1);
        break;
    case SB_V_MISMATCH:
        st->mismatches++;
        w->failed++;
        sb_result_sample(&w->res, v->msg, v->msg_len, 1);
        break;
    }
    w->done++;
}

/* The connection is unusable: what it has in flight is lost. */
static void conn_fail(struct worker *w, struct sb_conn *c, const char *why) {
    if (c->dead) return;
    c->dead = true;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    char msg[160];
    snprintf(msg, sizeof(msg), "connection lost (%s)", why);
    sb_result_sample(&w->res, msg, strlen(msg), c->pn ? c->pn : 1);
    w->res.lost += c->pn;
    w->failed += c->pn;
    if (c->pn) w->busy--;
    c->pn = 0;
}

static void fail_in_flight(struct worker *w, const char *why) {
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i]->pn && !w->conns[i]->dead) conn_fail(w, w->conns[i], why);
}

/* ---- sending ----------------------------------------------------------------- */

static void arm_out(struct worker *w, struct sb_conn *c, bool on) {
    if (c->out_armed == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = on;
}

static void flush(struct worker *w, struct sb_conn *c) {
    struct iovec iov[16];
    for (int i = 0; i < 4096 && obuf_pending(&c->out); i++) {
        long r = sb_conn_writev(c, iov, obuf_iov(&c->out, iov, 16));
        if (r < 0) {
            conn_fail(w, c, "write failed");
            return;
        }
        if (r == 0) break;
        obuf_advance(&c->out, (size_t)r);
    }
    arm_out(w, c, obuf_pending(&c->out) > 0);
}

/* Claim up to want requests; *base is the index of the first (sequential
 * tests use it as the key). */
static uint32_t claim(struct run_shared *rs, uint32_t want, uint64_t *base) {
    if (atomic_load_explicit(&rs->stop, memory_order_relaxed) ||
        atomic_load_explicit(&sb_interrupted, memory_order_relaxed))
        return 0;
    uint64_t got = atomic_fetch_add_explicit(&rs->claimed, want, memory_order_relaxed);
    *base = got;
    if (rs->limit == UINT64_MAX) return want;
    if (got >= rs->limit) return 0;
    return (uint32_t)MIN((uint64_t)want, rs->limit - got);
}

static int pick_op(const struct run_shared *rs) {
    if (rs->t->nops == 1) return 0;
    double x = rand_double() * rs->t->total_weight;
    for (int i = 0; i < rs->t->nops - 1; i++)
        if (x < rs->cum[i]) return i;
    return rs->t->nops - 1;
}

static void issue_batch(struct worker *w, struct sb_conn *c) {
    struct run_shared *rs = w->rs;
    uint64_t base;
    if (c->dead || c->pn) return;
    uint32_t k = claim(rs, (uint32_t)rs->o->pipeline, &base);
    if (k == 0) return;
    c->ph = c->kh = c->kn = 0;
    for (uint32_t i = 0; i < k; i++) {
        int s = pick_op(rs);
        uint64_t seq = rs->t->sequential ? base + i : UINT64_MAX;
        uint32_t nk = sb_op_encode(rs->wl, &rs->t->ops[s], &c->out, c->keys + c->kn, seq);
        c->pend[i] = (struct sb_pend){.spec = (uint16_t)s, .nkeys = nk};
        c->kn += nk;
    }
    c->pn = k;
    w->busy++;
    c->sent_ns = sb_now_ns();
    flush(w, c);
}

/* ---- receiving --------------------------------------------------------------- */

static void parse_replies(struct worker *w, struct sb_conn *c, int64_t now) {
    const struct run_shared *rs = w->rs;
    while (c->pn > 0) {
        size_t avail = c->in.len - c->rpos;
        if (avail == 0 || avail < c->need) break;
        struct sb_pend *p = &c->pend[c->ph];
        size_t need = 0;
        struct sb_verdict v;
        long n = sb_op_verify(rs->wl, &rs->t->ops[p->spec], c->in.data + c->rpos, avail,
                              c->keys + c->kh, p->nkeys, &need, &v);
        if (n == 0) {
            c->need = need > avail ? need : avail + 1;
            break;
        }
        if (n < 0) {
            w->res.protocol++;
            {
                conn_fail(w, c, "protocol error: unparsable reply");
                return;
            }
        }
        account(w, p->spec, &v, now - c->sent_ns);
        w->res.end_ns = now;
        w->last_progress = now;
        c->rpos += (size_t)n;
        c->need = 0;
        c->ph++;
        c->kh += p->nkeys;
        if (--c->pn == 0) w->busy--;
    }
    if (c->rpos == c->in.len) {
        c->in.len = c->rpos = 0;
    } else if (c->rpos > c->in.cap / 2) {
        memmove(c->in.data, c->in.data + c->rpos, c->in.len - c->rpos);
        c->in.len -= c->rpos;
        c->rpos = 0;
    }
    if (c->pn == 0 && !c->dead) {
        if (c->in.len) {
            w->res.protocol++;
            {
                conn_fail(w, c, "protocol error: bytes after the last reply");
                return;
            }
        }
        issue_batch(w, c);
    }
}

static void on_readable(struct worker *w, struct sb_conn *c) {
    for (int i = 0; i < 64 && !c->dead; i++) {
        size_t room = c->in.cap - c->in.len;
        if (room < 4096 || (c->need > c->in.len - c->rpos && room < c->need)) {
            buf_reserve(&c->in, MAX((size_t)16384, c->need));
            room = c->in.cap - c->in.len;
        }
        long r = sb_conn_read(c, c->in.data + c->in.len, room);
        if (r < 0) {
            conn_fail(w, c, "closed by the server or read error");
            return;
        }
        if (r == 0) break;
        c->in.len += (size_t)r;
        if ((size_t)r < room && !c->ssl_more) break; /* drained */
    }
    parse_replies(w, c, sb_now_ns());
}

/* ---- the loop ---------------------------------------------------------------- */

static int wait_ms(const struct worker *w, int64_t now) {
    const struct run_shared *rs = w->rs;
    int64_t next = MIN(rs->hard_deadline, w->last_progress + rs->timeout_ns);
    if (!atomic_load_explicit(&rs->stop, memory_order_relaxed))
        next = MIN(next, rs->issue_deadline);
    int64_t ms = (next - now) / 1000000 + 1;
    return (int)MAX((int64_t)0, MIN(ms, (int64_t)100));
}

static void worker_loop(struct worker *w) {
    struct run_shared *rs = w->rs;
    struct epoll_event evs[256];
    for (int i = 0; i < w->nconns; i++) issue_batch(w, w->conns[i]);
    /* Bounded by the hard deadline (checked every <= 100 ms). */
    for (;;) {
        int64_t now = sb_now_ns();
        if (now >= rs->issue_deadline || atomic_load(&sb_interrupted))
            atomic_store_explicit(&rs->stop, 1, memory_order_relaxed);
        if (w->busy == 0) break;
        if (now >= rs->hard_deadline) {
            fail_in_flight(w, "timeout: test time limit reached");
            break;
        }
        if (now - w->last_progress > rs->timeout_ns) {
            fail_in_flight(w, "timeout: no reply within --timeout");
            break;
        }
        bool tls_more = false;
        for (int i = 0; rs->o->tls && i < w->nconns; i++) tls_more |= w->conns[i]->ssl_more;
        int n = epoll_wait(w->ep, evs, 256, tls_more ? 0 : wait_ms(w, now));
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++) {
            struct sb_conn *c = evs[i].data.ptr;
            if (c->dead) continue;
            if (evs[i].events & EPOLLOUT) flush(w, c);
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(w, c);
        }
        for (int i = 0; tls_more && i < w->nconns; i++)
            if (w->conns[i]->ssl_more && !w->conns[i]->dead) on_readable(w, w->conns[i]);
        atomic_store_explicit(&w->pub_done, w->done, memory_order_relaxed);
        atomic_store_explicit(&w->pub_failed, w->failed, memory_order_relaxed);
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    const struct sb_opts *o = w->rs->o;
    if (o->seed) rand_seed(o->seed * 1000003ULL + (uint64_t)w->id);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->last_progress = w->rs->start_ns;
    for (int i = 0; i < w->nconns; i++) {
        struct sb_conn *c = w->conns[i];
        c->out_armed = false;
        c->need = 0;
        if (c->dead) continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) conn_fail(w, c, "epoll");
    }
    worker_loop(w);
    atomic_store_explicit(&w->pub_done, w->done, memory_order_relaxed);
    atomic_store_explicit(&w->pub_failed, w->failed, memory_order_relaxed);
    close(w->ep);
    obuf_thread_cleanup();
    sem_post(&w->rs->finished);
    return NULL;
}

/* ---- one test ---------------------------------------------------------------- */

static void setup_shared(struct run_shared *rs, const struct sb_opts *o,
                         const struct sb_workload *wl, const struct sb_test *t) {
    memset(rs, 0, sizeof(*rs));
    rs->o = o;
    rs->wl = wl;
    rs->t = t;
    double acc = 0;
    for (int i = 0; i < t->nops; i++) rs->cum[i] = (acc += t->ops[i].weight);
    rs->limit = t->sequential ? o->keyspace : (o->requests ? o->requests : UINT64_MAX);
    rs->timeout_ns = (int64_t)(o->timeout * 1e9);
    rs->start_ns = sb_now_ns();
    rs->issue_deadline =
        o->duration > 0 && !t->sequential ? rs->start_ns + (int64_t)(o->duration * 1e9) : INT64_MAX;
    rs->hard_deadline = rs->start_ns + (int64_t)(o->max_time * 1e9);
    if (rs->issue_deadline != INT64_MAX)
        rs->hard_deadline = MIN(rs->hard_deadline, rs->issue_deadline + rs->timeout_ns);
}

static void print_progress(const struct sb_test *t, struct worker *ws, int nw,
                           const struct run_shared *rs, uint64_t *last_done, int64_t *last_t) {
    uint64_t done = 0, failed = 0;
    for (int i = 0; i < nw; i++) {
        done += atomic_load_explicit(&ws[i].pub_done, memory_order_relaxed);
        failed += atomic_load_explicit(&ws[i].pub_failed, memory_order_relaxed);
    }
    int64_t now = sb_now_ns();
    double rps = (double)(done - *last_done) / ((double)(now - *last_t) / 1e9);
    sb_progress(t->name, done, failed, (double)(now - rs->start_ns) / 1e9, rps);
    *last_done = done;
    *last_t = now;
}

/* Wait for the workers (each posts rs->finished once), printing the
 * progress line every 200 ms on a terminal. */
static void watch_progress(const struct sb_opts *o, const struct sb_test *t, struct worker *ws,
                           int nw, struct run_shared *rs) {
    uint64_t last_done = 0;
    int64_t last_t = rs->start_ns;
    /* Bounded: the workers end by the hard deadline; this adds a margin. */
    int64_t give_up = rs->hard_deadline + 5 * 1000000000LL;
    int finished = 0;
    int64_t tick = sb_now_ns() + 200 * 1000000LL;
    while (finished < nw && sb_now_ns() < give_up) {
        struct timespec ts = {.tv_sec = tick / 1000000000LL, .tv_nsec = tick % 1000000000LL};
        if (sem_clockwait(&rs->finished, CLOCK_MONOTONIC, &ts) == 0) {
            finished++;
            continue;
        }
        if (errno != ETIMEDOUT) continue;
        tick += 200 * 1000000LL;
        if (o->progress) print_progress(t, ws, nw, rs, &last_done, &last_t);
    }
    if (o->progress) sb_progress_clear();
}

void sb_run_test(const struct sb_opts *o, const struct sb_workload *wl, const struct sb_test *t,
                 struct sb_conn *conns, struct sb_result *res) {
    struct run_shared rs;
    int nw = MIN(o->threads, o->conns);
    struct worker *ws = xcalloc((size_t)nw, sizeof(*ws));
    struct sb_conn **slots = xcalloc((size_t)o->conns, sizeof(*slots));
    for (int i = 0; i < nw; i++) {
        ws[i].id = i;
        ws[i].conns = slots + (size_t)i * ((size_t)o->conns / nw) + (size_t)MIN(i, o->conns % nw);
        sb_result_init(&ws[i].res, t, o->precision);
    }
    for (int i = 0; i < o->conns; i++) {
        struct worker *w = &ws[i % nw];
        w->conns[w->nconns++] = &conns[i];
    }
    setup_shared(&rs, o, wl, t);
    sem_init(&rs.finished, 0, 0);
    for (int i = 0; i < nw; i++) {
        ws[i].rs = &rs;
        ws[i].res.start_ns = rs.start_ns;
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "stash-benchmark: cannot start a thread\n");
            exit(1);
        }
    }
    watch_progress(o, t, ws, nw, &rs);
    res->start_ns = rs.start_ns;
    res->end_ns = rs.start_ns;
    for (int i = 0; i < nw; i++) {
        pthread_join(ws[i].th, NULL);
        sb_result_merge(res, &ws[i].res);
        sb_result_free(&ws[i].res);
    }
    res->interrupted = atomic_load(&sb_interrupted) != 0;
    sem_destroy(&rs.finished);
    xfree(slots);
    xfree(ws);
}

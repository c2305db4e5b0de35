/*
 * repl/feed.c - the feeder: the one thread that writes the replication
 * stream, from the effects log (repl/log.h) into the backlog
 * (repl/backlog.h), and runs the replication cron.
 *
 * From records to stream bytes
 *   EFFECT  on a primary: SELECT <db> when the record's database is not
 *           the stream's, then the record (a RESP command) as it is;
 *           dropped on a replica (it forwards its primary's bytes);
 *   RAW     on a replica: its primary's bytes, verbatim: the offsets of a
 *           chain of replicas are the same all along it (Redis's proxying);
 *   REPL    as EFFECT (PUBLISH: replicated, never persisted);
 *   LOCAL   never (persisted only).
 *   Between transactions it adds PING (repl-ping-replica-period) and
 *   REPLCONF GETACK * (after WAIT), as Redis puts them in its stream.
 *
 * Positions: the log names every record by a position; the stream counts
 * bytes (master_repl_offset). The feeder is where one becomes the other:
 *   - a snapshot's cut happens at a log position L (all stripes held, so
 *     every record before L is in the snapshot, none after); the feeder
 *     notes the stream offset when it reaches L (repl_cut_log_pos records
 *     L at the cut, feed_cut_offset waits for the answer): that is the
 *     offset of +FULLRESYNC and of the RDB's repl-offset AUX field, and
 *     the stream resumes after it with a SELECT;
 *   - requests (feed_call) run when the feeder reached the log position
 *     current at the call: a role change or a new backlog takes effect
 *     between two records, exactly after everything logged before it;
 *   - WAIT converts a client's last write position to an offset the same
 *     way, then counts replicas that acknowledged it.
 *
 * Thread: one feeder thread; it sleeps on the log (woken by publishes and
 * by log_wake_readers) or on a condition variable while it has no reader
 * (no backlog). It never waits for a worker or a stripe; workers and the
 * snapshot thread may wait for it (feed_call, feed_cut_offset).
 *
 * Locks: F.mu (requests, the cut answer, waiters) is a leaf; R.mu is taken
 * without it, never inside.
 */
#include "repl/repl_int.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "repl/log.h"

#include <stdio.h>
#include <string.h>

#define CRON_MS 100
#define BATCH 512
/* While records keep coming the feeder polls every POLL_US (a writer's
 * publish then costs no wake-up syscall); after BUSY_MS without any it
 * sleeps on the log until woken. */
#define POLL_US 200
#define BUSY_MS 100

struct feed_req {
    struct feed_req *next;
    enum feed_op op;
    long long arg;
    uint64_t target; /* log position: run once every record before it is fed */
    struct feed_result res;
    bool done;
};

struct waiter {
    struct waiter *next;
    uint64_t target_pos;
    long long target_off; /* -1 until the feeder passed target_pos */
    int need;
    int64_t deadline_ms;
    void (*done)(void *arg, int acked);
    void *arg;
};

static struct {
    pthread_t thread;
    _Atomic bool started; /* set (release) after `thread`: read by any thread */
    _Atomic bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* request answered, cut resolved */
    pthread_cond_t wake_cv; /* something for the feeder while it has no reader */
    struct feed_req *reqs;
    _Atomic uint64_t due;   /* smallest target of reqs (0: look now; UINT64_MAX: none) */
    struct waiter *waiters;
    _Atomic uint64_t wait_due; /* smallest target of unresolved waiters (UINT64_MAX: none) */
    bool getack_wanted;
    /* Feeder-owned. */
    struct log_reader *reader;
    uint64_t attach_pos;    /* the reader's first position */
    uint64_t pos;           /* position of the next record */
    int seldb;              /* primary: database of the stream (-1: SELECT next) */
    int stream_db;          /* replica: database after the last forwarded bytes */
    bool replica_mode;
    bool in_multi;
    int64_t last_cron_ms, last_sec_ms;
    int64_t busy_until_ms;
    long long cron_loops;
    /* The cut. */
    _Atomic bool sync_cut;  /* the next cut is a full sync's (SELECT after it) */
    _Atomic bool cut_busy;  /* a cut is reading the log's tail */
    _Atomic uint64_t cut_pos;
    _Atomic uint64_t cut_seq;
    uint64_t cut_seen_seq;  /* [feeder] */
    uint64_t cut_done_seq;  /* [mu] */
    uint64_t cut_done_pos;
    long long cut_offset;
    int cut_db;
    bool cut_ok;
} F = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .wake_cv = PTHREAD_COND_INITIALIZER,
       .seldb = -1, .due = UINT64_MAX, .wait_due = UINT64_MAX};

static __thread bool on_feeder; /* the calling thread is the feeder */

static const char PING[] = "*1\r\n$4\r\nPING\r\n";
static const char GETACK[] = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
static const char MULTI_REC[] = "*1\r\n$5\r\nMULTI\r\n";
static const char EXEC_REC[] = "*1\r\n$4\r\nEXEC\r\n";

/* ---- the cut ---------------------------------------------------------------------------------- */

/*
 * Ordering: a record sealed after the cut (its position >= L) must not be
 * fed before the feeder knows L. Stripe writers are ordered by the stripe
 * locks the cut holds, but keyless writers seal without them; so the cut
 * raises `cut_busy` before it reads the tail (both seq_cst, as is the
 * tail's fetch_add in log_seal): a record at or after L was reserved after
 * that load in the single total order, hence after the flag was raised,
 * and the feeder, which acquired the record, sees the flag and waits the
 * few instructions until L is published.
 */
uint64_t repl_cut_log_pos(void) {
    /* Under every stripe lock: atomics only. */
    atomic_store(&F.cut_busy, true);
    uint64_t l = log_tail();
    atomic_store_explicit(&F.cut_pos, l, memory_order_relaxed);
    atomic_fetch_add_explicit(&F.cut_seq, 1, memory_order_release);
    atomic_store_explicit(&F.cut_busy, false, memory_order_release);
    log_wake_readers();
    return l;
}

static void stream_offset_db(long long *off, int *db) {
    *off = repl_offset_now();
    *db = F.replica_mode ? F.stream_db : F.seldb;
}

/* Answer the pending cut if the feeder is at (or past: it attached after
 * the cut) its position. [feeder] */
static void resolve_cut(uint64_t at) {
    while (atomic_load_explicit(&F.cut_busy, memory_order_acquire)) {
    }
    uint64_t seq = atomic_load_explicit(&F.cut_seq, memory_order_acquire);
    if (seq == F.cut_seen_seq) return;
    uint64_t l = atomic_load_explicit(&F.cut_pos, memory_order_relaxed);
    if (F.reader != NULL && at < l) return;
    F.cut_seen_seq = seq;
    pthread_mutex_lock(&F.mu);
    F.cut_done_seq = seq;
    F.cut_done_pos = l;
    F.cut_ok = F.reader != NULL && F.attach_pos <= l;
    stream_offset_db(&F.cut_offset, &F.cut_db);
    pthread_cond_broadcast(&F.cv);
    pthread_mutex_unlock(&F.mu);
    /* After a full sync's cut the stream resumes with SELECT, as Redis's
     * (a replica loading the snapshot is told the database in its
     * repl-stream-db AUX field too); other snapshots change nothing. */
    if (atomic_exchange(&F.sync_cut, false) && F.cut_ok && !F.replica_mode) F.seldb = -1;
}

void feed_next_cut_is_sync(bool yes) { atomic_store(&F.sync_cut, yes); }

bool feed_cut_offset(uint64_t cut_pos, long long *offset, int *db) {
    bool ok = false;
    int64_t deadline = time_ms() + 10000;
    pthread_mutex_lock(&F.mu);
    for (;;) {
        if (F.cut_done_seq != 0 && F.cut_done_pos == cut_pos) {
            ok = F.cut_ok;
            *offset = F.cut_offset;
            *db = F.cut_db;
            break;
        }
        if (!F.started || time_ms() > deadline) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&F.cv, &F.mu, &ts);
    }
    pthread_mutex_unlock(&F.mu);
    return ok;
}

/* ---- requests --------------------------------------------------------------------------------- */

static void attach(void) {
    if (F.reader) return;
    F.reader = log_reader_attach_kinds(LOG_KINDS_REPL);
    F.attach_pos = F.pos = log_reader_pos(F.reader);
}

static void detach(void) {
    if (F.reader == NULL) return;
    log_reader_detach(&F.reader);
}

/* A new history starts: a fresh replication id, no second one. [R.mu held] */
static void new_history_locked(void) {
    repl_new_replid(R.replid);
    memset(R.replid2, '0', REPL_ID_LEN);
    R.replid2[REPL_ID_LEN] = '\0';
    R.second_offset = -1;
}

static void run_req(struct feed_req *q) {
    long long off;
    int db;
    switch (q->op) {
    case FEED_CREATE_BACKLOG:
        if (rbl_active()) break;
        pthread_mutex_lock(&R.mu);
        if (q->arg == 0) new_history_locked();
        pthread_mutex_unlock(&R.mu);
        attach();
        rbl_create((uint64_t)atomic_load(&R.idle_offset));
        F.seldb = -1;
        break;
    case FEED_TO_REPLICA:
        F.replica_mode = true;
        stream_offset_db(&q->res.offset, &q->res.db);
        F.stream_db = q->res.db;
        break;
    case FEED_TO_MASTER:
        stream_offset_db(&off, &db);
        F.replica_mode = false;
        F.seldb = -1;
        F.in_multi = false;
        pthread_mutex_lock(&R.mu);
        memcpy(R.replid2, R.replid, sizeof(R.replid2));
        R.second_offset = off + 1;
        repl_new_replid(R.replid);
        log_warn("Setting secondary replication ID to %s, valid up to offset: %lld. New replication ID is %s",
                 R.replid2, R.second_offset, R.replid);
        pthread_mutex_unlock(&R.mu);
        q->res.offset = off;
        break;
    case FEED_RESET:
        attach();
        F.replica_mode = true;
        F.in_multi = false;
        F.stream_db = (int)(q->res.db);
        atomic_store(&R.idle_offset, q->arg);
        rbl_create((uint64_t)q->arg);
        break;
    case FEED_FREE_BACKLOG:
        atomic_store(&R.idle_offset, repl_offset_now());
        detach();
        rbl_free();
        break;
    }
}

/* Run the requests whose target the feeder reached (all when it has no
 * reader: positions mean nothing then). [feeder] */
static void run_due(uint64_t at) {
    pthread_mutex_lock(&F.mu);
    struct feed_req **pp = &F.reqs;
    bool any = false;
    uint64_t due = UINT64_MAX;
    while (*pp) {
        struct feed_req *q = *pp;
        if (F.reader == NULL || q->target <= at || q->target <= F.attach_pos) {
            *pp = q->next;
            pthread_mutex_unlock(&F.mu);
            run_req(q);
            pthread_mutex_lock(&F.mu);
            q->done = true;
            any = true;
            pp = &F.reqs; /* the list may have changed meanwhile */
            due = UINT64_MAX;
            continue;
        }
        due = MIN(due, q->target);
        pp = &q->next;
    }
    atomic_store(&F.due, due);
    if (any) pthread_cond_broadcast(&F.cv);
    pthread_mutex_unlock(&F.mu);
}

static void on_record(const struct log_record *rec, void *arg);

void feed_call(enum feed_op op, long long arg, struct feed_result *res) {
    struct feed_req q = {0};
    q.op = op;
    q.arg = arg;
    if (res) q.res = *res;
    if (!F.started) { /* before the feeder runs (start-up): at once */
        run_req(&q);
        if (res) *res = q.res;
        return;
    }
    if (on_feeder) {
        /* From the feeder itself (FAILOVER, from the cron): feed up to
         * the tail now, then run it. */
        uint64_t target = log_tail();
        bool fed = false;
        while (F.reader && F.pos < target) {
            if (log_read_ex(F.reader, BATCH, on_record, &fed) == 0 && !log_reader_wait(F.reader, 10)) continue;
            F.pos = log_reader_pos(F.reader);
        }
        if (fed) feed_wake_replicas();
        run_req(&q);
        if (res) *res = q.res;
        return;
    }
    pthread_mutex_lock(&F.mu);
    /* `due` first, then the tail (both seq_cst, as repl_cut_log_pos): the
     * feeder looks at requests before feeding any record at or after it. */
    atomic_store(&F.due, 0);
    q.target = log_tail();
    q.next = F.reqs;
    F.reqs = &q;
    pthread_cond_signal(&F.wake_cv);
    pthread_mutex_unlock(&F.mu);
    log_wake_readers();
    pthread_mutex_lock(&F.mu);
    while (!q.done) pthread_cond_wait(&F.cv, &F.mu);
    pthread_mutex_unlock(&F.mu);
    if (res) *res = q.res;
}

/* ---- records ------------------------------------------------------------------------------------ */

static void put_select(int db) {
    char num[24], hdr[64];
    int n = ll_to_str(num, sizeof(num), db);
    int h = snprintf(hdr, sizeof(hdr), "*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n", n, num);
    rbl_append(hdr, (size_t)h);
}

/* WAIT: a waiter's target is the stream offset right after the record
 * that ends at its position (before later records and our GETACKs). */
static void resolve_waiters(uint64_t at) {
    pthread_mutex_lock(&F.mu);
    uint64_t due = UINT64_MAX;
    for (struct waiter *w = F.waiters; w; w = w->next) {
        if (w->target_off >= 0) continue;
        if (F.reader == NULL || w->target_pos <= at || w->target_pos <= F.attach_pos)
            w->target_off = repl_offset_now();
        else
            due = MIN(due, w->target_pos);
    }
    atomic_store(&F.wait_due, due);
    pthread_mutex_unlock(&F.mu);
}

static void on_record(const struct log_record *rec, void *arg) {
    bool *fed = arg;
    if (atomic_load(&F.due) <= rec->pos) run_due(rec->pos);
    if (atomic_load_explicit(&F.wait_due, memory_order_relaxed) <= rec->pos) resolve_waiters(rec->pos);
    if (atomic_load(&F.cut_busy) || atomic_load_explicit(&F.cut_seq, memory_order_acquire) != F.cut_seen_seq)
        resolve_cut(rec->pos);
    if ((rec->kind == LOG_EFFECT || rec->kind == LOG_REPL) && !F.replica_mode && rbl_active()) {
        if (rec->db != F.seldb && !(rec->len == sizeof(EXEC_REC) - 1 && memcmp(rec->payload, EXEC_REC, rec->len) == 0)) {
            put_select(rec->db);
            F.seldb = rec->db;
        }
        rbl_append(rec->payload, rec->len);
        if (rec->len == sizeof(MULTI_REC) - 1 && memcmp(rec->payload, MULTI_REC, rec->len) == 0) F.in_multi = true;
        if (rec->len == sizeof(EXEC_REC) - 1 && memcmp(rec->payload, EXEC_REC, rec->len) == 0) F.in_multi = false;
        *fed = true;
    } else if (rec->kind == LOG_RAW && rbl_active()) {
        rbl_append(rec->payload, rec->len);
        F.stream_db = rec->db;
        *fed = true;
    }
    F.pos = rec->next;
}

/* Bytes of our own between transactions (PING, GETACK). [feeder] */
static void inject(const char *p, size_t n) {
    if (!rbl_active() || F.replica_mode || F.in_multi) return;
    rbl_append(p, n);
    feed_wake_replicas();
}

void feed_wake_replicas(void) {
    pthread_mutex_lock(&R.mu);
    for (struct repl_replica *r = R.replicas; r; r = r->next) {
        if (atomic_load(&r->state) != REPL_RS_ONLINE || r->job != NULL) continue;
        if (!atomic_exchange(&r->wake_pending, true)) R.glue.wake(r);
    }
    pthread_mutex_unlock(&R.mu);
}

/* ---- WAIT ----------------------------------------------------------------------------------------- */

int repl_wait(uint64_t woff, int numreplicas, int64_t deadline_ms, bool now_only, void (*done)(void *arg, int acked),
              void *arg) {
    pthread_mutex_lock(&F.mu);
    bool known = woff == 0 || F.reader == NULL || woff <= F.attach_pos;
    pthread_mutex_unlock(&F.mu);
    if (known) {
        int n = repl_replicas_acked(0);
        if (n >= numreplicas || now_only) return n;
    }
    struct waiter *w = xcalloc(1, sizeof(*w));
    w->target_pos = woff;
    w->target_off = known ? 0 : -1;
    w->need = numreplicas;
    w->deadline_ms = deadline_ms;
    w->done = done;
    w->arg = arg;
    pthread_mutex_lock(&F.mu);
    w->next = F.waiters;
    F.waiters = w;
    if (w->target_off < 0 && woff < atomic_load(&F.wait_due)) atomic_store(&F.wait_due, woff);
    F.getack_wanted = true;
    pthread_cond_signal(&F.wake_cv);
    pthread_mutex_unlock(&F.mu);
    log_wake_readers();
    return -1;
}

void feed_request_getack(void) {
    pthread_mutex_lock(&F.mu);
    F.getack_wanted = true;
    pthread_cond_signal(&F.wake_cv);
    pthread_mutex_unlock(&F.mu);
    log_wake_readers();
}

/* Resolve the waiters' offsets, answer those that are done. [feeder] */
static void check_waiters(void) {
    pthread_mutex_lock(&F.mu);
    if (F.waiters == NULL) {
        pthread_mutex_unlock(&F.mu);
        return;
    }
    struct waiter *list = F.waiters, *keep = NULL, *fire = NULL;
    F.waiters = NULL;
    pthread_mutex_unlock(&F.mu);
    int64_t now = time_ms();
    while (list) {
        struct waiter *w = list;
        list = w->next;
        int acked = w->target_off >= 0 ? repl_replicas_acked(w->target_off) : 0;
        if (acked >= w->need || (w->deadline_ms && now >= w->deadline_ms)) {
            w->need = acked;
            w->next = fire;
            fire = w;
        } else {
            w->next = keep;
            keep = w;
        }
    }
    pthread_mutex_lock(&F.mu);
    while (keep) {
        struct waiter *w = keep;
        keep = w->next;
        w->next = F.waiters;
        F.waiters = w;
    }
    pthread_mutex_unlock(&F.mu);
    while (fire) {
        struct waiter *w = fire;
        fire = w->next;
        w->done(w->arg, w->need);
        xfree(w);
    }
}

/* ---- cron -------------------------------------------------------------------------------------- */

/* Once a second: PING, newlines to replicas waiting for a sync, timeouts,
 * the backlog's time to live. */
static void cron_second(int64_t now_s) {
    long long period = atomic_load(&R.o.ping_period);
    long long timeout = atomic_load(&R.o.timeout);
    bool ping = false, free_backlog = false;
    pthread_mutex_lock(&R.mu);
    /* No PING while a FAILOVER waits for a replica's offset to match ours. */
    if (period > 0 && F.cron_loops % period == 0 && R.nreplicas > 0 && atomic_load(&R.failover) == FO_NONE)
        ping = true;
    for (struct repl_replica *r = R.replicas; r; r = r->next) {
        int st = atomic_load(&r->state);
        if (st == REPL_RS_WAIT_BGSAVE_START || (st == REPL_RS_WAIT_BGSAVE_END && sync_wants_newlines(r)))
            repl_post(r, REPL_MSG_NEWLINE, NULL, false);
        if (st == REPL_RS_ONLINE && !r->pre_psync && now_s - atomic_load(&r->ack_time_s) > timeout &&
            !atomic_load(&r->gone)) {
            char name[128];
            log_warn("Disconnecting timedout replica (streaming sync): %s", repl_replica_name(r, name, sizeof(name)));
            atomic_store(&r->gone, true);
            repl_post(r, REPL_MSG_CLOSE, NULL, false);
        }
    }
    long long ttl = atomic_load(&R.o.backlog_ttl);
    if (R.nreplicas == 0 && ttl > 0 && rbl_active() && !atomic_load(&R.replica) &&
        now_s - R.no_replicas_since_s > ttl) {
        new_history_locked();
        free_backlog = true;
    }
    pthread_mutex_unlock(&R.mu);
    if (ping) inject(PING, sizeof(PING) - 1);
    if (free_backlog) {
        run_req(&(struct feed_req){.op = FEED_FREE_BACKLOG});
        log_notice("Replication backlog freed after %lld seconds without connected replicas.", ttl);
    }
    link_cron();
    F.cron_loops++;
}

static void cron(int64_t now_ms) {
    if (now_ms - F.last_sec_ms >= 1000) {
        F.last_sec_ms = now_ms;
        cron_second(now_ms / 1000);
    }
    sync_cron();
    failover_cron(now_ms);
    local_expire_cron();
    repl_refresh_good();
    if (rbl_active()) rbl_trim();
}

/* ---- the thread ---------------------------------------------------------------------------------- */

static void *feed_main(void *arg) {
    on_feeder = true;
    while (!atomic_load(&F.stop)) {
        run_due(F.reader ? F.pos : 0);
        bool fed = false;
        if (F.reader) {
            int n = log_read_ex(F.reader, BATCH, on_record, &fed);
            F.pos = log_reader_pos(F.reader);
            run_due(F.pos);
            resolve_cut(F.pos);
            if (atomic_load(&F.wait_due) <= F.pos) resolve_waiters(F.pos);
            pthread_mutex_lock(&F.mu);
            bool getack = F.getack_wanted;
            F.getack_wanted = false;
            bool waiting = F.waiters != NULL;
            pthread_mutex_unlock(&F.mu);
            if (getack && !F.in_multi) {
                inject(GETACK, sizeof(GETACK) - 1);
                fed = true;
            } else if (getack) { /* after the transaction */
                pthread_mutex_lock(&F.mu);
                F.getack_wanted = true;
                pthread_mutex_unlock(&F.mu);
            }
            if (fed) {
                feed_wake_replicas();
                rbl_trim(); /* the backlog keeps its size as it grows (Redis trims on append) */
            }
            if (waiting) check_waiters();
            if (n > 0) {
                F.busy_until_ms = time_ms() + BUSY_MS;
            } else if (time_ms() < F.busy_until_ms) {
                /* Records keep coming: poll instead of sleeping on the log,
                 * so that writers do not pay a futex wake per publish. */
                struct timespec ts = {0, POLL_US * 1000L};
                nanosleep(&ts, NULL);
            } else {
                log_reader_wait(F.reader, waiting ? 10 : CRON_MS);
            }
        } else {
            resolve_cut(0);
            resolve_waiters(0);
            check_waiters();
            pthread_mutex_lock(&F.mu);
            if (F.reqs == NULL && !atomic_load(&F.stop)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += (F.waiters ? 10 : CRON_MS) * 1000000L;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&F.wake_cv, &F.mu, &ts);
            }
            pthread_mutex_unlock(&F.mu);
        }
        int64_t now = time_ms();
        if (now - F.last_cron_ms >= CRON_MS) {
            F.last_cron_ms = now;
            cron(now);
        }
    }
    return NULL;
}

void feed_start(void) {
    if (F.started) return;
    F.last_sec_ms = F.last_cron_ms = time_ms();
    F.replica_mode = atomic_load(&R.replica);
    atomic_store(&F.stop, false);
    if (pthread_create(&F.thread, NULL, feed_main, NULL) == 0) F.started = true;
}

void feed_stop(void) {
    if (!F.started) return;
    atomic_store(&F.stop, true);
    pthread_mutex_lock(&F.mu);
    pthread_cond_signal(&F.wake_cv);
    pthread_mutex_unlock(&F.mu);
    log_wake_readers();
    pthread_join(F.thread, NULL);
    F.started = false;
    detach();
    /* Waiters still pending are answered with what is known. */
    while (F.waiters) {
        struct waiter *w = F.waiters;
        F.waiters = w->next;
        w->done(w->arg, 0);
        xfree(w);
    }
}

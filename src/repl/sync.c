/*
 * repl/sync.c - full resynchronization: a fork-less snapshot (persist/
 * snapshot.h) sent to the replicas that need one.
 *
 * A job serves every replica waiting when it starts (and, for a disk
 * job, those arriving while its snapshot runs, as Redis attaches them to
 * a running BGSAVE):
 *
 *   waiting  replicas in wait_bgsave (PSYNC refused); repl-diskless-sync
 *            with a delay waits up to repl-diskless-sync-delay seconds
 *            (or repl-diskless-sync-max-replicas) for more of them
 *   cut      snapshot_start: the cut's log position L; the feeder maps it
 *            to the stream offset O (feed.c). Each replica is sent
 *            "+FULLRESYNC <replid> <O>" and its stream will start at O+1
 *            (a cursor on the backlog keeps those bytes)
 *   payload  diskless: "$EOF:<40 random chars>\r\n", the RDB as the
 *            snapshot writes it, the 40 chars again; disk: the snapshot
 *            goes to a temporary file, then "$<size>\r\n" and the file
 *   online   disk: the stream follows at once; diskless: at the replica's
 *            first REPLCONF ACK (Redis: the EOF mark must end the payload)
 *
 * Transfer: the bytes go to each replica's connection as shared chunks
 * posted to its worker (struct repl_msg), written from there without a
 * copy. The sending thread (the snapshot's) waits while a replica has more
 * than XFER_INFLIGHT bytes not yet written, so the slowest replica sets
 * the pace (as a Redis fork child writing to its pipe); one that makes no
 * progress for repl-timeout is dropped ("Disconnecting timedout replica
 * (full sync)"), and when none is left the snapshot is cancelled.
 *
 * Threads: jobs start and are reaped on the feeder (sync_cron); the
 * snapshot thread runs the cut's AUX hook (+FULLRESYNC), the sink and the
 * done callback (disk transfer). R.mu guards the job's target list.
 */
#include "repl/repl_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/time.h"
#include "persist/persist.h"
#include "persist/rdb.h"
#include "persist/sink.h"
#include "persist/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XFER_CHUNK (64 * 1024)
#define XFER_INFLIGHT (1024 * 1024)

struct repl_job {
    bool diskless;
    struct snapshot *snap;
    _Atomic bool finished;
    bool resolved;          /* +FULLRESYNC sent [R.mu] */
    bool payload_started;   /* [R.mu] */
    long long offset;
    int db;
    struct rbl_cursor start;
    struct repl_replica **targets; /* [R.mu] */
    int ntargets, cap;
    char path[64];
    char eofmark[REPL_ID_LEN + 1];
};

struct fan_sink {
    struct persist_sink base;
    struct repl_job *job;
    struct buf buf;
    bool started;
};

static pthread_mutex_t xfer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xfer_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int xfer_waiting;

bool sync_wants_newlines(const struct repl_replica *r) {
    return r->job && !r->job->diskless && !r->job->payload_started;
}

/* ---- targets [R.mu held] ------------------------------------------------------------------- */

static void add_target_locked(struct repl_job *j, struct repl_replica *r) {
    if (j->ntargets == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 4;
        j->targets = xrealloc(j->targets, (size_t)j->cap * sizeof(*j->targets));
    }
    repl_replica_ref(r);
    j->targets[j->ntargets++] = r;
    r->job = j;
    atomic_store(&r->state, REPL_RS_WAIT_BGSAVE_END);
    atomic_store(&r->progress_ms, time_ms());
}

static void drop_target_locked(struct repl_job *j, int i) {
    struct repl_replica *r = j->targets[i];
    j->targets[i] = j->targets[--j->ntargets];
    r->job = NULL;
    repl_replica_unref(r);
}

void sync_replica_gone(struct repl_replica *r) {
    struct repl_job *j = r->job;
    if (j == NULL) return;
    for (int i = 0; i < j->ntargets; i++) {
        if (j->targets[i] == r) {
            drop_target_locked(j, i);
            break;
        }
    }
    /* A sender waiting for this replica's window may go on. */
    pthread_mutex_lock(&xfer_mu);
    pthread_cond_broadcast(&xfer_cv);
    pthread_mutex_unlock(&xfer_mu);
}

/* Tell a replica its stream's start (the cut's offset). [R.mu held] */
static void send_fullresync_locked(struct repl_job *j, struct repl_replica *r) {
    r->initial_offset = j->offset;
    rbl_cursor_release(&r->start);
    rbl_cursor_copy(&r->start, &j->start);
    if (r->pre_psync) return;
    char line[128];
    int n = snprintf(line, sizeof(line), "+FULLRESYNC %s %lld\r\n", R.replid, j->offset);
    struct repl_chunk *ch = repl_chunk_new(line, (size_t)n);
    repl_post(r, REPL_MSG_DATA, ch, false);
    repl_chunk_unref(ch);
}

void sync_replica_waiting(struct repl_replica *r) {
    struct repl_job *j = R.job;
    if (j && !j->diskless && !atomic_load(&j->finished) && !j->payload_started) {
        /* A disk snapshot runs: this replica can have it too (Redis
         * attaches to a BGSAVE that registers differences). */
        add_target_locked(j, r);
        if (j->resolved) send_fullresync_locked(j, r);
        log_notice("Waiting for end of BGSAVE for SYNC");
        return;
    }
    if (j && j->diskless)
        log_notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
    else if (atomic_load(&R.o.diskless_sync) && (r->capa & REPL_CAPA_EOF) && atomic_load(&R.o.diskless_delay) > 0)
        log_notice("Delay next BGSAVE for diskless SYNC");
}

/* ---- sending -------------------------------------------------------------------------------------- */

static void wait_window(struct repl_replica *r) {
    long long timeout_ms = atomic_load(&R.o.timeout) * 1000;
    while (atomic_load(&r->inflight) > XFER_INFLIGHT && !atomic_load(&r->gone)) {
        if (time_ms() - atomic_load(&r->progress_ms) > timeout_ms) {
            char name[128];
            log_warn("Disconnecting timedout replica (full sync): %s", repl_replica_name(r, name, sizeof(name)));
            atomic_store(&r->gone, true);
            repl_post(r, REPL_MSG_CLOSE, NULL, false);
            return;
        }
        pthread_mutex_lock(&xfer_mu);
        atomic_fetch_add(&xfer_waiting, 1);
        if (atomic_load(&r->inflight) > XFER_INFLIGHT && !atomic_load(&r->gone)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&xfer_cv, &xfer_mu, &ts);
        }
        atomic_fetch_sub(&xfer_waiting, 1);
        pthread_mutex_unlock(&xfer_mu);
    }
}

/* Called by repl_chunk_done's users: wake a waiting sender. */
static void xfer_progress(void) {
    if (atomic_load(&xfer_waiting) == 0) return;
    pthread_mutex_lock(&xfer_mu);
    pthread_cond_broadcast(&xfer_cv);
    pthread_mutex_unlock(&xfer_mu);
}

/* The job's live targets (references), for sending without R.mu. */
static int targets_snapshot(struct repl_job *j, struct repl_replica ***out) {
    pthread_mutex_lock(&R.mu);
    int n = j->ntargets;
    struct repl_replica **v = n ? xmalloc((size_t)n * sizeof(*v)) : NULL;
    for (int i = 0; i < n; i++) {
        v[i] = j->targets[i];
        repl_replica_ref(v[i]);
    }
    pthread_mutex_unlock(&R.mu);
    *out = v;
    return n;
}

static void targets_free(struct repl_replica **v, int n) {
    for (int i = 0; i < n; i++) repl_replica_unref(v[i]);
    xfree(v);
}

/* Send bytes to every live target, in order, keeping each window bounded.
 * Returns how many targets are still there. */
static int fan_out(struct repl_job *j, const void *p, size_t n, bool payload_start) {
    struct repl_replica **v;
    int nt = targets_snapshot(j, &v);
    struct repl_chunk *ch = repl_chunk_new(p, n);
    int live = 0;
    for (int i = 0; i < nt; i++) {
        struct repl_replica *r = v[i];
        if (atomic_load(&r->gone)) continue;
        wait_window(r);
        if (atomic_load(&r->gone)) continue;
        repl_post(r, REPL_MSG_DATA, ch, payload_start);
        live++;
    }
    repl_chunk_unref(ch);
    targets_free(v, nt);
    return live;
}

/* ---- the diskless sink ------------------------------------------------------------------------- */

static int fan_flush(struct persist_sink *s) {
    struct fan_sink *f = (struct fan_sink *)s;
    if (s->err) return ERR_IO;
    if (f->buf.len == 0) return 0;
    bool first = !f->started;
    if (first) {
        f->started = true;
        pthread_mutex_lock(&R.mu);
        f->job->payload_started = true;
        pthread_mutex_unlock(&R.mu);
    }
    int live = fan_out(f->job, f->buf.data, f->buf.len, first);
    buf_clear(&f->buf);
    if (live == 0) {
        s->err = ECONNRESET;
        return ERR_IO;
    }
    return 0;
}

static int fan_write(struct persist_sink *s, const void *p, size_t n) {
    struct fan_sink *f = (struct fan_sink *)s;
    if (s->err) return ERR_IO;
    if (!f->started && f->buf.len == 0) {
        char hdr[64];
        int k = snprintf(hdr, sizeof(hdr), "$EOF:%s\r\n", f->job->eofmark);
        buf_append(&f->buf, hdr, (size_t)k);
    }
    buf_append(&f->buf, p, n);
    if (f->buf.len >= XFER_CHUNK) return fan_flush(s);
    return 0;
}

static int fan_sync(struct persist_sink *s) { return fan_flush(s); }

static int fan_close(struct persist_sink *s) {
    struct fan_sink *f = (struct fan_sink *)s;
    int rc = s->err ? ERR_IO : 0;
    buf_free(&f->buf);
    xfree(f);
    return rc;
}

static const struct persist_sink_ops fan_ops = {fan_write, fan_flush, fan_sync, fan_close};

/* ---- the snapshot's hooks ------------------------------------------------------------------------ */

/* The cut's AUX fields (snapshot thread): learn the cut's offset from the
 * feeder, send +FULLRESYNC, write repl-stream-db / repl-id / repl-offset. */
static void job_aux(struct buf *b, uint64_t cut_pos, void *arg) {
    struct repl_job *j = arg;
    long long off;
    int db;
    struct rbl_cursor c = {0};
    if (!feed_cut_offset(cut_pos, &off, &db) || !rbl_cursor_at(&c, (uint64_t)off + 1)) {
        log_warn("SYNC failed: the replication offset of the snapshot is unknown");
        pthread_mutex_lock(&R.mu);
        while (j->ntargets > 0) {
            repl_post(j->targets[0], REPL_MSG_CLOSE, NULL, false);
            atomic_store(&j->targets[0]->gone, true);
            drop_target_locked(j, 0);
        }
        pthread_mutex_unlock(&R.mu);
        return;
    }
    pthread_mutex_lock(&R.mu);
    j->offset = off;
    j->db = db;
    j->start = c;
    j->resolved = true;
    for (int i = 0; i < j->ntargets; i++) send_fullresync_locked(j, j->targets[i]);
    /* Each replica holds its own start; the job keeps one only while
     * others may still attach (a disk snapshot), so that a replica that
     * goes away frees the stream it kept. */
    if (j->diskless) rbl_cursor_release(&j->start);
    char id[REPL_ID_LEN + 1];
    memcpy(id, R.replid, sizeof(id));
    pthread_mutex_unlock(&R.mu);
    rdb_put_aux_ll(b, "repl-stream-db", db < 0 ? 0 : db);
    rdb_put_aux(b, "repl-id", id);
    rdb_put_aux_ll(b, "repl-offset", off);
}

/* Every target goes online (they will stream from their cursor). */
static void targets_online(struct repl_job *j) {
    pthread_mutex_lock(&R.mu);
    while (j->ntargets > 0) {
        struct repl_replica *r = j->targets[0];
        struct repl_msg *m = xcalloc(1, sizeof(*m));
        m->kind = REPL_MSG_ONLINE;
        m->r = r;
        repl_replica_ref(r);
        m->stream_on_ack = j->diskless;
        if (j->diskless) {
            char name[128];
            log_notice("Streamed RDB transfer with replica %s succeeded (socket). Waiting for REPLCONF ACK from slave "
                       "to enable streaming",
                       repl_replica_name(r, name, sizeof(name)));
        }
        drop_target_locked(j, 0);
        R.glue.post(m);
    }
    pthread_mutex_unlock(&R.mu);
}

static void targets_fail(struct repl_job *j) {
    pthread_mutex_lock(&R.mu);
    while (j->ntargets > 0) {
        struct repl_replica *r = j->targets[0];
        atomic_store(&r->gone, true);
        repl_post(r, REPL_MSG_CLOSE, NULL, false);
        drop_target_locked(j, 0);
    }
    pthread_mutex_unlock(&R.mu);
}

/* Disk: send the file to every target. [snapshot thread] */
static bool send_file(struct repl_job *j) {
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        log_warn("SYNC failed. Can't open/stat DB after BGSAVE: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return false;
    }
    pthread_mutex_lock(&R.mu);
    j->payload_started = true;
    for (int i = 0; i < j->ntargets; i++) atomic_store(&j->targets[i]->state, REPL_RS_SEND_BULK);
    rbl_cursor_release(&j->start); /* nobody attaches any more */
    pthread_mutex_unlock(&R.mu);
    char hdr[32];
    int k = snprintf(hdr, sizeof(hdr), "$%lld\r\n", (long long)st.st_size);
    bool ok = fan_out(j, hdr, (size_t)k, true) > 0;
    char *buf = xmalloc(XFER_CHUNK);
    for (off_t done = 0; ok && done < st.st_size;) {
        ssize_t n = read(fd, buf, XFER_CHUNK);
        if (n <= 0) {
            log_warn("SYNC failed: reading the RDB file: %s", n < 0 ? strerror(errno) : "short file");
            ok = false;
            break;
        }
        done += n;
        ok = fan_out(j, buf, (size_t)n, false) > 0;
    }
    xfree(buf);
    close(fd);
    return ok;
}

static void job_done(const struct snapshot_result *res, void *arg) {
    struct repl_job *j = arg;
    bool ok = res->rc == 0;
    if (!ok) {
        log_warn("SYNC failed. BGSAVE child returned an error");
    } else if (j->diskless) {
        /* The end mark, then online. */
        fan_out(j, j->eofmark, REPL_ID_LEN, false);
        log_notice("Background RDB transfer terminated with success");
    } else {
        log_notice("Background saving terminated with success");
        ok = send_file(j);
    }
    if (!j->diskless) unlink(j->path);
    if (ok)
        targets_online(j);
    else
        targets_fail(j);
    atomic_store(&j->finished, true);
}

/* ---- starting and reaping [feeder] -------------------------------------------------------------- */

static void job_free(struct repl_job *j) {
    rbl_cursor_release(&j->start);
    xfree(j->targets);
    xfree(j);
}

static bool start_job(bool diskless) {
    struct repl_job *j = xcalloc(1, sizeof(*j));
    j->diskless = diskless;
    repl_new_replid(j->eofmark);
    pthread_mutex_lock(&R.mu);
    for (struct repl_replica *r = R.replicas; r; r = r->next)
        if (atomic_load(&r->state) == REPL_RS_WAIT_BGSAVE_START && !atomic_load(&r->gone)) add_target_locked(j, r);
    R.job = j;
    pthread_mutex_unlock(&R.mu);
    struct persist_sink *sink;
    if (diskless) {
        struct fan_sink *f = xcalloc(1, sizeof(*f));
        f->base.ops = &fan_ops;
        f->job = j;
        sink = &f->base;
    } else {
        snprintf(j->path, sizeof(j->path), "temp-sync-%d.rdb", (int)getpid());
        if (sink_file_open(j->path, &sink) != 0) {
            log_warn("Can't open the temp RDB file %s for the SYNC: %s", j->path, strerror(errno));
            sink = NULL;
        }
    }
    struct snapshot_opts o;
    persist_snapshot_opts(&o);
    o.aux = job_aux;
    o.aux_arg = j;
    feed_next_cut_is_sync(true);
    int rc = sink ? snapshot_start(sink, &o, job_done, j, &j->snap) : ERR_IO;
    if (rc != 0) {
        feed_next_cut_is_sync(false);
        if (sink) sink_close(sink);
        if (!diskless) unlink(j->path);
        /* Another snapshot took the view: the replicas wait for the next. */
        pthread_mutex_lock(&R.mu);
        while (j->ntargets > 0) {
            atomic_store(&j->targets[0]->state, REPL_RS_WAIT_BGSAVE_START);
            drop_target_locked(j, 0);
        }
        R.job = NULL;
        pthread_mutex_unlock(&R.mu);
        job_free(j);
        return false;
    }
    log_notice("Starting BGSAVE for SYNC with target: %s", diskless ? "replicas sockets" : "disk");
    return true;
}

/* Replicas whose pending stream passed their output buffer limit while
 * they wait for (or receive) their snapshot. [R.mu held] */
static void check_limits_locked(struct repl_job *j) {
    if (!j->resolved || R.srv.replica_limits == NULL) return;
    long long hard, soft, soft_s;
    R.srv.replica_limits(&hard, &soft, &soft_s);
    for (int i = 0; i < j->ntargets; i++) {
        struct repl_replica *r = j->targets[i];
        if (r->start.b == NULL) continue;
        long long pending = (long long)(rbl_offset() + 1 - r->start.next);
        if (hard > 0 && pending >= hard && !atomic_load(&r->gone)) {
            char name[128];
            log_warn("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                     repl_replica_name(r, name, sizeof(name)));
            atomic_store(&r->gone, true);
            repl_post(r, REPL_MSG_CLOSE, NULL, false);
        }
    }
}

void sync_cron(void) {
    struct repl_job *j = R.job;
    if (j && atomic_load(&j->finished)) {
        snapshot_wait(&j->snap);
        pthread_mutex_lock(&R.mu);
        R.job = NULL;
        pthread_mutex_unlock(&R.mu);
        job_free(j);
        j = NULL;
    }
    if (j) {
        pthread_mutex_lock(&R.mu);
        check_limits_locked(j);
        pthread_mutex_unlock(&R.mu);
        return;
    }
    if (snapshot_running()) return;
    /* Replicas waiting: diskless when all of them can read an EOF-marked
     * payload, after the delay for more to arrive. */
    int n = 0;
    bool all_eof = true;
    int64_t oldest = INT64_MAX;
    pthread_mutex_lock(&R.mu);
    for (struct repl_replica *r = R.replicas; r; r = r->next) {
        if (atomic_load(&r->state) != REPL_RS_WAIT_BGSAVE_START || atomic_load(&r->gone)) continue;
        n++;
        if (!(r->capa & REPL_CAPA_EOF)) all_eof = false;
        if (r->wait_since_ms < oldest) oldest = r->wait_since_ms;
    }
    pthread_mutex_unlock(&R.mu);
    if (n == 0) return;
    bool diskless = atomic_load(&R.o.diskless_sync) && all_eof;
    if (diskless) {
        long long delay = atomic_load(&R.o.diskless_delay), max = atomic_load(&R.o.diskless_max);
        if (delay > 0 && time_ms() - oldest < delay * 1000 && (max == 0 || n < max)) return;
    }
    start_job(diskless);
}

void sync_teardown(void) {
    struct repl_job *j = R.job;
    if (j == NULL) return;
    if (j->snap) snapshot_cancel(j->snap);
    targets_fail(j);
    snapshot_wait(&j->snap);
    R.job = NULL;
    job_free(j);
}

void sync_chunk_progress(void) { xfer_progress(); }

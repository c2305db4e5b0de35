/*
 * persist/aof.c - options, the writer thread, the background fsync
 * thread, the reply gate, INFO (design in aof.h; rewrites in
 * aof_rewrite.c, loading in aof_load.c).
 *
 * Writer thread loop (aof_mu held except while waiting):
 *
 *   seq = log_wake_seq()            (a request after this wakes the wait)
 *   service: appendonly changes, finished rewrite, scheduled/automatic
 *            rewrites, history deletion
 *   drain:   log_read_upto(cut) -> feed(): [#TS:][SELECT]command into buf;
 *            at the cut: flush + fsync the old file, switch to the next
 *   flush:   write buf (always: + fdatasync, then publish durable;
 *            everysec: hand an fsync to the fsync thread once a second)
 *   wait:    for a log record, a wake-up, or 100 ms (log_reader_wait_seq)
 *
 * Background fsync thread ("bio"): a FIFO of jobs (fsync a duplicate of
 *   the file's descriptor and close it; unlink a history file), so the
 *   writer never blocks on a slow fsync under everysec; aof_pending_bio_fsync
 *   counts the fsyncs queued or running.
 *
 * Config changes to appendonly are applied after CONFIG SET returns to the
 *   command's thread (aof_after, from persist_after, with no lock held): the
 *   config mutex may be taken under stripe locks (EXEC), and turning AOF on
 *   takes a snapshot cut (every stripe) under aof_mu, so doing it inside
 *   the option's apply callback could deadlock. The writer thread applies a
 *   change too, should no command do it first.
 *
 * Memory orders: the gate, durable position and waiter slots are seq_cst
 *   where a Dekker-style pair needs it (aof_watch vs aof_publish_durable:
 *   either the worker sees the new position or the publisher sees the
 *   watch); counters for INFO are relaxed.
 */
#include "persist/aof.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "config/config.h"
#include "metrics/latency.h"
#include "persist/aof_emit.h"
#include "persist/aof_internal.h"
#include "persist/persist.h"
#include "repl/log.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024
#define WAIT_MS 100
#define WRITE_ERROR_LOG_RATE 30 /* seconds between write error logs (Redis) */
#define WRITE_PIECE (64 * 1024)  /* bytes per write + flush */

struct aof_config aof_cfg = {.fsync = AOF_FSYNC_EVERYSEC, .dirname = "appendonlydir", .filename = "appendonly.aof"};
struct aof_stats aof_st = {.rewrite_time_last = -1, .rewrite_time_start = -1, .last_rewrite_ok = true,
                           .last_write_ok = true, .bio_fsync_ok = true};
struct aof_writer aw = {.fd = -1, .next_fd = -1, .selected_db = -1};
pthread_mutex_t aof_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_t writer_thread;
static bool writer_running;
static bool started;                  /* after start-up: option changes act */
static _Atomic bool toggle_pending;   /* appendonly changed by CONFIG SET */
struct aof_replay_ops aof_replay;
static void (*libs_foreach)(aof_lib_fn fn, void *arg);

long long aof_now_s(void) { return (long long)time(NULL); }

void aof_manifest_name(char *out, size_t cap) { snprintf(out, cap, "%s.manifest", aof_cfg.filename); }

/* ---- the reply gate (appendfsync always) ---------------------------------------------------- */

_Atomic bool aof_gate;
static _Atomic uint64_t durable;
static _Atomic uint64_t want[AOF_WAITERS];
static _Atomic int nslots;
static void (*waker_fn)(int slot);

void aof_set_waker(void (*waker)(int slot)) { waker_fn = waker; }
uint64_t aof_durable(void) { return atomic_load(&durable); }

static void wake_all(void) {
    int n = atomic_load(&nslots);
    for (int i = 0; i < n; i++)
        if (atomic_exchange(&want[i], 0) != 0 && waker_fn) waker_fn(i);
}

/* The gate follows the state (AOF thread) and the policy (CONFIG SET):
 * a leaf mutex keeps two concurrent updates from storing stale values. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;

static void update_gate(void) {
    pthread_mutex_lock(&gate_mu);
    bool on = atomic_load(&aof_st.state) == AOF_ON && atomic_load(&aof_cfg.fsync) == AOF_FSYNC_ALWAYS;
    bool was = atomic_exchange(&aof_gate, on);
    pthread_mutex_unlock(&gate_mu);
    if (was && !on) wake_all();
}

void aof_publish_durable(uint64_t pos) {
    uint64_t cur = atomic_load(&durable);
    while (cur < pos && !atomic_compare_exchange_weak(&durable, &cur, pos)) {
    }
    int n = atomic_load(&nslots);
    for (int i = 0; i < n; i++) {
        uint64_t w = atomic_load(&want[i]);
        if (w && w <= pos && atomic_compare_exchange_strong(&want[i], &w, 0) && waker_fn) waker_fn(i);
    }
}

bool aof_watch(int slot, uint64_t pos) {
    if (!aof_gating() || atomic_load(&durable) >= pos) return true;
    if (slot < 0 || slot >= AOF_WAITERS) return true;
    int n = atomic_load(&nslots);
    while (n <= slot && !atomic_compare_exchange_weak(&nslots, &n, slot + 1)) {
    }
    uint64_t cur = atomic_load(&want[slot]);
    do {
        if (cur != 0 && cur <= pos) break;
    } while (!atomic_compare_exchange_weak(&want[slot], &cur, pos));
    /* Pairs with the publisher's store of `durable` then load of want[]. */
    return !aof_gating() || atomic_load(&durable) >= pos;
}

void aof_set_state_locked(int state) {
    aw.state = state;
    atomic_store(&aof_st.state, state);
    update_gate();
}

/* ---- options ------------------------------------------------------------------------------- */

static const struct config_enum fsync_names[] = {
    {"always", AOF_FSYNC_ALWAYS}, {"everysec", AOF_FSYNC_EVERYSEC}, {"no", AOF_FSYNC_NO}, {NULL, 0}};

static bool is_base_name(const char *s) { return strchr(s, '/') == NULL && strchr(s, '\\') == NULL; }

static int apply_appendonly(long long v, char *err) {
    bool on = v != 0;
    if (started && on && !atomic_load(&aof_cfg.enabled) && mkdir(aof_cfg.dirname, 0755) != 0 && errno != EEXIST) {
        log_warn("Can't open or create append-only dir %s: %s", aof_cfg.dirname, strerror(errno));
        snprintf(err, CFG_ERR_MAX, "Unable to turn on AOF. Check server logs.");
        return -1;
    }
    atomic_store(&aof_cfg.enabled, on);
    if (started) {
        atomic_store(&toggle_pending, true);
        log_wake_readers();
    }
    return 0;
}

static int apply_fsync(long long v, char *err) {
    atomic_store(&aof_cfg.fsync, (int)v);
    update_gate();
    log_wake_readers();
    return 0;
}

static int apply_auto_gc(long long v, char *err) {
    atomic_store(&aof_cfg.disable_auto_gc, v != 0);
    if (started && v == 0) {
        atomic_store(&toggle_pending, true); /* the writer deletes history */
        log_wake_readers();
    }
    return 0;
}

#define BOOL_OPT(fn, field)                                                                            \
    static int fn(long long v, char *err) {                                                          \
        atomic_store(&aof_cfg.field, v != 0);                                                        \
        return 0;                                                                                    \
    }
BOOL_OPT(apply_no_fsync_rw, no_fsync_on_rewrite)
BOOL_OPT(apply_incr_fsync, incremental_fsync)
BOOL_OPT(apply_preamble, use_rdb_preamble)
BOOL_OPT(apply_timestamps, timestamps)
BOOL_OPT(apply_load_truncated, load_truncated)

static int apply_perc(long long v, char *err) {
    atomic_store(&aof_cfg.rewrite_perc, v);
    return 0;
}
static int apply_min_size(long long v, char *err) {
    atomic_store(&aof_cfg.rewrite_min_size, v);
    return 0;
}

static int apply_filename(const char *s, char *err) {
    if (s[0] == '\0') {
        snprintf(err, CFG_ERR_MAX, "appendfilename can't be empty");
        return -1;
    }
    if (!is_base_name(s)) {
        snprintf(err, CFG_ERR_MAX, "appendfilename can't be a path, just a filename");
        return -1;
    }
    snprintf(aof_cfg.filename, sizeof(aof_cfg.filename), "%s", s);
    return 0;
}

static int apply_dirname(const char *s, char *err) {
    if (s[0] == '\0') {
        snprintf(err, CFG_ERR_MAX, "appenddirname can't be empty");
        return -1;
    }
    if (!is_base_name(s)) {
        snprintf(err, CFG_ERR_MAX, "appenddirname can't be a path, just a dirname");
        return -1;
    }
    snprintf(aof_cfg.dirname, sizeof(aof_cfg.dirname), "%s", s);
    return 0;
}

static struct config_option options[] = {
    {"appendonly", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_appendonly, NULL, NULL, NULL, 0, NULL},
    {"appendfsync", NULL, CFG_ENUM, 0, "everysec", 0, 0, fsync_names, apply_fsync, NULL, NULL, NULL, 0, NULL},
    {"appendfilename", NULL, CFG_STRING, CFG_F_IMMUTABLE, "appendonly.aof", 0, 0, NULL, NULL, apply_filename, NULL,
     NULL, 0, NULL},
    {"appenddirname", NULL, CFG_STRING, CFG_F_IMMUTABLE, "appendonlydir", 0, 0, NULL, NULL, apply_dirname, NULL,
     NULL, 0, NULL},
    {"no-appendfsync-on-rewrite", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_no_fsync_rw, NULL, NULL, NULL, 0,
     NULL},
    {"aof-rewrite-incremental-fsync", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_incr_fsync, NULL, NULL, NULL, 0,
     NULL},
    {"aof-use-rdb-preamble", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_preamble, NULL, NULL, NULL, 0, NULL},
    {"aof-timestamp-enabled", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_timestamps, NULL, NULL, NULL, 0, NULL},
    {"aof-load-truncated", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_load_truncated, NULL, NULL, NULL, 0, NULL},
    {"aof-disable-auto-gc", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_auto_gc, NULL, NULL, NULL, 0, NULL},
    {"auto-aof-rewrite-percentage", NULL, CFG_INT, 0, "100", 0, INT_MAX, NULL, apply_perc, NULL, NULL, NULL, 0,
     NULL},
    {"auto-aof-rewrite-min-size", NULL, CFG_MEMORY, 0, "64mb", 0, LLONG_MAX, NULL, apply_min_size, NULL, NULL, NULL,
     0, NULL},
    CFG_END,
};

void aof_setup(void) { config_register(options); }
void aof_set_replay(const struct aof_replay_ops *ops) { aof_replay = *ops; }
void aof_set_libraries(void (*foreach)(aof_lib_fn fn, void *arg)) { libs_foreach = foreach; }
void aof_set_flush_sleep(long long us) { atomic_store(&aof_cfg.flush_sleep_us, us); }
bool aof_enabled(void) { return atomic_load(&aof_cfg.enabled); }
bool aof_rewrite_running(void) { return atomic_load(&aof_st.rewrite_running); }

/* FUNCTION LOAD commands for an AOF-format base (rewriteFunctions). */
static void lib_cmd(const char *code, size_t len, void *arg) {
    const char *argv[3] = {"FUNCTION", "LOAD", code};
    size_t lens[3] = {8, 4, len};
    aof_put_command(arg, 3, argv, lens);
}

void aof_libraries_head(struct buf *b) {
    if (libs_foreach) libs_foreach(lib_cmd, b);
}

/* ---- the background fsync thread ----------------------------------------------------------- */

struct bio_job {
    struct bio_job *next;
    int fd;        /* fsync and close (-1: unlink path) */
    uint64_t pos;  /* log position the fsync makes durable */
    char *path;
};

static pthread_mutex_t bio_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bio_cond = PTHREAD_COND_INITIALIZER;
static struct bio_job *bio_head, *bio_tail;
static bool bio_stop, bio_running;
static pthread_t bio_thread;

static void bio_push(struct bio_job *j) {
    pthread_mutex_lock(&bio_mu);
    j->next = NULL;
    if (bio_tail)
        bio_tail->next = j;
    else
        bio_head = j;
    bio_tail = j;
    pthread_cond_signal(&bio_cond);
    pthread_mutex_unlock(&bio_mu);
}

static void bio_run(struct bio_job *j) {
    if (j->fd < 0) {
        unlink(j->path);
        return;
    }
    if (fdatasync(j->fd) == -1 && errno != EBADF && errno != EINVAL) {
        atomic_store(&aof_st.bio_fsync_errno, errno);
        atomic_store(&aof_st.bio_fsync_ok, false);
        log_warn("Fail to fsync the AOF file: %s", strerror(errno));
    } else {
        atomic_store(&aof_st.bio_fsync_ok, true);
        aof_publish_durable(j->pos);
    }
    close(j->fd);
    atomic_fetch_sub(&aof_st.pending_bio, 1);
}

static void *bio_main(void *arg) {
    alloc_thread_init();
    pthread_mutex_lock(&bio_mu);
    for (;;) {
        while (bio_head == NULL && !bio_stop) pthread_cond_wait(&bio_cond, &bio_mu);
        if (bio_head == NULL) break;
        struct bio_job *j = bio_head;
        bio_head = j->next;
        if (bio_head == NULL) bio_tail = NULL;
        pthread_mutex_unlock(&bio_mu);
        bio_run(j);
        xfree(j->path);
        xfree(j);
        pthread_mutex_lock(&bio_mu);
    }
    pthread_mutex_unlock(&bio_mu);
    return NULL;
}

static void bio_start(void) {
    if (bio_running) return;
    bio_stop = false;
    bio_running = pthread_create(&bio_thread, NULL, bio_main, NULL) == 0;
}

static void bio_end(void) {
    if (!bio_running) return;
    pthread_mutex_lock(&bio_mu);
    bio_stop = true;
    pthread_cond_signal(&bio_cond);
    pthread_mutex_unlock(&bio_mu);
    pthread_join(bio_thread, NULL);
    bio_running = false;
}

/* fsync fd in the background (a duplicate: the caller keeps its own). */
static void bio_fsync(int fd, uint64_t pos) {
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return;
    struct bio_job *j = xcalloc(1, sizeof(*j));
    j->fd = d;
    j->pos = pos;
    atomic_fetch_add(&aof_st.pending_bio, 1);
    if (!bio_running) { /* not started (start-up, tests): do it here */
        bio_run(j);
        xfree(j);
        return;
    }
    bio_push(j);
}

void aof_bg_unlink(const char *path) {
    struct bio_job *j = xcalloc(1, sizeof(*j));
    j->fd = -1;
    j->path = xstrdup(path);
    if (!bio_running) {
        bio_run(j);
        xfree(j->path);
        xfree(j);
        return;
    }
    bio_push(j);
}

/* ---- files ---------------------------------------------------------------------------------- */

int aof_open_append(const char *name, bool truncate, struct persist_sink **sink, int *fd) {
    char path[4096];
    aof_path(path, sizeof(path), aof_cfg.dirname, name);
    int f = open(path, O_WRONLY | O_CREAT | O_APPEND | (truncate ? O_TRUNC : 0) | O_CLOEXEC, 0644);
    if (f < 0) return -1;
    int d = fcntl(f, F_DUPFD_CLOEXEC, 0);
    if (d < 0) {
        int e = errno;
        close(f);
        errno = e;
        return -1;
    }
    *sink = sink_file_fd(f);
    *fd = d;
    return 0;
}

void aof_close_current_locked(void) {
    if (aw.sink) sink_close(aw.sink);
    aw.sink = NULL;
    if (aw.fd >= 0) close(aw.fd);
    aw.fd = -1;
}

/* ---- feeding the buffer ----------------------------------------------------------------------- */

static long long feed_now;
static bool feed_in_multi;

static void feed(int db, const char *payload, size_t len, void *arg) {
    if (!aw.accept) return;
    /* Annotations go between transactions, never inside one. */
    if (atomic_load_explicit(&aof_cfg.timestamps, memory_order_relaxed) && !feed_in_multi && aw.cur_ts < feed_now) {
        aw.cur_ts = feed_now;
        aof_put_timestamp(&aw.buf, feed_now);
    }
    if (db != aw.selected_db) {
        aof_put_select(&aw.buf, db);
        aw.selected_db = db;
    }
    if (len >= 15 && memcmp(payload, "*1\r\n$5\r\nMULTI\r\n", 15) == 0)
        feed_in_multi = true;
    else if (len >= 14 && memcmp(payload, "*1\r\n$4\r\nEXEC\r\n", 14) == 0)
        feed_in_multi = false;
    buf_append(&aw.buf, payload, len);
}

int aof_drain_locked(int max) {
    int total = 0;
    feed_now = aof_now_s();
    while (total < max && aw.reader) {
        uint64_t limit = aw.switch_pending ? aw.rw_cut : UINT64_MAX;
        int n = log_read_upto(aw.reader, limit, max - total, feed, NULL);
        total += n;
        if (aw.accept && n > 0) aw.buf_end = log_reader_pos(aw.reader);
        if (aw.switch_pending && log_reader_pos(aw.reader) >= aw.rw_cut) {
            aof_switch_locked();
            if (aw.switch_pending) break; /* the old file cannot be finished yet */
            continue;
        }
        if (n == 0) break;
    }
    atomic_store_explicit(&aof_st.buffer_len, (long long)aw.buf.len, memory_order_relaxed);
    return total;
}

/* ---- writing ------------------------------------------------------------------------------------ */

/* Reopen the current file after a failed write (the sink keeps its error). */
static bool reopen_locked(void) {
    if (aw.cur_name[0] == '\0') return false;
    if (aw.sink) sink_close(aw.sink);
    aw.sink = NULL;
    struct persist_sink *s;
    int d;
    if (aof_open_append(aw.cur_name, false, &s, &d) != 0) return false;
    if (aw.fd >= 0) close(aw.fd);
    aw.sink = s;
    aw.fd = d;
    return true;
}

/* A write failed: trim what landed, remember the error, keep the buffer. */
static void write_failed_locked(int err) {
    long long now = aof_now_s();
    bool can_log = now - aw.last_error_log_s > WRITE_ERROR_LOG_RATE;
    if (can_log) aw.last_error_log_s = now;
    /* What of the failed piece landed (a plain file; an encrypted one
     * loses its torn chunk when reopened). */
    struct stat sb;
    long long landed = (aw.fd >= 0 && !aof_file_encrypted(aw.fd) && fstat(aw.fd, &sb) == 0)
                           ? (long long)sb.st_size - aw.last_incr_size
                           : 0;
    if (landed <= 0) {
        if (can_log) log_warn("Error writing to the AOF file: %s", strerror(err));
    } else {
        if (can_log)
            log_warn("Short write while writing to the AOF file: (nwritten=%lld, expected=%lld)", landed,
                     (long long)aw.buf.len);
        if (ftruncate(aw.fd, aw.last_incr_size) == -1) {
            if (can_log)
                log_warn("Could not remove short write from the append-only file.  Redis may refuse to load the AOF "
                         "the next time it starts.  ftruncate: %s",
                         strerror(errno));
            /* The bytes stay: count them and drop them from the buffer. */
            size_t k = MIN((size_t)landed, aw.buf.len);
            aw.current_size += (long long)k;
            aw.last_incr_size += (long long)k;
            buf_consume(&aw.buf, k);
        }
        if (err == 0) err = ENOSPC;
    }
    atomic_store(&aof_st.last_write_errno, err ? err : EIO);
    atomic_store(&aof_st.last_write_ok, false);
    reopen_locked(); /* a fresh sink for the next try */
}

static void publish_sizes(void) {
    atomic_store_explicit(&aof_st.current_size, aw.current_size, memory_order_relaxed);
    atomic_store_explicit(&aof_st.base_size, aw.base_size, memory_order_relaxed);
    atomic_store_explicit(&aof_st.buffer_len, (long long)aw.buf.len, memory_order_relaxed);
}

/* Write the buffer; true when it is empty afterwards. */
static bool write_buf_locked(bool sync_in_progress) {
    long long sleep_us = atomic_load(&aof_cfg.flush_sleep_us);
    if (sleep_us > 0) usleep((useconds_t)sleep_us);
    if (aw.sink == NULL && !reopen_locked()) {
        write_failed_locked(errno);
        return false;
    }
    int64_t t0 = time_mono_us();
    /* In pieces, each flushed: a failure leaves exactly the pieces not
     * written in the buffer (an encrypted file's chunk ends with a flush,
     * so a torn piece is a torn chunk, cut when the file is reopened). */
    int rc = 0;
    size_t done = 0;
    while (done < aw.buf.len) {
        size_t n = MIN(aw.buf.len - done, (size_t)WRITE_PIECE);
        rc = sink_write(aw.sink, aw.buf.data + done, n);
        if (rc == 0) rc = sink_flush(aw.sink);
        if (rc != 0) break;
        done += n;
        aw.current_size += (long long)n;
        aw.last_incr_size += (long long)n;
    }
    int64_t ms = (time_mono_us() - t0) / 1000;
    if (latency_wants(ms)) { /* Redis's events for the LATENCY command */
        latency_add(sync_in_progress ? "aof-write-pending-fsync"
                    : snapshot_running() ? "aof-write-active-child" : "aof-write-alone", ms);
        latency_add("aof-write", ms);
    }
    aw.flush_postponed_s = 0;
    if (rc != 0) {
        buf_consume(&aw.buf, done);
        write_failed_locked(aw.sink->err);
        publish_sizes();
        return false;
    }
    if (!atomic_load(&aof_st.last_write_ok)) {
        log_warn("AOF write error looks solved, Redis can write again.");
        atomic_store(&aof_st.last_write_ok, true);
    }
    aw.written = aw.buf_end;
    if (aw.buf.cap > 64 * 1024)
        buf_free(&aw.buf);
    else
        buf_clear(&aw.buf);
    publish_sizes();
    return true;
}

static void fsync_locked(bool sync_in_progress) {
    if (aw.fd < 0) return;
    if (atomic_load(&aof_cfg.no_fsync_on_rewrite) && snapshot_running()) return;
    int policy = atomic_load(&aof_cfg.fsync);
    long long now = aof_now_s();
    if (policy == AOF_FSYNC_ALWAYS) {
        int64_t t0 = time_mono_us();
        int rc = fdatasync(aw.fd);
        int64_t ms = (time_mono_us() - t0) / 1000;
        if (latency_wants(ms)) latency_add("aof-fsync-always", ms);
        if (rc == -1) {
            /* Redis exits here; nothing was acknowledged (replies wait), so
             * refuse writes and try again instead. */
            log_warn("Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s.",
                     strerror(errno));
            atomic_store(&aof_st.last_write_errno, errno);
            atomic_store(&aof_st.last_write_ok, false);
            return;
        }
        aw.last_incr_fsync_offset = aw.last_incr_size;
        aw.last_fsync_s = now;
        if (!atomic_load(&aof_st.last_write_ok) && aw.buf.len == 0) { /* everything written is on disk */
            log_warn("AOF write error looks solved, Redis can write again.");
            atomic_store(&aof_st.last_write_ok, true);
        }
        aof_publish_durable(aw.written);
    } else if (policy == AOF_FSYNC_EVERYSEC && now > aw.last_fsync_s) {
        if (!sync_in_progress) {
            bio_fsync(aw.fd, aw.written);
            aw.last_incr_fsync_offset = aw.last_incr_size;
        }
        aw.last_fsync_s = now;
    }
}

void aof_flush_locked(bool force) {
    int policy = atomic_load(&aof_cfg.fsync);
    bool sync_in_progress = false;
    long long now = aof_now_s();
    if (aw.buf.len == 0) {
        if (policy == AOF_FSYNC_EVERYSEC && aw.last_incr_fsync_offset != aw.last_incr_size &&
            now > aw.last_fsync_s && !(sync_in_progress = atomic_load(&aof_st.pending_bio) != 0)) {
            fsync_locked(false);
        } else if (policy == AOF_FSYNC_ALWAYS && aw.last_incr_fsync_offset != aw.last_incr_size) {
            fsync_locked(false);
        } else if (policy == AOF_FSYNC_ALWAYS && aof_durable() < aw.written) {
            aof_publish_durable(aw.written); /* synced before the policy became always */
        }
        return;
    }
    if (policy == AOF_FSYNC_EVERYSEC) sync_in_progress = atomic_load(&aof_st.pending_bio) != 0;
    if (policy == AOF_FSYNC_EVERYSEC && !force && sync_in_progress) {
        /* A write would wait for the fsync anyway (Linux): postpone up to 2 s. */
        if (aw.flush_postponed_s == 0) {
            aw.flush_postponed_s = now;
            return;
        } else if (now - aw.flush_postponed_s < 2) {
            return;
        }
        atomic_fetch_add(&aof_st.delayed_fsync, 1);
        log_notice("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without "
                   "waiting for fsync to complete, this may slow down Redis.");
    }
    if (!write_buf_locked(sync_in_progress)) return;
    fsync_locked(sync_in_progress);
}

/* ---- appendonly on / off ----------------------------------------------------------------------- */

/* stopAppendOnly: flush, fsync and close; forget the rewrite. */
static void stop_locked(void) {
    while (aof_drain_locked(BATCH) > 0) {
    }
    aof_flush_locked(true);
    if (aw.fd >= 0) {
        if (fdatasync(aw.fd) == -1)
            log_warn("Fail to fsync the AOF file: %s", strerror(errno));
        else
            aw.last_fsync_s = aof_now_s();
    }
    aof_set_state_locked(AOF_OFF);
    aof_rewrite_kill_locked();
    aof_close_current_locked();
    if (aw.cur_temp) { /* enabled, then disabled before the first rewrite ended */
        char path[4096];
        aof_path(path, sizeof(path), aof_cfg.dirname, aw.cur_name);
        unlink(path);
        aw.cur_temp = false;
    }
    aw.cur_name[0] = '\0';
    aw.selected_db = -1;
    aw.accept = false;
    atomic_store(&aof_st.rewrite_scheduled, false);
    aw.last_incr_size = 0;
    aw.last_incr_fsync_offset = 0;
    buf_free(&aw.buf);
    aw.buf_end = aw.written = 0;
    log_reader_detach(&aw.reader);
    publish_sizes();
}

/* startAppendOnly: a rewrite makes the base; records go to a temp INCR
 * file from its cut on. -1 when it cannot even be tried. */
static int start_locked(void) {
    /* INFO sees the new state once the rewrite runs (or is scheduled):
     * never "enabled, no rewrite, nothing scheduled" in between. */
    aw.state = AOF_WAIT_REWRITE;
    aw.accept = false;
    aw.selected_db = -1;
    if (aw.reader == NULL) aw.reader = log_reader_attach();
    if (snapshot_running() && !aof_rewrite_running()) {
        atomic_store(&aof_st.rewrite_scheduled, true);
        log_warn("AOF was enabled but there is already another background operation. An AOF background was "
                 "scheduled to start when possible.");
    } else {
        if (aw.rw) {
            log_warn("AOF was enabled but there is already an AOF rewriting in background. Stopping background "
                     "AOF and starting a rewrite now.");
            aof_rewrite_kill_locked();
        }
        const char *err;
        if (aof_rewrite_start_locked(&err) < 0) {
            log_reader_detach(&aw.reader);
            aof_set_state_locked(AOF_OFF);
            log_warn("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check "
                     "the above logs for more info about the error.");
            return -1;
        }
    }
    aof_set_state_locked(AOF_WAIT_REWRITE);
    aw.last_fsync_s = aof_now_s();
    if (!atomic_load(&aof_st.bio_fsync_ok)) {
        log_warn("AOF reopen, just ignore the AOF fsync error in bio job");
        atomic_store(&aof_st.bio_fsync_ok, true);
    }
    if (!atomic_load(&aof_st.last_write_ok)) {
        log_warn("AOF reopen, just ignore the last error.");
        atomic_store(&aof_st.last_write_ok, true);
    }
    return 0;
}

/* Apply a CONFIG SET of appendonly / aof-disable-auto-gc. [aof_mu] */
static void apply_toggle_locked(void) {
    if (!atomic_exchange(&toggle_pending, false)) return;
    bool on = atomic_load(&aof_cfg.enabled);
    if (!on && aw.state != AOF_OFF)
        stop_locked();
    else if (on && aw.state == AOF_OFF)
        start_locked();
    if (!atomic_load(&aof_cfg.disable_auto_gc) && aw.am.nhist > 0) aof_del_history_locked();
}

void aof_after(void) {
    if (LIKELY(!atomic_load_explicit(&toggle_pending, memory_order_relaxed))) return;
    if (store_in_run()) return; /* the writer thread does it */
    pthread_mutex_lock(&aof_mu);
    apply_toggle_locked();
    pthread_mutex_unlock(&aof_mu);
    log_wake_readers();
}

/* ---- the writer thread ------------------------------------------------------------------------- */

static void service_locked(void) {
    apply_toggle_locked();
    if (aw.rw && atomic_load(&aw.rw_finished) && !aw.switch_pending) aof_rewrite_done_locked();
    aof_rewrite_cron_locked();
}

static void *writer_main(void *arg) {
    alloc_thread_init();
    pthread_mutex_lock(&aof_mu);
    while (!aw.stopping) {
        uint32_t seq = log_wake_seq();
        service_locked();
        int n = aw.reader ? aof_drain_locked(BATCH) : 0;
        aof_flush_locked(false);
        if (n >= BATCH) continue;
        /* Stopped at a cut the old file cannot be finished for: do not
         * wake for the records waiting behind it. */
        struct log_reader *r = aw.switch_pending ? NULL : aw.reader;
        pthread_mutex_unlock(&aof_mu);
        log_reader_wait_seq(r, seq, WAIT_MS);
        pthread_mutex_lock(&aof_mu);
    }
    pthread_mutex_unlock(&aof_mu);
    store_thread_cleanup();
    return NULL;
}

/* ---- start-up and shutdown --------------------------------------------------------------------- */

int aof_load_startup(void) {
    started = false;
    if (aof_load_manifest() != 0) return -1;
    if (!atomic_load(&aof_cfg.enabled)) return 0;
    int64_t t0 = time_mono_us();
    int rc = aof_load_files(&aw.am, true);
    if (rc == AOF_LOAD_FAILED || rc == AOF_LOAD_OPEN_ERR) return -1;
    if (rc != AOF_LOAD_NOT_EXIST)
        log_notice("DB loaded from append only file: %.3f seconds", (double)(time_mono_us() - t0) / 1e6);
    return 1;
}

/* aofOpenIfNeededOnServerStart: the first base of an empty start, the
 * last INCR file opened for appending, the manifest saved. */
static int open_on_start_locked(void) {
    if (mkdir(aof_cfg.dirname, 0755) != 0 && errno != EEXIST) {
        log_warn("Can't open or create append-only dir %s: %s", aof_cfg.dirname, strerror(errno));
        return -1;
    }
    int nincr = aw.am.nincr;
    if (!aw.am.has_base && nincr == 0) {
        bool rdb = atomic_load(&aof_cfg.use_rdb_preamble);
        const char *base = aof_manifest_new_base(&aw.am, aof_cfg.filename, rdb);
        char path[4096];
        aof_path(path, sizeof(path), aof_cfg.dirname, base);
        if (aof_rewrite_sync(path) != 0) return -1;
        log_notice("Creating AOF base file %s on server start", base);
    }
    const char *name = aof_manifest_last_incr(&aw.am, aof_cfg.filename);
    if (aof_open_append(name, false, &aw.sink, &aw.fd) != 0) {
        log_warn("Can't open the append-only file %s: %s", name, strerror(errno));
        return -1;
    }
    snprintf(aw.cur_name, sizeof(aw.cur_name), "%s", name);
    char mname[300];
    aof_manifest_name(mname, sizeof(mname));
    if (aw.am.dirty && aof_manifest_write(&aw.am, aof_cfg.dirname, mname) != 0) return -1;
    aw.am.dirty = false;
    struct stat sb;
    aw.last_incr_size = fstat(aw.fd, &sb) == 0 ? (long long)sb.st_size : 0;
    aw.last_incr_fsync_offset = aw.last_incr_size;
    if (nincr)
        log_notice("Opening AOF incr file %s on server start", name);
    else
        log_notice("Creating AOF incr file %s on server start", name);
    return 0;
}

int aof_start(void) {
    pthread_mutex_lock(&aof_mu);
    int rc = 0;
    if (atomic_load(&aof_cfg.enabled)) {
        /* Attach before anything is served: every write from now on is
         * read by the writer. */
        aw.reader = log_reader_attach();
        rc = open_on_start_locked();
        if (rc == 0) {
            aw.accept = true;
            aw.selected_db = -1;
            aw.buf_end = aw.written = log_reader_pos(aw.reader);
            aof_publish_durable(aw.written);
            aof_set_state_locked(AOF_ON);
        }
    }
    if (rc == 0) aof_del_history_locked();
    aw.last_fsync_s = aof_now_s();
    publish_sizes();
    started = true;
    pthread_mutex_unlock(&aof_mu);
    if (rc != 0) return -1;
    bio_start();
    writer_running = pthread_create(&writer_thread, NULL, writer_main, NULL) == 0;
    if (!writer_running) {
        log_warn("Can't start the AOF writer thread: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void aof_stop(void) {
    pthread_mutex_lock(&aof_mu);
    aw.stopping = true;
    if (aw.state != AOF_OFF) {
        log_notice("Calling fsync() on the AOF file.");
        while (aof_drain_locked(BATCH) > 0) {
        }
        aof_flush_locked(true);
        if (aw.fd >= 0 && fdatasync(aw.fd) == -1) log_warn("Fail to fsync the AOF file: %s", strerror(errno));
    }
    aof_rewrite_kill_locked();
    pthread_mutex_unlock(&aof_mu);
    log_wake_readers();
    if (writer_running) pthread_join(writer_thread, NULL);
    writer_running = false;
    bio_end();
    pthread_mutex_lock(&aof_mu);
    aof_close_current_locked();
    log_reader_detach(&aw.reader);
    buf_free(&aw.buf);
    buf_free(&aw.rw_head);
    aof_manifest_free(&aw.am);
    pthread_mutex_unlock(&aof_mu);
}

/* ---- commands ---------------------------------------------------------------------------------- */

int aof_bgrewrite(bool in_exec, const char **err) {
    if (aof_rewrite_running()) {
        *err = "ERR Background append only file rewriting already in progress";
        return -1;
    }
    if (in_exec) { /* every stripe is held: atomics only */
        atomic_store(&aof_st.rewrite_scheduled, true);
        atomic_store(&aof_st.rewrite_failures, 0);
        log_wake_readers();
        return 1;
    }
    pthread_mutex_lock(&aof_mu);
    int rc;
    if (aw.rw) {
        *err = "ERR Background append only file rewriting already in progress";
        rc = -1;
    } else if (snapshot_running()) {
        atomic_store(&aof_st.rewrite_scheduled, true);
        atomic_store(&aof_st.rewrite_failures, 0);
        rc = 1;
    } else {
        rc = aof_rewrite_start_locked(err);
        if (rc < 0) *err = "ERR Can't execute an AOF background rewriting. Please check the server logs for more "
                           "information.";
    }
    pthread_mutex_unlock(&aof_mu);
    log_wake_readers(); /* the writer has a cut to reach */
    return rc;
}

int aof_debug_load(void) {
    pthread_mutex_lock(&aof_mu);
    if (aw.state == AOF_ON) {
        while (aof_drain_locked(BATCH) > 0) {
        }
        aof_flush_locked(true);
    }
    /* Redis reads the manifest from disk again (aofLoadManifestFromDisk). */
    int rc = aof_load_manifest();
    if (rc == 0) aof_del_history_locked();
    /* Loading runs outside aof_mu: the writer keeps taking other clients'
     * writes meanwhile (its files are read up to their current size). */
    struct aof_manifest am;
    aof_manifest_dup(&am, &aw.am);
    pthread_mutex_unlock(&aof_mu);
    if (rc != 0) {
        aof_manifest_free(&am);
        return -1;
    }
    store_flush(-1, false);
    int lrc = aof_load_files(&am, false);
    aof_manifest_free(&am);
    if (lrc != AOF_LOAD_OK && lrc != AOF_LOAD_EMPTY && lrc != AOF_LOAD_NOT_EXIST && lrc != AOF_LOAD_TRUNCATED)
        return -1;
    persist_reset_dirty();
    log_warn("Append Only File loaded by DEBUG LOADAOF");
    return 0;
}

void aof_kill_rewrite(void) {
    if (!aof_rewrite_running()) return;
    pthread_mutex_lock(&aof_mu);
    if (aw.rw) {
        log_warn("There is a child rewriting the AOF. Killing it!");
        aof_rewrite_kill_locked();
    }
    pthread_mutex_unlock(&aof_mu);
}

bool aof_write_refused(char *buf, size_t cap) {
    if (atomic_load_explicit(&aof_st.state, memory_order_relaxed) == AOF_OFF) return false;
    int e;
    if (!atomic_load_explicit(&aof_st.last_write_ok, memory_order_relaxed))
        e = atomic_load(&aof_st.last_write_errno);
    else if (!atomic_load_explicit(&aof_st.bio_fsync_ok, memory_order_relaxed))
        e = atomic_load(&aof_st.bio_fsync_errno);
    else
        return false;
    if (buf) snprintf(buf, cap, "MISCONF Errors writing to the AOF file: %s", strerror(e));
    return true;
}

/* ---- INFO -------------------------------------------------------------------------------------- */

void aof_info(struct buf *o) {
    long long start = atomic_load(&aof_st.rewrite_time_start);
    bool running = atomic_load(&aof_st.rewrite_running);
    buf_printf(o, "aof_enabled:%d\r\naof_rewrite_in_progress:%d\r\naof_rewrite_scheduled:%d\r\n",
               atomic_load(&aof_st.state) != AOF_OFF, running, atomic_load(&aof_st.rewrite_scheduled));
    buf_printf(o, "aof_last_rewrite_time_sec:%lld\r\naof_current_rewrite_time_sec:%lld\r\n",
               atomic_load(&aof_st.rewrite_time_last), running && start >= 0 ? aof_now_s() - start : -1LL);
    buf_printf(o, "aof_last_bgrewrite_status:%s\r\naof_rewrites:%lld\r\naof_rewrites_consecutive_failures:%lld\r\n",
               atomic_load(&aof_st.last_rewrite_ok) ? "ok" : "err", atomic_load(&aof_st.rewrites),
               atomic_load(&aof_st.rewrite_failures));
    buf_printf(o, "aof_last_write_status:%s\r\naof_last_cow_size:0\r\n",
               atomic_load(&aof_st.last_write_ok) && atomic_load(&aof_st.bio_fsync_ok) ? "ok" : "err");
}

void aof_info_enabled(struct buf *o) {
    if (!atomic_load(&aof_cfg.enabled)) return;
    buf_printf(o, "aof_current_size:%lld\r\naof_base_size:%lld\r\naof_pending_rewrite:%d\r\n",
               atomic_load(&aof_st.current_size), atomic_load(&aof_st.base_size),
               atomic_load(&aof_st.rewrite_scheduled));
    buf_printf(o, "aof_buffer_length:%lld\r\naof_pending_bio_fsync:%lld\r\naof_delayed_fsync:%lld\r\n",
               atomic_load(&aof_st.buffer_len), atomic_load(&aof_st.pending_bio),
               atomic_load(&aof_st.delayed_fsync));
}

/*
 * persist/persist.c - SAVE/BGSAVE on files, save points, start-up loading,
 * shutdown and FLUSHALL saves, DEBUG RELOAD, INFO persistence, DUMP and
 * RESTORE payloads (see persist.h; the snapshot engine is snapshot.c).
 *
 * Background save life cycle
 *
 *   BGSAVE / save point / scheduled     [worker or main thread, job mutex]
 *     -> open temp-<pid>.rdb, snapshot_start (the cut happens here)
 *   snapshot thread                     [no locks but one stripe at a time]
 *     -> writes, fsyncs, closes; bg_done(): rename over dbfilename, fsync
 *        the directory, record the outcome (lastsave, status, dirty), log
 *   persist_cron                        [main thread]
 *     -> joins the finished thread; starts scheduled saves and save points
 *
 * State: `job` (mutex) owns the running snapshot handle and the "a save is
 *   in flight" flag; the outcome numbers are atomics read by INFO from any
 *   worker.
 *
 * Loading a file: rdb_reader_fd opens it through persist/source.h, so an
 *   encrypted file is authenticated whole before the first key is parsed;
 *   when that fails, the reason is logged and nothing is loaded.
 */
#include "persist/persist.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "config/config.h"
#include "persist/crypt.h"
#include "persist/aof.h"
#include "persist/rdb.h"
#include "persist/snapshot.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BGSAVE_RETRY_DELAY_S 5
#define MAX_SAVE_POINTS 16

/* ---- options ---------------------------------------------------------------------------------- */

struct save_point {
    long long seconds, changes;
};

static pthread_mutex_t opt_mu = PTHREAD_MUTEX_INITIALIZER; /* save points, dbfilename */
static struct save_point points[MAX_SAVE_POINTS];
static int npoints;
static _Atomic int npoints_pub; /* npoints, for lock-free readers */
static char dbfilename[256] = "dump.rdb";
static _Atomic bool opt_compress = true, opt_checksum = true, opt_stop_writes = true, opt_del_sync = false;
static _Atomic long long opt_key_save_delay, opt_key_load_delay;
static bool started; /* set after start-up: "save" lines then replace, not append */

static long long (*dirty_fn)(void);
static struct persist_functions funcs; /* the scripting engine's hooks, set at setup */
/* Replication's AUX fields in every snapshot, and what it reads back. */
static void (*repl_aux)(struct buf *b, uint64_t cut_pos, void *arg);
static void (*repl_aux_loaded)(const char *key, const char *val);
static long long dirty_now(void) { return dirty_fn ? dirty_fn() : 0; }

static int save_set(int argc, char **argv, bool check_only, char *err) {
    if (argc == 1 && argv[0][0] == '\0') argc = 0;
    if (argc % 2 != 0 || argc / 2 > MAX_SAVE_POINTS) {
        snprintf(err, CFG_ERR_MAX, "Invalid save parameters");
        return -1;
    }
    struct save_point p[MAX_SAVE_POINTS];
    for (int i = 0; i < argc; i++) {
        long long v;
        if (!str_to_ll(argv[i], strlen(argv[i]), &v) || (i % 2 == 0 && v < 1) || (i % 2 == 1 && v < 0)) {
            snprintf(err, CFG_ERR_MAX, "Invalid save parameters");
            return -1;
        }
        if (i % 2 == 0)
            p[i / 2].seconds = v;
        else
            p[i / 2].changes = v;
    }
    if (check_only) return 0;
    pthread_mutex_lock(&opt_mu);
    /* In the config file and on the command line, several "save" lines add
     * up (the first one replaces the default, which the registry applies
     * first); CONFIG SET replaces. */
    static int startup_calls;
    if (started || startup_calls++ < 2 || argc == 0) npoints = 0;
    for (int i = 0; i < argc / 2 && npoints < MAX_SAVE_POINTS; i++) points[npoints++] = p[i];
    atomic_store(&npoints_pub, npoints);
    pthread_mutex_unlock(&opt_mu);
    return 0;
}

static void save_get(struct buf *out) {
    pthread_mutex_lock(&opt_mu);
    for (int i = 0; i < npoints; i++) buf_printf(out, "%s%lld %lld", i ? " " : "", points[i].seconds, points[i].changes);
    pthread_mutex_unlock(&opt_mu);
}

static int apply_dbfilename(const char *s, char *err) {
    if (strchr(s, '/') != NULL) {
        snprintf(err, CFG_ERR_MAX, "dbfilename can't be a path, just a filename");
        return -1;
    }
    pthread_mutex_lock(&opt_mu);
    snprintf(dbfilename, sizeof(dbfilename), "%s", s);
    pthread_mutex_unlock(&opt_mu);
    return 0;
}

#define BOOL_APPLY(name, var)                                                                          \
    static int name(long long v, char *err) {                                                        \
        atomic_store(&var, v != 0);                                                                  \
        return 0;                                                                                    \
    }
BOOL_APPLY(apply_compress, opt_compress)
BOOL_APPLY(apply_checksum, opt_checksum)
BOOL_APPLY(apply_stop_writes, opt_stop_writes)
BOOL_APPLY(apply_del_sync, opt_del_sync)

static int apply_key_save_delay(long long v, char *err) {
    atomic_store(&opt_key_save_delay, v);
    return 0;
}
static int apply_key_load_delay(long long v, char *err) {
    atomic_store(&opt_key_load_delay, v);
    return 0;
}
static int apply_nothing(long long v, char *err) { return 0; }

/* encryption-key-file: "" turns encryption off for new files; a path is
 * read and checked now (a bad file leaves the old key in place). */
static _Atomic bool key_set;
static int apply_key_file(const char *path, char *err) {
    if (path[0] == '\0') {
        if (key_set) log_notice("Encryption at rest is off: new persistence files are written in the clear");
        crypt_ring_set(NULL);
        key_set = false;
        return 0;
    }
    struct crypt_key k;
    char why[CFG_ERR_MAX];
    if (crypt_key_load_file(path, &k, why, sizeof(why)) != 0) {
        snprintf(err, CFG_ERR_MAX, "%s", why);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_warn("encryption-key-file %s can be read by other users than its owner (mode %03o)", path,
                 (unsigned)(st.st_mode & 0777));
    char id[2 * CRYPT_ID_BYTES + 1];
    crypt_id_hex(k.id, id);
    crypt_ring_set(&k);
    crypt_key_wipe(&k);
    key_set = true;
    log_notice("Encryption at rest is on: persistence files are written with key id %s", id);
    return 0;
}

static const struct config_enum sanitize_names[] = {{"no", 0}, {"yes", 1}, {"clients", 2}, {NULL, 0}};

static struct config_option options[] = {
    {"save", NULL, CFG_SPECIAL, CFG_F_MULTI_ARG, "3600 1 300 100 60 10000", 0, 0, NULL, NULL, NULL, save_set, save_get, 0,
     NULL},
    {"dbfilename", NULL, CFG_STRING, 0, "dump.rdb", 0, 0, NULL, NULL, apply_dbfilename, NULL, NULL, 0, NULL},
    {"rdbcompression", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_compress, NULL, NULL, NULL, 0, NULL},
    {"rdbchecksum", NULL, CFG_BOOL, CFG_F_IMMUTABLE, "yes", 0, 0, NULL, apply_checksum, NULL, NULL, NULL, 0, NULL},
    {"rdb-del-sync-files", NULL, CFG_BOOL, 0, "no", 0, 0, NULL, apply_del_sync, NULL, NULL, NULL, 0, NULL},
    {"stop-writes-on-bgsave-error", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_stop_writes, NULL, NULL, NULL, 0,
     NULL},
    {"rdb-key-save-delay", NULL, CFG_INT, CFG_F_HIDDEN, "0", INT_MIN, INT_MAX, NULL, apply_key_save_delay, NULL, NULL,
     NULL, 0, NULL},
    {"key-load-delay", NULL, CFG_INT, CFG_F_HIDDEN, "0", INT_MIN, INT_MAX, NULL, apply_key_load_delay, NULL, NULL,
     NULL, 0, NULL},
    {"rdb-save-incremental-fsync", NULL, CFG_BOOL, 0, "yes", 0, 0, NULL, apply_nothing, NULL, NULL, NULL, 0, NULL},
    {"sanitize-dump-payload", NULL, CFG_ENUM, 0, "no", 0, 0, sanitize_names, apply_nothing, NULL, NULL, NULL, 0, NULL},
    {"encryption-key-file", NULL, CFG_STRING, 0, "", 0, 0, NULL, NULL, apply_key_file, NULL, NULL, 0, NULL},
    CFG_END,
};

static void current_filename(char *out, size_t cap) {
    pthread_mutex_lock(&opt_mu);
    snprintf(out, cap, "%s", dbfilename);
    pthread_mutex_unlock(&opt_mu);
}

bool persist_has_save_points(void) { return atomic_load_explicit(&npoints_pub, memory_order_relaxed) > 0; }

/* ---- outcome (INFO) ------------------------------------------------------------------------------ */

static _Atomic long long lastsave_s;       /* last successful save (start-up before any) */
static _Atomic long long dirty_saved;      /* change counter as of the last successful save */
static _Atomic bool last_bg_ok = true;     /* rdb_last_bgsave_status */
static _Atomic long long last_bg_time_s = -1;
static _Atomic long long last_try_s;       /* last background save attempt */
static _Atomic long long rdb_saves;
static _Atomic long long bg_start_ms;      /* running background save, else 0 */
static _Atomic long long load_keys_loaded, load_keys_expired;
static _Atomic bool loading;
static _Atomic long long loading_start_s, loading_total, loading_loaded;

/* ---- the job ----------------------------------------------------------------------------------- */

/* job_mu is never taken by a thread holding a stripe (it is held across a
 * cut, which takes every stripe): whatever may run under stripe locks
 * (EXEC, scripts: BGSAVE, INFO, FLUSHALL) uses the atomics below. */
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *bg;          /* running or finished, not yet joined */
static _Atomic bool bg_finished;     /* set by the snapshot thread */
static _Atomic bool bg_active;       /* bg != NULL and not finished */
static _Atomic bool bg_cancel;       /* stop the running background save */
static _Atomic bool flush_killed;    /* FLUSHALL cancelled it (logged later) */
static _Atomic uint64_t keys_done, keys_total;
static bool sync_running;            /* a SAVE is in flight */
static _Atomic bool bg_scheduled;    /* BGSAVE SCHEDULE / inside EXEC */
static char bg_target[256];

static void temp_name(char *out, size_t cap) { snprintf(out, cap, "temp-%d.rdb", (int)getpid()); }

static void fsync_dir(void) {
    int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    if (fsync(fd) != 0) log_warn("Failed to fsync the directory of the RDB file: %s", strerror(errno));
    close(fd);
}

static void snapshot_opts_now(struct snapshot_opts *o) {
    persist_snapshot_opts(o);
    o->keys_done = &keys_done;
    o->keys_total = &keys_total;
}

void persist_snapshot_opts(struct snapshot_opts *o) {
    memset(o, 0, sizeof(*o));
    o->compress = atomic_load(&opt_compress);
    o->checksum = atomic_load(&opt_checksum);
    o->key_save_delay_us = atomic_load(&opt_key_save_delay);
    o->key_save_delay_live = &opt_key_save_delay;
    o->aux = repl_aux;
}

void persist_set_repl_hooks(void (*aux)(struct buf *b, uint64_t cut_pos, void *arg),
                            void (*loaded)(const char *key, const char *val)) {
    repl_aux = aux;
    repl_aux_loaded = loaded;
}

void persist_snapshot_defaults(struct snapshot_opts *o) { snapshot_opts_now(o); }

/* Rename the finished temp file over target and record the outcome. */
static int finish_file(const struct snapshot_result *res, const char *target, bool background) {
    char tmp[64], cwd[4096];
    temp_name(tmp, sizeof(tmp));
    int rc = res->rc;
    if (res->skipped)
        log_warn("%llu keys were not saved: their type has no RDB serializer in this build",
                 (unsigned long long)res->skipped);
    if (rc == 0 && rename(tmp, target) != 0) {
        log_warn("Error moving temp DB file %s on the final destination %s (in server root dir %s): %s", tmp, target,
                 getcwd(cwd, sizeof(cwd)) ? cwd : "unknown", strerror(errno));
        rc = ERR_IO;
    } else if (rc == 0) {
        fsync_dir();
    } else if (rc == ERR_AGAIN) {
        log_notice("Background saving %s", "cancelled");
    } else {
        log_warn("Write error saving DB on disk: %s", strerror(res->err ? res->err : EIO));
    }
    if (rc != 0) unlink(tmp);
    if (rc == 0) {
        atomic_store(&lastsave_s, res->end_ms / 1000);
        atomic_store(&dirty_saved, res->dirty_at_cut);
        log_notice(background ? "Background saving terminated with success" : "DB saved on disk");
    }
    /* As Redis: any successful save clears a failed status; only a failed
     * background save sets it (and so MISCONF). */
    if (rc == 0)
        atomic_store(&last_bg_ok, true);
    else if (background && rc != ERR_AGAIN)
        atomic_store(&last_bg_ok, false);
    if (background) atomic_store(&last_bg_time_s, (res->end_ms - res->start_ms + 500) / 1000);
    return rc;
}

static void bg_done(const struct snapshot_result *res, void *arg) {
    if (res->rc != 0 && res->rc != ERR_AGAIN) log_warn("Background saving error");
    finish_file(res, bg_target, true);
    atomic_store(&bg_start_ms, 0);
    atomic_store(&bg_active, false);
    atomic_store(&bg_finished, true);
}

/* Join a finished background save. [job_mu held] */
static void reap_locked(void) {
    if (bg && atomic_load(&bg_finished)) {
        snapshot_wait(&bg);
        atomic_store(&bg_finished, false);
    }
}

/* Open the temp file; ERR_IO when it cannot be created (logged). */
static int open_temp(struct persist_sink **sink) {
    char tmp[64], cwd[4096];
    temp_name(tmp, sizeof(tmp));
    if (sink_file_open(tmp, sink) != 0) {
        int e = errno;
        log_warn("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s", tmp,
                 getcwd(cwd, sizeof(cwd)) ? cwd : "unknown", strerror(e));
        return ERR_IO;
    }
    return 0;
}

/* Start a background save. [job_mu held] */
static int bg_start_locked(void) {
    reap_locked();
    if (bg || sync_running) return ERR_AGAIN;
    atomic_store(&last_try_s, time_ms() / 1000);
    atomic_fetch_add(&rdb_saves, 1);
    struct persist_sink *sink;
    if (open_temp(&sink) != 0) {
        atomic_store(&last_bg_ok, false);
        return ERR_IO;
    }
    current_filename(bg_target, sizeof(bg_target));
    struct snapshot_opts o;
    snapshot_opts_now(&o);
    o.cancel = &bg_cancel;
    atomic_store(&bg_cancel, false);
    atomic_store(&bg_start_ms, time_ms());
    atomic_store(&bg_finished, false);
    atomic_store(&bg_active, true);
    if (snapshot_start(sink, &o, bg_done, NULL, &bg) != 0) {
        char tmp[64];
        sink_close(sink);
        temp_name(tmp, sizeof(tmp));
        unlink(tmp);
        atomic_store(&bg_start_ms, 0);
        atomic_store(&bg_active, false);
        return ERR_AGAIN;
    }
    atomic_store(&bg_scheduled, false);
    log_notice("Background saving started");
    return 0;
}

int persist_bgsave(bool schedule, bool in_exec) {
    if (in_exec) { /* every stripe is held: no job mutex (see job_mu) */
        if (atomic_load(&bg_active)) return ERR_AGAIN;
        atomic_store(&bg_scheduled, true);
        return 1;
    }
    pthread_mutex_lock(&job_mu);
    reap_locked();
    int rc;
    if (bg || sync_running) {
        rc = ERR_AGAIN;
    } else if (aof_rewrite_running()) {
        /* One snapshot at a time: the AOF rewrite has it (Redis: a child
         * of another kind is active). */
        if (schedule) atomic_store(&bg_scheduled, true);
        rc = schedule ? 1 : ERR_EXISTS;
    } else {
        rc = bg_start_locked();
        if (rc == ERR_AGAIN && aof_rewrite_running()) { /* it started meanwhile */
            if (schedule) atomic_store(&bg_scheduled, true);
            rc = schedule ? 1 : ERR_EXISTS;
        }
    }
    pthread_mutex_unlock(&job_mu);
    return rc;
}

bool persist_bgsave_running(void) { return atomic_load(&bg_active); }

/* Wait until no background save runs (it was cancelled or finishes). */
static void wait_bg(void) {
    for (;;) {
        pthread_mutex_lock(&job_mu);
        if (bg && atomic_load(&bg_finished)) reap_locked();
        bool busy = bg != NULL;
        pthread_mutex_unlock(&job_mu);
        if (!busy) return;
        usleep(1000);
    }
}

static int save_sync(const char *target) {
    pthread_mutex_lock(&job_mu);
    reap_locked();
    if (bg || sync_running) {
        pthread_mutex_unlock(&job_mu);
        return ERR_AGAIN;
    }
    sync_running = true;
    pthread_mutex_unlock(&job_mu);
    atomic_fetch_add(&rdb_saves, 1);
    struct persist_sink *sink;
    int rc = open_temp(&sink);
    if (rc == 0) {
        struct snapshot_opts o;
        snapshot_opts_now(&o);
        o.key_save_delay_us = 0; /* the delay is for background saves in tests */
        o.key_save_delay_live = NULL;
        struct snapshot_result res = {0};
        rc = snapshot_run(sink, &o, &res);
        /* An AOF rewrite has the snapshot (one at a time): wait for it,
         * as a SAVE waits for the disk anyway. */
        for (int tries = 0; rc == ERR_AGAIN && res.start_ms == 0 && aof_rewrite_running() && tries < 100000;
             tries++) {
            usleep(1000);
            if (!snapshot_running()) rc = snapshot_run(sink, &o, &res);
        }
        if (rc == ERR_AGAIN && res.start_ms == 0) { /* another view is open: nothing written */
            char tmp[64];
            sink_close(sink);
            temp_name(tmp, sizeof(tmp));
            unlink(tmp);
        } else {
            rc = finish_file(&res, target, false);
        }
    }
    pthread_mutex_lock(&job_mu);
    sync_running = false;
    pthread_mutex_unlock(&job_mu);
    return rc;
}

int persist_save(void) {
    char target[256];
    current_filename(target, sizeof(target));
    return save_sync(target);
}

long long persist_lastsave(void) { return atomic_load(&lastsave_s); }

static bool rdb_refused(void) {
    return !atomic_load_explicit(&last_bg_ok, memory_order_relaxed) &&
           atomic_load_explicit(&opt_stop_writes, memory_order_relaxed) && persist_has_save_points();
}

bool persist_writes_refused(void) { return rdb_refused() || aof_write_refused(NULL, 0); }

const char *persist_refusal(char *buf, size_t cap) {
    if (rdb_refused()) return PERSIST_ERR_MISCONF;
    if (aof_write_refused(buf, cap)) return buf;
    return NULL;
}

void persist_cron(void) {
    pthread_mutex_lock(&job_mu);
    reap_locked();
    if (bg == NULL && !sync_running && !aof_rewrite_running()) {
        if (atomic_load(&bg_scheduled)) {
            bg_start_locked();
        } else {
            long long now = time_ms() / 1000, changes = dirty_now() - atomic_load(&dirty_saved);
            pthread_mutex_lock(&opt_mu);
            struct save_point hit = {0, 0};
            for (int i = 0; i < npoints; i++) {
                if (changes >= points[i].changes && now - atomic_load(&lastsave_s) > points[i].seconds &&
                    (now - atomic_load(&last_try_s) > BGSAVE_RETRY_DELAY_S || atomic_load(&last_bg_ok))) {
                    hit = points[i];
                    break;
                }
            }
            pthread_mutex_unlock(&opt_mu);
            if (hit.seconds) {
                log_notice("%lld changes in %lld seconds. Saving...", hit.changes, hit.seconds);
                bg_start_locked();
            }
        }
    }
    pthread_mutex_unlock(&job_mu);
}

static void cancel_bg(bool wait) {
    atomic_store(&bg_cancel, true);
    atomic_store(&bg_scheduled, false);
    if (wait) wait_bg();
}

int persist_shutdown(bool save, bool nosave) {
    bool any = persist_has_save_points();
    if (atomic_load(&bg_active)) log_warn("There is a child saving an .rdb. Killing it!");
    cancel_bg(true);
    aof_kill_rewrite(); /* "There is a child rewriting the AOF. Killing it!" */
    if (nosave || (!save && !any)) return 0;
    log_notice("Saving the final RDB snapshot before exiting.");
    if (persist_save() != 0) {
        log_warn("Error trying to save the DB, can't exit.");
        return -1;
    }
    return 0;
}

void persist_teardown(void) { cancel_bg(true); }

/* ---- FLUSHALL -------------------------------------------------------------------------------------- */

static __thread bool save_after;

void persist_flushall(void) {
    /* Under every stripe lock: atomics only (no job mutex, no log write). */
    if (atomic_load(&bg_active)) {
        atomic_store(&bg_cancel, true);
        atomic_store(&flush_killed, true);
    }
    save_after = true;
}

void persist_after(void) {
    aof_after(); /* appendonly changed by CONFIG SET: act now, unlocked */
    if (LIKELY(!save_after)) return;
    save_after = false;
    if (atomic_exchange(&flush_killed, false)) log_notice("Background saving killed by FLUSHALL");
    if (!persist_has_save_points()) return;
    wait_bg();
    persist_save();
}

/* ---- loading ------------------------------------------------------------------------------------------ */

struct load_ctx {
    int64_t now;
    bool drop_expired;
    bool replace;
    uint64_t loaded, expired;
    int ndbs;
    bool startup;
    void (*aux)(void *arg, const char *k, const char *v);
    void *aux_arg;
};

struct insert_step {
    int db;
    struct store_key k;
    struct entry *e;
    long long idle;
    int freq;
    bool replace, dup;
};

static void insert_locked(void *arg) {
    struct insert_step *s = arg;
    struct store_ref ref;
    if (store_peek(s->db, &s->k, &ref)) {
        if (!s->replace) {
            s->dup = true;
            return;
        }
        store_delete(&ref);
    }
    store_add(s->db, &s->k, s->e, NULL);
    store_set_access(s->e, s->idle, s->freq);
}

static bool load_key(void *arg, int db, struct entry *e, long long idle, int freq) {
    struct load_ctx *c = arg;
    if (c->drop_expired && entry_has_expire(e) && entry_expire(e) < c->now) {
        entry_free(e);
        c->expired++;
        return true;
    }
    size_t klen;
    const char *key = entry_key(e, &klen);
    struct insert_step s = {db, {0}, e, idle, freq, c->replace, false};
    store_key_init(&s.k, key, klen);
    store_run_slot(s.k.slot, STORE_WRITE, insert_locked, &s);
    if (s.dup) {
        log_warn("RDB has duplicated key '%.*s' in DB %d", (int)MIN(klen, (size_t)128), key, db);
        entry_free(e);
        return false;
    }
    c->loaded++;
    if ((c->loaded & 0xFFFF) == 0) atomic_store(&load_keys_loaded, (long long)c->loaded);
    long long delay = atomic_load_explicit(&opt_key_load_delay, memory_order_relaxed);
    if (delay > 0) usleep((useconds_t)delay); /* key-load-delay: slow loading down (tests) */
    return true;
}

static bool load_select(void *arg, uint64_t db) {
    struct load_ctx *c = arg;
    return db < (uint64_t)c->ndbs;
}

static void load_aux(void *arg, const char *k, const char *v) {
    struct load_ctx *c = arg;
    if (c->aux) c->aux(c->aux_arg, k, v);
    if (strncasecmp(k, "repl-", 5) == 0) {
        if (repl_aux_loaded && c->startup) repl_aux_loaded(k, v);
    } else if (k[0] == '%') {
        log_notice("RDB '%s': %s", k, v);
    } else if (strcasecmp(k, "redis-ver") == 0) {
        log_notice("Loading RDB produced by version %s", v);
    } else if (strcasecmp(k, "ctime") == 0) {
        long long age = time_ms() / 1000 - strtoll(v, NULL, 10);
        log_notice("RDB age %lld seconds", age < 0 ? 0 : age);
    } else if (strcasecmp(k, "used-mem") == 0) {
        log_notice("RDB memory usage when created %.2f Mb", (double)strtoll(v, NULL, 10) / (1024 * 1024));
    } else if (strcasecmp(k, "aof-base") == 0) {
        if (strtoll(v, NULL, 10)) log_notice("RDB is base AOF");
    }
}

int persist_load_rdb(struct rdb_reader *r, bool replace) {
    struct load_ctx c = {time_ms(), true, replace, 0, 0, store_databases(), false, NULL, NULL};
    struct rdb_load_hooks h = {load_key, load_select, load_aux};
    struct rdb_load_stats st;
    int rc = rdb_load_stream(r, &h, &c, atomic_load(&opt_checksum), &st);
    atomic_store(&load_keys_loaded, (long long)c.loaded);
    atomic_store(&load_keys_expired, (long long)c.expired);
    if (rc == 0)
        log_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.", (unsigned long long)c.loaded,
                   (unsigned long long)c.expired);
    return rc;
}

void persist_loading_begin(uint64_t total_bytes) {
    atomic_store(&loading_start_s, time_ms() / 1000);
    atomic_store(&loading_total, (long long)total_bytes);
    atomic_store(&loading_loaded, 0);
    atomic_store(&loading, true);
}

void persist_loading_progress(uint64_t loaded_bytes) { atomic_store(&loading_loaded, (long long)loaded_bytes); }

void persist_loading_end(void) { atomic_store(&loading, false); }

bool persist_loading(void) { return atomic_load_explicit(&loading, memory_order_relaxed); }

void persist_reset_dirty(void) { atomic_store(&dirty_saved, dirty_now()); }

static bool started_loading; /* the first load is start-up's */

/* Load path into the keyspace. 0, ENOENT-like ERR_NOTFOUND, or ERR_PROTO/ERR_IO (logged). */
static int load_file(const char *path, bool replace) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    struct stat sb;
    uint64_t size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    struct rdb_reader r;
    rdb_reader_fd(&r, fd, size);
    r.allow_dup = replace;
    if (r.open_failed) { /* nothing was read: an encrypted file that can't be */
        log_warn("Can't load %s: %s", path, r.err);
        rdb_reader_free(&r);
        close(fd);
        return ERR_PROTO;
    }
    if (r.encrypted)
        log_notice("Loading %s (encrypted, authenticated)", path);
    else if (key_set)
        log_notice("%s is not encrypted: the next save writes it encrypted", path);
    struct load_ctx c = {time_ms(), true, replace, 0, 0, store_databases(), !started_loading, NULL, NULL};
    started_loading = true;
    struct rdb_load_hooks h = {load_key, load_select, load_aux};
    struct rdb_load_stats st;
    atomic_store(&loading_start_s, time_ms() / 1000);
    atomic_store(&loading_total, (long long)size);
    atomic_store(&loading, true);
    int rc = rdb_load_stream(&r, &h, &c, atomic_load(&opt_checksum), &st);
    atomic_store(&loading, false);
    rdb_reader_free(&r);
    close(fd);
    atomic_store(&load_keys_loaded, (long long)c.loaded);
    atomic_store(&load_keys_expired, (long long)c.expired);
    if (rc != 0) {
        log_warn("Short read or OOM loading DB. Unrecoverable error, aborting now.");
        log_warn("Internal error in RDB reading offset %llu: %s", (unsigned long long)r.consumed, r.err);
        return rc;
    }
    if (st.empty_keys)
        log_warn("Done loading RDB, keys loaded: %llu, keys expired: %llu, empty keys skipped: %llu.",
                 (unsigned long long)c.loaded, (unsigned long long)c.expired, (unsigned long long)st.empty_keys);
    else
        log_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.", (unsigned long long)c.loaded,
                   (unsigned long long)c.expired);
    return 0;
}

int persist_load_rdb_sync(struct rdb_reader *r, bool drop_expired,
                          void (*aux)(void *arg, const char *k, const char *v), void *arg) {
    struct load_ctx c = {time_ms(), drop_expired, true, 0, 0, store_databases(), false, aux, arg};
    struct rdb_load_hooks h = {load_key, load_select, load_aux};
    struct rdb_load_stats st;
    atomic_store(&loading_start_s, time_ms() / 1000);
    atomic_store(&loading_total, 0);
    atomic_store(&loading, true);
    int rc = rdb_load_stream(r, &h, &c, atomic_load(&opt_checksum), &st);
    atomic_store(&loading, false);
    atomic_store(&load_keys_loaded, (long long)c.loaded);
    atomic_store(&load_keys_expired, (long long)c.expired);
    if (rc != 0) {
        log_warn("Internal error in RDB reading offset %llu: %s", (unsigned long long)r->consumed, r->err);
        return rc;
    }
    log_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.", (unsigned long long)c.loaded,
               (unsigned long long)c.expired);
    return 0;
}

int persist_load_startup(void) {
    started = true;
    atomic_store(&lastsave_s, time_ms() / 1000);
    /* appendonly yes: the AOF is the dataset, the RDB file is not read
     * (Redis's loadDataFromDisk). */
    int arc = aof_load_startup();
    if (arc < 0) return -1;
    if (arc > 0) {
        atomic_store(&dirty_saved, dirty_now());
        return 0;
    }
    char path[256];
    current_filename(path, sizeof(path));
    int64_t t0 = time_mono_us();
    int rc = load_file(path, false);
    if (rc == ERR_NOTFOUND) return 0;
    if (rc == ERR_IO) {
        log_warn("Fatal error loading the DB: %s. Exiting.", strerror(errno));
        return -1;
    }
    if (rc != 0) return -1;
    log_notice("DB loaded from disk: %.3f seconds", (double)(time_mono_us() - t0) / 1e6);
    atomic_store(&dirty_saved, dirty_now());
    return 0;
}

int persist_debug_reload(bool save, bool flush, bool merge, const char **err) {
    char path[256];
    current_filename(path, sizeof(path));
    wait_bg();
    if (save && save_sync(path) != 0) {
        *err = "ERR Error trying to save the RDB dump, check server logs.";
        return -1;
    }
    if (flush) {
        store_flush(-1, false);
        persist_functions_flush(); /* Redis's emptyData drops the libraries too */
    }
    int rc = load_file(path, merge);
    if (rc != 0) {
        *err = "ERR Error trying to load the RDB dump, check server logs.";
        return -1;
    }
    log_notice("DB reloaded by DEBUG RELOAD");
    return 0;
}

/* ---- INFO ------------------------------------------------------------------------------------------------ */

void persist_info(struct buf *o) {
    bool ld = atomic_load(&loading);
    long long start = atomic_load(&bg_start_ms);
    long long now_ms = time_ms();
    uint64_t done = 0, total = 0;
    if (start) { /* lock-free: INFO may run inside EXEC, holding every stripe */
        done = atomic_load(&keys_done);
        total = atomic_load(&keys_total);
    }
    buf_printf(o, "loading:%d\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n", ld ? 1 : 0);
    buf_printf(o, "current_cow_size_age:0\r\ncurrent_fork_perc:%.2f\r\n",
               start && total ? (double)done * 100.0 / (double)total : 0.0);
    buf_printf(o, "current_save_keys_processed:%llu\r\ncurrent_save_keys_total:%llu\r\n", (unsigned long long)done,
               (unsigned long long)total);
    buf_printf(o, "rdb_changes_since_last_save:%lld\r\n", dirty_now() - atomic_load(&dirty_saved));
    buf_printf(o, "rdb_bgsave_in_progress:%d\r\n", start || snapshot_running() ? 1 : 0); /* a full sync's too */
    buf_printf(o, "rdb_last_save_time:%lld\r\n", atomic_load(&lastsave_s));
    buf_printf(o, "rdb_last_bgsave_status:%s\r\n", atomic_load(&last_bg_ok) ? "ok" : "err");
    buf_printf(o, "rdb_last_bgsave_time_sec:%lld\r\n", atomic_load(&last_bg_time_s));
    buf_printf(o, "rdb_current_bgsave_time_sec:%lld\r\n", start ? (now_ms - start) / 1000 : -1LL);
    buf_printf(o, "rdb_saves:%lld\r\nrdb_last_cow_size:0\r\n", atomic_load(&rdb_saves));
    buf_printf(o, "rdb_last_load_keys_expired:%lld\r\nrdb_last_load_keys_loaded:%lld\r\n",
               atomic_load(&load_keys_expired), atomic_load(&load_keys_loaded));
    aof_info(o);
    buf_printf(o, "module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n");
    aof_info_enabled(o);
    if (ld) {
        long long total_b = atomic_load(&loading_total), loaded_b = atomic_load(&loading_loaded);
        buf_printf(o, "loading_start_time:%lld\r\nloading_total_bytes:%lld\r\nloading_rdb_used_mem:0\r\n",
                   atomic_load(&loading_start_s), total_b);
        buf_printf(o, "loading_loaded_bytes:%lld\r\nloading_loaded_perc:%.2f\r\nloading_eta_seconds:1\r\n", loaded_b,
                   total_b ? (double)loaded_b * 100.0 / (double)total_b : 0.0);
    }
}

/* ---- function libraries ------------------------------------------------------------------------------------ */

static bool compress_now(void) { return atomic_load_explicit(&opt_compress, memory_order_relaxed); }

static void put_library(const char *code, size_t len, void *arg) {
    rdb_put_function(arg, code, len, compress_now());
}

/* Snapshot preamble: one FUNCTION2 record per library. */
static void put_libraries(struct buf *b) {
    if (funcs.foreach) funcs.foreach(put_library, b);
}

/* A FUNCTION2 (or 7.0-rc FUNCTION) record met while loading. */
static bool load_library(struct rdb_reader *r, int opcode, void *ctx) {
    char *code;
    size_t len;
    char err[512];
    if (!rdb_read_function(r, opcode, &code, &len)) return false;
    int rc = funcs.load(code, len, r->allow_dup, err, sizeof(err));
    xfree(code);
    if (rc != 0) return rdb_fail(r, "Failed loading library, %s", err);
    return true;
}

void persist_set_functions(const struct persist_functions *f) {
    bool first = funcs.load == NULL;
    funcs = *f;
    if (!first) return;
    rdb_register_preamble(put_libraries);
    rdb_register_opcode(RDB_OPCODE_FUNCTION2, load_library, NULL);
    rdb_register_opcode(RDB_OPCODE_FUNCTION, load_library, NULL);
}

void persist_functions_flush(void) {
    if (funcs.flush) funcs.flush();
}

void persist_functions_dump(struct buf *out) {
    size_t start = out->len;
    put_libraries(out);
    rdb_payload_footer(out, start);
}

int persist_functions_parse(const void *p, size_t n, persist_lib_fn fn, void *arg, char *err, size_t errcap) {
    int ver = rdb_payload_verify(p, n);
    if (ver < 0) {
        snprintf(err, errcap, "DUMP payload version or checksum are wrong");
        return -1;
    }
    struct rdb_reader r;
    rdb_reader_mem(&r, p, n - 10);
    r.ver = ver;
    while (r.left > 0) {
        int type;
        char *code;
        size_t len;
        if (!rdb_read_byte(&r, &type)) {
            snprintf(err, errcap, "can not read data type");
            return -1;
        }
        if (type != RDB_OPCODE_FUNCTION && type != RDB_OPCODE_FUNCTION2) {
            snprintf(err, errcap, "given type is not a function");
            return -1;
        }
        if (!rdb_read_function(&r, type, &code, &len)) {
            snprintf(err, errcap, type == RDB_OPCODE_FUNCTION2 ? "Failed loading library payload"
                                                                : "Failed loading library blob");
            return -1;
        }
        int rc = fn(code, len, arg, err, errcap);
        xfree(code);
        if (rc != 0) return -1;
    }
    return 0;
}

/* ---- DUMP / RESTORE --------------------------------------------------------------------------------------- */

bool persist_dump(const struct entry *e, struct buf *out) { return rdb_dump_payload(out, e, compress_now()); }

struct entry *persist_restore_entry(const char *key, size_t klen, const unsigned char *p, size_t n, int64_t expire,
                                    const char **err) {
    int ver = rdb_payload_verify(p, n);
    if (ver < 0) {
        *err = "ERR DUMP payload version or checksum are wrong";
        return NULL;
    }
    struct rdb_reader r;
    rdb_reader_mem(&r, p, n - 10);
    r.ver = ver;
    r.deep = true;
    int type;
    bool empty = false;
    struct entry *e = NULL;
    if (rdb_read_byte(&r, &type)) e = rdb_load_value(&r, type, key, klen, expire, &empty);
    if (e && r.left != 0) { /* trailing bytes: not what DUMP makes */
        entry_free(e);
        e = NULL;
    }
    if (e == NULL) *err = "ERR Bad data format";
    return e;
}

size_t persist_value_rdb_len(const struct entry *e) {
    struct buf b = BUF_INIT;
    if (!rdb_put_value(&b, e, atomic_load_explicit(&opt_compress, memory_order_relaxed))) return 0;
    size_t n = b.len - 1; /* the value, without its type byte (rdbSavedObjectLen) */
    buf_free(&b);
    return n;
}

void persist_setup(long long (*dirty)(void)) {
    dirty_fn = dirty;
    struct snapshot_env env = {dirty, NULL};
    snapshot_set_env(&env);
    rdb_setup();
    config_register(options);
    aof_setup();
}

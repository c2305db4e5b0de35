/*
 * persist/aof_rewrite.c - AOF rewrites: starting one, switching INCR files
 * at its cut, installing the new base, scheduled and automatic rewrites,
 * history deletion (design in aof.h; Redis 7.0's aof.c for the sequence
 * of manifest changes and the log messages).
 *
 * One rewrite, step by step (every step under aof_mu):
 *
 *   start   snapshot_start(temp-rewriteaof-bg-<pid>.aof) takes the cut at
 *           log position C. AOF on: a new INCR file is opened and added to
 *           the manifest (saved); AOF being enabled: a temp INCR file
 *           (temp-<appendfilename>.incr); AOF off: nothing more.
 *   switch  the writer reads the records before C into the old file,
 *           writes and fsyncs it, then makes the new file current.
 *   done    (snapshot finished, switch made) the temp file becomes
 *           `<name>.<seq>.base.rdb|aof`, the temp INCR gets its real name,
 *           the older INCR files become history, the manifest is saved,
 *           history files are unlinked in the background.
 *   failed  the temp file goes; a new INCR file stays (several INCR files
 *           after failures, as Redis); a temp INCR goes and the rewrite is
 *           scheduled again.
 *
 * A crash at any step leaves a manifest whose files replay to a dataset
 * no older than what was fsynced: the new INCR file is listed before
 * anything is written to it, and the old one is complete and fsynced
 * before the first record goes to the new one.
 */
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "persist/aof_emit.h"
#include "persist/aof_internal.h"
#include "persist/persist.h"
#include "repl/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REWRITE_LIMIT_THRESHOLD 3
#define REWRITE_LIMIT_MAX_MINUTES 60
#define AUTOSYNC_BYTES (32 * 1024 * 1024) /* aof-rewrite-incremental-fsync */

/* ---- history ------------------------------------------------------------------------------------ */

int aof_del_history_locked(void) {
    if (aw.am.nhist == 0 || atomic_load(&aof_cfg.disable_auto_gc)) return 0;
    for (int i = 0; i < aw.am.nhist; i++) {
        char path[4096];
        log_notice("Removing the history file %s in the background", aw.am.hist[i].name);
        aof_path(path, sizeof(path), aof_cfg.dirname, aw.am.hist[i].name);
        aof_bg_unlink(path);
    }
    aof_manifest_clear_history(&aw.am);
    char mname[300];
    aof_manifest_name(mname, sizeof(mname));
    int rc = aof_manifest_write(&aw.am, aof_cfg.dirname, mname);
    if (rc == 0) aw.am.dirty = false;
    return rc;
}

/* ---- snapshot options ----------------------------------------------------------------------------- */

static void rewrite_opts(struct snapshot_opts *o, bool rdb, struct buf *head) {
    persist_snapshot_defaults(o);
    o->aof_base = true;
    o->aof_format = !rdb;
    if (atomic_load(&aof_cfg.incremental_fsync)) o->autosync_bytes = AUTOSYNC_BYTES;
    if (!rdb) {
        buf_clear(head);
        if (atomic_load(&aof_cfg.timestamps)) aof_put_timestamp(head, aof_now_s());
        aof_libraries_head(head);
        o->aof_head = head;
    }
}

int aof_rewrite_sync(const char *base_path) {
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "temp-rewriteaof-%d.aof", (int)getpid());
    struct persist_sink *sink;
    if (sink_file_open(tmp, &sink) != 0) {
        log_warn("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): %s", strerror(errno));
        return -1;
    }
    struct buf head = BUF_INIT;
    struct snapshot_opts o;
    rewrite_opts(&o, atomic_load(&aof_cfg.use_rdb_preamble), &head);
    o.key_save_delay_us = 0;
    o.key_save_delay_live = NULL;
    struct snapshot_result res = {0};
    int rc = snapshot_run(sink, &o, &res);
    buf_free(&head);
    if (rc == ERR_AGAIN && res.start_ms == 0) sink_close(sink);
    if (rc != 0) {
        log_warn("Write error writing append only file on disk: %s", strerror(res.err ? res.err : EIO));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, base_path) == -1) {
        log_warn("Error moving temp append only file on the final destination: %s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- starting ------------------------------------------------------------------------------------- */

/* Runs on the snapshot's thread: hand the result to the writer. */
static void rewrite_finished(const struct snapshot_result *res, void *arg) {
    aw.rw_res = *res;
    atomic_store_explicit(&aw.rw_finished, true, memory_order_release);
    log_wake_readers();
}

static void temp_incr_name(char *out, size_t cap) { snprintf(out, cap, "temp-%s.incr", aof_cfg.filename); }

/* The file records from the cut on go to (openNewIncrAofForAppend). */
static int open_next_locked(void) {
    char name[512];
    struct aof_manifest tmp;
    bool temp = aw.state == AOF_WAIT_REWRITE;
    if (temp) {
        temp_incr_name(name, sizeof(name));
    } else {
        aof_manifest_dup(&tmp, &aw.am);
        snprintf(name, sizeof(name), "%s", aof_manifest_new_incr(&tmp, aof_cfg.filename));
    }
    struct persist_sink *sink;
    int fd;
    if (aof_open_append(name, true, &sink, &fd) != 0) {
        log_warn("Can't open the append-only file %s: %s", name, strerror(errno));
        if (!temp) aof_manifest_free(&tmp);
        return -1;
    }
    if (!temp) {
        char mname[300];
        aof_manifest_name(mname, sizeof(mname));
        if (aof_manifest_write(&tmp, aof_cfg.dirname, mname) != 0) {
            sink_close(sink);
            close(fd);
            aof_manifest_free(&tmp);
            return -1;
        }
        tmp.dirty = false;
        aof_manifest_move(&aw.am, &tmp);
    }
    log_notice("Creating AOF incr file %s on background rewrite", name);
    aw.next_sink = sink;
    aw.next_fd = fd;
    aw.next_temp = temp;
    snprintf(aw.next_name, sizeof(aw.next_name), "%s", name);
    return 0;
}

static void drop_next_locked(void) {
    if (aw.next_sink) sink_close(aw.next_sink);
    if (aw.next_fd >= 0) close(aw.next_fd);
    aw.next_sink = NULL;
    aw.next_fd = -1;
    if (aw.next_temp) {
        char path[4096];
        aof_path(path, sizeof(path), aof_cfg.dirname, aw.next_name);
        unlink(path);
    }
    aw.next_temp = false;
    aw.next_name[0] = '\0';
    aw.switch_pending = false;
}

int aof_rewrite_start_locked(const char **err) {
    *err = "ERR Background append only file rewriting already in progress";
    if (aw.rw) return -1;
    if (snapshot_running()) {
        atomic_store(&aof_st.rewrite_scheduled, true);
        return 1;
    }
    *err = "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.";
    if ((mkdir(aof_cfg.dirname, 0755) != 0 && errno != EEXIST) || !aof_dir_exists(aof_cfg.dirname)) {
        log_warn("Can't open or create append-only dir %s: %s", aof_cfg.dirname,
                 strerror(errno ? errno : ENOTDIR));
        atomic_store(&aof_st.last_rewrite_ok, false);
        return -1;
    }
    bool rdb = atomic_load(&aof_cfg.use_rdb_preamble);
    snprintf(aw.rw_tmpfile, sizeof(aw.rw_tmpfile), "temp-rewriteaof-bg-%d.aof", (int)getpid());
    struct persist_sink *sink;
    if (sink_file_open(aw.rw_tmpfile, &sink) != 0) {
        log_warn("Can't rewrite append only file in background: %s", strerror(errno));
        atomic_store(&aof_st.last_rewrite_ok, false);
        return -1;
    }
    struct snapshot_opts o;
    rewrite_opts(&o, rdb, &aw.rw_head);
    o.cancel = &aw.rw_cancel;
    atomic_store(&aw.rw_cancel, false);
    atomic_store(&aw.rw_finished, false);
    if (snapshot_start(sink, &o, rewrite_finished, NULL, &aw.rw) != 0) {
        /* A BGSAVE took the snapshot first: run after it. */
        sink_close(sink);
        unlink(aw.rw_tmpfile);
        atomic_store(&aof_st.rewrite_scheduled, true);
        return 1;
    }
    aw.rw_rdb = rdb;
    aw.rw_cut = snapshot_cut(aw.rw);
    if (aw.state != AOF_OFF) {
        if (open_next_locked() != 0) {
            aof_rewrite_kill_locked();
            atomic_store(&aof_st.last_rewrite_ok, false);
            return -1;
        }
        aw.switch_pending = true;
        if (aw.state == AOF_WAIT_REWRITE) aw.accept = false;
    }
    atomic_fetch_add(&aof_st.rewrites, 1);
    atomic_store(&aof_st.rewrite_time_start, aof_now_s());
    atomic_store(&aof_st.rewrite_scheduled, false);
    atomic_store(&aof_st.rewrite_running, true);
    log_notice("Background append only file rewriting started");
    return 0;
}

/* ---- switching files ---------------------------------------------------------------------------- */

void aof_switch_locked(void) {
    if (aw.sink || aw.fd >= 0) {
        /* Finish the old file: everything before the cut, on disk. */
        aof_flush_locked(true);
        if (aw.buf.len > 0) return;
        if (aw.fd >= 0 && fdatasync(aw.fd) == -1) {
            log_warn("Fail to fsync the AOF file: %s", strerror(errno));
            atomic_store(&aof_st.last_write_errno, errno);
            atomic_store(&aof_st.last_write_ok, false);
            return;
        }
        aof_publish_durable(aw.written);
        aof_close_current_locked();
    }
    aw.sink = aw.next_sink;
    aw.fd = aw.next_fd;
    aw.cur_temp = aw.next_temp;
    snprintf(aw.cur_name, sizeof(aw.cur_name), "%s", aw.next_name);
    aw.next_sink = NULL;
    aw.next_fd = -1;
    aw.next_temp = false;
    aw.next_name[0] = '\0';
    aw.switch_pending = false;
    aw.selected_db = -1;
    aw.last_incr_size = 0;
    aw.last_incr_fsync_offset = 0;
    aw.accept = true;
    aw.buf_end = aw.written = aw.rw_cut;
}

/* ---- finishing -------------------------------------------------------------------------------------- */

static long long file_size(const char *name) {
    char path[4096];
    struct stat sb;
    aof_path(path, sizeof(path), aof_cfg.dirname, name);
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Install a successful rewrite (backgroundRewriteDoneHandler). */
static bool install_locked(void) {
    struct aof_manifest tmp;
    aof_manifest_dup(&tmp, &aw.am);
    char base[512], base_path[4096], incr_path[4096] = "";
    snprintf(base, sizeof(base), "%s", aof_manifest_new_base(&tmp, aof_cfg.filename, aw.rw_rdb));
    aof_path(base_path, sizeof(base_path), aof_cfg.dirname, base);
    if (rename(aw.rw_tmpfile, base_path) == -1) {
        log_warn("Error trying to rename the temporary AOF base file %s into %s: %s", aw.rw_tmpfile, base_path,
                 strerror(errno));
        aof_manifest_free(&tmp);
        return false;
    }
    log_notice("Successfully renamed the temporary AOF base file %s into %s", aw.rw_tmpfile, base);
    if (aw.state == AOF_WAIT_REWRITE) {
        char temp_name[512], temp_path[4096];
        temp_incr_name(temp_name, sizeof(temp_name));
        aof_path(temp_path, sizeof(temp_path), aof_cfg.dirname, temp_name);
        const char *incr = aof_manifest_new_incr(&tmp, aof_cfg.filename);
        aof_path(incr_path, sizeof(incr_path), aof_cfg.dirname, incr);
        if (rename(temp_path, incr_path) == -1) {
            log_warn("Error trying to rename the temporary AOF incr file %s into %s: %s", temp_path, incr_path,
                     strerror(errno));
            aof_bg_unlink(base_path);
            aof_manifest_free(&tmp);
            return false;
        }
        log_notice("Successfully renamed the temporary AOF incr file %s into %s", temp_name, incr);
        snprintf(aw.cur_name, sizeof(aw.cur_name), "%s", incr);
        aw.cur_temp = false;
    }
    aof_manifest_incr_to_history(&tmp, aw.state != AOF_OFF);
    char mname[300];
    aof_manifest_name(mname, sizeof(mname));
    if (aof_manifest_write(&tmp, aof_cfg.dirname, mname) != 0) {
        aof_bg_unlink(base_path);
        if (incr_path[0]) aof_bg_unlink(incr_path);
        aof_manifest_free(&tmp);
        return false;
    }
    tmp.dirty = false;
    aof_manifest_move(&aw.am, &tmp);
    if (aw.state != AOF_OFF) {
        aw.current_size = file_size(base) + aw.last_incr_size;
        aw.base_size = aw.current_size;
        atomic_store(&aof_st.current_size, aw.current_size);
        atomic_store(&aof_st.base_size, aw.base_size);
    }
    aof_del_history_locked();
    return true;
}

static void remove_temp_incr_locked(void) {
    char name[512], path[4096];
    temp_incr_name(name, sizeof(name));
    aof_path(path, sizeof(path), aof_cfg.dirname, name);
    if (aw.cur_temp) {
        aof_close_current_locked();
        aw.cur_temp = false;
        aw.cur_name[0] = '\0';
    }
    log_notice("Removing the temp incr aof file %s in the background", name);
    aof_bg_unlink(path);
    buf_free(&aw.buf);
    aw.accept = false;
}

static void rewrite_ended_locked(void) {
    long long start = atomic_load(&aof_st.rewrite_time_start);
    atomic_store(&aof_st.rewrite_time_last, start >= 0 ? aof_now_s() - start : -1);
    atomic_store(&aof_st.rewrite_time_start, -1);
    atomic_store(&aof_st.rewrite_running, false);
    buf_free(&aw.rw_head);
}

void aof_rewrite_done_locked(void) {
    struct snapshot_result res = aw.rw_res;
    snapshot_wait(&aw.rw);
    atomic_store(&aw.rw_finished, false);
    if (res.skipped)
        log_warn("%llu keys were not saved in the AOF base: their type has no serializer in this build",
                 (unsigned long long)res.skipped);
    if (res.rc == 0) {
        log_notice("Background AOF rewrite terminated with success");
        if (install_locked()) {
            atomic_store(&aof_st.last_rewrite_ok, true);
            atomic_store(&aof_st.rewrite_failures, 0);
            log_notice("Background AOF rewrite finished successfully");
            if (aw.state == AOF_WAIT_REWRITE) aof_set_state_locked(AOF_ON);
        } else {
            atomic_store(&aof_st.last_rewrite_ok, false);
            atomic_fetch_add(&aof_st.rewrite_failures, 1);
        }
    } else if (res.rc == ERR_AGAIN) {
        log_warn("Background AOF rewrite terminated by a cancellation");
    } else {
        log_warn("Write error writing append only file on disk: %s", strerror(res.err ? res.err : EIO));
        log_warn("Background AOF rewrite terminated with error");
        atomic_store(&aof_st.last_rewrite_ok, false);
        atomic_fetch_add(&aof_st.rewrite_failures, 1);
    }
    unlink(aw.rw_tmpfile);
    if (aw.state == AOF_WAIT_REWRITE) {
        /* Not on yet: its data since the cut cannot be kept; try again. */
        remove_temp_incr_locked();
        atomic_store(&aof_st.rewrite_scheduled, true);
    }
    rewrite_ended_locked();
}

void aof_rewrite_kill_locked(void) {
    if (aw.rw == NULL) return;
    log_notice("Killing running AOF rewrite child: the snapshot thread of the rewrite");
    atomic_store(&aw.rw_cancel, true);
    snapshot_cancel(aw.rw);
    snapshot_wait(&aw.rw);
    atomic_store(&aw.rw_finished, false);
    unlink(aw.rw_tmpfile);
    /* A new INCR file of an AOF that is on stays: the switch to it is
     * still due at the cut (Redis's writes go there from the fork on). A
     * temp INCR file is dropped with its data. */
    if (aw.next_temp || aw.state == AOF_OFF) drop_next_locked();
    if (aw.cur_temp && aw.state == AOF_WAIT_REWRITE) remove_temp_incr_locked();
    rewrite_ended_locked();
}

/* ---- scheduled and automatic rewrites -------------------------------------------------------------- */

/* aofRewriteLimited: after 3 failures in a row, automatic rewrites wait
 * 1, 2, 4 ... 60 minutes. */
static bool limited(void) {
    if (atomic_load(&aof_st.rewrite_failures) < REWRITE_LIMIT_THRESHOLD) {
        aw.next_delay_min = 0;
        aw.next_rewrite_s = 0;
        return false;
    }
    long long now = aof_now_s();
    if (aw.next_rewrite_s != 0) {
        if (now < aw.next_rewrite_s) return true;
        aw.next_rewrite_s = 0;
        return false;
    }
    aw.next_delay_min = aw.next_delay_min == 0 ? 1 : aw.next_delay_min * 2;
    if (aw.next_delay_min > REWRITE_LIMIT_MAX_MINUTES) aw.next_delay_min = REWRITE_LIMIT_MAX_MINUTES;
    aw.next_rewrite_s = now + aw.next_delay_min * 60;
    log_warn("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in %d minutes",
             aw.next_delay_min);
    return true;
}

void aof_rewrite_cron_locked(void) {
    if (aw.rw || snapshot_running()) return;
    const char *err;
    if (atomic_load(&aof_st.rewrite_scheduled) && !limited()) {
        aof_rewrite_start_locked(&err);
        return;
    }
    long long perc = atomic_load(&aof_cfg.rewrite_perc);
    if (aw.state != AOF_ON || perc == 0 || aw.current_size <= atomic_load(&aof_cfg.rewrite_min_size)) return;
    long long base = aw.base_size ? aw.base_size : 1;
    long long growth = aw.current_size * 100 / base - 100;
    if (growth >= perc && !limited()) {
        log_notice("Starting automatic rewriting of AOF on %lld%% growth", growth);
        aof_rewrite_start_locked(&err);
    }
}

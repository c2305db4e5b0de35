/*
 * persist/aof_load.c - loading a multi-part AOF (Redis 7.0's
 * loadAppendOnlyFiles / loadSingleAppendOnlyFile, with its decisions and
 * its log messages, since operators and Redis's tests read them).
 *
 * A file is an RDB (it starts with "REDIS": a base, or an old file with an
 * RDB preamble followed by commands) or commands. Commands are RESP
 * arrays of bulk strings; lines starting with '#' are annotations
 * (#TS:<unix time>, skipped). Each command goes to the replay hooks (the
 * exec layer's fake client). Bad input never allocates more than the file
 * holds: an argument count or length larger than the bytes left is a
 * truncated file.
 *
 * Outcomes of one file: OK; EMPTY; NOT_EXIST / OPEN_ERR; TRUNCATED (cut
 * at the last complete command, or before an unfinished MULTI, with
 * aof-load-truncated yes); FAILED (a format error, an unknown command, a
 * truncated file with aof-load-truncated no, a broken RDB part). Only the
 * last file of the manifest may be truncated.
 *
 * Thread context: the loading thread (main at start-up, a worker for
 * DEBUG LOADAOF) with no lock held; the manifest given is the caller's.
 */
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "persist/aof_internal.h"
#include "persist/persist.h"
#include "persist/rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024 /* AOF_ANNOTATION_LINE_MAX_LEN */

int aof_load_manifest(void) {
    aof_manifest_free(&aw.am);
    if (!aof_dir_exists(aof_cfg.dirname)) {
        log_debug("The AOF directory %s doesn't exist", aof_cfg.dirname);
        return 0;
    }
    char name[300], path[4096];
    aof_manifest_name(name, sizeof(name));
    aof_path(path, sizeof(path), aof_cfg.dirname, name);
    if (!aof_file_exists(path)) {
        log_debug("The AOF manifest file %s doesn't exist", name);
        return 0;
    }
    char err[512], line[1100];
    int lineno;
    int rc = aof_manifest_load(path, &aw.am, err, sizeof(err), line, sizeof(line), &lineno);
    if (rc == 0) return 0;
    if (rc == ERR_NOTFOUND) return 0;
    if (strncmp(err, "can't open", 10) == 0) {
        log_warn("Fatal error: %s", err);
        return -1;
    }
    log_warn("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
    if (lineno > 0) {
        log_warn("Reading the manifest file, at line %d\n", lineno);
        log_warn(">>> '%s'\n", line);
    }
    log_warn("%s\n", err);
    return -1;
}

/* aofUpgradePrepare: an old `dir`/appendonly.aof becomes the base. */
static int upgrade(struct aof_manifest *am) {
    if (mkdir(aof_cfg.dirname, 0755) != 0 && errno != EEXIST) {
        log_warn("Can't open or create append-only dir %s: %s", aof_cfg.dirname, strerror(errno));
        return -1;
    }
    if (am->has_base) xfree(am->base.name);
    am->base = (struct aof_file){xstrdup(aof_cfg.filename), 1, AOF_TYPE_BASE};
    am->has_base = true;
    am->base_seq = 1;
    am->dirty = true;
    char mname[300], target[4096];
    aof_manifest_name(mname, sizeof(mname));
    if (aof_manifest_write(am, aof_cfg.dirname, mname) != 0) return -1;
    am->dirty = false;
    aof_path(target, sizeof(target), aof_cfg.dirname, aof_cfg.filename);
    if (rename(aof_cfg.filename, target) == -1) {
        log_warn("Error trying to move the old AOF file %s into dir %s: %s", aof_cfg.filename, aof_cfg.dirname,
                 strerror(errno));
        return -1;
    }
    log_notice("Successfully migrated an old-style AOF file (%s) into the AOF directory (%s).", aof_cfg.filename,
               aof_cfg.dirname);
    return 0;
}

/* ---- one file ---------------------------------------------------------------------------------- */

struct cmd_args {
    char **argv;
    size_t *lens;
    int n, cap;
};

static void args_clear(struct cmd_args *a) {
    for (int i = 0; i < a->n; i++) xfree(a->argv[i]);
    a->n = 0;
}

static void args_free(struct cmd_args *a) {
    args_clear(a);
    xfree(a->argv);
    xfree(a->lens);
}

enum read_result { READ_OK, READ_EOF, READ_IOERR, READ_FORMAT };

/* A read that failed: the end of the file (nothing left: a cut command),
 * or an error with bytes left (I/O, a damaged encrypted chunk). */
static enum read_result read_failure(const struct rdb_reader *r) {
    return r->left > 0 ? READ_IOERR : READ_EOF;
}

/* One command into a (the '*' line is in line). */
static enum read_result read_command(struct rdb_reader *r, const char *line, struct cmd_args *a) {
    if (line[1] == '\0') return READ_EOF;
    long argc = atol(line + 1);
    if (argc < 1) return READ_FORMAT;
    /* Each argument takes at least 6 bytes ("$0\r\n\r\n"): more than the
     * file can hold means it is cut short. */
    if ((uint64_t)argc > r->left / 6 + 1) return READ_EOF;
    if (argc > a->cap) {
        a->cap = (int)argc;
        a->argv = xrealloc(a->argv, sizeof(*a->argv) * (size_t)argc);
        a->lens = xrealloc(a->lens, sizeof(*a->lens) * (size_t)argc);
    }
    char buf[LINE_MAX_LEN];
    for (long j = 0; j < argc; j++) {
        if (rdb_read_line(r, buf, sizeof(buf)) == 0) return read_failure(r);
        if (buf[0] != '$') return READ_FORMAT;
        long long len = strtoll(buf + 1, NULL, 10);
        if (len < 0) return READ_FORMAT;
        if ((uint64_t)len > r->left) return READ_EOF;
        char *arg = xmalloc((size_t)len + 1);
        if (!rdb_read_raw(r, arg, (size_t)len)) {
            xfree(arg);
            return read_failure(r);
        }
        arg[len] = '\0';
        a->argv[a->n] = arg;
        a->lens[a->n++] = (size_t)len;
        char crlf[2];
        if (!rdb_read_raw(r, crlf, 2)) return read_failure(r);
    }
    return READ_OK;
}

struct load_file {
    const char *name;
    char path[4096];
    int fd;
    uint64_t size;
    struct rdb_reader r;
    uint64_t progress_base; /* bytes of the files before this one */
};

/* The RDB part of a file that starts with "REDIS". */
static bool load_rdb_part(struct load_file *f) {
    bool old = strcmp(f->name, aof_cfg.filename) == 0;
    log_notice(old ? "Reading RDB preamble from AOF file..." : "Reading RDB base file on AOF loading...");
    if (persist_load_rdb(&f->r, false) != 0) {
        log_warn("Internal error in RDB reading offset %llu: %s", (unsigned long long)f->r.consumed, f->r.err);
        if (old)
            log_warn("Error reading the RDB preamble of the AOF file %s, AOF loading aborted", f->name);
        else
            log_warn("Error reading the RDB base file %s, AOF loading aborted", f->name);
        return false;
    }
    if (old) log_notice("Reading the remaining AOF tail...");
    return true;
}

/* Cut the file at `valid` (aof-load-truncated yes); the status. */
static int truncated(struct load_file *f, uint64_t valid) {
    if (atomic_load(&aof_cfg.load_truncated)) {
        log_warn("!!! Warning: short read while loading the AOF file %s!!!", f->name);
        log_warn("!!! Truncating the AOF %s at offset %llu !!!", f->name, (unsigned long long)valid);
        if (aof_file_truncate(f->path, valid) == -1) {
            log_warn("Error truncating the AOF file %s: %s", f->name, strerror(errno));
        } else {
            log_warn("AOF %s loaded anyway because aof-load-truncated is enabled", f->name);
            return AOF_LOAD_TRUNCATED;
        }
    }
    log_warn("Unexpected end of file reading the append only file %s. You can: 1) Make a backup of your AOF file, "
             "then use ./stash-check-aof --fix <filename.manifest>. 2) Alternatively you can set the "
             "'aof-load-truncated' configuration option to yes and restart the server.",
             f->name);
    return AOF_LOAD_FAILED;
}

static bool is_multi(const struct cmd_args *a) { return a->lens[0] == 5 && strncasecmp(a->argv[0], "multi", 5) == 0; }

/* The command part: every command to the replay hooks. */
static int replay_commands(struct load_file *f, void *ctx) {
    struct cmd_args a = {0};
    char line[LINE_MAX_LEN];
    uint64_t valid = f->r.consumed, before_multi = valid;
    long loops = 0;
    int ret = AOF_LOAD_OK;
    enum read_result rr = READ_OK;
    for (;;) {
        if ((loops++ & 1023) == 0) persist_loading_progress(f->progress_base + f->r.consumed);
        if (rdb_read_line(&f->r, line, sizeof(line)) == 0) {
            if (f->r.failed && f->r.left > 0) rr = READ_IOERR;
            break;
        }
        if (line[0] == '#') continue;
        if (line[0] != '*') {
            rr = READ_FORMAT;
            break;
        }
        rr = read_command(&f->r, line, &a);
        if (rr != READ_OK) break;
        if (is_multi(&a)) before_multi = valid;
        if (aof_replay.command(ctx, a.n, (const char **)a.argv, a.lens) != 0) {
            log_warn("Unknown command '%.*s' reading the append only file %s", (int)MIN(a.lens[0], (size_t)128),
                     a.argv[0], f->name);
            ret = AOF_LOAD_FAILED;
            goto out;
        }
        args_clear(&a);
        valid = f->r.consumed;
    }
    if (rr == READ_OK && aof_replay.in_multi(ctx)) {
        log_warn("Revert incomplete MULTI/EXEC transaction in AOF file %s", f->name);
        ret = truncated(f, before_multi);
    } else if (rr == READ_EOF) {
        /* Cut inside a transaction: before its MULTI (Redis cuts after the
         * last whole command, leaving an open MULTI that would swallow
         * whatever is appended next). */
        ret = truncated(f, aof_replay.in_multi(ctx) ? before_multi : valid);
    } else if (rr == READ_IOERR) {
        log_warn("Unrecoverable error reading the append only file %s: %s", f->name, f->r.err);
        ret = AOF_LOAD_FAILED;
    } else if (rr == READ_FORMAT) {
        log_warn("Bad file format reading the append only file %s: make a backup of your AOF file, then use "
                 "./stash-check-aof --fix <filename.manifest>",
                 f->name);
        ret = AOF_LOAD_FAILED;
    }
out:
    args_free(&a);
    return ret;
}

static int load_one(const char *name, uint64_t progress_base) {
    struct load_file f = {.name = name, .progress_base = progress_base};
    aof_path(f.path, sizeof(f.path), aof_cfg.dirname, name);
    f.fd = open(f.path, O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
        int e = errno;
        struct stat sb;
        if (stat(f.path, &sb) == 0 || errno != ENOENT) {
            log_warn("Fatal error: can't open the append log file %s for reading: %s", name, strerror(e));
            return AOF_LOAD_OPEN_ERR;
        }
        log_warn("The append log file %s doesn't exist: %s", name, strerror(e));
        return AOF_LOAD_NOT_EXIST;
    }
    struct stat sb;
    f.size = fstat(f.fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    if (f.size == 0) {
        close(f.fd);
        return AOF_LOAD_EMPTY;
    }
    /* RDB or commands? Read the signature, then start over. */
    char sig[5];
    aof_reader_open(&f.r, f.fd, f.size);
    bool rdb = f.size >= 5 && rdb_read_raw(&f.r, sig, 5) && memcmp(sig, "REDIS", 5) == 0;
    rdb_reader_free(&f.r);
    lseek(f.fd, 0, SEEK_SET);
    aof_reader_open(&f.r, f.fd, f.size);
    if (f.r.failed) { /* the file cannot be read at all (a damaged container) */
        log_warn("Unrecoverable error reading the append only file %s: %s", name, f.r.err);
        rdb_reader_free(&f.r);
        close(f.fd);
        return AOF_LOAD_FAILED;
    }
    int ret = AOF_LOAD_OK;
    void *ctx = aof_replay.begin();
    if (rdb && !load_rdb_part(&f))
        ret = AOF_LOAD_FAILED;
    else
        ret = replay_commands(&f, ctx);
    aof_replay.end(ctx);
    persist_loading_progress(progress_base + f.r.consumed);
    rdb_reader_free(&f.r);
    close(f.fd);
    return ret;
}

/* ---- the manifest's files ---------------------------------------------------------------------- */

static bool upgrade_needed(const struct aof_manifest *am) {
    if (!aof_file_exists(aof_cfg.filename)) return false;
    if (!aof_dir_exists(aof_cfg.dirname)) return true;
    if (!am->has_base && am->nincr == 0) return true;
    char path[4096];
    aof_path(path, sizeof(path), aof_cfg.dirname, aof_cfg.filename);
    return am->has_base && am->nincr == 0 && strcmp(am->base.name, aof_cfg.filename) == 0 &&
           !aof_file_exists(path);
}

/* Total size of the base and incr files; a missing one fails the load. */
static int total_size(const struct aof_manifest *am, uint64_t *total, uint64_t *base) {
    *total = *base = 0;
    int n = (am->has_base ? 1 : 0) + am->nincr;
    for (int i = 0; i < n; i++) {
        const char *name = (am->has_base && i == 0) ? am->base.name : am->incr[i - (am->has_base ? 1 : 0)].name;
        char path[4096];
        struct stat sb;
        aof_path(path, sizeof(path), aof_cfg.dirname, name);
        if (stat(path, &sb) == -1) {
            log_warn("Unable to obtain the AOF file %s length. stat: %s", name, strerror(errno));
            return errno == ENOENT ? AOF_LOAD_FAILED : AOF_LOAD_OPEN_ERR;
        }
        *total += (uint64_t)sb.st_size;
        if (am->has_base && i == 0) *base = (uint64_t)sb.st_size;
    }
    return AOF_LOAD_OK;
}

/* Load one file of the manifest and judge its outcome (is it the last?). */
static int load_part(const char *name, const char *kind, bool last, uint64_t progress_base) {
    int64_t t0 = time_mono_us();
    int ret = load_one(name, progress_base);
    if (ret == AOF_LOAD_OK || (ret == AOF_LOAD_TRUNCATED && last))
        log_notice("DB loaded from %s file %s: %.3f seconds", kind, name, (double)(time_mono_us() - t0) / 1e6);
    if (ret == AOF_LOAD_TRUNCATED && !last) {
        ret = AOF_LOAD_FAILED;
        log_warn("Fatal error: the truncated file is not the last file");
    }
    return ret;
}

int aof_load_files(struct aof_manifest *am, bool do_upgrade) {
    if (do_upgrade && upgrade_needed(am) && upgrade(am) != 0) return AOF_LOAD_FAILED;
    if (!am->has_base && am->nincr == 0) return AOF_LOAD_NOT_EXIST;
    uint64_t total, base_size;
    int status = total_size(am, &total, &base_size);
    if (status != AOF_LOAD_OK) return status;
    if (total == 0) return AOF_LOAD_EMPTY;
    persist_loading_begin(total);
    int files = (am->has_base ? 1 : 0) + am->nincr, done = 0;
    uint64_t progress = 0;
    int ret = AOF_LOAD_OK;
    if (am->has_base) {
        ret = load_part(am->base.name, "base", ++done == files, progress);
        if (ret == AOF_LOAD_OPEN_ERR || ret == AOF_LOAD_FAILED) goto out;
        progress += base_size;
    }
    for (int i = 0; i < am->nincr; i++) {
        char path[4096];
        struct stat sb;
        aof_path(path, sizeof(path), aof_cfg.dirname, am->incr[i].name);
        uint64_t size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        ret = load_part(am->incr[i].name, "incr", ++done == files, progress);
        /* At least one file has data: an empty INCR file is fine. */
        if (ret == AOF_LOAD_EMPTY) ret = AOF_LOAD_OK;
        if (ret == AOF_LOAD_OPEN_ERR || ret == AOF_LOAD_FAILED) goto out;
        progress += size;
    }
    pthread_mutex_lock(&aof_mu);
    aw.current_size = (long long)total;
    /* Redis does not keep the size of the base with its INCR files at the
     * last rewrite: the base alone is the reference until the next one. */
    aw.base_size = (long long)base_size;
    atomic_store(&aof_st.current_size, aw.current_size);
    atomic_store(&aof_st.base_size, aw.base_size);
    pthread_mutex_unlock(&aof_mu);
out:
    persist_loading_end();
    return ret;
}

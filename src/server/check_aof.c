/*
 * server/check_aof.c - stash-check-aof: check (and fix) an append-only file
 * or a multi-part AOF directory, and cut it back to a point in time.
 *
 *   stash-check-aof [--encryption-key-file <key>] [--fix|--truncate-to-timestamp <unix-time>]
 *                   <file.manifest|file.aof>
 *
 * Checking is redis-check-aof's (Redis 7.0), with its output: the input
 * is a manifest (a line starting with "file"), an RDB-preamble AOF
 * ("REDIS"), or commands; each file of a manifest is checked in order;
 * commands must be well-formed RESP arrays of bulk strings, MULTI/EXEC
 * balanced; the report gives the last good offset and line. --fix cuts the
 * last file at its last good command (after asking).
 *
 * Point-in-time recovery (--truncate-to-timestamp T): the files are read
 * in order and the first "#TS:<t>" annotation with t > T ends the dataset:
 * the file is cut there. Beyond redis-check-aof, which only cuts the last
 * file, a cut inside an earlier INCR file also drops the INCR files after
 * it from the manifest (they stay on disk, unlisted), and a base newer
 * than T (an RDB base's ctime, or a first annotation after T) is refused:
 * that dataset cannot be rebuilt from these files.
 *
 * Files are read through the persist layer's reader (rdb_reader), like the
 * server reads them; files encrypted at rest (persist/crypt.h) need the
 * server's key file (--encryption-key-file), and what --fix or a cut
 * writes is encrypted under it again.
 */
#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "persist/aof_manifest.h"
#include "persist/crypt.h"
#include "persist/persist.h"
#include "persist/rdb.h"
#include "persist/source.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CHECK_OK, CHECK_EMPTY, CHECK_TRUNCATED, CHECK_TS_TRUNCATED };

static char error[1100];
static uint64_t epos;
static long long line = 1;
static long to_timestamp;

static void set_error(const char *fmt, ...) PRINTF_FMT(1, 2);
static void set_error(const char *fmt, ...) {
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    snprintf(error, sizeof(error), "0x%16llx: %s", (unsigned long long)epos, b);
}

struct src {
    int fd;
    struct rdb_reader r;
    uint64_t size;
};

static bool src_open(struct src *s, const char *path, bool rw) {
    s->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (s->fd < 0) return false;
    struct stat sb;
    if (fstat(s->fd, &sb) != 0) {
        close(s->fd);
        return false;
    }
    aof_reader_open(&s->r, s->fd, (uint64_t)sb.st_size);
    if (s->r.open_failed) { /* encrypted under a key not given */
        printf("Cannot read file %s: %s\n", path, s->r.err);
        exit(1);
    }
    /* Content bytes: an encrypted file's plaintext, not its size on disk. */
    s->size = s->r.src ? source_size(s->r.src) : (uint64_t)sb.st_size;
    return true;
}

static void src_close(struct src *s) {
    rdb_reader_free(&s->r);
    close(s->fd);
}

static uint64_t src_pos(const struct src *s) { return s->r.consumed; }

/* ---- RESP --------------------------------------------------------------------------------------- */

static bool consume_newline(const char *p) {
    if (strncmp(p, "\r\n", 2) != 0) {
        set_error("Expected \\r\\n, got: %02x%02x", (unsigned char)p[0], (unsigned char)p[1]);
        return false;
    }
    line++;
    return true;
}

static bool read_long(struct src *s, char prefix, long *target) {
    char buf[128];
    epos = src_pos(s);
    if (rdb_read_line(&s->r, buf, sizeof(buf)) == 0) return false;
    if (buf[0] != prefix) {
        set_error("Expected prefix '%c', got: '%c'", prefix, buf[0]);
        return false;
    }
    char *end;
    *target = strtol(buf + 1, &end, 10);
    return consume_newline(end);
}

static bool read_string(struct src *s, char **out) {
    long len;
    *out = NULL;
    if (!read_long(s, '$', &len)) return false;
    if (len < 0 || len > LONG_MAX - 2) {
        set_error("Expected to read string of %ld bytes, which is not in the suitable range", len);
        return false;
    }
    epos = src_pos(s);
    uint64_t want = (uint64_t)len + 2;
    if (want > s->r.left) {
        set_error("Expected to read %ld bytes, got %ld bytes", (long)want, (long)s->r.left);
        return false;
    }
    char *p = xmalloc((size_t)want + 1);
    if (!rdb_read_raw(&s->r, p, (size_t)want)) {
        set_error("Expected to read %ld bytes, got %ld bytes", (long)want, 0L);
        xfree(p);
        return false;
    }
    if (!consume_newline(p + want - 2)) {
        xfree(p);
        return false;
    }
    p[want - 2] = '\0';
    *out = p;
    return true;
}

/* One command (its '*' not read yet); MULTI/EXEC nesting in *multi. */
static bool process_resp(struct src *s, const char *filename, int *multi) {
    long argc;
    if (!read_long(s, '*', &argc)) return false;
    for (long i = 0; i < argc; i++) {
        char *str;
        if (!read_string(s, &str)) return false;
        if (i == 0) {
            if (strcasecmp(str, "multi") == 0) {
                if ((*multi)++) {
                    set_error("Unexpected MULTI in AOF %s", filename);
                    xfree(str);
                    return false;
                }
            } else if (strcasecmp(str, "exec") == 0) {
                if (--(*multi)) {
                    set_error("Unexpected EXEC in AOF %s", filename);
                    xfree(str);
                    return false;
                }
            }
        }
        xfree(str);
    }
    return true;
}

/* An annotation line: false when the file was cut at a timestamp. */
static int process_annotation(struct src *s, const char *filename, const char *path, bool *truncated_here) {
    char buf[1024];
    epos = src_pos(s);
    if (rdb_read_line(&s->r, buf, sizeof(buf)) == 0) {
        printf("Failed to read annotations from AOF %s, aborting...\n", filename);
        exit(1);
    }
    *truncated_here = false;
    if (!to_timestamp || strncmp(buf, "#TS:", 4) != 0) return 1;
    char *end;
    errno = 0;
    long ts = strtol(buf + 4, &end, 10);
    if (errno != 0 || *end != '\r') {
        printf("Invalid timestamp annotation\n");
        exit(1);
    }
    if (ts <= to_timestamp) return 1;
    if (epos == 0) {
        printf("AOF %s has nothing before timestamp %ld, aborting...\n", filename, to_timestamp);
        exit(1);
    }
    /* (A cut in an earlier file drops the later ones: check_multi_part.) */
    if (aof_file_truncate(path, epos) == -1) {
        printf("Failed to truncate AOF %s to timestamp %ld\n", filename, to_timestamp);
        exit(1);
    }
    *truncated_here = true;
    return 0;
}

/* ---- RDB ---------------------------------------------------------------------------------------- */

struct rdb_check {
    uint64_t keys, expires;
    long long ctime;
};

static bool rdb_key(void *arg, int db, struct entry *e, long long idle, int freq) {
    struct rdb_check *c = arg;
    c->keys++;
    if (entry_has_expire(e)) c->expires++;
    entry_free(e);
    return true;
}

static bool rdb_select(void *arg, uint64_t db) { return true; }

static void rdb_aux(void *arg, const char *k, const char *v) {
    struct rdb_check *c = arg;
    printf("[info] AUX FIELD %s = '%s'\n", k, v);
    if (strcasecmp(k, "ctime") == 0) c->ctime = atoll(v);
}

/* The RDB part of a file; exits when it is broken. */
static void check_rdb(struct src *s, const char *filename) {
    printf("[offset 0] Checking RDB file %s\n", filename);
    struct rdb_check c = {0, 0, 0};
    struct rdb_load_hooks h = {rdb_key, rdb_select, rdb_aux};
    struct rdb_load_stats st;
    if (rdb_load_stream(&s->r, &h, &c, true, &st) != 0) {
        printf("--- RDB ERROR DETECTED ---\n[offset %llu] %s\n", (unsigned long long)s->r.consumed, s->r.err);
        printf("RDB preamble of AOF file is not sane, aborting.\n");
        exit(1);
    }
    printf("[offset %llu] %s\n", (unsigned long long)s->r.consumed,
           st.checksum_checked ? "Checksum OK" : "Checksum not checked");
    printf("[offset %llu] \\o/ RDB looks OK! \\o/\n[info] %llu keys read\n[info] %llu expires\n",
           (unsigned long long)s->r.consumed, (unsigned long long)c.keys, (unsigned long long)c.expires);
    if (to_timestamp && c.ctime > to_timestamp) {
        printf("AOF %s has nothing before timestamp %ld (its RDB part is from %lld), aborting...\n", filename,
               to_timestamp, c.ctime);
        exit(1);
    }
    printf("RDB preamble is OK, proceeding with AOF tail...\n");
}

/* ---- one file ------------------------------------------------------------------------------------ */

static bool confirm(void) {
    char buf[2];
    printf("Continue? [y/N]: ");
    fflush(stdout);
    return fgets(buf, sizeof(buf), stdin) != NULL && strncasecmp(buf, "y", 1) == 0;
}

static int check_single(const char *name, const char *path, bool last_file, bool fix, bool preamble) {
    struct src s;
    if (!src_open(&s, path, true)) {
        printf("Cannot open file %s: %s, aborting...\n", path, strerror(errno));
        exit(1);
    }
    if (s.size == 0) {
        src_close(&s);
        return CHECK_EMPTY;
    }
    if (preamble) check_rdb(&s, name);
    uint64_t pos = src_pos(&s);
    int multi = 0;
    bool eof = false;
    error[0] = '\0';
    for (;;) {
        if (!multi) pos = src_pos(&s);
        if (s.r.left == 0) {
            eof = true;
            break;
        }
        /* The next byte decides; it stays part of what is read next. */
        int c = rdb_peek(&s.r);
        if (c < 0) {
            printf("Failed to read from AOF %s, aborting...\n", name);
            exit(1);
        }
        if (c == '#') {
            bool cut;
            if (!process_annotation(&s, path, path, &cut)) {
                src_close(&s);
                return CHECK_TS_TRUNCATED;
            }
        } else if (c == '*') {
            if (!process_resp(&s, path, &multi)) {
                eof = s.r.left == 0;
                break;
            }
        } else {
            printf("AOF %s format error\n", name);
            break;
        }
    }
    if (eof && multi && error[0] == '\0') set_error("Reached EOF before reading EXEC for MULTI");
    if (error[0]) printf("%s\n", error);
    uint64_t diff = s.size - pos;
    if (diff == 0 && to_timestamp) {
        printf("Truncate nothing in AOF %s to timestamp %ld\n", name, to_timestamp);
        src_close(&s);
        return CHECK_OK;
    }
    printf("AOF analyzed: filename=%s, size=%lld, ok_up_to=%lld, ok_up_to_line=%lld, diff=%lld\n", name,
           (long long)s.size, (long long)pos, line, (long long)diff);
    if (diff > 0) {
        if (!fix) {
            printf("AOF %s is not valid. Use the --fix option to try fixing it.\n", name);
            exit(1);
        }
        if (!last_file) {
            printf("Failed to truncate AOF %s because it is not the last file\n", name);
            exit(1);
        }
        printf("This will shrink the AOF %s from %lld bytes, with %lld bytes, to %lld bytes\n", name,
               (long long)s.size, (long long)diff, (long long)pos);
        if (!confirm()) {
            printf("Aborting...\n");
            exit(1);
        }
        if (aof_file_truncate(path, pos) == -1) {
            printf("Failed to truncate AOF %s\n", name);
            exit(1);
        }
        src_close(&s);
        return CHECK_TRUNCATED;
    }
    src_close(&s);
    return CHECK_OK;
}

static void report(const char *kind, const char *name, int ret) {
    if (ret == CHECK_OK)
        printf("%s%s is valid\n", kind, name);
    else if (ret == CHECK_EMPTY)
        printf("%s%s is empty\n", kind, name);
    else if (ret == CHECK_TS_TRUNCATED)
        printf("Successfully truncated AOF %s to timestamp %ld\n", name, to_timestamp);
    else if (ret == CHECK_TRUNCATED)
        printf("Successfully truncated AOF %s\n", name);
}

/* ---- input types --------------------------------------------------------------------------------- */

static bool file_is_rdb(const char *path) {
    struct src s;
    if (!src_open(&s, path, false)) {
        printf("Cannot open file %s: %s\n", path, strerror(errno));
        exit(1);
    }
    char sig[5];
    bool rdb = s.size >= 8 && rdb_read_raw(&s.r, sig, 5) && memcmp(sig, "REDIS", 5) == 0;
    src_close(&s);
    return rdb;
}

static bool file_is_manifest(const char *path) {
    struct src s;
    if (!src_open(&s, path, false)) {
        printf("Cannot open file %s: %s\n", path, strerror(errno));
        exit(1);
    }
    bool manifest = false;
    char buf[1025];
    while (rdb_read_line(&s.r, buf, sizeof(buf)) > 0) {
        if (buf[0] == '#') continue;
        if (memcmp(buf, "file", 4) == 0) manifest = true;
    }
    src_close(&s);
    return manifest;
}

/* Drop the INCR files after index `keep` from the manifest (a PITR cut in
 * an earlier file), and save it. */
static void drop_later(struct aof_manifest *am, int keep, const char *dir, const char *mpath) {
    char *mcopy = xstrdup(mpath);
    const char *mname = basename(mcopy);
    for (int i = keep + 1; i < am->nincr; i++) {
        printf("Dropping AOF %s from the manifest (it is after timestamp %ld; the file stays on disk)\n",
               am->incr[i].name, to_timestamp);
        xfree(am->incr[i].name);
    }
    am->nincr = keep + 1;
    if (aof_manifest_write(am, dir, mname) != 0) {
        printf("Failed to save the manifest %s\n", mpath);
        exit(1);
    }
    xfree(mcopy);
}

static void check_multi_part(const char *dir, const char *mpath, bool fix) {
    printf("Start checking Multi Part AOF\n");
    struct aof_manifest am;
    char err[512], badline[1100];
    int lineno;
    int rc = aof_manifest_load(mpath, &am, err, sizeof(err), badline, sizeof(badline), &lineno);
    if (rc != 0) {
        printf("\n*** FATAL AOF MANIFEST FILE ERROR ***\n\n");
        if (lineno > 0) printf("Reading the manifest file, at line %d\n\n>>> '%s'\n\n", lineno, badline);
        printf("%s\n\n", rc == ERR_NOTFOUND ? "can't open the AOF manifest file" : err);
        exit(1);
    }
    int total = (am.has_base ? 1 : 0) + am.nincr, num = 0;
    char path[4096];
    if (am.has_base) {
        aof_path(path, sizeof(path), dir, am.base.name);
        bool last = ++num == total;
        bool rdb = file_is_rdb(path);
        printf("Start to check BASE AOF (%s format).\n", rdb ? "RDB" : "RESP");
        int ret = check_single(am.base.name, path, last, fix, rdb);
        report("BASE AOF ", am.base.name, ret);
        if (ret == CHECK_TS_TRUNCATED && !last) {
            drop_later(&am, -1, dir, mpath);
            total = num;
        }
    }
    if (am.nincr) printf("Start to check INCR files.\n");
    for (int i = 0; i < am.nincr && num < total; i++) {
        aof_path(path, sizeof(path), dir, am.incr[i].name);
        bool last = ++num == total;
        int ret = check_single(am.incr[i].name, path, last, fix, false);
        report("INCR AOF ", am.incr[i].name, ret);
        if (ret == CHECK_TS_TRUNCATED && !last) {
            drop_later(&am, i, dir, mpath);
            break;
        }
    }
    aof_manifest_free(&am);
    printf("All AOF files and manifest are valid\n");
}

/* A function library in an RDB base: read whole (its framing checked),
 * not compiled, as redis-check-aof does. */
static bool skip_library(struct rdb_reader *r, int opcode, void *ctx) {
    (void)ctx;
    char *code;
    size_t len;
    if (!rdb_read_function(r, opcode, &code, &len)) return false;
    xfree(code);
    return true;
}

static void setup_codecs(void) {
    /* The value types' operations (freeing what the RDB check reads) and
     * the RDB codecs, as the server registers them. */
    hash_setup();
    store_setup(16, NULL);
    persist_setup(NULL);
    cmd_setup();
    rdb_register_opcode(RDB_OPCODE_FUNCTION2, skip_library, NULL);
    rdb_register_opcode(RDB_OPCODE_FUNCTION, skip_library, NULL);
}

int main(int argc, char **argv) {
    alloc_thread_init();
    const char *filepath = NULL;
    bool fix = false;
    if (argc >= 3 && strcmp(argv[1], "--encryption-key-file") == 0) {
        struct crypt_key k;
        char err[256];
        if (crypt_key_load_file(argv[2], &k, err, sizeof(err)) != 0) {
            printf("Can't use the encryption key file %s: %s\n", argv[2], err);
            exit(1);
        }
        crypt_ring_set(&k);
        crypt_key_wipe(&k);
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
    }
    if (argc == 2) {
        filepath = argv[1];
    } else if (argc == 3 && strcmp(argv[1], "--fix") == 0) {
        filepath = argv[2];
        fix = true;
    } else if (argc == 4 && strcmp(argv[1], "--truncate-to-timestamp") == 0) {
        char *end;
        errno = 0;
        to_timestamp = strtol(argv[2], &end, 10);
        if (errno != 0 || *end != '\0') {
            printf("Invalid timestamp, aborting...\n");
            exit(1);
        }
        filepath = argv[3];
    } else {
        printf("Usage: %s [--encryption-key-file <key>] [--fix|--truncate-to-timestamp $timestamp] "
               "<file.manifest|file.aof>\n",
               argv[0]);
        exit(1);
    }
    setup_codecs();
    char *tmp = xstrdup(filepath);
    const char *dir = dirname(tmp);
    if (file_is_manifest(filepath)) {
        check_multi_part(dir, filepath, fix);
    } else {
        bool rdb = file_is_rdb(filepath);
        printf("Start checking Old-Style AOF\n");
        int ret = check_single(filepath, filepath, true, fix, rdb);
        report("AOF ", filepath, ret);
    }
    xfree(tmp);
    exit(0);
}

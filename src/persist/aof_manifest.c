/*
 * persist/aof_manifest.c - the multi-part AOF manifest (see aof_manifest.h).
 *
 * Reading follows Redis 7.0's aofLoadManifestFromFile line by line: fgets
 * of at most 1,024 bytes, '#' lines skipped (but counted), each line
 * trimmed and split with sdssplitargs's rules (proto/resp's splitter),
 * key/value pairs in any order and case, unknown keys ignored (forward
 * compatibility).
 */
#include "persist/aof_manifest.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "persist/crypt.h"
#include "persist/rdb.h"
#include "persist/sink.h"
#include "persist/source.h"
#include "proto/resp.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAX_LINE 1024

void aof_manifest_init(struct aof_manifest *m) { memset(m, 0, sizeof(*m)); }

static void file_free(struct aof_file *f) {
    xfree(f->name);
    f->name = NULL;
}

void aof_manifest_free(struct aof_manifest *m) {
    if (m->has_base) file_free(&m->base);
    for (int i = 0; i < m->nhist; i++) file_free(&m->hist[i]);
    for (int i = 0; i < m->nincr; i++) file_free(&m->incr[i]);
    xfree(m->hist);
    xfree(m->incr);
    memset(m, 0, sizeof(*m));
}

static struct aof_file file_dup(const struct aof_file *f) {
    return (struct aof_file){xstrdup(f->name), f->seq, f->type};
}

void aof_manifest_dup(struct aof_manifest *dst, const struct aof_manifest *src) {
    *dst = *src;
    if (src->has_base) dst->base = file_dup(&src->base);
    dst->hist = src->nhist ? xmalloc(sizeof(*dst->hist) * (size_t)src->nhist) : NULL;
    dst->caphist = src->nhist;
    for (int i = 0; i < src->nhist; i++) dst->hist[i] = file_dup(&src->hist[i]);
    dst->incr = src->nincr ? xmalloc(sizeof(*dst->incr) * (size_t)src->nincr) : NULL;
    dst->capincr = src->nincr;
    for (int i = 0; i < src->nincr; i++) dst->incr[i] = file_dup(&src->incr[i]);
}

void aof_manifest_move(struct aof_manifest *dst, struct aof_manifest *src) {
    aof_manifest_free(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

static void push(struct aof_file **arr, int *n, int *cap, struct aof_file f, bool front) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *arr = xrealloc(*arr, sizeof(**arr) * (size_t)*cap);
    }
    if (front) {
        memmove(*arr + 1, *arr, sizeof(**arr) * (size_t)*n);
        (*arr)[0] = f;
    } else {
        (*arr)[*n] = f;
    }
    (*n)++;
}

/* ---- reading ------------------------------------------------------------------------------ */

static bool is_base_name(const char *s) { return strchr(s, '/') == NULL && strchr(s, '\\') == NULL; }

/* One line (already trimmed): its file record, or an error message. */
static const char *parse_line(char *line, struct aof_file *f) {
    struct resp_argoff *offs = NULL;
    uint32_t cap = 0;
    int argc = resp_split_args(line, strlen(line), &offs, &cap);
    const char *err = NULL;
    memset(f, 0, sizeof(*f));
    if (argc < 6 || argc % 2) {
        err = "Invalid AOF manifest file format";
        goto out;
    }
    for (int i = 0; i < argc; i += 2) {
        char *k = line + offs[i].off, *v = line + offs[i + 1].off;
        k[offs[i].len] = '\0';
        v[offs[i + 1].len] = '\0';
        if (strcasecmp(k, "file") == 0) {
            xfree(f->name);
            f->name = xstrndup(v, offs[i + 1].len);
            if (!is_base_name(f->name)) {
                err = "File can't be a path, just a filename";
                goto out;
            }
        } else if (strcasecmp(k, "seq") == 0) {
            f->seq = atoll(v);
        } else if (strcasecmp(k, "type") == 0) {
            f->type = v[0];
        }
    }
    if (f->name == NULL || f->seq == 0 || f->type == 0) err = "Invalid AOF manifest file format";
out:
    xfree(offs);
    if (err) file_free(f);
    return err;
}

/* Trim " \t\r\n" on both ends, in place (sdstrim). */
static char *trim(char *s) {
    while (*s && strchr(" \t\r\n", *s)) s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1])) s[--n] = '\0';
    return s;
}

/* Add one parsed record; an error message or NULL. */
static const char *add_record(struct aof_manifest *m, struct aof_file *f, long long *maxseq) {
    if (f->type == AOF_TYPE_BASE) {
        if (m->has_base) return "Found duplicate base file information";
        m->base = *f;
        m->has_base = true;
        m->base_seq = f->seq;
    } else if (f->type == AOF_TYPE_HIST) {
        push(&m->hist, &m->nhist, &m->caphist, *f, false);
    } else if (f->type == AOF_TYPE_INCR) {
        if (f->seq <= *maxseq) return "Found a non-monotonic sequence number";
        push(&m->incr, &m->nincr, &m->capincr, *f, false);
        m->incr_seq = f->seq;
        *maxseq = f->seq;
    } else {
        return "Unknown AOF file type";
    }
    return NULL;
}

int aof_manifest_load(const char *path, struct aof_manifest *m, char *err, size_t errlen, char *line,
                      size_t linelen, int *lineno) {
    aof_manifest_init(m);
    *lineno = 0;
    line[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return ERR_NOTFOUND;
        snprintf(err, errlen, "can't open the AOF manifest file %s for reading: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    uint64_t size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    struct rdb_reader r;
    aof_reader_open(&r, fd, size);
    if (r.open_failed) { /* encrypted, under a key this server does not have */
        snprintf(err, errlen, "can't read the AOF manifest file %s: %s", path, r.err);
        rdb_reader_free(&r);
        close(fd);
        return -1;
    }
    char buf[MANIFEST_MAX_LINE + 1];
    const char *msg = NULL;
    long long maxseq = 0;
    int n = 0;
    for (;;) {
        if (rdb_read_line(&r, buf, sizeof(buf)) == 0) {
            if (r.failed && r.left > 0)
                msg = "Read AOF manifest failed";
            else if (n == 0)
                msg = "Found an empty AOF manifest";
            break;
        }
        n++;
        if (buf[0] == '#') continue;
        if (strchr(buf, '\n') == NULL) {
            msg = "The AOF manifest file contains too long line";
            break;
        }
        char *t = trim(buf);
        snprintf(line, linelen, "%s", t);
        *lineno = n;
        if (*t == '\0') {
            msg = "Invalid AOF manifest file format";
            break;
        }
        struct aof_file f;
        msg = parse_line(t, &f);
        if (msg == NULL) {
            msg = add_record(m, &f, &maxseq);
            if (msg) file_free(&f);
        }
        if (msg) break;
        *lineno = 0;
    }
    rdb_reader_free(&r);
    close(fd);
    if (msg) {
        snprintf(err, errlen, "%s", msg);
        aof_manifest_free(m);
        return -1;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* sdsneedsrepr: anything but printable, non-space ASCII. */
static bool needs_repr(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '\\' || *p == '"' || !isprint(*p) || isspace(*p)) return true;
    return false;
}

static void format_file(const struct aof_file *f, struct buf *out) {
    buf_puts(out, "file ");
    if (needs_repr(f->name))
        buf_repr(out, f->name, strlen(f->name));
    else
        buf_puts(out, f->name);
    buf_printf(out, " seq %lld type %c\n", f->seq, f->type);
}

void aof_manifest_format(const struct aof_manifest *m, struct buf *out) {
    if (m->has_base) format_file(&m->base, out);
    for (int i = 0; i < m->nhist; i++) format_file(&m->hist[i], out);
    for (int i = 0; i < m->nincr; i++) format_file(&m->incr[i], out);
}

void aof_path(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

bool aof_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool aof_dir_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int aof_fsync_dir_of(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int aof_manifest_write(const struct aof_manifest *m, const char *dir, const char *name) {
    char tmpname[512], target[4096], tmppath[4096];
    snprintf(tmpname, sizeof(tmpname), "temp-%s", name);
    aof_path(target, sizeof(target), dir, name);
    aof_path(tmppath, sizeof(tmppath), dir, tmpname);
    struct buf text = BUF_INIT;
    aof_manifest_format(m, &text);
    struct persist_sink *s;
    int rc = -1;
    if (sink_file_open(tmppath, &s) != 0) {
        log_warn("Can't open the AOF manifest file %s: %s", tmpname, strerror(errno));
        goto out;
    }
    if (sink_write(s, text.data, text.len) != 0 || sink_flush(s) != 0) {
        log_warn("Error trying to write the temporary AOF manifest file %s: %s", tmpname, strerror(s->err));
        sink_close(s);
        goto out;
    }
    if (sink_sync(s) != 0) {
        log_warn("Fail to fsync the temp AOF file %s: %s.", tmpname, strerror(s->err));
        sink_close(s);
        goto out;
    }
    if (sink_close(s) != 0) {
        log_warn("Error trying to write the temporary AOF manifest file %s: %s", tmpname, strerror(errno));
        goto out;
    }
    if (rename(tmppath, target) != 0) {
        log_warn("Error trying to rename the temporary AOF manifest file %s into %s: %s", tmpname, name,
                 strerror(errno));
        goto out;
    }
    if (aof_fsync_dir_of(target) != 0) {
        log_warn("Fail to fsync AOF directory %s: %s.", target, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    buf_free(&text);
    return rc;
}

/* ---- AOF files -------------------------------------------------------------------------------- */

void aof_reader_open(struct rdb_reader *r, int fd, uint64_t size) {
    /* An AOF file is appended to until its writer closes it: one left by a
     * writer that died has no terminator, and is read up to its last whole
     * chunk (the cut-short tail is then aof-load-truncated's business). */
    rdb_reader_fd_flags(r, fd, size, SOURCE_UNTERMINATED_OK);
}

bool aof_file_encrypted(int fd) {
    char magic[8];
    return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) && crypt_is_container((const unsigned char *)magic, sizeof(magic));
}

/* Copy the first len bytes of content of path into a new file, renamed
 * over it (an encrypted container cannot be cut at a content offset). */
static int rewrite_prefix(const char *path, int fd, uint64_t size, uint64_t len) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.truncating", path);
    struct rdb_reader r;
    aof_reader_open(&r, fd, size);
    struct persist_sink *s;
    int rc = -1;
    if (sink_file_open(tmp, &s) != 0) goto out;
    char buf[65536];
    for (uint64_t left = len; left > 0;) {
        size_t n = (size_t)MIN(left, (uint64_t)sizeof(buf));
        if (!rdb_read_raw(&r, buf, n) || sink_write(s, buf, n) != 0) {
            sink_close(s);
            unlink(tmp);
            errno = EIO;
            goto out;
        }
        left -= n;
    }
    if (sink_sync(s) != 0 || sink_close(s) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    rdb_reader_free(&r);
    return rc;
}

int aof_file_truncate(const char *path, uint64_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    int rc = -1;
    if (fstat(fd, &sb) == 0) {
        if (aof_file_encrypted(fd))
            rc = rewrite_prefix(path, fd, (uint64_t)sb.st_size, len);
        else
            rc = truncate(path, (off_t)len);
    }
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- changes ------------------------------------------------------------------------------ */

const char *aof_manifest_new_base(struct aof_manifest *m, const char *prefix, bool rdb) {
    if (m->has_base) {
        m->base.type = AOF_TYPE_HIST;
        push(&m->hist, &m->nhist, &m->caphist, m->base, true);
    }
    char name[1024];
    snprintf(name, sizeof(name), "%s.%lld.base%s", prefix, ++m->base_seq, rdb ? ".rdb" : ".aof");
    m->base = (struct aof_file){xstrdup(name), m->base_seq, AOF_TYPE_BASE};
    m->has_base = true;
    m->dirty = true;
    return m->base.name;
}

const char *aof_manifest_new_incr(struct aof_manifest *m, const char *prefix) {
    char name[1024];
    snprintf(name, sizeof(name), "%s.%lld.incr.aof", prefix, ++m->incr_seq);
    push(&m->incr, &m->nincr, &m->capincr, (struct aof_file){xstrdup(name), m->incr_seq, AOF_TYPE_INCR}, false);
    m->dirty = true;
    return m->incr[m->nincr - 1].name;
}

const char *aof_manifest_last_incr(struct aof_manifest *m, const char *prefix) {
    if (m->nincr == 0) return aof_manifest_new_incr(m, prefix);
    return m->incr[m->nincr - 1].name;
}

void aof_manifest_incr_to_history(struct aof_manifest *m, bool keep_last) {
    int n = keep_last && m->nincr > 0 ? m->nincr - 1 : m->nincr;
    if (n == 0) return;
    /* Newest first at the head of the history, as Redis walks from the tail. */
    for (int i = n - 1; i >= 0; i--) {
        struct aof_file f = m->incr[i];
        f.type = AOF_TYPE_HIST;
        push(&m->hist, &m->nhist, &m->caphist, f, true);
    }
    memmove(m->incr, m->incr + n, sizeof(*m->incr) * (size_t)(m->nincr - n));
    m->nincr -= n;
    m->dirty = true;
}

void aof_manifest_clear_history(struct aof_manifest *m) {
    for (int i = 0; i < m->nhist; i++) file_free(&m->hist[i]);
    m->nhist = 0;
    m->dirty = true;
}

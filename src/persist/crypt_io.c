/*
 * persist/crypt_io.c - encrypted files under the file sink and the file
 * source: the encrypting sink, appending to an existing container, and the
 * authenticating, decrypting source (see persist/source.h, persist/crypt.h).
 *
 * Encrypting sink: a wrapper around the file sink. Bytes gather in a
 *   64 KiB plaintext buffer; a full buffer becomes one sealed chunk handed
 *   to the file sink (a write of 64 KiB or more from an empty buffer is
 *   sealed straight from the caller's memory). flush() seals what is
 *   buffered as a shorter chunk (so an AOF's fsync policy holds); close()
 *   seals the rest and the empty FINAL terminator.
 *
 * When a file sink is made on a regular file (sink_file_fd):
 *   empty file, a key set       a new container (header written first)
 *   empty file, no key          plain, as before
 *   a container                 appended to: its chunks are authenticated,
 *                               the terminator and a torn last chunk cut
 *                               off (ftruncate), numbering goes on; a
 *                               missing key or a chunk that fails makes a
 *                               sink that fails every write (logged)
 *   other non-empty file        plain bytes appended (a file started before
 *                               encryption was turned on stays plain)
 *   sockets, pipes: always plain (a replica's full sync stays RDB).
 *
 * Source: see source.h. The open-time scan reads every chunk once
 *   (pread, into a scratch buffer that is never handed out); reads then
 *   decrypt chunk by chunk.
 *
 * Thread context: one thread at a time per sink or source.
 */
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "persist/crypt.h"
#include "persist/crypt_io.h"
#include "persist/sink.h"
#include "persist/source.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALED_MAX (CRYPT_CHUNK_MAX + CRYPT_CHUNK_OVERHEAD)

/* ---- reading chunks ------------------------------------------------------------------------------- */

static bool pread_all(int fd, void *p, size_t n, uint64_t off) {
    unsigned char *o = p;
    while (n > 0) {
        ssize_t r = pread(fd, o, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) errno = 0; /* the end of the file */
        if (r <= 0) return false;
        o += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

/* What a walk over a container's chunks found. */
struct scan {
    uint64_t chunks;   /* data chunks */
    uint64_t plain;    /* their plaintext bytes */
    uint64_t end_data; /* file offset after the last data chunk */
    bool terminated;   /* the terminator ends the file */
};

/* Authenticate every chunk from `start` to the end of the file (fsize):
 * 0, or -1 with the reason. A file ending inside a chunk or without its
 * terminator is not an error here (sc->terminated tells). */
static int scan_chunks(int fd, uint64_t start, uint64_t fsize, struct crypt_file *cf, unsigned char *sealed,
                       unsigned char *scratch, struct scan *sc, char *err, size_t errcap) {
    memset(sc, 0, sizeof(*sc));
    sc->end_data = start;
    uint64_t off = start;
    while (off < fsize) {
        size_t n;
        bool final;
        if (fsize - off < CRYPT_WORD_BYTES) break; /* torn */
        if (!pread_all(fd, sealed, CRYPT_WORD_BYTES, off)) goto io;
        if (!crypt_word(sealed, &n, &final)) {
            snprintf(err, errcap, "corrupt chunk %llu at offset %llu (bad length): the file was modified or damaged",
                     (unsigned long long)sc->chunks, (unsigned long long)off);
            return -1;
        }
        size_t total = n + CRYPT_CHUNK_OVERHEAD;
        if (fsize - off < total) break; /* torn */
        if (!pread_all(fd, sealed, total, off)) goto io;
        if (!crypt_open(cf, sc->chunks, sealed, scratch)) {
            snprintf(err, errcap,
                     "authentication failed at chunk %llu (offset %llu): the file was tampered with, reordered or "
                     "damaged",
                     (unsigned long long)sc->chunks, (unsigned long long)off);
            return -1;
        }
        off += total;
        if (final) {
            if (off != fsize) {
                snprintf(err, errcap, "%llu bytes after the end of the encrypted file",
                         (unsigned long long)(fsize - off));
                return -1;
            }
            sc->terminated = true;
            break;
        }
        sc->chunks++;
        sc->plain += n;
        sc->end_data = off;
    }
    return 0;
io:
    snprintf(err, errcap, "read error: %s", errno ? strerror(errno) : "unexpected end of file");
    return -1;
}

/* ---- the source ------------------------------------------------------------------------------------ */

struct persist_source {
    int fd;
    uint64_t size, left;
    bool encrypted, unterminated;
    /* encrypted */
    struct crypt_file *cf;
    uint64_t off, index, chunks;
    unsigned char *sealed, *plain;
    size_t plen, ppos;
    char err[256];
};

static int open_container(struct persist_source *s, uint64_t start, unsigned flags, char *err, size_t errcap) {
    unsigned char header[CRYPT_HEADER_BYTES];
    struct stat st;
    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "an encrypted file must be a regular file");
        return -1;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (start > fsize || fsize - start < CRYPT_HEADER_BYTES || !pread_all(s->fd, header, sizeof(header), start)) {
        snprintf(err, errcap, "the encrypted file is truncated (no complete header)");
        return -1;
    }
    s->cf = crypt_file_open(header, err, errcap);
    if (s->cf == NULL) return -1;
    s->sealed = xmalloc(SEALED_MAX);
    s->plain = xmalloc(CRYPT_CHUNK_MAX);
    struct scan sc;
    if (scan_chunks(s->fd, start + CRYPT_HEADER_BYTES, fsize, s->cf, s->sealed, s->plain, &sc, err, errcap) != 0)
        return -1;
    if (!sc.terminated) {
        if (!(flags & SOURCE_UNTERMINATED_OK)) {
            snprintf(err, errcap, "the encrypted file is truncated: no end marker after chunk %llu (offset %llu)",
                     (unsigned long long)sc.chunks, (unsigned long long)sc.end_data);
            return -1;
        }
        s->unterminated = true;
    }
    OPENSSL_cleanse(s->plain, CRYPT_CHUNK_MAX);
    s->encrypted = true;
    s->off = start + CRYPT_HEADER_BYTES;
    s->chunks = sc.chunks;
    s->size = s->left = sc.plain;
    return 0;
}

int source_open_fd(int fd, uint64_t size, unsigned flags, struct persist_source **out, char *err, size_t errcap) {
    struct persist_source *s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->size = s->left = size;
    off_t at = lseek(fd, 0, SEEK_CUR);
    unsigned char magic[CRYPT_MAGIC_BYTES];
    if (at >= 0 && size >= CRYPT_MAGIC_BYTES && pread_all(fd, magic, sizeof(magic), (uint64_t)at) &&
        crypt_is_container(magic, sizeof(magic)) && open_container(s, (uint64_t)at, flags, err, errcap) != 0) {
        source_close(&s);
        return -1;
    }
    *out = s;
    return 0;
}

static ssize_t source_fail(struct persist_source *s, const char *why) {
    if (s->err[0] == '\0') snprintf(s->err, sizeof(s->err), "%s", why);
    return -1;
}

/* The next chunk into s->plain (false at the end or on error). */
static bool next_chunk(struct persist_source *s) {
    if (s->index == s->chunks) return false;
    size_t n;
    bool final;
    if (!pread_all(s->fd, s->sealed, CRYPT_WORD_BYTES, s->off) || !crypt_word(s->sealed, &n, &final) || final ||
        !pread_all(s->fd, s->sealed, n + CRYPT_CHUNK_OVERHEAD, s->off) ||
        !crypt_open(s->cf, s->index, s->sealed, s->plain)) {
        char why[160];
        snprintf(why, sizeof(why), "chunk %llu of the encrypted file changed while it was read",
                 (unsigned long long)s->index);
        source_fail(s, why);
        return false;
    }
    s->off += n + CRYPT_CHUNK_OVERHEAD;
    s->index++;
    s->plen = n;
    s->ppos = 0;
    return true;
}

ssize_t source_read(struct persist_source *s, void *p, size_t n) {
    if (s->err[0]) return -1;
    if (n > s->left) n = (size_t)s->left;
    unsigned char *o = p;
    size_t got = 0;
    while (got < n) {
        if (!s->encrypted) {
            ssize_t r = read(s->fd, o + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                char why[160];
                snprintf(why, sizeof(why), "Read error: %s", strerror(errno));
                return source_fail(s, why);
            }
            if (r == 0) break;
            got += (size_t)r;
            continue;
        }
        if (s->ppos == s->plen && !next_chunk(s)) {
            if (s->err[0]) return -1;
            break;
        }
        size_t k = MIN(n - got, s->plen - s->ppos);
        memcpy(o + got, s->plain + s->ppos, k);
        s->ppos += k;
        got += k;
    }
    s->left -= got;
    return (ssize_t)got;
}

uint64_t source_size(const struct persist_source *s) { return s->size; }
bool source_encrypted(const struct persist_source *s) { return s->encrypted; }
bool source_unterminated(const struct persist_source *s) { return s->unterminated; }
const char *source_error(const struct persist_source *s) { return s->err; }

void source_close(struct persist_source **sp) {
    struct persist_source *s = *sp;
    if (s == NULL) return;
    crypt_file_free(&s->cf);
    if (s->plain) OPENSSL_cleanse(s->plain, CRYPT_CHUNK_MAX);
    xfree(s->plain);
    xfree(s->sealed);
    xfree(s);
    *sp = NULL;
}

/* ---- the encrypting sink ------------------------------------------------------------------------------ */

struct crypt_sink {
    struct persist_sink base;
    struct persist_sink *file;
    struct crypt_file *cf;
    uint64_t index; /* of the next chunk */
    size_t used;
    unsigned char plain[CRYPT_CHUNK_MAX];
    unsigned char sealed[SEALED_MAX];
};

static int cs_fail(struct crypt_sink *c, int e) {
    if (c->base.err == 0) c->base.err = e ? e : EIO;
    return ERR_IO;
}

static int seal_out(struct crypt_sink *c, const void *p, size_t n, bool final) {
    if (!crypt_seal(c->cf, c->index, p, n, final, c->sealed)) return cs_fail(c, EIO);
    c->index++;
    if (sink_write(c->file, c->sealed, n + CRYPT_CHUNK_OVERHEAD) != 0) return cs_fail(c, c->file->err);
    return 0;
}

static int cs_write(struct persist_sink *s, const void *p, size_t n) {
    struct crypt_sink *c = (struct crypt_sink *)s;
    const unsigned char *in = p;
    if (s->err) return ERR_IO;
    while (n > 0) {
        if (c->used == 0 && n >= CRYPT_CHUNK_MAX) { /* a whole chunk: no copy */
            if (seal_out(c, in, CRYPT_CHUNK_MAX, false) != 0) return ERR_IO;
            in += CRYPT_CHUNK_MAX;
            n -= CRYPT_CHUNK_MAX;
            continue;
        }
        size_t k = MIN(n, CRYPT_CHUNK_MAX - c->used);
        memcpy(c->plain + c->used, in, k);
        c->used += k;
        in += k;
        n -= k;
        if (c->used == CRYPT_CHUNK_MAX) {
            c->used = 0;
            if (seal_out(c, c->plain, CRYPT_CHUNK_MAX, false) != 0) return ERR_IO;
        }
    }
    return 0;
}

static int seal_pending(struct crypt_sink *c) {
    if (c->base.err) return ERR_IO;
    if (c->used == 0) return 0;
    size_t n = c->used;
    c->used = 0;
    return seal_out(c, c->plain, n, false);
}

static int cs_flush(struct persist_sink *s) {
    struct crypt_sink *c = (struct crypt_sink *)s;
    if (seal_pending(c) != 0) return ERR_IO;
    return sink_flush(c->file) == 0 ? 0 : cs_fail(c, c->file->err);
}

static int cs_sync(struct persist_sink *s) {
    struct crypt_sink *c = (struct crypt_sink *)s;
    if (seal_pending(c) != 0) return ERR_IO;
    return sink_sync(c->file) == 0 ? 0 : cs_fail(c, c->file->err);
}

static int cs_close(struct persist_sink *s) {
    struct crypt_sink *c = (struct crypt_sink *)s;
    if (seal_pending(c) == 0) seal_out(c, NULL, 0, true); /* the terminator */
    int rc = sink_close(c->file);
    int e = errno;
    if (rc != 0) cs_fail(c, e);
    if (c->base.err) {
        rc = ERR_IO;
        e = c->base.err;
    }
    crypt_file_free(&c->cf);
    OPENSSL_cleanse(c->plain, sizeof(c->plain));
    xfree(c);
    errno = e;
    return rc;
}

static const struct persist_sink_ops crypt_ops = {cs_write, cs_flush, cs_sync, cs_close};

static struct crypt_sink *cs_new(struct persist_sink *file) {
    struct crypt_sink *c = xmalloc(sizeof(*c));
    c->base.ops = &crypt_ops;
    c->base.err = 0;
    c->base.bytes = 0;
    c->file = file;
    c->cf = NULL;
    c->index = 0;
    c->used = 0;
    return c;
}

/* Continue an existing container: cut its terminator (and a torn tail). */
static void cs_append(struct crypt_sink *c, int fd, int rfd, const unsigned char header[CRYPT_HEADER_BYTES],
                      uint64_t fsize) {
    char err[256];
    c->cf = crypt_file_open(header, err, sizeof(err));
    if (c->cf == NULL) {
        log_warn("Can't append to an encrypted file: %s", err);
        cs_fail(c, ENOKEY);
        return;
    }
    unsigned char *scratch = xmalloc(CRYPT_CHUNK_MAX);
    struct scan sc;
    int rc = scan_chunks(rfd, CRYPT_HEADER_BYTES, fsize, c->cf, c->sealed, scratch, &sc, err, sizeof(err));
    OPENSSL_cleanse(scratch, CRYPT_CHUNK_MAX);
    xfree(scratch);
    if (rc != 0) {
        log_warn("Can't append to an encrypted file: %s", err);
        cs_fail(c, EBADMSG);
        return;
    }
    if ((sc.end_data != fsize && ftruncate(fd, (off_t)sc.end_data) != 0) ||
        lseek(fd, (off_t)sc.end_data, SEEK_SET) < 0) { /* new chunks go right after the last one */
        cs_fail(c, errno);
        return;
    }
    c->index = sc.chunks;
}

struct persist_sink *crypt_sink_for_fd(int fd, struct persist_sink *file) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return file;
    if (st.st_size == 0) {
        struct crypt_key k;
        if (!crypt_ring_current(&k)) return file;
        struct crypt_sink *c = cs_new(file);
        unsigned char header[CRYPT_HEADER_BYTES];
        c->cf = crypt_file_new(&k, header);
        crypt_key_wipe(&k);
        if (c->cf == NULL)
            cs_fail(c, EIO);
        else if (sink_write(file, header, sizeof(header)) != 0)
            cs_fail(c, file->err);
        return &c->base;
    }
    /* An existing file, maybe opened write-only (O_APPEND): read it
     * through a descriptor of our own. */
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    int rfd = open(self, O_RDONLY | O_CLOEXEC);
    unsigned char header[CRYPT_HEADER_BYTES];
    bool container = rfd >= 0 && (uint64_t)st.st_size >= CRYPT_MAGIC_BYTES &&
                     pread_all(rfd, header, CRYPT_MAGIC_BYTES, 0) && crypt_is_container(header, CRYPT_MAGIC_BYTES);
    if (rfd >= 0 && !container) {
        close(rfd);
        return file; /* a plain file: appended to as it is */
    }
    struct crypt_sink *c = cs_new(file);
    if (rfd < 0) {
        log_warn("Can't append to %s: can't read it back to tell its format (%s)", self, strerror(errno));
        cs_fail(c, errno);
    } else if ((uint64_t)st.st_size < CRYPT_HEADER_BYTES || !pread_all(rfd, header, sizeof(header), 0)) {
        log_warn("Can't append to an encrypted file: %s", "its header is truncated");
        cs_fail(c, EBADMSG);
    } else {
        cs_append(c, fd, rfd, header, (uint64_t)st.st_size);
    }
    if (rfd >= 0) close(rfd);
    return &c->base;
}

/*
 * persist/sink.c - the file and memory sinks (see sink.h).
 *
 * The file sink gathers writes in a 64 KiB buffer and issues one write(2)
 * per full buffer (bigger writes go straight through), retrying on EINTR
 * and short writes. close() flushes, then close(2); durability needs an
 * explicit sync() first (the caller decides, e.g. before a rename).
 *
 * Every file sink is made by sink_file_fd, which hands regular files to
 * encryption at rest (persist/crypt_io.c): with `encryption-key-file`
 * set, what reaches the descriptor is the encrypted container.
 */
#include "persist/sink.h"
#include "base/alloc.h"
#include "base/err.h"
#include "persist/crypt_io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define FILE_BUF 65536

struct file_sink {
    struct persist_sink base;
    int fd;
    size_t used;
    unsigned char buf[FILE_BUF];
};

static int fail(struct persist_sink *s, int e) {
    if (s->err == 0) s->err = e ? e : EIO;
    return ERR_IO;
}

static int write_all(struct file_sink *f, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return fail(&f->base, errno);
        }
        if (w == 0) return fail(&f->base, ENOSPC);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int file_flush(struct persist_sink *s) {
    struct file_sink *f = (struct file_sink *)s;
    if (s->err) return ERR_IO;
    if (f->used == 0) return 0;
    int rc = write_all(f, f->buf, f->used);
    f->used = 0;
    return rc;
}

static int file_write(struct persist_sink *s, const void *p, size_t n) {
    struct file_sink *f = (struct file_sink *)s;
    if (s->err) return ERR_IO;
    if (f->used + n <= FILE_BUF) {
        memcpy(f->buf + f->used, p, n);
        f->used += n;
        return 0;
    }
    if (file_flush(s) != 0) return ERR_IO;
    if (n >= FILE_BUF / 2) return write_all(f, p, n);
    memcpy(f->buf, p, n);
    f->used = n;
    return 0;
}

static int file_sync(struct persist_sink *s) {
    struct file_sink *f = (struct file_sink *)s;
    if (file_flush(s) != 0) return ERR_IO;
    if (fsync(f->fd) != 0) return fail(s, errno);
    return 0;
}

static int file_close(struct persist_sink *s) {
    struct file_sink *f = (struct file_sink *)s;
    int rc = file_flush(s);
    if (close(f->fd) != 0 && rc == 0) rc = fail(s, errno);
    if (s->err) rc = ERR_IO;
    int e = s->err;
    xfree(f);
    errno = e;
    return rc;
}

static const struct persist_sink_ops file_ops = {file_write, file_flush, file_sync, file_close};

struct persist_sink *sink_file_fd(int fd) {
    struct file_sink *f = xmalloc(sizeof(*f));
    f->base.ops = &file_ops;
    f->base.err = 0;
    f->base.bytes = 0;
    f->fd = fd;
    f->used = 0;
    return crypt_sink_for_fd(fd, &f->base); /* encryption at rest, for regular files */
}

int sink_file_open(const char *path, struct persist_sink **out) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ERR_IO;
    *out = sink_file_fd(fd);
    return 0;
}

/* ---- memory ------------------------------------------------------------------------------ */

struct buffer_sink {
    struct persist_sink base;
    struct buf *b;
};

static int buffer_write(struct persist_sink *s, const void *p, size_t n) {
    buf_append(((struct buffer_sink *)s)->b, p, n);
    return 0;
}
static int buffer_nop(struct persist_sink *s) { return 0; }
static int buffer_close(struct persist_sink *s) {
    xfree(s);
    return 0;
}

static const struct persist_sink_ops buffer_ops = {buffer_write, buffer_nop, buffer_nop, buffer_close};

struct persist_sink *sink_buffer(struct buf *b) {
    struct buffer_sink *s = xmalloc(sizeof(*s));
    s->base.ops = &buffer_ops;
    s->base.err = 0;
    s->base.bytes = 0;
    s->b = b;
    return &s->base;
}

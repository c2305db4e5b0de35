/*
 * net/conn.h - a client connection's transport.
 *
 * Plain sockets today; TLS plugs in later as another `conn_ops`. The conn
 * knows bytes and readiness only; what the bytes mean is the upper layers'.
 * Thread context: [owner] (the worker that accepted it).
 */
#ifndef STASH_NET_CONN_H
#define STASH_NET_CONN_H

#include "base/common.h"
#include "net/loop.h"

#include <sys/types.h>
#include <sys/uio.h>

struct conn;

struct conn_ops {
    /* > 0 bytes, 0 on EOF, -1 with errno (EAGAIN: nothing now). */
    ssize_t (*read)(struct conn *c, void *buf, size_t len);
    ssize_t (*writev)(struct conn *c, const struct iovec *iov, int n);
    void (*close)(struct conn *c);
};

struct conn {
    struct loop_io io; /* io.fd is the socket */
    const struct conn_ops *ops;
    uint8_t unix_socket; /* 1 for AF_UNIX */
};

void conn_init_plain(struct conn *c, int fd, bool unix_socket);

static inline ssize_t conn_read(struct conn *c, void *buf, size_t len) { return c->ops->read(c, buf, len); }
static inline ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n) {
    return c->ops->writev(c, iov, n);
}
static inline void conn_close(struct conn *c) { c->ops->close(c); }
static inline int conn_fd(const struct conn *c) { return c->io.fd; }

#endif

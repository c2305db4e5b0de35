/*
 * net/conn.c - plain socket transport and loop registration; see conn.h.
 * The TLS transport is in net/tls.c.
 */
#include "net/conn.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static ssize_t plain_read(struct conn *c, void *buf, size_t len) {
    ssize_t n;
    do {
        n = read(c->io.fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t plain_writev(struct conn *c, const struct iovec *iov, int n) {
    ssize_t w;
    do {
        w = (n == 1) ? write(c->io.fd, iov[0].iov_base, iov[0].iov_len) : writev(c->io.fd, iov, n);
    } while (w < 0 && errno == EINTR);
    return w;
}

static void plain_close(struct conn *c) {
    if (c->io.fd >= 0) close(c->io.fd);
    c->io.fd = -1;
}

static const struct conn_ops plain_ops = {plain_read, plain_writev, plain_close};

void conn_init_plain(struct conn *c, int fd, bool unix_socket) {
    memset(c, 0, sizeof(*c));
    c->io.fd = fd;
    c->ops = &plain_ops;
    c->unix_socket = unix_socket ? 1 : 0;
}

int conn_register(struct conn *c, struct loop *l, loop_io_fn fn, uint32_t events) {
    if (c->ssl) return conn_tls_register(c, l, fn, events);
    c->loop = l;
    c->user_fn = fn;
    c->io.fn = fn;
    c->want = events;
    return loop_add(l, &c->io, events, false);
}

void conn_unregister(struct conn *c) {
    if (c->loop && c->io.fd >= 0) loop_del(c->loop, &c->io);
    c->want = 0;
}

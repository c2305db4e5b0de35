/*
 * net/conn.h - a connection's transport: plain sockets or TLS (net/tls.h).
 *
 * The conn knows bytes and readiness only; what the bytes mean is the upper
 * layers'. Its user registers it on a loop with a handler and says which
 * *logical* events it wants (LOOP_READ: give me input; LOOP_WRITE: I have
 * output waiting), then reads and writes through conn_read/conn_writev,
 * which return what read(2)/writev(2) return (-1 with EAGAIN: nothing now).
 *
 * For a plain socket the logical events are the socket's own: the handler
 * is the loop_io's, and conn_set_events is loop_mod (no cost over using the
 * loop directly). A TLS transport interposes its own handler: it drives the
 * handshake, registers the socket events OpenSSL needs (a read may need the
 * socket writable, a write may need it readable), and calls the user's
 * handler with the logical events those socket events serve. Input that
 * OpenSSL has already decrypted but epoll will not signal again is handed
 * to the handler from a loop_defer callback (see net/tls.c).
 *
 * Ownership: the conn is embedded in its user's object; conn_close frees
 * the transport's state (the SSL object) and closes the socket. The user
 * frees its object only after the current batch of events (loop.h's rule):
 * a TLS conn may still have a deferred callback queued in this batch, which
 * sees the closed conn and does nothing.
 *
 * Thread context: [owner] (the thread whose loop the conn is registered
 * on), for everything.
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
    struct loop_io io; /* io.fd is the socket; io.events the socket's registered events */
    const struct conn_ops *ops;
    uint8_t unix_socket; /* 1 for AF_UNIX */
    uint8_t tls_state;   /* TLS: net/tls.c (handshaking, established, failed) */
    uint16_t tls_flags;  /* TLS: what the last read/write is waiting for */
    uint32_t want;       /* logical events the user asked for (plain: io.events) */
    void *ssl;           /* SSL *, NULL for a plain conn */
    struct loop *loop;   /* where it is registered */
    loop_io_fn user_fn;  /* the user's handler */
};

/* A plain socket (TCP or, with unix_socket, AF_UNIX). */
void conn_init_plain(struct conn *c, int fd, bool unix_socket);

/* Register c on loop l with handler fn (called with c->io) for `events`. */
int conn_register(struct conn *c, struct loop *l, loop_io_fn fn, uint32_t events);
/* Unregister (before conn_close). */
void conn_unregister(struct conn *c);
/* TLS: see net/tls.c. */
int conn_tls_set_events(struct conn *c, uint32_t events);
int conn_tls_register(struct conn *c, struct loop *l, loop_io_fn fn, uint32_t events);

/* Change the logical events c's handler is called for. */
static inline int conn_set_events(struct conn *c, uint32_t events) {
    if (LIKELY(c->ssl == NULL)) {
        c->want = events;
        return loop_mod(c->loop, &c->io, events);
    }
    return conn_tls_set_events(c, events);
}
/* The logical events asked for. */
static inline uint32_t conn_events(const struct conn *c) { return c->want; }
static inline bool conn_is_tls(const struct conn *c) { return c->ssl != NULL; }

static inline ssize_t conn_read(struct conn *c, void *buf, size_t len) { return c->ops->read(c, buf, len); }
static inline ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n) {
    return c->ops->writev(c, iov, n);
}
static inline void conn_close(struct conn *c) { c->ops->close(c); }
static inline int conn_fd(const struct conn *c) { return c->io.fd; }

#endif

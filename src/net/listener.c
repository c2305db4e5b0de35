/*
 * net/listener.c - see listener.h.
 */
#include "net/listener.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPTS_PER_EVENT 64

struct listener {
    _Atomic unsigned next; /* round-robin position for handing out connections */
    int fd;
    enum listener_kind kind;
    int port;
    int tag;
    listener_accept_fn fn;
    char path[108];
    int nio;
    struct loop_io *ios; /* one registration per worker */
};

static int open_bound(struct addrinfo *ai, int backlog, char *err, size_t errlen) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || (ai->ai_socktype == SOCK_STREAM && listen(fd, backlog) < 0)) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static struct listener *new_listener(int fd, enum listener_kind kind) {
    struct listener *ls = xcalloc(1, sizeof(*ls));
    ls->fd = fd;
    ls->kind = kind;
    return ls;
}

static int open_inet(const char *addr, int port, int type, int backlog, struct listener **out, char *err,
                     size_t errlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    const char *host = addr;
    if (host && host[0] == '-') host++;
    if (host == NULL || host[0] == '\0' || strcmp(host, "*") == 0) {
        hints.ai_family = AF_INET;
        host = NULL;
    } else {
        hints.ai_family = AF_UNSPEC;
    }
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return ERR_INVAL;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) fd = open_bound(ai, backlog, err, errlen);
    freeaddrinfo(res);
    if (fd < 0) return ERR_IO;
    struct listener *ls = new_listener(fd, type == SOCK_DGRAM ? LISTENER_UDP : LISTENER_TCP);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    ls->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *out = ls;
    return 0;
}

int listener_open_tcp(const char *addr, int port, int backlog, struct listener **out, char *err, size_t errlen) {
    return open_inet(addr, port, SOCK_STREAM, backlog, out, err, errlen);
}

int listener_open_udp(const char *addr, int port, struct listener **out, char *err, size_t errlen) {
    return open_inet(addr, port, SOCK_DGRAM, 0, out, err, errlen);
}

int listener_open_unix(const char *path, int perm, int backlog, struct listener **out, char *err,
                       size_t errlen) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unix socket path too long");
        return ERR_INVAL;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return ERR_IO;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return ERR_IO;
    }
    if (perm) chmod(path, (mode_t)perm);
    struct listener *ls = new_listener(fd, LISTENER_UNIX);
    snprintf(ls->path, sizeof(ls->path), "%s", path);
    *out = ls;
    return 0;
}

/* Each worker's registration carries a back pointer to its listener. */
struct io_slot {
    struct listener *owner;
    struct loop_io io;
};

/* A connection accepted by one worker and given to another. */
struct handoff {
    struct mbox_msg m;
    struct listener *ls;
    int fd;
};

static void handoff_run(struct mbox_msg *m) {
    struct handoff *h = (struct handoff *)m;
    h->ls->fn(h->fd, h->ls->kind, h->ls->tag);
    xfree(h);
}

/* Whichever worker epoll woke accepts; connections are then spread
 * round-robin so that every worker gets its share even when the same one
 * keeps being woken (EPOLLEXCLUSIVE tends to wake the same idle waiter). */
static void dispatch_conn(struct listener *ls, int fd) {
    int n = worker_count();
    int target = (int)(atomic_fetch_add_explicit(&ls->next, 1, memory_order_relaxed) % (unsigned)n);
    if (target == worker_self_id()) {
        ls->fn(fd, ls->kind, ls->tag);
        return;
    }
    struct handoff *h = xmalloc(sizeof(*h));
    h->ls = ls;
    h->fd = fd;
    worker_post(worker_at(target), &h->m, handoff_run);
}

static void on_acceptable(struct loop_io *io, uint32_t events) {
    struct listener *ls = CONTAINER_OF(io, struct io_slot, io)->owner;
    if (ls->kind == LISTENER_UDP) {
        ls->fn(io->fd, LISTENER_UDP, ls->tag); /* datagrams: read here, on the woken worker */
        return;
    }
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
                log_warn("Accepting client connection: %s", strerror(errno));
            return;
        }
        if (ls->kind == LISTENER_TCP) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        dispatch_conn(ls, fd);
    }
}

void listener_attach(struct listener *ls, listener_accept_fn fn, int tag) {
    ls->fn = fn;
    ls->tag = tag;
    ls->nio = worker_count();
    struct io_slot *slots = xcalloc((size_t)ls->nio, sizeof(*slots));
    ls->ios = (struct loop_io *)slots;
    for (int i = 0; i < ls->nio; i++) {
        slots[i].owner = ls;
        slots[i].io.fd = ls->fd;
        slots[i].io.fn = on_acceptable;
        loop_add(worker_loop(worker_at(i)), &slots[i].io, LOOP_READ, true);
    }
}

void listener_detach(struct listener *ls) {
    if (ls->fd < 0) return;
    for (int i = 0; i < ls->nio; i++) loop_del_fd(worker_loop(worker_at(i)), ls->fd);
    close(ls->fd);
    ls->fd = -1;
    if (ls->kind == LISTENER_UNIX && ls->path[0]) unlink(ls->path);
}

void listener_close(struct listener **lsp) {
    struct listener *ls = *lsp;
    if (ls == NULL) return;
    listener_detach(ls);
    xfree(ls->ios);
    xfree(ls);
    *lsp = NULL;
}

int listener_port(const struct listener *ls) { return ls->port; }

int net_peer_name(int fd, char *buf, size_t cap, bool local) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &sl) : getpeername(fd, (struct sockaddr *)&ss, &sl);
    if (rc < 0) return snprintf(buf, cap, "?:0");
    char ip[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        return snprintf(buf, cap, "%s:%d", ip, ntohs(s->sin_port));
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        return snprintf(buf, cap, "[%s]:%d", ip, ntohs(s->sin6_port));
    }
    if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *s = (struct sockaddr_un *)&ss;
        return snprintf(buf, cap, "%s:0", local && s->sun_path[0] ? s->sun_path : "");
    }
    return snprintf(buf, cap, "?:0");
}

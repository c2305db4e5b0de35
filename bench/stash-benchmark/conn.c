/*
 * bench/stash-benchmark/conn.c - connections: target checks, connect with
 * a deadline, TLS (OpenSSL), setup commands, non-blocking reads and writes.
 *
 * Everything before the benchmark proper (connect, TLS handshake, AUTH,
 * HELLO, SELECT, memcached authentication) is done here synchronously by
 * the main thread, each step waiting with poll(2) up to the connect
 * deadline; after that a connection is non-blocking and driven by run.c.
 *
 * TLS: SSL_MODE_ENABLE_PARTIAL_WRITE and ACCEPT_MOVING_WRITE_BUFFER let a
 * write that would block be retried later from the same output queue. A
 * read may leave decrypted bytes inside OpenSSL that epoll cannot see; they
 * are flagged in ssl_more so the loop reads again without waiting.
 */
#include "bench.h"
#include "codec.h"

#include "base/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- target ---------------------------------------------------------------- */

static bool addr_is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static int resolve(const struct sb_opts *o, struct addrinfo **res, char *err, size_t errlen) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port);
    int rc = getaddrinfo(o->host, port, &hints, res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", o->host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

int sb_check_target(const struct sb_opts *o, char *err, size_t errlen) {
    if (o->unix_path) return 0;
    struct addrinfo *res;
    if (resolve(o, &res, err, errlen) < 0) return -1;
    bool local = true;
    for (struct addrinfo *a = res; a; a = a->ai_next) local &= addr_is_loopback(a->ai_addr);
    freeaddrinfo(res);
    if (!local && !o->allow_remote) {
        snprintf(err, errlen,
                 "refusing to load %s: not a loopback address (pass --allow-remote to benchmark "
                 "a server on another machine)",
                 o->host);
        return -1;
    }
    return 0;
}

/* ---- TLS ------------------------------------------------------------------- */

static void tls_err(char *err, size_t errlen, const char *what) {
    unsigned long e = ERR_get_error();
    char msg[256] = "unknown error";
    if (e) ERR_error_string_n(e, msg, sizeof(msg));
    snprintf(err, errlen, "%s: %s", what, msg);
}

SSL_CTX *sb_tls_ctx(const struct sb_opts *o, char *err, size_t errlen) {
    if (!o->tls) return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_err(err, errlen, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o->tls_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = o->cacert ? SSL_CTX_load_verify_locations(ctx, o->cacert, NULL)
                           : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            tls_err(err, errlen, "loading CA certificates");
            goto fail;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (o->cert && SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
        tls_err(err, errlen, "loading --cert");
        goto fail;
    }
    if ((o->key || o->cert) &&
        SSL_CTX_use_PrivateKey_file(ctx, o->key ? o->key : o->cert, SSL_FILETYPE_PEM) != 1) {
        tls_err(err, errlen, "loading --key");
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- connect --------------------------------------------------------------- */

/* Wait for ev on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, int64_t deadline) {
    for (int i = 0; i < 1000; i++) {
        int64_t left = (deadline - sb_now_ns()) / 1000000;
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)MIN(left, 1000));
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return -1;
    }
    return 0;
}

static int connect_one(int family, const struct sockaddr *sa, socklen_t len, int64_t deadline) {
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 1) goto fail;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            errno = soerr ? soerr : errno;
            goto fail;
        }
    }
    if (family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
fail : {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}
}

static int open_socket(const struct sb_opts *o, int64_t deadline, char *err, size_t errlen) {
    if (o->unix_path) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(o->unix_path) >= sizeof(sun.sun_path)) {
            snprintf(err, errlen, "unix socket path too long");
            return -1;
        }
        strcpy(sun.sun_path, o->unix_path);
        int fd = connect_one(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), deadline);
        if (fd < 0) snprintf(err, errlen, "connect %s: %s", o->unix_path, strerror(errno));
        return fd;
    }
    struct addrinfo *res;
    if (resolve(o, &res, err, errlen) < 0) return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        if (!o->allow_remote && !addr_is_loopback(a->ai_addr)) continue;
        fd = connect_one(a->ai_family, a->ai_addr, a->ai_addrlen, deadline);
    }
    if (fd < 0) snprintf(err, errlen, "connect %s:%d: %s", o->host, o->port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static int tls_handshake(struct sb_conn *c, SSL_CTX *tls, const struct sb_opts *o, int64_t deadline,
                         char *err, size_t errlen) {
    c->ssl = SSL_new(tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        tls_err(err, errlen, "SSL_new");
        return -1;
    }
    const char *name = o->sni ? o->sni : o->host;
    struct in6_addr tmp;
    bool numeric = inet_pton(AF_INET, name, &tmp) == 1 || inet_pton(AF_INET6, name, &tmp) == 1;
    if (!o->unix_path && !numeric) SSL_set_tlsext_host_name(c->ssl, name);
    if (o->tls_verify && !o->unix_path) {
        /* The certificate must name the host (or carry its IP address). */
        if (numeric)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
        else
            SSL_set1_host(c->ssl, name);
    }
    for (int i = 0; i < 10000; i++) {
        int r = SSL_connect(c->ssl);
        if (r == 1) return 0;
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) break;
        if (wait_fd(c->fd, ev, deadline) != 1) {
            snprintf(err, errlen, "TLS handshake timed out");
            return -1;
        }
    }
    tls_err(err, errlen, "TLS handshake failed");
    return -1;
}

/* ---- raw I/O --------------------------------------------------------------- */

long sb_conn_read(struct sb_conn *c, char *p, size_t n) {
    if (c->ssl) {
        int r = SSL_read(c->ssl, p, (int)MIN(n, (size_t)1 << 30));
        if (r > 0) {
            c->ssl_more = SSL_pending(c->ssl) > 0;
            return r;
        }
        c->ssl_more = false;
        int e = SSL_get_error(c->ssl, r);
        return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
    }
    for (int i = 0; i < 100; i++) {
        ssize_t r = read(c->fd, p, n);
        if (r > 0) return r;
        if (r == 0) return -1;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno != EINTR) return -1;
    }
    return 0;
}

long sb_conn_writev(struct sb_conn *c, const struct iovec *iov, int n) {
    if (c->ssl) {
        long total = 0;
        for (int i = 0; i < n; i++) {
            int r = SSL_write(c->ssl, iov[i].iov_base, (int)MIN(iov[i].iov_len, (size_t)1 << 30));
            if (r > 0) {
                total += r;
                if ((size_t)r < iov[i].iov_len) break;
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
            return total ? total : -1;
        }
        return total;
    }
    for (int i = 0; i < 100; i++) {
        ssize_t r = writev(c->fd, iov, n);
        if (r >= 0) return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno != EINTR) return -1;
    }
    return 0;
}

/* ---- setup commands ---------------------------------------------------------- */

static int flush_blocking(struct sb_conn *c, int64_t deadline) {
    struct iovec iov[16];
    for (int i = 0; i < 100000 && obuf_pending(&c->out); i++) {
        long r = sb_conn_writev(c, iov, obuf_iov(&c->out, iov, 16));
        if (r < 0) return -1;
        if (r > 0) {
            obuf_advance(&c->out, (size_t)r);
            continue;
        }
        if (wait_fd(c->fd, POLLOUT, deadline) != 1) return -1;
    }
    return obuf_pending(&c->out) ? -1 : 0;
}

/* Read one setup reply; OK: 0, error reply: 1 (text in msg), -1 broken. */
static int read_setup_reply(struct sb_conn *c, const struct sb_opts *o, int64_t deadline, char *msg,
                            size_t msglen) {
    for (int i = 0; i < 100000; i++) {
        long n;
        bool bad = false;
        const char *text = NULL;
        size_t tlen = 0;
        const char *base = c->in.data + c->rpos;
        size_t avail = c->in.len - c->rpos;
        if (o->proto == SB_PROTO_RESP) {
            struct sb_resp_reply r;
            n = sb_resp_scan(base, avail, &r, NULL);
            if (n > 0 && sb_resp_is_error(&r)) bad = true, text = r.str, tlen = r.len;
        } else {
            struct sb_mc_reply r;
            n = sb_mc_scan(base, avail, SB_MC_STATUS, &r, NULL);
            if (n > 0 && (r.error || r.line_len != 6 || memcmp(r.line, "STORED", 6) != 0))
                bad = true, text = r.line, tlen = r.line_len;
        }
        if (n < 0) return -1;
        if (n > 0) {
            snprintf(msg, msglen, "%.*s", (int)MIN(tlen, (size_t)200), text ? text : "");
            c->rpos += (size_t)n;
            return bad ? 1 : 0;
        }
        buf_reserve(&c->in, 4096);
        long r = sb_conn_read(c, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (r < 0) return -1;
        if (r > 0) {
            c->in.len += (size_t)r;
            continue;
        }
        if (!c->ssl_more && wait_fd(c->fd, POLLIN, deadline) != 1) return -1;
    }
    return -1;
}

static int setup_commands(struct sb_conn *c, const struct sb_opts *o, int64_t deadline, char *err,
                          size_t errlen) {
    int expect = 0;
    if (o->proto == SB_PROTO_RESP) {
        char db[16];
        snprintf(db, sizeof(db), "%d", o->dbnum);
        if (o->resp3) {
            const char *argv[] = {"HELLO", "3", "AUTH", o->user ? o->user : "default", o->auth};
            sb_enc_resp_argv(&c->out, o->auth ? 5 : 2, argv);
            expect++;
        } else if (o->auth) {
            /* AUTH <password> or AUTH <user> <password> */
            const char *argv[] = {"AUTH", o->user ? o->user : o->auth, o->auth};
            sb_enc_resp_argv(&c->out, o->user ? 3 : 2, argv);
            expect++;
        }
        if (o->dbnum) {
            const char *argv[] = {"SELECT", db};
            sb_enc_resp_argv(&c->out, 2, argv);
            expect++;
        }
    } else if (o->auth) {
        sb_enc_mc_auth(&c->out, o->user ? o->user : "", o->auth);
        expect++;
    }
    if (expect == 0) return 0;
    if (flush_blocking(c, deadline) < 0) {
        snprintf(err, errlen, "sending the setup commands failed");
        return -1;
    }
    for (int i = 0; i < expect; i++) {
        char msg[256];
        int r = read_setup_reply(c, o, deadline, msg, sizeof(msg));
        if (r != 0) {
            snprintf(err, errlen, "setup (%s) failed: %s",
                     o->proto == SB_PROTO_RESP ? "AUTH/HELLO/SELECT" : "authentication",
                     r < 0 ? "connection closed or timed out" : msg);
            return -1;
        }
    }
    if (c->rpos != c->in.len) {
        snprintf(err, errlen, "unexpected bytes after the setup replies");
        return -1;
    }
    c->in.len = c->rpos = 0;
    return 0;
}

int sb_conn_open(struct sb_conn *c, const struct sb_opts *o, SSL_CTX *tls, char *err,
                 size_t errlen) {
    memset(c, 0, sizeof(*c));
    obuf_init(&c->out);
    c->fd = -1;
    uint32_t per = o->multi > 1 ? o->multi : 1;
    c->pcap = (uint32_t)o->pipeline;
    c->kcap = c->pcap * per;
    c->pend = xcalloc(c->pcap, sizeof(*c->pend));
    c->keys = xcalloc(c->kcap, sizeof(*c->keys));
    buf_reserve(&c->in, 16 * 1024); /* grows with the replies */
    int64_t deadline = sb_now_ns() + (int64_t)(o->connect_timeout * 1e9);
    c->fd = open_socket(o, deadline, err, errlen);
    if (c->fd < 0) return -1;
    if (tls && tls_handshake(c, tls, o, deadline, err, errlen) < 0) return -1;
    return setup_commands(c, o, deadline, err, errlen);
}

void sb_conn_close(struct sb_conn *c) {
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* best effort: the socket is non-blocking */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    obuf_clear(&c->out);
    buf_free(&c->in);
    xfree(c->pend);
    xfree(c->keys);
    c->pend = NULL;
    c->keys = NULL;
}

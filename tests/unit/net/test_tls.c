/*
 * tests/unit/net/test_tls.c - net/tls: contexts, their errors and reloads,
 * and the client side used by replication (conn_init_tls_connect +
 * conn_tls_handshake), against the accept side of the same transport.
 *
 * Setup: throwaway certificates made with OpenSSL's API in a temporary
 * directory (a CA, a server certificate for localhost/127.0.0.1, a second
 * one, a client certificate, and another CA with its own client); an echo
 * server on 127.0.0.1 (a free port) running a net/loop on its own thread:
 * accepted connections are TLS conns registered on the loop (handshake,
 * partial writes and pending input all go through net/tls.c). The echo
 * server answers "FP?\n" with the SHA-256 of the client certificate it
 * received, in hex.
 */
#include "../test.h"
#include "base/alloc.h"
#include "net/loop.h"
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static unsigned char fp_server[32], fp_server2[32], fp_client[32];

/* ---- certificates -------------------------------------------------------------------- */

struct pair {
    EVP_PKEY *key;
    X509 *crt;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

static struct pair make(const char *cn, const struct pair *ca, bool is_ca, const char *san) {
    static long serial = 1;
    struct pair p = {EVP_EC_gen("P-256"), X509_new()};
    X509_set_version(p.crt, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(p.crt), serial++);
    X509_gmtime_adj(X509_getm_notBefore(p.crt), -3600);
    X509_gmtime_adj(X509_getm_notAfter(p.crt), 86400);
    X509_set_pubkey(p.crt, p.key);
    X509_NAME *name = X509_get_subject_name(p.crt);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(p.crt, ca ? X509_get_subject_name(ca->crt) : name);
    X509 *issuer = ca ? ca->crt : p.crt;
    if (is_ca) {
        add_ext(p.crt, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(p.crt, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    if (san) add_ext(p.crt, issuer, NID_subject_alt_name, san);
    X509_sign(p.crt, ca ? ca->key : p.key, EVP_sha256());
    return p;
}

static void save(const struct pair *p, const char *name, unsigned char *fp) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
    FILE *f = fopen(path, "w");
    PEM_write_X509(f, p->crt);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    f = fopen(path, "w");
    PEM_write_PrivateKey(f, p->key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    if (fp) {
        unsigned n;
        X509_digest(p->crt, EVP_sha256(), fp, &n);
    }
}

static void make_certs(void) {
    snprintf(dir, sizeof(dir), "/tmp/stash-tls-unit-XXXXXX");
    if (mkdtemp(dir) == NULL) abort();
    struct pair ca = make("Test CA", NULL, true, NULL);
    struct pair other = make("Other CA", NULL, true, NULL);
    struct pair all[] = {
        make("localhost", &ca, false, "DNS:localhost,IP:127.0.0.1"),
        make("localhost", &ca, false, "DNS:localhost,IP:127.0.0.1"),
        make("client", &ca, false, NULL),
        make("foreign", &other, false, NULL),
    };
    save(&ca, "ca", NULL);
    save(&other, "other-ca", NULL);
    save(&all[0], "server", fp_server);
    save(&all[1], "server2", fp_server2);
    save(&all[2], "client", fp_client);
    save(&all[3], "foreign", NULL);
    struct pair *free_me[] = {&ca, &other, &all[0], &all[1], &all[2], &all[3]};
    for (size_t i = 0; i < ARRAY_LEN(free_me); i++) {
        X509_free(free_me[i]->crt);
        EVP_PKEY_free(free_me[i]->key);
    }
}

static const char *path(const char *name, char *buf) {
    snprintf(buf, 128, "%s/%s", dir, name);
    return buf;
}

/* Options of an identity: cert/key NAME.crt/.key, trusting ca. */
static void options(struct tls_options *o, const char *name, const char *ca, char bufs[3][128]) {
    memset(o, 0, sizeof(*o));
    char n[64];
    snprintf(n, sizeof(n), "%s.crt", name);
    o->cert_file = path(n, bufs[0]);
    snprintf(n, sizeof(n), "%s.key", name);
    o->key_file = path(n, bufs[1]);
    snprintf(n, sizeof(n), "%s.crt", ca);
    o->ca_cert_file = path(n, bufs[2]);
    o->session_caching = true;
    o->session_cache_size = 100;
    o->session_cache_timeout = 60;
}

/* ---- the echo server (a loop on its own thread) ---------------------------------------- */

struct echo_conn {
    struct conn conn;
    struct echo_conn *prev, *next; /* live connections (closed at stop) */
    char *out;
    size_t len, cap, off;
    char line[4];
    int nline;
};

static struct tls_server *echo_tls;
static struct loop *echo_loop;
static struct loop_io listen_io;
static int echo_port;
static pthread_t echo_thread;
static struct echo_conn *live;

static void echo_free(void *arg) {
    struct echo_conn *e = arg;
    xfree(e->out);
    xfree(e);
}

static void echo_close(struct echo_conn *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        live = e->next;
    if (e->next) e->next->prev = e->prev;
    conn_unregister(&e->conn);
    conn_close(&e->conn);
    loop_defer(echo_loop, echo_free, e); /* after this batch (loop.h) */
}

static void queue_out(struct echo_conn *e, const char *p, size_t n) {
    if (e->len + n > e->cap) {
        e->cap = (e->len + n) * 2;
        e->out = xrealloc(e->out, e->cap);
    }
    memcpy(e->out + e->len, p, n);
    e->len += n;
}

/* Returns false when e was closed. */
static bool echo_flush(struct echo_conn *e) {
    while (e->off < e->len) {
        struct iovec v[2];
        size_t half = (e->len - e->off) / 2;
        /* Two iovecs when there is enough: exercises the gathering path. */
        int n = half > 0 && half < 8192 ? 2 : 1;
        v[0].iov_base = e->out + e->off;
        v[0].iov_len = n == 2 ? half : e->len - e->off;
        v[1].iov_base = e->out + e->off + half;
        v[1].iov_len = e->len - e->off - half;
        ssize_t w = conn_writev(&e->conn, v, n);
        if (w < 0 && errno == EAGAIN) break;
        if (w <= 0) {
            echo_close(e);
            return false;
        }
        e->off += (size_t)w;
    }
    if (e->off == e->len) e->off = e->len = 0;
    conn_set_events(&e->conn, e->len ? LOOP_READ | LOOP_WRITE : LOOP_READ);
    return true;
}

static void echo_io(struct loop_io *io, uint32_t events) {
    struct echo_conn *e = CONTAINER_OF(io, struct echo_conn, conn.io);
    if ((events & LOOP_WRITE) && !echo_flush(e)) return;
    if (!(events & LOOP_READ)) return;
    char buf[3000]; /* smaller than a record: leaves input pending inside OpenSSL */
    ssize_t n = conn_read(&e->conn, buf, sizeof(buf));
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
        echo_close(e);
        return;
    }
    if (n == 4 && memcmp(buf, "FP?\n", 4) == 0) {
        unsigned char fp[32];
        char hex[66];
        if (!conn_tls_peer_fingerprint(&e->conn, fp)) memset(fp, 0, sizeof(fp));
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", fp[i]);
        hex[64] = '\n';
        queue_out(e, hex, 65);
    } else {
        queue_out(e, buf, (size_t)n);
    }
    echo_flush(e);
}

static void on_accept(struct loop_io *io, uint32_t events) {
    int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    struct echo_conn *e = xcalloc(1, sizeof(*e));
    if (conn_init_tls_accept(&e->conn, fd, echo_tls) != 0) {
        close(fd);
        xfree(e);
        return;
    }
    e->next = live;
    if (live) live->prev = e;
    live = e;
    conn_register(&e->conn, echo_loop, echo_io, LOOP_READ);
}

static void *echo_main(void *arg) {
    loop_run(echo_loop);
    return NULL;
}

static void echo_start(void) {
    char b[3][128];
    struct tls_options o;
    options(&o, "server", "ca", b);
    o.require_ca = true;
    echo_tls = tls_server_create(TLS_DIALECT_REDIS);
    char err[512];
    if (tls_server_configure(echo_tls, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "echo server: %s\n", err);
        abort();
    }
    tls_server_set_verify(echo_tls, TLS_VERIFY_REQUIRE);
    echo_loop = loop_create();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) abort();
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    echo_port = ntohs(sa.sin_port);
    listen_io.fd = fd;
    listen_io.fn = on_accept;
    loop_add(echo_loop, &listen_io, LOOP_READ, false);
    pthread_create(&echo_thread, NULL, echo_main, NULL);
}

static void echo_stop(void) {
    loop_stop(echo_loop);
    pthread_join(echo_thread, NULL);
    while (live) {
        struct echo_conn *e = live;
        echo_close(e);
        echo_free(e);
    }
    close(listen_io.fd);
    loop_destroy(&echo_loop);
    tls_server_destroy(&echo_tls);
}

/* ---- the client side ----------------------------------------------------------------------- */

static int connect_fd(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)echo_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) abort();
    return fd;
}

/* A client identity (name.crt/.key, trusting ca) and a connection made
 * with it; 0 or the handshake's error in err. */
static struct tls_server *identity(const char *name, const char *ca, const char *client_name) {
    char b[3][128], c1[128], c2[128];
    struct tls_options o;
    options(&o, name, ca, b);
    if (client_name) {
        char n[64];
        snprintf(n, sizeof(n), "%s.crt", client_name);
        o.client_cert_file = path(n, c1);
        snprintf(n, sizeof(n), "%s.key", client_name);
        o.client_key_file = path(n, c2);
    }
    struct tls_server *s = tls_server_create(TLS_DIALECT_REDIS);
    char err[512];
    if (tls_server_configure(s, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "identity %s: %s\n", name, err);
        abort();
    }
    return s;
}

static int dial(struct conn *c, struct tls_server *id, const char *verify_name, char *err, size_t errlen) {
    int fd = connect_fd();
    if (conn_init_tls_connect(c, fd, id, verify_name, err, errlen) != 0) {
        close(fd);
        return -1;
    }
    return conn_tls_handshake(c, 5000, err, errlen);
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Send all of p and read back n bytes into out (the echo), with a deadline. */
static bool roundtrip(struct conn *c, const char *p, size_t n, char *out, size_t want) {
    size_t sent = 0, got = 0;
    int64_t deadline = now_ms() + 20000;
    while ((sent < n || got < want) && now_ms() < deadline) {
        bool progress = false;
        if (sent < n) {
            struct iovec v = {(void *)(p + sent), MIN(n - sent, (size_t)256 * 1024)};
            ssize_t w = conn_writev(c, &v, 1);
            if (w > 0) {
                sent += (size_t)w;
                progress = true;
            } else if (!(w < 0 && errno == EAGAIN)) {
                return false;
            }
        }
        for (;;) {
            if (got == want) break;
            ssize_t r = conn_read(c, out + got, want - got);
            if (r > 0) {
                got += (size_t)r;
                progress = true;
                continue;
            }
            if (r == 0 || errno != EAGAIN) return false;
            break;
        }
        if (!progress && !conn_tls_pending(c)) {
            struct pollfd pfd = {conn_fd(c), (short)(POLLIN | (sent < n ? POLLOUT : 0)), 0};
            poll(&pfd, 1, 100);
        }
    }
    return sent == n && got == want;
}

static void hex(const unsigned char *fp, char *out) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", fp[i]);
    out[64] = '\n';
}

/* ---- tests ----------------------------------------------------------------------------------- */

TEST(parse_protocols) {
    char err[256] = "";
    TEST_EXPECT_INT(tls_parse_protocols(NULL, err, sizeof(err)), TLS_PROTO_DEFAULT);
    TEST_EXPECT_INT(tls_parse_protocols("", err, sizeof(err)), TLS_PROTO_DEFAULT);
    TEST_EXPECT_INT(tls_parse_protocols("TLSv1.2", err, sizeof(err)), TLS_PROTO_TLSV1_2);
    TEST_EXPECT_INT(tls_parse_protocols("tlsv1 TLSv1.1  TLSv1.3", err, sizeof(err)),
                    TLS_PROTO_TLSV1 | TLS_PROTO_TLSV1_1 | TLS_PROTO_TLSV1_3);
    TEST_EXPECT_INT(tls_parse_protocols("TLSv1.2 SSLv3", err, sizeof(err)), -1);
    TEST_EXPECT_STR(err, "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' "
                         "and 'TLSv1.3'.");
}

TEST(configure_errors_keep_the_old_context) {
    struct tls_server *s = tls_server_create(TLS_DIALECT_REDIS);
    char b[3][128], err[512];
    struct tls_options o;
    memset(&o, 0, sizeof(o));
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT_STR(err, "No tls-cert-file configured!");
    TEST_EXPECT(!tls_server_ready(s));
    options(&o, "server", "ca", b);
    o.ca_cert_file = NULL;
    o.require_ca = true;
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "Either tls-ca-cert-file or tls-ca-cert-dir must be specified") == err);
    options(&o, "server", "ca", b);
    TEST_EXPECT_INT(tls_server_configure(s, &o, err, sizeof(err)), 0);
    TEST_EXPECT(tls_server_ready(s));
    char k[128];
    o.key_file = path("client.key", k); /* does not match server.crt */
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "Failed to load private key: ") == err);
    options(&o, "server", "ca", b);
    o.ciphers = "NOT-A-CIPHER";
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT_STR(err, "Failed to configure ciphers: NOT-A-CIPHER");
    o.ciphers = NULL;
    o.dh_params_file = "/nonexistent/dh.pem";
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT_STR(err, "Failed to load /nonexistent/dh.pem: No such file or directory");
    TEST_EXPECT(tls_server_ready(s)); /* the first good context is still in place */
    struct tls_server_stats st;
    tls_server_stats(s, &st);
    TEST_EXPECT(st.configured_at > 0);
    tls_server_destroy(&s);
    TEST_EXPECT(s == NULL);
}

TEST(memcached_dialect_messages) {
    struct tls_server *s = tls_server_create(TLS_DIALECT_MEMCACHED);
    char err[512], b[128];
    struct tls_options o;
    memset(&o, 0, sizeof(o));
    o.dialect = TLS_DIALECT_MEMCACHED;
    o.min_version = 2;
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "Error loading the certificate chain: (null) : ") == err);
    o.cert_file = "/nonexistent.crt";
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "Error loading the certificate chain: /nonexistent.crt : ") == err);
    o.cert_file = path("server.crt", b);
    TEST_EXPECT(tls_server_configure(s, &o, err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "Error loading the key: (null) : ") == err);
    TEST_EXPECT(tls_server_reload(s, err, sizeof(err)) != 0);
    TEST_EXPECT_STR(err, "Error TLS not enabled");
    tls_server_destroy(&s);
}

TEST(client_connects_and_verifies_the_server) {
    struct tls_server *id = identity("server2", "ca", "client");
    struct conn c;
    char err[512] = "";
    TEST_ASSERT(dial(&c, id, "localhost", err, sizeof(err)) == 0);
    TEST_EXPECT(conn_tls_established(&c));
    TEST_EXPECT_STR(conn_tls_version(&c), "TLSv1.3");
    TEST_EXPECT(conn_tls_cipher(&c)[0] != '\0');
    unsigned char fp[32];
    TEST_EXPECT(conn_tls_peer_fingerprint(&c, fp) && memcmp(fp, fp_server, 32) == 0);
    char out[128], want[66];
    TEST_EXPECT(roundtrip(&c, "hello\n", 6, out, 6) && memcmp(out, "hello\n", 6) == 0);
    /* The client certificate is the one the server saw. */
    hex(fp_client, want);
    TEST_EXPECT(roundtrip(&c, "FP?\n", 4, out, 65) && memcmp(out, want, 65) == 0);
    conn_close(&c);
    /* By IP address too. */
    TEST_ASSERT(dial(&c, id, "127.0.0.1", err, sizeof(err)) == 0);
    conn_close(&c);
    tls_server_destroy(&id);
}

TEST(server_certificate_is_the_client_certificate_when_none_is_set) {
    struct tls_server *id = identity("server2", "ca", NULL); /* as Redis: tls-cert-file */
    struct conn c;
    char err[512] = "", out[128], want[66];
    TEST_ASSERT(dial(&c, id, NULL, err, sizeof(err)) == 0);
    hex(fp_server2, want);
    TEST_EXPECT(roundtrip(&c, "FP?\n", 4, out, 65) && memcmp(out, want, 65) == 0);
    conn_close(&c);
    tls_server_destroy(&id);
}

TEST(untrusted_or_misnamed_server_is_refused) {
    struct tls_server *id = identity("client", "other-ca", NULL); /* does not trust the server's CA */
    struct conn c;
    char err[512] = "";
    TEST_EXPECT(dial(&c, id, NULL, err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "certificate verify failed") != NULL);
    TEST_EXPECT(!conn_tls_established(&c));
    conn_close(&c);
    tls_server_destroy(&id);
    id = identity("client", "ca", NULL);
    TEST_EXPECT(dial(&c, id, "db.example.com", err, sizeof(err)) != 0);
    TEST_EXPECT(strstr(err, "certificate verify failed") != NULL);
    conn_close(&c);
    TEST_EXPECT(dial(&c, id, "10.1.2.3", err, sizeof(err)) != 0);
    conn_close(&c);
    tls_server_destroy(&id);
}

TEST(server_refuses_a_foreign_client_certificate) {
    struct tls_server *id = identity("foreign", "ca", NULL);
    struct conn c;
    char err[512] = "", out[8];
    /* TLS 1.3: the client finishes first; the refusal shows at the first read. */
    int rc = dial(&c, id, NULL, err, sizeof(err));
    TEST_EXPECT(rc != 0 || !roundtrip(&c, "hi\n", 3, out, 3));
    conn_close(&c);
    tls_server_destroy(&id);
}

TEST(big_echo_partial_writes_and_pending_input) {
    struct tls_server *id = identity("server2", "ca", "client");
    struct conn c;
    char err[512] = "";
    TEST_ASSERT(dial(&c, id, NULL, err, sizeof(err)) == 0);
    size_t n = 4u << 20;
    char *in = xmalloc(n), *out = xmalloc(n);
    for (size_t i = 0; i < n; i++) in[i] = (char)(i * 7 + (i >> 12));
    TEST_EXPECT(roundtrip(&c, in, n, out, n));
    TEST_EXPECT(memcmp(in, out, n) == 0);
    xfree(in);
    xfree(out);
    conn_close(&c);
    tls_server_destroy(&id);
}

TEST(reload_serves_the_new_certificate_to_new_connections_only) {
    struct tls_server *id = identity("server2", "ca", "client");
    struct conn before, after;
    char err[512] = "", out[16];
    unsigned char fp[32];
    TEST_ASSERT(dial(&before, id, NULL, err, sizeof(err)) == 0);
    char b[3][128];
    struct tls_options o;
    options(&o, "server2", "ca", b);
    TEST_ASSERT(tls_server_configure(echo_tls, &o, err, sizeof(err)) == 0);
    TEST_ASSERT(dial(&after, id, NULL, err, sizeof(err)) == 0);
    TEST_EXPECT(conn_tls_peer_fingerprint(&after, fp) && memcmp(fp, fp_server2, 32) == 0);
    TEST_EXPECT(conn_tls_peer_fingerprint(&before, fp) && memcmp(fp, fp_server, 32) == 0);
    TEST_EXPECT(roundtrip(&before, "old\n", 4, out, 4) && memcmp(out, "old\n", 4) == 0);
    TEST_EXPECT(roundtrip(&after, "new\n", 4, out, 4) && memcmp(out, "new\n", 4) == 0);
    conn_close(&before);
    conn_close(&after);
    options(&o, "server", "ca", b);
    TEST_EXPECT(tls_server_configure(echo_tls, &o, err, sizeof(err)) == 0);
    struct tls_server_stats st;
    tls_server_stats(echo_tls, &st);
    TEST_EXPECT(st.handshakes >= 2);
    tls_server_destroy(&id);
}

/* The client side on an event loop, as a replica's link on a worker: the
 * loop drives connect + handshake, then the user's handler sends a line
 * (wanting LOOP_WRITE before the handshake is over) and reads the echo. */
struct looped {
    struct conn conn;
    struct loop *loop;
    char got[64];
    size_t ngot;
    bool sent, established_seen;
};

static void looped_io(struct loop_io *io, uint32_t events) {
    struct looped *l = CONTAINER_OF(io, struct looped, conn.io);
    if (conn_tls_established(&l->conn)) l->established_seen = true;
    if ((events & LOOP_WRITE) && !l->sent) {
        struct iovec v = {"ping\n", 5};
        ssize_t w = conn_writev(&l->conn, &v, 1);
        if (w == 5) {
            l->sent = true;
            conn_set_events(&l->conn, LOOP_READ);
        } else if (!(w < 0 && errno == EAGAIN)) {
            loop_stop(l->loop);
        }
    }
    if (events & LOOP_READ) {
        ssize_t n = conn_read(&l->conn, l->got + l->ngot, sizeof(l->got) - 1 - l->ngot);
        if (n > 0) l->ngot += (size_t)n;
        if ((n < 0 && errno != EAGAIN) || n == 0 || l->ngot >= 5) loop_stop(l->loop);
    }
}

static void looped_timeout(void *arg) { loop_stop(arg); }

TEST(client_handshake_driven_by_a_loop) {
    struct tls_server *id = identity("server2", "ca", "client");
    struct looped l;
    memset(&l, 0, sizeof(l));
    char err[512] = "";
    l.loop = loop_create();
    TEST_ASSERT(conn_init_tls_connect(&l.conn, connect_fd(), id, "localhost", err, sizeof(err)) == 0);
    TEST_ASSERT(conn_register(&l.conn, l.loop, looped_io, LOOP_READ | LOOP_WRITE) == 0);
    /* Writing before the handshake is over only says "later". */
    struct iovec v = {"x", 1};
    TEST_EXPECT(conn_writev(&l.conn, &v, 1) == -1 && errno == EAGAIN);
    loop_timer_add(l.loop, 5000, looped_timeout, l.loop);
    loop_run(l.loop);
    TEST_EXPECT(l.established_seen && l.sent);
    TEST_EXPECT(l.ngot == 5 && memcmp(l.got, "ping\n", 5) == 0);
    conn_unregister(&l.conn);
    conn_close(&l.conn);
    loop_destroy(&l.loop);
    tls_server_destroy(&id);
}

TEST(handshake_timeout_against_a_silent_peer) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    struct tls_server *id = identity("client", "ca", NULL);
    struct conn c;
    char err[512] = "";
    TEST_ASSERT(conn_init_tls_connect(&c, fd, id, NULL, err, sizeof(err)) == 0);
    TEST_EXPECT(conn_tls_handshake(&c, 200, err, sizeof(err)) != 0);
    TEST_EXPECT_STR(err, "TLS handshake timed out");
    conn_close(&c);
    close(lfd);
    tls_server_destroy(&id);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    make_certs();
    echo_start();
    int rc = test_run_all();
    echo_stop();
    const char *names[] = {"ca", "other-ca", "server", "server2", "client", "foreign"};
    char p[128];
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(p, sizeof(p), "%s/%s.crt", dir, names[i]);
        unlink(p);
        snprintf(p, sizeof(p), "%s/%s.key", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return rc;
}

/*
 * net/tls.c - TLS contexts and the TLS transport of struct conn; see tls.h.
 *
 * Contexts. tls_server_configure() builds an SSL_CTX for accepted
 * connections (certificate chain, key, CA, protocols, ciphers, session
 * cache, DH parameters; renegotiation off) and, when a client certificate
 * is configured, a second one for outgoing connections; then swaps them
 * into the server under its mutex. Readers take a reference under the same
 * mutex and create their SSL object after releasing it (tls.h: lifetime).
 *
 * The transport. A TLS conn interposes tls_on_io() as its loop handler:
 *
 *   handshaking --(SSL_do_handshake done)--> established --(close)--> gone
 *        \--(fails: logged, counted)------> failed: reads/writes fail, the
 *                                            user's handler is told once
 *
 * While established, the user's logical events map onto socket events:
 *   - a read that OpenSSL answers with WANT_WRITE (post-handshake messages)
 *     sets READ_WANT_WRITE: the socket is watched for writability, and
 *     writability then calls the handler as readable;
 *   - a write answered with WANT_READ sets WRITE_WANT_READ, symmetrically.
 * Decrypted (or read-ahead) bytes left in OpenSSL after a read that filled
 * the caller's buffer are not signalled by epoll: the conn queues one
 * loop_defer callback (PENDING) that calls the handler as readable after
 * the batch; it stops as soon as a read makes no progress.
 *
 * Writes. SSL_MODE_ENABLE_PARTIAL_WRITE returns after each record, and
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the retry after WANT_WRITE to
 * come from another address: callers (exec/client.c's output queue) retry
 * with the same leading bytes, never fewer. Small iovecs are gathered into a
 * per-thread 16 KiB staging buffer so that a pipeline's replies leave as one
 * record and one write(2), not one per reply; a large head iovec (a big
 * value) is written in place, record by record.
 *
 * Reads land in the caller's buffer (the worker's shared input buffer, or
 * a client's own): SSL_read decrypts straight into it, so exec/client.c's
 * zero-copy parsing works on TLS input unchanged. read_ahead lets one
 * read(2) fetch several records.
 *
 * Shutdown: an established conn sends close_notify (SSL_shutdown, not
 * waiting for the peer's); a failed one does not (OpenSSL forbids it).
 *
 * Thread context: a conn is [owner]; the error text buffer is per thread.
 */
#include "net/tls.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* conn->tls_state */
enum { TLS_HANDSHAKING = 1, TLS_ESTABLISHED = 2, TLS_FAILED = 3 };
/* conn->tls_flags */
#define F_READ_WANT_WRITE 0x01u
#define F_WRITE_WANT_READ 0x02u
#define F_HS_WANT_WRITE 0x04u /* the handshake waits for writability */
#define F_PENDING 0x08u       /* a deferred read is queued */
#define F_CLIENT 0x10u        /* we connected (the peer is a server) */

#define STAGE_SIZE (16 * 1024)

struct tls_server {
    pthread_mutex_t mu; /* guards ctx, client_ctx, last (leaf lock) */
    SSL_CTX *ctx;
    SSL_CTX *client_ctx;
    enum tls_dialect dialect;
    _Atomic int verify;
    _Atomic uint64_t handshakes, handshake_errors, new_sessions;
    _Atomic int64_t configured_at;
    pthread_mutex_t cfg_mu; /* serialises configure/reload; taken before mu */
    struct tls_options last; /* deep copy of the last successful options */
};

static __thread char last_error[256];
static __thread char stage[STAGE_SIZE];
static int server_index = -1; /* SSL ex_data slot: the tls_server of an accepted conn */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

const char *tls_last_error(void) { return last_error; }

/* Record (and return) OpenSSL's first queued error, or `fallback`. The
 * queue is emptied: it must be empty before the next I/O call. */
static const char *take_error(const char *fallback) {
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, last_error, sizeof(last_error));
    else
        snprintf(last_error, sizeof(last_error), "%s", fallback ? fallback : "");
    ERR_clear_error();
    return last_error;
}

static void do_init(void) {
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
                     NULL);
    server_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void tls_init(void) { pthread_once(&init_once, do_init); }

static bool empty(const char *s) { return s == NULL || s[0] == '\0'; }
static const char *or_null(const char *s) { return empty(s) ? NULL : s; }

/* ---- options ------------------------------------------------------------------ */

int tls_parse_protocols(const char *s, char *err, size_t errlen) {
    if (empty(s)) return (int)TLS_PROTO_DEFAULT;
    int protocols = 0;
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (strcasecmp(t, "tlsv1") == 0)
            protocols |= TLS_PROTO_TLSV1;
        else if (strcasecmp(t, "tlsv1.1") == 0)
            protocols |= TLS_PROTO_TLSV1_1;
        else if (strcasecmp(t, "tlsv1.2") == 0)
            protocols |= TLS_PROTO_TLSV1_2;
        else if (strcasecmp(t, "tlsv1.3") == 0)
            protocols |= TLS_PROTO_TLSV1_3;
        else {
            snprintf(err, errlen,
                     "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and "
                     "'TLSv1.3'.");
            return -1;
        }
    }
    return protocols;
}

static char *dup_or_null(const char *s) { return empty(s) ? NULL : xstrdup(s); }

static void options_copy(struct tls_options *dst, const struct tls_options *src) {
    *dst = *src;
    dst->cert_file = dup_or_null(src->cert_file);
    dst->key_file = dup_or_null(src->key_file);
    dst->key_pass = dup_or_null(src->key_pass);
    dst->client_cert_file = dup_or_null(src->client_cert_file);
    dst->client_key_file = dup_or_null(src->client_key_file);
    dst->client_key_pass = dup_or_null(src->client_key_pass);
    dst->dh_params_file = dup_or_null(src->dh_params_file);
    dst->ca_cert_file = dup_or_null(src->ca_cert_file);
    dst->ca_cert_dir = dup_or_null(src->ca_cert_dir);
    dst->protocols = dup_or_null(src->protocols);
    dst->ciphers = dup_or_null(src->ciphers);
    dst->ciphersuites = dup_or_null(src->ciphersuites);
}

static void options_free(struct tls_options *o) {
    const char *all[] = {o->cert_file,      o->key_file,     o->key_pass,       o->client_cert_file,
                         o->client_key_file, o->client_key_pass, o->dh_params_file, o->ca_cert_file,
                         o->ca_cert_dir,    o->protocols,    o->ciphers,        o->ciphersuites};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) xfree((void *)all[i]);
    memset(o, 0, sizeof(*o));
}

/* ---- contexts ------------------------------------------------------------------- */

static int password_cb(char *buf, int size, int rwflag, void *u) {
    const char *pass = u;
    if (pass == NULL) return -1;
    size_t n = strlen(pass);
    if (n > (size_t)size) return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
    struct tls_server *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (s) atomic_fetch_add_explicit(&s->new_sessions, 1, memory_order_relaxed);
    return 0; /* we keep no reference to the session */
}

static void set_protocols(SSL_CTX *ctx, const struct tls_options *o, int protocols) {
    if (o->dialect == TLS_DIALECT_MEMCACHED) {
        static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
        int v = o->min_version >= 0 && o->min_version <= 3 ? o->min_version : 2;
        SSL_CTX_set_min_proto_version(ctx, versions[v]);
        return;
    }
    if (!(protocols & TLS_PROTO_TLSV1)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1);
    if (!(protocols & TLS_PROTO_TLSV1_1)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_1);
    if (!(protocols & TLS_PROTO_TLSV1_2)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_2);
    if (!(protocols & TLS_PROTO_TLSV1_3)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_3);
}

/* Certificate chain and key (the server's, or with `client` the client's). */
static int load_identity(SSL_CTX *ctx, const struct tls_options *o, bool client, char *err, size_t errlen) {
    const char *cert = client ? o->client_cert_file : o->cert_file;
    const char *key = client ? o->client_key_file : o->key_file;
    const char *pass = client ? o->client_key_pass : o->key_pass;
    bool mc = o->dialect == TLS_DIALECT_MEMCACHED;
    int rc = 0;
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)or_null(pass));
    /* (Redis refused empty names before: these are memcached's words.) */
    if (empty(cert) || SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
        take_error("no file given");
        if (mc)
            snprintf(err, errlen, "Error loading the certificate chain: %s : %s", empty(cert) ? "(null)" : cert,
                     last_error);
        else
            snprintf(err, errlen, "Failed to load certificate: %s: %s", cert, last_error);
        rc = ERR_INVAL;
    } else if (empty(key) || SSL_CTX_use_PrivateKey_file(ctx, key, mc && o->key_format == 2 ? SSL_FILETYPE_ASN1
                                                                                             : SSL_FILETYPE_PEM) <= 0) {
        take_error("no file given");
        if (mc)
            snprintf(err, errlen, "Error loading the key: %s : %s", empty(key) ? "(null)" : key, last_error);
        else
            snprintf(err, errlen, "Failed to load private key: %s: %s", key, last_error);
        rc = ERR_INVAL;
    } else if (!SSL_CTX_check_private_key(ctx)) {
        take_error(NULL);
        snprintf(err, errlen, mc ? "Error validating the certificate: %s" : "Failed to load private key: %s",
                 last_error);
        rc = ERR_INVAL;
    }
    /* The password is needed only while loading. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    return rc;
}

static int load_ca(SSL_CTX *ctx, const struct tls_options *o, char *err, size_t errlen) {
    const char *file = or_null(o->ca_cert_file), *dir = or_null(o->ca_cert_dir);
    if (!file && !dir) return 0;
    if (SSL_CTX_load_verify_locations(ctx, file, dir) <= 0) {
        take_error(NULL);
        if (o->dialect == TLS_DIALECT_MEMCACHED)
            snprintf(err, errlen, "Error loading the CA certificate: %s : %s", file ? file : "", last_error);
        else
            snprintf(err, errlen, "Failed to configure CA certificate(s) file/directory: %s", last_error);
        return ERR_INVAL;
    }
    if (o->dialect == TLS_DIALECT_MEMCACHED && file) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);
        if (names) SSL_CTX_set_client_CA_list(ctx, names);
    }
    return 0;
}

static int load_dh(SSL_CTX *ctx, const char *path, char *err, size_t errlen) {
    if (empty(path)) {
        SSL_CTX_set_dh_auto(ctx, 1);
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "Failed to load %s: %s", path, strerror(errno));
        return ERR_INVAL;
    }
    BIO *bio = BIO_new_fp(f, BIO_CLOSE);
    EVP_PKEY *dh = bio ? PEM_read_bio_Parameters(bio, NULL) : NULL;
    if (bio)
        BIO_free(bio);
    else
        fclose(f);
    if (dh == NULL || EVP_PKEY_get_base_id(dh) != EVP_PKEY_DH) {
        EVP_PKEY_free(dh);
        ERR_clear_error();
        snprintf(err, errlen, "%s: failed to read DH params.", path);
        return ERR_INVAL;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) <= 0) {
        take_error(NULL);
        EVP_PKEY_free(dh);
        snprintf(err, errlen, "Failed to load DH params file: %s: %s", path, last_error);
        return ERR_INVAL;
    }
    return 0; /* dh is the context's now */
}

/* A context with what accepted and outgoing connections share. */
static SSL_CTX *base_context(const struct tls_options *o, int protocols, bool client, char *err, size_t errlen) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "SSL_CTX_new: %s", take_error("out of memory"));
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_DH_USE);
#ifdef SSL_OP_NO_CLIENT_RENEGOTIATION
    SSL_CTX_set_options(ctx, SSL_OP_NO_CLIENT_RENEGOTIATION);
#endif
    set_protocols(ctx, o, protocols);
    /* RELEASE_BUFFERS: an idle connection gives back its record buffers
     * (measured: 25.7 instead of 34.5 KiB per idle TLS connection, for
     * about 950 more instructions per small request, 6% of its TLS cost). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Outgoing: the peer (a server) must present a chain that verifies.
     * Accepted: replaced per connection by the server's verify mode. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (load_identity(ctx, o, client, err, errlen) != 0 || load_ca(ctx, o, err, errlen) != 0) goto fail;
    if (!empty(o->ciphers) && !SSL_CTX_set_cipher_list(ctx, o->ciphers)) {
        ERR_clear_error();
        snprintf(err, errlen, o->dialect == TLS_DIALECT_MEMCACHED ? "Error setting the provided cipher(s): %s"
                                                                   : "Failed to configure ciphers: %s",
                 o->ciphers);
        goto fail;
    }
    if (!empty(o->ciphersuites) && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites)) {
        ERR_clear_error();
        snprintf(err, errlen, "Failed to configure ciphersuites: %s", o->ciphersuites);
        goto fail;
    }
    if (o->kernel_tls) {
#ifdef SSL_OP_ENABLE_KTLS
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#else
        snprintf(err, errlen, "Kernel TLS offload is not available");
        goto fail;
#endif
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* The context of accepted connections: base + session cache + DH. */
static SSL_CTX *server_context(struct tls_server *s, const struct tls_options *o, int protocols, char *err,
                               size_t errlen) {
    SSL_CTX *ctx = base_context(o, protocols, false, err, errlen);
    if (ctx == NULL) return NULL;
    SSL_CTX_set_app_data(ctx, s);
    if (o->session_caching) {
        const char *sid = o->dialect == TLS_DIALECT_MEMCACHED ? "memcached" : "stash";
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        if (o->dialect == TLS_DIALECT_REDIS) {
            SSL_CTX_sess_set_cache_size(ctx, o->session_cache_size);
            SSL_CTX_set_timeout(ctx, o->session_cache_timeout);
        }
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid, (unsigned)strlen(sid));
        SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (o->prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (load_dh(ctx, o->dh_params_file, err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct tls_server *tls_server_create(enum tls_dialect dialect) {
    tls_init();
    struct tls_server *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->cfg_mu, NULL);
    s->dialect = dialect;
    atomic_init(&s->verify, dialect == TLS_DIALECT_REDIS ? TLS_VERIFY_REQUIRE : TLS_VERIFY_NONE);
    return s;
}

void tls_server_destroy(struct tls_server **sp) {
    struct tls_server *s = *sp;
    if (s == NULL) return;
    SSL_CTX_free(s->ctx);
    SSL_CTX_free(s->client_ctx);
    options_free(&s->last);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->cfg_mu);
    xfree(s);
    *sp = NULL;
}

static int configure_locked(struct tls_server *s, const struct tls_options *o, char *err, size_t errlen) {
    bool redis = o->dialect == TLS_DIALECT_REDIS;
    if (redis && empty(o->cert_file)) {
        snprintf(err, errlen, "No tls-cert-file configured!");
        return ERR_INVAL;
    }
    if (redis && empty(o->key_file)) {
        snprintf(err, errlen, "No tls-key-file configured!");
        return ERR_INVAL;
    }
    if (o->require_ca && empty(o->ca_cert_file) && empty(o->ca_cert_dir)) {
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication "
                 "or tls-auth-clients are enabled!");
        return ERR_INVAL;
    }
    int protocols = (int)TLS_PROTO_DEFAULT;
    if (redis && (protocols = tls_parse_protocols(o->protocols, err, errlen)) < 0) return ERR_INVAL;
    SSL_CTX *ctx = server_context(s, o, protocols, err, errlen);
    if (ctx == NULL) return ERR_INVAL;
    SSL_CTX *client = NULL;
    if (!empty(o->client_cert_file) && !empty(o->client_key_file)) {
        client = base_context(o, protocols, true, err, errlen);
        if (client == NULL) {
            SSL_CTX_free(ctx);
            return ERR_INVAL;
        }
    }
    pthread_mutex_lock(&s->mu);
    SSL_CTX *old = s->ctx, *old_client = s->client_ctx;
    s->ctx = ctx;
    s->client_ctx = client;
    pthread_mutex_unlock(&s->mu);
    /* Connections still using the old contexts hold their own references. */
    SSL_CTX_free(old);
    SSL_CTX_free(old_client);
    if (&s->last != o) {
        options_free(&s->last);
        options_copy(&s->last, o);
    }
    atomic_store_explicit(&s->configured_at, (int64_t)time(NULL), memory_order_relaxed);
    return 0;
}

int tls_server_configure(struct tls_server *s, const struct tls_options *o, char *err, size_t errlen) {
    pthread_mutex_lock(&s->cfg_mu);
    int rc = configure_locked(s, o, err, errlen);
    ERR_clear_error(); /* leave nothing behind on this thread (see ssl_io) */
    pthread_mutex_unlock(&s->cfg_mu);
    return rc;
}

int tls_server_reload(struct tls_server *s, char *err, size_t errlen) {
    pthread_mutex_lock(&s->cfg_mu);
    int rc;
    if (s->ctx == NULL) {
        snprintf(err, errlen, "Error TLS not enabled");
        rc = ERR_INVAL;
    } else {
        rc = configure_locked(s, &s->last, err, errlen);
        ERR_clear_error();
    }
    pthread_mutex_unlock(&s->cfg_mu);
    return rc;
}

bool tls_server_ready(struct tls_server *s) {
    pthread_mutex_lock(&s->mu);
    bool ready = s->ctx != NULL;
    pthread_mutex_unlock(&s->mu);
    return ready;
}

void tls_server_set_verify(struct tls_server *s, enum tls_verify v) {
    atomic_store_explicit(&s->verify, (int)v, memory_order_relaxed);
}

void tls_server_stats(const struct tls_server *s, struct tls_server_stats *st) {
    st->handshakes = atomic_load_explicit(&s->handshakes, memory_order_relaxed);
    st->handshake_errors = atomic_load_explicit(&s->handshake_errors, memory_order_relaxed);
    st->new_sessions = atomic_load_explicit(&s->new_sessions, memory_order_relaxed);
    st->configured_at = atomic_load_explicit(&s->configured_at, memory_order_relaxed);
}

/* A reference to the current context (the client one if asked and set). */
static SSL_CTX *context_ref(struct tls_server *s, bool client) {
    pthread_mutex_lock(&s->mu);
    SSL_CTX *ctx = client && s->client_ctx ? s->client_ctx : s->ctx;
    if (ctx) SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&s->mu);
    return ctx;
}

/* ---- the transport ------------------------------------------------------------------ */

/* The socket events the conn's state needs. */
static uint32_t socket_events(const struct conn *c) {
    if (c->tls_state == TLS_HANDSHAKING) return (c->tls_flags & F_HS_WANT_WRITE) ? LOOP_WRITE : LOOP_READ;
    if (c->tls_state == TLS_FAILED) return LOOP_READ;
    /* While a read waits for writability (or a write for input), the
     * socket's own readiness for it would only spin the loop. */
    uint32_t ev = c->want, f = c->tls_flags & (F_READ_WANT_WRITE | F_WRITE_WANT_READ);
    if (f == F_READ_WANT_WRITE) ev = (ev & ~LOOP_READ) | LOOP_WRITE;
    if (f == F_WRITE_WANT_READ) ev = (ev & ~LOOP_WRITE) | LOOP_READ;
    if (f == (F_READ_WANT_WRITE | F_WRITE_WANT_READ)) ev = LOOP_READ | LOOP_WRITE;
    return ev;
}

static void update_events(struct conn *c) {
    if (c->loop && c->io.fd >= 0) loop_mod(c->loop, &c->io, socket_events(c));
}

static void pending_cb(void *arg);

static void queue_pending(struct conn *c) {
    if (c->tls_flags & F_PENDING) return;
    c->tls_flags |= F_PENDING;
    loop_defer(c->loop, pending_cb, c);
}

int conn_tls_set_events(struct conn *c, uint32_t events) {
    c->want = events;
    if (c->ssl == NULL || c->io.fd < 0) return 0;
    update_events(c);
    /* Input left inside OpenSSL while reads were not wanted. */
    if ((events & LOOP_READ) && c->tls_state == TLS_ESTABLISHED && c->loop && SSL_has_pending(c->ssl))
        queue_pending(c);
    return 0;
}

/* Is this queued error OpenSSL 3's report of a peer that closed the TCP
 * connection without close_notify? */
static bool eof_error(unsigned long err) {
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    return ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#else
    return err == 0;
#endif
}

/* OpenSSL said no to an I/O call (SSL_get_error's e): map it onto
 * read(2)/write(2) results. `first`: the error of a first attempt, if any
 * (see ssl_io). */
static ssize_t io_failed(struct conn *c, int e, bool reading, const char *first) {
    switch (e) {
    case SSL_ERROR_WANT_READ:
        if (!reading) c->tls_flags |= F_WRITE_WANT_READ;
        update_events(c);
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (reading) c->tls_flags |= F_READ_WANT_WRITE;
        update_events(c);
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify from the peer */
        ERR_clear_error();
        if (reading) return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL: {
        int saved = errno;
        c->tls_state = TLS_FAILED;
        take_error(saved ? strerror(saved) : "connection closed");
        if (first[0]) log_verbose("TLS error on fd %d: %s", c->io.fd, first);
        if (reading && saved == 0) return 0;
        errno = saved ? saved : EPIPE;
        return -1;
    }
    default: {
        c->tls_state = TLS_FAILED;
        bool eof = eof_error(ERR_peek_error());
        take_error("TLS error");
        if (reading && eof) return 0;
        if (!eof) log_verbose("TLS error on fd %d: %s", c->io.fd, first[0] ? first : last_error);
        errno = ECONNRESET;
        return -1;
    }
    }
}

/* SSL_read or SSL_write.
 *
 * OpenSSL wants the thread's error queue empty before an I/O call, or
 * SSL_get_error may blame an old error for a mere WANT_READ. Emptying it
 * (ERR_clear_error: 16 slots, two frees each) costs about 1,800
 * instructions, a tenth of a small request over TLS, so it is not done
 * before every call. Instead this file never leaves errors behind (it
 * empties the queue whenever it sees one, and after loading contexts), and
 * a call that fails with SSL_ERROR_SSL is tried once more on an emptied
 * queue, in case the error was left by other code on this thread. A call
 * that really failed fails again (the connection is dead either way); the
 * first error is the one logged. */
static ssize_t ssl_io(struct conn *c, bool reading, void *buf, int len) {
    char first[sizeof(last_error)];
    first[0] = '\0';
    for (int attempt = 0;; attempt++) {
        int r = reading ? SSL_read(c->ssl, buf, len) : SSL_write(c->ssl, buf, len);
        if (LIKELY(r > 0)) return r;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_SSL || attempt > 0 || eof_error(ERR_peek_error())) return io_failed(c, e, reading, first);
        snprintf(first, sizeof(first), "%s", take_error("TLS error"));
    }
}

static ssize_t tls_read(struct conn *c, void *buf, size_t len) {
    if (UNLIKELY(c->tls_state != TLS_ESTABLISHED)) {
        errno = c->tls_state == TLS_HANDSHAKING ? EAGAIN : ECONNRESET;
        return -1;
    }
    ssize_t n = ssl_io(c, true, buf, len > INT_MAX ? INT_MAX : (int)len);
    /* More already inside OpenSSL: epoll will not say so. */
    if (n > 0 && SSL_has_pending(c->ssl) && c->loop) queue_pending(c);
    return n;
}

static ssize_t tls_writev(struct conn *c, const struct iovec *iov, int n) {
    if (UNLIKELY(c->tls_state != TLS_ESTABLISHED)) {
        errno = c->tls_state == TLS_HANDSHAKING ? EAGAIN : EPIPE;
        return -1;
    }
    void *p = iov[0].iov_base;
    size_t len = iov[0].iov_len;
    if (n > 1 && len < STAGE_SIZE) {
        /* Gather small buffers into one record (and one write(2)). */
        len = 0;
        for (int i = 0; i < n && len < STAGE_SIZE; i++) {
            size_t k = MIN(iov[i].iov_len, STAGE_SIZE - len);
            memcpy(stage + len, iov[i].iov_base, k);
            len += k;
        }
        p = stage;
    }
    return ssl_io(c, false, p, len > INT_MAX ? INT_MAX : (int)len);
}

static void tls_close(struct conn *c) {
    if (c->ssl) {
        if (c->tls_state == TLS_ESTABLISHED) {
            ERR_clear_error();
            SSL_shutdown(c->ssl); /* close_notify; the peer's is not awaited */
            ERR_clear_error();
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    c->tls_flags &= ~F_PENDING;
    if (c->io.fd >= 0) close(c->io.fd);
    c->io.fd = -1;
}

static const struct conn_ops tls_ops = {tls_read, tls_writev, tls_close};

/* One step of the handshake: 0 done, ERR_AGAIN to wait, ERR_PROTO failed. */
static int handshake_step(struct conn *c) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->tls_state = TLS_ESTABLISHED;
        c->tls_flags &= ~F_HS_WANT_WRITE;
        if (!(c->tls_flags & F_CLIENT)) {
            struct tls_server *s = SSL_get_ex_data(c->ssl, server_index);
            if (s) atomic_fetch_add_explicit(&s->handshakes, 1, memory_order_relaxed);
        }
        return 0;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        c->tls_flags &= ~F_HS_WANT_WRITE;
        return ERR_AGAIN;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->tls_flags |= F_HS_WANT_WRITE;
        return ERR_AGAIN;
    }
    int saved = errno;
    c->tls_state = TLS_FAILED;
    /* A peer that hangs up without a word (a port probe) is not news. */
    unsigned long first = ERR_peek_error();
    bool quiet = (e == SSL_ERROR_SYSCALL && first == 0 && (saved == 0 || saved == ECONNRESET)) || eof_error(first);
    take_error(e == SSL_ERROR_SYSCALL ? (saved ? strerror(saved) : "connection closed by peer") : "TLS error");
    if (!(c->tls_flags & F_CLIENT)) {
        struct tls_server *s = SSL_get_ex_data(c->ssl, server_index);
        if (s && !quiet) atomic_fetch_add_explicit(&s->handshake_errors, 1, memory_order_relaxed);
        if (quiet || (s && s->dialect == TLS_DIALECT_MEMCACHED))
            log_verbose("Error accepting a client connection: %s", last_error);
        else
            log_warn("Error accepting a client connection: %s", last_error);
    }
    return ERR_PROTO;
}

static void tls_on_io(struct loop_io *io, uint32_t events) {
    struct conn *c = CONTAINER_OF(io, struct conn, io);
    uint32_t ev = 0;
    if (c->tls_state == TLS_HANDSHAKING) {
        if (handshake_step(c) == ERR_AGAIN) {
            update_events(c);
            return;
        }
        update_events(c);
        /* Done (or failed): the user reads now, and learns which. */
        ev = LOOP_READ | (c->want & LOOP_WRITE);
    } else {
        if (events & LOOP_READ) {
            if (c->want & LOOP_READ) ev |= LOOP_READ;
            if (c->tls_flags & F_WRITE_WANT_READ) ev |= LOOP_WRITE;
        }
        if (events & LOOP_WRITE) {
            if (c->want & LOOP_WRITE) ev |= LOOP_WRITE;
            if (c->tls_flags & F_READ_WANT_WRITE) ev |= LOOP_READ;
        }
        if (c->tls_state == TLS_FAILED) ev |= LOOP_READ;
        if (ev & LOOP_READ) c->tls_flags &= ~F_READ_WANT_WRITE;
        if (ev & LOOP_WRITE) c->tls_flags &= ~F_WRITE_WANT_READ;
    }
    if (ev) c->user_fn(io, ev);
    if (c->ssl) update_events(c); /* c may have been closed by the user */
}

/* Bytes OpenSSL holds that epoll will not announce: serve them. */
static void pending_cb(void *arg) {
    struct conn *c = arg;
    if (!(c->tls_flags & F_PENDING)) return; /* closed meanwhile */
    c->tls_flags &= ~F_PENDING;
    if (c->ssl == NULL || c->tls_state != TLS_ESTABLISHED || !(c->want & LOOP_READ)) return;
    if (!SSL_has_pending(c->ssl)) return;
    c->user_fn(&c->io, LOOP_READ);
    if (c->ssl) update_events(c);
}

int conn_tls_register(struct conn *c, struct loop *l, loop_io_fn fn, uint32_t events) {
    c->loop = l;
    c->user_fn = fn;
    c->want = events;
    c->io.fn = tls_on_io;
    return loop_add(l, &c->io, socket_events(c), false);
}

static int wrap(struct conn *c, int fd, SSL_CTX *ctx, bool client, char *err, size_t errlen) {
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* ssl holds its own reference */
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        snprintf(err, errlen, "SSL_new: %s", take_error("out of memory"));
        SSL_free(ssl);
        return ERR_NOMEM;
    }
    memset(c, 0, sizeof(*c));
    c->io.fd = fd;
    c->ops = &tls_ops;
    c->ssl = ssl;
    c->tls_state = TLS_HANDSHAKING;
    c->tls_flags = client ? (F_CLIENT | F_HS_WANT_WRITE) : 0;
    return 0;
}

int conn_init_tls_accept(struct conn *c, int fd, struct tls_server *s) {
    SSL_CTX *ctx = context_ref(s, false);
    if (ctx == NULL) return ERR_INVAL;
    char err[128];
    int rc = wrap(c, fd, ctx, false, err, sizeof(err));
    if (rc != 0) return rc;
    static const int modes[] = {SSL_VERIFY_NONE, SSL_VERIFY_PEER, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                                SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE};
    int v = atomic_load_explicit(&s->verify, memory_order_relaxed);
    SSL_set_verify(c->ssl, modes[v >= 0 && v <= 3 ? v : 2], NULL);
    SSL_set_ex_data(c->ssl, server_index, s);
    SSL_set_accept_state(c->ssl);
    return 0;
}

int conn_init_tls_connect(struct conn *c, int fd, struct tls_server *s, const char *verify_name, char *err,
                          size_t errlen) {
    SSL_CTX *ctx = context_ref(s, true);
    if (ctx == NULL) {
        snprintf(err, errlen, "TLS is not configured");
        return ERR_INVAL;
    }
    int rc = wrap(c, fd, ctx, true, err, errlen);
    if (rc != 0) return rc;
    if (!empty(verify_name)) {
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(param, verify_name) != 1) {
            ERR_clear_error();
            SSL_set_tlsext_host_name(c->ssl, verify_name);
            SSL_set1_host(c->ssl, verify_name);
        }
    }
    SSL_set_connect_state(c->ssl);
    return 0;
}

int conn_tls_handshake(struct conn *c, int timeout_ms, char *err, size_t errlen) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int rc = handshake_step(c);
        if (rc == 0) return 0;
        if (rc != ERR_AGAIN) {
            snprintf(err, errlen, "%s", last_error);
            return ERR_PROTO;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms) {
            snprintf(err, errlen, "TLS handshake timed out");
            return ERR_AGAIN;
        }
        struct pollfd pfd = {c->io.fd, (c->tls_flags & F_HS_WANT_WRITE) ? POLLOUT : POLLIN, 0};
        if (poll(&pfd, 1, (int)(timeout_ms - spent)) < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return ERR_IO;
        }
    }
}

bool conn_tls_pending(const struct conn *c) {
    return c->ssl && c->tls_state == TLS_ESTABLISHED && SSL_has_pending(c->ssl);
}

bool conn_tls_established(const struct conn *c) { return c->ssl && c->tls_state == TLS_ESTABLISHED; }

const char *conn_tls_version(const struct conn *c) {
    return c->ssl && c->tls_state == TLS_ESTABLISHED ? SSL_get_version(c->ssl) : "";
}

const char *conn_tls_cipher(const struct conn *c) {
    const char *name = c->ssl && c->tls_state == TLS_ESTABLISHED ? SSL_get_cipher_name((SSL *)c->ssl) : NULL;
    return name ? name : "";
}

bool conn_tls_peer_fingerprint(const struct conn *c, unsigned char out[32]) {
    if (c->ssl == NULL) return false;
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    if (cert == NULL) return false;
    unsigned int n = 0;
    bool ok = X509_digest(cert, EVP_sha256(), out, &n) == 1 && n == 32;
    X509_free(cert);
    return ok;
}

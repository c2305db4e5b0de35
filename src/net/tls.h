/*
 * net/tls.h - TLS in transit (OpenSSL): contexts that reload without a
 * restart, and the TLS transport of struct conn (net/conn.h).
 *
 * A `tls_server` is one endpoint's TLS identity: the Redis listeners (the
 * tls-* directives) or the memcached listeners (memcached's -Z and -o
 * ssl_*). It holds the current OpenSSL contexts (one for accepted
 * connections, and one for outgoing connections when a client certificate
 * of their own is configured), the verification mode of accepted clients
 * and a few counters. tls_server_configure() builds new contexts from a
 * `tls_options` and swaps them in atomically: when anything fails (a file
 * missing, a key that does not match, a bad cipher list) the old contexts
 * stay and the error is described in Redis's (or memcached's) words.
 *
 * Reload and lifetime: the server holds one reference to each context.
 * A new connection takes its own reference under the server's mutex (a
 * leaf lock: docs/design/lock-order.md), then creates its SSL object,
 * which keeps the context alive by OpenSSL's reference count. A swap only
 * drops the server's reference, so connections made before a reload keep
 * the certificate they negotiated with until they close; connections made
 * after it use the new one.
 *
 * Connections: conn_init_tls_accept() wraps an accepted socket (the
 * handshake runs from the loop once the conn is registered);
 * conn_init_tls_connect() wraps a socket connected (or connecting) to a
 * TLS server, such as a replica's link to its primary: the server's
 * certificate chain is verified against the configured CA (and, when
 * asked, its name). conn_tls_handshake() drives a handshake to its end
 * without a loop (blocking, bounded by a timeout) for callers that are
 * not on an event loop.
 *
 * Thread context: tls_server_* [any] (configure is meant for the main or
 * CONFIG SET thread; it serialises with itself); conn_* [owner].
 */
#ifndef STASH_NET_TLS_H
#define STASH_NET_TLS_H

#include "base/common.h"
#include "net/conn.h"

#include <stdint.h>

/* Verification of an accepted client's certificate. */
enum tls_verify {
    TLS_VERIFY_NONE = 0,     /* no certificate asked for */
    TLS_VERIFY_OPTIONAL = 1, /* asked for; verified when sent */
    TLS_VERIFY_REQUIRE = 2,  /* required and verified */
    TLS_VERIFY_ONCE = 3,     /* required, not asked again on renegotiation (memcached's 3) */
};

/* Whose words errors are in, and the few behaviours that differ. */
enum tls_dialect { TLS_DIALECT_REDIS = 0, TLS_DIALECT_MEMCACHED = 1 };

/* Protocol versions (Redis's tls-protocols). */
#define TLS_PROTO_TLSV1 (1u << 0)
#define TLS_PROTO_TLSV1_1 (1u << 1)
#define TLS_PROTO_TLSV1_2 (1u << 2)
#define TLS_PROTO_TLSV1_3 (1u << 3)
#define TLS_PROTO_DEFAULT (TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3)

struct tls_options {
    enum tls_dialect dialect;
    const char *cert_file, *key_file, *key_pass; /* NULL or "": none */
    const char *client_cert_file, *client_key_file, *client_key_pass;
    const char *dh_params_file;
    const char *ca_cert_file, *ca_cert_dir;
    const char *protocols;        /* Redis: "TLSv1.2 TLSv1.3"; NULL/"": the default */
    int min_version;              /* memcached: 0..3 (TLSv1.0..1.3); used when protocols is NULL */
    const char *ciphers;          /* TLSv1.2 and below */
    const char *ciphersuites;     /* TLSv1.3 */
    bool prefer_server_ciphers;
    bool session_caching;
    long session_cache_size;      /* Redis: entries */
    long session_cache_timeout;   /* seconds */
    bool require_ca;              /* a CA file or dir is mandatory (Redis: client auth, replication) */
    int key_format;               /* memcached's ssl_keyformat: 1 PEM (default), 2 DER */
    bool kernel_tls;              /* memcached's ssl_kernel_tls */
};

struct tls_server;

/* Process-wide OpenSSL initialisation (idempotent). [any] */
void tls_init(void);

struct tls_server *tls_server_create(enum tls_dialect dialect);
void tls_server_destroy(struct tls_server **s);
/* Build contexts from o and swap them in; 0, or ERR_INVAL with the reason
 * in err (the old contexts stay). [any] */
int tls_server_configure(struct tls_server *s, const struct tls_options *o, char *err, size_t errlen);
/* Reload the certificate, key and CA files of the last successful
 * configuration into a new context (memcached's refresh_certs). */
int tls_server_reload(struct tls_server *s, char *err, size_t errlen);
bool tls_server_ready(struct tls_server *s);
/* For connections accepted from now on (Redis's tls-auth-clients). [any] */
void tls_server_set_verify(struct tls_server *s, enum tls_verify v);

struct tls_server_stats {
    uint64_t handshakes;       /* completed, accepted side */
    uint64_t handshake_errors; /* failed, accepted side */
    uint64_t new_sessions;     /* sessions created (session cache on) */
    int64_t configured_at;     /* Unix seconds of the last successful (re)load, 0: never */
};
void tls_server_stats(const struct tls_server *s, struct tls_server_stats *st);

/* Parse Redis's tls-protocols value into TLS_PROTO_* bits; -1 when invalid
 * (err says why, in Redis's words). NULL or "" is the default. */
int tls_parse_protocols(const char *s, char *err, size_t errlen);

/* ---- connections [owner] ------------------------------------------------------- */

/* Wrap the accepted socket fd (ownership moves to c) for server s. The
 * handshake starts once c is registered (conn_register). Returns 0, or an
 * error (no context configured, out of resources): fd is then not owned. */
int conn_init_tls_accept(struct conn *c, int fd, struct tls_server *s);

/* Wrap fd, a TCP socket connected or connecting (non-blocking) to a TLS
 * server, as the client side of s (its client certificate, or its server
 * certificate when none is configured, as Redis does). The peer's chain
 * must verify against s's CA; with verify_name, its certificate must also
 * name that host or IP address (also sent as SNI when a host name). */
int conn_init_tls_connect(struct conn *c, int fd, struct tls_server *s, const char *verify_name, char *err,
                          size_t errlen);

/* Run the handshake of c (not registered on a loop) to its end, waiting
 * with poll(2) at most timeout_ms in all. 0 when established, else an
 * error with the reason in err. */
int conn_tls_handshake(struct conn *c, int timeout_ms, char *err, size_t errlen);

/* Input already inside OpenSSL (decrypted, or read ahead): a caller not on
 * a loop must read again before waiting on the socket. */
bool conn_tls_pending(const struct conn *c);
/* Has the handshake completed (false while it runs, or after it failed)? */
bool conn_tls_established(const struct conn *c);
/* The negotiated protocol ("TLSv1.3") and cipher, or "" before the handshake. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
/* SHA-256 of the peer's certificate (32 bytes); false when it sent none. */
bool conn_tls_peer_fingerprint(const struct conn *c, unsigned char out[32]);
/* The last TLS error seen on this thread, in OpenSSL's words ("" if none). */
const char *tls_last_error(void);

#endif

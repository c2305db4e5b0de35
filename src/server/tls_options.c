/*
 * server/tls_options.c - Redis's tls-* directives (7.0 semantics and
 * defaults) and the TLS identity of the Redis listeners (net/tls.h).
 *
 * The directives are three config tables:
 *   - the context group (certificate, key, CA, protocols, ciphers, session
 *     cache, DH, client certificate, tls-replication, tls-cluster): their
 *     apply callbacks only record values; the group's commit rebuilds the
 *     TLS context once per CONFIG SET when TLS is in use (tls-port,
 *     tls-replication or tls-cluster set), as Redis's applyTlsCfg. A
 *     failed rebuild logs why, keeps the old context, and CONFIG SET
 *     answers "Unable to update TLS configuration. Check server logs.";
 *   - tls-port, its own group (Redis's applyTLSPort): configures TLS if
 *     not yet, then moves the TLS listeners (server_set_tls_rebind_hook);
 *   - tls-auth-clients, applied alone: it is read at each accept, so a
 *     change needs no reload (as in Redis).
 * Config files and the command line only record values: tls_options_start
 * configures once the whole configuration is loaded.
 *
 * Thread context: the apply/commit callbacks run under the config
 * registry's mutex (CONFIG SET on a worker, or the main thread at start);
 * the tls_server is [any].
 */
#include "server/server.h"
#include "base/alloc.h"
#include "base/log.h"
#include "config/config.h"
#include "net/tls.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

enum { S_CERT, S_KEY, S_KEY_PASS, S_CLIENT_CERT, S_CLIENT_KEY, S_CLIENT_KEY_PASS, S_DH, S_CA_FILE, S_CA_DIR,
       S_PROTOCOLS, S_CIPHERS, S_CIPHERSUITES, S_COUNT };

static struct {
    char *str[S_COUNT];
    bool prefer_server_ciphers, session_caching, replication, cluster;
    long long cache_size, cache_timeout;
    int auth_clients;   /* enum tls_verify */
    int port;           /* tls-port as set */
    int live_port;      /* tls-port listened on */
} st;

static struct tls_server *server;

struct tls_server *server_tls(void) { return server; }
bool server_tls_replication(void) { return st.replication; }

static int (*tls_rebind_hook)(int port, char binds[][64], int nbind, char *err);
void server_set_tls_rebind_hook(int (*fn)(int port, char binds[][64], int nbind, char *err)) { tls_rebind_hook = fn; }

int server_tls_rebind(char binds[][64], int nbind, char *err) {
    if (st.live_port == 0 || tls_rebind_hook == NULL) return 0;
    return tls_rebind_hook(st.live_port, binds, nbind, err);
}

static bool tls_in_use(void) { return st.port != 0 || st.replication || st.cluster; }

static void fill(struct tls_options *o) {
    memset(o, 0, sizeof(*o));
    o->dialect = TLS_DIALECT_REDIS;
    o->cert_file = st.str[S_CERT];
    o->key_file = st.str[S_KEY];
    o->key_pass = st.str[S_KEY_PASS];
    o->client_cert_file = st.str[S_CLIENT_CERT];
    o->client_key_file = st.str[S_CLIENT_KEY];
    o->client_key_pass = st.str[S_CLIENT_KEY_PASS];
    o->dh_params_file = st.str[S_DH];
    o->ca_cert_file = st.str[S_CA_FILE];
    o->ca_cert_dir = st.str[S_CA_DIR];
    o->protocols = st.str[S_PROTOCOLS];
    o->ciphers = st.str[S_CIPHERS];
    o->ciphersuites = st.str[S_CIPHERSUITES];
    o->prefer_server_ciphers = st.prefer_server_ciphers;
    o->session_caching = st.session_caching;
    o->session_cache_size = (long)st.cache_size;
    o->session_cache_timeout = (long)st.cache_timeout;
    o->require_ca = st.auth_clients != TLS_VERIFY_NONE || st.replication || st.cluster;
}

/* Build and swap in a context from the recorded values; logs why not. */
static int configure(void) {
    struct tls_options o;
    fill(&o);
    char why[1024];
    if (tls_server_configure(server, &o, why, sizeof(why)) != 0) {
        log_warn("%s", why);
        return -1;
    }
    return 0;
}

/* ---- apply callbacks (record only) ------------------------------------------------- */

#define STR_APPLY(name, idx)                                                                                \
    static int name(const char *s, char *err) {                                                             \
        xfree(st.str[idx]);                                                                                 \
        st.str[idx] = s[0] ? xstrdup(s) : NULL;                                                             \
        return 0;                                                                                           \
    }
STR_APPLY(apply_cert, S_CERT)
STR_APPLY(apply_key, S_KEY)
STR_APPLY(apply_key_pass, S_KEY_PASS)
STR_APPLY(apply_client_cert, S_CLIENT_CERT)
STR_APPLY(apply_client_key, S_CLIENT_KEY)
STR_APPLY(apply_client_key_pass, S_CLIENT_KEY_PASS)
STR_APPLY(apply_dh, S_DH)
STR_APPLY(apply_ca_file, S_CA_FILE)
STR_APPLY(apply_ca_dir, S_CA_DIR)
STR_APPLY(apply_protocols, S_PROTOCOLS)
STR_APPLY(apply_ciphers, S_CIPHERS)
STR_APPLY(apply_ciphersuites, S_CIPHERSUITES)

static int apply_prefer(long long v, char *err) {
    st.prefer_server_ciphers = v != 0;
    return 0;
}
static int apply_caching(long long v, char *err) {
    st.session_caching = v != 0;
    return 0;
}
static int apply_cache_size(long long v, char *err) {
    st.cache_size = v;
    return 0;
}
static int apply_cache_timeout(long long v, char *err) {
    st.cache_timeout = v;
    return 0;
}
static int apply_replication(long long v, char *err) {
    st.replication = v != 0;
    return 0;
}
static int apply_cluster(long long v, char *err) {
    st.cluster = v != 0;
    return 0;
}
static int apply_port(long long v, char *err) {
    st.port = (int)v;
    return 0;
}
static int apply_auth(long long v, char *err) {
    st.auth_clients = (int)v;
    if (server) tls_server_set_verify(server, (enum tls_verify)v);
    return 0;
}

/* ---- commits ------------------------------------------------------------------------- */

static int commit_context(char *err) {
    if (!tls_in_use()) return 0;
    if (configure() != 0) {
        snprintf(err, CFG_ERR_MAX, "Unable to update TLS configuration. Check server logs.");
        return -1;
    }
    return 0;
}

static int commit_port(char *err) {
    if (st.port == st.live_port) return 0;
    if (st.port != 0 && !tls_server_ready(server) && configure() != 0) {
        snprintf(err, CFG_ERR_MAX, "Unable to update TLS configuration. Check server logs.");
        return -1;
    }
    if (tls_rebind_hook && tls_rebind_hook(st.port, server_settings.bind, server_settings.nbind, err) != 0) {
        snprintf(err, CFG_ERR_MAX, "Unable to listen on this port. Check server logs.");
        return -1;
    }
    st.live_port = st.port;
    __atomic_store_n(&server_settings.tls_port, st.port, __ATOMIC_RELAXED);
    return 0;
}

static const struct config_enum auth_modes[] = {
    {"no", TLS_VERIFY_NONE}, {"yes", TLS_VERIFY_REQUIRE}, {"optional", TLS_VERIFY_OPTIONAL}, {NULL, 0}};

#define STR_OPT(name, fn) {name, NULL, CFG_STRING, 0, "", 0, 0, NULL, NULL, fn, NULL, NULL, 0, NULL}
#define BOOL_OPT(name, deflt, fn) {name, NULL, CFG_BOOL, 0, deflt, 0, 0, NULL, fn, NULL, NULL, NULL, 0, NULL}

static struct config_option context_options[] = {
    STR_OPT("tls-cert-file", apply_cert),
    STR_OPT("tls-key-file", apply_key),
    STR_OPT("tls-key-file-pass", apply_key_pass),
    STR_OPT("tls-client-cert-file", apply_client_cert),
    STR_OPT("tls-client-key-file", apply_client_key),
    STR_OPT("tls-client-key-file-pass", apply_client_key_pass),
    STR_OPT("tls-dh-params-file", apply_dh),
    STR_OPT("tls-ca-cert-file", apply_ca_file),
    STR_OPT("tls-ca-cert-dir", apply_ca_dir),
    STR_OPT("tls-protocols", apply_protocols),
    STR_OPT("tls-ciphers", apply_ciphers),
    STR_OPT("tls-ciphersuites", apply_ciphersuites),
    BOOL_OPT("tls-prefer-server-ciphers", "no", apply_prefer),
    BOOL_OPT("tls-session-caching", "yes", apply_caching),
    {"tls-session-cache-size", NULL, CFG_INT, 0, "20480", 0, INT_MAX, NULL, apply_cache_size, NULL, NULL, NULL, 0, NULL},
    {"tls-session-cache-timeout", NULL, CFG_INT, 0, "300", 0, INT_MAX, NULL, apply_cache_timeout, NULL, NULL, NULL, 0,
     NULL},
    BOOL_OPT("tls-replication", "no", apply_replication),
    BOOL_OPT("tls-cluster", "no", apply_cluster),
    CFG_END,
};

static struct config_option port_options[] = {
    {"tls-port", NULL, CFG_INT, 0, "0", 0, 65535, NULL, apply_port, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

static struct config_option auth_options[] = {
    {"tls-auth-clients", NULL, CFG_ENUM, 0, "yes", 0, 0, auth_modes, apply_auth, NULL, NULL, NULL, 0, NULL},
    CFG_END,
};

void tls_options_register(void) {
    server = tls_server_create(TLS_DIALECT_REDIS);
    config_register_group(port_options, commit_port);
    config_register_group(context_options, commit_context);
    config_register(auth_options);
}

int tls_options_start(void) {
    tls_server_set_verify(server, (enum tls_verify)st.auth_clients);
    if (tls_in_use() && configure() != 0) {
        log_warn("Failed to configure TLS. Check logs for more info.");
        return -1;
    }
    st.live_port = st.port;
    __atomic_store_n(&server_settings.tls_port, st.port, __ATOMIC_RELAXED);
    return 0;
}

void tls_options_teardown(void) {
    for (int i = 0; i < S_COUNT; i++) {
        xfree(st.str[i]);
        st.str[i] = NULL;
    }
    tls_server_destroy(&server);
}

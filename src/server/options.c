/*
 * server/options.c - settings of the server process and of the modules
 * below the config layer (store, log), registered by the composition root.
 * Each apply callback pushes the value into the module that owns it.
 */
#include "server/server.h"
#include "base/log.h"
#include "base/str.h"
#include "config/config.h"
#include "exec/command.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct server_settings server_settings = {
    .port = 6379,
    .bind = {"*", "-::*"},
    .nbind = 2,
    .tcp_backlog = 511,
    .databases = 16,
    .threads = 0,
    .hz = 10,
};

static int (*rebind_hook)(int port, char binds[][64], int nbind, char *err);
void server_set_rebind_hook(int (*fn)(int port, char binds[][64], int nbind, char *err)) { rebind_hook = fn; }

static int apply_port(long long v, char *err) {
    if (rebind_hook && v != server_settings.port) {
        if (rebind_hook((int)v, server_settings.bind, server_settings.nbind, err) != 0) return -1;
    }
    /* Read by INFO on the workers: written only when it changes. */
    if (v != server_settings.port) __atomic_store_n(&server_settings.port, (int)v, __ATOMIC_RELAXED);
    return 0;
}

static int bind_set(int argc, char **argv, bool check_only, char *err) {
    if (argc > 16) {
        snprintf(err, CFG_ERR_MAX, "Too many bind addresses specified.");
        return -1;
    }
    char binds[16][64];
    for (int i = 0; i < argc; i++) snprintf(binds[i], sizeof(binds[i]), "%s", argv[i]);
    int n = argc;
    if (n == 0) { /* "bind" with no addresses: all interfaces */
        snprintf(binds[0], sizeof(binds[0]), "*");
        snprintf(binds[1], sizeof(binds[1]), "-::*");
        n = 2;
    }
    if (check_only) return 0;
    /* The same addresses again (CONFIG SET bind <current>): nothing to do;
     * re-opening them would collide with the listeners we hold. */
    bool same = n == server_settings.nbind;
    for (int i = 0; same && i < n; i++) same = strcmp(binds[i], server_settings.bind[i]) == 0;
    if (same) return 0;
    /* The TLS listeners first: when the plain ones then fail, they move back. */
    if (server_tls_rebind(binds, n, err) != 0) {
        snprintf(err, CFG_ERR_MAX, "Failed to bind to specified addresses.");
        return -1;
    }
    if (rebind_hook && rebind_hook(server_settings.port, binds, n, err) != 0) {
        server_tls_rebind(server_settings.bind, server_settings.nbind, err);
        snprintf(err, CFG_ERR_MAX, "Failed to bind to specified addresses.");
        return -1;
    }
    memcpy(server_settings.bind, binds, sizeof(binds));
    server_settings.nbind = n;
    return 0;
}

static void bind_get(struct buf *out) {
    for (int i = 0; i < server_settings.nbind; i++) {
        if (i) buf_putc(out, ' ');
        buf_puts(out, server_settings.bind[i]);
    }
}

static int apply_unixsocket(const char *s, char *err) {
    snprintf(server_settings.unixsocket, sizeof(server_settings.unixsocket), "%s", s);
    return 0;
}
static int apply_unixperm(long long v, char *err) {
    server_settings.unixsocketperm = (int)v;
    return 0;
}
static int apply_backlog(long long v, char *err) {
    server_settings.tcp_backlog = (int)v;
    return 0;
}
static int apply_databases(long long v, char *err) {
    server_settings.databases = (int)v;
    return 0;
}
static int apply_threads(long long v, char *err) {
    server_settings.threads = (int)v;
    return 0;
}
static int apply_hz(long long v, char *err) {
    /* Redis accepts any non-negative value and runs within [1, 500]. */
    __atomic_store_n(&server_settings.hz, (int)(v < 1 ? 1 : v > 500 ? 500 : v), __ATOMIC_RELAXED);
    return 0;
}
static int apply_pidfile(const char *s, char *err) {
    snprintf(server_settings.pidfile, sizeof(server_settings.pidfile), "%s", s);
    return 0;
}
static int apply_daemonize(long long v, char *err) {
    server_settings.daemonize = v != 0;
    return 0;
}

static int dir_set(int argc, char **argv, bool check_only, char *err) {
    if (argc != 1) {
        snprintf(err, CFG_ERR_MAX, "wrong number of arguments");
        return -1;
    }
    if (check_only) return 0;
    if (chdir(argv[0]) != 0) {
        snprintf(err, CFG_ERR_MAX, "%s", strerror(errno));
        return -1;
    }
    return 0;
}

static void dir_get(struct buf *out) {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) cwd[0] = '\0';
    buf_puts(out, cwd);
}

static const struct config_enum loglevels[] = {
    {"debug", LOG_DEBUG}, {"verbose", LOG_VERBOSE}, {"notice", LOG_NOTICE}, {"warning", LOG_WARNING},
    {"nothing", LOG_NOTHING}, {NULL, 0}};

static int apply_loglevel(long long v, char *err) {
    log_set_level((enum log_level)v);
    return 0;
}

static int apply_logfile(const char *s, char *err) {
    if (log_set_file(s) != 0) {
        snprintf(err, CFG_ERR_MAX, "Can't open the log file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static const struct config_enum policies[] = {
    {"volatile-lru", EVICT_VOLATILE_LRU},     {"volatile-lfu", EVICT_VOLATILE_LFU},
    {"volatile-random", EVICT_VOLATILE_RANDOM}, {"volatile-ttl", EVICT_VOLATILE_TTL},
    {"allkeys-lru", EVICT_ALLKEYS_LRU},       {"allkeys-lfu", EVICT_ALLKEYS_LFU},
    {"allkeys-random", EVICT_ALLKEYS_RANDOM}, {"noeviction", EVICT_NOEVICTION},
    {NULL, 0}};

static int apply_maxmemory(long long v, char *err) {
    store_set_maxmemory((unsigned long long)v);
    return 0;
}
static int apply_policy(long long v, char *err) {
    store_set_policy((enum store_evict_policy)v);
    return 0;
}
static int apply_samples(long long v, char *err) {
    store_set_samples((int)v);
    return 0;
}
void store_set_eviction_tenacity(int t);
static int apply_tenacity(long long v, char *err) {
    store_set_eviction_tenacity((int)v);
    return 0;
}
static long long lfu_factor = 10, lfu_decay = 1;
static int apply_lfu_factor(long long v, char *err) {
    lfu_factor = v;
    store_set_lfu((int)lfu_factor, (int)lfu_decay);
    return 0;
}
static int apply_lfu_decay(long long v, char *err) {
    lfu_decay = v;
    store_set_lfu((int)lfu_factor, (int)lfu_decay);
    return 0;
}
static int apply_effort(long long v, char *err) {
    store_set_expire_effort((int)v);
    return 0;
}

static int rename_set(int argc, char **argv, bool check_only, char *err) {
    if (argc != 2) {
        snprintf(err, CFG_ERR_MAX, "wrong number of arguments");
        return -1;
    }
    if (check_only) return 0;
    int rc = exec_command_rename(argv[0], argv[1]);
    if (rc == -1) {
        snprintf(err, CFG_ERR_MAX, "No such command in rename-command");
        return -1;
    }
    if (rc == -2) {
        snprintf(err, CFG_ERR_MAX, "Target command name already exists");
        return -1;
    }
    return 0;
}
static void rename_get(struct buf *out) {}

static struct config_option options[] = {
    {"port", NULL, CFG_INT, 0, "6379", 0, 65535, NULL, apply_port, NULL, NULL, NULL, 0, NULL},
    {"bind", NULL, CFG_SPECIAL, CFG_F_MULTI_ARG, "* -::*", 0, 0, NULL, NULL, NULL, bind_set, bind_get, 0, NULL},
    {"unixsocket", NULL, CFG_STRING, CFG_F_IMMUTABLE, "", 0, 0, NULL, NULL, apply_unixsocket, NULL, NULL, 0, NULL},
    {"unixsocketperm", NULL, CFG_INT, CFG_F_IMMUTABLE, "0", 0, 0777, NULL, apply_unixperm, NULL, NULL, NULL, 0, NULL},
    {"tcp-backlog", NULL, CFG_INT, CFG_F_IMMUTABLE, "511", 0, INT_MAX, NULL, apply_backlog, NULL, NULL, NULL, 0, NULL},
    {"databases", NULL, CFG_INT, CFG_F_IMMUTABLE, "16", 1, STORE_MAX_DBS, NULL, apply_databases, NULL, NULL, NULL, 0, NULL},
    {"threads", "io-threads", CFG_INT, CFG_F_IMMUTABLE | CFG_F_NAME_HIDDEN, "0", 0, 128, NULL, apply_threads, NULL, NULL, NULL, 0, NULL},
    {"hz", NULL, CFG_INT, 0, "10", 0, INT_MAX, NULL, apply_hz, NULL, NULL, NULL, 0, NULL},
    {"dir", NULL, CFG_SPECIAL, 0, NULL, 0, 0, NULL, NULL, NULL, dir_set, dir_get, 0, NULL},
    {"loglevel", NULL, CFG_ENUM, 0, "notice", 0, 0, loglevels, apply_loglevel, NULL, NULL, NULL, 0, NULL},
    {"logfile", NULL, CFG_STRING, CFG_F_IMMUTABLE, "", 0, 0, NULL, NULL, apply_logfile, NULL, NULL, 0, NULL},
    {"pidfile", NULL, CFG_STRING, CFG_F_IMMUTABLE, "", 0, 0, NULL, NULL, apply_pidfile, NULL, NULL, 0, NULL},
    {"daemonize", NULL, CFG_BOOL, CFG_F_IMMUTABLE, "no", 0, 0, NULL, apply_daemonize, NULL, NULL, NULL, 0, NULL},
    {"maxmemory", NULL, CFG_MEMORY, 0, "0", 0, LLONG_MAX, NULL, apply_maxmemory, NULL, NULL, NULL, 0, NULL},
    {"maxmemory-policy", NULL, CFG_ENUM, 0, "noeviction", 0, 0, policies, apply_policy, NULL, NULL, NULL, 0, NULL},
    {"maxmemory-samples", NULL, CFG_INT, 0, "5", 1, 64, NULL, apply_samples, NULL, NULL, NULL, 0, NULL},
    {"maxmemory-eviction-tenacity", NULL, CFG_INT, 0, "10", 0, 100, NULL, apply_tenacity, NULL, NULL, NULL, 0, NULL},
    {"lfu-log-factor", NULL, CFG_INT, 0, "10", 0, INT_MAX, NULL, apply_lfu_factor, NULL, NULL, NULL, 0, NULL},
    {"lfu-decay-time", NULL, CFG_INT, 0, "1", 0, INT_MAX, NULL, apply_lfu_decay, NULL, NULL, NULL, 0, NULL},
    {"active-expire-effort", NULL, CFG_INT, 0, "1", 1, 10, NULL, apply_effort, NULL, NULL, NULL, 0, NULL},
    {"rename-command", NULL, CFG_SPECIAL, CFG_F_MULTI_ARG | CFG_F_HIDDEN | CFG_F_IMMUTABLE, NULL, 0, 0, NULL, NULL,
     NULL, rename_set, rename_get, 0, NULL},
    CFG_END,
};

void server_options_register(void) { config_register(options); }

/*
 * server/main.c - the composition root of stash-server.
 *
 * Setup order (teardown is the reverse):
 *   base (hash key, allocator counters) -> option tables of every module ->
 *   config file + command line -> store -> effects log -> workers ->
 *   listeners -> loading (AOF or RDB) -> AOF writer -> worker threads ->
 *   main loop (signals, cron, shutdown).
 * Only this file knows every module; modules never include each other
 * upward, and none reads another's settings.
 */
#include "server/server.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/time.h"
#include "auth/acl.h"
#include "cmd/cmd.h"
#include "cmd/memcache.h"
#include "config/config.h"
#include "exec/access.h"
#include "exec/client.h"
#include "exec/exec.h"
#include "exec/script.h"
#include "exec/stats.h"
#include "exec/tracking.h"
#include "metrics/latency.h"
#include "metrics/slowlog.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/tls.h"
#include "net/worker.h"
#include "persist/aof.h"
#include "persist/persist.h"
#include "persist/snapshot.h"
#include "repl/log.h"
#include "repl/repl.h"
#include "server/mc_options.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LISTENERS 64
#define EFFECTS_LOG_BYTES (8 * 1024 * 1024)
/* Listener tags (client_accept): 0 RESP over TCP, 1 over a UNIX socket,
 * MEMCACHE_TAG / MEMCACHE_TLS_TAG memcached, and: */
#define RESP_TLS_TAG 3

static struct listener *listeners[MAX_LISTENERS];
static int nlisteners;
/* The TCP listeners of the Redis port and of the TLS port (also in
 * listeners[]), replaced by CONFIG SET port / tls-port / bind. Replaced
 * ones are detached at once and freed at exit (a worker may still be
 * handling an event for them). */
struct listener_group {
    struct listener *ls[MAX_LISTENERS];
    int n;
    int tag;
};
static struct listener_group plain_group = {.tag = 0}, tls_group = {.tag = RESP_TLS_TAG};
static struct listener *retired[MAX_LISTENERS * 16];
static int nretired;
static pthread_mutex_t listeners_mu = PTHREAD_MUTEX_INITIALIZER;
static struct loop *main_loop;
static int shutdown_fd = -1;
static _Atomic int shutdown_flags;
static int64_t start_ms;

int64_t server_start_ms(void) { return start_ms; }

static void usage(void) {
    fprintf(stderr,
            "Usage: ./stash-server [/path/to/stash.conf] [options] [-]\n"
            "       ./stash-server - (read config from stdin)\n"
            "       ./stash-server -v or --version\n"
            "       ./stash-server -h or --help\n\n"
            "Examples:\n"
            "       ./stash-server (run the server with default conf)\n"
            "       ./stash-server /etc/stash/6379.conf\n"
            "       ./stash-server --port 7777\n"
            "       ./stash-server --port 7777 --replicaof 127.0.0.1 8888\n"
            "       ./stash-server /etc/mystash.conf --loglevel verbose -\n"
            "       ./stash-server /etc/mystash.conf --loglevel verbose\n");
    exit(1);
}

/* ---- listeners -------------------------------------------------------------------- */

/* Open listeners for port on every bind address into out[]; addresses
 * starting with '-' may fail silently (e.g. no IPv6). */
static int open_tcp(int port, char binds[][64], int nbind, struct listener **out, int *nout, char *err) {
    *nout = 0;
    if (port == 0) return 0;
    for (int i = 0; i < nbind; i++) {
        const char *addr = binds[i];
        bool optional = addr[0] == '-';
        char msg[256];
        struct listener *ls;
        if (listener_open_tcp(addr, port, server_settings.tcp_backlog, &ls, msg, sizeof(msg)) != 0) {
            if (optional) continue;
            log_warn("Warning: Could not create server TCP listening socket %s:%d: %s", addr, port, msg);
            snprintf(err, CFG_ERR_MAX, "Unable to listen on this port. Check server logs.");
            for (int k = 0; k < *nout; k++) listener_close(&out[k]);
            *nout = 0;
            return ERR_IO;
        }
        out[(*nout)++] = ls;
    }
    return 0;
}

/* Open the group's listeners on port (0: none) and the given addresses,
 * then retire the old ones; nothing changes when opening fails. */
static int rebind_group(struct listener_group *g, int port, char binds[][64], int nbind, char *err) {
    struct listener *fresh[MAX_LISTENERS];
    int n;
    if (open_tcp(port, binds, nbind, fresh, &n, err) != 0) return -1;
    pthread_mutex_lock(&listeners_mu);
    if (nretired + g->n > (int)ARRAY_LEN(retired) || nlisteners + n > MAX_LISTENERS) {
        pthread_mutex_unlock(&listeners_mu);
        for (int i = 0; i < n; i++) listener_close(&fresh[i]);
        snprintf(err, CFG_ERR_MAX, "Too many listeners.");
        return -1;
    }
    for (int i = 0; i < n; i++) listener_attach(fresh[i], client_accept, g->tag);
    for (int i = 0; i < g->n; i++) {
        listener_detach(g->ls[i]);
        for (int k = 0; k < nlisteners; k++) {
            if (listeners[k] != g->ls[i]) continue;
            listeners[k] = listeners[--nlisteners];
            break;
        }
        retired[nretired++] = g->ls[i];
    }
    g->n = 0;
    for (int i = 0; i < n; i++) {
        g->ls[g->n++] = fresh[i];
        listeners[nlisteners++] = fresh[i];
    }
    pthread_mutex_unlock(&listeners_mu);
    return 0;
}

static int rebind(int port, char binds[][64], int nbind, char *err) {
    if (rebind_group(&plain_group, port, binds, nbind, err) != 0) return -1;
    log_notice("Listening on port %d", port);
    return 0;
}

static int rebind_tls(int port, char binds[][64], int nbind, char *err) {
    if (rebind_group(&tls_group, port, binds, nbind, err) != 0) return -1;
    log_notice("Listening on port %d (TLS)", port);
    return 0;
}

/* The memcached listeners (TCP, UDP, UNIX) the memcached settings ask for;
 * 0, or an error after a message (memcached's words). */
static int open_memcached(void) {
    const struct memcache_settings *ms = memcache_settings();
    char msg[256];
    struct listener *ls;
    if (ms->unixsocket[0]) {
        if (listener_open_unix(ms->unixsocket, ms->unixsocket_perm, server_settings.tcp_backlog, &ls, msg,
                               sizeof(msg)) != 0) {
            fprintf(stderr, "failed to listen on UNIX socket: %s: %s\n", ms->unixsocket, msg);
            return ERR_IO;
        }
        listener_attach(ls, client_accept, MEMCACHE_TAG);
        listeners[nlisteners++] = ls;
    }
    /* memcached's -s replaces the network listeners */
    for (int udp = 0; udp < 2 && !(ms->engine && ms->unixsocket[0]); udp++) {
        int port = udp ? ms->udp_port : ms->port;
        if (port == 0) continue;
        int n = ms->nlisten ? ms->nlisten : server_settings.nbind;
        int opened = 0;
        for (int i = 0; i < n && nlisteners < MAX_LISTENERS; i++) {
            const char *addr = ms->nlisten ? ms->listen[i] : server_settings.bind[i];
            int p = ms->nlisten && ms->listen_port[i] ? ms->listen_port[i] : port;
            int rc = udp ? listener_open_udp(addr, p, &ls, msg, sizeof(msg))
                         : listener_open_tcp(addr, p, server_settings.tcp_backlog, &ls, msg, sizeof(msg));
            if (rc != 0) {
                if (addr[0] == '-') continue; /* optional address (e.g. no IPv6) */
                if (ms->nlisten)
                    fprintf(stderr, "failed to listen on one of interface(s) %s: %s\n", ms->inter, msg);
                else
                    fprintf(stderr, "failed to listen on %s port %d: %s\n", udp ? "UDP" : "TCP", port, msg);
                return ERR_IO;
            }
            bool tls = !udp && ms->ssl_enabled && !(ms->nlisten && ms->listen_notls[i]);
            listener_attach(ls, udp ? memcache_udp_readable : client_accept, tls ? MEMCACHE_TLS_TAG : MEMCACHE_TAG);
            listeners[nlisteners++] = ls;
            opened++;
        }
        if (opened == 0) {
            fprintf(stderr, "failed to listen on %s port %d\n", udp ? "UDP" : "TCP", port);
            return ERR_IO;
        }
    }
    return 0;
}

/* TLS on the memcached listeners: memcached's -Z with its -o ssl_* options
 * (its own certificates), or memcached-tls on a Redis node (the tls-*
 * ones). 0, or the exit status after a message. */
static int start_memcached_tls(void) {
    const struct memcache_settings *ms = memcache_settings();
    if (!ms->engine) {
        if (!tls_server_ready(server_tls())) {
            log_warn("memcached-tls needs TLS configured (tls-cert-file, tls-key-file and tls-port, "
                     "tls-replication or tls-cluster)");
            return 1;
        }
        memcache_set_tls(server_tls());
        client_register_tls(MEMCACHE_TLS_TAG, server_tls());
        return 0;
    }
    /* memcached's context was built with its command line (mc_options.c). */
    client_register_tls(MEMCACHE_TLS_TAG, memcache_tls());
    return 0;
}

/* Store hooks of a node that serves memcached: exec's, then the memcached
 * engine's (eviction lines for "watch evictions"). */
static void store_deleted_mc(int db, const char *key, size_t klen, enum store_del_reason why) {
    exec_store_deleted(db, key, klen, why);
    memcache_store_deleted(db, key, klen, why == STORE_DEL_EVICTED);
}

static void store_after_mc(void) {
    exec_store_after();
    memcache_store_after();
}

/* ---- what replication asks of the server ------------------------------------------------ */

static void replica_limits(long long *hard, long long *soft, long long *soft_s) {
    struct client_obuf_limit l;
    client_get_obuf_limit(CLIENT_CLASS_REPLICA, &l);
    *hard = l.hard;
    *soft = l.soft;
    *soft_s = l.soft_seconds;
}

static int listen_port(void) { return __atomic_load_n(&server_settings.port, __ATOMIC_RELAXED); }
static int listen_tls_port(void) { return __atomic_load_n(&server_settings.tls_port, __ATOMIC_RELAXED); }

/* ---- crons ------------------------------------------------------------------------- */

struct worker_cron {
    struct worker *w;
};

static void worker_cron(void *arg) {
    struct worker *w = arg;
    int hz = __atomic_load_n(&server_settings.hz, __ATOMIC_RELAXED); /* CONFIG SET hz writes it */
    if (hz <= 0) hz = 10;
    int64_t period_us = 1000000 / hz;
    if (exec_cron_paused()) { /* DEBUG PAUSE-CRON */
        loop_timer_add(worker_loop(w), 1000 / hz, worker_cron, w);
        return;
    }
    /* Each worker expires its own stripes, with a quarter of its time. A
     * cycle that overran (a huge value freed) shows in LATENCY as Redis's
     * expire-cycle event. */
    int64_t cycle_start = time_mono_us();
    store_active_expire(worker_id(w), worker_count(), period_us / 4);
    int64_t cycle_ms = (time_mono_us() - cycle_start) / 1000;
    if (latency_wants(cycle_ms)) latency_add("expire-cycle", cycle_ms);
    store_active_rehash(worker_id(w), worker_count(), 1000);
    /* tracking-table-max-keys also holds when nobody sends commands. */
    if (worker_id(w) == 0 && tracking_active()) tracking_limit();
    client_cron();
    loop_timer_add(worker_loop(w), 1000 / hz, worker_cron, w);
}

static void on_worker_start(struct worker *w) {
    client_worker_start(w);
    loop_timer_add(worker_loop(w), 100, worker_cron, w);
}

static void on_worker_stop(struct worker *w) {
    client_worker_stop(w);
    exec_thread_cleanup();
    memcache_worker_stop();
    log_thread_cleanup();
    store_thread_cleanup();
}

static void main_cron(void *arg) {
    store_clock_tick();
    persist_cron();
    memcache_cron();
    struct client_stats cs;
    client_get_stats(&cs);
    stats_sample(time_ms(), stats_total_commands(), cs.net_input_bytes, cs.net_output_bytes);
    alloc_peak_bytes();
    loop_timer_add(main_loop, 100, main_cron, NULL);
}

/* ---- shutdown ---------------------------------------------------------------------- */

static void request_shutdown(int flags) {
    atomic_store(&shutdown_flags, flags | 0x100);
    uint64_t one = 1;
    if (write(shutdown_fd, &one, sizeof(one)) < 0) { /* the loop polls the flag anyway */
    }
}

static struct loop_io shutdown_io, signal_io;

static void on_shutdown(struct loop_io *io, uint32_t ev) {
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) > 0) {
    }
    loop_stop(main_loop);
}

static void on_signal(struct loop_io *io, uint32_t ev) {
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
            log_warn("Received %s scheduling shutdown...", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
            /* With save points, the final snapshot first; if it fails the
             * server keeps running, as Redis does. */
            exec_pause(PAUSE_WRITE, INT64_MAX); /* nothing acknowledged after the final snapshot */
            if (persist_shutdown(false, false) != 0) {
                exec_unpause();
                log_warn("SIGTERM received but errors trying to shut down the server, check the logs for more "
                         "information");
                continue;
            }
            loop_stop(main_loop);
        } else if (si.ssi_signo == SIGHUP) {
            log_reopen();
        }
    }
}

static void daemonize(void) {
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid > 0) exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2) close(fd);
    }
}

static void write_pidfile(void) {
    if (server_settings.pidfile[0] == '\0') return;
    FILE *f = fopen(server_settings.pidfile, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
}

int main(int argc, char **argv) {
    start_ms = time_ms();
    /* Signals are read from a signalfd in the main loop. Block them before
     * any thread exists (the lazy-free thread starts with the store), so
     * that every thread inherits the mask and none dies of SIGTERM. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    alloc_thread_init();
    if (hash_setup() != 0) {
        fprintf(stderr, "stash: libsodium failed to initialize\n");
        return 1;
    }
    int mcarg = mc_options_engine(argc, argv); /* stash-server --engine memcached [memcached's options] */
    if (!mcarg && argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("Stash server v=%s bits=%d malloc=%s\n", STASH_VERSION, (int)(sizeof(long) * 8), alloc_name());
        return 0;
    }
    if (!mcarg && argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) usage();

    /* Every module's options, then the commands (rename-command needs them). */
    server_options_register();
    tls_options_register();
    slowlog_setup();
    latency_setup();
    acl_setup();
    exec_setup();
    persist_setup(exec_total_dirty);
    exec_replay_register();                       /* AOF loading runs commands through exec */
    aof_set_libraries(script_functions_foreach);  /* FUNCTION LOADs of an AOF-format base */
    repl_options_register();
    cmd_setup();
    memcache_setup();

    const char *file = NULL;
    int first = 1;
    if (!mcarg && argc >= 2 && argv[1][0] != '-') {
        file = argv[1];
        first = 2;
    }
    bool from_stdin = false;
    if (!mcarg && argc >= 2 && strcmp(argv[argc - 1], "-") == 0) {
        from_stdin = true;
        argc--;
    }
    char *extra = NULL;
    if (mcarg) {
        int status = mc_options_parse(argc - mcarg + 1, argv + mcarg - 1, &extra);
        if (status >= 0) return status;
    } else {
        extra = config_args_to_text(argc - first, argv + first);
    }
    int rc = config_load(file ? file : (from_stdin ? "-" : NULL), extra);
    if (rc == 0 && file && from_stdin) rc = config_load("-", NULL);
    xfree(extra);
    if (rc != 0) return 1;

    /* Users: requirepass, `user` directives, aclfile (Redis's order). */
    if (acl_start() != 0) return 1;
    /* memcached's credentials (-Y authfile, -S password database). */
    if (memcache_enabled()) {
        char aerr[4600];
        if (memcache_auth_setup(aerr, sizeof(aerr)) != 0) {
            fprintf(stderr, "%s\n", aerr);
            return 1;
        }
    }
    if (server_settings.daemonize) daemonize();
    log_warn("oO0OoO0OoO0Oo Stash is starting oO0OoO0OoO0Oo");
    log_warn("Stash version=%s, bits=%d, pid=%d, just started", STASH_VERSION, (int)(sizeof(long) * 8), (int)getpid());
    log_warn(file ? "Configuration loaded" : "Warning: no config file specified, using the default config.");

    int threads = server_settings.threads;
    if (threads <= 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads = ncpu > 0 ? (int)MIN(ncpu, 64L) : 1;
    }
    struct store_hooks hooks = {exec_store_deleted, exec_store_seal, exec_store_after};
    if (memcache_enabled()) {
        /* memcached watchers also see evictions (pure Redis nodes keep the plain hooks) */
        hooks.deleted = store_deleted_mc;
        hooks.after = store_after_mc;
    }
    if (store_setup(server_settings.databases, &hooks) != 0) {
        log_warn("Failed to start the lazy-free thread");
        return 1;
    }
    log_setup(EFFECTS_LOG_BYTES);
    /* Replication: its glue to the connections, the cut's log position
     * and the repl-* AUX fields of snapshots (loaded ones too). */
    struct repl_glue glue;
    cmd_repl_glue(&glue);
    struct repl_server rsrv = {replica_limits, listen_port, listen_tls_port, server_tls_replication, server_tls,
                               server_settings.databases};
    repl_setup(&glue, &rsrv);
    persist_set_repl_hooks(repl_rdb_aux, repl_rdb_aux_loaded);
    struct snapshot_env senv = {exec_total_dirty, repl_cut_log_pos};
    snapshot_set_env(&senv);
    worker_setup(threads);
    struct exec_server_hooks sh = {request_shutdown};
    exec_set_server_hooks(&sh);

    char err[CFG_ERR_MAX];
    if (tls_options_start() != 0) return 1;
    if (memcache_settings()->ssl_enabled) {
        int mrc = start_memcached_tls();
        if (mrc != 0) return mrc;
    }
    if (rebind_group(&plain_group, server_settings.port, server_settings.bind, server_settings.nbind, err) != 0 ||
        (server_settings.port != 0 && plain_group.n == 0)) {
        log_warn("Failed listening on port %d (tcp), aborting.", server_settings.port);
        return 1;
    }
    client_register_tls(RESP_TLS_TAG, server_tls());
    if (rebind_group(&tls_group, server_settings.tls_port, server_settings.bind, server_settings.nbind, err) != 0 ||
        (server_settings.tls_port != 0 && tls_group.n == 0)) {
        log_warn("Failed listening on port %d (TLS), aborting.", server_settings.tls_port);
        return 1;
    }
    if (server_settings.unixsocket[0]) {
        struct listener *ls;
        char msg[256];
        if (listener_open_unix(server_settings.unixsocket, server_settings.unixsocketperm,
                               server_settings.tcp_backlog, &ls, msg, sizeof(msg)) != 0) {
            log_warn("Failed opening Unix socket: %s", msg);
            return 1;
        }
        listener_attach(ls, client_accept, 1);
        listeners[nlisteners++] = ls;
    }
    if (open_memcached() != 0) {
        log_warn("Failed opening the memcached listeners, aborting.");
        return memcache_settings()->engine ? 71 /* EX_OSERR, as memcached */ : 1;
    }
    if (nlisteners == 0) {
        log_warn("Configured to not listen anywhere, exiting.");
        return 1;
    }
    /* As Redis's logo does once its ports are open: tools that start a
     * server wait for " PID: <pid>" before they connect. */
    log_notice("Stash listening on port %d, PID: %d", server_settings.port, (int)getpid());
    /* The dataset on disk (the AOF, or dir/dbfilename), before anyone is
     * served. The ports are open already, as Redis's are while it loads:
     * a client may connect, its requests wait for the workers. */
    if (persist_load_startup() != 0) return 1;
    repl_startup_loaded();
    /* The AOF writer reads the effects log from here on (before serving). */
    if (aof_start() != 0) return 1;
    server_set_rebind_hook(rebind);
    server_set_tls_rebind_hook(rebind_tls);
    server_info_register();
    write_pidfile();

    signal(SIGPIPE, SIG_IGN);
    main_loop = loop_create();
    signal_io.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    signal_io.fn = on_signal;
    loop_add(main_loop, &signal_io, LOOP_READ, false);
    shutdown_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    shutdown_io.fd = shutdown_fd;
    shutdown_io.fn = on_shutdown;
    loop_add(main_loop, &shutdown_io, LOOP_READ, false);
    loop_timer_add(main_loop, 100, main_cron, NULL);

    memcache_start();
    if (worker_start(on_worker_start, on_worker_stop) != 0) return 1;
    repl_start();
    log_notice("Server initialized");
    if (server_settings.tls_port)
        log_notice("Ready to accept connections tcp (port %d, tls port %d, %d threads)", server_settings.port,
                   server_settings.tls_port, threads);
    else
        log_notice("Ready to accept connections tcp (port %d, %d threads)", server_settings.port, threads);

    loop_run(main_loop);

    log_warn("User requested shutdown...");
    script_shutdown_notify(); /* a script running on a worker stops at its next check */
    for (int i = 0; i < nlisteners; i++)
        if (listeners[i]) listener_detach(listeners[i]);
    /* The replicas catch up first (writes are paused), unless SHUTDOWN NOW. */
    if (!(atomic_load(&shutdown_flags) & 4)) repl_shutdown_wait();
    repl_teardown(); /* before the workers: it posts to their connections */
    worker_stop();
    aof_stop(); /* every acknowledged write is in the log: write and fsync it */
    persist_teardown();
    if (server_settings.pidfile[0]) unlink(server_settings.pidfile);
    log_warn("Stash is now ready to exit, bye bye...");
    for (int i = 0; i < nlisteners; i++)
        if (listeners[i]) listener_close(&listeners[i]);
    for (int i = 0; i < nretired; i++) listener_close(&retired[i]);
    worker_teardown();
    loop_destroy(&main_loop);
    close(shutdown_fd);
    close(signal_io.fd);
    log_teardown();
    memcache_teardown();
    store_teardown();
    exec_teardown();
    exec_access_teardown();
    acl_teardown();
    slowlog_teardown();
    latency_teardown();
    tls_options_teardown();
    config_teardown();
    return 0;
}

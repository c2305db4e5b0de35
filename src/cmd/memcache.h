/*
 * cmd/memcache.h - the memcached engine: memcached's text, meta and binary
 * protocols served on the Stash store (see memcache.c for the design).
 *
 * The composition root (server/main.c) sets the module up, opens the
 * listeners the settings ask for and attaches them with MEMCACHE_TAG (TCP,
 * UNIX: client_accept serves them with the memcached client_proto) or, for
 * UDP, with memcache_udp_readable as the listener callback. The memcached
 * command line (server/mc_options.c) writes memcache_settings() before the
 * servers start.
 *
 * Thread context: setup/teardown and the settings from the main thread
 * before the workers run; the callbacks on workers; memcache_cron on the
 * main thread.
 */
#ifndef STASH_CMD_MEMCACHE_H
#define STASH_CMD_MEMCACHE_H

#include "base/common.h"
#include "net/listener.h"

/* Listener tag of memcached TCP and UNIX connections. */
#define MEMCACHE_TAG 2
/* ... and of memcached TCP connections over TLS (-Z, memcached-tls). */
#define MEMCACHE_TLS_TAG 4

enum memcache_binding { MEMCACHE_AUTO = 0, MEMCACHE_ASCII = 1, MEMCACHE_BINARY = 2 };

/* The engine's settings: memcached's command line, or the memcached-*
 * config directives on a Redis node. Tunables of memcached's own internals
 * (slabs, LRU segments, hash table) are kept only to be shown by "stats
 * settings". */
struct memcache_settings {
    /* Listeners (the composition root opens them). */
    int port;             /* TCP; 0: none */
    int udp_port;         /* 0: none */
    char unixsocket[108]; /* "": none */
    int unixsocket_perm;  /* octal mask as given to -a */
    char inter[256];      /* -l as given ("" : all), for stats settings */
    char listen[16][64];  /* -l split: addresses (none: the server's bind list) */
    int listen_port[16];  /* their ports (0: `port`) */
    int nlisten;
    /* Protocol behaviour. */
    long long item_size_max;
    bool use_cas;
    bool flush_enabled;
    bool shutdown_enabled;
    bool watch_enabled;
    bool dump_enabled;
    bool evict_to_free;   /* false with -M */
    int binding;          /* enum memcache_binding */
    int verbose;
    bool detail_enabled;
    char prefix_delimiter;
    /* Shown by stats settings (and mirrored into Stash's own settings). */
    long long maxbytes;
    int maxconns;
    int threads;
    int reqs_per_event;
    int backlog;
    int idle_timeout;
    double factor;
    int chunk_size;
    bool maxconns_fast;
    int hashpower_init;
    bool slab_reassign;
    int slab_automove;
    double slab_automove_ratio;
    unsigned slab_automove_window;
    int slab_chunk_max;
    bool lru_crawler;
    int lru_crawler_sleep;
    unsigned lru_crawler_tocrawl;
    int tail_repair_time;
    char hash_algorithm[16];
    bool lru_maintainer;
    bool lru_segmented;
    int hot_lru_pct, warm_lru_pct;
    double hot_max_factor, warm_max_factor;
    bool temp_lru;
    unsigned temporary_ttl;
    unsigned watcher_logbuf_size, worker_logbuf_size;
    unsigned read_buf_mem_limit;
    bool track_sizes;
    bool engine; /* running as --engine memcached (not a listener on a Redis node) */
    /* Authentication (memcache_auth.c): -S and its password database
     * (MEMCACHED_SASL_PWDB), -Y's authfile; "" when unused. */
    bool sasl;
    char sasl_pwdb[4096];
    char auth_file[4096];
    /* TLS: -Z and -o ssl_* (engine), memcached-tls (Redis node: tls-* files). */
    bool ssl_enabled;
    bool listen_notls[16]; /* -l notls:addr: this listener stays plain */
    char ssl_chain_cert[1024], ssl_key[1024], ssl_ca_cert[1024], ssl_ciphers[1024]; /* "": unset */
    int ssl_verify_mode;   /* 0 none, 1 request, 2 require, 3 once */
    int ssl_keyformat;     /* 1 PEM, 2 DER */
    unsigned ssl_wbuf_size;
    bool ssl_session_cache, ssl_kernel_tls;
    int ssl_min_version;   /* 0..3: TLSv1.0 .. TLSv1.3 */
};

/* The settings, for the memcached command line to fill before setup. [setup] */
struct memcache_settings *memcache_settings(void);

/* Register the memcached-* config directives and the connection protocol.
 * Call before the configuration is loaded. */
void memcache_setup(void);
void memcache_teardown(void);
/* Settings are final (after the configuration was loaded): derive what the
 * engine needs from them. */
void memcache_start(void);
/* Open the authentication files the settings name (-Y, -S): 0, or -1 with
 * memcached's message in err. [setup] */
int memcache_auth_setup(char *err, size_t errlen);
void memcache_auth_teardown(void);

/* Listener callback of a memcached UDP socket: datagrams are waiting on fd
 * (shared by every worker; not owned). [worker] */
void memcache_udp_readable(int fd, enum listener_kind kind, int tag);

/* TLS of the memcached listeners. memcache_tls_start builds memcached's
 * own context from the ssl_* settings (0, or memcached's error message in
 * err); memcache_set_tls uses a context configured elsewhere (a Redis
 * node's). [setup] */
struct tls_server;
int memcache_tls_start(char *err, size_t errlen);
void memcache_set_tls(struct tls_server *s);
struct tls_server *memcache_tls(void);

/* Does this node serve memcached (engine mode, or a memcached listener)? */
bool memcache_enabled(void);

/* Store hooks, chained by the composition root after exec's: a key was
 * deleted by the store [stripe-locked]; a locked section ended [no locks]
 * (eviction lines staged under the lock reach the watchers then). */
void memcache_store_deleted(int db, const char *key, size_t klen, bool evicted);
void memcache_flush_evictions(void);
extern __thread size_t memcache_evictions_staged;
static inline void memcache_store_after(void) {
    if (UNLIKELY(memcache_evictions_staged)) memcache_flush_evictions();
}

/* On each worker as it stops: frees the worker's UDP state. */
void memcache_worker_stop(void);

/* Every ~100 ms on the main thread: runs a delayed flush_all when due. */
void memcache_cron(void);

#endif

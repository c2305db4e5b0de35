/*
 * cmd/memcache_stats.c - memcached's statistics ("stats" and its groups,
 * the binary STAT), per-prefix statistics (stats detail), item dumps
 * (lru_crawler metadump, stats sizes) and log watchers ("watch").
 *
 * Counters: one block of memcached's counters per thread, on its own cache
 * lines, written only by that thread without read-modify-write; "stats"
 * sums the blocks. Field names and order are memcached 1.6.18's. Values
 * that describe memcached's own machinery (slab pages, LRU segments,
 * response objects) are reported as the nearest Stash fact or as a
 * constant: curr_items is database 0's size, bytes the memory Stash holds
 * for data beyond its start-up footprint, evictions the store's evictions.
 *
 * Watchers: a connection that sends "watch" becomes a listener of log
 * lines (item_get, item_store, conn_new/conn_close) produced on any worker;
 * lines are delivered through the watcher's worker mailbox (refcounted,
 * like MONITOR's), never under a stripe lock.
 *
 * Threading: counters [owner thread writes, any reads]; the prefix table
 * and the watcher list each have their own mutex (leaf locks, never held
 * with a stripe lock).
 */
#include "cmd/memcache_int.h"
#include "base/alloc.h"
#include "base/str.h"
#include "base/time.h"
#include "net/tls.h"
#include "net/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- counters ------------------------------------------------------------------------- */

#define MAX_THREADS 512
static struct mc_tstats tstats[MAX_THREADS];
static struct mc_tstats shared_tstats;
static _Atomic int ntstats;
__thread struct mc_tstats *mc_tl_stats;

struct mc_tstats *mc_tstats_slow(void) {
    int i = atomic_fetch_add(&ntstats, 1);
    mc_tl_stats = i < MAX_THREADS ? &tstats[i] : &shared_tstats;
    return mc_tl_stats;
}

#define NFIELDS (sizeof(struct mc_tstats) / sizeof(_Atomic uint64_t))

static void sum_stats(uint64_t *out) {
    memset(out, 0, NFIELDS * sizeof(uint64_t));
    int n = MIN(atomic_load(&ntstats), MAX_THREADS);
    for (int t = 0; t <= n; t++) {
        _Atomic uint64_t *f = (_Atomic uint64_t *)(t < n ? &tstats[t] : &shared_tstats);
        for (size_t i = 0; i < NFIELDS; i++) out[i] += atomic_load_explicit(&f[i], memory_order_relaxed);
    }
}

#define FIELD(name) (offsetof(struct mc_tstats, name) / sizeof(_Atomic uint64_t))

static void reset_stats(void) {
    int n = MIN(atomic_load(&ntstats), MAX_THREADS);
    for (int t = 0; t <= n; t++) {
        _Atomic uint64_t *f = (_Atomic uint64_t *)(t < n ? &tstats[t] : &shared_tstats);
        for (size_t i = 0; i < NFIELDS; i++) atomic_store_explicit(&f[i], 0, memory_order_relaxed);
    }
}

static int64_t started_s;
static size_t baseline_bytes;

size_t mc_baseline_bytes(void) { return baseline_bytes; }

void mc_stats_start(void);
void mc_stats_start(void) {
    started_s = time_ms() / 1000;
    baseline_bytes = alloc_used_bytes();
}

/* ---- stat sinks (text lines or binary packets) -------------------------------------------- */

struct sink {
    struct client *c;
    bool binary;
    uint32_t opaque;
};

static void emit(struct sink *s, const char *name, const char *value) {
    if (!s->binary) {
        mc_w_stat(s->c->out, name, value);
        return;
    }
    size_t kn = strlen(name), vn = strlen(value);
    mcbin_w_header(s->c->out, MCBIN_STAT, MCBIN_OK, 0, (uint16_t)kn, (uint32_t)(kn + vn), s->opaque, 0);
    obuf_append(s->c->out, name, kn);
    obuf_append(s->c->out, value, vn);
}

PRINTF_FMT(3, 4) static void emitf(struct sink *s, const char *name, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    emit(s, name, buf);
}

static void emit_end(struct sink *s) {
    if (s->binary)
        mcbin_w_header(s->c->out, MCBIN_STAT, MCBIN_OK, 0, 0, 0, s->opaque, 0);
    else
        obuf_append(s->c->out, "END\r\n", 5);
}

/* ---- general statistics ------------------------------------------------------------------------ */

static uint64_t data_bytes(void) {
    size_t used = alloc_used_bytes();
    return used > baseline_bytes ? used - baseline_bytes : 0;
}

static unsigned hash_power(uint64_t items) {
    unsigned p = 16;
    while (p < 32 && (1ULL << p) * 3 / 2 < items) p++;
    return p;
}

static void general_stats(struct sink *s) {
    uint64_t v[NFIELDS];
    sum_stats(v);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct client_stats cs;
    client_get_stats(&cs);
    struct store_stats ss;
    store_get_stats(&ss);
    int64_t now = time_ms() / 1000;
    uint64_t items = store_dbsize(0);
    unsigned hp = hash_power(items);
    long conns = client_count();
#define G(name) (unsigned long long)v[FIELD(name)]
    emitf(s, "pid", "%ld", (long)getpid());
    emitf(s, "uptime", "%lld", (long long)(now - started_s));
    emitf(s, "time", "%lld", (long long)now);
    emit(s, "version", MEMCACHE_VERSION);
    emit(s, "libevent", "stash-epoll");
    emitf(s, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    emitf(s, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    emitf(s, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    emitf(s, "max_connections", "%d", mc_settings.maxconns);
    emitf(s, "curr_connections", "%ld", conns);
    emitf(s, "total_connections", "%llu", (unsigned long long)cs.connections_received);
    if (mc_settings.maxconns_fast)
        emitf(s, "rejected_connections", "%llu", (unsigned long long)cs.rejected_connections);
    emitf(s, "connection_structures", "%ld", conns + 1);
    emit(s, "response_obj_oom", "0");
    emitf(s, "response_obj_count", "%ld", conns);
    emitf(s, "response_obj_bytes", "%ld", conns * 16384);
    emitf(s, "read_buf_count", "%d", worker_count());
    emitf(s, "read_buf_bytes", "%d", worker_count() * 16384);
    emit(s, "read_buf_bytes_free", "0");
    emit(s, "read_buf_oom", "0");
    emit(s, "reserved_fds", "20");
    emitf(s, "cmd_get", "%llu", G(get_cmds));
    emitf(s, "cmd_set", "%llu", G(set_cmds));
    emitf(s, "cmd_flush", "%llu", G(flush_cmds));
    emitf(s, "cmd_touch", "%llu", G(touch_cmds));
    emitf(s, "cmd_meta", "%llu", G(meta_cmds));
    emitf(s, "get_hits", "%llu", G(get_hits));
    emitf(s, "get_misses", "%llu", G(get_misses));
    emitf(s, "get_expired", "%llu", G(get_expired));
    emitf(s, "get_flushed", "%llu", G(get_flushed));
    emitf(s, "delete_misses", "%llu", G(delete_misses));
    emitf(s, "delete_hits", "%llu", G(delete_hits));
    emitf(s, "incr_misses", "%llu", G(incr_misses));
    emitf(s, "incr_hits", "%llu", G(incr_hits));
    emitf(s, "decr_misses", "%llu", G(decr_misses));
    emitf(s, "decr_hits", "%llu", G(decr_hits));
    emitf(s, "cas_misses", "%llu", G(cas_misses));
    emitf(s, "cas_hits", "%llu", G(cas_hits));
    emitf(s, "cas_badval", "%llu", G(cas_badval));
    emitf(s, "touch_hits", "%llu", G(touch_hits));
    emitf(s, "touch_misses", "%llu", G(touch_misses));
    emitf(s, "store_too_large", "%llu", G(store_too_large));
    emitf(s, "store_no_memory", "%llu", G(store_no_memory));
    emitf(s, "auth_cmds", "%llu", G(auth_cmds));
    emitf(s, "auth_errors", "%llu", G(auth_errors));
    if (mc_settings.idle_timeout) emit(s, "idle_kicks", "0");
    emitf(s, "bytes_read", "%llu", (unsigned long long)cs.net_input_bytes);
    emitf(s, "bytes_written", "%llu", (unsigned long long)cs.net_output_bytes);
    emitf(s, "limit_maxbytes", "%llu", (unsigned long long)MC_LOAD(maxbytes));
    emit(s, "accepting_conns", "1");
    emit(s, "listen_disabled_num", "0");
    emit(s, "time_in_listen_disabled_us", "0");
    emitf(s, "threads", "%d", worker_count());
    emitf(s, "conn_yields", "%llu", G(conn_yields));
    emitf(s, "hash_power_level", "%u", hp);
    emitf(s, "hash_bytes", "%llu", (unsigned long long)(8ULL << hp));
    emit(s, "hash_is_expanding", "0");
    if (mc_settings.slab_reassign) {
        static const char *const zero[] = {"slab_reassign_rescues", "slab_reassign_chunk_rescues",
                                           "slab_reassign_evictions_nomem", "slab_reassign_inline_reclaim",
                                           "slab_reassign_busy_items", "slab_reassign_busy_deletes",
                                           "slab_reassign_running", "slabs_moved", NULL};
        for (int i = 0; zero[i]; i++) emit(s, zero[i], "0");
    }
    if (MC_LOAD(lru_crawler)) {
        emit(s, "lru_crawler_running", "0");
        emit(s, "lru_crawler_starts", "0");
    }
    if (mc_settings.lru_maintainer) emit(s, "lru_maintainer_juggles", "0");
    emit(s, "malloc_fails", "0");
    emit(s, "log_worker_dropped", "0");
    emit(s, "log_worker_written", "0");
    emit(s, "log_watcher_skipped", "0");
    emit(s, "log_watcher_sent", "0");
    emitf(s, "log_watchers", "%d", atomic_load(&mc_watchers));
    if (mc_settings.ssl_enabled && memcache_tls()) {
        struct tls_server_stats ts;
        tls_server_stats(memcache_tls(), &ts);
        if (mc_settings.ssl_session_cache)
            emitf(s, "ssl_new_sessions", "%llu", (unsigned long long)ts.new_sessions);
        emitf(s, "ssl_handshake_errors", "%llu", (unsigned long long)ts.handshake_errors);
        emitf(s, "time_since_server_cert_refresh", "%u", (unsigned)(time(NULL) - ts.configured_at));
    }
    emit(s, "unexpected_napi_ids", "0");
    emit(s, "round_robin_fallback", "0");
    emitf(s, "bytes", "%llu", (unsigned long long)data_bytes());
    emitf(s, "curr_items", "%llu", (unsigned long long)items);
    emitf(s, "total_items", "%llu", G(total_items));
    emit(s, "slab_global_page_pool", "0");
    emit(s, "expired_unfetched", "0");
    emit(s, "evicted_unfetched", "0");
    emit(s, "evicted_active", "0");
    emitf(s, "evictions", "%llu", (unsigned long long)ss.evicted);
    emit(s, "reclaimed", "0");
    emit(s, "crawler_reclaimed", "0");
    emit(s, "crawler_items_checked", "0");
    emit(s, "lrutail_reflocked", "0");
    emit(s, "moves_to_cold", "0");
    emit(s, "moves_to_warm", "0");
    emit(s, "moves_within_lru", "0");
    emit(s, "direct_reclaims", "0");
    emit(s, "lru_bumps_dropped", "0");
#undef G
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void settings_stats(struct sink *s) {
    const struct memcache_settings *m = &mc_settings;
    emitf(s, "maxbytes", "%llu", (unsigned long long)MC_LOAD(maxbytes));
    emitf(s, "maxconns", "%d", m->maxconns);
    emitf(s, "tcpport", "%d", m->port);
    emitf(s, "udpport", "%d", m->udp_port);
    emit(s, "inter", m->inter[0] ? m->inter : "NULL");
    emitf(s, "verbosity", "%d", MC_LOAD(verbose));
    emit(s, "oldest", "0");
    emit(s, "evictions", m->evict_to_free ? "on" : "off");
    emit(s, "domain_socket", m->unixsocket[0] ? m->unixsocket : "NULL");
    emitf(s, "umask", "%o", (unsigned)m->unixsocket_perm);
    emit(s, "shutdown_command", yes_no(MC_LOAD(shutdown_enabled)));
    emitf(s, "growth_factor", "%.2f", m->factor);
    emitf(s, "chunk_size", "%d", m->chunk_size);
    emitf(s, "num_threads", "%d", worker_count());
    emitf(s, "num_threads_per_udp", "%d", worker_count());
    emitf(s, "stat_key_prefix", "%c", m->prefix_delimiter);
    emit(s, "detail_enabled", yes_no(MC_LOAD(detail_enabled)));
    emitf(s, "reqs_per_event", "%d", m->reqs_per_event);
    emit(s, "cas_enabled", yes_no(m->use_cas));
    emitf(s, "tcp_backlog", "%d", m->backlog);
    emit(s, "binding_protocol",
         m->binding == MEMCACHE_ASCII ? "ascii" : m->binding == MEMCACHE_BINARY ? "binary" : "auto-negotiate");
    emit(s, "auth_enabled_sasl", yes_no(m->sasl));
    emit(s, "auth_enabled_ascii", m->auth_file[0] ? m->auth_file : "no");
    emitf(s, "item_size_max", "%lld", m->item_size_max);
    emit(s, "maxconns_fast", yes_no(m->maxconns_fast));
    emitf(s, "hashpower_init", "%d", m->hashpower_init);
    emit(s, "slab_reassign", yes_no(m->slab_reassign));
    emitf(s, "slab_automove", "%d", MC_LOAD(slab_automove));
    emitf(s, "slab_automove_ratio", "%.2f", MC_LOAD(slab_automove_ratio));
    emitf(s, "slab_automove_window", "%u", m->slab_automove_window);
    emitf(s, "slab_chunk_max", "%d", m->slab_chunk_max);
    emit(s, "lru_crawler", yes_no(MC_LOAD(lru_crawler)));
    emitf(s, "lru_crawler_sleep", "%d", MC_LOAD(lru_crawler_sleep));
    emitf(s, "lru_crawler_tocrawl", "%u", MC_LOAD(lru_crawler_tocrawl));
    emitf(s, "tail_repair_time", "%d", m->tail_repair_time);
    emit(s, "flush_enabled", yes_no(MC_LOAD(flush_enabled)));
    emit(s, "dump_enabled", yes_no(m->dump_enabled));
    emit(s, "hash_algorithm", m->hash_algorithm);
    emit(s, "lru_maintainer_thread", yes_no(m->lru_maintainer));
    emit(s, "lru_segmented", yes_no(MC_LOAD(lru_segmented)));
    emitf(s, "hot_lru_pct", "%d", MC_LOAD(hot_lru_pct));
    emitf(s, "warm_lru_pct", "%d", MC_LOAD(warm_lru_pct));
    emitf(s, "hot_max_factor", "%.2f", MC_LOAD(hot_max_factor));
    emitf(s, "warm_max_factor", "%.2f", MC_LOAD(warm_max_factor));
    emit(s, "temp_lru", yes_no(MC_LOAD(temp_lru)));
    emitf(s, "temporary_ttl", "%u", MC_LOAD(temporary_ttl));
    emitf(s, "idle_timeout", "%d", m->idle_timeout);
    emitf(s, "watcher_logbuf_size", "%u", m->watcher_logbuf_size);
    emitf(s, "worker_logbuf_size", "%u", m->worker_logbuf_size);
    emitf(s, "read_buf_mem_limit", "%u", m->read_buf_mem_limit);
    emit(s, "track_sizes", yes_no(MC_LOAD(track_sizes)));
    emit(s, "inline_ascii_response", "no");
    /* memcached's numbers: the SSL_VERIFY_* flags of modes 0..3, TLS versions. */
    static const int verify_flags[] = {0, 1, 3, 7};
    static const char *const versions[] = {"tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"};
    emit(s, "ssl_enabled", yes_no(m->ssl_enabled));
    emit(s, "ssl_chain_cert", m->ssl_chain_cert[0] ? m->ssl_chain_cert : "(null)");
    emit(s, "ssl_key", m->ssl_key[0] ? m->ssl_key : "(null)");
    emitf(s, "ssl_verify_mode", "%d", verify_flags[m->ssl_verify_mode & 3]);
    emitf(s, "ssl_keyformat", "%d", m->ssl_keyformat);
    emit(s, "ssl_ciphers", m->ssl_ciphers[0] ? m->ssl_ciphers : "NULL");
    emit(s, "ssl_ca_cert", m->ssl_ca_cert[0] ? m->ssl_ca_cert : "NULL");
    emitf(s, "ssl_wbuf_size", "%u", m->ssl_wbuf_size);
    emit(s, "ssl_session_cache", yes_no(m->ssl_session_cache));
    emit(s, "ssl_kernel_tls", yes_no(m->ssl_kernel_tls));
    emit(s, "ssl_min_version", versions[m->ssl_min_version & 3]);
}

/* ---- items, slabs, sizes ------------------------------------------------------------------------------ */

static void items_stats(struct sink *s) {
    uint64_t items = store_dbsize(0);
    if (items == 0) return;
    uint64_t v[NFIELDS];
    sum_stats(v);
    struct store_stats ss;
    store_get_stats(&ss);
    emitf(s, "items:1:number", "%llu", (unsigned long long)items);
    emit(s, "items:1:number_hot", "0");
    emit(s, "items:1:number_warm", "0");
    emitf(s, "items:1:number_cold", "%llu", (unsigned long long)items);
    emit(s, "items:1:age_hot", "0");
    emit(s, "items:1:age_warm", "0");
    emit(s, "items:1:age", "0");
    emitf(s, "items:1:mem_requested", "%llu", (unsigned long long)data_bytes());
    emitf(s, "items:1:evicted", "%llu", (unsigned long long)ss.evicted);
    emit(s, "items:1:evicted_nonzero", "0");
    emit(s, "items:1:evicted_time", "0");
    emitf(s, "items:1:outofmemory", "%llu", (unsigned long long)v[FIELD(store_no_memory)]);
    static const char *const zero[] = {"tailrepairs", "reclaimed", "expired_unfetched", "evicted_unfetched",
                                       "evicted_active", "crawler_reclaimed", "crawler_items_checked",
                                       "lrutail_reflocked", "moves_to_cold", "moves_to_warm", "moves_within_lru",
                                       "direct_reclaims", "hits_to_hot", "hits_to_warm", NULL};
    char name[64];
    for (int i = 0; zero[i]; i++) {
        snprintf(name, sizeof(name), "items:1:%s", zero[i]);
        emit(s, name, "0");
    }
    emitf(s, "items:1:hits_to_cold", "%llu", (unsigned long long)v[FIELD(get_hits)]);
    emit(s, "items:1:hits_to_temp", "0");
}

static void slabs_stats(struct sink *s) {
    uint64_t items = store_dbsize(0);
    uint64_t bytes = data_bytes();
    if (items > 0) {
        uint64_t v[NFIELDS];
        sum_stats(v);
        uint64_t chunk = bytes / items;
        if (chunk < 48) chunk = 48;
        emitf(s, "1:chunk_size", "%llu", (unsigned long long)chunk);
        emitf(s, "1:chunks_per_page", "%llu", (unsigned long long)(1048576 / chunk));
        emitf(s, "1:total_pages", "%llu", (unsigned long long)((bytes + 1048575) / 1048576));
        emitf(s, "1:total_chunks", "%llu", (unsigned long long)items);
        emitf(s, "1:used_chunks", "%llu", (unsigned long long)items);
        emit(s, "1:free_chunks", "0");
        emit(s, "1:free_chunks_end", "0");
        emitf(s, "1:get_hits", "%llu", (unsigned long long)v[FIELD(get_hits)]);
        emitf(s, "1:cmd_set", "%llu", (unsigned long long)v[FIELD(set_cmds)]);
        emitf(s, "1:delete_hits", "%llu", (unsigned long long)v[FIELD(delete_hits)]);
        emitf(s, "1:incr_hits", "%llu", (unsigned long long)v[FIELD(incr_hits)]);
        emitf(s, "1:decr_hits", "%llu", (unsigned long long)v[FIELD(decr_hits)]);
        emitf(s, "1:cas_hits", "%llu", (unsigned long long)v[FIELD(cas_hits)]);
        emitf(s, "1:cas_badval", "%llu", (unsigned long long)v[FIELD(cas_badval)]);
        emitf(s, "1:touch_hits", "%llu", (unsigned long long)v[FIELD(touch_hits)]);
    }
    emitf(s, "active_slabs", "%d", items > 0 ? 1 : 0);
    emitf(s, "total_malloced", "%llu", (unsigned long long)bytes);
}

size_t mc_item_size(const struct entry *e) {
    size_t klen;
    entry_key(e, &klen);
    uint32_t flags = entry_mc_get(e).flags;
    return MC_ITEM_HEADER + klen + 1 + (flags ? 4 : 0) + entry_str_len(e) + 2 + (mc_settings.use_cas ? 8 : 0);
}

#define SIZE_BUCKETS 32768 /* 32-byte buckets up to 1 MiB; bigger items go to the last */

static void size_item(struct entry *e, void *arg) {
    uint64_t *hist = arg;
    if (entry_type(e) != TYPE_STRING) return;
    uint64_t b = (mc_item_size(e) + 31) / 32;
    hist[b < SIZE_BUCKETS ? b : SIZE_BUCKETS - 1]++;
}

static void sizes_stats(struct sink *s) {
    if (!MC_LOAD(track_sizes)) {
        emit(s, "sizes_status", "disabled");
        return;
    }
    uint64_t *hist = xcalloc(SIZE_BUCKETS, sizeof(uint64_t));
    store_foreach(0, size_item, hist);
    char name[32];
    for (size_t i = 0; i < SIZE_BUCKETS; i++) {
        if (!hist[i]) continue;
        snprintf(name, sizeof(name), "%zu", i * 32);
        emitf(s, name, "%llu", (unsigned long long)hist[i]);
    }
    xfree(hist);
}

/* ---- per-prefix statistics (stats detail) ------------------------------------------------------------------ */

struct prefix {
    struct prefix *next;
    uint64_t gets, hits, sets, dels;
    size_t len;
    char name[];
};

#define PREFIX_BUCKETS 256
static struct prefix *prefixes[PREFIX_BUCKETS];
static pthread_mutex_t prefix_mu = PTHREAD_MUTEX_INITIALIZER;

void mc_detail_record(const char *key, size_t klen, char op) {
    char delim = mc_settings.prefix_delimiter;
    size_t len = 0;
    while (len < klen && key[len] != '\0' && key[len] != delim) len++;
    if (len == klen || key[len] != delim) return;
    unsigned h = 5381;
    for (size_t i = 0; i < len; i++) h = h * 33 + (unsigned char)key[i];
    pthread_mutex_lock(&prefix_mu);
    struct prefix *p = prefixes[h % PREFIX_BUCKETS];
    while (p && !(p->len == len && memcmp(p->name, key, len) == 0)) p = p->next;
    if (p == NULL) {
        p = xcalloc(1, sizeof(*p) + len + 1);
        memcpy(p->name, key, len);
        p->len = len;
        p->next = prefixes[h % PREFIX_BUCKETS];
        prefixes[h % PREFIX_BUCKETS] = p;
    }
    switch (op) {
    case 'g': p->gets++; p->hits++; break;
    case 'm': p->gets++; break;
    case 's': p->sets++; break;
    default: p->dels++; break;
    }
    pthread_mutex_unlock(&prefix_mu);
}

static void detail_dump(struct buf *b) {
    pthread_mutex_lock(&prefix_mu);
    for (int i = 0; i < PREFIX_BUCKETS; i++)
        for (struct prefix *p = prefixes[i]; p; p = p->next)
            buf_printf(b, "PREFIX %s get %llu hit %llu set %llu del %llu\r\n", p->name, (unsigned long long)p->gets,
                       (unsigned long long)p->hits, (unsigned long long)p->sets, (unsigned long long)p->dels);
    pthread_mutex_unlock(&prefix_mu);
    buf_puts(b, "END\r\n");
}

static void detail_clear(void) {
    pthread_mutex_lock(&prefix_mu);
    for (int i = 0; i < PREFIX_BUCKETS; i++) {
        while (prefixes[i]) {
            struct prefix *p = prefixes[i];
            prefixes[i] = p->next;
            xfree(p);
        }
    }
    pthread_mutex_unlock(&prefix_mu);
}

static void stats_reset(void) {
    reset_stats();
    detail_clear();
    store_reset_stats();
}

/* ---- stats conns (a fan-out over the workers) ---------------------------------------------------------------- */

struct conns_job {
    uint64_t self;
    struct buf lines[WORKER_MAX];
};

static void conns_work(void *arg, int worker) {
    struct conns_job *j = arg;
    int64_t now = time_ms();
    for (struct client *cl = client_first(); cl; cl = client_next(cl)) {
        if (cl->proto == NULL || (cl->flags & CLIENT_CLOSED)) continue;
        struct mc_conn *m = cl->pstate;
        int fd = conn_fd(&cl->conn);
        bool unix_sock = (cl->flags & CLIENT_UNIX_SOCKET) != 0;
        const char *state = cl->id == j->self ? "conn_parse_cmd" : m && m->watcher ? "conn_watch" : "conn_waiting";
        buf_printf(&j->lines[worker], "STAT %d:addr %s:%s\r\n", fd, unix_sock ? "unix" : "tcp",
                   unix_sock ? cl->laddr : cl->addr);
        if (!unix_sock) buf_printf(&j->lines[worker], "STAT %d:listen_addr tcp:%s\r\n", fd, cl->laddr);
        buf_printf(&j->lines[worker], "STAT %d:state %s\r\n", fd, state);
        buf_printf(&j->lines[worker], "STAT %d:secs_since_last_cmd %lld\r\n", fd,
                   (long long)((now - cl->last_ms) / 1000));
    }
}

static void conns_done(struct client *c, void *arg) {
    struct conns_job *j = arg;
    for (int i = 0; i < WORKER_MAX; i++) {
        if (c && j->lines[i].len) obuf_append(c->out, j->lines[i].data, j->lines[i].len);
        buf_free(&j->lines[i]);
    }
    if (c) {
        obuf_append(c->out, "END\r\n", 5);
        client_want_write(c);
    }
    xfree(j);
}

/* stats cachedump <class> <limit>: every item is in class 1 here. */
struct cachedump_ctx {
    struct client *c;
    uint32_t limit, shown;
    size_t bytes;
};

static void cachedump_item(struct entry *e, void *arg) {
    struct cachedump_ctx *d = arg;
    if (entry_type(e) != TYPE_STRING || (e->flags & ENTRY_F_MC_BINKEY)) return;
    if ((d->limit && d->shown >= d->limit) || d->bytes > 2 * 1024 * 1024 - 512) return;
    size_t klen;
    const char *key = entry_key(e, &klen);
    char tail[80];
    int n = snprintf(tail, sizeof(tail), " [%zu b; %lld s]\r\n", entry_str_len(e),
                     entry_has_expire(e) ? (long long)(entry_expire(e) / 1000) : 0LL);
    obuf_append(d->c->out, "ITEM ", 5);
    obuf_append(d->c->out, key, klen);
    obuf_append(d->c->out, tail, (size_t)n);
    d->shown++;
    d->bytes += 5 + klen + (size_t)n;
}

static void cachedump(struct client *c, uint32_t id, uint32_t limit) {
    struct cachedump_ctx d = {c, limit, 0, 0};
    if (id == 1) store_foreach(0, cachedump_item, &d);
    obuf_append(c->out, "END\r\n", 5);
}

/* ---- the stats command -------------------------------------------------------------------------------------------- */

void mc_cmd_stats(struct client *c, const struct mc_tokens *t) {
    struct sink s = {c, false, 0};
    if (t->n == 1) {
        general_stats(&s);
        emit_end(&s);
        return;
    }
    const struct mc_tok *sub = &t->t[1];
    if (mc_tok_is(sub, "reset")) {
        stats_reset();
        mc_w_cstr(c->out, "RESET");
    } else if (mc_tok_is(sub, "detail")) {
        const struct mc_tok *arg = t->n >= 3 ? &t->t[2] : NULL;
        if (arg && mc_tok_is(arg, "on")) {
            MC_STORE(detail_enabled, true);
            mc_w_cstr(c->out, "OK");
        } else if (arg && mc_tok_is(arg, "off")) {
            MC_STORE(detail_enabled, false);
            mc_w_cstr(c->out, "OK");
        } else if (arg && mc_tok_is(arg, "dump")) {
            struct buf b = BUF_INIT;
            detail_dump(&b);
            obuf_append(c->out, b.data, b.len);
            buf_free(&b);
        } else {
            mc_w_cstr(c->out, "CLIENT_ERROR usage: stats detail on|off|dump");
        }
    } else if (mc_tok_is(sub, "settings")) {
        settings_stats(&s);
        emit_end(&s);
    } else if (mc_tok_is(sub, "cachedump")) {
        uint32_t id, limit;
        if (!mc_settings.dump_enabled)
            mc_w_cstr(c->out, "CLIENT_ERROR stats cachedump not allowed");
        else if (t->n < 4)
            mc_w_cstr(c->out, "CLIENT_ERROR bad command line");
        else if (!mc_parse_u32(t->t[2].p, t->t[2].len, &id) || !mc_parse_u32(t->t[3].p, t->t[3].len, &limit))
            mc_w_cstr(c->out, "CLIENT_ERROR bad command line format");
        else if (id >= 64)
            mc_w_cstr(c->out, "CLIENT_ERROR Illegal slab id");
        else
            cachedump(c, id, limit);
    } else if (mc_tok_is(sub, "conns")) {
        struct conns_job *j = xcalloc(1, sizeof(*j));
        j->self = c->id;
        if (mc_conn(c)->udp) {
            conns_work(j, 0);
            conns_done(c, j);
        } else {
            client_fanout(c, conns_work, conns_done, j);
        }
    } else if (mc_tok_is(sub, "items")) {
        items_stats(&s);
        emit_end(&s);
    } else if (mc_tok_is(sub, "slabs")) {
        slabs_stats(&s);
        emit_end(&s);
    } else if (mc_tok_is(sub, "sizes")) {
        sizes_stats(&s);
        emit_end(&s);
    } else if (mc_tok_is(sub, "sizes_enable") || mc_tok_is(sub, "sizes_disable")) {
        if (!mc_settings.use_cas) {
            emit(&s, "sizes_status", "error");
            emit(&s, "sizes_error", "cas_support_disabled");
        } else {
            MC_STORE(track_sizes, mc_tok_is(sub, "sizes_enable"));
            emit(&s, "sizes_status", MC_LOAD(track_sizes) ? "enabled" : "disabled");
        }
        /* memcached answers these two without "END" */
    } else {
        mc_w_cstr(c->out, "ERROR");
    }
}

static bool key_is(const char *key, size_t klen, const char *s) {
    size_t n = strlen(s);
    return klen >= n && memcmp(key, s, n) == 0;
}

bool mc_bin_stats(struct client *c, const char *key, size_t klen, uint32_t opaque) {
    struct sink s = {c, true, opaque};
    if (klen == 0) {
        general_stats(&s);
    } else if (key_is(key, klen, "reset")) {
        stats_reset();
    } else if (key_is(key, klen, "settings")) {
        settings_stats(&s);
    } else if (key_is(key, klen, "detail")) {
        const char *rest = key + 6;
        size_t rn = klen - 6;
        if (rn >= 5 && memcmp(rest, " dump", 5) == 0) {
            struct buf b = BUF_INIT;
            detail_dump(&b);
            buf_putc(&b, '\0');
            emit(&s, "detailed", b.data);
            buf_free(&b);
        } else if (rn >= 3 && memcmp(rest, " on", 3) == 0) {
            MC_STORE(detail_enabled, true);
        } else if (rn >= 4 && memcmp(rest, " off", 4) == 0) {
            MC_STORE(detail_enabled, false);
        } else {
            return false;
        }
    } else if (key_is(key, klen, "items") && klen == 5) {
        items_stats(&s);
    } else if (key_is(key, klen, "slabs") && klen == 5) {
        slabs_stats(&s);
    } else if (key_is(key, klen, "sizes") && klen == 5) {
        sizes_stats(&s);
    } else {
        return false;
    }
    emit_end(&s);
    return true;
}

/* ---- metadump ------------------------------------------------------------------------------------------------------ */

/* memcached's URI encoding of keys in log and dump lines. */
static void uri_encode(struct buf *b, const char *key, size_t klen) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < klen; i++) {
        unsigned char ch = (unsigned char)key[i];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                     ch == '.' || ch == '_' || ch == '~';
        if (plain) {
            buf_putc(b, (char)ch);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[ch >> 4]);
            buf_putc(b, hex[ch & 15]);
        }
    }
}

struct dump_ctx {
    struct client *c;
    struct buf line;
    int64_t now_s;
};

static void dump_item(struct entry *e, void *arg) {
    struct dump_ctx *d = arg;
    if (entry_type(e) != TYPE_STRING) return;
    size_t klen;
    const char *key = entry_key(e, &klen);
    buf_clear(&d->line);
    buf_puts(&d->line, "key=");
    uri_encode(&d->line, key, klen);
    buf_printf(&d->line, " exp=%lld la=%lld cas=%llu fetch=%s cls=1 size=%llu\n",
               entry_has_expire(e) ? (long long)(entry_expire(e) / 1000) : -1LL,
               (long long)(d->now_s - (int64_t)mc_idle_s(e)), (unsigned long long)mc_cas_peek(e),
               (e->flags & ENTRY_F_MC_FETCHED) ? "yes" : "no", (unsigned long long)mc_item_size(e));
    obuf_append(d->c->out, d->line.data, d->line.len);
}

void mc_metadump(struct client *c) {
    struct dump_ctx d = {c, BUF_INIT, time_ms() / 1000};
    store_foreach(0, dump_item, &d);
    buf_free(&d.line);
    obuf_append(c->out, "END\r\n", 5);
}

/* ---- watchers --------------------------------------------------------------------------------------------------------- */

#define WATCHER_LIMIT 20

struct watcher {
    int worker;
    uint64_t id;
    unsigned mask;
};

_Atomic int mc_watchers;
static _Atomic int evict_watchers; /* of them, watching evictions */
static struct watcher watchers[WATCHER_LIMIT];
static int nwatchers;
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t log_gid;

void mc_cmd_watch(struct client *c, const struct mc_tokens *t) {
    bool noreply = t->n > 1 && mc_tok_is(&t->t[t->n - 1], "noreply");
    if (!mc_settings.watch_enabled) {
        mc_out(c, noreply, "CLIENT_ERROR watch commands not allowed");
        return;
    }
    if (mc_conn(c)->udp) {
        mc_out(c, noreply, "WATCHER_FAILED failed to add log watcher");
        return;
    }
    if (obuf_pending(&c->obuf) > 0) {
        mc_out(c, noreply, "ERROR cannot pipeline other commands before watch");
        return;
    }
    static const struct {
        const char *name;
        unsigned flag;
    } kinds[] = {{"rawcmds", MC_LOG_RAWCMDS},       {"evictions", MC_LOG_EVICTIONS},   {"fetchers", MC_LOG_FETCHERS},
                 {"mutations", MC_LOG_MUTATIONS},    {"sysevents", MC_LOG_SYSEVENTS},   {"connevents", MC_LOG_CONNEVENTS},
                 {"proxyreqs", MC_LOG_PROXY},       {"proxyevents", MC_LOG_PROXY},     {"proxyuser", MC_LOG_PROXY}};
    unsigned mask = 0;
    if (t->n > 1) {
        for (int i = 1; i < t->n; i++) {
            unsigned f = 0;
            for (size_t k = 0; k < ARRAY_LEN(kinds); k++)
                if (mc_tok_is(&t->t[i], kinds[k].name)) f = kinds[k].flag;
            if (f == 0) {
                mc_out(c, noreply, "ERROR");
                return;
            }
            mask |= f;
        }
    } else {
        mask = MC_LOG_FETCHERS;
    }
    pthread_mutex_lock(&watch_mu);
    if (nwatchers >= WATCHER_LIMIT) {
        pthread_mutex_unlock(&watch_mu);
        mc_out(c, noreply, "WATCHER_TOO_MANY log watcher limit reached");
        return;
    }
    watchers[nwatchers++] = (struct watcher){worker_id(c->worker), c->id, mask};
    if (mask & MC_LOG_EVICTIONS) atomic_fetch_add(&evict_watchers, 1);
    atomic_store(&mc_watchers, nwatchers);
    pthread_mutex_unlock(&watch_mu);
    mc_conn(c)->watcher = true;
    mc_conn(c)->watch_mask = (uint16_t)mask;
    obuf_append(c->out, "OK\r\n", 4);
}

void mc_watch_gone(struct client *c) {
    pthread_mutex_lock(&watch_mu);
    for (int i = 0; i < nwatchers; i++) {
        if (watchers[i].id == c->id) {
            if (watchers[i].mask & MC_LOG_EVICTIONS) atomic_fetch_sub(&evict_watchers, 1);
            watchers[i] = watchers[--nwatchers];
            break;
        }
    }
    atomic_store(&mc_watchers, nwatchers);
    pthread_mutex_unlock(&watch_mu);
}

struct log_line {
    _Atomic int refs;
    size_t len;
    char text[];
};

static void line_unref(void *arg) {
    struct log_line *l = arg;
    if (atomic_fetch_sub(&l->refs, 1) == 1) xfree(l);
}

static void deliver(struct client *w, void *arg) {
    struct log_line *l = arg;
    obuf_append(&w->obuf, l->text, l->len);
    client_want_write(w);
    line_unref(l);
}

/* Send b (one line) to every watcher of `kind`. [no locks] */
static void publish(unsigned kind, struct buf *b) {
    struct watcher targets[WATCHER_LIMIT];
    int n = 0;
    pthread_mutex_lock(&watch_mu);
    for (int i = 0; i < nwatchers; i++)
        if (watchers[i].mask & kind) targets[n++] = watchers[i];
    pthread_mutex_unlock(&watch_mu);
    if (n == 0) return;
    struct log_line *l = xmalloc(sizeof(*l) + b->len);
    atomic_init(&l->refs, n);
    l->len = b->len;
    memcpy(l->text, b->data, b->len);
    for (int i = 0; i < n; i++) client_post_by_id(targets[i].worker, targets[i].id, deliver, l, line_unref);
}

static void line_head(struct buf *b) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    buf_printf(b, "ts=%lld.%d gid=%llu ", (long long)tv.tv_sec, (int)tv.tv_usec,
               (unsigned long long)atomic_fetch_add(&log_gid, 1));
}

void mc_log_get(struct client *c, const char *key, size_t klen, int status, size_t size) {
    static const char *const found[] = {"not_found", "found", "flushed", "expired"};
    struct buf b = BUF_INIT;
    line_head(&b);
    buf_puts(&b, "type=item_get key=");
    uri_encode(&b, key, klen);
    buf_printf(&b, " status=%s clsid=%u cfd=%d size=%zu\n", found[status & 3], status ? 1u : 0u, conn_fd(&c->conn),
               size);
    publish(MC_LOG_FETCHERS, &b);
    buf_free(&b);
}

void mc_log_store(struct client *c, const struct mc_store *s) {
    static const char *const status[] = {"not_stored", "stored", "exists", "not_found", "too_large", "no_memory"};
    static const char *const cmds[] = {"null", "add", "set", "replace", "append", "prepend", "cas"};
    struct buf b = BUF_INIT;
    line_head(&b);
    buf_puts(&b, "type=item_store key=");
    uri_encode(&b, s->key, s->klen);
    long long ttl = s->expire > 0 ? (s->expire - store_now() + 999) / 1000 : 0;
    buf_printf(&b, " status=%s cmd=%s ttl=%lld clsid=1 cfd=%d size=%zu\n", status[s->result % 6],
               cmds[s->mode >= 0 && s->mode <= 6 ? s->mode : 0], ttl < 0 ? 0 : ttl, conn_fd(&c->conn), s->vlen);
    publish(MC_LOG_MUTATIONS, &b);
    buf_free(&b);
}

/* Evictions: lines staged under the stripe lock (posting to a watcher is a
 * syscall), published when the locked section ends. The store reports the
 * key after deleting it: the item's own details are not known any more. */
__thread size_t memcache_evictions_staged;
static __thread struct buf evict_lines;
void memcache_store_deleted(int db, const char *key, size_t klen, bool evicted) {
    if (!evicted || db != 0 || atomic_load_explicit(&evict_watchers, memory_order_relaxed) == 0) return;
    line_head(&evict_lines);
    buf_puts(&evict_lines, "type=eviction key=");
    uri_encode(&evict_lines, key, klen);
    buf_puts(&evict_lines, " fetch=no ttl=-1 la=0 clsid=1 size=0\n");
    memcache_evictions_staged = evict_lines.len;
}

void memcache_flush_evictions(void) {
    publish(MC_LOG_EVICTIONS, &evict_lines);
    buf_clear(&evict_lines);
    memcache_evictions_staged = 0;
    if (evict_lines.cap > 64 * 1024) buf_free(&evict_lines);
}

void mc_log_thread_cleanup(void) {
    buf_free(&evict_lines);
    memcache_evictions_staged = 0;
}

void mc_log_conn(struct client *c, bool opened) {
    struct buf b = BUF_INIT;
    line_head(&b);
    bool unix_sock = (c->flags & CLIENT_UNIX_SOCKET) != 0;
    char ip[64] = "";
    unsigned port = 0;
    if (!unix_sock) {
        const char *colon = strrchr(c->addr, ':');
        size_t n = colon ? (size_t)(colon - c->addr) : strlen(c->addr);
        if (n >= sizeof(ip)) n = sizeof(ip) - 1;
        memcpy(ip, c->addr, n);
        ip[n] = '\0';
        port = colon ? (unsigned)atoi(colon + 1) : 0;
    }
    buf_printf(&b, "type=%s rip=%s rport=%u transport=%s", opened ? "conn_new" : "conn_close", ip, port,
               unix_sock ? "local" : "tcp");
    if (!opened) buf_puts(&b, " reason=normal");
    buf_printf(&b, " cfd=%d\n", conn_fd(&c->conn));
    publish(MC_LOG_CONNEVENTS, &b);
    buf_free(&b);
}

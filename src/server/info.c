/*
 * server/info.c - the INFO sections, in Redis's field names and order, so
 * that existing tools and clients read them. Each section reads the
 * numbers from the module that owns them.
 */
#include "server/server.h"
#include "cmd/server.h"
#include "base/alloc.h"
#include "base/rand.h"
#include "base/time.h"
#include "auth/acl.h"
#include "config/config.h"
#include "exec/client.h"
#include "exec/script.h"
#include "exec/command.h"
#include "exec/exec.h"
#include "exec/pubsub.h"
#include "exec/reply.h"
#include "exec/stats.h"
#include "exec/tracking.h"
#include "metrics/cmdlat.h"
#include "metrics/info.h"
#include "net/worker.h"
#include "persist/persist.h"
#include "repl/repl.h"
#include "store/store.h"
#include "store/track.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

static char run_id[41];

static void random_hex(char *out, int n) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) out[i] = hex[rand_below(16)];
    out[n] = '\0';
}

static void section_server(struct buf *o) {
    struct utsname u;
    uname(&u);
    int64_t now = time_ms();
    int64_t up = (now - server_start_ms()) / 1000;
    buf_printf(o, "redis_version:7.0.15\r\n");
    buf_printf(o, "stash_version:%s\r\n", STASH_VERSION);
    buf_printf(o, "redis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n");
    buf_printf(o, "redis_mode:standalone\r\n");
    buf_printf(o, "os:%s %s %s\r\n", u.sysname, u.release, u.machine);
    buf_printf(o, "arch_bits:%d\r\n", (int)(sizeof(long) * 8));
    buf_printf(o, "monotonic_clock:POSIX clock_gettime\r\n");
    buf_printf(o, "multiplexing_api:epoll\r\n");
    buf_printf(o, "atomicvar_api:c11-builtin\r\n");
#ifdef __GNUC__
    buf_printf(o, "gcc_version:%d.%d.%d\r\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
    buf_printf(o, "process_id:%d\r\n", (int)getpid());
    buf_printf(o, "process_supervised:no\r\n");
    buf_printf(o, "run_id:%s\r\n", run_id);
    int port = __atomic_load_n(&server_settings.port, __ATOMIC_RELAXED);
    if (port == 0) port = __atomic_load_n(&server_settings.tls_port, __ATOMIC_RELAXED); /* as Redis */
    buf_printf(o, "tcp_port:%d\r\n", port);
    buf_printf(o, "server_time_usec:%lld\r\n", (long long)time_us());
    buf_printf(o, "uptime_in_seconds:%lld\r\n", (long long)up);
    buf_printf(o, "uptime_in_days:%lld\r\n", (long long)(up / 86400));
    int hz = __atomic_load_n(&server_settings.hz, __ATOMIC_RELAXED);
    buf_printf(o, "hz:%d\r\n", hz);
    buf_printf(o, "configured_hz:%d\r\n", hz);
    buf_printf(o, "lru_clock:%u\r\n", (unsigned)((time_ms() / 1000) & ((1 << 24) - 1)));
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    buf_printf(o, "executable:%s\r\n", exe);
    buf_printf(o, "config_file:%s\r\n", config_file_path());
    buf_printf(o, "io_threads_active:0\r\n");
    buf_printf(o, "worker_threads:%d\r\n", worker_count());
}

static void section_clients(struct buf *o) {
    size_t max_in, max_out;
    client_get_max_buffers(&max_in, &max_out);
    struct buf v = BUF_INIT;
    config_value("maxclients", &v);
    buf_putc(&v, '\0');
    buf_printf(o, "connected_clients:%ld\r\n", client_count());
    buf_printf(o, "cluster_connections:0\r\n");
    buf_printf(o, "maxclients:%s\r\n", v.data);
    buf_printf(o, "client_recent_max_input_buffer:%zu\r\n", max_in);
    buf_printf(o, "client_recent_max_output_buffer:%zu\r\n", max_out);
    buf_printf(o, "blocked_clients:%ld\r\n", client_count_blocked());
    buf_printf(o, "tracking_clients:%ld\r\n", tracking_clients());
    buf_printf(o, "clients_in_timeout_table:0\r\n");
    buf_free(&v);
}

static void human(char *out, size_t cap, double n) {
    const char *units = "BKMGTP";
    int u = 0;
    while (n >= 1024 && u < 5) {
        n /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%.0fB", n);
    else
        snprintf(out, cap, "%.2f%c", n, units[u]);
}

static const char *policy_name(enum store_evict_policy p) {
    switch (p) {
    case EVICT_ALLKEYS_LRU: return "allkeys-lru";
    case EVICT_ALLKEYS_LFU: return "allkeys-lfu";
    case EVICT_ALLKEYS_RANDOM: return "allkeys-random";
    case EVICT_VOLATILE_LRU: return "volatile-lru";
    case EVICT_VOLATILE_LFU: return "volatile-lfu";
    case EVICT_VOLATILE_RANDOM: return "volatile-random";
    case EVICT_VOLATILE_TTL: return "volatile-ttl";
    default: return "noeviction";
    }
}

static size_t startup_bytes;

static void section_memory(struct buf *o) {
    size_t used = alloc_used_bytes(), peak = alloc_peak_bytes(), rss = alloc_rss_bytes();
    if (used > peak) peak = used;
    struct alloc_stats as;
    alloc_get_stats(&as);
    char h_used[32], h_rss[32], h_peak[32], h_max[32], h_sys[32];
    human(h_used, sizeof(h_used), (double)used);
    human(h_rss, sizeof(h_rss), (double)rss);
    human(h_peak, sizeof(h_peak), (double)peak);
    unsigned long long mm = store_get_maxmemory();
    human(h_max, sizeof(h_max), (double)mm);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    size_t total = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize : 0;
    human(h_sys, sizeof(h_sys), (double)total);
    /* Overhead is what the server held at start-up; client buffers are not
     * summed here (they belong to the workers): MEMORY STATS has them. */
    size_t overhead = startup_bytes;
    size_t dataset = used > overhead ? used - overhead : 0;
    size_t net = used > startup_bytes ? used - startup_bytes : 0;
    buf_printf(o, "used_memory:%zu\r\n", used);
    buf_printf(o, "used_memory_human:%s\r\n", h_used);
    buf_printf(o, "used_memory_rss:%zu\r\n", rss);
    buf_printf(o, "used_memory_rss_human:%s\r\n", h_rss);
    buf_printf(o, "used_memory_peak:%zu\r\n", peak);
    buf_printf(o, "used_memory_peak_human:%s\r\n", h_peak);
    buf_printf(o, "used_memory_peak_perc:%.2f%%\r\n", peak ? (double)used * 100 / (double)peak : 0.0);
    buf_printf(o, "used_memory_overhead:%zu\r\n", overhead);
    buf_printf(o, "used_memory_startup:%zu\r\n", startup_bytes);
    buf_printf(o, "used_memory_dataset:%zu\r\n", dataset);
    buf_printf(o, "used_memory_dataset_perc:%.2f%%\r\n", net ? (double)dataset * 100 / (double)net : 0.0);
    buf_printf(o, "allocator_allocated:%zu\r\n", as.allocated);
    buf_printf(o, "allocator_active:%zu\r\n", as.active);
    buf_printf(o, "allocator_resident:%zu\r\n", as.resident);
    buf_printf(o, "total_system_memory:%zu\r\n", total);
    buf_printf(o, "total_system_memory_human:%s\r\n", h_sys);
    struct script_info si;
    script_get_info(&si);
    char h_lua[32], h_vm[32], h_scripts[32];
    size_t vm_total = si.lua_eval_bytes + si.lua_func_bytes, scripts = si.scripts_bytes + si.functions_bytes;
    human(h_lua, sizeof(h_lua), (double)si.lua_eval_bytes);
    human(h_vm, sizeof(h_vm), (double)vm_total);
    human(h_scripts, sizeof(h_scripts), (double)scripts);
    buf_printf(o, "used_memory_lua:%zu\r\nused_memory_vm_eval:%zu\r\nused_memory_lua_human:%s\r\n",
               si.lua_eval_bytes, si.lua_eval_bytes, h_lua);
    buf_printf(o, "used_memory_scripts_eval:%zu\r\nnumber_of_cached_scripts:%llu\r\nnumber_of_functions:%llu\r\n",
               si.scripts_bytes, (unsigned long long)si.cached_scripts, (unsigned long long)si.functions);
    buf_printf(o, "number_of_libraries:%llu\r\nused_memory_vm_functions:%zu\r\nused_memory_vm_total:%zu\r\n",
               (unsigned long long)si.libraries, si.lua_func_bytes, vm_total);
    buf_printf(o, "used_memory_vm_total_human:%s\r\nused_memory_functions:%zu\r\nused_memory_scripts:%zu\r\n",
               h_vm, si.functions_bytes, scripts);
    buf_printf(o, "used_memory_scripts_human:%s\r\n", h_scripts);
    buf_printf(o, "maxmemory:%llu\r\n", mm);
    buf_printf(o, "maxmemory_human:%s\r\n", h_max);
    buf_printf(o, "maxmemory_policy:%s\r\n", policy_name(store_get_policy()));
    buf_printf(o, "allocator_frag_ratio:%.2f\r\n", as.allocated ? (double)as.active / (double)as.allocated : 0.0);
    buf_printf(o, "allocator_frag_bytes:%zu\r\n", as.active > as.allocated ? as.active - as.allocated : 0);
    buf_printf(o, "allocator_rss_ratio:%.2f\r\n", as.active ? (double)as.resident / (double)as.active : 0.0);
    buf_printf(o, "allocator_rss_bytes:%lld\r\n", (long long)as.resident - (long long)as.active);
    buf_printf(o, "rss_overhead_ratio:%.2f\r\n", as.resident ? (double)rss / (double)as.resident : 0.0);
    buf_printf(o, "rss_overhead_bytes:%lld\r\n", (long long)rss - (long long)as.resident);
    buf_printf(o, "mem_fragmentation_ratio:%.2f\r\n", used ? (double)rss / (double)used : 0.0);
    buf_printf(o, "mem_fragmentation_bytes:%lld\r\n", (long long)rss - (long long)used);
    buf_printf(o, "mem_not_counted_for_evict:0\r\nmem_replication_backlog:%zu\r\nmem_total_replication_buffers:%zu\r\n",
               repl_backlog_memory(), repl_backlog_memory());
    buf_printf(o, "mem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\n");
    buf_printf(o, "mem_allocator:%s\r\n", alloc_name());
    buf_printf(o, "active_defrag_running:0\r\n");
    struct store_stats ss;
    store_get_stats(&ss);
    buf_printf(o, "lazyfree_pending_objects:%llu\r\n", (unsigned long long)ss.lazyfree_pending);
    buf_printf(o, "lazyfreed_objects:%llu\r\n", (unsigned long long)ss.lazyfreed);
}

static void section_persistence(struct buf *o) { persist_info(o); }

static void section_stats(struct buf *o) {
    struct client_stats cs;
    client_get_stats(&cs);
    struct store_stats ss;
    store_get_stats(&ss);
    buf_printf(o, "total_connections_received:%llu\r\n", (unsigned long long)cs.connections_received);
    buf_printf(o, "total_commands_processed:%llu\r\n", (unsigned long long)stats_total_commands());
    buf_printf(o, "instantaneous_ops_per_sec:%.0f\r\n", stats_ops_per_sec());
    buf_printf(o, "total_net_input_bytes:%llu\r\n", (unsigned long long)cs.net_input_bytes);
    buf_printf(o, "total_net_output_bytes:%llu\r\n", (unsigned long long)cs.net_output_bytes);
    buf_printf(o, "total_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\n");
    buf_printf(o, "instantaneous_input_kbps:%.2f\r\n", stats_input_kbps());
    buf_printf(o, "instantaneous_output_kbps:%.2f\r\n", stats_output_kbps());
    buf_printf(o, "instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\n");
    buf_printf(o, "rejected_connections:%llu\r\n", (unsigned long long)cs.rejected_connections);
    repl_info_stats(o);
    buf_printf(o, "expired_keys:%llu\r\n", (unsigned long long)ss.expired);
    buf_printf(o, "expired_stale_perc:%.2f\r\n", (double)ss.expired_stale_perc_x100 / 100.0);
    buf_printf(o, "expired_time_cap_reached_count:%llu\r\n", (unsigned long long)ss.expired_time_cap_reached);
    buf_printf(o, "expire_cycle_cpu_milliseconds:0\r\n");
    buf_printf(o, "evicted_keys:%llu\r\n", (unsigned long long)ss.evicted);
    buf_printf(o, "evicted_clients:0\r\n");
    buf_printf(o, "total_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\n");
    buf_printf(o, "keyspace_hits:%llu\r\n", (unsigned long long)ss.hits);
    buf_printf(o, "keyspace_misses:%llu\r\n", (unsigned long long)ss.misses);
    buf_printf(o, "pubsub_channels:%ld\r\n", pubsub_total_channels());
    buf_printf(o, "pubsub_patterns:%ld\r\n", pubsub_numpat());
    buf_printf(o, "pubsubshard_channels:0\r\n");
    buf_printf(o, "latest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\n");
    buf_printf(o, "slave_expires_tracked_keys:%zu\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n",
               repl_local_keys());
    buf_printf(o, "active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\n");
    buf_printf(o, "total_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\n");
    buf_printf(o, "tracking_total_keys:%llu\r\ntracking_total_items:%llu\r\ntracking_total_prefixes:%llu\r\n",
               (unsigned long long)store_track_keys(), (unsigned long long)store_track_items(),
               (unsigned long long)tracking_prefix_count());
    buf_printf(o, "unexpected_error_replies:0\r\n");
    buf_printf(o, "total_error_replies:%llu\r\n", (unsigned long long)reply_total_errors());
    buf_printf(o, "dump_payload_sanitizations:0\r\n");
    buf_printf(o, "total_reads_processed:%llu\r\n", (unsigned long long)cs.total_reads);
    buf_printf(o, "total_writes_processed:%llu\r\n", (unsigned long long)cs.total_writes);
    buf_printf(o, "io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n");
    buf_printf(o, "reply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n");
    buf_printf(o, "client_query_buffer_limit_disconnections:%llu\r\n",
               (unsigned long long)cs.client_qbuf_limit_disconnections);
    buf_printf(o, "client_output_buffer_limit_disconnections:%llu\r\n",
               (unsigned long long)cs.client_obuf_limit_disconnections);
    /* ACL denials: fields of Redis 7.2 (7.0 has none; clients ignore
     * unknown fields). */
    struct acl_stats as;
    acl_get_stats(&as);
    buf_printf(o, "acl_access_denied_auth:%llu\r\n", (unsigned long long)as.auth);
    buf_printf(o, "acl_access_denied_cmd:%llu\r\n", (unsigned long long)as.cmd);
    buf_printf(o, "acl_access_denied_key:%llu\r\n", (unsigned long long)as.key);
    buf_printf(o, "acl_access_denied_channel:%llu\r\n", (unsigned long long)as.channel);
}

static void section_replication(struct buf *o) { repl_info(o); }

static void section_cpu(struct buf *o) {
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    buf_printf(o, "used_cpu_sys:%ld.%06ld\r\n", (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec);
    buf_printf(o, "used_cpu_user:%ld.%06ld\r\n", (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec);
    buf_printf(o, "used_cpu_sys_children:%ld.%06ld\r\n", (long)children.ru_stime.tv_sec, (long)children.ru_stime.tv_usec);
    buf_printf(o, "used_cpu_user_children:%ld.%06ld\r\n", (long)children.ru_utime.tv_sec,
               (long)children.ru_utime.tv_usec);
    /* The thread running INFO: a worker, Stash's nearest to Redis's main. */
    struct rusage th;
    getrusage(RUSAGE_THREAD, &th);
    buf_printf(o, "used_cpu_sys_main_thread:%ld.%06ld\r\n", (long)th.ru_stime.tv_sec, (long)th.ru_stime.tv_usec);
    buf_printf(o, "used_cpu_user_main_thread:%ld.%06ld\r\n", (long)th.ru_utime.tv_sec, (long)th.ru_utime.tv_usec);
}

static void section_modules(struct buf *o) { UNUSED(o); }

static void section_cluster(struct buf *o) { buf_puts(o, "cluster_enabled:0\r\n"); }

static void latency_line(struct buf *o, const struct command *cmd, uint64_t *counts) {
    uint64_t total = cmdlat_merge(cmd->id, counts);
    if (total == 0) return;
    /* Redis replaces the characters INFO cannot carry. */
    char name[128];
    snprintf(name, sizeof(name), "%s", cmd->fullname);
    for (char *p = name; *p; p++)
        if (*p == '#' || *p == ':' || *p == '\n' || *p == '\r') *p = '_';
    cmdlat_info_line(o, name, counts, total);
}

static void section_latencystats(struct buf *o) {
    if (!cmdlat_enabled()) return;
    uint64_t *counts = xmalloc(sizeof(uint64_t) * CMDLAT_COUNTS);
    for (int i = 0; i < exec_command_count(); i++) {
        const struct command *cmd = exec_command_at(i);
        latency_line(o, cmd, counts);
        for (int k = 0; k < cmd->nsubcmds; k++) latency_line(o, &cmd->subcmds[k], counts);
    }
    xfree(counts);
}

static void section_errorstats(struct buf *o) { reply_errorstats(o); }

static void section_keyspace(struct buf *o) {
    for (int db = 0; db < store_databases(); db++) {
        uint64_t keys = store_dbsize(db);
        if (keys == 0) continue;
        buf_printf(o, "db%d:keys=%llu,expires=%llu,avg_ttl=%lld\r\n", db, (unsigned long long)keys,
                   (unsigned long long)store_db_volatile(db), (long long)store_db_avg_ttl(db));
    }
}

void server_info_register(void) {
    startup_bytes = alloc_used_bytes();
    cmd_server_started(server_start_ms(), startup_bytes);
    random_hex(run_id, 40);
    info_register("server", INFO_DEFAULT | INFO_ALL, section_server);
    info_register("clients", INFO_DEFAULT | INFO_ALL, section_clients);
    info_register("memory", INFO_DEFAULT | INFO_ALL, section_memory);
    info_register("persistence", INFO_DEFAULT | INFO_ALL, section_persistence);
    info_register("stats", INFO_DEFAULT | INFO_ALL, section_stats);
    info_register("replication", INFO_DEFAULT | INFO_ALL, section_replication);
    info_register("cpu", INFO_DEFAULT | INFO_ALL, section_cpu);
    info_register("modules", INFO_DEFAULT | INFO_ALL, section_modules);
    info_register("commandstats", INFO_ALL, stats_info_commandstats);
    info_register("errorstats", INFO_DEFAULT | INFO_ALL, section_errorstats);
    info_register("latencystats", INFO_ALL, section_latencystats);
    info_register("cluster", INFO_DEFAULT | INFO_ALL, section_cluster);
    info_register("keyspace", INFO_DEFAULT | INFO_ALL, section_keyspace);
}

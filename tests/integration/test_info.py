"""INFO: Redis 7.0's sections, their order and field names, section
selection (default / all / everything / names, case-insensitive), and the
commandstats, errorstats and latencystats sections."""
import re

from conftest import RespError

DEFAULT = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Errorstats",
           "Cluster", "Keyspace"]
ALL = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Commandstats",
       "Errorstats", "Latencystats", "Cluster", "Keyspace"]

# Every field Redis 7.0 prints in these sections, in its order (Stash may
# add its own fields; none of these may be missing or reordered).
FIELDS = {
    "Server": "redis_version redis_git_sha1 redis_git_dirty redis_build_id redis_mode os arch_bits monotonic_clock "
              "multiplexing_api atomicvar_api gcc_version process_id process_supervised run_id tcp_port "
              "server_time_usec uptime_in_seconds uptime_in_days hz configured_hz lru_clock executable config_file "
              "io_threads_active",
    "Clients": "connected_clients cluster_connections maxclients client_recent_max_input_buffer "
               "client_recent_max_output_buffer blocked_clients tracking_clients clients_in_timeout_table",
    "Memory": "used_memory used_memory_human used_memory_rss used_memory_rss_human used_memory_peak "
              "used_memory_peak_human used_memory_peak_perc used_memory_overhead used_memory_startup "
              "used_memory_dataset used_memory_dataset_perc allocator_allocated allocator_active allocator_resident "
              "total_system_memory total_system_memory_human used_memory_lua used_memory_vm_eval "
              "used_memory_lua_human used_memory_scripts_eval number_of_cached_scripts number_of_functions "
              "number_of_libraries used_memory_vm_functions used_memory_vm_total used_memory_vm_total_human "
              "used_memory_functions used_memory_scripts used_memory_scripts_human maxmemory maxmemory_human "
              "maxmemory_policy allocator_frag_ratio allocator_frag_bytes allocator_rss_ratio allocator_rss_bytes "
              "rss_overhead_ratio rss_overhead_bytes mem_fragmentation_ratio mem_fragmentation_bytes "
              "mem_not_counted_for_evict mem_replication_backlog mem_total_replication_buffers mem_clients_slaves "
              "mem_clients_normal mem_cluster_links mem_aof_buffer mem_allocator active_defrag_running "
              "lazyfree_pending_objects lazyfreed_objects",
    "Persistence": "loading async_loading current_cow_peak current_cow_size current_cow_size_age current_fork_perc "
                   "current_save_keys_processed current_save_keys_total rdb_changes_since_last_save "
                   "rdb_bgsave_in_progress rdb_last_save_time rdb_last_bgsave_status rdb_last_bgsave_time_sec "
                   "rdb_current_bgsave_time_sec rdb_saves rdb_last_cow_size rdb_last_load_keys_expired "
                   "rdb_last_load_keys_loaded aof_enabled aof_rewrite_in_progress aof_rewrite_scheduled "
                   "aof_last_rewrite_time_sec aof_current_rewrite_time_sec aof_last_bgrewrite_status aof_rewrites "
                   "aof_rewrites_consecutive_failures aof_last_write_status aof_last_cow_size "
                   "module_fork_in_progress module_fork_last_cow_size",
    "Stats": "total_connections_received total_commands_processed instantaneous_ops_per_sec total_net_input_bytes "
             "total_net_output_bytes total_net_repl_input_bytes total_net_repl_output_bytes "
             "instantaneous_input_kbps instantaneous_output_kbps instantaneous_input_repl_kbps "
             "instantaneous_output_repl_kbps rejected_connections sync_full sync_partial_ok sync_partial_err "
             "expired_keys expired_stale_perc expired_time_cap_reached_count expire_cycle_cpu_milliseconds "
             "evicted_keys evicted_clients total_eviction_exceeded_time current_eviction_exceeded_time "
             "keyspace_hits keyspace_misses pubsub_channels pubsub_patterns pubsubshard_channels latest_fork_usec "
             "total_forks migrate_cached_sockets slave_expires_tracked_keys active_defrag_hits "
             "active_defrag_misses active_defrag_key_hits active_defrag_key_misses total_active_defrag_time "
             "current_active_defrag_time tracking_total_keys tracking_total_items tracking_total_prefixes "
             "unexpected_error_replies total_error_replies dump_payload_sanitizations total_reads_processed "
             "total_writes_processed io_threaded_reads_processed io_threaded_writes_processed "
             "reply_buffer_shrinks reply_buffer_expands",
    "Replication": "role connected_slaves master_failover_state master_replid master_replid2 master_repl_offset "
                   "second_repl_offset repl_backlog_active repl_backlog_size repl_backlog_first_byte_offset "
                   "repl_backlog_histlen",
    "CPU": "used_cpu_sys used_cpu_user used_cpu_sys_children used_cpu_user_children used_cpu_sys_main_thread "
           "used_cpu_user_main_thread",
    "Modules": "",
    "Cluster": "cluster_enabled",
}


def sections(text):
    """[(title, [(field, value)...])] of an INFO reply."""
    if isinstance(text, bytes):
        text = text.decode()
    assert not text.endswith("\r\n\r\n")
    out = []
    for block in text.split("\r\n\r\n"):
        lines = block.split("\r\n")
        assert lines[0].startswith("# "), block
        fields = []
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                fields.append((k, v))
        out.append((lines[0][2:], fields))
    return out


def titles(text):
    return [t for t, _ in sections(text)]


def test_info_default_sections(raw):
    raw.cmd("SET", "k", "v")
    assert titles(raw.cmd("INFO")) == DEFAULT
    assert titles(raw.cmd("INFO", "default")) == DEFAULT


def test_info_all_and_everything(raw):
    raw.cmd("SET", "k", "v")
    assert titles(raw.cmd("INFO", "all")) == ALL
    assert titles(raw.cmd("INFO", "everything")) == ALL


def test_info_selected_sections(raw):
    assert titles(raw.cmd("INFO", "cpu")) == ["CPU"]
    assert titles(raw.cmd("INFO", "commandSTATS")) == ["Commandstats"]
    assert titles(raw.cmd("INFO", "cpu", "server")) == ["Server", "CPU"]  # Redis's order, not the asked one
    assert titles(raw.cmd("INFO", "cpu", "cpu")) == ["CPU"]
    text = raw.cmd("INFO", "cpu", "all").decode()
    assert titles(text) == ALL and text.count("used_cpu_user_children") == 1
    assert titles(raw.cmd("INFO", "module_list")) == ["Modules"]
    assert raw.cmd("INFO", "sentinel") == b""
    assert raw.cmd("INFO", "nosuch") == b""


def test_info_fields_in_redis_order(raw):
    got = dict(sections(raw.cmd("INFO", "everything")))
    for title, names in FIELDS.items():
        want = names.split()
        have = [k for k, _ in got[title]]
        assert [k for k in have if k in want] == want, title


def test_info_values(raw, make_raw):
    make_raw().cmd("PING")
    s = dict(sections(raw.cmd("INFO")))
    server = dict(s["Server"])
    assert server["redis_version"] == "7.0.15" and server["redis_mode"] == "standalone"
    assert server["multiplexing_api"] == "epoll" and int(server["uptime_in_seconds"]) >= 0
    assert re.match(r"^[0-9a-f]{40}$", server["run_id"])
    clients = dict(s["Clients"])
    assert int(clients["connected_clients"]) >= 2 and clients["maxclients"] == "10000"
    assert dict(s["Replication"])["role"] == "master"
    assert dict(s["Cluster"]) == {"cluster_enabled": "0"}
    mem = dict(s["Memory"])
    assert int(mem["used_memory"]) > 0 and mem["used_memory_human"].endswith(("B", "K", "M", "G"))
    assert mem["maxmemory_policy"] == "noeviction"


def test_info_keyspace(raw):
    raw.cmd("FLUSHALL")
    raw.cmd("SET", "a", "1")
    raw.cmd("SELECT", "5")
    raw.cmd("SET", "b", "1")
    raw.cmd("SET", "c", "1")
    ks = dict(sections(raw.cmd("INFO", "keyspace")))["Keyspace"]
    assert ks == [("db0", "keys=1,expires=0,avg_ttl=0"), ("db5", "keys=2,expires=0,avg_ttl=0")]
    raw.cmd("FLUSHALL")
    assert raw.cmd("INFO", "keyspace") == b"# Keyspace\r\n"


def test_info_commandstats_and_errorstats(raw):
    raw.cmd("CONFIG", "RESETSTAT")
    raw.cmd("SET", "a", "1")
    raw.cmd("GET", "a")
    raw.cmd("GET")
    raw.cmd("NOSUCH")
    raw.cmd("CLIENT", "ID")
    cs = dict(sections(raw.cmd("INFO", "commandstats"))[0][1])
    assert re.match(r"^calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0$", cs["cmdstat_set"])
    assert re.match(r"^calls=1,.*,rejected_calls=1,failed_calls=0$", cs["cmdstat_get"])
    assert cs["cmdstat_client|id"].startswith("calls=1,")
    es = dict(sections(raw.cmd("INFO", "errorstats"))[0][1])
    assert es == {"errorstat_ERR": "count=2"}
    assert "total_error_replies:2\r\n" in raw.cmd("INFO", "stats").decode()


def test_info_latencystats(raw):
    raw.cmd("CONFIG", "RESETSTAT")
    raw.cmd("SET", "a", "b")
    raw.cmd("GET", "a")
    lat = dict(sections(raw.cmd("INFO", "latencystats"))[0][1])
    assert re.match(r"^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$", lat["latency_percentiles_usec_set"])
    assert "latency_percentiles_usec_get" in lat and "latency_percentiles_usec_config|resetstat" in lat
    raw.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 100.0")
    lat = dict(sections(raw.cmd("INFO", "latencystats"))[0][1])
    assert re.match(r"^p0=\d+\.\d{3},p50=\d+\.\d{3},p100=\d+\.\d{3}$", lat["latency_percentiles_usec_set"])
    # One call: all percentiles are the same HdrHistogram bucket.
    p0, p50, p100 = [float(x.split("=")[1]) for x in lat["latency_percentiles_usec_get"].split(",")]
    assert p0 <= p50 == p100
    raw.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
    raw.cmd("CONFIG", "RESETSTAT")
    lat = dict(sections(raw.cmd("INFO", "latencystats"))[0][1])
    assert "latency_percentiles_usec_set" not in lat
    raw.cmd("CONFIG", "SET", "latency-tracking", "no")
    assert raw.cmd("INFO", "latencystats") == b"# Latencystats\r\n"
    raw.cmd("CONFIG", "SET", "latency-tracking", "yes")


def test_info_resp3_is_verbatim(raw):
    raw.cmd("HELLO", "3")
    raw.send(b"*2\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n")
    head = raw.read_line()
    assert head.startswith(b"=")
    assert raw.read_exactly(int(head[1:]) + 2).startswith(b"txt:# CPU\r\n")


def test_info_rejects_nothing_but_counts_as_command(raw):
    assert isinstance(raw.cmd("INFO", "a", "b", "c"), bytes)
    assert not isinstance(raw.cmd("INFO"), RespError)

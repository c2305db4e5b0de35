"""Server and introspection commands: COMMAND, MEMORY, TIME, LASTSAVE,
SLOWLOG, LATENCY, SHUTDOWN, MONITOR, FUNCTION FLUSH/LIST. Expected values
marked "Redis 7.0" were taken from a real redis-server 7.0.15."""
import os
import re
import time

import pytest

from conftest import Raw, RespError, Server

# ---- COMMAND --------------------------------------------------------------------------

# COMMAND INFO as Redis 7.0 returns it (RESP2).
REDIS_INFO = {
    "get": [b"get", 2, [b"readonly", b"fast"], 1, 1, 1, [b"@read", b"@string", b"@fast"], [],
            [[b"flags", [b"RO", b"access"], b"begin_search", [b"type", b"index", b"spec", [b"index", 1]],
              b"find_keys", [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]]]], []],
    "del": [b"del", -2, [b"write"], 1, -1, 1, [b"@keyspace", b"@write", b"@slow"],
            [b"request_policy:multi_shard", b"response_policy:agg_sum"],
            [[b"flags", [b"RM", b"delete"], b"begin_search", [b"type", b"index", b"spec", [b"index", 1]],
              b"find_keys", [b"type", b"range", b"spec", [b"lastkey", -1, b"keystep", 1, b"limit", 0]]]], []],
    "ping": [b"ping", -1, [b"fast"], 0, 0, 0, [b"@fast", b"@connection"],
             [b"request_policy:all_shards", b"response_policy:all_succeeded"], [], []],
    "memory|usage": [b"memory|usage", -3, [b"readonly"], 2, 2, 1, [b"@read", b"@slow"], [],
                     [[b"flags", [b"RO"], b"begin_search", [b"type", b"index", b"spec", [b"index", 2]],
                       b"find_keys", [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]]]],
                     []],
    "client|list": [b"client|list", -2, [b"admin", b"noscript", b"loading", b"stale"], 0, 0, 0,
                    [b"@admin", b"@slow", b"@dangerous", b"@connection"], [b"nondeterministic_output"], [], []],
    "config|set": [b"config|set", -4, [b"admin", b"noscript", b"loading", b"stale"], 0, 0, 0,
                   [b"@admin", b"@slow", b"@dangerous"], [b"request_policy:all_nodes", b"response_policy:all_succeeded"],
                   [], []],
    "latency|reset": [b"latency|reset", -2, [b"admin", b"noscript", b"loading", b"stale"], 0, 0, 0,
                      [b"@admin", b"@slow", b"@dangerous"],
                      [b"request_policy:all_nodes", b"response_policy:all_succeeded"], [], []],
    "monitor": [b"monitor", 1, [b"admin", b"noscript", b"loading", b"stale"], 0, 0, 0,
                [b"@admin", b"@slow", b"@dangerous"], [], [], []],
    "shutdown": [b"shutdown", -1, [b"admin", b"noscript", b"loading", b"stale", b"no_multi", b"allow_busy"], 0, 0, 0,
                 [b"@admin", b"@slow", b"@dangerous"], [], [], []],
    "time": [b"time", 1, [b"loading", b"stale", b"fast"], 0, 0, 0, [b"@fast"], [b"nondeterministic_output"], [], []],
    "lastsave": [b"lastsave", 1, [b"loading", b"stale", b"fast"], 0, 0, 0, [b"@admin", b"@fast", b"@dangerous"],
                 [b"nondeterministic_output"], [], []],
    "function|flush": [b"function|flush", -2, [b"write", b"noscript"], 0, 0, 0,
                       [b"@write", b"@slow", b"@scripting"],
                       [b"request_policy:all_shards", b"response_policy:all_succeeded"], [], []],
    "command|getkeys": [b"command|getkeys", -4, [b"loading", b"stale"], 0, 0, 0, [b"@slow", b"@connection"], [], [],
                        []],
}


@pytest.mark.parametrize("name", sorted(REDIS_INFO))
def test_command_info_matches_redis(raw, name):
    assert raw.cmd("COMMAND", "INFO", name) == [REDIS_INFO[name]]


def test_command_info_resp3_maps_and_sets(raw):
    raw.cmd("HELLO", "3")
    # Redis 7.0's RESP3 reply: key specs are maps, flags sets.
    assert raw.cmd("COMMAND", "INFO", "memory|usage") == [[
        b"memory|usage", -3, [b"readonly"], 2, 2, 1, [b"@read", b"@slow"], [],
        [{b"flags": [b"RO"], b"begin_search": {b"type": b"index", b"spec": {b"index": 2}},
          b"find_keys": {b"type": b"range", b"spec": {b"lastkey": 0, b"keystep": 1, b"limit": 0}}}], []]]
    raw.send(b"*3\r\n$7\r\nCOMMAND\r\n$4\r\nINFO\r\n$3\r\nget\r\n")
    assert raw.read_line() == b"*1"
    assert raw.read_line() == b"*10"
    raw.read_reply(), raw.read_reply()
    assert raw.read_line() == b"~2"  # flags: a set
    raw.read_reply(), raw.read_reply()
    raw.read_reply(), raw.read_reply(), raw.read_reply()
    raw.read_reply()  # acl categories
    raw.read_reply()  # tips
    raw.read_reply()  # key specs
    assert raw.read_line() == b"~0"  # no subcommands: an empty set


def test_command_info_containers_and_unknown(raw):
    info = raw.cmd("COMMAND", "INFO", "client", "nosuch", "get|key", "config|get|x", "client|kill")
    assert len(info) == 5
    client = info[0]
    assert client[:9] == [b"client", -2, [], 0, 0, 0, [b"@slow"], [], []]
    subs = {s[0] for s in client[9]}
    assert {b"client|list", b"client|kill", b"client|pause", b"client|reply", b"client|id"} <= subs
    assert info[1:4] == [None, None, None]
    assert info[4][0] == b"client|kill" and info[4][1] == -3


def test_command_all_and_count(raw):
    everything = raw.cmd("COMMAND")
    assert raw.cmd("COMMAND", "COUNT") == len(everything)
    assert raw.cmd("COMMAND", "INFO") == everything
    names = {c[0] for c in everything}
    assert {b"get", b"set", b"client", b"command", b"config", b"info", b"latency", b"slowlog", b"memory"} <= names
    assert all(b"|" not in n for n in names)
    assert raw.cmd("COMMAND", "COUNT", "x") == RespError("ERR wrong number of arguments for 'command|count' command")


def test_command_docs(raw):
    d = raw.cmd("COMMAND", "DOCS", "get", "nosuch", "client|id")
    assert d[0] == b"get"
    doc = dict(zip(d[1][::2], d[1][1::2]))
    assert doc[b"since"] == b"1.0.0" and doc[b"group"] == b"string" and doc[b"complexity"] == b"O(1)"
    assert d[2] == b"client|id"
    sub = dict(zip(d[3][::2], d[3][1::2]))
    assert sub == {b"summary": b"Returns the client ID for the current connection", b"since": b"5.0.0",
                   b"group": b"connection", b"complexity": b"O(1)"}
    cfg = raw.cmd("COMMAND", "DOCS", "config")
    cdoc = dict(zip(cfg[1][::2], cfg[1][1::2]))
    assert cdoc[b"summary"] == b"A container for server configuration commands"
    assert b"config|get" in cdoc[b"subcommands"][::2]
    everything = raw.cmd("COMMAND", "DOCS")
    assert len(everything) == 2 * raw.cmd("COMMAND", "COUNT")


def test_command_list_filters(raw):
    names = raw.cmd("COMMAND", "LIST")
    assert b"get" in names and b"client|list" in names and b"config|set" in names
    assert raw.cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "get") == [b"get"]
    cl = raw.cmd("COMMAND", "LIST", "FILTERBY", "pattern", "cl*help")
    assert b"client|help" in cl
    cfg = raw.cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|*re*")
    assert b"config|resetstat" in cfg and b"config|get" not in cfg
    conn = raw.cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "CONNECTION")
    assert b"ping" in conn and b"client|id" in conn and b"get" not in conn
    assert raw.cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch") == []
    assert raw.cmd("COMMAND", "LIST", "FILTERBY", "MODULE", "nosuch") == []
    assert raw.cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*") == []
    for bad in (["bad_arg"], ["filterby", "bad_arg"], ["filterby", "bad_arg", "x"], ["filterby", "pattern"]):
        assert raw.cmd("COMMAND", "LIST", *bad) == RespError("ERR syntax error")


def test_command_getkeys(raw):
    assert raw.cmd("COMMAND", "GETKEYS", "get", "key") == [b"key"]
    assert raw.cmd("COMMAND", "GETKEYS", "del", "a", "b", "c") == [b"a", b"b", b"c"]
    assert raw.cmd("COMMAND", "GETKEYS", "memory", "usage", "k") == [b"k"]
    assert raw.cmd("COMMAND", "GETKEYSANDFLAGS", "set", "k1", "v1") == [[b"k1", [b"OW", b"update"]]]
    assert raw.cmd("COMMAND", "GETKEYSANDFLAGS", "set", "k1", "v1", "GET") == [[b"k1", [b"RW", b"access", b"update"]]]
    assert raw.cmd("COMMAND", "GETKEYSANDFLAGS", "del", "a") == [[b"a", [b"RM", b"delete"]]]
    assert raw.cmd("COMMAND", "GETKEYSANDFLAGS", "memory", "usage", "k") == [[b"k", [b"RO"]]]
    assert raw.cmd("COMMAND", "GETKEYS", "nosuch", "x") == RespError("ERR Invalid command specified")
    assert raw.cmd("COMMAND", "GETKEYS", "client", "nosuch") == RespError("ERR Invalid command specified")
    assert raw.cmd("COMMAND", "GETKEYS", "ping", "x") == RespError("ERR The command has no key arguments")
    assert raw.cmd("COMMAND", "GETKEYS", "get", "a", "b") == RespError(
        "ERR Invalid number of arguments specified for command")
    assert raw.cmd("COMMAND", "GETKEYS", "set", "k") == RespError(
        "ERR Invalid number of arguments specified for command")
    assert raw.cmd("COMMAND", "GETKEYS") == RespError("ERR wrong number of arguments for 'command|getkeys' command")


def test_command_getkeys_sort(raw):
    # SORT's keys come from its own key finder: each key once, the last STORE wins
    assert raw.cmd("COMMAND", "GETKEYS", "sort", "abc", "store", "def") == [b"abc", b"def"]
    assert raw.cmd("COMMAND", "GETKEYS", "sort_ro", "abc") == [b"abc"]
    assert raw.cmd("COMMAND", "GETKEYS", "sort", "abc", "store", "invalid", "store", "stillbad", "store",
                   "def") == [b"abc", b"def"]
    assert raw.cmd("COMMAND", "GETKEYSANDFLAGS", "sort", "abc", "store", "def") == [
        [b"abc", [b"RO", b"access"]], [b"def", [b"OW", b"update"]]]


def test_command_help(raw):
    h = raw.cmd("COMMAND", "HELP")
    assert h[0] == b"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"GETKEYSANDFLAGS <full-command>" in h and h[-1] == b"    Prints this help."


# ---- TIME / LASTSAVE / FUNCTION ------------------------------------------------------------


def test_time_and_lastsave(raw):
    t = raw.cmd("TIME")
    assert len(t) == 2 and all(isinstance(x, bytes) for x in t)
    assert abs(int(t[0]) - time.time()) < 5 and 0 <= int(t[1]) < 1000000
    last = raw.cmd("LASTSAVE")
    assert isinstance(last, int) and last <= int(t[0]) and int(t[0]) - last < 3600
    info = raw.cmd("INFO", "persistence").decode()
    assert "rdb_last_save_time:%d\r\n" % last in info
    assert raw.cmd("TIME", "x") == RespError("ERR wrong number of arguments for 'time' command")


def test_function_flush_and_list(raw):
    assert raw.cmd("FUNCTION", "FLUSH") == b"OK"
    assert raw.cmd("FUNCTION", "FLUSH", "ASYNC") == b"OK"
    assert raw.cmd("FUNCTION", "FLUSH", "sync") == b"OK"
    assert raw.cmd("FUNCTION", "FLUSH", "X") == RespError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    assert raw.cmd("FUNCTION", "FLUSH", "A", "B") == RespError(
        "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.")
    assert raw.cmd("FUNCTION", "LIST") == []
    assert raw.cmd("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "x*") == []
    assert raw.cmd("FUNCTION", "LIST", "LIBRARYNAME") == RespError("ERR library name argument was not given")
    assert raw.cmd("FUNCTION", "LIST", "FOO") == RespError("ERR Unknown argument FOO")
    assert raw.cmd("FUNCTION", "HELP")[0] == b"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"


# ---- MEMORY ---------------------------------------------------------------------------------


def test_memory_usage(raw):
    assert raw.cmd("MEMORY", "USAGE", "missing") is None
    raw.cmd("SET", "small", "v")
    raw.cmd("SET", "big", "x" * 100000)
    small = raw.cmd("MEMORY", "USAGE", "small")
    big = raw.cmd("MEMORY", "USAGE", "big")
    assert 0 < small < 200 and 100000 <= big < 140000
    assert raw.cmd("MEMORY", "USAGE", "big", "SAMPLES", "0") == big
    assert raw.cmd("MEMORY", "USAGE", "big", "SAMPLES", "-1") == RespError("ERR syntax error")
    assert raw.cmd("MEMORY", "USAGE", "big", "SAMPLES", "x") == RespError(
        "ERR value is not an integer or out of range")
    assert raw.cmd("MEMORY", "USAGE", "big", "FOO") == RespError("ERR syntax error")
    assert raw.cmd("MEMORY", "USAGE", "big", "SAMPLES") == RespError("ERR syntax error")


def test_memory_stats(raw):
    raw.cmd("SET", "a", "1")
    s = raw.cmd("MEMORY", "STATS")
    keys = s[::2]
    assert keys[:10] == [b"peak.allocated", b"total.allocated", b"startup.allocated", b"replication.backlog",
                         b"clients.slaves", b"clients.normal", b"cluster.links", b"aof.buffer", b"lua.caches",
                         b"functions.caches"]
    assert keys[-17:] == [b"overhead.total", b"keys.count", b"keys.bytes-per-key", b"dataset.bytes",
                          b"dataset.percentage", b"peak.percentage", b"allocator.allocated", b"allocator.active",
                          b"allocator.resident", b"allocator-fragmentation.ratio", b"allocator-fragmentation.bytes",
                          b"allocator-rss.ratio", b"allocator-rss.bytes", b"rss-overhead.ratio",
                          b"rss-overhead.bytes", b"fragmentation", b"fragmentation.bytes"]
    d = dict(zip(keys, s[1::2]))
    assert d[b"keys.count"] >= 1 and d[b"total.allocated"] > 0 and d[b"clients.normal"] > 0
    assert [k for k in keys if k.startswith(b"db.")] == [b"db.0"]
    assert d[b"db.0"] == [b"overhead.hashtable.main", 0, b"overhead.hashtable.expires", 0,
                          b"overhead.hashtable.slot-to-keys", 0]


def test_memory_misc(raw):
    assert raw.cmd("MEMORY", "PURGE") == b"OK"
    assert len(raw.cmd("MEMORY", "DOCTOR")) > 0
    assert len(raw.cmd("MEMORY", "MALLOC-STATS")) > 0
    assert raw.cmd("MEMORY", "HELP") == [
        b"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", b"DOCTOR",
        b"    Return memory problems reports.", b"MALLOC-STATS",
        b"    Return internal statistics report from the memory allocator.", b"PURGE",
        b"    Attempt to purge dirty pages for reclamation by the allocator.", b"STATS",
        b"    Return information about the memory usage of the server.", b"USAGE <key> [SAMPLES <count>]",
        b"    Return memory in bytes used by <key> and its value. Nested values are",
        b"    sampled up to <count> times (default: 5, 0 means sample all).", b"HELP", b"    Prints this help."]
    assert raw.cmd("MEMORY", "FOO") == RespError("ERR unknown subcommand 'FOO'. Try MEMORY HELP.")
    assert raw.cmd("MEMORY", "STATS", "x") == RespError("ERR wrong number of arguments for 'memory|stats' command")


# ---- SLOWLOG --------------------------------------------------------------------------------


@pytest.fixture
def slowlog(raw):
    raw.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    raw.cmd("SLOWLOG", "RESET")
    yield raw
    raw.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128")
    raw.cmd("SLOWLOG", "RESET")


def test_slowlog_entries(slowlog):
    r = slowlog
    r.cmd("CLIENT", "SETNAME", "slowpoke")
    r.cmd("SET", "k", "v")
    r.cmd("GET", "k")
    entries = r.cmd("SLOWLOG", "GET")
    # Newest first: GET, SET, CLIENT SETNAME (SLOWLOG RESET came before).
    assert [e[3] for e in entries[:3]] == [[b"GET", b"k"], [b"SET", b"k", b"v"], [b"CLIENT", b"SETNAME", b"slowpoke"]]
    e = entries[0]
    assert len(e) == 6 and e[0] > entries[1][0]
    assert abs(e[1] - time.time()) < 5 and e[2] >= 0
    assert re.match(rb"^127\.0\.0\.1:\d+$", e[4]) and e[5] == b"slowpoke"
    assert r.cmd("SLOWLOG", "LEN") >= 3
    assert len(r.cmd("SLOWLOG", "GET", "1")) == 1
    assert r.cmd("SLOWLOG", "GET", "0") == []
    assert len(r.cmd("SLOWLOG", "GET", "-1")) == r.cmd("SLOWLOG", "LEN") - 1  # LEN itself came after


def test_slowlog_trimming(slowlog):
    r = slowlog
    r.cmd("DEL", *["a%d" % i for i in range(40)])
    e = r.cmd("SLOWLOG", "GET", "1")[0]
    assert len(e[3]) == 32 and e[3][0] == b"DEL" and e[3][-1] == b"... (10 more arguments)"
    r.cmd("SET", "k", "A" * 129)
    e = r.cmd("SLOWLOG", "GET", "1")[0]
    assert e[3] == [b"SET", b"k", b"A" * 128 + b"... (1 more bytes)"]


def test_slowlog_max_len_and_disable(slowlog):
    r = slowlog
    r.cmd("CONFIG", "SET", "slowlog-max-len", "10")
    for _ in range(30):
        r.cmd("PING")
    assert r.cmd("SLOWLOG", "LEN") == 10
    r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1")
    r.cmd("SLOWLOG", "RESET")
    r.cmd("PING")
    assert r.cmd("SLOWLOG", "LEN") == 0


def test_slowlog_exec_logs_inner_commands(slowlog):
    r = slowlog
    r.cmd("MULTI")
    r.cmd("SET", "x", "1")
    r.cmd("EXEC")
    cmds = [e[3][0] for e in r.cmd("SLOWLOG", "GET")]
    assert b"SET" in cmds and b"EXEC" not in cmds and b"MULTI" in cmds


def test_slowlog_errors(raw):
    err = RespError("ERR count should be greater than or equal to -1")
    assert raw.cmd("SLOWLOG", "GET", "-2") == err
    assert raw.cmd("SLOWLOG", "GET", "x") == err
    assert raw.cmd("SLOWLOG", "GET", "1", "2") == RespError(
        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    assert raw.cmd("SLOWLOG", "LEN", "x") == RespError("ERR wrong number of arguments for 'slowlog|len' command")
    assert raw.cmd("SLOWLOG", "HELP")[1] == b"GET [<count>]"


# ---- LATENCY ----------------------------------------------------------------------------------


def test_latency_histogram(raw):
    raw.cmd("CONFIG", "RESETSTAT")
    h = raw.cmd("LATENCY", "HISTOGRAM")
    assert h[0] == b"config|resetstat" and len(h) == 2
    raw.cmd("SET", "a", "b")
    raw.cmd("SET", "c", "d")
    raw.cmd("CLIENT", "ID")
    h = dict(zip(*[iter(raw.cmd("LATENCY", "HISTOGRAM", "set", "client", "nosuch"))] * 2))
    assert set(h) == {b"set", b"client|id"}
    calls, n, label, buckets = h[b"set"]
    assert (calls, n, label) == (b"calls", 2, b"histogram_usec")
    # Cumulative counts at the power-of-two buckets Redis reports.
    usecs = buckets[::2]
    levels = {((1024 << k) + ((1024 << k) >> 7) - 1) // 1000 for k in range(20)} | {1073741}
    assert set(usecs) <= levels and usecs == sorted(usecs)
    assert buckets[-1] == 2 and buckets[1::2] == sorted(buckets[1::2])
    raw.cmd("CONFIG", "SET", "latency-tracking", "no")
    raw.cmd("CONFIG", "RESETSTAT")
    raw.cmd("SET", "a", "b")
    assert raw.cmd("LATENCY", "HISTOGRAM", "set") == []
    raw.cmd("CONFIG", "SET", "latency-tracking", "yes")


def test_latency_monitor_events(raw):
    raw.cmd("LATENCY", "RESET")
    assert raw.cmd("LATENCY", "LATEST") == []
    assert raw.cmd("LATENCY", "HISTORY", "command") == []
    assert raw.cmd("LATENCY", "GRAPH", "command") == RespError("ERR No samples available for event 'command'")
    raw.cmd("CONFIG", "SET", "latency-monitor-threshold", "1")
    try:
        # A slow command: flushing many keys synchronously takes milliseconds.
        for _ in range(5):
            raw.send(b"".join(b"*3\r\n$3\r\nSET\r\n$7\r\nk%06d\r\n$1\r\nv\r\n" % i for i in range(200000)))
            for _ in range(200000):
                raw.read_reply()
            raw.cmd("FLUSHALL", "SYNC")
            if raw.cmd("LATENCY", "LATEST"):
                break
        latest = raw.cmd("LATENCY", "LATEST")
        assert latest, "no latency event"
        name, when, last, peak = latest[0]
        assert name in (b"command", b"fast-command") and abs(when - time.time()) < 30 and 1 <= last <= peak
        hist = raw.cmd("LATENCY", "HISTORY", name)
        assert hist and all(len(x) == 2 and x[1] >= 1 for x in hist)
        graph = raw.cmd("LATENCY", "GRAPH", name).decode()
        assert graph.startswith("%s - high " % name.decode()) and "-" * 80 in graph
        doctor = raw.cmd("LATENCY", "DOCTOR").decode()
        assert name.decode() in doctor
        assert raw.cmd("LATENCY", "RESET", "nosuch") == 0
        assert raw.cmd("LATENCY", "RESET", name.upper()) == 1
        assert raw.cmd("LATENCY", "LATEST") == []
    finally:
        raw.cmd("CONFIG", "SET", "latency-monitor-threshold", "0")
        raw.cmd("FLUSHALL")


def test_latency_errors_and_help(raw):
    assert len(raw.cmd("LATENCY", "DOCTOR")) > 0
    assert raw.cmd("LATENCY", "HELP", "xxx") == RespError("ERR wrong number of arguments for 'latency|help' command")
    h = raw.cmd("LATENCY", "HELP")
    assert h[0] == b"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"HISTOGRAM [COMMAND ...]" in h
    assert raw.cmd("LATENCY", "HISTORY") == RespError("ERR wrong number of arguments for 'latency|history' command")


# ---- MONITOR -------------------------------------------------------------------------------------

MON_RE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) 127\.0\.0\.1:(\d+)\] (.*)$')


def monitor_line(m):
    line = m.read_line()
    match = MON_RE.match(b"+" + line[1:] if line.startswith(b"+") else line)
    assert match, line
    return int(match.group(3)), match.group(5)


def test_monitor_format_and_multi(raw, make_raw):
    m = make_raw()
    assert m.cmd("MONITOR") == b"OK"
    raw.cmd("SELECT", "2")
    raw.cmd("SET", "foo", 'a "b"\n\x01')
    raw.cmd("GET", "foo")
    raw.cmd("CONFIG", "GET", "maxmemory")  # admin: never shown
    raw.cmd("MULTI")
    raw.cmd("SET", "x", "1")
    raw.cmd("EXEC")
    raw.cmd("MULTI")
    raw.cmd("NOSUCHCMD")
    raw.cmd("EXEC")
    assert monitor_line(m) == (2, b'"SELECT" "2"')  # the db after the command, as Redis
    assert monitor_line(m) == (2, b'"SET" "foo" "a \\"b\\"\\n\\x01"')
    assert monitor_line(m) == (2, b'"GET" "foo"')
    assert monitor_line(m) == (2, b'"MULTI"')
    assert monitor_line(m) == (2, b'"SET" "x" "1"')
    assert monitor_line(m) == (2, b'"EXEC"')
    assert monitor_line(m) == (2, b'"MULTI"')
    assert monitor_line(m) == (2, b'"EXEC"')
    raw.cmd("SELECT", "0")


def test_monitor_sees_other_worker(server):
    from test_client import spread_connections, same_worker_ids
    conns = spread_connections(server.port, 6)
    try:
        m = conns[0]
        mine = same_worker_ids(m)
        others = [c for c in conns[1:] if c.cmd("CLIENT", "ID") not in mine]
        assert m.cmd("MONITOR") == b"OK"
        others[0].cmd("ECHO", "from-the-other-thread")
        assert monitor_line(m)[1] == b'"ECHO" "from-the-other-thread"'
    finally:
        for c in conns:
            c.close()


def test_monitor_not_in_multi(raw):
    raw.cmd("MULTI")
    raw.cmd("MONITOR")
    assert raw.cmd("EXEC") == [RespError("ERR MONITOR isn't allowed for DENY BLOCKING client")]


# ---- SHUTDOWN ------------------------------------------------------------------------------------


@pytest.fixture
def own_server():
    s = Server()
    yield s
    s.stop()


def test_shutdown_errors_then_nosave(own_server):
    c = Raw(own_server.port)
    assert c.cmd("SHUTDOWN", "FOO") == RespError("ERR syntax error")
    assert c.cmd("SHUTDOWN", "NOSAVE", "SAVE") == RespError("ERR syntax error")
    assert c.cmd("SHUTDOWN", "ABORT", "NOW") == RespError("ERR syntax error")
    assert c.cmd("SHUTDOWN", "ABORT") == RespError("ERR No shutdown in progress.")
    # A save that fails (the temp file cannot be created) stops the shutdown.
    os.mkdir(os.path.join(own_server.dir, "temp-%d.rdb" % own_server.pid))
    assert c.cmd("SHUTDOWN", "SAVE") == RespError("ERR Errors trying to SHUTDOWN. Check logs.")
    assert c.cmd("PING") == b"PONG"
    c.cmd("MULTI")
    assert c.cmd("SHUTDOWN") == RespError("ERR Command not allowed inside a transaction")
    c.cmd("DISCARD")
    c.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
    assert c.closed(timeout=10)
    own_server.proc.wait(timeout=10)
    assert own_server.proc.returncode == 0
    assert "User requested shutdown" in own_server.log()


def test_shutdown_save_force_exits(own_server):
    os.mkdir(os.path.join(own_server.dir, "temp-%d.rdb" % own_server.pid))  # the save fails
    c = Raw(own_server.port)
    c.send(b"*3\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n$5\r\nFORCE\r\n")
    assert c.closed(timeout=10)
    own_server.proc.wait(timeout=10)
    assert "Exit anyway" in own_server.log()

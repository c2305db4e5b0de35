"""`stash-server --engine memcached`: memcached 1.6's command line (flags,
-o options, their defaults and their errors), its listeners (TCP, UDP with
memcached's frame header, UNIX sockets with permissions), daemon mode.

Messages and exit statuses are memcached 1.6.18's (MC_REFERENCE=1 checks
them against the real memcached).
"""
import os
import re
import signal
import socket
import stat
import struct
import tempfile
import time

import pytest

from memcache_support import McServer, McRaw, REFERENCE, bin_read, bin_req, free_ports, run_cli, stash_only, stats

IS_ROOT = os.geteuid() == 0


def cli(*args):
    """Run with memcached's arguments that fail before any listener opens."""
    return run_cli(["-u", "root", "-p", "0", "-U", "0"] + list(args))


# ---- help, version, license -------------------------------------------------------------------------------

def test_help_lists_every_flag():
    rc, out, err = run_cli(["-h"])
    assert rc == 0
    for flag in ("-p, --port", "-U, --udp-port", "-s, --unix-socket", "-a, --unix-mask", "-A, --enable-shutdown",
                 "-l, --listen", "-d, --daemon", "-u, --user", "-m, --memory-limit", "-M, --disable-evictions",
                 "-c, --conn-limit", "-t, --threads", "-R, --max-reqs-per-event", "-C, --disable-cas",
                 "-b, --listen-backlog", "-B, --protocol", "-I, --max-item-size", "-F, --disable-flush-all",
                 "-P, --pidfile", "-o, --extended", "-V, --version", "-v, --verbose"):
        assert flag in out, flag


def test_version_and_license():
    rc, out, err = run_cli(["-V"])
    assert rc == 0 and out.startswith("memcached 1.6.18")
    rc, out, err = run_cli(["--version"])
    assert rc == 0 and out.startswith("memcached 1.6.18")
    rc, out, err = run_cli(["-i"])
    assert rc == 0 and out


# ---- invalid values: memcached's messages and exit statuses ------------------------------------------------

INVALID = [
    (["-t", "0"], "Number of threads must be greater than 0", 1),
    (["-c", "0"], "Maximum connections must be greater than 0", 1),
    (["-c", "-5"], "Maximum connections must be greater than 0", 1),
    (["-B", "foo"], "Invalid value for binding protocol: foo\n -- should be one of auto, binary, or ascii", 64),
    (["-m", "1"], "Cannot set item size limit higher than 1/2 of memory max.", 64),
    (["-R", "0"], "Number of requests per event must be greater than 0", 1),
    (["-f", "1"], "Factor must be greater than 1", 1),
    (["-n", "0"], "Chunk size must be greater than 0", 1),
    (["-D", ""], "No delimiter specified", 1),
    (["-I", "2000"], "slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 2000)", 64),
    (["-I", "600k"], "-I (item_size_max: 614400) must be evenly divisible by slab_chunk_max (bytes: 524288)", 64),
    (["-I", "0"], "Item max size cannot be less than 1024 bytes.", 64),
    (["-I", "2g"], "Item max size cannot be less than 1024 bytes.", 64),
    (["-I", "1024m"], "Cannot set item size limit higher than 1/2 of memory max.", 64),
    (["-m", "4096", "-I", "1073741825"], "Cannot set item size limit higher than a gigabyte.", 64),
    (["-m", "4096", "-I", "2048m"], "Item max size cannot be less than 1024 bytes.", 64),
    (["-N", "5"], "Number of napi_ids(5) cannot be greater than number of threads(4)", 64),
    (["-o", "bogus"], 'Illegal suboption "bogus"', 1),
    (["-o", "hashpower=5"], "Initial hashtable multiplier of 5 is too low", 1),
    (["-o", "hashpower=40"], "Initial hashtable multiplier of 40 is too high", 1),
    (["-o", "hashpower"], "Missing numeric argument for hashpower", 1),
    (["-o", "slab_automove=3"], "slab_automove must be between 0 and 2", 1),
    (["-o", "slab_automove_ratio=2"], "slab_automove_ratio must be > 0 and < 1", 1),
    (["-o", "slab_automove_window=2"], "slab_automove_window must be > 2", 1),
    (["-o", "hash_algorithm=foo"], "Unknown hash_algorithm option (jenkins, murmur3, xxh3)", 1),
    (["-o", "tail_repair_time=5"], "Cannot set tail_repair_time to less than 10 seconds", 1),
    (["-o", "lru_crawler_sleep=2000000"], "LRU crawler sleep must be between 0 and 1 second", 1),
    (["-o", "lru_crawler_tocrawl=abc"], "lru_crawler_tocrawl takes a numeric 32bit value", 1),
    (["-o", "hot_lru_pct=90"], "hot_lru_pct must be > 1 and < 80", 1),
    (["-o", "warm_max_factor=0"], "warm_max_factor must be > 0", 1),
    (["-o", "idle_timeout"], "Missing numeric argument for idle_timeout", 1),
    (["-o", "watcher_logbuf_size=abc"], "could not parse argument to watcher_logbuf_size", 1),
    (["-o", "read_buf_mem_limit=x"], "could not parse argument to read_buf_mem_limit", 1),
    (["-o", "hot_lru_pct=70,warm_lru_pct=20"], "hot_lru_pct + warm_lru_pct cannot be more than 80% combined", 64),
    (["-o", "temporary_ttl=5,no_lru_maintainer"], "temporary_ttl requires lru_maintainer to be enabled", 64),
    (["-o", "slab_sizes=100-90"], "slab size 90 cannot be lower than or equal to a previous class size", 64),
]


@pytest.mark.parametrize("args,message,status", INVALID, ids=[" ".join(a) for a, _, _ in INVALID])
def test_invalid_values_are_refused_like_memcached(args, message, status):
    rc, out, err = cli(*args)
    assert rc == status, (rc, out, err)
    assert message in (err + out), (out, err)


def test_invalid_port():
    rc, out, err = run_cli(["-u", "root", "-p", "70000"])
    assert (rc, err.strip()) == (64, "ERROR: Invalid port number 70000.")


def test_unknown_flag():
    rc, out, err = cli("-x")
    assert rc == 1
    assert "invalid option" in err and 'Illegal argument "?"' in err


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_root_needs_dash_u():
    rc, out, err = run_cli(["-p", "0", "-U", "0"])
    assert (rc, err.strip()) == (64, "can't run as root without the -u switch")
    rc, out, err = run_cli(["-p", "0", "-U", "0", "-u", "nosuchuser0"])
    assert (rc, err.strip()) == (67, "can't find the user nosuchuser0 to switch to")


# ---- accepted flags and their effect ---------------------------------------------------------------------------

def test_defaults_in_stats_settings():
    s = McServer(threads=4)
    try:
        st = stats(s.raw(), b"settings")
        assert st[b"maxbytes"] == b"67108864"
        assert st[b"maxconns"] == b"1024"
        assert st[b"item_size_max"] == b"1048576"
        assert st[b"num_threads"] == b"4"
        assert st[b"evictions"] == b"on"
        assert st[b"cas_enabled"] == b"yes"
        assert st[b"flush_enabled"] == b"yes"
        assert st[b"shutdown_command"] == b"no"
        assert st[b"reqs_per_event"] == b"20"
        assert st[b"tcp_backlog"] == b"1024"
        assert st[b"binding_protocol"] == b"auto-negotiate"
        assert st[b"domain_socket"] == b"NULL"
        assert st[b"umask"] == b"700"
    finally:
        s.stop()


def test_flags_mapped_onto_the_server():
    s = McServer("-m", "128", "-c", "500", "-I", "2m", "-R", "50", "-b", "2048", "-D", "/", "-A", "-C", "-M",
                 "-F", "-X", "-v", threads=3)
    try:
        r = s.raw()
        st = stats(r, b"settings")
        assert st[b"maxbytes"] == b"134217728"
        assert st[b"maxconns"] == b"500"
        assert st[b"item_size_max"] == b"2097152"
        assert st[b"num_threads"] == b"3"
        assert st[b"reqs_per_event"] == b"50"
        assert st[b"tcp_backlog"] == b"2048"
        assert st[b"stat_key_prefix"] == b"/"
        assert st[b"detail_enabled"] == b"yes"
        assert st[b"shutdown_command"] == b"yes"
        assert st[b"cas_enabled"] == b"no"
        assert st[b"evictions"] == b"off"
        assert st[b"flush_enabled"] == b"no"
        assert st[b"dump_enabled"] == b"no"
        general = stats(r)
        assert general[b"limit_maxbytes"] == b"134217728"
        assert general[b"threads"] == b"3"
        # -C: no CAS values
        r.send(b"set k 0 0 1\r\nx\r\ngets k\r\n")
        r.expect(b"STORED\r\nVALUE k 0 1 0\r\nx\r\nEND\r\n")
        # -I 2m: a 1.5 MB value fits
        big = b"x" * 1500000
        assert r.cmd(b"set big 0 0 %d\r\n" % len(big) + big + b"\r\n") == b"STORED\r\n"
        # -X
        assert r.cmd(b"stats cachedump 1 1\r\n") == b"CLIENT_ERROR stats cachedump not allowed\r\n"
        assert r.cmd(b"lru_crawler metadump all\r\n") == b"ERROR metadump not allowed\r\n"
    finally:
        s.stop()


def test_tuning_flags_are_accepted():
    s = McServer("-f", "1.5", "-n", "64", "-L", "-r", "-o",
                 "slab_reassign,slab_automove=2,hashpower=16,lru_crawler,lru_maintainer,hot_lru_pct=10,"
                 "warm_lru_pct=30,hot_max_factor=0.5,warm_max_factor=3,temporary_ttl=60,watcher_logbuf_size=128,"
                 "worker_logbuf_size=64,track_sizes,modern,maxconns_fast,hash_algorithm=jenkins,"
                 "read_buf_mem_limit=10,tail_repair_time=20,slab_automove_ratio=0.5,slab_automove_window=10,"
                 "lru_crawler_sleep=50,lru_crawler_tocrawl=100,idle_timeout=600,no_hashexpand")
    try:
        r = s.raw()
        st = stats(r, b"settings")
        assert st[b"growth_factor"] == b"1.50"
        assert st[b"chunk_size"] == b"64"
        assert st[b"hashpower_init"] == b"16"
        assert st[b"slab_automove"] == b"2"
        assert st[b"hot_lru_pct"] == b"10" and st[b"warm_lru_pct"] == b"30"
        assert st[b"hash_algorithm"] == b"jenkins"
        assert st[b"temporary_ttl"] == b"60" and st[b"temp_lru"] == b"yes"
        assert st[b"idle_timeout"] == b"600"
        assert st[b"lru_crawler_sleep"] == b"50"
        assert r.cmd(b"set k 0 0 1\r\nx\r\n") == b"STORED\r\n"
    finally:
        s.stop()


@stash_only
def test_unused_memcached_internals_are_accepted():
    # restartable memory file, external storage and NAPI ids: accepted, not used
    s = McServer("-e", "/tmp/stash-mc-unused", "-N", "1", "-o", "ext_path=/tmp/x:1G,ext_threads=2,no_modern")
    try:
        assert s.raw().cmd(b"version\r\n") == b"VERSION 1.6.18\r\n"
    finally:
        s.stop()


def test_idle_timeout_closes_idle_connections():
    s = McServer("-o", "idle_timeout=1")
    try:
        r = s.raw()
        assert r.cmd(b"version\r\n") == b"VERSION 1.6.18\r\n"
        assert r.closed(timeout=5)
    finally:
        s.stop()


# ---- listeners ---------------------------------------------------------------------------------------------------

def test_listen_address_with_port():
    port = free_ports()
    s = McServer("-l", "127.0.0.1:%d" % port, tcp=True)
    try:
        c = McRaw(socket.create_connection(("127.0.0.1", port), timeout=5))
        assert c.cmd(b"version\r\n") == b"VERSION 1.6.18\r\n"
    finally:
        s.stop()


def udp_exchange(sock, dest, rid, payload, total=1, wait=0.5):
    """Send one request datagram; return the answer datagrams as
    (seq, count, payload) tuples, checking the request id."""
    sock.sendto(struct.pack(">HHHH", rid, 0, total, 0) + payload, dest)
    sock.settimeout(wait)
    out = []
    try:
        while True:
            d, _ = sock.recvfrom(65536)
            r, seq, count, zero = struct.unpack(">HHHH", d[:8])
            assert r == rid and zero == 0 and len(d) <= 1400
            out.append((seq, count, d[8:]))
    except socket.timeout:
        return out


def test_udp_get_set_and_frames():
    s = McServer(udp=True)
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dest = ("127.0.0.1", s.udp_port)
        # one message per response, each key of a multiget its own (memcached's framing)
        got = udp_exchange(u, dest, 7, b"set u 5 0 2\r\nhi\r\nget u nothere\r\n")
        assert got == [(0, 1, b"STORED\r\n"), (0, 1, b"VALUE u 5 2\r\nhi\r\n"), (0, 1, b"END\r\n")]
        assert udp_exchange(u, dest, 8, b"get nothere u\r\n") == [(0, 0, b""), (0, 1, b"VALUE u 5 2\r\nhi\r\nEND\r\n")]
        # a response bigger than one datagram comes in numbered frames
        r = s.raw()
        big = bytes(range(256)) * 40
        assert r.cmd(b"set big 0 0 %d\r\n" % len(big) + big + b"\r\n") == b"STORED\r\n"
        got = udp_exchange(u, dest, 65535, b"get big\r\n")
        assert [(seq, count) for seq, count, _ in got] == [(i, len(got)) for i in range(len(got))] and len(got) == 8
        assert b"".join(p for _, _, p in got) == b"VALUE big 0 %d\r\n" % len(big) + big + b"\r\nEND\r\n"
        # binary over UDP
        got = udp_exchange(u, dest, 9, bin_req(0x0b))
        assert len(got) == 1 and got[0][2][:2] == b"\x81\x0b" and got[0][2].endswith(b"1.6.18")
        # requests spanning datagrams are dropped; short datagrams too
        assert udp_exchange(u, dest, 10, b"get u\r\n", total=2) == []
        u.sendto(b"\x00\x01", dest)
        assert udp_exchange(u, dest, 11, b"version\r\n") == [(0, 1, b"VERSION 1.6.18\r\n")]
        st = stats(s.raw(), b"settings")
        assert st[b"udpport"] == b"%d" % s.udp_port
    finally:
        s.stop()


def test_udp_port_alone_is_also_the_tcp_port():
    import subprocess

    from memcache_support import engine_cmd

    port = free_ports()
    # memcached: -U without -p listens on TCP at the same port
    p = subprocess.Popen(engine_cmd(["-u", "root", "-U", str(port), "-l", "127.0.0.1", "-t", "1"]),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                c = McRaw(socket.create_connection(("127.0.0.1", port), timeout=5))
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.05)
        st = stats(c, b"settings")
        assert st[b"tcpport"] == b"%d" % port and st[b"udpport"] == b"%d" % port
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_unix_socket_and_permissions():
    d = tempfile.mkdtemp(prefix="stash-mc-unix-")
    path = os.path.join(d, "mc.sock")
    s = McServer(unix=path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        r = s.raw()
        assert r.cmd(b"set k 0 0 2\r\nhi\r\n") == b"STORED\r\n"
        r.send(b"get k\r\n")
        r.expect(b"VALUE k 0 2\r\nhi\r\nEND\r\n")
        st = stats(r, b"settings")
        assert st[b"domain_socket"] == path.encode()
        # -s disables the network listeners (stats still shows the -p value)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", 11211), timeout=1).close()
        c = s.client()
        assert c.get("k") == b"hi"
        c.close()
    finally:
        s.stop()
    path2 = os.path.join(d, "mc2.sock")
    s = McServer("-a", "777", unix=path2)
    try:
        assert stat.S_IMODE(os.stat(path2).st_mode) == 0o777
        assert stats(s.raw(), b"settings")[b"umask"] == b"777"
    finally:
        s.stop()


def test_daemon_and_pidfile():
    d = tempfile.mkdtemp(prefix="stash-mc-daemon-")
    pidfile = os.path.join(d, "mc.pid")
    port = free_ports()
    rc, out, err = run_cli(["-u", "root", "-d", "-P", pidfile, "-p", str(port), "-U", "0", "-l", "127.0.0.1"])
    assert rc == 0, err
    deadline = time.time() + 10
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        assert time.time() < deadline
        time.sleep(0.05)
    pid = int(open(pidfile).read())
    try:
        while True:
            try:
                c = McRaw(socket.create_connection(("127.0.0.1", port), timeout=5))
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.05)
        assert int(stats(c)[b"pid"]) == pid
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break


def test_port_in_use_fails_like_memcached():
    s = McServer()
    try:
        rc, out, err = run_cli(["-u", "root", "-p", str(s.port), "-U", "0", "-l", "127.0.0.1"], timeout=10)
        assert rc == 71, (rc, err)
        assert "failed to listen on" in err
    finally:
        s.stop()


def test_sigterm_exits_cleanly():
    s = McServer()
    c = s.client()
    c.set("k", b"v")
    c.close()
    s.stop(expect_clean=True)


@stash_only
def test_memcached_listeners_on_a_redis_node():
    from conftest import Server

    port = free_ports()
    d = tempfile.mkdtemp(prefix="stash-mc-node-")
    sock = os.path.join(d, "node.sock")
    s = Server("--memcached-port", str(port), "--memcached-udp-port", str(port), "--memcached-unixsocket", sock)
    try:
        r = s.client()
        m = McRaw(socket.create_connection(("127.0.0.1", port), timeout=5))
        assert m.cmd(b"set k 0 0 1\r\nv\r\n") == b"STORED\r\n"
        assert r.get("k") == b"v"
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(sock)
        mu = McRaw(u)
        mu.send(b"get k\r\n")
        mu.expect(b"VALUE k 0 1\r\nv\r\nEND\r\n")
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        us.settimeout(5)
        us.sendto(struct.pack(">HHHH", 3, 0, 1, 0) + b"get k\r\n", ("127.0.0.1", port))
        d, _ = us.recvfrom(2000)
        assert d == struct.pack(">HHHH", 3, 0, 1, 0) + b"VALUE k 0 1\r\nv\r\nEND\r\n"
        # the Redis port keeps speaking RESP
        assert r.ping()
        assert r.config_get("memcached-port") == {"memcached-port": str(port)}
    finally:
        s.stop()

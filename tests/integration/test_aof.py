"""Append-only file: Redis 7's multi-part layout that redis-check-aof and
redis-server 7.0 accept (and Stash loads Redis's), every type and expiry
across restarts and rewrites, crash tests (kill -9 under a write load with
appendfsync always: every acknowledged write is there), truncated and corrupt
files, write errors (MISCONF, recovery), point-in-time recovery with
stash-check-aof --truncate-to-timestamp.

Every load is bounded in count and time; servers are stopped by PID."""
import glob
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import BINARY, Raw, RespError, free_port

REDIS = shutil.which("redis-server")
CHECK_AOF = shutil.which("redis-check-aof")
STASH_CHECK = os.path.join(os.path.dirname(BINARY), "stash-check-aof")
needs_redis = pytest.mark.skipif(not REDIS or not CHECK_AOF, reason="redis-server / redis-check-aof missing")


class Node:
    """A stash-server (or redis-server) on a directory of our choosing, so
    that it can be restarted on the same files."""

    def __init__(self, d, *args, binary=BINARY, redis_peer=False, wait=True, preexec=None):
        self.dir = d
        self.port = free_port()
        self.logfile = os.path.join(d, "server-%d.log" % self.port)
        self.log_fp = open(self.logfile, "w")
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", d,
               "--enable-debug-command", "yes", "--save", ""]
        if not redis_peer:
            cmd += ["--threads", "2"]
        self.proc = subprocess.Popen(cmd + list(args), stdout=self.log_fp, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec)
        self.pid = self.proc.pid
        if wait:
            self.wait_ready()

    def wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log())
            try:
                c = self.client()
                if c.info("persistence")["loading"] == 0:
                    c.close()
                    return
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                pass
            time.sleep(0.02)
        raise RuntimeError("server did not start: " + self.log())

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=20, **kw)

    def log(self):
        with open(self.logfile) as f:
            return f.read()

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log_fp.close()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_fp.close()
        text = self.log()
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                    "WARNING: ThreadSanitizer"):
            assert bad not in text, text
        return self.proc.returncode

    def kill9(self):
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        self.log_fp.close()


@pytest.fixture
def tmpdir_aof():
    d = tempfile.mkdtemp(prefix="stash-aof-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def aofdir(d):
    return os.path.join(d, "appendonlydir")


def manifest(d, name="appendonly.aof"):
    with open(os.path.join(aofdir(d), name + ".manifest")) as f:
        return f.read().splitlines()


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def rewrite_done(c):
    i = c.info("persistence")
    return i["aof_rewrite_in_progress"] == 0 and i["aof_rewrite_scheduled"] == 0


def bgrewrite(c):
    assert c.bgrewriteaof() in (True, b"Background append only file rewriting started")
    assert wait_for(lambda: rewrite_done(c))


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def populate(c, streams=True):
    """Every type, compact and big encodings, expiry, two databases."""
    p = c.pipeline(transaction=False)
    p.set("str", "hello")
    p.set("int", "12345")
    p.set("bin", b"\x00\r\n\xff" * 10)
    p.set("expiring", "soon", px=3600 * 1000)
    p.incrbyfloat("float", "3.5")
    p.rpush("list:small", "a", "b", "3")
    p.rpush("list:big", *["element-%d" % i for i in range(1200)])
    p.sadd("set:int", 1, 2, 3, -70000)
    p.sadd("set:str", *["m%d" % i for i in range(300)])
    p.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    p.zadd("zset:big", {"m%d" % i: i / 7 for i in range(300)})
    p.hset("hash:small", mapping={"f": "v", "n": "12"})
    p.hset("hash:big", mapping={"f%d" % i: "v%d" % i for i in range(600)})
    p.pfadd("hll", *["e%d" % i for i in range(100)])
    p.set("big", "y" * 100000)
    p.execute()
    c.pexpire("zset:big", 7200 * 1000)
    c.execute_command("MULTI")
    c.execute_command("INCR", "tx:a")
    c.execute_command("LPUSH", "tx:l", "x")
    c.execute_command("EXEC")
    if streams:
        for i in range(20):
            c.xadd("stream", {"f": "v%d" % i, "g": str(i)}, id="%d-%d" % (1000 + i, i))
        c.xdel("stream", "1003-3")
        c.xgroup_create("stream", "grp", id="0")
        c.xreadgroup("grp", "alice", {"stream": ">"}, count=3)
        c.execute_command("XGROUP", "CREATECONSUMER", "stream", "grp", "bob")
    c.select(5)
    c.set("db5key", "in db 5")
    c.select(0)


# ---- layout, files, tools ---------------------------------------------------------------------------


def test_layout_manifest_and_checkers(tmpdir_aof):
    # appendfsync always: a reply means the command is in the file.
    n = Node(tmpdir_aof, "--appendonly", "yes", "--appendfsync", "always")
    try:
        c = n.client()
        assert manifest(tmpdir_aof) == ["file appendonly.aof.1.base.rdb seq 1 type b",
                                        "file appendonly.aof.1.incr.aof seq 1 type i"]
        c.set("a", "1")
        c.select(3)
        c.set("b", "2")
        with open(os.path.join(aofdir(tmpdir_aof), "appendonly.aof.1.incr.aof"), "rb") as f:
            data = f.read()
        # SELECT whenever the database changes, then the commands as sent.
        assert data == (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
                        b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n")
        info = c.info("persistence")
        assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
        assert info["aof_current_size"] >= len(data) and "aof_delayed_fsync" in info
        bgrewrite(c)
        assert manifest(tmpdir_aof) == ["file appendonly.aof.2.base.rdb seq 2 type b",
                                        "file appendonly.aof.2.incr.aof seq 2 type i"]
        assert wait_for(lambda: sorted(os.listdir(aofdir(tmpdir_aof))) == [
            "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"])
        c.set("c", "3")
        mf = os.path.join(aofdir(tmpdir_aof), "appendonly.aof.manifest")
        if CHECK_AOF:
            out = subprocess.run([CHECK_AOF, mf], capture_output=True, text=True)
            assert out.returncode == 0 and "All AOF files and manifest are valid" in out.stdout, out.stdout
        out = subprocess.run([STASH_CHECK, mf], capture_output=True, text=True)
        assert out.returncode == 0 and "All AOF files and manifest are valid" in out.stdout, out.stdout
        assert c.bgrewriteaof()
        with pytest.raises(redis.ResponseError):
            for _ in range(50):  # a second one while one runs (they are quick: try a few)
                c.bgrewriteaof()
        assert wait_for(lambda: rewrite_done(c))
    finally:
        assert n.stop() == 0


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_restart_and_rewrites_keep_every_type(tmpdir_aof, preamble):
    # Streams have no RDB codec in this build yet: an RDB base would skip
    # them, so they go with the command base only.
    streams = preamble == "no"
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    c = n.client()
    populate(c, streams=streams)
    d1 = digest(c)
    assert n.stop() == 0
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    c = n.client()
    assert digest(c) == d1
    assert 3000 * 1000 < c.pttl("expiring") <= 3600 * 1000
    bgrewrite(c)
    base = [l for l in manifest(tmpdir_aof) if "type b" in l][0]
    assert base.endswith(".base.rdb seq 2 type b" if preamble == "yes" else ".base.aof seq 2 type b")
    c.set("after", "rewrite")
    d2 = digest(c)
    assert c.execute_command("DEBUG", "LOADAOF") == b"OK"
    assert digest(c) == d2
    assert n.stop() == 0
    n = Node(tmpdir_aof, "--appendonly", "yes")
    assert digest(n.client()) == d2
    assert n.stop() == 0


def test_appendonly_at_runtime_and_rdb_ignored(tmpdir_aof):
    n = Node(tmpdir_aof)
    c = n.client()
    c.set("k", "v")
    assert not os.path.exists(aofdir(tmpdir_aof))
    c.config_set("appendonly", "yes")
    assert wait_for(lambda: rewrite_done(c) and c.info("persistence")["aof_enabled"] == 1)
    assert manifest(tmpdir_aof) == ["file appendonly.aof.1.base.rdb seq 1 type b",
                                    "file appendonly.aof.1.incr.aof seq 1 type i"]
    c.set("k2", "v2")
    c.save()  # a dump.rdb that must not be loaded with appendonly yes
    c.config_set("appendonly", "no")
    c.set("k3", "v3")  # not in the AOF
    assert n.stop() == 0
    n = Node(tmpdir_aof, "--appendonly", "yes")
    c = n.client()
    assert c.get("k") == b"v" and c.get("k2") == b"v2" and c.get("k3") is None
    assert n.stop() == 0


def test_bgrewriteaof_scheduled_during_bgsave(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--rdb-key-save-delay", "200000")
    try:
        c = n.client()
        for i in range(5):
            c.set("k%d" % i, i)
        raw = Raw(n.port)
        assert raw.cmd("BGSAVE") == b"Background saving started"
        assert raw.cmd("BGREWRITEAOF") == b"Background append only file rewriting scheduled"
        assert c.info("persistence")["aof_rewrite_scheduled"] == 1
        c.config_set("rdb-key-save-delay", "0")
        assert wait_for(lambda: rewrite_done(c) and c.info("persistence")["rdb_bgsave_in_progress"] == 0)
        assert c.info("persistence")["aof_rewrites"] >= 1
        # A BGSAVE while a rewrite runs: Redis's words.
        c.config_set("rdb-key-save-delay", "200000")
        c.bgrewriteaof()
        assert raw.cmd("BGSAVE") == RespError(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. "
            "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
        assert raw.cmd("BGSAVE", "SCHEDULE") == b"Background saving scheduled"
        c.config_set("rdb-key-save-delay", "0")
        assert wait_for(lambda: rewrite_done(c))
    finally:
        assert n.stop() == 0


def test_save_and_shutdown_during_a_rewrite(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--rdb-key-save-delay", "100000")
    c = n.client()
    for i in range(5):
        c.set("k%d" % i, i)
    raw = Raw(n.port)
    assert raw.cmd("BGREWRITEAOF") == b"Background append only file rewriting started"
    assert raw.cmd("SAVE") == b"OK"  # waits for the rewrite's snapshot, then saves
    assert os.path.exists(os.path.join(tmpdir_aof, "dump.rdb"))
    assert wait_for(lambda: rewrite_done(c))
    assert raw.cmd("BGREWRITEAOF") == b"Background append only file rewriting started"
    c.shutdown(save=True)  # the rewrite is stopped, the final save made
    assert n.wait_exit() == 0
    assert "There is a child rewriting the AOF. Killing it!" in n.log()
    assert not glob.glob(os.path.join(tmpdir_aof, "temp-*"))
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        assert n.client().get("k4") == b"4"
    finally:
        assert n.stop() == 0


# ---- Redis interoperability ------------------------------------------------------------------------


@needs_redis
@pytest.mark.parametrize("rewrite", ["none", "rdb", "aof"])
def test_redis_loads_stash_aof(tmpdir_aof, rewrite):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-use-rdb-preamble", "no" if rewrite == "aof" else "yes")
    c = n.client()
    populate(c, streams=rewrite != "rdb")
    if rewrite != "none":
        bgrewrite(c)
        c.set("after", "rewrite")
    d1 = digest(c)
    assert n.stop() == 0
    out = subprocess.run([CHECK_AOF, os.path.join(aofdir(tmpdir_aof), "appendonly.aof.manifest")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "All AOF files and manifest are valid" in out.stdout, out.stdout
    r = Node(tmpdir_aof, "--appendonly", "yes", binary=REDIS, redis_peer=True)
    try:
        assert digest(r.client()) == d1
    finally:
        r.stop()


@needs_redis
@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_stash_loads_redis_aof(tmpdir_aof, preamble):
    r = Node(tmpdir_aof, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble, binary=REDIS, redis_peer=True)
    c = r.client()
    # Streams in an RDB base need the RDB stream codec (not in this build):
    # with "no", Redis writes them as XADD / XSETID / XGROUP / XCLAIM.
    populate(c, streams=preamble == "no")
    c.bgrewriteaof()  # a base, then more commands
    assert wait_for(lambda: rewrite_done(c))
    c.set("after", "rewrite")
    if preamble == "no":
        c.xadd("stream", {"late": "entry"}, id="5000-0")
        c.xreadgroup("grp", "carol", {"stream": ">"}, count=2)
    c.expire("str", 1000)
    d1 = digest(c)
    r.stop()
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        c = n.client()
        assert digest(c) == d1
        assert 900 < c.ttl("str") <= 1000
    finally:
        assert n.stop() == 0


@needs_redis
def test_old_single_aof_is_upgraded(tmpdir_aof):
    with open(os.path.join(tmpdir_aof, "appendonly.aof"), "wb") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n")
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        assert n.client().get("old") == b"style"
        assert manifest(tmpdir_aof)[0] == "file appendonly.aof seq 1 type b"
        assert "Successfully migrated an old-style AOF file" in n.log()
        assert not os.path.exists(os.path.join(tmpdir_aof, "appendonly.aof"))
    finally:
        assert n.stop() == 0


# ---- damaged files -----------------------------------------------------------------------------------


def write_aof(d, incr, base=None):
    os.makedirs(aofdir(d), exist_ok=True)
    lines = []
    if base is not None:
        with open(os.path.join(aofdir(d), "appendonly.aof.1.base.aof"), "wb") as f:
            f.write(base)
        lines.append("file appendonly.aof.1.base.aof seq 1 type b\n")
    with open(os.path.join(aofdir(d), "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(incr)
    lines.append("file appendonly.aof.1.incr.aof seq 1 type i\n")
    with open(os.path.join(aofdir(d), "appendonly.aof.manifest"), "w") as f:
        f.write("".join(lines))


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def test_truncated_tail_loaded_with_load_truncated_yes(tmpdir_aof):
    good = cmd("SET", "a", "1") + cmd("INCR", "a") + cmd("MULTI") + cmd("SET", "b", "1") + cmd("EXEC")
    write_aof(tmpdir_aof, good + cmd("MULTI") + cmd("SET", "c", "1") + cmd("SET", "d", "x")[:-3])
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-load-truncated", "yes")
    try:
        c = n.client()
        assert c.get("a") == b"2" and c.get("b") == b"1" and c.get("c") is None
        assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in n.log()
        # The file was cut before the unfinished MULTI (what is appended
        # next must not land inside it).
        assert os.path.getsize(os.path.join(aofdir(tmpdir_aof), "appendonly.aof.1.incr.aof")) == len(good)
        c.set("e", "after")
    finally:
        assert n.stop() == 0
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-load-truncated", "no")
    try:
        assert n.client().get("e") == b"after"
    finally:
        assert n.stop() == 0


def test_unfinished_multi_reverted(tmpdir_aof):
    write_aof(tmpdir_aof, cmd("SET", "a", "1") + cmd("MULTI") + cmd("SET", "b", "1"))
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        c = n.client()
        assert c.get("a") == b"1" and c.get("b") is None
        assert "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof" in n.log()
    finally:
        assert n.stop() == 0


@pytest.mark.parametrize("content,message", [
    (cmd("SET", "a", "1") + cmd("SET", "b", "x")[:-4],
     "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"),
    (cmd("SET", "a", "1") + b"!!!" + cmd("SET", "b", "1"),
     "Bad file format reading the append only file appendonly.aof.1.incr.aof"),
    (cmd("SET", "a", "1") + cmd("NOSUCHCMD", "x"),
     "Unknown command 'NOSUCHCMD' reading the append only file appendonly.aof.1.incr.aof"),
    (b"*999999999\r\n$3\r\nSET\r\n",
     "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"),
    (b"*1\r\n$-5\r\nSET\r\n", "Bad file format reading the append only file"),
])
def test_bad_files_refused_with_exit_code_1(tmpdir_aof, content, message):
    write_aof(tmpdir_aof, content)
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-load-truncated", "no", wait=False)
    assert n.wait_exit() == 1
    assert message in n.log(), n.log()


def test_bad_manifest_refused(tmpdir_aof):
    write_aof(tmpdir_aof, cmd("SET", "a", "1"))
    with open(os.path.join(aofdir(tmpdir_aof), "appendonly.aof.manifest"), "a") as f:
        f.write("file appendonly.aof.1.incr.aof seq 1 type i\n")
    n = Node(tmpdir_aof, "--appendonly", "yes", wait=False)
    assert n.wait_exit() == 1
    log = n.log()
    assert "*** FATAL AOF MANIFEST FILE ERROR ***" in log and "Found a non-monotonic sequence number" in log


def test_stash_check_aof_fix(tmpdir_aof):
    write_aof(tmpdir_aof, cmd("SET", "foo", "hello") + b"!!!")
    mf = os.path.join(aofdir(tmpdir_aof), "appendonly.aof.manifest")
    out = subprocess.run([STASH_CHECK, mf], capture_output=True, text=True)
    assert out.returncode == 1 and "ok_up_to_line=8" in out.stdout and "is not valid" in out.stdout
    out = subprocess.run([STASH_CHECK, "--fix", mf], input="y\n", capture_output=True, text=True)
    assert out.returncode == 0 and "Successfully truncated AOF" in out.stdout, out.stdout
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-load-truncated", "no")
    try:
        assert n.client().get("foo") == b"hello"
    finally:
        assert n.stop() == 0


# ---- crash tests ---------------------------------------------------------------------------------------


def write_load(port, acked, stop, worker):
    """SETs of unique keys, recording each acknowledged one."""
    c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    i = 0
    try:
        while not stop.is_set() and i < 200000:
            key = "w%d:%d" % (worker, i)
            if c.set(key, i):
                acked.append(key)
            i += 1
    except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
        pass


def run_load_then_kill(node, seconds, workers=4):
    acked = [[] for _ in range(workers)]
    stop = threading.Event()
    threads = [threading.Thread(target=write_load, args=(node.port, acked[w], stop, w)) for w in range(workers)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    node.kill9()  # mid-load: replies in flight are not acknowledged
    stop.set()
    for t in threads:
        t.join(timeout=10)
    return [k for a in acked for k in a]


@pytest.mark.stress
def test_crash_appendfsync_always_keeps_every_acknowledged_write(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--appendfsync", "always")
    acked = run_load_then_kill(n, 1.5)
    assert len(acked) > 100
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        c = n.client()
        p = c.pipeline(transaction=False)
        for k in acked:
            p.exists(k)
        missing = [k for k, e in zip(acked, p.execute()) if not e]
        assert missing == []
    finally:
        assert n.stop() == 0


def test_crash_everysec_loses_at_most_the_last_second(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--appendfsync", "everysec")
    c = n.client()
    acked, stamps = [], []
    stop_at = time.time() + 1.5
    i = 0
    while time.time() < stop_at and i < 100000:
        c.set("e%d" % i, i)
        acked.append("e%d" % i)
        stamps.append(time.time())
        i += 1
    killed_at = time.time()
    n.kill9()
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        c = n.client()
        p = c.pipeline(transaction=False)
        for k in acked:
            p.exists(k)
        present = p.execute()
        # Acknowledged more than ~a second before the kill: on disk (a
        # process kill leaves the page cache, so in practice nothing is lost).
        lost_old = [k for k, e, t in zip(acked, present, stamps) if not e and t < killed_at - 2.0]
        assert lost_old == []
    finally:
        assert n.stop() == 0


@pytest.mark.stress
def test_rewrites_under_load_keep_every_write(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    c = n.client()
    populate(c, streams=True)
    stop = threading.Event()
    counts = [0] * 3

    def incr_load(w):
        cl = n.client()
        while not stop.is_set() and counts[w] < 50000:
            cl.incr("counter:%d" % w)
            cl.rpush("list:%d" % w, counts[w])
            counts[w] += 1

    threads = [threading.Thread(target=incr_load, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        for preamble in ("no", "yes", "no"):
            time.sleep(0.3)
            c.config_set("aof-use-rdb-preamble", preamble)
            if preamble == "yes":
                c.delete("stream")  # no RDB codec for streams in this build
            bgrewrite(c)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    for w in range(3):
        assert int(c.get("counter:%d" % w)) == counts[w] and c.llen("list:%d" % w) == counts[w]
    d1 = digest(c)
    assert c.execute_command("DEBUG", "LOADAOF") == b"OK"
    assert digest(c) == d1
    assert n.stop() == 0
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        assert digest(n.client()) == d1
    finally:
        assert n.stop() == 0


@pytest.mark.stress
def test_always_reply_waits_for_fsync_and_pipelines(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--appendfsync", "always")
    try:
        c = n.client()
        p = c.pipeline(transaction=False)
        for i in range(2000):
            p.set("p%d" % i, i)
            p.get("p%d" % i)
        res = p.execute()
        assert res[0::2] == [True] * 2000 and res[1::2] == [str(i).encode() for i in range(2000)]
        # A blocked pop served by a push from another client.
        got = []
        t = threading.Thread(target=lambda: got.append(n.client().blpop("q", 10)))
        t.start()
        time.sleep(0.2)
        c.rpush("q", "x")
        t.join(10)
        assert got == [(b"q", b"x")]
        c.config_set("appendfsync", "everysec")
        assert c.set("k", "v")
        c.config_set("appendfsync", "always")
        assert c.set("k", "v2")
    finally:
        assert n.stop() == 0


# ---- write errors --------------------------------------------------------------------------------------


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (200000, resource.RLIM_INFINITY))


def test_write_errors_refuse_writes_then_recover(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--appendfsync", "everysec", preexec=limit_file_size)
    try:
        c = n.client()
        value = "x" * 10000
        acked = []
        for i in range(100):  # well past 200 kB: the file cannot grow
            try:
                c.set("big%d" % i, value)
                acked.append(i)
            except redis.ResponseError as e:
                assert str(e) == "MISCONF Errors writing to the AOF file: File too large"
                break
        assert wait_for(lambda: c.info("persistence")["aof_last_write_status"] == "err")
        with pytest.raises(redis.ResponseError, match="^MISCONF Errors writing to the AOF file: File too large$"):
            c.set("refused", "1")
        with pytest.raises(redis.ResponseError, match="^MISCONF"):
            c.ping()  # Redis refuses PING too
        assert c.get("big0") == value.encode()  # reads go on
        log = n.log()
        assert "Error writing to the AOF file: File too large" in log or "Short write while writing to the AOF" in log
        # The disk "recovers": the writer tries again and writes resume.
        resource.prlimit(n.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert wait_for(lambda: c.info("persistence")["aof_last_write_status"] == "ok")
        assert c.set("after", "recovery")
        assert "AOF write error looks solved, Redis can write again." in n.log()
        d1 = digest(c)
    finally:
        assert n.stop() == 0
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        assert digest(n.client()) == d1
    finally:
        assert n.stop() == 0


def test_write_errors_with_always_hold_replies_until_on_disk(tmpdir_aof):
    """appendfsync always: a write that cannot reach the disk is not
    acknowledged (its reply waits), new writes are refused, and once the
    disk recovers the waiting reply goes out and the data is there."""
    n = Node(tmpdir_aof, "--appendonly", "yes", "--appendfsync", "always", preexec=limit_file_size)
    try:
        c = n.client()
        acked, errors = [], []
        value = "x" * 10000

        def writer():
            w = n.client()
            for i in range(40):
                try:
                    w.set("big%d" % i, value)
                    acked.append(i)
                except redis.ResponseError as e:
                    errors.append(str(e))
                    return

        t = threading.Thread(target=writer)
        t.start()
        assert wait_for(lambda: c.info("persistence")["aof_last_write_status"] == "err")
        with pytest.raises(redis.ResponseError, match="^MISCONF Errors writing to the AOF file"):
            c.set("refused", "1")
        stuck = len(acked)
        time.sleep(0.3)
        assert len(acked) == stuck and t.is_alive()  # its reply waits for the disk
        resource.prlimit(n.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        t.join(20)
        assert not t.is_alive() and len(acked) > stuck
        d1 = digest(c)
        n.kill9()
        n = Node(tmpdir_aof, "--appendonly", "yes")
        c = n.client()
        for i in acked:
            assert c.exists("big%d" % i)
        assert digest(c) == d1
    finally:
        assert n.stop() == 0


# ---- point-in-time recovery ------------------------------------------------------------------------------


def next_second():
    now = time.time()
    time.sleep(int(now) + 1.05 - now)
    return int(time.time())


def test_point_in_time_recovery(tmpdir_aof):
    n = Node(tmpdir_aof, "--appendonly", "yes", "--aof-timestamp-enabled", "yes")
    c = n.client()
    c.set("first", "1")
    t1 = int(time.time())
    t2 = next_second()
    c.set("second", "2")
    c.incr("counter")
    t3 = next_second()
    c.set("third", "3")
    c.incr("counter")
    assert n.stop() == 0
    incr = os.path.join(aofdir(tmpdir_aof), "appendonly.aof.1.incr.aof")
    with open(incr, "rb") as f:
        assert f.read().startswith(b"#TS:%d\r\n" % t1)
    backup = tmpdir_aof + "-backup"
    shutil.copytree(tmpdir_aof, backup)
    try:
        mf = os.path.join(aofdir(tmpdir_aof), "appendonly.aof.manifest")
        if CHECK_AOF:  # Redis's tool reads the same annotations
            out = subprocess.run([CHECK_AOF, mf], capture_output=True, text=True)
            assert out.returncode == 0, out.stdout
        out = subprocess.run([STASH_CHECK, "--truncate-to-timestamp", str(t2), mf], capture_output=True, text=True)
        assert out.returncode == 0 and "Successfully truncated AOF" in out.stdout, out.stdout
        n = Node(tmpdir_aof, "--appendonly", "yes")
        c = n.client()
        assert (c.get("first"), c.get("second"), c.get("third"), c.get("counter")) == (b"1", b"2", None, b"1")
        assert n.stop() == 0
        # Further back, on the copy: only the first write.
        mf2 = os.path.join(aofdir(backup), "appendonly.aof.manifest")
        out = subprocess.run([STASH_CHECK, "--truncate-to-timestamp", str(t1), mf2], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout
        n = Node(backup, "--appendonly", "yes")
        c = n.client()
        assert (c.get("first"), c.get("second"), c.get("counter")) == (b"1", None, None)
        assert n.stop() == 0
        # Before anything was written: refused.
        out = subprocess.run([STASH_CHECK, "--truncate-to-timestamp", str(t1 - 100), mf2], capture_output=True,
                             text=True)
        assert out.returncode == 1 and "aborting" in out.stdout
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def test_pitr_cut_in_an_earlier_incr_file_drops_the_later_ones(tmpdir_aof):
    os.makedirs(aofdir(tmpdir_aof))
    files = {
        "appendonly.aof.1.base.aof": b"#TS:1000\r\n" + cmd("SET", "base", "1"),
        "appendonly.aof.1.incr.aof": b"#TS:1001\r\n" + cmd("SET", "a", "1") + b"#TS:1005\r\n" + cmd("SET", "b", "1"),
        "appendonly.aof.2.incr.aof": b"#TS:1006\r\n" + cmd("SET", "c", "1"),
    }
    for name, data in files.items():
        with open(os.path.join(aofdir(tmpdir_aof), name), "wb") as f:
            f.write(data)
    mf = os.path.join(aofdir(tmpdir_aof), "appendonly.aof.manifest")
    with open(mf, "w") as f:
        f.write("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
                "file appendonly.aof.2.incr.aof seq 2 type i\n")
    out = subprocess.run([STASH_CHECK, "--truncate-to-timestamp", "1003", mf], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    assert manifest(tmpdir_aof) == ["file appendonly.aof.1.base.aof seq 1 type b",
                                    "file appendonly.aof.1.incr.aof seq 1 type i"]
    n = Node(tmpdir_aof, "--appendonly", "yes")
    try:
        c = n.client()
        assert (c.get("base"), c.get("a"), c.get("b"), c.get("c")) == (b"1", b"1", None, None)
    finally:
        assert n.stop() == 0

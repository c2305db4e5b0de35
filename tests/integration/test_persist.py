"""RDB persistence: SAVE/BGSAVE files that redis-check-rdb and redis-server
7.0 accept, Stash started on a redis-server dump.rdb (and on a crafted Redis
7.2 one), DUMP/RESTORE both ways, point-in-time BGSAVE under writes, save
errors and MISCONF, start-up loading, SHUTDOWN/SIGTERM/FLUSHALL saves."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import BINARY, RespError, Server, free_port

REDIS = shutil.which("redis-server")
CHECK = shutil.which("redis-check-rdb")
needs_redis = pytest.mark.skipif(not REDIS or not CHECK, reason="redis-server / redis-check-rdb missing")


class RedisPeer:
    """A private redis-server 7.0 on a loopback port."""

    def __init__(self, d, *args):
        self.port = free_port()
        self.dir = d
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--appendonly", "no",
                                      "--dir", d, "--enable-debug-command", "yes", "--save", ""] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                c = self.client()
                if c.info("persistence")["loading"] == 0:
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=20)

    def stop(self):
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=20)


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def bgsave_done(c):
    return c.info("persistence")["rdb_bgsave_in_progress"] == 0


def populate(c, big=True):
    """Every type, in compact and (big=True) big encodings, with expiry."""
    p = c.pipeline(transaction=False)
    p.set("str", "hello")
    p.set("int", "12345")
    p.set("neg", "-9223372036854775808")
    p.set("long", "x" * 1000)                       # LZF-compressible
    p.set("expiring", "soon", px=3600 * 1000)
    p.rpush("list:small", "a", "b", "3")
    p.sadd("set:int", 1, 2, 3, -70000)
    p.sadd("set:str", "a", "b", "c")
    p.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    p.hset("hash:small", mapping={"f": "v", "n": "12"})
    p.pfadd("hll", "a", "b", "c")
    p.execute()
    if big:
        p = c.pipeline(transaction=False)
        p.rpush("list:big", *["element-%d" % i for i in range(3000)])
        p.sadd("set:big", *["m%d" % i for i in range(1000)])
        p.sadd("set:bigint", *range(1000))
        p.zadd("zset:big", {"m%d" % i: i / 3 for i in range(500)})
        p.hset("hash:big", mapping={"f%d" % i: "v%d" % i for i in range(1000)})
        p.hset("hash:longval", mapping={"f": "v" * 100})
        p.pfadd("hll:dense", *["e%d" % i for i in range(5000)])
        p.set("huge", "y" * 300000)                     # written from a blob reference
        p.set("huge:random", os.urandom(150000))        # ... and not compressible
        p.execute()
        c.expire("zset:big", 3600)
        c.select(5)
        c.set("db5key", "in db 5")
        c.select(0)


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def digests(c):
    keys = sorted(c.keys("*"))
    return dict(zip(keys, c.execute_command("DEBUG", "DIGEST-VALUE", *keys))) if keys else {}


def check_rdb(path):
    out = subprocess.run([CHECK, path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "RDB looks OK" in out.stdout, out.stdout + out.stderr
    return out.stdout


@pytest.fixture
def srv():
    s = Server("--save", "", "--enable-debug-command", "yes")
    yield s
    s.stop()


# ---- files Redis's tools read ------------------------------------------------------------------------


@needs_redis
def test_save_is_valid_rdb_for_redis_tools_and_server(srv):
    c = srv.client()
    populate(c)
    want = digest(c)
    want_values = digests(c)
    assert c.save() in (True, b"OK")
    path = os.path.join(srv.dir, "dump.rdb")
    text = check_rdb(path)
    assert "keys read" in text
    peer = RedisPeer(srv.dir)
    try:
        rc = peer.client()
        assert digest(rc) == want
        assert digests(rc) == want_values
        assert rc.ttl("expiring") > 3000 and rc.ttl("zset:big") > 3000
        assert rc.object("encoding", "list:big") == b"quicklist"
        assert rc.object("encoding", "set:int") == b"intset"
        assert rc.object("encoding", "hash:small") == b"listpack"
    finally:
        peer.stop()


@needs_redis
def test_bgsave_file_is_valid_and_uncompressed_variant(srv):
    c = srv.client()
    populate(c)
    c.config_set("rdbcompression", "no")
    assert c.bgsave() in (True, b"OK")
    assert wait_for(lambda: bgsave_done(c))
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    check_rdb(os.path.join(srv.dir, "dump.rdb"))
    with open(os.path.join(srv.dir, "dump.rdb"), "rb") as f:
        data = f.read()
    assert data[:9] == b"REDIS0010"
    assert b"x" * 1000 in data  # not compressed


@needs_redis
def test_stash_loads_redis_dump(tmp_path):
    d = str(tmp_path)
    peer = RedisPeer(d)
    try:
        rc = peer.client()
        populate(rc)
        rc.set("gone", "x", px=1)
        time.sleep(0.01)
        rc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        want = None
        rc.delete("gone")
        want = digest(rc)
        want_values = digests(rc)
        rc.save()
    finally:
        peer.stop()
    s = Server("--save", "", "--enable-debug-command", "yes", "--dir", d)
    try:
        c = s.client()
        assert digest(c) == want
        assert digests(c) == want_values
        assert c.ttl("expiring") > 3000
        assert c.lrange("list:small", 0, -1) == [b"a", b"b", b"3"]
        assert c.get("db5key") is None and c.dbsize() > 10
        c.select(5)
        assert c.get("db5key") == b"in db 5"
        assert "Done loading RDB, keys loaded:" in s.log()
        assert c.info("persistence")["rdb_last_load_keys_loaded"] == want_values.__len__() + 1
    finally:
        s.stop()


def crc64(data):
    crc = 0
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
        table.append(c)
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def rdb_string(b):
    assert len(b) < 64
    return bytes([len(b)]) + b


def listpack(items):
    body = b""
    for it in items:
        if isinstance(it, int):
            enc = bytes([it])  # 7-bit unsigned
        else:
            enc = bytes([0x80 | len(it)]) + it
        body += enc + bytes([len(enc)])
    total = 6 + len(body) + 1
    return struct.pack("<IH", total, len(items)) + body + b"\xff"


def test_stash_loads_redis72_set_listpack_and_expired_keys(tmp_path):
    """RDB 11 as Redis 7.2 writes it: a set in a listpack (type 20); a key
    already expired is dropped on load."""
    body = b"REDIS0011"
    body += b"\xfa" + rdb_string(b"redis-ver") + rdb_string(b"7.2.4")
    body += b"\xfe\x00\xfb\x02\x01"
    body += b"\x14" + rdb_string(b"s72") + rdb_string(listpack([b"a", b"b", 7]))
    body += b"\xfc" + struct.pack("<q", 1000) + b"\x00" + rdb_string(b"old") + rdb_string(b"v")
    body += b"\xff"
    body += struct.pack("<Q", crc64(body))
    with open(tmp_path / "dump.rdb", "wb") as f:
        f.write(body)
    s = Server("--save", "", "--dir", str(tmp_path))
    try:
        c = s.client()
        assert c.smembers("s72") == {b"a", b"b", b"7"}
        assert c.exists("old") == 0
        info = c.info("persistence")
        assert info["rdb_last_load_keys_expired"] == 1 and info["rdb_last_load_keys_loaded"] == 1
        assert "Loading RDB produced by version 7.2.4" in s.log()
    finally:
        s.stop()


def test_corrupt_dump_stops_start(tmp_path):
    with open(tmp_path / "dump.rdb", "wb") as f:
        f.write(b"REDIS0010\xfe\x00\x00\x05hel")  # truncated
    log = tmp_path / "log.txt"
    p = subprocess.run([BINARY, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                        "--logfile", str(log)], timeout=20)
    assert p.returncode == 1
    assert "Short read or OOM loading DB" in log.read_text()
    with open(tmp_path / "dump.rdb", "wb") as f:
        f.write(b"NOTREDIS0")
    p = subprocess.run([BINARY, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                        "--logfile", str(log)], timeout=20)
    assert p.returncode == 1
    assert "Wrong signature" in log.read_text()


# ---- DUMP / RESTORE --------------------------------------------------------------------------------


@needs_redis
def test_dump_restore_interchange_with_redis(srv, tmp_path):
    c = srv.client()
    populate(c, big=True)
    peer = RedisPeer(str(tmp_path))
    try:
        rc = peer.client()
        keys = sorted(c.keys("*"))
        for k in keys:
            payload = c.dump(k)
            rc.restore(k, max(c.pttl(k), 0), payload)
        assert digests(rc) == digests(c)
        # and back: Redis's payloads into Stash
        c.flushall()
        for k in keys:
            c.restore(k, max(rc.pttl(k), 0), rc.dump(k))
        assert digests(rc) == digests(c)
    finally:
        peer.stop()


def test_restore_options_and_errors(srv):
    c = srv.client()
    c.set("foo", "bar")
    payload = c.dump("foo")
    assert c.dump("nonexisting") is None
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists.$"):
        c.restore("foo", 0, payload)
    assert c.restore("foo", 0, payload, replace=True) in (True, b"OK")
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
        c.restore("x", 0, payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
        c.restore("x", 0, b"...")
    # A well-formed footer around a bad value
    body = b"\x02\x05\x01a"  # a set of 5 members with only one
    crc = crc64(body + b"\x0a\x00")
    with pytest.raises(redis.ResponseError, match="^Bad data format$"):
        c.restore("x", 0, body + b"\x0a\x00" + struct.pack("<Q", crc))
    with pytest.raises(redis.ResponseError, match="syntax"):
        c.execute_command("RESTORE", "x", 0, payload, "invalid-option")
    with pytest.raises(redis.ResponseError, match="^Invalid TTL value, must be >= 0$"):
        c.restore("x", -1, payload)
    with pytest.raises(redis.ResponseError, match="^Invalid IDLETIME value, must be >= 0$"):
        c.execute_command("RESTORE", "x", 0, payload, "IDLETIME", -1)
    with pytest.raises(redis.ResponseError, match="^Invalid FREQ value, must be >= 0 and <= 255$"):
        c.execute_command("RESTORE", "x", 0, payload, "FREQ", 256)
    assert c.restore("t", 5000, payload) in (True, b"OK")
    assert 3000 < c.pttl("t") <= 5000
    now = int(time.time() * 1000)
    assert c.restore("a", now + 3000, payload, absttl=True) in (True, b"OK")
    assert 2000 < c.pttl("a") <= 3100
    # already expired with ABSTTL + REPLACE: the old key goes
    assert c.restore("a", now - 3000, payload, absttl=True, replace=True) in (True, b"OK")
    assert c.exists("a") == 0
    c.config_set("maxmemory-policy", "allkeys-lru")
    try:
        assert c.execute_command("RESTORE", "lru", 0, payload, "IDLETIME", 1000) == b"OK"
        assert 1000 <= c.object("idletime", "lru") <= 1010
    finally:
        c.config_set("maxmemory-policy", "allkeys-lfu")
    assert c.execute_command("RESTORE", "lfu", 0, payload, "FREQ", 100) == b"OK"
    assert c.object("freq", "lfu") == 100
    c.config_set("maxmemory-policy", "noeviction")


# ---- snapshots -------------------------------------------------------------------------------------


def load_dump(path_dir):
    """Start a second Stash on a dump and return (server, client)."""
    s = Server("--save", "", "--dir", path_dir)
    return s, s.client()


@pytest.mark.stress
def test_bgsave_is_point_in_time_under_writes(srv, tmp_path):
    c = srv.client()
    n = 5000
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("k%d" % i, "before")
    p.rpush("list", *range(100))
    p.execute()
    c.config_set("rdb-key-save-delay", "100")  # ~0.5 s for the whole snapshot
    assert c.bgsave() in (True, b"OK")
    # Every write below comes after the cut.
    p = c.pipeline(transaction=False)
    for i in range(0, n, 2):
        p.set("k%d" % i, "after")
    for i in range(500):
        p.set("new%d" % i, "after")
    p.delete("k1", "k3")
    p.rpush("list", "more")
    p.execute()
    assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
    assert wait_for(lambda: bgsave_done(c))
    c.config_set("rdb-key-save-delay", "0")
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    shutil.copy(os.path.join(srv.dir, "dump.rdb"), tmp_path / "dump.rdb")
    s2, c2 = load_dump(str(tmp_path))
    try:
        assert c2.dbsize() == n + 1
        values = c2.mget(["k%d" % i for i in range(n)])
        assert all(v == b"before" for v in values)
        assert c2.llen("list") == 100
        assert c2.exists("new0") == 0
    finally:
        s2.stop()


@pytest.mark.stress
def test_bgsave_under_concurrent_load_threads(srv, tmp_path):
    """Writers on other connections while the snapshot runs: the file holds
    each counter at one value that was current at the cut or before."""
    c = srv.client()
    for i in range(200):
        c.set("ctr%d" % i, 0)
    c.config_set("rdb-key-save-delay", "2000")
    stop = threading.Event()
    errors = []

    def writer(seed):
        w = srv.client()
        try:
            for r in range(100000):
                if stop.is_set():
                    break
                w.incr("ctr%d" % ((r * 7 + seed) % 200))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    assert c.bgsave() in (True, b"OK")
    cut_floor = [int(v) for v in c.mget(["ctr%d" % i for i in range(200)])]  # read after the cut
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    c.config_set("rdb-key-save-delay", "0")
    assert wait_for(lambda: bgsave_done(c), timeout=60)
    shutil.copy(os.path.join(srv.dir, "dump.rdb"), tmp_path / "dump.rdb")
    s2, c2 = load_dump(str(tmp_path))
    try:
        saved = [int(v) for v in c2.mget(["ctr%d" % i for i in range(200)])]
        # a value read after the cut is >= the saved one (counters only grow)
        assert all(s <= f for s, f in zip(saved, cut_floor))
    finally:
        s2.stop()


def test_save_errors_and_misconf(srv):
    c = srv.client()
    c.set("k", "v")
    c.config_set("save", "3600 1")
    blocker = os.path.join(srv.dir, "temp-%d.rdb" % srv.pid)
    os.mkdir(blocker)  # the temp file cannot be created
    try:
        with pytest.raises(redis.ResponseError, match="^$"):
            c.save()
        # A failed SAVE is only an error reply (Redis); a failed BGSAVE
        # marks the status and stops writes.
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
        assert c.set("k", "v") in (True, b"OK")
        with pytest.raises(redis.ResponseError, match="^$"):  # known at once: no thread to start
            c.bgsave()
        assert c.info("persistence")["rdb_last_bgsave_status"] == "err"
        with pytest.raises(redis.ResponseError, match="^MISCONF Redis is configured to save RDB snapshots"):
            c.set("k", "w")
        with pytest.raises(redis.ResponseError, match="^MISCONF"):
            c.ping()
        assert c.get("k") == b"v"  # reads go on
        c.config_set("stop-writes-on-bgsave-error", "no")
        assert c.set("k", "w") in (True, b"OK")
        c.config_set("stop-writes-on-bgsave-error", "yes")
        assert "Failed opening the temp RDB file" in srv.log()
    finally:
        os.rmdir(blocker)
    assert c.bgsave() in (True, b"OK")
    assert wait_for(lambda: c.info("persistence")["rdb_last_bgsave_status"] == "ok")
    assert c.set("k", "x") in (True, b"OK")
    # rename failure: the target is a directory
    c.config_set("dbfilename", "adir")
    os.mkdir(os.path.join(srv.dir, "adir"))
    with pytest.raises(redis.ResponseError, match="^$"):
        c.save()
    assert "Error moving temp DB file" in srv.log()
    assert not [f for f in os.listdir(srv.dir) if f.startswith("temp-")]
    c.config_set("dbfilename", "dump.rdb")
    assert c.save() in (True, b"OK")
    with pytest.raises(redis.ResponseError, match="dbfilename can't be a path, just a filename"):
        c.config_set("dbfilename", "a/b.rdb")
    c.config_set("save", "")


def test_bgsave_replies_and_info(srv):
    c = srv.client()
    c.set("k", "v")
    before = c.lastsave()
    assert c.info("persistence")["rdb_changes_since_last_save"] >= 1
    time.sleep(1.1)
    assert c.save() in (True, b"OK")
    assert c.lastsave() > before
    info = c.info("persistence")
    assert info["rdb_changes_since_last_save"] == 0 and info["rdb_saves"] >= 1
    c.config_set("rdb-key-save-delay", "1000000")
    assert c.bgsave() in (True, b"OK")
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        c.bgsave()
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        c.save()
    assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
    with pytest.raises(redis.ResponseError, match="syntax error"):
        c.execute_command("BGSAVE", "NOW")
    c.config_set("rdb-key-save-delay", "0")
    c.flushall()  # kills the running BGSAVE, as Redis does
    assert wait_for(lambda: bgsave_done(c))
    p = c.pipeline(transaction=True)
    p.set("a", 1)
    p.execute_command("BGSAVE")
    assert p.execute()[1] in (True, b"Background saving scheduled")
    assert wait_for(lambda: c.info("persistence")["rdb_saves"] >= 2 and bgsave_done(c))
    with pytest.raises(redis.ResponseError, match="Command not allowed inside a transaction"):
        p = c.pipeline(transaction=True)
        p.set("b", 1)
        p.execute_command("SAVE")
        p.execute()


def test_save_points_trigger_bgsave(srv):
    c = srv.client()
    c.config_set("save", "1 2")
    assert c.config_get("save") == {"save": "1 2"}
    saves = c.info("persistence")["rdb_saves"]
    c.set("a", 1)
    c.set("b", 2)
    assert wait_for(lambda: c.info("persistence")["rdb_saves"] > saves, timeout=10)
    assert wait_for(lambda: bgsave_done(c))
    assert "changes in 1 seconds. Saving..." in srv.log()
    c.config_set("save", "")
    assert c.config_get("save") == {"save": ""}
    with pytest.raises(redis.ResponseError, match="Invalid save parameters"):
        c.config_set("save", "1")
    with pytest.raises(redis.ResponseError, match="Invalid save parameters"):
        c.config_set("save", "0 1")


def test_default_save_points_and_sigterm_save(tmp_path):
    s = Server("--dir", str(tmp_path))
    c = s.client()
    assert c.config_get("save") == {"save": "3600 1 300 100 60 10000"}
    c.set("kept", "yes")
    c.lpush("l", "x")
    s.stop()  # SIGTERM: saves because save points exist
    assert "Saving the final RDB snapshot before exiting." in s.log()
    s2 = Server("--dir", str(tmp_path))
    try:
        c2 = s2.client()
        assert c2.get("kept") == b"yes" and c2.lrange("l", 0, -1) == [b"x"]
        # FLUSHALL with save points writes the empty dataset
        c2.flushall()
        assert wait_for(lambda: c2.info("persistence")["rdb_changes_since_last_save"] <= 1)
    finally:
        s2.stop()
    s3 = Server("--dir", str(tmp_path), "--save", "")
    try:
        assert s3.client().dbsize() == 0
    finally:
        s3.stop()


def test_config_file_save_lines_add_up(tmp_path):
    conf = tmp_path / "stash.conf"
    conf.write_text("save 900 1\nsave 300 10\n")
    port = free_port()
    p = subprocess.Popen([BINARY, str(conf), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = redis.Redis(port=port)
        assert wait_for(lambda: c.ping() if _up(port) else False)
        assert c.config_get("save") == {"save": "900 1 300 10"}
    finally:
        os.kill(p.pid, signal.SIGTERM)
        p.wait(timeout=20)


def _up(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_shutdown_save_and_nosave(tmp_path):
    s = Server("--dir", str(tmp_path), "--save", "")
    c = s.client()
    c.set("x", "1")
    c.shutdown(nosave=True)  # redis-py swallows the closed connection
    s.proc.wait(timeout=20)
    assert not os.path.exists(tmp_path / "dump.rdb")
    s.log_fp.close()
    s = Server("--dir", str(tmp_path), "--save", "")
    c = s.client()
    c.set("y", "2")
    c.shutdown(save=True)
    s.proc.wait(timeout=20)
    s.log_fp.close()
    assert os.path.exists(tmp_path / "dump.rdb")
    s = Server("--dir", str(tmp_path), "--save", "")
    try:
        assert s.client().get("y") == b"2"
    finally:
        s.stop()


def test_debug_reload_and_object(srv):
    c = srv.client()
    populate(c, big=False)
    want = digest(c)
    assert c.execute_command("DEBUG", "RELOAD") == b"OK"
    assert digest(c) == want
    assert c.ttl("expiring") > 3000
    line = c.execute_command("DEBUG", "OBJECT", "long")
    assert b"serializedlength:" in line
    size = int(line.split(b"serializedlength:")[1].split()[0])
    assert 0 < size < 100  # LZF-compressed 1000 x's
    with pytest.raises(redis.ResponseError, match="DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE"):
        c.execute_command("DEBUG", "RELOAD", "BAD")
    c.set("str", "changed")
    assert c.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert c.get("str") == b"hello"


# ---- Redis's own legacy files (the Redis 7.0 suite's assets, when fetched) ------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = os.path.join(os.environ.get("REDIS_SUITE_DIR", os.path.join(ROOT, "tests", "redis-suite", "redis-7.0.15")),
                      "tests", "assets")


@needs_redis
@pytest.mark.skipif(not os.path.isdir(ASSETS), reason="the Redis test suite tree is not fetched")
@pytest.mark.parametrize("name", ["encodings", "list-quicklist", "hash-ziplist", "hash-zipmap", "zset-ziplist"])
def test_loads_redis_legacy_files_like_redis(name, tmp_path):
    """Old RDB versions with zipmap, ziplist, intset and quicklist v1
    encodings: Stash holds what redis-server 7.0 holds (DEBUG DIGEST)."""
    shutil.copy(os.path.join(ASSETS, name + ".rdb"), tmp_path / "dump.rdb")
    peer = RedisPeer(str(tmp_path))
    try:
        want = digest(peer.client())
    finally:
        peer.stop()
    s = Server("--save", "", "--enable-debug-command", "yes", "--dir", str(tmp_path))
    try:
        c = s.client()
        assert c.dbsize() > 0
        assert digest(c) == want
    finally:
        s.stop()

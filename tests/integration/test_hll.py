"""HYPERLOGLOG family: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST, errors,
sparse/dense encodings, the cached cardinality, events; values (GET bytes),
PFCOUNT results and digests compared with a real redis-server 7.0.15 for the
same inputs (skipped when /usr/bin/redis-server is absent)."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import Raw, RespError, Server, free_port

WRONGTYPE = RespError("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_HLL = RespError("WRONGTYPE Key is not a valid HyperLogLog string value.")
INVALID = RespError("INVALIDOBJ Corrupted HLL object detected")


@pytest.fixture(scope="module")
def server():
    s = Server("--enable-debug-command", "yes", threads=2)
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture(autouse=True)
def flushed(server):
    c = Raw(server.port)
    c.cmd("FLUSHALL")
    c.cmd("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
    c.close()


REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def ref():
    if not os.path.exists(REDIS):
        pytest.skip("no redis-server")
    port = free_port()
    d = tempfile.mkdtemp(prefix="stash-ref-")
    p = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--enable-debug-command", "yes", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    yield port
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


def test_pfadd_pfcount_basics(raw):
    assert raw.cmd("PFADD", "h") == 1  # creates an empty HLL
    assert raw.cmd("PFADD", "h") == 0
    assert raw.cmd("PFCOUNT", "h") == 0
    assert raw.cmd("PFADD", "h", "a", "b", "c") == 1
    assert raw.cmd("PFADD", "h", "a", "b") == 0
    assert raw.cmd("PFADD", "h", "") == 1  # the empty string is an element
    assert raw.cmd("PFCOUNT", "h") == 4
    assert raw.cmd("PFCOUNT", "nokey") == 0
    assert raw.cmd("TYPE", "h") == b"string"
    v = raw.cmd("GET", "h")
    assert v[:4] == b"HYLL" and v[4] == 1  # sparse
    assert raw.cmd("OBJECT", "ENCODING", "h") == b"raw"
    assert raw.cmd("PFADD") == RespError("ERR wrong number of arguments for 'pfadd' command")


def test_cardinality_accuracy(raw):
    for n in (10, 1000, 50000):
        raw.cmd("DEL", "h")
        for i in range(0, n, 1000):
            raw.cmd("PFADD", "h", *["e%d" % j for j in range(i, min(n, i + 1000))])
        c = raw.cmd("PFCOUNT", "h")
        assert abs(c - n) <= max(1, n * 0.05), (n, c)


def test_type_errors(raw):
    raw.cmd("SET", "s", "not an hll")
    raw.cmd("SET", "i", "123")
    raw.cmd("ZADD", "z", "1", "a")
    raw.cmd("PFADD", "h", "a")
    for k in ("s", "i"):
        assert raw.cmd("PFADD", k, "a") == NOT_HLL
        assert raw.cmd("PFCOUNT", k) == NOT_HLL
        assert raw.cmd("PFCOUNT", "h", k) == NOT_HLL
        assert raw.cmd("PFMERGE", k, "h") == NOT_HLL
        assert raw.cmd("PFMERGE", "h", k) == NOT_HLL
    assert raw.cmd("PFADD", "z", "a") == WRONGTYPE
    assert raw.cmd("PFCOUNT", "z") == WRONGTYPE
    assert raw.cmd("PFMERGE", "z", "h") == WRONGTYPE


def test_corrupted_values_are_detected(raw):
    raw.cmd("PFADD", "h", "a", "b", "c")
    raw.cmd("APPEND", "h", "hello")  # extra bytes at the tail of the sparse data
    raw.cmd("PFADD", "h", "x")  # still adds: the opcode found first is fine ...
    assert raw.cmd("PFCOUNT", "h") == INVALID  # ... but the registers do not add up
    raw.cmd("DEL", "h")
    raw.cmd("PFADD", "h", "a")
    raw.cmd("SETRANGE", "h", "0", "0123")
    assert raw.cmd("PFCOUNT", "h") == NOT_HLL
    raw.cmd("DEL", "h")
    raw.cmd("PFADD", "h", "a")
    raw.cmd("SETRANGE", "h", "4", "x")
    assert raw.cmd("PFCOUNT", "h") == NOT_HLL
    raw.cmd("DEL", "h")
    raw.cmd("PFADD", "h", "a")
    raw.cmd("PFDEBUG", "TODENSE", "h")
    raw.cmd("APPEND", "h", "x")  # a dense value of the wrong length
    assert raw.cmd("PFADD", "h", "b") == NOT_HLL


def test_fuzzed_values_never_crash(raw):
    rnd = random.Random(5)
    for _ in range(200):
        raw.cmd("DEL", "h")
        raw.cmd("PFADD", "h", *[str(rnd.random()) for _ in range(rnd.randint(1, 400))])
        for _ in range(rnd.randint(1, 5)):
            n = raw.cmd("STRLEN", "h")
            raw.cmd("SETRANGE", "h", str(rnd.randrange(n)), bytes([rnd.randrange(256)]))
        r1 = raw.cmd("PFCOUNT", "h")
        r2 = raw.cmd("PFADD", "h", "x", "y")
        assert isinstance(r1, (int, RespError)) and isinstance(r2, (int, RespError))
    assert raw.cmd("PING") == b"PONG"


def test_sparse_to_dense_promotion(raw):
    raw.cmd("CONFIG", "SET", "hll-sparse-max-bytes", "200")
    raw.cmd("PFADD", "h", "a")
    assert raw.cmd("PFDEBUG", "ENCODING", "h") == b"sparse"
    for i in range(200):
        raw.cmd("PFADD", "h", "e%d" % i)
    assert raw.cmd("PFDEBUG", "ENCODING", "h") == b"dense"
    assert raw.cmd("STRLEN", "h") == 12304
    assert raw.cmd("CONFIG", "GET", "hll-sparse-max-bytes") == [b"hll-sparse-max-bytes", b"200"]


def test_cache_and_merge(raw):
    raw.cmd("PFADD", "h", "a", "b", "c")
    assert raw.cmd("GETRANGE", "h", "15", "15")[0] & 0x80  # stale after an add
    assert raw.cmd("PFCOUNT", "h") == 3
    assert raw.cmd("GETRANGE", "h", "8", "15") == b"\x03" + b"\x00" * 7  # cached, little-endian
    raw.cmd("PFADD", "h2", "c", "d", "e")
    assert raw.cmd("PFCOUNT", "h", "h2") == 5
    assert raw.cmd("PFMERGE", "m", "h", "h2", "nokey") == b"OK"
    assert raw.cmd("PFCOUNT", "m") == 5
    assert raw.cmd("PFMERGE", "empty") == b"OK"
    assert raw.cmd("PFCOUNT", "empty") == 0
    raw.cmd("PFDEBUG", "TODENSE", "h2")
    raw.cmd("PFMERGE", "m2", "h", "h2")
    assert raw.cmd("PFDEBUG", "ENCODING", "m2") == b"dense"  # a dense input makes a dense result
    assert raw.cmd("PFCOUNT", "m2") == 5


def test_pfdebug_and_selftest(raw):
    raw.cmd("PFADD", "h", "a", "b")
    assert raw.cmd("PFDEBUG", "DECODE", "h").startswith(b"Z:")
    regs = raw.cmd("PFDEBUG", "GETREG", "h")
    assert len(regs) == 16384 and sum(1 for r in regs if r) == 2
    assert raw.cmd("PFDEBUG", "ENCODING", "h") == b"dense"  # GETREG converts
    assert raw.cmd("PFDEBUG", "TODENSE", "h") == 0
    assert raw.cmd("PFDEBUG", "DECODE", "h") == RespError("ERR HLL encoding is not sparse")
    assert raw.cmd("PFDEBUG", "FOO", "h") == RespError("ERR Unknown PFDEBUG subcommand 'FOO'")
    assert raw.cmd("PFDEBUG", "ENCODING", "nokey") == RespError("ERR The specified key does not exist")
    assert raw.cmd("PFSELFTEST") == b"OK"


def test_events_and_watch(raw, make_raw):
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "KEAn")
    sub = make_raw()
    sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
    raw.cmd("PFADD", "h", "a")
    raw.cmd("PFADD", "h", "a")  # no change: no event
    raw.cmd("PFMERGE", "m", "h")
    raw.cmd("PUBLISH", "__keyevent@0__:end", "x")
    got = []
    while True:
        m = sub.read_reply()
        ev = m[2].decode().split(":", 1)[1]
        if ev == "end":
            break
        got.append((ev, m[3]))
    raw.cmd("CONFIG", "SET", "notify-keyspace-events", "")
    assert got == [("new", b"h"), ("pfadd", b"h"), ("new", b"m"), ("pfadd", b"m")]
    # Refreshing the cached cardinality changes the value: WATCH sees it.
    raw.cmd("PFADD", "k", "a", "b")
    w = make_raw()
    w.cmd("WATCH", "k")
    raw.cmd("PFCOUNT", "k")
    w.cmd("MULTI")
    w.cmd("PING")
    assert w.cmd("EXEC") is None


@pytest.mark.parametrize("sparse_max", ["3000", "300"])
def test_same_bytes_counts_and_digests_as_redis(raw, ref, sparse_max):
    red = Raw(ref)
    red.cmd("FLUSHALL")
    for c in (raw, red):
        c.cmd("CONFIG", "SET", "hll-sparse-max-bytes", sparse_max)
    rnd = random.Random(int(sparse_max))
    keys = ["h1", "h2", "h3"]
    for i in range(1500):
        k = rnd.choice(keys)
        c = rnd.randint(0, 9)
        if c < 6:
            cmd = ["PFADD", k] + ["e%d" % rnd.randint(0, 100000) for _ in range(rnd.randint(0, 30))]
        elif c < 8:
            cmd = ["PFCOUNT"] + rnd.sample(keys + ["nokey"], rnd.randint(1, 3))
        elif c == 8:
            cmd = ["PFMERGE", k] + rnd.sample(keys, rnd.randint(0, 3))
        else:
            cmd = ["GET", k]
        assert raw.cmd(*cmd) == red.cmd(*cmd), cmd
    for k in keys:
        assert raw.cmd("GET", k) == red.cmd("GET", k)
        assert raw.cmd("DEBUG", "DIGEST-VALUE", k) == red.cmd("DEBUG", "DIGEST-VALUE", k)
    for n in (1, 100, 5000, 200000):
        for c in (raw, red):
            c.cmd("DEL", "big")
            for i in range(0, n, 2000):
                c.cmd("PFADD", "big", *["x%d" % j for j in range(i, min(n, i + 2000))])
        assert raw.cmd("PFCOUNT", "big") == red.cmd("PFCOUNT", "big"), n
        assert raw.cmd("GET", "big") == red.cmd("GET", "big"), n
    red.close()

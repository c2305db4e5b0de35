"""stash-benchmark end to end: about a second of load against stash-server (the
harness fixture), redis-server and memcached (Debian binaries, started here on
free loopback ports), checking that the summary is well-formed JSON/CSV, that
every request was verified, and that errors, wrong values, lost requests and
broken streams are reported as failures, never as successes.

The binary comes from $STASH_BENCHMARK, else next to $STASH_SERVER's build
(<build>/bench/stash-benchmark).
"""
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BINARY, free_port

BENCH = os.environ.get("STASH_BENCHMARK") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(BINARY))), "bench", "stash-benchmark")

pytestmark = pytest.mark.skipif(not os.access(BENCH, os.X_OK), reason="no stash-benchmark at " + BENCH)


def bench(port, *args, timeout=60, fmt="--json"):
    """Run stash-benchmark; returns (exit code, parsed summary or text, stderr).
    Tests against the shared stash-server take the `r` fixture: it flushes the
    data of earlier tests (values of another size would be mismatches)."""
    cmd = [BENCH, "-p", str(port), "--no-progress"] + ([fmt] if fmt else []) + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode()
    if fmt == "--json" and p.returncode in (0, 2):
        out = json.loads(out)
    return p.returncode, out, p.stderr.decode()


def check_clean(summary, names):
    """Every test ran, and every request was verified."""
    assert [t["name"] for t in summary["tests"]] == names
    for t in summary["tests"]:
        assert t["requests"] > 0, t
        assert t["failures"] == 0 and t["errors"] == 0 and t["mismatches"] == 0 and t["lost"] == 0, t
        assert t["verified"] == t["requests"] == t["ok"] + t["misses"], t
        assert t["rps"] > 0 and t["seconds"] > 0
        lat = t["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], lat
        assert t["curve"][0][0] == 0 and t["curve"][-1][0] == 100
        for op in t["ops"].values():
            assert op["failures"] == 0
    assert summary["total"]["failures"] == 0


class Peer:
    """A peer server binary on a free loopback port, stopped by PID."""

    def __init__(self, argv_fn, probe, expect):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="stash-peer-")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(argv_fn(self.port, self.dir), stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 10
        while time.time() < deadline:
            assert self.proc.poll() is None, open(os.path.join(self.dir, "log")).read()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(probe)
                    if s.recv(100).startswith(expect):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("peer did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_argv(*extra):
    return lambda port, d: ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", d] + list(extra)


@pytest.fixture(scope="module")
def redis_peer():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    p = Peer(redis_argv(), b"PING\r\n", b"+PONG")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def memcached_peer():
    if not shutil.which("memcached"):
        pytest.skip("memcached not installed (scripts/deps.sh test)")
    user = ["-u", "root"] if os.geteuid() == 0 else []
    p = Peer(lambda port, d: ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "2",
                              "-m", "256"] + user, b"version\r\n", b"VERSION")
    yield p
    p.stop()


# ---- against stash-server ------------------------------------------------------

def test_json_summary_against_stash(server, r):
    rc, s, err = bench(server.port, "--duration", 1, "-c", 8, "-P", 4, "-d", 32, "-r", 2000, "--prefill",
                       "-t", "set,get")
    assert rc == 0, err
    assert s["tool"] == "stash-benchmark"
    assert s["config"]["protocol"] == "resp" and s["config"]["pipeline"] == 4
    check_clean(s, ["SET", "GET"])
    assert s["prefill"]["requests"] == 2000 and s["prefill"]["failures"] == 0
    get = s["tests"][1]
    # every key was prefilled: all hits, each compared byte for byte
    assert get["misses"] == 0 and get["checked"] == get["requests"]
    assert r.dbsize() == 2000
    assert r.get("key:000000000007") == b"7:" + bytes(ord("a") + (7 + i) % 26 for i in range(2, 32))


def test_csv_summary_against_stash(server, r):
    rc, out, err = bench(server.port, "--duration", 0.5, "-c", 4, "-t", "set,get", "-d", 10, fmt="--csv")
    assert rc == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["test"] for row in rows] == ["SET", "GET"]
    for row in rows:
        assert float(row["rps"]) > 0
        assert int(row["requests"]) == int(row["verified"]) > 0
        assert int(row["errors"]) == int(row["mismatches"]) == int(row["lost"]) == 0
        assert float(row["p50_ms"]) <= float(row["p99_ms"]) <= float(row["max_ms"])


def test_request_count_is_exact(server, r):
    rc, s, err = bench(server.port, "-n", 1234, "-c", 7, "-P", 16, "--threads", 2, "-t", "get")
    assert rc == 0, err
    assert s["tests"][0]["requests"] == 1234


def test_mixed_ratio_and_zipf(server, r):
    rc, s, err = bench(server.port, "-n", 20000, "-c", 10, "-P", 8, "--threads", 2, "--ratio", "3:1",
                       "--distribution", "zipf:0.99", "-d", 16)
    assert rc == 0, err
    check_clean(s, ["GET:SET=3:1"])
    ops = s["tests"][0]["ops"]
    assert set(ops) == {"GET", "SET"}
    share = ops["GET"]["requests"] / 20000
    assert 0.7 < share < 0.8


def test_error_replies_are_failures(server, r):
    # "mylist" holds a string: every LPUSH is answered WRONGTYPE, none may count as a success.
    r.set("mylist", "not a list")
    rc, s, err = bench(server.port, "-n", 300, "-c", 3, "-t", "lpush", "-P", 3)
    assert rc == 2
    t = s["tests"][0]
    assert t["requests"] == 300 and t["errors"] == 300 and t["failures"] == 300
    assert t["verified"] == 0 and t["rps"] == 0
    assert t["error_samples"][0]["message"].startswith("WRONGTYPE")


def test_wrong_values_are_mismatches(server, r):
    for i in range(10):
        r.set("key:%012d" % i, "not what SET stores")
    rc, s, err = bench(server.port, "-n", 200, "-c", 2, "-r", 10, "-t", "get", "-d", 19)
    assert rc == 2
    t = s["tests"][0]
    assert t["mismatches"] == 200 and t["verified"] == 0
    assert "differs" in t["error_samples"][0]["message"]
    # types only: the same replies pass
    rc, s, err = bench(server.port, "-n", 200, "-c", 2, "-r", 10, "-t", "get", "--no-verify-content")
    assert rc == 0 and s["tests"][0]["ok"] == 200


def test_refuses_non_loopback_targets():
    rc, out, err = bench(6379, "-h", "192.0.2.1", "-n", 1, fmt=None)
    assert rc == 1 and "--allow-remote" in err
    rc, out, err = bench(6379, "-h", "127.0.0.1", "-n", 1, "--bogus", fmt=None)
    assert rc == 1


def test_rejects_bad_options(server):
    for args in (["-t", "nope"], ["--distribution", "zipf:0"], ["--protocol", "memcache-text", "-t", "lpush"],
                 ["-P", "0"], ["--ratio", "x"]):
        rc, out, err = bench(server.port, *args, fmt=None)
        assert rc == 1 and err.startswith("stash-benchmark: "), (args, err)


# ---- fake servers: silence and garbage ----------------------------------------------

class FakeServer:
    """Accepts connections; answers nothing ('silent') or garbage."""

    def __init__(self, mode):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.mode = mode
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.1)
        deadline = time.time() + 30
        while not self.stop and time.time() < deadline:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.conns.append(c)
            if self.mode == "garbage":
                c.sendall(b"?garbage\r\n")

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


def test_silent_server_requests_are_lost():
    fake = FakeServer("silent")
    try:
        t0 = time.time()
        rc, s, err = bench(fake.port, "-n", 100, "-c", 2, "-P", 3, "--timeout", 0.5, "-t", "get")
        assert time.time() - t0 < 10
        assert rc == 2
        t = s["tests"][0]
        assert t["lost"] == 6 and t["failures"] == 6 and t["verified"] == 0
        assert "timeout" in t["error_samples"][0]["message"]
    finally:
        fake.close()


def test_garbage_is_a_protocol_error():
    fake = FakeServer("garbage")
    try:
        rc, s, err = bench(fake.port, "-n", 10, "-c", 1, "-t", "get", "--timeout", 2)
        assert rc == 2
        t = s["tests"][0]
        assert t["protocol_errors"] == 1 and t["verified"] == 0 and t["failures"] >= 1
    finally:
        fake.close()


# ---- against redis-server ----------------------------------------------------

def test_resp_commands_against_redis(redis_peer):
    tests = "ping,set,get,mset,mget,incr,lpush,rpush,lrange_10,lpop,rpop,sadd,spop,hset,zadd,zpopmin"
    rc, s, err = bench(redis_peer.port, "--duration", 0.1, "-c", 10, "-P", 4, "-d", 24, "-r", 1000,
                       "--multi", 5, "-t", tests)
    assert rc == 0, err
    check_clean(s, tests.upper().split(","))


def test_pipelined_set_get_against_redis(redis_peer):
    rc, s, err = bench(redis_peer.port, "--duration", 1, "-c", 50, "-P", 16, "-d", 32, "-r", 10000,
                       "--prefill", "-t", "set,get")
    assert rc == 0, err
    check_clean(s, ["SET", "GET"])
    assert s["tests"][1]["checked"] == s["tests"][1]["requests"]


def test_auth_and_resp3_against_redis():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    p = Peer(redis_argv("--requirepass", "s3cret"), b"PING\r\n", b"-NOAUTH")
    try:
        rc, s, err = bench(p.port, "-n", 1000, "-c", 4, "-a", "s3cret", "--resp3", "-t", "set,get,mget")
        assert rc == 0, err
        check_clean(s, ["SET", "GET", "MGET"])
        rc, s, err = bench(p.port, "-n", 1000, "-c", 4, "-a", "s3cret", "--user", "default", "--dbnum", 3,
                           "-t", "set")
        assert rc == 0, err
        rc, out, err = bench(p.port, "-n", 10, "-a", "wrong", fmt=None)
        assert rc == 1 and "WRONGPASS" in err
        rc, s, err = bench(p.port, "-n", 10, "-c", 1, "-t", "get")  # no AUTH: every reply an error
        assert rc == 2 and s["tests"][0]["errors"] == 10
    finally:
        p.stop()


def test_tls_against_redis():
    if not shutil.which("redis-server") or not shutil.which("openssl"):
        pytest.skip("redis-server or openssl missing")
    d = tempfile.mkdtemp(prefix="stash-tls-")
    try:
        crt, key = os.path.join(d, "c.crt"), os.path.join(d, "c.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
        tls_port = free_port()
        p = Peer(redis_argv("--tls-port", str(tls_port), "--tls-cert-file", crt, "--tls-key-file", key,
                            "--tls-ca-cert-file", crt, "--tls-auth-clients", "no"),
                 b"PING\r\n", b"+PONG")
        try:
            rc, s, err = bench(tls_port, "--tls", "-n", 3000, "-c", 5, "-P", 8, "-d", 100, "-t", "set,get")
            assert rc == 0, err
            check_clean(s, ["SET", "GET"])
            assert s["config"]["tls"] is True
            rc, s, err = bench(tls_port, "--tls", "--tls-verify", "--cacert", crt, "-n", 100, "-t", "get",
                               "-d", 100)
            assert rc == 0, err
            rc, s, err = bench(tls_port, "--tls", "--tls-verify", "-n", 100, "-t", "get", fmt=None)
            assert rc == 1 and "TLS handshake failed" in err  # unknown CA
        finally:
            p.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- against memcached -------------------------------------------------------------

@pytest.mark.parametrize("proto", ["memcache-text", "memcache-meta"])
def test_memcached_protocols(memcached_peer, proto):
    rc, s, err = bench(memcached_peer.port, "--protocol", proto, "--duration", 0.5, "-c", 20, "-P", 8,
                       "-d", 32, "-r", 5000, "--prefill", "-t", "set,get,mget", "--threads", 2)
    assert rc == 0, err
    assert s["config"]["protocol"] == proto
    check_clean(s, ["SET", "GET", "MGET"])
    assert s["prefill"]["failures"] == 0
    for t in s["tests"][1:]:
        assert t["misses"] == 0 and t["checked"] == t["requests"]


def test_memcached_wrong_value_is_a_mismatch(memcached_peer):
    with socket.create_connection(("127.0.0.1", memcached_peer.port)) as c:
        c.sendall(b"set key:000000000000 0 0 3\r\nbad\r\n")
        assert c.recv(100) == b"STORED\r\n"
    rc, s, err = bench(memcached_peer.port, "--protocol", "memcache-text", "-n", 50, "-c", 1, "-r", 1,
                       "-t", "get", "-d", 3)
    assert rc == 2 and s["tests"][0]["mismatches"] == 50


def test_summary_on_text_output(memcached_peer):
    rc, out, err = bench(memcached_peer.port, "--protocol", "memcache-meta", "-n", 500, "-t", "set",
                         fmt=None)
    assert rc == 0, err
    assert "====== SET ======" in out and "failures: 0" in out and "requests/s" in out

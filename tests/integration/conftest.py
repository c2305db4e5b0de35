"""Integration test harness: a real stash-server on a free loopback port.

Fixtures
  server      a running stash-server (module scope), with .port, .pid, .log()
  r           a redis-py client (RESP2, decode_responses=False), flushed
  r3          a redis-py client speaking RESP3
  raw         a raw-socket client for protocol edge cases: raw.send(b"..."),
              raw.read_reply() (parses one RESP reply), raw.read_exactly(n)

The binary comes from $STASH_SERVER (default: build/src/stash-server).
Servers are stopped by PID; nothing but loopback is ever used.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("STASH_SERVER", os.path.join(ROOT, "build", "src", "stash-server"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *args, threads=2, port=None, dir=None, logname="stash.log"):
        """`port` and `dir` restart a server in place (a new `logname` keeps
        the previous run's log)."""
        self.port = port or free_port()
        self.dir = dir or tempfile.mkdtemp(prefix="stash-test-")
        self.logfile = os.path.join(self.dir, logname)
        cmd = [BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--threads", str(threads),
               "--dir", self.dir] + list(args)
        self.log_fp = open(self.logfile, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log_fp, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("stash-server exited: " + self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("stash-server did not start: " + self.log())

    def log(self):
        with open(self.logfile) as f:
            return f.read()

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10, **kw)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, expect_clean=True):
        killed = False
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
                killed = True
        self.log_fp.close()
        # Sanitizer builds report errors (leaks included) on exit: surface them.
        text = self.log()
        assert "ERROR: AddressSanitizer" not in text, text
        assert "ERROR: LeakSanitizer" not in text, text
        assert "runtime error:" not in text, text
        assert "WARNING: ThreadSanitizer" not in text, text
        if expect_clean:
            assert not killed, "did not exit on SIGTERM: " + text[-2000:]
            assert self.proc.returncode == 0, "exit status %s: %s" % (self.proc.returncode, text[-2000:])


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.alive(), "server died: " + s.log()
    s.stop()


@pytest.fixture
def r(server):
    c = server.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def r3(server):
    c = server.client(protocol=3)
    c.flushall()
    yield c
    c.close()


class Raw:
    """A raw RESP connection for byte-exact protocol tests."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.send(out)
        return self.read_reply()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exactly(self, n):
        if len(self.buf) < n:
            # Collect chunks in a list: appending to bytes is quadratic.
            parts, have = [self.buf], len(self.buf)
            while have < n:
                chunk = self.sock.recv(max(65536, min(n - have, 1 << 24)))
                if not chunk:
                    raise ConnectionError("closed")
                parts.append(chunk)
                have += len(chunk)
            self.buf = b"".join(parts)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_reply(self):
        """One reply: bytes for simple/bulk, int, list, None, or an
        Exception instance for errors (RESP3 types too)."""
        line = self.read_line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$" or t == b"=":
            n = int(rest)
            if n < 0:
                return None
            data = self.read_exactly(n + 2)[:-2]
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            return [self.read_reply() for _ in range(n)]
        if t == b"%":
            n = int(rest)
            return {self._key(self.read_reply()): self.read_reply() for _ in range(n)}
        if t == b"_":
            return None
        if t == b",":
            return float(rest)
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return int(rest)
        raise AssertionError("bad reply type: %r" % line)

    @staticmethod
    def _key(k):
        return tuple(k) if isinstance(k, list) else k

    def closed(self, timeout=2.0):
        """True if the server closed the connection (after draining)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class RespError(Exception):
    def __eq__(self, other):
        return isinstance(other, RespError) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


@pytest.fixture
def raw(server):
    c = Raw(server.port)
    yield c
    c.close()


@pytest.fixture
def make_raw(server):
    conns = []

    def make():
        c = Raw(server.port)
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()

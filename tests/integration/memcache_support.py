"""Helpers of the memcached engine tests (test_memcache_*.py).

McServer starts `stash-server --engine memcached` (memcached's command
line) on free loopback ports; with MC_REFERENCE=1 in the environment the
same tests start the real memcached binary instead (Debian's memcached
1.6.18), which is how their expectations were checked byte for byte.
Tests of Stash-only behaviour (the Redis side of the shared keyspace, the
documented deviations) are marked with @stash_only.

McRaw is a raw connection: send bytes, read lines or exact byte counts,
see whether the server closed the connection.
"""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("STASH_SERVER", os.path.join(ROOT, "build", "src", "stash-server"))
REFERENCE = os.environ.get("MC_REFERENCE") == "1"
MEMCACHED = os.environ.get("MEMCACHED", "/usr/bin/memcached")

stash_only = pytest.mark.skipif(REFERENCE, reason="Stash-only behaviour")


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports():
    """A port free for both TCP and UDP."""
    for _ in range(50):
        p = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port")


def engine_cmd(args):
    """The command line of a memcached-engine server with memcached's args."""
    if REFERENCE:
        return [MEMCACHED] + list(args)
    return [BINARY, "--engine", "memcached"] + list(args)


def run_cli(args, timeout=10):
    """Run the engine's command line to completion (help, errors...)."""
    p = subprocess.run(engine_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class McServer:
    def __init__(self, *args, threads=2, udp=False, unix=None, tcp=True, listen="127.0.0.1", wait=True):
        self.port = free_ports() if (tcp or udp) else 0
        self.udp_port = self.port if udp else 0
        self.unix = unix
        self.dir = tempfile.mkdtemp(prefix="stash-mc-")
        self.logfile = os.path.join(self.dir, "server.log")
        cmd = ["-u", "root", "-t", str(threads)]
        if unix:
            cmd += ["-s", unix]
        else:
            cmd += ["-p", str(self.port if tcp else 0), "-U", str(self.udp_port), "-l", listen]
        self.cmd = engine_cmd(cmd + list(args))
        self.log_fp = open(self.logfile, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log_fp, stderr=subprocess.STDOUT, cwd=self.dir)
        self.pid = self.proc.pid
        if wait:
            self.wait_ready()

    def wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log())
            try:
                self.connect().close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("server did not start: " + self.log())

    def connect(self, timeout=10):
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.unix)
            return s
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def raw(self):
        return McRaw(self.connect())

    def client(self, **kw):
        from pymemcache.client.base import Client

        if self.unix:
            return Client(self.unix, timeout=10, **kw)
        return Client(("127.0.0.1", self.port), timeout=10, **kw)

    def log(self):
        with open(self.logfile) as f:
            return f.read()

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
        text = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer"):
            assert marker not in text, text
        if expect_clean and not REFERENCE:
            assert not killed, "did not exit on SIGTERM: " + text[-2000:]
            assert self.proc.returncode == 0, "exit status %s: %s" % (self.proc.returncode, text[-2000:])


class McRaw:
    """A raw connection for byte-exact protocol tests."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def expect(self, data):
        """Read exactly len(data) bytes and check they are data."""
        got = self.read(len(data))
        assert got == data, "got %r, want %r" % (got, data)

    def cmd(self, data, lines=1):
        """Send data, return the next `lines` reply lines joined."""
        self.send(data)
        return b"".join(self.readline() for _ in range(lines))

    def until(self, end=b"END\r\n"):
        while not self.buf.endswith(end) and end not in self.buf:
            self._fill()
        i = self.buf.index(end) + len(end)
        data, self.buf = self.buf[:i], self.buf[i:]
        return data

    def nothing(self, wait=0.2):
        """No reply bytes arrive within `wait` seconds (noreply)."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            chunk = None
        finally:
            self.sock.settimeout(10)
        if chunk is None:
            return self.buf == b""
        self.buf += chunk
        return False

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
        finally:
            self.sock.settimeout(10)

    def close(self):
        self.sock.close()


def stats(raw, arg=b""):
    """`stats [arg]` as a dict of bytes -> bytes."""
    raw.send(b"stats" + (b" " + arg if arg else b"") + b"\r\n")
    out = {}
    while True:
        line = raw.readline()
        if line == b"END\r\n":
            return out
        assert line.startswith(b"STAT "), line
        _, name, value = line[:-2].split(b" ", 2)
        out[name] = value


# ---- binary protocol -----------------------------------------------------------------------------

def bin_req(op, key=b"", val=b"", ext=b"", cas=0, opaque=0, magic=0x80):
    return struct.pack(">BBHBBHIIQ", magic, op, len(key), len(ext), 0, 0, len(ext) + len(key) + len(val),
                       opaque, cas) + ext + key + val


def bin_read(raw):
    """One response packet: dict(magic, op, status, ext, key, value, opaque, cas)."""
    head = raw.read(24)
    magic, op, kl, el, dt, st, bl, opq, cas = struct.unpack(">BBHBBHIIQ", head)
    body = raw.read(bl)
    return dict(magic=magic, op=op, status=st, ext=body[:el], key=body[el:el + kl], value=body[el + kl:],
                opaque=opq, cas=cas, datatype=dt)

"""Shared pieces of the benchmark scripts (bench/suite.py, bench/agreement.py).

Servers (stash-server, redis-server, memcached) are started on free loopback
ports, optionally pinned with taskset, checked with a real request before use,
and stopped by PID. stash-benchmark is run with --json and its summary parsed.
Every wait here is bounded.
"""
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ncpu():
    return len(os.sched_getaffinity(0))


def need(binary):
    path = shutil.which(binary)
    if not path:
        raise SystemExit("%s not found: run bench/run.sh (installs the peers) or scripts/deps.sh test"
                         % binary)
    return path


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class Server:
    """A server process. kind: 'stash', 'redis', 'memcached' or 'stash-mc' (stash-server
    --engine memcached, when the build has that engine)."""

    def __init__(self, name, kind, binary, threads=1, cpus=None, extra=(), valgrind=None):
        self.name, self.kind, self.binary = name, kind, binary
        self.threads, self.cpus, self.extra = threads, cpus, list(extra)
        self.valgrind = valgrind  # list of valgrind arguments, or None
        self.proto = "memcache-text" if kind in ("memcached", "stash-mc") else "resp"
        self.proc = None
        self.port = None
        self.dir = None

    def argv(self):
        p = str(self.port)
        if self.kind == "stash":
            cmd = [self.binary, "--port", p, "--bind", "127.0.0.1", "--threads", str(self.threads),
                   "--save", "", "--dir", self.dir]  # no snapshots, as the redis-server below
        elif self.kind == "redis":
            cmd = [self.binary, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", self.dir]
        elif self.kind == "stash-mc":  # Stash's memcached engine, memcached's options
            cmd = [self.binary, "--engine", "memcached", "-l", "127.0.0.1", "-p", p, "-U", "0",
                   "-t", str(self.threads), "-m", "4096"]
            if os.geteuid() == 0:  # as memcached: root needs -u
                cmd += ["-u", "root"]
        else:
            cmd = [self.binary, "-l", "127.0.0.1", "-p", p, "-U", "0", "-t", str(self.threads),
                   "-m", "4096"]
            if os.geteuid() == 0:
                cmd += ["-u", "root"]
            if self.valgrind is not None:
                # memcached sets the open-file limit to exactly -c, and valgrind
                # accepts only its own limit: the soft limit less 12 it keeps
                cmd += ["-c", str(resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 12)]
        cmd += self.extra
        if self.valgrind is not None:
            cmd = ["valgrind"] + self.valgrind + cmd
        elif self.cpus is not None:
            cmd = ["taskset", "-c", self.cpus] + cmd
        return cmd

    def start(self, timeout=10):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="stash-bench-")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.name, self.read_log()))
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not answer within %d s" % (self.name, timeout))

    def request(self, payload, until, timeout=5.0):
        """Send payload, read until the reply ends with `until`."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(payload)
            data = b""
            deadline = time.time() + timeout
            while not data.endswith(until) and time.time() < deadline and len(data) < 1 << 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data

    def ping(self):
        try:
            if self.proto == "resp":
                return self.request(b"PING\r\n", b"\r\n", 1.0).startswith(b"+PONG")
            return self.request(b"version\r\n", b"\r\n", 1.0).startswith(b"VERSION")
        except OSError:
            return False

    def info_field(self, section, field):
        """An INFO field (RESP) or a stats field (memcached), as a number."""
        if self.proto == "resp":
            text = self.info_text(section)
            prefix = field + ":"
        else:
            text = self.request(b"stats\r\n", b"END\r\n").decode(errors="replace")
            prefix = "STAT " + field + " "
        for line in text.splitlines():
            if line.startswith(prefix):
                try:
                    return float(line[len(prefix):].strip())
                except ValueError:
                    return None
        return None

    def info_text(self, section, timeout=5.0):
        """The bulk reply of INFO <section>, read to its announced length."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(b"INFO %s\r\n" % section.encode())
            data = b""
            deadline = time.time() + timeout
            want = None
            while time.time() < deadline and len(data) < 1 << 22:
                if want is None and b"\r\n" in data:
                    want = data.index(b"\r\n") + 2 + int(data[1:data.index(b"\r\n")]) + 2
                if want is not None and len(data) >= want:
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.dir:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def flush(server):
    if server.proto == "resp":
        server.request(b"FLUSHALL\r\n", b"\r\n", 30)
    else:
        server.request(b"flush_all\r\n", b"\r\n", 30)


def run_sb(sb, server, args, cpus=None, timeout=600, proto=None):
    """Run stash-benchmark against server with --json; returns (summary, exit code, client CPU s).
    Exit code 2 means the run had failures (errors, mismatches, lost requests)."""
    cmd = [sb, "-p", str(server.port), "--protocol", proto or server.proto, "--json", "-q",
           "--no-progress"]
    cmd += [str(a) for a in args]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    c0 = children_cpu()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    c1 = children_cpu()
    if p.returncode not in (0, 2):
        raise RuntimeError("stash-benchmark failed (%d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                                     p.stderr.decode()[-2000:]))
    return json.loads(p.stdout), p.returncode, c1 - c0


def run_redis_benchmark(server, args, cpus=None, timeout=600):
    """Run redis-benchmark --csv; returns ({test: row dict}, client CPU s)."""
    cmd = ["redis-benchmark", "-p", str(server.port), "--csv"] + [str(a) for a in args]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    c0 = children_cpu()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    c1 = children_cpu()
    if p.returncode != 0:
        raise RuntimeError("redis-benchmark failed: %s" % p.stderr.decode()[-2000:])
    rows = {}
    lines = [l.replace('"', "").split(",") for l in p.stdout.decode().splitlines() if l.strip()]
    header = lines[0]
    for l in lines[1:]:
        rows[l[0]] = dict(zip(header, l))
    return rows, c1 - c0

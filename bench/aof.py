#!/usr/bin/python3
"""The append-only file, Stash vs redis-server 7.0, side by side.

    bench/aof.py [--rounds 3] [--requests 200000] [--keys 500000] [--out bench/results/aof.md]

For each server, alternating within a round (order rotating between rounds),
each started fresh with `appendonly yes` on a fresh directory, pinned to CPU 1
(`taskset`; Stash with one worker thread, its AOF threads share that CPU as
Redis's bio threads do), redis-benchmark pinned to CPU 0:

  set_everysec   SET throughput, p99 and server CPU per request (utime+stime
                 of every thread of the server / requests), appendfsync
                 everysec
  set_always     SET throughput and p99, appendfsync always (every reply
                 after its fsync: Stash holds replies, Redis writes and
                 fsyncs before its event loop replies)
  p99 during rewrite
                 with `keys` keys loaded (DEBUG POPULATE, 100-byte values),
                 p99 of GET and SET (redis-benchmark -t get,set) without and
                 while BGREWRITEAOFs run back to back (everysec)

All runs: 50 connections, 32-byte values, 100k random keys, -P 1. Figures
are medians over the rounds; ratios are Stash / Redis (throughput: above 1
is better; latency: below 1 is better). Only loopback traffic; servers are
stopped by PID.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Srv:
    def __init__(self, name, binary, policy):
        self.name, self.binary, self.policy = name, binary, policy
        self.dir = tempfile.mkdtemp(prefix="stash-aof-bench-")
        self.port = free_port()
        args = ["taskset", "-c", "1", binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes", "--appendfsync", policy, "--enable-debug-command", "yes",
                "--auto-aof-rewrite-percentage", "0"]
        if name == "stash":
            args += ["--threads", "1"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid  # taskset execs the server: same process
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.client().info("persistence")["loading"] == 0:
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not start" % name)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=600)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def benchmark(port, n, tests):
    out = subprocess.run(["taskset", "-c", "0", "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50",
                          "-n", str(n), "-r", "100000", "-d", "32", "-t", tests, "--csv"],
                         capture_output=True, text=True, timeout=900).stdout
    res = {}
    for line in out.splitlines():
        cols = [x.strip('"') for x in line.split(",")]
        if cols[0] in ("SET", "GET"):
            res[cols[0]] = (float(cols[1]), float(cols[6]))  # rps, p99 ms
    return res


def rewrite_done(c):
    i = c.info("persistence")
    return i["aof_rewrite_in_progress"] == 0 and i["aof_rewrite_scheduled"] == 0


def one(name, binary, requests, keys):
    r = {}
    for policy in ("everysec", "always"):
        s = Srv(name, binary, policy)
        try:
            c0 = cpu_s(s.pid)
            rps, p99 = benchmark(s.port, requests, "set")["SET"]
            r["set_" + policy] = (rps, p99, (cpu_s(s.pid) - c0) * 1e6 / requests)
        finally:
            s.stop()
    s = Srv(name, binary, "everysec")
    try:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", keys, "key", 100)
        c.bgrewriteaof()
        while not rewrite_done(c):
            time.sleep(0.01)
        r["quiet"] = benchmark(s.port, requests, "get,set")
        stop = threading.Event()
        rewrites = [0]

        def rewriter():
            c2 = s.client()
            while not stop.is_set():
                try:
                    c2.bgrewriteaof()
                    rewrites[0] += 1
                except redis.ResponseError:
                    pass
                while not rewrite_done(c2) and not stop.is_set():
                    time.sleep(0.005)

        t = threading.Thread(target=rewriter)
        t.start()
        r["rewrite"] = benchmark(s.port, requests, "get,set")
        stop.set()
        t.join()
        r["rewrites"] = rewrites[0]
    finally:
        s.stop()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--keys", type=int, default=500000)
    ap.add_argument("--stash", default=os.path.join(HERE, "..", "build", "src", "stash-server"))
    ap.add_argument("--out", default=None, help="also write the Markdown table there")
    a = ap.parse_args()
    servers = [("stash", a.stash), ("redis", shutil.which("redis-server"))]
    runs = {"stash": [], "redis": []}
    load0 = os.getloadavg()[0]
    for rnd in range(a.rounds):
        order = servers if rnd % 2 == 0 else servers[::-1]
        for name, binary in order:
            runs[name].append(one(name, binary, a.requests, a.keys))

    def med(name, key, op=None, idx=0):
        vals = [r[key][op][idx] if op else r[key][idx] for r in runs[name]]
        return statistics.median(vals)

    lines = ["Measured %s, %d round(s), load average %.1f at the start; `bench/aof.py --rounds %d --requests %d "
             "--keys %d`. Servers pinned to CPU 1 (Stash: `--threads 1`), redis-benchmark to CPU 0; 50 "
             "connections, 32-byte values, -P 1. Ratios: Stash / Redis." %
             (time.strftime("%Y-%m-%d"), a.rounds, load0, a.rounds, a.requests, a.keys), "",
             "| test | Stash | redis-server 7.0 | Stash/Redis |", "|---|---:|---:|---:|"]
    for policy in ("everysec", "always"):
        k = "set_" + policy
        s, r = med("stash", k, idx=0), med("redis", k, idx=0)
        lines.append("| SET rps, appendfsync %s | %.0f | %.0f | %.2f |" % (policy, s, r, s / r))
        s, r = med("stash", k, idx=1), med("redis", k, idx=1)
        lines.append("| SET p99 ms, appendfsync %s | %.3f | %.3f | %.2f |" % (policy, s, r, s / r))
        s, r = med("stash", k, idx=2), med("redis", k, idx=2)
        lines.append("| SET server CPU us/request, appendfsync %s | %.2f | %.2f | %.2f |" % (policy, s, r, s / r))
    for when, label in (("quiet", "no rewrite"), ("rewrite", "BGREWRITEAOF running")):
        for op in ("GET", "SET"):
            s, r = med("stash", when, op, 1), med("redis", when, op, 1)
            lines.append("| %s p99 ms, %s (%d keys) | %.3f | %.3f | %.2f |" % (op, label, a.keys, s, r, s / r))
    lines.append("")
    lines.append("Rewrites completed during the measured run (median): Stash %d, Redis %d." %
                 (statistics.median(r["rewrites"] for r in runs["stash"]),
                  statistics.median(r["rewrites"] for r in runs["redis"])))
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

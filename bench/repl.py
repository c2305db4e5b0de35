#!/usr/bin/python3
"""Replication, Stash -> Stash vs redis-server 7.0 -> redis-server 7.0, side by side.

    bench/repl.py [--keys 1000000] [--value 100] [--requests 300000] [--rounds 3]
                  [--stash build/src/stash-server] [--out results/repl.md]

For each pair of servers (a primary and its replicas of the same kind), in
turn, on the same machine:
  full_sync_s   a full resynchronization of `keys` keys (DEBUG POPULATE,
                `value`-byte values): wall time from REPLICAOF to the
                replica's master_link_status:up, with diskless sync (the
                default of both) and with a disk snapshot (repl-diskless-sync
                no); median of `rounds`
  set_rps_N     SET throughput of the primary (redis-benchmark -t set, 50
                connections, pipeline 16, random keys) with N = 0, 1 and 5
                replicas attached and streaming; median of `rounds`
Prints a Markdown table with the Stash/Redis ratios (and writes it to
--out). Everything runs on loopback; every server is stopped by PID.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Srv:
    def __init__(self, kind, binary, root):
        self.kind, self.binary = kind, binary
        self.dir = tempfile.mkdtemp(prefix="repl-bench-", dir=root)
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--logfile", os.path.join(self.dir, "log"), "--enable-debug-command", "yes",
                "--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64mb"]
        if kind == "redis":
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=600)
        deadline = time.time() + 30
        while True:
            try:
                self.c.ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def link_up(c):
    return c.info("replication").get("master_link_status") == "up"


def replicate(replica, primary, timeout=600):
    t0 = time.time()
    replica.c.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))
    while not link_up(replica.c):
        if time.time() - t0 > timeout:
            raise RuntimeError("no sync within %ds" % timeout)
        time.sleep(0.01)
    return time.time() - t0


def caught_up(primary, replicas, timeout=120):
    t0 = time.time()
    while True:
        off = primary.c.info("replication")["master_repl_offset"]
        if all(r.c.info("replication")["master_repl_offset"] == off for r in replicas):
            return
        if time.time() - t0 > timeout:
            raise RuntimeError("replicas did not catch up")
        time.sleep(0.05)


def set_rps(port, requests):
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set", "-n", str(requests),
                          "-c", "50", "-P", "16", "-r", "1000000", "-d", "32", "-q", "--csv"],
                         capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        if line.startswith('"SET"'):
            return float(line.split(",")[1].strip('"'))
    raise RuntimeError("redis-benchmark: " + out)


def bench_kind(kind, binary, a, root):
    res = {}
    # Full syncs of `keys` keys, diskless then disk.
    for mode in ("yes", "no"):
        times = []
        for _ in range(a.rounds):
            p = Srv(kind, binary, root)
            r = Srv(kind, binary, root)
            try:
                p.c.config_set("repl-diskless-sync", mode)
                p.c.execute_command("DEBUG", "POPULATE", a.keys, "key", a.value)
                times.append(replicate(r, p))
                assert r.c.dbsize() == a.keys
            finally:
                r.stop()
                p.stop()
        res["full_sync_%s" % ("diskless" if mode == "yes" else "disk")] = statistics.median(times)
    # SET throughput with 0, 1, 5 replicas.
    for n in (0, 1, 5):
        rps = []
        for _ in range(a.rounds):
            p = Srv(kind, binary, root)
            reps = [Srv(kind, binary, root) for _ in range(n)]
            try:
                for r in reps:
                    replicate(r, p)
                rps.append(set_rps(p.port, a.requests))
                caught_up(p, reps)
            finally:
                for r in reps:
                    r.stop()
                p.stop()
        res["set_rps_%d" % n] = statistics.median(rps)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--rounds", type=int, default=3)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--stash", default=os.path.join(here, "..", "build", "src", "stash-server"))
    ap.add_argument("--out", default=os.path.join(here, "results", "repl.md"))
    a = ap.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        sys.exit("needs redis-server and redis-benchmark (redis-tools)")
    root = tempfile.mkdtemp(prefix="repl-bench-")
    try:
        stash = bench_kind("stash", a.stash, a, root)
        red = bench_kind("redis", shutil.which("redis-server"), a, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = [("full sync of %d keys, diskless (s)" % a.keys, "full_sync_diskless", False),
            ("full sync of %d keys, disk (s)" % a.keys, "full_sync_disk", False),
            ("SET/s, no replica", "set_rps_0", True),
            ("SET/s, 1 replica", "set_rps_1", True),
            ("SET/s, 5 replicas", "set_rps_5", True)]
    lines = ["| %s | Stash | Redis 7.0 | Stash/Redis |" % "measure", "|---|---:|---:|---:|"]
    for label, key, higher_better in rows:
        s, r = stash[key], red[key]
        fmt = "%.0f" if higher_better else "%.2f"
        lines.append("| %s | %s | %s | %.2f |" % (label, fmt % s, fmt % r, s / r if r else 0))
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("# Replication: Stash -> Stash vs redis-server 7.0 -> redis-server 7.0\n\n")
        f.write("`bench/repl.py --keys %d --value %d --requests %d --rounds %d` on %d CPUs "
                "(primary, replicas and redis-benchmark share them; medians).\n\n"
                % (a.keys, a.value, a.requests, a.rounds, os.cpu_count()))
        f.write(text)


if __name__ == "__main__":
    main()

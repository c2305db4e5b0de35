#!/usr/bin/python3
"""Snapshots, Stash vs redis-server 7.0, side by side.

    bench/persist.py [--keys 1000000] [--value 100] [--stash build/src/stash-server]

For each server, in turn, on the same machine:
  bgsave_s      BGSAVE of `keys` keys (DEBUG POPULATE, `value`-byte values):
                wall time from the command to rdb_bgsave_in_progress:0
  load_s        start-up on that dump.rdb: the server's own
                "DB loaded from disk: N seconds" log line
  rss_peak_mb   peak memory of the server's processes (PSS of the server
                and its fork child, /proc/*/smaps_rollup) while a BGSAVE
                runs under a SET load (redis-benchmark, random keys over
                the whole key space), minus the memory before the BGSAVE
  p99 get/set   redis-benchmark p99 (ms) of GET and SET, without and while
                BGSAVEs run back to back
Placement (2-CPU machines): both servers pinned to CPU 1 (`taskset`; Stash
with one worker thread, its snapshot thread sharing that CPU as Redis's fork
child does), redis-benchmark pinned to CPU 0; --no-pin leaves them free.
Prints a Markdown table with Stash/Redis ratios (--out also writes it, with
a header line, for RESULTS.md). Only loopback traffic; all servers are
stopped by PID.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pss_kb(pid):
    """PSS of pid and its children (Redis's fork child), in KiB."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


PIN_SERVER, PIN_CLIENT = ["taskset", "-c", "1"], ["taskset", "-c", "0"]


class Srv:
    def __init__(self, name, binary, d):
        self.name, self.binary, self.dir = name, binary, d
        self.proc = None

    def start(self):
        self.port = free_port()
        self.log = os.path.join(self.dir, "server.log")
        args = PIN_SERVER + [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--logfile", self.log, "--enable-debug-command", "yes"]
        if self.name == "redis":
            args += ["--appendonly", "no"]
        elif PIN_SERVER:
            args += ["--threads", "1"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c = self.client()
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if c.info("persistence")["loading"] == 0:
                    return c
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not start" % self.name)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=300)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=120)


def wait_bgsave(c):
    while c.info("persistence")["rdb_bgsave_in_progress"]:
        time.sleep(0.005)


def bench_p99(port, n, extra=()):
    out = subprocess.run(PIN_CLIENT + ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(n),
                          "-r", "1000000", "-d", "32", "-t", "get,set", "--csv"] + list(extra),
                         capture_output=True, text=True, timeout=600).stdout
    res = {}
    for line in out.splitlines():
        cols = [x.strip('"') for x in line.split(",")]
        if cols[0] in ("SET", "GET"):
            res[cols[0]] = float(cols[6])  # rps, avg, min, p50, p95, p99 -> index 6 is p99
    return res


def run(name, binary, keys, value):
    d = tempfile.mkdtemp(prefix="stash-persist-bench-")
    s = Srv(name, binary, d)
    r = {}
    try:
        c = s.start()
        c.execute_command("DEBUG", "POPULATE", keys, "key", value)
        t0 = time.time()
        c.bgsave()
        wait_bgsave(c)
        r["bgsave_s"] = time.time() - t0
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
        r["file_mb"] = os.path.getsize(os.path.join(d, "dump.rdb")) / 1e6
        s.stop()
        c = s.start()
        text = open(s.log).read()
        m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", text)
        r["load_s"] = float(m[-1]) if m else float("nan")
        assert c.dbsize() == keys
        # Peak memory during a BGSAVE under writes.
        base = pss_kb(s.proc.pid)
        stop = threading.Event()
        load = subprocess.Popen(PIN_CLIENT + ["redis-benchmark", "-h", "127.0.0.1", "-p", str(s.port), "-c", "20", "-n",
                                 "100000000", "-r", str(keys), "-d", str(value), "-t", "set", "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        peak = pss_kb(s.proc.pid)
        c.bgsave()
        while c.info("persistence")["rdb_bgsave_in_progress"]:
            peak = max(peak, pss_kb(s.proc.pid))
            time.sleep(0.01)
        peak = max(peak, pss_kb(s.proc.pid))
        load.terminate()
        load.wait()
        r["rss_peak_mb"] = (peak - base) / 1024.0
        # Latency without and with BGSAVEs running back to back.
        r["p99_quiet"] = bench_p99(s.port, 200000)

        def saver():
            while not stop.is_set():
                try:
                    c2 = s.client()
                    c2.bgsave()
                    wait_bgsave(c2)
                except redis.ResponseError:
                    time.sleep(0.01)

        t = threading.Thread(target=saver)
        t.start()
        r["p99_bgsave"] = bench_p99(s.port, 200000)
        stop.set()
        t.join()
        wait_bgsave(c)
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--stash", default=os.path.join(os.path.dirname(__file__), "..", "build", "src", "stash-server"))
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    global PIN_SERVER, PIN_CLIENT
    if a.no_pin or (os.cpu_count() or 1) < 2:
        PIN_SERVER, PIN_CLIENT = [], []
    t0 = time.strftime("%Y-%m-%d")
    load0 = os.getloadavg()[0]
    res = {"stash": run("stash", a.stash, a.keys, a.value), "redis": run("redis", shutil.which("redis-server"),
                                                                          a.keys, a.value)}
    lines = ["Measured %s, load average %.1f at the start; `bench/persist.py --keys %d --value %d`. %s"
             " Ratios: Stash / Redis." % (t0, load0, a.keys, a.value,
                                          "Servers pinned to CPU 1 (Stash: `--threads 1`), redis-benchmark to CPU 0;"
                                          " 50 connections, 32-byte values, -P 1 for the p99 rows." if PIN_SERVER
                                          else "Unpinned."), ""]
    lines.append("| %d keys, %d-byte values | Stash | redis-server 7.0 | Stash/Redis |" % (a.keys, a.value))
    lines.append("|---|---|---|---|")
    rows = [("BGSAVE wall time (s)", "bgsave_s"), ("dump.rdb size (MB)", "file_mb"),
            ("load at start-up (s)", "load_s"), ("peak extra memory during BGSAVE under SETs (MB)", "rss_peak_mb")]
    for label, k in rows:
        s, r = res["stash"][k], res["redis"][k]
        lines.append("| %s | %.3f | %.3f | %.2f |" % (label, s, r, s / r if r else float("nan")))
    for when in ("p99_quiet", "p99_bgsave"):
        for op in ("GET", "SET"):
            s, r = res["stash"][when].get(op, float("nan")), res["redis"][when].get(op, float("nan"))
            lines.append("| %s p99 (ms) %s | %.3f | %.3f | %.2f |" % (
                op, "while BGSAVEs run" if when == "p99_bgsave" else "quiet", s, r, s / r if r else float("nan")))
    print("\n".join(lines))
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Streams, stash-server and redis-server 7.0 side by side.

    bench/stream_compare.py [--stash build/src/stash-server] [--rounds 3]
                            [--entries 1000000] [--skip-memory] [--skip-throughput]

Throughput (redis-benchmark, 50 connections, the server pinned to CPU 1 with
one worker thread, the client to CPU 0; servers alternate within a round, the
order rotates between rounds, medians are reported):
  xadd       XADD <key> * field value           (a new entry per request)
  xreadgroup XREADGROUP GROUP g c COUNT 1 STREAMS <key> >
             (one new entry delivered, and added to the PEL, per request)
  each with -P 1 and -P 16.

Memory: one stream of N small entries ("XADD s * item <i>", pipelined):
RSS growth and used_memory growth per entry, MEMORY USAGE of the key, after
the allocator's dirty-page decay (SETTLE seconds, default 12).

Prints one line per measure with the Stash/Redis ratio (throughput: higher is
better; memory: lower is better).
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

TESTS = [
    # name, pipeline, requests, command (the key is filled in)
    ("xadd -P16", 16, 400000, ["XADD", "{key}", "*", "field", "value"]),
    ("xreadgroup -P16", 16, 300000, ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "{key}", ">"]),
    ("xadd -P1", 1, 150000, ["XADD", "{key}", "*", "field", "value"]),
    ("xreadgroup -P1", 1, 100000, ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "{key}", ">"]),
]


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def command(server, *args):
    return server.request(resp(*args), b"\r\n", 30)


def throughput_round(server, results):
    bl.flush(server)
    for name, pipeline, n, cmd in TESTS:
        key = "bs%d" % pipeline
        if name.startswith("xreadgroup"):
            command(server, "XGROUP", "CREATE", key, "g", "0")
        args = ["-c", 50, "-n", n, "-P", pipeline, "-q"] + [a.replace("{key}", key) for a in cmd]
        rows, _ = bl.run_redis_benchmark(server, args, cpus="0")
        rps = float(next(iter(rows.values()))["rps"])
        results.setdefault(name, {}).setdefault(server.name, []).append(rps)


def load_stream(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    buf = b""
    pending = 0

    def drain(k):
        nonlocal buf
        while k:
            while b"\r\n" not in buf:
                buf += s.recv(65536)
            line, buf = buf.split(b"\r\n", 1)
            if line[:1] == b"-":
                raise SystemExit("error: " + line.decode())
            if line[:1] == b"$":
                continue  # the ID's length line; the ID is the next line
            k -= 1

    batch = []
    for i in range(n):
        batch.append(resp("XADD", "s", "*", "item", i))
        if len(batch) == 100:
            s.sendall(b"".join(batch))
            pending += len(batch)
            batch = []
            if pending >= 6400:
                drain(pending)
                pending = 0
    if batch:
        s.sendall(b"".join(batch))
        pending += len(batch)
    drain(pending)
    s.close()


def memory(server, n, settle):
    server.start()
    time.sleep(0.3)
    rss0, used0 = bl.rss_bytes(server.proc.pid), server.info_field("memory", "used_memory")
    load_stream(server.port, n)
    time.sleep(settle)
    rss1, used1 = bl.rss_bytes(server.proc.pid), server.info_field("memory", "used_memory")
    length = command(server, "XLEN", "s")
    usage = command(server, "MEMORY", "USAGE", "s")
    server.stop()
    return {"rss": (rss1 - rss0) / n, "used": (used1 - used0) / n, "len": length.strip().decode(),
            "usage": usage.strip().decode()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stash", default=os.path.join(bl.ROOT, "build", "src", "stash-server"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--entries", type=int, default=1000000)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    a = ap.parse_args()
    redis = bl.need("redis-server")
    bl.need("redis-benchmark")
    if not a.skip_throughput:
        servers = [bl.Server("stash", "stash", a.stash, threads=1, cpus="1"),
                   bl.Server("redis", "redis", redis, cpus="1")]
        results = {}
        for s in servers:
            s.start()
        try:
            for r in range(a.rounds):
                order = servers if r % 2 == 0 else servers[::-1]
                for s in order:
                    throughput_round(s, results)
        finally:
            for s in servers:
                s.stop()
        for name, _, _, _ in TESTS:
            st, rd = bl.median(results[name]["stash"]), bl.median(results[name]["redis"])
            print("%-16s stash %9.0f req/s   redis %9.0f req/s   ratio %.2f" % (name, st, rd, st / rd))
    if not a.skip_memory:
        settle = float(os.environ.get("SETTLE", "12"))
        m = {}
        for name, kind, binary in (("stash", "stash", a.stash), ("redis", "redis", redis)):
            m[name] = memory(bl.Server(name, kind, binary, threads=1), a.entries, settle)
            print("memory %-5s entries=%s rss/entry=%.1f used_memory/entry=%.1f memory_usage=%s"
                  % (name, m[name]["len"].lstrip(":"), m[name]["rss"], m[name]["used"],
                     m[name]["usage"].lstrip(":")))
        print("memory ratio stash/redis: rss %.2f, used_memory %.2f"
              % (m["stash"]["rss"] / m["redis"]["rss"], m["stash"]["used"] / m["redis"]["used"]))


if __name__ == "__main__":
    main()

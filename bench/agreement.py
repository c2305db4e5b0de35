#!/usr/bin/env python3
"""Does stash-benchmark measure what redis-benchmark measures?

    bench/agreement.py [--build-dir build] [--rounds 5] [--requests 200000] [--threads 1]

One redis-server; the same RESP workload from both tools: 50 connections,
32-byte values, 100,000 random keys (key:000000000000 ...), SET then GET, at
-P 1 and -P 16. The tools alternate (which one goes first flips every round)
and the server is flushed before each tool's SET, so both see the same data.
Prints, per test, the medians over the rounds, the ratio
stash-benchmark / redis-benchmark (median of the per-round ratios), and the
CPU use of the server and of each client during its run, then a verdict:

  agree          ratio within 0.90 .. 1.10
  client-bound   redis-benchmark needed over 1.2x the client CPU per request
                 and left the server idler (< 90% of its CPU use under
                 stash-benchmark): it measured itself, not the server (it makes five
                 epoll_ctl calls per request at -P 1; stash-benchmark one
                 writev and one read), so the numbers are not comparable
  DISAGREE       anything else (exit status 1)

Pinning: on 2+ CPUs the server runs on CPU 1 and the clients on CPU 0 (or on
CPUs 2.. with --threads > 1 when there are enough), so neither steals from
the other. redis-benchmark gets the same --threads as stash-benchmark.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def placement(threads):
    n = bl.ncpu()
    if n < 2:
        return None, None
    if threads > 1 and n >= threads + 2:
        return "1", "2-%d" % (threads + 1)
    return "1", "0"


def run_round(server, sb, args, client_cpus, order):
    """Both tools, in the given order; returns {(tool, test, P): measures}."""
    out = {}
    # redis-benchmark --threads 1 would switch to its threaded code path
    rb_threads = ["--threads", args.threads] if args.threads > 1 else []
    for tool in order:
        for pl in (1, 16):
            bl.flush(server)
            n = args.requests * (5 if pl > 1 else 1)  # similar durations
            for test in ("set", "get"):
                s0, t0 = bl.cpu_seconds(server.proc.pid), time.time()
                if tool == "redis-benchmark":
                    rows, ccpu = bl.run_redis_benchmark(
                        server, ["-c", 50, "-n", n, "-d", 32, "-r", 100000, "-t", test,
                                 "-P", pl] + rb_threads, client_cpus)
                    row = rows[test.upper()]
                    rps, p50, p99, fails = (float(row["rps"]), float(row["p50_latency_ms"]),
                                            float(row["p99_latency_ms"]), 0)
                else:
                    js, rc, ccpu = bl.run_sb(
                        sb, server, ["-c", 50, "-n", n, "-d", 32, "-r", 100000, "-t", test,
                                     "-P", pl, "--threads", args.threads], client_cpus)
                    t = js["tests"][0]
                    rps, p50, p99, fails = (t["rps"], t["latency_ms"]["p50"], t["latency_ms"]["p99"],
                                            t["failures"])
                wall = time.time() - t0
                scpu = bl.cpu_seconds(server.proc.pid) - s0
                out[(tool, test.upper(), pl)] = dict(rps=rps, p50=p50, p99=p99, failures=fails,
                                                     server_cpu=scpu / wall,
                                                     client_cpu=ccpu / wall / args.threads,
                                                     client_us=ccpu / n * 1e6)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(bl.ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None,
                    help="also write the table here (bench/results/agreement.md is shown in RESULTS.md)")
    args = ap.parse_args()
    sb = os.path.join(os.path.abspath(args.build_dir), "bench", "stash-benchmark")
    if not os.access(sb, os.X_OK):
        raise SystemExit("no %s: build first" % sb)
    bl.need("redis-server")
    bl.need("redis-benchmark")
    server_cpus, client_cpus = placement(args.threads)
    server = bl.Server("redis", "redis", "redis-server", cpus=server_cpus).start()
    runs = []
    try:
        for r in range(args.rounds):
            order = ["redis-benchmark", "stash-benchmark"]
            if r % 2:
                order.reverse()
            runs.append(run_round(server, sb, args, client_cpus, order))
            print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)
    finally:
        server.stop()

    def med(tool, test, pl, key):
        return bl.median([run[(tool, test, pl)][key] for run in runs])

    lines = []

    def emit(text=""):
        lines.append(text)
        print(text)

    emit("redis-server %s on CPU %s, clients on CPU %s, %d thread(s) each, 50 connections, "
         "32-byte values, 100k keys, %d requests per test (5x at -P 16), medians of %d rounds\n"
         % (server.binary, server_cpus, client_cpus, args.threads, args.requests, args.rounds))
    emit("| test | P | redis-benchmark rps | stash-benchmark rps | ratio | p99 ms (rb / sb) | "
         "server CPU (rb / sb) | client CPU (rb / sb) | client CPU us/request (rb / sb) | verdict |")
    emit("|---|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for test in ("SET", "GET"):
        for pl in (1, 16):
            rb, sbv = med("redis-benchmark", test, pl, "rps"), med("stash-benchmark", test, pl, "rps")
            # The two runs of a round are back to back: the median of the
            # per-round ratios cancels most of the drift of a shared machine.
            ratio = bl.median([run[("stash-benchmark", test, pl)]["rps"]
                               / run[("redis-benchmark", test, pl)]["rps"] for run in runs])
            scpu_rb, scpu_sb = (med("redis-benchmark", test, pl, "server_cpu"),
                                med("stash-benchmark", test, pl, "server_cpu"))
            ccpu_rb, ccpu_sb = (med("redis-benchmark", test, pl, "client_cpu"),
                                med("stash-benchmark", test, pl, "client_cpu"))
            cost_rb, cost_sb = (med("redis-benchmark", test, pl, "client_us"),
                                med("stash-benchmark", test, pl, "client_us"))
            fails = sum(run[("stash-benchmark", test, pl)]["failures"] for run in runs)
            if fails:
                verdict = "DISAGREE (%d failures)" % fails
            elif 0.9 <= ratio <= 1.1:
                verdict = "agree"
            elif ratio > 1.1 and scpu_rb < 0.9 * scpu_sb and cost_rb > 1.2 * cost_sb:
                verdict = "client-bound"
            else:
                verdict = "DISAGREE"
            bad += verdict.startswith("DISAGREE")
            emit("| %s | %d | %.0f | %.0f | %.3f | %.3f / %.3f | %.0f%% / %.0f%% | %.0f%% / %.0f%% "
                 "| %.2f / %.2f | %s |"
                 % (test, pl, rb, sbv, ratio, med("redis-benchmark", test, pl, "p99"),
                    med("stash-benchmark", test, pl, "p99"), 100 * scpu_rb, 100 * scpu_sb,
                    100 * ccpu_rb, 100 * ccpu_sb, cost_rb, cost_sb, verdict))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""TLS in transit: what it costs, Stash next to redis-server 7.0 (and memcached 1.6).

    bench/tls.py [--build-dir build] [--rounds 3] [--duration 3] [--conns 50]
                 [--pipeline 1] [--threads 1] [--no-memcached]

Each server listens on a plain port and a TLS port at once (same process):
stash-server and redis-server with tls-port (tls-auth-clients no), and, for
the memcached protocol, stash-server --engine memcached and memcached, both
with -Z and a -l notls: listener. stash-benchmark drives GET and SET (50
connections, 32-byte values, 100k keys filled first) over each port, with
--tls --tls-verify against a throwaway CA (EC P-256 certificates; the
connections are opened before the clock starts, so handshakes are not
measured). Servers run one worker thread; on 2+ CPUs the server is pinned to
CPU 1 and the client to CPU 0. Every round visits every (server, port) pair,
in an order that rotates; the figures are medians over the rounds.

Prints Markdown tables: throughput (requests/s), p99 latency and server CPU
time per request (less disturbed by other load on the machine than
throughput), TLS/plain for each server (the cost of TLS) and Stash/peer over
TLS; with the callgrind section (default), server instructions per request
counted by valgrind, which no neighbour disturbs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def make_certs(d):
    def run(*a):
        subprocess.run(list(a), cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=Bench CA")
    run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext", "-out", "server.crt")
    return {n: os.path.join(d, n) for n in ("ca.crt", "server.crt", "server.key")}


class McTlsServer(bl.Server):
    """A memcached-protocol server whose -p listeners speak TLS (-Z) and
    whose notls: listener (the port benchlib pings and flushes) is plain."""

    def __init__(self, *a, tls_port, plain_port, **kw):
        super().__init__(*a, **kw)
        self.tls_port, self.plain_port = tls_port, plain_port

    def start(self, timeout=10):
        self.port = self.tls_port  # argv's -p
        self.dir = tempfile.mkdtemp(prefix="stash-bench-")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.port = self.plain_port
        deadline = time.time() + timeout
        while not self.ping():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("%s did not start: %s" % (self.name, self.read_log()))
            time.sleep(0.05)
        return self


class Target:
    """One server process and the ports it serves (plain, tls)."""

    def __init__(self, name, kind, binary, certs, threads, cpus):
        self.name = name
        self.tls_port = bl.free_port()
        if kind in ("stash", "redis"):
            extra = ["--tls-port", str(self.tls_port), "--tls-cert-file", certs["server.crt"],
                     "--tls-key-file", certs["server.key"], "--tls-ca-cert-file", certs["ca.crt"],
                     "--tls-auth-clients", "no"]
            self.server = bl.Server(name, kind, binary, threads=threads, cpus=cpus, extra=extra)
        else:
            plain = bl.free_port()
            extra = ["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (certs["server.crt"], certs["server.key"]),
                     "-l", "notls:127.0.0.1:%d" % plain]
            self.server = McTlsServer(name, kind, binary, threads=threads, cpus=cpus, extra=extra,
                                      tls_port=self.tls_port, plain_port=plain)

    @property
    def plain_port(self):
        return self.server.port

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop()


def run_load(sb, target, tls, op, args, certs, cpus, prefill=False, requests=None):
    port = target.tls_port if tls else target.plain_port
    cmd = [sb, "-p", str(port), "--protocol", target.server.proto, "--json", "-q", "--no-progress",
           "-c", str(args.conns), "-P", str(args.pipeline), "-d", "32", "-r", "100000"]
    if prefill:
        cmd += ["--prefill", "-t", "get", "-n", "1"]
    elif requests:
        cmd = [c if c != str(args.conns) else "10" for c in cmd] + ["-n", str(requests), "-t", op,
                                                                    "--timeout", "120"]
    else:
        cmd += ["--duration", str(args.duration), "-t", op]
    if tls:
        cmd += ["--tls", "--tls-verify", "--cacert", certs["ca.crt"], "--sni", "localhost"]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    cpu0 = bl.cpu_seconds(target.server.proc.pid)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    cpu = bl.cpu_seconds(target.server.proc.pid) - cpu0
    if p.returncode != 0:
        raise RuntimeError("stash-benchmark failed (%d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                                     p.stderr.decode()[-2000:]))
    js = json.loads(p.stdout)
    if prefill:
        return None
    t = js["tests"][0]
    return t["rps"], t["latency_ms"]["p99"], cpu * 1e6 / max(t["requests"], 1)


def callgrind_totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + path)


def instructions(sb, name, kind, binary, certs, args, n1=4000, n2=24000):
    """Server instructions per request (plain and TLS; GET and SET) under
    callgrind: two runs of n1 and n2 requests on fresh connections, each
    dumped apart; the difference cancels the fixed costs (connection setup,
    TLS handshakes), so the figure is the steady per-request cost."""
    out = {}
    d = tempfile.mkdtemp(prefix="stash-tls-cg-")
    try:
        cg = os.path.join(d, "cg.out")
        t = Target(name, kind, binary, certs, 1, None)
        t.server.valgrind = ["--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + cg]
        t.server.start(timeout=120)
        try:
            run_load(sb, t, False, "get", args, certs, None, prefill=True)
            subprocess.run(["callgrind_control", "-i", "on", str(t.server.proc.pid)], check=True,
                           stdout=subprocess.DEVNULL, timeout=60)
            dumps = 0
            for tls in (False, True):
                for op in ("get", "set"):
                    costs = []
                    for n in (n1, n2):
                        run_load(sb, t, tls, op, args, certs, None, requests=n)
                        subprocess.run(["callgrind_control", "-d", str(t.server.proc.pid)], check=True,
                                       stdout=subprocess.DEVNULL, timeout=120)
                        dumps += 1
                        costs.append(callgrind_totals("%s.%d" % (cg, dumps)))
                    out[(tls, op)] = (costs[1] - costs[0]) / (n2 - n1)
        finally:
            t.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return out


def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "-"


def throughput(args, sb, stash, redis, certs):
    """{(server, tls, op): [(rps, p99 ms), ...]} and the server names in order."""
    pinned = bl.ncpu() > 1 and args.threads == 1
    srv_cpus, cli_cpus = ("1", "0") if pinned else (None, None)
    targets = [Target("stash", "stash", stash, certs, args.threads, srv_cpus),
               Target("redis", "redis", redis, certs, args.threads, srv_cpus)]
    if not args.no_memcached and shutil.which("memcached"):
        targets += [Target("stash-mc", "stash-mc", stash, certs, args.threads, srv_cpus),
                    Target("memcached", "memcached", shutil.which("memcached"), certs, args.threads, srv_cpus)]
    results = {}
    started = []
    try:
        for t in targets:
            t.start()
            started.append(t)
            run_load(sb, t, False, "get", args, certs, cli_cpus, prefill=True)
        pairs = [(t, tls) for t in targets for tls in (False, True)]
        for r in range(args.rounds):
            k = r % len(pairs)
            for t, tls in pairs[k:] + pairs[:k]:
                for op in ("set", "get"):
                    res = run_load(sb, t, tls, op, args, certs, cli_cpus)
                    results.setdefault((t.name, tls, op), []).append(res)
                    print("round %d %-9s %-5s %-3s %10.0f rps  p99 %.3f ms  %.2f us CPU/request" % (
                        r + 1, t.name, "tls" if tls else "plain", op, *res), file=sys.stderr)
    finally:
        for t in started:
            t.stop()
    return results, [t.name for t in targets], pinned


def print_throughput(args, results, names, pinned):
    def med(name, tls, op, i):
        xs = results.get((name, tls, op))
        return bl.median([x[i] for x in xs]) if xs else None

    print("\nThroughput and p99: %d connections, -P %d, 32-byte values, %d round(s) of %.0f s, server threads %d%s\n"
          % (args.conns, args.pipeline, args.rounds, args.duration, args.threads,
             ", server pinned to CPU 1, client to CPU 0" if pinned else ""))
    print("| test | server | plain rps | TLS rps | TLS/plain rps | plain p99 ms | TLS p99 ms | plain CPU us/req | "
          "TLS CPU us/req |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        for op in ("get", "set"):
            pr, tr = med(name, False, op, 0), med(name, True, op, 0)
            pp, tp = med(name, False, op, 1), med(name, True, op, 1)
            pc, tc = med(name, False, op, 2), med(name, True, op, 2)
            print("| %s | %s | %.0f | %.0f | %s | %.3f | %.3f | %.2f | %.2f |" % (
                op.upper(), name, pr, tr, ratio(tr, pr), pp, tp, pc, tc))
    print("\n| test | Stash/peer TLS rps | Stash/peer TLS p99 | Stash/peer TLS CPU/req | Stash/peer plain rps |")
    print("|---|---:|---:|---:|---:|")
    for a, b in (("stash", "redis"), ("stash-mc", "memcached")):
        if a not in names or b not in names:
            continue
        for op in ("get", "set"):
            print("| %s %s vs %s | %s | %s | %s | %s |" % (
                op.upper(), a, b, ratio(med(a, True, op, 0), med(b, True, op, 0)),
                ratio(med(a, True, op, 1), med(b, True, op, 1)), ratio(med(a, True, op, 2), med(b, True, op, 2)),
                ratio(med(a, False, op, 0), med(b, False, op, 0))))


def print_instructions(args, cg):
    print("\nServer instructions per request (callgrind, steady state, 10 connections, -P %d)\n" % args.pipeline)
    print("| test | Stash plain | Stash TLS | Redis plain | Redis TLS | Stash/Redis TLS | TLS extra, Stash | "
          "TLS extra, Redis |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for op in ("get", "set"):
        sp, st = cg["stash"][(False, op)], cg["stash"][(True, op)]
        rp, rt = cg["redis"][(False, op)], cg["redis"][(True, op)]
        print("| %s | %.0f | %.0f | %.0f | %.0f | %s | %.0f | %.0f |" % (op.upper(), sp, st, rp, rt, ratio(st, rt),
                                                                      st - sp, rt - rp))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(bl.ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-memcached", action="store_true", help="leave out the memcached protocol")
    ap.add_argument("--only", default="throughput,callgrind",
                    help="sections: throughput (default), callgrind (instructions per request, valgrind)")
    args = ap.parse_args()
    sections = args.only.split(",")
    build = os.path.abspath(args.build_dir)
    sb = os.path.join(build, "bench", "stash-benchmark")
    stash = os.path.join(build, "src", "stash-server")
    for b in (sb, stash):
        if not os.access(b, os.X_OK):
            raise SystemExit("missing %s: build first" % b)
    redis = bl.need("redis-server")
    bl.need("openssl")
    d = tempfile.mkdtemp(prefix="stash-tls-bench-")
    try:
        certs = make_certs(d)
        if "throughput" in sections:
            print_throughput(args, *throughput(args, sb, stash, redis, certs))
        if "callgrind" in sections:
            bl.need("valgrind")
            cg = {n: instructions(sb, n, n, b, certs, args) for n, b in (("stash", stash), ("redis", redis))}
            print_instructions(args, cg)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The side-by-side benchmark suite: Stash vs redis-server vs memcached.

    bench/suite.py [--quick] [--build-dir build] [--out DIR] [--only SECTIONS]
                   [--results-md PATH]

Run through bench/run.sh (which installs the peers and builds first). All
load comes from stash-benchmark; every reply is verified, and a figure whose
run had failures is shown as "FAIL" instead of a number.

Sections (--only takes a comma-separated subset):
  core        GET/SET, 50 connections, 32-byte values, 100k keys, -P 1 and 16:
              throughput and p99 of redis, stash (1 thread) and stash (all
              threads), with Stash/Redis ratios (was bench/compare.sh)
  sweep       GET -P 1 throughput vs connections (plot)
  types       the data-type commands (incr, lpush, ..., lrange_100, mset,
              mget) at -P 16; unsupported commands show as FAIL
  memcache    memcached text get/set/mget and meta get/set/mget, -P 1 and 16,
              against memcached only until Stash has a memcached engine
  memory      bytes of RSS (and used_memory) per key after loading N keys
              (was bench/memory.sh), Redis and memcached protocols
  memtypes    RSS per key of 1M session-like hashes (5 fields) and per member
              of one 1M-member sorted set, Stash vs Redis
              (bench/memory_hash.sh, bench/memory_zset.sh)
  callgrind   CPU instructions per request, whole server process, one worker
              (was bench/callgrind.sh; perf is not available here)

Servers alternate within every round (the order rotates each round) to cancel
drift; figures are medians over the rounds. With 2+ CPUs, single-thread
servers are pinned to CPU 1 and the client to CPU 0; multi-thread servers may
use every CPU (and so compete with the client).

Writes OUT/latest.json (every round's numbers and the medians), the gnuplot
data and PNGs, and prints the Markdown tables. A full run of every section
publishes: OUT is bench/results and bench/RESULTS.md is regenerated (with
bench/mkresults.py); --quick or --only write to BUILD/bench-quick or
BUILD/bench-partial unless --out/--results-md say otherwise.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import mkresults  # noqa: E402

SECTIONS = ("core", "sweep", "types", "memcache", "memory", "memtypes", "callgrind")
TYPES = ("incr", "lpush", "rpush", "lpop", "rpop", "sadd", "spop", "hset", "zadd", "zpopmin",
         "lrange_100", "mset", "mget")


def settings(quick):
    if quick:
        return dict(rounds=1, duration=0.4, sweep_duration=0.3, conns=[1, 16, 50, 128],
                    keyspace=100000, mem_keys=100000, mem_settle=2.0, cg_requests=2000,
                    cg_keyspace=10000, types=("incr", "lpush", "mset"))
    return dict(rounds=5, duration=2.0, sweep_duration=1.0, conns=[1, 8, 32, 50, 128, 256],
                keyspace=100000, mem_keys=1000000, mem_settle=12.0, cg_requests=20000,
                cg_keyspace=100000, types=TYPES)


class Suite:
    def __init__(self, args):
        self.args = args
        self.cfg = settings(args.quick)
        if args.rounds:
            self.cfg["rounds"] = args.rounds
        build = os.path.abspath(args.build_dir)
        self.sb = os.path.join(build, "bench", "stash-benchmark")
        self.stash = os.path.join(build, "src", "stash-server")
        for b in (self.sb, self.stash):
            if not os.access(b, os.X_OK):
                raise SystemExit("missing %s: build first (bench/run.sh does)" % b)
        n = bl.ncpu()
        self.server_cpus = "1" if n >= 2 else None
        self.client_cpus = "0" if n >= 2 else None
        self.runs = []  # every measurement: dict(section, server, test, params, round, ...)
        self.commands = {}  # section -> the (first few distinct) stash-benchmark command lines
        self.notes = []
        self.stash_mc = None  # whether stash-server has --engine memcached (probed)

    # ---- servers --------------------------------------------------------------

    def resp_servers(self):
        s = [bl.Server("redis", "redis", bl.need("redis-server"), cpus=self.server_cpus),
             bl.Server("stash-1t", "stash", self.stash, threads=1, cpus=self.server_cpus)]
        if bl.ncpu() > 1:
            s.append(bl.Server("stash-%dt" % bl.ncpu(), "stash", self.stash, threads=bl.ncpu()))
        return s

    def mc_servers(self):
        s = [bl.Server("memcached", "memcached", bl.need("memcached"), threads=1, cpus=self.server_cpus)]
        if self.stash_mc is None:  # probe once: does this build have the memcached engine?
            probe = bl.Server("stash-mc", "stash-mc", self.stash, threads=1)
            try:
                probe.start(timeout=5)
                self.stash_mc = True
            except RuntimeError:
                self.stash_mc = False
                self.notes.append("stash-server has no memcached engine (--engine memcached) in this "
                                  "build: the memcached rows measure memcached alone.")
            finally:
                probe.stop()
        if self.stash_mc:
            s.append(bl.Server("stash-mc", "stash-mc", self.stash, threads=1, cpus=self.server_cpus))
        return s

    # ---- running --------------------------------------------------------------

    def sb_run(self, section, server, args, rnd, params, proto=None):
        cmd_args = [str(a) for a in args]
        cmd = "stash-benchmark --protocol %s -p PORT %s" % (proto or server.proto, " ".join(cmd_args))
        shown = self.commands.setdefault(section, [])
        if len(shown) < 4 and cmd not in shown:
            shown.append(cmd)
        js, rc, _ = bl.run_sb(self.sb, server, cmd_args, self.client_cpus, proto=proto)
        for t in js["tests"]:
            self.runs.append(dict(section=section, server=server.name, test=t["name"], round=rnd,
                                  params=params, rps=t["rps"], p50=t["latency_ms"]["p50"],
                                  p99=t["latency_ms"]["p99"], failures=t["failures"],
                                  requests=t["requests"], curve=t["curve"],
                                  errors=[e["message"] for e in t["error_samples"]][:3]))
        return js

    def load_args(self, pl, conns=50, duration=None):
        return ["-c", conns, "-P", pl, "-d", 32, "-r", self.cfg["keyspace"], "--duration",
                duration or self.cfg["duration"]]

    def section_core(self, server, rnd):
        for pl in (1, 16):
            extra = ["--prefill"] if pl == 1 else []
            self.sb_run("core", server, self.load_args(pl) + ["-t", "set,get"] + extra, rnd, dict(P=pl))

    def section_sweep(self, server, rnd):
        for c in self.cfg["conns"]:
            self.sb_run("sweep", server, self.load_args(1, c, self.cfg["sweep_duration"]) + ["-t", "get"],
                        rnd, dict(c=c))

    def section_types(self, server, rnd):
        self.sb_run("types", server, self.load_args(16, 50, self.cfg["sweep_duration"])
                    + ["-t", ",".join(self.cfg["types"]), "--timeout", 5], rnd, dict(P=16))

    def section_memcache(self, server, rnd):
        for proto in ("memcache-text", "memcache-meta"):
            for pl in (1, 16):
                args = self.load_args(pl) + ["-t", "set,get,mget"]
                if pl == 1 and proto == "memcache-text":
                    args.append("--prefill")
                self.sb_run("memcache", server, args, rnd, dict(P=pl, proto=proto), proto=proto)

    def rounds(self, sections):
        plan = []  # (server factory list, section functions)
        if {"core", "sweep", "types"} & sections:
            fns = [getattr(self, "section_" + s) for s in ("core", "sweep", "types") if s in sections]
            plan += [(srv, fns) for srv in self.resp_servers()]
        if "memcache" in sections or "sweep" in sections:
            fns = []
            if "memcache" in sections:
                fns.append(self.section_memcache)
            if "sweep" in sections:
                fns.append(self.section_sweep)
            plan += [(srv, fns) for srv in self.mc_servers()]
        for rnd in range(self.cfg["rounds"]):
            k = rnd % len(plan) if plan else 0
            for srv, fns in plan[k:] + plan[:k]:
                t0 = time.time()
                srv.start()
                try:
                    for fn in fns:
                        fn(srv, rnd)
                finally:
                    srv.stop()
                log("round %d/%d: %s done in %.1f s" % (rnd + 1, self.cfg["rounds"], srv.name,
                                                         time.time() - t0))

    # ---- memory ---------------------------------------------------------------

    def memory(self):
        n = self.cfg["mem_keys"]
        servers = self.resp_servers()[:2] + self.mc_servers()
        for srv in servers:
            srv.start()
            try:
                time.sleep(0.3)
                before = bl.rss_bytes(srv.proc.pid)
                used0 = srv.info_field("memory", "used_memory") if srv.proto == "resp" else \
                    srv.info_field("stats", "bytes")
                args = ["-c", 8, "-P", 64, "-d", 32, "-r", n, "--prefill", "-t", "get", "-n", 1000]
                js = self.sb_run("memory", srv, args, 0, dict(keys=n))
                time.sleep(self.cfg["mem_settle"])
                after = bl.rss_bytes(srv.proc.pid)
                if srv.proto == "resp":
                    used = srv.info_field("memory", "used_memory")
                    keys = self.dbsize(srv)
                else:
                    used = srv.info_field("stats", "bytes")
                    keys = srv.info_field("stats", "curr_items")
                ok = js["prefill"]["failures"] == 0 and keys == n
                self.runs.append(dict(section="memory", server=srv.name, test="memory", round=0,
                                      params=dict(keys=n), rss_per_key=(after - before) / n,
                                      used_per_key=((used or 0) - (used0 or 0)) / n,
                                      keys=keys, failures=0 if ok else 1))
                log("memory: %s %.1f bytes/key (RSS)" % (srv.name, (after - before) / n))
            finally:
                srv.stop()

    def memtypes(self):
        """Hashes and a big sorted set: the scripts load both servers and print
        one line per server with its RSS growth per key (or member)."""
        n = self.cfg["mem_keys"]
        for test, script, field in (("hash", "memory_hash.sh", "bytes_per_key"),
                                    ("zset", "memory_zset.sh", "rss_bytes_per_member")):
            env = dict(os.environ, SETTLE=str(self.cfg["mem_settle"]))
            p = subprocess.run([os.path.join(bl.ROOT, "bench", script), self.stash, str(n)],
                               capture_output=True, text=True, timeout=1800, env=env)
            seen = set()
            for line in p.stdout.splitlines():
                words = line.split()
                if not words or words[0] not in ("stash", "redis"):
                    continue
                kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
                if field not in kv:
                    continue
                name = "stash-1t" if words[0] == "stash" else "redis"
                seen.add(name)
                self.runs.append(dict(section="memtypes", server=name, test=test, round=0,
                                      params=dict(keys=n), rss_per_key=float(kv[field]),
                                      encoding=kv.get("encoding"), failures=0))
                log("memtypes: %s %s %s bytes (RSS)" % (name, test, kv[field]))
            for name in {"stash-1t", "redis"} - seen:
                self.runs.append(dict(section="memtypes", server=name, test=test, round=0,
                                      params=dict(keys=n), rss_per_key=None, failures=1,
                                      errors=[(p.stderr or p.stdout)[-300:]]))

    @staticmethod
    def dbsize(srv):
        r = srv.request(b"DBSIZE\r\n", b"\r\n")
        try:
            return int(r[1:].strip())
        except ValueError:
            return None

    # ---- callgrind ------------------------------------------------------------

    def callgrind(self):
        if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
            self.notes.append("callgrind: valgrind not installed, section skipped")
            return
        n, ks = self.cfg["cg_requests"], self.cfg["cg_keyspace"]
        for srv in self.resp_servers()[:2] + self.mc_servers():
            srv.cpus = None
            out = "/tmp/stash-cg-%d" % os.getpid()
            srv.valgrind = ["--tool=callgrind", "--callgrind-out-file=%s.%%p.out" % out]
            srv.start(timeout=60)
            try:
                self.sb_run("callgrind (load)", srv, ["-c", 50, "-P", 64, "-d", 32, "-r", ks, "--prefill",
                                                    "-t", "get", "-n", 100, "--timeout", 60], 0, {})
                for test in ("get", "set"):
                    subprocess.run(["callgrind_control", "-z", str(srv.proc.pid)], capture_output=True,
                                   timeout=60)
                    js = self.sb_run("callgrind (measured)", srv,
                                     ["-c", 50, "-P", 1, "-d", 32, "-r", ks, "-t", test, "-n", n,
                                      "--timeout", 60], 0, {})
                    dumps0 = set(self.dumps(out, srv.proc.pid))
                    subprocess.run(["callgrind_control", "-d", str(srv.proc.pid)], capture_output=True,
                                   timeout=60)
                    ir = self.wait_dump(out, srv.proc.pid, dumps0)
                    fails = js["tests"][0]["failures"]
                    self.runs.append(dict(section="callgrind", server=srv.name, test=test.upper(),
                                          round=0, params=dict(requests=n),
                                          ir_per_request=ir / n if ir else None,
                                          failures=fails if ir else 1))
                    log("callgrind: %s %s %s instructions/request" % (
                        srv.name, test, "%.0f" % (ir / n) if ir else "?"))
            finally:
                srv.stop()
                for f in self.dumps(out, srv.proc.pid):
                    os.unlink(f)
            srv.valgrind = None

    @staticmethod
    def dumps(out, pid):
        d, base = os.path.split(out)
        prefix = "%s.%d.out" % (base, pid)
        return [os.path.join(d, f) for f in os.listdir(d) if f.startswith(prefix)]

    def wait_dump(self, out, pid, before):
        for _ in range(100):  # up to 10 s
            new = [f for f in self.dumps(out, pid) if f not in before]
            for f in new:
                with open(f) as fp:
                    for line in fp:
                        if line.startswith(("totals:", "summary:")):
                            return int(line.split()[1])
            time.sleep(0.1)
        return None

    # ---- results --------------------------------------------------------------

    def medians(self):
        groups = {}
        for r in self.runs:
            if r["section"].startswith("callgrind ("):
                continue
            key = (r["section"], r["server"], r["test"], json.dumps(r["params"], sort_keys=True))
            groups.setdefault(key, []).append(r)
        out = []
        for (section, server, test, params), rs in sorted(groups.items()):
            m = dict(section=section, server=server, test=test, params=json.loads(params),
                     rounds=len(rs), failures=sum(r.get("failures", 0) for r in rs),
                     errors=sorted({e for r in rs for e in r.get("errors", [])})[:3])
            for f in ("rps", "p50", "p99", "rss_per_key", "used_per_key", "ir_per_request"):
                if f in rs[0]:
                    m[f] = bl.median([r.get(f) for r in rs])
            if "curve" in rs[0]:  # the curve of the median round (by throughput)
                ranked = sorted(rs, key=lambda r: r["rps"])
                m["curve"] = ranked[len(ranked) // 2]["curve"]
            out.append(m)
        return out


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    commit = version(["git", "-C", bl.ROOT, "rev-parse", "--short", "HEAD"])
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), cpu=cpu,
                cpus=os.cpu_count(), usable_cpus=bl.ncpu(), kernel=platform.release(),
                memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                loadavg=os.getloadavg(), stash_commit=commit,
                redis=version(["redis-server", "--version"]),
                memcached=version(["memcached", "-V"]))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(bl.ROOT, "build"))
    ap.add_argument("--out", default=None, help="results folder (default: bench/results, "
                                                "or build/bench-quick with --quick)")
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds of the alternating sections (default 5; 1 with --quick)")
    ap.add_argument("--results-md", default=None,
                    help="write this RESULTS.md (default: bench/RESULTS.md in full mode)")
    args = ap.parse_args()
    sections = set(s for s in args.only.split(",") if s)
    if sections - set(SECTIONS):
        raise SystemExit("unknown sections: %s" % ", ".join(sorted(sections - set(SECTIONS))))
    # Only a full run of every section replaces the published results.
    publish = not args.quick and sections == set(SECTIONS)
    out = args.out or (os.path.join(bl.ROOT, "bench", "results") if publish else
                       os.path.join(args.build_dir, "bench-quick" if args.quick else "bench-partial"))
    os.makedirs(out, exist_ok=True)
    results_md = args.results_md or (os.path.join(bl.ROOT, "bench", "RESULTS.md") if publish else None)

    t0 = time.time()
    suite = Suite(args)
    info = machine_info()
    log("stash-benchmark suite (%s): %s, %d usable CPUs, load %.2f" % (
        "quick" if args.quick else "full", info["cpu"], info["usable_cpus"], info["loadavg"][0]))
    suite.rounds(sections)
    if "memory" in sections:
        suite.memory()
    if "memtypes" in sections:
        suite.memtypes()
    if "callgrind" in sections:
        suite.callgrind()
    medians = suite.medians()
    for r in suite.runs:  # the medians keep the curve of their median round
        r.pop("curve", None)
    data = dict(mode="quick" if args.quick else "full", settings=suite.cfg, machine=info,
                placement=dict(server_cpus=suite.server_cpus, client_cpus=suite.client_cpus),
                commands=suite.commands, notes=suite.notes, seconds=round(time.time() - t0, 1),
                medians=medians, runs=suite.runs)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(data, f, indent=1)
    mkresults.plots(data, out)
    print(mkresults.tables(data))
    if results_md:
        with open(results_md, "w") as f:
            f.write(mkresults.document(data, os.path.relpath(out, os.path.dirname(results_md)), out))
        log("wrote %s" % results_md)
    log("suite done in %.0f s; results in %s" % (time.time() - t0, out))
    failed = sum(m["failures"] for m in data["medians"] if m["section"] in ("core", "memcache", "memory"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

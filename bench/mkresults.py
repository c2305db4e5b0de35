#!/usr/bin/env python3
"""Tables, plots and RESULTS.md from a suite result (bench/suite.py).

    bench/mkresults.py [results/latest.json] [--md bench/RESULTS.md] [--no-plots]

Regenerates the Markdown document (and the PNGs next to the JSON) without
rerunning anything. Ratios are Stash / peer: above 1 is better for
throughput, below 1 is better for latency, memory and instructions.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

FAIL = "FAIL"
UNSUPPORTED = "unsupported"


def fmt(x, digits=0):
    if x is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(x)
    return "%.*f" % (digits, x)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


class View:
    """Lookup of medians by section, server, test and params."""

    def __init__(self, data):
        self.data = data
        self.m = {}
        for m in data["medians"]:
            key = (m["section"], m["server"], m["test"], json.dumps(m["params"], sort_keys=True))
            self.m[key] = m

    def get(self, section, server, test, **params):
        return self.m.get((section, server, test, json.dumps(params, sort_keys=True)))

    def val(self, section, server, test, field, **params):
        m = self.get(section, server, test, **params)
        if m is None:
            return None
        if m["failures"]:
            errs = m.get("errors") or []
            if errs and all("unknown command" in e for e in errs):
                return UNSUPPORTED
            return FAIL
        return m.get(field)

    def servers(self, section):
        seen = []
        for m in self.data["medians"]:
            if m["section"] == section and m["server"] not in seen:
                seen.append(m["server"])
        return seen


def cell(v, digits=0):
    return v if v in (FAIL, UNSUPPORTED) else fmt(v, digits)


def rcell(a, b):
    if FAIL in (a, b) or UNSUPPORTED in (a, b):
        return "-"
    return ratio(a, b)


def stash_names(servers):
    return [s for s in servers if s.startswith("stash")]


def core_table(v):
    servers = v.servers("core")
    if not servers:
        return ""
    stash = stash_names(servers)
    peer = "redis"
    head = ["test", "P", "redis rps"]
    for s in stash:
        head += ["%s rps" % s, "x redis"]
    head += ["redis p99 ms"]
    for s in stash:
        head += ["%s p99" % s, "x redis"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for test in ("SET", "GET"):
        for pl in (1, 16):
            r = v.val("core", peer, test, "rps", P=pl)
            row = [test, str(pl), cell(r)]
            for s in stash:
                x = v.val("core", s, test, "rps", P=pl)
                row += [cell(x), rcell(x, r)]
            rp = v.val("core", peer, test, "p99", P=pl)
            row += [cell(rp, 3)]
            for s in stash:
                x = v.val("core", s, test, "p99", P=pl)
                row += [cell(x, 3), rcell(x, rp)]
            rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def types_table(v):
    servers = v.servers("types")
    if not servers:
        return ""
    stash = stash_names(servers)
    head = ["command (-P 16)", "redis rps"]
    for s in stash:
        head += ["%s rps" % s, "x redis"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = [t.upper() for t in v.data["settings"].get("types", [])]
    tests = sorted({m["test"] for m in v.data["medians"] if m["section"] == "types"},
                   key=lambda t: (order.index(t) if t in order else len(order), t))
    for t in tests:
        r = v.val("types", "redis", t, "rps", P=16)
        row = [t, cell(r)]
        for s in stash:
            x = v.val("types", s, t, "rps", P=16)
            row += [cell(x), rcell(x, r)]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def memcache_table(v):
    if not v.servers("memcache"):
        return ""
    rows = ["| protocol | test | P | memcached rps | memcached p99 ms | stash rps | x memcached "
            "| stash p99 ms | x memcached |", "|---|---|---|---|---|---|---|---|---|"]
    for proto in ("memcache-text", "memcache-meta"):
        for test in ("SET", "GET", "MGET"):
            for pl in (1, 16):
                r = v.val("memcache", "memcached", test, "rps", P=pl, proto=proto)
                p = v.val("memcache", "memcached", test, "p99", P=pl, proto=proto)
                st = v.val("memcache", "stash-mc", test, "rps", P=pl, proto=proto)
                sp = v.val("memcache", "stash-mc", test, "p99", P=pl, proto=proto)
                na = st is None
                rows.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    proto[9:], test, pl, cell(r), cell(p, 3), "n/a" if na else cell(st),
                    "n/a" if na else rcell(st, r), "n/a" if na else cell(sp, 3),
                    "n/a" if na else rcell(sp, p)))
    return "\n".join(rows)


def sweep_table(v):
    servers = v.servers("sweep")
    if not servers:
        return ""
    conns = sorted({m["params"]["c"] for m in v.data["medians"] if m["section"] == "sweep"})
    rows = ["| connections | " + " | ".join("%s GET rps" % s for s in servers) + " |",
            "|" + "---|" * (len(servers) + 1)]
    for c in conns:
        rows.append("| %d | " % c + " | ".join(cell(v.val("sweep", s, "GET", "rps", c=c)) for s in servers)
                    + " |")
    return "\n".join(rows)


def memory_table(v):
    servers = v.servers("memory")
    if not servers:
        return ""
    keys = next(m["params"]["keys"] for m in v.data["medians"] if m["section"] == "memory")
    redis = v.val("memory", "redis", "memory", "rss_per_key", keys=keys)
    mc = v.val("memory", "memcached", "memory", "rss_per_key", keys=keys)
    rows = ["| server (%s keys, 16-byte keys, 32-byte values) | RSS bytes/key "
            "| used_memory (or item bytes) per key | x redis (RSS) | x memcached (RSS) |" % fmt(keys),
            "|---|---|---|---|---|"]
    for s in servers:
        x = v.val("memory", s, "memory", "rss_per_key", keys=keys)
        u = v.val("memory", s, "memory", "used_per_key", keys=keys)
        st = s.startswith("stash")
        rows.append("| %s | %s | %s | %s | %s |" % (s, cell(x, 1), cell(u, 1), rcell(x, redis) if st else "",
                                                    rcell(x, mc) if st else ""))
    return "\n".join(rows)


def memtypes_table(v):
    servers = v.servers("memtypes")
    if not servers:
        return ""
    keys = next(m["params"]["keys"] for m in v.data["medians"] if m["section"] == "memtypes")
    rows = ["| workload | " + " | ".join("%s RSS bytes" % s for s in servers) + " | stash x redis |",
            "|" + "---|" * (len(servers) + 2)]
    for test, what in (("hash", "%s hashes of 5 fields (session-like), per key" % fmt(keys)),
                       ("zset", "one sorted set of %s members, per member" % fmt(keys))):
        vals = {s: v.val("memtypes", s, test, "rss_per_key", keys=keys) for s in servers}
        stash = vals.get("stash-1t")
        rows.append("| %s | " % what + " | ".join(cell(vals[s], 1) for s in servers)
                    + " | %s |" % rcell(stash, vals.get("redis")))
    return "\n".join(rows)


def callgrind_table(v):
    servers = v.servers("callgrind")
    if not servers:
        return ""
    stash = stash_names(servers)
    n = next(m["params"]["requests"] for m in v.data["medians"] if m["section"] == "callgrind")
    head = ["request (-P 1, 50 conns)"] + ["%s instr/req" % s for s in servers] + \
        ["%s x redis" % s for s in stash]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for test in ("GET", "SET"):
        vals = {s: v.val("callgrind", s, test, "ir_per_request", requests=n) for s in servers}
        row = [test] + [cell(vals[s]) for s in servers] + [rcell(vals[s], vals.get("redis")) for s in stash]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


SECTION_TITLES = [
    ("core", "GET/SET throughput and p99 latency (RESP, 50 connections, 32-byte values, 100k keys)",
     core_table),
    ("types", "Data-type commands (RESP, 50 connections, -P 16)", types_table),
    ("memcache", "memcached protocol (50 connections, 32-byte values; multi-get = 10 keys)", memcache_table),
    ("sweep", "GET throughput vs connections (-P 1)", sweep_table),
    ("memory", "Memory per key", memory_table),
    ("memtypes", "Memory of collections (hashes, sorted set)", memtypes_table),
    ("callgrind", "CPU instructions per request (callgrind, whole server process)", callgrind_table),
]


def tables(data):
    v = View(data)
    out = []
    for _, title, fn in SECTION_TITLES:
        t = fn(v)
        if t:
            out.append("### %s\n\n%s\n" % (title, t))
    fails = [m for m in data["medians"] if m["failures"] and m["section"] in ("core", "memcache", "memory")]
    for m in fails:
        out.append("FAIL: %s %s %s %s: %s" % (m["section"], m["server"], m["test"], m["params"],
                                               "; ".join(m.get("errors", []))))
    return "\n".join(out)


# ---- plots --------------------------------------------------------------------

def write_sweep_dat(v, path):
    servers = v.servers("sweep")
    conns = sorted({m["params"]["c"] for m in v.data["medians"] if m["section"] == "sweep"})
    if not servers or not conns:
        return None
    with open(path, "w") as f:
        f.write("connections " + " ".join(servers) + "\n")
        for c in conns:
            vals = []
            for s in servers:
                x = v.val("sweep", s, "GET", "rps", c=c)
                vals.append("NaN" if x in (None, FAIL, UNSUPPORTED) else "%.1f" % x)
            f.write("%d %s\n" % (c, " ".join(vals)))
    return servers


def write_latency_dat(v, path, pl):
    """One block per server: x = 1 / (1 - p), latency ms; from GET at 50 connections."""
    curves = []
    for s in v.servers("core"):
        m = v.get("core", s, "GET", P=pl)
        if m and not m["failures"]:
            curves.append(("%s RESP" % s, m["curve"]))
    for server in ("memcached", "stash-mc"):
        for proto in ("memcache-text", "memcache-meta"):
            m = v.get("memcache", server, "GET", P=pl, proto=proto)
            if m and not m["failures"]:
                curves.append(("%s %s" % (server, proto[9:]), m["curve"]))
    if not curves:
        return None
    with open(path, "w") as f:
        for name, curve in curves:
            f.write('"%s"\n' % name)
            for p, ms in curve:
                if 0 < p < 100:
                    f.write("%.6f %.6f\n" % (1.0 / (1.0 - p / 100.0), ms))
            f.write("\n\n")
    return [c[0] for c in curves]


def plots(data, out):
    if not shutil.which("gnuplot"):
        data.setdefault("notes", []).append("gnuplot not installed: no plots")
        return []
    v = View(data)
    made = []
    script = ["set terminal pngcairo size 900,560 enhanced font 'DejaVu Sans,10'",
              "set grid", "set key top left"]
    sweep = write_sweep_dat(v, os.path.join(out, "sweep.dat"))
    if sweep:
        script += ["set output '%s'" % os.path.join(out, "throughput_vs_connections.png"),
                   "set title 'GET throughput vs connections (-P 1, 32-byte values)'",
                   "set xlabel 'connections'", "set ylabel 'requests/s'", "set logscale x 2",
                   "set format y '%.0s%c'",
                   "plot for [i=2:%d] '%s' using 1:i with linespoints lw 2 title columnheader(i)"
                   % (len(sweep) + 1, os.path.join(out, "sweep.dat")),
                   "unset logscale x", "set format y '%g'"]
        made.append("throughput_vs_connections.png")
    for pl in (1, 16):
        dat = os.path.join(out, "latency_p%d.dat" % pl)
        names = write_latency_dat(v, dat, pl)
        if not names:
            continue
        png = "latency_percentiles_p%d.png" % pl
        script += ["set output '%s'" % os.path.join(out, png),
                   "set title 'GET latency by percentile (50 connections, -P %d)'" % pl,
                   "set xlabel 'percentile'", "set ylabel 'latency (ms)'", "set logscale x 10",
                   "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
                   "'99.999%%' 100000)",
                   "plot for [i=0:%d] '%s' index i using 1:2 with lines lw 2 title columnheader(1)"
                   % (len(names) - 1, dat),
                   "unset logscale x", "set xtics autofreq"]
        made.append(png)
    gp = os.path.join(out, "plots.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        data.setdefault("notes", []).append("gnuplot failed: %s" % r.stderr.strip()[-300:])
        return []
    return made


# ---- RESULTS.md ---------------------------------------------------------------

def document(data, rel, out_dir=None):
    mi = data["machine"]
    st = data["settings"]
    pl = data["placement"]
    lines = [
        "# Stash benchmark results",
        "",
        "Generated by `bench/run.sh%s` (bench/suite.py, bench/mkresults.py) on %s; the suite took %.0f s."
        % (" --quick" if data["mode"] == "quick" else "", mi["date"], data["seconds"]),
        "",
        "- Machine: %s, %d CPUs (%d usable), %s GiB RAM, Linux %s; load average at start %.2f / %.2f / %.2f"
        % (mi["cpu"], mi["cpus"], mi["usable_cpus"], mi["memory_gib"], mi["kernel"], *mi["loadavg"]),
        "- Versions: Stash %s; %s; %s" % (mi["stash_commit"], mi["redis"], mi["memcached"]),
        "- Placement: single-thread servers on CPU %s, stash-benchmark (1 thread) on CPU %s; "
        "multi-thread servers unpinned (they share the CPUs with the client)"
        % (pl["server_cpus"] or "any", pl["client_cpus"] or "any"),
        "- Method: %d round(s); the servers alternate within a round and their order rotates "
        "between rounds; every figure is the median over the rounds; %.1f s per test (%.1f s in the "
        "connection sweep and the data-type tests). Every reply is verified by stash-benchmark; a "
        "run with errors shows FAIL." % (st["rounds"], st["duration"], st["sweep_duration"]),
        "- Ratios are Stash / peer: above 1 is better for throughput, below 1 is better for latency, "
        "memory and instructions.",
        "",
        "## Results",
        "",
        tables(data),
        "",
        "## Plots",
        "",
    ]
    for png, title in (("throughput_vs_connections.png", "GET throughput vs connections"),
                       ("latency_percentiles_p1.png", "GET latency percentiles, -P 1"),
                       ("latency_percentiles_p16.png", "GET latency percentiles, -P 16")):
        lines.append("![%s](%s/%s)" % (title, rel, png))
        lines.append("")
    lines += ["## Commands", "", "Each server started on a free loopback port; then, per section:", "", "```"]
    for section, cmds in sorted(data["commands"].items()):
        lines.append("# %s" % section)
        lines += cmds if isinstance(cmds, list) else [cmds]
    lines += ["```", "", "Memory: RSS of the server process before and after `--prefill` of the key space, "
              "after %.0f s for the allocator to return freed pages; used_memory from INFO (Redis, Stash) "
              "or `stats bytes` (memcached)." % st["mem_settle"],
              "Instructions: `valgrind --tool=callgrind` on the server, counters zeroed "
              "(`callgrind_control -z`) before %d requests and dumped after." % st["cg_requests"], ""]
    agreement = os.path.join(out_dir, "agreement.md") if out_dir else None
    if agreement and os.path.exists(agreement):
        with open(agreement) as f:
            lines += ["## stash-benchmark vs redis-benchmark (bench/agreement.py)", "", f.read().strip(), "",
                      "`client-bound`: redis-benchmark spent its whole core on itself (five `epoll_ctl` "
                      "calls per request) while redis-server still had CPU to spare; stash-benchmark "
                      "(one `writev` and one `read` per request) drove the server to its limit. The "
                      "figures agree where both tools are limited by the server.", ""]
    # The tables of the other bench scripts, each written by its own run.
    for name, title in (("tls.md", "TLS in transit (bench/tls.py)"),
                        ("encryption.md", "Encryption at rest (bench/encryption.py)"),
                        ("persist.md", "Snapshots (bench/persist.py)"),
                        ("aof.md", "Append-only file (bench/aof.py)"),
                        ("repl.md", "Replication (bench/repl.py)")):
        path = os.path.join(out_dir, name) if out_dir else None
        if path and os.path.exists(path):
            with open(path) as f:
                lines += ["## " + title, "", f.read().strip(), ""]
    notes = list(data.get("notes", []))
    notes.append("memcached 1.6 sends the replies to pipelined text-protocol `get`s in many small "
                 "writes (seen: about 7 writes per batch of 16; meta protocol: 1) and spends about 4x "
                 "the CPU per request, so text GET/MGET at -P 16 measure that, not the client.")
    lines += ["## Notes", ""] + ["- " + n for n in notes] + [""]
    return "\n".join(lines)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("json", nargs="?", default=os.path.join(here, "results", "latest.json"))
    ap.add_argument("--md", default=os.path.join(here, "RESULTS.md"))
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()
    with open(args.json) as f:
        data = json.load(f)
    out = os.path.dirname(os.path.abspath(args.json))
    if not args.no_plots:
        plots(data, out)
    with open(args.md, "w") as f:
        f.write(document(data, os.path.relpath(out, os.path.dirname(os.path.abspath(args.md))), out))
    print("wrote %s" % args.md)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Throughput and p99 of stash-server vs redis-server 7.0, side by side.
#
#   bench/compare.sh [stash-server binary] [rounds] [requests]
#
# redis-benchmark, 50 clients, 32-byte values, 100k random keys, GET and
# SET, without pipelining (-P 1) and with -P 16. Servers alternate in every
# round (redis, stash 1 thread, stash 2 threads) to cancel drift; medians
# over the rounds are printed with Stash/Redis ratios. On a 2-core machine
# the 1-thread servers are pinned to CPU 1 and the client to CPU 0; the
# 2-thread Stash may use both CPUs (and so competes with the client).
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
ROUNDS=${2:-5}
N=${3:-200000}
TMP=$(mktemp -d)
OUT=$TMP/results.csv
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NCPU=$(nproc)
SRV_CPU=$((NCPU > 1 ? 1 : 0))

run_one() { # label, cpus, command...
  local label=$1 cpus=$2; shift 2
  local p
  p=$(port)
  taskset -c "$cpus" "$@" --port "$p" >"$TMP/$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  for pl in 1 16; do
    timeout 300 taskset -c 0 redis-benchmark -p "$p" -c 50 -n "$N" -d 32 -r 100000 -t set,get -P "$pl" --csv 2>/dev/null |
      tr -d '"' | awk -F, -v l="$label" -v pl="$pl" 'NR>1 {print l "," $1 "," pl "," $2 "," $7}' >>"$OUT"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for r in $(seq "$ROUNDS"); do
  run_one redis "$SRV_CPU" redis-server --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP"
  run_one stash-1t "$SRV_CPU" "$BIN" --bind 127.0.0.1 --threads 1 --dir "$TMP"
  run_one stash-2t "0-$((NCPU - 1))" "$BIN" --bind 127.0.0.1 --threads 2 --dir "$TMP"
done

/usr/bin/python3 - "$OUT" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
med = {}
for label, test, pl, rps, p99 in rows:
    med.setdefault((label, test, pl), []).append((float(rps), float(p99)))
print("| test | pipeline | redis rps | stash 1t rps | ratio | stash 2t rps | ratio | redis p99 ms | stash 1t p99 | stash 2t p99 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for test in ("SET", "GET"):
    for pl in ("1", "16"):
        def m(label, i):
            v = med.get((label, test, pl))
            return statistics.median(x[i] for x in v) if v else float("nan")
        r, s1, s2 = m("redis", 0), m("stash-1t", 0), m("stash-2t", 0)
        print("| %s | %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.3f | %.3f | %.3f |" % (
            test, pl, r, s1, s1 / r, s2, s2 / r, m("redis", 1), m("stash-1t", 1), m("stash-2t", 1)))
PY
rm -rf "$TMP"

#!/usr/bin/env bash
# memcached engine vs memcached 1.6, side by side.
#
#   bench/memcache_compare.sh [stash-server binary] [rounds] [seconds] [threads]
#
# Both servers run with the same thread count (-t, default 1) and -m 4096;
# bench/memcache_load.c (built here) drives them: 50 connections, 32-byte
# values, 100k keys filled first; GET and SET without pipelining, a
# multi-get of 10 keys without and with pipelining (16 in flight per
# connection). Throughput and p99 latency per run; servers alternate in
# every round to cancel drift; medians over the rounds with Stash/memcached
# ratios. Then RSS per item: 1,000,000 items of 32 bytes (keys "key:NNNNNNN")
# stored into a fresh server, (RSS after - RSS before) / 1,000,000.
# On a 2-core machine a 1-thread server is pinned to CPU 1 and the load
# generator to CPU 0; with more server threads nothing is pinned.
# Output: a Markdown table on stdout (bench/memcache_results.md keeps one).
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
ROUNDS=${2:-3}
SECS=${3:-5}
THREADS=${4:-1}
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cc -O2 -pthread -o "$TMP/load" bench/memcache_load.c
NCPU=$(nproc)
if [ "$THREADS" = 1 ] && [ "$NCPU" -gt 1 ]; then SRV_CPUS=1; CLI_CPUS=0; else SRV_CPUS="0-$((NCPU - 1))"; CLI_CPUS=$SRV_CPUS; fi
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
USER_ARGS=(); [ "$(id -u)" = 0 ] && USER_ARGS=(-u root)

start() { # name port -> pid in $PID
  local name=$1 p=$2
  local args=(-p "$p" -U 0 -l 127.0.0.1 -t "$THREADS" -m 4096 -c 1024 "${USER_ARGS[@]}")
  if [ "$name" = memcached ]; then
    taskset -c "$SRV_CPUS" "$MEMCACHED" "${args[@]}" >"$TMP/$name.log" 2>&1 &
  else
    taskset -c "$SRV_CPUS" "$BIN" --engine memcached "${args[@]}" >"$TMP/$name.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server $name did not start" >&2
  cat "$TMP/$name.log" >&2
  exit 1
}

stopsrv() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

load() { taskset -c "$CLI_CPUS" timeout 600 "$TMP/load" -T 1 "$@"; }

OUT=$TMP/results.txt
: >"$OUT"
for r in $(seq "$ROUNDS"); do
  for name in memcached stash; do
    p=$(port)
    start "$name" "$p"
    load -p "$p" -m fill -r 100000 -c 10 -P 16 >/dev/null
    for test in "get:-m get -P 1" "set:-m set -P 1" "mget10:-m mget -k 10 -P 1" "mget10-P16:-m mget -k 10 -P 16"; do
      label=${test%%:*}
      # shellcheck disable=SC2086
      line=$(load -p "$p" -c 50 -r 100000 -s 32 -d "$SECS" ${test#*:})
      ops=$(sed -E 's/.*ops_per_sec=([0-9]+).*/\1/' <<<"$line")
      p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
      errs=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
      echo "$name $label $ops $p99 $errs" >>"$OUT"
    done
    stopsrv
  done
done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
declare -A RSS
for name in memcached stash; do
  p=$(port)
  start "$name" "$p"
  sleep 0.5
  before=$(rss_kb "$PID")
  load -p "$p" -m fill -r 1000000 -c 10 -P 32 -s 32 >/dev/null
  sleep 0.5
  after=$(rss_kb "$PID")
  RSS[$name]=$(( (after - before) * 1024 / 1000000 ))
  stopsrv
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
echo "memcached engine vs memcached $("$MEMCACHED" -V | awk '{print $2}'), $THREADS thread(s) each, $NCPU CPUs," \
     "$ROUNDS rounds of ${SECS}s, medians"
echo
echo "| test | memcached ops/s | stash ops/s | ratio | memcached p99 us | stash p99 us | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for label in get set mget10 mget10-P16; do
  mo=$(awk -v l="$label" '$1=="memcached" && $2==l {print $3}' "$OUT" | median)
  so=$(awk -v l="$label" '$1=="stash" && $2==l {print $3}' "$OUT" | median)
  mp=$(awk -v l="$label" '$1=="memcached" && $2==l {print $4}' "$OUT" | median)
  sp=$(awk -v l="$label" '$1=="stash" && $2==l {print $4}' "$OUT" | median)
  printf "| %s | %s | %s | %.2f | %s | %s | %.2f |\n" "$label" "$mo" "$so" \
    "$(echo "$so / $mo" | bc -l)" "$mp" "$sp" "$(echo "$sp / $mp" | bc -l)"
done
errs=$(awk '{s += $5} END {print s + 0}' "$OUT")
echo
echo "| RSS per item (1,000,000 x 32-byte values) | memcached | stash | ratio |"
echo "|---|---:|---:|---:|"
printf "| bytes | %s | %s | %.2f |\n" "${RSS[memcached]}" "${RSS[stash]}" "$(echo "${RSS[stash]} / ${RSS[memcached]}" | bc -l)"
echo
echo "error replies during the runs: $errs"

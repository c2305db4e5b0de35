#!/usr/bin/env bash
# EVALSHA throughput, Stash vs redis-server 7.0, side by side.
#
#   bench/scripting.sh [stash-server binary] [rounds]
#   CALLGRIND=1 bench/scripting.sh ...   also instructions per request
#
# The script is the usual INCR + EXPIRE of a rate limiter; keys are spread
# over 100,000 names (redis-benchmark's __rand_int__). Each server runs
# pinned to CPU 1 (Stash with one worker thread: the same core budget as
# Redis), redis-benchmark to CPU 0; the servers alternate within each round
# and the medians are reported, with a plain INCR for reference and the
# Stash/Redis ratios. Loopback only; every run is bounded by -n.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
ROUNDS=${2:-5}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
SCRIPT="local n = redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], 60) return n"

command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
  echo "needs redis-server and redis-benchmark (scripts/deps.sh test)"; exit 1; }
[ -x "$BIN" ] || { echo "no stash-server at $BIN"; exit 1; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT

wait_up() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

SP=$(free_port)
taskset -c 1 "$BIN" --port "$SP" --bind 127.0.0.1 --threads 1 --dir "$DIR" --logfile "$DIR/stash.log" &
PIDS+=($!)
RP=$(free_port)
taskset -c 1 redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
  --logfile "$DIR/redis.log" &
PIDS+=($!)
wait_up "$SP" && wait_up "$RP" || { echo "servers did not start"; exit 1; }
SHA=$(redis-cli -p "$SP" script load "$SCRIPT")
[ "$SHA" = "$(redis-cli -p "$RP" script load "$SCRIPT")" ] || { echo "SHA mismatch"; exit 1; }

# ops/sec of one redis-benchmark run.
run() {
  local port=$1; shift
  taskset -c 0 redis-benchmark -p "$port" -c "$CLIENTS" -n "$N" -r 100000 -q "$@" 2>/dev/null |
    tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A RES
for ((i = 1; i <= ROUNDS; i++)); do
  for who in stash redis; do
    port=$SP; [ "$who" = redis ] && port=$RP
    RES[$who-evalsha]+="$(run "$port" EVALSHA "$SHA" 1 key:__rand_int__) "
    RES[$who-incr]+="$(run "$port" INCR key:__rand_int__) "
  done
done

printf '%-10s %14s %14s %8s\n' test "stash ops/s" "redis ops/s" ratio
for t in evalsha incr; do
  s=$(echo "${RES[stash-$t]}" | tr ' ' '\n' | grep . | median)
  r=$(echo "${RES[redis-$t]}" | tr ' ' '\n' | grep . | median)
  printf '%-10s %14.0f %14.0f %8.2f\n' "$t" "$s" "$r" "$(echo "$s / $r" | bc -l)"
done
echo "($ROUNDS rounds, medians; -n $N -c $CLIENTS, server on CPU 1, client on CPU 0)"

# Instructions per request (machine noise free): each server under
# callgrind, instrumentation on only while redis-benchmark sends CN requests.
[ "${CALLGRIND:-0}" = 1 ] || exit 0
command -v valgrind >/dev/null || { echo "valgrind missing: no instruction counts"; exit 0; }
CN=${CN:-20000}
instr() { # name, command to run a server on $1
  local name=$1; shift
  local port; port=$(free_port)
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR/$name.cg" "$@" --port "$port" \
    >"$DIR/$name.vg.log" 2>&1 &
  local vp=$!
  for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" script load "$SCRIPT" >/dev/null
  redis-benchmark -p "$port" -c 10 -n 2000 -r 100000 -q EVALSHA "$SHA" 1 key:__rand_int__ >/dev/null 2>&1
  callgrind_control -i on "$vp" >/dev/null 2>&1
  redis-benchmark -p "$port" -c 10 -n "$CN" -r 100000 -q EVALSHA "$SHA" 1 key:__rand_int__ >/dev/null 2>&1
  callgrind_control -i off "$vp" >/dev/null 2>&1
  kill "$vp"; wait "$vp" 2>/dev/null || true
  [ -n "${KEEP_PROFILE:-}" ] && cp "$DIR/$name.cg" "/tmp/scripting-$name.cg"
  echo $(( $(grep -E "^totals:" "$DIR/$name.cg" | awk '{print $2}') / CN ))
}
si=$(instr stash "$BIN" --bind 127.0.0.1 --threads 1 --dir "$DIR")
ri=$(instr redis redis-server --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR")
printf 'instructions per EVALSHA: stash %d, redis %d, ratio %.2f\n' "$si" "$ri" "$(echo "$si / $ri" | bc -l)"

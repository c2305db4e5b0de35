#!/usr/bin/env bash
# Instructions per request, measured with callgrind (noise-free), for
# stash-server and redis-server side by side.
#
#   bench/callgrind.sh [stash-server binary] [requests]
#
# Each server runs under valgrind --tool=callgrind with one worker thread;
# keys are loaded first, counters are zeroed, then `requests` GETs (and then
# SETs) without pipelining are sent by redis-benchmark (50 clients, 32-byte
# values, 100k key space). Counted: user-space instructions of the whole
# server process (all threads) divided by requests.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
N=${2:-20000}
TMP=$(mktemp -d)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() { # name, port, server command...
  local name=$1 p=$2; shift 2
  valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.%p.out" "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$p" ping >/dev/null || { echo "$name did not start:"; cat "$TMP/$name.log"; exit 1; }
  timeout 300 redis-benchmark -p "$p" -c 50 -n 100000 -r 100000 -d 32 -t set -P 16 -q >/dev/null 2>&1
  for t in get set; do
    callgrind_control -z "$pid" >/dev/null
    timeout 300 redis-benchmark -p "$p" -c 50 -n "$N" -r 100000 -d 32 -t "$t" -P 1 -q >/dev/null 2>&1
    callgrind_control -d "$t" "$pid" >/dev/null
    sleep 0.5
    local f
    f=$(ls -t "$TMP/$name.$pid.out".* 2>/dev/null | head -1)
    local ir
    ir=$(grep -E "^(summary|totals):" "$f" | head -1 | awk '{print $2}')
    echo "$name $t $((ir / N))"
    rm -f "$TMP/$name.$pid.out".*
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

P1=$(port)
measure stash "$P1" "$BIN" --port "$P1" --bind 127.0.0.1 --threads 1 --dir "$TMP"
P2=$(port)
measure redis "$P2" redis-server --port "$P2" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP"
rm -rf "$TMP"

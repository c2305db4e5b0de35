#!/usr/bin/env bash
# Where the instructions of one request type go: callgrind profile of
# stash-server (one worker) while stash-benchmark sends N requests.
#
#   bench/profile.sh [binary] [get|set|...] [N] [pipeline]
#
# Keys are loaded first (100k, 32-byte values); instrumentation is switched
# on only for the measured phase. Prints the per-request total and the top
# functions by self cost; the profile is kept in /tmp/stash-profile-<test>.out.
# (Side-by-side instruction counts: bench/run.sh --only callgrind.)
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
T=${2:-get}
N=${3:-20000}
PIPE=${4:-1}
SB=${STASH_BENCHMARK:-$(dirname "$(dirname "$BIN")")/bench/stash-benchmark}
TMP=$(mktemp -d)
P=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.out" \
  "$BIN" --port "$P" --bind 127.0.0.1 --threads 1 --save '' --dir "$TMP" >"$TMP/log" 2>&1 &
VPID=$!
for _ in $(seq 200); do redis-cli -p "$P" ping >/dev/null 2>&1 && break; sleep 0.1; done
"$SB" -p "$P" -c 50 -P 64 -r 100000 -d 32 --prefill -t get -n 1 -q --timeout 60
callgrind_control -i on "$VPID" >/dev/null
"$SB" -p "$P" -c 50 -n "$N" -r 100000 -d 32 -t "$T" -P "$PIPE" -q --timeout 60 ||
  echo "warning: stash-benchmark reported failures (see above)"
callgrind_control -i off "$VPID" >/dev/null
kill "$VPID"; wait "$VPID" 2>/dev/null || true
TOTAL=$(grep -E "^totals:" "$TMP/cg.out" | awk '{print $2}')
echo "instructions per $T: $((TOTAL / N)) (total $TOTAL, $N requests, pipeline $PIPE)"
callgrind_annotate --inclusive=no "$TMP/cg.out" 2>/dev/null | sed -n '/file:function/,/^$/p' | head -40
cp "$TMP/cg.out" /tmp/stash-profile-$T.out
rm -rf "$TMP"

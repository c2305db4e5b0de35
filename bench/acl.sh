#!/usr/bin/env bash
# The cost of ACLs: GET/SET throughput as the default user (no password,
# every permission: the check is one load) and as a restricted ACL user
# (~key:* +@all -@dangerous: every request takes the slow path with a key
# pattern check), Stash vs redis-server 7.0, side by side; then callgrind's
# instructions per GET for both users on Stash.
#
#   bench/acl.sh [stash-server binary] [rounds] [requests]
#
# One server thread each (Stash --threads 1, pinned to CPU 1; the load
# generator, build/bench/stash-benchmark, on CPU 0): 50 connections, no
# pipelining, 32-byte values, 100k keys. Servers alternate in every round;
# medians over the rounds and Stash/Redis ratios, as a Markdown table.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
ROUNDS=${2:-3}
N=${3:-200000}
SB=${STASH_BENCHMARK:-$(dirname "$(dirname "$BIN")")/bench/stash-benchmark}
TMP=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
NCPU=$(nproc)
if [ "$NCPU" -gt 1 ]; then SRV=1; CLI=0; else SRV=0; CLI=0; fi
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RULES=(on '>benchpw' '~key:*' '+@all' '-@dangerous')

start() { # name port
  if [ "$1" = redis ]; then
    taskset -c $SRV redis-server --port "$2" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
      >"$TMP/redis.log" 2>&1 &
  else
    taskset -c $SRV "$BIN" --port "$2" --bind 127.0.0.1 --threads 1 --dir "$TMP" >"$TMP/stash.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 200); do redis-cli -p "$2" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$2" acl setuser bench "${RULES[@]}" >/dev/null
}
stopsrv() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

run() { # port test auth-args... -> ops/s
  local p=$1 t=$2
  shift 2
  taskset -c $CLI "$SB" -p "$p" -c 50 -n "$N" -r 100000 -d 32 -t "$t" -q --csv "$@" |
    awk -F, -v t="$t" 'tolower($1) ~ t {gsub(/"/,"",$2); print $2; exit}'
}

OUT=$TMP/results.txt
: >"$OUT"
for r in $(seq "$ROUNDS"); do
  for name in redis stash; do
    p=$(port)
    start "$name" "$p"
    taskset -c $CLI "$SB" -p "$p" -c 50 -P 64 -r 100000 -d 32 --prefill -t get -n 1 -q >/dev/null
    for t in get set; do
      echo "$name default $t $(run "$p" "$t")" >>"$OUT"
      echo "$name acl $t $(run "$p" "$t" --user bench -a benchpw)" >>"$OUT"
    done
    stopsrv
  done
done

/usr/bin/python3 - "$OUT" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, user, test, ops = line.split()
    rows.setdefault((name, user, test), []).append(float(ops))
med = {k: statistics.median(v) for k, v in rows.items()}
print("| test | user | redis-server ops/s | Stash ops/s | Stash/Redis | ACL/default (Stash) | ACL/default (Redis) |")
print("|---|---|---:|---:|---:|---:|---:|")
for test in ("get", "set"):
    for user in ("default", "acl"):
        r, s = med[("redis", user, test)], med[("stash", user, test)]
        print("| %s | %s | %.0f | %.0f | %.2f | %.3f | %.3f |" % (
            test.upper(), user, r, s, s / r, s / med[("stash", "default", test)],
            r / med[("redis", "default", test)]))
EOF

# Instructions per GET on Stash (callgrind), default user vs ACL user.
if command -v valgrind >/dev/null; then
  for user in default acl; do
    p=$(port)
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.$user" \
      "$BIN" --port "$p" --bind 127.0.0.1 --threads 1 --dir "$TMP" >"$TMP/vg.log" 2>&1 &
    PID=$!
    for _ in $(seq 200); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$p" acl setuser bench "${RULES[@]}" >/dev/null
    AUTH=()
    [ "$user" = acl ] && AUTH=(--user bench -a benchpw)
    "$SB" -p "$p" -c 50 -P 64 -r 100000 -d 32 --prefill -t get -n 1 -q --timeout 60 >/dev/null
    callgrind_control -i on "$PID" >/dev/null
    "$SB" -p "$p" -c 50 -n 20000 -r 100000 -d 32 -t get -q --timeout 60 "${AUTH[@]}" >/dev/null
    callgrind_control -i off "$PID" >/dev/null
    stopsrv
    total=$(grep -E "^totals:" "$TMP/cg.$user" | awk '{print $2}')
    echo "callgrind: instructions per GET, $user user: $((total / 20000))"
  done
fi

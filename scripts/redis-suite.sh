#!/usr/bin/env bash
# Run the Redis 7.0 test suite units that Stash covers, in external mode,
# against a fresh stash-server. Needs network access to Debian's sources
# the first time (apt-get source redis); the tree is kept in
# tests/redis-suite/ (not committed).
#
#   scripts/redis-suite.sh [stash-server binary] [unit ...]
#
# Prints "[ok]"/"[err]" lines per test and, last, "SUITE-RESULT <passed>
# <failed> <known>": failures listed in tests/redis-suite-known-failures.txt
# (one "unit: test name" per line) are counted apart as known.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${1:-$ROOT/build/src/stash-server}
shift || true
UNITS=("$@")
[ ${#UNITS[@]} -eq 0 ] && UNITS=(type/string type/incr expire keyspace multi pubsub info-command protocol
                                 querybuf bitops introspection type/hash type/list type/list-2 type/list-3
                                 type/set type/zset hyperloglog geo sort scan dump)
SUITE=$ROOT/tests/redis-suite/redis-7.0.15
KNOWN=$ROOT/tests/redis-suite-known-failures.txt

if [ ! -x "$SUITE/runtest" ]; then
  mkdir -p "$ROOT/tests/redis-suite"
  if [ ! -f /etc/apt/sources.list.d/debian-src.sources ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      > /etc/apt/sources.list.d/debian-src.sources
    apt-get update -qq
  fi
  (cd "$ROOT/tests/redis-suite" && apt-get source --download-only redis >/dev/null 2>&1 &&
     tar xzf redis_*.orig.tar.gz) || { echo "cannot fetch the redis source package"; exit 1; }
fi

DIR=$(mktemp -d)
PID=
start_server() {
  PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # A directory of its own: the dump.rdb a unit's server saves on its way
  # out (default save points, as redis-server) must not be loaded by the next.
  UDIR=$(mktemp -d -p "$DIR")
  "$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$UDIR" --logfile "$DIR/stash.log" --enable-debug-command yes &
  PID=$!
  for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
}
stop_server() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  PID=
}
trap 'stop_server; rm -rf "$DIR"' EXIT

OUT=$DIR/out.txt
: > "$OUT"
for u in "${UNITS[@]}"; do
  # A fresh server per unit: a unit that fails half-way must not leave its
  # settings (maxmemory...) to the next one.
  start_server
  # TERM=dumb: no colour codes around [ok]/[err]; a random base port keeps
  # parallel runs from colliding on the test server's port. When the port
  # is taken anyway (other servers on this machine), the harness exits at
  # once: try again with another one, and count a unit that never ran.
  UOUT=$DIR/unit.txt
  for attempt in 1 2 3 4 5; do
    (cd "$SUITE" && TERM=dumb timeout 600 ./runtest --host 127.0.0.1 --port "$PORT" --single "unit/$u" \
        --baseport $((20000 + RANDOM % 30000)) \
        --tags "-needs:repl -needs:pfdebug -needs:config-maxmemory" \
        --ignore-encoding --durable --clients 1 --timeout 120 2>&1) | sed "s|^|$u: |" > "$UOUT"
    grep -q "couldn't open socket: address already in use" "$UOUT" && ! grep -q "\[ok\]" "$UOUT" || break
  done
  if ! grep -qE "\[(ok|err|exception)\]" "$UOUT"; then
    tail -5 "$UOUT"
    echo "$u: [err]: the unit did not run" >> "$UOUT"
  fi
  cat "$UOUT" >> "$OUT"
  grep -E "\[(ok|err|exception)\]|Killing|exception" "$UOUT" || true
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "$u: [err]: stash-server died"
    echo "$u: [err]: stash-server died" >> "$OUT"
    PID=
  fi
  stop_server
done
passed=$(grep -cE "\[ok\]:" "$OUT")
failed=0
known=0
# (lines "*** [err]: ..." are the end-of-unit summary repeating each failure)
while IFS= read -r line; do
  name=$(echo "$line" | sed -E 's/^([^:]+): \[(err|exception)\]: (.*)$/\1: \3/' | sed -E 's/ in tests\/.*$//')
  if [ -f "$KNOWN" ] && grep -qxF "$name" "$KNOWN"; then
    known=$((known + 1))
  else
    failed=$((failed + 1))
    echo "UNEXPECTED FAILURE: $name"
  fi
done < <(grep -E "\[(err|exception)\]:" "$OUT" | grep -v ": \*\*\* \[")
echo "SUITE-RESULT $passed $failed $known"

#!/usr/bin/env bash
# Run the Redis 7.0 test suite units that Stash covers, in external mode,
# against a fresh stash-server. Needs network access to Debian's sources
# the first time (apt-get source redis); the tree is kept in
# tests/redis-suite/ (not committed).
#
#   scripts/redis-suite.sh [stash-server binary] [unit ...]
#
# A unit written "tls:NAME" runs with the suite's --tls option against a
# server listening with TLS only (certificates made for the run; needs the
# openssl command and Tcl's tls package, Debian's tcl-tls).
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
                                 type/set type/zset hyperloglog geo sort scan tracking tls:tls tls:protocol)
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
TLS_ARGS=()
start_server() {
  PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local ping=(redis-cli -p "$PORT")
  if [ ${#TLS_ARGS[@]} -gt 0 ]; then
    "$BIN" --port 0 --tls-port "$PORT" "${TLS_ARGS[@]}" --bind 127.0.0.1 --dir "$DIR" --logfile "$DIR/stash.log" \
      --enable-debug-command yes &
    ping+=(--tls --cacert "$TLSDIR/ca.crt" --cert "$TLSDIR/client.crt" --key "$TLSDIR/client.key")
  else
    "$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --logfile "$DIR/stash.log" --enable-debug-command yes &
  fi
  PID=$!
  for _ in $(seq 100); do "${ping[@]}" ping >/dev/null 2>&1 && break; sleep 0.05; done
}

# The suite's tree with a private tests/tls (certificates as the suite's
# utils/gen-test-certs.sh makes them, with a ready-made DH group) and
# tests/tmp: everything else is linked.
TLSDIR=
tls_tree() {
  local tree=$DIR/suite-tls
  [ -d "$tree" ] && return 0
  mkdir -p "$tree/tests/tls" "$tree/tests/tmp"
  for f in "$SUITE"/*; do [ "$(basename "$f")" = tests ] || ln -s "$f" "$tree/$(basename "$f")"; done
  for f in "$SUITE"/tests/*; do
    case $(basename "$f") in tls|tmp) ;; *) ln -s "$f" "$tree/tests/$(basename "$f")" ;; esac
  done
  TLSDIR=$tree/tests/tls
  ( cd "$TLSDIR" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj '/O=Redis Test/CN=Certificate Authority' &&
    printf '[server_cert]\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n[client_cert]\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = clientAuth\n[generic]\nkeyUsage = digitalSignature, keyEncipherment\n' > openssl.cnf &&
    for n in server:Server-only:server_cert client:Client-only:client_cert redis:Generic-cert:generic; do
      IFS=: read -r name cn ext <<<"$n"
      openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -subj "/O=Redis Test/CN=$cn" |
        openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile openssl.cnf \
          -extensions "$ext" -out "$name.crt" || exit 1
    done &&
    openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out redis.dh ) >/dev/null 2>&1
}
stop_server() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  PID=
}
trap 'stop_server; rm -rf "$DIR"' EXIT

OUT=$DIR/out.txt
: > "$OUT"
for u in "${UNITS[@]}"; do
  tree=$SUITE
  TLS_ARGS=()
  tls_opt=()
  if [ "${u#tls:}" != "$u" ]; then
    u=${u#tls:}
    if ! tls_tree || ! echo 'package require tls' | tclsh >/dev/null 2>&1; then
      echo "$u: [err]: TLS mode needs openssl and Tcl's tls package (tcl-tls)" | tee -a "$OUT"
      continue
    fi
    tree=$DIR/suite-tls
    tls_opt=(--tls)
    TLS_ARGS=(--tls-cert-file "$TLSDIR/server.crt" --tls-key-file "$TLSDIR/server.key"
              --tls-client-cert-file "$TLSDIR/client.crt" --tls-client-key-file "$TLSDIR/client.key"
              --tls-dh-params-file "$TLSDIR/redis.dh" --tls-ca-cert-file "$TLSDIR/ca.crt"
              --tls-replication yes --tls-cluster yes)
  fi
  # A fresh server per unit: a unit that fails half-way must not leave its
  # settings (maxmemory...) to the next one.
  start_server
  # TERM=dumb: no colour codes around [ok]/[err]; a random base port keeps
  # parallel runs from colliding on the test server's port (and when it
  # still collides, the unit ran nothing: it runs again on another).
  for attempt in 1 2 3; do
    (cd "$tree" && TERM=dumb timeout 600 ./runtest --host 127.0.0.1 --port "$PORT" --single "unit/$u" \
        ${tls_opt[@]+"${tls_opt[@]}"} --baseport $((20000 + RANDOM % 30000)) \
        --tags "-needs:repl -needs:pfdebug -needs:save -needs:config-maxmemory" \
        --ignore-encoding --durable --clients 1 --timeout 120 2>&1) | sed "s|^|$u: |" > "$DIR/unit.txt"
    grep -q "couldn't open socket: address already in use" "$DIR/unit.txt" || break
  done
  tee -a "$OUT" < "$DIR/unit.txt" | grep -E "\[(ok|err|exception|TIMEOUT)\]|Killing|exception|IN PROGRESS" || true
  # A test that hangs ends the unit with [TIMEOUT]: the test in progress failed.
  if grep -q "^$u: \[TIMEOUT\]" "$OUT"; then
    t=$(grep "^$u: .*(IN PROGRESS)" "$OUT" | tail -1 | sed -E 's/.*\(IN PROGRESS\) //')
    echo "$u: [err]: ${t:-the unit timed out}" | tee -a "$OUT"
  fi
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

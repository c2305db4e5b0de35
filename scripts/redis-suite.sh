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
BIN=$(readlink -f "${1:-$ROOT/build/src/stash-server}")
shift || true
UNITS=("$@")
[ ${#UNITS[@]} -eq 0 ] && UNITS=(type/string type/incr expire keyspace multi pubsub info-command protocol
                                 querybuf bitops introspection type/hash type/list type/list-2 type/list-3
                                 type/set type/zset hyperloglog geo sort scan tracking type/stream
                                 type/stream-cgroups scripting functions auth acl acl-v2 tls:tls tls:protocol dump
                                 other lazyfree pause violations info
                                 aofrw integration/aof integration/aof-multi-part)
# Units whose every test is tagged external:skip (they start servers with
# their own settings: requirepass, aclfile, user directives, AOF files):
# the suite starts them itself, through a redis-server stand-in that runs
# Stash.
SPAWNED=(auth acl acl-v2 info aofrw integration/aof integration/aof-multi-part)
WITH_REPL=(${WITH_REPL_UNITS:-expire introspection multi scripting slowlog type/list type/string type/zset})
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
  # A directory of its own: the dump.rdb a unit's server saves on its way
  # out (default save points, as redis-server) must not be loaded by the next.
  UDIR=$(mktemp -d -p "$DIR")
  local ping=(redis-cli -p "$PORT")
  if [ ${#TLS_ARGS[@]} -gt 0 ]; then
    "$BIN" --port 0 --tls-port "$PORT" "${TLS_ARGS[@]}" --bind 127.0.0.1 --dir "$UDIR" --logfile "$DIR/stash.log" \
      --enable-debug-command yes "$@" &
    ping+=(--tls --cacert "$TLSDIR/ca.crt" --cert "$TLSDIR/client.crt" --key "$TLSDIR/client.key")
  else
    "$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$UDIR" --logfile "$DIR/stash.log" --enable-debug-command yes "$@" &
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
trap 'stop_server; [ -n "${KEEP_SUITE_DIR:-}" ] || rm -rf "$DIR"' EXIT

OUT=$DIR/out.txt
: > "$OUT"

# A copy of the suite whose src/redis-server runs stash-server: it drops the
# directives of the suite's default.conf that Stash does not have (none of
# them matters to these units) and prints the " PID: " line the suite waits
# for (Redis prints it in its logo).
spawn_tree() {
  local t=$DIR/spawn
  [ -d "$t" ] && return 0
  mkdir -p "$t/src" && cp -r "$SUITE/tests" "$SUITE/runtest" "$t/" || return 1
  for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
    command -v "$tool" >/dev/null && ln -sf "$(command -v "$tool")" "$t/src/$tool"
  done
  cat > "$t/src/redis-server" <<WRAP
#!/bin/sh
if [ \$# -ge 1 ] && [ -f "\$1" ]; then
  conf="\$1.stash"
  # A restart (restart_server) keeps what CONFIG REWRITE wrote into the
  # server's own file, as redis-server re-reading its rewritten file does.
  [ -f "\$conf" ] && [ ! "\$1" -nt "\$conf" ] ||
    grep -v -E '^(always-show-logo|pidfile|save|rdbcompression|dbfilename|activerehashing|enable-protected-configs|enable-module-command|propagation-error-behavior) ' "\$1" > "\$conf"
  shift
  # The suite connects as soon as it sees " PID: <pid>": stash-server logs
  # it once its ports are open (Redis prints it in its logo then). Should
  # the server stop before that (a bad configuration), the line is printed
  # here, so the suite sees the failure. In the subshell \$\$ is still the
  # server's PID (exec keeps it); its stdout is the suite's log file.
  out=\$(readlink /proc/\$\$/fd/1)
  (
    [ -f "\$out" ] || { echo "stash-server stand-in PID: \$\$"; exit 0; }
    i=0
    while [ \$i -lt 1200 ]; do
      grep -q " PID: \$\$" "\$out" 2>/dev/null && exit 0
      state=\$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/\$\$/status 2>/dev/null)
      [ -z "\$state" ] || [ "\$state" = Z ] && break
      sleep 0.05
      i=\$((i + 1))
    done
    grep -q " PID: \$\$" "\$out" 2>/dev/null || echo "stash-server stand-in PID: \$\$"
  ) &
  exec "$BIN" "\$conf" "\$@" \${STASH_SPAWN_ARGS:-}
fi
exec "$BIN" "\$@"
WRAP
  chmod +x "$t/src/redis-server"
}

run_spawned() { # unit (integration/NAME: a unit of the suite's integration directory; needs:repl stays)
  spawn_tree || { echo "$1: [err]: cannot prepare the suite copy" | tee -a "$OUT"; return; }
  local path="unit/$1" tags="-needs:repl -needs:pfdebug -needs:save -needs:config-maxmemory"
  case "$1" in integration/*) path=$1; tags="-needs:pfdebug -needs:save -needs:config-maxmemory" ;; esac
  # The integration units rely on a single-threaded server in places
  # (DEBUG SLEEP freezing it all, CLIENT KILL inside MULTI reaching every
  # connection): their servers run one worker.
  local extra=""
  case "$1" in integration/*) extra="--threads 1" ;; esac
  # Tests that kill Redis's fork child (get_child_pid): Stash's snapshots
  # have no child process, so they would wait for their timeout.
  local skip=()
  # aofrw's two 10-second write loads cost 35 s of CI: the same rewrite
  # under load is tests/integration/test_aof.py's (bounded), and
  # `scripts/redis-suite.sh BIN aofrw` with FULL_AOFRW=1 runs them.
  [ "$1" = aofrw ] && [ -z "${FULL_AOFRW:-}" ] &&
    skip=(--skiptest "/AOF rewrite during write load")
  [ "$1" = integration/aof-multi-part ] &&
    skip=(--skiptest "AOF multiple rewrite failures will open multiple INCR AOFs"
          --skiptest "AOF will trigger limit when AOFRW fails many times"
          --skiptest "AOF will open a temporary INCR AOF to accumulate data until the first AOFRW success when AOF is dynamically enabled")
  (cd "$DIR/spawn" && STASH_SPAWN_ARGS="$extra" TERM=dumb timeout 600 ./runtest --single "$path" ${skip[@]+"${skip[@]}"} \
      --baseport $((20000 + RANDOM % 30000)) \
      --tags "$tags" \
      --ignore-encoding --durable --clients 1 --timeout 120 2>&1) | sed "s|^|$1: |" | tee -a "$OUT" |
      grep -E "\[(ok|err|exception)\]|Killing|exception" || true
}

for u in "${UNITS[@]}"; do
  if [[ " ${SPAWNED[*]} " == *" $u "* || $u == integration/* ]]; then
    run_spawned "$u"
    continue
  fi
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
  # The stream units send a blocking read on one connection and, without
  # waiting for it to block, a write on another (XREADGROUP ... BLOCK, then
  # DEL): single-threaded Redis runs them in arrival order, while across
  # worker threads the write may run first. One worker keeps arrival order;
  # wake-ups across workers are tested by tests/integration/test_stream.py.
  # The list units do the same with BRPOPLPUSH/BLMPOP from several clients
  # ("BRPOPLPUSH with multiple blocked clients": which one blocked first);
  # tests/integration/test_blocking.py covers blocking across workers.
  case "$u" in
    type/stream*|type/list*) start_server --threads 1 ;;
    *) start_server ;;
  esac
  TAGS="-needs:pfdebug -needs:config-maxmemory"
  # Units whose needs:repl tests pass (they read the replication stream
  # with SYNC): the others still skip them.
  [[ " ${WITH_REPL[*]} " == *" $u "* ]] || TAGS="$TAGS -needs:repl"
  # The needs:debug blocks of the stream units run with "appendonly yes"
  # (DEBUG LOADAOF, BGREWRITEAOF): a server without that option would abort
  # the whole unit at the block's CONFIG SET, so they are skipped until it
  # has one.
  if [[ "$u" == type/stream* ]] && [ -z "$(redis-cli -p "$PORT" config get appendonly 2>/dev/null)" ]; then
    TAGS="$TAGS -needs:debug"
  fi
  # TERM=dumb: no colour codes around [ok]/[err]; a random base port keeps
  # parallel runs from colliding on the test server's port. When the port
  # is taken anyway (other servers on this machine), the harness exits at
  # once: try again with another one, and count a unit that never ran.
  UOUT=$DIR/unit.txt
  for attempt in 1 2 3 4 5; do
    (cd "$tree" && TERM=dumb timeout 600 ./runtest --host 127.0.0.1 --port "$PORT" --single "unit/$u" \
        ${tls_opt[@]+"${tls_opt[@]}"} --baseport $((20000 + RANDOM % 30000)) \
        --tags "$TAGS" \
        --ignore-encoding --durable --clients 1 --timeout 120 2>&1) | sed "s|^|$u: |" > "$UOUT"
    grep -q "couldn't open socket: address already in use" "$UOUT" && ! grep -q "\[ok\]" "$UOUT" || break
  done
  if ! grep -qE "\[(ok|err|exception)\]|All tests passed" "$UOUT"; then
    tail -5 "$UOUT"
    echo "$u: [err]: the unit did not run" >> "$UOUT"
  fi
  # A test that hangs ends the unit with [TIMEOUT]: the test in progress failed.
  if grep -q "^$u: \[TIMEOUT\]" "$UOUT"; then
    t=$(grep "^$u: .*(IN PROGRESS)" "$UOUT" | tail -1 | sed -E 's/.*\(IN PROGRESS\) //')
    echo "$u: [err]: ${t:-the unit timed out}" >> "$UOUT"
  fi
  cat "$UOUT" >> "$OUT"
  grep -E "\[(ok|err|exception|TIMEOUT)\]|Killing|exception|IN PROGRESS" "$UOUT" || true
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

#!/usr/bin/env bash
# Bytes of RSS per key, for stash-server and redis-server side by side.
#
#   bench/memory.sh [stash-server binary] [keys] [keylen] [vallen]
#
# Each server starts empty (RSS measured), gets N string keys through
# pipelined SETs, then RSS is measured again; (after - before) / N.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
N=${2:-1000000}
KL=${3:-12}
VL=${4:-32}
TMP=$(mktemp -d)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }

measure() { # name, port, command...
  local name=$1 p=$2; shift 2
  "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 0.3
  local before after used
  before=$(rss $pid)
  timeout 600 /usr/bin/python3 bench/load_keys.py "$p" "$N" "$KL" "$VL"
  # Let the allocator return freed pages (jemalloc's dirty-page decay is
  # 10 s); both servers get the same wait.
  sleep "${SETTLE:-12}"
  after=$(rss $pid)
  used=$(redis-cli -p "$p" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
  local dbsize
  dbsize=$(redis-cli -p "$p" dbsize)
  echo "$name keys=$dbsize rss_before=$before rss_after=$after bytes_per_key=$(( (after - before) / N )) used_memory=$used"
  kill $pid; wait $pid 2>/dev/null || true
}

P1=$(port)
measure stash "$P1" "$BIN" --port "$P1" --bind 127.0.0.1 --dir "$TMP"
P2=$(port)
measure redis "$P2" redis-server --port "$P2" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP"
rm -rf "$TMP"

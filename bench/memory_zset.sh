#!/usr/bin/env bash
# Memory of one big sorted set (a leaderboard), stash-server and redis-server
# 7.0 side by side.
#
#   bench/memory_zset.sh [stash-server binary] [members] [member prefix]
#
# Each server starts empty (RSS measured), gets one sorted set of N members
# "<prefix><i>" (default "player:", i.e. 8-14 byte members) with random
# integer scores, through pipelined ZADDs of 100 members; then RSS is
# measured again. Prints RSS growth per member, used_memory growth per
# member and MEMORY USAGE of the key, and the Stash/Redis ratio of the RSS
# growth (the goal: <= 1.00).
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
N=${2:-1000000}
PREFIX=${3:-player:}
TMP=$(mktemp -d)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }

cat >"$TMP/load.py" <<'EOF'
import random, socket, sys
port, n, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
rnd = random.Random(42)
s = socket.create_connection(("127.0.0.1", port))
def cmd(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
batch, sent, pending = [], 0, 0
buf = b""
def drain(k):
    global buf
    while k:
        while b"\r\n" not in buf:
            buf += s.recv(65536)
        line, buf = buf.split(b"\r\n", 1)
        if line[:1] == b"-":
            sys.exit("error: " + line.decode())
        k -= 1
for i in range(0, n, 100):
    args = [b"ZADD", b"leaderboard"]
    for j in range(i, min(i + 100, n)):
        args += [b"%d" % rnd.randint(0, 10000000), prefix + b"%d" % j]
    s.sendall(cmd(args))
    pending += 1
    if pending == 64:
        drain(pending)
        pending = 0
drain(pending)
EOF

declare -A GROWTH
measure() { # name, port, command...
  local name=$1 p=$2; shift 2
  "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 0.3
  local before ubefore after uafter
  before=$(rss $pid)
  ubefore=$(used "$p")
  timeout 600 /usr/bin/python3 "$TMP/load.py" "$p" "$N" "$PREFIX"
  # Let the allocator return freed pages (jemalloc's dirty-page decay is
  # 10 s); both servers get the same wait.
  sleep "${SETTLE:-12}"
  after=$(rss $pid)
  uafter=$(used "$p")
  local card usage enc
  card=$(redis-cli -p "$p" zcard leaderboard)
  usage=$(redis-cli -p "$p" memory usage leaderboard)
  enc=$(redis-cli -p "$p" object encoding leaderboard)
  GROWTH[$name]=$((after - before))
  echo "$name members=$card encoding=$enc rss_growth=$((after - before)) rss_bytes_per_member=$(( (after - before) / N ))" \
       "used_memory_per_member=$(( (uafter - ubefore) / N )) memory_usage=$usage"
  kill $pid; wait $pid 2>/dev/null || true
}

P1=$(port)
measure stash "$P1" "$BIN" --port "$P1" --bind 127.0.0.1 --save '' --dir "$TMP"
P2=$(port)
measure redis "$P2" redis-server --port "$P2" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP"
/usr/bin/python3 -c "print('ratio stash/redis (RSS growth): %.2f' % (${GROWTH[stash]} / ${GROWTH[redis]}))"
rm -rf "$TMP"

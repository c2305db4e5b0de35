#!/usr/bin/env bash
# Bytes of RSS per key for 1,000,000 small hashes (session-like, 5 fields),
# stash-server and redis-server side by side.
#
#   bench/memory_hash.sh [stash-server binary] [keys]
#
# Each server starts empty (RSS measured), gets N hashes through pipelined
# HSETs over a raw socket (every reply checked), then RSS is measured again
# after the allocators settle; (after - before) / N. A session hash:
#
#   session:<8 digits>  user_id <int>  username user_<n>  ip 10.x.y.z
#                       created <unix s>  last_seen <unix s>
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/src/stash-server}
N=${2:-1000000}
TMP=$(mktemp -d)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }

cat >"$TMP/load.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
sent, batch = 0, 1000
while sent < n:
    m = min(batch, n - sent)
    out = []
    for i in range(sent, sent + m):
        out.append(cmd(b"HSET", b"session:%08d" % i,
                       b"user_id", b"%d" % (100000 + i * 7 % 900000),
                       b"username", b"user_%d" % i,
                       b"ip", b"10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                       b"created", b"%d" % (1700000000 + i),
                       b"last_seen", b"%d" % (1700003600 + i * 3)))
    s.sendall(b"".join(out))
    expect = b":5\r\n" * m
    got = b""
    while len(got) < len(expect):
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("connection closed")
        got += chunk
        if not expect.startswith(got[:len(expect)]):
            raise SystemExit("unexpected reply: %r" % got[:200])
    sent += m
PY

measure() { # name, port, command...
  local name=$1 p=$2; shift 2
  "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  sleep 0.3
  local before after used enc dbsize
  before=$(rss $pid)
  timeout 900 /usr/bin/python3 "$TMP/load.py" "$p" "$N"
  # Let the allocator return freed pages (jemalloc's dirty-page decay is
  # 10 s); both servers get the same wait.
  sleep "${SETTLE:-12}"
  after=$(rss $pid)
  used=$(redis-cli -p "$p" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
  dbsize=$(redis-cli -p "$p" dbsize)
  enc=$(redis-cli -p "$p" object encoding session:00000000)
  echo "$name keys=$dbsize encoding=$enc rss_before=$before rss_after=$after bytes_per_key=$(( (after - before) / N )) used_memory=$used"
  kill $pid; wait $pid 2>/dev/null || true
}

P1=$(port)
measure stash "$P1" "$BIN" --port "$P1" --bind 127.0.0.1 --save '' --dir "$TMP"
P2=$(port)
measure redis "$P2" redis-server --port "$P2" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP"
rm -rf "$TMP"

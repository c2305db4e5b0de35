#!/usr/bin/env bash
# Install the Debian packages Stash needs, if missing (idempotent; as root).
#   scripts/deps.sh build   - to build and run stash-server
#   scripts/deps.sh test    - also the test tools, peers and sanitizer runtimes
set -eu
want=(build-essential cmake pkg-config python3 libjemalloc-dev libsodium-dev libssl-dev liblzf-dev)
if [ "${1:-build}" = "test" ]; then
  want+=(clang llvm libclang-rt-14-dev python3-pytest python3-redis python3-pymemcache
         redis-server redis-tools memcached libmemcached-tools tcl valgrind procps)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

#!/usr/bin/env bash
# The side-by-side benchmark suite: Stash vs redis-server 7.0 and memcached 1.6
# (Debian packages, installed if missing), all load from stash-benchmark.
#
#   bench/run.sh [--quick] [--build-dir DIR] [--no-build] [suite options...]
#
# Full suite: about 7 minutes (3 rounds); --quick: under a minute (1 round,
# short tests, small key spaces). Prints Markdown tables with Stash/peer ratios;
# a full run also rewrites bench/RESULTS.md and the plots in bench/results/
# (--quick writes to BUILD/bench-quick). What is measured: bench/suite.py.
# Also: `cmake --build build --target bench` (or bench-quick).
set -eu
cd "$(dirname "$0")/.."
BUILD=build
DO_BUILD=1
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

want=(redis-server redis-tools memcached gnuplot-nox valgrind)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$DO_BUILD" = 1 ]; then
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target stash-server stash-benchmark >/dev/null
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" bench/suite.py --build-dir "$BUILD" ${ARGS[@]+"${ARGS[@]}"}

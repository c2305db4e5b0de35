#!/usr/bin/env bash
# Build Stash (release) and run stash-server with the given arguments.
#   scripts/run.sh [stash.conf] [--port 6379] [--threads N] [--directive value ...]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target stash-server >/dev/null
exec build/src/stash-server "$@"

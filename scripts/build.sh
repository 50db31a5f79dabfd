#!/usr/bin/env bash
# Configures and builds Batchwise. Usage: [BUILD_TARGET=t] scripts/build.sh [build-dir] [cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
ninja -C "$dir" ${BUILD_TARGET:-}

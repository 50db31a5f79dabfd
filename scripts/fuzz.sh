#!/usr/bin/env bash
# Builds the KServe request decoder's libFuzzer target with clang (its own build dir) and runs it.
# Usage: scripts/fuzz.sh [seconds=30]. CI runs it briefly; run it for hours by hand.
# New inputs go to build-fuzz/corpus (not committed); crashes to build-fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBATCHWISE_BUILD_FUZZ=ON >/dev/null
ninja -C build-fuzz kserve_codec_fuzz
mkdir -p build-fuzz/corpus
build-fuzz/kserve_codec_fuzz -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
  -artifact_prefix=build-fuzz/ build-fuzz/corpus fuzz/corpus/kserve_codec

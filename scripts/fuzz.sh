#!/usr/bin/env bash
# Builds the request decoders' libFuzzer targets with clang (their own build dir) and runs each.
# Usage: scripts/fuzz.sh [seconds=30] [target ...]; targets: kserve_codec_fuzz (HTTP: JSON and
# binary tensors) and grpc_codec_fuzz (gRPC ModelInferRequest), default both, each for `seconds`.
# CI runs them briefly; run them for hours by hand (docs/fuzzing.md).
# New inputs go to build-fuzz/corpus/<target>/ (not committed); crashes to build-fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(kserve_codec_fuzz grpc_codec_fuzz)
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBATCHWISE_BUILD_FUZZ=ON >/dev/null
ninja -C build-fuzz "${targets[@]}"
for t in "${targets[@]}"; do
  seeds=fuzz/corpus/${t%_fuzz}
  mkdir -p "build-fuzz/corpus/$t"
  echo "fuzz: $t for ${seconds} s"
  "build-fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/ "build-fuzz/corpus/$t" "$seeds"
done

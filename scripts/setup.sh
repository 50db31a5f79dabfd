#!/usr/bin/env bash
# The README's first command: install what is missing, build the server (Release; only the
# `batchwise` binary: the tests, fuzzers and benchmarks are built by their own commands), generate
# the reference models into models/, then serve the default repository. On the first start the
# server profiles each core with the reference model (about 20 s a core, docs/profiling.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD_TARGET=batchwise scripts/build.sh build
/usr/bin/python3 tools/gen_models.py --out models
# Main job: the server on the default repository (KServe v2 HTTP on 127.0.0.1:8000, Prometheus
# metrics on :8002; docs/http-api.md). Ctrl-C stops it gracefully.
exec build/batchwise serve --model-repository models

#!/usr/bin/env bash
# The README's first command: install what is missing, build Release, generate the reference
# models into models/, then run the main job on the default repository.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
/usr/bin/python3 tools/gen_models.py --out models
# Main job: until `batchwise serve` exists, the raw engine benchmark on the default repository.
exec build/bench/engine_bench --models models --quick

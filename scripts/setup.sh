#!/usr/bin/env bash
# The README's first command: install what is missing, build Release, generate the reference
# models into models/, then run the main job on the default repository.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
/usr/bin/python3 tools/gen_models.py --out models
# Main job: until `batchwise serve` exists, the raw engine benchmark on the default repository.
export OMP_WAIT_POLICY=PASSIVE  # see docs/engines.md: busy-waiting OpenMP teams collapse on shared cores
exec build/bench/engine_bench --models-dir models --models resnet18,mobilenet_v2,mlp_forecaster \
  --batches 1,2,4,8,16 --duration-s 1

#!/usr/bin/env bash
# Every benchmark scenario of docs/benchmarks.md, each comparing its variants side by side in one
# run. Benchmarks are never timed tests; this is their one command.
#
# Usage: scripts/bench.sh [scenario ...]      (default: all, in this order)
#   serving            server vs raw engine: ResNet-18 (batch 8), the MLP at batches 1/8/64, the
#                      MLP's server CPU per request, the HTTP floor (bench/http_bench)
#   policies-sim       batching policies on the simulated A100, two schedules (bench/batching_policies)
#   policies-mlp       batching policies over HTTP, MLP on cpu:0, 30/75/50 % (bench/http_policies.sh)
#   policies-mlp-grpc  the same over gRPC
#   policies-resnet18  batching policies over HTTP, ResNet-18 on cpu:0, SLO 300 ms
#   shapes-mlp         the default policy against the baselines on the loads users run: closed loop
#                      c = 1..64, open-loop Poisson 5..90 %, on/off bursts; MLP over HTTP
#                      (bench/load_shapes.sh)
#   shapes-mlp-grpc    the same over gRPC
#   shapes-resnet18    the same for ResNet-18 over HTTP
#   shapes-resnet18-grpc  and over gRPC
#   overload-resnet50  ResNet-50 under 200 closed-loop clients, HTTP and gRPC: refusals and the
#                      admitted p99 (bench/overload.sh)
#   placement          least-workload vs all-on-fastest vs round-robin, two simulated fleets
#   placement-optimum  least-workload (one at a time, heaviest first, fleet plan) against the
#                      brute-force optimum on 200 random simulated fleets (bench/placement_optimum)
#   loadgen            the load generator's capacity against a trivial model
# Results go to bench-out/<date>-<commit>/<scenario>.txt (and the policy runs' JSON and plots).
# Environment: BUILD (build dir, default build), BUILD_TYPE (default Release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
scripts/deps.sh
scripts/build.sh "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DBATCHWISE_BUILD_BENCH=ON
[ -d models/mlp_forecaster ] || /usr/bin/python3 tools/gen_models.py --out models
export OMP_WAIT_POLICY=PASSIVE
out=bench-out/$(date -u +%Y%m%d-%H%M)-$(git rev-parse --short HEAD)
mkdir -p "$out"
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(serving policies-sim policies-mlp policies-mlp-grpc policies-resnet18 shapes-mlp
  shapes-mlp-grpc shapes-resnet18 shapes-resnet18-grpc overload-resnet50 placement placement-optimum loadgen)

run() {  # run <scenario>
  case "$1" in
    serving)
      "$build"/bench/http_bench --batchwise "$build"/batchwise --which resnet --rounds 4 \
        --warmup-s 10 --duration-s 12
      "$build"/bench/http_bench --batchwise "$build"/batchwise --which mlp,mlp-efficiency,http-floor \
        --warmup-s 3 --duration-s 10 ;;
    policies-sim)
      "$build"/bench/batching_policies --phases 10s@0.3,10s@0.9,10s@0.5 --json "$out"/policies-sim-a.json \
        --plot-dir "$out"/policies-sim-a
      "$build"/bench/batching_policies --phases 10s@0.1,10s@0.9,10s@0.3 --json "$out"/policies-sim-b.json \
        --plot-dir "$out"/policies-sim-b ;;
    policies-mlp) BUILD=$build LOADS="0.3 0.75 0.5" bench/http_policies.sh mlp "$out"/policies-mlp ;;
    policies-mlp-grpc)
      BUILD=$build PROTOCOL=grpc LOADS="0.3 0.75 0.5" bench/http_policies.sh mlp "$out"/policies-mlp-grpc ;;
    policies-resnet18) BUILD=$build bench/http_policies.sh resnet18 "$out"/policies-resnet18 ;;
    shapes-mlp) BUILD=$build bench/load_shapes.sh mlp "$out"/shapes-mlp ;;
    shapes-mlp-grpc) BUILD=$build PROTOCOL=grpc bench/load_shapes.sh mlp "$out"/shapes-mlp-grpc ;;
    shapes-resnet18) BUILD=$build bench/load_shapes.sh resnet18 "$out"/shapes-resnet18 ;;
    shapes-resnet18-grpc)
      BUILD=$build PROTOCOL=grpc bench/load_shapes.sh resnet18 "$out"/shapes-resnet18-grpc ;;
    overload-resnet50) BUILD=$build bench/overload.sh "$out"/overload-resnet50 ;;
    placement) "$build"/bench/placement_bench --seconds 10 ;;
    placement-optimum) "$build"/bench/placement_optimum --verify-scheduler 50 ;;
    loadgen)
      for i in 1 2 3; do
        "$build"/bench/loadgen_capacity --rates 12000,24000,32000,40000,48000 --duration-s 4
      done ;;
    *) echo "unknown scenario: $1 (see the header of $0)" >&2; return 2 ;;
  esac
}

for s in "${scenarios[@]}"; do
  echo "== $s (results in $out/$s.txt)"
  run "$s" 2>&1 | tee "$out/$s.txt"
done
echo "bench.sh: done; results in $out"

#!/usr/bin/env bash
# Overload with closed-loop clients (issue 13): ResNet-50 on cpu:0 under CLIENTS (200) clients,
# default `serve` (admission by time, --max-queue-size 1024), over HTTP then gRPC. What to read:
# how fast the refusals (UNAVAILABLE / 503) are answered, and the admitted requests' p99 against
# the latency target.
#
# Usage: bench/overload.sh [out-dir]   (needs build/ and models/)
# Environment: CLIENTS, RUN_S, WARMUP_S, TARGET_MS (the model's latency target), MODEL, BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # OpenMP threads that spin would take the core
out=${1:-bench-out/overload}
build=${BUILD:-build}
bw=$build/batchwise
CLIENTS=${CLIENTS:-200} RUN_S=${RUN_S:-30} WARMUP_S=${WARMUP_S:-10} TARGET_MS=${TARGET_MS:-500}
model=${MODEL:-resnet50}
port=18970
grpc_port=18971
mkdir -p "$out"

for protocol in http grpc; do
  taskset -c 0 "$bw" serve --model-repository models --models "$model" --processors cpu:0 \
    --http-port "$port" --grpc-port "$grpc_port" --metrics-port -1 --rebalance-period-ms 0 \
    --latency-target-us "$(( TARGET_MS * 1000 ))" >"$out/serve-$protocol.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do
    curl -sf "localhost:$port/v2/models/$model/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  taskset -c "$(( $(nproc) - 1 ))" "$bw" bench --url "http://127.0.0.1:$port" \
    --protocol "$protocol" --grpc-url "127.0.0.1:$grpc_port" -m "$model" -c "$CLIENTS" \
    --duration-s "$(( RUN_S + WARMUP_S ))" --warmup-s "$WARMUP_S" --slo-ms "$TARGET_MS" \
    --json "$out/$protocol.json" | tee "$out/$protocol.txt"
  curl -s "localhost:$port/v2/batchwise/models" >"$out/$protocol.models.json"
  kill -TERM "$server"
  wait "$server" || true
done
/usr/bin/python3 - "$out" "$TARGET_MS" <<'EOF'
import json, sys
out, target = sys.argv[1], float(sys.argv[2])
print(f"| protocol | admitted/s | admitted p50 ms | p99 ms | p99 / target | refused/s "
      f"| refusal p50 ms | p99 ms |")
print("|---|---|---|---|---|---|---|---|")
for p in ("http", "grpc"):
    t = json.load(open(f"{out}/{p}.json"))["models"][0]["total"]
    refused = sum(t["errors"].values()) / t["duration_s"]
    print(f"| {p} | {t['throughput_per_s']:.1f} | {t['latency_ms']['p50']:.0f} | "
          f"{t['latency_ms']['p99']:.0f} | {t['latency_ms']['p99'] / target:.2f} | {refused:.0f} | "
          f"{t['error_latency_ms']['p50']:.2f} | {t['error_latency_ms']['p99']:.2f} |")
EOF

#!/usr/bin/env bash
# Overload with closed-loop clients (issue 13): ResNet-50 on cpu:0 under CLIENTS (200) clients,
# default `serve` (admission by time, --max-queue-size 1024), over HTTP and gRPC, with the
# frontend's threads on their own core (`--frontend-cores auto`: the core no processor holds,
# shared with the load generator) and sharing the inference core (the whole server in
# `taskset -c 0`). What to read: how fast the refusals (UNAVAILABLE / 503) are answered, and the
# admitted requests' p99 against the latency target. Each variant runs ROUNDS times (rotated
# order); the table gives medians. Variant "httpx.own": HTTP clients that send
# "Expect: 100-continue" (bench --expect-continue), refused before their upload.
#
# Usage: bench/overload.sh [out-dir]   (needs build/ and models/; 2 cores or more)
# Environment: CLIENTS, RUN_S, WARMUP_S, TARGET_MS (the model's latency target), MODEL, BUILD,
#              ROUNDS (1), GRPC_CHANNELS (1: every client on one HTTP/2 connection), VARIANTS.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # OpenMP threads that spin would take the core
out=${1:-bench-out/overload}
build=${BUILD:-build}
bw=$build/batchwise
CLIENTS=${CLIENTS:-200} RUN_S=${RUN_S:-30} WARMUP_S=${WARMUP_S:-10} TARGET_MS=${TARGET_MS:-500}
ROUNDS=${ROUNDS:-1}
GRPC_CHANNELS=${GRPC_CHANNELS:-1}
model=${MODEL:-resnet50}
port=18970
grpc_port=18971
last=$(( $(nproc) - 1 ))
mkdir -p "$out"

run() {  # run <protocol: http|httpx|grpc> <frontend: own|shared> <round>
  local protocol=$1 frontend=$2 round=$3 cores="0-$last" extra=()
  [[ $frontend == shared ]] && cores=0
  local name="$protocol.$frontend.r$round"
  if [[ $protocol == httpx ]]; then  # HTTP with Expect: 100-continue
    protocol=http
    extra=(--expect-continue)
  fi
  taskset -c "$cores" "$bw" serve --model-repository models --models "$model" --processors cpu:0 \
    --http-port "$port" --grpc-port "$grpc_port" --metrics-port -1 --rebalance-period-ms 0 \
    --latency-target-us "$(( TARGET_MS * 1000 ))" >"$out/serve-$name.log" 2>&1 &
  local server=$!
  for _ in $(seq 600); do
    curl -sf "localhost:$port/v2/models/$model/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  taskset -c "$last" "$bw" bench --url "http://127.0.0.1:$port" \
    --protocol "$protocol" --grpc-url "127.0.0.1:$grpc_port" --grpc-channels "$GRPC_CHANNELS" -m "$model" -c "$CLIENTS" \
    --duration-s "$(( RUN_S + WARMUP_S ))" --warmup-s "$WARMUP_S" --slo-ms "$TARGET_MS" "${extra[@]}" \
    --json "$out/$name.json" | tee "$out/$name.txt"
  curl -s "localhost:$port/v2/batchwise/models" >"$out/$name.models.json"
  kill -TERM "$server"
  wait "$server" || true
}

read -r -a variants <<<"${VARIANTS:-http.own grpc.own http.shared grpc.shared}"
for round in $(seq "$ROUNDS"); do
  n=${#variants[@]}
  for i in $(seq 0 $(( n - 1 ))); do
    v=${variants[$(( (i + round - 1) % n ))]}
    run "${v%.*}" "${v#*.}" "$round"
  done
done
/usr/bin/python3 - "$out" "$TARGET_MS" "$ROUNDS" <<'PY'
import json, os, statistics, sys
out, target, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
print(f"medians of {rounds} round(s); latency target {target:.0f} ms\n")
print("| protocol | frontend | admitted/s | admitted p50 ms | p99 ms | p99 / target | refused/s "
      "| refusal p50 ms | p99 ms |")
print("|---|---|---|---|---|---|---|---|---|")
for frontend in ("own", "shared"):
    for p in ("http", "httpx", "grpc"):
        rows = []
        for r in range(1, rounds + 1):
            if not os.path.exists(f"{out}/{p}.{frontend}.r{r}.json"):
                continue
            t = json.load(open(f"{out}/{p}.{frontend}.r{r}.json"))["models"][0]["total"]
            rows.append((t["throughput_per_s"], t["latency_ms"]["p50"], t["latency_ms"]["p99"],
                         sum(t["errors"].values()) / t["duration_s"],
                         t["error_latency_ms"]["p50"], t["error_latency_ms"]["p99"]))
        if not rows:
            continue
        m = [statistics.median(c) for c in zip(*rows)]
        core = "own core" if frontend == "own" else "inference core"
        print(f"| {p} | {core} | {m[0]:.1f} | {m[1]:.0f} | {m[2]:.0f} | {m[2] / target:.2f} "
              f"| {m[3]:.0f} | {m[4]:.0f} | {m[5]:.0f} |")
PY

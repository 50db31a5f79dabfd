#!/usr/bin/env bash
# Batching policies over HTTP (or gRPC: PROTOCOL=grpc), every variant in one run (issue 7, scenario 2b/2c): for each policy,
# `batchwise serve` on one model pinned to cpu:0, driven by `batchwise bench` with the same seeded
# stepped Poisson schedule (30 % -> 90 % -> 50 % of the capacity measured first, closed loop, in the
# same run); bench/summarise_policies.py prints the comparison.
#
# Usage: bench/http_policies.sh [mlp|resnet18] [out-dir]   (needs build/ and models/)
# Environment: PHASE_S (seconds per phase), SLO_MS, TARGET_US (the controllers' batch latency
# target), FIXED (fixed sizes to compare), LOADS (the phases as fractions of the measured capacity,
# default "0.3 0.9 0.5"), BUILD (build dir), PROTOCOL (http or grpc: what the inference requests
# travel over; the controller polling stays on HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-mlp}
out=${2:-bench-out/policies-$which}
build=${BUILD:-build}
bw=$build/batchwise
LOADS=${LOADS:-"0.3 0.9 0.5"}
mkdir -p "$out"

case "$which" in
  mlp)
    model=mlp_forecaster
    PHASE_S=${PHASE_S:-15} SLO_MS=${SLO_MS:-20} TARGET_US=${TARGET_US:-5000}
    FIXED=${FIXED:-"4 16 64"} clients=64 ;;
  resnet18)
    model=resnet18
    PHASE_S=${PHASE_S:-30} SLO_MS=${SLO_MS:-300} TARGET_US=${TARGET_US:-150000}
    FIXED=${FIXED:-"1 4 8"} clients=24 ;;
  *) echo "usage: $0 [mlp|resnet18] [out-dir]" >&2; exit 2 ;;
esac
port=18950
grpc_port=18951
PROTOCOL=${PROTOCOL:-http}
proto=(--protocol "$PROTOCOL" --grpc-url "127.0.0.1:$grpc_port")
# The server (all its threads) on core 0, the load generator on the last core: neither takes CPU
# from the other, as with the clients on another machine. Without the split, open-loop Poisson at
# 90 % of the closed-loop capacity is overload (the generator's timers compete with the server's
# HTTP thread on the free core).
srv=(taskset -c 0)
gen=(taskset -c "$(( $(nproc) - 1 ))")

serve() {  # serve <policy> [batch size]: the server in the background, ready when it returns
  local args=(serve --model-repository models --models "$model" --processors cpu:0
              --http-port "$port" --grpc-port "$grpc_port" --metrics-port -1 --batch-policy "$1"
              --latency-target-us "$TARGET_US" --rebalance-period-ms 0)
  [ -n "${2:-}" ] && args+=(--batch-size "$2")
  "${srv[@]}" "$bw" "${args[@]}" >"$out/serve-$1${2:-}.log" 2>&1 &
  server=$!
  for _ in $(seq 200); do
    curl -sf "localhost:$port/v2/models/$model/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not become ready (see $out/serve-$1${2:-}.log)" >&2
  return 1
}
stop() { kill -TERM "$server"; wait "$server" || true; }

# Capacity: the most the server answers with the largest batches, closed loop.
serve queue_delay
"${gen[@]}" "$bw" bench --url "http://127.0.0.1:$port" "${proto[@]}" -m "$model" -c "$clients" --duration-s 10 \
  --warmup-s 3 --slo-ms 100000 --json "$out/capacity.json" >"$out/capacity.txt"
stop
capacity=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['models'][0]['total']['throughput_per_s'])" "$out/capacity.json")
schedule=$(/usr/bin/python3 -c "
c=$capacity; s=$PHASE_S
print(','.join(f'{s}s@{c*float(f):.1f}' for f in '$LOADS'.split()))")
echo "$PROTOCOL: capacity $capacity requests/s; schedule $schedule; SLO $SLO_MS ms; controller target $TARGET_US us"

variants=()
for b in $FIXED; do variants+=("fixed:$b"); done
variants+=(queue_delay aimd trend)
for v in "${variants[@]}"; do
  policy=${v%%:*}; size=""; [ "$v" != "$policy" ] && size=${v#*:}
  serve "$policy" "$size"
  "${gen[@]}" "$bw" bench --url "http://127.0.0.1:$port" "${proto[@]}" -m "$model" --schedule "$schedule" --warmup-s 2 \
    --slo-ms "$SLO_MS" --seed 1 --poll-ms 250 --json "$out/$policy$size.json" \
    --plot "$out/$policy$size.png" >"$out/$policy$size.txt"
  stop
  echo "  $policy $size done"
done
/usr/bin/python3 bench/summarise_policies.py --capacity "$capacity" --schedule "$schedule" \
  --slo-ms "$SLO_MS" "$out"/fixed*.json "$out"/queue_delay.json "$out"/aimd.json "$out"/trend.json \
  | tee "$out/summary.md"

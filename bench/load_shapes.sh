#!/usr/bin/env bash
# The load shapes users run (issue 14), the default batching policy against the baselines, every
# variant in one run: closed loop (c clients, each sending its next request when the last one
# returns), open-loop Poisson at fractions of the capacity, and an on/off bursty source. For each
# shape and each variant, a fresh `batchwise serve` on one model pinned to cpu:0, driven by
# `batchwise bench` on the last core; bench/summarise_shapes.py prints the table (goodput, p50/p99,
# ratio to the best baseline for that shape).
#
# Variants: trend (the default: `serve` with no batching flag), queue_delay with no wait
# (dispatch what is queued), and fixed sizes (FIXED) with their waits (WAITS_US; the best one per
# size counts).
#
# Usage: bench/load_shapes.sh [mlp|resnet18] [out-dir]   (needs build/ and models/)
# Timings on shared machines drift by 10-20 % from run to run (at c = 1 every variant is the same
# algorithm), so ROUNDS (default 3) repeats every variant in a rotated order and the summary takes
# each one's median.
# Environment: ROUNDS, PROTOCOL (http or grpc), CLIENTS (closed-loop c values), LOADS (open-loop
# fractions of the capacity), CAPACITY_CAP (requests/s: the open-loop rates are fractions of the
# smaller of it and the measured capacity; the MLP's 30 000/s over HTTP is more than one core of
# load generator sends on time, docs/load-generator.md), RUN_S and WARMUP_S (per run), FIXED,
# WAITS_US, TARGET_MS (the model's latency target, also the goodput SLO), BUILD (build dir).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # OpenMP threads that spin would take the core
which=${1:-mlp}
out=${2:-bench-out/shapes-$which}
build=${BUILD:-build}
bw=$build/batchwise
PROTOCOL=${PROTOCOL:-http}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-"1 2 3 4 8 16 32 64"}
LOADS=${LOADS:-"0.05 0.25 0.5 0.75 0.9"}
mkdir -p "$out"

case "$which" in
  mlp)
    model=mlp_forecaster
    RUN_S=${RUN_S:-5} WARMUP_S=${WARMUP_S:-1} TARGET_MS=${TARGET_MS:-20} CAPACITY_CAP=${CAPACITY_CAP:-16000}
    FIXED=${FIXED:-"1 8 32"} WAITS_US=${WAITS_US:-"0 2000"} ;;
  resnet18)
    model=resnet18
    RUN_S=${RUN_S:-8} WARMUP_S=${WARMUP_S:-2} TARGET_MS=${TARGET_MS:-300} CAPACITY_CAP=${CAPACITY_CAP:-1000000}
    FIXED=${FIXED:-"1 8"} WAITS_US=${WAITS_US:-"0 50000"} ;;
  *) echo "usage: $0 [mlp|resnet18] [out-dir]" >&2; exit 2 ;;
esac
port=18960
grpc_port=18961
proto=(--protocol "$PROTOCOL" --grpc-url "127.0.0.1:$grpc_port")
# Server on core 0, load generator on the last core (as in bench/http_policies.sh).
srv=(taskset -c 0)
gen=(taskset -c "$(( $(nproc) - 1 ))")

serve() {  # serve <log> [serve flags...]: the server in the background, ready when it returns
  local log=$1
  shift
  "${srv[@]}" "$bw" serve --model-repository models --models "$model" --processors cpu:0 \
    --http-port "$port" --grpc-port "$grpc_port" --metrics-port -1 --rebalance-period-ms 0 \
    --latency-target-us "$(( TARGET_MS * 1000 ))" "$@" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 300); do
    curl -sf "localhost:$port/v2/models/$model/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not become ready (see $log)" >&2
  return 1
}
stop() { kill -TERM "$server"; wait "$server" || true; }

variants=(trend queue_delay:0)
for b in $FIXED; do
  for w in $WAITS_US; do
    [ "$b" = 1 ] && [ "$w" != 0 ] && continue  # a batch of one never waits
    variants+=("fixed$b:$w")
  done
done

flags() {  # flags <variant>: the serve flags of a variant
  case "$1" in
    trend) ;;
    queue_delay:0) echo --batch-policy queue_delay --max-queue-delay-us 0 ;;
    fixed*) local v=${1#fixed}
      echo --batch-policy fixed --batch-size "${v%%:*}" --max-queue-delay-us "${v#*:}" ;;
  esac
}

run() {  # run <shape> <bench flags...>: every variant on one shape, ROUNDS times
  local shape=$1
  shift
  local r i n=${#variants[@]}
  for (( r = 1; r <= ROUNDS; ++r )); do
  for (( i = 0; i < n; ++i )); do
    # Each round starts one variant later: no variant always runs first (or last) on a shape.
    local v=${variants[$(( (i + r - 1) % n ))]}
    local name="$shape.$v.r$r"
    # shellcheck disable=SC2046
    serve "$out/serve-$name.log" $(flags "$v")
    "${gen[@]}" "$bw" bench --url "http://127.0.0.1:$port" "${proto[@]}" -m "$model" \
      --warmup-s "$WARMUP_S" --slo-ms "$TARGET_MS" --seed 1 --json "$out/$name.json" "$@" \
      >"$out/$name.txt" 2>&1
    stop
  done
  done
  echo "  $shape done"
}

for c in $CLIENTS; do run "closed-c$c" -c "$c" --duration-s "$(( RUN_S + WARMUP_S ))"; done
# Capacity: the most the no-wait baseline answered in the closed loop (its largest c).
capacity=$(/usr/bin/python3 -c "
import glob, json
print(max(json.load(open(p))['models'][0]['total']['throughput_per_s']
          for p in glob.glob('$out/closed-c*.queue_delay:0.r*.json')))")
measured=$capacity
capacity=$(/usr/bin/python3 -c "print(min($capacity, $CAPACITY_CAP))")
echo "$PROTOCOL $which: capacity $measured requests/s (closed loop, no wait); open loop against $capacity"
for f in $LOADS; do
  rate=$(/usr/bin/python3 -c "print(f'{$capacity * $f:.1f}')")
  run "poisson-$(/usr/bin/python3 -c "print(round($f * 100))")pct" --schedule "$(( RUN_S + WARMUP_S ))s@$rate" --arrivals poisson
done
# On/off: 0.5 s at 1.2x the capacity, 1 s at 5 %, repeated (45 % on average).
on=$(/usr/bin/python3 -c "print(f'{$capacity * 1.2:.1f}')")
off=$(/usr/bin/python3 -c "print(f'{$capacity * 0.05:.1f}')")
bursts=$(/usr/bin/python3 -c "
import math; n = math.ceil(($RUN_S + $WARMUP_S) / 1.5)
print(','.join(['500ms@$on,1s@$off'] * n))")
run bursty --schedule "$bursts" --arrivals poisson

/usr/bin/python3 bench/summarise_shapes.py --target-ms "$TARGET_MS" \
  --title "$which over $PROTOCOL, capacity $capacity requests/s" "$out" | tee "$out/summary.md"

#!/usr/bin/python3
"""Compares `batchwise bench --json` runs of one schedule under different batching policies.

Per phase: goodput, SLO attainment and p99 of every variant, the hindsight-best fixed size's
goodput, and each variant's share of it. Per run: goodput, the controller's direction changes
(from /v2/batchwise/models, polled by bench) and, for adaptive policies, the time after each step
until the controller reported settled. Prints Markdown.
"""
import argparse
import json
import os


def load(path):
    with open(path) as f:
        j = json.load(f)
    name = os.path.splitext(os.path.basename(path))[0]
    return name, j


def phase_bounds(schedule):
    t, out = 0.0, []
    for p in schedule.split(","):
        d = p.split("@")[0]
        s = float(d[:-2]) / 1000 if d.endswith("ms") else float(d.rstrip("s"))
        out.append((t, t + s))
        t += s
    return out


def settle_times(controller, bounds):
    """Seconds after each phase start until a sample says settled (None: never in that phase)."""
    out = []
    for start, end in bounds:
        t = next((c["t_s"] - start for c in controller
                  if start <= c["t_s"] < end and c["settled"]), None)
        out.append(t)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capacity", type=float, required=True)
    ap.add_argument("--schedule", required=True)
    ap.add_argument("--slo-ms", type=float, required=True)
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    runs = [load(p) for p in a.runs if os.path.exists(p)]
    bounds = phase_bounds(a.schedule)
    print(f"capacity {a.capacity:.1f} requests/s (closed loop, largest batches); "
          f"schedule {a.schedule}; SLO {a.slo_ms:g} ms\n")
    for i, (start, end) in enumerate(bounds):
        phases = {n: j["models"][0]["phases"][i] for n, j in runs}
        best = max((p["goodput_per_s"] for n, p in phases.items() if n.startswith("fixed")),
                   default=0)
        print(f"phase {i + 1} ({phases[runs[0][0]].get('label', '')}): "
              f"hindsight-best fixed goodput {best:.1f}/s\n")
        print("| variant | goodput/s | of best fixed | SLO att. | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|---|")
        for n, p in phases.items():
            errors = sum(p["errors"].values()) + p["not_sent"]
            share = p["goodput_per_s"] / best if best else 0
            print(f"| {n} | {p['goodput_per_s']:.1f} | {share * 100:.1f} % | "
                  f"{p['slo_attainment'] * 100:.2f} % | {p['latency_ms']['p50']:.2f} | "
                  f"{p['latency_ms']['p99']:.2f} | {errors} |")
        print()
    best_total = max((j["models"][0]["total"]["goodput_per_s"] for n, j in runs
                      if n.startswith("fixed")), default=0)
    print("whole run\n")
    print("| variant | goodput/s | of best single fixed | SLO att. | direction changes | "
          "final size | settled after each step (s) |")
    print("|---|---|---|---|---|---|---|")
    for n, j in runs:
        t = j["models"][0]["total"]
        ctl = j.get("controller", [])
        changes = ctl[-1]["direction_changes"] if ctl else 0
        size = ctl[-1]["batch_size"] if ctl else "-"
        settle = " / ".join("-" if s is None else f"{s:.2f}" for s in settle_times(ctl, bounds))
        share = t["goodput_per_s"] / best_total if best_total else 0
        print(f"| {n} | {t['goodput_per_s']:.1f} | {share * 100:.1f} % | "
              f"{t['slo_attainment'] * 100:.2f} % | {changes} | {size} | "
              f"{settle if not n.startswith(('fixed', 'queue')) else '-'} |")


if __name__ == "__main__":
    main()

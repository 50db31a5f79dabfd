// Rebalancer: decides when load has shifted enough, for long enough, to move an instance, and
// which instance's move would actually help.
//
// Hysteresis has two parts: an imbalance (one processor's workload above another's by more than
// `margin`) must hold at every observation for `sustain`, and after a proposal no other is made
// for `cooldown`. A single spike therefore never moves anything.
//
// The after-move rule: the hot processor's utilisation includes the instances running there, so a
// move takes their load along. For each instance on the hot processor H, the workloads after its
// move to the cold one C are estimated from the instance's measured share b of H's time
// (ModelInstance::busy_fraction: its batches' compute time over wall time, in a recent window):
//   u_H' = u_H − min(b, u_H)            u_C' = min(1, u_C + b · P_H / P_C)
//   W'   = W + w_u · (u' − u)           (each side; P_H / P_C = 1 when either P is unknown)
// (b · P_H / P_C: work that keeps H busy a fraction b keeps C busy that much longer or shorter in
// proportion to their processing performance.) The move is worth making only when it shrinks the
// imbalance by at least `margin`:
//   (W_H − W_C) − |W_H' − W_C'| >= margin.
// So a single busy model beside an idle processor stays where it is (moving it would only make the
// other processor the hot one: the gap is the same, mirrored), while two busy models on one
// processor beside an idle one are split. Memory is left out of the estimate (w_m·m is not
// moved): an imbalance of memory alone moves nothing.
//
// Not thread-safe: one owner (the scheduler's placement loop) feeds it.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "placement/placer.h"

namespace batchwise {

// One instance running on a processor.
struct InstanceLoad {
  std::string model;
  // Fraction of the processor's time its batches ran lately, [0, 1] (ModelInstance::busy_fraction).
  double busy = 0;
};

struct WorkloadSample {
  std::string processor_id;
  double workload = 0;
  // The utilisation the score used (placement/placer.h: max(utilization, reserved)), [0, 1].
  double utilization = 0;
  // P_p, samples/s of the reference model; 0: unknown (shares are then taken as they are).
  double performance = 0;
  std::vector<InstanceLoad> instances;
};

class Rebalancer {
 public:
  struct Options {
    // Workload difference (same units as the score, 0..1) that counts as an imbalance, and the
    // least a move must shrink it by.
    double margin = 0.25;
    // How long an imbalance must persist, at every observation, before a move is proposed.
    Duration sustain = std::chrono::seconds(10);
    // After a proposal (made or found not worth making), how long to wait before the next.
    Duration cooldown = std::chrono::seconds(30);
  };

  // Moving one instance, with the workloads the after-move rule estimates.
  struct Candidate {
    std::string model;
    double busy = 0;  // its share of `from`
    double from_workload_after = 0;
    double to_workload_after = 0;
    double gain = 0;  // how much the gap shrinks; >= margin to be worth making
  };

  struct Move {
    std::string from;  // the hot processor
    std::string to;    // the cold one
    double from_workload = 0;
    double to_workload = 0;
    Duration sustained{0};
    // The instance move with the largest gain, worth making or not; empty when none runs on `from`.
    std::optional<Candidate> best;
    // The instances on `from` worth moving, largest gain first; empty: none is (see `detail`).
    std::vector<Candidate> helpful;
    // The best candidate's numbers: why it is worth making, or why no move is.
    std::string detail;
  };

  // `weights` are the workload score's (only w_u is used: how the score moves with utilisation).
  static Result<Rebalancer> Create(const Options& options, const WorkloadWeights& weights = {});

  // Feeds one observation of every processor's workload at `now`. Returns a proposal when an
  // imbalance has lasted `sustain` and the cooldown is over: among the imbalanced pairs, the one
  // whose best instance move shrinks the gap most. A proposal with no `helpful` candidate says
  // that no move is worth making; it starts the cooldown too, so the verdict is not repeated at
  // every step.
  std::optional<Move> Observe(TimePoint now, std::span<const WorkloadSample> samples);

 private:
  Rebalancer(const Options& options, const WorkloadWeights& weights)
      : options_(options), weights_(weights) {}

  Candidate Evaluate(const WorkloadSample& hot, const WorkloadSample& cold,
                     const InstanceLoad& instance) const;
  Move Propose(const WorkloadSample& hot, const WorkloadSample& cold, Duration sustained) const;

  Options options_;
  WorkloadWeights weights_;
  std::map<std::pair<std::string, std::string>, TimePoint> imbalanced_since_;  // (hot, cold)
  std::optional<TimePoint> quiet_until_;
};

}  // namespace batchwise

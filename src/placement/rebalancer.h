// Rebalancer: decides when load has shifted enough, for long enough, to move an instance.
//
// Hysteresis has two parts: an imbalance (one processor's workload above another's by more than
// `margin`) must hold at every observation for `sustain`, and after a proposal no other is made
// for `cooldown`. A single spike therefore never moves anything, and moves never flap.
// Not thread-safe: one owner (the scheduler's placement loop) feeds it.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

struct WorkloadSample {
  std::string processor_id;
  double workload = 0;
};

class Rebalancer {
 public:
  struct Options {
    // Workload difference (same units as the score, 0..1) that counts as an imbalance.
    double margin = 0.25;
    // How long an imbalance must persist, at every observation, before a move is proposed.
    Duration sustain = std::chrono::seconds(10);
    // After a proposal, how long to wait before proposing another.
    Duration cooldown = std::chrono::seconds(30);
  };

  struct Move {
    std::string from;  // the hot processor
    std::string to;    // the cold one
    double from_workload = 0;
    double to_workload = 0;
    Duration sustained{0};
  };

  static Result<Rebalancer> Create(const Options& options);

  // Feeds one observation of every processor's workload at `now`. Returns a proposed move when an
  // imbalance has lasted `sustain`; among several, the one with the largest difference.
  std::optional<Move> Observe(TimePoint now, std::span<const WorkloadSample> samples);

 private:
  explicit Rebalancer(const Options& options) : options_(options) {}

  Options options_;
  std::map<std::pair<std::string, std::string>, TimePoint> imbalanced_since_;  // (hot, cold)
  std::optional<TimePoint> quiet_until_;
};

}  // namespace batchwise

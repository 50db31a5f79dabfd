// Offered load over time: a schedule of rate phases (steps and ramps) and the intended send
// times it implies, constant or Poisson. Deterministic for a seed. Plain values: not synchronised.
#pragma once

#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

// `duration` at a rate going linearly from `start_rate_per_s` to `end_rate_per_s` (a step when
// they are equal).
struct RatePhase {
  Duration duration{0};
  double start_rate_per_s = 0;
  double end_rate_per_s = 0;
};

class RateSchedule {
 public:
  // "30s@100,60s@300,20s@100->500": comma-separated phases DURATION@RATE or DURATION@FROM->TO;
  // durations take ms/s/m suffixes, rates are requests per second.
  static Result<RateSchedule> Parse(std::string_view spec);
  static RateSchedule Constant(Duration d, double rate_per_s);

  explicit RateSchedule(std::vector<RatePhase> phases) : phases_(std::move(phases)) {}

  // Rate at `t` since the start; 0 after the end.
  double RateAt(Duration t) const;
  Duration total() const;
  const std::vector<RatePhase>& phases() const { return phases_; }
  // Index of the phase `t` falls in (phases().size() after the end).
  size_t PhaseAt(Duration t) const;

 private:
  std::vector<RatePhase> phases_;
};

enum class ArrivalProcess { kConstant, kPoisson };

// Intended send times (offsets from the start) for a schedule. Each gap uses the rate at its
// start: exact for steps, a close approximation on ramps whose rate changes little per gap.
class ArrivalGenerator {
 public:
  ArrivalGenerator(RateSchedule schedule, ArrivalProcess process, uint64_t seed);
  // The next intended send time, or nullopt when the schedule is over.
  std::optional<Duration> Next();
  const RateSchedule& schedule() const { return schedule_; }

 private:
  RateSchedule schedule_;
  ArrivalProcess process_;
  std::mt19937_64 rng_;
  Duration t_{0};
};

}  // namespace batchwise

// A simulated engine for batching tests: latency = (base + per_sample · size) × load × noise.
//
// Deterministic for a seed. `load` models contention on the processor (other models, other
// processes): 1.0 idle, 1.5 = every batch takes 50 % longer. Not thread-safe.
#pragma once

#include <cstdint>
#include <random>

#include "common/clock.h"

namespace batchwise::testing {

struct SimulatedEngineOptions {
  double base_micros = 3000;       // fixed cost of a batch
  double per_sample_micros = 500;  // added cost per sample
  double noise_fraction = 0.08;    // standard deviation of the multiplicative noise
  uint64_t seed = 42;
};

class SimulatedEngine {
 public:
  explicit SimulatedEngine(SimulatedEngineOptions options);

  // The latency of one batch of `batch_size` samples (draws noise).
  Duration Latency(int batch_size);
  // The noise-free latency.
  double MeanLatencyMicros(int batch_size) const;
  // The largest batch size whose mean latency keeps `target_micros` (0 if none).
  int LargestSizeWithin(double target_micros, int max_batch_size) const;

  void set_load(double load) { load_ = load; }
  double load() const { return load_; }

 private:
  SimulatedEngineOptions opts_;
  double load_ = 1.0;
  std::mt19937_64 rng_;
  std::normal_distribution<double> noise_{0.0, 1.0};
};

}  // namespace batchwise::testing
